"""What the alerting configuration pages share: who may see and edit what, the rows one sees,
form fields with their error line, the sub-navigation and the texts. The list + editor +
callbacks of a table are ``dashboards.alert_editor.ConfigEditor``.

    ui.field("cal", "code", i18n.t("ac.code"), ui.text_input("cal", "code"))
    rows = ui.visible_rows(conn, user, "calendar", "x.code")

Permissions (docs/alerting.md, "Configuration pages"): admins and engineers change rows of the
enterprises in their scope; instance-wide rows (no enterprise; channels) only users whose scope
is every enterprise. Operators and regulators read. Every write callback checks this again on
the server, so a forged request from a read-only user changes nothing. Changes go through
``workflows.alert_config`` (audited, with the reason typed in the editor).
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from dash import dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from workflows import alert_config
from workflows.alert_forms import FieldError

EDIT_ROLES = frozenset({"admin", "engineer"})
VIEW_ROLES = frozenset({"admin", "engineer", "operator", "regulator"})
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}

i18n.register(
    {
        "nav.alert_config": {"zh": "告警配置", "en": "Alert settings"},
        "ac.sub.rules": {"zh": "告警规则", "en": "Rules"},
        "ac.sub.policies": {"zh": "升级策略", "en": "Escalation"},
        "ac.sub.calendars": {"zh": "工作日历与屏蔽时段", "en": "Calendars & mute times"},
        "ac.sub.channels": {"zh": "通知通道", "en": "Channels"},
        "ac.sub.prefs": {"zh": "我的通知设置", "en": "My notifications"},
        "ac.new": {"zh": "新建", "en": "New"},
        "ac.edit": {"zh": "编辑", "en": "Edit"},
        "ac.save": {"zh": "保存", "en": "Save"},
        "ac.delete": {"zh": "删除", "en": "Delete"},
        "ac.toggle": {"zh": "启用/停用", "en": "Enable / disable"},
        "ac.cancel": {"zh": "关闭编辑", "en": "Close editor"},
        "ac.reason": {
            "zh": "变更原因（记入审计日志，如 MOC 编号）",
            "en": "Reason (audit log, e.g. MOC no.)",
        },
        "ac.search": {"zh": "搜索编码、名称、测点", "en": "Search code, name, tag"},
        "ac.saved": {"zh": "已保存（编号 {id}）。", "en": "Saved (id {id})."},
        "ac.deleted": {"zh": "已删除（编号 {id}）。", "en": "Deleted (id {id})."},
        "ac.toggled": {"zh": "已{state}（编号 {id}）。", "en": "{state} (id {id})."},
        "ac.enabled_state": {"zh": "启用", "en": "Enabled"},
        "ac.disabled_state": {"zh": "停用", "en": "Disabled"},
        "ac.fix": {"zh": "请更正标出的字段。", "en": "Please correct the marked fields."},
        "ac.refused": {"zh": "未执行：{error}", "en": "Refused: {error}"},
        "ac.read_only": {
            "zh": "您的角色只能查看告警配置，不能修改。",
            "en": "Your role may view the alert settings but not change them.",
        },
        "ac.out_of_scope": {
            "zh": "该配置不在您可修改的范围内（企业范围或实例级配置）。",
            "en": "This item is outside what you may change (enterprise scope or instance-wide).",
        },
        "ac.not_saved_yet": {"zh": "请先保存。", "en": "Save it first."},
        "ac.editing": {"zh": "编辑：{what}", "en": "Editing: {what}"},
        "ac.creating": {"zh": "新建", "en": "New"},
        "ac.enterprise": {"zh": "企业", "en": "Enterprise"},
        "ac.instance": {"zh": "全部企业（实例级）", "en": "All enterprises (instance-wide)"},
        "ac.code": {"zh": "编码", "en": "Code"},
        "ac.name": {"zh": "名称", "en": "Name"},
        "ac.enabled": {"zh": "启用", "en": "Enabled"},
        "ac.yes": {"zh": "是", "en": "yes"},
        "ac.no": {"zh": "否", "en": "no"},
        "ac.timezone": {"zh": "时区", "en": "Time zone"},
        "ac.matchers": {
            "zh": "标签匹配（如 unit=LA-1, parameter=~GD-.*）",
            "en": "Label matchers (e.g. unit=LA-1, parameter=~GD-.*)",
        },
        "ac.col.actions": {"zh": "操作", "en": "Actions"},
        "af.err.required": {"zh": "必填。", "en": "Required."},
        "af.err.number": {"zh": "请输入数字。", "en": "Enter a number."},
        "af.err.integer": {"zh": "请输入整数。", "en": "Enter a whole number."},
        "af.err.min": {"zh": "不能小于 {min}。", "en": "At least {min}."},
        "af.err.code": {
            "zh": "只能使用小写字母、数字和 . _ -，最长 64 个字符。",
            "en": "Lower-case letters, digits and . _ - only, at most 64 characters.",
        },
        "af.err.choice": {"zh": "请从列表中选择。", "en": "Pick one from the list."},
        "af.err.clear_side.below": {
            "zh": "解除值须在安全一侧：不高于触发值 {value:g}。",
            "en": "The clear threshold must be on the safe side: at or below {value:g}.",
        },
        "af.err.clear_side.above": {
            "zh": "解除值须在安全一侧：不低于触发值 {value:g}。",
            "en": "The clear threshold must be on the safe side: at or above {value:g}.",
        },
        "af.err.beyond": {
            "zh": "须比{other}级别的 {value:g} 更严重。",
            "en": "Must be beyond the {other} level's {value:g}.",
        },
        "af.err.levels_none": {"zh": "至少启用一个级别。", "en": "Enable at least one level."},
        "af.err.labels": {
            "zh": "“{part}” 不是 键=值 的形式。",
            "en": "“{part}” is not key=value.",
        },
        "af.err.matchers": {
            "zh": "“{part}” 不是 标签=值、!=、=~ 或 !~ 的形式，或正则表达式有误。",
            "en": "“{part}” is not label=value, !=, =~ or !~, or its regular expression is bad.",
        },
        "af.err.ranges": {
            "zh": "“{part}” 不是 时:分-时:分（如 08:00-17:30）。",
            "en": "“{part}” is not HH:MM-HH:MM (e.g. 08:00-17:30).",
        },
        "af.err.dates": {
            "zh": "“{part}” 不是日期 年-月-日（如 2026-10-01）。",
            "en": "“{part}” is not a date YYYY-MM-DD.",
        },
        "af.err.ints": {
            "zh": "“{part}” 须为 {low} 到 {high} 的整数。",
            "en": "“{part}” must be a whole number from {low} to {high}.",
        },
        "af.err.tier_order": {
            "zh": "须晚于上一层的 {prev:g} 分钟。",
            "en": "Must be later than the previous tier's {prev:g} min.",
        },
        "af.err.tier_empty": {
            "zh": "这一层没有通知对象（用户组、人员或通道）。",
            "en": "This tier notifies nobody (groups, users or channels).",
        },
        "af.err.tiers_none": {
            "zh": "至少需要一层通知对象。",
            "en": "At least one tier with someone to notify.",
        },
        "af.err.interval_none": {
            "zh": "至少填写一个时间条件（星期、时段、日期或月份）。",
            "en": "Fill in at least one condition (weekdays, times, days or months).",
        },
        "af.err.invalid": {"zh": "{msg}", "en": "{msg}"},
        "af.err.duplicate": {"zh": "该编码已被使用。", "en": "This code is taken."},
    }
)


# -- permissions ------------------------------------------------------------------------------


def can_view(user: auth.WebUser | None) -> bool:
    return user is not None and user.role in VIEW_ROLES


def may_edit_any(user: auth.WebUser | None) -> bool:
    return user is not None and user.role in EDIT_ROLES


def can_edit(conn: psycopg.Connection, user: auth.WebUser, enterprise_id: int | None) -> bool:
    """Whether ``user`` may change a row of ``enterprise_id`` (None: instance-wide)."""
    if user.role not in EDIT_ROLES:
        return False
    visible = user.scope.enterprise_ids(conn)
    if visible is None:
        return True
    return enterprise_id is not None and enterprise_id in visible


def visible_ids(conn: psycopg.Connection, user: auth.WebUser) -> list[int] | None:
    """Enterprises whose rows the user sees (None: all); instance-wide rows are seen by all."""
    return user.scope.enterprise_ids(conn)


def visible_rows(
    conn: psycopg.Connection, user: auth.WebUser, table: str, order: LiteralString
) -> list[dict[str, Any]]:
    """The rows of configuration ``table`` that ``user`` sees (their enterprises' and the
    instance-wide ones), each with its enterprise's name as ``enterprise``; ``order`` is an
    ORDER BY of this module's callers over ``x`` (the row), never input.

    >>> visible_rows(conn, user, "calendar", "x.enterprise_id NULLS FIRST, x.code")
    """
    query = sql.SQL(
        """SELECT x.*, e.name AS enterprise FROM {} x
           LEFT JOIN registry.enterprise e ON e.id = x.enterprise_id
           WHERE %(ids)s::integer[] IS NULL OR x.enterprise_id IS NULL
              OR x.enterprise_id = ANY(%(ids)s::integer[])
           ORDER BY {}"""
    ).format(alert_config.TABLES[table].qualified, sql.SQL(order))
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(query, {"ids": visible_ids(conn, user)}).fetchall()


def enterprise_options(conn: psycopg.Connection, user: auth.WebUser) -> list[dict[str, Any]]:
    """Where the user may put a row: the editable enterprises, and instance-wide for those
    whose scope is every enterprise."""
    ids = visible_ids(conn, user)
    rows = conn.execute(
        """SELECT id, name FROM registry.enterprise
           WHERE (%s::integer[] IS NULL AND NOT is_reference) OR id = ANY(%s::integer[])
           ORDER BY name LIMIT 500""",
        (ids, ids),
    ).fetchall()
    opts = [{"label": name, "value": eid} for eid, name in rows]
    if ids is None:
        opts.insert(0, {"label": i18n.t("ac.instance"), "value": "all"})
    return opts


def enterprise_names(conn: psycopg.Connection, ids: set[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT id, name FROM registry.enterprise WHERE id = ANY(%s)", (sorted(ids),)
    ).fetchall()
    return {eid: name for eid, name in rows}


# -- form pieces ------------------------------------------------------------------------------


def fid(prefix: str, name: str) -> dict[str, str]:
    return {"type": f"{prefix}-f", "f": name}


def field(
    prefix: str, name: str, label: str, component: Any, hint: str | None = None, wide: bool = False
) -> html.Div:
    """A labelled input with its error line underneath (filled by the save callback)."""
    return html.Div(
        className="af-field" + (" af-wide" if wide else ""),
        id={"type": f"{prefix}-wrap", "f": name},
        children=[
            html.Label(label, className="af-label"),
            component,
            html.Div(hint, className="hw-muted af-hint") if hint else None,
            html.Div(className="af-err", id={"type": f"{prefix}-err", "f": name}),
        ],
    )


def text_input(prefix: str, name: str, **kw: Any) -> dcc.Input:
    return dcc.Input(
        id=fid(prefix, name), type=kw.pop("type", "text"), className="hw-input", debounce=True, **kw
    )


def dropdown(prefix: str, name: str, options: list[Any], **kw: Any) -> dcc.Dropdown:
    return dcc.Dropdown(id=fid(prefix, name), options=options, className="hw-dropdown", **kw)


def checkbox(prefix: str, name: str, label: str) -> dcc.Checklist:
    return dcc.Checklist(
        id=fid(prefix, name),
        options=[{"label": label, "value": "on"}],
        value=[],
        className="af-check",
    )


def identity_fields(prefix: str, conn: psycopg.Connection, user: auth.WebUser) -> list[Any]:
    """Code, name and enterprise: the first fields of every per-enterprise editor."""
    t = i18n.t
    ents = enterprise_options(conn, user)
    return [
        field(prefix, "code", t("ac.code"), text_input(prefix, "code")),
        field(prefix, "name", t("ac.name"), text_input(prefix, "name")),
        field(prefix, "enterprise_id", t("ac.enterprise"),
              dropdown(prefix, "enterprise_id", ents, clearable=False)),
    ]  # fmt: skip


def error_text(err: FieldError) -> str:
    params = dict(err.params)
    key = f"af.err.{err.code}"
    if err.code == "clear_side":
        key += "." + params.pop("side")
    if "other" in params:
        params["other"] = i18n.t(f"alerts.level.{params['other']}")
    return i18n.t(key, **params)


def subnav(active: str) -> html.Nav:
    items = [
        ("rules", "/alerts/rules"),
        ("policies", "/alerts/policies"),
        ("calendars", "/alerts/calendars"),
        ("channels", "/alerts/channels"),
        ("prefs", "/alerts/preferences"),
    ]
    return html.Nav(
        className="af-subnav",
        id="af-subnav",
        children=[
            dcc.Link(
                i18n.t(f"ac.sub.{key}"),
                href=href,
                id=f"af-sub-{key}",
                className="af-sub" + (" af-sub-active" if key == active else ""),
            )
            for key, href in items
        ],
    )


def config_page(
    title_key: str, active: str, editing: bool, parts: list[Any], intro: Any = None
) -> html.Div:
    """A configuration page: its title, the sub-navigation, ``intro``, why there is no editor
    (read-only users), then ``parts``."""
    return html.Div(
        [
            html.H1(i18n.t(title_key), id="page-title"),
            subnav(active),
            intro,
            read_only_note(editing),
            *parts,
        ]
    )


def read_only_note(editing: bool) -> html.P | None:
    """The line telling a read-only user why there is no editor."""
    return None if editing else html.P(i18n.t("ac.read_only"), className="hw-muted",
                                       id="af-read-only")  # fmt: skip


def yes_no(flag: bool) -> str:
    return i18n.t("ac.yes" if flag else "ac.no")


def group_options(conn: psycopg.Connection, ids: list[int] | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT g.id, g.name, e.name FROM workflow.user_group g
           LEFT JOIN registry.enterprise e ON e.id = g.enterprise_id
           WHERE %s::integer[] IS NULL OR g.enterprise_id IS NULL
              OR g.enterprise_id = ANY(%s::integer[])
           ORDER BY e.name NULLS FIRST, g.name LIMIT 500""",
        (ids, ids),
    ).fetchall()
    return [{"label": f"{n}" + (f" · {e}" if e else ""), "value": gid} for gid, n, e in rows]


def user_options(conn: psycopg.Connection, ids: list[int] | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT id, coalesce(display_name, name) FROM auth.app_user
           WHERE active AND (%s::integer[] IS NULL OR enterprise_id IS NULL
                             OR enterprise_id = ANY(%s::integer[]))
           ORDER BY 2 LIMIT 500""",
        (ids, ids),
    ).fetchall()
    return [{"label": name, "value": uid} for uid, name in rows]
