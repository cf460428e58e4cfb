"""Panel benchmark (issue 5, D1): the function behind the dashboard callback that draws a
time-series panel of 10 tags over 30 days, reading the rollup the range picks
(``ts.sample_1h``), against the same panel drawn from raw samples, in the same run.

One run on a scratch TimescaleDB of its own (or a fresh database of ``HAZWATCH_DATABASE_URL``),
removed at the end, on Ctrl-C and on errors too.

    .venv/bin/python bench/panel.py            # 10 tags x 30 days at 10 s = 2.59 M rows; 3-5 min
    .venv/bin/python bench/panel.py --quick    # 10 tags x 3 days at 10 s; < 1 min, smoke test
    .venv/bin/python bench/panel.py --reps 40 --raw-reps 10

Steps: registers (an enterprise and 10 tags, through ``hazwatch.registers``); samples through
``ingest.writer.Writer`` (binary COPY, the collectors' writer); ``VACUUM ANALYZE``; refresh of
the three rollup levels up to the end of the data; then, alternating, ``render.timeseries_panel``
(scope, tag resolution, query, Plotly figure) plus the figure's JSON serialisation (what Dash
sends) with the automatic plan and with ``force="ts.sample"`` (same buckets from raw rows).
The two answers are compared point by point before timing. Writes ``bench/results/panel.json``
(``panel-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from plotly.io.json import to_json_plotly

from dashboards.auth import Scope
from dashboards.components.timerange import TimeRange
from dashboards.components.variables import ViewState
from dashboards.panels import render
from hazwatch import registers
from hazwatch.db.scratch import bench_database
from hazwatch.registers import Actor
from hazwatch.rollups import engine
from hazwatch.settings import load_settings
from ingest.types import Sample
from ingest.writer import Writer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
END = datetime(2025, 2, 1, tzinfo=UTC)
TAGS = 10
STEP_S = 10
PUT_ROWS = 1000
ACTOR = Actor(None, "bench")
_STARTED = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {msg}", flush=True)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def load(url: str, days: int) -> list[str]:
    """Registers and samples; returns the tag names."""
    with psycopg.connect(url, autocommit=True) as conn:
        region = registers.resolve(conn, "region", "太原市")
        ent = registers.insert(conn, ACTOR, "enterprise", {"name": "基准企业", "region_id": region})
        names = [f"BENCH-PI{i:02d}" for i in range(TAGS)]
        ids = [
            registers.insert(
                conn, ACTOR, "tag", {"enterprise_id": ent, "name": n, "eng_unit": "kPa"}
            )
            for n in names
        ]
    start = END - timedelta(days=days)
    steps = days * 86400 // STEP_S
    with tempfile.TemporaryDirectory(prefix="hazwatch-bench-panel-") as home:
        settings = load_settings(database_url=url, home=home)
        t0 = time.perf_counter()
        with Writer(settings, name="bench", spool_path=Path(home) / "spool.sqlite") as writer:
            batch: list[Sample] = []
            for i in range(steps):
                t = start + timedelta(seconds=i * STEP_S)
                for k, tag in enumerate(ids):
                    value = 100 + 10 * k + 5 * math.sin(i / 360.0 + k) + (i * 7919 % 101) / 100
                    batch.append(Sample(t, tag, value))
                if len(batch) >= PUT_ROWS:
                    writer.put_samples(batch)
                    batch = []
            writer.put_samples(batch)
            writer.flush()
            stats = writer.stats
        rows = steps * TAGS
        if stats.rows_written != rows or stats.last_error:
            raise RuntimeError(f"writer did not write every row: {stats}")
        say(f"wrote {rows:,} rows with the writer in {time.perf_counter() - t0:.1f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) ts.sample")
        say(f"vacuum analyze {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        engine.refresh_all(conn, now=END)
        say(f"rollups refreshed up to {END:%Y-%m-%d} in {time.perf_counter() - t0:.1f} s")
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    return names


def draw(
    conn: psycopg.Connection, panel: dict[str, Any], state: ViewState, force: str | None
) -> tuple[float, Any]:
    t0 = time.perf_counter()
    fig, plan = render.timeseries_panel(conn, Scope(all_enterprises=True), panel, state, END, force)
    body = to_json_plotly(fig)  # the callback's answer is serialised too (as Dash does)
    return time.perf_counter() - t0, (fig, plan, len(body))


def run(url: str, days: int, reps: int, raw_reps: int) -> dict[str, Any]:
    names = load(url, days)
    span = timedelta(days=min(30, days))
    panel = {
        "id": "bench",
        "type": "timeseries",
        "tags": names,
        "thresholds": [{"value": 150, "color": "red"}],
    }
    state = ViewState(TimeRange.absolute(END - span, END))
    res: dict[str, Any] = {
        "rows": days * 86400 // STEP_S * TAGS,
        "tags": TAGS,
        "days": days,
        "step_s": STEP_S,
        "range_days": span.days,
    }
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        _, (fig_r, plan_r, size) = draw(conn, panel, state, None)
        _, (fig_w, plan_w, _) = draw(conn, panel, state, "ts.sample")
        if plan_r.relation == plan_w.relation or plan_r.bucket != plan_w.bucket:
            raise RuntimeError(f"unexpected plans {plan_r} / {plan_w}")
        points = 0
        for a, b in zip(fig_r["data"], fig_w["data"], strict=True):
            if a["name"] != b["name"] or a["x"] != b["x"]:
                raise RuntimeError(f"series differ: {a['name']}")
            for ya, yb in zip(a["y"], b["y"], strict=True):
                if not math.isclose(ya, yb, rel_tol=1e-9):
                    raise RuntimeError(f"values differ in {a['name']}: {ya} != {yb}")
            points += len(a["x"])
        say(
            f"answers equal: {points} points ({plan_r.relation} vs {plan_w.relation}, "
            f"{plan_r.bucket} buckets), figure JSON {size:,} bytes"
        )
        res.update(
            {
                "rollup_relation": plan_r.relation,
                "bucket_s": int(plan_r.bucket.total_seconds()),
                "points": points,
                "figure_json_bytes": size,
            }
        )
        rollup_t: list[float] = []
        raw_t: list[float] = []
        for i in range(max(reps, raw_reps)):
            order = [("rollup", None), ("raw", "ts.sample")]
            if i % 2:
                order.reverse()
            for kind, force in order:
                if kind == "rollup" and i < reps:
                    rollup_t.append(draw(conn, panel, state, force)[0])
                elif kind == "raw" and i < raw_reps:
                    raw_t.append(draw(conn, panel, state, force)[0])
    load_avg = os.getloadavg()[0]
    res["rollup"] = {
        "n": len(rollup_t),
        "p50_ms": round(statistics.median(rollup_t) * 1000, 1),
        "p95_ms": round(p95(rollup_t) * 1000, 1),
    }
    res["raw"] = {
        "n": len(raw_t),
        "p50_ms": round(statistics.median(raw_t) * 1000, 1),
        "p95_ms": round(p95(raw_t) * 1000, 1),
    }
    res["ratio_p95"] = round(res["raw"]["p95_ms"] / res["rollup"]["p95_ms"], 1)
    res["ratio_p50"] = round(res["raw"]["p50_ms"] / res["rollup"]["p50_ms"], 1)
    res["load_avg_1m_at_end"] = round(load_avg, 2)
    return res


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 days of data, few repetitions")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--reps", type=int, default=30, help="rollup-backed draws")
    ap.add_argument("--raw-reps", type=int, default=10, help="raw-sample draws")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    days, reps, raw_reps = (3, 5, 3) if args.quick else (args.days, args.reps, args.raw_reps)
    out = args.json or RESULTS_DIR / ("panel-quick.json" if args.quick else "panel.json")
    signal.signal(signal.SIGTERM, _interrupt)
    say(f"panel benchmark: {TAGS} tags x {days} days at {STEP_S} s, {reps}/{raw_reps} draws")
    try:
        with bench_database("1GB", say=say) as url:
            res = run(url, days, reps, raw_reps)
    except KeyboardInterrupt:
        say("interrupted; the scratch database is removed")
        return 130
    res.update(
        {
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "measured_at": datetime.now(UTC).isoformat(),
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(f"\n{'':10} {'p50 ms':>10} {'p95 ms':>10}")
    for kind in ("rollup", "raw"):
        print(f"{kind:10} {res[kind]['p50_ms']:>10} {res[kind]['p95_ms']:>10}")
    print(
        f"raw / rollup: p95 {res['ratio_p95']}x, p50 {res['ratio_p50']}x"
        f"  ({res['rollup_relation']}, {res['points']} points)"
    )
    print(f"JSON: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
