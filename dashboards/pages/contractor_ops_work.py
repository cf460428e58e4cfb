"""作业、停复工与退场 ``/contractors/work`` (C13-C15): special-work permits with their
warnings, stop-work orders (issued by the enterprise, approved through 待我审批) with their
reasons classified, searched and counted, resume applications by the contractor (measures,
evidence, retraining), exits and a person's year of entries across employers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractor_ops_common import (
    Viewer,
    callback_viewer,
    company_options,
    field,
    ok,
    project_options,
    refused,
    viewer,
    when,
)
from hazwatch.errors import HazwatchError
from workflows.contractors import exit as exits
from workflows.contractors import permits, stop_work

PATH = "/contractors/work"

i18n.register(
    {
        "nav.contractor_work": {"zh": "作业与停复工", "en": "Work and stop-work"},
        "cwk.title": {"zh": "承包商作业、停复工与退场", "en": "Contractor work, stops and exits"},
        "cwk.permits": {"zh": "特殊作业票", "en": "Special-work permits"},
        "cwk.permit_no": {"zh": "作业票号", "en": "Permit"},
        "cwk.work_type": {"zh": "作业类型", "en": "Work"},
        "cwk.location": {"zh": "地点", "en": "Location"},
        "cwk.planned": {"zh": "计划时间", "en": "Planned"},
        "cwk.stages": {
            "zh": "开工审查/交底/开始/巡查/验收",
            "en": "Review/briefing/start/check/accept",
        },
        "cwk.warnings": {"zh": "预警", "en": "Warnings"},
        "cwk.pstatus.planned": {"zh": "未开始", "en": "planned"},
        "cwk.pstatus.in_progress": {"zh": "作业中", "en": "in progress"},
        "cwk.pstatus.suspended": {"zh": "已停工", "en": "suspended"},
        "cwk.pstatus.accepted": {"zh": "已验收", "en": "accepted"},
        "cwk.pstatus.cancelled": {"zh": "已取消", "en": "cancelled"},
        "cwk.stops": {"zh": "停工令", "en": "Stop-work orders"},
        "cwk.class": {"zh": "停工原因分类", "en": "Reason class"},
        "cwk.search": {
            "zh": "检索（原因、措施、单位）",
            "en": "Search (reason, measures, company)",
        },
        "cwk.counts": {"zh": "停工原因统计", "en": "Stop reasons counted"},
        "cwk.count": {"zh": "次数", "en": "Count"},
        "cwk.issue": {"zh": "下达停工令", "en": "Issue a stop-work order"},
        "cwk.scope": {"zh": "停工范围", "en": "Scope"},
        "cwk.issued": {
            "zh": "停工令 #{id} 已提交审批（审批单 #{approval}）",
            "en": "Stop-work order #{id} submitted (request #{approval})",
        },
        "cwk.resume": {"zh": "复工申请", "en": "Resume application"},
        "cwk.order": {"zh": "停工令", "en": "Order"},
        "cwk.measures": {"zh": "整改措施", "en": "Corrective measures"},
        "cwk.evidence": {"zh": "验证材料", "en": "Evidence"},
        "cwk.retraining": {"zh": "人员再培训记录", "en": "Retraining"},
        "cwk.applied": {"zh": "复工申请 #{id} 已提交", "en": "Resume application #{id} submitted"},
        "cwk.ordered": {"zh": "下达时间", "en": "Ordered"},
        "cwk.sstatus.requested": {"zh": "待审批", "en": "awaiting approval"},
        "cwk.sstatus.in_force": {"zh": "停工中", "en": "in force"},
        "cwk.sstatus.resume_requested": {"zh": "复工审批中", "en": "resume in approval"},
        "cwk.sstatus.resumed": {"zh": "已复工", "en": "resumed"},
        "cwk.sstatus.rejected": {"zh": "未批准", "en": "not approved"},
        "cwk.exits": {"zh": "人员退场", "en": "Exits"},
        "cwk.person": {"zh": "人员", "en": "Person"},
        "cwk.left_on": {"zh": "退场日期", "en": "Left on"},
        "cwk.record_exit": {"zh": "办理退场", "en": "Record the exit"},
        "cwk.exited": {
            "zh": "已办理退场：注销门禁卡 {cards}，收回定位卡 {tags}",
            "en": "Exit recorded: cards revoked {cards}, tags returned {tags}",
        },
        "cwk.kept": {"zh": "数据保存至", "en": "Kept until"},
        "cwk.problems": {"zh": "待处理", "en": "To do"},
        "cwk.history": {
            "zh": "人员一年内入厂记录（跨单位）",
            "en": "A year of entries (any employer)",
        },
        "cwk.lookup": {"zh": "查询", "en": "Look up"},
        "cwk.entries": {"zh": "入厂记录", "en": "Entries"},
        "cwk.employments": {"zh": "任职单位", "en": "Employers"},
    }
)


def _stop_rows(conn: Any, v: Viewer, text: str | None = None, cls: str | None = None) -> Any:
    t = i18n.t
    lang = i18n.current_lang()
    names = {c: (zh if lang == "zh" else en) for c, zh, en in stop_work.reason_classes(conn)}
    rows = stop_work.orders(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id,
                            text=text, reason_class=cls)  # fmt: skip
    return table(
        ["#", t("cop.company"), t("cop.project"), t("cwk.class"), t("cop.reason"),
         t("cop.status"), t("cwk.ordered"), t("cwk.measures"), t("cwk.retraining")],
        [(r["id"], r["company"], r["project"], names.get(r["reason_class"], r["reason_class"]),
          r["reason"], t(f"cwk.sstatus.{r['status']}"), when(r["ordered_at"]), r["measures"],
          r["retraining"]) for r in rows],
        "cwk-stops", t("cop.none"),
    )  # fmt: skip


def _counts(conn: Any, v: Viewer) -> Any:
    t = i18n.t
    lang = i18n.current_lang()
    rows = stop_work.reason_counts(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
    return table([t("cwk.class"), t("cwk.count")],
                 [(zh if lang == "zh" else en, n) for _, zh, en, n in rows],
                 "cwk-counts", t("cop.none"))  # fmt: skip


def _permit_rows(conn: Any, v: Viewer) -> Any:
    t = i18n.t
    lang = i18n.current_lang()
    rows = permits.permits(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)

    def mark(x: Any) -> str:
        return "✓" if x else "—"

    return table(
        [t("cwk.permit_no"), t("cop.company"), t("cwk.work_type"), t("cwk.location"),
         t("cwk.planned"), t("cwk.stages"), t("cop.status"), t("cwk.warnings")],
        [(r["permit_no"], r["company"], permits.WORK_TYPES[r["work_type"]][0 if lang == "zh"
                                                                            else 1],
          r["location"], f"{when(r['planned_start'])} ~ {when(r['planned_end'])}",
          " ".join(mark(r[k]) for k in ("reviewed_at", "briefed_at", "started_at",
                                         "site_checked_at", "accepted_at")),
          t(f"cwk.pstatus.{r['status']}"),
          html.Span("；".join(r["warnings"]), className="hw-error" if r["warnings"] else ""))
         for r in rows],
        "cwk-permits", t("cop.none"),
    )  # fmt: skip


def _exit_rows(conn: Any, v: Viewer) -> Any:
    t = i18n.t
    rows = exits.exits(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
    return table(
        [t("cop.person_code"), t("cop.name"), t("cop.company"), t("cwk.left_on"),
         t("cop.reason"), t("cwk.kept"), t("cwk.problems")],
        [(r["person_code"], r["name"], r["company"], str(r["left_on"]), r["reason"],
          "" if r["kept_until"] is None else str(r["kept_until"]), "；".join(r["problems"]))
         for r in rows],
        "cwk-exits", t("cop.none"),
    )  # fmt: skip


def _active_people(conn: Any, v: Viewer) -> list[dict[str, Any]]:
    cond, params = v.user.scope.condition("c.enterprise_id")
    ccond, cparams = v.user.scope.company_condition("c.id")
    rows = conn.execute(
        sql.SQL(
            "SELECT e.id, p.name, p.person_code, c.name FROM contractor.employment e"
            " JOIN contractor.person p ON p.id = e.person_id"
            " JOIN contractor.company c ON c.id = e.company_id"
            " WHERE e.status = 'active' AND {} AND {} ORDER BY c.name, p.name LIMIT 1000"
        ).format(cond, ccond),
        (*params, *cparams),
    ).fetchall()
    return [{"label": f"{n}（{code}，{c}）", "value": i} for i, n, code, c in rows]


def _open_orders(conn: Any, v: Viewer) -> list[dict[str, Any]]:
    rows = stop_work.orders(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
    return [{"label": f"#{r['id']} {r['company']} {r['reason'][:30]}", "value": r["id"]}
            for r in rows if r["status"] == "in_force"]  # fmt: skip


def layout(**_query: Any) -> html.Div:
    t = i18n.t
    lang = i18n.current_lang()
    with auth.db_pool().connection() as conn:
        v = viewer(conn)
        if v is None:
            return forbidden()
        classes = [{"label": zh if lang == "zh" else en, "value": c}
                   for c, zh, en in stop_work.reason_classes(conn)]  # fmt: skip
        stops, counts = _stop_rows(conn, v), _counts(conn, v)
        permit_table, exit_table = _permit_rows(conn, v), _exit_rows(conn, v)
        companies = company_options(conn, v) if v.staff else []
        projects = project_options(conn, v) if v.staff else []
        people = _active_people(conn, v) if (v.staff or v.contractor) else []
        orders = _open_orders(conn, v) if v.contractor else []
    issue = html.Div(className="hw-card", children=[
        html.H2(t("cwk.issue")),
        field(t("cop.company"), dcc.Dropdown(id="cwk-i-company", options=companies)),
        field(t("cop.project"), dcc.Dropdown(id="cwk-i-project", options=projects)),
        field(t("cwk.class"), dcc.Dropdown(id="cwk-i-class", options=classes)),
        field(t("cop.reason"), dcc.Textarea(id="cwk-i-reason", className="hw-input")),
        field(t("cwk.scope"), dcc.Input(id="cwk-i-scope", className="hw-input")),
        html.Button(t("cwk.issue"), id="cwk-i-go", className="hw-btn", n_clicks=0),
    ], hidden=not v.staff)  # fmt: skip
    resume = html.Div(className="hw-card", children=[
        html.H2(t("cwk.resume")),
        field(t("cwk.order"), dcc.Dropdown(id="cwk-r-order", options=orders)),
        field(t("cwk.measures"), dcc.Textarea(id="cwk-r-measures", className="hw-input")),
        field(t("cwk.evidence"), dcc.Textarea(id="cwk-r-evidence", className="hw-input")),
        field(t("cwk.retraining"), dcc.Textarea(id="cwk-r-retraining", className="hw-input")),
        html.Button(t("cwk.resume"), id="cwk-r-go", className="hw-btn", n_clicks=0),
    ], hidden=not v.contractor)  # fmt: skip
    exit_form = html.Div(className="hw-card", children=[
        html.H2(t("cwk.record_exit")),
        field(t("cwk.person"), dcc.Dropdown(id="cwk-x-person", options=people)),
        field(t("cwk.left_on"), dcc.Input(id="cwk-x-date", className="hw-input",
                                          value=date.today().isoformat())),
        field(t("cop.reason"), dcc.Input(id="cwk-x-reason", className="hw-input")),
        html.Button(t("cwk.record_exit"), id="cwk-x-go", className="hw-btn", n_clicks=0),
    ], hidden=not (v.staff or v.contractor))  # fmt: skip
    return html.Div(
        [
            html.H1(t("cwk.title"), id="page-title"),
            html.H2(t("cwk.permits")),
            permit_table,
            html.H2(t("cwk.stops")),
            html.Div([
                dcc.Input(id="cwk-q", className="hw-input", placeholder=t("cwk.search")),
                dcc.Dropdown(id="cwk-q-class", options=classes, placeholder=t("cwk.class")),
            ], className="cx-form"),
            html.Div(stops, id="cwk-stops-box"),
            html.H2(t("cwk.counts")),
            html.Div(counts, id="cwk-counts-box"),
            issue,
            resume,
            html.Div(id="cwk-msg"),
            html.H2(t("cwk.exits")),
            html.Div(exit_table, id="cwk-exits-box"),
            exit_form,
            html.Div(className="hw-card", children=[
                html.H2(t("cwk.history")),
                dcc.Input(id="cwk-h-code", className="hw-input", placeholder="P00000001"),
                html.Button(t("cwk.lookup"), id="cwk-h-go", className="hw-btn", n_clicks=0),
                html.Div(id="cwk-h-box"),
            ]),
        ],
        className="cx-page",
    )  # fmt: skip


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "contractor_work", 62, layout)

    @app.callback(
        Output("cwk-stops-box", "children"),
        Input("cwk-q", "value"),
        Input("cwk-q-class", "value"),
        prevent_initial_call=True,
    )
    def search(text: str | None, cls: str | None) -> Any:
        with auth.db_pool().connection() as conn:
            v = callback_viewer(conn)
            return _stop_rows(conn, v, text, cls)

    @app.callback(
        Output("cwk-msg", "children"),
        Output("cwk-stops-box", "children", allow_duplicate=True),
        Output("cwk-counts-box", "children"),
        Input("cwk-i-go", "n_clicks"),
        Input("cwk-r-go", "n_clicks"),
        State("cwk-i-company", "value"),
        State("cwk-i-project", "value"),
        State("cwk-i-class", "value"),
        State("cwk-i-reason", "value"),
        State("cwk-i-scope", "value"),
        State("cwk-r-order", "value"),
        State("cwk-r-measures", "value"),
        State("cwk-r-evidence", "value"),
        State("cwk-r-retraining", "value"),
        prevent_initial_call=True,
    )
    def stop_or_resume(_i: int, _r: int, company: int | None, project: int | None,
                       cls: str | None, reason: str | None, scope: str | None,
                       order: int | None, measures: str | None, evidence: str | None,
                       retraining: str | None) -> tuple[Any, Any, Any]:  # fmt: skip
        t = i18n.t
        with auth.db_pool().connection() as conn:
            v = callback_viewer(conn)
            try:
                if dash.ctx.triggered_id == "cwk-i-go":
                    if not v.staff:
                        raise dash.exceptions.PreventUpdate
                    if company not in {o["value"] for o in company_options(conn, v)}:
                        raise HazwatchError(t("cop.company"))
                    if project is not None and project not in {
                        o["value"] for o in project_options(conn, v)
                    }:
                        raise HazwatchError(t("cop.project"))
                    oid, aid = stop_work.issue_stop(
                        conn, v.actor, company_id=company, project_id=project,
                        reason_class=cls or "", reason=reason or "", scope=scope,
                    )  # fmt: skip
                    message = ok(t("cwk.issued", id=oid, approval=aid))
                else:
                    if not v.contractor or order is None:
                        raise dash.exceptions.PreventUpdate
                    aid = stop_work.request_resume(
                        conn, v.actor, order, measures=measures or "", evidence=evidence or "",
                        retraining=retraining or "", company_id=v.company_id,
                    )  # fmt: skip
                    message = ok(t("cwk.applied", id=aid))
            except HazwatchError as exc:
                return refused(exc), dash.no_update, dash.no_update
            return message, _stop_rows(conn, v), _counts(conn, v)

    @app.callback(
        Output("cwk-msg", "children", allow_duplicate=True),
        Output("cwk-exits-box", "children"),
        Input("cwk-x-go", "n_clicks"),
        State("cwk-x-person", "value"),
        State("cwk-x-date", "value"),
        State("cwk-x-reason", "value"),
        prevent_initial_call=True,
    )
    def record_exit(_n: int, employment: int | None, left: str | None,
                    reason: str | None) -> tuple[Any, Any]:  # fmt: skip
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not (v.staff or v.contractor) or employment is None:
                raise dash.exceptions.PreventUpdate
            if employment not in {o["value"] for o in _active_people(conn, v)}:
                raise dash.exceptions.PreventUpdate
            try:
                try:
                    left_on = date.fromisoformat((left or "").strip())
                except ValueError:
                    raise HazwatchError(f"{i18n.t('cwk.left_on')}: YYYY-MM-DD") from None
                out = exits.record_exit(
                    conn,
                    v.actor,
                    employment_id=employment,
                    left_on=left_on,
                    reason=reason or "",
                    company_id=v.company_id,
                )
            except HazwatchError as exc:
                return refused(exc), dash.no_update
            text = i18n.t("cwk.exited", cards="、".join(out.cards_revoked) or "-",
                          tags="、".join(out.tags_returned) or "-")  # fmt: skip
            return ok(text + ("；" + "；".join(out.problems) if out.problems else "")), \
                _exit_rows(conn, v)  # fmt: skip

    @app.callback(
        Output("cwk-h-box", "children"),
        Input("cwk-h-go", "n_clicks"),
        State("cwk-h-code", "value"),
        prevent_initial_call=True,
    )
    def lookup(_n: int, code: str | None) -> Any:
        t = i18n.t
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not (code or "").strip():
                raise dash.exceptions.PreventUpdate
            try:
                if (
                    v.contractor
                    and not conn.execute(
                        "SELECT 1 FROM contractor.employment e JOIN contractor.person p"
                        " ON p.id = e.person_id WHERE p.person_code = %s AND e.company_id = %s",
                        ((code or "").strip().upper(), v.company_id),
                    ).fetchone()
                ):
                    raise HazwatchError(f"{code}: ?")
                h = exits.history(conn, code or "", enterprise_ids=v.enterprise_ids)
            except HazwatchError as exc:
                return refused(exc)
            return html.Div([
                html.P(f"{h['name']}（{h['person_code']}，{h['id_masked']}）"),
                html.H3(t("cwk.employments")),
                table([t("cop.company"), t("cop.status"), t("cop.from"), t("cop.until")],
                      [(e["company"], e["status"], str(e["joined_on"]), str(e["left_on"] or ""))
                       for e in h["employments"]], "cwk-h-employments", t("cop.none")),
                html.H3(t("cwk.entries")),
                table([t("cop.company"), t("cop.project"), t("cop.from"), t("cop.until"),
                       t("cop.status")],
                      [(e["company"], e["project"] or "", str(e["valid_from"]),
                        str(e["valid_until"]), e["status"]) for e in h["entries"]],
                      "cwk-h-entries", t("cop.none")),
            ])  # fmt: skip
