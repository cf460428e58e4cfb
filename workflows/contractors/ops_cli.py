"""``hazwatch contractors export|import|positioning-sim``: the contractor exchange file (C20)
and the demo's positioning feed (C12).

    hazwatch contractors export --enterprise 晋能化工 --out contractors.json
    hazwatch contractors import contractors.json --enterprise 晋能化工 [--dry-run]
    hazwatch contractors positioning-sim --enterprise 晋能化工 [--period 5]

Import prints what was imported and every bad record with its path and field; it exits 1
when any record was bad (the good ones are imported all the same, unless ``--dry-run``).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Protocol

import click

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings


class _HasSettings(Protocol):
    settings: Settings


# The ``contractors`` group belongs to the contractor CLI; these commands join it.
from workflows.contractors.cli import contractors  # noqa: E402


@contractors.command("export")
@click.option("--enterprise", required=True, help="Host enterprise: id, code or exact name.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")  # fmt: skip
@click.pass_obj
def export_cmd(obj: _HasSettings, enterprise: str, out: Path | None) -> None:
    """Write the enterprise's contractor data as exchange JSON."""
    from hazwatch import registers
    from hazwatch.db import connect
    from workflows.contractors.exchange_json import export

    with connect(obj.settings, autocommit=True) as conn:
        ent = registers.resolve(conn, "enterprise", enterprise)
        doc = export(conn, ent)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(
            f"{out}: {len(doc['companies'])} companies, {len(doc['persons'])} persons,"
            f" {len(doc['permits'])} permits",
            err=True,
        )


@contractors.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--enterprise", required=True, help="Host enterprise: id, code or exact name.")
@click.option("--dry-run", is_flag=True, help="Check and count; change nothing.")
@click.pass_obj
def import_cmd(obj: _HasSettings, file: Path, enterprise: str, dry_run: bool) -> None:
    """Import an exchange JSON file into the enterprise."""
    from hazwatch import registers
    from hazwatch.db import connect
    from workflows.contractors.exchange_json import import_document

    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HazwatchError(f"{file}: not UTF-8 JSON ({exc})") from None
    actor = Actor(id=None, name=f"cli:{getpass.getuser()}")
    with connect(obj.settings, autocommit=True) as conn:
        ent = registers.resolve(conn, "enterprise", enterprise)
        report = import_document(conn, actor, doc, enterprise_id=ent, dry_run=dry_run)
    click.echo(("dry run, nothing kept — " if dry_run else "") + report.summary())
    for problem in report.errors:
        click.echo(f"  {problem}")
    if report.errors:
        sys.exit(1)


@contractors.command("positioning-sim")
@click.option("--enterprise", required=True, help="Host enterprise: id, code or exact name.")
@click.option("--period", type=float, default=5.0, show_default=True, help="Seconds per step.")
@click.pass_obj
def positioning_sim_cmd(obj: _HasSettings, enterprise: str, period: float) -> None:
    """Feed simulated positions of the enterprise's tags until Ctrl-C or SIGTERM."""
    import signal
    import threading
    from typing import Any

    from hazwatch import registers
    from hazwatch.db import connect
    from workflows.contractors.positioning_sim import run

    settings = obj.settings
    with connect(settings, autocommit=True) as conn:
        ent = registers.resolve(conn, "enterprise", enterprise)
    stop = threading.Event()

    def _stop(*_args: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"positioning simulator for enterprise #{ent}, a step every {period:g} s")
    run(lambda: connect(settings, autocommit=True), ent, stop, period)
