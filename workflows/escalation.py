"""Escalation policies (A13) and the pure decision of whom to notify next.

    policy = Policy.model_validate({"until": "ack", "repeat_s": 1800, "tiers": [
        {"after_s": 0, "groups": [operators]},
        {"after_s": 600, "groups": [technicians]},
        {"after_s": 1800, "groups": [management], "when": "always"},
        {"after_s": 3600, "groups": [leadership]}]})
    decision = decide(policy, progress, now, in_hours=True)
    decision.tiers          # tier indexes to notify now
    decision.repeat         # re-send to the highest tier reached (repeat interval)

Tiers are reached ``after_s`` seconds after the alert fired while it is unacknowledged
(``until = "ack"``) or unresolved (``until = "resolve"``). A tier with ``when`` =
``business_hours`` / ``outside_business_hours`` is passed over silently at other times (e.g.
the plant manager by day, the duty leader by night), and the next tier keeps its own time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.silences import Matcher, matches_all


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_s: int = Field(ge=0)
    groups: list[int] = Field(default_factory=list)
    users: list[int] = Field(default_factory=list)
    #: None: each user's preferred channels; else kinds and/or channel codes (robots).
    channels: list[str] | None = None
    when: Literal["always", "business_hours", "outside_business_hours"] = "always"

    @model_validator(mode="after")
    def _someone(self) -> Tier:
        if not (self.groups or self.users or self.channels):
            raise ValueError("a tier needs groups, users or channels to notify")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: Literal["ack", "resolve"] = "ack"
    repeat_s: int | None = Field(None, ge=60)
    priorities: list[Literal["emergency", "high", "low"]] = Field(default_factory=list)
    levels: list[Literal["warning", "alarm", "danger"]] = Field(default_factory=list)
    matchers: list[Matcher] = Field(default_factory=list)
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        for i, (a, b) in enumerate(itertools.pairwise(self.tiers), start=1):
            if b.after_s <= a.after_s:
                raise ValueError(
                    f"tier {i + 1} after_s {b.after_s} must be later than tier {i}'s {a.after_s}"
                )
        return self

    def applies(self, priority: str, level: str | None, labels: Mapping[str, str]) -> bool:
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.levels or (level or "") in self.levels)
            and matches_all(self.matchers, labels)
        )


@dataclass(frozen=True)
class Progress:
    """Where an alert stands: when it fired, the highest tier passed (-1: none), when the last
    message went, and whether escalation has stopped (acknowledged / resolved / closed)."""

    fired_at: datetime
    tier: int
    notified_at: datetime | None
    acked: bool
    resolved: bool


@dataclass(frozen=True)
class Decision:
    tiers: tuple[int, ...] = ()  # to notify now
    passed: int = -1  # the new highest tier passed
    repeat: bool = False
    next_at: datetime | None = None  # when to look again


def stopped(policy: Policy, p: Progress) -> bool:
    return p.resolved or (policy.until == "ack" and p.acked)


def _applicable(tier: Tier, in_hours: bool) -> bool:
    return (
        tier.when == "always"
        or (tier.when == "business_hours" and in_hours)
        or (tier.when == "outside_business_hours" and not in_hours)
    )


def decide(policy: Policy, p: Progress, now: datetime, in_hours: bool = True) -> Decision:
    """Whom to notify at ``now``: tiers newly reached, or a repeat of the highest one."""
    if stopped(policy, p):
        return Decision(passed=p.tier)
    elapsed = now - p.fired_at
    reached = [
        i
        for i, t in enumerate(policy.tiers)
        if i > p.tier and elapsed >= timedelta(seconds=t.after_s)
    ]
    notify = tuple(i for i in reached if _applicable(policy.tiers[i], in_hours))
    passed = max(reached, default=p.tier)
    later = [
        p.fired_at + timedelta(seconds=t.after_s) for i, t in enumerate(policy.tiers) if i > passed
    ]
    repeat = False
    if not notify and policy.repeat_s and p.notified_at is not None and passed >= 0:
        due = p.notified_at + timedelta(seconds=policy.repeat_s)
        if now >= due:
            repeat = True
            later.append(now + timedelta(seconds=policy.repeat_s))
        else:
            later.append(due)
    elif notify and policy.repeat_s:
        later.append(now + timedelta(seconds=policy.repeat_s))
    return Decision(notify, passed, repeat, min(later, default=None))


def pick_policy(
    policies: Sequence[Policy], priority: str, level: str | None, labels: Mapping[str, str]
) -> int | None:
    """Index of the first policy that applies (the caller orders them by position)."""
    for i, pol in enumerate(policies):
        if pol.applies(priority, level, labels):
            return i
    return None


def repeat_tier(policy: Policy, p: Progress, in_hours: bool) -> int | None:
    """The tier a repeat goes to: the highest reached one that applies at this time."""
    for i in range(p.tier, -1, -1):
        if _applicable(policy.tiers[i], in_hours):
            return i
    return None
