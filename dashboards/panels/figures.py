"""Plotly figures of the panels, from plain data (pure: no database, no Dash callbacks).

Times on the axes are naive China Standard Time (``timerange.to_axis``): Plotly has no time
zones, and plant staff read local time. Every trace carries the tag id in ``customdata`` so a
click on it can drill down to the tag's page.

    fig = timeseries_figure([(tag_id, "FIC101", points)], thresholds, (start, end), height=320)
    color = threshold_color(87.0, [{"value": 80, "color": "orange"}])   # "#ef6c00"
    intervals = alarm_intervals(events, start, end)                     # state timeline data
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import plotly.graph_objects as go

from dashboards.components.timerange import to_axis
from dashboards.panels.spec import color_of

BASE_COLOR: Final = "#2e7d32"
PRIORITY_COLORS: Final = {
    "emergency": "#c62828",
    "high": "#ef6c00",
    "low": "#f9a825",
    "journal": "#1565c0",
    None: "#8e24aa",
}
FONT: Final = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif'
_PALETTE: Final = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

Point = tuple[datetime, float | None, float | None, float | None]
Interval = tuple[datetime, datetime, str, str | None]


def threshold_color(
    value: float | None, thresholds: Sequence[Mapping[str, Any]], base: str = BASE_COLOR
) -> str:
    """The colour of the highest threshold ``value`` reaches (``base`` below them all)."""
    color = base
    if value is None:
        return "#9e9e9e"
    for t in thresholds:
        if value >= t["value"]:
            color = color_of(t["color"])
    return color


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    return {
        "height": height,
        "margin": {"l": 48, "r": 12, "t": 8, "b": 32},
        "font": {"family": FONT, "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.15},
        **extra,
    }


def _threshold_shapes(
    thresholds: Sequence[Mapping[str, Any]], top: float | None, axis: str = "y"
) -> list[dict[str, Any]]:
    """A dashed line at each threshold and a faint band up to the next one (or ``top``)."""
    shapes: list[dict[str, Any]] = []
    values = [t["value"] for t in thresholds]
    for i, t in enumerate(thresholds):
        color = color_of(t["color"])
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": axis,
                "y0": t["value"],
                "y1": t["value"],
                "line": {"color": color, "width": 1.5, "dash": "dash"},
            }
        )
        upper = values[i + 1] if i + 1 < len(values) else top
        if upper is not None and upper > t["value"]:
            shapes.append(
                {
                    "type": "rect",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "yref": axis,
                    "y0": t["value"],
                    "y1": upper,
                    "fillcolor": color,
                    "opacity": 0.08,
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
    return shapes


def _axis_time(value: datetime) -> str:
    return to_axis(value).isoformat(sep=" ")


def timeseries_figure(
    series: Sequence[tuple[int, str, Sequence[Point]]],
    thresholds: Sequence[Mapping[str, Any]],
    window: tuple[datetime, datetime],
    height: int = 320,
    unit: str | None = None,
) -> dict[str, Any]:
    """Lines of the bucket averages; the min-max band of a single series is shaded.

    A plain figure dict, not ``go.Figure``: Plotly's per-element validation of thousands of
    points was most of a panel's drawing time, and these traces are built from known values.
    """
    data: list[dict[str, Any]] = []
    top: float | None = None
    for i, (tag_id, name, points) in enumerate(series):
        xs = [_axis_time(p[0]) for p in points]
        highs = [p[3] for p in points if p[3] is not None]
        if highs:
            top = max(highs) if top is None else max(top, max(highs))
        if len(series) == 1 and points:
            data.append(
                {
                    "type": "scatter",
                    "x": xs + xs[::-1],
                    "y": [p[3] for p in points] + [p[2] for p in points][::-1],
                    "fill": "toself",
                    "fillcolor": "rgba(31,119,180,0.12)",
                    "line": {"width": 0},
                    "hoverinfo": "skip",
                    "showlegend": False,
                    "name": f"{name} min-max",
                }
            )
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p[1] for p in points],
                "mode": "lines",
                "name": name,
                "line": {"color": _PALETTE[i % len(_PALETTE)], "width": 1.6},
                "customdata": [tag_id] * len(points),
                "connectgaps": False,
            }
        )
    if thresholds:
        top = max(top or thresholds[-1]["value"], thresholds[-1]["value"])
        span = abs(top - thresholds[0]["value"]) or abs(top) or 1.0
        top += 0.05 * span
    layout = _layout(height, shapes=_threshold_shapes(thresholds, top))
    layout.update(
        xaxis={"range": [_axis_time(window[0]), _axis_time(window[1])], "type": "date"},
        yaxis={"title": {"text": unit or ""}, "zeroline": False},
        hovermode="x unified",
        dragmode="zoom",
    )
    return {"data": data, "layout": layout}


def gauge_figure(
    value: float | None,
    thresholds: Sequence[Mapping[str, Any]],
    lo: float | None,
    hi: float | None,
    height: int = 240,
    unit: str | None = None,
) -> go.Figure:
    values = [t["value"] for t in thresholds]
    lo = lo if lo is not None else min([0.0, *values, *([value] if value is not None else [])])
    hi = hi if hi is not None else max([*values, value or 0.0, lo + 1.0]) * 1.1
    steps = []
    edges = [lo, *values, hi]
    colors = [BASE_COLOR, *(color_of(t["color"]) for t in thresholds)]
    for a, b, c in zip(edges, edges[1:], colors, strict=False):
        if b > a:
            steps.append({"range": [a, b], "color": c})
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=value,
            number={"suffix": f" {unit}" if unit else "", "valueformat": ",.4~g"},
            gauge={
                "axis": {"range": [lo, hi]},
                "steps": steps,
                "bar": {"color": "#263238", "thickness": 0.25},
            },
        )
    )
    fig.update_layout(
        **_layout(height, showlegend=False, margin={"l": 24, "r": 24, "t": 16, "b": 8})
    )
    return fig


def bar_figure(
    bars: Sequence[tuple[int, str, float | None]],
    thresholds: Sequence[Mapping[str, Any]],
    height: int = 320,
    unit: str | None = None,
) -> go.Figure:
    values = [v for _, _, v in bars]
    fig = go.Figure(
        go.Bar(
            x=[name for _, name, _ in bars],
            y=values,
            marker={"color": [threshold_color(v, thresholds) for v in values]},
            customdata=[tag_id for tag_id, _, _ in bars],
            name="",
        )
    )
    known = [v for v in values if v is not None]
    top = max([*known, *(t["value"] for t in thresholds)], default=None)
    fig.update_layout(
        **_layout(height, showlegend=False, shapes=_threshold_shapes(thresholds, top)),
        yaxis={"title": {"text": unit or ""}},
    )
    return fig


def heatmap_figure(
    series: Sequence[tuple[int, str, Sequence[Point]]],
    window: tuple[datetime, datetime],
    height: int = 320,
) -> go.Figure:
    """Tags as rows, buckets as columns, the bucket average as colour."""
    times = sorted({p[0] for _, _, points in series for p in points})
    index = {t: i for i, t in enumerate(times)}
    z: list[list[float | None]] = []
    for _, _, points in series:
        row: list[float | None] = [None] * len(times)
        for p in points:
            row[index[p[0]]] = p[1]
        z.append(row)
    fig = go.Figure(
        go.Heatmap(
            x=[to_axis(t) for t in times],
            y=[name for _, name, _ in series],
            z=z,
            colorscale="YlOrRd",
            customdata=[[tag_id] * len(times) for tag_id, _, _ in series],
            hoverongaps=False,
        )
    )
    fig.update_layout(
        **_layout(height, showlegend=False),
        xaxis={"range": [to_axis(window[0]), to_axis(window[1])], "type": "date"},
    )
    return fig


def alarm_intervals(
    events: Sequence[tuple[int, str, datetime, str, str | None]], start: datetime, end: datetime
) -> dict[int, list[Interval]]:
    """Per tag, the ``(from, to, condition, priority)`` spans in alarm within ``[start, end)``.

    ``events`` are ``(tag_id, condition, time, kind, priority)`` sorted by tag and time, as
    ``queries.alarm_events`` gives them (including the last event before ``start``).

    >>> from datetime import UTC
    >>> t = [datetime(2025, 1, 1, h, tzinfo=UTC) for h in range(4)]
    >>> alarm_intervals([(1, "H", t[1], "ALM", "high"), (1, "H", t[2], "RTN", None)], t[0], t[3])
    {1: [(t[1], t[2], 'H', 'high')]}
    """
    out: dict[int, list[Interval]] = {}
    active: dict[tuple[int, str], tuple[datetime, str | None]] = {}
    for tag, cond, time, kind, priority in events:
        out.setdefault(tag, [])
        key = (tag, cond)
        if kind == "ALM":
            if key not in active:
                active[key] = (max(time, start), priority)
        elif kind == "RTN" and key in active:
            since, prio = active.pop(key)
            if time > start:
                out[tag].append((since, min(time, end), cond, prio))
    for (tag, cond), (since, prio) in active.items():
        out[tag].append((since, end, cond, prio))
    for spans in out.values():
        spans.sort()
    return out


def state_timeline_figure(
    tags: Sequence[tuple[int, str]],
    intervals: Mapping[int, Sequence[Interval]],
    window: tuple[datetime, datetime],
    normal_label: str,
    height: int = 240,
) -> go.Figure:
    """One row per tag: green when normal, the priority's colour while a condition is active."""
    fig = go.Figure()
    start, end = to_axis(window[0]), to_axis(window[1])
    span_ms = (end - start).total_seconds() * 1000
    names = [name for _, name in tags]
    fig.add_trace(
        go.Bar(
            base=[start] * len(tags),
            x=[span_ms] * len(tags),
            y=names,
            orientation="h",
            marker={"color": BASE_COLOR},
            name=normal_label,
            customdata=[t for t, _ in tags],
            hoverinfo="y+name",
        )
    )
    by_priority: dict[str | None, list[tuple[int, str, Interval]]] = {}
    for tag_id, name in tags:
        for iv in intervals.get(tag_id, ()):
            by_priority.setdefault(iv[3], []).append((tag_id, name, iv))
    for priority, items in by_priority.items():
        fig.add_trace(
            go.Bar(
                base=[to_axis(iv[0]) for _, _, iv in items],
                x=[(iv[1] - iv[0]).total_seconds() * 1000 for _, _, iv in items],
                y=[name for _, name, _ in items],
                orientation="h",
                marker={"color": PRIORITY_COLORS.get(priority, PRIORITY_COLORS[None])},
                name=f"{priority or '-'}",
                customdata=[tag_id for tag_id, _, _ in items],
                text=[iv[2] for _, _, iv in items],
                hovertemplate="%{y} %{text}<extra></extra>",
            )
        )
    fig.update_layout(
        **_layout(max(height, 60 + 28 * len(tags)), barmode="overlay"),
        xaxis={"range": [start, end], "type": "date"},
        yaxis={"autorange": "reversed"},
    )
    return fig
