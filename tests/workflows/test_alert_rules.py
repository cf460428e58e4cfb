"""Pure tests of rule kinds, hysteresis and the state machine (issue 6, Alerting 1-2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from workflows.rules import Observation, RuleSpec, learn_baseline, observe, select_level
from workflows.states import RuleState, Timing, step

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEVELS = [
    {"level": "warning", "op": ">", "value": 70, "clear": 65},
    {"level": "alarm", "op": ">", "value": 80, "clear": 75},
    {"level": "danger", "op": ">", "value": 90, "clear": 85},
]


def series(*values: float, every: int = 10) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(seconds=i * every), v) for i, v in enumerate(values)]


def spec(**kw: object) -> RuleSpec:
    return RuleSpec.model_validate({"kind": "threshold", "levels": LEVELS, **kw})


def test_threshold_levels_and_reduce() -> None:
    pts = series(60, 72, 95)
    now = pts[-1][0]
    assert observe(spec(), pts, now).level == "danger"
    avg = observe(spec(reduce="avg", window_s=60), pts, now)
    assert avg.level == "warning" and avg.value == pytest.approx(75.6667, abs=1e-4)
    assert observe(spec(reduce="min", window_s=60), pts, now).level is None


def test_hysteresis_holds_until_clear() -> None:
    levels = spec().levels
    assert select_level(levels, 81, None) == "alarm"
    assert select_level(levels, 78, "alarm") == "alarm"  # below 80 but above clear 75
    assert select_level(levels, 78, None) == "warning"  # the same value from below
    assert select_level(levels, 74, "alarm") == "warning"
    assert select_level(levels, 87, "danger") == "danger"
    assert select_level(levels, 84, "danger") == "alarm"
    assert select_level(levels, 64, "warning") is None


def test_rate_of_change_per_minute() -> None:
    s = RuleSpec.model_validate(
        {"kind": "rate", "window_s": 120,
         "levels": [{"level": "alarm", "op": ">", "value": 5, "clear": 2}]}
    )  # fmt: skip
    rising = series(100, 101, 102, 103, 104, 105, 106)  # 6 units in 60 s
    assert observe(s, rising, rising[-1][0]) == Observation("alarm", 6.0)
    flat = series(100, 100.5, 101)
    assert observe(s, flat, flat[-1][0]).level is None
    one = series(100)
    assert observe(s, one, one[-1][0]).error == "rate needs at least two samples in the window"


def test_trend_time_to_threshold() -> None:
    s = RuleSpec.model_validate(
        {"kind": "trend", "window_s": 600, "target": 100,
         "levels": [{"level": "warning", "op": "<", "value": 1800, "clear": 2400},
                    {"level": "alarm", "op": "<", "value": 600, "clear": 900}]}
    )  # fmt: skip
    # +1 per minute from 70: 30 minutes to 100 from the fitted last value 70 + 9 = 79 -> 21 min.
    pts = series(*[70 + i for i in range(10)], every=60)
    obs = observe(s, pts, pts[-1][0])
    assert obs.value == pytest.approx(21 * 60)
    assert obs.level == "warning"
    falling = series(*[80 - i for i in range(10)], every=60)
    assert observe(s, falling, falling[-1][0]) == Observation(None, None)
    fast = series(*[70 + 3 * i for i in range(10)], every=60)  # 97 -> 1 min
    assert observe(s, fast, fast[-1][0]).level == "alarm"
    with pytest.raises(ValidationError, match="needs target"):
        RuleSpec.model_validate({"kind": "trend", "levels": LEVELS})


def test_baseline_multiples() -> None:
    s = RuleSpec.model_validate(
        {"kind": "baseline", "reduce": "avg", "window_s": 60, "baseline_min_points": 3,
         "levels": [{"level": "warning", "op": ">=", "value": 2, "clear": 1.8},
                    {"level": "alarm", "op": ">=", "value": 4, "clear": 3.6},
                    {"level": "danger", "op": ">=", "value": 8, "clear": 7.2}]}
    )  # fmt: skip
    base = learn_baseline([1.0, 1.2, 0.9, 50.0, 1.1], 3)  # one outlier does not move a median
    assert base == pytest.approx(1.1)
    pts = series(4.5, 4.5)
    assert observe(s, pts, pts[-1][0], baseline=base).level == "alarm"
    assert observe(s, series(9.0), T0, baseline=1.1).level == "danger"
    assert observe(s, series(2.3), T0, baseline=1.1).level == "warning"
    assert learn_baseline([1.0], 3) is None
    assert "baseline needs at least 3" in (observe(s, series(1.0), T0).error or "")


def test_nodata_rule_and_nodata_state() -> None:
    s = RuleSpec.model_validate({"kind": "nodata", "nodata_s": 300, "nodata_level": "alarm"})
    pts = series(1.0)
    assert observe(s, pts, T0 + timedelta(seconds=299)).level is None
    assert observe(s, pts, T0 + timedelta(seconds=300)) == Observation("alarm", 300.0)
    assert observe(s, [], T0).level == "alarm"
    th = spec(window_s=60, nodata_s=600)
    assert observe(th, pts, T0 + timedelta(seconds=120), "alarm") == Observation("alarm", None)
    assert observe(th, pts, T0 + timedelta(seconds=600)).nodata


def test_bad_specs_name_the_problem() -> None:
    with pytest.raises(ValidationError, match=r"clear 85\.0 must be at or below value 80"):
        spec(levels=[{"level": "alarm", "op": ">", "value": 80, "clear": 85}])
    with pytest.raises(ValidationError, match="needs at least one level"):
        RuleSpec.model_validate({"kind": "threshold"})
    with pytest.raises(ValidationError, match="must be beyond warning"):
        spec(levels=[{"level": "warning", "op": ">", "value": 90, "clear": 85},
                     {"level": "danger", "op": ">", "value": 80, "clear": 75}])  # fmt: skip
    with pytest.raises(ValidationError, match="Extra inputs"):
        spec(treshold=3)


def run(
    timing: Timing, obs_by_second: list[tuple[int, Observation]]
) -> list[tuple[int, str, str | None]]:
    state, seen = RuleState(), []
    for sec, obs in obs_by_second:
        state, _ = step(state, obs, T0 + timedelta(seconds=sec), timing)
        seen.append((sec, state.state, state.level))
    return seen


ALARM = Observation("alarm", 85.0)
DANGER = Observation("danger", 95.0)
OK = Observation(None, 60.0)


def test_pending_period_then_firing() -> None:
    got = run(Timing(pending_s=60), [(0, ALARM), (30, ALARM), (60, ALARM), (90, OK), (120, OK)])
    assert got == [
        (0, "pending", "alarm"),
        (30, "pending", "alarm"),
        (60, "firing", "alarm"),
        (90, "resolved", None),
        (120, "normal", None),
    ]


def test_pending_that_clears_never_fires() -> None:
    got = run(Timing(pending_s=60), [(0, ALARM), (30, OK), (60, ALARM)])
    assert [s for _, s, _ in got] == ["pending", "normal", "pending"]


def test_keep_firing_bridges_a_flap() -> None:
    got = run(
        Timing(keep_firing_s=60),
        [(0, ALARM), (10, OK), (40, ALARM), (50, OK), (99, OK), (100, OK), (110, OK)],
    )
    # Held 60 s after the last active evaluation (40 s), then resolved, then normal.
    states = [s for _, s, _ in got]
    assert states == ["firing"] * 5 + ["resolved", "normal"]


def test_level_change_while_firing_is_a_transition() -> None:
    state, _ = step(RuleState(), ALARM, T0, Timing())
    state, trans = step(state, DANGER, T0 + timedelta(seconds=10), Timing())
    assert state.state == "firing" and state.level == "danger"
    assert [(t.change, t.level) for t in trans] == [("level", "danger")]


def test_nodata_and_error_states() -> None:
    nodata = Observation(None, None, nodata=True)
    err = Observation(None, None, error="baseline needs at least 24 hourly values")
    state, trans = step(RuleState(), nodata, T0, Timing())
    assert state.state == "nodata" and trans[0].to_state == "nodata"
    state, _ = step(state, OK, T0 + timedelta(seconds=10), Timing())
    assert state.state == "normal"
    state, trans = step(state, err, T0 + timedelta(seconds=20), Timing())
    assert state.state == "error" and state.error and "24 hourly" in state.error
    kept, trans = step(state, nodata, T0, Timing(on_nodata="keep"))
    assert kept == state and trans == []
    ok, _ = step(RuleState(), nodata, T0, Timing(on_nodata="normal"))
    assert ok.state == "normal"


def test_state_round_trips_through_json() -> None:
    state, _ = step(RuleState(), ALARM, T0, Timing(pending_s=30))
    assert RuleState.from_json(state.to_json()) == state
