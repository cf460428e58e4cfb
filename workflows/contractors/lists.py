"""The qualified-contractor list and the blacklist (C19).

    add_to_blacklist(conn, actor, reason="重大事故责任单位", company_id=3)  # off the qualified list
    iid = request_removal(conn, contractor, entry_id, re_education="全员再教育 8 学时，考试合格",
                          attachments=[Path("再教育记录.pdf")])
    # approved (kind contractor.blacklist_removal, confirmed by the enterprise): removed
    enter_qualified(conn, actor, company_id=3, evaluation_id=9)   # by a passed evaluation

The entry process (``workflows.contractors.entry``) reads the same table: a blacklisted
company's applications are refused, a blacklisted person's are flagged to the approver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.registers import REGISTERS, Actor, Register, RegisterError, acting
from workflows import approvals
from workflows.contractors.archive import ContractorError, company

KIND: Final = "contractor.blacklist_removal"

REGISTERS.update(
    {
        # The whole blacklist row (the archive's register knows the first columns only).
        "contractor_blacklist_entry": Register(
            "contractor", "blacklist",
            frozenset({"company_id", "person_id", "reason", "since", "removed_at", "added_by",
                       "removal_approval_id", "removal_note"}),
        ),
        "contractor_qualified": Register(
            "contractor", "qualified",
            frozenset({"enterprise_id", "company_id", "evaluation_id", "since", "removed_at",
                       "removal_reason"}),
        ),
    }
)  # fmt: skip


def enter_qualified(
    conn: psycopg.Connection, actor: Actor, company_id: int, evaluation_id: int | None
) -> int | None:
    """Put the company on the qualified list (id), unless blacklisted or listed already."""
    comp = company(conn, company_id)
    if _active_entry(conn, company_id=company_id) is not None:
        return None
    row = conn.execute(
        "SELECT id FROM contractor.qualified WHERE company_id = %s AND removed_at IS NULL",
        (company_id,),
    ).fetchone()
    if row is not None:
        return None
    return registers.insert(
        conn, actor, "contractor_qualified",
        {"enterprise_id": comp["enterprise_id"], "company_id": company_id,
         "evaluation_id": evaluation_id},
        reason="qualified-contractor list",
    )  # fmt: skip


def leave_qualified(conn: psycopg.Connection, actor: Actor, company_id: int, reason: str) -> bool:
    row = conn.execute(
        "SELECT id FROM contractor.qualified WHERE company_id = %s AND removed_at IS NULL",
        (company_id,),
    ).fetchone()
    if row is None:
        return False
    registers.update(
        conn, actor, "contractor_qualified", int(row[0]),
        {"removed_at": datetime.now(UTC), "removal_reason": reason},
        reason="qualified-contractor list",
    )  # fmt: skip
    return True


def _active_entry(
    conn: psycopg.Connection, *, company_id: int | None = None, person_id: int | None = None
) -> int | None:
    row = conn.execute(
        "SELECT id FROM contractor.blacklist WHERE removed_at IS NULL AND"
        " (company_id = %s OR person_id = %s) LIMIT 1",
        (company_id, person_id),
    ).fetchone()
    return None if row is None else int(row[0])


def add_to_blacklist(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    reason: str,
    company_id: int | None = None,
    person_id: int | None = None,
    since: date | None = None,
) -> int:
    """List a confirmed company or person (exactly one of them)."""
    if (company_id is None) == (person_id is None):
        raise ContractorError("blacklist a company or a person (exactly one)")
    if not reason.strip():
        raise ContractorError("reason: required")
    if company_id is not None:
        company(conn, company_id)
    elif not conn.execute("SELECT 1 FROM contractor.person WHERE id = %s", (person_id,)).fetchone():
        raise ContractorError(f"no contractor person #{person_id}")
    if _active_entry(conn, company_id=company_id, person_id=person_id) is not None:
        raise ContractorError("already on the blacklist")
    with acting(conn, actor, f"blacklist: {reason.strip()}"):
        try:
            entry_id = registers.insert(
                conn, actor, "contractor_blacklist_entry",
                {"company_id": company_id, "person_id": person_id, "reason": reason.strip(),
                 "since": since or date.today(), "added_by": actor.id},
                reason=f"blacklist: {reason.strip()}",
            )  # fmt: skip
        except RegisterError as exc:
            raise ContractorError(str(exc)) from None
        if company_id is not None:
            leave_qualified(conn, actor, company_id, f"blacklisted: {reason.strip()}")
    return entry_id


def _entry(conn: psycopg.Connection, entry_id: int, lock: bool = False) -> dict[str, Any]:
    query = (
        "SELECT b.id, b.company_id, b.person_id, b.reason, b.since, b.removed_at,"
        " b.removal_approval_id, i.state, coalesce(c.name, p.name), p.person_code,"
        " coalesce(c.enterprise_id, (SELECT c2.enterprise_id FROM contractor.employment e"
        "   JOIN contractor.company c2 ON c2.id = e.company_id WHERE e.person_id = b.person_id"
        "   ORDER BY e.status, e.joined_on DESC LIMIT 1))"
        " FROM contractor.blacklist b"
        " LEFT JOIN contractor.company c ON c.id = b.company_id"
        " LEFT JOIN contractor.person p ON p.id = b.person_id"
        " LEFT JOIN workflow.approval_instance i ON i.id = b.removal_approval_id"
        " WHERE b.id = %s"
    )
    row = conn.execute(query + (" FOR UPDATE OF b" if lock else ""), (entry_id,)).fetchone()
    if row is None:
        raise ContractorError(f"no blacklist entry #{entry_id}")
    keys = ("id", "company_id", "person_id", "reason", "since", "removed_at", "approval_id",
            "approval_state", "name", "person_code", "enterprise_id")  # fmt: skip
    return dict(zip(keys, row, strict=True))


def _may_apply(conn: psycopg.Connection, entry: Mapping[str, Any], company_id: int) -> bool:
    """A contractor applies for its own company or for one of its people."""
    if entry["company_id"] is not None:
        return bool(entry["company_id"] == company_id)
    return bool(
        conn.execute(
            "SELECT 1 FROM contractor.employment WHERE person_id = %s AND company_id = %s",
            (entry["person_id"], company_id),
        ).fetchone()
    )


def _check_removal(conn: psycopg.Connection, payload: Mapping[str, Any]) -> None:
    if not str(payload.get("re_education") or "").strip():
        raise ContractorError(
            "re_education: describe the re-education done (course, hours, result) — the"
            " enterprise confirms it before removal"
        )
    if "blacklist_id" not in payload:
        raise ContractorError("blacklist_id: required")


def request_removal(
    conn: psycopg.Connection,
    actor: Actor,
    entry_id: int,
    *,
    re_education: str,
    company_id: int | None = None,
    attachments: Sequence[Path] = (),
    home: Path | None = None,
) -> int:
    """The application for removal after re-education; its approval id."""
    with acting(conn, actor, "blacklist removal application"):
        entry = _entry(conn, entry_id, lock=True)
        if company_id is not None and not _may_apply(conn, entry, company_id):
            raise ContractorError(f"no blacklist entry #{entry_id} of this company")
        if entry["removed_at"] is not None:
            raise ContractorError(f"blacklist entry #{entry_id} was removed already")
        if entry["approval_state"] in ("pending", "returned"):
            raise ContractorError(
                f"a removal application (#{entry['approval_id']}) is under way already"
            )
        payload = {
            "blacklist_id": entry_id,
            "name": entry["name"],
            "person_code": entry["person_code"],
            "reason": entry["reason"],
            "since": entry["since"].isoformat(),
            "re_education": re_education.strip(),
        }
        _check_removal(conn, payload)  # fmt: skip
        approval_id = approvals.submit(
            conn, actor, kind=KIND, enterprise_id=entry["enterprise_id"],
            subject=f"黑名单移除申请：{entry['name']}", payload=payload,
            attachments=attachments, home=home,
        )  # fmt: skip
        registers.update(conn, actor, "contractor_blacklist_entry", entry_id,
                         {"removal_approval_id": approval_id},
                         reason="blacklist removal application")  # fmt: skip
    return approval_id


def _apply_removal(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    entry = _entry(conn, int(payload["blacklist_id"]), lock=True)
    if entry["removed_at"] is not None:
        raise ContractorError(f"blacklist entry #{entry['id']} was removed already")
    registers.update(
        conn, actor, "contractor_blacklist_entry", entry["id"],
        {"removed_at": datetime.now(UTC),
         "removal_note": f"re-education confirmed: {payload.get('re_education', '')}"[:2000]},
        reason="blacklist removal approved",
    )  # fmt: skip


approvals.register_kind(
    KIND,
    title={"zh": "黑名单移除申请", "en": "Blacklist removal"},
    apply=_apply_removal,
    validate=_check_removal,
)


def blacklist(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None = None,
    include_removed: bool = True,
) -> list[dict[str, Any]]:
    """Entries a viewer may see: companies of its hosts, and people employed there (a
    contractor: its own company and its own people)."""
    rows = conn.execute(
        """SELECT b.id, CASE WHEN b.company_id IS NULL THEN 'person' ELSE 'company' END,
                  coalesce(c.name, p.name), p.person_code, p.id_masked, b.reason, b.since,
                  b.removed_at, b.removal_approval_id, i.state, b.removal_note
           FROM contractor.blacklist b
           LEFT JOIN contractor.company c ON c.id = b.company_id
           LEFT JOIN contractor.person p ON p.id = b.person_id
           LEFT JOIN workflow.approval_instance i ON i.id = b.removal_approval_id
           WHERE (%(removed)s OR b.removed_at IS NULL)
             AND ((b.company_id IS NOT NULL
                   AND (%(ents)s::integer[] IS NULL OR c.enterprise_id = ANY(%(ents)s))
                   AND (%(company)s::integer IS NULL OR b.company_id = %(company)s))
               OR (b.person_id IS NOT NULL AND EXISTS (
                   SELECT 1 FROM contractor.employment e
                   JOIN contractor.company ec ON ec.id = e.company_id
                   WHERE e.person_id = b.person_id
                     AND (%(ents)s::integer[] IS NULL OR ec.enterprise_id = ANY(%(ents)s))
                     AND (%(company)s::integer IS NULL OR e.company_id = %(company)s))))
           ORDER BY b.removed_at IS NOT NULL, b.since DESC, b.id DESC""",
        {"ents": enterprise_ids, "company": company_id, "removed": include_removed},
    ).fetchall()
    keys = ("id", "kind", "name", "person_code", "id_masked", "reason", "since", "removed_at",
            "approval_id", "approval_state", "removal_note")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def qualified_list(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None = None,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT q.id, c.name, c.category, q.since, v.total, v.stage, q.company_id
           FROM contractor.qualified q
           JOIN contractor.company c ON c.id = q.company_id
           LEFT JOIN contractor.evaluation v ON v.id = q.evaluation_id
           WHERE q.removed_at IS NULL
             AND (%(ents)s::integer[] IS NULL OR q.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR q.company_id = %(company)s)
           ORDER BY c.name""",
        {"ents": enterprise_ids, "company": company_id},
    ).fetchall()
    keys = ("id", "company", "category", "since", "total", "stage", "company_id")
    return [dict(zip(keys, r, strict=True)) for r in rows]
