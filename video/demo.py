"""The video part of ``hazwatch demo`` (issue 9): a camera playing the real CCTV footage that
Debian's opencv-doc ships (vtest.avi, looped), a task running zone intrusion on its lawn and
crowding on the whole picture, an analysis node and the worker process.

    ok = ensure_demo_video(conn, settings, enterprise, say)   # idempotent; False: skipped
    children = demo_children(enterprise) if ok else []

People cross the lawn about 52-69 s into every 80 s loop, so an intrusion alarm with its
snapshot is raised and cleared once a loop (cooldown 20 s).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
ACTOR = Actor(None, "demo")
CAMERA, TASK, NODE = "CAM-LAWN", "VIDEO-LAWN", "DEMO-EDGE"
LAWN = [{"name": "lawn", "points": [[0, 440], [560, 440], [560, 576], [0, 576]]}]


def ensure_demo_video(
    conn: psycopg.Connection, settings: Settings, enterprise: int, say: Callable[[str], None]
) -> bool:
    """Camera, node, task and models; False (with the reason said) when footage or models are
    not available, so the rest of the demo still starts."""
    from video import models, registry
    from video.crypto import CredentialBox

    if not VTEST.is_file():
        say(f"  video      skipped: {VTEST} is missing (Debian opencv-doc; hazwatch install)")
        return False
    try:
        models.ensure_installed(settings.home, say=say)
    except HazwatchError as exc:
        say(f"  video      skipped: models not installed ({exc})")
        return False
    box = CredentialBox.for_home(settings.home)

    def find(query: str, *args: Any) -> int | None:
        row = conn.execute(query, args).fetchone()
        return int(row[0]) if row else None

    cam = find(
        "SELECT id FROM registry.camera WHERE enterprise_id = %s AND code = %s", enterprise, CAMERA
    )
    if cam is None:
        cam = registry.save_camera(
            conn,
            ACTOR,
            box,
            enterprise_id=enterprise,
            code=CAMERA,
            name="厂区草坪（演示录像 vtest.avi）",
            stream_url=str(VTEST),
            location="演示",
        )
    if (
        find("SELECT id FROM video.node WHERE enterprise_id = %s AND code = %s", enterprise, NODE)
        is None
    ):
        registry.save_node(
            conn,
            ACTOR,
            enterprise_id=enterprise,
            code=NODE,
            name="演示边缘分析节点",
            host="127.0.0.1",
            gpu="none",
            max_streams=4,
        )
    task = find(
        "SELECT id FROM video.task WHERE enterprise_id = %s AND code = %s", enterprise, TASK
    )
    if task is None:
        task = registry.save_task(
            conn,
            ACTOR,
            enterprise_id=enterprise,
            camera_id=cam,
            code=TASK,
            name="草坪区域入侵与人员聚集",
            max_fps=2,
            loop_file=True,
        )
        registry.bind_algorithm(conn, ACTOR, task, "intrusion", zones=LAWN, cooldown_s=20)
        registry.bind_algorithm(
            conn, ACTOR, task, "crowding", params={"max_persons": 4}, cooldown_s=30
        )
    return True


def demo_children(enterprise: int) -> list[Any]:
    from hazwatch.supervisor import Child

    return [Child("video", ["video", "run", "--enterprise", str(enterprise), "--node", NODE])]
