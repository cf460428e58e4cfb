"""MQTT decoding without a broker: topic templates, JSON paths, timestamps, payloads, map files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mqtt.decode import (
    JsonPath,
    MapError,
    NameTemplate,
    TopicTemplate,
    decode_message,
    load_map,
    parse_number,
    parse_online,
    parse_quality,
    parse_time,
)
from ingest.types import BAD, GOOD, UNCERTAIN

DATA = Path(__file__).parent / "data" / "mqtt"
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
T_MS = 1777622400123  # 2026-05-01 08:00:00.123 UTC
T = datetime(2026, 5, 1, 8, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(scope="module")
def plant_map():  # type: ignore[no-untyped-def]
    return load_map((DATA / "plant.toml").read_text(), str(DATA / "plant.toml"))


def msg(body: object) -> bytes:
    return json.dumps(body).encode()


# -- templates -------------------------------------------------------------------------------


def test_topic_template_gives_filter_and_fields() -> None:
    t = TopicTemplate.parse("plant/{gateway}/{sensor}/telemetry")
    assert t.fields == ("gateway", "sensor")
    assert t.filter == "plant/+/+/telemetry"
    assert t.match("plant/GW-1/GD-101/telemetry") == {"gateway": "GW-1", "sensor": "GD-101"}
    assert t.match("plant/GW-1/GD-101/telemetry/extra") is None
    assert t.match("plant/GW-1/telemetry") is None
    assert t.match("other/GW-1/GD-101/telemetry") is None


def test_topic_template_with_part_of_a_level_and_no_placeholders() -> None:
    t = TopicTemplate.parse("site/gw-{n}/ch{channel}.json")
    assert t.filter == "site/+/+"
    assert t.match("site/gw-07/ch3.json") == {"n": "07", "channel": "3"}
    assert t.match("site/router/ch3.json") is None  # fits the filter, not the template
    fixed = TopicTemplate.parse("site/tank-farm/level")
    assert (fixed.filter, fixed.match("site/tank-farm/level")) == ("site/tank-farm/level", {})


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("plant/+/x", "not the wildcards"),
        ("plant/#", "not the wildcards"),
        ("plant/{a}/{a}", "appears twice"),
        ("plant/{a}{b}", "text between them"),
        ("plant/{a", "brace"),
        ("plant/{1a}", "brace"),
        ("", "empty"),
    ],
)
def test_bad_topic_templates(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        TopicTemplate.parse(text)


def test_name_template_uses_only_topic_fields() -> None:
    t = NameTemplate.parse("{sensor}.CH4", ("gateway", "sensor"))
    assert t.render({"gateway": "GW", "sensor": "GD-1"}) == "GD-1.CH4"
    with pytest.raises(ValueError, match=r"\{detector\} is not a placeholder"):
        NameTemplate.parse("{detector}.CH4", ("gateway", "sensor"))


# -- JSON paths ------------------------------------------------------------------------------

DOC = {
    "values": {"ch4_lel": 12.5, "odd.key": 3},
    "data": [{"v": 1}, {"v": 2}, {"v": [7, 8]}],
    "n": 0,
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("values.ch4_lel", 12.5),
        ("$.values.ch4_lel", 12.5),
        ("data[0].v", 1),
        ("data[-1].v[1]", 8),
        ('values["odd.key"]', 3),
        ("values['odd.key']", 3),
        ("n", 0),
        ("$", DOC),
    ],
)
def test_json_path_finds(path: str, value: object) -> None:
    assert JsonPath.parse(path).get(DOC) == value


@pytest.mark.parametrize("path", ["values.nope", "data[3].v", "data.v", "values[0]", "n.x"])
def test_json_path_missing(path: str) -> None:
    from ingest.mqtt.decode import _MISSING

    assert JsonPath.parse(path).get(DOC) is _MISSING


@pytest.mark.parametrize("path", ["", "a..b", "a[x]", "a[", 'a["b]'])
def test_json_path_refused(path: str) -> None:
    with pytest.raises(ValueError):
        JsonPath.parse(path)


# -- values, times, qualities --------------------------------------------------------------


def test_numbers() -> None:
    assert parse_number(12) == 12.0
    assert parse_number(" 12.5 ") == 12.5
    assert parse_number(False) == 0.0
    assert parse_number(None) is None
    assert parse_number(float("nan")) is None
    for bad in ("N/A", [1], {"v": 1}, ""):
        with pytest.raises(ValueError, match="not a number"):
            parse_number(bad)


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        (1777622400, "auto", datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
        (1777622400.5, "auto", datetime(2026, 5, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        (T_MS, "auto", T),
        (T_MS * 1000, "auto", T),
        (T_MS * 1_000_000 + 999, "auto", T),  # ns: exact to the microsecond, no float rounding
        (str(T_MS), "auto", T),
        (T_MS, "ms", T),
        (1777622400, "ms", datetime(1970, 1, 21, 13, 47, 2, 400000, tzinfo=UTC)),
        ("2026-05-01T08:00:00.123Z", "auto", T),
        ("2026-05-01T16:00:00.123+08:00", "auto", T),
        ("2026-05-01 16:00:00.123", "auto", T),  # naive: read in the topic's zone (below)
    ],
)
def test_times(raw: object, unit: str, expected: datetime) -> None:
    assert parse_time(raw, unit, ZoneInfo("Asia/Shanghai")) == expected


@pytest.mark.parametrize("raw", ["yesterday", True, None, [1], "2026-13-01", float("inf")])
def test_bad_times(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_time(raw)


def test_qualities_and_online_states() -> None:
    assert [parse_quality(q) for q in ("good", "Uncertain", "bad", 192, "68", True, False)] == [
        GOOD, UNCERTAIN, BAD, 192, 68, GOOD, BAD,
    ]  # fmt: skip
    for bad in (256, -1, 1.5, "fine", None):
        with pytest.raises(ValueError, match="quality"):
            parse_quality(bad)
    assert [parse_online(v) for v in (True, 0, "online", "OFF", "down", "1")] == [
        True, False, True, False, False, True,
    ]  # fmt: skip
    for bad in (2, "maybe", None, [True]):
        with pytest.raises(ValueError, match="online state"):
            parse_online(bad)


# -- whole messages --------------------------------------------------------------------------

TOPIC = "plant/GW-1/GD-101/telemetry"


def test_a_good_message(plant_map) -> None:  # type: ignore[no-untyped-def]
    body = {
        "ts": T_MS,
        "q": "good",
        "values": {"ch4_lel": 12.5, "h2s_ppm": "3.25"},
        "status": {"online": True, "battery": 87.5, "rssi": -71},
    }
    d = decode_message(plant_map, TOPIC, msg(body), NOW)
    assert d.rejected is None
    assert [(r.tag, r.time, r.value, r.quality, r.eng_unit) for r in d.readings] == [
        ("GD-101.CH4", T, 12.5, GOOD, "%LEL"),
        ("GD-101.H2S", T, 3.25, GOOD, "ppm"),
    ]
    assert d.readings[0].address == f"{TOPIC} values.ch4_lel"
    h = d.health
    assert h is not None
    assert (h.device_kind, h.code, h.gateway, h.sensor_kind, h.time, h.online) == (
        "sensor", "GD-101", "GW-1", "gas_combustible", T, True,
    )  # fmt: skip
    assert (h.battery_pct, h.signal_dbm) == (87.5, -71.0)


def test_no_time_means_receive_time_and_optional_values_may_be_missing(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, TOPIC, msg({"values": {"ch4_lel": 1}}), NOW)
    assert d.rejected is None
    assert [(r.tag, r.time, r.value) for r in d.readings] == [("GD-101.CH4", NOW, 1.0)]
    assert d.health is not None and d.health.online  # it spoke: online
    assert d.health.battery_pct is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{oops", "malformed JSON: Expecting property name enclosed in double quotes: line 1 "
                   "column 2 (char 1)"),
        (b"", "malformed JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"\xff\xfe{}", "payload is not UTF-8 text (invalid start byte)"),
        (msg({"values": {}}), "values.ch4_lel: missing"),
        (msg({"values": {"ch4_lel": "N/A"}}), "values.ch4_lel: not a number: 'N/A'"),
        (msg([1, 2]), "values.ch4_lel: missing"),
        (msg({"ts": "soon", "values": {"ch4_lel": 1}}),
         "ts: time 'soon' is neither epoch time nor ISO 8601"),
        (msg({"ts": 86400, "values": {"ch4_lel": 1}}),
         "ts: time 1970-01-02T00:00:00+00:00 is implausible (device clock not set?)"),
        (msg({"q": "fine", "values": {"ch4_lel": 1}}),
         'q: quality "fine" is not 0-255 or good/uncertain/bad'),
        (msg({"values": {"ch4_lel": 1}, "status": {"online": "maybe"}}),
         'status.online: online state "maybe" is not true/false or online/offline'),
    ],
)  # fmt: skip
def test_bad_messages_give_one_rejected_with_the_reason(
    plant_map,  # type: ignore[no-untyped-def]
    payload: bytes,
    reason: str,
) -> None:
    d = decode_message(plant_map, TOPIC, payload, NOW, origin="mqtt://127.0.0.1:1883")
    assert d.rejected is not None
    assert d.rejected.reason == reason
    assert (d.rejected.source, d.rejected.origin, d.rejected.position) == (
        "mqtt", "mqtt://127.0.0.1:1883", TOPIC,
    )  # fmt: skip
    assert d.rejected.raw == payload.decode("utf-8", errors="strict") if payload[:1] != b"\xff" \
        else d.rejected.raw == repr(payload)  # fmt: skip
    if "time" in reason or "quality" in reason or "JSON" in reason or "UTF-8" in reason:
        assert d.readings == () and d.health is None  # message-level: nothing from it


def test_good_values_of_a_bad_message_are_kept_and_problems_are_joined(plant_map) -> None:  # type: ignore[no-untyped-def]
    body = {"values": {"ch4_lel": 4, "h2s_ppm": "x"}, "status": {"battery": 140}}
    d = decode_message(plant_map, TOPIC, msg(body), NOW)
    assert [(r.tag, r.value) for r in d.readings] == [("GD-101.CH4", 4.0)]
    assert d.rejected is not None
    assert d.rejected.reason == (
        "status.battery: battery 140 % is not 0-100; values.h2s_ppm: not a number: 'x'"
    )
    assert d.health is not None and d.health.battery_pct is None


def test_null_and_nan_are_no_value_with_bad_quality(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, TOPIC, b'{"values": {"ch4_lel": null, "h2s_ppm": NaN}}', NOW)
    assert d.rejected is None
    assert [(r.value, r.quality) for r in d.readings] == [(None, BAD), (None, BAD)]


def test_quality_from_the_payload(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, TOPIC, msg({"q": "uncertain", "values": {"ch4_lel": 2}}), NOW)
    assert [r.quality for r in d.readings] == [UNCERTAIN]


def test_an_offline_device_gives_health_and_no_samples(plant_map) -> None:  # type: ignore[no-untyped-def]
    body = {"ts": T_MS, "values": {"ch4_lel": 9.9}, "status": {"online": False, "battery": 3}}
    d = decode_message(plant_map, TOPIC, msg(body), NOW)
    assert d.readings == () and d.rejected is None
    assert d.health is not None and d.health.online is False
    assert (d.health.battery_pct, d.health.signal_dbm) == (3.0, None)
    bare = decode_message(plant_map, TOPIC, msg({"status": {"online": "offline"}}), NOW)
    assert bare.rejected is None and bare.health is not None and not bare.health.online


def test_a_retained_message_without_time_gives_no_samples(plant_map) -> None:  # type: ignore[no-untyped-def]
    body = {"values": {"ch4_lel": 9.9}}
    assert decode_message(plant_map, TOPIC, msg(body), NOW, retained=True).readings == ()
    dated = decode_message(plant_map, TOPIC, msg({"ts": T_MS, **body}), NOW, retained=True)
    assert [r.value for r in dated.readings] == [9.9]


def test_array_paths_and_local_time(plant_map) -> None:  # type: ignore[no-untyped-def]
    body = {"time": "2026-05-01 16:00:00.123", "data": [{"v": 1.5}, {"v": 2.5}]}
    d = decode_message(plant_map, "plant/LA-1/batch", msg(body), NOW)
    assert d.rejected is None
    assert [(r.tag, r.time, r.value) for r in d.readings] == [
        ("LA-1.ARM1", T, 1.5),
        ("LA-1.ARM2", T, 2.5),
    ]


def test_gateway_status(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, "plant/GW-1/status", msg({"state": "online", "signal": -55}), NOW)
    assert d.health is not None and d.readings == () and d.rejected is None
    assert (d.health.device_kind, d.health.code, d.health.online, d.health.signal_dbm) == (
        "gateway", "GW-1", True, -55.0,
    )  # fmt: skip


def test_topics_outside_the_map_and_empty_levels(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, "plant/GW-1/other", b"{}", NOW)
    assert d.rejected is not None and d.rejected.reason == "the topic fits no entry of the map"
    d = decode_message(plant_map, "plant//GD-1/telemetry", b"{}", NOW)
    assert d.rejected is not None and d.rejected.reason == "topic level for {gateway} is empty"


def test_a_bare_value_payload() -> None:
    mmap = load_map(
        '[[topic]]\ntemplate = "site/{tank}/level"\n[[topic.value]]\npath = "$"\n'
        'tag = "{tank}.LT"\n',
        "m.toml",
    )
    d = decode_message(mmap, "site/T-101/level", b"4.75", NOW)
    assert [(r.tag, r.value, r.time) for r in d.readings] == [("T-101.LT", 4.75, NOW)]


def test_a_long_payload_is_capped_in_the_quarantine(plant_map) -> None:  # type: ignore[no-untyped-def]
    d = decode_message(plant_map, TOPIC, b"x" * 100_000, NOW)
    assert d.rejected is not None
    assert len(d.rejected.raw) < 16_100 and d.rejected.raw.endswith("... (100000 bytes)")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=64),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"ts": json_values, "q": json_values, "values": json_values, "status": json_values}
        ).map(lambda v: json.dumps(v).encode()),
    ),
    retained=st.booleans(),
)
def test_no_payload_makes_decoding_raise(body: bytes, retained: bool) -> None:
    mmap = load_map((DATA / "plant.toml").read_text(), "plant.toml")
    d = decode_message(mmap, TOPIC, body, NOW, retained=retained)
    # Either rows or a reason, never silence about a problem and never an exception.
    assert d.readings or d.health or d.rejected is not None
    for r in d.readings:
        assert r.value is None or (isinstance(r.value, float) and r.value == r.value)
        assert r.time - NOW <= timedelta(days=1)


# -- map files -------------------------------------------------------------------------------


def test_the_test_maps_load(plant_map) -> None:  # type: ignore[no-untyped-def]
    assert plant_map.subscriptions() == ["plant/+/+/telemetry", "plant/+/batch", "plant/+/status"]
    csv_map = load_map((DATA / "values.csv").read_text(), "values.csv")
    assert csv_map.subscriptions() == ["plant/+/+/telemetry", "plant/+/batch"]
    first = csv_map.topics[0]
    assert [v.tag.text for v in first.values] == ["{sensor}.CH4", "{sensor}.H2S"]
    assert first.time is not None and first.time.text == "ts"
    assert first.quality is not None and first.values[1].eng_unit == "ppm"
    d = decode_message(csv_map, "plant/LA-1/batch", msg({"time": T_MS, "data": [{"v": 1}]}), NOW)
    assert [(r.tag, r.time) for r in d.readings] == [("LA-1.ARM1", T)]


def test_errors_name_file_and_line() -> None:
    path = DATA / "bad-tag.toml"
    with pytest.raises(MapError) as err:
        load_map(path.read_text(), str(path))
    assert str(err.value) == (
        f"{path}:10: '{{detector}}.H2S': {{detector}} is not a placeholder of the topic "
        "(it has {gateway}, {sensor})"
    )


HEAD = '[[topic]]\ntemplate = "p/{s}"\n'
VALUE = '[[topic.value]]\npath = "v"\ntag = "{s}.PV"\n'


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("[[topic]\n", 1, "Expected ']]' at the end of an array declaration"),
        ('title = "x"\n' + HEAD + VALUE, 1, "unknown key 'title' (expected [[topic]])"),
        ("", 1, "no [[topic]] entries"),
        (HEAD, 1, "a topic needs at least one [[topic.value]] or a [topic.health]"),
        (HEAD + 'tyme = "ts"\n' + VALUE, 3, "unknown key 'tyme' in [[topic]] (expected one of "
         "health, quality, template, time, time_unit, timezone, value)"),
        (HEAD + 'timezone = "Mars/Olympus"\n' + VALUE, 3,
         "timezone 'Mars/Olympus' is not an IANA zone name"),
        (HEAD + 'time_unit = "min"\n' + VALUE, 3,
         "time_unit 'min' is not one of auto, s, ms, us, ns"),
        (HEAD + VALUE.replace('"v"', '"a..b"'), 4, "'a..b' is not a JSON path (at '..b')"),
        (HEAD + '[[topic.value]]\npath = "v"\n', 3, "tag is required"),
        (HEAD + VALUE + VALUE.replace('"v"', '"w"'), 8, "tag '{s}.PV' already on line 5"),
        (HEAD + VALUE + HEAD + VALUE, 7, "template 'p/{s}' already on line 2"),
        ('[[topic]]\ntemplate = "p/+"\n' + VALUE, 2,
         "'p/+': use {name} placeholders, not the wildcards + and #"),
        (HEAD + '[topic.health]\ndevice = "sensor"\ncode = "{s}"\n', 3,
         "a sensor needs sensor_kind (to register sensors not yet known)"),
        (HEAD + '[topic.health]\ndevice = "sensor"\ncode = "{s}"\nsensor_kind = "gas"\n', 6,
         "sensor_kind 'gas' is not one of vibration_triaxial, temperature, acoustic, speed, "
         "current, gas_combustible, gas_toxic, humidity, level, pressure"),
        (HEAD + '[topic.health]\ndevice = "gateway"\ncode = "{s}"\ngateway = "{s}"\n', 6,
         "gateway is for sensors, not gateways"),
        (HEAD + '[topic.health]\ndevice = "camera"\ncode = "{s}"\n', 4,
         "device 'camera' is not sensor or gateway"),
        (HEAD + '[topic.health]\ndevice = "gateway"\ncode = "{x}"\n', 5,
         "'{x}': {x} is not a placeholder of the topic (it has {s})"),
        (HEAD + '[topic.health]\ndevice = "gateway"\ncode = "{s}"\nsilent_after_s = 0\n', 6,
         "silent_after_s must be a number > 0"),
        (HEAD + VALUE + "required = 1\n", 6, "required must be true or false"),
    ],
)  # fmt: skip
def test_toml_errors(text: str, line: int, reason: str) -> None:
    with pytest.raises(MapError) as err:
        load_map(text, "m.toml")
    assert str(err.value) == f"m.toml:{line}: {reason}"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "empty map (expected the header topic,path,tag)"),
        ("topic,path\n", 1, "header lacks column tag"),
        ("topic,path,tag,colour\n", 1, "unknown column colour"),
        ("topic,path,tag\n", 1, "no rows after the header"),
        ("topic,path,tag\np/{s},v,{s}.PV,extra\n", 2, "4 fields, the header has 3"),
        ("topic,path,tag\np/{s},,{s}.PV\n", 2, "path is empty"),
        ("# a comment\ntopic,path,tag\np/{s},v,{t}\n", 3,
         "'{t}': {t} is not a placeholder of the topic (it has {s})"),
        ("topic,path,tag,time\np/{s},v,{s}.A,ts\np/{s},w,{s}.B,time\n", 3,
         "time differs from line 2 for the same topic (time, time_unit, timezone and quality "
         "belong to the topic)"),
        ("topic,path,tag\np/{s},v,{s}.A\np/{s},w,{s}.A\n", 3, "tag '{s}.A' already mapped on "
         "line 2"),
        ("topic,path,tag,required\np/{s},v,{s}.A,perhaps\n", 2,
         "required 'perhaps' is not true or false"),
    ],
)  # fmt: skip
def test_csv_errors(text: str, line: int, reason: str) -> None:
    with pytest.raises(MapError) as err:
        load_map(text, "m.csv")
    assert str(err.value) == f"m.csv:{line}: {reason}"


def test_a_map_is_toml_or_csv() -> None:
    with pytest.raises(MapError, match=r"^m.json:1: a map is a .toml or .csv file$"):
        load_map("{}", "m.json")
