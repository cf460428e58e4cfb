"""A9 sequence analysis: alarms in time order and the ordered patterns that keep recurring.

An alarm is named by its key ``"<tag>.<condition>"`` (``FI-101.H``). A *pattern* is an ordered
tuple of distinct keys ``(A, B, C)``. One *occurrence* of it starts at an alarm A and continues
with a later B and then a later C, all raised within ``window`` of that A. Occurrences are
counted greedily in time order, each alarm used by at most one occurrence of a pattern, with
the earliest possible continuation; the *support* of the pattern is the number of occurrences,
its *confidence* the support divided by the number of A alarms (how often an A starts the
whole sequence). This is the windowed, non-overlapping episode count of serial-episode mining
(Mannila, Toivonen and Verkamo, "Discovery of frequent episodes in event sequences", 1997),
which alarm-rationalisation tools use to find alarms that always come in the same order.

    timeline(records)                                   # [SequenceRow], oldest first
    patterns = frequent_patterns(records, window=timedelta(minutes=10), min_support=3)
    patterns[0].keys, patterns[0].support               # ("A.H", "B.H", "C.H"), 5

Only records that count take part (annunciated, not excluded by A18). Levels grow
Apriori-style: a pattern of length n + 1 is only tried when its first n keys are already
frequent (support never grows with length).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.alarms.records import AlarmRecord


def alarm_key(record: AlarmRecord) -> str:
    """``"<tag>.<condition>"``, the name of an alarm point in sequences and causal graphs."""
    return f"{record.tag}.{record.condition}"


@dataclass(frozen=True)
class SequenceRow:
    """One alarm of the timeline, with the seconds since the previous alarm (None: first)."""

    raised: datetime
    key: str
    priority: str | None
    gap_s: float | None
    record_id: int | None


@dataclass(frozen=True)
class Pattern:
    keys: tuple[str, ...]
    support: int
    #: support / number of alarms of ``keys[0]``
    confidence: float
    #: mean seconds from the first to the last alarm of an occurrence
    mean_span_s: float
    #: raised time of the first alarm of each occurrence
    starts: tuple[datetime, ...]


def counted(records: Iterable[AlarmRecord]) -> list[AlarmRecord]:
    """Records that count (annunciated, not excluded), oldest first, ties by key."""
    return sorted((r for r in records if r.counted), key=lambda r: (r.raised, alarm_key(r)))


def timeline(records: Iterable[AlarmRecord]) -> list[SequenceRow]:
    """The alarms in time order with the gap to the previous one.

    >>> [r.gap_s for r in timeline(recs)]      # raised at 0 s, 5 s, 5 s, 65 s
    [None, 5.0, 0.0, 60.0]
    """
    out: list[SequenceRow] = []
    prev: datetime | None = None
    for r in counted(records):
        gap = None if prev is None else (r.raised - prev).total_seconds()
        out.append(SequenceRow(r.raised, alarm_key(r), r.priority, gap, r.id))
        prev = r.raised
    return out


def _occurrences(
    pattern: tuple[str, ...],
    starts: Sequence[int],
    times: Sequence[float],
    by_key: dict[str, list[int]],
    window_s: float,
) -> list[tuple[int, int]]:
    """``(first, last)`` event indices of the pattern's greedy, non-overlapping occurrences.

    ``starts`` are the indices of the pattern's first key (ascending). Each later key takes
    its earliest unused alarm after the previous element and within the window.
    """
    used: dict[str, set[int]] = defaultdict(set)
    out: list[tuple[int, int]] = []
    for first in starts:
        if first in used[pattern[0]]:
            continue
        limit = times[first] + window_s
        last = first
        chosen: list[tuple[str, int]] = []
        for key in pattern[1:]:
            candidates = by_key.get(key, [])
            pos = bisect.bisect_right(candidates, last)
            nxt = None
            while pos < len(candidates):
                idx = candidates[pos]
                if times[idx] > limit:
                    break
                if idx not in used[key]:
                    nxt = idx
                    break
                pos += 1
            if nxt is None:
                break
            chosen.append((key, nxt))
            last = nxt
        else:
            used[pattern[0]].add(first)
            for key, idx in chosen:
                used[key].add(idx)
            out.append((first, last))
    return out


def frequent_patterns(
    records: Iterable[AlarmRecord],
    *,
    window: timedelta = timedelta(minutes=10),
    min_support: int = 3,
    max_length: int = 4,
    min_length: int = 2,
    limit: int = 50,
) -> list[Pattern]:
    """Ordered patterns of ``min_length``..``max_length`` distinct alarms with at least
    ``min_support`` occurrences within ``window``; longest and best supported first.

    A sub-pattern whose every occurrence is part of a longer pattern's occurrence (same
    support, same first key) is dropped: ``A→B`` is not repeated next to ``A→B→C`` when it
    never happens without C.
    """
    if min_support < 1:
        raise ValueError("min_support must be at least 1")
    if window.total_seconds() <= 0:
        raise ValueError("window must be positive")
    if not 2 <= min_length <= max_length:
        raise ValueError("need 2 <= min_length <= max_length")
    events = counted(records)
    keys = [alarm_key(r) for r in events]
    times = [r.raised.timestamp() for r in events]
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_key[k].append(i)
    counts = Counter(keys)
    frequent1 = sorted(k for k, n in counts.items() if n >= min_support)
    window_s = window.total_seconds()
    found: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    level: list[tuple[str, ...]] = [(k,) for k in frequent1]
    for _length in range(2, max_length + 1):
        nxt: list[tuple[str, ...]] = []
        for prefix in level:
            # Only keys that follow some occurrence of the prefix within the window can extend
            # it: collect them from the prefix's own occurrences instead of trying them all.
            occ = [(i, i) for i in by_key[prefix[0]]] if len(prefix) == 1 else found[prefix]
            followers: set[str] = set()
            for first, last in occ:
                horizon = times[first] + window_s
                j = last + 1
                while j < len(times) and times[j] <= horizon:
                    followers.add(keys[j])
                    j += 1
            for key in sorted(followers):
                if key in prefix or counts[key] < min_support:
                    continue
                pattern = (*prefix, key)
                hits = _occurrences(pattern, by_key[prefix[0]], times, by_key, window_s)
                if len(hits) >= min_support:
                    found[pattern] = hits
                    nxt.append(pattern)
        level = nxt
        if not level:
            break
    patterns = [
        Pattern(
            keys=p,
            support=len(hits),
            confidence=len(hits) / counts[p[0]],
            mean_span_s=sum(times[b] - times[a] for a, b in hits) / len(hits),
            starts=tuple(events[a].raised for a, _ in hits),
        )
        for p, hits in found.items()
        if len(p) >= min_length
    ]
    kept = [p for p in patterns if not _absorbed(p, patterns)]
    kept.sort(key=lambda p: (-len(p.keys), -p.support, p.keys))
    return kept[:limit]


def _absorbed(p: Pattern, patterns: Sequence[Pattern]) -> bool:
    """True when a longer pattern starting with ``p.keys`` has the same support."""
    n = len(p.keys)
    return any(
        len(q.keys) > n and q.keys[:n] == p.keys and q.support == p.support for q in patterns
    )
