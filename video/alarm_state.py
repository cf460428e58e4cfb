"""When a condition becomes an alarm and when the alarm clears (V5): pure, no clock, no I/O.

A detector says, frame by frame, whether its condition holds in a zone. An alarm is raised only
after the condition has held for ``raise_after_s`` (brief misses up to ``gap_s`` do not restart
the count: detectors flicker) and cleared only after it has been absent for ``clear_after_s``,
so one real episode gives exactly one alarm. After a clear, ``cooldown_s`` must pass before the
same alarm can be raised again.

    timing = Timing(raise_after_s=2, clear_after_s=5)
    state = IDLE
    for t, frame_no, holds in samples:
        state, change = step(state, timing, t, holds, frame_no)
        if change: print(change.kind, change.start_ref, change.end_ref)
    state, change = finish(state, t_end)        # closes an open alarm at the end of a stream
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class Timing:
    raise_after_s: float = 2.0
    clear_after_s: float = 5.0
    cooldown_s: float = 0.0
    gap_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("raise_after_s", "clear_after_s", "cooldown_s", "gap_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class State:
    phase: Literal["idle", "pending", "active"]
    since: float = 0.0  # first time the condition held in this episode
    since_ref: int = 0  # the caller's reference for that moment (a frame number)
    last_seen: float = 0.0
    last_ref: int = 0
    raised_at: float = 0.0
    cooldown_until: float = float("-inf")


IDLE = State("idle")


@dataclass(frozen=True)
class Change:
    kind: Literal["raised", "cleared"]
    at: float  # when the decision was taken
    start: float  # when the condition started to hold
    start_ref: int
    end: float  # last time it held (for "raised": same as at)
    end_ref: int
    reason: str = ""


def step(
    state: State, timing: Timing, t: float, holds: bool, ref: int = 0
) -> tuple[State, Change | None]:
    """Advance by one observation at time ``t`` (seconds, non-decreasing)."""
    if state.phase == "idle":
        if not holds or t < state.cooldown_until:
            return state, None
        state = State("pending", t, ref, t, ref, cooldown_until=state.cooldown_until)
        return _maybe_raise(state, timing, t, ref)
    if state.phase == "pending":
        if holds:
            return _maybe_raise(replace(state, last_seen=t, last_ref=ref), timing, t, ref)
        if t - state.last_seen > timing.gap_s:
            return State("idle", cooldown_until=state.cooldown_until), None
        return state, None
    # active
    if holds:
        return replace(state, last_seen=t, last_ref=ref), None
    if t - state.last_seen >= timing.clear_after_s:
        change = Change(
            "cleared",
            t,
            state.since,
            state.since_ref,
            state.last_seen,
            state.last_ref,
            "condition gone",
        )
        return State("idle", cooldown_until=t + timing.cooldown_s), change
    return state, None


def _maybe_raise(state: State, timing: Timing, t: float, ref: int) -> tuple[State, Change | None]:
    if t - state.since >= timing.raise_after_s:
        change = Change("raised", t, state.since, state.since_ref, t, ref)
        return replace(state, phase="active", raised_at=t), change
    return state, None


def finish(state: State, t: float, reason: str = "end of stream") -> tuple[State, Change | None]:
    """Close an active alarm when its stream ends (a pending one is dropped)."""
    if state.phase != "active":
        return IDLE, None
    change = Change(
        "cleared", t, state.since, state.since_ref, state.last_seen, state.last_ref, reason
    )
    return IDLE, change
