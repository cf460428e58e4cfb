"""Rollup benchmark (issue 3): query speed-up, refresh cost and invalidation-trigger overhead.

One run, on a scratch TimescaleDB of its own (``hazwatch.db.scratch``, as the tests use: initdb
in a temp dir, a free port, shared_buffers 2GB), or on a fresh database of
``HAZWATCH_DATABASE_URL`` when that is set; everything is dropped at the end, on Ctrl-C (and
SIGTERM) and on errors too.

    .venv/bin/python bench/rollups.py                    # 100 tags x 365 days: ~20 min, 2 cores
    .venv/bin/python bench/rollups.py --quick            # 10 tags x 30 days: under a minute
    .venv/bin/python bench/rollups.py --tags 50 --days 90

Steps (all in the same run):

1. data: one value per minute per tag, generated server-side (INSERT ... SELECT), per month;
2. initial refresh of ts.sample_1m, ts.sample_1h, ts.sample_1d (``now`` = end of the data);
3. "one-year hourly trend for 10 tags": ts.sample_1h against the same aggregation of ts.sample,
   results checked equal; plus ts.sample_1h with a watermark one day behind the query window;
4. refresh cost: one million more raw rows at the live edge, then refresh of all three levels;
5. invalidation triggers: binary COPY of one million rows at the live edge (WHEN false), the same
   with the triggers dropped (what a writer logging its own ranges would pay), and late rows
   (every row logged); then the refresh that consumes those invalidations.

Prints progress and a results table; writes ``bench/results/rollups.json``
(``rollups-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql

from hazwatch.db.scratch import (
    bench_database,
)
from hazwatch.rollups import catalog, engine
from hazwatch.rollups.declare import Rollup

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: First sample of the generated data.
DATA_START = datetime(2025, 1, 1, tzinfo=UTC)
#: The three invalidation triggers on ts.sample (created by hazwatch.rollups.engine).
TRIGGERS = tuple(f"ts_sample_rollup_invalidate_{op}" for op in ("insert", "update", "delete"))
#: Tag ids of the COPY rows start here, far above the generated tags (no key conflicts).
COPY_TAG_BASE = 1_000_000
QUERY_TAGS = 10
TARGET_RATIO = 30.0

ROLLUP_QUERY = (
    "SELECT bucket, tag_id, avg, min, max FROM ts.sample_1h"
    " WHERE tag_id = ANY(%s) AND bucket >= %s AND bucket < %s ORDER BY tag_id, bucket"
)
RAW_QUERY = (
    "SELECT time_bucket('1 hour', time) AS bucket, tag_id, avg(value), min(value), max(value)"
    " FROM ts.sample WHERE tag_id = ANY(%s) AND time >= %s AND time < %s"
    " GROUP BY 1, 2 ORDER BY 2, 1"
)
#: Minute ``m`` (from DATA_START) of tag ``tag``: a daily sine per tag plus uniform noise.
GENERATE = (
    "INSERT INTO ts.sample (time, tag_id, value, quality)"
    " SELECT %(t0)s::timestamptz + s.m * interval '1 minute', s.tag,"
    "        50 + (10 + mod(s.tag, 7)) * sin(2 * pi() * s.m::float8 / 1440 + s.tag) + random(),"
    "        192"
    " FROM (SELECT i / %(n)s::int AS m, %(tag_lo)s::int + mod(i, %(n)s::int)::int AS tag"
    "       FROM generate_series(%(i_lo)s::bigint, %(i_hi)s::bigint) AS i) AS s"
)

Conn = psycopg.Connection[Any]


# -- output ----------------------------------------------------------------------------------

_STARTED = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {msg}", flush=True)


class LoadSampler:
    """The machine's 1-minute load average every few seconds: timings on a shared machine are
    only as good as its idleness, so the report says how busy it was during each step."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            self.samples.append((time.monotonic(), os.getloadavg()[0]))
            if self._stop.wait(self._every):
                return

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @contextmanager
    def phase(self, into: dict[str, Any], key: str) -> Iterator[None]:
        """Record the load average's median and max while the block runs as ``into[key]``."""
        t0 = time.monotonic()
        try:
            yield
        finally:
            t1 = time.monotonic()
            window = [v for t, v in self.samples if t0 <= t <= t1] or [os.getloadavg()[0]]
            into[key] = {
                "median": round(statistics.median(window), 2),
                "max": round(max(window), 2),
            }


@contextmanager
def heartbeat(url: str, what: Callable[[Conn], str], every_s: float = 30.0) -> Iterator[None]:
    """Print ``what(conn)`` every ``every_s`` seconds from a side connection while a step runs."""
    stop = threading.Event()

    def loop() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as side:
                while not stop.wait(every_s):
                    say(f"  ... {what(side)}")
        except psycopg.Error as exc:  # the step itself reports real failures
            say(f"  ... (progress unavailable: {exc})")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# -- the database ----------------------------------------------------------------------------


def scalar(conn: Conn, query: str | sql.Composable, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def quiesce(conn: Conn, max_wait_s: float = 180.0) -> None:
    """CHECKPOINT, then wait for autovacuum workers to finish (bounded): the next timing then
    measures its own operation, not the background flush of the previous step's writes."""
    t = time.perf_counter()
    # An external server may refuse CHECKPOINT (no pg_checkpoint role): best effort then.
    with suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")
    while time.perf_counter() - t < max_wait_s:
        busy = scalar(
            conn, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        )
        if not busy:
            break
        time.sleep(1.0)
    say(f"  (quiesce: checkpoint + autovacuum idle, {time.perf_counter() - t:.1f} s, untimed)")


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    tags: int
    days: int
    quick: bool
    raw_reps: int
    rollup_reps: int
    edge_rows: int  # step 4: raw rows inserted at the live edge
    copy_rows: int  # step 5: rows per COPY variant
    copy_rounds: int
    seed: int

    @property
    def start(self) -> datetime:
        return DATA_START

    @property
    def end(self) -> datetime:
        """First minute after the generated year: the ``now`` of the initial refresh."""
        return DATA_START + timedelta(days=self.days)

    @property
    def edge_minutes(self) -> int:
        return math.ceil(self.edge_rows / self.tags)

    @property
    def edge_end(self) -> datetime:
        return self.end + timedelta(minutes=self.edge_minutes)

    @property
    def copy_tags(self) -> int:
        return 1000 if self.copy_rows >= 1000 * 100 else 100

    @property
    def copy_minutes(self) -> int:
        return self.copy_rows // self.copy_tags


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path, str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--tags", type=int, default=None, help="tags (default 100; 10 with --quick)")
    p.add_argument("--days", type=int, default=None, help="days (default 365; 30 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: small data, 100k-row steps")
    p.add_argument("--seed", type=int, default=20250101, help="seed of the query tag sets")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    p.add_argument("--shared-buffers", default="2GB", help="scratch cluster shared_buffers")
    a = p.parse_args(argv)
    tags = a.tags or (10 if a.quick else 100)
    days = a.days or (30 if a.quick else 365)
    if tags < 1 or days < 2:
        p.error("--tags must be >= 1 and --days >= 2")
    cfg = Config(
        tags=tags,
        days=days,
        quick=a.quick,
        raw_reps=3 if a.quick else 5,
        rollup_reps=10 if a.quick else 20,
        edge_rows=100_000 if a.quick else 1_000_000,
        copy_rows=100_000 if a.quick else 1_000_000,
        copy_rounds=3,
        seed=a.seed,
    )
    out = a.json or RESULTS_DIR / ("rollups-quick.json" if a.quick else "rollups.json")
    if not re.fullmatch(r"\d+(kB|MB|GB)", a.shared_buffers):
        p.error("--shared-buffers looks like 2GB")
    return cfg, out, a.shared_buffers


# -- step 1: data ----------------------------------------------------------------------------


def generate(conn: Conn, tag_lo: int, tags: int, minute_lo: int, minute_hi: int) -> int:
    """Insert minutes ``[minute_lo, minute_hi)`` of tags ``tag_lo ..`` in time order."""
    cur = conn.execute(
        GENERATE,
        {
            "t0": DATA_START,
            "n": tags,
            "tag_lo": tag_lo,
            "i_lo": minute_lo * tags,
            "i_hi": minute_hi * tags - 1,
        },
    )
    return cur.rowcount


def load_data(conn: Conn, url: str, cfg: Config) -> dict[str, Any]:
    threshold = scalar(conn, "SELECT _hazwatch.th__ts__sample()::text")
    say(f"invalidation threshold before load: {threshold}")
    if threshold != "-infinity":
        raise SystemExit(f"expected the threshold at -infinity on a fresh database: {threshold}")
    step_days = max(1, min(30, 4_500_000 // (cfg.tags * 1440)))
    total_minutes = cfg.days * 1440
    rows = 0
    started = time.perf_counter()
    parts = math.ceil(cfg.days / step_days)
    for i, lo in enumerate(range(0, total_minutes, step_days * 1440), start=1):
        hi = min(lo + step_days * 1440, total_minutes)
        t = time.perf_counter()
        n = generate(conn, 1, cfg.tags, lo, hi)
        rows += n
        dt = time.perf_counter() - t
        day = (DATA_START + timedelta(minutes=lo)).date()
        say(
            f"load {i}/{parts}: {day} +{(hi - lo) // 1440}d {n / 1e6:.2f} M rows in {dt:.1f} s"
            f" ({n / dt / 1e3:.0f} k rows/s); total {rows / 1e6:.2f} M"
        )
    insert_s = time.perf_counter() - started
    logged = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log")
    say(f"loaded {rows:,} rows in {insert_s:.1f} s; invalidation_log rows: {logged}")
    if logged:
        raise SystemExit("the invalidation triggers fired during the load (threshold not -inf?)")

    def vacuum_progress(side: Conn) -> str:
        row = side.execute(
            "SELECT relid::regclass::text, phase, heap_blks_scanned, heap_blks_total"
            " FROM pg_stat_progress_vacuum LIMIT 1"
        ).fetchone()
        return f"vacuum {row[0]} {row[1]} {row[2]}/{row[3]} blocks" if row else "analyze"

    t = time.perf_counter()
    with heartbeat(url, vacuum_progress):
        conn.execute("VACUUM (ANALYZE) ts.sample")
    vacuum_s = time.perf_counter() - t
    say(f"VACUUM (ANALYZE) ts.sample: {vacuum_s:.1f} s (as autovacuum would, not in the figures)")
    return {
        "rows": rows,
        "insert_s": round(insert_s, 2),
        "rows_per_s": round(rows / insert_s),
        "vacuum_analyze_s": round(vacuum_s, 2),
        "invalidation_log_after_load": logged,
        "threshold_before_load": threshold,
    }


# -- step 2 and 4: refresh -------------------------------------------------------------------


def refresh_all(conn: Conn, url: str, now: datetime, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    total = 0.0
    for rollup in catalog.ROLLUPS:
        out[rollup.name] = refresh_one(conn, url, rollup, now, label)
        total += out[rollup.name]["s"]
    out["total_s"] = round(total, 2)
    return out


def refresh_one(conn: Conn, url: str, rollup: Rollup, now: datetime, label: str) -> dict[str, Any]:
    pid = conn.info.backend_pid

    def progress(side: Conn) -> str:
        row = side.execute(
            "SELECT (SELECT watermark FROM _hazwatch.rollup WHERE name = %s),"
            " (SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60)"
            "  || ' (' || round(extract(epoch FROM now() - query_start)) || ' s)'"
            "  FROM pg_stat_activity WHERE pid = %s AND state = 'active')",
            (rollup.name, pid),
        ).fetchone()
        wm, running = row if row else (None, None)
        return f"{rollup.name} watermark {wm}; running: {running}"

    say(f"{label}: refresh {rollup.name} (now={now.isoformat()})")
    t = time.perf_counter()
    with heartbeat(url, progress):
        result = engine.refresh(conn, rollup, now=now)
    dt = time.perf_counter() - t
    say(
        f"{label}: {rollup.name} {dt:.2f} s, {result.materialized_rows:,} rows materialised,"
        f" {result.recomputed_ranges} ranges recomputed, watermark {result.watermark}"
    )
    return {
        "s": round(dt, 3),
        "materialized_rows": result.materialized_rows,
        "recomputed_ranges": result.recomputed_ranges,
        "watermark": result.watermark.isoformat() if result.watermark else None,
    }


def analyze_materialisations(conn: Conn) -> float:
    t = time.perf_counter()
    for rollup in catalog.ROLLUPS:
        conn.execute(sql.SQL("ANALYZE {}").format(rollup.materialization))
    return time.perf_counter() - t


# -- step 3: queries -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(
    conn: Conn, query: str, params: Sequence[Any], binary: bool = False
) -> tuple[float, list[tuple[Any, ...]]]:
    """Seconds to run ``query`` and fetch every row (text or binary result format)."""
    t = time.perf_counter()
    with conn.cursor(binary=binary) as cur:
        rows = cur.execute(query, params).fetchall()  # type: ignore[arg-type]
    return time.perf_counter() - t, rows


def same_result(raw: list[tuple[Any, ...]], rollup: list[tuple[Any, ...]]) -> str | None:
    """None when both results agree (keys equal, avg/min/max within 1e-9 relative)."""
    if len(raw) != len(rollup):
        return f"row counts differ: raw {len(raw)}, rollup {len(rollup)}"
    for a, b in zip(raw, rollup, strict=True):
        if a[:2] != b[:2]:
            return f"keys differ: raw {a[:2]}, rollup {b[:2]}"
        for name, x, y in zip(("avg", "min", "max"), a[2:], b[2:], strict=True):
            if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=0.0):
                return f"{name} differs at {a[:2]}: raw {x!r}, rollup {y!r}"
    return None


def summary(samples: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "median_s": round(statistics.median(samples), 4),
        "p95_s": round(percentile(samples, 0.95), 4),
        "min_s": round(min(samples), 4),
        "samples_s": [round(s, 4) for s in samples],
    }


def explain(conn: Conn, query: str, params: Sequence[Any]) -> tuple[list[str], dict[str, float]]:
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()  # type: ignore[arg-type]
    lines = [r[0] for r in rows]
    times: dict[str, float] = {}
    for line in lines:
        m = re.match(r"\s*(Planning|Execution) Time: ([\d.]+) ms", line)
        if m:
            times[f"{m.group(1).lower()}_ms"] = float(m.group(2))
    return lines, times


def print_plan(title: str, lines: list[str], limit: int) -> None:
    say(f"{title} ({len(lines)} lines{', first ' + str(limit) if len(lines) > limit else ''}):")
    for line in lines[:limit]:
        print(f"    {line}", flush=True)


def tag_sets(cfg: Config, count: int) -> list[list[int]]:
    rng = random.Random(cfg.seed)  # noqa: S311 - reproducible tag choice, not security
    k = min(QUERY_TAGS, cfg.tags)
    return [sorted(rng.sample(range(1, cfg.tags + 1), k)) for _ in range(count)]


def query_bench(conn: Conn, cfg: Config) -> dict[str, Any]:
    """Raw against rollup, first as psycopg fetches by default (text), then in binary."""
    lo, hi = cfg.end - timedelta(days=cfg.days), cfg.end
    sets = tag_sets(cfg, max(cfg.raw_reps, cfg.rollup_reps) + 1)
    warm, sets = sets[0], sets[1:]
    say(f"query: {len(warm)} tags, [{lo.isoformat()}, {hi.isoformat()}), warm-up once each")
    timed(conn, RAW_QUERY, (warm, lo, hi))
    timed(conn, ROLLUP_QUERY, (warm, lo, hi))
    out: dict[str, Any] = {
        "window": [lo.isoformat(), hi.isoformat()],
        "tags_per_query": len(warm),
        "target_ratio": TARGET_RATIO,
    }
    for binary in (False, True):
        fmt = "binary" if binary else "text"
        raw_t: list[float] = []
        roll_t: list[float] = []
        for i, tags in enumerate(sets[: cfg.raw_reps]):
            dt, raw_rows = timed(conn, RAW_QUERY, (tags, lo, hi), binary)
            raw_t.append(dt)
            say(f"  {fmt} raw rep {i + 1}/{cfg.raw_reps}: {dt:.3f} s, {len(raw_rows):,} rows")
            if i == 0 and not binary:
                _, roll_rows = timed(conn, ROLLUP_QUERY, (tags, lo, hi))
                check = same_result(raw_rows, roll_rows)
                out["rows_returned"] = len(roll_rows)
                out["results_agree"] = check is None
                say(f"  results agree: {check is None}" + (f" ({check})" if check else ""))
                if check:
                    raise SystemExit(f"rollup and raw results differ: {check}")
        for i, tags in enumerate(sets[: cfg.rollup_reps]):
            dt, _ = timed(conn, ROLLUP_QUERY, (tags, lo, hi), binary)
            roll_t.append(dt)
            if i % 5 == 4 or i == cfg.rollup_reps - 1:
                say(f"  {fmt} rollup reps {i + 1}/{cfg.rollup_reps}: last {dt * 1000:.1f} ms")
        raw_s, roll_s = summary(raw_t), summary(roll_t)
        ratio = raw_s["median_s"] / roll_s["median_s"]
        say(
            f"{fmt}: raw median {raw_s['median_s']:.3f} s, rollup median"
            f" {roll_s['median_s'] * 1000:.1f} ms: ratio {ratio:.1f}x"
            f" (target >= {TARGET_RATIO:.0f}x)"
        )
        out[fmt] = {
            "raw": raw_s,
            "rollup": roll_s,
            "ratio_median": round(ratio, 1),
            "ratio_p95": round(raw_s["p95_s"] / roll_s["p95_s"], 1),
        }
    roll_plan, out["plan_rollup"] = explain(conn, ROLLUP_QUERY, (sets[0], lo, hi))
    raw_plan, out["plan_raw"] = explain(conn, RAW_QUERY, (sets[0], lo, hi))
    short = out["text"]["ratio_median"] >= TARGET_RATIO
    print_plan("EXPLAIN ANALYZE rollup query", roll_plan, 80)
    print_plan("EXPLAIN ANALYZE raw query", raw_plan, 25 if short else 80)
    return out


def stale_query_bench(conn: Conn, cfg: Config) -> dict[str, Any]:
    """ts.sample_1h when the query window ends a day (or less) above the watermarks."""
    shift = min(timedelta(days=1), timedelta(minutes=cfg.edge_minutes))
    lo, hi = cfg.end + shift - timedelta(days=cfg.days), cfg.end + shift
    sets = tag_sets(cfg, cfg.rollup_reps + 1)[1:]
    wm = scalar(conn, "SELECT watermark FROM _hazwatch.rollup WHERE name = 'ts.sample_1h'")
    say(f"stale query: window ends {hi.isoformat()}, ts.sample_1h watermark {wm}")
    raw_dt, raw_rows = timed(conn, RAW_QUERY, (sets[0], lo, hi))
    timed(conn, ROLLUP_QUERY, (sets[0], lo, hi))  # warm-up
    _, roll_rows = timed(conn, ROLLUP_QUERY, (sets[0], lo, hi))
    check = same_result(raw_rows, roll_rows)
    say(f"  results agree: {check is None}" + (f" ({check})" if check else ""))
    if check:
        raise SystemExit(f"stale rollup and raw results differ: {check}")
    samples = [timed(conn, ROLLUP_QUERY, (tags, lo, hi))[0] for tags in sets]
    out = summary(samples)
    plan, times = explain(conn, ROLLUP_QUERY, (sets[0], lo, hi))
    say(
        f"stale rollup median {out['median_s'] * 1000:.1f} ms, p95 {out['p95_s'] * 1000:.1f} ms"
        f" (raw once: {raw_dt:.3f} s)"
    )
    print_plan("EXPLAIN ANALYZE stale rollup query", plan, 80)
    return {
        "window": [lo.isoformat(), hi.isoformat()],
        "watermark_1h": wm.isoformat() if wm else None,
        "stale_by_s": (hi - wm).total_seconds() if wm else None,
        "results_agree": check is None,
        "rollup": out,
        "raw_once_s": round(raw_dt, 4),
        "plan": times,
    }


# -- step 4: refresh cost --------------------------------------------------------------------


def refresh_cost(conn: Conn, url: str, cfg: Config) -> dict[str, Any]:
    lo = cfg.days * 1440
    hi = lo + cfg.edge_minutes
    say(
        f"refresh cost: inserting {cfg.tags * cfg.edge_minutes:,} rows at the live edge"
        f" ({cfg.edge_minutes} minutes x {cfg.tags} tags)"
    )
    before = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log")
    quiesce(conn)
    t = time.perf_counter()
    rows = generate(conn, 1, cfg.tags, lo, hi)
    insert_s = time.perf_counter() - t
    logged = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log") - before
    say(f"  inserted {rows:,} rows in {insert_s:.2f} s; new invalidation_log rows: {logged}")
    stale = stale_query_bench(conn, cfg)
    quiesce(conn)
    refresh = refresh_all(conn, url, cfg.edge_end, "edge refresh")
    per_m = refresh["total_s"] / (rows / 1e6)
    ratio = refresh["total_s"] / insert_s
    say(f"refresh {refresh['total_s']:.2f} s = {per_m:.2f} s per M raw rows, {ratio:.2f}x insert")
    return {
        "rows": rows,
        "insert_s": round(insert_s, 3),
        "invalidation_log_rows": logged,
        "refresh": refresh,
        "refresh_s_per_million_rows": round(per_m, 3),
        "refresh_over_insert": round(ratio, 3),
        "stale_query": stale,
    }


# -- step 5: invalidation triggers -----------------------------------------------------------

Row = tuple[datetime, int, float]


def copy_batch(start: datetime, minutes: int, tag_lo: int, tags: int) -> list[Row]:
    rng = random.Random(tag_lo)  # noqa: S311 - sample values, not security
    return [
        (start + timedelta(minutes=m), tag_lo + k, 50.0 + rng.random())
        for m in range(minutes)
        for k in range(tags)
    ]


def copy_in(conn: Conn, rows: list[Row]) -> float:
    """Binary COPY of ``rows`` into ts.sample (one statement, autocommit); seconds."""
    t = time.perf_counter()
    with (
        conn.cursor() as cur,
        cur.copy("COPY ts.sample (time, tag_id, value) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["timestamptz", "int4", "float8"])
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - t


def drop_triggers(conn: Conn) -> None:
    """Drop the invalidation triggers (TimescaleDB refuses DISABLE TRIGGER on hypertables)."""
    for name in TRIGGERS:
        conn.execute(sql.SQL("DROP TRIGGER {} ON ts.sample").format(sql.Identifier(name)))


def restore_triggers(conn: Conn) -> None:
    """``sync`` re-creates the source triggers of current rollups (CREATE OR REPLACE)."""
    engine.sync(conn)


def trigger_states(conn: Conn) -> dict[str, int]:
    """Invalidation triggers on ts.sample and its chunks, by pg_trigger.tgenabled."""
    rows = conn.execute(
        "SELECT tgenabled, count(*) FROM pg_trigger WHERE tgname = ANY(%s) GROUP BY 1",
        (list(TRIGGERS),),
    ).fetchall()
    return {str(state): int(n) for state, n in rows}


def trigger_cost(conn: Conn, cfg: Config) -> dict[str, Any]:
    threshold = scalar(conn, "SELECT _hazwatch.th__ts__sample()")
    edge = cfg.edge_end
    late = DATA_START + timedelta(days=cfg.days // 2)
    say(
        f"trigger cost: threshold {threshold.isoformat()}; live-edge rows from {edge.isoformat()},"
        f" late rows from {late.isoformat()}; {cfg.copy_rows:,} rows per COPY"
        f" ({cfg.copy_tags} tags x {cfg.copy_minutes} min)"
    )
    if not (late < threshold <= edge):
        raise SystemExit(f"threshold {threshold} is not between late {late} and edge {edge}")
    variants = {
        "a_live_edge": ("live edge, triggers on (WHEN false)", edge, True),
        "b_no_triggers": ("live edge, triggers dropped", edge, False),
        "c_late": ("late rows, every row logged", late, True),
    }
    block = 0

    def next_tags() -> int:
        nonlocal block
        block += 1
        return COPY_TAG_BASE + block * cfg.copy_tags

    # Warm-up over the same minutes with a tenth of the tags: creates the live-edge chunks
    # (no variant pays for chunk creation) and warms the COPY path; not timed.
    warm_tags = max(1, cfg.copy_tags // 10)
    for start in (edge, late):
        copy_in(conn, copy_batch(start, cfg.copy_minutes, next_tags(), warm_tags))
    expected_late = cfg.copy_minutes * warm_tags
    copied = 2 * expected_late
    say(f"  warm-up: {copied:,} rows (creates the live-edge chunks)")
    times: dict[str, list[float]] = {k: [] for k in variants}
    logged: dict[str, list[int]] = {k: [] for k in variants}
    states: dict[str, dict[str, int]] = {"before": trigger_states(conn)}
    chunks = scalar(conn, "SELECT count(*) FROM show_chunks('ts.sample')")
    if states["before"] != {"O": len(TRIGGERS) * (chunks + 1)}:
        raise SystemExit(f"expected the triggers on ts.sample and its {chunks} chunks: {states}")
    keys = list(variants)
    for r in range(cfg.copy_rounds):
        order = keys[r % 3 :] + keys[: r % 3]  # rotated each round: (a b c) (b c a) (c a b)
        for key in order:
            label, start, on = variants[key]
            rows = copy_batch(start, cfg.copy_minutes, next_tags(), cfg.copy_tags)
            # Ten rows first, untimed, in every variant: the first COPY after the DDL of (b)
            # reloads the hypertable's caches, which is not the per-row cost we measure.
            primer = copy_batch(start, 1, next_tags(), 10)
            quiesce(conn)
            if not on:
                drop_triggers(conn)
                states["while_dropped"] = trigger_states(conn)
            try:
                copy_in(conn, primer)
                before = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log")
                dt = copy_in(conn, rows)
            finally:
                if not on:
                    restore_triggers(conn)
            n_logged = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log") - before
            copied += len(primer) + len(rows)
            if key == "c_late":
                expected_late += len(primer) + len(rows)
            times[key].append(dt)
            logged[key].append(n_logged)
            say(
                f"  round {r + 1} {key:14s} {len(rows):,} rows in {dt:.2f} s"
                f" = {len(rows) / dt / 1e3:,.0f} k rows/s; logged {n_logged:,} ({label})"
            )
    states["after"] = trigger_states(conn)
    if states["after"] != states["before"] or states.get("while_dropped"):
        raise SystemExit(f"the invalidation triggers were not dropped or restored: {states}")
    say(f"  trigger states (pg_trigger.tgenabled: count) {states}")
    rate = {k: cfg.copy_rows / statistics.median(v) for k, v in times.items()}
    out: dict[str, Any] = {
        "rows_per_copy": cfg.copy_rows,
        "rounds": cfg.copy_rounds,
        "threshold": threshold.isoformat(),
        "variants": {
            k: {
                "what": variants[k][0],
                "seconds": [round(x, 3) for x in times[k]],
                "rows_per_s_median": round(rate[k]),
                "invalidation_log_rows": logged[k],
            }
            for k in variants
        },
        "overhead_a_over_b": round(rate["b_no_triggers"] / rate["a_live_edge"], 3),
        "overhead_c_over_b": round(rate["b_no_triggers"] / rate["c_late"], 3),
        "trigger_states": states,
        "copied_rows": copied,
        "expected_late_rows": expected_late,
    }
    say(
        f"COPY rows/s: a {rate['a_live_edge']:,.0f}, b {rate['b_no_triggers']:,.0f},"
        f" c {rate['c_late']:,.0f}; time ratios a/b {out['overhead_a_over_b']:.3f},"
        f" c/b {out['overhead_c_over_b']:.3f}"
    )
    return out


def late_refresh(conn: Conn, url: str, cfg: Config, copied: dict[str, Any]) -> dict[str, Any]:
    """Consume the late rows' invalidations and check every copied row is counted."""
    pending = scalar(conn, "SELECT count(*) FROM _hazwatch.invalidation_log")
    say(f"late refresh: {pending:,} invalidation_log rows pending")
    quiesce(conn)
    refresh = refresh_all(conn, url, cfg.edge_end, "late refresh")
    counted = scalar(conn, "SELECT sum(n) FROM ts.sample_1d WHERE tag_id >= %s", (COPY_TAG_BASE,))
    ok = counted == copied["copied_rows"]
    say(f"  ts.sample_1d counts {counted:,} copied rows of {copied['copied_rows']:,}: ok={ok}")
    if not ok:
        raise SystemExit("ts.sample_1d does not count every copied row after the late refresh")
    return {"pending_invalidations": pending, "refresh": refresh, "counts_agree": ok}


# -- checks, environment, report -------------------------------------------------------------


def final_check(conn: Conn) -> dict[str, Any]:
    say("final check: count(*) of ts.sample against sum(n) of ts.sample_1d")
    raw = scalar(conn, "SELECT count(*) FROM ts.sample")
    rolled = scalar(conn, "SELECT sum(n) FROM ts.sample_1d")
    say(f"  ts.sample {raw:,} rows, ts.sample_1d sum(n) {rolled:,}")
    if raw != rolled:
        raise SystemExit("ts.sample_1d does not count every row of ts.sample")
    return {"raw_rows": raw, "rollup_1d_rows_counted": int(rolled), "agree": raw == rolled}


def sizes(conn: Conn) -> dict[str, str]:
    out = {"ts.sample": scalar(conn, "SELECT pg_size_pretty(hypertable_size('ts.sample'))")}
    for r in catalog.ROLLUPS:
        mat = f"_hazwatch.mat__{r.slug}"
        out[r.name] = scalar(conn, "SELECT pg_size_pretty(hypertable_size(%s))", (mat,))
    return out


def environment(conn: Conn) -> dict[str, Any]:
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem = meminfo.read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "postgres": scalar(conn, "SHOW server_version"),
        "timescaledb": scalar(
            conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ),
        "license": scalar(conn, "SELECT current_setting('timescaledb.license', true)"),
        "shared_buffers": scalar(conn, "SHOW shared_buffers"),
        "work_mem": scalar(conn, "SHOW work_mem"),
        "cpus": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "external_server": bool(os.environ.get("HAZWATCH_DATABASE_URL")),
    }


def table(res: dict[str, Any]) -> str:
    d, q, e, tc = res["data"], res["query"], res["refresh_cost"], res["triggers"]
    init = res["initial_refresh"]
    st = e["stale_query"]
    v = tc["variants"]
    rows: list[tuple[str, str]] = [
        ("data", f"{d['rows']:,} rows ({res['config']['tags']} tags x {res['config']['days']} d)"),
        ("  insert (INSERT ... SELECT)", f"{d['insert_s']:.1f} s = {d['rows_per_s']:,} rows/s"),
        ("  invalidation_log after load", str(d["invalidation_log_after_load"])),
        ("  VACUUM (ANALYZE), not counted", f"{d['vacuum_analyze_s']:.1f} s"),
        ("initial refresh ts.sample_1m", f"{init['ts.sample_1m']['s']:.1f} s"),
        ("initial refresh ts.sample_1h", f"{init['ts.sample_1h']['s']:.1f} s"),
        ("initial refresh ts.sample_1d", f"{init['ts.sample_1d']['s']:.1f} s"),
        ("  total", f"{init['total_s']:.1f} s"),
        ("sizes", ", ".join(f"{k} {s}" for k, s in res["sizes"].items())),
        (
            f"query raw ts.sample ({q['text']['raw']['n']} reps, text)",
            f"median {q['text']['raw']['median_s']:.3f} s, p95 {q['text']['raw']['p95_s']:.3f} s",
        ),
        (
            f"query ts.sample_1h ({q['text']['rollup']['n']} reps, text)",
            f"median {q['text']['rollup']['median_s'] * 1e3:.1f} ms,"
            f" p95 {q['text']['rollup']['p95_s'] * 1e3:.1f} ms",
        ),
        (
            "  ratio raw / rollup (text)",
            f"{q['text']['ratio_median']:.1f}x median, {q['text']['ratio_p95']:.1f}x p95"
            f" (target >= {TARGET_RATIO:.0f}x); results agree: {q['results_agree']}",
        ),
        (
            "query raw / ts.sample_1h, binary",
            f"median {q['binary']['raw']['median_s']:.3f} s /"
            f" {q['binary']['rollup']['median_s'] * 1e3:.1f} ms"
            f" = {q['binary']['ratio_median']:.1f}x (p95 {q['binary']['ratio_p95']:.1f}x)",
        ),
        (
            "  EXPLAIN ANALYZE plan + exec, raw",
            f"{q['plan_raw'].get('planning_ms', 0):.1f} + "
            f"{q['plan_raw'].get('execution_ms', 0):.1f} ms",
        ),
        (
            "  EXPLAIN ANALYZE plan + exec, rollup",
            f"{q['plan_rollup'].get('planning_ms', 0):.1f} + "
            f"{q['plan_rollup'].get('execution_ms', 0):.1f} ms",
        ),
        (
            f"query ts.sample_1h, stale {st['stale_by_s'] / 3600:.0f} h",
            f"median {st['rollup']['median_s'] * 1e3:.1f} ms, p95 {st['rollup']['p95_s'] * 1e3:.1f}"
            f" ms; agree: {st['results_agree']}",
        ),
        ("edge insert", f"{e['rows']:,} rows in {e['insert_s']:.2f} s"),
        (
            "edge refresh 1m + 1h + 1d",
            f"{e['refresh']['ts.sample_1m']['s']:.2f} + {e['refresh']['ts.sample_1h']['s']:.2f}"
            f" + {e['refresh']['ts.sample_1d']['s']:.2f} = {e['refresh']['total_s']:.2f} s",
        ),
        ("  refresh per million raw rows", f"{e['refresh_s_per_million_rows']:.2f} s"),
        ("  refresh time / insert time", f"{e['refresh_over_insert']:.2f}"),
        (
            f"COPY (a) live edge, triggers on ({tc['rows_per_copy']:,} rows)",
            f"{v['a_live_edge']['rows_per_s_median']:,} rows/s",
        ),
        (
            "COPY (b) live edge, triggers dropped",
            f"{v['b_no_triggers']['rows_per_s_median']:,} rows/s",
        ),
        ("COPY (c) late rows, all logged", f"{v['c_late']['rows_per_s_median']:,} rows/s"),
        ("  time ratio a/b (live-edge overhead)", f"{tc['overhead_a_over_b']:.3f}"),
        ("  time ratio c/b (late-row overhead)", f"{tc['overhead_c_over_b']:.3f}"),
        (
            "late refresh 1m + 1h + 1d",
            f"{res['late_refresh']['refresh']['total_s']:.2f} s for"
            f" {res['late_refresh']['pending_invalidations']:,} logged rows",
        ),
        ("checks", f"1d counts every raw row: {res['final_check']['agree']}"),
        (
            f"load average, {res['environment']['cpus']} CPUs (median/max)",
            ", ".join(
                f"{k} {v['median']:.1f}/{v['max']:.1f}" for k, v in res["load_average_1m"].items()
            ),
        ),
        ("wall time", f"{res['wall_s'] / 60:.1f} min"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {val}" for k, val in rows)


def run(url: str, cfg: Config) -> dict[str, Any]:
    res: dict[str, Any] = {
        "benchmark": "bench/rollups.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "tags": cfg.tags,
            "days": cfg.days,
            "quick": cfg.quick,
            "data_start": cfg.start.isoformat(),
            "data_end": cfg.end.isoformat(),
            "seed": cfg.seed,
        },
    }
    # prepare_threshold=None: every query is planned with its values, like a dashboard's.
    load = LoadSampler().start()
    loads: dict[str, Any] = {}
    res["load_average_1m"] = loads
    try:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            res["environment"] = environment(conn)
            say(f"environment: {res['environment']}")
            with load.phase(loads, "data"):
                res["data"] = load_data(conn, url, cfg)
            with load.phase(loads, "initial_refresh"):
                res["initial_refresh"] = refresh_all(conn, url, cfg.end, "initial refresh")
            res["initial_refresh"]["analyze_s"] = round(analyze_materialisations(conn), 2)
            res["sizes"] = sizes(conn)
            say(f"sizes: {res['sizes']}")
            quiesce(conn)
            with load.phase(loads, "query"):
                res["query"] = query_bench(conn, cfg)
            with load.phase(loads, "refresh_cost"):
                res["refresh_cost"] = refresh_cost(conn, url, cfg)
            with load.phase(loads, "triggers"):
                res["triggers"] = trigger_cost(conn, cfg)
            with load.phase(loads, "late_refresh"):
                res["late_refresh"] = late_refresh(conn, url, cfg, res["triggers"])
            res["final_check"] = final_check(conn)
    finally:
        load.stop()
    say(f"1-min load average by step (median/max; {os.cpu_count()} CPUs): {loads}")
    return res


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    cfg, out, shared_buffers = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    say(f"rollup benchmark: {cfg}")
    try:
        with bench_database(shared_buffers, say=say) as url:
            res = run(url, cfg)
    except KeyboardInterrupt:
        say("interrupted; scratch database (and cluster) removed")
        return 130
    res["wall_s"] = round(time.monotonic() - _STARTED, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    print("\nresults\n" + table(res), flush=True)
    print(f"\nJSON: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
