"""Notify API, outbox and delivery against real receivers (A13, D2): an aiosmtpd SMTP server,
http.server receivers for the robots, SMS gateway and generic webhook; outages and recovery
deliver everything once; grouping sends one digest instead of many messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

import psycopg
import pytest

from hazwatch.errors import HazwatchError
from tests.workflows.alerting_servers import (
    TEST,
    http_receiver,
    make_group,
    make_user,
    smtp_server,
    unique,
)
from workflows import alert_config
from workflows.channels.webhook import signature
from workflows.delivery import deliver_due
from workflows.notify import NotifyError, enqueue, notify, unread_count

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def _email_channel(conn: psycopg.Connection, port: int) -> str:
    # Users' addresses use the channel coded 'email' when there is one; tests share the
    # database, so each test makes its own and names it explicitly through a shared-mailbox
    # style 'to' list, or replaces the 'email' row.
    row = conn.execute("SELECT id FROM workflow.channel WHERE code = 'email'").fetchone()
    config = {"host": "127.0.0.1", "port": port, "sender": "hazwatch@plant.example"}
    if row:
        alert_config.update(conn, TEST, "channel", row[0], {"config": config})
    else:
        alert_config.add_channel(conn, TEST, "email", "email", config)
    return "email"


def _pending(conn: psycopg.Connection, ids: list[int]) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT status FROM workflow.outbox WHERE id = ANY(%s) ORDER BY id", (ids,)
        ).fetchall()
    ]


def test_notify_email_inapp_and_dedupe(conn: psycopg.Connection) -> None:
    a = make_user(conn, email=f"{unique('a')}@plant.example")
    b = make_user(conn, email=f"{unique('b')}@plant.example")
    nomail = make_user(conn)
    g = make_group(conn, [b, nomail])
    with smtp_server() as smtp:
        _email_channel(conn, smtp.port)
        key = unique("dedupe")
        ids = notify(
            conn,
            subject="泵P-101振动报警",
            body="速度有效值 7.9 mm/s",
            users=[a],
            groups=[g],
            channels=["email"],
            severity="alarm",
            dedupe_key=key,
        )
        again = notify(
            conn, subject="泵P-101振动报警", body="x", users=[a], groups=[g],
            channels=["email"], severity="alarm", dedupe_key=key,
        )  # fmt: skip
        assert sorted(again) == sorted(ids)
        # a and b by e-mail; the member without an address gets it in-app instead.
        assert len(ids) == 3
        assert unread_count(conn, nomail) == 1
        report = deliver_due(conn)
        # The database is shared: messages other tests left due go out in the same run.
        assert len(set(report.sent) & set(ids)) == 2
        mails = list(smtp.mails)
    emails = [
        conn.execute("SELECT email FROM auth.app_user WHERE id = %s", (u,)).fetchone()[0]
        for u in (a, b)
    ]
    ours = [m for m in mails if set(m.recipients) & set(emails)]
    assert sorted(r for m in ours for r in m.recipients) == sorted(emails)
    msg = ours[0].message
    assert msg["Subject"] == "[报警] 泵P-101振动报警"
    assert msg["Message-ID"].startswith("<hazwatch-outbox-")
    assert "7.9 mm/s" in msg.get_content()
    assert _pending(conn, ids) == ["sent"] * 3


def test_notify_rejects_bad_input(conn: psycopg.Connection) -> None:
    u = make_user(conn)
    with pytest.raises(NotifyError, match="no user with id 999999"):
        notify(conn, subject="s", body="b", users=[999999])
    with pytest.raises(NotifyError, match="no user group with id 999998"):
        notify(conn, subject="s", body="b", groups=[999998])
    with pytest.raises(NotifyError, match="unknown or disabled channel 'nope'"):
        notify(conn, subject="s", body="b", users=[u], channels=["nope"])
    with pytest.raises(NotifyError, match="severity 'loud'"):
        notify(conn, subject="s", body="b", users=[u], severity="loud")
    with pytest.raises(NotifyError, match="nobody to notify"):
        notify(conn, subject="s", body="b")


def test_smtp_outage_then_recovery_delivers_once(conn: psycopg.Connection) -> None:
    users = [make_user(conn, email=f"{unique('o')}@plant.example") for _ in range(3)]
    now = datetime.now(UTC)
    with smtp_server() as smtp:
        _email_channel(conn, smtp.port)
        smtp.stop()
        ids = [
            enqueue(conn, subject=f"msg {i}", body="b", users=users, channels=["email"], now=now)
            for i in range(2)
        ]
        flat = [i for batch in ids for i in batch]
        report = deliver_due(conn, now=now)
        assert report.sent == [] and len(report.failed) == 6
        # Back-off: nothing is due again before 30 s; then the server is back.
        assert deliver_due(conn, now=now + timedelta(seconds=10)).failed == []
        smtp.start()
        report = deliver_due(conn, now=now + timedelta(seconds=31))
        assert sorted(report.sent) == sorted(flat)
        assert deliver_due(conn, now=now + timedelta(hours=2)).sent == []
        assert len(smtp.mails) == 6
        assert len({m.message["Message-ID"] for m in smtp.mails}) == 6
    attempts = conn.execute(
        "SELECT outcome, count(*) FROM workflow.delivery_attempt WHERE outbox_id = ANY(%s)"
        " GROUP BY outcome ORDER BY outcome",
        (flat,),
    ).fetchall()
    assert attempts == [("failed", 6), ("sent", 6)]


def test_crash_after_send_resends_same_message_id(conn: psycopg.Connection) -> None:
    u = make_user(conn, email=f"{unique('c')}@plant.example")
    now = datetime.now(UTC)
    with smtp_server() as smtp:
        _email_channel(conn, smtp.port)
        (oid,) = enqueue(conn, subject="crash", body="b", users=[u], channels=["email"], now=now)

        class Crash(BaseException):
            pass

        def crashing(c: psycopg.Connection, channel: str, kind: str):  # type: ignore[no-untyped-def]
            from workflows.delivery import channel_transport

            transport, policy = channel_transport(c, channel, kind)

            class AfterSend:
                def send(self, message):  # type: ignore[no-untyped-def]
                    transport.send(message)
                    raise Crash  # the worker dies before recording the outcome

            return AfterSend(), policy

        with pytest.raises(Crash):
            deliver_due(conn, now=now, transports=crashing)
        assert _pending(conn, [oid]) == ["sending"]
        # Lease not yet expired: nobody touches it.
        assert deliver_due(conn, now=now + timedelta(seconds=30)).sent == []
        report = deliver_due(conn, now=now + timedelta(minutes=3))
        assert report.sent == [oid]
        assert len(smtp.mails) == 2
        assert smtp.mails[0].message["Message-ID"] == smtp.mails[1].message["Message-ID"]
    outcomes = conn.execute(
        "SELECT outcome FROM workflow.delivery_attempt WHERE outbox_id = %s ORDER BY id", (oid,)
    ).fetchall()
    assert [o[0] for o in outcomes] == ["unknown", "sent"]


def test_grouping_sends_one_digest(conn: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    with http_receiver() as rec:
        code = unique("hook")
        alert_config.add_channel(conn, TEST, code, "webhook", {"url": rec.url + "/g"})
        group = unique("incident")

        def send(i: int) -> None:
            enqueue(
                conn, subject=f"TI-101 高 {i}", body=f"value {i}", channels=[code],
                group_key=group, now=now + timedelta(seconds=i),
            )  # fmt: skip

        send(0)
        assert len(deliver_due(conn, now=now).sent) == 1  # the first goes at once
        for i in range(1, 20):
            send(i)
        # The other 19 are held for the group interval (60 s after the last send) ...
        assert deliver_due(conn, now=now + timedelta(seconds=59)).sent == []
        # ... and then go as one digest.
        later = deliver_due(conn, now=now + timedelta(seconds=60))
        assert len(later.sent) == 19 and later.grouped == 18
        assert len(rec.requests) == 2
        last = rec.requests[-1].json
        assert last["count"] == 19 and "TI-101 高 19" in last["subject"]
        assert "TI-101 高 1:" in last["body"] and "TI-101 高 19:" in last["body"]


def test_robot_and_webhook_formats(conn: psycopg.Connection) -> None:
    """Each robot's documented format and signing, checked by a real HTTP receiver."""
    with http_receiver() as rec:
        chans = {
            "wecom": ({"url": rec.url + "/cgi-bin/webhook/send?key=K1"}, None),
            "dingtalk": (
                {"url": rec.url + "/robot/send?access_token=T1", "mentions": ["13800000000"]},
                "SECdingtalk",
            ),
            "feishu": ({"url": rec.url + "/open-apis/bot/v2/hook/H1"}, "feishu-secret"),
            "webhook": ({"url": rec.url + "/hook"}, "hook-secret"),
            "sms": ({"url": rec.url + "/sms", "to": ["+8613800000001"]}, "sms-token"),
        }
        codes = {}
        for kind, (config, secret) in chans.items():
            codes[kind] = unique(kind)
            alert_config.add_channel(conn, TEST, codes[kind], kind, config, secret)
        notify(
            conn,
            subject="罐区可燃气体报警",
            body="GT-301 35 %LEL",
            channels=list(codes.values()),
            severity="danger",
            link="http://hazwatch.local/alerts?id=1",
        )
        report = deliver_due(conn)
        assert len(report.sent) == 5, report

        (w,) = rec.for_path("/cgi-bin/webhook/send")
        assert w.query == {"key": "K1"}
        assert w.json["msgtype"] == "markdown"
        assert "罐区可燃气体报警" in w.json["markdown"]["content"]

        (d,) = rec.for_path("/robot/send")
        ts = d.query["timestamp"]
        expect = base64.b64encode(
            hmac.new(b"SECdingtalk", f"{ts}\nSECdingtalk".encode(), hashlib.sha256).digest()
        ).decode()
        assert unquote_plus(d.query["sign"]) == expect or d.query["sign"] == expect
        assert d.json["msgtype"] == "markdown" and d.json["at"]["atMobiles"] == ["13800000000"]
        assert "@13800000000" in d.json["markdown"]["text"]

        (f,) = rec.for_path("/open-apis/bot/v2/hook/H1")
        key = f"{f.json['timestamp']}\nfeishu-secret".encode()
        assert (
            f.json["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        )
        assert f.json["msg_type"] == "post"
        post = f.json["content"]["post"]["zh_cn"]
        assert post["title"] == "[危险] 罐区可燃气体报警"
        assert post["content"][1][0]["href"] == "http://hazwatch.local/alerts?id=1"

        (h,) = rec.for_path("/hook")
        assert h.headers["X-Hazwatch-Signature"] == signature(
            "hook-secret", h.headers["X-Hazwatch-Timestamp"], h.raw
        )
        assert h.json["severity"] == "danger" and h.json["id"] == h.headers["X-Hazwatch-Id"]

        (s,) = rec.for_path("/sms")
        assert s.headers["Authorization"] == "Bearer sms-token"
        assert s.json["to"] == "+8613800000001" and s.json["text"].startswith("【hazwatch】")


def test_webhook_500_then_recovery_delivers_once(conn: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    with http_receiver() as rec:
        codes = {k: unique(k) for k in ("wecom", "dingtalk", "feishu", "webhook")}
        for kind, code in codes.items():
            alert_config.add_channel(conn, TEST, code, kind, {"url": f"{rec.url}/{kind}"})
        rec.status = 500
        ids = enqueue(conn, subject="s", body="b", channels=list(codes.values()), now=now)
        assert len(deliver_due(conn, now=now).failed) == 4
        rec.status = 200
        # A robot that answers 200 with an error code (bad signature) is a failure too.
        rec.answer = {"errcode": 310000, "errmsg": "sign not match", "code": 19021}
        second = deliver_due(conn, now=now + timedelta(seconds=31))
        assert len(second.failed) == 3 and len(second.sent) == 1  # the generic hook took it
        assert len(rec.for_path("/webhook")) == 1
        rec.answer = {"errcode": 0, "errmsg": "ok", "code": 0}
        rec.requests.clear()
        report = deliver_due(conn, now=now + timedelta(seconds=92))
        assert sorted(second.sent + report.sent) == sorted(ids)
        assert deliver_due(conn, now=now + timedelta(hours=3)).sent == []
        assert sorted(r.path for r in rec.requests) == ["/dingtalk", "/feishu", "/wecom"]


def test_bad_channel_config_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(HazwatchError, match="config field 'url' is required"):
        alert_config.add_channel(conn, TEST, unique("x"), "dingtalk", {})
    with pytest.raises(HazwatchError, match="is not an http"):
        alert_config.add_channel(conn, TEST, unique("x"), "webhook", {"url": "ftp://x"})
    code = unique("audited")
    cid = alert_config.add_channel(conn, TEST, code, "feishu", {"url": "http://h/x"}, "s3cret")
    row = conn.execute(
        "SELECT actor, after FROM audit.log WHERE entity = 'workflow.channel' AND entity_id = %s",
        (str(cid),),
    ).fetchone()
    assert row[0] == "test" and "secret" not in row[1] and row[1]["code"] == code
