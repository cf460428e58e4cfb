"""Notification channels (issue 6): SMTP e-mail, SMS gateway, WeCom / DingTalk / Feishu robots,
generic webhook. Settings per kind; the secret (SMTP password, robot signing secret, bearer
token) is write-only: never sent to a browser, shown only as "set" or "not set", kept when the
field is left empty. "Send test message" sends through the saved channel at once.

    /alerts/channels       list (everyone who may see alerts), editor (instance administrators)

Channels serve the whole instance, so only users whose scope is every enterprise change them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
import psycopg
from dash import ALL, Input, Output, State, dcc, html
from psycopg.rows import dict_row

from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.alert_editor import ConfigEditor, code_is_free
from dashboards.callback_args import message
from dashboards.layout import forbidden, register_page
from hazwatch.errors import HazwatchError
from workflows.alert_forms import (
    CHANNEL_FIELDS,
    CHANNEL_SETTINGS,
    Errors,
    channel_from_form,
    channel_to_form,
)
from workflows.channels import KINDS, DeliveryError, Message, transport_for

PATH = "/alerts/channels"
P = "chan"

i18n.register(
    {
        "chan.title": {"zh": "通知通道", "en": "Notification channels"},
        "chan.empty": {
            "zh": "没有配置通道。站内通知无需配置。",
            "en": "No channels. In-app needs none.",
        },
        "chan.hint": {
            "zh": "站内通知（铃铛）始终可用，无需配置；“email”“sms”通道用于发送到个人邮箱和手机。",
            "en": "In-app notifications (the bell) need no channel; the e-mail and SMS channels "
            "carry messages to people's own addresses.",
        },
        "chan.kind.email": {"zh": "电子邮件（SMTP）", "en": "E-mail (SMTP)"},
        "chan.kind.sms": {"zh": "短信网关（HTTP）", "en": "SMS gateway (HTTP)"},
        "chan.kind.wecom": {"zh": "企业微信群机器人", "en": "WeCom group robot"},
        "chan.kind.dingtalk": {"zh": "钉钉群机器人", "en": "DingTalk group robot"},
        "chan.kind.feishu": {"zh": "飞书群机器人", "en": "Feishu group robot"},
        "chan.kind.webhook": {"zh": "通用 Webhook", "en": "Generic webhook"},
        "chan.f.kind": {"zh": "类型", "en": "Kind"},
        "chan.f.on_unknown": {
            "zh": "投递结果未知时（进程中断）",
            "en": "When the outcome is unknown (worker stopped)",
        },
        "chan.unknown.resend": {"zh": "重发（至少一次）", "en": "resend (at least once)"},
        "chan.unknown.hold": {"zh": "暂停待人工确认（至多一次）", "en": "hold (at most once)"},
        "chan.f.secret": {"zh": "密钥/密码（只写）", "en": "Secret / password (write-only)"},
        "chan.f.secret_hint": {
            "zh": "出于安全考虑不显示已保存的密钥；留空则保持不变。",
            "en": "A stored secret is never shown; leave empty to keep it.",
        },
        "chan.f.secret_clear": {"zh": "清除已保存的密钥", "en": "Remove the stored secret"},
        "chan.secret_set": {"zh": "密钥：已设置（不显示）", "en": "Secret: set (not shown)"},
        "chan.secret_none": {"zh": "密钥：未设置", "en": "Secret: not set"},
        "chan.col.settings": {"zh": "设置", "en": "Settings"},
        "chan.col.secret": {"zh": "密钥", "en": "Secret"},
        "chan.set": {"zh": "已设置", "en": "set"},
        "chan.unset": {"zh": "未设置", "en": "not set"},
        "chan.cfg.host": {"zh": "SMTP 服务器", "en": "SMTP host"},
        "chan.cfg.port": {"zh": "端口", "en": "Port"},
        "chan.cfg.sender": {"zh": "发件人地址", "en": "Sender address"},
        "chan.cfg.username": {"zh": "登录用户名", "en": "User name"},
        "chan.cfg.starttls": {"zh": "STARTTLS", "en": "STARTTLS"},
        "chan.cfg.ssl": {"zh": "SSL/TLS", "en": "SSL/TLS"},
        "chan.cfg.to": {
            "zh": "固定收件人（共享邮箱/号码，逗号分隔，可空）",
            "en": "Fixed recipients (shared mailbox / numbers, optional)",
        },
        "chan.cfg.url": {"zh": "地址（URL）", "en": "URL"},
        "chan.cfg.signature": {"zh": "短信签名", "en": "SMS signature"},
        "chan.cfg.msgtype": {"zh": "消息格式", "en": "Message type"},
        "chan.cfg.mentions": {"zh": "@手机号（逗号分隔）", "en": "@ mobiles (comma separated)"},
        "chan.test": {"zh": "发送测试消息", "en": "Send test message"},
        "chan.test_to": {
            "zh": "测试收件地址/手机号（邮件、短信需要）",
            "en": "Test address / phone (e-mail, SMS)",
        },
        "chan.test_ok": {"zh": "测试消息已被通道接受。", "en": "The channel accepted the test."},
        "chan.test_failed": {"zh": "发送失败：{error}", "en": "Sending failed: {error}"},
        "chan.test_needs_to": {
            "zh": "电子邮件和短信通道需要填写测试收件地址。",
            "en": "E-mail and SMS channels need a test address.",
        },
    }
)


def _summary(kind: str, config: dict[str, Any]) -> str:
    keys = [k for k, _, _ in CHANNEL_FIELDS.get(kind, ())]
    parts = []
    for k in keys:
        v = config.get(k)
        if v in (None, "", [], False):
            continue
        if k == "url":
            v = str(v).split("?", 1)[0]  # robot keys and tokens sit in the query
        parts.append(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")
    return "; ".join(parts)


def list_view(user: auth.WebUser, _search: str) -> Any:
    t = i18n.t
    headers = [t("ac.code"), t("chan.f.kind"), t("ac.name"), t("chan.col.settings"),
               t("chan.col.secret"), t("ac.enabled")]  # fmt: skip

    def cells(r: dict[str, Any]) -> list[Any]:
        return [
            r["code"],
            t(f"chan.kind.{r['kind']}"),
            r["name"],
            _summary(r["kind"], r["config"]),
            html.Span(t("chan.set" if r["has_secret"] else "chan.unset"),
                      id=f"chan-secret-{r['code']}"),
            ui.yes_no(r["enabled"]),
        ]  # fmt: skip

    with auth.db_pool().connection() as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                "SELECT id, code, kind, name, config, secret IS NOT NULL AS has_secret, enabled"
                " FROM workflow.channel ORDER BY code"
            )
            .fetchall()
        )
        return editor.list_table(conn, user, rows, headers, cells, t("chan.empty"))


def _stored_secret(conn: psycopg.Connection, rid: int | None) -> str | None:
    if rid is None:
        return None
    row = conn.execute("SELECT secret FROM workflow.channel WHERE id = %s", (rid,)).fetchone()
    return row[0] if row else None


def load(conn: psycopg.Connection, rid: int) -> dict[str, Any] | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute("SELECT id, code, kind, name, config, enabled FROM workflow.channel WHERE id = %s",
                 (rid,))
        .fetchone()
    )  # fmt: skip
    return None if row is None else channel_to_form(row)


def info(conn: psycopg.Connection, rid: int | None) -> str:
    if rid is None:
        return ""
    return i18n.t("chan.secret_set" if _stored_secret(conn, rid) else "chan.secret_none")


def parse(
    conn: psycopg.Connection, _user: auth.WebUser, form: dict[str, Any], rid: int | None
) -> tuple[dict[str, Any] | None, Errors]:
    return code_is_free(conn, "channel", channel_from_form(form, _stored_secret(conn, rid)), rid)


editor = ConfigEditor(
    prefix=P,
    table="channel",
    blank=lambda _c, _u: channel_to_form(None),
    load=load,
    parse=parse,
    list_view=list_view,
    info=info,
    enterprise=False,
)


def _fields() -> list[Any]:
    t = i18n.t
    fields: list[Any] = [
        ui.field(P, "code", t("ac.code"), ui.text_input(P, "code")),
        ui.field(P, "kind", t("chan.f.kind"),
                 ui.dropdown(P, "kind", [{"label": t(f"chan.kind.{k}"), "value": k}
                                         for k in KINDS], clearable=False)),
        ui.field(P, "name", t("ac.name"), ui.text_input(P, "name")),
        ui.field(P, "enabled", t("ac.enabled"), ui.checkbox(P, "enabled", t("ac.enabled"))),
    ]  # fmt: skip
    types = {k: typ for fs in CHANNEL_FIELDS.values() for k, typ, _ in fs}
    for key in CHANNEL_SETTINGS:
        name = f"cfg.{key}"
        label = t(f"chan.cfg.{key}")
        if types[key] == "bool":
            comp: Any = ui.checkbox(P, name, label)
        elif key == "msgtype":
            comp = ui.dropdown(P, name, [{"label": v, "value": v} for v in ("markdown", "text")])
        else:
            comp = ui.text_input(P, name, type="number" if types[key] == "int" else "text")
        fields.append(ui.field(P, name, label, comp, wide=key in ("url", "to")))
    fields += [
        ui.field(P, "secret", t("chan.f.secret"),
                 ui.text_input(P, "secret", type="password", autoComplete="new-password"),
                 t("chan.f.secret_hint")),
        ui.field(P, "secret_clear", "", ui.checkbox(P, "secret_clear", t("chan.f.secret_clear"))),
        ui.field(P, "on_unknown", t("chan.f.on_unknown"),
                 ui.dropdown(P, "on_unknown", [{"label": t(f"chan.unknown.{v}"), "value": v}
                                               for v in ("resend", "hold")], clearable=False)),
    ]  # fmt: skip
    return fields


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if not ui.can_view(user):
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        editable = ui.can_edit(conn, user, None)
    test = html.Div(
        className="af-actions",
        children=[
            dcc.Input(id="chan-test-to", type="text", className="hw-input",
                      placeholder=t("chan.test_to")),
            html.Button(t("chan.test"), id="chan-test", className="hw-btn hw-btn-light"),
            html.Div(id="chan-test-result"),
        ],
    )  # fmt: skip
    return ui.config_page(
        "chan.title",
        "channels",
        editable,
        editor.section(user, _fields(), [test], editable=editable),
        intro=html.P(t("chan.hint"), className="hw-muted"),
    )


def send_test(conn: psycopg.Connection, rid: int, to: str | None, now: datetime) -> str:
    """Send a test message through stored channel ``rid`` now; raises on failure."""
    row = conn.execute(
        "SELECT code, kind, config, secret FROM workflow.channel WHERE id = %s", (rid,)
    ).fetchone()
    if row is None:
        raise HazwatchError(f"workflow.channel: no row with id {rid}")
    code, kind, config, secret = row
    if kind in ("email", "sms") and not to:
        raise HazwatchError(i18n.t("chan.test_needs_to"))
    message = Message(
        id=f"hazwatch-test-{int(now.timestamp())}",
        recipient=to or code,
        subject="hazwatch 测试消息 / test message",
        body=f"通道 {code} ({kind}) 测试 / channel test",
        created_at=now,
    )
    transport_for(kind, config, secret).send(message)
    return str(code)


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "channels", 9, layout, title="chan.title", nav=False)
    editor.register(app)

    @app.callback(
        Output({"type": f"{P}-wrap", "f": ALL}, "style"),
        Input(ui.fid(P, "kind"), "value"),
    )
    def kind_fields(kind: str | None) -> list[dict[str, str]]:
        used = {f"cfg.{k}" for k, _, _ in CHANNEL_FIELDS.get(kind or "email", ())}
        return [
            ui.HIDDEN if o["id"]["f"].startswith("cfg.") and o["id"]["f"] not in used else ui.SHOWN
            for o in dash.ctx.outputs_list
        ]

    @app.callback(
        Output(ui.fid(P, "secret"), "value", allow_duplicate=True),
        Output(ui.fid(P, "secret_clear"), "value", allow_duplicate=True),
        Input(f"{P}-refresh", "data"),
        prevent_initial_call=True,
    )
    def forget_typed_secret(_stamp: Any) -> tuple[str, list[str]]:
        # After a save the typed secret leaves the page too.
        return "", []

    @app.callback(
        Output("chan-test-result", "children"),
        Input("chan-test", "n_clicks"),
        State(f"{P}-id", "data"),
        State("chan-test-to", "value"),
        prevent_initial_call=True,
    )
    def test_message(n: int | None, rid: int | None, to: str | None) -> Any:
        user = auth.current_user()
        if user is None or not n:
            raise dash.exceptions.PreventUpdate
        t = i18n.t
        try:
            with auth.db_pool().connection() as conn:
                if not ui.can_edit(conn, user, None):
                    raise HazwatchError(t("ac.read_only"))
                if rid is None:
                    raise HazwatchError(t("ac.not_saved_yet"))
                send_test(conn, int(rid), (to or "").strip() or None, datetime.now(UTC))
        except (HazwatchError, DeliveryError) as exc:
            return message(t("chan.test_failed", error=str(exc)), False, "chan-test-error")
        return message(t("chan.test_ok"), True, "chan-test-ok")
