"""Migrations: idempotent, step-by-step equals fresh, edits of applied files refused (issue 2.4)."""

import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from hazwatch.db.install import PG_BINDIR
from hazwatch.db.migrate import SQL_DIR, definition_order, discover, migrate
from hazwatch.errors import HazwatchError


def schema_dump(url: str) -> str:
    """``pg_dump --schema-only`` without the lines that legitimately differ between runs."""
    out = subprocess.run(
        [str(PG_BINDIR / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Comment lines carry the database name and dump time; \restrict lines a random key
    # (pg_dump 15.14+); TimescaleDB names internal hypertable objects with running numbers.
    kept = [
        ln for ln in out.splitlines() if not ln.startswith(("--", "\\restrict", "\\unrestrict"))
    ]
    return re.sub(r"_hyper_\d+_\d+", "_hyper_N", "\n".join(kept))


def test_migrations_are_numbered_and_named() -> None:
    migs = discover(SQL_DIR)
    assert [m.version for m in migs] == list(range(1, len(migs) + 1))
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+", m.name) for m in migs)
    assert definition_order(SQL_DIR)[0].name == "audit.sql"


def test_migrate_twice_changes_nothing(scratch_db: str) -> None:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        first = migrate(conn, SQL_DIR)
        before = schema_dump(scratch_db)
        second = migrate(conn, SQL_DIR)
    assert len(first.applied) == len(discover(SQL_DIR))
    assert first.definitions == [p.name for p in definition_order(SQL_DIR)]
    assert second.applied == [] and second.definitions == []
    assert schema_dump(scratch_db) == before


def test_step_by_step_equals_fresh(admin_url: str, scratch_db: str) -> None:
    from tests.conftest import create_database, drop_database

    fresh = create_database(admin_url, "hw_fresh")
    try:
        with psycopg.connect(fresh, autocommit=True) as conn:
            migrate(conn, SQL_DIR)
        with psycopg.connect(scratch_db, autocommit=True) as conn:
            for mig in discover(SQL_DIR):
                result = migrate(conn, SQL_DIR, target=mig.version)
                assert result.applied == [mig.name]
            migrate(conn, SQL_DIR)
        stepped, whole = schema_dump(scratch_db), schema_dump(fresh)
        assert "CREATE TABLE ts.sample" in whole
        assert stepped == whole
    finally:
        drop_database(admin_url, fresh)


def _copy_sql(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(SQL_DIR, target)
    return target


def test_editing_an_applied_migration_is_refused(scratch_db: str, tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        migrate(conn, sql_dir, target=2)
        path = sql_dir / "migrations" / "0002_create_audit_log.sql"
        path.write_text(path.read_text() + "\n-- edited\n")
        with pytest.raises(HazwatchError, match=r"0002_create_audit_log\.sql changed after it was"):
            migrate(conn, sql_dir)


def test_failed_migration_rolls_back_and_names_file(scratch_db: str, tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    n = len(discover(SQL_DIR)) + 1
    (sql_dir / "migrations" / f"{n:04d}_create_broken.sql").write_text(
        "CREATE TABLE public.half_done (id int);\nSELECT no_such_function();\n"
    )
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        with pytest.raises(HazwatchError, match=rf"{n:04d}_create_broken.sql: .*no_such_function"):
            migrate(conn, sql_dir)
        # Its transaction rolled back whole, and it is not recorded as applied.
        assert conn.execute("SELECT to_regclass('public.half_done')").fetchone() == (None,)
        assert conn.execute(
            "SELECT count(*) FROM public.hazwatch_migration WHERE version = %s", (n,)
        ).fetchone() == (0,)


def test_bad_names_and_unlisted_definitions(tmp_path: Path) -> None:
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "definitions" / "extra.sql").write_text("SELECT 1;")
    with pytest.raises(HazwatchError, match=r"not listed in .*ORDER: extra\.sql"):
        definition_order(sql_dir)
    (sql_dir / "migrations" / "12_tables.sql").write_text("SELECT 1;")
    with pytest.raises(HazwatchError, match="NNNN_verb_noun"):
        discover(sql_dir)


def test_database_newer_than_code_is_refused(scratch_db: str, tmp_path: Path) -> None:
    with psycopg.connect(scratch_db, autocommit=True) as conn:
        migrate(conn, SQL_DIR)
        conn.execute(
            "INSERT INTO public.hazwatch_migration (version, name, checksum, duration_ms)"
            " VALUES (9999, '9999_from_future', 'x', 0)"
        )
        with pytest.raises(HazwatchError, match="migrated by a newer hazwatch"):
            migrate(conn, SQL_DIR)
