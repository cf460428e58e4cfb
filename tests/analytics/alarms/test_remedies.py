"""A14 remedies: replayed settings for a chattering tag, consequential and instrument
suggestions; the replay reads the tag's history from ts.sample of the real database."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from analytics.alarms.causal import pair_stats, situation_groups
from analytics.alarms.remedies import (
    InstrumentHealth,
    Samples,
    Setting,
    chattering_remedy,
    consequential_suggestions,
    instrument_suggestions,
    kpis_of,
    load_instrument_health,
    load_samples,
    predicted_kpis,
    replay,
)
from hazwatch import registers
from hazwatch.registers import Actor
from tests.analytics.alarms.analysis_fixtures import T0, TAG_IDS, at, rec
from tests.conftest import make_enterprise


def square_wave() -> list[tuple]:
    """One sample a second for 120 s: 81 for 5 s, 79 for 5 s, again and again (limit 80)."""
    return [(at(t), 81.0 if t % 10 < 5 else 79.0, 192) for t in range(120)]


def test_replay_basics() -> None:
    """Square wave, high limit 80, no deadband or delays: an activation every 10 s (0, 10,
    ..., 110: 12), each within 60 s of the one before: 11 repeats."""
    r = replay(Samples.of(square_wave()), limit=80.0, condition="H", setting=Setting())
    assert r.activations == tuple(at(t).timestamp() for t in range(0, 120, 10))
    assert r.repeats == 11


def test_on_delay_survives_a_bad_sample_and_low_alarms_mirror() -> None:
    """81 at 0 s, 81 with bad quality (0) at 1 s, 79 at 2 s; on-delay 2 s: the bad sample
    changes nothing, the delay runs out at 2 s exactly: one activation at 2 s.
    Low limit 20, values 19, 21, 19: two activations without deadband; with 1.5 the 21 is
    not back above 21.5, so one."""
    s = Samples.of([(at(0), 81.0, 192), (at(1), 81.0, 0), (at(2), 79.0, 192)])
    r = replay(s, limit=80.0, condition="H", setting=Setting(on_delay_s=2))
    assert r.activations == (at(2).timestamp(),)
    low = Samples.of([(at(0), 19.0, 192), (at(1), 21.0, 192), (at(2), 19.0, 192)])
    assert len(replay(low, limit=20.0, condition="L", setting=Setting()).activations) == 2
    assert len(replay(low, limit=20.0, condition="L", setting=Setting(1.5)).activations) == 1
    with pytest.raises(ValueError, match="limit alarms"):
        replay(low, limit=1.0, condition="TRIP", setting=Setting())


def test_chattering_remedy_finds_the_off_delay() -> None:
    """Range 0..100 (span 100); target: at most floor(11 x 0.2) = 2 repeats left.

    Candidates by intrusiveness (deadband / 5, on-delay / 60 s, off-delay / 120 s):
    off-delay 5 s (0.042): the 79s last 5 s, the delay runs out at the next 81: still 12;
    on-delay 5 s (0.083): activations move to 5, 15, ...: still 12;
    deadband 0.5 (0.1): 79 <= 79.5 returns: still 12;
    on 5 s + off 5 s (0.125): 12; off-delay 15 s (0.125): never 15 s normal: 1 activation,
    0 repeats. Proposal: off-delay 15 s; all 11 repeats removed.
    """
    rem = chattering_remedy(
        Samples.of(square_wave()), Setting(), limit=80.0, condition="H", span=100.0
    )
    assert rem.current.repeats == 11 and len(rem.current.activations) == 12
    assert rem.proposal.setting == Setting(0.0, 0.0, 15.0)
    assert rem.proposal.activations == (at(0).timestamp(),)
    assert rem.proposal.repeats == 0
    assert rem.removed_share == 1.0
    assert rem.candidates == 6 * 5 * 5


def test_candidates_never_go_below_the_ledger() -> None:
    """The ledger already has a 30 s off-delay: the proposal keeps at least that."""
    rem = chattering_remedy(
        Samples.of(square_wave()), Setting(off_delay_s=30), limit=80.0, condition="H", span=100
    )
    assert rem.current.repeats == 0
    assert rem.proposal.setting.off_delay_s >= 30
    with pytest.raises(ValueError, match="span"):
        chattering_remedy(Samples.of(square_wave()), Setting(), limit=80, condition="H", span=0)


def test_predicted_kpis() -> None:
    """One hour from T0. Recorded: the chattering FI-9.H 12 times (0..110 s) and three other
    alarms at 30, 700 and 1300 s: 15 alarms, 15/h, peak 13 in 00:00-00:10 (12 + the one at
    30 s). With the proposal (one FI-9.H at 0 s): 4 alarms, 4/h, 4/6 per 10 min, peak 2."""
    rem = chattering_remedy(
        Samples.of(square_wave()), Setting(), limit=80.0, condition="H", span=100.0
    )
    recs = [rec("FI-9", "H", t) for t in range(0, 120, 10)]
    recs += [rec("OT-1", "H", t) for t in (30, 700, 1300)]
    before, after = predicted_kpis(
        recs, TAG_IDS["FI-9"], "H", rem.proposal, start=T0, end=T0 + timedelta(hours=1)
    )
    assert (before.alarms, before.avg_per_hour, before.peak_10min) == (15, 15.0, 13)
    assert (after.alarms, after.avg_per_hour, after.peak_10min) == (4, 4.0, 2)
    assert after.avg_per_10min == pytest.approx(4 / 6)
    assert kpis_of([], start=T0, end=T0 + timedelta(hours=1)).peak_10min == 0


def test_consequential_suggestions() -> None:
    """P.L at 0, 1000, 2000; C.H 10 s and R.H 20 s after each. P→C and C→R explain all 3
    child alarms (suppress C.H and R.H, 3 each); the group {C, P, R} (9 alarms, root P
    with 3) merges into one common alarm: 6 removed."""
    recs = [rec("P", "L", t) for t in (0, 1000, 2000)]
    recs += [rec("C", "H", t + 10) for t in (0, 1000, 2000)]
    recs += [rec("R", "H", t + 20) for t in (0, 1000, 2000)]
    pairs = pair_stats(recs, [("P.L", "C.H"), ("C.H", "R.H")], window=timedelta(seconds=60))
    groups = situation_groups(pairs)
    out = consequential_suggestions(pairs, groups)
    assert [(s.kind, s.target, s.removes) for s in out] == [
        ("merge_group", "C.H + P.L + R.H", 6),
        ("suppress_child", "C.H", 3),
        ("suppress_child", "R.H", 3),
    ]


def test_instrument_suggestions() -> None:
    """FT-1: 50 of 1000 bad (5 %) and 2 fault alarms → maintain; LT-2: 30 of 1000 above the
    range (3 %) → change range; TT-3: 0.5 % bad, 0.5 % above → nothing."""
    out = instrument_suggestions(
        [
            InstrumentHealth(1, "FT-1", 1000, 50, 0, 0, 2, None),
            InstrumentHealth(2, "LT-2", 1000, 0, 0, 30, 0, None),
            InstrumentHealth(3, "TT-3", 1000, 5, 0, 5, 0, None),
        ]
    )
    assert [(s.kind, s.target) for s in out] == [
        ("change_range", "LT-2"),
        ("maintain_instrument", "FT-1"),
    ]


def test_history_from_ts_sample(conn: psycopg.Connection) -> None:
    """The square wave written to ts.sample (plus 10 bad samples and 6 values above the
    range 0..100 later on) replays to the same remedy; the health query counts them."""
    actor = Actor(None, "test")
    ent, _ = make_enterprise(conn)
    tag = registers.insert(
        conn, actor, "tag",
        {"enterprise_id": ent, "name": "FI-9", "range_low": 0, "range_high": 100},
    )  # fmt: skip
    rows = [(t, tag, v, q) for t, v, q in square_wave()]
    rows += [(at(200 + i), tag, 50.0, 0) for i in range(10)]
    rows += [(at(300 + i), tag, 105.0, 192) for i in range(6)]
    with (
        conn.cursor() as cur,
        cur.copy("COPY ts.sample (time, tag_id, value, quality) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    samples = load_samples(conn, tag, T0, T0 + timedelta(seconds=120))
    assert len(samples.t) == 120
    rem = chattering_remedy(samples, Setting(), limit=80.0, condition="H", span=100.0)
    assert rem.proposal.setting == Setting(0.0, 0.0, 15.0)
    [h] = load_instrument_health(conn, [tag], T0, T0 + timedelta(hours=1))
    assert (h.samples, h.bad, h.below_range, h.above_range) == (136, 10, 0, 6)
    assert h.last_bad == at(209)
    assert [s.kind for s in instrument_suggestions([h])] == [
        "change_range",
        "maintain_instrument",
    ]
