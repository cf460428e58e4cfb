"""承包商档案 (C1-C7, C8): the contractor archive on the shared register grid, one screen per
register (``/contractors/archive?r=contractor_personnel&q=张``): search, column filters,
paging, audited cell edits, CSV/XLSX export and import with a row-by-row error report.

Beside the grid: scans and photos of the clicked row (personnel, certificates,
qualifications, incidents; upload and download, sha256 shown), and on the personnel screen the
import of people with their ID-card numbers (which the grid's own import cannot seal) and, for
the roles that need it, the full ID-card number of the clicked person (the read is audited).
Contractor accounts get their own company's personnel, tools and certificates only.

Downloads: ``GET /contractors/attachment/<id>`` answers 404 for anything the user's scope does
not cover, so a forged id says nothing about other companies.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from flask import Response, abort

from dashboards import auth, i18n, registers_io
from dashboards.components import grid
from dashboards.layout import forbidden, register_page
from dashboards.register_specs import RegisterSpec, can_add_delete
from hazwatch.errors import HazwatchError
from workflows import approval_files
from workflows.contractors import archive_specs, attachments_ui
from workflows.contractors.pii import FULL_ID_ROLES, PiiError, Vault

PATH = "/contractors/archive"
DOWNLOAD = "/contractors/attachment/<int:attachment_id>"
PEOPLE = "contractor_personnel"
#: Controls of the grid that the personnel screen replaces: a person is registered with the
#: ID-card number (sealed), never as a bare employment row, and employments are kept (C13).
_PEOPLE_DROPS = frozenset({"reg-add", "reg-delete", "reg-confirm"})

i18n.register(
    {
        "nav.contractors_archive": {"zh": "承包商档案", "en": "Contractor archive"},
        "cxa.title": {"zh": "承包商档案", "en": "Contractor archive"},
        "cxa.pick": {"zh": "档案", "en": "Archive"},
        "cxa.row": {"zh": "当前记录", "en": "Selected record"},
        "cxa.row.none": {
            "zh": "点击表格中的一行以查看其附件",
            "en": "Click a row of the grid to see its attachments",
        },
        "cxa.att": {"zh": "附件（扫描件、照片）", "en": "Attachments (scans, photos)"},
        "cxa.att.upload": {
            "zh": "上传附件：拖放或点击选择（PDF、PNG、JPG，≤ 10 MiB）",
            "en": "Upload: drop or click (PDF, PNG, JPG, up to 10 MiB)",
        },
        "cxa.att.none": {"zh": "暂无附件", "en": "No attachments"},
        "cxa.att.done": {"zh": "已上传：{name}", "en": "Uploaded: {name}"},
        "cxa.att.pick_row": {"zh": "请先点击一行", "en": "Click a row first"},
        "cxa.people.import": {
            "zh": "导入人员（含身份证号）：拖放或点击选择 CSV/Excel",
            "en": "Import people (with ID-card numbers): drop or click a CSV/Excel file",
        },
        "cxa.people.template": {"zh": "下载导入模板", "en": "Download the template"},
        "cxa.people.done": {
            "zh": "导入完成：新增 {added} 人，更新 {updated} 人，错误 {errors} 处。",
            "en": "Imported: {added} added, {updated} updated, {errors} errors.",
        },
        "cxa.reveal": {"zh": "显示完整身份证号", "en": "Show the full ID-card number"},
        "cxa.reveal.note": {
            "zh": "查看记入审计日志；导出始终脱敏。",
            "en": "Each look is logged; exports are always masked.",
        },
        "cxa.reveal.none": {"zh": "无法解密（密钥不同）", "en": "cannot be opened (other key)"},
    }
)


def _strip(component: Any, drop: frozenset[str]) -> Any:
    """``component`` without the descendants whose id is in ``drop`` or that are the grid's
    own import section."""
    children = getattr(component, "children", None)
    if isinstance(children, list):
        kept = []
        for child in children:
            cid = getattr(child, "id", None)
            if cid in drop or getattr(child, "className", None) == "reg-import":
                continue
            kept.append(_strip(child, drop))
        component.children = kept
    return component


def _picker(specs: list[RegisterSpec], current: RegisterSpec, path: str) -> html.Nav:
    links = [
        dcc.Link(
            s.title(),
            href=f"{path}?r={s.key}",
            className="reg-link reg-link-active" if s.key == current.key else "reg-link",
            id=f"reg-link-{s.key}",
        )
        for s in specs
    ]
    return html.Nav(
        [html.Div(links, className="reg-group")],
        className="reg-picker",
        id="reg-picker",
        **{"aria-label": i18n.t("cxa.pick")},
    )


def report_table(errors: list[tuple[int, str, str]], table_id: str) -> Any:
    """Row, column, message of each refused row (the grid's import report, same look)."""
    if not errors:
        return ""
    t = i18n.t
    head = html.Tr([html.Th(t(k)) for k in ("reg.err.row", "reg.err.column", "reg.err.message")])
    body = [html.Tr([html.Td(str(r) if r else "-"), html.Td(c), html.Td(m)]) for r, c, m in errors]
    return html.Table([html.Thead(head), html.Tbody(body)], className="hw-table", id=table_id)


def _people_import() -> html.Div:
    t = i18n.t
    return html.Div(
        className="reg-import",
        id="ca-people-import",
        children=[
            html.Label(t("reg.import.mode"), htmlFor="ca-people-mode"),
            dcc.RadioItems(
                id="ca-people-mode",
                options=[
                    {"label": t("reg.import.all"), "value": "all"},
                    {"label": t("reg.import.valid"), "value": "valid"},
                ],
                value="all",
                inline=True,
            ),
            dcc.Upload(
                id="ca-people-upload",
                children=html.Div(t("cxa.people.import")),
                className="reg-upload",
                accept=".csv,.xlsx",
                multiple=False,
            ),
            html.Button(
                t("cxa.people.template"), id="ca-people-template", className="hw-btn", n_clicks=0
            ),
            dcc.Download(id="ca-people-template-file"),
            html.Div(id="ca-people-result", role="status"),
            html.Div(id="ca-people-report"),
        ],
    )


def _side(user: Any, spec: RegisterSpec) -> list[Any]:
    """Attachments of the clicked row, and the full ID number for the roles that need it."""
    t = i18n.t
    parts: list[Any] = []
    entity = attachments_ui.ATTACHABLE.get(spec.key, ("", ""))[0]
    if entity and attachments_ui.may_read(user.role, entity):
        # The clicked row; only where something uses it, so that no callback of this page
        # meets half of its outputs on another screen.
        parts.append(dcc.Store(id="ca-row", data=None))
        upload: Any = ""
        if attachments_ui.may_write(user.role, entity):
            upload = dcc.Upload(
                id="ca-att-upload",
                children=html.Div(t("cxa.att.upload")),
                className="reg-upload",
                accept=",".join(attachments_ui.TYPES),
                multiple=False,
            )
        parts.append(
            html.Section(
                [
                    html.H2(t("cxa.att")),
                    html.P(t("cxa.row.none"), id="ca-row-label", className="hw-muted"),
                    html.Div(id="ca-att-list"),
                    upload,
                    html.Div(id="ca-att-msg", role="alert"),
                ],
                className="hw-card",
                id="ca-attachments",
            )
        )
    if spec.key == PEOPLE and user.role in FULL_ID_ROLES:
        parts.append(
            html.Section(
                [
                    html.Button(t("cxa.reveal"), id="ca-reveal", className="hw-btn", n_clicks=0),
                    html.Span(t("cxa.reveal.note"), className="hw-muted"),
                    html.Div(id="ca-reveal-out", role="status"),
                ],
                className="hw-card",
            )
        )
    return parts


def layout(r: str | None = None, q: str | None = None, **_query: Any) -> html.Div:
    """``/contractors/archive?r=<screen>&q=<search>``."""
    return screen(archive_specs.ARCHIVE_KEYS, PATH, "cxa.title", r, q)


def screen(keys: tuple[str, ...], path: str, title_key: str, r: str | None, q: str | None) -> Any:
    """A picker of ``keys`` and the grid of the chosen one (also the training page's frame)."""
    user = auth.current_user()
    if user is None:
        return html.Div()
    specs = archive_specs.visible(user, keys)
    spec = next((s for s in specs if s.key == r), specs[0] if specs else None)
    if spec is None:
        return forbidden()
    body: Any = grid.register_grid(spec, user, q or "")
    main: list[Any] = [html.H1(spec.title(), id="page-title", title=i18n.t(title_key))]
    if spec.key == PEOPLE:
        body = _strip(body, _PEOPLE_DROPS)
        main.append(body)
        if can_add_delete(user, spec):
            main.append(_people_import())
    else:
        main.append(body)
    main += _side(user, spec)
    return html.Div(
        className="reg-page cx-archive",
        children=[_picker(specs, spec, path), html.Div(main, className="reg-main")],
    )


def _attachment_list(rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return html.P(i18n.t("cxa.att.none"), className="hw-muted")
    items = [
        html.Li(
            [
                html.A(
                    r["file_name"],
                    href=f"/contractors/attachment/{r['id']}",
                    id=f"ca-att-{r['id']}",
                    className="ca-att-link",
                    **{"data-sha256": r["sha256"]},
                ),
                html.Span(
                    f" {r['size_bytes'] / 1024:.0f} KiB · sha256 {r['sha256'][:12]}… · "
                    + i18n.fmt_datetime(r["created_at"]),
                    className="hw-muted",
                ),
            ]
        )
        for r in rows
    ]
    return html.Ul(items, id="ca-att-items")


def _row_id(data: Any) -> int | None:
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None


def attachment_view(attachment_id: int) -> Response:
    """Download an attachment the user's scope covers; 404 otherwise."""
    user = auth.current_user()
    if user is None:
        abort(404)
    with auth.db_pool().connection() as conn:
        meta = attachments_ui.readable(conn, user, attachment_id)
    if meta is None:
        abort(404)
    path = approval_files.path_of(auth.app_home(), meta["sha256"])
    if not path.is_file():
        abort(404)
    data = path.read_bytes()
    from hashlib import sha256
    from urllib.parse import quote

    if sha256(data).hexdigest() != meta["sha256"]:  # the stored copy no longer matches
        abort(409, description="stored file fails its checksum")
    return Response(
        data,
        mimetype=meta["content_type"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta['file_name'])}",
            "Cache-Control": "private, no-store",
            "X-Content-SHA256": meta["sha256"],
        },
    )


def _log_pii_read(conn: Any, user: Any, person_id: int) -> None:
    conn.execute(
        "INSERT INTO audit.log (actor_id, actor, action, entity, entity_id, after, reason)"
        " VALUES (%s, %s, 'pii_read', 'contractor.person', %s, %s, %s)",
        (user.id, user.name, str(person_id), json.dumps({"field": "id_number"}), "archive screen"),
    )


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "contractors_archive",
        61,
        layout,
        title="cxa.title",
        roles={"admin", "engineer", "operator", "regulator", "contractor"},
    )
    if "contractor_attachment" not in app.server.view_functions:
        app.server.add_url_rule(DOWNLOAD, "contractor_attachment", attachment_view)

    @app.callback(
        Output("ca-row", "data"),
        Output("ca-row-label", "children"),
        Output("ca-att-list", "children"),
        Input("reg-grid", "cellClicked"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def pick_row(clicked: dict[str, Any] | None, key: str) -> tuple[Any, Any, Any]:
        user = auth.current_user()
        row_id = _row_id((clicked or {}).get("rowId"))
        if user is None or row_id is None:
            raise dash.exceptions.PreventUpdate
        with auth.db_pool().connection() as conn:
            target = attachments_ui.visible_target(conn, user, str(key), row_id)
            rows = [] if target is None else attachments_ui.attachments(conn, user, target)
        if target is None:
            return None, i18n.t("cxa.row.none"), ""
        label = f"{i18n.t('cxa.row')}：#{row_id}"
        return row_id, html.Span(label, id="ca-row-picked"), _attachment_list(rows)

    @app.callback(
        Output("ca-att-msg", "children"),
        Output("ca-att-list", "children", allow_duplicate=True),
        Output("ca-att-upload", "contents"),
        Input("ca-att-upload", "contents"),
        State("ca-att-upload", "filename"),
        State("ca-row", "data"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def upload(contents: str | None, name: str | None, row: Any, key: str) -> tuple[Any, Any, Any]:
        user = auth.current_user()
        if user is None or not contents or not name:
            raise dash.exceptions.PreventUpdate
        row_id = _row_id(row)
        if row_id is None:
            return html.Div(i18n.t("cxa.att.pick_row"), className="hw-error"), dash.no_update, None
        try:
            data = base64.b64decode(contents.split(",", 1)[1])
            with auth.db_pool().connection() as conn:
                target = attachments_ui.visible_target(conn, user, str(key), row_id)
                if target is None:
                    raise HazwatchError(i18n.t("reg.err.scope"))
                attachments_ui.upload(conn, user, target, name, data, home=auth.app_home())
                rows = attachments_ui.attachments(conn, user, target)
        except (HazwatchError, IndexError, ValueError) as exc:
            msg = html.Div(i18n.t("cx.refused", error=str(exc)), className="hw-error cx-error")
            return msg, dash.no_update, None
        done = html.Div(i18n.t("cxa.att.done", name=name), className="hw-ok", id="ca-att-ok")
        return done, _attachment_list(rows), None

    @app.callback(
        Output("ca-people-result", "children"),
        Output("ca-people-report", "children"),
        Output("reg-reload", "data", allow_duplicate=True),
        Output("ca-people-upload", "contents"),
        Input("ca-people-upload", "contents"),
        State("ca-people-upload", "filename"),
        State("ca-people-mode", "value"),
        State("reg-reload", "data"),
        prevent_initial_call=True,
    )
    def import_people(
        contents: str | None, name: str | None, mode: str | None, reload: int | None
    ) -> tuple[Any, Any, Any, Any]:
        user = auth.current_user()
        if user is None or not contents or not name:
            raise dash.exceptions.PreventUpdate
        try:
            data = base64.b64decode(contents.split(",", 1)[1])
            table = registers_io.read_table(data, name, archive_specs.PEOPLE_IMPORT)
            with auth.db_pool().connection() as conn:
                result = archive_specs.import_people(
                    conn,
                    user,
                    table.rows,
                    home=auth.app_home(),
                    valid_only=mode == "valid",
                    file_errors=table.errors,
                )
        except (HazwatchError, IndexError, ValueError) as exc:
            errors = [(0, "", str(exc))]
            summary = i18n.t("reg.import.nothing", errors=1)
            return (
                html.Span(summary, id="ca-people-summary"),
                report_table(errors, "ca-people-report-table"),
                dash.no_update,
                None,
            )
        if result.written or not result.errors:
            summary = i18n.t(
                "cxa.people.done",
                added=result.added,
                updated=result.updated,
                errors=len(result.errors),
            )
        else:
            summary = i18n.t("reg.import.nothing", errors=len(result.errors))
        return (
            html.Span(summary, id="ca-people-summary"),
            report_table(result.errors, "ca-people-report-table"),
            (reload or 0) + 1,
            None,
        )

    @app.callback(
        Output("ca-people-template-file", "data"),
        Input("ca-people-template", "n_clicks"),
        prevent_initial_call=True,
    )
    def template(_n: int) -> Any:
        headers = [c.header() for c in archive_specs.PEOPLE_IMPORT.columns]
        data = registers_io.write_xlsx(headers, [], i18n.t("reg.name.contractor_people_import"))
        return dcc.send_bytes(data, "contractor-people.xlsx")

    @app.callback(
        Output("ca-reveal-out", "children"),
        Input("ca-reveal", "n_clicks"),
        State("ca-row", "data"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def reveal(_n: int, row: Any, key: str) -> Any:
        user = auth.current_user()
        row_id = _row_id(row)
        if user is None or user.role not in FULL_ID_ROLES or key != PEOPLE:
            raise dash.exceptions.PreventUpdate
        if row_id is None:
            return i18n.t("cxa.att.pick_row")
        with auth.db_pool().connection() as conn:
            target = attachments_ui.visible_target(conn, user, PEOPLE, row_id)
            if target is None:
                return i18n.t("reg.err.scope")
            found = conn.execute(
                "SELECT name, id_cipher FROM contractor.person WHERE id = %s",
                (target.entity_id,),
            ).fetchone()
            if found is None:
                return i18n.t("reg.err.scope")
            try:
                number = Vault.at(auth.app_home()).open(found[1])
            except PiiError:
                return i18n.t("cxa.reveal.none")
            _log_pii_read(conn, user, target.entity_id)
        return html.Span(f"{found[0]}：{number}", id="ca-reveal-number")
