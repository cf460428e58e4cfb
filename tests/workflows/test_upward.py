"""Upward exchange between two real instances on 127.0.0.1 (R9, R7): the enterprise instance
is the session database with an in-process pusher; the province instance is a second database
behind a real ``hazwatch serve``, stopped and restarted in the middle."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.settings import Settings
from hazwatch.tokens import create_token
from tests.workflows.conftest import Instance, Link, drain, register_enterprise
from workflows.upward import Pusher, backoff, outbox_status, retry_rejected
from workflows.upward_protocol import PATH, Item, encode_batch, sign_headers

ACTOR = Actor(None, "test")


def _tag(conn: psycopg.Connection, enterprise_code: str, name: str) -> int:
    ent = registers.resolve(conn, "enterprise", enterprise_code)
    return registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": name})


def _alarms(conn: psycopg.Connection, tag_id: int, start: datetime, n: int) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, value, source)"
            " VALUES (%s, %s, 'ALM', 'HI', 'high', %s, 'test')",
            [(start + timedelta(seconds=i), tag_id, 80.0 + i) for i in range(n)],
        )


def _events_at(db_url: str, enterprise_code: str) -> list[tuple[datetime, float]]:
    with psycopg.connect(db_url) as c:
        return c.execute(
            "SELECT e.time, e.value FROM alarm.event e JOIN registry.tag t ON t.id = e.tag_id"
            " JOIN registry.enterprise n ON n.id = t.enterprise_id WHERE n.code = %s"
            " ORDER BY e.time",
            (enterprise_code,),
        ).fetchall()


def test_alarms_arrive_exactly_once_across_an_upstream_outage(
    conn: psycopg.Connection,
    db_url: str,
    province: Instance,
    link: Link,
) -> None:
    pusher, code = link.pusher, link.code
    tag = _tag(conn, code, "TI-101")
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    _alarms(conn, tag, t0, 30)
    assert drain(conn, pusher) == 30

    province.stop()
    _alarms(conn, tag, t0 + timedelta(minutes=5), 20)
    res = pusher.push_once(conn)
    assert res.error is not None and "unreachable" in res.error
    assert res.sent == 0 and res.pending == 20  # queued, not lost
    row = conn.execute(
        "SELECT min(attempts), min(next_attempt_at) FROM exchange.outbox"
        " WHERE sent_at IS NULL AND data->>'enterprise_code' = %s",
        (code,),
    ).fetchone()
    assert row is not None and row[0] == 1 and row[1] > datetime.now(UTC)  # backing off

    province.start()
    # The restart is noticed at the next due time; make it due now instead of waiting.
    conn.execute("UPDATE exchange.outbox SET next_attempt_at = now() WHERE sent_at IS NULL")
    assert drain(conn, pusher) == 20

    # An answer lost after the upstream stored the batch: the same items go again.
    conn.execute(
        "UPDATE exchange.outbox SET sent_at = NULL WHERE id IN (SELECT id FROM exchange.outbox"
        " WHERE data->>'enterprise_code' = %s ORDER BY id DESC LIMIT 7)",
        (code,),
    )
    res = pusher.push_once(conn)
    assert (res.sent, res.duplicates) == (7, 7)

    local = _events_at(db_url, code)
    remote = _events_at(province.db_url, code)
    assert len(local) == 50
    assert remote == local  # every alarm exactly once, same times and values


def test_out_of_scope_items_are_rejected_with_the_reason_and_can_be_retried(
    conn: psycopg.Connection, province: Instance, link: Link
) -> None:
    pusher, code = link.pusher, link.code
    other_code = "91140100" + uuid.uuid4().hex[:10].upper()
    register_enterprise(conn, other_code, f"另一企业-{other_code[-6:]}")
    ours, theirs = _tag(conn, code, "PI-201"), _tag(conn, other_code, "PI-202")
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    _alarms(conn, ours, t0, 3)
    _alarms(conn, theirs, t0, 2)
    drain(conn, pusher)
    rejected = conn.execute(
        "SELECT last_error FROM exchange.outbox WHERE rejected_at IS NOT NULL"
        " AND data->>'enterprise_code' = %s",
        (other_code,),
    ).fetchall()
    assert len(rejected) == 2
    assert "not registered at this level" in rejected[0][0]
    assert len(_events_at(province.db_url, code)) == 3
    status = {r["kind"]: r for r in outbox_status(conn)}
    assert status["alarm_event"]["rejected"] >= 2

    # Registered upstream now, but the token is of the first enterprise: still refused.
    with psycopg.connect(province.db_url, autocommit=True) as up:
        register_enterprise(up, other_code, f"另一企业-{other_code[-6:]}")
    assert retry_rejected(conn, "alarm_event") >= 2
    drain(conn, pusher)
    errors = conn.execute(
        "SELECT last_error FROM exchange.outbox WHERE data->>'enterprise_code' = %s",
        (other_code,),
    ).fetchall()
    assert all("may only send data of its own enterprise" in e[0] for e in errors)
    assert _events_at(province.db_url, other_code) == []


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url + PATH, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_receiver_refuses_forged_unsigned_and_foreign_batches(
    conn: psycopg.Connection, province: Instance, link: Link
) -> None:
    pusher, code = link.pusher, link.code
    body = encode_batch({"instance": "x"}, [Item(1, "alarm_event", f"{code}|T|x|ALM|", {})])
    auth = {"Authorization": f"Bearer {pusher.token}", "Content-Type": "application/json"}
    signed = sign_headers(pusher.key, body, now=time.time())

    assert _post(province.url, body, {})[0] == 401
    status, err = _post(province.url, body, auth)
    assert status == 400 and "missing" in err["message"]
    status, err = _post(province.url, body + b" ", {**auth, **signed})  # altered after signing
    assert status == 400 and "signature does not match" in err["message"]
    stale = sign_headers(pusher.key, body, now=time.time() - 3600)
    status, err = _post(province.url, body, {**auth, **stale})
    assert status == 400 and "clock" in err["message"]
    bad = b'{"origin": {}, "items": [{"id": "one"}]}'
    status, err = _post(
        province.url, bad, {**auth, **sign_headers(pusher.key, bad, now=time.time())}
    )
    assert status == 400 and "'id' must be an integer" in err["message"]

    with psycopg.connect(province.db_url, autocommit=True) as up:
        untrusted = create_token(
            up, ACTOR, f"nokey-{uuid.uuid4().hex[:6]}", "exchange", enterprise=code
        )
        ingest = create_token(
            up, ACTOR, f"ingest-{uuid.uuid4().hex[:6]}", "ingest", enterprise=code
        )
    status, err = _post(
        province.url, body, {**auth, **signed, "Authorization": f"Bearer {untrusted}"}
    )
    assert status == 403 and "no public key" in err["message"]
    status, err = _post(province.url, body, {**auth, **signed, "Authorization": f"Bearer {ingest}"})
    assert status == 403 and "not an exchange token" in err["message"]
    # A well-formed, signed item whose data is malformed is refused alone, with the reason.
    status, answer = _post(province.url, body, {**auth, **signed})
    assert status == 200 and answer["rejected"][0]["id"] == 1
    assert answer["accepted"] == []


def test_disabled_feed_queues_nothing(conn: psycopg.Connection) -> None:
    from tests.conftest import make_enterprise

    ent, _ = make_enterprise(conn)
    tag = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": "LI-1"})
    Pusher.enable_feeds(conn, False)
    before = conn.execute("SELECT count(*) FROM exchange.outbox").fetchone()
    _alarms(conn, tag, datetime(2026, 11, 3, tzinfo=UTC), 4)
    assert conn.execute("SELECT count(*) FROM exchange.outbox").fetchone() == before


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == timedelta(minutes=10)


def test_events_written_by_the_collectors_writer_are_queued(
    conn: psycopg.Connection,
    settings: Settings,
    tmp_path: Path,
    link: Link,
) -> None:
    """The collectors' batched COPY path (stage + merge) fires the enqueue trigger too, and a
    replayed batch (store-and-forward after an outage) queues nothing twice."""
    from ingest.types import AlarmEvent
    from ingest.writer import Writer

    code = link.code
    tag = _tag(conn, code, "FI-301")
    t0 = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)
    events = [
        AlarmEvent(t0 + timedelta(seconds=i), tag, "ALM", "HH", source="test") for i in range(5)
    ]
    local = settings.model_copy(update={"home": tmp_path})
    for _ in range(2):
        with Writer(local, name="upward-test") as writer:
            writer.put_alarm_events(events)
    queued = conn.execute(
        "SELECT count(*) FROM exchange.outbox WHERE data->>'tag' = 'FI-301'"
        " AND data->>'enterprise_code' = %s",
        (code,),
    ).fetchone()
    assert queued == (5,)
