"""The approval engine against the real database (issue 6; A16, A18, C9, C15, C19, P6, V20, R7):
rejection, return and resubmission, withdrawal, refusal of users without the step's group or
role, multi-step approval reaching ``apply`` (change visible and audited), a failing apply
that leaves the request pending, levels, attachments, definitions, and late-step reminders
once per period (injectable clock), with an e-mail through a real SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.workflows.alerting_servers import make_user, smtp_server
from workflows import alert_config, approval_files, approvals
from workflows.approval_defs import find_definition, list_definitions, save_definition
from workflows.approval_flow import (
    ApprovalError,
    NotApprover,
    Step,
    check_steps,
    overdue_period,
    resolve_definition,
    step_due,
    transition,
)
from workflows.approvals import ApplyError, act, register_kind, submit
from workflows.delivery import deliver_due

TEST = Actor(None, "test")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

# -- pure rules -------------------------------------------------------------------------------


def test_transitions_pure() -> None:
    approver = {"is_requester": False, "is_approver": True}
    assert transition("pending", 1, 2, "approve", **approver).step == 2
    last = transition("pending", 2, 2, "approve", **approver)
    assert (last.state, last.step, last.final) == ("approved", None, True)
    assert transition("pending", 1, 2, "reject", comment="不符合", **approver).state == "rejected"
    assert transition("pending", 2, 2, "return", comment="补充", **approver).state == "returned"
    back = transition("returned", None, 2, "resubmit", is_requester=True, is_approver=False)
    assert (back.state, back.step) == ("pending", 1)
    gone = transition("returned", None, 2, "withdraw", is_requester=True, is_approver=False)
    assert gone.state == "withdrawn"
    with pytest.raises(ApprovalError, match="comment is required"):
        transition("pending", 1, 2, "reject", **approver)
    with pytest.raises(NotApprover):
        transition("pending", 1, 2, "approve", is_requester=False, is_approver=False)
    with pytest.raises(ApprovalError, match="you submitted this request"):
        transition("pending", 1, 2, "approve", is_requester=True, is_approver=True)
    with pytest.raises(ApprovalError, match="already approved"):
        transition("approved", None, 2, "withdraw", is_requester=True, is_approver=False)
    with pytest.raises(ApprovalError, match="only the requester"):
        transition("pending", 1, 2, "withdraw", **approver)
    with pytest.raises(ApprovalError, match="only a returned request"):
        transition("pending", 1, 2, "resubmit", is_requester=True, is_approver=False)
    with pytest.raises(ApprovalError, match="unknown action"):
        transition("pending", 1, 2, "escalate", **approver)


def test_steps_levels_and_deadlines_pure() -> None:
    steps = check_steps([Step(0, " 审核 ", ("safety_mgmt", "safety_mgmt"), (), 24.0)])
    assert steps[0] == Step(1, "审核", ("safety_mgmt",), (), 24.0, 24.0)
    with pytest.raises(ApprovalError, match=r"step 1 .*at least one approver"):
        check_steps([Step(1, "审核")])
    with pytest.raises(ApprovalError, match="unknown role 'boss'"):
        check_steps([Step(1, "审核", (), ("boss",))])
    with pytest.raises(ApprovalError, match="'安全' is not a group code"):
        check_steps([Step(1, "审核", ("安全",))])
    with pytest.raises(ApprovalError, match="deadline hours must be a positive"):
        check_steps([Step(1, "审核", ("a",), (), -1.0)])
    rows = [(1, None, ""), (2, None, "emergency"), (3, 7, ""), (4, 7, "emergency")]
    assert resolve_definition(rows, 7, "emergency") == 4
    assert resolve_definition(rows, 7, "high") == 3
    assert resolve_definition(rows, 8, "emergency") == 2
    assert resolve_definition(rows, None, "") == 1
    assert resolve_definition([], 7, "") is None
    step = Step(1, "审核", ("a",), (), 2.0, 1.0)
    assert step_due(T0, step, None) == T0 + timedelta(hours=2)
    assert step_due(T0, step, T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    assert step_due(T0, Step(1, "审核", ("a",)), None) is None
    hour = timedelta(hours=1)
    assert overdue_period(T0, T0 + hour, hour) is None
    assert overdue_period(T0 + hour, T0 + hour, hour) == 0
    assert overdue_period(T0 + 2.5 * hour, T0 + hour, hour) == 1


def test_attachment_checks_pure(tmp_path: Path) -> None:
    pdf = approval_files.store_bytes(tmp_path, "整改报告.pdf", b"%PDF-1.4 evidence")
    assert pdf.content_type == "application/pdf" and len(pdf.sha256) == 64
    assert approval_files.verify(tmp_path, pdf.sha256)
    again = approval_files.store_bytes(tmp_path, "copy.pdf", b"%PDF-1.4 evidence")
    assert again.sha256 == pdf.sha256  # stored once by content
    with pytest.raises(ApprovalError, match=r"evil\.exe: file type \.exe is not accepted"):
        approval_files.check("evil.exe", b"MZ")
    with pytest.raises(ApprovalError, match=r"fake\.pdf: the content is not a \.pdf file"):
        approval_files.check("fake.pdf", b"<html>")
    with pytest.raises(ApprovalError, match="over the 20 MiB limit"):
        approval_files.check("big.txt", b"x" * (approval_files.MAX_BYTES + 1))
    assert approval_files.check("说明.txt", "检修完毕".encode("gb18030")) == "text/plain"
    approval_files.path_of(tmp_path, pdf.sha256).write_bytes(b"tampered")
    assert not approval_files.verify(tmp_path, pdf.sha256)


# -- fixtures ---------------------------------------------------------------------------------


def _user(conn: psycopg.Connection, role: str, ent: int | None, email: str | None = None) -> Actor:
    uid = make_user(conn, role=role, enterprise_id=ent, email=email)
    name = conn.execute("SELECT name FROM auth.app_user WHERE id = %s", (uid,)).fetchone()
    assert name is not None
    return Actor(uid, name[0])


def _group(conn: psycopg.Connection, ent: int | None, code: str, *members: Actor) -> int:
    gid = registers.insert(
        conn, TEST, "user_group", {"enterprise_id": ent, "code": code, "name": code}
    )
    for m in members:
        registers.insert(conn, TEST, "user_group_member", {"group_id": gid, "user_id": m.id})
    return gid


class Plant:
    """An enterprise with a requester, two approvers in two groups, an engineer, an outsider
    and a two-step definition of a fresh kind whose apply records what it saw."""

    def __init__(self, conn: psycopg.Connection, *, steps: list[Step] | None = None) -> None:
        self.ent, _ = make_enterprise(conn, "审批测试")
        self.requester = _user(conn, "operator", self.ent)
        self.tech = _user(conn, "operator", self.ent)
        self.safety = _user(conn, "operator", self.ent)
        self.engineer = _user(conn, "engineer", self.ent)
        self.outsider = _user(conn, "operator", self.ent)
        _group(conn, self.ent, "process_tech", self.tech, self.requester)
        _group(conn, self.ent, "safety_mgmt", self.safety)
        self.kind = f"test.k{uuid.uuid4().hex[:8]}"
        self.applied: list[Mapping[str, Any]] = []
        self.fail_with: Exception | None = None
        register_kind(self.kind, title={"zh": "测试变更", "en": "Test change"}, apply=self._apply)
        self.steps = steps or [
            Step(1, "工艺技术审核", ("process_tech",), (), 24.0),
            Step(2, "安全管理审批", ("safety_mgmt",), (), 48.0),
        ]
        save_definition(conn, TEST, kind=self.kind, enterprise_id=self.ent, steps=self.steps)

    def _apply(self, conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.applied.append(dict(payload))

    def submit(self, conn: psycopg.Connection, **kw: Any) -> int:
        args: dict[str, Any] = {
            "kind": self.kind,
            "enterprise_id": self.ent,
            "subject": "FIC101 高报限值调整",
            "payload": {"tag": "FIC101", "limit": 85.0},
        }
        args.update(kw)
        return submit(conn, self.requester, **args)


def _state(conn: psycopg.Connection, iid: int) -> tuple[str, int | None, str | None]:
    row = conn.execute(
        "SELECT state, step, apply_error FROM workflow.approval_instance WHERE id = %s", (iid,)
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _audit_actions(conn: psycopg.Connection, iid: int) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT action, actor FROM audit.log WHERE entity = 'workflow.approval_instance'"
        " AND entity_id = %s ORDER BY id",
        (str(iid),),
    ).fetchall()
    return [(a, b) for a, b in rows]


def _outbox_subjects(conn: psycopg.Connection, user: Actor) -> list[str]:
    rows = conn.execute(
        "SELECT subject FROM workflow.outbox WHERE user_id = %s ORDER BY id", (user.id,)
    ).fetchall()
    return [r[0] for r in rows]


# -- the engine -------------------------------------------------------------------------------


def test_rejection(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    iid = p.submit(conn)
    assert _state(conn, iid) == ("pending", 1, None)
    # The first step's approver was told (in-app, no e-mail address).
    assert any(s.startswith("待审批：测试变更") for s in _outbox_subjects(conn, p.tech))
    with pytest.raises(ApprovalError, match="comment is required to reject"):
        act(conn, p.tech, iid, "reject")
    assert act(conn, p.tech, iid, "reject", "限值依据不足") == "rejected"
    assert _state(conn, iid) == ("rejected", None, None)
    with pytest.raises(ApprovalError, match="already rejected"):
        act(conn, p.requester, iid, "withdraw")
    assert p.applied == []
    assert _audit_actions(conn, iid) == [("submit", p.requester.name), ("reject", p.tech.name)]
    reason = conn.execute(
        "SELECT reason FROM audit.log WHERE entity = 'workflow.approval_instance'"
        " AND entity_id = %s AND action = 'reject'",
        (str(iid),),
    ).fetchone()
    assert reason == ("限值依据不足",)
    assert any(s.startswith("审批驳回：") for s in _outbox_subjects(conn, p.requester))
    hist = approvals.history(conn, iid)
    assert [(h["action"], h["comment"]) for h in hist] == [
        ("submit", None),
        ("reject", "限值依据不足"),
    ]


def test_return_and_resubmission(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    iid = p.submit(conn)
    assert act(conn, p.tech, iid, "approve", "同意") == "pending"
    assert _state(conn, iid)[:2] == ("pending", 2)
    assert act(conn, p.safety, iid, "return", "请附上工艺评估") == "returned"
    assert any(s.startswith("退回修改：") for s in _outbox_subjects(conn, p.requester))
    with pytest.raises(ApprovalError, match="only a pending request can be approved"):
        act(conn, p.safety, iid, "approve")
    with pytest.raises(ApprovalError, match="only the requester may resubmit"):
        act(conn, p.safety, iid, "resubmit")
    with pytest.raises(ApprovalError, match="only a resubmission may change"):
        act(conn, p.tech, iid, "approve", payload={"limit": 1})
    state = act(
        conn, p.requester, iid, "resubmit", "已补充评估", payload={"tag": "FIC101", "limit": 82.0}
    )
    # From step 1 again: the payload changed since the first approval.
    assert state == "pending" and _state(conn, iid)[:2] == ("pending", 1)
    assert act(conn, p.tech, iid, "approve") == "pending"
    assert act(conn, p.safety, iid, "approve", "同意") == "approved"
    assert p.applied == [{"tag": "FIC101", "limit": 82.0}]
    assert [a for a, _ in _audit_actions(conn, iid)] == [
        "submit", "approve", "return", "resubmit", "approve", "approve",
    ]  # fmt: skip
    resub = conn.execute(
        "SELECT after -> 'payload' ->> 'limit' FROM audit.log WHERE entity ="
        " 'workflow.approval_instance' AND entity_id = %s AND action = 'resubmit'",
        (str(iid),),
    ).fetchone()
    assert resub == ("82.0",)


def test_withdrawal(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    iid = p.submit(conn)
    with pytest.raises(ApprovalError, match="only the requester may withdraw"):
        act(conn, p.tech, iid, "withdraw")
    assert act(conn, p.requester, iid, "withdraw", "不再需要") == "withdrawn"
    assert _state(conn, iid) == ("withdrawn", None, None)
    with pytest.raises(ApprovalError, match="already withdrawn"):
        act(conn, p.tech, iid, "approve")
    assert approvals.inbox(conn, p.tech.id or 0) == []
    assert _audit_actions(conn, iid)[-1] == ("withdraw", p.requester.name)


def test_users_without_the_role_are_refused(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    iid = p.submit(conn)
    with pytest.raises(ApprovalError) as err:
        act(conn, p.outsider, iid, "approve")
    assert str(err.value) == (
        f"request #{iid}: {p.outsider.name} is not an approver of step 1 (工艺技术审核):"
        " it needs group process_tech"
    )
    # The second step's approver may not decide the first step.
    with pytest.raises(ApprovalError, match="not an approver of step 1"):
        act(conn, p.safety, iid, "approve")
    # The requester is in process_tech but never decides their own request.
    with pytest.raises(ApprovalError, match="you submitted this request"):
        act(conn, p.requester, iid, "approve")
    # Same group code in another enterprise gives no right here.
    other_ent, _ = make_enterprise(conn, "别家企业")
    stranger = _user(conn, "operator", other_ent)
    _group(conn, other_ent, "process_tech", stranger)
    with pytest.raises(ApprovalError, match="not an approver"):
        act(conn, stranger, iid, "approve")
    assert _state(conn, iid) == ("pending", 1, None)
    assert [i.id for i in approvals.inbox(conn, p.tech.id or 0)] == [iid]
    for who in (p.outsider, p.safety, p.requester, stranger):
        assert iid not in [i.id for i in approvals.inbox(conn, who.id or 0)]
    assert not approvals.can_view(conn, stranger.id or 0, iid)
    assert approvals.can_view(conn, p.requester.id or 0, iid)
    # Nothing of the refusals reached the history.
    assert [h["action"] for h in approvals.history(conn, iid)] == ["submit"]
    # A user outside the enterprise may not submit for it either.
    with pytest.raises(ApprovalError, match="may not submit requests for enterprise"):
        submit(conn, stranger, kind=p.kind, enterprise_id=p.ent, subject="x", payload={})


def test_multi_step_approval_applies_and_audits(conn: psycopg.Connection) -> None:
    """Three steps (group, group, login role): the last approval changes the tag ledger."""
    ent, _ = make_enterprise(conn, "审批应用")
    tag = registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "name": "TI-201"})
    p = Plant(conn)
    engineer = _user(conn, "engineer", ent)
    tech = _user(conn, "operator", ent)
    safety = _user(conn, "operator", ent)
    requester = _user(conn, "operator", ent)
    _group(conn, ent, "process_tech", tech)
    _group(conn, ent, "safety_mgmt", safety)
    kind = f"test.tag{uuid.uuid4().hex[:8]}"

    def apply(c: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
        registers.update(
            c, actor, "tag", int(payload["tag_id"]), {"description": payload["description"]}
        )

    register_kind(kind, title={"zh": "位号描述变更", "en": "Tag description"}, apply=apply)
    save_definition(
        conn,
        TEST,
        kind=kind,
        steps=[
            Step(1, "工艺技术审核", ("process_tech",)),
            Step(2, "安全管理审批", ("safety_mgmt",)),
            Step(3, "工程师确认", (), ("engineer",)),
        ],
    )
    iid = submit(
        conn,
        requester,
        kind=kind,
        enterprise_id=ent,
        subject="TI-201 描述更正",
        payload={"tag_id": tag, "description": "反应器出口温度"},
    )
    assert act(conn, tech, iid, "approve") == "pending"
    assert act(conn, safety, iid, "approve") == "pending"
    # An engineer of another enterprise holds the role but not the scope.
    with pytest.raises(ApprovalError, match=r"step 3 .*needs role engineer"):
        act(conn, p.engineer, iid, "approve")
    assert act(conn, engineer, iid, "approve", "核对无误") == "approved"
    row = conn.execute("SELECT description FROM registry.tag WHERE id = %s", (tag,)).fetchone()
    assert row == ("反应器出口温度",)
    change = conn.execute(
        "SELECT actor, after ->> 'description' FROM audit.log"
        " WHERE entity = 'registry.tag' AND entity_id = %s AND action = 'update'",
        (str(tag),),
    ).fetchall()
    assert change == [(engineer.name, "反应器出口温度")]
    assert _audit_actions(conn, iid) == [
        ("submit", requester.name),
        ("approve", tech.name),
        ("approve", safety.name),
        ("approve", engineer.name),
    ]
    assert any(s.startswith("审批通过：") for s in _outbox_subjects(conn, requester))
    assert approvals.get_instance(conn, iid).decided_at is not None


def test_failing_apply_leaves_the_request_pending(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    iid = p.submit(conn)
    act(conn, p.tech, iid, "approve")
    p.fail_with = RuntimeError("报警点 FIC101/H 已被删除")
    with pytest.raises(ApplyError, match=r"applying it failed .*FIC101/H 已被删除.*step 2"):
        act(conn, p.safety, iid, "approve", "同意")
    assert _state(conn, iid) == ("pending", 2, "报警点 FIC101/H 已被删除")
    assert [h["action"] for h in approvals.history(conn, iid)] == [
        "submit", "approve", "apply_failed",
    ]  # fmt: skip
    assert _audit_actions(conn, iid)[-1] == ("apply_failed", p.safety.name)
    assert iid in [i.id for i in approvals.inbox(conn, p.safety.id or 0)]
    # A database error inside apply is rolled back with it, and the connection stays usable.
    p.fail_with = None

    def broken(c: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
        c.execute("UPDATE registry.tag SET name = NULL WHERE id = -1")
        c.execute("SELECT 1/0")

    register_kind(p.kind, title={"zh": "测试变更", "en": "Test change"}, apply=broken)
    with pytest.raises(ApplyError, match="division by zero"):
        act(conn, p.safety, iid, "approve")
    assert _state(conn, iid)[:2] == ("pending", 2)
    register_kind(p.kind, title={"zh": "测试变更", "en": "Test change"}, apply=p._apply)
    assert act(conn, p.safety, iid, "approve", "问题已处理") == "approved"
    assert _state(conn, iid) == ("approved", None, None)
    assert p.applied == [{"tag": "FIC101", "limit": 85.0}]


def test_levels_pick_their_definition_and_defaults_exist(conn: psycopg.Connection) -> None:
    shipped = {(d.kind, d.level) for d in list_definitions(conn) if d.enterprise_id is None}
    for kind in (
        "alarm.ledger_change", "alarm.exclusion", "contractor.entry", "contractor.stop_work",
        "contractor.resume", "contractor.blacklist_removal", "pump.alarm_to_defect",
        "upward.review",
    ):  # fmt: skip
        assert (kind, "") in shipped, kind
    emergency = find_definition(conn, "alarm.ledger_change", None, "emergency")
    assert emergency is not None
    assert [s.approver_groups for s in emergency.steps] == [
        ("process_tech",), ("safety_mgmt",), ("leadership",),
    ]  # fmt: skip
    fallback = find_definition(conn, "alarm.ledger_change", None, "high")
    assert fallback is not None and fallback.level == "" and len(fallback.steps) == 2
    p = Plant(conn)
    one_step = [Step(1, "紧急审批", ("safety_mgmt",), (), 2.0)]
    save_definition(conn, TEST, kind=p.kind, enterprise_id=p.ent, level="emergency", steps=one_step)
    iid = p.submit(conn, level="emergency")
    assert len(approvals.get_instance(conn, iid).steps) == 1
    assert act(conn, p.safety, iid, "approve") == "approved"
    with pytest.raises(ApprovalError, match=r"no approval definition for test\.none"):
        register_kind("test.none", title={"zh": "无", "en": "none"}, apply=p._apply)
        submit(conn, p.requester, kind="test.none", enterprise_id=p.ent, subject="x", payload={})
    with pytest.raises(ApprovalError, match=r"unknown approval kind 'no\.such'"):
        submit(conn, p.requester, kind="no.such", enterprise_id=p.ent, subject="x", payload={})


def test_definitions_are_admin_only_and_audited(conn: psycopg.Connection) -> None:
    p = Plant(conn)
    admin = _user(conn, "admin", None)
    steps = [Step(1, "安全管理审批", ("safety_mgmt",), (), 8.0, 2.0)]
    with pytest.raises(ApprovalError, match="only administrators"):
        save_definition(conn, p.engineer, kind=p.kind, level="high", steps=steps)
    mine = {"kind": p.kind, "enterprise_id": p.ent, "level": "high"}
    def_id = save_definition(conn, admin, steps=steps, **mine)
    with pytest.raises(ApprovalError, match="already exists"):
        save_definition(conn, admin, steps=steps, **mine)
    save_definition(
        conn, admin, definition_id=def_id, **mine,
        steps=[*steps, Step(2, "公司领导批准", ("leadership",))],
    )  # fmt: skip
    logged = conn.execute(
        "SELECT entity, action, actor FROM audit.log WHERE entity LIKE 'workflow.approval_%%'"
        " AND entity <> 'workflow.approval_instance' AND actor_id = %s ORDER BY id",
        (admin.id,),
    ).fetchall()
    assert logged == [
        ("workflow.approval_definition", "insert", admin.name),
        ("workflow.approval_step", "insert", admin.name),
        ("workflow.approval_step", "insert", admin.name),
    ]
    # A request under way keeps the steps it was submitted with.
    iid = p.submit(conn, level="high")
    save_definition(
        conn, admin, definition_id=def_id, **mine, steps=[Step(1, "值班审核", ("duty_officer",))]
    )  # fmt: skip
    assert [s.name for s in approvals.get_instance(conn, iid).steps] == [
        "安全管理审批", "公司领导批准",
    ]  # fmt: skip


def test_attachments_are_stored_with_checksums(conn: psycopg.Connection, tmp_path: Path) -> None:
    p = Plant(conn)
    home = tmp_path / "home"
    report = tmp_path / "工艺评估.pdf"
    report.write_bytes(b"%PDF-1.7 assessment")
    bad = tmp_path / "script.sh"
    bad.write_text("rm -rf /")
    before = conn.execute("SELECT count(*) FROM workflow.approval_instance").fetchone()
    with pytest.raises(ApprovalError, match=r"script\.sh: file type \.sh is not accepted"):
        p.submit(conn, attachments=[report, bad], home=home)
    after = conn.execute("SELECT count(*) FROM workflow.approval_instance").fetchone()
    assert before == after  # refused before anything was written
    iid = p.submit(conn, attachments=[report], home=home)
    note = tmp_path / "说明.txt"
    note.write_text("已补充", encoding="utf-8")
    act(conn, p.tech, iid, "approve", "见附件", attachments=[note], home=home)
    hist = approvals.history(conn, iid)
    files = [(h["action"], [f["name"] for f in h["attachments"]]) for h in hist]
    assert files == [("submit", ["工艺评估.pdf"]), ("approve", ["说明.txt"])]
    sha = hist[0]["attachments"][0]["sha256"]
    assert approval_files.path_of(home, sha).read_bytes() == b"%PDF-1.7 assessment"
    assert approval_files.verify(home, sha)
    meta = approvals.attachment(conn, hist[0]["attachments"][0]["id"])
    assert (meta["instance_id"], meta["content_type"]) == (iid, "application/pdf")


def test_late_steps_are_reminded_once_per_period(conn: psycopg.Connection) -> None:
    p = Plant(conn, steps=[Step(1, "安全管理审批", ("safety_mgmt",), (), 2.0, 1.0)])
    start = datetime.now(UTC) + timedelta(days=400)  # later than any other test's deadlines
    iid = p.submit(conn, now=start)
    assert approvals.get_instance(conn, iid).step_due == start + timedelta(hours=2)

    def reminders_at(hours: float) -> int:
        approvals.remind_overdue(conn, now=start + timedelta(hours=hours))
        return len([s for s in _outbox_subjects(conn, p.safety) if s.startswith("审批超期提醒")])

    assert reminders_at(1.5) == 0  # not late yet
    assert reminders_at(2.0) == 1  # the deadline
    assert reminders_at(2.9) == 1  # same period: nothing more
    assert reminders_at(3.0) == 2  # next period
    assert reminders_at(3.5) == 2
    sent = conn.execute(
        "SELECT period, cardinality(notification_ids) FROM workflow.reminder_sent"
        " WHERE source = 'approval.overdue' AND item_key LIKE %s ORDER BY period",
        (f"{iid}:%",),
    ).fetchall()
    assert sent == [("0", 1), ("1", 1)]
    act(conn, p.safety, iid, "approve")
    assert reminders_at(10) == 2  # decided: no more reminders


def test_email_reaches_the_approver(conn: psycopg.Connection) -> None:
    """End to end: submission → outbox → SMTP (aiosmtpd) at the approver's address."""
    p = Plant(conn)
    address = f"safety-{uuid.uuid4().hex[:6]}@plant.example"
    mailer = _user(conn, "operator", p.ent, email=address)
    _group(conn, p.ent, "leadership", mailer)
    save_definition(
        conn, TEST, kind=p.kind, enterprise_id=p.ent, level="mail",
        steps=[Step(1, "公司领导批准", ("leadership",))],
    )  # fmt: skip
    with smtp_server() as smtp:
        config = {"host": "127.0.0.1", "port": smtp.port, "sender": "hazwatch@plant.example"}
        row = conn.execute("SELECT id FROM workflow.channel WHERE code = 'email'").fetchone()
        if row:
            alert_config.update(conn, TEST, "channel", row[0], {"config": config})
        else:
            alert_config.add_channel(conn, TEST, "email", "email", config)
        iid = p.submit(conn, level="mail", subject="停工令 C-17")
        deliver_due(conn)
        mails = [m for m in smtp.mails if address in m.recipients]
    assert len(mails) == 1
    assert "待审批：测试变更 — 停工令 C-17" in mails[0].message["Subject"]
    assert f"Request #{iid}" in mails[0].message.get_content()
