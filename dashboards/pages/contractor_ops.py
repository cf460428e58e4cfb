"""人员定位 ``/contractors/positioning`` (C12): a plan of the site with the geofences per
project area and period and the contractor people and vehicles where the positioning system
last saw them, the alarms of tags somewhere not allowed, and (enterprise staff) fences and the
binding of positioning tags to access cards. Refreshes every 10 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from dashboards import auth, i18n
from dashboards.components.basic import stat_card, table
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractor_ops_common import (
    Viewer,
    callback_viewer,
    enterprise_options,
    field,
    ok,
    project_options,
    refused,
    viewer,
    when,
)
from hazwatch.errors import HazwatchError
from workflows.contractors import positioning
from workflows.contractors.positioning import LOCAL

PATH = "/contractors/positioning"

i18n.register(
    {
        "nav.contractor_positioning": {"zh": "承包商人员定位", "en": "Contractor positioning"},
        "cpo.title": {"zh": "承包商人员与车辆定位", "en": "Contractor positioning"},
        "cpo.tags": {"zh": "在用定位卡", "en": "Tags in use"},
        "cpo.open": {"zh": "越界报警中", "en": "Alarms open"},
        "cpo.map": {"zh": "厂区平面与电子围栏", "en": "Site plan and geofences"},
        "cpo.tag": {"zh": "定位卡", "en": "Tag"},
        "cpo.who": {"zh": "人员/车辆", "en": "Person / vehicle"},
        "cpo.card": {"zh": "门禁卡", "en": "Access card"},
        "cpo.position": {"zh": "最近位置", "en": "Last position"},
        "cpo.violation": {"zh": "报警", "en": "Alarm"},
        "cpo.violations": {"zh": "越界记录", "en": "Violations"},
        "cpo.started": {"zh": "开始", "en": "Started"},
        "cpo.ended": {"zh": "结束", "en": "Ended"},
        "cpo.ongoing": {"zh": "进行中", "en": "ongoing"},
        "cpo.fences": {"zh": "电子围栏", "en": "Geofences"},
        "cpo.kind": {"zh": "类型", "en": "Kind"},
        "cpo.kind.allowed": {"zh": "允许区域", "en": "allowed"},
        "cpo.kind.forbidden": {"zh": "禁入区域", "en": "forbidden"},
        "cpo.kind.person": {"zh": "人员", "en": "person"},
        "cpo.kind.vehicle": {"zh": "车辆", "en": "vehicle"},
        "cpo.v.forbidden": {"zh": "闯入禁入区域", "en": "in a forbidden area"},
        "cpo.v.outside_allowed": {"zh": "离开允许区域", "en": "outside the allowed areas"},
        "cpo.v.period": {"zh": "超出允许期限", "en": "outside the allowed period"},
        "cpo.applies": {"zh": "适用对象", "en": "Applies to"},
        "cpo.applies.all": {"zh": "人员和车辆", "en": "people and vehicles"},
        "cpo.polygon": {
            "zh": "多边形顶点（米，JSON：[[x,y],...]）",
            "en": "Polygon (metres, JSON [[x,y],...])",
        },
        "cpo.save_fence": {"zh": "保存电子围栏", "en": "Save geofence"},
        "cpo.fence_saved": {"zh": "电子围栏 #{id} 已保存", "en": "Geofence #{id} saved"},
        "cpo.bind": {"zh": "定位卡绑定门禁卡", "en": "Bind a tag to an access card"},
        "cpo.bound": {"zh": "定位卡已绑定（#{id}）", "en": "Tag bound (#{id})"},
        "cpo.period": {"zh": "有效期", "en": "Period"},
    }
)


def _figure(tags: list[dict[str, Any]], fences: list[dict[str, Any]]) -> go.Figure:
    t = i18n.t
    fig = go.Figure()
    for f in fences:
        xs = [p[0] for p in f["polygon"]] + [f["polygon"][0][0]]
        ys = [p[1] for p in f["polygon"]] + [f["polygon"][0][1]]
        red = f["kind"] == "forbidden"
        fig.add_trace(go.Scatter(
            x=xs, y=ys, fill="toself", mode="lines", name=f["name"],
            line={"color": "#c62828" if red else "#2e7d32"},
            fillcolor="rgba(198,40,40,0.15)" if red else "rgba(46,125,50,0.12)",
            hoverinfo="name",
        ))  # fmt: skip
    placed = [r for r in tags if r["x"] is not None]
    if placed:
        fig.add_trace(go.Scatter(
            x=[r["x"] for r in placed], y=[r["y"] for r in placed], mode="markers+text",
            text=[f"{r['tag_no']} {r['who']}" for r in placed], textposition="top center",
            marker={"size": 11, "color": ["#c62828" if r["violation"] else "#1565c0"
                                          for r in placed]},
            name=t("cpo.tag"),
        ))  # fmt: skip
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30}, height=420, showlegend=False,
        xaxis={"title": "x (m)"}, yaxis={"title": "y (m)", "scaleanchor": "x"},
    )  # fmt: skip
    return fig


def _what(kind: str | None, fence: str | None) -> str:
    if not kind:
        return ""
    return i18n.t(f"cpo.v.{kind}") + (f"：{fence}" if fence else "")


def _content(conn: Any, v: Viewer) -> list[Any]:
    t = i18n.t
    tags = positioning.tag_rows(conn, v.enterprise_ids, v.company_id)
    fences = positioning.fence_rows(conn, v.enterprise_ids)
    violations = positioning.violation_rows(conn, v.enterprise_ids, v.company_id)
    open_n = sum(1 for r in tags if r["violation"])
    tag_table = table(
        [t("cpo.tag"), t("cpo.kind"), t("cpo.who"), t("cop.company"), t("cpo.card"),
         t("cpo.period"), t("cpo.position"), t("cpo.violation")],
        [(r["tag_no"], t(f"cpo.kind.{r['kind']}"), r["who"], r["company"], r["card_no"] or "",
          f"{r['valid_from'].astimezone(LOCAL):%m-%d %H:%M} ~ "
          f"{r['valid_until'].astimezone(LOCAL):%m-%d %H:%M}",
          "" if r["x"] is None else f"({r['x']:.1f}, {r['y']:.1f}) {when(r['at'])}",
          _what(r["violation"], r["fence"]))
         for r in tags],
        "cpo-tags", t("cop.none"),
    )  # fmt: skip
    violation_table = table(
        ["#", t("cpo.tag"), t("cpo.who"), t("cop.company"), t("cpo.violation"),
         t("cpo.started"), t("cpo.ended")],
        [(r["id"], r["tag_no"], r["who"], r["company"],
          _what(r["kind"], r["fence"]), when(r["started_at"]),
          when(r["ended_at"]) or t("cpo.ongoing")) for r in violations],
        "cpo-violations", t("cop.none"),
    )  # fmt: skip
    fence_table = table(
        ["#", t("cop.name"), t("cpo.kind"), t("cpo.applies"), t("cop.project"), t("cop.from"),
         t("cop.until")],
        [(r["id"], r["name"], t(f"cpo.kind.{r['kind']}"),
          t(f"cpo.applies.{r['applies_to']}") if r["applies_to"] == "all"
          else t(f"cpo.kind.{r['applies_to']}"),
          r["project"] or "", when(r["active_from"]), when(r["active_until"]))
         for r in fences],
        "cpo-fences", t("cop.none"),
    )  # fmt: skip
    return [
        html.Div(
            [
                stat_card(t("cpo.tags"), str(len(tags)), "cpo-stat-tags"),
                stat_card(
                    t("cpo.open"), str(open_n), "cpo-stat-open", "hw-stat-bad" if open_n else ""
                ),
            ],
            className="hw-stats",
        ),
        html.H2(t("cpo.map")),
        dcc.Graph(id="cpo-map", figure=_figure(tags, fences), config={"displaylogo": False}),
        html.H2(t("cpo.tags")),
        tag_table,
        html.H2(t("cpo.violations")),
        violation_table,
        html.H2(t("cpo.fences")),
        fence_table,
    ]


def layout(**_query: Any) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        v = viewer(conn)
        if v is None:
            return forbidden()
        content = _content(conn, v)
        ents = enterprise_options(conn, v) if v.staff else []
        projects = project_options(conn, v) if v.staff else []
    kinds = [{"label": t(f"cpo.kind.{k}"), "value": k} for k in positioning.KINDS]
    applies = [{"label": t("cpo.applies.all"), "value": "all"}] + [
        {"label": t(f"cpo.kind.{k}"), "value": k} for k in ("person", "vehicle")
    ]
    first = ents[0]["value"] if ents else None
    forms = html.Div(
        [
            html.Div(className="hw-card", children=[
                html.H2(t("cpo.fences")),
                field(t("cop.enterprise"), dcc.Dropdown(id="cpo-f-ent", options=ents,
                                                        value=first)),
                field(t("cop.name"), dcc.Input(id="cpo-f-name", className="hw-input")),
                field(t("cpo.kind"), dcc.Dropdown(id="cpo-f-kind", options=kinds,
                                                  value="forbidden", clearable=False)),
                field(t("cpo.applies"), dcc.Dropdown(id="cpo-f-applies", options=applies,
                                                     value="all", clearable=False)),
                field(t("cop.project"), dcc.Dropdown(id="cpo-f-project", options=projects)),
                field(t("cpo.polygon"), dcc.Input(id="cpo-f-polygon", className="hw-input",
                                                  placeholder="[[0,0],[50,0],[50,40],[0,40]]")),
                field(t("cop.from"), dcc.Input(id="cpo-f-from", className="hw-input",
                                               placeholder="YYYY-MM-DD HH:MM")),
                field(t("cop.until"), dcc.Input(id="cpo-f-until", className="hw-input",
                                                placeholder="YYYY-MM-DD HH:MM")),
                html.Button(t("cpo.save_fence"), id="cpo-f-save", className="hw-btn",
                            n_clicks=0),
            ]),
            html.Div(className="hw-card", children=[
                html.H2(t("cpo.bind")),
                field(t("cop.enterprise"), dcc.Dropdown(id="cpo-b-ent", options=ents,
                                                        value=first)),
                field(t("cpo.tag"), dcc.Input(id="cpo-b-tag", className="hw-input")),
                field(t("cpo.card"), dcc.Input(id="cpo-b-card", className="hw-input")),
                html.Button(t("cpo.bind"), id="cpo-b-save", className="hw-btn", n_clicks=0),
            ]),
            html.Div(id="cpo-msg"),
        ]
    )  # fmt: skip
    # Hidden, not left out: the callbacks name these inputs on every page view.
    forms.hidden = not v.staff
    return html.Div(
        [
            html.H1(t("cpo.title"), id="page-title"),
            dcc.Interval(id="cpo-tick", interval=10_000),
            html.Div(content, id="cpo-content"),
            forms,
        ],
        className="cx-page",
    )


def _instant(text: str | None, what: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HazwatchError(f"{what}: {text!r} is not YYYY-MM-DD HH:MM") from None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL)


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "contractor_positioning", 61, layout)

    @app.callback(
        Output("cpo-content", "children"),
        Input("cpo-tick", "n_intervals"),
        prevent_initial_call=True,
    )
    def refresh(_n: int) -> list[Any]:
        with auth.db_pool().connection() as conn:
            v = callback_viewer(conn)
            return _content(conn, v)

    @app.callback(
        Output("cpo-msg", "children"),
        Output("cpo-content", "children", allow_duplicate=True),
        Input("cpo-f-save", "n_clicks"),
        Input("cpo-b-save", "n_clicks"),
        State("cpo-f-ent", "value"),
        State("cpo-f-name", "value"),
        State("cpo-f-kind", "value"),
        State("cpo-f-applies", "value"),
        State("cpo-f-project", "value"),
        State("cpo-f-polygon", "value"),
        State("cpo-f-from", "value"),
        State("cpo-f-until", "value"),
        State("cpo-b-ent", "value"),
        State("cpo-b-tag", "value"),
        State("cpo-b-card", "value"),
        prevent_initial_call=True,
    )
    def save(_f: int, _b: int, ent: int | None, name: str | None, kind: str, applies: str,
             project: int | None, polygon: str | None, since: str | None, until: str | None,
             bent: int | None, tag: str | None, card: str | None) -> tuple[Any, Any]:  # fmt: skip
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not v.staff:
                raise dash.exceptions.PreventUpdate
            target = ent if dash.ctx.triggered_id == "cpo-f-save" else bent
            if target is None or (v.enterprise_ids is not None and target not in v.enterprise_ids):
                return refused(i18n.t("cop.enterprise")), dash.no_update
            try:
                if dash.ctx.triggered_id == "cpo-f-save":
                    new = positioning.save_fence(
                        conn, v.actor, enterprise_id=target, name=name or "", kind=kind,
                        applies_to=applies, project_id=project, polygon=polygon or "",
                        active_from=_instant(since, i18n.t("cop.from")),
                        active_until=_instant(until, i18n.t("cop.until")),
                    )  # fmt: skip
                    message = ok(i18n.t("cpo.fence_saved", id=new))
                else:
                    new = positioning.bind_card(
                        conn,
                        v.actor,
                        enterprise_id=target,
                        tag_no=tag or "",
                        card_no=(card or "").strip(),
                    )
                    message = ok(i18n.t("cpo.bound", id=new))
            except HazwatchError as exc:
                return refused(exc), dash.no_update
            return message, _content(conn, v)
