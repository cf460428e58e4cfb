"""Condition reports (issue 8, P10): generate a report per enterprise or per pump for a
period, list the generated ones (weekly ones come from the scheduler), preview the HTML in
the app and download the PDF (``/pumps/reports/<id>.html``, ``/pumps/reports/<id>.pdf``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from flask import Response, abort

from analytics.vibration import reports as rx
from dashboards import auth, i18n
from dashboards.callback_args import signed_in
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.pumps import ROLES, sub_nav
from hazwatch.errors import HazwatchError

PATH = "/pumps/reports"

i18n.register(
    {
        "pumpr.title": {"zh": "状态监测报告", "en": "Condition reports"},
        "pumpr.enterprise": {"zh": "企业", "en": "Enterprise"},
        "pumpr.pump": {"zh": "机泵（空：全企业）", "en": "Pump (empty: whole enterprise)"},
        "pumpr.days": {"zh": "周期（天）", "en": "Period (days)"},
        "pumpr.generate": {"zh": "生成报告", "en": "Generate"},
        "pumpr.made": {"zh": "报告 #{n} 已生成。", "en": "Report #{n} generated."},
        "pumpr.list": {"zh": "已生成的报告", "en": "Generated reports"},
        "pumpr.none": {"zh": "还没有报告。", "en": "No reports yet."},
        "pumpr.period": {"zh": "周期", "en": "Period"},
        "pumpr.scope": {"zh": "范围", "en": "Scope"},
        "pumpr.by": {"zh": "生成人", "en": "By"},
        "pumpr.preview": {"zh": "预览", "en": "Preview"},
        "pumpr.pdf": {"zh": "下载 PDF", "en": "PDF"},
        "pumpr.pick": {"zh": "请选择企业。", "en": "Pick an enterprise."},
        "pumpr.read_only": {
            "zh": "只读账户不能生成报告。",
            "en": "Read-only accounts cannot generate.",
        },
    }
)


def _allowed(report_id: int) -> dict[str, Any]:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        abort(403)
    with auth.db_pool().connection() as conn:
        run = rx.get_report(conn, report_id)
        ents = user.scope.enterprise_ids(conn)
    if run is None or (ents is not None and run["enterprise_id"] not in ents):
        abort(404)
    return run


def html_view(report_id: int) -> Response:
    run = _allowed(report_id)
    return Response(
        run["html"], mimetype="text/html", headers={"Cache-Control": "private, no-store"}
    )


def pdf_view(report_id: int) -> Response:
    run = _allowed(report_id)
    name = f"pump-report-{report_id}.pdf"
    return Response(
        rx.render_pdf(run["html"]),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Cache-Control": "private, no-store",
        },
    )


def listing(user: auth.WebUser) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        runs = rx.list_reports(conn, user.scope.enterprise_ids(conn))
    rows = [
        [
            f"#{r['id']}",
            r["enterprise"] + (f" · {r['equipment_code']}" if r["equipment_code"] else ""),
            f"{i18n.fmt_datetime(r['period_start'])} – {i18n.fmt_datetime(r['period_end'])}",
            r["generated_by"],
            i18n.fmt_datetime(r["generated_at"]),
            html.Span(
                [
                    html.A(
                        t("pumpr.preview"),
                        href=f"{PATH}?id={r['id']}",
                        id=f"pumpr-preview-{r['id']}",
                    ),
                    " · ",
                    html.A(t("pumpr.pdf"), href=f"{PATH}/{r['id']}.pdf", id=f"pumpr-pdf-{r['id']}"),
                ]
            ),
        ]
        for r in runs
    ]
    return table(
        ["#", t("pumpr.scope"), t("pumpr.period"), t("pumpr.by"), "", ""],
        rows,
        "pumpr-table",
        t("pumpr.none"),
    )


def layout(id: str | None = None, **_q: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        ents = user.scope.enterprise_ids(conn)
        ent_opts = [
            {"label": n, "value": i}
            for i, n in conn.execute(
                "SELECT DISTINCT e.id, e.name FROM registry.enterprise e JOIN registry.unit u"
                " ON u.enterprise_id = e.id JOIN registry.equipment q ON q.unit_id = u.id"
                " WHERE q.kind = 'pump' AND (%s::integer[] IS NULL OR e.id = ANY(%s))"
                " ORDER BY e.name",
                (ents, ents),
            ).fetchall()
        ]
        pump_opts = [
            {"label": f"{c} {n}", "value": i}
            for i, c, n in conn.execute(
                "SELECT q.id, q.code, q.name FROM registry.equipment q JOIN registry.unit u"
                " ON u.id = q.unit_id WHERE q.kind = 'pump' AND (%s::integer[] IS NULL"
                " OR u.enterprise_id = ANY(%s)) ORDER BY q.code",
                (ents, ents),
            ).fetchall()
        ]
    preview = html.Div()
    if id and id.isdigit():
        preview = html.Div(
            [
                html.A(
                    t("pumpr.pdf"),
                    href=f"{PATH}/{id}.pdf",
                    id="pumpr-preview-pdf",
                    className="hw-btn",
                ),
                html.Iframe(
                    src=f"{PATH}/{id}.html", className="pump-report-frame", id="pumpr-frame"
                ),
            ],
            className="hw-card",
        )
    form = html.Div(
        className="hw-card pump-form",
        children=[
            dcc.Dropdown(
                id="pumpr-ent",
                options=ent_opts,
                value=ent_opts[0]["value"] if ent_opts else None,
                placeholder=t("pumpr.enterprise"),
                style={"minWidth": "240px"},
            ),
            dcc.Dropdown(
                id="pumpr-pump",
                options=pump_opts,
                placeholder=t("pumpr.pump"),
                style={"minWidth": "240px"},
            ),
            html.Label(t("pumpr.days"), htmlFor="pumpr-days"),
            dcc.Input(
                id="pumpr-days", type="number", min=1, max=92, value=7, style={"width": "5em"}
            ),
            html.Button(t("pumpr.generate"), id="pumpr-generate", className="hw-btn", n_clicks=0),
            html.Div(id="pumpr-msg"),
        ],
    )
    return html.Div(
        [
            html.H1(t("pumpr.title"), id="page-title"),
            sub_nav(PATH),
            form,
            preview,
            html.H2(t("pumpr.list")),
            html.Div(listing(user), id="pumpr-list"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pump-reports", 25, layout, title="pumpr.title",
                  nav="nav.pump_reports", roles=ROLES, after="/pumps/cases")  # fmt: skip
    if "pump_report_html" not in app.server.view_functions:
        app.server.add_url_rule(f"{PATH}/<int:report_id>.html", "pump_report_html", html_view)
        app.server.add_url_rule(f"{PATH}/<int:report_id>.pdf", "pump_report_pdf", pdf_view)

    @app.callback(
        Output("pumpr-msg", "children"),
        Output("pumpr-list", "children"),
        Input("pumpr-generate", "n_clicks"),
        State("pumpr-ent", "value"),
        State("pumpr-pump", "value"),
        State("pumpr-days", "value"),
        prevent_initial_call=True,
    )
    def _generate(_n: int, ent: Any, pump: Any, days: Any) -> tuple:
        user, actor = signed_in(ROLES)
        t = i18n.t
        msg: Any
        try:
            if user.read_only:
                raise HazwatchError(t("pumpr.read_only"))
            if ent is None:
                raise HazwatchError(t("pumpr.pick"))
            with auth.db_pool().connection() as conn:
                ents = user.scope.enterprise_ids(conn)
                if ents is not None and int(ent) not in ents:
                    raise HazwatchError(t("pumpr.pick"))
                end = datetime.now(UTC)
                span = timedelta(days=min(max(int(days or 7), 1), 92))
                rid = rx.generate_report(
                    conn,
                    actor,
                    enterprise_id=int(ent),
                    equipment_id=int(pump) if pump else None,
                    start=end - span,
                    end=end,
                    lang=i18n.current_lang(),
                )
            msg = html.Span(
                [
                    t("pumpr.made", n=rid),
                    " ",
                    html.A(t("pumpr.preview"), href=f"{PATH}?id={rid}", id="pumpr-made-link"),
                ]
            )
        except (HazwatchError, ValueError) as exc:
            msg = html.Span(str(exc), className="hw-error")
        return msg, listing(user)
