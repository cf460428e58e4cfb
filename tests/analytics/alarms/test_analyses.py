"""A4-A8, A11, standing and A19 over hand-computed alarm logs (pure functions)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alarms.chattering import ChatterRule, find_chattering
from analytics.alarms.counts import by_priority, by_type, detail, top_counts, top_durations
from analytics.alarms.floods import FloodRule, find_floods, time_in_flood_pct
from analytics.alarms.kpis import TARGETS, counting_from_records, kpis_from_records, plan
from analytics.alarms.records import AlarmRecord
from analytics.alarms.standing import stale, standing, standing_over_count
from hazwatch.rollups.catalog import ALARM_1D, ALARM_1H, ALARM_10M

T0 = datetime(2026, 3, 2, tzinfo=UTC)
S = timedelta(seconds=1)


def rec(tag: str, raised: float, acked: float | None = None, returned: float | None = None,
        **kw: object) -> AlarmRecord:  # fmt: skip
    """A record of ``tag`` with times in seconds after T0; ``cleared`` as the state model says."""
    r = T0 + raised * S
    a = None if acked is None else T0 + acked * S
    t = None if returned is None else T0 + returned * S
    fields: dict = {
        "priority": "high", "alarm_type": "process", "enterprise_id": 1, "unit_id": 10,
        "equipment_id": None, "shift_team_id": 1, "limit_value": None, "value": None,
    }  # fmt: skip
    fields.update(kw)
    return AlarmRecord(
        tag_id=zlib.crc32(tag.encode()) % 1_000_000, tag=tag, condition="H", raised=r,
        acked=a, returned=t, cleared=max(a, t) if a and t else None, **fields,
    )  # fmt: skip


# -- A6 floods -------------------------------------------------------------------------------


FLOOD = [rec(f"F-{i}", 30 * i) for i in range(12)]  # 12 alarms, every 30 s from 0 s


def test_flood_starts_and_ends_by_the_10_then_5_rule() -> None:
    """12 alarms at 0, 30, ..., 330 s (different tags).

    Trailing 10-min count: 11 at 300 s (> 10) -> flood starts at 300 s; 12 at 330 s (peak).
    Alarms leave the window at raised + 600 s: 600 -> 11, 630 -> 10, ..., 780 -> 5,
    810 -> 4 (< 5) -> the flood ends at 810 s. Duration 510 s; all 12 alarms in it.
    Over one hour that is 510 / 3600 = 14.1667 % of the time in flood.
    """
    (f,) = find_floods(FLOOD, T0, T0 + timedelta(hours=1))
    assert (f.start, f.end) == (T0 + 300 * S, T0 + 810 * S)
    assert (f.count, f.peak, f.duration) == (12, 12, 510 * S)
    assert f.peak_rate_per_min == pytest.approx(1.2)
    assert not f.ongoing
    assert time_in_flood_pct([f], T0, T0 + timedelta(hours=1)) == pytest.approx(1416.67 / 100, 1e-4)


def test_ten_alarms_in_ten_minutes_are_no_flood_and_rule_is_configurable() -> None:
    """10 alarms in 10 minutes is not *more than* 10; with start_above=9 it is a flood.

    start_above=9, end_below=5: starts at the 10th alarm (270 s); leaves at 600 (9), 630 (8),
    660 (7), 690 (6), 720 (5), 750 (4 < 5) -> ends at 750 s.
    """
    ten = FLOOD[:10]
    assert find_floods(ten, T0, T0 + timedelta(hours=1)) == []
    (f,) = find_floods(ten, T0, T0 + timedelta(hours=1), FloodRule(start_above=9))
    assert (f.start, f.end, f.count) == (T0 + 270 * S, T0 + 750 * S, 10)


def test_flood_running_at_window_end_is_cut_there() -> None:
    (f,) = find_floods(FLOOD, T0, T0 + 400 * S)
    assert f.ongoing and f.end == T0 + 400 * S and f.count == 12


def test_excluded_and_unannunciated_alarms_do_not_make_a_flood() -> None:
    """Two of the 12 excluded / not annunciated: 10 left in 10 min, no flood."""
    log = [*FLOOD[:10], rec("F-x", 100, excluded=True), rec("F-j", 110, annunciated=False)]
    assert find_floods(log, T0, T0 + timedelta(hours=1)) == []


# -- A11 chattering --------------------------------------------------------------------------


def test_chattering_three_within_60_s() -> None:
    """C-1 at 1000, 1020, 1050 s: three within (990, 1050] -> chattering (max 3, 1 burst).

    D-2 at 2000, 2030, 2061 s: the 60 s before 2061 holds only 2030 and 2061 -> not.
    C-1 again at 5000, 5001, 5002, 5003: a second burst, max 4; 7 alarms in all, all flagged.
    With the guide's "more than 3" (min_count=4) only the second burst counts.
    """
    log = [rec("C-1", t) for t in (1000, 1020, 1050, 5000, 5001, 5002, 5003)]
    log += [rec("D-2", t) for t in (2000, 2030, 2061)]
    (c,) = find_chattering(log)
    assert (c.tag, c.count, c.max_in_window, c.bursts, c.chattering_alarms) == ("C-1", 7, 4, 2, 7)
    (c4,) = find_chattering(log, ChatterRule(min_count=4))
    assert (c4.bursts, c4.chattering_alarms) == (1, 4)


def test_chattering_boundary_is_half_open() -> None:
    """1000, 1030, 1060: 1000 is exactly 60 s before 1060 -> outside (1000, 1060] -> not."""
    assert find_chattering([rec("E-3", t) for t in (1000, 1030, 1060)]) == []


# -- A4 / A5 / A7 / A8 ----------------------------------------------------------------------


COUNT_LOG = [
    rec("P-1", 0, returned=600, unit_id=10),
    rec("P-1", 1000, returned=1100, unit_id=10),
    rec("P-1", 2000, returned=2050, unit_id=10, priority="low"),
    rec("Q-2", 0, returned=7200, unit_id=20, alarm_type="equipment", priority="emergency"),
    rec("R-3", 50, unit_id=20, alarm_type="safety", priority="low"),  # open
    rec("Z-9", 60, returned=70, unit_id=10, excluded=True),
]


def test_top_counts_and_durations() -> None:
    """P-1: 3 alarms, 600 + 100 + 50 = 750 s; Q-2: 1, 7200 s; R-3: 1, open 0..3600 = 3550 s
    at now = 3600 s; Z-9 excluded. Units: 10 -> 3 alarms (60 %), 20 -> 2 (40 %).
    """
    now = T0 + 3600 * S
    tags = top_counts(COUNT_LOG, by="tag", n=2)
    assert [(r.label, r.count) for r in tags] == [("P-1", 3), ("Q-2", 1)]
    units = top_counts(COUNT_LOG, by="unit", labels={10: "U1", 20: "U2"})
    assert [(r.label, r.count, r.share_pct) for r in units] == [("U1", 3, 60.0), ("U2", 2, 40.0)]
    durations = top_durations(COUNT_LOG, now, by="tag")
    assert [(r.label, r.total.total_seconds()) for r in durations] == [
        ("Q-2", 3600.0), ("R-3", 3550.0), ("P-1", 750.0)
    ]  # fmt: skip
    assert durations[2].longest == 600 * S and durations[2].mean == 250 * S
    depts = top_counts(COUNT_LOG, by="department", unit_department={10: 5, 20: 5})
    assert [(r.key, r.count) for r in depts] == [(5, 5)]
    with pytest.raises(ValueError, match="unit_department"):
        top_counts(COUNT_LOG, by="department")


def test_by_type_and_priority_with_detail() -> None:
    assert by_type(COUNT_LOG) == {"process": 3, "equipment": 1, "instrument": 0, "safety": 1,
                                  "unknown": 0}  # fmt: skip
    assert by_priority(COUNT_LOG) == {"emergency": 1, "high": 2, "low": 2, "unknown": 0}
    assert [r.tag for r in detail(COUNT_LOG, "priority", "low")] == ["P-1", "R-3"]
    assert [r.tag for r in detail(COUNT_LOG, "unit", 20)] == ["Q-2", "R-3"]


# -- standing / stale ------------------------------------------------------------------------


def test_standing_25_hours_and_stale() -> None:
    """S-1 raised 0 s, returned after 25 h -> standing over 24 h; S-2 returned after 23 h 59 m
    -> not; O-3 raised at 1 h and still active at now = 26 h (25 h) -> standing over 24 h and
    stale at 26 h; at 26 h only O-3 is standing (S-1 returned at 25 h).
    """
    h = 3600
    log = [rec("S-1", 0, returned=25 * h), rec("S-2", 0, returned=24 * h - 60), rec("O-3", h)]
    now = T0 + 26 * h * S
    assert standing_over_count(log, now) == 2
    assert [s.record.tag for s in standing(log, now)] == ["O-3"]
    assert [s.age for s in stale(log, now)] == [25 * h * S]
    at_10h = standing(log, T0 + 10 * h * S)
    assert [s.record.tag for s in at_10h] == ["S-1", "S-2", "O-3"]


# -- A19 KPIs --------------------------------------------------------------------------------


KPI_LOG = [
    rec("A-1", 0, acked=29, returned=300),  # ack 29 s: within; cleared at 5 min: handled
    rec("A-2", 600, acked=631, returned=3000),  # ack 31 s: not; cleared at 40 min: not handled
    rec("S-1", 3600, acked=3610, returned=3600 + 25 * 3600),  # standing 25 h
    rec("S-2", 7200, acked=7205, returned=7200 + 24 * 3600 - 60),  # 23 h 59 min: not standing
    rec("X-1", 10800, acked=10801, returned=10860, excluded=True),  # excluded: not counted
    rec("J-1", 14400, annunciated=False, priority="journal"),  # not annunciated
    rec("O-1", 18000),  # still active at now (44 h): standing
]


def test_kpis_hand_computed() -> None:
    """Window [T0, T0 + 48 h), now = T0 + 49 h.

    Counted: A-1, A-2, S-1, S-2, O-1 = 5 (X-1 excluded, J-1 journal).
    Acknowledged within 30 s: A-1 (29 s), S-1 (10 s), S-2 (5 s) = 3 -> 60 %; A-2 (31 s) not.
    Handled (acked and returned) within 30 min: A-1 only -> 20 %.
    Standing over 24 h: S-1 (25 h) and O-1 (active 44 h) = 2.
    Each alarm alone in its 10 minutes -> peak 1. 5 / 48 h = 0.104 per hour, 0.017 per 10 min.
    No flood, no chattering.
    """
    k = kpis_from_records(KPI_LOG, T0, T0 + timedelta(hours=48), T0 + timedelta(hours=49))
    j = k.as_json()
    assert {key: j[key] for key in ("alarms", "ack_within_30s_pct", "handled_within_30min_pct",
                                    "standing_over_24h", "peak_10min", "floods",
                                    "chattering_tags")} == {
        "alarms": 5, "ack_within_30s_pct": 60.0, "handled_within_30min_pct": 20.0,
        "standing_over_24h": 2, "peak_10min": 1, "floods": 0, "chattering_tags": 0,
    }  # fmt: skip
    assert j["avg_per_hour"] == pytest.approx(0.104, abs=1e-3)
    assert j["avg_per_10min"] == pytest.approx(0.017, abs=1e-3)
    assert TARGETS["peak_10min"].met(j["peak_10min"]) is True
    assert TARGETS["ack_within_30s_pct"].met(60.0) is None  # the standards set no figure


def test_peak_is_per_unit_and_shift_team_in_fixed_10_minutes() -> None:
    """Unit 10: 3 alarms in [00:00, 00:10) -> 3; unit 20: 2 there and 2 in [00:10, 00:20)
    -> 2. Peak over both = 3; by unit: 10 -> 3, 20 -> 2. The flood log: 12 alarms in
    00:00-00:05:30 -> peak 12.
    """
    log = [rec("a", t, unit_id=10) for t in (0, 100, 599)]
    log += [rec("b", t, unit_id=20) for t in (10, 20, 600, 610)]
    assert counting_from_records(log, T0)[None].peak_10min == 3
    per_unit = counting_from_records(log, T0, group_by="unit")
    assert {k: v.peak_10min for k, v in per_unit.items()} == {10: 3, 20: 2}
    assert counting_from_records(FLOOD, T0)[None].peak_10min == 12


def test_plan_uses_the_coarsest_whole_buckets() -> None:
    """00:05 .. day 2 01:17 -> raw 00:05-00:10, 10m to 01:00, 1h to 24:00, 1d to day 2,
    1h to 01:00, 10m to 01:10, raw to 01:17."""
    t = T0 + 300 * S
    end = T0 + timedelta(days=2, hours=1, minutes=17)
    got = [(r.name if r else None, lo - T0, hi - T0) for r, lo, hi in plan(t, end)]
    m = timedelta(minutes=1)
    assert got == [
        (None, 5 * m, 10 * m),
        (ALARM_10M.name, 10 * m, 60 * m),
        (ALARM_1H.name, 60 * m, timedelta(days=1)),
        (ALARM_1D.name, timedelta(days=1), timedelta(days=2)),
        (ALARM_1H.name, timedelta(days=2), timedelta(days=2, hours=1)),
        (ALARM_10M.name, timedelta(days=2, hours=1), timedelta(days=2, minutes=70)),
        (None, timedelta(days=2, minutes=70), timedelta(days=2, minutes=77)),
    ]
    assert plan(T0, T0) == []
