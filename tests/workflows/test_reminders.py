"""Reminders of expiring items (issue 6; C1, C3, C4): scans N days ahead with an injected
"today", one reminder per item per period and a new one in the next, per-source settings,
function and SQL sources, items nobody could receive, and the shipped sources (equipment
inspection, sensor calibration) over the real registers."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor, acting
from hazwatch.scheduler import default_jobs
from hazwatch.settings import Settings
from tests.conftest import make_enterprise
from tests.workflows.alerting_servers import make_user
from workflows import reminders
from workflows.reminders import Item, ReminderError, configure, register_source, scan

TEST = Actor(None, "test")
TODAY = date(2031, 3, 1)


def test_periods_and_messages_pure() -> None:
    due = TODAY + timedelta(days=30)
    periods = [reminders.period_of(TODAY + timedelta(days=d), due, 7) for d in range(0, 40, 1)]
    # Counted back from the item's date: 30..28 days ahead are one period, then every 7 days.
    assert periods[:3] == [4, 4, 4] and periods[3] == 3 and periods[10] == 2
    assert periods[30] == 0 and periods[31] == -1 and periods[38] == -2
    assert reminders.in_window(TODAY, due, 30) and not reminders.in_window(TODAY, due, 29)
    source = reminders.SOURCES["equipment.inspection"]
    subject, body, severity = reminders.message(source, Item("1", "P-101 进料泵", due), TODAY)
    assert subject == "设备检验到期提醒：P-101 进料泵（2031-03-31，30 天后到期）"
    assert "due in 30 days" in body and severity == "info"
    late = reminders.message(source, Item("1", "P-101", TODAY - timedelta(days=3)), TODAY)
    assert "已超期 3 天" in late[0] and late[2] == "warning"
    with pytest.raises(ReminderError, match="either query or fetch"):
        register_source("x.y", title={"zh": "x", "en": "x"})
    with pytest.raises(ReminderError, match="period days must be 1 to 365"):
        register_source("x.y", title={"zh": "x", "en": "x"}, query="SELECT 1", period_days=0)


def _member_group(conn: psycopg.Connection, ent: int, code: str) -> tuple[int, int]:
    user = make_user(conn, role="operator", enterprise_id=ent)
    gid = registers.insert(
        conn, TEST, "user_group", {"enterprise_id": ent, "code": code, "name": code}
    )
    registers.insert(conn, TEST, "user_group_member", {"group_id": gid, "user_id": user})
    return user, gid


def _inbox(conn: psycopg.Connection, user: int) -> list[str]:
    rows = conn.execute(
        "SELECT subject FROM workflow.inbox WHERE user_id = %s ORDER BY id", (user,)
    ).fetchall()
    return [r[0] for r in rows]


def test_equipment_inspection_once_per_period(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, "提醒测试")
    user, _ = _member_group(conn, ent, "equipment")
    unit = registers.insert(
        conn, TEST, "unit", {"enterprise_id": ent, "code": "U1", "name": "一装置"}
    )
    pump = registers.insert(
        conn,
        TEST,
        "equipment",
        {"unit_id": unit, "code": "P-101", "name": "进料泵", "kind": "pump"},
    )
    due = TODAY + timedelta(days=31)
    with acting(conn, TEST, "inspection plan"):
        conn.execute(
            "UPDATE registry.equipment SET next_inspection_date = %s WHERE id = %s", (due, pump)
        )

    def run(day: date) -> list[tuple[str, str, int]]:
        res = scan(conn, today=day, sources=["equipment.inspection"])
        return [s for s in res.sent if s[1] == str(pump)]

    assert run(TODAY) == []  # 31 days ahead: outside the 30-day window
    first = run(TODAY + timedelta(days=1))
    assert first == [("equipment.inspection", str(pump), 4)]
    assert run(TODAY + timedelta(days=1)) == []  # the same scan again
    assert run(TODAY + timedelta(days=3)) == []  # same period
    assert run(TODAY + timedelta(days=4)) == [("equipment.inspection", str(pump), 3)]
    assert _inbox(conn, user) == [
        "设备检验到期提醒：P-101 进料泵（2031-04-01，30 天后到期）",
        "设备检验到期提醒：P-101 进料泵（2031-04-01，27 天后到期）",
    ]
    # Renewed (a new date): reminded afresh in its own periods.
    with acting(conn, TEST, "inspected"):
        conn.execute(
            "UPDATE registry.equipment SET next_inspection_date = %s WHERE id = %s",
            (due + timedelta(days=365), pump),
        )
    assert run(TODAY + timedelta(days=5)) == []
    keys = conn.execute(
        "SELECT item_key, period, cardinality(notification_ids) FROM workflow.reminder_sent"
        " WHERE source = 'equipment.inspection' AND item_key LIKE %s ORDER BY sent_at",
        (f"{pump}@%",),
    ).fetchall()
    assert keys == [(f"{pump}@2031-04-01", "4", 1), (f"{pump}@2031-04-01", "3", 1)]


def test_sensor_calibration_source(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, "校验提醒")
    user, _ = _member_group(conn, ent, "instrument")
    sensor = registers.insert(
        conn, TEST, "sensor", {"enterprise_id": ent, "code": "GD-07", "kind": "gas_combustible"}
    )
    with acting(conn, TEST, "calibration plan"):
        conn.execute(
            "UPDATE registry.sensor SET calibration_due = %s WHERE id = %s",
            (TODAY - timedelta(days=2), sensor),
        )
    res = scan(conn, today=TODAY, sources=["sensor.calibration"])
    assert ("sensor.calibration", str(sensor), -1) in res.sent
    assert _inbox(conn, user) == ["仪表校验到期提醒：GD-07（2031-02-27，已超期 2 天）"]
    severity = conn.execute(
        "SELECT severity FROM workflow.outbox WHERE user_id = %s", (user,)
    ).fetchone()
    assert severity == ("warning",)


def test_function_source_settings_and_unaddressed(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, "证书提醒")
    user = make_user(conn, role="operator", enterprise_id=ent)
    name = f"test.cert{uuid.uuid4().hex[:8]}"
    items = [
        Item("A-1", "特种作业证 张三", TODAY + timedelta(days=20), ent, users=(user,)),
        Item("A-2", "特种作业证 李四", TODAY + timedelta(days=40), ent, users=(user,)),
        Item("A-3", "无人负责的证书", TODAY + timedelta(days=5), ent),
    ]
    seen: list[tuple[date, date]] = []

    def fetch(c: psycopg.Connection, today: date, until: date) -> list[Item]:
        seen.append((today, until))
        return [i for i in items if i.expires_on <= until]

    register_source(name, title={"zh": "证书到期", "en": "Certificate expiry"}, fetch=fetch)
    res = scan(conn, today=TODAY, sources=[name])
    assert seen == [(TODAY, TODAY + timedelta(days=30))]
    assert [s[1] for s in res.sent] == ["A-1"]
    assert res.unaddressed == [(name, "A-3")]  # not marked: retried once someone is named
    # Administrators widen the window: the 40-day item comes in, A-1 is not repeated.
    admin = Actor(make_user(conn, role="admin"), "admin")
    configure(conn, admin, name, days_ahead=45, period_days=7)
    res = scan(conn, today=TODAY, sources=[name])
    assert [s[1] for s in res.sent] == ["A-2"]
    assert seen[-1] == (TODAY, TODAY + timedelta(days=45))
    logged = conn.execute(
        "SELECT actor_id, after ->> 'days_ahead' FROM audit.log"
        " WHERE entity = 'workflow.reminder_setting' AND after ->> 'source' = %s",
        (name,),
    ).fetchall()
    assert logged == [(admin.id, "45")]
    configure(conn, admin, name, days_ahead=45, period_days=7, active=False)
    assert scan(conn, today=TODAY + timedelta(days=30), sources=[name]).sent == []
    with pytest.raises(ReminderError, match=r"no reminder source 'no\.such'"):
        configure(conn, admin, "no.such", days_ahead=1, period_days=1)


def test_a_failing_source_does_not_stop_the_others(conn: psycopg.Connection) -> None:
    bad = f"test.bad{uuid.uuid4().hex[:8]}"
    register_source(
        bad,
        title={"zh": "坏来源", "en": "Broken"},
        query="SELECT no_such_column FROM registry.equipment WHERE %(until)s IS NOT NULL",
    )
    res = scan(conn, today=TODAY, sources=[bad, "sensor.calibration"])
    assert len(res.errors) == 1 and res.errors[0].startswith(f"{bad}: column")
    conn.execute("SELECT 1")  # the connection is still usable
    del reminders.SOURCES[bad]


def test_scheduler_runs_both_jobs(conn: psycopg.Connection, settings: Settings) -> None:
    jobs = {job.name: job for job in default_jobs(settings)}
    assert jobs["approval deadlines"].every == timedelta(minutes=10)
    assert jobs["reminders"].every == timedelta(hours=1)
    assert jobs["reminders"].run(conn).endswith("source errors")
    assert jobs["approval deadlines"].run(conn).endswith("reminders of late approvals")
