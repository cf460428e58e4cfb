"""C15 stop-work orders and resume applications through the real approval engine: the order
suspends the project and its permits, the approved resume restores exactly what was there;
a rejected resume leaves the order in force; reasons are classified, searched and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from tests.workflows.contractors.site import TEST, make_site
from workflows import approvals
from workflows.contractors import permits, stop_work
from workflows.contractors.archive import ContractorError


def _status(conn: psycopg.Connection, table: str, row_id: int) -> str:
    query = {"project": "SELECT status FROM contractor.project WHERE id = %s",
             "permit": "SELECT status FROM contractor.work_permit WHERE id = %s",
             "order": "SELECT status FROM contractor.stop_order WHERE id = %s"}[table]  # fmt: skip
    row = conn.execute(query, (row_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_stop_then_resume_restores_the_status(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    reviewer = Actor(site.reviewer_id, site.reviewer)
    safety = Actor(site.safety_id, site.safety)
    contractor = Actor(site.contractor_id, site.contractor)
    registers.update(conn, TEST, "contractor_project", site.project_id, {"status": "in_progress"})
    now = datetime.now(UTC)
    permit = permits.save_permit(
        conn, TEST,
        {"permit_no": "DH-1", "company_id": site.company_id, "project_id": site.project_id,
         "work_type": "hot_work", "location": "T-101", "planned_start": now - timedelta(hours=1),
         "planned_end": now + timedelta(hours=6), "started_at": now - timedelta(minutes=30)},
        enterprise_id=site.enterprise_id,
    )  # fmt: skip
    assert _status(conn, "permit", permit) == "in_progress"
    order_id, stop_approval = stop_work.issue_stop(
        conn, reviewer, company_id=site.company_id, project_id=site.project_id,
        reason_class="violation", reason="动火作业无人监护", scope="储罐检修项目全部作业",
    )  # fmt: skip
    assert _status(conn, "order", order_id) == "requested"
    assert approvals.act(conn, safety, stop_approval, "approve", "立即停工") == "approved"
    assert _status(conn, "order", order_id) == "in_force"
    assert _status(conn, "project", site.project_id) == "suspended"
    assert _status(conn, "permit", permit) == "suspended"
    with pytest.raises(ContractorError, match="suspended by a stop-work order"):
        permits.record_stage(conn, TEST, permit, "started")
    with pytest.raises(ContractorError, match="needs retraining"):
        stop_work.request_resume(
            conn,
            contractor,
            order_id,
            measures="增设监护人",
            evidence="整改照片",
            retraining="",
            company_id=site.company_id,
        )
    evidence = tmp_path / "整改记录.txt"
    evidence.write_text("整改完成，监护人已到位", encoding="utf-8")
    first = stop_work.request_resume(
        conn, contractor, order_id, measures="增设专职监护人", evidence="整改照片及记录",
        retraining="全体作业人员再培训 2 学时", company_id=site.company_id,
        attachments=[evidence], home=tmp_path,
    )  # fmt: skip
    approvals.act(conn, reviewer, first, "reject", "证据不足")
    listed = stop_work.orders(conn, enterprise_ids=[site.enterprise_id])
    assert [o["status"] for o in listed if o["id"] == order_id] == ["in_force"]
    second = stop_work.request_resume(
        conn, contractor, order_id, measures="增设专职监护人，动火点隔离",
        evidence="整改照片、隔离照片", retraining="再培训 2 学时，考试合格",
        company_id=site.company_id,
    )  # fmt: skip
    assert approvals.act(conn, reviewer, second, "approve", "属实") == "pending"
    assert _status(conn, "project", site.project_id) == "suspended"  # not before the last step
    assert approvals.act(conn, safety, second, "approve", "同意复工") == "approved"
    assert _status(conn, "order", order_id) == "resumed"
    assert _status(conn, "project", site.project_id) == "in_progress"
    assert _status(conn, "permit", permit) == "in_progress"
    # every change is in the audit log with the approver as actor
    logged = conn.execute(
        "SELECT actor FROM audit.log WHERE entity = 'contractor.stop_order' AND entity_id = %s"
        " AND after ->> 'status' = 'resumed'",
        (str(order_id),),
    ).fetchall()
    assert logged == [(site.safety,)]


def test_reasons_classified_searched_counted(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    reviewer = Actor(site.reviewer_id, site.reviewer)
    for cls, text in (("violation", "高处作业未系安全带"), ("violation", "动火未清理可燃物"),
                      ("weather", "大风六级以上")):  # fmt: skip
        stop_work.issue_stop(conn, reviewer, company_id=site.company_id, reason_class=cls,
                             reason=text)  # fmt: skip
    with pytest.raises(ContractorError, match="reason class"):
        stop_work.issue_stop(conn, reviewer, company_id=site.company_id, reason_class="nope",
                             reason="x")  # fmt: skip
    counts = {
        c: n for c, _, _, n in stop_work.reason_counts(conn, enterprise_ids=[site.enterprise_id])
    }
    assert counts["violation"] == 2 and counts["weather"] == 1 and counts["hazard"] == 0
    found = stop_work.orders(conn, enterprise_ids=[site.enterprise_id], text="动火")
    assert [o["reason"] for o in found] == ["动火未清理可燃物"]
    assert len(stop_work.orders(conn, enterprise_ids=[site.enterprise_id],
                                reason_class="weather")) == 1  # fmt: skip
    # a contractor sees only its own company's orders
    other = make_site(conn)
    assert stop_work.orders(conn, enterprise_ids=None, company_id=other.company_id) == []
