"""The writer against a real TimescaleDB: every row type, idempotency, bad rows, back-pressure,
store-and-forward through a database restart (issue 4, "The writer").

The tests share one migrated database of their own (``wdb``), each on its own ids; the restart
test starts a spare cluster it can stop and start.
"""

from __future__ import annotations

import random
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hazwatch.db.cluster import Cluster
from hazwatch.db.scratch import migrated_database, scratch_cluster
from hazwatch.settings import Settings, load_settings
from ingest.spool import Spool
from ingest.types import (
    AlarmEvent,
    DeviceHealth,
    Rejected,
    Sample,
    VibrationOverall,
    Waveform,
)
from ingest.writer import (
    CATALOGUE,
    SAMPLE,
    Writer,
    bisect_batch,
    is_transient,
    next_backoff,
    plan_batches,
    quarantine_row,
    take_rows,
)
from tests.conftest import find_free_port

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def wdb(admin_url: str) -> Iterator[str]:
    """A migrated database for this module alone."""
    with migrated_database(admin_url, "hw_writer") as url:
        yield url


@pytest.fixture
def dead_url() -> str:
    """A database URL where nothing listens: the database is down."""
    return f"postgresql://hazwatch:nothing@127.0.0.1:{find_free_port()}/hazwatch"


def make_settings(url: str, home: Path, **ingest: Any) -> Settings:
    options = {"batch_rows": 1000, "flush_interval_s": 0.1, "max_queue_rows": 5000, **ingest}
    return load_settings(database_url=url, home=str(home), ingest=options)


def scalar(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]


def count_and_sum(url: str, tags: tuple[int, int]) -> tuple[int, float]:
    """Rows of ts.sample with tag_id in ``tags`` (inclusive), and the sum of their values."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), sum(value) FROM ts.sample WHERE tag_id BETWEEN %s AND %s", tags
        ).fetchone()
        assert row is not None
        return int(row[0]), float(row[1] or 0)


def max_quarantine_id(url: str) -> int:
    return int(scalar(url, "SELECT coalesce(max(id), 0) FROM ingest.quarantine"))


def as_real(x: float) -> float:
    """``x`` as PostgreSQL's ``real`` (float4) stores it."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- pure helpers ----------------------------------------------------------------------------


def test_take_rows_cuts_across_chunks_and_keeps_put_times() -> None:
    chunks: deque[tuple[list[int], float]] = deque([([1, 2, 3], 1.0), ([4, 5, 6, 7], 2.0)])
    assert take_rows(chunks, 2) == ([1, 2], 1.0)
    assert take_rows(chunks, 3) == ([3, 4, 5], 1.0)
    assert list(chunks) == [([6, 7], 2.0)]
    assert take_rows(chunks, 10) == ([6, 7], 2.0)
    assert not chunks
    whole = [9, 9]
    chunks.append((whole, 3.0))
    rows, _ = take_rows(chunks, 2)
    assert rows is whole  # a put of exactly one batch is not copied


def test_plan_batches_waits_for_a_batch_then_groups_a_backlog() -> None:
    assert plan_batches(9_999, 10_000, 100_000, take_rest=False) == []
    assert plan_batches(9_999, 10_000, 100_000, take_rest=True) == [9_999]
    assert plan_batches(10_000, 10_000, 100_000, take_rest=False) == [10_000]
    # Behind by more than a batch: one transaction takes it all, up to the cap.
    assert plan_batches(73_000, 10_000, 100_000, take_rest=False) == [73_000]
    assert plan_batches(230_000, 10_000, 100_000, take_rest=False) == [100_000, 100_000, 30_000]
    assert plan_batches(130, 64, 64, take_rest=True) == [64, 64, 2]  # waveforms: fixed cap
    assert plan_batches(0, 10, 10, take_rest=True) == []


def test_bisect_finds_exactly_the_bad_rows_with_few_attempts() -> None:
    bad_rows = {3, 64, 65, 999}
    calls: list[int] = []

    def attempt(part: list[int]) -> int:
        calls.append(len(part))
        hit = bad_rows.intersection(part)
        if hit:
            raise ValueError(f"bad {min(hit)}")
        return len(part)

    rows = list(range(1000))
    results, bad = bisect_batch(rows, attempt)
    assert sorted(row for row, _ in bad) == sorted(bad_rows)
    assert [str(e) for _, e in bad] == ["bad 3", "bad 64", "bad 65", "bad 999"]
    assert sum(results) == len(rows) - len(bad_rows)  # every good row written exactly once
    assert len(calls) < 2 * len(bad_rows) * 11  # ~2 k log2 n, not n
    # Nothing wrong: one attempt.
    calls.clear()
    assert bisect_batch([1, 2], attempt) == ([2], [])
    assert calls == [2]


def test_bisect_lets_connection_loss_through() -> None:
    class Lost(Exception):
        pass

    def attempt(part: list[int]) -> int:
        if 7 in part:
            # Bad data on the first try, then the connection drops while bisecting.
            raise ValueError("bad") if len(part) == 10 else Lost
        return len(part)

    with pytest.raises(Lost):
        bisect_batch(list(range(10)), attempt, passthrough=(Lost,))


def test_backoff_and_error_classification() -> None:
    waits = [0.5]
    while len(waits) < 8:
        waits.append(next_backoff(waits[-1]))
    assert waits == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert is_transient(psycopg.OperationalError("connection refused"), None)
    assert is_transient(psycopg.errors.AdminShutdown("terminating"), None)
    assert is_transient(psycopg.errors.UndefinedTable("no ts.sample yet"), None)
    assert is_transient(psycopg.errors.DiskFull("disk full"), None)
    assert not is_transient(psycopg.errors.CheckViolation("quality"), None)
    assert not is_transient(psycopg.errors.NotNullViolation("tag_id"), None)
    assert not is_transient(psycopg.errors.ProgramLimitExceeded("too big"), None)
    assert not is_transient(TypeError("not a number"), None)


def test_catalogue_matches_the_tables(wdb: str) -> None:
    """Every column the writer copies exists, in the order of its row type."""
    assert SAMPLE.columns == Sample._fields
    assert CATALOGUE["alarm.event"].columns == AlarmEvent._fields
    assert CATALOGUE["vib.waveform"].columns == Waveform._fields
    assert CATALOGUE["ts.device_health"].columns == DeviceHealth._fields
    with psycopg.connect(wdb) as conn:
        for spec in CATALOGUE.values():
            cols = conn.execute(
                "SELECT array_agg(column_name::text) FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s",
                (spec.schema, spec.table),
            ).fetchone()
            assert cols is not None and set(spec.columns) <= set(cols[0]), spec.name
    assert quarantine_row(SAMPLE, Sample(T0, 1, 2.0), "why") == (
        "writer:ts.sample",
        None,
        None,
        "why",
        repr(tuple(Sample(T0, 1, 2.0))),
    )


# -- writing ---------------------------------------------------------------------------------


def test_every_row_type_lands_with_its_values(wdb: str, tmp_path: Path) -> None:
    samples = [
        Sample(T0 + timedelta(seconds=i), 101, i * 0.25, 192 if i % 2 else 64) for i in range(100)
    ] + [Sample(T0, 102, None, 0)]
    events = [
        AlarmEvent(
            T0,
            201,
            "ALM",
            "HI",
            5,
            "high",
            "process",
            80.0,
            85.5,
            "TI-101 高报",
            None,
            "dcs",
            "e-1",
        ),
        AlarmEvent(T0 + timedelta(seconds=30), 201, "ACK", "HI", operator="张三", source="dcs"),
    ]
    vib = [
        VibrationOverall(T0, 301, "X", 2.5, 1.25, 4.5, 12.0, 3.25, 3.5),
        VibrationOverall(T0, 301, "Y"),
    ]
    rng = random.Random(4)
    wave = [rng.uniform(-20.0, 20.0) for _ in range(65_536)]
    waves = [Waveform(T0, 301, "Z", 25_600.0, 1480.0, "m/s2", wave)]
    health = [
        DeviceHealth(T0, "sensor", 301, True, 87.5, -67.0),
        DeviceHealth(T0, "gateway", 9, False),
    ]
    before = max_quarantine_id(wdb)
    with Writer(make_settings(wdb, tmp_path)) as writer:
        writer.put_samples(samples)
        writer.put_alarm_events(events)
        writer.put_vibration(vib)
        writer.put_waveforms(waves)
        writer.put_health(health)
        writer.reject(Rejected("mqtt", "not JSON", "{oops", "plant/p1", "offset 3"))
        writer.flush(timeout=30)
        stats = writer.stats
    assert stats.rows_written == 101 + 2 + 2 + 1 + 2 + 1
    assert (stats.spool_depth, stats.queue_rows, stats.last_error) == (0, 0, None)
    assert stats.db_up

    with psycopg.connect(wdb) as conn:
        got = conn.execute(
            "SELECT time, tag_id, value, quality FROM ts.sample WHERE tag_id IN (101, 102)"
            " ORDER BY tag_id, time"
        ).fetchall()
        assert got == [tuple(s) for s in samples]
        got = conn.execute(
            "SELECT time, tag_id, kind, condition, point_id, priority, category, limit_value,"
            " value, message, operator, source, source_event_id, attributes"
            " FROM alarm.event WHERE tag_id = 201 ORDER BY time"
        ).fetchall()
        assert got == [(*e, None) for e in events]
        got = conn.execute(
            "SELECT time, sensor_id, axis, velocity_rms_mm_s, accel_rms_m_s2, accel_peak_m_s2,"
            " displacement_pp_um, kurtosis, crest_factor FROM vib.overall WHERE sensor_id = 301"
            " ORDER BY axis"
        ).fetchall()
        assert got == [tuple(v) for v in vib]  # these values are exact in float4
        row = conn.execute(
            "SELECT time, sensor_id, axis, sample_rate_hz, speed_rpm, unit, samples"
            " FROM vib.waveform WHERE sensor_id = 301"
        ).fetchone()
        assert row is not None and row[:6] == tuple(waves[0])[:6]
        assert len(row[6]) == 65_536
        assert [as_real(x) for x in row[6]] == [as_real(x) for x in wave]
        got = conn.execute(
            "SELECT time, device_kind, device_id, online, battery_pct, signal_dbm, detail"
            " FROM ts.device_health WHERE device_id IN (301, 9) ORDER BY device_id DESC"
        ).fetchall()
        assert got == [(*h, None) for h in health]
        got = conn.execute(
            "SELECT source, origin, position, reason, raw FROM ingest.quarantine WHERE id > %s",
            (before,),
        ).fetchall()
        assert got == [("mqtt", "plant/p1", "offset 3", "not JSON", "{oops")]


def test_same_rows_twice_leave_one_copy(wdb: str, tmp_path: Path) -> None:
    rows = [
        Sample(T0 + timedelta(seconds=i // 100), 1000 + i % 100, float(i)) for i in range(10_000)
    ]
    with Writer(make_settings(wdb, tmp_path, batch_rows=2500)) as writer:
        writer.put_samples(rows)
        writer.flush(timeout=30)
        writer.put_samples(rows)  # e.g. a collector re-reading, or a replayed spool
        writer.flush(timeout=30)
        # Half old, a few new, and a duplicate inside the same batch.
        extra = [Sample(T0 + timedelta(hours=1, seconds=i), 1000, 1.0) for i in range(10)]
        writer.put_samples(rows[5000:6000] + extra + extra[:1])
        writer.flush(timeout=30)
        stats = writer.stats
    assert count_and_sum(wdb, (1000, 1099)) == (10_010, sum(range(10_000)) + 10)
    assert stats.rows_written == 10_010
    assert stats.duplicates_skipped == 10_000 + 1000 + 1
    assert stats.last_error is None


def test_bad_rows_are_quarantined_and_the_rest_lands(wdb: str, tmp_path: Path) -> None:
    rows = [Sample(T0 + timedelta(seconds=i), 2000 + i % 10, float(i)) for i in range(1000)]
    rows[10] = rows[10]._replace(quality=999)  # CHECK (quality BETWEEN 0 AND 255)
    rows[500] = rows[500]._replace(quality=256)
    rows[700] = rows[700]._replace(tag_id=None)  # NOT NULL
    before = max_quarantine_id(wdb)
    with Writer(make_settings(wdb, tmp_path)) as writer:
        writer.put_samples(rows)
        writer.reject(Rejected("line", "bad\x00line", "cpu\x00 value=1"))  # NUL: text refuses it
        writer.flush(timeout=30)
        stats = writer.stats
    assert count_and_sum(wdb, (2000, 2009))[0] == 997
    with psycopg.connect(wdb) as conn:
        got = conn.execute(
            "SELECT source, reason, raw FROM ingest.quarantine WHERE id > %s ORDER BY id",
            (before,),
        ).fetchall()
    check = 'violates check constraint "sample_quality_check"'
    assert [(s, check in r) for s, r, _ in got[:2]] == [("writer:ts.sample", True)] * 2
    assert [raw for _, _, raw in got[:3]] == [repr(tuple(rows[i])) for i in (10, 500, 700)]
    assert got[2][0] == "writer:ts.sample"
    assert 'null value in column "tag_id"' in got[2][1] and "not-null" in got[2][1]
    # The reject() item the quarantine could not store as given is kept as its repr.
    assert got[3][0] == "writer:ingest.quarantine"
    assert "0x00" in got[3][1] and "bad\\x00line" in got[3][2]
    assert len(got) == 4
    assert (stats.rows_written, stats.rows_quarantined) == (997, 4)


def test_back_pressure_blocks_producers_on_a_slow_database(wdb: str, tmp_path: Path) -> None:
    rows = [Sample(T0 + timedelta(seconds=i), 3000, float(i)) for i in range(20_000)]
    settings = make_settings(wdb, tmp_path, max_queue_rows=1000, batch_rows=500)
    done = threading.Event()
    peak = 0
    with Writer(settings) as writer, psycopg.connect(wdb) as locker:
        # The writer's COPY waits on this lock, like a database that cannot keep up.
        locker.execute("LOCK TABLE ts.sample IN ACCESS EXCLUSIVE MODE")

        def produce() -> None:
            for i in range(0, len(rows), 100):
                writer.put_samples(rows[i : i + 100])
            done.set()

        producer = threading.Thread(target=produce)
        producer.start()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            peak = max(peak, writer.stats.queue_rows)
            time.sleep(0.01)
        assert not done.is_set(), "put_samples should block while the database is stuck"
        assert 900 <= writer.stats.queue_rows <= 1000
        locker.rollback()  # release the lock
        assert done.wait(30)
        producer.join()
        writer.flush(timeout=30)
    assert peak <= 1000
    assert count_and_sum(wdb, (3000, 3000)) == (20_000, sum(range(20_000)))


def test_database_down_spools_and_a_later_writer_replays(
    wdb: str, dead_url: str, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool.sqlite"
    rows = [Sample(T0 + timedelta(seconds=i), 4000 + i % 5, float(i)) for i in range(5000)]
    settings = make_settings(dead_url, tmp_path, max_queue_rows=1000, batch_rows=400)
    writer = Writer(settings, spool_path=spool_path)
    done = threading.Event()

    def produce() -> None:
        writer.put_samples(rows[:2500])
        writer.put_samples(rows[2500:])
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        # Nothing drains yet: the producer is held at max_queue_rows, memory stays bounded.
        assert not done.wait(0.5)
        assert writer.stats.queue_rows <= 1000
        writer.start()  # the database is down: batches go to the spool, producers go on
        assert done.wait(20)
        producer.join()
        # A value that cannot be spooled is quarantined rather than blocking the pipeline.
        writer.put_samples([Sample(T0, 4999, object())])  # type: ignore[arg-type]
        writer.flush(timeout=20)
        stats = writer.stats
        assert not stats.db_up and stats.queue_rows == 0
        assert stats.spool_depth == 5001 and stats.lag_s > 0
        assert stats.last_error is not None and stats.last_error.startswith("cannot connect")
        started = time.monotonic()
    finally:
        writer.close(timeout=5)
    assert time.monotonic() - started < 5  # a down database does not hold close() up
    with Spool(spool_path) as spool:
        assert spool.rows == 5001
        assert [b.target for b in spool][-1] == "ingest.quarantine"

    # A new writer on the same spool, with the database up, replays it first.
    before = max_quarantine_id(wdb)
    with Writer(make_settings(wdb, tmp_path), spool_path=spool_path) as again:
        assert wait_for(lambda: again.stats.spool_depth == 0, timeout=30)
        # The 5000 samples, and the quarantine row for the one that could not be spooled.
        assert again.stats.rows_written == 5001
    assert count_and_sum(wdb, (4000, 4004)) == (5000, sum(range(5000)))
    reason = scalar(wdb, "SELECT reason FROM ingest.quarantine WHERE id > %s", (before,))
    assert "cannot be spooled" in reason
    with Spool(spool_path) as spool:
        assert spool.rows == 0


# -- a database restart in the middle of a steady ingest -----------------------------------


@pytest.fixture
def spare_db() -> Iterator[tuple[Cluster, str]]:
    """A cluster of its own (the test stops and starts it) with a migrated database."""
    with (
        scratch_cluster("hazwatch-writer-", shared_buffers="128MB") as cluster,
        migrated_database(cluster.url("postgres"), "hw_restart") as url,
    ):
        yield cluster, url
        cluster.up()  # so the database can be dropped even if the test failed mid-way


def test_database_restart_mid_ingest_loses_and_duplicates_nothing(
    spare_db: tuple[Cluster, str], tmp_path: Path
) -> None:
    cluster, url = spare_db
    settings = make_settings(
        url, tmp_path, batch_rows=2000, flush_interval_s=0.2, max_queue_rows=50_000
    )
    base = datetime(2025, 6, 1, tzinfo=UTC)
    stop = threading.Event()
    produced = [0]
    writer = Writer(settings)

    def produce() -> None:
        n = 0
        while not stop.is_set():
            # 200 samples every 10 ms, each at its own, strictly increasing time.
            writer.put_samples(
                [
                    Sample(base + timedelta(microseconds=n + k), (n + k) % 200, float(n + k))
                    for k in range(200)
                ]
            )
            n += 200
            produced[0] = n
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    with writer:
        producer.start()
        try:
            time.sleep(1.5)
            assert writer.stats.db_up and writer.stats.rows_written > 0
            cluster.down()
            time.sleep(1.5)
            during = writer.stats
            cluster.up()
            # The writer notices on its next back-off retry (0.5, 1, 2, 4 s ... apart) and
            # replays the spool while the producer keeps going.
            assert wait_for(lambda: writer.stats.db_up, timeout=15)
            time.sleep(1.0)
        finally:
            stop.set()
            producer.join()
        writer.flush(timeout=30)
    assert not during.db_up and during.spool_depth > 0  # the outage really went to the spool
    with psycopg.connect(url) as conn:
        count, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (tag_id, time)) FROM ts.sample"
        ).fetchone()  # type: ignore[misc]
    assert count == produced[0]
    assert distinct == produced[0]
    with Spool(writer.spool_path) as spool:
        assert spool.rows == 0
    assert writer.stats.spool_depth == 0
