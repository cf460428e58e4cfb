"""The MQTT connection: the one module that imports paho-mqtt.

    transport = MqttTransport("10.0.0.5", 1883, client_id="hazwatch-gas", username="hw",
                              password=secret, tls=Tls(ca_file=Path("ca.pem")))
    transport.start(["plant/+/+/lel"], on_message=inbox.append, on_state=print)
    ...
    transport.ack(messages)            # after the sink took them (QoS 1)
    transport.close()

    with MqttPublisher("127.0.0.1", 18830, client_id="sim") as pub:   # the demo plant's side
        pub.publish("plant/GW-1/GD-101/lel", b'{"value": 3.5}')

Choices, and why:

- **Persistent session.** MQTT 3.1.1 with ``clean_session=False`` and a stable client id: the
  broker keeps the subscriptions and queues QoS 1 messages while the collector is away (a
  restart, a network blip), and delivers them when it is back. Subscriptions are renewed on
  every connection anyway, since a restarted broker without persistence knows nothing of
  the session.
- **Acknowledged after use.** Messages are acknowledged (PUBACK) only when the caller says
  so, after the sink took the rows: a collector that dies in between gets them again from
  the broker. A broker sends only a few unacknowledged messages at a time (mosquitto:
  ``max_inflight_messages`` 20), so a writer that pushes back slows the broker down instead
  of filling the collector's memory.
- **Reconnects** are paho's own loop: after a lost connection it retries after
  ``backoff_start_s``, doubling up to ``backoff_max_s``, until ``close()``.
- **Refusals that retrying cannot fix** (bad user name or password, not authorised, client id
  rejected) on the first connection raise ``BrokerRefused`` from ``start()``; later, e.g.
  after a password change on the broker, they are logged and retried, since stopping a
  collector for good is worse than a noisy log.
- paho runs callbacks on its own thread and ends that thread when a callback raises, so
  every callback here catches and logs. paho's own log stays off: it reports ordinary
  events (a loop turn after a refused connection) as errors; the state callbacks here say
  what happened in words that fit.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from hazwatch.errors import HazwatchError

log = logging.getLogger(__name__)

#: Reconnect back-off: first retry after 1 s, doubling, at most 10 s apart.
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 10.0
KEEPALIVE_S = 30
#: CONNACK reasons (MQTT 5 numbering, which paho also uses for 3.1.1) that retrying will not
#: change: unsupported protocol, client id rejected, bad user name or password, not
#: authorised, banned, bad authentication method.
FATAL_CONNACK = frozenset({0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C})


class MqttError(HazwatchError):
    """An MQTT failure the user can act on."""


class BrokerRefused(MqttError):
    """The broker refused the connection for a reason that retrying will not fix."""


@dataclass(frozen=True)
class Tls:
    """TLS to the broker. ``ca_file`` None: the system's CAs; ``cert``/``key``: client
    certificate authentication; ``insecure``: skip the host name check (test brokers)."""

    ca_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class Received:
    """One message as it arrived (plain values: nothing of paho leaves this module)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    received: datetime
    dup: bool = False


OnMessage = Callable[[Received], None]
#: ``on_state(online, why)``: connected (True) or lost / not reachable (False).
OnState = Callable[[bool, str], None]


def _configure(
    client: mqtt.Client,
    username: str | None,
    password: str | None,
    tls: Tls | None,
) -> None:
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert) if tls.cert else None,
            keyfile=str(tls.key) if tls.key else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        if tls.insecure:
            client.tls_insecure_set(True)


class MqttTransport:
    """A subscriber with a persistent session; see the module doc."""

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: Tls | None = None,
        qos: int = 1,
        keepalive_s: int = KEEPALIVE_S,
        backoff_start_s: float = BACKOFF_START_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        if not client_id:
            # An empty id gets a random one from the broker, and with it no persistent session.
            raise ValueError("a persistent session needs a client id")
        self.host = host
        self.port = port
        self.url = f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"
        self.client_id = client_id
        self.username = username
        self.password = password
        self.tls = tls
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.backoff_start_s = backoff_start_s
        self.backoff_max_s = backoff_max_s
        #: Successful connections so far, and whether the broker still had our session.
        self.sessions = 0
        self.session_present = False
        #: Subscription filters the broker refused (filter -> reason).
        self.refused: dict[str, str] = {}
        self._client: mqtt.Client | None = None
        self._filters: list[str] = []
        self._on_message: OnMessage | None = None
        self._on_state: OnState | None = None
        self._first = threading.Event()
        self._fatal: str | None = None
        self._connected = False
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._connected

    def start(
        self,
        filters: Sequence[str],
        *,
        on_message: OnMessage,
        on_state: OnState | None = None,
        wait_s: float = 10.0,
    ) -> bool:
        """Connect in the background and subscribe to ``filters`` on every connection.

        Waits up to ``wait_s`` for the first attempt: True when connected, False when the
        broker is not reachable yet (attempts go on in the background, ``on_state`` tells).
        Raises BrokerRefused when the broker refused the credentials or the client id.
        """
        if self._client is not None:
            raise RuntimeError("already started")
        self._filters = list(filters)
        self._on_message = on_message
        self._on_state = on_state
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        try:
            _configure(client, self.username, self.password, self.tls)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a bad PEM file
            raise MqttError(f"{self.url}: cannot set up TLS: {exc}") from None
        # paho accepts float delays (it only doubles and sleeps them); its hint says int.
        client.reconnect_delay_set(self.backoff_start_s, self.backoff_max_s)  # type: ignore[arg-type]
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        self._client = client
        client.connect_async(self.host, self.port, self.keepalive_s)
        client.loop_start()
        self._first.wait(wait_s)
        if self._fatal is not None:
            self.close()
            raise BrokerRefused(self._fatal)
        return self._connected

    def ack(self, messages: Iterable[Received]) -> None:
        """Acknowledge messages the caller is done with, in the order they arrived.

        After a reconnect the broker sends unacknowledged messages again under the same
        packet ids, so a late acknowledgement still names the right message.
        """
        client = self._client
        if client is None:
            return
        for m in messages:
            if m.qos > 0:
                client.ack(m.mid, m.qos)

    def close(self) -> None:
        """Disconnect (the broker keeps the session) and stop paho's thread."""
        client = self._client
        if client is None:
            return
        self._closing = True
        client.disconnect()
        client.loop_stop()
        self._connected = False
        self._client = None

    def __enter__(self) -> MqttTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- paho callbacks (paho's thread) -----------------------------------------------------

    def _state(self, online: bool, why: str) -> None:
        if self._on_state is None or self._closing:
            return
        try:
            self._on_state(online, why)
        except Exception:
            log.exception("mqtt %s: state callback failed", self.url)

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        try:
            if reason.is_failure:
                why = f"{self.url} refused the connection: {reason}"
                if reason.value in FATAL_CONNACK:
                    why += _hint(reason.value, self.username)
                    if self.sessions == 0:
                        self._fatal = why
                        client.disconnect()  # stop paho's retries: start() raises
                        self._first.set()
                        return
                log.warning("mqtt %s", why)
                self._state(False, why)
                self._first.set()
                return
            self.sessions += 1
            self.session_present = bool(flags.session_present)
            self._connected = True
            # Renewed every time: a broker restarted without persistence lost the session.
            client.subscribe([(f, self.qos) for f in self._filters])
            session = "resumed" if flags.session_present else "new"
            self._state(True, f"connected to {self.url} as {self.client_id} ({session} session)")
            self._first.set()
        except Exception:
            log.exception("mqtt %s: on_connect failed", self.url)

    def _handle_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._state(False, f"cannot connect to {self.url}")
        self._first.set()

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        was = self._connected
        self._connected = False
        if self._closing or self._fatal is not None:
            return
        if was:
            self._state(False, f"connection to {self.url} lost ({reason})")
        else:
            # Closed before a CONNACK: e.g. plain MQTT to a TLS port, or a broker going down.
            self._state(False, f"{self.url} closed the connection before accepting it")
            self._first.set()

    def _handle_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Any,
    ) -> None:
        for f, r in zip(self._filters, reasons, strict=False):
            if r.is_failure:
                self.refused[f] = str(r)
                log.error("mqtt %s: subscription to %s refused (%s)", self.url, f, r)

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                topic = msg.topic
            except UnicodeDecodeError:  # a broker should never pass one on; keep it visible
                topic = repr(msg._topic)
            item = Received(
                topic=topic,
                payload=bytes(msg.payload),
                qos=msg.qos,
                retain=bool(msg.retain),
                mid=msg.mid,
                received=datetime.now(UTC),
                dup=bool(msg.dup),
            )
            if self._on_message is not None:
                self._on_message(item)
        except Exception:
            log.exception("mqtt %s: on_message failed", self.url)


def _hint(code: int, username: str | None) -> str:
    if code in (0x86, 0x87):
        return (
            " (check --username and the password)"
            if username
            else " (the broker wants a user name: --username and --password-stdin)"
        )
    if code == 0x85:
        return " (the client id: --client-id)"
    return ""


class MqttPublisher:
    """A publishing client (the demo plant's gateways, tests), reconnecting in the background.

    >>> with MqttPublisher("127.0.0.1", 18830, client_id="gw") as pub:
    ...     pub.publish("plant/GW-1/status", b'{"online": true}', retain=True)
    ...     pub.wait_published()
    """

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
        tls: Tls | None = None,
        max_queued: int = 10_000,
        wait_s: float = 10.0,
    ) -> None:
        self.url = f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"
        self.host = host
        self.port = port
        self.wait_s = wait_s
        self._connected = False
        self._refused: str | None = None
        self._lock = threading.Lock()
        self._unacked: set[int] = set()
        self._early: set[int] = set()  # acknowledged before publish() returned
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        _configure(self._client, username, password, tls)
        # While the broker is away paho keeps QoS 1 messages for later; not without bound.
        self._client.max_queued_messages_set(max_queued)
        self._client.reconnect_delay_set(1, 10)
        self._client.on_connect = self._handle_connect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_publish = self._handle_publish
        self._started = False

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> bool:
        """Connect in the background; True once connected within ``wait_s``.

        Raises BrokerRefused when the broker refused the credentials or the client id.
        """
        self._client.connect_async(self.host, self.port, KEEPALIVE_S)
        self._client.loop_start()
        self._started = True
        deadline = time.monotonic() + self.wait_s
        while not self._connected and self._refused is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._refused is not None:
            self.close()
            raise BrokerRefused(self._refused)
        return self._connected

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> bool:
        """Queue one message; False when paho refused it (e.g. its queue is full)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0 and info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                else:
                    self._unacked.add(info.mid)
        return info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)

    def wait_published(self, timeout_s: float = 5.0) -> bool:
        """Wait until the broker acknowledged every QoS 1 message published so far."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._unacked:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    def __enter__(self) -> MqttPublisher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- paho callbacks (paho's thread) -----------------------------------------------------

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt %s refused the connection: %s", self.url, reason)
            if reason.value in FATAL_CONNACK:
                self._refused = f"{self.url} refused the connection: {reason}"
                client.disconnect()
        else:
            self._connected = True

    def _handle_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        log.debug("mqtt %s: cannot connect, retrying", self.url)

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any
    ) -> None:
        self._connected = False

    def _handle_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._early.add(mid)
