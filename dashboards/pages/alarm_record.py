"""One alarm record with the operator's cause and action (A15): ``/alarms/record?id=123``.

Everyone who may see the record's enterprise sees it; operators, engineers and administrators
write the note, regulators only read.
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import Input, Output, State, dcc, html
from psycopg import sql

from analytics.alarms.notes import NoteError, get_note, save_note
from analytics.alarms.queries import load_record
from dashboards import auth, i18n
from dashboards.auth import WebUser
from dashboards.callback_args import signed_in
from dashboards.layout import register_page

WRITERS = frozenset({"admin", "engineer", "operator"})

i18n.register(
    {
        "ar.title": {"zh": "报警记录详情", "en": "Alarm record"},
        "ar.missing": {"zh": "没有这条报警记录。", "en": "No such alarm record."},
        "ar.tag": {"zh": "位号", "en": "Tag"},
        "ar.condition": {"zh": "报警类型", "en": "Condition"},
        "ar.priority": {"zh": "优先级", "en": "Priority"},
        "ar.type": {"zh": "类别", "en": "Type"},
        "ar.raised": {"zh": "报警时间", "en": "Raised"},
        "ar.acked": {"zh": "确认时间", "en": "Acknowledged"},
        "ar.returned": {"zh": "恢复时间", "en": "Returned"},
        "ar.limit": {"zh": "报警限 / 报警值", "en": "Limit / value"},
        "ar.excluded": {"zh": "已剔除（不参与统计）", "en": "Excluded from statistics"},
        "ar.cause": {"zh": "报警原因", "en": "Cause"},
        "ar.action": {"zh": "处置措施", "en": "Action taken"},
        "ar.save": {"zh": "保存", "en": "Save"},
        "ar.saved": {"zh": "已保存（{author}）", "en": "Saved ({author})"},
        "ar.by": {"zh": "记录人：{author}，{at}", "en": "Recorded by {author}, {at}"},
        "ar.readonly": {"zh": "只读：您的角色不能录入。", "en": "Read only for your role."},
        "ar.yes": {"zh": "是", "en": "yes"},
        "ar.no": {"zh": "否", "en": "no"},
    }
)


def _visible(conn: psycopg.Connection, user: WebUser, record_id: int) -> bool:
    cond, params = user.scope.condition("r.enterprise_id")
    row = conn.execute(
        sql.SQL("SELECT 1 FROM alarm.record r WHERE r.id = %s AND {}").format(cond),
        (record_id, *params),
    ).fetchone()
    return row is not None


def _id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def layout(id: Any = None, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    rid = _id(id)
    with auth.db_pool().connection() as conn:
        rec = load_record(conn, rid) if rid is not None and _visible(conn, user, rid) else None
        note = get_note(conn, rid) if rec is not None and rid is not None else None
    if rec is None:
        return html.Div([html.H1(t("ar.title"), id="page-title"), html.P(t("ar.missing"))])
    fmt = i18n.fmt_datetime
    facts = [
        (t("ar.tag"), rec.tag),
        (t("ar.condition"), rec.condition),
        (t("ar.priority"), rec.priority or "-"),
        (t("ar.type"), rec.alarm_type or "-"),
        (t("ar.raised"), fmt(rec.raised, seconds=True)),
        (t("ar.acked"), fmt(rec.acked, seconds=True)),
        (t("ar.returned"), fmt(rec.returned, seconds=True)),
        (t("ar.limit"), f"{_num(rec.limit_value)} / {_num(rec.value)}"),
        (t("ar.excluded"), t("ar.yes") if rec.excluded else t("ar.no")),
    ]
    writable = user.role in WRITERS
    form = html.Div(
        className="hw-card",
        children=[
            html.Label(t("ar.cause"), htmlFor="ar-cause"),
            dcc.Textarea(id="ar-cause", value=note.cause if note else "", className="hw-input",
                         disabled=not writable, style={"width": "100%", "height": 80}),
            html.Label(t("ar.action"), htmlFor="ar-action"),
            dcc.Textarea(id="ar-action", value=note.action if note else "", className="hw-input",
                         disabled=not writable, style={"width": "100%", "height": 80}),
            html.Button(t("ar.save"), id="ar-save", className="hw-btn", n_clicks=0,
                        disabled=not writable),
            html.Div(
                t("ar.by", author=note.author, at=fmt(note.updated_at)) if note
                else ("" if writable else t("ar.readonly")),
                id="ar-message", className="hw-muted",
            ),
            dcc.Store(id="ar-record", data=rid),
        ],
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("ar.title"), id="page-title"),
            html.Dl(
                [item for k, v in facts for item in (html.Dt(k), html.Dd(v))],
                className="hw-facts",
                id="ar-facts",
            ),
            form,
        ]
    )


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def register(app: dash.Dash) -> None:
    register_page(
        __name__, "/alarms/record", "alarm_record", 43, layout, title="ar.title", nav=False
    )

    @app.callback(
        Output("ar-message", "children"),
        Input("ar-save", "n_clicks"),
        State("ar-record", "data"),
        State("ar-cause", "value"),
        State("ar-action", "value"),
        prevent_initial_call=True,
    )
    def save(_n: int, rid: int | None, cause: str | None, action: str | None) -> str:
        user, actor = signed_in(WRITERS)
        if rid is None:
            raise dash.exceptions.PreventUpdate
        with auth.db_pool().connection() as conn:
            if not _visible(conn, user, rid):
                raise dash.exceptions.PreventUpdate
            try:
                note = save_note(
                    conn, actor, record_id=rid, cause=cause or "",
                    action=action or "",
                )  # fmt: skip
            except NoteError as exc:
                return str(exc)
        return i18n.t("ar.saved", author=note.author)
