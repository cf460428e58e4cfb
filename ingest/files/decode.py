"""DCS alarm-log exports to alarm events, pure (no I/O, no database).

Each vendor format has one parser ``parse_<format>(lines, tz)``. It takes the lines of an
already decoded file and yields, line by line, what became of each line:

* ``ParsedEvent``: an alarm event with the tag *name* (``alarm_import`` resolves the id), the
  time in UTC and the line it came from. One line may give several events (Hollysys exports
  one line per alarm occurrence with its acknowledge and return times; a CENTUM ``NR`` line
  returns every condition of the tag that is active).
* ``Rejected`` (``ingest.types``): a line that could not be taken in, with the reason; it goes
  to ``ingest.quarantine``.
* ``Ignored``: a line that is not an alarm event and carries nothing to keep (the header, a title
  above it, a blank line, an operator's set-point change in the journal).

So every line of a file is accounted for exactly once: it is a row that gave events, rejected, or
ignored.

    >>> decoded = decode_bytes(Path("alarms.csv").read_bytes())   # GBK, UTF-8, BOM, UTF-16
    >>> decoded.encoding
    'gbk'
    >>> items = list(parse_supcon_ecs700(decoded.lines(), tz=ZoneInfo("Asia/Shanghai")))
    >>> items[3]          # lines 1-3: title, export time, header (Ignored)
    ParsedEvent(line=4, time=datetime(2024, 3, 15, 0, 0, 1, tzinfo=UTC), tag='TI-1101', ...)

Local times become UTC with ``tz`` (default Asia/Shanghai, which has had no daylight saving since
1991). In a zone with daylight saving a local time inside the spring-forward gap does not exist
and is rejected; one inside the autumn repeat is read as the first (summer time) occurrence.

The column layouts and vocabularies are documented in docs/alarm-log-formats.md.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ingest.types import EVENT_KINDS, Rejected

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: alarm.event.condition values besides '' (registry.alarm_point has the same list).
CONDITIONS: tuple[str, ...] = ("HH", "H", "L", "LL", "ROC", "DEV", "DISCRETE", "BAD", "TRIP")

#: How many lines may precede the header (titles, export time, filter settings).
HEADER_SCAN_LINES = 50

#: registry.tag.name is at most 200 characters.
MAX_TAG_LENGTH = 200


class FormatError(ValueError):
    """The file as a whole is not of the format asked for (no header found, not text)."""


@dataclass(frozen=True)
class ParsedEvent:
    """One alarm event as a vendor file states it; ``tag`` is a name, ``time`` is UTC.

    >>> ParsedEvent(line=7, time=datetime(2024, 3, 15, 0, 0, 1, tzinfo=UTC), tag="TI-1101",
    ...             kind="ALM", condition="H", priority="high", source="import:csv")
    """

    line: int
    time: datetime
    tag: str
    kind: str
    condition: str = ""
    priority: str | None = None
    category: str | None = None
    limit_value: float | None = None
    value: float | None = None
    message: str | None = None
    operator: str | None = None
    source: str = "import"
    source_event_id: str | None = None
    #: What the vendor says that alarm.event has no column for: process unit, station, tag
    #: description, engineering unit, the vendor's own condition code. Empty values left out.
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignored:
    """A line that is not an alarm event (header, title, blank, other journal entry)."""

    line: int
    reason: str


Item = ParsedEvent | Rejected | Ignored
Parser = Callable[..., Iterator[Item]]


# -- encoding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """A file's text and the encoding it was read with.

    ``encoding`` is one of ``utf-8``, ``utf-8-sig`` (UTF-8 with a byte-order mark), ``gbk``,
    ``gb18030``, ``utf-16``; ``replaced`` counts bytes that were not valid in it (each became
    U+FFFD, and the lines holding one are rejected by the parsers).
    """

    text: str
    encoding: str
    replaced: int = 0

    def lines(self) -> list[str]:
        """The lines without their ends; \\r\\n, \\r and \\n all end a line."""
        text = self.text.replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return []
        return text.removesuffix("\n").split("\n")


def decode_bytes(data: bytes) -> Decoded:
    """Detect the encoding of a DCS export and decode it.

    UTF-16 with a byte-order mark (Excel "Unicode text") first, then UTF-8 with or without a
    BOM, strictly; anything else is read as GBK or, where it uses characters beyond GBK, as
    GB18030 (the encodings of Chinese Windows, on which DCS operator stations run). Bytes
    invalid in every one of these become U+FFFD; data with NUL bytes is refused as binary.

    >>> decode_bytes("时间".encode("gbk")).encoding
    'gbk'
    >>> decode_bytes(codecs.BOM_UTF8 + "时间".encode()).encoding
    'utf-8-sig'
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"starts with a UTF-16 byte-order mark but is not UTF-16: {exc}"
            ) from None
    # Text exports never hold NUL bytes; a file that does is an .xls, a zip or a database file.
    nul = data.find(b"\x00", 0, 64 * 1024)
    if nul >= 0:
        raise FormatError(
            f"not a text file (NUL byte at offset {nul}); export the alarm log as CSV or text"
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            return Decoded(data.decode("utf-8-sig"), "utf-8-sig")
        except UnicodeDecodeError:
            pass  # a BOM and then something else: fall through to the lenient paths
    else:
        try:
            return Decoded(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            pass
    for encoding in ("gbk", "gb18030"):
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    # Neither: keep what can be read and let the lines with damage go to quarantine. Choose the
    # reading that damages fewer characters.
    best: Decoded | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        text = data.decode(encoding, errors="replace")
        candidate = Decoded(text, encoding, text.count("\ufffd"))
        if best is None or candidate.replaced < best.replaced:
            best = candidate
    assert best is not None
    return best


# -- time ------------------------------------------------------------------------------------

# Year first, in the spellings DCS exports use: 2024-03-15, 2024/3/15, 2024.03.15, 2024年3月15日,
# then the time with optional seconds and fraction, then an optional UTC offset.
_YMD = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*(?:日\s*|[ T]+)"
    r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,:](\d{1,6}))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def local_to_utc(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz`` as UTC; a time that does not exist there is a ValueError.

    >>> local_to_utc(datetime(2024, 3, 15, 8, 0, 1), ZoneInfo("Asia/Shanghai"))
    datetime.datetime(2024, 3, 15, 0, 0, 1, tzinfo=datetime.timezone.utc)
    """
    aware = naive.replace(tzinfo=tz)
    utc = aware.astimezone(UTC)
    # zoneinfo shifts a time in the spring-forward gap silently; the round trip shows it.
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M:%S} does not exist in {tz} (clock change)")
    return utc


def parse_time(text: str, tz: tzinfo, formats: Sequence[str] = ()) -> datetime:
    """A DCS timestamp as UTC: year-first forms (with an offset if it has one), else ``formats``.

    >>> parse_time("2024/3/15 8:00:01.250", ZoneInfo("Asia/Shanghai"))
    datetime.datetime(2024, 3, 15, 0, 0, 1, 250000, tzinfo=datetime.timezone.utc)
    >>> parse_time("15-Mar-24 08:00:01", SHANGHAI, ["%d-%b-%y %H:%M:%S"]).hour
    0
    """
    s = text.strip()
    m = _YMD.match(s)
    if m:
        year, month, day, hour, minute, second, frac, offset = m.groups()
        try:
            naive = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                int((frac or "0").ljust(6, "0")),
            )
        except ValueError as exc:
            raise ValueError(f"time {text!r}: {exc}") from None
        if offset:
            if offset == "Z":
                return naive.replace(tzinfo=UTC)
            return datetime.fromisoformat(f"{naive.isoformat()}{_iso_offset(offset)}").astimezone(
                UTC
            )
        return local_to_utc(naive, tz)
    for fmt in formats:
        try:
            naive = datetime.strptime(s, fmt)
        except ValueError:
            continue
        return local_to_utc(naive, tz)
    raise ValueError(f"time {text!r} is not in a known form")


def _iso_offset(offset: str) -> str:
    digits = offset[1:].replace(":", "")
    return f"{offset[0]}{digits[:2]}:{digits[2:4] or '00'}"


# -- vocabularies ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _key(text: str) -> str:
    """Compare words without case, blanks or the full-width/half-width difference."""
    return re.sub(r"[\s_\-]+", "", text.strip().upper().replace("（", "(").replace("）", ")"))


def _table(entries: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """{canonical: spellings} to {key(spelling): canonical}."""
    # Spellings after the canonical names, so that a vendor's word wins over our own name
    # (CENTUM's "High" is our emergency, its "Medium" our high).
    out = {_key(canonical): canonical for canonical in entries}
    for canonical, spellings in entries.items():
        out.update({_key(spelling): canonical for spelling in spellings})
    return out


_PRIORITY_WORDS = _table(
    {
        "emergency": ("urgent", "critical", "紧急", "1", "一级", "一"),
        "high": ("高", "2", "二级", "二"),
        "low": ("低", "3", "三级", "三"),
        "journal": ("log", "logging", "记录", "日志", "提示", "4", "四级", "四"),
    }
)
_CATEGORY_WORDS = _table(
    {
        "process": ("工艺", "工艺报警", "过程", "process alarm"),
        "equipment": ("设备", "设备报警"),
        "instrument": ("仪表", "仪表报警", "仪表故障"),
        "safety": ("安全", "安全报警", "sis", "联锁"),
    }
)
# Generic spellings of the conditions: English short forms and the Chinese words of Supcon,
# Hollysys and Chinese alarm ledgers (高高限 / 高高报警 / 高高报 all mean HH).
_CONDITION_WORDS = _table(
    {
        "HH": ("HIHI", "HI HI", "PVHH", "高高"),
        "H": ("HI", "HIGH", "PVHI", "高"),
        "L": ("LO", "LOW", "PVLO", "低"),
        "LL": ("LOLO", "LO LO", "PVLL", "低低"),
        "ROC": ("RATE", "变化率", "速率", "变化速率"),
        "DEV": ("DEVIATION", "偏差", "正偏差", "负偏差", "偏差高", "偏差低"),
        "DISCRETE": ("开关量", "状态", "数字量", "开关", "状态变化"),
        "BAD": (
            "FAULT",
            "坏值",
            "坏质量",
            "故障",
            "通讯故障",
            "通信故障",
            "断线",
            "超量程",
            "量程越限",
            "IO故障",
        ),
        "TRIP": ("INTERLOCK", "联锁", "跳车", "联锁动作", "停车"),
    }
)
_CN_SUFFIXES = ("报警", "告警", "限", "报")


class _Bad(Exception):
    """A line that cannot be taken in; the message is the quarantine reason."""


def _lookup(table: Mapping[str, str], text: str, what: str, known: str) -> str:
    found = table.get(_key(text))
    if found is None:
        raise _Bad(f"unknown {what} {text.strip()!r} (known: {known})")
    return found


@lru_cache(maxsize=4096)
def priority_of(text: str) -> str | None:
    """``emergency|high|low|journal`` from English, Chinese or 1-4; None when blank.

    >>> priority_of("紧急"), priority_of("High"), priority_of("")
    ('emergency', 'high', None)
    """
    if not text.strip():
        return None
    return _lookup(_PRIORITY_WORDS, text, "priority", "emergency/high/low/journal, 紧急/高/低/提示")


@lru_cache(maxsize=4096)
def category_of(text: str) -> str | None:
    """``process|equipment|instrument|safety`` from English or Chinese; None when blank."""
    if not text.strip():
        return None
    return _lookup(
        _CATEGORY_WORDS, text, "type", "process/equipment/instrument/safety, 工艺/设备/仪表/安全"
    )


@lru_cache(maxsize=4096)
def condition_of(text: str) -> str:
    """One of ``CONDITIONS`` from English or Chinese words; '' when blank.

    >>> condition_of("高高限"), condition_of("低报警"), condition_of("HI"), condition_of("")
    ('HH', 'L', 'H', '')
    """
    if not text.strip():
        return ""
    key = _key(text)
    if key in _CONDITION_WORDS:
        return _CONDITION_WORDS[key]
    stripped = key
    changed = True
    while changed:  # 高高限报警 -> 高高限 -> 高高
        changed = False
        for suffix in _CN_SUFFIXES:
            if stripped.endswith(suffix) and len(stripped) > len(suffix):
                stripped = stripped[: -len(suffix)]
                changed = True
    if stripped in _CONDITION_WORDS:
        return _CONDITION_WORDS[stripped]
    raise _Bad(
        f"unknown alarm condition {text.strip()!r} (known: {', '.join(CONDITIONS)}, "
        "高高/高/低/低低/变化率/偏差/开关量/故障/联锁)"
    )


def derived_category(condition: str) -> str | None:
    """The type a condition implies when the file names none: a bad or failed input is an
    instrument alarm, an interlock trip a safety alarm; other conditions imply nothing."""
    return {"BAD": "instrument", "TRIP": "safety"}.get(condition)


_EMPTY_NUMBERS = {"", "-", "--", "—", "N/A", "NA", "NAN", "NULL"}


def number_of(text: str, what: str) -> float | None:
    """A finite float, None for blanks and the placeholders DCSs print for no value.

    >>> number_of("1,250.5", "value"), number_of("****", "value")
    (1250.5, None)
    """
    s = text.strip()
    if s.upper() in _EMPTY_NUMBERS or (s and set(s) == {"*"}):
        return None
    # A comma is a thousands separator only in groups of three ("1,250.5"); "12,5" is a
    # decimal comma or two fields run together, and guessing would store a wrong value.
    if "," in s:
        if not _THOUSANDS.match(s):
            raise _Bad(f"{what} {s!r} is not a number")
        s = s.replace(",", "")
    try:
        value = float(s)
    except ValueError:
        raise _Bad(f"{what} {s!r} is not a number") from None
    if not math.isfinite(value):
        raise _Bad(f"{what} {s!r} is not a finite number")
    return value


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def tag_of(text: str) -> str:
    tag = text.strip()
    if not tag:
        raise _Bad("no tag name")
    if len(tag) > MAX_TAG_LENGTH:
        raise _Bad(f"tag name longer than {MAX_TAG_LENGTH} characters")
    if _CONTROL.search(tag):
        raise _Bad("tag name holds control characters")
    return tag


# -- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a format: canonical name, the header spellings accepted, required or not."""

    name: str
    spellings: tuple[str, ...]
    required: bool = False


def _header_key(text: str) -> str:
    return re.sub(r"[\s\u3000]+", "", text.strip().lstrip("\ufeff").lower())


class Row:
    """One data line of a table, its cells addressed by canonical column name."""

    __slots__ = ("_values", "line", "raw")

    def __init__(self, line: int, raw: str, cells: list[str], index: Mapping[str, int]) -> None:
        self.line = line
        self.raw = raw
        # Stripped once here: converters read most cells more than once.
        self._values = {name: cells[i].strip() for name, i in index.items() if i < len(cells)}

    def get(self, name: str) -> str:
        """The cell's text, stripped; '' when the format's file has no such column."""
        return self._values.get(name, "")


def _split(line: str, delimiter: str) -> list[str]:
    # One physical line is one record: a quote left open is an error of this line alone
    # instead of swallowing the rest of the file into one field.
    return next(csv.reader((line,), delimiter=delimiter, strict=True))


def _find_header(
    line: str, columns: Sequence[Column], delimiters: str
) -> tuple[str, dict[str, int]] | None:
    for delimiter in delimiters:
        if delimiter not in line and len(columns) > 1:
            continue
        try:
            cells = _split(line, delimiter)
        except csv.Error:
            continue
        keys = [_header_key(c) for c in cells]
        index: dict[str, int] = {}
        for col in columns:
            for spelling in (col.name, *col.spellings):
                k = _header_key(spelling)
                if k in keys:
                    index[col.name] = keys.index(k)
                    break
        if all(c.name in index for c in columns if c.required):
            return delimiter, index
    return None


Convert = Callable[[Row], "Iterable[ParsedEvent] | Ignored"]


def parse_table(
    lines: Iterable[str],
    fmt: str,
    columns: Sequence[Column],
    convert: Convert,
    delimiters: str = ",\t;",
) -> Iterator[Item]:
    """Find the header among the first lines, then convert every line after it.

    ``convert`` turns a ``Row`` into events (or an ``Ignored``) and raises ``_Bad`` with the
    reason for a line it cannot take; everything else about lines (blank, NUL, undecodable,
    malformed CSV, field counts, repeated headers) is handled here alike for all formats.
    """
    source = f"import:{fmt}"
    it = iter(lines)
    header: tuple[str, dict[str, int]] | None = None
    n_header_cells = 0
    header_line = ""
    line_no = 0
    for raw in it:
        line_no += 1
        raw = raw.rstrip("\r\n")
        header = _find_header(raw, columns, delimiters)
        if header is not None:
            header_line = raw
            n_header_cells = len(_split(raw, header[0]))
            yield Ignored(line_no, "header line")
            break
        if line_no >= HEADER_SCAN_LINES:
            break
        yield Ignored(line_no, "before the header line")
    if header is None:
        required = ", ".join(c.name for c in columns if c.required)
        raise FormatError(
            f"no {fmt} header line (columns {required}) in the first "
            f"{min(line_no, HEADER_SCAN_LINES)} lines; is this the right --format?"
        )
    delimiter, index = header
    for raw in it:
        line_no += 1
        raw = raw.rstrip("\r\n")
        if not raw.strip():
            yield Ignored(line_no, "blank line")
            continue
        if raw == header_line:
            yield Ignored(line_no, "repeated header line")
            continue
        try:
            if "\x00" in raw:
                raise _Bad("line holds NUL bytes")
            if "\ufffd" in raw:
                raise _Bad("line holds bytes that are not valid in the file's encoding")
            try:
                cells = _split(raw, delimiter)
            except csv.Error as exc:
                raise _Bad(f"malformed CSV: {exc}") from None
            if len(cells) < n_header_cells:
                raise _Bad(f"{len(cells)} fields where the header has {n_header_cells}")
            if any(c.strip() for c in cells[n_header_cells:]):
                raise _Bad(f"{len(cells)} fields where the header has {n_header_cells}")
            result = convert(Row(line_no, raw, cells, index))
            if isinstance(result, Ignored):
                yield result
            else:
                yield from result
        except _Bad as exc:
            yield Rejected(source=source, reason=str(exc), raw=raw, position=str(line_no))


def _time(row: Row, column: str, tz: tzinfo, formats: Sequence[str] = ()) -> datetime:
    text = row.get(column)
    if not text:
        raise _Bad(f"no {column}")
    try:
        return parse_time(text, tz, formats)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _attrs(**values: str) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


# -- csv: the generic layout -----------------------------------------------------------------

_CSV_COLUMNS = (
    Column("time", (), True),
    Column("tag", (), True),
    Column("event", (), True),
    Column("priority", (), True),
    Column("type", (), True),
    Column("unit", (), True),
    Column("message", (), True),
    Column("condition", ()),
    Column("limit", ()),
    Column("value", ()),
    Column("operator", ()),
    Column("id", ()),
)


def parse_csv(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """The generic layout: ``time,tag,event,priority,type,unit,message`` (+ optional columns).

    >>> list(parse_csv(["time,tag,event,priority,type,unit,message",
    ...                 "2024-03-15 08:00:01,TI-101,ALM,高,工艺,裂解,温度高"]))[1].kind
    'ALM'
    """

    def convert(row: Row) -> list[ParsedEvent]:
        kind = row.get("event").upper()
        if kind not in EVENT_KINDS:
            raise _Bad(f"unknown event {row.get('event')!r} (known: {', '.join(EVENT_KINDS)})")
        condition = condition_of(row.get("condition"))
        return [
            ParsedEvent(
                line=row.line,
                time=_time(row, "time", tz),
                tag=tag_of(row.get("tag")),
                kind=kind,
                condition=condition,
                priority=priority_of(row.get("priority")),
                category=category_of(row.get("type")) or derived_category(condition),
                limit_value=number_of(row.get("limit"), "limit"),
                value=number_of(row.get("value"), "value"),
                message=row.get("message") or None,
                operator=row.get("operator") or None,
                source="import:csv",
                source_event_id=row.get("id") or None,
                attributes=_attrs(unit=row.get("unit")),
            )
        ]

    return parse_table(lines, "csv", _CSV_COLUMNS, convert)


# -- Supcon (中控) ECS-700 / JX-300XP ----------------------------------------------------------

_SUPCON_COLUMNS = (
    Column("报警时间", ("时间", "发生时间", "日期时间"), True),
    Column("位号", ("位号名", "位号名称"), True),
    Column("报警类型", ("类型", "报警描述"), True),
    Column("报警状态", ("状态", "事件", "事件类型"), True),
    Column("序号", ()),
    Column("位号描述", ("描述", "注释")),
    Column("优先级", ("报警级别", "级别", "报警优先级")),
    Column("当前值", ("报警值", "实时值", "数值")),
    Column("限值", ("报警限值", "报警限", "设定值")),
    Column("单位", ("工程单位",)),
    Column("操作小组", ("操作组",)),
    Column("区域", ("装置", "操作域", "工段")),
    Column("操作员", ("确认人", "用户", "操作人")),
)
_SUPCON_EVENTS = _table(
    {
        "ALM": ("报警", "产生", "发生", "报警产生"),
        "ACK": ("确认", "已确认", "报警确认"),
        "RTN": ("恢复", "消除", "消失", "报警恢复", "报警消除", "恢复正常"),
        "SUPPRESS": ("屏蔽", "报警屏蔽", "禁止"),
        "UNSUPPRESS": ("解除屏蔽", "取消屏蔽", "屏蔽解除", "允许"),
        "SHELVE": ("搁置",),
        "UNSHELVE": ("解除搁置", "取消搁置"),
        "OOS": ("停用", "退出"),
        "INS": ("投用", "启用", "投入"),
    }
)


def parse_supcon_ecs700(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """Supcon ECS-700 (VisualField) / JX-300XP (AdvanTrol) history alarm export: one line per
    event, Chinese headers, 报警状态 报警/确认/恢复, 报警类型 高高限/高限/低限/低低限/…, GBK."""

    def convert(row: Row) -> list[ParsedEvent]:
        kind = _lookup(
            _SUPCON_EVENTS,
            row.get("报警状态"),
            "报警状态",
            "报警/确认/恢复/屏蔽/解除屏蔽/搁置/解除搁置",
        )
        condition = condition_of(row.get("报警类型"))
        return [
            ParsedEvent(
                line=row.line,
                time=_time(row, "报警时间", tz),
                tag=tag_of(row.get("位号")),
                kind=kind,
                condition=condition,
                priority=priority_of(row.get("优先级")),
                category=derived_category(condition),
                limit_value=number_of(row.get("限值"), "限值"),
                value=number_of(row.get("当前值"), "当前值"),
                message=_join(row.get("位号描述"), row.get("报警类型")),
                operator=row.get("操作员") or None,
                source="import:supcon-ecs700",
                source_event_id=row.get("序号") or None,
                attributes=_attrs(
                    unit=row.get("区域"),
                    operator_team=row.get("操作小组"),
                    description=row.get("位号描述"),
                    eng_unit=row.get("单位"),
                    vendor_condition=row.get("报警类型"),
                ),
            )
        ]

    return parse_table(lines, "supcon-ecs700", _SUPCON_COLUMNS, convert)


def _join(*parts: str) -> str | None:
    text = " ".join(p for p in parts if p)
    return text or None


# -- Hollysys (和利时) MACS --------------------------------------------------------------------

_HOLLYSYS_COLUMNS = (
    Column("点名", ("位号", "点名称", "测点名"), True),
    Column("报警类型", ("报警种类",), True),
    Column("产生时间", ("报警时间", "发生时间", "开始时间"), True),
    Column("确认时间", ()),
    Column("消失时间", ("恢复时间", "消除时间", "结束时间")),
    Column("序号", ()),
    Column("点描述", ("描述", "点说明")),
    Column("报警级别", ("级别", "优先级")),
    Column("报警值", ("实时值", "当前值")),
    Column("报警限值", ("限值", "报警限")),
    Column("单位", ("工程单位", "量纲")),
    Column("确认人", ("操作员", "用户")),
    Column("站号", ("站", "控制站")),
    Column("区域", ("域", "装置", "工段")),
)


def parse_hollysys_macs(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """Hollysys MACS V6 history alarm export: one line per alarm *occurrence* with its
    产生时间 (ALM), 确认时间 (ACK) and 消失时间 (RTN); Chinese headers, UTF-8 with BOM."""

    def convert(row: Row) -> list[ParsedEvent]:
        condition = condition_of(row.get("报警类型"))
        if not condition:
            raise _Bad("no 报警类型")
        start = _time(row, "产生时间", tz)
        common: dict[str, Any] = {
            "tag": tag_of(row.get("点名")),
            "condition": condition,
            "priority": priority_of(row.get("报警级别")),
            "category": derived_category(condition),
            "limit_value": number_of(row.get("报警限值"), "报警限值"),
            "source": "import:hollysys-macs",
            "source_event_id": row.get("序号") or None,
            "attributes": _attrs(
                unit=row.get("区域"),
                station=row.get("站号"),
                description=row.get("点描述"),
                eng_unit=row.get("单位"),
                vendor_condition=row.get("报警类型"),
            ),
        }
        message = _join(row.get("点描述"), row.get("报警类型"))
        events = [
            ParsedEvent(
                line=row.line,
                time=start,
                kind="ALM",
                message=message,
                value=number_of(row.get("报警值"), "报警值"),
                **common,
            )
        ]
        if row.get("确认时间"):
            ack = _time(row, "确认时间", tz)
            if ack < start:
                raise _Bad("确认时间 before 产生时间")
            events.append(
                ParsedEvent(
                    line=row.line,
                    time=ack,
                    kind="ACK",
                    message=message,
                    operator=row.get("确认人") or None,
                    **common,
                )
            )
        if row.get("消失时间"):
            end = _time(row, "消失时间", tz)
            if end < start:
                raise _Bad("消失时间 before 产生时间")
            events.append(
                ParsedEvent(line=row.line, time=end, kind="RTN", message=message, **common)
            )
        return events

    return parse_table(lines, "hollysys-macs", _HOLLYSYS_COLUMNS, convert)


# -- Yokogawa CENTUM VP ----------------------------------------------------------------------

_CENTUM_COLUMNS = (
    Column("Date/Time", ("Date Time", "DateTime", "Time Stamp", "Timestamp"), True),
    Column("Tag Name", ("Tag", "TagName"), True),
    Column("Status", ("Alarm Status", "Alarm"), True),
    Column("Type", ("Msg Type", "Message Type")),
    Column("Station", ("Station Name",)),
    Column("Comment", ("Tag Comment",)),
    Column("Priority", ("Alarm Priority",)),
    Column("Value", ("Data", "PV")),
    Column("Unit", ("Eng Unit", "Engineering Unit")),
    Column("User", ("User Name", "Operator")),
)
# Process-alarm status codes of CENTUM function blocks. MHI/MLO (output limits) keep the
# vendor code in attributes; the condition says only "a high/low limit".
_CENTUM_ALARMS = {
    "HH": "HH",
    "HI": "H",
    "LO": "L",
    "LL": "LL",
    "DV+": "DEV",
    "DV-": "DEV",
    "VEL+": "ROC",
    "VEL-": "ROC",
    "IOP": "BAD",
    "IOP-": "BAD",
    "OOP": "BAD",
    "CNF": "BAD",
    "MHI": "H",
    "MLO": "L",
    "ANS+": "DISCRETE",
    "ANS-": "DISCRETE",
    "PERR": "DISCRETE",
    "ALM": "DISCRETE",  # annunciator (%AN) messages
}
_CENTUM_OPERATIONS = {
    "ACK": "ACK",
    "SHELVE": "SHELVE",
    "UNSHELVE": "UNSHELVE",
    "AOF": "SUPPRESS",
    "AON": "UNSUPPRESS",
}
_CENTUM_PRIORITIES = _table(
    {
        "emergency": ("HIGH",),
        "high": ("MEDIUM", "MED"),
        "low": ("LOW",),
        "journal": ("LOGGING", "REFERENCE"),
    }
)


def parse_centum_vp(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """Yokogawa CENTUM VP historical message report saved as CSV: one line per message, Status
    HH/HI/LO/LL/IOP/… for alarms, NR for back to normal, ACK/SHELVE/AOF for operations."""
    # NR means "every alarm of the block is normal" and an acknowledgement names no condition:
    # both refer to the conditions seen active earlier in the same file.
    active: dict[str, list[str]] = {}

    def convert(row: Row) -> list[ParsedEvent] | Ignored:
        status = row.get("Status").upper().replace(" ", "")
        mtype = row.get("Type").upper()
        if status not in _CENTUM_ALARMS and status != "NR" and status not in _CENTUM_OPERATIONS:
            if mtype.startswith("SYSTEM"):
                return Ignored(row.line, "system alarm message (not of a tag)")
            if mtype and "ALARM" not in mtype and "ANNUNC" not in mtype:
                return Ignored(row.line, f"{row.get('Type')} message (not an alarm event)")
            raise _Bad(
                f"unknown CENTUM alarm status {row.get('Status')!r} (known: "
                f"{', '.join(_CENTUM_ALARMS)}, NR, {', '.join(_CENTUM_OPERATIONS)})"
            )
        tag = tag_of(row.get("Tag Name"))
        priority_text = row.get("Priority")
        priority = (
            _lookup(_CENTUM_PRIORITIES, priority_text, "priority", "High/Medium/Low/Logging")
            if priority_text
            else None
        )
        base: dict[str, Any] = {
            "line": row.line,
            "time": _time(row, "Date/Time", tz),
            "tag": tag,
            "priority": priority,
            "source": "import:centum-vp",
            "attributes": _attrs(
                station=row.get("Station"),
                description=row.get("Comment"),
                eng_unit=row.get("Unit"),
                vendor_condition=status,
            ),
        }
        if status == "NR":
            conditions = active.pop(tag, []) or [""]
            return [
                ParsedEvent(
                    kind="RTN",
                    condition=c,
                    category=derived_category(c),
                    value=number_of(row.get("Value"), "Value"),
                    message=_join(row.get("Comment"), "NR"),
                    **base,
                )
                for c in conditions
            ]
        if status in _CENTUM_ALARMS:
            condition = _CENTUM_ALARMS[status]
            seen = active.setdefault(tag, [])
            if condition not in seen:
                seen.append(condition)
            return [
                ParsedEvent(
                    kind="ALM",
                    condition=condition,
                    category=derived_category(condition),
                    value=number_of(row.get("Value"), "Value"),
                    message=_join(row.get("Comment"), status),
                    **base,
                )
            ]
        kind = _CENTUM_OPERATIONS[status]
        # An acknowledgement belongs to the latest condition of the tag; shelving and alarm
        # inhibition act on the whole tag.
        condition = (active.get(tag) or [""])[-1] if kind == "ACK" else ""
        return [
            ParsedEvent(
                kind=kind,
                condition=condition,
                category=derived_category(condition),
                operator=row.get("User") or None,
                message=_join(row.get("Comment"), status),
                **base,
            )
        ]

    return parse_table(lines, "centum-vp", _CENTUM_COLUMNS, convert)


# -- Honeywell Experion PKS ------------------------------------------------------------------

_EXPERION_COLUMNS = (
    Column("Date & Time", ("Date/Time", "Date and Time", "Time", "Timestamp"), True),
    Column("Source", ("Point", "Tag", "Tag Name"), True),
    Column("Condition", (), True),
    Column("Action", (), True),
    Column("Location", ("Asset",)),
    Column("Priority", ()),
    Column("Description", ()),
    Column("Value", ()),
    Column("Units", ("Unit", "Eng Units")),
    Column("Actor ID", ("Actor", "Operator", "User")),
    Column("Console Station", ("Station", "Console")),
    Column("Sequence", ("Event ID", "Seq")),
)
_EXPERION_CONDITIONS = _table(
    {
        "HH": ("PVHIHI", "PVHH"),
        "H": ("PVHI",),
        "L": ("PVLO",),
        "LL": ("PVLOLO", "PVLL"),
        "ROC": ("PVROCP", "PVROCN", "PVROCPOS", "PVROCNEG", "ROCPOS", "ROCNEG"),
        "DEV": ("DEVHI", "DEVLO"),
        "BAD": ("BADPV", "BADCTL", "BADOC", "BADSTATE"),
        "DISCRETE": ("OFFNORM", "UNCMD", "UNCMDCHG", "CMDDIS", "CMDFAIL", "ALARM", "STATE"),
        "TRIP": ("TRIP",),
    }
)
_EXPERION_ACTIONS = _table(
    {
        "ALM": ("ALARM", "ACTIVE", "INALM", "IN ALARM"),
        "ACK": ("ACKNOWLEDGED", "ACKED"),
        "RTN": ("OK", "NORMAL", "RETURN", "CLEARED"),
        "SHELVE": ("SHELVED",),
        "UNSHELVE": ("UNSHELVED",),
        "SUPPRESS": ("SUPPRESSED",),
        "UNSUPPRESS": ("UNSUPPRESSED",),
        "OOS": ("DISABLE", "DISABLED", "INHIBIT"),
        "INS": ("ENABLE", "ENABLED", "UNINHIBIT"),
    }
)
_EXPERION_PRIORITIES = _table(
    {
        "emergency": ("URGENT", "U"),
        "high": ("HIGH", "H"),
        "low": ("LOW", "L"),
        "journal": ("JOURNAL", "J"),
    }
)
_EXPERION_FORMATS = (
    "%d-%b-%y %H:%M:%S",
    "%d-%b-%y %H:%M:%S.%f",
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M:%S.%f",
)


def parse_experion_pks(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """Honeywell Experion PKS event summary export: Date & Time, Location, Source, Condition
    (PVHI, PVLOLO, BADPV, …), Action (ALARM/ACK/RTN/SHELVE/…), Priority Urgent/High/Low/Journal."""

    def convert(row: Row) -> list[ParsedEvent] | Ignored:
        action_text = row.get("Action")
        cond_text = row.get("Condition")
        if _key(action_text) in {"CHANGE", "CHG", "OPERATOR", "MESSAGE", "LOGIN", "LOGOFF"}:
            return Ignored(row.line, f"{action_text} event (not an alarm event)")
        kind = _lookup(
            _EXPERION_ACTIONS,
            action_text or "ALARM",
            "Action",
            "ALARM/ACK/RTN/SHELVE/UNSHELVE/SUPPRESS/UNSUPPRESS/DISABLE/ENABLE",
        )
        if cond_text:
            condition = _EXPERION_CONDITIONS.get(_key(cond_text))
            if condition is None:
                raise _Bad(
                    f"unknown Experion condition {cond_text!r} (known: PVHIHI, PVHI, "
                    "PVLO, PVLOLO, PVROCP/N, DEVHI/LO, BADPV, OFFNORM, CMDDIS, …)"
                )
        elif kind in ("ALM", "ACK", "RTN"):
            raise _Bad("no Condition for an alarm, acknowledge or return")
        else:
            condition = ""
        priority_text = row.get("Priority")
        priority = (
            _lookup(
                _EXPERION_PRIORITIES,
                re.sub(r"[\s(\-:]*\d+\)?$", "", priority_text),
                "Priority",
                "Urgent/High/Low/Journal",
            )
            if priority_text
            else None
        )
        return [
            ParsedEvent(
                line=row.line,
                time=_time(row, "Date & Time", tz, _EXPERION_FORMATS),
                tag=tag_of(row.get("Source")),
                kind=kind,
                condition=condition,
                priority=priority,
                category=derived_category(condition),
                value=number_of(row.get("Value"), "Value"),
                message=row.get("Description") or None,
                operator=row.get("Actor ID") or None,
                source="import:experion-pks",
                source_event_id=row.get("Sequence") or None,
                attributes=_attrs(
                    unit=row.get("Location"),
                    station=row.get("Console Station"),
                    eng_unit=row.get("Units"),
                    vendor_condition=cond_text,
                ),
            )
        ]

    return parse_table(lines, "experion-pks", _EXPERION_COLUMNS, convert)


# -- Emerson DeltaV --------------------------------------------------------------------------

_DELTAV_COLUMNS = (
    Column("Date/Time", ("Date Time", "Time"), True),
    Column("Event Type", ("EventType", "Type"), True),
    Column("Module", ("Tag",), True),
    Column("State", (), True),
    Column("Category", ()),
    Column("Area", ()),
    Column("Node", ()),
    Column("Unit", ()),
    Column("Module Description", ("Description",)),
    Column("Parameter", ("Attribute", "Alarm")),
    Column("Level", ("Priority",)),
    Column("Desc1", ("Desc 1",)),
    Column("Desc2", ("Desc 2",)),
    Column("User", ()),
)
_DELTAV_PARAMETERS = {
    "HI_HI_ALM": "HH",
    "HI_ALM": "H",
    "LO_ALM": "L",
    "LO_LO_ALM": "LL",
    "DV_HI_ALM": "DEV",
    "DV_LO_ALM": "DEV",
    "PVBAD_ALM": "BAD",
    "BAD_PV_ALM": "BAD",
    "FAILED_ALM": "BAD",
    "IO_FAIL_ALM": "BAD",
    "DISC_ALM": "DISCRETE",
    "TRIP_ALM": "TRIP",
    "INTERLOCK_ALM": "TRIP",
    "ILK_ALM": "TRIP",
    "ROC_ALM": "ROC",
    "ROC_HI_ALM": "ROC",
    "ROC_LO_ALM": "ROC",
}
_DELTAV_LEVELS = _table(
    {
        "emergency": ("CRITICAL",),
        "high": ("WARNING",),
        "low": ("ADVISORY",),
        "journal": ("LOG",),
    }
)
_DELTAV_MODES = {
    "SUPPRESSED": "SUPPRESS",
    "UNSUPPRESSED": "UNSUPPRESS",
    "SHELVED": "SHELVE",
    "UNSHELVED": "UNSHELVE",
    "DISABLED": "OOS",
    "ENABLED": "INS",
}
_DELTAV_STATES = ("ACT/UNACK", "ACT/ACK", "INACT/UNACK", "INACT/ACK")
_DELTAV_FORMATS = (
    "%m/%d/%Y %I:%M:%S.%f %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m/%d/%Y %H:%M:%S",
    "%d-%b-%Y %H:%M:%S.%f",
    "%d-%b-%Y %H:%M:%S",
)
_NUMBER_AFTER = r"\s*[:=]?\s*(-?\d+(?:\.\d+)?)"


def parse_deltav(lines: Iterable[str], tz: tzinfo = SHANGHAI) -> Iterator[Item]:
    """Emerson DeltaV Event Chronicle export (Process History View, tab or comma separated):
    Event Type ALARM with State ACT/UNACK, ACT/ACK, INACT/UNACK, INACT/ACK; Level
    CRITICAL/WARNING/ADVISORY/LOG; Category PROCESS/DEVICE/HARDWARE; Parameter HI_ALM, …"""
    # The chronicle logs the alarm's new state, not the transition. INACT/ACK is an
    # acknowledgement after the alarm cleared (from INACT/UNACK) or a return to normal after it
    # was acknowledged (from ACT/ACK); the previous state in the file tells which.
    last_state: dict[tuple[str, str], str] = {}

    def convert(row: Row) -> list[ParsedEvent] | Ignored:
        etype = row.get("Event Type").upper()
        if etype != "ALARM":
            return Ignored(row.line, f"{row.get('Event Type') or 'untyped'} record (not an alarm)")
        tag = tag_of(row.get("Module"))
        state = row.get("State").upper().replace(" ", "")
        parameter = row.get("Parameter").upper()
        key = (tag, parameter)
        if state in _DELTAV_STATES:
            previous = last_state.get(key)
            last_state[key] = state
            if state == "ACT/UNACK":
                kind = "ALM"
            elif state == "ACT/ACK":
                kind = "ACK"
            elif state == "INACT/UNACK":
                kind = "RTN"
            else:
                kind = "ACK" if previous == "INACT/UNACK" else "RTN"
        elif state in _DELTAV_MODES:
            kind = _DELTAV_MODES[state]
        else:
            raise _Bad(
                f"unknown DeltaV alarm state {row.get('State')!r} (known: "
                f"{', '.join(_DELTAV_STATES)}, {', '.join(_DELTAV_MODES)})"
            )
        # Alarm parameters are named by the configuration engineer; unknown names keep the
        # condition blank (the name stays in attributes) rather than losing the event.
        condition = _DELTAV_PARAMETERS.get(parameter, "")
        if not condition and "ROC" in parameter:
            condition = "ROC"
        category_text = row.get("Category").upper()
        if category_text.startswith("SIS"):
            category: str | None = "safety"
        elif category_text == "PROCESS":
            category = "process"
        elif category_text in ("DEVICE", "HARDWARE", "INSTRUMENT"):
            category = "instrument"
        else:
            category = derived_category(condition)
        level = row.get("Level")
        priority = (
            _lookup(
                _DELTAV_LEVELS,
                re.sub(r"\(?\d+\)?$", "", level),
                "Level",
                "CRITICAL/WARNING/ADVISORY/LOG",
            )
            if level
            else None
        )
        desc2 = row.get("Desc2")
        value = re.search(r"(?i)(?:value|pv)" + _NUMBER_AFTER, desc2)
        limit = re.search(r"(?i)(?:limit|lim)" + _NUMBER_AFTER, desc2)
        return [
            ParsedEvent(
                line=row.line,
                time=_time(row, "Date/Time", tz, _DELTAV_FORMATS),
                tag=tag,
                kind=kind,
                condition=condition,
                priority=priority,
                category=category,
                limit_value=float(limit.group(1)) if limit else None,
                value=float(value.group(1)) if value else None,
                message=_join(row.get("Desc1"), desc2),
                operator=row.get("User") or None,
                source="import:deltav",
                attributes=_attrs(
                    unit=row.get("Unit"),
                    area=row.get("Area"),
                    node=row.get("Node"),
                    description=row.get("Module Description"),
                    vendor_condition=parameter,
                ),
            )
        ]

    return parse_table(lines, "deltav", _DELTAV_COLUMNS, convert)


# -- registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    parse: Parser


#: ``--format`` names; the quarantine and alarm.event source is ``import:<name>``.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", "generic CSV (time,tag,event,priority,type,unit,message)", parse_csv),
        Format(
            "supcon-ecs700", "Supcon 中控 ECS-700 / JX-300XP history alarms", parse_supcon_ecs700
        ),
        Format("hollysys-macs", "Hollysys 和利时 MACS history alarms", parse_hollysys_macs),
        Format("centum-vp", "Yokogawa CENTUM VP historical messages", parse_centum_vp),
        Format("experion-pks", "Honeywell Experion PKS event summary", parse_experion_pks),
        Format("deltav", "Emerson DeltaV Event Chronicle", parse_deltav),
    )
}
