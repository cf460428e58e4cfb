"""Pure decoding of OPC UA notifications: status codes, data changes, A&C events, the map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.opcua.decode import (
    NORMAL,
    ConditionState,
    DataChange,
    MapError,
    alarm_events,
    condition_state,
    event_id_hex,
    limit_condition,
    numeric,
    parse_map,
    priority_from_severity,
    quality_from_status,
    sample_from_change,
    transitions,
)
from ingest.types import Rejected, Sample

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        (0x00000000, 192),  # Good
        (0x00960000, 216),  # GoodLocalOverride
        (0x40000000, 64),  # Uncertain
        (0x40900000, 68),  # UncertainLastUsableValue
        (0x40930000, 80),  # UncertainSensorNotAccurate
        (0x40940000, 84),  # UncertainEngineeringUnitsExceeded
        (0x40950000, 88),  # UncertainSubNormal
        (0x80000000, 0),  # Bad
        (0x80890000, 4),  # BadConfigurationError
        (0x808A0000, 8),  # BadNotConnected
        (0x808B0000, 12),  # BadDeviceFailure
        (0x808C0000, 16),  # BadSensorFailure
        (0x80310000, 24),  # BadNoCommunication
        (0x808D0000, 28),  # BadOutOfService
        (0x80320000, 32),  # BadWaitingForInitialData
        (0x00A70000, 192),  # an unlisted good code: plain good
        (0x40A70000, 64),  # an unlisted uncertain code
        (0x80AB0000, 0),  # an unlisted bad code
        (0xC0000000, 0),  # severity bits 11 are bad too
        (0x00000100, 193),  # good, limit low
        (0x00000200, 194),  # good, limit high
        (0x40940300, 87),  # uncertain EU exceeded, limit constant
    ],
)
def test_status_code_to_quality_byte(code: int, quality: int) -> None:
    assert quality_from_status(code) == quality


def test_quality_bands_follow_severity_for_every_code() -> None:
    for code in range(0, 0x1_0000_0000, 0x0101_0000):
        q = quality_from_status(code)
        severity = code >> 30
        band = range(192, 256) if severity == 0 else range(64, 128) if severity == 1 else range(64)
        assert q in band, hex(code)


def test_numeric_values() -> None:
    assert numeric(3) == 3.0
    assert numeric(2.5) == 2.5
    assert numeric(False) == 0.0
    assert numeric(None) is None
    assert numeric(float("nan")) is None
    with pytest.raises(ValueError, match="not a number"):
        numeric("running")


def test_data_change_to_sample_prefers_source_time() -> None:
    server = T0 + timedelta(seconds=1)
    received = T0 + timedelta(seconds=2)
    change = DataChange("ns=2;s=FI101", 12.5, 0x40940000, T0, server)
    assert sample_from_change(change, 7, received) == Sample(T0, 7, 12.5, 84)
    change = DataChange("ns=2;s=FI101", 1, 0, None, server)
    assert sample_from_change(change, 7, received) == Sample(server, 7, 1.0, 192)
    change = DataChange("ns=2;s=FI101", None, 0x808C0000)
    assert sample_from_change(change, 7, received) == Sample(received, 7, None, 16)


def test_non_numeric_value_is_rejected_with_its_node() -> None:
    row = sample_from_change(DataChange("ns=2;s=STATE", "RUN", 0, T0), 7, T0)
    assert isinstance(row, Rejected)
    assert row.origin == "ns=2;s=STATE"
    assert row.source == "opcua"
    assert "not a number" in row.reason
    assert row.raw == "'RUN'"


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        (1000, "emergency"),
        (800, "emergency"),
        (799, "high"),
        (500, "high"),
        (499, "low"),
        (200, "low"),
        (199, "journal"),
        (1, "journal"),
        (None, None),
    ],
)
def test_severity_to_priority(severity: int | None, priority: str | None) -> None:
    assert priority_from_severity(severity) == priority


def _event(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "EventId": bytes.fromhex("00a1ff"),
        "EventType": "i=9341",
        "SourceNode": "ns=2;s=PI-101",
        "SourceName": "PI-101",
        "Time": T0,
        "Message": "PI-101 high high",
        "Severity": 700,
        "ConditionName": "PI-101 level",
        "NodeId": "ns=2;s=PI-101.Alarm",
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("fields", "condition"),
    [
        ({"LimitState/CurrentState": "HighHigh"}, "HH"),
        ({"LimitState/CurrentState": "High"}, "H"),
        ({"LimitState/CurrentState": "Low"}, "L"),
        ({"LimitState/CurrentState": "LowLow"}, "LL"),
        ({"LimitState/CurrentState": "Low Low"}, "LL"),
        ({"HighState/Id": True, "HighHighState/Id": True}, "HH"),  # non-exclusive: worst wins
        ({"LowState/Id": True}, "L"),
        ({"EventType": "i=10751"}, "TRIP"),  # TripAlarmType
        ({"EventType": "i=10637"}, "DISCRETE"),  # OffNormalAlarmType
        ({"EventType": "i=9764"}, "DEV"),
        ({"EventType": "i=9623"}, "ROC"),
        ({"EventType": "ns=3;i=5", "ConditionName": "hh"}, "HH"),
        ({"EventType": "ns=3;i=5"}, ""),
    ],
)
def test_limit_condition(fields: dict[str, object], condition: str) -> None:
    assert limit_condition(_event(**fields)) == condition


def test_condition_state_of_an_alarm_event() -> None:
    st = condition_state(
        _event(
            **{
                "ActiveState/Id": True,
                "AckedState/Id": False,
                "LimitState/CurrentState": "HighHigh",
                "ShelvingState/CurrentState": "TimedShelved",
                "SuppressedState/Id": True,
                "OutOfServiceState/Id": False,
            }
        )
    )
    assert st == ConditionState(
        active=True, acked=False, shelved=True, suppressed=True, condition="HH"
    )


def test_events_without_active_state_are_not_alarms() -> None:
    assert condition_state({"EventType": "i=2041", "Message": "audit"}) is None
    assert condition_state(_event(**{"ActiveState/Id": None})) is None


def test_missing_acked_state_counts_as_acknowledged_and_limit_is_remembered() -> None:
    prev = ConditionState(active=True, acked=False, condition="H")
    st = condition_state(_event(**{"ActiveState/Id": False}), prev)
    assert st == ConditionState(active=False, acked=True, condition="H")
    unshelved = condition_state(
        _event(**{"ActiveState/Id": True, "ShelvingState/CurrentState": "Unshelved"})
    )
    assert unshelved is not None and not unshelved.shelved


def S(**kw: object) -> ConditionState:
    return ConditionState(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("previous", "current", "kinds"),
    [
        (None, S(active=True, acked=False, condition="H"), [("ALM", "H")]),
        # Already acknowledged when first seen: the ACK time is unknown, so ALM only.
        (None, S(active=True, acked=True, condition="H"), [("ALM", "H")]),
        (None, NORMAL, []),
        (S(active=True, acked=False, condition="H"), S(active=True, acked=True, condition="H"),
         [("ACK", "H")]),
        (S(active=True, acked=True, condition="H"), S(active=False, acked=True, condition="H"),
         [("RTN", "H")]),
        (S(active=True, acked=False, condition="H"), S(active=False, acked=True),
         [("ACK", "H"), ("RTN", "H")]),
        (S(active=False, acked=False, condition="L"), S(active=False, acked=True, condition="L"),
         [("ACK", "L")]),
        # Exclusive limit alarm moving from H to HH: one record per limit.
        (S(active=True, acked=True, condition="H"), S(active=True, acked=False, condition="HH"),
         [("RTN", "H"), ("ALM", "HH")]),
        # Re-alarm of the same limit after it was acknowledged.
        (S(active=True, acked=True, condition="H"), S(active=True, acked=False, condition="H"),
         [("ALM", "H")]),
        # Nothing changed (a ConditionRefresh re-send).
        (S(active=True, acked=False, condition="H"), S(active=True, acked=False, condition="H"),
         []),
        (S(active=True, condition="H"), S(active=True, shelved=True, condition="H"),
         [("SHELVE", "H")]),
        (S(active=True, shelved=True, condition="H"), S(active=True, condition="H"),
         [("UNSHELVE", "H")]),
        (S(condition="L"), S(suppressed=True, condition="L"), [("SUPPRESS", "L")]),
        (S(suppressed=True, condition="L"), S(condition="L"), [("UNSUPPRESS", "L")]),
        (S(condition="L"), S(out_of_service=True, condition="L"), [("OOS", "L")]),
        (S(out_of_service=True, condition="L"), S(condition="L"), [("INS", "L")]),
        # Put out of service while active: OOS comes first, then what happened to the alarm.
        (S(active=True, condition="H"), S(out_of_service=True, condition="H"),
         [("OOS", "H"), ("RTN", "H")]),
    ],
)  # fmt: skip
def test_transitions(
    previous: ConditionState | None, current: ConditionState, kinds: list[tuple[str, str]]
) -> None:
    assert transitions(previous, current) == kinds


def test_alarm_events_carry_priority_limit_value_message_and_event_id() -> None:
    fields = _event(
        **{
            "ActiveState/Id": True,
            "ActiveState/TransitionTime": T0 - timedelta(seconds=3),
            "AckedState/Id": False,
            "LimitState/CurrentState": "HighHigh",
            "HighHighLimit": 2950.0,
            "HighLimit": 2900.0,
            "InputValue": 2961.5,
            "Severity": 900,
            "ConditionClassId": "i=17218",
        }
    )
    current = condition_state(fields)
    assert current is not None
    (row,) = alarm_events(fields, current, None, tag_id=5, received=T0)
    assert row.kind == "ALM"
    assert row.condition == "HH"
    assert row.time == T0 - timedelta(seconds=3)  # the state's transition time
    assert row.priority == "emergency"
    assert row.category == "safety"  # from the ConditionClassId
    assert row.limit_value == 2950.0
    assert row.value == 2961.5
    assert row.message == "PI-101 high high"
    assert row.source == "opcua"
    assert row.source_event_id == "00a1ff"
    assert row.operator is None
    assert row.point_id is None


def test_ack_event_names_the_operator_and_uses_the_alarm_points() -> None:
    prev = ConditionState(active=True, acked=False, condition="H")
    fields = _event(
        **{
            "ActiveState/Id": True,
            "AckedState/Id": True,
            "AckedState/TransitionTime": T0 + timedelta(seconds=40),
            "ClientUserId": "li.wei",
            "Severity": 300,
            "HighLimit": 2900.0,
        }
    )
    current = condition_state(fields, prev)
    assert current is not None
    (row,) = alarm_events(
        fields, current, prev, tag_id=5, received=T0, points={"H": (42, "process")}
    )
    assert (row.kind, row.condition, row.operator) == ("ACK", "H", "li.wei")
    assert row.time == T0 + timedelta(seconds=40)
    assert (row.point_id, row.category, row.priority) == (42, "process", "low")
    assert row.limit_value == 2900.0


def test_event_time_is_used_without_transition_times_and_received_without_either() -> None:
    fields = _event(**{"ActiveState/Id": True, "AckedState/Id": False, "Time": None})
    current = condition_state(fields)
    assert current is not None
    (row,) = alarm_events(fields, current, None, tag_id=5, received=T0 + timedelta(hours=1))
    assert row.time == T0 + timedelta(hours=1)
    assert row.condition == ""


def test_event_id_hex() -> None:
    assert event_id_hex(b"\x01\xab") == "01ab"
    assert event_id_hex(None) is None
    assert event_id_hex("already-text") == "already-text"


# -- the map file -----------------------------------------------------------------------------


def test_parse_map() -> None:
    text = (
        "\ufeffnode_id,tag,eng_unit\n"
        "# the reactor\n"
        "ns=2;s=TEP-XMEAS07,PI-107,kPa\n"
        "\n"
        "ns=3;i=1001,TI-109,\n"
        "nsu=urn:x:y;s=Level.1,LI-110,%\n"
        "i=2258,SERVER-TIME,\n"
    )
    rows = parse_map(text, "m.csv")
    assert [(r.node_id, r.tag, r.line, r.eng_unit) for r in rows] == [
        ("ns=2;s=TEP-XMEAS07", "PI-107", 3, "kPa"),
        ("ns=3;i=1001", "TI-109", 5, None),
        ("nsu=urn:x:y;s=Level.1", "LI-110", 6, "%"),
        ("i=2258", "SERVER-TIME", 7, None),
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "m.csv:1: empty file"),
        ("node,tag\nns=2;s=A,A\n", "m.csv:1: header lacks column node_id"),
        ("node_id,tag,colour\nns=2;s=A,A,red\n", "m.csv:1: unknown column colour"),
        ("node_id,tag\n", "m.csv:1: no rows"),
        ("node_id,tag\nns=2;s=A,A\nns=2;x=B,B\n", "m.csv:3: 'ns=2;x=B' is not an OPC UA node id"),
        ("node_id,tag\nns=2;s=A\n", "m.csv:2: 1 fields, the header has 2"),
        ("node_id,tag\nns=2;s=A,\n", "m.csv:2: tag must be 1 to 200 characters"),
        (
            "node_id,tag\nns=2;s=A,A\nns=2;s=A,B\n",
            "m.csv:3: node ns=2;s=A already mapped on line 2",
        ),
        ("node_id,tag\nns=2;s=A,A\nns=2;s=B,A\n", "m.csv:3: tag A already mapped on line 2"),
    ],
)
def test_bad_maps_name_file_and_line(text: str, error: str) -> None:
    with pytest.raises(MapError) as exc:
        parse_map(text, "m.csv")
    assert str(exc.value).startswith(error)
