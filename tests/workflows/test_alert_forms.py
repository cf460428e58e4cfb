"""The configuration pages' form handling and the rule replay, as pure functions (issue 6, D2,
A13): every error lands on the field that caused it; values round-trip; secrets stay
write-only; the replay uses the engine's own evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from workflows.alert_forms import (
    calendar_from_form,
    calendar_to_form,
    channel_from_form,
    channel_to_form,
    levels_summary,
    mute_from_form,
    mute_to_form,
    parse_labels,
    parse_ranges,
    policy_from_form,
    policy_to_form,
    rule_from_form,
    rule_to_form,
)
from workflows.rule_backtest import backtest
from workflows.rules import RuleSpec

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def threshold_form(**over: Any) -> dict[str, Any]:
    form = rule_to_form(None)
    form.update(
        {
            "code": "ti101-high",
            "name": "反应器温度高",
            "tag_id": 17,
            "kind": "threshold",
            "window_s": 60,
            "levels.alarm.on": ["on"],
            "levels.alarm.op": ">",
            "levels.alarm.value": 80,
            "levels.alarm.clear": 75,
        }
    )
    form.update(over)
    return form


def test_a_valid_threshold_rule_becomes_a_row_and_back() -> None:
    values, errors = rule_from_form(threshold_form(labels="unit=R-101, area=north"))
    assert errors == {}
    assert values is not None
    assert values["spec"]["levels"] == [{"level": "alarm", "op": ">", "value": 80.0, "clear": 75.0}]
    assert values["labels"] == {"unit": "R-101", "area": "north"}
    assert values["tag_id"] == 17 and values["enabled"] is True
    RuleSpec.model_validate(values["spec"])  # what the engine reads
    back = rule_to_form({**values, "enterprise_id": 1})
    assert back["levels.alarm.value"] == 80 and back["levels.alarm.clear"] == 75
    assert back["levels.danger.on"] == [] and back["labels"] == "unit=R-101, area=north"


@pytest.mark.parametrize(
    ("op", "value", "clear", "side"), [(">", 80, 85, "below"), ("<", 10, 5, "above")]
)
def test_clear_on_the_wrong_side_is_an_error_at_the_clear_field(
    op: str, value: float, clear: float, side: str
) -> None:
    form = threshold_form(
        **{"levels.alarm.op": op, "levels.alarm.value": value, "levels.alarm.clear": clear}
    )
    values, errors = rule_from_form(form)
    assert values is None
    assert list(errors) == ["levels.alarm.clear"]
    assert errors["levels.alarm.clear"].code == "clear_side"
    assert errors["levels.alarm.clear"].params == {"side": side, "value": value}


def test_levels_must_grow_in_severity_and_one_is_needed() -> None:
    form = threshold_form(
        **{
            "levels.danger.on": ["on"],
            "levels.danger.op": ">",
            "levels.danger.value": 70,
            "levels.danger.clear": 65,
        }
    )
    _, errors = rule_from_form(form)
    assert errors["levels.danger.value"].code == "beyond"
    assert errors["levels.danger.value"].params == {"other": "alarm", "value": 80.0}
    _, errors = rule_from_form(threshold_form(**{"levels.alarm.on": []}))
    assert errors["levels"].code == "levels_none"


def test_field_errors_name_their_fields() -> None:
    form = threshold_form(
        code="Bad Code",
        name="",
        tag_id=None,
        window_s="abc",
        labels="unit",
        **{"levels.alarm.value": None},
    )
    _, errors = rule_from_form(form)
    assert {k: e.code for k, e in errors.items()} == {
        "code": "code",
        "name": "required",
        "tag_id": "required",
        "window_s": "number",
        "labels": "labels",
        "levels.alarm.value": "required",
    }


def test_every_kind_validates_through_the_engine_model() -> None:
    trend = threshold_form(
        kind="trend",
        target=None,
        **{"levels.alarm.op": "<", "levels.alarm.value": 600, "levels.alarm.clear": 900},
    )
    _, errors = rule_from_form(trend)
    assert errors["target"].code == "required"
    values, errors = rule_from_form({**trend, "target": 2950})
    assert errors == {} and values is not None and values["spec"]["target"] == 2950
    values, _ = rule_from_form(threshold_form(kind="rate", rate_unit_s=60, source="1m"))
    assert values is not None and values["spec"]["source"] == "1m"
    values, _ = rule_from_form(threshold_form(kind="baseline", baseline_h=48))
    assert values is not None and values["spec"]["baseline_s"] == 48 * 3600
    values, _ = rule_from_form(
        threshold_form(kind="nodata", nodata_s=60, nodata_level="alarm", **{"levels.alarm.on": []})
    )
    assert values is not None and values["spec"] == {
        "kind": "nodata",
        "nodata_s": 60,
        "nodata_level": "alarm",
    }
    assert levels_summary(values["spec"]) == "alarm ≥60 s"


def test_policy_tiers_in_order_and_with_someone() -> None:
    form = policy_to_form(None)
    form.update(
        {
            "code": "p1",
            "tiers.0.after_min": 0,
            "tiers.0.groups": [3],
            "tiers.1.after_min": 0,
            "tiers.1.groups": [4],
        }
    )
    _, errors = policy_from_form(form)
    assert errors["tiers.1.after_min"].code == "tier_order"
    form.update({"tiers.1.after_min": 10, "tiers.2.after_min": 20})
    _, errors = policy_from_form(form)
    assert errors == {"tiers.2.groups": policy_from_form(form)[1]["tiers.2.groups"]}
    assert errors["tiers.2.groups"].code == "tier_empty"
    form.update(
        {
            "tiers.2.after_min": None,
            "repeat_min": 30,
            "calendar_id": 5,
            "tiers.1.when": "business_hours",
            "tiers.1.channels": ["inapp", "ops-robot"],
            "enterprise_id": "all",
        }
    )
    values, errors = policy_from_form(form)
    assert errors == {} and values is not None
    assert values["tiers"] == [
        {"after_s": 0, "groups": [3], "users": [], "when": "always"},
        {
            "after_s": 600,
            "groups": [4],
            "users": [],
            "when": "business_hours",
            "channels": ["inapp", "ops-robot"],
        },
    ]
    assert values["repeat_s"] == 1800 and values["enterprise_id"] is None
    assert policy_to_form(values)["tiers.1.after_min"] == 10


def test_calendar_and_mute_time_parsing() -> None:
    form = calendar_to_form(None)
    form.update(
        {
            "code": "day",
            "name": "白班",
            "holidays": "2026-10-01, 2026-10-02",
            "extra_workdays": "2026-10-10",
            "hours": "8:00-12:00, 13:30-17:30",
        }
    )
    values, errors = calendar_from_form(form)
    assert errors == {} and values is not None
    assert values["hours"] == [["08:00", "12:00"], ["13:30", "17:30"]]
    assert values["holidays"] == [date(2026, 10, 1), date(2026, 10, 2)]
    assert values["working_days"] == [1, 2, 3, 4, 5]
    _, errors = calendar_from_form({**form, "hours": "17:00-08:00", "holidays": "10/01"})
    assert errors["holidays"].code == "dates"
    _, errors = calendar_from_form({**form, "hours": "17:00-08:00"})
    assert errors["hours"].code == "invalid" and "ends before" in errors["hours"].params["msg"]
    with pytest.raises(ValueError):
        parse_ranges("8-12")

    mute = mute_to_form(None)
    mute.update(
        {
            "code": "weekly-test",
            "intervals.0.weekdays": ["3"],
            "intervals.0.times": "09:00-09:30",
            "matchers": "area=LA-1",
        }
    )
    values, errors = mute_from_form(mute)
    assert errors == {} and values is not None
    assert values["intervals"] == [{"weekdays": [3], "times": [["09:00", "09:30"]]}]
    assert values["matchers"] == [{"label": "area", "op": "=", "value": "LA-1"}]
    _, errors = mute_from_form({**mute, "intervals.0.weekdays": [], "intervals.0.times": ""})
    assert errors["intervals.0.weekdays"].code == "interval_none"
    _, errors = mute_from_form({**mute, "intervals.1.months": "13"})
    assert errors["intervals.1.months"].code == "ints"


def test_channel_secret_is_write_only() -> None:
    form = channel_to_form(None)
    form.update(
        {
            "code": "mail",
            "kind": "email",
            "cfg.host": "smtp.example.cn",
            "cfg.sender": "hazwatch@example.cn",
            "cfg.port": 465,
            "cfg.ssl": ["on"],
            "secret": "s3cret",
        }
    )
    values, errors = channel_from_form(form, None)
    assert errors == {} and values is not None
    assert values["secret"] == "s3cret"
    assert values["config"] == {
        "host": "smtp.example.cn",
        "port": 465,
        "sender": "hazwatch@example.cn",
        "ssl": True,
    }
    back = channel_to_form({**values, "secret": "s3cret"})
    assert back["secret"] == "" and "s3cret" not in repr(back)
    kept, _ = channel_from_form({**back, "secret": ""}, "s3cret")
    assert kept is not None and "secret" not in kept  # left empty: the stored one stays
    cleared, _ = channel_from_form({**back, "secret_clear": ["on"]}, "s3cret")
    assert cleared is not None and cleared["secret"] is None
    _, errors = channel_from_form({**form, "cfg.host": ""}, None)
    assert errors["cfg.host"].code == "required"
    robot = channel_to_form(None)
    robot.update({"code": "ops", "kind": "dingtalk", "cfg.url": "ftp://x"})
    _, errors = channel_from_form(robot, None)
    assert errors["cfg.url"].code == "invalid"


def test_labels_parse() -> None:
    assert parse_labels("a=1，b = 2\nc=3") == {"a": "1", "b": "2", "c": "3"}
    with pytest.raises(ValueError, match="b"):
        parse_labels("a=1, b")


def test_backtest_replays_pending_firing_and_resolution() -> None:
    spec = RuleSpec.model_validate(
        {
            "kind": "threshold",
            "window_s": 60,
            "reduce": "last",
            "pending_s": 120,
            "keep_firing_s": 60,
            "levels": [{"level": "alarm", "op": ">", "value": 80, "clear": 75}],
        }
    )
    # Once a minute: normal 70, then 85 for 10 min, 78 (held by hysteresis) 5 min, then 70.
    values = [70.0] * 30 + [85.0] * 10 + [78.0] * 5 + [70.0] * 30
    points = [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
    result = backtest(spec, points, T0, points[-1][0], step_s=60)
    changes = [(tr.at - T0, tr.from_state, tr.to_state) for tr in result.transitions]
    assert changes == [
        (timedelta(minutes=30), "normal", "pending"),
        (timedelta(minutes=32), "pending", "firing"),
        (timedelta(minutes=45), "firing", "resolved"),  # last seen at 44, kept 60 s
        (timedelta(minutes=46), "resolved", "normal"),
    ]
    assert result.firings == 1 and result.firing_s == 13 * 60
    assert result.evaluations == len(values) and result.final.state == "normal"
    assert result.measured[31] == (T0 + timedelta(minutes=31), 85.0)


def test_backtest_of_a_silent_series_is_nodata() -> None:
    spec = RuleSpec.model_validate(
        {
            "kind": "threshold",
            "nodata_s": 120,
            "levels": [{"level": "alarm", "op": ">", "value": 1, "clear": 1}],
        }
    )
    result = backtest(spec, [(T0, 0.0)], T0, T0 + timedelta(minutes=5), step_s=60)
    assert [tr.to_state for tr in result.transitions] == ["nodata"]
    with pytest.raises(ValueError):
        backtest(spec, [], T0, T0, step_s=0)
