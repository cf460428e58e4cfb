"""The page a panel drills down to: one tag's trend over the chosen range, its alarm ledger
entries (A1) and its latest alarm events (``/tags/<id>?from=now-24h&to=now``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import dcc, html

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.components.timerange import QUICK_RANGES
from dashboards.components.variables import ViewState
from dashboards.layout import register_page
from dashboards.panels import queries, render

i18n.register(
    {
        "tag.title": {"zh": "测点详情", "en": "Tag"},
        "tag.missing": {
            "zh": "测点不存在，或不在您的权限范围内。",
            "en": "No such tag, or it is outside your scope.",
        },
        "tag.enterprise": {"zh": "企业", "en": "Enterprise"},
        "tag.unit": {"zh": "装置/区域", "en": "Unit"},
        "tag.eng_unit": {"zh": "工程单位", "en": "Engineering unit"},
        "tag.range": {"zh": "量程", "en": "Range"},
        "tag.trend": {"zh": "趋势", "en": "Trend"},
        "tag.ledger": {"zh": "报警台账", "en": "Alarm ledger"},
        "tag.events": {"zh": "最近报警事件", "en": "Recent alarm events"},
        "tag.no_ledger": {
            "zh": "该测点没有报警台账条目。",
            "en": "No ledger entries for this tag.",
        },
        "tag.no_events": {"zh": "没有报警事件。", "en": "No alarm events."},
        "tag.condition": {"zh": "报警类型", "en": "Condition"},
        "tag.limit": {"zh": "限值", "en": "Limit"},
        "tag.priority": {"zh": "优先级", "en": "Priority"},
        "tag.category": {"zh": "类别", "en": "Category"},
        "tag.deadband": {"zh": "死区", "en": "Deadband"},
        "tag.delay": {"zh": "延时(开/关,秒)", "en": "Delay on/off (s)"},
        "tag.enabled": {"zh": "启用", "en": "Enabled"},
        "tag.interlock": {"zh": "联锁", "en": "Interlock"},
        "tag.time": {"zh": "时间", "en": "Time"},
        "tag.kind": {"zh": "事件", "en": "Event"},
        "tag.value": {"zh": "值", "en": "Value"},
        "tag.message": {"zh": "信息", "en": "Message"},
        "tag.yes": {"zh": "是", "en": "yes"},
        "tag.no": {"zh": "否", "en": "no"},
    }
)

_LIMIT_COLORS = {"emergency": "red", "high": "orange", "low": "yellow", "journal": "blue"}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


def layout(tag_id: str = "", **query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    if not tag_id.isdigit():
        return html.Div(t("tag.missing"), className="hw-error", id="tag-missing")
    params = {"from": "now-24h", "to": "now"}
    params.update({k: v for k, v in query.items() if k in ("from", "to") and v})
    state, errors = ViewState.from_params(params)
    now = datetime.now(UTC)
    with auth.db_pool().connection() as conn:
        tag = queries.visible_tag(conn, user.scope, int(tag_id))
        if tag is None:
            return html.Div(t("tag.missing"), className="hw-error", id="tag-missing")
        ledger = queries.ledger(conn, tag["id"])
        events = queries.recent_events(conn, tag["id"])
        limits = sorted(
            {(r[1], _LIMIT_COLORS.get(r[2], "red")) for r in ledger if r[1] is not None}
        )
        panel = {
            "id": "tag-trend",
            "type": "timeseries",
            "tags": [tag["id"]],
            "thresholds": [{"value": v, "color": c} for v, c in limits],
            "height": 9,
        }
        fig, plan = render.timeseries_panel(conn, user.scope, panel, state, now)
    yes, no = t("tag.yes"), t("tag.no")
    ledger_rows = [
        (
            cond,
            _num(limit),
            prio,
            cat,
            _num(db),
            f"{on:g}/{off:g}",
            yes if en else no,
            yes if il else no,
        )
        for cond, limit, prio, cat, db, on, off, en, il, *_ in ledger
    ]
    event_rows = [
        (
            i18n.fmt_datetime(time, seconds=True),
            kind,
            cond,
            prio or "",
            _num(value),
            _num(limit),
            msg or "",
        )
        for time, kind, cond, prio, value, limit, msg, _op in events
    ]
    rng = [
        dcc.Link(t(key), href=f"/tags/{tag['id']}?from={expr}&to=now", className="hw-btn dv-quick")
        for expr, key in QUICK_RANGES
    ]
    facts = [
        (t("tag.enterprise"), tag["enterprise"]),
        (t("tag.unit"), tag["unit"] or "-"),
        (t("tag.eng_unit"), tag["eng_unit"] or "-"),
        (t("tag.range"), f"{_num(tag['range_low'])} ~ {_num(tag['range_high'])}"),
    ]
    return html.Div(
        [
            html.H1(f"{tag['name']} {tag['description'] or ''}".strip(), id="page-title"),
            html.Div(
                [html.Span([html.B(k + "："), v], className="tag-fact") for k, v in facts],
                className="tag-facts",
                id="tag-facts",
            ),
            html.Div(
                "; ".join(errors), className="hw-error" if errors else "", id="tag-url-errors"
            ),
            html.H2(t("tag.trend")),
            html.Div(rng, className="dv-quick-row"),
            dcc.Graph(id="tag-trend", figure=fig, config=render.GRAPH_CONFIG),
            html.P(
                t("panel.source", relation=plan.relation, bucket=int(plan.bucket.total_seconds())),
                className="hw-muted",
            ),
            html.H2(t("tag.ledger")),
            table(
                [
                    t("tag.condition"),
                    t("tag.limit"),
                    t("tag.priority"),
                    t("tag.category"),
                    t("tag.deadband"),
                    t("tag.delay"),
                    t("tag.enabled"),
                    t("tag.interlock"),
                ],
                ledger_rows,
                "tag-ledger",
                t("tag.no_ledger"),
            ),
            html.H2(t("tag.events")),
            table(
                [
                    t("tag.time"),
                    t("tag.kind"),
                    t("tag.condition"),
                    t("tag.priority"),
                    t("tag.value"),
                    t("tag.limit"),
                    t("tag.message"),
                ],
                event_rows,
                "tag-events",
                t("tag.no_events"),
            ),
        ],
        className="tag-page",
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, "/tags/<tag_id>", "tag", 30, layout, title="tag.title", nav=False)
