"""``hazwatch video run | status | prune``: the analysis worker and its housekeeping.

    hazwatch video run [--name N] [--node CODE --enterprise E] [--lease-s 15] [--capacity 8]
    hazwatch video status            # tasks, who holds them, state, frames, dropped
    hazwatch video prune [--keep "400 days"]   # alarms + snapshots, never below 6 months (V19)

Added to the ``video`` group by ``add_commands(video)`` at the end of ``video/cli.py``.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from hazwatch.errors import HazwatchError


def _settings() -> Any:
    return click.get_current_context().find_root().obj.settings


@click.command("run")
@click.option("--name", default=None, help="Worker name (default host:pid); unique per process.")
@click.option("--node", default=None, help="Analysis node code (video.node) this worker is on.")
@click.option("--enterprise", default=None, help="Only tasks of this enterprise (id/code/name).")
@click.option(
    "--lease-s",
    type=click.FloatRange(1, 3600),
    default=15.0,
    show_default=True,
    help="Lease length; a dead worker's tasks move after this long.",
)
@click.option(
    "--capacity",
    type=click.IntRange(1, 256),
    default=None,
    help="Streams at most (default: the node's max_streams, else 8).",
)
@click.option("--no-pace", is_flag=True, help="Analyse file sources as fast as possible.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnxruntime", "opencv", "tensorrt"]),
    default="auto",
    show_default=True,
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
def run_cmd(
    name: str | None,
    node: str | None,
    enterprise: str | None,
    lease_s: float,
    capacity: int | None,
    no_pace: bool,
    backend: str,
    duration: float | None,
) -> None:
    """Run analysis tasks from the database until stopped (SIGTERM/Ctrl-C)."""
    from hazwatch import registers
    from hazwatch.db import connect, database_url
    from hazwatch.logs import setup_logging
    from video.worker import Worker, WorkerOptions, default_name

    settings = _settings()
    setup_logging(settings.log, process="video")
    node_id = enterprise_id = None
    cap = capacity or 8
    with connect(settings, autocommit=True) as conn:
        if enterprise:
            enterprise_id = registers.resolve(conn, "enterprise", enterprise)
        if node:
            rows = conn.execute(
                "SELECT id, enterprise_id, max_streams FROM video.node WHERE code = %s"
                " AND (%s::integer IS NULL OR enterprise_id = %s)",
                (node, enterprise_id, enterprise_id),
            ).fetchall()
            if not rows:
                raise HazwatchError(f"--node {node!r}: no analysis node with that code")
            if len(rows) > 1:
                raise HazwatchError(
                    f"--node {node!r} exists in several enterprises: add --enterprise"
                )
            node_id, enterprise_id, node_cap = rows[0]
            cap = capacity or int(node_cap)
    opts = WorkerOptions(
        name=name or default_name(),
        lease_s=lease_s,
        capacity=cap,
        node_id=node_id,
        enterprise_id=enterprise_id,
        pace=not no_pace,
        backend=backend,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_a: stop.set())
    if duration is not None:
        threading.Timer(duration, stop.set).start()
    logging.getLogger("hazwatch.video.worker").info("worker %s starting", opts.name)
    click.echo(f"video worker {opts.name}: lease {lease_s:g} s, up to {cap} streams", err=True)
    Worker(database_url(settings), settings.home, opts).run(stop)


@click.command("status")
def status_cmd() -> None:
    """Tasks with their lease holder and stream state."""
    from hazwatch.db import connect

    with connect(_settings(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT t.id, t.code, c.code, t.enabled, l.worker, l.until > now(), s.state,"
            " s.frames, s.dropped, s.fps FROM video.task t"
            " JOIN registry.camera c ON c.id = t.camera_id"
            " LEFT JOIN video.task_lease l ON l.task_id = t.id"
            " LEFT JOIN video.task_status s ON s.task_id = t.id ORDER BY t.id"
        ).fetchall()
    if not rows:
        click.echo("no video tasks")
    for tid, code, cam, enabled, worker, valid, state, frames, dropped, fps in rows:
        holder = worker if valid else "-"
        click.echo(
            f"{tid:>4} {code:<16} camera {cam:<12} {'on ' if enabled else 'off'} "
            f"worker {holder:<24} {state or '-':<14} frames {frames or 0} "
            f"dropped {dropped or 0} fps {fps or 0:g}"
        )


@click.command("prune")
@click.option("--keep", default=None, help='Period kept, e.g. "400 days" (default: retention).')
def prune_cmd(keep: str | None) -> None:
    """Delete alarms and their snapshots older than the kept period (never below 6 months)."""
    from hazwatch.db import connect
    from hazwatch.retention import effective_policies, parse_period
    from video.store import prune

    settings = _settings()
    period = (
        parse_period(keep) if keep else effective_policies(settings.retention)["video.detection"]
    )
    if period is None:
        click.echo("video alarms are kept for ever")
        return
    with connect(settings, autocommit=True) as conn:
        n = prune(conn, settings.home, period)
    click.echo(f"{n} video alarms older than {period.days} days removed")


def add_commands(group: click.Group) -> None:
    for cmd in (run_cmd, status_cmd, prune_cmd):
        group.add_command(cmd)
