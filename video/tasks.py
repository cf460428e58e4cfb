"""Analysis tasks as the worker runs them (V3, V4): a camera, its algorithms with the resolved
version, zones, thresholds, schedule and cooldown. Pure parsing and checks first, then loading.

    zones = parse_zones([{"name": "gate", "points": [[0, 0], [100, 0], [100, 80]]}])
    windows = parse_schedule([{"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"}])
    in_schedule(windows, datetime(2026, 11, 23, 9, 30))      # Monday 09:30 -> True
    cfg = load_task(conn, task_id, box)                        # TaskConfig, URL with credentials
    algos = cfg.build(now_local)                               # video.detectors.Algorithm list
    cfg.fingerprint                                            # changes when anything changes

A schedule window may pass midnight (``22:00``-``06:00``: the night shift); ``days`` name the
day the window starts on, Monday = 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hazwatch.errors import HazwatchError
from video.zones import Zone


class TaskConfigError(HazwatchError):
    """A task's stored configuration that cannot run, naming the task, algorithm and field."""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]
    start: time
    end: time

    def contains(self, at: datetime) -> bool:
        t = at.time()
        if self.start <= self.end:
            return at.isoweekday() in self.days and self.start <= t < self.end
        # Past midnight: the evening part belongs to today, the morning part to yesterday.
        if t >= self.start:
            return at.isoweekday() in self.days
        yesterday = (at - timedelta(days=1)).isoweekday()
        return t < self.end and yesterday in self.days


def _clock(text: Any, where: str) -> time:
    if not isinstance(text, str):
        raise TaskConfigError(f"{where}: expected HH:MM, got {text!r}")
    try:
        hh, mm = text.split(":")
        if text == "24:00":
            return time(23, 59, 59, 999999)
        return time(int(hh), int(mm))
    except ValueError:
        raise TaskConfigError(f"{where}: expected HH:MM, got {text!r}") from None


def parse_schedule(raw: Any) -> list[Window]:
    """Schedule windows from their JSON form; ``[]`` means always.

    >>> parse_schedule([{"days": [6, 7], "from": "00:00", "to": "24:00"}])[0].days
    frozenset({6, 7})
    """
    if not isinstance(raw, list):
        raise TaskConfigError("schedule: expected a list of windows")
    out = []
    for n, item in enumerate(raw, 1):
        where = f"schedule window {n}"
        if not isinstance(item, dict):
            raise TaskConfigError(f"{where}: expected {{days, from, to}}")
        unknown = set(item) - {"days", "from", "to"}
        if unknown:
            raise TaskConfigError(f"{where}: unknown keys {sorted(unknown)}")
        days = item.get("days", [1, 2, 3, 4, 5, 6, 7])
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, int) and 1 <= d <= 7 for d in days)
        ):
            raise TaskConfigError(f"{where}: days must be a list of 1 (Monday) .. 7 (Sunday)")
        start = _clock(item.get("from", "00:00"), f"{where} from")
        end = _clock(item.get("to", "24:00"), f"{where} to")
        if start == end:
            raise TaskConfigError(f"{where}: from and to are the same time")
        out.append(Window(frozenset(days), start, end))
    return out


def in_schedule(windows: Sequence[Window], at: datetime) -> bool:
    """Whether an algorithm runs at local time ``at``; no windows: always."""
    return not windows or any(w.contains(at) for w in windows)


def parse_zones(raw: Any) -> list[Zone]:
    """Zones from their JSON form ``[{"name": ..., "points": [[x, y], ...]}]``.

    >>> parse_zones([{"name": "a", "points": [[0, 0], [4, 0], [4, 3]]}])[0].points[1]
    (4.0, 0.0)
    """
    if not isinstance(raw, list):
        raise TaskConfigError("zones: expected a list of {name, points}")
    zones, names = [], set()
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict) or "name" not in item or "points" not in item:
            raise TaskConfigError(f"zone {n}: expected {{name, points}}")
        pts = item["points"]
        if not isinstance(pts, list) or not all(
            isinstance(p, list | tuple)
            and len(p) == 2
            and all(isinstance(c, int | float) for c in p)
            for p in pts
        ):
            raise TaskConfigError(f"zone {item['name']!r}: points must be [[x, y], ...] numbers")
        zone = Zone(str(item["name"]), tuple((float(x), float(y)) for x, y in pts))
        if zone.name in names:
            raise TaskConfigError(f"zone {zone.name!r} appears twice")
        names.add(zone.name)
        zones.append(zone)
    return zones


def zones_json(zones: Sequence[Zone]) -> list[dict[str, Any]]:
    return [
        {"name": z.name, "points": [[round(x, 1), round(y, 1)] for x, y in z.points]} for z in zones
    ]


@dataclass(frozen=True)
class AlgoConfig:
    code: str
    version: str
    zones: tuple[Zone, ...]
    params: Mapping[str, Any]
    schedule: tuple[Window, ...]
    plugin_manifest: str | None = None

    @property
    def label(self) -> str:
        return f"{self.code}@{self.version}"


@dataclass(frozen=True)
class TaskConfig:
    task_id: int
    enterprise_id: int
    camera_id: int
    camera_label: str
    unit_label: str
    url: str = field(repr=False)  # may carry credentials: never logged
    display_url: str
    max_fps: float
    loop_file: bool
    algorithms: tuple[AlgoConfig, ...]
    fingerprint: str

    def active(self, at: datetime) -> tuple[AlgoConfig, ...]:
        return tuple(a for a in self.algorithms if in_schedule(a.schedule, at))

    def build(self, at: datetime) -> list[Any]:
        """The detectors of the algorithms scheduled at ``at`` (a bad stored value raises
        TaskConfigError naming the task and algorithm)."""
        from video.detectors import make
        from video.detectors.plugin import load_manifest

        out = []
        for a in self.active(at):
            try:
                plugins = [load_manifest(Path(a.plugin_manifest))] if a.plugin_manifest else []
                out.append(make(a.code, list(a.zones), dict(a.params), plugins))
            except HazwatchError as exc:
                raise TaskConfigError(f"task {self.task_id}, {a.label}: {exc}") from None
        return out


def merged_params(
    version_params: Mapping[str, Any], task_params: Mapping[str, Any], cooldown_s: float
) -> dict[str, Any]:
    """The version's defaults, the task's own values over them, and the task's cooldown.

    >>> merged_params({"min_conf": 0.4}, {"max_persons": 3}, 30)
    {'min_conf': 0.4, 'max_persons': 3, 'cooldown_s': 30.0}
    """
    return {**version_params, **task_params, "cooldown_s": float(cooldown_s)}


def is_file_source(url: str) -> bool:
    return url.startswith(("/", "file:"))


def file_path(url: str) -> Path:
    return Path(url[len("file://") :] if url.startswith("file://") else url.removeprefix("file:"))


TASK_SQL = """
SELECT t.id, t.enterprise_id, t.camera_id, t.max_fps, t.loop_file, c.code AS camera_code,
       c.name AS camera_name, c.stream_url, c.username, c.secret_enc, c.enabled AS camera_enabled,
       coalesce(u.name, '') AS unit_name, t.updated_at AS task_updated, c.updated_at AS cam_updated
FROM video.task t JOIN registry.camera c ON c.id = t.camera_id
LEFT JOIN registry.unit u ON u.id = c.unit_id
WHERE t.id = %s
"""

ALGO_SQL = """
SELECT a.code, a.plugin_manifest, v.version, v.params AS version_params, ta.zones, ta.params,
       ta.schedule, ta.cooldown_s, ta.updated_at, v.updated_at AS version_updated
FROM video.task_algorithm ta
JOIN video.algorithm a ON a.id = ta.algorithm_id
JOIN video.algorithm_version v ON v.id = coalesce(
    ta.version_id,
    (SELECT cv.id FROM video.algorithm_version cv WHERE cv.algorithm_id = a.id AND cv.is_current))
WHERE ta.task_id = %s AND ta.enabled
ORDER BY a.code
"""


def load_task(conn: psycopg.Connection, task_id: int, box: Any | None) -> TaskConfig:
    """The task as stored now. ``box`` (CredentialBox) decrypts the camera's password; None
    leaves credentials out (pages that only show the configuration)."""
    from video.crypto import with_credentials

    with conn.cursor(row_factory=dict_row) as cur:
        t = cur.execute(TASK_SQL, (task_id,)).fetchone()
        if t is None:
            raise TaskConfigError(f"no video task with id {task_id}")
        rows = cur.execute(ALGO_SQL, (task_id,)).fetchall()
    if not t["stream_url"]:
        raise TaskConfigError(f"task {task_id}: camera {t['camera_code']} has no stream URL")
    algos = []
    for r in rows:
        where = f"task {task_id}, {r['code']}@{r['version']}"
        try:
            zones = parse_zones(r["zones"])
            schedule = parse_schedule(r["schedule"])
        except HazwatchError as exc:
            raise TaskConfigError(f"{where}: {exc}") from None
        params = merged_params(r["version_params"], r["params"], r["cooldown_s"])
        algos.append(
            AlgoConfig(
                r["code"], r["version"], tuple(zones), params, tuple(schedule), r["plugin_manifest"]
            )
        )
    url = t["stream_url"]
    if box is not None and t["secret_enc"] is not None:
        url = with_credentials(url, t["username"], box.decrypt(t["secret_enc"]))
    elif t["username"]:
        url = with_credentials(url, t["username"], None)
    stamp = json.dumps(
        [
            t["stream_url"],
            t["username"],
            bytes(t["secret_enc"] or b"").hex(),
            t["max_fps"],
            t["loop_file"],
            t["camera_enabled"],
            [
                [
                    a.label,
                    [[z.name, z.points] for z in a.zones],
                    sorted(a.params.items()),
                    [[sorted(w.days), str(w.start), str(w.end)] for w in a.schedule],
                ]
                for a in algos
            ],
        ],
        default=str,
    )
    return TaskConfig(
        task_id=int(t["id"]),
        enterprise_id=int(t["enterprise_id"]),
        camera_id=int(t["camera_id"]),
        camera_label=f"{t['camera_code']} {t['camera_name']}",
        unit_label=t["unit_name"],
        url=url,
        display_url=t["stream_url"],
        max_fps=float(t["max_fps"]),
        loop_file=bool(t["loop_file"]),
        algorithms=tuple(algos),
        fingerprint=hashlib.sha256(stamp.encode()).hexdigest()[:16],
    )
