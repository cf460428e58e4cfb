"""My notification settings (issue 6): which channels reach me when an escalation tier or a
reminder names no channel of its own: in-app (the bell), e-mail, SMS. Every signed-in user sets
their own; the change is audited (``workflow.notify_preference`` through ``alert_config``).

    /alerts/preferences

A channel whose address is missing (no e-mail or phone in the user's account) falls back to
in-app in ``workflows.notify``; the page says so next to the choice.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.callback_args import actor_of, fired, message
from dashboards.layout import register_page
from hazwatch.registers import RegisterError
from workflows import alert_config
from workflows.notify import USER_KINDS

PATH = "/alerts/preferences"

i18n.register(
    {
        "prefs.title": {"zh": "我的通知设置", "en": "My notification settings"},
        "prefs.intro": {
            "zh": "升级策略或提醒未指定通道时，通过以下方式通知您（适用于所有级别）。",
            "en": "When an escalation tier or a reminder names no channel, you are told by "
            "these (for every severity).",
        },
        "prefs.channels": {"zh": "通知方式", "en": "Channels"},
        "prefs.default": {
            "zh": "当前使用默认设置：站内通知，有邮箱时同时发邮件。",
            "en": "Using the default: in-app, and e-mail when you have an address.",
        },
        "prefs.custom": {"zh": "当前使用您的设置。", "en": "Using your own setting."},
        "prefs.email": {"zh": "邮箱：{v}", "en": "E-mail: {v}"},
        "prefs.phone": {"zh": "手机：{v}", "en": "Phone: {v}"},
        "prefs.missing": {"zh": "未登记（将改为站内通知）", "en": "none (falls back to in-app)"},
        "prefs.save": {"zh": "保存", "en": "Save"},
        "prefs.reset": {"zh": "恢复默认", "en": "Use the default"},
        "prefs.saved": {"zh": "已保存。", "en": "Saved."},
        "prefs.reset_done": {"zh": "已恢复默认。", "en": "Back to the default."},
        "prefs.none": {"zh": "至少选择一种通知方式。", "en": "Choose at least one channel."},
        "prefs.unread": {"zh": "查看我的通知", "en": "See my notifications"},
    }
)


def _current(user_id: int) -> tuple[list[str] | None, str | None, str | None]:
    with auth.db_pool().connection() as conn:
        row = conn.execute(
            """SELECT p.channels, u.email, u.phone FROM auth.app_user u
               LEFT JOIN workflow.notify_preference p ON p.user_id = u.id WHERE u.id = %s""",
            (user_id,),
        ).fetchone()
    if row is None:
        return None, None, None
    return (list(row[0]) if row[0] is not None else None), row[1], row[2]


def _status(channels: list[str] | None) -> str:
    return i18n.t("prefs.custom" if channels is not None else "prefs.default")


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    channels, email, phone = _current(user.id)
    shown = channels if channels is not None else (["inapp", "email"] if email else ["inapp"])
    return html.Div(
        [
            html.H1(t("prefs.title"), id="page-title"),
            ui.subnav("prefs") if ui.can_view(user) else None,
            html.P(t("prefs.intro")),
            html.P(
                [
                    t("prefs.email", v=email or t("prefs.missing")),
                    html.Br(),
                    t("prefs.phone", v=phone or t("prefs.missing")),
                ],
                className="hw-muted",
            ),
            html.Div(
                className="hw-card",
                children=[
                    html.Label(t("prefs.channels"), className="af-label"),
                    dcc.Checklist(
                        id="prefs-channels",
                        options=[{"label": t(f"pol.ch.{k}"), "value": k} for k in USER_KINDS],
                        value=shown,
                        className="af-check",
                    ),
                    html.Div(_status(channels), id="prefs-status", className="hw-muted"),
                    html.Div(
                        className="af-actions",
                        children=[
                            html.Button(t("prefs.save"), id="prefs-save", className="hw-btn"),
                            html.Button(
                                t("prefs.reset"), id="prefs-reset", className="hw-btn hw-btn-light"
                            ),
                        ],
                    ),
                    html.Div(id="prefs-msg"),
                ],
            ),
            dcc.Link(t("prefs.unread"), href="/alerts#inbox"),
        ]
    )


def save(user: auth.WebUser, channels: list[str] | None) -> None:
    """Store (or with None remove) the user's own preference, audited as the user."""
    actor = actor_of(user)
    with auth.db_pool().connection() as conn:
        row = conn.execute(
            "SELECT id FROM workflow.notify_preference WHERE user_id = %s", (user.id,)
        ).fetchone()
        if channels is None:
            if row:
                alert_config.delete(conn, actor, "notify_preference", row[0])
        elif row:
            alert_config.update(conn, actor, "notify_preference", row[0], {"channels": channels})
        else:
            alert_config.insert(
                conn, actor, "notify_preference", {"user_id": user.id, "channels": channels}
            )


def register(app: dash.Dash) -> None:
    register_page(
        __name__, PATH, "notification settings", 10, layout, title="prefs.title", nav=False
    )

    @app.callback(
        Output("prefs-msg", "children"),
        Output("prefs-status", "children"),
        Output("prefs-channels", "value"),
        Input("prefs-save", "n_clicks"),
        Input("prefs-reset", "n_clicks"),
        State("prefs-channels", "value"),
        prevent_initial_call=True,
    )
    def store(_save: Any, _reset: Any, chosen: list[str] | None) -> tuple[Any, Any, Any]:
        user = auth.current_user()
        if user is None or not fired():
            raise dash.exceptions.PreventUpdate
        t = i18n.t
        reset = dash.ctx.triggered_id == "prefs-reset"
        picked = [c for c in USER_KINDS if c in (chosen or [])]
        if not reset and not picked:
            return message(t("prefs.none"), False, "prefs-error"), dash.no_update, dash.no_update
        try:
            save(user, None if reset else picked)
        except RegisterError as exc:
            msg = message(t("ac.refused", error=str(exc)), False, "prefs-error")
            return msg, dash.no_update, dash.no_update
        channels, email, _phone = _current(user.id)
        shown = channels if channels is not None else (["inapp", "email"] if email else ["inapp"])
        done = t("prefs.reset_done" if reset else "prefs.saved")
        return message(done, True, "prefs-done"), _status(channels), shown
