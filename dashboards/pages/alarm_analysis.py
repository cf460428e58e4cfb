"""Alarm analysis (issue 7, A9 A10 A12 A14): sequences, the causal graph with suggested pairs,
interlock statistics, and remedies for chattering and consequential alarms.

``/alarms/analysis?days=7&window=300`` — the period ends now; ``window`` (s) is the sequence
and causal window. Everything is computed from the records the user's scope may see.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
import psycopg
from dash import dcc, html
from psycopg import sql

from analytics.alarms.causal import PairStat, pair_stats, situation_groups, suggest_pairs
from analytics.alarms.chattering import find_chattering
from analytics.alarms.interlock import interlock_keys, precursors, trip_stats
from analytics.alarms.queries import load_records
from analytics.alarms.remedies import (
    chattering_remedies,
    consequential_suggestions,
    instrument_suggestions,
    load_instrument_health,
)
from analytics.alarms.sequences import frequent_patterns, timeline
from dashboards import auth, i18n
from dashboards.auth import Scope
from dashboards.components.basic import stat_card, table
from dashboards.layout import register_page

MAX_RECORDS = 50_000
MAX_REMEDIES = 5
MAX_INSTRUMENTS = 50

i18n.register(
    {
        "nav.alarm_analysis": {"zh": "报警分析", "en": "Alarm analysis"},
        "aa.title": {
            "zh": "报警时序、因果与优化分析",
            "en": "Alarm sequences, causes and remedies",
        },
        "aa.period": {
            "zh": "最近 {days} 天，窗口 {window} 秒",
            "en": "Last {days} days, window {window} s",
        },
        "aa.alarms": {"zh": "报警数", "en": "Alarms"},
        "aa.patterns": {"zh": "频繁时序模式", "en": "Frequent sequences"},
        "aa.timeline": {"zh": "时序报警（最近 100 条）", "en": "Alarm timeline (last 100)"},
        "aa.causal": {"zh": "因果报警分析", "en": "Causal analysis"},
        "aa.suggested": {"zh": "建议新增的主子位号关系", "en": "Suggested parent/child pairs"},
        "aa.groups": {"zh": "指向同一异常的报警组", "en": "Groups pointing at one situation"},
        "aa.interlock": {"zh": "联锁报警统计", "en": "Interlock (trip) statistics"},
        "aa.remedies": {"zh": "抖动报警优化建议", "en": "Chattering remedies"},
        "aa.suggestions": {
            "zh": "因果报警与仪表故障处理建议",
            "en": "Consequential alarms and instrument faults",
        },
        "aa.empty": {"zh": "无数据", "en": "No data"},
        "aa.col.pattern": {"zh": "模式", "en": "Pattern"},
        "aa.col.support": {"zh": "次数", "en": "Occurrences"},
        "aa.col.confidence": {"zh": "置信度", "en": "Confidence"},
        "aa.col.span": {"zh": "平均间隔(秒)", "en": "Mean span (s)"},
        "aa.col.time": {"zh": "时间", "en": "Time"},
        "aa.col.alarm": {"zh": "报警", "en": "Alarm"},
        "aa.col.priority": {"zh": "优先级", "en": "Priority"},
        "aa.col.gap": {"zh": "距上一条(秒)", "en": "Gap (s)"},
        "aa.col.parent": {"zh": "主位号", "en": "Parent"},
        "aa.col.child": {"zh": "子位号", "en": "Child"},
        "aa.col.degree": {"zh": "关联度", "en": "Association"},
        "aa.col.explained": {"zh": "子报警被解释比例", "en": "Child explained"},
        "aa.col.lift": {"zh": "提升度", "en": "Lift"},
        "aa.col.members": {"zh": "成员", "en": "Members"},
        "aa.col.roots": {"zh": "根源", "en": "Root"},
        "aa.col.trips": {"zh": "联锁次数", "en": "Trips"},
        "aa.col.active": {"zh": "平均持续(秒)", "en": "Mean active (s)"},
        "aa.col.precursor": {"zh": "主要前兆报警", "en": "Main precursor"},
        "aa.col.tag": {"zh": "位号", "en": "Tag"},
        "aa.col.current": {"zh": "当前设置 → 重复", "en": "Current → repeats"},
        "aa.col.proposal": {
            "zh": "建议(死区/开/关延时) → 重复",
            "en": "Proposal (deadband/on/off) → repeats",
        },
        "aa.col.kpi": {
            "zh": "预计时平均报警 / 10分钟峰值",
            "en": "Predicted alarms per hour / 10-min peak",
        },
        "aa.col.kind": {"zh": "类型", "en": "Kind"},
        "aa.col.target": {"zh": "对象", "en": "Target"},
        "aa.col.removes": {"zh": "可减少报警", "en": "Alarms removed"},
        "aa.col.reason": {"zh": "依据", "en": "Reason"},
    }
)


def _relations(conn: psycopg.Connection, scope: Scope) -> list[tuple[str, str]]:
    cond, params = scope.condition("tp.enterprise_id")
    query = (
        "SELECT tp.name || '.' || pp.condition, tc.name || '.' || pc.condition"
        " FROM registry.alarm_relation r"
        " JOIN registry.alarm_point pp ON pp.id = r.parent_point_id"
        " JOIN registry.tag tp ON tp.id = pp.tag_id"
        " JOIN registry.alarm_point pc ON pc.id = r.child_point_id"
        " JOIN registry.tag tc ON tc.id = pc.tag_id WHERE {}"
    )
    return [(a, b) for a, b in conn.execute(sql.SQL(query).format(cond), params).fetchall()]


def causal_figure(pairs: list[PairStat], suggested: list[PairStat]) -> go.Figure:
    """Alarms on a circle; table pairs as solid lines, suggested ones dashed; the line's
    width grows with the association degree and an arrow head marks the child."""
    nodes = sorted({p.parent for p in pairs + suggested} | {p.child for p in pairs + suggested})
    step = 2 * math.pi / max(len(nodes), 1)
    pos = {n: (math.cos(step * i), math.sin(step * i)) for i, n in enumerate(nodes)}
    fig = go.Figure()
    for stats, dash_style, colour in ((pairs, "solid", "#c0392b"), (suggested, "dash", "#2471a3")):
        for s in stats:
            (x0, y0), (x1, y1) = pos[s.parent], pos[s.child]
            fig.add_trace(
                go.Scatter(
                    x=[x0, x1], y=[y0, y1], mode="lines",
                    line={"width": 1 + 6 * s.degree, "dash": dash_style, "color": colour},
                    hoverinfo="text", text=f"{s.parent} → {s.child}: {s.degree:.0%}",
                    showlegend=False,
                )
            )  # fmt: skip
            fig.add_annotation(
                x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=3, arrowwidth=1.5, arrowcolor=colour, text="",
            )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text",
            text=nodes, textposition="top center", marker={"size": 14, "color": "#34495e"},
            hoverinfo="text", showlegend=False,
        )
    )  # fmt: skip
    fig.update_layout(
        height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white",
    )  # fmt: skip
    return fig


def _int(value: Any, default: int, lo: int, hi: int) -> int:
    try:
        return min(max(int(value), lo), hi)
    except (TypeError, ValueError):
        return default


def layout(days: Any = 7, window: Any = 300, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    days_n = _int(days, 7, 1, 366)
    window_s = _int(window, 300, 10, 3600)
    end = datetime.now(UTC)
    start = end - timedelta(days=days_n)
    win = timedelta(seconds=window_s)
    with auth.db_pool().connection() as conn:
        recs = load_records(conn, start=start, end=end, scope=user.scope, limit=MAX_RECORDS)
        relations = _relations(conn, user.scope)
        ikeys = interlock_keys(conn, user.enterprise_id)
        chatter = find_chattering(recs)[:MAX_REMEDIES]
        remedies = chattering_remedies(
            conn, recs, [c.tag_id for c in chatter], start=start, end=end
        )
        # Sample statistics only for tags with instrument alarms: a scan of their history.
        faulty = sorted(
            {r.tag_id for r in recs if r.condition == "BAD" or r.alarm_type == "instrument"}
        )[:MAX_INSTRUMENTS]
        health = load_instrument_health(conn, faulty, start, end) if faulty else []
    patterns = frequent_patterns(recs, window=win)
    pairs = pair_stats(recs, relations, window=win)
    suggested = suggest_pairs(recs, relations, window=win)
    groups = situation_groups(pairs)
    trips = trip_stats(recs, ikeys, end=end)
    pre = precursors(recs, ikeys, lead=timedelta(minutes=10))
    advice = consequential_suggestions(pairs, groups) + instrument_suggestions(health)
    pct = lambda v: f"{v:.0%}"  # noqa: E731
    sections = [
        html.H2(t("aa.patterns")),
        table(
            [t("aa.col.pattern"), t("aa.col.support"), t("aa.col.confidence"), t("aa.col.span")],
            [(" → ".join(p.keys), p.support, pct(p.confidence), f"{p.mean_span_s:.0f}")
             for p in patterns],
            "aa-patterns", t("aa.empty"),
        ),
        html.H2(t("aa.timeline")),
        table(
            [t("aa.col.time"), t("aa.col.alarm"), t("aa.col.priority"), t("aa.col.gap")],
            [(i18n.fmt_datetime(r.raised, seconds=True), r.key, r.priority or "-",
              "-" if r.gap_s is None else f"{r.gap_s:.0f}") for r in timeline(recs)[-100:]],
            "aa-timeline", t("aa.empty"),
        ),
        html.H2(t("aa.causal")),
        dcc.Graph(id="aa-graph", figure=causal_figure(pairs, suggested),
                  config={"displayModeBar": False}),
        table(
            [t("aa.col.parent"), t("aa.col.child"), t("aa.col.degree"), t("aa.col.explained")],
            [(s.parent, s.child, f"{pct(s.degree)} ({s.followed}/{s.parent_alarms})",
              pct(s.explained_share)) for s in pairs],
            "aa-pairs", t("aa.empty"),
        ),
        html.H3(t("aa.suggested")),
        table(
            [t("aa.col.parent"), t("aa.col.child"), t("aa.col.degree"), t("aa.col.lift")],
            [(s.parent, s.child, f"{pct(s.degree)} ({s.followed}/{s.parent_alarms})",
              f"{s.lift:.1f}") for s in suggested],
            "aa-suggested", t("aa.empty"),
        ),
        html.H3(t("aa.groups")),
        table(
            [t("aa.col.roots"), t("aa.col.members"), t("aa.alarms")],
            [(", ".join(g.roots), ", ".join(g.members), g.alarms) for g in groups],
            "aa-groups", t("aa.empty"),
        ),
        html.H2(t("aa.interlock")),
        table(
            [t("aa.col.alarm"), t("aa.col.trips"), t("aa.col.active"), t("aa.col.precursor")],
            [(s.key, s.trips, f"{s.mean_active_s:.0f}",
              ", ".join(f"{p.key} ({pct(p.share)})" for p in pre.get(s.key, [])[:3]) or "-")
             for s in trips],
            "aa-interlock", t("aa.empty"),
        ),
        html.H2(t("aa.remedies")),
        table(
            [t("aa.col.tag"), t("aa.col.current"), t("aa.col.proposal"), t("aa.col.kpi")],
            [(f"{m.tag}.{m.condition}",
              f"{_setting(m.remedy.current.setting)} → {m.remedy.current.repeats}",
              f"{_setting(m.remedy.proposal.setting)} → {m.remedy.proposal.repeats}",
              f"{m.before.avg_per_hour:.1f} → {m.after.avg_per_hour:.1f} / "
              f"{m.before.peak_10min} → {m.after.peak_10min}") for m in remedies],
            "aa-remedies", t("aa.empty"),
        ),
        html.H2(t("aa.suggestions")),
        table(
            [t("aa.col.kind"), t("aa.col.target"), t("aa.col.removes"), t("aa.col.reason")],
            [(s.kind, s.target, s.removes, s.reason) for s in advice],
            "aa-advice", t("aa.empty"),
        ),
    ]  # fmt: skip
    return html.Div(
        [
            html.H1(t("aa.title"), id="page-title"),
            html.P(t("aa.period", days=days_n, window=window_s), className="hw-muted"),
            html.Div(
                className="hw-stats",
                children=[stat_card(t("aa.alarms"), i18n.fmt_number(len(recs)), "aa-count")],
            ),
            *sections,
        ]
    )


def _setting(s: Any) -> str:
    return f"{s.deadband:g} / {s.on_delay_s:g}s / {s.off_delay_s:g}s"


def register(app: dash.Dash) -> None:
    register_page(__name__, "/alarms/analysis", "alarm_analysis", 40, layout)
