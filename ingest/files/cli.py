"""``hazwatch import alarms``: import a DCS alarm-log export into alarm.event (A3).

    hazwatch import alarms --format supcon-ecs700 报警记录.csv --enterprise 山西某化工有限公司
    hazwatch import alarms --format deltav chronicle.txt --tz Asia/Shanghai --dry-run

Exit status 0 when the file was processed (quarantined lines included), 1 on errors (one line
``error: …``), 2 on usage errors (unknown format, missing file, unknown time zone).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from hazwatch.errors import HazwatchError
from hazwatch.settings import Settings
from ingest.commands import enterprise_ref
from ingest.files.alarm_import import ImportResult, import_alarm_file
from ingest.files.decode import FORMATS


class _Obj(Protocol):
    """What ``hazwatch`` hands to its commands (``hazwatch.cli._Ctx``)."""

    @property
    def settings(self) -> Settings: ...


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)"
        ) from None


@click.command("alarms")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(list(FORMATS), case_sensitive=False),
    help="Layout of the export: "
    + "; ".join(f"{f.name} = {f.title}" for f in FORMATS.values())
    + ". See docs/alarm-log-formats.md.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--enterprise", help="Enterprise id, code or exact name (default: [site] enterprise)."
)
@click.option(
    "--tz",
    "tz",
    default="Asia/Shanghai",
    show_default=True,
    callback=_zone,
    help="Time zone of the local times in the file.",
)
@click.option("--dry-run", is_flag=True, help="Do everything, report, then roll it all back.")
@click.pass_obj
def alarms(
    obj: _Obj, fmt: str, file: Path, enterprise: str | None, tz: ZoneInfo, dry_run: bool
) -> None:
    """Import a DCS alarm log (alarm, acknowledge, return, shelve, suppress … events)."""
    from hazwatch.db import connect

    settings = obj.settings
    try:
        ref = enterprise_ref(enterprise, settings)
    except HazwatchError as exc:
        raise click.UsageError(str(exc)) from None
    with connect(settings, autocommit=True) as conn:
        result = import_alarm_file(conn, file, fmt.lower(), enterprise=ref, tz=tz, dry_run=dry_run)
    for line in summary_lines(result, tz):
        click.echo(line)


def summary_lines(result: ImportResult, tz: tzinfo) -> list[str]:
    """The summary printed after an import, one ``name  value`` pair a line.

    >>> summary_lines(result, ZoneInfo("Asia/Shanghai"))[1]
    'lines         14'
    """
    r = result
    if r.dry_run:
        head = f"dry run of {r.file_name} ({r.format}): nothing was written"
    else:
        head = f"import of {r.file_name} ({r.format}): import run {r.run_id}"
    out = [
        head,
        f"lines         {r.lines}",
        f"events        {r.events} from {r.rows} lines",
        f"imported      {r.imported}",
        f"duplicates    {r.duplicates}",
        f"quarantined   {r.quarantined}",
    ]
    out += [f"  line {pos}: {reason}" for pos, reason in r.first_reasons]
    if r.quarantined > len(r.first_reasons):
        out.append(
            f"  … and {r.quarantined - len(r.first_reasons)} more in ingest.quarantine "
            f"(source 'import:{r.format}', origin '{r.file_name}')"
        )
    ignored = sum(r.ignored.values())
    detail = ", ".join(f"{reason} {n}" for reason, n in r.ignored.most_common())
    out.append(f"ignored       {ignored}" + (f" ({detail})" if detail else ""))
    out.append(
        f"new tags      {len(r.new_tags)}" + (f" ({_names(r.new_tags)})" if r.new_tags else "")
    )
    encoding = r.encoding + (" (byte-order mark)" if r.encoding == "utf-8-sig" else "")
    if r.replaced_bytes:
        encoding += f", {r.replaced_bytes} undecodable characters"
    out.append(f"encoding      {encoding}")
    out.append(f"time range    {_when(r.first_time, tz)} .. {_when(r.last_time, tz)} ({tz})")
    return out


def _names(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", … {len(names) - most} more" if len(names) > most else "")


def _when(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return "-"
    return value.astimezone(tz).isoformat(sep=" ", timespec="milliseconds")
