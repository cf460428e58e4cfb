"""Risk-monitoring data for regulators and neighbouring systems (R2-R5, A19, A20, R8, R9).

    GET /api/v1/hazard-units               hazard units in scope with warning and SIS state
    GET /api/v1/hazard-units/{unit_id}     one unit with its points (value, limits, state)
    GET /api/v1/kpis/daily                 A19 counting KPIs per enterprise (or unit) and day
    GET /api/v1/processes                  the 18 supervised processes and their key parameters

Declared on the regulator API (``dashboards.api.regulator.api``): same token authentication,
paging (``page``, ``per_page`` ≤ 500, ``total``), validation (unknown or malformed parameters
are a 400 naming each) and region scoping in SQL. ``dashboards.server`` imports this module
before it builds the blueprint, so the endpoints and the OpenAPI document include these.

States are not derived here: units and points come from ``workflows.hazard_units.load_units``,
as on the /hazard page. A unit with monitored points here has the state derived from them
(``state_source: derived``); a unit received from below has only the state it reported
(``received``). No personal data: tags, values and counts only.

    from dashboards.api.spec import Ctx
    page = hazard_units(Ctx(conn, None, user.scope), HazardUnitQuery(kind="warehouse"))
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from psycopg import sql
from pydantic import BaseModel, Field, model_validator

from dashboards.api.regulator import (
    NoQuery,
    Paged,
    PageInfo,
    RegionCode,
    and_all,
    api,
    as_models,
    fetch_page,
    scope_filter,
)
from dashboards.api.spec import MAX_ID, ApiError, Ctx
from workflows.hazard_units import UnitView, load_units

#: KPI days are local days (hazard.kpi_daily, workflows.hazard_feeds).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 366
#: Dates outside this are refused (and date arithmetic near year 1 cannot overflow).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)

Section = Literal["process", "warehouse", "loading_area", "other"]
WarningState = Literal["normal", "warning", "alarm", "unknown"]
SisState = Literal["normal", "bypassed", "tripped", "none", "unknown"]


def _enterprises(
    ctx: Ctx, region: str | None, enterprise_id: int | None
) -> dict[int, tuple[str, str]]:
    """Enterprise id -> (region code, region name) for the enterprises in the token's scope
    that match the filters. A region outside the scope matches nothing (no widening)."""
    where, args = scope_filter(ctx, "e.id", region)
    if enterprise_id is not None:
        where.append(sql.SQL("e.id = %s"))
        args.append(enterprise_id)
    rows = ctx.conn.execute(
        sql.SQL(
            "SELECT e.id, r.code, r.name FROM registry.enterprise e"
            " JOIN registry.region r ON r.id = e.region_id WHERE {}"
        ).format(and_all(where)),
        args,
    ).fetchall()
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


def _process_ids(ctx: Ctx) -> dict[str, int]:
    return {str(n): int(i) for i, n in ctx.conn.execute(
        "SELECT id, name FROM registry.hazardous_process"
    )}  # fmt: skip


# -- hazard units ---------------------------------------------------------------------------


class HazardUnitQuery(Paged):
    region: RegionCode | None = Field(
        None, description="Region code (GB/T 2260, six digits): that region and below."
    )
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID, description="One enterprise.")
    kind: Section | None = Field(
        None,
        description="process (runs a supervised process), warehouse, loading_area or other.",
    )
    state: WarningState | None = Field(None, description="Current warning state.")
    sis: SisState | None = Field(None, description="Current safety-instrumented-system state.")
    process_id: int | None = Field(
        None, ge=1, le=99, description="Units running this supervised process (1-18)."
    )


class ProcessRef(BaseModel):
    id: int
    name: str


class HazardUnit(BaseModel):
    id: int
    code: str
    name: str
    kind: Section = Field(description="Section of the risk-monitoring page the unit is in.")
    hazard_code: str | None = Field(description="Registration code of the hazard unit.")
    major_hazard_level: int | None
    enterprise_id: int
    enterprise_name: str
    region_code: str
    region_name: str
    processes: list[ProcessRef]
    warning_state: WarningState
    sis_state: SisState
    state_source: Literal["derived", "received"] = Field(
        description="derived from this instance's points, or as reported from below."
    )
    point_count: int = Field(description="Monitored points (for a received unit: as reported).")
    points_alarm: int
    points_warning: int
    points_unknown: int
    alarms_24h: int = Field(description="Alarm activations of the unit's tags in 24 hours.")
    last_change: datetime | None = Field(
        description="When the stored state last changed (hazard.state_change)."
    )
    checked_at: datetime | None = Field(description="When the stored state was last checked.")


class HazardUnitPage(PageInfo):
    items: list[HazardUnit]


def _count(detail: Any, key: str) -> int:
    v = detail.get(key) if isinstance(detail, dict) else None
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _state(u: UnitView) -> tuple[str, str, str, tuple[int, int, int, int]]:
    """(warning, sis, source, (points, alarm, warning, unknown)): the derived state, or for a
    unit received from below (no points here) the stored one, as the /hazard page shows."""
    if u.points or u.stored is None:
        s = u.state
        return s.warning, s.sis, "derived", (len(u.points), s.alarms, s.warnings, s.unknown)
    d = u.stored.get("detail")
    counts = (_count(d, "points"), _count(d, "alarms"), _count(d, "warnings"), _count(d, "unknown"))
    return str(u.stored["warning"]), str(u.stored["sis"]), "received", counts


def _alarms_24h(ctx: Ctx, unit_ids: Sequence[int]) -> dict[int, int]:
    if not unit_ids:
        return {}
    rows = ctx.conn.execute(
        "SELECT u.id, (SELECT count(*) FROM alarm.event a WHERE a.kind = 'ALM'"
        " AND a.time > now() - interval '1 day' AND a.tag_id IN"
        " (SELECT h.tag_id FROM registry.hazard_point h WHERE h.unit_id = u.id))"
        " FROM unnest(%s::int[]) u(id)",
        (list(unit_ids),),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def _unit(
    u: UnitView, region: tuple[str, str], pids: dict[str, int], alarms: int
) -> dict[str, Any]:
    warning, sis, source, (points, n_alarm, n_warning, n_unknown) = _state(u)
    stored = u.stored or {}
    return {
        "id": u.id,
        "code": u.code,
        "name": u.name,
        "kind": u.section,
        "hazard_code": u.hazard_code,
        "major_hazard_level": u.major_hazard_level,
        "enterprise_id": u.enterprise_id,
        "enterprise_name": u.enterprise_name,
        "region_code": region[0],
        "region_name": region[1],
        "processes": [ProcessRef(id=pids.get(p, 0), name=p) for p in u.processes],
        "warning_state": warning,
        "sis_state": sis,
        "state_source": source,
        "point_count": points,
        "points_alarm": n_alarm,
        "points_warning": n_warning,
        "points_unknown": n_unknown,
        "alarms_24h": alarms,
        "last_change": stored.get("since"),
        "checked_at": stored.get("checked_at"),
    }


@api.get("/api/v1/hazard-units", query=HazardUnitQuery, response=HazardUnitPage,
         tag="risk monitoring",
         summary="Hazard units in scope with warning and SIS state (R2-R5)")  # fmt: skip
def hazard_units(ctx: Ctx, q: HazardUnitQuery) -> HazardUnitPage:
    """Supervised process units, major-hazard warehouses, loading areas (and other units with
    monitored points) of the token's region, with their current warning and SIS state, how
    many points are in alarm or warning, and when the state last changed. Ordered by
    enterprise name and unit code."""
    ents = _enterprises(ctx, q.region, q.enterprise_id)
    pids = _process_ids(ctx)
    units: list[UnitView] = []
    if ents:
        wanted = next((n for n, i in pids.items() if i == q.process_id), None)
        for u in load_units(ctx.conn, ctx.scope, enterprise_id=q.enterprise_id):
            warning, sis, _, _ = _state(u)
            if (
                u.enterprise_id in ents
                and (q.kind is None or u.section == q.kind)
                and (q.state is None or warning == q.state)
                and (q.sis is None or sis == q.sis)
                and (q.process_id is None or (wanted is not None and wanted in u.processes))
            ):
                units.append(u)
    page = units[q.offset : q.offset + q.per_page]
    alarms = _alarms_24h(ctx, [u.id for u in page])
    return HazardUnitPage(
        page=q.page,
        per_page=q.per_page,
        total=len(units),
        items=[
            HazardUnit(**_unit(u, ents[u.enterprise_id], pids, alarms.get(u.id, 0))) for u in page
        ],
    )


class PointLimits(BaseModel):
    """The tag's alarm limits from the alarm master database (absent: not set)."""

    HH: float | None = None
    H: float | None = None
    L: float | None = None
    LL: float | None = None


class HazardPoint(BaseModel):
    id: int
    role: Literal[
        "key_parameter", "sis_bypass", "sis_trip", "gas_combustible", "gas_toxic",
        "temperature", "humidity", "static_grounding", "overfill",
    ]  # fmt: skip
    tag: str
    description: str | None
    label: str | None
    parameter: str | None = Field(description="The supervised process's key parameter.")
    detector: str | None = Field(description="Gas detector code (R5).")
    value: float | None = Field(description="Newest good value of the last 24 hours.")
    eng_unit: str | None = Field(description="Engineering unit of the value.")
    time: datetime | None
    limits: PointLimits
    active_conditions: list[str] = Field(description="Alarm conditions not yet returned.")
    state: Literal["normal", "warning", "alarm", "unknown"]


class StoredChemical(BaseModel):
    name: str
    cas_no: str | None
    max_stock_t: float | None
    critical_quantity_t: float | None


class LoadingArea(BaseModel):
    kinds: list[str]
    bays: int | None
    major_hazard: bool


class HazardUnitDetail(HazardUnit):
    points: list[HazardPoint]
    chemicals: list[StoredChemical] = Field(description="What a warehouse stores (R3).")
    loading_area: LoadingArea | None = Field(description="What a loading area handles (R4).")


@api.get("/api/v1/hazard-units/<int:unit_id>", query=NoQuery, response=HazardUnitDetail,
         tag="risk monitoring",
         summary="One hazard unit with its points, values, limits and states")  # fmt: skip
def hazard_unit(ctx: Ctx, q: NoQuery) -> HazardUnitDetail:
    """One unit of the token's region: its state and each monitored point (role, tag, value,
    engineering unit, limits, point state) as the risk-monitoring page derives them. A unit
    outside the region, or one that is not a hazard unit, answers 404."""
    ident = ctx.path["unit_id"]
    cond, params = ctx.scope.condition("u.enterprise_id")
    row = ctx.conn.execute(
        sql.SQL("SELECT u.enterprise_id FROM registry.unit u WHERE u.id = %s AND {}").format(cond),
        [ident, *params],
    ).fetchone()
    found = None
    if row is not None:
        found = next(
            (u for u in load_units(ctx.conn, ctx.scope, enterprise_id=int(row[0]))
             if u.id == ident),
            None,
        )  # fmt: skip
    if found is None:
        raise ApiError(404, "not found", f"no hazard unit {ident} in this token's region")
    ents = _enterprises(ctx, None, found.enterprise_id)
    points = [
        HazardPoint(
            id=p.id,
            role=p.role,  # type: ignore[arg-type]  # checked by the register
            tag=p.tag,
            description=p.description,
            label=p.label,
            parameter=p.parameter,
            detector=p.sensor_code,
            value=p.value,
            eng_unit=p.eng_unit,
            time=p.time,
            limits=PointLimits(
                **{k: v for k, v in p.limits.items() if k in ("HH", "H", "L", "LL")}
            ),
            active_conditions=sorted(p.active),
            state=p.state,  # type: ignore[arg-type]
        )
        for p in found.points
    ]
    base = _unit(
        found, ents[found.enterprise_id], _process_ids(ctx), _alarms_24h(ctx, [ident])[ident]
    )
    return HazardUnitDetail(
        **base,
        points=points,
        chemicals=[StoredChemical(**c) for c in found.chemicals],
        loading_area=LoadingArea(**found.loading) if found.loading else None,
    )


# -- daily KPIs -----------------------------------------------------------------------------


class KpiQuery(Paged):
    region: RegionCode | None = Field(
        None, description="Region code (GB/T 2260, six digits): that region and below."
    )
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID, description="One enterprise.")
    by: Literal["enterprise", "unit"] = Field(
        "enterprise", description="Rows per enterprise and day, or per unit and day."
    )
    unit_id: int | None = Field(None, ge=1, le=MAX_ID, description="One unit (implies by=unit).")
    start: date | None = Field(
        None, alias="from", description="First day (local, Asia/Shanghai; default: to − 29 days)."
    )
    end: date | None = Field(None, alias="to", description="Last day, inclusive (default: today).")
    order: Literal["day", "alarms"] = Field(
        "day", description="day: newest first; alarms: most alarms first (a ranking)."
    )

    @model_validator(mode="after")
    def _days(self) -> KpiQuery:
        for name, d in (("from", self.start), ("to", self.end)):
            if d is not None and not FIRST_DAY <= d <= LAST_DAY:
                raise ValueError(f"'{name}' must be between {FIRST_DAY} and {LAST_DAY}")
        end = self.end or datetime.now(LOCAL_TZ).date()
        start = self.start or max(FIRST_DAY, end - timedelta(days=29))
        if start > end:
            raise ValueError("'from' must not be after 'to'")
        if (end - start).days >= MAX_DAYS:
            raise ValueError(f"the range may span at most {MAX_DAYS} days")
        self.start, self.end = start, end
        if self.unit_id is not None:
            if "by" in self.model_fields_set and self.by == "enterprise":
                raise ValueError("unit_id needs by=unit (enterprise rows have no unit)")
            self.by = "unit"
        return self


class KpiDaily(BaseModel):
    day: date
    enterprise_id: int
    enterprise_name: str
    region_code: str
    region_name: str
    unit_id: int | None
    unit_code: str | None
    unit_name: str | None
    alarms: int = Field(description="Alarm activations of the day.")
    alarms_per_hour: float = Field(description="alarms / 24 (A19: average alarms per hour).")
    acked_30s: int = Field(description="Acknowledged within 30 s.")
    acked_30s_pct: float | None = Field(description="acked_30s / alarms × 100; null at 0.")
    handled_30min: int = Field(description="Handled within 30 min and back to normal.")
    handled_30min_pct: float | None
    standing_over_24h: int = Field(description="Alarms standing longer than 24 h.")
    peak_10min: int = Field(description="Most alarms in any 10 minutes of the day.")
    by_priority: dict[str, int]
    by_type: dict[str, int]
    computed_at: datetime


class KpiDailyPage(PageInfo):
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    items: list[KpiDaily]


def _counts(value: Any) -> dict[str, int]:
    """A breakdown as stored (items received from below are not checked there): counts only."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


#: The columns kpis_daily selects, in order.
_KPI_KEYS = (
    "day", "enterprise_id", "enterprise_name", "region_code", "region_name", "unit_id",
    "unit_code", "unit_name", "alarms", "acked_30s", "handled_30min", "standing_over_24h",
    "peak_10min", "by_priority", "by_type", "computed_at",
)  # fmt: skip


def _kpi(k: dict[str, Any]) -> KpiDaily:
    """One row of hazard.kpi_daily (``_KPI_KEYS``) with the rates A19 derives from it."""
    n = k["alarms"]
    return KpiDaily(
        **k
        | {
            "alarms_per_hour": round(n / 24.0, 2),
            "acked_30s_pct": _pct(k["acked_30s"], n),
            "handled_30min_pct": _pct(k["handled_30min"], n),
            "by_priority": _counts(k["by_priority"]),
            "by_type": _counts(k["by_type"]),
        }
    )


@api.get("/api/v1/kpis/daily", query=KpiQuery, response=KpiDailyPage, tag="alarms",
         summary="Daily A19 alarm KPIs per enterprise or unit, for comparisons")  # fmt: skip
def kpis_daily(ctx: Ctx, q: KpiQuery) -> KpiDailyPage:
    """The counting KPIs of A19 per local day (hazard.kpi_daily, computed at the enterprise or
    received from it): alarms, acknowledged within 30 s, handled within 30 min, standing over
    24 h, the 10-minute peak. Per enterprise by default; ``by=unit`` gives the unit rows."""
    where, args = scope_filter(ctx, "k.enterprise_id", q.region)
    where += [
        sql.SQL("k.day BETWEEN %s AND %s"),
        sql.SQL("k.unit_id IS NULL" if q.by == "enterprise" else "k.unit_id IS NOT NULL"),
    ]
    args += [q.start, q.end]
    for column, value in (("enterprise_id", q.enterprise_id), ("unit_id", q.unit_id)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier("k", column)))
            args.append(value)
    filt = and_all(where)
    source = sql.SQL(
        " FROM hazard.kpi_daily k JOIN registry.enterprise e ON e.id = k.enterprise_id"
        " JOIN registry.region r ON r.id = e.region_id"
        " LEFT JOIN registry.unit u ON u.id = k.unit_id WHERE "
    )
    order = sql.SQL(
        "k.day DESC, e.name, u.code NULLS FIRST"
        if q.order == "day"
        else "k.alarms DESC, k.day DESC, e.name, u.code NULLS FIRST"
    )
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*)") + source + filt,
        sql.SQL(
            "SELECT k.day, e.id, e.name, r.code, r.name, k.unit_id, u.code, u.name, k.alarms,"
            " k.acked_30s, k.handled_30min, k.standing_over_24h, k.peak_10min, k.by_priority,"
            " k.by_type, k.computed_at"
        )
        + source
        + filt
        + sql.SQL(" ORDER BY {}").format(order),
        args,
    )
    items = [_kpi(dict(zip(_KPI_KEYS, r, strict=True))) for r in rows]
    assert q.start is not None and q.end is not None  # set by the validator
    return KpiDailyPage(
        page=q.page,
        per_page=q.per_page,
        total=total,
        **{"from": q.start, "to": q.end},
        items=items,
    )


# -- the 18 processes -----------------------------------------------------------------------


class ProcessQuery(Paged):
    batch: int | None = Field(
        None, ge=1, le=2, description="1: 安监总管三〔2009〕116号, 2: 安监总管三〔2013〕3号."
    )


class ProcessParameter(BaseModel):
    id: int
    ord: int
    name: str


class HazardousProcess(BaseModel):
    id: int = Field(description="Ordinal of the consolidated list (1-18).")
    name: str
    name_en: str
    batch: int
    source: str = Field(description="The notice that lists the process.")
    parameters: list[ProcessParameter] = Field(description="重点监控工艺参数, one quantity each.")
    control_requirements: str | None = Field(
        description="安全控制的基本要求 as published; null where not yet entered."
    )
    control_methods: str | None = Field(
        description="宜采用的控制方式 as published; null where not yet entered."
    )
    checked_against: str | None = Field(
        description="Address of the published text the list was checked against; null: not yet."
    )


class HazardousProcessPage(PageInfo):
    items: list[HazardousProcess]


#: The columns hazardous_processes selects, in order (parameters: a JSON list of objects).
_PROCESS_KEYS = (
    "id", "name", "name_en", "batch", "source", "control_requirements", "control_methods",
    "checked_against", "parameters",
)  # fmt: skip


@api.get("/api/v1/processes", query=ProcessQuery, response=HazardousProcessPage,
         tag="registers",
         summary="The 18 supervised hazardous processes and their key parameters")  # fmt: skip
def hazardous_processes(ctx: Ctx, q: ProcessQuery) -> HazardousProcessPage:
    """Reference data: the nationally supervised hazardous chemical processes with their key
    safety parameters (the register an enterprise's key-parameter points name), the control
    requirements and recommended control methods where entered. The same for every region."""
    where = sql.SQL("TRUE" if q.batch is None else "p.batch = %s")
    args: list[Any] = [] if q.batch is None else [q.batch]
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*) FROM registry.hazardous_process p WHERE {}").format(where),
        sql.SQL(
            "SELECT p.id, p.name, p.name_en, p.batch, p.source, p.control_requirements,"
            " p.control_methods, p.checked_against, coalesce((SELECT json_agg(json_build_object("
            "'id', pp.id, 'ord', pp.ord, 'name', pp.name) ORDER BY pp.ord, pp.id)"
            " FROM registry.process_parameter pp WHERE pp.process_id = p.id), '[]')"
            " FROM registry.hazardous_process p WHERE {} ORDER BY p.id"
        ).format(where),
        args,
    )
    return HazardousProcessPage(
        page=q.page,
        per_page=q.per_page,
        total=total,
        items=as_models(HazardousProcess, rows, _PROCESS_KEYS),
    )
