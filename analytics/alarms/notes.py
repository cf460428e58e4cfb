"""A15 cause and action recorded by operators on an alarm record.

One note per record: the cause found and the action taken (annex 4, 3.4: "操作员可在系统中录入
报警原因、处置措施等信息"). Writing it again replaces it; every write is in ``audit.log`` with the
author (trigger on ``alarm.note``). Operators and engineers of the record's enterprise write;
regulators only read.

    save_note(conn, actor, record_id=101, cause="进料阀卡涩", action="切旁路并联系仪表检修")
    note = get_note(conn, 101)          # Note | None
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import psycopg

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting

MAX_TEXT: Final = 2000


class NoteError(HazwatchError):
    """A note that cannot be saved; the message names the field."""


@dataclass(frozen=True)
class Note:
    record_id: int
    cause: str
    action: str
    author: str
    updated_at: datetime


def check_text(field: str, value: str | None) -> str:
    """Trimmed text, 1..2000 characters, or a NoteError naming the field."""
    text = (value or "").strip()
    if not text:
        raise NoteError(f"{field}: required")
    if len(text) > MAX_TEXT:
        raise NoteError(f"{field}: at most {MAX_TEXT} characters, not {len(text)}")
    return text


def save_note(
    conn: psycopg.Connection, actor: Actor, *, record_id: int, cause: str, action: str
) -> Note:
    """Write (or replace) the note of a record."""
    cause_t, action_t = check_text("cause", cause), check_text("action", action)
    rec = conn.execute(
        "SELECT tag_id, condition, raised, enterprise_id FROM alarm.record WHERE id = %s",
        (record_id,),
    ).fetchone()
    if rec is None:
        raise NoteError(f"record_id: no alarm record with id {record_id}")
    if rec[3] is None:
        raise NoteError(f"record {record_id} belongs to no enterprise")
    with acting(conn, actor, "A15 cause and action"):
        row = conn.execute(
            """INSERT INTO alarm.note (record_id, tag_id, condition, raised, enterprise_id,
                                       cause, action, author_id, author)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (record_id) DO UPDATE SET cause = excluded.cause,
                   action = excluded.action, author_id = excluded.author_id,
                   author = excluded.author
               RETURNING record_id, cause, action, author, updated_at""",
            (record_id, *rec, cause_t, action_t, actor.id, actor.name),
        ).fetchone()
    assert row is not None
    return Note(*row)


def get_note(conn: psycopg.Connection, record_id: int) -> Note | None:
    row = conn.execute(
        "SELECT record_id, cause, action, author, updated_at FROM alarm.note WHERE record_id = %s",
        (record_id,),
    ).fetchone()
    return None if row is None else Note(*row)


def notes_for(conn: psycopg.Connection, record_ids: list[int]) -> dict[int, Note]:
    """Notes of many records (for lists), by record id."""
    rows = conn.execute(
        "SELECT record_id, cause, action, author, updated_at FROM alarm.note"
        " WHERE record_id = ANY(%s)",
        (record_ids,),
    ).fetchall()
    return {int(r[0]): Note(*r) for r in rows}
