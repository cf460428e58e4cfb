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
    if not result.applied and not result.definitions:
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


# -- config ----------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Settings: validate and show."""


@config.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def config_validate(obj: _Ctx, file: Path | None) -> None:
    """Check a settings file and the HAZWATCH_* environment; name each bad field and line."""
    load_settings(file or obj.config)
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
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def user_create(
    obj: _Ctx,
    name: str,
    role: str,
    enterprise: str | None,
    region: str | None,
    display_name: str | None,
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
        )
    click.echo(f"created user {name} (id {user_id}, role {role})")


# -- demo ------------------------------------------------------------------------------------


@cli.command()
@pass_ctx
def demo(obj: _Ctx) -> None:
    """Run the platform on the embedded default and print where to reach it."""
    from hazwatch.demo import run_demo

    run_demo(obj.settings, say=_say)


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
