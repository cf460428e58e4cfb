"""Editing pump alarm strategies (issue 8, P5) as the strategies page does: the editor's form
through the alerting engine's parser, the checks of place and identity, the replay preview,
search with pages, switching on / off, and the routing of each grade to user groups through
the ``pump-<level>`` escalation policies (only the first tier's groups change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.vibration.strategies import (
    KINDS,
    StrategyError,
    Threshold,
    check_strategy,
    delete_strategy,
    ensure_grade_routing,
    evaluate_strategies,
    grade_routing,
    hourly_means,
    parse_spec,
    preview,
    preview_step_s,
    preview_strategy,
    save_strategy,
    search_strategies,
    set_enabled,
    set_grade_groups,
    strategy_from_form,
    strategy_to_form,
    thresholds_of,
    zone_levels,
)
from hazwatch import registers
from tests.analytics.vibration.pump_fixtures import ACTOR, make_pump_plant, minutes, write_overall
from tests.conftest import make_enterprise
from workflows import alert_config

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _form(**changes: object) -> dict[str, object]:
    """A new strategy's editor values with warning ≥ 4 (clear 3.6) and alarm ≥ 6.6 (5.9)."""
    form = strategy_to_form(None)
    form.update(
        {
            "equipment_id": 7,
            "name": "DE 速度",
            "sensor_id": 12,
            "levels.warning.value": 4,
            "levels.warning.clear": 3.6,
            "levels.alarm.value": 6.6,
            "levels.alarm.clear": 5.9,
        }
    )
    form.update(changes)
    return form


# -- the form (pure) -------------------------------------------------------------------------


def test_form_gives_the_spec_the_engine_accepts() -> None:
    values, errors = strategy_from_form(_form(window_s=120, pending_s=60, keep_firing_s=300))
    assert errors == {}
    assert values["equipment_id"] == 7 and values["sensor_id"] == 12 and values["axis"] is None
    spec = parse_spec("threshold", values["spec"])
    assert [(lv.level, lv.op, lv.value, lv.clear) for lv in spec.levels] == [
        ("warning", ">=", 4.0, 3.6),
        ("alarm", ">=", 6.6, 5.9),
    ]
    assert (spec.window_s, spec.pending_s, spec.keep_firing_s, spec.source) == (120, 60, 300, "raw")


def test_grades_out_of_order_are_refused_at_the_field() -> None:
    """Alarm below warning: the error sits at the alarm's trip value, no spec comes out."""
    values, errors = strategy_from_form(
        _form(**{"levels.alarm.value": 3.0, "levels.alarm.clear": 2.8})
    )
    assert values["spec"] is None
    assert errors["levels.alarm.value"].code == "beyond"
    assert errors["levels.alarm.value"].params == {"other": "warning", "value": 4.0}
    _, errors = strategy_from_form(_form(**{"levels.warning.clear": 4.5}))  # wrong side
    assert errors["levels.warning.clear"].code == "clear_side"
    _, errors = strategy_from_form(_form(**{"levels.warning.value": "abc"}))
    assert errors["levels.warning.value"].code == "number"
    _, errors = strategy_from_form(_form(window_s=0))
    assert errors["window_s"].code == "min"


def test_kind_must_be_a_pump_strategy_kind() -> None:
    _, errors = strategy_from_form(_form(kind="nodata"))  # an engine kind, not a strategy's
    assert errors == {"kind": errors["kind"]} and errors["kind"].code == "choice"
    _, errors = strategy_from_form(_form(kind="trend"))  # a trend needs its target
    assert errors["target"].code == "required"


def test_every_kind_round_trips_through_the_form() -> None:
    from analytics.vibration.strategies import default_specs

    for measure, name, spec in default_specs(2.5, 4.0, 6.6):
        row = {
            "equipment_id": 3,
            "name": name,
            "measure": measure,
            "sensor_id": 9,
            "axis": "Y",
            "tag_id": None,
            "priority": "low",
            "enabled": False,
            "spec": parse_spec(spec["kind"], spec).model_dump(mode="json"),
        }
        values, errors = strategy_from_form(strategy_to_form(row))
        assert errors == {}, (name, errors)
        assert parse_spec(spec["kind"], values["spec"]) == parse_spec(spec["kind"], spec)
        assert (values["axis"], values["priority"], values["enabled"]) == ("Y", "low", False)
    assert {s["kind"] for _, _, s in default_specs(2.5, 4.0, 6.6)} == set(KINDS)


def test_a_tag_strategy_has_no_sensor_or_axis() -> None:
    values, _ = strategy_from_form(_form(measure="tag", tag_id="31", axis="X"))
    assert (values["tag_id"], values["sensor_id"], values["axis"]) == (31, None, None)


# -- the preview (pure) ----------------------------------------------------------------------


def _steps() -> list[tuple[datetime, float]]:
    """One value a minute: 2 mm/s for 40 min, 5 (warning) for 30, 8 (alarm) for 20, 2."""
    values = [2.0] * 40 + [5.0] * 30 + [8.0] * 20 + [2.0] * 30
    return list(zip(minutes(T0, len(values)), values, strict=True))


def test_preview_fires_when_the_grades_are_crossed() -> None:
    spec = parse_spec(
        "threshold",
        {"reduce": "last", "window_s": 60, "levels": zone_levels(2.5, 4.0, 6.6)[:2]},
    )
    pv = preview(spec, _steps(), T0 + timedelta(minutes=10), T0 + timedelta(minutes=119), 60)
    assert [(at - T0, level) for at, level, _ in pv.fired] == [
        (timedelta(minutes=40), "warning"),
        (timedelta(minutes=70), "alarm"),  # a new grade of the same incident
    ]
    assert [at - T0 for at in pv.resolved] == [timedelta(minutes=90)]
    assert pv.firing_s == 50 * 60 and pv.evaluations == 110 and pv.final_state == "normal"
    assert pv.thresholds == [
        Threshold("warning", "value", 4.0, 3.6),
        Threshold("alarm", "value", 6.6, 5.94),
    ]


def test_preview_honours_the_pending_time() -> None:
    """Five minutes pending: the warning fires five minutes after the value got there."""
    spec = parse_spec(
        "threshold",
        {"reduce": "last", "window_s": 60, "pending_s": 300, "levels": zone_levels(2.5, 4, 6.6)},
    )
    pv = preview(spec, _steps(), T0 + timedelta(minutes=10), T0 + timedelta(minutes=119), 60)
    first = pv.fired[0]
    assert (first[0] - T0, first[1]) == (timedelta(minutes=45), "warning")


def test_rate_trend_and_baseline_lines() -> None:
    base = parse_spec(
        "baseline",
        {"levels": [{"level": "warning", "op": ">=", "value": 2, "clear": 1.6}]},
    )
    assert thresholds_of(base) == [Threshold("warning", "compared", 2.0, 1.6)]
    assert thresholds_of(base, 3.0) == [
        Threshold("warning", "compared", 2.0, 1.6),
        Threshold("warning", "value", 6.0, pytest.approx(4.8)),  # × the baseline
    ]
    trend = parse_spec(
        "trend",
        {"target": 6.6, "levels": [{"level": "alarm", "op": "<=", "value": 86400, "clear": 1e5}]},
    )
    assert thresholds_of(trend) == [
        Threshold("alarm", "compared", 86400.0, 1e5),
        Threshold("target", "value", 6.6, None),
    ]
    rate = parse_spec(
        "rate",
        {"window_s": 600, "rate_unit_s": 3600,
         "levels": [{"level": "warning", "op": ">=", "value": 1.5, "clear": 0.75}]},
    )  # fmt: skip
    pv = preview(rate, _steps(), T0 + timedelta(minutes=30), T0 + timedelta(minutes=60), 60)
    # 2 -> 5 mm/s within ten minutes is 18 mm/s per hour: the rate strategy fires at once
    assert [(at - T0, level) for at, level, _ in pv.fired] == [(timedelta(minutes=40), "warning")]
    assert pv.compared[0] == (T0 + timedelta(minutes=30), 0.0)


def test_baseline_preview_divides_by_the_baseline() -> None:
    spec = parse_spec(
        "baseline",
        {"reduce": "last", "window_s": 60,
         "levels": [{"level": "warning", "op": ">=", "value": 2, "clear": 1.6}]},
    )  # fmt: skip
    pv = preview(spec, _steps(), T0 + timedelta(minutes=30), T0 + timedelta(minutes=50), 60, 2.0)
    assert [(at - T0, level) for at, level, _ in pv.fired] == [(timedelta(minutes=40), "warning")]
    assert pv.compared[-1] == (T0 + timedelta(minutes=50), 2.5)  # 5 mm/s / 2
    nobase = preview(spec, _steps(), T0 + timedelta(minutes=30), T0 + timedelta(minutes=50), 60)
    assert not nobase.fired and nobase.errors  # says why: no baseline learned


def test_preview_steps_and_hourly_means() -> None:
    assert [preview_step_s(d) for d in (1, 3, 7)] == [60, 180, 420]
    t = T0
    assert hourly_means(
        [(t, 1.0), (t + timedelta(minutes=59), 3.0), (t + timedelta(hours=1), 5.0)]
    ) == [2.0, 5.0]
    assert hourly_means([]) == []


# -- database --------------------------------------------------------------------------------


def _save(conn: psycopg.Connection, plant: object, name: str, **kw: object) -> int:
    args: dict[str, object] = {
        "equipment_id": plant.pump_id,  # type: ignore[attr-defined]
        "name": name,
        "measure": "velocity_rms_mm_s",
        "sensor_id": plant.sensors["DE"],  # type: ignore[attr-defined]
        "spec": {"kind": "threshold", "window_s": 180, "levels": zone_levels(2.5, 4.0, 6.6)},
    }
    args.update(kw)
    return save_strategy(conn, ACTOR, **args)  # type: ignore[arg-type]


def test_checks_name_every_problem_at_its_field(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    other = make_pump_plant(conn, groups=())
    _save(conn, plant, "DE 速度")
    problems = check_strategy(
        conn,
        equipment_id=plant.pump_id,
        name=" DE 速度 ",
        measure="velocity_rms_mm_s",
        sensor_id=other.sensors["DE"],
        axis="W",
        priority="urgent",
    )
    assert {f: e.code for f, e in problems.items()} == {
        "name": "duplicate_name",
        "sensor_id": "sensor_other_pump",
        "axis": "choice",
        "priority": "choice",
    }
    # the same name is fine for the strategy itself (an edit) and on another pump
    sid = conn.execute(
        "SELECT id FROM vib.alarm_strategy WHERE equipment_id = %s", (plant.pump_id,)
    ).fetchone()[0]
    ok = dict(measure="velocity_rms_mm_s", name="DE 速度")
    assert (
        check_strategy(
            conn, equipment_id=plant.pump_id, sensor_id=plant.sensors["DE"], strategy_id=sid, **ok
        )
        == {}
    )
    assert (
        check_strategy(conn, equipment_id=other.pump_id, sensor_id=other.sensors["DE"], **ok) == {}
    )
    problems = check_strategy(conn, equipment_id=None, name="", measure="tag")
    assert {f: e.code for f, e in problems.items()} == {
        "equipment_id": "required",
        "name": "required",
        "tag_id": "required",
    }
    # a tag of another enterprise cannot feed this pump's alarms
    foreign = registers.insert(
        conn, ACTOR, "tag", {"enterprise_id": other.enterprise_id, "name": f"TI-{other.pump_code}"}
    )
    problems = check_strategy(
        conn, equipment_id=plant.pump_id, name="轴承温度", measure="tag", tag_id=foreign
    )
    assert problems["tag_id"].code == "tag_other_enterprise"
    with pytest.raises(StrategyError, match="not a tag of") as err:
        _save(conn, plant, "轴承温度", measure="tag", tag_id=foreign, sensor_id=None)
    assert err.value.field == "tag_id"


def test_search_pages_and_filters(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    for i in range(25):
        _save(conn, plant, f"DE 策略 {i:02d}", enabled=i % 5 != 0)
    rate = {"kind": "rate", "window_s": 600, "rate_unit_s": 3600,
            "levels": [{"level": "warning", "op": ">=", "value": 1.5, "clear": 0.7}]}  # fmt: skip
    _save(conn, plant, "DE 变化率", spec=rate)
    ents = [plant.enterprise_id]
    rows, total = search_strategies(conn, ents, limit=20, offset=0)
    assert total == 26 and len(rows) == 20
    rows2, _ = search_strategies(conn, ents, limit=20, offset=20)
    assert len(rows2) == 6 and not {r["id"] for r in rows} & {r["id"] for r in rows2}
    assert search_strategies(conn, ents, kind="rate")[1] == 1
    assert search_strategies(conn, ents, enabled=False)[1] == 5
    assert search_strategies(conn, ents, text="策略 1")[1] == 10
    assert search_strategies(conn, ents, text="100%")[1] == 0  # % is taken literally
    assert search_strategies(conn, ents, text=plant.pump_code)[1] == 26
    assert search_strategies(conn, ents, equipment_id=plant.pump_id + 10**6)[1] == 0
    other, _ = make_enterprise(conn)
    assert search_strategies(conn, [other])[1] == 0  # another enterprise sees none
    (row,) = [r for r in rows if r["name"] == "DE 策略 00"]
    assert row["point"] == "DE" and row["enabled"] is False and row["equipment"] == plant.pump_code


def test_enable_disable_and_delete_are_audited(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    sid = _save(conn, plant, "DE 速度", reason="MOC-1")
    set_enabled(conn, ACTOR, sid, False, "检修期间停用")
    assert conn.execute(
        "SELECT enabled FROM vib.alarm_strategy WHERE id = %s", (sid,)
    ).fetchone() == (False,)
    assert evaluate_strategies(conn, now=T0, equipment_ids=[plant.pump_id]).strategies == 0
    delete_strategy(conn, ACTOR, sid, "不再需要")
    logged = conn.execute(
        "SELECT action, reason FROM audit.log WHERE entity = 'vib.alarm_strategy'"
        " AND entity_id = %s ORDER BY id",
        (str(sid),),
    ).fetchall()
    assert logged == [("insert", "MOC-1"), ("update", "检修期间停用"), ("delete", "不再需要")]
    with pytest.raises(StrategyError, match="no strategy"):
        set_enabled(conn, ACTOR, sid, True)


def _inbox_users(conn: psycopg.Connection, alert_id: int) -> set[int]:
    rows = conn.execute(
        "SELECT DISTINCT user_id FROM workflow.inbox WHERE link = %s", (f"/alerts?id={alert_id}",)
    ).fetchall()
    return {r[0] for r in rows}


def test_routing_by_grade_edits_the_first_tiers_groups(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn)
    ent = plant.enterprise_id
    g = plant.groups
    ids = ensure_grade_routing(conn, ACTOR, ent, {"warning": ["equipment"], "alarm": ["equipment"]})
    routes = {r.level: r for r in grade_routing(conn, ent)}
    assert routes["warning"].group_ids == (g["equipment"],)
    assert routes["danger"].policy_id is None and routes["danger"].group_ids == ()
    assert all(r.shadowed_by == () for r in routes.values())
    # someone added a second tier to the alarm policy on the escalation policies page
    tiers = [
        {"after_s": 0, "groups": [g["equipment"]], "channels": ["inapp"]},
        {"after_s": 1800, "groups": [g["leadership"]]},
    ]
    alert_config.update(conn, ACTOR, "escalation_policy", ids["alarm"], {"tiers": tiers})

    out = set_grade_groups(
        conn,
        ACTOR,
        ent,
        {"warning": [g["leadership"]], "alarm": [g["equipment"], g["safety_mgmt"]],
         "danger": [g["leadership"]]},
        "MOC-9 分级通知调整",
    )  # fmt: skip
    assert out["warning"] == ids["warning"] and out["alarm"] == ids["alarm"]
    stored = conn.execute(
        "SELECT tiers FROM workflow.escalation_policy WHERE id = %s", (ids["alarm"],)
    ).fetchone()[0]
    assert stored == [
        {"after_s": 0, "groups": [g["equipment"], g["safety_mgmt"]], "channels": ["inapp"]},
        {"after_s": 1800, "groups": [g["leadership"]]},  # kept
    ]
    routes = {r.level: r for r in grade_routing(conn, ent)}
    assert routes["alarm"].later_tiers == 1 and routes["danger"].policy_id == out["danger"]
    logged = conn.execute(
        "SELECT entity_id, action FROM audit.log WHERE entity = 'workflow.escalation_policy'"
        " AND entity_id = ANY(%s) AND reason = 'MOC-9 分级通知调整' ORDER BY id",
        ([str(i) for i in out.values()],),
    ).fetchall()
    assert sorted(logged) == sorted(
        [(str(ids["warning"]), "update"), (str(ids["alarm"]), "update"),
         (str(out["danger"]), "insert")]
    )  # fmt: skip

    # the engine now tells the leadership of a warning, not the equipment department
    _save(conn, plant, "DE 速度")
    write_overall(conn, plant.sensors["DE"], minutes(T0, 3), [4.8, 4.8, 4.8])
    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=2), equipment_ids=[plant.pump_id])
    (alert_id,) = rep.fired
    assert _inbox_users(conn, alert_id) == {plant.users["leadership"][0]}


def test_routing_refuses_what_would_lose_alarms(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn)
    ent = plant.enterprise_id
    ensure_grade_routing(conn, ACTOR, ent, {"alarm": ["equipment"]})
    with pytest.raises(StrategyError) as err:
        set_grade_groups(conn, ACTOR, ent, {"alarm": []})
    assert (err.value.field, err.value.code) == ("routes.alarm", "routes_empty")
    other = make_pump_plant(conn)
    with pytest.raises(StrategyError) as err:
        set_grade_groups(conn, ACTOR, ent, {"warning": [other.groups["equipment"]]})
    assert (err.value.field, err.value.code) == ("routes.warning", "group_scope")
    assert set_grade_groups(conn, ACTOR, ent, {"danger": []}) == {}  # nothing asked, none made
    assert conn.execute(
        "SELECT count(*) FROM workflow.escalation_policy WHERE enterprise_id = %s", (ent,)
    ).fetchone() == (1,)
    # a policy placed before the grade's own is reported: it decides for pump alarms
    alert_config.insert(
        conn,
        ACTOR,
        "escalation_policy",
        {"enterprise_id": ent, "code": "all-first", "position": 10,
         "tiers": [{"after_s": 0, "groups": [plant.groups["leadership"]]}]},
    )  # fmt: skip
    routes = {r.level: r for r in grade_routing(conn, ent)}
    assert routes["alarm"].shadowed_by == ("all-first",)


def test_preview_reads_the_points_history(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    now = T0 + timedelta(hours=2)
    values = [2.0] * 60 + [5.0] * 30 + [2.0] * 30  # X; Y and Z 60 % of it
    write_overall(conn, plant.sensors["DE"], minutes(T0, 120), values)
    point = {"measure": "velocity_rms_mm_s", "sensor_id": plant.sensors["DE"], "axis": None}
    spec = parse_spec("threshold", {"window_s": 120, "reduce": "avg",
                                    "levels": zone_levels(2.5, 4.0, 6.6)})  # fmt: skip
    series, pv = preview_strategy(conn, {**point, "tag_id": None}, spec, now=now, days=1)
    assert len(series) == 120 and max(v for _, v in series) == 5.0  # the worst axis
    assert [level for _, level, _ in pv.fired] == ["warning"]
    assert pv.fired[0][0] - T0 == timedelta(minutes=61)  # the 2-minute average passes 4
    _, quiet = preview_strategy(conn, {**point, "tag_id": None, "axis": "Y"}, spec, now=now)
    assert quiet.fired == []  # Y is 3 mm/s at most
