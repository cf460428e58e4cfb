"""A3 on the real database: the builder turns alarm.event into alarm.record incrementally."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from analytics.alarms.build import build
from analytics.alarms.queries import Filters, load_active, load_record, load_records
from tests.analytics.alarms.kpi_fixtures import T0, Plant, at, make_plant, write_events

DAY = timedelta(days=1)


def _records(conn: psycopg.Connection, tag_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT condition, raised, acked, returned, cleared, shift_team_id, unit_id, realarms"
        " FROM alarm.record WHERE tag_id = %s ORDER BY raised, condition",
        (tag_id,),
    ).fetchall()


def test_incremental_build_late_events_and_filters(conn: psycopg.Connection) -> None:
    """Run 1 sees ALM 01:00 of FI-1; run 2 sees its ACK and RTN and a late import.

    - FI-1: ALM 01:00:00, (run 1: open), ACK 01:00:29, RTN 01:10:00 -> one record, cleared
      01:10, team A (00-12 h), unit U1.
    - TI-2@S (in the section below U1): ALM 13:00 -> team B; unit filter U1 includes it.
    - late: PI-3@U2 ALM+RTN on T0 - 1 day, written after run 2 moved the watermark: logged
      dirty by the trigger and built by run 3.
    """
    plant = make_plant(conn)
    write_events(conn, plant, [("FI-1", "01:00:00", "ALM", "H")])
    now1 = at("02:00:00")
    r1 = build(conn, now=now1)
    # The builder is global: events other tests of the session left unbuilt are built too.
    assert r1.written >= 1
    fi = plant.tags["FI-1"]
    assert _records(conn, fi)[0][2:5] == (None, None, None)

    write_events(conn, plant, [("FI-1", "01:00:29", "ACK", "H"), ("FI-1", "01:10:00", "RTN", "H"),
                               ("TI-2@S", "13:00:00", "ALM", "L")])  # fmt: skip
    r2 = build(conn, now=at("14:00:00"))
    assert r2.tags >= 2
    (_, raised, acked, returned, cleared, team, unit, _realarms) = _records(conn, fi)[0]
    assert (raised, acked, returned, cleared) == (
        at("01:00:00"),
        at("01:00:29"),
        at("01:10:00"),
        at("01:10:00"),
    )
    assert (team, unit) == (plant.teams["A"], plant.unit_id)
    (ti,) = _records(conn, plant.tags["TI-2@S"])
    assert ti[5] == plant.teams["B"] and ti[6] == plant.section_id

    # Rebuilding with nothing new writes nothing (unchanged rows are not rewritten).
    assert build(conn, now=at("14:01:00")).written == 0

    write_events(conn, plant, [("PI-3@U2", "05:00:00", "ALM", "H"),
                               ("PI-3@U2", "05:01:00", "RTN", "H")], day=T0 - DAY)  # fmt: skip
    dirty = conn.execute("SELECT count(*) FROM alarm.record_dirty").fetchone()
    assert dirty and dirty[0] >= 2
    r3 = build(conn, now=at("14:02:00"))
    assert r3.written == 1
    assert len(_records(conn, plant.tags["PI-3@U2"])) == 1

    recs = load_records(conn, start=T0 - DAY, end=T0 + DAY,
                        filters=Filters(enterprise_id=plant.enterprise_id))  # fmt: skip
    assert [r.tag for r in recs] == ["PI-3@U2", "FI-1", "TI-2@S"]
    u1 = load_records(conn, start=T0 - DAY, end=T0 + DAY, filters=Filters(unit_id=plant.unit_id))
    assert [r.tag for r in u1] == ["FI-1", "TI-2@S"]
    team_b = load_records(conn, start=T0, end=T0 + DAY,
                          filters=Filters(enterprise_id=plant.enterprise_id,
                                          shift_team_id=plant.teams["B"]))  # fmt: skip
    assert [r.tag for r in team_b] == ["TI-2@S"]
    active = load_active(conn, at=at("14:00:00"),
                         filters=Filters(enterprise_id=plant.enterprise_id))  # fmt: skip
    assert [r.tag for r in active] == ["TI-2@S"]
    one = load_record(conn, recs[1].id or 0)
    assert one is not None and one.tag == "FI-1" and one.acked_by is None


def test_ack_after_run_reaches_open_record_and_excluded_survives(
    conn: psycopg.Connection,
) -> None:
    """An occurrence open across runs gets its ACK; ``excluded`` set by A18 is kept."""
    plant = make_plant(conn)
    write_events(
        conn, plant, [("LI-9", "03:00:00", "ALM", "LL"), ("LI-9", "03:00:05", "ALM", "LL")]
    )
    build(conn, now=at("04:00:00"))
    tag = plant.tags["LI-9"]
    conn.execute("UPDATE alarm.record SET excluded = true WHERE tag_id = %s", (tag,))
    write_events(conn, plant, [("LI-9", "04:30:00", "ACK", "LL")])
    build(conn, now=at("05:00:00"))
    rows = conn.execute(
        "SELECT acked, excluded FROM alarm.record WHERE tag_id = %s", (tag,)
    ).fetchall()
    assert rows == [(at("04:30:00"), True)]


def test_demo_shift_calendar_gives_records_a_team(conn: psycopg.Connection) -> None:
    """The demo's 四班三倒 calendar: 3 shifts a day for 67 days, four teams in turn; running it
    again adds nothing; an alarm raised now gets the team on duty now."""
    from datetime import UTC, datetime

    from hazwatch.demo import ensure_demo_shifts
    from tests.conftest import make_enterprise

    ent, _ = make_enterprise(conn)
    assert ensure_demo_shifts(conn, ent) == 67 * 3
    assert ensure_demo_shifts(conn, ent) == 0
    teams = conn.execute(
        "SELECT t.name FROM registry.shift s JOIN registry.shift_team t ON t.id = s.shift_team_id"
        " WHERE s.enterprise_id = %s ORDER BY lower(s.during) LIMIT 5",
        (ent,),
    ).fetchall()
    names = [r[0] for r in teams]
    assert len(set(names[:4])) == 4 and names[4] == names[0]
    plant = Plant(ent, 0, 0, 0, {}, {})
    unit = conn.execute(
        "INSERT INTO registry.unit (enterprise_id, code, name) VALUES (%s, 'D1', 'd') RETURNING id",
        (ent,),
    ).fetchone()
    assert unit
    plant.unit_id = unit[0]
    now = datetime.now(UTC).replace(microsecond=0)
    write_events(conn, plant, [("DEMO-1", 0, "ALM", "H")], day=now - timedelta(minutes=5))
    build(conn)
    on_duty = conn.execute(
        "SELECT shift_team_id FROM registry.shift WHERE enterprise_id = %s AND during @> %s",
        (ent, now - timedelta(minutes=5)),
    ).fetchone()
    rec = conn.execute(
        "SELECT shift_team_id FROM alarm.record WHERE tag_id = %s", (plant.tags["DEMO-1"],)
    ).fetchone()
    assert on_duty and rec == on_duty
