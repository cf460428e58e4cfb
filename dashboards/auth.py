"""Sign-in, sessions, CSRF, login throttling and the data scope of the signed-in user.

    install(app, settings)                # session cookie, /login, /logout, guards
    user = current_user()                 # WebUser of this request, or None
    cond, params = user.scope.condition("e.id")
    conn.execute(sql.SQL("SELECT … FROM registry.enterprise e WHERE {}").format(cond), params)

Pages and Dash endpoints need a signed-in user; the line-protocol API, ``/health`` and
``/api/…`` keep their own (token) authentication. Every POST to a Dash endpoint must carry the
session's CSRF token in ``X-CSRFToken`` (``assets/csrf.js`` adds it); form POSTs carry it as
the field ``csrf_token``. Five failed sign-ins of one user name from one address within 15
minutes lock that pair until the oldest of them is 15 minutes old; attempts are counted from
``audit.log`` (actions ``login`` and ``login_failed``), so the lock holds across restarts and
processes.
"""

from __future__ import annotations

import hmac
import html
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import psycopg
from flask import Flask, Response, abort, current_app, g, redirect, request, session
from psycopg import sql

from dashboards import i18n
from hazwatch.auth import verify_login
from hazwatch.settings import Settings

#: Failures of one user name from one address that lock the pair, and the window.
MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=15)
CSRF_HEADER: Final = "X-CSRFToken"
CSRF_FIELD: Final = "csrf_token"
SESSION_COOKIE: Final = "hazwatch_session"
SESSION_LIFETIME: Final = timedelta(hours=12)
#: Paths served without a session: their own auth (line protocol, REST) or public assets.
PUBLIC_PATHS: Final = frozenset(
    {"/login", "/health", "/ping", "/write", "/api/v2/write", "/_favicon.ico"}
)
PUBLIC_PREFIXES: Final = ("/login/", "/api/", "/assets/", "/_dash-component-suites/")
#: Dash's own endpoints: JSON answers (401/403) instead of a redirect to the login page.
DASH_ENDPOINT = re.compile(r"^/_(dash|reload)-")
ROLES_ALL_ENTERPRISES: Final = frozenset({"admin", "engineer", "operator"})

_REGION_TREE = """
    SELECT e.id FROM registry.enterprise e
    WHERE e.region_id IN (
        WITH RECURSIVE r AS (
            SELECT id FROM registry.region WHERE id = %s
            UNION ALL
            SELECT c.id FROM registry.region c JOIN r ON c.parent_id = r.id
        ) SELECT id FROM r)
"""
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


@dataclass(frozen=True)
class Scope:
    """Which enterprises a user may see: all, one, or those of a region and below.

    ``condition(column)`` is the SQL to put in a WHERE clause; the database enforces it.
    """

    all_enterprises: bool = False
    enterprise_id: int | None = None
    region_id: int | None = None
    #: Contractors: only rows of their own company (``company_condition``); a contractor
    #: account not yet linked to a company sees none.
    companies_only: bool = False
    company_id: int | None = None

    @classmethod
    def for_user(
        cls,
        role: str,
        enterprise_id: int | None,
        region_id: int | None,
        company_id: int | None = None,
    ) -> Scope:
        if role == "regulator":
            return cls(region_id=region_id)
        if role == "contractor":
            return cls(enterprise_id=enterprise_id, companies_only=True, company_id=company_id)
        if enterprise_id is not None:
            return cls(enterprise_id=enterprise_id)
        if role in ROLES_ALL_ENTERPRISES:
            return cls(all_enterprises=True)
        return cls()  # unknown role: nothing

    def condition(self, column: str) -> tuple[sql.Composable, tuple[Any, ...]]:
        """``(condition, params)`` restricting ``column`` (an enterprise id) to this scope.

        >>> Scope(enterprise_id=3).condition("e.id")[1]
        (3,)
        """
        if not _COLUMN.match(column):
            raise ValueError(f"not a column name: {column!r}")
        col = sql.SQL(column)  # checked above: a bare, optionally qualified, identifier
        if self.all_enterprises:
            return sql.SQL("TRUE"), ()
        if self.region_id is not None:
            return sql.SQL("{} IN (" + _REGION_TREE + ")").format(col), (self.region_id,)
        if self.enterprise_id is not None:
            return sql.SQL("{} = %s").format(col), (self.enterprise_id,)
        return sql.SQL("FALSE"), ()

    def company_condition(self, column: str) -> tuple[sql.Composable, tuple[Any, ...]]:
        """``(condition, params)`` restricting ``column`` (a contractor company id): a
        contractor's own company only, everybody else every company (``condition`` still
        applies to the company's host enterprise)."""
        if not _COLUMN.match(column):
            raise ValueError(f"not a column name: {column!r}")
        if not self.companies_only:
            return sql.SQL("TRUE"), ()
        if self.company_id is None:
            return sql.SQL("FALSE"), ()
        return sql.SQL("{} = %s").format(sql.SQL(column)), (self.company_id,)

    def enterprise_ids(self, conn: psycopg.Connection) -> list[int] | None:
        """The visible enterprise ids, or None for all."""
        if self.all_enterprises:
            return None
        cond, params = self.condition("e.id")
        query = sql.SQL("SELECT e.id FROM registry.enterprise e WHERE {} ORDER BY e.id")
        return [r[0] for r in conn.execute(query.format(cond), params)]


@dataclass(frozen=True)
class WebUser:
    id: int
    name: str
    display_name: str | None
    role: str
    enterprise_id: int | None
    region_id: int | None
    scope_label: str
    contractor_company_id: int | None = None

    @property
    def scope(self) -> Scope:
        return Scope.for_user(
            self.role, self.enterprise_id, self.region_id, self.contractor_company_id
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def read_only(self) -> bool:
        return self.role == "regulator"


# -- setup ------------------------------------------------------------------------------------


def secret_key(settings: Settings) -> str:
    """``[web] secret_key`` when set, else a key generated once into ``var/web/secret_key``."""
    web = settings.web
    if web.secret_key is not None:
        return web.secret_key.get_secret_value()
    path = settings.path(web.secret_key_file)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def install(app: Flask, settings: Settings) -> None:
    """Session cookie settings, the login/logout routes and the request guards."""
    app.secret_key = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.add_url_rule("/login", "login", login_view, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", logout_view, methods=["POST"])
    app.add_url_rule("/login/lang/<lang>", "login_lang", login_lang_view, methods=["GET"])
    app.before_request(_guard)


# -- sessions ---------------------------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _csrf_ok(given: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and given and hmac.compare_digest(str(expected), given))


def current_user() -> WebUser | None:
    """The signed-in user of this request (read from the database once per request)."""
    if "web_user" in g:
        return g.web_user  # type: ignore[no-any-return]
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        with db_pool().connection() as conn:
            user = load_user(conn, uid)
        if user is None:  # deactivated or deleted meanwhile
            session.clear()
    g.web_user = user
    return user


def load_user(conn: psycopg.Connection, uid: int) -> WebUser | None:
    row = conn.execute(
        """
        SELECT u.id, u.name, u.display_name, u.role, u.enterprise_id, u.region_id,
               coalesce(c.name, e.name, r.name, ''), u.contractor_company_id
        FROM auth.app_user u
        LEFT JOIN contractor.company c ON c.id = u.contractor_company_id
        LEFT JOIN registry.enterprise e ON e.id = u.enterprise_id
        LEFT JOIN registry.region r ON r.id = u.region_id
        WHERE u.id = %s AND u.active
        """,
        (uid,),
    ).fetchone()
    return None if row is None else WebUser(*row)


def db_pool() -> Any:
    from dashboards.server import resources

    return resources(current_app).pool


def app_home() -> Path:
    """The serving instance's home (attachments, vault key, models): ``app_home() / "var"``."""
    from dashboards.server import resources

    return resources(current_app).settings.home


def _guard() -> Response | None:
    path = request.path
    dash = DASH_ENDPOINT.match(path) is not None
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and dash and not _csrf_ok(request.headers.get(CSRF_HEADER)):
        abort(403, description="missing or wrong CSRF token")
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if current_user() is not None:
        return None
    if dash:
        abort(401, description="sign in first")
    nxt = request.full_path.rstrip("?") if request.query_string else path
    return redirect("/login?next=" + _quote(nxt))


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _safe_next(value: str | None) -> str:
    """Only local paths: no scheme, no host, no ``//`` or backslash tricks."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


# -- throttling and the audit log -------------------------------------------------------------


def client_ip() -> str:
    return request.remote_addr or "-"


def recent_failures(conn: psycopg.Connection, name: str, ip: str) -> list[Any]:
    """Times of the failed attempts (locked ones excluded) since the last success."""
    rows = conn.execute(
        """
        SELECT at FROM audit.log
        WHERE action = 'login_failed' AND lower(actor) = lower(%(name)s)
          AND after ->> 'ip' = %(ip)s AND reason IS DISTINCT FROM 'locked'
          AND at > now() - %(window)s
          AND at > coalesce((SELECT max(at) FROM audit.log
                             WHERE action = 'login' AND lower(actor) = lower(%(name)s)
                               AND after ->> 'ip' = %(ip)s AND at > now() - %(window)s),
                            '-infinity')
        ORDER BY at DESC LIMIT %(n)s
        """,
        {"name": name, "ip": ip, "window": FAILURE_WINDOW, "n": MAX_FAILURES},
    ).fetchall()
    return [r[0] for r in rows]


def write_audit(
    conn: psycopg.Connection,
    action: str,
    name: str,
    user_id: int | None,
    ip: str,
    reason: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit.log (actor_id, actor, action, entity, entity_id, after, reason) "
        "VALUES (%s, %s, %s, 'app_user', %s, %s::jsonb, %s)",
        (
            user_id,
            name[:64],
            action,
            None if user_id is None else str(user_id),
            json.dumps({"ip": ip, "user_agent": request.headers.get("User-Agent", "")[:200]}),
            reason,
        ),
    )


def attempt_login(
    conn: psycopg.Connection, name: str, password: str, ip: str
) -> tuple[int | None, str | None]:
    """``(user_id, None)`` on success, else ``(None, i18n key of the error)``."""
    failures = recent_failures(conn, name, ip)
    if len(failures) >= MAX_FAILURES:
        write_audit(conn, "login_failed", name, None, ip, reason="locked")
        return None, "login.locked"
    uid = verify_login(conn, name, password) if name and password else None
    if uid is None:
        write_audit(conn, "login_failed", name or "-", None, ip, reason="bad credentials")
        if len(failures) + 1 >= MAX_FAILURES:
            return None, "login.locked"
        return None, "login.failed"
    write_audit(conn, "login", name, uid, ip)
    return uid, None


# -- views ------------------------------------------------------------------------------------


def login_view() -> Response | str:
    """The sign-in form (server-rendered: works before any script runs)."""
    lang = i18n.current_lang()
    error_key = None
    name = ""
    nxt = _safe_next(request.values.get("next"))
    if request.method == "POST":
        if not _csrf_ok(request.form.get(CSRF_FIELD)):
            abort(403, description="missing or wrong CSRF token")
        name = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")
        with db_pool().connection() as conn:
            uid, error_key = attempt_login(conn, name, password, client_ip())
        if uid is not None:
            keep_lang = session.get("lang")
            session.clear()  # no session fixation: a fresh session and CSRF token
            session.permanent = True
            session["uid"] = uid
            if keep_lang:
                session["lang"] = keep_lang
            csrf_token()
            return redirect(nxt)
    elif current_user() is not None:
        return redirect(nxt)
    # 200 also after a failure: the form is the answer (401 would need WWW-Authenticate).
    body = _login_page(lang, name, nxt, error_key)
    return Response(body, mimetype="text/html", headers={"Cache-Control": "no-store"})


def logout_view() -> Response:
    if not _csrf_ok(request.form.get(CSRF_FIELD)):
        abort(403, description="missing or wrong CSRF token")
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect("/login")


def _login_page(lang: str, name: str, nxt: str, error_key: str | None) -> str:
    def t(key: str) -> str:
        return html.escape(i18n.t(key, lang))

    esc = html.escape
    error = (
        f'<div class="hw-error" id="login-error" role="alert">{t(error_key)}</div>'
        if error_key
        else ""
    )
    other = "en" if lang == "zh" else "zh"
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t("login.title")} · {t("site.name")}</title>
<link rel="stylesheet" href="/assets/hazwatch.css"></head>
<body class="hw-login-body">
<main class="hw-login-card">
<h1>{t("site.name")}</h1><p class="hw-muted">{t("site.tagline")}</p>
{error}
<form method="post" action="/login" id="login-form">
<input type="hidden" name="{CSRF_FIELD}" value="{esc(csrf_token())}">
<input type="hidden" name="next" value="{esc(nxt)}">
<label for="username">{t("login.username")}</label>
<input id="username" name="username" autocomplete="username" required value="{esc(name)}">
<label for="password">{t("login.password")}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">{t("login.submit")}</button>
</form>
<p class="hw-muted"><a href="/login/lang/{other}?next={esc(_quote(nxt))}"
 id="login-lang">{t("lang.switch")}</a></p>
</main></body></html>"""


def login_lang_view(lang: str) -> Response:
    """Language on the sign-in page (a preference only, so a GET link is fine)."""
    if lang in i18n.LANGS:
        session["lang"] = lang
    return redirect("/login?next=" + _quote(_safe_next(request.args.get("next"))))
