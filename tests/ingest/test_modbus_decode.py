"""Register decoding and register maps, against values worked out by hand (pure, no I/O)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ingest.modbus.collector import plan_blocks
from ingest.modbus.decode import (
    CaptureHeader,
    DecodeError,
    MapError,
    Point,
    RegisterMap,
    decode_array,
    decode_raw,
    decode_value,
    encode_array,
    encode_capture_header,
    encode_value,
    order_of,
    registers_to_bytes,
)

HEADER = "tag,unit_id,address,type,scale\n"

# -- scalar values -----------------------------------------------------------------------------

# 10.0 as IEEE-754 binary32 is 0x41200000: sign 0, exponent 130 (0x82), mantissa 0x200000.
# Bytes A=0x41 B=0x20 C=0x00 D=0x00 laid out in each of the four orders:
TEN = {
    "ABCD": [0x4120, 0x0000],
    "CDAB": [0x0000, 0x4120],
    "BADC": [0x2041, 0x0000],
    "DCBA": [0x0000, 0x2041],
}


@pytest.mark.parametrize("order", sorted(TEN))
def test_float32_ten_in_every_order(order: str) -> None:
    byte_order, word_order = order_of(order)
    regs = TEN[order]
    assert registers_to_bytes(regs, byte_order, word_order) == bytes.fromhex("41200000")
    assert decode_value(regs, "float32", byte_order=byte_order, word_order=word_order) == 10.0
    assert encode_value(10.0, "float32", byte_order, word_order) == regs


def test_integers_by_hand() -> None:
    assert decode_value([0xFFFF], "int16") == -1.0
    assert decode_value([0xFFFF], "uint16") == 65535.0
    assert decode_value([0x8000], "int16") == -32768.0
    assert decode_raw([0x0001, 0x0000], "uint32") == 65536  # ABCD: high word first
    assert decode_raw([0x0000, 0x0001], "uint32", word_order="little") == 65536  # CDAB
    assert decode_raw([0xFFFF, 0xFFFE], "int32") == -2
    assert decode_raw([0x0100], "uint16", byte_order="little") == 1  # BA: 0x01 is the low byte
    # -123456 = 0xFFFE1DC0
    assert decode_raw([0xFFFE, 0x1DC0], "int32") == -123456
    assert decode_raw([0x1DC0, 0xFFFE], "int32", word_order="little") == -123456


def test_float64_and_64_bit_integers() -> None:
    # 1.5 = 0x3FF8000000000000
    assert decode_value([0x3FF8, 0, 0, 0], "float64") == 1.5
    assert decode_value([0, 0, 0, 0x3FF8], "float64", word_order="little") == 1.5
    assert decode_raw([0, 0, 1, 0], "uint64") == 65536
    assert decode_raw([0xFFFF] * 4, "int64") == -1


def test_scale_and_offset() -> None:
    # A battery in tenths of a percent, a temperature in 0.01 °C with a -40 °C offset.
    assert decode_value([0x03E7], "uint16", scale=0.1) == pytest.approx(99.9)
    assert decode_value([7000], "uint16", scale=0.01, offset=-40) == pytest.approx(30.0)
    assert decode_value([0xFF9C], "int16", scale=0.5) == -50.0  # -100 * 0.5


def test_nan_passes_through_for_the_collector_to_reject() -> None:
    assert math.isnan(decode_value([0x7FC0, 0x0000], "float32"))


def test_decode_errors() -> None:
    with pytest.raises(DecodeError, match="needs 2 registers, got 1"):
        decode_value([0x4120], "float32")
    with pytest.raises(DecodeError, match="not a 16-bit word"):
        decode_value([0x10000], "uint16")
    with pytest.raises(DecodeError, match="unknown type"):
        decode_value([1], "int8")
    with pytest.raises(DecodeError, match="unknown order"):
        order_of("ACBD")


# -- arrays and capture headers ---------------------------------------------------------------


def test_int16_waveform_block() -> None:
    regs = [0x0000, 0x0001, 0x7FFF, 0x8000, 0xFFFF]
    assert decode_array(regs, "int16", scale=0.001).tolist() == pytest.approx(
        [0.0, 0.001, 32.767, -32.768, -0.001]
    )
    swapped = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    assert decode_array(swapped, "int16", byte_order="little").tolist() == [0, 1, 32767, -32768, -1]


@pytest.mark.parametrize("order", sorted(TEN))
def test_float32_waveform_keeps_word_order_per_sample(order: str) -> None:
    byte_order, word_order = order_of(order)
    regs = TEN[order] * 3  # three samples of 10.0
    assert decode_array(
        regs, "float32", scale=0.5, byte_order=byte_order, word_order=word_order
    ).tolist() == [5.0, 5.0, 5.0]
    values = np.array([1.25, -3.5, 1e-3], dtype=np.float32)
    back = decode_array(
        encode_array(values, "float32", byte_order=byte_order, word_order=word_order),
        "float32",
        byte_order=byte_order,
        word_order=word_order,
    )
    assert back.tolist() == values.astype(float).tolist()
    with pytest.raises(DecodeError, match="even register count"):
        decode_array([0x4120], "float32")


def test_capture_header_round_trip_and_validation() -> None:
    regs = encode_capture_header(
        seq=7,
        sample_rate_hz=25600.0,
        scale=0.5,
        n_samples=4096,
        speed_rpm=2970.0,
        axis="Z",
        unit="g",
        epoch_s=1_700_000_000,
        word_order="little",
    )
    assert len(regs) == 16
    assert regs[:2] == [7, 0]  # uint32 7, low word first (CDAB)
    h = CaptureHeader.decode(regs, word_order="little")
    assert (
        h.seq,
        h.sample_rate_hz,
        h.scale,
        h.n_samples,
        h.speed_rpm,
        h.axis,
        h.unit,
        h.epoch_s,
    ) == (7, 25600.0, 0.5, 4096, 2970.0, "Z", "g", 1_700_000_000)
    assert CaptureHeader.decode([0] * 16).seq == 0  # nothing captured yet: not an error
    bad = list(regs)
    bad[10:12] = [*encode_value(9, "uint16"), 0]  # axis code 9 (and the unit code word)
    with pytest.raises(DecodeError, match="axis code 9"):
        CaptureHeader.decode(bad, word_order="little")
    with pytest.raises(DecodeError, match="sample rate"):
        CaptureHeader.decode(
            encode_capture_header(
                seq=1, sample_rate_hz=0.0, scale=1.0, n_samples=8, speed_rpm=0.0, axis="X"
            )
        )


# -- register maps -----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_map_minimal_columns(tmp_path: Path) -> None:
    rmap = RegisterMap.from_csv(
        write(tmp_path, HEADER + "FIC-101,1,0x10,float32,1\nTI-101,1,18,int16,0.1\n")
    )
    a, b = rmap.points
    assert (a.tag, a.unit_id, a.address, a.type, a.count, a.line) == (
        "FIC-101",
        1,
        16,
        "float32",
        2,
        2,
    )
    assert (b.address, b.scale, b.byte_order, b.word_order, b.table) == (
        18,
        0.1,
        "big",
        "big",
        "holding",
    )


def test_map_optional_columns(tmp_path: Path) -> None:
    text = (
        "# a comment line, then a blank one\n\n"
        "tag,unit_id,address,type,scale,offset,order,eng_unit,table,device,field,axis,interval_s\n"
        "P1.T,11,4,float32,1,-273.15,CDAB,degC,input,sensor:P1-DE,,,5\n"
        ",11,0,uint16,1,,,,,sensor:P1-DE,online,,\n"
        ",11,10,float32,1,,,,,sensor:P1-DE,velocity_rms_mm_s,x,\n"
        ",11,1000,wave_int16,1,,,,,sensor:P1-DE,waveform,Z,10\n"
    )
    rmap = RegisterMap.from_csv(write(tmp_path, text))
    t, online, vel, wave = rmap.points
    assert (t.line, t.offset, t.byte_order, t.word_order, t.eng_unit, t.table, t.interval_s) == (
        4,
        -273.15,
        "big",
        "little",
        "degC",
        "input",
        5.0,
    )
    assert t.device == ("sensor", "P1-DE") and t.field is None
    assert online.tag is None and online.name == "sensor:P1-DE.online"
    assert vel.axis == "X"
    assert wave.is_waveform and wave.count == 16
    assert rmap.devices() == [("sensor", "P1-DE")]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("A,1,0,float32\n", 2, "4 columns, the header has 5"),
        ("A,1,0,float33,1\n", 2, "type 'float33' is not one of"),
        ("A,1,0,float32,1\nB,256,0,int16,1\n", 3, "unit_id 256 is outside 0..255"),
        ("A,1,-1,int16,1\n", 2, "address -1 is outside 0..65535"),
        ("A,1,65535,float32,1\n", 2, "float32 at 65535 runs past register 65535"),
        ("A,1,ten,int16,1\n", 2, "address 'ten' is not an integer"),
        ("A,1,0,int16,\n", 2, "scale is empty"),
        ("A,1,0,int16,0\n", 2, "scale is 0"),
        ("A,1,0,int16,nan\n", 2, "not a finite number"),
        (",1,0,int16,1\n", 2, "tag is empty"),
        ("A,1,0,int16,1\nB,1,1,int16,1\nA,1,2,int16,1\n", 4, "tag 'A' is already mapped on line 2"),
    ],
)
def test_map_errors_name_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, HEADER + body)
    with pytest.raises(MapError) as info:
        RegisterMap.from_csv(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("tag,unit_id,address,scale", None, "missing column(s) type"),
        ("tag,unit_id,address,type,scale,wordorder", None, "unknown column(s) wordorder"),
        (
            "tag,unit_id,address,type,scale,byte_order",
            "A,1,0,int16,1,middle",
            "byte_order 'middle' is not one of big, little",
        ),
        (
            "tag,unit_id,address,type,scale,order,word_order",
            "A,1,0,float32,1,CDAB,big",
            "either order or byte_order/word_order",
        ),
        (
            "tag,unit_id,address,type,scale,device,field",
            "A,1,0,int16,1,pump:P1,online",
            "must be sensor:CODE or gateway:CODE",
        ),
        ("tag,unit_id,address,type,scale,field", "A,1,0,int16,1,online", "needs a device"),
        (
            "tag,unit_id,address,type,scale,device,field",
            "A,1,0,int16,1,sensor:P1,speed",
            "field 'speed' is not one of",
        ),
        (
            "tag,unit_id,address,type,scale,device,field",
            ",1,0,float32,1,sensor:P1,kurtosis",
            "needs an axis",
        ),
        (
            "tag,unit_id,address,type,scale,device,field,axis",
            ",1,0,float32,1,gateway:G,kurtosis,X",
            "belongs to a sensor",
        ),
        (
            "tag,unit_id,address,type,scale,device,field,axis",
            ",1,0,int16,1,sensor:P1,online,X",
            "takes no axis",
        ),
        (
            "tag,unit_id,address,type,scale,device,field,axis",
            ",1,0,int16,1,sensor:P1,waveform,X",
            "wave_int16 or wave_float32",
        ),
        (
            "tag,unit_id,address,type,scale,device,field,axis",
            "W,1,0,wave_int16,1,sensor:P1,waveform,X",
            "leave its tag empty",
        ),
        ("tag,unit_id,address,type,scale,axis", "A,1,0,int16,1,W", "axis 'W' is not one of"),
        (
            "tag,unit_id,address,type,scale,interval_s",
            "A,1,0,int16,1,0",
            "interval_s 0.0 is outside",
        ),
    ],
)
def test_map_column_errors(tmp_path: Path, header: str, row: str | None, message: str) -> None:
    path = write(tmp_path, header + "\n" + (row + "\n" if row else ""))
    with pytest.raises(MapError) as info:
        RegisterMap.from_csv(path)
    assert str(info.value).startswith(f"{path}:{1 if row is None else 2}: ")
    assert message in str(info.value)


def test_map_duplicate_device_field(tmp_path: Path) -> None:
    text = (
        "tag,unit_id,address,type,scale,device,field\n"
        ",1,0,uint16,1,sensor:P1,online\n,1,5,uint16,1,sensor:P1,online\n"
    )
    with pytest.raises(MapError, match=r"map.csv:3: sensor:P1.online is already mapped on line 2"):
        RegisterMap.from_csv(write(tmp_path, text))


def test_map_file_problems(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="cannot read"):
        RegisterMap.from_csv(tmp_path / "missing.csv")
    with pytest.raises(MapError, match=r":1: empty map"):
        RegisterMap.from_csv(write(tmp_path, "\n# nothing\n"))
    with pytest.raises(MapError, match="has no points"):
        RegisterMap.from_csv(write(tmp_path, HEADER))
    (tmp_path / "latin1.csv").write_bytes(
        HEADER.encode() + "Temp\xb0,1,0,int16,1\n".encode("latin-1")
    )
    with pytest.raises(MapError, match="not UTF-8"):
        RegisterMap.from_csv(tmp_path / "latin1.csv")
    # Excel's UTF-8 BOM is fine, and so are Chinese tag names.
    (tmp_path / "bom.csv").write_bytes(("\ufeff" + HEADER + "泵P-101温度,1,0,int16,1\n").encode())
    assert RegisterMap.from_csv(tmp_path / "bom.csv").points[0].tag == "泵P-101温度"


# -- block planning (pure part of the collector) -----------------------------------------------


def pt(
    line: int, address: int, type_: str = "float32", unit: int = 1, table: str = "holding"
) -> Point:
    return Point(line=line, tag=f"T{line}", unit_id=unit, address=address, type=type_, table=table)  # type: ignore[arg-type]


def test_plan_blocks_coalesces_adjacent_and_overlapping() -> None:
    points = [
        pt(1, 4),
        pt(2, 0, "uint16"),
        pt(3, 1, "int16"),
        pt(4, 2, "uint32"),
        pt(5, 5, "int16"),
        pt(6, 10),
        pt(7, 0, unit=2),
        pt(8, 0, table="input"),
    ]
    blocks = plan_blocks(points)
    assert [(b.unit_id, b.table, b.address, b.count) for b in blocks] == [
        (1, "holding", 0, 6),  # 0..5: adjacent and overlapping points share one read
        (1, "holding", 10, 2),  # 6..9 unmapped: not read by default
        (1, "input", 0, 2),
        (2, "holding", 0, 2),
    ]
    assert [b.count for b in plan_blocks(points, max_gap=4)][:1] == [12]


def test_plan_blocks_respects_125_registers() -> None:
    points = [pt(i, 2 * i) for i in range(100)]  # 200 contiguous registers of float32
    blocks = plan_blocks(points)
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 76)]
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.points) for b in blocks) == 100  # no point split across reads
