"""Pump alarms and defects (issue 8, P6): view an alarm, record handling, convert it to a
defect (approval ``pump.alarm_to_defect``, decided under 待我审批), close it; close a defect
with cause and action, which files the case (P12).

``/pumps/alarms?alert=ID`` opens one alarm (the notification link of a pump alarm points to
the alerting page; this page is where pump alarms are worked).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from analytics.vibration import defects as dfx
from analytics.vibration.strategies import LEVEL_ZH
from dashboards import auth, i18n
from dashboards.callback_args import actor_of, signed_in
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.pumps import sub_nav
from hazwatch.errors import HazwatchError

PATH = "/pumps/alarms"
ROLES = frozenset({"admin", "engineer", "operator", "regulator"})
FAULT_OPTIONS = [(f, f) for f in dfx.FAULTS]

i18n.register(
    {
        "pumpa.title": {"zh": "机泵报警与缺陷", "en": "Pump alarms and defects"},
        "pumpa.alarms": {"zh": "未关闭的机泵报警", "en": "Open pump alarms"},
        "pumpa.none": {"zh": "没有未关闭的机泵报警。", "en": "No open pump alarms."},
        "pumpa.time": {"zh": "时间", "en": "Time"},
        "pumpa.level": {"zh": "级别", "en": "Level"},
        "pumpa.pump": {"zh": "机泵", "en": "Pump"},
        "pumpa.summary": {"zh": "内容", "en": "Summary"},
        "pumpa.progress": {"zh": "处理进度", "en": "Progress"},
        "pumpa.pick": {"zh": "选择报警", "en": "Alarm"},
        "pumpa.note": {"zh": "处理说明 / 关闭原因", "en": "Handling note / reason"},
        "pumpa.handle": {"zh": "记录处理", "en": "Record handling"},
        "pumpa.defect_title": {"zh": "缺陷标题", "en": "Defect title"},
        "pumpa.fault": {"zh": "故障类型", "en": "Fault"},
        "pumpa.convert": {"zh": "转缺陷（提交审批）", "en": "Convert to defect (approval)"},
        "pumpa.close": {"zh": "关闭报警", "en": "Close alarm"},
        "pumpa.handled": {"zh": "已处理 {n} 次", "en": "handled {n}×"},
        "pumpa.pending": {"zh": "转缺陷审批中 #{n}", "en": "conversion #{n} pending"},
        "pumpa.defect": {"zh": "缺陷 #{n}", "en": "defect #{n}"},
        "pumpa.new": {"zh": "未处理", "en": "new"},
        "pumpa.ok_handle": {
            "zh": "已记录处理并确认报警。",
            "en": "Handling recorded, alarm acknowledged.",
        },
        "pumpa.ok_convert": {
            "zh": "已提交转缺陷审批 #{n}，由设备管理审批。",
            "en": "Conversion #{n} submitted to the equipment department.",
        },
        "pumpa.ok_close": {"zh": "报警已关闭。", "en": "Alarm closed."},
        "pumpa.defects": {"zh": "缺陷", "en": "Defects"},
        "pumpa.no_defects": {"zh": "暂无缺陷。", "en": "No defects."},
        "pumpa.state": {"zh": "状态", "en": "State"},
        "pumpa.case": {"zh": "案例", "en": "Case"},
        "pumpa.pick_defect": {"zh": "选择缺陷", "en": "Defect"},
        "pumpa.cause": {"zh": "故障原因", "en": "Cause"},
        "pumpa.action": {"zh": "处理措施", "en": "Action taken"},
        "pumpa.close_defect": {"zh": "关闭缺陷并入案例库", "en": "Close defect, file the case"},
        "pumpa.ok_defect": {
            "zh": "缺陷已关闭，已生成案例 #{n}。",
            "en": "Defect closed; case #{n} filed.",
        },
        "pumpa.read_only": {"zh": "只读账户不能处理报警。", "en": "Read-only accounts cannot act."},
        "pumpa.open": {"zh": "未关闭", "en": "open"},
        "pumpa.closed": {"zh": "已关闭", "en": "closed"},
    }
)


def _level(level: str | None) -> str:
    if i18n.current_lang() == "zh":
        return LEVEL_ZH.get(level or "", level or "—")
    return level or "—"


def _progress(a: dict[str, Any]) -> str:
    t = i18n.t
    if a["defect_id"]:
        return t("pumpa.defect", n=a["defect_id"])
    if a["pending_request"]:
        return t("pumpa.pending", n=a["pending_request"])
    return t("pumpa.handled", n=a["handled"]) if a["handled"] else t("pumpa.new")


def content(user: auth.WebUser, selected: int | None, message: Any = None) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        ents = user.scope.enterprise_ids(conn)
        alarms = dfx.pump_alarms(conn, ents)
        defects = dfx.list_defects(conn, ents)
        if selected is not None and any(a["id"] == selected for a in alarms):
            dfx.record_view(conn, actor_of(user), selected)
    rows = [
        [
            i18n.fmt_datetime(a["fired_at"] or a["started_at"]),
            _level(a["level"]),
            a["labels"].get("equipment", ""),
            a["summary"],
            _progress(a),
        ]
        for a in alarms
    ]
    d_rows = [
        [
            f"#{d['id']}",
            f"{d['equipment_code']} {d['equipment_name']}",
            d["title"],
            d["fault"] or "",
            t("pumpa.open") if d["state"] == "open" else t("pumpa.closed"),
            f"#{d['case_id']}" if d["case_id"] else "",
        ]
        for d in defects
    ]
    return html.Div(
        [
            html.Div(message or "", id="pumpa-msg", className="hw-card" if message else ""),
            html.H2(t("pumpa.alarms")),
            table(
                [
                    t("pumpa.time"),
                    t("pumpa.level"),
                    t("pumpa.pump"),
                    t("pumpa.summary"),
                    t("pumpa.progress"),
                ],
                rows,
                "pumpa-alarm-table",
                t("pumpa.none"),
            ),
            html.H2(t("pumpa.defects")),
            table(
                [
                    "#",
                    t("pumpa.pump"),
                    t("pumpa.defect_title"),
                    t("pumpa.fault"),
                    t("pumpa.state"),
                    t("pumpa.case"),
                ],
                d_rows,
                "pumpa-defect-table",
                t("pumpa.no_defects"),
            ),
            dcc.Store(
                id="pumpa-options",
                data={
                    "alarms": [
                        {"label": f"#{a['id']} {a['summary']}", "value": a["id"]} for a in alarms
                    ],
                    "defects": [
                        {
                            "label": f"#{d['id']} {d['equipment_code']} {d['title']}",
                            "value": d["id"],
                        }
                        for d in defects
                        if d["state"] == "open"
                    ],
                },
            ),
        ]
    )


def layout(alert: str | None = None, **_q: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    t = i18n.t
    selected = int(alert) if alert and alert.isdigit() else None
    body = content(user, selected)
    opts = body.children[-1].data  # the options the content just computed
    forms = html.Div(
        className="hw-card",
        children=[
            html.Div(
                className="pump-form",
                children=[
                    html.Label(t("pumpa.pick"), htmlFor="pumpa-alarm"),
                    dcc.Dropdown(
                        id="pumpa-alarm",
                        options=opts["alarms"],
                        value=selected,
                        style={"minWidth": "320px"},
                    ),
                ],
            ),
            html.Div(
                className="pump-form",
                children=[
                    dcc.Textarea(
                        id="pumpa-note", placeholder=t("pumpa.note"), style={"width": "100%"}
                    ),
                    html.Button(
                        t("pumpa.handle"), id="pumpa-handle", className="hw-btn", n_clicks=0
                    ),
                    html.Button(
                        t("pumpa.close"),
                        id="pumpa-close",
                        className="hw-btn hw-btn-light",
                        n_clicks=0,
                    ),
                ],
            ),
            html.Div(
                className="pump-form",
                children=[
                    dcc.Input(id="pumpa-title", placeholder=t("pumpa.defect_title"), type="text"),
                    dcc.Dropdown(
                        id="pumpa-fault",
                        options=[{"label": f, "value": f} for f in dfx.FAULTS],
                        value="other",
                        clearable=False,
                        style={"minWidth": "200px"},
                    ),
                    html.Button(
                        t("pumpa.convert"), id="pumpa-convert", className="hw-btn", n_clicks=0
                    ),
                ],
            ),
            html.Hr(),
            html.Div(
                className="pump-form",
                children=[
                    html.Label(t("pumpa.pick_defect"), htmlFor="pumpa-defect"),
                    dcc.Dropdown(
                        id="pumpa-defect", options=opts["defects"], style={"minWidth": "320px"}
                    ),
                    dcc.Input(id="pumpa-cause", placeholder=t("pumpa.cause"), type="text"),
                    dcc.Input(id="pumpa-action", placeholder=t("pumpa.action"), type="text"),
                    html.Button(
                        t("pumpa.close_defect"),
                        id="pumpa-close-defect",
                        className="hw-btn",
                        n_clicks=0,
                    ),
                ],
            ),
        ],
    )
    return html.Div(
        [
            html.H1(t("pumpa.title"), id="page-title"),
            sub_nav(PATH),
            forms,
            html.Div(body, id="pumpa-content"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pump-alarms", 22, layout, title="pumpa.title",
                  nav="nav.pump_alarms", roles=ROLES, after="/pumps")  # fmt: skip

    @app.callback(
        Output("pumpa-content", "children"),
        Output("pumpa-alarm", "options"),
        Output("pumpa-defect", "options"),
        Input("pumpa-handle", "n_clicks"),
        Input("pumpa-close", "n_clicks"),
        Input("pumpa-convert", "n_clicks"),
        Input("pumpa-close-defect", "n_clicks"),
        State("pumpa-alarm", "value"),
        State("pumpa-note", "value"),
        State("pumpa-title", "value"),
        State("pumpa-fault", "value"),
        State("pumpa-defect", "value"),
        State("pumpa-cause", "value"),
        State("pumpa-action", "value"),
        prevent_initial_call=True,
    )
    def _act(
        _h: int,
        _c: int,
        _v: int,
        _d: int,
        alert: Any,
        note: str | None,
        dtitle: str | None,
        fault: str | None,
        defect: Any,
        cause: str | None,
        action: str | None,
    ) -> tuple:
        user, actor = signed_in(ROLES)
        t = i18n.t
        trigger = dash.ctx.triggered_id
        msg: Any
        if user.read_only:
            msg = t("pumpa.read_only")
        else:
            try:
                with auth.db_pool().connection() as conn:
                    ents = user.scope.enterprise_ids(conn)
                    allowed = {a["id"] for a in dfx.pump_alarms(conn, ents)}
                    allowed_d = {d["id"] for d in dfx.list_defects(conn, ents, state="open")}
                    if trigger == "pumpa-close-defect":
                        if defect not in allowed_d:
                            raise dfx.DefectError("defect: pick an open defect")
                        cid = dfx.close_defect(
                            conn, actor, int(defect), cause=cause or "", action_taken=action or ""
                        )
                        msg = t("pumpa.ok_defect", n=cid)
                    else:
                        if alert not in allowed:
                            raise dfx.DefectError("alarm: pick an open pump alarm")
                        if trigger == "pumpa-handle":
                            dfx.record_handling(conn, actor, int(alert), note or "")
                            msg = t("pumpa.ok_handle")
                        elif trigger == "pumpa-close":
                            dfx.close_alarm(conn, actor, int(alert), note or "")
                            msg = t("pumpa.ok_close")
                        else:
                            iid = dfx.request_defect(
                                conn,
                                actor,
                                int(alert),
                                title=dtitle or "",
                                description=note,
                                fault=fault,
                            )
                            msg = t("pumpa.ok_convert", n=iid)
            except HazwatchError as exc:
                msg = html.Span(str(exc), className="hw-error")
        body = content(user, None, msg)
        opts = body.children[-1].data
        return body, opts["alarms"], opts["defects"]
