"""Regulator endpoints for gas-detector, pump and process-rule alarms (P13, R5, R8, R9).

    GET /api/v1/alerts         alerts in scope, newest first (filters: enterprise, region,
                               category, level, state, priority, time window)
    GET /api/v1/alerts/stats   counts ranked by enterprise, region, city, category, level or
                               priority; reviewed video alarms count as category ``video``

These alarms are alerts of the alerting engine (``workflow.alert``): raised here by the rule
engine (gas detectors: ``gas``, other tags: ``process``), the vibration strategies (``pump``)
and the hardware self-diagnosis (``pump_health``), or received from below on the ``alert``
feed (workflows.alert_feed). An alert counts in the window by the time it fired; alerts that
never fired (a pending that cleared) are no alarms. Process alarm events and their rankings
are ``/api/v1/alarms/*``; both together are R8's statistics by enterprise, area and type.

Registered on the regulator API's ``api`` (importing this module adds the endpoints; the
server imports it). Every query is restricted to the token's region in SQL, exactly like the
other endpoints. Nothing personal is answered: no acknowledging or assigned user, no comment,
and only the technical labels in ``LABELS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from psycopg import sql
from pydantic import BaseModel, Field

from dashboards.api.regulator import (
    MAX_ID,
    PageInfo,
    Ranked,
    RegionCode,
    Windowed,
    and_all,
    api,
    as_models,
    fetch_page,
    ranking,
    scope_filter,
)
from dashboards.api.spec import Ctx

AlertCategory = Literal["gas", "process", "pump", "pump_health"]
StatsCategory = Literal["gas", "process", "pump", "pump_health", "video"]
Level = Literal["warning", "alarm", "danger"]
AlertState = Literal["pending", "firing", "resolved", "nodata", "error", "normal"]
Priority = Literal["emergency", "high", "low"]

CATEGORIES: Final = ("gas", "process", "pump", "pump_health")
#: Labels answered (where the alarm is and what it measures); anything else stays home.
LABELS: Final = (
    "unit", "equipment", "pump", "point", "measure", "parameter", "gas", "area", "device",
    "device_kind", "issue", "rule", "strategy",
)  # fmt: skip
#: A video alarm counts once a person confirmed it (V20): confirmed, handled, or closed
#: without ever being marked a false positive. Received ones are stored confirmed.
VIDEO_REVIEWED: Final = (
    "v.state IN ('confirmed', 'handled', 'closed') AND NOT EXISTS (SELECT 1"
    " FROM video.alarm_action x WHERE x.alarm_id = v.id AND x.to_state = 'false_positive')"
)


class AlertFilters(Windowed):
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID, description="One enterprise.")
    region: RegionCode | None = Field(
        None, description="Region code (GB/T 2260, six digits): that region and below."
    )
    level: Level | None = None
    state: AlertState | None = Field(None, description="Current state of the alert.")
    priority: Priority | None = None


class AlertQuery(AlertFilters):
    category: AlertCategory | None = Field(
        None, description="gas (gas detectors), process (other rule alerts), pump, pump_health."
    )


class Alert(BaseModel):
    id: int = Field(description="The alert's id at this level.")
    enterprise_id: int
    enterprise_code: str | None
    enterprise_name: str
    region_code: str
    region_name: str
    category: str
    source: str = Field(description="What raised it at the origin (rule, pump, pump_health).")
    priority: str
    level: str | None
    state: str
    value: float | None
    summary: str
    unit_code: str | None
    labels: dict[str, str]
    started_at: datetime
    fired_at: datetime
    resolved_at: datetime | None
    acked_at: datetime | None
    closed_at: datetime | None
    received: bool = Field(description="Received from a lower level (true) or raised here.")


class AlertPage(PageInfo):
    items: list[Alert]


def _filters(
    ctx: Ctx, q: AlertFilters, column: str = "a.enterprise_id"
) -> tuple[list[sql.Composable], list[Any]]:
    """Scope and the common filters over ``x`` columns (enterprise_id, level, state, priority)
    and ``e`` (the enterprise)."""
    where, args = scope_filter(ctx, column, q.region)
    prefix = column.split(".", 1)[0]
    for name in ("level", "state", "priority"):
        value = getattr(q, name)
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(prefix, name)))
            args.append(value)
    if q.enterprise_id is not None:
        where.append(sql.SQL("e.id = %s"))
        args.append(q.enterprise_id)
    return where, args


_ALERT_FROM = sql.SQL(
    " FROM workflow.alert a JOIN registry.enterprise e ON e.id = a.enterprise_id"
    " JOIN registry.region r ON r.id = e.region_id"
)


@api.get("/api/v1/alerts", query=AlertQuery, response=AlertPage, tag="alarms",
         summary="Gas-detector, pump and process-rule alarms in scope, newest first")  # fmt: skip
def alerts(ctx: Ctx, q: AlertQuery) -> AlertPage:
    """Alerts that fired in the window (default: the last 24 hours), raised here or received
    from below, with their current state. No user names or comments."""
    where, args = _filters(ctx, q)
    where += [sql.SQL("a.category = ANY(%s)"), sql.SQL("a.fired_at >= %s AND a.fired_at < %s")]
    args += [[q.category] if q.category else list(CATEGORIES), q.start, q.end]
    filt = and_all(where)
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*)") + _ALERT_FROM + sql.SQL(" WHERE ") + filt,
        sql.SQL(
            "SELECT a.id, e.id, e.code, e.name, r.code, r.name, a.category,"
            " coalesce(a.labels ->> 'source', a.source), a.priority, a.level, a.state,"
            " CASE WHEN a.value IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE a.value END,"
            " a.summary, a.labels ->> 'unit',"
            " (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM jsonb_each_text(a.labels)"
            "   AS l (k, v) WHERE k = ANY(%s)),"
            " a.started_at, a.fired_at, a.resolved_at, a.acked_at, a.closed_at,"
            " a.origin_key IS NOT NULL"
        )
        + _ALERT_FROM
        + sql.SQL(" WHERE {} ORDER BY a.fired_at DESC, a.id DESC").format(filt),
        args,
        [list(LABELS), *args],
    )
    return AlertPage(page=q.page, per_page=q.per_page, total=total, items=as_models(Alert, rows))


class AlertStatsQuery(AlertFilters):
    group_by: Literal["enterprise", "region", "city", "category", "level", "priority"] = (
        "enterprise"
    )
    category: StatsCategory | None = Field(
        None, description="gas, process, pump, pump_health or video (reviewed video alarms)."
    )


class AlertStats(PageInfo):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: str
    alerts: int = Field(description="All alarms of the window in scope (with the filters).")
    items: list[Ranked]


_GROUPS: Final = {
    "enterprise": ("e.id::text", "e.name"),
    "region": ("r.code", "r.name"),
    "city": ("coalesce(c.code, r.code)", "coalesce(c.name, r.name)"),
    "category": ("x.category", "x.category"),
    "level": ("coalesce(x.level, 'none')", "coalesce(x.level, 'none')"),
    "priority": ("x.priority", "x.priority"),
}


@api.get("/api/v1/alerts/stats", query=AlertStatsQuery, response=AlertStats, tag="alarms",
         summary="Gas, pump, process-rule and video alarm counts ranked (R8)")  # fmt: skip
def alert_stats(ctx: Ctx, q: AlertStatsQuery) -> AlertStats:
    """Alarms that fired in the window counted per group, largest first (rank 1). Video
    alarms count when a person confirmed them (V20), at the time they were raised."""
    where, args = _filters(ctx, q, "x.enterprise_id")
    categories = [q.category] if q.category else [*CATEGORIES, "video"]
    key, name = (sql.SQL(s) for s in _GROUPS[q.group_by])  # from code, not from input
    groups = sql.SQL(
        "WITH x AS ("
        " SELECT a.enterprise_id, a.category, a.level, a.priority, a.state"
        "  FROM workflow.alert a WHERE a.category = ANY(%s)"
        "  AND a.fired_at >= %s AND a.fired_at < %s"
        " UNION ALL"
        " SELECT v.enterprise_id, 'video', 'alarm', 'high',"
        "  CASE WHEN v.cleared_at IS NULL THEN 'firing' ELSE 'resolved' END"
        "  FROM video.alarm v WHERE 'video' = ANY(%s) AND v.raised_at >= %s"
        "  AND v.raised_at < %s AND {video}),"
        " g AS (SELECT {key} AS key, {name} AS name, count(*) AS n FROM x"
        "  JOIN registry.enterprise e ON e.id = x.enterprise_id"
        "  JOIN registry.region r ON r.id = e.region_id"
        "  LEFT JOIN registry.region c ON c.code = left(r.code, 4) || '00'"
        "  WHERE {filt} GROUP BY 1, 2) "
    ).format(video=sql.SQL(VIDEO_REVIEWED), key=key, name=name, filt=and_all(where))
    params = [categories, q.start, q.end, categories, q.start, q.end, *args]
    fields, alerts = ranking(ctx, groups, params, q, q.group_by)
    return AlertStats(**fields, alerts=alerts)
