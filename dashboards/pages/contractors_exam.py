"""入厂安全考试 (C10): ``/contractors/exam?a=<application>``. The contractor account opens the
exam of one of its applications for the worker; the paper is drawn at random from the
course's question banks (the right answers never reach the browser), graded on submit. A
failed exam returns the application at once; a passed one goes to the approvers.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html

from dashboards import auth, i18n
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractors_common import contractor
from hazwatch.errors import HazwatchError
from workflows.contractors import entry

PATH = "/contractors/exam"

i18n.register(
    {
        "cx.exam.title": {"zh": "入厂安全考试", "en": "Entry safety exam"},
        "cx.exam.for": {"zh": "考生：{name}（申请 #{id}）", "en": "Candidate: {name} (#{id})"},
        "cx.exam.submit": {"zh": "交卷", "en": "Hand in"},
        "cx.exam.retake": {"zh": "重新考试", "en": "Retake"},
        "cx.exam.points": {"zh": "（{p:g} 分）", "en": " ({p:g} points)"},
        "cx.exam.passed": {
            "zh": "考试合格：{score:g}/{max:g} 分。申请已提交审批。",
            "en": "Passed: {score:g}/{max:g}. The application went to the approvers.",
        },
        "cx.exam.failed": {
            "zh": "考试不合格：{score:g}/{max:g} 分（合格线 {mark:g}%）。申请已自动退回。",
            "en": "Failed: {score:g}/{max:g} (pass mark {mark:g}%). The application was returned.",
        },
        "cx.exam.returned": {
            "zh": "该申请已退回：可重新考试。",
            "en": "This application was returned; the exam may be retaken.",
        },
        "cx.exam.judge_t": {"zh": "正确", "en": "True"},
        "cx.exam.judge_f": {"zh": "错误", "en": "False"},
    }
)


def _question(n: int, q: dict[str, Any]) -> html.Fieldset:
    letters = "ABCDEFGH"
    if q["qtype"] == "judge":
        opts = [
            {"label": i18n.t("cx.exam.judge_t"), "value": "T"},
            {"label": i18n.t("cx.exam.judge_f"), "value": "F"},
        ]
    else:
        opts = [
            {"label": f"{letters[i]}. {o}", "value": letters[i]} for i, o in enumerate(q["options"])
        ]
    qid = {"type": "cx-q", "qid": q["question_id"]}
    widget: Any = (
        dcc.Checklist(opts, [], id=qid, className="cx-options")
        if q["qtype"] == "multiple"
        else dcc.RadioItems(opts, None, id=qid, className="cx-options")
    )
    return html.Fieldset(
        [html.Legend(f"{n}. {q['stem']}" + i18n.t("cx.exam.points", p=q["points"])), widget],
        className="cx-question",
        **{"data-qid": str(q["question_id"])},
    )


def _paper(application_id: int, company_id: int) -> list[Any]:
    with auth.db_pool().connection() as conn:
        attempt, paper = entry.start_exam(conn, application_id, company_id=company_id)
    return [
        dcc.Store(id="cx-exam-attempt", data=attempt),
        html.Div([_question(n, q) for n, q in enumerate(paper, start=1)], id="cx-paper"),
        html.Button(i18n.t("cx.exam.submit"), id="cx-exam-submit", className="hw-btn", n_clicks=0),
    ]


def layout(a: str | None = None, **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role != "contractor" or user.contractor_company_id is None or not (a or "").isdigit():
        return forbidden()
    company_id = int(user.contractor_company_id)
    body: list[Any]
    with auth.db_pool().connection() as conn:
        apps = {r["id"]: r for r in entry.applications(conn, company_id=company_id)}
    app = apps.get(int(a or 0))
    if app is None:
        return forbidden()  # another company's application: as if it did not exist
    if app["status"] == "training":
        try:
            body = _paper(app["id"], company_id)
        except HazwatchError as exc:
            body = [html.Div(str(exc), className="hw-error", id="cx-exam-error")]
    elif app["status"] == "returned":
        body = [
            html.P(i18n.t("cx.exam.returned"), id="cx-exam-returned"),
            html.Button(
                i18n.t("cx.exam.retake"), id="cx-exam-retake", className="hw-btn", n_clicks=0
            ),
        ]
    else:
        body = [html.P(i18n.t(f"cx.status.{app['status']}"), id="cx-exam-state")]
    return html.Div(
        [
            html.H1(i18n.t("cx.exam.title"), id="page-title"),
            html.P(i18n.t("cx.exam.for", name=app["name"], id=app["id"])),
            dcc.Store(id="cx-exam-app", data=app["id"]),
            html.Div(body, id="cx-exam-body"),
            html.Div(id="cx-exam-result", role="alert"),
        ],
        className="cx-page",
    )


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "contractors_exam",
        61,
        layout,
        title=lambda: i18n.t("cx.exam.title"),
        nav=False,
    )

    @app.callback(
        Output("cx-exam-result", "children"),
        Output("cx-exam-body", "children", allow_duplicate=True),
        Input("cx-exam-submit", "n_clicks"),
        State("cx-exam-attempt", "data"),
        State({"type": "cx-q", "qid": ALL}, "value"),
        State({"type": "cx-q", "qid": ALL}, "id"),
        prevent_initial_call=True,
    )
    def hand_in(_n: int, attempt: int, values: list[Any], ids: list[dict[str, Any]]) -> Any:
        _user, actor, company_id = contractor()
        answers = {
            str(i["qid"]): "".join(sorted(v)) if isinstance(v, list) else (v or "")
            for i, v in zip(ids, values, strict=True)
        }
        try:
            with auth.db_pool().connection() as conn:
                out = entry.finish_exam(conn, actor, int(attempt), answers, company_id=company_id)
        except (HazwatchError, ValueError, TypeError) as exc:
            return html.Div(
                i18n.t("cx.refused", error=str(exc)), className="hw-error"
            ), dash.no_update
        key = "cx.exam.passed" if out.passed else "cx.exam.failed"
        msg = html.Div(
            i18n.t(key, score=out.score, max=out.max_score, mark=out.pass_mark),
            className="hw-ok" if out.passed else "hw-error",
            id="cx-exam-outcome",
            **{"data-status": out.status},
        )
        return msg, html.Div()

    @app.callback(
        Output("cx-exam-body", "children", allow_duplicate=True),
        Input("cx-exam-retake", "n_clicks"),
        State("cx-exam-app", "data"),
        prevent_initial_call=True,
    )
    def retake(_n: int, application_id: int) -> Any:
        _user, actor, company_id = contractor()
        try:
            with auth.db_pool().connection() as conn:
                entry.retake(conn, actor, int(application_id), company_id=company_id)
            return _paper(int(application_id), company_id)
        except HazwatchError as exc:
            return html.Div(i18n.t("cx.refused", error=str(exc)), className="hw-error")
