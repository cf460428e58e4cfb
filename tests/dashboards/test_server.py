"""The web server: health, security headers and JSON errors (in process, Flask's test client),
then ``hazwatch serve`` as a process: SIGTERM flushes the writer; a database that is down
gives 503s, not hangs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask

from dashboards.server import SECURITY_HEADERS, close_server, create_server
from hazwatch import tokens
from hazwatch.registers import Actor
from hazwatch.settings import load_settings
from tests.conftest import find_free_port, make_enterprise

TEST = Actor(None, "test")


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_server(load_settings(database_url=db_url, home=tmp_path))
    yield app
    close_server(app)


def test_health_reports_database_writer_and_line_counters(app: Flask) -> None:
    resp = app.test_client().get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["name"], body["status"], body["checks"]) == (
        "hazwatch",
        "pass",
        [{"name": "database", "status": "pass"}],
    )
    assert {"rows_written", "spool_depth", "db_up", "last_error"} <= set(body["writer"])
    assert body["line_protocol"]["points_written"] == 0
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers[name] == value
    assert resp.headers["Cache-Control"] == "no-store"


def test_errors_are_json(app: Flask) -> None:
    def boom() -> str:
        raise RuntimeError("bug")

    app.add_url_rule("/boom", "boom", boom)
    client = app.test_client()
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and resp.get_json()["code"] == "not found"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp = client.get("/api/v2/write")
    assert resp.status_code == 405 and resp.get_json()["code"] == "method not allowed"
    assert "POST" in resp.headers["Allow"]
    resp = client.get("/boom")
    assert resp.status_code == 500
    assert resp.get_json() == {"code": "internal error", "message": "internal error (see the "
                               "server log)"}  # fmt: skip


# -- the process --------------------------------------------------------------------------------


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    full.update(env)
    exe = Path(sys.executable).parent / "hazwatch"
    return subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _request(url: str, body: bytes | None = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310  (127.0.0.1)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            data, status, hdrs = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        data, status, hdrs = exc.read(), exc.code, exc.headers
    return status, (json.loads(data) if data else None, dict(hdrs))


def _wait_listening(proc: subprocess.Popen[str], url: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            _request(url + "/ping")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err
    return err


def test_sigterm_writes_what_the_writer_holds(
    db_url: str, tmp_path: Path, conn: psycopg.Connection
) -> None:
    _, name = make_enterprise(conn, "Serve test")
    token = tokens.create_token(conn, TEST, f"serve-{uuid.uuid4().hex[:8]}", "ingest", name)
    port = find_free_port()
    # A flush interval far beyond the test: the row stays in the writer until shutdown.
    proc = _start(
        {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path),
         "HAZWATCH_INGEST__FLUSH_INTERVAL_S": "60"},
        port,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(proc, url)
        status, _ = _request(f"{url}/api/v2/write?precision=s", b"SIG-1 value=7 1700000000", token)
        assert status == 204
        time.sleep(0.5)
        query = (
            "SELECT s.value FROM ts.sample s JOIN registry.tag t ON t.id = s.tag_id"
            " JOIN registry.enterprise e ON e.id = t.enterprise_id"
            " WHERE e.name = %s AND t.name = 'SIG-1'"
        )
        assert conn.execute(query, (name,)).fetchall() == []  # still buffered
    finally:
        err = _stop(proc)
    assert conn.execute(query, (name,)).fetchall() == [(7.0,)]
    assert "stopped: 1 points, 1 samples, 0 bad lines; writer 1 rows written, 0 spooled" in err


def test_database_down_gives_503_not_a_hang(tmp_path: Path) -> None:
    port, dead = find_free_port(), find_free_port()
    proc = _start(
        {"HAZWATCH_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{dead}/none",
         "HAZWATCH_HOME": str(tmp_path), "HAZWATCH_POOL__TIMEOUT_S": "1"},
        port,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(proc, url)
        status, (body, _) = _request(url + "/health")
        assert (status, body["status"], body["checks"][0]["status"]) == (503, "fail", "fail")
        started = time.monotonic()
        status, (body, headers) = _request(f"{url}/api/v2/write", b"m f=1", "hzw_" + "x" * 43)
        assert (status, body["code"], headers["Retry-After"]) == (503, "unavailable", "5")
        assert time.monotonic() - started < 5
    finally:
        _stop(proc)


def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    import socket

    from tests.conftest import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("serve", "--port", str(port), env={
            "HAZWATCH_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{find_free_port()}/none",
            "HAZWATCH_HOME": str(tmp_path)})  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
