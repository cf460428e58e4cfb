"""InfluxDB-compatible write endpoints: Telegraf and the InfluxDB client libraries write here.

    app.extensions[EXTENSION] = LineService(settings, pool, writer)
    app.register_blueprint(blueprint)
    # POST /api/v2/write?org=o&bucket=b&precision=s   Authorization: Token hzw_...
    # POST /write?db=d&precision=ms                     Token header, u/p, or Basic (password)

A request is authenticated by an ``ingest`` API token (``hazwatch.tokens``); its points become
``ts.sample`` rows of the token's enterprise (else ``[site] enterprise``), through the one
long-lived writer of the server process. The response follows InfluxDB: 204 when every line
was taken; 400 when some lines are not valid line protocol, with the good ones written and
the message ``partial write error (N written): unable to parse '<line>': <reason>``; each bad
line also goes to ``ingest.quarantine`` with its line number. A 204 means "accepted": the
rows are committed by the writer within ``[ingest] flush_interval_s`` (or spooled while the
database is down), as InfluxDB acknowledges before its data is queryable.

``org``, ``bucket`` and ``db`` are accepted and ignored: where points go is the token's
business. Mapping and limits are documented in ``docs/line-protocol.md``.
"""

from __future__ import annotations

import logging
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import psycopg
from flask import Blueprint, Response, current_app, jsonify, request
from psycopg_pool import ConnectionPool

from hazwatch import registers, tokens
from hazwatch.registers import Actor, RegisterError
from hazwatch.settings import Settings
from hazwatch.tokens import TokenInfo
from ingest.lineprotocol.decode import (
    MAX_TAG_NAME,
    PRECISION_NS,
    V2_PRECISIONS,
    LineError,
    Point,
    decode_lines,
    escape_key,
    field_tag_name,
    numeric,
    series_key,
    tag_base,
    tag_name,
)
from ingest.tags import TagResolver
from ingest.types import Rejected, Sample, Sink

log = logging.getLogger(__name__)

SOURCE = "line"
ACTOR = Actor(None, "collector:line")
#: Where create_server puts the LineService (``app.extensions[EXTENSION]``).
EXTENSION = "hazwatch.line"
#: A request body as sent (compressed or not), InfluxDB's default ``max-body-size``.
MAX_BODY_BYTES = 25_000_000
#: After gunzip: a 25 MB gzip body can hold gigabytes (a "zip bomb").
MAX_DECODED_BYTES = 100_000_000
#: Samples resolved and handed to the writer at a time (bounds memory per request).
CHUNK_SAMPLES = 5_000
#: Bad lines quoted in one response message; all of them go to the quarantine.
MAX_LISTED_ERRORS = 20
#: Characters of a line quoted in a response message.
MAX_QUOTED_CHARS = 300
#: Seconds a request waits for a database connection (at most ``[pool] timeout_s``) before
#: answering 503: clients time out after 10 s by default and retry on 503.
DB_WAIT_S = 5.0
#: Series fields whose string values were quarantined once already (bounded memory).
MAX_SEEN_STRING_FIELDS = 10_000

Api = Literal["v1", "v2"]


class WriteRefused(Exception):
    """A request that is refused as a whole: HTTP status, InfluxDB code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class WriteOutcome:
    """What became of one request's lines."""

    points_written: int = 0
    samples: int = 0
    bad_lines: int = 0
    #: The first MAX_LISTED_ERRORS bad lines (all of them go to the quarantine).
    errors: list[LineError] = field(default_factory=list)
    string_fields_skipped: int = 0


@dataclass
class LineStats:
    requests: int = 0
    points_written: int = 0
    samples: int = 0
    line_errors: int = 0
    string_fields_skipped: int = 0
    refused: int = 0


class LineService:
    """The endpoints' state: token checks, tag ids (cached per enterprise), the writer.

    Thread-safe: waitress serves requests from several threads.

        service = LineService(settings, pool, writer)
        info = service.authenticate("hzw_...")        # TokenInfo or None
        outcome = service.write(info, enterprise_id, body, "s", datetime.now(UTC))
    """

    def __init__(
        self,
        settings: Settings,
        pool: ConnectionPool,
        sink: Sink,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_decoded_bytes: int = MAX_DECODED_BYTES,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.sink = sink
        self.max_body_bytes = max_body_bytes
        self.max_decoded_bytes = max_decoded_bytes
        self._tag_ids: dict[tuple[int, str], int] = {}
        self._site_enterprise: int | None = None
        self._seen_strings: set[tuple[int, str]] = set()
        self._lock = threading.Lock()
        self._stats = LineStats()
        self.db_wait_s = min(DB_WAIT_S, settings.pool.timeout_s)
        #: Set by the server before it closes the writer.
        self.stopping = False

    # -- who and where -------------------------------------------------------------------------

    def authenticate(self, token: str) -> TokenInfo | None:
        """The token's info when it exists and is not revoked (any role); stamps its use."""
        with self.pool.connection(timeout=self.db_wait_s) as conn:
            info = tokens.lookup_token(conn, token)
            if info is not None and info.role == "ingest":
                tokens.touch_token(conn, info)
        return info

    def enterprise_for(self, info: TokenInfo) -> int:
        """The enterprise whose tags the token writes: its own, else ``[site] enterprise``."""
        if info.enterprise_id is not None:
            return info.enterprise_id
        if self._site_enterprise is not None:
            return self._site_enterprise
        ref = self.settings.site.enterprise
        if not ref:
            raise WriteRefused(
                422,
                "unprocessable entity",
                f"token {info.name!r} names no enterprise and [site] enterprise is not set: "
                "there is no enterprise to file tags under",
            )
        with self.pool.connection(timeout=self.db_wait_s) as conn:
            try:
                self._site_enterprise = registers.resolve(conn, "enterprise", ref)
            except RegisterError as exc:
                raise WriteRefused(
                    422, "unprocessable entity", f"[site] enterprise: {exc}"
                ) from exc
        return self._site_enterprise

    # -- the write -------------------------------------------------------------------------------

    def write(
        self,
        info: TokenInfo,
        enterprise_id: int,
        body: bytes,
        precision: str,
        received_at: datetime,
    ) -> WriteOutcome:
        """Decode ``body`` and hand its samples and bad lines to the writer.

        Lines without a timestamp get ``received_at``. Raises psycopg.OperationalError when
        unknown tags cannot be created because the database is unreachable.
        """
        out = WriteOutcome()
        pending: list[tuple[datetime, str, float, str]] = []  # time, tag name, value, address
        for item in decode_lines(body, precision=precision, received_at=received_at):
            if isinstance(item, LineError):
                self._bad_line(info, item, out)
                continue
            values, strings, error = _values_of(item)
            if error is not None:
                self._bad_line(info, error, out)
                continue
            if strings:
                out.string_fields_skipped += len(strings)
                self._quarantine_strings(info, enterprise_id, item, strings)
            if values:
                out.points_written += 1
                pending.extend(values)
                if len(pending) >= CHUNK_SAMPLES:
                    out.samples += self._put(enterprise_id, pending)
                    pending = []
        if pending:
            out.samples += self._put(enterprise_id, pending)
        with self._lock:
            self._stats.requests += 1
            self._stats.points_written += out.points_written
            self._stats.samples += out.samples
            self._stats.line_errors += out.bad_lines
            self._stats.string_fields_skipped += out.string_fields_skipped
        return out

    def _bad_line(self, info: TokenInfo, error: LineError, out: WriteOutcome) -> None:
        # Quarantined as they come, so the table reads in line order.
        out.bad_lines += 1
        if len(out.errors) < MAX_LISTED_ERRORS:
            out.errors.append(error)
        self.sink.reject(
            Rejected(SOURCE, error.reason, error.text, origin=info.name, position=str(error.line))
        )

    def _put(self, enterprise_id: int, rows: list[tuple[datetime, str, float, str]]) -> int:
        ids = self._ids(enterprise_id, {name: address for _, name, _, address in rows})
        self.sink.put_samples([Sample(t, ids[name], value) for t, name, value, _ in rows])
        return len(rows)

    def _ids(self, enterprise_id: int, wanted: dict[str, str]) -> dict[str, int]:
        """Tag ids by name, creating unknown tags (audited as ``collector:line``)."""
        found: dict[str, int] = {}
        missing: dict[str, str] = {}
        for name, address in wanted.items():
            tag_id = self._tag_ids.get((enterprise_id, name))
            if tag_id is None:
                missing[name] = address
            else:
                found[name] = tag_id
        if missing:
            with self.pool.connection(timeout=self.db_wait_s) as conn:
                resolver = TagResolver(conn, enterprise_id, ACTOR)
                if len(missing) > 20:
                    resolver.load()  # one query for all rather than one per name
                for name, address in missing.items():
                    tag_id = resolver.id_for(name, source=SOURCE, source_address=address)
                    assert tag_id is not None
                    found[name] = self._tag_ids[(enterprise_id, name)] = tag_id
        return found

    def _quarantine_strings(
        self, info: TokenInfo, enterprise_id: int, point: Point, strings: list[str]
    ) -> None:
        # Agents send string fields every interval (status texts, versions): one quarantine
        # row per field and server run says what is skipped without flooding the table.
        for key in strings:
            seen = (enterprise_id, tag_name(point.measurement, point.tags, key))
            with self._lock:
                if seen in self._seen_strings:
                    continue
                if len(self._seen_strings) >= MAX_SEEN_STRING_FIELDS:
                    self._seen_strings.clear()
                self._seen_strings.add(seen)
            self.sink.reject(
                Rejected(
                    SOURCE,
                    f"string field {key!r} not stored: hazwatch stores numbers only (quarantined "
                    "once per field and server run, later values are skipped)",
                    point.text,
                    origin=info.name,
                    position=str(point.line),
                )
            )

    def refused(self) -> None:
        with self._lock:
            self._stats.refused += 1

    @property
    def stats(self) -> LineStats:
        with self._lock:
            return LineStats(**vars(self._stats))


def _values_of(
    point: Point,
) -> tuple[list[tuple[datetime, str, float, str]], list[str], LineError | None]:
    """A point's numeric fields as (time, tag name, value, source address), its string
    fields, or the error that makes the whole line unstorable."""
    values: list[tuple[datetime, str, float, str]] = []
    strings: list[str] = []
    t = point.time
    base = tag_base(point.measurement, point.tags)
    series = series_key(point)
    for key, raw in point.fields.items():
        value = numeric(raw)
        if value is None:
            strings.append(key)
            continue
        name = field_tag_name(base, key)
        if len(name) > MAX_TAG_NAME:
            why = f"tag name longer than {MAX_TAG_NAME} characters: {name[:60]}..."
            return [], [], LineError(point.line, point.text, why)
        values.append((t, name, value, f"{series} {escape_key(key)}"))
    return values, strings, None


# -- HTTP ------------------------------------------------------------------------------------

blueprint = Blueprint("lineprotocol", __name__)


def _service() -> LineService:
    service = current_app.extensions[EXTENSION]
    assert isinstance(service, LineService)
    return service


def _error(api: Api, status: int, code: str, message: str) -> Response:
    """InfluxDB's error bodies: v2 ``{"code", "message"}``, v1 ``{"error"}``."""
    body = {"code": code, "message": message} if api == "v2" else {"error": message}
    resp = jsonify(body)
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = "5"  # the InfluxDB clients honour it when retrying
    return resp


def _header_token() -> str | None:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and credential.strip():
        return credential.strip()
    return None


def _v1_token() -> str | None:
    """InfluxDB 1.x clients send the token as the password: Basic auth or ``p``."""
    token = _header_token()
    if token:
        return token
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.password:
        return auth.password
    return request.args.get("p") or None


def _read_body(service: LineService) -> bytes:
    length = request.content_length
    if length is not None and length > service.max_body_bytes:
        raise WriteRefused(
            413,
            "request too large",
            f"request body of {length} bytes is over the limit of {service.max_body_bytes}",
        )
    # waitress has read the whole body (de-chunked) and set its length, so this is bounded.
    data = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise WriteRefused(
            415, "unsupported media type", f"Content-Encoding {encoding!r}: only gzip is supported"
        )
    return gunzip(data, service.max_decoded_bytes)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip members, refusing (413) more than ``limit`` bytes of output.

    >>> import gzip
    >>> gunzip(gzip.compress(b"m f=1") + gzip.compress(b"\\nm f=2"), 100)
    b'm f=1\\nm f=2'
    """
    parts: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise WriteRefused(400, "invalid", f"unable to decode gzip body: {exc}") from exc
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise WriteRefused(
                413, "request too large", f"decompressed body over the limit of {limit} bytes"
            )
        if not inflater.eof:
            raise WriteRefused(400, "invalid", "unable to decode gzip body: truncated")
        parts.append(part)
        data = inflater.unused_data
    return b"".join(parts)


def _quoted(err: LineError) -> str:
    if len(err.text) <= MAX_QUOTED_CHARS:
        return str(err)
    return f"unable to parse '{err.text[:MAX_QUOTED_CHARS]}...': {err.reason}"


def _errors_text(out: WriteOutcome) -> str:
    # InfluxDB joins one "unable to parse" per bad line with newlines.
    text = "\n".join(_quoted(e) for e in out.errors)
    if out.bad_lines > len(out.errors):
        text += f"\n... and {out.bad_lines - len(out.errors)} more lines (see ingest.quarantine)"
    return text


def _handle(api: Api, precision: str, token: str | None) -> Response:
    service = _service()
    received_at = datetime.now(UTC)
    try:
        if token is None:
            raise WriteRefused(401, "unauthorized", "unauthorized access: no token given")
        info = service.authenticate(token)
        if info is None:
            raise WriteRefused(401, "unauthorized", "unauthorized access: unknown or revoked token")
        if info.role != "ingest":
            raise WriteRefused(
                403,
                "forbidden",
                f"token {info.name!r} has role {info.role}; writing needs role ingest",
            )
        enterprise_id = service.enterprise_for(info)
        body = _read_body(service)
        outcome = service.write(info, enterprise_id, body, precision, received_at)
    except WriteRefused as exc:
        service.refused()
        return _error(api, exc.status, exc.code, exc.message)
    except psycopg.OperationalError as exc:  # includes the pool's timeout
        log.warning("line protocol write refused, database unavailable: %s", exc)
        service.refused()
        return _error(api, 503, "unavailable", "database unavailable, retry later")
    except RuntimeError:
        if not service.stopping:
            raise
        # A request that outlived waitress's grace period met the closed writer.
        service.refused()
        return _error(api, 503, "unavailable", "server is shutting down, retry later")
    if outcome.bad_lines:
        log.info(
            "line protocol from %s: %d points written, %d bad lines",
            info.name,
            outcome.points_written,
            outcome.bad_lines,
        )
        text = _errors_text(outcome)
        if outcome.points_written == 0:
            return _error(api, 400, "invalid", text)
        if api == "v2":
            message = f"partial write error ({outcome.points_written} written): {text}"
        else:
            message = f"partial write: {text} dropped={outcome.bad_lines}"
        return _error(api, 400, "invalid", message)
    if api == "v2" and outcome.points_written == 0 and outcome.string_fields_skipped == 0:
        return _error(api, 400, "invalid", "writing requires points")
    return _no_content()


def _no_content() -> Response:
    resp = Response(status=204)
    del resp.headers["Content-Type"]  # Flask's default text/html says something untrue here
    return resp


@blueprint.post("/api/v2/write")
def write_v2() -> Response:
    """InfluxDB 2.x write API: ``?org=&bucket=&precision=ns|us|ms|s``, ``Token`` auth."""
    precision = request.args.get("precision") or "ns"
    if precision not in V2_PRECISIONS:
        return _error(
            "v2", 400, "invalid", "invalid precision; valid precision units are ns, us, ms, and s"
        )
    return _handle("v2", precision, _header_token())


@blueprint.post("/write")
def write_v1() -> Response:
    """InfluxDB 1.x write API: ``?db=&precision=n|ns|u|us|ms|s|m|h``, token as password."""
    precision = request.args.get("precision") or "ns"
    if precision not in PRECISION_NS:
        return _error("v1", 400, "invalid", f"invalid precision {precision!r}")
    return _handle("v1", precision, _v1_token())


@blueprint.route("/ping", methods=["GET", "HEAD"])
def ping() -> Response:
    """What InfluxDB clients and Telegraf probe before writing."""
    resp = _no_content()
    resp.headers["X-Influxdb-Build"] = "hazwatch"
    resp.headers["X-Influxdb-Version"] = _version()
    return resp


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"hazwatch-{version('hazwatch')}"
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "hazwatch"
