"""``hazwatch collect opcua``: subscribe to an OPC UA server's values and alarms until stopped.

    hazwatch collect opcua --endpoint opc.tcp://10.1.2.3:4840 --map dcs.csv --enterprise 3
    hazwatch collect opcua --endpoint opc.tcp://dcs:4840 --map dcs.csv \\
        --security SignAndEncrypt --cert collector.pem --key collector-key.pem

The map is a CSV with the columns ``node_id,tag`` (optionally ``eng_unit,description``).
Unknown tags are created under the enterprise (``--enterprise`` or ``[site] enterprise``),
so are tags for alarms whose source node is not in the map (named by the event's SourceName);
the endpoint is registered as an OPC UA gateway, whose id the collector's health rows carry
(all audited as ``collector:opcua``). SIGTERM or Ctrl-C stops collecting; what is buffered is
written (or spooled) before the process exits 0.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import click
import psycopg

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings
from hazwatch.supervisor import stop_on_signals
from ingest.commands import device_by_code, enterprise_ref, read_text, spool_name

log = logging.getLogger(__name__)

ACTOR = Actor(None, "collector:opcua")


class _HasSettings(Protocol):
    settings: Settings


@click.command("opcua")
@click.option("--endpoint", required=True, help="Server URL, e.g. opc.tcp://10.1.2.3:4840.")
@click.option(
    "--map",
    "map_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with the columns node_id,tag (optionally eng_unit,description).",
)
@click.option("--enterprise", help="Enterprise id, code or exact name (default [site] enterprise).")
@click.option(
    "--security",
    type=click.Choice(["None", "Sign", "SignAndEncrypt"]),
    default="None",
    show_default=True,
    help="Message security (policy Basic256Sha256).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Client application certificate (PEM or DER), for Sign and SignAndEncrypt.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key of the certificate (PEM or DER).",
)
@click.option(
    "--server-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The server's certificate (default: the one its endpoint list gives).",
)
@click.option(
    "--events/--no-events",
    default=True,
    show_default=True,
    help="Also collect Alarms & Conditions events of the Server object.",
)
@click.option(
    "--publishing-interval",
    type=click.FloatRange(min=10),
    default=250,
    show_default=True,
    help="Subscription publishing interval in milliseconds.",
)
@click.pass_obj
def opcua(
    obj: _HasSettings,
    endpoint: str,
    map_file: Path,
    enterprise: str | None,
    security: str,
    cert: Path | None,
    key: Path | None,
    server_cert: Path | None,
    events: bool,
    publishing_interval: float,
) -> None:
    """Collect values and alarm events from an OPC UA server until SIGTERM or Ctrl-C."""
    from ingest.opcua.decode import MapError, parse_map

    # The cheap checks first: a bad map or option fails before any connection is made.
    if not re.match(r"^opc\.tcp://[^/:]+(:\d+)?(/.*)?$", endpoint):
        raise click.BadParameter("expected opc.tcp://HOST[:PORT][/PATH]", param_hint="--endpoint")
    if security != "None" and (cert is None or key is None):
        raise click.UsageError(f"--security {security} needs --cert and --key")
    try:
        rows = parse_map(read_text(map_file), str(map_file))
    except MapError as exc:
        raise HazwatchError(str(exc)) from None
    settings = obj.settings
    ref = enterprise_ref(enterprise, settings)

    from hazwatch.db import connect
    from ingest.opcua.collector import OpcUaCollector
    from ingest.opcua.transport import Security
    from ingest.tags import TagResolver
    from ingest.writer import Writer

    url = urlparse(endpoint)
    host, port = url.hostname or "", url.port or 4840
    # Tag look-ups for alarm sources happen later, in the collector's worker thread: they get
    # their own connection.
    with connect(settings, autocommit=True) as conn, connect(settings, autocommit=True) as aconn:
        enterprise_id = registers.resolve(conn, "enterprise", ref)
        resolver = TagResolver(conn, enterprise_id, ACTOR)
        resolver.load()
        nodes: dict[str, int] = {}
        for row in rows:
            tag_id = resolver.id_for(
                row.tag, source="opcua", source_address=row.node_id, eng_unit=row.eng_unit
            )
            assert tag_id is not None
            nodes[row.node_id] = tag_id
        device_id = gateway_id(conn, enterprise_id, endpoint, host, port)
        points = load_points(conn, enterprise_id)
        alarm_resolver = TagResolver(aconn, enterprise_id, ACTOR)
        alarm_resolver.load()

        def tag_for_source(node_id: str, name: str) -> int | None:
            return alarm_resolver.id_for(name or node_id, source="opcua", source_address=node_id)

        def points_for(tag_id: int) -> Mapping[str, tuple[int, str]]:
            return points.get(tag_id, {})

        # One spool per endpoint: two writers must not share a spool file.
        with (
            stop_on_signals(f"opcua {endpoint}") as stop,
            Writer(settings, name=spool_name("opcua", host, port)) as writer,
        ):
            collector = OpcUaCollector(
                endpoint,
                nodes,
                writer,
                device_id=device_id,
                security=Security(security, cert, key, server_cert),  # type: ignore[arg-type]
                events=events,
                tag_for_source=tag_for_source,
                points_for=points_for,
                publishing_ms=publishing_interval,
            )
            click.echo(
                f"collecting {len(nodes)} nodes"
                f"{' and alarm events' if events else ''} from {endpoint} "
                f"(security {security}); stop with Ctrl-C or SIGTERM",
                err=True,
            )
            collector.run(stop)
            writer.flush()
            s = collector.stats
            click.echo(
                f"stopped: {s.samples} samples, {s.alarm_events} alarm events, "
                f"{s.health} health rows, {s.rejected} rejected, {s.outages} outages",
                err=True,
            )


def gateway_id(
    conn: psycopg.Connection, enterprise_id: int, endpoint: str, host: str, port: int
) -> int:
    """The registry.gateway row of an OPC UA endpoint (code ``opcua:HOST:PORT``), created
    when missing; its id is the device_id of the collector's health rows."""
    code = f"opcua:{host}:{port}"
    return device_by_code(
        conn,
        ACTOR,
        "gateway",
        enterprise_id,
        code,
        {"name": endpoint, "protocol": "opcua", "host": host, "port": port},
        reason="OPC UA endpoint of a collector",
    )


def load_points(
    conn: psycopg.Connection, enterprise_id: int
) -> dict[int, dict[str, tuple[int, str]]]:
    """The enterprise's alarm points: {tag_id: {condition: (point_id, category)}}."""
    out: dict[int, dict[str, tuple[int, str]]] = {}
    for point_id, tag_id, condition, category in conn.execute(
        "SELECT p.id, p.tag_id, p.condition, p.category FROM registry.alarm_point p"
        " JOIN registry.tag t ON t.id = p.tag_id WHERE t.enterprise_id = %s",
        (enterprise_id,),
    ):
        out.setdefault(int(tag_id), {})[condition] = (int(point_id), category)
    return out
