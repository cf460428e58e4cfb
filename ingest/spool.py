"""Store-and-forward spool of the writer: whole batches, in order, in one SQLite file.

When the database is down the writer appends each batch here instead of losing it, and replays
the batches oldest-first once the database is back, deleting each one only after its
transaction committed. The file survives a crash of the process: SQLite in WAL mode with
``synchronous=FULL`` makes every ``append`` durable before it returns.

    with Spool(Path("var/spool/writer.sqlite")) as spool:
        spool.append("ts.sample", [(t, 17, 42.0, 192)])
        batch = spool.first()          # SpoolBatch(id=1, target='ts.sample', rows=[...], ...)
        spool.delete(batch.id)         # after the database committed it

Serialisation (column ``format`` = ``pickle5``): the rows of a batch as one pickle (protocol 5)
of a list of plain tuples. Pickle was chosen over msgpack or JSON because it is in the standard
library, is compact for these rows (a shared ``datetime``/``tzinfo`` is written once per batch
thanks to the memo, floats are 9 bytes, lists of floats need no conversion) and round-trips
tz-aware datetimes, ``None``, booleans and ``float``/``int`` values exactly. Because unpickling
can run arbitrary code, the spool refuses both ways anything that is not plain data: the
pickler only emits the whitelisted classes below (subclasses of ``int``/``float``/``str`` and
NumPy scalars are written as plain Python values, ``ZoneInfo`` by its key), and the unpickler
only resolves those names. A row that holds anything else cannot be spooled
(``SpoolEncodeError``); the writer then quarantines that row rather than stalling.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

FORMAT = "pickle5"
#: Schema version of the spool file (``PRAGMA user_version``).
SCHEMA_VERSION = 1

#: (module, name) pairs that may appear in a spooled pickle; everything else is refused.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("zoneinfo", "ZoneInfo"),
        ("decimal", "Decimal"),
        ("builtins", "bool"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "str"),
    }
)
#: Classes the pickler writes as they are (their reduce only names ALLOWED_GLOBALS).
_PLAIN = (datetime, date, dtime, timedelta, timezone, Decimal)


class SpoolEncodeError(ValueError):
    """A row holds a value the spool does not store (not plain data)."""


class SpoolDecodeError(ValueError):
    """A spooled batch could not be read back (corrupt, or written by something else)."""


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        # Called for every object that is not None/bool or an exact int, float, str, bytes,
        # list, tuple, dict, set: decide here what may enter the spool.
        if type(obj) in _PLAIN:
            return NotImplemented
        if isinstance(obj, type):
            # The classes named by the reduce of the values above (written as globals).
            if (obj.__module__, obj.__qualname__) in ALLOWED_GLOBALS:
                return NotImplemented
            raise pickle.PicklingError(f"class {obj.__module__}.{obj.__qualname__}")
        if isinstance(obj, ZoneInfo):
            # The default reduce goes through builtins.getattr, which the loader must not
            # allow; ZoneInfo(key) returns the same cached instance.
            if obj.key is None:
                raise pickle.PicklingError("a ZoneInfo read from a file (no key)")
            return ZoneInfo, (obj.key,)
        if isinstance(obj, datetime | date | dtime | timedelta | timezone):
            raise pickle.PicklingError(f"subclass {type(obj).__qualname__} cannot be spooled")
        # Subclasses of the basic types (IntEnum, np.float64) and NumPy scalars (np.float32,
        # np.int16, np.bool_), which the database path takes too: store the plain value.
        for base in (int, float, str):
            if isinstance(obj, base):
                return base, (base(obj),)
        if type(obj).__module__ == "numpy" and callable(getattr(obj, "item", None)):
            value = obj.item()
            if type(value) in (bool, int, float, str):
                return type(value), (value,)
        if isinstance(obj, list | tuple):
            return NotImplemented  # subclasses such as NamedTuple rows are handled by encode
        raise pickle.PicklingError(f"{type(obj).__module__}.{type(obj).__qualname__}")


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a spool")
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    """Containers as exact ``list``/``tuple`` (a NamedTuple would pickle by class name)."""
    if type(value) is tuple or type(value) is list:
        return value
    if isinstance(value, tuple):
        return tuple(value)
    if isinstance(value, list):
        return list(value)
    return value


def encode_rows(rows: Sequence[Sequence[Any]]) -> bytes:
    """Serialise rows (tuples of plain values) for the spool.

    >>> decode_rows(encode_rows([(1, "a", None)]))
    [(1, 'a', None)]
    """
    plain = [tuple(_plain(v) for v in row) for row in rows]
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=5).dump(plain)
    except (pickle.PicklingError, TypeError, ValueError, RecursionError) as exc:
        raise SpoolEncodeError(f"value cannot be spooled: {exc}") from exc
    return buf.getvalue()


def decode_rows(data: bytes) -> list[tuple[Any, ...]]:
    """Inverse of ``encode_rows``; refuses anything but plain data."""
    try:
        rows = _Unpickler(io.BytesIO(data)).load()
    except Exception as exc:
        raise SpoolDecodeError(f"spooled batch cannot be read: {exc}") from exc
    if not isinstance(rows, list):
        raise SpoolDecodeError(f"spooled batch is a {type(rows).__name__}, not a list")
    return rows


def unspoolable(rows: Sequence[Sequence[Any]]) -> list[tuple[int, str]]:
    """Positions of rows that ``encode_rows`` refuses, with the reason (row by row).

    >>> unspoolable([(1,), (object(),)])[0][0]
    1
    """
    bad: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        try:
            encode_rows([row])
        except SpoolEncodeError as exc:
            bad.append((i, str(exc)))
    return bad


@dataclass(frozen=True)
class SpoolBatch:
    """One spooled batch: its id (order), target table, rows and when its oldest row came in."""

    id: int
    target: str
    rows: list[tuple[Any, ...]]
    oldest: float  # time.time() of the oldest row's put, for the writer's lag
    raw: bytes | None = None  # the undecodable payload when decoding failed (see error)
    error: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, order kept
    target  TEXT NOT NULL,                      -- e.g. 'ts.sample' (the writer's catalogue)
    n       INTEGER NOT NULL,                   -- rows in the batch
    oldest  REAL NOT NULL,                      -- unix time the oldest row was put
    format  TEXT NOT NULL,                      -- serialisation of data, 'pickle5'
    data    BLOB NOT NULL
);
"""


class Spool:
    """A durable FIFO of row batches in one SQLite file (WAL). Thread-safe.

    ``rows`` and ``batches`` are kept in memory, so reading them costs no query.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an append is on disk before it returns (NORMAL could lose the last
        # transactions on power loss; a process crash loses nothing either way).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            self._db.close()
            raise RuntimeError(f"spool {self.path} has schema {version}, expected {SCHEMA_VERSION}")
        # id -> (rows, oldest), in order; small (one entry per batch, not per row).
        self._index: dict[int, tuple[int, float]] = {
            i: (n, oldest)
            for i, n, oldest in self._db.execute("SELECT id, n, oldest FROM batch ORDER BY id")
        }
        self._rows = sum(n for n, _ in self._index.values())
        self._closed = False

    # -- writing ----------------------------------------------------------------------------

    def append(
        self, target: str, rows: Sequence[Sequence[Any]], oldest: float | None = None
    ) -> int:
        """Store one batch durably; return its id. Raises SpoolEncodeError for odd values."""
        data = encode_rows(rows)
        stamp = time.time() if oldest is None else oldest
        with self._lock:
            self._check_open()
            cur = self._db.execute(
                "INSERT INTO batch (target, n, oldest, format, data) VALUES (?, ?, ?, ?, ?)",
                (target, len(rows), stamp, FORMAT, data),
            )
            batch_id = int(cur.lastrowid or 0)
            self._index[batch_id] = (len(rows), stamp)
            self._rows += len(rows)
        return batch_id

    def delete(self, batch_id: int) -> None:
        """Forget a batch (call only after the database committed it)."""
        with self._lock:
            self._check_open()
            self._db.execute("DELETE FROM batch WHERE id = ?", (batch_id,))
            n, _ = self._index.pop(batch_id, (0, 0.0))
            self._rows -= n

    # -- reading ----------------------------------------------------------------------------

    def first(self) -> SpoolBatch | None:
        """The oldest batch, or None when the spool is empty.

        A batch that cannot be decoded comes back with ``rows == []``, ``raw`` and ``error``
        set, so the caller can keep it somewhere and delete it instead of stalling on it.
        """
        with self._lock:
            self._check_open()
            row = self._db.execute(
                "SELECT id, target, oldest, format, data FROM batch ORDER BY id LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        batch_id, target, oldest, fmt, data = row
        try:
            if fmt != FORMAT:
                raise SpoolDecodeError(f"unknown spool format {fmt!r}")
            rows = decode_rows(bytes(data))
        except SpoolDecodeError as exc:
            return SpoolBatch(batch_id, target, [], oldest, raw=bytes(data), error=str(exc))
        return SpoolBatch(batch_id, target, rows, oldest)

    def __iter__(self) -> Iterator[SpoolBatch]:
        """Every batch, oldest first (for inspection and tests; replay uses first/delete)."""
        with self._lock:
            self._check_open()
            ids = list(self._index)
        for batch_id in ids:
            with self._lock:
                row = self._db.execute(
                    "SELECT target, oldest, data FROM batch WHERE id = ?", (batch_id,)
                ).fetchone()
            if row is not None:
                yield SpoolBatch(batch_id, row[0], decode_rows(bytes(row[2])), row[1])

    @property
    def rows(self) -> int:
        """Rows waiting in the spool."""
        return self._rows

    @property
    def batches(self) -> int:
        return len(self._index)

    def oldest(self) -> float | None:
        """``time.time()`` at which the oldest spooled row was put, or None when empty."""
        with self._lock:
            if not self._index:
                return None
            return min(oldest for _, oldest in self._index.values())

    # -- lifecycle --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"spool {self.path} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
