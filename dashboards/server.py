"""The web server process: one Flask app for the line-protocol write API, health, and (next)
the Dash UI, served by waitress (``hazwatch serve``).

    app = create_server(settings)        # starts the writer and the connection pool
    ...                                  # dash.Dash(__name__, server=app, url_base_pathname="/")
    close_server(app)                    # flushes the writer; call once, at shutdown

What the app holds lives in ``app.extensions``: ``RESOURCES`` (settings, pool, writer) and
``ingest.lineprotocol.http.EXTENSION`` (the line-protocol service). Errors are JSON in
InfluxDB's shape ``{"code": ..., "message": ...}``; every response carries a few security
headers (``SECURITY_HEADERS``) set with ``setdefault``, so a page that needs others (Dash)
can set its own.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, Response, current_app, jsonify
from psycopg_pool import ConnectionPool
from werkzeug.exceptions import HTTPException

import dashboards.api.contractor_summary  # noqa: F401  (C20: registers its endpoint)
from dashboards.api import alerts as _alerts_api  # noqa: F401  (P13, R8: its endpoints)
from dashboards.api import hazard as _hazard_api  # noqa: F401  (R2-R5, A19: its endpoints)
from dashboards.api.exchange import blueprint as exchange_blueprint
from dashboards.api.regulator import api as regulator_api
from hazwatch.db import make_pool
from hazwatch.settings import Settings
from ingest.lineprotocol.http import EXTENSION, MAX_BODY_BYTES, LineService, blueprint
from ingest.writer import Writer

log = logging.getLogger(__name__)

RESOURCES = "hazwatch.server"
#: Seconds /health waits for a pooled connection before calling the database unreachable.
HEALTH_DB_TIMEOUT_S = 2.0
#: Set on every response unless the view set them. No script-src policy: Dash renders inline
#: scripts, so the UI issue decides that one.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class ServerResources:
    """What one server process owns: one pool, one writer (``name="line"``)."""

    settings: Settings
    pool: ConnectionPool
    writer: Writer
    line: LineService

    def close(self, timeout: float = 30.0) -> None:
        """Write (or spool) what the writer still holds, then close the pool."""
        self.line.stopping = True
        try:
            self.writer.close(timeout=timeout)
        finally:
            self.pool.close()


def create_server(settings: Settings) -> Flask:
    """The app with the line-protocol endpoints and ``/health``; starts the writer.

    The database need not be up: the pool connects in the background, the writer spools,
    and ``/health`` says 503 until it is.
    """
    app = Flask(__name__, static_folder=None)
    # Bodies over this are refused before they are read (the write API checks it itself too,
    # to answer in InfluxDB's words).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the order health reads in

    pool = make_pool(settings, name="hazwatch-web")
    pool.open(wait=False)
    try:
        writer = Writer(settings, name="line")
        writer.start()
    except BaseException:
        pool.close()
        raise
    line = LineService(settings, pool, writer)
    app.extensions[RESOURCES] = ServerResources(settings, pool, writer, line)
    app.extensions[EXTENSION] = line

    app.register_blueprint(blueprint)
    app.register_blueprint(exchange_blueprint)
    app.register_blueprint(regulator_api.blueprint())
    app.add_url_rule("/health", "health", health, methods=["GET", "HEAD"])
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


def resources(app: Flask) -> ServerResources:
    res = app.extensions[RESOURCES]
    assert isinstance(res, ServerResources)
    return res


def close_server(app: Flask, timeout: float = 30.0) -> None:
    """Flush and close what ``create_server`` started."""
    resources(app).close(timeout)


def health() -> tuple[Response, int]:
    """``GET /health``: database reachable, writer and line-protocol counters.

    200 with ``"status": "pass"`` when the database answers, else 503 with ``"fail"`` (the
    writer keeps spooling meanwhile). The top-level keys are InfluxDB's, so its clients'
    ``health()`` reads it too.
    """
    res = resources(current_app)
    try:
        wait = min(HEALTH_DB_TIMEOUT_S, res.settings.pool.timeout_s)
        with res.pool.connection(timeout=wait) as conn:
            conn.execute("SELECT 1")
        db: dict[str, Any] = {"name": "database", "status": "pass"}
    except Exception as exc:  # any failure means "not reachable" to a health check
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        db = {"name": "database", "status": "fail", "message": first}
    ok = db["status"] == "pass"
    body = {
        "name": "hazwatch",
        "status": "pass" if ok else "fail",
        "message": "ready for writes" if ok else "database unavailable",
        "checks": [db],
        "writer": asdict(res.writer.stats),
        "line_protocol": asdict(res.line.stats),
    }
    return jsonify(body), 200 if ok else 503


def _security_headers(resp: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if resp.mimetype == "application/json":
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _http_error(exc: HTTPException) -> Response:
    resp = jsonify({"code": (exc.name or "error").lower(), "message": exc.description})
    resp.status_code = exc.code or 500
    allowed = getattr(exc, "valid_methods", None)  # 405 says what would have worked
    if allowed:
        resp.headers["Allow"] = ", ".join(allowed)
    return resp


def _internal_error(exc: Exception) -> Response:
    log.exception("unhandled error in a request", exc_info=exc)
    resp = jsonify({"code": "internal error", "message": "internal error (see the server log)"})
    resp.status_code = 500
    return resp
