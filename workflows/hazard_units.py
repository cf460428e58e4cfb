"""Hazard units (R2-R5): the state of each monitored point and each unit's warning and SIS
state, derived from current values, the alarm master database and active alarm events.

Pure derivation (tested directly)::

    p = Point(role="key_parameter", value=182.0, limits={"H": 170.0, "HH": 175.0})
    point_state(p)                          # "alarm" (above HH)
    unit_state([p, Point(role="sis_bypass", value=1.0)])
    # UnitState(warning="alarm", sis="bypassed", alarms=1, warnings=0, unknown=0)

From the database::

    views = load_units(conn, scope)                 # [UnitView] with points and states
    changes = refresh_states(conn)                  # the scheduler's job: writes hazard.*

Rules (docs/hazard-monitoring.md): a first-level alarm (H, L, and DCS alarms of other
conditions) makes a point **warning** (预警), a second-level alarm (HH, LL) or an interlock
trip **alarm** (报警). Discrete points (static-grounding disconnected, overfill) are alarms when
1. A unit is as bad as its worst point; a tripped SIS makes it alarm, a bypassed SIS at least
warning. Points without a value in ``STALE_AFTER`` are unknown and do not lower the state; a
unit whose points are all unknown is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting

STALE_AFTER: Final = timedelta(minutes=10)
#: Active alarm events are looked for this far back (a DCS alarm standing longer is still
#: seen through the value against its limits).
ACTIVE_LOOKBACK: Final = timedelta(days=7)
ROLES: Final = (
    "key_parameter", "sis_bypass", "sis_trip", "gas_combustible", "gas_toxic", "temperature",
    "humidity", "static_grounding", "overfill",
)  # fmt: skip
DISCRETE_ROLES: Final = frozenset({"sis_bypass", "sis_trip", "static_grounding", "overfill"})
SIS_ROLES: Final = frozenset({"sis_bypass", "sis_trip"})
SECOND_LEVEL: Final = frozenset({"HH", "LL", "TRIP"})
RANK: Final = {"unknown": -1, "normal": 0, "warning": 1, "alarm": 2}
UNIT_KINDS: Final = ("process", "warehouse", "loading_area", "other")


class HazardError(HazwatchError):
    """A hazard-unit register change that cannot be made, with the reason."""


@dataclass(frozen=True)
class Point:
    """One monitored point as the state derivation needs it."""

    role: str
    value: float | None = None
    #: Seconds since the newest value (None: never reported).
    age_s: float | None = 0.0
    #: Alarm limits of the tag by condition (H, HH, L, LL) from the alarm master database.
    limits: Mapping[str, float] = field(default_factory=dict)
    #: Conditions with an alarm event (ALM) not yet returned (RTN).
    active: frozenset[str] = frozenset()


@dataclass(frozen=True)
class UnitState:
    warning: str
    sis: str
    alarms: int = 0
    warnings: int = 0
    unknown: int = 0


def _stale(p: Point, stale_after: timedelta) -> bool:
    return p.value is None or p.age_s is None or p.age_s > stale_after.total_seconds()


def limit_conditions(value: float, limits: Mapping[str, float]) -> set[str]:
    """Conditions whose limit ``value`` is beyond (H/HH at or above, L/LL at or below).

    >>> sorted(limit_conditions(52.0, {"H": 20.0, "HH": 50.0}))
    ['H', 'HH']
    """
    out = set()
    for cond, limit in limits.items():
        if (cond in ("H", "HH") and value >= limit) or (cond in ("L", "LL") and value <= limit):
            out.add(cond)
    return out


def point_state(p: Point, stale_after: timedelta = STALE_AFTER) -> str:
    """normal / warning / alarm / unknown of one point (see the module doc)."""
    if p.role not in ROLES:
        raise ValueError(f"role {p.role!r} is not one of {', '.join(ROLES)}")
    stale = _stale(p, stale_after)
    if p.role in DISCRETE_ROLES:
        if stale:
            return "unknown"
        if p.role in SIS_ROLES:
            # An SIS flag is a state, not a process alarm: sis_state() weighs it.
            return "normal"
        return "alarm" if (p.value or 0.0) >= 0.5 else "normal"
    conditions = set(p.active)
    if not stale and p.value is not None:
        conditions |= limit_conditions(p.value, p.limits)
    if conditions & SECOND_LEVEL:
        return "alarm"
    if conditions:
        return "warning"
    return "unknown" if stale else "normal"


def sis_state(points: Iterable[Point], stale_after: timedelta = STALE_AFTER) -> str:
    """none (no SIS points) / unknown / tripped / bypassed / normal."""
    sis = [p for p in points if p.role in SIS_ROLES]
    if not sis:
        return "none"
    known = [p for p in sis if not _stale(p, stale_after)]
    if any(p.role == "sis_trip" and (p.value or 0) >= 0.5 for p in known):
        return "tripped"
    if any(p.role == "sis_bypass" and (p.value or 0) >= 0.5 for p in known):
        return "bypassed"
    return "normal" if known else "unknown"


def unit_state(points: Sequence[Point], stale_after: timedelta = STALE_AFTER) -> UnitState:
    """The unit's warning state (worst point, SIS weighed in) and SIS state."""
    states = [point_state(p, stale_after) for p in points if p.role not in SIS_ROLES]
    sis = sis_state(points, stale_after)
    known = [s for s in states if s != "unknown"]
    worst = max(known, key=RANK.__getitem__) if known else "unknown"
    if sis == "tripped":
        worst = "alarm"
    elif sis == "bypassed" and RANK[worst] < RANK["warning"]:
        worst = "warning"
    elif worst == "unknown" and sis == "normal":
        worst = "normal"
    return UnitState(
        warning=worst,
        sis=sis,
        alarms=states.count("alarm"),
        warnings=states.count("warning"),
        unknown=states.count("unknown"),
    )


def unit_kind(kind: str, processes: Sequence[Any]) -> str:
    """Which section of the page a unit belongs to."""
    if kind in ("warehouse", "loading_area"):
        return kind
    return "process" if processes else "other"


# -- database -------------------------------------------------------------------------------


@dataclass
class PointView:
    id: int
    unit_id: int
    tag_id: int
    tag: str
    description: str | None
    eng_unit: str | None
    role: str
    label: str | None
    parameter: str | None
    sensor_code: str | None
    value: float | None
    time: datetime | None
    limits: dict[str, float]
    active: frozenset[str]
    state: str = "unknown"

    def point(self, now: datetime) -> Point:
        age = (now - self.time).total_seconds() if self.time is not None else None
        return Point(self.role, self.value, age, self.limits, self.active)


@dataclass
class UnitView:
    id: int
    enterprise_id: int
    enterprise_name: str
    code: str
    name: str
    kind: str
    hazard_code: str | None
    major_hazard_level: int | None
    processes: list[str]
    points: list[PointView]
    state: UnitState
    chemicals: list[dict[str, Any]] = field(default_factory=list)
    loading: dict[str, Any] | None = None
    #: The stored state (hazard.unit_state): for units received from below it is the only one.
    stored: dict[str, Any] | None = None

    @property
    def section(self) -> str:
        return unit_kind(self.kind, self.processes)


_UNITS_SQL = """
SELECT u.id, u.enterprise_id, e.name, u.code, u.name, u.kind, u.hazard_code,
       u.major_hazard_level,
       coalesce((SELECT array_agg(p.name ORDER BY p.id) FROM registry.unit_process up
                 JOIN registry.hazardous_process p ON p.id = up.process_id
                 WHERE up.unit_id = u.id), '{{}}')
FROM registry.unit u JOIN registry.enterprise e ON e.id = u.enterprise_id
WHERE {cond} AND {filt} AND (
    EXISTS (SELECT 1 FROM registry.hazard_point h WHERE h.unit_id = u.id)
    OR EXISTS (SELECT 1 FROM registry.unit_process up WHERE up.unit_id = u.id)
    OR EXISTS (SELECT 1 FROM hazard.unit_state s WHERE s.unit_id = u.id)
    OR u.kind IN ('warehouse', 'loading_area'))
ORDER BY e.name, u.code
"""


def load_units(
    conn: psycopg.Connection,
    scope: Any | None = None,
    *,
    enterprise_id: int | None = None,
    now: datetime | None = None,
) -> list[UnitView]:
    """Hazard units in ``scope`` (a dashboards.auth.Scope; None: all) with their points'
    current values and states. Units with points, a supervised process, a stored state, or of
    kind warehouse / loading_area count."""
    now = now or datetime.now(UTC)
    cond, params = (sql.SQL("TRUE"), ()) if scope is None else scope.condition("u.enterprise_id")
    filt = sql.SQL("(%s::int IS NULL OR u.enterprise_id = %s)")
    rows = conn.execute(
        sql.SQL(_UNITS_SQL).format(cond=cond, filt=filt),
        [*params, enterprise_id, enterprise_id],
    ).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    points = _points(conn, ids, now)
    stored = {
        r[0]: {"warning": r[1], "sis": r[2], "since": r[3], "detail": r[4], "checked_at": r[5]}
        for r in conn.execute(
            "SELECT unit_id, warning_state, sis_state, since, detail, checked_at"
            " FROM hazard.unit_state WHERE unit_id = ANY(%s)",
            (ids,),
        )
    }
    chems: dict[int, list[dict[str, Any]]] = {}
    for uid, name, cas, stock, crit in conn.execute(
        "SELECT unit_id, name, cas_no, max_stock_t, critical_quantity_t"
        " FROM registry.stored_chemical WHERE unit_id = ANY(%s) ORDER BY unit_id, name",
        (ids,),
    ):
        chems.setdefault(uid, []).append(
            {"name": name, "cas_no": cas, "max_stock_t": stock, "critical_quantity_t": crit}
        )
    loading = {
        r[0]: {"kinds": list(r[1]), "bays": r[2], "major_hazard": r[3]}
        for r in conn.execute(
            "SELECT unit_id, kinds, bays, major_hazard FROM registry.loading_area"
            " WHERE unit_id = ANY(%s)",
            (ids,),
        )
    }
    out = []
    for r in rows:
        pts = points.get(r[0], [])
        derived = [p.point(now) for p in pts]
        for p, d in zip(pts, derived, strict=True):
            p.state = point_state(d)
        state = unit_state(derived)
        out.append(
            UnitView(
                id=r[0],
                enterprise_id=r[1],
                enterprise_name=r[2],
                code=r[3],
                name=r[4],
                kind=r[5],
                hazard_code=r[6],
                major_hazard_level=r[7],
                processes=list(r[8]),
                points=pts,
                state=state,
                chemicals=chems.get(r[0], []),
                loading=loading.get(r[0]),
                stored=stored.get(r[0]),
            )
        )
    return out


def _points(conn: psycopg.Connection, unit_ids: list[int], now: datetime) -> dict[int, list]:
    rows = conn.execute(
        "SELECT h.id, h.unit_id, h.tag_id, t.name, t.description, t.eng_unit, h.role, h.label,"
        " pp.name, s.code FROM registry.hazard_point h JOIN registry.tag t ON t.id = h.tag_id"
        " LEFT JOIN registry.process_parameter pp ON pp.id = h.parameter_id"
        " LEFT JOIN registry.sensor s ON s.id = h.sensor_id"
        " WHERE h.unit_id = ANY(%s) ORDER BY h.unit_id, h.role, t.name",
        (unit_ids,),
    ).fetchall()
    tags = sorted({r[2] for r in rows})
    latest = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT t.id, s.time, s.value FROM unnest(%s::int[]) t(id) LEFT JOIN LATERAL ("
            " SELECT time, value FROM ts.sample WHERE tag_id = t.id AND time > %s"
            " AND time <= %s AND quality >= 192 ORDER BY time DESC LIMIT 1) s ON TRUE",
            (tags, now - timedelta(days=1), now),
        )
    }
    limits: dict[int, dict[str, float]] = {}
    for tag_id, cond, limit in conn.execute(
        "SELECT tag_id, condition, limit_value FROM registry.alarm_point"
        " WHERE tag_id = ANY(%s) AND enabled AND limit_value IS NOT NULL"
        " AND condition IN ('H', 'HH', 'L', 'LL')",
        (tags,),
    ):
        limits.setdefault(tag_id, {})[cond] = float(limit)
    active: dict[int, set[str]] = {}
    for tag_id, cond, kind in conn.execute(
        "SELECT DISTINCT ON (tag_id, condition) tag_id, condition, kind FROM alarm.event"
        " WHERE tag_id = ANY(%s) AND kind IN ('ALM', 'RTN') AND time > %s AND time <= %s"
        " ORDER BY tag_id, condition, time DESC",
        (tags, now - ACTIVE_LOOKBACK, now),
    ):
        if kind == "ALM":
            active.setdefault(tag_id, set()).add(cond or "DISCRETE")
    out: dict[int, list[PointView]] = {}
    for r in rows:
        t, v = latest.get(r[2], (None, None))
        out.setdefault(r[1], []).append(
            PointView(
                id=r[0],
                unit_id=r[1],
                tag_id=r[2],
                tag=r[3],
                description=r[4],
                eng_unit=r[5],
                role=r[6],
                label=r[7],
                parameter=r[8],
                sensor_code=r[9],
                value=v,
                time=t,
                limits=limits.get(r[2], {}),
                active=frozenset(active.get(r[2], set())),
            )
        )
    return out


@dataclass(frozen=True)
class StateChange:
    unit_id: int
    time: datetime
    warning: str
    sis: str
    prev_warning: str | None
    prev_sis: str | None
    detail: dict[str, Any]


def refresh_states(conn: psycopg.Connection, now: datetime | None = None) -> list[StateChange]:
    """Derive every locally monitored unit's state (units with points); store it, record a
    change in hazard.state_change and queue it on the ``hazard_state`` feed. Returns the
    changes. Units received from below (no points here) keep their received state."""
    from workflows.hazard_feeds import queue_state_change

    now = now or datetime.now(UTC)
    changes: list[StateChange] = []
    with conn.transaction():
        units = [u for u in load_units(conn, None, now=now) if u.points]
        for u in units:
            s = u.state
            detail = {"alarms": s.alarms, "warnings": s.warnings, "unknown": s.unknown,
                      "points": len(u.points)}  # fmt: skip
            prev = u.stored
            if prev is not None and (prev["warning"], prev["sis"]) == (s.warning, s.sis):
                conn.execute(
                    "UPDATE hazard.unit_state SET checked_at = %s, detail = %s WHERE unit_id = %s",
                    (now, Jsonb(detail), u.id),
                )
                continue
            change = StateChange(
                u.id, now, s.warning, s.sis,
                prev["warning"] if prev else None, prev["sis"] if prev else None, detail,
            )  # fmt: skip
            store_change(conn, change)
            queue_state_change(conn, u.id, change)
            changes.append(change)
    return changes


def store_change(conn: psycopg.Connection, c: StateChange) -> bool:
    """Write one state change (history + current); False when that change was stored before."""
    first = conn.execute(
        "INSERT INTO hazard.state_change (time, unit_id, warning_state, sis_state, prev_warning,"
        " prev_sis, detail) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (c.time, c.unit_id, c.warning, c.sis, c.prev_warning, c.prev_sis, Jsonb(c.detail)),
    ).rowcount
    # A change older than the stored one (arriving late from below) does not overwrite it.
    conn.execute(
        "INSERT INTO hazard.unit_state (unit_id, warning_state, sis_state, since, detail,"
        " checked_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (unit_id) DO UPDATE SET"
        " warning_state = EXCLUDED.warning_state, sis_state = EXCLUDED.sis_state,"
        " since = EXCLUDED.since, detail = EXCLUDED.detail, checked_at = EXCLUDED.checked_at"
        " WHERE hazard.unit_state.since <= EXCLUDED.since",
        (c.unit_id, c.warning, c.sis, c.time, Jsonb(c.detail), c.time),
    )
    return bool(first)


def state_job(conn: psycopg.Connection) -> str:
    """The scheduler's ``hazard states`` job."""
    changes = refresh_states(conn)
    return f"{len(changes)} hazard unit state changes"


# -- registers ------------------------------------------------------------------------------


def _unit(conn: psycopg.Connection, unit_id: int) -> tuple[int, str]:
    row = conn.execute(
        "SELECT enterprise_id, kind FROM registry.unit WHERE id = %s", (unit_id,)
    ).fetchone()
    if row is None:
        raise HazardError(f"unit_id {unit_id}: no such unit")
    return int(row[0]), str(row[1])


def _run(
    conn: psycopg.Connection, actor: Actor, reason: str, query: str, params: Sequence[Any]
) -> int:
    try:
        with acting(conn, actor, reason):
            row = conn.execute(query, params).fetchone()
    except psycopg.errors.IntegrityError as exc:
        d = exc.diag
        raise HazardError(
            f"{d.table_name or 'register'}: {d.message_detail or d.message_primary}"
            + (f" ({d.constraint_name})" if d.constraint_name else "")
        ) from exc
    if row is None:
        raise HazardError("nothing was written")
    return int(row[0])


def link_process(conn: psycopg.Connection, actor: Actor, unit_id: int, process: int | str) -> int:
    """Link a unit to a supervised process (its id 1-18 or exact name); idempotent."""
    _unit(conn, unit_id)
    row = conn.execute(
        "SELECT id FROM registry.hazardous_process WHERE id::text = %s OR name = %s",
        (str(process), str(process)),
    ).fetchone()
    if row is None:
        raise HazardError(f"process {process!r}: not one of the 18 supervised processes")
    return _run(
        conn, actor, "supervised process linked",
        "INSERT INTO registry.unit_process (unit_id, process_id) VALUES (%s, %s)"
        " ON CONFLICT (unit_id, process_id) DO UPDATE SET unit_id = EXCLUDED.unit_id"
        " RETURNING id",
        (unit_id, int(row[0])),
    )  # fmt: skip


def add_point(
    conn: psycopg.Connection,
    actor: Actor,
    unit_id: int,
    tag_id: int,
    role: str,
    *,
    parameter: str | None = None,
    sensor_id: int | None = None,
    label: str | None = None,
) -> int:
    """Add (or update) a monitored point of a unit; ``parameter`` names a key parameter of one
    of the unit's supervised processes."""
    enterprise, _ = _unit(conn, unit_id)
    if role not in ROLES:
        raise HazardError(f"role {role!r}: one of {', '.join(ROLES)}")
    tag = conn.execute("SELECT enterprise_id FROM registry.tag WHERE id = %s", (tag_id,)).fetchone()
    if tag is None or tag[0] != enterprise:
        raise HazardError(f"tag_id {tag_id}: not a tag of the unit's enterprise")
    parameter_id = None
    if parameter is not None:
        if role != "key_parameter":
            raise HazardError("parameter: only key_parameter points name a process parameter")
        found = conn.execute(
            "SELECT pp.id FROM registry.process_parameter pp JOIN registry.unit_process up"
            " ON up.process_id = pp.process_id WHERE up.unit_id = %s AND pp.name = %s"
            " ORDER BY pp.id LIMIT 1",
            (unit_id, parameter),
        ).fetchone()
        if found is None:
            raise HazardError(
                f"parameter {parameter!r}: not a key parameter of the unit's supervised processes"
            )
        parameter_id = int(found[0])
    return _run(
        conn, actor, "hazard point registered",
        "INSERT INTO registry.hazard_point (unit_id, tag_id, role, parameter_id, sensor_id,"
        " label) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (unit_id, tag_id, role) DO UPDATE"
        " SET parameter_id = EXCLUDED.parameter_id, sensor_id = EXCLUDED.sensor_id,"
        " label = EXCLUDED.label RETURNING id",
        (unit_id, tag_id, role, parameter_id, sensor_id, label),
    )  # fmt: skip


def add_chemical(
    conn: psycopg.Connection,
    actor: Actor,
    unit_id: int,
    name: str,
    *,
    cas_no: str | None = None,
    max_stock_t: float | None = None,
    critical_quantity_t: float | None = None,
) -> int:
    """A chemical stored in a warehouse (R3); idempotent by (unit, name)."""
    _, kind = _unit(conn, unit_id)
    if kind != "warehouse":
        raise HazardError(f"unit_id {unit_id} is a {kind}, not a warehouse")
    return _run(
        conn, actor, "stored chemical registered",
        "INSERT INTO registry.stored_chemical (unit_id, name, cas_no, max_stock_t,"
        " critical_quantity_t) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (unit_id, name) DO UPDATE"
        " SET cas_no = EXCLUDED.cas_no, max_stock_t = EXCLUDED.max_stock_t,"
        " critical_quantity_t = EXCLUDED.critical_quantity_t RETURNING id",
        (unit_id, name, cas_no, max_stock_t, critical_quantity_t),
    )  # fmt: skip


def set_loading_area(
    conn: psycopg.Connection,
    actor: Actor,
    unit_id: int,
    kinds: Sequence[str],
    *,
    bays: int | None = None,
    major_hazard: bool = False,
) -> int:
    """What a loading area handles (R4); the unit must be of kind loading_area."""
    _, kind = _unit(conn, unit_id)
    if kind != "loading_area":
        raise HazardError(f"unit_id {unit_id} is a {kind}, not a loading_area")
    return _run(
        conn, actor, "loading area registered",
        "INSERT INTO registry.loading_area (unit_id, kinds, bays, major_hazard)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (unit_id) DO UPDATE SET kinds = EXCLUDED.kinds,"
        " bays = EXCLUDED.bays, major_hazard = EXCLUDED.major_hazard RETURNING id",
        (unit_id, list(kinds), bays, major_hazard),
    )  # fmt: skip


#: Tag suffixes the gas collectors give (ingest.simulator.gas.GASES): sensor code + suffix.
GAS_SUFFIXES: Final = (".LEL", ".H2S", ".CO", ".NH3", ".CL2", ".CH4", ".O2")


def link_gas_detectors(conn: psycopg.Connection, actor: Actor, enterprise_id: int) -> int:
    """R5: every gas detector (registry.sensor gas_combustible / gas_toxic) of the enterprise
    becomes a point of its tag's unit, matching tags named ``<sensor code>.<gas>`` (the MQTT
    map's convention). Returns the points added or updated; detectors whose tag has no unit
    are left for the register."""
    rows = conn.execute(
        "SELECT s.id, s.kind, t.id, t.unit_id FROM registry.sensor s JOIN registry.tag t"
        " ON t.enterprise_id = s.enterprise_id AND t.name = ANY(ARRAY(SELECT s.code || x"
        " FROM unnest(%s::text[]) x)) WHERE s.enterprise_id = %s"
        " AND s.kind IN ('gas_combustible', 'gas_toxic') AND t.unit_id IS NOT NULL",
        (list(GAS_SUFFIXES), enterprise_id),
    ).fetchall()
    for sensor, kind, tag, unit in rows:
        add_point(conn, actor, unit, tag, kind, sensor_id=sensor)
    return len(rows)
