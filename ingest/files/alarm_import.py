"""Import one DCS alarm-log file into alarm.event (A2, A3): read, decode, parse, resolve, write.

    with connect(settings, autocommit=True) as conn:
        result = import_alarm_file(conn, Path("ecs700.csv"), "supcon-ecs700", enterprise="3")
    result.imported, result.duplicates, result.quarantined     # -> (8, 0, 3)

What it writes, in chunks of ``CHUNK_ITEMS`` lines' worth, one transaction each:

* ``alarm.event``: COPY into a temporary staging table, then ``INSERT … SELECT … ON CONFLICT
  DO NOTHING`` on the table's key ``(tag_id, time, kind, condition)``. Re-importing a file adds
  nothing and counts each of its events as a duplicate; so do two events of one tag, kind and
  condition in the same instant. ``point_id`` is filled from the alarm ledger (A1) where it has
  the tag's condition; priority and type stay what the file says (A17 compares the two).
* ``registry.tag``: tags met for the first time are created, audited, by ``TagResolver``.
* ``ingest.quarantine``: every rejected line with the reason (source ``import:<format>``, origin
  the file name, position the line number).
* ``ingest.import_run``: one row per import, written first as ``running`` and updated with the
  counts after every chunk; ``done`` at the end, or ``failed`` with the error. An import that
  fails keeps the chunks already committed; importing the file again completes it.

With ``dry_run`` the same work happens in one transaction that is rolled back, so the counts
(including duplicates and new tags) are exact and nothing stays behind.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from ingest.files.decode import (
    FORMATS,
    SHANGHAI,
    FormatError,
    Ignored,
    Item,
    ParsedEvent,
    decode_bytes,
)
from ingest.tags import TagResolver
from ingest.types import Rejected

log = logging.getLogger(__name__)

#: Events plus rejected lines per transaction: large enough that COPY dominates, small enough
#: that a failure late in a big file keeps most of the work and progress shows in import_run.
CHUNK_ITEMS = 5000
#: How many quarantine reasons the result keeps for the summary.
FIRST_REASONS = 5

_STAGE_COLUMNS = (
    "time", "tag_id", "kind", "condition", "priority", "category", "limit_value", "value",
    "message", "operator", "source", "source_event_id", "attributes",
)  # fmt: skip
_STAGE_TYPES = (
    "timestamptz", "int4", "text", "text", "text", "text", "float8", "float8", "text", "text",
    "text", "text", "jsonb",
)  # fmt: skip
_CREATE_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS alarm_import_stage (
    time timestamptz, tag_id integer, kind text, condition text, priority text, category text,
    limit_value double precision, value double precision, message text, operator text,
    source text, source_event_id text, attributes jsonb
)"""
_COPY_STAGE = (
    f"COPY pg_temp.alarm_import_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)
_INSERT_EVENTS = """
INSERT INTO alarm.event (time, tag_id, point_id, kind, condition, priority, category,
                         limit_value, value, message, operator, source, source_event_id,
                         attributes)
SELECT s.time, s.tag_id, p.id, s.kind, s.condition, s.priority, s.category, s.limit_value,
       s.value, s.message, s.operator, s.source, s.source_event_id, s.attributes
FROM pg_temp.alarm_import_stage s
LEFT JOIN registry.alarm_point p ON p.tag_id = s.tag_id AND p.condition = s.condition
ON CONFLICT (tag_id, time, kind, condition) DO NOTHING"""


@dataclass
class ImportResult:
    """What one import did; ``lines == rows + quarantined + sum(ignored.values())``."""

    format: str
    file_name: str
    encoding: str
    dry_run: bool
    run_id: int | None = None
    #: Characters that could not be decoded (each became U+FFFD; their lines are quarantined).
    replaced_bytes: int = 0
    lines: int = 0
    #: Lines that gave one or more events.
    rows: int = 0
    events: int = 0
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    #: (line, reason) of the first quarantined lines.
    first_reasons: list[tuple[str, str]] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    first_time: datetime | None = None
    last_time: datetime | None = None


def import_alarm_file(
    conn: psycopg.Connection,
    path: Path,
    fmt: str,
    *,
    enterprise: str,
    tz: tzinfo = SHANGHAI,
    dry_run: bool = False,
    actor: Actor | None = None,
    chunk_items: int = CHUNK_ITEMS,
) -> ImportResult:
    """Import ``path`` of format ``fmt`` for ``enterprise`` (id, code or exact name).

    ``conn`` must be in autocommit mode: each chunk is its own transaction. Every failure is a
    ``HazwatchError`` with a message for the user; the import run is marked failed first.
    """
    if not conn.autocommit:
        raise ValueError("import_alarm_file needs an autocommit connection")
    spec = FORMATS.get(fmt)
    if spec is None:
        raise HazwatchError(f"unknown alarm-log format {fmt!r} (known: {', '.join(FORMATS)})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HazwatchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        decoded = decode_bytes(data)
    except FormatError as exc:
        raise HazwatchError(f"{path.name}: {exc}") from exc
    lines = decoded.lines()
    if not lines:
        raise HazwatchError(f"{path.name} is empty")
    enterprise_id = registers.resolve(conn, "enterprise", enterprise)
    result = ImportResult(
        format=fmt,
        file_name=path.name,
        encoding=decoded.encoding,
        dry_run=dry_run,
        replaced_bytes=decoded.replaced,
        lines=len(lines),
    )
    job = _Import(conn, result, enterprise_id, actor or Actor(None, f"import:{fmt}"), chunk_items)
    if not dry_run:
        job.run(spec.parse(lines, tz=tz), hashlib.sha256(data).hexdigest())
        return result
    with conn.transaction() as tx:
        job.run(spec.parse(lines, tz=tz), hashlib.sha256(data).hexdigest())
        raise psycopg.Rollback(tx)
    result.run_id = None  # it was rolled back with everything else
    return result


class _Import:
    def __init__(
        self,
        conn: psycopg.Connection,
        result: ImportResult,
        enterprise_id: int,
        actor: Actor,
        chunk_items: int,
    ) -> None:
        self.conn = conn
        self.result = result
        self.enterprise_id = enterprise_id
        self.chunk_items = chunk_items
        self.resolver = TagResolver(conn, enterprise_id, actor)
        self.known_tags: set[str] = set()
        self.line = 0  # the last line handed over by the parser, for error messages

    def run(self, items: Iterable[Item], sha256: str) -> None:
        r = self.result
        with self.conn.transaction():
            row = self.conn.execute(
                "INSERT INTO ingest.import_run (kind, format, file_name, file_sha256, encoding,"
                " lines) VALUES ('alarms', %s, %s, %s, %s, %s) RETURNING id",
                (r.format, r.file_name, sha256, r.encoding, r.lines),
            ).fetchone()
        assert row is not None
        r.run_id = int(row[0])
        try:
            self._prepare()
            self._consume(items)
        except BaseException as exc:
            self._mark_failed(exc)
            if isinstance(exc, HazwatchError | FormatError):
                raise HazwatchError(f"{r.file_name}: {exc}") from exc
            if isinstance(exc, Exception):
                raise HazwatchError(
                    f"import of {r.file_name} failed at line {self.line} "
                    f"({type(exc).__name__}: {exc}); import run {r.run_id} is marked failed"
                ) from exc
            raise
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE ingest.import_run SET status = 'done', finished_at = now() WHERE id = %s",
                (r.run_id,),
            )

    def _prepare(self) -> None:
        with self.conn.transaction():
            self.conn.execute(_CREATE_STAGE)
            self.known_tags = {
                name
                for (name,) in self.conn.execute(
                    "SELECT name FROM registry.tag WHERE enterprise_id = %s",
                    (self.enterprise_id,),
                )
            }
        self.resolver.load()

    def _consume(self, items: Iterable[Item]) -> None:
        r = self.result
        events: list[ParsedEvent] = []
        rejects: list[Rejected] = []
        last_event_line = 0
        for item in items:
            if isinstance(item, ParsedEvent):
                self.line = item.line
                events.append(item)
                if item.line != last_event_line:
                    r.rows += 1
                    last_event_line = item.line
                if r.first_time is None or item.time < r.first_time:
                    r.first_time = item.time
                if r.last_time is None or item.time > r.last_time:
                    r.last_time = item.time
            elif isinstance(item, Rejected):
                self.line = int(item.position or 0)
                rejects.append(replace(item, origin=r.file_name))
                if len(r.first_reasons) < FIRST_REASONS:
                    r.first_reasons.append((item.position or "?", item.reason))
            elif isinstance(item, Ignored):
                self.line = item.line
                r.ignored[item.reason] += 1
            if len(events) + len(rejects) >= self.chunk_items:
                self._flush(events, rejects)
                events, rejects = [], []
        self._flush(events, rejects)

    def _flush(self, events: list[ParsedEvent], rejects: list[Rejected]) -> None:
        r = self.result
        inserted = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            if events:
                rows = [
                    (
                        e.time,
                        self._tag_id(e.tag),
                        e.kind,
                        e.condition,
                        e.priority,
                        e.category,
                        e.limit_value,
                        e.value,
                        e.message,
                        e.operator,
                        e.source,
                        e.source_event_id,
                        Jsonb(dict(e.attributes)) if e.attributes else None,
                    )
                    for e in events
                ]
                with cur.copy(_COPY_STAGE) as copy:
                    copy.set_types(list(_STAGE_TYPES))
                    for row in rows:
                        copy.write_row(row)
                cur.execute(_INSERT_EVENTS)
                inserted = cur.rowcount
                cur.execute("TRUNCATE pg_temp.alarm_import_stage")
            if rejects:
                with cur.copy(
                    "COPY ingest.quarantine (source, origin, position, reason, raw) FROM STDIN"
                ) as copy:
                    for rej in rejects:
                        # PostgreSQL text cannot hold NUL; keep where they were, visibly.
                        raw = rej.raw.replace("\x00", "\\x00")
                        copy.write_row((rej.source, rej.origin, rej.position, rej.reason, raw))
            cur.execute(
                "UPDATE ingest.import_run SET imported = imported + %s,"
                " duplicates = duplicates + %s, quarantined = quarantined + %s WHERE id = %s",
                (inserted, len(events) - inserted, len(rejects), r.run_id),
            )
        # Counted only once the chunk is committed, so the result never claims rolled-back rows.
        r.events += len(events)
        r.imported += inserted
        r.duplicates += len(events) - inserted
        r.quarantined += len(rejects)

    def _tag_id(self, name: str) -> int:
        tag_id = self.resolver.id_for(name, source="import")
        assert tag_id is not None
        if name not in self.known_tags:
            self.known_tags.add(name)
            self.result.new_tags.append(name)
        return tag_id

    def _mark_failed(self, exc: BaseException) -> None:
        r = self.result
        if r.dry_run:
            return  # the run row goes with the rolled-back transaction anyway
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, HazwatchError) else str(exc)
        try:
            with self.conn.transaction():
                self.conn.execute(
                    "UPDATE ingest.import_run SET status = 'failed', finished_at = now(),"
                    " error = %s WHERE id = %s",
                    (f"at line {self.line}: {message}"[:2000], r.run_id),
                )
        except psycopg.Error as mark_exc:  # the connection itself may be what failed
            log.error("could not mark import run %s failed: %s", r.run_id, mark_exc)
