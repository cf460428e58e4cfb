"""A14 nuisance-alarm remedies: replayed settings for chattering alarms, suppression or merging
of consequential alarms, maintenance of faulty instruments.

**Chattering.** The tag's process history (``ts.sample``) is replayed through the alarm logic
of the DCS with candidate settings and the repeats are counted (annex 4, 3.4; EEMUA 191
section 6 and ISA-18.2 / IEC 62682 "alarm deadband", "on-delay", "off-delay"):

- a high alarm (``H``/``HH``) becomes active when the value has been above the limit for the
  on-delay (at once when it is 0) and returns when it has been at or below limit − deadband
  for the off-delay; low alarms (``L``/``LL``) mirror this. Values hold between samples; bad
  quality samples (OPC quality < 64) change nothing.
- a *repeat* is an activation within ``chatter_window`` (60 s) of the previous activation of
  the same alarm, what makes an alarm chatter (A11).
- candidates: deadbands of 0, 0.5, 1, 2, 3 and 5 % of the tag's range (EEMUA 191 table 6:
  1 % temperature, 2 % pressure, 5 % flow and level) and on/off delays of 0, 5, 15, 30 and
  60 s (the same table: 15 s flow and pressure, 60 s level and temperature), never below the
  ledger's current settings. The proposal is the candidate with the lowest *intrusiveness*
  (deadband / 5 % of range + on-delay / 60 s + off-delay / 120 s: an on-delay holds back a
  real alarm, an off-delay only keeps it longer) that removes at least ``target`` (80 %) of
  the current settings' repeats; when none does, the one that removes the most.
- the predicted KPIs put the replayed activations in place of the alarm's recorded ones.

    samples = load_samples(conn, tag_id, start, end)
    rem = chattering_remedy(samples, Setting(...current...), limit=80.0, condition="H",
                            span=100.0)
    rem.proposal, rem.baseline_count, rem.proposal_count
    kpi = predicted_kpis(other_records_times, rem.proposal_times, start=..., end=...)

**Consequential alarms** (from ``causal``): a child explained ≥ 90 % by its parent is proposed
for suppression while the parent is active (state-based suppression); groups of three or more
strongly related alarms for one common alarm.

**Instrument faults**: tags with bad-quality or out-of-range samples, or with ``BAD`` /
instrument alarms, get a maintenance proposal (repair or recalibrate; a range change when
values sit at the range limits).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import psycopg

from analytics.alarms.causal import Group, PairStat
from analytics.alarms.records import AlarmRecord

HIGH = frozenset({"H", "HH"})
LOW = frozenset({"L", "LL"})
DEADBAND_FRACTIONS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)
DELAYS_S = (0.0, 5.0, 15.0, 30.0, 60.0)
#: OPC DA quality below this is bad (ts.sample.quality).
BAD_QUALITY = 64


@dataclass(frozen=True)
class Samples:
    """A tag's history: epoch seconds, values and OPC quality, time ascending."""

    t: np.ndarray
    value: np.ndarray
    quality: np.ndarray

    @classmethod
    def of(cls, rows: Iterable[tuple[datetime, float | None, int]]) -> Samples:
        data = [(ts.timestamp(), math.nan if v is None else v, q) for ts, v, q in rows]
        if not data:
            return cls(np.empty(0), np.empty(0), np.empty(0, dtype=np.int16))
        t, v, q = zip(*data, strict=True)
        return cls(np.asarray(t, float), np.asarray(v, float), np.asarray(q, np.int16))


@dataclass(frozen=True)
class Setting:
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0

    def cost(self, span: float) -> float:
        """Intrusiveness: 1.0 = 5 % of range deadband, a 60 s on- or 120 s off-delay."""
        db = self.deadband / (0.05 * span) if span > 0 else 0.0
        return db + self.on_delay_s / 60.0 + self.off_delay_s / 120.0


@dataclass(frozen=True)
class Replay:
    setting: Setting
    #: activation times (epoch seconds)
    activations: tuple[float, ...]
    repeats: int


@dataclass(frozen=True)
class ChatterRemedy:
    current: Replay
    proposal: Replay
    #: share of the current settings' repeats the proposal removes (1.0 when there were none)
    removed_share: float
    candidates: int


def replay(
    samples: Samples,
    *,
    limit: float,
    condition: str,
    setting: Setting,
    end: float | None = None,
    chatter_window_s: float = 60.0,
) -> Replay:
    """Activations of the alarm over the history with ``setting`` (see the module text).

    >>> s = Samples.of([(t0, 81, 192), (t0 + 1 s, 79, 192), (t0 + 2 s, 81, 192)])
    >>> replay(s, limit=80, condition="H", setting=Setting()).activations   # two, 2 s apart
    """
    if condition in HIGH:
        beyond = samples.value > limit
        normal = samples.value <= limit - setting.deadband
    elif condition in LOW:
        beyond = samples.value < limit
        normal = samples.value >= limit + setting.deadband
    else:
        raise ValueError(f"only limit alarms (H, HH, L, LL) can be replayed, not {condition!r}")
    good = (samples.quality >= BAD_QUALITY) & ~np.isnan(samples.value)
    on_s, off_s = setting.on_delay_s, setting.off_delay_s
    active = False
    pending: float | None = None  # since when the condition to change state holds
    acts: list[float] = []
    times = samples.t.tolist()
    b_list, n_list, g_list = beyond.tolist(), normal.tolist(), good.tolist()
    for i, t in enumerate(times):
        # A delay that ran out since the previous sample changes the state at that moment.
        if pending is not None and pending + (off_s if active else on_s) <= t:
            if not active:
                acts.append(pending + on_s)
            active, pending = not active, None
        if not g_list[i]:
            continue
        wants = n_list[i] if active else b_list[i]
        if not wants:
            pending = None
            continue
        if pending is None:
            pending = t
        if (off_s if active else on_s) == 0:
            if not active:
                acts.append(t)
            active, pending = not active, None
    if pending is not None and end is not None and not active and pending + on_s <= end:
        acts.append(pending + on_s)
    repeats = sum(1 for a, b in pairwise(acts) if b - a <= chatter_window_s)
    return Replay(setting, tuple(acts), repeats)


def candidates(current: Setting, span: float) -> list[Setting]:
    """The grid of settings tried, none below the current ones."""
    out = {
        Setting(
            max(current.deadband, f * span),
            max(current.on_delay_s, on),
            max(current.off_delay_s, off),
        )
        for f in DEADBAND_FRACTIONS
        for on in DELAYS_S
        for off in DELAYS_S
    }
    return sorted(out, key=lambda s: (s.cost(span), s.deadband, s.on_delay_s, s.off_delay_s))


def chattering_remedy(
    samples: Samples,
    current: Setting,
    *,
    limit: float,
    condition: str,
    span: float,
    target: float = 0.8,
    end: float | None = None,
    chatter_window_s: float = 60.0,
) -> ChatterRemedy:
    """The least intrusive setting that removes ``target`` of the repeats (module text)."""
    if span <= 0 or not math.isfinite(span):
        raise ValueError("the tag's range (span) must be a positive number")
    if not 0 < target <= 1:
        raise ValueError("target must be in (0, 1]")

    def run(s: Setting) -> Replay:
        return replay(
            samples, limit=limit, condition=condition, setting=s, end=end,
            chatter_window_s=chatter_window_s,
        )  # fmt: skip

    base = run(current)
    tried = [run(s) for s in candidates(current, span)]
    allowed = math.floor(base.repeats * (1 - target) + 1e-9)
    good = [r for r in tried if r.repeats <= allowed]
    # ``tried`` is ordered by intrusiveness: the first good one is the least intrusive.
    best = good[0] if good else min(tried, key=lambda r: (r.repeats, r.setting.cost(span)))
    removed = 1.0 if base.repeats == 0 else (base.repeats - best.repeats) / base.repeats
    return ChatterRemedy(base, best, removed, len(tried))


@dataclass(frozen=True)
class KpiPrediction:
    alarms: int
    avg_per_hour: float
    avg_per_10min: float
    peak_10min: int


def kpis_of(times: Sequence[float], *, start: datetime, end: datetime) -> KpiPrediction:
    """The counting KPIs (A19) of alarms raised at ``times`` (epoch s) in ``[start, end)``:
    peak = most alarms in one 10-minute bucket aligned to the epoch (``time_bucket``)."""
    t0, t1 = start.timestamp(), end.timestamp()
    inside = [t for t in times if t0 <= t < t1]
    hours = (t1 - t0) / 3600.0
    buckets = Counter(int(t // 600) for t in inside)
    return KpiPrediction(
        alarms=len(inside),
        avg_per_hour=len(inside) / hours if hours > 0 else 0.0,
        avg_per_10min=len(inside) / (hours * 6) if hours > 0 else 0.0,
        peak_10min=max(buckets.values(), default=0),
    )


def predicted_kpis(
    records: Iterable[AlarmRecord],
    tag_id: int,
    condition: str,
    proposal: Replay,
    *,
    start: datetime,
    end: datetime,
) -> tuple[KpiPrediction, KpiPrediction]:
    """(before, after): the records as they are, and with the alarm's own records replaced by
    the proposal's replayed activations."""
    counted = [r for r in records if r.counted]
    before = [r.raised.timestamp() for r in counted]
    others = [
        r.raised.timestamp() for r in counted if (r.tag_id, r.condition) != (tag_id, condition)
    ]
    return (
        kpis_of(before, start=start, end=end),
        kpis_of(others + list(proposal.activations), start=start, end=end),
    )


# -- consequential alarms -------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    kind: str  # suppress_child | merge_group | maintain_instrument | change_range
    target: str
    #: alarms in the period the suggestion would remove
    removes: int
    reason: str


def consequential_suggestions(
    pairs: Sequence[PairStat],
    groups: Sequence[Group],
    *,
    min_explained: float = 0.9,
    min_group: int = 3,
) -> list[Suggestion]:
    """Suppress a child behind its parent; merge big groups into one common alarm."""
    out = [
        Suggestion(
            "suppress_child",
            s.child,
            s.explained,
            f"{s.explained}/{s.child_alarms} of {s.child} came within the window after "
            f"{s.parent} ({s.explained_share:.0%}); suppress it while {s.parent} is active",
        )
        for s in pairs
        if s.explained_share >= min_explained and s.explained > 0
    ]
    for g in groups:
        if len(g.members) >= min_group:
            kept = max((s.parent_alarms for s in g.pairs if s.parent in g.roots), default=0)
            out.append(
                Suggestion(
                    "merge_group",
                    " + ".join(g.members),
                    max(g.alarms - kept, 0),
                    f"{len(g.members)} alarms point at one situation (root "
                    f"{', '.join(g.roots)}); merge them into one common alarm",
                )
            )
    out.sort(key=lambda s: (-s.removes, s.kind, s.target))
    return out


# -- instrument faults ----------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentHealth:
    tag_id: int
    tag: str
    samples: int
    bad: int
    below_range: int
    above_range: int
    fault_alarms: int
    last_bad: datetime | None


def instrument_suggestions(
    health: Iterable[InstrumentHealth], *, bad_share: float = 0.01, range_share: float = 0.01
) -> list[Suggestion]:
    """Maintenance for tags with bad quality or fault alarms; a range change for values that
    sit beyond the range (a saturated transmitter measures nothing there)."""
    out = []
    for h in health:
        n = max(h.samples, 1)
        if h.fault_alarms or h.bad / n >= bad_share:
            out.append(
                Suggestion(
                    "maintain_instrument",
                    h.tag,
                    h.fault_alarms,
                    f"{h.bad}/{h.samples} samples of bad quality, {h.fault_alarms} instrument "
                    "alarms: check, repair or recalibrate the transmitter",
                )
            )
        outside = h.below_range + h.above_range
        if outside / n >= range_share:
            out.append(
                Suggestion(
                    "change_range",
                    h.tag,
                    0,
                    f"{outside}/{h.samples} samples outside the range ({h.below_range} below, "
                    f"{h.above_range} above): check the range in the DCS and the transmitter",
                )
            )
    out.sort(key=lambda s: (s.kind, -s.removes, s.target))
    return out


# -- database --------------------------------------------------------------------------------


def load_samples(conn: psycopg.Connection, tag_id: int, start: datetime, end: datetime) -> Samples:
    """The tag's samples in ``[start, end)``, oldest first."""
    rows = conn.execute(
        "SELECT time, value, quality FROM ts.sample WHERE tag_id = %s AND time >= %s"
        " AND time < %s ORDER BY time",
        (tag_id, start, end),
    )
    return Samples.of(rows)


def load_instrument_health(
    conn: psycopg.Connection, tag_ids: Sequence[int], start: datetime, end: datetime
) -> list[InstrumentHealth]:
    """Sample quality and range statistics with instrument-alarm counts, per tag."""
    rows = conn.execute(
        """
        SELECT t.id, t.name, count(s.tag_id),
               count(*) FILTER (WHERE s.quality < %(bad)s),
               count(*) FILTER (WHERE s.quality >= %(bad)s AND s.value < t.range_low),
               count(*) FILTER (WHERE s.quality >= %(bad)s AND s.value > t.range_high),
               max(s.time) FILTER (WHERE s.quality < %(bad)s),
               (SELECT count(*) FROM alarm.record r
                 WHERE r.tag_id = t.id AND r.raised >= %(start)s AND r.raised < %(end)s
                   AND NOT r.excluded AND (r.condition = 'BAD' OR r.alarm_type = 'instrument'))
        FROM registry.tag t
        LEFT JOIN ts.sample s ON s.tag_id = t.id AND s.time >= %(start)s AND s.time < %(end)s
        WHERE t.id = ANY(%(ids)s)
        GROUP BY t.id, t.name
        ORDER BY t.name
        """,
        {"bad": BAD_QUALITY, "start": start, "end": end, "ids": list(tag_ids)},
    ).fetchall()
    return [
        InstrumentHealth(int(i), name, int(n), int(bad), int(lo), int(hi), int(f), last)
        for i, name, n, bad, lo, hi, last, f in rows
    ]


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class TagRemedy:
    tag_id: int
    tag: str
    condition: str
    limit: float
    remedy: ChatterRemedy
    before: KpiPrediction
    after: KpiPrediction


def chattering_remedies(
    conn: psycopg.Connection,
    records: Sequence[AlarmRecord],
    tag_ids: Sequence[int],
    *,
    start: datetime,
    end: datetime,
) -> list[TagRemedy]:
    """For each tag: its most frequent limit alarm in ``records``, replayed from ``ts.sample``
    with the ledger's settings and the grid (tags without samples, range or limit are left
    out: there is nothing to replay)."""
    out = []
    for tag_id in tag_ids:
        conds = Counter(
            r.condition for r in records if r.tag_id == tag_id and r.counted and
            r.condition in HIGH | LOW
        )  # fmt: skip
        if not conds:
            continue
        condition = conds.most_common(1)[0][0]
        row = conn.execute(
            """SELECT t.name, t.range_low, t.range_high, p.limit_value, p.deadband,
                      p.on_delay_s, p.off_delay_s
               FROM registry.tag t JOIN registry.alarm_point p ON p.tag_id = t.id
               WHERE t.id = %s AND p.condition = %s""",
            (tag_id, condition),
        ).fetchone()
        if row is None or row[3] is None:
            continue
        name, lo, hi, limit, deadband, on_s, off_s = row
        samples = load_samples(conn, tag_id, start, end)
        if len(samples.t) == 0:
            continue
        good = samples.value[~np.isnan(samples.value)]
        span = (hi - lo) if lo is not None and hi is not None else float(np.ptp(good) or 0.0)
        if span <= 0:
            continue
        rem = chattering_remedy(
            samples, Setting(deadband, on_s, off_s), limit=limit, condition=condition,
            span=span, end=end.timestamp(),
        )  # fmt: skip
        before, after = predicted_kpis(records, tag_id, condition, rem.proposal, start=start,
                                       end=end)  # fmt: skip
        out.append(TagRemedy(tag_id, name, condition, limit, rem, before, after))
    return out
