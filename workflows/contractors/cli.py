"""``hazwatch contractors``: the access-control simulator (demo, tests, trials) and Excel imports.

hazwatch contractors access-sim --port 18480 [--token T]
hazwatch contractors import-questions --enterprise 3 题库.xlsx
hazwatch contractors import-training --company 4 三级教育.xlsx
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from hazwatch.registers import SYSTEM


@click.group()
def contractors() -> None:
    """Contractor management (C1-C11): access-control simulator, imports."""


@contractors.command("access-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=18480, show_default=True)
@click.option("--token", default=None, help="bearer token the simulator requires")
def access_sim(host: str, port: int, token: str | None) -> None:
    """Run the access-control simulator until Ctrl-C or SIGTERM (it keeps cards in memory)."""
    from workflows.contractors.access_sim import serve

    stop = threading.Event()

    def _stop(*_args: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"access-control simulator on http://{host}:{port} (PUT /cards/<no>)")
    serve(host, port, token, stop)


@contractors.command("import-questions")
@click.option("--enterprise", "enterprise_id", type=int, required=True)
@click.option("--all-or-nothing", is_flag=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_questions_cmd(obj: Any, enterprise_id: int, all_or_nothing: bool, file: Path) -> None:
    """Import a question bank from an Excel sheet; bad rows are listed with their number."""
    from hazwatch.db import connect
    from workflows.contractors.training_import import import_questions

    with connect(obj.settings) as conn:
        report = import_questions(
            conn,
            SYSTEM,
            enterprise_id=enterprise_id,
            data=file.read_bytes(),
            all_or_nothing=all_or_nothing,
        )
    for n, why in report.errors:
        click.echo(f"row {n}: {why}", err=True)
    click.echo(f"{report.imported} questions imported, {len(report.errors)} rows refused")


@contractors.command("import-training")
@click.option("--company", "company_id", type=int, required=True, help="contractor company id")
@click.option("--all-or-nothing", is_flag=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_training_cmd(obj: Any, company_id: int, all_or_nothing: bool, file: Path) -> None:
    """Import three-level training records (厂级/车间级/班组级) of a company's people from an
    Excel sheet; bad rows are listed with their number, and the exit status is 1 if any."""
    from hazwatch.db import connect
    from workflows.contractors.training_import import import_training

    with connect(obj.settings) as conn:
        report = import_training(
            conn,
            SYSTEM,
            company_id=company_id,
            data=file.read_bytes(),
            home=obj.settings.home,
            all_or_nothing=all_or_nothing,
        )
    for n, why in report.errors:
        click.echo(f"row {n}: {why}", err=True)
    click.echo(f"{report.imported} training records imported, {len(report.errors)} rows refused")
    if report.errors:
        raise SystemExit(1)
