"""Hardware self-diagnosis (issue 8, P7): gateways and sensors with online state, battery,
signal, data freshness and the gaps of the last 24 hours; the problems are health alarms
(source ``pump_health``, raised by the scheduler's "pump hardware" job)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, dcc, html

from analytics.vibration.health import ISSUE_ZH, KIND_ZH, assess, load_devices, summary
from dashboards import auth, i18n
from dashboards.components.basic import stat_card, table
from dashboards.layout import forbidden, register_page
from dashboards.pages.pumps import ROLES, sub_nav

PATH = "/pumps/health"

i18n.register(
    {
        "pumph.title": {"zh": "硬件自诊断", "en": "Hardware self-diagnosis"},
        "pumph.sensors": {"zh": "传感器", "en": "Sensors"},
        "pumph.gateways": {"zh": "网关", "en": "Gateways"},
        "pumph.offline": {"zh": "离线", "en": "Offline"},
        "pumph.battery": {"zh": "电量低", "en": "Low battery"},
        "pumph.gaps": {"zh": "数据缺失(24h)", "en": "Data gaps (24 h)"},
        "pumph.issues": {"zh": "健康报警", "en": "Health alarms"},
        "pumph.no_issues": {"zh": "所有设备正常。", "en": "All devices healthy."},
        "pumph.devices": {"zh": "设备状态", "en": "Devices"},
        "pumph.device": {"zh": "设备", "en": "Device"},
        "pumph.kind": {"zh": "类型", "en": "Kind"},
        "pumph.issue": {"zh": "问题", "en": "Issue"},
        "pumph.level": {"zh": "级别", "en": "Level"},
        "pumph.detail": {"zh": "说明", "en": "Detail"},
        "pumph.pump": {"zh": "机泵", "en": "Pump"},
        "pumph.online": {"zh": "在线", "en": "Online"},
        "pumph.signal": {"zh": "信号 (dBm)", "en": "Signal (dBm)"},
        "pumph.battery_col": {"zh": "电量 (%)", "en": "Battery (%)"},
        "pumph.reported": {"zh": "最近上报", "en": "Last report"},
        "pumph.data": {"zh": "最近数据", "en": "Last data"},
        "pumph.yes": {"zh": "是", "en": "yes"},
        "pumph.no": {"zh": "否", "en": "no"},
        "pumph.none": {
            "zh": "没有登记的传感器或网关。",
            "en": "No sensors or gateways registered.",
        },
    }
)


def content(user: auth.WebUser, now: datetime) -> html.Div:
    t = i18n.t
    zh = i18n.current_lang() == "zh"
    with auth.db_pool().connection() as conn:
        devices = load_devices(conn, user.scope.enterprise_ids(conn), now)
    if not devices:
        return html.Div(t("pumph.none"), className="hw-muted", id="pumph-none")
    issues = assess(devices, now)
    s = summary(devices, issues)
    cards = html.Div(
        className="hw-cards",
        children=[
            stat_card(t("pumph.sensors"), str(s["sensors"]), "pumph-sensors"),
            stat_card(t("pumph.gateways"), str(s["gateways"]), "pumph-gateways"),
            stat_card(
                t("pumph.offline"),
                str(s["offline"]),
                "pumph-offline",
                "hw-bad" if s["offline"] else "",
            ),
            stat_card(t("pumph.battery"), str(s["battery"]), "pumph-battery"),
            stat_card(t("pumph.gaps"), str(s["gaps"]), "pumph-gaps"),
        ],
    )
    level = {"warning": "预警", "alarm": "报警"} if zh else {}
    irows = [
        [
            i.code,
            KIND_ZH.get(i.kind, i.kind) if zh else i.kind,
            ISSUE_ZH.get(i.issue, i.issue) if zh else i.issue,
            level.get(i.level, i.level),
            i.equipment or "",
            i.detail,
        ]
        for i in sorted(issues, key=lambda i: (i.level != "alarm", i.code, i.issue))
    ]
    drows = [
        [
            d.code,
            KIND_ZH.get(d.kind, d.kind) if zh else d.kind,
            d.equipment or "",
            t("pumph.yes") if d.online else t("pumph.no") if d.online is False else "—",
            "—" if d.battery_pct is None else f"{d.battery_pct:.0f}",
            "—" if d.signal_dbm is None else f"{d.signal_dbm:.0f}",
            i18n.fmt_datetime(d.reported_at),
            i18n.fmt_datetime(d.last_data_at),
        ]
        for d in devices
    ]
    return html.Div(
        [
            cards,
            html.H2(t("pumph.issues")),
            table(
                [
                    t("pumph.device"),
                    t("pumph.kind"),
                    t("pumph.issue"),
                    t("pumph.level"),
                    t("pumph.pump"),
                    t("pumph.detail"),
                ],
                irows,
                "pumph-issues",
                t("pumph.no_issues"),
            ),
            html.H2(t("pumph.devices")),
            table(
                [
                    t("pumph.device"),
                    t("pumph.kind"),
                    t("pumph.pump"),
                    t("pumph.online"),
                    t("pumph.battery_col"),
                    t("pumph.signal"),
                    t("pumph.reported"),
                    t("pumph.data"),
                ],
                drows,
                "pumph-devices",
                t("pumph.none"),
            ),
        ]
    )


def layout(**_q: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    return html.Div(
        [
            html.H1(i18n.t("pumph.title"), id="page-title"),
            sub_nav(PATH),
            dcc.Interval(id="pumph-tick", interval=60_000),
            html.Div(id="pumph-content"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pump-health", 23, layout, title="pumph.title",
                  nav="nav.pump_health", roles=ROLES, after="/pumps/alarms")  # fmt: skip

    @app.callback(Output("pumph-content", "children"), Input("pumph-tick", "n_intervals"))
    def _refresh(_n: int | None) -> Any:
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            return forbidden()
        return content(user, datetime.now(UTC))
