"""Pump alarm strategies (issue 8, P5): the strategies of each pump and measurement point
(absolute value, rate of change, trend, baseline multiple; graded warning / alarm / danger)
listed with search, filters and pages; created, edited, switched on or off and deleted in an
editor that previews the point's last days with the grades drawn and the times the strategy
would have fired; and, on the same page, which user groups each grade notifies.

    /pumps/strategies            list, editor (admins and engineers), routing by grade
    /pumps/strategies?pump=7     the list filtered to one pump (linked from the pump pages)

Everything is ``analytics.vibration.strategies``: the spec is parsed by the alerting engine's
own form parser and ``RuleSpec`` (errors shown at their fields), the place and identity by
``check_strategy``; writes are audited (``acting`` / ``workflows.alert_config``). The routing
is the grade's ``pump-<level>`` escalation policy of the alerting engine; only its first
tier's groups are edited here (later tiers, channels and timing on /alerts/policies).
"""

from __future__ import annotations

import bisect
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
import psycopg
from dash import ALL, Input, Output, State, ctx, dcc, html

from analytics.vibration import strategies as st
from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.alert_editor import levels_field
from dashboards.callback_args import actor_of, fired, message
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.pumps import ROLES, sub_nav
from hazwatch.errors import HazwatchError
from workflows.alert_forms import CHOICES, Errors, FieldError

PATH = "/pumps/strategies"
P = "pstr"
PAGE_SIZE = 20
PREVIEW_DAYS = (1, 3, 7)
MAX_PLOTTED = 3000
LEVEL_COLORS = {"warning": "#f59f00", "alarm": "#e8590c", "danger": "#c92a2a", "target": "#495057"}
#: The editor's fields that belong to some kinds only (hidden for the others).
SPEC_ONLY = {f for fs in st.SPEC_FIELDS.values() for f in fs}

i18n.register(
    {
        "nav.pump_strategies": {"zh": "机泵报警策略", "en": "Pump alarm strategies"},
        "pstr.title": {"zh": "机泵报警策略", "en": "Pump alarm strategies"},
        "pstr.intro": {
            "zh": "每个测点可设绝对值、变化率、趋势和基线倍数策略，分预警、报警、危险三级；"
            "每 30 秒评估一次，报警按级别通知下方设置的用户组。",
            "en": "Absolute value, rate of change, trend and baseline multiple per measurement "
            "point, graded warning / alarm / danger; evaluated every 30 s, each grade notifies "
            "the groups set below.",
        },
        "pstr.search": {"zh": "搜索名称、机泵、测点", "en": "Search name, pump, point"},
        "pstr.all_pumps": {"zh": "全部机泵", "en": "All pumps"},
        "pstr.all_kinds": {"zh": "全部类型", "en": "All kinds"},
        "pstr.any_state": {"zh": "启用和停用", "en": "Enabled and disabled"},
        "pstr.only_on": {"zh": "仅启用", "en": "Enabled only"},
        "pstr.only_off": {"zh": "仅停用", "en": "Disabled only"},
        "pstr.empty": {"zh": "没有符合条件的策略。", "en": "No matching strategies."},
        "pstr.page": {
            "zh": "第 {page} / {pages} 页，共 {total} 条",
            "en": "Page {page} of {pages}, {total} in all",
        },
        "pstr.prev": {"zh": "上一页", "en": "Previous"},
        "pstr.next": {"zh": "下一页", "en": "Next"},
        "pstr.col.pump": {"zh": "机泵", "en": "Pump"},
        "pstr.col.name": {"zh": "名称", "en": "Name"},
        "pstr.col.point": {"zh": "测点 / 物理量", "en": "Point / quantity"},
        "pstr.col.kind": {"zh": "类型", "en": "Kind"},
        "pstr.col.levels": {"zh": "分级（触发/解除）", "en": "Grades (trip / clear)"},
        "pstr.col.state": {"zh": "状态", "en": "State"},
        "pstr.disabled": {"zh": "已停用", "en": "disabled"},
        "pstr.never": {"zh": "未评估", "en": "not evaluated"},
        "pstr.worst_axis": {"zh": "最大方向", "en": "worst axis"},
        "pstr.kind.threshold": {"zh": "绝对值", "en": "absolute value"},
        "pstr.kind.rate": {"zh": "变化率", "en": "rate of change"},
        "pstr.kind.trend": {"zh": "趋势", "en": "trend"},
        "pstr.kind.baseline": {"zh": "基线倍数", "en": "baseline multiple"},
        "pstr.measure.tag": {
            "zh": "过程测点（如轴承温度）",
            "en": "process tag (e.g. bearing temp.)",
        },
        "pstr.f.equipment_id": {"zh": "机泵", "en": "Pump"},
        "pstr.f.name": {"zh": "策略名称", "en": "Name"},
        "pstr.f.measure": {"zh": "监测物理量", "en": "Measured quantity"},
        "pstr.f.sensor_id": {"zh": "测点（传感器）", "en": "Measurement point (sensor)"},
        "pstr.f.axis": {"zh": "方向", "en": "Axis"},
        "pstr.f.tag_id": {"zh": "过程测点", "en": "Process tag"},
        "pstr.f.priority": {"zh": "优先级", "en": "Priority"},
        "pstr.f.kind": {"zh": "策略类型", "en": "Kind"},
        "pstr.f.window_s": {"zh": "窗口（秒）", "en": "Window (s)"},
        "pstr.f.reduce": {"zh": "窗口取值", "en": "Reduce window by"},
        "pstr.f.rate_unit_s": {"zh": "变化率单位（秒，3600 = 每小时）", "en": "Rate per (s)"},
        "pstr.f.target": {"zh": "预测目标值", "en": "Target value"},
        "pstr.f.direction": {"zh": "方向", "en": "Direction"},
        "pstr.f.baseline_h": {"zh": "基线学习时长（小时）", "en": "Baseline over (h)"},
        "pstr.f.baseline_min_points": {"zh": "基线最少小时数", "en": "Baseline min. hours"},
        "pstr.f.pending_s": {
            "zh": "持续时间（秒，超限持续多久才报警）",
            "en": "Pending (s) before it fires",
        },
        "pstr.f.keep_firing_s": {
            "zh": "保持时间（秒，恢复后多久才解除）",
            "en": "Keep firing (s) after recovery",
        },
        "pstr.f.nodata_s": {"zh": "无数据判定（秒）", "en": "No data after (s)"},
        "pstr.f.on_nodata": {"zh": "无数据时", "en": "On no data"},
        "pstr.f.enabled": {"zh": "启用", "en": "Enabled"},
        "pstr.f.levels": {"zh": "分级阈值", "en": "Graded thresholds"},
        "pstr.f.op": {"zh": "比较", "en": "Compare"},
        "pstr.f.value": {"zh": "触发值", "en": "Trip at"},
        "pstr.f.clear": {"zh": "解除值", "en": "Clear at"},
        "pstr.hint.rate": {
            "zh": "分级比较每个单位时间的变化量。",
            "en": "Grades compare the change per rate unit.",
        },
        "pstr.hint.trend": {
            "zh": "分级比较按趋势到达目标值的剩余秒数，如 ≤ 86400（1 天）。",
            "en": "Grades compare the seconds until the target, e.g. ≤ 86400 (1 day).",
        },
        "pstr.hint.baseline": {
            "zh": "分级比较当前值与基线（历史小时均值的中位数）之比，如 ×2、×4、×8。",
            "en": "Grades compare value / baseline (median of hourly means), e.g. x2, x4, x8.",
        },
        "pstr.choice.reduce.last": {"zh": "最新值", "en": "last"},
        "pstr.choice.reduce.avg": {"zh": "平均值", "en": "average"},
        "pstr.choice.reduce.min": {"zh": "最小值", "en": "minimum"},
        "pstr.choice.reduce.max": {"zh": "最大值", "en": "maximum"},
        "pstr.choice.on_nodata.nodata": {"zh": "进入“无数据”状态", "en": "go to NoData"},
        "pstr.choice.on_nodata.normal": {"zh": "视为正常", "en": "treat as normal"},
        "pstr.choice.on_nodata.keep": {"zh": "保持当前状态", "en": "keep the state"},
        "pstr.choice.direction.rising": {"zh": "上升", "en": "rising"},
        "pstr.choice.direction.falling": {"zh": "下降", "en": "falling"},
        "pstr.priority.emergency": {"zh": "紧急", "en": "emergency"},
        "pstr.priority.high": {"zh": "高", "en": "high"},
        "pstr.priority.low": {"zh": "低", "en": "low"},
        "pstr.new": {"zh": "新建策略", "en": "New strategy"},
        "pstr.edit": {"zh": "编辑", "en": "Edit"},
        "pstr.editing": {"zh": "编辑：{what}", "en": "Editing: {what}"},
        "pstr.creating": {"zh": "新建策略", "en": "New strategy"},
        "pstr.saved": {"zh": "策略已保存（编号 {id}）。", "en": "Strategy saved (id {id})."},
        "pstr.deleted": {"zh": "策略已删除（编号 {id}）。", "en": "Strategy deleted (id {id})."},
        "pstr.toggled": {"zh": "策略已{state}（编号 {id}）。", "en": "Strategy {state} (id {id})."},
        "pstr.state_on": {"zh": "启用", "en": "enabled"},
        "pstr.state_off": {"zh": "停用", "en": "disabled"},
        "pstr.read_only": {
            "zh": "您的角色只能查看报警策略，不能修改。",
            "en": "Your role may view the strategies but not change them.",
        },
        "pstr.out_of_scope": {
            "zh": "该机泵或策略不存在，或不在您的范围内。",
            "en": "No such pump or strategy in your scope.",
        },
        "pstr.preview": {"zh": "预览：测点历史与回放", "en": "Preview: history and replay"},
        "pstr.preview.days": {"zh": "最近天数", "en": "Last days"},
        "pstr.preview.pick": {
            "zh": "选择机泵和测点后显示预览。",
            "en": "Pick a pump and a point to see a preview.",
        },
        "pstr.preview.fix": {
            "zh": "策略有误，更正后显示回放结果。",
            "en": "Correct the strategy to see the replay.",
        },
        "pstr.preview.summary": {
            "zh": "按此策略回放最近 {days} 天（每 {step} 分钟评估一次，共 {n} 次）：触发 {fired} 次"
            "（{by_level}），告警中共 {hours:.1f} 小时，当前状态：{state}。",
            "en": "Replaying the last {days} days (every {step} min, {n} evaluations): fired "
            "{fired} times ({by_level}), firing for {hours:.1f} h, state now: {state}.",
        },
        "pstr.preview.baseline": {"zh": "基线 {value:.4g}", "en": "baseline {value:.4g}"},
        "pstr.preview.errors": {"zh": "评估错误：{errors}", "en": "Evaluation errors: {errors}"},
        "pstr.preview.series": {"zh": "测点值", "en": "Value"},
        "pstr.preview.compared": {"zh": "策略比较值", "en": "Compared value"},
        "pstr.preview.fired": {"zh": "触发", "en": "Fired"},
        "pstr.preview.at": {"zh": "时间", "en": "Time"},
        "pstr.preview.change": {"zh": "变化", "en": "Change"},
        "pstr.preview.none": {"zh": "回放期间没有状态变化。", "en": "No state changes."},
        "pstr.preview.hours": {"zh": "距目标（小时）", "en": "Hours to target"},
        "pstr.line.target": {"zh": "目标值", "en": "target"},
        "pstr.routing": {"zh": "分级通知", "en": "Notification by grade"},
        "pstr.routing.intro": {
            "zh": "每个级别的机泵报警（含硬件自诊断报警）立即通知所选用户组。"
            "升级层级、通知通道和时间在“升级策略”页设置。",
            "en": "Pump alarms (and hardware health alarms) of each grade go at once to the "
            "groups chosen here. Later escalation tiers, channels and timing: escalation "
            "policies page.",
        },
        "pstr.routing.enterprise": {"zh": "企业", "en": "Enterprise"},
        "pstr.routing.none": {"zh": "范围内没有机泵企业。", "en": "No pump plant in scope."},
        "pstr.routing.groups": {"zh": "通知的用户组", "en": "Groups notified"},
        "pstr.routing.policy": {
            "zh": "升级策略 {code}（{state}）",
            "en": "Escalation policy {code} ({state})",
        },
        "pstr.routing.more": {"zh": "；另有 {n} 层升级", "en": "; {n} later tiers"},
        "pstr.routing.missing": {
            "zh": "尚无升级策略：保存时创建 {code}。",
            "en": "No policy yet: {code} is created on saving.",
        },
        "pstr.routing.shadowed": {
            "zh": "注意：升级策略 {codes} 排在前面，该级别的机泵报警先匹配它。",
            "en": "Note: policy {codes} comes first; pump alarms of this grade match it.",
        },
        "pstr.routing.policies": {"zh": "打开升级策略页", "en": "Open escalation policies"},
        "pstr.routing.save": {"zh": "保存分级通知", "en": "Save routing"},
        "pstr.routing.saved": {"zh": "分级通知已保存。", "en": "Routing saved."},
        "pstr.routing.members": {"zh": "{n} 人", "en": "{n} members"},
        "pstr.state.enabled": {"zh": "启用", "en": "enabled"},
        "pstr.state.disabled": {"zh": "已停用", "en": "disabled"},
        "pstr.err.sensor_other_pump": {
            "zh": "该测点不属于所选机泵。",
            "en": "This point is not a sensor of the chosen pump.",
        },
        "pstr.err.tag_other_enterprise": {
            "zh": "该过程测点不属于机泵所在企业。",
            "en": "This tag is not one of the pump's enterprise.",
        },
        "pstr.err.duplicate_name": {
            "zh": "该机泵已有同名策略。",
            "en": "The pump already has a strategy of this name.",
        },
        "pstr.err.group_scope": {
            "zh": "所选用户组不属于该企业。",
            "en": "A chosen group is not one of the enterprise.",
        },
        "pstr.err.routes_empty": {
            "zh": "至少选择一个用户组（不需通知时请在升级策略页停用 {policy}）。",
            "en": "Choose at least one group (or disable {policy} on the policies page).",
        },
    }
)


def _opt(prefix: str, values: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    return [{"label": i18n.t(f"{prefix}.{v}"), "value": v} for v in values]


def measure_label(measure: str) -> str:
    if measure == "tag":
        return i18n.t("pstr.measure.tag")
    zh, en = st.MEASURES.get(measure, (measure, measure))
    unit = st.UNITS.get(measure, "")
    name = zh if i18n.current_lang() == "zh" else en
    return f"{name} ({unit})" if unit else name


def error_text(err: FieldError) -> str:
    """A field error in the user's language: this page's codes, else the alerting forms'."""
    key = f"pstr.err.{err.code}"
    if key in i18n.STRINGS:
        return i18n.t(key, **{k: v for k, v in err.params.items() if k != "msg"})
    return ui.error_text(err)


def field_errors(problems: dict[str, st.StrategyError]) -> Errors:
    return {f: FieldError(e.code, e.params) for f, e in problems.items()}


# -- permissions and options -------------------------------------------------------------------


def may_edit(user: auth.WebUser | None) -> bool:
    return user is not None and user.role in ui.EDIT_ROLES and not user.read_only


def pump_options(conn: psycopg.Connection, ents: list[int] | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT e.id, e.code, e.name, en.name FROM registry.equipment e
           JOIN registry.unit u ON u.id = e.unit_id
           JOIN registry.enterprise en ON en.id = u.enterprise_id
           WHERE e.kind = 'pump' AND (%s::integer[] IS NULL OR u.enterprise_id = ANY(%s))
           ORDER BY en.name, e.code LIMIT 1000""",
        (ents, ents),
    ).fetchall()
    return [{"label": f"{c} {n} · {en}", "value": i} for i, c, n, en in rows]


def pump_in_scope(conn: psycopg.Connection, user: auth.WebUser, pump_id: int | None) -> bool:
    if pump_id is None:
        return False
    row = conn.execute(
        """SELECT u.enterprise_id FROM registry.equipment e JOIN registry.unit u
           ON u.id = e.unit_id WHERE e.id = %s AND e.kind = 'pump'""",
        (pump_id,),
    ).fetchone()
    ents = user.scope.enterprise_ids(conn)
    return row is not None and (ents is None or row[0] in ents)


def point_options(conn: psycopg.Connection, pump_id: int | None) -> tuple[list, list]:
    """(sensor options, tag options) of a pump: its vibration sensors, and the process tags
    of the pump or its unit (bearing temperature, current)."""
    if pump_id is None:
        return [], []
    sensors = conn.execute(
        "SELECT id, coalesce(measurement_point, code), code FROM registry.sensor"
        " WHERE equipment_id = %s AND kind = 'vibration_triaxial' ORDER BY code",
        (pump_id,),
    ).fetchall()
    tags = conn.execute(
        """SELECT t.id, t.name, coalesce(t.description, '') FROM registry.tag t
           JOIN registry.equipment e ON e.id = %s JOIN registry.unit u ON u.id = e.unit_id
           WHERE t.enterprise_id = u.enterprise_id
             AND (t.equipment_id = e.id OR t.unit_id = e.unit_id)
           ORDER BY t.equipment_id = e.id DESC, t.name LIMIT 300""",
        (pump_id,),
    ).fetchall()
    return (
        [{"label": f"{p} ({c})", "value": i} for i, p, c in sensors],
        [{"label": f"{n} {d}".strip(), "value": i} for i, n, d in tags],
    )


# -- the list --------------------------------------------------------------------------------


def _filters(pump: Any, kind: Any, enabled: Any) -> tuple[int | None, str | None, bool | None]:
    return (
        st.as_id(pump),
        kind if kind in st.KINDS else None,
        {"on": True, "off": False}.get(enabled or ""),
    )


def list_view(
    user: auth.WebUser, search: str | None, pump: Any, kind: Any, enabled: Any, page: int
) -> tuple[Any, str, int]:
    """The page's table, its page label and the page shown (clamped to the last page)."""
    t = i18n.t
    eq, kd, en = _filters(pump, kind, enabled)
    with auth.db_pool().connection() as conn:
        ents = user.scope.enterprise_ids(conn)
        rows, total = st.search_strategies(
            conn, ents, text=search, equipment_id=eq, kind=kd, enabled=en,
            limit=PAGE_SIZE, offset=page * PAGE_SIZE,
        )  # fmt: skip
        pages = max(1, -(-total // PAGE_SIZE))
        if page >= pages:
            page = pages - 1
            rows, total = st.search_strategies(
                conn, ents, text=search, equipment_id=eq, kind=kd, enabled=en,
                limit=PAGE_SIZE, offset=page * PAGE_SIZE,
            )  # fmt: skip
    editing = may_edit(user)
    headers = [t(f"pstr.col.{c}") for c in ("pump", "name", "point", "kind", "levels", "state")]
    if editing:
        headers.append(t("ac.col.actions"))
    body = []
    for r in rows:
        if not r["enabled"]:
            state = html.Span(t("pstr.disabled"), className="hw-badge af-state-disabled")
        elif r["state"] is None:
            state = html.Span(t("pstr.never"), className="hw-badge")
        else:
            level = t(f"alerts.level.{r['level']}") if r["level"] else None
            text = t(f"alerts.state.{r['state']}") + (f" · {level}" if level else "")
            state = html.Span(text, className=f"hw-badge hw-state-{r['state']}")
        where = (
            r["tag"] or "?"
            if r["measure"] == "tag"
            else f"{r['point'] or '?'} {r['axis'] or t('pstr.worst_axis')}"
        )
        cells: list[Any] = [
            html.A(f"{r['equipment']} {r['pump']}", href=f"/pumps/detail?id={r['equipment_id']}"),
            r["name"],
            f"{where} · {measure_label(r['measure'])}",
            t(f"pstr.kind.{r['kind']}"),
            st.levels_text(r["spec"], {lv: t(f"alerts.level.{lv}") for lv in st.LEVELS}),
            html.Span(state, id=f"pstr-state-{r['id']}"),
        ]
        if editing:
            cells.append(
                html.Button(
                    t("pstr.edit"),
                    id={"type": f"{P}-edit", "sid": r["id"]},
                    className="hw-btn hw-btn-light",
                )
            )
        body.append(cells)
    label = t("pstr.page", page=page + 1, pages=max(1, -(-total // PAGE_SIZE)), total=total)
    return table(headers, body, f"{P}-table", t("pstr.empty")), label, page


# -- the editor --------------------------------------------------------------------------------


def _fields(pumps: list[dict[str, Any]]) -> list[Any]:
    t = i18n.t
    num = {"type": "number"}

    def f(name: str, component: Any, hint: str | None = None, wide: bool = False) -> Any:
        return ui.field(P, name, t(f"pstr.f.{name}"), component, hint, wide)

    measures = [{"label": measure_label(m), "value": m} for m in [*st.MEASURES, "tag"]]
    axes = [{"label": t("pstr.worst_axis"), "value": st.WORST_AXIS}] + [
        {"label": a, "value": a} for a in ("X", "Y", "Z")
    ]
    fields: list[Any] = [
        f("equipment_id", ui.dropdown(P, "equipment_id", pumps, clearable=False)),
        f("name", ui.text_input(P, "name")),
        f("measure", ui.dropdown(P, "measure", measures, clearable=False)),
        f("sensor_id", ui.dropdown(P, "sensor_id", [], clearable=False)),
        f("axis", ui.dropdown(P, "axis", axes, clearable=False)),
        f("tag_id", ui.dropdown(P, "tag_id", [], clearable=False)),
        f(
            "priority",
            ui.dropdown(
                P, "priority", _opt("pstr.priority", ("emergency", "high", "low")), clearable=False
            ),
        ),
        f("kind", ui.dropdown(P, "kind", _opt("pstr.kind", st.KINDS), clearable=False)),
        f("window_s", ui.text_input(P, "window_s", **num)),
        f(
            "reduce",
            ui.dropdown(
                P, "reduce", _opt("pstr.choice.reduce", CHOICES["reduce"]), clearable=False
            ),
        ),
        f("rate_unit_s", ui.text_input(P, "rate_unit_s", **num), t("pstr.hint.rate")),
        f("target", ui.text_input(P, "target", **num), t("pstr.hint.trend")),
        f(
            "direction",
            ui.dropdown(
                P,
                "direction",
                _opt("pstr.choice.direction", CHOICES["direction"]),
                clearable=False,
            ),
        ),
        f("baseline_h", ui.text_input(P, "baseline_h", **num), t("pstr.hint.baseline")),
        f("baseline_min_points", ui.text_input(P, "baseline_min_points", **num)),
        f("pending_s", ui.text_input(P, "pending_s", **num)),
        f("keep_firing_s", ui.text_input(P, "keep_firing_s", **num)),
        f("nodata_s", ui.text_input(P, "nodata_s", **num)),
        f(
            "on_nodata",
            ui.dropdown(
                P,
                "on_nodata",
                _opt("pstr.choice.on_nodata", CHOICES["on_nodata"]),
                clearable=False,
            ),
        ),
        f("enabled", ui.checkbox(P, "enabled", t("pstr.f.enabled"))),
        levels_field(P, st.LEVELS, (">=", ">", "<=", "<"), keys="pstr.f", row_id=f"{P}-level"),
    ]
    return fields


def editor_panel(pumps: list[dict[str, Any]]) -> html.Div:
    t = i18n.t
    preview = html.Div(
        className="af-preview",
        children=[
            html.H4(t("pstr.preview")),
            html.Div(
                className="hw-filters",
                children=[
                    html.Label(t("pstr.preview.days"), htmlFor=f"{P}-days"),
                    dcc.RadioItems(
                        id=f"{P}-days",
                        options=[{"label": str(d), "value": d} for d in PREVIEW_DAYS],
                        value=3,
                        inline=True,
                    ),
                ],
            ),
            dcc.Graph(
                id=f"{P}-preview-graph",
                figure=_empty_figure(t("pstr.preview.pick")),
                config={"displaylogo": False},
                style={"height": "340px"},
            ),
            html.Div(id=f"{P}-preview", className="af-backtest"),
        ],
    )
    return html.Div(
        id=f"{P}-editor",
        className="hw-card af-editor",
        style=ui.HIDDEN,
        children=[
            html.H3(id=f"{P}-heading"),
            html.Div(_fields(pumps), className="af-grid"),
            preview,
            html.Div(
                className="af-actions",
                children=[
                    dcc.Input(
                        id=f"{P}-reason",
                        type="text",
                        className="hw-input af-reason",
                        placeholder=t("ac.reason"),
                    ),
                    html.Button(t("ac.save"), id=f"{P}-save", className="hw-btn"),
                    html.Button(t("ac.toggle"), id=f"{P}-toggle", className="hw-btn hw-btn-light"),
                    html.Button(t("ac.delete"), id=f"{P}-delete", className="hw-btn hw-btn-danger"),
                    html.Button(t("ac.cancel"), id=f"{P}-cancel", className="hw-btn hw-btn-light"),
                ],
            ),
            html.Div(className="af-err", id={"type": f"{P}-err", "f": "_form"}),
        ],
    )


def describe(form: dict[str, Any], pumps: list[dict[str, Any]]) -> str:
    label = next((p["label"] for p in pumps if p["value"] == form.get("equipment_id")), "")
    return f"{label.split(' · ')[0]} · {form.get('name')}"


# -- preview ------------------------------------------------------------------------------------


def _empty_figure(text: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        margin={"l": 50, "r": 120, "t": 10, "b": 30},
        annotations=[
            {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
        ]
        if text
        else [],
        xaxis={"visible": not text},
        yaxis={"visible": not text},
    )
    return fig


def _local(t: datetime) -> datetime:
    # Plotly draws aware datetimes in UTC; the axis should read like the tables (CST).
    return t.astimezone(i18n.DISPLAY_TZ).replace(tzinfo=None)


def _thinned(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    stride = max(1, len(points) // MAX_PLOTTED)
    return [(_local(t), v) for t, v in points[::stride]]


def preview_figure(
    series: list[tuple[datetime, float]],
    pv: st.StrategyPreview | None,
    unit: str,
    span: tuple[datetime, datetime],
) -> go.Figure:
    """The point's series over ``span`` with the grades drawn, the compared value (rate,
    hours to target, baseline multiple) on a second axis, and a marker where the strategy
    would have fired."""
    t = i18n.t
    fig = _empty_figure()
    # The whole stretch replayed, so days without data show as such.
    fig.update_xaxes(range=[_local(span[0]), _local(span[1])])
    shown = _thinned(series)
    fig.add_trace(
        go.Scatter(
            x=[p[0] for p in shown],
            y=[p[1] for p in shown],
            mode="lines",
            name=t("pstr.preview.series") + (f" ({unit})" if unit else ""),
            line={"color": "#0b4f8a", "width": 1},
        )
    )
    if pv is None:
        return fig
    trend = pv.kind == "trend"
    scale = 1 / 3600 if trend else 1.0  # seconds to the target read better in hours
    if pv.kind != "threshold":
        comp = _thinned([(a, v * scale) for a, v in pv.compared])
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in comp],
                y=[p[1] for p in comp],
                mode="lines",
                yaxis="y2",
                name=t("pstr.preview.hours") if trend else t("pstr.preview.compared"),
                line={"color": "#6a1b9a", "width": 1},
            )
        )
        top = max((th.trip * scale for th in pv.thresholds if th.on == "compared"), default=1.0)
        y2: dict[str, Any] = {"overlaying": "y", "side": "right", "showgrid": False}
        if trend:  # far-off predictions (weeks) would squash the grades to the axis
            y2["range"] = [0, 3 * top]
        fig.update_layout(yaxis2=y2)
    for th in pv.thresholds:
        yref = "y" if th.on == "value" else "y2"
        k = 1.0 if th.on == "value" else scale
        name = t("pstr.line.target") if th.level == "target" else t(f"alerts.level.{th.level}")
        for y, dash_style, what in ((th.trip, "solid", "value"), (th.clear, "dot", "clear")):
            if y is None:
                continue
            fig.add_shape(
                type="line", xref="paper", x0=0, x1=1, yref=yref, y0=y * k, y1=y * k,
                line={"color": LEVEL_COLORS[th.level], "dash": dash_style, "width": 1.5},
            )  # fmt: skip
            fig.add_annotation(
                xref="paper", x=1, yref=yref, y=y * k, xanchor="left", showarrow=False,
                font={"size": 10, "color": LEVEL_COLORS[th.level]},
                text=f"{name} {t(f'pstr.f.{what}') if th.level != 'target' else ''} {y * k:g}",
            )  # fmt: skip
    times = [a for a, _ in series]
    for level in st.LEVELS:
        at = [a for a, lv, _ in pv.fired if lv == level]
        if not at:
            continue
        ys = []
        for a in at:  # the marker sits on the series at (or just before) that time
            i = max(0, bisect.bisect_right(times, a) - 1)
            ys.append(series[i][1] if series else 0.0)
        fig.add_trace(
            go.Scatter(
                x=[_local(a) for a in at],
                y=ys,
                mode="markers",
                name=f"{t('pstr.preview.fired')} · {t(f'alerts.level.{level}')}",
                marker={"color": LEVEL_COLORS[level], "size": 11, "symbol": "triangle-up"},
            )
        )
    fig.update_layout(legend={"orientation": "h", "y": 1.1}, showlegend=True)
    return fig


def preview_summary(pv: st.StrategyPreview, days: int) -> html.Div:
    t = i18n.t
    counts = {lv: sum(1 for _, level, _ in pv.fired if level == lv) for lv in st.LEVELS}
    by_level = "，".join(f"{t(f'alerts.level.{lv}')} {n}" for lv, n in counts.items() if n) or "—"
    summary = t(
        "pstr.preview.summary",
        days=days,
        step=st.preview_step_s(days) // 60,
        n=pv.evaluations,
        fired=len(pv.fired),
        by_level=by_level,
        hours=pv.firing_s / 3600,
        state=t(f"alerts.state.{pv.final_state}"),
    )
    if pv.baseline is not None:
        summary += " " + t("pstr.preview.baseline", value=pv.baseline)
    parts: list[Any] = [
        html.P(summary, id=f"{P}-preview-summary"),
        html.Span(str(len(pv.fired)), id=f"{P}-preview-fired", hidden=True),
    ]
    if pv.errors:
        parts.append(
            html.P(t("pstr.preview.errors", errors="; ".join(pv.errors)), className="hw-error")
        )
    rows = [
        [
            i18n.fmt_datetime(tr.at),
            f"{t(f'alerts.state.{tr.from_state}')} → {t(f'alerts.state.{tr.to_state}')}"
            + (f" · {t(f'alerts.level.{tr.level}')}" if tr.level else "")
            + (f" ({tr.value:.4g})" if tr.value is not None else ""),
        ]
        for tr in pv.transitions[-50:]
    ]
    parts.append(
        table(
            [t("pstr.preview.at"), t("pstr.preview.change")],
            rows,
            f"{P}-preview-table",
            t("pstr.preview.none"),
        )
    )
    return html.Div(parts)


def preview(user: auth.WebUser, form: dict[str, Any], days: int) -> tuple[go.Figure, Any]:
    """The figure and replay summary for the editor's current values (nothing is stored)."""
    t = i18n.t
    values, _errors = st.strategy_from_form(form)
    with auth.db_pool().connection() as conn:
        if not pump_in_scope(conn, user, values["equipment_id"]):
            return _empty_figure(t("pstr.preview.pick")), None
        # Only a point of this pump is read (a forged sensor id reads nothing).
        problems = st.check_strategy(conn, **_identity(values))
        if {"measure", "sensor_id", "tag_id"} & problems.keys():
            return _empty_figure(t("pstr.preview.pick")), None
        spec = st.parse_spec(values["spec"]["kind"], values["spec"]) if values["spec"] else None
        now = datetime.now(UTC)
        span = (now - timedelta(days=days), now)
        unit = st.UNITS.get(values["measure"], "")
        if spec is None:  # the history alone, and why there is no replay
            series = st.fetch_series(conn, values, *span)
            fix = html.P(t("pstr.preview.fix"), className="hw-muted", id=f"{P}-preview-fix")
            return preview_figure(series, None, unit, span), fix
        series, pv = st.preview_strategy(conn, values, spec, days=days, now=now)
    return preview_figure(series, pv, unit, span), preview_summary(pv, days)


def _identity(values: dict[str, Any], strategy_id: int | None = None) -> dict[str, Any]:
    keys = ("equipment_id", "name", "measure", "sensor_id", "axis", "tag_id", "priority")
    return {**{k: values[k] for k in keys}, "strategy_id": strategy_id}


# -- routing by grade --------------------------------------------------------------------------


def routing_enterprises(conn: psycopg.Connection, user: auth.WebUser) -> list[dict[str, Any]]:
    """The enterprises in scope that have pumps."""
    ents = user.scope.enterprise_ids(conn)
    rows = conn.execute(
        """SELECT DISTINCT en.id, en.name FROM registry.enterprise en
           JOIN registry.unit u ON u.enterprise_id = en.id
           JOIN registry.equipment e ON e.unit_id = u.id AND e.kind = 'pump'
           WHERE %s::integer[] IS NULL OR en.id = ANY(%s) ORDER BY en.name LIMIT 500""",
        (ents, ents),
    ).fetchall()
    return [{"label": n, "value": i} for i, n in rows]


def group_options(conn: psycopg.Connection, enterprise_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT g.id, g.name, g.code, g.enterprise_id IS NULL,
                  (SELECT count(*) FROM workflow.user_group_member m WHERE m.group_id = g.id)
           FROM workflow.user_group g WHERE g.enterprise_id = %s OR g.enterprise_id IS NULL
           ORDER BY g.enterprise_id NULLS LAST, g.name LIMIT 500""",
        (enterprise_id,),
    ).fetchall()
    return [
        {
            "label": f"{name} ({code}, {i18n.t('pstr.routing.members', n=n)})"
            + (f" · {i18n.t('ac.instance')}" if shared else ""),
            "value": gid,
        }
        for gid, name, code, shared, n in rows
    ]


def route_info(route: st.GradeRoute) -> list[Any]:
    t = i18n.t
    code = st.policy_code(route.level)
    if route.policy_id is None:
        parts: list[Any] = [t("pstr.routing.missing", code=code)]
    else:
        state = t("pstr.state.enabled" if route.enabled else "pstr.state.disabled")
        text = t("pstr.routing.policy", code=code, state=state)
        if route.later_tiers:
            text += t("pstr.routing.more", n=route.later_tiers)
        parts = [text]
    if route.shadowed_by:
        parts.append(
            html.Div(
                t("pstr.routing.shadowed", codes="、".join(route.shadowed_by)),
                className="hw-error",
            )
        )
    return parts


def routing_body(user: auth.WebUser, enterprise_id: int | None) -> Any:
    t = i18n.t
    if enterprise_id is None:
        return html.P(t("pstr.routing.none"), className="hw-muted")
    with auth.db_pool().connection() as conn:
        ents = user.scope.enterprise_ids(conn)
        if ents is not None and enterprise_id not in ents:
            return html.P(t("pstr.out_of_scope"), className="hw-error")
        routes = st.grade_routing(conn, enterprise_id)
        groups = group_options(conn, enterprise_id)
        editable = may_edit(user) and ui.can_edit(conn, user, enterprise_id)
    rows = [
        html.Div(
            className="af-level-row",
            id=f"{P}-route-{r.level}",
            children=[
                html.B(t(f"alerts.level.{r.level}"), className="af-tier-name"),
                html.Div(
                    className="af-field",
                    style={"gridColumn": "span 2"},
                    children=[
                        html.Label(t("pstr.routing.groups"), className="af-label"),
                        dcc.Dropdown(
                            id={"type": f"{P}-route", "level": r.level},
                            options=groups,
                            value=list(r.group_ids),
                            multi=True,
                            disabled=not editable,
                            className="hw-dropdown",
                        ),
                        html.Div(
                            className="af-err", id={"type": f"{P}-route-err", "level": r.level}
                        ),
                    ],
                ),
                html.Div(
                    route_info(r),
                    className="hw-muted",
                    id={"type": f"{P}-route-info", "level": r.level},
                ),
            ],
        )
        for r in routes
    ]
    actions: list[Any] = [dcc.Link(t("pstr.routing.policies"), href="/alerts/policies")]
    if editable:
        actions = [
            dcc.Input(
                id=f"{P}-r-reason",
                type="text",
                className="hw-input af-reason",
                placeholder=t("ac.reason"),
            ),
            html.Button(t("pstr.routing.save"), id=f"{P}-r-save", className="hw-btn"),
            *actions,
        ]
    return html.Div([*rows, html.Div(actions, className="af-actions")])


def routing_card(user: auth.WebUser, conn: psycopg.Connection) -> html.Div:
    t = i18n.t
    ents = routing_enterprises(conn, user)
    values = [o["value"] for o in ents]
    first = user.enterprise_id if user.enterprise_id in values else (values[0] if values else None)
    return html.Div(
        className="hw-card",
        id=f"{P}-routing",
        children=[
            html.H2(t("pstr.routing")),
            html.P(t("pstr.routing.intro"), className="hw-muted"),
            html.Div(
                className="hw-filters",
                children=[
                    html.Label(t("pstr.routing.enterprise"), htmlFor=f"{P}-r-ent"),
                    dcc.Dropdown(
                        id=f"{P}-r-ent",
                        options=ents,
                        value=first,
                        clearable=False,
                        className="hw-dropdown",
                    ),
                ],
            ),
            html.Div(id=f"{P}-r-msg"),
            html.Div(routing_body(user, first), id=f"{P}-r-body"),
        ],
    )


# -- the page ----------------------------------------------------------------------------------


def layout(pump: str | None = None, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    t = i18n.t
    editing = may_edit(user)
    with auth.db_pool().connection() as conn:
        pumps = pump_options(conn, user.scope.enterprise_ids(conn))
        routing = routing_card(user, conn)
    chosen = st.as_id(pump)
    chosen = chosen if any(p["value"] == chosen for p in pumps) else None
    listing, label, _ = list_view(user, None, chosen, None, None, 0)
    filters = html.Div(
        className="hw-filters",
        children=[
            dcc.Input(
                id=f"{P}-search",
                type="search",
                debounce=True,
                placeholder=t("pstr.search"),
                className="hw-input",
            ),
            dcc.Dropdown(
                id=f"{P}-pump",
                options=pumps,
                value=chosen,
                placeholder=t("pstr.all_pumps"),
                className="hw-dropdown",
            ),
            dcc.Dropdown(
                id=f"{P}-kind",
                options=_opt("pstr.kind", st.KINDS),
                placeholder=t("pstr.all_kinds"),
                className="hw-dropdown",
            ),
            dcc.Dropdown(
                id=f"{P}-enabled",
                options=[
                    {"label": t("pstr.only_on"), "value": "on"},
                    {"label": t("pstr.only_off"), "value": "off"},
                ],
                placeholder=t("pstr.any_state"),
                className="hw-dropdown",
            ),
            html.Button(t("pstr.new"), id=f"{P}-new", className="hw-btn") if editing else None,
        ],
    )
    return html.Div(
        [
            html.H1(t("pstr.title"), id="page-title"),
            sub_nav(PATH),
            html.P(t("pstr.intro"), className="hw-muted"),
            None if editing else html.P(t("pstr.read_only"), className="hw-muted", id=f"{P}-ro"),
            filters,
            html.Div(id=f"{P}-msg"),
            editor_panel(pumps) if editing else html.Div(),
            html.Div(listing, id=f"{P}-list"),
            html.Div(
                className="hw-pager",
                children=[
                    html.Button(t("pstr.prev"), id=f"{P}-prev", className="hw-btn", n_clicks=0),
                    html.Span(label, id=f"{P}-page-label", className="hw-muted"),
                    html.Button(t("pstr.next"), id=f"{P}-next", className="hw-btn", n_clicks=0),
                ],
            ),
            dcc.Store(id=f"{P}-page", data=0),
            dcc.Store(id=f"{P}-id"),
            dcc.Store(id=f"{P}-refresh"),
            routing,
        ]
    )


class _Invalid(Exception):
    """Field errors: shown at the fields, nothing stored."""


def register(app: dash.Dash) -> None:
    register_page(
        __name__, PATH, "pump_strategies", 25, layout,
        title="pstr.title", roles=ROLES, after="/pumps/reports",
    )  # fmt: skip
    fields_all = {"type": f"{P}-f", "f": ALL}
    errs_all = {"type": f"{P}-err", "f": ALL}

    @app.callback(
        Output(f"{P}-list", "children"),
        Output(f"{P}-page-label", "children"),
        Output(f"{P}-page", "data"),
        Input(f"{P}-refresh", "data"),
        Input(f"{P}-search", "value"),
        Input(f"{P}-pump", "value"),
        Input(f"{P}-kind", "value"),
        Input(f"{P}-enabled", "value"),
        Input(f"{P}-prev", "n_clicks"),
        Input(f"{P}-next", "n_clicks"),
        State(f"{P}-page", "data"),
        prevent_initial_call=True,
    )
    def refresh_list(
        _stamp: Any, search: str | None, pump: Any, kind: Any, enabled: Any,
        _prev: Any, _next: Any, page: int | None,
    ) -> tuple[Any, str, int]:  # fmt: skip
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            raise dash.exceptions.PreventUpdate
        page = page or 0
        trig = ctx.triggered_id
        if trig == f"{P}-next":
            page += 1
        elif trig == f"{P}-prev":
            page = max(0, page - 1)
        elif trig != f"{P}-refresh":
            page = 0  # a new filter starts at the first page
        return list_view(user, search, pump, kind, enabled, page)

    @app.callback(
        Output(fields_all, "value"),
        Output(f"{P}-id", "data"),
        Output(f"{P}-editor", "style"),
        Output(f"{P}-heading", "children"),
        Output(errs_all, "children"),
        Output(f"{P}-msg", "children", allow_duplicate=True),
        Output(ui.fid(P, "sensor_id"), "options"),
        Output(ui.fid(P, "tag_id"), "options"),
        Input(f"{P}-new", "n_clicks"),
        Input({"type": f"{P}-edit", "sid": ALL}, "n_clicks"),
        Input(f"{P}-cancel", "n_clicks"),
        State(f"{P}-pump", "value"),
        State(ui.fid(P, "equipment_id"), "options"),
        prevent_initial_call=True,
    )
    def open_editor(
        _new: Any, _edits: Any, _cancel: Any, pump: Any, pumps: list[dict[str, Any]]
    ) -> tuple[Any, ...]:
        user = auth.current_user()
        if not may_edit(user) or not fired():
            raise dash.exceptions.PreventUpdate
        assert user is not None
        field_ids = [o["id"]["f"] for o in ctx.outputs_list[0]]
        errs = [None] * len(ctx.outputs_list[4])
        keep = dash.no_update
        trig = ctx.triggered_id
        if trig == f"{P}-cancel":
            return ([keep] * len(field_ids), None, ui.HIDDEN, "", errs, None, keep, keep)
        sid = int(trig["sid"]) if isinstance(trig, dict) else None
        with auth.db_pool().connection() as conn:
            row = st.get_strategy(conn, sid) if sid is not None else None
            ents = user.scope.enterprise_ids(conn)
            if sid is not None and (
                row is None or (ents is not None and row["enterprise_id"] not in ents)
            ):
                msg = message(t_refused(i18n.t("pstr.out_of_scope")), False, f"{P}-error")
                return ([keep] * len(field_ids), keep, keep, keep, errs, msg, keep, keep)
            form = st.strategy_to_form(row)
            if row is None:  # a new strategy starts on the pump the list is filtered to
                form["equipment_id"] = st.as_id(pump)
            sensors, tags = point_options(conn, form["equipment_id"])
        if row is None and form["sensor_id"] is None and sensors:
            form["sensor_id"] = sensors[0]["value"]
        heading = (
            i18n.t("pstr.editing", what=describe(form, pumps or []))
            if row
            else i18n.t("pstr.creating")
        )
        return (
            [form.get(f) for f in field_ids],
            sid,
            ui.SHOWN,
            heading,
            errs,
            None,
            sensors,
            tags,
        )

    @app.callback(
        Output(ui.fid(P, "sensor_id"), "options", allow_duplicate=True),
        Output(ui.fid(P, "tag_id"), "options", allow_duplicate=True),
        Input(ui.fid(P, "equipment_id"), "value"),
        prevent_initial_call=True,
    )
    def pump_points(pump: Any) -> tuple[list, list]:
        user = auth.current_user()
        if not may_edit(user):
            raise dash.exceptions.PreventUpdate
        assert user is not None
        with auth.db_pool().connection() as conn:
            if not pump_in_scope(conn, user, st.as_id(pump)):
                return [], []
            return point_options(conn, st.as_id(pump))

    @app.callback(
        Output({"type": f"{P}-wrap", "f": ALL}, "style"),
        Input(ui.fid(P, "kind"), "value"),
        Input(ui.fid(P, "measure"), "value"),
    )
    def kind_fields(kind: str | None, measure: str | None) -> list[dict[str, str]]:
        used = set(st.SPEC_FIELDS.get(kind or "threshold", ()))
        styles = []
        for out in ctx.outputs_list:
            name = out["id"]["f"]
            hide = (
                (name in SPEC_ONLY and name not in used)
                or (name in ("sensor_id", "axis") and measure == "tag")
                or (name == "tag_id" and measure != "tag")
            )
            styles.append(ui.HIDDEN if hide else ui.SHOWN)
        return styles

    @app.callback(
        Output(errs_all, "children", allow_duplicate=True),
        Output(f"{P}-msg", "children", allow_duplicate=True),
        Output(f"{P}-refresh", "data"),
        Output(f"{P}-id", "data", allow_duplicate=True),
        Output(f"{P}-editor", "style", allow_duplicate=True),
        Input(f"{P}-save", "n_clicks"),
        Input(f"{P}-toggle", "n_clicks"),
        Input(f"{P}-delete", "n_clicks"),
        State(fields_all, "value"),
        State(f"{P}-id", "data"),
        State(f"{P}-reason", "value"),
        prevent_initial_call=True,
    )
    def write(
        _save: Any, _toggle: Any, _delete: Any, values: list[Any], sid: Any, reason: str | None
    ) -> tuple[Any, ...]:
        user = auth.current_user()
        if user is None or not fired():
            raise dash.exceptions.PreventUpdate
        field_ids = [s["id"]["f"] for s in ctx.states_list[0]]
        err_ids = [o["id"]["f"] for o in ctx.outputs_list[0]]
        form = dict(zip(field_ids, values or [], strict=False))
        why = (reason or "").strip() or None
        rid = int(sid) if sid is not None else None
        action = str(ctx.triggered_id).removeprefix(f"{P}-")
        keep = dash.no_update
        clean = [None] * len(err_ids)
        errors: Errors = {}
        row: dict[str, Any] | None = None
        try:
            if not may_edit(user):
                raise HazwatchError(i18n.t("pstr.read_only"))
            actor = actor_of(user)
            with auth.db_pool().connection() as conn:
                ents = user.scope.enterprise_ids(conn)
                if rid is not None:
                    row = st.get_strategy(conn, rid)
                    if row is None or (ents is not None and row["enterprise_id"] not in ents):
                        raise HazwatchError(i18n.t("pstr.out_of_scope"))
                elif action != "save":
                    raise HazwatchError(i18n.t("ac.not_saved_yet"))
                if action == "delete":
                    st.delete_strategy(conn, actor, rid, why)  # type: ignore[arg-type]
                    done = i18n.t("pstr.deleted", id=rid)
                    return (clean, message(done, True, f"{P}-done"), time.time(), None, ui.HIDDEN)
                if action == "toggle":
                    assert row is not None
                    on = not row["enabled"]
                    st.set_enabled(conn, actor, rid, on, why)  # type: ignore[arg-type]
                    state = i18n.t("pstr.state_on" if on else "pstr.state_off")
                    done = i18n.t("pstr.toggled", state=state, id=rid)
                    return (clean, message(done, True, f"{P}-done"), time.time(), keep, keep)
                parsed, errors = st.strategy_from_form(form)
                if not pump_in_scope(conn, user, parsed["equipment_id"]) and (
                    parsed["equipment_id"] is not None
                ):
                    errors["equipment_id"] = FieldError(
                        "invalid", {"msg": i18n.t("pstr.out_of_scope")}
                    )
                problems = st.check_strategy(conn, **_identity(parsed, rid))
                for f, err in field_errors(problems).items():
                    errors.setdefault(f, err)
                if errors or parsed["spec"] is None:
                    raise _Invalid
                rid = st.save_strategy(
                    conn,
                    actor,
                    **_identity(parsed, rid),
                    spec=parsed["spec"],
                    enabled=parsed["enabled"],
                    reason=why,
                )
            done = i18n.t("pstr.saved", id=rid)
            return (clean, message(done, True, f"{P}-done"), time.time(), rid, keep)
        except st.StrategyError as exc:  # a race (a name taken meanwhile): at its field
            errors = {exc.field: FieldError(exc.code, exc.params)}
            return _shown(errors, err_ids, keep)
        except _Invalid:
            return _shown(errors, err_ids, keep)
        except HazwatchError as exc:
            text = t_refused(str(exc))
            return (clean, message(text, False, f"{P}-error"), keep, keep, keep)

    @app.callback(
        Output(f"{P}-preview-graph", "figure"),
        Output(f"{P}-preview", "children"),
        Input(fields_all, "value"),
        Input(f"{P}-days", "value"),
        prevent_initial_call=True,
    )
    def live_preview(values: list[Any], days: Any) -> tuple[Any, Any]:
        user = auth.current_user()
        if not may_edit(user):
            raise dash.exceptions.PreventUpdate
        assert user is not None
        ids = [i["id"]["f"] for i in ctx.inputs_list[0]]
        form = dict(zip(ids, values, strict=True))
        n = int(days) if days in PREVIEW_DAYS else 3
        return preview(user, form, n)

    @app.callback(
        Output(f"{P}-r-body", "children"),
        Output(f"{P}-r-msg", "children", allow_duplicate=True),
        Input(f"{P}-r-ent", "value"),
        prevent_initial_call=True,
    )
    def routing_for(enterprise: Any) -> tuple[Any, Any]:
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            raise dash.exceptions.PreventUpdate
        return routing_body(user, st.as_id(enterprise)), None

    @app.callback(
        Output({"type": f"{P}-route-err", "level": ALL}, "children"),
        Output({"type": f"{P}-route-info", "level": ALL}, "children"),
        Output(f"{P}-r-msg", "children", allow_duplicate=True),
        Input(f"{P}-r-save", "n_clicks"),
        State({"type": f"{P}-route", "level": ALL}, "value"),
        State(f"{P}-r-ent", "value"),
        State(f"{P}-r-reason", "value"),
        prevent_initial_call=True,
    )
    def save_routing(
        _n: Any, chosen: list[Any], enterprise: Any, reason: str | None
    ) -> tuple[Any, ...]:
        user = auth.current_user()
        if user is None or not fired():
            raise dash.exceptions.PreventUpdate
        levels = [s["id"]["level"] for s in ctx.states_list[0]]
        err_levels = [o["id"]["level"] for o in ctx.outputs_list[0]]
        info_levels = [o["id"]["level"] for o in ctx.outputs_list[1]]
        keep = [dash.no_update] * len(info_levels)
        ent = st.as_id(enterprise)
        routes = {lv: [int(g) for g in (v or [])] for lv, v in zip(levels, chosen, strict=True)}
        try:
            with auth.db_pool().connection() as conn:
                if ent is None or not may_edit(user) or not ui.can_edit(conn, user, ent):
                    raise HazwatchError(i18n.t("ac.out_of_scope"))
                st.set_grade_groups(
                    conn, actor_of(user), ent, routes, (reason or "").strip() or None
                )
                now = {r.level: route_info(r) for r in st.grade_routing(conn, ent)}
        except st.StrategyError as exc:
            errs = [
                error_text(FieldError(exc.code, exc.params))
                if exc.field == f"routes.{lv}"
                else None
                for lv in err_levels
            ]
            if all(e is None for e in errs):
                return (
                    [None] * len(err_levels),
                    keep,
                    message(t_refused(str(exc)), False, f"{P}-r-error"),
                )
            return errs, keep, message(i18n.t("ac.fix"), False, f"{P}-r-error")
        except HazwatchError as exc:
            return (
                [None] * len(err_levels),
                keep,
                message(t_refused(str(exc)), False, f"{P}-r-error"),
            )
        return (
            [None] * len(err_levels),
            [now[lv] for lv in info_levels],
            message(i18n.t("pstr.routing.saved"), True, f"{P}-r-done"),
        )


def _shown(errors: Errors, err_ids: list[str], keep: Any) -> tuple[Any, ...]:
    """The write callback's answer for field errors: each at its field (``_form`` for the
    rest), nothing stored."""
    shown = [error_text(errors[f]) if f in errors else None for f in err_ids]
    rest = [e for f, e in errors.items() if f not in err_ids]
    if rest and "_form" in err_ids:
        shown[err_ids.index("_form")] = " ".join(error_text(e) for e in rest)
    return (shown, message(i18n.t("ac.fix"), False, f"{P}-error"), keep, keep, keep)


def t_refused(error: str) -> str:
    return i18n.t("ac.refused", error=error)
