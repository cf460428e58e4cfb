"""The line protocol parser and the point -> tag mapping (pure, no database).

Examples marked "reference" are taken from InfluxDB's line protocol reference.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.lineprotocol.decode import (
    MAX_NS,
    LineError,
    Point,
    datetime_to_ns,
    decode_lines,
    ns_to_datetime,
    numeric,
    parse_line,
    series_key,
    tag_name,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def one(text: str, precision: str = "ns") -> Point:
    [item] = decode_lines(text, precision=precision, received_at=NOW)
    assert isinstance(item, Point), str(item)
    return item


def error(text: str) -> str:
    [item] = decode_lines(text, received_at=NOW)
    assert isinstance(item, LineError), item
    return item.reason


# -- elements ------------------------------------------------------------------------------------


def test_reference_example() -> None:
    p = one('myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000')
    assert p.measurement == "myMeasurement"
    assert p.tags == {"tag1": "value1", "tag2": "value2"}
    assert p.fields == {"fieldKey": "fieldValue"}
    assert p.time_ns == 1556813561098000000
    assert p.time == datetime(2019, 5, 2, 16, 12, 41, 98000, tzinfo=UTC)


def test_no_tags_several_fields_and_no_timestamp() -> None:
    p = one("weather temperature=82,humidity=71.5")
    assert (p.tags, p.fields) == ({}, {"temperature": 82.0, "humidity": 71.5})
    assert p.time_ns == datetime_to_ns(NOW) and p.time == NOW


@pytest.mark.parametrize(
    ("precision", "stamp", "expected"),
    [
        ("ns", "1465839830100400200", datetime(2016, 6, 13, 17, 43, 50, 100400, tzinfo=UTC)),
        ("us", "1465839830100400", datetime(2016, 6, 13, 17, 43, 50, 100400, tzinfo=UTC)),
        ("ms", "1465839830100", datetime(2016, 6, 13, 17, 43, 50, 100000, tzinfo=UTC)),
        ("s", "1465839830", datetime(2016, 6, 13, 17, 43, 50, tzinfo=UTC)),
        ("m", "24430663", datetime(2016, 6, 13, 17, 43, tzinfo=UTC)),
        ("h", "407177", datetime(2016, 6, 13, 17, 0, tzinfo=UTC)),
        ("n", "-1", datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_precisions(precision: str, stamp: str, expected: datetime) -> None:
    assert one(f"m f=1 {stamp}", precision).time == expected


def test_nanoseconds_are_kept_on_the_point_and_floored_on_the_datetime() -> None:
    p = one("m f=1 1000000999")
    assert p.time_ns == 1_000_000_999
    assert p.time == ns_to_datetime(1_000_000_000)


def test_unknown_precision_is_an_error_of_the_caller() -> None:
    with pytest.raises(ValueError, match="unknown precision 'd'"):
        list(decode_lines("m f=1", precision="d", received_at=NOW))


# -- field types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1.0),
        ("1.0", 1.0),
        ("-1.234456e+78", -1.234456e78),
        ("1.e+78", 1e78),
        ("1.E+78", 1e78),
        (".5", 0.5),
        ("-0", 0.0),
        ("1i", 1),
        ("-9223372036854775808i", -(2**63)),
        ("9223372036854775807i", 2**63 - 1),
        ("0u", 0),
        ("18446744073709551615u", 2**64 - 1),
        ('"a string"', "a string"),
        ('""', ""),
    ],
)
def test_field_values(raw: str, value: object) -> None:
    got = one(f"m f={raw}").fields["f"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("raw", ["t", "T", "true", "True", "TRUE"])
def test_true(raw: str) -> None:
    assert one(f"m f={raw}").fields["f"] is True


@pytest.mark.parametrize("raw", ["f", "F", "false", "False", "FALSE"])
def test_false(raw: str) -> None:
    assert one(f"m f={raw}").fields["f"] is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("9223372036854775808i", "unable to parse integer 9223372036854775808: value out of range"),
        ("18446744073709551616u",
         "unable to parse unsigned 18446744073709551616: value out of range"),
        ("-1u", "invalid number"),
        ("1.5i", "invalid number"),
        ("1e999", "unable to parse float 1e999: value out of range"),
        ("+1", "invalid number"),
        ("1a", "invalid number"),
        ("NaN", "invalid field format"),
        ("Inf", "invalid field format"),
        ("tru", "invalid boolean"),
        ("yes", "invalid field format"),
        ('"open', "unbalanced quotes"),
        ('"a"b', "invalid field format"),
    ],
)  # fmt: skip
def test_bad_field_values(raw: str, reason: str) -> None:
    assert error(f"m f={raw}") == reason


def test_numeric_mapping() -> None:
    assert [numeric(v) for v in (True, False, 7, 2.5, "x")] == [1.0, 0.0, 7.0, 2.5, None]


# -- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "measurement", "tags", "fields"),
    [
        # reference: commas and spaces in measurements
        (r"wea\,ther,location=us-midwest temperature=82", "wea,ther", {"location": "us-midwest"},
         {"temperature": 82.0}),
        (r"wea\ ther,location=us-midwest temperature=82", "wea ther", {"location": "us-midwest"},
         {"temperature": 82.0}),
        # reference: commas, equals signs and spaces in tag keys and values and field keys
        (r"weather,location=us\,midwest temperature=82", "weather", {"location": "us,midwest"},
         {"temperature": 82.0}),
        (r"weather,location=us-midwest temp\=rature=82", "weather", {"location": "us-midwest"},
         {"temp=rature": 82.0}),
        (r"weather,location\ place=us-midwest temperature=82", "weather",
         {"location place": "us-midwest"}, {"temperature": 82.0}),
        (r"my\ Measurement,tag\ Key1=tag\ Value1,tag\ Key2=tag\ Value2 fieldKey=100",
         "my Measurement", {"tag Key1": "tag Value1", "tag Key2": "tag Value2"},
         {"fieldKey": 100.0}),
        # an equals sign needs no escape in a measurement; a backslash before it stays
        ("a=b f=1", "a=b", {}, {"f": 1.0}),
        (r"a\=b f=1", r"a\=b", {}, {"f": 1.0}),
        # other backslashes are literal, "\\" too (as InfluxDB reads names)
        (r"c:\temp f=1", r"c:\temp", {}, {"f": 1.0}),
        (r"m,path=c:\\dir f=1", "m", {"path": r"c:\\dir"}, {"f": 1.0}),
        (r"m\\\ x f=1", r"m\\ x", {}, {"f": 1.0}),
        (r"m,t=a\\ b f=1", "m", {"t": r"a\ b"}, {"f": 1.0}),
        # reference: double quotes and backslashes in string field values
        (r'weather,location=us-midwest temperature="too\"hot\""', "weather",
         {"location": "us-midwest"}, {"temperature": 'too"hot"'}),
        (r'm f="a\\b",g="c\d"', "m", {}, {"f": "a\\b", "g": "c\\d"}),
        # spaces, commas and equals signs inside strings are plain characters
        ('m f="a, b=c d",g=1i', "m", {}, {"f": "a, b=c d", "g": 1}),
        # quotes are plain characters outside string values
        ('"m",t="v" f=1', '"m"', {"t": '"v"'}, {"f": 1.0}),
        # emoji (reference)
        ('myMeasurement,tagKey=🍭 fieldKey="Launch 🚀" 1556813561098000000', "myMeasurement",
         {"tagKey": "🍭"}, {"fieldKey": "Launch 🚀"}),
        # 中文 names
        ("反应器,装置=一车间 温度=81.5", "反应器", {"装置": "一车间"}, {"温度": 81.5}),
    ],
)  # fmt: skip
def test_escaping(
    line: str, measurement: str, tags: dict[str, str], fields: dict[str, object]
) -> None:
    p = one(line)
    assert (p.measurement, p.tags, p.fields) == (measurement, tags, fields)


def test_escaped_delimiters_do_not_end_tokens() -> None:
    p = one(r"m,k\,1=v\ 1\=x f\ 1=2,f\,2=3 10")
    assert p.tags == {"k,1": "v 1=x"}
    assert p.fields == {"f 1": 2.0, "f,2": 3.0}
    assert p.time_ns == 10


# -- lines and errors -----------------------------------------------------------------------------


def test_blank_lines_comments_crlf_and_leading_blanks() -> None:
    body = b"# comment\n\n   \n  m f=1 1\r\n\t# indented comment\nm f=2 2\n"
    items = list(decode_lines(body, received_at=NOW))
    assert [(p.line, p.fields["f"], p.time_ns) for p in items] == [(4, 1.0, 1), (6, 2.0, 2)]  # type: ignore[union-attr]


def test_trailing_blanks_and_extra_blanks_before_fields() -> None:
    p = one("m,t=a   f=1 5  ")
    assert (p.fields, p.time_ns) == ({"f": 1.0}, 5)


def test_repeated_field_key_last_wins() -> None:
    assert one("m f=1,f=2").fields == {"f": 2.0}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("x", "missing fields"),
        ("x ", "missing fields"),
        ("x,t=1", "missing fields"),
        (",t=1 f=1", "missing measurement"),
        (" ,t=1 f=1", "missing measurement"),
        ("m,=1 f=1", "missing tag key"),
        ("m,t f=1", "missing tag value"),
        ("m,t= f=1", "missing tag value"),
        ("m,t=a=b f=1", "invalid tag format"),
        ("m,t=1,t=2 f=1", "duplicate tags"),
        ("m =1", "missing field key"),
        ("m f", "invalid field format"),
        ("m f=", "missing field value"),
        ("m f=1,", "missing field key"),
        ("m f=1,g", "invalid field format"),
        ("m f=1 12a", "bad timestamp"),
        ("m f=1 1 2", "bad timestamp"),
        ("m f=1 1.5", "bad timestamp"),
        (r"m,t=a\ f=1", "invalid tag format"),  # the escaped blank belongs to the tag value
        ("m f=1 9223372036854775807", f"time outside range -{MAX_NS} - {MAX_NS}"),
    ],
)
def test_errors_read_like_influxdb(line: str, reason: str) -> None:
    [item] = decode_lines(line, received_at=NOW)
    assert isinstance(item, LineError)
    assert item.reason == reason
    assert str(item) == f"unable to parse '{line}': {reason}"


def test_time_range_applies_after_precision() -> None:
    [item] = decode_lines("m f=1 9223372037", precision="s", received_at=NOW)
    assert isinstance(item, LineError) and item.reason.startswith("time outside range")


def test_errors_carry_line_numbers_and_good_lines_go_on() -> None:
    body = "m f=1 1\nbad\nm f=2 2\nm f=\n"
    items = list(decode_lines(body, received_at=NOW))
    assert [type(i).__name__ for i in items] == ["Point", "LineError", "Point", "LineError"]
    errors = [i for i in items if isinstance(i, LineError)]
    assert [(e.line, e.text, e.reason) for e in errors] == [
        (2, "bad", "missing fields"),
        (4, "m f=", "missing field value"),
    ]
    assert str(errors[0]) == "unable to parse 'bad': missing fields"


def test_invalid_utf8_and_nul_are_line_errors() -> None:
    items = list(decode_lines(b"m f=1\nm\xff f=1\nm,t=a\x00b f=1\n", received_at=NOW))
    assert isinstance(items[0], Point)
    assert isinstance(items[1], LineError) and items[1].reason.startswith("invalid UTF-8")
    assert items[1].line == 2 and items[1].text == "m\ufffd f=1"
    assert isinstance(items[2], LineError) and items[2].line == 3
    assert items[2].reason == "NUL character (cannot be stored)"
    assert "\x00" not in items[2].text


def test_parse_line_raises() -> None:
    from ingest.lineprotocol.decode import LineSyntaxError

    with pytest.raises(LineSyntaxError, match="missing fields"):
        parse_line("m")


# -- tag names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measurement", "tags", "field", "name"),
    [
        ("TI-101", {}, "value", "TI-101"),
        ("TI-101", {}, "pv", "TI-101.pv"),
        ("dcs", {"tag": "FIC-101"}, "value", "FIC-101"),
        ("dcs", {"tag": "FIC-101", "unit": "1"}, "sp", "FIC-101.sp"),
        ("cpu", {"region": "us-west", "host": "a"}, "usage_idle",
         "cpu,host=a,region=us-west.usage_idle"),
        ("modbus", {"name": "pump1"}, "vel", "modbus,name=pump1.vel"),
    ],
)  # fmt: skip
def test_tag_name_rule(measurement: str, tags: dict[str, str], field: str, name: str) -> None:
    assert tag_name(measurement, tags, field) == name


def test_series_key_is_canonical_line_protocol() -> None:
    p = one(r"m\ 1,b=2,a=x\,y f\=1=1")
    assert series_key(p, "f=1") == r"m\ 1,a=x\,y,b=2 f\=1"
    assert one(series_key(p, "f=1") + "=1").tags == p.tags


def test_what_the_reference_client_writes_reads_back() -> None:
    from influxdb_client import Point as ClientPoint

    measurement, key, value = r"反应 器,1=a\b", r"k =,\x", r"C:\data, 1=2"
    p = (
        ClientPoint(measurement)
        .tag(key, value)
        .field("f ,=", 2.5)
        .field("n", 7)
        .field("on", True)
        .field("s", 'say "hi" \\ bye')
        .time(1_700_000_000_123_456_789)
    )
    got = one(p.to_line_protocol())
    assert got.measurement == measurement
    assert got.tags == {key: value}
    assert got.fields == {"f ,=": 2.5, "n": 7, "on": True, "s": 'say "hi" \\ bye'}
    assert got.time_ns == 1_700_000_000_123_456_789
