"""The contractor archive (C1-C7): companies' qualifications, projects, people, certificates,
tools and equipment, violations, incidents, hazards, attachments. Every write goes through the
audited register writes; a contractor's writes are confined to its own company here, whatever
the screen sent.

    pid, eid = register_person(conn, actor, company_id, PersonInput(name="张三",
                               id_number="11010519491231002X", person_type="worker"),
                               home=settings.home)
    save_row(conn, actor, "contractor_equipment", {"kind": "tool", "name": "电焊机"},
             company_id=company_id)                     # insert; with row_id= an update
    people(conn, company_id=company_id, role="contractor")   # ID numbers masked
    attach(conn, actor, company_id, "person", pid, "身份证.jpg", data, home=settings.home)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import REGISTERS, Actor, Register, RegisterError, acting
from workflows import approval_files
from workflows.approval_flow import ApprovalError
from workflows.contractors.documents import PERSON_TYPES
from workflows.contractors.pii import PiiError, Vault, shown


class ContractorError(HazwatchError):
    """A refused contractor-management action, in words the user can act on."""


def _reg(table: str, *columns: str) -> Register:
    return Register("contractor", table, frozenset(columns))


#: The contractor registers, keyed ``contractor_<table>`` (table names repeat across schemas).
#: Added to ``hazwatch.registers.REGISTERS`` so the audited writes and the register grid know
#: them; names come from here, never from input.
CONTRACTOR_REGISTERS: Final[dict[str, Register]] = {
    "contractor_qualification": _reg(
        "qualification", "company_id", "kind", "number", "issuer", "level", "valid_from",
        "expires_on"),
    "contractor_project": _reg(
        "project", "enterprise_id", "company_id", "code", "name", "scale", "content",
        "filing_authority", "status", "manager", "phase", "starts_on", "ends_on",
        "acceptance_evaluation", "contract_no"),
    "contractor_person": _reg(
        "person", "person_code", "name", "id_hash", "id_cipher", "id_masked", "gender",
        "birth_date", "photo_sha256"),
    "contractor_employment": _reg(
        "employment", "company_id", "person_id", "person_type", "job", "phone",
        "emergency_contact", "labour_contract_no", "labour_contract_until", "insurance_no",
        "insurance_until", "medical_check_on", "medical_result", "permit_from", "permit_until",
        "status", "joined_on", "left_on"),
    "contractor_certificate": _reg(
        "certificate", "person_id", "kind", "number", "issuer", "expires_on"),
    "contractor_qualification_rule": _reg(
        "qualification_rule", "enterprise_id", "company_category", "person_type",
        "certificate_kind"),
    "contractor_equipment": _reg(
        "equipment", "company_id", "kind", "name", "model", "serial_no", "quantity", "unit",
        "inspection_report", "inspected_on", "inspection_due", "status"),
    "contractor_violation": _reg(
        "violation", "company_id", "project_id", "person_id", "offender", "occurred_at",
        "description", "outcome", "is_work_violation"),
    "contractor_incident": _reg(
        "incident", "company_id", "project_id", "kind", "level", "occurred_at", "place",
        "deaths", "injuries", "loss_yuan", "cause", "handling", "report"),
    "contractor_hazard": _reg(
        "hazard", "company_id", "project_id", "description", "found_on", "corrective_action",
        "deadline", "owner", "progress", "status", "closed_on"),
    "contractor_attachment": _reg(
        "attachment", "company_id", "entity", "entity_id", "file_name", "content_type",
        "size_bytes", "sha256", "uploaded_by"),
    "contractor_course": _reg(
        "course", "enterprise_id", "code", "name", "content", "hours", "pass_mark",
        "duration_min", "is_entry"),
    "contractor_question": _reg(
        "question", "enterprise_id", "bank", "qtype", "stem", "options", "answer"),
    "contractor_exam_rule": _reg("exam_rule", "course_id", "bank", "qtype", "count", "points"),
    "contractor_entry_application": _reg(
        "entry_application", "enterprise_id", "company_id", "project_id", "person_id", "batch",
        "valid_from", "valid_until", "places", "course_id", "status", "status_reason",
        "approval_id", "card_no", "flags", "created_by"),
    "contractor_training_record": _reg(
        "training_record", "person_id", "company_id", "level", "course_name", "trained_on",
        "hours", "score", "trainer", "source"),
    "contractor_access_system": _reg("access_system", "enterprise_id", "url", "token"),
    "contractor_attendance": _reg(
        "attendance", "person_id", "company_id", "day", "first_in", "last_out", "card_no",
        "source"),
    "contractor_blacklist": _reg(
        "blacklist", "company_id", "person_id", "reason", "since", "removed_at"),
}  # fmt: skip
REGISTERS.update(CONTRACTOR_REGISTERS)

#: Registers a contractor account may write for its own company (C8), with how a row is tied
#: to a company (SQL from code).
SELF_SERVICE: Final[dict[str, str]] = {
    "contractor_employment": "t.company_id",
    "contractor_equipment": "t.company_id",
    "contractor_qualification": "t.company_id",
    "contractor_certificate": (
        "(SELECT e.company_id FROM contractor.employment e WHERE e.person_id = t.person_id"
        " AND e.company_id = %(company)s)"
    ),
}


@dataclass(frozen=True)
class PersonInput:
    name: str
    id_number: str
    person_type: str
    phone: str | None = None
    job: str | None = None
    insurance_no: str | None = None
    insurance_until: date | None = None
    medical_check_on: date | None = None
    labour_contract_no: str | None = None
    permit_from: date | None = None
    permit_until: date | None = None


def company(conn: psycopg.Connection, company_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT id, enterprise_id, name, category, status FROM contractor.company WHERE id = %s",
        (company_id,),
    ).fetchone()
    if row is None:
        raise ContractorError(f"no contractor company #{company_id}")
    return dict(zip(("id", "enterprise_id", "name", "category", "status"), row, strict=True))


def register_person(
    conn: psycopg.Connection,
    actor: Actor,
    company_id: int,
    person: PersonInput,
    *,
    home: Path,
) -> tuple[int, int]:
    """Record a person at a company; ``(person id, employment id)``.

    The same ID-card number is the same person (C13): a second company gets a new employment
    of the existing person, with the same person code.
    """
    name = person.name.strip()
    if not name:
        raise ContractorError("name: required")
    if person.person_type not in PERSON_TYPES:
        raise ContractorError(f"person type {person.person_type!r}: one of {PERSON_TYPES}")
    vault = Vault.at(home)
    try:
        cipher, digest = vault.seal(person.id_number)
    except PiiError as exc:
        raise ContractorError(str(exc)) from None
    number = vault.open(cipher)
    from workflows.contractors.pii import birth_date, gender, mask

    company(conn, company_id)
    with acting(conn, actor, "contractor personnel"):
        row = conn.execute(
            "SELECT id FROM contractor.person WHERE id_hash = %s FOR UPDATE", (digest,)
        ).fetchone()
        if row is None:
            code = conn.execute(
                "SELECT 'P' || lpad(nextval('contractor.person_code_seq')::text, 8, '0')"
            ).fetchone()
            assert code is not None
            person_id = registers.insert(
                conn,
                actor,
                "contractor_person",
                {
                    "person_code": code[0],
                    "name": name,
                    "id_hash": digest,
                    "id_cipher": cipher,
                    "id_masked": mask(number),
                    "gender": gender(number),
                    "birth_date": birth_date(number),
                },
                reason="contractor personnel",
            )
        else:
            person_id = int(row[0])
        existing = conn.execute(
            "SELECT id, status FROM contractor.employment WHERE company_id = %s AND person_id = %s",
            (company_id, person_id),
        ).fetchone()
        values = {
            "person_type": person.person_type,
            "phone": person.phone or None,
            "job": person.job or None,
            "insurance_no": person.insurance_no or None,
            "insurance_until": person.insurance_until,
            "medical_check_on": person.medical_check_on,
            "labour_contract_no": person.labour_contract_no or None,
            "permit_from": person.permit_from,
            "permit_until": person.permit_until,
        }
        try:
            if existing is None:
                employment_id = registers.insert(
                    conn,
                    actor,
                    "contractor_employment",
                    {"company_id": company_id, "person_id": person_id, **values},
                    reason="contractor personnel",
                )
            elif existing[1] == "exited":  # back at the same company
                employment_id = int(existing[0])
                registers.update(
                    conn,
                    actor,
                    "contractor_employment",
                    employment_id,
                    {**values, "status": "active", "left_on": None, "joined_on": date.today()},
                    reason="contractor personnel: rejoined",
                )
            else:
                raise ContractorError(
                    f"{name} ({mask(number)}) is already registered at this company"
                )
        except RegisterError as exc:
            raise ContractorError(str(exc)) from None
    return person_id, employment_id


def owner_company(conn: psycopg.Connection, register: str, row_id: int) -> int | None:
    """The company a row of a self-service register belongs to (None: no such row)."""
    if register == "contractor_certificate":
        query = sql.SQL(
            "SELECT e.company_id FROM contractor.certificate t JOIN contractor.employment e"
            " ON e.person_id = t.person_id WHERE t.id = %s ORDER BY e.status, e.id LIMIT 1"
        )
    else:
        reg = CONTRACTOR_REGISTERS[register]
        query = sql.SQL("SELECT company_id FROM {} WHERE id = %s").format(reg.qualified)
    row = conn.execute(query, (row_id,)).fetchone()
    return None if row is None else int(row[0])


def save_row(
    conn: psycopg.Connection,
    actor: Actor,
    register: str,
    values: Mapping[str, Any],
    *,
    company_id: int,
    row_id: int | None = None,
) -> int:
    """Insert or update a row of a self-service register for ``company_id`` (C8).

    A row of another company is refused, whatever id the caller sends: the check is here,
    not in the screen.
    """
    if register not in SELF_SERVICE:
        raise ContractorError(f"{register} is not changed through self-service")
    data = dict(values)
    if register != "contractor_certificate":
        if data.get("company_id", company_id) != company_id:
            raise ContractorError("a contractor changes its own company's records only")
        data["company_id"] = company_id
    else:
        person = data.get("person_id")
        if person is None and row_id is None:
            raise ContractorError("person: required")
        if (
            person is not None
            and not conn.execute(
                "SELECT 1 FROM contractor.employment WHERE person_id = %s AND company_id = %s",
                (person, company_id),
            ).fetchone()
        ):
            raise ContractorError("a contractor changes its own people's certificates only")
    try:
        if row_id is None:
            return registers.insert(conn, actor, register, data, reason="contractor self-service")
        owner = owner_company(conn, register, row_id)
        if owner != company_id:
            raise ContractorError(f"no record #{row_id} of this company")
        if register != "contractor_certificate":
            data.pop("company_id", None)
        registers.update(conn, actor, register, row_id, data, reason="contractor self-service")
        return row_id
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def people(
    conn: psycopg.Connection,
    *,
    company_id: int | None = None,
    enterprise_id: int | None = None,
    role: str = "contractor",
    home: Path | None = None,
    include_exited: bool = False,
) -> list[dict[str, Any]]:
    """Employments with their person (ID number masked unless ``role`` needs it and ``home``
    holds the key). Filter by company or by host enterprise."""
    rows = conn.execute(
        """SELECT e.id, p.id, p.person_code, p.name, p.id_masked, p.id_cipher, e.person_type,
                  e.phone, e.insurance_until, e.medical_check_on, e.status, c.id, c.name,
                  (SELECT string_agg(x.kind || coalesce(' ≤' || x.expires_on, ''), '；'
                          ORDER BY x.kind) FROM contractor.certificate x
                   WHERE x.person_id = p.id),
                  EXISTS (SELECT 1 FROM contractor.blacklist b
                          WHERE b.person_id = p.id AND b.removed_at IS NULL)
           FROM contractor.employment e
           JOIN contractor.person p ON p.id = e.person_id
           JOIN contractor.company c ON c.id = e.company_id
           WHERE (%(company)s::integer IS NULL OR e.company_id = %(company)s)
             AND (%(ent)s::integer IS NULL OR c.enterprise_id = %(ent)s)
             AND (%(exited)s OR e.status = 'active')
           ORDER BY c.name, p.name, e.id""",
        {"company": company_id, "ent": enterprise_id, "exited": include_exited},
    ).fetchall()
    vault = Vault.at(home) if home is not None and role in ("admin",) else None
    out = []
    for r in rows:
        number = None
        if vault is not None:
            try:
                number = vault.open(r[5])
            except PiiError:
                number = None  # another instance's key: the mask is all there is
        out.append(
            {
                "employment_id": r[0],
                "person_id": r[1],
                "person_code": r[2],
                "name": r[3],
                "id_number": shown(role, number, r[4]),
                "person_type": r[6],
                "phone": r[7],
                "insurance_until": r[8],
                "medical_check_on": r[9],
                "status": r[10],
                "company_id": r[11],
                "company": r[12],
                "certificates": r[13] or "",
                "blacklisted": r[14],
            }
        )
    return out


def attach(
    conn: psycopg.Connection,
    actor: Actor,
    company_id: int,
    entity: str,
    entity_id: int,
    file_name: str,
    data: bytes,
    *,
    home: Path,
) -> int:
    """Store a scan or photo by content (sha256) and record it against an archive row."""
    try:
        stored = approval_files.store_bytes(home, file_name, data)
    except ApprovalError as exc:
        raise ContractorError(str(exc)) from None
    try:
        return registers.insert(
            conn,
            actor,
            "contractor_attachment",
            {
                "company_id": company_id,
                "entity": entity,
                "entity_id": entity_id,
                "file_name": stored.name,
                "content_type": stored.content_type,
                "size_bytes": stored.size,
                "sha256": stored.sha256,
                "uploaded_by": actor.id,
            },
            reason="contractor attachment",
        )
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def company_blacklisted(conn: psycopg.Connection, company_id: int) -> str | None:
    """The reason an active blacklist entry gives for the company, or None (C19)."""
    row = conn.execute(
        "SELECT reason FROM contractor.blacklist WHERE company_id = %s AND removed_at IS NULL"
        " ORDER BY since DESC LIMIT 1",
        (company_id,),
    ).fetchone()
    return None if row is None else str(row[0])


def person_blacklisted(conn: psycopg.Connection, person_id: int) -> str | None:
    row = conn.execute(
        "SELECT reason FROM contractor.blacklist WHERE person_id = %s AND removed_at IS NULL"
        " ORDER BY since DESC LIMIT 1",
        (person_id,),
    ).fetchone()
    return None if row is None else str(row[0])
