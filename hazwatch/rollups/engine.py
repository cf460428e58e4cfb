"""Create, refresh and report rollups on either TimescaleDB edition.

Apache edition (``incremental``): a materialisation hypertable, a watermark, and a real-time
view that unites materialised buckets below the watermark with aggregation of the source above
it. Late or corrected rows of a raw source are caught by row triggers whose WHEN clause compares
the row's time with the source's *invalidation threshold*; the threshold is a generated SQL
function with a constant body, so the planner inlines it and rows at the live edge cost one
comparison. A refresh:

1. moves the threshold up to the new watermark, holding ``SHARE ROW EXCLUSIVE`` on the source
   for that short transaction, so every write either committed before (and is seen by step 2)
   or happens after (and is logged as an invalidation);
2. materialises the new buckets in batches, one transaction each, moving the watermark with
   each batch (progress survives an interruption, readers always see a consistent view);
3. recomputes the buckets touched by invalidations, and passes them on to the levels above.

Timescale edition (``continuous``): the same declaration becomes a continuous aggregate with a
refresh policy; refresh calls ``refresh_continuous_aggregate``.

    sync(conn)                                   # create what is missing (migrate calls it)
    refresh(conn, SAMPLE_1M)                     # -> RefreshResult
    refresh(conn, SAMPLE_1H, window=(t0, t1))    # recompute a window on demand
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from hazwatch.errors import HazwatchError
from hazwatch.rollups import catalog
from hazwatch.rollups.declare import (
    Rollup,
    aggregate_select,
    continuous_aggregate,
    interval_literal,
    realtime_view,
    relation,
    source_relation,
    threshold_fn,
)
from hazwatch.rollups.ranges import Range, align_ranges, batches, bucket_floor

LOCK_NAMESPACE = "hazwatch.rollup:"


def edition(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return "continuous" if row and row[0] == "timescale" else "incremental"


# -- creation --------------------------------------------------------------------------------


def _constant_fn(name: sql.Composed, value: datetime | None) -> sql.Composed:
    """A STABLE SQL function returning a constant: inlined by the planner as a literal."""
    literal = "-infinity" if value is None else value.astimezone(UTC).isoformat()
    body = f"SELECT timestamptz '{literal}'"
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION {}() RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE"
        " AS {}"
    ).format(name, sql.Literal(body))


def _exists(conn: psycopg.Connection, regclass: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (regclass,)).fetchone()
    return bool(row and row[0])


def _mat_name(rollup: Rollup) -> str:
    return f"_hazwatch.mat__{rollup.slug}"


def _create_incremental(conn: psycopg.Connection, rollup: Rollup) -> None:
    empty = aggregate_select(rollup, source_relation(rollup), sql.SQL("false"))
    conn.execute(
        sql.SQL("CREATE TABLE {} AS {} WITH NO DATA").format(rollup.materialization, empty)
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN bucket SET NOT NULL").format(rollup.materialization)
    )
    chunk = max(timedelta(days=7), rollup.bucket * 2000)
    conn.execute(
        sql.SQL("SELECT create_hypertable({}, by_range('bucket', {}))").format(
            sql.Literal(_mat_name(rollup)), interval_literal(chunk)
        )
    )
    keys = sql.SQL(", ").join([*(sql.Identifier(k) for k in rollup.group_by),
                               sql.Identifier("bucket")])  # fmt: skip
    conn.execute(
        sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
            sql.Identifier(f"mat__{rollup.slug}_key"), rollup.materialization, keys
        )
    )
    conn.execute(_constant_fn(rollup.watermark_fn, None))


def _ensure_source_triggers(conn: psycopg.Connection, rollup: Rollup) -> None:
    """Invalidation triggers on a raw source (shared by all rollups of that source)."""
    source = rollup.source
    fn = threshold_fn(source)
    if not conn.execute(
        "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = '_hazwatch' AND p.proname = %s",
        (f"th__{source.replace('.', '__')}",),
    ).fetchone():
        conn.execute(_constant_fn(fn, None))
    col = sql.Identifier(rollup.time_column)
    args = sql.SQL("{}, {}").format(sql.Literal(source), sql.Literal(rollup.time_column))
    table = relation(source)
    base = source.replace(".", "_")
    for op, when in (
        ("INSERT", sql.SQL("NEW.{c} < {f}()").format(c=col, f=fn)),
        ("UPDATE", sql.SQL("OLD.{c} < {f}() OR NEW.{c} < {f}()").format(c=col, f=fn)),
        ("DELETE", sql.SQL("OLD.{c} < {f}()").format(c=col, f=fn)),
    ):
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE TRIGGER {name} AFTER {op} ON {table} FOR EACH ROW"
                " WHEN ({when}) EXECUTE FUNCTION _hazwatch.log_late_change({args})"
            ).format(
                name=sql.Identifier(f"{base}_rollup_invalidate_{op.lower()}"),
                op=sql.SQL(op),
                table=table,
                when=when,
                args=args,
            )
        )


def _drop(conn: psycopg.Connection, rollup: Rollup, kind: str) -> None:
    if kind == "continuous":
        conn.execute(sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE").format(rollup.view))
    else:
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(rollup.view))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(rollup.materialization))
    conn.execute("DELETE FROM _hazwatch.rollup WHERE name = %s", (rollup.name,))


def sync(conn: psycopg.Connection, rollups: tuple[Rollup, ...] = catalog.ROLLUPS) -> list[str]:
    """Create missing rollups and rebuild changed ones (data is derived: rebuilt on refresh).

    Returns the names created or rebuilt. Idempotent; ``migrate`` runs it after definitions.
    """
    kind = edition(conn)
    done: list[str] = []
    rebuilt: set[str] = set()
    for rollup in rollups:
        with conn.transaction():
            row = conn.execute(
                "SELECT definition_hash, implementation FROM _hazwatch.rollup WHERE name = %s",
                (rollup.name,),
            ).fetchone()
            current = row is not None and row[0] == rollup.definition_hash() and row[1] == kind
            if current and rollup.source not in rebuilt and _exists(conn, rollup.name):
                if kind == "incremental" and not rollup.is_hierarchical:
                    _ensure_source_triggers(conn, rollup)
                continue
            if row is not None or _exists(conn, rollup.name):
                _drop(conn, rollup, row[1] if row else kind)
            if kind == "continuous":
                _create_continuous(conn, rollup)
            else:
                _create_incremental(conn, rollup)
                conn.execute(realtime_view(rollup))
                if not rollup.is_hierarchical:
                    _ensure_source_triggers(conn, rollup)
            conn.execute(
                "INSERT INTO _hazwatch.rollup (name, source, bucket_width, implementation,"
                " definition_hash) VALUES (%s, %s, %s, %s, %s)",
                (rollup.name, rollup.source, rollup.bucket, kind, rollup.definition_hash()),
            )
            done.append(rollup.name)
            rebuilt.add(rollup.name)
    return done


def rebuild(conn: psycopg.Connection, names: list[str] | None = None) -> list[str]:
    """Drop rollups (all, or ``names`` and the levels above them) and create them empty.

    Their next refresh materialises everything again from the source. Used after a bulk
    backfill or repair; ``sync`` already rebuilds a rollup whose declaration changed.
    """
    chosen = {catalog.by_name(n).name for n in (names or [r.name for r in catalog.ROLLUPS])}
    for rollup in catalog.ROLLUPS:  # a level above a rebuilt one is rebuilt too
        if rollup.source in chosen:
            chosen.add(rollup.name)
    kind = edition(conn)
    with conn.transaction():
        for rollup in reversed(catalog.ROLLUPS):
            if rollup.name in chosen:
                _drop(conn, rollup, kind)
        for source in {r.source for r in catalog.ROLLUPS if not r.is_hierarchical}:
            readers = {r.name for r in catalog.ROLLUPS if r.source == source}
            if readers <= chosen and kind == "incremental":
                conn.execute(_constant_fn(threshold_fn(source), None))
                conn.execute("DELETE FROM _hazwatch.invalidation_log WHERE source = %s", (source,))
    return sync(conn)


def _create_continuous(conn: psycopg.Connection, rollup: Rollup) -> None:
    conn.execute(continuous_aggregate(rollup))
    conn.execute(
        sql.SQL(
            "SELECT add_continuous_aggregate_policy({}, start_offset => NULL,"
            " end_offset => {}, schedule_interval => {})"
        ).format(
            sql.Literal(rollup.name),
            interval_literal(rollup.effective_end_offset),
            interval_literal(rollup.effective_schedule),
        )
    )


# -- refresh ---------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    name: str
    watermark: datetime | None
    materialized_rows: int = 0
    recomputed_ranges: int = 0
    duration_s: float = 0.0


def _lock_key(name: str) -> sql.Composed:
    return sql.SQL("hashtext({})").format(sql.Literal(LOCK_NAMESPACE + name))


def _state(conn: psycopg.Connection, name: str) -> tuple[datetime | None, str]:
    row = conn.execute(
        "SELECT watermark, implementation FROM _hazwatch.rollup WHERE name = %s", (name,)
    ).fetchone()
    if row is None:
        raise HazwatchError(f"rollup {name} does not exist in this database: run hazwatch db up")
    return row[0], row[1]


def _recompute(conn: psycopg.Connection, rollup: Rollup, lo: datetime, hi: datetime) -> int:
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(rollup.materialization),
        (lo, hi),
    )
    where = sql.SQL("{c} >= %s AND {c} < %s").format(c=sql.Identifier(rollup.time_column))
    cur = conn.execute(
        sql.SQL("INSERT INTO {} ({}) {}").format(
            rollup.materialization,
            sql.SQL(", ").join(sql.Identifier(c) for c in rollup.columns),
            aggregate_select(rollup, source_relation(rollup), where),
        ),
        (lo, hi),
    )
    return max(cur.rowcount, 0)


def _children(rollup: Rollup) -> list[str]:
    return [r.name for r in catalog.ROLLUPS if r.source == rollup.name]


def _target_watermark(conn: psycopg.Connection, rollup: Rollup, now: datetime) -> datetime | None:
    if rollup.is_hierarchical:
        parent_wm, _ = _state(conn, rollup.source)
        return None if parent_wm is None else bucket_floor(parent_wm, rollup.bucket)
    return bucket_floor(now - rollup.effective_end_offset, rollup.bucket)


def _raise_threshold(conn: psycopg.Connection, rollup: Rollup, new_wm: datetime) -> None:
    """Step 1: from now on, writes below ``new_wm`` are logged as invalidations."""
    fn = threshold_fn(rollup.source)
    with conn.transaction():
        conn.execute(
            sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(relation(rollup.source))
        )
        # Compared in SQL: the threshold starts at -infinity, which Python cannot hold.
        behind = conn.execute(sql.SQL("SELECT {}() < %s").format(fn), (new_wm,)).fetchone()
        if behind and behind[0]:
            conn.execute(_constant_fn(fn, new_wm))


def _first_time(conn: psycopg.Connection, rollup: Rollup) -> datetime | None:
    row = conn.execute(
        sql.SQL("SELECT min({}) FROM {}").format(
            sql.Identifier(rollup.time_column), source_relation(rollup)
        )
    ).fetchone()
    return row[0] if row else None


def _horizon(conn: psycopg.Connection, relation_name: str) -> datetime | None:
    row = conn.execute(
        "SELECT horizon FROM _hazwatch.retention_state WHERE relation = %s", (relation_name,)
    ).fetchone()
    return row[0] if row else None


def _set_watermark(conn: psycopg.Connection, rollup: Rollup, wm: datetime) -> None:
    conn.execute(_constant_fn(rollup.watermark_fn, wm))
    conn.execute("UPDATE _hazwatch.rollup SET watermark = %s WHERE name = %s", (wm, rollup.name))


def refresh(
    conn: psycopg.Connection,
    rollup: Rollup,
    now: datetime | None = None,
    window: Range | None = None,
) -> RefreshResult:
    """Bring one rollup up to date; safe to run concurrently (advisory lock) and repeatedly."""
    if not conn.autocommit:
        raise HazwatchError("refresh needs an autocommit connection (it commits per batch)")
    now = now or datetime.now(UTC)
    started = time.monotonic()
    conn.execute(sql.SQL("SELECT pg_advisory_lock({})").format(_lock_key(rollup.name)))
    try:
        result = _refresh_locked(conn, rollup, now, window)
    except (psycopg.Error, HazwatchError) as exc:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.execute(
            "UPDATE _hazwatch.rollup SET last_error = %s, last_error_at = now() WHERE name = %s",
            (str(exc).strip()[:2000], rollup.name),
        )
        raise HazwatchError(f"refresh of {rollup.name} failed: {exc}".strip()) from exc
    finally:
        conn.execute(sql.SQL("SELECT pg_advisory_unlock({})").format(_lock_key(rollup.name)))
    result.duration_s = time.monotonic() - started
    conn.execute(
        "UPDATE _hazwatch.rollup SET last_run_at = now(), last_duration_ms = %s, last_rows = %s,"
        " last_error = NULL, runs = runs + 1 WHERE name = %s",
        (int(result.duration_s * 1000), result.materialized_rows, rollup.name),
    )
    return result


def _refresh_locked(
    conn: psycopg.Connection, rollup: Rollup, now: datetime, window: Range | None
) -> RefreshResult:
    wm, kind = _state(conn, rollup.name)
    if kind == "continuous":
        return _refresh_continuous(conn, rollup, now, window)
    result = RefreshResult(rollup.name, wm)
    target = _target_watermark(conn, rollup, now)
    if target is not None and (wm is None or target > wm):
        if not rollup.is_hierarchical:
            _raise_threshold(conn, rollup, target)
        start = wm
        if start is None:
            first = _first_time(conn, rollup)
            start = bucket_floor(first, rollup.bucket) if first is not None else target
            start = min(start, target)
        for lo, hi in batches(start, target, rollup.effective_batch):
            with conn.transaction():
                result.materialized_rows += _recompute(conn, rollup, lo, hi)
                _set_watermark(conn, rollup, hi)
        if start == target:
            with conn.transaction():
                _set_watermark(conn, rollup, target)
        result.watermark = target
    with conn.transaction():
        if window is not None:
            conn.execute(
                "INSERT INTO _hazwatch.rollup_invalidation (rollup, lo, hi) VALUES (%s, %s, %s)",
                (rollup.name, window[0], window[1] - timedelta(microseconds=1)),
            )
        if not rollup.is_hierarchical:
            # One entry per touched minute (the finest bucket) instead of one per late row:
            # a backfill of millions of rows becomes thousands of ranges.
            conn.execute(
                "WITH moved AS (DELETE FROM _hazwatch.invalidation_log WHERE source = %s"
                " RETURNING lo, hi),"
                " merged AS (SELECT min(lo) AS lo, max(hi) AS hi FROM moved"
                " GROUP BY date_trunc('minute', lo), date_trunc('minute', hi))"
                " INSERT INTO _hazwatch.rollup_invalidation (rollup, lo, hi)"
                " SELECT r.name, m.lo, m.hi FROM merged m"
                " JOIN _hazwatch.rollup r ON r.source = %s",
                (rollup.source, rollup.source),
            )
        touched = conn.execute(
            "DELETE FROM _hazwatch.rollup_invalidation WHERE rollup = %s RETURNING lo, hi",
            (rollup.name,),
        ).fetchall()
        current_wm, _ = _state(conn, rollup.name)
        if touched and current_wm is not None:
            ranges = align_ranges(
                touched, rollup.bucket, upper=current_wm, lower=_horizon(conn, rollup.source)
            )
            for lo, hi in ranges:
                result.materialized_rows += _recompute(conn, rollup, lo, hi)
                for child in _children(rollup):
                    conn.execute(
                        "INSERT INTO _hazwatch.rollup_invalidation (rollup, lo, hi)"
                        " VALUES (%s, %s, %s)",
                        (child, lo, hi - timedelta(microseconds=1)),
                    )
            result.recomputed_ranges = len(ranges)
    return result


def _refresh_continuous(
    conn: psycopg.Connection, rollup: Rollup, now: datetime, window: Range | None
) -> RefreshResult:
    lo, hi = window if window else (None, now - rollup.effective_end_offset)
    conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (rollup.name, lo, hi))
    row = conn.execute(
        "SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark("
        "mat_hypertable_id)) FROM _timescaledb_catalog.continuous_agg"
        " WHERE user_view_schema || '.' || user_view_name = %s",
        (rollup.name,),
    ).fetchone()
    wm = row[0] if row else None
    conn.execute("UPDATE _hazwatch.rollup SET watermark = %s WHERE name = %s", (wm, rollup.name))
    return RefreshResult(rollup.name, wm)


def refresh_all(conn: psycopg.Connection, now: datetime | None = None) -> list[RefreshResult]:
    """Refresh every rollup, lower levels first."""
    return [refresh(conn, r, now=now) for r in catalog.ROLLUPS]


# -- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupStatus:
    name: str
    implementation: str
    source: str
    bucket: timedelta
    watermark: datetime | None
    lag: timedelta | None
    last_run_at: datetime | None
    last_duration_ms: int | None
    last_rows: int | None
    last_error: str | None
    pending_invalidations: int
    runs: int


def status(conn: psycopg.Connection, now: datetime | None = None) -> list[RollupStatus]:
    now = now or datetime.now(UTC)
    rows = conn.execute(
        "SELECT r.name, r.implementation, r.source, r.bucket_width, r.watermark, r.last_run_at,"
        " r.last_duration_ms, r.last_rows, r.last_error, r.runs,"
        " (SELECT count(*) FROM _hazwatch.rollup_invalidation i WHERE i.rollup = r.name)"
        " + (SELECT count(*) FROM _hazwatch.invalidation_log l WHERE l.source = r.source)"
        " FROM _hazwatch.rollup r"
    ).fetchall()
    order = {r.name: i for i, r in enumerate(catalog.ROLLUPS)}
    out = [
        RollupStatus(
            name=name,
            implementation=impl,
            source=source,
            bucket=bucket,
            watermark=wm,
            lag=(now - wm) if wm is not None else None,
            last_run_at=last_run,
            last_duration_ms=dur,
            last_rows=rows_,
            last_error=err,
            pending_invalidations=int(pending),
            runs=int(runs),
        )
        for name, impl, source, bucket, wm, last_run, dur, rows_, err, runs, pending in rows
    ]
    return sorted(out, key=lambda s: order.get(s.name, len(order)))
