"""Approvals: my inbox (decide with a comment and attachments), my requests (outcome, withdraw,
resubmit after a return, a new general request) and the definitions editor (administrators).

Buttons are only rendered for what the user may do; every action still goes through
``workflows.approvals.act``, which checks the user's group or role again, so a forged request
is refused on the server. Attachments download from ``/approvals/attachment/<id>`` for users
who may see the request.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dash
import psycopg
from dash import ALL, Input, Output, State, ctx, dcc, html
from flask import Response, abort
from psycopg import sql

from dashboards import auth, i18n
from dashboards.callback_args import clicked, fired, message, signed_in, value_at
from dashboards.layout import forbidden, register_page
from workflows import approval_files, approvals
from workflows.approval_defs import (
    delete_definition,
    get_definition,
    list_definitions,
    save_definition,
)
from workflows.approval_flow import ROLES, ApprovalError, Step
from workflows.approvals import Instance

INBOX, MINE, DEFS = "/approvals", "/approvals/mine", "/approvals/definitions"
DECISIONS = ("approve", "return", "reject")

i18n.register(
    {
        "nav.approvals": {"zh": "待我审批", "en": "My approvals"},
        "nav.approvals_mine": {"zh": "我的申请", "en": "My requests"},
        "nav.approval_defs": {"zh": "审批流程定义", "en": "Approval definitions"},
        "appr.inbox.title": {"zh": "待我审批", "en": "Waiting for my decision"},
        "appr.inbox.empty": {"zh": "没有待您审批的事项。", "en": "Nothing waits for you."},
        "appr.mine.title": {"zh": "我的申请", "en": "My requests"},
        "appr.mine.empty": {"zh": "您还没有提交过申请。", "en": "You have no requests."},
        "appr.defs.title": {"zh": "审批流程定义", "en": "Approval definitions"},
        "appr.kind": {"zh": "审批类型", "en": "Kind"},
        "appr.enterprise": {"zh": "企业", "en": "Enterprise"},
        "appr.requester": {"zh": "申请人", "en": "Requester"},
        "appr.submitted": {"zh": "提交时间", "en": "Submitted"},
        "appr.step": {"zh": "当前步骤", "en": "Step"},
        "appr.due": {"zh": "办理期限", "en": "Due"},
        "appr.overdue": {"zh": "已超期", "en": "overdue"},
        "appr.state": {"zh": "状态", "en": "State"},
        "appr.content": {"zh": "申请内容", "en": "Content"},
        "appr.history": {"zh": "审批记录", "en": "History"},
        "appr.comment": {"zh": "审批意见", "en": "Comment"},
        "appr.attach": {"zh": "拖放或点击添加附件", "en": "Drop or click to attach a file"},
        "appr.apply_error": {"zh": "执行失败：", "en": "Applying failed: "},
        "appr.done": {"zh": "申请 #{id} 已处理：{state}", "en": "Request #{id}: {state}"},
        "appr.refused": {"zh": "操作被拒绝：{error}", "en": "Refused: {error}"},
        "appr.state.pending": {"zh": "审批中", "en": "pending"},
        "appr.state.returned": {"zh": "已退回修改", "en": "returned for changes"},
        "appr.state.approved": {"zh": "已通过", "en": "approved"},
        "appr.state.rejected": {"zh": "已驳回", "en": "rejected"},
        "appr.state.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
        "appr.action.submit": {"zh": "提交", "en": "submitted"},
        "appr.action.approve": {"zh": "同意", "en": "approved"},
        "appr.action.reject": {"zh": "驳回", "en": "rejected"},
        "appr.action.return": {"zh": "退回修改", "en": "returned"},
        "appr.action.resubmit": {"zh": "重新提交", "en": "resubmitted"},
        "appr.action.withdraw": {"zh": "撤回", "en": "withdrawn"},
        "appr.action.apply_failed": {"zh": "执行失败", "en": "apply failed"},
        "appr.btn.approve": {"zh": "同意", "en": "Approve"},
        "appr.btn.return": {"zh": "退回修改", "en": "Return for changes"},
        "appr.btn.reject": {"zh": "驳回", "en": "Reject"},
        "appr.btn.withdraw": {"zh": "撤回", "en": "Withdraw"},
        "appr.btn.resubmit": {"zh": "重新提交", "en": "Resubmit"},
        "appr.payload_json": {
            "zh": "修改后的申请内容（JSON）",
            "en": "Changed content (JSON)",
        },
        "appr.bad_json": {
            "zh": "申请内容不是有效的 JSON 对象：{error}",
            "en": "The content is not a JSON object: {error}",
        },
        "appr.new.title": {"zh": "新建通用审批", "en": "New general request"},
        "appr.new.subject": {"zh": "标题", "en": "Subject"},
        "appr.new.description": {"zh": "说明", "en": "Description"},
        "appr.new.submit": {"zh": "提交申请", "en": "Submit"},
        "appr.new.done": {"zh": "已提交申请 #{id}", "en": "Request #{id} submitted"},
        "appr.def.select": {"zh": "选择定义", "en": "Definition"},
        "appr.def.new": {"zh": "（新建定义）", "en": "(new definition)"},
        "appr.def.all_ent": {"zh": "全部企业", "en": "every enterprise"},
        "appr.def.any_level": {"zh": "任意级别", "en": "any level"},
        "appr.def.level": {"zh": "级别（如报警优先级，留空为任意）", "en": "Level (blank: any)"},
        "appr.def.name": {"zh": "名称", "en": "Name"},
        "appr.def.active": {"zh": "启用", "en": "Active"},
        "appr.def.steps": {"zh": "审批步骤", "en": "Steps"},
        "appr.def.step_name": {"zh": "步骤名称", "en": "Step name"},
        "appr.def.groups": {"zh": "审批组代码（逗号分隔）", "en": "Group codes (comma)"},
        "appr.def.roles": {"zh": "登录角色", "en": "Login roles"},
        "appr.def.deadline": {"zh": "期限(小时)", "en": "Deadline (h)"},
        "appr.def.remind": {"zh": "提醒间隔(小时)", "en": "Remind every (h)"},
        "appr.def.add_step": {"zh": "添加步骤", "en": "Add step"},
        "appr.def.remove_step": {"zh": "删除最后一步", "en": "Remove last step"},
        "appr.def.save": {"zh": "保存", "en": "Save"},
        "appr.def.delete": {"zh": "删除定义", "en": "Delete"},
        "appr.def.saved": {"zh": "已保存定义 #{id}", "en": "Definition #{id} saved"},
        "appr.def.deleted": {"zh": "已删除定义 #{id}", "en": "Definition #{id} deleted"},
        "appr.def.bad_number": {
            "zh": "第 {row} 步：{field} 须为正数",
            "en": "Step {row}: {field} must be a positive number",
        },
    }
)


# -- helpers --------------------------------------------------------------------------------------


def _state_label(state: str) -> str:
    return i18n.t(f"appr.state.{state}")


def _payload_view(payload: dict[str, Any]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Th(str(k)),
                html.Td(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)),
            ]
        )
        for k, v in payload.items()
    ]
    return html.Table(html.Tbody(rows), className="hw-table")


def _history_view(conn: psycopg.Connection, inst: Instance) -> html.Ol:
    items = []
    for h in approvals.history(conn, inst.id):
        links = [
            html.A(
                f["name"],
                href=f"/approvals/attachment/{f['id']}",
                className="appr-attachment",
                style={"marginLeft": "8px"},
            )
            for f in h["attachments"]
        ]
        step = f" · {h['step']}" if h["step"] else ""
        items.append(
            html.Li(
                [
                    html.Span(i18n.fmt_datetime(h["at"]), className="hw-muted"),
                    f" {h['actor']} {i18n.t('appr.action.' + h['action'])}{step}",
                    html.Span(f"：{h['comment']}" if h["comment"] else "", className="appr-note"),
                    *links,
                ],
                className=f"appr-history-{h['action']}",
            )
        )
    return html.Ol(items, className="appr-history")


def _summary(inst: Instance) -> list[Any]:
    t = i18n.t
    lang = i18n.current_lang()
    step = inst.current
    facts = [
        (t("appr.kind"), approvals.kind_title(inst.kind, lang)),
        (t("appr.enterprise"), inst.enterprise or t("appr.def.all_ent")),
        (t("appr.requester"), inst.requester),
        (t("appr.submitted"), i18n.fmt_datetime(inst.submitted_at)),
        (t("appr.state"), _state_label(inst.state)),
    ]
    if step is not None:
        facts.append((t("appr.step"), f"{step.position}/{len(inst.steps)} {step.name}"))
    if inst.step_due is not None:
        facts.append((t("appr.due"), i18n.fmt_datetime(inst.step_due)))
    out: list[Any] = [
        html.H3(f"#{inst.id} {inst.subject}", className="appr-subject"),
        html.P(" · ".join(f"{k}：{v}" for k, v in facts), className="hw-muted appr-facts"),
    ]
    if inst.apply_error:
        out.append(html.Div(t("appr.apply_error") + inst.apply_error, className="hw-error"))
    return out


def _card(conn: psycopg.Connection, inst: Instance, controls: list[Any]) -> html.Div:
    t = i18n.t
    return html.Div(
        [
            *_summary(inst),
            html.H4(t("appr.content")),
            _payload_view(inst.payload),
            html.H4(t("appr.history")),
            _history_view(conn, inst),
            *controls,
        ],
        className="hw-card appr-card",
        id=f"appr-card-{inst.id}",
        style={"marginBottom": "12px"},
    )


def _decision_controls(iid: int) -> list[Any]:
    t = i18n.t
    return [
        dcc.Textarea(
            id={"type": "appr-comment", "iid": iid},
            placeholder=t("appr.comment"),
            className="hw-input",
            style={"width": "100%", "minHeight": "60px"},
        ),
        dcc.Upload(
            id={"type": "appr-upload", "iid": iid},
            children=html.Div(t("appr.attach")),
            className="hw-muted",
            style={"border": "1px dashed #aab", "padding": "6px", "margin": "6px 0"},
        ),
        html.Div(
            [
                html.Button(
                    t(f"appr.btn.{a}"),
                    id={"type": "appr-act", "iid": iid, "action": a},
                    className="hw-btn",
                    n_clicks=0,
                    style={"marginRight": "8px"},
                )
                for a in DECISIONS
            ]
        ),
    ]


def _requester_controls(inst: Instance) -> list[Any]:
    t = i18n.t
    out: list[Any] = []
    if inst.state == "returned":
        out += [
            html.Label(t("appr.payload_json")),
            dcc.Textarea(
                id={"type": "appr-payload", "iid": inst.id},
                value=json.dumps(inst.payload, ensure_ascii=False, indent=2),
                className="hw-input",
                style={"width": "100%", "minHeight": "80px", "fontFamily": "monospace"},
            ),
        ]
    if inst.state in ("pending", "returned"):
        out.append(
            dcc.Textarea(
                id={"type": "appr-mine-comment", "iid": inst.id},
                placeholder=t("appr.comment"),
                className="hw-input",
                style={"width": "100%", "minHeight": "40px"},
            )
        )
        actions = ["withdraw"] + (["resubmit"] if inst.state == "returned" else [])
        out.append(
            html.Div(
                [
                    html.Button(
                        t(f"appr.btn.{a}"),
                        id={"type": "appr-mine-act", "iid": inst.id, "action": a},
                        className="hw-btn",
                        n_clicks=0,
                        style={"marginRight": "8px"},
                    )
                    for a in actions
                ]
            )
        )
    return out


def _save_upload(folder: Path, contents: str | None, filename: str | None) -> list[Path]:
    """A dcc.Upload data URL written to ``folder`` under its own name (checked by the engine)."""
    if not contents or not filename:
        return []
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        raise ApprovalError(f"{filename}: the upload arrived damaged") from None
    path = folder / Path(filename).name
    path.write_bytes(data)
    return [path]


# -- inbox ----------------------------------------------------------------------------------------


def _inbox_cards(user: auth.WebUser) -> list[Any]:
    with auth.db_pool().connection() as conn:
        items = approvals.inbox(conn, user.id)
        cards = [_card(conn, inst, _decision_controls(inst.id)) for inst in items]
    return cards or [html.P(i18n.t("appr.inbox.empty"), className="hw-muted", id="appr-empty")]


def inbox_layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return forbidden()
    return html.Div(
        [
            html.H1(i18n.t("appr.inbox.title"), id="page-title"),
            html.Div(id="appr-msg", role="alert"),
            html.Div(_inbox_cards(user), id="appr-inbox-list"),
        ]
    )


# -- my requests ----------------------------------------------------------------------------------


def _mine_cards(user: auth.WebUser) -> list[Any]:
    with auth.db_pool().connection() as conn:
        items = approvals.my_requests(conn, user.id)
        cards = [_card(conn, inst, _requester_controls(inst)) for inst in items]
    return cards or [html.P(i18n.t("appr.mine.empty"), className="hw-muted", id="appr-empty")]


def mine_layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        cond, params = user.scope.condition("e.id")
        rows = conn.execute(
            sql.SQL(
                "SELECT e.id, e.name FROM registry.enterprise e WHERE {} ORDER BY e.name LIMIT 500"
            ).format(cond),
            params,
        ).fetchall()
    new = html.Details(
        [
            html.Summary(t("appr.new.title")),
            dcc.Dropdown(
                id="appr-new-enterprise",
                options=[{"label": n, "value": i} for i, n in rows],
                value=user.enterprise_id,
                placeholder=t("appr.enterprise"),
                className="hw-dropdown",
            ),
            dcc.Input(
                id="appr-new-subject", placeholder=t("appr.new.subject"), className="hw-input"
            ),
            dcc.Textarea(
                id="appr-new-description",
                placeholder=t("appr.new.description"),
                className="hw-input",
                style={"width": "100%"},
            ),
            html.Button(t("appr.new.submit"), id="appr-new-submit", className="hw-btn", n_clicks=0),
        ],
        className="hw-card",
        style={"marginBottom": "12px"},
    )
    return html.Div(
        [
            html.H1(t("appr.mine.title"), id="page-title"),
            new,
            html.Div(id="appr-mine-msg", role="alert"),
            html.Div(_mine_cards(user), id="appr-mine-list"),
        ]
    )


# -- definitions ----------------------------------------------------------------------------------


def _def_options(conn: psycopg.Connection) -> list[dict[str, Any]]:
    t = i18n.t
    names = dict(conn.execute("SELECT id, name FROM registry.enterprise").fetchall())
    opts = [{"label": t("appr.def.new"), "value": "new"}]
    for d in list_definitions(conn):
        ent = names.get(d.enterprise_id, t("appr.def.all_ent"))
        level = d.level or t("appr.def.any_level")
        label = f"{approvals.kind_title(d.kind, i18n.current_lang())} ({d.kind}) · {ent} · {level}"
        opts.append({"label": label, "value": str(d.id)})
    return opts


def _step_rows(steps: Sequence[dict[str, Any]]) -> list[Any]:
    t = i18n.t
    head = html.Tr(
        [
            html.Th("#"),
            html.Th(t("appr.def.step_name")),
            html.Th(t("appr.def.groups")),
            html.Th(t("appr.def.roles")),
            html.Th(t("appr.def.deadline")),
            html.Th(t("appr.def.remind")),
        ]
    )
    rows = []
    for i, s in enumerate(steps):
        rows.append(
            html.Tr(
                [
                    html.Td(str(i + 1)),
                    html.Td(dcc.Input(id={"type": "def-name", "row": i}, value=s.get("name"))),
                    html.Td(dcc.Input(id={"type": "def-groups", "row": i}, value=s.get("groups"))),
                    html.Td(
                        dcc.Dropdown(
                            id={"type": "def-roles", "row": i},
                            options=[{"label": i18n.t("role." + r), "value": r} for r in ROLES],
                            value=s.get("roles") or [],
                            multi=True,
                            style={"minWidth": "180px"},
                        )
                    ),
                    html.Td(
                        dcc.Input(
                            id={"type": "def-deadline", "row": i},
                            type="number",
                            value=s.get("deadline"),
                            style={"width": "90px"},
                        )
                    ),
                    html.Td(
                        dcc.Input(
                            id={"type": "def-remind", "row": i},
                            type="number",
                            value=s.get("remind"),
                            style={"width": "90px"},
                        )
                    ),
                ]
            )
        )
    return [html.Table([html.Thead(head), html.Tbody(rows)], className="hw-table")]


def _step_dicts(steps: Sequence[Step]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "groups": ", ".join(s.approver_groups),
            "roles": list(s.approver_roles),
            "deadline": s.deadline_hours,
            "remind": s.remind_every_hours,
        }
        for s in steps
    ]


def defs_layout(id: str | None = None, **_query: Any) -> html.Div:  # id: the URL's ?id=
    user = auth.current_user()
    if user is None or not user.is_admin:
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        options = _def_options(conn)
        kinds = sorted({d.kind for d in list_definitions(conn)} | set(approvals.KINDS))
        ents = conn.execute("SELECT id, name FROM registry.enterprise ORDER BY name").fetchall()
    field = {"style": {"display": "grid", "gap": "4px", "margin": "6px 0"}}
    lang = i18n.current_lang()
    return html.Div(
        [
            html.H1(t("appr.defs.title"), id="page-title"),
            html.Label(t("appr.def.select"), htmlFor="appr-def-select"),
            dcc.Dropdown(
                id="appr-def-select",
                options=options,
                value=id if id and any(o["value"] == id for o in options) else "new",
                clearable=False,
                className="hw-dropdown",
            ),
            html.Div(
                [
                    html.Label(t("appr.kind")),
                    dcc.Dropdown(
                        id="appr-def-kind",
                        options=[
                            {"label": f"{approvals.kind_title(k, lang)} ({k})", "value": k}
                            for k in kinds
                        ],
                        className="hw-dropdown",
                    ),
                    html.Label(t("appr.enterprise")),
                    dcc.Dropdown(
                        id="appr-def-enterprise",
                        options=[{"label": n, "value": i} for i, n in ents],
                        placeholder=t("appr.def.all_ent"),
                        className="hw-dropdown",
                    ),
                    html.Label(t("appr.def.level")),
                    dcc.Input(id="appr-def-level", className="hw-input"),
                    html.Label(t("appr.def.name")),
                    dcc.Input(id="appr-def-name", className="hw-input"),
                    dcc.Checklist(
                        id="appr-def-active",
                        options=[{"label": t("appr.def.active"), "value": "on"}],
                        value=["on"],
                    ),
                ],
                **field,
            ),
            html.H3(t("appr.def.steps")),
            html.Div(_step_rows([{}]), id="appr-def-steps"),
            html.Div(
                [
                    html.Button(t("appr.def.add_step"), id="appr-def-add", className="hw-btn"),
                    html.Button(
                        t("appr.def.remove_step"), id="appr-def-remove", className="hw-btn"
                    ),
                    html.Button(t("appr.def.save"), id="appr-def-save", className="hw-btn"),
                    html.Button(t("appr.def.delete"), id="appr-def-delete", className="hw-btn"),
                ],
                style={"display": "flex", "gap": "8px", "margin": "10px 0"},
            ),
            html.Div(id="appr-def-msg", role="alert"),
        ]
    )


def _number(value: Any, row: int, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise ApprovalError(i18n.t("appr.def.bad_number", row=row, field=i18n.t(field)))
    return number


def _steps_from_form(
    names: list[Any], groups: list[Any], roles: list[Any], deadlines: list[Any], reminds: list[Any]
) -> list[Step]:
    steps = []
    for i, (n, g, r, d, m) in enumerate(
        zip(names, groups, roles, deadlines, reminds, strict=True), start=1
    ):
        remind = _number(m, i, "appr.def.remind")
        steps.append(
            Step(
                i,
                n or "",
                tuple(c.strip() for c in (g or "").replace("，", ",").split(",") if c.strip()),
                tuple(r or ()),
                _number(d, i, "appr.def.deadline"),
                remind or 24.0,
            )
        )
    return steps


# -- registration -------------------------------------------------------------------------------


def attachment_view(attachment_id: int) -> Response:
    """Download an attachment (only for users who may see its request)."""
    user = auth.current_user()
    if user is None:
        abort(401)
    with auth.db_pool().connection() as conn:
        try:
            meta = approvals.attachment(conn, attachment_id)
        except ApprovalError:
            abort(404)
        if not approvals.can_view(conn, user.id, meta["instance_id"]):
            abort(403)
    path = approval_files.path_of(auth.app_home(), meta["sha256"])
    if not path.is_file():
        abort(404)
    from urllib.parse import quote

    return Response(
        path.read_bytes(),
        mimetype=meta["content_type"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta['name'])}",
            "Cache-Control": "private, no-store",
        },
    )


def register(app: dash.Dash) -> None:
    for path, name, layout_fn, order, title_key, nav_key, roles in (
        (INBOX, "approvals", inbox_layout, 50, "appr.inbox.title", "nav.approvals", None),
        (MINE, "my requests", mine_layout, 51, "appr.mine.title", "nav.approvals_mine", None),
        (DEFS, "approval definitions", defs_layout, 52, "appr.defs.title", "nav.approval_defs",
         {"admin"}),
    ):  # fmt: skip
        module = f"{__name__}.{name.replace(' ', '_')}"
        register_page(module, path, name, order, layout_fn, title=title_key, nav=nav_key,
                      roles=roles)  # fmt: skip
    if "approval_attachment" not in app.server.view_functions:
        app.server.add_url_rule(
            "/approvals/attachment/<int:attachment_id>", "approval_attachment", attachment_view
        )

    @app.callback(
        Output("appr-msg", "children"),
        Output("appr-inbox-list", "children"),
        Input({"type": "appr-act", "iid": ALL, "action": ALL}, "n_clicks"),
        State({"type": "appr-comment", "iid": ALL}, "value"),
        State({"type": "appr-comment", "iid": ALL}, "id"),
        State({"type": "appr-upload", "iid": ALL}, "contents"),
        State({"type": "appr-upload", "iid": ALL}, "filename"),
        State({"type": "appr-upload", "iid": ALL}, "id"),
        prevent_initial_call=True,
    )
    def decide(
        _clicks: list[int],
        comments: list[str | None],
        comment_ids: list[dict[str, Any]],
        contents: list[str | None],
        filenames: list[str | None],
        upload_ids: list[dict[str, Any]],
    ) -> tuple[Any, Any]:
        button = clicked()
        if button is None:
            raise dash.exceptions.PreventUpdate
        user, actor = signed_in()
        iid, action = int(button["iid"]), str(button["action"])
        comment = value_at(comments, comment_ids, "iid", iid)
        msg: Any
        try:
            with tempfile.TemporaryDirectory() as tmp, auth.db_pool().connection() as conn:
                files = _save_upload(
                    Path(tmp),
                    value_at(contents, upload_ids, "iid", iid),
                    value_at(filenames, upload_ids, "iid", iid),
                )
                state = approvals.act(
                    conn, actor, iid, action, comment, attachments=files, home=auth.app_home()
                )
            msg = message(i18n.t("appr.done", id=iid, state=_state_label(state)), True, "appr-done")
        except ApprovalError as exc:
            msg = message(i18n.t("appr.refused", error=str(exc)), False, "appr-error")
        return msg, _inbox_cards(user)

    @app.callback(
        Output("appr-mine-msg", "children"),
        Output("appr-mine-list", "children"),
        Input({"type": "appr-mine-act", "iid": ALL, "action": ALL}, "n_clicks"),
        Input("appr-new-submit", "n_clicks"),
        State({"type": "appr-mine-comment", "iid": ALL}, "value"),
        State({"type": "appr-mine-comment", "iid": ALL}, "id"),
        State({"type": "appr-payload", "iid": ALL}, "value"),
        State({"type": "appr-payload", "iid": ALL}, "id"),
        State("appr-new-enterprise", "value"),
        State("appr-new-subject", "value"),
        State("appr-new-description", "value"),
        prevent_initial_call=True,
    )
    def requester_action(
        _clicks: list[int],
        _new: int | None,
        comments: list[str | None],
        comment_ids: list[dict[str, Any]],
        payloads: list[str | None],
        payload_ids: list[dict[str, Any]],
        new_enterprise: int | None,
        new_subject: str | None,
        new_description: str | None,
    ) -> tuple[Any, Any]:
        user, actor = signed_in()
        msg: Any
        try:
            if ctx.triggered_id == "appr-new-submit":
                if not _new:
                    raise dash.exceptions.PreventUpdate
                with auth.db_pool().connection() as conn:
                    iid = approvals.submit(
                        conn,
                        actor,
                        kind=approvals.GENERAL,
                        enterprise_id=new_enterprise,
                        subject=new_subject or "",
                        payload={"description": (new_description or "").strip()},
                    )
                text = i18n.t("appr.new.done", id=iid)
            else:
                button = clicked()
                if button is None:
                    raise dash.exceptions.PreventUpdate
                iid, action = int(button["iid"]), str(button["action"])
                payload = None
                if action == "resubmit":
                    raw = value_at(payloads, payload_ids, "iid", iid)
                    try:
                        payload = json.loads(raw or "{}")
                    except ValueError as exc:
                        raise ApprovalError(i18n.t("appr.bad_json", error=exc)) from None
                    if not isinstance(payload, dict):
                        raise ApprovalError(i18n.t("appr.bad_json", error=type(payload).__name__))
                comment = value_at(comments, comment_ids, "iid", iid)
                with auth.db_pool().connection() as conn:
                    state = approvals.act(conn, actor, iid, action, comment, payload=payload)
                text = i18n.t("appr.done", id=iid, state=_state_label(state))
            msg = message(text, True, "appr-done")
        except ApprovalError as exc:
            msg = message(i18n.t("appr.refused", error=str(exc)), False, "appr-error")
        return msg, _mine_cards(user)

    @app.callback(
        Output("appr-def-kind", "value"),
        Output("appr-def-enterprise", "value"),
        Output("appr-def-level", "value"),
        Output("appr-def-name", "value"),
        Output("appr-def-active", "value"),
        Output("appr-def-steps", "children"),
        Input("appr-def-select", "value"),
        Input("appr-def-add", "n_clicks"),
        Input("appr-def-remove", "n_clicks"),
        State({"type": "def-name", "row": ALL}, "value"),
        State({"type": "def-groups", "row": ALL}, "value"),
        State({"type": "def-roles", "row": ALL}, "value"),
        State({"type": "def-deadline", "row": ALL}, "value"),
        State({"type": "def-remind", "row": ALL}, "value"),
    )
    def load_definition(
        selected: str | None,
        _add: int | None,
        _remove: int | None,
        names: list[Any],
        groups: list[Any],
        roles: list[Any],
        deadlines: list[Any],
        reminds: list[Any],
    ) -> tuple[Any, ...]:
        user = auth.current_user()
        if user is None or not user.is_admin:
            raise dash.exceptions.PreventUpdate
        no = dash.no_update
        if ctx.triggered_id in ("appr-def-add", "appr-def-remove"):
            rows = [
                {"name": n, "groups": g, "roles": r, "deadline": d, "remind": m}
                for n, g, r, d, m in zip(names, groups, roles, deadlines, reminds, strict=True)
            ]
            if ctx.triggered_id == "appr-def-add":
                rows.append({"remind": 24})
            elif len(rows) > 1:
                rows.pop()
            return no, no, no, no, no, _step_rows(rows)
        if not selected or selected == "new":
            return None, None, "", "", ["on"], _step_rows([{"remind": 24}])
        with auth.db_pool().connection() as conn:
            d = get_definition(conn, int(selected))
        return (
            d.kind,
            d.enterprise_id,
            d.level,
            d.name or "",
            ["on"] if d.active else [],
            _step_rows(_step_dicts(d.steps)),
        )

    @app.callback(
        Output("appr-def-msg", "children"),
        Output("appr-def-select", "options"),
        Output("appr-def-select", "value"),
        Input("appr-def-save", "n_clicks"),
        Input("appr-def-delete", "n_clicks"),
        State("appr-def-select", "value"),
        State("appr-def-kind", "value"),
        State("appr-def-enterprise", "value"),
        State("appr-def-level", "value"),
        State("appr-def-name", "value"),
        State("appr-def-active", "value"),
        State({"type": "def-name", "row": ALL}, "value"),
        State({"type": "def-groups", "row": ALL}, "value"),
        State({"type": "def-roles", "row": ALL}, "value"),
        State({"type": "def-deadline", "row": ALL}, "value"),
        State({"type": "def-remind", "row": ALL}, "value"),
        prevent_initial_call=True,
    )
    def save(
        _save: int | None,
        _delete: int | None,
        selected: str | None,
        kind: str | None,
        enterprise_id: int | None,
        level: str | None,
        name: str | None,
        active: list[str] | None,
        names: list[Any],
        groups: list[Any],
        roles: list[Any],
        deadlines: list[Any],
        reminds: list[Any],
    ) -> tuple[Any, Any, Any]:
        if not fired():
            raise dash.exceptions.PreventUpdate
        _user, actor = signed_in()
        existing = None if not selected or selected == "new" else int(selected)
        try:
            with auth.db_pool().connection() as conn:
                if ctx.triggered_id == "appr-def-delete":
                    if existing is None:
                        raise dash.exceptions.PreventUpdate
                    delete_definition(conn, actor, existing)
                    text, value = i18n.t("appr.def.deleted", id=existing), "new"
                else:
                    steps = _steps_from_form(names, groups, roles, deadlines, reminds)
                    def_id = save_definition(
                        conn,
                        actor,
                        kind=kind or "",
                        steps=steps,
                        enterprise_id=enterprise_id,
                        level=level or "",
                        name=(name or "").strip() or None,
                        active=bool(active),
                        definition_id=existing,
                    )
                    text, value = i18n.t("appr.def.saved", id=def_id), str(def_id)
                options = _def_options(conn)
        except ApprovalError as exc:
            msg = message(i18n.t("appr.refused", error=str(exc)), False, "appr-def-error")
            return msg, dash.no_update, dash.no_update
        return message(text, True, "appr-def-done"), options, value
