"""The OPC UA client side: the only module of hazwatch that drives asyncua's ``Client``.

It connects (security None, Sign or SignAndEncrypt with Basic256Sha256 and an application
certificate), subscribes to data changes of nodes and to the events of the Server object
(Alarms & Conditions), reads values and acknowledges conditions. Everything it hands on is
plain Python (``decode.DataChange``, ``dict`` of event fields), so asyncua's types and its
API changes stop here. Reconnecting is not done here: a ``Connection`` that is lost stays lost
(``lost`` is set) and the collector opens a new one.

    conn = Connection("opc.tcp://127.0.0.1:4840", Security("Sign", cert, key))
    await conn.open()
    await conn.subscribe(["ns=2;s=TEP-XMEAS07"], on_change=print, on_event=print)
    await conn.lost.wait()
    await conn.close()
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeNotif, Subscription
from asyncua.crypto import security_policies
from cryptography import x509

from ingest.opcua.decode import CONDITION_ID, EVENT_FIELDS, DataChange

log = logging.getLogger(__name__)

SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
SECURITY_MODES: tuple[str, ...] = ("None", "Sign", "SignAndEncrypt")

#: asyncua's default client URI; a certificate's own URI replaces it (servers check the match).
DEFAULT_APPLICATION_URI = "urn:hazwatch:collector:opcua"


class TransportError(Exception):
    """Connecting or subscribing failed; ``str(err)`` says what and where."""


@dataclass(frozen=True)
class Security:
    """How to secure the channel. ``cert``/``key``: the client's application instance
    certificate (PEM or DER) and private key; required unless ``mode`` is ``"None"``."""

    mode: SecurityMode = "None"
    cert: Path | None = None
    key: Path | None = None
    #: The server's certificate; when None it is taken from the server's endpoint list.
    server_cert: Path | None = None

    def __post_init__(self) -> None:
        if self.mode not in SECURITY_MODES:
            raise ValueError(f"security mode must be one of {', '.join(SECURITY_MODES)}")
        if self.mode != "None" and (self.cert is None or self.key is None):
            raise ValueError(f"security {self.mode} needs a certificate and a private key")


def certificate_uri(cert_path: Path) -> str | None:
    """The application URI in a certificate's subjectAltName, if any (PEM or DER)."""
    data = cert_path.read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def generate_certificate(
    cert_path: Path,
    key_path: Path,
    *,
    application_uri: str = DEFAULT_APPLICATION_URI,
    common_name: str = "hazwatch opcua collector",
    server: bool = False,
    days: int = 365,
) -> None:
    """Write a self-signed application instance certificate (PEM) and its key (PEM).

    generate_certificate(Path("client.pem"), Path("client-key.pem"))

    The subjectAltName carries the application URI and this host's name, as OPC UA
    (Part 6, 6.2.2) expects; ``server=True`` marks it for server authentication.
    """
    from asyncua.crypto.cert_gen import (
        dump_private_key_as_pem,
        generate_private_key,
        generate_self_signed_app_certificate,
    )
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = generate_private_key()
    names = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(socket.gethostname())]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = generate_self_signed_app_certificate(
        key, common_name, {"organizationName": "hazwatch"}, names, extended=usage, days=days
    )
    cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    key_path.write_bytes(dump_private_key_as_pem(key))
    key_path.chmod(0o600)


def _plain(value: Any) -> Any:
    """asyncua values to plain Python: texts, NodeIds as strings, aware datetimes."""
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, ua.NodeId):
        return value.to_string()
    if isinstance(value, ua.QualifiedName):
        return value.Name
    if isinstance(value, ua.StatusCode):
        return value.value
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def data_change(node_id: str, dv: ua.DataValue) -> DataChange:
    """A ``decode.DataChange`` from an asyncua DataValue."""
    value = dv.Value.Value if dv.Value is not None else None
    status = dv.StatusCode.value if dv.StatusCode is not None else 0
    return DataChange(
        node_id, _plain(value), status, _aware(dv.SourceTimestamp), _aware(dv.ServerTimestamp)
    )


def event_filter() -> ua.EventFilter:
    """Select clauses for ``decode.EVENT_FIELDS`` plus the ConditionId; no where clause, so
    every event of the Server object arrives and decode tells alarms from the rest."""
    flt = ua.EventFilter()
    for path in EVENT_FIELDS:
        op = ua.SimpleAttributeOperand()
        op.TypeDefinitionId = ua.NodeId(ua.ObjectIds.BaseEventType)
        op.BrowsePath = [ua.QualifiedName(part, 0) for part in path.split("/")]
        op.AttributeId = ua.AttributeIds.Value
        flt.SelectClauses.append(op)
    op = ua.SimpleAttributeOperand()
    op.TypeDefinitionId = ua.NodeId(ua.ObjectIds.ConditionType)
    op.AttributeId = ua.AttributeIds.NodeId
    flt.SelectClauses.append(op)
    return flt


def event_fields(event: Any) -> dict[str, Any]:
    """An asyncua event notification as ``{browse path: plain value}``."""
    fields = {path: _plain(getattr(event, path, None)) for path in EVENT_FIELDS}
    fields[CONDITION_ID] = _plain(getattr(event, CONDITION_ID, None))
    return fields


class _Handler:
    """asyncua subscription handler: converts and forwards; never raises into asyncua."""

    def __init__(
        self,
        on_change: Callable[[DataChange], None] | None,
        on_event: Callable[[dict[str, Any]], None] | None,
        on_status: Callable[[int], None],
    ) -> None:
        self.on_change = on_change
        self.on_event = on_event
        self.on_status = on_status

    def datachange_notification(self, node: Any, val: Any, data: DataChangeNotif) -> None:
        if self.on_change is not None:
            self.on_change(data_change(node.nodeid.to_string(), data.monitored_item.Value))

    def event_notification(self, event: Any) -> None:
        if self.on_event is not None:
            self.on_event(event_fields(event))

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        self.on_status(status.Status.value)


class Connection:
    """One session with one server. Open, subscribe, wait for ``lost``, close.

    conn = Connection(url, Security())
    await conn.open()                       # TransportError when the server is unreachable
    refused = await conn.subscribe(ids, on_change=handle)   # {node_id: reason}
    """

    def __init__(
        self,
        url: str,
        security: Security | None = None,
        *,
        timeout_s: float = 4.0,
        watchdog_s: float = 1.0,
    ) -> None:
        self.url = url
        self.security = security or Security()
        self.timeout_s = timeout_s
        self.lost = asyncio.Event()
        self.lost_reason = ""
        # asyncua's own reconnect stays off: the collector owns reconnecting, so that it can
        # record every outage and rebuild subscriptions the same way after a server restart.
        self._client = Client(url, timeout=timeout_s, watchdog_intervall=watchdog_s)
        self._client.connection_lost_callback = self._connection_lost
        # Ten minutes, what asyncua's server grants anyway; asking for more only logs a warning.
        self._client.session_timeout = 600_000
        self._client.name = self._client.description = "hazwatch opcua collector"
        self._subscriptions: list[Subscription] = []
        self._connected = False

    async def _connection_lost(self, exc: Exception) -> None:
        self._mark_lost(f"connection lost: {exc!r}")

    def _mark_lost(self, reason: str) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()

    def _status(self, code: int) -> None:
        # BadShutdown, BadTimeout, … on a subscription mean the server dropped it.
        if code & 0x80000000:
            self._mark_lost(f"subscription status 0x{code:08X}")

    async def open(self) -> None:
        """Connect and activate a session; TransportError with the reason when it fails."""
        sec = self.security
        try:
            if sec.mode != "None":
                assert sec.cert is not None and sec.key is not None
                uri = certificate_uri(sec.cert)
                if uri:
                    self._client.application_uri = uri
                mode = getattr(ua.MessageSecurityMode, sec.mode)
                await self._client.set_security(
                    security_policies.SecurityPolicyBasic256Sha256,
                    certificate=str(sec.cert),
                    private_key=str(sec.key),
                    server_certificate=str(sec.server_cert) if sec.server_cert else None,
                    mode=mode,
                )
            await self._client.connect()
        except (TimeoutError, OSError, ua.UaError) as exc:
            raise TransportError(f"cannot connect to {self.url}: {_why(exc)}") from exc
        except Exception as exc:
            # asyncua raises assorted types on refused security (e.g. a missing endpoint).
            raise TransportError(f"cannot connect to {self.url}: {_why(exc)}") from exc
        self._connected = True

    async def subscribe(
        self,
        node_ids: Iterable[str],
        on_change: Callable[[DataChange], None],
        on_event: Callable[[dict[str, Any]], None] | None = None,
        *,
        publishing_ms: float = 250,
        sampling_ms: float = 0,
    ) -> dict[str, str]:
        """Monitor the Value of each node and, with ``on_event``, the events of the Server
        object (where A&C servers report all their conditions). Returns {node_id: reason}
        for the nodes the server refused.

        One subscription carries both: with two, asyncua can receive the second one's first
        publish before it knows the subscription, and drops it.
        """
        handler = _Handler(on_change, on_event, self._status)
        sub = await self._client.create_subscription(publishing_ms, handler)
        self._subscriptions.append(sub)
        ids = list(node_ids)
        refused: dict[str, str] = {}
        if ids:
            nodes = [self._client.get_node(n) for n in ids]
            # One CreateMonitoredItems call for all nodes; per-item failures come back as codes.
            results = await sub.subscribe_data_change(
                nodes, sampling_interval=sampling_ms, queuesize=10
            )
            for node_id, result in zip(ids, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    refused[node_id] = result.name
        if on_event is not None:
            await sub.subscribe_events(
                ua.ObjectIds.Server,
                ua.ObjectIds.BaseEventType,
                evfilter=event_filter(),
                queuesize=1000,
            )
        return refused

    async def condition_refresh(self) -> bool:
        """Ask the server to send the current state of every retained condition again.

        Returns False when the server does not implement ConditionRefresh (many do not).
        """
        if not self._subscriptions:
            return False
        sub_id = self._subscriptions[-1].subscription_id
        try:
            await self._client.get_node(ua.ObjectIds.ConditionType).call_method(
                ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh),
                ua.Variant(sub_id, ua.VariantType.UInt32),
            )
        except ua.UaStatusCodeError as exc:
            log.info("ConditionRefresh refused by %s: %s", self.url, exc)
            return False
        return True

    async def read(self, node_ids: Iterable[str]) -> list[DataChange]:
        """Current values of nodes, one read request."""
        ids = list(node_ids)
        nodes = [self._client.get_node(n) for n in ids]
        values = await self._client.read_attributes(nodes, ua.AttributeIds.Value)
        return [data_change(n, dv) for n, dv in zip(ids, values, strict=True)]

    async def acknowledge(self, condition_id: str, event_id: bytes, comment: str = "") -> None:
        """Acknowledge a condition (AcknowledgeableConditionType.Acknowledge, Part 9)."""
        await self._client.get_node(condition_id).call_method(
            ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge),
            ua.Variant(event_id, ua.VariantType.ByteString),
            ua.Variant(ua.LocalizedText(comment), ua.VariantType.LocalizedText),
        )

    async def close(self) -> None:
        """Delete subscriptions and disconnect; safe on a lost connection and twice."""
        if not self._connected:
            return
        self._connected = False
        if not self.lost.is_set():
            for sub in self._subscriptions:
                try:
                    await asyncio.wait_for(sub.delete(), self.timeout_s)
                except Exception as exc:  # the server may be gone mid-close
                    log.debug("deleting subscription failed: %r", exc)
        self._subscriptions.clear()
        try:
            await asyncio.wait_for(self._client.disconnect(), self.timeout_s)
        except Exception as exc:
            log.debug("disconnect from %s failed: %r", self.url, exc)


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
