"""The contractor exchange format (C20): one JSON document per host enterprise for the upward
platforms (park, county, city, province) and the neighbouring systems (dual prevention, work
permits, training, positioning, video, access control). Documented field by field in
``docs/contractors.md`` ("Exchange format"); ``SCHEMA`` below is that documentation's source.

    doc = export(conn, enterprise_id=3)              # dict, json.dumps-able
    report = import_document(conn, actor, doc, enterprise_id=7)
    report.errors     # ["companies[1].credit_code: check digit should be 3, not 4", ...]

Personal data: people travel with their person code, name, masked ID number (``1401**********
1234``) and gender; never the full ID number, birth date, phone or photo. Bad records are
reported with their path and field and skipped; every good one is imported. Import matches
companies by credit code, projects by code, permits by number, people by person code (a person
unknown here is reported: people are registered with their ID card, which is not exchanged).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.credit_code import credit_code_error
from hazwatch.registers import Actor, RegisterError, acting
from workflows.contractors import permits as permit_mod
from workflows.contractors.archive import ContractorError
from workflows.contractors.lists import add_to_blacklist

FORMAT: Final = "hazwatch.contractors"
VERSION: Final = 1

# -- the schema (what docs/contractors.md documents) -------------------------------------------

#: field -> (type, required). Types: str, date, datetime, int, num, bool, str[], a tuple of
#: allowed values, or the name of a nested record list ("@name").
Spec = dict[str, tuple[Any, bool]]
CATEGORIES: Final = ("construction", "maintenance", "installation", "inspection",
                     "technical_service", "labour", "other")  # fmt: skip
SCHEMA: Final[dict[str, Spec]] = {
    "document": {
        "format": ((FORMAT,), True), "version": ((VERSION,), True),
        "exported_at": ("datetime", True),
        "source": ("@source", True), "companies": ("@company", True), "persons": ("@person", True),
        "permits": ("@permit", False),
    },
    "source": {"enterprise_code": ("str", False), "enterprise_name": ("str", True)},
    "company": {
        "credit_code": ("str", True), "name": ("str", True), "category": (CATEGORIES, True),
        "status": (("active", "suspended", "exited"), False),
        "legal_representative": ("str", False),
        "contact_person": ("str", False), "phone": ("str", False), "address": ("str", False),
        "qualifications": ("@qualification", False), "projects": ("@project", False),
        "violations": ("@violation", False), "incidents": ("@incident", False),
        "blacklisted": ("@listing", False), "evaluations": ("@evaluation", False),
        "stop_orders": ("@stop_order", False), "qualified_since": ("date", False),
    },
    "qualification": {
        "kind": ("str", True), "number": ("str", False), "issuer": ("str", False),
        "level": ("str", False), "valid_from": ("date", False), "expires_on": ("date", False),
    },
    "project": {
        "code": ("str", True), "name": ("str", True),
        "status": (("planned", "in_progress", "suspended", "completed", "accepted"), False),
        "phase": (("selection", "execution", "acceptance"), False), "manager": ("str", False),
        "starts_on": ("date", False), "ends_on": ("date", False), "contract_no": ("str", False),
    },
    "violation": {
        "occurred_at": ("datetime", True), "description": ("str", True), "outcome": ("str", False),
        "is_work_violation": ("bool", False), "person_code": ("str", False),
        "project_code": ("str", False),
    },
    "incident": {
        "kind": ("str", True),
        "level": (("near_miss", "minor", "ordinary", "serious", "major", "especially_major"), True),
        "occurred_at": ("datetime", True), "place": ("str", False), "deaths": ("int", False),
        "injuries": ("int", False), "loss_yuan": ("num", False), "cause": ("str", False),
        "handling": ("str", False), "project_code": ("str", False),
    },
    "listing": {"reason": ("str", True), "since": ("date", True)},
    "evaluation": {
        "stage": (("selection", "execution", "acceptance"), True), "period_from": ("date", True),
        "period_to": ("date", True), "total": ("num", True), "passed": ("bool", True),
    },
    "stop_order": {
        "reason_class": ("str", True), "reason": ("str", True), "status": ("str", True),
        "ordered_at": ("datetime", True), "resumed_at": ("datetime", False),
    },
    "person": {
        "person_code": ("str", True), "name": ("str", True), "id_masked": ("str", True),
        "gender": (("M", "F"), False), "employments": ("@employment", False),
        "certificates": ("@certificate", False), "entries": ("@entry", False),
        "blacklisted": ("@listing", False),
    },
    "employment": {
        "company_credit_code": ("str", True),
        "person_type": (("manager", "safety_officer", "technician", "special_worker", "worker",
                         "driver", "other"), True),
        "status": (("active", "exited"), True), "joined_on": ("date", True),
        "left_on": ("date", False),
    },
    "certificate": {
        "kind": ("str", True), "number": ("str", False), "issuer": ("str", False),
        "expires_on": ("date", False),
    },
    "entry": {
        "company_credit_code": ("str", True), "valid_from": ("date", True),
        "valid_until": ("date", True), "places": ("str[]", True), "status": ("str", True),
        "card_no": ("str", False),
    },
    "permit": {
        "permit_no": ("str", True), "company_credit_code": ("str", True),
        "project_code": ("str", False), "work_type": (tuple(permit_mod.WORK_TYPES), True),
        "level": ("str", False), "location": ("str", True), "guardian": ("str", False),
        "planned_start": ("datetime", True), "planned_end": ("datetime", True),
        "reviewed_at": ("datetime", False), "briefed_at": ("datetime", False),
        "started_at": ("datetime", False), "site_checked_at": ("datetime", False),
        "accepted_at": ("datetime", False),
        "status": (("planned", "in_progress", "suspended", "accepted", "cancelled"), False),
    },
}  # fmt: skip
_MASKED = r"^[0-9]{4}\*{10}[0-9]{3}[0-9X]$"


def _type_problem(kind: Any, value: Any) -> str | None:
    """Why ``value`` is not of ``kind`` (None: it is). Dates and times are ISO 8601 text."""
    if isinstance(kind, tuple):
        return None if value in kind else f"one of {', '.join(map(str, kind))}, not {value!r}"
    if kind == "str":
        return None if isinstance(value, str) and value.strip() else "a non-empty string"
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "a whole number ≥ 0"
    if kind == "num":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if kind == "str[]":
        ok = isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
        return None if ok else "a non-empty list of strings"
    if kind in ("date", "datetime"):
        if not isinstance(value, str):
            return f"an ISO 8601 {kind} string"
        try:
            if kind == "date":
                date.fromisoformat(value)
            elif datetime.fromisoformat(value).tzinfo is None:
                return "a date-time with its UTC offset (e.g. 2026-11-30T08:00:00+08:00)"
        except ValueError:
            return f"{value!r} is no ISO 8601 {kind}"
        return None
    raise AssertionError(kind)


def validate(record: Any, spec_name: str, path: str) -> list[str]:
    """Every problem of a record and the records nested in it, as ``path.field: why``."""
    if not isinstance(record, Mapping):
        return [f"{path}: an object"]
    spec = SCHEMA[spec_name]
    problems = [f"{path}.{k}: not a field of {spec_name}" for k in record if k not in spec]
    for name, (kind, required) in spec.items():
        value = record.get(name)
        if value is None:
            if required:
                problems.append(f"{path}.{name}: required")
            continue
        if isinstance(kind, str) and kind.startswith("@"):
            sub = kind[1:]
            if sub in ("source", "listing"):
                problems += validate(value, sub, f"{path}.{name}")
            elif not isinstance(value, list):
                problems.append(f"{path}.{name}: a list")
            else:
                for n, item in enumerate(value):
                    problems += validate(item, sub, f"{path}.{name}[{n}]")
            continue
        why = _type_problem(kind, value)
        if why is not None:
            problems.append(f"{path}.{name}: {why}")
    if spec_name == "company" and isinstance(record.get("credit_code"), str):
        why = credit_code_error(record["credit_code"])
        if why is not None:
            problems.append(f"{path}.credit_code: {why}")
    masked = record.get("id_masked")
    if spec_name == "person" and isinstance(masked, str) and not re.match(_MASKED, masked):
        problems.append(
            f"{path}.id_masked: the masked form 1401**********1234 only (never the full ID number)"
        )
    return problems


# -- export ------------------------------------------------------------------------------------


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "is_finite"):  # Decimal
        return float(v)
    return v


def _rows(conn: psycopg.Connection, query: str, params: Any, keys: Sequence[str]) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for r in conn.execute(query, params).fetchall():
        out.append({k: _iso(v) for k, v in zip(keys, r, strict=True) if v is not None})
    return out


def export(
    conn: psycopg.Connection, enterprise_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """The enterprise's contractor data in the exchange format."""
    ent = conn.execute(
        "SELECT code, name FROM registry.enterprise WHERE id = %s", (enterprise_id,)
    ).fetchone()
    if ent is None:
        raise ContractorError(f"no enterprise #{enterprise_id}")
    companies = []
    for cid, *vals in conn.execute(
        "SELECT id, credit_code, name, category, status, legal_representative, contact_person,"
        " phone, address FROM contractor.company WHERE enterprise_id = %s ORDER BY id",
        (enterprise_id,),
    ).fetchall():
        keys = ("credit_code", "name", "category", "status", "legal_representative",
                "contact_person", "phone", "address")  # fmt: skip
        c: dict[str, Any] = {k: v for k, v in zip(keys, vals, strict=True) if v is not None}
        c["qualifications"] = _rows(conn,
            "SELECT kind, number, issuer, level, valid_from, expires_on FROM"
            " contractor.qualification WHERE company_id = %s ORDER BY id", (cid,),
            ("kind", "number", "issuer", "level", "valid_from", "expires_on"))  # fmt: skip
        c["projects"] = _rows(conn,
            "SELECT code, name, status, phase, manager, starts_on, ends_on, contract_no FROM"
            " contractor.project WHERE company_id = %s ORDER BY id", (cid,),
            ("code", "name", "status", "phase", "manager", "starts_on", "ends_on",
             "contract_no"))  # fmt: skip
        c["violations"] = _rows(conn,
            "SELECT v.occurred_at, v.description, v.outcome, v.is_work_violation,"
            " p.person_code, pr.code FROM contractor.violation v"
            " LEFT JOIN contractor.person p ON p.id = v.person_id"
            " LEFT JOIN contractor.project pr ON pr.id = v.project_id"
            " WHERE v.company_id = %s ORDER BY v.id", (cid,),
            ("occurred_at", "description", "outcome", "is_work_violation", "person_code",
             "project_code"))  # fmt: skip
        c["incidents"] = _rows(conn,
            "SELECT i.kind, i.level, i.occurred_at, i.place, i.deaths, i.injuries, i.loss_yuan,"
            " i.cause, i.handling, pr.code FROM contractor.incident i"
            " LEFT JOIN contractor.project pr ON pr.id = i.project_id"
            " WHERE i.company_id = %s ORDER BY i.id", (cid,),
            ("kind", "level", "occurred_at", "place", "deaths", "injuries", "loss_yuan",
             "cause", "handling", "project_code"))  # fmt: skip
        c["evaluations"] = _rows(conn,
            "SELECT stage, period_from, period_to, total, passed FROM contractor.evaluation"
            " WHERE company_id = %s AND status = 'final' ORDER BY period_to, id", (cid,),
            ("stage", "period_from", "period_to", "total", "passed"))  # fmt: skip
        c["stop_orders"] = _rows(conn,
            "SELECT reason_class, reason, status, ordered_at, resumed_at FROM"
            " contractor.stop_order WHERE company_id = %s ORDER BY id", (cid,),
            ("reason_class", "reason", "status", "ordered_at", "resumed_at"))  # fmt: skip
        listed = _rows(
            conn,
            "SELECT reason, since FROM contractor.blacklist WHERE company_id = %s"
            " AND removed_at IS NULL ORDER BY since DESC LIMIT 1",
            (cid,),
            ("reason", "since"),
        )
        if listed:
            c["blacklisted"] = listed[0]
        q = conn.execute("SELECT since FROM contractor.qualified WHERE company_id = %s"
                         " AND removed_at IS NULL", (cid,)).fetchone()  # fmt: skip
        if q is not None:
            c["qualified_since"] = q[0].isoformat()
        companies.append(c)
    persons = []
    for pid, code, name, masked, gender in conn.execute(
        """SELECT DISTINCT p.id, p.person_code, p.name, p.id_masked, p.gender
           FROM contractor.person p JOIN contractor.employment e ON e.person_id = p.id
           JOIN contractor.company c ON c.id = e.company_id WHERE c.enterprise_id = %s
           ORDER BY p.id""",
        (enterprise_id,),
    ).fetchall():
        p: dict[str, Any] = {"person_code": code, "name": name, "id_masked": masked}
        if gender:
            p["gender"] = gender
        p["employments"] = _rows(conn,
            "SELECT c.credit_code, e.person_type, e.status, e.joined_on, e.left_on"
            " FROM contractor.employment e JOIN contractor.company c ON c.id = e.company_id"
            " WHERE e.person_id = %s AND c.enterprise_id = %s ORDER BY e.id",
            (pid, enterprise_id),
            ("company_credit_code", "person_type", "status", "joined_on", "left_on"))  # fmt: skip
        p["certificates"] = _rows(conn,
            "SELECT kind, number, issuer, expires_on FROM contractor.certificate"
            " WHERE person_id = %s ORDER BY id", (pid,),
            ("kind", "number", "issuer", "expires_on"))  # fmt: skip
        p["entries"] = _rows(conn,
            "SELECT c.credit_code, a.valid_from, a.valid_until, a.places, a.status, a.card_no"
            " FROM contractor.entry_application a JOIN contractor.company c"
            " ON c.id = a.company_id WHERE a.person_id = %s AND a.enterprise_id = %s"
            " ORDER BY a.id", (pid, enterprise_id),
            ("company_credit_code", "valid_from", "valid_until", "places", "status",
             "card_no"))  # fmt: skip
        listed = _rows(
            conn,
            "SELECT reason, since FROM contractor.blacklist WHERE person_id = %s"
            " AND removed_at IS NULL ORDER BY since DESC LIMIT 1",
            (pid,),
            ("reason", "since"),
        )
        if listed:
            p["blacklisted"] = listed[0]
        persons.append(p)
    permit_rows = _rows(conn,
        "SELECT w.permit_no, c.credit_code, pr.code, w.work_type, w.level, w.location,"
        " w.guardian, w.planned_start, w.planned_end, w.reviewed_at, w.briefed_at,"
        " w.started_at, w.site_checked_at, w.accepted_at, w.status"
        " FROM contractor.work_permit w JOIN contractor.company c ON c.id = w.company_id"
        " LEFT JOIN contractor.project pr ON pr.id = w.project_id"
        " WHERE w.enterprise_id = %s ORDER BY w.id", (enterprise_id,),
        ("permit_no", "company_credit_code", "project_code", "work_type", "level", "location",
         "guardian", "planned_start", "planned_end", "reviewed_at", "briefed_at", "started_at",
         "site_checked_at", "accepted_at", "status"))  # fmt: skip
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "source": {"enterprise_code": ent[0], "enterprise_name": ent[1]},
        "companies": companies,
        "persons": persons,
        "permits": permit_rows,
    }
    if not ent[0]:
        del doc["source"]["enterprise_code"]  # type: ignore[attr-defined]
    return doc


# -- import ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    imported: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.imported[what] = self.imported.get(what, 0) + 1

    def summary(self) -> str:
        done = ", ".join(f"{k} {v}" for k, v in sorted(self.imported.items())) or "nothing new"
        return f"imported: {done}; unchanged {self.unchanged}; errors {len(self.errors)}"


def _dt(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def _d(v: str | None) -> date | None:
    return None if v is None else date.fromisoformat(v)


def _one(conn: psycopg.Connection, query: str, params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def import_document(
    conn: psycopg.Connection,
    actor: Actor,
    doc: Any,
    *,
    enterprise_id: int,
    dry_run: bool = False,
) -> ImportReport:
    """Import into the host ``enterprise_id``; each record alone (a bad one is reported with
    its path and skipped). ``dry_run``: check and count, change nothing."""
    report = ImportReport()
    if not isinstance(doc, Mapping):
        report.errors.append("document: a JSON object")
        return report
    head = {k: doc.get(k) for k in ("format", "version", "exported_at", "source")}
    problems = [p for p in validate({**head, "companies": [], "persons": []}, "document", "$")]
    problems += [f"$.{k}: a list" for k in ("companies", "persons", "permits")
                 if k in doc and not isinstance(doc[k], list)]  # fmt: skip
    problems += [f"$.{k}: not a field of document" for k in doc if k not in SCHEMA["document"]]
    if problems:
        report.errors += problems
        return report
    try:
        with conn.transaction(force_rollback=dry_run):
            for n, c in enumerate(doc.get("companies") or []):
                _guarded(
                    conn,
                    actor,
                    report,
                    f"$.companies[{n}]",
                    "company",
                    c,
                    lambda path, rec: _company(conn, actor, enterprise_id, rec, path, report),
                )
            for n, p in enumerate(doc.get("persons") or []):
                _guarded(
                    conn,
                    actor,
                    report,
                    f"$.persons[{n}]",
                    "person",
                    p,
                    lambda path, rec: _person(conn, actor, enterprise_id, rec, path, report),
                )
            for n, w in enumerate(doc.get("permits") or []):
                _guarded(
                    conn,
                    actor,
                    report,
                    f"$.permits[{n}]",
                    "permit",
                    w,
                    lambda path, rec: _permit(conn, actor, enterprise_id, rec, report),
                )
    except psycopg.Error as exc:  # the database went away: nothing half-done stays
        report.errors.append(f"import aborted, nothing kept: {exc}")
        report.imported.clear()
    return report  # fmt: skip


def _guarded(
    conn: psycopg.Connection,
    actor: Actor,
    report: ImportReport,
    path: str,
    spec: str,
    record: Any,
    work: Callable[[str, Mapping[str, Any]], None],
) -> None:
    problems = validate(record, spec, path)
    if problems:
        report.errors += problems
        return
    try:
        with acting(conn, actor, "contractor data import (C20)"):
            work(path, record)
    except (ContractorError, RegisterError, psycopg.errors.DataError,
            psycopg.errors.IntegrityError) as exc:  # fmt: skip
        report.errors.append(f"{path}: {exc}")


def _insert_new(
    conn: psycopg.Connection,
    actor: Actor,
    report: ImportReport,
    register: str,
    exists: Any,
    values: Mapping[str, Any],
    what: str,
) -> None:
    if exists is not None:
        report.unchanged += 1
        return
    registers.insert(conn, actor, register, values, reason="contractor data import (C20)")
    report.count(what)


def _company(
    conn: psycopg.Connection,
    actor: Actor,
    ent: int,
    c: Mapping[str, Any],
    path: str,
    report: ImportReport,
) -> None:
    cid = _one(conn, "SELECT id FROM contractor.company WHERE enterprise_id = %s AND"
               " credit_code = %s", (ent, c["credit_code"]))  # fmt: skip
    if cid is None:
        cid = registers.insert(
            conn, actor, "company",
            {"enterprise_id": ent, **{k: c[k] for k in (
                "credit_code", "name", "category", "status", "legal_representative",
                "contact_person", "phone", "address") if k in c}},
            reason="contractor data import (C20)",
        )  # fmt: skip
        report.count("companies")
    else:
        report.unchanged += 1
    for q in c.get("qualifications") or []:
        _insert_new(conn, actor, report, "contractor_qualification",
            _one(conn, "SELECT id FROM contractor.qualification WHERE company_id = %s AND"
                 " kind = %s AND number IS NOT DISTINCT FROM %s",
                 (cid, q["kind"], q.get("number"))),
            {"company_id": cid, "kind": q["kind"], "number": q.get("number"),
             "issuer": q.get("issuer"), "level": q.get("level"),
             "valid_from": _d(q.get("valid_from")), "expires_on": _d(q.get("expires_on"))},
            "qualifications")  # fmt: skip
    projects: dict[str, int] = {}
    for n, p in enumerate(c.get("projects") or []):
        found = conn.execute(
            "SELECT id, company_id FROM contractor.project WHERE enterprise_id = %s AND code = %s",
            (ent, p["code"]),
        ).fetchone()
        if found is not None and found[1] != cid:
            report.errors.append(
                f"{path}.projects[{n}].code: project {p['code']} belongs to another company here"
            )
            continue
        pid = None if found is None else found[0]
        if pid is None:
            pid = registers.insert(
                conn, actor, "contractor_project",
                {"enterprise_id": ent, "company_id": cid, "code": p["code"], "name": p["name"],
                 "status": p.get("status", "planned"), "phase": p.get("phase", "selection"),
                 "manager": p.get("manager"), "starts_on": _d(p.get("starts_on")),
                 "ends_on": _d(p.get("ends_on")), "contract_no": p.get("contract_no")},
                reason="contractor data import (C20)",
            )  # fmt: skip
            report.count("projects")
        else:
            report.unchanged += 1
        projects[p["code"]] = pid

    def project_of(code: str | None) -> int | None:
        if code is None:
            return None
        if code not in projects:
            found = _one(conn, "SELECT id FROM contractor.project WHERE company_id = %s AND"
                         " code = %s", (cid, code))  # fmt: skip
            if found is None:
                raise ContractorError(f"project {code} is not a project of {c['name']}")
            projects[code] = found
        return projects[code]

    for n, v in enumerate(c.get("violations") or []):
        at = _dt(v["occurred_at"])
        person = None
        if v.get("person_code"):
            person = _one(conn, "SELECT id FROM contractor.person WHERE person_code = %s",
                          (v["person_code"],))  # fmt: skip
        try:
            proj = project_of(v.get("project_code"))
        except ContractorError as exc:
            report.errors.append(f"{path}.violations[{n}].project_code: {exc}")
            continue
        _insert_new(conn, actor, report, "contractor_violation",
            _one(conn, "SELECT id FROM contractor.violation WHERE company_id = %s AND"
                 " occurred_at = %s AND description = %s", (cid, at, v["description"])),
            {"company_id": cid, "project_id": proj, "person_id": person,
             "offender": None if person else v.get("person_code"), "occurred_at": at,
             "description": v["description"], "outcome": v.get("outcome"),
             "is_work_violation": bool(v.get("is_work_violation", False))},
            "violations")  # fmt: skip
    for n, i in enumerate(c.get("incidents") or []):
        at = _dt(i["occurred_at"])
        try:
            proj = project_of(i.get("project_code"))
        except ContractorError as exc:
            report.errors.append(f"{path}.incidents[{n}].project_code: {exc}")
            continue
        _insert_new(conn, actor, report, "contractor_incident",
            _one(conn, "SELECT id FROM contractor.incident WHERE company_id = %s AND"
                 " occurred_at = %s AND kind = %s", (cid, at, i["kind"])),
            {"company_id": cid, "project_id": proj, "kind": i["kind"], "level": i["level"],
             "occurred_at": at, "place": i.get("place"), "deaths": i.get("deaths", 0),
             "injuries": i.get("injuries", 0), "loss_yuan": i.get("loss_yuan"),
             "cause": i.get("cause"), "handling": i.get("handling")},
            "incidents")  # fmt: skip
    listed = c.get("blacklisted")
    if listed and _one(conn, "SELECT id FROM contractor.blacklist WHERE company_id = %s AND"
                       " removed_at IS NULL", (cid,)) is None:  # fmt: skip
        add_to_blacklist(conn, actor, company_id=cid, reason=listed["reason"],
                         since=_d(listed["since"]))  # fmt: skip
        report.count("blacklist")


def _person(
    conn: psycopg.Connection,
    actor: Actor,
    ent: int,
    p: Mapping[str, Any],
    path: str,
    report: ImportReport,
) -> None:
    pid = _one(conn, "SELECT id FROM contractor.person WHERE person_code = %s",
               (p["person_code"],))  # fmt: skip
    if pid is None:
        raise ContractorError(
            f"person {p['person_code']} ({p['name']}) is unknown here: people are registered"
            " with their ID card, which the exchange format does not carry"
        )
    report.unchanged += 1
    for n, e in enumerate(p.get("employments") or []):
        cid = _one(conn, "SELECT id FROM contractor.company WHERE enterprise_id = %s AND"
                   " credit_code = %s", (ent, e["company_credit_code"]))  # fmt: skip
        if cid is None:
            report.errors.append(
                f"{path}.employments[{n}].company_credit_code: no company"
                f" {e['company_credit_code']} at this enterprise"
            )
            continue
        left = _d(e.get("left_on"))
        if (e["status"] == "exited") != (left is not None):
            report.errors.append(f"{path}.employments[{n}].left_on: required exactly when exited")
            continue
        _insert_new(conn, actor, report, "contractor_employment",
            _one(conn, "SELECT id FROM contractor.employment WHERE company_id = %s AND"
                 " person_id = %s", (cid, pid)),
            {"company_id": cid, "person_id": pid, "person_type": e["person_type"],
             "status": e["status"], "joined_on": _d(e["joined_on"]), "left_on": left},
            "employments")  # fmt: skip
    for x in p.get("certificates") or []:
        _insert_new(conn, actor, report, "contractor_certificate",
            _one(conn, "SELECT id FROM contractor.certificate WHERE person_id = %s AND kind = %s"
                 " AND number IS NOT DISTINCT FROM %s", (pid, x["kind"], x.get("number"))),
            {"person_id": pid, "kind": x["kind"], "number": x.get("number"),
             "issuer": x.get("issuer"), "expires_on": _d(x.get("expires_on"))},
            "certificates")  # fmt: skip
    listed = p.get("blacklisted")
    if listed and _one(conn, "SELECT id FROM contractor.blacklist WHERE person_id = %s AND"
                       " removed_at IS NULL", (pid,)) is None:  # fmt: skip
        add_to_blacklist(conn, actor, person_id=pid, reason=listed["reason"],
                         since=_d(listed["since"]))  # fmt: skip
        report.count("blacklist")


def _permit(
    conn: psycopg.Connection, actor: Actor, ent: int, w: Mapping[str, Any], report: ImportReport
) -> None:
    cid = _one(conn, "SELECT id FROM contractor.company WHERE enterprise_id = %s AND"
               " credit_code = %s", (ent, w["company_credit_code"]))  # fmt: skip
    if cid is None:
        raise ContractorError(f"company_credit_code: no company {w['company_credit_code']} here")
    proj = None
    if w.get("project_code"):
        proj = _one(conn, "SELECT id FROM contractor.project WHERE company_id = %s AND"
                    " code = %s", (cid, w["project_code"]))  # fmt: skip
        if proj is None:
            raise ContractorError(f"project_code: no project {w['project_code']} of this company")
    existed = _one(conn, "SELECT id FROM contractor.work_permit WHERE enterprise_id = %s AND"
                   " permit_no = %s", (ent, w["permit_no"]))  # fmt: skip
    values = {k: v for k, v in w.items() if k in permit_mod.FIELDS}
    values.update({"company_id": cid, "project_id": proj})
    permit_mod.save_permit(conn, actor, values, enterprise_id=ent, source="import")
    if existed is None:
        report.count("permits")
    else:
        report.unchanged += 1
