"""Scoped reads and audited writes of the register screens.

    rows, total = fetch_page(conn, user, SPECS["unit"], Query(search="泵"), page=0)
    save_cell(conn, user, SPECS["unit"], row_id, "name", "常减压装置")   # -> row or FieldErrors
    result = import_rows(conn, user, spec, table, valid_only=False)

Every read carries the user's ``Scope`` in its WHERE clause; every write checks the role
(``register_specs.editable_columns``), that the row is in scope before and after the change,
and goes through ``hazwatch.registers`` inside ``acting`` so the audit log names the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import i18n
from dashboards.auth import Scope
from dashboards.register_specs import (
    REFS,
    Column,
    RegisterSpec,
    UserLike,
    can_add_delete,
    choice_label,
    display_value,
    editable_columns,
    parse_cell,
)
from hazwatch import registers
from hazwatch.registers import Actor, RegisterError

PAGE_SIZE: Final = 50
EXPORT_LIMIT: Final = 100_000
_REGION_SUBTREE = """t.id IN (
    WITH RECURSIVE r AS (
        SELECT id FROM registry.region WHERE id = %s
        UNION ALL SELECT c.id FROM registry.region c JOIN r ON c.parent_id = r.id
    ) SELECT id FROM r)"""
_TEXT_FILTERS: Final = {
    "contains": ("{} ILIKE %s", "%{}%"),
    "notContains": ("{} NOT ILIKE %s", "%{}%"),
    "equals": ("{} = %s", "{}"),
    "notEqual": ("{} <> %s", "{}"),
    "startsWith": ("{} ILIKE %s", "{}%"),
    "endsWith": ("{} ILIKE %s", "%{}"),
}


class FieldErrors(Exception):
    """A row refused, with a message per field (``""``: the row as a whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k or '*'}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class Query:
    """What the grid asks for: free text over every column, and AG Grid's filter model."""

    search: str = ""
    filters: Mapping[str, Any] = field(default_factory=dict)


def actor_of(user: Any) -> Actor:
    return Actor(id=user.id, name=user.name)


# -- reading ----------------------------------------------------------------------------------


def _scope_where(spec: RegisterSpec, scope: Scope) -> tuple[list[sql.Composable], list[Any]]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if spec.enterprise_expr is None:  # regions: a regulator sees its own and below
        if scope.companies_only:
            parts.append(sql.SQL("FALSE"))
        elif scope.region_id is not None:
            parts.append(sql.SQL(_REGION_SUBTREE))
            params.append(scope.region_id)
    else:
        cond, cparams = scope.condition(spec.enterprise_expr)
        parts.append(cond)
        params.extend(cparams)
        if spec.company_expr is not None:
            cond, cparams = scope.company_condition(spec.company_expr)
        else:  # a contractor sees no register but its company's
            cond, cparams = (
                (sql.SQL("FALSE"), ()) if scope.companies_only else (sql.SQL("TRUE"), ())
            )
        parts.append(cond)
        params.extend(cparams)
    if spec.where:
        parts.append(sql.SQL(spec.where))  # type: ignore[arg-type]  # from the spec
    return parts, params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_condition(col: Column, model: Mapping[str, Any]) -> tuple[sql.Composable, list[Any]]:
    """One column's AG Grid filter model (text filter, or two joined by AND/OR) as SQL."""
    if "conditions" in model:
        joined = [_filter_condition(col, m) for m in model["conditions"]]
        op = sql.SQL(" OR " if model.get("operator") == "OR" else " AND ")
        params = [p for _, ps in joined for p in ps]
        return sql.SQL("({})").format(op.join(c for c, _ in joined)), params
    expr = sql.SQL(f"({col.display_expr})::text")  # type: ignore[arg-type]  # spec SQL
    kind = model.get("type", "contains")
    if kind == "blank":
        return sql.SQL("coalesce({}, '') = ''").format(expr), []
    if kind == "notBlank":
        return sql.SQL("coalesce({}, '') <> ''").format(expr), []
    text = str(model.get("filter") or "")
    if kind not in _TEXT_FILTERS:
        raise RegisterError(f"unsupported filter {kind!r}")
    if col.kind in ("choice", "multi"):  # the grid shows labels; the table holds values
        wanted = [
            v
            for v in col.choices
            if _matches(kind, text, v)
            or any(_matches(kind, text, choice_label(v, lang)) for lang in i18n.LANGS)
        ]
        if col.kind == "multi":
            return sql.SQL("{} && %s::text[]").format(sql.SQL(col.source_expr)), [wanted]  # type: ignore[arg-type]
        return sql.SQL("{}::text = ANY(%s)").format(sql.SQL(col.source_expr)), [wanted]  # type: ignore[arg-type]
    template, pattern = _TEXT_FILTERS[kind]
    value = pattern.format(_escape_like(text)) if "ILIKE" in template else text
    return sql.SQL(template).format(expr), [value]  # type: ignore[arg-type]


def _matches(kind: str, needle: str, hay: str) -> bool:
    n, h = needle.lower(), hay.lower()
    return {
        "contains": n in h,
        "notContains": n not in h,
        "equals": n == h,
        "notEqual": n != h,
        "startsWith": h.startswith(n),
        "endsWith": h.endswith(n),
    }[kind]


def _where(spec: RegisterSpec, scope: Scope, query: Query) -> tuple[sql.Composable, list[Any]]:
    parts, params = _scope_where(spec, scope)
    if query.search.strip():
        exprs = sql.SQL(", ").join(
            sql.SQL(f"({c.display_expr})::text")  # type: ignore[arg-type]  # spec SQL
            for c in spec.columns
            if c.kind not in ("bool",)
        )
        parts.append(sql.SQL("concat_ws(' ', {}) ILIKE %s").format(exprs))
        params.append("%" + _escape_like(query.search.strip()) + "%")
    for name, model in query.filters.items():
        try:
            col = spec.column(name)
        except KeyError:
            continue  # a stale filter of another register's grid
        cond, cparams = _filter_condition(col, model)
        parts.append(cond)
        params.extend(cparams)
    if not parts:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(sql.SQL("({})").format(p) for p in parts), params


def _select(spec: RegisterSpec) -> sql.Composable:
    cols = [sql.SQL("t.id")]
    for c in spec.columns:
        cols.append(sql.SQL(f"{c.display_expr} AS {c.name}"))  # type: ignore[arg-type]
    return sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(cols),
        sql.SQL(spec.source),  # type: ignore[arg-type]  # from the spec
    )


def to_display(spec: RegisterSpec, row: Mapping[str, Any], lang: str | None = None) -> dict:
    out: dict[str, Any] = {"id": row["id"], "_rid": str(row["id"])}
    for c in spec.columns:
        out[c.name] = display_value(c, row[c.name], lang)
    return out


def fetch_page(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    query: Query,
    page: int = 0,
    page_size: int = PAGE_SIZE,
    lang: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows in the grid's display form, and how many rows match."""
    where, params = _where(spec, user.scope, query)
    total = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.SQL(spec.source), where),  # type: ignore[arg-type]
        params,
    ).fetchone()
    stmt = sql.SQL("{} WHERE {} ORDER BY {}, t.id LIMIT %s OFFSET %s").format(
        _select(spec),
        where,
        sql.SQL(spec.order_by),  # type: ignore[arg-type]
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(stmt, [*params, page_size, page * page_size]).fetchall()
    return [to_display(spec, r, lang) for r in rows], int(total[0]) if total else 0


def fetch_all(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    query: Query,
    lang: str | None = None,
) -> list[dict[str, Any]]:
    """Every matching row (up to ``EXPORT_LIMIT``), for export."""
    rows, _ = fetch_page(conn, user, spec, query, 0, EXPORT_LIMIT, lang)
    return rows


def fetch_row(
    conn: psycopg.Connection, user: UserLike, spec: RegisterSpec, row_id: int, lang: str | None
) -> dict[str, Any] | None:
    """One row in display form, or None when it does not exist or is out of scope."""
    where, params = _where(spec, user.scope, Query())
    stmt = sql.SQL("{} WHERE t.id = %s AND {}").format(_select(spec), where)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(stmt, [row_id, *params]).fetchone()
    return None if row is None else to_display(spec, row, lang)


def _visible(conn: psycopg.Connection, user: UserLike, spec: RegisterSpec, row_id: int) -> bool:
    where, params = _where(spec, user.scope, Query())
    stmt = sql.SQL("SELECT 1 FROM {} WHERE t.id = %s AND {}").format(
        sql.SQL(spec.source),
        where,  # type: ignore[arg-type]
    )
    return conn.execute(stmt, [row_id, *params]).fetchone() is not None


def _row_enterprise(conn: psycopg.Connection, spec: RegisterSpec, row_id: int) -> int | None:
    if spec.enterprise_expr is None:
        return None
    stmt = sql.SQL("SELECT {} FROM {} WHERE t.id = %s").format(
        sql.SQL(spec.enterprise_expr),
        sql.SQL(spec.source),  # type: ignore[arg-type]
    )
    row = conn.execute(stmt, (row_id,)).fetchone()
    return None if row is None else row[0]


# -- resolving foreign keys by code or name ---------------------------------------------------


def resolve_ref(
    conn: psycopg.Connection,
    scope: Scope,
    col: Column,
    text: str,
    enterprise_id: int | None,
) -> tuple[int | None, str | None]:
    """``(id, error)`` of the row ``text`` names (its code or name) in the target register.

    Targets tied to an enterprise are looked up in the row's enterprise and the user's scope.
    Regions and enterprises go through ``hazwatch.registers.resolve``.
    """
    assert col.ref is not None
    ref = REFS[col.ref]
    if col.ref in ("region", "enterprise"):
        try:
            found = registers.resolve(conn, col.ref, text)
        except RegisterError as exc:
            key = "reg.err.ref_many" if "matches" in str(exc) else "reg.err.ref"
            return None, i18n.t(key, value=text)
        if col.ref == "enterprise":
            visible = scope.enterprise_ids(conn)
            if visible is not None and found not in visible:
                return None, i18n.t("reg.err.scope")
        return found, None
    match = sql.SQL(" OR ").join(sql.SQL(f"{m} = %s") for m in ref.match)  # type: ignore[arg-type]
    params: list[Any] = [text] * len(ref.match)
    conds: list[sql.Composable] = [sql.SQL("({})").format(match)]
    if ref.enterprise_expr is not None:
        cond, cparams = scope.condition(ref.enterprise_expr)
        conds.append(cond)
        params.extend(cparams)
        if enterprise_id is not None:
            conds.append(sql.SQL(f"{ref.enterprise_expr} = %s"))  # type: ignore[arg-type]
            params.append(enterprise_id)
    alias = ref.source.split()[1]
    stmt = sql.SQL("SELECT {}.id FROM {} WHERE {}").format(
        sql.Identifier(alias),
        sql.SQL(ref.source),
        sql.SQL(" AND ").join(conds),  # type: ignore[arg-type]
    )
    rows = conn.execute(stmt, params).fetchall()
    if len(rows) == 1:
        return int(rows[0][0]), None
    return None, i18n.t("reg.err.ref_many" if rows else "reg.err.ref", value=text)


def to_values(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    cells: Mapping[str, Any],
    enterprise_id: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Typed cells → ``(values to write, all resolved values incl. virtual, errors)``.

    The enterprise column is resolved first: the other references are looked up within it.
    """
    errors: dict[str, str] = {}
    resolved: dict[str, Any] = {}
    names = sorted(cells, key=lambda n: n != "enterprise_id")
    for name in names:
        try:
            col = spec.column(name)
        except KeyError:
            errors[name] = i18n.t("reg.err.unknown_column", value=name)
            continue
        value, error = parse_cell(col, cells[name])
        if error is None and col.kind == "ref" and value is not None:
            ent = resolved.get("enterprise_id", enterprise_id)
            value, error = resolve_ref(conn, user.scope, col, str(value), ent)
        if error is not None:
            errors[name] = error
        else:
            resolved[name] = value
    writable = {
        k: v
        for k, v in resolved.items()
        if not spec.column(k).virtual and not spec.column(k).readonly
    }
    return writable, resolved, errors


# -- writing ----------------------------------------------------------------------------------


def _db_errors(spec: RegisterSpec, exc: BaseException) -> dict[str, str]:
    """Put a refusal of the database on the field it is about (constraint names mention their
    columns: ``unit_enterprise_id_code_key`` is about ``code``)."""
    cause = exc.__cause__ if isinstance(exc, RegisterError) else exc
    message = str(exc)
    target = ""
    if isinstance(cause, psycopg.Error):
        diag = cause.diag
        name = diag.constraint_name or ""
        message = diag.message_detail or diag.message_primary or message
        hits = [
            (name.rfind(c.name), c.name)
            for c in spec.columns
            if not c.virtual and (c.name in name or c.name == diag.column_name)
        ]
        if hits:
            target = max(hits)[1]
        kind = _KINDS.get(type(cause))
        if kind is not None:
            return {target: i18n.t(kind, why=message)}
    return {target: i18n.t("reg.err.db", why=message)}


#: Refusals people meet in the grid, said in their words (the database's detail follows).
_KINDS: Final = {
    psycopg.errors.UniqueViolation: "reg.err.unique",
    psycopg.errors.ForeignKeyViolation: "reg.err.in_use",
    psycopg.errors.CheckViolation: "reg.err.check",
    psycopg.errors.NotNullViolation: "reg.err.required_db",
    psycopg.errors.ExclusionViolation: "reg.err.overlap",
}


def _require(allowed: bool) -> None:
    if not allowed:
        raise FieldErrors({"": i18n.t("reg.err.forbidden")})


def save_cell(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    row_id: int,
    name: str,
    raw: Any,
    lang: str | None = None,
) -> dict[str, Any]:
    """Change one field of an existing row; the row as it is now (display form).

    Raises ``FieldErrors`` (nothing written) when the user may not, the value is wrong, the row
    is out of scope, or the database refuses it.
    """
    _require(name in editable_columns(user, spec))
    if not _visible(conn, user, spec, row_id):
        raise FieldErrors({"": i18n.t("reg.err.scope")})
    values, _, errors = to_values(
        conn, user, spec, {name: raw}, _row_enterprise(conn, spec, row_id)
    )
    if errors:
        raise FieldErrors(errors)
    try:
        with registers.acting(conn, actor_of(user), "register screen"):
            registers.update(
                conn, actor_of(user), spec.register, row_id, values, reason="register screen"
            )
            if not _visible(conn, user, spec, row_id):  # moved out of scope: undo
                raise FieldErrors({name: i18n.t("reg.err.scope")})
    except (RegisterError, psycopg.Error) as exc:
        raise FieldErrors(_db_errors(spec, exc)) from exc
    row = fetch_row(conn, user, spec, row_id, lang)
    assert row is not None
    return row


def insert_row(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    cells: Mapping[str, Any],
    lang: str | None = None,
) -> dict[str, Any]:
    """Add a row from its typed cells; the new row (display form) or ``FieldErrors``."""
    _require(can_add_delete(user, spec))
    values, resolved, errors = to_values(conn, user, spec, _with_defaults(spec, cells))
    errors.update(_missing(spec, resolved, errors))
    if errors:
        raise FieldErrors(errors)
    values = {k: v for k, v in values.items() if v is not None}  # column defaults apply
    try:
        with registers.acting(conn, actor_of(user), "register screen"):
            row_id = registers.insert(
                conn, actor_of(user), spec.register, values, reason="register screen"
            )
            if not _visible(conn, user, spec, row_id):
                raise FieldErrors({"enterprise_id": i18n.t("reg.err.scope")})
    except (RegisterError, psycopg.Error) as exc:
        raise FieldErrors(_db_errors(spec, exc)) from exc
    row = fetch_row(conn, user, spec, row_id, lang)
    assert row is not None
    return row


def _with_defaults(spec: RegisterSpec, cells: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in cells.items() if not k.startswith("_") and k != "id"}
    for k, v in spec.defaults.items():
        if out.get(k) in (None, ""):
            out[k] = v
    return out


def _missing(
    spec: RegisterSpec, resolved: Mapping[str, Any], errors: Mapping[str, str]
) -> dict[str, str]:
    return {
        c.name: i18n.t("reg.err.required")
        for c in spec.columns
        if c.required and resolved.get(c.name) is None and c.name not in errors
    }


def delete_rows(
    conn: psycopg.Connection, user: UserLike, spec: RegisterSpec, row_ids: Sequence[int]
) -> tuple[list[int], dict[int, str]]:
    """Delete rows; ``(deleted ids, {id: why not})``. Each row on its own: one refused
    (still referenced) does not keep the others."""
    _require(can_add_delete(user, spec))
    done: list[int] = []
    refused: dict[int, str] = {}
    for row_id in row_ids:
        if not _visible(conn, user, spec, row_id):
            refused[row_id] = i18n.t("reg.err.scope")
            continue
        try:
            registers.delete(conn, actor_of(user), spec.register, row_id, reason="register screen")
        except (RegisterError, psycopg.Error) as exc:
            refused[row_id] = next(iter(_db_errors(spec, exc).values()))
        else:
            done.append(row_id)
    return done, refused


# -- import -----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    #: ``(row number in the file, column header, message)``
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    written: bool = False


class _Abort(Exception):
    """Roll back an all-or-nothing import."""


def _existing_id(
    conn: psycopg.Connection, spec: RegisterSpec, resolved: Mapping[str, Any]
) -> int | None:
    """The row the import's key columns name, if it exists (then the import updates it)."""
    conds = []
    params = []
    for name in spec.key_columns:
        col = spec.column(name)
        conds.append(sql.SQL(f"{col.source_expr} IS NOT DISTINCT FROM %s"))  # type: ignore[arg-type]
        params.append(resolved.get(name))
    stmt = sql.SQL("SELECT t.id FROM {} WHERE {}").format(
        sql.SQL(spec.source),
        sql.SQL(" AND ").join(conds),  # type: ignore[arg-type]
    )
    row = conn.execute(stmt, params).fetchone()
    return None if row is None else int(row[0])


def import_rows(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    rows: Sequence[tuple[int, Mapping[str, str]]],
    valid_only: bool = False,
    file_errors: Sequence[tuple[int, str, str]] = (),
) -> ImportResult:
    """Write parsed file rows (``registers_io.read_table``): a row whose key columns name an
    existing row updates it, any other row is added.

    All or nothing by default: one error anywhere and nothing is written. With ``valid_only``
    each good row is written and each bad one reported.
    """
    _require(can_add_delete(user, spec))
    result = ImportResult(errors=list(file_errors))
    bad_rows = {r for r, _, _ in file_errors}
    actor = actor_of(user)

    def header(name: str) -> str:
        try:
            return spec.column(name).header()
        except KeyError:
            return name

    try:
        with registers.acting(conn, actor, "register import"):
            for rownum, cells in rows:
                if rownum in bad_rows:
                    continue
                try:
                    with conn.transaction():  # a savepoint: a refused row leaves no trace
                        _import_one(conn, user, spec, cells, result)
                except FieldErrors as exc:
                    for name, message in exc.errors.items():
                        result.errors.append((rownum, header(name) if name else "", message))
            if result.errors and not valid_only:
                raise _Abort
    except _Abort:
        result.inserted = result.updated = 0
        return result
    result.written = result.inserted + result.updated > 0
    return result


def _import_one(
    conn: psycopg.Connection,
    user: UserLike,
    spec: RegisterSpec,
    cells: Mapping[str, str],
    result: ImportResult,
) -> None:
    values, resolved, errors = to_values(conn, user, spec, _with_defaults(spec, cells))
    errors.update(_missing(spec, resolved, errors))
    if errors:
        raise FieldErrors(errors)
    existing = _existing_id(conn, spec, resolved)
    try:
        if existing is None:
            values = {k: v for k, v in values.items() if v is not None}
            row_id = registers.insert(
                conn, actor_of(user), spec.register, values, reason="register import"
            )
        else:
            if not _visible(conn, user, spec, existing):
                raise FieldErrors({"": i18n.t("reg.err.scope")})
            row_id = existing
            registers.update(
                conn, actor_of(user), spec.register, existing, values, reason="register import"
            )
    except (RegisterError, psycopg.Error) as exc:
        raise FieldErrors(_db_errors(spec, exc)) from exc
    if not _visible(conn, user, spec, row_id):
        raise FieldErrors({"enterprise_id": i18n.t("reg.err.scope")})
    if existing is None:
        result.inserted += 1
    else:
        result.updated += 1
