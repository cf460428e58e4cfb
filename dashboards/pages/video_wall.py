"""Live wall of the analysis tasks (issue 9, page 1): each task's newest analysed picture,
its stream state, frame rate and worker, refreshed every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.layout import register_page
from dashboards.pages import video_common as vc

PATH = "/video"
REFRESH_MS = 3000

i18n.register(
    {
        "vw.title": {"zh": "视频监控墙", "en": "Video wall"},
        "vw.empty": {
            "zh": "还没有分析任务：在“视频分析配置”中添加。",
            "en": "No analysis tasks yet: add them under Video analysis setup.",
        },
        "vw.alarms_open": {"zh": "未处置报警 {n}", "en": "{n} open alarms"},
        "vw.ago": {"zh": "{s} 秒前", "en": "{s} s ago"},
    }
)

_TASKS = """
SELECT t.id, t.code, t.name, t.enabled, c.code AS camera, s.state, s.fps, s.frames, s.dropped,
       s.worker, s.last_frame_at, s.detail, s.live_path IS NOT NULL AS has_live,
       (SELECT count(*) FROM video.alarm a WHERE a.task_id = t.id AND a.state = 'open') AS open
FROM video.task t JOIN registry.camera c ON c.id = t.camera_id
LEFT JOIN video.task_status s ON s.task_id = t.id
WHERE {scope}
ORDER BY t.enterprise_id, t.code
LIMIT 64
"""


def _card(row: dict[str, Any], tick: int) -> html.Div:
    t = i18n.t
    age = ""
    if row["last_frame_at"] is not None:
        secs = max(0, int((datetime.now(UTC) - row["last_frame_at"]).total_seconds()))
        age = t("vw.ago", s=secs)
    picture: Any = (
        html.Img(
            src=f"/video/media/live/{row['id']}?t={tick}",
            alt=row["name"],
            style={
                "width": "100%",
                "aspectRatio": "4 / 3",
                "objectFit": "cover",
                "background": "#222",
            },
            className="vw-live",
        )
        if row["has_live"]
        else html.Div(
            vc.run_state(row["state"]),
            className="hw-muted",
            style={
                "aspectRatio": "4 / 3",
                "background": "#222",
                "color": "#ccc",
                "display": "flex",
                "alignItems": "center",
                "justifyContent": "center",
            },
        )
    )
    bad = row["state"] in ("video_loss", "camera_offline", "error")
    return html.Div(
        className="hw-card vw-card",
        id=f"vw-task-{row['id']}",
        style={"padding": "8px", "border": "2px solid #c62828" if bad or row["open"] else None},
        children=[
            picture,
            html.Div([html.B(row["name"]), f"  {row['camera']}"]),
            html.Div(
                f"{vc.run_state(row['state'])} · {row['fps'] or 0:g} {t('vid.fps')} · "
                f"{t('vid.dropped')} {row['dropped'] or 0} · {age}",
                className="hw-muted",
            ),
            dcc.Link(t("vw.alarms_open", n=row["open"]), href=f"/video/alarms?task={row['id']}")
            if row["open"]
            else html.Span(),
        ],
    )


def cards(tick: int) -> list[Any]:
    user = auth.current_user()
    if user is None:
        return []
    cond, params = user.scope.condition("t.enterprise_id")
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL(_TASKS).format(scope=cond), params).fetchall()
    if not rows:
        return [html.P(i18n.t("vw.empty"), className="hw-muted")]
    return [_card(r, tick) for r in rows]


def layout(**_query: Any) -> html.Div:
    if auth.current_user() is None:
        return html.Div()
    return html.Div(
        [
            html.H1(i18n.t("vw.title"), id="page-title"),
            dcc.Interval(id="vw-tick", interval=REFRESH_MS),
            html.Div(
                cards(0),
                id="vw-grid",
                style={
                    "display": "grid",
                    "gap": "12px",
                    "gridTemplateColumns": "repeat(auto-fill, minmax(300px, 1fr))",
                },
            ),
        ]
    )


def register(app: dash.Dash) -> None:
    vc.install_routes(app.server)
    register_page(__name__, PATH, "video-wall", 60, layout, title="vw.title", nav="nav.video_wall")

    @app.callback(
        Output("vw-grid", "children"), Input("vw-tick", "n_intervals"), prevent_initial_call=True
    )
    def refresh(n: int | None) -> list[Any]:
        return cards(n or 0)
