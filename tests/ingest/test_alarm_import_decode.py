"""The pure alarm-log parsers against the sample files, with every expected record written out.

Times in the samples are Asia/Shanghai wall-clock times (UTC+8, no daylight saving), so each
expected UTC time below is the file's time minus eight hours.
"""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.files.decode import (
    FORMATS,
    SHANGHAI,
    FormatError,
    Ignored,
    ParsedEvent,
    condition_of,
    decode_bytes,
    number_of,
    parse_csv,
    parse_deltav,
    parse_time,
    priority_of,
)
from ingest.types import Rejected

DATA = Path(__file__).parent / "data" / "alarms"
SAMPLES = {
    "csv": "generic.csv",
    "supcon-ecs700": "supcon-ecs700.csv",
    "hollysys-macs": "hollysys-macs.csv",
    "centum-vp": "centum-vp.csv",
    "experion-pks": "experion-pks.csv",
    "deltav": "deltav.txt",
}
Item = ParsedEvent | Rejected | Ignored


def U(text: str) -> datetime:
    """A UTC time written as 'YYYY-MM-DD HH:MM:SS[.fff]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def T(text: str) -> datetime:
    """A UTC time on 2024-03-15, the day of every sample, written as 'HH:MM:SS[.fff]'."""
    return U(f"2024-03-15 {text}")


def parse_sample(fmt: str, tz: ZoneInfo = SHANGHAI) -> list[Item]:
    decoded = decode_bytes((DATA / SAMPLES[fmt]).read_bytes())
    return list(FORMATS[fmt].parse(decoded.lines(), tz=tz))


def events(items: list[Item]) -> list[tuple[object, ...]]:
    """(line, time, tag, kind, condition, priority, category, limit, value) of each event."""
    return [
        (
            e.line,
            e.time,
            e.tag,
            e.kind,
            e.condition,
            e.priority,
            e.category,
            e.limit_value,
            e.value,
        )
        for e in items
        if isinstance(e, ParsedEvent)
    ]


def rejected(items: list[Item]) -> list[tuple[str | None, str]]:
    return [(r.position, r.reason) for r in items if isinstance(r, Rejected)]


def ignored(items: list[Item]) -> list[tuple[int, str]]:
    return [(i.line, i.reason) for i in items if isinstance(i, Ignored)]


# -- every line accounted for once -------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_each_line_is_an_event_row_rejected_or_ignored_exactly_once(fmt: str) -> None:
    decoded = decode_bytes((DATA / SAMPLES[fmt]).read_bytes())
    items = list(FORMATS[fmt].parse(decoded.lines(), tz=SHANGHAI))
    lines: dict[int, set[str]] = {}
    for item in items:
        if isinstance(item, ParsedEvent):
            lines.setdefault(item.line, set()).add("event")
        elif isinstance(item, Rejected):
            lines.setdefault(int(item.position or 0), set()).add("rejected")
            assert item.source == f"import:{fmt}"
            assert item.raw == decoded.lines()[int(item.position or 0) - 1]
        else:
            lines.setdefault(item.line, set()).add("ignored")
    assert sorted(lines) == list(range(1, len(decoded.lines()) + 1))
    assert all(len(kinds) == 1 for kinds in lines.values())
    assert all(e.source == f"import:{fmt}" for e in items if isinstance(e, ParsedEvent))
    assert sum(isinstance(i, Rejected) for i in items) >= 2  # every sample has bad lines


# -- the formats -----------------------------------------------------------------------------


def test_generic_csv() -> None:
    items = parse_sample("csv")
    assert events(items) == [
        (2, T("00:00:01"), "TI-1101", "ALM", "H", "high", "process", 80.0, 85.2),
        (3, T("00:00:30"), "TI-1101", "ACK", "H", "high", "process", None, None),
        (4, T("00:05:12.5"), "TI-1101", "RTN", "H", "high", "process", 80.0, 79.1),
        # an explicit offset (+08:00, Z) is the file's word and wins over --tz
        (5, T("00:10:00"), "PSV-2001", "ALM", "TRIP", "emergency", "safety", None, None),
        (6, T("00:20:00"), "AT-3001", "ALM", "BAD", "low", "instrument", None, None),
        (7, T("00:30:00"), "FIC-1201", "SHELVE", "", None, None, None, None),
        (8, T("01:30:00"), "FIC-1201", "UNSHELVE", "", None, None, None, None),
    ]
    first = next(e for e in items if isinstance(e, ParsedEvent))
    assert first.attributes == {"unit": "裂解装置"}
    assert first.message == "反应器出口温度高"
    assert first.source_event_id == "E1"
    ack = [e for e in items if isinstance(e, ParsedEvent)][1]
    assert ack.operator == "张伟"
    quoted = [e for e in items if isinstance(e, ParsedEvent)][3]
    assert quoted.message == "储罐压力高, 联锁动作"
    assert rejected(items) == [
        (
            "9",
            "unknown event 'BLINK' (known: ALM, ACK, RTN, SHELVE, UNSHELVE, SUPPRESS, "
            "UNSUPPRESS, OOS, INS)",
        ),
        ("10", "time '2024-13-15 08:41:00': month must be in 1..12"),
        ("11", "value 'abc' is not a number"),
    ]
    assert ignored(items) == [(1, "header line"), (12, "blank line")]


def test_supcon_ecs700() -> None:
    items = parse_sample("supcon-ecs700")
    assert events(items) == [
        (4, T("00:00:01"), "TI-1101", "ALM", "H", "high", None, 80.0, 85.2),
        (5, T("00:00:20"), "TI-1101", "ALM", "HH", "emergency", None, 90.0, 92.6),
        (6, T("00:00:45"), "TI-1101", "ACK", "HH", "emergency", None, None, None),
        # 2024/3/15 8:06:02: the short date form of older AdvanTrol exports
        (7, T("00:06:02"), "TI-1101", "RTN", "HH", "emergency", None, 90.0, 88.1),
        (8, T("00:10:00"), "LI-1203", "ALM", "LL", "emergency", None, 10.0, 8.5),
        (9, T("00:12:00"), "XV-1301", "ALM", "TRIP", "emergency", "safety", None, None),
        # '****' is how the DCS prints a value it does not have
        (10, T("00:15:00"), "AT-1401", "ALM", "BAD", "high", "instrument", None, None),
        (11, T("00:20:00"), "FI-1501", "SUPPRESS", "DEV", "low", None, None, None),
    ]
    ack = [e for e in items if isinstance(e, ParsedEvent)][2]
    assert ack.operator == "张伟"
    assert ack.source_event_id == "3"
    assert ack.attributes == {
        "unit": "裂解装置",
        "operator_team": "操作小组1",
        "description": "反应器出口温度",
        "eng_unit": "℃",
        "vendor_condition": "高高限",
    }
    assert [(pos, reason.split(" (")[0]) for pos, reason in rejected(items)] == [
        ("12", "unknown alarm condition '超限'"),
        ("13", "time '2024-02-30 08:22:00': day is out of range for month"),
        ("14", "6 fields where the header has 13"),
    ]
    assert ignored(items) == [
        (1, "before the header line"),
        (2, "before the header line"),
        (3, "header line"),
    ]


def test_hollysys_macs_gives_alarm_ack_and_return_from_one_line() -> None:
    items = parse_sample("hollysys-macs")
    assert events(items) == [
        (2, T("01:00:00.12"), "PT-2101", "ALM", "H", "high", None, 2.5, 2.65),
        (2, T("01:00:31.5"), "PT-2101", "ACK", "H", "high", None, 2.5, None),
        (2, T("01:04:10"), "PT-2101", "RTN", "H", "high", None, 2.5, None),
        (3, T("01:01:05"), "PT-2101", "ALM", "HH", "emergency", None, 2.8, 2.81),
        (3, T("01:01:20"), "PT-2101", "ACK", "HH", "emergency", None, 2.8, None),
        (4, T("01:10:00"), "TT-2203", "ALM", "L", "low", None, 20.0, 15.0),
        (4, T("01:12:00"), "TT-2203", "RTN", "L", "low", None, 20.0, None),
        (5, T("01:15:00"), "ZS-2301", "ALM", "DISCRETE", "journal", None, None, None),
        (6, T("01:20:00"), "PT-2102", "ALM", "BAD", "high", "instrument", None, None),
        (6, T("01:20:05"), "PT-2102", "ACK", "BAD", "high", "instrument", None, None),
    ]
    by_kind = {e.kind: e for e in items if isinstance(e, ParsedEvent) and e.line == 2}
    assert by_kind["ACK"].operator == "王强"
    assert by_kind["ALM"].operator is None
    assert {e.source_event_id for e in by_kind.values()} == {"1"}  # one occurrence, one id
    assert by_kind["ALM"].attributes["station"] == "10"
    assert by_kind["ALM"].attributes["unit"] == "压缩工段"
    assert [(pos, reason.split(" (")[0]) for pos, reason in rejected(items)] == [
        ("7", "unknown priority '5'"),
        ("8", "确认时间 before 产生时间"),
        ("9", "no tag name"),
    ]


def test_centum_vp_nr_returns_every_active_condition_and_ack_takes_the_latest() -> None:
    items = parse_sample("centum-vp")
    assert events(items) == [
        (2, T("02:00:00.1"), "FIC1001", "ALM", "H", "high", None, None, 128.5),
        (3, T("02:00:20"), "FIC1001", "ALM", "HH", "emergency", None, None, 141.2),
        (4, T("02:00:35"), "FIC1001", "ACK", "HH", "emergency", None, None, None),
        (5, T("02:03:00"), "FIC1001", "RTN", "H", "high", None, None, 95.0),
        (5, T("02:03:00"), "FIC1001", "RTN", "HH", "high", None, None, 95.0),
        (6, T("02:05:00"), "TI1002", "ALM", "BAD", "emergency", "instrument", None, None),
        (7, T("02:06:00"), "TI1002", "SUPPRESS", "", None, None, None, None),
    ]
    ack = [e for e in items if isinstance(e, ParsedEvent)][2]
    assert ack.operator == "OPE01"
    assert ack.attributes["station"] == "HIS0164"
    assert next(e.message for e in items if isinstance(e, ParsedEvent)) == "反应器进料流量 HI"
    assert ignored(items) == [
        (1, "header line"),
        (8, "OPERATION message (not an alarm event)"),
        (9, "system alarm message (not of a tag)"),
    ]
    assert [(pos, reason.split(" (")[0]) for pos, reason in rejected(items)] == [
        ("10", "unknown CENTUM alarm status 'XYZ'"),
        ("11", "time '2024/03/15 25:10:00.000': hour must be in 0..23"),
        ("12", "Value '12,5' is not a number"),  # a decimal comma is not guessed at
    ]


def test_experion_pks() -> None:
    items = parse_sample("experion-pks")
    assert events(items) == [
        (2, T("03:00:00.25"), "FIC2001", "ALM", "H", "high", None, None, 128.5),
        (3, T("03:00:40"), "FIC2001", "ACK", "H", "high", None, None, None),
        (4, T("03:02:10"), "FIC2001", "RTN", "H", "high", None, None, 96.0),
        (5, T("03:05:00"), "PI2002", "ALM", "LL", "emergency", None, None, 0.12),
        (6, T("03:06:00"), "TI2003", "ALM", "BAD", "low", "instrument", None, None),
        (7, T("03:07:00"), "TI2003", "SHELVE", "", None, None, None, None),
    ]
    ack = [e for e in items if isinstance(e, ParsedEvent)][1]
    assert (ack.operator, ack.attributes["station"], ack.attributes["unit"]) == (
        "operator1",
        "CONS01",
        "Unit1/Reactor",
    )
    assert ignored(items) == [(1, "header line"), (8, "CHANGE event (not an alarm event)")]
    assert [(pos, reason.split(" (")[0]) for pos, reason in rejected(items)] == [
        ("9", "unknown Experion condition 'PVSPIKE'"),
        ("10", "time '31-Feb-24 11:10:00.000' is not in a known form"),
        ("11", "unknown Priority 'Medium'"),
    ]


def test_deltav_event_chronicle_states_become_transitions() -> None:
    items = parse_sample("deltav")
    assert events(items) == [
        # 1:00:00.500 PM in Shanghai is 05:00:00.5 UTC
        (2, T("05:00:00.5"), "TIC-301", "ALM", "H", "high", "process", 180.0, 182.4),
        (3, T("05:00:30"), "TIC-301", "ACK", "H", "high", "process", None, None),
        # INACT/ACK after ACT/ACK: the acknowledged alarm cleared
        (4, T("05:04:00"), "TIC-301", "RTN", "H", "high", "process", 180.0, 178.0),
        (5, T("05:10:00"), "LIC-302", "ALM", "LL", "emergency", "process", 10.0, 5.2),
        (6, T("05:11:00"), "LIC-302", "RTN", "LL", "emergency", "process", None, 12.0),
        # INACT/ACK after INACT/UNACK: acknowledged after it had cleared
        (7, T("05:12:00"), "LIC-302", "ACK", "LL", "emergency", "process", None, None),
        (8, T("05:15:00"), "PT-303", "ALM", "BAD", "low", "instrument", None, None),
        (9, T("05:16:00"), "ESD-304", "ALM", "TRIP", "emergency", "safety", None, None),
        (10, T("05:20:00"), "TIC-301", "SUPPRESS", "H", "high", "process", None, None),
    ]
    assert ignored(items) == [(1, "header line"), (11, "CHANGE record (not an alarm)")]
    assert [(pos, reason.split(" (")[0]) for pos, reason in rejected(items)] == [
        ("12", "unknown DeltaV alarm state 'BLINKING'"),
        ("13", "time '3/15/2024 1:23:00 XM' is not in a known form"),
    ]


def test_deltav_user_defined_alarm_parameter_keeps_the_event_with_a_blank_condition() -> None:
    lines = [
        "Date/Time,Event Type,Module,Parameter,State",
        "3/15/2024 13:00:00,ALARM,P-101,SEAL_LEAK,ACT/UNACK",
        "3/15/2024 13:01:00,ALARM,P-101,SEAL_LEAK,INACT/ACK",  # first sight: read as RTN
    ]
    got = [e for e in parse_deltav(lines) if isinstance(e, ParsedEvent)]
    assert [(e.kind, e.condition, e.attributes["vendor_condition"]) for e in got] == [
        ("ALM", "", "SEAL_LEAK"),
        ("RTN", "", "SEAL_LEAK"),
    ]


# -- encodings -------------------------------------------------------------------------------


def test_encoding_of_the_samples() -> None:
    found = {
        fmt: decode_bytes((DATA / name).read_bytes()).encoding for fmt, name in SAMPLES.items()
    }
    assert found == {
        "csv": "utf-8",
        "supcon-ecs700": "gbk",  # Chinese headers, Chinese Windows
        "hollysys-macs": "utf-8-sig",  # Chinese headers, UTF-8 with BOM
        "centum-vp": "gbk",  # English headers, Chinese tag comments
        "experion-pks": "utf-8",
        "deltav": "utf-8",
    }


def test_encoding_detection() -> None:
    text = "时间,位号\n2024-03-15 08:00:01,TI-1101\n"
    assert decode_bytes(text.encode("utf-8")).encoding == "utf-8"
    assert decode_bytes(codecs.BOM_UTF8 + text.encode()).encoding == "utf-8-sig"
    assert decode_bytes(codecs.BOM_UTF8 + text.encode()).text == text  # the BOM is gone
    assert decode_bytes(text.encode("gbk")).encoding == "gbk"
    assert decode_bytes(text.encode("gbk")).text == text
    # 㐀 (CJK extension A) exists in GB18030 but not in GBK
    assert decode_bytes("㐀,位号\n".encode("gb18030")).encoding == "gb18030"
    assert decode_bytes(text.encode("utf-16")).encoding == "utf-16"  # Excel "Unicode text"
    assert decode_bytes(text.encode("utf-16")).text == text
    assert decode_bytes(b"").lines() == []
    assert decode_bytes(b"a\r\nb\rc\n").lines() == ["a", "b", "c"]


def test_binary_data_is_refused() -> None:
    with pytest.raises(FormatError, match="not a text file"):
        decode_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00")


def test_undecodable_bytes_put_only_their_line_in_quarantine() -> None:
    good = "time,tag,event,priority,type,unit,message\n2024-03-15 08:00:01,TI-1,ALM,高,工艺,U1,ok\n"
    data = good.encode("gbk") + b"2024-03-15 08:00:02,TI-\xff\xfe,ALM,,,,x\n"
    decoded = decode_bytes(data)
    assert decoded.replaced > 0
    items = list(parse_csv(decoded.lines()))
    assert [e.tag for e in items if isinstance(e, ParsedEvent)] == ["TI-1"]
    assert rejected(items) == [("3", "line holds bytes that are not valid in the file's encoding")]


def test_utf16_tab_separated_deltav_export() -> None:
    text = (DATA / "deltav.txt").read_text(encoding="utf-8")
    decoded = decode_bytes(text.encode("utf-16"))
    items = list(parse_deltav(decoded.lines()))
    assert events(items) == events(parse_sample("deltav"))


# -- time zones ------------------------------------------------------------------------------


def test_time_zone_is_applied_to_local_times() -> None:
    tokyo = parse_sample("supcon-ecs700", tz=ZoneInfo("Asia/Tokyo"))
    shanghai = parse_sample("supcon-ecs700")
    assert [e[1] for e in events(tokyo)] == [e[1] - timedelta(hours=1) for e in events(shanghai)]
    assert events(tokyo)[0][1] == U("2024-03-14 23:00:01")
    # the generic CSV's explicit offsets do not move with --tz
    berlin = events(parse_sample("csv", tz=ZoneInfo("Europe/Berlin")))
    assert berlin[0][1] == T("07:00:01")  # 08:00:01 CET (UTC+1)
    assert berlin[3][1] == T("00:10:00")  # written with +08:00
    assert berlin[4][1] == T("00:20:00")  # written with Z


def test_shanghai_has_no_daylight_saving() -> None:
    for month in range(1, 13):
        assert parse_time(f"2024-{month:02d}-15 08:00:00", SHANGHAI) == U(
            f"2024-{month:02d}-15 00:00:00"
        )


def test_daylight_saving_gap_is_rejected_and_repeat_is_the_first_occurrence() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_time("2024-07-01 12:00:00", berlin) == U("2024-07-01 10:00:00")  # CEST
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
        parse_time("2024-03-31 02:30:00", berlin)
    assert parse_time("2024-10-27 02:30:00", berlin) == U("2024-10-27 00:30:00")
    lines = ["time,tag,event,priority,type,unit,message", "2024-03-31 02:30:00,T1,ALM,,,,"]
    items = list(parse_csv(lines, tz=berlin))
    assert rejected(items) == [
        ("2", "2024-03-31 02:30:00 does not exist in Europe/Berlin (clock change)")
    ]


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-03-15 08:00:01", "2024-03-15 00:00:01"),
        ("2024/3/5 8:00", "2024-03-05 00:00:00"),
        ("2024.03.15 08:00:01,250", "2024-03-15 00:00:01.25"),
        ("2024年3月15日 08:00:01", "2024-03-15 00:00:01"),
        ("2024年3月15日08:00:01", "2024-03-15 00:00:01"),
        ("2024-03-15T08:00:01+08:00", "2024-03-15 00:00:01"),
        ("2024-03-15 08:00:01 +0530", "2024-03-15 02:30:01"),
        ("2024-03-15 08:00:01Z", "2024-03-15 08:00:01"),
    ],
)
def test_time_forms(text: str, utc: str) -> None:
    assert parse_time(text, SHANGHAI) == U(utc)


@pytest.mark.parametrize("text", ["2024-03-15", "15.03.2024 08:00", "yesterday", ""])
def test_times_that_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text, SHANGHAI)


# -- vocabularies and structure --------------------------------------------------------------


def test_vocabularies() -> None:
    assert [condition_of(w) for w in ("高高限", "高报警", "低限", "低低报警", "HI", "LOLO")] == [
        "HH",
        "H",
        "L",
        "LL",
        "H",
        "LL",
    ]
    assert [condition_of(w) for w in ("变化率", "偏差报警", "开关量", "坏质量", "联锁", "")] == [
        "ROC",
        "DEV",
        "DISCRETE",
        "BAD",
        "TRIP",
        "",
    ]
    assert [priority_of(w) for w in ("紧急", "高", "低", "High", "URGENT", "2", "三级", "")] == [
        "emergency",
        "high",
        "low",
        "high",
        "emergency",
        "high",
        "low",
        None,
    ]
    assert number_of("1,250.5", "v") == 1250.5
    assert number_of("-3.5", "v") == -3.5
    assert number_of("****", "v") is None
    assert number_of("--", "v") is None


def test_header_may_follow_a_title_and_a_file_without_one_is_refused() -> None:
    with pytest.raises(FormatError, match="no csv header line"):
        list(parse_csv(["just", "some", "text"]))
    with pytest.raises(FormatError, match="is this the right --format"):
        list(
            FORMATS["supcon-ecs700"].parse(
                decode_bytes((DATA / "generic.csv").read_bytes()).lines()
            )
        )


def test_malformed_lines_are_rejected_with_the_reason() -> None:
    lines = [
        "time,tag,event,priority,type,unit,message",
        '2024-03-15 08:00:01,T1,ALM,,,,"open quote',
        "2024-03-15 08:00:01,T1,ALM,,,,msg,extra",
        "2024-03-15 08:00:01,T1,ALM,,,,msg,,",  # trailing empty cells, as Excel writes them
        "2024-03-15 08:00:02,,ALM,,,,no tag",
        "2024-03-15 08:00:03,T1,ALM,middle,,,",
        "2024-03-15 08:00:04,T1,ALM,,others,,",
        "time,tag,event,priority,type,unit,message",  # a page break repeats the header
        "2024-03-15 08:00:05,T1,ALM,,,,\x00",
        "2024-03-15 08:00:06," + "T" * 201 + ",ALM,,,,",
    ]
    items = list(parse_csv(lines))
    assert [e.line for e in items if isinstance(e, ParsedEvent)] == [4]
    assert [(p, r.split(" (")[0]) for p, r in rejected(items)] == [
        ("2", "malformed CSV: unexpected end of data"),
        ("3", "8 fields where the header has 7"),
        ("5", "no tag name"),
        ("6", "unknown priority 'middle'"),
        ("7", "unknown type 'others'"),
        ("9", "line holds NUL bytes"),
        ("10", "tag name longer than 200 characters"),
    ]
    assert (8, "repeated header line") in ignored(items)
