"""Positioning (C12): geofences per project area and period, positioning tags bound to the
access card of an approved entry (persons) or to a plate (vehicles), and the feed that raises
an alarm while a tag is somewhere or at a time it is not allowed, and clears it when it is back.

    fence_id = save_fence(conn, actor, enterprise_id=3, name="储罐区（禁入）", kind="forbidden",
                          polygon=[(0, 0), (50, 0), (50, 40), (0, 40)])
    tag_id = bind_card(conn, actor, enterprise_id=3, tag_no="T-0017", card_no="C0003-00000042")
    result = ingest(conn, 3, [Reading("T-0017", at, 12.5, 8.0)])   # stored, raised, cleared

Rules (``check_position``, pure): outside the tag's own period (the approved entry) is a
``period`` violation; inside an enabled forbidden fence active at that time, a ``forbidden``
one; a tag whose project (or the whole site) has allowed fences must be inside one that is
active at that time, else ``outside_allowed`` (or ``period`` when it is in such an area out of
the area's period). One alarm per tag (``workflow.alert`` source ``contractor_positioning``):
raised on the first position not allowed, updated while it lasts, resolved on the first
allowed position; each episode is a row of ``contractor.position_violation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import REGISTERS, Actor, Register, RegisterError, acting
from workflows import alerting
from workflows.contractors.archive import ContractorError

SOURCE: Final = "contractor_positioning"
LOCAL: Final = ZoneInfo("Asia/Shanghai")
KINDS: Final = ("allowed", "forbidden")
APPLIES: Final = ("person", "vehicle", "all")

REGISTERS.update(
    {
        "contractor_geofence": Register(
            "contractor",
            "geofence",
            frozenset({"enterprise_id", "project_id", "name", "kind", "applies_to", "polygon",
                       "active_from", "active_until", "enabled"}),
        ),
        "contractor_positioning_tag": Register(
            "contractor",
            "positioning_tag",
            frozenset({"enterprise_id", "tag_no", "kind", "card_no", "person_id", "plate",
                       "company_id", "project_id", "valid_from", "valid_until", "status",
                       "returned_at"}),
        ),
    }
)  # fmt: skip


# -- pure rules --------------------------------------------------------------------------------

Point = tuple[float, float]


@dataclass(frozen=True)
class Fence:
    id: int
    name: str
    kind: str  # allowed | forbidden
    polygon: tuple[Point, ...]
    applies_to: str = "all"
    project_id: int | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None

    def active(self, at: datetime) -> bool:
        return (self.active_from is None or at >= self.active_from) and (
            self.active_until is None or at < self.active_until
        )

    def applies(self, tag: TagInfo) -> bool:
        kind_ok = self.applies_to in ("all", tag.kind)
        return kind_ok and (self.project_id is None or self.project_id == tag.project_id)


@dataclass(frozen=True)
class TagInfo:
    id: int
    tag_no: str
    kind: str  # person | vehicle
    project_id: int | None
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class Violation:
    kind: str  # forbidden | outside_allowed | period
    fence_id: int | None
    detail: str


def parse_polygon(value: object) -> tuple[Point, ...]:
    """A polygon from JSON text or a list of pairs; ValueError naming what is wrong.

    >>> parse_polygon("[[0,0],[10,0],[10,10]]")
    ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0))
    """
    data = json.loads(value) if isinstance(value, str) else value
    if not isinstance(data, list | tuple):
        raise ValueError("polygon: a list of [x, y] points, e.g. [[0,0],[50,0],[50,40]]")
    points = []
    for n, p in enumerate(data, 1):
        if (
            not isinstance(p, list | tuple)
            or len(p) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
        ):
            raise ValueError(f"polygon point {n}: {p!r} is not [x, y] in metres")
        points.append((float(p[0]), float(p[1])))
    if len(points) < 3 or len(points) > 200:
        raise ValueError(f"polygon: 3 to 200 points, not {len(points)}")
    if len(set(points)) < 3:
        raise ValueError("polygon: at least 3 distinct points")
    if _area2(points) == 0:
        raise ValueError("polygon: the points lie on one line (no area)")
    return tuple(points)


def _area2(points: Sequence[Point]) -> float:
    return sum(
        x1 * y2 - x2 * y1
        for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True)
    )


def _on_segment(x: float, y: float, a: Point, b: Point) -> bool:
    cross = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
    if abs(cross) > 1e-9:
        return False
    return min(a[0], b[0]) <= x <= max(a[0], b[0]) and min(a[1], b[1]) <= y <= max(a[1], b[1])


def point_in_polygon(x: float, y: float, polygon: Sequence[Point]) -> bool:
    """Ray casting; a point on the boundary counts as inside (a fence line is the fence).

    >>> point_in_polygon(5, 5, [(0, 0), (10, 0), (10, 10), (0, 10)])
    True
    """
    inside = False
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        if _on_segment(x, y, a, b):
            return True
        if (a[1] > y) != (b[1] > y):
            cross_x = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < cross_x:
                inside = not inside
    return inside


def _fmt(at: datetime) -> str:
    return at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def check_position(
    tag: TagInfo, fences: Sequence[Fence], x: float, y: float, at: datetime
) -> Violation | None:
    """Why the tag may not be at (x, y) at ``at``, or None. Forbidden areas come first (the
    most dangerous), then the tag's own period, then the allowed areas. The detail is the
    alarm's text, in Chinese like every alarm summary."""
    mine = [f for f in fences if f.applies(tag)]
    for f in mine:
        if f.kind == "forbidden" and f.active(at) and point_in_polygon(x, y, f.polygon):
            return Violation("forbidden", f.id, f"闯入禁入区域 {f.name}")
    if not (tag.valid_from <= at < tag.valid_until):
        return Violation(
            "period",
            None,
            f"超出准入期限 {_fmt(tag.valid_from)} – {_fmt(tag.valid_until)}",
        )
    allowed = [f for f in mine if f.kind == "allowed"]
    if not allowed:
        return None
    if any(f.active(at) and point_in_polygon(x, y, f.polygon) for f in allowed):
        return None
    for f in allowed:
        if point_in_polygon(x, y, f.polygon):
            return Violation("period", f.id, f"在区域 {f.name} 的允许期限之外")
    names = "、".join(sorted({f.name for f in allowed if f.active(at)})) or "-"
    return Violation("outside_allowed", None, f"离开允许区域（{names}）")


def card_period(valid_from: date, valid_until: date) -> tuple[datetime, datetime]:
    """An entry's days as instants: from local midnight of the first day to the end of the
    last one."""
    start = datetime.combine(valid_from, time(), LOCAL)
    return start, datetime.combine(valid_until + timedelta(days=1), time(), LOCAL)


# -- fences and tags ---------------------------------------------------------------------------


def save_fence(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    enterprise_id: int,
    name: str,
    kind: str,
    polygon: object,
    project_id: int | None = None,
    applies_to: str = "all",
    active_from: datetime | None = None,
    active_until: datetime | None = None,
    enabled: bool = True,
    fence_id: int | None = None,
) -> int:
    """Insert (or with ``fence_id`` update) a geofence after checking it."""
    if kind not in KINDS:
        raise ContractorError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if applies_to not in APPLIES:
        raise ContractorError(f"applies to {applies_to!r}: one of {', '.join(APPLIES)}")
    try:
        points = parse_polygon(polygon)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ContractorError(str(exc)) from None
    if active_from and active_until and active_from >= active_until:
        raise ContractorError("period: the start must lie before the end")
    if project_id is not None:
        row = conn.execute(
            "SELECT enterprise_id FROM contractor.project WHERE id = %s", (project_id,)
        ).fetchone()
        if row is None or row[0] != enterprise_id:
            raise ContractorError(f"project #{project_id} is no project of this enterprise")
    values = {
        "enterprise_id": enterprise_id,
        "project_id": project_id,
        "name": name.strip(),
        "kind": kind,
        "applies_to": applies_to,
        "polygon": Jsonb([list(p) for p in points]),
        "active_from": active_from,
        "active_until": active_until,
        "enabled": enabled,
    }
    try:
        if fence_id is None:
            return registers.insert(conn, actor, "contractor_geofence", values, reason="geofence")
        registers.update(conn, actor, "contractor_geofence", fence_id, values, reason="geofence")
        return fence_id
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def fences(
    conn: psycopg.Connection, enterprise_id: int, *, enabled_only: bool = True
) -> list[Fence]:
    rows = conn.execute(
        """SELECT id, name, kind, polygon, applies_to, project_id, active_from, active_until
           FROM contractor.geofence WHERE enterprise_id = %s AND (enabled OR NOT %s)
           ORDER BY id""",
        (enterprise_id, enabled_only),
    ).fetchall()
    return [
        Fence(r[0], r[1], r[2], tuple((float(a), float(b)) for a, b in r[3]), r[4], r[5], r[6],
              r[7])
        for r in rows
    ]  # fmt: skip


def bind_card(
    conn: psycopg.Connection, actor: Actor, *, enterprise_id: int, tag_no: str, card_no: str
) -> int:
    """Bind a positioning tag to the access card of an approved entry: person, company,
    project and period come from the approval, never from the caller."""
    row = conn.execute(
        """SELECT id, enterprise_id, person_id, company_id, project_id, valid_from, valid_until,
                  status FROM contractor.entry_application WHERE card_no = %s""",
        (card_no,),
    ).fetchone()
    if row is None or row[1] != enterprise_id:
        raise ContractorError(f"no access card {card_no} at this enterprise")
    if row[7] != "approved":
        raise ContractorError(f"access card {card_no} is not valid (entry {row[7]})")
    start, end = card_period(row[5], row[6])
    try:
        return registers.insert(
            conn,
            actor,
            "contractor_positioning_tag",
            {
                "enterprise_id": enterprise_id,
                "tag_no": tag_no.strip(),
                "kind": "person",
                "card_no": card_no,
                "person_id": row[2],
                "company_id": row[3],
                "project_id": row[4],
                "valid_from": start,
                "valid_until": end,
            },
            reason="positioning tag bound to access card",
        )
    except RegisterError as exc:
        raise ContractorError(_taken(str(exc), tag_no, card_no)) from None


def _taken(message: str, tag_no: str, card_no: str) -> str:
    if "positioning_tag_active_idx" in message:
        return f"tag {tag_no} is in use: return it first"
    if "positioning_tag_card_idx" in message:
        return f"access card {card_no} already carries a tag: return that one first"
    return message


def bind_vehicle(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    enterprise_id: int,
    tag_no: str,
    plate: str,
    company_id: int,
    valid_from: datetime,
    valid_until: datetime,
    project_id: int | None = None,
) -> int:
    """A vehicle's tag: its plate, company, project and allowed period."""
    row = conn.execute(
        "SELECT enterprise_id FROM contractor.company WHERE id = %s", (company_id,)
    ).fetchone()
    if row is None or row[0] != enterprise_id:
        raise ContractorError(f"no contractor company #{company_id} at this enterprise")
    if valid_from >= valid_until:
        raise ContractorError("period: the start must lie before the end")
    try:
        return registers.insert(
            conn,
            actor,
            "contractor_positioning_tag",
            {"enterprise_id": enterprise_id, "tag_no": tag_no.strip(), "kind": "vehicle",
             "plate": plate.strip(), "company_id": company_id, "project_id": project_id,
             "valid_from": valid_from, "valid_until": valid_until},
            reason="positioning tag of a vehicle",
        )  # fmt: skip
    except RegisterError as exc:
        raise ContractorError(_taken(str(exc), tag_no, "")) from None


def return_tag(
    conn: psycopg.Connection, actor: Actor, tag_id: int, *, now: datetime | None = None
) -> None:
    """The tag is handed back: no more positions are accepted for it, its alarm is cleared."""
    now = now or datetime.now(UTC)
    with acting(conn, actor, "positioning tag returned"):
        row = conn.execute(
            "SELECT enterprise_id, tag_no, status FROM contractor.positioning_tag"
            " WHERE id = %s FOR UPDATE",
            (tag_id,),
        ).fetchone()
        if row is None or row[2] != "active":
            raise ContractorError(f"no tag #{tag_id} in use")
        registers.update(
            conn, actor, "contractor_positioning_tag", tag_id,
            {"status": "returned", "returned_at": now}, reason="positioning tag returned",
        )  # fmt: skip
        _end_episode(conn, tag_id, row[0], row[1], now, "定位卡已收回")


# -- the feed ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    tag_no: str
    at: datetime
    x: float
    y: float


@dataclass
class IngestResult:
    stored: int = 0
    unknown: int = 0
    raised: int = 0
    cleared: int = 0


def _alert_key(enterprise_id: int, tag_no: str) -> str:
    return f"{enterprise_id}:{tag_no}"


def _tags(conn: psycopg.Connection, enterprise_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        """SELECT t.id, t.tag_no, t.kind, t.project_id, t.valid_from, t.valid_until,
                  coalesce(p.name, t.plate), c.name, t.company_id,
                  (SELECT v.id FROM contractor.position_violation v
                   WHERE v.tag_id = t.id AND v.ended_at IS NULL)
           FROM contractor.positioning_tag t
           JOIN contractor.company c ON c.id = t.company_id
           LEFT JOIN contractor.person p ON p.id = t.person_id
           WHERE t.enterprise_id = %s AND t.status = 'active'""",
        (enterprise_id,),
    ).fetchall()
    return {
        r[1]: {
            "info": TagInfo(r[0], r[1], r[2], r[3], r[4], r[5]),
            "who": r[6],
            "company": r[7],
            "company_id": r[8],
            "open": r[9],
        }
        for r in rows
    }


def ingest(
    conn: psycopg.Connection,
    enterprise_id: int,
    readings: Iterable[Reading],
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Store positions of the enterprise's active tags and raise or clear their alarms.
    Readings of unknown or returned tags are counted, not stored."""
    result = IngestResult()
    tags = _tags(conn, enterprise_id)
    all_fences = fences(conn, enterprise_id)
    for r in sorted(readings, key=lambda r: r.at):
        tag = tags.get(r.tag_no)
        if tag is None:
            result.unknown += 1
            continue
        info: TagInfo = tag["info"]
        with conn.transaction():
            conn.execute(
                "INSERT INTO contractor.position (time, tag_id, x, y) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tag_id, time) DO UPDATE SET x = EXCLUDED.x, y = EXCLUDED.y",
                (r.at, info.id, r.x, r.y),
            )
            conn.execute(
                "UPDATE contractor.positioning_tag SET last_x = %s, last_y = %s, last_at = %s"
                " WHERE id = %s AND (last_at IS NULL OR last_at <= %s)",
                (r.x, r.y, r.at, info.id, r.at),
            )
            result.stored += 1
            found = check_position(info, all_fences, r.x, r.y, r.at)
            if found is not None:
                if _raise(conn, enterprise_id, tag, found, r, now):
                    result.raised += 1
            elif tag["open"] is not None:
                _end_episode(conn, info.id, enterprise_id, info.tag_no, r.at, "已回到允许区域")
                tag["open"] = None
                result.cleared += 1
    return result


def _raise(
    conn: psycopg.Connection,
    enterprise_id: int,
    tag: dict[str, Any],
    found: Violation,
    r: Reading,
    now: datetime | None,
) -> bool:
    """Open the episode and its alarm, or update them; True when newly raised."""
    info: TagInfo = tag["info"]
    what = "人员" if info.kind == "person" else "车辆"
    summary = f"{tag['company']} {what} {tag['who']}（{info.tag_no}）{found.detail}"
    alert_id = alerting.raise_external_alert(
        conn,
        SOURCE,
        _alert_key(enterprise_id, info.tag_no),
        "alarm" if found.kind == "forbidden" else "warning",
        {"tag": info.tag_no, "kind": info.kind, "company": tag["company"],
         "violation": found.kind},
        summary,
        priority="high" if found.kind == "forbidden" else "low",
        enterprise_id=enterprise_id,
        now=now or r.at,
    )  # fmt: skip
    if tag["open"] is None:
        row = conn.execute(
            """INSERT INTO contractor.position_violation (tag_id, kind, geofence_id, x, y,
                   started_at, alert_id, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (info.id, found.kind, found.fence_id, r.x, r.y, r.at, alert_id, found.detail),
        ).fetchone()
        assert row is not None
        tag["open"] = int(row[0])
        return True
    conn.execute(
        "UPDATE contractor.position_violation SET kind = %s, geofence_id = %s, detail = %s,"
        " x = %s, y = %s WHERE id = %s",
        (found.kind, found.fence_id, found.detail, r.x, r.y, tag["open"]),
    )
    return False


def _end_episode(
    conn: psycopg.Connection, tag_id: int, enterprise_id: int, tag_no: str, at: datetime, why: str
) -> None:
    conn.execute(
        "UPDATE contractor.position_violation SET ended_at = %s WHERE tag_id = %s"
        " AND ended_at IS NULL",
        (at, tag_id),
    )
    alerting.resolve_external_alert(
        conn, SOURCE, _alert_key(enterprise_id, tag_no), summary=f"{tag_no}：{why}", now=at
    )


# -- what the page shows -----------------------------------------------------------------------


def tag_rows(
    conn: psycopg.Connection, enterprise_ids: Sequence[int] | None, company_id: int | None
) -> list[dict[str, Any]]:
    """Active tags with their last position and open violation (scoped by the caller)."""
    rows = conn.execute(
        """SELECT t.id, t.tag_no, t.kind, coalesce(p.name, t.plate), c.name, t.card_no,
                  t.valid_from, t.valid_until, t.last_x, t.last_y, t.last_at, v.kind, v.detail,
                  t.enterprise_id, g.name
           FROM contractor.positioning_tag t
           JOIN contractor.company c ON c.id = t.company_id
           LEFT JOIN contractor.person p ON p.id = t.person_id
           LEFT JOIN contractor.position_violation v ON v.tag_id = t.id AND v.ended_at IS NULL
           LEFT JOIN contractor.geofence g ON g.id = v.geofence_id
           WHERE t.status = 'active'
             AND (%(ents)s::integer[] IS NULL OR t.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR t.company_id = %(company)s)
           ORDER BY t.tag_no""",
        {"ents": enterprise_ids, "company": company_id},
    ).fetchall()
    keys = ("id", "tag_no", "kind", "who", "company", "card_no", "valid_from", "valid_until",
            "x", "y", "at", "violation", "detail", "enterprise_id", "fence")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def violation_rows(
    conn: psycopg.Connection,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT v.id, t.tag_no, coalesce(p.name, t.plate), c.name, v.kind, v.detail,
                  v.started_at, v.ended_at, v.alert_id, g.name
           FROM contractor.position_violation v
           JOIN contractor.positioning_tag t ON t.id = v.tag_id
           LEFT JOIN contractor.geofence g ON g.id = v.geofence_id
           JOIN contractor.company c ON c.id = t.company_id
           LEFT JOIN contractor.person p ON p.id = t.person_id
           WHERE (%(ents)s::integer[] IS NULL OR t.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR t.company_id = %(company)s)
           ORDER BY v.started_at DESC LIMIT %(limit)s""",
        {"ents": enterprise_ids, "company": company_id, "limit": limit},
    ).fetchall()
    keys = ("id", "tag_no", "who", "company", "kind", "detail", "started_at", "ended_at",
            "alert_id", "fence")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def fence_rows(
    conn: psycopg.Connection, enterprise_ids: Sequence[int] | None
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT g.id, g.name, g.kind, g.applies_to, pr.code, g.active_from, g.active_until,
                  g.enabled, g.polygon, g.enterprise_id
           FROM contractor.geofence g LEFT JOIN contractor.project pr ON pr.id = g.project_id
           WHERE (%(ents)s::integer[] IS NULL OR g.enterprise_id = ANY(%(ents)s))
           ORDER BY g.enterprise_id, g.name""",
        {"ents": enterprise_ids},
    ).fetchall()
    keys = ("id", "name", "kind", "applies_to", "project", "active_from", "active_until",
            "enabled", "polygon", "enterprise_id")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def readings_from_json(data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Reading]:
    """Readings as a positioning system posts them: ``[{"tag": "T-1", "time": ISO, "x": 1,
    "y": 2}, ...]``; ValueError naming the first bad record."""
    items = data if isinstance(data, Sequence) else [data]
    out = []
    for n, item in enumerate(items, 1):
        try:
            at = datetime.fromisoformat(str(item["time"]))
            if at.tzinfo is None:
                raise ValueError("time needs a UTC offset")
            out.append(Reading(str(item["tag"]), at, float(item["x"]), float(item["y"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"reading {n}: {exc}") from None
    return out
