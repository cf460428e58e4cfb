"""Pure logic: zone geometry and parsing (V3, V9) and alarm raise/clear timing (V5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hazwatch.errors import HazwatchError
from video import alarm_state
from video.alarm_state import IDLE, Timing, finish, step
from video.inference import Detection
from video.zones import Zone, check_fits, parse_zone, persons_in_zone, point_in_polygon

SQUARE = Zone("sq", ((0, 0), (10, 0), (10, 10), (0, 10)))


def test_point_in_polygon_square_and_concave() -> None:
    assert SQUARE.contains((5, 5))
    assert not SQUARE.contains((11, 5))
    assert not SQUARE.contains((5, -0.1))
    # An L shape: the notch is outside.
    ell = [(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)]
    assert point_in_polygon((2, 8), ell)
    assert not point_in_polygon((8, 8), ell)


@given(st.floats(0.01, 9.99), st.floats(0.01, 9.99))
def test_every_interior_point_of_the_square_is_inside(x: float, y: float) -> None:
    assert SQUARE.contains((x, y))


def test_foot_point_decides_not_box_overlap() -> None:
    # Box overlaps the zone but the person stands below it: not inside.
    standing_below = Detection((2, 5, 8, 15), 0.9, 0, "person")
    standing_in = Detection((2, 0, 8, 9), 0.9, 0, "person")
    assert persons_in_zone(SQUARE, [standing_below, standing_in]) == [standing_in]


def test_parse_zone_and_errors_name_the_fault() -> None:
    zone = parse_zone("door=100,400;500,400;500,570")
    assert zone.name == "door" and zone.points[1] == (500.0, 400.0)
    cases = {
        "door": "expected NAME=x,y",
        "door=1,1;2,2": "at least 3 points",
        "door=1,1;2,2;3,3": "no area",
        "door=1,1;2;3,3": "point 2 '2' is not x,y",
        "door=1,1;a,2;3,3": "point 2 'a,2' is not numeric",
        "door=1,1;-2,2;3,3": "negative",
        "do or=1,1;5,1;3,3": "zone name",
    }
    for text, message in cases.items():
        with pytest.raises(HazwatchError, match=message):
            parse_zone(text)


def test_zone_outside_the_frame_is_refused() -> None:
    with pytest.raises(HazwatchError, match=r"frame is 8×8"):
        check_fits(SQUARE, 8, 8)
    check_fits(SQUARE, 10, 10)


def run(timing: Timing, samples: list[tuple[float, bool]]) -> list[alarm_state.Change]:
    state, changes = IDLE, []
    for n, (t, holds) in enumerate(samples):
        state, change = step(state, timing, t, holds, n)
        if change:
            changes.append(change)
    _, change = finish(state, samples[-1][0])
    if change:
        changes.append(change)
    return changes


def test_raise_only_after_min_duration_and_clear_after_gone() -> None:
    timing = Timing(raise_after_s=2, clear_after_s=3, gap_s=0.5)
    samples = [(t / 2, 1 <= t / 2 <= 6) for t in range(0, 25)]  # holds from 1 s to 6 s
    changes = run(timing, samples)
    assert [(c.kind, c.at) for c in changes] == [("raised", 3.0), ("cleared", 9.0)]
    assert changes[0].start == 1.0 and changes[1].end == 6.0
    assert (changes[1].start_ref, changes[1].end_ref) == (2, 12)


def test_short_blip_never_raises() -> None:
    timing = Timing(raise_after_s=2, clear_after_s=3, gap_s=0.5)
    assert run(timing, [(t / 2, 2 <= t / 2 <= 3) for t in range(20)]) == []


def test_flicker_gives_one_alarm_not_many() -> None:
    # Detector misses every third frame: one alarm, raised once, cleared once.
    timing = Timing(raise_after_s=1, clear_after_s=2, gap_s=0.5)
    samples = [(t / 10, t % 3 != 0 and t < 80) for t in range(120)]
    changes = run(timing, samples)
    assert [c.kind for c in changes] == ["raised", "cleared"]


def test_gaps_longer_than_tolerance_restart_the_pending_count() -> None:
    timing = Timing(raise_after_s=2, clear_after_s=1, gap_s=0.5)
    samples = [(t / 10, (t // 15) % 2 == 0) for t in range(100)]  # 1.5 s on, 1.5 s off
    assert run(timing, samples) == []


def test_cooldown_suppresses_a_second_raise() -> None:
    timing = Timing(raise_after_s=0, clear_after_s=1, cooldown_s=10)
    samples = [(0, True), (1, True), (2, False), (3, False), (4, True), (8, True), (13, True)]
    kinds = [(c.kind, c.at) for c in run(timing, samples)]
    assert kinds == [("raised", 0), ("cleared", 2), ("raised", 13), ("cleared", 13)]


def test_finish_closes_an_open_alarm_and_drops_a_pending_one() -> None:
    timing = Timing(raise_after_s=1, clear_after_s=5)
    state, _ = step(IDLE, timing, 0, True, 0)
    assert finish(state, 0.5) == (IDLE, None)
    state, change = step(state, timing, 1.0, True, 10)
    assert change is not None and change.kind == "raised"
    _, closed = finish(state, 2.0)
    assert closed is not None and closed.reason == "end of stream" and closed.end_ref == 10


def test_negative_timing_is_rejected() -> None:
    with pytest.raises(ValueError, match="clear_after_s must be >= 0"):
        Timing(clear_after_s=-1)


def test_docstring_examples_hold() -> None:
    import doctest
    import importlib

    for name in ("video.zones", "video.inference", "video.evaluation", "video.analyze",
                 "video.detectors.smoking", "video.detectors.tracking",
                 "video.detectors.pose_geometry"):  # fmt: skip
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0 and result.attempted > 0, name
