"""A3: events of one tag -> alarm records through the ISA-18.2 state model (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.alarms.records import Modes, PointInfo, ShiftCalendar, TagInfo, replay
from ingest.types import AlarmEvent

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TAG = TagInfo(7, "FI-101", enterprise_id=1, unit_id=3, equipment_id=None)


def ev(s: float, kind: str, cond: str = "H", **kw: object) -> AlarmEvent:
    return AlarmEvent(T0 + timedelta(seconds=s), 7, kind, cond, **kw)  # type: ignore[arg-type]


def test_one_occurrence_raised_acked_returned_cleared() -> None:
    """ALM 0 s, ACK 29 s, RTN 100 s: one record, cleared at 100 s (acked and returned)."""
    (rec,) = replay([ev(0, "ALM", value=91.0), ev(29, "ACK", operator="op1"), ev(100, "RTN")],
                    tag=TAG)  # fmt: skip
    assert rec.raised == T0
    assert rec.acked == T0 + timedelta(seconds=29) and rec.acked_by == "op1"
    assert rec.returned == T0 + timedelta(seconds=100)
    assert rec.cleared == rec.returned
    assert rec.value == 91.0 and rec.unit_id == 3 and rec.annunciated


def test_return_before_ack_clears_at_ack() -> None:
    """ALM 0, RTN 10, ACK 50: cleared when it is finally acknowledged (50 s)."""
    (rec,) = replay([ev(0, "ALM"), ev(10, "RTN"), ev(50, "ACK")], tag=TAG)
    assert rec.cleared == T0 + timedelta(seconds=50)


def test_only_activations_make_records() -> None:
    """ACK and RTN without an activation and a repeated ALM while unacked make no record."""
    recs = replay([ev(0, "ACK"), ev(1, "RTN"), ev(5, "ALM"), ev(6, "ALM"), ev(9, "RTN")],
                  tag=TAG)  # fmt: skip
    assert len(recs) == 1 and recs[0].raised == T0 + timedelta(seconds=5)


def test_realarm_counts_on_the_occurrence() -> None:
    """ALM 0, ACK 5, ALM 60 (re-alarm while still active), RTN 90, ALM 200: two records.

    The ALM at 60 s re-annunciates the acknowledged, still active occurrence (realarms = 1);
    the ALM at 200 s, after the return, is a new activation.
    """
    recs = replay([ev(0, "ALM"), ev(5, "ACK"), ev(60, "ALM"), ev(90, "RTN"), ev(200, "ALM")],
                  tag=TAG)  # fmt: skip
    assert [r.realarms for r in recs] == [1, 0]
    assert recs[1].raised == T0 + timedelta(seconds=200) and recs[1].acked is None


def test_conditions_are_separate_and_tag_wide_ack() -> None:
    """H at 0 s, HH at 10 s, ACK without condition at 20 s acknowledges both."""
    recs = replay([ev(0, "ALM", "H"), ev(10, "ALM", "HH"), ev(20, "ACK", "")], tag=TAG)
    assert [(r.condition, r.acked) for r in recs] == [
        ("H", T0 + timedelta(seconds=20)),
        ("HH", T0 + timedelta(seconds=20)),
    ]


def test_shelved_suppressed_oos_and_journal_are_not_annunciated() -> None:
    """Activations while shelved / suppressed / out of service, or journal, do not count."""
    recs = replay(
        [
            ev(0, "SHELVE", ""), ev(10, "ALM"), ev(20, "RTN"), ev(30, "UNSHELVE", ""),
            ev(40, "SUPPRESS", "H"), ev(50, "ALM"), ev(60, "RTN"), ev(70, "UNSUPPRESS", "H"),
            ev(80, "OOS", ""), ev(90, "ALM"), ev(95, "RTN"), ev(99, "INS", ""),
            ev(100, "ALM", priority="journal"), ev(110, "RTN"),
            ev(120, "ALM"),
        ],
        tag=TAG,
    )  # fmt: skip
    assert [(r.shelved, r.suppressed, r.out_of_service) for r in recs[:3]] == [
        (True, False, False), (False, True, False), (False, False, True)
    ]  # fmt: skip
    assert [r.annunciated for r in recs] == [False, False, False, False, True]


def test_shelving_an_active_alarm_flags_it_but_it_was_annunciated() -> None:
    (rec,) = replay([ev(0, "ALM"), ev(5, "SHELVE", "H")], tag=TAG)
    assert rec.shelved and rec.annunciated


def test_modes_carry_in_from_earlier_events() -> None:
    modes = Modes()
    modes.set("", "out_of_service", True)
    (rec,) = replay([ev(0, "ALM")], tag=TAG, modes=modes)
    assert rec.out_of_service and not rec.annunciated


def test_ledger_fills_what_the_event_lacks_and_shift_from_calendar() -> None:
    """Priority/type/limit come from the event, else from the ledger; shift from the calendar."""
    cal = ShiftCalendar(
        [
            (T0, T0 + timedelta(hours=12), 21),
            (T0 + timedelta(hours=12), T0 + timedelta(hours=24), 22),
        ]
    )
    recs = replay(
        [ev(0, "ALM"), ev(13 * 3600, "RTN"), ev(13 * 3600 + 1, "ALM", priority="emergency")],
        tag=TAG,
        points={"H": PointInfo(5, "low", "safety", 80.0)},
        shifts=cal,
    )
    assert [(r.priority, r.alarm_type, r.limit_value, r.point_id) for r in recs] == [
        ("low", "safety", 80.0, 5), ("emergency", "safety", 80.0, 5)
    ]  # fmt: skip
    assert [r.shift_team_id for r in recs] == [21, 22]
    assert cal.team_at(T0 - timedelta(seconds=1)) is None


def test_duration_and_activity() -> None:
    """Open record: duration measured to ``now``; returned: to the return."""
    (open_rec,) = replay([ev(0, "ALM")], tag=TAG)
    now = T0 + timedelta(hours=25)
    assert open_rec.duration(now) == timedelta(hours=25)
    assert open_rec.active_at(now)
    (done,) = replay([ev(0, "ALM"), ev(60, "RTN")], tag=TAG)
    assert done.duration(now) == timedelta(seconds=60)
    assert not done.active_at(T0 + timedelta(seconds=60))
