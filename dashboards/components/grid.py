"""The editable register grid (``dash-ag-grid``), one per page, for any ``RegisterSpec``.

    register_grid(SPECS["unit"], user)      # in a page layout
    register_callbacks(dash_app)            # once, at app start

What it does: server-side search, column filters and paging (``register_data.fetch_page``);
an edited cell is saved at once through the audited register writes, and a refused value stays
in the cell, marked, with the message in its tooltip and in the list under the grid; a new row is
saved once its required fields are filled; selected rows are deleted after a confirmation;
the rows matching the search/filters are exported to CSV or Excel; a CSV/Excel file is imported
all-or-nothing or valid-rows-only with a row-by-row error report (shown and downloadable).
Read-only users get the grid without any edit control, and every write callback checks the
user's rights again on the server.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, ctx, dcc, html
from psycopg import sql

from dashboards import auth, i18n, register_data, registers_io
from dashboards.register_data import FieldErrors, Query
from dashboards.register_specs import (
    REFS,
    SPECS,
    Column,
    RegisterSpec,
    can_add_delete,
    choice_label,
    editable_columns,
)

#: Up to this many targets, a foreign-key cell offers a drop-down; beyond, one types the code.
MAX_OPTIONS = 300
_KIND_TYPES = {"bool": "boolean", "int": "number", "float": "number"}
#: AG Grid's own texts that a register screen shows, in Chinese.
ZH_GRID_TEXT = {
    "noRowsToShow": "没有数据",
    "loadingOoo": "加载中…",
    "contains": "包含",
    "equals": "等于",
    "startsWith": "开头是",
    "endsWith": "结尾是",
    "blank": "为空",
    "filterOoo": "筛选…",
    "resetFilter": "重置",
    "true": "是",
    "false": "否",
}


def _ref_options(user: Any, col: Column) -> list[str] | None:
    assert col.ref is not None
    ref = REFS[col.ref]
    if ref.enterprise_expr is None and col.ref != "region":
        return None
    alias = ref.source.split()[1]
    if ref.enterprise_expr is not None:
        cond, params = user.scope.condition(ref.enterprise_expr)
    else:
        cond, params = sql.SQL("TRUE"), ()
    stmt = sql.SQL("SELECT DISTINCT {} FROM {} WHERE {} ORDER BY 1 LIMIT %s").format(
        sql.SQL(ref.label),  # type: ignore[arg-type]  # from the spec
        sql.SQL(ref.source),  # type: ignore[arg-type]
        cond,
    )
    del alias
    with auth.db_pool().connection() as conn:
        labels = [r[0] for r in conn.execute(stmt, [*params, MAX_OPTIONS + 1]) if r[0]]
    return None if len(labels) > MAX_OPTIONS else labels


def column_defs(spec: RegisterSpec, user: Any, lang: str | None = None) -> list[dict[str, Any]]:
    """AG Grid column definitions from the spec: header, editor, error marking per cell."""
    editable = editable_columns(user, spec)
    adds = can_add_delete(user, spec)
    defs: list[dict[str, Any]] = []
    for col in spec.columns:
        err = f"params.data._errors && params.data._errors['{col.name}']"
        d: dict[str, Any] = {
            "field": col.name,
            "headerName": col.header(lang) + (" *" if col.required else ""),
            "minWidth": col.width,
            "cellDataType": _KIND_TYPES.get(col.kind, "text"),
            "cellClassRules": {"hw-cell-error": err},
            "tooltipValueGetter": {"function": f"({err}) || null"},
            "filter": "agTextColumnFilter" if col.kind != "bool" else False,
            "filterParams": {
                "filterOptions": ["contains", "equals", "startsWith", "endsWith", "blank"],
                "maxNumConditions": 1,
                "buttons": ["reset"],
            },
        }
        if col.name in editable:
            d["editable"] = True
        elif adds and not col.readonly:
            # New rows need every column, including ones fixed after creation (virtual ones).
            d["editable"] = {"function": "params.data._new === true"}
        else:
            d["editable"] = False
        if col.kind in ("choice",):
            labels = [choice_label(c, lang) for c in col.choices]
            d["cellEditor"] = "agSelectCellEditor"
            d["cellEditorParams"] = {"values": labels if col.required else ["", *labels]}
        elif col.kind == "ref" and d["editable"] is not False:
            options = _ref_options(user, col)
            if options is not None:
                d["cellEditor"] = "agSelectCellEditor"
                d["cellEditorParams"] = {"values": options if col.required else ["", *options]}
        defs.append(d)
    return defs


def register_grid(spec: RegisterSpec, user: Any, search: str = "") -> html.Div:
    """The grid with its toolbar, pager, messages and (for writers) import and delete."""
    t = i18n.t
    writer = can_add_delete(user, spec)
    edits = bool(editable_columns(user, spec))
    toolbar: list[Any] = [
        html.Label(t("reg.search"), htmlFor="reg-search"),
        dcc.Input(
            id="reg-search",
            type="search",
            debounce=True,
            value=search,
            placeholder=t("reg.search.placeholder"),
            className="hw-input",
        ),
        html.Button(t("reg.export.csv"), id="reg-export-csv", className="hw-btn", n_clicks=0),
        html.Button(t("reg.export.xlsx"), id="reg-export-xlsx", className="hw-btn", n_clicks=0),
    ]
    if writer:
        toolbar += [
            html.Button(t("reg.add"), id="reg-add", className="hw-btn", n_clicks=0),
            html.Button(t("reg.delete"), id="reg-delete", className="hw-btn", n_clicks=0),
        ]
    parts: list[Any] = [
        dcc.Store(id="reg-key", data=spec.key),
        dcc.Store(id="reg-page", data=0),
        dcc.Store(id="reg-reload", data=0),
        dcc.Store(id="reg-report", data=[]),
        dcc.Download(id="reg-download"),
        html.Div(toolbar, className="hw-filters reg-toolbar"),
    ]
    if not edits:
        parts.append(html.P(t("reg.readonly"), className="hw-muted", id="reg-readonly"))
    grid_options: dict[str, Any] = {
        "tooltipShowDelay": 200,
        "singleClickEdit": True,
        "stopEditingWhenCellsLoseFocus": True,
        "suppressMovableColumns": True,
        "domLayout": "autoHeight",
        # Every column in the DOM: registers are a few dozen columns wide at most.
        "suppressColumnVirtualisation": True,
    }
    if i18n.current_lang() == "zh":
        grid_options["localeText"] = ZH_GRID_TEXT
    if writer:
        grid_options["rowSelection"] = {
            "mode": "multiRow",
            "checkboxes": True,
            "headerCheckbox": True,
            "enableClickSelection": False,
        }
    parts += [
        dag.AgGrid(
            id="reg-grid",
            columnDefs=column_defs(spec, user),
            rowData=[],
            getRowId="params.data._rid",
            defaultColDef={"resizable": True, "sortable": False, "flex": 1},
            dashGridOptions=grid_options,
            className="hw-grid",
        ),
        html.Div(
            className="hw-pager",
            children=[
                html.Button(t("reg.prev"), id="reg-prev", className="hw-btn", n_clicks=0),
                html.Span(id="reg-page-label", className="hw-muted"),
                html.Button(t("reg.next"), id="reg-next", className="hw-btn", n_clicks=0),
            ],
        ),
        html.Div(id="reg-status", role="status", className="reg-status"),
        html.Div(id="reg-errors", role="alert", className="reg-errors"),
    ]
    if writer:
        parts += [
            dcc.ConfirmDialog(id="reg-confirm", message=t("reg.delete.confirm")),
            html.Div(
                className="reg-import",
                children=[
                    html.Label(t("reg.import.mode"), htmlFor="reg-import-mode"),
                    dcc.RadioItems(
                        id="reg-import-mode",
                        options=[
                            {"label": t("reg.import.all"), "value": "all"},
                            {"label": t("reg.import.valid"), "value": "valid"},
                        ],
                        value="all",
                        inline=True,
                    ),
                    dcc.Upload(
                        id="reg-upload",
                        children=html.Div(t("reg.import")),
                        className="reg-upload",
                        accept=".csv,.xlsx",
                        multiple=False,
                    ),
                    html.Div(id="reg-import-result", role="status"),
                    html.Div(id="reg-import-report"),
                    html.Button(
                        t("reg.import.report"),
                        id="reg-report-download",
                        className="hw-btn",
                        n_clicks=0,
                        style={"display": "none"},
                    ),
                    dcc.Download(id="reg-report-file"),
                ],
            ),
        ]
    return html.Div(parts, className="reg-grid-wrap", id="reg-grid-wrap")


# -- helpers of the callbacks -----------------------------------------------------------------


def _context() -> tuple[Any, RegisterSpec]:
    """The signed-in user and the register the grid shows; refused unless it may see it."""
    from dashboards.register_specs import can_view

    user = auth.current_user()
    key = ctx.states.get("reg-key.data") if ctx.states else None
    spec = SPECS.get(str(key))
    if user is None or spec is None or not can_view(user, spec):
        raise dash.exceptions.PreventUpdate
    return user, spec


def _error_list(spec: RegisterSpec, errors: dict[str, str], row_label: str = "") -> html.Div:
    items = []
    for name, message in errors.items():
        header = spec.column(name).header() if name else ""
        items.append(
            html.Li(
                f"{row_label}{header}：{message}" if header else f"{row_label}{message}",
                className="reg-error-item",
                **{"data-field": name},
            )
        )
    return html.Div([html.P(i18n.t("reg.errors")), html.Ul(items)], className="hw-error")


def _changes(value: Any) -> list[dict[str, Any]]:
    if not value:
        return []
    return list(value) if isinstance(value, list) else [value]


def _cells(spec: RegisterSpec, data: dict[str, Any]) -> dict[str, Any]:
    return {c.name: data.get(c.name) for c in spec.columns}


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output("reg-grid", "rowData"),
        Output("reg-page-label", "children"),
        Output("reg-page", "data"),
        Input("reg-search", "value"),
        Input("reg-grid", "filterModel"),
        Input("reg-prev", "n_clicks"),
        Input("reg-next", "n_clicks"),
        Input("reg-reload", "data"),
        State("reg-page", "data"),
        State("reg-key", "data"),
    )
    def load(
        search: str | None,
        filters: dict[str, Any] | None,
        _prev: int,
        _next: int,
        _reload: int,
        page: int | None,
        _key: str,
    ) -> tuple[list[dict[str, Any]], str, int]:
        user, spec = _context()
        page = page or 0
        trigger = ctx.triggered_id
        if trigger == "reg-next":
            page += 1
        elif trigger == "reg-prev":
            page = max(0, page - 1)
        elif trigger in ("reg-search", "reg-grid"):
            page = 0
        query = Query(search=search or "", filters=filters or {})
        size = register_data.PAGE_SIZE
        with auth.db_pool().connection() as conn:
            rows, total = register_data.fetch_page(conn, user, spec, query, page, size)
            last = max(0, (total - 1) // size)
            if page > last:
                page = last
                rows, total = register_data.fetch_page(conn, user, spec, query, page, size)
        label = i18n.t("reg.page", page=page + 1, pages=last + 1, total=i18n.fmt_number(total))
        return rows, label, page

    @app.callback(
        Output("reg-grid", "rowTransaction", allow_duplicate=True),
        Output("reg-status", "children", allow_duplicate=True),
        Output("reg-errors", "children", allow_duplicate=True),
        Input("reg-grid", "cellValueChanged"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def cell_changed(changes: Any, _key: str) -> tuple[Any, Any, Any]:
        user, spec = _context()
        updates: list[dict[str, Any]] = []
        removes: list[dict[str, Any]] = []
        adds: list[dict[str, Any]] = []
        status: Any = ""
        errors: Any = ""
        with auth.db_pool().connection() as conn:
            for change in _changes(changes):
                data = dict(change.get("data") or {})
                field = str(change.get("colId") or "")
                if data.get("_new"):
                    cells = {k: v for k, v in _cells(spec, data).items() if v not in (None, "")}
                    try:
                        saved = register_data.insert_row(conn, user, spec, cells)
                    except FieldErrors as exc:
                        data["_errors"] = exc.errors
                        updates.append(data)
                        errors = _error_list(spec, exc.errors)
                    else:
                        removes.append({"_rid": data["_rid"]})
                        adds.append(saved)
                        status = i18n.t(
                            "reg.saved", what=saved.get("name") or saved.get("code") or saved["id"]
                        )
                    continue
                try:
                    row_id = int(data["id"])
                    saved = register_data.save_cell(
                        conn, user, spec, row_id, field, change.get("value")
                    )
                except (KeyError, TypeError, ValueError):
                    raise dash.exceptions.PreventUpdate from None
                except FieldErrors as exc:
                    data["_errors"] = {**(data.get("_errors") or {}), **exc.errors}
                    updates.append(data)
                    errors = _error_list(spec, exc.errors)
                else:
                    updates.append(saved)
                    status = i18n.t("reg.saved", what=f"{spec.column(field).header()}")
        txn: dict[str, Any] = {}
        if updates:
            txn["update"] = updates
        if removes:
            txn["remove"] = removes
        if adds:
            txn["add"] = adds
            txn["addIndex"] = 0
        return txn or dash.no_update, status, errors

    @app.callback(
        Output("reg-grid", "rowTransaction", allow_duplicate=True),
        Output("reg-status", "children", allow_duplicate=True),
        Input("reg-add", "n_clicks"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def add_row(_n: int, _key: str) -> tuple[Any, Any]:
        user, spec = _context()
        if not can_add_delete(user, spec):
            raise dash.exceptions.PreventUpdate
        row: dict[str, Any] = {"_rid": "new-" + uuid.uuid4().hex[:12], "_new": True, "id": None}
        for col in spec.columns:
            default = spec.defaults.get(col.name)
            if col.kind == "bool":
                row[col.name] = bool(default) if default is not None else None
            elif default is not None:
                row[col.name] = choice_label(str(default)) if col.kind == "choice" else default
            else:
                row[col.name] = None if col.kind in ("int", "float") else ""
        if user.enterprise_id is not None and "enterprise_id" in {c.name for c in spec.columns}:
            with auth.db_pool().connection() as conn:
                found = conn.execute(
                    "SELECT name FROM registry.enterprise WHERE id = %s", (user.enterprise_id,)
                ).fetchone()
            row["enterprise_id"] = found[0] if found else ""
        return {"add": [row], "addIndex": 0}, i18n.t("reg.new_row")

    @app.callback(
        Output("reg-confirm", "displayed"),
        Input("reg-delete", "n_clicks"),
        State("reg-grid", "selectedRows"),
        prevent_initial_call=True,
    )
    def ask_delete(_n: int, selected: list[dict[str, Any]] | None) -> bool:
        return bool(selected)

    @app.callback(
        Output("reg-grid", "rowTransaction", allow_duplicate=True),
        Output("reg-status", "children", allow_duplicate=True),
        Output("reg-errors", "children", allow_duplicate=True),
        Input("reg-confirm", "submit_n_clicks"),
        State("reg-grid", "selectedRows"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def delete(_n: int, selected: list[dict[str, Any]] | None, _key: str) -> tuple[Any, Any, Any]:
        user, spec = _context()
        rows = selected or []
        unsaved = [{"_rid": r["_rid"]} for r in rows if r.get("_new")]
        ids = [int(r["id"]) for r in rows if not r.get("_new") and r.get("id") is not None]
        with auth.db_pool().connection() as conn:
            try:
                done, refused = register_data.delete_rows(conn, user, spec, ids)
            except FieldErrors as exc:
                return dash.no_update, "", _error_list(spec, exc.errors)
        removes = unsaved + [{"_rid": str(i)} for i in done]
        errors: Any = ""
        if refused:
            errors = html.Div(
                [
                    html.P(i18n.t("reg.errors")),
                    html.Ul([html.Li(f"#{i}: {why}") for i, why in refused.items()]),
                ],
                className="hw-error",
            )
        status = i18n.t("reg.deleted", n=len(done))
        return ({"remove": removes} if removes else dash.no_update), status, errors

    @app.callback(
        Output("reg-download", "data"),
        Input("reg-export-csv", "n_clicks"),
        Input("reg-export-xlsx", "n_clicks"),
        State("reg-search", "value"),
        State("reg-grid", "filterModel"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def export(
        _csv: int, _xlsx: int, search: str | None, filters: dict[str, Any] | None, _key: str
    ) -> Any:
        user, spec = _context()
        query = Query(search=search or "", filters=filters or {})
        with auth.db_pool().connection() as conn:
            rows = register_data.fetch_all(conn, user, spec, query)
        headers, body = registers_io.export_table(spec, rows)
        stamp = datetime.now(i18n.DISPLAY_TZ).strftime("%Y%m%d-%H%M")
        name = f"{spec.key}-{stamp}"
        if ctx.triggered_id == "reg-export-xlsx":
            data = registers_io.write_xlsx(headers, body, spec.title())
            return dcc.send_bytes(data, name + ".xlsx")
        return dcc.send_bytes(registers_io.write_csv(headers, body), name + ".csv")

    @app.callback(
        Output("reg-import-result", "children"),
        Output("reg-import-report", "children"),
        Output("reg-report", "data"),
        Output("reg-report-download", "style"),
        Output("reg-reload", "data"),
        # Cleared after each import, so that picking the same file again imports it again.
        Output("reg-upload", "contents"),
        Input("reg-upload", "contents"),
        State("reg-upload", "filename"),
        State("reg-import-mode", "value"),
        State("reg-reload", "data"),
        State("reg-key", "data"),
        prevent_initial_call=True,
    )
    def upload(
        contents: str | None, filename: str | None, mode: str | None, reload: int, _key: str
    ) -> tuple[Any, ...]:
        user, spec = _context()
        if not contents or not filename:
            raise dash.exceptions.PreventUpdate
        try:
            data = base64.b64decode(contents.split(",", 1)[1])
            table = registers_io.read_table(data, filename, spec)
        except (IndexError, ValueError) as exc:  # FileError is a ValueError
            errors = [(0, "", str(exc))]
            return _import_answer(errors, None, reload)
        with auth.db_pool().connection() as conn:
            try:
                result = register_data.import_rows(
                    conn,
                    user,
                    spec,
                    table.rows,
                    valid_only=mode == "valid",
                    file_errors=table.errors,
                )
            except FieldErrors as exc:
                return _import_answer([(0, "", m) for m in exc.errors.values()], None, reload)
        return _import_answer(result.errors, result, reload)

    @app.callback(
        Output("reg-report-file", "data"),
        Input("reg-report-download", "n_clicks"),
        State("reg-report", "data"),
        prevent_initial_call=True,
    )
    def report(_n: int, errors: list[list[Any]] | None) -> Any:
        if not errors:
            raise dash.exceptions.PreventUpdate
        data = registers_io.write_errors_csv([tuple(e) for e in errors])  # type: ignore[misc]
        return dcc.send_bytes(data, "import-errors.csv")


def _import_answer(
    errors: list[tuple[int, str, str]], result: register_data.ImportResult | None, reload: int
) -> tuple[Any, ...]:
    t = i18n.t
    if result is not None and (result.written or not errors):
        summary = t(
            "reg.import.done",
            inserted=result.inserted,
            updated=result.updated,
            errors=len(errors),
        )
    else:
        summary = t("reg.import.nothing", errors=len(errors))
    report: Any = ""
    if errors:
        head = html.Tr(
            [html.Th(t(k)) for k in ("reg.err.row", "reg.err.column", "reg.err.message")]
        )
        body = [
            html.Tr([html.Td(str(r) if r else "-"), html.Td(c), html.Td(m)]) for r, c, m in errors
        ]
        report = html.Table(
            [html.Thead(head), html.Tbody(body)], className="hw-table", id="reg-report-table"
        )
    style = {} if errors else {"display": "none"}
    return (
        html.Span(summary, id="reg-import-summary"),
        report,
        [list(e) for e in errors],
        style,
        (reload or 0) + 1,
        None,
    )
