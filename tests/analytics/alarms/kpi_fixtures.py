"""Helpers for the alarm record / KPI tests: a small plant and hand-written alarm logs.

plant = make_plant(conn)                       # enterprise, unit U1 (+ section), 2 teams
write_events(conn, plant, [("FI-1", "00:00:00", "ALM", "H"), ...], day=T0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 00:00 UTC
ACTOR = Actor(None, "test")


@dataclass
class Plant:
    enterprise_id: int
    unit_id: int
    section_id: int
    other_unit_id: int
    teams: dict[str, int]
    tags: dict[str, int]


def make_plant(conn: psycopg.Connection, tags: Sequence[str] = ()) -> Plant:
    """One enterprise with unit U1 (section U1-S below it), unit U2, teams A and B.

    Team A is on duty 00:00-12:00 UTC and team B 12:00-24:00 of T0 .. T0 + 3 days. Tags
    ending in ``@U2`` sit in U2, ``@S`` in the section, others in U1.
    """
    ent, _ = make_enterprise(conn)
    unit = registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": "U1", "name": "常减压装置"}
    )
    section = registers.insert(
        conn,
        ACTOR,
        "unit",
        {"enterprise_id": ent, "code": "U1-S", "name": "常压塔", "kind": "section",
         "parent_id": unit},
    )  # fmt: skip
    other = registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": "U2", "name": "罐区"}
    )
    teams = {
        name: registers.insert(conn, ACTOR, "shift_team", {"enterprise_id": ent, "name": name})
        for name in ("A", "B")
    }
    with conn.transaction():
        for day in range(4):
            for name, hour in (("A", 0), ("B", 12)):
                lo = T0 + timedelta(days=day, hours=hour)
                conn.execute(
                    "INSERT INTO registry.shift (enterprise_id, shift_team_id, during)"
                    " VALUES (%s, %s, tstzrange(%s, %s))",
                    (ent, teams[name], lo, lo + timedelta(hours=12)),
                )
    plant = Plant(ent, unit, section, other, teams, {})
    for name in tags:
        add_tag(conn, plant, name)
    return plant


def add_tag(conn: psycopg.Connection, plant: Plant, name: str) -> int:
    unit = plant.unit_id
    if name.endswith("@U2"):
        unit = plant.other_unit_id
    elif name.endswith("@S"):
        unit = plant.section_id
    tag = registers.insert(
        conn, ACTOR, "tag", {"enterprise_id": plant.enterprise_id, "unit_id": unit, "name": name}
    )
    plant.tags[name] = tag
    return tag


def at(offset: str | float, day: datetime = T0) -> datetime:
    """``"01:02:03"`` (or seconds) after ``day``."""
    if isinstance(offset, str):
        h, m, s = (float(x) for x in offset.split(":"))
        return day + timedelta(hours=h, minutes=m, seconds=s)
    return day + timedelta(seconds=offset)


Event = tuple  # (tag name, offset, kind, condition[, priority[, category]])


def write_events(
    conn: psycopg.Connection, plant: Plant, events: Iterable[Event], day: datetime = T0
) -> int:
    """Insert hand-written events into alarm.event (tags created on first use)."""
    rows = []
    for ev in events:
        name, offset, kind, cond, *rest = ev
        prio = rest[0] if rest else ("high" if kind == "ALM" else None)
        cat = rest[1] if len(rest) > 1 else ("process" if kind == "ALM" else None)
        tag = plant.tags.get(name) or add_tag(conn, plant, name)
        rows.append((at(offset, day), tag, kind, cond, prio, cat, "test"))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, category, source)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)
