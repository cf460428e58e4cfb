"""承包商评价 ``/contractors/evaluation`` (C16-C18): templates and their rules edited online,
evaluations at selection, execution and acceptance with automatic and manual scores weighted
into one result. Enterprise staff edit and score; contractors and regulators read their own
scope; everything goes through ``workflows.contractors.evaluation``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractor_ops_common import (
    callback_viewer,
    company_options,
    enterprise_options,
    field,
    ok,
    project_options,
    refused,
    viewer,
)
from hazwatch.errors import HazwatchError
from workflows.contractors import evaluation as ev

PATH = "/contractors/evaluation"

i18n.register(
    {
        "nav.contractor_eval": {"zh": "承包商评价", "en": "Contractor evaluation"},
        "cev.title": {"zh": "承包商评价（模板、规则与评分）", "en": "Contractor evaluation"},
        "cev.templates": {"zh": "评价模板与评分规则", "en": "Templates and scoring rules"},
        "cev.template": {"zh": "评价模板", "en": "Template"},
        "cev.stage": {"zh": "评价阶段", "en": "Stage"},
        "cev.cycle": {"zh": "评价周期", "en": "Cycle"},
        "cev.pass": {"zh": "合格分", "en": "Pass score"},
        "cev.code": {"zh": "编码", "en": "Code"},
        "cev.item": {"zh": "评价项", "en": "Item"},
        "cev.source": {"zh": "评分方式", "en": "Scoring"},
        "cev.metric": {"zh": "自动指标", "en": "Metric"},
        "cev.weight": {"zh": "权重", "en": "Weight"},
        "cev.rule": {"zh": "评分规则（JSON）", "en": "Rule (JSON)"},
        "cev.guidance": {"zh": "评分标准说明", "en": "Guidance"},
        "cev.save_item": {"zh": "保存评价项", "en": "Save item"},
        "cev.item_saved": {"zh": "评价项 {code} 已保存", "en": "Item {code} saved"},
        "cev.new_template": {"zh": "新建模板", "en": "New template"},
        "cev.template_saved": {"zh": "模板 #{id} 已保存", "en": "Template #{id} saved"},
        "cev.start": {"zh": "开展评价", "en": "Start an evaluation"},
        "cev.started": {
            "zh": "评价 #{id} 已创建，自动评分已完成",
            "en": "Evaluation #{id} created; automatic items scored",
        },
        "cev.list": {"zh": "评价记录", "en": "Evaluations"},
        "cev.scoring": {"zh": "评分", "en": "Scoring"},
        "cev.evaluation": {"zh": "评价", "en": "Evaluation"},
        "cev.score": {"zh": "得分", "en": "Score"},
        "cev.basis": {"zh": "依据", "en": "Basis"},
        "cev.comment": {"zh": "评语", "en": "Comment"},
        "cev.save_score": {"zh": "保存人工评分", "en": "Save manual score"},
        "cev.score_saved": {"zh": "{code} 得分 {score} 已保存", "en": "{code}: {score} saved"},
        "cev.refresh": {"zh": "重新自动评分", "en": "Rescore automatic items"},
        "cev.finalise": {"zh": "汇总定稿", "en": "Finalise"},
        "cev.result": {
            "zh": "综合得分 {total}（合格分 {pass_score}）：{verdict}",
            "en": "Result {total} (pass {pass_score}): {verdict}",
        },
        "cev.passed": {"zh": "合格", "en": "passed"},
        "cev.failed": {"zh": "不合格", "en": "failed"},
        "cev.draft": {"zh": "草稿", "en": "draft"},
        "cev.final": {"zh": "已定稿", "en": "final"},
        "cev.period": {"zh": "评价期间", "en": "Period"},
        "cev.total": {"zh": "综合得分", "en": "Result"},
        "cev.auto": {"zh": "自动", "en": "automatic"},
        "cev.manual": {"zh": "人工", "en": "manual"},
        "cev.stage.selection": {"zh": "选择阶段", "en": "selection"},
        "cev.stage.execution": {"zh": "施工作业阶段", "en": "execution"},
        "cev.stage.acceptance": {"zh": "项目验收阶段", "en": "acceptance"},
        "cev.cycle.once": {"zh": "一次", "en": "once"},
        "cev.cycle.monthly": {"zh": "每月", "en": "monthly"},
        "cev.cycle.quarterly": {"zh": "每季度", "en": "quarterly"},
        "cev.cycle.yearly": {"zh": "每年", "en": "yearly"},
        "cev.metric.incidents": {"zh": "事故事件", "en": "incidents"},
        "cev.metric.violations": {"zh": "安全违规", "en": "violations"},
        "cev.metric.work_violations": {"zh": "作业违章", "en": "work violations"},
        "cev.metric.qualification_validity": {"zh": "资质时效", "en": "qualification validity"},
        "cev.metric.attendance": {"zh": "考勤", "en": "attendance"},
        "cev.metric.positioning_alarms": {"zh": "定位报警", "en": "positioning alarms"},
        "cev.metric.stop_orders": {"zh": "停工令", "en": "stop-work orders"},
        "cev.preset": {"zh": "预置", "en": "preset"},
    }
)


def _template_options(conn: Any, ents: list[int] | None) -> list[dict[str, Any]]:
    t = i18n.t
    return [
        {"label": f"{r['code']} {r['name']}（{t('cev.stage.' + r['stage'])}，"
                  f"{t('cev.cycle.' + r['cycle'])}"
                  f"{'，' + t('cev.preset') if r['enterprise_id'] is None else ''}）",
         "value": r["id"]}
        for r in ev.templates(conn, ents)
    ]  # fmt: skip


def _eval_options(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"label": f"#{r['id']} {r['company']} {r['template']} {r['period_from']}~{r['period_to']}",
         "value": r["id"]}
        for r in rows
    ]  # fmt: skip


def _items_table(conn: Any, template_id: int | None) -> html.Div:
    t = i18n.t
    if template_id is None:
        return html.Div(t("cop.none"), className="hw-muted", id="cev-items")
    rows = [
        (i.code, i.name, t(f"cev.{i.source}"), t(f"cev.metric.{i.metric}") if i.metric else "",
         f"{i.weight:g}", json.dumps(dict(i.rule), ensure_ascii=False) if i.rule else "",
         i.guidance)
        for _, i in ev.template_items(conn, template_id)
    ]  # fmt: skip
    head = [t("cev.code"), t("cev.item"), t("cev.source"), t("cev.metric"), t("cev.weight"),
            t("cev.rule"), t("cev.guidance")]  # fmt: skip
    return table(head, rows, "cev-items", t("cop.none"))


def _eval_table(rows: list[dict[str, Any]]) -> html.Div:
    t = i18n.t
    body = [
        (r["id"], r["company"], r["project"] or "", r["template"], t(f"cev.stage.{r['stage']}"),
         f"{r['period_from']} ~ {r['period_to']}", t(f"cev.{r['status']}"),
         "" if r["total"] is None else f"{float(r['total']):g}",
         "" if r["passed"] is None else t("cev.passed" if r["passed"] else "cev.failed"))
        for r in rows
    ]  # fmt: skip
    head = ["#", t("cop.company"), t("cop.project"), t("cev.template"), t("cev.stage"),
            t("cev.period"), t("cop.status"), t("cev.total"), ""]  # fmt: skip
    return table(head, body, "cev-evaluations", t("cop.none"))


def _scoring(
    conn: Any, evaluation_id: int | None, company: int | None
) -> tuple[Any, Any, str, str | None]:
    """(scores table, manual item options, result line, the first manual item not scored)."""
    t = i18n.t
    if evaluation_id is None:
        return html.Div(t("cop.none"), className="hw-muted", id="cev-scores"), [], "", None
    row = conn.execute(
        "SELECT company_id, items, status, total, passed, pass_score FROM contractor.evaluation"
        " WHERE id = %s",
        (evaluation_id,),
    ).fetchone()
    if row is None or (company is not None and row[0] != company):
        return html.Div(t("cop.none"), className="hw-muted", id="cev-scores"), [], "", None
    items = [ev.Item.from_json(i) for i in row[1]]
    given = ev.scores(conn, evaluation_id)
    body = []
    for i in items:
        s = given.get(i.code)
        basis = json.dumps(s["basis"], ensure_ascii=False) if s and s["basis"] else ""
        body.append((i.code, i.name, t(f"cev.{i.source}"), f"{i.weight:g}",
                     "" if s is None else f"{s['score']:g}", basis,
                     "" if s is None else s["comment"]))  # fmt: skip
    head = [t("cev.code"), t("cev.item"), t("cev.source"), t("cev.weight"), t("cev.score"),
            t("cev.basis"), t("cev.comment")]  # fmt: skip
    manual = [{"label": f"{i.code} {i.name}", "value": i.code} for i in items
              if i.source == "manual"]  # fmt: skip
    result = ""
    if row[2] == "final":
        result = t("cev.result", total=f"{float(row[3]):.2f}", pass_score=f"{float(row[5]):g}",
                   verdict=t("cev.passed" if row[4] else "cev.failed"))  # fmt: skip
    todo = next((i.code for i in items if i.source == "manual" and i.code not in given), None)
    return table(head, body, "cev-scores", t("cop.none")), manual, result, todo


def layout(**query: Any) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        v = viewer(conn)
        if v is None:
            return forbidden()
        evals = ev.evaluations(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
        templates = [] if v.contractor else _template_options(conn, v.enterprise_ids)
        first_template = templates[0]["value"] if templates else None
        items = _items_table(conn, first_template) if not v.contractor else html.Div()
        companies = company_options(conn, v) if v.staff else []
        projects = project_options(conn, v) if v.staff else []
        ents = enterprise_options(conn, v) if v.staff else []
        chosen = int(query["e"]) if str(query.get("e", "")).isdigit() else None
        scores_table, manual, result, todo = _scoring(conn, chosen, v.company_id)
    staff = v.staff
    stage_opts = [{"label": t(f"cev.stage.{s}"), "value": s} for s in ev.STAGES]
    cycle_opts = [{"label": t(f"cev.cycle.{c}"), "value": c} for c in ev.CYCLES]
    metric_opts = [{"label": t(f"cev.metric.{m}"), "value": m} for m in ev.METRICS]
    source_opts = [{"label": t("cev.auto"), "value": "auto"},
                   {"label": t("cev.manual"), "value": "manual"}]  # fmt: skip
    rules = html.Div(
        className="hw-card",
        children=[
            html.H2(t("cev.templates")),
            dcc.Dropdown(id="cev-template", options=templates, value=first_template,
                         clearable=False),
            html.Div(items, id="cev-items-box"),
            html.Div(
                className="cx-form",
                children=[
                    field(t("cev.code"), dcc.Input(id="cev-i-code", className="hw-input")),
                    field(t("cev.item"), dcc.Input(id="cev-i-name", className="hw-input")),
                    field(t("cev.source"), dcc.Dropdown(id="cev-i-source", options=source_opts,
                                                        value="manual", clearable=False)),
                    field(t("cev.metric"), dcc.Dropdown(id="cev-i-metric", options=metric_opts)),
                    field(t("cev.weight"), dcc.Input(id="cev-i-weight", type="number",
                                                     className="hw-input")),
                    field(t("cev.rule"), dcc.Input(id="cev-i-rule", className="hw-input",
                                                   placeholder='{"per": 10}')),
                    field(t("cev.guidance"), dcc.Input(id="cev-i-guidance",
                                                       className="hw-input")),
                    html.Button(t("cev.save_item"), id="cev-i-save", className="hw-btn",
                                n_clicks=0, disabled=not staff),
                ],
            ),
            html.Details([
                html.Summary(t("cev.new_template")),
                field(t("cop.enterprise"), dcc.Dropdown(id="cev-t-ent", options=ents)),
                field(t("cev.code"), dcc.Input(id="cev-t-code", className="hw-input")),
                field(t("cop.name"), dcc.Input(id="cev-t-name", className="hw-input")),
                field(t("cev.stage"), dcc.Dropdown(id="cev-t-stage", options=stage_opts,
                                                   value="execution", clearable=False)),
                field(t("cev.cycle"), dcc.Dropdown(id="cev-t-cycle", options=cycle_opts,
                                                   value="monthly", clearable=False)),
                field(t("cev.pass"), dcc.Input(id="cev-t-pass", type="number", value=70,
                                               className="hw-input")),
                html.Button(t("cop.save"), id="cev-t-save", className="hw-btn", n_clicks=0,
                            disabled=not staff),
            ]),
            html.Div(id="cev-rule-msg"),
        ],
    )  # fmt: skip
    # Hidden, not left out: the callbacks name these inputs on every page view.
    rules.hidden = v.contractor
    start = html.Div(
        className="hw-card",
        children=[
            html.H2(t("cev.start")),
            field(t("cev.template"), dcc.Dropdown(id="cev-s-template", options=templates)),
            field(t("cop.company"), dcc.Dropdown(id="cev-s-company", options=companies)),
            field(t("cop.project"), dcc.Dropdown(id="cev-s-project", options=projects)),
            field(t("cop.from"), dcc.Input(id="cev-s-from", className="hw-input",
                                           placeholder="YYYY-MM-DD")),
            field(t("cop.until"), dcc.Input(id="cev-s-to", className="hw-input",
                                            placeholder="YYYY-MM-DD")),
            html.Button(t("cev.start"), id="cev-s-go", className="hw-btn", n_clicks=0),
            html.Div(id="cev-start-msg"),
        ],
    )  # fmt: skip
    start.hidden = not staff
    scoring = html.Div(
        className="hw-card",
        children=[
            html.H2(t("cev.scoring")),
            dcc.Dropdown(id="cev-eval", options=_eval_options(evals), value=chosen,
                         placeholder=t("cev.evaluation")),
            html.Div(scores_table, id="cev-scores-box"),
            html.Div(
                className="cx-form",
                children=[
                    field(t("cev.item"), dcc.Dropdown(id="cev-m-item", options=manual,
                                                                value=todo)),
                    field(t("cev.score"), dcc.Input(id="cev-m-score", type="number", min=0,
                                                    max=100, className="hw-input")),
                    field(t("cev.comment"), dcc.Input(id="cev-m-comment", className="hw-input")),
                    html.Button(t("cev.save_score"), id="cev-m-save", className="hw-btn",
                                n_clicks=0),
                    html.Button(t("cev.refresh"), id="cev-refresh", className="hw-btn",
                                n_clicks=0),
                    html.Button(t("cev.finalise"), id="cev-finalise", className="hw-btn",
                                n_clicks=0),
                ],
                hidden=not staff,
            ),
            html.Div(id="cev-score-msg"),
            html.Div(result, id="cev-result", className="cev-result"),
        ],
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("cev.title"), id="page-title"),
            rules,
            start,
            scoring,
            html.H2(t("cev.list")),
            html.Div(_eval_table(evals), id="cev-list-box"),
        ],
        className="cx-page",
    )


def _date(text: str | None, what: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise HazwatchError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "contractor_eval", 63, layout)

    @app.callback(
        Output("cev-items-box", "children"),
        Input("cev-template", "value"),
        prevent_initial_call=True,
    )
    def show_items(template_id: int | None) -> Any:
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or v.contractor:
                raise dash.exceptions.PreventUpdate
            visible = {o["value"] for o in _template_options(conn, v.enterprise_ids)}
            return _items_table(conn, template_id if template_id in visible else None)

    @app.callback(
        Output("cev-rule-msg", "children"),
        Output("cev-items-box", "children", allow_duplicate=True),
        Input("cev-i-save", "n_clicks"),
        State("cev-template", "value"),
        State("cev-i-code", "value"),
        State("cev-i-name", "value"),
        State("cev-i-source", "value"),
        State("cev-i-metric", "value"),
        State("cev-i-weight", "value"),
        State("cev-i-rule", "value"),
        State("cev-i-guidance", "value"),
        prevent_initial_call=True,
    )
    def save_item(_n: int, template_id: int | None, code: str | None, name: str | None,
                  source: str, metric: str | None, weight: float | None, rule: str | None,
                  guidance: str | None) -> tuple[Any, Any]:  # fmt: skip
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not v.staff or template_id is None:
                raise dash.exceptions.PreventUpdate
            try:
                _may_edit(conn, v, template_id)
                parsed = json.loads(rule) if (rule or "").strip() else {}
                if not isinstance(parsed, dict):
                    raise HazwatchError('rule: a JSON object such as {"per": 10}')
                existing = {i.code: iid for iid, i in ev.template_items(conn, template_id)}
                code = (code or "").strip()
                ev.save_item(conn, v.actor, template_id,
                             {"code": code, "name": name or code, "source": source,
                              "metric": metric if source == "auto" else None,
                              "weight": weight, "rule": parsed, "guidance": guidance,
                              "position": len(existing) + 1},
                             item_id=existing.get(code))  # fmt: skip
            except json.JSONDecodeError as exc:
                return refused(f"rule: {exc}"), dash.no_update
            except HazwatchError as exc:
                return refused(exc), dash.no_update
            return ok(i18n.t("cev.item_saved", code=code)), _items_table(conn, template_id)

    @app.callback(
        Output("cev-rule-msg", "children", allow_duplicate=True),
        Output("cev-template", "options"),
        Input("cev-t-save", "n_clicks"),
        State("cev-t-ent", "value"),
        State("cev-t-code", "value"),
        State("cev-t-name", "value"),
        State("cev-t-stage", "value"),
        State("cev-t-cycle", "value"),
        State("cev-t-pass", "value"),
        prevent_initial_call=True,
    )
    def save_template(_n: int, ent: int | None, code: str | None, name: str | None, stage: str,
                      cycle: str, pass_score: float | None) -> tuple[Any, Any]:  # fmt: skip
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not v.staff:
                raise dash.exceptions.PreventUpdate
            if ent is None and not v.user.is_admin:
                return refused(i18n.t("cop.enterprise")), dash.no_update
            if ent is not None and v.enterprise_ids is not None and ent not in v.enterprise_ids:
                raise dash.exceptions.PreventUpdate
            try:
                tid = ev.save_template(conn, v.actor, {
                    "enterprise_id": ent, "code": (code or "").strip(),
                    "name": (name or "").strip(), "stage": stage, "cycle": cycle,
                    "pass_score": pass_score if pass_score is not None else 70})  # fmt: skip
            except HazwatchError as exc:
                return refused(exc), dash.no_update
            return ok(i18n.t("cev.template_saved", id=tid)), _template_options(
                conn, v.enterprise_ids
            )

    @app.callback(
        Output("cev-start-msg", "children"),
        Output("cev-eval", "options"),
        Output("cev-eval", "value"),
        Output("cev-list-box", "children"),
        Input("cev-s-go", "n_clicks"),
        State("cev-s-template", "value"),
        State("cev-s-company", "value"),
        State("cev-s-project", "value"),
        State("cev-s-from", "value"),
        State("cev-s-to", "value"),
        prevent_initial_call=True,
    )
    def start(_n: int, template_id: int | None, company_id: int | None, project_id: int | None,
              since: str | None, until: str | None) -> tuple[Any, ...]:  # fmt: skip
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not v.staff:
                raise dash.exceptions.PreventUpdate
            if company_id not in {o["value"] for o in company_options(conn, v)}:
                return refused(i18n.t("cop.company")), *(dash.no_update,) * 3
            try:
                eid = ev.start_evaluation(
                    conn, v.actor, template_id=int(template_id or 0), company_id=company_id,
                    project_id=project_id, period_from=_date(since, i18n.t("cop.from")),
                    period_to=_date(until, i18n.t("cop.until")),
                )  # fmt: skip
            except HazwatchError as exc:
                return refused(exc), *(dash.no_update,) * 3
            rows = ev.evaluations(conn, enterprise_ids=v.enterprise_ids)
            return ok(i18n.t("cev.started", id=eid)), _eval_options(rows), eid, _eval_table(rows)

    @app.callback(
        Output("cev-scores-box", "children"),
        Output("cev-m-item", "options"),
        Output("cev-m-item", "value"),
        Output("cev-result", "children"),
        Output("cev-score-msg", "children"),
        Output("cev-list-box", "children", allow_duplicate=True),
        Input("cev-eval", "value"),
        Input("cev-m-save", "n_clicks"),
        Input("cev-refresh", "n_clicks"),
        Input("cev-finalise", "n_clicks"),
        State("cev-m-item", "value"),
        State("cev-m-score", "value"),
        State("cev-m-comment", "value"),
        prevent_initial_call=True,
    )
    def score(evaluation_id: int | None, _save: int, _refresh: int, _final: int,
              item: str | None, value: float | None,
              comment: str | None) -> tuple[Any, ...]:  # fmt: skip
        trigger = dash.ctx.triggered_id
        message: Any = ""
        with auth.db_pool().connection() as conn:
            v = callback_viewer(conn)
            visible = {r["id"] for r in ev.evaluations(conn, enterprise_ids=v.enterprise_ids,
                                                        company_id=v.company_id)}  # fmt: skip
            if evaluation_id not in visible:
                evaluation_id = None
            if trigger != "cev-eval" and (not v.staff or evaluation_id is None):
                raise dash.exceptions.PreventUpdate
            try:
                if trigger == "cev-m-save":
                    if item is None or value is None:
                        raise HazwatchError(f"{i18n.t('cev.item')} / {i18n.t('cev.score')}")
                    ev.set_manual(conn, v.actor, int(evaluation_id or 0), item, float(value),
                                  comment)  # fmt: skip
                    message = ok(i18n.t("cev.score_saved", code=item, score=f"{value:g}"))
                elif trigger == "cev-refresh":
                    ev.refresh_auto(conn, v.actor, int(evaluation_id or 0))
                elif trigger == "cev-finalise":
                    ev.finalise(conn, v.actor, int(evaluation_id or 0))
            except HazwatchError as exc:
                message = refused(exc)
            box, manual, result, todo = _scoring(conn, evaluation_id, v.company_id)
            rows = ev.evaluations(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
            return box, manual, todo, result, message, _eval_table(rows)


def _may_edit(conn: Any, v: Any, template_id: int) -> None:
    """A host's staff edit their own templates; the presets are the administrators'."""
    row = conn.execute(
        "SELECT enterprise_id FROM contractor.eval_template WHERE id = %s", (template_id,)
    ).fetchone()
    if row is None:
        raise HazwatchError(f"no template #{template_id}")
    if row[0] is None and not v.user.is_admin:
        raise HazwatchError("the preset templates are changed by administrators")
    if row[0] is not None and v.enterprise_ids is not None and row[0] not in v.enterprise_ids:
        raise HazwatchError(f"no template #{template_id}")
