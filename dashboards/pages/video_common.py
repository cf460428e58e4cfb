"""What the video pages share (issue 9): their strings, the scoped image routes and helpers.

    install_routes(dash_app.server)       # once: /video/media/snapshot/<alarm>, live/<task>,
                                          #       frame/<camera> (zone editor background)

Images are served only to signed-in users whose scope includes the enterprise of the alarm,
task or camera (the request guard signs people in; the scope check is here, in SQL).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask, Response, abort, send_file
from psycopg import sql

from dashboards import auth, i18n
from dashboards.auth import WebUser
from hazwatch.registers import Actor
from video.store import TYPE_ZH

WRITERS = frozenset({"admin", "engineer", "operator"})
CONFIGURERS = frozenset({"admin", "engineer"})
FRAME_CACHE_S = 60.0
_frame_lock = threading.Lock()

TYPE_EN = {
    "fire": "Fire",
    "smoke": "Smoke",
    "intrusion": "Zone intrusion",
    "off_post": "Off post",
    "sleeping": "Sleeping on duty",
    "crowding": "Crowding",
    "phone_call": "Phone call",
    "smoking": "Smoking",
    "no_helmet": "No helmet",
    "no_uniform": "No uniform",
    "video_loss": "Video loss",
    "camera_offline": "Camera offline",
}
STATE_EN = {
    "open": "Open",
    "confirmed": "Confirmed",
    "false_positive": "False positive",
    "handled": "Handled",
    "closed": "Closed",
}

i18n.register(
    {
        **{f"vid.type.{k}": {"zh": v, "en": TYPE_EN[k]} for k, v in TYPE_ZH.items()},
        **{
            f"vid.state.{k}": {"zh": v, "en": STATE_EN[k]}
            for k, v in {
                "open": "待处置",
                "confirmed": "已确认",
                "false_positive": "误报",
                "handled": "已处置",
                "closed": "已关闭",
            }.items()
        },
        "nav.video_wall": {"zh": "视频监控墙", "en": "Video wall"},
        "nav.video_alarms": {"zh": "视频报警", "en": "Video alarms"},
        "nav.video_stats": {"zh": "视频报警统计", "en": "Video alarm statistics"},
        "nav.video_config": {"zh": "视频分析配置", "en": "Video analysis setup"},
        "vid.none": {"zh": "暂无", "en": "None"},
        "vid.camera": {"zh": "摄像机", "en": "Camera"},
        "vid.zone": {"zh": "区域", "en": "Zone"},
        "vid.type": {"zh": "识别类型", "en": "Type"},
        "vid.state": {"zh": "状态", "en": "State"},
        "vid.raised": {"zh": "报警时间", "en": "Raised"},
        "vid.cleared": {"zh": "销警时间", "en": "Cleared"},
        "vid.snapshot": {"zh": "报警图片", "en": "Snapshot"},
        "vid.enterprise": {"zh": "企业", "en": "Enterprise"},
        "vid.unit": {"zh": "装置/区域", "en": "Unit"},
        "vid.task": {"zh": "分析任务", "en": "Task"},
        "vid.worker": {"zh": "分析进程", "en": "Worker"},
        "vid.fps": {"zh": "帧率", "en": "fps"},
        "vid.frames": {"zh": "已分析帧", "en": "Frames"},
        "vid.dropped": {"zh": "丢弃帧", "en": "Dropped"},
        "vid.last_frame": {"zh": "最新画面", "en": "Last frame"},
        "vid.detail": {"zh": "详情", "en": "Details"},
        "vid.save": {"zh": "保存", "en": "Save"},
        "vid.saved": {"zh": "已保存。", "en": "Saved."},
        "vid.all": {"zh": "全部", "en": "All"},
        "vid.readonly": {"zh": "只读：您的角色不能修改。", "en": "Read only for your role."},
        "vid.run.starting": {"zh": "启动中", "en": "starting"},
        "vid.run.running": {"zh": "分析中", "en": "running"},
        "vid.run.video_loss": {"zh": "视频丢失", "en": "video loss"},
        "vid.run.camera_offline": {"zh": "摄像机离线", "en": "camera offline"},
        "vid.run.ended": {"zh": "已结束", "en": "ended"},
        "vid.run.error": {"zh": "错误", "en": "error"},
        "vid.run.stopped": {"zh": "已停止", "en": "stopped"},
        "vid.run.idle": {"zh": "未运行", "en": "not running"},
    }
)


def type_name(code: str) -> str:
    key = f"vid.type.{code}"
    return i18n.t(key) if key in i18n.STRINGS else code


def state_name(state: str) -> str:
    return i18n.t(f"vid.state.{state}")


def run_state(state: str | None) -> str:
    return i18n.t(f"vid.run.{state or 'idle'}")


def actor(user: WebUser) -> Actor:
    return Actor(user.id, user.name)


def in_scope(conn: psycopg.Connection, user: WebUser, enterprise_id: int) -> bool:
    cond, params = user.scope.condition("e.id")
    row = conn.execute(
        sql.SQL("SELECT 1 FROM registry.enterprise e WHERE e.id = %s AND {}").format(cond),
        (enterprise_id, *params),
    ).fetchone()
    return row is not None


def enterprises(conn: psycopg.Connection, user: WebUser) -> list[dict[str, Any]]:
    """Dropdown options: the user's enterprises that are not reference-only entries."""
    cond, params = user.scope.condition("e.id")
    rows = conn.execute(
        sql.SQL(
            "SELECT e.id, e.name FROM registry.enterprise e WHERE {} AND NOT e.is_reference"
            " ORDER BY e.name LIMIT 500"
        ).format(cond),
        params,
    ).fetchall()
    return [{"label": n, "value": i} for i, n in rows]


def _scoped(sql_text: str, key: int) -> Path | bytes | None:
    """Run a query of (enterprise_id, path, bytes) for ``key``, within the user's scope."""
    user = auth.current_user()
    if user is None:
        abort(401)
    with auth.db_pool().connection() as conn:
        row = conn.execute(sql_text, (key,)).fetchone()
        if row is None or not in_scope(conn, user, int(row[0])):
            abort(404)
    if row[1] and Path(row[1]).is_file():
        return Path(row[1])
    return bytes(row[2]) if len(row) > 2 and row[2] is not None else None


def _jpeg(found: Path | bytes | None) -> Response:
    if found is None:
        abort(404)
    if isinstance(found, Path):
        resp = send_file(found, mimetype="image/jpeg", max_age=0)
    else:
        resp = Response(found, mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def camera_frame(home: Path, conn: psycopg.Connection, camera_id: int) -> Path | None:
    """A current picture of the camera at original resolution (zones are drawn in its pixels),
    grabbed from the stream and kept for a minute."""
    from video.crypto import CredentialBox, with_credentials
    from video.tasks import file_path, is_file_source

    out = home / "var/video/frames" / f"camera-{camera_id}.jpg"
    if out.is_file() and time.time() - out.stat().st_mtime < FRAME_CACHE_S:
        return out
    row = conn.execute(
        "SELECT stream_url, username, secret_enc FROM registry.camera WHERE id = %s",
        (camera_id,),
    ).fetchone()
    if row is None or not row[0]:
        return None
    url = row[0]
    if row[2] is not None:
        url = with_credentials(url, row[1], CredentialBox.for_home(home).decrypt(row[2]))
    import cv2

    with _frame_lock:
        target = str(file_path(url)) if is_file_source(url) else url
        cap = cv2.VideoCapture(
            target,
            cv2.CAP_FFMPEG,
            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000],
        )
        try:
            ok, image = cap.read()
        finally:
            cap.release()
        if not ok or image is None:
            return out if out.is_file() else None
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return out


def frame_size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path))
    if image is None:
        return 0, 0
    return int(image.shape[1]), int(image.shape[0])


def install_routes(server: Flask) -> None:
    if "video_snapshot" in server.view_functions:  # one app per process; tests make several
        return

    @server.route("/video/media/snapshot/<int:alarm_id>")
    def video_snapshot(alarm_id: int) -> Response:
        return _jpeg(
            _scoped(
                "SELECT enterprise_id, snapshot_path, thumbnail FROM video.alarm WHERE id = %s",
                alarm_id,
            )
        )

    @server.route("/video/media/live/<int:task_id>")
    def video_live(task_id: int) -> Response:
        return _jpeg(
            _scoped(
                "SELECT t.enterprise_id, s.live_path FROM video.task t"
                " LEFT JOIN video.task_status s ON s.task_id = t.id WHERE t.id = %s",
                task_id,
            )
        )

    @server.route("/video/media/frame/<int:camera_id>")
    def video_frame(camera_id: int) -> Response:
        from dashboards.server import resources

        user = auth.current_user()
        if user is None:
            abort(401)
        with auth.db_pool().connection() as conn:
            row = conn.execute(
                "SELECT enterprise_id FROM registry.camera WHERE id = %s", (camera_id,)
            ).fetchone()
            if row is None or not in_scope(conn, user, int(row[0])):
                abort(404)
            path = camera_frame(resources(server).settings.home, conn, camera_id)
        return _jpeg(path)
