"""A15: cause and action recorded on a record, replaced on a second save, audited."""

from __future__ import annotations

import psycopg
import pytest

from analytics.alarms.notes import NoteError, check_text, get_note, notes_for, save_note
from tests.analytics.alarms.analysis_fixtures import at, make_site


def test_check_text_pure() -> None:
    assert check_text("cause", "  阀门卡涩 ") == "阀门卡涩"
    with pytest.raises(NoteError, match="cause: required"):
        check_text("cause", "   ")
    with pytest.raises(NoteError, match="action: at most 2000 characters, not 2001"):
        check_text("action", "x" * 2001)


def test_note_saved_replaced_and_audited(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    rid = site.record(conn, site.tag(conn, "TI-7"), "HH", at(0))
    assert get_note(conn, rid) is None
    save_note(conn, site.requester, record_id=rid, cause="进料温度高", action="降低加热负荷")
    note = save_note(conn, site.tech, record_id=rid, cause="换热器结垢", action="切换备用换热器")
    assert (note.cause, note.action, note.author) == (
        "换热器结垢",
        "切换备用换热器",
        site.tech.name,
    )
    assert notes_for(conn, [rid]) == {rid: note}
    rows = conn.execute(
        "SELECT actor, action, after ->> 'cause' FROM audit.log WHERE entity = 'alarm.note'"
        " AND after ->> 'record_id' = %s ORDER BY id",
        (str(rid),),
    ).fetchall()
    assert rows == [
        (site.requester.name, "insert", "进料温度高"),
        (site.tech.name, "update", "换热器结垢"),
    ]
    with pytest.raises(NoteError, match="record_id: no alarm record"):
        save_note(conn, site.tech, record_id=10**12, cause="a", action="b")
