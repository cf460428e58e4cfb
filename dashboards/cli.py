"""``hazwatch serve`` (the web server) and ``hazwatch token …`` (API tokens).

    hazwatch serve --host 0.0.0.0 --port 8050
    hazwatch token create --name telegraf-unit1 --role ingest --enterprise 3   # token: last line
    hazwatch token list
    hazwatch token revoke telegraf-unit1 --reason "agent retired"

``serve`` runs until SIGTERM or Ctrl-C; then waitress lets running requests finish (5 s at
most), the writer writes (or spools) what it buffers, and the process exits 0.
"""

from __future__ import annotations

import getpass
import logging
import signal
from datetime import datetime
from types import FrameType
from typing import NoReturn, Protocol

import click

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings

log = logging.getLogger(__name__)

#: waitress refuses bodies over this before reading them; below it, the write API answers
#: 413 in InfluxDB's words (its own limit is lower).
WAITRESS_MAX_BODY = 50_000_000


class _HasSettings(Protocol):
    settings: Settings


def _actor() -> Actor:
    return Actor(id=None, name=f"cli:{getpass.getuser()}")


# -- serve ---------------------------------------------------------------------------------


class _Stop(SystemExit):
    """Raised by the SIGTERM handler: waitress's loop ends on SystemExit and shuts down."""


@click.command("serve")
@click.option("--host", help="Address to listen on (default [web] host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default [web] port, 8050)."
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Request threads.",
)
@click.pass_obj
def serve(obj: _HasSettings, host: str | None, port: int | None, threads: int) -> None:
    """Serve the line-protocol write API (and /health) until SIGTERM or Ctrl-C."""
    from waitress import create_server as listen

    from dashboards.app import create_dash
    from dashboards.server import close_server, create_server, resources
    from hazwatch.logs import setup_logging

    settings = obj.settings
    setup_logging(settings.log, process="web")
    host = host or settings.web.host
    port = port or settings.web.port
    app = create_server(settings)
    try:
        create_dash(app, settings)  # the UI at /, on the same port
    except BaseException:
        close_server(app)
        raise
    try:
        server = listen(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="hazwatch",
            max_request_body_size=WAITRESS_MAX_BODY,
            clear_untrusted_proxy_headers=True,
        )
    except OSError as exc:
        close_server(app)
        raise HazwatchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def _stop(signum: int, _frame: FrameType | None) -> NoReturn:
        log.info("web: %s, stopping", signal.Signals(signum).name)
        raise _Stop(0)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(
        f"hazwatch web on http://{host}:{port} (UI: /; line protocol: /api/v2/write, /write; "
        "health: /health); stop with Ctrl-C or SIGTERM",
        err=True,
    )
    try:
        server.run()  # returns once _Stop ended the loop and running requests finished
    finally:
        # A second signal while flushing must not cut the flush short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        try:
            server.close()
            close_server(app)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    res = resources(app)
    line, written = res.line.stats, res.writer.stats
    click.echo(
        f"stopped: {line.points_written} points, {line.samples} samples, {line.line_errors} bad "
        f"lines; writer {written.rows_written} rows written, {written.spool_depth} spooled",
        err=True,
    )


# -- token ---------------------------------------------------------------------------------


@click.group("token")
def token() -> None:
    """API tokens for line-protocol agents (ingest), regulators' and exchange clients."""


@token.command("create")
@click.option("--name", required=True, help="Unique name, e.g. telegraf-unit1.")
@click.option(
    "--role", required=True, type=click.Choice(["ingest", "regulator", "exchange"])
)  # fmt: skip
@click.option("--enterprise", help="Enterprise id, code or exact name (ingest: where tags go).")
@click.option("--region", help="Region id, code or name (regulator: the area overseen).")
@click.pass_obj
def token_create(
    obj: _HasSettings, name: str, role: str, enterprise: str | None, region: str | None
) -> None:
    """Create a token; it is printed once, as the last line of standard output."""
    from hazwatch.db import connect
    from hazwatch.tokens import create_token

    settings = obj.settings
    with connect(settings, autocommit=True) as conn:
        secret = create_token(conn, _actor(), name, role, enterprise=enterprise, region=region)
    scope = f", enterprise {enterprise}" if enterprise else ""
    scope += f", region {region}" if region else ""
    click.echo(f"created token {name} (role {role}{scope}); it is shown only now:", err=True)
    if role == "ingest" and not enterprise and not settings.site.enterprise:
        click.echo(
            "note: no --enterprise and no [site] enterprise: writes with this token are "
            "refused (422) until [site] enterprise is set",
            err=True,
        )
    click.echo(secret)


@token.command("list")
@click.pass_obj
def token_list(obj: _HasSettings) -> None:
    """Every token: name, role, scope, created, last used, revoked (never the secret)."""
    from hazwatch.db import connect
    from hazwatch.tokens import list_tokens

    with connect(obj.settings, autocommit=True) as conn:
        rows = list_tokens(conn)
    click.echo(f"{'name':<24} {'role':<9} {'scope':<28} {'created':<16} {'last used':<16} status")
    for r in rows:
        scope = r.enterprise or r.region or "-"
        status = f"revoked {_when(r.revoked_at)}" if r.revoked_at else "active"
        click.echo(
            f"{r.name:<24} {r.role:<9} {scope:<28} {_when(r.created_at):<16} "
            f"{_when(r.last_used_at):<16} {status}"
        )


@token.command("revoke")
@click.argument("name")
@click.option("--reason", help="Why, for the audit log.")
@click.pass_obj
def token_revoke(obj: _HasSettings, name: str, reason: str | None) -> None:
    """Revoke a token by name: it is refused (401) from now on."""
    from hazwatch.db import connect
    from hazwatch.tokens import revoke_token

    with connect(obj.settings, autocommit=True) as conn:
        revoked_at = revoke_token(conn, _actor(), name, reason)
    click.echo(f"revoked token {name} at {_when(revoked_at)}", err=True)


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    return "-" if value is None else str(value)
