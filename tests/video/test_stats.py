"""Statistics and rankings of video alarms (V6, V20) by type, camera, unit and enterprise,
within the user's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from dashboards.auth import Scope
from tests.conftest import make_enterprise
from tests.video.test_registry import LAWN, make_task
from tests.video.test_review import _actor, make_alarm
from video import review, stats
from video.crypto import CredentialBox
from video.stats import Count


def test_rank_and_rates_are_pure() -> None:
    ranked = stats.rank([Count("b", 2, 1, 1, 0), Count("a", 2, 0, 0, 2), Count("c", 5, 5, 0, 0)])
    assert [(r.rank, r.key, r.share) for r in ranked] == [
        (1, "c", 0.5556),
        (2, "a", 0.2222),
        (2, "b", 0.2222),
    ]
    assert stats.rank([]) == []
    assert stats.false_positive_rate(0, 4) == 1.0


def test_counts_by_type_camera_enterprise_within_scope(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, name = make_enterprise(conn)
    other, other_name = make_enterprise(conn)
    t1 = make_task(conn, box, ent, {"intrusion": {"zones": LAWN}})
    t2 = make_task(conn, box, ent, {"crowding": {"zones": LAWN}})
    t3 = make_task(conn, box, other, {"intrusion": {"zones": LAWN}})
    base = datetime(2026, 6, 1, 8, tzinfo=UTC)
    ids = [
        make_alarm(conn, tmp_path, t1, at=base),
        make_alarm(conn, tmp_path, t1, at=base + timedelta(hours=1)),
        make_alarm(conn, tmp_path, t2, "crowding", at=base + timedelta(hours=2)),
        make_alarm(conn, tmp_path, t3, at=base + timedelta(hours=3)),
        make_alarm(conn, tmp_path, t1, at=base + timedelta(days=40)),  # outside the period
    ]
    op = _actor(conn, "operator", ent)
    review.handle(conn, op, ids[1], "false_positive", "误报")
    review.handle(conn, op, ids[1], "close")
    since, until = base - timedelta(days=1), base + timedelta(days=30)
    mine = Scope(enterprise_id=ent).condition("a.enterprise_id")
    by_type = {c.key: c for c in stats.counts(conn, "type", since, until, *mine)}
    assert {k: c.total for k, c in by_type.items()} == {"intrusion": 2, "crowding": 1}
    assert by_type["intrusion"].false_positive == 1 and by_type["intrusion"].open == 1
    cams = stats.rank(stats.counts(conn, "camera", since, until, *mine))
    assert [r.total for r in cams] == [2, 1] and cams[0].rank == 1
    cam1 = conn.execute("SELECT camera_label FROM video.alarm WHERE id = %s", (ids[0],)).fetchone()
    assert cam1 and cams[0].key == cam1[0]
    both = sql.SQL("a.enterprise_id = ANY(%s)"), ([ent, other],)
    ranking = stats.rank(stats.counts(conn, "enterprise", since, until, *both))
    assert [(r.key, r.total) for r in ranking] == [(name, 3), (other_name, 1)]
    only = stats.counts(conn, "enterprise", since, until, *both, recognition="crowding")
    assert [(c.key, c.total) for c in only] == [(name, 1)]
    summary = stats.summary(conn, since, until, *mine)
    assert summary == {
        "total": 3,
        "confirmed": 0,
        "false_positive": 1,
        "open": 2,
        "false_positive_rate": 1.0,
    }
    assert stats.counts(conn, "type", since, until, *Scope().condition("a.enterprise_id")) == []
