"""Upward feeds of the risk monitoring data between two real instances (R2-R5, A20, R9): unit
state changes, daily alarm KPIs and hourly completeness arrive at the province exactly once
across an upstream outage, filed under the origin enterprise; and R7 notifications after
review reach the enterprise's and the regulators' people by e-mail and SMS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.alarms.build import build
from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.rollups.catalog import ALARM_ROLLUPS
from hazwatch.rollups.engine import refresh
from tests.workflows.alerting_servers import http_receiver, make_user, smtp_server
from tests.workflows.conftest import Instance, Link, drain
from workflows import alert_config
from workflows import hazard_feeds as hf
from workflows import hazard_units as hu
from workflows.delivery import deliver_due
from workflows.reviewed_notify import notify_reviewed_alarm, regulator_group_code

ACTOR = Actor(None, "test")


def _setup_unit(conn: psycopg.Connection, code: str) -> tuple[int, int, int]:
    ent = registers.resolve(conn, "enterprise", code)
    unit = registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": "LA-9", "name": "装卸区",
                              "kind": "loading_area", "hazard_code": "HZ-LA-9"},
    )  # fmt: skip
    gnd = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": "LB-9.GND"})
    lel = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": "GD-9.LEL",
                                                "unit_id": unit, "source": "mqtt"})  # fmt: skip
    hu.add_point(conn, ACTOR, unit, gnd, "static_grounding")
    hu.add_point(conn, ACTOR, unit, lel, "gas_combustible")
    return ent, unit, lel


def _sample(conn: psycopg.Connection, tag: int, value: float, at: datetime) -> None:
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, %s, %s)", (at, tag, value)
    )


def _province_rows(db_url: str, code: str, query: str) -> list[tuple]:
    with psycopg.connect(db_url) as c:
        return c.execute(query, (code,)).fetchall()


STATES = (
    "SELECT s.time, s.warning_state, s.sis_state FROM hazard.state_change s"
    " JOIN registry.unit u ON u.id = s.unit_id JOIN registry.enterprise e"
    " ON e.id = u.enterprise_id WHERE e.code = %s ORDER BY s.time"
)
KPIS = (
    "SELECT k.day, u.code, k.alarms, k.peak_10min, k.by_priority FROM hazard.kpi_daily k"
    " JOIN registry.enterprise e ON e.id = k.enterprise_id LEFT JOIN registry.unit u"
    " ON u.id = k.unit_id WHERE e.code = %s ORDER BY k.day, u.code NULLS FIRST"
)
FRESH = (
    "SELECT f.hour, f.tags, f.fresh_tags FROM hazard.freshness_hourly f"
    " JOIN registry.enterprise e ON e.id = f.enterprise_id WHERE e.code = %s ORDER BY f.hour"
)


def test_states_kpis_and_freshness_arrive_exactly_once(
    conn: psycopg.Connection,
    db_url: str,
    province: Instance,
    link: Link,
) -> None:
    pusher, code = link.pusher, link.code
    ent, unit, lel = _setup_unit(conn, code)
    now = datetime.now(UTC).replace(microsecond=0)
    gnd = conn.execute("SELECT id FROM registry.tag WHERE enterprise_id = %s AND name = %s",
                       (ent, "LB-9.GND")).fetchone()[0]  # fmt: skip
    _sample(conn, gnd, 0.0, now - timedelta(seconds=20))
    _sample(conn, lel, 2.0, now - timedelta(seconds=20))
    hu.refresh_states(conn, now)  # normal

    # Yesterday's alarms of the gas tag, built into records: the daily KPI job counts them.
    yesterday = (now.astimezone(hf.TZ) - timedelta(days=1)).date()
    start, _ = hf.day_bounds(yesterday)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, value, source)"
            " VALUES (%s, %s, %s, 'H', 'high', 25.0, 'test')",
            [(start + timedelta(hours=3, minutes=i), lel, k) for i in range(0, 12, 2)
             for k in ("ALM",)] + [(start + timedelta(hours=3, minutes=i + 1), lel, "RTN")
                                   for i in range(0, 12, 2)],
        )  # fmt: skip
    build(conn)
    # As the scheduler does between building records and the daily KPIs: other tests of the
    # session may have moved the alarm rollups' watermark past these records' buckets.
    for rollup in ALARM_ROLLUPS:
        refresh(conn, rollup)
    hf.kpi_daily_job(conn, now)
    last_hour = now.replace(minute=0, second=0) - timedelta(hours=1)
    _sample(conn, lel, 1.0, last_hour + timedelta(minutes=5))
    hf.freshness_job(conn, now)
    assert drain(conn, pusher) >= 3

    province.stop()
    later = now + timedelta(seconds=40)
    _sample(conn, gnd, 1.0, later - timedelta(seconds=3))  # grounding disconnected
    changes = [c for c in hu.refresh_states(conn, later) if c.unit_id == unit]
    assert [(c.warning, c.prev_warning) for c in changes] == [("alarm", "normal")]
    res = pusher.push_once(conn)
    assert res.error is not None and res.pending >= 1
    province.start()
    conn.execute("UPDATE exchange.outbox SET next_attempt_at = now() WHERE sent_at IS NULL")
    drain(conn, pusher)
    # An answer lost on the way back: the same items again count as duplicates.
    conn.execute(
        "UPDATE exchange.outbox SET sent_at = NULL WHERE kind IN ('hazard_state', 'kpi_daily',"
        " 'freshness') AND data->>'enterprise_code' = %s",
        (code,),
    )
    res = pusher.push_once(conn)
    # Every item sent again is recognised (how many KPI rows exist depends on the rollups'
    # refresh, shared with the session's other tests).
    assert res.duplicates == res.sent >= 3

    local_states = _province_rows(db_url, code, STATES)
    assert [s[1] for s in local_states] == ["normal", "alarm"]
    assert _province_rows(province.db_url, code, STATES) == local_states
    kpis = _province_rows(province.db_url, code, KPIS)
    assert kpis == _province_rows(db_url, code, KPIS)
    assert [(k[1], k[2]) for k in kpis] == [(None, 6), ("LA-9", 6)]
    assert kpis[0][4]["high"] == 6
    fresh = _province_rows(province.db_url, code, FRESH)
    assert fresh == _province_rows(db_url, code, FRESH) and fresh[-1][1:] == (2, 1)
    with psycopg.connect(province.db_url) as up:
        unit_up = up.execute(
            "SELECT u.kind, u.hazard_code, s.warning_state FROM registry.unit u JOIN"
            " registry.enterprise e ON e.id = u.enterprise_id JOIN hazard.unit_state s"
            " ON s.unit_id = u.id WHERE e.code = %s AND u.code = 'LA-9'",
            (code,),
        ).fetchone()
        actor = up.execute(
            "SELECT actor FROM audit.log WHERE entity = 'registry.unit'"
            " AND after ->> 'code' = 'LA-9' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert unit_up == ("loading_area", "HZ-LA-9", "alarm")
    assert actor is not None and actor[0].startswith("exchange:")


def test_malformed_items_are_refused_with_the_reason(
    conn: psycopg.Connection,
    province: Instance,
    link: Link,
) -> None:
    pusher, code, name = link.pusher, link.code, link.name
    base = {"enterprise_code": code, "enterprise_name": name}
    bad = {
        "hazard_state": {**base, "unit_code": "X", "time": "2026-11-01T08:00:00+08:00",
                         "warning_state": "red", "sis_state": "none"},
        "kpi_daily": {**base, "day": "2026-11-01", "total": {"alarms": -1}},
        "freshness": {**base, "hour": "2026-11-01T08:00:00", "tags": 1, "fresh_tags": 0},
    }  # fmt: skip
    for kind, data in bad.items():
        conn.execute(
            "INSERT INTO exchange.outbox (kind, key, data) VALUES (%s, %s, %s)",
            (kind, f"{code}|bad|{uuid.uuid4().hex}", psycopg.types.json.Jsonb(data)),
        )
    drain(conn, pusher)
    errors = dict(
        conn.execute(
            "SELECT kind, last_error FROM exchange.outbox WHERE rejected_at IS NOT NULL"
            " AND data->>'enterprise_code' = %s AND key LIKE %s",
            (code, f"{code}|bad|%"),
        ).fetchall()
    )
    assert "warning_state 'red'" in errors["hazard_state"]
    assert "alarms must be a count" in errors["kpi_daily"]
    assert "needs an offset" in errors["freshness"]


# -- R7 notifications -----------------------------------------------------------------------


def _channel(conn: psycopg.Connection, code: str, config: dict) -> None:
    row = conn.execute("SELECT id FROM workflow.channel WHERE code = %s", (code,)).fetchone()
    if row:
        alert_config.update(conn, ACTOR, "channel", row[0], {"config": config})
    else:
        alert_config.add_channel(conn, ACTOR, code, code, config)


def _group(conn: psycopg.Connection, enterprise: int | None, code: str, users: list[int]) -> int:
    row = conn.execute(
        "SELECT id FROM workflow.user_group WHERE enterprise_id IS NOT DISTINCT FROM %s"
        " AND code = %s",
        (enterprise, code),
    ).fetchone()
    gid = int(row[0]) if row else registers.insert(
        conn, ACTOR, "user_group", {"enterprise_id": enterprise, "code": code, "name": code}
    )  # fmt: skip
    for u in users:
        registers.insert(conn, ACTOR, "user_group_member", {"group_id": gid, "user_id": u})
    return gid


def _regulator(conn: psycopg.Connection, region: str, email: str) -> int:
    from hazwatch.auth import create_user

    uid = create_user(conn, ACTOR, name=f"reg-{uuid.uuid4().hex[:8]}", role="regulator",
                      password="correct-horse-9", region=region)  # fmt: skip
    registers.update(conn, ACTOR, "app_user", uid, {"email": email})
    return uid


@pytest.mark.usefixtures("no_leaked_threads")
def test_reviewed_alarm_reaches_enterprise_and_regulators(conn: psycopg.Connection) -> None:
    from tests.conftest import make_enterprise

    row = conn.execute("SELECT id FROM registry.region WHERE code = '140105'").fetchone()
    county = int(row[0]) if row else registers.insert(
        conn, ACTOR, "region", {"code": "140105", "name": "小店区", "level": "county",
                                "parent_id": registers.resolve(conn, "region", "140100")},
    )  # fmt: skip
    name = f"审核通知-{uuid.uuid4().hex[:6]}"
    ent = registers.insert(conn, ACTOR, "enterprise", {"name": name, "region_id": county})
    other, _ = make_enterprise(conn, "他市企业", "大同市")
    tag = uuid.uuid4().hex[:6]
    safety = make_user(conn, email=f"safety-{tag}@plant.example", phone="+8613800000011",
                       enterprise_id=ent)  # fmt: skip
    city = _regulator(conn, "太原市", f"city-{tag}@gov.example")
    datong = _regulator(conn, "大同市", f"datong-{tag}@gov.example")
    _group(conn, ent, "safety_mgmt", [safety])
    _group(conn, None, regulator_group_code("140100"), [city])
    _group(conn, None, regulator_group_code("140200"), [datong])
    with smtp_server() as smtp, http_receiver() as sms:
        _channel(conn, "email", {"host": "127.0.0.1", "port": smtp.port,
                                 "sender": "hazwatch@plant.example"})  # fmt: skip
        _channel(conn, "sms", {"url": sms.url + "/sms"})
        key = f"X|video|{tag}"
        subject, body = "视频报警：人员闯入装卸区", "已人工审核确认"
        ids = notify_reviewed_alarm(conn, enterprise_id=ent, key=key, subject=subject, body=body)
        assert notify_reviewed_alarm(conn, enterprise_id=ent, key=key, subject="x", body="y") == (
            ids
        )  # the same review twice: once
        assert notify_reviewed_alarm(conn, enterprise_id=other, key=f"Y|{tag}", subject="x",
                                     body="y") != []  # 大同市's duty group  # fmt: skip
        deliver_due(conn)
        mails = {r: m for m in smtp.mails for r in m.recipients}
        texts = [r.json for r in sms.for_path("/sms")]
    assert f"safety-{tag}@plant.example" in mails and f"city-{tag}@gov.example" in mails
    assert "人员闯入装卸区" in mails[f"city-{tag}@gov.example"].message["Subject"]
    assert [t["to"] for t in texts if "人员闯入" in t["text"]] == ["+8613800000011"]
    # The Datong regulator heard of the Datong enterprise only.
    assert [m.message["Subject"] for m in smtp.mails if f"datong-{tag}@gov.example" in
            m.recipients] == ["[报警] x"]  # fmt: skip
    # Nobody responsible (no safety group, no duty group up to the province): a warning, no
    # failure, so the review that calls this still completes.
    lonely, _ = make_enterprise(conn, "无人负责", "朔州市")
    assert notify_reviewed_alarm(conn, enterprise_id=lonely, key=f"Z|{tag}", subject="x",
                                 body="y") == []  # fmt: skip
