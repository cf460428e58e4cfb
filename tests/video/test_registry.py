"""Video registers (V2-V4): cameras with credentials encrypted at rest, algorithms with
versions, tasks with zones, thresholds, schedule and cooldown; every change audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hazwatch.registers import Actor, RegisterError
from tests.conftest import make_enterprise
from video import registry
from video.crypto import CredentialBox, CredentialError, redact, split_credentials
from video.tasks import TaskConfigError, in_schedule, load_task, parse_schedule, parse_zones

ACTOR = Actor(None, "test-video")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LAWN = [{"name": "lawn", "points": [[0, 440], [560, 440], [560, 576], [0, 576]]}]


def make_camera(
    conn: psycopg.Connection,
    box: CredentialBox,
    enterprise: int,
    url: str = str(VTEST),
    **extra: Any,
) -> int:
    code = f"CAM-{uuid.uuid4().hex[:6]}"
    return registry.save_camera(
        conn,
        ACTOR,
        box,
        enterprise_id=enterprise,
        code=code,
        name=f"摄像机 {code}",
        stream_url=url,
        **extra,
    )


def make_task(
    conn: psycopg.Connection,
    box: CredentialBox,
    enterprise: int,
    algorithms: dict[str, dict[str, Any]],
    url: str = str(VTEST),
    **task: Any,
) -> int:
    """A camera on ``url`` and a task running ``algorithms`` ({code: bind_algorithm kwargs})."""
    cam = make_camera(conn, box, enterprise, url)
    tid = registry.save_task(
        conn,
        ACTOR,
        enterprise_id=enterprise,
        camera_id=cam,
        code=f"T-{uuid.uuid4().hex[:6]}",
        name="测试任务",
        **task,
    )
    for code, kwargs in algorithms.items():
        registry.bind_algorithm(conn, ACTOR, tid, code, **kwargs)
    return tid


def test_credentials_are_encrypted_at_rest_and_never_logged(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    box = CredentialBox.for_home(tmp_path)
    key_file = tmp_path / "var/keys/video-credentials.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    ent, _ = make_enterprise(conn)
    secret = f"Pw-{uuid.uuid4().hex[:10]}"
    cam = make_camera(conn, box, ent, f"rtsp://admin:{secret}@10.1.2.3:554/main")
    other = make_camera(conn, box, ent, "rtsp://10.1.2.4/main", username="op", password=secret)
    rows = conn.execute(
        "SELECT stream_url, username, secret_enc FROM registry.camera WHERE id = ANY(%s)",
        ([cam, other],),
    ).fetchall()
    for url, user, enc in rows:
        assert secret not in url and user in ("admin", "op")
        assert enc is not None and secret.encode() not in bytes(enc)
        assert box.decrypt(enc) == secret
    dump = conn.execute(
        "SELECT string_agg(coalesce(before::text, '') || coalesce(after::text, ''), ' ')"
        " FROM audit.log WHERE entity = 'registry.camera' AND entity_id = ANY(%s)",
        ([str(cam), str(other)],),
    ).fetchone()
    assert dump and dump[0] and "10.1.2.3" in dump[0]  # the change itself is logged
    assert secret not in dump[0]
    # The worker gets the credentials back only in the URL it hands to FFmpeg.
    tid = registry.save_task(
        conn, ACTOR, enterprise_id=ent, camera_id=cam, code="T-cred", name="凭据"
    )
    cfg = load_task(conn, tid, box)
    assert cfg.url == f"rtsp://admin:{secret}@10.1.2.3:554/main"
    assert secret not in repr(cfg) and secret not in cfg.display_url
    assert redact(cfg.url) == "rtsp://admin:***@10.1.2.3:554/main"
    with pytest.raises(CredentialError, match="enter the password again"):
        load_task(conn, tid, CredentialBox.for_home(tmp_path / "other"))
    # Password unchanged when not given, removed with "".
    registry.save_camera(conn, ACTOR, box, camera_id=cam, name="改名")
    assert conn.execute(
        "SELECT secret_enc IS NOT NULL FROM registry.camera WHERE id = %s", (cam,)
    ).fetchone() == (True,)
    registry.save_camera(conn, ACTOR, box, camera_id=cam, password="")
    assert conn.execute(
        "SELECT secret_enc FROM registry.camera WHERE id = %s", (cam,)
    ).fetchone() == (None,)


def test_split_credentials_and_bad_urls(conn: psycopg.Connection, tmp_path: Path) -> None:
    assert split_credentials("rtsp://u@h/x") == ("rtsp://h/x", "u", None)
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    with pytest.raises(RegisterError, match="stream_url 'ftp://x': expected rtsp://"):
        make_camera(conn, box, ent, "ftp://x")


def test_zones_schedule_and_parameters_are_checked_with_named_faults(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    tid = make_task(conn, box, ent, {})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"zones": [{"name": "a", "points": [[0, 0], [1, 1]]}]}, "at least 3 points"),
        ({"zones": [{"name": "a", "points": [[0, 0], ["x", 1], [2, 2]]}]}, "numbers"),
        ({"zones": LAWN + LAWN}, "appears twice"),
        ({"schedule": [{"days": [8], "from": "08:00", "to": "18:00"}]}, "1 \\(Monday\\)"),
        ({"schedule": [{"from": "8h", "to": "18:00"}]}, "expected HH:MM"),
        ({"params": {"max_persons": 0}}, "crowding parameters: .*max_persons"),
        ({"params": {"colour": 1}}, "colour"),
        ({"cooldown_s": -1}, "cooldown_s must be >= 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RegisterError, match=message):
            registry.bind_algorithm(conn, ACTOR, tid, "crowding", **kwargs)
    with pytest.raises(RegisterError, match="no algorithm 'teleport'; known: crowding"):
        registry.bind_algorithm(conn, ACTOR, tid, "teleport")
    assert conn.execute(
        "SELECT count(*) FROM video.task_algorithm WHERE task_id = %s", (tid,)
    ).fetchone() == (0,)


def test_schedule_windows_including_overnight() -> None:
    night = parse_schedule([{"days": [1], "from": "22:00", "to": "06:00"}])
    assert in_schedule(night, datetime(2026, 11, 23, 23, 0))  # Monday 23:00
    assert in_schedule(night, datetime(2026, 11, 24, 5, 59))  # Tuesday morning: Monday's
    assert not in_schedule(night, datetime(2026, 11, 24, 23, 0))  # Tuesday night
    assert not in_schedule(night, datetime(2026, 11, 23, 12, 0))
    assert in_schedule([], datetime(2026, 11, 23, 12, 0))
    with pytest.raises(TaskConfigError, match="same time"):
        parse_schedule([{"from": "08:00", "to": "08:00"}])
    assert parse_zones(LAWN)[0].contains((100, 500))


def test_one_task_many_algorithms_and_version_upgrade_reaches_only_its_tasks(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    both = make_task(
        conn,
        box,
        ent,
        {
            "intrusion": {"zones": LAWN, "cooldown_s": 30},
            "crowding": {
                "zones": LAWN,
                "params": {"max_persons": 3},
                "schedule": [{"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"}],
            },
        },
    )
    fire_only = make_task(conn, box, ent, {"fire": {}})
    cfg = load_task(conn, both, box)
    assert [a.label for a in cfg.algorithms] == ["crowding@1.0", "intrusion@1.0"]
    assert cfg.algorithms[1].params == {"cooldown_s": 30.0}
    assert [a.code for a in cfg.active(datetime(2026, 11, 22, 10))] == ["intrusion"]  # Sunday
    algos = cfg.build(datetime(2026, 11, 23, 10))  # Monday: both
    assert [a.type for a in algos] == ["crowding", "intrusion"]
    assert algos[0].params.max_persons == 3 and algos[1].params.cooldown_s == 30
    before = {t: load_task(conn, t, box).fingerprint for t in (both, fire_only)}
    version = f"2.{uuid.uuid4().hex[:4]}"
    registry.release_version(
        conn,
        ACTOR,
        "intrusion",
        version,
        params={"min_conf": 0.5},
        notes="fewer false alarms",
        current=True,
    )
    try:
        _check_upgrade(conn, box, both, fire_only, before, version)
    finally:  # later tests expect the shipped version
        registry.make_current(conn, ACTOR, "intrusion", "1.0")


def _check_upgrade(
    conn: psycopg.Connection,
    box: CredentialBox,
    both: int,
    fire_only: int,
    before: dict[int, str],
    version: str,
) -> None:
    after = {t: load_task(conn, t, box) for t in (both, fire_only)}
    assert after[both].fingerprint != before[both]
    assert after[fire_only].fingerprint == before[fire_only]
    assert after[both].algorithms[1].label == f"intrusion@{version}"
    assert after[both].algorithms[1].params["min_conf"] == 0.5
    current = conn.execute(
        "SELECT v.version FROM video.algorithm_version v JOIN video.algorithm a"
        " ON a.id = v.algorithm_id WHERE a.code = 'intrusion' AND v.is_current"
    ).fetchall()
    assert current == [(version,)]
    logged = conn.execute(
        "SELECT count(*) FROM audit.log WHERE entity = 'video.algorithm_version'"
        " AND actor = 'test-video' AND after->>'version' = %s",
        (version,),
    ).fetchone()
    assert logged and logged[0] >= 2  # released, then made current
    with pytest.raises(RegisterError, match="max_persons"):
        registry.release_version(conn, ACTOR, "crowding", "9.9", params={"max_persons": -2})


def test_nodes_and_task_camera_of_another_enterprise(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    other, _ = make_enterprise(conn)
    node = registry.save_node(
        conn, ACTOR, enterprise_id=ent, code="edge-1", name="边缘节点", gpu="none", max_streams=4
    )
    with pytest.raises(RegisterError, match="max_streams"):
        registry.save_node(conn, ACTOR, enterprise_id=ent, code="edge-2", name="x", max_streams=0)
    cam = make_camera(conn, box, other)
    with pytest.raises(RegisterError, match="belongs to another enterprise"):
        registry.save_task(
            conn, ACTOR, enterprise_id=ent, camera_id=cam, code="x", name="x", node_id=node
        )
    assert conn.execute(
        "SELECT count(*) FROM audit.log WHERE entity = 'video.node' AND entity_id = %s",
        (str(node),),
    ).fetchone() == (1,)


def test_demo_video_is_provisioned_once(conn: psycopg.Connection, video_models: Path) -> None:
    from types import SimpleNamespace

    from video.demo import CAMERA, TASK, demo_children, ensure_demo_video

    ent, _ = make_enterprise(conn)
    said: list[str] = []
    settings = SimpleNamespace(home=video_models)
    assert ensure_demo_video(conn, settings, ent, said.append)  # type: ignore[arg-type]
    assert ensure_demo_video(conn, settings, ent, said.append)  # type: ignore[arg-type]
    tasks = conn.execute(
        "SELECT t.id, t.loop_file, c.code FROM video.task t JOIN registry.camera c"
        " ON c.id = t.camera_id WHERE t.enterprise_id = %s AND t.code = %s",
        (ent, TASK),
    ).fetchall()
    assert len(tasks) == 1 and tasks[0][1] and tasks[0][2] == CAMERA
    cfg = load_task(conn, tasks[0][0], None)
    assert [a.code for a in cfg.algorithms] == ["crowding", "intrusion"]
    assert cfg.algorithms[1].zones[0].name == "lawn" and not said
    assert demo_children(ent)[0].args[:2] == ["video", "run"]
