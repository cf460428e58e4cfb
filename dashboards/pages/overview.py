"""Overview of the signed-in scope (issue 5, item 6): per enterprise, then per unit (process
units, tank farms, warehouses, loading areas), the tags, data freshness, device health and
current alarm state. Two scoped queries; the scope is a WHERE condition. On a phone every row
becomes a card (P11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
from dash import html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.auth import Scope
from dashboards.components.basic import stat_card, table
from dashboards.layout import register_page

#: Data older than this is "stale" in the freshness count.
FRESH = timedelta(minutes=15)
#: Device health and alarm state look back this far (older state is "no data").
HEALTH_WINDOW = timedelta(days=1)
ALARM_WINDOW = timedelta(days=7)
#: Rows shown (a province regulator sees hundreds of enterprises: worst first).
MAX_ROWS = 500

_QUERY = """
WITH ent AS (
    SELECT e.id, e.name, r.name AS region
    FROM registry.enterprise e JOIN registry.region r ON r.id = e.region_id
    WHERE {scope}
),
tags AS (
    SELECT t.enterprise_id, count(*) AS n, max(last.time) AS last_sample
    FROM registry.tag t
    JOIN ent ON ent.id = t.enterprise_id
    LEFT JOIN LATERAL (
        SELECT s.time FROM ts.sample s WHERE s.tag_id = t.id ORDER BY s.time DESC LIMIT 1
    ) last ON true
    GROUP BY t.enterprise_id
),
dev AS (
    SELECT 'sensor' AS kind, id, enterprise_id FROM registry.sensor
    UNION ALL SELECT 'gateway', id, enterprise_id FROM registry.gateway
    UNION ALL SELECT 'camera', id, enterprise_id FROM registry.camera WHERE kind = 'camera'
),
health AS (
    SELECT d.enterprise_id, count(*) AS total, count(*) FILTER (WHERE h.online) AS online
    FROM dev d
    JOIN ent ON ent.id = d.enterprise_id
    LEFT JOIN LATERAL (
        SELECT online FROM ts.device_health h
        WHERE h.device_kind = d.kind AND h.device_id = d.id AND h.time > now() - %s
        ORDER BY h.time DESC LIMIT 1
    ) h ON true
    GROUP BY d.enterprise_id
),
alarms AS (
    SELECT t.enterprise_id, count(*) AS open
    FROM (
        SELECT DISTINCT ON (a.tag_id, a.condition) a.tag_id, a.kind
        FROM alarm.event a
        WHERE a.kind IN ('ALM', 'RTN') AND a.time > now() - %s
        ORDER BY a.tag_id, a.condition, a.time DESC
    ) latest
    JOIN registry.tag t ON t.id = latest.tag_id
    JOIN ent ON ent.id = t.enterprise_id
    WHERE latest.kind = 'ALM'
    GROUP BY t.enterprise_id
)
SELECT ent.id, ent.name, ent.region, coalesce(tags.n, 0), tags.last_sample,
       coalesce(health.online, 0), coalesce(health.total, 0), coalesce(alarms.open, 0)
FROM ent
LEFT JOIN tags ON tags.enterprise_id = ent.id
LEFT JOIN health ON health.enterprise_id = ent.id
LEFT JOIN alarms ON alarms.enterprise_id = ent.id
ORDER BY coalesce(alarms.open, 0) DESC, tags.last_sample DESC NULLS LAST, ent.name
LIMIT %s
"""


_UNIT_QUERY = """
WITH ent AS (
    SELECT e.id, e.name FROM registry.enterprise e WHERE {scope}
),
units AS (
    SELECT u.id, u.enterprise_id, u.code, u.name, u.kind
    FROM registry.unit u JOIN ent ON ent.id = u.enterprise_id
),
tags AS (
    SELECT t.unit_id, count(*) AS n, max(last.time) AS last_sample
    FROM registry.tag t
    JOIN units ON units.id = t.unit_id
    LEFT JOIN LATERAL (
        SELECT s.time FROM ts.sample s WHERE s.tag_id = t.id ORDER BY s.time DESC LIMIT 1
    ) last ON true
    GROUP BY t.unit_id
),
dev AS (
    SELECT 'sensor' AS kind, s.id, q.unit_id
    FROM registry.sensor s JOIN registry.equipment q ON q.id = s.equipment_id
    UNION ALL SELECT 'camera', c.id, c.unit_id FROM registry.camera c
    WHERE c.kind = 'camera' AND c.unit_id IS NOT NULL
),
health AS (
    SELECT d.unit_id, count(*) AS total, count(*) FILTER (WHERE h.online) AS online
    FROM dev d
    JOIN units ON units.id = d.unit_id
    LEFT JOIN LATERAL (
        SELECT online FROM ts.device_health h
        WHERE h.device_kind = d.kind AND h.device_id = d.id AND h.time > now() - %s
        ORDER BY h.time DESC LIMIT 1
    ) h ON true
    GROUP BY d.unit_id
),
alarms AS (
    SELECT t.unit_id, count(*) AS open,
           min(CASE latest.priority WHEN 'emergency' THEN 1 WHEN 'high' THEN 2
                                    WHEN 'low' THEN 3 WHEN 'journal' THEN 4 ELSE 5 END) AS worst
    FROM (
        SELECT DISTINCT ON (a.tag_id, a.condition) a.tag_id, a.kind, a.priority
        FROM alarm.event a
        WHERE a.kind IN ('ALM', 'RTN') AND a.time > now() - %s
        ORDER BY a.tag_id, a.condition, a.time DESC
    ) latest
    JOIN registry.tag t ON t.id = latest.tag_id
    JOIN units ON units.id = t.unit_id
    WHERE latest.kind = 'ALM'
    GROUP BY t.unit_id
)
SELECT units.id, ent.name, units.code, units.name, units.kind, coalesce(tags.n, 0),
       tags.last_sample, coalesce(health.online, 0), coalesce(health.total, 0),
       coalesce(alarms.open, 0), alarms.worst
FROM units
JOIN ent ON ent.id = units.enterprise_id
LEFT JOIN tags ON tags.unit_id = units.id
LEFT JOIN health ON health.unit_id = units.id
LEFT JOIN alarms ON alarms.unit_id = units.id
ORDER BY coalesce(alarms.open, 0) DESC, alarms.worst NULLS LAST, ent.name, units.code
LIMIT %s
"""
#: alarms.worst (1..5) -> i18n key of the highest open priority.
WORST = {
    1: "overview.prio.emergency",
    2: "overview.prio.high",
    3: "overview.prio.low",
    4: "overview.prio.journal",
    5: "overview.prio.high",
}

i18n.register(
    {
        "overview.units": {"zh": "装置与区域", "en": "Units and areas"},
        "overview.unit": {"zh": "装置/区域", "en": "Unit / area"},
        "overview.freshness": {"zh": "数据状态", "en": "Data"},
        "overview.fresh": {"zh": "正常", "en": "fresh"},
        "overview.stale": {"zh": "滞后", "en": "stale"},
        "overview.alarm_state": {"zh": "报警状态", "en": "Alarm state"},
        "overview.normal": {"zh": "正常", "en": "normal"},
        "overview.units_empty": {
            "zh": "当前范围内没有登记装置。",
            "en": "No units registered in your scope.",
        },
        "overview.prio.emergency": {"zh": "紧急", "en": "emergency"},
        "overview.prio.high": {"zh": "高", "en": "high"},
        "overview.prio.low": {"zh": "低", "en": "low"},
        "overview.prio.journal": {"zh": "提示", "en": "journal"},
    }
)


def unit_rows(conn: psycopg.Connection, scope: Scope) -> list[tuple[Any, ...]]:
    """``(id, enterprise, code, name, kind, tags, last_sample, online, devices, open_alarms,
    worst_priority 1..5 or None)`` per unit of the scope, alarmed units first."""
    cond, params = scope.condition("e.id")
    query = sql.SQL(_UNIT_QUERY).format(scope=cond)  # type: ignore[arg-type]
    return conn.execute(query, (*params, HEALTH_WINDOW, ALARM_WINDOW, MAX_ROWS)).fetchall()


def _unit_table(rows: list[tuple[Any, ...]], now: datetime) -> html.Div:
    t = i18n.t
    headers = [
        t("overview.enterprise"),
        t("overview.unit"),
        t("overview.tags"),
        t("overview.last_sample"),
        t("overview.freshness"),
        t("overview.devices"),
        t("overview.alarm_state"),
    ]
    body = []
    for _id, ent, code, name, _kind, tags, last, on, total, open_, worst in rows:
        fresh = last is not None and now - last < FRESH
        state = (
            html.Span(
                f"{t(WORST.get(worst or 5, 'overview.prio.high'))} × {open_}",
                className="hw-badge hw-badge-bad",
            )
            if open_
            else html.Span(t("overview.normal"), className="hw-badge hw-badge-ok")
        )
        body.append(
            (
                ent,
                f"{code} {name}",
                i18n.fmt_number(tags),
                i18n.fmt_datetime(last),
                html.Span(
                    t("overview.fresh")
                    if fresh
                    else (t("overview.stale") if last else t("overview.none")),
                    className="hw-badge " + ("hw-badge-ok" if fresh else "hw-badge-warn"),
                ),
                f"{on}/{total}" if total else "-",
                state,
            )
        )
    return table(headers, body, "overview-units", t("overview.units_empty"))


def overview_rows(conn: psycopg.Connection, scope: Scope) -> list[tuple[Any, ...]]:
    """``(id, name, region, tags, last_sample, online, devices, open_alarms)`` per enterprise."""
    cond, params = scope.condition("e.id")
    query = sql.SQL(_QUERY).format(scope=cond)  # type: ignore[arg-type]
    # Placeholders in text order: the scope's (first CTE), then the windows and the limit.
    return conn.execute(query, (*params, HEALTH_WINDOW, ALARM_WINDOW, MAX_ROWS)).fetchall()


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        rows = overview_rows(conn, user.scope)
        units = unit_rows(conn, user.scope)
    now = datetime.now(UTC)
    fresh = sum(1 for r in rows if r[4] is not None and now - r[4] < FRESH)
    online = sum(r[5] for r in rows)
    devices = sum(r[6] for r in rows)
    open_alarms = sum(r[7] for r in rows)
    stats = html.Div(
        className="hw-stats",
        children=[
            stat_card(t("overview.stat.enterprises"), i18n.fmt_number(len(rows)), "stat-ent"),
            stat_card(t("overview.stat.fresh"), f"{fresh}/{len(rows)}", "stat-fresh"),
            stat_card(t("overview.stat.devices"), f"{online}/{devices}", "stat-devices"),
            stat_card(
                t("overview.stat.alarms"),
                i18n.fmt_number(open_alarms),
                "stat-alarms",
                "hw-bad" if open_alarms else "",
            ),
        ],
    )
    headers = [
        t("overview.enterprise"),
        t("overview.region"),
        t("overview.tags"),
        t("overview.last_sample"),
        t("overview.devices"),
        t("overview.alarms"),
    ]
    body = [
        (
            name,
            region,
            i18n.fmt_number(tags),
            i18n.fmt_datetime(last),
            f"{on}/{total}" if total else "-",
            i18n.fmt_number(alarms),
        )
        for _id, name, region, tags, last, on, total, alarms in rows
    ]
    return html.Div(
        [
            html.H1(t("overview.title"), id="page-title"),
            html.P(t("overview.count", n=len(rows)), className="hw-muted", id="overview-count"),
            stats,
            table(headers, body, "overview-table", t("overview.empty")),
            html.H2(t("overview.units"), id="overview-units-title"),
            _unit_table(units, now),
        ]
    )


def register(app: dash.Dash) -> None:
    # The entry is in NAV from the start: it stays first.
    register_page(__name__, "/", "overview", 0, layout, nav=False)
