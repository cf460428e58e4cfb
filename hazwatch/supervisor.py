"""Supervise the platform's child processes, in the manner of Frigate.

Each child is a ``hazwatch`` subcommand in its own process with its own logging and database
connection. A child that dies is restarted with exponential back-off (reset once it has stayed
up a minute); SIGINT or SIGTERM stops every child (SIGTERM, then SIGKILL after a grace period).

    sup = Supervisor([Child("scheduler", ["scheduler"])])
    sup.run()              # blocks until a signal or sup.stop.set()
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("hazwatch.supervisor")

STABLE_AFTER_S = 60.0
MAX_BACKOFF_S = 60.0


@dataclass
class Child:
    name: str
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        argv = [sys.executable, "-m", "hazwatch.cli", *self.args]
        self.proc = subprocess.Popen(argv)
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %d)", self.name, self.proc.pid)


class Supervisor:
    def __init__(self, children: list[Child], grace_s: float = 10.0) -> None:
        self.children = children
        self.grace_s = grace_s
        self.stop = threading.Event()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.stop.set()

    def run(self, install_signals: bool = True) -> None:
        if install_signals:
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            child.start()
        try:
            while not self.stop.wait(0.5):
                self.watch()
        finally:
            self.shutdown()

    def watch(self) -> None:
        """One watchdog pass: schedule restarts of dead children, start those that are due."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                if now - child.started_at > STABLE_AFTER_S:
                    child.backoff = 1.0
                continue
            if child.restart_at is None:
                code = child.proc.returncode if child.proc else None
                log.warning("%s exited with %s; restarting in %.0f s", child.name, code,
                            child.backoff)  # fmt: skip
                child.restart_at = now + child.backoff
                child.backoff = min(child.backoff * 2, MAX_BACKOFF_S)
            elif now >= child.restart_at:
                child.restarts += 1
                child.start()

    def shutdown(self) -> None:
        """Stop children in reverse start order, so consumers flush before their sources go."""
        deadline = time.monotonic() + self.grace_s
        for child in reversed(self.children):
            if child.proc is None or child.proc.poll() is not None:
                continue
            child.proc.terminate()
            try:
                child.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s: killing", child.name, self.grace_s)
                child.proc.kill()
                child.proc.wait()
        log.info("all children stopped")


@contextmanager
def stop_on_signals(label: str = "") -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM for a long-running command; handlers restored after.

    with stop_on_signals("modbus 10.1.5.20:502") as stop:
        collector.run(stop)
    """
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: %s, stopping", label or "process", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
