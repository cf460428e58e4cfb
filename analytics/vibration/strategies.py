"""Alarm strategies per measurement point (P5): absolute value, rate of change, trend and
baseline multiple, graded warning / alarm / danger, over ``vib.overall`` (or a tag of
``ts.sample`` such as the bearing temperature), routed to departments by grade through the
alerting engine.

    sid = save_strategy(conn, actor, equipment_id=7, name="DE 振动速度", sensor_id=12,
                        axis=None, measure="velocity_rms_mm_s",
                        spec={"kind": "threshold", "reduce": "avg", "window_s": 300,
                              "levels": [{"level": "warning", "op": ">=", "value": 4.0,
                                          "clear": 3.6}, ...]})
    report = evaluate_strategies(conn, now=now)      # the scheduler's "pump strategies" job
    ensure_grade_routing(conn, actor, enterprise_id,
                         {"warning": ["equipment"], "alarm": ["equipment", "safety_mgmt"],
                          "danger": ["equipment", "safety_mgmt", "leadership"]})

The evaluation is the alerting engine's own: ``workflows.rules.observe`` over the point's
series and ``workflows.states.step`` for pending / keep-firing; only the series comes from
``vib.overall``. A firing strategy becomes an alert of source ``pump`` (key
``strategy:<id>``) through ``raise_external_alert``; the escalation policies of
``ensure_grade_routing`` (matched on ``source = pump`` and the level) tell each grade's groups.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting
from workflows.rules import Observation, RuleSpec, learn_baseline, observe
from workflows.states import RuleState, Timing, step

log = logging.getLogger("hazwatch.vibration.strategies")

SOURCE = "pump"
#: Columns of vib.overall a strategy may watch (names come from here only, never from data).
MEASURES: dict[str, tuple[str, str]] = {
    "velocity_rms_mm_s": ("振动速度有效值", "velocity RMS"),
    "accel_rms_m_s2": ("加速度有效值", "acceleration RMS"),
    "accel_peak_m_s2": ("加速度峰值", "acceleration peak"),
    "displacement_pp_um": ("位移峰峰值", "displacement p-p"),
    "kurtosis": ("峭度", "kurtosis"),
    "crest_factor": ("峰值因子", "crest factor"),
}
UNITS = {
    "velocity_rms_mm_s": "mm/s",
    "accel_rms_m_s2": "m/s²",
    "accel_peak_m_s2": "m/s²",
    "displacement_pp_um": "µm",
    "kurtosis": "",
    "crest_factor": "",
}
KINDS = ("threshold", "rate", "trend", "baseline")
KIND_ZH = {"threshold": "绝对值", "rate": "变化率", "trend": "趋势", "baseline": "基线倍数"}
LEVELS = ("warning", "alarm", "danger")
LEVEL_ZH = {"warning": "预警", "alarm": "报警", "danger": "危险"}


class StrategyError(HazwatchError):
    """A strategy that cannot be saved: the message names the field and why."""


# -- pure ------------------------------------------------------------------------------------


def parse_spec(kind: str, spec: Mapping[str, Any]) -> RuleSpec:
    """Validate a strategy's rule (the alerting engine's ``RuleSpec``), kind included.

    >>> parse_spec("threshold", {"levels": [{"level": "alarm", "op": ">", "value": 7,
    ...                                      "clear": 6}]}).kind
    'threshold'
    """
    if kind not in KINDS:
        raise StrategyError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    data = {**dict(spec), "kind": kind}
    if data.get("source", "raw") != "raw":
        raise StrategyError("source: pump strategies read raw values (vib.overall / ts.sample)")
    try:
        return RuleSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StrategyError(f"spec{'.' + where if where else ''}: {first['msg']}") from None


def worst_per_time(rows: Sequence[tuple[datetime, float | None]]) -> list[tuple[datetime, float]]:
    """Collapse several axes at one time to their largest value (the worst axis decides, as in
    ISO 10816 severity); rows need not be sorted.

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> worst_per_time([(t, 1.0), (t, 3.0), (t, None)])
    [(datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), 3.0)]
    """
    best: dict[datetime, float] = {}
    for t, v in rows:
        if v is None or not math.isfinite(v):
            continue
        best[t] = max(v, best.get(t, -math.inf))
    return sorted(best.items())


def zone_levels(ab: float, bc: float, cd: float) -> list[dict[str, Any]]:
    """Threshold levels from ISO 10816 zone boundaries: warning from B/C (zone C), alarm from
    C/D (zone D), danger at 1.5 × C/D; each clears 10 % below (hysteresis)."""
    return [
        {"level": "warning", "op": ">=", "value": bc, "clear": round(0.9 * bc, 3)},
        {"level": "alarm", "op": ">=", "value": cd, "clear": round(0.9 * cd, 3)},
        {"level": "danger", "op": ">=", "value": round(1.5 * cd, 3), "clear": round(1.35 * cd, 3)},
    ]


def default_specs(ab: float, bc: float, cd: float) -> list[tuple[str, str, dict[str, Any]]]:
    """The strategies every vibration point gets by default: ``(measure, name suffix, spec)``.

    Absolute velocity by zone, velocity rising faster than a zone width per hour, the velocity
    trend reaching C/D within a day (alarm) / a week (warning), acceleration peak as a multiple
    of its own baseline, and kurtosis (impacts: bearing damage, cavitation)."""
    width = bc - ab
    return [
        (
            "velocity_rms_mm_s",
            "振动速度绝对值",
            {
                "kind": "threshold",
                "reduce": "avg",
                "window_s": 300,
                "levels": zone_levels(ab, bc, cd),
            },
        ),
        (
            "velocity_rms_mm_s",
            "振动速度变化率",
            {
                "kind": "rate",
                "window_s": 3600,
                "rate_unit_s": 3600,
                "levels": [
                    {
                        "level": "warning",
                        "op": ">=",
                        "value": round(width, 3),
                        "clear": round(width / 2, 3),
                    },
                    {
                        "level": "alarm",
                        "op": ">=",
                        "value": round(2 * width, 3),
                        "clear": round(width, 3),
                    },
                ],
            },
        ),
        (
            "velocity_rms_mm_s",
            "振动速度趋势",
            {
                "kind": "trend",
                "window_s": 6 * 3600,
                "target": cd,
                "direction": "rising",
                "levels": [
                    {"level": "warning", "op": "<=", "value": 7 * 86400, "clear": 8 * 86400},
                    {"level": "alarm", "op": "<=", "value": 86400, "clear": 1.2 * 86400},
                ],
            },
        ),
        (
            "accel_peak_m_s2",
            "加速度峰值基线倍数",
            {
                "kind": "baseline",
                "reduce": "avg",
                "window_s": 600,
                "baseline_s": 7 * 86400,
                "baseline_min_points": 12,
                "levels": [
                    {"level": "warning", "op": ">=", "value": 2.0, "clear": 1.6},
                    {"level": "alarm", "op": ">=", "value": 4.0, "clear": 3.2},
                    {"level": "danger", "op": ">=", "value": 8.0, "clear": 6.4},
                ],
            },
        ),
        (
            "kurtosis",
            "峭度",
            {
                "kind": "threshold",
                "reduce": "avg",
                "window_s": 600,
                "levels": [
                    {"level": "warning", "op": ">=", "value": 5.0, "clear": 4.0},
                    {"level": "alarm", "op": ">=", "value": 8.0, "clear": 6.0},
                ],
            },
        ),
    ]


def summary_text(
    pump: str, point: str, measure: str, kind: str, level: str, value: float | None
) -> str:
    """The alert's one-line summary, Chinese first (what the operators' screen shows)."""
    zh, _ = MEASURES.get(measure, (measure, measure))
    if kind == "trend":
        shown = "已越限" if value == 0 else f"预计 {value / 3600:.1f} 小时后越限" if value else ""
    elif kind == "baseline":
        shown = f"为基线的 {value:.2f} 倍" if value is not None else ""
    elif kind == "rate":
        shown = f"变化率 {value:+.3g}/h" if value is not None else ""
    else:
        shown = f"{value:.3g} {UNITS.get(measure, '')}".strip() if value is not None else ""
    return f"机泵 {pump} {point} {zh}{KIND_ZH[kind]}{LEVEL_ZH[level]}：{shown}"


# -- configuration ---------------------------------------------------------------------------


def save_strategy(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    equipment_id: int,
    name: str,
    measure: str,
    spec: Mapping[str, Any],
    sensor_id: int | None = None,
    axis: str | None = None,
    tag_id: int | None = None,
    priority: str = "high",
    enabled: bool = True,
    strategy_id: int | None = None,
) -> int:
    """Create (``strategy_id`` None) or replace a strategy; audited. Returns its id."""
    kind = str(spec.get("kind", ""))
    rule = parse_spec(kind, spec)
    if not name or not name.strip():
        raise StrategyError("name: required")
    if measure != "tag" and measure not in MEASURES:
        raise StrategyError(f"measure {measure!r}: one of {', '.join([*MEASURES, 'tag'])}")
    if (measure == "tag") != (tag_id is not None):
        raise StrategyError("tag_id: required exactly when measure is 'tag'")
    if measure != "tag" and sensor_id is None:
        raise StrategyError("sensor_id: a vib.overall measure needs the sensor")
    if axis not in (None, "X", "Y", "Z"):
        raise StrategyError(f"axis {axis!r}: X, Y, Z or empty (worst axis)")
    if priority not in ("emergency", "high", "low"):
        raise StrategyError(f"priority {priority!r}: emergency, high or low")
    if sensor_id is not None:
        row = conn.execute(
            "SELECT equipment_id FROM registry.sensor WHERE id = %s", (sensor_id,)
        ).fetchone()
        if row is None or row[0] != equipment_id:
            raise StrategyError(f"sensor_id {sensor_id}: not a sensor of equipment {equipment_id}")
    values = (
        equipment_id,
        name.strip(),
        sensor_id,
        axis,
        tag_id,
        measure,
        kind,
        priority,
        Jsonb(rule.model_dump(mode="json")),
        enabled,
    )
    try:
        with acting(conn, actor, f"pump alarm strategy {name.strip()}"):
            if strategy_id is None:
                row = conn.execute(
                    """INSERT INTO vib.alarm_strategy (equipment_id, name, sensor_id, axis,
                           tag_id, measure, kind, priority, spec, enabled)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                    values,
                ).fetchone()
            else:
                row = conn.execute(
                    """UPDATE vib.alarm_strategy SET equipment_id = %s, name = %s,
                           sensor_id = %s, axis = %s, tag_id = %s, measure = %s, kind = %s,
                           priority = %s, spec = %s, enabled = %s WHERE id = %s RETURNING id""",
                    (*values, strategy_id),
                ).fetchone()
                if row is None:
                    raise StrategyError(f"no strategy with id {strategy_id}")
    except psycopg.errors.UniqueViolation:
        raise StrategyError(
            f"name {name!r}: the pump already has a strategy of that name"
        ) from None
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StrategyError(f"refused: {exc.diag.message_detail or exc}") from None
    assert row is not None
    return int(row[0])


def delete_strategy(conn: psycopg.Connection, actor: Actor, strategy_id: int) -> None:
    with acting(conn, actor, "pump alarm strategy deleted"):
        cur = conn.execute("DELETE FROM vib.alarm_strategy WHERE id = %s", (strategy_id,))
    if cur.rowcount == 0:
        raise StrategyError(f"no strategy with id {strategy_id}")


def ensure_default_strategies(conn: psycopg.Connection, actor: Actor, equipment_id: int) -> int:
    """The ``default_specs`` on every vibration sensor of a pump (zone boundaries from
    ``vib.severity_limit`` or the ISO 10816-7 defaults by rated power); returns those added."""
    from analytics.vibration.severity import default_limits

    row = conn.execute(
        """SELECT e.rated_power_kw, l.ab_mm_s, l.bc_mm_s, l.cd_mm_s FROM registry.equipment e
           LEFT JOIN vib.severity_limit l ON l.equipment_id = e.id WHERE e.id = %s""",
        (equipment_id,),
    ).fetchone()
    if row is None:
        raise StrategyError(f"no equipment with id {equipment_id}")
    power, ab, bc, cd = row
    if ab is None:
        lim = default_limits(power_kw=float(power or 55.0))
        ab, bc, cd = lim.ab, lim.bc, lim.cd
    sensors = conn.execute(
        "SELECT id, coalesce(measurement_point, code) FROM registry.sensor"
        " WHERE equipment_id = %s AND kind = 'vibration_triaxial' ORDER BY code",
        (equipment_id,),
    ).fetchall()
    added = 0
    for sid, point in sensors:
        for measure, label, spec in default_specs(ab, bc, cd):
            name = f"{point} {label}"
            if conn.execute(
                "SELECT 1 FROM vib.alarm_strategy WHERE equipment_id = %s AND name = %s",
                (equipment_id, name),
            ).fetchone():
                continue
            save_strategy(
                conn,
                actor,
                equipment_id=equipment_id,
                name=name,
                measure=measure,
                spec=spec,
                sensor_id=sid,
            )
            added += 1
    return added


def ensure_grade_routing(
    conn: psycopg.Connection,
    actor: Actor,
    enterprise_id: int,
    routes: Mapping[str, Sequence[str]],
    *,
    position: int = 50,
    channels: Sequence[str] | None = ("inapp",),
) -> dict[str, int]:
    """One escalation policy per grade (``pump-<level>``) for alerts of source ``pump`` and
    ``pump_health``: the groups (codes of ``workflow.user_group`` in the enterprise) of that
    grade are told at once. Existing policies are updated. Returns level -> policy id."""
    from workflows import alert_config

    out: dict[str, int] = {}
    for level, codes in routes.items():
        if level not in LEVELS:
            raise StrategyError(f"routes: level {level!r} is not one of {', '.join(LEVELS)}")
        ids = []
        for code in codes:
            row = conn.execute(
                "SELECT id FROM workflow.user_group WHERE code = %s"
                " AND (enterprise_id = %s OR enterprise_id IS NULL)"
                " ORDER BY enterprise_id NULLS LAST LIMIT 1",
                (code, enterprise_id),
            ).fetchone()
            if row is None:
                raise StrategyError(f"routes.{level}: no user group {code!r} in the enterprise")
            ids.append(int(row[0]))
        tier: dict[str, Any] = {"after_s": 0, "groups": ids}
        if channels is not None:
            tier["channels"] = list(channels)
        values = {
            "enterprise_id": enterprise_id,
            "code": f"pump-{level}",
            "name": f"机泵{LEVEL_ZH[level]}分级通知",
            "position": position,
            "levels": [level],
            "matchers": [{"label": "source", "op": "=~", "value": "pump|pump_health"}],
            "until": "ack",
            "tiers": [tier],
        }
        found = conn.execute(
            "SELECT id FROM workflow.escalation_policy WHERE enterprise_id = %s AND code = %s",
            (enterprise_id, values["code"]),
        ).fetchone()
        reason = f"pump alarms by grade: {level}"
        if found is None:
            out[level] = alert_config.insert(conn, actor, "escalation_policy", values, reason)
        else:
            alert_config.update(conn, actor, "escalation_policy", int(found[0]), values, reason)
            out[level] = int(found[0])
    return out


# -- evaluation ------------------------------------------------------------------------------


@dataclass
class StrategyReport:
    strategies: int = 0
    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.strategies} pump strategies, {len(self.fired)} alerts raised/updated, "
            f"{len(self.resolved)} resolved"
            + (f", {len(self.errors)} errors" if self.errors else "")
        )


def fetch_series(
    conn: psycopg.Connection,
    strategy: Mapping[str, Any],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, float]]:
    """The point's series in ``(start, end]``: one axis, the worst axis per time, or a tag."""
    if strategy["measure"] == "tag":
        rows = conn.execute(
            "SELECT time, value FROM ts.sample WHERE tag_id = %s AND time > %s AND time <= %s"
            " AND quality >= 192 AND value IS NOT NULL ORDER BY time",
            (strategy["tag_id"], start, end),
        ).fetchall()
        return [(t, float(v)) for t, v in rows]
    if strategy["measure"] not in MEASURES:
        raise StrategyError(f"measure {strategy['measure']!r} unknown")
    query = sql.SQL(
        "SELECT time, {c} FROM vib.overall WHERE sensor_id = %s"
        " AND (%s::char IS NULL OR axis = %s::char) AND time > %s AND time <= %s"
    ).format(c=sql.Identifier(strategy["measure"]))
    axis = strategy["axis"]
    rows = conn.execute(query, (strategy["sensor_id"], axis, axis, start, end)).fetchall()
    return worst_per_time([(t, None if v is None else float(v)) for t, v in rows])


def fetch_hourly(
    conn: psycopg.Connection, strategy: Mapping[str, Any], start: datetime, end: datetime
) -> list[float]:
    """Hourly averages of the point (the baseline's raw material)."""
    series = fetch_series(conn, strategy, start, end)
    buckets: dict[datetime, list[float]] = {}
    for t, v in series:
        buckets.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(v)
    return [sum(vs) / len(vs) for _, vs in sorted(buckets.items())]


def point_labels(conn: psycopg.Connection, strategy: Mapping[str, Any]) -> dict[str, str]:
    """Where the strategy sits: enterprise, unit, department, pump, measurement point."""
    row = conn.execute(
        """SELECT e.id, e.name, u.code, d.name, eq.code, eq.name, s.code,
                  coalesce(s.measurement_point, s.code), t.name
           FROM registry.equipment eq JOIN registry.unit u ON u.id = eq.unit_id
           JOIN registry.enterprise e ON e.id = u.enterprise_id
           LEFT JOIN registry.department d ON d.id = u.department_id
           LEFT JOIN registry.sensor s ON s.id = %s
           LEFT JOIN registry.tag t ON t.id = %s
           WHERE eq.id = %s""",
        (strategy["sensor_id"], strategy["tag_id"], strategy["equipment_id"]),
    ).fetchone()
    if row is None:
        return {}
    ent_id, ent, unit, dept, code, name, sensor, point, tag = row
    where = (
        tag
        if strategy["measure"] == "tag"
        else f"{point}" + (f" {strategy['axis']}" if strategy["axis"] else "")
    )
    labels = {
        "enterprise_id": str(ent_id),
        "enterprise": ent,
        "unit": unit,
        "equipment": code,
        "equipment_id": str(strategy["equipment_id"]),
        "pump": name,
        "point": where,
        "measure": strategy["measure"],
        "strategy": strategy["name"],
        "strategy_kind": strategy["kind"],
    }
    if dept:
        labels["department"] = dept
    if sensor:
        labels["sensor"] = sensor
    return labels


def evaluate_strategies(
    conn: psycopg.Connection,
    *,
    now: datetime | None = None,
    equipment_ids: Sequence[int] | None = None,
) -> StrategyReport:
    """Evaluate every enabled strategy at ``now``; one transaction per strategy."""
    from workflows.alerting import raise_external_alert, resolve_external_alert

    now = now or datetime.now(UTC)
    report = StrategyReport()
    with conn.cursor(row_factory=dict_row) as cur:
        strategies = cur.execute(
            """SELECT s.*, st.state AS memory, u.enterprise_id
               FROM vib.alarm_strategy s
               JOIN registry.equipment eq ON eq.id = s.equipment_id
               JOIN registry.unit u ON u.id = eq.unit_id
               LEFT JOIN vib.strategy_state st ON st.strategy_id = s.id
               WHERE s.enabled AND (%s::integer[] IS NULL OR s.equipment_id = ANY(%s))
               ORDER BY s.id""",
            (equipment_ids, equipment_ids),
        ).fetchall()
    for s in strategies:
        report.strategies += 1
        try:
            with conn.transaction():
                _evaluate_one(conn, s, now, report, raise_external_alert, resolve_external_alert)
        except (HazwatchError, psycopg.Error, ValueError) as exc:
            log.error("strategy %s failed: %s", s["id"], exc)
            report.errors.append(f"strategy {s['id']} {s['name']}: {exc}")
    return report


def _evaluate_one(
    conn: psycopg.Connection,
    s: Mapping[str, Any],
    now: datetime,
    report: StrategyReport,
    raise_alert: Any,
    resolve_alert: Any,
) -> None:
    spec = parse_spec(s["kind"], s["spec"])
    span = timedelta(seconds=max(spec.window_s, spec.nodata_s))
    points = fetch_series(conn, s, now - span, now)
    baseline = None
    if spec.kind == "baseline":
        end = now - timedelta(seconds=spec.window_s)
        hourly = fetch_hourly(conn, s, end - timedelta(seconds=spec.baseline_s), end)
        baseline = learn_baseline(hourly, spec.baseline_min_points)
    prev = RuleState.from_json(s["memory"]) if s["memory"] else RuleState()
    obs: Observation = observe(spec, points, now, prev.level, baseline)
    state, trans = step(prev, obs, now, Timing(spec.pending_s, spec.keep_firing_s, spec.on_nodata))
    key = f"strategy:{s['id']}"
    alert_id = None
    if state.state == "firing" and state.level is not None:
        labels = point_labels(conn, s)
        summary = summary_text(
            labels.get("equipment", "?"),
            labels.get("point", ""),
            s["measure"],
            s["kind"],
            state.level,
            state.value,
        )
        if trans or prev.level != state.level or prev.state != "firing":
            alert_id = raise_alert(
                conn,
                SOURCE,
                key,
                state.level,
                labels,
                summary,
                value=state.value,
                priority=s["priority"],
                enterprise_id=s["enterprise_id"],
                now=now,
            )
            report.fired.append(alert_id)
    elif prev.state == "firing" and state.state != "firing":
        alert_id = resolve_alert(conn, SOURCE, key, now=now)
        if alert_id is not None:
            report.resolved.append(alert_id)
    conn.execute(
        """INSERT INTO vib.strategy_state (strategy_id, state, alert_id, evaluated_at)
           VALUES (%s, %s, %s, %s) ON CONFLICT (strategy_id) DO UPDATE SET
           state = EXCLUDED.state, evaluated_at = EXCLUDED.evaluated_at,
           alert_id = coalesce(EXCLUDED.alert_id, vib.strategy_state.alert_id)""",
        (s["id"], Jsonb(state.to_json()), alert_id, now),
    )


def list_strategies(conn: psycopg.Connection, equipment_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT s.*, st.state ->> 'state' AS state, st.state ->> 'level' AS level,
                      (st.state ->> 'value')::double precision AS value, sn.code AS sensor
               FROM vib.alarm_strategy s LEFT JOIN vib.strategy_state st ON st.strategy_id = s.id
               LEFT JOIN registry.sensor sn ON sn.id = s.sensor_id
               WHERE s.equipment_id = %s ORDER BY s.name""",
            (equipment_id,),
        ).fetchall()


def pump_jobs() -> list[Any]:
    """The scheduler's pump jobs: strategies every 30 s, hardware health every minute, the
    weekly condition reports checked hourly."""
    from analytics.vibration.health import health_job
    from analytics.vibration.reports import periodic_reports
    from hazwatch.scheduler import Job

    def strategies(conn: psycopg.Connection) -> str:
        return str(evaluate_strategies(conn))

    def reports(conn: psycopg.Connection) -> str:
        return f"{periodic_reports(conn)} condition reports"

    return [
        Job("pump strategies", timedelta(seconds=30), strategies),
        Job("pump hardware", timedelta(seconds=60), health_job),
        Job("pump reports", timedelta(hours=1), reports),
    ]


#: The demo plant's routing: the equipment department hears every grade, safety management
#: from "alarm", the leadership at "danger" (P5).
DEMO_ROUTES: dict[str, list[str]] = {
    "warning": ["equipment"],
    "alarm": ["equipment", "safety_mgmt"],
    "danger": ["equipment", "safety_mgmt", "leadership"],
}
DEMO_GROUPS = {"equipment": "设备管理", "safety_mgmt": "安全管理", "leadership": "公司领导"}


def provision_demo_pumps(conn: psycopg.Connection, enterprise_id: int, admin_id: int | None) -> int:
    """The demo plant's pumps in the registers (``ingest.simulator.pumps.demo_specs``), their
    gateways and DE/NDE sensors under the codes the Modbus collectors use, the default
    strategies, the groups of ``DEMO_ROUTES`` (the demo administrator in each) and the grade
    routing. Idempotent; returns the strategies added."""
    from hazwatch import registers
    from ingest.simulator.modbus_gateway import sensor_code
    from ingest.simulator.pumps import demo_plant

    actor = Actor(None, "demo")
    reason = "demo provisioning (pumps)"

    def find(query: str, params: tuple) -> int | None:  # type: ignore[type-arg]
        row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else None

    dept = find(
        "SELECT id FROM registry.department WHERE enterprise_id = %s AND name = '设备部'",
        (enterprise_id,),
    ) or registers.insert(
        conn, actor, "department", {"enterprise_id": enterprise_id, "name": "设备部"}, reason
    )
    unit = find(
        "SELECT id FROM registry.unit WHERE enterprise_id = %s AND code = 'PUMPS'",
        (enterprise_id,),
    ) or registers.insert(
        conn,
        actor,
        "unit",
        {
            "enterprise_id": enterprise_id,
            "code": "PUMPS",
            "name": "重点监管机泵",
            "department_id": dept,
            "kind": "area",
        },
        reason,
    )
    bearing_names = {
        "SKF 6205-2RS JEM": "SKF 6205-2RS JEM",
        "6309 (approx.)": "6309 (demo)",
        "7309 BECBP (approx.)": "7309 BECBP (demo)",
    }
    pumps = demo_plant()
    added = 0
    for i, pump in enumerate(pumps):
        s = pump.spec
        gw_code = "GW-01" if i < 3 else "GW-02"
        gw = find(
            "SELECT id FROM registry.gateway WHERE enterprise_id = %s AND code = %s",
            (enterprise_id, gw_code),
        ) or registers.insert(
            conn,
            actor,
            "gateway",
            {
                "enterprise_id": enterprise_id,
                "code": gw_code,
                "name": gw_code,
                "protocol": "modbus_tcp",
            },
            reason,
        )
        eq = find(
            "SELECT id FROM registry.equipment WHERE unit_id = %s AND code = %s", (unit, s.code)
        ) or registers.insert(
            conn,
            actor,
            "equipment",
            {
                "unit_id": unit,
                "code": s.code,
                "name": s.name,
                "kind": "pump",
                "pump_scope": list(s.pump_scope),
                "medium": s.medium,
                "medium_temp_c": s.medium_temp_c,
                "rated_speed_rpm": s.rated_speed_rpm,
                "rated_power_kw": s.rated_power_kw,
                "bearing_de": bearing_names.get(s.bearing_de.name, s.bearing_de.name),
                "bearing_nde": bearing_names.get(s.bearing_nde.name, s.bearing_nde.name),
            },
            reason,
        )
        for point in ("DE", "NDE"):
            code = sensor_code(pump, point)
            sid = find(
                "SELECT id FROM registry.sensor WHERE enterprise_id = %s AND code = %s",
                (enterprise_id, code),
            )
            values = {
                "equipment_id": eq,
                "gateway_id": gw,
                "measurement_point": point,
                "kind": "vibration_triaxial",
            }
            if sid is None:
                registers.insert(
                    conn,
                    actor,
                    "sensor",
                    {"enterprise_id": enterprise_id, "code": code, **values},
                    reason,
                )
            else:
                registers.update(conn, actor, "sensor", sid, values, reason)
        added += ensure_default_strategies(conn, actor, eq)
    for code, name in DEMO_GROUPS.items():
        gid = find(
            "SELECT id FROM workflow.user_group WHERE enterprise_id = %s AND code = %s",
            (enterprise_id, code),
        ) or registers.insert(
            conn,
            actor,
            "user_group",
            {"enterprise_id": enterprise_id, "code": code, "name": name},
            reason,
        )
        if admin_id is not None and not find(
            "SELECT id FROM workflow.user_group_member WHERE group_id = %s AND user_id = %s",
            (gid, admin_id),
        ):
            registers.insert(
                conn, actor, "user_group_member", {"group_id": gid, "user_id": admin_id}, reason
            )
    ensure_grade_routing(conn, actor, enterprise_id, DEMO_ROUTES)
    return added
