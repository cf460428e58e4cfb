"""培训与考试 (C10): courses (pass mark, the entry course), exam rules (how a paper is drawn),
question banks (add and edit questions in the grid, or import an Excel sheet with a
row-by-row error report) and three-level training records (三级教育, imported per company).
``/contractors/training?r=contractor_question``. Enterprise staff only; writes are audited.
"""

from __future__ import annotations

import base64
from typing import Any

import dash
import psycopg
from dash import Input, Output, State, dcc, html
from psycopg import sql

from dashboards import auth, i18n, registers_io
from dashboards.layout import register_page
from dashboards.pages.contractors_archive import report_table, screen
from dashboards.register_specs import SPECS, can_add_delete
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from workflows.contractors import archive_specs, training_import
from workflows.contractors.exams import LETTERS

PATH = "/contractors/training"

i18n.register(
    {
        "nav.contractors_training": {"zh": "承包商培训考试", "en": "Contractor training"},
        "cxt.title": {"zh": "培训课程与题库", "en": "Courses and question banks"},
        "cxt.q.import": {
            "zh": "从 Excel 导入题库：拖放或点击选择 .xlsx",
            "en": "Import questions from Excel: drop or click an .xlsx file",
        },
        "cxt.q.enterprise": {"zh": "导入到企业", "en": "Into enterprise"},
        "cxt.t.import": {
            "zh": "导入三级教育记录：拖放或点击选择 .xlsx",
            "en": "Import three-level training records: drop or click an .xlsx file",
        },
        "cxt.t.company": {"zh": "承包商单位", "en": "Contractor company"},
        "cxt.template": {"zh": "下载导入模板", "en": "Download the template"},
        "cxt.all_or_nothing": {
            "zh": "有错误时不导入任何行",
            "en": "Import nothing when any row is bad",
        },
        "cxt.done": {
            "zh": "导入 {imported} 行，拒绝 {errors} 行。",
            "en": "{imported} rows imported, {errors} rows refused.",
        },
        "cxt.pick": {"zh": "请先选择", "en": "Choose first"},
        "cxt.course.help": {
            "zh": "及格线为试卷总分的百分比；每个企业只有一门入厂课程，入厂申请默认使用它。",
            "en": "The pass mark is a percentage of the paper's total; the one entry course of"
            " an enterprise is what entry applications use.",
        },
    }
)

#: The import sheets' headers, as ``training_import`` reads them.
QUESTION_HEADERS = ("题库", "题型", "题目", *(f"选项{c}" for c in LETTERS[:4]), "答案")
TRAINING_HEADERS = ("身份证号", "人员编码", "级别", "课程", "日期", "学时", "成绩", "培训人")


def _options(conn: psycopg.Connection, user: Any, companies: bool) -> list[dict[str, Any]]:
    """Enterprises (or contractor companies) of the user's scope, for the import target."""
    if companies:
        cond, params = user.scope.condition("c.enterprise_id")
        stmt = sql.SQL(
            "SELECT c.id, c.name FROM contractor.company c WHERE {} ORDER BY c.name LIMIT 500"
        ).format(cond)
    else:
        cond, params = user.scope.condition("e.id")
        stmt = sql.SQL(
            "SELECT e.id, e.name FROM registry.enterprise e WHERE {} ORDER BY e.name LIMIT 500"
        ).format(cond)
    return [{"label": name, "value": i} for i, name in conn.execute(stmt, params)]


def _import_panel(kind: str, label_key: str, target_key: str, options: list[Any]) -> html.Div:
    t = i18n.t
    default = options[0]["value"] if len(options) == 1 else None
    return html.Div(
        className="reg-import",
        id=f"cxt-{kind}-import",
        children=[
            html.Label(
                [
                    html.Span(t(target_key)),
                    dcc.Dropdown(options, default, id=f"cxt-{kind}-target", clearable=False),
                ],
                className="cx-field",
            ),
            dcc.Checklist(
                [{"label": t("cxt.all_or_nothing"), "value": "all"}],
                [],
                id=f"cxt-{kind}-mode",
            ),
            dcc.Upload(
                id=f"cxt-{kind}-upload",
                children=html.Div(t(label_key)),
                className="reg-upload",
                accept=".xlsx",
                multiple=False,
            ),
            html.Button(t("cxt.template"), id=f"cxt-{kind}-template", className="hw-btn"),
            dcc.Download(id=f"cxt-{kind}-template-file"),
            html.Div(id=f"cxt-{kind}-result", role="status"),
            html.Div(id=f"cxt-{kind}-report"),
        ],
    )


def layout(r: str | None = None, q: str | None = None, **_query: Any) -> Any:
    """``/contractors/training?r=<screen>&q=<search>``."""
    page = screen(archive_specs.TRAINING_KEYS, PATH, "cxt.title", r, q)
    user = auth.current_user()
    if user is None or getattr(page, "id", None) == "hw-forbidden" or not page.children:
        return page
    key = r if r in archive_specs.TRAINING_KEYS else archive_specs.TRAINING_KEYS[0]
    main = page.children[1].children
    if key == "contractor_course":
        main.insert(1, html.P(i18n.t("cxt.course.help"), className="hw-muted"))
    if key == "contractor_question" and can_add_delete(user, SPECS[key]):
        with auth.db_pool().connection() as conn:
            options = _options(conn, user, companies=False)
        main.append(_import_panel("q", "cxt.q.import", "cxt.q.enterprise", options))
    if key == "contractor_training_record" and can_add_delete(user, SPECS[key]):
        with auth.db_pool().connection() as conn:
            options = _options(conn, user, companies=True)
        main.append(_import_panel("t", "cxt.t.import", "cxt.t.company", options))
    return page


def _answer(report: training_import.ImportReport, kind: str) -> tuple[Any, Any]:
    summary = i18n.t("cxt.done", imported=report.imported, errors=len(report.errors))
    errors = [(n, "", why) for n, why in report.errors]
    return (
        html.Span(summary, id=f"cxt-{kind}-summary"),
        report_table(errors, f"cxt-{kind}-report-table"),
    )


def _refused(kind: str, why: str) -> tuple[Any, Any, Any]:
    msg = html.Span(i18n.t("cx.refused", error=why), id=f"cxt-{kind}-summary", className="hw-error")
    return msg, "", None


def _in_scope(conn: psycopg.Connection, user: Any, kind: str, target: int) -> bool:
    if kind == "q":
        visible = user.scope.enterprise_ids(conn)
        return visible is None or target in visible
    return any(o["value"] == target for o in _options(conn, user, companies=True))


def _import(kind: str, contents: str | None, name: str | None, target: Any, mode: Any) -> Any:
    user = auth.current_user()
    key = "contractor_question" if kind == "q" else "contractor_training_record"
    if user is None or not contents or not name or not can_add_delete(user, SPECS[key]):
        raise dash.exceptions.PreventUpdate
    if target is None:
        return _refused(kind, i18n.t("cxt.pick"))
    try:
        data = base64.b64decode(contents.split(",", 1)[1])
        actor = Actor(user.id, user.name)
        strict = "all" in (mode or [])
        with auth.db_pool().connection() as conn:
            if not _in_scope(conn, user, kind, int(target)):
                return _refused(kind, i18n.t("reg.err.scope"))
            if kind == "q":
                report = training_import.import_questions(
                    conn, actor, enterprise_id=int(target), data=data, all_or_nothing=strict
                )
            else:
                report = training_import.import_training(
                    conn, actor, company_id=int(target), data=data, home=auth.app_home(),
                    all_or_nothing=strict,
                )  # fmt: skip
    except (HazwatchError, IndexError, ValueError) as exc:
        return _refused(kind, str(exc))
    summary, table = _answer(report, kind)
    return summary, table, None


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "contractors_training",
        62,
        layout,
        title="cxt.title",
        roles={"admin", "engineer", "operator"},
    )

    for kind, headers in (("q", QUESTION_HEADERS), ("t", TRAINING_HEADERS)):

        @app.callback(
            Output(f"cxt-{kind}-result", "children"),
            Output(f"cxt-{kind}-report", "children"),
            Output(f"cxt-{kind}-upload", "contents"),
            Input(f"cxt-{kind}-upload", "contents"),
            State(f"cxt-{kind}-upload", "filename"),
            State(f"cxt-{kind}-target", "value"),
            State(f"cxt-{kind}-mode", "value"),
            prevent_initial_call=True,
        )
        def imported(
            contents: str | None, name: str | None, target: Any, mode: Any, kind: str = kind
        ) -> Any:
            return _import(kind, contents, name, target, mode)

        @app.callback(
            Output(f"cxt-{kind}-template-file", "data"),
            Input(f"cxt-{kind}-template", "n_clicks"),
            prevent_initial_call=True,
        )
        def template(_n: int, kind: str = kind, headers: tuple[str, ...] = headers) -> Any:
            title = i18n.t("reg.name.contractor_question" if kind == "q" else
                           "reg.name.contractor_training_record")  # fmt: skip
            data = registers_io.write_xlsx(list(headers), [], title)
            return dcc.send_bytes(data, f"{'questions' if kind == 'q' else 'training'}.xlsx")
