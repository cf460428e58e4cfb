"""Modbus register decoding and the register map, pure (no I/O, no pymodbus).

A Modbus register is 16 bits. Wider values span several registers, and devices disagree on
the order: the *byte order* inside each register and the *word order* of the registers. The
four common layouts of a 32-bit value with bytes A (most significant) .. D are:

    ABCD  byte big,    word big      (Modbus standard, "big endian")
    CDAB  byte big,    word little   ("word swapped", common on gateways and PLCs)
    BADC  byte little, word big      ("byte swapped")
    DCBA  byte little, word little   ("little endian")

    >>> decode_value([0x4120, 0x0000], "float32")
    10.0
    >>> decode_value([0x0000, 0x4120], "float32", word_order="little")   # CDAB
    10.0
    >>> decode_value([0xFFFF], "int16")
    -1.0
    >>> decode_value([0x01F4], "uint16", scale=0.1, offset=-10)         # 500 * 0.1 - 10
    40.0

A register map (``RegisterMap.from_csv``) says which registers hold which tag; it is what
``hazwatch collect modbus --map FILE.csv`` reads. See docs/modbus-register-map.md.
"""

from __future__ import annotations

import csv
import io
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, cast

import numpy as np

from hazwatch.errors import HazwatchError

ByteOrder = Literal["big", "little"]
WordOrder = Literal["big", "little"]
Table = Literal["holding", "input"]

#: Scalar types: struct format (big-endian after reordering) and width in registers.
SCALAR_TYPES: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "float64": ("d", 4),
}
#: Waveform capture areas (header + samples, see ``CaptureHeader``): sample element type.
WAVEFORM_TYPES: dict[str, str] = {"wave_int16": "int16", "wave_float32": "float32"}
#: The four spellings gateway manuals use for 32-bit layouts -> (byte order, word order).
ORDERS: dict[str, tuple[ByteOrder, WordOrder]] = {
    "ABCD": ("big", "big"),
    "CDAB": ("big", "little"),
    "BADC": ("little", "big"),
    "DCBA": ("little", "little"),
}

MAX_READ = 125  # registers per Read Holding/Input Registers request (Modbus spec, 0x7D)
ADDRESS_SPACE = 65536

#: Fields of a register map row that feed device tables instead of (or besides) ts.sample.
HEALTH_FIELDS = ("online", "battery_pct", "signal_dbm")
OVERALL_FIELDS = (
    "velocity_rms_mm_s",
    "accel_rms_m_s2",
    "accel_peak_m_s2",
    "displacement_pp_um",
    "kurtosis",
    "crest_factor",
)
WAVEFORM_FIELD = "waveform"
DEVICE_KINDS = ("sensor", "gateway")
AXES = ("X", "Y", "Z")
#: Unit codes of a capture header, in the vocabulary of vib.waveform.unit.
WAVEFORM_UNITS = {0: "m/s2", 1: "g", 2: "mm/s", 3: "um"}


class DecodeError(ValueError):
    """Registers that cannot be decoded as asked (wrong count, out-of-range word, bad header)."""


# -- values ------------------------------------------------------------------------------------


def order_of(name: str) -> tuple[ByteOrder, WordOrder]:
    """Byte and word order from an ABCD-style name. ``order_of("CDAB") == ("big", "little")``."""
    try:
        return ORDERS[name.upper()]
    except KeyError:
        raise DecodeError(f"unknown order {name!r} (ABCD, CDAB, BADC or DCBA)") from None


def registers_to_bytes(
    registers: Sequence[int], byte_order: ByteOrder = "big", word_order: WordOrder = "big"
) -> bytes:
    """The value's bytes most significant first, e.g. ``[0x0000, 0x4120]`` CDAB -> 41 20 00 00."""
    for r in registers:
        if not 0 <= r <= 0xFFFF:
            raise DecodeError(f"register value {r} is not a 16-bit word")
    words = registers if word_order == "big" else list(reversed(registers))
    return b"".join(int(w).to_bytes(2, byte_order) for w in words)


def decode_raw(
    registers: Sequence[int],
    type_: str,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> int | float:
    """The value as the device stored it, before scale and offset.

    >>> decode_raw([0x0001, 0x0000], "uint32")
    65536
    """
    try:
        fmt, width = SCALAR_TYPES[type_]
    except KeyError:
        raise DecodeError(f"unknown type {type_!r}") from None
    if len(registers) != width:
        raise DecodeError(f"{type_} needs {width} registers, got {len(registers)}")
    value: int | float = struct.unpack(
        ">" + fmt, registers_to_bytes(registers, byte_order, word_order)
    )[0]
    return value


def decode_value(
    registers: Sequence[int],
    type_: str,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> float:
    """Engineering value ``raw * scale + offset`` (NaN and infinities pass through)."""
    return float(decode_raw(registers, type_, byte_order, word_order)) * scale + offset


def encode_value(
    value: float,
    type_: str,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> list[int]:
    """The registers a device would hold for ``value`` (the simulator uses this).

    >>> encode_value(10.0, "float32", word_order="little")
    [0, 16672]
    """
    fmt, width = SCALAR_TYPES[type_]
    if fmt in "hHiIqQ":
        value = round(value)
    raw = struct.pack(">" + fmt, value)
    words = [int.from_bytes(raw[i : i + 2], byte_order) for i in range(0, 2 * width, 2)]
    return words if word_order == "big" else list(reversed(words))


# -- arrays (waveforms) ------------------------------------------------------------------------


def decode_array(
    registers: Sequence[int] | np.ndarray,
    element: Literal["int16", "float32"],
    *,
    scale: float = 1.0,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> np.ndarray:
    """A block of registers as a float64 array of ``element`` values times ``scale``.

    Word order applies within each element (a float32 sample's two registers), as devices do.

    >>> decode_array([0x0001, 0xFFFF], "int16", scale=0.5).tolist()
    [0.5, -0.5]
    """
    regs = np.asarray(registers, dtype=np.int64)
    if regs.size and (regs.min() < 0 or regs.max() > 0xFFFF):
        raise DecodeError("register values must be 16-bit words")
    words = regs.astype(np.uint16)
    if byte_order == "little":
        words = words.byteswap()
    if element == "int16":
        values = words.astype(">u2").view(">i2")
    elif element == "float32":
        if words.size % 2:
            raise DecodeError(f"float32 samples need an even register count, got {words.size}")
        pairs = words.reshape(-1, 2)
        if word_order == "little":
            pairs = pairs[:, ::-1]
        values = np.ascontiguousarray(pairs).astype(">u2").view(">f4").reshape(-1)
    else:
        raise DecodeError(f"unknown waveform element type {element!r}")
    return values.astype(np.float64) * scale


def encode_array(
    values: np.ndarray,
    element: Literal["int16", "float32"],
    *,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> list[int]:
    """Registers for raw element values (int16 counts or float32), the inverse of decode_array."""
    if element == "int16":
        words = np.asarray(values).astype(">i2").view(">u2").astype(np.uint16)
    else:
        pairs = np.asarray(values).astype(">f4").view(">u2").reshape(-1, 2)
        if word_order == "little":
            pairs = pairs[:, ::-1]
        words = pairs.reshape(-1).astype(np.uint16)
    if byte_order == "little":
        words = words.byteswap()
    return [int(w) for w in words]


@dataclass(frozen=True)
class CaptureHeader:
    """The 16-register header in front of a waveform capture (docs/modbus-register-map.md).

    offset  type     meaning
    0       uint32   sequence number, +1 for every new capture (0: no capture yet)
    2       float32  sample rate, Hz
    4       float32  scale: engineering units per count (int16 samples) or multiplier
    6       uint32   number of samples that follow the header
    8       float32  running speed during the capture, rpm (0: unknown)
    10      uint16   axis: 1 X, 2 Y, 3 Z
    11      uint16   unit of the scaled samples: 0 m/s², 1 g, 2 mm/s, 3 µm
    12      uint32   capture time, seconds since 1970-01-01 UTC (0: unknown)
    14      uint32   reserved
    """

    seq: int
    sample_rate_hz: float
    scale: float
    n_samples: int
    speed_rpm: float
    axis: str | None
    unit: str
    epoch_s: int

    LENGTH: ClassVar[int] = 16

    @classmethod
    def decode(
        cls, registers: Sequence[int], byte_order: ByteOrder = "big", word_order: WordOrder = "big"
    ) -> CaptureHeader:
        """Parse and sanity-check a header; a malformed one raises DecodeError with the reason."""
        if len(registers) != cls.LENGTH:
            raise DecodeError(f"capture header needs {cls.LENGTH} registers, got {len(registers)}")

        def val(off: int, t: str) -> int | float:
            width = SCALAR_TYPES[t][1]
            return decode_raw(registers[off : off + width], t, byte_order, word_order)

        seq, n, epoch = int(val(0, "uint32")), int(val(6, "uint32")), int(val(12, "uint32"))
        rate, scale, speed = val(2, "float32"), val(4, "float32"), val(8, "float32")
        axis_code, unit_code = int(val(10, "uint16")), int(val(11, "uint16"))
        if seq == 0:
            return cls(0, 0.0, 0.0, 0, 0.0, None, "m/s2", 0)  # nothing captured yet
        if not (math.isfinite(rate) and rate > 0):
            raise DecodeError(f"capture {seq}: sample rate {rate} is not a positive number")
        if not (math.isfinite(scale) and scale != 0):
            raise DecodeError(f"capture {seq}: scale {scale} is not a finite non-zero number")
        if n <= 0:
            raise DecodeError(f"capture {seq}: {n} samples")
        if not (math.isfinite(speed) and speed >= 0):
            raise DecodeError(f"capture {seq}: speed {speed} rpm is not valid")
        if axis_code not in (1, 2, 3):
            raise DecodeError(f"capture {seq}: axis code {axis_code} (1 X, 2 Y, 3 Z)")
        if unit_code not in WAVEFORM_UNITS:
            raise DecodeError(f"capture {seq}: unit code {unit_code} (0..3)")
        return cls(
            seq,
            float(rate),
            float(scale),
            n,
            float(speed),
            AXES[int(axis_code) - 1],
            WAVEFORM_UNITS[unit_code],
            epoch,
        )


def encode_capture_header(
    *,
    seq: int,
    sample_rate_hz: float,
    scale: float,
    n_samples: int,
    speed_rpm: float,
    axis: str,
    unit: str = "m/s2",
    epoch_s: int = 0,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
) -> list[int]:
    """The 16 header registers (see CaptureHeader), as the simulated gateway writes them."""
    unit_code = {u: c for c, u in WAVEFORM_UNITS.items()}[unit]
    regs: list[int] = []
    for value, t in (
        (seq, "uint32"),
        (sample_rate_hz, "float32"),
        (scale, "float32"),
        (n_samples, "uint32"),
        (speed_rpm, "float32"),
        (AXES.index(axis) + 1, "uint16"),
        (unit_code, "uint16"),
        (epoch_s, "uint32"),
        (0, "uint32"),
    ):
        regs += encode_value(value, t, byte_order, word_order)
    assert len(regs) == CaptureHeader.LENGTH
    return regs


# -- the register map ------------------------------------------------------------------------


class MapError(HazwatchError):
    """A register map that does not validate; the message is ``FILE:LINE: reason``."""


@dataclass(frozen=True)
class Point:
    """One row of a register map: where a value lives and what it means.

    ``field`` ties the value to a device (``device``): a health field (online, battery_pct,
    signal_dbm), an overall vibration value of one ``axis``, or a waveform capture area.
    Rows with a ``tag`` also go to ts.sample.
    """

    line: int
    tag: str | None
    unit_id: int
    address: int
    type: str
    scale: float = 1.0
    offset: float = 0.0
    byte_order: ByteOrder = "big"
    word_order: WordOrder = "big"
    eng_unit: str | None = None
    table: Table = "holding"
    device: tuple[str, str] | None = None
    field: str | None = None
    axis: str | None = None
    interval_s: float | None = None

    @property
    def is_waveform(self) -> bool:
        return self.type in WAVEFORM_TYPES

    @property
    def count(self) -> int:
        """Registers read for the value (for a capture area: its header)."""
        return CaptureHeader.LENGTH if self.is_waveform else SCALAR_TYPES[self.type][1]

    @property
    def end(self) -> int:
        return self.address + self.count

    @property
    def name(self) -> str:
        """How logs and rejections name the point."""
        if self.tag:
            return self.tag
        assert self.device is not None
        return f"{self.device[0]}:{self.device[1]}.{self.field}" + (
            f".{self.axis}" if self.axis else ""
        )

    def decode(self, registers: Sequence[int]) -> float:
        return decode_value(
            registers,
            self.type,
            scale=self.scale,
            offset=self.offset,
            byte_order=self.byte_order,
            word_order=self.word_order,
        )


REQUIRED_COLUMNS = ("tag", "unit_id", "address", "type", "scale")
OPTIONAL_COLUMNS = (
    "offset",
    "byte_order",
    "word_order",
    "order",
    "eng_unit",
    "table",
    "device",
    "field",
    "axis",
    "interval_s",
)


@dataclass
class RegisterMap:
    """The points a collector polls, validated.

    >>> rmap = RegisterMap.from_csv(Path("tests/ingest/data/modbus/plant.csv"))
    >>> len(rmap.points), rmap.devices()[:1]
    """

    points: list[Point]
    source: str = "<map>"

    @classmethod
    def from_csv(cls, path: Path) -> RegisterMap:
        """Read and validate a map file; errors raise MapError naming ``FILE:LINE``."""
        try:
            text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
        except OSError as exc:
            raise MapError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise MapError(f"{path}: not UTF-8 text ({exc.reason})") from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<map>") -> RegisterMap:
        reader = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        points: list[Point] = []
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue  # blank lines and comments
            if header is None:
                header = [c.strip().lower() for c in row]
                _check_header(header, source, line)
                continue
            if len(row) != len(header):
                raise MapError(f"{source}:{line}: {len(row)} columns, the header has {len(header)}")
            cells = {k: v.strip() for k, v in zip(header, row, strict=True)}
            try:
                points.append(_point(cells, line))
            except (ValueError, DecodeError) as exc:
                raise MapError(f"{source}:{line}: {exc}") from None
        if header is None:
            raise MapError(
                f"{source}:1: empty map (a header line {','.join(REQUIRED_COLUMNS)} is needed)"
            )
        if not points:
            raise MapError(f"{source}:{reader.line_num}: the map has no points")
        _check_unique(points, source)
        return cls(points, source)

    def devices(self) -> list[tuple[str, str]]:
        """Every device the map names, in order of first appearance."""
        seen: dict[tuple[str, str], None] = {}
        for p in self.points:
            if p.device:
                seen.setdefault(p.device)
        return list(seen)

    def tags(self) -> list[Point]:
        return [p for p in self.points if p.tag]


def _check_header(header: list[str], source: str, line: int) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise MapError(
            f"{source}:{line}: missing column(s) {', '.join(missing)} (the header "
            f"needs {','.join(REQUIRED_COLUMNS)})"
        )
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        # A misspelt optional column would otherwise be ignored and its default used silently.
        raise MapError(
            f"{source}:{line}: unknown column(s) {', '.join(unknown)} (known: "
            f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})"
        )
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise MapError(f"{source}:{line}: column(s) {', '.join(dupes)} given twice")


def _int(cells: dict[str, str], name: str, lo: int, hi: int) -> int:
    text = cells.get(name, "")
    if not text:
        raise ValueError(f"{name} is empty")
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value} is outside {lo}..{hi}")
    return value


def _float(cells: dict[str, str], name: str, default: float | None) -> float | None:
    text = cells.get(name, "")
    if not text:
        if default is None and name in REQUIRED_COLUMNS:
            raise ValueError(f"{name} is empty")
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {text!r} is not a finite number")
    return value


def _choice(cells: dict[str, str], name: str, allowed: Iterable[str], default: str) -> str:
    text = cells.get(name, "").lower() or default
    allowed = tuple(allowed)
    if text not in allowed:
        raise ValueError(f"{name} {cells[name]!r} is not one of {', '.join(allowed)}")
    return text


def _point(cells: dict[str, str], line: int) -> Point:
    tag = cells["tag"] or None
    if tag is not None and len(tag) > 200:
        raise ValueError("tag is longer than 200 characters")
    unit_id = _int(cells, "unit_id", 0, 255)
    address = _int(cells, "address", 0, ADDRESS_SPACE - 1)
    type_ = cells["type"].lower()
    if type_ not in SCALAR_TYPES and type_ not in WAVEFORM_TYPES:
        raise ValueError(
            f"type {cells['type']!r} is not one of {', '.join([*SCALAR_TYPES, *WAVEFORM_TYPES])}"
        )
    scale = _float(cells, "scale", None)
    assert scale is not None
    if scale == 0:
        raise ValueError("scale is 0: every value would read 0")
    offset = _float(cells, "offset", 0.0) or 0.0

    byte_order = _choice(cells, "byte_order", ("big", "little"), "big")
    word_order = _choice(cells, "word_order", ("big", "little"), "big")
    if cells.get("order"):
        if cells.get("byte_order") or cells.get("word_order"):
            raise ValueError("give either order or byte_order/word_order, not both")
        byte_order, word_order = order_of(cells["order"])
    table = _choice(cells, "table", ("holding", "input"), "holding")

    device: tuple[str, str] | None = None
    if cells.get("device"):
        kind, sep, code = cells["device"].partition(":")
        if not sep or kind.lower() not in DEVICE_KINDS or not code.strip():
            raise ValueError(f"device {cells['device']!r} must be sensor:CODE or gateway:CODE")
        device = (kind.lower(), code.strip())
    field_ = cells.get("field", "").lower() or None
    axis = cells.get("axis", "").upper() or None
    if axis is not None and axis not in AXES:
        raise ValueError(f"axis {cells['axis']!r} is not one of X, Y, Z")
    interval = _float(cells, "interval_s", None)
    if interval is not None and not 0.05 <= interval <= 86400:
        raise ValueError(f"interval_s {interval} is outside 0.05..86400")

    if field_ is not None:
        if device is None:
            raise ValueError(f"field {field_} needs a device (sensor:CODE or gateway:CODE)")
        if field_ not in (*HEALTH_FIELDS, *OVERALL_FIELDS, WAVEFORM_FIELD):
            known = ", ".join([*HEALTH_FIELDS, *OVERALL_FIELDS, WAVEFORM_FIELD])
            raise ValueError(f"field {field_!r} is not one of {known}")
        if field_ in OVERALL_FIELDS or field_ == WAVEFORM_FIELD:
            if device[0] != "sensor":
                raise ValueError(f"field {field_} belongs to a sensor, not a {device[0]}")
            if axis is None:
                raise ValueError(f"field {field_} needs an axis (X, Y or Z)")
        elif axis is not None:
            raise ValueError(f"field {field_} takes no axis")
    if (field_ == WAVEFORM_FIELD) != (type_ in WAVEFORM_TYPES):
        raise ValueError(
            "a waveform capture area has field waveform and type wave_int16 or wave_float32"
        )
    if tag is None and field_ is None:
        raise ValueError("tag is empty (a row without a tag needs a device and a field)")
    if type_ in WAVEFORM_TYPES and tag is not None:
        raise ValueError("a waveform capture area goes to vib.waveform: leave its tag empty")
    count = CaptureHeader.LENGTH if type_ in WAVEFORM_TYPES else SCALAR_TYPES[type_][1]
    if address + count > ADDRESS_SPACE:
        raise ValueError(f"{type_} at {address} runs past register 65535")
    return Point(
        line=line,
        tag=tag,
        unit_id=unit_id,
        address=address,
        type=type_,
        scale=scale,
        offset=offset,
        byte_order=cast(ByteOrder, byte_order),
        word_order=cast(WordOrder, word_order),
        eng_unit=cells.get("eng_unit") or None,
        table=cast(Table, table),
        device=device,
        field=field_,
        axis=axis,
        interval_s=interval,
    )


def _check_unique(points: list[Point], source: str) -> None:
    tags: dict[str, int] = {}
    roles: dict[tuple[object, ...], int] = {}
    for p in points:
        if p.tag:
            if p.tag in tags:
                raise MapError(
                    f"{source}:{p.line}: tag {p.tag!r} is already mapped on line {tags[p.tag]}"
                )
            tags[p.tag] = p.line
        if p.field:
            key = (p.device, p.field, p.axis)
            if key in roles:
                raise MapError(
                    f"{source}:{p.line}: {p.name} is already mapped on line {roles[key]}"
                )
            roles[key] = p.line
