"""The InfluxDB-compatible write API, end to end: a real ``hazwatch serve`` on a free port,
tokens made by the real ``hazwatch token create``, the reference client ``influxdb-client``
and plain ``urllib`` as writers, the session database as the place to look."""

from __future__ import annotations

import base64
import gzip
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from tests.conftest import find_free_port, make_enterprise, run_cli


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    env: dict[str, str]


def _env(db_url: str, home: Path) -> dict[str, str]:
    return {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(home)}


def _http(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body (None when empty) of one request."""
    # Only http://127.0.0.1 URLs of the test server reach here.
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            status, hdrs, data = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, hdrs, data = exc.code, dict(exc.headers), exc.read()
    return status, hdrs, json.loads(data) if data else None


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy (the writer commits every 0.5 s)."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > end:
            return got
        time.sleep(0.1)


@pytest.fixture(scope="module")
def enterprise(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return make_enterprise(conn, "Line protocol test")[1]


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("line-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    env.update(_env(db_url, home))
    port = find_free_port()
    exe = Path(sys.executable).parent / "hazwatch"
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ok = wait_until(lambda: _up(url) or proc.poll() is not None, timeout=30)
        assert ok and proc.poll() is None, proc.communicate(timeout=10)
        yield Server(url, proc, _env(db_url, home))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped:" in err


def _up(url: str) -> bool:
    try:
        return _http("GET", url + "/health")[0] == 200
    except OSError:
        return False


def make_token(server: Server, role: str = "ingest", enterprise: str | None = None) -> str:
    """A token made by the real CLI; the issue requires it on the last line of stdout."""
    name = f"test-{role}-{uuid.uuid4().hex[:8]}"
    args = ["token", "create", "--name", name, "--role", role]
    if enterprise:
        args += ["--enterprise", enterprise]
    if role == "regulator":
        args += ["--region", "太原市"]
    r = run_cli(*args, env=server.env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("hzw_") and len(token) == 4 + 43
    return token


@pytest.fixture(scope="module")
def token(server: Server, enterprise: str) -> str:
    return make_token(server, "ingest", enterprise)


def samples(conn: psycopg.Connection, enterprise: str, prefix: str) -> list[tuple[Any, ...]]:
    """(tag name, time, value, quality) of the enterprise's tags starting with ``prefix``."""
    return conn.execute(
        "SELECT t.name, s.time, s.value, s.quality FROM ts.sample s"
        " JOIN registry.tag t ON t.id = s.tag_id JOIN registry.enterprise e"
        " ON e.id = t.enterprise_id WHERE e.name = %s AND t.name LIKE %s ORDER BY t.name, s.time",
        (enterprise, prefix + "%"),
    ).fetchall()


def quarantined(conn: psycopg.Connection, origin: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT position, reason, raw FROM ingest.quarantine WHERE source = 'line'"
        " AND origin = %s ORDER BY id",
        (origin,),
    ).fetchall()


def token_name(conn: psycopg.Connection, token: str) -> str:
    from hazwatch.tokens import token_hash

    row = conn.execute(
        "SELECT name FROM auth.api_token WHERE token_sha256 = %s", (token_hash(token),)
    ).fetchone()
    assert row is not None
    return str(row[0])


# -- the reference client -------------------------------------------------------------------------


T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("precision", "stamp", "step", "first", "second"),
    [
        (WritePrecision.S, 1_700_000_000, 1, T0, T0 + timedelta(seconds=1)),
        (WritePrecision.MS, 1_700_000_000_123, 1, T0 + timedelta(milliseconds=123),
         T0 + timedelta(milliseconds=124)),
        # nanoseconds are floored to the microsecond (PostgreSQL's resolution)
        (WritePrecision.NS, 1_700_000_000_123_456_789, 1_000, T0 + timedelta(microseconds=123_456),
         T0 + timedelta(microseconds=123_457)),
    ],
)  # fmt: skip
def test_influxdb_client_writes_with_each_precision(
    server: Server,
    token: str,
    enterprise: str,
    conn: psycopg.Connection,
    precision: str,
    stamp: int,
    step: int,
    first: datetime,
    second: datetime,
) -> None:
    base = f"LP-{precision}-"
    points = [
        Point("pump").tag("tag", base + "P101").field("vel", 2.5).field("run", True)
        .time(stamp, precision),
        Point("pump").tag("tag", base + "P101").field("vel", 3.5).field("run", False)
        .time(stamp + step, precision),
        Point(base + "FIC").field("value", 42).time(stamp, precision),
    ]  # fmt: skip
    with InfluxDBClient(url=server.url, token=token, org="plant") as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="hazwatch", record=points, write_precision=precision
        )
    want = [
        (base + "FIC", first, 42.0, 192),
        (base + "P101.run", first, 1.0, 192),
        (base + "P101.run", second, 0.0, 192),
        (base + "P101.vel", first, 2.5, 192),
        (base + "P101.vel", second, 3.5, 192),
    ]
    got = wait_until(lambda: samples(conn, enterprise, base) == want)
    assert got, samples(conn, enterprise, base)
    tags = conn.execute(
        "SELECT name, source, source_address FROM registry.tag WHERE name LIKE %s ORDER BY name",
        (base + "%",),
    ).fetchall()
    assert tags[0] == (base + "FIC", "line", base + "FIC value")
    assert tags[1] == (base + "P101.run", "line", f"pump,tag={base}P101 run")


def test_gzip_body_from_the_client(
    server: Server, token: str, enterprise: str, conn: psycopg.Connection
) -> None:
    lines = [f"gz,tag=LP-GZ value={i}.5 {1_700_000_000 + i}" for i in range(200)]
    with InfluxDBClient(url=server.url, token=token, org="plant", enable_gzip=True) as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="b", record=lines, write_precision=WritePrecision.S
        )
    rows = wait_until(lambda: len(samples(conn, enterprise, "LP-GZ")) == 200 and
                      samples(conn, enterprise, "LP-GZ"))  # fmt: skip
    assert rows and rows[0][1:3] == (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 0.5)
    # and by hand, to be sure the body really was compressed
    body = gzip.compress(b"gz,tag=LP-GZ2 value=1 1700000000\n")
    status, _, _ = _http(
        "POST",
        f"{server.url}/api/v2/write?org=o&bucket=b&precision=s",
        body,
        {"Authorization": f"Token {token}", "Content-Encoding": "gzip"},
    )
    assert status == 204
    assert wait_until(lambda: samples(conn, enterprise, "LP-GZ2"))


# -- v1 -------------------------------------------------------------------------------------------


def test_v1_write_with_every_way_of_giving_the_token(
    server: Server, token: str, enterprise: str, conn: psycopg.Connection
) -> None:
    basic = base64.b64encode(f"telegraf:{token}".encode()).decode()
    ways = [
        ("basic", "", {"Authorization": f"Basic {basic}"}),
        ("params", f"&u=telegraf&p={token}", {}),
        ("header", "", {"Authorization": f"Token {token}"}),
    ]
    for i, (way, query, headers) in enumerate(ways):
        body = f"v1,tag=LP-V1-{way} value={i} 1700000000{i}00\n".encode()
        status, _, payload = _http(
            "POST", f"{server.url}/write?db=telegraf&precision=ms{query}", body, headers
        )
        assert (status, payload) == (204, None), way
    rows = wait_until(lambda: len(samples(conn, enterprise, "LP-V1-")) == 3 and
                      samples(conn, enterprise, "LP-V1-"))  # fmt: skip
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("LP-V1-basic", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 0.0),
        ("LP-V1-header", datetime(2023, 11, 14, 22, 13, 20, 200000, tzinfo=UTC), 2.0),
        ("LP-V1-params", datetime(2023, 11, 14, 22, 13, 20, 100000, tzinfo=UTC), 1.0),
    ]


def test_v1_refusals_use_its_error_shape(server: Server) -> None:
    status, _, payload = _http("POST", f"{server.url}/write?db=x", b"m f=1")
    assert status == 401 and set(payload) == {"error"}
    status, _, payload = _http("POST", f"{server.url}/write?db=x&precision=d&p=x", b"m f=1")
    assert (status, payload) == (400, {"error": "invalid precision 'd'"})


# -- partial writes -------------------------------------------------------------------------------


def test_partial_write_keeps_good_lines_and_quarantines_bad_ones(
    server: Server, token: str, enterprise: str, conn: psycopg.Connection
) -> None:
    body = (
        b"pw,tag=LP-PW value=1 1700000000\n"
        b"pw,tag=LP-PW value= 1700000001\n"
        b"# a comment\n"
        b"pw,tag=LP-PW value=3 1700000003\n"
        b"pw,tag=LP-PW\n"
        b'pw,tag=LP-PW-S value=4,status="running" 1700000004\n'
    )
    status, _, payload = _http(
        "POST",
        f"{server.url}/api/v2/write?org=o&bucket=b&precision=s",
        body,
        {"Authorization": f"Token {token}"},
    )
    assert status == 400
    assert payload == {
        "code": "invalid",
        "message": "partial write error (3 written): "
        "unable to parse 'pw,tag=LP-PW value= 1700000001': missing field value\n"
        "unable to parse 'pw,tag=LP-PW': missing fields",
    }
    rows = wait_until(lambda: len(samples(conn, enterprise, "LP-PW")) == 3 and
                      samples(conn, enterprise, "LP-PW"))  # fmt: skip
    assert [(r[0], r[2]) for r in rows] == [("LP-PW", 1.0), ("LP-PW", 3.0), ("LP-PW-S", 4.0)]
    origin = token_name(conn, token)
    bad = wait_until(lambda: len(quarantined(conn, origin)) >= 3 and quarantined(conn, origin))
    assert bad[:2] == [
        ("2", "missing field value", "pw,tag=LP-PW value= 1700000001"),
        ("5", "missing fields", "pw,tag=LP-PW"),
    ]
    # the string field is not a syntax error: kept in the quarantine with its reason
    assert bad[2][0] == "6" and bad[2][1].startswith("string field 'status' not stored")

    # The reference client reports the same as an error.
    with (
        InfluxDBClient(url=server.url, token=token, org="o") as client,
        pytest.raises(ApiException) as info,
    ):
        client.write_api(write_options=SYNCHRONOUS).write(bucket="b", record="pw,tag=LP-PW f=")
    assert info.value.status == 400
    assert json.loads(info.value.body) == {
        "code": "invalid",
        "message": "unable to parse 'pw,tag=LP-PW f=': missing field value",
    }


def test_many_bad_lines_v1(
    server: Server, token: str, enterprise: str, conn: psycopg.Connection
) -> None:
    body = "\n".join(["many,tag=LP-MANY value=1 1700000000"] + [f"bad{i}" for i in range(25)])
    status, _, payload = _http(
        "POST", f"{server.url}/write?db=d&precision=s", body.encode(),
        {"Authorization": f"Token {token}"},
    )  # fmt: skip
    assert status == 400 and set(payload) == {"error"}
    message = payload["error"]
    assert message.startswith("partial write: unable to parse 'bad0': missing fields\n")
    assert message.endswith("\n... and 5 more lines (see ingest.quarantine) dropped=25")
    assert message.count("unable to parse") == 20
    origin = token_name(conn, token)
    assert wait_until(lambda: samples(conn, enterprise, "LP-MANY"))
    positions = wait_until(
        lambda: {r[0] for r in quarantined(conn, origin) if r[2].startswith("bad")} >=
        {str(i) for i in range(2, 27)}
    )  # fmt: skip
    assert positions


def test_empty_body_and_bad_precision(server: Server, token: str) -> None:
    auth = {"Authorization": f"Token {token}"}
    url = f"{server.url}/api/v2/write?org=o&bucket=b"
    assert _http("POST", url, b"# nothing\n", auth)[2] == {
        "code": "invalid",
        "message": "writing requires points",
    }
    status, _, payload = _http("POST", url + "&precision=m", b"m f=1", auth)
    assert (status, payload["code"]) == (400, "invalid")
    assert "valid precision units are ns, us, ms, and s" in payload["message"]


# -- who may write --------------------------------------------------------------------------------


def test_no_token_bad_token_wrong_role(server: Server, enterprise: str) -> None:
    url = f"{server.url}/api/v2/write?org=o&bucket=b"
    status, _, payload = _http("POST", url, b"m f=1")
    assert (status, payload["code"]) == (401, "unauthorized")
    status, _, payload = _http("POST", url, b"m f=1", {"Authorization": "Token hzw_nope"})
    assert (status, payload["code"]) == (401, "unauthorized")
    regulator = make_token(server, "regulator")
    status, _, payload = _http("POST", url, b"m f=1", {"Authorization": f"Token {regulator}"})
    assert (status, payload["code"]) == (403, "forbidden")
    assert "writing needs role ingest" in payload["message"]


def test_revoked_token_is_refused(
    server: Server, enterprise: str, conn: psycopg.Connection
) -> None:
    token = make_token(server, "ingest", enterprise)
    url = f"{server.url}/api/v2/write?org=o&bucket=b&precision=s"
    auth = {"Authorization": f"Token {token}"}
    assert _http("POST", url, b"rv,tag=LP-RV value=1 1700000000", auth)[0] == 204
    name = token_name(conn, token)
    used = conn.execute(
        "SELECT last_used_at FROM auth.api_token WHERE name = %s", (name,)
    ).fetchone()
    assert used is not None and used[0] is not None  # stamped on first use
    r = run_cli("token", "revoke", name, env=server.env)
    assert r.returncode == 0, r.stderr
    status, _, payload = _http("POST", url, b"rv,tag=LP-RV value=2 1700000001", auth)
    assert (status, payload["code"]) == (401, "unauthorized")


def test_token_without_enterprise_and_no_site_enterprise(server: Server) -> None:
    token = make_token(server, "ingest")
    status, _, payload = _http(
        "POST", f"{server.url}/api/v2/write", b"m f=1", {"Authorization": f"Token {token}"}
    )
    assert (status, payload["code"]) == (422, "unprocessable entity")
    assert "[site] enterprise is not set" in payload["message"]


# -- limits ---------------------------------------------------------------------------------------


def test_oversize_bodies_are_refused(server: Server, token: str) -> None:
    auth = {"Authorization": f"Token {token}"}
    url = f"{server.url}/api/v2/write?org=o&bucket=b"
    status, _, payload = _http("POST", url, b"#" * 25_000_001, auth)
    assert (status, payload["code"]) == (413, "request too large")
    # a gzip bomb: 100 kB on the wire, over 100 MB unpacked
    bomb = gzip.compress(b"#" * 100_000_001, compresslevel=9)
    assert len(bomb) < 1_000_000
    status, _, payload = _http("POST", url, bomb, {**auth, "Content-Encoding": "gzip"})
    assert (status, payload["code"]) == (413, "request too large")
    status, _, payload = _http("POST", url, b"m f=1", {**auth, "Content-Encoding": "br"})
    assert status == 415
    status, _, payload = _http("POST", url, b"not gzip", {**auth, "Content-Encoding": "gzip"})
    assert (status, payload["code"]) == (400, "invalid")


def test_ping_answers_like_influxdb(server: Server) -> None:
    status, headers, _ = _http("GET", f"{server.url}/ping")
    assert status == 204 and headers["X-Influxdb-Version"].startswith("hazwatch")
