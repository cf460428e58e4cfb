"""Pump condition monitoring (issue 8, P11): the list of in-scope pumps with their state, as
cards that stack on a phone. Each card links to the pump's diagnosis page.

Also the pump pages' shared strings, the navigation entries and ``pumps_in_scope`` (every
query carries the user's scope).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
from dash import Input, Output, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from analytics.vibration.severity import default_limits, zone
from dashboards import auth, i18n
from dashboards.auth import Scope
from dashboards.components.basic import stat_card
from dashboards.layout import forbidden, register_page

PATH = "/pumps"
ROLES = frozenset({"admin", "engineer", "operator", "regulator"})
REFRESH_MS = 30_000

i18n.register(
    {
        "nav.pumps": {"zh": "机泵监测", "en": "Pump monitoring"},
        "nav.pump_alarms": {"zh": "机泵报警与缺陷", "en": "Pump alarms & defects"},
        "nav.pump_cases": {"zh": "故障案例库", "en": "Fault cases"},
        "nav.pump_health": {"zh": "硬件自诊断", "en": "Hardware health"},
        "nav.pump_reports": {"zh": "状态监测报告", "en": "Condition reports"},
        "pumps.title": {"zh": "机泵状态监测", "en": "Pump condition monitoring"},
        "pumps.none": {"zh": "没有可查看的机泵。", "en": "No pumps in your scope."},
        "pumps.total": {"zh": "机泵", "en": "Pumps"},
        "pumps.alarming": {"zh": "报警中", "en": "Alarming"},
        "pumps.zone_cd": {"zh": "C/D 区", "en": "Zone C/D"},
        "pumps.offline": {"zh": "传感器离线", "en": "Sensors offline"},
        "pumps.velocity": {"zh": "振动速度", "en": "Velocity"},
        "pumps.zone": {"zh": "区域", "en": "Zone"},
        "pumps.alarms": {"zh": "报警", "en": "Alarms"},
        "pumps.defects": {"zh": "缺陷", "en": "Defects"},
        "pumps.sensors": {"zh": "传感器在线", "en": "Sensors online"},
        "pumps.no_data": {"zh": "无数据", "en": "no data"},
        "pumps.updated": {"zh": "更新于", "en": "Updated"},
        "pumps.state.normal": {"zh": "正常", "en": "Normal"},
        "pumps.state.warning": {"zh": "预警", "en": "Warning"},
        "pumps.state.alarm": {"zh": "报警", "en": "Alarm"},
        "pumps.state.danger": {"zh": "危险", "en": "Danger"},
        "pumps.state.unknown": {"zh": "未知", "en": "Unknown"},
        "pumps.scope.autoignition_or_260c": {"zh": "高温泵", "en": "Hot service"},
        "pumps.scope.liquefied_hydrocarbon_c5": {"zh": "液化烃/C5", "en": "LPG / C5"},
        "pumps.scope.acute_toxicity_1_2": {"zh": "急性毒性", "en": "Acute toxic"},
    }
)


def pumps_in_scope(
    conn: psycopg.Connection, scope: Scope, now: datetime, pump_id: int | None = None
) -> list[dict[str, Any]]:
    """Pumps the user may see, with the latest worst-axis velocity (10 min), zone, open pump
    alarms (highest level), open defects and sensors online."""
    cond, params = scope.condition("u.enterprise_id")
    query = sql.SQL(
        """SELECT e.id, e.code, e.name, e.medium, e.pump_scope, e.rated_power_kw,
                  e.rated_speed_rpm, u.enterprise_id, en.name AS enterprise,
                  l.ab_mm_s, l.bc_mm_s, l.cd_mm_s,
                  (SELECT max(o.velocity_rms_mm_s) FROM vib.overall o
                     JOIN registry.sensor s ON s.id = o.sensor_id
                    WHERE s.equipment_id = e.id AND o.time > %s AND o.time <= %s) AS velocity,
                  (SELECT count(*) FROM workflow.alert a WHERE a.source = 'pump'
                     AND a.labels ->> 'equipment_id' = e.id::text AND a.closed_at IS NULL
                     AND a.state = 'firing') AS alarms,
                  (SELECT max(CASE a.level WHEN 'danger' THEN 3 WHEN 'alarm' THEN 2
                                           WHEN 'warning' THEN 1 END)
                     FROM workflow.alert a WHERE a.source = 'pump'
                     AND a.labels ->> 'equipment_id' = e.id::text AND a.closed_at IS NULL
                     AND a.state = 'firing') AS worst,
                  (SELECT count(*) FROM vib.defect d WHERE d.equipment_id = e.id
                     AND d.state = 'open') AS defects,
                  (SELECT count(*) FROM registry.sensor s WHERE s.equipment_id = e.id
                     AND s.kind = 'vibration_triaxial') AS sensors,
                  (SELECT count(*) FROM registry.sensor s WHERE s.equipment_id = e.id
                     AND s.kind = 'vibration_triaxial' AND EXISTS (
                       SELECT 1 FROM vib.overall o WHERE o.sensor_id = s.id
                          AND o.time > %s AND o.time <= %s)) AS sensors_live
           FROM registry.equipment e JOIN registry.unit u ON u.id = e.unit_id
           JOIN registry.enterprise en ON en.id = u.enterprise_id
           LEFT JOIN vib.severity_limit l ON l.equipment_id = e.id
           WHERE e.kind = 'pump' AND (%s::integer IS NULL OR e.id = %s) AND {}
           ORDER BY en.name, e.code"""
    ).format(cond)
    recent = now - timedelta(minutes=10)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (recent, now, recent, now, pump_id, pump_id, *params)).fetchall()
    for r in rows:
        if r["ab_mm_s"] is not None:
            from analytics.vibration.severity import ZoneLimits

            lim = ZoneLimits(r["ab_mm_s"], r["bc_mm_s"], r["cd_mm_s"], "site")
        else:
            lim = default_limits(power_kw=float(r["rated_power_kw"] or 55.0))
        r["limits"] = lim
        r["zone"] = zone(r["velocity"], lim) if r["velocity"] is not None else None
        r["state"] = {None: "normal", 1: "warning", 2: "alarm", 3: "danger"}[r["worst"]]
        if r["velocity"] is None and not r["alarms"]:
            r["state"] = "unknown"
    return rows


def pump_card(p: dict[str, Any]) -> html.A:
    t = i18n.t
    vel = f"{p['velocity']:.2f} mm/s" if p["velocity"] is not None else t("pumps.no_data")
    tags = [html.Span(t(f"pumps.scope.{s}"), className="pump-tag") for s in p["pump_scope"] or []]
    return html.A(
        href=f"/pumps/detail?id={p['id']}",
        className=f"pump-card pump-state-{p['state']}",
        id=f"pump-card-{p['id']}",
        children=[
            html.Div(
                [
                    html.B(p["code"], className="pump-code"),
                    html.Span(t(f"pumps.state.{p['state']}"), className="pump-state"),
                ],
                className="pump-card-head",
            ),
            html.Div(p["name"], className="pump-name"),
            html.Div([p["medium"] or "", *tags], className="pump-meta"),
            html.Div(
                className="pump-figures",
                children=[
                    html.Div([html.Span(t("pumps.velocity")), html.B(vel, className="pump-vel")]),
                    html.Div(
                        [
                            html.Span(t("pumps.zone")),
                            html.B(
                                p["zone"] or "—", className=f"pump-zone zone-{p['zone'] or 'none'}"
                            ),
                        ]
                    ),
                    html.Div([html.Span(t("pumps.alarms")), html.B(str(p["alarms"]))]),
                    html.Div([html.Span(t("pumps.defects")), html.B(str(p["defects"]))]),
                    html.Div(
                        [
                            html.Span(t("pumps.sensors")),
                            html.B(f"{p['sensors_live']}/{p['sensors']}"),
                        ]
                    ),
                ],
            ),
        ],
    )


def content(conn: psycopg.Connection, scope: Scope, now: datetime) -> html.Div:
    t = i18n.t
    pumps = pumps_in_scope(conn, scope, now)
    if not pumps:
        return html.Div(t("pumps.none"), className="hw-muted", id="pumps-none")
    cards = html.Div(
        className="hw-cards",
        children=[
            stat_card(t("pumps.total"), str(len(pumps)), "pumps-total"),
            stat_card(
                t("pumps.alarming"),
                str(sum(p["alarms"] > 0 for p in pumps)),
                "pumps-alarming",
                "hw-bad" if any(p["alarms"] for p in pumps) else "",
            ),
            stat_card(
                t("pumps.zone_cd"),
                str(sum(p["zone"] in ("C", "D") for p in pumps)),
                "pumps-zone-cd",
            ),
            stat_card(
                t("pumps.offline"),
                str(sum(p["sensors"] - p["sensors_live"] for p in pumps)),
                "pumps-offline",
            ),
        ],
    )
    return html.Div(
        [
            cards,
            html.Div([pump_card(p) for p in pumps], className="pump-grid", id="pump-grid"),
            html.Div(
                f"{t('pumps.updated')} {now.astimezone(i18n.DISPLAY_TZ):%H:%M:%S}",
                className="hw-muted",
            ),
        ]
    )


def sub_nav(active: str) -> html.Div:
    """Links between the pump pages (the phone has no side navigation room)."""
    items = [
        (PATH, "nav.pumps"),
        ("/pumps/alarms", "nav.pump_alarms"),
        ("/pumps/health", "nav.pump_health"),
        ("/pumps/cases", "nav.pump_cases"),
        ("/pumps/reports", "nav.pump_reports"),
        ("/pumps/strategies", "nav.pump_strategies"),
    ]
    return html.Div(
        [
            dcc.Link(
                i18n.t(k), href=p, className="pump-subnav-link" + (" active" if p == active else "")
            )
            for p, k in items
        ],
        className="pump-subnav",
    )


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    return html.Div(
        [
            html.H1(i18n.t("pumps.title"), id="page-title"),
            sub_nav(PATH),
            dcc.Interval(id="pumps-tick", interval=REFRESH_MS),
            html.Div(id="pumps-content"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pumps", 20, layout, roles=ROLES)

    @app.callback(Output("pumps-content", "children"), Input("pumps-tick", "n_intervals"))
    def _refresh(_n: int | None) -> Any:
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            return forbidden()
        with auth.db_pool().connection() as conn:
            return content(conn, user.scope, datetime.now(UTC))
