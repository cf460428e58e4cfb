"""Fixtures of the upward-exchange tests (R9, R7): two real instances on 127.0.0.1. The
enterprise instance is the session database with an in-process pusher; the province instance
is a second database behind a real ``hazwatch serve`` that a test can stop and restart.

Used by test_upward, test_alert_feed, test_hazard_feeds and test_contractor_summary_upward::

    def test_x(conn, province: Instance, link: Link) -> None:
        drain(conn, link.pusher)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest

from hazwatch import registers
from hazwatch.db.scratch import migrated_database
from hazwatch.registers import Actor
from hazwatch.settings import Settings, load_settings
from hazwatch.tokens import create_token
from tests.conftest import find_free_port, run_cli
from workflows.upward import Pusher

ACTOR = Actor(None, "test")


class Link(NamedTuple):
    """What the ``link`` fixture sets up: the enterprise's settings and pusher, and the
    enterprise known at both levels (its code, name and id in the enterprise database)."""

    settings: Settings
    pusher: Pusher
    code: str
    name: str
    ent: int


class Instance:
    """``hazwatch serve`` on a fixed port, restartable (the upstream outage)."""

    def __init__(self, db_url: str, home: Path) -> None:
        self.db_url, self.home, self.port = db_url, home, find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
        env.update({"HAZWATCH_DATABASE_URL": self.db_url, "HAZWATCH_HOME": str(self.home)})
        exe = Path(sys.executable).parent / "hazwatch"
        with (self.home / "serve.log").open("a") as log:
            self.proc = subprocess.Popen(
                [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5):  # noqa: S310
                    return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.home / "serve.log").read_text()) from None
                time.sleep(0.2)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture(scope="module")
def province(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with migrated_database(admin_url, "hw_province") as url:
        inst = Instance(url, tmp_path_factory.mktemp("province"))
        inst.start()
        try:
            yield inst
        finally:
            if inst.proc is not None:
                inst.stop()
        log = (inst.home / "serve.log").read_text()
        assert "Traceback" not in log, log


def register_enterprise(conn: psycopg.Connection, code: str, name: str) -> int:
    """The enterprise `code` in 太原市 (at either level); -> its id there."""
    region = registers.resolve(conn, "region", "太原市")
    return registers.insert(
        conn, ACTOR, "enterprise", {"code": code, "name": name, "region_id": region}
    )


@pytest.fixture
def link(conn: psycopg.Connection, province: Instance, tmp_path: Path) -> Iterator[Link]:
    """One enterprise known at both levels, an exchange token + trusted key at the province,
    and a pusher at the enterprise."""
    code = "91140100" + uuid.uuid4().hex[:10].upper()
    name = f"上行测试企业-{code[-6:]}"
    ent = register_enterprise(conn, code, name)
    with psycopg.connect(province.db_url, autocommit=True) as up:
        register_enterprise(up, code, name)
        token = create_token(up, ACTOR, f"ent-{code}", "exchange", enterprise=code)
    settings = load_settings(
        home=tmp_path,
        upstream={"url": province.url, "token": token},
    )
    pusher = Pusher.from_settings(settings)
    key = run_cli("exchange", "key", env={"HAZWATCH_HOME": str(tmp_path)})
    assert key.returncode == 0, key.stderr
    trusted = run_cli(
        "exchange", "trust", "--token", f"ent-{code}", "--public-key", key.stdout.strip(),
        env={"HAZWATCH_DATABASE_URL": province.db_url},
    )  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    pusher.enable_feeds(conn)
    yield Link(settings, pusher, code, name, ent)
    pusher.enable_feeds(conn, False)


def drain(conn: psycopg.Connection, pusher: Pusher) -> int:
    """Push until nothing is left to send; -> how many items were accepted."""
    sent = 0
    while True:
        res = pusher.push_once(conn)
        assert res.error is None, res.error
        sent += res.sent
        if res.sent + res.rejected == 0:
            return sent
