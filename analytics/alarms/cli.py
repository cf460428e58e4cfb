"""``hazwatch alarms …``: alarm records and KPIs (issue 7, A3, A19).

    hazwatch alarms kpi --from 2026-03-01T00:00 --to 2026-03-08T00:00 --unit U1 --json
    hazwatch alarms build              # turn new alarm events into records now

Times are ISO 8601; without an offset they are read in ``--tz`` (default Asia/Shanghai).
``--unit`` takes a unit id, or a code / name (with ``--enterprise`` when several enterprises
use it); the unit's sections are included. Exit status 0, 1 on errors (``error: …``), 2 on
usage errors.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import psycopg

from hazwatch.errors import HazwatchError
from hazwatch.settings import Settings


class _Obj(Protocol):
    @property
    def settings(self) -> Settings: ...


@click.group("alarms")
def alarms() -> None:
    """Process alarm records and KPIs (A3-A19)."""


def parse_time(text: str, tz: ZoneInfo, option: str) -> datetime:
    """An ISO 8601 time; a time without an offset is in ``tz``."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T08:00 or 2026-03-01T00:00+08:00)",
            param_hint=option,
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=tz)


def resolve_unit(conn: psycopg.Connection, ref: str, enterprise: str | None) -> int:
    """A unit id from an id, code or name; ambiguous or unknown references are errors."""
    if ref.isdigit():
        row = conn.execute("SELECT id FROM registry.unit WHERE id = %s", (int(ref),)).fetchone()
        if row:
            return int(row[0])
    rows = conn.execute(
        "SELECT u.id, e.name FROM registry.unit u JOIN registry.enterprise e"
        " ON e.id = u.enterprise_id WHERE (u.code = %s OR u.name = %s)"
        " AND (%s::text IS NULL OR e.name = %s OR e.code = %s OR e.id::text = %s)",
        (ref, ref, enterprise, enterprise, enterprise, enterprise),
    ).fetchall()
    if not rows:
        raise HazwatchError(f"--unit: no unit with id, code or name {ref!r}")
    if len(rows) > 1:
        names = ", ".join(sorted({r[1] for r in rows}))
        raise HazwatchError(f"--unit: {ref!r} names units of several enterprises ({names});"
                            " add --enterprise")  # fmt: skip
    return int(rows[0][0])


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {value!r}") from None


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


@alarms.command("kpi")
@click.option("--from", "start", required=True, help="Window start (ISO 8601).")
@click.option("--to", "end", required=True, help="Window end, exclusive (ISO 8601).")
@click.option("--unit", help="Unit id, code or name (its sections included).")
@click.option("--enterprise", help="Enterprise id, code or name (narrows --unit or the KPIs).")
@click.option("--tz", default="Asia/Shanghai", show_default=True, callback=_zone,
              help="Zone of times given without an offset.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def kpi(
    obj: _Obj,
    start: str,
    end: str,
    unit: str | None,
    enterprise: str | None,
    tz: ZoneInfo,
    as_json: bool,
) -> None:
    """Print the A19 KPIs and the flood, chattering and standing counts of a window."""
    from analytics.alarms.kpis import TARGETS, window_kpis
    from analytics.alarms.queries import Filters
    from hazwatch.db import connect

    t0, t1 = parse_time(start, tz, "--from"), parse_time(end, tz, "--to")
    if t1 <= t0:
        raise click.BadParameter("must be after --from", param_hint="--to")
    with connect(obj.settings, autocommit=True) as conn:
        unit_id = resolve_unit(conn, unit, enterprise) if unit else None
        enterprise_id = None
        if enterprise and not unit:
            from hazwatch import registers

            enterprise_id = registers.resolve(conn, "enterprise", enterprise)
        result = window_kpis(conn, t0, t1, filters=Filters(enterprise_id, unit_id=unit_id))
    data = result.as_json()
    data["unit_id"] = unit_id
    data["enterprise_id"] = enterprise_id
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"window {data['from']} .. {data['to']} ({data['hours']} h), "
               f"counting KPIs from {data['source']}")  # fmt: skip
    for key, label in (
        ("alarms", "alarms"),
        ("avg_per_hour", "average per hour"),
        ("avg_per_10min", "average per 10 min"),
        ("ack_within_30s_pct", "acknowledged within 30 s, %"),
        ("handled_within_30min_pct", "handled within 30 min, %"),
        ("standing_over_24h", "standing over 24 h"),
        ("peak_10min", "peak in 10 min"),
        ("floods", "floods"),
        ("flood_time_pct", "time in flood, %"),
        ("chattering_tags", "chattering tags"),
    ):
        target = TARGETS.get(key)
        beside = f"  target {target.text} ({target.source})" if target and target.text else ""
        click.echo(f"  {label:<30} {_fmt(data[key]):>10}{beside}")
    prio = ", ".join(f"{k} {v}" for k, v in data["by_priority"].items())
    types = ", ".join(f"{k} {v}" for k, v in data["by_type"].items())
    click.echo(f"  {'by priority':<30} {prio}")
    click.echo(f"  {'by type':<30} {types}")


@alarms.command("build")
@click.pass_obj
def build_cmd(obj: _Obj) -> None:
    """Turn alarm events not yet seen into records now and refresh the alarm rollups (the
    scheduler does both by itself)."""
    from analytics.alarms.build import build
    from hazwatch.db import connect
    from hazwatch.rollups.catalog import ALARM_ROLLUPS
    from hazwatch.rollups.engine import refresh

    with connect(obj.settings, autocommit=True) as conn:
        res = build(conn)
        # Records of old events (an imported log) are late data for the rollups: the KPIs
        # see them once the rollups are refreshed.
        for rollup in ALARM_ROLLUPS:
            refresh(conn, rollup)
    wm = res.watermark.isoformat() if res.watermark else "—"
    click.echo(f"alarm records: {res.tags} tags replayed, {res.written} written, "
               f"{res.deleted} deleted, watermark {wm}, {res.duration_s:.2f} s")  # fmt: skip
