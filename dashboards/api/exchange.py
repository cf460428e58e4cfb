"""``POST /api/exchange/v1/batch``: where lower instances push (R9). Protocol and reasons:
``workflows.upward_protocol``; what is applied and how: ``workflows.upward_receive``.

    app.register_blueprint(blueprint)   # dashboards.server.create_server does this

Answers: 200 ``{"accepted": [...], "duplicates": [...], "rejected": [{"id", "error"}]}``;
400 malformed or badly signed batch; 401 no or unknown token; 403 a token that is not an
exchange token or has no registered public key; 503 database unreachable. Errors are
``{"code", "message"}``.
"""

from __future__ import annotations

import logging
import time

import psycopg
from flask import Blueprint, Response, current_app, jsonify, request
from psycopg_pool import PoolTimeout

from hazwatch import tokens
from workflows.upward_protocol import (
    PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ProtocolError,
    decode_batch,
    verify,
)
from workflows.upward_receive import receive

log = logging.getLogger("hazwatch.exchange")
blueprint = Blueprint("exchange", __name__)
#: Seconds a request waits for a pooled connection before answering 503.
DB_WAIT_S = 5.0


def _error(status: int, code: str, message: str) -> Response:
    resp = jsonify({"code": code, "message": message})
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = "30"
    return resp


@blueprint.post(PATH)
def batch() -> Response:
    from dashboards.server import resources

    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not credential.strip():
        return _error(401, "unauthorized", "send the exchange token as 'Authorization: Bearer …'")
    body = request.get_data(cache=False)
    pool = resources(current_app).pool
    try:
        with pool.connection(timeout=DB_WAIT_S) as conn:
            info = tokens.lookup_token(conn, credential.strip())
            if info is None:
                return _error(401, "unauthorized", "unknown or revoked token")
            if info.role != "exchange":
                return _error(403, "forbidden", f"token {info.name!r} is not an exchange token")
            row = conn.execute(
                "SELECT public_key FROM exchange.peer_key WHERE token_id = %s", (info.id,)
            ).fetchone()
            if row is None:
                return _error(
                    403,
                    "forbidden",
                    f"no public key is registered for token {info.name!r}: run "
                    "`hazwatch exchange trust` here with the sender's `hazwatch exchange key`",
                )
            try:
                verify(
                    row[0],
                    body,
                    request.headers.get(TIMESTAMP_HEADER),
                    request.headers.get(SIGNATURE_HEADER),
                    now=time.time(),
                )
                parsed = decode_batch(body)
            except ProtocolError as exc:
                return _error(400, "bad request", str(exc))
            tokens.touch_token(conn, info)
            with conn.transaction():
                outcome = receive(conn, info, parsed)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("exchange batch refused, database unreachable: %s", exc)
        return _error(503, "unavailable", "database unreachable; retry later")
    log.info(
        "exchange batch from %s (%s): %d accepted, %d duplicates, %d rejected",
        info.name,
        parsed.origin.get("instance"),
        len(outcome.accepted),
        len(outcome.duplicates),
        len(outcome.rejected),
    )
    return jsonify(outcome.as_json())
