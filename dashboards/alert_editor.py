"""``ConfigEditor``: the list, editor and save / delete / enable callbacks that every alerting
configuration table uses, and the editor values of its rows.

    editor = ConfigEditor("cal", "calendar", blank=..., load=..., parse=..., list_view=...)
    page = [*editor.section(user, fields)]  # bar, editor (hidden until "new" or "edit"), list
    editor.register(app)                    # open, save, delete, enable/disable, list callbacks

    stored_form(conn, "calendar", rid, calendar_to_form)       # an editor's ``load``
    code_is_free(conn, "calendar", calendar_from_form(form), rid)  # the end of its ``parse``

Who may do what is in ``dashboards.alert_ui`` (docs/alerting.md, "Configuration pages"); every
write callback checks it again on the server. Changes go through ``workflows.alert_config``
(audited, with the reason typed in the editor).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dash
import psycopg
from dash import ALL, Input, Output, State, ctx, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.alert_ui import (
    EDIT_ROLES,
    HIDDEN,
    SHOWN,
    can_edit,
    can_view,
    checkbox,
    dropdown,
    error_text,
    field,
    may_edit_any,
    text_input,
    visible_ids,
)
from dashboards.callback_args import actor_of, fired, message
from dashboards.components.basic import table
from hazwatch.errors import HazwatchError
from hazwatch.registers import RegisterError
from workflows import alert_config
from workflows.alert_forms import Errors, FieldError

# -- graded levels ----------------------------------------------------------------------------


def levels_field(
    prefix: str, levels: Sequence[str], ops: Sequence[str], keys: str, row_id: str
) -> html.Div:
    """The graded-levels editor: a row per level (on, comparison, trip value, clear value).

    The field ids are ``levels.<level>.on|op|value|clear`` of editor ``prefix``; the labels are
    ``<keys>.levels|op|value|clear``; each row's id is ``<row_id>-<level>``.

    >>> levels_field("rule", LEVELS, (">", ">=", "<", "<="), "rules.f", "rule-level")
    """
    t = i18n.t
    options = [{"label": o, "value": o} for o in ops]
    rows = []
    for level in levels:
        pre = f"levels.{level}"
        rows.append(
            html.Div(
                className="af-level-row",
                id=f"{row_id}-{level}",
                children=[
                    field(
                        prefix,
                        f"{pre}.on",
                        "",
                        checkbox(prefix, f"{pre}.on", t(f"alerts.level.{level}")),
                    ),
                    field(
                        prefix,
                        f"{pre}.op",
                        t(f"{keys}.op"),
                        dropdown(prefix, f"{pre}.op", options, clearable=False),
                    ),
                    field(
                        prefix,
                        f"{pre}.value",
                        t(f"{keys}.value"),
                        text_input(prefix, f"{pre}.value", type="number"),
                    ),
                    field(
                        prefix,
                        f"{pre}.clear",
                        t(f"{keys}.clear"),
                        text_input(prefix, f"{pre}.clear", type="number"),
                    ),
                ],
            )
        )
    return html.Div(
        className="af-levels af-wide",
        id={"type": f"{prefix}-wrap", "f": "levels"},
        children=[
            html.Label(t(f"{keys}.levels"), className="af-label"),
            *rows,
            html.Div(className="af-err", id={"type": f"{prefix}-err", "f": "levels"}),
        ],
    )


# -- editor values of a row -------------------------------------------------------------------


def _enterprise_choice(enterprise_id: int | None) -> int | str:
    """A row's enterprise as the enterprise dropdown has it ("all": instance-wide)."""
    return enterprise_id if enterprise_id is not None else "all"


def stored_form(
    conn: psycopg.Connection,
    table: str,
    rid: int,
    to_form: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any] | None:
    """``to_form`` of row ``rid`` of configuration ``table``; None when there is no such row.

    >>> stored_form(conn, "calendar", 7, calendar_to_form)
    """
    query = sql.SQL("SELECT * FROM {} WHERE id = %s").format(alert_config.TABLES[table].qualified)
    row = conn.cursor(row_factory=dict_row).execute(query, (rid,)).fetchone()
    if row is None:
        return None
    form = to_form(row)
    if "enterprise_id" in form:
        form["enterprise_id"] = _enterprise_choice(row["enterprise_id"])
    return form


def new_form(
    user: auth.WebUser, to_form: Callable[[dict[str, Any] | None], dict[str, Any]]
) -> dict[str, Any]:
    """``to_form(None)`` for a new row, placed in the user's own enterprise (or instance-wide)."""
    form = to_form(None)
    form["enterprise_id"] = _enterprise_choice(user.enterprise_id)
    return form


def code_is_free(
    conn: psycopg.Connection,
    table: str,
    parsed: tuple[dict[str, Any] | None, Errors],
    rid: int | None,
) -> tuple[dict[str, Any] | None, Errors]:
    """``parsed`` (values, errors) of a form, or a "duplicate" error on its code when another
    row of ``table`` in the same enterprise (channels: anywhere) has that code.

    >>> code_is_free(conn, "calendar", calendar_from_form(form), rid)
    """
    values, errors = parsed
    if values and not unique_code(conn, table, values["code"], values.get("enterprise_id"), rid):
        return None, {"code": FieldError("duplicate")}
    return values, errors


def code_and_name(form: dict[str, Any]) -> str:
    """The editor's heading for a row with a code and a name."""
    return f"{form.get('code')} {form.get('name')}"


# -- the generic editor -----------------------------------------------------------------------

Parse = Callable[
    [psycopg.Connection, auth.WebUser, dict[str, Any], int | None],
    tuple[dict[str, Any] | None, Errors],
]


@dataclass
class ConfigEditor:
    """List, editor and write callbacks of one ``workflow`` configuration table.

    ``load(conn, rid)`` gives a row's editor values (None: no such row), ``blank(conn, user)``
    a new row's; ``parse(conn, user, form, rid)`` the values to store or field errors;
    ``list_view(user, search)`` the list (with ``{"type": f"{prefix}-edit", "rid": id}``
    buttons for editors); ``info(conn, rid)`` a line shown in the editor (e.g. whether a
    secret is set). ``enterprise`` says whether the table has an ``enterprise_id`` column
    (channels have none: they are instance-wide).
    """

    prefix: str
    table: str
    blank: Callable[[psycopg.Connection, auth.WebUser], dict[str, Any]]
    load: Callable[[psycopg.Connection, int], dict[str, Any] | None]
    parse: Parse
    list_view: Callable[[auth.WebUser, str], Any]
    describe: Callable[[dict[str, Any]], str] = lambda form: str(form.get("code", ""))
    info: Callable[[psycopg.Connection, int | None], Any] | None = None
    enterprise: bool = True
    toggle: bool = True
    search: bool = False

    # ids
    def id(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def edit_button(self, rid: int) -> html.Button:
        return html.Button(
            i18n.t("ac.edit"),
            id={"type": self.id("edit"), "rid": rid},
            className="hw-btn hw-btn-light af-edit",
        )

    def header(self, user: auth.WebUser, creatable: bool | None = None) -> html.Div:
        """Search box and the "new" button (editors, or as ``creatable`` says) above the list."""
        parts: list[Any] = []
        if self.search:
            parts.append(
                dcc.Input(
                    id=self.id("search"),
                    type="search",
                    debounce=True,
                    placeholder=i18n.t("ac.search"),
                    className="hw-input",
                )
            )
        if may_edit_any(user) if creatable is None else creatable:
            parts.append(html.Button(i18n.t("ac.new"), id=self.id("new"), className="hw-btn"))
        return html.Div(parts, className="hw-filters")

    def panel(self, user: auth.WebUser, fields: list[Any], extra: list[Any] | None = None) -> Any:
        """The editor (for admins and engineers; nothing for read-only roles)."""
        if not may_edit_any(user):
            return html.Div()
        buttons: list[Any] = [
            html.Button(i18n.t("ac.save"), id=self.id("save"), className="hw-btn"),
        ]
        if self.toggle:
            buttons.append(
                html.Button(
                    i18n.t("ac.toggle"), id=self.id("toggle"), className="hw-btn hw-btn-light"
                )
            )
        buttons += [
            html.Button(
                i18n.t("ac.delete"), id=self.id("delete"), className="hw-btn hw-btn-danger"
            ),
            html.Button(i18n.t("ac.cancel"), id=self.id("cancel"), className="hw-btn hw-btn-light"),
        ]
        return html.Div(
            id=self.id("editor"),
            className="hw-card af-editor",
            style=HIDDEN,
            children=[
                html.H3(id=self.id("heading")),
                html.Div(id=self.id("info"), className="hw-muted"),
                html.Div(fields, className="af-grid"),
                *(extra or []),
                html.Div(
                    className="af-actions",
                    children=[
                        dcc.Input(
                            id=self.id("reason"),
                            type="text",
                            className="hw-input af-reason",
                            placeholder=i18n.t("ac.reason"),
                        ),
                        *buttons,
                    ],
                ),
                html.Div(className="af-err", id={"type": f"{self.prefix}-err", "f": "_form"}),
            ],
        )

    def list_table(
        self,
        conn: psycopg.Connection,
        user: auth.WebUser,
        rows: list[dict[str, Any]],
        headers: list[str],
        cells: Callable[[dict[str, Any]], list[Any]],
        empty: str,
    ) -> Any:
        """The list (``{prefix}-table``): ``cells(row)`` a row, and for editors an edit button
        on each row they may change (instance-wide tables: only editors of every enterprise)."""
        if self.enterprise:
            actions = may_edit_any(user)
            editable = {r["id"]: can_edit(conn, user, r["enterprise_id"]) for r in rows}
        else:
            actions = can_edit(conn, user, None)
            editable = {r["id"]: actions for r in rows}
        body = []
        for r in rows:
            row = cells(r)
            if actions:
                row.append(self.edit_button(r["id"]) if editable[r["id"]] else "")
            body.append(row)
        if actions:
            headers = [*headers, i18n.t("ac.col.actions")]
        return table(headers, body, self.id("table"), empty)

    def section(
        self,
        user: auth.WebUser,
        fields: list[Any],
        extra: list[Any] | None = None,
        editable: bool | None = None,
    ) -> list[Any]:
        """The table's part of its page: search and "new" bar, messages, the editor (for
        ``editable`` users, by default admins and engineers), the list and the stores."""
        editing = may_edit_any(user) if editable is None else editable
        return [
            self.header(user, editing),
            self.msg_area(),
            self.panel(user, fields, extra) if editing else html.Div(),
            html.Div(self.list_view(user, ""), id=self.id("list")),
            *self.stores(),
        ]

    def stores(self) -> list[Any]:
        return [dcc.Store(id=self.id("id")), dcc.Store(id=self.id("refresh"))]

    def msg_area(self) -> html.Div:
        return html.Div(id=self.id("msg"))

    # server-side checks
    def _row_enterprise(self, conn: psycopg.Connection, rid: int) -> tuple[bool, int | None]:
        """(exists, enterprise_id) of a stored row."""
        if not self.enterprise:
            found = conn.execute(
                sql.SQL("SELECT 1 FROM {} WHERE id = %s").format(
                    alert_config.TABLES[self.table].qualified
                ),
                (rid,),
            ).fetchone()
            return found is not None, None
        row = conn.execute(
            sql.SQL("SELECT enterprise_id FROM {} WHERE id = %s").format(
                alert_config.TABLES[self.table].qualified
            ),
            (rid,),
        ).fetchone()
        return (row is not None, row[0] if row else None)

    def _check(self, conn: psycopg.Connection, user: auth.WebUser, rid: int | None) -> None:
        """Refuse (HazwatchError with the page's text) unless ``user`` may change row ``rid``."""
        if user.role not in EDIT_ROLES:
            raise HazwatchError(i18n.t("ac.read_only"))
        if rid is None:
            return
        exists, ent = self._row_enterprise(conn, rid)
        visible = visible_ids(conn, user)
        if not exists or (ent is not None and visible is not None and ent not in visible):
            raise HazwatchError(f"workflow.{self.table}: no row with id {rid}")
        if not can_edit(conn, user, ent):
            raise HazwatchError(i18n.t("ac.out_of_scope"))

    def register(self, app: dash.Dash) -> None:
        p = self.prefix
        fields_all = {"type": f"{p}-f", "f": ALL}
        errs_all = {"type": f"{p}-err", "f": ALL}

        @app.callback(
            Output(fields_all, "value"),
            Output(self.id("id"), "data"),
            Output(self.id("editor"), "style"),
            Output(self.id("heading"), "children"),
            Output(self.id("info"), "children"),
            Output(errs_all, "children"),
            Output(self.id("msg"), "children", allow_duplicate=True),
            Input(self.id("new"), "n_clicks"),
            Input({"type": self.id("edit"), "rid": ALL}, "n_clicks"),
            Input(self.id("cancel"), "n_clicks"),
            prevent_initial_call=True,
        )
        def open_editor(_new: Any, _edits: Any, _cancel: Any) -> tuple[Any, ...]:
            user = auth.current_user()
            if user is None or not fired():
                raise dash.exceptions.PreventUpdate
            field_ids = [o["id"]["f"] for o in ctx.outputs_list[0]]
            err_count = len(ctx.outputs_list[5])
            trig = ctx.triggered_id
            nothing = [dash.no_update] * len(field_ids)
            if trig == self.id("cancel"):
                return (nothing, None, HIDDEN, "", "", [None] * err_count, None)
            with auth.db_pool().connection() as conn:
                rid = int(trig["rid"]) if isinstance(trig, dict) else None
                try:
                    self._check(conn, user, rid)
                except HazwatchError as exc:
                    msg = message(i18n.t("ac.refused", error=str(exc)), False, self.id("error"))
                    return (
                        nothing,
                        dash.no_update,
                        dash.no_update,
                        dash.no_update,
                        dash.no_update,
                        [None] * err_count,
                        msg,
                    )
                form = self.load(conn, rid) if rid is not None else self.blank(conn, user)
                info = self.info(conn, rid) if self.info else ""
            if form is None:
                raise dash.exceptions.PreventUpdate
            heading = (
                i18n.t("ac.editing", what=self.describe(form)) if rid else i18n.t("ac.creating")
            )
            return (
                [form.get(f) for f in field_ids],
                rid,
                SHOWN,
                heading,
                info,
                [None] * err_count,
                None,
            )

        outputs = [
            Output(errs_all, "children", allow_duplicate=True),
            Output(self.id("msg"), "children", allow_duplicate=True),
            Output(self.id("refresh"), "data"),
            Output(self.id("id"), "data", allow_duplicate=True),
            Output(self.id("editor"), "style", allow_duplicate=True),
            Output(self.id("info"), "children", allow_duplicate=True),
        ]
        inputs = [Input(self.id("save"), "n_clicks"), Input(self.id("delete"), "n_clicks")]
        if self.toggle:
            inputs.append(Input(self.id("toggle"), "n_clicks"))

        @app.callback(
            *outputs,
            *inputs,
            State(fields_all, "value"),
            State(self.id("id"), "data"),
            State(self.id("reason"), "value"),
            prevent_initial_call=True,
        )
        def write(*args: Any) -> tuple[Any, ...]:
            user = auth.current_user()
            if user is None or not fired():
                raise dash.exceptions.PreventUpdate
            values, rid, reason = args[-3], args[-2], args[-1]
            field_ids = [s["id"]["f"] for s in ctx.states_list[0]]
            err_ids = [o["id"]["f"] for o in ctx.outputs_list[0]]
            form = dict(zip(field_ids, values or [], strict=False))
            reason = (reason or "").strip() or None
            rid = int(rid) if rid is not None else None
            action = str(ctx.triggered_id).removeprefix(p + "-")
            keep = dash.no_update
            errors: Errors = {}
            try:
                with auth.db_pool().connection() as conn:
                    self._check(conn, user, rid)
                    actor = actor_of(user)
                    if action in ("delete", "toggle") and rid is None:
                        raise HazwatchError(i18n.t("ac.not_saved_yet"))
                    if action == "delete":
                        alert_config.delete(conn, actor, self.table, rid, reason)  # type: ignore[arg-type]
                        text = i18n.t("ac.deleted", id=rid)
                        return (
                            [None] * len(err_ids),
                            message(text, True, self.id("done")),
                            time.time(),
                            None,
                            HIDDEN,
                            "",
                        )
                    if action == "toggle":
                        now = conn.execute(
                            sql.SQL("SELECT enabled FROM {} WHERE id = %s").format(
                                alert_config.TABLES[self.table].qualified
                            ),
                            (rid,),
                        ).fetchone()
                        assert now is not None
                        row = alert_config.update(
                            conn,
                            actor,
                            self.table,
                            rid,  # type: ignore[arg-type]
                            {"enabled": not now[0]},
                            reason,
                        )
                        state = i18n.t(
                            "ac.enabled_state" if row["enabled"] else "ac.disabled_state"
                        )
                        text = i18n.t("ac.toggled", state=state, id=rid)
                        return (
                            [None] * len(err_ids),
                            message(text, True, self.id("done")),
                            time.time(),
                            keep,
                            keep,
                            keep,
                        )
                    parsed, errors = self.parse(conn, user, form, rid)
                    if parsed is None:
                        raise _Invalid
                    ent = parsed.get("enterprise_id") if self.enterprise else None
                    if not can_edit(conn, user, ent):
                        raise HazwatchError(i18n.t("ac.out_of_scope"))
                    if rid is None:
                        rid = alert_config.insert(conn, actor, self.table, parsed, reason)
                    else:
                        alert_config.update(conn, actor, self.table, rid, parsed, reason)
                    info = self.info(conn, rid) if self.info else keep
                text = i18n.t("ac.saved", id=rid)
                return (
                    [None] * len(err_ids),
                    message(text, True, self.id("done")),
                    time.time(),
                    rid,
                    keep,
                    info,
                )
            except _Invalid:
                shown = [error_text(errors[f]) if f in errors else None for f in err_ids]
                if "_form" in errors and "_form" not in err_ids:
                    shown.append(None)
                return (
                    shown,
                    message(i18n.t("ac.fix"), False, self.id("error")),
                    keep,
                    keep,
                    keep,
                    keep,
                )
            except (HazwatchError, RegisterError) as exc:
                text = i18n.t("ac.refused", error=str(exc))
                return (
                    [None] * len(err_ids),
                    message(text, False, self.id("error")),
                    keep,
                    keep,
                    keep,
                    keep,
                )

        list_inputs = [Input(self.id("refresh"), "data")]
        if self.search:
            list_inputs.append(Input(self.id("search"), "value"))

        @app.callback(Output(self.id("list"), "children"), *list_inputs, prevent_initial_call=True)
        def refresh(_stamp: Any, search: str | None = None) -> Any:
            user = auth.current_user()
            if user is None or not can_view(user):
                raise dash.exceptions.PreventUpdate
            return self.list_view(user, (search or "").strip())


class _Invalid(Exception):
    """Field errors: shown at the fields, nothing stored."""


def unique_code(
    conn: psycopg.Connection, table: str, code: str, enterprise_id: int | None, rid: int | None
) -> bool:
    """Whether ``code`` is free in ``table`` for that enterprise (channels: instance-wide)."""
    cond = sql.SQL("enterprise_id IS NOT DISTINCT FROM %s AND ") if table != "channel" else None
    query = sql.SQL("SELECT 1 FROM {} WHERE {}code = %s AND id IS DISTINCT FROM %s").format(
        alert_config.TABLES[table].qualified, cond or sql.SQL("")
    )
    params = ((enterprise_id,) if cond else ()) + (code, rid)
    return conn.execute(query, params).fetchone() is None
