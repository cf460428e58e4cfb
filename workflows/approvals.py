"""The approval engine: domains register a kind with its ``apply``; requests move through the
steps of the kind's definition; every action is in the instance history and the audit log.

    register_kind("alarm.exclusion", title={"zh": "报警剔除", "en": "Alarm exclusion"},
                  apply=exclude_alarms, validate=check_exclusion)
    iid = submit(conn, actor, kind="alarm.exclusion", enterprise_id=3,
                 subject="FIC101 仪表故障期间报警剔除", payload={"tag_id": 17, ...},
                 level="high", attachments=[Path("维修记录.pdf")])
    act(conn, approver, iid, "approve", "同意")          # -> "pending" (next step) | "approved"
    act(conn, approver, iid, "return", "请补充维修单")   # -> "returned"
    act(conn, requester, iid, "resubmit", payload={...}) # -> "pending" (from step 1 again)
    act(conn, requester, iid, "withdraw")                # -> "withdrawn"

On the last approval the kind's ``apply(conn, actor, payload)`` runs in the same transaction
as the state change: if it fails, nothing of it stays, the request stays pending at its last
step with the error recorded (``apply_error``, history, audit log) and ``act`` raises
ApplyError after committing that record. Approvers of a step are members of the step's groups
(by code, in the request's enterprise or instance-wide) or holders of its login roles within
the request's enterprise scope. Notifications go through ``workflows.notify``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting
from workflows import approval_files
from workflows.approval_defs import find_definition
from workflows.approval_flow import (
    ACTIONS,
    APPROVER_ACTIONS,
    TERMINAL,
    ApprovalError,
    NotApprover,
    Step,
    overdue_period,
    step_due,
    transition,
)

__all__ = [
    "ApplyError",
    "ApprovalError",
    "Instance",
    "act",
    "can_act",
    "can_view",
    "get_instance",
    "history",
    "inbox",
    "my_requests",
    "register_kind",
    "remind_overdue",
    "submit",
]

log = logging.getLogger("hazwatch.workflows.approvals")

ApplyFn = Callable[[psycopg.Connection, Actor, Mapping[str, Any]], None]
ValidateFn = Callable[[psycopg.Connection, Mapping[str, Any]], None]
MAX_COMMENT: Final = 2000
OVERDUE_SOURCE: Final = "approval.overdue"


class ApplyError(ApprovalError):
    """The final approval was given but the kind's ``apply`` failed: the request stays pending."""


@dataclass(frozen=True)
class Kind:
    kind: str
    title: Mapping[str, str]
    apply: ApplyFn
    validate: ValidateFn | None = None


KINDS: dict[str, Kind] = {}


def register_kind(
    kind: str,
    *,
    title: dict[str, str],
    apply: ApplyFn,
    validate: ValidateFn | None = None,
) -> None:
    """Declare a kind of request (its definition lives in the database; this is its code).

    Registering a kind again replaces it (a module imported twice is harmless).
    """
    from workflows.approval_defs import KIND_RE

    if not KIND_RE.match(kind) or len(kind) > 64:
        raise ApprovalError(f"kind {kind!r}: lower-case words joined by dots, e.g. alarm.exclusion")
    missing = {"zh", "en"} - set(title)
    if missing:
        raise ApprovalError(f"kind {kind}: title lacks {', '.join(sorted(missing))}")
    KINDS[kind] = Kind(kind, dict(title), apply, validate)


#: A request whose approval is itself the outcome (通用审批: a notice, a plan, a document):
#: there is nothing to change, so its ``apply`` does nothing beyond the recorded decision.
GENERAL: Final = "general"


def _apply_general(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """The decision, in the history and the audit log, is all a general request needs."""


register_kind(GENERAL, title={"zh": "通用审批", "en": "General request"}, apply=_apply_general)


def kind_title(kind: str, lang: str = "zh") -> str:
    spec = KINDS.get(kind)
    return spec.title.get(lang, kind) if spec else kind


# -- who may do what (SQL, so the inbox and the permission check agree) -------------------------

#: Is user ``u`` within the scope of enterprise ``{ent}``? Same rules as
#: dashboards.auth.Scope: enterprise users their own, admins/engineers/operators without one
#: everything, regulators their region and below.
_IN_SCOPE = """(
    {ent} IS NULL OR u.enterprise_id = {ent}
    OR (u.enterprise_id IS NULL AND u.role IN ('admin', 'engineer', 'operator'))
    OR (u.role = 'regulator' AND EXISTS (
        WITH RECURSIVE up AS (
            SELECT r.id, r.parent_id FROM registry.region r
            JOIN registry.enterprise e ON e.region_id = r.id WHERE e.id = {ent}
            UNION ALL
            SELECT r.id, r.parent_id FROM registry.region r JOIN up ON r.id = up.parent_id)
        SELECT 1 FROM up WHERE up.id = u.region_id)))"""


def _in_scope_sql(ent: sql.Composable) -> sql.Composed:
    return sql.SQL(_IN_SCOPE).format(ent=ent)


#: May user ``u`` act on the current step of instance ``i``?
_APPROVER = sql.SQL(
    """(i.state = 'pending' AND u.active AND (
    ((i.steps -> (i.step - 1) -> 'approver_roles') ? u.role AND {scope})
    OR EXISTS (
        SELECT 1 FROM workflow.user_group_member m
        JOIN workflow.user_group g ON g.id = m.group_id
        WHERE m.user_id = u.id AND (i.steps -> (i.step - 1) -> 'approver_groups') ? g.code
          AND (g.enterprise_id IS NULL OR g.enterprise_id = i.enterprise_id))))"""
).format(scope=_in_scope_sql(sql.SQL("i.enterprise_id")))


@dataclass(frozen=True)
class Instance:
    id: int
    kind: str
    enterprise_id: int | None
    enterprise: str | None
    level: str
    subject: str
    payload: dict[str, Any]
    steps: tuple[Step, ...]
    state: str
    step: int | None
    step_since: datetime | None
    step_due: datetime | None
    due: datetime | None
    requester_id: int | None
    requester: str
    apply_error: str | None
    submitted_at: datetime
    decided_at: datetime | None

    @property
    def current(self) -> Step | None:
        return None if self.step is None else self.steps[self.step - 1]


_INSTANCE = """
SELECT i.id, i.kind, i.enterprise_id, e.name, i.level, i.subject, i.payload, i.steps, i.state,
       i.step, i.step_since, i.step_due, i.due, i.requester_id, i.requester, i.apply_error,
       i.submitted_at, i.decided_at
FROM workflow.approval_instance i
LEFT JOIN registry.enterprise e ON e.id = i.enterprise_id
"""


def _instance(row: Sequence[Any]) -> Instance:
    vals = list(row)
    vals[7] = tuple(Step.from_json(s) for s in vals[7])
    return Instance(*vals)


def get_instance(conn: psycopg.Connection, instance_id: int, *, lock: bool = False) -> Instance:
    query = _INSTANCE + " WHERE i.id = %s" + (" FOR UPDATE OF i" if lock else "")
    row = conn.execute(query, (instance_id,)).fetchone()
    if row is None:
        raise ApprovalError(f"no approval request #{instance_id}")
    return _instance(row)


def can_act(conn: psycopg.Connection, user_id: int, instance_id: int) -> bool:
    """Whether the user is an approver of the request's current step (requester or not)."""
    row = conn.execute(
        sql.SQL(
            "SELECT {} FROM workflow.approval_instance i, auth.app_user u"
            " WHERE i.id = %s AND u.id = %s"
        ).format(_APPROVER),
        (instance_id, user_id),
    ).fetchone()
    return bool(row and row[0])


def can_view(conn: psycopg.Connection, user_id: int, instance_id: int) -> bool:
    """Requester, a current approver, anyone who acted on it, or an administrator in scope."""
    row = conn.execute(
        sql.SQL(
            "SELECT i.requester_id = u.id OR {} OR EXISTS (SELECT 1 FROM"
            " workflow.approval_action a WHERE a.instance_id = i.id AND a.actor_id = u.id)"
            " OR (u.role = 'admin' AND {})"
            " FROM workflow.approval_instance i, auth.app_user u WHERE i.id = %s AND u.id = %s"
        ).format(_APPROVER, _in_scope_sql(sql.SQL("i.enterprise_id"))),
        (instance_id, user_id),
    ).fetchone()
    return bool(row and row[0])


def inbox(conn: psycopg.Connection, user_id: int, limit: int = 200) -> list[Instance]:
    """Pending requests the user may decide on now (never their own), oldest deadline first."""
    rows = conn.execute(
        sql.SQL(
            _INSTANCE + ", auth.app_user u WHERE u.id = %s AND i.state = 'pending'"
            " AND i.requester_id IS DISTINCT FROM u.id AND {} ORDER BY i.step_due"
            " NULLS LAST, i.submitted_at LIMIT %s"
        ).format(_APPROVER),
        (user_id, limit),
    ).fetchall()
    return [_instance(r) for r in rows]


def my_requests(conn: psycopg.Connection, user_id: int, limit: int = 200) -> list[Instance]:
    rows = conn.execute(
        _INSTANCE + " WHERE i.requester_id = %s ORDER BY i.submitted_at DESC, i.id DESC LIMIT %s",
        (user_id, limit),
    ).fetchall()
    return [_instance(r) for r in rows]


def history(conn: psycopg.Connection, instance_id: int) -> list[dict[str, Any]]:
    """The actions on a request, oldest first, each with its attachments."""
    rows = conn.execute(
        """SELECT a.id, a.at, a.actor, a.action, a.step, a.state_after, a.comment,
                  coalesce(json_agg(json_build_object('id', f.id, 'name', f.file_name,
                      'size', f.size_bytes, 'sha256', f.sha256) ORDER BY f.id)
                      FILTER (WHERE f.id IS NOT NULL), '[]')
           FROM workflow.approval_action a
           LEFT JOIN workflow.approval_attachment f ON f.action_id = a.id
           WHERE a.instance_id = %s GROUP BY a.id ORDER BY a.id""",
        (instance_id,),
    ).fetchall()
    keys = ("id", "at", "actor", "action", "step", "state", "comment", "attachments")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def attachment(conn: psycopg.Connection, attachment_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT instance_id, file_name, content_type, size_bytes, sha256"
        " FROM workflow.approval_attachment WHERE id = %s",
        (attachment_id,),
    ).fetchone()
    if row is None:
        raise ApprovalError(f"no attachment #{attachment_id}")
    keys = ("instance_id", "name", "content_type", "size", "sha256")
    return dict(zip(keys, row, strict=True))


# -- submit and act ---------------------------------------------------------------------------


def submit(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    kind: str,
    enterprise_id: int | None,
    subject: str,
    payload: Mapping[str, Any],
    level: str | None = None,
    attachments: Sequence[Path] = (),
    due: datetime | None = None,
    home: Path | None = None,
    now: datetime | None = None,
) -> int:
    """Open a request; it waits at step 1 of the governing definition. Returns its id.

    ``home``: where attachments are stored (default: the settings' home);
    ``now``: the clock (deadlines are counted from it).
    """
    spec = _kind(kind)
    subject = _subject(subject)
    data = _payload(payload)
    _validate(conn, spec, data)
    definition = find_definition(conn, kind, enterprise_id, level)
    if definition is None or not definition.steps:
        raise ApprovalError(
            f"no approval definition for {kind}"
            + (f" at level {level}" if level else "")
            + "; an administrator defines one under 审批流程定义 (/approvals/definitions)"
        )
    if actor.id is not None and not _in_scope(conn, actor.id, enterprise_id):
        raise ApprovalError(
            f"{actor.name} may not submit requests for enterprise {enterprise_id} (not in scope)"
        )
    files = _store(home, attachments)
    now = now or datetime.now(UTC)
    steps = definition.steps
    first_due = step_due(now, steps[0], due)
    with acting(conn, actor, f"approval request: {kind}"):
        row = conn.execute(
            """INSERT INTO workflow.approval_instance (kind, definition_id, enterprise_id, level,
                   subject, payload, steps, state, step, step_since, step_due, due,
                   requester_id, requester, submitted_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 1, %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (
                kind,
                definition.id,
                enterprise_id,
                level or "",
                subject,
                Jsonb(data),
                Jsonb([s.to_json() for s in steps]),
                now,
                first_due,
                due,
                actor.id,
                actor.name,
                now,
            ),
        ).fetchone()
        assert row is not None
        iid = int(row[0])
        action_id = _record(conn, iid, actor, "submit", 1, "pending", None, data)
        _attach(conn, iid, action_id, actor, files)
        _audit(
            conn,
            actor,
            "submit",
            iid,
            None,
            {
                "kind": kind,
                "state": "pending",
                "step": 1,
                "payload": data,
                "attachments": [f.sha256 for f in files],
            },
            subject,
        )
        inst = get_instance(conn, iid)
        _notify_approvers(conn, inst, f"approval:{iid}:{action_id}")
    return iid


def act(
    conn: psycopg.Connection,
    actor: Actor,
    instance_id: int,
    action: str,
    comment: str | None = None,
    *,
    payload: Mapping[str, Any] | None = None,
    subject: str | None = None,
    attachments: Sequence[Path] = (),
    home: Path | None = None,
    now: datetime | None = None,
) -> str:
    """Approve, reject, return, resubmit or withdraw; returns the request's new state.

    ``payload``/``subject``: only with ``resubmit`` (the changed request).
    """
    if action not in ACTIONS:
        raise ApprovalError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ApprovalError(f"the comment has {len(comment)} characters; at most {MAX_COMMENT}")
    if (payload is not None or subject is not None) and action != "resubmit":
        raise ApprovalError("only a resubmission may change the request's content")
    files = _store(home, attachments)
    now = now or datetime.now(UTC)
    failure: str | None = None
    with acting(conn, actor, f"approval #{instance_id}: {action}"):
        inst = get_instance(conn, instance_id, lock=True)
        is_requester = actor.id is not None and actor.id == inst.requester_id
        is_approver = (
            action in APPROVER_ACTIONS
            and actor.id is not None
            and can_act(conn, actor.id, instance_id)
        )
        try:
            move = transition(
                inst.state,
                inst.step,
                len(inst.steps),
                action,
                is_requester=is_requester,
                is_approver=is_approver,
                comment=comment,
            )
        except ApprovalError as exc:
            raise ApprovalError(f"request #{instance_id}: {_explain(exc, inst, actor)}") from None
        data = inst.payload
        new_subject = inst.subject
        if action == "resubmit":
            if payload is not None:
                data = _payload(payload)
                spec = KINDS.get(inst.kind)
                if spec is not None:
                    _validate(conn, spec, data)
            if subject is not None:
                new_subject = _subject(subject)
        if move.final:
            try:
                with conn.transaction():  # a savepoint: a failing apply leaves no trace of itself
                    _change(
                        conn,
                        actor,
                        inst,
                        action,
                        move.state,
                        None,
                        comment,
                        data,
                        new_subject,
                        files,
                        now,
                    )
                    spec = KINDS.get(inst.kind)
                    if spec is None:
                        raise ApprovalError(f"no code for kind {inst.kind} is loaded here")
                    spec.apply(conn, actor, data)
                    _notify_requester(conn, inst, "approved", comment, now)
            except Exception as exc:  # any failure of a domain's apply is recorded, whatever it is
                failure = str(exc).strip() or type(exc).__name__
                log.warning("request #%d: apply of %s failed: %s", instance_id, inst.kind, failure)
                conn.execute(
                    "UPDATE workflow.approval_instance SET apply_error = %s WHERE id = %s",
                    (failure, instance_id),
                )
                _record(conn, instance_id, actor, "apply_failed", inst.step, "pending", failure)
                _audit(
                    conn,
                    actor,
                    "apply_failed",
                    instance_id,
                    {"state": inst.state, "step": inst.step},
                    {"state": "pending", "step": inst.step, "error": failure, "comment": comment},
                    failure,
                )
        else:
            _change(
                conn,
                actor,
                inst,
                action,
                move.state,
                move.step,
                comment,
                data,
                new_subject,
                files,
                now,
            )
            if move.state == "pending":
                _notify_approvers(
                    conn,
                    get_instance(conn, instance_id),
                    f"approval:{instance_id}:{action}:{now.isoformat()}",
                )
            elif move.state in ("rejected", "returned"):
                _notify_requester(conn, inst, move.state, comment, now)
    if failure is not None:
        raise ApplyError(
            f"request #{instance_id} was not approved: applying it failed ({failure}); it stays"
            f" pending at step {inst.step}"
        )
    return move.state


def _explain(exc: ApprovalError, inst: Instance, actor: Actor) -> str:
    """Name the step and its approvers when the actor is not one of them."""
    step = inst.current
    if step is not None and isinstance(exc, NotApprover):
        return (
            f"{actor.name} is not an approver of step {step.position} ({step.name}): it needs"
            f" {step.approvers_text()}"
        )
    return str(exc)


def _change(
    conn: psycopg.Connection,
    actor: Actor,
    inst: Instance,
    action: str,
    state: str,
    step: int | None,
    comment: str | None,
    data: dict[str, Any],
    subject: str,
    files: Sequence[approval_files.StoredFile],
    now: datetime,
) -> None:
    since = due = None
    if step is not None:
        since = now
        due = step_due(now, inst.steps[step - 1], inst.due)
    conn.execute(
        """UPDATE workflow.approval_instance SET state = %s, step = %s, step_since = %s,
               step_due = %s, payload = %s, subject = %s, apply_error = NULL,
               decided_at = %s
           WHERE id = %s""",
        (
            state,
            step,
            since,
            due,
            Jsonb(data),
            subject,
            now if state in TERMINAL else None,
            inst.id,
        ),
    )
    resubmitted = action == "resubmit"
    action_id = _record(
        conn,
        inst.id,
        actor,
        action,
        inst.step or step,
        state,
        comment,
        data if resubmitted else None,
    )
    _attach(conn, inst.id, action_id, actor, files)
    after: dict[str, Any] = {"state": state, "step": step}
    if resubmitted:
        after["payload"] = data
        after["subject"] = subject
    if files:
        after["attachments"] = [f.sha256 for f in files]
    _audit(conn, actor, action, inst.id, {"state": inst.state, "step": inst.step}, after, comment)


# -- helpers ------------------------------------------------------------------------------------


def _kind(kind: str) -> Kind:
    spec = KINDS.get(kind)
    if spec is None:
        known = ", ".join(sorted(KINDS)) or "none"
        raise ApprovalError(f"unknown approval kind {kind!r} (registered here: {known})")
    return spec


def _subject(subject: str) -> str:
    subject = (subject or "").strip()
    if not 1 <= len(subject) <= 200:
        raise ApprovalError("subject: 1 to 200 characters are required")
    return subject


def _payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise ApprovalError(f"payload must be a mapping, not {type(payload).__name__}")
    try:
        # Round trip: what is stored is what apply will see after a restart.
        return dict(json.loads(json.dumps(dict(payload), ensure_ascii=False)))
    except (TypeError, ValueError) as exc:
        raise ApprovalError(f"payload is not JSON: {exc}") from None


def _validate(conn: psycopg.Connection, spec: Kind, data: Mapping[str, Any]) -> None:
    if spec.validate is None:
        return
    try:
        spec.validate(conn, data)
    except (HazwatchError, ValueError, KeyError, TypeError) as exc:
        raise ApprovalError(f"{spec.kind}: {exc}") from exc


def _in_scope(conn: psycopg.Connection, user_id: int, enterprise_id: int | None) -> bool:
    row = conn.execute(
        sql.SQL("SELECT {} FROM auth.app_user u WHERE u.id = %(uid)s AND u.active").format(
            _in_scope_sql(sql.SQL("%(ent)s::integer"))
        ),
        {"ent": enterprise_id, "uid": user_id},
    ).fetchone()
    return bool(row and row[0])


def _store(home: Path | None, paths: Sequence[Path]) -> list[approval_files.StoredFile]:
    if not paths:
        return []
    if len(paths) > approval_files.MAX_FILES:
        raise ApprovalError(f"at most {approval_files.MAX_FILES} attachments, not {len(paths)}")
    if home is None:
        from hazwatch.settings import load_settings

        home = load_settings().home
    return [approval_files.store(home, Path(p)) for p in paths]


def _record(
    conn: psycopg.Connection,
    instance_id: int,
    actor: Actor,
    action: str,
    step: int | None,
    state_after: str,
    comment: str | None,
    payload: Mapping[str, Any] | None = None,
) -> int:
    row = conn.execute(
        """INSERT INTO workflow.approval_action (instance_id, actor_id, actor, action, step,
               state_after, comment, payload)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            instance_id,
            actor.id,
            actor.name,
            action,
            step,
            state_after,
            comment,
            None if payload is None else Jsonb(dict(payload)),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _attach(
    conn: psycopg.Connection,
    instance_id: int,
    action_id: int,
    actor: Actor,
    files: Sequence[approval_files.StoredFile],
) -> None:
    for f in files:
        conn.execute(
            """INSERT INTO workflow.approval_attachment (instance_id, action_id, file_name,
                   content_type, size_bytes, sha256, uploaded_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (instance_id, action_id, f.name, f.content_type, f.size, f.sha256, actor.id),
        )


def _audit(
    conn: psycopg.Connection,
    actor: Actor,
    action: str,
    instance_id: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str | None,
) -> None:
    conn.execute(
        """INSERT INTO audit.log (actor_id, actor, action, entity, entity_id, before, after,
               reason)
           VALUES (%s, %s, %s, 'workflow.approval_instance', %s, %s, %s, %s)""",
        (
            actor.id,
            actor.name,
            action,
            str(instance_id),
            None if before is None else Jsonb(dict(before)),
            None if after is None else Jsonb(dict(after)),
            reason,
        ),
    )


# -- notifications --------------------------------------------------------------------------------


def approver_ids(conn: psycopg.Connection, inst: Instance) -> list[int]:
    """Active users who may act on the request's current step (not its requester)."""
    if inst.step is None:
        return []
    rows = conn.execute(
        sql.SQL(
            "SELECT u.id FROM workflow.approval_instance i, auth.app_user u WHERE i.id = %s"
            " AND u.id IS DISTINCT FROM i.requester_id AND {} ORDER BY u.id"
        ).format(_APPROVER),
        (inst.id,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _send(
    conn: psycopg.Connection,
    users: Sequence[int],
    *,
    subject: str,
    body: str,
    link: str,
    severity: str,
    group_key: str,
    dedupe_key: str,
) -> list[int]:
    from workflows.notify import notify

    if not users:
        log.warning("nobody to notify for %s (no approver has an account yet)", dedupe_key)
        return []
    return notify(
        conn,
        subject=subject,
        body=body,
        users=users,
        link=link,
        severity=severity,
        group_key=group_key,
        dedupe_key=dedupe_key,
    )


def _describe(inst: Instance) -> str:
    step = inst.current
    lines = [
        f"审批事项 Request #{inst.id}: {kind_title(inst.kind)} / {kind_title(inst.kind, 'en')}",
        f"标题 Subject: {inst.subject}",
        f"申请人 Requester: {inst.requester}",
    ]
    if inst.enterprise:
        lines.append(f"企业 Enterprise: {inst.enterprise}")
    if step is not None:
        lines.append(f"当前步骤 Step {step.position}/{len(inst.steps)}: {step.name}")
    if inst.step_due is not None:
        lines.append(f"办理期限 Due: {inst.step_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


def _notify_approvers(conn: psycopg.Connection, inst: Instance, dedupe_key: str) -> list[int]:
    return _send(
        conn,
        approver_ids(conn, inst),
        subject=f"待审批：{kind_title(inst.kind)} — {inst.subject}",
        body=_describe(inst),
        link=f"/approvals?id={inst.id}",
        severity="info",
        group_key=f"approval:{inst.id}",
        dedupe_key=dedupe_key,
    )


_OUTCOME = {
    "approved": ("审批通过", "approved", "resolved"),
    "rejected": ("审批驳回", "rejected", "warning"),
    "returned": ("退回修改", "returned for changes", "warning"),
}


def _notify_requester(
    conn: psycopg.Connection, inst: Instance, state: str, comment: str | None, now: datetime
) -> list[int]:
    if inst.requester_id is None:
        return []
    zh, en, severity = _OUTCOME[state]
    body = _describe(inst) + f"\n结果 Outcome: {zh} / {en}"
    if comment:
        body += f"\n意见 Comment: {comment}"
    return _send(
        conn,
        [inst.requester_id],
        subject=f"{zh}：{kind_title(inst.kind)} — {inst.subject}",
        body=body,
        link=f"/approvals/mine?id={inst.id}",
        severity=severity,
        group_key=f"approval:{inst.id}",
        dedupe_key=f"approval:{inst.id}:{state}:{now.isoformat()}",
    )


def remind_overdue(conn: psycopg.Connection, now: datetime | None = None) -> int:
    """Remind the approvers of every late step, once per the step's reminder interval.

    The scheduler's ``approval deadlines`` job; returns how many reminders were sent.
    """
    from workflows.reminders import mark_sent

    now = now or datetime.now(UTC)
    late = conn.execute(
        "SELECT id FROM workflow.approval_instance WHERE state = 'pending' AND step_due <= %s"
        " ORDER BY step_due",
        (now,),
    ).fetchall()
    sent = 0
    for (iid,) in late:
        with conn.transaction():
            row = conn.execute(
                "SELECT 1 FROM workflow.approval_instance WHERE id = %s FOR UPDATE SKIP LOCKED",
                (iid,),
            ).fetchone()
            if row is None:
                continue  # being decided right now
            inst = get_instance(conn, iid)
            step = inst.current
            if step is None or inst.step_due is None or inst.step_since is None:
                continue
            period = overdue_period(now, inst.step_due, timedelta(hours=step.remind_every_hours))
            if period is None:
                continue
            item = f"{iid}:{inst.step}:{inst.step_since.isoformat()}"
            if not mark_sent(conn, OVERDUE_SOURCE, item, str(period), inst.enterprise_id):
                continue
            late_by = now - inst.step_due
            ids = _send(
                conn,
                approver_ids(conn, inst),
                subject=f"审批超期提醒：{kind_title(inst.kind)} — {inst.subject}",
                body=_describe(inst)
                + f"\n已超期 Overdue by: {late_by.days} 天 days {late_by.seconds // 3600} 小时 h",
                link=f"/approvals?id={iid}",
                severity="warning",
                group_key=f"approval-overdue:{inst.enterprise_id}",
                dedupe_key=f"{OVERDUE_SOURCE}:{item}:{period}",
            )
            conn.execute(
                "UPDATE workflow.reminder_sent SET notification_ids = %s"
                " WHERE source = %s AND item_key = %s AND period = %s",
                (ids, OVERDUE_SOURCE, item, str(period)),
            )
            sent += 1
    return sent
