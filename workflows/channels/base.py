"""What every transport receives and how it says that a message did not go out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hazwatch.errors import HazwatchError


class DeliveryError(HazwatchError):
    """The channel refused the message or could not be reached; the outbox retries it."""


@dataclass(frozen=True)
class Message:
    """One message to one destination.

    ``id`` is stable across retries (``hazwatch-outbox-<id>``): it is the e-mail Message-ID, the
    webhook's ``X-Hazwatch-Id`` and the SMS gateway's ``id``, so receivers that keep ids can
    drop a repeat after a crash (docs/alerting.md, "Delivery").
    """

    id: str
    recipient: str
    subject: str
    body: str
    severity: str = "info"
    link: str | None = None
    created_at: datetime | None = None
    group_key: str | None = None
    count: int = 1

    def text(self) -> str:
        """Subject, body and link as plain text (robots, SMS)."""
        parts = [self.subject, self.body]
        if self.link:
            parts.append(self.link)
        return "\n".join(p for p in parts if p)


class Transport(Protocol):
    def send(self, message: Message) -> None: ...


def require(config: Mapping[str, Any], field: str, kind: str) -> Any:
    """A required config field, or an error that names it."""
    value = config.get(field)
    if value in (None, ""):
        raise DeliveryError(f"{kind} channel: config field {field!r} is required")
    return value


SEVERITY_ZH = {
    "info": "通知",
    "warning": "预警",
    "alarm": "报警",
    "danger": "危险",
    "resolved": "已恢复",
}
