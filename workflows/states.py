"""The alert state machine as a pure function: Normal -> Pending -> Firing -> Resolved, plus
NoData and Error.

    state, transitions = step(state, observation, now, Timing(pending_s=60, keep_firing_s=120))

Pending holds a condition until it has lasted ``pending_s``; Firing holds for ``keep_firing_s``
after the condition went away (so a flapping value does not resolve and re-fire); Resolved
lasts one evaluation and then is Normal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from workflows.rules import Observation

STATES = ("normal", "pending", "firing", "resolved", "nodata", "error")


@dataclass(frozen=True)
class Timing:
    pending_s: int = 0
    keep_firing_s: int = 0
    on_nodata: str = "nodata"  # 'nodata' | 'normal' | 'keep'


@dataclass(frozen=True)
class RuleState:
    state: str = "normal"
    level: str | None = None
    value: float | None = None
    since: datetime | None = None  # when the current state began
    pending_since: datetime | None = None
    last_active: datetime | None = None  # last evaluation that saw the condition
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("since", "pending_since", "last_active"):
            out[k] = out[k].isoformat() if out[k] else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleState:
        vals = dict(data)
        for k in ("since", "pending_since", "last_active"):
            vals[k] = datetime.fromisoformat(vals[k]) if vals.get(k) else None
        return cls(**vals)


@dataclass(frozen=True)
class Transition:
    at: datetime
    from_state: str
    to_state: str
    level: str | None
    value: float | None
    change: str = "transition"  # or 'level': firing at another level
    error: str | None = None


def step(
    prev: RuleState, obs: Observation, now: datetime, timing: Timing
) -> tuple[RuleState, list[Transition]]:
    """The next state after seeing ``obs`` at ``now``, and the transitions taken."""
    if obs.nodata:
        if timing.on_nodata == "keep":
            return prev, []
        if timing.on_nodata == "normal":
            obs = Observation(None, None)
        else:
            return _to(prev, "nodata", now, None, None)
    if obs.error is not None:
        return _to(prev, "error", now, None, None, error=obs.error)

    active = obs.level is not None
    if prev.state == "firing":
        if active:
            nxt = replace(prev, value=obs.value, last_active=now, level=obs.level)
            if obs.level != prev.level:
                return nxt, [Transition(now, "firing", "firing", obs.level, obs.value, "level")]
            return nxt, []
        held = prev.last_active or prev.since or now
        if now - held < timedelta(seconds=timing.keep_firing_s):
            return replace(prev, value=obs.value), []
        return _to(prev, "resolved", now, None, obs.value)

    if prev.state == "pending":
        if not active:
            return _to(prev, "normal", now, None, obs.value)
        started = prev.pending_since or now
        if now - started >= timedelta(seconds=timing.pending_s):
            state, trans = _to(prev, "firing", now, obs.level, obs.value)
            return replace(state, last_active=now), trans
        return replace(prev, level=obs.level, value=obs.value, last_active=now), []

    # normal, resolved, nodata, error
    if not active:
        if prev.state == "normal":
            return replace(prev, value=obs.value), []
        return _to(prev, "normal", now, None, obs.value)
    if timing.pending_s == 0:
        pend, t1 = _to(prev, "pending", now, obs.level, obs.value)
        fire, t2 = _to(pend, "firing", now, obs.level, obs.value)
        return replace(fire, pending_since=now, last_active=now), t1 + t2
    pend, trans = _to(prev, "pending", now, obs.level, obs.value)
    return replace(pend, pending_since=now, last_active=now), trans


def _to(
    prev: RuleState,
    state: str,
    now: datetime,
    level: str | None,
    value: float | None,
    error: str | None = None,
) -> tuple[RuleState, list[Transition]]:
    if prev.state == state and prev.error == error:
        return replace(prev, value=value), []
    nxt = RuleState(
        state=state,
        level=level,
        value=value,
        since=now,
        pending_since=prev.pending_since if state == "firing" else None,
        last_active=prev.last_active,
        error=error,
    )
    return nxt, [Transition(now, prev.state, state, level, value, error=error)]
