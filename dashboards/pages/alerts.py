"""Alerts (issue 6, A13): the alerts of the signed-in scope with state, level and escalation;
acknowledge with a comment, assign, close; silences (create, end); the user's in-app
notifications (the bell's list). Regulators see, but do not act.

Scope is enforced in SQL (``Scope.enterprise_ids``) for the list and re-checked for every
action, so a forged alert id from another enterprise is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
from dash import ALL, Input, Output, State, ctx, dcc, html

from dashboards import auth, i18n
from dashboards.callback_args import clicked, fired, message, signed_in, value_at
from dashboards.components.basic import table
from dashboards.layout import bell_badge, register_page
from hazwatch.registers import RegisterError
from workflows import alert_config, alerting
from workflows.notify import mark_read, unread_count
from workflows.silences import Matcher

PATH = "/alerts"

i18n.register(
    {
        "nav.alerts": {"zh": "告警", "en": "Alerts"},
        "alerts.title": {"zh": "告警", "en": "Alerts"},
        "alerts.empty": {"zh": "当前没有告警。", "en": "No alerts."},
        "alerts.show_all": {"zh": "显示已关闭", "en": "Show closed"},
        "alerts.col.id": {"zh": "编号", "en": "ID"},
        "alerts.col.state": {"zh": "状态", "en": "State"},
        "alerts.col.level": {"zh": "级别", "en": "Level"},
        "alerts.col.since": {"zh": "开始时间", "en": "Since"},
        "alerts.col.summary": {"zh": "内容", "en": "Summary"},
        "alerts.col.ack": {"zh": "确认", "en": "Acknowledged"},
        "alerts.col.assignee": {"zh": "处理人", "en": "Assignee"},
        "alerts.col.tier": {"zh": "升级层级", "en": "Tier"},
        "alerts.col.actions": {"zh": "操作", "en": "Actions"},
        "alerts.comment": {"zh": "处理意见（必填）", "en": "Comment (required)"},
        "alerts.ack": {"zh": "确认", "en": "Acknowledge"},
        "alerts.close": {"zh": "关闭", "en": "Close"},
        "alerts.assign": {"zh": "指派", "en": "Assign"},
        "alerts.assign_to": {"zh": "指派给…", "en": "Assign to…"},
        "alerts.done": {"zh": "告警 {id} 已{action}。", "en": "Alert {id}: {action} done."},
        "alerts.refused": {"zh": "未执行：{error}", "en": "Refused: {error}"},
        "alerts.closed": {"zh": "已关闭", "en": "closed"},
        "alerts.state.normal": {"zh": "正常", "en": "normal"},
        "alerts.state.pending": {"zh": "待定", "en": "pending"},
        "alerts.state.firing": {"zh": "告警中", "en": "firing"},
        "alerts.state.resolved": {"zh": "已恢复", "en": "resolved"},
        "alerts.state.nodata": {"zh": "无数据", "en": "no data"},
        "alerts.state.error": {"zh": "错误", "en": "error"},
        "alerts.level.warning": {"zh": "预警", "en": "warning"},
        "alerts.level.alarm": {"zh": "报警", "en": "alarm"},
        "alerts.level.danger": {"zh": "危险", "en": "danger"},
        "alerts.silences": {"zh": "静默", "en": "Silences"},
        "alerts.silences_empty": {"zh": "没有生效的静默。", "en": "No active silences."},
        "alerts.silence.matchers": {
            "zh": "匹配条件，如 unit=R-101, equipment=~P-1.*",
            "en": "Matchers, e.g. unit=R-101, equipment=~P-1.*",
        },
        "alerts.silence.hours": {"zh": "时长（小时）", "en": "Hours"},
        "alerts.silence.comment": {"zh": "原因（必填）", "en": "Reason (required)"},
        "alerts.silence.create": {"zh": "新建静默", "en": "Create silence"},
        "alerts.silence.end": {"zh": "结束", "en": "End"},
        "alerts.silence.created": {"zh": "静默 {id} 已创建。", "en": "Silence {id} created."},
        "alerts.silence.ended": {"zh": "静默 {id} 已结束。", "en": "Silence {id} ended."},
        "alerts.silence.until": {"zh": "截止", "en": "Until"},
        "alerts.inbox": {"zh": "我的通知", "en": "My notifications"},
        "alerts.inbox_empty": {"zh": "没有通知。", "en": "No notifications."},
        "alerts.inbox.read_all": {"zh": "全部标为已读", "en": "Mark all read"},
        "alerts.inbox.unread": {"zh": "未读 {n} 条", "en": "{n} unread"},
    }
)

ACTION_LABEL = {"ack": "alerts.ack", "close": "alerts.close", "assign": "alerts.assign"}


def _visible(conn: psycopg.Connection, user: auth.WebUser) -> list[int] | None:
    return user.scope.enterprise_ids(conn)


def _in_scope(conn: psycopg.Connection, user: auth.WebUser, alert_id: int) -> bool:
    row = conn.execute(
        "SELECT enterprise_id FROM workflow.alert WHERE id = %s", (alert_id,)
    ).fetchone()
    if row is None:
        return False
    ids = _visible(conn, user)
    return ids is None or row[0] in ids


def _assignees(conn: psycopg.Connection, user: auth.WebUser) -> list[dict[str, Any]]:
    ids = _visible(conn, user)
    rows = conn.execute(
        """SELECT id, coalesce(display_name, name) FROM auth.app_user
           WHERE active AND role IN ('admin', 'engineer', 'operator')
             AND (%s::integer[] IS NULL OR enterprise_id = ANY(%s::integer[])
                  OR enterprise_id IS NULL)
           ORDER BY 2 LIMIT 500""",
        (ids, ids),
    ).fetchall()
    return [{"label": name, "value": uid} for uid, name in rows]


def _controls(alert: dict[str, Any], people: list[dict[str, Any]]) -> html.Div:
    aid = alert["id"]
    t = i18n.t
    buttons = []
    if alert["acked_at"] is None:
        buttons.append(
            html.Button(
                t("alerts.ack"),
                id={"type": "alert-act", "aid": aid, "action": "ack"},
                className="hw-button",
            )
        )
    buttons.append(
        html.Button(
            t("alerts.close"),
            id={"type": "alert-act", "aid": aid, "action": "close"},
            className="hw-button hw-button-secondary",
        )
    )
    return html.Div(
        className="hw-alert-actions",
        children=[
            dcc.Input(
                id={"type": "alert-comment", "aid": aid},
                placeholder=t("alerts.comment"),
                type="text",
                debounce=False,
                className="hw-input",
            ),
            *buttons,
            dcc.Dropdown(
                id={"type": "alert-assignee", "aid": aid},
                options=people,  # type: ignore[arg-type]
                placeholder=t("alerts.assign_to"),
                className="hw-dropdown",
            ),
            html.Button(t("alerts.assign"), id={"type": "alert-act", "aid": aid,
                        "action": "assign"}, className="hw-button hw-button-secondary"),
        ],
    )  # fmt: skip


def _alert_table(user: auth.WebUser, show_all: bool) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        rows = alerting.list_alerts(
            conn, open_only=not show_all, enterprise_ids=_visible(conn, user)
        )
        people = [] if user.read_only else _assignees(conn, user)
    headers = [
        t("alerts.col.id"),
        t("alerts.col.state"),
        t("alerts.col.level"),
        t("alerts.col.since"),
        t("alerts.col.summary"),
        t("alerts.col.ack"),
        t("alerts.col.assignee"),
        t("alerts.col.tier"),
    ]
    if not user.read_only:
        headers.append(t("alerts.col.actions"))
    body = []
    for a in rows:
        state = t("alerts.closed") if a["closed_at"] else t(f"alerts.state.{a['state']}")
        level = t(f"alerts.level.{a['level']}") if a["level"] else "-"
        ack = "-"
        if a["acked_at"]:
            ack = (
                f"{a['acked_by_name'] or ''} {i18n.fmt_datetime(a['acked_at'])}: {a['ack_comment']}"
            )
        cells: list[Any] = [
            str(a["id"]),
            html.Span(state, className=f"hw-badge hw-state-{a['state']}",
                      id=f"alert-state-{a['id']}"),
            html.Span(level, className=f"hw-badge hw-level-{a['level'] or 'none'}"),
            i18n.fmt_datetime(a["fired_at"] or a["started_at"]),
            a["summary"],
            html.Span(ack, id=f"alert-ack-{a['id']}"),
            a["assigned_to_name"] or "-",
            str(a["tier"] + 1) if a["tier"] >= 0 else "-",
        ]  # fmt: skip
        if not user.read_only:
            cells.append(_controls(a, people) if a["closed_at"] is None else "")
        body.append(cells)
    return table(headers, body, "alerts-table", t("alerts.empty"))


def _silences(user: auth.WebUser) -> html.Div:
    t = i18n.t
    now = datetime.now(UTC)
    with auth.db_pool().connection() as conn:
        ids = _visible(conn, user)
        rows = conn.execute(
            """SELECT id, matchers, ends_at, comment FROM workflow.silence
               WHERE ends_at > %s AND (%s::integer[] IS NULL
                     OR enterprise_id = ANY(%s::integer[]))
               ORDER BY ends_at""",
            (now, ids, ids),
        ).fetchall()
    body = []
    for sid, matchers, ends, comment in rows:
        text = ", ".join(f"{m['label']}{m.get('op', '=')}{m['value']}" for m in matchers)
        end: Any = "" if user.read_only else html.Button(
            t("alerts.silence.end"), id={"type": "silence-end", "sid": sid},
            className="hw-button hw-button-secondary")  # fmt: skip
        body.append([text, i18n.fmt_datetime(ends), comment, end])
    return table(
        [t("alerts.silence.matchers"), t("alerts.silence.until"), t("alerts.silence.comment"), ""],
        body,
        "silences-table",
        t("alerts.silences_empty"),
    )


def _inbox(user: auth.WebUser) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        rows = conn.execute(
            """SELECT created_at, severity, subject, link, read_at FROM workflow.inbox
               WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT 50""",
            (user.id,),
        ).fetchall()
    unread = sum(1 for r in rows if r[4] is None)
    body = [
        [
            i18n.fmt_datetime(at),
            html.Span(sev, className=f"hw-badge hw-level-{sev}"),
            dcc.Link(subject, href=link) if link else subject,
            "" if read else "●",
        ]
        for at, sev, subject, link, read in rows
    ]
    return html.Div(
        [
            html.P(t("alerts.inbox.unread", n=unread), id="inbox-unread", className="hw-muted"),
            table(["", "", "", ""], body, "inbox-table", t("alerts.inbox_empty")),
        ]
    )


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    silence_form = (
        html.Div()
        if user.read_only
        else html.Div(
            className="hw-form-row",
            children=[
                dcc.Input(
                    id="silence-matchers",
                    placeholder=t("alerts.silence.matchers"),
                    type="text",
                    className="hw-input",
                ),
                dcc.Input(
                    id="silence-hours",
                    type="number",
                    min=0.25,
                    max=720,
                    value=2,
                    className="hw-input",
                ),
                dcc.Input(
                    id="silence-comment",
                    placeholder=t("alerts.silence.comment"),
                    type="text",
                    className="hw-input",
                ),
                html.Button(t("alerts.silence.create"), id="silence-create", className="hw-button"),
            ],
        )
    )
    return html.Div(
        [
            html.H1(t("alerts.title"), id="page-title"),
            dcc.Checklist(
                id="alerts-show-all",
                options=[{"label": t("alerts.show_all"), "value": "all"}],
                value=[],
            ),
            html.Div(id="alerts-msg"),
            html.Div(_alert_table(user, False), id="alerts-list"),
            html.H2(t("alerts.silences")),
            silence_form,
            html.Div(id="silence-msg"),
            html.Div(_silences(user), id="silences-list"),
            html.H2(t("alerts.inbox"), id="inbox"),
            html.Button(t("alerts.inbox.read_all"), id="inbox-read-all",
                        className="hw-button hw-button-secondary"),
            html.Div(_inbox(user), id="inbox-list"),
        ]
    )  # fmt: skip


def parse_matchers(text: str) -> list[dict[str, str]]:
    """``"unit=R-101, equipment=~P-1.*"`` -> matcher dicts; errors name the bad part."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        for op in ("=~", "!~", "!=", "="):
            if op in part:
                label, value = (s.strip() for s in part.split(op, 1))
                m = Matcher(label=label, op=op, value=value)  # type: ignore[arg-type]
                out.append(m.model_dump())
                break
        else:
            raise ValueError(f"{part!r}: expected label=value, label!=value, =~ or !~")
    if not out:
        raise ValueError("at least one matcher (e.g. unit=R-101)")
    return out


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "alerts", 5, layout, title="alerts.title", after="/")

    @app.callback(
        Output("alerts-msg", "children"),
        Output("alerts-list", "children"),
        Input({"type": "alert-act", "aid": ALL, "action": ALL}, "n_clicks"),
        Input("alerts-show-all", "value"),
        State({"type": "alert-comment", "aid": ALL}, "value"),
        State({"type": "alert-comment", "aid": ALL}, "id"),
        State({"type": "alert-assignee", "aid": ALL}, "value"),
        State({"type": "alert-assignee", "aid": ALL}, "id"),
        prevent_initial_call=True,
    )
    def act(
        _clicks: list[int | None],
        show: list[str],
        comments: list[str | None],
        comment_ids: list[dict[str, Any]],
        assignees: list[int | None],
        assignee_ids: list[dict[str, Any]],
    ) -> tuple[Any, Any]:
        user, actor = signed_in()
        show_all = "all" in (show or [])
        trig = clicked()
        if trig is None:
            return dash.no_update, _alert_table(user, show_all)
        if user.read_only:
            raise dash.exceptions.PreventUpdate
        aid, action = int(trig["aid"]), str(trig["action"])
        comment = (value_at(comments, comment_ids, "aid", aid) or "").strip()
        msg: Any
        try:
            with auth.db_pool().connection() as conn:
                if not _in_scope(conn, user, aid):
                    raise alerting.AlertError(f"no alert with id {aid}")
                if action == "ack":
                    alerting.acknowledge(conn, aid, actor, comment)
                elif action == "close":
                    alerting.close(conn, aid, actor, comment)
                elif action == "assign":
                    who = value_at(assignees, assignee_ids, "aid", aid)
                    if who is None:
                        raise alerting.AlertError(i18n.t("alerts.assign_to"))
                    alerting.assign(conn, aid, actor, int(who), comment or None)
                else:
                    raise dash.exceptions.PreventUpdate
            text = i18n.t("alerts.done", id=aid, action=i18n.t(ACTION_LABEL[action]))
            msg = message(text, True, "alerts-done")
        except alerting.AlertError as exc:
            msg = message(i18n.t("alerts.refused", error=str(exc)), False, "alerts-error")
        return msg, _alert_table(user, show_all)

    @app.callback(
        Output("silence-msg", "children"),
        Output("silences-list", "children"),
        Input("silence-create", "n_clicks"),
        Input({"type": "silence-end", "sid": ALL}, "n_clicks"),
        State("silence-matchers", "value"),
        State("silence-hours", "value"),
        State("silence-comment", "value"),
        prevent_initial_call=True,
    )
    def silence(
        _create: int | None,
        _ends: list[int | None],
        matchers: str | None,
        hours: float | None,
        comment: str | None,
    ) -> tuple[Any, Any]:
        user, actor = signed_in()
        if user.read_only or not fired():
            raise dash.exceptions.PreventUpdate
        now = datetime.now(UTC)
        msg: Any
        try:
            with auth.db_pool().connection() as conn:
                trig = ctx.triggered_id
                if isinstance(trig, dict):
                    sid = int(trig["sid"])
                    alert_config.update(conn, actor, "silence", sid, {"ends_at": now},
                                        reason="ended in the UI")  # fmt: skip
                    text = i18n.t("alerts.silence.ended", id=sid)
                else:
                    if not (comment or "").strip():
                        raise ValueError(i18n.t("alerts.silence.comment"))
                    parsed = parse_matchers(matchers or "")
                    sid = alert_config.insert(
                        conn, actor, "silence",
                        {"enterprise_id": user.enterprise_id, "matchers": parsed,
                         "starts_at": now, "ends_at": now + timedelta(hours=float(hours or 2)),
                         "comment": (comment or "").strip(), "created_by": user.id},
                    )  # fmt: skip
                    text = i18n.t("alerts.silence.created", id=sid)
            msg = message(text, True, "silence-done")
        except (ValueError, RegisterError) as exc:
            msg = message(i18n.t("alerts.refused", error=str(exc)), False, "silence-error")
        return msg, _silences(user)

    @app.callback(
        Output("inbox-list", "children"),
        # The bell in the header clears at once, not at its next refresh.
        Output("hw-bell-count", "children", allow_duplicate=True),
        Output("hw-bell-count", "className", allow_duplicate=True),
        Input("inbox-read-all", "n_clicks"),
        prevent_initial_call=True,
    )
    def read_all(_n: int | None) -> Any:
        user, _ = signed_in()
        with auth.db_pool().connection() as conn:
            mark_read(conn, user.id)
            badge = bell_badge(unread_count(conn, user.id))
        return _inbox(user), *badge
