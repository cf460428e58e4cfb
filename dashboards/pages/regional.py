"""Regional supervision (D3, R8): for a regulator's region (or, for staff who see every
enterprise, the whole province) a schematic map of the cities, per-city and per-enterprise
alarm counts by type and data completeness, rankings by enterprise, type, category, priority
and level, and a drill-down to one enterprise (read-only).

R8's alarm types (``TYPES``): process = process alarm events (/api/v1/alarms) plus the rule
engine's alerts on process tags; gas = gas-detector alarms; pump = vibration strategies and
hardware self-diagnosis; video = video alarms a person confirmed (/api/v1/alerts). The numbers
come from the same functions that answer the REST API (dashboards.api.regulator and
dashboards.api.alerts), called with the signed-in user's scope, so the page and the API never
disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from pydantic import BaseModel

from dashboards import auth, i18n
from dashboards.api import alerts as alerts_api
from dashboards.api import regulator as api
from dashboards.api.spec import Ctx, QueryModel
from dashboards.components.basic import stat_card, table
from dashboards.layout import register_page
from dashboards.page_guard import page_user

ROLES = frozenset({"admin", "engineer", "regulator"})
WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
#: R8's alarm types, in the order the tables show them.
TYPES: Final = ("process", "gas", "pump", "video")
#: Alert category (dashboards.api.alerts) -> the type it counts for.
ALERT_TYPES: Final = {
    "process": "process", "gas": "gas", "pump": "pump", "pump_health": "pump", "video": "video",
}  # fmt: skip
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
        "regional.t.process": {"zh": "工艺报警", "en": "Process alarms"},
        "regional.t.gas": {"zh": "气体报警", "en": "Gas alarms"},
        "regional.t.pump": {"zh": "机泵报警", "en": "Pump alarms"},
        "regional.t.video": {"zh": "视频报警", "en": "Video alarms"},
        "regional.c.alarm_event": {"zh": "工艺报警事件", "en": "Process alarm events"},
        "regional.c.process": {"zh": "工艺参数规则报警", "en": "Process rule alarms"},
        "regional.c.gas": {"zh": "可燃/有毒气体报警", "en": "Combustible/toxic gas"},
        "regional.c.pump": {"zh": "机泵振动报警", "en": "Pump vibration"},
        "regional.c.pump_health": {"zh": "机泵监测硬件故障", "en": "Pump monitoring hardware"},
        "regional.c.video": {"zh": "视频报警（已确认）", "en": "Video (confirmed)"},
        "regional.by_type": {
            "zh": "按报警类型（工艺、气体、机泵、视频）",
            "en": "By alarm type (process, gas, pump, video)",
        },
        "regional.by_level": {"zh": "气体/机泵/视频报警按等级", "en": "Gas, pump, video by level"},
        "regional.lv.warning": {"zh": "预警", "en": "Warning"},
        "regional.lv.alarm": {"zh": "报警", "en": "Alarm"},
        "regional.lv.danger": {"zh": "危险", "en": "Danger"},
        "regional.total": {"zh": "合计", "en": "Total"},
        "regional.completeness": {"zh": "数据完整率", "en": "Data completeness"},
        "regional.stale": {"zh": "数据中断企业", "en": "Enterprises without data"},
        "regional.map": {"zh": "各市报警与数据完整率", "en": "Alarms and completeness by city"},
        "regional.city": {"zh": "城市", "en": "City"},
        "regional.enterprise": {"zh": "企业", "en": "Enterprise"},
        "regional.rank": {"zh": "排名", "en": "Rank"},
        "regional.by_enterprise": {"zh": "企业报警排名", "en": "Alarm ranking by enterprise"},
        "regional.by_category": {"zh": "工艺报警按类别", "en": "Process alarms by category"},
        "regional.by_priority": {"zh": "工艺报警按优先级", "en": "Process alarms by priority"},
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
        "regional.ent.alerts": {
            "zh": "最近气体、机泵与规则报警",
            "en": "Recent gas, pump and rule alarms",
        },
        "regional.ent.level": {"zh": "等级", "en": "Level"},
        "regional.ent.state": {"zh": "状态", "en": "State"},
        "regional.ent.summary": {"zh": "内容", "en": "Summary"},
        "regional.ent.unit": {"zh": "单元", "en": "Unit"},
        "regional.st.firing": {"zh": "报警中", "en": "Firing"},
        "regional.st.resolved": {"zh": "已恢复", "en": "Resolved"},
        "regional.st.nodata": {"zh": "无数据", "en": "No data"},
        "regional.st.error": {"zh": "错误", "en": "Error"},
        "regional.st.pending": {"zh": "待定", "en": "Pending"},
        "regional.st.normal": {"zh": "正常", "en": "Normal"},
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


def alert_counts(ctx: Ctx, span: dict[str, datetime]) -> dict[str, dict[int, int]]:
    """Per alert category (``ALERT_TYPES``): ``{enterprise id: alarms}`` of the window."""
    return {
        category: {
            int(r.key): r.count
            for r in _all_items(
                alerts_api.alert_stats,
                alerts_api.AlertStatsQuery,
                ctx,
                group_by="enterprise",
                category=category,
                **span,
            )
        }
        for category in ALERT_TYPES
    }


def by_type(
    ranking: list[api.Ranked], alerts: dict[str, dict[int, int]] | None = None
) -> dict[str, dict[int, int]]:
    """Alarms per R8 type and enterprise (pure): process = alarm events (``ranking`` by
    enterprise) + process-rule alerts; the alert categories counted by ``ALERT_TYPES``."""
    out: dict[str, dict[int, int]] = {t: defaultdict(int) for t in TYPES}
    for r in ranking:
        out["process"][int(r.key)] += r.count
    for category, counts in (alerts or {}).items():
        for ent, n in counts.items():
            out[ALERT_TYPES[category]][ent] += n
    return {t: dict(v) for t, v in out.items()}


def enterprise_ranking(
    enterprises: list[api.Enterprise], types: dict[str, dict[int, int]]
) -> list[dict[str, Any]]:
    """Enterprises with alarms, most first (pure): rank, id, name, region, each type, total."""
    rows = []
    for e in enterprises:
        counts = {t: types.get(t, {}).get(e.id, 0) for t in TYPES}
        total = sum(counts.values())
        if total:
            rows.append({"id": e.id, "name": e.name, "region": e.region_name, **counts,
                         "total": total})  # fmt: skip
    rows.sort(key=lambda r: (-r["total"], r["name"], r["id"]))
    return [{"rank": i + 1, **r} for i, r in enumerate(rows)]


def summarise(
    enterprises: list[api.Enterprise],
    ranking: list[api.Ranked],
    freshness: list[api.Freshness],
    types: dict[str, dict[int, int]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per city code: name, enterprises, alarms (all types), each type's alarms, tags, fresh
    tags (pure; tested directly). Without ``types`` the alarms are ``ranking``'s events."""
    types = types if types is not None else by_type(ranking)
    fresh = {f.enterprise_id: f for f in freshness}
    cities: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "name": "",
            "enterprises": 0,
            "alarms": 0,
            **dict.fromkeys(TYPES, 0),
            "tags": 0,
            "fresh": 0,
        }
    )
    for e in enterprises:
        c = cities[city_of(e.region_code)]
        c["enterprises"] += 1
        for t in TYPES:
            n = types.get(t, {}).get(e.id, 0)
            c[t] += n
            c["alarms"] += n
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
                + "".join(f"{t(f'regional.t.{k}')}: {c[k]}<br>" for k in TYPES)
                + f"{t('regional.completeness')}: {_pct(c['fresh'], c['tags'])}"
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
        alerts = alert_counts(ctx, span)
        by_level = alerts_api.alert_stats(
            ctx, alerts_api.AlertStatsQuery.model_validate({**span, "group_by": "level"})
        )
    if not enterprises:
        return html.Div(t("regional.empty"), className="hw-muted", id="regional-empty")
    types = by_type(ranking, alerts)
    cities = summarise(enterprises, ranking, fresh, types)
    tags = sum(c["tags"] for c in cities.values())
    fresh_tags = sum(c["fresh"] for c in cities.values())
    stale = sum(1 for f in fresh if f.tags and f.fresh_tags == 0)
    totals = {k: sum(types[k].values()) for k in TYPES}
    stats = html.Div(
        className="hw-stats",
        children=[
            stat_card(t("regional.enterprises"), i18n.fmt_number(len(enterprises)), "rg-ent"),
            stat_card(t("regional.t.process"), i18n.fmt_number(totals["process"]), "rg-alarms"),
            *(
                stat_card(
                    t(f"regional.t.{k}"),
                    i18n.fmt_number(totals[k]),
                    f"rg-{k}",
                    "hw-bad" if k == "gas" and totals[k] else "",
                )
                for k in TYPES[1:]
            ),
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
            *(i18n.fmt_number(c[k]) for k in TYPES),
            i18n.fmt_number(c["alarms"]),
            _pct(c["fresh"], c["tags"]),
        )
        for _, c in sorted(cities.items(), key=lambda kv: (-kv[1]["alarms"], kv[0]))
    ]
    fresh_by = {f.enterprise_id: f for f in fresh}
    ent_rows = []
    for r in enterprise_ranking(enterprises, types)[:50]:
        f = fresh_by.get(r["id"])
        ent_rows.append(
            (
                str(r["rank"]),
                dcc.Link(r["name"], href=f"/regional/enterprise?id={r['id']}"),
                r["region"],
                *(i18n.fmt_number(r[k]) for k in TYPES),
                i18n.fmt_number(r["total"]),
                _pct(f.fresh_tags, f.tags) if f else "-",
            )
        )
    type_items = [
        api.Ranked(rank=0, key=key, name=key, count=n)
        for key, n in [
            ("alarm_event", by_cat.alarms),
            *((c, sum(alerts[c].values())) for c in ALERT_TYPES),
        ]
    ]
    type_items.sort(key=lambda r: -r.count)
    type_labels = {k.key: t(f"regional.c.{k.key}") for k in type_items}
    prio_labels = {p: t(f"overview.prio.{p}") for p in ("emergency", "high", "low", "journal")}
    level_labels = {lv: t(f"regional.lv.{lv}") for lv in ("warning", "alarm", "danger")}
    type_heads = [t(f"regional.t.{k}") for k in TYPES]
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
                            *type_heads,
                            t("regional.total"),
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
                    *type_heads,
                    t("regional.total"),
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
                        id="regional-by-type",
                        figure=_bars(type_items, t("regional.by_type"), type_labels),
                    ),
                    dcc.Graph(
                        id="regional-by-level",
                        figure=_bars(by_level.items, t("regional.by_level"), level_labels),
                    ),
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
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
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
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
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
        week = {"enterprise_id": int(id), "per_page": 100,
                "from": datetime.now(UTC) - timedelta(days=7)}  # fmt: skip
        events = api.alarm_events(ctx, api.AlarmQuery.model_validate(week))
        alerts = alerts_api.alerts(ctx, alerts_api.AlertQuery.model_validate(week))
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
    alert_rows = [
        (
            i18n.fmt_datetime(a.fired_at),
            t(f"regional.c.{a.category}"),
            t(f"regional.lv.{a.level}") if a.level else "-",
            t(f"regional.st.{a.state}"),
            a.unit_code or "-",
            a.summary,
        )
        for a in alerts.items
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
            html.H2(t("regional.ent.alerts")),
            table(
                [
                    t("regional.ent.time"),
                    t("regional.ent.category"),
                    t("regional.ent.level"),
                    t("regional.ent.state"),
                    t("regional.ent.unit"),
                    t("regional.ent.summary"),
                ],
                alert_rows,
                "regional-ent-alerts",
                t("regional.none"),
            ),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, "/regional", "regional", 5, layout, roles=ROLES)
    register_page(__name__ + ".enterprise", "/regional/enterprise", "regional-enterprise", 6,
                  enterprise_layout, title="nav.regional", nav=False)  # fmt: skip

    @app.callback(Output("regional-content", "children"), Input("regional-window", "value"))
    def _refresh(window: str | None) -> html.Div:
        return content(window or "1d")
