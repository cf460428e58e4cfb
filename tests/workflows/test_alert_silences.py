"""Pure tests of silences, recurring mute times, business-hours calendars (Asia/Shanghai) and
escalation decisions (A13)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from workflows.escalation import Policy, Progress, decide, pick_policy
from workflows.silences import Calendar, Matcher, MuteTime, Silence, silenced

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def test_matchers() -> None:
    labels = {"unit": "R-101", "equipment": "P-101A", "enterprise": "太原化工"}
    assert Matcher(label="unit", value="R-101").matches(labels)
    assert Matcher(label="unit", op="!=", value="R-102").matches(labels)
    assert Matcher(label="equipment", op="=~", value="P-10[0-9]A").matches(labels)
    assert not Matcher(label="equipment", op="=~", value="P-10").matches(labels)  # anchored
    assert Matcher(label="department", op="!~", value=".+").matches(labels)  # absent label
    with pytest.raises(ValidationError, match="bad regex"):
        Matcher(label="unit", op="=~", value="(")


def test_silence_window() -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    s = Silence(1, (Matcher(label="unit", value="R-101"),), start, start + timedelta(hours=2))
    labels = {"unit": "R-101"}
    assert not s.mutes(labels, start - timedelta(seconds=1))
    assert s.mutes(labels, start)
    assert not s.mutes(labels, start + timedelta(hours=2))  # end exclusive
    assert not s.mutes({"unit": "R-102"}, start)
    empty = Silence(2, (), start, start + timedelta(hours=2))
    assert not empty.mutes(labels, start)  # never mutes everything by accident


def test_recurring_mute_time_in_shanghai() -> None:
    nights = MuteTime.model_validate(
        {"intervals": [{"weekdays": [1, 2, 3, 4, 5], "times": [["22:00", "24:00"]]},
                       {"weekdays": [6, 7]}],
         "matchers": [{"label": "priority", "value": "low"}]}
    )  # fmt: skip
    low = {"priority": "low"}
    assert nights.muted(local(2026, 3, 2, 23, 30), low)  # Monday night
    assert not nights.muted(local(2026, 3, 2, 21, 59), low)
    assert nights.muted(local(2026, 3, 7, 12), low)  # Saturday
    assert not nights.muted(local(2026, 3, 7, 12), {"priority": "high"})
    # 23:30 in Shanghai is 15:30 UTC: the zone, not the server's clock, decides.
    assert nights.muted(datetime(2026, 3, 2, 15, 30, tzinfo=UTC), low)
    monthly = MuteTime.model_validate({"intervals": [{"days_of_month": [1], "months": [1, 7]}]})
    assert monthly.muted(local(2026, 7, 1, 9)) and not monthly.muted(local(2026, 6, 1, 9))
    with pytest.raises(ValidationError, match="weekdays are 1"):
        MuteTime.model_validate({"intervals": [{"weekdays": [0]}]})
    with pytest.raises(ValidationError, match="ends before it starts"):
        MuteTime.model_validate({"intervals": [{"times": [["10:00", "09:00"]]}]})
    with pytest.raises(ValidationError, match="unknown time zone"):
        MuteTime.model_validate({"timezone": "Mars/Base", "intervals": [{}]})


def test_business_calendar_with_holidays_and_adjusted_workdays() -> None:
    cal = Calendar(
        hours=[("08:00", "12:00"), ("13:30", "17:30")],
        holidays=[date(2026, 10, 1)],
        extra_workdays=[date(2026, 10, 10)],  # a Saturday worked for the National Day week
    )
    assert cal.in_hours(local(2026, 9, 30, 9))
    assert not cal.in_hours(local(2026, 9, 30, 12, 30))  # lunch
    assert not cal.in_hours(local(2026, 10, 1, 9))  # holiday (a Thursday)
    assert cal.in_hours(local(2026, 10, 10, 9))  # adjusted working Saturday
    assert not cal.in_hours(local(2026, 10, 11, 9))  # ordinary Sunday
    both = [Silence(1, (Matcher(label="unit", value="X"),), local(2026, 1, 1, 0),
                    local(2026, 1, 2, 0))]  # fmt: skip
    assert silenced({"unit": "X"}, both, [], local(2026, 1, 1, 5))
    assert not silenced({"unit": "Y"}, both, [], local(2026, 1, 1, 5))


POLICY = Policy.model_validate(
    {"until": "ack", "repeat_s": 1800,
     "tiers": [{"after_s": 0, "groups": [1]}, {"after_s": 600, "groups": [2]},
               {"after_s": 1800, "groups": [3], "when": "business_hours"},
               {"after_s": 3600, "groups": [4]}]}
)  # fmt: skip
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def progress(tier: int = -1, notified: datetime | None = None, acked: bool = False) -> Progress:
    return Progress(T0, tier, notified, acked, False)


def test_escalation_tiers_in_time() -> None:
    d = decide(POLICY, progress(), T0)
    assert d.tiers == (0,) and d.passed == 0 and d.next_at == T0 + timedelta(seconds=600)
    assert decide(POLICY, progress(0, T0), T0 + timedelta(seconds=599)).tiers == ()
    d = decide(POLICY, progress(0, T0), T0 + timedelta(seconds=600))
    assert d.tiers == (1,) and d.passed == 1
    # A worker that was down catches up with every tier reached meanwhile.
    assert decide(POLICY, progress(), T0 + timedelta(seconds=4000)).tiers == (0, 1, 2, 3)


def test_acknowledged_stops_and_resolve_policy_continues() -> None:
    assert decide(POLICY, progress(0, T0, acked=True), T0 + timedelta(hours=5)).tiers == ()
    until_resolved = POLICY.model_copy(update={"until": "resolve"})
    later = decide(until_resolved, progress(0, T0, acked=True), T0 + timedelta(seconds=600))
    assert later.tiers == (1,)


def test_business_hours_tier_is_passed_over_at_night() -> None:
    night = decide(POLICY, progress(1, T0), T0 + timedelta(seconds=1800), in_hours=False)
    assert night.tiers == () and night.passed == 2
    day = decide(POLICY, progress(1, T0), T0 + timedelta(seconds=1800), in_hours=True)
    assert day.tiers == (2,)


def test_repeat_interval() -> None:
    single = Policy.model_validate({"repeat_s": 900, "tiers": [{"after_s": 0, "groups": [1]}]})
    sent = T0
    assert not decide(single, progress(0, sent), sent + timedelta(seconds=899)).repeat
    d = decide(single, progress(0, sent), sent + timedelta(seconds=900))
    assert d.repeat and d.tiers == ()


def test_policy_validation_and_choice() -> None:
    with pytest.raises(ValidationError, match="must be later than"):
        Policy.model_validate(
            {"tiers": [{"after_s": 600, "groups": [1]}, {"after_s": 300, "groups": [2]}]}
        )
    with pytest.raises(ValidationError, match="needs groups, users or channels"):
        Policy.model_validate({"tiers": [{"after_s": 0}]})
    emergency = Policy.model_validate(
        {"priorities": ["emergency"], "tiers": [{"after_s": 0, "groups": [9]}]}
    )
    by_param = Policy.model_validate(
        {"matchers": [{"label": "parameter", "value": "GT-301"}],
         "tiers": [{"after_s": 0, "groups": [8]}]}
    )  # fmt: skip
    pols = [emergency, by_param, POLICY]
    assert pick_policy(pols, "emergency", "alarm", {}) == 0
    assert pick_policy(pols, "high", "alarm", {"parameter": "GT-301"}) == 1
    assert pick_policy(pols, "high", "alarm", {"parameter": "TI-101"}) == 2
