"""The OPC UA client side against the demo plant's real asyncua server on 127.0.0.1.

Servers and collectors run in their own threads and event loops, as in production. Every test
fails when it leaves a thread running or an asyncio task pending (asyncua's own convention).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.opcua.collector import OpcUaCollector
from ingest.opcua.transport import Connection, Security, TransportError, generate_certificate
from ingest.simulator.opcua_server import (
    APPLICATION_URI,
    PlantServer,
    ServerSecurity,
    node_id,
    serve_forever,
    write_map_csv,
)
from ingest.simulator.plant import NOMINAL, AlarmPoint, Operator, demo_points
from tests.conftest import find_free_port, make_enterprise
from tests.ingest.sinks import ListSink

TAGS = ["TEP-XMEAS02", "TEP-XMEAS07", "TEP-XMEAS09", "TEP-XMV10"]


def opcua_sink() -> ListSink:
    """OPC UA carries values, alarm events and health: anything else fails the test."""
    return ListSink(refuse={"vibration", "waveforms"})


# -- harness ------------------------------------------------------------------------------------


class LoopThread:
    """Runs ``main(stop)`` in a thread with its own event loop and records the tasks it left."""

    def __init__(self, name: str, main: Callable[[threading.Event], Awaitable[None]]) -> None:
        self.stop = threading.Event()
        self.leaked: list[str] = []
        self.error: BaseException | None = None
        self._main = main
        self.thread = threading.Thread(target=self._run, name=name)

    def _run(self) -> None:
        async def wrapper() -> None:
            await self._main(self.stop)
            await asyncio.sleep(0)  # let finished tasks' callbacks run
            me = asyncio.current_task()
            self.leaked = [repr(t) for t in asyncio.all_tasks() if t is not me and not t.done()]

        try:
            asyncio.run(wrapper())
        except BaseException as exc:
            self.error = exc

    def start(self) -> LoopThread:
        self.thread.start()
        return self

    def close(self, timeout: float = 60) -> None:  # asyncua's shutdown is slow on a loaded box
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop"
        if self.error is not None:
            raise self.error
        assert not self.leaked, f"{self.thread.name} left tasks: {self.leaked}"


def start_server(port: int, **kwargs: Any) -> tuple[LoopThread, PlantServer]:
    server = PlantServer(port, **kwargs)
    ready = threading.Event()
    lt = LoopThread(f"plant-server-{port}", lambda stop: server.run(stop, ready)).start()
    if not ready.wait(60):
        lt.close()
        raise AssertionError("the simulator server did not start")
    return lt, server


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_async(coro: Awaitable[Any]) -> Any:
    """Run a coroutine in a fresh loop and fail on tasks it leaves behind."""

    async def wrapper() -> Any:
        result = await coro
        await asyncio.sleep(0)
        me = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        assert not left, f"tasks left: {left}"
        return result

    return asyncio.run(wrapper())


pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def fast_chattering_points() -> list[AlarmPoint]:
    """The demo's alarm database with the chattering alarm made to chatter every few seconds,
    so a test of a few seconds sees ALM, RTN and ACK events."""
    mean, _, std = NOMINAL["TEP-XMEAS02"]
    fast = AlarmPoint("TEP-XMEAS02", "H", mean + std, "low")
    return [p for p in demo_points() if p.key != fast.key] + [fast]


@pytest.fixture(scope="module")
def plant() -> Iterator[PlantServer]:
    """One demo plant server for the module (10 s of plant time per second)."""
    # Quick acknowledgements (0.3-3 s at this speed), and some alarms left for the client.
    operator = Operator(1, ack_share=0.6, slow_share=0.0)
    lt, server = start_server(
        find_free_port(), seed=1, speedup=10, points=fast_chattering_points(), operator=operator
    )
    yield server
    lt.close()


# -- transport ----------------------------------------------------------------------------------


def test_read_subscribe_refresh_and_acknowledge(plant: PlantServer) -> None:
    async def main() -> dict[str, Any]:
        conn = Connection(plant.url)
        await conn.open()
        changes: list[Any] = []
        events: list[dict[str, Any]] = []
        try:
            read = await conn.read([node_id("TEP-XMEAS07")])
            refused = await conn.subscribe(
                [node_id(t) for t in TAGS] + ["ns=2;s=NO-SUCH-TAG"], changes.append, events.append
            )
            refreshed = await conn.condition_refresh()
            await asyncio.sleep(1.5)
            # Acknowledge an alarm the simulated operator has left alone (he may get there
            # first: then the server says so and the next one is tried).
            unacked: dict[str, dict[str, Any]] = {}
            for ev in events:
                unacked[ev["NodeId"]] = ev
            acked_by_client = None
            for cid, ev in unacked.items():
                if ev["AckedState/Id"] is False:
                    try:
                        await conn.acknowledge(cid, ev["EventId"], "seen in the test")
                    except Exception:  # noqa: S112 -- already acknowledged: try the next
                        continue
                    acked_by_client = cid
                    break
            await asyncio.sleep(0.6)
        finally:
            await conn.close()
        return {
            "read": read,
            "refused": refused,
            "refreshed": refreshed,
            "changes": changes,
            "events": events,
            "acked": acked_by_client,
        }

    r = run_async(main())
    (value,) = r["read"]
    assert value.node_id == "ns=2;s=TEP-XMEAS07" and 2600 < value.value < 2800
    assert value.status == 0 and value.source_time is not None
    assert r["refused"] == {"ns=2;s=NO-SUCH-TAG": "BadNodeIdUnknown"}
    assert r["refreshed"] is True
    assert {c.node_id for c in r["changes"]} == {node_id(t) for t in TAGS}
    events = r["events"]
    # The refresh brings the standing alarm (raised before we connected) at once.
    assert any(e["ConditionName"] == "TEP-XMEAS09.L" and e["ActiveState/Id"] for e in events)
    assert r["acked"] is not None
    ack = [e for e in events if e["NodeId"] == r["acked"] and e["AckedState/Id"]]
    assert ack and ack[-1]["ClientUserId"] == "opcua-client"


def _run_collector(url: str, sink: ListSink, **kwargs: Any) -> tuple[OpcUaCollector, LoopThread]:
    nodes = {node_id(t): i for i, t in enumerate(TAGS, start=1)}
    names = {f"TEP-XMEAS{i:02d}" for i in range(1, 42)} | {f"TEP-XMV{i:02d}" for i in range(1, 13)}
    extra = {n: 100 + i for i, n in enumerate(sorted(names - set(TAGS)))}

    def tag_for_source(source: str, name: str) -> int | None:
        return extra.get(name)

    collector = OpcUaCollector(
        url,
        nodes,
        sink,
        device_id=9,
        tag_for_source=tag_for_source,
        points_for=lambda tag_id: {"L": (77, "process")} if tag_id == 3 else {},
        backoff_start_s=0.2,
        backoff_max_s=1.0,
        timeout_s=2.0,
        **kwargs,
    )
    return collector, LoopThread("collector", collector.run_async).start()


def test_collector_turns_values_and_alarms_into_rows(plant: PlantServer) -> None:
    sink = opcua_sink()
    collector, lt = _run_collector(plant.url, sink)
    try:
        wait_for(
            lambda: (
                {"ALM", "ACK", "RTN"} <= {a.kind for a in sink.events}
                and len({s.tag_id for s in sink.samples}) == len(TAGS)
            ),
            20,
            "samples of every tag and ALM, ACK and RTN events",
        )
    finally:
        lt.close()
    assert all(s.quality == 192 and s.value is not None for s in sink.samples)
    assert all(s.time.tzinfo is not None for s in sink.samples)
    standing = [a for a in sink.events if a.tag_id == 3 and a.kind == "ALM"]
    assert standing and standing[0].condition == "L" and standing[0].limit_value == 120.5
    assert standing[0].point_id == 77 and standing[0].category == "process"
    assert standing[0].priority == "low" and standing[0].value is not None
    for a in sink.events:
        assert a.source == "opcua" and a.source_event_id and a.condition in ("H", "L", "HH", "LL")
        assert a.priority in ("emergency", "high", "low", "journal")
    acks = [a for a in sink.events if a.kind == "ACK"]
    assert all(a.operator for a in acks)
    # Online when connected, offline when stopped.
    assert [h.online for h in sink.health] == [True, False]
    assert all(h.device_kind == "collector" and h.device_id == 9 for h in sink.health)
    assert collector.stats.outages == 0 and collector.stats.sessions == 1
    assert sink.rejected == []


def test_collector_without_events_collects_values_only(plant: PlantServer) -> None:
    sink = opcua_sink()
    _, lt = _run_collector(plant.url, sink, events=False)
    try:
        wait_for(lambda: len(sink.samples) >= 8, 10, "samples")
    finally:
        lt.close()
    assert sink.events == []


def test_collector_survives_a_server_restart() -> None:
    port = find_free_port()
    url = f"opc.tcp://127.0.0.1:{port}"
    sink = opcua_sink()
    lt_server, _ = start_server(port, seed=2, speedup=10)
    collector, lt = _run_collector(url, sink)
    try:
        wait_for(lambda: len(sink.samples) >= 8, 10, "samples before the restart")
        lt_server.close()  # the server goes away ...
        wait_for(lambda: collector.online is False, 10, "the outage to be noticed")
        stopped_at = datetime.now(UTC)
        time.sleep(1.0)  # ... for a while: reconnect attempts fail and back off
        restarted_at = datetime.now(UTC)
        lt_server, _ = start_server(port, seed=3, speedup=10)  # ... and comes back
        wait_for(lambda: collector.stats.sessions == 2, 20, "the collector to reconnect")
        wait_for(
            lambda: sum(s.time > stopped_at for s in sink.samples) >= 8,
            10,
            "samples after the restart (subscription re-created)",
        )
    finally:
        lt.close()
        lt_server.close()
    online = [(h.online, h.time) for h in sink.health]
    assert [o for o, _ in online] == [True, False, True, False]  # up, outage, back, stopped
    gap_start, gap_end = online[1][1], online[2][1]
    assert gap_start <= stopped_at < gap_end
    assert collector.stats.outages == 1
    assert not [s for s in sink.samples if stopped_at < s.time < restarted_at]


# -- security -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    out = {name: d / f"{name}.pem" for name in ("server", "client", "stranger")}
    generate_certificate(
        out["server"], d / "server-key.pem", application_uri=APPLICATION_URI, server=True
    )
    generate_certificate(out["client"], d / "client-key.pem")
    generate_certificate(out["stranger"], d / "stranger-key.pem")
    out.update({f"{n}-key": d / f"{n}-key.pem" for n in ("server", "client", "stranger")})
    return out


def test_sign_and_sign_and_encrypt_with_certificates(certs: dict[str, Path]) -> None:
    port = find_free_port()
    url = f"opc.tcp://127.0.0.1:{port}"
    security = ServerSecurity(
        certs["server"], certs["server-key"], ("Sign", "SignAndEncrypt"), (certs["client"],)
    )
    # serve_forever, as ``hazwatch simulate`` runs it (a thread and a stop event).
    stop, ready = threading.Event(), threading.Event()
    server_thread = threading.Thread(
        target=serve_forever,
        args=(port, stop),
        kwargs={"seed": 1, "security": security, "ready": ready},
        name="serve-forever",
    )
    server_thread.start()
    assert ready.wait(60), "the simulator server did not start"

    async def try_connect(sec: Security) -> str:
        conn = Connection(url, sec, timeout_s=3)
        try:
            await conn.open()
        except TransportError as exc:
            return f"refused: {exc}"
        try:
            (value,) = await conn.read([node_id("TEP-XMEAS07")])
            return f"read {value.value:.0f}"
        finally:
            await conn.close()

    try:
        for mode in ("Sign", "SignAndEncrypt"):
            sec = Security(mode, certs["client"], certs["client-key"])  # type: ignore[arg-type]
            assert run_async(try_connect(sec)).startswith("read 27"), mode
        # The server offers no unsecured endpoint and trusts only the client's certificate.
        assert run_async(try_connect(Security())).startswith("refused")
        stranger = Security("Sign", certs["stranger"], certs["stranger-key"])
        assert run_async(try_connect(stranger)).startswith("refused")
    finally:
        stop.set()
        server_thread.join(20)
    assert not server_thread.is_alive()


def test_security_needs_certificate_and_key() -> None:
    with pytest.raises(ValueError, match="certificate"):
        Security("Sign")
    with pytest.raises(ValueError, match="mode"):
        Security("Encrypt")  # type: ignore[arg-type]


# -- the command line, end to end ---------------------------------------------------------------


def _env(db_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    env.update({"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(home)})
    return env


def test_cli_collects_into_the_database(
    plant: PlantServer, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _, name = make_enterprise(conn, "OPC UA test plant")
    map_file = tmp_path / "tep.csv"
    write_map_csv(map_file, TAGS)
    exe = Path(sys.executable).parent / "hazwatch"
    # Popen rather than run_cli: the collector runs until it gets SIGTERM.
    proc = subprocess.Popen(
        [str(exe), "collect", "opcua", "--endpoint", plant.url, "--map", str(map_file),
         "--enterprise", name],
        env=_env(db_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "collecting 4 nodes and alarm events" in err
    assert "stopped:" in err
    rows = conn.execute(
        "SELECT t.name, count(*), min(s.quality), max(s.quality) FROM ts.sample s"
        " JOIN registry.tag t ON t.id = s.tag_id JOIN registry.enterprise e"
        " ON e.id = t.enterprise_id WHERE e.name = %s GROUP BY t.name",
        (name,),
    ).fetchall()
    assert {r[0] for r in rows} == set(TAGS)
    assert all(r[1] >= 1 and r[2] == r[3] == 192 for r in rows)
    tags = dict(
        conn.execute(
            "SELECT t.name, t.source_address FROM registry.tag t JOIN registry.enterprise e"
            " ON e.id = t.enterprise_id WHERE e.name = %s",
            (name,),
        ).fetchall()
    )
    assert tags["TEP-XMEAS07"] == "ns=2;s=TEP-XMEAS07"
    events = conn.execute(
        "SELECT t.name, a.kind, a.condition, a.priority, a.source FROM alarm.event a"
        " JOIN registry.tag t ON t.id = a.tag_id JOIN registry.enterprise e"
        " ON e.id = t.enterprise_id WHERE e.name = %s",
        (name,),
    ).fetchall()
    assert ("TEP-XMEAS09", "ALM", "L", "low", "opcua") in events  # the standing alarm
    health = conn.execute(
        "SELECT h.online FROM ts.device_health h JOIN registry.gateway g ON g.id = h.device_id"
        " JOIN registry.enterprise e ON e.id = g.enterprise_id"
        " WHERE e.name = %s AND h.device_kind = 'collector' ORDER BY h.time",
        (name,),
    ).fetchall()
    assert [h[0] for h in health] == [True, False]
