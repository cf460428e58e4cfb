"""MQTT messages to hazwatch rows: pure functions, no I/O and no paho import.

A *map* says which topics carry what. Each entry has a topic template whose ``{placeholders}``
take whole or partial topic levels, JSON paths into the payload, and tag-name templates built
from the placeholders::

    mmap = load_map(Path("gas.toml").read_text(), "gas.toml")
    mmap.subscriptions()                           # ['plant/+/+/lel']
    d = decode_message(mmap, "plant/GW-1/GD-101/lel", b'{"ts": 1718000000, "value": 12.5}',
                       received=datetime.now(UTC))
    d.readings   # (Reading(tag='GD-101.LEL', time=2024-06-10 06:13:20+00:00, value=12.5, ...),)
    d.rejected   # None, or one Rejected naming every problem of the message

The map file (TOML; docs/mqtt.md has the whole format)::

    [[topic]]
    template = "plant/{gateway}/{detector}/lel"
    time = "ts"                 # epoch s/ms/us/ns or ISO 8601; absent -> receive time
    quality = "q"               # optional: 0-255, true/false, "good"/"uncertain"/"bad"

      [[topic.value]]
      path = "value"            # also values.ch4_lel, data[0].v, ["odd.key"], $ (whole payload)
      tag = "{detector}.LEL"
      eng_unit = "%LEL"

      [topic.health]            # optional: device state carried by the same payload (P7)
      device = "sensor"         # sensor | gateway
      code = "{detector}"
      sensor_kind = "gas_combustible"
      gateway = "{gateway}"
      online = "online"
      battery = "battery"
      signal = "rssi"
      silent_after_s = 30

A CSV map (``topic,path,tag`` and optionally ``eng_unit,time,time_unit,timezone,quality,
required``, one row per value) covers values without health.

Rules, and why:

- One message gives at most one ``Rejected``, naming all its problems; the values of it that
  are fine are still kept (a good gas reading is never dropped for a bad battery field).
- A message whose time or quality cannot be read gives no rows at all: a value stored at the
  wrong time, or as good when the device said otherwise, is worse than none.
- A device that says it is offline gives a health row and no samples (what it still sends
  is stale), and its missing values are not a problem.
- A retained message without a time in its payload gives no samples: the broker kept it for
  an unknown time, and stamping it with the receive time would date an old value as new.
- JSON ``null``, NaN and infinities are stored as no value with bad quality (the way many
  gateways say "sensor fault"); text is accepted when it is a number (``"12.5"``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.types import BAD, GOOD, UNCERTAIN, Rejected

SOURCE = "mqtt"

#: registry.sensor.kind values a map may name for sensors it registers.
SENSOR_KINDS: tuple[str, ...] = (
    "vibration_triaxial", "temperature", "acoustic", "speed", "current",
    "gas_combustible", "gas_toxic", "humidity", "level", "pressure",
)  # fmt: skip
DEVICE_KINDS: tuple[str, ...] = ("sensor", "gateway")
TIME_UNITS: tuple[str, ...] = ("auto", "s", "ms", "us", "ns")
#: Characters of raw payload kept in the quarantine (a runaway payload must not fill it).
MAX_RAW = 16_000
#: Times before this, or more than FUTURE_SLACK after the receive time, are refused: such a
#: timestamp comes from a device whose clock was never set or has drifted, not from the plant.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
MAX_TAG = 200

_MISSING: Any = object()


class MapError(ValueError):
    """A bad map file; ``str(err)`` is ``FILE:LINE: reason``."""


# -- templates -----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _split_template(text: str) -> list[str | tuple[str]]:
    """Literal strings and ``(name,)`` placeholders; raises ValueError for stray braces."""
    parts: list[str | tuple[str]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(text[pos : m.start()])
        parts.append((m.group(1),))
        pos = m.end()
    parts.append(text[pos:])
    for p in parts:
        if isinstance(p, str) and ("{" in p or "}" in p):
            raise ValueError(f"{text!r}: a brace that is not a {{name}} placeholder")
    return [p for p in parts if p != ""]


@dataclass(frozen=True)
class TopicTemplate:
    """A topic with placeholders, e.g. ``plant/{gateway}/{sensor}/telemetry``.

    >>> t = TopicTemplate.parse("plant/{gateway}/{sensor}/telemetry")
    >>> t.filter, t.match("plant/GW-1/GD-101/telemetry")
    ('plant/+/+/telemetry', {'gateway': 'GW-1', 'sensor': 'GD-101'})

    A placeholder takes (part of) one topic level, never a ``/``; a level holding one becomes
    ``+`` in the subscription filter and the template's own pattern checks the rest.
    """

    text: str
    fields: tuple[str, ...]
    filter: str
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> TopicTemplate:
        if not text:
            raise ValueError("the topic template is empty")
        if "+" in text or "#" in text:
            raise ValueError(f"{text!r}: use {{name}} placeholders, not the wildcards + and #")
        if "\x00" in text:
            raise ValueError("a topic cannot contain NUL")
        fields: list[str] = []
        regex = []
        levels = []
        for level in text.split("/"):
            parts = _split_template(level)
            names = [p[0] for p in parts if isinstance(p, tuple)]
            for a, b in pairwise(parts):
                if isinstance(a, tuple) and isinstance(b, tuple):
                    raise ValueError(f"{text!r}: two placeholders need text between them")
            for name in names:
                if name in fields:
                    raise ValueError(f"{text!r}: placeholder {{{name}}} appears twice")
                fields.append(name)
            levels.append("+" if names else level)
            regex.append(
                "".join(
                    f"(?P<{p[0]}>[^/]*?)" if isinstance(p, tuple) else re.escape(p) for p in parts
                )
            )
        return cls(text, tuple(fields), "/".join(levels), re.compile("/".join(regex) + r"\Z"))

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholders' values for ``topic``, or None when it does not fit."""
        m = self.pattern.match(topic)
        return m.groupdict() if m else None


@dataclass(frozen=True)
class NameTemplate:
    """A tag or device name made of topic fields, e.g. ``{sensor}.CH4``.

    >>> NameTemplate.parse("{sensor}.CH4", ("gateway", "sensor")).render({"sensor": "GD-1"})
    'GD-1.CH4'
    """

    text: str
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, available: Sequence[str]) -> NameTemplate:
        if not text:
            raise ValueError("the name template is empty")
        parts = _split_template(text)
        names = tuple(p[0] for p in parts if isinstance(p, tuple))
        unknown = [n for n in names if n not in available]
        if unknown:
            have = ", ".join(f"{{{a}}}" for a in available) or "none"
            raise ValueError(
                f"{text!r}: {{{unknown[0]}}} is not a placeholder of the topic (it has {have})"
            )
        return cls(text, names)

    def render(self, values: Mapping[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)


# -- JSON paths ----------------------------------------------------------------------------

_STEP = re.compile(
    r"""\.(?P<key>[^.\[\]"']+)            # .key
      | \[(?P<index>-?\d+)\]              # [0]
      | \["(?P<dq>(?:[^"\\]|\\.)*)"\]     # ["odd.key"]
      | \['(?P<sq>(?:[^'\\]|\\.)*)'\]     # ['odd.key']
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class JsonPath:
    """A path into a JSON document: ``values.ch4_lel``, ``data[0].v``, ``["a.b"]``, ``$``.

    >>> JsonPath.parse("data[0].v").get({"data": [{"v": 3}]})
    3
    """

    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        src = text.strip()
        if src in ("$", "$."):
            return cls(text, ())
        body = src[1:] if src.startswith("$") else src
        if not body:
            raise ValueError("the JSON path is empty")
        if not body.startswith((".", "[")):
            body = "." + body
        steps: list[str | int] = []
        pos = 0
        while pos < len(body):
            m = _STEP.match(body, pos)
            if m is None:
                raise ValueError(f"{text!r} is not a JSON path (at {body[pos:]!r})")
            if m.group("key") is not None:
                steps.append(m.group("key"))
            elif m.group("index") is not None:
                steps.append(int(m.group("index")))
            else:
                quoted = m.group("dq") if m.group("dq") is not None else m.group("sq")
                steps.append(re.sub(r"\\(.)", r"\1", quoted))
            pos = m.end()
        return cls(text, tuple(steps))

    def get(self, doc: Any) -> Any:
        """The value at the path, or ``_MISSING``."""
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(doc, list) or not -len(doc) <= step < len(doc):
                    return _MISSING
                doc = doc[step]
            else:
                if not isinstance(doc, dict) or step not in doc:
                    return _MISSING
                doc = doc[step]
        return doc


# -- the map -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueMap:
    """One JSON value of a topic that becomes a ts.sample row of a tag."""

    path: JsonPath
    tag: NameTemplate
    eng_unit: str | None = None
    required: bool = True
    line: int = 0


@dataclass(frozen=True)
class HealthMap:
    """Where a topic's payload says whether its device is online, and its battery and signal."""

    device: Literal["sensor", "gateway"]
    code: NameTemplate
    online: JsonPath | None = None
    battery: JsonPath | None = None
    signal: JsonPath | None = None
    sensor_kind: str | None = None
    gateway: NameTemplate | None = None
    #: No message for this long (while the broker is reachable): the device is offline.
    silent_after_s: float | None = None
    line: int = 0


@dataclass(frozen=True)
class TopicMap:
    template: TopicTemplate
    values: tuple[ValueMap, ...] = ()
    health: HealthMap | None = None
    time: JsonPath | None = None
    time_unit: str = "auto"
    timezone: tzinfo = UTC
    quality: JsonPath | None = None
    line: int = 0


@dataclass(frozen=True)
class MqttMap:
    topics: tuple[TopicMap, ...]
    source: str = "<map>"

    def subscriptions(self) -> list[str]:
        """The subscription filters, in map order, without duplicates."""
        return list(dict.fromkeys(t.template.filter for t in self.topics))

    def match(self, topic: str) -> tuple[TopicMap, dict[str, str]] | None:
        """The first entry whose template fits ``topic``, with the placeholders' values."""
        for t in self.topics:
            fields = t.template.match(topic)
            if fields is not None:
                return t, fields
        return None


# -- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One value for a tag, by name (the collector turns names into ids)."""

    tag: str
    time: datetime
    value: float | None
    quality: int
    eng_unit: str | None = None
    #: Where it came from, for registry.tag.source_address: ``TOPIC PATH``.
    address: str = ""


@dataclass(frozen=True)
class HealthReport:
    """A device's state as its payload gave it (the collector turns codes into ids)."""

    device_kind: str
    code: str
    time: datetime
    online: bool
    battery_pct: float | None = None
    signal_dbm: float | None = None
    sensor_kind: str | None = None
    gateway: str | None = None
    silent_after_s: float | None = None


@dataclass(frozen=True)
class Decoded:
    readings: tuple[Reading, ...] = ()
    health: HealthReport | None = None
    rejected: Rejected | None = None


def raw_text(payload: bytes) -> str:
    """The payload as quarantine text: UTF-8 as is, anything else as a bytes repr; capped."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = repr(payload)
    if len(text) > MAX_RAW:
        text = text[:MAX_RAW] + f"... ({len(payload)} bytes)"
    return text


def decode_message(
    mmap: MqttMap,
    topic: str,
    payload: bytes,
    received: datetime,
    *,
    retained: bool = False,
    origin: str | None = None,
) -> Decoded:
    """Rows for one message; never raises for anything the message holds.

    >>> decode_message(mmap, "plant/GW-1/GD-101/lel", b"{oops", now).rejected.reason
    'malformed JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)'

    ``origin`` goes into the Rejected (the broker, e.g. ``mqtt://10.0.0.5:1883``); its
    ``position`` is the topic.
    """

    def reject(*problems: str) -> Rejected:
        return Rejected(SOURCE, "; ".join(problems), raw_text(payload), origin, topic)

    found = mmap.match(topic)
    if found is None:
        return Decoded(rejected=reject("the topic fits no entry of the map"))
    entry, fields = found
    empty = [name for name, value in fields.items() if not value]
    if empty:
        return Decoded(rejected=reject(f"topic level for {{{empty[0]}}} is empty"))
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Decoded(rejected=reject(f"payload is not UTF-8 text ({exc.reason})"))
    except json.JSONDecodeError as exc:
        return Decoded(rejected=reject(f"malformed JSON: {exc}"))
    except RecursionError:
        return Decoded(rejected=reject("malformed JSON: nested too deeply"))

    # Message-level fields first: without a time or a quality nothing can be stored.
    when = received
    has_time = False
    if entry.time is not None:
        raw_time = entry.time.get(doc)
        if raw_time is not _MISSING and raw_time is not None:
            try:
                when = parse_time(raw_time, entry.time_unit, entry.timezone)
            except ValueError as exc:
                return Decoded(rejected=reject(f"{entry.time.text}: {exc}"))
            if when < EARLIEST or when > received + FUTURE_SLACK:
                return Decoded(
                    rejected=reject(
                        f"{entry.time.text}: time {when.isoformat()} is implausible "
                        "(device clock not set?)"
                    )
                )
            has_time = True
    quality = GOOD
    if entry.quality is not None:
        raw_q = entry.quality.get(doc)
        if raw_q is not _MISSING and raw_q is not None:
            try:
                quality = parse_quality(raw_q)
            except ValueError as exc:
                return Decoded(rejected=reject(f"{entry.quality.text}: {exc}"))

    problems: list[str] = []
    health: HealthReport | None = None
    if entry.health is not None:
        health = _health(entry.health, doc, fields, when, problems)
    offline = health is not None and not health.online

    readings: list[Reading] = []
    if not offline and not (retained and not has_time):
        for vm in entry.values:
            reading = _reading(vm, doc, fields, when, quality, topic, problems)
            if reading is not None:
                readings.append(reading)
    rejected = reject(*problems) if problems else None
    return Decoded(tuple(readings), health, rejected)


def _reading(
    vm: ValueMap,
    doc: Any,
    fields: Mapping[str, str],
    when: datetime,
    quality: int,
    topic: str,
    problems: list[str],
) -> Reading | None:
    raw = vm.path.get(doc)
    if raw is _MISSING:
        if vm.required:
            problems.append(f"{vm.path.text}: missing")
        return None
    tag = vm.tag.render(fields)
    if len(tag) > MAX_TAG:
        problems.append(f"{vm.path.text}: tag name longer than {MAX_TAG} characters")
        return None
    try:
        value = parse_number(raw)
    except ValueError as exc:
        problems.append(f"{vm.path.text}: {exc}")
        return None
    q = quality if value is not None else BAD
    return Reading(tag, when, value, q, vm.eng_unit, f"{topic} {vm.path.text}")


def _health(
    hm: HealthMap, doc: Any, fields: Mapping[str, str], when: datetime, problems: list[str]
) -> HealthReport | None:
    online = True  # it just sent a message: online unless it says otherwise
    if hm.online is not None:
        raw = hm.online.get(doc)
        if raw is not _MISSING and raw is not None:
            try:
                online = parse_online(raw)
            except ValueError as exc:
                problems.append(f"{hm.online.text}: {exc}")
                return None
    battery = _optional_number(hm.battery, doc, problems)
    if battery is not None and not 0 <= battery <= 100:
        where = hm.battery.text if hm.battery else "battery"
        problems.append(f"{where}: battery {battery:g} % is not 0-100")
        battery = None
    signal = _optional_number(hm.signal, doc, problems)
    return HealthReport(
        device_kind=hm.device,
        code=hm.code.render(fields),
        time=when,
        online=online,
        # A battery level is worth keeping offline too (a dead battery is why, often); a
        # signal strength of a device that is not heard is not.
        battery_pct=battery,
        signal_dbm=signal if online else None,
        sensor_kind=hm.sensor_kind,
        gateway=hm.gateway.render(fields) if hm.gateway else None,
        silent_after_s=hm.silent_after_s,
    )


def _optional_number(path: JsonPath | None, doc: Any, problems: list[str]) -> float | None:
    if path is None:
        return None
    raw = path.get(doc)
    if raw is _MISSING:
        return None
    try:
        return parse_number(raw)
    except ValueError as exc:
        problems.append(f"{path.text}: {exc}")
        return None


def parse_number(raw: Any) -> float | None:
    """A JSON value as a sample value; None for null/NaN/inf; ValueError for the rest.

    >>> parse_number(12), parse_number("12.5"), parse_number(True), parse_number(None)
    (12.0, 12.5, 1.0, None)
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            raise ValueError(f"{raw} is out of range") from None
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"not a number: {raw!r:.80}") from None
    else:
        raise ValueError(f"not a number: {type(raw).__name__} {json.dumps(raw)[:80]}")
    return value if math.isfinite(value) else None


_ONLINE_WORDS = {
    "true": True, "1": True, "online": True, "on": True, "up": True, "ok": True,
    "false": False, "0": False, "offline": False, "off": False, "down": False, "lost": False,
}  # fmt: skip


def parse_online(raw: Any) -> bool:
    """``true``/``false``, 1/0, or online/offline, on/off, up/down, ok/lost.

    >>> parse_online("OFFLINE"), parse_online(1)
    (False, True)
    """
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _ONLINE_WORDS:
        return _ONLINE_WORDS[raw.strip().lower()]
    raise ValueError(f"online state {json.dumps(raw)[:80]} is not true/false or online/offline")


_QUALITY_WORDS = {"good": GOOD, "ok": GOOD, "uncertain": UNCERTAIN, "bad": BAD}


def parse_quality(raw: Any) -> int:
    """An OPC DA quality byte: 0-255, true (good) / false (bad), or good/uncertain/bad.

    >>> parse_quality("uncertain"), parse_quality(0), parse_quality(True)
    (64, 0, 192)
    """
    if isinstance(raw, bool):
        return GOOD if raw else BAD
    if isinstance(raw, str) and raw.strip().lower() in _QUALITY_WORDS:
        return _QUALITY_WORDS[raw.strip().lower()]
    try:
        number = float(raw) if isinstance(raw, int | float | str) else math.nan
    except ValueError:
        number = math.nan
    if number.is_integer() and 0 <= number <= 255:
        return int(number)
    raise ValueError(f"quality {json.dumps(raw)[:80]} is not 0-255 or good/uncertain/bad")


_UNIT_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def parse_time(raw: Any, unit: str = "auto", tz: tzinfo = UTC) -> datetime:
    """A payload timestamp as an aware UTC datetime.

    Numbers (or numeric text) are Unix epoch times; with ``unit="auto"`` the magnitude says
    which unit (below 1e11 seconds, then ms, us, ns: 1e11 s is the year 5138, 1e11 ms is 1973).
    Text is ISO 8601; without an offset it is read in ``tz``.

    >>> parse_time(1718000000123).isoformat()
    '2024-06-10T06:13:20.123000+00:00'
    >>> parse_time("2024-06-10 14:13:20", tz=ZoneInfo("Asia/Shanghai")).isoformat()
    '2024-06-10T06:13:20+00:00'
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"time {json.dumps(raw)[:80]} is neither a number nor ISO 8601 text")
    number: float | None = None
    if isinstance(raw, int | float):
        number = float(raw)
    else:
        try:
            number = float(raw.strip())
        except ValueError:
            number = None
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"time {raw!r} is not a number")
        if unit == "auto":
            size = abs(number)
            unit = "s" if size < 1e11 else "ms" if size < 1e14 else "us" if size < 1e17 else "ns"
        try:
            if isinstance(raw, int) and unit != "s":
                # Integer arithmetic: a float cannot hold every nanosecond of today.
                whole, rest = divmod(raw, int(_UNIT_SCALE[unit]))
                micros = rest * 1_000_000 // int(_UNIT_SCALE[unit])
                return datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micros)
            return datetime.fromtimestamp(number / _UNIT_SCALE[unit], UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"time {raw!r} is out of range") from None
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {raw!r:.80} is neither epoch time nor ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


# -- loading a map file --------------------------------------------------------------------

_TOPIC_KEYS = {"template", "time", "time_unit", "timezone", "quality", "value", "health"}
_VALUE_KEYS = {"path", "tag", "eng_unit", "required"}
_HEALTH_KEYS = {
    "device", "code", "online", "battery", "signal", "sensor_kind", "gateway", "silent_after_s",
}  # fmt: skip
_CSV_REQUIRED = ("topic", "path", "tag")
_CSV_OPTIONAL = ("eng_unit", "time", "time_unit", "timezone", "quality", "required")
_CSV_TOPIC_LEVEL = ("time", "time_unit", "timezone", "quality")


def load_map(text: str, source: str) -> MqttMap:
    """A map from the text of a ``.toml`` or ``.csv`` file (by ``source``'s suffix).

    >>> load_map('[[topic]]\\ntemplate = "p/{s}"\\n[[topic.value]]\\npath = "v"\\ntag = "{s}"\\n',
    ...          "m.toml").subscriptions()
    ['p/+']

    Raises MapError as ``FILE:LINE: reason``.
    """
    text = text.lstrip("\ufeff")
    if source.lower().endswith(".csv"):
        return _load_csv(text, source)
    if source.lower().endswith(".toml"):
        return _load_toml(text, source)
    raise MapError(f"{source}:1: a map is a .toml or .csv file")


class _Lines:
    """Line numbers of TOML tables and keys (tomllib gives values, not where they were).

    Tracks the ``[[topic]]``, ``[[topic.value]]`` and ``[topic.health]`` headers in order and
    the ``key =`` lines below each; inline tables fall back to the line of their key.
    """

    def __init__(self, text: str) -> None:
        self.topics: list[int] = []
        self.values: list[list[int]] = []
        self.health: list[int | None] = []
        self.keys: dict[tuple[object, ...], int] = {}
        self.top: dict[str, int] = {}
        where: tuple[object, ...] = ()
        in_multiline: str | None = None
        for n, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if in_multiline:
                if stripped.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = re.match(r"^\[\[?\s*([A-Za-z0-9_.\s\"']+?)\s*\]\]?\s*(#.*)?$", stripped)
            if header:
                name = re.sub(r"\s+", "", header.group(1))
                if name == "topic":
                    self.topics.append(n)
                    self.values.append([])
                    self.health.append(None)
                    where = ("topic", len(self.topics) - 1)
                elif name == "topic.value" and self.topics:
                    self.values[-1].append(n)
                    where = ("value", len(self.topics) - 1, len(self.values[-1]) - 1)
                elif name == "topic.health" and self.topics:
                    self.health[-1] = n
                    where = ("health", len(self.topics) - 1)
                else:
                    where = ("other", name)
                    self.top.setdefault(name.split(".")[0], n)
                continue
            key = re.match(r"^([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*(\.|=)", stripped)
            if key:
                k = key.group(1).strip("\"'")
                self.keys.setdefault((*where, k), n)
                if not where:
                    self.top.setdefault(k, n)
                for quote in ('"""', "'''"):
                    if stripped.count(quote) % 2 == 1:
                        in_multiline = quote

    def topic(self, i: int, key: str | None = None) -> int:
        if key is not None and ("topic", i, key) in self.keys:
            return self.keys[("topic", i, key)]
        return self.topics[i] if i < len(self.topics) else 1

    def value(self, i: int, j: int, key: str | None = None) -> int:
        if key is not None and ("value", i, j, key) in self.keys:
            return self.keys[("value", i, j, key)]
        if i < len(self.values) and j < len(self.values[i]):
            return self.values[i][j]
        return self.topic(i, "value")

    def health_line(self, i: int, key: str | None = None) -> int:
        if key is not None and ("health", i, key) in self.keys:
            return self.keys[("health", i, key)]
        if i < len(self.health) and self.health[i] is not None:
            return self.health[i]  # type: ignore[return-value]
        return self.topic(i, "health")


def _load_toml(text: str, source: str) -> MqttMap:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = m.group(1) if m else "1"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "not TOML"
        raise MapError(f"{source}:{line}: {reason}") from None
    lines = _Lines(text)

    def fail(line: int, reason: str) -> MapError:
        return MapError(f"{source}:{line}: {reason}")

    unknown = sorted(set(doc) - {"topic"})
    if unknown:
        raise fail(lines.top.get(unknown[0], 1), f"unknown key {unknown[0]!r} (expected [[topic]])")
    topics_raw = doc.get("topic")
    if topics_raw is None:
        raise fail(1, "no [[topic]] entries")
    if not isinstance(topics_raw, list):
        raise fail(lines.top.get("topic", 1), "topic must be an array of tables: [[topic]]")
    topics: list[TopicMap] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(topics_raw):
        if not isinstance(t, dict):
            raise fail(lines.top.get("topic", 1), "each topic must be a table")
        for key in t:
            if key not in _TOPIC_KEYS:
                raise fail(
                    lines.topic(i, key),
                    f"unknown key {key!r} in [[topic]] (expected one of "
                    f"{', '.join(sorted(_TOPIC_KEYS))})",
                )
        try:
            entry = _topic_entry(t, i, lines)
        except _At as exc:
            raise fail(exc.line, exc.reason) from None
        if entry.template.text in seen:
            raise fail(
                lines.topic(i, "template"),
                f"template {entry.template.text!r} already on line {seen[entry.template.text]}",
            )
        seen[entry.template.text] = lines.topic(i, "template")
        topics.append(entry)
    return MqttMap(tuple(topics), source)


class _At(Exception):
    """A problem at a line, raised inside the loaders and turned into MapError."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _string(table: Mapping[str, Any], key: str, line: int, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise _At(line, f"{key} is required")
        return None
    if not isinstance(value, str):
        raise _At(line, f"{key} must be a string, not {type(value).__name__}")
    return value


def _topic_entry(t: Mapping[str, Any], i: int, lines: _Lines) -> TopicMap:
    text = _string(t, "template", lines.topic(i), required=True)
    assert text is not None
    try:
        template = TopicTemplate.parse(text)
    except ValueError as exc:
        raise _At(lines.topic(i, "template"), str(exc)) from None
    common = _topic_common(
        {k: t.get(k) for k in _CSV_TOPIC_LEVEL},
        {k: lines.topic(i, k) for k in _CSV_TOPIC_LEVEL},
    )
    raw_values = t.get("value", [])
    if not isinstance(raw_values, list):
        raise _At(lines.topic(i, "value"), "value must be an array of tables: [[topic.value]]")
    values: list[ValueMap] = []
    tags: dict[str, int] = {}
    for j, v in enumerate(raw_values):
        at = lines.value(i, j)
        if not isinstance(v, dict):
            raise _At(at, "each value must be a table")
        for key in v:
            if key not in _VALUE_KEYS:
                raise _At(
                    lines.value(i, j, key),
                    f"unknown key {key!r} in [[topic.value]] (expected one of "
                    f"{', '.join(sorted(_VALUE_KEYS))})",
                )
        required = v.get("required", True)
        if not isinstance(required, bool):
            raise _At(lines.value(i, j, "required"), "required must be true or false")
        vm = _value_map(
            template,
            path=_string(v, "path", at, required=True),
            tag=_string(v, "tag", at, required=True),
            eng_unit=_string(v, "eng_unit", lines.value(i, j, "eng_unit")),
            required=required,
            lines={k: lines.value(i, j, k) for k in ("path", "tag", "eng_unit")},
            line=at,
        )
        if vm.tag.text in tags:
            raise _At(
                lines.value(i, j, "tag"), f"tag {vm.tag.text!r} already on line {tags[vm.tag.text]}"
            )
        tags[vm.tag.text] = lines.value(i, j, "tag")
        values.append(vm)
    health = None
    if "health" in t:
        health = _health_map(t["health"], template, i, lines)
    if not values and health is None:
        raise _At(lines.topic(i), "a topic needs at least one [[topic.value]] or a [topic.health]")
    return TopicMap(template, tuple(values), health, line=lines.topic(i), **common)


def _topic_common(raw: Mapping[str, Any], at: Mapping[str, int]) -> dict[str, Any]:
    """time, time_unit, timezone and quality of a topic (shared by the TOML and CSV forms)."""
    out: dict[str, Any] = {}
    for key in ("time", "quality"):
        value = raw.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise _At(at[key], f"{key} must be a JSON path string")
        try:
            out[key] = JsonPath.parse(value)
        except ValueError as exc:
            raise _At(at[key], str(exc)) from None
    unit = raw.get("time_unit")
    if unit not in (None, ""):
        if unit not in TIME_UNITS:
            raise _At(at["time_unit"], f"time_unit {unit!r} is not one of {', '.join(TIME_UNITS)}")
        out["time_unit"] = unit
    zone = raw.get("timezone")
    if zone not in (None, ""):
        try:
            out["timezone"] = ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise _At(at["timezone"], f"timezone {zone!r} is not an IANA zone name") from None
    return out


def _value_map(
    template: TopicTemplate,
    *,
    path: str | None,
    tag: str | None,
    eng_unit: str | None,
    required: bool,
    lines: Mapping[str, int],
    line: int,
) -> ValueMap:
    assert path is not None and tag is not None
    try:
        jpath = JsonPath.parse(path)
    except ValueError as exc:
        raise _At(lines["path"], str(exc)) from None
    try:
        ttag = NameTemplate.parse(tag, template.fields)
    except ValueError as exc:
        raise _At(lines["tag"], str(exc)) from None
    if not ttag.fields and len(tag) > MAX_TAG:
        raise _At(lines["tag"], f"tag must be 1 to {MAX_TAG} characters")
    return ValueMap(jpath, ttag, eng_unit or None, required, line)


def _health_map(h: Any, template: TopicTemplate, i: int, lines: _Lines) -> HealthMap:
    at = lines.health_line(i)
    if not isinstance(h, dict):
        raise _At(at, "health must be a table: [topic.health]")
    for key in h:
        if key not in _HEALTH_KEYS:
            raise _At(
                lines.health_line(i, key),
                f"unknown key {key!r} in [topic.health] (expected one of "
                f"{', '.join(sorted(_HEALTH_KEYS))})",
            )
    device = _string(h, "device", at, required=True)
    if device not in DEVICE_KINDS:
        raise _At(lines.health_line(i, "device"), f"device {device!r} is not sensor or gateway")
    code_text = _string(h, "code", at, required=True)
    assert code_text is not None

    def name(key: str, text: str) -> NameTemplate:
        try:
            return NameTemplate.parse(text, template.fields)
        except ValueError as exc:
            raise _At(lines.health_line(i, key), str(exc)) from None

    def path(key: str) -> JsonPath | None:
        text = _string(h, key, lines.health_line(i, key))
        if text is None:
            return None
        try:
            return JsonPath.parse(text)
        except ValueError as exc:
            raise _At(lines.health_line(i, key), str(exc)) from None

    sensor_kind = _string(h, "sensor_kind", lines.health_line(i, "sensor_kind"))
    gateway_text = _string(h, "gateway", lines.health_line(i, "gateway"))
    if device == "sensor":
        if sensor_kind is None:
            raise _At(at, "a sensor needs sensor_kind (to register sensors not yet known)")
        if sensor_kind not in SENSOR_KINDS:
            raise _At(
                lines.health_line(i, "sensor_kind"),
                f"sensor_kind {sensor_kind!r} is not one of {', '.join(SENSOR_KINDS)}",
            )
    else:
        for key, given in (("sensor_kind", sensor_kind), ("gateway", gateway_text)):
            if given is not None:
                raise _At(lines.health_line(i, key), f"{key} is for sensors, not gateways")
    silent = h.get("silent_after_s")
    if silent is not None and (
        isinstance(silent, bool) or not isinstance(silent, int | float) or silent <= 0
    ):
        raise _At(lines.health_line(i, "silent_after_s"), "silent_after_s must be a number > 0")
    return HealthMap(
        device=device,  # type: ignore[arg-type]
        code=name("code", code_text),
        online=path("online"),
        battery=path("battery"),
        signal=path("signal"),
        sensor_kind=sensor_kind,
        gateway=name("gateway", gateway_text) if gateway_text else None,
        silent_after_s=float(silent) if silent is not None else None,
        line=at,
    )


def _load_csv(text: str, source: str) -> MqttMap:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    header_line = 1
    groups: dict[str, dict[str, Any]] = {}
    tags: dict[tuple[str, str], int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in cells]
            if header is None:
                header, header_line = [c.lower() for c in cells], line
                missing = [c for c in _CSV_REQUIRED if c not in header]
                if missing:
                    raise _At(line, f"header lacks column {', '.join(missing)}")
                extra = [c for c in header if c not in _CSV_REQUIRED + _CSV_OPTIONAL]
                if extra:
                    raise _At(line, f"unknown column {', '.join(extra)}")
                continue
            if len(cells) != len(header):
                raise _At(line, f"{len(cells)} fields, the header has {len(header)}")
            row = dict(zip(header, cells, strict=True))
            for key in _CSV_REQUIRED:
                if not row[key]:
                    raise _At(line, f"{key} is empty")
            group = groups.get(row["topic"])
            level = {k: row.get(k, "") for k in _CSV_TOPIC_LEVEL}
            if group is None:
                try:
                    template = TopicTemplate.parse(row["topic"])
                except ValueError as exc:
                    raise _At(line, str(exc)) from None
                common = _topic_common(level, dict.fromkeys(_CSV_TOPIC_LEVEL, line))
                group = groups[row["topic"]] = {
                    "template": template, "common": common, "level": level, "line": line,
                    "values": [],
                }  # fmt: skip
            elif level != group["level"]:
                differs = next(k for k in _CSV_TOPIC_LEVEL if level[k] != group["level"][k])
                raise _At(
                    line,
                    f"{differs} differs from line {group['line']} for the same topic "
                    "(time, time_unit, timezone and quality belong to the topic)",
                )
            required_text = row.get("required", "").lower()
            if required_text not in ("", "true", "false", "yes", "no", "1", "0"):
                raise _At(line, f"required {row['required']!r} is not true or false")
            vm = _value_map(
                group["template"],
                path=row["path"],
                tag=row["tag"],
                eng_unit=row.get("eng_unit") or None,
                required=required_text not in ("false", "no", "0"),
                lines=dict.fromkeys(("path", "tag", "eng_unit"), line),
                line=line,
            )
            key = (row["topic"], vm.tag.text)
            if key in tags:
                raise _At(line, f"tag {vm.tag.text!r} already mapped on line {tags[key]}")
            tags[key] = line
            group["values"].append(vm)
    except _At as exc:
        raise MapError(f"{source}:{exc.line}: {exc.reason}") from None
    except csv.Error as exc:
        raise MapError(f"{source}:{reader.line_num}: {exc}") from None
    if header is None:
        raise MapError(f"{source}:1: empty map (expected the header topic,path,tag)")
    if not groups:
        raise MapError(f"{source}:{header_line}: no rows after the header")
    return MqttMap(
        tuple(
            TopicMap(g["template"], tuple(g["values"]), line=g["line"], **g["common"])
            for g in groups.values()
        ),
        source,
    )


def describe(mmap: MqttMap) -> Iterable[str]:
    """One line per entry, for the CLI's start message and logs.

    >>> list(describe(mmap))   # ['plant/+/+/lel: 1 value, health of sensor {detector}']
    """
    for t in mmap.topics:
        what = [f"{len(t.values)} value{'s' if len(t.values) != 1 else ''}"]
        if t.health:
            what.append(f"health of {t.health.device} {t.health.code.text}")
        yield f"{t.template.filter}: {', '.join(what)}"
