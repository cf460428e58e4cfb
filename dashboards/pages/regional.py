"""Regional supervision (D3, R8): for a regulator's region (or, for staff who see every
enterprise, the whole province) a schematic map of the cities, per-city and per-enterprise
alarm counts and data completeness, rankings by enterprise, category and priority, and a
drill-down to one enterprise (read-only).

The numbers come from the same functions that answer the REST API (dashboards.api.regulator),
called with the signed-in user's scope, so the page and the API never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from pydantic import BaseModel

from dashboards import auth, i18n
from dashboards.api import regulator as api
from dashboards.api.spec import Ctx, QueryModel
from dashboards.components.basic import stat_card, table
from dashboards.layout import NAV, NavEntry

ROLES = frozenset({"admin", "engineer", "regulator"})
WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
#: City seats (longitude, latitude) for the schematic map: no map tiles are reachable
#: offline, so cities are drawn as points at their coordinates, not over a base map.
CITY_SEATS: dict[str, tuple[float, float]] = {
    "140100": (112.55, 37.87), "140200": (113.30, 40.08), "140300": (113.58, 37.86),
    "140400": (113.12, 36.20), "140500": (112.85, 35.49), "140600": (112.43, 39.33),
    "140700": (112.75, 37.69), "140800": (111.00, 35.03), "140900": (112.73, 38.42),
    "141000": (111.52, 36.08), "141100": (111.14, 37.52),
}  # fmt: skip

i18n.register(
    {
        "nav.regional": {"zh": "区域监管", "en": "Regional view"},
        "regional.title": {"zh": "区域监管总览", "en": "Regional supervision"},
        "regional.window": {"zh": "统计时段", "en": "Window"},
        "regional.w.1d": {"zh": "近24小时", "en": "Last 24 h"},
        "regional.w.7d": {"zh": "近7天", "en": "Last 7 days"},
        "regional.w.30d": {"zh": "近30天", "en": "Last 30 days"},
        "regional.enterprises": {"zh": "企业数", "en": "Enterprises"},
        "regional.alarms": {"zh": "报警次数", "en": "Alarms"},
        "regional.completeness": {"zh": "数据完整率", "en": "Data completeness"},
        "regional.stale": {"zh": "数据中断企业", "en": "Enterprises without data"},
        "regional.map": {"zh": "各市报警与数据完整率", "en": "Alarms and completeness by city"},
        "regional.city": {"zh": "城市", "en": "City"},
        "regional.enterprise": {"zh": "企业", "en": "Enterprise"},
        "regional.rank": {"zh": "排名", "en": "Rank"},
        "regional.by_enterprise": {"zh": "企业报警排名", "en": "Alarm ranking by enterprise"},
        "regional.by_category": {"zh": "按报警类型", "en": "By alarm type"},
        "regional.by_priority": {"zh": "按报警级别", "en": "By priority"},
        "regional.detail": {"zh": "详情", "en": "Details"},
        "regional.empty": {"zh": "当前范围内没有企业。", "en": "No enterprises in your scope."},
        "regional.none": {"zh": "无", "en": "none"},
        "regional.ent.title": {"zh": "企业监管详情", "en": "Enterprise (read-only)"},
        "regional.ent.missing": {
            "zh": "该企业不存在或不在您的监管范围内。",
            "en": "No such enterprise in your scope.",
        },
        "regional.ent.recent": {"zh": "最近报警", "en": "Recent alarms"},
        "regional.ent.tag": {"zh": "位号", "en": "Tag"},
        "regional.ent.time": {"zh": "时间", "en": "Time"},
        "regional.ent.priority": {"zh": "级别", "en": "Priority"},
        "regional.ent.category": {"zh": "类型", "en": "Type"},
        "regional.ent.value": {"zh": "值 / 限值", "en": "Value / limit"},
        "regional.ent.tags": {"zh": "位号数", "en": "Tags"},
        "regional.ent.last": {"zh": "最新数据", "en": "Newest data"},
        "regional.ent.hazard": {"zh": "重大危险源等级", "en": "Major hazard level"},
    }
)

M = TypeVar("M", bound=BaseModel)


def _all_items(
    handler: Callable[[Ctx, Any], M], query: type[QueryModel], ctx: Ctx, **params: Any
) -> list[Any]:
    """Every item of a paged API handler (a province has a few hundred enterprises)."""
    items: list[Any] = []
    page = 1
    while True:
        res = handler(ctx, query.model_validate({**params, "page": page, "per_page": 500}))
        items.extend(res.items)  # type: ignore[attr-defined]
        if len(items) >= res.total or not res.items:  # type: ignore[attr-defined]
            return items
        page += 1


def city_of(region_code: str) -> str:
    """GB/T 2260: a county's city is its first four digits + "00"."""
    return region_code[:4] + "00" if len(region_code) == 6 else region_code


def summarise(
    enterprises: list[api.Enterprise],
    ranking: list[api.Ranked],
    freshness: list[api.Freshness],
) -> dict[str, dict[str, Any]]:
    """Per city code: name, enterprises, alarms, tags, fresh tags (pure; tested directly)."""
    alarms = {int(r.key): r.count for r in ranking}
    fresh = {f.enterprise_id: f for f in freshness}
    cities: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"name": "", "enterprises": 0, "alarms": 0, "tags": 0, "fresh": 0}
    )
    for e in enterprises:
        c = cities[city_of(e.region_code)]
        c["enterprises"] += 1
        c["alarms"] += alarms.get(e.id, 0)
        if not c["name"] or e.region_code == city_of(e.region_code):
            c["name"] = e.region_name
        f = fresh.get(e.id)
        if f is not None:
            c["tags"] += f.tags
            c["fresh"] += f.fresh_tags
    return dict(cities)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _pct(fresh: int, tags: int) -> str:
    return f"{100.0 * fresh / tags:.1f}%" if tags else "-"


def _map(cities: dict[str, dict[str, Any]]) -> go.Figure:
    t = i18n.t
    shown = {code: c for code, c in cities.items() if code in CITY_SEATS}
    xs = [CITY_SEATS[code][0] for code in shown]
    ys = [CITY_SEATS[code][1] for code in shown]
    alarms = [c["alarms"] for c in shown.values()]
    compl = [100.0 * c["fresh"] / c["tags"] if c["tags"] else 0.0 for c in shown.values()]
    biggest = max(alarms, default=0) or 1
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=[c["name"] for c in shown.values()],
            textposition="top center",
            customdata=list(shown),
            marker={
                "size": [14 + 36 * a / biggest for a in alarms],
                "color": compl,
                "cmin": 0,
                "cmax": 100,
                "colorscale": [[0, "#c62828"], [0.8, "#f9a825"], [1, "#2e7d32"]],
                "colorbar": {"title": {"text": t("regional.completeness") + " %"}},
                "line": {"width": 1, "color": "#333"},
            },
            hovertext=[
                f"{c['name']}<br>{t('regional.enterprises')}: {c['enterprises']}<br>"
                f"{t('regional.alarms')}: {c['alarms']}<br>"
                f"{t('regional.completeness')}: {_pct(c['fresh'], c['tags'])}"
                for c in shown.values()
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title=t("regional.map"),
        xaxis={"visible": False, "range": [110.2, 114.6]},
        yaxis={"visible": False, "range": [34.4, 40.8], "scaleanchor": "x", "scaleratio": 1.25},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=480,
        plot_bgcolor="#f4f6f8",
    )
    return fig


def _bars(items: list[api.Ranked], title: str, labels: dict[str, str] | None = None) -> go.Figure:
    items = items[:15]
    names = [(labels or {}).get(i.name, i.name) for i in items]
    fig = go.Figure(go.Bar(x=[i.count for i in items][::-1], y=names[::-1], orientation="h"))
    fig.update_layout(
        title=title,
        height=120 + 26 * max(1, len(items)),
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
    )
    fig.update_yaxes(automargin=True)
    return fig


def content(window: str) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return html.Div()
    t = i18n.t
    end = datetime.now(UTC)
    span = {"from": end - WINDOWS.get(window, WINDOWS["1d"]), "to": end}
    with auth.db_pool().connection() as conn:
        ctx = Ctx(conn, None, user.scope)
        enterprises = _all_items(api.enterprises, api.EnterpriseQuery, ctx)
        ranking = _all_items(api.alarm_stats, api.StatsQuery, ctx, group_by="enterprise", **span)
        fresh = _all_items(api.freshness, api.FreshnessQuery, ctx)
        by_cat = api.alarm_stats(
            ctx, api.StatsQuery.model_validate({**span, "group_by": "category"})
        )
        by_prio = api.alarm_stats(
            ctx, api.StatsQuery.model_validate({**span, "group_by": "priority"})
        )
    if not enterprises:
        return html.Div(t("regional.empty"), className="hw-muted", id="regional-empty")
    cities = summarise(enterprises, ranking, fresh)
    tags = sum(c["tags"] for c in cities.values())
    fresh_tags = sum(c["fresh"] for c in cities.values())
    stale = sum(1 for f in fresh if f.tags and f.fresh_tags == 0)
    stats = html.Div(
        className="hw-stats",
        children=[
            stat_card(t("regional.enterprises"), i18n.fmt_number(len(enterprises)), "rg-ent"),
            stat_card(t("regional.alarms"), i18n.fmt_number(by_cat.alarms), "rg-alarms"),
            stat_card(t("regional.completeness"), _pct(fresh_tags, tags), "rg-compl"),
            stat_card(
                t("regional.stale"), i18n.fmt_number(stale), "rg-stale", "hw-bad" if stale else ""
            ),
        ],
    )
    city_rows = [
        (
            c["name"],
            i18n.fmt_number(c["enterprises"]),
            i18n.fmt_number(c["alarms"]),
            _pct(c["fresh"], c["tags"]),
        )
        for _, c in sorted(cities.items(), key=lambda kv: (-kv[1]["alarms"], kv[0]))
    ]
    names = {e.id: e for e in enterprises}
    fresh_by = {f.enterprise_id: f for f in fresh}
    ent_rows = []
    for r in ranking[:50]:
        e = names.get(int(r.key))
        f = fresh_by.get(int(r.key))
        ent_rows.append(
            (
                str(r.rank),
                dcc.Link(r.name, href=f"/regional/enterprise?id={r.key}"),
                e.region_name if e else "-",
                i18n.fmt_number(r.count),
                _pct(f.fresh_tags, f.tags) if f else "-",
            )
        )
    prio_labels = {p: t(f"overview.prio.{p}") for p in ("emergency", "high", "low", "journal")}
    return html.Div(
        [
            stats,
            html.Div(
                className="hw-grid2",
                children=[
                    dcc.Graph(
                        id="regional-map", figure=_map(cities), config={"displaylogo": False}
                    ),
                    table(
                        [
                            t("regional.city"),
                            t("regional.enterprises"),
                            t("regional.alarms"),
                            t("regional.completeness"),
                        ],
                        city_rows,
                        "regional-cities",
                        t("regional.empty"),
                    ),
                ],
            ),
            html.H2(t("regional.by_enterprise")),
            table(
                [
                    t("regional.rank"),
                    t("regional.enterprise"),
                    t("regional.city"),
                    t("regional.alarms"),
                    t("regional.completeness"),
                ],
                ent_rows,
                "regional-ranking",
                t("regional.none"),
            ),
            html.Div(
                className="hw-grid2",
                children=[
                    dcc.Graph(
                        id="regional-by-category",
                        figure=_bars(by_cat.items, t("regional.by_category")),
                    ),
                    dcc.Graph(
                        id="regional-by-priority",
                        figure=_bars(by_prio.items, t("regional.by_priority"), prio_labels),
                    ),
                ],
            ),
        ]
    )


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role not in ROLES:
        from dashboards.layout import forbidden

        return forbidden()
    t = i18n.t
    return html.Div(
        [
            html.H1(t("regional.title"), id="page-title"),
            html.Div(
                className="hw-filters",
                children=[
                    html.Label(t("regional.window"), htmlFor="regional-window"),
                    dcc.RadioItems(
                        id="regional-window",
                        options=[{"label": t(f"regional.w.{w}"), "value": w} for w in WINDOWS],
                        value="1d",
                        inline=True,
                    ),
                ],
            ),
            dcc.Loading(html.Div(id="regional-content")),
        ]
    )


def enterprise_layout(id: str | None = None, **_query: Any) -> html.Div:
    """One enterprise, read-only: what the API's detail and events answer, for people."""
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role not in ROLES:
        from dashboards.layout import forbidden

        return forbidden()
    t = i18n.t
    missing = html.Div(
        [
            html.H1(t("regional.ent.title"), id="page-title"),
            html.P(t("regional.ent.missing"), id="regional-ent-missing"),
        ]
    )
    if not id or not id.isdigit() or int(id) > 2**31 - 1:
        return missing
    with auth.db_pool().connection() as conn:
        ctx = Ctx(conn, None, user.scope, {"enterprise_id": int(id)})
        try:
            detail = api.enterprise(ctx, api.NoQuery())
        except api.ApiError:
            return missing
        events = api.alarm_events(
            ctx, api.AlarmQuery.model_validate({"enterprise_id": int(id), "per_page": 100,
                                                "from": datetime.now(UTC) - timedelta(days=7)})
        )  # fmt: skip
    stats = html.Div(
        className="hw-stats",
        children=[
            stat_card(
                t("regional.alarms") + " (24h)", i18n.fmt_number(detail.alarms_24h), "rge-alarms"
            ),
            stat_card(t("regional.ent.tags"), i18n.fmt_number(detail.tags), "rge-tags"),
            stat_card(t("regional.ent.last"), i18n.fmt_datetime(detail.last_data_at), "rge-last"),
            stat_card(
                t("regional.ent.hazard"), str(detail.major_hazard_level or "-"), "rge-hazard"
            ),
        ],
    )
    rows = [
        (
            i18n.fmt_datetime(e.time),
            e.tag,
            e.condition,
            t(f"overview.prio.{e.priority}") if e.priority else "-",
            e.category or "-",
            f"{_num(e.value)} / {_num(e.limit_value)}",
        )
        for e in events.items
    ]
    return html.Div(
        [
            html.H1(f"{detail.name}", id="page-title"),
            html.P(f"{detail.region_name} · {detail.code or ''}", className="hw-muted"),
            stats,
            html.Div(
                className="hw-grid2",
                children=[
                    dcc.Graph(
                        figure=_bars(
                            [
                                api.Ranked(rank=i + 1, key=c.key, name=c.key, count=c.count)
                                for i, c in enumerate(detail.alarms_24h_by_category)
                            ],
                            t("regional.by_category"),
                        )
                    ),
                    dcc.Graph(
                        figure=_bars(
                            [
                                api.Ranked(rank=i + 1, key=c.key, name=c.key, count=c.count)
                                for i, c in enumerate(detail.alarms_24h_by_priority)
                            ],
                            t("regional.by_priority"),
                        )
                    ),
                ],
            ),
            html.H2(t("regional.ent.recent")),
            table(
                [
                    t("regional.ent.time"),
                    t("regional.ent.tag"),
                    "",
                    t("regional.ent.priority"),
                    t("regional.ent.category"),
                    t("regional.ent.value"),
                ],
                rows,
                "regional-ent-events",
                t("regional.none"),
            ),
        ]
    )


def title() -> str:
    return f"{i18n.t('nav.regional')} · {i18n.t('site.name')}"


def register(app: dash.Dash) -> None:
    dash.register_page(
        __name__, path="/regional", name="regional", title=title, layout=layout, order=5
    )
    dash.register_page(
        __name__ + ".enterprise", path="/regional/enterprise", name="regional-enterprise",
        title=title, layout=enterprise_layout, order=6,
    )  # fmt: skip
    if not any(e.path == "/regional" for e in NAV):
        NAV.append(NavEntry("/regional", "nav.regional", ROLES))

    @app.callback(Output("regional-content", "children"), Input("regional-window", "value"))
    def _refresh(window: str | None) -> html.Div:
        return content(window or "1d")
