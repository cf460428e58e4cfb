"""Real receivers for the alerting tests: an SMTP server (aiosmtpd) and an HTTP receiver
(http.server) on free ports of 127.0.0.1, each recording what arrived and able to fail on
demand (outage tests). Also small helpers to make users, groups and channels."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from aiosmtpd.controller import Controller

from hazwatch import registers
from hazwatch.auth import hash_password
from hazwatch.registers import Actor
from tests.conftest import find_free_port

TEST = Actor(None, "test")
_HASH: list[str] = []


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage


class _Collector:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a fixed free port; ``stop()`` and ``start()`` make an outage."""

    def __init__(self) -> None:
        self.port = find_free_port()
        self.collector = _Collector()
        self._controller: Controller | None = None

    @property
    def mails(self) -> list[Mail]:
        return self.collector.mails

    def start(self) -> None:
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class HttpReceiver:
    """Records POSTs; answers ``status`` with ``answer`` (a JSON value) for every path."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    answer: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok", "code": 0})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def for_path(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    rec = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            status = rec.status
            if status < 300:
                # Only accepted requests count as delivered; refused ones are what a real
                # robot would drop too.
                rec.requests.append(
                    Request(
                        parts.path,
                        {k: v[0] for k, v in parse_qs(parts.query).items()},
                        dict(self.headers.items()),
                        raw,
                    )
                )
            body = json.dumps(rec.answer if status < 300 else {"error": "down"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def make_user(
    conn: psycopg.Connection,
    role: str = "operator",
    email: str | None = None,
    phone: str | None = None,
    enterprise_id: int | None = None,
) -> int:
    if not _HASH:
        _HASH.append(hash_password("correct-horse-9"))
    values: dict[str, Any] = {
        "name": f"{role}-{uuid.uuid4().hex[:8]}",
        "role": role,
        "password_hash": _HASH[0],
        "email": email,
        "phone": phone,
    }
    if enterprise_id is not None:
        values["enterprise_id"] = enterprise_id
    return registers.insert(conn, TEST, "app_user", values)


def make_group(conn: psycopg.Connection, users: list[int], enterprise_id: int | None = None) -> int:
    gid = registers.insert(
        conn,
        TEST,
        "user_group",
        {"code": f"g-{uuid.uuid4().hex[:8]}", "name": "测试组", "enterprise_id": enterprise_id},
    )
    for uid in users:
        registers.insert(conn, TEST, "user_group_member", {"group_id": gid, "user_id": uid})
    return gid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
