"""The sending side of the upward exchange: the outbox, signing, pushing with back-off (R9).

    pusher = Pusher.from_settings(settings)      # reads [upstream]; key made on first use
    with connect(settings) as conn:
        pusher.enable_feeds(conn)                # from now on alarm events are queued
        result = pusher.push_once(conn)          # PushResult(sent=.., rejected=.., ...)

Items are queued by triggers in the transaction that wrote the data (sql/definitions/
exchange.sql), pushed oldest first, and marked sent only after the receiver answered; the
receiver applies each key at most once, so a push that times out after the upstream stored
it is simply sent again and counted there as a duplicate: no loss, no double counting.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from psycopg.types.json import Jsonb

from hazwatch.errors import ConfigError
from hazwatch.settings import Settings
from workflows.upward_protocol import PATH, Item, encode_batch, sign_headers

log = logging.getLogger("hazwatch.upward")

#: Back-off after failed pushes: 5 s, 10 s, 20 s … at most 10 minutes between tries.
BACKOFF_FIRST_S: Final = 5.0
BACKOFF_MAX_S: Final = 600.0


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures (``attempts`` ≥ 1)."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempts - 1)))


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """This instance's signing key; created (mode 0600) when the file does not exist."""
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def upstream_token(settings: Settings) -> str:
    up = settings.upstream
    if up.token is not None:
        return up.token.get_secret_value()
    path = settings.path(up.token_file)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"[upstream] url is set but there is no token: set [upstream] token or write the "
            f"exchange token issued by the upper instance into {path}"
        ) from None
    if not token:
        raise ConfigError(f"{path} is empty: it must hold the upstream exchange token")
    return token


@dataclass(frozen=True)
class PushResult:
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    pending: int = 0
    error: str | None = None


#: (url, body, headers, timeout) -> (status, response body); replaced only to reach servers
#: differently (a proxy), never in tests, which run a real receiving instance.
Transport = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


def urllib_transport(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured URL)
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


class Pusher:
    def __init__(
        self,
        url: str,
        token: str,
        key: Ed25519PrivateKey,
        origin: dict[str, Any],
        *,
        batch_items: int = 500,
        timeout_s: float = 15.0,
        clock: Callable[[], float] = time.time,
        transport: Transport = urllib_transport,
    ) -> None:
        self.url = url.rstrip("/") + PATH
        self.token = token
        self.key = key
        self.origin = origin
        self.batch_items = batch_items
        self.timeout_s = timeout_s
        self.clock = clock
        self.transport = transport

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Pusher:
        up = settings.upstream
        if not up.url:
            raise ConfigError("[upstream] url is not set: this instance has no upper level")
        return cls(
            up.url,
            upstream_token(settings),
            load_or_create_key(settings.path(up.key_file)),
            {"instance": settings.site.name, "level": settings.site.level},
            batch_items=up.batch_items,
            timeout_s=up.timeout_s,
            **kwargs,
        )

    @staticmethod
    def enable_feeds(conn: psycopg.Connection, enabled: bool = True) -> None:
        conn.execute(
            "UPDATE exchange.feed SET enabled = %s, changed_at = now() WHERE enabled <> %s",
            (enabled, enabled),
        )
        conn.commit()

    def push_once(self, conn: psycopg.Connection) -> PushResult:
        """Push one batch of due items; commit what the answer says. Never raises on I/O."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        with conn.transaction():
            # SKIP LOCKED: two pushers (a restart overlapping the old process) never send the
            # same rows at once; the receiver would discard the copy anyway.
            rows = conn.execute(
                "SELECT id, kind, key, data, attempts FROM exchange.outbox"
                " WHERE sent_at IS NULL AND rejected_at IS NULL AND next_attempt_at <= %s"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, self.batch_items),
            ).fetchall()
            if not rows:
                return PushResult(pending=self.pending(conn))
            items = [Item(r[0], r[1], r[2], r[3]) for r in rows]
            result = self._send(conn, items, {r[0]: r[4] for r in rows}, now)
        return PushResult(
            result.sent, result.duplicates, result.rejected, self.pending(conn), result.error
        )

    def _send(
        self, conn: psycopg.Connection, items: list[Item], attempts: dict[int, int], now: datetime
    ) -> PushResult:
        body = encode_batch(self.origin, items)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            **sign_headers(self.key, body, now=self.clock()),
        }
        try:
            status, answer = self.transport(self.url, body, headers, self.timeout_s)
        except OSError as exc:
            return self._failed(conn, items, attempts, now, f"upstream unreachable: {exc}")
        if status != 200:
            text = answer[:500].decode(errors="replace")
            return self._failed(conn, items, attempts, now, f"upstream answered {status}: {text}")
        try:
            doc = json.loads(answer)
            rejected = {int(r["id"]): str(r["error"]) for r in doc.get("rejected", [])}
            duplicates = len(doc.get("duplicates", []))
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(conn, items, attempts, now, f"unreadable answer: {exc}")
        ok = [i.id for i in items if i.id not in rejected]
        conn.execute(
            "UPDATE exchange.outbox SET sent_at = %s, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ANY(%s)",
            (now, ok),
        )
        for ident, error in rejected.items():
            log.warning("upstream rejected outbox item %s: %s", ident, error)
            conn.execute(
                "UPDATE exchange.outbox SET rejected_at = %s, attempts = attempts + 1,"
                " last_error = %s WHERE id = %s",
                (now, error, ident),
            )
        return PushResult(sent=len(ok), duplicates=duplicates, rejected=len(rejected))

    def _failed(
        self,
        conn: psycopg.Connection,
        items: list[Item],
        attempts: dict[int, int],
        now: datetime,
        error: str,
    ) -> PushResult:
        log.warning("push of %d items failed: %s", len(items), error)
        for item in items:
            tries = attempts[item.id] + 1
            conn.execute(
                "UPDATE exchange.outbox SET attempts = %s, next_attempt_at = %s, last_error = %s"
                " WHERE id = %s",
                (tries, now + backoff(tries), error, item.id),
            )
        return PushResult(error=error)

    @staticmethod
    def pending(conn: psycopg.Connection) -> int:
        row = conn.execute(
            "SELECT count(*) FROM exchange.outbox WHERE sent_at IS NULL AND rejected_at IS NULL"
        ).fetchone()
        return int(row[0]) if row else 0


def retry_rejected(conn: psycopg.Connection, kind: str | None = None) -> int:
    """Queue rejected items again (after their cause was fixed upstream); returns how many."""
    cur = conn.execute(
        "UPDATE exchange.outbox SET rejected_at = NULL, next_attempt_at = now()"
        " WHERE rejected_at IS NOT NULL AND (%s::text IS NULL OR kind = %s)",
        (kind, kind),
    )
    return cur.rowcount


def outbox_status(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT f.kind, f.enabled,"
        " count(o.id) FILTER (WHERE o.sent_at IS NULL AND o.rejected_at IS NULL),"
        " count(o.id) FILTER (WHERE o.sent_at IS NOT NULL),"
        " count(o.id) FILTER (WHERE o.rejected_at IS NOT NULL),"
        " min(o.created_at) FILTER (WHERE o.sent_at IS NULL AND o.rejected_at IS NULL),"
        " (array_agg(o.last_error ORDER BY o.id DESC)"
        "   FILTER (WHERE o.last_error IS NOT NULL))[1]"
        " FROM exchange.feed f LEFT JOIN exchange.outbox o ON o.kind = f.kind"
        " GROUP BY f.kind, f.enabled ORDER BY f.kind"
    ).fetchall()
    keys = ("kind", "enabled", "pending", "sent", "rejected", "oldest_pending", "last_error")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def enqueue(conn: psycopg.Connection, kind: str, key: str, data: dict[str, Any]) -> bool:
    """Queue an item of an enabled feed from Python (domains whose data has no trigger, e.g.
    reviewed video alarms); False when the feed is disabled or the key was queued before."""
    cur = conn.execute(
        "INSERT INTO exchange.outbox (kind, key, data)"
        " SELECT %s, %s, %s WHERE EXISTS"
        " (SELECT 1 FROM exchange.feed WHERE kind = %s AND enabled)"
        " ON CONFLICT (kind, key) DO NOTHING",
        (kind, key, Jsonb(data), kind),
    )
    return cur.rowcount == 1
