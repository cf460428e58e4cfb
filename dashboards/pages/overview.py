"""Overview of the signed-in scope: per enterprise its tags, data freshness, device health and
open alarms (issue 5, item 6). One scoped query; the scope is a WHERE condition."""

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
        ]
    )


def title() -> str:
    return f"{i18n.t('nav.overview')} · {i18n.t('site.name')}"


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path="/", name="overview", title=title, layout=layout, order=0)
