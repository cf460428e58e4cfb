"""Numbered one-way migrations plus re-runnable definitions applied in a declared order.

``sql/migrations/NNNN_verb_noun.sql`` (or ``.py`` with ``def migrate(conn)`` for data loads that
read files) run once each, in number order, each in its own transaction, recorded in
``public.hazwatch_migration`` with a checksum: editing an applied migration is an error, not a
silent drift. ``sql/definitions/ORDER`` lists re-runnable files (``CREATE OR REPLACE`` views,
functions, triggers) applied after the migrations whenever their content changed.
A session-level advisory lock makes concurrent ``migrate`` calls wait for each other.

    result = migrate(conn, sql_dir)            # -> MigrateResult(applied=[...], definitions=[...])
    migrate(conn, sql_dir, target=3)           # stop after migration 0003 (no definitions)
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from hazwatch.errors import HazwatchError

NAME_RE = re.compile(r"^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)+)\.(sql|py)$")
#: Arbitrary but fixed: every hazwatch process that migrates takes this lock.
LOCK_KEY = 0x4A5A_0001
#: The checkout's sql/ folder (hazwatch runs from its source tree, `pip install -e`).
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class MigrateResult:
    applied: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    rollups: list[str] = field(default_factory=list)


def discover(sql_dir: Path) -> list[Migration]:
    """Migrations in ``sql_dir/migrations``; bad names and duplicate numbers are errors."""
    found: dict[int, Migration] = {}
    for path in sorted((sql_dir / "migrations").iterdir()):
        if path.name.startswith((".", "__")) or path.is_dir():
            continue
        m = NAME_RE.match(path.name)
        if not m:
            raise HazwatchError(
                f"{path.name}: migration names are NNNN_verb_noun.sql or .py (e.g. "
                "0007_create_alarm_event.sql)"
            )
        version = int(m.group(1))
        if version in found:
            raise HazwatchError(
                f"two migrations numbered {version:04d}: {found[version].path.name} and {path.name}"
            )
        found[version] = Migration(version, path.stem, path)
    return [found[v] for v in sorted(found)]


def definition_order(sql_dir: Path) -> list[Path]:
    """Files named in ``sql/definitions/ORDER``, one per line; every .sql file must be named."""
    ddir = sql_dir / "definitions"
    order_file = ddir / "ORDER"
    names = [
        line.strip()
        for line in order_file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    present = {p.name for p in ddir.glob("*.sql")}
    unlisted = present - set(names)
    if unlisted:
        raise HazwatchError(
            f"definitions not listed in {order_file}: {', '.join(sorted(unlisted))}"
        )
    missing = [n for n in names if n not in present]
    if missing:
        raise HazwatchError(f"{order_file} names files that do not exist: {', '.join(missing)}")
    return [ddir / n for n in names]


BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS public.hazwatch_migration (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
);
CREATE TABLE IF NOT EXISTS public.hazwatch_definition (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def _run_migration(conn: psycopg.Connection, mig: Migration) -> None:
    if mig.path.suffix == ".sql":
        conn.execute(mig.path.read_text(encoding="utf-8").encode())
        return
    spec = importlib.util.spec_from_file_location(f"hazwatch_migration_{mig.version}", mig.path)
    if spec is None or spec.loader is None:
        raise HazwatchError(f"cannot load {mig.path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "migrate", None)):
        raise HazwatchError(f"{mig.path.name} has no function migrate(conn)")
    module.migrate(conn)


def applied_versions(conn: psycopg.Connection) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass('public.hazwatch_migration')").fetchone()
    if not exists or exists[0] is None:
        return {}
    rows = conn.execute("SELECT version, checksum FROM public.hazwatch_migration").fetchall()
    return {v: c for v, c in rows}


def pending(conn: psycopg.Connection, sql_dir: Path) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in discover(sql_dir) if m.version not in done]


def migrate(conn: psycopg.Connection, sql_dir: Path, target: int | None = None) -> MigrateResult:
    """Apply pending migrations up to ``target`` (all when None), then changed definitions,
    then create missing or changed rollups."""
    if (
        conn.autocommit is False
        and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    ):
        raise HazwatchError("migrate needs a connection outside a transaction")
    conn.autocommit = True
    result = MigrateResult()
    migrations = discover(sql_dir)
    known = {m.version for m in migrations}
    if target is not None and target not in known:
        raise HazwatchError(f"no migration numbered {target:04d}")
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        conn.execute(BOOKKEEPING)
        done = applied_versions(conn)
        for version, checksum in done.items():
            mig = next((m for m in migrations if m.version == version), None)
            if mig is None:
                raise HazwatchError(
                    f"the database has migration {version:04d}, which this code does not know: "
                    "it was migrated by a newer hazwatch"
                )
            if mig.checksum != checksum:
                raise HazwatchError(
                    f"{mig.path.name} changed after it was applied; add a new migration instead"
                )
        for mig in migrations:
            if mig.version in done:
                continue
            if target is not None and mig.version > target:
                break
            started = time.monotonic()
            with conn.transaction():
                try:
                    _run_migration(conn, mig)
                except psycopg.Error as exc:
                    raise HazwatchError(f"{mig.path.name}: {exc}".strip()) from exc
                conn.execute(
                    "INSERT INTO public.hazwatch_migration (version, name, checksum, duration_ms)"
                    " VALUES (%s, %s, %s, %s)",
                    (mig.version, mig.name, mig.checksum, int((time.monotonic() - started) * 1000)),
                )
            result.applied.append(mig.name)
        if target is None or target == max(known):
            result.definitions = apply_definitions(conn, sql_dir)
            # Rollups are declared in code and derived from the schema above: created last.
            from hazwatch.rollups.engine import sync

            result.rollups = sync(conn)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return result


def apply_definitions(conn: psycopg.Connection, sql_dir: Path, force: bool = False) -> list[str]:
    """(Re)apply definition files whose checksum changed, in the declared order."""
    stored = dict(conn.execute("SELECT name, checksum FROM public.hazwatch_definition").fetchall())
    applied = []
    for path in definition_order(sql_dir):
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        if not force and stored.get(path.name) == checksum:
            continue
        with conn.transaction():
            try:
                conn.execute(path.read_text(encoding="utf-8").encode())
            except psycopg.Error as exc:
                raise HazwatchError(f"definitions/{path.name}: {exc}".strip()) from exc
            conn.execute(
                "INSERT INTO public.hazwatch_definition (name, checksum) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum,"
                " applied_at = now()",
                (path.name, checksum),
            )
        applied.append(path.name)
    return applied
