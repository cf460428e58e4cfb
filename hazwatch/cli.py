"""The ``hazwatch`` command. Each subcommand loads settings once and reports failures as one line.

hazwatch db up            # install what is missing, start the embedded cluster, migrate
hazwatch db status
hazwatch user create --name li.wei --role engineer --enterprise 3 --password-stdin
"""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from pathlib import Path

import click
import psycopg

from hazwatch.errors import HazwatchError
from hazwatch.logs import setup_logging
from hazwatch.settings import Settings, load_settings


class _Ctx:
    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            setup_logging(self._settings.log, process="cli")
        return self._settings


pass_ctx = click.make_pass_decorator(_Ctx)


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default $HAZWATCH_CONFIG or <home>/hazwatch.toml).",
)
@click.version_option(package_name="hazwatch")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """hazwatch: safety platform for hazardous-chemical plants."""
    ctx.obj = _Ctx(config)


@cli.command("install")
@pass_ctx
def install_all(obj: _Ctx) -> None:
    """Install every system package and model the platform and its tests need (apt, root once)."""
    from analytics.vibration.diagnosis import ensure_model as ensure_diagnosis_model
    from hazwatch.apt import ensure_tools
    from hazwatch.db.install import ensure_installed
    from video.models import ensure_installed as ensure_video_models

    ensure_tools(say=_say)
    if not obj.settings.database_url:
        ensure_installed(obj.settings, say=_say)
    # The detection models are converted from packaged weights once (torch only in that step),
    # so `make demo` and `make test` find them ready; cheap when the cache is sound.
    ensure_video_models(obj.settings.home, say=_say)
    # P9: the pump diagnosis classifier (simulated fault physics + pybearing recordings) is
    # trained once here, so the pump pages and reports use it from the first start.
    ensure_diagnosis_model(
        obj.settings.home, obj.settings.home / "var" / "cache" / "pybearing", say=_say
    )
    _say("system packages and models are installed")


# -- db --------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database: embedded TimescaleDB cluster or HAZWATCH_DATABASE_URL."""


def _embedded(settings: Settings, verb: str) -> None:
    if settings.database_url:
        raise HazwatchError(
            f"HAZWATCH_DATABASE_URL is set: hazwatch does not {verb} that server; unset it to "
            "use the embedded cluster"
        )


@db.command("install")
@pass_ctx
def db_install(obj: _Ctx) -> None:
    """Install PostgreSQL 15 and build TimescaleDB if missing (apt, needs root once)."""
    from hazwatch.db.install import ensure_installed

    if obj.settings.database_url:
        _say("HAZWATCH_DATABASE_URL is set: nothing to install")
        return
    ensure_installed(obj.settings, say=_say)


def _migrate(settings: Settings, target: int | None = None) -> None:
    from hazwatch.db import connect
    from hazwatch.db.migrate import SQL_DIR, migrate

    with connect(settings, autocommit=True) as conn:
        result = migrate(conn, SQL_DIR, target=target)
    for name in result.applied:
        _say(f"applied migration {name}")
    for name in result.definitions:
        _say(f"applied definitions {name}")
    for name in result.rollups:
        _say(f"created rollup {name}")
    if not result.applied and not result.definitions and not result.rollups:
        _say("database is up to date")


def bring_up(settings: Settings) -> None:
    """Everything ``db up`` does; ``demo`` and the test fixtures call it too."""
    from hazwatch.db.cluster import Cluster
    from hazwatch.db.install import ensure_installed

    if not settings.database_url:
        ensure_installed(settings, say=_say)
        cluster = Cluster.from_settings(settings)
        cluster.up()
        _say(f"TimescaleDB running on {cluster.host}:{cluster.port} (data {cluster.data_dir})")
    _migrate(settings)


@db.command("up")
@pass_ctx
def db_up(obj: _Ctx) -> None:
    """Install if needed, initdb, start the embedded cluster and migrate. Idempotent."""
    bring_up(obj.settings)


@db.command("down")
@pass_ctx
def db_down(obj: _Ctx) -> None:
    """Stop the embedded cluster (data is kept)."""
    from hazwatch.db.cluster import Cluster

    _embedded(obj.settings, "stop")
    cluster = Cluster.from_settings(obj.settings)
    if not cluster.running():
        _say("the embedded cluster is not running")
        return
    cluster.down()
    _say("stopped")


@db.command("migrate")
@click.option("--target", type=click.IntRange(min=1), help="Stop after this migration number.")
@pass_ctx
def db_migrate(obj: _Ctx, target: int | None) -> None:
    """Apply pending migrations and changed definitions."""
    _migrate(obj.settings, target)


@db.command("status")
@pass_ctx
def db_status(obj: _Ctx) -> None:
    """Server, TimescaleDB version and licence, size, hypertables with chunk counts."""
    from hazwatch.db import connect
    from hazwatch.db.cluster import Cluster
    from hazwatch.db.status import database_status, format_status

    settings = obj.settings
    if settings.database_url:
        click.echo("cluster      external (HAZWATCH_DATABASE_URL)")
    else:
        cluster = Cluster.from_settings(settings)
        if not cluster.running():
            raise HazwatchError(
                f"the embedded cluster is not running (data {cluster.data_dir}): run "
                "`hazwatch db up`"
            )
        click.echo(f"cluster      embedded, {cluster.host}:{cluster.port}, data {cluster.data_dir}")
    with connect(settings) as conn:
        click.echo(format_status(database_status(conn)))


@db.command("url")
@click.option("--no-password", is_flag=True, help="Leave the password out.")
@pass_ctx
def db_url(obj: _Ctx, no_password: bool) -> None:
    """Print the connection URL (for psql, Grafana or any PostgreSQL client)."""
    from hazwatch.db import database_url
    from hazwatch.db.cluster import Cluster

    settings = obj.settings
    if no_password and not settings.database_url:
        click.echo(Cluster.from_settings(settings).url(with_password=False))
    else:
        click.echo(database_url(settings))


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def db_psql(obj: _Ctx, args: tuple[str, ...]) -> None:
    """Open psql on the database; extra arguments go to psql."""
    from hazwatch.db import database_url

    psql = shutil.which("psql")
    if psql is None:
        raise HazwatchError("psql not found: install postgresql-client-15")
    os.execv(psql, [psql, database_url(obj.settings), *args])  # noqa: S606


# -- rollups ---------------------------------------------------------------------------------


@cli.group()
def rollups() -> None:
    """Rollups (continuous aggregates): list, status, refresh."""


def _when(value: object) -> str:
    from datetime import datetime, timedelta

    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, timedelta):
        secs = int(value.total_seconds())
        return (
            f"{secs // 86400}d{secs % 86400 // 3600:02d}h"
            if secs >= 86400
            else (f"{secs // 3600}h{secs % 3600 // 60:02d}m" if secs >= 3600 else f"{secs}s")
        )
    return str(value)


@rollups.command("list")
def rollups_list() -> None:
    """The declared rollups: name, source, bucket width, group keys, aggregates."""
    from hazwatch.rollups.catalog import ROLLUPS

    for r in ROLLUPS:
        aggs = ", ".join(a.name for a in r.aggregates)
        click.echo(f"{r.name:<16} from {r.source:<14} every {_when(r.bucket):<6} by "
                   f"{', '.join(r.group_by)}: {aggs}")  # fmt: skip


@rollups.command("status")
@pass_ctx
def rollups_status(obj: _Ctx) -> None:
    """Watermark, lag, last run, pending invalidations and errors of each rollup."""
    from hazwatch.db import connect
    from hazwatch.rollups.engine import status

    with connect(obj.settings) as conn:
        rows = status(conn)
    click.echo(f"{'rollup':<16} {'kind':<12} {'watermark':<20} {'lag':>7} {'last run':<20} "
               f"{'ms':>6} {'rows':>9} {'pending':>7}  error")  # fmt: skip
    for st in rows:
        click.echo(
            f"{st.name:<16} {st.implementation:<12} {_when(st.watermark):<20} "
            f"{_when(st.lag):>7} {_when(st.last_run_at):<20} {_when(st.last_duration_ms):>6} "
            f"{_when(st.last_rows):>9} {st.pending_invalidations:>7}  {st.last_error or ''}"
        )


@rollups.command("refresh")
@click.argument("name", required=False)
@click.option("--from", "start", type=click.DateTime(), help="Recompute from (UTC if no zone).")
@click.option("--to", "end", type=click.DateTime(), help="Recompute up to (exclusive).")
@pass_ctx
def rollups_refresh(obj: _Ctx, name: str | None, start: object | None, end: object | None) -> None:
    """Refresh one rollup (or all); with --from/--to also recompute that window."""
    from datetime import UTC, datetime

    from hazwatch.db import connect
    from hazwatch.rollups import catalog
    from hazwatch.rollups.engine import refresh

    if (start is None) != (end is None):
        raise click.UsageError("--from and --to go together")
    window = None
    if isinstance(start, datetime) and isinstance(end, datetime):
        window = (start.replace(tzinfo=start.tzinfo or UTC), end.replace(tzinfo=end.tzinfo or UTC))
        if window[0] >= window[1]:
            raise click.UsageError("--from must be before --to")
    targets = [catalog.by_name(name)] if name else list(catalog.ROLLUPS)
    with connect(obj.settings, autocommit=True) as conn:
        for rollup in targets:
            res = refresh(conn, rollup, window=window)
            click.echo(f"{res.name}: watermark {_when(res.watermark)}, "
                       f"{res.materialized_rows} rows, {res.recomputed_ranges} recomputed "
                       f"ranges, {res.duration_s:.2f} s")  # fmt: skip


@rollups.command("rebuild")
@click.argument("names", nargs=-1)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def rollups_rebuild(obj: _Ctx, names: tuple[str, ...], yes: bool) -> None:
    """Drop and recreate rollups (and the levels above); the next refresh fills them again."""
    from hazwatch.db import connect
    from hazwatch.rollups.engine import rebuild

    if not yes:
        click.confirm(f"Rebuild {', '.join(names) or 'every rollup'}?", abort=True)
    with connect(obj.settings, autocommit=True) as conn:
        for name in rebuild(conn, list(names) or None):
            click.echo(f"rebuilt {name}")


# -- retention -------------------------------------------------------------------------------


@cli.group()
def retention() -> None:
    """Retention policies (drop_chunks) with legal minimums."""


@retention.command("list")
@pass_ctx
def retention_list(obj: _Ctx) -> None:
    """Each relation's kept period, legal minimum and current horizon."""
    from hazwatch.retention import LEGAL_MINIMUMS, effective_policies

    for relation, keep in effective_policies(obj.settings.retention).items():
        floor = LEGAL_MINIMUMS.get(relation)
        legal = f"legal minimum {floor.keep.days} days ({floor.basis})" if floor else ""
        click.echo(f"{relation:<20} {'never' if keep is None else f'{keep.days} days':<10} {legal}")


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; drop nothing.")
@pass_ctx
def retention_run(obj: _Ctx, dry_run: bool) -> None:
    """Drop chunks past their policy (never younger than a legal minimum)."""
    from hazwatch.db import connect
    from hazwatch.db.status import human_bytes
    from hazwatch.retention import effective_policies, plan, run

    policies = effective_policies(obj.settings.retention)
    with connect(obj.settings, autocommit=True) as conn:
        decisions = plan(conn, policies) if dry_run else run(conn, policies)
    verb = "would drop" if dry_run else "dropped"
    for d in decisions:
        size = sum(c.size_bytes for c in d.chunks)
        click.echo(f"{d.relation:<20} {verb} {len(d.chunks):>4} chunks ({human_bytes(size)}): "
                   f"{d.reason}")  # fmt: skip
        for c in d.chunks:
            click.echo(f"    {c.chunk}  {_when(c.range_start)} .. {_when(c.range_end)}")


# -- config ----------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Settings: validate and show."""


@config.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def config_validate(obj: _Ctx, file: Path | None) -> None:
    """Check a settings file and the HAZWATCH_* environment; name each bad field and line."""
    from hazwatch.run import collector_children

    collector_children(load_settings(file or obj.config))
    click.echo("settings are valid")


@config.command("show")
@pass_ctx
def config_show(obj: _Ctx) -> None:
    """Print the settings in force as JSON (the database URL's password is hidden)."""
    dumped = obj.settings.model_dump(mode="json")
    if dumped.get("database_url"):
        dumped["database_url"] = "<set>"
    import json

    click.echo(json.dumps(dumped, indent=2, ensure_ascii=False))


# -- users -----------------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.option("--name", required=True, help="Login name (letters, digits, _ . @ -).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "engineer", "operator", "contractor", "regulator"]),
)
@click.option("--enterprise", help="Enterprise id, code or exact name.")
@click.option("--region", help="Region id, code or name (regulators), e.g. 太原市.")
@click.option("--display-name", help="Name shown in the UI.")
@click.option("--company", help="Contractor company id, credit code or name (contractors).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def user_create(
    obj: _Ctx,
    name: str,
    role: str,
    enterprise: str | None,
    region: str | None,
    display_name: str | None,
    company: str | None,
    password_stdin: bool,
) -> None:
    """Create a user with an argon2id password hash."""
    from hazwatch.auth import create_user
    from hazwatch.db import connect
    from hazwatch.registers import Actor

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    actor = Actor(id=None, name=f"cli:{getpass.getuser()}")
    with connect(obj.settings, autocommit=True) as conn:
        user_id = create_user(
            conn,
            actor,
            name=name,
            role=role,
            password=password,
            enterprise=enterprise,
            region=region,
            display_name=display_name,
            company=company,
        )
    click.echo(f"created user {name} (id {user_id}, role {role})")


# -- demo ------------------------------------------------------------------------------------


@cli.command()
@click.option("--duration", type=click.FloatRange(min=1), help="Stop after this many seconds.")
@pass_ctx
def demo(obj: _Ctx, duration: float | None) -> None:
    """Run the platform on the embedded default and print where to reach it."""
    from hazwatch.demo import run_demo

    run_demo(obj.settings, say=_say, duration=duration)


@cli.command("run")
@pass_ctx
def run_platform(obj: _Ctx) -> None:
    """Run the configured collectors and the scheduler under one supervisor (production)."""
    from hazwatch.run import collector_children
    from hazwatch.supervisor import Child, Supervisor

    settings = obj.settings
    children = [*collector_children(settings), Child("scheduler", ["scheduler"])]
    setup_logging(settings.log, process="run")
    _say(f"running {', '.join(c.name for c in children)}")
    Supervisor(children).run()


@cli.command()
@pass_ctx
def simulate(obj: _Ctx) -> None:
    """Run the demo plant (OPC UA + Modbus gateways) until SIGTERM or Ctrl-C."""
    from hazwatch.supervisor import stop_on_signals
    from ingest.simulator.run import run_simulator

    settings = obj.settings
    setup_logging(settings.log, process="simulator")
    with stop_on_signals("simulator") as stop:
        run_simulator(settings, stop)


@cli.command()
@pass_ctx
def scheduler(obj: _Ctx) -> None:
    """Run rollup refreshes and retention on their schedules until SIGTERM or Ctrl-C."""
    from hazwatch.scheduler import run_scheduler
    from hazwatch.supervisor import stop_on_signals

    settings = obj.settings
    setup_logging(settings.log, process="scheduler")
    with stop_on_signals("scheduler") as stop:
        run_scheduler(settings, stop)


def _add_domain_commands() -> None:
    from analytics.alarms.cli import alarms
    from analytics.vibration.cli import vib
    from dashboards.cli import serve, token
    from ingest.cli import collect, import_
    from video.cli import video
    from workflows.alert_cli import alerts
    from workflows.contractors import ops_cli  # noqa: F401  (export, import, positioning-sim)
    from workflows.contractors.cli import contractors
    from workflows.hazard_cli import hazard
    from workflows.upward_cli import exchange

    cli.add_command(alarms)
    cli.add_command(vib)
    cli.add_command(collect)
    cli.add_command(import_)
    cli.add_command(serve)
    cli.add_command(token)
    cli.add_command(exchange)
    cli.add_command(alerts)
    cli.add_command(video)
    cli.add_command(contractors)
    cli.add_command(hazard)


_add_domain_commands()


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HazwatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        click.echo(f"error: cannot reach the database: {first}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
