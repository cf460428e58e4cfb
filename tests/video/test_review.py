"""The closed loop of video alarms (V6, V20, R7): confirm / false positive / handled / closed
through the alerting and approval engines; upward push only after the duty officer's review;
the receiving level files the reviewed alarm under its enterprise."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.tokens import TokenInfo
from tests.conftest import make_enterprise
from tests.video.test_registry import LAWN, make_task
from tests.workflows.alerting_servers import make_user
from video import review, store
from video.crypto import CredentialBox
from video.pipeline import AlarmChange
from video.tasks import load_task
from workflows import approvals
from workflows.upward_receive import HANDLERS, ItemRejected

TEST = Actor(None, "test-video-review")


def _actor(conn: psycopg.Connection, role: str, ent: int) -> Actor:
    uid = make_user(conn, role=role, enterprise_id=ent)
    row = conn.execute("SELECT name FROM auth.app_user WHERE id = %s", (uid,)).fetchone()
    assert row is not None
    return Actor(uid, row[0])


def make_alarm(
    conn: psycopg.Connection,
    home: Path,
    task: int,
    kind: str = "intrusion",
    zone: str = "lawn",
    at: datetime | None = None,
) -> int:
    """An alarm as the worker records it, with a real JPEG snapshot."""
    image = np.full((576, 768, 3), 90, np.uint8)
    cv2.rectangle(image, (100, 450), (160, 570), (0, 0, 255), 3)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    change = AlarmChange(
        "raised",
        kind,
        zone,
        "normal",
        80,
        8.0,
        70,
        7.0,
        80,
        8.0,
        0.81,
        "1 in zone",
        "",
        jpeg.tobytes(),
    )
    cfg = load_task(conn, task, None)
    return store.record_raise(
        conn, home, cfg, change, at or datetime.now(UTC), algorithm=f"{kind}@1.0"
    )


@pytest.fixture
def plant(conn: psycopg.Connection, tmp_path: Path) -> Iterator[dict[str, Any]]:
    ent, name = make_enterprise(conn)
    registers.update(conn, TEST, "enterprise", ent, {"code": f"E{uuid.uuid4().hex[:6]}"})
    box = CredentialBox.for_home(tmp_path)
    task = make_task(conn, box, ent, {"intrusion": {"zones": LAWN}})
    operator, duty = _actor(conn, "operator", ent), _actor(conn, "operator", ent)
    gid = registers.insert(
        conn, TEST, "user_group", {"enterprise_id": ent, "code": "duty_officer", "name": "值班审核"}
    )
    registers.insert(conn, TEST, "user_group_member", {"group_id": gid, "user_id": duty.id})
    safety = _actor(conn, "engineer", ent)
    conn.execute(
        "UPDATE auth.app_user SET email = %s, phone = '+8613800000099' WHERE id = %s",
        (f"safety-{ent}@plant.example", safety.id),
    )
    sid = registers.insert(
        conn, TEST, "user_group", {"enterprise_id": ent, "code": "safety_mgmt", "name": "安全管理"}
    )
    registers.insert(conn, TEST, "user_group_member", {"group_id": sid, "user_id": safety.id})
    conn.execute("UPDATE exchange.feed SET enabled = true WHERE kind = 'video_alarm'")
    try:
        yield {"ent": ent, "name": name, "task": task, "operator": operator, "duty": duty,
               "safety": safety.id}  # fmt: skip
    finally:
        conn.execute("UPDATE exchange.feed SET enabled = false WHERE kind = 'video_alarm'")


def _outbox(conn: psycopg.Connection, alarm_id: int) -> list[dict[str, Any]]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT data FROM exchange.outbox WHERE kind = 'video_alarm' AND key LIKE %s",
            (f"%|video|{alarm_id}",),
        )
    ]


def test_confirmed_alarm_goes_upward_only_after_review(
    conn: psycopg.Connection, tmp_path: Path, plant: dict[str, Any]
) -> None:
    op, duty = plant["operator"], plant["duty"]
    aid = make_alarm(conn, tmp_path, plant["task"])
    assert _outbox(conn, aid) == []
    assert review.handle(conn, op, aid, "confirm", "现场确认有人进入") == "confirmed"
    alarm = conn.execute(
        "SELECT state, review_id, alert_id, pushed_at FROM video.alarm WHERE id = %s", (aid,)
    ).fetchone()
    assert alarm is not None and alarm[0] == "confirmed" and alarm[3] is None
    assert _outbox(conn, aid) == []  # confirmed, but not reviewed yet
    acked = conn.execute(
        "SELECT acked_at IS NOT NULL, closed_at FROM workflow.alert WHERE id = %s", (alarm[2],)
    ).fetchone()
    assert acked == (True, None)  # someone is on it: escalation stops
    inst = approvals.get_instance(conn, alarm[1])
    assert (inst.kind, inst.state, inst.payload) == (
        "upward.review",
        "pending",
        {"feed": "video_alarm", "alarm_id": aid},
    )
    with pytest.raises(approvals.ApprovalError):
        approvals.act(conn, op, alarm[1], "approve", "自己审自己")  # four eyes
    assert _outbox(conn, aid) == []
    assert approvals.act(conn, duty, alarm[1], "approve", "核实无误") == "approved"
    (item,) = _outbox(conn, aid)
    # R7: the review also told the enterprise's safety management, by e-mail and SMS.
    told = conn.execute(
        "SELECT kind, user_id FROM workflow.outbox WHERE dedupe_key LIKE %s ORDER BY kind",
        (f"%{item['key']}%",),
    ).fetchall()
    assert {k for k, _ in told} <= {"email", "sms", "inapp"} and told
    # (and the regulators on duty above it, when some test of the session made such a group)
    assert plant["safety"] in {u for _, u in told}
    assert item["recognition"] == "intrusion" and item["zone"] == "lawn"
    assert item["enterprise_name"] == plant["name"] and item["review_comment"] == "现场确认有人进入"
    assert item["reviewed_by"] == duty.name and len(item["thumbnail"]) > 1000
    thumb = cv2.imdecode(
        np.frombuffer(base64.b64decode(item["thumbnail"]), np.uint8), cv2.IMREAD_COLOR
    )
    assert thumb.shape[1] == 320
    assert review.handle(conn, op, aid, "handle", "已劝离，门已上锁") == "handled"
    assert review.handle(conn, op, aid, "close") == "closed"
    closed = conn.execute(
        "SELECT closed_at IS NOT NULL FROM workflow.alert WHERE id = %s", (alarm[2],)
    ).fetchone()
    assert closed == (True,)
    steps = [(h["action"], h["to_state"]) for h in review.history(conn, aid)]
    assert steps == [("confirm", "confirmed"), ("handle", "handled"), ("close", "closed")]
    audited = conn.execute(
        "SELECT array_agg(action ORDER BY id) FROM audit.log WHERE entity = 'video.alarm'"
        " AND entity_id = %s",
        (str(aid),),
    ).fetchone()
    assert audited == (["confirm", "handle", "close"],)

    # The level above applies it once, under the enterprise, with its thumbnail.
    info = TokenInfo(1, "lower", "exchange", plant["ent"], None, None)
    before = conn.execute("SELECT count(*) FROM video.alarm").fetchone()
    HANDLERS["video_alarm"](conn, info, dict(item))
    HANDLERS["video_alarm"](conn, info, dict(item))  # a retry changes nothing
    after = conn.execute("SELECT count(*) FROM video.alarm").fetchone()
    assert before and after and after[0] == before[0] + 1
    got = conn.execute(
        "SELECT enterprise_id, recognition, state, length(thumbnail) > 1000"
        " FROM video.alarm WHERE origin_key = %s",
        (item["key"],),
    ).fetchone()
    assert got == (plant["ent"], "intrusion", "confirmed", True)
    with pytest.raises(ItemRejected, match="may only send data of its own enterprise"):
        HANDLERS["video_alarm"](conn, TokenInfo(2, "other", "exchange", -1, None, None), item)
    with pytest.raises(ItemRejected, match="recognition"):
        HANDLERS["video_alarm"](conn, info, {**item, "recognition": "DROP TABLE"})


def test_false_positive_never_goes_upward_and_bad_actions_are_refused(
    conn: psycopg.Connection, tmp_path: Path, plant: dict[str, Any]
) -> None:
    op = plant["operator"]
    aid = make_alarm(conn, tmp_path, plant["task"])
    with pytest.raises(review.ReviewError, match="needs a comment"):
        review.handle(conn, op, aid, "false_positive")
    with pytest.raises(
        review.ReviewError,
        match="cannot handle an alarm that is open; possible now: confirm, false_positive",
    ):
        review.handle(conn, op, aid, "handle", "x")
    assert review.handle(conn, op, aid, "false_positive", "树影晃动误报") == "false_positive"
    alert = conn.execute(
        "SELECT a.acked_at IS NOT NULL, a.closed_at IS NOT NULL FROM workflow.alert a"
        " JOIN video.alarm v ON v.alert_id = a.id WHERE v.id = %s",
        (aid,),
    ).fetchone()
    assert alert == (True, True)
    assert review.handle(conn, op, aid, "close") == "closed"
    with pytest.raises(review.ReviewError, match="cannot confirm an alarm that is closed"):
        review.handle(conn, op, aid, "confirm")
    with pytest.raises(review.ReviewError, match="unknown action 'delete'"):
        review.handle(conn, op, aid, "delete")
    with pytest.raises(review.ReviewError, match="no video alarm with id -1"):
        review.handle(conn, op, -1, "confirm")
    assert _outbox(conn, aid) == []
    assert conn.execute("SELECT review_id FROM video.alarm WHERE id = %s", (aid,)).fetchone() == (
        None,
    )
