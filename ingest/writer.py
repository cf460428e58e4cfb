"""The one writer every collector goes through: batched binary COPY with store-and-forward.

Collectors call ``put_*`` from any thread; one background thread groups the rows per table
into batches and writes each batch with binary ``COPY`` in its own transaction on one
connection. A batch is cut once ``settings.ingest.batch_rows`` rows of a table wait, or when
the oldest has waited ``flush_interval_s``; when the writer is behind, one batch takes
everything waiting, up to ``GROUP_COMMIT_FACTOR`` x ``batch_rows`` (group commit: the WAL flush
of each commit is paid once per batch, which matters exactly when throughput does).

    with Writer(settings, name="opcua") as writer:      # start() ... close()
        writer.put_samples([Sample(t, 17, 42.0)])
        writer.put_alarm_events([AlarmEvent(t, 17, "ALM", "HI", priority="high")])
        writer.flush()                                  # committed, or safe in the spool
        writer.stats                                    # WriterStats(rows_written=2, ...)

Guarantees:

- **Idempotent.** A batch goes straight into its hypertable; when that hits a key that is
  already there (``UniqueViolation``), the batch is redone through a temporary staging table
  and ``INSERT ... ON CONFLICT DO NOTHING``, so replaying a batch neither fails nor duplicates.
- **Back-pressure, never drops.** ``put_*`` blocks while more than ``max_queue_rows`` rows
  wait in memory.
- **Store-and-forward.** When the database is unreachable (or refuses for a reason that is
  not the data: restart, shutdown, disk full, schema not there yet), batches go to a SQLite
  spool (``ingest.spool``) in order, and every later batch follows them there until the spool
  is replayed, oldest first, with back-off reconnects (0.5 s doubling to 10 s). A batch leaves
  the spool only after its transaction committed; a spool left by a crash is replayed on start.
- **Bad rows are kept, not fatal.** When the database rejects a batch because of its data
  (a CHECK, a NULL in a NOT NULL column, an unencodable value), the batch is bisected to the
  offending rows; the others are written and each bad row goes to ``ingest.quarantine`` with
  the database's message as the reason and its ``repr`` as raw.

Logs go to ``logging.getLogger("ingest.writer")``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from hazwatch.db import database_url
from hazwatch.settings import Settings
from ingest.spool import Spool, SpoolEncodeError, unspoolable
from ingest.types import (
    AlarmEvent,
    DeviceHealth,
    Rejected,
    Sample,
    VibrationOverall,
    Waveform,
)

log = logging.getLogger("ingest.writer")

R = TypeVar("R")
T = TypeVar("T")

#: Reconnect back-off: first retry after 0.5 s, doubling, at most 10 s apart.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0
#: Seconds over which ``rows_per_s`` is averaged.
RATE_WINDOW_S = 10.0
#: Group commit: when more than ``batch_rows`` rows wait (the writer is behind), one batch
#: takes them all, up to this many times ``batch_rows``. Each commit waits for a WAL flush
#: (~30 ms on a plain disk), so 10,000-row transactions cap COPY near 60 % of its speed;
#: bigger ones only when there is a backlog keep both latency and throughput.
GROUP_COMMIT_FACTOR = 10
#: While replaying the spool, go back to taking in new rows at least this often.
REPLAY_SLICE_S = 0.5
#: SQLSTATE classes that say "not now" rather than "not this data": the batch is spooled and
#: retried after a reconnect. 08 connection, 25 transaction state (read-only standby),
#: 40 serialization/deadlock, 42 schema not (yet) as expected, 53 resources (disk full),
#: 55 lock/object state, 57 shutdown/cancel/starting up, 58 system I/O, 3D no such database,
#: 28 authorisation.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "25", "28", "3D", "40", "42", "53", "55", "57", "58"})


# -- the catalogue: row type -> table ------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """Where one row type goes. Fixed in code: never built from data.

    ``columns`` are in the order of the row tuples; ``types`` are the binary COPY types
    (``text`` for ``char(1)``: its binary form is the same as text's).
    """

    schema: str
    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    #: Unique key, i.e. what makes a replay idempotent; None: no natural key (quarantine).
    key: tuple[str, ...] | None
    #: Cap on rows per batch below ``batch_rows`` (waveforms are ~256 kB each).
    max_batch_rows: int | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @functools.cached_property
    def copy_into_target(self) -> sql.Composed:
        return self.copy_sql()

    @functools.cached_property
    def copy_into_stage(self) -> sql.Composed:
        return self.copy_sql(_STAGE)

    def _cols(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)

    @property
    def target(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)

    def copy_sql(self, into: sql.Composable | None = None) -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            into if into is not None else self.target, self._cols()
        )

    def stage_sql(self) -> sql.Composed:
        # ON COMMIT DROP: gone with the transaction, so a rolled-back attempt leaves nothing.
        return sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(_STAGE, self.target)

    def merge_sql(self) -> sql.Composed:
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            self.target, self._cols(), self._cols(), _STAGE
        )


_STAGE = sql.Identifier("_ingest_writer_stage")

SAMPLE = TableSpec(
    "ts", "sample",
    ("time", "tag_id", "value", "quality"),
    ("timestamptz", "int4", "float8", "int2"),
    key=("tag_id", "time"),
)  # fmt: skip
ALARM_EVENT = TableSpec(
    "alarm", "event",
    AlarmEvent._fields,
    ("timestamptz", "int4", "text", "text", "int4", "text", "text", "float8", "float8",
     "text", "text", "text", "text"),
    key=("tag_id", "time", "kind", "condition"),
)  # fmt: skip
VIBRATION = TableSpec(
    "vib", "overall",
    VibrationOverall._fields,
    ("timestamptz", "int4", "text", "float4", "float4", "float4", "float4", "float4", "float4"),
    key=("sensor_id", "axis", "time"),
)  # fmt: skip
WAVEFORM = TableSpec(
    "vib", "waveform",
    Waveform._fields,
    ("timestamptz", "int4", "text", "float8", "float4", "text", "float4[]"),
    key=("sensor_id", "axis", "time"),
    max_batch_rows=64,
)  # fmt: skip
HEALTH = TableSpec(
    "ts", "device_health",
    DeviceHealth._fields,  # detail (jsonb) is left NULL
    ("timestamptz", "text", "int4", "bool", "float4", "float4"),
    key=("device_kind", "device_id", "time"),
)  # fmt: skip
QUARANTINE = TableSpec(
    "ingest", "quarantine",
    ("source", "origin", "position", "reason", "raw"),
    ("text", "text", "text", "text", "text"),
    key=None,
)  # fmt: skip

CATALOGUE: dict[str, TableSpec] = {
    s.name: s for s in (SAMPLE, ALARM_EVENT, VIBRATION, WAVEFORM, HEALTH, QUARANTINE)
}


# -- stats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriterStats:
    """A snapshot of the writer.

    ``rows_written`` counts rows committed to the table they were put for (``reject`` items
    to ``ingest.quarantine``); a row the database refused is counted in ``rows_quarantined``,
    a key that was already there in ``duplicates_skipped``. Once everything is written the
    three add up to every row put, plus the rows of batches that were cut off by a lost
    connection after part of them committed (their replay counts those as duplicates).
    """

    rows_written: int
    rows_per_s: float
    lag_s: float
    spool_depth: int
    queue_rows: int
    last_error: str | None
    db_up: bool
    duplicates_skipped: int = 0
    rows_quarantined: int = 0


# -- pure helpers (no database) ------------------------------------------------------------


def take_rows(chunks: deque[tuple[list[R], float]], n: int) -> tuple[list[R], float]:
    """Pop up to ``n`` rows off the front of ``(rows, put_time)`` chunks, splitting one if
    needed; return them with the put time of the oldest.

    >>> q = deque([([1, 2, 3], 10.0), ([4, 5], 11.0)])
    >>> take_rows(q, 4), list(q)
    (([1, 2, 3, 4], 10.0), [([5], 11.0)])
    """
    out: list[R] = []
    oldest = chunks[0][1] if chunks else time.time()
    while chunks and len(out) < n:
        rows, t = chunks[0]
        room = n - len(out)
        if len(rows) <= room:
            chunks.popleft()
            if not out and len(rows) == n:
                return rows, oldest  # the common case: a put of exactly one batch, no copy
            out.extend(rows)
        else:
            out.extend(rows[:room])
            chunks[0] = (rows[room:], t)
    return out, oldest


def plan_batches(waiting: int, size: int, cap: int, *, take_rest: bool) -> list[int]:
    """Sizes of the batches to cut from ``waiting`` rows of one table.

    Nothing until ``size`` rows wait (unless ``take_rest``: the time is up, or a flush);
    then everything that waits, in as few batches as possible of at most ``cap`` rows.

    >>> plan_batches(5_000, 10_000, 100_000, take_rest=False)
    []
    >>> plan_batches(5_000, 10_000, 100_000, take_rest=True)
    [5000]
    >>> plan_batches(25_000, 10_000, 100_000, take_rest=False)
    [25000]
    >>> plan_batches(250_000, 10_000, 100_000, take_rest=False)
    [100000, 100000, 50000]
    """
    if waiting <= 0 or (waiting < size and not take_rest):
        return []
    full, rest = divmod(waiting, cap)
    return [cap] * full + ([rest] if rest else [])


def bisect_batch(
    rows: Sequence[R],
    attempt: Callable[[Sequence[R]], T],
    passthrough: tuple[type[BaseException], ...] = (),
) -> tuple[list[T], list[tuple[R, Exception]]]:
    """Write ``rows`` with ``attempt``; when it raises, split in halves until the failing
    rows are single. Returns the results of the attempts that succeeded (in row order) and
    each bad row with its exception. ``passthrough`` exceptions abort the whole thing.

    One call of ``attempt`` when nothing is wrong; about 2·k·log2(n) more for k bad rows.

    >>> def attempt(part):
    ...     if 3 in part:
    ...         raise ValueError("no 3")
    ...     return len(part)
    >>> results, bad = bisect_batch([1, 2, 3, 4, 5], attempt)
    >>> results, [(row, str(exc)) for row, exc in bad]
    ([2, 2], [(3, 'no 3')])
    """
    results: list[T] = []
    bad: list[tuple[R, Exception]] = []
    stack: list[Sequence[R]] = [rows]
    while stack:
        part = stack.pop()
        if not part:
            continue
        try:
            results.append(attempt(part))
        except passthrough:
            raise
        except Exception as exc:
            if len(part) == 1:
                bad.append((part[0], exc))
            else:
                mid = len(part) // 2
                stack.append(part[mid:])  # pushed first: the left half is tried first
                stack.append(part[:mid])
    return results, bad


def next_backoff(current: float) -> float:
    """The wait after ``current`` failed: doubling, capped.

    >>> b = [BACKOFF_START_S]
    >>> while len(b) < 7:
    ...     b.append(next_backoff(b[-1]))
    >>> b
    [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    """
    return min(current * 2, BACKOFF_MAX_S)


def is_transient(exc: BaseException, conn: psycopg.Connection[Any] | None) -> bool:
    """True when ``exc`` means "retry later on a fresh connection" rather than "bad data".

    >>> is_transient(psycopg.OperationalError("connection refused"), None)
    True
    >>> is_transient(psycopg.errors.CheckViolation("quality"), None)
    False
    """
    if conn is not None and (conn.closed or conn.broken):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    # Client-side failures without a server error: lost or refused connections.
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def error_text(exc: BaseException) -> str:
    """The database's own message (primary text) or the exception's, one line.

    >>> error_text(ValueError("bad\\nthing"))
    'ValueError: bad thing'
    """
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return exc.diag.message_primary
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, psycopg.Error) else text


def quarantine_row(spec: TableSpec, row: Sequence[Any], reason: str) -> tuple[Any, ...]:
    """The ``ingest.quarantine`` row for a row of ``spec`` that could not be written.

    >>> quarantine_row(SAMPLE, (None, 1, 2.0, 999), "check")[:4]
    ('writer:ts.sample', None, None, 'check')
    """
    return (f"writer:{spec.name}", None, None, reason, repr(tuple(row)))


def rejected_row(item: Rejected) -> tuple[Any, ...]:
    """``Rejected`` in ``QUARANTINE.columns`` order."""
    return (item.source, item.origin, item.position, item.reason, item.raw)


# -- the writer ----------------------------------------------------------------------------


class ConnectionLost(Exception):
    """The database went away (or cannot take anything now) while writing a batch."""


@dataclass
class _Batch:
    spec: TableSpec
    rows: list[Any]
    oldest: float  # time.time() of the oldest row's put


@dataclass
class _Pending:
    """Rows of one table waiting to become a batch, as the chunks they were put in."""

    spec: TableSpec
    chunks: deque[tuple[list[Any], float]] = field(default_factory=deque)
    count: int = 0


class Writer:
    """Batched binary COPY of every row type into TimescaleDB, with a durable spool.

    ``spool_path`` defaults to ``<spool_dir>/<name>.sqlite``; two writers must not share one.

        writer = Writer(settings, name="modbus")
        writer.start()
        writer.put_samples(rows)      # blocks while max_queue_rows rows wait
        writer.close(timeout=30)      # writes what is left; rows it cannot write stay spooled
    """

    def __init__(
        self, settings: Settings, *, name: str = "writer", spool_path: Path | None = None
    ) -> None:
        self.settings = settings
        self.name = name
        cfg = settings.ingest
        self.batch_rows = cfg.batch_rows
        self.flush_interval_s = cfg.flush_interval_s
        self.max_queue_rows = cfg.max_queue_rows
        self.spool_path = spool_path or settings.path(cfg.spool_dir) / f"{name}.sqlite"

        # Shared with producers, guarded by _lock.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer thread waits here
        self._not_full = threading.Condition(self._lock)  # producers wait here
        self._flushed = threading.Condition(self._lock)  # flush() waits here
        self._inbox: deque[tuple[TableSpec, list[Any], float]] = deque()
        self._queue_rows = 0  # rows put and neither committed nor spooled
        self._flush_requested = 0
        self._flush_done = 0
        self._stopping = False
        self._deadline = 0.0  # monotonic end of close()'s timeout
        self._closed = False
        self._thread: threading.Thread | None = None
        self._spool: Spool | None = None

        # Owned by the writer thread.
        self._pending: dict[str, _Pending] = {}
        self._ready: deque[_Batch] = deque()
        self._conn: psycopg.Connection[Any] | None = None
        self._backoff = BACKOFF_START_S
        self._next_attempt = 0.0  # monotonic
        self._down_since: float | None = None
        self._mem_oldest: float | None = None  # oldest put time in _pending/_ready

        # Statistics, guarded by _stats_lock.
        self._stats_lock = threading.Lock()
        self._rows_written = 0
        self._duplicates = 0
        self._quarantined = 0
        self._recent: deque[tuple[float, int]] = deque()
        self._first_write = 0.0  # monotonic time of the first commit
        self._last_error: str | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Open the spool and start the background thread (idempotent)."""
        with self._lock:
            if self._closed or self._stopping:
                raise RuntimeError(f"writer {self.name} is closed")
            if self._thread is not None:
                return
            self._spool = Spool(self.spool_path)
            if self._spool.rows:
                log.info(
                    "writer %s: %d rows in %d batches left in spool %s, replaying them first",
                    self.name,
                    self._spool.rows,
                    self._spool.batches,
                    self.spool_path,
                )
            self._thread = threading.Thread(
                target=self._run, name=f"ingest-writer-{self.name}", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float = 30) -> None:
        """Write everything still in memory (to the database, else the spool), replay the
        spool while the database takes it and ``timeout`` allows, and stop.

        Rows that could not be written within ``timeout`` stay in the spool for the next
        writer on the same spool path. ``put_*`` calls after (or blocked during) close raise.
        """
        with self._lock:
            if self._closed:
                return
            if self._thread is None and not self._inbox:
                self._closed = True
                return
        if self._thread is None:
            self.start()  # rows were put before start(): write or spool them
        with self._lock:
            self._stopping = True
            self._deadline = time.monotonic() + timeout
            self._wake.notify()
            self._not_full.notify_all()
        assert self._thread is not None
        # A little beyond the deadline: the thread ends its last statement and commits.
        self._thread.join(timeout + 5)
        if self._thread.is_alive():
            log.error("writer %s: thread did not stop within %.0f s", self.name, timeout + 5)
        with self._lock:
            self._closed = True
            self._flushed.notify_all()

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- Sink ---------------------------------------------------------------------------------

    def put_samples(self, rows: Iterable[Sample]) -> None:
        self._put(SAMPLE, rows)

    def put_alarm_events(self, rows: Iterable[AlarmEvent]) -> None:
        self._put(ALARM_EVENT, rows)

    def put_vibration(self, rows: Iterable[VibrationOverall]) -> None:
        self._put(VIBRATION, rows)

    def put_waveforms(self, rows: Iterable[Waveform]) -> None:
        self._put(WAVEFORM, rows)

    def put_health(self, rows: Iterable[DeviceHealth]) -> None:
        self._put(HEALTH, rows)

    def reject(self, item: Rejected) -> None:
        self._put(QUARANTINE, [rejected_row(item)])

    def _put(self, spec: TableSpec, rows: Iterable[Any]) -> None:
        # Our own list: the caller may reuse theirs. Rows are put as given (NamedTuples are
        # already in column order) and checked by the database, not here.
        rows = list(rows)
        if not rows:
            return
        # Large puts enter in slices, so memory stays near max_queue_rows whatever the caller
        # hands in at once.
        step = max(1, min(self.batch_rows, self.max_queue_rows))
        for i in range(0, len(rows), step):
            part = rows if len(rows) <= step else rows[i : i + step]
            with self._lock:
                while (
                    self._queue_rows > 0
                    and self._queue_rows + len(part) > self.max_queue_rows
                    and not (self._stopping or self._closed)
                ):
                    self._not_full.wait()
                if self._stopping or self._closed:
                    raise RuntimeError(f"writer {self.name} is closed: rows not taken")
                self._inbox.append((spec, part, time.time()))
                self._queue_rows += len(part)
                self._wake.notify()

    def flush(self, timeout: float | None = None) -> None:
        """Return once every row put before this call is committed or in the spool.

        Raises TimeoutError when that takes longer than ``timeout`` seconds, RuntimeError
        when the writer is not running.
        """
        end = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._thread is None or self._closed:
                raise RuntimeError(f"writer {self.name} is not running")
            self._flush_requested += 1
            wanted = self._flush_requested
            self._wake.notify()
            while self._flush_done < wanted:
                if self._closed or not self._thread.is_alive():
                    raise RuntimeError(f"writer {self.name} stopped before the flush completed")
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"writer {self.name}: flush not done in {timeout} s")
                self._flushed.wait(1.0 if left is None else min(left, 1.0))

    # -- stats --------------------------------------------------------------------------------

    @property
    def stats(self) -> WriterStats:
        now = time.time()
        with self._lock:
            queue_rows = self._queue_rows
            oldest = [self._inbox[0][2]] if self._inbox else []
        if self._mem_oldest is not None:
            oldest.append(self._mem_oldest)
        spool = self._spool
        spool_rows = 0
        if spool is not None:
            spool_rows = spool.rows
            spooled = spool.oldest() if spool_rows else None
            if spooled is not None:
                oldest.append(spooled)
        with self._stats_lock:
            mono = time.monotonic()
            self._trim_recent(mono)
            # Over the last RATE_WINDOW_S, or since the first write when that is more recent.
            span = RATE_WINDOW_S
            if self._recent:
                span = min(RATE_WINDOW_S, max(1.0, mono - self._first_write))
            rate = sum(n for _, n in self._recent) / span
            return WriterStats(
                rows_written=self._rows_written,
                rows_per_s=rate,
                lag_s=max(0.0, now - min(oldest)) if oldest else 0.0,
                spool_depth=spool_rows,
                queue_rows=queue_rows,
                last_error=self._last_error,
                db_up=self._conn is not None,
                duplicates_skipped=self._duplicates,
                rows_quarantined=self._quarantined,
            )

    def _trim_recent(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()

    def _count(self, written: int = 0, duplicates: int = 0, quarantined: int = 0) -> None:
        with self._stats_lock:
            self._rows_written += written
            self._duplicates += duplicates
            self._quarantined += quarantined
            if written > 0:
                now = time.monotonic()
                if not self._first_write:
                    self._first_write = now
                self._recent.append((now, written))
                self._trim_recent(now)

    def _error(self, text: str) -> None:
        with self._stats_lock:
            self._last_error = text

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._step():
                pass
        finally:
            self._disconnect()
            if self._spool is not None:
                self._spool.close()
            with self._lock:
                self._flushed.notify_all()

    def _step(self) -> bool:
        """One round: take new rows, cut and dispatch batches, replay, reconnect.

        Returns False once the writer has stopped. Never raises: an unexpected error is
        logged and the round is retried after a pause (nothing is dropped meanwhile).
        """
        with self._lock:
            timeout = self._idle_timeout()
            idle = not self._inbox and self._flush_requested == self._flush_done
            if idle and not self._stopping and timeout > 0:
                self._wake.wait(timeout)
            chunks = list(self._inbox)
            self._inbox.clear()
            flush_wanted = self._flush_requested
            stopping = self._stopping
        try:
            for spec, rows, put_at in chunks:
                pending = self._pending.get(spec.name)
                if pending is None:
                    pending = self._pending[spec.name] = _Pending(spec)
                pending.chunks.append((rows, put_at))
                pending.count += len(rows)
            force = stopping or flush_wanted > self._flush_done
            self._cut_batches(force=force)
            if self._conn is None and (stopping or time.monotonic() >= self._next_attempt):
                self._connect()
            self._dispatch()
            drained = not self._ready and not any(p.count for p in self._pending.values())
            if drained and flush_wanted > self._flush_done:
                with self._lock:
                    self._flush_done = flush_wanted
                    self._flushed.notify_all()
            if stopping:
                return not self._finish()
            self._replay(until=time.monotonic() + REPLAY_SLICE_S)
        except Exception as exc:  # a bug, or SQLite failing: keep going, lose nothing
            log.exception("writer %s: unexpected error (retrying)", self.name)
            self._error(f"{type(exc).__name__}: {exc}")
            time.sleep(min(self._backoff, 1.0))
            if stopping and time.monotonic() > self._deadline:
                log.error("writer %s: stopping with rows not written or spooled", self.name)
                return False
        return True

    def _idle_timeout(self) -> float:
        """How long the thread may sleep when no new rows arrive (called under _lock)."""
        now_wall, now = time.time(), time.monotonic()
        waits = [1.0]  # refresh the rate/lag bookkeeping at least every second
        for p in self._pending.values():
            if p.count:
                waits.append(p.chunks[0][1] + self.flush_interval_s - now_wall)
        spool_rows = self._spool.rows if self._spool is not None else 0
        if self._conn is None:
            waits.append(self._next_attempt - now)
        elif spool_rows:
            waits.append(0.0)  # replay to do
        if self._ready and self._conn is None:
            waits.append(self._next_attempt - now)
        return max(0.0, min(waits))

    def _cut_batches(self, *, force: bool) -> None:
        """Move full batches (and, when due or forced, the rest) from _pending to _ready."""
        now_wall = time.time()
        for p in self._pending.values():
            if not p.count:
                continue
            size = min(self.batch_rows, p.spec.max_batch_rows or self.batch_rows)
            cap = max(size, min(size * GROUP_COMMIT_FACTOR, self.max_queue_rows))
            if p.spec.max_batch_rows:
                cap = min(cap, p.spec.max_batch_rows)
            due = force or now_wall - p.chunks[0][1] >= self.flush_interval_s
            for n in plan_batches(p.count, size, cap, take_rest=due):
                rows, oldest = take_rows(p.chunks, n)
                p.count -= len(rows)
                self._ready.append(_Batch(p.spec, rows, oldest))
        self._update_mem_oldest()

    def _update_mem_oldest(self) -> None:
        times = [b.oldest for b in self._ready]
        times += [p.chunks[0][1] for p in self._pending.values() if p.count]
        self._mem_oldest = min(times) if times else None

    def _dispatch(self) -> None:
        """Write ready batches in order: to the database while it is up and nothing is
        spooled (order), else to the spool. A batch leaves memory only when one took it."""
        spool = self._spool
        assert spool is not None
        while self._ready:
            batch = self._ready[0]
            if self._conn is not None and not spool.rows:
                try:
                    self._write_batch(batch.spec, batch.rows)
                except ConnectionLost:
                    pass  # the connection is gone now: spool this batch below
                else:
                    self._release(batch)
                    continue
            try:
                self._to_spool(batch)
            except Exception as exc:
                log.error(
                    "writer %s: cannot spool a batch of %s: %s", self.name, batch.spec.name, exc
                )
                self._error(f"spool: {exc}")
                # Keep the batch (producers block on it) and retry after a pause.
                self._next_attempt = time.monotonic() + self._backoff
                return
            self._release(batch)

    def _release(self, batch: _Batch) -> None:
        self._ready.popleft()
        self._update_mem_oldest()
        with self._lock:
            self._queue_rows -= len(batch.rows)
            self._not_full.notify_all()

    def _to_spool(self, batch: _Batch) -> None:
        assert self._spool is not None
        try:
            self._spool.append(batch.spec.name, batch.rows, batch.oldest)
            return
        except SpoolEncodeError:
            pass
        # Some rows hold values the spool will not store: those go to the quarantine
        # (spooled too), the others are spooled as usual.
        bad = dict(unspoolable(batch.rows))
        good = [r for i, r in enumerate(batch.rows) if i not in bad]
        qrows = [quarantine_row(batch.spec, batch.rows[i], why) for i, why in bad.items()]
        if good:
            self._spool.append(batch.spec.name, good, batch.oldest)
        self._spool.append(QUARANTINE.name, qrows, batch.oldest)
        self._count(quarantined=len(qrows))
        log.error(
            "writer %s: %d rows of %s cannot be spooled, quarantined",
            self.name,
            len(qrows),
            batch.spec.name,
        )

    def _replay(self, until: float) -> None:
        """Write spooled batches oldest-first while connected, until ``until`` (monotonic)."""
        spool = self._spool
        assert spool is not None
        replayed = 0
        while self._conn is not None and spool.rows and time.monotonic() < until:
            batch = spool.first()
            if batch is None:
                break
            spec = CATALOGUE.get(batch.target)
            try:
                if batch.error is not None or spec is None:
                    # Unreadable or unknown: keep what can be kept in the quarantine.
                    why = batch.error or f"unknown target table {batch.target!r} in spool"
                    raw = repr(batch.raw) if batch.raw is not None else repr(batch.rows)
                    self._write_batch(
                        QUARANTINE,
                        [("writer:spool", str(self.spool_path), str(batch.id), why, raw)],
                    )
                    log.error("writer %s: spooled batch %d: %s", self.name, batch.id, why)
                else:
                    self._write_batch(spec, batch.rows)
            except ConnectionLost:
                return
            spool.delete(batch.id)
            replayed += len(batch.rows)
        if replayed and not spool.rows:
            log.info("writer %s: spool replayed, back to the live path", self.name)

    def _finish(self) -> bool:
        """Closing: True when done (everything written or spooled, spool replayed as far as
        the database and the deadline allow)."""
        assert self._spool is not None
        if self._ready:  # the spool is failing: retry until the deadline, then give up
            if time.monotonic() > self._deadline:
                log.error(
                    "writer %s: closing with %d rows neither written nor spooled",
                    self.name,
                    sum(len(b.rows) for b in self._ready),
                )
                return True
            time.sleep(0.2)
            return False
        while self._spool.rows and time.monotonic() < self._deadline:
            if self._conn is None:
                if time.monotonic() < self._next_attempt:
                    # One prompt attempt at close (done in _step); then leave the rows in
                    # the spool rather than keep the caller waiting for a database that is down.
                    break
                self._connect()
                if self._conn is None:
                    break
            self._replay(until=self._deadline)
        if self._spool.rows:
            log.warning(
                "writer %s: closing with %d rows in spool %s",
                self.name,
                self._spool.rows,
                self.spool_path,
            )
        return True

    # -- the database -------------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            # Resolved on every attempt: the embedded cluster's URL reads its password file,
            # which may not exist yet when the writer starts before `hazwatch db up`.
            self._conn = psycopg.connect(
                database_url(self.settings),
                autocommit=False,
                application_name=f"hazwatch-{self.name}",
                connect_timeout=5,
                # Notice a dead server during a long COPY instead of hanging on it.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except Exception as exc:
            self._conn = None
            self._mark_down(exc, "cannot connect")
            return
        if self._down_since is not None:
            log.info(
                "writer %s: database back after %.1f s; %d rows to replay from spool",
                self.name,
                time.monotonic() - self._down_since,
                self._spool.rows if self._spool else 0,
            )
        self._down_since = None
        self._backoff = BACKOFF_START_S

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to release
                log.debug("writer %s: error closing connection", self.name, exc_info=True)

    def _mark_down(self, exc: BaseException, what: str) -> None:
        self._disconnect()
        text = f"{what}: {error_text(exc)}"
        self._error(text)
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._backoff = BACKOFF_START_S
            log.warning(
                "writer %s: database unavailable (%s); spooling to %s",
                self.name,
                text,
                self.spool_path,
            )
        else:
            log.debug("writer %s: still unavailable (%s)", self.name, text)
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = next_backoff(self._backoff)

    def _write_batch(self, spec: TableSpec, rows: Sequence[Any], *, depth: int = 0) -> None:
        """Commit ``rows`` (bisecting around bad rows, which go to the quarantine).

        ``depth`` > 0: these are quarantine rows made by the writer for refused rows (they
        count as quarantined, not written). Raises ConnectionLost when the database went
        away; some parts may have been committed by then, which is why every path is
        idempotent.
        """
        results, bad = bisect_batch(
            rows, lambda part: self._attempt(spec, part), passthrough=(ConnectionLost,)
        )
        done = sum(n for n, _ in results)
        if depth:
            self._count(quarantined=done)
        else:
            self._count(written=done, duplicates=sum(d for _, d in results))
        if not bad:
            return
        for row, exc in bad[:5]:
            log.error(
                "writer %s: %s row rejected (%s): %r", self.name, spec.name, error_text(exc), row
            )
        if len(bad) > 5:
            log.error("writer %s: ... and %d more %s rows", self.name, len(bad) - 5, spec.name)
        qrows = [quarantine_row(spec, row, error_text(exc)) for row, exc in bad]
        if depth == 0:
            # For a reject() item that the quarantine itself refused (e.g. a NUL byte in raw),
            # this keeps its repr, which is plain printable text.
            self._write_batch(QUARANTINE, qrows, depth=depth + 1)
        else:
            # A repr that the quarantine refuses: nothing left to try. Say it loudly.
            for row, exc in bad:
                log.critical(
                    "writer %s: row dropped, quarantine refused it (%s): %r",
                    self.name,
                    error_text(exc),
                    row,
                )
            self._error(f"rows dropped: quarantine refused {len(bad)}")

    def _attempt(self, spec: TableSpec, rows: Sequence[Any]) -> tuple[int, int]:
        """One transaction: COPY ``rows`` in; on a duplicate key redo it through a staging
        table with ON CONFLICT DO NOTHING. Returns (inserted, duplicates skipped).

        Raises ConnectionLost for transient failures, anything else means bad data.
        """
        conn = self._conn
        if conn is None:
            raise ConnectionLost("not connected")
        try:
            try:
                with conn.cursor() as cur, cur.copy(spec.copy_into_target) as copy:
                    copy.set_types(spec.types)
                    for row in rows:
                        copy.write_row(row)
                conn.commit()
                return len(rows), 0
            except psycopg.errors.UniqueViolation:
                if spec.key is None:
                    raise
                conn.rollback()
            with conn.cursor() as cur:
                cur.execute(spec.stage_sql())
                with cur.copy(spec.copy_into_stage) as copy:
                    copy.set_types(spec.types)
                    for row in rows:
                        copy.write_row(row)
                cur.execute(spec.merge_sql())
                inserted = max(cur.rowcount, 0)
            conn.commit()
            return inserted, len(rows) - inserted
        except Exception as exc:
            try:
                conn.rollback()
            except Exception:  # the connection is gone; is_transient sees conn.broken
                log.debug("writer %s: rollback failed", self.name, exc_info=True)
            if is_transient(exc, conn):
                self._mark_down(exc, f"writing {spec.name}")
                raise ConnectionLost(error_text(exc)) from exc
            raise
