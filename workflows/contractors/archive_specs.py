"""The enterprise-side contractor archive (C1-C7, C10) as register-grid screens: one declarative
``RegisterSpec`` per register, added to ``dashboards.register_specs.SPECS`` on import so the
shared grid (search, filters, paging, CSV/XLSX export and import, audited cell edits) serves
them; and the import of people with their ID-card numbers, which the generic grid cannot do
(a person and an employment in one row, the number sealed by ``pii.Vault``).

    import workflows.contractors.archive_specs as cs      # registers the specs
    cs.ARCHIVE_KEYS          # the archive screens, in picker order
    value, error = parse_cell(cs.SPECS["contractor_people_import"].column("id_number"), text)
    result = cs.import_people(conn, user, table, home=settings.home, valid_only=False)

Contractor accounts see only the specs with a ``company_expr`` (personnel, equipment,
certificates: C8) and there only their own company's rows (``Scope.company_condition`` in
every query); enterprise-only registers leave ``company_expr`` unset, so a contractor gets no
row of them whatever screen key it sends. SQL here is code, never input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from dashboards import i18n
from dashboards.i18n import DISPLAY_TZ
from dashboards.register_specs import (
    COMPANY_CATEGORIES,
    REFS,
    SPECS,
    Column,
    Ref,
    RegisterSpec,
    UserLike,
    parse_cell,
)
from hazwatch import registers
from hazwatch.registers import Actor, RegisterError
from workflows.contractors import archive
from workflows.contractors.archive import ContractorError, PersonInput
from workflows.contractors.documents import PERSON_TYPES
from workflows.contractors.exams import LETTERS
from workflows.contractors.pii import id_card_error, normalise

_PERSON_COMPANY = (
    "JOIN LATERAL (SELECT e.company_id FROM contractor.employment e WHERE e.person_id = {p}"
    " ORDER BY e.status, e.id LIMIT 1) {alias} ON TRUE"
)

REFS.update(
    {
        "contractor_company": Ref(
            "contractor.company x", "x.name", ("x.name", "x.credit_code"), "x.enterprise_id"
        ),
        "contractor_project": Ref(
            "contractor.project x", "x.code", ("x.code", "x.name"), "x.enterprise_id"
        ),
        # A person belongs to no enterprise; the company of its (active, else first)
        # employment ties the lookup to the user's scope, as archive.owner_company does.
        "contractor_person": Ref(
            "contractor.person x "
            + _PERSON_COMPANY.format(p="x.id", alias="xe")
            + " JOIN contractor.company xc ON xc.id = xe.company_id",
            "x.person_code",
            ("x.person_code",),
            "xc.enterprise_id",
        ),
        "contractor_course": Ref(
            "contractor.course x", "x.code", ("x.code", "x.name"), "x.enterprise_id"
        ),
    }
)

_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_ANSWER = re.compile(r"^([A-H]{1,8}|[TF])$")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
EQUIPMENT_KINDS: Final = ("machinery", "tool", "part", "ppe", "inspection_device", "material")
INCIDENT_LEVELS: Final = (
    "near_miss", "minor", "ordinary", "serious", "major", "especially_major",
)  # fmt: skip
QTYPES: Final = ("single", "multiple", "judge")
TRAINING_LEVELS: Final = ("plant", "workshop", "team")
#: What the screens show for a moment (China Standard Time), also how it is typed.
SHOWN_AT = "to_char(t.occurred_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')"


# -- cell checks (pure) -----------------------------------------------------------------------


def check_phone(text: str) -> tuple[str, str | None]:
    return text, None if _PHONE.match(text) else i18n.t("reg.err.phone")


def check_id_number(text: str) -> tuple[str, str | None]:
    """A typed ID-card number, normalised (spaces out, capital X), or why it is not one."""
    number = normalise(text)
    problem = id_card_error(number)
    return number, None if problem is None else i18n.t("cxa.err.id", why=problem)


def check_moment(text: str) -> tuple[datetime | None, str | None]:
    """``2026-11-22 08:30`` (China Standard Time unless an offset is given) → aware datetime."""
    clean = text.strip().replace("/", "-")
    for fmt in _DATETIME_FORMATS:
        try:
            moment = datetime.strptime(clean, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=DISPLAY_TZ), None
    try:
        moment = datetime.fromisoformat(clean)
    except ValueError:
        return None, i18n.t("cxa.err.moment", value=text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TZ)), None


def check_options(text: str) -> tuple[list[str], str | None]:
    """Options of a question as typed in one cell: ``佩戴安全帽 | 吸烟 | 打电话``."""
    parts = [p.strip() for p in re.split(r"\s*[|｜\n]\s*", text) if p.strip()]
    if len(parts) > len(LETTERS):
        return parts, i18n.t("cxa.err.options", n=len(LETTERS))
    return parts, None


def check_answer(text: str) -> tuple[str, str | None]:
    """``A``, ``AC`` (letters sorted), or ``T``/``F`` (对/错 accepted)."""
    clean = re.sub(r"[\s,，、]", "", text).upper()
    clean = {"对": "T", "正确": "T", "√": "T", "错": "F", "错误": "F", "×": "F"}.get(clean, clean)
    if clean not in ("T", "F"):
        clean = "".join(sorted(set(clean)))
    return clean, None if _ANSWER.match(clean) else i18n.t("cxa.err.answer", value=text)


def check_pass_mark(text: str) -> tuple[float | None, str | None]:
    try:
        value = float(text.rstrip("%").strip())
    except ValueError:
        return None, i18n.t("reg.err.float", value=text)
    return value, None if 0 < value <= 100 else i18n.t("cxa.err.pass_mark")


# -- the screens ------------------------------------------------------------------------------


def _ent(expr: str, readonly: bool = False) -> Column:
    """The host enterprise, shown and used to look up the other references of a new row."""
    return Column("enterprise_id", "ref", required=not readonly, ref="enterprise", virtual=True,
                  expr=expr, readonly=readonly, width=200)  # fmt: skip


def _company(readonly: bool = False) -> Column:
    return Column("company_id", "ref", required=True, ref="contractor_company", width=200,
                  readonly=readonly)  # fmt: skip


def _attachments(entity: str, company: str) -> Column:
    """How many scans or photos the row has (C1-C6 attachments)."""
    row = "t.person_id" if entity == "person" else "t.id"
    # Every name comes from this module's declarations, never from input.
    expr = (
        "(SELECT count(*) FROM contractor.attachment a"  # noqa: S608
        f" WHERE a.entity = '{entity}' AND a.entity_id = {row} AND a.company_id = {company})"
    )
    return Column("attachments", "int", virtual=True, readonly=True, width=90, expr=expr)


_COMPANY_JOIN = " JOIN contractor.company c ON c.id = t.company_id"

_ARCHIVE: tuple[RegisterSpec, ...] = (
    RegisterSpec(
        "contractor_qualification", "contractor_qualification", "contractor",
        "contractor.qualification t" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id"),
            _company(),
            Column("kind", required=True, width=180),
            Column("number"),
            Column("issuer"),
            Column("level"),
            Column("valid_from", "date"),
            Column("expires_on", "date"),
            _attachments("qualification", "t.company_id"),
        ),
        key_columns=("company_id", "kind", "number"), order_by="c.name, t.kind",
        enterprise_expr="c.enterprise_id", technical=False,
    ),
    RegisterSpec(
        "contractor_project", "contractor_project", "contractor", "contractor.project t",
        (
            Column("enterprise_id", "ref", required=True, ref="enterprise", width=200),
            _company(),
            Column("code", required=True),
            Column("name", required=True, width=180),
            Column("scale"),
            Column("content", width=200),
            Column("filing_authority"),
            Column("status", "choice", required=True, choices=(
                "planned", "in_progress", "suspended", "completed", "accepted")),
            Column("manager"),
            Column("phase", "choice", required=True, choices=(
                "selection", "execution", "acceptance")),
            Column("starts_on", "date"),
            Column("ends_on", "date"),
            Column("acceptance_evaluation", width=200),
            Column("contract_no"),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
        defaults={"status": "planned", "phase": "selection"}, technical=False,
    ),
    RegisterSpec(
        "contractor_personnel", "contractor_employment", "contractor",
        "contractor.employment t JOIN contractor.person p ON p.id = t.person_id" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id", readonly=True),
            _company(readonly=True),
            Column("person_code", virtual=True, readonly=True, expr="p.person_code"),
            Column("person_name", virtual=True, readonly=True, expr="p.name", width=110),
            # Only the mask is ever read here: the grid, the search and every export.
            Column("id_masked", virtual=True, readonly=True, expr="p.id_masked", width=190),
            Column("person_type", "choice", required=True, choices=PERSON_TYPES,
                   contractor_edit=True),
            Column("job", contractor_edit=True),
            Column("phone", check=check_phone, contractor_edit=True),
            Column("emergency_contact", contractor_edit=True),
            Column("labour_contract_no", contractor_edit=True),
            Column("labour_contract_until", "date", contractor_edit=True),
            Column("insurance_no", contractor_edit=True),
            Column("insurance_until", "date", contractor_edit=True),
            Column("medical_check_on", "date", contractor_edit=True),
            Column("medical_result", contractor_edit=True),
            Column("permit_from", "date", contractor_edit=True),
            Column("permit_until", "date", contractor_edit=True),
            Column("status", "choice", choices=("active", "exited"), readonly=True),
            Column("joined_on", "date", readonly=True),
            Column("left_on", "date", readonly=True),
            _attachments("person", "t.company_id"),
        ),
        key_columns=("company_id", "person_code"), order_by="c.name, p.name",
        enterprise_expr="c.enterprise_id", company_expr="t.company_id", technical=False,
    ),
    RegisterSpec(
        "contractor_certificate", "contractor_certificate", "contractor",
        "contractor.certificate t JOIN contractor.person p ON p.id = t.person_id "
        + _PERSON_COMPANY.format(p="t.person_id", alias="e")
        + " JOIN contractor.company c ON c.id = e.company_id",
        (
            _ent("c.enterprise_id", readonly=True),
            Column("company_id", "ref", ref="contractor_company", virtual=True, readonly=True,
                   expr="e.company_id", width=200),
            Column("person_id", "ref", required=True, ref="contractor_person"),
            Column("person_name", virtual=True, readonly=True, expr="p.name", width=110),
            Column("kind", required=True, width=180, contractor_edit=True),
            Column("number", contractor_edit=True),
            Column("issuer", contractor_edit=True),
            Column("expires_on", "date", contractor_edit=True),
            _attachments("certificate", "e.company_id"),
        ),
        key_columns=("person_id", "kind"), order_by="c.name, p.name, t.kind",
        enterprise_expr="c.enterprise_id", company_expr="e.company_id", technical=False,
    ),
    RegisterSpec(
        "contractor_equipment", "contractor_equipment", "contractor",
        "contractor.equipment t" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id"),
            _company(),
            Column("kind", "choice", required=True, choices=EQUIPMENT_KINDS,
                   contractor_edit=True),
            Column("name", required=True, width=180, contractor_edit=True),
            Column("model", contractor_edit=True),
            Column("serial_no", contractor_edit=True),
            Column("quantity", "float", contractor_edit=True),
            Column("unit", contractor_edit=True, width=80),
            Column("inspection_report", contractor_edit=True),
            Column("inspected_on", "date", contractor_edit=True),
            Column("inspection_due", "date", contractor_edit=True),
            Column("status", "choice", required=True, choices=("in_use", "withdrawn"),
                   contractor_edit=True),
        ),
        key_columns=("company_id", "kind", "name", "serial_no"), order_by="c.name, t.name",
        enterprise_expr="c.enterprise_id", company_expr="t.company_id",
        defaults={"kind": "tool", "status": "in_use"}, technical=False,
    ),
    RegisterSpec(
        "contractor_violation", "contractor_violation", "contractor",
        "contractor.violation t" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id"),
            _company(),
            Column("project_id", "ref", ref="contractor_project"),
            Column("person_id", "ref", ref="contractor_person"),
            Column("offender"),
            Column("occurred_at", required=True, expr=SHOWN_AT, check=check_moment, width=160),
            Column("description", required=True, width=240),
            Column("outcome", width=200),
            Column("is_work_violation", "bool"),
        ),
        key_columns=("company_id", "occurred_at", "description"),
        order_by="t.occurred_at DESC", enterprise_expr="c.enterprise_id",
        defaults={"is_work_violation": False}, technical=False,
    ),
    RegisterSpec(
        "contractor_incident", "contractor_incident", "contractor",
        "contractor.incident t" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id"),
            _company(),
            Column("project_id", "ref", ref="contractor_project"),
            Column("kind", required=True),
            Column("level", "choice", required=True, choices=INCIDENT_LEVELS),
            Column("occurred_at", required=True, expr=SHOWN_AT, check=check_moment, width=160),
            Column("place"),
            Column("deaths", "int"),
            Column("injuries", "int"),
            Column("loss_yuan", "float"),
            Column("cause", width=200),
            Column("handling", width=200),
            Column("report", width=200),
            _attachments("incident", "t.company_id"),
        ),
        key_columns=("company_id", "occurred_at", "kind"), order_by="t.occurred_at DESC",
        enterprise_expr="c.enterprise_id", defaults={"deaths": 0, "injuries": 0},
        technical=False,
    ),
    RegisterSpec(
        "contractor_hazard", "contractor_hazard", "contractor",
        "contractor.hazard t" + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id"),
            _company(),
            Column("project_id", "ref", ref="contractor_project"),
            Column("description", required=True, width=240),
            Column("found_on", "date", required=True),
            Column("corrective_action", width=200),
            Column("deadline", "date"),
            Column("owner"),
            Column("progress", width=200),
            Column("status", "choice", required=True, choices=("open", "rectifying", "closed")),
            Column("closed_on", "date"),
        ),
        key_columns=("company_id", "found_on", "description"),
        order_by="t.status, t.deadline NULLS LAST", enterprise_expr="c.enterprise_id",
        defaults={"status": "open"}, technical=False,
    ),
    RegisterSpec(
        "contractor_qualification_rule", "contractor_qualification_rule", "contractor",
        "contractor.qualification_rule t",
        (
            Column("enterprise_id", "ref", ref="enterprise", width=200),
            Column("company_category", "choice", required=True, choices=COMPANY_CATEGORIES),
            Column("person_type", "choice", required=True, choices=PERSON_TYPES),
            Column("certificate_kind", required=True, width=200),
        ),
        key_columns=("enterprise_id", "company_category", "person_type", "certificate_kind"),
        order_by="t.company_category, t.person_type, t.certificate_kind", technical=False,
    ),
)  # fmt: skip

_TRAINING: tuple[RegisterSpec, ...] = (
    RegisterSpec(
        "contractor_course", "contractor_course", "contractor", "contractor.course t",
        (
            Column("enterprise_id", "ref", required=True, ref="enterprise", width=200),
            Column("code", required=True),
            Column("name", required=True, width=180),
            Column("content", width=220),
            Column("hours", "float"),
            # Typed as text so the percentage check applies (float cells skip checks).
            Column("pass_mark", required=True, check=check_pass_mark,
                   expr="t.pass_mark::float8"),
            Column("duration_min", "int", required=True),
            Column("is_entry", "bool"),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
        defaults={"pass_mark": 80, "duration_min": 60, "is_entry": False}, technical=False,
    ),
    RegisterSpec(
        "contractor_exam_rule", "contractor_exam_rule", "contractor",
        "contractor.exam_rule t JOIN contractor.course k ON k.id = t.course_id",
        (
            _ent("k.enterprise_id"),
            Column("course_id", "ref", required=True, ref="contractor_course"),
            Column("bank", required=True),
            Column("qtype", "choice", required=True, choices=QTYPES),
            Column("count", "int", required=True),
            Column("points", "float", required=True),
        ),
        key_columns=("enterprise_id", "course_id", "bank", "qtype"),
        order_by="k.code, t.bank, t.qtype", enterprise_expr="k.enterprise_id", technical=False,
    ),
    RegisterSpec(
        "contractor_question", "contractor_question", "contractor", "contractor.question t",
        (
            Column("enterprise_id", "ref", required=True, ref="enterprise", width=200),
            Column("bank", required=True),
            Column("qtype", "choice", required=True, choices=QTYPES),
            Column("stem", required=True, width=320),
            Column("options", expr="array_to_string(t.options, ' | ')", check=check_options,
                   width=260),
            Column("answer", required=True, check=check_answer, width=80),
        ),
        key_columns=("enterprise_id", "bank", "stem"), order_by="t.bank, t.qtype, t.id",
        defaults={"qtype": "single"}, technical=False,
    ),
    RegisterSpec(
        "contractor_training_record", "contractor_training_record", "contractor",
        "contractor.training_record t JOIN contractor.person p ON p.id = t.person_id"
        + _COMPANY_JOIN,
        (
            _ent("c.enterprise_id", readonly=True),
            _company(),
            Column("person_id", "ref", required=True, ref="contractor_person"),
            Column("person_name", virtual=True, readonly=True, expr="p.name", width=110),
            Column("level", "choice", required=True, choices=TRAINING_LEVELS),
            Column("course_name", required=True, width=180),
            Column("trained_on", "date", required=True),
            Column("hours", "float"),
            Column("score", "float"),
            Column("trainer"),
            Column("source", readonly=True),
        ),
        key_columns=("person_id", "level", "course_name", "trained_on"),
        order_by="t.trained_on DESC, p.name", enterprise_expr="c.enterprise_id",
        technical=False,
    ),
)  # fmt: skip

#: Parsing spec of the people import (not a screen): one row = a person and its employment.
PEOPLE_IMPORT = RegisterSpec(
    "contractor_people_import", "contractor_employment", "contractor",
    "contractor.employment t" + _COMPANY_JOIN,
    (
        Column("company_id", "ref", required=True, ref="contractor_company"),
        Column("person_name", required=True),
        Column("id_number", required=True, check=check_id_number),
        Column("person_type", "choice", required=True, choices=PERSON_TYPES),
        Column("phone", check=check_phone),
        Column("job"),
        Column("insurance_no"),
        Column("insurance_until", "date"),
        Column("medical_check_on", "date"),
        Column("labour_contract_no"),
        Column("permit_from", "date"),
        Column("permit_until", "date"),
    ),
    key_columns=("id_number",), order_by="t.id", enterprise_expr="c.enterprise_id",
    defaults={"person_type": "worker"}, technical=False,
)  # fmt: skip

ARCHIVE_KEYS: Final = tuple(s.key for s in _ARCHIVE)
TRAINING_KEYS: Final = tuple(s.key for s in _TRAINING)
SPECS.update({s.key: s for s in (*_ARCHIVE, *_TRAINING)})


def visible(user: UserLike, keys: Sequence[str]) -> list[RegisterSpec]:
    """The screens of ``keys`` that ``user`` may open (contractors: their company's kinds)."""
    from dashboards.register_specs import can_view

    return [SPECS[k] for k in keys if can_view(user, SPECS[k])]


# -- importing people with their ID-card numbers ---------------------------------------------


@dataclass
class PeopleImport:
    added: int = 0
    updated: int = 0
    #: ``(row in the file, column header, message)``, as the grid's import report.
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    written: bool = False


class _Abort(Exception):
    pass


def _row_values(
    conn: psycopg.Connection, user: UserLike, cells: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    from dashboards.register_data import resolve_ref

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    spec = PEOPLE_IMPORT
    for col in spec.columns:
        raw = cells.get(col.name) or spec.defaults.get(col.name, "")
        value, error = parse_cell(col, raw)
        if error is None and col.kind == "ref" and value is not None:
            value, error = resolve_ref(conn, user.scope, col, str(value), None)
        if error is None and col.name == "company_id" and value is not None:
            cond, params = user.scope.company_condition("c.id")
            stmt = sql.SQL("SELECT 1 FROM contractor.company c WHERE c.id = %s AND {}")
            if conn.execute(stmt.format(cond), [value, *params]).fetchone() is None:
                error = i18n.t("reg.err.scope")
        if error is not None:
            errors[col.name] = error
        else:
            values[col.name] = value
    return values, errors


def import_people(
    conn: psycopg.Connection,
    user: UserLike,
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    home: Path,
    valid_only: bool = False,
    file_errors: Sequence[tuple[int, str, str]] = (),
) -> PeopleImport:
    """Register the people of an import file (``registers_io.read_table(..., PEOPLE_IMPORT)``).

    A known ID-card number at the same company updates that employment; a new one registers
    the person (one person code across companies, C13). All or nothing unless
    ``valid_only``; every bad row is reported with its number, column and why.
    """
    from dashboards.register_specs import can_add_delete

    if not can_add_delete(user, SPECS["contractor_personnel"]):
        raise ContractorError(i18n.t("reg.err.forbidden"))
    result = PeopleImport(errors=list(file_errors))
    bad_rows = {r for r, _, _ in file_errors}
    actor = Actor(user.id, user.name)  # type: ignore[attr-defined]

    def header(name: str) -> str:
        return PEOPLE_IMPORT.column(name).header() if name else ""

    try:
        with registers.acting(conn, actor, "contractor people import"):
            for rownum, cells in rows:
                if rownum in bad_rows:
                    continue
                values, errors = _row_values(conn, user, cells)
                if errors:
                    result.errors += [(rownum, header(k), v) for k, v in errors.items()]
                    continue
                try:
                    with conn.transaction():
                        _write_person(conn, actor, values, home, result)
                except (ContractorError, RegisterError, psycopg.Error) as exc:
                    result.errors.append((rownum, "", str(exc)))
            if result.errors and not valid_only:
                raise _Abort
    except _Abort:
        result.added = result.updated = 0
        return result
    result.written = result.added + result.updated > 0
    return result


_EMPLOYMENT_FIELDS: Final = (
    "person_type", "phone", "job", "insurance_no", "insurance_until", "medical_check_on",
    "labour_contract_no", "permit_from", "permit_until",
)  # fmt: skip


def _write_person(
    conn: psycopg.Connection,
    actor: Actor,
    values: dict[str, Any],
    home: Path,
    result: PeopleImport,
) -> None:
    from workflows.contractors.pii import Vault

    company_id = int(values["company_id"])
    digest = Vault.at(home).digest(values["id_number"])
    existing = conn.execute(
        "SELECT e.id FROM contractor.employment e JOIN contractor.person p ON p.id = e.person_id"
        " WHERE p.id_hash = %s AND e.company_id = %s AND e.status = 'active'",
        (digest, company_id),
    ).fetchone()
    if existing is not None:
        changes = {k: values.get(k) for k in _EMPLOYMENT_FIELDS}
        registers.update(
            conn, actor, "contractor_employment", int(existing[0]), changes,
            reason="contractor people import",
        )  # fmt: skip
        result.updated += 1
        return
    person = PersonInput(
        name=values["person_name"],
        id_number=values["id_number"],
        **{k: values.get(k) for k in _EMPLOYMENT_FIELDS},
    )
    archive.register_person(conn, actor, company_id, person, home=home)
    result.added += 1


# -- strings ----------------------------------------------------------------------------------


def _s(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


_COLUMNS: Final = {
    "company_id": ("承包商单位", "Contractor company"),
    "number": ("编号", "Number"),
    "issuer": ("发证机关", "Issued by"),
    "valid_from": ("有效期起", "Valid from"),
    "expires_on": ("有效期至", "Expires on"),
    "attachments": ("附件数", "Attachments"),
    "scale": ("项目规模", "Scale"),
    "content": ("内容", "Content"),
    "filing_authority": ("备案机关", "Filing authority"),
    "manager": ("项目负责人", "Manager"),
    "phase": ("项目阶段", "Phase"),
    "starts_on": ("开始日期", "Starts on"),
    "ends_on": ("结束日期", "Ends on"),
    "acceptance_evaluation": ("验收评价", "Acceptance evaluation"),
    "contract_no": ("合同协议编号", "Contract number"),
    "person_code": ("人员编码", "Person code"),
    "person_name": ("姓名", "Name"),
    "id_masked": ("身份证号（脱敏）", "ID-card number (masked)"),
    "id_number": ("身份证号", "ID-card number"),
    "person_type": ("人员类型", "Person type"),
    "job": ("岗位/工种", "Job"),
    "emergency_contact": ("紧急联系人", "Emergency contact"),
    "labour_contract_no": ("劳动合同编号", "Labour contract"),
    "labour_contract_until": ("劳动合同有效期至", "Contract until"),
    "insurance_no": ("保险单号", "Insurance number"),
    "insurance_until": ("保险有效期至", "Insured until"),
    "medical_check_on": ("体检日期", "Medical check on"),
    "medical_result": ("体检结论", "Medical result"),
    "permit_from": ("入厂许可起", "Entry permit from"),
    "permit_until": ("入厂许可止", "Entry permit until"),
    "joined_on": ("入职日期", "Joined on"),
    "left_on": ("离职日期", "Left on"),
    "person_id": ("人员", "Person"),
    "serial_no": ("出厂编号", "Serial number"),
    "quantity": ("数量", "Quantity"),
    "unit": ("单位", "Unit"),
    "inspection_report": ("检验检测报告", "Inspection report"),
    "inspected_on": ("检验日期", "Inspected on"),
    "inspection_due": ("检验有效期至", "Inspection due"),
    "project_id": ("项目", "Project"),
    "offender": ("违章人", "Offender"),
    "occurred_at": ("发生时间", "Occurred at"),
    "outcome": ("处理结果", "Outcome"),
    "is_work_violation": ("作业违章", "Work-permit violation"),
    "place": ("地点", "Place"),
    "deaths": ("死亡人数", "Deaths"),
    "injuries": ("受伤人数", "Injuries"),
    "loss_yuan": ("财产损失（元）", "Loss (yuan)"),
    "cause": ("原因分析", "Cause"),
    "handling": ("处理过程", "Handling"),
    "report": ("评估报告", "Assessment report"),
    "found_on": ("排查日期", "Found on"),
    "corrective_action": ("整改措施", "Corrective action"),
    "deadline": ("整改期限", "Deadline"),
    "owner": ("责任人", "Owner"),
    "progress": ("整改情况", "Progress"),
    "closed_on": ("销号日期", "Closed on"),
    "company_category": ("承包商类别", "Contractor category"),
    "certificate_kind": ("所需证书", "Certificate required"),
    "hours": ("学时", "Hours"),
    "pass_mark": ("及格线（%）", "Pass mark (%)"),
    "duration_min": ("考试时长（分钟）", "Exam minutes"),
    "is_entry": ("入厂课程", "Entry course"),
    "course_id": ("课程", "Course"),
    "bank": ("题库", "Question bank"),
    "qtype": ("题型", "Question type"),
    "count": ("题数", "Questions"),
    "points": ("每题分值", "Points each"),
    "stem": ("题目", "Question"),
    "options": ("选项（| 分隔）", "Options (| separated)"),
    "answer": ("答案", "Answer"),
    "course_name": ("课程", "Course"),
    "trained_on": ("培训日期", "Trained on"),
    "score": ("成绩", "Score"),
    "trainer": ("培训人", "Trainer"),
}
_CHOICES: Final = {
    "manager": ("项目负责人", "manager"),
    "safety_officer": ("安全员", "safety officer"),
    "technician": ("技术人员", "technician"),
    "special_worker": ("特种作业人员", "special worker"),
    "worker": ("作业人员", "worker"),
    "driver": ("驾驶员", "driver"),
    "machinery": ("施工机械", "machinery"),
    "tool": ("工器具", "tool"),
    "part": ("配件", "part"),
    "ppe": ("个人防护装备", "PPE"),
    "inspection_device": ("检测设备", "inspection device"),
    "material": ("物料", "material"),
    "in_use": ("在用", "in use"),
    "withdrawn": ("已停用", "withdrawn"),
    "planned": ("计划", "planned"),
    "in_progress": ("施工中", "in progress"),
    "completed": ("已完工", "completed"),
    "accepted": ("已验收", "accepted"),
    "selection": ("选择阶段", "selection"),
    "execution": ("施工作业阶段", "execution"),
    "acceptance": ("验收阶段", "acceptance"),
    "near_miss": ("未遂事件", "near miss"),
    "minor": ("轻微事故", "minor"),
    "ordinary": ("一般事故", "ordinary"),
    "serious": ("较大事故", "serious"),
    "major": ("重大事故", "major"),
    "especially_major": ("特别重大事故", "especially major"),
    "open": ("待整改", "open"),
    "rectifying": ("整改中", "rectifying"),
    "closed": ("已销号", "closed"),
    "single": ("单选题", "single choice"),
    "multiple": ("多选题", "multiple choice"),
    "judge": ("判断题", "true/false"),
    "plant": ("厂级", "plant level"),
    "workshop": ("车间级", "workshop level"),
    "team": ("班组级", "team level"),
}
STRINGS: Final = {
    "reg.name.contractor_qualification": _s("承包商资质", "Qualifications"),
    "reg.name.contractor_project": _s("承包商项目", "Projects"),
    "reg.name.contractor_personnel": _s("承包商人员", "Personnel"),
    "reg.name.contractor_certificate": _s("人员证书", "Certificates"),
    "reg.name.contractor_equipment": _s("工器具与设备", "Tools and equipment"),
    "reg.name.contractor_violation": _s("承包商违章", "Violations"),
    "reg.name.contractor_incident": _s("事故事件", "Incidents"),
    "reg.name.contractor_hazard": _s("问题隐患", "Hazards"),
    "reg.name.contractor_qualification_rule": _s("人员资质条件", "Qualification rules"),
    "reg.name.contractor_course": _s("培训课程", "Courses"),
    "reg.name.contractor_exam_rule": _s("组卷规则", "Exam rules"),
    "reg.name.contractor_question": _s("题库", "Question banks"),
    "reg.name.contractor_training_record": _s("三级教育记录", "Three-level training"),
    "reg.name.contractor_people_import": _s("人员导入", "People import"),
    "cxa.err.id": _s("身份证号无效：{why}", "invalid ID-card number: {why}"),
    "cxa.err.moment": _s(
        "“{value}”不是时间（YYYY-MM-DD HH:MM）", "{value!r} is not a time (YYYY-MM-DD HH:MM)"
    ),
    "cxa.err.options": _s("最多 {n} 个选项", "at most {n} options"),
    "cxa.err.answer": _s(
        "答案“{value}”应为选项字母（A–H）或 对/错", "answer {value!r}: option letters A-H, or T/F"
    ),
    "cxa.err.pass_mark": _s("及格线应在 0–100 之间", "the pass mark is a percentage (0-100]"),
}
STRINGS.update({f"reg.col.{k}": _s(*v) for k, v in _COLUMNS.items()})
# Labels other registers already define (status, level, …) stay theirs.
STRINGS.update(
    {
        f"reg.choice.{k}": _s(*v)
        for k, v in _CHOICES.items()
        if f"reg.choice.{k}" not in i18n.STRINGS
    }
)
i18n.register({k: v for k, v in STRINGS.items() if k not in i18n.STRINGS or k.startswith("cxa.")})
