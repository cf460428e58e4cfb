"""OPC UA latency benchmark: from a value change on the server to its row in ts.sample.

One run, on a scratch TimescaleDB of its own (initdb in a temp dir, a free port, as the test
suite makes one), or on a fresh database of ``HAZWATCH_DATABASE_URL`` when that is set;
everything is removed at the end, on Ctrl-C and on errors too.

    .venv/bin/python bench/opcua_latency.py                # 200 changes per configuration, ~70 s
    .venv/bin/python bench/opcua_latency.py --quick        # 20 changes each: < 30 s
    .venv/bin/python bench/opcua_latency.py --changes 500 [--spacing-ms 100 200] [--json PATH]

The chain measured is the production one, in one process: a minimal asyncua server on a free
127.0.0.1 port with one Double variable (a server of its own rather than the demo plant, so that
the benchmark alone decides when the value changes), the real ``OpcUaCollector`` subscribed to it
(no A&C events: this is about values), handing its rows to the real ``ingest.writer.Writer``, which
COPYs them into ``ts.sample``. The enterprise is created with ``registers.insert``, the tags with
``TagResolver`` and the gateway as ``hazwatch collect opcua`` does.

Each change: ``t0`` is taken just before the benchmark writes a new, unique value into the
variable (server side, ``write_attribute_value``, with that instant as source timestamp); a
separate connection polls ``ts.sample`` every ~2 ms for that (tag_id, value) row; latency =
the poll that first sees it (after the fetch) - ``t0``. Changes follow each other 100-200 ms
apart (uniformly random, so they do not keep a fixed phase to the publishing, collector and
writer timers) whether or not the previous one is visible yet, as a changing process value
would. Before each configuration, five untimed changes warm the path up.

Two configurations in the same run, against the same server and database:

a. **defaults**: the collector's default publishing interval (250 ms, also the CLI's default)
   and the writer's ``flush_interval_s`` from the settings defaults (0.5 s);
b. **low-latency**: publishing interval 50 ms, writer ``flush_interval_s`` 0.1.

The collector's own hand-over period (``flush_s``, 0.2 s by default) is the same in both. A sink
between collector and writer records when each row is handed to the writer, which splits the
latency into "to writer" (OPC UA publish + collector hand-over) and "in writer" (batching wait +
COPY + commit + the poll). Prints a table with p50 / p95 / max per configuration; writes
``bench/results/opcua_latency.json`` (``opcua_latency-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import math
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from asyncua import Server, ua

from hazwatch import registers
from hazwatch.db.scratch import (
    bench_database,
    find_free_port,
    scratch_dir,
)
from hazwatch.registers import Actor
from hazwatch.settings import IngestSettings, load_settings
from ingest.opcua.cli import gateway_id
from ingest.opcua.collector import OpcUaCollector
from ingest.tags import TagResolver
from ingest.types import (
    AlarmEvent,
    DeviceHealth,
    Rejected,
    Sample,
    VibrationOverall,
    Waveform,
)
from ingest.writer import Writer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ACTOR = Actor(None, "bench:opcua-latency")
REGION = "太原市"
VARIABLE = "BENCH-LATENCY"
WARMUP = 5
POLL_S = 0.002
#: A change not visible after this long fails the run (the defaults need about 1 s at most).
GIVE_UP_S = 15.0
#: The collector's default publishing interval (``OpcUaCollector`` and the CLI).
DEFAULT_PUBLISHING_MS = 250.0
#: The collector's default hand-over period to the sink.
COLLECTOR_FLUSH_S = 0.2

_STARTED = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {msg}", flush=True)


@dataclass(frozen=True)
class Config:
    changes: int
    spacing_ms: tuple[float, float]
    quick: bool
    seed: int


@dataclass(frozen=True)
class Setup:
    """One configuration of the chain."""

    name: str
    publishing_ms: float
    writer_flush_interval_s: float
    collector_flush_s: float = COLLECTOR_FLUSH_S

    @property
    def timer_bound_ms(self) -> float:
        """Worst case of the three timers alone: a change just after a publish, handed over
        just after a collector flush, put just after the writer's batch was cut."""
        return (
            self.publishing_ms + 1000 * self.collector_flush_s + 1000 * self.writer_flush_interval_s
        )


SETUPS = (
    Setup("defaults", DEFAULT_PUBLISHING_MS, IngestSettings().flush_interval_s),
    Setup("low-latency", 50.0, 0.1),
)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--changes", type=int, default=None, help="changes per configuration (200; 20 quick)"
    )
    p.add_argument(
        "--spacing-ms",
        type=float,
        nargs=2,
        default=(100.0, 200.0),
        metavar=("MIN", "MAX"),
        help="time between two changes, uniformly random (default 100 200)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 20 changes each")
    p.add_argument("--seed", type=int, default=1, help="seed of the spacing (default 1)")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    a = p.parse_args(argv)
    changes = a.changes or (20 if a.quick else 200)
    lo, hi = a.spacing_ms
    if changes < 1:
        p.error("--changes must be at least 1")
    if not 0 < lo <= hi:
        p.error("--spacing-ms needs 0 < MIN <= MAX")
    cfg = Config(changes=changes, spacing_ms=(lo, hi), quick=a.quick, seed=a.seed)
    out = a.json or RESULTS_DIR / ("opcua_latency-quick.json" if a.quick else "opcua_latency.json")
    return cfg, out


# -- the database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    enterprise_id: int
    device_id: int
    tags: dict[str, int]  # setup name -> tag id


def register(url: str, endpoint: str, port: int, node: str) -> Registry:
    """An enterprise, its OPC UA gateway and one tag per configuration (all on ``node``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        region = registers.resolve(conn, "region", REGION)
        enterprise_id = registers.insert(
            conn,
            ACTOR,
            "enterprise",
            {"name": "OPC UA latency benchmark", "region_id": region},
            reason="benchmark",
        )
        resolver = TagResolver(conn, enterprise_id, ACTOR)
        tags: dict[str, int] = {}
        for s in SETUPS:
            tag_id = resolver.id_for(
                f"{VARIABLE}-{s.name.upper()}", source="opcua", source_address=node
            )
            assert tag_id is not None
            tags[s.name] = tag_id
        device_id = gateway_id(conn, enterprise_id, endpoint, "127.0.0.1", port)
    return Registry(enterprise_id, device_id, tags)


# -- the OPC UA server -----------------------------------------------------------------------


class ValueServer:
    """A minimal asyncua server with one Double variable, in a thread with its own loop;
    ``write`` changes the value from any other thread.

    with ValueServer(find_free_port()) as server:
        server.write(1.0, datetime.now(UTC))
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"opc.tcp://127.0.0.1:{port}"
        self.node = f"ns=2;s={VARIABLE}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._server: Server | None = None
        self._nodeid: ua.NodeId | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-opcua-server", daemon=True)

    def __enter__(self) -> ValueServer:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            self.close()
            raise RuntimeError(f"the OPC UA server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        srv = self._server = Server()
        await srv.init()
        srv.set_endpoint(self.url + "/")
        srv.set_server_name("hazwatch OPC UA latency benchmark")
        srv.set_identity_tokens([ua.AnonymousIdentityToken])
        srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await srv.register_namespace("urn:hazwatch:bench")
        nodeid = ua.NodeId(VARIABLE, ns)
        var = await srv.nodes.objects.add_variable(
            nodeid, ua.QualifiedName(VARIABLE, ns), 0.0, ua.VariantType.Double
        )
        await var.set_writable()
        self.node = nodeid.to_string()
        self._nodeid = nodeid
        self._stop = asyncio.Event()
        await srv.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await srv.stop()
            # asyncua keeps connected clients' sessions after stop(); end them too.
            sessions = getattr(srv.iserver, "_external_sessions", {})
            for session in list(sessions.values()):
                await session.close_session(delete_subs=True)

    def write(self, value: float, when: datetime) -> None:
        """Set the value with ``when`` as source and server timestamp; returns once written."""
        assert self._server is not None and self._nodeid is not None
        dv = ua.DataValue(
            ua.Variant(value, ua.VariantType.Double), SourceTimestamp=when, ServerTimestamp=when
        )
        coro = self._server.write_attribute_value(self._nodeid, dv)
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    def close(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


# -- the sink between collector and writer ---------------------------------------------------


class TimingSink:
    """Passes everything on to the writer and notes when each (tag, value) was handed over."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.handed: dict[tuple[int, float], float] = {}

    def put_samples(self, rows: list[Sample]) -> None:
        now = time.perf_counter()
        for r in rows:
            self.handed.setdefault((r.tag_id, r.value), now)
        self.writer.put_samples(rows)

    def put_alarm_events(self, rows: list[AlarmEvent]) -> None:
        self.writer.put_alarm_events(rows)

    def put_vibration(self, rows: list[VibrationOverall]) -> None:
        self.writer.put_vibration(rows)

    def put_waveforms(self, rows: list[Waveform]) -> None:
        self.writer.put_waveforms(rows)

    def put_health(self, rows: list[DeviceHealth]) -> None:
        self.writer.put_health(rows)

    def reject(self, item: Rejected) -> None:
        self.writer.reject(item)


# -- one configuration -----------------------------------------------------------------------


@dataclass
class Change:
    value: float
    t0: float  # perf_counter just before the write
    when: datetime  # the source timestamp given
    handed: float | None = None  # perf_counter when handed to the writer
    visible: float | None = None  # perf_counter when a poll first saw the row
    time_kept: bool = False  # the row's time is the source timestamp

    @property
    def latency_ms(self) -> float:
        assert self.visible is not None
        return 1000 * (self.visible - self.t0)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def measure(
    poll: psycopg.Connection[Any],
    server: ValueServer,
    sink: TimingSink,
    tag_id: int,
    values: Iterator[float],
    n: int,
    rng: random.Random,
    cfg: Config,
) -> list[Change]:
    """Write ``n`` changes 100-200 ms apart (pipelined) and poll until each one is visible."""
    lo, hi = cfg.spacing_ms
    pending: dict[float, Change] = {}
    done: list[Change] = []
    written = 0
    next_write = time.perf_counter()
    query = "SELECT value, time FROM ts.sample WHERE tag_id = %s AND time >= %s"
    while written < n or pending:
        now = time.perf_counter()
        if written < n and now >= next_write:
            value = next(values)
            t0 = time.perf_counter()
            when = datetime.now(UTC)
            server.write(value, when)
            pending[value] = Change(value, t0, when)
            written += 1
            next_write = t0 + rng.uniform(lo, hi) / 1000
        if pending:
            oldest = min(c.when for c in pending.values())
            rows = poll.execute(query, (tag_id, oldest)).fetchall()
            seen = time.perf_counter()
            for value, when in rows:
                change = pending.pop(value, None)
                if change is None:
                    continue
                change.visible = seen
                change.time_kept = when == change.when
                change.handed = sink.handed.get((tag_id, value))
                done.append(change)
            stale = [c for c in pending.values() if seen - c.t0 > GIVE_UP_S]
            if stale:
                raise RuntimeError(
                    f"value {stale[0].value} not in ts.sample after {GIVE_UP_S:.0f} s"
                )
        time.sleep(POLL_S)
    return sorted(done, key=lambda c: c.t0)


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(xs)
    if not s:
        return math.nan
    k = (len(s) - 1) * q
    f = math.floor(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def summary(xs: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(xs, 0.50), 1),
        "p95": round(percentile(xs, 0.95), 1),
        "max": round(max(xs), 1),
        "min": round(min(xs), 1),
        "mean": round(statistics.fmean(xs), 1),
    }


def run_setup(
    url: str,
    server: ValueServer,
    reg: Registry,
    setup: Setup,
    cfg: Config,
    work: Path,
    values: Iterator[float],
) -> dict[str, Any]:
    tag_id = reg.tags[setup.name]
    settings = load_settings(
        database_url=url,
        home=str(work),
        ingest=IngestSettings(flush_interval_s=setup.writer_flush_interval_s),
    )
    spool = work / f"opcua-latency-{setup.name}.sqlite"
    rng = random.Random(f"{cfg.seed}-{setup.name}")  # noqa: S311 - spacing, not security
    with (
        Writer(settings, name=f"bench-opcua-{setup.name}", spool_path=spool) as writer,
        psycopg.connect(url, autocommit=True) as poll,
    ):
        wait_until(lambda: writer.stats.db_up, 30, "the writer's connection")
        sink = TimingSink(writer)
        collector = OpcUaCollector(
            server.url,
            {server.node: tag_id},
            sink,
            device_id=reg.device_id,
            events=False,
            publishing_ms=setup.publishing_ms,
            flush_s=setup.collector_flush_s,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=collector.run, args=(stop,), name=f"bench-collector-{setup.name}"
        )
        thread.start()
        try:
            wait_until(lambda: collector.stats.sessions >= 1, 30, "the collector's session")
            measure(poll, server, sink, tag_id, values, WARMUP, rng, cfg)
            say(f"  {setup.name}: warmed up, {cfg.changes} changes")
            changes = measure(poll, server, sink, tag_id, values, cfg.changes, rng, cfg)
        finally:
            stop.set()
            thread.join(30)
        writer.flush(30)
        wstats, cstats = writer.stats, collector.stats
    if wstats.last_error or wstats.spool_depth or wstats.rows_quarantined or cstats.rejected:
        raise RuntimeError(f"{setup.name}: the chain was not clean: {wstats} {cstats}")
    lat = [c.latency_ms for c in changes]
    handed = [c for c in changes if c.handed is not None]
    to_writer = [1000 * (c.handed - c.t0) for c in handed if c.handed is not None]
    in_writer = [
        1000 * (c.visible - c.handed)
        for c in handed
        if c.visible is not None and c.handed is not None
    ]
    return {
        "name": setup.name,
        "publishing_ms": setup.publishing_ms,
        "collector_flush_s": setup.collector_flush_s,
        "writer_flush_interval_s": setup.writer_flush_interval_s,
        "timer_bound_ms": setup.timer_bound_ms,
        "changes": len(changes),
        "latency_ms": summary(lat),
        "to_writer_ms": summary(to_writer),
        "in_writer_ms": summary(in_writer),
        "source_time_kept": sum(c.time_kept for c in changes),
        "collector_samples": cstats.samples,
        "writer_rows_written": wstats.rows_written,
        "over_timer_bound": sum(x > setup.timer_bound_ms for x in lat),
        "load_1m": round(os.getloadavg()[0], 2),  # the machine's, at the end (others share it)
        "latencies_ms": [round(x, 1) for x in lat],
    }


# -- the run ---------------------------------------------------------------------------------


def run(url: str, cfg: Config) -> dict[str, Any]:
    work = scratch_dir("hazwatch-bench-opcua-")
    results: list[dict[str, Any]] = []
    values = (float(i) for i in itertools.count(1))  # unique across setups
    try:
        with ValueServer(find_free_port()) as server:
            say(f"OPC UA server on {server.url}, variable {server.node}")
            reg = register(url, server.url, server.port, server.node)
            for setup in SETUPS:
                say(
                    f"{setup.name}: publishing {setup.publishing_ms:.0f} ms, collector flush"
                    f" {setup.collector_flush_s} s, writer flush_interval_s"
                    f" {setup.writer_flush_interval_s}"
                )
                res = run_setup(url, server, reg, setup, cfg, work, values)
                lat = res["latency_ms"]
                say(
                    f"  {setup.name}: p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms,"
                    f" max {lat['max']:.0f} ms"
                )
                results.append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "opcua_latency",
        "config": asdict(cfg),
        "method": (
            "t0 = perf_counter just before a server-side write of a unique value (source"
            " timestamp = that instant); visible = end of the first ~2 ms poll of ts.sample"
            " (own connection) that returns the (tag_id, value) row; latency = visible - t0."
            " Changes 100-200 ms apart, pipelined; 5 untimed warm-up changes per setup."
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "setups": results,
    }


def table(res: dict[str, Any]) -> str:
    head = (
        f"{'setup':<12}{'publish ms':>11}{'coll. s':>8}{'writer s':>9}{'n':>5}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'to writer p50':>15}{'in writer p50':>15}"
        f"{'load 1m':>9}"
    )
    lines = [head]
    for s in res["setups"]:
        lat = s["latency_ms"]
        lines.append(
            f"{s['name']:<12}{s['publishing_ms']:>11.0f}{s['collector_flush_s']:>8.2f}"
            f"{s['writer_flush_interval_s']:>9.2f}{s['changes']:>5}"
            f"{lat['p50']:>8.0f}{lat['p95']:>8.0f}{lat['max']:>8.0f}"
            f"{s['to_writer_ms']['p50']:>15.0f}{s['in_writer_ms']['p50']:>15.0f}"
            f"{s['load_1m']:>9.2f}"
        )
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    cfg, out = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # asyncua warns that the server revised the subscription's lifetime count: harmless here.
    logging.getLogger("asyncua.client.client").setLevel(logging.ERROR)
    say(f"OPC UA latency benchmark: {cfg}")
    try:
        with bench_database(say=say) as url:
            res = run(url, cfg)
    except KeyboardInterrupt:
        say("interrupted; scratch database removed")
        return 130
    res["wall_s"] = round(time.monotonic() - _STARTED, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print("\nresults (latency from the OPC UA write to the row visible in ts.sample)")
    print(table(res), flush=True)
    print(f"\nJSON: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
