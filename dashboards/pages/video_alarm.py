"""One video alarm and its handling (issue 9, page 3; V5, V6, V20): the snapshot, what raised
it, when it cleared, and the closed loop (confirm / false positive / handled / closed) with the
upward review's state. ``/video/alarm?id=123``."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.auth import WebUser
from dashboards.components.basic import table
from dashboards.layout import register_page
from dashboards.pages import video_common as vc
from hazwatch.errors import HazwatchError
from video import review

PATH = "/video/alarm"

i18n.register(
    {
        "vd.title": {"zh": "视频报警详情", "en": "Video alarm"},
        "vd.missing": {"zh": "没有这条视频报警。", "en": "No such video alarm."},
        "vd.algorithm": {"zh": "算法版本", "en": "Algorithm"},
        "vd.started": {"zh": "开始时间", "en": "Started"},
        "vd.detail": {"zh": "说明", "en": "Detail"},
        "vd.low": {"zh": "（低置信度类型）", "en": " (low-confidence type)"},
        "vd.comment": {"zh": "处置说明", "en": "Comment"},
        "vd.act.confirm": {"zh": "确认报警", "en": "Confirm"},
        "vd.act.false_positive": {"zh": "误报", "en": "False positive"},
        "vd.act.handle": {"zh": "已处置", "en": "Handled"},
        "vd.act.close": {"zh": "关闭", "en": "Close"},
        "vd.done": {"zh": "已完成：{state}", "en": "Done: {state}"},
        "vd.history": {"zh": "处置记录", "en": "History"},
        "vd.when": {"zh": "时间", "en": "When"},
        "vd.who": {"zh": "处理人", "en": "By"},
        "vd.action": {"zh": "操作", "en": "Action"},
        "vd.review": {"zh": "上报审核", "en": "Upward review"},
        "vd.review.none": {
            "zh": "未提交（确认后提交值班审核）",
            "en": "not submitted (confirming submits it for review)",
        },
        "vd.review.state": {"zh": "审批单 #{id}：{state}", "en": "Request #{id}: {state}"},
        "vd.pushed": {"zh": "已推送上级平台 {at}", "en": "Queued upward {at}"},
        "vd.rs.pending": {"zh": "待审核", "en": "pending"},
        "vd.rs.approved": {"zh": "已通过，已上报", "en": "approved, pushed"},
        "vd.rs.rejected": {"zh": "未通过", "en": "rejected"},
        "vd.rs.returned": {"zh": "已退回", "en": "returned"},
        "vd.rs.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
        "vd.source": {"zh": "上报来源", "en": "Received from below"},
    }
)


def _review_state(state: str | None) -> str:
    key = f"vd.rs.{state}"
    return i18n.t(key) if key in i18n.STRINGS else str(state)


def _load(user: WebUser, alarm_id: int) -> dict[str, Any] | None:
    cond, params = user.scope.condition("a.enterprise_id")
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL(
                "SELECT a.*, e.name AS enterprise, i.state AS review_state"
                " FROM video.alarm a JOIN registry.enterprise e ON e.id = a.enterprise_id"
                " LEFT JOIN workflow.approval_instance i ON i.id = a.review_id"
                " WHERE a.id = %s AND {}"
            ).format(cond),
            (alarm_id, *params),
        ).fetchone()
        if row is not None:
            row["history"] = review.history(conn, alarm_id)
    return row


def body(user: WebUser, alarm_id: int | None, message: str = "", error: bool = False) -> Any:
    t, fmt = i18n.t, i18n.fmt_datetime
    a = _load(user, alarm_id) if alarm_id is not None else None
    if a is None:
        return html.P(t("vd.missing"), id="vd-missing")
    facts = [
        (
            t("vid.type"),
            vc.type_name(a["recognition"]) + (t("vd.low") if a["confidence"] == "low" else ""),
        ),
        (t("vid.enterprise"), a["enterprise"]),
        (t("vid.camera"), a["camera_label"] or "-"),
        (t("vid.unit"), a["unit_label"] or "-"),
        (t("vid.zone"), a["zone"] or "-"),
        (t("vd.algorithm"), a["algorithm"] or "-"),
        (t("vd.started"), fmt(a["started_at"], seconds=True)),
        (t("vid.raised"), fmt(a["raised_at"], seconds=True)),
        (t("vid.cleared"), fmt(a["cleared_at"], seconds=True) if a["cleared_at"] else "-"),
        (t("vd.detail"), a["detail"] or "-"),
        (t("vid.state"), vc.state_name(a["state"])),
        (
            t("vd.review"),
            t("vd.review.state", id=a["review_id"], state=_review_state(a["review_state"]))
            if a["review_id"]
            else (t("vd.source") if a["origin_key"] else t("vd.review.none")),
        ),
    ]
    if a["pushed_at"]:
        facts.append(("", t("vd.pushed", at=fmt(a["pushed_at"]))))
    writable = user.role in vc.WRITERS and a["origin_key"] is None
    possible = [act for act, (starts, _) in review.TRANSITIONS.items() if a["state"] in starts]
    buttons = [
        html.Button(
            t(f"vd.act.{act}"),
            id={"type": "vd-act", "action": act},
            n_clicks=0,
            className="hw-btn",
            disabled=not writable or act not in possible,
            style={"marginRight": "8px"},
        )
        for act in review.TRANSITIONS
    ]
    history = table(
        [t("vd.when"), t("vd.action"), t("vid.state"), t("vd.who"), t("vd.comment")],
        [
            [
                fmt(h["at"], seconds=True),
                t(f"vd.act.{h['action']}"),
                vc.state_name(h["to_state"]) if h["to_state"] else "-",
                h["actor"],
                h["comment"] or "",
            ]
            for h in a["history"]
        ],
        "vd-history",
        t("vid.none"),
    )
    picture = (
        html.Img(
            src=f"/video/media/snapshot/{a['id']}",
            id="vd-snapshot",
            style={"maxWidth": "100%", "border": "1px solid #ccc"},
        )
        if a["snapshot_path"] or a["thumbnail"]
        else html.P("-", className="hw-muted")
    )
    return html.Div(
        [
            html.Div(
                style={
                    "display": "grid",
                    "gridTemplateColumns": "minmax(0, 3fr) minmax(0, 2fr)",
                    "gap": "16px",
                },
                children=[
                    picture,
                    html.Dl(
                        [x for k, v in facts for x in (html.Dt(k), html.Dd(v))],
                        className="hw-facts",
                        id="vd-facts",
                    ),
                ],
            ),
            html.Div(
                className="hw-card",
                children=[
                    html.Label(t("vd.comment"), htmlFor="vd-comment"),
                    dcc.Textarea(
                        id="vd-comment",
                        className="hw-input",
                        disabled=not writable,
                        style={"width": "100%", "height": 70},
                    ),
                    html.Div(buttons, style={"marginTop": "8px"}),
                    html.Div(
                        message or ("" if writable else t("vid.readonly")),
                        id="vd-message",
                        className="hw-error" if error else "hw-muted",
                    ),
                ],
            ),
            html.H2(t("vd.history")),
            history,
        ]
    )


def _id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def layout(id: Any = None, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    aid = _id(id)
    return html.Div(
        [
            html.H1(i18n.t("vd.title"), id="page-title"),
            dcc.Store(id="vd-alarm", data=aid),
            html.Div(body(user, aid), id="vd-body"),
        ]
    )


def register(app: dash.Dash) -> None:
    vc.install_routes(app.server)
    register_page(__name__, PATH, "video-alarm", 62, layout, title="vd.title", nav=False)

    @app.callback(
        Output("vd-body", "children"),
        Input({"type": "vd-act", "action": ALL}, "n_clicks"),
        State("vd-alarm", "data"),
        State("vd-comment", "value"),
        prevent_initial_call=True,
    )
    def act(clicks: list[int], alarm_id: int | None, comment: str | None) -> Any:
        user = auth.current_user()
        trigger = ctx.triggered_id
        if user is None or alarm_id is None or not isinstance(trigger, dict) or not any(clicks):
            raise dash.exceptions.PreventUpdate
        if user.role not in vc.WRITERS:
            return body(user, alarm_id, i18n.t("vid.readonly"), error=True)
        with auth.db_pool().connection() as conn:
            if _load(user, alarm_id) is None:
                raise dash.exceptions.PreventUpdate
            try:
                state = review.handle(
                    conn, vc.actor(user), alarm_id, trigger["action"], comment or ""
                )
            except HazwatchError as exc:
                return body(user, alarm_id, str(exc), error=True)
        return body(user, alarm_id, i18n.t("vd.done", state=vc.state_name(state)))
