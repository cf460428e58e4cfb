"""``hazwatch collect mqtt``: subscribe to a broker's topics by a map file until stopped.

    hazwatch collect mqtt --host 10.0.0.5 --map gas.toml --enterprise 3
    printf '%s\\n' "$PW" | hazwatch collect mqtt --host broker --port 8883 --tls \\
        --ca-file ca.pem --username hazwatch --password-stdin --map gas.toml

The map (TOML or CSV, docs/mqtt.md) names topic templates, JSON paths and tag-name templates.
Tags are created under the enterprise (``--enterprise`` or ``[site] enterprise``) when a
message first names them; sensors and gateways named by the map's health entries are
registered too, and the broker itself as an MQTT gateway (code ``mqtt:HOST:PORT``) whose id
the collector's health rows carry (all audited as ``collector:mqtt``). The session is
persistent under a client id that stays the same across restarts (``--client-id``, default
derived from this machine, the broker and the map), so messages published while the
collector is stopped are delivered when it is back. SIGTERM or Ctrl-C stops collecting; what
is buffered is written (or spooled) before the process exits 0.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import click
import psycopg
from psycopg import sql

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, RegisterError
from hazwatch.settings import Settings
from hazwatch.supervisor import stop_on_signals
from ingest.commands import device_by_code, enterprise_ref, read_text, spool_name

if TYPE_CHECKING:  # paho loads only when the command runs
    from ingest.mqtt.decode import HealthReport, Reading

log = logging.getLogger(__name__)

ACTOR = Actor(None, "collector:mqtt")


class _HasSettings(Protocol):
    settings: Settings


@click.command("mqtt")
@click.option("--host", required=True, help="Broker address, e.g. 10.0.0.5.")
@click.option("--port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option(
    "--map",
    "map_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Topic map, .toml or .csv (docs/mqtt.md).",
)
@click.option("--enterprise", help="Enterprise id, code or exact name (default [site] enterprise).")
@click.option("--username", help="User name for the broker.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the broker password from standard input."
)
@click.option(
    "--client-id",
    help="MQTT client id of the persistent session (default: derived from this host, the "
    "broker and the map, the same on every start).",
)
@click.option("--tls", is_flag=True, help="TLS to the broker (port 8883 as a rule).")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificates for --tls (default: the system's).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Client certificate for --tls (PEM).",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key of --cert (PEM).",
)
@click.option(
    "--health-every",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds between health rows of a device whose state does not change.",
)
@click.pass_obj
def mqtt(
    obj: _HasSettings,
    host: str,
    port: int,
    map_file: Path,
    enterprise: str | None,
    username: str | None,
    password_stdin: bool,
    client_id: str | None,
    tls: bool,
    ca_file: Path | None,
    cert: Path | None,
    key: Path | None,
    health_every: float,
) -> None:
    """Collect an MQTT broker's topics into the database until SIGTERM or Ctrl-C."""
    from ingest.mqtt.decode import MapError, load_map

    # The cheap checks first: a bad option or map fails before any connection is made.
    if password_stdin and not username:
        raise click.UsageError("--password-stdin needs --username")
    if (ca_file or cert or key) and not tls:
        raise click.UsageError("--ca-file, --cert and --key need --tls")
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    try:
        mmap = load_map(read_text(map_file), str(map_file))
    except MapError as exc:
        raise HazwatchError(str(exc)) from None
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise HazwatchError("--password-stdin: standard input gave no password")
    settings = obj.settings
    ref = enterprise_ref(enterprise, settings)

    from hazwatch.db import connect
    from ingest.mqtt.collector import MqttCollector
    from ingest.mqtt.decode import describe
    from ingest.mqtt.transport import MqttTransport, Tls
    from ingest.writer import Writer

    with connect(settings, autocommit=True) as conn:
        enterprise_id = registers.resolve(conn, "enterprise", ref)
        broker_id = gateway_id(conn, enterprise_id, host, port, tls=tls)
    client_id = client_id or default_client_id(host, port, map_file)
    transport = MqttTransport(
        host,
        port,
        client_id=client_id,
        username=username,
        password=password,
        tls=Tls(ca_file, cert, key) if tls else None,
    )

    ids = Registry(settings, enterprise_id, host, port)
    try:
        # One spool per broker: two writers must not share a spool file.
        with (
            stop_on_signals(f"mqtt {transport.url}") as stop,
            Writer(settings, name=spool_name("mqtt", host, port)) as writer,
        ):
            collector = MqttCollector(
                transport,
                mmap,
                writer,
                device_id=broker_id,
                tag_for=ids.tag_for,
                device_for=ids.device_for,
                health_every_s=health_every,
            )
            for line in describe(mmap):
                log.info("mqtt %s: %s", transport.url, line)
            click.echo(
                f"collecting {len(mmap.topics)} topic templates "
                f"({len(mmap.subscriptions())} subscriptions) from {transport.url} as client "
                f"{client_id}; stop with Ctrl-C or SIGTERM",
                err=True,
            )
            collector.run(stop)
            writer.flush()
            s = collector.stats
            click.echo(
                f"stopped: {s.messages} messages, {s.samples} samples, {s.health} health rows, "
                f"{s.rejected} rejected, {s.outages} outages",
                err=True,
            )
    finally:
        ids.close()


def default_client_id(host: str, port: int, map_file: Path) -> str:
    """A client id that is the same on every start of the same collector, and different for
    another machine, broker or map (two collectors sharing one would throw each other off).

    >>> default_client_id("10.0.0.5", 1883, Path("gas.toml"))   # 'hazwatch-3f9c0a1b2d'
    """
    seed = f"{socket.gethostname()}|{host}|{port}|{map_file.resolve()}"
    # 19 characters: within the 23 that MQTT 3.1.1 brokers must accept.
    return "hazwatch-" + hashlib.sha256(seed.encode()).hexdigest()[:10]


def gateway_id(
    conn: psycopg.Connection, enterprise_id: int, host: str, port: int, *, tls: bool = False
) -> int:
    """The registry.gateway row of a broker (code ``mqtt:HOST:PORT``), created when missing;
    its id is the device_id of the collector's health rows."""
    code = f"mqtt:{host}:{port}"
    return device_by_code(
        conn,
        ACTOR,
        "gateway",
        enterprise_id,
        code,
        {
            "name": f"{'mqtts' if tls else 'mqtt'}://{host}:{port}",
            "protocol": "mqtt",
            "host": host,
            "port": port,
        },
        reason="MQTT broker of a collector",
    )


class Registry:
    """Tag, sensor and gateway ids for the collector's thread, created on first sight.

    It has a connection of its own, opened again after the database went away (the
    collector quarantines what arrives meanwhile with the reason); ids found are cached
    across connections.

    >>> ids = Registry(settings, enterprise_id=3, host="10.0.0.5", port=1883)
    >>> ids.tag_for(reading)    # 17
    """

    def __init__(self, settings: Settings, enterprise_id: int, host: str, port: int) -> None:
        self.settings = settings
        self.enterprise_id = enterprise_id
        self.host = host
        self.port = port
        self._conn: psycopg.Connection | None = None
        self._tags: dict[str, int] = {}
        self._devices: dict[tuple[str, str], int] = {}

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            from hazwatch.db import connect

            self._conn = connect(self.settings, autocommit=True, connect_timeout=5)
            if not self._tags:
                rows = self._conn.execute(
                    "SELECT name, id FROM registry.tag WHERE enterprise_id = %s",
                    (self.enterprise_id,),
                ).fetchall()
                self._tags.update({name: int(i) for name, i in rows})
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def tag_for(self, reading: Reading) -> int:
        if reading.tag in self._tags:
            return self._tags[reading.tag]
        from ingest.tags import TagResolver

        conn = self._connection()
        if reading.tag in self._tags:  # loaded with the connection
            return self._tags[reading.tag]
        tag_id = TagResolver(conn, self.enterprise_id, ACTOR).id_for(
            reading.tag,
            source="mqtt",
            source_address=f"{self.host}:{self.port} {reading.address}"[:500],
            eng_unit=reading.eng_unit,
        )
        assert tag_id is not None
        self._tags[reading.tag] = tag_id
        return tag_id

    def device_for(self, report: HealthReport) -> int:
        key = (report.device_kind, report.code)
        if key not in self._devices:
            gateway = None
            if report.device_kind == "sensor" and report.gateway:
                gateway = self._device("gateway", report.gateway, {})
            values: dict[str, object] = (
                {"kind": report.sensor_kind, **({"gateway_id": gateway} if gateway else {})}
                if report.device_kind == "sensor"
                else {}
            )
            self._devices[key] = self._device(report.device_kind, report.code, values)
        return self._devices[key]

    def _device(self, kind: str, code: str, values: dict[str, object]) -> int:
        if (kind, code) in self._devices:
            return self._devices[(kind, code)]
        conn = self._connection()
        # The table comes from the register catalogue (kind is 'sensor' or 'gateway').
        query = sql.SQL("SELECT id FROM {} WHERE enterprise_id = %s AND code = %s").format(
            registers.register(kind).qualified
        )
        row = conn.execute(query, (self.enterprise_id, code)).fetchone()
        if row is None:
            if kind == "gateway":
                values = {"name": code, "protocol": "mqtt", **values}
            try:
                device_id = registers.insert(
                    conn,
                    ACTOR,
                    kind,
                    {"enterprise_id": self.enterprise_id, "code": code, **values},
                    reason="named by an MQTT topic map",
                )
            except RegisterError:
                # Created a moment ago by another collector: use that one.
                row = conn.execute(query, (self.enterprise_id, code)).fetchone()
                if row is None:
                    raise
                device_id = int(row[0])
        else:
            device_id = int(row[0])
        self._devices[(kind, code)] = device_id
        return device_id
