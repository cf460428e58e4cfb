"""Figures of the pump diagnosis page (P8), pure: arrays in, Plotly figures out.

    fig = spectrum_figure(freqs, amp, fr_hz=49.5, cursor=99.0, sideband=49.5)
    fig = envelope_figure(freqs, amp, {"BPFO": 150.3, "BPFI": 245.7}, fr_hz=49.5)

Markers: 1×…10× running-speed lines on the velocity spectrum; a cursor (clicked or typed)
with its harmonics and ± sidebands; bearing defect frequencies and their harmonics on the
envelope spectrum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import plotly.graph_objects as go

MARKER_COLORS = {"FTF": "#845ef7", "BSF": "#12b886", "BPFO": "#e8590c", "BPFI": "#c2255c"}


def _base(title: str, x: str, y: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        height=height,
        margin={"l": 50, "r": 10, "t": 36, "b": 40},
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        showlegend=False,
    )
    return fig


def _spectrum_line(fig: go.Figure, freqs: np.ndarray, amp: np.ndarray) -> None:
    fig.add_trace(
        go.Scatter(
            x=freqs,
            y=amp,
            mode="lines",
            line={"width": 1},
            hovertemplate="%{x:.2f} Hz, %{y:.4g}<extra></extra>",
        )
    )


def _vline(fig: go.Figure, x: float, color: str, text: str, dash: str = "dot") -> None:
    fig.add_vline(
        x=x,
        line={"color": color, "dash": dash, "width": 1},
        annotation={
            "text": text,
            "font": {"size": 9, "color": color},
            "textangle": -90,
            "yanchor": "top",
        },
    )


def trend_figure(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    title: str,
    limits: tuple[float, float] | None = None,
) -> go.Figure:
    fig = _base(title, "", "mm/s")
    for axis, pts in series.items():
        fig.add_trace(
            go.Scatter(x=[t for t, _ in pts], y=[v for _, v in pts], name=axis, mode="lines")
        )
    if limits:
        for v, c, name in ((limits[0], "#f08c00", "B/C"), (limits[1], "#e03131", "C/D")):
            fig.add_hline(
                y=v,
                line={"color": c, "dash": "dash", "width": 1},
                annotation={"text": f"{name} {v:g}", "font": {"size": 9}},
            )
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.2})
    return fig


def waveform_figure(x: np.ndarray, fs: float, title: str, unit: str = "m/s²") -> go.Figure:
    n = min(len(x), 4096)  # the first 160 ms at 25.6 kHz: enough to see impacts and cycles
    t = np.arange(n) / fs * 1e3
    fig = _base(title, "ms", unit)
    fig.add_trace(go.Scatter(x=t, y=x[:n], mode="lines", line={"width": 1}))
    return fig


def spectrum_figure(
    freqs: np.ndarray,
    amp: np.ndarray,
    *,
    fr_hz: float,
    title: str,
    fmax: float = 1000.0,
    cursor: float | None = None,
    sideband: float | None = None,
    unit: str = "mm/s",
) -> go.Figure:
    """Velocity spectrum with 1×…10× markers, cursor harmonics and sidebands."""
    keep = freqs <= fmax
    fig = _base(title, "Hz", unit)
    _spectrum_line(fig, freqs[keep], amp[keep])
    for k in range(1, 11):
        if k * fr_hz <= fmax:
            _vline(fig, k * fr_hz, "#adb5bd", f"{k}×")
    if cursor:
        for k in range(1, 6):
            if k * cursor <= fmax:
                _vline(fig, k * cursor, "#1c7ed6", f"C{k} {k * cursor:.1f}", "dash")
        if sideband:
            for j in (-2, -1, 1, 2):
                f = cursor + j * sideband
                if 0 < f <= fmax:
                    _vline(fig, f, "#f76707", f"{j:+d}SB", "dot")
    return fig


def envelope_figure(
    freqs: np.ndarray,
    amp: np.ndarray,
    markers: Mapping[str, float],
    *,
    fr_hz: float,
    title: str,
    fmax: float | None = None,
) -> go.Figure:
    """Envelope spectrum with bearing defect frequencies (and 2×, 3×) marked."""
    top = fmax or (4 * max(markers.values()) if markers else 20 * fr_hz)
    keep = freqs <= top
    fig = _base(title, "Hz", "m/s²")
    _spectrum_line(fig, freqs[keep], amp[keep])
    for name, f in markers.items():
        for k in (1, 2, 3):
            if k * f <= top:
                _vline(
                    fig,
                    k * f,
                    MARKER_COLORS.get(name, "#495057"),
                    f"{name}" if k == 1 else f"{k}×{name}",
                )
    _vline(fig, fr_hz, "#adb5bd", "1×")
    return fig


def waterfall_figure(
    freqs: np.ndarray, amp: np.ndarray, labels: Sequence[str], title: str, fmax: float = 1000.0
) -> go.Figure:
    keep = freqs <= fmax
    fig = _base(title, "Hz", "", height=340)
    fig.add_trace(
        go.Heatmap(
            x=freqs[keep],
            y=list(labels),
            z=amp[:, keep],
            colorscale="Viridis",
            colorbar={"title": "mm/s"},
        )
    )
    return fig


def cepstrum_figure(
    quefrency: np.ndarray, values: np.ndarray, fr_hz: float, title: str
) -> go.Figure:
    keep = (quefrency > 1e-4) & (quefrency <= 3.0 / fr_hz)
    fig = _base(title, "s", "")
    fig.add_trace(go.Scatter(x=quefrency[keep], y=values[keep], mode="lines", line={"width": 1}))
    _vline(fig, 1 / fr_hz, "#adb5bd", "1/fr")
    return fig


def orders_figure(orders: np.ndarray, amp: np.ndarray, title: str, omax: float = 20.0) -> go.Figure:
    keep = orders <= omax
    fig = _base(title, "order", "m/s²")
    fig.add_trace(go.Scatter(x=orders[keep], y=amp[keep], mode="lines", line={"width": 1}))
    return fig


def phase_figure(
    freqs: np.ndarray, phase: np.ndarray, coherence: np.ndarray, title: str, fmax: float = 500.0
) -> go.Figure:
    keep = freqs <= fmax
    fig = _base(title, "Hz", "°")
    fig.add_trace(
        go.Scatter(
            x=freqs[keep],
            y=phase[keep],
            mode="markers",
            marker={
                "size": 4,
                "color": coherence[keep],
                "colorscale": "Blues",
                "cmin": 0,
                "cmax": 1,
                "showscale": True,
                "colorbar": {"title": "γ²"},
            },
        )
    )
    fig.update_yaxes(range=[-180, 180])
    return fig
