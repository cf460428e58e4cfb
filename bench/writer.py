"""Writer benchmark (issue 4): ``ingest.writer.Writer`` against server-side COPY and executemany.

One run, on a scratch TimescaleDB of its own (initdb in a temp dir, a free port, as the test
suite makes one), or on a fresh database of ``HAZWATCH_DATABASE_URL`` when that is set;
everything is removed at the end, on Ctrl-C and on errors too.

    .venv/bin/python bench/writer.py                   # 2 M rows, 3 rounds: ~3-5 min on 2 cores
    .venv/bin/python bench/writer.py --quick           # 200 k rows, 1 round: < 1 min
    .venv/bin/python bench/writer.py --rows 1000000 --rounds 2 --executemany-rows 100000

The same rows (1000 tags x rows/1000 timestamps one second apart, time-major, as a collector
scanning 1000 tags would produce them) go into the same hypertable ``ts.sample``, truncated and
checkpointed before every measurement:

1. **writer**: a started ``Writer`` with the default ingest settings (``batch_rows`` 10,000,
   ``max_queue_rows`` 200,000; binary COPY, one transaction per batch, batches growing to
   100,000 rows while the writer is behind: group commit); the clock runs from the first
   ``put_samples`` (1000 rows per call) to the return of ``flush()``;
2. **server COPY**: ``COPY ts.sample FROM '<file>' (FORMAT csv)`` of the same rows written
   beforehand to a CSV file the server reads itself (no client work at all); when the server
   cannot read the file (a remote ``HAZWATCH_DATABASE_URL``), the file's bytes are streamed with
   ``COPY ... FROM STDIN (FORMAT csv)`` instead, and the results say so;
3. **executemany**: ``cursor.executemany(INSERT ...)`` of the first ``--executemany-rows`` rows
   in one transaction (psycopg 3 pipelines it), as rows/s.

Rounds alternate the order of (1) and (2) so neither always runs on a warmer server. Ratios use
the median of the rounds: writer / server COPY (target >= 0.8) and writer / executemany (target
>= 4). Prints a table; writes ``bench/results/writer.json`` (``writer-quick.json`` with
``--quick``). ``--quick`` is a smoke test: one round of 200 k rows, where start-up and the first
small batches weigh in and one disturbed run decides the ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql

from hazwatch.db.scratch import (
    bench_database,
    scratch_dir,
)
from hazwatch.settings import load_settings
from ingest.types import GOOD, Sample
from ingest.writer import Writer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
TAGS = 1000
PUT_ROWS = 1000  # rows per put_samples call: one scan of every tag
TARGET_VS_COPY = 0.8
TARGET_VS_EXECUTEMANY = 4.0
COLUMNS = "time, tag_id, value, quality"

Conn = psycopg.Connection[Any]
_STARTED = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {msg}", flush=True)


@dataclass(frozen=True)
class Config:
    rows: int
    rounds: int
    executemany_rows: int
    quick: bool

    @property
    def timestamps(self) -> int:
        return self.rows // TAGS


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=None, help="rows (default 2,000,000; 200,000 quick)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    p.add_argument(
        "--executemany-rows", type=int, default=None, help="rows for executemany (rows/10)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 200 k rows, one round")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    a = p.parse_args(argv)
    rows = a.rows or (200_000 if a.quick else 2_000_000)
    if rows < TAGS:
        p.error(f"--rows must be at least {TAGS}")
    rows -= rows % TAGS
    cfg = Config(
        rows=rows,
        rounds=a.rounds or (1 if a.quick else 3),
        executemany_rows=min(rows, a.executemany_rows or rows // 10),
        quick=a.quick,
    )
    out = a.json or RESULTS_DIR / ("writer-quick.json" if a.quick else "writer.json")
    return cfg, out


# -- the database ----------------------------------------------------------------------------


def reset(url: str) -> None:
    """Empty ts.sample and checkpoint, so every measurement starts from the same state."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE ts.sample")
        conn.execute("CHECKPOINT")


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM ts.sample").fetchone()
        return int(row[0]) if row else 0


# -- the data --------------------------------------------------------------------------------


def make_rows(cfg: Config) -> list[Sample]:
    """``TAGS`` tags x ``cfg.timestamps`` times, time-major; one datetime per timestamp."""
    rows: list[Sample] = []
    for j in range(cfg.timestamps):
        t = T0 + timedelta(seconds=j)
        rows.extend(Sample(t, tag, 50.0 + tag * 0.01 + j * 1e-4, GOOD) for tag in range(TAGS))
    return rows


def write_csv(rows: list[Sample], folder: Path) -> Path:
    """The rows as CSV in a file the server's OS user can read."""
    path = folder / "samples.csv"
    iso: dict[datetime, str] = {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        for r in rows:
            stamp = iso.get(r.time)
            if stamp is None:
                stamp = iso[r.time] = r.time.isoformat()
            out.writerow((stamp, r.tag_id, repr(r.value), r.quality))
    path.chmod(0o644)
    return path


# -- the three ways in -----------------------------------------------------------------------


@dataclass
class Run:
    method: str
    round: int
    rows: int
    seconds: float
    rows_per_s: float
    client_cpu_s: float
    load_1m: float  # the machine's load average when the run ended (others share it)
    note: str = ""


def timed(method: str, rnd: int, rows: int, started: float, cpu0: float, note: str = "") -> Run:
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    load = round(os.getloadavg()[0], 2)
    return Run(method, rnd, rows, round(seconds, 3), round(rows / seconds), round(cpu, 2), load,
               note)  # fmt: skip


def run_writer(url: str, rows: list[Sample], rnd: int, home: Path) -> Run:
    settings = load_settings(database_url=url, home=str(home))  # default ingest settings
    spool = home / f"bench-{rnd}.sqlite"
    with Writer(settings, name="bench", spool_path=spool) as writer:
        end = time.monotonic() + 30
        while not writer.stats.db_up and time.monotonic() < end:  # connected before timing
            time.sleep(0.01)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i in range(0, len(rows), PUT_ROWS):
            writer.put_samples(rows[i : i + PUT_ROWS])
        writer.flush()
        run = timed("writer", rnd, len(rows), t0, cpu0)
        stats = writer.stats
    if stats.rows_written != len(rows) or stats.spool_depth or stats.last_error:
        raise RuntimeError(f"writer did not write every row: {stats}")
    return run


def run_server_copy(url: str, csv_path: Path, n: int, rnd: int) -> Run:
    with psycopg.connect(url, autocommit=True) as conn:
        query = sql.SQL("COPY ts.sample ({}) FROM {} (FORMAT csv)").format(
            sql.SQL(COLUMNS), sql.Literal(str(csv_path))
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        try:
            conn.execute(query)
            return timed("server COPY", rnd, n, t0, cpu0, "FROM file, read by the server")
        except (psycopg.errors.UndefinedFile, psycopg.errors.InsufficientPrivilege) as exc:
            say(f"  server cannot read {csv_path} ({exc.diag.message_primary}); streaming it")
        copy_stdin = sql.SQL("COPY ts.sample ({}) FROM STDIN (FORMAT csv)").format(sql.SQL(COLUMNS))
        cpu0, t0 = time.process_time(), time.perf_counter()
        with conn.cursor() as cur, cur.copy(copy_stdin) as copy, csv_path.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        return timed("server COPY", rnd, n, t0, cpu0, "CSV bytes streamed FROM STDIN")


def run_executemany(url: str, rows: list[Sample], rnd: int) -> Run:
    query = "INSERT INTO ts.sample (time, tag_id, value, quality) VALUES (%s, %s, %s, %s)"
    with psycopg.connect(url) as conn:
        cpu0, t0 = time.process_time(), time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(query, rows)
        conn.commit()
        return timed("executemany", rnd, len(rows), t0, cpu0)


# -- the run ---------------------------------------------------------------------------------


def run(url: str, cfg: Config) -> dict[str, Any]:
    say(f"generating {cfg.rows:,} rows ({TAGS} tags x {cfg.timestamps} timestamps)")
    rows = make_rows(cfg)
    work = scratch_dir("hazwatch-bench-writer-")  # 0755: the server user reads the CSV
    try:
        csv_path = write_csv(rows, work)
        say(f"CSV written: {csv_path.stat().st_size / 1e6:.0f} MB")
        runs: list[Run] = []
        for rnd in range(1, cfg.rounds + 1):
            order = ("writer", "copy") if rnd % 2 else ("copy", "writer")
            for method in order:
                reset(url)
                if method == "writer":
                    r = run_writer(url, rows, rnd, work)
                else:
                    r = run_server_copy(url, csv_path, len(rows), rnd)
                if count(url) != len(rows):
                    raise RuntimeError(f"{method}: ts.sample holds {count(url)} rows")
                runs.append(r)
                say(f"  round {rnd} {r.method:<12} {r.rows_per_s:>9,} rows/s ({r.seconds:.1f} s)")
            reset(url)
            r = run_executemany(url, rows[: cfg.executemany_rows], rnd)
            if count(url) != cfg.executemany_rows:
                raise RuntimeError("executemany did not insert every row")
            runs.append(r)
            say(f"  round {rnd} {r.method:<12} {r.rows_per_s:>9,} rows/s ({r.seconds:.1f} s)")
        reset(url)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(method: str) -> float:
        return statistics.median(r.rows_per_s for r in runs if r.method == method)

    writer, copy, many = med("writer"), med("server COPY"), med("executemany")
    # Writer and server COPY of the same round ran back to back: their ratio is the least
    # disturbed by whatever else the machine was doing.
    paired = [
        w.rows_per_s / c.rows_per_s
        for w in runs
        if w.method == "writer"
        for c in runs
        if c.method == "server COPY" and c.round == w.round
    ]
    return {
        "benchmark": "writer",
        "config": asdict(cfg),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: other processes ran during the benchmark (see load_1m)",
        },
        "runs": [asdict(r) for r in runs],
        "median_rows_per_s": {"writer": writer, "server_copy": copy, "executemany": many},
        "ratio_writer_over_server_copy": round(writer / copy, 3),
        "ratio_writer_over_server_copy_per_round": [round(r, 3) for r in paired],
        "ratio_writer_over_executemany": round(writer / many, 2),
        "targets": {
            "writer_over_server_copy": TARGET_VS_COPY,
            "writer_over_executemany": TARGET_VS_EXECUTEMANY,
        },
        "met": {
            "writer_over_server_copy": writer / copy >= TARGET_VS_COPY,
            "writer_over_executemany": writer / many >= TARGET_VS_EXECUTEMANY,
        },
    }


def table(res: dict[str, Any]) -> str:
    lines = [
        f"{'method':<14}{'round':>6}{'rows':>12}{'s':>9}{'rows/s':>12}{'client CPU s':>14}"
        f"{'load 1m':>9}"
    ]
    for r in res["runs"]:
        lines.append(
            f"{r['method']:<14}{r['round']:>6}{r['rows']:>12,}{r['seconds']:>9.2f}"
            f"{r['rows_per_s']:>12,}{r['client_cpu_s']:>14.2f}{r['load_1m']:>9.2f}"
        )
    m = res["median_rows_per_s"]
    met = {k: "met" if v else "MISSED" for k, v in res["met"].items()}
    lines += [
        "",
        f"median rows/s: writer {m['writer']:,.0f}, server COPY {m['server_copy']:,.0f},"
        f" executemany {m['executemany']:,.0f}",
        f"writer / server COPY  = {res['ratio_writer_over_server_copy']:.2f}"
        f"  (target >= {TARGET_VS_COPY}: {met['writer_over_server_copy']});"
        " per round: "
        + ", ".join(f"{x:.2f}" for x in res["ratio_writer_over_server_copy_per_round"]),
        f"writer / executemany  = {res['ratio_writer_over_executemany']:.1f}"
        f"  (target >= {TARGET_VS_EXECUTEMANY:.0f}: {met['writer_over_executemany']})",
    ]
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    cfg, out = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    say(f"writer benchmark: {cfg}")
    try:
        with bench_database("1GB", say=say) as url:
            res = run(url, cfg)
    except KeyboardInterrupt:
        say("interrupted; scratch database removed")
        return 130
    res["wall_s"] = round(time.monotonic() - _STARTED, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print("\nresults\n" + table(res), flush=True)
    print(f"\nJSON: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
