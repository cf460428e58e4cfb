"""Contractor figures for regulators (C20, D3, R8): ``/regional/contractors``. For the chosen
days and region, one row per enterprise in the user's scope with its contractor companies,
workers, entries, training and exams, permits, stop-work orders, violations, incidents and
evaluations (the last day's state, the sum of the day counts), a bar chart of one figure
across enterprises and a sortable table. Counts only: the summaries that reach an upper level
carry no personal data of contractor workers.

The rows come from the REST API's handler (dashboards.api.contractor_summary) called with the
signed-in user's scope, so the page and the API never disagree. The URL may preset the view:
``/regional/contractors?from=2026-11-01&to=2026-11-07&region=140100&figure=violations``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import dash
import dash_ag_grid as dag
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from pydantic import BaseModel, ValidationError

from dashboards import auth, i18n
from dashboards.api import contractor_summary as api
from dashboards.api import regulator
from dashboards.api.spec import Ctx
from dashboards.components.basic import stat_card
from dashboards.components.grid import ZH_GRID_TEXT
from dashboards.layout import register_page
from dashboards.page_guard import page_user
from workflows.contractors.summary_feed import AVERAGE, FIGURES, TZ

PATH: Final = "/regional/contractors"
ROLES: Final = frozenset({"admin", "engineer", "regulator"})
DEFAULT_DAYS: Final = 7
#: Rates worked out over the range (not sums): chartable and sortable like the counts.
RATES: Final = ("exam_pass_rate_pct", AVERAGE)
CHARTABLE: Final = (*FIGURES, *RATES)
DEFAULT_FIGURE: Final = "workers_on_file"
#: The table's figure columns (the chart offers every figure).
COLUMNS: Final = (
    "companies_on_file", "companies_qualified", "companies_blacklisted",
    "companies_qualification_expired", "workers_on_file", "special_workers_on_file",
    "persons_blacklisted", "on_site_at_day_end", "gate_entries", "training_records",
    "exam_pass_rate_pct", "permits_started", "permits_active_at_day_end", "stop_orders_issued",
    "stop_orders_in_force_at_day_end", "violations", "work_violations", "incidents",
    "incident_injuries", "incident_deaths", "hazards_open_at_day_end", "evaluations_completed",
    AVERAGE,
)  # fmt: skip
TOP_BARS: Final = 20
GRID_ZH: Final = {**ZH_GRID_TEXT, "page": "第", "of": "共", "to": "至", "more": "更多",
                  "firstPage": "首页", "previousPage": "上一页", "nextPage": "下一页",
                  "lastPage": "末页", "pageSizeSelectorLabel": "每页"}  # fmt: skip

i18n.register(
    {
        "nav.regional_contractors": {"zh": "承包商监管", "en": "Contractors (regional)"},
        "rc.title": {"zh": "承包商管理情况（区域）", "en": "Contractor management by enterprise"},
        "rc.days": {"zh": "日期范围", "en": "Days"},
        "rc.region": {"zh": "地区", "en": "Region"},
        "rc.all_regions": {"zh": "全部地区", "en": "All regions"},
        "rc.figure": {"zh": "图表指标", "en": "Chart figure"},
        "rc.enterprise": {"zh": "企业", "en": "Enterprise"},
        "rc.region_name": {"zh": "地区", "en": "Region"},
        "rc.last_day": {"zh": "最近日期", "en": "Latest day"},
        "rc.days_reported": {"zh": "上报天数", "en": "Days reported"},
        "rc.running": {"zh": "（当日滚动）", "en": " (running)"},
        "rc.enterprises": {"zh": "上报企业", "en": "Enterprises reporting"},
        "rc.empty": {
            "zh": "所选范围内没有承包商汇总数据。",
            "en": "No contractor summaries for these days in your scope.",
        },
        "rc.bad": {"zh": "查询条件有误：{error}", "en": "Invalid selection: {error}"},
        "rc.chart": {"zh": "{figure}（前{n}家企业）", "en": "{figure} (top {n} enterprises)"},
        "rc.note": {
            "zh": "状态类指标取所选范围最后一天，数量类指标为范围内合计；仅含统计数字，"
            "不含承包商人员个人信息。",
            "en": "State figures are those of the last day of the range, counts are summed "
            "over the range; counts only, no personal data of contractor workers.",
        },
        "rc.f.exam_pass_rate_pct": {"zh": "考试合格率 %", "en": "Exam pass rate %"},
        f"rc.f.{AVERAGE}": {"zh": "评价平均分", "en": "Average evaluation score"},
        **{f"rc.f.{n}": {"zh": f.zh, "en": f.en} for n, f in FIGURES.items()},
    }
)


# -- aggregation (pure) -----------------------------------------------------------------------


def per_enterprise(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """One row per enterprise over the days of ``items`` (API items, any order): state figures
    of the latest day, flow figures summed, the exam pass rate over all exams and the average
    evaluation score weighted by the evaluations of each day."""
    days: dict[int, list[Any]] = defaultdict(list)
    for it in items:
        days[it.enterprise_id].append(it)  # type: ignore[attr-defined]
    rows = []
    for ent, its in days.items():
        its.sort(key=lambda i: i.day)
        last = its[-1]
        row: dict[str, Any] = {
            "enterprise_id": ent,
            "enterprise": last.enterprise_name,
            "region": last.region_name,
            "last_day": last.day.isoformat(),
            "running": not last.final,
            "days_reported": len(its),
        }
        for name, f in FIGURES.items():
            row[name] = getattr(last, name) if f.kind == "state" else sum(
                getattr(i, name) for i in its
            )  # fmt: skip
        taken, passed = row["exams_taken"], row["exams_passed"]
        row["exam_pass_rate_pct"] = round(100.0 * passed / taken, 1) if taken else None
        scored = [(i.evaluations_completed, getattr(i, AVERAGE)) for i in its]
        weight = sum(n for n, a in scored if a is not None)
        row[AVERAGE] = (
            round(sum(n * a for n, a in scored if a is not None) / weight, 1) if weight else None
        )
        rows.append(row)
    rows.sort(key=lambda r: (r["enterprise"], r["enterprise_id"]))
    return rows


# -- data -------------------------------------------------------------------------------------


def _items(ctx: Ctx, start: date, end: date, region: str | None) -> list[BaseModel]:
    """Every enterprise-day of the range in scope (pages of 500)."""
    out: list[BaseModel] = []
    page = 1
    while True:
        params = {"from": start, "to": end, "page": page, "per_page": 500}
        if region:
            params["region"] = region
        res = api.contractor_summary(ctx, api.SummaryQuery.model_validate(params))
        out.extend(res.items)
        if len(out) >= res.total or not res.items:
            return out
        page += 1


def _regions(user: auth.WebUser) -> list[dict[str, str]]:
    with auth.db_pool().connection() as conn:
        ctx = Ctx(conn, None, user.scope)
        res = regulator.regions(ctx, regulator.Paged(page=1, per_page=500))
    return [{"label": f"{r.name} ({r.code})", "value": r.code} for r in res.items]


def _day(text: Any, default: date) -> date:
    try:
        return date.fromisoformat(str(text)) if text else default
    except ValueError:
        return default


# -- views ------------------------------------------------------------------------------------


def _label(name: str) -> str:
    return i18n.t(f"rc.f.{name}")


def _chart(rows: list[dict[str, Any]], figure: str) -> go.Figure:
    shown = sorted(
        (r for r in rows if r.get(figure) is not None), key=lambda r: (-r[figure], r["enterprise"])
    )[:TOP_BARS]
    fig = go.Figure(
        go.Bar(
            x=[r[figure] for r in shown][::-1],
            y=[r["enterprise"] for r in shown][::-1],
            orientation="h",
            marker={"color": "#1565c0"},
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        title=i18n.t("rc.chart", figure=_label(figure), n=TOP_BARS),
        height=140 + 26 * max(1, len(shown)),
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
    )
    fig.update_yaxes(automargin=True)
    return fig


def _grid(rows: list[dict[str, Any]]) -> dag.AgGrid:
    t = i18n.t
    columns: list[dict[str, Any]] = [
        {"field": "enterprise", "headerName": t("rc.enterprise"), "pinned": "left",
         "minWidth": 200, "filter": True},
        {"field": "region", "headerName": t("rc.region_name"), "minWidth": 100, "filter": True},
        {"field": "last_day", "headerName": t("rc.last_day"), "minWidth": 150},
        {"field": "days_reported", "headerName": t("rc.days_reported"), "type": "numericColumn"},
        *({"field": n, "headerName": _label(n), "type": "numericColumn",
           "filter": "agNumberColumnFilter", "headerTooltip": _label(n)} for n in COLUMNS),
    ]  # fmt: skip
    options: dict[str, Any] = {
        "domLayout": "autoHeight",
        "pagination": True,
        "paginationPageSize": 50,
        "paginationPageSizeSelector": [20, 50, 100],
        "tooltipShowDelay": 300,
        # ~27 columns: render them all, so every header is there to sort by (and to find).
        "suppressColumnVirtualisation": True,
    }
    if i18n.current_lang() == "zh":
        options["localeText"] = GRID_ZH
    return dag.AgGrid(
        id="rc-grid",
        columnDefs=columns,
        rowData=rows,
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 96, "flex": 1,
                       "wrapHeaderText": True, "autoHeaderHeight": True},
        dashGridOptions=options,
        className="ag-theme-alpine hw-grid",
        style={"width": "100%"},
    )  # fmt: skip


def content(start: date, end: date, region: str | None, figure: str) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return html.Div()
    t = i18n.t
    try:
        with auth.db_pool().connection() as conn:
            items = _items(Ctx(conn, None, user.scope), start, end, region)
    except ValidationError as exc:
        error = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        return html.Div(t("rc.bad", error=error), className="hw-error", id="rc-error")
    if not items:
        return html.Div(t("rc.empty"), className="hw-muted", id="rc-empty")
    rows = per_enterprise(items)
    for r in rows:
        if r["running"]:
            r["last_day"] += t("rc.running")

    def total(name: str) -> str:
        return i18n.fmt_number(sum(r[name] for r in rows))

    stats = html.Div(
        className="hw-stats",
        children=[
            stat_card(t("rc.enterprises"), i18n.fmt_number(len(rows)), "rc-ent"),
            stat_card(_label("companies_on_file"), total("companies_on_file"), "rc-companies"),
            stat_card(_label("workers_on_file"), total("workers_on_file"), "rc-workers"),
            stat_card(_label("on_site_at_day_end"), total("on_site_at_day_end"), "rc-onsite"),
            stat_card(_label("violations"), total("violations"), "rc-violations"),
            stat_card(
                _label("incidents"), total("incidents"), "rc-incidents",
                "hw-bad" if any(r["incidents"] for r in rows) else "",
            ),
            stat_card(_label("stop_orders_issued"), total("stop_orders_issued"), "rc-stops"),
            stat_card(
                _label("companies_blacklisted"), total("companies_blacklisted"), "rc-black"
            ),
        ],
    )  # fmt: skip
    return html.Div(
        [
            stats,
            dcc.Graph(id="rc-chart", figure=_chart(rows, figure), config={"displaylogo": False}),
            html.P(t("rc.note"), className="hw-muted", id="rc-note"),
            _grid(rows),
        ]
    )


def layout(**query: Any) -> html.Div:
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
    t = i18n.t
    today = datetime.now(TZ).date()
    end = _day(query.get("to"), today)
    start = _day(query.get("from"), end - timedelta(days=DEFAULT_DAYS - 1))
    figure = query.get("figure") if query.get("figure") in CHARTABLE else DEFAULT_FIGURE
    regions = _regions(user)
    region = query.get("region") if query.get("region") in {r["value"] for r in regions} else None
    return html.Div(
        [
            html.H1(t("rc.title"), id="page-title"),
            html.Div(
                className="hw-filters",
                children=[
                    html.Label(t("rc.days"), htmlFor="rc-days"),
                    dcc.DatePickerRange(
                        id="rc-days",
                        start_date=start.isoformat(),
                        end_date=end.isoformat(),
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                        max_date_allowed=(today + timedelta(days=1)).isoformat(),
                        minimum_nights=0,
                    ),
                    html.Label(t("rc.region"), htmlFor="rc-region"),
                    dcc.Dropdown(
                        id="rc-region",
                        options=regions,
                        value=region,
                        placeholder=t("rc.all_regions"),
                        style={"minWidth": "200px"},
                    ),
                    html.Label(t("rc.figure"), htmlFor="rc-figure"),
                    dcc.Dropdown(
                        id="rc-figure",
                        value=figure,
                        clearable=False,
                        options=[{"label": _label(n), "value": n} for n in CHARTABLE],
                        style={"minWidth": "240px"},
                    ),
                ],
            ),
            dcc.Loading(html.Div(id="rc-content")),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "regional_contractors", 7, layout, roles=ROLES,
                  after="/regional")  # fmt: skip

    @app.callback(
        Output("rc-content", "children"),
        Input("rc-days", "start_date"),
        Input("rc-days", "end_date"),
        Input("rc-region", "value"),
        Input("rc-figure", "value"),
    )
    def _refresh(lo: str | None, hi: str | None, region: str | None, figure: str | None) -> Any:
        today = datetime.now(TZ).date()
        end = _day(hi, today)
        start = _day(lo, end - timedelta(days=DEFAULT_DAYS - 1))
        chosen = figure if figure in CHARTABLE else DEFAULT_FIGURE
        return content(start, end, region or None, chosen)
