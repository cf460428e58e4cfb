"""OPC UA notifications to hazwatch rows: pure functions, no I/O and no asyncua import.

The transport turns asyncua's objects into plain Python values first (``DataChange`` for a
monitored value, a ``dict`` keyed by browse path such as ``"ActiveState/Id"`` for an event), so
everything protocol-specific that decides what is stored is here and tested without a server.

    quality_from_status(0x40940000)                       # -> 84 (uncertain, EU exceeded)
    sample_from_change(DataChange("ns=2;s=FI101", 3.5, 0, t), tag_id=7)  # -> Sample(t, 7, 3.5, 192)
    state = condition_state(fields)                       # fields of one A&C event
    events = alarm_events(fields, state, previous, tag_id=7)  # -> [AlarmEvent(..., "ALM", "HH")]

Severity (1-1000) to priority, the thresholds hazwatch applies to every OPC UA server::

    severity >= 800  emergency
    severity >= 500  high
    severity >= 200  low
    otherwise        journal
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.types import BAD, GOOD, UNCERTAIN, AlarmEvent, Rejected, Sample

SOURCE = "opcua"

# -- data changes --------------------------------------------------------------------------

#: OPC UA StatusCode (Part 4, 7.39 / Part 8 for the DA codes) -> OPC DA quality byte
#: (QQSSSSLL). Codes not listed fall back to their severity's generic byte.
_QUALITY_BY_CODE: dict[int, int] = {
    0x00000000: 0xC0,  # Good
    0x00960000: 0xD8,  # GoodLocalOverride
    0x40000000: 0x40,  # Uncertain
    0x408F0000: 0x44,  # UncertainNoCommunicationLastUsableValue -> last usable value
    0x40900000: 0x44,  # UncertainLastUsableValue
    0x40920000: 0x40,  # UncertainInitialValue
    0x40930000: 0x50,  # UncertainSensorNotAccurate
    0x40940000: 0x54,  # UncertainEngineeringUnitsExceeded
    0x40950000: 0x58,  # UncertainSubNormal
    0x80000000: 0x00,  # Bad
    0x80890000: 0x04,  # BadConfigurationError
    0x808A0000: 0x08,  # BadNotConnected
    0x808B0000: 0x0C,  # BadDeviceFailure
    0x808C0000: 0x10,  # BadSensorFailure
    0x80050000: 0x18,  # BadCommunicationError -> comm failure
    0x80310000: 0x18,  # BadNoCommunication -> comm failure
    0x808D0000: 0x1C,  # BadOutOfService
    0x80320000: 0x20,  # BadWaitingForInitialData
}


def quality_from_status(code: int) -> int:
    """The OPC DA quality byte stored in ts.sample.quality for an OPC UA StatusCode.

    >>> quality_from_status(0), quality_from_status(0x40940000), quality_from_status(0x808C0000)
    (192, 84, 16)

    The two severity bits decide good (192..), uncertain (64..) or bad (0..); known sub-codes
    map to the DA sub-status; the limit bits (0x300: low, high, constant) carry over as the
    DA limit bits.
    """
    code &= 0xFFFFFFFF
    base = _QUALITY_BY_CODE.get(code & 0xFFFF0000)
    if base is None:
        severity = code >> 30
        base = GOOD if severity == 0 else UNCERTAIN if severity == 1 else BAD
    return base | ((code >> 8) & 0x3)


@dataclass(frozen=True)
class DataChange:
    """One monitored-item notification, as plain values.

    ``value`` is what the Variant held (int, float, bool, str, …, or None); ``status`` is the
    32-bit StatusCode of the DataValue.
    """

    node_id: str
    value: Any
    status: int
    source_time: datetime | None = None
    server_time: datetime | None = None


def numeric(value: Any) -> float | None:
    """The value as a float for ts.sample; raises ValueError for what is not a number.

    >>> numeric(True), numeric(3), numeric(None)
    (1.0, 3.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        f = float(value)
        # NaN/inf are how some servers say "no value"; stored as NULL with the quality.
        return f if math.isfinite(f) else None
    raise ValueError(f"not a number: {type(value).__name__} {value!r:.80}")


def sample_from_change(change: DataChange, tag_id: int, received: datetime) -> Sample | Rejected:
    """A ts.sample row for a data change, or a Rejected when the value is not numeric.

    The source timestamp is used when the server gives one (the device's time), else the
    server timestamp, else the time the notification was received.
    """
    when = change.source_time or change.server_time or received
    try:
        value = numeric(change.value)
    except ValueError as exc:
        return Rejected(SOURCE, str(exc), repr(change.value)[:2000], origin=change.node_id)
    quality = quality_from_status(change.status)
    return Sample(when, tag_id, value, quality)


# -- alarms & conditions -------------------------------------------------------------------

#: The event fields the transport asks for, by browse path from the event type. Servers
#: answer null for fields their event types lack, so one list serves every condition type.
#: "InputValue" is not in Part 9: hazwatch's simulator (and several DCS servers, under their
#: own names) send the process value with the alarm; without it AlarmEvent.value is None.
EVENT_FIELDS: tuple[str, ...] = (
    "EventId",
    "EventType",
    "SourceNode",
    "SourceName",
    "Time",
    "Message",
    "Severity",
    "ConditionClassId",
    "ConditionName",
    "Retain",
    "ClientUserId",
    "EnabledState/Id",
    "ActiveState/Id",
    "ActiveState/TransitionTime",
    "AckedState/Id",
    "AckedState/TransitionTime",
    "SuppressedState/Id",
    "OutOfServiceState/Id",
    "ShelvingState/CurrentState",
    "LimitState/CurrentState",
    "HighHighState/Id",
    "HighState/Id",
    "LowState/Id",
    "LowLowState/Id",
    "HighHighLimit",
    "HighLimit",
    "LowLimit",
    "LowLowLimit",
    "InputValue",
)
#: The ConditionId is the NodeId *attribute* of the condition, not a field of the event.
CONDITION_ID = "NodeId"

PRIORITY_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (800, "emergency"),
    (500, "high"),
    (200, "low"),
)


def priority_from_severity(severity: int | None) -> str | None:
    """hazwatch priority for an OPC UA severity (1-1000); None when the event has none.

    >>> [priority_from_severity(s) for s in (1000, 800, 799, 500, 200, 199, 1)]
    ['emergency', 'emergency', 'high', 'high', 'low', 'journal', 'journal']
    """
    if severity is None:
        return None
    for threshold, priority in PRIORITY_THRESHOLDS:
        if severity >= threshold:
            return priority
    return "journal"


#: Severity the simulator sends for each priority (the middle of each band above).
SEVERITY_FOR_PRIORITY: dict[str, int] = {"emergency": 900, "high": 700, "low": 400, "journal": 100}

_LIMIT_STATES = {"highhigh": "HH", "high": "H", "low": "L", "lowlow": "LL"}
_LIMIT_FIELDS = {"HH": "HighHighLimit", "H": "HighLimit", "L": "LowLimit", "LL": "LowLowLimit"}
# Condition by event type, for types that have no limit state (ns=0 numeric ids, Part 9).
_CONDITION_BY_TYPE = {
    "i=9623": "ROC",  # ExclusiveRateOfChangeAlarmType
    "i=9764": "DEV",  # ExclusiveDeviationAlarmType
    "i=10214": "ROC",  # NonExclusiveRateOfChangeAlarmType
    "i=10368": "DEV",  # NonExclusiveDeviationAlarmType
    "i=10523": "DISCRETE",  # DiscreteAlarmType
    "i=10637": "DISCRETE",  # OffNormalAlarmType
    "i=10751": "TRIP",  # TripAlarmType
}
# ConditionClassId -> category (Part 9, 5.9: process, maintenance, system, safety).
_CATEGORY_BY_CLASS = {
    "i=11164": "process",
    "i=11165": "equipment",
    "i=11166": "instrument",
    "i=17218": "safety",
}
_CONDITIONS = ("HH", "H", "L", "LL", "ROC", "DEV", "DISCRETE", "BAD", "TRIP")


@dataclass(frozen=True)
class ConditionState:
    """What one event says about its condition; compared with the previous one for kinds."""

    active: bool = False
    acked: bool = True
    shelved: bool = False
    suppressed: bool = False
    out_of_service: bool = False
    #: HH, H, L, LL, … ("" when the server does not say); kept from the previous event when
    #: the current one has none, since inactive limit alarms carry no limit state.
    condition: str = ""


#: What an unseen condition is taken to have been: inactive, acknowledged, in service.
NORMAL = ConditionState()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def limit_condition(fields: Mapping[str, Any]) -> str:
    """HH/H/L/LL/ROC/DEV/DISCRETE/TRIP for an event, or "" when it cannot be told.

    ExclusiveLimitAlarmType says it in LimitState/CurrentState ("HighHigh", "High", "Low",
    "LowLow"); NonExclusiveLimitAlarmType in one two-state variable per limit (the most
    severe active one wins); other types by their EventType; else a ConditionName that is
    exactly one of the hazwatch conditions.
    """
    state = _text(fields.get("LimitState/CurrentState")).replace(" ", "").lower()
    if state in _LIMIT_STATES:
        return _LIMIT_STATES[state]
    for cond, name in (("HH", "HighHigh"), ("LL", "LowLow"), ("H", "High"), ("L", "Low")):
        if fields.get(f"{name}State/Id") is True:
            return cond
    by_type = _CONDITION_BY_TYPE.get(_text(fields.get("EventType")))
    if by_type:
        return by_type
    name = _text(fields.get("ConditionName")).upper()
    return name if name in _CONDITIONS else ""


def condition_state(
    fields: Mapping[str, Any], previous: ConditionState | None = None
) -> ConditionState | None:
    """The condition state an event reports; None when the event is not an alarm.

    Only events with an ActiveState (AlarmConditionType and its subtypes) are alarms; plain
    events, refresh markers and audit events return None.
    """
    active = fields.get("ActiveState/Id")
    if not isinstance(active, bool):
        return None
    acked = fields.get("AckedState/Id")
    shelving = _text(fields.get("ShelvingState/CurrentState")).replace(" ", "").lower()
    condition = limit_condition(fields) or (previous.condition if previous else "")
    return ConditionState(
        active=active,
        # Servers that do not support acknowledgement leave AckedState null: never unacked.
        acked=acked if isinstance(acked, bool) else True,
        shelved=shelving not in ("", "unshelved"),
        suppressed=fields.get("SuppressedState/Id") is True,
        out_of_service=fields.get("OutOfServiceState/Id") is True,
        condition=condition,
    )


def transitions(previous: ConditionState | None, current: ConditionState) -> list[tuple[str, str]]:
    """The (kind, condition) pairs implied by going from ``previous`` to ``current``, in order.

    >>> transitions(None, ConditionState(active=True, acked=False, condition="H"))
    [('ALM', 'H')]
    >>> transitions(ConditionState(True, False, condition="H"), ConditionState(False, True))
    [('ACK', 'H'), ('RTN', 'H')]

    A condition seen for the first time is compared with NORMAL, so an alarm that was already
    acknowledged when the collector connected gives ALM only (its ACK time is unknown). An
    exclusive limit alarm that moves from one limit to another while active (H -> HH) gives
    RTN of the old limit and ALM of the new one, because hazwatch keeps one record per limit.
    """
    prev = previous or NORMAL
    cond = current.condition or prev.condition
    kinds: list[tuple[str, str]] = []
    switches = (
        ("out_of_service", "OOS", "INS"),
        ("suppressed", "SUPPRESS", "UNSUPPRESS"),
        ("shelved", "SHELVE", "UNSHELVE"),
    )
    # Taking the alarm out of view comes before what happens to it …
    kinds += [(on, cond) for a, on, _ in switches if getattr(current, a) > getattr(prev, a)]
    if current.active and not prev.active:
        kinds.append(("ALM", cond))
    elif current.active and prev.condition and cond != prev.condition:
        kinds += [("RTN", prev.condition), ("ALM", cond)]
    elif current.active and prev.acked and not current.acked:
        # Re-alarm of the same limit (e.g. after a severity change): a new occurrence.
        kinds.append(("ALM", cond))
    if current.acked and not prev.acked:
        kinds.append(("ACK", cond))
    if prev.active and not current.active:
        kinds.append(("RTN", prev.condition or cond))
    # … and putting it back comes after.
    kinds += [(off, cond) for a, _, off in switches if getattr(current, a) < getattr(prev, a)]
    return kinds


def event_id_hex(value: Any) -> str | None:
    """EventId (a ByteString) as lower-case hex, the source_event_id of alarm.event."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


def category_from_class(class_id: Any) -> str | None:
    """hazwatch category for a ConditionClassId NodeId string (``"i=11164"`` -> process)."""
    return _CATEGORY_BY_CLASS.get(_text(class_id))


def _float_or_none(value: Any) -> float | None:
    try:
        return numeric(value)
    except ValueError:
        return None


def alarm_events(
    fields: Mapping[str, Any],
    current: ConditionState,
    previous: ConditionState | None,
    *,
    tag_id: int,
    received: datetime,
    points: Mapping[str, tuple[int, str]] | None = None,
) -> list[AlarmEvent]:
    """alarm.event rows for one A&C event, given the condition's previous state.

    ``points`` maps a condition (HH, H, …) of this tag to its alarm point in the alarm master
    database as ``(point_id, category)``; that category wins over the ConditionClassId, which
    is coarser. RTN and ACK use the limit the alarm was raised on when the event has none.
    """
    kinds = transitions(previous, current)
    if not kinds:
        return []
    event_time = fields.get("Time") if isinstance(fields.get("Time"), datetime) else received
    severity = fields.get("Severity")
    priority = priority_from_severity(int(severity)) if isinstance(severity, int) else None
    message = _text(fields.get("Message")) or None
    operator = _text(fields.get("ClientUserId")) or None
    value = _float_or_none(fields.get("InputValue"))
    event_id = event_id_hex(fields.get("EventId"))
    class_category = category_from_class(fields.get("ConditionClassId"))
    rows: list[AlarmEvent] = []
    for kind, cond in kinds:
        point_id, category = (points or {}).get(cond, (None, class_category))
        rows.append(
            AlarmEvent(
                time=_transition_time(fields, kind, event_time),
                tag_id=tag_id,
                kind=kind,
                condition=cond,
                point_id=point_id,
                priority=priority,
                category=category,
                limit_value=_float_or_none(fields.get(_LIMIT_FIELDS.get(cond, ""))),
                value=value,
                message=message,
                # Who acted is meaningful for operator actions, not for process transitions.
                operator=operator if kind not in ("ALM", "RTN") else None,
                source=SOURCE,
                source_event_id=event_id,
            )
        )
    return rows


def _transition_time(fields: Mapping[str, Any], kind: str, event_time: datetime) -> datetime:
    """When the state changed: the state's TransitionTime when the server gives it (an event
    re-sent by ConditionRefresh carries the time of the refresh, not of the alarm)."""
    name = {"ALM": "ActiveState", "RTN": "ActiveState", "ACK": "AckedState"}.get(kind)
    when = fields.get(f"{name}/TransitionTime") if name else None
    return when if isinstance(when, datetime) else event_time


# -- the collector's map file --------------------------------------------------------------

#: ns=<index>;(i|s|g|b)=<id>, nsu=<uri>;… or a bare i=/s=/g=/b= (namespace 0), as OPC UA
#: writes node ids (Part 6, 5.3.1.10).
_NODE_ID = re.compile(
    r"^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)$"
)
MAP_COLUMNS = ("node_id", "tag")
MAP_OPTIONAL = ("eng_unit", "description")


class MapError(ValueError):
    """A bad line in a map file; ``str(err)`` is ``FILE:LINE: reason``."""


@dataclass(frozen=True)
class MapRow:
    node_id: str
    tag: str
    line: int
    eng_unit: str | None = None
    description: str | None = None


def parse_map(text: str, source: str) -> list[MapRow]:
    """Rows of a collector map (CSV: ``node_id,tag`` and optionally ``eng_unit,description``).

    >>> [r.tag for r in parse_map("node_id,tag\\nns=2;s=FI101,FI-101\\n", "m.csv")]
    ['FI-101']

    Raises MapError naming the file and line: a missing column, a node id that is not one,
    an empty or over-long tag, a node or tag listed twice, no rows at all.
    """
    rows: list[MapRow] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    seen_nodes: dict[str, int] = {}
    seen_tags: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in cells]
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in MAP_COLUMNS if c not in header]
            if missing:
                raise MapError(f"{source}:{line}: header lacks column {', '.join(missing)}")
            unknown = [c for c in header if c not in MAP_COLUMNS + MAP_OPTIONAL]
            if unknown:
                raise MapError(f"{source}:{line}: unknown column {', '.join(unknown)}")
            continue
        if len(cells) != len(header):
            raise MapError(f"{source}:{line}: {len(cells)} fields, the header has {len(header)}")
        row = dict(zip(header, cells, strict=True))
        node_id, tag = row["node_id"], row["tag"]
        if not _NODE_ID.match(node_id):
            raise MapError(f"{source}:{line}: {node_id!r} is not an OPC UA node id")
        if not tag or len(tag) > 200:
            raise MapError(f"{source}:{line}: tag must be 1 to 200 characters")
        if node_id in seen_nodes:
            first = seen_nodes[node_id]
            raise MapError(f"{source}:{line}: node {node_id} already mapped on line {first}")
        if tag in seen_tags:
            raise MapError(f"{source}:{line}: tag {tag} already mapped on line {seen_tags[tag]}")
        seen_nodes[node_id], seen_tags[tag] = line, line
        rows.append(
            MapRow(node_id, tag, line, row.get("eng_unit") or None, row.get("description") or None)
        )
    if header is None:
        raise MapError(f"{source}:1: empty file, expected a header node_id,tag")
    if not rows:
        raise MapError(f"{source}:{reader.line_num}: no rows after the header")
    return rows
