"""Pieces of ``dashboards.auth`` without a browser: the secret key file, scopes as SQL, the
``next`` check, and the session cookie's flags."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from dashboards.auth import Scope, _safe_next, secret_key
from hazwatch import registers
from hazwatch.settings import WebSettings, load_settings
from tests.conftest import make_enterprise


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path, db_url: str) -> None:
    settings = load_settings(database_url=db_url, home=tmp_path)
    key = secret_key(settings)
    path = tmp_path / WebSettings().secret_key_file
    assert len(key) >= 48 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(settings) == key


@pytest.mark.parametrize(
    ("role", "enterprise", "region", "expected"),
    [
        ("admin", None, None, Scope(all_enterprises=True)),
        ("engineer", 7, None, Scope(enterprise_id=7)),
        ("operator", None, None, Scope(all_enterprises=True)),
        ("contractor", 7, None, Scope(enterprise_id=7, companies_only=True)),
        ("regulator", None, 3, Scope(region_id=3)),
        ("regulator", 7, 3, Scope(region_id=3)),
        ("stranger", None, None, Scope()),
    ],
)
def test_scope_per_role(
    role: str, enterprise: int | None, region: int | None, expected: Scope
) -> None:
    assert Scope.for_user(role, enterprise, region) == expected


def test_scope_conditions_run_in_sql(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, city="晋中市")
    jinzhong = registers.resolve(conn, "region", "晋中市")
    province = registers.resolve(conn, "region", "山西省")
    total = conn.execute("SELECT count(*) FROM registry.enterprise").fetchone()
    assert Scope(all_enterprises=True).enterprise_ids(conn) is None
    assert Scope(enterprise_id=ent).enterprise_ids(conn) == [ent]
    assert Scope().enterprise_ids(conn) == []
    in_city = Scope(region_id=jinzhong).enterprise_ids(conn)
    assert in_city is not None and ent in in_city
    assert len(Scope(region_id=province).enterprise_ids(conn) or []) == (total or [0])[0]
    with pytest.raises(ValueError, match="not a column"):
        Scope(enterprise_id=1).condition("id; DROP TABLE x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/audit?x=1", "/audit?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_stays_on_the_site(value: str | None, expected: str) -> None:
    assert _safe_next(value) == expected


def test_session_cookie_flags(db_url: str, tmp_path: Path) -> None:
    from dashboards.app import create_dash
    from dashboards.server import close_server, create_server

    app = create_server(load_settings(database_url=db_url, home=tmp_path))
    try:
        create_dash(app, load_settings(database_url=db_url, home=tmp_path))
        resp = app.test_client().get("/login")
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("hazwatch_session=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        assert resp.headers["Cache-Control"] == "no-store"
        assert app.test_client().get("/").status_code == 302
        assert app.test_client().get("/ping").status_code == 204
    finally:
        close_server(app)
