"""``hazwatch exchange …``: the upward exchange between levels (R9).

At the lower instance (an enterprise):
    hazwatch exchange key                       # prints this instance's public key
    hazwatch exchange push [--once]             # push queued items (the scheduler does too)
    hazwatch exchange status | retry
At the upper instance (a park, city or the province):
    hazwatch token create --name ent-jinan --role exchange --enterprise 91140100MA0XXXXX
    hazwatch exchange trust --token ent-jinan --public-key <key printed below>
"""

from __future__ import annotations

import getpass
import json
import threading
from typing import TYPE_CHECKING, Protocol

import click

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings

if TYPE_CHECKING:
    from workflows.upward import Pusher


class _HasSettings(Protocol):
    settings: Settings


@click.group("exchange")
def exchange() -> None:
    """Push alarms and summaries to the next level up; accept them from below."""


@exchange.command("key")
@click.pass_obj
def key(obj: _HasSettings) -> None:
    """Print this instance's Ed25519 public key (the key is made on first use)."""
    from workflows.upward import load_or_create_key
    from workflows.upward_protocol import public_key_text

    settings = obj.settings
    click.echo(public_key_text(load_or_create_key(settings.path(settings.upstream.key_file))))


@exchange.command("trust")
@click.option("--token", "token_name", required=True, help="Name of the exchange token.")
@click.option("--public-key", required=True, help="What `hazwatch exchange key` printed below.")
@click.pass_obj
def trust(obj: _HasSettings, token_name: str, public_key: str) -> None:
    """Register the key that signs the batches sent with an exchange token (audited)."""
    from hazwatch import registers
    from hazwatch.db import connect
    from workflows.upward_protocol import load_public_key

    load_public_key(public_key)  # a typo fails here, not at the first push
    actor = Actor(id=None, name=f"cli:{getpass.getuser()}")
    with connect(obj.settings, autocommit=True) as conn:
        row = conn.execute(
            "SELECT t.id, t.role, k.id FROM auth.api_token t LEFT JOIN exchange.peer_key k"
            " ON k.token_id = t.id WHERE t.name = %s AND t.revoked_at IS NULL",
            (token_name,),
        ).fetchone()
        if row is None:
            raise HazwatchError(f"no valid token named {token_name!r}")
        if row[1] != "exchange":
            raise HazwatchError(f"token {token_name!r} has role {row[1]}, not exchange")
        values = {"token_id": row[0], "public_key": public_key.strip()}
        if row[2] is None:
            registers.insert(conn, actor, "peer_key", values, reason="exchange peer trusted")
        else:
            registers.update(conn, actor, "peer_key", row[2], values, reason="exchange key changed")
    click.echo(f"token {token_name} now signs with {public_key.strip()}")


@exchange.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_obj
def status(obj: _HasSettings, as_json: bool) -> None:
    """Queued, sent and rejected items per feed, with the last error."""
    from hazwatch.db import connect
    from workflows.upward import outbox_status

    with connect(obj.settings, autocommit=True) as conn:
        rows = outbox_status(conn)
    if as_json:
        click.echo(json.dumps(rows, default=str, ensure_ascii=False))
        return
    for r in rows:
        state = "on" if r["enabled"] else "off"
        click.echo(
            f"{r['kind']:<14} {state:<3} pending {r['pending']:>8}  sent {r['sent']:>8}"
            f"  rejected {r['rejected']:>6}"
            + (f"  last error: {r['last_error']}" if r["last_error"] else "")
        )


@exchange.command("retry")
@click.option("--kind", help="Only this feed.")
@click.pass_obj
def retry(obj: _HasSettings, kind: str | None) -> None:
    """Queue rejected items again once their cause is fixed at the upper level."""
    from hazwatch.db import connect
    from workflows.upward import retry_rejected

    with connect(obj.settings, autocommit=True) as conn:
        click.echo(f"{retry_rejected(conn, kind)} items queued again")


@exchange.command("push")
@click.option("--once", is_flag=True, help="Push what is due, then exit (non-zero on failure).")
@click.pass_obj
def push(obj: _HasSettings, once: bool) -> None:
    """Push queued items to [upstream] url until SIGTERM (or once)."""
    from hazwatch.db import connect
    from hazwatch.logs import setup_logging
    from hazwatch.supervisor import stop_on_signals
    from workflows.upward import Pusher

    settings = obj.settings
    pusher = Pusher.from_settings(settings)
    if once:
        with connect(settings, autocommit=True) as conn:
            pusher.enable_feeds(conn)
            total = 0
            while True:
                res = pusher.push_once(conn)
                if res.error:
                    raise HazwatchError(f"push failed ({res.pending} pending): {res.error}")
                total += res.sent
                if res.sent + res.rejected == 0:
                    break
        click.echo(f"pushed {total} items; {res.pending} pending")
        return
    setup_logging(settings.log, process="exchange")
    with stop_on_signals("exchange") as stop:
        run_pusher(settings, pusher, stop)


def run_pusher(settings: Settings, pusher: Pusher, stop: threading.Event) -> None:
    """Push every ``[upstream] push_every_s`` (at once while a backlog drains) until ``stop``."""
    import psycopg

    from hazwatch.db import connect

    every = settings.upstream.push_every_s
    while not stop.is_set():
        try:
            with connect(settings, autocommit=True) as conn:
                pusher.enable_feeds(conn)
                while not stop.is_set():
                    res = pusher.push_once(conn)
                    if res.sent + res.rejected == 0:
                        stop.wait(every)
        except psycopg.OperationalError:
            stop.wait(every)  # the local database is down (writers spool meanwhile)
