"""Pump alarm strategies (issue 8, P5): absolute, rate, trend and baseline multiple over
vib.overall, graded and routed to departments by grade through the alerting engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.vibration.strategies import (
    StrategyError,
    default_specs,
    ensure_default_strategies,
    ensure_grade_routing,
    evaluate_strategies,
    parse_spec,
    save_strategy,
    summary_text,
    worst_per_time,
    zone_levels,
)
from tests.analytics.vibration.pump_fixtures import ACTOR, make_pump_plant, minutes, write_overall
from workflows.rules import observe

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- pure ------------------------------------------------------------------------------------


def test_zone_levels_grade_by_iso_zones() -> None:
    """ISO 10816-7 cat. I ≤ 200 kW: B/C 4.0, C/D 6.6 -> warning 4.0, alarm 6.6, danger 9.9."""
    spec = parse_spec(
        "threshold", {"reduce": "avg", "window_s": 300, "levels": zone_levels(2.5, 4.0, 6.6)}
    )
    pts = [(T0 + timedelta(seconds=60 * i), v) for i, v in enumerate([4.5, 4.5, 4.5])]
    now = pts[-1][0]
    assert observe(spec, pts, now).level == "warning"
    assert observe(spec, [(now, 7.0)], now).level == "alarm"
    assert observe(spec, [(now, 10.0)], now).level == "danger"
    assert observe(spec, [(now, 3.9)], now).level is None
    # hysteresis: 3.7 holds a warning (clear 3.6) but does not start one
    assert observe(spec, [(now, 3.7)], now, current_level="warning").level == "warning"


def test_default_specs_are_valid_rules_of_every_kind() -> None:
    specs = default_specs(2.5, 4.0, 6.6)
    kinds = {s["kind"] for _, _, s in specs}
    assert kinds == {"threshold", "rate", "trend", "baseline"}
    for _, _, spec in specs:
        assert parse_spec(spec["kind"], spec).levels


def test_rate_trend_and_baseline_evaluate_with_the_engines_functions() -> None:
    _, _, rate = default_specs(2.5, 4.0, 6.6)[1]
    rising = [(T0 + timedelta(minutes=m), 2.0 + 0.06 * m) for m in range(61)]  # 3.6 mm/s per h
    now = rising[-1][0]
    obs = observe(parse_spec("rate", rate), rising, now)
    assert obs.level == "alarm" and obs.value == pytest.approx(3.6)
    _, _, trend = default_specs(2.5, 4.0, 6.6)[2]
    slow = [(T0 + timedelta(hours=h), 3.0 + 0.1 * h) for h in range(7)]  # 6.6 in 30 h
    obs = observe(parse_spec("trend", trend), slow, slow[-1][0])
    assert obs.level == "warning" and obs.value == pytest.approx(30 * 3600, rel=1e-6)
    _, _, base = default_specs(2.5, 4.0, 6.6)[3]
    obs = observe(parse_spec("baseline", base), [(now, 21.0)], now, baseline=5.0)
    assert obs.level == "alarm" and obs.value == pytest.approx(4.2)


def test_bad_specs_name_the_field() -> None:
    with pytest.raises(StrategyError, match="kind 'limit'"):
        parse_spec("limit", {})
    with pytest.raises(StrategyError, match="at least one level"):
        parse_spec("threshold", {"levels": []})
    with pytest.raises(StrategyError, match="clear"):
        parse_spec("threshold", {"levels": [{"level": "alarm", "op": ">", "value": 5, "clear": 6}]})
    with pytest.raises(StrategyError, match="source"):
        parse_spec("threshold", {"source": "1h", "levels": zone_levels(1, 2, 3)})


def test_worst_axis_and_summary() -> None:
    t = T0
    assert worst_per_time([(t, 1.0), (t, 5.0), (t + timedelta(seconds=1), 2.0)]) == [
        (t, 5.0),
        (t + timedelta(seconds=1), 2.0),
    ]
    text = summary_text("P-101A", "DE", "velocity_rms_mm_s", "threshold", "alarm", 7.1)
    assert "P-101A" in text and "报警" in text and "7.1 mm/s" in text


# -- database --------------------------------------------------------------------------------


def _inbox_users(conn: psycopg.Connection, alert_id: int) -> set[int]:
    rows = conn.execute(
        "SELECT DISTINCT user_id FROM workflow.inbox WHERE link = %s", (f"/alerts?id={alert_id}",)
    ).fetchall()
    return {r[0] for r in rows}


def test_graded_alarms_route_to_each_grades_department(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn)
    ensure_grade_routing(
        conn,
        ACTOR,
        plant.enterprise_id,
        {
            "warning": ["equipment"],
            "alarm": ["equipment", "safety_mgmt"],
            "danger": ["equipment", "safety_mgmt", "leadership"],
        },
    )
    de = plant.sensors["DE"]
    sid = save_strategy(
        conn,
        ACTOR,
        equipment_id=plant.pump_id,
        name="DE 振动速度绝对值",
        measure="velocity_rms_mm_s",
        sensor_id=de,
        spec={
            "kind": "threshold",
            "reduce": "avg",
            "window_s": 180,
            "levels": zone_levels(2.5, 4.0, 6.6),
        },
    )
    # 10 min normal (2 mm/s), 10 min zone C (4.8), 10 min zone D (7.5), 10 min back to 2.
    times = minutes(T0, 40)
    vel = [2.0] * 10 + [4.8] * 10 + [7.5] * 10 + [2.0] * 10
    write_overall(conn, de, times, vel)
    eq, safety, lead = (plant.users[g][0] for g in ("equipment", "safety_mgmt", "leadership"))

    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=9), equipment_ids=[plant.pump_id])
    assert rep.strategies == 1 and not rep.fired and not rep.errors

    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=15), equipment_ids=[plant.pump_id])
    assert len(rep.fired) == 1
    alert_id = rep.fired[0]
    alert = conn.execute(
        "SELECT source, key, level, labels, enterprise_id FROM workflow.alert WHERE id = %s",
        (alert_id,),
    ).fetchone()
    assert alert[:3] == ("pump", f"strategy:{sid}", "warning")
    assert alert[3]["equipment"] == plant.pump_code and alert[3]["department"] == "设备部"
    assert alert[4] == plant.enterprise_id
    assert _inbox_users(conn, alert_id) == {eq}  # warning: the equipment department only

    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=25), equipment_ids=[plant.pump_id])
    assert rep.fired == [alert_id]  # same incident, new grade
    level = conn.execute("SELECT level FROM workflow.alert WHERE id = %s", (alert_id,)).fetchone()
    assert level[0] == "alarm"
    assert _inbox_users(conn, alert_id) == {eq, safety}  # alarm: + safety management
    assert lead not in _inbox_users(conn, alert_id)

    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=39), equipment_ids=[plant.pump_id])
    assert rep.resolved == [alert_id]
    state = conn.execute("SELECT state FROM workflow.alert WHERE id = %s", (alert_id,)).fetchone()
    assert state[0] == "resolved"
    stored = conn.execute(
        "SELECT state ->> 'state' FROM vib.strategy_state WHERE strategy_id = %s", (sid,)
    ).fetchone()
    assert stored[0] in ("resolved", "normal")
    # the configuration change is in the audit log
    assert (
        conn.execute(
            "SELECT count(*) FROM audit.log WHERE entity = 'vib.alarm_strategy' AND entity_id = %s",
            (str(sid),),
        ).fetchone()[0]
        == 1
    )


def test_danger_goes_to_leadership_and_worst_axis_counts(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn)
    ensure_grade_routing(
        conn, ACTOR, plant.enterprise_id, {"warning": ["equipment"], "danger": ["leadership"]}
    )
    nde = plant.sensors["NDE"]
    save_strategy(
        conn,
        ACTOR,
        equipment_id=plant.pump_id,
        name="NDE 速度",
        sensor_id=nde,
        measure="velocity_rms_mm_s",
        spec={"kind": "threshold", "window_s": 120, "levels": zone_levels(2.5, 4.0, 6.6)},
    )
    # Y and Z are 60 % of X: X = 17 mm/s (danger ≥ 9.9) decides, not the quieter axes.
    write_overall(conn, nde, minutes(T0, 3), [17.0, 17.0, 17.0])
    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=2), equipment_ids=[plant.pump_id])
    (alert_id,) = rep.fired
    assert _inbox_users(conn, alert_id) == {plant.users["leadership"][0]}


def test_default_strategies_and_bad_input(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    added = ensure_default_strategies(conn, ACTOR, plant.pump_id)
    assert added == 2 * len(default_specs(2.5, 4.0, 6.6))
    assert ensure_default_strategies(conn, ACTOR, plant.pump_id) == 0  # idempotent
    with pytest.raises(StrategyError, match="already has a strategy"):
        save_strategy(
            conn,
            ACTOR,
            equipment_id=plant.pump_id,
            name="DE 峭度",
            measure="kurtosis",
            sensor_id=plant.sensors["DE"],
            spec={"kind": "threshold", "levels": zone_levels(1, 2, 3)},
        )
    with pytest.raises(StrategyError, match="sensor_id"):
        save_strategy(
            conn,
            ACTOR,
            equipment_id=plant.pump_id,
            name="x",
            measure="kurtosis",
            spec={"kind": "threshold", "levels": zone_levels(1, 2, 3)},
        )
    with pytest.raises(StrategyError, match=r"routes\.alarm"):
        ensure_grade_routing(conn, ACTOR, plant.enterprise_id, {"alarm": ["nobody"]})


def test_demo_provisioning_is_idempotent(conn: psycopg.Connection) -> None:
    from analytics.vibration.strategies import provision_demo_pumps
    from tests.conftest import make_enterprise

    ent, _ = make_enterprise(conn, "演示机泵")
    first = provision_demo_pumps(conn, ent, None)
    assert first == 6 * 2 * len(default_specs(2.5, 4.0, 6.6))
    assert provision_demo_pumps(conn, ent, None) == 0
    rows = conn.execute(
        """SELECT s.code, s.measurement_point, e.code, g.code FROM registry.sensor s
           JOIN registry.equipment e ON e.id = s.equipment_id
           JOIN registry.gateway g ON g.id = s.gateway_id WHERE s.enterprise_id = %s
           ORDER BY s.code""",
        (ent,),
    ).fetchall()
    assert len(rows) == 12 and rows[0] == ("P-101A-DE", "DE", "P-101A", "GW-01")
    levels = conn.execute(
        "SELECT levels FROM workflow.escalation_policy WHERE enterprise_id = %s ORDER BY code",
        (ent,),
    ).fetchall()
    assert [r[0] for r in levels] == [["alarm"], ["danger"], ["warning"]]
