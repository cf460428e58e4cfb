"""Entry of contractor people (C9-C11): application with an automatic document check, the
online entry exam (a failed exam returns the application at once), the approval through the
approval engine (kind ``contractor.entry``), and on approval the access card pushed to the
enterprise's access-control system exactly as approved.

    ids = apply_for_entry(conn, actor, company_id=3, project_id=5, person_ids=[7, 8],
                          valid_from=date(2026, 12, 1), valid_until=date(2026, 12, 31),
                          places=["一号门", "储罐区"])        # status "training"
    attempt_id, paper = start_exam(conn, ids[0], company_id=3)  # paper without the answers
    outcome = finish_exam(conn, actor, attempt_id, {"17": "B"}, company_id=3)
    # passed: submitted to the approval engine (status "in_approval"); failed: "returned"
    retake(conn, actor, ids[0], company_id=3)                  # returned -> training again

Refusals (``EntryRefused``, a ContractorError): a blacklisted company (C19), a person without
the documents its category requires, a person not employed by the company, a period out of
range. A blacklisted person is not refused but flagged for the approver (C9).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import Actor, acting
from workflows import approvals
from workflows.contractors import exams
from workflows.contractors.access_control import AccessControlError, Card, push_card
from workflows.contractors.archive import (
    ContractorError,
    company,
    company_blacklisted,
    person_blacklisted,
)
from workflows.contractors.documents import (
    Dossier,
    clean_places,
    document_problems,
    period_problems,
)

KIND: Final = "contractor.entry"
#: Shown to the user; ``in_approval`` is refined by the approval request's own state.
STATUSES: Final = ("training", "returned", "in_approval", "approved", "rejected", "withdrawn")


class EntryRefused(ContractorError):
    """An application that may not be made (blacklist, documents, period)."""


@dataclass(frozen=True)
class ExamOutcome:
    passed: bool
    score: float
    max_score: float
    pass_mark: float
    status: str
    approval_id: int | None


def _dossier(conn: psycopg.Connection, company_id: int, person_id: int) -> tuple[Dossier, str]:
    row = conn.execute(
        """SELECT e.person_type, c.category, e.insurance_until, e.medical_check_on, p.name,
                  e.status
           FROM contractor.employment e
           JOIN contractor.company c ON c.id = e.company_id
           JOIN contractor.person p ON p.id = e.person_id
           WHERE e.company_id = %s AND e.person_id = %s""",
        (company_id, person_id),
    ).fetchone()
    if row is None or row[5] != "active":
        raise EntryRefused(f"person #{person_id} is not employed by this company")
    certs: dict[str, date | None] = {}
    for kind, expires in conn.execute(
        "SELECT kind, expires_on FROM contractor.certificate WHERE person_id = %s"
        " ORDER BY expires_on NULLS LAST",
        (person_id,),
    ):
        certs[kind] = expires  # the latest expiry of each kind wins (NULL: never expires)
    return Dossier(row[0], row[1], certs, row[2], row[3]), str(row[4])


def _required_kinds(
    conn: psycopg.Connection, enterprise_id: int, category: str, person_type: str
) -> list[str]:
    rows = conn.execute(
        """SELECT certificate_kind FROM contractor.qualification_rule
           WHERE (enterprise_id IS NULL OR enterprise_id = %s)
             AND company_category IN (%s, '*') AND person_type IN (%s, '*')""",
        (enterprise_id, category, person_type),
    ).fetchall()
    return [r[0] for r in rows]


def entry_course(conn: psycopg.Connection, enterprise_id: int) -> int:
    row = conn.execute(
        "SELECT id FROM contractor.course WHERE enterprise_id = %s AND is_entry",
        (enterprise_id,),
    ).fetchone()
    if row is None:
        raise EntryRefused(
            "no entry training course is configured for this enterprise (课程与题库: mark one"
            " course as the entry course)"
        )
    return int(row[0])


def apply_for_entry(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    company_id: int,
    person_ids: Sequence[int],
    valid_from: date,
    valid_until: date,
    places: Sequence[str],
    project_id: int | None = None,
    today: date | None = None,
) -> list[int]:
    """One application per person, all or none; each then waits for its exam."""
    comp = company(conn, company_id)
    reason = company_blacklisted(conn, company_id)
    if reason is not None:
        raise EntryRefused(f"{comp['name']} is on the blacklist ({reason}): entry refused")
    if comp["status"] != "active":
        raise EntryRefused(f"{comp['name']} is {comp['status']}: entry refused")
    if not person_ids:
        raise EntryRefused("choose at least one person")
    try:
        clean = clean_places(places)
    except ValueError as exc:
        raise EntryRefused(str(exc)) from None
    problems = period_problems(valid_from, valid_until, today or date.today())
    if problems:
        raise EntryRefused("; ".join(problems))
    if project_id is not None:
        proj = conn.execute(
            "SELECT company_id, starts_on, ends_on, code FROM contractor.project WHERE id = %s",
            (project_id,),
        ).fetchone()
        if proj is None or proj[0] != company_id:
            raise EntryRefused(f"project #{project_id} is not a project of {comp['name']}")
        if (proj[1] and valid_from < proj[1]) or (proj[2] and valid_until > proj[2]):
            raise EntryRefused(f"the entry period lies outside project {proj[3]}'s dates")
    course_id = entry_course(conn, comp["enterprise_id"])
    refusals: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for pid in dict.fromkeys(person_ids):
        dossier, name = _dossier(conn, company_id, pid)
        kinds = _required_kinds(conn, comp["enterprise_id"], dossier.company_category,
                                dossier.person_type)  # fmt: skip
        for p in document_problems(dossier, kinds, valid_from, valid_until):
            refusals.append(f"{name}: {p}")
        flags = []
        listed = person_blacklisted(conn, pid)
        if listed is not None:
            flags.append(f"blacklisted person: {listed}")
        open_app = conn.execute(
            "SELECT id FROM contractor.entry_application WHERE person_id = %s AND company_id = %s"
            " AND status IN ('training', 'returned', 'in_approval')",
            (pid, company_id),
        ).fetchone()
        if open_app is not None:
            refusals.append(f"{name}: application #{open_app[0]} is still open")
        rows.append((pid, flags))
    if refusals:
        raise EntryRefused("documents incomplete — " + "; ".join(refusals))
    batch = uuid.uuid4()
    ids = []
    with acting(conn, actor, "entry application"):
        for pid, flags in rows:
            ids.append(
                registers.insert(
                    conn,
                    actor,
                    "contractor_entry_application",
                    {
                        "enterprise_id": comp["enterprise_id"],
                        "company_id": company_id,
                        "project_id": project_id,
                        "person_id": pid,
                        "batch": batch,
                        "valid_from": valid_from,
                        "valid_until": valid_until,
                        "places": clean,
                        "course_id": course_id,
                        "status": "training",
                        "flags": flags,
                        "created_by": actor.id,
                    },
                    reason="entry application",
                )
            )
    return ids


_APPLICATION: Final = """
SELECT a.id, a.company_id, a.enterprise_id, a.person_id, a.status, a.course_id, a.valid_from,
       a.valid_until, a.places, a.project_id, a.approval_id, a.flags, p.name, p.person_code,
       p.id_masked, c.name, pr.code, a.card_no, p.photo_sha256
FROM contractor.entry_application a
JOIN contractor.person p ON p.id = a.person_id
JOIN contractor.company c ON c.id = a.company_id
LEFT JOIN contractor.project pr ON pr.id = a.project_id
WHERE a.id = %s"""


def _application(
    conn: psycopg.Connection, application_id: int, company_id: int | None, lock: bool = False
) -> dict[str, Any]:
    row = conn.execute(
        _APPLICATION + (" FOR UPDATE OF a" if lock else ""),
        (application_id,),
    ).fetchone()
    # Another company's application is "not found": a contractor learns nothing about it.
    if row is None or (company_id is not None and row[1] != company_id):
        raise ContractorError(f"no entry application #{application_id} of this company")
    keys = (
        "id", "company_id", "enterprise_id", "person_id", "status", "course_id", "valid_from",
        "valid_until", "places", "project_id", "approval_id", "flags", "name", "person_code",
        "id_masked", "company", "project", "card_no", "photo",
    )  # fmt: skip
    return dict(zip(keys, row, strict=True))


def _questions(conn: psycopg.Connection, enterprise_id: int) -> list[exams.Question]:
    rows = conn.execute(
        "SELECT id, bank, qtype, stem, options, answer FROM contractor.question"
        " WHERE enterprise_id = %s",
        (enterprise_id,),
    ).fetchall()
    return [exams.Question(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]) for r in rows]


def _rules(conn: psycopg.Connection, course_id: int) -> tuple[list[exams.Rule], float]:
    rules = [
        exams.Rule(r[0], r[1], int(r[2]), float(r[3]))
        for r in conn.execute(
            "SELECT bank, qtype, count, points FROM contractor.exam_rule WHERE course_id = %s"
            " ORDER BY id",
            (course_id,),
        )
    ]
    row = conn.execute("SELECT pass_mark FROM contractor.course WHERE id = %s", (course_id,))
    mark = row.fetchone()
    assert mark is not None
    return rules, float(mark[0])


def start_exam(
    conn: psycopg.Connection,
    application_id: int,
    *,
    company_id: int | None,
    seed: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """The open attempt of the application, or a newly drawn paper; ``(attempt id, items
    without answers)``."""
    with conn.transaction():
        app = _application(conn, application_id, company_id, lock=True)
        if app["status"] != "training":
            raise ContractorError(
                f"application #{application_id} is {app['status']}: no exam is due"
            )
        row = conn.execute(
            "SELECT id, paper FROM contractor.exam_attempt WHERE application_id = %s"
            " AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
            (application_id,),
        ).fetchone()
        if row is not None:
            attempt_id, paper = int(row[0]), exams.paper_from_json(row[1])
        else:
            rules, mark = _rules(conn, app["course_id"])
            seed = seed if seed is not None else random.SystemRandom().randrange(2**62)
            paper = exams.draw_paper(_questions(conn, app["enterprise_id"]), rules, seed)
            got = conn.execute(
                """INSERT INTO contractor.exam_attempt (application_id, person_id, course_id,
                       seed, paper, max_score, pass_mark)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (
                    application_id,
                    app["person_id"],
                    app["course_id"],
                    seed,
                    Jsonb(exams.paper_to_json(paper)),
                    sum(i.points for i in paper),
                    mark,
                ),
            ).fetchone()
            assert got is not None
            attempt_id = int(got[0])
    public = [
        {"question_id": i.question_id, "qtype": i.qtype, "stem": i.stem,
         "options": list(i.options), "points": i.points}
        for i in paper
    ]  # fmt: skip
    return attempt_id, public


def _payload(app: Mapping[str, Any]) -> dict[str, Any]:
    """What the approver sees and what the card will carry."""
    return {
        "application_id": app["id"],
        "person_code": app["person_code"],
        "name": app["name"],
        "id_masked": app["id_masked"],
        "company": app["company"],
        "project": app["project"],
        "valid_from": app["valid_from"].isoformat(),
        "valid_until": app["valid_until"].isoformat(),
        "places": list(app["places"]),
        "flags": list(app["flags"]),
    }


def finish_exam(
    conn: psycopg.Connection,
    actor: Actor,
    attempt_id: int,
    answers: Mapping[Any, object],
    *,
    company_id: int | None,
) -> ExamOutcome:
    """Grade the attempt. Passed: the application goes to the approval engine; failed: it is
    returned to the contractor with the score (C10)."""
    with acting(conn, actor, "entry exam"):
        row = conn.execute(
            "SELECT application_id, paper, pass_mark, finished_at FROM contractor.exam_attempt"
            " WHERE id = %s FOR UPDATE",
            (attempt_id,),
        ).fetchone()
        if row is None:
            raise ContractorError(f"no exam attempt #{attempt_id}")
        app = _application(conn, int(row[0]), company_id, lock=True)
        if row[3] is not None or app["status"] != "training":
            raise ContractorError(f"exam attempt #{attempt_id} is finished already")
        paper = exams.paper_from_json(row[1])
        result = exams.grade(paper, answers)
        ok = exams.passed(result, float(row[2]))
        conn.execute(
            """UPDATE contractor.exam_attempt SET answers = %s, score = %s, passed = %s,
                   finished_at = now() WHERE id = %s""",
            (Jsonb({str(k): v for k, v in answers.items()}), result.score, ok, attempt_id),
        )
        approval_id = None
        if ok:
            payload = _payload(app)
            payload["exam"] = {"score": result.score, "max": result.max_score}
            approval_id = approvals.submit(
                conn,
                actor,
                kind=KIND,
                enterprise_id=app["enterprise_id"],
                subject=f"{app['company']} {app['name']} 入厂 {payload['valid_from']}~"
                f"{payload['valid_until']}",
                payload=payload,
                level="",
            )
            values: dict[str, Any] = {
                "status": "in_approval",
                "approval_id": approval_id,
                "status_reason": f"exam passed {result.score:g}/{result.max_score:g}",
            }
        else:
            values = {
                "status": "returned",
                "status_reason": (
                    f"exam failed: {result.score:g}/{result.max_score:g}"
                    f" ({result.percent:.0f}% < pass mark {float(row[2]):g}%)"
                ),
            }
        registers.update(
            conn, actor, "contractor_entry_application", app["id"], values, reason="entry exam"
        )
    return ExamOutcome(
        ok, result.score, result.max_score, float(row[2]), values["status"], approval_id
    )


def retake(
    conn: psycopg.Connection, actor: Actor, application_id: int, *, company_id: int | None
) -> None:
    """A returned application (failed exam) goes back to training for another attempt."""
    with acting(conn, actor, "entry exam retake"):
        app = _application(conn, application_id, company_id, lock=True)
        if app["status"] != "returned":
            raise ContractorError(f"application #{application_id} is {app['status']}, not returned")
        reason = company_blacklisted(conn, app["company_id"])
        if reason is not None:
            raise EntryRefused(f"{app['company']} is on the blacklist ({reason}): entry refused")
        registers.update(
            conn,
            actor,
            "contractor_entry_application",
            application_id,
            {"status": "training", "status_reason": None},
            reason="entry exam retake",
        )


def card_number(enterprise_id: int, application_id: int) -> str:
    """One card per approved application: ``C<enterprise>-<application>``."""
    return f"C{enterprise_id:04d}-{application_id:08d}"


def _apply_entry(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """The approved entry: card issued, pushed to access control exactly as approved. Any
    failure (blacklisted meanwhile, unreachable access system) keeps the request pending."""
    app = _application(conn, int(payload["application_id"]), None, lock=True)
    if app["status"] != "in_approval":
        raise ContractorError(f"application #{app['id']} is {app['status']}, not in approval")
    reason = company_blacklisted(conn, app["company_id"])
    if reason is not None:
        raise EntryRefused(f"{app['company']} is on the blacklist ({reason}): entry refused")
    approved = _payload(app)
    changed = [k for k in ("valid_from", "valid_until", "places", "person_code")
               if approved[k] != payload.get(k)]  # fmt: skip
    if changed:
        raise ContractorError(
            f"the application changed since it was submitted ({', '.join(changed)})"
        )
    system = conn.execute(
        "SELECT url, token FROM contractor.access_system WHERE enterprise_id = %s",
        (app["enterprise_id"],),
    ).fetchone()
    if system is None:
        raise ContractorError(
            "no access-control system is configured for this enterprise (contractor.access_system)"
        )
    card = Card(
        card_no=card_number(app["enterprise_id"], app["id"]),
        person_code=app["person_code"],
        name=app["name"],
        id_masked=app["id_masked"],
        company=app["company"],
        project=app["project"],
        valid_from=app["valid_from"],
        valid_until=app["valid_until"],
        places=tuple(app["places"]),
        application_id=app["id"],
        photo_sha256=app["photo"],
    )
    registers.update(
        conn,
        actor,
        "contractor_entry_application",
        app["id"],
        {"status": "approved", "card_no": card.card_no, "status_reason": None},
        reason="entry approved",
    )
    try:
        status, text = push_card(system[0], system[1], card)
    except AccessControlError as exc:
        raise ContractorError(f"access card not delivered: {exc}") from None
    conn.execute(
        """INSERT INTO contractor.access_push (application_id, url, payload, status_code,
               response, ok) VALUES (%s, %s, %s, %s, %s, true)""",
        (app["id"], system[0], Jsonb(card.to_json()), status, text[:2000]),
    )


approvals.register_kind(
    KIND,
    title={"zh": "承包商人员入厂", "en": "Contractor entry"},
    apply=_apply_entry,
)


def applications(
    conn: psycopg.Connection,
    *,
    company_id: int | None = None,
    enterprise_ids: Sequence[int] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Applications with their effective status: ``in_approval`` resolved by the approval
    request (pending, returned by an approver, rejected, withdrawn)."""
    rows = conn.execute(
        """SELECT a.id, p.name, p.person_code, p.id_masked, c.name, a.valid_from, a.valid_until,
                  a.places, a.status, a.status_reason, i.state, a.approval_id, a.card_no,
                  a.flags, pr.code,
                  (SELECT score || '/' || max_score FROM contractor.exam_attempt x
                   WHERE x.application_id = a.id AND x.finished_at IS NOT NULL
                   ORDER BY x.id DESC LIMIT 1)
           FROM contractor.entry_application a
           JOIN contractor.person p ON p.id = a.person_id
           JOIN contractor.company c ON c.id = a.company_id
           LEFT JOIN contractor.project pr ON pr.id = a.project_id
           LEFT JOIN workflow.approval_instance i ON i.id = a.approval_id
           WHERE (%(company)s::integer IS NULL OR a.company_id = %(company)s)
             AND (%(ents)s::integer[] IS NULL OR a.enterprise_id = ANY(%(ents)s))
           ORDER BY a.id DESC LIMIT %(limit)s""",
        {"company": company_id, "ents": enterprise_ids, "limit": limit},
    ).fetchall()
    out = []
    for r in rows:
        status = r[8]
        if status == "in_approval" and r[10] in ("returned", "rejected", "withdrawn"):
            status = r[10]
        out.append(
            {
                "id": r[0],
                "name": r[1],
                "person_code": r[2],
                "id_masked": r[3],
                "company": r[4],
                "valid_from": r[5],
                "valid_until": r[6],
                "places": list(r[7]),
                "status": status,
                "reason": r[9] or "",
                "approval_id": r[11],
                "card_no": r[12] or "",
                "flags": list(r[13]),
                "project": r[14] or "",
                "score": r[15] or "",
            }
        )
    return out
