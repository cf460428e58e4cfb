"""Debian packages the platform needs, installed when missing (root, once per machine).

apt_install(missing_packages(["mbpoll"]), say=print)
ensure_tools(say=print)     # every tool of TOOL_PACKAGES
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from hazwatch.errors import HazwatchError

Say = Callable[[str], None]

#: Command-line peers the platform and its tests use (independent protocol clients, brokers).
TOOL_PACKAGES = (
    "mbpoll",  # independent Modbus client: cross-checks the collector (P2)
    "mosquitto",  # MQTT broker for gateways that publish (R3-R5)
    "chromium",  # headless browser for the UI tests and screenshots
    "chromium-driver",
    "fonts-wqy-microhei",  # Chinese glyphs in headless rendering (the UI is Chinese first)
    "opencv-doc",  # real CCTV footage (vtest.avi) for the video evaluation and tests (V9, V12)
    "ffmpeg",  # H.264/H.265 test clips and a live stream peer for the video tests (V18)
    "libpango-1.0-0",  # text layout for WeasyPrint's PDF condition reports (P10)
    "libpangoft2-1.0-0",
)


def missing_packages(names: Sequence[str]) -> list[str]:
    """Debian packages among ``names`` that are not installed."""
    if shutil.which("dpkg-query") is None:
        return list(names)
    missing = []
    for name in names:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0 or "install ok installed" not in out.stdout:
            missing.append(name)
    return missing


def apt_install(packages: Sequence[str], say: Say) -> None:
    if shutil.which("apt-get") is None:
        raise HazwatchError(
            f"apt-get not found: cannot install {' '.join(packages)}; the automatic install "
            "supports Debian bookworm only (for the database: install PostgreSQL 15 with "
            "TimescaleDB yourself and set HAZWATCH_DATABASE_URL)"
        )
    if os.geteuid() != 0:
        raise HazwatchError(
            f"missing packages {' '.join(packages)} and installing them needs root: run "
            "`sudo .venv/bin/hazwatch install` once, or set HAZWATCH_DATABASE_URL"
        )
    say(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_checked(["apt-get", "update", "-qq"], env=env)
    run_checked(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def run_checked(
    cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a command; raise HazwatchError with the tail of its output when it fails."""
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise HazwatchError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def ensure_tools(say: Say = lambda _msg: None) -> None:
    """Install the tool packages that are missing."""
    missing = missing_packages(TOOL_PACKAGES)
    if missing:
        apt_install(missing, say)
