"""Small helpers for the A9-A18 tests: alarm records written by hand.

rec("FI-1", "H", 0)            # FI-1 high alarm raised at T0 + 0 s
rec("FI-1", "H", 5, acked=20)  # acknowledged 20 s after T0
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from analytics.alarms.records import AlarmRecord
from hazwatch import registers
from hazwatch.auth import create_user
from hazwatch.registers import Actor
from tests.conftest import make_enterprise

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TAG_IDS: dict[str, int] = {}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rec(
    tag: str,
    condition: str,
    raised_s: float,
    *,
    acked: float | None = None,
    returned: float | None = None,
    excluded: bool = False,
    unit_id: int | None = 1,
    record_id: int | None = None,
    priority: str = "high",
) -> AlarmRecord:
    tag_id = TAG_IDS.setdefault(tag, len(TAG_IDS) + 1)
    return AlarmRecord(
        tag_id=tag_id,
        tag=tag,
        condition=condition,
        raised=at(raised_s),
        acked=None if acked is None else at(acked),
        returned=None if returned is None else at(returned),
        cleared=None,
        priority=priority,
        alarm_type="process",
        enterprise_id=1,
        unit_id=unit_id,
        equipment_id=None,
        shift_team_id=None,
        limit_value=None,
        value=None,
        excluded=excluded,
        id=record_id,
    )


# -- database fixtures (ledger, exclusions, notes, audit) ------------------------------------

TEST_ACTOR = Actor(None, "test")


def person(conn: psycopg.Connection, role: str, enterprise_id: int | None) -> Actor:
    """A user of the enterprise (by id) with a fresh name; returned as an Actor."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    ent = None if enterprise_id is None else str(enterprise_id)
    uid = create_user(conn, TEST_ACTOR, name=name, role=role, password="correct-horse-9",
                      enterprise=ent)  # fmt: skip
    return Actor(uid, name)


def group(conn: psycopg.Connection, enterprise_id: int, code: str, *members: Actor) -> None:
    gid = registers.insert(
        conn, TEST_ACTOR, "user_group", {"enterprise_id": enterprise_id, "code": code,
                                         "name": code},
    )  # fmt: skip
    for m in members:
        registers.insert(conn, TEST_ACTOR, "user_group_member", {"group_id": gid, "user_id": m.id})


@dataclass
class Site:
    """An enterprise with a requester (operator), a process engineer (process_tech), a
    safety manager (safety_mgmt) and a leader (leadership); tags and points on demand."""

    enterprise_id: int
    requester: Actor
    tech: Actor
    safety: Actor
    leader: Actor

    def tag(self, conn: psycopg.Connection, name: str) -> int:
        return registers.insert(
            conn, TEST_ACTOR, "tag", {"enterprise_id": self.enterprise_id, "name": name,
                                      "range_low": 0, "range_high": 100},
        )  # fmt: skip

    def point(
        self, conn: psycopg.Connection, tag_id: int, condition: str = "HH",
        limit: float | None = 90.0, priority: str = "high",
    ) -> int:  # fmt: skip
        return registers.insert(
            conn, TEST_ACTOR, "alarm_point",
            {"tag_id": tag_id, "condition": condition, "limit_value": limit,
             "priority": priority, "category": "process"},
        )  # fmt: skip

    def record(
        self, conn: psycopg.Connection, tag_id: int, condition: str, raised: datetime,
        priority: str = "high",
    ) -> int:  # fmt: skip
        """An alarm record written as the builder would (acked 10 s, returned 60 s later)."""
        row = conn.execute(
            """INSERT INTO alarm.record (raised, tag_id, condition, enterprise_id, priority,
                   alarm_type, acked, returned, cleared)
               VALUES (%s, %s, %s, %s, %s, 'process', %s, %s, %s) RETURNING id""",
            (raised, tag_id, condition, self.enterprise_id, priority,
             raised + timedelta(seconds=10), raised + timedelta(seconds=60),
             raised + timedelta(seconds=60)),
        ).fetchone()  # fmt: skip
        assert row is not None
        return int(row[0])


def make_site(conn: psycopg.Connection) -> Site:
    ent, _ = make_enterprise(conn, "报警分析测试")
    site = Site(
        ent,
        person(conn, "operator", ent),
        person(conn, "operator", ent),
        person(conn, "operator", ent),
        person(conn, "operator", ent),
    )
    group(conn, ent, "process_tech", site.tech)
    group(conn, ent, "safety_mgmt", site.safety)
    group(conn, ent, "leadership", site.leader)
    return site
