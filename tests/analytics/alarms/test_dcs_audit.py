"""A17 against a real OPC UA server: an asyncua server started here on a free port holds the
alarm points as Part 9 condition instances (ExclusiveLimitAlarmType); one limit differs from
the ledger, one alarm is disabled, one suppressed; a change made in the DCS outside the
approval workflow is found on the next audit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import psycopg
import pytest
from asyncua import Server, ua

from analytics.alarms.dcs_audit import (
    AuditError,
    DcsReading,
    LedgerPoint,
    compare,
    findings,
    node_string,
    run_audit,
)
from analytics.alarms.ledger import request_change
from tests.analytics.alarms.analysis_fixtures import make_site
from tests.conftest import find_free_port
from workflows import approvals

pytestmark = pytest.mark.usefixtures("no_leaked_threads")
NS_URI = "urn:hazwatch:test:dcs"
LIMITS = {"HH": "HighHighLimit", "H": "HighLimit", "L": "LowLimit", "LL": "LowLowLimit"}


class Dcs:
    """An asyncua server in its own thread and event loop; ``set`` writes attributes."""

    def __init__(self, port: int) -> None:
        self.url = f"opc.tcp://127.0.0.1:{port}"
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = Server()
        self.ns = 0

    def call(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout=60)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.url + "/")
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await self.server.register_namespace(NS_URI)
        await self.server.start()

    def condition(self, tag: str, cond: str, **attrs: Any) -> None:
        self.call(self._condition(tag, cond, attrs))

    async def _condition(self, tag: str, cond: str, attrs: dict[str, Any]) -> None:
        nid = ua.NodeId(node_string("{tag}.{condition}", tag, cond), self.ns)
        await self.server.nodes.objects.add_object(
            nid, ua.QualifiedName(f"{tag}.{cond}", self.ns), ua.ObjectIds.ExclusiveLimitAlarmType
        )
        await self._set(tag, cond, attrs)

    def set(self, tag: str, cond: str, **attrs: Any) -> None:
        self.call(self._set(tag, cond, attrs))

    async def _set(self, tag: str, cond: str, attrs: dict[str, Any]) -> None:
        node = self.server.get_node(ua.NodeId(f"{tag}.{cond}", self.ns))
        paths = {
            "limit": ([f"0:{LIMITS[cond]}"], ua.VariantType.Double),
            "enabled": (["0:EnabledState", "0:Id"], ua.VariantType.Boolean),
            "severity": (["0:Severity"], ua.VariantType.UInt16),
            "suppressed": (["0:SuppressedState", "0:Id"], ua.VariantType.Boolean),
        }
        for key, value in attrs.items():
            path, vtype = paths[key]
            child = await node.get_child(path)
            await child.write_value(ua.Variant(value, vtype))

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def dcs() -> Iterator[Dcs]:
    server = Dcs(find_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_compare_pure() -> None:
    """Ledger TI-1.HH 90 high enabled. DCS 95, severity 700 (high), enabled → one limit
    mismatch. Previous audit read 90 there: changed to a value the ledger lacks → an
    unauthorised change too. Had the DCS gone to 90 (the ledger), no finding at all."""
    p = LedgerPoint(1, "TI-1", "HH", 90.0, "high", True)
    now = {1: DcsReading(1, limit_value=95.0, enabled=True, severity=700)}
    prev = {1: DcsReading(1, limit_value=90.0, enabled=True, severity=700)}
    assert [f.kind for f in compare([p], now)] == ["limit_mismatch"]
    assert [
        (f.kind, f.attribute, f.ledger_value, f.dcs_value) for f in compare([p], now, prev)
    ] == [
        ("limit_mismatch", "limit_value", "90", "95"),
        ("unauthorised_change", "limit_value", "90", "95"),
    ]
    back = {1: DcsReading(1, limit_value=90.0, enabled=True, severity=700)}
    assert compare([p], back, {1: now[1]}) == []
    assert [f.kind for f in compare([p], {})] == ["unreadable"]


def test_audit_against_a_real_opc_ua_server(conn: psycopg.Connection, dcs: Dcs) -> None:
    """Ledger: TI-1.HH 90 high, PI-2.H 5 high, LI-3.L 10 low, FI-4.HH 50 high (all enabled).
    DCS: TI-1.HH limit 95 (differs); PI-2.H disabled; LI-3.L suppressed, severity 400 (low);
    FI-4.HH missing. Audit 1: limit_mismatch TI-1, enabled_mismatch PI-2, suppressed LI-3,
    unreadable FI-4.

    Then TI-1.HH's ledger limit goes to 95 through an approved change, LI-3.L's ledger limit
    to 12 through another (a low alarm: one approval step), carried out in the DCS (10 → 12);
    PI-2.H's DCS limit is changed 5 → 6 without any request. Audit 2: PI-2 limit_mismatch +
    unauthorised_change (5 → 6) + enabled_mismatch; LI-3 suppressed only; FI-4 unreadable;
    nothing for TI-1."""
    site = make_site(conn)
    points = {}
    for tag, cond, limit, prio in (
        ("TI-1", "HH", 90, "high"),
        ("PI-2", "H", 5, "high"),
        ("LI-3", "L", 10, "low"),
        ("FI-4", "HH", 50, "high"),
    ):
        points[tag] = site.point(conn, site.tag(conn, tag), cond, limit, prio)  # fmt: skip
    dcs.condition("TI-1", "HH", limit=95.0, enabled=True, severity=700, suppressed=False)
    dcs.condition("PI-2", "H", limit=5.0, enabled=False, severity=700, suppressed=False)
    dcs.condition("LI-3", "L", limit=10.0, enabled=True, severity=400, suppressed=True)

    def audit() -> list[tuple[str, str, str]]:
        run = run_audit(
            conn, site.requester, enterprise_id=site.enterprise_id, url=dcs.url,
            namespace_uri=NS_URI,
        )  # fmt: skip
        names = {v: k for k, v in points.items()}
        return sorted((names[f.point_id], f.kind, f.attribute) for f in findings(conn, run))

    assert audit() == [
        ("FI-4", "unreadable", "node"),
        ("LI-3", "suppressed", "suppressed"),
        ("PI-2", "enabled_mismatch", "enabled"),
        ("TI-1", "limit_mismatch", "limit_value"),
    ]
    for tag, limit in (("TI-1", 95.0), ("LI-3", 12.0)):
        inst = request_change(conn, site.requester, points[tag], {"limit_value": limit},
                              reason="审计整改")  # fmt: skip
        # TI-1 (high): process then safety; LI-3 (low): the process engineer alone.
        for approver in (site.tech, site.safety):
            if approvals.act(conn, approver, inst, "approve") == "approved":
                break
    dcs.set("LI-3", "L", limit=12.0)
    dcs.set("PI-2", "H", limit=6.0)
    assert audit() == [
        ("FI-4", "unreadable", "node"),
        ("LI-3", "suppressed", "suppressed"),
        ("PI-2", "enabled_mismatch", "enabled"),
        ("PI-2", "limit_mismatch", "limit_value"),
        ("PI-2", "unauthorised_change", "limit_value"),
    ]
    row = conn.execute(
        "SELECT points, findings, error FROM alarm.dcs_audit_run WHERE enterprise_id = %s"
        " ORDER BY id DESC LIMIT 1",
        (site.enterprise_id,),
    ).fetchone()
    assert row == (4, 5, None)


def test_unreachable_dcs_is_a_failed_run(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    site.point(conn, site.tag(conn, "TI-9"))
    url = f"opc.tcp://127.0.0.1:{find_free_port()}"
    with pytest.raises(AuditError, match="cannot connect to"):
        run_audit(conn, site.requester, enterprise_id=site.enterprise_id, url=url,
                  namespace_uri=NS_URI, timeout_s=2)  # fmt: skip
    row = conn.execute(
        "SELECT error IS NOT NULL, finished_at IS NOT NULL FROM alarm.dcs_audit_run"
        " WHERE enterprise_id = %s",
        (site.enterprise_id,),
    ).fetchone()
    assert row == (True, True)
