"""Fixtures of the browser tests: ``hazwatch serve`` on a free port against the session's
database, headless Chromium (Debian ``chromium`` + ``chromium-driver``) through Selenium, and
users made with ``hazwatch.auth.create_user``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics.vibration.diagnosis import store_dir
from hazwatch.auth import create_user
from hazwatch.registers import Actor
from hazwatch.tokens import create_token
from tests.conftest import REPO, find_free_port, make_enterprise

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


def api_get(url: str, token: str | None, **params: Any) -> tuple[int, dict[str, Any]]:
    """GET a REST endpoint as ``token`` (none: anonymous) -> (status, decoded JSON body),
    error answers included: ``api_get(web_url + "/api/v1/enterprises", token, q="x")``."""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    req = urllib.request.Request(url + query)  # noqa: S310 (127.0.0.1)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def two_cities(conn: psycopg.Connection, label: str) -> dict[str, Any]:
    """The region-scoping setup of the API tests (R8): enterprises ``ty1`` and ``ty2`` in
    太原市 and ``dt`` in 大同市, named ``{label}-{tag}-…`` (``tag`` is fresh, so a search for
    it finds this module's enterprises only), and a regulator token of each city::

        world = two_cities(conn, "风险API")  # keys tag, ty1, ty1_name, ty2, dt, dt_name,
                                              # taiyuan, datong (the two tokens)
    """
    tag = uuid.uuid4().hex[:6]
    ty1, ty1_name = make_enterprise(conn, f"{label}-{tag}-甲", "太原市")
    ty2, _ = make_enterprise(conn, f"{label}-{tag}-乙", "太原市")
    dt, dt_name = make_enterprise(conn, f"{label}-{tag}-丙", "大同市")
    actor = Actor(None, "test")
    return {
        "tag": tag, "ty1": ty1, "ty1_name": ty1_name, "ty2": ty2, "dt": dt, "dt_name": dt_name,
        "taiyuan": create_token(conn, actor, f"reg-ty-{tag}", "regulator", region="太原市"),
        "datong": create_token(conn, actor, f"reg-dt-{tag}", "regulator", region="大同市"),
    }  # fmt: skip
