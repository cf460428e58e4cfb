"""Reading alarm records: filters by enterprise / department / unit / shift team (A4-A19).

    f = Filters(unit_id=3, shift_team_id=2)
    recs = load_records(conn, start=t0, end=t1, filters=f, scope=user.scope)
    live = load_active(conn, at=now, filters=f)          # standing alarms at ``now``
    rec = load_record(conn, 1234)                        # one record by id, or None

Records are those *raised* in ``[start, end)``. By default only what statistics count is
returned (annunciated, not excluded); ``include_excluded`` / ``annunciated_only`` widen it.
``scope`` is any object with ``condition(column) -> (sql, params)`` (``dashboards.auth.Scope``):
the user's visibility is enforced in the query.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg import sql

from analytics.alarms.records import AlarmRecord


class ScopeLike(Protocol):
    def condition(self, column: str) -> tuple[sql.Composable, tuple[Any, ...]]: ...


#: Units below a unit (sections, areas) belong to it for filtering: "by unit, section".
_UNIT_TREE = (
    "WITH RECURSIVE t(id) AS (SELECT %s::int UNION ALL"
    " SELECT u.id FROM registry.unit u JOIN t ON u.parent_id = t.id) SELECT id FROM t"
)


@dataclass(frozen=True)
class Filters:
    """The dimensions every analysis filters by; None means any."""

    enterprise_id: int | None = None
    department_id: int | None = None
    unit_id: int | None = None
    shift_team_id: int | None = None
    tag_id: int | None = None
    priority: str | None = None
    alarm_type: str | None = None

    def where(
        self, alias: str = "r", scope: ScopeLike | None = None
    ) -> tuple[sql.Composed, list[Any]]:
        """``(condition, params)`` over columns of ``alarm.record`` (or a rollup) ``alias``."""
        parts: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []

        def col(name: str) -> sql.Composed:
            return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))

        for name in ("enterprise_id", "shift_team_id", "tag_id", "priority", "alarm_type"):
            value = getattr(self, name)
            if value is not None:
                parts.append(sql.SQL("{} = %s").format(col(name)))
                params.append(value)
        if self.unit_id is not None:
            parts.append(sql.SQL("{} IN (" + _UNIT_TREE + ")").format(col("unit_id")))
            params.append(self.unit_id)
        if self.department_id is not None:
            parts.append(
                sql.SQL("{} IN (SELECT id FROM registry.unit WHERE department_id = %s)").format(
                    col("unit_id")
                )
            )
            params.append(self.department_id)
        if scope is not None:
            cond, scope_params = scope.condition(f"{alias}.enterprise_id")
            parts.append(cond)
            params.extend(scope_params)
        return sql.SQL(" AND ").join(parts), params

    def only_rollup_keys(self) -> bool:
        """Whether a rollup grouped by enterprise / unit / shift team can answer these."""
        return self.tag_id is None and self.priority is None and self.alarm_type is None


_COLUMNS = (
    "id", "tag_id", "condition", "raised", "acked", "returned", "cleared", "priority",
    "alarm_type", "enterprise_id", "unit_id", "equipment_id", "shift_team_id", "limit_value",
    "value", "excluded", "point_id", "acked_by", "message", "realarms", "shelved", "suppressed",
    "out_of_service", "annunciated",
)  # fmt: skip
_FIELDS = {f.name for f in fields(AlarmRecord)}
assert set(_COLUMNS) | {"tag"} == _FIELDS, "alarm.record columns and AlarmRecord differ"


def _select(where: sql.Composable) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in _COLUMNS)
    return sql.SQL(
        "SELECT {cols}, coalesce(t.name, '#' || r.tag_id) FROM alarm.record r"
        " LEFT JOIN registry.tag t ON t.id = r.tag_id WHERE {where} ORDER BY r.raised, r.id"
    ).format(cols=cols, where=where)


def _record(row: tuple[Any, ...]) -> AlarmRecord:
    values = dict(zip(_COLUMNS, row[:-1], strict=True))
    return AlarmRecord(tag=row[-1], **values)


def _base(
    filters: Filters | None, scope: ScopeLike | None, include_excluded: bool, annunciated_only: bool
) -> tuple[list[sql.Composable], list[Any]]:
    cond, params = (filters or Filters()).where("r", scope)
    parts: list[sql.Composable] = [cond]
    if not include_excluded:
        parts.append(sql.SQL("NOT r.excluded"))
    if annunciated_only:
        parts.append(sql.SQL("r.annunciated"))
    return parts, params


def load_records(
    conn: psycopg.Connection,
    *,
    start: datetime,
    end: datetime,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
    include_excluded: bool = False,
    annunciated_only: bool = True,
    limit: int | None = None,
) -> list[AlarmRecord]:
    """Records raised in ``[start, end)``, oldest first."""
    parts, params = _base(filters, scope, include_excluded, annunciated_only)
    parts[:0] = [sql.SQL("r.raised >= %s AND r.raised < %s")]
    params[:0] = [start, end]
    query = _select(sql.SQL(" AND ").join(parts))
    if limit is not None:
        query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(int(limit)))
    return [_record(row) for row in conn.execute(query, params)]


def load_active(
    conn: psycopg.Connection,
    *,
    at: datetime,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
    include_excluded: bool = False,
) -> list[AlarmRecord]:
    """Records in the alarm state at ``at`` (raised before it, not returned by then)."""
    parts, params = _base(filters, scope, include_excluded, True)
    # Two index-friendly halves: still active now (partial index), or returned after ``at``.
    parts[:0] = [
        sql.SQL(
            "r.raised <= %s AND (r.returned IS NULL OR (r.returned > %s"
            " AND r.raised >= %s::timestamptz - interval '400 days'))"
        )
    ]
    params[:0] = [at, at, at]
    return [_record(row) for row in conn.execute(_select(sql.SQL(" AND ").join(parts)), params)]


def load_record(conn: psycopg.Connection, record_id: int) -> AlarmRecord | None:
    """One record by id (any state, excluded or not), or None."""
    rows = conn.execute(_select(sql.SQL("r.id = %s")), (record_id,)).fetchall()
    return _record(rows[0]) if rows else None
