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

The web page (``dashboards/pages/pumps_strategies.py``) edits the same things:

    values, errors = strategy_from_form(form)        # the engine's form parser for the spec
    problems = check_strategy(conn, equipment_id=7, name="DE 速度", measure="kurtosis",
                              sensor_id=12)          # {field: StrategyError} (empty: fine)
    rows, total = search_strategies(conn, [3], text="DE", kind="trend", limit=20, offset=0)
    set_enabled(conn, actor, sid, False, reason="MOC-12")
    routes = grade_routing(conn, enterprise_id)      # who hears each grade, from the policies
    set_grade_groups(conn, actor, enterprise_id, {"alarm": [gid1, gid2]}, reason="...")
    series, pv = preview_strategy(conn, values, spec, days=3)  # replay: when it would fire

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
from workflows.alert_forms import KIND_FIELDS, Errors, FieldError, rule_from_form, rule_to_form
from workflows.rule_backtest import backtest
from workflows.rules import Observation, RuleSpec, learn_baseline, observe
from workflows.states import RuleState, Timing, Transition, step

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
    """A strategy that cannot be saved: the message names the field and why; ``field`` is the
    form field it belongs to and ``code`` / ``params`` let a page say it in its language.

    >>> StrategyError("name: required", field="name", code="required").field
    'name'
    """

    def __init__(
        self,
        message: str,
        *,
        field: str = "_form",
        code: str = "invalid",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.params = dict(params or {"msg": message})


# -- pure ------------------------------------------------------------------------------------


def parse_spec(kind: str, spec: Mapping[str, Any]) -> RuleSpec:
    """Validate a strategy's rule (the alerting engine's ``RuleSpec``), kind included.

    >>> parse_spec("threshold", {"levels": [{"level": "alarm", "op": ">", "value": 7,
    ...                                      "clear": 6}]}).kind
    'threshold'
    """
    if kind not in KINDS:
        raise StrategyError(
            f"kind {kind!r}: one of {', '.join(KINDS)}", field="kind", code="choice"
        )
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


# -- the editor's form (pure) ----------------------------------------------------------------

#: The spec fields of each kind in the editor, named as the alerting engine's rule form names
#: them (``workflows.alert_forms``; ``baseline_h`` is ``baseline_s`` in hours). Strategies read
#: raw values, so the engine's ``source`` / ``column`` are not offered.
SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(f for f in KIND_FIELDS[kind] if f not in ("source", "column")) for kind in KINDS
}
#: The axis choice meaning "the worst of X, Y and Z at each time" (stored as NULL).
WORST_AXIS = "worst"


def as_id(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def strategy_from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The editor's values as ``save_strategy`` arguments (``spec`` None while the spec has
    errors) and the field errors of the spec.

    The spec goes through the alerting engine's own form parser (``rule_from_form``: numbers,
    clear thresholds on the safe side, each grade beyond the one below, then ``RuleSpec``) and
    ``parse_spec``; the place and identity (pump, point, name) are checked against the
    database by ``check_strategy``.

    >>> values, errors = strategy_from_form({"kind": "threshold", "window_s": 300,
    ...     "levels.warning.on": ["on"], "levels.warning.op": ">=",
    ...     "levels.warning.value": "7", "levels.alarm.on": ["on"], "levels.alarm.op": ">=",
    ...     "levels.alarm.value": "4"})
    >>> errors["levels.alarm.value"].code
    'beyond'
    """
    measure = str(form.get("measure") or "")
    axis = form.get("axis") or None
    values: dict[str, Any] = {
        "equipment_id": as_id(form.get("equipment_id")),
        "name": str(form.get("name") or "").strip(),
        "measure": measure,
        "sensor_id": None if measure == "tag" else as_id(form.get("sensor_id")),
        "tag_id": as_id(form.get("tag_id")) if measure == "tag" else None,
        "axis": None if measure == "tag" or axis == WORST_AXIS else axis,
        "priority": str(form.get("priority") or "high"),
        "enabled": bool(form.get("enabled")),
        "spec": None,
    }
    errors: Errors = {}
    kind = str(form.get("kind") or "")
    if kind not in KINDS:
        errors["kind"] = FieldError("choice")
        return values, errors
    # The engine's parser wants an alert rule: its rule-only fields get fixed stand-ins, so
    # every error it reports is one of the spec's.
    rule, errors = rule_from_form(
        {
            **form,
            "code": "pump-strategy",
            "name": "pump strategy",
            "tag_id": 0,
            "labels": "",
            "source": "raw",
            "column": "avg",
            "priority": "high",
        }
    )
    if rule is None:
        return values, errors
    try:
        parse_spec(kind, rule["spec"])
    except StrategyError as exc:
        errors["_form"] = FieldError("invalid", {"msg": str(exc)})
        return values, errors
    values["spec"] = rule["spec"]
    return values, errors


def strategy_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The editor's values of a stored strategy (None: a new one's defaults: absolute value
    over 5 minutes, warning and alarm enabled, thresholds still to be typed)."""
    spec = (
        row["spec"]
        if row
        else {"kind": "threshold", "reduce": "avg", "window_s": 300,
              "levels": [{"level": "alarm", "op": ">=", "value": 0, "clear": 0}]}
    )  # fmt: skip
    form = rule_to_form(
        {
            "code": "",
            "name": "",
            "tag_id": None,
            "priority": "high",
            "labels": {},
            "enabled": True,
            "spec": spec,
        }
    )
    for key in ("code", "labels", "source", "column", "nodata_level", "tag_id"):
        form.pop(key, None)
    if row is None:
        for level in LEVELS:
            form[f"levels.{level}.on"] = ["on"] if level != "danger" else []
            form[f"levels.{level}.op"] = ">="
            form[f"levels.{level}.value"] = None
            form[f"levels.{level}.clear"] = None
    form.update(
        {
            "equipment_id": row["equipment_id"] if row else None,
            "name": row["name"] if row else "",
            "measure": row["measure"] if row else "velocity_rms_mm_s",
            "sensor_id": row["sensor_id"] if row else None,
            "axis": (row["axis"] if row else None) or WORST_AXIS,
            "tag_id": row["tag_id"] if row else None,
            "priority": row["priority"] if row else "high",
            "enabled": ["on"] if (row is None or row["enabled"]) else [],
        }
    )
    return form


def levels_text(spec: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """``"warning ≥4 (3.6), alarm ≥6.6 (5.94)"`` for the list: trip (clear) per grade, the
    grades called by ``names`` (e.g. the page's language) where given."""
    levels = sorted(spec.get("levels", []), key=lambda lv: LEVELS.index(lv["level"]))
    ops = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    return ", ".join(
        f"{(names or {}).get(lv['level'], lv['level'])} {ops[lv['op']]}{lv['value']:g}"
        f" ({lv['clear']:g})"
        for lv in levels
    )


# -- preview (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """A line to draw: a grade's trip and clear values (``level`` "target": a trend's target)
    on the measured quantity's own axis (``on`` "value") or on the axis of what the grades
    compare (``on`` "compared": the rate, the seconds to the target, the baseline multiple)."""

    level: str
    on: str
    trip: float
    clear: float | None


@dataclass
class StrategyPreview:
    """What a strategy would have done over a stretch of its point's history.

    ``fired``: (time, grade, compared value) each time it went firing or changed grade while
    firing; ``resolved``: when it recovered; ``compared``: what the grades were compared with
    at each evaluation; ``baseline``: the baseline a baseline-multiple strategy divided by."""

    kind: str
    fired: list[tuple[datetime, str, float | None]]
    resolved: list[datetime]
    compared: list[tuple[datetime, float]]
    thresholds: list[Threshold]
    baseline: float | None
    evaluations: int
    firing_s: float
    final_state: str
    errors: list[str]
    transitions: list[Transition]


def preview_step_s(days: float) -> int:
    """Evaluate every minute over a day, less often over longer stretches (about 1,440
    evaluations; the scheduler evaluates every 30 s, so a pending time shorter than the step
    comes out one step long)."""
    return max(60, round(days * 86400 / 1440 / 60) * 60)


def thresholds_of(spec: RuleSpec, baseline: float | None = None) -> list[Threshold]:
    """The lines of a strategy's grades: on the measured quantity for absolute values (and
    for a baseline multiple once the baseline is known), on the compared value otherwise."""
    out: list[Threshold] = []
    for lv in spec.levels:
        if spec.kind == "threshold":
            out.append(Threshold(lv.level, "value", lv.value, lv.clear))
            continue
        out.append(Threshold(lv.level, "compared", lv.value, lv.clear))
        if spec.kind == "baseline" and baseline is not None:
            out.append(Threshold(lv.level, "value", lv.value * baseline, lv.clear * baseline))
    if spec.kind == "trend" and spec.target is not None:
        out.append(Threshold("target", "value", spec.target, None))
    return out


def preview(
    spec: RuleSpec,
    points: Sequence[tuple[datetime, float]],
    start: datetime,
    end: datetime,
    step_s: int = 60,
    baseline: float | None = None,
) -> StrategyPreview:
    """Replay ``spec`` over ``points`` (time-ordered; include ``max(window_s, nodata_s)``
    before ``start``) from ``start`` to ``end`` with the engine's own evaluation
    (``workflows.rule_backtest``): when it would have fired, at which grade, and the lines to
    draw.

    >>> pv = preview(parse_spec("threshold", {"levels": zone_levels(2.5, 4.0, 6.6)}),
    ...              points, start, end, step_s=60)
    >>> [(at, level) for at, level, _ in pv.fired]
    """
    bt = backtest(spec, points, start, end, step_s, baseline)
    fired = [
        (tr.at, str(tr.level), tr.value)
        for tr in bt.transitions
        if tr.to_state == "firing" and tr.level is not None
    ]
    return StrategyPreview(
        kind=spec.kind,
        fired=fired,
        resolved=[tr.at for tr in bt.transitions if tr.to_state == "resolved"],
        compared=bt.measured,
        thresholds=thresholds_of(spec, baseline),
        baseline=baseline,
        evaluations=bt.evaluations,
        firing_s=bt.firing_s,
        final_state=bt.final.state,
        errors=sorted(bt.errors),
        transitions=bt.transitions,
    )


def hourly_means(series: Sequence[tuple[datetime, float]]) -> list[float]:
    """The averages of each clock hour of a series, in time order (a baseline's raw
    material).

    >>> t = datetime(2026, 1, 1, 8, tzinfo=UTC)
    >>> hourly_means([(t, 1.0), (t + timedelta(minutes=30), 3.0), (t + timedelta(hours=1), 5.0)])
    [2.0, 5.0]
    """
    buckets: dict[datetime, list[float]] = {}
    for t, v in series:
        buckets.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(v)
    return [sum(vs) / len(vs) for _, vs in sorted(buckets.items())]


# -- configuration ---------------------------------------------------------------------------


def check_strategy(
    conn: psycopg.Connection,
    *,
    equipment_id: int | None,
    name: str | None,
    measure: str | None,
    sensor_id: int | None = None,
    axis: str | None = None,
    tag_id: int | None = None,
    priority: str = "high",
    strategy_id: int | None = None,
) -> dict[str, StrategyError]:
    """Every problem of a strategy's place and identity, by form field (empty: it may be
    saved). ``save_strategy`` raises the first; the page shows them all at their fields.

    >>> check_strategy(conn, equipment_id=7, name="", measure="kurtosis", sensor_id=12)
    {'name': StrategyError('name: required')}
    """
    out: dict[str, StrategyError] = {}

    def problem(field: str, code: str, message: str, **params: Any) -> None:
        out.setdefault(field, StrategyError(message, field=field, code=code, params=params))

    if equipment_id is None:
        problem("equipment_id", "required", "equipment_id: required")
    if not name or not name.strip():
        problem("name", "required", "name: required")
    if measure != "tag" and measure not in MEASURES:
        problem("measure", "choice", f"measure {measure!r}: one of {', '.join([*MEASURES, 'tag'])}")
    elif (measure == "tag") != (tag_id is not None):
        problem("tag_id", "required", "tag_id: required exactly when measure is 'tag'")
    if measure in MEASURES and sensor_id is None:
        problem("sensor_id", "required", "sensor_id: a vib.overall measure needs the sensor")
    if axis not in (None, "X", "Y", "Z"):
        problem("axis", "choice", f"axis {axis!r}: X, Y, Z or empty (worst axis)")
    if priority not in ("emergency", "high", "low"):
        problem("priority", "choice", f"priority {priority!r}: emergency, high or low")
    if equipment_id is None:
        return out
    if sensor_id is not None and measure != "tag":
        row = conn.execute(
            "SELECT equipment_id FROM registry.sensor WHERE id = %s", (sensor_id,)
        ).fetchone()
        if row is None or row[0] != equipment_id:
            problem(
                "sensor_id",
                "sensor_other_pump",
                f"sensor_id {sensor_id}: not a sensor of equipment {equipment_id}",
            )
    if tag_id is not None and measure == "tag":
        # A tag of another enterprise would leak its values into this plant's alarms.
        row = conn.execute(
            """SELECT t.enterprise_id = u.enterprise_id FROM registry.tag t,
                      registry.equipment eq JOIN registry.unit u ON u.id = eq.unit_id
               WHERE t.id = %s AND eq.id = %s""",
            (tag_id, equipment_id),
        ).fetchone()
        if row is None or not row[0]:
            problem(
                "tag_id",
                "tag_other_enterprise",
                f"tag_id {tag_id}: not a tag of equipment {equipment_id}'s enterprise",
            )
    if name and name.strip():
        taken = conn.execute(
            "SELECT 1 FROM vib.alarm_strategy WHERE equipment_id = %s AND name = %s"
            " AND id IS DISTINCT FROM %s",
            (equipment_id, name.strip(), strategy_id),
        ).fetchone()
        if taken:
            problem(
                "name",
                "duplicate_name",
                f"name {name!r}: the pump already has a strategy of that name",
            )
    return out


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
    reason: str | None = None,
) -> int:
    """Create (``strategy_id`` None) or replace a strategy; audited (``reason`` goes into the
    audit log, by default "pump alarm strategy NAME"). Returns its id."""
    kind = str(spec.get("kind", ""))
    rule = parse_spec(kind, spec)
    problems = check_strategy(
        conn,
        equipment_id=equipment_id,
        name=name,
        measure=measure,
        sensor_id=sensor_id,
        axis=axis,
        tag_id=tag_id,
        priority=priority,
        strategy_id=strategy_id,
    )
    if problems:
        raise next(iter(problems.values()))
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
        with acting(conn, actor, reason or f"pump alarm strategy {name.strip()}"):
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
            f"name {name!r}: the pump already has a strategy of that name",
            field="name",
            code="duplicate_name",
        ) from None
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StrategyError(f"refused: {exc.diag.message_detail or exc}") from None
    assert row is not None
    return int(row[0])


def set_enabled(
    conn: psycopg.Connection,
    actor: Actor,
    strategy_id: int,
    enabled: bool,
    reason: str | None = None,
) -> None:
    """Switch a strategy on or off (audited). A disabled strategy is not evaluated; its open
    alert stays until someone closes it."""
    with acting(
        conn, actor, reason or f"pump alarm strategy {'enabled' if enabled else 'disabled'}"
    ):
        cur = conn.execute(
            "UPDATE vib.alarm_strategy SET enabled = %s WHERE id = %s", (enabled, strategy_id)
        )
    if cur.rowcount == 0:
        raise StrategyError(f"no strategy with id {strategy_id}")


def delete_strategy(
    conn: psycopg.Connection, actor: Actor, strategy_id: int, reason: str | None = None
) -> None:
    """Delete a strategy and its evaluator state (audited)."""
    with acting(conn, actor, reason or "pump alarm strategy deleted"):
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


def policy_code(level: str) -> str:
    """The escalation policy that routes pump alarms of ``level`` (one per enterprise)."""
    return f"pump-{level}"


def _grade_policy(
    enterprise_id: int,
    level: str,
    group_ids: Sequence[int],
    position: int,
    channels: Sequence[str] | None,
) -> dict[str, Any]:
    """The ``workflow.escalation_policy`` row of one grade: its groups told at once."""
    tier: dict[str, Any] = {"after_s": 0, "groups": list(group_ids)}
    if channels is not None:
        tier["channels"] = list(channels)
    return {
        "enterprise_id": enterprise_id,
        "code": policy_code(level),
        "name": f"机泵{LEVEL_ZH[level]}分级通知",
        "position": position,
        "levels": [level],
        "matchers": [{"label": "source", "op": "=~", "value": "pump|pump_health"}],
        "until": "ack",
        "tiers": [tier],
    }


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
    grade are told at once. Existing policies are replaced whole (provisioning; the page
    changes only the groups, ``set_grade_groups``). Returns level -> policy id."""
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
        values = _grade_policy(enterprise_id, level, ids, position, channels)
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


@dataclass(frozen=True)
class GradeRoute:
    """Who hears pump alarms of one grade in an enterprise: the first tier's groups of the
    grade's ``pump-<level>`` policy (None: no such policy), how many later escalation tiers it
    has, and the policies a pump alarm of that grade meets first (then those decide)."""

    level: str
    policy_id: int | None
    enabled: bool
    group_ids: tuple[int, ...]
    later_tiers: int
    shadowed_by: tuple[str, ...]


def grade_routing(conn: psycopg.Connection, enterprise_id: int) -> list[GradeRoute]:
    """The routing of each grade as the alerting engine will apply it.

    ``shadowed_by`` uses the engine's own policy choice (``workflows.alerting._policies``, the
    first applying policy wins) for an alert labelled only ``source=pump``, at every priority;
    a policy matching on further labels (unit, equipment) is not seen here."""
    from workflows.alerting import _policies

    rows = conn.execute(
        "SELECT code, id, enabled, tiers FROM workflow.escalation_policy"
        " WHERE enterprise_id = %s AND code = ANY(%s)",
        (enterprise_id, [policy_code(lv) for lv in LEVELS]),
    ).fetchall()
    found = {code: (pid, enabled, tiers) for code, pid, enabled, tiers in rows}
    policies = _policies(conn, enterprise_id)
    codes = dict(
        conn.execute(
            "SELECT id, code FROM workflow.escalation_policy WHERE id = ANY(%s)",
            ([pid for pid, _, _ in policies],),
        ).fetchall()
    )
    out = []
    for level in LEVELS:
        pid, enabled, tiers = found.get(policy_code(level), (None, False, []))
        first = tiers[0] if tiers else {}
        before: list[str] = []
        for priority in ("emergency", "high", "low"):
            winner = next(
                (p for p, pol, _ in policies if pol.applies(priority, level, {"source": SOURCE})),
                None,
            )
            if winner is not None and winner != pid and codes[winner] not in before:
                before.append(codes[winner])
        out.append(
            GradeRoute(
                level=level,
                policy_id=pid,
                enabled=bool(enabled),
                group_ids=tuple(int(g) for g in first.get("groups", [])),
                later_tiers=max(0, len(tiers) - 1),
                shadowed_by=tuple(before),
            )
        )
    return out


def set_grade_groups(
    conn: psycopg.Connection,
    actor: Actor,
    enterprise_id: int,
    routes: Mapping[str, Sequence[int]],
    reason: str | None = None,
    *,
    position: int = 50,
) -> dict[str, int]:
    """Set the groups told at once of each grade in ``routes`` (level -> group ids) in its
    ``pump-<level>`` escalation policy, through the audited ``workflows.alert_config``.

    Only the first tier's groups change: later tiers, channels, timing and whether the policy
    is enabled (edited on the escalation policies page) are kept. A grade without a policy
    gets one (as ``ensure_grade_routing`` makes it); a grade whose policy exists cannot be
    left with no group (its alarms would reach nobody: disable the policy instead). All
    grades or none are written. Returns level -> policy id of the grades written.

    >>> set_grade_groups(conn, actor, 3, {"alarm": [11, 12]}, reason="MOC-7")
    {'alarm': 41}
    """
    from workflows import alert_config
    from workflows.escalation import Policy

    problems: dict[str, StrategyError] = {}
    for level, ids in routes.items():
        field = f"routes.{level}"
        if level not in LEVELS:
            raise StrategyError(f"routes: level {level!r} is not one of {', '.join(LEVELS)}")
        known = {
            int(r[0])
            for r in conn.execute(
                "SELECT id FROM workflow.user_group WHERE id = ANY(%s)"
                " AND (enterprise_id = %s OR enterprise_id IS NULL)",
                (list(ids), enterprise_id),
            ).fetchall()
        }
        stray = [g for g in ids if g not in known]
        if stray:
            problems[field] = StrategyError(
                f"{field}: user groups {stray} are not groups of enterprise {enterprise_id}",
                field=field,
                code="group_scope",
            )
    if problems:
        raise next(iter(problems.values()))
    out: dict[str, int] = {}
    with conn.transaction():
        for level, ids in routes.items():
            field = f"routes.{level}"
            groups = list(dict.fromkeys(int(g) for g in ids))
            row = conn.execute(
                "SELECT id, until, repeat_s, priorities, levels, matchers, tiers"
                " FROM workflow.escalation_policy WHERE enterprise_id = %s AND code = %s",
                (enterprise_id, policy_code(level)),
            ).fetchone()
            why = reason or f"pump alarms by grade: {level}"
            if row is None:
                if not groups:
                    continue  # nothing routed before, nothing asked for
                values = _grade_policy(enterprise_id, level, groups, position, ("inapp",))
                out[level] = alert_config.insert(conn, actor, "escalation_policy", values, why)
                continue
            pid, until, repeat_s, prios, levels, matchers, tiers = row
            if not groups:
                raise StrategyError(
                    f"{field}: choose at least one group (or disable policy {policy_code(level)})",
                    field=field,
                    code="routes_empty",
                    params={"policy": policy_code(level)},
                )
            new_tiers = [dict(t) for t in tiers] or [{"after_s": 0}]
            new_tiers[0]["groups"] = groups
            try:
                Policy.model_validate(
                    {"until": until, "repeat_s": repeat_s, "priorities": prios,
                     "levels": levels, "matchers": matchers, "tiers": new_tiers}
                )  # fmt: skip
            except ValidationError as exc:
                raise StrategyError(f"{field}: {exc.errors()[0]['msg']}", field=field) from None
            if new_tiers != tiers:
                alert_config.update(
                    conn, actor, "escalation_policy", pid, {"tiers": new_tiers}, why
                )
            out[level] = int(pid)
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
    return hourly_means(fetch_series(conn, strategy, start, end))


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


def get_strategy(conn: psycopg.Connection, strategy_id: int) -> dict[str, Any] | None:
    """One strategy with its pump's enterprise (for scope checks); None when there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT s.*, u.enterprise_id, eq.code AS equipment
               FROM vib.alarm_strategy s JOIN registry.equipment eq ON eq.id = s.equipment_id
               JOIN registry.unit u ON u.id = eq.unit_id WHERE s.id = %s""",
            (strategy_id,),
        ).fetchone()


def _like(text: str | None) -> str | None:
    """A contains-pattern for ILIKE with the user's own % and _ taken literally."""
    text = (text or "").strip()
    if not text:
        return None
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


#: The strategies page's rows and filters (parameters only; no input reaches the text).
_SEARCH_FROM = """FROM vib.alarm_strategy s JOIN registry.equipment eq ON eq.id = s.equipment_id
    JOIN registry.unit u ON u.id = eq.unit_id
    JOIN registry.enterprise en ON en.id = u.enterprise_id
    LEFT JOIN registry.sensor sn ON sn.id = s.sensor_id
    LEFT JOIN registry.tag t ON t.id = s.tag_id
    LEFT JOIN vib.strategy_state st ON st.strategy_id = s.id
    WHERE (%(ents)s::integer[] IS NULL OR u.enterprise_id = ANY(%(ents)s::integer[]))
      AND (%(eq)s::integer IS NULL OR s.equipment_id = %(eq)s::integer)
      AND (%(kind)s::text IS NULL OR s.kind = %(kind)s::text)
      AND (%(enabled)s::boolean IS NULL OR s.enabled = %(enabled)s::boolean)
      AND (%(like)s::text IS NULL OR s.name ILIKE %(like)s OR eq.code ILIKE %(like)s
           OR eq.name ILIKE %(like)s OR sn.code ILIKE %(like)s
           OR sn.measurement_point ILIKE %(like)s OR t.name ILIKE %(like)s)"""


def search_strategies(
    conn: psycopg.Connection,
    enterprise_ids: Sequence[int] | None,
    *,
    text: str | None = None,
    equipment_id: int | None = None,
    kind: str | None = None,
    enabled: bool | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the strategies of the pumps of ``enterprise_ids`` (None: all), filtered by
    text (name, pump, point, tag), pump, kind and enabled, with their state; and how many
    match in all.

    >>> rows, total = search_strategies(conn, [3], text="DE", kind="trend", limit=20, offset=0)
    """
    params = {
        "ents": None if enterprise_ids is None else list(enterprise_ids),
        "eq": equipment_id,
        "kind": kind,
        "enabled": enabled,
        "like": _like(text),
        "limit": limit,
        "offset": offset,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute("SELECT count(*) AS n " + _SEARCH_FROM, params).fetchone()
        rows = cur.execute(
            """SELECT s.id, s.equipment_id, s.name, s.kind, s.measure, s.axis, s.priority,
                      s.spec, s.enabled, s.sensor_id, s.tag_id, eq.code AS equipment,
                      eq.name AS pump, u.enterprise_id, en.name AS enterprise,
                      coalesce(sn.measurement_point, sn.code) AS point, t.name AS tag,
                      st.state ->> 'state' AS state, st.state ->> 'level' AS level """
            + _SEARCH_FROM
            + " ORDER BY en.name, eq.code, s.name, s.id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
    return rows, int(total["n"]) if total else 0


def preview_strategy(
    conn: psycopg.Connection,
    strategy: Mapping[str, Any],
    spec: RuleSpec,
    *,
    now: datetime | None = None,
    days: float = 3,
) -> tuple[list[tuple[datetime, float]], StrategyPreview]:
    """The point's series over the last ``days`` and the replay of ``spec`` over it.

    ``strategy`` needs ``measure``, ``sensor_id``, ``axis`` and ``tag_id`` (a stored row or
    the editor's values). A baseline multiple divides by the baseline the evaluator would
    learn now (``baseline_s`` of hourly averages before the window), for the whole stretch.

    >>> series, pv = preview_strategy(conn, values, parse_spec(kind, values["spec"]), days=3)
    """
    now = now or datetime.now(UTC)
    start = now - timedelta(days=days)
    horizon = timedelta(seconds=max(spec.window_s, spec.nodata_s))
    points = fetch_series(conn, strategy, start - horizon, now)
    baseline = None
    if spec.kind == "baseline":
        end = now - timedelta(seconds=spec.window_s)
        hourly = fetch_hourly(conn, strategy, end - timedelta(seconds=spec.baseline_s), end)
        baseline = learn_baseline(hourly, spec.baseline_min_points)
    result = preview(spec, points, start, now, preview_step_s(days), baseline)
    return [p for p in points if p[0] > start], result


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
