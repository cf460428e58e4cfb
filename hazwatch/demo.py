"""``hazwatch demo``: the whole platform on the embedded default.

Brings up the database with the reference data and a demo administrator, then supervises the
platform's processes (now the scheduler; the ingest, web and worker issues add theirs here).

    run_demo(settings, say=print)
"""

from __future__ import annotations

from collections.abc import Callable

from hazwatch import auth
from hazwatch.db import connect
from hazwatch.registers import Actor
from hazwatch.settings import Settings

DEMO_USER = "admin"
#: Printed on purpose: the demo is a local sandbox. Production users are made with `user create`.
DEMO_PASSWORD = "hazwatch-demo"  # noqa: S105


def ensure_demo_user(settings: Settings) -> bool:
    """Create the demo administrator unless a user of that name exists. True when created."""
    with connect(settings, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM auth.app_user WHERE lower(name) = %s", (DEMO_USER,)
        ).fetchone()
        if exists:
            return False
        auth.create_user(
            conn,
            Actor(id=None, name="demo"),
            name=DEMO_USER,
            role="admin",
            password=DEMO_PASSWORD,
            display_name="演示管理员",
        )
        return True


def run_demo(settings: Settings, say: Callable[[str], None], duration: float | None = None) -> None:
    """Bring everything up, print where it is, supervise the processes until Ctrl-C."""
    import threading

    from hazwatch.cli import bring_up
    from hazwatch.db.cluster import Cluster
    from hazwatch.logs import setup_logging
    from hazwatch.supervisor import Child, Supervisor

    bring_up(settings)
    ensure_demo_user(settings)
    with connect(settings) as conn:
        row = conn.execute("SELECT count(*) FROM registry.enterprise").fetchone()
    shown = (
        Cluster.from_settings(settings).url(with_password=False)
        if not settings.database_url
        else "HAZWATCH_DATABASE_URL"
    )
    say("")
    say("hazwatch demo is up")
    say(f"  database   {shown}   (full URL: hazwatch db url)")
    say(f"  login      {DEMO_USER} / {DEMO_PASSWORD}")
    say(f"  registers  {row[0] if row else 0} enterprises loaded (R1 reference data)")
    say("  status     .venv/bin/hazwatch db status | rollups status")
    say("  processes  scheduler (rollup refresh, retention); Ctrl-C stops them, the database")
    say("             keeps running (make db-down stops it)")
    setup_logging(settings.log, process="demo")
    sup = Supervisor([Child("scheduler", ["scheduler"])])
    if duration is not None:
        threading.Timer(duration, sup.stop.set).start()
    sup.run()
