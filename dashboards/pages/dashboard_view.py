"""A saved dashboard (D1): panels on a 12-column grid, the time-range picker, auto-refresh and
variables, all kept in the URL (``/d/<uid>?from=now-6h&to=now&var-unit=3``).

The URL is the view's only state: every control writes a new query string into
``dv-location`` (``refresh="callback-nav"``), Dash's router renders the page again from it, and
the ``draw`` callback fills the panels. So a copied address or a reload shows the same view.
Drag-to-zoom on a chart sets an absolute range; a click on a series opens the tag's page.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dash
import psycopg
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboards import auth, i18n
from dashboards.components.timerange import (
    QUICK_RANGES,
    REFRESH_CHOICES,
    TimeRange,
    TimeRangeError,
    canonical_expr,
    display_expr,
    from_relayout,
    refresh_ms,
)
from dashboards.components.variables import VARIABLES, ViewState
from dashboards.layout import register_page
from dashboards.panels import queries, render, store

log = logging.getLogger(__name__)

i18n.register(
    {
        "dv.missing": {
            "zh": "看板不存在，或不在您的权限范围内。",
            "en": "No such dashboard, or it is outside your scope.",
        },
        "dv.edit": {"zh": "编辑", "en": "Edit"},
        "dv.list": {"zh": "全部看板", "en": "All dashboards"},
        "dv.from": {"zh": "开始", "en": "From"},
        "dv.to": {"zh": "结束", "en": "To"},
        "dv.apply": {"zh": "应用", "en": "Apply"},
        "dv.refresh": {"zh": "自动刷新", "en": "Auto-refresh"},
        "dv.refresh.off": {"zh": "关闭", "en": "Off"},
        "dv.refresh.10s": {"zh": "10 秒", "en": "10 s"},
        "dv.refresh.30s": {"zh": "30 秒", "en": "30 s"},
        "dv.refresh.1m": {"zh": "1 分钟", "en": "1 min"},
        "dv.refresh.5m": {"zh": "5 分钟", "en": "5 min"},
        "dv.var.enterprise": {"zh": "企业", "en": "Enterprise"},
        "dv.var.unit": {"zh": "装置/区域", "en": "Unit"},
        "dv.var.tag": {"zh": "测点", "en": "Tags"},
        "dv.url_errors": {
            "zh": "地址中的部分参数无效，已使用默认值：{errors}",
            "en": "Some parts of the address were not valid and defaults were used: {errors}",
        },
        "dv.bad_range": {"zh": "时间范围无效：{error}", "en": "Invalid time range: {error}"},
        "dv.panel_error": {
            "zh": "面板查询失败：{error}",
            "en": "The panel's query failed: {error}",
        },
        "dv.zoom_hint": {
            "zh": "在曲线上拖动可放大时间范围，点击曲线查看测点详情。",
            "en": "Drag across a chart to zoom the time range; click a series to open the tag.",
        },
        "range.15m": {"zh": "最近15分钟", "en": "Last 15 min"},
        "range.1h": {"zh": "最近1小时", "en": "Last 1 h"},
        "range.6h": {"zh": "最近6小时", "en": "Last 6 h"},
        "range.24h": {"zh": "最近24小时", "en": "Last 24 h"},
        "range.7d": {"zh": "最近7天", "en": "Last 7 days"},
        "range.30d": {"zh": "最近30天", "en": "Last 30 days"},
    }
)


def view_state(board: store.Dashboard, query: dict[str, Any]) -> tuple[ViewState, list[str]]:
    """The URL's state over the dashboard's saved defaults (time range, refresh)."""
    params: dict[str, Any] = {
        "from": board.definition["time"]["from"],
        "to": board.definition["time"]["to"],
        "refresh": board.definition.get("refresh", "off"),
    }
    params.update({k: v for k, v in query.items() if v not in (None, "")})
    return ViewState.from_params(params)


def _controls(state: ViewState, options: dict[str, list[tuple[int, str]]], shown: list[str]) -> Any:
    t = i18n.t
    quick = [
        html.Button(
            t(key),
            id={"type": "dv-quick", "range": expr},
            n_clicks=0,
            className="hw-btn dv-quick" + (" dv-active" if state.range.quick_key() == key else ""),
        )
        for expr, key in QUICK_RANGES
    ]
    variables = []
    for name in VARIABLES:
        value: Any = list(state.vars.get(name, ())) if name == "tag" else state.var(name)
        variables.append(
            html.Div(
                className="dv-var",
                style=None if name in shown else {"display": "none"},
                children=[
                    html.Label(t(f"dv.var.{name}"), htmlFor=f"dv-var-{name}"),
                    dcc.Dropdown(
                        id=f"dv-var-{name}",
                        options=[{"label": label, "value": str(i)} for i, label in options[name]],
                        value=value,
                        multi=name == "tag",
                        clearable=True,
                        className="hw-dropdown",
                    ),
                ],
            )
        )
    return html.Div(
        className="dv-controls",
        children=[
            html.Div(quick, className="dv-quick-row", id="dv-quick-row"),
            html.Div(
                className="dv-custom",
                children=[
                    html.Label(t("dv.from"), htmlFor="dv-from"),
                    dcc.Input(
                        id="dv-from",
                        value=display_expr(state.range.from_),
                        className="hw-input dv-time",
                        debounce=True,
                    ),
                    html.Label(t("dv.to"), htmlFor="dv-to"),
                    dcc.Input(
                        id="dv-to",
                        value=display_expr(state.range.to),
                        className="hw-input dv-time",
                        debounce=True,
                    ),
                    html.Button(t("dv.apply"), id="dv-apply", n_clicks=0, className="hw-btn"),
                    html.Label(t("dv.refresh"), htmlFor="dv-refresh"),
                    dcc.Dropdown(
                        id="dv-refresh",
                        options=[
                            {"label": t(f"dv.refresh.{k}"), "value": k} for k in REFRESH_CHOICES
                        ],
                        value=state.refresh,
                        clearable=False,
                        searchable=False,
                        className="dv-refresh",
                    ),
                ],
            ),
            html.Div(variables, className="dv-vars"),
        ],
    )


def clicked_tag(click: dict[str, Any] | None) -> int | None:
    """The tag id a click on a chart hit: the first point carrying one in ``customdata``
    (a unified hover also reports traces without it, such as a min-max band)."""
    for point in (click or {}).get("points") or []:
        value = point.get("customdata")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def panel_frame(panel: dict[str, Any]) -> html.Section:
    return html.Section(
        className=f"dv-panel dv-{panel['type']}",
        id=f"dv-panel-{panel['id']}",
        style={"gridColumn": f"span {panel['width']}"},
        children=[
            html.H2(panel["title"], className="dv-panel-title"),
            html.Div(id={"type": "dv-body", "panel": panel["id"]}, className="dv-body"),
        ],
    )


def layout(uid: str = "", **query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        board = store.get(conn, user, uid)
        if board is None:
            return html.Div(t("dv.missing"), className="hw-error", id="dv-missing")
        state, errors = view_state(board, query)
        options = queries.variable_options(conn, user.scope, state)
    shown = board.definition.get("variables", list(VARIABLES))
    ms = refresh_ms(state.refresh)
    head = [
        html.H1(board.title, id="page-title"),
        html.Div(
            className="dv-links",
            children=[
                dcc.Link(t("dv.list"), href="/dashboards", id="dv-to-list"),
                *(
                    [dcc.Link(t("dv.edit"), href=f"/dashboard-edit/{board.uid}", id="dv-edit")]
                    if store.can_edit(user, board)
                    else []
                ),
            ],
        ),
    ]
    return html.Div(
        className="dv-page",
        children=[
            html.Div(head, className="dv-head"),
            _controls(state, options, shown),
            html.Div(
                t("dv.url_errors", errors="; ".join(errors)) if errors else "",
                id="dv-error",
                className="hw-error" if errors else "",
                role="alert",
            ),
            html.P(t("dv.zoom_hint"), className="hw-muted dv-hint"),
            html.Div(
                [panel_frame(p) for p in board.definition["panels"]],
                className="dv-grid",
                id="dv-grid",
            ),
            dcc.Store(id="dv-state", data={"uid": board.uid, "query": state.to_query()}),
            dcc.Interval(id="dv-interval", interval=ms or 60_000, disabled=ms is None),
            dcc.Location(id="dv-location", refresh="callback-nav"),
            dcc.Location(id="dv-drill", refresh="callback-nav"),
        ],
    )


def _draw_all(uid: str, query: str, panel_ids: list[str]) -> list[Any]:
    user = auth.current_user()
    if user is None:
        raise dash.exceptions.PreventUpdate
    state, _errors = ViewState.from_query(query)
    now = datetime.now(UTC)
    out: list[Any] = []
    with auth.db_pool().connection() as conn:
        board = store.get(conn, user, uid)
        if board is None:
            raise dash.exceptions.PreventUpdate
        panels = {p["id"]: p for p in board.definition["panels"]}
        for pid in panel_ids:
            panel = panels.get(pid)
            if panel is None:  # removed by an edit meanwhile
                out.append(html.Div(i18n.t("dv.missing"), className="hw-muted"))
                continue
            try:
                out.append(render.draw_panel(conn, user.scope, panel, state, now))
            except (psycopg.Error, ValueError) as exc:
                log.warning("panel %s of %s failed: %s", pid, uid, exc)
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.rollback()
                out.append(
                    html.Div(
                        i18n.t("dv.panel_error", error=str(exc).strip()[:300]), className="hw-error"
                    )
                )
    return out


def register(app: dash.Dash) -> None:
    register_page(__name__, "/d/<uid>", "dashboard", 21, layout, title="dl.title", nav=False)

    @app.callback(
        Output({"type": "dv-body", "panel": ALL}, "children"),
        Input("dv-state", "data"),
        Input("dv-interval", "n_intervals"),
    )
    def draw(data: dict[str, str] | None, _n: int | None) -> list[Any]:
        if not data:
            raise dash.exceptions.PreventUpdate
        panel_ids = [o["id"]["panel"] for o in ctx.outputs_list]
        return _draw_all(data["uid"], data["query"], panel_ids)

    @app.callback(
        Output("dv-location", "search"),
        Output("dv-error", "children"),
        Output("dv-error", "className"),
        Input({"type": "dv-quick", "range": ALL}, "n_clicks"),
        Input("dv-apply", "n_clicks"),
        Input("dv-refresh", "value"),
        Input("dv-var-enterprise", "value"),
        Input("dv-var-unit", "value"),
        Input("dv-var-tag", "value"),
        Input({"type": "dv-graph", "panel": ALL}, "relayoutData"),
        State("dv-from", "value"),
        State("dv-to", "value"),
        State("dv-state", "data"),
        prevent_initial_call=True,
    )
    def navigate(
        _quick: list[int | None],
        _apply: int | None,
        refresh: str | None,
        enterprise: str | None,
        unit: str | None,
        tags: list[str] | None,
        _relayouts: list[Any],
        from_text: str | None,
        to_text: str | None,
        data: dict[str, str] | None,
    ) -> tuple[Any, Any, Any]:
        if not data or not ctx.triggered_id:
            raise dash.exceptions.PreventUpdate
        state, _ = ViewState.from_query(data["query"])
        trigger = ctx.triggered_id
        try:
            if isinstance(trigger, dict) and trigger.get("type") == "dv-quick":
                if not ctx.triggered[0]["value"]:
                    raise dash.exceptions.PreventUpdate
                state = state.with_range(TimeRange(trigger["range"], "now"))
            elif isinstance(trigger, dict) and trigger.get("type") == "dv-graph":
                zoomed = from_relayout(ctx.triggered[0]["value"])
                if zoomed is None:
                    raise dash.exceptions.PreventUpdate
                state = state.with_range(zoomed)
            elif trigger == "dv-apply":
                state = state.with_range(
                    TimeRange.parse(canonical_expr(from_text or ""), canonical_expr(to_text or ""))
                )
            elif trigger == "dv-refresh":
                state = state.with_refresh(refresh or "off")
            elif trigger == "dv-var-enterprise":
                state = state.with_vars(enterprise=enterprise)
            elif trigger == "dv-var-unit":
                state = state.with_vars(unit=unit, tag=None)
            elif trigger == "dv-var-tag":
                state = state.with_vars(tag=tags or [])
        except TimeRangeError as exc:
            return no_update, i18n.t("dv.bad_range", error=str(exc)), "hw-error"
        query = state.to_query()
        if query == data["query"]:
            raise dash.exceptions.PreventUpdate
        return query, "", ""

    @app.callback(
        Output("dv-drill", "href"),
        Input({"type": "dv-graph", "panel": ALL}, "clickData"),
        State("dv-state", "data"),
        prevent_initial_call=True,
    )
    def drill(_clicks: list[Any], data: dict[str, str] | None) -> str:
        click = ctx.triggered[0]["value"] if ctx.triggered else None
        tag_id = clicked_tag(click)
        if tag_id is None or not data:
            raise dash.exceptions.PreventUpdate
        state, _ = ViewState.from_query(data["query"])
        return render.tag_href(tag_id, state)
