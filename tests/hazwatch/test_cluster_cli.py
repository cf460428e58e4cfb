"""The embedded cluster and the CLI, exercised as a user would (issue 2, items 3 and 6)."""

import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from hazwatch import apt
from hazwatch.db import install
from hazwatch.db.cluster import Cluster
from hazwatch.errors import HazwatchError
from tests.conftest import find_free_port, run_cli, scratch_dir


@pytest.fixture
def spare_cluster() -> Cluster:
    base = scratch_dir("hazwatch-spare-")
    cluster = Cluster(
        data_dir=base / "data",
        host="127.0.0.1",
        port=find_free_port(),
        dbname="spare",
        superuser="hazwatch",
        shared_buffers="128MB",
    )
    yield cluster
    cluster.down()
    shutil.rmtree(base, ignore_errors=True)


def test_up_is_idempotent_and_data_survives_restart(spare_cluster: Cluster) -> None:
    spare_cluster.up()
    spare_cluster.up()  # second call: already initialised and running, nothing to do
    assert spare_cluster.running()
    assert (spare_cluster.password_file.stat().st_mode & 0o777) == 0o600
    with psycopg.connect(spare_cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        assert "timescaledb" in preload
    spare_cluster.down()
    assert not spare_cluster.running()
    spare_cluster.up()
    with psycopg.connect(spare_cluster.url()) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    # Password authentication is enforced, not trust.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(spare_cluster.url().replace(spare_cluster.password(), "wrong"))


def test_busy_port_is_one_clear_error(spare_cluster: Cluster) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", spare_cluster.port))
        blocker.listen()
        with pytest.raises(HazwatchError) as err:
            spare_cluster.up()
    msg = str(err.value)
    assert f"port {spare_cluster.port} on 127.0.0.1 is already in use" in msg
    assert "HAZWATCH_DB__PORT" in msg and "\n" not in msg


def test_data_dir_owned_by_someone_else() -> None:
    # /usr/share/doc belongs to root; the server runs as postgres (as root) or as ourselves.
    # The server never runs as root (PostgreSQL refuses), so this always conflicts.
    cluster = Cluster(Path("/usr/share/doc"), "127.0.0.1", find_free_port(), "x", "hazwatch")
    with pytest.raises(HazwatchError, match="is owned by 'root' but the server runs as"):
        cluster.up()


def test_missing_apt_get_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HazwatchError, match=r"apt-get not found.*HAZWATCH_DATABASE_URL"):
        apt.apt_install(["postgresql-15"], say=lambda _m: None)


def test_installed_packages_are_detected() -> None:
    assert apt.missing_packages(["postgresql-15", "no-such-package-hazwatch"]) == [
        "no-such-package-hazwatch"
    ]
    assert install.timescaledb_installed()


def _embedded_env(cluster: Cluster, dbname: str) -> dict[str, str]:
    return {
        "HAZWATCH_DB__DATA_DIR": str(cluster.data_dir),
        "HAZWATCH_DB__PORT": str(cluster.port),
        "HAZWATCH_DB__NAME": dbname,
    }


def test_cli_status_lists_hypertables(test_cluster: Cluster | None, db_url: str) -> None:
    if test_cluster is None:
        env = {"HAZWATCH_DATABASE_URL": db_url}
    else:
        env = _embedded_env(test_cluster, urlsplit(db_url).path.lstrip("/"))
    out = run_cli("db", "status", env=env)
    assert out.returncode == 0, out.stderr
    for table in ("ts.sample", "alarm.event", "vib.waveform", "video.detection"):
        assert table in out.stdout
    assert "timescaledb  2." in out.stdout
    assert "licence      apache" in out.stdout or "licence      timescale" in out.stdout
    url = run_cli("db", "url", env=env)
    assert url.returncode == 0 and url.stdout.strip().startswith("postgresql://")
    with psycopg.connect(url.stdout.strip()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cli_status_when_not_running(tmp_path: Path) -> None:
    env = {"HAZWATCH_DB__DATA_DIR": str(tmp_path / "none"), "HAZWATCH_DB__PORT": "59999"}
    out = run_cli("db", "status", env=env)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: the embedded cluster is not running")
    assert "hazwatch db up" in out.stderr and "Traceback" not in out.stderr


def test_cli_user_create(db_url: str) -> None:
    env = {"HAZWATCH_DATABASE_URL": db_url}
    ok = run_cli(
        "user", "create", "--name", "li.si", "--role", "regulator", "--region", "太原市",
        "--password-stdin", env=env, stdin="a-long-password\n",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("created user li.si (id ")
    again = run_cli(
        "user", "create", "--name", "li.si", "--role", "admin", "--password-stdin",
        env=env, stdin="a-long-password\n",
    )  # fmt: skip
    assert again.returncode == 1 and again.stderr == "error: a user named 'li.si' already exists\n"
    bad_role = run_cli("user", "create", "--name", "x1", "--role", "boss", "--password-stdin",
                       env=env, stdin="a-long-password\n")  # fmt: skip
    assert bad_role.returncode == 2 and "'boss' is not one of 'admin'" in bad_role.stderr
    short = run_cli("user", "create", "--name", "x2", "--role", "admin", "--password-stdin",
                    env=env, stdin="short\n")  # fmt: skip
    assert short.returncode == 1 and "password too short" in short.stderr
    missing = run_cli("user", "create", "--role", "admin", env=env)
    assert missing.returncode == 2 and "Missing option '--name'" in missing.stderr


def test_cli_config_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[db]\nport = 55500\n")
    assert run_cli("config", "validate", str(good)).stdout == "settings are valid\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nport = 8050\n\n[db]\nport = 'fifty'\n")
    out = run_cli("config", "validate", str(bad))
    assert out.returncode == 1
    assert f"{bad}:5: db.port: Input should be a valid integer" in out.stderr
    env_bad = run_cli("config", "validate", env={"HAZWATCH_LOG__LEVL": "DEBUG"})
    assert env_bad.returncode == 1
    assert "HAZWATCH_LOG__LEVL: unknown setting" in env_bad.stderr


def test_cli_refuses_to_manage_an_external_server(db_url: str) -> None:
    out = run_cli("db", "down", env={"HAZWATCH_DATABASE_URL": db_url})
    assert out.returncode == 1
    assert "HAZWATCH_DATABASE_URL is set: hazwatch does not stop that server" in out.stderr


def test_cli_unreachable_database_is_one_line() -> None:
    port = find_free_port()
    out = run_cli(
        "user", "create", "--name", "x3", "--role", "admin", "--password-stdin",
        env={"HAZWATCH_DATABASE_URL": f"postgresql://u:p@127.0.0.1:{port}/x"},
        stdin="a-long-password\n",
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.startswith("error: cannot reach the database:")
    assert out.stderr.count("\n") == 1
