"""Declared read-only REST endpoints with their OpenAPI 3.1 document (R8, R9, D3).

    api = Api("hazwatch regulator API", "1")
    @api.get("/api/v1/enterprises", query=EnterpriseQuery, response=EnterprisePage,
             summary="Enterprises in the token's region")
    def enterprises(ctx: Ctx, q: EnterpriseQuery) -> EnterprisePage: ...
    app.register_blueprint(api.blueprint())       # also serves /api/openapi.json

Query strings are validated by the endpoint's pydantic model (unknown parameters refused) and
answers are serialised by its response model, so the document the clients read is the one the
server enforces. pydantic does the schema work; this module only routes and documents.
Authentication: ``Authorization: Bearer hzw_…`` with a ``regulator`` token; the token's region
becomes the ``Scope`` every query is restricted by.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
from flask import Blueprint, Response, current_app, jsonify, request
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema

from dashboards.auth import Scope
from hazwatch import tokens
from hazwatch.tokens import TokenInfo

log = logging.getLogger("hazwatch.api")
#: PostgreSQL integer ids: a larger path id is simply not found (never an overflow error).
MAX_ID: Final = 2**31 - 1
DB_WAIT_S: Final = 5.0
_PARAM = re.compile(r"<int:([a-z_]+)>")


class QueryModel(BaseModel):
    """Base of query models: unknown parameters are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Error(BaseModel):
    code: str
    message: str


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Ctx:
    """What a handler works with. Pages call handlers too, with the signed-in user's scope
    and no token: ``enterprises(Ctx(conn, None, user.scope), EnterpriseQuery())``."""

    conn: psycopg.Connection
    token: TokenInfo | None
    scope: Scope
    path: dict[str, int] = field(default_factory=dict)


Handler = Callable[[Ctx, Any], BaseModel]


@dataclass(frozen=True)
class Endpoint:
    path: str
    summary: str
    description: str
    query: type[QueryModel]
    response: type[BaseModel]
    handler: Handler
    tag: str


def _error(status: int, code: str, message: str) -> Response:
    resp = jsonify({"code": code, "message": message})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="hazwatch"'
    if status == 503:
        resp.headers["Retry-After"] = "30"
    return resp


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "query"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class Api:
    def __init__(self, title: str, version: str, description: str = "") -> None:
        self.title, self.version, self.description = title, version, description
        self.endpoints: list[Endpoint] = []

    def get(
        self,
        path: str,
        *,
        query: type[QueryModel],
        response: type[BaseModel],
        summary: str,
        tag: str,
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            doc = (fn.__doc__ or "").strip()
            self.endpoints.append(Endpoint(path, summary, doc, query, response, fn, tag))
            return fn

        return deco

    # -- serving ----------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        bp = Blueprint("api_v1", __name__)
        for ep in self.endpoints:
            bp.add_url_rule(ep.path, ep.handler.__name__, self._view(ep), methods=["GET"])
        bp.add_url_rule("/api/openapi.json", "openapi", lambda: jsonify(self.openapi()))
        # Without this, an unknown /api/v1/ path (or a negative id) would fall through to the UI's
        # catch-all page and answer HTML 200 to an API client.
        bp.add_url_rule(
            "/api/v1/<path:rest>",
            "not_found",
            lambda rest: _error(404, "not found", f"no API at /api/v1/{rest}"),
        )
        return bp

    def _view(self, ep: Endpoint) -> Callable[..., Response]:
        def view(**path: int) -> Response:
            from dashboards.server import resources

            if any(v > MAX_ID for v in path.values()):
                return _error(404, "not found", "no such object")
            try:
                q = ep.query.model_validate(request.args.to_dict(flat=True))
            except ValidationError as exc:
                return _error(400, "bad request", _validation_message(exc))
            if len(request.args) != len(request.args.to_dict(flat=False)) or any(
                len(v) > 1 for v in request.args.to_dict(flat=False).values()
            ):
                return _error(400, "bad request", "each query parameter may be given once")
            scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() not in ("bearer", "token") or not credential.strip():
                return _error(401, "unauthorized", "send a regulator token as 'Bearer hzw_…'")
            try:
                with resources(current_app).pool.connection(timeout=DB_WAIT_S) as conn:
                    info = tokens.lookup_token(conn, credential.strip())
                    if info is None:
                        return _error(401, "unauthorized", "unknown or revoked token")
                    if info.role != "regulator" or info.region_id is None:
                        return _error(
                            403, "forbidden", f"token {info.name!r} is not a regulator token"
                        )
                    tokens.touch_token(conn, info)
                    scope = Scope(region_id=info.region_id)
                    result = ep.handler(Ctx(conn, info, scope, path), q)
            except ApiError as exc:
                return _error(exc.status, exc.code, exc.message)
            except (PoolTimeout, psycopg.OperationalError) as exc:
                log.warning("API request refused, database unreachable: %s", exc)
                return _error(503, "unavailable", "database unreachable; retry later")
            return current_app.response_class(
                result.model_dump_json(by_alias=True), mimetype="application/json"
            )

        view.__name__ = ep.handler.__name__
        return view

    # -- the document -----------------------------------------------------------------------

    def openapi(self) -> dict[str, Any]:
        models = {ep.response for ep in self.endpoints} | {Error}
        _, defs = models_json_schema(
            [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        errors = {
            str(code): {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for code, text in (
                (400, "Invalid parameters (the message names each)"),
                (401, "Missing, unknown or revoked token"),
                (403, "Not a regulator token"),
                (503, "Database unreachable; retry later"),
            )
        }
        paths: dict[str, Any] = {}
        for ep in self.endpoints:
            oa_path = _PARAM.sub(r"{\1}", ep.path)
            params = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                }
                for name in _PARAM.findall(ep.path)
            ]
            qschema = ep.query.model_json_schema()
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                prop = {k: v for k, v in prop.items() if k != "title"}
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in required,
                        "description": prop.pop("description", ""),
                        "schema": prop,
                    }
                )
            responses = {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{ep.response.__name__}"}
                        }
                    },
                },
                **errors,
            }
            if params and params[0]["in"] == "path":
                responses["404"] = {**errors["400"], "description": "No such object in scope"}
            paths[oa_path] = {
                "get": {
                    "operationId": ep.handler.__name__,
                    "summary": ep.summary,
                    "description": ep.description,
                    "tags": [ep.tag],
                    "parameters": params,
                    "responses": responses,
                }
            }
        return {
            "openapi": "3.1.0",
            "info": {
                "title": self.title,
                "version": self.version,
                "description": self.description,
            },
            "servers": [{"url": "/"}],
            "security": [{"bearer": []}],
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }
