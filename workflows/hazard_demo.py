"""Risk monitoring data of the demo plant (R2-R5, R7): the process unit TEP as a supervised
hydrogenation unit with key parameters and SIS flags, the warehouse WH-1 with its chemicals and
climate, the loading area LA-1 as a coded hazard unit with grounding and overfill signals,
every gas detector as a point of its unit, and the groups that reviewed alarms notify.

    ensure_demo_hazard(conn, enterprise_id)        # idempotent; returns points registered
    children = demo_children(settings, map_dir, enterprise_id)   # simulator + collector

The TEP reactor is not a hydrogenation reactor; the demo files it under 加氢工艺 because its
measured quantities (reactor temperature, pressure, cooling water, gaseous feed) are the
parameters that catalogue entry asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor, acting
from hazwatch.settings import Settings
from workflows import hazard_units as hu

ACTOR: Final = Actor(None, "demo")
PROCESS: Final = "加氢工艺"
#: TEP tag -> catalogue parameter (workflows.hazard_units.add_point)
KEY_PARAMETERS: Final = {
    "TEP-XMEAS09": "加氢反应釜或催化剂床层温度",
    "TEP-XMEAS07": "加氢反应釜或催化剂床层压力",
    "TEP-XMEAS01": "氢气流量",
    "TEP-XMV10": "冷却水流量",
}
#: Registration codes (危险化学品登记系统 style) of the demo's hazard units.
HAZARD_CODES: Final = {"TEP": "DEMO-WX-01", "WH-1": "DEMO-WX-02", "LA-1": "DEMO-WX-03"}
#: GB 18218-2018 table 1 critical quantities: ammonium nitrate (combustibles ≤ 0.2 %) 50 t,
#: sodium chlorate 100 t.
CHEMICALS: Final = (
    ("硝酸铵", "6484-52-2", 80.0, 50.0),
    ("氯酸钠", "7775-09-9", 60.0, 100.0),
)
#: Warehouse climate limits (H, HH): ammonium nitrate is kept cool and dry.
CLIMATE_LIMITS: Final = {"TEMP": (30.0, 35.0), "RH": (75.0, 85.0)}
GROUPS: Final = (("safety_mgmt", "安全管理"),)
REGULATOR_GROUP: Final = ("regulator_duty.140100", "太原市应急管理局值班")


def _tag(
    conn: psycopg.Connection,
    enterprise: int,
    name: str,
    unit: int,
    *,
    kind: str = "analog",
    description: str | None = None,
    **kw: Any,
) -> int:
    """The tag (made as its collector would make it), filed under ``unit`` if it has none."""
    from ingest.tags import TagResolver

    tag_id = TagResolver(conn, enterprise, ACTOR).id_for(name, **kw)
    assert tag_id is not None
    with acting(conn, ACTOR, "demo hazard units"):
        conn.execute(
            "UPDATE registry.tag SET unit_id = coalesce(unit_id, %s), kind = %s,"
            " description = coalesce(description, %s) WHERE id = %s",
            (unit, kind, description, tag_id),
        )
    return tag_id


def _limits(conn: psycopg.Connection, tag_id: int, limits: tuple[float, float]) -> None:
    for cond, limit, prio in (("H", limits[0], "high"), ("HH", limits[1], "emergency")):
        if conn.execute(
            "SELECT 1 FROM registry.alarm_point WHERE tag_id = %s AND condition = %s",
            (tag_id, cond),
        ).fetchone():
            continue
        registers.insert(conn, ACTOR, "alarm_point", {"tag_id": tag_id, "condition": cond,
                         "limit_value": limit, "priority": prio, "category": "safety"})  # fmt: skip


def _units(conn: psycopg.Connection, enterprise: int) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT code, id FROM registry.unit WHERE enterprise_id = %s", (enterprise,)
        ).fetchall()
    )


def _gas_detectors(conn: psycopg.Connection, enterprise: int, units: dict[str, int]) -> int:
    """Gateways, sensors and tags of the gas plant (the MQTT collector finds them by code),
    alarm limits of the detectors (GB/T 50493 levels of ingest.simulator.gas), then R5."""
    from ingest.simulator.gas import GASES, UNITS, demo_detectors

    gateways: dict[str, int] = {}
    for u in UNITS:
        row = conn.execute(
            "SELECT id FROM registry.gateway WHERE enterprise_id = %s AND code = %s",
            (enterprise, u.gateway),
        ).fetchone()
        gateways[u.gateway] = int(row[0]) if row else registers.insert(
            conn, ACTOR, "gateway",
            {"enterprise_id": enterprise, "code": u.gateway, "name": f"{u.name}气体报警控制器",
             "protocol": "mqtt", "location": u.name},
        )  # fmt: skip
    n = 0
    for d in demo_detectors():
        unit = units.get(d.unit)
        if unit is None:
            continue
        kind = d.gas.sensor_kind if d.gas else "temperature"
        row = conn.execute(
            "SELECT id FROM registry.sensor WHERE enterprise_id = %s AND code = %s",
            (enterprise, d.code),
        ).fetchone()
        sensor = int(row[0]) if row else registers.insert(
            conn, ACTOR, "sensor", {"enterprise_id": enterprise, "gateway_id": gateways[d.gateway],
                                    "code": d.code, "kind": kind, "measurement_point": d.unit},
        )  # fmt: skip
        if d.gas is not None:
            gas = GASES[d.kind]
            tag = _tag(conn, enterprise, f"{d.code}.{gas.tag_suffix}", unit, source="mqtt",
                       eng_unit=gas.eng_unit)  # fmt: skip
            _limits(conn, tag, gas.alarm)
        else:
            for suffix, role, eng in (("TEMP", "temperature", "degC"), ("RH", "humidity", "%RH")):
                tag = _tag(conn, enterprise, f"{d.code}.{suffix}", unit, source="mqtt",
                           eng_unit=eng)  # fmt: skip
                _limits(conn, tag, CLIMATE_LIMITS[suffix])
                hu.add_point(conn, ACTOR, unit, tag, role, sensor_id=sensor)
                n += 1
    return n + hu.link_gas_detectors(conn, ACTOR, enterprise)


def _signals(conn: psycopg.Connection, enterprise: int, units: dict[str, int]) -> int:
    from ingest.simulator.hazard_signals import FIELDS, SIGNALS, tag_name

    roles = {"grounding": "static_grounding", "overfill": "overfill", "bypass": "sis_bypass",
             "trip": "sis_trip"}  # fmt: skip
    n = 0
    for s in SIGNALS:
        for f in s.fields:
            tag = _tag(conn, enterprise, tag_name(s.device, f), units[s.unit], source="mqtt",
                       kind="discrete", description=FIELDS[f][1])  # fmt: skip
            if f in roles:
                hu.add_point(conn, ACTOR, units[s.unit], tag, roles[f],
                             label=f"{s.device} {FIELDS[f][1]}")  # fmt: skip
                n += 1
    return n


def _groups(conn: psycopg.Connection, enterprise: int) -> None:
    """safety_mgmt of the enterprise and the city's regulator duty group, with the demo admin
    (R7: who hears of a reviewed alarm)."""
    user = conn.execute("SELECT id FROM auth.app_user WHERE lower(name) = 'admin'").fetchone()
    for ent, (code, name) in [*((enterprise, g) for g in GROUPS), (None, REGULATOR_GROUP)]:
        row = conn.execute(
            "SELECT id FROM workflow.user_group WHERE enterprise_id IS NOT DISTINCT FROM %s"
            " AND code = %s",
            (ent, code),
        ).fetchone()
        gid = int(row[0]) if row else registers.insert(
            conn, ACTOR, "user_group", {"enterprise_id": ent, "code": code, "name": name}
        )  # fmt: skip
        if (
            user
            and not conn.execute(
                "SELECT 1 FROM workflow.user_group_member WHERE group_id = %s AND user_id = %s",
                (gid, user[0]),
            ).fetchone()
        ):
            registers.insert(conn, ACTOR, "user_group_member",
                             {"group_id": gid, "user_id": user[0]})  # fmt: skip


def ensure_demo_hazard(conn: psycopg.Connection, enterprise: int) -> int:
    """Everything above on the demo enterprise (its units exist: hazwatch.demo). Idempotent;
    returns the monitored points registered or confirmed."""
    units = _units(conn, enterprise)
    for code, hazard_code in HAZARD_CODES.items():
        if code in units:
            registers.update(conn, ACTOR, "unit", units[code],
                             {"hazard_code": hazard_code, "major_hazard_level": 2})  # fmt: skip
    tep = units["TEP"]
    hu.link_process(conn, ACTOR, tep, PROCESS)
    n = 0
    for tag, parameter in KEY_PARAMETERS.items():
        row = conn.execute(
            "SELECT id FROM registry.tag WHERE enterprise_id = %s AND name = %s",
            (enterprise, tag),
        ).fetchone()
        if row:
            hu.add_point(conn, ACTOR, tep, int(row[0]), "key_parameter", parameter=parameter)
            n += 1
    for name, cas, stock, critical in CHEMICALS:
        hu.add_chemical(conn, ACTOR, units["WH-1"], name, cas_no=cas, max_stock_t=stock,
                        critical_quantity_t=critical)  # fmt: skip
    hu.set_loading_area(conn, ACTOR, units["LA-1"], ["liquefied_hydrocarbon",
                        "liquefied_toxic_gas"], bays=2, major_hazard=True)  # fmt: skip
    n += _gas_detectors(conn, enterprise, units)
    n += _signals(conn, enterprise, units)
    _groups(conn, enterprise)
    return n


def demo_children(settings: Settings, map_dir: Path, enterprise: int) -> list[Any]:
    """The safety-signal simulator and its MQTT collector, for ``hazwatch demo``."""
    from hazwatch.supervisor import Child
    from ingest.simulator.hazard_signals import mapping_text

    map_dir.mkdir(parents=True, exist_ok=True)
    path = map_dir / "hazard.toml"
    path.write_text(mapping_text(), encoding="utf-8")
    port = str(settings.demo.mqtt_port)
    return [
        Child("simulate-hazard", ["hazard", "simulate", "--port", port]),
        Child("collect-mqtt-hazard", ["collect", "mqtt", "--enterprise", str(enterprise),
                                      "--host", "127.0.0.1", "--port", port, "--map", str(path)]),
    ]  # fmt: skip
