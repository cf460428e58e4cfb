"""The demo's alerting provisioning (issue 6): run twice it leaves the same rows (and writes
nothing the second time); the simulated loading-area leak then fires its rule through the real
engine within two minutes and tells the demo administrator in-app (tier 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hazwatch import registers
from ingest.simulator.gas import GasPlant
from tests.conftest import make_enterprise
from tests.workflows.alerting_servers import TEST, make_user
from workflows import alerting
from workflows.alert_demo import GROUPS, POLICY, provision_demo_alerting
from workflows.notify import unread_count
from workflows.rules import RuleSpec


def snapshot(conn: psycopg.Connection, ent: int) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    return {
        "rules": cur.execute(
            "SELECT id, code, kind, tag_id, priority, spec, labels, enabled"
            " FROM workflow.alert_rule WHERE enterprise_id = %s ORDER BY id",
            (ent,),
        ).fetchall(),
        "groups": cur.execute(
            "SELECT g.id, g.code, array_agg(m.user_id ORDER BY m.user_id) AS members"
            " FROM workflow.user_group g LEFT JOIN workflow.user_group_member m"
            " ON m.group_id = g.id WHERE g.enterprise_id = %s GROUP BY g.id ORDER BY g.id",
            (ent,),
        ).fetchall(),
        "policies": cur.execute(
            "SELECT id, code, tiers, calendar_id, until, repeat_s"
            " FROM workflow.escalation_policy WHERE enterprise_id = %s",
            (ent,),
        ).fetchall(),
        "calendars": cur.execute(
            "SELECT id, code, hours, working_days FROM workflow.calendar WHERE enterprise_id = %s",
            (ent,),
        ).fetchall(),
        "tags": cur.execute(
            "SELECT id, name FROM registry.tag WHERE enterprise_id = %s ORDER BY id", (ent,)
        ).fetchall(),
    }


def audit_rows(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM audit.log WHERE actor = 'demo'").fetchone()
    assert row is not None
    return int(row[0])


def test_provisioning_twice_gives_the_same_rows(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    registers.insert(conn, TEST, "unit", {"enterprise_id": ent, "code": "LA-1", "name": "装卸区"})
    admin = make_user(conn, "admin")
    first = provision_demo_alerting(conn, ent, admin)
    before = snapshot(conn, ent)
    logged = audit_rows(conn)
    second = provision_demo_alerting(conn, ent, admin)
    assert snapshot(conn, ent) == before
    assert audit_rows(conn) == logged  # nothing written the second time
    assert first.added > 0 and second.added == 0 and first.rules == second.rules

    assert [g["code"] for g in before["groups"]] == [code for code, _ in GROUPS]
    assert all(g["members"] == [admin] for g in before["groups"])
    (policy,) = before["policies"]
    assert policy["code"] == POLICY and policy["calendar_id"] == before["calendars"][0]["id"]
    assert [t["after_s"] for t in policy["tiers"]] == [0, 180, 600, 1800]
    assert [t["groups"] for t in policy["tiers"]] == [[g["id"]] for g in before["groups"]]
    kinds = {r["kind"] for r in before["rules"]}
    assert kinds == {"threshold", "rate", "trend", "baseline", "nodata"}
    for r in before["rules"]:
        RuleSpec.model_validate(r["spec"])  # everything stored is what the engine accepts
    la1 = conn.execute(
        "SELECT u.code FROM registry.tag t JOIN registry.unit u ON u.id = t.unit_id"
        " WHERE t.enterprise_id = %s AND t.name = 'GD-LA1-01.LEL'",
        (ent,),
    ).fetchone()
    assert la1 == ("LA-1",)


def test_the_first_simulated_leak_fires_and_reaches_tier_one(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    admin = make_user(conn, "admin")
    provision_demo_alerting(conn, ent, admin)
    cur = conn.cursor(row_factory=dict_row)
    rule = cur.execute(
        "SELECT * FROM workflow.alert_rule WHERE enterprise_id = %s AND code = %s",
        (ent, "gas-gd-la1-01-lel"),
    ).fetchone()
    assert rule is not None
    plant = GasPlant(seed=1)
    det = next(d for d in plant.detectors if d.code == "GD-LA1-01")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with (
        conn.cursor() as copy_cur,
        copy_cur.copy("COPY ts.sample (time, tag_id, value, quality) FROM STDIN") as copy,
    ):
        for s in range(0, 181):
            copy.write_row((start + timedelta(seconds=s), rule["tag_id"], plant.value(det, s), 192))
    seen: list[tuple[int, str, str | None]] = []
    for s in range(0, 181, 15):  # the scheduler's 15 s
        now = start + timedelta(seconds=s)
        with conn.transaction():
            alerting.evaluate_rule(conn, rule, now, alerting.EvalReport())
        alerting.escalate(conn, now=now)
        state = cur.execute(
            "SELECT state, detail ->> 'level' AS level FROM workflow.rule_state WHERE rule_id = %s",
            (rule["id"],),
        ).fetchone()
        assert state is not None
        seen.append((s, state["state"], state["level"]))
    firing = [s for s, st, _ in seen if st == "firing"]
    assert firing and firing[0] <= 120, seen
    assert "danger" in {lv for _, _, lv in seen}, seen  # the plume passes 50 %LEL
    assert all(st == "normal" for s, st, _ in seen if s < 60), seen
    assert unread_count(conn, admin) >= 1
    subject = conn.execute(
        "SELECT subject FROM workflow.inbox WHERE user_id = %s ORDER BY id LIMIT 1", (admin,)
    ).fetchone()
    assert subject is not None and "GD-LA1-01" in subject[0]
