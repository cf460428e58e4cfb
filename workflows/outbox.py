"""Pure outbox policy: retry back-off, when a grouped message may go, and digests.

backoff(3)                                    # -> timedelta(seconds=120)
group_release(now, last_sent_at, GROUPING)    # when a new message of a group may go out
digest([row1, row2, ...])                     # one message standing for several
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.channels.base import Message

SEVERITY_RANK = {"info": 0, "resolved": 1, "warning": 2, "alarm": 3, "danger": 4}


@dataclass(frozen=True)
class Retry:
    """Exponential back-off: first retry after ``base``, doubling, capped at ``cap``."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    #: After this many failed attempts a message is 'dead': kept, shown in the UI, not retried.
    max_attempts: int = 30


@dataclass(frozen=True)
class Grouping:
    """Messages sharing a group key and destination go at most once per ``interval``.

    The first one goes at once (``wait`` = 0: an alarm is never held back to collect more);
    later ones within ``interval`` of the last send are held and go together as one digest.
    """

    wait: timedelta = timedelta(0)
    interval: timedelta = timedelta(seconds=60)


RETRY = Retry()
GROUPING = Grouping()


def backoff(attempts: int, retry: Retry = RETRY) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones (1 -> base)."""
    if attempts < 1:
        return timedelta(0)
    factor = 2 ** min(attempts - 1, 30)
    return min(retry.base * factor, retry.cap)


def group_release(
    now: datetime,
    last_sent_at: datetime | None,
    pending_release: datetime | None,
    grouping: Grouping = GROUPING,
) -> datetime:
    """When a new message of a group may go: with the group's pending ones, else after wait.

    ``last_sent_at``: the group's last delivery to this destination; ``pending_release``: the
    release time of messages of the group still waiting (the new one joins them).
    """
    if pending_release is not None:
        return pending_release
    release = now + grouping.wait
    if last_sent_at is not None:
        release = max(release, last_sent_at + grouping.interval)
    return release


def digest(messages: Sequence[Message]) -> Message:
    """One message for several of one group: newest subject, every item listed, worst severity.

    The digest keeps the id of the first (oldest) message, the one whose attempt it is.
    """
    if not messages:
        raise ValueError("digest of no messages")
    if len(messages) == 1:
        return messages[0]
    first, last = messages[0], messages[-1]
    lines = []
    for m in messages:
        stamp = m.created_at.strftime("%H:%M:%S") if m.created_at else ""
        lines.append(f"- {stamp} {m.subject}: {m.body}".strip())
    worst = max(messages, key=lambda m: SEVERITY_RANK.get(m.severity, 0)).severity
    return Message(
        id=first.id,
        recipient=first.recipient,
        subject=f"{last.subject} (+{len(messages) - 1})",
        body=f"{len(messages)} 条消息 / messages:\n" + "\n".join(lines),
        severity=worst,
        link=last.link,
        created_at=first.created_at,
        group_key=first.group_key,
        count=len(messages),
    )
