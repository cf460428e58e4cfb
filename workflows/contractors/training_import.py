"""Excel imports of training material (C10): question banks, and three-level safety training
records (三级安全教育: plant 厂级, workshop 车间级, team 班组级). Every bad row is reported with
its row number and why; the good rows are imported (or none, with ``all_or_nothing``).

    report = import_questions(conn, actor, enterprise_id=3, data=xlsx_bytes)
    report = import_training(conn, actor, company_id=4, data=xlsx_bytes)
    report.imported, report.errors        # 12, [(5, "题型: ...")]

Question sheet columns (header row, Chinese or English): 题库 bank, 题型 type (单选/多选/判断
or single/multiple/judge), 题目 stem, 选项A..选项H (A..H), 答案 answer (letters, or 对/错,
T/F). Training sheet: 身份证号 id_number (or 人员编码 person_code), 级别 level, 课程 course,
日期 date, 学时 hours, 成绩 score, 培训人 trainer.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError, acting
from workflows.contractors.archive import ContractorError
from workflows.contractors.exams import LETTERS, Question, question_error

QTYPE_NAMES: Final = {
    "单选": "single", "单选题": "single", "多选": "multiple", "多选题": "multiple",
    "判断": "judge", "判断题": "judge", "single": "single", "multiple": "multiple",
    "judge": "judge",
}  # fmt: skip
LEVEL_NAMES: Final = {
    "厂级": "plant", "公司级": "plant", "车间级": "workshop", "部门级": "workshop",
    "班组级": "team", "plant": "plant", "workshop": "workshop", "team": "team",
}  # fmt: skip
HEADERS: Final = {
    "题库": "bank", "bank": "bank", "题型": "qtype", "type": "qtype", "题目": "stem",
    "stem": "stem", "答案": "answer", "answer": "answer", "身份证号": "id_number",
    "id_number": "id_number", "人员编码": "person_code", "person_code": "person_code",
    "级别": "level", "level": "level", "课程": "course", "course": "course", "日期": "date",
    "date": "date", "学时": "hours", "hours": "hours", "成绩": "score", "score": "score",
    "培训人": "trainer", "trainer": "trainer",
}  # fmt: skip
for _l in LETTERS:
    HEADERS[f"选项{_l}"] = f"opt_{_l}"
    HEADERS[_l] = f"opt_{_l}"


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _rows(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise ContractorError(f"not an Excel (.xlsx) workbook: {exc}") from None
    sheet = wb.worksheets[0]
    it = sheet.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        raise ContractorError("the sheet is empty (a header row is expected)")
    names = [HEADERS.get(str(h).strip()) if h is not None else None for h in header]
    for n, values in enumerate(it, start=2):
        if values is None or all(v in (None, "") for v in values):
            continue
        yield n, {k: v for k, v in zip(names, values, strict=False) if k is not None}
    wb.close()


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(_text(v).replace("/", "-")[:10])


def import_questions(
    conn: psycopg.Connection, actor: Actor, *, enterprise_id: int, data: bytes,
    all_or_nothing: bool = False,
) -> ImportReport:  # fmt: skip
    report = ImportReport()
    good: list[Question] = []
    for n, row in _rows(data):
        qtype = QTYPE_NAMES.get(_text(row.get("qtype")))
        answer = _text(row.get("answer")).upper().replace(",", "").replace("，", "")
        answer = {"对": "T", "正确": "T", "√": "T", "错": "F", "错误": "F", "×": "F"}.get(
            answer, answer
        )
        options = tuple(_text(row.get(f"opt_{c}")) for c in LETTERS)
        options = tuple(o for o in options if o)
        if qtype is None:
            report.errors.append((n, f"题型 type {_text(row.get('qtype'))!r}: 单选、多选 or 判断"))
            continue
        if not _text(row.get("bank")):
            report.errors.append((n, "题库 bank: required"))
            continue
        q = Question(0, _text(row.get("bank")), qtype, _text(row.get("stem")),
                     () if qtype == "judge" else options, "".join(sorted(answer)))  # fmt: skip
        problem = question_error(q)
        if problem is not None:
            report.errors.append((n, problem))
            continue
        good.append(q)
    if report.errors and all_or_nothing:
        return report
    with acting(conn, actor, "question bank import"):
        for q in good:
            conn.execute(
                """INSERT INTO contractor.question (enterprise_id, bank, qtype, stem, options,
                       answer) VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (enterprise_id, bank, stem) DO UPDATE SET qtype = EXCLUDED.qtype,
                       options = EXCLUDED.options, answer = EXCLUDED.answer""",
                (enterprise_id, q.bank, q.qtype, q.stem, list(q.options), q.answer),
            )
            report.imported += 1
    return report


def import_training(
    conn: psycopg.Connection, actor: Actor, *, company_id: int, data: bytes, home: Path,
    all_or_nothing: bool = False,
) -> ImportReport:  # fmt: skip
    """Training records of the company's people, matched by ID-card number or person code."""
    from workflows.contractors.pii import Vault

    vault = Vault.at(home)
    report = ImportReport()
    good: list[dict[str, Any]] = []
    for n, row in _rows(data):
        code, number = _text(row.get("person_code")), _text(row.get("id_number"))
        if number:
            found = conn.execute(
                "SELECT p.id FROM contractor.person p JOIN contractor.employment e"
                " ON e.person_id = p.id AND e.company_id = %s WHERE p.id_hash = %s",
                (company_id, vault.digest(number)),
            ).fetchone()
        else:
            found = conn.execute(
                "SELECT p.id FROM contractor.person p JOIN contractor.employment e"
                " ON e.person_id = p.id AND e.company_id = %s WHERE p.person_code = %s",
                (company_id, code),
            ).fetchone()
        if found is None:
            report.errors.append((n, "no person of this company with that ID number / code"))
            continue
        level = LEVEL_NAMES.get(_text(row.get("level")))
        if level is None:
            given = _text(row.get("level"))
            report.errors.append((n, f"级别 level {given!r}: 厂级、车间级 or 班组级"))
            continue
        if not _text(row.get("course")):
            report.errors.append((n, "课程 course: required"))
            continue
        try:
            day = _date(row.get("date"))
            hours = float(row["hours"]) if _text(row.get("hours")) else None
            score = float(row["score"]) if _text(row.get("score")) else None
        except (TypeError, ValueError):
            report.errors.append((n, "日期 date must be YYYY-MM-DD; 学时/成绩 numbers"))
            continue
        if hours is not None and hours <= 0:
            report.errors.append((n, "学时 hours must be positive"))
            continue
        good.append({"person_id": found[0], "company_id": company_id, "level": level,
                     "course_name": _text(row.get("course")), "trained_on": day,
                     "hours": hours, "score": score, "trainer": _text(row.get("trainer")) or None,
                     "source": "import"})  # fmt: skip
    if report.errors and all_or_nothing:
        return report
    with acting(conn, actor, "training record import"):
        for values in good:
            try:
                with conn.transaction():
                    registers.insert(conn, actor, "contractor_training_record", values,
                                     reason="training record import")  # fmt: skip
                report.imported += 1
            except RegisterError:
                pass  # the same record imported before: nothing new
    return report
