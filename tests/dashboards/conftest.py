"""Fixtures of the browser tests: ``hazwatch serve`` on a free port against the session's
database, headless Chromium (Debian ``chromium`` + ``chromium-driver``) through Selenium, and
users made with ``hazwatch.auth.create_user``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from analytics.vibration.diagnosis import store_dir
from hazwatch.auth import create_user
from hazwatch.registers import Actor
from tests.conftest import REPO, find_free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "var" / "screenshots"
PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def web_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``hazwatch serve`` (line-protocol API and UI on one port); stopped with SIGTERM."""
    home = tmp_path_factory.mktemp("web-home")
    # The pump pages diagnose with the classifier `hazwatch install` trained (P9), as installed.
    models = store_dir(REPO)
    if models.is_dir():
        shutil.copytree(models, store_dir(home))
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    env.update({"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(home)})
    exe = Path(sys.executable).parent / "hazwatch"
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5):  # noqa: S310 (127.0.0.1)
                break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("hazwatch serve did not start:\n" + (home / "serve.log").read_text())
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    text = (home / "serve.log").read_text()
    assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module; the browser log is read per page."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: run `hazwatch install`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1280,900",
        "--lang=zh-CN",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def make_user(db_url: str) -> Callable[..., str]:
    """``make_user(role, enterprise=…, region=…)`` -> a fresh user name (password PASSWORD)."""

    def make(role: str, **scope: str | None) -> str:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(db_url, autocommit=True) as conn:
            create_user(conn, Actor(None, "test"), name=name, role=role, password=PASSWORD, **scope)
        return name

    return make


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
