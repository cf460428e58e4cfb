"""Zone editor (issue 9, page 6; V3): draw detection polygons on a current picture of the
camera, at its original resolution, for one algorithm of a task. ``/video/zones?binding=7``.

Polygons are drawn with plotly's closed-path tool (or typed as ``name=x,y;x,y;...`` lines);
existing zones are shapes that can be moved or reshaped. Saving checks every polygon (three
points or more, an area, inside the picture) and writes them through the audited register.
"""

from __future__ import annotations

import re
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.layout import register_page
from dashboards.pages import video_common as vc
from hazwatch.errors import HazwatchError
from video import registry
from video.zones import Zone, check_fits, parse_zone

PATH = "/video/zones"
MAX_POINTS = 64
_PAIR = re.compile(r"(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")

i18n.register(
    {
        "vz.title": {"zh": "检测区域编辑", "en": "Zone editor"},
        "vz.missing": {"zh": "没有这个任务算法。", "en": "No such task algorithm."},
        "vz.help": {
            "zh": "在画面上按住鼠标画出闭合区域；可拖动已有区域的顶点。"
            "也可在下方按“名称=x,y;x,y;...”逐行输入。",
            "en": "Hold the mouse and draw a closed area on the picture; drag the corners "
            "of existing zones. Or type one zone per line as name=x,y;x,y;...",
        },
        "vz.names": {
            "zh": "区域名称（按绘制顺序，逗号分隔）",
            "en": "Zone names (in drawing order, comma-separated)",
        },
        "vz.manual": {"zh": "手工输入区域", "en": "Zones typed in"},
        "vz.no_frame": {
            "zh": "暂时取不到摄像机画面（{url}）：区域仍可手工输入。",
            "en": "No picture from the camera right now ({url}): zones can still be typed in.",
        },
        "vz.saved": {"zh": "已保存 {n} 个区域。", "en": "{n} zones saved."},
        "vz.size": {"zh": "画面 {w}×{h} 像素", "en": "Picture {w}×{h} pixels"},
    }
)


def path_points(path: str) -> list[tuple[float, float]]:
    """Vertices of a plotly SVG path (``M10,20L30,40Z``).

    >>> path_points("M10,20L30.5,40L5,60Z")
    [(10.0, 20.0), (30.5, 40.0), (5.0, 60.0)]
    """
    return [(float(x), float(y)) for x, y in _PAIR.findall(path)]


def simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A freehand outline reduced to its corners (Douglas-Peucker, 0.5 % of the perimeter)."""
    if len(points) <= 8:
        return points
    import cv2
    import numpy as np

    arr = np.array(points, np.float32).reshape(-1, 1, 2)
    eps = 0.005 * cv2.arcLength(arr, True)
    out = cv2.approxPolyDP(arr, eps, True).reshape(-1, 2)
    while len(out) > MAX_POINTS:
        eps *= 1.5
        out = cv2.approxPolyDP(arr, eps, True).reshape(-1, 2)
    return [(round(float(x), 1), round(float(y), 1)) for x, y in out]


def shape_points(shape: dict[str, Any]) -> list[tuple[float, float]]:
    if shape.get("type") == "rect":
        x0, y0, x1, y1 = (float(shape[k]) for k in ("x0", "y0", "x1", "y1"))
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return simplify(path_points(str(shape.get("path", ""))))


def zones_from(
    shapes: list[dict[str, Any]], names: str, manual: str, width: int, height: int
) -> list[Zone]:
    """Drawn shapes (named in order) and typed lines to zones, each checked."""
    given = [n.strip() for n in (names or "").split(",") if n.strip()]
    zones = []
    for i, shape in enumerate(shapes):
        name = given[i] if i < len(given) else f"zone-{i + 1}"
        pts = [(min(max(x, 0.0), width), min(max(y, 0.0), height)) for x, y in shape_points(shape)]
        zones.append(Zone(name, tuple(pts)))
    for line in (manual or "").splitlines():
        if line.strip():
            zones.append(parse_zone(line.strip()))
    for zone in zones:
        if width and height:
            check_fits(zone, width, height)
    if len({z.name for z in zones}) != len(zones):
        raise HazwatchError("two zones have the same name")
    return zones


def _binding(binding_id: int | None) -> dict[str, Any] | None:
    user = auth.current_user()
    if user is None or binding_id is None:
        return None
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT ta.id, ta.zones, a.code, t.id AS task_id, t.name AS task, t.enterprise_id,"
            " c.id AS camera_id, c.code AS camera, c.stream_url"
            " FROM video.task_algorithm ta JOIN video.algorithm a ON a.id = ta.algorithm_id"
            " JOIN video.task t ON t.id = ta.task_id JOIN registry.camera c ON c.id = t.camera_id"
            " WHERE ta.id = %s",
            (binding_id,),
        ).fetchone()
        if row is None or not vc.in_scope(conn, user, int(row["enterprise_id"])):
            return None
    return row


def figure(camera_id: int, width: int, height: int, zones: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    w, h = width or 1920, height or 1080
    # An invisible trace fixes the axes to the picture's pixels.
    fig.add_trace(
        go.Scatter(
            x=[0, w],
            y=[0, h],
            mode="markers",
            marker={"opacity": 0},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    if width:
        fig.add_layout_image(
            source=f"/video/media/frame/{camera_id}",
            xref="x",
            yref="y",
            x=0,
            y=0,
            sizex=w,
            sizey=h,
            sizing="stretch",
            layer="below",
            yanchor="top",
        )
    for z in zones:
        pts = z["points"]
        path = "M" + "L".join(f"{x},{y}" for x, y in pts) + "Z"
        fig.add_shape(
            type="path",
            path=path,
            name=z["name"],
            editable=True,
            line={"color": "#ffb300", "width": 3},
            fillcolor="rgba(255,179,0,0.2)",
        )
    fig.update_xaxes(range=[0, w], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[h, 0], showgrid=False, zeroline=False, scaleanchor="x")
    fig.update_layout(
        dragmode="drawclosedpath",
        height=560,
        margin={"l": 30, "r": 10, "t": 10, "b": 30},
        newshape={"line": {"color": "#ffb300", "width": 3}, "fillcolor": "rgba(255,179,0,0.2)"},
        plot_bgcolor="#222",
    )
    return fig


def _id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def layout(binding: Any = None, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    b = _binding(_id(binding))
    if b is None:
        return html.Div([html.H1(t("vz.title"), id="page-title"), html.P(t("vz.missing"))])
    from dashboards.server import resources
    from video.crypto import redact

    home = resources(dash.get_app().server).settings.home
    with auth.db_pool().connection() as conn:
        try:
            frame = vc.camera_frame(home, conn, int(b["camera_id"]))
        except HazwatchError:
            frame = None
    width, height = vc.frame_size(frame) if frame else (0, 0)
    writable = user.role in vc.CONFIGURERS
    shapes = [
        {"type": "path", "path": "M" + "L".join(f"{x},{y}" for x, y in z["points"]) + "Z"}
        for z in b["zones"]
    ]
    return html.Div(
        [
            html.H1(t("vz.title"), id="page-title"),
            html.P(
                f"{b['task']} · {vc.type_name(b['code'])} · {b['camera']}"
                + (f" · {t('vz.size', w=width, h=height)}" if width else "")
            ),
            html.P(
                t("vz.help") if width else t("vz.no_frame", url=redact(b["stream_url"] or "")),
                className="hw-muted",
            ),
            dcc.Graph(
                id="vz-graph",
                figure=figure(int(b["camera_id"]), width, height, b["zones"]),
                config={
                    "modeBarButtonsToAdd": ["drawclosedpath", "drawrect", "eraseshape"],
                    "displaylogo": False,
                    "edits": {"shapePosition": writable},
                },
            ),
            dcc.Store(id="vz-shapes", data=shapes),
            dcc.Store(id="vz-meta", data={"binding": b["id"], "w": width, "h": height}),
            html.Label(t("vz.names"), htmlFor="vz-names"),
            dcc.Input(
                id="vz-names",
                className="hw-input",
                style={"width": "100%"},
                value=", ".join(z["name"] for z in b["zones"]),
                disabled=not writable,
            ),
            html.Label(t("vz.manual"), htmlFor="vz-manual"),
            dcc.Textarea(
                id="vz-manual",
                className="hw-input",
                disabled=not writable,
                placeholder="gate=100,400;500,400;500,570;100,570",
                style={"width": "100%", "height": 60},
            ),
            html.Button(
                t("vid.save"), id="vz-save", className="hw-btn", n_clicks=0, disabled=not writable
            ),
            html.Div("" if writable else t("vid.readonly"), id="vz-message", className="hw-muted"),
        ]
    )


def apply_relayout(shapes: list[dict[str, Any]], relayout: dict[str, Any]) -> list[dict[str, Any]]:
    """Carry a plotly ``relayoutData`` into the list of shapes: a full ``shapes`` list (drawn
    or erased) replaces it; ``shapes[i].path`` / ``.x0`` … edit one.

    >>> apply_relayout([{"type": "path", "path": "M0,0L1,0L1,1Z"}], {"shapes[0].path": "M0,0Z"})
    [{'type': 'path', 'path': 'M0,0Z'}]
    """
    if "shapes" in relayout and isinstance(relayout["shapes"], list):
        return [
            {k: s.get(k) for k in ("type", "path", "x0", "y0", "x1", "y1") if k in s}
            for s in relayout["shapes"]
        ]
    out = [dict(s) for s in shapes]
    for key, value in relayout.items():
        m = re.match(r"^shapes\[(\d+)\]\.(path|x0|y0|x1|y1)$", key)
        if m and int(m.group(1)) < len(out):
            out[int(m.group(1))][m.group(2)] = value
    return out


def register(app: dash.Dash) -> None:
    vc.install_routes(app.server)
    register_page(__name__, PATH, "video-zones", 65, layout, title="vz.title", nav=False)

    @app.callback(
        Output("vz-shapes", "data"),
        Input("vz-graph", "relayoutData"),
        State("vz-shapes", "data"),
        prevent_initial_call=True,
    )
    def track(relayout: dict[str, Any] | None, shapes: list[dict[str, Any]]) -> Any:
        if not relayout:
            raise dash.exceptions.PreventUpdate
        return apply_relayout(shapes or [], relayout)

    @app.callback(
        Output("vz-message", "children"),
        Input("vz-save", "n_clicks"),
        State("vz-shapes", "data"),
        State("vz-names", "value"),
        State("vz-manual", "value"),
        State("vz-meta", "data"),
        prevent_initial_call=True,
    )
    def save(
        _n: int, shapes: list[dict[str, Any]], names: str, manual: str, meta: dict[str, Any]
    ) -> str:
        user = auth.current_user()
        if user is None or user.role not in vc.CONFIGURERS:
            return i18n.t("vid.readonly")
        if _binding(_id(meta.get("binding"))) is None:
            raise dash.exceptions.PreventUpdate
        try:
            zones = zones_from(shapes or [], names, manual, int(meta["w"]), int(meta["h"]))
            with auth.db_pool().connection() as conn:
                registry.save_zones(
                    conn,
                    vc.actor(user),
                    int(meta["binding"]),
                    [{"name": z.name, "points": [list(p) for p in z.points]} for z in zones],
                )
        except HazwatchError as exc:
            return str(exc)
        return i18n.t("vz.saved", n=len(zones))
