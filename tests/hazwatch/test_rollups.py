"""Rollups equal direct aggregation of the raw table, before and after refresh (issue 3).

Runs on a database of its own (rollup state is global to a database). Each hypothesis example
starts from an empty ts.sample and freshly built rollups.
"""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hazwatch.rollups import catalog, engine
from hazwatch.rollups.declare import Rollup
from hazwatch.rollups.ranges import align_ranges, bucket_floor
from tests.conftest import migrated_database

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HORIZON_S = 3 * 86400  # examples span three days, so the 1 d level has several buckets


@pytest.fixture(scope="module")
def rollup_db(admin_url: str) -> Iterator[str]:
    with migrated_database(admin_url, "hw_rollups") as url:
        yield url


@pytest.fixture
def rc(rollup_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(rollup_db, autocommit=True) as conn:
        yield conn


def reset(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE ts.sample")
    engine.rebuild(conn)


Row = tuple[int, int, float | None]  # tag, seconds after T0, value


def insert(conn: psycopg.Connection, rows: list[Row]) -> None:
    with conn.cursor().copy("COPY ts.sample (time, tag_id, value) FROM STDIN") as cp:
        for tag, sec, value in rows:
            cp.write_row((T0 + timedelta(seconds=sec), tag, value))


def direct(conn: psycopg.Connection, rollup: Rollup, lo: datetime, hi: datetime) -> list[tuple]:
    """The same statistics computed straight from ts.sample."""
    return conn.execute(
        "SELECT time_bucket(%s, time) AS b, tag_id, count(value), min(value), max(value),"
        " avg(value), last(value, time), sum(value) FROM ts.sample"
        " WHERE time_bucket(%s, time) >= %s AND time_bucket(%s, time) < %s"
        " GROUP BY 1, 2 ORDER BY 2, 1",
        (rollup.bucket, rollup.bucket, lo, rollup.bucket, hi),
    ).fetchall()


def viewed(conn: psycopg.Connection, rollup: Rollup, lo: datetime, hi: datetime) -> list[tuple]:
    from psycopg import sql

    return conn.execute(
        sql.SQL(
            "SELECT bucket, tag_id, n, min, max, avg, last, sum FROM {}"
            " WHERE bucket >= %s AND bucket < %s ORDER BY tag_id, bucket"
        ).format(rollup.view),
        (lo, hi),
    ).fetchall()


def assert_views_equal_raw(conn: psycopg.Connection, lo: datetime, hi: datetime) -> None:
    # The sample levels; the alarm KPI levels have columns of their own (tested with alarms).
    for rollup in (r for r in catalog.ROLLUPS if r.root_source == "ts.sample"):
        want, got = direct(conn, rollup, lo, hi), viewed(conn, rollup, lo, hi)
        assert [r[:2] for r in got] == [r[:2] for r in want], rollup.name
        for g, w in zip(got, want, strict=True):
            assert (g[2], g[3], g[4], g[6]) == (w[2], w[3], w[4], w[6]), (rollup.name, g, w)
            for a, b in ((g[5], w[5]), (g[7], w[7])):
                assert (a is None) == (b is None), (rollup.name, g, w)
                if a is not None:
                    assert a == pytest.approx(b, rel=1e-9, abs=1e-6), (rollup.name, g, w)


values = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
rows_st = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, HORIZON_S - 1), values),
    max_size=120,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=rows_st,
    late=rows_st,
    updates=st.lists(st.tuples(st.integers(0, 119), values), max_size=15),
    deletes=st.lists(st.integers(0, 119), max_size=10),
    refresh_at=st.integers(0, HORIZON_S),
    window=st.tuples(st.integers(-86400, HORIZON_S + 86400), st.integers(0, 4 * 86400)),
)
def test_views_equal_raw_before_and_after_refresh(
    rc: psycopg.Connection,
    initial: list[Row],
    late: list[Row],
    updates: list[tuple[int, float | None]],
    deletes: list[int],
    refresh_at: int,
    window: tuple[int, int],
) -> None:
    reset(rc)
    lo = T0 + timedelta(seconds=window[0])
    hi = lo + timedelta(seconds=window[1])
    everything = (T0 - timedelta(days=2), T0 + timedelta(days=6))
    insert(rc, initial)
    # Nothing materialised yet: the views are all real-time aggregation.
    assert_views_equal_raw(rc, *everything)
    now = T0 + timedelta(seconds=refresh_at)
    for rollup in catalog.ROLLUPS:
        engine.refresh(rc, rollup, now=now)
    assert_views_equal_raw(rc, lo, hi)
    assert_views_equal_raw(rc, *everything)

    # Late rows behind the watermark, corrections and deletions of existing rows.
    taken = {(t, s) for t, s, _ in initial}
    insert(rc, [r for r in late if (r[0], r[1]) not in taken])
    for idx, value in updates:
        if idx < len(initial):
            tag, sec, _ = initial[idx]
            rc.execute(
                "UPDATE ts.sample SET value = %s WHERE tag_id = %s AND time = %s",
                (value, tag, T0 + timedelta(seconds=sec)),
            )
    for idx in deletes:
        if idx < len(initial):
            tag, sec, _ = initial[idx]
            rc.execute(
                "DELETE FROM ts.sample WHERE tag_id = %s AND time = %s",
                (tag, T0 + timedelta(seconds=sec)),
            )
    for rollup in catalog.ROLLUPS:
        engine.refresh(rc, rollup, now=now)
    assert_views_equal_raw(rc, *everything)
    # A later refresh moves the watermark over the rest; still equal.
    for rollup in catalog.ROLLUPS:
        engine.refresh(rc, rollup, now=T0 + timedelta(days=5))
    assert_views_equal_raw(rc, lo, hi)
    assert_views_equal_raw(rc, *everything)


def test_data_newer_than_watermark_is_visible_without_refresh(rc: psycopg.Connection) -> None:
    reset(rc)
    insert(rc, [(1, s, float(s)) for s in range(0, 7200, 30)])
    now = T0 + timedelta(hours=1)
    for rollup in catalog.ROLLUPS:
        engine.refresh(rc, rollup, now=now)
    wm = rc.execute("SELECT watermark FROM _hazwatch.rollup WHERE name = 'ts.sample_1m'")
    assert wm.fetchone() == (T0 + timedelta(minutes=59),)
    insert(rc, [(1, s, 1e3) for s in range(7200, 9000, 30)] + [(2, 8000, 5.0)])
    got = rc.execute(
        "SELECT bucket, n, max FROM ts.sample_1h WHERE tag_id = 1 AND bucket = %s",
        (T0 + timedelta(hours=2),),
    ).fetchone()
    assert got == (T0 + timedelta(hours=2), 60, 1e3)
    assert rc.execute(
        "SELECT n, last FROM ts.sample_1m WHERE tag_id = 2 AND bucket = %s",
        (T0 + timedelta(seconds=7980),),
    ).fetchone() == (1, 5.0)
    assert_views_equal_raw(rc, T0, T0 + timedelta(days=1))


def test_late_rows_are_logged_only_behind_the_threshold(rc: psycopg.Connection) -> None:
    reset(rc)
    insert(rc, [(1, s, 1.0) for s in range(0, 3600, 60)])
    engine.refresh(rc, catalog.SAMPLE_1M, now=T0 + timedelta(hours=1))
    rc.execute("DELETE FROM _hazwatch.rollup_invalidation")
    insert(rc, [(1, 7200, 2.0), (1, 7260, 2.0)])  # live edge: no log entries
    assert rc.execute("SELECT count(*) FROM _hazwatch.invalidation_log").fetchone() == (0,)
    insert(rc, [(1, 30, 9.0)])  # behind the watermark
    rc.execute("UPDATE ts.sample SET value = 3 WHERE tag_id = 1 AND time = %s", (T0,))
    log = rc.execute("SELECT lo FROM _hazwatch.invalidation_log ORDER BY lo").fetchall()
    assert log == [(T0,), (T0,), (T0 + timedelta(seconds=30),)]


def test_racing_refreshes_equal_one(rollup_db: str, rc: psycopg.Connection) -> None:
    reset(rc)
    insert(rc, [(t, s, float(s % 97)) for t in (1, 2, 3) for s in range(0, 86400, 20)])
    now = T0 + timedelta(days=1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            with psycopg.connect(rollup_db, autocommit=True) as conn:
                barrier.wait()
                engine.refresh(conn, catalog.SAMPLE_1M, now=now)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = rc.execute("SELECT runs, watermark FROM _hazwatch.rollup WHERE name = 'ts.sample_1m'")
    assert runs.fetchone() == (2, now - timedelta(minutes=1))
    mat = rc.execute("SELECT count(*) FROM _hazwatch.mat__ts__sample_1m").fetchone()
    assert mat == (3 * 1439,)
    assert_views_equal_raw(rc, T0, now)


def test_window_refresh_recomputes_on_demand(rc: psycopg.Connection) -> None:
    reset(rc)
    insert(rc, [(1, s, 1.0) for s in range(0, 7200, 60)])
    engine.refresh(rc, catalog.SAMPLE_1M, now=T0 + timedelta(hours=2))
    # A change the triggers cannot see: replication sessions (pg_restore, a replica) skip them.
    rc.execute("SET session_replication_role = replica")
    try:
        rc.execute("UPDATE ts.sample SET value = 5 WHERE time < %s", (T0 + timedelta(hours=1),))
    finally:
        rc.execute("RESET session_replication_role")
    stale = rc.execute("SELECT max(max) FROM ts.sample_1m").fetchone()
    assert stale == (1.0,)
    res = engine.refresh(rc, catalog.SAMPLE_1M, now=T0 + timedelta(hours=2),
                         window=(T0, T0 + timedelta(hours=1)))  # fmt: skip
    assert res.recomputed_ranges == 1
    assert_views_equal_raw(rc, T0, T0 + timedelta(hours=3))


def test_failed_refresh_is_recorded(rc: psycopg.Connection) -> None:
    from hazwatch.errors import HazwatchError

    reset(rc)
    insert(rc, [(1, s, 1.0) for s in range(0, 7200, 60)])
    later = T0 + timedelta(hours=3)
    engine.refresh(rc, catalog.SAMPLE_1M, now=later)
    rc.execute("DROP VIEW ts.sample_1m CASCADE")  # an operator's mistake
    with pytest.raises(HazwatchError, match=r"refresh of ts\.sample_1h failed: .*sample_1m"):
        engine.refresh(rc, catalog.SAMPLE_1H, now=later)
    err = rc.execute("SELECT last_error FROM _hazwatch.rollup WHERE name = 'ts.sample_1h'")
    assert "ts.sample_1m" in err.fetchone()[0]
    engine.rebuild(rc)  # repairs it
    for rollup in catalog.ROLLUPS:
        engine.refresh(rc, rollup, now=later)
    ok = rc.execute(
        "SELECT last_error, watermark FROM _hazwatch.rollup WHERE name = 'ts.sample_1h'"
    )
    assert ok.fetchone() == (None, T0 + timedelta(hours=2))
    assert_views_equal_raw(rc, T0, later)


def test_declaration_change_rebuilds(rc: psycopg.Connection) -> None:
    from dataclasses import replace

    from hazwatch.rollups.declare import Aggregate

    changed = replace(
        catalog.SAMPLE_1M,
        aggregates=(
            *catalog.SAMPLE_AGGREGATES,
            Aggregate("first", "first(value, time)", "first(first, bucket)"),
        ),
    )
    assert changed.definition_hash() != catalog.SAMPLE_1M.definition_hash()
    assert engine.sync(rc) == []  # nothing changed: nothing rebuilt
    assert engine.sync(rc, (changed,)) == ["ts.sample_1m"]
    cols = rc.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ts'"
        " AND table_name = 'sample_1m' ORDER BY ordinal_position"
    ).fetchall()
    assert [c for (c,) in cols][-1] == "first"
    engine.rebuild(rc)


def test_align_ranges_pure() -> None:
    hour = timedelta(hours=1)
    t = T0 + timedelta(minutes=10)
    assert bucket_floor(t, hour) == T0
    got = align_ranges(
        [
            (t, t),
            (t + timedelta(minutes=55), t + timedelta(minutes=56)),
            (T0 + 5 * hour, T0 + 5 * hour),
        ],
        hour,
        upper=T0 + 5 * hour,
    )
    # The first two merge into [T0, T0+2h); the third is at the watermark: not materialised.
    assert got == [(T0, T0 + 2 * hour)]
    clipped = align_ranges(
        [(T0, T0 + 3 * hour)], hour, upper=T0 + 9 * hour, lower=T0 + timedelta(minutes=30)
    )
    assert clipped == [(T0 + hour, T0 + 4 * hour)]
