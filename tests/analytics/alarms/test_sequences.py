"""A9 sequence analysis on hand-written alarm logs (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.alarms.sequences import frequent_patterns, timeline
from tests.analytics.alarms.analysis_fixtures import at, rec


def abc_log() -> list:
    """A→B→C five times, 10 s then 20 s apart, episodes an hour apart; noise around them.

    Episode k (k = 0..4) starts at 3600 k s: A.H at +0, B.H at +10, C.H at +30.
    Noise: D.H at +15 in episodes 0 and 1 only; an A.H alone at 20000 s (no B, C after it);
    a C.H that comes 700 s after the last A (outside a 600 s window) does not help.

    Expected with window 600 s, min_support 3:
    - (A, B, C): support 5 (every episode), confidence 5/6 (six A alarms), mean span 30 s;
    - (A, B) and (B, C) and (A, C) have support 5 too, so they are absorbed where they are
      prefixes of (A, B, C): (A, B) goes; (B, C) and (A, C) are not prefixes, they stay;
    - D occurs twice: below min_support, in no pattern.
    """
    log = []
    for k in range(5):
        t = 3600 * k
        log += [rec("A", "H", t), rec("B", "H", t + 10), rec("C", "H", t + 30)]
        if k < 2:
            log.append(rec("D", "H", t + 15))
    log += [rec("A", "H", 20000), rec("C", "H", 20700)]
    return log


def test_abc_pattern_found_with_its_support() -> None:
    patterns = frequent_patterns(abc_log(), window=timedelta(seconds=600), min_support=3)
    top = patterns[0]
    assert top.keys == ("A.H", "B.H", "C.H")
    assert top.support == 5
    assert top.confidence == pytest.approx(5 / 6)
    assert top.mean_span_s == pytest.approx(30.0)
    assert top.starts == tuple(at(3600 * k) for k in range(5))
    keys = {p.keys for p in patterns}
    assert ("A.H", "B.H") not in keys  # absorbed by A→B→C
    assert ("B.H", "C.H") in keys and ("A.H", "C.H") in keys
    assert not any("D.H" in p.keys for p in patterns)


def test_window_too_short_breaks_the_pattern() -> None:
    """C comes 30 s after A and 20 s after B: with a 15 s window only A→B (10 s) remains,
    support 5 (D follows A within 15 s twice only)."""
    patterns = frequent_patterns(abc_log(), window=timedelta(seconds=15), min_support=3)
    assert [(p.keys, p.support) for p in patterns] == [(("A.H", "B.H"), 5)]


def test_occurrences_do_not_share_alarms() -> None:
    """A A B within the window: one occurrence of A→B (B is used once), not two.

    Three bursts of A(0) A(1) B(2): support 3 (one per burst), confidence 3/6.
    """
    log = []
    for k in range(3):
        t = 1000 * k
        log += [rec("A", "H", t), rec("A", "H", t + 1), rec("B", "H", t + 2)]
    [p] = frequent_patterns(log, window=timedelta(seconds=60), min_support=3)
    assert (p.keys, p.support, p.confidence) == (("A.H", "B.H"), 3, 0.5)


def test_excluded_records_take_no_part() -> None:
    """Excluding B in two episodes leaves A→B→C with support 3 (and A→C with 5)."""
    log = abc_log()
    log = [
        r.__class__(**{**r.__dict__, "excluded": True})
        if r.tag == "B" and r.raised in (at(0 + 10), at(3600 + 10))
        else r
        for r in log
    ]
    patterns = {p.keys: p.support for p in frequent_patterns(log, window=timedelta(seconds=600))}
    assert patterns[("A.H", "B.H", "C.H")] == 3
    assert patterns[("A.H", "C.H")] == 5


def test_timeline_gaps() -> None:
    """Raised at 0, 5, 5 and 65 s: gaps None, 5, 0, 60; excluded one left out."""
    log = [
        rec("B", "H", 5),
        rec("A", "H", 0),
        rec("C", "L", 5),
        rec("X", "H", 30, excluded=True),
        rec("A", "HH", 65),
    ]
    rows = timeline(log)
    assert [r.key for r in rows] == ["A.H", "B.H", "C.L", "A.HH"]
    assert [r.gap_s for r in rows] == [None, 5.0, 0.0, 60.0]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="min_support"):
        frequent_patterns([], min_support=0)
    with pytest.raises(ValueError, match="window"):
        frequent_patterns([], window=timedelta(0))
