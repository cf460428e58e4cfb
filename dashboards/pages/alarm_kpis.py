"""Alarm KPIs (issue 7, A4-A8, A11, A19): the KPI overview with the EEMUA 191 / ISA-18.2
targets beside each figure, KPIs by unit and by shift team, Top N counts and durations, type
and priority distributions, the flood timeline, chattering tags, standing alarms and the
records behind them, each linking to the record's page (``/alarms/record?id=ID``).

Filters: enterprise / department / unit / shift team and a date range (China Standard Time
days). Every query carries the user's scope. The counting KPIs come from the rollups
(analytics.alarms.kpis); floods, chattering, Top N and standing alarms from the records.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
import psycopg
from dash import Input, Output, dcc, html
from psycopg import sql

from analytics.alarms.chattering import find_chattering
from analytics.alarms.counts import by_priority, by_type, shares, top_counts, top_durations
from analytics.alarms.floods import find_floods, time_in_flood_pct
from analytics.alarms.kpis import (
    TARGETS,
    Counting,
    Kpis,
    counting_grouped,
    rate_series,
)
from analytics.alarms.queries import Filters, load_records
from analytics.alarms.records import AlarmRecord
from analytics.alarms.standing import stale, standing
from dashboards import auth, i18n
from dashboards.auth import Scope
from dashboards.components.basic import stat_card, table
from dashboards.i18n import DISPLAY_TZ
from dashboards.layout import forbidden, register_page
from dashboards.page_guard import page_user

PATH = "/alarms/kpi"
RECORD_PATH = "/alarms/record"
ROLES = frozenset({"admin", "engineer", "operator", "regulator"})
DEFAULT_DAYS = 7
#: Longest range the page computes from records (floods, chattering, Top N).
MAX_DAYS = 92
TOP_N = 10
#: Rows of the record list (the newest first); the page says when there were more.
MAX_LIST = 200
#: Records read for floods, chattering, Top N (a narrower filter reads all of them).
MAX_RECORDS = 300_000

i18n.register(
    {
        "nav.alarm_kpis": {"zh": "报警绩效", "en": "Alarm KPIs"},
        "akpi.title": {"zh": "报警绩效指标 (KPI)", "en": "Alarm KPIs"},
        "akpi.enterprise": {"zh": "企业", "en": "Enterprise"},
        "akpi.department": {"zh": "生产部门", "en": "Department"},
        "akpi.unit": {"zh": "装置", "en": "Unit"},
        "akpi.team": {"zh": "班组", "en": "Shift team"},
        "akpi.all": {"zh": "全部", "en": "All"},
        "akpi.range": {"zh": "统计时段", "en": "Date range"},
        "akpi.range_bad": {
            "zh": "统计时段无效：结束日期须不早于开始日期，且跨度不超过 {days} 天。",
            "en": "Invalid range: the end must not be before the start, at most {days} days.",
        },
        "akpi.source": {
            "zh": "计数类指标来自汇总表（连续聚合），泛滥、抖动与排行来自报警记录。",
            "en": "Counting KPIs come from the rollups; floods, chattering and rankings from the "
            "records.",
        },
        "akpi.truncated": {
            "zh": "记录过多：泛滥、抖动与排行仅基于最早的 {n} 条记录，请缩小范围。",
            "en": "Too many records: floods, chattering and rankings use the first {n}; narrow "
            "the filters.",
        },
        "akpi.k.alarms": {"zh": "报警总数", "en": "Alarms"},
        "akpi.k.avg_per_hour": {"zh": "时平均报警数", "en": "Average per hour"},
        "akpi.k.avg_per_10min": {"zh": "10分钟平均报警数", "en": "Average per 10 min"},
        "akpi.k.ack_within_30s_pct": {"zh": "确认及时率 (30秒, %)", "en": "Acked ≤ 30 s (%)"},
        "akpi.k.handled_within_30min_pct": {
            "zh": "处置及时率 (30分钟, %)",
            "en": "Handled ≤ 30 min (%)",
        },
        "akpi.k.standing_over_24h": {"zh": "24小时持续报警数", "en": "Standing ≥ 24 h"},
        "akpi.k.peak_10min": {"zh": "10分钟峰值报警数", "en": "Peak in 10 min"},
        "akpi.k.floods": {"zh": "报警泛滥次数", "en": "Floods"},
        "akpi.k.flood_time_pct": {"zh": "泛滥时间占比 (%)", "en": "Time in flood (%)"},
        "akpi.k.chattering_tags": {"zh": "抖动报警位号数", "en": "Chattering tags"},
        "akpi.target": {"zh": "目标", "en": "Target"},
        "akpi.no_target": {"zh": "企业自定", "en": "set by the enterprise"},
        "akpi.by_unit": {"zh": "按装置/工段", "en": "By unit / section"},
        "akpi.by_team": {"zh": "按班组", "en": "By shift team"},
        "akpi.none": {"zh": "无", "en": "none"},
        "akpi.top_counts": {"zh": "报警次数 Top {n}", "en": "Top {n} by count"},
        "akpi.top_durations": {"zh": "报警时长 Top {n}", "en": "Top {n} by duration"},
        "akpi.by_type": {"zh": "报警类型分布", "en": "By type"},
        "akpi.by_priority": {"zh": "报警优先级分布", "en": "By priority"},
        "akpi.flood_timeline": {"zh": "报警泛滥时间线", "en": "Flood timeline"},
        "akpi.floods": {"zh": "泛滥明细", "en": "Floods"},
        "akpi.chattering": {"zh": "抖动报警", "en": "Chattering alarms"},
        "akpi.standing": {"zh": "当前持续报警", "en": "Standing alarms"},
        "akpi.records": {"zh": "报警记录", "en": "Alarm records"},
        "akpi.more": {"zh": "仅显示最新 {n} 条，共 {total} 条。", "en": "Newest {n} of {total}."},
        "akpi.tag": {"zh": "位号", "en": "Tag"},
        "akpi.condition": {"zh": "报警条件", "en": "Condition"},
        "akpi.count": {"zh": "次数", "en": "Count"},
        "akpi.share": {"zh": "占比", "en": "Share"},
        "akpi.total": {"zh": "累计时长", "en": "Total"},
        "akpi.longest": {"zh": "最长", "en": "Longest"},
        "akpi.start": {"zh": "开始", "en": "Start"},
        "akpi.end": {"zh": "结束", "en": "End"},
        "akpi.duration": {"zh": "持续", "en": "Duration"},
        "akpi.peak": {"zh": "峰值(10分钟)", "en": "Peak (10 min)"},
        "akpi.ongoing": {"zh": "进行中", "en": "ongoing"},
        "akpi.max_window": {"zh": "60秒内最多", "en": "Most in 60 s"},
        "akpi.bursts": {"zh": "抖动次数", "en": "Bursts"},
        "akpi.raised": {"zh": "报警时间", "en": "Raised"},
        "akpi.acked": {"zh": "确认时间", "en": "Acknowledged"},
        "akpi.returned": {"zh": "恢复时间", "en": "Returned"},
        "akpi.age": {"zh": "已持续", "en": "Age"},
        "akpi.stale": {"zh": "超24小时", "en": "≥ 24 h"},
        "akpi.priority": {"zh": "优先级", "en": "Priority"},
        "akpi.type": {"zh": "类型", "en": "Type"},
        "akpi.detail": {"zh": "详情", "en": "Details"},
        "akpi.rate": {"zh": "每10分钟报警数", "en": "Alarms per 10 min"},
        "akpi.rate_h": {"zh": "每小时报警数", "en": "Alarms per hour"},
        "akpi.threshold": {"zh": "泛滥阈值 10", "en": "Flood threshold 10"},
        "akpi.met": {"zh": "达标", "en": "met"},
        "akpi.missed": {"zh": "未达标", "en": "not met"},
        "akpi.p.emergency": {"zh": "紧急", "en": "Emergency"},
        "akpi.p.high": {"zh": "重要", "en": "High"},
        "akpi.p.low": {"zh": "一般", "en": "Low"},
        "akpi.p.journal": {"zh": "记录", "en": "Journal"},
        "akpi.p.unknown": {"zh": "未知", "en": "Unknown"},
        "akpi.t.process": {"zh": "工艺", "en": "Process"},
        "akpi.t.equipment": {"zh": "设备", "en": "Equipment"},
        "akpi.t.instrument": {"zh": "仪表", "en": "Instrument"},
        "akpi.t.safety": {"zh": "安全", "en": "Safety"},
        "akpi.t.unknown": {"zh": "未知", "en": "Unknown"},
    }
)

KPI_KEYS = (
    "alarms", "avg_per_hour", "avg_per_10min", "ack_within_30s_pct",
    "handled_within_30min_pct", "standing_over_24h", "peak_10min", "floods", "flood_time_pct",
    "chattering_tags",
)  # fmt: skip


# -- options and filters ---------------------------------------------------------------------


def _options(conn: psycopg.Connection, scope: Scope, ent: int | None) -> dict[str, list[dict]]:
    cond, params = scope.condition("e.id")
    ents = conn.execute(
        sql.SQL("SELECT e.id, e.name FROM registry.enterprise e WHERE {} ORDER BY e.name").format(
            cond
        ),
        params,
    ).fetchall()
    out: dict[str, list[dict]] = {"ent": [{"label": n, "value": i} for i, n in ents]}
    if ent is None:
        out.update(dept=[], unit=[], team=[])
        return out
    for key, query in (
        ("dept", "SELECT d.id, d.name FROM registry.department d JOIN registry.enterprise e"
                 " ON e.id = d.enterprise_id WHERE e.id = %s AND {} ORDER BY d.name"),
        ("unit", "SELECT u.id, u.code || ' ' || u.name FROM registry.unit u JOIN"
                 " registry.enterprise e ON e.id = u.enterprise_id WHERE e.id = %s AND {}"
                 " ORDER BY u.code"),
        ("team", "SELECT s.id, s.name FROM registry.shift_team s JOIN registry.enterprise e"
                 " ON e.id = s.enterprise_id WHERE e.id = %s AND {} ORDER BY s.name"),
    ):  # fmt: skip
        rows = conn.execute(sql.SQL(query).format(cond), [ent, *params]).fetchall()
        out[key] = [{"label": n, "value": i} for i, n in rows]
    return out


def day_range(start: str | None, end: str | None, today: date) -> tuple[datetime, datetime]:
    """``[start 00:00, end + 1 day 00:00)`` in China Standard Time from ``YYYY-MM-DD`` texts.

    >>> day_range("2026-03-01", "2026-03-01", date(2026, 3, 9))[1].day
    2
    """
    first = date.fromisoformat(start[:10]) if start else today - timedelta(days=DEFAULT_DAYS - 1)
    last = date.fromisoformat(end[:10]) if end else today
    if last < first or (last - first).days + 1 > MAX_DAYS:
        raise ValueError("range")
    lo = datetime.combine(first, time(), DISPLAY_TZ)
    return lo.astimezone(UTC), datetime.combine(last + timedelta(days=1), time(), DISPLAY_TZ)


def _int(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# -- rendering helpers -----------------------------------------------------------------------


def _duration(td: timedelta) -> str:
    s = int(td.total_seconds())
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _value(key: str, data: dict[str, Any]) -> str:
    v = data[key]
    if key.endswith("_pct"):
        return _pct(v)
    if isinstance(v, float):
        return f"{v:.2f}"
    return i18n.fmt_number(v)


def _kpi_card(key: str, data: dict[str, Any]) -> html.Div:
    t = i18n.t
    target = TARGETS.get(key)
    met = target.met(data[key]) if target else None
    tone = {True: "hw-good", False: "hw-bad", None: ""}[met]
    if target is None:
        beside = ""
    else:
        verdict = "" if met is None else f" · {t('akpi.met') if met else t('akpi.missed')}"
        beside = f"{t('akpi.target')}: {target.text or t('akpi.no_target')}{verdict}"
    card = stat_card(t(f"akpi.k.{key}"), _value(key, data), f"akpi-{key}", tone)
    card.children.append(
        html.Div(beside, className="hw-muted akpi-target", title=target.source if target else "")
    )
    return card


def _record_link(r: AlarmRecord) -> dcc.Link:
    # The record page (A15: cause and action) belongs to the record's own module.
    return dcc.Link(
        t_("akpi.detail"), href=f"{RECORD_PATH}?id={r.id}", className="akpi-record-link"
    )


def t_(key: str, **kw: object) -> str:
    return i18n.t(key, **kw)


def _prio(p: str | None) -> str:
    return t_(f"akpi.p.{p if p in ('emergency', 'high', 'low', 'journal') else 'unknown'}")


def _type(k: str | None) -> str:
    return t_(f"akpi.t.{k if k in ('process', 'equipment', 'instrument', 'safety') else 'unknown'}")


def _bars(labels: list[str], values: list[float], title: str, color: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=color))
    fig.update_layout(title=title, height=300, margin={"l": 40, "r": 10, "t": 40, "b": 60})
    return fig


def _counting_table(groups: dict[Any, Counting], names: dict[Any, str], hours: float,
                    id_: str) -> html.Div:  # fmt: skip
    t = t_
    headers = [
        "", t("akpi.k.alarms"), t("akpi.k.avg_per_hour"), t("akpi.k.ack_within_30s_pct"),
        t("akpi.k.handled_within_30min_pct"), t("akpi.k.standing_over_24h"),
        t("akpi.k.peak_10min"),
    ]  # fmt: skip
    rows = [
        (
            names.get(k, "—" if k is None else str(k)),
            i18n.fmt_number(c.alarms),
            f"{c.alarms / hours:.2f}" if hours else "-",
            _pct(c.ack_within_30s_pct),
            _pct(c.handled_within_30min_pct),
            i18n.fmt_number(c.standing_over_24h),
            i18n.fmt_number(c.peak_10min),
        )
        for k, c in sorted(groups.items(), key=lambda kv: -kv[1].alarms)
    ]
    return table(headers, rows, id_, t("akpi.none"))


def _names(conn: psycopg.Connection, table_name: str, ids: list[Any]) -> dict[Any, str]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    expr = "code || ' ' || name" if table_name == "unit" else "name"
    rows = conn.execute(
        sql.SQL("SELECT id, {} FROM {} WHERE id = ANY(%s)").format(
            sql.SQL(expr), sql.Identifier("registry", table_name)
        ),
        (ids,),
    ).fetchall()
    return dict(rows)


def _timeline(conn: psycopg.Connection, start: datetime, end: datetime, f: Filters,
              scope: Scope, floods: list) -> go.Figure:  # fmt: skip
    width, series = rate_series(conn, start, end, filters=f, scope=scope)
    local = [b.astimezone(DISPLAY_TZ).replace(tzinfo=None) for b, _ in series]
    fig = go.Figure(go.Bar(x=local, y=[n for _, n in series], marker_color="#1565c0",
                           name=t_("akpi.rate" if width <= timedelta(minutes=10)
                                   else "akpi.rate_h")))  # fmt: skip
    if width <= timedelta(minutes=10):
        fig.add_hline(y=10, line_dash="dash", line_color="#c62828",
                      annotation_text=t_("akpi.threshold"))  # fmt: skip
    for fl in floods:
        fig.add_vrect(
            x0=fl.start.astimezone(DISPLAY_TZ).replace(tzinfo=None),
            x1=fl.end.astimezone(DISPLAY_TZ).replace(tzinfo=None),
            fillcolor="#ef5350", opacity=0.25, line_width=0,
        )  # fmt: skip
    fig.update_layout(title=t_("akpi.flood_timeline"), height=320, bargap=0,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40})  # fmt: skip
    return fig


# -- the content -----------------------------------------------------------------------------


def content(
    conn: psycopg.Connection, scope: Scope, f: Filters, start: datetime, end: datetime,
    now: datetime,
) -> html.Div:  # fmt: skip
    t = t_
    hours = (end - start).total_seconds() / 3600
    counting = counting_grouped(conn, start, end, (None, "unit", "shift_team"), filters=f,
                                scope=scope, now=now)  # fmt: skip
    total = counting[None].get(None, Counting())
    by_unit, by_team = counting["unit"], counting["shift_team"]
    # The counting KPIs above are exact from the rollups whatever the volume; the analyses
    # that need single alarms read at most MAX_RECORDS of them and say so.
    records = load_records(conn, start=start, end=end, filters=f, scope=scope,
                           limit=MAX_RECORDS + 1)  # fmt: skip
    truncated = len(records) > MAX_RECORDS
    records = records[:MAX_RECORDS]
    floods = find_floods(records, start, min(end, now))
    chatter = find_chattering(records)
    kpis = Kpis(start, end, total, len(floods), time_in_flood_pct(floods, start, end),
                len(chatter), "rollups")  # fmt: skip
    data = kpis.as_json()
    prio = by_priority(records)
    prio_pct = shares({k: v for k, v in prio.items() if k != "unknown"})
    cards = html.Div([_kpi_card(k, data) for k in KPI_KEYS], className="hw-stats", id="akpi-cards")

    unit_names = _names(conn, "unit", list(by_unit))
    team_names = _names(conn, "shift_team", list(by_team))

    tops = top_counts(records, "tag", TOP_N)
    durations = top_durations(records, min(end, now), "tag", TOP_N)
    types = by_type(records)
    live = standing(load_records_active(conn, f, scope, now), now)
    stale_ids = {s.record.id for s in stale([s.record for s in live], now)}

    prio_labels = [_prio(p) for p in ("emergency", "high", "low")]
    prio_targets = [TARGETS[f"priority_{p}_pct"].text or "" for p in ("emergency", "high", "low")]
    prio_fig = _bars(prio_labels, [prio_pct[p] for p in ("emergency", "high", "low")],
                     t("akpi.by_priority") + " (%)", "#6a1b9a")  # fmt: skip
    prio_fig.add_trace(go.Scatter(x=prio_labels, y=[5, 15, 80], mode="markers+text",
                                  text=prio_targets, textposition="top center",
                                  name=t("akpi.target"), marker_symbol="line-ew-open",
                                  marker_size=30, marker_color="#2e7d32"))  # fmt: skip
    type_keys = [k for k in types if k != "unknown" or types[k]]
    type_fig = _bars([_type(k) for k in type_keys], [types[k] for k in type_keys],
                     t("akpi.by_type"), "#00838f")  # fmt: skip

    top_rows = [(r.label, i18n.fmt_number(r.count), f"{r.share_pct:.1f}%") for r in tops]
    dur_rows = [(r.label, _duration(r.total), _duration(r.longest), i18n.fmt_number(r.count))
                for r in durations]  # fmt: skip
    flood_rows = [
        (i18n.fmt_datetime(fl.start, seconds=True),
         t("akpi.ongoing") if fl.ongoing else i18n.fmt_datetime(fl.end, seconds=True),
         _duration(fl.duration), i18n.fmt_number(fl.count), i18n.fmt_number(fl.peak))
        for fl in floods
    ]  # fmt: skip
    chatter_rows = [
        (c.tag, i18n.fmt_number(c.count), i18n.fmt_number(c.max_in_window),
         i18n.fmt_number(c.bursts))
        for c in chatter
    ]  # fmt: skip
    standing_rows = [
        (s.record.tag, s.record.condition, _prio(s.record.priority),
         i18n.fmt_datetime(s.record.raised), _duration(s.age),
         html.Span(t("akpi.stale"), className="hw-badge hw-badge-bad")
         if s.record.id in stale_ids else "", _record_link(s.record))
        for s in live[:MAX_LIST]
    ]  # fmt: skip
    newest = sorted(records, key=lambda r: r.raised, reverse=True)[:MAX_LIST]
    record_rows = [
        (i18n.fmt_datetime(r.raised, seconds=True), r.tag, r.condition, _prio(r.priority),
         _type(r.alarm_type), i18n.fmt_datetime(r.acked, seconds=True) if r.acked else "-",
         i18n.fmt_datetime(r.returned, seconds=True) if r.returned else "-", _record_link(r))
        for r in newest
    ]  # fmt: skip
    more = (
        html.P(t("akpi.more", n=MAX_LIST, total=len(records)), className="hw-muted")
        if len(records) > MAX_LIST
        else ""
    )
    return html.Div(
        [
            html.P(t("akpi.source"), className="hw-muted", id="akpi-source"),
            html.P(t("akpi.truncated", n=i18n.fmt_number(MAX_RECORDS)), className="hw-error")
            if truncated
            else "",
            cards,
            html.Div(
                className="hw-grid2",
                children=[
                    html.Div(
                        [
                            html.H2(t("akpi.by_unit")),
                            _counting_table(by_unit, unit_names, hours, "akpi-by-unit"),
                        ]
                    ),
                    html.Div(
                        [
                            html.H2(t("akpi.by_team")),
                            _counting_table(by_team, team_names, hours, "akpi-by-team"),
                        ]
                    ),
                ],
            ),
            dcc.Graph(figure=_timeline(conn, start, end, f, scope, floods), id="akpi-timeline"),
            html.H2(t("akpi.floods")),
            table(
                [
                    t("akpi.start"),
                    t("akpi.end"),
                    t("akpi.duration"),
                    t("akpi.count"),
                    t("akpi.peak"),
                ],
                flood_rows,
                "akpi-floods",
                t("akpi.none"),
            ),
            html.Div(
                className="hw-grid2",
                children=[
                    html.Div(
                        [
                            html.H2(t("akpi.top_counts", n=TOP_N)),
                            table(
                                [t("akpi.tag"), t("akpi.count"), t("akpi.share")],
                                top_rows,
                                "akpi-top-counts",
                                t("akpi.none"),
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.H2(t("akpi.top_durations", n=TOP_N)),
                            table(
                                [
                                    t("akpi.tag"),
                                    t("akpi.total"),
                                    t("akpi.longest"),
                                    t("akpi.count"),
                                ],
                                dur_rows,
                                "akpi-top-durations",
                                t("akpi.none"),
                            ),
                        ]
                    ),
                ],
            ),
            html.Div(
                className="hw-grid2",
                children=[
                    dcc.Graph(figure=type_fig, id="akpi-types"),
                    dcc.Graph(figure=prio_fig, id="akpi-priorities"),
                ],
            ),
            html.H2(t("akpi.chattering")),
            table(
                [t("akpi.tag"), t("akpi.count"), t("akpi.max_window"), t("akpi.bursts")],
                chatter_rows,
                "akpi-chattering",
                t("akpi.none"),
            ),
            html.H2(t("akpi.standing")),
            table(
                [
                    t("akpi.tag"),
                    t("akpi.condition"),
                    t("akpi.priority"),
                    t("akpi.raised"),
                    t("akpi.age"),
                    "",
                    "",
                ],
                standing_rows,
                "akpi-standing",
                t("akpi.none"),
            ),
            html.H2(t("akpi.records")),
            more,
            table(
                [
                    t("akpi.raised"),
                    t("akpi.tag"),
                    t("akpi.condition"),
                    t("akpi.priority"),
                    t("akpi.type"),
                    t("akpi.acked"),
                    t("akpi.returned"),
                    "",
                ],
                record_rows,
                "akpi-records",
                t("akpi.none"),
            ),
        ]
    )


def load_records_active(
    conn: psycopg.Connection, f: Filters, scope: Scope, now: datetime
) -> list[AlarmRecord]:
    from analytics.alarms.queries import load_active

    return load_active(conn, at=now, filters=f, scope=scope)


# -- page ------------------------------------------------------------------------------------


def layout(**query: Any) -> html.Div:
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
    t = t_
    ent = _int(query.get("enterprise")) or user.enterprise_id
    with auth.db_pool().connection() as conn:
        opts = _options(conn, user.scope, ent)
    if ent is None and len(opts["ent"]) == 1:
        ent = opts["ent"][0]["value"]
    today = datetime.now(DISPLAY_TZ).date()

    def dropdown(id_: str, label: str, options: list[dict], value: Any) -> html.Div:
        return html.Div([
            html.Label(label, htmlFor=id_),
            dcc.Dropdown(id=id_, options=options, value=value, placeholder=t("akpi.all")),
        ])  # fmt: skip

    filters = html.Div(
        className="hw-filters",
        children=[
            dropdown("akpi-ent", t("akpi.enterprise"), opts["ent"], ent),
            dropdown("akpi-dept", t("akpi.department"), opts["dept"], None),
            dropdown("akpi-unit", t("akpi.unit"), opts["unit"], _int(query.get("unit"))),
            dropdown("akpi-team", t("akpi.team"), opts["team"], None),
            html.Div([
                html.Label(t("akpi.range"), htmlFor="akpi-dates"),
                dcc.DatePickerRange(
                    id="akpi-dates",
                    start_date=(today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
                    end_date=today.isoformat(), display_format="YYYY-MM-DD",
                    max_date_allowed=today.isoformat(),
                ),
            ]),
        ],
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("akpi.title"), id="page-title"),
            filters,
            dcc.Loading(html.Div(id="akpi-content")),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "alarm-kpis", 7, layout, nav="nav.alarm_kpis", roles=ROLES)

    @app.callback(
        Output("akpi-dept", "options"),
        Output("akpi-unit", "options"),
        Output("akpi-team", "options"),
        Input("akpi-ent", "value"),
    )
    def _cascade(ent: int | None) -> tuple[list, list, list]:
        user = auth.current_user()
        if user is None:
            return [], [], []
        with auth.db_pool().connection() as conn:
            opts = _options(conn, user.scope, _int(ent))
        return opts["dept"], opts["unit"], opts["team"]

    @app.callback(
        Output("akpi-content", "children"),
        Input("akpi-ent", "value"),
        Input("akpi-dept", "value"),
        Input("akpi-unit", "value"),
        Input("akpi-team", "value"),
        Input("akpi-dates", "start_date"),
        Input("akpi-dates", "end_date"),
    )
    def _refresh(ent: Any, dept: Any, unit: Any, team: Any, lo: str | None,
                 hi: str | None) -> html.Div:  # fmt: skip
        user = auth.current_user()
        if user is None or user.role not in ROLES:
            return forbidden()
        now = datetime.now(UTC)
        try:
            start, end = day_range(lo, hi, now.astimezone(DISPLAY_TZ).date())
        except ValueError:
            return html.Div(t_("akpi.range_bad", days=MAX_DAYS), className="hw-card",
                            id="akpi-range-bad")  # fmt: skip
        f = Filters(enterprise_id=_int(ent), department_id=_int(dept), unit_id=_int(unit),
                    shift_team_id=_int(team))  # fmt: skip
        with auth.db_pool().connection() as conn:
            return content(conn, user.scope, f, start, end, now)
