"""Statistics and rankings of video alarms (V6, V20): by type, camera, unit and enterprise,
within a user's scope and a period.

    rows = counts(conn, "camera", since, until, scope_sql, scope_params)
    ranked = rank(rows)          # [Ranked(rank=1, key="CAM-01 罐区东", total=12, ...)]
    summary(conn, since, until, scope_sql, scope_params)   # totals by state, false-positive rate

Alarms received from lower levels (V20) count under their enterprise like local ones, so a
park or city instance ranks its enterprises with the same query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql

#: Grouping name -> SQL expression (fixed text; never from input).
GROUPS: Final[dict[str, str]] = {
    "type": "a.recognition",
    "camera": "nullif(a.camera_label, '')",
    "unit": "nullif(a.unit_label, '')",
    "enterprise": "e.name",
    "day": "to_char(a.raised_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
}


@dataclass(frozen=True)
class Count:
    key: str
    total: int
    confirmed: int  # confirmed, handled or closed after confirmation
    false_positive: int
    open: int


@dataclass(frozen=True)
class Ranked:
    rank: int
    key: str
    total: int
    confirmed: int
    false_positive: int
    open: int
    share: float  # of all alarms counted


def rank(rows: Sequence[Count]) -> list[Ranked]:
    """Most alarms first; equal totals share a rank (1, 2, 2, 4), ties ordered by key.

    >>> [r.rank for r in rank([Count("a", 5, 0, 0, 0), Count("b", 7, 0, 0, 0),
    ...                        Count("c", 5, 0, 0, 0)])]
    [1, 2, 2]
    """
    ordered = sorted(rows, key=lambda c: (-c.total, c.key))
    grand = sum(c.total for c in rows) or 1
    out: list[Ranked] = []
    for i, c in enumerate(ordered):
        r = out[-1].rank if out and out[-1].total == c.total else i + 1
        out.append(
            Ranked(
                r, c.key, c.total, c.confirmed, c.false_positive, c.open, round(c.total / grand, 4)
            )
        )
    return out


def false_positive_rate(confirmed: int, false_positive: int) -> float | None:
    """Of the alarms people judged, the share that were false (None before any judgement).

    >>> false_positive_rate(3, 1), false_positive_rate(0, 0)
    (0.25, None)
    """
    judged = confirmed + false_positive
    return None if judged == 0 else round(false_positive / judged, 4)


_COUNTS = """
SELECT coalesce({g}, '-') AS key, count(*) AS total,
       count(*) FILTER (WHERE a.state IN ('confirmed', 'handled')
                        OR (a.state = 'closed' AND NOT EXISTS (SELECT 1 FROM video.alarm_action x
                            WHERE x.alarm_id = a.id AND x.action = 'false_positive'))),
       count(*) FILTER (WHERE a.state = 'false_positive'
                        OR EXISTS (SELECT 1 FROM video.alarm_action x
                            WHERE x.alarm_id = a.id AND x.action = 'false_positive')),
       count(*) FILTER (WHERE a.state = 'open')
FROM video.alarm a JOIN registry.enterprise e ON e.id = a.enterprise_id
WHERE a.raised_at >= %s AND a.raised_at < %s AND {scope}
  AND (%s::text IS NULL OR a.recognition = %s)
GROUP BY 1
"""


def counts(
    conn: psycopg.Connection,
    by: str,
    since: datetime,
    until: datetime,
    scope: sql.Composable,
    scope_params: Sequence[Any] = (),
    recognition: str | None = None,
) -> list[Count]:
    """Alarms raised in [since, until) grouped ``by`` one of GROUPS, within ``scope``
    (``dashboards.auth.Scope.condition("a.enterprise_id")``)."""
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    query = sql.SQL(_COUNTS).format(g=sql.SQL(GROUPS[by]), scope=scope)  # type: ignore[arg-type]
    rows = conn.execute(query, (since, until, *scope_params, recognition, recognition)).fetchall()
    return [Count(str(k), int(t), int(c), int(f), int(o)) for k, t, c, f, o in rows]


def summary(
    conn: psycopg.Connection,
    since: datetime,
    until: datetime,
    scope: sql.Composable,
    scope_params: Sequence[Any] = (),
) -> dict[str, Any]:
    """Totals of the period: all, by state, and the false-positive rate of judged alarms."""
    rows = counts(conn, "enterprise", since, until, scope, scope_params)
    total = sum(r.total for r in rows)
    confirmed = sum(r.confirmed for r in rows)
    false = sum(r.false_positive for r in rows)
    return {
        "total": total,
        "confirmed": confirmed,
        "false_positive": false,
        "open": sum(r.open for r in rows),
        "false_positive_rate": false_positive_rate(confirmed, false),
    }
