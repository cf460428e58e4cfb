"""The alerting engine on a real database with a real SMTP server (A13, issue 6 "Tests"):
a rule goes Pending -> Firing -> escalates a tier after its time -> e-mail to the right people
-> acknowledgement stops escalation -> resolve; external alerts; silences; audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.workflows.alerting_servers import TEST, make_group, make_user, smtp_server, unique
from workflows import alert_config, alerting
from workflows.delivery import deliver_due

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def _emails(conn: psycopg.Connection, users: list[int]) -> list[str]:
    rows = conn.execute(
        "SELECT email FROM auth.app_user WHERE id = ANY(%s) ORDER BY email", (users,)
    ).fetchall()
    return [r[0] for r in rows]


def _smtp_channel(conn: psycopg.Connection, port: int) -> None:
    config = {"host": "127.0.0.1", "port": port, "sender": "hazwatch@plant.example"}
    row = conn.execute("SELECT id FROM workflow.channel WHERE code = 'email'").fetchone()
    if row:
        alert_config.update(conn, TEST, "channel", row[0], {"config": config})
    else:
        alert_config.add_channel(conn, TEST, "email", "email", config)


def _people(conn: psycopg.Connection, ent: int, n: int) -> tuple[list[int], int]:
    users = [
        make_user(conn, email=f"{unique('p')}@plant.example", enterprise_id=ent) for _ in range(n)
    ]
    return users, make_group(conn, users, ent)


def _sample(conn: psycopg.Connection, tag: int, at: datetime, value: float) -> None:
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, %s, %s)", (at, tag, value)
    )


def test_rule_fires_escalates_ack_resolves(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    tag = registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "name": "TI-101"})
    operators, g_op = _people(conn, ent, 2)
    technicians, g_tech = _people(conn, ent, 1)
    managers, g_mgr = _people(conn, ent, 1)
    code = unique("ti101-high")
    rule_id = alert_config.insert(
        conn,
        TEST,
        "alert_rule",
        {
            "enterprise_id": ent,
            "code": code,
            "name": "反应器温度高",
            "kind": "threshold",
            "tag_id": tag,
            "priority": "high",
            "spec": {
                "kind": "threshold",
                "window_s": 60,
                "pending_s": 60,
                "nodata_s": 3600,
                "levels": [{"level": "alarm", "op": ">", "value": 80, "clear": 75}],
            },
            "labels": {"unit": "R-101"},
        },
        reason="MOC-2026-001",
    )
    alert_config.insert(
        conn,
        TEST,
        "escalation_policy",
        {
            "enterprise_id": ent,
            "code": "default",
            "until": "ack",
            "tiers": [
                {"after_s": 0, "groups": [g_op], "channels": ["email"]},
                {"after_s": 300, "groups": [g_tech], "channels": ["email"]},
                {"after_s": 900, "groups": [g_mgr], "channels": ["email"]},
            ],
        },
    )
    t0 = datetime.now(UTC).replace(microsecond=0)
    ours = set(_emails(conn, operators + technicians + managers))
    with smtp_server() as smtp:
        _smtp_channel(conn, smtp.port)

        def mails() -> list[Any]:
            # The outbox is shared by every test of the session: count this test's mail only.
            return [m for m in smtp.mails if ours & set(m.recipients)]

        def at(seconds: int, value: float | None = None) -> alerting.EvalReport:
            now = t0 + timedelta(seconds=seconds)
            if value is not None:
                _sample(conn, tag, now, value)
            report = alerting.evaluate(conn, now=now)
            deliver_due(conn, now=now)
            return report

        at(0, 85)
        state = conn.execute(
            "SELECT state FROM workflow.rule_state WHERE rule_id = %s", (rule_id,)
        ).fetchone()
        assert state == ("pending",)
        at(30, 86)
        assert mails() == []
        at(60, 87)  # pending period over: firing, tier 1 notified at once
        assert sorted(r for m in mails() for r in m.recipients) == _emails(conn, operators)
        assert "反应器温度高" in mails()[0].message["Subject"]
        (alert,) = alerting.list_alerts(conn, enterprise_ids=[ent])
        assert alert["state"] == "firing" and alert["level"] == "alarm"
        assert alert["labels"]["unit"] == "R-101" and alert["labels"]["parameter"] == "TI-101"

        at(200, 88)
        assert len(mails()) == 2  # nothing new before tier 2's time
        at(360, 88)  # 300 s after firing: tier 2 (technicians)
        new = mails()[2:]
        assert sorted(r for m in new for r in m.recipients) == _emails(conn, technicians)
        assert "升级 L2" in new[0].message["Subject"]

        boss = Actor(operators[0], "operator-on-duty")
        alerting.acknowledge(
            conn, alert["id"], boss, "已安排现场检查冷却水", now=t0 + timedelta(seconds=400)
        )
        with pytest.raises(alerting.AlertError, match="already acknowledged"):
            alerting.acknowledge(conn, alert["id"], boss, "again")
        at(1000, 89)  # past tier 3's time, but acknowledged: management is not told
        mgr_mail = _emails(conn, managers)[0]
        assert all(mgr_mail not in m.recipients for m in mails())
        assert len(mails()) == 3

        at(1010, 70)  # back below the clear threshold: resolved, tiers reached are told
        resolved = mails()[3:]
        assert sorted(r for m in resolved for r in m.recipients) == _emails(
            conn, operators + technicians
        )
        assert all("已恢复" in m.message["Subject"] for m in resolved)

    row = alerting.list_alerts(conn, open_only=False, enterprise_ids=[ent])[0]
    assert row["state"] == "resolved" and row["ack_comment"] == "已安排现场检查冷却水"
    steps = [
        (h["action"], h["to_state"]) for h in alerting.history(conn, alert["id"])
        if h["action"] in ("transition", "ack", "escalate")
    ]  # fmt: skip
    assert steps == [
        ("transition", "pending"),
        ("transition", "firing"),
        ("escalate", None),
        ("escalate", None),
        ("ack", None),
        ("transition", "resolved"),
    ]
    audit = conn.execute(
        "SELECT action, entity, reason FROM audit.log WHERE (entity = 'workflow.alert_rule'"
        " AND entity_id = %s) OR (entity = 'workflow.alert' AND entity_id = %s) ORDER BY id",
        (str(rule_id), str(alert["id"])),
    ).fetchall()
    assert audit == [
        ("insert", "workflow.alert_rule", "MOC-2026-001"),
        ("ack", "workflow.alert", None),
    ]


def test_external_alert_api_inapp_level_and_resolve(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    users, group = _people(conn, ent, 1)
    nomail = make_user(conn, enterprise_id=ent)
    alert_config.insert(
        conn, TEST, "escalation_policy",
        {"enterprise_id": ent, "code": "pumps", "matchers": [{"label": "source", "value": "pump"}],
         "tiers": [{"after_s": 0, "groups": [group], "users": [nomail]}]},
    )  # fmt: skip
    now = datetime.now(UTC)
    key = unique("P-101:vib")
    aid = alerting.raise_external_alert(
        conn, "pump", key, "warning", {"equipment": "P-101"}, "泵P-101振动预警 4.6 mm/s",
        value=4.6, enterprise_id=ent, now=now,
    )  # fmt: skip
    inbox = conn.execute(
        "SELECT subject, severity FROM workflow.inbox WHERE user_id = %s", (nomail,)
    ).fetchall()
    assert len(inbox) == 1 and "泵P-101振动预警" in inbox[0][0] and inbox[0][1] == "warning"
    again = alerting.raise_external_alert(
        conn, "pump", key, "danger", {"equipment": "P-101"}, "泵P-101振动危险 11.2 mm/s",
        value=11.2, enterprise_id=ent, now=now + timedelta(seconds=30),
    )  # fmt: skip
    assert again == aid
    severities = [
        r[0]
        for r in conn.execute(
            "SELECT severity FROM workflow.inbox WHERE user_id = %s ORDER BY id", (nomail,)
        ).fetchall()
    ]
    assert severities == ["warning", "danger"]
    assert alerting.resolve_external_alert(conn, "pump", key, now=now + timedelta(minutes=5)) == aid
    assert alerting.resolve_external_alert(conn, "pump", key) is None
    final = conn.execute(
        "SELECT severity FROM workflow.inbox WHERE user_id = %s ORDER BY id DESC LIMIT 1",
        (nomail,),
    ).fetchone()
    assert final == ("resolved",)
    # E-mail rows for the member with an address, grouped by the alert.
    keys = conn.execute(
        "SELECT DISTINCT group_key FROM workflow.outbox WHERE user_id = %s", (users[0],)
    ).fetchall()
    assert keys == [(f"alert:{aid}",)]
    with pytest.raises(alerting.AlertError, match="level 'loud'"):
        alerting.raise_external_alert(conn, "pump", key, "loud", {}, "x")


def test_silence_holds_escalation_until_it_ends(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    users, _ = _people(conn, ent, 1)
    alert_config.insert(
        conn, TEST, "escalation_policy",
        {"enterprise_id": ent, "code": "all", "tiers": [{"after_s": 0, "users": users,
                                                          "channels": ["inapp"]}]},
    )  # fmt: skip
    now = datetime.now(UTC)
    sid = alert_config.insert(
        conn, TEST, "silence",
        {"enterprise_id": ent, "matchers": [{"label": "equipment", "op": "=~", "value": "P-1.*"}],
         "starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(minutes=30),
         "comment": "检修 P-101"},
    )  # fmt: skip
    key = unique("P-102")
    aid = alerting.raise_external_alert(
        conn, "pump", key, "alarm", {"equipment": "P-102"}, "泵P-102报警",
        enterprise_id=ent, now=now,
    )  # fmt: skip
    count = "SELECT count(*) FROM workflow.inbox WHERE user_id = %s"
    assert conn.execute(count, (users[0],)).fetchone() == (0,)
    alerting.escalate(conn, now=now + timedelta(minutes=10))
    assert conn.execute(count, (users[0],)).fetchone() == (0,)
    alerting.escalate(conn, now=now + timedelta(minutes=31))  # the silence is over
    assert conn.execute(count, (users[0],)).fetchone() == (1,)
    alerting.close(conn, aid, Actor(users[0], "op"), "检修完毕")
    with pytest.raises(alerting.AlertError, match="already closed"):
        alerting.close(conn, aid, Actor(users[0], "op"), "again")
    with pytest.raises(alerting.AlertError, match="needs a comment"):
        alerting.acknowledge(conn, aid, Actor(users[0], "op"), "  ")
    logged = conn.execute(
        "SELECT action FROM audit.log WHERE entity = 'workflow.silence' AND entity_id = %s",
        (str(sid),),
    ).fetchall()
    assert logged == [("insert",)]


def test_config_tables_are_registers_audited_without_secrets(conn: psycopg.Connection) -> None:
    """The alerting tables are written the registers' one way: JSON columns stored as jsonb,
    bad values refused with the table named, and a channel's secret kept out of the log."""
    assert registers.register("channel") is alert_config.TABLES["channel"]
    code, secret = unique("hook"), unique("s3cret")
    cid = alert_config.add_channel(
        conn, TEST, code, "webhook", {"url": "http://127.0.0.1:9/x"}, secret
    )
    alert_config.update(conn, TEST, "channel", cid, {"secret": secret + "2"}, reason="rotate")
    logged = conn.execute(
        "SELECT count(*), bool_or((coalesce(before, '{}') || coalesce(after, '{}'))::text"
        " LIKE %s) FROM audit.log WHERE entity = 'workflow.channel' AND entity_id = %s",
        (f"%{secret}%", str(cid)),
    ).fetchone()
    assert logged == (2, False)
    assert conn.execute(
        "SELECT config->>'url' FROM workflow.channel WHERE id = %s", (cid,)
    ).fetchone() == ("http://127.0.0.1:9/x",)
    with pytest.raises(registers.RegisterError, match=r"workflow\.silence: "):
        alert_config.insert(
            conn,
            TEST,
            "silence",
            {"matchers": [], "starts_at": "not a time", "ends_at": "2030-01-01"},
        )
    with pytest.raises(registers.RegisterError, match=r"taken by workflow\.channel"):
        registers.add_registers({"channel": registers.Register("x", "channel", frozenset())})
