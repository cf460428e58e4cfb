"""Pure logic of the dashboard view (D1): time ranges, drag-to-zoom, refresh choices, the URL
state of a view, and which rollup a time-series panel reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.components.timerange import (
    DISPLAY_TZ,
    TimeRange,
    TimeRangeError,
    canonical_expr,
    from_relayout,
    parse_expr,
    refresh_ms,
)
from dashboards.components.variables import ViewState
from dashboards.panels import source

NOW = datetime(2025, 3, 1, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "delta"),
    [
        ("now", timedelta(0)),
        ("now-15m", timedelta(minutes=15)),
        ("now-6h", timedelta(hours=6)),
        ("now-7d", timedelta(days=7)),
        ("now-2w", timedelta(weeks=2)),
        ("now-30s", timedelta(seconds=30)),
    ],
)
def test_relative_expressions(expr: str, delta: timedelta) -> None:
    assert parse_expr(expr, NOW) == NOW - delta


def test_absolute_expressions() -> None:
    assert parse_expr("1735689600000", NOW) == datetime(2025, 1, 1, tzinfo=UTC)
    # Typed without a zone: China Standard Time, as the user reads the charts.
    assert parse_expr("2025-01-01 08:00", NOW) == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_expr("2025-01-01T00:00:00+00:00", NOW) == datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "now-", "now-5y", "now+1h", "", "12:00"])
def test_bad_expressions_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(TimeRangeError, match="neither now-<n><unit>"):
        parse_expr(bad, NOW)


def test_range_checks() -> None:
    assert TimeRange.parse(None, None, NOW) == TimeRange("now-6h", "now")
    with pytest.raises(TimeRangeError, match="at least"):
        TimeRange.parse("now", "now-1h", NOW)
    with pytest.raises(TimeRangeError, match="ten years"):
        TimeRange.parse("now-600w", "now", NOW)
    assert TimeRange("now-24h", "now").quick_key() == "range.24h"
    assert TimeRange("now-5h", "now").quick_key() is None
    assert not TimeRange.absolute(NOW - timedelta(hours=1), NOW).is_relative


def test_drag_to_zoom_gives_an_absolute_range_in_local_time() -> None:
    rng = from_relayout(
        {"xaxis.range[0]": "2025-03-01 08:00:00", "xaxis.range[1]": "2025-03-01 09:30:00.5"}
    )
    assert rng is not None
    start, end = rng.resolve(NOW)
    assert start == datetime(2025, 3, 1, 0, tzinfo=UTC)
    assert end == datetime(2025, 3, 1, 1, 30, 0, 500000, tzinfo=UTC)
    assert from_relayout({"xaxis.range": ["2025-03-01 08:00", "2025-03-01 08:10"]}) is not None


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"autosize": True},
        {"xaxis.autorange": True},
        {"yaxis.range[0]": 1, "yaxis.range[1]": 2},
        {"xaxis.range[0]": "2025-03-01 08:00:00", "xaxis.range[1]": "2025-03-01 08:00:03"},
        {"xaxis.range[0]": "garbage", "xaxis.range[1]": "2025-03-01 08:00:03"},
    ],
)
def test_other_relayouts_are_not_zooms(data: dict[str, object] | None) -> None:
    assert from_relayout(data) is None


def test_refresh_choices() -> None:
    assert refresh_ms("off") is None and refresh_ms(None) is None
    assert refresh_ms("10s") == 10_000 and refresh_ms("5m") == 300_000
    with pytest.raises(TimeRangeError, match="not one of"):
        refresh_ms("2s")


def test_canonical_expr_keeps_relative_and_makes_absolute_epoch_ms() -> None:
    assert canonical_expr("now-6h") == "now-6h"
    assert canonical_expr("2025-01-01 08:00:00") == "1735689600000"


# -- URL state --------------------------------------------------------------------------------


def test_url_state_round_trip() -> None:
    state = ViewState(TimeRange("now-24h", "now"), "30s", {"enterprise": ("3",), "tag": ("7", "9")})
    query = state.to_query()
    assert query == "?from=now-24h&to=now&refresh=30s&var-enterprise=3&var-tag=7&var-tag=9"
    again, errors = ViewState.from_query(query, NOW)
    assert errors == [] and again == state


@given(
    hours=st.integers(min_value=1, max_value=24 * 365),
    refresh=st.sampled_from(["off", "10s", "30s", "1m", "5m"]),
    tags=st.lists(st.integers(min_value=1, max_value=10**6), max_size=5, unique=True),
    unit=st.none() | st.integers(min_value=1, max_value=10**6),
)
def test_any_state_survives_the_url(
    hours: int, refresh: str, tags: list[int], unit: int | None
) -> None:
    state = ViewState(TimeRange(f"now-{hours}h", "now"), refresh, {})
    state = state.with_vars(tag=[str(t) for t in tags], unit=unit)
    again, errors = ViewState.from_query(state.to_query(), NOW)
    assert errors == [] and again == state


def test_bad_url_parts_fall_back_and_are_named() -> None:
    state, errors = ViewState.from_query(
        "?from=yesterday&refresh=2s&var-unit=abc&var-unit=4&var-unit=5&var-color=red", NOW
    )
    assert state.range == TimeRange("now-6h", "now") and state.refresh == "off"
    assert state.vars == {"unit": ("5",)}
    text = " | ".join(errors)
    for part in ("from/to", "refresh: '2s'", "var-unit: 'abc' is not an id", "one value",
                 "unknown variables: var-color"):  # fmt: skip
        assert part in text


def test_changing_the_enterprise_clears_unit_and_tags() -> None:
    state = ViewState(vars={"enterprise": ("1",), "unit": ("2",), "tag": ("3",)})
    assert state.with_vars(enterprise="5").vars == {"enterprise": ("5",)}
    assert state.with_vars(enterprise="1").vars == state.vars  # same one: kept
    assert state.with_vars(unit=None).vars == {"enterprise": ("1",), "tag": ("3",)}
    with pytest.raises(ValueError, match="unknown variable"):
        state.with_vars(colour="red")


# -- rollup choice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "relation", "bucket"),
    [
        (timedelta(minutes=15), "ts.sample", timedelta(seconds=1)),
        (timedelta(hours=6), "ts.sample", timedelta(seconds=30)),
        (timedelta(hours=24), "ts.sample_1m", timedelta(minutes=2)),
        (timedelta(days=7), "ts.sample_1m", timedelta(minutes=15)),
        (timedelta(days=30), "ts.sample_1h", timedelta(hours=1)),
        (timedelta(days=365), "ts.sample_1h", timedelta(hours=12)),
        (timedelta(days=3 * 365), "ts.sample_1d", timedelta(days=2)),
    ],
)
def test_the_range_picks_the_rollup(span: timedelta, relation: str, bucket: timedelta) -> None:
    plan = source.choose(NOW - span, NOW)
    assert (plan.relation, plan.bucket) == (relation, bucket)


@given(
    start=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    seconds=st.integers(min_value=10, max_value=3650 * 86400),
)
def test_plans_cap_points_align_buckets_and_combine_exactly(start: datetime, seconds: int) -> None:
    end = start + timedelta(seconds=seconds)
    plan = source.choose(start, end)
    assert plan.points <= source.MAX_POINTS
    assert plan.start <= start and plan.end >= end
    assert (plan.start - source.ORIGIN) % plan.bucket == timedelta(0)
    assert (plan.end - plan.start) % plan.bucket == timedelta(0)
    levels = dict(source.LEVELS)
    if not plan.is_raw:
        assert plan.bucket % levels[plan.relation] == timedelta(0)
        finer_ok = [
            n for n, w in source.LEVELS if w <= plan.bucket and plan.bucket % w == timedelta(0)
        ]
        assert plan.relation == finer_ok[-1]  # the coarsest level that combines exactly
    else:
        assert plan.bucket < min(levels.values())


def test_forcing_raw_keeps_the_buckets() -> None:
    auto = source.choose(NOW - timedelta(days=30), NOW)
    raw = source.choose(NOW - timedelta(days=30), NOW, force="ts.sample")
    assert raw.relation == "ts.sample" and (raw.bucket, raw.start, raw.end) == (
        auto.bucket,
        auto.start,
        auto.end,
    )
    with pytest.raises(ValueError, match="cannot give"):
        source.choose(NOW - timedelta(hours=1), NOW, force="ts.sample_1h")
    with pytest.raises(ValueError, match="unknown relation"):
        source.choose(NOW - timedelta(hours=1), NOW, force="ts.other")


def test_display_zone_is_china_standard_time() -> None:
    assert NOW.astimezone(DISPLAY_TZ).utcoffset() == timedelta(hours=8)
