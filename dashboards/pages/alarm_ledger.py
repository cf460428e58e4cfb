"""The alarm ledger (A1) with change requests through approval (A16) and exclusion requests
with the active exclusions (A18): ``/alarms/ledger``.

Requests go to the approval engine; the approvers act in its inbox. Nothing here changes the
ledger or the statistics directly.
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import Input, Output, State, dcc, html
from psycopg import sql

from analytics.alarms import exclusions, ledger
from dashboards import auth, i18n
from dashboards.auth import WebUser
from dashboards.callback_args import signed_in
from dashboards.components.basic import table
from dashboards.layout import register_page
from hazwatch.errors import HazwatchError

REQUESTERS = frozenset({"admin", "engineer", "operator"})
MAX_POINTS = 1000
FIELDS = ("limit_value", "priority", "category", "deadband", "on_delay_s", "off_delay_s",
          "enabled", "is_interlock", "response")  # fmt: skip

i18n.register(
    {
        "nav.alarm_ledger": {"zh": "报警台账", "en": "Alarm ledger"},
        "al.title": {"zh": "报警设置台账", "en": "Alarm settings ledger"},
        "al.count": {"zh": "共 {n} 个报警点", "en": "{n} alarm points"},
        "al.tag": {"zh": "位号", "en": "Tag"},
        "al.condition": {"zh": "报警类型", "en": "Condition"},
        "al.limit": {"zh": "报警限", "en": "Limit"},
        "al.priority": {"zh": "优先级", "en": "Priority"},
        "al.category": {"zh": "类别", "en": "Type"},
        "al.deadband": {"zh": "死区", "en": "Deadband"},
        "al.delays": {"zh": "开/关延时(秒)", "en": "On/off delay (s)"},
        "al.enabled": {"zh": "启用", "en": "Enabled"},
        "al.interlock": {"zh": "联锁", "en": "Interlock"},
        "al.empty": {"zh": "台账为空。", "en": "The ledger is empty."},
        "al.request": {"zh": "申请台账变更", "en": "Request a ledger change"},
        "al.point": {"zh": "报警点", "en": "Alarm point"},
        "al.field": {"zh": "变更项", "en": "Setting"},
        "al.value": {"zh": "新值", "en": "New value"},
        "al.reason": {"zh": "变更原因", "en": "Reason"},
        "al.submit": {"zh": "提交审批", "en": "Submit for approval"},
        "al.submitted": {
            "zh": "已提交审批单 #{id}，审批通过后生效。",
            "en": "Request #{id} submitted; it applies once approved.",
        },
        "al.exclusions": {"zh": "报警剔除", "en": "Alarm exclusions"},
        "al.ex.tag": {"zh": "按位号剔除", "en": "Exclude by tag"},
        "al.ex.records": {
            "zh": "按记录剔除（记录编号，逗号分隔）",
            "en": "Exclude records (ids, comma separated)",
        },
        "al.ex.submit": {"zh": "提交剔除审批", "en": "Submit exclusion"},
        "al.ex.active": {"zh": "生效中的剔除", "en": "Active exclusions"},
        "al.ex.scope": {"zh": "方式", "en": "By"},
        "al.ex.by": {"zh": "申请 / 批准", "en": "Requested / approved"},
        "al.ex.none": {"zh": "没有生效中的剔除。", "en": "No active exclusions."},
        "al.readonly": {"zh": "只读：您的角色不能提交申请。", "en": "Read only for your role."},
        "al.bad_ids": {
            "zh": "记录编号应为数字：{text}",
            "en": "Record ids must be numbers: {text}",
        },
    }
)


def ledger_rows(conn: psycopg.Connection, user: WebUser) -> list[tuple[Any, ...]]:
    cond, params = user.scope.condition("t.enterprise_id")
    query = sql.SQL(
        "SELECT p.id, t.name, p.condition, p.limit_value, p.priority, p.category, p.deadband,"
        " p.on_delay_s, p.off_delay_s, p.enabled, p.is_interlock, t.id"
        " FROM registry.alarm_point p JOIN registry.tag t ON t.id = p.tag_id WHERE {}"
        " ORDER BY t.name, p.condition LIMIT %s"
    ).format(cond)
    return conn.execute(query, (*params, MAX_POINTS)).fetchall()


def parse_value(field: str, text: str | None) -> Any:
    """The form's text as the setting's type (booleans as true/false, 是/否)."""
    raw = (text or "").strip()
    if field in ledger.FLAGS:
        if raw.lower() in ("true", "1", "yes", "是", "启用"):
            return True
        if raw.lower() in ("false", "0", "no", "否", "停用"):
            return False
        raise ledger.LedgerError(f"{field}: true or false, not {raw!r}")
    return raw


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        rows = ledger_rows(conn, user)
        active = exclusions.active_exclusions(conn, user.scope.enterprise_ids(conn))
    fmt = i18n.fmt_number
    body = [
        (pid, name, cond, "-" if lim is None else f"{lim:g}", prio, cat, f"{db:g}",
         f"{on:g} / {off:g}", "✓" if en else "✗", "✓" if il else "")
        for pid, name, cond, lim, prio, cat, db, on, off, en, il, _tag in rows
    ]  # fmt: skip
    # Text inputs with suggestion lists: a ledger has thousands of points to type into.
    points = html.Datalist([html.Option(value=f"{r[1]}.{r[2]}") for r in rows], id="al-points")
    fields = html.Datalist([html.Option(value=f) for f in FIELDS], id="al-fields")
    tags = html.Datalist([html.Option(value=n) for n in sorted({r[1] for r in rows})],
                         id="al-tags")  # fmt: skip
    can = user.role in REQUESTERS
    change = html.Div(
        className="hw-card",
        children=[
            html.H2(t("al.request")),
            points,
            fields,
            dcc.Input(id="al-point", placeholder=t("al.point"), className="hw-input",
                      list="al-points"),
            dcc.Input(id="al-field", placeholder=t("al.field"), className="hw-input",
                      list="al-fields"),
            dcc.Input(id="al-value", placeholder=t("al.value"), className="hw-input"),
            dcc.Input(id="al-reason", placeholder=t("al.reason"), className="hw-input"),
            html.Button(t("al.submit"), id="al-submit", className="hw-btn", n_clicks=0,
                        disabled=not can),
            html.Div("" if can else t("al.readonly"), id="al-message", className="hw-muted"),
        ],
    )  # fmt: skip
    exclude = html.Div(
        className="hw-card",
        children=[
            html.H2(t("al.exclusions")),
            tags,
            dcc.Input(id="al-ex-tag", placeholder=t("al.ex.tag"), className="hw-input",
                      list="al-tags"),
            dcc.Input(id="al-ex-records", placeholder=t("al.ex.records"), className="hw-input"),
            dcc.Input(id="al-ex-reason", placeholder=t("al.reason"), className="hw-input"),
            html.Button(t("al.ex.submit"), id="al-ex-submit", className="hw-btn", n_clicks=0,
                        disabled=not can),
            html.Div(id="al-ex-message", className="hw-muted"),
            html.H3(t("al.ex.active")),
            table(
                [t("al.ex.scope"), t("al.tag"), t("al.condition"), t("al.reason"),
                 t("al.ex.by")],
                [(x["scope"] if x["record_id"] is None else f"record #{x['record_id']}",
                  x["tag"], x["condition"] or "*", x["reason"],
                  f"{x['requested_by'] or '-'} / {x['approved_by']}") for x in active],
                "al-exclusions", t("al.ex.none"),
            ),
        ],
    )  # fmt: skip
    headers = [
        "#", t("al.tag"), t("al.condition"), t("al.limit"), t("al.priority"), t("al.category"),
        t("al.deadband"), t("al.delays"), t("al.enabled"), t("al.interlock"),
    ]  # fmt: skip
    return html.Div(
        [
            html.H1(t("al.title"), id="page-title"),
            html.P(t("al.count", n=fmt(len(rows))), className="hw-muted"),
            change,
            table(headers, body, "al-table", t("al.empty")),
            exclude,
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, "/alarms/ledger", "alarm_ledger", 41, layout)

    @app.callback(
        Output("al-message", "children"),
        Input("al-submit", "n_clicks"),
        State("al-point", "value"),
        State("al-field", "value"),
        State("al-value", "value"),
        State("al-reason", "value"),
        prevent_initial_call=True,
    )
    def request(_n: int, point: str | None, field: str | None, value: str | None,
                reason: str | None) -> str:  # fmt: skip
        user, actor = signed_in(REQUESTERS)
        field = (field or "").strip()
        if field not in FIELDS:
            return f"{i18n.t('al.field')}: {', '.join(FIELDS)}"
        try:
            with auth.db_pool().connection() as conn:
                # Only points of the user's scope are found.
                ids = {f"{r[1]}.{r[2]}": r[0] for r in ledger_rows(conn, user)}
                point_id = ids.get((point or "").strip())
                if point_id is None:
                    return f"{i18n.t('al.point')}: {point or ''}?"
                inst = ledger.request_change(
                    conn, actor, point_id, {field: parse_value(field, value)},
                    reason=reason or "",
                )  # fmt: skip
        except HazwatchError as exc:
            return str(exc)
        return i18n.t("al.submitted", id=inst)

    @app.callback(
        Output("al-ex-message", "children"),
        Input("al-ex-submit", "n_clicks"),
        State("al-ex-tag", "value"),
        State("al-ex-records", "value"),
        State("al-ex-reason", "value"),
        prevent_initial_call=True,
    )
    def exclude(_n: int, tag: str | None, records: str | None, reason: str | None) -> str:
        user, actor = signed_in(REQUESTERS)
        text = (records or "").replace("，", ",")
        try:
            ids = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            return i18n.t("al.bad_ids", text=text)
        try:
            with auth.db_pool().connection() as conn:
                if ids:
                    inst = exclusions.request_record_exclusion(
                        conn, actor, record_ids=ids, reason=reason or ""
                    )
                elif (tag or "").strip():
                    tag_ids = {r[1]: r[11] for r in ledger_rows(conn, user)}
                    if tag.strip() not in tag_ids:
                        return f"{i18n.t('al.ex.tag')}: {tag}?"
                    inst = exclusions.request_tag_exclusion(
                        conn, actor, tag_id=tag_ids[tag.strip()], reason=reason or ""
                    )
                else:
                    return i18n.t("al.ex.tag") + " / " + i18n.t("al.ex.records") + " ?"
        except HazwatchError as exc:
            return str(exc)
        return i18n.t("al.submitted", id=inst)
