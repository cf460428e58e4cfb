"""SMS through an HTTP gateway, by a small documented contract (docs/alerting.md, "SMS").

The gateway (the operator's own service, or an adapter in front of a carrier's signed API)
receives ``POST <url>`` with ``Content-Type: application/json`` and, when the channel has a
secret, ``Authorization: Bearer <secret>``::

    {"id": "hazwatch-outbox-42", "to": "+8613800000000", "text": "【hazwatch】...", "sign": "..."}

Any 2xx answer means accepted; anything else (or no answer) is retried. ``id`` is stable across
retries, so a gateway that remembers ids sends a text at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.channels.base import SEVERITY_ZH, Message
from workflows.channels.web import post_json, timeout_setting, url_setting

#: Long texts are split by carriers into several billed parts; alerts stay short.
MAX_CHARS = 300


@dataclass(frozen=True)
class SmsGateway:
    url: str
    token: str | None = None
    signature: str = "hazwatch"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> SmsGateway:
        return cls(
            url=url_setting(config, "sms"),
            token=secret,
            signature=str(config.get("signature", "hazwatch")),
            timeout=timeout_setting(config),
        )

    def payload(self, message: Message) -> dict[str, Any]:
        label = SEVERITY_ZH.get(message.severity, message.severity)
        text = f"【{self.signature}】[{label}] {message.subject}: {message.body}"
        if len(text) > MAX_CHARS:
            text = text[: MAX_CHARS - 1] + "…"
        return {"id": message.id, "to": message.recipient, "text": text, "sign": self.signature}

    def send(self, message: Message) -> None:
        headers = {"X-Hazwatch-Id": message.id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        post_json(self.url, self.payload(message), headers, self.timeout)
