"""The embedded PostgreSQL + TimescaleDB cluster: a data directory of the project, its own port.

PostgreSQL refuses to run as root, so when hazwatch runs as root the server runs as the
``postgres`` system user and the data directory belongs to it. The superuser password is
generated at ``initdb`` and kept next to the data directory (mode 0600); clients connect over
TCP on 127.0.0.1 with scram-sha-256.

    cluster = Cluster.from_settings(settings)
    cluster.up()            # initdb if needed, start, create the database
    cluster.url()           # postgresql://hazwatch:...@127.0.0.1:55432/hazwatch
    cluster.down()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from hazwatch.db.install import PG_BINDIR
from hazwatch.errors import HazwatchError
from hazwatch.settings import Settings

#: Appended to postgresql.conf through an include, rewritten on every start.
CONF_NAME = "hazwatch.conf"


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def server_user() -> str:
    """The OS user the server runs as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise HazwatchError(
                "running as root but there is no 'postgres' user to run the server as; "
                "install postgresql-15 (it creates one) or run hazwatch as an ordinary user"
            ) from exc
        return "postgres"
    return pwd.getpwuid(os.geteuid()).pw_name


@dataclass(frozen=True)
class Cluster:
    data_dir: Path
    host: str
    port: int
    dbname: str
    superuser: str
    shared_buffers: str = "1GB"
    start_timeout_s: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> Cluster:
        db = settings.db
        return cls(
            data_dir=settings.path(db.data_dir).resolve(),
            host=db.host,
            port=db.port,
            dbname=db.name,
            superuser=db.user,
            shared_buffers=db.shared_buffers,
            start_timeout_s=db.start_timeout_s,
        )

    # Files beside the data directory, so `rm -r` of the parent removes everything.
    @property
    def base(self) -> Path:
        return self.data_dir.parent

    @property
    def password_file(self) -> Path:
        return self.base / "password"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self.base / "run"

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError as exc:
            raise HazwatchError(
                f"no password file at {self.password_file}: the cluster was not created by "
                "`hazwatch db up`"
            ) from exc

    def url(self, dbname: str | None = None, with_password: bool = True) -> str:
        secret = f":{quote(self.password(), safe='')}" if with_password else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{self.superuser}{secret}@{host}:{self.port}/{dbname or self.dbname}"

    # -- process control -------------------------------------------------------------------

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        user = server_user()
        if os.geteuid() == 0 and user != "root":
            return ["runuser", "-u", user, "--", *cmd]
        return cmd

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = self._as_server_user([str(PG_BINDIR / tool), *args])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise HazwatchError(f"{tool} failed: {' | '.join(detail[-3:])}")
        return proc

    def running(self) -> bool:
        if not self.initialized():
            return False
        return self._pg("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def _check_ownership(self) -> None:
        """Refuse a data directory that belongs to someone other than the server user."""
        user = server_user()
        uid = pwd.getpwnam(user).pw_uid
        if self.data_dir.exists():
            owner_uid = self.data_dir.stat().st_uid
            if owner_uid != uid:
                try:
                    owner = pwd.getpwuid(owner_uid).pw_name
                except KeyError:
                    owner = str(owner_uid)
                raise HazwatchError(
                    f"data directory {self.data_dir} is owned by '{owner}' but the server runs "
                    f"as '{user}': choose another HAZWATCH_DB__DATA_DIR or change its owner"
                )

    def _prepare_dirs(self) -> None:
        user = pwd.getpwnam(server_user())
        for path in (self.base, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.base, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        probe = self._as_server_user(["test", "-w", str(self.base)])
        if subprocess.run(probe, check=False).returncode != 0:
            raise HazwatchError(
                f"the server user '{user.pw_name}' cannot write to {self.base} (a parent "
                "directory is not traversable); choose another HAZWATCH_DB__DATA_DIR"
            )

    def init(self) -> None:
        """Run initdb with a fresh superuser password."""
        self._check_ownership()
        self._prepare_dirs()
        password = secrets.token_urlsafe(24)
        user = pwd.getpwnam(server_user())
        pwfile = self.base / ".initdb-pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write(f"\ninclude '{CONF_NAME}'\n")

    def _write_conf(self) -> None:
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "shared_buffers": self.shared_buffers,
            "max_connections": "200",
            "work_mem": "32MB",
            "maintenance_work_mem": "512MB",
            "max_wal_size": "4GB",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
        }
        body = "# written by hazwatch db up on every start; edit hazwatch settings instead\n"
        body += "".join(f"{k} = {v}\n" for k, v in settings.items())
        target = self.data_dir / CONF_NAME
        target.write_text(body, encoding="utf-8")
        if os.geteuid() == 0:
            user = pwd.getpwnam(server_user())
            os.chown(target, user.pw_uid, user.pw_gid)

    def start(self) -> None:
        if self.running():
            return
        if port_in_use(self.host, self.port):
            raise HazwatchError(
                f"port {self.port} on {self.host} is already in use by another process: stop it "
                "or set HAZWATCH_DB__PORT to a free port"
            )
        self._check_ownership()
        self._prepare_dirs()
        self._write_conf()
        proc = self._pg(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(self.start_timeout_s),
            check=False,
        )
        if proc.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = " | ".join(self.log_file.read_text().strip().splitlines()[-3:])
            raise HazwatchError(f"the server did not start (see {self.log_file}): {tail}")

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")

    def ensure_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def up(self) -> None:
        """initdb when needed, start, and create the database. Idempotent."""
        if not self.initialized():
            self.init()
        self.start()
        self.ensure_database()

    def down(self) -> None:
        self.stop()
