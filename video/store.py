"""Where the worker's results go (V5, V19): alarm rows with their snapshot on disk, detection
events in the ``video.detection`` hypertable, source events (video loss, camera offline),
task status and the live picture of each task, and the alerting engine for notification.

    aid = record_raise(conn, home, cfg, change, wall)     # JPEG on disk, rows, alert raised
    record_clear(conn, cfg, change, wall)                  # cleared_at, alert resolved
    record_source_event(conn, cfg, "video_loss", wall, "no frames from …")
    prune(conn, home, timedelta(days=400))                 # V19: never below 6 months

Written directly with psycopg, not through the ingest writer: an alarm is rare (tens per camera
per day), its id is needed at once (the snapshot, the alert and the review refer to it) and
the alarm row, its detection event and its alert must commit together or not at all, which a
batching writer cannot promise.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError
from hazwatch.retention import LEGAL_MINIMUMS
from video.tasks import TaskConfig

SNAPSHOT_DIR = Path("var/video/snapshots")
LIVE_DIR = Path("var/video/live")
ALERT_SOURCE = "video"
TYPE_ZH = {
    "fire": "火焰",
    "smoke": "烟雾",
    "intrusion": "区域入侵",
    "off_post": "离岗",
    "sleeping": "睡岗",
    "crowding": "人员聚集",
    "phone_call": "打电话",
    "smoking": "吸烟",
    "no_helmet": "未佩戴安全帽",
    "no_uniform": "未穿工服",
    "video_loss": "视频丢失",
    "camera_offline": "摄像机离线",
}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def type_label(code: str) -> str:
    return TYPE_ZH.get(code, code)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def snapshot_path(home: Path, cfg: TaskConfig, kind: str, zone: str, at: datetime) -> Path:
    """``<home>/var/video/snapshots/YYYY-MM/DD/task<id>-<type>-<zone>-<HHMMSS.ffffff>.jpg``:
    one folder a day, so retention removes whole days."""
    stem = _SAFE.sub("_", f"task{cfg.task_id}-{kind}-{zone}-{at:%H%M%S.%f}")
    return home / SNAPSHOT_DIR / f"{at:%Y-%m}" / f"{at:%d}" / f"{stem}.jpg"


def save_live(home: Path, task_id: int, jpeg: bytes) -> Path:
    """The newest analysed picture of a task (the live wall and the zone editor read it)."""
    path = home / LIVE_DIR / f"task-{task_id}.jpg"
    _atomic_write(path, jpeg)
    return path


def _score(value: float) -> float | None:
    # Crowding reports a head count as its score; the hypertable keeps scores in 0..1.
    return None if value is None else max(0.0, min(1.0, float(value)))


def _summary(cfg: TaskConfig, kind: str, zone: str, detail: str) -> str:
    where = cfg.camera_label + (f" / {zone}" if zone and zone != "frame" else "")
    return f"视频报警：{type_label(kind)}（{where}）" + (f" {detail}" if detail else "")


def record_raise(
    conn: psycopg.Connection,
    home: Path,
    cfg: TaskConfig,
    change: Any,
    wall: datetime,
    started: datetime | None = None,
    algorithm: str = "",
) -> int:
    """A raised alarm (``video.pipeline.AlarmChange``): snapshot file, alarm row, detection
    event and an alert through the alerting engine, in one transaction; the alarm's id."""
    from workflows.alerting import raise_external_alert

    path = None
    if change.snapshot:
        path = snapshot_path(home, cfg, change.type, change.zone, wall)
        _atomic_write(path, change.snapshot)
    started = started or wall
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO video.alarm (enterprise_id, camera_id, task_id, camera_label,"
            " unit_label, recognition, algorithm, zone, confidence, score, detail, started_at,"
            " raised_at, frame_index, snapshot_path)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                cfg.enterprise_id,
                cfg.camera_id,
                cfg.task_id,
                cfg.camera_label,
                cfg.unit_label,
                change.type,
                algorithm,
                change.zone,
                change.confidence,
                change.score,
                change.detail,
                started,
                wall,
                change.at_frame,
                str(path) if path else None,
            ),
        ).fetchone()
        assert row is not None
        alarm_id = int(row[0])
        conn.execute(
            "INSERT INTO video.detection (time, camera_id, task_id, recognition, algorithm,"
            " zone, score, objects, frame_index, snapshot_path)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                wall,
                cfg.camera_id,
                cfg.task_id,
                change.type,
                algorithm or change.type,
                change.zone,
                _score(change.score),
                Jsonb(
                    {"alarm_id": alarm_id, "detail": change.detail, "confidence": change.confidence}
                ),
                change.at_frame,
                str(path) if path else None,
            ),
        )
        alert_id = raise_external_alert(
            conn,
            ALERT_SOURCE,
            f"alarm:{alarm_id}",
            "alarm",
            {
                "camera": cfg.camera_label,
                "type": change.type,
                "zone": change.zone,
                "unit": cfg.unit_label,
            },
            _summary(cfg, change.type, change.zone, change.detail),
            enterprise_id=cfg.enterprise_id,
            now=wall,
        )
        conn.execute("UPDATE video.alarm SET alert_id = %s WHERE id = %s", (alert_id, alarm_id))
    return alarm_id


def record_clear(
    conn: psycopg.Connection, cfg: TaskConfig, kind: str, zone: str, wall: datetime, reason: str
) -> int | None:
    """Clear the open alarm of this task, type and zone (销警时间); its id, or None."""
    from workflows.alerting import resolve_external_alert

    with conn.transaction():
        row = conn.execute(
            "UPDATE video.alarm SET cleared_at = greatest(%s, started_at), clear_reason = %s"
            " WHERE task_id = %s AND recognition = %s AND zone = %s AND cleared_at IS NULL"
            " RETURNING id",
            (wall, reason, cfg.task_id, kind, zone),
        ).fetchone()
        if row is None:
            return None
        alarm_id = int(row[0])
        resolve_external_alert(conn, ALERT_SOURCE, f"alarm:{alarm_id}", now=wall)
    return alarm_id


def record_source_event(
    conn: psycopg.Connection, cfg: TaskConfig, kind: str, wall: datetime, detail: str
) -> int | None:
    """Video loss, camera offline and restored (V1): a detection event, the camera's health
    row, and a ``video_loss`` alarm that stays open until frames come back."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO video.detection (time, camera_id, task_id, recognition, algorithm, zone,"
            " objects) VALUES (%s, %s, %s, %s, 'source', '', %s) ON CONFLICT DO NOTHING",
            (wall, cfg.camera_id, cfg.task_id, kind, Jsonb({"detail": detail})),
        )
        conn.execute(
            "INSERT INTO ts.device_health (time, device_kind, device_id, online, detail)"
            " VALUES (%s, 'camera', %s, %s, %s) ON CONFLICT DO NOTHING",
            (wall, cfg.camera_id, kind == "restored", Jsonb({"event": kind, "detail": detail})),
        )
    if kind == "video_loss":
        change = _SourceChange("video_loss", detail)
        open_ = conn.execute(
            "SELECT id FROM video.alarm WHERE task_id = %s AND recognition = 'video_loss'"
            " AND cleared_at IS NULL",
            (cfg.task_id,),
        ).fetchone()
        if open_:
            return int(open_[0])
        return record_raise(conn, Path("."), cfg, change, wall)
    if kind == "camera_offline":
        conn.execute(
            "UPDATE video.alarm SET detail = %s WHERE task_id = %s AND recognition = 'video_loss'"
            " AND cleared_at IS NULL",
            (f"摄像机离线 / camera offline: {detail}", cfg.task_id),
        )
        return None
    if kind == "restored":
        return record_clear(conn, cfg, "video_loss", "", wall, "frames arrive again")
    return None


class _SourceChange:
    """The fields of an AlarmChange a source event fills (no frame, no snapshot)."""

    def __init__(self, kind: str, detail: str) -> None:
        self.type, self.zone, self.detail = kind, "", detail
        self.confidence, self.score, self.at_frame, self.snapshot = "normal", 1.0, None, None


def update_status(
    conn: psycopg.Connection,
    task_id: int,
    worker: str,
    state: str,
    detail: str = "",
    *,
    frames: int = 0,
    dropped: int = 0,
    fps: float | None = None,
    last_frame_at: datetime | None = None,
    live_path: Path | None = None,
) -> None:
    conn.execute(
        "INSERT INTO video.task_status (task_id, worker, state, detail, frames, dropped, fps,"
        " last_frame_at, live_path, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (task_id) DO UPDATE SET worker = EXCLUDED.worker, state = EXCLUDED.state,"
        " detail = EXCLUDED.detail, frames = EXCLUDED.frames, dropped = EXCLUDED.dropped,"
        " fps = EXCLUDED.fps,"
        " last_frame_at = coalesce(EXCLUDED.last_frame_at, video.task_status.last_frame_at),"
        " live_path = coalesce(EXCLUDED.live_path, video.task_status.live_path),"
        " updated_at = now()",
        (
            task_id,
            worker,
            state,
            detail,
            frames,
            dropped,
            fps,
            last_frame_at,
            str(live_path) if live_path else None,
        ),
    )


def prune(
    conn: psycopg.Connection, home: Path, keep: timedelta, now: datetime | None = None
) -> int:
    """Delete alarms raised before ``now - keep`` with their snapshot files; refuses a
    ``keep`` shorter than the legal minimum (V19: 6 months). Returns how many went."""
    floor = LEGAL_MINIMUMS["video.detection"]
    if keep < floor.keep:
        raise HazwatchError(
            f"video alarm retention {keep.days} days is below the legal minimum of "
            f"{floor.keep.days} days ({floor.basis})"
        )
    cutoff = (now or datetime.now(UTC)) - keep
    rows = conn.execute(
        "DELETE FROM video.alarm WHERE raised_at < %s RETURNING snapshot_path", (cutoff,)
    ).fetchall()
    root = (home / SNAPSHOT_DIR).resolve()
    for (path,) in rows:
        if path and Path(path).resolve().is_relative_to(root):
            Path(path).unlink(missing_ok=True)
    return len(rows)


def apply_video_alarm(conn: psycopg.Connection, info: Any, data: dict[str, Any]) -> None:
    """Receiving side (upward_receive.HANDLERS["video_alarm"]): a reviewed alarm from below,
    filed under its enterprise with its thumbnail, counted in this level's statistics."""
    import base64
    import binascii

    from workflows.upward_receive import ItemRejected, _enterprise_in_scope

    enterprise_id = _enterprise_in_scope(conn, info, data)
    kind, raised = data.get("recognition"), data.get("raised_at")
    key = data.get("key")
    if not isinstance(kind, str) or not re.match(r"^[a-z][a-z0-9_]*$", kind):
        raise ItemRejected("video_alarm needs 'recognition' (a type code)")
    if not isinstance(raised, str) or not isinstance(key, str) or not key:
        raise ItemRejected("video_alarm needs 'raised_at' (ISO time) and 'key'")
    thumb = None
    if data.get("thumbnail"):
        try:
            thumb = base64.b64decode(str(data["thumbnail"]), validate=True)
        except (binascii.Error, ValueError):
            raise ItemRejected("video_alarm 'thumbnail' is not base64") from None
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO video.alarm (enterprise_id, camera_label, unit_label, recognition,"
                " algorithm, zone, confidence, detail, started_at, raised_at, cleared_at,"
                " thumbnail, state, comment, origin_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                " coalesce(%s::timestamptz, %s::timestamptz), %s, %s, %s, 'confirmed', %s, %s)"
                " ON CONFLICT (origin_key) DO NOTHING",
                (
                    enterprise_id,
                    str(data.get("camera") or ""),
                    str(data.get("unit") or ""),
                    kind,
                    str(data.get("algorithm") or ""),
                    str(data.get("zone") or ""),
                    "low" if data.get("confidence") == "low" else "normal",
                    str(data.get("detail") or ""),
                    data.get("started_at"),
                    raised,
                    raised,
                    data.get("cleared_at"),
                    thumb,
                    data.get("review_comment"),
                    key,
                ),
            )
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        raise ItemRejected(f"video alarm refused: {exc.diag.message_primary}") from None


def retention_job(home: Path, keep: timedelta | None) -> Any:
    """The scheduler's daily ``video alarms retention`` job (alarms + snapshot files)."""
    from hazwatch.scheduler import Job

    def run(conn: psycopg.Connection) -> str:
        if keep is None:
            return "video alarms kept for ever"
        return f"{prune(conn, home, keep)} video alarms older than {keep.days} days removed"

    return Job("video alarms retention", timedelta(days=1), run)
