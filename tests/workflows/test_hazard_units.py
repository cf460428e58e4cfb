"""Risk monitoring data (R2-R5): the state derivation as pure functions, the registers and the
scheduler's state refresh on the real database, the demo plant's data and safety signals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from ingest.mqtt.decode import decode_message, load_map
from ingest.simulator.hazard_signals import HazardSignals, mapping_text, tag_names
from tests.conftest import make_enterprise, migrated_database
from workflows import hazard_units as hu
from workflows.hazard_units import Point, point_state, unit_state

ACTOR = Actor(None, "test")
LIMITS = {"L": 10.0, "H": 170.0, "HH": 175.0}


# -- pure -----------------------------------------------------------------------------------


def test_point_state_from_limits_events_and_staleness() -> None:
    assert point_state(Point("key_parameter", 160.0, 5, LIMITS)) == "normal"
    assert point_state(Point("key_parameter", 171.0, 5, LIMITS)) == "warning"  # first level
    assert point_state(Point("key_parameter", 176.0, 5, LIMITS)) == "alarm"  # second level
    assert point_state(Point("key_parameter", 9.0, 5, LIMITS)) == "warning"
    # A DCS alarm still standing counts even when the value is back inside the limits.
    assert point_state(Point("key_parameter", 160.0, 5, LIMITS, frozenset({"HH"}))) == "alarm"
    assert point_state(Point("key_parameter", 160.0, 5, LIMITS, frozenset({"ROC"}))) == "warning"
    # No value for longer than STALE_AFTER: unknown, but a standing alarm still shows.
    assert point_state(Point("gas_combustible", 60.0, 3600, {"H": 20.0})) == "unknown"
    assert point_state(Point("gas_combustible", None, None, {}, frozenset({"H"}))) == "warning"
    assert point_state(Point("static_grounding", 1.0, 1)) == "alarm"
    assert point_state(Point("overfill", 0.0, 1)) == "normal"
    with pytest.raises(ValueError, match="role 'valve'"):
        point_state(Point("valve", 1.0))


def test_unit_state_is_the_worst_point_with_the_sis_weighed_in() -> None:
    ok = Point("key_parameter", 160.0, 5, LIMITS)
    high = Point("key_parameter", 172.0, 5, LIMITS)
    bypass = Point("sis_bypass", 1.0, 5)
    trip = Point("sis_trip", 1.0, 5)
    trip_off = Point("sis_trip", 0.0, 5)
    assert unit_state([ok, trip_off]) == hu.UnitState("normal", "normal", 0, 0, 0)
    assert unit_state([ok, high]).warning == "warning"
    assert unit_state([ok, bypass]) == hu.UnitState("warning", "bypassed", 0, 0, 0)
    assert unit_state([ok, bypass, trip]) == hu.UnitState("alarm", "tripped", 0, 0, 0)
    assert unit_state([ok]).sis == "none"
    stale = Point("key_parameter", 1.0, 9999, LIMITS)
    assert unit_state([stale]) == hu.UnitState("unknown", "none", 0, 0, 1)
    assert unit_state([stale, high]) == hu.UnitState("warning", "none", 0, 1, 1)
    assert hu.limit_conditions(52.0, {"H": 20.0, "HH": 50.0}) == {"H", "HH"}


def test_safety_signals_are_deterministic_and_the_map_reads_them_all() -> None:
    sig = HazardSignals(seed=1)
    assert sig.value("LB-LA1-01", "grounding", 150.0) == 1.0  # the demo's first disconnection
    assert sig.value("LB-LA1-01", "grounding", 200.0) == 0.0
    assert sig.value("LB-LA1-02", "overfill", 250.0) == 1.0
    assert sig.value("LB-LA1-02", "loading", 250.0) == 1.0
    day = range(0, 86400, 20)
    assert any(sig.value("IS-TEP-101", "bypass", t) for t in day)
    assert not any(sig.value("IS-TEP-101", "bypass", t) for t in range(0, 600, 10))
    assert HazardSignals(seed=1).publications(99.0, datetime(2026, 11, 1, tzinfo=UTC)) == (
        sig.publications(99.0, datetime(2026, 11, 1, tzinfo=UTC))
    )
    mmap = load_map(mapping_text(), "hazard.toml")
    wall = datetime(2026, 11, 1, 8, tzinfo=UTC)
    tags = set()
    for topic, payload in sig.publications(150.0, wall):
        d = decode_message(mmap, topic, payload, wall, retained=False)
        assert d.rejected is None, (topic, d.rejected)
        tags |= {r.tag for r in d.readings}
        if "LB-LA1-01" in topic:
            assert {r.tag: r.value for r in d.readings}["LB-LA1-01.GND"] == 1.0
    assert tags == set(tag_names())


# -- database -------------------------------------------------------------------------------


def _unit(conn: psycopg.Connection, ent: int, code: str, kind: str = "unit") -> int:
    return registers.insert(
        conn, ACTOR, "unit", {"enterprise_id": ent, "code": code, "name": code, "kind": kind}
    )


def _tag(conn: psycopg.Connection, ent: int, name: str, limits: dict[str, float]) -> int:
    tag = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": name})
    for cond, limit in limits.items():
        values = {"tag_id": tag, "condition": cond, "limit_value": limit, "priority": "high",
                  "category": "process"}  # fmt: skip
        registers.insert(conn, ACTOR, "alarm_point", values)
    return tag


def _sample(conn: psycopg.Connection, tag: int, value: float, at: datetime) -> None:
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, %s, %s)", (at, tag, value)
    )


def test_registers_states_and_their_history(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, "危险工艺")
    unit = _unit(conn, ent, "R-1")
    hu.link_process(conn, ACTOR, unit, "硝化工艺")
    assert hu.link_process(conn, ACTOR, unit, 4) == hu.link_process(conn, ACTOR, unit, 4)
    with pytest.raises(hu.HazardError, match="not one of the 18"):
        hu.link_process(conn, ACTOR, unit, "炼钢工艺")
    temp = _tag(conn, ent, "TI-101", {"H": 60.0, "HH": 70.0})
    byp = _tag(conn, ent, "IS-101.BYP", {})
    hu.add_point(conn, ACTOR, unit, temp, "key_parameter", parameter="硝化反应釜内温度")
    hu.add_point(conn, ACTOR, unit, byp, "sis_bypass")
    with pytest.raises(hu.HazardError, match="not a key parameter of the unit"):
        hu.add_point(conn, ACTOR, unit, temp, "key_parameter", parameter="裂解炉温度")
    other, _ = make_enterprise(conn, "别家")
    foreign = _tag(conn, other, "TI-9", {})
    with pytest.raises(hu.HazardError, match="not a tag of the unit's enterprise"):
        hu.add_point(conn, ACTOR, unit, foreign, "key_parameter")
    with pytest.raises(hu.HazardError, match="not a warehouse"):
        hu.add_chemical(conn, ACTOR, unit, "硝酸铵")
    audited = conn.execute(
        "SELECT count(*) FROM audit.log WHERE entity = 'registry.hazard_point' AND actor = 'test'"
        " AND (after ->> 'unit_id')::int = %s",
        (unit,),
    ).fetchone()
    assert audited == (2,)

    now = datetime.now(UTC)
    _sample(conn, temp, 55.0, now - timedelta(seconds=30))
    _sample(conn, byp, 0.0, now - timedelta(seconds=30))
    [view] = hu.load_units(conn, None, enterprise_id=ent, now=now)
    assert view.processes == ["硝化工艺"] and view.section == "process"
    assert (view.state.warning, view.state.sis) == ("normal", "normal")
    assert {p.parameter for p in view.points} == {"硝化反应釜内温度", None}

    first = [c for c in hu.refresh_states(conn, now) if c.unit_id == unit]
    assert [(c.warning, c.sis, c.prev_warning) for c in first] == [("normal", "normal", None)]
    assert not [c for c in hu.refresh_states(conn, now + timedelta(seconds=1)) if c.unit_id == unit]

    later = now + timedelta(seconds=40)
    _sample(conn, temp, 71.5, later - timedelta(seconds=2))
    _sample(conn, byp, 1.0, later - timedelta(seconds=2))
    changed = [c for c in hu.refresh_states(conn, later) if c.unit_id == unit]
    assert [(c.warning, c.sis, c.prev_warning, c.prev_sis) for c in changed] == [
        ("alarm", "bypassed", "normal", "normal")
    ]
    history = conn.execute(
        "SELECT warning_state, sis_state FROM hazard.state_change WHERE unit_id = %s ORDER BY time",
        (unit,),
    ).fetchall()
    assert history == [("normal", "normal"), ("alarm", "bypassed")]
    assert conn.execute(
        "SELECT warning_state, since FROM hazard.unit_state WHERE unit_id = %s", (unit,)
    ).fetchone() == ("alarm", later)


def test_scope_limits_the_units_seen(conn: psycopg.Connection) -> None:
    from dashboards.auth import Scope

    ours, _ = make_enterprise(conn, "范围太原", "太原市")
    theirs, _ = make_enterprise(conn, "范围大同", "大同市")
    _unit(conn, ours, "WH-1", "warehouse")
    _unit(conn, theirs, "WH-1", "warehouse")
    taiyuan = registers.resolve(conn, "region", "太原市")
    seen = {u.enterprise_id for u in hu.load_units(conn, Scope(region_id=taiyuan))}
    assert ours in seen and theirs not in seen


@pytest.fixture
def demo_db(admin_url: str) -> Iterator[str]:
    with migrated_database(admin_url, "hw_hazdemo") as url:
        yield url


def test_demo_plant_has_every_kind_of_hazard_unit(demo_db: str) -> None:
    from hazwatch.demo import ensure_demo_plant, ensure_demo_user
    from hazwatch.settings import load_settings
    from workflows.hazard_demo import ensure_demo_hazard

    settings = load_settings(database_url=demo_db)
    with psycopg.connect(demo_db, autocommit=True) as c:
        ensure_demo_user(c)
        ent = ensure_demo_plant(c, settings)
        n = ensure_demo_hazard(c, ent)
        assert ensure_demo_hazard(c, ent) == n  # idempotent
        units = {u.code: u for u in hu.load_units(c, None, enterprise_id=ent)}
        roles = {code: sorted({p.role for p in u.points}) for code, u in units.items()}
        assert units["TEP"].processes == ["加氢工艺"]
        assert roles["TEP"] == ["gas_combustible", "gas_toxic", "key_parameter", "sis_bypass",
                                "sis_trip"]  # fmt: skip
        assert roles["LA-1"] == ["gas_combustible", "gas_toxic", "overfill", "static_grounding"]
        assert roles["WH-1"] == ["gas_combustible", "gas_toxic", "humidity", "temperature"]
        assert units["LA-1"].hazard_code == "DEMO-WX-03"
        assert units["LA-1"].loading == {"kinds": ["liquefied_hydrocarbon", "liquefied_toxic_gas"],
                                         "bays": 2, "major_hazard": True}  # fmt: skip
        assert {ch["name"] for ch in units["WH-1"].chemicals} == {"硝酸铵", "氯酸钠"}
        gas = c.execute(
            "SELECT count(*), count(h.id) FROM registry.sensor s LEFT JOIN registry.hazard_point h"
            " ON h.sensor_id = s.id WHERE s.enterprise_id = %s"
            " AND s.kind IN ('gas_combustible', 'gas_toxic')",
            (ent,),
        ).fetchone()
        assert gas == (25, 25)  # R5: every gas detector is a point of its unit
        # No data yet: every unit is unknown, and the SIS of TEP too.
        assert units["TEP"].state.warning == "unknown" and units["TEP"].state.sis == "unknown"
