"""Alert rules (issue 6, D2, A13): list with state and search; create, edit, disable and delete
rules of every kind with their levels (trip and clear thresholds), pending and keep-firing
times, source (raw samples or a rollup), tag and labels. The editor previews the tag's last
24 hours with the thresholds drawn and replays the rule over them (``workflows.rule_backtest``,
the engine's own pure evaluation) to show what it would have done.

    /alerts/rules          list (everyone who may see alerts), editor (admins and engineers)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
import psycopg
from dash import ALL, Input, Output, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.alert_editor import (
    ConfigEditor,
    code_and_name,
    code_is_free,
    levels_field,
    stored_form,
)
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.panels import queries
from workflows.alert_forms import (
    CHOICES,
    KIND_FIELDS,
    KINDS,
    LEVELS,
    PRIORITIES,
    Errors,
    FieldError,
    levels_summary,
    rule_from_form,
    rule_to_form,
)
from workflows.alerting import SOURCES, fetch_baseline
from workflows.rule_backtest import backtest
from workflows.rules import RuleSpec

PATH = "/alerts/rules"
P = "rule"
PREVIEW_H = 24
PREVIEW_STEP_S = 60
MAX_PLOTTED = 3000
LEVEL_COLORS = {"warning": "#f9a825", "alarm": "#ef6c00", "danger": "#c62828"}

i18n.register(
    {
        "rules.title": {"zh": "告警规则", "en": "Alert rules"},
        "rules.empty": {"zh": "没有告警规则。", "en": "No alert rules."},
        "rules.col.code": {"zh": "编码", "en": "Code"},
        "rules.col.name": {"zh": "名称", "en": "Name"},
        "rules.col.enterprise": {"zh": "企业", "en": "Enterprise"},
        "rules.col.tag": {"zh": "测点", "en": "Tag"},
        "rules.col.kind": {"zh": "类型", "en": "Kind"},
        "rules.col.priority": {"zh": "优先级", "en": "Priority"},
        "rules.col.levels": {"zh": "级别（触发/解除）", "en": "Levels (trip / clear)"},
        "rules.col.state": {"zh": "当前状态", "en": "State"},
        "rules.disabled": {"zh": "已停用", "en": "disabled"},
        "rules.never": {"zh": "未评估", "en": "not evaluated"},
        "rules.kind.threshold": {"zh": "阈值", "en": "threshold"},
        "rules.kind.rate": {"zh": "变化率", "en": "rate of change"},
        "rules.kind.trend": {"zh": "趋势预测", "en": "trend"},
        "rules.kind.baseline": {"zh": "偏离基线", "en": "baseline deviation"},
        "rules.kind.nodata": {"zh": "无数据", "en": "no data"},
        "rules.priority.emergency": {"zh": "紧急", "en": "emergency"},
        "rules.priority.high": {"zh": "高", "en": "high"},
        "rules.priority.low": {"zh": "低", "en": "low"},
        "rules.f.tag": {"zh": "测点（输入名称搜索）", "en": "Tag (type to search)"},
        "rules.f.priority": {"zh": "优先级", "en": "Priority"},
        "rules.f.kind": {"zh": "规则类型", "en": "Rule kind"},
        "rules.f.source": {"zh": "数据来源", "en": "Source"},
        "rules.f.column": {"zh": "汇总列", "en": "Rollup column"},
        "rules.f.window_s": {"zh": "窗口（秒）", "en": "Window (s)"},
        "rules.f.reduce": {"zh": "窗口取值", "en": "Reduce window by"},
        "rules.f.pending_s": {"zh": "持续时间（秒，待定→告警）", "en": "Pending (s)"},
        "rules.f.keep_firing_s": {"zh": "保持时间（秒）", "en": "Keep firing (s)"},
        "rules.f.nodata_s": {"zh": "无数据判定（秒）", "en": "No data after (s)"},
        "rules.f.on_nodata": {"zh": "无数据时", "en": "On no data"},
        "rules.f.rate_unit_s": {"zh": "变化率单位（秒）", "en": "Rate per (s)"},
        "rules.f.target": {"zh": "预测目标值", "en": "Target value"},
        "rules.f.direction": {"zh": "方向", "en": "Direction"},
        "rules.f.baseline_h": {"zh": "基线学习时长（小时）", "en": "Baseline over (h)"},
        "rules.f.baseline_min_points": {"zh": "基线最少小时数", "en": "Baseline min. hours"},
        "rules.f.nodata_level": {"zh": "无数据规则级别", "en": "No-data level"},
        "rules.f.labels": {"zh": "标签（如 area=north）", "en": "Labels (e.g. area=north)"},
        "rules.f.levels": {"zh": "级别", "en": "Levels"},
        "rules.f.op": {"zh": "比较", "en": "Compare"},
        "rules.f.value": {"zh": "触发值", "en": "Trip at"},
        "rules.f.clear": {"zh": "解除值", "en": "Clear at"},
        "rules.hint.trend": {
            "zh": "趋势规则的级别比较“距目标值的剩余秒数”，如 < 600。",
            "en": "Trend levels compare the seconds left until the target, e.g. < 600.",
        },
        "rules.hint.baseline": {
            "zh": "偏离基线规则的级别比较“当前值/基线”的倍数，如 ×2、×4、×8。",
            "en": "Baseline levels compare value / baseline, e.g. x2, x4, x8.",
        },
        "rules.hint.rate": {
            "zh": "变化率规则的级别比较每个单位时间的变化量。",
            "en": "Rate levels compare the change per rate unit.",
        },
        "rules.choice.source.raw": {"zh": "原始数据", "en": "raw samples"},
        "rules.choice.source.1m": {"zh": "1 分钟汇总", "en": "1-minute rollup"},
        "rules.choice.source.1h": {"zh": "1 小时汇总", "en": "1-hour rollup"},
        "rules.choice.column.avg": {"zh": "平均值", "en": "average"},
        "rules.choice.column.min": {"zh": "最小值", "en": "minimum"},
        "rules.choice.column.max": {"zh": "最大值", "en": "maximum"},
        "rules.choice.column.last": {"zh": "末值", "en": "last"},
        "rules.choice.reduce.last": {"zh": "最新值", "en": "last"},
        "rules.choice.reduce.avg": {"zh": "平均值", "en": "average"},
        "rules.choice.reduce.min": {"zh": "最小值", "en": "minimum"},
        "rules.choice.reduce.max": {"zh": "最大值", "en": "maximum"},
        "rules.choice.on_nodata.nodata": {"zh": "进入“无数据”状态", "en": "go to NoData"},
        "rules.choice.on_nodata.normal": {"zh": "视为正常", "en": "treat as normal"},
        "rules.choice.on_nodata.keep": {"zh": "保持当前状态", "en": "keep the state"},
        "rules.choice.direction.rising": {"zh": "上升", "en": "rising"},
        "rules.choice.direction.falling": {"zh": "下降", "en": "falling"},
        "rules.preview": {"zh": "预览：最近 24 小时", "en": "Preview: last 24 hours"},
        "rules.preview.pick": {"zh": "选择测点后显示预览。", "en": "Pick a tag to see a preview."},
        "rules.preview.fix": {
            "zh": "规则有误，更正后显示回放结果。",
            "en": "Correct the rule to see the replay.",
        },
        "rules.preview.summary": {
            "zh": "按此规则回放最近 24 小时（每分钟评估一次，共 {n} 次）：触发 {firings} 次，"
            "告警中共 {minutes:.0f} 分钟，当前状态：{state}。",
            "en": "Replaying the last 24 h (one evaluation a minute, {n} in all): fired "
            "{firings} times, firing for {minutes:.0f} min, state now: {state}.",
        },
        "rules.preview.errors": {"zh": "评估错误：{errors}", "en": "Evaluation errors: {errors}"},
        "rules.preview.series": {"zh": "测点值", "en": "Value"},
        "rules.preview.measured": {"zh": "规则比较值", "en": "Compared value"},
        "rules.preview.at": {"zh": "时间", "en": "Time"},
        "rules.preview.change": {"zh": "变化", "en": "Change"},
        "rules.preview.none": {"zh": "回放期间没有状态变化。", "en": "No state changes."},
        "af.err.tag_scope": {
            "zh": "测点不存在或不在您的范围内。",
            "en": "No such tag, or outside your scope.",
        },
    }
)


def _opt(prefix: str, values: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"label": i18n.t(f"{prefix}.{v}"), "value": v} for v in values]


# -- data -------------------------------------------------------------------------------------


def rule_rows(conn: psycopg.Connection, user: auth.WebUser, search: str) -> list[dict[str, Any]]:
    ids = ui.visible_ids(conn, user)
    like = f"%{search}%" if search else None
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT r.id, r.code, r.name, r.kind, r.priority, r.spec, r.enabled, r.enterprise_id,
                  t.name AS tag, e.name AS enterprise, s.state, s.detail
           FROM workflow.alert_rule r
           JOIN registry.tag t ON t.id = r.tag_id
           LEFT JOIN registry.enterprise e ON e.id = r.enterprise_id
           LEFT JOIN workflow.rule_state s ON s.rule_id = r.id
           WHERE (%(ids)s::integer[] IS NULL OR r.enterprise_id IS NULL
                  OR r.enterprise_id = ANY(%(ids)s::integer[]))
             AND (%(like)s::text IS NULL OR r.code ILIKE %(like)s OR r.name ILIKE %(like)s
                  OR t.name ILIKE %(like)s)
           ORDER BY e.name NULLS FIRST, r.code LIMIT 500""",
        {"ids": ids, "like": like},
    ).fetchall()


def list_view(user: auth.WebUser, search: str) -> Any:
    t = i18n.t
    headers = [
        t(f"rules.col.{c}")
        for c in ("code", "name", "enterprise", "tag", "kind", "priority", "levels", "state")
    ]

    def cells(r: dict[str, Any]) -> list[Any]:
        if not r["enabled"]:
            state = html.Span(t("rules.disabled"), className="hw-badge af-state-disabled")
        elif r["state"] is None:
            state = html.Span(t("rules.never"), className="hw-badge")
        else:
            level = (r["detail"] or {}).get("level")
            text = t(f"alerts.state.{r['state']}") + (
                f" · {t(f'alerts.level.{level}')}" if level else ""
            )
            state = html.Span(text, className=f"hw-badge hw-state-{r['state']}")
        return [
            r["code"],
            r["name"],
            r["enterprise"] or t("ac.instance"),
            r["tag"],
            t(f"rules.kind.{r['kind']}"),
            t(f"rules.priority.{r['priority']}"),
            levels_summary(r["spec"]),
            html.Span(state, id=f"rule-state-{r['code']}"),
        ]

    with auth.db_pool().connection() as conn:
        rows = rule_rows(conn, user, search)
        return editor.list_table(conn, user, rows, headers, cells, t("rules.empty"))


def blank(_conn: psycopg.Connection, _user: auth.WebUser) -> dict[str, Any]:
    form = rule_to_form(None)
    form.update({"window_s": 60, "levels.alarm.on": ["on"]})
    return form


def parse(
    conn: psycopg.Connection, user: auth.WebUser, form: dict[str, Any], rid: int | None
) -> tuple[dict[str, Any] | None, Errors]:
    values, errors = rule_from_form(form)
    tag = None
    if form.get("tag_id") not in (None, ""):
        tag = queries.visible_tag(conn, user.scope, int(form["tag_id"]))
        if tag is None:
            errors["tag_id"] = FieldError("tag_scope")
    if values is None or tag is None:
        return None, errors
    values["enterprise_id"] = tag["enterprise_id"]
    return code_is_free(conn, "alert_rule", (values, errors), rid)


editor = ConfigEditor(
    prefix=P,
    table="alert_rule",
    blank=blank,
    load=lambda conn, rid: stored_form(conn, "alert_rule", rid, rule_to_form),
    parse=parse,
    list_view=list_view,
    describe=code_and_name,
    search=True,
)


# -- the editor's fields ----------------------------------------------------------------------


def _fields() -> list[Any]:
    t = i18n.t
    num = {"type": "number"}
    fields: list[Any] = [
        ui.field(P, "code", t("ac.code"), ui.text_input(P, "code")),
        ui.field(P, "name", t("ac.name"), ui.text_input(P, "name")),
        ui.field(
            P,
            "tag_id",
            t("rules.f.tag"),
            ui.dropdown(P, "tag_id", [], searchable=True, clearable=False),
            wide=True,
        ),
        ui.field(
            P,
            "priority",
            t("rules.f.priority"),
            ui.dropdown(P, "priority", _opt("rules.priority", PRIORITIES), clearable=False),
        ),
        ui.field(
            P,
            "kind",
            t("rules.f.kind"),
            ui.dropdown(P, "kind", _opt("rules.kind", KINDS), clearable=False),
        ),
        ui.field(
            P,
            "source",
            t("rules.f.source"),
            ui.dropdown(
                P, "source", _opt("rules.choice.source", CHOICES["source"]), clearable=False
            ),
        ),
        ui.field(
            P,
            "column",
            t("rules.f.column"),
            ui.dropdown(
                P, "column", _opt("rules.choice.column", CHOICES["column"]), clearable=False
            ),
        ),
        ui.field(P, "window_s", t("rules.f.window_s"), ui.text_input(P, "window_s", **num)),
        ui.field(
            P,
            "reduce",
            t("rules.f.reduce"),
            ui.dropdown(
                P, "reduce", _opt("rules.choice.reduce", CHOICES["reduce"]), clearable=False
            ),
        ),
        ui.field(
            P,
            "rate_unit_s",
            t("rules.f.rate_unit_s"),
            ui.text_input(P, "rate_unit_s", **num),
            t("rules.hint.rate"),
        ),
        ui.field(
            P,
            "target",
            t("rules.f.target"),
            ui.text_input(P, "target", **num),
            t("rules.hint.trend"),
        ),
        ui.field(
            P,
            "direction",
            t("rules.f.direction"),
            ui.dropdown(
                P,
                "direction",
                _opt("rules.choice.direction", CHOICES["direction"]),
                clearable=False,
            ),
        ),
        ui.field(
            P,
            "baseline_h",
            t("rules.f.baseline_h"),
            ui.text_input(P, "baseline_h", **num),
            t("rules.hint.baseline"),
        ),
        ui.field(
            P,
            "baseline_min_points",
            t("rules.f.baseline_min_points"),
            ui.text_input(P, "baseline_min_points", **num),
        ),
        ui.field(P, "pending_s", t("rules.f.pending_s"), ui.text_input(P, "pending_s", **num)),
        ui.field(
            P, "keep_firing_s", t("rules.f.keep_firing_s"), ui.text_input(P, "keep_firing_s", **num)
        ),
        ui.field(P, "nodata_s", t("rules.f.nodata_s"), ui.text_input(P, "nodata_s", **num)),
        ui.field(
            P,
            "on_nodata",
            t("rules.f.on_nodata"),
            ui.dropdown(
                P,
                "on_nodata",
                _opt("rules.choice.on_nodata", CHOICES["on_nodata"]),
                clearable=False,
            ),
        ),
        ui.field(
            P,
            "nodata_level",
            t("rules.f.nodata_level"),
            ui.dropdown(P, "nodata_level", _opt("alerts.level", LEVELS), clearable=False),
        ),
        ui.field(P, "labels", t("rules.f.labels"), ui.text_input(P, "labels"), wide=True),
        ui.field(P, "enabled", t("ac.enabled"), ui.checkbox(P, "enabled", t("ac.enabled"))),
        levels_field(P, LEVELS, (">", ">=", "<", "<="), keys="rules.f", row_id="rule-level"),
    ]
    return fields


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if not ui.can_view(user):
        return forbidden()
    t = i18n.t
    preview = html.Div(
        className="af-preview",
        children=[
            html.H4(t("rules.preview")),
            dcc.Graph(
                id="rule-preview-graph",
                figure=_empty_figure(),
                config={"displaylogo": False},
                style={"height": "320px"},
            ),
            html.Div(id="rule-backtest", className="af-backtest"),
        ],
    )
    editing = ui.may_edit_any(user)
    return ui.config_page(
        "rules.title", "rules", editing, editor.section(user, _fields(), [preview])
    )


# -- preview ----------------------------------------------------------------------------------


def _empty_figure(text: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        margin={"l": 50, "r": 110, "t": 10, "b": 30},
        annotations=[
            {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
        ]
        if text
        else [],
        xaxis={"visible": bool(not text)},
        yaxis={"visible": bool(not text)},
    )
    return fig


def fetch_series(
    conn: psycopg.Connection, tag_id: int, source: str, column: str, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """The tag's series as the rule would read it (raw good samples or a rollup column)."""
    schema, tbl, tcol = SOURCES[source]
    col = "value" if source == "raw" else column
    quality = sql.SQL(" AND quality >= 192") if source == "raw" else sql.SQL("")
    query = sql.SQL(
        "SELECT {t}, {c} FROM {s}.{tb} WHERE tag_id = %s AND {t} > %s AND {t} <= %s"
        " AND {c} IS NOT NULL{q} ORDER BY {t}"
    ).format(
        t=sql.Identifier(tcol),
        c=sql.Identifier(col),
        s=sql.Identifier(schema),
        tb=sql.Identifier(tbl),
        q=quality,
    )
    return [(ts, float(v)) for ts, v in conn.execute(query, (tag_id, start, end)).fetchall()]


def _thinned(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """At most about ``MAX_PLOTTED`` points, in China Standard Time like the rest of the UI."""
    stride = max(1, len(points) // MAX_PLOTTED)
    return [(_local(t), v) for t, v in points[::stride]]


def _local(t: datetime) -> datetime:
    # Plotly draws aware datetimes in UTC; the axis should read like the tables (CST).
    return t.astimezone(i18n.DISPLAY_TZ).replace(tzinfo=None)


def _threshold_lines(fig: go.Figure, form: dict[str, Any], yref: str) -> None:
    for name in LEVELS:
        pre = f"levels.{name}"
        if not form.get(f"{pre}.on"):
            continue
        for key, dash_style in (("value", "solid"), ("clear", "dot")):
            v = form.get(f"{pre}.{key}")
            try:
                y = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            fig.add_shape(
                type="line",
                xref="paper",
                x0=0,
                x1=1,
                yref=yref,
                y0=y,
                y1=y,
                line={"color": LEVEL_COLORS[name], "dash": dash_style, "width": 1.5},
            )
            fig.add_annotation(
                xref="paper",
                x=1,
                yref=yref,
                y=y,
                xanchor="left",
                showarrow=False,
                font={"size": 10, "color": LEVEL_COLORS[name]},
                text=f"{i18n.t(f'alerts.level.{name}')} {i18n.t(f'rules.f.{key}')} {y:g}",
            )


def preview(user: auth.WebUser, form: dict[str, Any], now: datetime) -> tuple[go.Figure, Any]:
    """The figure and the replay summary for the editor's current values."""
    t = i18n.t
    raw_tag = form.get("tag_id")
    if raw_tag in (None, ""):
        return _empty_figure(t("rules.preview.pick")), None
    values, _errors = rule_from_form(form)
    spec = RuleSpec.model_validate(values["spec"]) if values else None
    source = form.get("source") or "raw"
    column = form.get("column") or "avg"
    start = now - timedelta(hours=PREVIEW_H)
    with auth.db_pool().connection() as conn:
        tag = queries.visible_tag(conn, user.scope, int(raw_tag))
        if tag is None:
            return _empty_figure(t("af.err.tag_scope")), None
        horizon = timedelta(seconds=max(spec.window_s, spec.nodata_s)) if spec else timedelta()
        points = fetch_series(conn, tag["id"], source, column, start - horizon, now)
        base = None
        if spec is not None and spec.kind == "baseline":
            base = fetch_baseline(conn, spec, tag["id"], now)
    fig = _empty_figure()
    shown = _thinned([p for p in points if p[0] > start])
    fig.add_trace(
        go.Scatter(
            x=[p[0] for p in shown],
            y=[p[1] for p in shown],
            mode="lines",
            name=t("rules.preview.series"),
            line={"color": "#0b4f8a"},
        )
    )
    kind = (values or {}).get("kind") or form.get("kind")
    if kind == "threshold":
        _threshold_lines(fig, form, "y")
    if spec is None:
        return fig, html.Div(t("rules.preview.fix"), className="hw-muted", id="rule-bt-fix")
    result = backtest(spec, points, start, now, PREVIEW_STEP_S, base)
    if kind in ("rate", "trend", "baseline"):
        m = _thinned(result.measured)
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in m],
                y=[p[1] for p in m],
                mode="lines",
                name=t("rules.preview.measured"),
                yaxis="y2",
                line={"color": "#6a1b9a", "width": 1},
            )
        )
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right"})
        _threshold_lines(fig, form, "y2")
    for tr in result.transitions:
        if tr.to_state in ("firing", "resolved"):
            color = "#c62828" if tr.to_state == "firing" else "#2e7d32"
            fig.add_vline(x=_local(tr.at), line={"color": color, "width": 1, "dash": "dash"})
    fig.update_layout(legend={"orientation": "h", "y": 1.08}, showlegend=True)
    summary = t(
        "rules.preview.summary",
        n=result.evaluations,
        firings=result.firings,
        minutes=result.firing_s / 60,
        state=t(f"alerts.state.{result.final.state}"),
    )
    rows = [
        [
            i18n.fmt_datetime(tr.at),
            f"{t(f'alerts.state.{tr.from_state}')} → "
            f"{t(f'alerts.state.{tr.to_state}')}"
            + (f" · {t(f'alerts.level.{tr.level}')}" if tr.level else "")
            + (f" ({tr.value:.4g})" if tr.value is not None else ""),
        ]
        for tr in result.transitions[-50:]
    ]
    parts: list[Any] = [html.P(summary, id="rule-bt-summary")]
    if result.errors:
        parts.append(
            html.P(
                t("rules.preview.errors", errors="; ".join(sorted(result.errors))),
                className="hw-error",
            )
        )
    parts.append(
        table(
            [t("rules.preview.at"), t("rules.preview.change")],
            rows,
            "rule-bt-table",
            t("rules.preview.none"),
        )
    )
    return fig, html.Div(parts)


def tag_options(
    conn: psycopg.Connection, user: auth.WebUser, search: str, current: Any
) -> list[dict[str, Any]]:
    cond, params = user.scope.condition("t.enterprise_id")
    like = f"%{search}%"
    rows = conn.execute(
        sql.SQL(
            """SELECT t.id, t.name, coalesce(t.description, ''), e.name FROM registry.tag t
               JOIN registry.enterprise e ON e.id = t.enterprise_id
               WHERE {} AND (t.id = %s OR t.name ILIKE %s OR t.description ILIKE %s)
               ORDER BY t.id = %s DESC, t.name LIMIT 30"""
        ).format(cond),
        (*params, current or -1, like, like, current or -1),
    ).fetchall()
    return [
        {"label": f"{name} {desc} · {ent}".replace("  ", " "), "value": tid}
        for tid, name, desc, ent in rows
    ]


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "alert rules",
        6,
        layout,
        title="rules.title",
        nav="nav.alert_config",
        roles=ui.VIEW_ROLES,
        after="/alerts",
    )
    editor.register(app)

    @app.callback(
        Output(ui.fid(P, "tag_id"), "options"),
        Input(ui.fid(P, "tag_id"), "search_value"),
        Input(ui.fid(P, "tag_id"), "value"),
    )
    def search_tags(search: str | None, current: Any) -> list[dict[str, Any]]:
        user = auth.current_user()
        if user is None or not ui.can_view(user):
            raise dash.exceptions.PreventUpdate
        with auth.db_pool().connection() as conn:
            return tag_options(conn, user, (search or "").strip(), current)

    @app.callback(
        Output({"type": f"{P}-wrap", "f": ALL}, "style"),
        Input(ui.fid(P, "kind"), "value"),
        Input(ui.fid(P, "source"), "value"),
    )
    def kind_fields(kind: str | None, source: str | None) -> list[dict[str, str]]:
        used = set(KIND_FIELDS.get(kind or "threshold", ()))
        optional = {k for fs in KIND_FIELDS.values() for k in fs}
        styles = []
        for out in dash.ctx.outputs_list:
            name = out["id"]["f"]
            hide = (name in optional and name not in used) or (
                name == "column" and source in (None, "raw")
            )
            if name == "levels" and kind == "nodata":
                hide = True
            styles.append(ui.HIDDEN if hide else ui.SHOWN)
        return styles

    @app.callback(
        Output("rule-preview-graph", "figure"),
        Output("rule-backtest", "children"),
        Input({"type": f"{P}-f", "f": ALL}, "value"),
        prevent_initial_call=True,
    )
    def live_preview(values: list[Any]) -> tuple[Any, Any]:
        user = auth.current_user()
        if user is None or not ui.can_view(user):
            raise dash.exceptions.PreventUpdate
        ids = [i["id"]["f"] for i in dash.ctx.inputs_list[0]]
        form = dict(zip(ids, values, strict=True))
        return preview(user, form, datetime.now(UTC))
