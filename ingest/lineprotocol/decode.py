"""InfluxDB line protocol, parsed without I/O, and the rule that turns points into hazwatch tags.

    >>> from datetime import UTC, datetime
    >>> now = datetime(2024, 1, 1, tzinfo=UTC)
    >>> [p] = decode_lines(b'weather,location=us\\\\,midwest temperature=82 1465839830100400200',
    ...                    received_at=now)
    >>> p.measurement, p.tags, p.fields, p.time_ns
    ('weather', {'location': 'us,midwest'}, {'temperature': 82.0}, 1465839830100400200)
    >>> [e] = decode_lines(b"x", received_at=now)
    >>> str(e)
    "unable to parse 'x': missing fields"

Syntax (one point per line, ``\\n`` separated; blank lines and ``#`` comments are skipped)::

    <measurement>[,<tag_key>=<tag_value>...] <field_key>=<field_value>[,...] [<timestamp>]

Escapes, as InfluxDB 1.x and 2.x read them and as influxdb-client and Telegraf write them: a
backslash right before ``,`` or a space (measurement) or before ``,``, ``=`` or a space (tag
keys, tag values, field keys) makes that character part of the name; every other backslash,
``\\\\`` included, is a literal backslash (so a name cannot end in one). String field values
are double-quoted; inside them ``\\"`` and ``\\\\`` are the escapes. Field values: floats
(``1``, ``-1.5e3``), integers (``1i``), unsigned integers (``1u``), booleans (``t T true True
TRUE f F false False FALSE``), strings.

Errors are per line and worded like InfluxDB's (``unable to parse '<line>': <reason>``), so a
client's log reads the same whichever server it writes to. ``docs/line-protocol.md`` says how
points become ``ts.sample`` rows (see ``tag_name`` and ``numeric``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Field value types after parsing. Unsigned integers are ints too (their range is checked).
FieldValue = float | int | bool | str

#: Nanoseconds per unit of each ``precision`` (v2 names, and the v1 ones: n, u, m, h).
PRECISION_NS: dict[str, int] = {
    "ns": 1,
    "n": 1,
    "us": 1_000,
    "u": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
#: What /api/v2/write accepts; /write takes every key of PRECISION_NS.
V2_PRECISIONS = ("ns", "us", "ms", "s")

#: InfluxDB's valid time range (int64 nanoseconds, less the two values it reserves).
MIN_NS = -9_223_372_036_854_775_806
MAX_NS = 9_223_372_036_854_775_806
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1
#: registry.tag.name's limit.
MAX_TAG_NAME = 200
#: A point with this tag key names its hazwatch tag itself (see tag_name).
TAG_KEY = "tag"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Scanning: the next delimiter that is not right after a backslash (InfluxDB's rule).
_MEASUREMENT_END = re.compile(r"(?<!\\)[, ]")
_KEY_END = re.compile(r"(?<!\\)[,= ]")
# Inside a string value a backslash takes the next character with it (\" and \\).
_QUOTE_END = re.compile(r'[\\"]')
_VALUE_END = re.compile(r"[, ]")
# Unescaping names: only the element's own delimiters; other backslashes stay.
_UNESCAPE_MEASUREMENT = re.compile(r"\\([, ])")
_UNESCAPE_KEY = re.compile(r"\\([,= ])")
_UNESCAPE_STRING = re.compile(r'\\(["\\])')

_INT = re.compile(r"-?\d+i")
_UINT = re.compile(r"\d+u")
_FLOAT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TIMESTAMP = re.compile(r"-?\d+")
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


@dataclass(frozen=True)
class Point:
    """One parsed line. ``time_ns`` is the receive time when the line had no timestamp."""

    line: int
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int
    text: str

    @property
    def time(self) -> datetime:
        """``time_ns`` as a UTC datetime, floored to the microsecond (PostgreSQL's resolution).

        >>> Point(1, "m", {}, {"f": 1.0}, 1_500_000_999, "").time.isoformat()
        '1970-01-01T00:00:01.500000+00:00'
        """
        return ns_to_datetime(self.time_ns)


@dataclass(frozen=True)
class LineError:
    """A line that is not valid line protocol (or cannot be stored), with its 1-based number."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"unable to parse '{self.text}': {self.reason}"


class LineSyntaxError(ValueError):
    """Raised by ``parse_line``; ``str(exc)`` is the reason alone (e.g. ``missing fields``)."""


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as a UTC datetime, floored to the microsecond.

    >>> ns_to_datetime(-1).isoformat()
    '1969-12-31T23:59:59.999999+00:00'
    """
    return EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(t: datetime) -> int:
    """Nanoseconds since the epoch.

    >>> datetime_to_ns(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    1000000000
    """
    delta = t - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def decode_lines(
    data: bytes | str, *, precision: str = "ns", received_at: datetime
) -> Iterator[Point | LineError]:
    """Each non-blank, non-comment line of ``data`` as a Point or a LineError, in order.

    ``precision`` is a key of ``PRECISION_NS``; lines without a timestamp get ``received_at``.
    A generator: a 25 MB body is never held as points all at once.

    >>> now = datetime(2024, 1, 1, tzinfo=UTC)
    >>> [str(r) for r in decode_lines("# c\\n\\nm f=1 1\\nm f=", received_at=now,
    ...                                precision="s")]  # doctest: +NORMALIZE_WHITESPACE
    ["Point(line=3, measurement='m', tags={}, fields={'f': 1.0}, time_ns=1000000000,
      text='m f=1 1')", "unable to parse 'm f=': missing field value"]
    """
    try:
        factor = PRECISION_NS[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}") from None
    default_ns = datetime_to_ns(received_at)
    raw = data.encode() if isinstance(data, str) else data
    pos, number, end = 0, 0, len(raw)
    while pos < end:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            nl = end
        chunk = raw[pos:nl]
        pos = nl + 1
        number += 1
        if chunk.endswith(b"\r"):  # CRLF from Windows agents: not part of the timestamp
            chunk = chunk[:-1]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = chunk.decode("utf-8", "replace")
            yield LineError(number, text, f"invalid UTF-8 ({exc.reason})")
            continue
        stripped = text.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        if "\x00" in text:
            # PostgreSQL text holds no NUL: neither a tag name nor the quarantine's raw could.
            yield LineError(
                number, text.replace("\x00", "\\x00"), "NUL character (cannot be stored)"
            )
            continue
        try:
            yield parse_line(stripped, number, factor=factor, default_ns=default_ns)
        except LineSyntaxError as exc:
            yield LineError(number, text, str(exc))


def parse_line(text: str, line: int = 1, *, factor: int = 1, default_ns: int = 0) -> Point:
    """Parse one line (no leading blanks); raise LineSyntaxError with InfluxDB's wording.

    >>> p = parse_line('wea\\\\ ther,loc\\\\=x=a\\\\ b f\\\\,1="say \\\\"hi\\\\"",n=3i,ok=T 5')
    >>> p.measurement, p.tags, p.fields
    ('wea ther', {'loc=x': 'a b'}, {'f,1': 'say "hi"', 'n': 3, 'ok': True})
    >>> parse_line("m,t=a f=1").tags, parse_line("m f=1", default_ns=7).time_ns
    ({'t': 'a'}, 7)
    """
    n = len(text)
    # -- measurement
    pos = _scan(text, 0, _MEASUREMENT_END)
    if pos == 0:
        raise LineSyntaxError("missing measurement")
    measurement = _unescape(text[:pos], _UNESCAPE_MEASUREMENT)
    # -- tag set
    tags: dict[str, str] = {}
    while pos < n and text[pos] == ",":
        start = pos + 1
        pos = _scan(text, start, _KEY_END)
        if pos == start:
            raise LineSyntaxError("missing tag key")
        if pos >= n or text[pos] != "=":
            raise LineSyntaxError("missing tag value")
        key = _unescape(text[start:pos], _UNESCAPE_KEY)
        start = pos + 1
        pos = _scan(text, start, _KEY_END)
        if pos == start:
            raise LineSyntaxError("missing tag value")
        if pos < n and text[pos] == "=":
            raise LineSyntaxError("invalid tag format")
        if key in tags:
            raise LineSyntaxError("duplicate tags")
        tags[key] = _unescape(text[start:pos], _UNESCAPE_KEY)
    # -- field set (one or more blanks after the key, as InfluxDB tolerates)
    while pos < n and text[pos] == " ":
        pos += 1
    if pos >= n:
        raise LineSyntaxError("missing fields")
    fields: dict[str, FieldValue] = {}
    while True:
        start = pos
        pos = _scan(text, start, _KEY_END)
        if pos == start:
            raise LineSyntaxError("missing field key")
        if pos >= n or text[pos] != "=":
            raise LineSyntaxError("invalid field format")
        key = _unescape(text[start:pos], _UNESCAPE_KEY)
        pos += 1
        if pos < n and text[pos] == '"':
            close = _string_end(text, pos + 1)
            if close >= n:
                raise LineSyntaxError("unbalanced quotes")
            value: FieldValue = _unescape(text[pos + 1 : close], _UNESCAPE_STRING)
            pos = close + 1
        else:
            m = _VALUE_END.search(text, pos)
            stop = m.start() if m else n
            if stop == pos:
                raise LineSyntaxError("missing field value")
            value = _field_value(text[pos:stop])
            pos = stop
        fields[key] = value  # a repeated key: the last one wins, as in InfluxDB
        if pos >= n or text[pos] == " ":
            break
        if text[pos] != ",":
            raise LineSyntaxError("invalid field format")  # e.g. text right after a quote
        pos += 1
    # -- timestamp
    stamp = text[pos:].strip(" \t")
    if not stamp:
        time_ns = default_ns
    else:
        if not _TIMESTAMP.fullmatch(stamp):
            raise LineSyntaxError("bad timestamp")
        time_ns = int(stamp) * factor
        if not MIN_NS <= time_ns <= MAX_NS:
            raise LineSyntaxError(f"time outside range {MIN_NS} - {MAX_NS}")
    return Point(line, measurement, tags, fields, time_ns, text)


def _scan(text: str, pos: int, stops: re.Pattern[str]) -> int:
    """Index of the first unescaped stop character at or after ``pos`` (len(text) if none)."""
    m = stops.search(text, pos)
    return m.start() if m else len(text)


def _string_end(text: str, pos: int) -> int:
    """Index of the quote that closes a string value starting at ``pos`` (len(text) if none)."""
    while True:
        m = _QUOTE_END.search(text, pos)
        if m is None:
            return len(text)
        if text[m.start()] == '"':
            return m.start()
        pos = m.start() + 2  # an escaped character, whatever it is, does not close


def _unescape(token: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(r"\1", token) if "\\" in token else token


def _field_value(raw: str) -> FieldValue:
    """An unquoted field value.

    >>> [_field_value(v) for v in ("1", "-1.5e3", ".5", "3i", "4u", "t", "FALSE")]
    [1.0, -1500.0, 0.5, 3, 4, True, False]
    """
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    last = raw[-1]
    if last == "i" and _INT.fullmatch(raw):
        value = int(raw[:-1])
        if not INT64[0] <= value <= INT64[1]:
            raise LineSyntaxError(f"unable to parse integer {raw[:-1]}: value out of range")
        return value
    if last == "u" and _UINT.fullmatch(raw):
        value = int(raw[:-1])
        if value > UINT64_MAX:
            raise LineSyntaxError(f"unable to parse unsigned {raw[:-1]}: value out of range")
        return value
    if _FLOAT.fullmatch(raw):
        number = float(raw)
        if number in (float("inf"), float("-inf")):
            raise LineSyntaxError(f"unable to parse float {raw}: value out of range")
        return number
    # The same distinction InfluxDB draws from the first character.
    if raw[0] in "tTfF":
        raise LineSyntaxError("invalid boolean")
    if raw[0] in "+-.0123456789":
        raise LineSyntaxError("invalid number")
    raise LineSyntaxError("invalid field format")


# -- from points to hazwatch tags ------------------------------------------------------------


def tag_name(measurement: str, tags: dict[str, str], field: str) -> str:
    """The hazwatch tag a field of a point is stored under.

    The base is the value of the tag key ``tag`` when the point has one, else the series key
    (measurement, then every tag as ``,key=value`` in key order); the field key follows after
    a dot, except for a field named ``value``, which adds nothing.

    >>> tag_name("dcs", {"tag": "FIC-101", "unit": "1"}, "value")
    'FIC-101'
    >>> tag_name("pump", {"tag": "P-101"}, "vel_rms")
    'P-101.vel_rms'
    >>> tag_name("cpu", {"region": "us-west", "host": "a"}, "usage_idle")
    'cpu,host=a,region=us-west.usage_idle'
    >>> tag_name("TI-101", {}, "value")
    'TI-101'
    """
    return field_tag_name(tag_base(measurement, tags), field)


def tag_base(measurement: str, tags: dict[str, str]) -> str:
    """The part of ``tag_name`` that is the same for every field of a point."""
    if TAG_KEY in tags:
        return tags[TAG_KEY]
    return measurement + "".join(f",{k}={tags[k]}" for k in sorted(tags))


def field_tag_name(base: str, field: str) -> str:
    """``tag_name`` from ``tag_base``'s result."""
    return base if field == "value" else f"{base}.{field}"


def series_key(point: Point, field: str | None = None) -> str:
    """Where a tag's values come from, in line protocol form (``registry.tag.source_address``):
    the escaped measurement and tags in key order, then the field key after a blank.

    >>> p = Point(1, "cpu", {"host": "a b"}, {"f": 1.0}, 0, "")
    >>> series_key(p, "f"), series_key(p)
    ('cpu,host=a\\\\ b f', 'cpu,host=a\\\\ b')
    """
    key = _escape(point.measurement, ", ")
    key += "".join(f",{escape_key(k)}={escape_key(point.tags[k])}" for k in sorted(point.tags))
    return key if field is None else f"{key} {escape_key(field)}"


def escape_key(text: str) -> str:
    """A tag key, tag value or field key in line protocol form.

    >>> escape_key("a b,c=d")
    'a\\\\ b\\\\,c\\\\=d'
    """
    return _escape(text, ",= ")


def _escape(text: str, specials: str) -> str:
    for ch in specials:
        if ch in text:
            text = text.replace(ch, "\\" + ch)
    return text


def numeric(value: FieldValue) -> float | None:
    """A field value as stored in ``ts.sample.value``; None for strings (not stored).

    >>> numeric(True), numeric(3), numeric(2.5), numeric("on")
    (1.0, 3.0, 2.5, None)
    """
    if isinstance(value, str):
        return None
    return float(value)  # bool is an int: True -> 1.0
