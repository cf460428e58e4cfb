"""Regulator reports (R8): daily, weekly and monthly statistics of the user's region, previewed
as HTML in the app and downloaded as PDF. Generated on request from the live data, always in
the signed-in user's scope (``workflows.regional_reports``).

    /regional/reports?kind=weekly&date=2026-11-25      the page (preview in a frame)
    /regional/reports/weekly.html?date=2026-11-25      the report itself
    /regional/reports/weekly.pdf?date=2026-11-25       the same as PDF
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import dash
from dash import dcc, html
from flask import Response, abort, request

from dashboards import auth, i18n
from dashboards.layout import register_page
from dashboards.page_guard import page_user
from workflows import regional_reports as rr

PATH = "/regional/reports"
ROLES = frozenset({"admin", "engineer", "regulator"})

i18n.register(
    {
        "nav.regional_reports": {"zh": "监管报表", "en": "Regulator reports"},
        "rr.title": {"zh": "监管统计报表", "en": "Regulator reports"},
        "rr.kind": {"zh": "报表类型", "en": "Report"},
        "rr.daily": {"zh": "日报", "en": "Daily"},
        "rr.weekly": {"zh": "周报", "en": "Weekly"},
        "rr.monthly": {"zh": "月报", "en": "Monthly"},
        "rr.date": {"zh": "截至日期", "en": "Up to"},
        "rr.pdf": {"zh": "下载 PDF", "en": "Download PDF"},
        "rr.open": {"zh": "新窗口打开", "en": "Open"},
        "rr.bad_date": {"zh": "日期格式应为 YYYY-MM-DD。", "en": "The date must be YYYY-MM-DD."},
    }
)


def _today() -> date:
    return datetime.now(rr.TZ).date()


def _args(kind: str, day: str | None) -> tuple[str, date]:
    if kind not in rr.KINDS:
        abort(404)
    try:
        return kind, date.fromisoformat(day) if day else _today()
    except ValueError:
        abort(400, description="date: YYYY-MM-DD")


def _report(kind: str, day: date) -> str:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        abort(403)
    period = rr.report_period(kind, day)
    lang = i18n.current_lang()
    with auth.db_pool().connection() as conn:
        data = rr.gather(conn, user.scope, period)
        region = user.scope_label
    return rr.render_html(rr.build_report(data, period, region), lang)


def html_view(kind: str) -> Response:
    kind, day = _args(kind, request.args.get("date"))
    return Response(_report(kind, day), mimetype="text/html",
                    headers={"Cache-Control": "private, no-store"})  # fmt: skip


def pdf_view(kind: str) -> Response:
    kind, day = _args(kind, request.args.get("date"))
    name = f"hazwatch-{kind}-{rr.report_period(kind, day).label}.pdf"
    return Response(rr.render_pdf(_report(kind, day)), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "Cache-Control": "private, no-store"})  # fmt: skip


def layout(kind: str | None = None, date: str | None = None, **_q: Any) -> html.Div:
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
    t = i18n.t
    kind = kind if kind in rr.KINDS else "daily"
    try:
        day = datetime.strptime(date, "%Y-%m-%d").date() if date else _today()
    except ValueError:
        bad = html.P(t("rr.bad_date"), className="hw-error", id="rr-error")
        return html.Div([html.H1(t("rr.title"), id="page-title"), bad])
    q = f"date={day.isoformat()}"
    tabs = html.Div(
        [dcc.Link(t(f"rr.{k}"), href=f"{PATH}?kind={k}&{q}", id=f"rr-kind-{k}",
                  className="hw-chip" + (" hw-chip-on" if k == kind else ""))
         for k in rr.KINDS],
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("rr.title"), id="page-title"),
            html.Div(className="hw-filters", children=[html.Label(t("rr.kind")), tabs]),
            html.P(
                [
                    f"{t('rr.date')}: {day.isoformat()} · ",
                    html.A(
                        t("rr.pdf"), href=f"{PATH}/{kind}.pdf?{q}", id="rr-pdf", className="hw-btn"
                    ),
                    " ",
                    html.A(
                        t("rr.open"), href=f"{PATH}/{kind}.html?{q}", target="_blank", id="rr-open"
                    ),
                ]
            ),
            html.Iframe(src=f"{PATH}/{kind}.html?{q}", className="rr-frame", id="rr-frame"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "regional-reports", 8, layout,
                  nav="nav.regional_reports", roles=ROLES)  # fmt: skip
    if "regional_report_html" not in app.server.view_functions:
        app.server.add_url_rule(f"{PATH}/<kind>.html", "regional_report_html", html_view)
        app.server.add_url_rule(f"{PATH}/<kind>.pdf", "regional_report_pdf", pdf_view)
