"""A private Mosquitto broker for tests and the demo plant: own config, own port, own files.

    with Mosquitto(port=18830, data_dir=Path("var/demo/mqtt")) as broker:
        broker.url                                   # 'mqtt://127.0.0.1:18830'
    with Mosquitto(port, tmp / "mq", users={"hw": "s3cret"}) as broker:   # password file
        broker.restart()                             # same port; sessions kept if persistence
    Mosquitto(port, tmp / "mq", tls=(ca_pem, server_pem, server_key_pem))  # TLS listener

The system broker (Debian's mosquitto service on 1883) is never touched: the process started
here reads only the configuration written here, listens on 127.0.0.1 by default, and is
stopped (SIGTERM, then SIGKILL) by ``stop()``. Passwords are hashed with Debian's
``mosquitto_passwd`` from the same package, so the broker accepts what it writes.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ingest.mqtt.transport import MqttError

MOSQUITTO = "/usr/sbin/mosquitto"


def find_mosquitto() -> str:
    """The broker executable (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    for candidate in (shutil.which("mosquitto"), MOSQUITTO):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MqttError("mosquitto is not installed (apt-get install mosquitto)")


class Mosquitto:
    """One ``mosquitto`` process with a generated configuration; see the module doc."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        *,
        bind: str = "127.0.0.1",
        users: Mapping[str, str] | None = None,
        persistence: bool = False,
        tls: tuple[Path, Path, Path] | None = None,
        exe: str | None = None,
    ) -> None:
        self.port = port
        self.bind = bind
        self.data_dir = Path(data_dir)
        self.users = dict(users or {})
        self.persistence = persistence
        #: (CA file, server certificate, server key): the listener speaks TLS only.
        self.tls = tls
        self.exe = exe
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.bind}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "mosquitto.log"

    def config(self) -> str:
        """The configuration file's text."""
        lines = [
            "# written by hazwatch (ingest/mqtt/broker.py); not the system broker",
            # As root mosquitto would switch to the 'mosquitto' user, which cannot write here.
            f"user {getpass.getuser()}",
            f"listener {self.port} {self.bind}",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            f"persistence {'true' if self.persistence else 'false'}",
        ]
        if self.persistence:
            lines.append(f"persistence_location {self.data_dir}/")
        if self.tls:
            ca, cert, key = self.tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self.data_dir / 'passwd'}"]
        else:
            lines.append("allow_anonymous true")
        return "\n".join(lines) + "\n"

    def _write_passwords(self) -> None:
        path = self.data_dir / "passwd"
        path.write_text("")
        path.chmod(0o600)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        if not os.access(tool, os.X_OK):
            raise MqttError("mosquitto_passwd is not installed (it comes with mosquitto)")
        for user, password in self.users.items():
            # -b takes the password as an argument: fine for a private test or demo broker.
            subprocess.run(
                [tool, "-b", str(path), user, password],
                check=True,
                capture_output=True,
                timeout=10,
            )

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.proc is not None:
            raise RuntimeError("already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.users and not (self.data_dir / "passwd").exists():
            self._write_passwords()
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(
            [self.exe or find_mosquitto(), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise MqttError(f"mosquitto on port {self.port} exited ({code}): {self.log_tail()}")
            try:
                with socket.create_connection((self.bind, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise MqttError(f"mosquitto on port {self.port} did not start within {timeout_s:g} s")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker (SIGTERM; SIGKILL after ``timeout_s``)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
