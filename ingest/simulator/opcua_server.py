"""The demo plant as an OPC UA server (asyncua): values each second and Alarms & Conditions.

Address space (namespace ``urn:hazwatch:simulator``, index 2):

- ``Objects/Plant/<TAG>``: one Double variable per tag, node id ``ns=2;s=<TAG>``
  (``ns=2;s=TEP-XMEAS07`` is reactor pressure), written every tick from ``tep.TepPlant``;
- ``Objects/Alarms/<TAG>.<COND>``: one object per alarm point (``ns=2;s=TEP-XMEAS07.HH``),
  the ConditionId of its events.

Events come from the Server object, as A&C servers do: each ALM, RTN and ACK of
``plant.AlarmEngine`` / ``plant.Operator`` is an event of ``HazwatchLimitAlarmType`` (a subtype
of ExclusiveLimitAlarmType with the process value in ``InputValue``) carrying ActiveState,
AckedState, LimitState (HighHigh/High/Low/LowLow), the limits, Severity (from the priority,
``decode.SEVERITY_FOR_PRIORITY``), Message and ClientUserId. A client acknowledges with the
standard Acknowledge method (AcknowledgeableConditionType, i=9111) on the condition object,
and ConditionRefresh (i=3875) re-sends every retained condition.

    stop = threading.Event()
    threading.Thread(target=serve_forever, args=(4840, stop), kwargs={"speedup": 10}).start()
    write_map_csv(Path("tep.csv"))            # node_id,tag for ``hazwatch collect opcua``
    stop.set()

A tick comes every ``tick_s`` (1 s) of wall-clock time and advances the plant by
``speedup`` x ``tick_s`` seconds; the alarm engine sees every plant second, and the events of
one tick get times spread over it.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.server.event_generator import EventGenerator

from ingest.opcua.decode import SEVERITY_FOR_PRIORITY
from ingest.simulator.plant import AlarmEngine, AlarmPoint, Operator, Transition, demo_points
from ingest.simulator.tep import DEFAULT_PERIOD_S, DEFAULT_SCHEDULE, TepPlant, Upset, variables

log = logging.getLogger(__name__)

NAMESPACE = "urn:hazwatch:simulator"
APPLICATION_URI = "urn:hazwatch:simulator:opcua"

_LIMIT_STATE = {"HH": "HighHigh", "H": "High", "L": "Low", "LL": "LowLow"}
_LIMIT_FIELD = {"HH": "HighHighLimit", "H": "HighLimit", "L": "LowLimit", "LL": "LowLowLimit"}
_CLASS = {
    "process": ua.ObjectIds.ProcessConditionClassType,
    "equipment": ua.ObjectIds.MaintenanceConditionClassType,
    "instrument": ua.ObjectIds.SystemConditionClassType,
    "safety": ua.ObjectIds.SafetyConditionClassType,
}
_POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


def node_id(tag: str) -> str:
    """The node id of a tag's variable: ``ns=2;s=<TAG>``."""
    return f"ns=2;s={tag}"


def write_map_csv(path: Path, tags: Iterable[str] | None = None) -> list[str]:
    """Write the collector's map (``node_id,tag``) for the demo plant's tags; returns the tags.

    write_map_csv(Path("tep.csv"))                          # all 53 tags
    write_map_csv(Path("two.csv"), ["TEP-XMEAS07", "TEP-XMEAS09"])
    """
    names = list(tags) if tags is not None else [v.tag for v in variables()]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["node_id", "tag"])
        w.writerows([node_id(t), t] for t in names)
    return names


@dataclass(frozen=True)
class ServerSecurity:
    """Require a secured channel: the server's certificate and key (PEM or DER), the modes
    it offers, and optionally the only client certificates it accepts (else any)."""

    cert: Path
    key: Path
    modes: tuple[str, ...] = ("Sign", "SignAndEncrypt")
    trusted: tuple[Path, ...] = ()


@dataclass
class _Condition:
    point: AlarmPoint
    nodeid: ua.NodeId
    source: ua.NodeId
    active: bool = False
    acked: bool = True
    value: float | None = None
    event_id: bytes | None = None
    last: datetime | None = None
    active_since: datetime | None = None  # ActiveState/TransitionTime
    acked_at: datetime | None = None  # AckedState/TransitionTime
    operator: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def retain(self) -> bool:
        # Part 9: a condition is of interest while active or not yet acknowledged.
        return self.active or not self.acked


class PlantServer:
    """The simulator's OPC UA server. Async API for tests; ``serve_forever`` for threads.

    server = PlantServer(4840, seed=1, speedup=1.0)
    await server.start()
    await server.tick()          # one second of wall time: plant, values, alarm events
    await server.stop()
    """

    def __init__(
        self,
        port: int,
        *,
        seed: int = 1,
        speedup: float = 1.0,
        host: str = "127.0.0.1",
        tick_s: float = 1.0,
        schedule: Iterable[Upset] = DEFAULT_SCHEDULE,
        period_s: float | None = DEFAULT_PERIOD_S,
        points: Iterable[AlarmPoint] | None = None,
        operator: Operator | None = None,
        security: ServerSecurity | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.url = f"opc.tcp://{host}:{port}"
        self.speedup = speedup
        self.tick_s = tick_s
        self.plant = TepPlant(seed=seed, schedule=schedule, period_s=period_s)
        self.engine = AlarmEngine(demo_points() if points is None else points)
        self.operator = operator or Operator(seed=seed)
        self.security = security
        self.events_sent = 0
        self._carry = 0.0
        self._server = Server()
        self._vars: dict[str, ua.NodeId] = {}
        self._conditions: dict[str, _Condition] = {}
        self._by_nodeid: dict[ua.NodeId, _Condition] = {}
        self._gen: EventGenerator | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Build the address space and listen on ``host:port``."""
        srv = self._server
        await srv.init()
        srv.set_endpoint(f"opc.tcp://{self.host}:{self.port}/")
        srv.set_server_name("hazwatch demo plant (Tennessee Eastman)")
        await srv.set_application_uri(APPLICATION_URI)
        # Anonymous users only: no user tokens to protect, and no warnings about them.
        srv.set_identity_tokens([ua.AnonymousIdentityToken])
        if self.security is None:
            srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            sec = self.security
            await srv.load_certificate(str(sec.cert))
            await srv.load_private_key(str(sec.key))
            srv.set_security_policy([_POLICIES[m] for m in sec.modes])
            if sec.trusted:
                srv.set_certificate_validator(_trust_list(sec.trusted))
        ns = await srv.register_namespace(NAMESPACE)
        objects = srv.nodes.objects
        plant = await objects.add_folder(ua.NodeId("Plant", ns), ua.QualifiedName("Plant", ns))
        values = self.plant.values()
        for v in self.plant.variables:
            nid = ua.NodeId(v.tag, ns)
            var = await plant.add_variable(
                nid, ua.QualifiedName(v.tag, ns), values[v.tag], ua.VariantType.Double
            )
            await var.write_attribute(
                ua.AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(f"{v.description} ({v.unit})"))),
            )
            self._vars[v.tag] = nid
        alarms = await objects.add_folder(ua.NodeId("Alarms", ns), ua.QualifiedName("Alarms", ns))
        for p in self.engine.points:
            if p.tag not in self._vars:
                continue
            cid = ua.NodeId(p.key, ns)
            await alarms.add_object(cid, ua.QualifiedName(p.key, ns))
            cond = _Condition(p, cid, self._vars[p.tag])
            self._conditions[p.key] = cond
            self._by_nodeid[cid] = cond
        etype = await srv.create_custom_event_type(
            ns,
            "HazwatchLimitAlarmType",
            ua.ObjectIds.ExclusiveLimitAlarmType,
            [("InputValue", ua.VariantType.Double)],
        )
        self._gen = await srv.get_event_generator(etype, ua.ObjectIds.Server)
        # The type's LimitState is an object (a state machine), not a property; the event
        # object needs the field to carry it.
        self._gen.event.add_property("LimitState/CurrentState", None, ua.VariantType.LocalizedText)
        for name in ("ActiveState/TransitionTime", "AckedState/TransitionTime"):
            # asyncua types these by the UtcTime data type node; a Variant needs DateTime.
            self._gen.event.add_property(name, None, ua.VariantType.DateTime)
        srv.link_method(
            srv.get_node(ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)),
            self._acknowledge_method,
        )
        srv.link_method(
            srv.get_node(ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh)),
            self._refresh_method,
        )
        await srv.start()
        log.info("demo plant OPC UA server on %s", self.url)

    async def stop(self) -> None:
        """Stop listening and end every client session, as a process that exits would.

        asyncua's ``Server.stop`` keeps the sessions of connected clients (with their
        subscription loops) alive until they time out; a stopped simulator must not.
        """
        await self._server.stop()
        iserver = self._server.iserver
        for session in list(getattr(iserver, "_external_sessions", {}).values()):
            await session.close_session(delete_subs=True)

    # -- one tick ----------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> list[Transition]:
        """Advance the plant by ``speedup`` x ``tick_s`` seconds; write values; send events."""
        start = now or datetime.now(UTC)
        self._carry += self.speedup * self.tick_s
        steps = int(self._carry)
        self._carry -= steps
        out: list[Transition] = []
        values: dict[str, float] = {}
        for k in range(steps):
            values = self.plant.step(1.0)
            t = self.plant.time_s
            raised = self.engine.evaluate(t, values)
            self.operator.observe(raised)
            when = start + timedelta(seconds=self.tick_s * k / max(steps, 1))
            for tr in raised + self.operator.due(t):
                out.append(tr)
                await self._apply(tr, when)
        if values:
            dv_time = start
            for tag, nid in self._vars.items():
                dv = ua.DataValue(
                    ua.Variant(values[tag], ua.VariantType.Double),
                    SourceTimestamp=dv_time,
                    ServerTimestamp=dv_time,
                )
                await self._server.write_attribute_value(nid, dv)
        return out

    async def _apply(self, tr: Transition, when: datetime) -> None:
        cond = self._conditions.get(tr.key)
        if cond is None:
            return
        if tr.kind == "ALM":
            cond.active, cond.acked, cond.value = True, False, tr.value
            cond.operator, cond.active_since, cond.acked_at = None, when, when
            text = f"{tr.tag} {tr.condition} alarm: {tr.value:.4g} beyond limit {tr.limit:.4g}"
        elif tr.kind == "RTN":
            cond.active, cond.value, cond.active_since = False, tr.value, when
            text = f"{tr.tag} {tr.condition} returned to normal: {tr.value:.4g}"
        else:  # ACK by the simulated operator
            if cond.acked:
                return
            cond.acked, cond.operator, cond.acked_at = True, tr.operator, when
            text = f"{tr.tag} {tr.condition} acknowledged by {tr.operator}"
        await self._send(cond, text, when)

    async def _send(
        self, cond: _Condition, message: str, when: datetime, subscription_id: int | None = None
    ) -> None:
        assert self._gen is not None
        p = cond.point
        ev = self._gen.event
        async with self._lock:  # one shared event object: fill and trigger as one step
            ev.SourceNode = cond.source
            ev.SourceName = p.tag
            ev.ConditionName = p.key
            ev.NodeId = cond.nodeid
            ev.Severity = SEVERITY_FOR_PRIORITY[p.priority]
            ev.ConditionClassId = ua.NodeId(_CLASS[p.category])
            setattr(ev, "ActiveState/Id", cond.active)
            setattr(ev, "ActiveState/TransitionTime", cond.active_since)
            setattr(ev, "AckedState/TransitionTime", cond.acked_at)
            ev.ActiveState = ua.LocalizedText("Active" if cond.active else "Inactive")
            setattr(ev, "AckedState/Id", cond.acked)
            ev.AckedState = ua.LocalizedText("Acknowledged" if cond.acked else "Unacknowledged")
            setattr(ev, "EnabledState/Id", True)
            setattr(
                ev,
                "LimitState/CurrentState",
                ua.LocalizedText(_LIMIT_STATE[p.condition]) if cond.active else None,
            )
            for name in _LIMIT_FIELD.values():
                setattr(ev, name, None)
            setattr(ev, _LIMIT_FIELD[p.condition], p.limit)
            ev.InputValue = cond.value
            ev.Retain = cond.retain
            ev.ClientUserId = cond.operator
            await self._gen.trigger(when, message, subscription_id=subscription_id)
            cond.event_id = bytes(ev.EventId.Value)
            cond.last = when
            self.events_sent += 1

    # -- methods called by clients -----------------------------------------------------

    async def _acknowledge_method(self, parent: ua.NodeId, event_id: Any, comment: Any) -> Any:
        """Acknowledge(EventId, Comment) on a condition object (Part 9, 5.7.3)."""
        cond = self._by_nodeid.get(parent)
        if cond is None:
            return ua.StatusCode(ua.StatusCodes.BadNodeIdInvalid)
        eid = event_id.Value if isinstance(event_id, ua.Variant) else event_id
        if cond.acked:
            return ua.StatusCode(ua.StatusCodes.BadConditionBranchAlreadyAcked)
        if eid != cond.event_id:
            return ua.StatusCode(ua.StatusCodes.BadEventIdUnknown)
        cond.acked, cond.operator, cond.acked_at = True, "opcua-client", datetime.now(UTC)
        text = comment.Value.Text if isinstance(comment, ua.Variant) and comment.Value else ""
        await self._send(cond, f"{cond.point.key} acknowledged by a client: {text}", cond.acked_at)
        return ua.StatusCode(ua.StatusCodes.Good)

    async def _refresh_method(self, parent: ua.NodeId, subscription_id: Any) -> Any:
        """ConditionRefresh(SubscriptionId): the retained conditions, to that subscription."""
        sub_id = subscription_id.Value if isinstance(subscription_id, ua.Variant) else None
        for cond in list(self._conditions.values()):
            if cond.retain:
                # Part 9, 5.5.7: the condition's current state, sent again, at refresh time.
                await self._send(cond, f"{cond.point.key} (refresh)", datetime.now(UTC), sub_id)
        return ua.StatusCode(ua.StatusCodes.Good)

    # -- running -----------------------------------------------------------------------

    async def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Start, tick every ``tick_s`` until ``stop`` is set, stop. ``ready``: set once
        the server listens."""
        await self.start()
        if ready is not None:
            ready.set()
        try:
            loop = asyncio.get_running_loop()
            next_tick = loop.time()
            while not stop.is_set():
                await self.tick()
                next_tick += self.tick_s
                # Poll the stop event often so shutting down never waits a whole tick.
                while not stop.is_set() and loop.time() < next_tick:
                    await asyncio.sleep(min(0.05, max(0.0, next_tick - loop.time())))
        finally:
            await self.stop()


def _trust_list(paths: Iterable[Path]) -> Any:
    """A certificate validator accepting only these client certificates (by fingerprint)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    def fingerprint(data: bytes) -> str:
        cert = (
            x509.load_pem_x509_certificate(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
        return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()

    trusted = {fingerprint(p.read_bytes()) for p in paths}

    async def validate(cert: Any, app_description: Any) -> None:
        if hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() not in trusted:
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    return validate


def serve_forever(
    port: int,
    stop: threading.Event,
    seed: int = 1,
    speedup: float = 1.0,
    *,
    host: str = "127.0.0.1",
    security: ServerSecurity | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Run the demo plant's OPC UA server until ``stop`` is set (for a thread or a process).

    stop = threading.Event()
    threading.Thread(target=serve_forever, args=(4840, stop), daemon=True).start()
    """

    server = PlantServer(port, seed=seed, speedup=speedup, host=host, security=security)
    asyncio.run(server.run(stop, ready))
