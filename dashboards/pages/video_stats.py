"""Video alarm statistics and rankings (issue 9, page 4; V6, V20): totals, false-positive rate,
and rankings by type, camera, unit and enterprise over a period, within the user's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from dashboards import auth, i18n
from dashboards.components.basic import stat_card, table
from dashboards.layout import register_page
from dashboards.pages import video_common as vc
from video import stats

PATH = "/video/stats"
PERIODS = (7, 30, 90, 365)

i18n.register(
    {
        "vs.title": {"zh": "视频报警统计与排名", "en": "Video alarm statistics"},
        "vs.by": {"zh": "统计维度", "en": "Group by"},
        "vs.by.type": {"zh": "按识别类型", "en": "By type"},
        "vs.by.camera": {"zh": "按摄像机", "en": "By camera"},
        "vs.by.unit": {"zh": "按装置/区域", "en": "By unit"},
        "vs.by.enterprise": {"zh": "按企业", "en": "By enterprise"},
        "vs.by.day": {"zh": "按日", "en": "By day"},
        "vs.total": {"zh": "报警总数", "en": "Alarms"},
        "vs.confirmed": {"zh": "确认", "en": "Confirmed"},
        "vs.false": {"zh": "误报", "en": "False positives"},
        "vs.open": {"zh": "待处置", "en": "Open"},
        "vs.rate": {"zh": "误报率", "en": "False-positive rate"},
        "vs.rank": {"zh": "排名", "en": "Rank"},
        "vs.key": {"zh": "对象", "en": "Item"},
        "vs.share": {"zh": "占比", "en": "Share"},
        "vs.days": {"zh": "近 {n} 天", "en": "Last {n} days"},
        "vs.empty": {"zh": "该时间范围内没有报警。", "en": "No alarms in this period."},
    }
)


def _label(by: str, key: str) -> str:
    return vc.type_name(key) if by == "type" else key


def content(by: str, days: int) -> Any:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = until - timedelta(days=days)
    cond, params = user.scope.condition("a.enterprise_id")
    with auth.db_pool().connection() as conn:
        summary = stats.summary(conn, since, until, cond, params)
        ranked = stats.rank(stats.counts(conn, by, since, until, cond, params))
    if by == "day":
        ranked.sort(key=lambda r: r.key)
    rate = summary["false_positive_rate"]
    cards = html.Div(
        className="hw-stats",
        style={"display": "flex", "gap": "12px", "flexWrap": "wrap"},
        children=[
            stat_card(t("vs.total"), str(summary["total"]), "vs-total"),
            stat_card(t("vs.confirmed"), str(summary["confirmed"]), "vs-confirmed"),
            stat_card(t("vs.false"), str(summary["false_positive"]), "vs-false"),
            stat_card(t("vs.open"), str(summary["open"]), "vs-open"),
            stat_card(t("vs.rate"), "-" if rate is None else f"{rate:.0%}", "vs-rate"),
        ],
    )
    if not ranked:
        return html.Div([cards, html.P(t("vs.empty"), className="hw-muted", id="vs-empty")])
    labels = [_label(by, r.key) for r in ranked[:30]]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=[r.confirmed for r in ranked[:30]], name=t("vs.confirmed")),
            go.Bar(x=labels, y=[r.false_positive for r in ranked[:30]], name=t("vs.false")),
            go.Bar(x=labels, y=[r.open for r in ranked[:30]], name=t("vs.open")),
        ]
    )
    fig.update_layout(barmode="stack", height=340, margin={"l": 40, "r": 10, "t": 20, "b": 80})
    rows = [
        [
            r.rank,
            _label(by, r.key),
            r.total,
            r.confirmed,
            r.false_positive,
            r.open,
            f"{r.share:.1%}",
        ]
        for r in ranked
    ]
    headers = [
        t("vs.rank"),
        t("vs.key"),
        t("vs.total"),
        t("vs.confirmed"),
        t("vs.false"),
        t("vs.open"),
        t("vs.share"),
    ]
    return html.Div(
        [
            cards,
            dcc.Graph(figure=fig, id="vs-chart", config={"displaylogo": False}),
            table(headers, rows, "vs-ranking", t("vs.empty")),
        ]
    )


def layout(**_query: Any) -> html.Div:
    if auth.current_user() is None:
        return html.Div()
    t = i18n.t
    return html.Div(
        [
            html.H1(t("vs.title"), id="page-title"),
            html.Div(
                className="hw-filters",
                style={"display": "flex", "gap": "8px"},
                children=[
                    dcc.Dropdown(
                        [{"label": t(f"vs.by.{k}"), "value": k} for k in stats.GROUPS],
                        "type",
                        id="vs-by",
                        clearable=False,
                        className="hw-dropdown",
                        style={"minWidth": "180px"},
                    ),
                    dcc.Dropdown(
                        [{"label": t("vs.days", n=n), "value": n} for n in PERIODS],
                        30,
                        id="vs-days",
                        clearable=False,
                        className="hw-dropdown",
                        style={"minWidth": "140px"},
                    ),
                ],
            ),
            html.Div(content("type", 30), id="vs-content"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(
        __name__, PATH, "video-stats", 63, layout, title="vs.title", nav="nav.video_stats"
    )

    @app.callback(
        Output("vs-content", "children"),
        Input("vs-by", "value"),
        Input("vs-days", "value"),
        prevent_initial_call=True,
    )
    def update(by: str | None, days: int | None) -> Any:
        return content(by if by in stats.GROUPS else "type", int(days or 30))
