"""A generic JSON webhook, optionally signed with HMAC-SHA256.

Body::

    {"id": "hazwatch-outbox-42", "subject": "...", "body": "...", "severity": "alarm",
     "link": "...", "group_key": "alert:7", "count": 1, "created_at": "2026-...+08:00"}

Headers: ``X-Hazwatch-Id`` (stable across retries: receivers deduplicate on it),
``X-Hazwatch-Timestamp`` (Unix seconds) and, with a secret,
``X-Hazwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.channels.base import DeliveryError, Message
from workflows.channels.web import post_json, timeout_setting, url_setting


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class GenericWebhook:
    url: str
    secret: str | None = None
    timeout: float = 10.0
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_config(cls, config: dict[str, Any], secret: str | None) -> GenericWebhook:
        return cls(
            url=url_setting(config, "webhook"),
            secret=secret,
            timeout=timeout_setting(config),
        )

    def payload(self, message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "severity": message.severity,
            "link": message.link,
            "group_key": message.group_key,
            "count": message.count,
            "created_at": message.created_at.isoformat() if message.created_at else None,
        }

    def send(self, message: Message) -> None:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        ts = str(int(self.clock()))
        headers = {"X-Hazwatch-Id": message.id, "X-Hazwatch-Timestamp": ts}
        if self.secret:
            headers["X-Hazwatch-Signature"] = signature(self.secret, ts, body)
        status, _ = post_json(self.url, body, headers, self.timeout)
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered HTTP {status}")
