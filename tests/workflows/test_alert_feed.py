"""The ``alert`` feed between two real instances (P13, R5, R8, R9): a gas alarm fired by the
rule engine and a pump alarm raised by a vibration strategy at the enterprise reach the
province exactly once across an upstream stop and restart, with their later level change,
acknowledgement, resolve and closing in order; an old snapshot arriving late never moves an
alert back; received alerts are not escalated above; video, positioning and process-alarm
alerts are not queued; an enterprise outside a city token's region is refused with the reason,
and what a city receives it forwards unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from analytics.vibration.strategies import evaluate_strategies, save_strategy, zone_levels
from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.settings import load_settings
from hazwatch.tokens import create_token
from tests.analytics.vibration.pump_fixtures import minutes, write_overall
from tests.conftest import run_cli
from tests.workflows.alerting_servers import make_group, make_user
from tests.workflows.conftest import Instance, Link, drain
from workflows import alert_config, alerting
from workflows.upward import Pusher, retry_rejected

ACTOR = Actor(None, "test")


def _gas_rule(conn: psycopg.Connection, ent: int) -> tuple[int, int]:
    """A combustible gas detector (registry.sensor) with its %LEL tag in unit LA-1 and a
    two-level threshold rule on it, as the demo has them. Returns (rule, tag)."""
    unit = registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": "LA-1", "name": "装卸区"}
    )
    code = f"GD-{uuid.uuid4().hex[:6].upper()}"
    registers.insert(
        conn, ACTOR, "sensor", {"enterprise_id": ent, "code": code, "kind": "gas_combustible"}
    )
    tag = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": f"{code}.LEL",
                                                "unit_id": unit, "source": "mqtt"})  # fmt: skip
    levels = [
        {"level": "alarm", "op": ">", "value": 20, "clear": 15},
        {"level": "danger", "op": ">", "value": 50, "clear": 40},
    ]
    rule = alert_config.insert(
        conn,
        ACTOR,
        "alert_rule",
        {"enterprise_id": ent, "code": f"gas-{code.lower()}", "name": f"{code} 可燃气体浓度高",
         "kind": "threshold", "tag_id": tag, "priority": "emergency",
         "spec": {"kind": "threshold", "window_s": 30, "reduce": "last", "pending_s": 0,
                  "nodata_s": 3600, "levels": levels}},
    )  # fmt: skip
    return rule, tag


def _evaluate(conn: psycopg.Connection, rule_id: int, tag: int, at: datetime, value: float) -> int:
    """One sample, then the engine evaluates this rule (only: the session database holds other
    tests' rules); the rule's open alert id."""
    conn.execute("INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, %s, %s)",
                 (at, tag, value))  # fmt: skip
    with conn.cursor(row_factory=dict_row) as cur:
        rule = cur.execute("SELECT * FROM workflow.alert_rule WHERE id = %s", (rule_id,)).fetchone()
    with conn.transaction():
        alerting.evaluate_rule(conn, rule, at, alerting.EvalReport())
    row = conn.execute(
        "SELECT id FROM workflow.alert WHERE rule_id = %s ORDER BY id DESC LIMIT 1", (rule_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def _pump(conn: psycopg.Connection, ent: int) -> tuple[int, int]:
    """A pump with a DE vibration sensor and a zone-graded velocity strategy (pump, sensor)."""
    unit = registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": "U-P", "name": "泵区"}
    )
    code = f"P-{uuid.uuid4().hex[:5].upper()}"
    pump = registers.insert(
        conn, ACTOR, "equipment", {"unit_id": unit, "code": code, "name": "进料泵", "kind": "pump"}
    )
    sensor = {"enterprise_id": ent, "equipment_id": pump, "code": f"{code}-DE",
              "kind": "vibration_triaxial", "measurement_point": "DE"}  # fmt: skip
    de = registers.insert(conn, ACTOR, "sensor", sensor)
    save_strategy(
        conn, ACTOR, equipment_id=pump, name="DE 速度", sensor_id=de, measure="velocity_rms_mm_s",
        spec={"kind": "threshold", "window_s": 120, "levels": zone_levels(2.5, 4.0, 6.6)},
    )  # fmt: skip
    return pump, de


def _items(conn: psycopg.Connection, code: str) -> list[dict[str, Any]]:
    """This enterprise's queued alert snapshots, oldest first."""
    rows = conn.execute(
        "SELECT id, key, data, sent_at, rejected_at FROM exchange.outbox WHERE kind = 'alert'"
        " AND data ->> 'enterprise_code' = %s ORDER BY id",
        (code,),
    ).fetchall()
    keys = ("id", "key", "data", "sent_at", "rejected_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


ALERT_COLUMNS = ("category", "state", "level", "fired_at", "resolved_at", "acked_at", "closed_at")


def _local(conn: psycopg.Connection, alert_id: int) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT category, state, level, fired_at, resolved_at, acked_at, closed_at"
        " FROM workflow.alert WHERE id = %s",
        (alert_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _above(db_url: str, code: str) -> dict[str, dict[str, Any]]:
    """The province's alerts of the enterprise, by category."""
    with psycopg.connect(db_url) as up, up.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT a.* FROM workflow.alert a JOIN registry.enterprise e ON e.id = a.enterprise_id"
            " WHERE e.code = %s ORDER BY a.id",
            (code,),
        ).fetchall()
    out = {r["category"]: r for r in rows}
    assert len(out) == len(rows), rows  # one alert per incident, never a copy
    return out


def test_gas_and_pump_alerts_arrive_once_and_in_order_across_an_outage(
    conn: psycopg.Connection,
    province: Instance,
    link: Link,
) -> None:
    pusher, code, ent = link.pusher, link.code, link.ent
    rule, tag = _gas_rule(conn, ent)
    pump, de = _pump(conn, ent)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    # Both fire while the province is up. The rule went Normal -> Pending -> Firing in one
    # evaluation: two history rows, one snapshot (the committed result).
    gas = _evaluate(conn, rule, tag, t0, 25.0)
    write_overall(conn, de, minutes(t0, 5), [5.0] * 5)
    rep = evaluate_strategies(conn, now=t0 + timedelta(minutes=4), equipment_ids=[pump])
    assert len(rep.fired) == 1 and not rep.errors
    pump_alert = rep.fired[0]
    items = _items(conn, code)
    assert [i["data"]["category"] for i in items] == ["gas", "pump"]
    first = items[0]["data"]
    (tag_name,) = conn.execute("SELECT name FROM registry.tag WHERE id = %s", (tag,)).fetchone()
    assert (first["state"], first["level"], first["unit_code"], first["tag"]) == (
        "firing", "alarm", "LA-1", tag_name
    )  # fmt: skip
    assert first["fired_at"] is not None and first["priority"] == "emergency"
    assert not [k for k in items[1]["data"]["labels"] if k.endswith("_id")]  # local ids stay
    assert items[1]["data"]["unit_code"] == "U-P"
    assert drain(conn, pusher) == 2
    above = _above(province.db_url, code)
    assert above["gas"]["state"] == "firing" and above["pump"]["level"] == "warning"
    assert above["gas"]["source"] == "exchange" and above["gas"]["labels"]["source"] == "rule"

    # Upstream down: the gas alarm is acknowledged, goes to danger, resolves and is closed;
    # the pump alarm goes to danger and resolves. Everything waits in the outbox.
    province.stop()
    alerting.acknowledge(conn, gas, ACTOR, "已通知现场巡检")
    _evaluate(conn, rule, tag, t0 + timedelta(seconds=60), 61.0)
    _evaluate(conn, rule, tag, t0 + timedelta(seconds=120), 2.0)
    alerting.close(conn, gas, ACTOR, "法兰泄漏已处置")
    write_overall(conn, de, minutes(t0 + timedelta(minutes=5), 5), [11.0] * 5)
    evaluate_strategies(conn, now=t0 + timedelta(minutes=9), equipment_ids=[pump])
    write_overall(conn, de, minutes(t0 + timedelta(minutes=10), 10), [1.0] * 10)
    rep = evaluate_strategies(conn, now=t0 + timedelta(minutes=19), equipment_ids=[pump])
    assert rep.resolved == [pump_alert]
    res = pusher.push_once(conn)
    assert res.error is not None and "unreachable" in res.error
    items = _items(conn, code)
    pending = [i for i in items if i["sent_at"] is None]
    assert [(i["data"]["category"], i["data"]["change"]) for i in pending] == [
        ("gas", "ack"), ("gas", "level"), ("gas", "transition"), ("gas", "close"),
        ("pump", "level"), ("pump", "transition"),
    ]  # fmt: skip
    seqs = [i["data"]["seq"] for i in items]
    assert seqs == sorted(seqs) and len(set(i["key"] for i in items)) == len(items)

    # The acknowledgement's snapshot is held back (as if refused once) and arrives last, after
    # the newer ones: it must not take the alert back to firing or its earlier level.
    ack = pending[0]
    conn.execute("UPDATE exchange.outbox SET rejected_at = now() WHERE id = %s", (ack["id"],))
    province.start()
    conn.execute("UPDATE exchange.outbox SET next_attempt_at = now() WHERE sent_at IS NULL")
    assert drain(conn, pusher) == 5
    assert retry_rejected(conn, "alert") >= 1
    assert drain(conn, pusher) >= 1

    above = _above(province.db_url, code)
    for category, local_id in (("gas", gas), ("pump", pump_alert)):
        got = tuple(above[category][c] for c in ALERT_COLUMNS)
        assert got == _local(conn, local_id), category
        newest = max(i["data"]["seq"] for i in items if i["data"]["category"] == category)
        assert above[category]["origin_seq"] == newest
    assert above["gas"]["state"] == "resolved" and above["gas"]["level"] == "danger"
    assert above["gas"]["acked_at"] is not None and above["gas"]["closed_at"] is not None
    assert above["pump"]["state"] == "resolved" and above["pump"]["level"] == "danger"

    # An answer lost on the way back: the same items again count as duplicates.
    conn.execute(
        "UPDATE exchange.outbox SET sent_at = NULL WHERE kind = 'alert'"
        " AND data ->> 'enterprise_code' = %s",
        (code,),
    )
    res = pusher.push_once(conn)
    assert res.duplicates == res.sent == len(items)
    with psycopg.connect(province.db_url) as up:
        received = up.execute(
            "SELECT count(*) FROM exchange.received WHERE kind = 'alert' AND key LIKE %s",
            (f"{code}|%",),
        ).fetchone()
    assert received == (len(items),)  # every snapshot applied exactly once
    assert _above(province.db_url, code)["gas"]["origin_seq"] == above["gas"]["origin_seq"]


def test_received_alerts_are_not_escalated_above(
    conn: psycopg.Connection,
    province: Instance,
    link: Link,
) -> None:
    pusher, code, ent = link.pusher, link.code, link.ent
    now = datetime.now(UTC).replace(microsecond=0)
    alerting.raise_external_alert(
        conn, "pump_health", f"GW-{uuid.uuid4().hex[:6]}:offline", "warning",
        {"device": "GW-1", "issue": "offline"}, "硬件自诊断：网关离线",
        priority="low", enterprise_id=ent, now=now,
    )  # fmt: skip
    drain(conn, pusher)
    with psycopg.connect(province.db_url, autocommit=True) as up:
        (alert_id,) = up.execute(
            "SELECT a.id FROM workflow.alert a JOIN registry.enterprise e"
            " ON e.id = a.enterprise_id WHERE e.code = %s AND a.category = 'pump_health'",
            (code,),
        ).fetchone()
        # The province has an instance-wide policy that would notify its duty group at once;
        # even with it attached to the received alert, nobody is notified a second time.
        group = make_group(up, [make_user(up)])
        policy = alert_config.insert(
            up, ACTOR, "escalation_policy",
            {"code": f"all-{uuid.uuid4().hex[:6]}", "until": "ack",
             "tiers": [{"after_s": 0, "groups": [group], "channels": ["inapp"]}]},
        )  # fmt: skip
        up.execute("UPDATE workflow.alert SET policy_id = %s WHERE id = %s", (policy, alert_id))
        alerting.escalate(up, now=now + timedelta(hours=1))
        tier, notified = up.execute(
            "SELECT tier, notified_at FROM workflow.alert WHERE id = %s", (alert_id,)
        ).fetchone()
        messages = up.execute(
            "SELECT count(*) FROM workflow.outbox WHERE group_key = %s", (f"alert:{alert_id}",)
        ).fetchone()
        history = up.execute(
            "SELECT count(*) FROM workflow.alert_history WHERE alert_id = %s", (alert_id,)
        ).fetchone()
        up.execute("UPDATE workflow.escalation_policy SET enabled = false WHERE id = %s", (policy,))
        # Handling happens at the enterprise: the upper level's copy cannot be acked or closed.
        for act in (
            lambda: alerting.acknowledge(up, alert_id, ACTOR, "seen"),
            lambda: alerting.close(up, alert_id, ACTOR, "done"),
        ):
            with pytest.raises(alerting.AlertError, match="received from a lower level"):
                act()
        acked = up.execute(
            "SELECT acked_at, closed_at FROM workflow.alert WHERE id = %s", (alert_id,)
        ).fetchone()
    assert (tier, notified, messages, history) == (-1, None, (0,), (0,))
    assert acked == (None, None)


def test_video_positioning_and_process_alarm_alerts_are_not_queued(
    conn: psycopg.Connection,
    link: Link,
) -> None:
    code, ent = link.code, link.ent
    tag = uuid.uuid4().hex[:6]
    ids = {
        source: alerting.raise_external_alert(
            conn,
            source,
            f"{source}:{tag}",
            "alarm",
            {"tag": tag},
            f"{source} {tag}",
            enterprise_id=ent,
        )
        for source in ("video", "contractor_positioning", "process_alarm", "pump")
    }
    categories = dict(
        conn.execute(
            "SELECT source, category FROM workflow.alert WHERE id = ANY(%s)", (list(ids.values()),)
        ).fetchall()
    )
    assert categories == {"video": "video", "contractor_positioning": "positioning",
                          "process_alarm": "process_alarm", "pump": "pump"}  # fmt: skip
    for aid in ids.values():  # resolving is a change too: still nothing queued for them
        alert = conn.execute("SELECT source, key FROM workflow.alert WHERE id = %s", (aid,))
        source, key = alert.fetchone()
        alerting.resolve_external_alert(conn, source, key)
    queued = [i["data"]["source"] for i in _items(conn, code)]
    assert queued == ["pump", "pump"]


def _enterprise_in(conn: psycopg.Connection, code: str, name: str, city: str) -> int:
    region = registers.resolve(conn, "region", city)
    return registers.insert(
        conn, ACTOR, "enterprise", {"code": code, "name": name, "region_id": region}
    )


def test_a_city_token_is_refused_another_citys_alert_and_forwards_its_own(
    conn: psycopg.Connection,
    province: Instance,
    tmp_path: Path,
) -> None:
    """The province's link from the 太原市 instance: an alert of a 太原 enterprise is applied
    and queued upward again unchanged; one of a 大同 enterprise is refused with the reason."""
    tag = uuid.uuid4().hex[:8].upper()
    ours, theirs = f"91140100{tag}TY", f"91140200{tag}DT"
    name = f"city-ty-{tag.lower()}"
    with psycopg.connect(province.db_url, autocommit=True) as up:
        for c in (conn, up):  # known at both levels
            _enterprise_in(c, ours, f"太原转发-{tag}", "太原市")
            _enterprise_in(c, theirs, f"大同转发-{tag}", "大同市")
        token = create_token(up, ACTOR, name, "exchange", region="太原市")
        up.execute("UPDATE exchange.feed SET enabled = true WHERE kind = 'alert'")
    pusher = Pusher.from_settings(
        load_settings(home=tmp_path, upstream={"url": province.url, "token": token})
    )
    key = run_cli("exchange", "key", env={"HAZWATCH_HOME": str(tmp_path)})
    trusted = run_cli("exchange", "trust", "--token", name, "--public-key", key.stdout.strip(),
                      env={"HAZWATCH_DATABASE_URL": province.db_url})  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    pusher.enable_feeds(conn)
    try:
        for code in (ours, theirs):
            alerting.raise_external_alert(
                conn, "pump", f"strategy:{code}", "alarm", {"equipment": "P-1"}, "机泵振动报警",
                enterprise_id=registers.resolve(conn, "enterprise", code),
            )  # fmt: skip
        drain(conn, pusher)
    finally:
        pusher.enable_feeds(conn, False)
        with psycopg.connect(province.db_url, autocommit=True) as up:
            up.execute("UPDATE exchange.feed SET enabled = false WHERE kind = 'alert'")
    (ok,), (refused,) = _items(conn, ours), _items(conn, theirs)
    assert ok["sent_at"] is not None and ok["rejected_at"] is None
    error = conn.execute(
        "SELECT last_error FROM exchange.outbox WHERE id = %s", (refused["id"],)
    ).fetchone()[0]
    assert refused["rejected_at"] is not None
    assert f"enterprise {theirs!r} is outside the region of token {name!r}" in error
    assert set(_above(province.db_url, ours)) == {"pump"}
    assert _above(province.db_url, theirs) == {}
    with psycopg.connect(province.db_url) as up:
        forwarded = up.execute(
            "SELECT key, data FROM exchange.outbox WHERE kind = 'alert' AND key = %s",
            (ok["key"],),
        ).fetchall()
    assert forwarded == [(ok["key"], ok["data"])]  # passed on unchanged, same key
