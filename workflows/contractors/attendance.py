"""Attendance of contractor people (C11): records imported from the access-control system or
a sheet, one per person and day, and the counts evaluation (C17) reads.

    n, errors = import_attendance(conn, actor, company_id=4, rows=[
        {"card_no": "C0003-00000012", "day": "2026-12-02", "first_in": "2026-12-02T07:55+08:00",
         "last_out": "2026-12-02T17:10+08:00"}])
    attendance_counts(conn, company_id=4, since=date(2026, 12, 1), until=date(2026, 12, 31))
    # {"P00000007": 1, ...}: days present per person code
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import psycopg

from hazwatch.registers import Actor, acting


def _when(v: Any) -> datetime | None:
    if v in (None, ""):
        return None
    if isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v).strip())


def import_attendance(
    conn: psycopg.Connection, actor: Actor, *, company_id: int, rows: Iterable[Mapping[str, Any]]
) -> tuple[int, list[tuple[int, str]]]:
    """Upsert records by card number (an approved application's card) or person code; returns
    ``(imported, [(row number, why), ...])``. Rows of other companies' people are refused."""
    done = 0
    errors: list[tuple[int, str]] = []
    with acting(conn, actor, "attendance import"):
        for n, row in enumerate(rows, start=1):
            card, code = str(row.get("card_no") or ""), str(row.get("person_code") or "")
            found = conn.execute(
                """SELECT p.id FROM contractor.person p
                   JOIN contractor.employment e ON e.person_id = p.id AND e.company_id = %(c)s
                   WHERE (%(code)s <> '' AND p.person_code = %(code)s)
                      OR (%(card)s <> '' AND p.id IN (SELECT person_id FROM
                          contractor.entry_application WHERE card_no = %(card)s
                          AND company_id = %(c)s))""",
                {"c": company_id, "code": code, "card": card},
            ).fetchone()
            if found is None:
                errors.append((n, "no person of this company with that card or person code"))
                continue
            try:
                day = date.fromisoformat(str(row.get("day"))[:10])
                first_in, last_out = _when(row.get("first_in")), _when(row.get("last_out"))
            except ValueError:
                errors.append((n, "day must be YYYY-MM-DD, times ISO 8601"))
                continue
            if first_in and last_out and first_in > last_out:
                errors.append((n, "first_in is after last_out"))
                continue
            conn.execute(
                """INSERT INTO contractor.attendance (person_id, company_id, day, first_in,
                       last_out, card_no)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (person_id, day) DO UPDATE SET
                       first_in = least(contractor.attendance.first_in, EXCLUDED.first_in),
                       last_out = greatest(contractor.attendance.last_out, EXCLUDED.last_out)""",
                (found[0], company_id, day, first_in, last_out, card or None),
            )
            done += 1
    return done, errors


def attendance_counts(
    conn: psycopg.Connection, *, company_id: int, since: date, until: date
) -> dict[str, int]:
    """Days present per person code in ``[since, until]`` (for evaluation)."""
    rows = conn.execute(
        """SELECT p.person_code, count(*) FROM contractor.attendance a
           JOIN contractor.person p ON p.id = a.person_id
           WHERE a.company_id = %s AND a.day BETWEEN %s AND %s
           GROUP BY p.person_code ORDER BY 1""",
        (company_id, since, until),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}
