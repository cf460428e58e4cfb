"""Dashboards of the signed-in user and the shared ones of its scope (D1): search, create,
duplicate, delete, import and export as JSON.

Export is a plain download, ``GET /dashboards/export/<uid>.json`` (session and scope checked
like every page); import reads an uploaded file and names each problem with its JSON path.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from flask import Response, abort

from dashboards import auth, i18n
from dashboards import layout as shell
from dashboards.panels import spec, store
from dashboards.panels.store import Dashboard, StoreError

#: Uploaded dashboard files larger than this are refused before parsing.
MAX_IMPORT_BYTES = 1_000_000

i18n.register(
    {
        "nav.dashboards": {"zh": "监测看板", "en": "Dashboards"},
        "dl.title": {"zh": "监测看板", "en": "Dashboards"},
        "dl.search": {"zh": "搜索看板", "en": "Search dashboards"},
        "dl.new_title": {"zh": "新看板名称", "en": "New dashboard title"},
        "dl.create": {"zh": "新建看板", "en": "New dashboard"},
        "dl.import": {
            "zh": "导入 JSON（拖放或点击选择文件）",
            "en": "Import JSON (drop or click to choose a file)",
        },
        "dl.export": {"zh": "导出", "en": "Export"},
        "dl.duplicate": {"zh": "复制", "en": "Duplicate"},
        "dl.delete": {"zh": "删除", "en": "Delete"},
        "dl.edit": {"zh": "编辑", "en": "Edit"},
        "dl.owner": {"zh": "所有者", "en": "Owner"},
        "dl.shared": {"zh": "共享", "en": "Shared"},
        "dl.mine": {"zh": "我的", "en": "Mine"},
        "dl.platform": {"zh": "平台预置", "en": "Platform"},
        "dl.enterprise": {"zh": "企业", "en": "Enterprise"},
        "dl.updated": {"zh": "更新时间", "en": "Updated"},
        "dl.actions": {"zh": "操作", "en": "Actions"},
        "dl.name": {"zh": "名称", "en": "Title"},
        "dl.kind": {"zh": "类型", "en": "Kind"},
        "dl.empty": {"zh": "没有看板。", "en": "No dashboards."},
        "dl.created": {"zh": "已创建看板 {title}。", "en": "Created dashboard {title}."},
        "dl.imported": {"zh": "已导入看板 {title}。", "en": "Imported dashboard {title}."},
        "dl.copied": {"zh": "已复制为 {title}。", "en": "Copied as {title}."},
        "dl.deleted": {"zh": "已删除看板。", "en": "Dashboard deleted."},
        "dl.import_failed": {"zh": "导入失败（{name}）：", "en": "Import failed ({name}):"},
        "dl.failed": {"zh": "操作失败：{error}", "en": "Failed: {error}"},
        "dl.too_big": {"zh": "文件超过 1 MB。", "en": "The file is larger than 1 MB."},
        "dl.copy_suffix": {"zh": "（副本）", "en": " (copy)"},
    }
)


def _rows(boards: list[Dashboard], user: auth.WebUser) -> html.Div:
    t = i18n.t
    if not boards:
        return html.Div(t("dl.empty"), className="hw-muted", id="dl-table")
    headers = [
        t("dl.name"),
        t("dl.kind"),
        t("dl.owner"),
        t("dl.enterprise"),
        t("dl.updated"),
        t("dl.actions"),
    ]
    body = []
    for b in boards:
        kind = t("dl.shared") if b.shared else t("dl.mine")
        actions: list[Any] = [
            html.A(
                t("dl.export"),
                href=f"/dashboards/export/{b.uid}.json",
                download=f"{b.uid}.json",
                className="dl-action",
                id=f"dl-export-{b.uid}",
            ),
        ]
        if store.can_create(user):
            actions.append(
                html.Button(
                    t("dl.duplicate"),
                    id={"type": "dl-dup", "uid": b.uid},
                    n_clicks=0,
                    className="hw-btn dl-action",
                )
            )
        if store.can_edit(user, b):
            actions.append(
                dcc.Link(
                    t("dl.edit"),
                    href=f"/dashboard-edit/{b.uid}",
                    className="dl-action",
                    id=f"dl-edit-{b.uid}",
                )
            )
            actions.append(
                html.Button(
                    t("dl.delete"),
                    id={"type": "dl-del", "uid": b.uid},
                    n_clicks=0,
                    className="hw-btn hw-btn-danger dl-action",
                )
            )
        cells = [
            dcc.Link(b.title, href=f"/d/{b.uid}", className="dl-open", id=f"dl-open-{b.uid}"),
            kind,
            b.owner or t("dl.platform"),
            b.enterprise or "-",
            i18n.fmt_datetime(b.updated_at),
            html.Span(actions, className="dl-actions"),
        ]
        body.append(
            html.Tr([html.Td(c, **{"data-label": h}) for h, c in zip(headers, cells, strict=True)])
        )
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(body)],
        className="hw-table",
        id="dl-table",
    )
    return html.Div(table, className="hw-scroll")


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    tools: list[Any] = []
    if store.can_create(user):
        tools = [
            html.Div(
                className="hw-filters",
                children=[
                    dcc.Input(
                        id="dl-new-title",
                        placeholder=t("dl.new_title"),
                        className="hw-input",
                        maxLength=200,
                    ),
                    html.Button(t("dl.create"), id="dl-create", n_clicks=0, className="hw-btn"),
                ],
            ),
            dcc.Upload(
                id="dl-upload",
                children=html.Div(t("dl.import")),
                className="dl-upload",
                accept=".json,application/json",
                max_size=MAX_IMPORT_BYTES,
            ),
        ]
    else:  # callbacks list these ids as inputs: present but hidden
        tools = [
            dcc.Input(id="dl-new-title", style={"display": "none"}),
            html.Button(id="dl-create", n_clicks=0, style={"display": "none"}),
            dcc.Upload(id="dl-upload", style={"display": "none"}),
        ]
    return html.Div(
        [
            html.H1(t("dl.title"), id="page-title"),
            html.Div(
                className="hw-filters",
                children=[
                    dcc.Input(
                        id="dl-search",
                        type="search",
                        placeholder=t("dl.search"),
                        debounce=True,
                        className="hw-input",
                    ),
                ],
            ),
            *tools,
            html.Div(id="dl-msg", role="status"),
            html.Div(id="dl-list"),
            dcc.Location(id="dl-go", refresh="callback-nav"),
        ]
    )


def _upload_text(contents: str) -> bytes:
    _, _, data = contents.partition(",")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise spec.SpecError(["file: could not be read"]) from None


def export_view(uid: str) -> Response:
    """``GET /dashboards/export/<uid>.json``: the dashboard as a JSON file."""
    user = auth.current_user()
    if user is None:
        abort(401)
    with auth.db_pool().connection() as conn:
        board = store.get(conn, user, uid)
    if board is None:
        abort(404, description="no such dashboard")
    body = json.dumps(store.export_document(board), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{uid}.json"'},
    )


def register(app: dash.Dash) -> None:
    shell.register_page(
        __name__, "/dashboards", "dashboards", 20, layout, title="dl.title", after="/"
    )
    app.server.add_url_rule(
        "/dashboards/export/<uid>.json", "dashboard_export", export_view, methods=["GET"]
    )

    @app.callback(
        Output("dl-list", "children"),
        Output("dl-msg", "children"),
        Output("dl-msg", "className"),
        Output("dl-go", "href"),
        Input("dl-search", "value"),
        Input("dl-create", "n_clicks"),
        Input("dl-upload", "contents"),
        Input({"type": "dl-dup", "uid": ALL}, "n_clicks"),
        Input({"type": "dl-del", "uid": ALL}, "n_clicks"),
        State("dl-new-title", "value"),
        State("dl-upload", "filename"),
    )
    def act(
        search: str | None,
        _create: int | None,
        contents: str | None,
        _dups: list[int | None],
        _dels: list[int | None],
        new_title: str | None,
        filename: str | None,
    ) -> tuple[Any, Any, str, Any]:
        user = auth.current_user()
        if user is None:
            raise dash.exceptions.PreventUpdate
        t = i18n.t
        trigger = ctx.triggered_id
        message: Any = ""
        tone = ""
        go: Any = no_update
        with auth.db_pool().connection() as conn:
            try:
                if trigger == "dl-create" and _create:
                    uid = store.create(conn, user, new_title or "", spec.empty_definition())
                    go = f"/dashboard-edit/{uid}"
                    message, tone = t("dl.created", title=(new_title or "").strip()), "hw-ok"
                elif trigger == "dl-upload" and contents:
                    text = _upload_text(contents)
                    uid = store.import_document(conn, user, text)
                    board = store.get(conn, user, uid)
                    message = t("dl.imported", title=board.title if board else uid)
                    tone = "hw-ok"
                elif isinstance(trigger, dict) and ctx.triggered[0]["value"]:
                    if trigger["type"] == "dl-dup":
                        uid = store.duplicate(conn, user, trigger["uid"], t("dl.copy_suffix"))
                        board = store.get(conn, user, uid)
                        message, tone = t("dl.copied", title=board.title if board else uid), "hw-ok"
                    elif trigger["type"] == "dl-del":
                        store.delete(conn, user, trigger["uid"])
                        message, tone = t("dl.deleted"), "hw-ok"
            except spec.SpecError as exc:
                message = html.Div(
                    [
                        html.Div(t("dl.import_failed", name=filename or "-")),
                        html.Ul([html.Li(e) for e in exc.errors], id="dl-errors"),
                    ]
                )
                tone = "hw-error"
            except StoreError as exc:
                message, tone = t("dl.failed", error=str(exc)), "hw-error"
            boards = store.visible(conn, user, search)
        return _rows(boards, user), message, tone, go
