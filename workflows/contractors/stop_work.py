"""Stop-work orders and resume applications (C15) through the approval engine.

    order_id, approval_id = issue_stop(conn, actor, company_id=3, project_id=5,
                                       reason_class="violation", reason="动火未监护")
    # approved (kind contractor.stop_work): in force, project suspended, its permits suspended
    resume_id = request_resume(conn, contractor, order_id, measures="…", evidence="…",
                               retraining="全员再培训 2 学时", attachments=[Path("整改.pdf")])
    # approved (kind contractor.resume): project and permits back to what they were
    reason_counts(conn, enterprise_ids=[3])      # stop reasons classified and counted
    orders(conn, enterprise_ids=[3], text="动火", reason_class="violation")   # searched

A rejected or withdrawn resume application leaves the order in force; a new one can be made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.registers import REGISTERS, Actor, Register, acting
from workflows import approvals
from workflows.contractors.archive import ContractorError, company

STOP_KIND: Final = "contractor.stop_work"
RESUME_KIND: Final = "contractor.resume"

REGISTERS["contractor_stop_order"] = Register(
    "contractor",
    "stop_order",
    frozenset({"enterprise_id", "company_id", "project_id", "permit_id", "reason_class",
               "reason", "scope", "status", "ordered_by", "stop_approval_id", "in_force_at",
               "project_status_before", "permits_suspended", "resume_approval_id", "measures",
               "evidence", "retraining", "resumed_at"}),
)  # fmt: skip


def reason_classes(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT code, name_zh, name_en FROM contractor.stop_reason_class ORDER BY code"
        )
    ]


def _order(conn: psycopg.Connection, order_id: int, lock: bool = False) -> dict[str, Any]:
    row = conn.execute(
        """SELECT s.id, s.enterprise_id, s.company_id, s.project_id, s.permit_id, s.status,
                  s.reason_class, s.reason, c.name, pr.code, s.project_status_before,
                  s.permits_suspended, s.resume_approval_id
           FROM contractor.stop_order s JOIN contractor.company c ON c.id = s.company_id
           LEFT JOIN contractor.project pr ON pr.id = s.project_id
           WHERE s.id = %s"""  # noqa: S608 (a fixed suffix from code)
        + (" FOR UPDATE OF s" if lock else ""),
        (order_id,),
    ).fetchone()
    if row is None:
        raise ContractorError(f"no stop-work order #{order_id}")
    keys = ("id", "enterprise_id", "company_id", "project_id", "permit_id", "status",
            "reason_class", "reason", "company", "project", "project_status_before",
            "permits_suspended", "resume_approval_id")  # fmt: skip
    return dict(zip(keys, row, strict=True))


def issue_stop(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    company_id: int,
    reason_class: str,
    reason: str,
    project_id: int | None = None,
    permit_id: int | None = None,
    scope: str | None = None,
    attachments: Sequence[Path] = (),
    home: Path | None = None,
) -> tuple[int, int]:
    """A stop-work order, submitted for approval; ``(order id, approval id)``."""
    comp = company(conn, company_id)
    if not reason.strip():
        raise ContractorError("reason: required")
    if reason_class not in {c for c, _, _ in reason_classes(conn)}:
        raise ContractorError(f"reason class {reason_class!r} is not one of the classes")
    for what, rid, table in (
        ("project", project_id, "project"),
        ("permit", permit_id, "work_permit"),
    ):
        if rid is None:
            continue
        q = {
            "project": "SELECT company_id FROM contractor.project WHERE id = %s",
            "work_permit": "SELECT company_id FROM contractor.work_permit WHERE id = %s",
        }[table]
        row = conn.execute(q, (rid,)).fetchone()
        if row is None or row[0] != company_id:
            raise ContractorError(f"{what} #{rid} is not one of {comp['name']}")
    with acting(conn, actor, "stop-work order"):
        order_id = registers.insert(
            conn, actor, "contractor_stop_order",
            {"enterprise_id": comp["enterprise_id"], "company_id": company_id,
             "project_id": project_id, "permit_id": permit_id, "reason_class": reason_class,
             "reason": reason.strip(), "scope": (scope or "").strip() or None,
             "ordered_by": actor.id},
            reason="stop-work order",
        )  # fmt: skip
        approval_id = approvals.submit(
            conn,
            actor,
            kind=STOP_KIND,
            enterprise_id=comp["enterprise_id"],
            subject=f"{comp['name']} 停工令：{reason.strip()[:80]}",
            payload={"stop_order_id": order_id, "company": comp["name"],
                     "reason_class": reason_class, "reason": reason.strip(),
                     "project_id": project_id, "permit_id": permit_id},
            attachments=attachments,
            home=home,
        )  # fmt: skip
        registers.update(conn, actor, "contractor_stop_order", order_id,
                         {"stop_approval_id": approval_id}, reason="stop-work order")  # fmt: skip
    return order_id, approval_id


def _apply_stop(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """The order is in force: the project is suspended and the permits it covers too."""
    order = _order(conn, int(payload["stop_order_id"]), lock=True)
    if order["status"] != "requested":
        raise ContractorError(f"stop-work order #{order['id']} is {order['status']}")
    before = None
    if order["project_id"] is not None:
        row = conn.execute(
            "SELECT status FROM contractor.project WHERE id = %s FOR UPDATE",
            (order["project_id"],),
        ).fetchone()
        assert row is not None
        before = row[0]
        if before != "suspended":
            registers.update(
                conn,
                actor,
                "contractor_project",
                order["project_id"],
                {"status": "suspended"},
                reason=f"stop-work order #{order['id']}",
            )
    permit_ids = [
        r[0]
        for r in conn.execute(
            """SELECT id FROM contractor.work_permit
               WHERE status IN ('planned', 'in_progress') AND company_id = %(company)s
                 AND (%(permit)s::integer IS NULL OR id = %(permit)s)
                 AND (%(project)s::integer IS NULL OR project_id = %(project)s)""",
            {"company": order["company_id"], "permit": order["permit_id"],
             "project": order["project_id"]},
        )
    ]  # fmt: skip
    for pid in permit_ids:
        registers.update(conn, actor, "contractor_work_permit", pid, {"status": "suspended"},
                         reason=f"stop-work order #{order['id']}")  # fmt: skip
    registers.update(
        conn, actor, "contractor_stop_order", order["id"],
        {"status": "in_force", "in_force_at": datetime.now(UTC),
         "project_status_before": before, "permits_suspended": permit_ids},
        reason="stop-work order approved",
    )  # fmt: skip


def _check_resume(conn: psycopg.Connection, payload: Mapping[str, Any]) -> None:
    missing = [k for k in ("measures", "evidence", "retraining")
               if not str(payload.get(k) or "").strip()]  # fmt: skip
    if missing:
        raise ContractorError(
            "a resume application needs "
            + ", ".join(missing)
            + " (corrective measures, evidence of them, retraining of the people)"
        )
    if "stop_order_id" not in payload:
        raise ContractorError("stop_order_id: required")


def _effective(status: str, resume_state: str | None) -> str:
    """The order's status as people see it: a resume application that was rejected or
    withdrawn leaves the order in force."""
    if status == "resume_requested" and resume_state in ("rejected", "withdrawn"):
        return "in_force"
    return status


def request_resume(
    conn: psycopg.Connection,
    actor: Actor,
    order_id: int,
    *,
    measures: str,
    evidence: str,
    retraining: str,
    company_id: int | None = None,
    attachments: Sequence[Path] = (),
    home: Path | None = None,
) -> int:
    """The contractor's resume application (reason, measures, evidence, retraining); its
    approval id."""
    with acting(conn, actor, "resume application"):
        order = _order(conn, order_id, lock=True)
        if company_id is not None and order["company_id"] != company_id:
            raise ContractorError(f"no stop-work order #{order_id} of this company")
        state = None
        if order["resume_approval_id"] is not None:
            state = approvals.get_instance(conn, order["resume_approval_id"]).state
        if _effective(order["status"], state) != "in_force":
            raise ContractorError(f"stop-work order #{order_id} is {order['status']}: no resume")
        payload = {"stop_order_id": order_id, "company": order["company"],
                   "reason": order["reason"], "measures": measures.strip(),
                   "evidence": evidence.strip(), "retraining": retraining.strip()}  # fmt: skip
        _check_resume(conn, payload)
        approval_id = approvals.submit(
            conn, actor, kind=RESUME_KIND, enterprise_id=order["enterprise_id"],
            subject=f"{order['company']} 复工申请（停工令 #{order_id}）", payload=payload,
            attachments=attachments, home=home,
        )  # fmt: skip
        registers.update(
            conn, actor, "contractor_stop_order", order_id,
            {"status": "resume_requested", "resume_approval_id": approval_id,
             "measures": payload["measures"], "evidence": payload["evidence"],
             "retraining": payload["retraining"]},
            reason="resume application",
        )  # fmt: skip
    return approval_id


def _apply_resume(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """Work resumes: the project and the permits get back the status the stop took away,
    unless another order still holds them."""
    order = _order(conn, int(payload["stop_order_id"]), lock=True)
    if order["status"] != "resume_requested":
        raise ContractorError(f"stop-work order #{order['id']} is {order['status']}")
    others = conn.execute(
        """SELECT id FROM contractor.stop_order WHERE id <> %s AND company_id = %s
             AND status IN ('in_force', 'resume_requested')
             AND (project_id IS NULL OR project_id IS NOT DISTINCT FROM %s)""",
        (order["id"], order["company_id"], order["project_id"]),
    ).fetchall()
    if not others:
        before = order["project_status_before"]
        if order["project_id"] is not None and before and before != "suspended":
            registers.update(
                conn,
                actor,
                "contractor_project",
                order["project_id"],
                {"status": before},
                reason=f"resume after stop #{order['id']}",
            )
        for pid in order["permits_suspended"]:
            row = conn.execute(
                "SELECT status, started_at FROM contractor.work_permit WHERE id = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "suspended":
                registers.update(
                    conn, actor, "contractor_work_permit", pid,
                    {"status": "in_progress" if row[1] else "planned"},
                    reason=f"resume after stop #{order['id']}",
                )  # fmt: skip
    registers.update(conn, actor, "contractor_stop_order", order["id"],
                     {"status": "resumed", "resumed_at": datetime.now(UTC)},
                     reason="resume approved")  # fmt: skip


approvals.register_kind(
    STOP_KIND, title={"zh": "承包商停工令", "en": "Contractor stop-work order"}, apply=_apply_stop
)
approvals.register_kind(
    RESUME_KIND,
    title={"zh": "承包商复工申请", "en": "Contractor resume application"},
    apply=_apply_resume,
    validate=_check_resume,
)


def orders(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None = None,
    text: str | None = None,
    reason_class: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 300,
) -> list[dict[str, Any]]:
    """Stop-work orders, searched by words of the reason, class and period."""
    pattern = f"%{text.strip()}%" if text and text.strip() else None
    rows = conn.execute(
        """SELECT s.id, c.name, pr.code, s.reason_class, s.reason, s.status, s.ordered_at,
                  s.in_force_at, s.resumed_at, s.measures, s.evidence, s.retraining,
                  si.state, ri.state, s.company_id, s.stop_approval_id, s.resume_approval_id
           FROM contractor.stop_order s
           JOIN contractor.company c ON c.id = s.company_id
           LEFT JOIN contractor.project pr ON pr.id = s.project_id
           LEFT JOIN workflow.approval_instance si ON si.id = s.stop_approval_id
           LEFT JOIN workflow.approval_instance ri ON ri.id = s.resume_approval_id
           WHERE (%(ents)s::integer[] IS NULL OR s.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR s.company_id = %(company)s)
             AND (%(pattern)s::text IS NULL OR s.reason ILIKE %(pattern)s
                  OR s.measures ILIKE %(pattern)s OR c.name ILIKE %(pattern)s)
             AND (%(class)s::text IS NULL OR s.reason_class = %(class)s)
             AND (%(since)s::date IS NULL OR s.ordered_at >= %(since)s)
             AND (%(until)s::date IS NULL OR s.ordered_at < %(until)s::date + 1)
           ORDER BY s.ordered_at DESC, s.id DESC LIMIT %(limit)s""",
        {"ents": enterprise_ids, "company": company_id, "pattern": pattern,
         "class": reason_class or None, "since": since, "until": until, "limit": limit},
    ).fetchall()  # fmt: skip
    out = []
    for r in rows:
        status = _effective(r[5], r[13])
        if status == "requested" and r[12] in ("rejected", "withdrawn"):
            status = "rejected"
        out.append(
            {"id": r[0], "company": r[1], "project": r[2] or "", "reason_class": r[3],
             "reason": r[4], "status": status, "ordered_at": r[6], "in_force_at": r[7],
             "resumed_at": r[8], "measures": r[9] or "", "evidence": r[10] or "",
             "retraining": r[11] or "", "company_id": r[14], "stop_approval_id": r[15],
             "resume_approval_id": r[16]}
        )  # fmt: skip
    return out


def reason_counts(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[tuple[str, str, str, int]]:
    """``(class, 中文, English, count)`` for every class, most frequent first."""
    rows = conn.execute(
        """SELECT k.code, k.name_zh, k.name_en, count(s.id)
           FROM contractor.stop_reason_class k
           LEFT JOIN contractor.stop_order s ON s.reason_class = k.code
             AND (%(ents)s::integer[] IS NULL OR s.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR s.company_id = %(company)s)
             AND (%(since)s::date IS NULL OR s.ordered_at >= %(since)s)
             AND (%(until)s::date IS NULL OR s.ordered_at < %(until)s::date + 1)
           GROUP BY k.code, k.name_zh, k.name_en ORDER BY 4 DESC, 1""",
        {"ents": enterprise_ids, "company": company_id, "since": since, "until": until},
    ).fetchall()
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]
