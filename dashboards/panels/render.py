"""One panel drawn for one view: queries (scoped) + figures, as Dash components.

    children = draw_panel(conn, scope, panel, state, now)          # the view callback's output
    fig, plan = timeseries_panel(conn, scope, panel, state, now)   # the benchmark's function
    fig, plan = timeseries_panel(..., force="ts.sample")           # same panel from raw samples

Graphs get the id ``{"type": "dv-graph", "panel": <panel id>}``: the view page listens to
their ``relayoutData`` (drag-to-zoom) and ``clickData`` (drill-down).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import plotly.graph_objects as go
import psycopg
from dash import dcc, html

from dashboards import i18n
from dashboards.auth import Scope
from dashboards.components.variables import ViewState
from dashboards.panels import figures, queries, source
from dashboards.panels.queries import TagInfo

#: Pixel height of one grid row of a panel (``height`` counts rows).
ROW_PX: Final = 36
GRAPH_CONFIG: Final = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}

i18n.register(
    {
        "panel.no_tags": {
            "zh": "没有可显示的测点（检查测点或变量，或不在您的权限范围内）。",
            "en": "No tags to show (check the tags or variables, or they are outside your scope).",
        },
        "panel.no_data": {"zh": "所选时间范围内无数据", "en": "No data in the selected range"},
        "panel.tag": {"zh": "测点", "en": "Tag"},
        "panel.desc": {"zh": "描述", "en": "Description"},
        "panel.unit": {"zh": "单位", "en": "Unit"},
        "panel.last": {"zh": "最新值", "en": "Last"},
        "panel.min": {"zh": "最小值", "en": "Min"},
        "panel.avg": {"zh": "平均值", "en": "Average"},
        "panel.max": {"zh": "最大值", "en": "Max"},
        "panel.alarms": {"zh": "未恢复报警", "en": "Open alarms"},
        "panel.normal": {"zh": "正常", "en": "Normal"},
        "panel.source": {
            "zh": "数据源 {relation}，{bucket} 秒一点",
            "en": "{relation}, {bucket} s per point",
        },
        "panel.detail": {"zh": "详情", "en": "Details"},
    }
)


def _height(panel: Mapping[str, Any]) -> int:
    return int(panel.get("height", 8)) * ROW_PX


def _graph(panel: Mapping[str, Any], fig: go.Figure | dict[str, Any]) -> dcc.Graph:
    return dcc.Graph(
        id={"type": "dv-graph", "panel": panel["id"]},
        figure=fig,
        config=GRAPH_CONFIG,
        className="dv-graph",
    )


def _unit(panel: Mapping[str, Any], tags: list[TagInfo]) -> str | None:
    units = {t.eng_unit for t in tags if t.eng_unit}
    return panel.get("unit") or (units.pop() if len(units) == 1 else None)


def timeseries_panel(
    conn: psycopg.Connection,
    scope: Scope,
    panel: Mapping[str, Any],
    state: ViewState,
    now: datetime,
    force: str | None = None,
) -> tuple[dict[str, Any], source.Plan]:
    """The figure of a time-series panel and the plan it was read with."""
    start, end = state.range.resolve(now)
    tags = queries.resolve_tags(conn, scope, panel["tags"], state)
    plan = source.choose(start, end, force=force)
    points = queries.series(conn, plan, [t.id for t in tags])
    fig = figures.timeseries_figure(
        [(t.id, t.name, points[t.id]) for t in tags],
        panel.get("thresholds", []),
        (start, end),
        height=_height(panel),
        unit=_unit(panel, tags),
    )
    return fig, plan


def draw_panel(
    conn: psycopg.Connection,
    scope: Scope,
    panel: Mapping[str, Any],
    state: ViewState,
    now: datetime,
) -> list[Any]:
    """The body of a panel (the view's callback output for it)."""
    t = i18n.t
    ptype = panel["type"]
    if ptype == "timeseries":
        fig, plan = timeseries_panel(conn, scope, panel, state, now)
        if not any(trace["x"] for trace in fig["data"]):
            fig["layout"]["annotations"] = [
                {
                    "text": t("panel.no_data"),
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                }
            ]
        note = t("panel.source", relation=plan.relation, bucket=int(plan.bucket.total_seconds()))
        return [_graph(panel, fig), html.Div(note, className="hw-muted dv-source")]
    start, end = state.range.resolve(now)
    tags = queries.resolve_tags(conn, scope, panel["tags"], state)
    if not tags:
        return [html.Div(t("panel.no_tags"), className="hw-muted dv-empty")]
    plan = source.choose(start, end)
    ids = [tag.id for tag in tags]
    thresholds = panel.get("thresholds", [])
    unit = _unit(panel, tags)
    if ptype == "stat":
        values = queries.reduce_values(conn, plan, ids, panel.get("reduce", "last"))
        return [_stat(tag, values[tag.id], thresholds, unit, state) for tag in tags]
    if ptype == "gauge":
        tag = tags[0]
        value = queries.reduce_values(conn, plan, [tag.id], panel.get("reduce", "last"))[tag.id]
        fig = figures.gauge_figure(
            value, thresholds, panel.get("min"), panel.get("max"), height=_height(panel), unit=unit
        )
        return [_graph(panel, fig), _detail_link(tag, state)]
    if ptype == "bar":
        values = queries.reduce_values(conn, plan, ids, panel.get("reduce", "last"))
        bars = [(tag.id, tag.name, values[tag.id]) for tag in tags]
        return [_graph(panel, figures.bar_figure(bars, thresholds, _height(panel), unit))]
    if ptype == "heatmap":
        points = queries.series(conn, plan, ids)
        fig = figures.heatmap_figure(
            [(tag.id, tag.name, points[tag.id]) for tag in tags], (start, end), _height(panel)
        )
        return [_graph(panel, fig)]
    if ptype == "state_timeline":
        events = queries.alarm_events(conn, ids, start, end)
        intervals = figures.alarm_intervals(events, start, end)
        fig = figures.state_timeline_figure(
            [(tag.id, tag.name) for tag in tags],
            intervals,
            (start, end),
            t("panel.normal"),
            _height(panel),
        )
        return [_graph(panel, fig)]
    if ptype == "table":
        return [_table(conn, plan, tags, thresholds, state)]
    raise ValueError(f"unknown panel type {ptype!r}")


def tag_href(tag_id: int, state: ViewState) -> str:
    """The drill-down address of a tag, keeping the view's time range."""
    rng = state.range
    return f"/tags/{tag_id}?from={rng.from_}&to={rng.to}"


def _detail_link(tag: TagInfo, state: ViewState) -> dcc.Link:
    return dcc.Link(
        f"{tag.name} · {i18n.t('panel.detail')}",
        href=tag_href(tag.id, state),
        className="dv-tag-link",
    )


def _stat(
    tag: TagInfo, value: float | None, thresholds: list[Any], unit: str | None, state: ViewState
) -> html.Div:
    color = figures.threshold_color(value, thresholds)
    text = "-" if value is None else f"{value:,.4g}"
    return html.Div(
        className="dv-stat",
        children=[
            html.Div(
                [text, html.Span(f" {unit}" if unit else "", className="dv-stat-unit")],
                className="dv-stat-value",
                style={"color": color},
            ),
            _detail_link(tag, state),
        ],
    )


def _table(
    conn: psycopg.Connection,
    plan: source.Plan,
    tags: list[TagInfo],
    thresholds: list[Any],
    state: ViewState,
) -> html.Div:
    t = i18n.t
    ids = [tag.id for tag in tags]
    last = queries.reduce_values(conn, plan, ids, "last")
    stats = {how: queries.reduce_values(conn, plan, ids, how) for how in ("min", "avg", "max")}
    alarms = queries.open_alarm_counts(conn, ids)
    headers = [
        t("panel.tag"),
        t("panel.desc"),
        t("panel.unit"),
        t("panel.last"),
        t("panel.min"),
        t("panel.avg"),
        t("panel.max"),
        t("panel.alarms"),
    ]

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:,.4g}"

    rows = []
    for tag in tags:
        value = last[tag.id]
        cells = [
            dcc.Link(tag.name, href=tag_href(tag.id, state), className="dv-tag-link"),
            tag.description or "",
            tag.eng_unit or "",
            html.Span(num(value), style={"color": figures.threshold_color(value, thresholds)}),
            num(stats["min"][tag.id]),
            num(stats["avg"][tag.id]),
            num(stats["max"][tag.id]),
            str(alarms.get(tag.id, 0)),
        ]
        rows.append(
            html.Tr([html.Td(c, **{"data-label": h}) for h, c in zip(headers, cells, strict=True)])
        )
    head = html.Thead(html.Tr([html.Th(h) for h in headers]))
    return html.Div(
        html.Table([head, html.Tbody(rows)], className="hw-table dv-table"), className="hw-scroll"
    )
