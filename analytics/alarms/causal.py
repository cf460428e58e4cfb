"""A10 causal analysis: how strongly child alarms follow their parents, and new pairs.

Definitions (annex 4, 3.2 (7); EEMUA 191, "consequential alarms"):

- A parent alarm P is *followed* by its child C when a C alarm is raised after P and no more
  than ``window`` later: ``P.raised < C.raised <= P.raised + window``.
- **Association degree** of (P, C) = followed P alarms / all P alarms: how often the child
  follows the parent.
- **Explained share** = C alarms raised within ``window`` after some P alarm / all C alarms:
  how much of the child's load the parent accounts for (what suppressing C behind P would
  remove).
- **Chance level**: if C alarms came at random at their average rate r = n_C / span, a window
  of length W would hold one with probability 1 - exp(-r W); **lift** = degree / chance level.
- A pair is *strong* when degree >= ``min_degree`` with at least ``min_hits`` followed
  parents. Strong pairs of the table, joined where they share an alarm, form the **groups**
  pointing at one abnormal situation; a group's root is an alarm no strong pair leads to.
- **Suggested pairs**: ordered pairs of alarms of different tags that are not in the table
  (either way round) and are strong with lift >= ``min_lift``.

    stats = pair_stats(records, [("FI-101.L", "TI-102.H")], window=timedelta(minutes=5))
    groups = situation_groups(stats, min_degree=0.6)
    new = suggest_pairs(records, known, window=timedelta(minutes=5))
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from analytics.alarms.records import AlarmRecord
from analytics.alarms.sequences import alarm_key, counted


@dataclass(frozen=True)
class PairStat:
    parent: str
    child: str
    parent_alarms: int
    child_alarms: int
    #: parent alarms followed by the child within the window
    followed: int
    #: child alarms that came within the window after a parent alarm
    explained: int
    degree: float
    explained_share: float
    chance: float
    lift: float
    in_table: bool


@dataclass(frozen=True)
class Group:
    roots: tuple[str, ...]
    members: tuple[str, ...]
    pairs: tuple[PairStat, ...]
    #: alarms of the group's members in the period (what one situation produced)
    alarms: int


def _times(records: Iterable[AlarmRecord]) -> tuple[dict[str, np.ndarray], float]:
    by_key: dict[str, list[float]] = defaultdict(list)
    lo, hi = math.inf, -math.inf
    for r in counted(records):
        t = r.raised.timestamp()
        by_key[alarm_key(r)].append(t)
        lo, hi = min(lo, t), max(hi, t)
    span = hi - lo if hi > lo else 0.0
    return {k: np.asarray(v) for k, v in by_key.items()}, span


def _pair(
    parent: str,
    child: str,
    times: dict[str, np.ndarray],
    span_s: float,
    window_s: float,
    in_table: bool,
) -> PairStat:
    p = times.get(parent, np.empty(0))
    c = times.get(child, np.empty(0))
    if len(p) and len(c):
        # First child strictly after each parent alarm; followed when within the window.
        nxt = np.searchsorted(c, p, side="right")
        ok = nxt < len(c)
        followed = int(np.count_nonzero(c[nxt[ok]] - p[ok] <= window_s))
        # Last parent strictly before each child alarm; explained when within the window.
        prev = np.searchsorted(p, c, side="left") - 1
        ok = prev >= 0
        explained = int(np.count_nonzero(c[ok] - p[prev[ok]] <= window_s))
    else:
        followed = explained = 0
    degree = followed / len(p) if len(p) else 0.0
    rate = len(c) / span_s if span_s > 0 else 0.0
    chance = 1.0 - math.exp(-rate * window_s)
    return PairStat(
        parent=parent,
        child=child,
        parent_alarms=len(p),
        child_alarms=len(c),
        followed=followed,
        explained=explained,
        degree=degree,
        explained_share=explained / len(c) if len(c) else 0.0,
        chance=chance,
        lift=degree / chance if chance > 0 else (math.inf if degree > 0 else 0.0),
        in_table=in_table,
    )


def pair_stats(
    records: Iterable[AlarmRecord],
    relations: Iterable[tuple[str, str]],
    *,
    window: timedelta = timedelta(minutes=5),
) -> list[PairStat]:
    """Degree and explained share of each (parent key, child key) pair of the table."""
    window_s = _window(window)
    times, span = _times(records)
    return [_pair(p, c, times, span, window_s, True) for p, c in dict.fromkeys(relations)]


def situation_groups(
    stats: Sequence[PairStat], *, min_degree: float = 0.6, min_hits: int = 3
) -> list[Group]:
    """Strong pairs joined into groups (connected where they share an alarm), largest first."""
    strong = [s for s in stats if s.degree >= min_degree and s.followed >= min_hits]
    parent_of: dict[str, str] = {}

    def find(x: str) -> str:
        while parent_of.setdefault(x, x) != x:
            parent_of[x] = parent_of[parent_of[x]]
            x = parent_of[x]
        return x

    for s in strong:
        a, b = find(s.parent), find(s.child)
        if a != b:
            parent_of[max(a, b)] = min(a, b)
    comps: dict[str, list[PairStat]] = defaultdict(list)
    for s in strong:
        comps[find(s.parent)].append(s)
    groups = []
    for pairs in comps.values():
        members = sorted({s.parent for s in pairs} | {s.child for s in pairs})
        children = {s.child for s in pairs}
        counts: dict[str, int] = {}
        for s in pairs:
            counts[s.parent] = s.parent_alarms
            counts[s.child] = s.child_alarms
        groups.append(
            Group(
                roots=tuple(m for m in members if m not in children) or (members[0],),
                members=tuple(members),
                pairs=tuple(sorted(pairs, key=lambda s: (s.parent, s.child))),
                alarms=sum(counts.values()),
            )
        )
    groups.sort(key=lambda g: (-len(g.members), -g.alarms, g.members))
    return groups


def suggest_pairs(
    records: Iterable[AlarmRecord],
    known: Iterable[tuple[str, str]],
    *,
    window: timedelta = timedelta(minutes=5),
    min_degree: float = 0.6,
    min_hits: int = 3,
    min_lift: float = 2.0,
    limit: int = 50,
) -> list[PairStat]:
    """Pairs not in the table that behave like parent and child; best first.

    Alarms of one tag (``TI-1.H`` then ``TI-1.HH``) are never suggested: one measurement
    crossing two limits is not cause and effect.
    """
    window_s = _window(window)
    recs = list(records)
    times, span = _times(recs)
    tag_of = {alarm_key(r): r.tag for r in recs}
    skip = {(p, c) for p, c in known} | {(c, p) for p, c in known}
    keys = sorted(k for k, v in times.items() if len(v) >= min_hits)
    out = []
    for p in keys:
        for c in keys:
            if p == c or tag_of[p] == tag_of[c] or (p, c) in skip:
                continue
            s = _pair(p, c, times, span, window_s, False)
            if s.followed >= min_hits and s.degree >= min_degree and s.lift >= min_lift:
                out.append(s)
    out.sort(key=lambda s: (-s.degree, -s.followed, s.parent, s.child))
    return out[:limit]


def _window(window: timedelta) -> float:
    seconds = window.total_seconds()
    if seconds <= 0:
        raise ValueError("window must be positive")
    return seconds
