"""A positioning system for the demo (C12): geofences of the demo site, a vehicle tag, tags
bound to every approved access card without one, and a feed that walks the tags around their
work area and, once in a while, into the forbidden tank farm and back (an alarm raised, then
cleared). Positions go through ``positioning.ingest`` exactly as a real feed's would.

    ensure_demo_positioning(conn, enterprise_id)          # idempotent
    run(connect_fn, enterprise_id, stop, period_s=5)       # until stop is set
    path_point(tag_id, step) -> (x, y, intrudes)           # pure
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import psycopg

from hazwatch.registers import Actor
from workflows.contractors import positioning
from workflows.contractors.archive import ContractorError

log = logging.getLogger("hazwatch.contractors.positioning_sim")
ACTOR: Final = Actor(id=None, name="demo")
FORBIDDEN: Final = ("储罐区（禁止入内）", [[0, 0], [60, 0], [60, 45], [0, 45]])
WORK_AREA: Final = ("管线检修作业区", [[80, 0], [180, 0], [180, 90], [80, 90]])
VEHICLE_TAG: Final = "V-DEMO-1"
#: Every CYCLE steps a tag spends INTRUSION steps in the tank farm.
CYCLE: Final = 40
INTRUSION: Final = 3


def path_point(tag_id: int, step: int) -> tuple[float, float, bool]:
    """Where the demo puts a tag at a step: a loop in the work area, and for a few steps of
    each cycle (staggered by tag) a point inside the tank farm."""
    phase = (step + 7 * tag_id) % CYCLE
    if phase < INTRUSION:
        return 30.0 + 5 * phase, 20.0 + 3 * (tag_id % 5), True
    angle = 2 * math.pi * phase / CYCLE
    return 130.0 + 35 * math.cos(angle), 45.0 + 30 * math.sin(angle), False


def ensure_demo_positioning(conn: psycopg.Connection, enterprise_id: int) -> int:
    """Fences, the vehicle tag and tags for unbound approved cards; how many rows were added."""
    added = 0
    have = {r["name"] for r in positioning.fence_rows(conn, [enterprise_id])}
    project = conn.execute(
        "SELECT id, company_id FROM contractor.project WHERE enterprise_id = %s"
        " ORDER BY status = 'in_progress' DESC, id LIMIT 1",
        (enterprise_id,),
    ).fetchone()
    for (name, polygon), kind in ((FORBIDDEN, "forbidden"), (WORK_AREA, "allowed")):
        if name not in have:
            positioning.save_fence(
                conn, ACTOR, enterprise_id=enterprise_id, name=name, kind=kind, polygon=polygon,
                project_id=project[0] if project and kind == "allowed" else None,
            )  # fmt: skip
            added += 1
    if (
        project is not None
        and not conn.execute(
            "SELECT 1 FROM contractor.positioning_tag WHERE enterprise_id = %s AND tag_no = %s"
            " AND status = 'active'",
            (enterprise_id, VEHICLE_TAG),
        ).fetchone()
    ):
        now = datetime.now(UTC)
        positioning.bind_vehicle(
            conn, ACTOR, enterprise_id=enterprise_id, tag_no=VEHICLE_TAG, plate="晋A·D1234",
            company_id=project[1], project_id=project[0], valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(days=365),
        )  # fmt: skip
        added += 1
    return added + bind_new_cards(conn, enterprise_id)


def bind_new_cards(conn: psycopg.Connection, enterprise_id: int) -> int:
    """A tag for every approved, still valid access card that has none (what the gate clerk
    does when a card is handed out)."""
    cards = conn.execute(
        """SELECT a.card_no FROM contractor.entry_application a
           WHERE a.enterprise_id = %s AND a.status = 'approved' AND a.card_no IS NOT NULL
             AND a.valid_until >= current_date
             AND NOT EXISTS (SELECT 1 FROM contractor.positioning_tag t
                             WHERE t.card_no = a.card_no AND t.status = 'active')""",
        (enterprise_id,),
    ).fetchall()
    done = 0
    for (card,) in cards:
        try:
            positioning.bind_card(conn, ACTOR, enterprise_id=enterprise_id,
                                  tag_no=f"T-{card[-6:]}", card_no=card)  # fmt: skip
            done += 1
        except ContractorError as exc:  # a tag number in use: leave it to a person
            log.info("card %s not bound: %s", card, exc)
    return done


def step_once(conn: psycopg.Connection, enterprise_id: int, step: int) -> positioning.IngestResult:
    now = datetime.now(UTC)
    readings = []
    for tag in positioning.tag_rows(conn, [enterprise_id], None):
        x, y, _ = path_point(int(tag["id"]), step)
        readings.append(positioning.Reading(tag["tag_no"], now, x, y))
    return positioning.ingest(conn, enterprise_id, readings, now=now)


def run(
    connect: Callable[[], psycopg.Connection],
    enterprise_id: int,
    stop: threading.Event,
    period_s: float = 5.0,
) -> None:
    """Feed positions every ``period_s`` until ``stop``; a lost database is retried."""
    step = 0
    while not stop.is_set():
        try:
            with connect() as conn:
                ensure_demo_positioning(conn, enterprise_id)
                while not stop.is_set():
                    if step % 12 == 0:
                        bind_new_cards(conn, enterprise_id)
                    result = step_once(conn, enterprise_id, step)
                    if result.raised or result.cleared:
                        log.info("positions %d, alarms raised %d, cleared %d", result.stored,
                                 result.raised, result.cleared)  # fmt: skip
                    step += 1
                    stop.wait(period_s)
        except psycopg.OperationalError as exc:
            log.warning("database unavailable (%s); retrying", exc)
            stop.wait(5)
