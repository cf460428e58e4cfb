"""A10 causal analysis on a hand-written log (pure)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from analytics.alarms.causal import pair_stats, situation_groups, suggest_pairs
from tests.analytics.alarms.analysis_fixtures import rec

W = timedelta(seconds=300)
TABLE = [("P.L", "C.H"), ("C.H", "R.H"), ("X.H", "P.L")]


def log() -> list:
    """Times in seconds after T0; window 300 s; span 0 .. 6000 s (Z.H at 6000).

    P.L  0, 1000, 2000, 3000 (and 4000, excluded: ignored)
    C.H  60, 1100, 2050, 5000        follows P at 0, 1000, 2000
    R.H  90, 1150, 2100              follows C at 60, 1100, 2050
    X.H  400, 1400, 2400, 3400
    X.HH 405, 1405, 2405             same tag as X.H
    Y.H  420, 1430, 2410, 3500       follows X at 400, 1400, 2400, 3400
    Z.H  6000

    Table pairs:
    - P.L→C.H: 3 of 4 P followed → degree 0.75; C explained 3 of 4 (5000 is 2000 s after
      the last P) → 0.75.
    - C.H→R.H: C at 60, 1100, 2050 followed (+30, +50, +50), 5000 not → 3/4 = 0.75;
      every R explained → 1.0.
    - X.H→P.L: no P within 300 s after any X → 0.
    Groups (degree ≥ 0.6, ≥ 3 hits): {C.H, P.L, R.H}, root P.L, 4 + 4 + 3 = 11 alarms.

    Suggestions (not in the table either way, other tags, ≥ 3 hits, degree ≥ 0.6, lift ≥ 2):
    - X.H→Y.H: 4/4 = 1.0; Y rate 4/6000 s, chance 1 - e^(-0.2) = 0.1813, lift 5.52.
    - X.HH→Y.H: 405→420, 1405→1430, 2405→2410: 3/3 = 1.0.
    - P.L→R.H: 0→90, 1000→1150, 2000→2100: 3/4 = 0.75; chance 1 - e^(-0.15), lift 5.38.
    - not X.H→X.HH (one tag), not C.H→X.H (1100→1400 is the only hit).
    """
    out = [rec("P", "L", t) for t in (0, 1000, 2000, 3000)]
    out.append(rec("P", "L", 4000, excluded=True))
    out += [rec("C", "H", t) for t in (60, 1100, 2050, 5000)]
    out += [rec("R", "H", t) for t in (90, 1150, 2100)]
    out += [rec("X", "H", t) for t in (400, 1400, 2400, 3400)]
    out += [rec("X", "HH", t) for t in (405, 1405, 2405)]
    out += [rec("Y", "H", t) for t in (420, 1430, 2410, 3500)]
    out.append(rec("Z", "H", 6000))
    return out


def test_association_degree_of_table_pairs() -> None:
    stats = {(s.parent, s.child): s for s in pair_stats(log(), TABLE, window=W)}
    pc = stats[("P.L", "C.H")]
    assert (pc.parent_alarms, pc.child_alarms, pc.followed, pc.explained) == (4, 4, 3, 3)
    assert pc.degree == 0.75 and pc.explained_share == 0.75
    assert pc.chance == pytest.approx(1 - math.exp(-4 / 6000 * 300))
    cr = stats[("C.H", "R.H")]
    assert (cr.followed, cr.degree, cr.explained_share) == (3, 0.75, 1.0)
    assert stats[("X.H", "P.L")].degree == 0.0
    assert all(s.in_table for s in stats.values())


def test_groups_point_at_one_situation() -> None:
    groups = situation_groups(pair_stats(log(), TABLE, window=W), min_degree=0.6, min_hits=3)
    assert len(groups) == 1
    g = groups[0]
    assert g.members == ("C.H", "P.L", "R.H")
    assert g.roots == ("P.L",)
    assert g.alarms == 11


def test_suggested_pairs() -> None:
    new = suggest_pairs(log(), TABLE, window=W, min_degree=0.6, min_hits=3, min_lift=2.0)
    assert [(s.parent, s.child, s.followed, s.degree) for s in new] == [
        ("X.H", "Y.H", 4, 1.0),
        ("X.HH", "Y.H", 3, 1.0),
        ("P.L", "R.H", 3, 0.75),
    ]
    assert new[0].lift == pytest.approx(1.0 / (1 - math.exp(-0.2)))
    assert new[2].lift == pytest.approx(0.75 / (1 - math.exp(-3 / 6000 * 300)))
    assert not any(s.in_table for s in new)


def test_a_strict_window_removes_pairs() -> None:
    """With 40 s, P.L→C.H keeps none of its hits (60, 100, 50 s) and C.H→R.H keeps one."""
    stats = {(s.parent, s.child): s for s in pair_stats(log(), TABLE, window=timedelta(seconds=40))}
    assert stats[("P.L", "C.H")].followed == 0
    assert stats[("C.H", "R.H")].followed == 1
    with pytest.raises(ValueError, match="window"):
        pair_stats(log(), TABLE, window=timedelta(0))
