"""Retention: drop_chunks policies, legal minimums, hold-back for rollups (issue 3, item 4)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hazwatch import retention
from hazwatch.errors import ConfigError
from hazwatch.rollups import catalog, engine
from tests.conftest import migrated_database, run_cli

NOW = datetime(2026, 6, 30, tzinfo=UTC)


def test_periods_pure() -> None:
    assert retention.parse_period("730 days") == timedelta(days=730)
    assert retention.parse_period("6 Months") == timedelta(days=186)
    assert retention.parse_period("1 year") == timedelta(days=366)
    assert retention.parse_period("never") is None
    for bad in ("0 days", "ten days", "3 fortnights", "-1 days"):
        with pytest.raises(ValueError, match="period"):
            retention.parse_period(bad)


def test_legal_minimums_cannot_be_undercut() -> None:
    assert retention.effective_policies({"video.detection": "6 months"})["video.detection"] == (
        timedelta(days=186)
    )
    with pytest.raises(ConfigError, match=r"video\.detection: 5 months is below the legal minimum"):
        retention.effective_policies({"video.detection": "5 months"})
    with pytest.raises(ConfigError, match=r"contractor\.person: 300 days .*\(C13"):
        retention.effective_policies({"contractor.person": "300 days"})
    with pytest.raises(ConfigError, match="unknown relation"):
        retention.effective_policies({"ts.samples": "1 day"})
    assert retention.effective_policies({"video.detection": "never"})["video.detection"] is None


def test_settings_refuse_illegal_retention(tmp_path) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text('[retention]\n"video.detection" = "90 days"\n')
    out = run_cli("config", "validate", str(cfg))
    assert out.returncode == 1 and "below the legal minimum of 184 days" in out.stderr


@pytest.fixture
def rdb(admin_url: str) -> Iterator[psycopg.Connection]:
    with (
        migrated_database(admin_url, "hw_retention") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        yield conn


def _fill(conn: psycopg.Connection, days: int) -> None:
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) SELECT t, 1, 1.0 FROM generate_series("
        "%s::timestamptz, %s::timestamptz - interval '1 hour', interval '1 hour') t",
        (NOW - timedelta(days=days), NOW),
    )
    conn.execute(
        "INSERT INTO video.detection (time, camera_id, recognition, algorithm)"
        " SELECT t, 1, 'intrusion', 'v1' FROM generate_series(%s::timestamptz,"
        " %s::timestamptz, interval '5 days') t",
        (NOW - timedelta(days=days), NOW),
    )


def test_raw_data_is_held_back_until_rolled_up(rdb: psycopg.Connection) -> None:
    _fill(rdb, 20)
    policies = {"ts.sample": timedelta(days=5)}
    plan = retention.plan(rdb, policies, now=NOW)
    assert plan[0].chunks == () and "not yet rolled up" in plan[0].reason
    for rollup in catalog.ROLLUPS:
        engine.refresh(rdb, rollup, now=NOW)
    before = rdb.execute("SELECT count(*), sum(n) FROM ts.sample_1h").fetchone()
    dry = retention.plan(rdb, policies, now=NOW)
    assert len(dry[0].chunks) == 15  # daily chunks wholly older than 5 days
    assert all(c.range_end <= NOW - timedelta(days=5) for c in dry[0].chunks)
    assert rdb.execute("SELECT count(*) FROM ts.sample").fetchone() == (20 * 24,)  # dry run
    retention.run(rdb, policies, now=NOW)
    assert rdb.execute("SELECT count(*) FROM ts.sample").fetchone() == (5 * 24,)
    # The rollups keep the history the raw table no longer has.
    assert rdb.execute("SELECT count(*), sum(n) FROM ts.sample_1h").fetchone() == before
    horizon = rdb.execute(
        "SELECT horizon FROM _hazwatch.retention_state WHERE relation = 'ts.sample'"
    ).fetchone()
    assert horizon == (NOW - timedelta(days=5),)
    # A late row far in the past is not recomputed over history that is gone.
    rdb.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, 1, 99)",
        (NOW - timedelta(days=19),),
    )
    for rollup in catalog.ROLLUPS:
        engine.refresh(rdb, rollup, now=NOW)
    assert rdb.execute("SELECT count(*), sum(n) FROM ts.sample_1h").fetchone() == before


def test_video_alarms_younger_than_six_months_survive(rdb: psycopg.Connection) -> None:
    _fill(rdb, 400)
    keep = retention.effective_policies({"video.detection": "184 days"})
    retention.run(rdb, {"video.detection": keep["video.detection"]}, now=NOW)
    oldest = rdb.execute("SELECT min(time) FROM video.detection").fetchone()[0]
    assert oldest >= NOW - timedelta(days=184 + 30)  # at most one 30-day chunk older
    assert rdb.execute(
        "SELECT count(*) FROM video.detection WHERE time >= %s", (NOW - timedelta(days=184),)
    ).fetchone()[0] == len(range(0, 185, 5))
    # Defence in depth: even a policy that skipped validation is refused at run time.
    with pytest.raises(ConfigError, match="refusing to drop data younger than V19"):
        retention.run(rdb, {"video.detection": timedelta(days=30)}, now=NOW)


def test_cli_dry_run_lists_chunks(db_url: str) -> None:
    out = run_cli("retention", "run", "--dry-run", env={"HAZWATCH_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    assert "ts.sample            would drop" in out.stdout
    assert "contractor.person" in out.stdout and "row-based" in out.stdout
