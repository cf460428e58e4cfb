"""C12 positioning: geofence rules as pure functions, and against the real database a tag
bound to an access card whose trip into a forbidden area raises exactly one alarm, which
clears when the tag is back where it may be."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from tests.workflows.contractors.ops_helpers import approved_entry, person
from tests.workflows.contractors.site import TEST, make_site
from workflows.contractors import positioning, positioning_sim
from workflows.contractors.archive import ContractorError
from workflows.contractors.positioning import (
    Fence,
    Reading,
    TagInfo,
    check_position,
    parse_polygon,
    point_in_polygon,
)

SQUARE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TAG = TagInfo(1, "T-1", "person", 5, T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_point_in_polygon_inside_outside_and_on_the_line() -> None:
    assert point_in_polygon(5, 5, SQUARE)
    assert not point_in_polygon(15, 5, SQUARE)
    assert point_in_polygon(10, 5, SQUARE)  # the fence line belongs to the fence
    concave = [(0, 0), (10, 0), (10, 10), (5, 3), (0, 10)]
    assert not point_in_polygon(5, 8, concave)
    assert point_in_polygon(2, 2, concave)


def test_polygon_input_is_checked() -> None:
    assert parse_polygon("[[0,0],[4,0],[4,3]]") == ((0, 0), (4, 0), (4, 3))
    with pytest.raises(ValueError, match="point 2"):
        parse_polygon([[0, 0], ["a", 1], [3, 3]])
    with pytest.raises(ValueError, match="one line"):
        parse_polygon([[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="3 to 200"):
        parse_polygon([[0, 0], [1, 1]])


def test_forbidden_area_period_and_allowed_area_rules() -> None:
    forbidden = Fence(1, "储罐区", "forbidden", SQUARE)
    work = Fence(2, "检修区", "allowed", ((20, 0), (40, 0), (40, 20), (20, 20)), project_id=5,
                 active_until=T0 + timedelta(hours=1))  # fmt: skip
    other_project = Fence(3, "别的项目", "allowed", ((50, 0), (60, 0), (60, 10)), project_id=9)
    fences = [forbidden, work, other_project]
    assert check_position(TAG, fences, 5, 5, T0) == positioning.Violation(
        "forbidden", 1, "闯入禁入区域 储罐区"
    )
    assert check_position(TAG, fences, 30, 10, T0) is None
    outside = check_position(TAG, fences, 100, 100, T0)
    assert outside is not None and outside.kind == "outside_allowed"
    late = check_position(TAG, fences, 30, 10, T0 + timedelta(hours=2))
    assert late is not None and (late.kind, late.fence_id) == ("period", 2)
    expired = check_position(TAG, fences, 30, 10, T0 + timedelta(days=2))
    assert expired is not None and expired.kind == "period" and expired.fence_id is None
    # a vehicle-only forbidden fence does not concern a person
    vehicles = Fence(4, "人行道", "forbidden", SQUARE, applies_to="vehicle")
    assert check_position(TAG, [vehicles], 5, 5, T0) is None


def test_violation_raises_one_alarm_and_clears(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    pid = person(conn, site, tmp_path, "定位人员")
    card = approved_entry(conn, site, pid)
    positioning.save_fence(
        conn,
        TEST,
        enterprise_id=site.enterprise_id,
        name="储罐区（禁入）",
        kind="forbidden",
        polygon=[[0, 0], [50, 0], [50, 40], [0, 40]],
    )
    positioning.save_fence(conn, TEST, enterprise_id=site.enterprise_id, name="检修作业区",
                           kind="allowed", project_id=site.project_id,
                           polygon=[[100, 0], [200, 0], [200, 100], [100, 100]])  # fmt: skip
    tag_id = positioning.bind_card(conn, TEST, enterprise_id=site.enterprise_id,
                                   tag_no="T-0001", card_no=card)  # fmt: skip
    with pytest.raises(ContractorError, match="already carries a tag"):
        positioning.bind_card(conn, TEST, enterprise_id=site.enterprise_id, tag_no="T-0002",
                              card_no=card)  # fmt: skip
    now = datetime.now(UTC)
    walk = [
        Reading("T-0001", now - timedelta(minutes=5), 150, 50),  # at work: fine
        Reading("T-0001", now - timedelta(minutes=4), 20, 20),  # into the tank farm
        Reading("T-0001", now - timedelta(minutes=3), 25, 22),  # still there
        Reading("T-0001", now - timedelta(minutes=2), 150, 60),  # back at work
        Reading("NOT-OURS", now - timedelta(minutes=2), 20, 20),
    ]
    result = positioning.ingest(conn, site.enterprise_id, walk)
    assert (result.stored, result.unknown, result.raised, result.cleared) == (4, 1, 1, 1)
    alerts = conn.execute(
        "SELECT state, level, summary FROM workflow.alert WHERE source = %s AND key = %s",
        (positioning.SOURCE, f"{site.enterprise_id}:T-0001"),
    ).fetchall()
    assert len(alerts) == 1
    assert alerts[0][0] == "resolved" and alerts[0][1] == "alarm"
    assert "储罐区（禁入）" in alerts[0][2] or "T-0001" in alerts[0][2]
    episodes = conn.execute(
        "SELECT kind, ended_at IS NOT NULL FROM contractor.position_violation WHERE tag_id = %s",
        (tag_id,),
    ).fetchall()
    assert episodes == [("forbidden", True)]
    last = conn.execute(
        "SELECT last_x, last_y FROM contractor.positioning_tag WHERE id = %s", (tag_id,)
    ).fetchone()
    assert last == (150, 60)
    # leaving the allowed area opens a new episode; returning the tag clears it
    positioning.ingest(conn, site.enterprise_id, [Reading("T-0001", now, 500, 500)])
    open_ = conn.execute(
        "SELECT kind FROM contractor.position_violation WHERE tag_id = %s AND ended_at IS NULL",
        (tag_id,),
    ).fetchall()
    assert open_ == [("outside_allowed",)]
    positioning.return_tag(conn, TEST, tag_id)
    assert not conn.execute(
        "SELECT 1 FROM workflow.alert WHERE source = %s AND key = %s AND state = 'firing'",
        (positioning.SOURCE, f"{site.enterprise_id}:T-0001"),
    ).fetchone()
    assert positioning.ingest(conn, site.enterprise_id, [Reading("T-0001", now, 1, 1)]).unknown == 1


def test_a_card_of_another_enterprise_or_not_approved_is_refused(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    site = make_site(conn)
    other = make_site(conn)
    card = approved_entry(conn, site, person(conn, site, tmp_path))
    with pytest.raises(ContractorError, match="no access card"):
        positioning.bind_card(conn, TEST, enterprise_id=other.enterprise_id, tag_no="X-1",
                              card_no=card)  # fmt: skip
    with pytest.raises(ContractorError, match="polygon"):
        positioning.save_fence(conn, TEST, enterprise_id=site.enterprise_id, name="坏",
                               kind="allowed", polygon="[[0,0],[1,1]]")  # fmt: skip


def test_the_demo_feed_walks_into_the_tank_farm_and_back(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    forbidden = positioning_sim.FORBIDDEN[1]
    polygon = [(float(x), float(y)) for x, y in forbidden]
    for step in range(positioning_sim.CYCLE):
        x, y, intrudes = positioning_sim.path_point(3, step)
        assert point_in_polygon(x, y, polygon) == intrudes
    site = make_site(conn)
    registers.update(conn, TEST, "contractor_project", site.project_id, {"status": "in_progress"})
    approved_entry(conn, site, person(conn, site, tmp_path, "演示定位"))
    # two fences, the vehicle tag, the tag of the approved card; nothing on a second call
    assert positioning_sim.ensure_demo_positioning(conn, site.enterprise_id) == 4
    assert positioning_sim.ensure_demo_positioning(conn, site.enterprise_id) == 0
    raised = cleared = 0
    # Start where every tag is outside (the walk is staggered by tag id), so one cycle takes
    # each tag into the tank farm exactly once and out again.
    tags = [int(t["id"]) for t in positioning.tag_rows(conn, [site.enterprise_id], None)]
    cycle = positioning_sim.CYCLE
    start = next(
        s for s in range(cycle) if not any(positioning_sim.path_point(t, s)[2] for t in tags)
    )
    for step in range(start, start + cycle + 1):
        result = positioning_sim.step_once(conn, site.enterprise_id, step)
        raised, cleared = raised + result.raised, cleared + result.cleared
    assert result.stored == 2
    assert raised == 2 and cleared == 2  # each tag once into the tank farm and out again


def test_the_demo_feed_process_loop(conn: psycopg.Connection, db_url: str) -> None:
    site = make_site(conn)
    stop = threading.Event()
    worker = threading.Thread(
        target=positioning_sim.run,
        args=(lambda: psycopg.connect(db_url, autocommit=True), site.enterprise_id, stop, 0.05),
    )
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM contractor.position p JOIN contractor.positioning_tag t"
                " ON t.id = p.tag_id WHERE t.enterprise_id = %s",
                (site.enterprise_id,),
            ).fetchone()
            if row is not None and row[0] >= 5:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert row is not None and row[0] >= 5  # the vehicle tag moved at least five times
