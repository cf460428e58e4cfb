"""What a rule would have done over a stretch of history: the engine's pure evaluation
(``workflows.rules.observe`` and ``workflows.states.step``) replayed at a fixed interval.

    result = backtest(spec, points, start, end, step_s=60)
    result.transitions      # [Transition(at, "normal", "pending", "alarm", 81.2), ...]
    result.firings          # how many times it went Firing
    result.firing_s         # seconds spent Firing
    result.measured         # [(t, value)]: what the levels were compared with at each step

The replay evaluates once per ``step_s`` (the scheduler does every 15 s), so pending periods
shorter than a step come out a step long. A baseline rule uses one baseline for the whole
stretch (the engine learns it anew at each evaluation).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workflows.rules import Point, RuleSpec, observe
from workflows.states import RuleState, Timing, Transition, step


@dataclass
class Backtest:
    transitions: list[Transition] = field(default_factory=list)
    measured: list[tuple[datetime, float]] = field(default_factory=list)
    firings: int = 0
    firing_s: float = 0.0
    evaluations: int = 0
    errors: set[str] = field(default_factory=set)
    final: RuleState = field(default_factory=RuleState)


def backtest(
    spec: RuleSpec,
    points: Sequence[Point],
    start: datetime,
    end: datetime,
    step_s: int = 60,
    baseline: float | None = None,
) -> Backtest:
    """Replay ``spec`` over ``points`` (time-ordered) from ``start`` to ``end``."""
    if step_s < 1:
        raise ValueError("step_s must be at least 1")
    times = [t for t, _ in points]
    horizon = timedelta(seconds=max(spec.window_s, spec.nodata_s))
    timing = Timing(spec.pending_s, spec.keep_firing_s, spec.on_nodata)
    out = Backtest()
    state = RuleState()
    now = start
    while now <= end:
        # Only the points the evaluation can see: keeps every step O(window).
        lo = bisect.bisect_right(times, now - horizon)
        hi = bisect.bisect_right(times, now)
        obs = observe(spec, points[lo:hi], now, state.level, baseline)
        if obs.error:
            out.errors.add(obs.error)
        if obs.value is not None:
            out.measured.append((now, obs.value))
        before = state.state
        state, trans = step(state, obs, now, timing)
        out.transitions.extend(trans)
        out.firings += sum(1 for t in trans if t.to_state == "firing" and t.from_state != "firing")
        if before == "firing":
            out.firing_s += step_s
        out.evaluations += 1
        now += timedelta(seconds=step_s)
    out.final = state
    return out
