"""The approval state machine and deadline arithmetic: pure functions, no database.

    step = Step(1, "安全管理审批", ("safety_mgmt",), (), 24.0, 24.0)
    move = transition("pending", 1, 2, "approve", is_requester=False, is_approver=True)
    move.state, move.step, move.final         # ("pending", 2, False): on to step 2
    overdue_period(now, due, timedelta(hours=24))   # None before the deadline, then 0, 1, ...

States: ``pending`` (at a step) → ``approved`` | ``rejected`` | ``returned`` (for changes)
| ``withdrawn``; ``returned`` → ``pending`` (resubmitted, from step 1 again, since the
payload may have changed) | ``withdrawn``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hazwatch.errors import HazwatchError

STATES: Final = ("pending", "returned", "approved", "rejected", "withdrawn")
TERMINAL: Final = frozenset({"approved", "rejected", "withdrawn"})
ACTIONS: Final = ("approve", "reject", "return", "resubmit", "withdraw")
#: Actions of an approver of the current step; the others belong to the requester.
APPROVER_ACTIONS: Final = frozenset({"approve", "reject", "return"})
#: A refusal or a request for changes must say why.
NEEDS_COMMENT: Final = frozenset({"reject", "return"})
ROLES: Final = ("admin", "engineer", "operator", "contractor", "regulator")
MAX_STEPS: Final = 20
DEFAULT_REMIND_EVERY_H: Final = 24.0
GROUP_CODE_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class ApprovalError(HazwatchError):
    """A refused approval action or definition, in words the user can act on."""


class NotApprover(ApprovalError):
    """The actor holds neither a group nor a role of the current step."""


@dataclass(frozen=True)
class Step:
    """One step of a definition: who approves it, and how long they have."""

    position: int
    name: str
    approver_groups: tuple[str, ...] = ()
    approver_roles: tuple[str, ...] = ()
    deadline_hours: float | None = None
    remind_every_hours: float = DEFAULT_REMIND_EVERY_H

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "name": self.name,
            "approver_groups": list(self.approver_groups),
            "approver_roles": list(self.approver_roles),
            "deadline_hours": self.deadline_hours,
            "remind_every_hours": self.remind_every_hours,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        deadline = data.get("deadline_hours")
        return cls(
            position=int(data["position"]),
            name=str(data["name"]),
            approver_groups=tuple(data.get("approver_groups") or ()),
            approver_roles=tuple(data.get("approver_roles") or ()),
            deadline_hours=None if deadline is None else float(deadline),
            remind_every_hours=float(data.get("remind_every_hours") or DEFAULT_REMIND_EVERY_H),
        )

    def approvers_text(self) -> str:
        """``groups safety_mgmt, leadership; roles admin`` (for error messages)."""
        parts = []
        if self.approver_groups:
            parts.append("group " + " or ".join(self.approver_groups))
        if self.approver_roles:
            parts.append("role " + " or ".join(self.approver_roles))
        return " or ".join(parts)


def check_steps(steps: Sequence[Step]) -> list[Step]:
    """Validate a definition's steps (numbered 1..n here); the first problem is an error.

    >>> check_steps([Step(0, "审核", ("safety_mgmt",))])[0].position
    1
    """
    if not steps:
        raise ApprovalError("a definition needs at least one step")
    if len(steps) > MAX_STEPS:
        raise ApprovalError(f"a definition has at most {MAX_STEPS} steps, not {len(steps)}")
    out = []
    for i, step in enumerate(steps, start=1):
        where = f"step {i}"
        name = step.name.strip()
        if not name or len(name) > 100:
            raise ApprovalError(f"{where}: a name of 1 to 100 characters is required")
        groups = tuple(g.strip() for g in step.approver_groups if g.strip())
        for code in groups:
            if len(code) > 64 or not set(code) <= GROUP_CODE_CHARS:
                raise ApprovalError(
                    f"{where}: {code!r} is not a group code (lower-case letters, digits, _ . -)"
                )
        roles = tuple(r.strip() for r in step.approver_roles if r.strip())
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ApprovalError(f"{where}: unknown role {unknown[0]!r}; one of {', '.join(ROLES)}")
        if not groups and not roles:
            raise ApprovalError(f"{where} ({name}): name at least one approver group or role")
        for label, hours in (
            ("deadline hours", step.deadline_hours),
            ("reminder interval hours", step.remind_every_hours),
        ):
            if hours is not None and (not math.isfinite(hours) or hours <= 0):
                raise ApprovalError(f"{where}: {label} must be a positive number, not {hours}")
        out.append(
            Step(
                i,
                name,
                tuple(dict.fromkeys(groups)),
                tuple(dict.fromkeys(roles)),
                step.deadline_hours,
                step.remind_every_hours or DEFAULT_REMIND_EVERY_H,
            )
        )
    return out


@dataclass(frozen=True)
class Transition:
    """Where an action leads: the new state, the step then current (pending only), and
    whether this completes the approval (the kind's ``apply`` runs)."""

    state: str
    step: int | None
    final: bool = False


def transition(
    state: str,
    step: int | None,
    n_steps: int,
    action: str,
    *,
    is_requester: bool,
    is_approver: bool,
    comment: str | None = None,
) -> Transition:
    """The move ``action`` makes from ``state``, or an ApprovalError saying why it may not.

    ``is_approver``: the actor may act on the current step. A requester never approves their
    own request (four eyes), even when they hold the step's group or role.
    """
    if action not in ACTIONS:
        raise ApprovalError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if state in TERMINAL:
        raise ApprovalError(f"the request is already {state}; nothing more can be done with it")
    if action in NEEDS_COMMENT and not (comment or "").strip():
        raise ApprovalError(f"a comment is required to {action} a request (say why)")
    if action in APPROVER_ACTIONS:
        if state != "pending":
            raise ApprovalError(f"only a pending request can be {_past(action)}; it is {state}")
        if is_requester:
            raise ApprovalError("you submitted this request, so you may not decide on it")
        if not is_approver:
            raise NotApprover("you are not an approver of the current step")
        assert step is not None
        if action == "reject":
            return Transition("rejected", None)
        if action == "return":
            return Transition("returned", None)
        if step < n_steps:
            return Transition("pending", step + 1)
        return Transition("approved", None, final=True)
    if not is_requester:
        raise ApprovalError(f"only the requester may {action} this request")
    if action == "resubmit":
        if state != "returned":
            raise ApprovalError(f"only a returned request can be resubmitted; it is {state}")
        return Transition("pending", 1)
    return Transition("withdrawn", None)  # withdraw: pending or returned


def _past(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "return": "returned"}[action]


def step_due(since: datetime, step: Step, overall_due: datetime | None) -> datetime | None:
    """When the current step is late: its own deadline or the request's, whichever is first."""
    own = None if step.deadline_hours is None else since + timedelta(hours=step.deadline_hours)
    candidates = [d for d in (own, overall_due) if d is not None]
    return min(candidates) if candidates else None


def overdue_period(now: datetime, due: datetime | None, every: timedelta) -> int | None:
    """Which reminder period ``now`` falls in after ``due`` (0 from the deadline on, 1 after
    one interval, …), None before it. One reminder per period."""
    if due is None or now < due:
        return None
    return int((now - due) / every)


def resolve_definition(
    candidates: Sequence[tuple[int, int | None, str]], enterprise_id: int | None, level: str
) -> int | None:
    """Pick the most specific definition among ``(id, enterprise_id, level)`` rows of a kind:
    enterprise and level, then enterprise, then instance-wide with level, then instance-wide.

    >>> resolve_definition([(1, None, ""), (2, None, "emergency")], 5, "emergency")
    2
    """
    ranked = {
        (enterprise_id, level): 0,
        (enterprise_id, ""): 1,
        (None, level): 2,
        (None, ""): 3,
    }
    best: tuple[int, int] | None = None
    for def_id, ent, lvl in candidates:
        rank = ranked.get((ent, lvl))
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, def_id)
    return None if best is None else best[1]
