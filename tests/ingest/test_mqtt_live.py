"""The MQTT transport and collector against a real Mosquitto broker on a free port.

Every test starts its own broker (``ingest.mqtt.broker.Mosquitto``: generated config,
127.0.0.1, killed afterwards), never the system one on 1883. Collectors run in a thread as in
production; every test fails when it leaves a thread running (paho's loop included).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hazwatch.registers import Actor
from hazwatch.settings import load_settings
from ingest.mqtt.broker import Mosquitto
from ingest.mqtt.cli import gateway_id
from ingest.mqtt.collector import MqttCollector
from ingest.mqtt.decode import HealthReport, MqttMap, Reading, load_map
from ingest.mqtt.transport import BrokerRefused, MqttPublisher, MqttTransport, Received, Tls
from ingest.tags import TagResolver
from ingest.types import GOOD, Sample
from ingest.writer import Writer
from tests.conftest import find_free_port, make_enterprise
from tests.ingest.sinks import ListSink

DATA = Path(__file__).parent / "data" / "mqtt"
T0_MS = int(datetime(2026, 5, 1, 8, 0, tzinfo=UTC).timestamp() * 1000)


def mqtt_sink() -> ListSink:
    """MQTT carries values and health only: anything else fails the test."""
    return ListSink(refuse={"events", "vibration", "waveforms"})


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


pytestmark = pytest.mark.usefixtures("no_leaked_threads")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(find_free_port(), tmp_path / "broker") as b:
        yield b


@pytest.fixture(scope="module")
def plant_map() -> MqttMap:
    return load_map((DATA / "plant.toml").read_text(), "plant.toml")


class Ids:
    """Tag and device ids handed out on first sight, like the CLI's registry."""

    def __init__(self) -> None:
        self.tags: dict[str, int] = {}
        self.devices: dict[tuple[str, str], int] = {}

    def tag_for(self, r: Reading) -> int:
        return self.tags.setdefault(r.tag, 100 + len(self.tags))

    def device_for(self, h: HealthReport) -> int:
        return self.devices.setdefault((h.device_kind, h.code), 500 + len(self.devices))


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def transport(port: int, client_id: str, **kw: object) -> MqttTransport:
    # Quick retries: the tests restart brokers and should not wait paho's default second.
    return MqttTransport(
        "127.0.0.1",
        port,
        client_id=client_id,
        backoff_start_s=0.1,
        backoff_max_s=0.5,
        **kw,  # type: ignore[arg-type]
    )


@contextmanager
def running(collector: MqttCollector) -> Iterator[MqttCollector]:
    """``collector.run`` in a thread; stopped and joined on exit."""
    stop = threading.Event()
    error: list[BaseException] = []

    def main() -> None:
        try:
            collector.run(stop)
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=main, name="mqtt-collector")
    thread.start()
    try:
        assert wait_for(lambda: collector.online is not None or error, 10)
        yield collector
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive()
    if error:
        raise error[0]


def telemetry(ms: int, ch4: float, **extra: object) -> bytes:
    return json.dumps({"ts": ms, "values": {"ch4_lel": ch4}, **extra}).encode()


def publish_all(port: int, messages: list[tuple[str, bytes]], **kw: object) -> None:
    with MqttPublisher("127.0.0.1", port, client_id=f"pub-{uuid.uuid4().hex[:8]}", **kw) as pub:  # type: ignore[arg-type]
        for topic, payload in messages:
            assert pub.publish(topic, payload)
        assert pub.wait_published(5)


# -- the collector receives what was published -------------------------------------------------


def test_published_values_arrive_exactly(broker: Mosquitto, plant_map: MqttMap) -> None:
    sink, ids = mqtt_sink(), Ids()
    collector = MqttCollector(
        transport(broker.port, "c-exact"),
        plant_map,
        sink,
        device_id=7,
        tag_for=ids.tag_for,
        device_for=ids.device_for,
    )
    sent = []
    for i in range(40):
        sensor = f"GD-{i % 4:03d}"
        value = round(0.37 * i, 2)
        sent.append((f"plant/GW-{i % 2}/{sensor}/telemetry", T0_MS + i * 250, sensor, value))
    with running(collector):
        publish_all(
            broker.port,
            [
                (topic, telemetry(ms, v, status={"battery": 80.5, "rssi": -70}))
                for topic, ms, _s, v in sent
            ]
            + [("plant/GW-0/status", b'{"state": "online", "signal": -52}')],
        )
        assert wait_for(lambda: len(sink.samples) == 40 and len(sink.health) >= 6)
    expected = sorted(
        Sample(at(ms), ids.tags[f"{sensor}.CH4"], v, GOOD) for _t, ms, sensor, v in sent
    )
    assert sorted(sink.samples) == expected
    assert sink.rejected == []
    # One health row per device (state unchanged, health_every_s not yet over), sensors
    # registered under their gateway by the map.
    sensors = [h for h in sink.health if h.device_kind == "sensor"]
    assert sorted(h.device_id for h in sensors) == sorted(
        ids.devices[("sensor", f"GD-{n:03d}")] for n in range(4)
    )
    assert {(h.online, h.battery_pct, h.signal_dbm) for h in sensors} == {(True, 80.5, -70.0)}
    gw = [h for h in sink.health if h.device_kind == "gateway"]
    assert [(h.device_id, h.online, h.signal_dbm) for h in gw] == [
        (ids.devices[("gateway", "GW-0")], True, -52.0)
    ]
    # The broker connection: online while collecting, offline after the clean stop.
    assert sink.collector_states() == [True, False]
    assert {h.device_id for h in sink.health if h.device_kind == "collector"} == {7}
    assert (collector.stats.messages, collector.stats.samples, collector.stats.sessions) == (
        41, 40, 1,
    )  # fmt: skip


def test_state_changes_are_written_once_and_silence_means_offline(
    broker: Mosquitto, plant_map: MqttMap
) -> None:
    mmap = load_map(
        '[[topic]]\ntemplate = "plant/{gateway}/status"\n[topic.health]\ndevice = "gateway"\n'
        'code = "{gateway}"\nonline = "state"\nsilent_after_s = 0.6\n',
        "gw.toml",
    )
    sink, ids = mqtt_sink(), Ids()
    collector = MqttCollector(
        transport(broker.port, "c-silent"), mmap, sink, device_id=7, tag_for=ids.tag_for,
        device_for=ids.device_for, tick_s=0.05,
    )  # fmt: skip
    states = ["online", "online", "offline", "offline", "online"]
    with running(collector):
        publish_all(broker.port, [("plant/GW-9/status", json.dumps({"state": s}).encode())
                                  for s in states])  # fmt: skip
        assert wait_for(lambda: collector.stats.messages == 5)
        gw_rows = lambda: [h.online for h in sink.health if h.device_kind == "gateway"]  # noqa: E731
        assert gw_rows() == [True, False, True]
        # Then nothing for longer than silent_after_s: the gateway is offline (once).
        assert wait_for(lambda: gw_rows() == [True, False, True, False], 5)
        time.sleep(0.4)
        assert gw_rows() == [True, False, True, False]


# -- quarantine through the real writer -------------------------------------------------------


@pytest.fixture
def enterprise(conn: psycopg.Connection) -> int:
    return make_enterprise(conn, "MQTT test works")[0]


def test_bad_payloads_are_quarantined_and_good_ones_land(
    broker: Mosquitto, plant_map: MqttMap, db_url: str, conn: psycopg.Connection,
    enterprise: int, tmp_path: Path,
) -> None:  # fmt: skip
    resolver = TagResolver(conn, enterprise, Actor(None, "test"))
    lock = threading.Lock()

    def tag_for(r: Reading) -> int | None:
        with lock:  # the test's connection is shared with the assertions below
            return resolver.id_for(r.tag, source="mqtt", source_address=r.address)

    settings = load_settings(database_url=db_url, home=str(tmp_path))
    topic = "plant/GW-Q/GD-Q1/telemetry"
    with Writer(settings, name="mqtt-test") as writer:
        collector = MqttCollector(
            transport(broker.port, "c-quarantine"), plant_map, writer,
            device_id=gateway_id(conn, enterprise, "127.0.0.1", broker.port), tag_for=tag_for,
        )  # fmt: skip
        with running(collector):
            publish_all(
                broker.port,
                [
                    (topic, telemetry(T0_MS, 1.5)),
                    (topic, b'{"ts": 1777622400500, "values": {"ch4_lel": 2.5'),  # cut off
                    (topic, telemetry(T0_MS + 1000, 3.5)),
                    (
                        topic,
                        json.dumps({"ts": T0_MS + 2000, "values": {"ch4_lel": "E-05"}}).encode(),
                    ),  # a transmitter's error code where the value belongs
                    (topic, telemetry(T0_MS + 3000, 4.5)),
                ],
            )
            assert wait_for(lambda: collector.stats.messages == 5)
        writer.flush()
    with lock:
        tag_id = resolver.id_for("GD-Q1.CH4", create=False)
    rows = conn.execute(
        "SELECT time, value, quality FROM ts.sample WHERE tag_id = %s ORDER BY time", (tag_id,)
    ).fetchall()
    assert rows == [
        (at(T0_MS), 1.5, GOOD),
        (at(T0_MS + 1000), 3.5, GOOD),
        (at(T0_MS + 3000), 4.5, GOOD),
    ]
    quarantined = conn.execute(
        "SELECT source, origin, position, reason, raw FROM ingest.quarantine "
        "WHERE position = %s ORDER BY id",
        (topic,),
    ).fetchall()
    url = f"mqtt://127.0.0.1:{broker.port}"
    assert quarantined == [
        ("mqtt", url, topic, "malformed JSON: Expecting ',' delimiter: line 1 column 48 (char 47)",
         '{"ts": 1777622400500, "values": {"ch4_lel": 2.5'),
        ("mqtt", url, topic, "values.ch4_lel: not a number: 'E-05'",
         '{"ts": 1777622402000, "values": {"ch4_lel": "E-05"}}'),
    ]  # fmt: skip
    source = conn.execute(
        "SELECT source, source_address FROM registry.tag WHERE id = %s", (tag_id,)
    ).fetchone()
    assert source == ("mqtt", f"{topic} values.ch4_lel")


def test_unmatched_topics_are_quarantined_once(broker: Mosquitto) -> None:
    mmap = load_map(
        '[[topic]]\ntemplate = "site/gw-{n}/level"\n[[topic.value]]\npath = "$"\ntag = "LT-{n}"\n',
        "m.toml",
    )
    sink, ids = mqtt_sink(), Ids()
    collector = MqttCollector(transport(broker.port, "c-unmatched"), mmap, sink, device_id=7,
                              tag_for=ids.tag_for)  # fmt: skip
    with running(collector):
        publish_all(broker.port, [("site/router/level", b"1"), ("site/gw-3/level", b"2.5"),
                                  ("site/router/level", b"3")])  # fmt: skip
        assert wait_for(lambda: collector.stats.messages == 3)
    assert [(s.tag_id, s.value) for s in sink.samples] == [(ids.tags["LT-3"], 2.5)]
    assert [(r.position, r.reason) for r in sink.rejected] == [
        ("site/router/level", "the topic fits no entry of the map")
    ]
    assert collector.stats.unmatched == 2


# -- outages ------------------------------------------------------------------------------------


def test_broker_restart_reconnects_resubscribes_and_resumes(
    broker: Mosquitto, plant_map: MqttMap
) -> None:
    sink, ids = mqtt_sink(), Ids()
    tr = transport(broker.port, "c-restart")
    collector = MqttCollector(tr, plant_map, sink, device_id=7, tag_for=ids.tag_for)
    topic = "plant/GW-1/GD-R1/telemetry"
    with running(collector):
        publish_all(broker.port, [(topic, telemetry(T0_MS, 1.0))])
        assert wait_for(lambda: len(sink.samples) == 1)
        # Without persistence the restarted broker knows nothing of the session: the
        # collector must subscribe again by itself.
        broker.restart()
        assert wait_for(lambda: sink.collector_states() == [True, False, True], 10)
        assert tr.session_present is False
        publish_all(broker.port, [(topic, telemetry(T0_MS + 1000, 2.0))])
        assert wait_for(lambda: len(sink.samples) == 2)
    assert [s.value for s in sink.samples] == [1.0, 2.0]
    assert sink.collector_states() == [True, False, True, False]
    assert (collector.stats.sessions, collector.stats.outages) == (2, 1)


def test_qos1_messages_published_while_away_are_delivered(
    broker: Mosquitto, plant_map: MqttMap
) -> None:
    topic = "plant/GW-1/GD-P1/telemetry"
    sink, ids = mqtt_sink(), Ids()
    first = MqttCollector(transport(broker.port, "c-persist"), plant_map, sink, device_id=7,
                          tag_for=ids.tag_for)  # fmt: skip
    with running(first):
        publish_all(broker.port, [(topic, telemetry(T0_MS, 0.5))])
        assert wait_for(lambda: len(sink.samples) == 1)
    # The collector is away (a restart, an update): the broker keeps its session and queues.
    away = [(topic, telemetry(T0_MS + 1000 * (i + 1), float(i))) for i in range(25)]
    publish_all(broker.port, away)
    tr = transport(broker.port, "c-persist")
    second = MqttCollector(tr, plant_map, sink, device_id=7, tag_for=ids.tag_for)
    with running(second):
        assert wait_for(lambda: len(sink.samples) == 26)
        assert tr.session_present is True
    tag = ids.tags["GD-P1.CH4"]
    assert sink.samples[1:] == [
        Sample(at(T0_MS + 1000 * (i + 1)), tag, float(i)) for i in range(25)
    ]
    # Everything was acknowledged: a third start gets nothing again.
    third = MqttCollector(transport(broker.port, "c-persist"), plant_map, sink, device_id=7,
                          tag_for=ids.tag_for)  # fmt: skip
    with running(third):
        time.sleep(0.5)
    assert len(sink.samples) == 26


def test_broker_not_there_at_start_is_an_outage_until_it_comes(
    tmp_path: Path, plant_map: MqttMap
) -> None:
    port = find_free_port()
    sink, ids = mqtt_sink(), Ids()
    collector = MqttCollector(transport(port, "c-late"), plant_map, sink, device_id=7,
                              tag_for=ids.tag_for, connect_wait_s=2)  # fmt: skip
    with running(collector):
        assert wait_for(lambda: sink.collector_states() == [False])
        with Mosquitto(port, tmp_path / "late"):
            assert wait_for(lambda: sink.collector_states() == [False, True], 10)
            publish_all(port, [("plant/GW-1/GD-L1/telemetry", telemetry(T0_MS, 7.0))])
            assert wait_for(lambda: len(sink.samples) == 1)
            assert collector.stats.outages == 1


# -- credentials and TLS ------------------------------------------------------------------------


def test_username_and_password(tmp_path: Path, plant_map: MqttMap) -> None:
    port = find_free_port()
    with Mosquitto(port, tmp_path / "auth", users={"hazwatch": "s3cret-口令"}):
        sink, ids = mqtt_sink(), Ids()
        good = transport(port, "c-auth", username="hazwatch", password="s3cret-口令")
        collector = MqttCollector(good, plant_map, sink, device_id=7, tag_for=ids.tag_for)
        with running(collector):
            publish_all(port, [("plant/GW-1/GD-A1/telemetry", telemetry(T0_MS, 1.25))],
                        username="hazwatch", password="s3cret-口令")  # fmt: skip
            assert wait_for(lambda: len(sink.samples) == 1)

        bad = transport(port, "c-auth", username="hazwatch", password="wrong")
        with pytest.raises(BrokerRefused) as err:
            MqttCollector(bad, plant_map, mqtt_sink(), device_id=7, tag_for=ids.tag_for).run(
                threading.Event()
            )
        assert str(err.value) == (
            f"mqtt://127.0.0.1:{port} refused the connection: Not authorized "
            "(check --username and the password)"
        )
        anonymous = transport(port, "c-anon")
        with pytest.raises(BrokerRefused, match="the broker wants a user name"):
            anonymous.start(["#"], on_message=lambda m: None)
        with pytest.raises(BrokerRefused, match="Not authorized"):
            publish_all(port, [("x", b"1")], username="hazwatch", password="nope")


def test_tls_with_the_broker_certificate_checked(tmp_path: Path, plant_map: MqttMap) -> None:
    ca, cert, key = make_certificates(tmp_path / "pki")
    port = find_free_port()
    with Mosquitto(port, tmp_path / "tls", tls=(ca, cert, key)) as b:
        assert b.url.startswith("mqtts://")
        sink, ids = mqtt_sink(), Ids()
        tr = transport(port, "c-tls", tls=Tls(ca_file=ca))
        assert tr.url == f"mqtts://127.0.0.1:{port}"
        collector = MqttCollector(tr, plant_map, sink, device_id=7, tag_for=ids.tag_for)
        with running(collector):
            publish_all(port, [("plant/GW-1/GD-T1/telemetry", telemetry(T0_MS, 9.5))],
                        tls=Tls(ca_file=ca))  # fmt: skip
            assert wait_for(lambda: len(sink.samples) == 1)
        # Plain MQTT to a TLS listener never connects: an outage, not a crash.
        plain = transport(port, "c-plain")
        states: list[bool] = []
        started = plain.start(
            ["#"], on_message=lambda m: None, on_state=lambda ok, _why: states.append(ok), wait_s=2
        )
        assert started is False
        plain.close()
        assert states and not any(states)


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True)
    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("hazwatch test CA"))
        .issuer_name(name("hazwatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


def test_received_is_plain_data() -> None:
    # Nothing of paho leaves the transport: the collector and tests see plain values.
    r = Received("a/b", b"1", 1, False, 7, datetime.now(UTC))
    assert (r.topic, r.payload, r.dup) == ("a/b", b"1", False)
    assert isinstance(r.received, dt.datetime)
