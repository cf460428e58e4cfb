"""The closed loop of a video alarm (V6, V20, R7): confirm, false positive, handled, closed,
through the workflows engine, and the push upward only after human review.

    handle(conn, actor, alarm_id, "confirm", "现场确认有人进入围堰")      # -> "confirmed"
    handle(conn, actor, alarm_id, "handle", "已劝离，围堰门已上锁")        # -> "handled"
    handle(conn, actor, alarm_id, "close")                                 # -> "closed"
    handle(conn, actor, other_id, "false_positive", "阴影误报")            # -> "false_positive"

Confirming acknowledges the alarm's alert (escalation stops: someone is on it) and opens an
``upward.review`` approval (the duty officer's check, docs/approvals.md); only its approval
queues the alarm on the ``video_alarm`` feed to the regulators' platforms. A false positive
acknowledges and closes the alert and never goes upward. Each action is in the alarm's
history (``video.alarm_action``) and in the audit log.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from workflows import approvals
from workflows.alert_config import audit_action

REVIEW_KIND: Final = "upward.review"
FEED: Final = "video_alarm"

#: action -> (states it may start from, state it leads to)
TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "confirm": (frozenset({"open"}), "confirmed"),
    "false_positive": (frozenset({"open", "confirmed"}), "false_positive"),
    "handle": (frozenset({"confirmed"}), "handled"),
    "close": (frozenset({"handled", "false_positive"}), "closed"),
}
#: Actions whose comment is required: what was seen or done is the record.
NEEDS_COMMENT: Final = frozenset({"false_positive", "handle"})
ACTION_ZH: Final = {
    "confirm": "确认",
    "false_positive": "误报",
    "handle": "已处置",
    "close": "关闭",
}
STATE_ZH: Final = {
    "open": "待处置",
    "confirmed": "已确认",
    "false_positive": "误报",
    "handled": "已处置",
    "closed": "已关闭",
}
HANDLERS: Final = frozenset({"admin", "engineer", "operator"})


class ReviewError(HazwatchError):
    """An action not allowed now (wrong state, no comment, not the user's enterprise)."""


def next_state(state: str, action: str) -> str:
    """The state after ``action``, or ReviewError saying why it cannot be done.

    >>> next_state("open", "confirm"), next_state("confirmed", "handle")
    ('confirmed', 'handled')
    """
    if action not in TRANSITIONS:
        raise ReviewError(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
    starts, to = TRANSITIONS[action]
    if state not in starts:
        allowed = sorted(a for a, (s, _) in TRANSITIONS.items() if state in s)
        raise ReviewError(
            f"cannot {action} an alarm that is {state}"
            + (f"; possible now: {', '.join(allowed)}" if allowed else "")
        )
    return to


ALARM = (
    "SELECT a.*, e.name AS enterprise_name, e.code AS enterprise_code"
    " FROM video.alarm a JOIN registry.enterprise e ON e.id = a.enterprise_id WHERE a.id = %s"
)
ALARM_FOR_UPDATE = ALARM + " FOR UPDATE OF a"


def _alarm(conn: psycopg.Connection, alarm_id: int, lock: bool = False) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            ALARM_FOR_UPDATE if lock else ALARM,
            (alarm_id,),
        ).fetchone()
    if row is None:
        raise ReviewError(f"no video alarm with id {alarm_id}")
    return row


def handle(
    conn: psycopg.Connection, actor: Actor, alarm_id: int, action: str, comment: str = ""
) -> str:
    """Carry out one closed-loop action; returns the new state."""
    from workflows.alerting import acknowledge, close

    comment = (comment or "").strip()
    if action in NEEDS_COMMENT and not comment:
        raise ReviewError(f"{ACTION_ZH.get(action, action)} needs a comment (what was seen/done)")
    if len(comment) > 2000:
        raise ReviewError("comment: at most 2000 characters")
    with conn.transaction():
        alarm = _alarm(conn, alarm_id, lock=True)
        to = next_state(alarm["state"], action)
        alert = None
        if alarm["alert_id"] is not None:
            alert = conn.execute(
                "SELECT acked_at, closed_at FROM workflow.alert WHERE id = %s",
                (alarm["alert_id"],),
            ).fetchone()
        text = comment or f"视频报警{ACTION_ZH[action]}"
        if alert is not None and action in ("confirm", "false_positive") and alert[0] is None:
            acknowledge(conn, alarm["alert_id"], actor, text)
        if alert is not None and action in ("false_positive", "close") and alert[1] is None:
            close(conn, alarm["alert_id"], actor, text)
        review_id = alarm["review_id"]
        if action == "confirm" and alarm["origin_key"] is None:
            review_id = approvals.submit(
                conn,
                actor,
                kind=REVIEW_KIND,
                enterprise_id=alarm["enterprise_id"],
                subject=f"视频报警上报审核：{_describe(alarm)}",
                payload={"feed": FEED, "alarm_id": alarm_id},
            )
        conn.execute(
            "UPDATE video.alarm SET state = %s, handled_by = %s, handled_at = now(),"
            " comment = coalesce(nullif(%s, ''), comment), review_id = %s WHERE id = %s",
            (to, actor.id, comment, review_id, alarm_id),
        )
        conn.execute(
            "INSERT INTO video.alarm_action (alarm_id, action, from_state, to_state, actor_id,"
            " actor, comment) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (alarm_id, action, alarm["state"], to, actor.id, actor.name, comment or None),
        )
        audit_action(
            conn,
            actor,
            action,
            "video.alarm",
            alarm_id,
            {"from": alarm["state"], "to": to, "review_id": review_id},
            comment or None,
        )
    return to


def _describe(alarm: Mapping[str, Any]) -> str:
    from video.store import type_label

    zone = f" / {alarm['zone']}" if alarm["zone"] and alarm["zone"] != "frame" else ""
    return f"{type_label(alarm['recognition'])} {alarm['camera_label']}{zone}"


def history(conn: psycopg.Connection, alarm_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM video.alarm_action WHERE alarm_id = %s ORDER BY at, id", (alarm_id,)
        ).fetchall()


def thumbnail_b64(path: str | None, width: int = 320) -> str | None:
    """A small JPEG of the snapshot for the upward feed (the full image stays here)."""
    if not path or not Path(path).is_file():
        return None
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(Path(path).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    if image.shape[1] > width:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return base64.b64encode(buf.tobytes()).decode() if ok else None


def upward_item(alarm: Mapping[str, Any], reviewer: Actor, comment: str | None) -> dict[str, Any]:
    """What goes to the park/county/city/province platforms (V20: enterprise, content,
    location), keyed by the origin enterprise so every level applies it once."""

    def iso(v: Any) -> str | None:
        return v.isoformat() if v is not None else None

    origin = alarm["enterprise_code"] or alarm["enterprise_name"]
    return {
        "key": f"{origin}|video|{alarm['id']}",
        "enterprise_code": alarm["enterprise_code"],
        "enterprise_name": alarm["enterprise_name"],
        "camera": alarm["camera_label"],
        "unit": alarm["unit_label"],
        "recognition": alarm["recognition"],
        "algorithm": alarm["algorithm"],
        "zone": alarm["zone"],
        "confidence": alarm["confidence"],
        "detail": alarm["detail"],
        "started_at": iso(alarm["started_at"]),
        "raised_at": iso(alarm["raised_at"]),
        "cleared_at": iso(alarm["cleared_at"]),
        "reviewed_by": reviewer.name,
        "review_comment": comment,
        "thumbnail": thumbnail_b64(alarm["snapshot_path"]),
    }


def _apply_review(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """The duty officer approved: queue the alarm on its feed (once; a disabled feed, i.e. no
    upstream configured, queues nothing and the approval still stands)."""
    from workflows.reviewed_notify import notify_reviewed_alarm
    from workflows.upward import enqueue

    feed = payload.get("feed")
    if feed != FEED:
        raise approvals.ApprovalError(f"upward.review: no handler for feed {feed!r}")
    alarm = _alarm(conn, int(payload["alarm_id"]), lock=True)
    if alarm["state"] == "false_positive":
        raise approvals.ApprovalError("the alarm was marked a false positive since: not pushed")
    item = upward_item(alarm, actor, alarm["comment"])
    if enqueue(conn, FEED, item["key"], item):
        conn.execute("UPDATE video.alarm SET pushed_at = now() WHERE id = %s", (alarm["id"],))
    # R7: after review, SMS and e-mail to the enterprise's responsible people and the
    # regulators on duty above it (once per alarm, whether or not an upstream is configured).
    notify_reviewed_alarm(
        conn,
        enterprise_id=int(alarm["enterprise_id"]),
        key=item["key"],
        subject=f"视频报警（已复核）：{item['recognition']} · {item['camera']}",
        body=(
            f"{item['enterprise_name']} {item['unit'] or ''} {item['camera']}："
            f"{item['recognition']}，{item['raised_at']}。复核人 {actor.name}。"
            + (f"意见：{alarm['comment']}" if alarm["comment"] else "")
        ),
        link=f"/video/alarm?id={alarm['id']}",
    )


def _validate_review(conn: psycopg.Connection, payload: Mapping[str, Any]) -> None:
    if payload.get("feed") != FEED or not isinstance(payload.get("alarm_id"), int):
        raise approvals.ApprovalError("upward.review of a video alarm needs feed and alarm_id")


approvals.register_kind(
    REVIEW_KIND,
    title={"zh": "报警上报人工审核", "en": "Review before pushing upward"},
    apply=_apply_review,
    validate=_validate_review,
)
