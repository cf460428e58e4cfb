"""``hazwatch collect modbus``: poll one Modbus TCP gateway by a register map until stopped.

    hazwatch collect modbus --host 127.0.0.1 --port 5020 --map plant.csv --enterprise 3

Unknown tags are created under the enterprise (``--enterprise`` or ``[site] enterprise``),
unknown gateways and vibration sensors named by the map's ``device`` column are registered
too (audited as ``collector:modbus``). SIGTERM or Ctrl-C stops polling; what the writer
still buffers is written (or spooled) before the process exits 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import click
import psycopg

from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.settings import Settings
from hazwatch.supervisor import stop_on_signals
from ingest.commands import device_by_code, enterprise_ref, spool_name

if TYPE_CHECKING:  # numpy and pymodbus load only when the command runs
    from ingest.modbus.decode import RegisterMap

log = logging.getLogger(__name__)
REASON = "named by a Modbus register map"


class _HasSettings(Protocol):
    settings: Settings


@click.command("modbus")
@click.option("--host", required=True, help="Gateway address, e.g. 192.168.10.20.")
@click.option("--port", type=click.IntRange(1, 65535), default=502, show_default=True)
@click.option(
    "--map",
    "map_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Register map CSV (docs/modbus-register-map.md).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Poll interval in seconds for rows without their own interval_s.",
)
@click.option("--enterprise", help="Enterprise id, code or exact name (default [site] enterprise).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.05, max=60),
    default=1.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option(
    "--max-gap",
    type=click.IntRange(0, 124),
    default=8,
    show_default=True,
    help="Unmapped registers a coalesced read may span (0: only touching registers); a "
    "device that refuses them is then read in mapped runs.",
)
@click.pass_obj
def modbus(
    obj: _HasSettings,
    host: str,
    port: int,
    map_file: Path,
    interval: float,
    enterprise: str | None,
    timeout: float,
    max_gap: int,
) -> None:
    """Poll a Modbus TCP gateway into the database until SIGTERM or Ctrl-C."""
    from ingest.modbus.decode import RegisterMap

    # The map first: a bad file fails in milliseconds, before any connection is made.
    rmap = RegisterMap.from_csv(map_file)
    settings = obj.settings
    ref = enterprise_ref(enterprise, settings)

    from hazwatch.db import connect
    from ingest.modbus.collector import ModbusCollector
    from ingest.modbus.transport import ModbusTransport
    from ingest.writer import Writer

    actor = Actor(None, "collector:modbus")
    with connect(settings, autocommit=True) as conn:
        tag_ids, device_ids = resolve_ids(conn, actor, rmap, ref, host, port)

    with (
        stop_on_signals(f"modbus {host}:{port}") as stop,
        Writer(settings, name=spool_name("modbus", host, port)) as writer,
        ModbusTransport(host, port, timeout_s=timeout) as transport,
    ):
        collector = ModbusCollector(
            transport,
            rmap,
            writer,
            tag_ids=tag_ids,
            device_ids=device_ids,
            interval_s=interval,
            max_gap=max_gap,
        )
        blocks = sum(len(g.blocks) for g in collector.groups)
        click.echo(
            f"collecting {len(rmap.points)} points from {host}:{port} in {blocks} reads "
            f"per round ({', '.join(f'{g.interval_s:g} s' for g in collector.groups)}); "
            "stop with Ctrl-C or SIGTERM",
            err=True,
        )
        collector.run(stop)
        writer.flush()
        s = collector.stats
        click.echo(
            f"stopped: {s.samples} samples, {s.vibration} overall rows, {s.waveforms} "
            f"waveforms, {s.health} health rows, {s.rejected} rejected",
            err=True,
        )


def resolve_ids(
    conn: psycopg.Connection,
    actor: Actor,
    rmap: RegisterMap,
    enterprise_ref: str,
    host: str,
    port: int,
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Tag ids and device ids for every point of the map, creating what is missing.

    >>> tag_ids, device_ids = resolve_ids(conn, Actor(None, "x"), rmap, "3", "10.0.0.5", 502)
    """
    from ingest.modbus.decode import OVERALL_FIELDS, WAVEFORM_FIELD
    from ingest.tags import TagResolver

    enterprise_id = registers.resolve(conn, "enterprise", enterprise_ref)

    resolver = TagResolver(conn, enterprise_id, actor)
    resolver.load()
    tag_ids: dict[str, int] = {}
    for p in rmap.tags():
        assert p.tag is not None
        table = "HR" if p.table == "holding" else "IR"
        tag_id = resolver.id_for(
            p.tag,
            source="modbus",
            source_address=f"{host}:{port} unit {p.unit_id} {table}{p.address} {p.type}",
            eng_unit=p.eng_unit,
        )
        assert tag_id is not None
        tag_ids[p.tag] = tag_id

    device_ids: dict[tuple[str, str], int] = {}
    values: dict[str, object]
    gateways = [d for d in rmap.devices() if d[0] == "gateway"]
    for kind, code in gateways:
        values = {"name": code, "protocol": "modbus_tcp", "host": host, "port": port}
        device_ids[(kind, code)] = device_by_code(
            conn, actor, "gateway", enterprise_id, code, values, reason=REASON
        )
    gateway_id = device_ids[gateways[0]] if len(gateways) == 1 else None
    for kind, code in rmap.devices():
        if kind != "sensor":
            continue
        fields = {p.field for p in rmap.points if p.device == (kind, code)}
        values = {}
        if fields & {*OVERALL_FIELDS, WAVEFORM_FIELD}:
            values = {"kind": "vibration_triaxial"}
            if gateway_id is not None:
                values["gateway_id"] = gateway_id
        line = next(p.line for p in rmap.points if p.device == (kind, code))
        device_ids[(kind, code)] = device_by_code(
            conn, actor, "sensor", enterprise_id, code, values, reason=REASON,
            where=f"{rmap.source}:{line}",
        )  # fmt: skip
    return tag_ids, device_ids
