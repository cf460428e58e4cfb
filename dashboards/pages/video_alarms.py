"""Video alarm list (issue 9, page 2; V5): thumbnails, type, camera, zone, raise and clear
times, handling state; filtered by type, state, camera and period; newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Input, Output, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import register_page
from dashboards.pages import video_common as vc
from video.store import TYPE_ZH

PATH = "/video/alarms"
LIMIT = 200
PERIODS = (1, 7, 30, 180)

i18n.register(
    {
        "va.title": {"zh": "视频报警记录", "en": "Video alarms"},
        "va.period": {"zh": "时间范围", "en": "Period"},
        "va.days": {"zh": "近 {n} 天", "en": "Last {n} days"},
        "va.empty": {"zh": "没有符合条件的报警。", "en": "No alarms match."},
        "va.count": {
            "zh": "共 {n} 条（最多显示 {limit} 条）",
            "en": "{n} alarms (at most {limit} shown)",
        },
        "va.open": {"zh": "未销警", "en": "active"},
    }
)

_ALARMS = """
SELECT a.id, a.recognition, a.zone, a.camera_label, a.raised_at, a.cleared_at, a.state,
       a.confidence, e.name AS enterprise,
       (a.snapshot_path IS NOT NULL OR a.thumbnail IS NOT NULL) AS has_snapshot
FROM video.alarm a JOIN registry.enterprise e ON e.id = a.enterprise_id
WHERE {scope} AND a.raised_at >= %s
  AND (%s::text IS NULL OR a.recognition = %s)
  AND (%s::text IS NULL OR a.state = %s)
  AND (%s::integer IS NULL OR a.camera_id = %s)
  AND (%s::integer IS NULL OR a.task_id = %s)
ORDER BY a.raised_at DESC, a.id DESC
LIMIT %s
"""


def rows(
    type_: str | None, state: str | None, camera: int | None, days: int, task: int | None = None
) -> list[dict[str, Any]]:
    user = auth.current_user()
    if user is None:
        return []
    cond, params = user.scope.condition("a.enterprise_id")
    since = datetime.now(UTC) - timedelta(days=days)
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL(_ALARMS).format(scope=cond),
            (*params, since, type_, type_, state, state, camera, camera, task, task, LIMIT),
        ).fetchall()


def render(found: list[dict[str, Any]]) -> html.Div:
    t, fmt = i18n.t, i18n.fmt_datetime
    body = []
    for r in found:
        thumb: Any = (
            html.Img(
                src=f"/video/media/snapshot/{r['id']}",
                className="va-thumb",
                alt=vc.type_name(r["recognition"]),
                style={"height": "64px", "maxWidth": "120px", "objectFit": "cover"},
            )
            if r["has_snapshot"]
            else html.Span("-")
        )
        body.append(
            [
                dcc.Link(thumb, href=f"/video/alarm?id={r['id']}"),
                dcc.Link(
                    vc.type_name(r["recognition"]),
                    href=f"/video/alarm?id={r['id']}",
                    id=f"va-link-{r['id']}",
                ),
                r["camera_label"],
                r["zone"] or "-",
                r["enterprise"],
                fmt(r["raised_at"], seconds=True),
                fmt(r["cleared_at"], seconds=True) if r["cleared_at"] else t("va.open"),
                vc.state_name(r["state"]),
            ]
        )
    headers = [
        t("vid.snapshot"),
        t("vid.type"),
        t("vid.camera"),
        t("vid.zone"),
        t("vid.enterprise"),
        t("vid.raised"),
        t("vid.cleared"),
        t("vid.state"),
    ]
    return html.Div(
        [
            html.P(t("va.count", n=len(found), limit=LIMIT), className="hw-muted", id="va-count"),
            table(headers, body, "va-table", t("va.empty")),
        ]
    )


def _camera_options() -> list[dict[str, Any]]:
    user = auth.current_user()
    if user is None:
        return []
    cond, params = user.scope.condition("c.enterprise_id")
    with auth.db_pool().connection() as conn:
        found = conn.execute(
            sql.SQL(
                "SELECT c.id, c.code || ' ' || c.name FROM registry.camera c WHERE {}"
                " AND c.kind = 'camera' ORDER BY c.code LIMIT 500"
            ).format(cond),
            params,
        ).fetchall()
    return [{"label": n, "value": i} for i, n in found]


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def layout(task: Any = None, **_query: Any) -> html.Div:
    if auth.current_user() is None:
        return html.Div()
    t = i18n.t
    types = [{"label": vc.type_name(k), "value": k} for k in TYPE_ZH]
    states = [
        {"label": vc.state_name(s), "value": s}
        for s in ("open", "confirmed", "false_positive", "handled", "closed")
    ]
    periods = [{"label": t("va.days", n=n), "value": n} for n in PERIODS]
    filters = html.Div(
        className="hw-filters",
        style={"display": "flex", "gap": "8px", "flexWrap": "wrap"},
        children=[
            dcc.Dropdown(
                types,
                id="va-type",
                placeholder=t("vid.type"),
                className="hw-dropdown",
                style={"minWidth": "180px"},
            ),
            dcc.Dropdown(
                states,
                id="va-state",
                placeholder=t("vid.state"),
                className="hw-dropdown",
                style={"minWidth": "150px"},
            ),
            dcc.Dropdown(
                _camera_options(),
                id="va-camera",
                placeholder=t("vid.camera"),
                className="hw-dropdown",
                style={"minWidth": "220px"},
            ),
            dcc.Dropdown(
                periods,
                30,
                id="va-days",
                clearable=False,
                className="hw-dropdown",
                style={"minWidth": "140px"},
            ),
        ],
    )
    return html.Div(
        [
            html.H1(t("va.title"), id="page-title"),
            filters,
            dcc.Store(id="va-task", data=_int(task)),
            html.Div(render(rows(None, None, None, 30, _int(task))), id="va-results"),
        ]
    )


def register(app: dash.Dash) -> None:
    vc.install_routes(app.server)
    register_page(
        __name__, PATH, "video-alarms", 61, layout, title="va.title", nav="nav.video_alarms"
    )

    @app.callback(
        Output("va-results", "children"),
        Input("va-type", "value"),
        Input("va-state", "value"),
        Input("va-camera", "value"),
        Input("va-days", "value"),
        Input("va-task", "data"),
        prevent_initial_call=True,
    )
    def filter_rows(
        type_: str | None, state: str | None, camera: int | None, days: int | None, task: int | None
    ) -> html.Div:
        return render(rows(type_, state, _int(camera), int(days or 30), _int(task)))
