"""Alarm KPI benchmark (issue 7, A19): the KPI page's counting queries from the rollups against
the same KPIs computed from the raw records, in the same run.

One run, on a scratch TimescaleDB of its own (``hazwatch.db.scratch``: initdb in a temp dir, a
free port), or on a fresh database of ``HAZWATCH_DATABASE_URL`` when that is set; everything is
dropped at the end, on Ctrl-C (and SIGTERM) and on errors too.

    .venv/bin/python bench/alarm_kpis.py                 # 200 units x 365 days, ~10 M records
    .venv/bin/python bench/alarm_kpis.py --quick         # 10 units x 35 days: under a minute
    .venv/bin/python bench/alarm_kpis.py --units 100 --days 180 [--json PATH]

Steps:

1. data: alarm.record rows generated server-side (``INSERT … SELECT generate_series``, one
   statement per month in time order): per unit about 5.7 alarms an hour at random times, ten
   enterprises' worth of units, 50 tags a unit, four shift teams per enterprise rotating every
   12 h, priorities about 5/15/80 % emergency/high/low, 2 % journal (not annunciated), 1 %
   excluded, 90 % acknowledged within 0-60 s, returns mostly within minutes, 0.3 % after more
   than a day, 0.1 % never. Before the first refresh the rollups' invalidation threshold is
   ``-infinity``, so no trigger fires during the load. ``VACUUM (ANALYZE)`` afterwards.
2. refresh of alarm.record_10m, _1h, _1d with ``now`` = end of the data.
3. the KPI page's counting query, as ``dashboards/pages/alarm_kpis.py`` issues it (totals,
   by unit and by shift team in one ``counting_grouped`` call), for two windows: (a) all
   units, the whole period; (b) one enterprise, the last 30 days with ragged edges (start and
   end not on 10-minute boundaries). Baseline: the same function with ``levels=()``, i.e. the
   same SQL over alarm.record alone (it must group by unit, shift team and 10-minute bucket
   for the peak). 3 raw repetitions (no warm-up: each one reads the whole table anyway) and
   one warm-up plus 10 rollup repetitions; medians. The results of both are compared and the
   run stops if they differ.

Prints a table; writes ``bench/results/alarm_kpis.json`` (``alarm_kpis-quick.json`` with
``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from analytics.alarms.kpis import counting_grouped
from analytics.alarms.queries import Filters
from hazwatch.db.scratch import bench_database
from hazwatch.rollups.catalog import ALARM_1D, ALARM_1H, ALARM_10M, ALARM_ROLLUPS
from hazwatch.rollups.engine import refresh

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_START = datetime(2025, 1, 1, tzinfo=UTC)
UNITS_PER_ENTERPRISE = 20
TAGS_PER_UNIT = 50
PER_UNIT_HOUR = 5.7

_GENERATE = """
INSERT INTO alarm.record (raised, tag_id, condition, enterprise_id, unit_id, shift_team_id,
                          priority, alarm_type, limit_value, value, acked, returned, cleared,
                          annunciated, excluded)
SELECT raised, tag_id, condition, enterprise_id, unit_id,
       enterprise_id * 4 + mod(floor(extract(epoch FROM raised) / 43200)::int, 4),
       priority, alarm_type, 80, 80 + r4 * 10, acked, returned,
       CASE WHEN acked IS NOT NULL AND returned IS NOT NULL THEN greatest(acked, returned) END,
       priority <> 'journal', r5 < 0.01
FROM (
    SELECT raised, tag_id, condition, enterprise_id, unit_id, priority, alarm_type, r4, r5,
           CASE WHEN r1 < 0.9 THEN raised + r2 * interval '60 seconds' END AS acked,
           CASE WHEN r3 < 0.001 THEN NULL
                WHEN r3 < 0.004 THEN raised + (24 + r2 * 24) * interval '1 hour'
                WHEN r3 < 0.2 THEN raised + r2 * interval '2 hours'
                ELSE raised + r2 * interval '20 minutes' END AS returned
    FROM (
        SELECT %(lo)s::timestamptz + random() * (%(hi)s::timestamptz - %(lo)s::timestamptz)
                   AS raised,
               u * %(tags)s + floor(random() * %(tags)s)::int AS tag_id,
               (ARRAY['H', 'L', 'HH', 'LL'])[1 + floor(random() * 4)::int] AS condition,
               1 + u / %(per_ent)s AS enterprise_id, u AS unit_id,
               CASE WHEN p < 0.05 THEN 'emergency' WHEN p < 0.20 THEN 'high'
                    WHEN p < 0.98 THEN 'low' ELSE 'journal' END AS priority,
               (ARRAY['process', 'process', 'equipment', 'instrument', 'safety'])
                   [1 + floor(random() * 5)::int] AS alarm_type,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
        FROM generate_series(1, %(units)s) AS u,
             generate_series(1, %(n)s) AS i,
             LATERAL (SELECT random() + i * 0 + u * 0 AS p) q
    ) a
) b
ORDER BY raised
"""


def _say(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def _months(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    lo = start
    while lo < end:
        nxt = (lo.replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append((lo, min(nxt, end)))
        lo = nxt
    return out


def load(conn: psycopg.Connection, units: int, days: int) -> dict[str, Any]:
    end = DATA_START + timedelta(days=days)
    rows = 0
    t = time.monotonic()
    for lo, hi in _months(DATA_START, end):
        n = round(PER_UNIT_HOUR * (hi - lo).total_seconds() / 3600)
        cur = conn.execute(
            _GENERATE,
            {"lo": lo, "hi": hi, "units": units, "n": n, "tags": TAGS_PER_UNIT,
             "per_ent": UNITS_PER_ENTERPRISE},
        )  # fmt: skip
        rows += cur.rowcount
        _say(f"  {lo:%Y-%m}: {rows:,} records, {rows / (time.monotonic() - t):,.0f}/s")
    insert_s = time.monotonic() - t
    logged = conn.execute("SELECT count(*) FROM _hazwatch.invalidation_log").fetchone()
    t = time.monotonic()
    conn.execute("VACUUM (ANALYZE) alarm.record")
    return {
        "records": rows,
        "insert_s": round(insert_s, 1),
        "records_per_s": round(rows / insert_s),
        "vacuum_analyze_s": round(time.monotonic() - t, 1),
        "invalidations_logged": int(logged[0]) if logged else None,
        "data_end": end.isoformat(),
    }


def timed(fn: Callable[[], Any], reps: int, warm_up: bool = True) -> tuple[list[float], Any]:
    if warm_up:
        fn()
    times = []
    result = None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def page_queries(
    conn: psycopg.Connection, lo: datetime, hi: datetime, f: Filters, now: datetime, raw: bool
) -> dict[str | None, dict[Any, Any]]:
    """What the KPI page asks for its counting KPIs: totals, by unit, by shift team."""
    levels = () if raw else (ALARM_1D, ALARM_1H, ALARM_10M)
    return counting_grouped(conn, lo, hi, (None, "unit", "shift_team"), filters=f, now=now,
                            levels=levels)  # fmt: skip


def run(units: int, days: int, quick: bool, out: Path) -> dict[str, Any]:
    started = datetime.now(UTC)
    res: dict[str, Any] = {
        "benchmark": "bench/alarm_kpis.py",
        "started_at": started.isoformat(timespec="seconds"),
        "config": {"units": units, "days": days, "quick": quick,
                   "data_start": DATA_START.isoformat()},
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "load_average_1m_at_start": os.getloadavg()[0]},
    }  # fmt: skip
    with bench_database(say=_say) as url, psycopg.connect(url, autocommit=True) as conn:
        conn.prepare_threshold = None  # ad-hoc queries, planned with their values
        row = conn.execute(
            "SELECT version(), extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        res["environment"]["postgres"], res["environment"]["timescaledb"] = row or (None, None)
        _say(f"loading {units} units x {days} days of alarm records")
        res["data"] = load(conn, units, days)
        end = datetime.fromisoformat(res["data"]["data_end"])
        t = time.monotonic()
        refreshed = {}
        for rollup in ALARM_ROLLUPS:
            r = refresh(conn, rollup, now=end)
            refreshed[rollup.name] = {"seconds": round(r.duration_s, 1),
                                      "rows": r.materialized_rows}  # fmt: skip
            _say(f"refreshed {rollup.name}: {r.materialized_rows:,} rows, {r.duration_s:.1f} s")
        res["refresh"] = {"total_s": round(time.monotonic() - t, 1), **refreshed}
        now = end + timedelta(days=1)
        windows = {
            "all_units_whole_period": (DATA_START, end, Filters()),
            "one_enterprise_30_days_ragged": (
                end - timedelta(days=30, minutes=-7, seconds=-13),
                end - timedelta(minutes=23),
                Filters(enterprise_id=1),
            ),
        }
        res["queries"] = {}
        for name, (lo, hi, f) in windows.items():
            args = (conn, lo, hi, f, now)
            raw_t, raw = timed(lambda a=args: page_queries(*a, raw=True), 3, warm_up=False)
            roll_t, rolled = timed(lambda a=args: page_queries(*a, raw=False), 10)
            if raw != rolled:
                raise SystemExit(f"{name}: rollup KPIs differ from the records' KPIs")
            alarms = rolled[None][None].alarms if None in rolled[None] else 0
            q = {
                "window": [lo.isoformat(), hi.isoformat()],
                "alarms_counted": alarms,
                "raw_median_s": round(statistics.median(raw_t), 4),
                "rollup_median_s": round(statistics.median(roll_t), 4),
                "raw_all_s": [round(x, 4) for x in raw_t],
                "rollup_all_s": [round(x, 4) for x in roll_t],
                "results_equal": True,
            }
            q["speedup"] = round(q["raw_median_s"] / q["rollup_median_s"], 1)
            res["queries"][name] = q
            _say(f"{name}: raw {q['raw_median_s']:.3f} s, rollups {q['rollup_median_s']:.4f} s"
                 f" -> {q['speedup']}x ({alarms:,} alarms)")  # fmt: skip
    res["environment"]["load_average_1m_at_end"] = os.getloadavg()[0]
    res["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    return res


def _table(res: dict[str, Any]) -> None:
    d = res["data"]
    print(f"\nrecords {d['records']:,} in {d['insert_s']} s ({d['records_per_s']:,}/s); "
          f"refresh {res['refresh']['total_s']} s")  # fmt: skip
    print(f"{'window':<32} {'alarms':>12} {'raw s':>9} {'rollups s':>10} {'ratio':>7}")
    for name, q in res["queries"].items():
        print(f"{name:<32} {q['alarms_counted']:>12,} {q['raw_median_s']:>9.3f} "
              f"{q['rollup_median_s']:>10.4f} {q['speedup']:>6}x")  # fmt: skip


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--units", type=int, default=None, help="units (default 200; 10 --quick)")
    p.add_argument("--days", type=int, default=None, help="days (default 365; 35 --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run on small data")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    a = p.parse_args(argv)
    units = a.units or (10 if a.quick else 200)
    days = a.days or (35 if a.quick else 365)
    if units < 1 or days < 31:
        p.error("--units must be >= 1 and --days >= 31 (the ragged window is 30 days)")
    out = a.json or RESULTS_DIR / ("alarm_kpis-quick.json" if a.quick else "alarm_kpis.json")
    signal.signal(signal.SIGTERM, _stop)
    try:
        res = run(units, days, a.quick, out)
    except KeyboardInterrupt:
        print("interrupted; scratch database removed", file=sys.stderr)
        return 130
    _table(res)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
