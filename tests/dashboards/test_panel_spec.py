"""Pure logic of saved dashboards (D1): definition validation with field paths, JSON export and
import, the editor's fields, threshold colours, and the figures' thresholds and drill-down ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import pytest

from dashboards.pages.dashboard_edit import panel_from_form
from dashboards.panels import figures, spec
from dashboards.panels.defaults import plant_overview

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_defaults_are_filled_in() -> None:
    out = spec.validate({"panels": [{"type": "stat", "title": "压力", "tags": ["PI101"]}]})
    assert out["time"] == {"from": "now-6h", "to": "now"} and out["refresh"] == "off"
    assert out["variables"] == ["enterprise", "unit", "tag"]
    assert out["panels"][0] == {
        "id": "p1",
        "type": "stat",
        "title": "压力",
        "tags": ["PI101"],
        "reduce": "last",
        "thresholds": [],
        "width": 6,
        "height": 8,
        "min": None,
        "max": None,
        "unit": None,
    }


def test_every_problem_is_named_by_its_path() -> None:
    bad = {
        "time": {"from": "yesterday"},
        "refresh": "2s",
        "colour": "red",
        "panels": [
            {"type": "pie", "title": "", "tags": [], "width": 13},
            {
                "type": "gauge",
                "title": "x",
                "tags": ["$nope", 0],
                "min": 5,
                "max": 1,
                "thresholds": [
                    {"value": 9, "color": "red"},
                    {"value": "a", "color": "pink"},
                    {"value": 1},
                ],
            },
        ],
    }
    with pytest.raises(spec.SpecError) as err:
        spec.validate(bad)
    text = "\n".join(err.value.errors)
    for part in (
        "unknown fields colour",
        "time: time 'yesterday'",
        "refresh: '2s'",
        "panels[0].type: 'pie'",
        "panels[0].title: 1 to 100",
        "panels[0].tags: a list of at least one",
        "panels[0].width: a whole number from 1 to 12",
        "panels[1].tags[0]: '$nope' is not one of $tag, $unit",
        "panels[1].tags[1]: 0 is neither",
        "panels[1].max: must be above min",
        "panels[1].thresholds[1].value: must be a number",
        "panels[1].thresholds[1].color: 'pink'",
        "panels[1].thresholds: values must be in ascending order",
    ):
        assert part in text, part


def test_duplicate_panel_ids_are_refused() -> None:
    panel = {"id": "a", "type": "stat", "title": "x", "tags": [1]}
    with pytest.raises(spec.SpecError, match="ids must be unique"):
        spec.validate({"panels": [panel, panel]})


def test_export_import_round_trip() -> None:
    definition = spec.validate(plant_overview())
    text = json.dumps(spec.export_document("plant-overview", "装置概览", definition))
    uid, title, again = spec.parse_import(text.encode("utf-8"))
    assert (uid, title, again) == ("plant-overview", "装置概览", definition)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "JSON: Expecting property name"),
        ("[]", "one JSON object"),
        ('{"title": "", "panels": []}', "title: 1 to 200"),
        ('{"title": "x", "uid": "Bad UID", "panels": []}', "uid: lower-case"),
        ('{"title": "x", "panels": [{"type": "bar"}]}', "panels[0].title"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_imports_say_why(text: str | bytes, message: str) -> None:
    with pytest.raises(spec.SpecError) as err:
        spec.parse_import(text)
    assert message in "\n".join(err.value.errors)


def test_editor_fields() -> None:
    assert spec.parse_thresholds("80:orange, 90") == [
        {"value": 80.0, "color": "orange"},
        {"value": 90.0, "color": "red"},
    ]
    assert spec.parse_thresholds("") == []
    with pytest.raises(spec.SpecError, match="'x' is not a number"):
        spec.parse_thresholds("x:red")
    with pytest.raises(spec.SpecError, match="ascending"):
        spec.parse_thresholds("9:red, 1:orange")
    assert spec.parse_tag_refs("TEP-XMEAS07, 42，$tag\nFI-1") == ["TEP-XMEAS07", 42, "$tag", "FI-1"]
    assert spec.format_thresholds([{"value": 80.0, "color": "orange"}]) == "80:orange"


def test_panel_form_adds_and_replaces_panels() -> None:
    d = spec.empty_definition()
    d = panel_from_form(d, None, "timeseries", "压力", "PI-1, 7", "last", "5:red", 12, 8)
    assert [p["id"] for p in d["panels"]] == ["p1"] and d["panels"][0]["tags"] == ["PI-1", 7]
    d = panel_from_form(d, None, "stat", "温度", "TI-1", "avg", "", 3, 4)
    d = panel_from_form(d, 0, "bar", "压力柱", "PI-1", "max", "", 6, 8)
    assert [(p["id"], p["type"]) for p in d["panels"]] == [("p1", "bar"), ("p2", "stat")]
    with pytest.raises(spec.SpecError) as err:
        panel_from_form(d, None, "stat", "", "", "last", "a:red", 0, 8)
    text = " ".join(err.value.errors)
    assert "panel.title" in text and "panel.tags" in text and "panel.width" in text
    assert "'a' is not a number" in text


# -- figures ----------------------------------------------------------------------------------


def test_threshold_colours() -> None:
    steps = [{"value": 80, "color": "orange"}, {"value": 90, "color": "#123456"}]
    assert figures.threshold_color(10, steps) == figures.BASE_COLOR
    assert figures.threshold_color(85, steps) == spec.COLORS["orange"]
    assert figures.threshold_color(90, steps) == "#123456"
    assert figures.threshold_color(None, steps) == "#9e9e9e"


def test_timeseries_figure_draws_thresholds_and_carries_tag_ids() -> None:
    points = [(T0 + timedelta(hours=i), 50.0 + i, 49.0 + i, 51.0 + i) for i in range(5)]
    steps = [{"value": 52, "color": "orange"}, {"value": 54, "color": "red"}]
    fig = figures.timeseries_figure([(7, "PI-1", points)], steps, (T0, T0 + timedelta(hours=5)))
    go.Figure(fig)  # a valid Plotly figure, though built without Plotly's validation
    shapes = fig["layout"]["shapes"]
    lines = [s for s in shapes if s["type"] == "line"]
    bands = [s for s in shapes if s["type"] == "rect"]
    assert [(s["y0"], s["line"]["color"]) for s in lines] == [(52, "#ef6c00"), (54, "#c62828")]
    assert (bands[0]["y0"], bands[0]["y1"]) == (52, 54) and bands[1]["y1"] > 55
    series = next(tr for tr in fig["data"] if tr["name"] == "PI-1")
    assert series["customdata"] == [7] * 5
    assert series["y"] == [50.0, 51.0, 52.0, 53.0, 54.0]
    # Axis in China Standard Time: 00:00 UTC is 08:00 on the chart.
    assert series["x"][0] == "2025-01-01 08:00:00"


def test_alarm_intervals() -> None:
    t = [T0 + timedelta(hours=h) for h in range(10)]
    events = [
        (1, "H", t[0], "ALM", "high"),  # active before the window opens
        (1, "H", t[3], "RTN", None),
        (1, "HH", t[4], "ALM", "emergency"),  # still active at the end
        (2, "L", t[5], "RTN", None),  # a return without an alarm: ignored
    ]
    out = figures.alarm_intervals(events, t[2], t[8])
    assert out == {1: [(t[2], t[3], "H", "high"), (t[4], t[8], "HH", "emergency")], 2: []}
    fig = figures.state_timeline_figure([(1, "A"), (2, "B")], out, (t[2], t[8]), "正常")
    names = [tr.name for tr in fig.data]
    assert names == ["正常", "high", "emergency"]


def test_plant_overview_is_a_valid_definition_with_every_panel_type() -> None:
    d = spec.validate(plant_overview())
    assert {p["type"] for p in d["panels"]} == set(spec.PANEL_TYPES)
