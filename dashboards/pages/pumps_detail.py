"""One pump's diagnosis page (issue 8, P8, P11): pick sensor, capture, axis and envelope band;
trend, waveform, spectrum (click to set a cursor: harmonics and sidebands), envelope spectrum
with bearing-frequency markers, waterfall, cepstrum, order spectrum, cross-phase, the
diagnosis with evidence and advice, the pump's strategies and alarms.

``/pumps/detail?id=EQUIPMENT_ID``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
from dash import Input, Output, State, dcc, html

from analytics.vibration.cases import analyse, capture_times, load_capture, sensor_context
from analytics.vibration.cepstrum import real_cepstrum
from analytics.vibration.orders import order_spectrum
from analytics.vibration.phase import cross_phase_spectrum
from analytics.vibration.spectrum import waterfall
from analytics.vibration.strategies import KIND_ZH, LEVEL_ZH, list_strategies
from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages import pumps_figures as figs
from dashboards.pages.pumps import ROLES, pumps_in_scope, sub_nav

PATH = "/pumps/detail"
WATERFALL_CAPTURES = 20

i18n.register(
    {
        "pumpd.title": {"zh": "机泵诊断", "en": "Pump diagnosis"},
        "pumpd.missing": {"zh": "没有这台机泵，或无权查看。", "en": "No such pump in your scope."},
        "pumpd.sensor": {"zh": "测点", "en": "Measurement point"},
        "pumpd.capture": {"zh": "波形", "en": "Capture"},
        "pumpd.axis": {"zh": "方向", "en": "Axis"},
        "pumpd.band": {"zh": "包络频带 (Hz)", "en": "Envelope band (Hz)"},
        "pumpd.band_auto": {"zh": "自动", "en": "auto"},
        "pumpd.cursor": {"zh": "光标 (Hz)", "en": "Cursor (Hz)"},
        "pumpd.sideband": {"zh": "边带间隔 (Hz)", "en": "Sideband spacing (Hz)"},
        "pumpd.no_capture": {"zh": "该测点暂无波形。", "en": "No captures at this point yet."},
        "pumpd.trend": {"zh": "振动趋势 (24 h)", "en": "Trend (24 h)"},
        "pumpd.waveform": {"zh": "时域波形", "en": "Waveform"},
        "pumpd.spectrum": {"zh": "速度频谱", "en": "Velocity spectrum"},
        "pumpd.envelope": {"zh": "包络谱", "en": "Envelope spectrum"},
        "pumpd.waterfall": {"zh": "瀑布图", "en": "Waterfall"},
        "pumpd.cepstrum": {"zh": "倒谱", "en": "Cepstrum"},
        "pumpd.orders": {"zh": "阶次谱", "en": "Order spectrum"},
        "pumpd.phase": {"zh": "交叉相位 X–Y", "en": "Cross-phase X–Y"},
        "pumpd.diagnosis": {"zh": "诊断结论", "en": "Diagnosis"},
        "pumpd.normal": {"zh": "未发现故障特征。", "en": "No fault signature found."},
        "pumpd.severity": {"zh": "振动烈度", "en": "Severity"},
        "pumpd.strategies": {"zh": "报警策略", "en": "Alarm strategies"},
        "pumpd.no_strategies": {"zh": "未配置报警策略。", "en": "No strategies."},
        "pumpd.edit_strategies": {"zh": "设置报警策略", "en": "Set up strategies"},
        "pumpd.name": {"zh": "名称", "en": "Name"},
        "pumpd.kind": {"zh": "类型", "en": "Kind"},
        "pumpd.state": {"zh": "状态", "en": "State"},
        "pumpd.value": {"zh": "当前值", "en": "Value"},
        "pumpd.band_bad": {
            "zh": "频带无效：下限须小于上限且低于奈奎斯特频率。",
            "en": "Invalid band: low < high < Nyquist.",
        },
        "pumpd.error": {"zh": "无法分析该波形：{e}", "en": "Cannot analyse this capture: {e}"},
    }
)


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _sensors(conn: psycopg.Connection, pump_id: int) -> list[tuple[int, str]]:
    rows = conn.execute(
        "SELECT id, coalesce(measurement_point, code) || ' (' || code || ')' FROM registry.sensor"
        " WHERE equipment_id = %s AND kind = 'vibration_triaxial' ORDER BY code",
        (pump_id,),
    ).fetchall()
    return [(int(i), str(n)) for i, n in rows]


def _capture_options(conn: psycopg.Connection, sensor_id: int | None) -> list[dict[str, str]]:
    if sensor_id is None:
        return []
    return [
        {"label": t.astimezone(i18n.DISPLAY_TZ).strftime("%m-%d %H:%M:%S"), "value": t.isoformat()}
        for t in capture_times(conn, sensor_id, 50)
    ]


def layout(id: str | None = None, **_q: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    t = i18n.t
    pump_id = _int(id)
    with auth.db_pool().connection() as conn:
        found = pumps_in_scope(conn, user.scope, datetime.now(UTC), pump_id) if pump_id else []
        if not found:
            return html.Div(
                [
                    html.H1(t("pumpd.title"), id="page-title"),
                    html.P(t("pumpd.missing"), id="pumpd-missing"),
                ]
            )
        p = found[0]
        sensors = _sensors(conn, p["id"])
        first = sensors[0][0] if sensors else None
        captures = _capture_options(conn, first)
    controls = html.Div(
        className="pump-controls",
        children=[
            html.Div(
                [
                    html.Label(t("pumpd.sensor"), htmlFor="pumpd-sensor"),
                    dcc.Dropdown(
                        id="pumpd-sensor",
                        options=[{"label": n, "value": i} for i, n in sensors],
                        value=first,
                        clearable=False,
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(t("pumpd.capture"), htmlFor="pumpd-capture"),
                    dcc.Dropdown(
                        id="pumpd-capture",
                        options=captures,
                        value=captures[0]["value"] if captures else None,
                        clearable=False,
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(t("pumpd.axis")),
                    dcc.RadioItems(
                        id="pumpd-axis", options=["X", "Y", "Z"], value="X", inline=True
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(t("pumpd.band")),
                    html.Div(
                        [
                            dcc.Input(
                                id="pumpd-band-lo",
                                type="number",
                                min=0,
                                placeholder=t("pumpd.band_auto"),
                                debounce=True,
                                style={"width": "6em"},
                            ),
                            " – ",
                            dcc.Input(
                                id="pumpd-band-hi",
                                type="number",
                                min=0,
                                placeholder=t("pumpd.band_auto"),
                                debounce=True,
                                style={"width": "6em"},
                            ),
                        ]
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(t("pumpd.cursor"), htmlFor="pumpd-cursor"),
                    dcc.Input(
                        id="pumpd-cursor",
                        type="number",
                        min=0,
                        debounce=True,
                        style={"width": "7em"},
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(t("pumpd.sideband"), htmlFor="pumpd-sideband"),
                    dcc.Input(
                        id="pumpd-sideband",
                        type="number",
                        min=0,
                        debounce=True,
                        style={"width": "7em"},
                    ),
                ]
            ),
        ],
    )
    return html.Div(
        [
            html.H1(f"{p['code']} {p['name']}", id="page-title"),
            sub_nav("/pumps"),
            dcc.Store(id="pumpd-id", data=p["id"]),
            controls,
            dcc.Loading(html.Div(id="pumpd-summary")),
            html.Div(
                className="pump-tools",
                children=[
                    dcc.Graph(id="pumpd-trend", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-waveform", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-spectrum", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-envelope", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-waterfall", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-cepstrum", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-orders", config={"displaylogo": False}),
                    dcc.Graph(id="pumpd-phase", config={"displaylogo": False}),
                ],
            ),
            html.Div(id="pumpd-strategies"),
        ]
    )


def _trend(conn: psycopg.Connection, sensor_id: int, now: datetime) -> dict[str, list]:
    rows = conn.execute(
        """SELECT axis, time_bucket('5 minutes', time) b, max(velocity_rms_mm_s)
           FROM vib.overall WHERE sensor_id = %s AND time > %s AND time <= %s
           GROUP BY axis, b ORDER BY axis, b""",
        (sensor_id, now - timedelta(hours=24), now),
    ).fetchall()
    out: dict[str, list] = {}
    for axis, b, v in rows:
        out.setdefault(axis, []).append((b.astimezone(i18n.DISPLAY_TZ), v))
    return out


def tools(
    conn: psycopg.Connection,
    pump: dict[str, Any],
    sensor_id: int,
    at: datetime,
    axis: str,
    band: tuple[float, float] | None,
    cursor: float | None,
    sideband: float | None,
    now: datetime,
) -> dict[str, Any]:
    """Every figure and the summary for one capture / axis / band / cursor."""
    t = i18n.t
    lang = i18n.current_lang()
    cap = load_capture(conn, sensor_id, at)
    trend = figs.trend_figure(
        _trend(conn, sensor_id, now), t("pumpd.trend"), (pump["limits"].bc, pump["limits"].cd)
    )
    if cap is None:
        empty = figs._base(t("pumpd.no_capture"), "", "")
        return {
            "summary": html.P(t("pumpd.no_capture"), id="pumpd-no-capture"),
            "trend": trend,
            **{
                k: empty
                for k in (
                    "waveform",
                    "spectrum",
                    "envelope",
                    "waterfall",
                    "cepstrum",
                    "orders",
                    "phase",
                )
            },
        }
    if axis not in cap.axes:
        axis = cap.names[0]
    res = analyse(conn, cap, band)
    feat = res.features[axis]
    fr = res.rpm / 60
    x = cap.axes[axis]
    bf = res.bearing_frequencies
    markers = {} if bf is None else {"FTF": bf.ftf, "BSF": bf.bsf, "BPFO": bf.bpfo, "BPFI": bf.bpfi}
    ctx = sensor_context(conn, sensor_id)
    band_text = f"{feat.band.lo:.0f}–{feat.band.hi:.0f} Hz ({feat.band.method})"
    out: dict[str, Any] = {"trend": trend}
    out["waveform"] = figs.waveform_figure(x, cap.fs, f"{t('pumpd.waveform')} {axis}")
    out["spectrum"] = figs.spectrum_figure(
        feat.velocity.freqs,
        feat.velocity.amp,
        fr_hz=fr,
        cursor=cursor,
        sideband=sideband or (fr if cursor else None),
        title=f"{t('pumpd.spectrum')} {axis} · 1× = {fr:.2f} Hz ({res.rpm:.0f} rpm)",
        fmax=max(1000.0, 12 * fr),
    )
    out["envelope"] = figs.envelope_figure(
        feat.envelope.freqs,
        feat.envelope.amp,
        markers,
        fr_hz=fr,
        title=f"{t('pumpd.envelope')} {axis} · {band_text}"
        + (f" · {ctx['bearing']}" if ctx["bearing"] else ""),
    )
    times = capture_times(conn, sensor_id, WATERFALL_CAPTURES, before=cap.time)[::-1]
    rows, labels = [], []
    for when in times:
        c = load_capture(conn, sensor_id, when)
        if c is not None and axis in c.axes and c.fs == cap.fs:
            rows.append(c.axes[axis])
            labels.append(when.astimezone(i18n.DISPLAY_TZ).strftime("%m-%d %H:%M:%S"))
    if rows:
        n = min(len(r) for r in rows)
        wf = waterfall([r[:n] for r in rows], cap.fs, fmax=max(1000.0, 12 * fr))
        out["waterfall"] = figs.waterfall_figure(
            wf.freqs, wf.amp, labels, f"{t('pumpd.waterfall')} {axis}", fmax=max(1000.0, 12 * fr)
        )
    ceps = real_cepstrum(x, cap.fs)
    out["cepstrum"] = figs.cepstrum_figure(
        ceps.quefrency, ceps.values, fr, f"{t('pumpd.cepstrum')} {axis}"
    )
    osp = order_spectrum(x, cap.fs, rpm=res.rpm)
    out["orders"] = figs.orders_figure(osp.orders, osp.amp, f"{t('pumpd.orders')} {axis}")
    if "X" in cap.axes and "Y" in cap.axes:
        n = min(len(cap.axes["X"]), len(cap.axes["Y"]))
        f, ph, coh = cross_phase_spectrum(cap.axes["X"][:n], cap.axes["Y"][:n], cap.fs)
        out["phase"] = figs.phase_figure(f, ph, coh, t("pumpd.phase"), fmax=max(500.0, 10 * fr))
    else:
        out["phase"] = figs._base(t("pumpd.phase"), "", "")
    out.setdefault("waterfall", figs._base(t("pumpd.waterfall"), "", ""))
    d = res.to_dict()
    sev = d["severity"]
    findings = [
        html.Li(
            [
                html.B(f["name"][lang]),
                f" · {f['grade_text'][lang]} · {100 * f['confidence']:.0f}%",
                html.Div(f["suggestion"][lang] if f["suggestion"] else "", className="hw-muted"),
                # P4: which lines at which orders (and the classifier's vote) made the finding
                html.Div(
                    "; ".join(str(e.get("text", "")) for e in f["evidence"] if e.get("text")),
                    className="hw-muted pump-evidence",
                ),
            ],
            className="pump-finding",
            **{"data-fault": f["fault"]},
        )
        for f in d["diagnosis"]
    ]
    out["summary"] = html.Div(
        className="hw-card",
        id="pumpd-result",
        children=[
            html.Div(
                [
                    html.B(t("pumpd.severity")),
                    " ",
                    html.Span(
                        f"{sev['velocity_rms_mm_s']:.2f} mm/s" if sev else "—", id="pumpd-velocity"
                    ),
                    " ",
                    html.Span(
                        sev["zone"] if sev else "—",
                        id="pumpd-zone",
                        className=f"pump-zone zone-{sev['zone'] if sev else 'none'}",
                    ),
                    html.Span(
                        f" · {axis} · {band_text}", id="pumpd-axis-band", className="hw-muted"
                    ),
                ]
            ),
            html.H3(t("pumpd.diagnosis")),
            html.Ul(findings, className="pump-findings", id="pumpd-findings")
            if findings
            else html.P(t("pumpd.normal"), id="pumpd-findings"),
        ],
    )
    return out


def strategies_table(conn: psycopg.Connection, pump_id: int) -> html.Div:
    t = i18n.t
    rows = [
        [
            s["name"],
            KIND_ZH.get(s["kind"], s["kind"]) if i18n.current_lang() == "zh" else s["kind"],
            LEVEL_ZH.get(s["level"] or "", s["state"] or "—")
            if s["state"] == "firing"
            else (s["state"] or "—"),
            "—" if s["value"] is None else f"{s['value']:.3g}",
        ]
        for s in list_strategies(conn, pump_id)
    ]
    return html.Div(
        [
            html.H3(t("pumpd.strategies")),
            dcc.Link(
                t("pumpd.edit_strategies"),
                href=f"/pumps/strategies?pump={pump_id}",
                id="pumpd-edit-strategies",
            ),
            table(
                [t("pumpd.name"), t("pumpd.kind"), t("pumpd.state"), t("pumpd.value")],
                rows,
                "pumpd-strategy-table",
                t("pumpd.no_strategies"),
            ),
        ],
        className="hw-card",
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pump-detail", 21, layout, title="pumpd.title", nav=False)

    @app.callback(
        Output("pumpd-capture", "options"),
        Output("pumpd-capture", "value"),
        Input("pumpd-sensor", "value"),
        prevent_initial_call=True,
    )
    def _captures(sensor: Any) -> tuple[list, Any]:
        if auth.current_user() is None:
            raise dash.exceptions.PreventUpdate
        with auth.db_pool().connection() as conn:
            opts = _capture_options(conn, _int(sensor))
        return opts, opts[0]["value"] if opts else None

    @app.callback(
        Output("pumpd-cursor", "value"),
        Input("pumpd-spectrum", "clickData"),
        prevent_initial_call=True,
    )
    def _click(click: dict | None) -> float:
        if not click or not click.get("points"):
            raise dash.exceptions.PreventUpdate
        return round(float(click["points"][0]["x"]), 2)

    graphs = (
        "trend",
        "waveform",
        "spectrum",
        "envelope",
        "waterfall",
        "cepstrum",
        "orders",
        "phase",
    )

    @app.callback(
        Output("pumpd-summary", "children"),
        *[Output(f"pumpd-{g}", "figure") for g in graphs],
        Output("pumpd-strategies", "children"),
        Input("pumpd-capture", "value"),
        Input("pumpd-axis", "value"),
        Input("pumpd-band-lo", "value"),
        Input("pumpd-band-hi", "value"),
        Input("pumpd-cursor", "value"),
        Input("pumpd-sideband", "value"),
        State("pumpd-sensor", "value"),
        State("pumpd-id", "data"),
    )
    def _refresh(
        capture: str | None,
        axis: str,
        lo: float | None,
        hi: float | None,
        cursor: float | None,
        sideband: float | None,
        sensor: Any,
        pump_id: Any,
    ) -> tuple:
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            raise dash.exceptions.PreventUpdate
        now = datetime.now(UTC)
        empty = figs._base("", "", "")
        with auth.db_pool().connection() as conn:
            found = pumps_in_scope(conn, user.scope, now, _int(pump_id))
            if not found:
                return (forbidden(), *[empty] * len(graphs), "")
            sid = _int(sensor)
            strat = strategies_table(conn, found[0]["id"])
            if sid is None or sid not in {i for i, _ in _sensors(conn, found[0]["id"])}:
                return (html.P(i18n.t("pumpd.no_capture")), *[empty] * len(graphs), strat)
            band = None
            if lo is not None or hi is not None:
                if lo is None or hi is None or not 0 <= lo < hi:
                    return (
                        html.P(i18n.t("pumpd.band_bad"), id="pumpd-band-bad"),
                        *[empty] * len(graphs),
                        strat,
                    )
                band = (float(lo), float(hi))
            at = datetime.fromisoformat(capture) if capture else now
            try:
                out = tools(
                    conn,
                    found[0],
                    sid,
                    at,
                    axis or "X",
                    band,
                    float(cursor) if cursor else None,
                    float(sideband) if sideband else None,
                    now,
                )
            except ValueError as exc:
                return (
                    html.P(i18n.t("pumpd.error", e=str(exc)), id="pumpd-error"),
                    *[empty] * len(graphs),
                    strat,
                )
        return (out["summary"], *[out[g] for g in graphs], strat)
