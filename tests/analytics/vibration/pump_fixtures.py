"""A small pump plant for the workflow tests (issue 8, P5-P12): one enterprise with an
equipment department, a pump with DE/NDE triaxial sensors on a gateway, user groups and users,
and writers for overall values, captures and device health from the demo plant's physics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

from hazwatch import registers
from hazwatch.auth import create_user
from hazwatch.registers import Actor
from ingest.simulator.pumps import Fault, PumpModel, demo_specs
from tests.conftest import make_enterprise

ACTOR = Actor(None, "test")
PASSWORD = "correct-horse-9"


@dataclass
class Plant:
    enterprise_id: int
    enterprise: str
    department_id: int
    unit_id: int
    pump_id: int
    pump_code: str
    gateway_id: int
    sensors: dict[str, int]  # "DE" / "NDE" -> sensor id
    groups: dict[str, int]  # code -> group id
    users: dict[str, tuple[int, str]]  # code -> (user id, name)


def make_pump_plant(
    conn: psycopg.Connection,
    *,
    groups: tuple[str, ...] = ("equipment", "safety_mgmt", "leadership"),
) -> Plant:
    """The plant with one user per group (role engineer, the enterprise's scope)."""
    ent, name = make_enterprise(conn, "机泵测试企业")
    dept = registers.insert(conn, ACTOR, "department", {"enterprise_id": ent, "name": "设备部"})
    unit = registers.insert(
        conn,
        ACTOR,
        "unit",
        {"enterprise_id": ent, "code": "U-P", "name": "泵区", "department_id": dept},
    )
    spec = demo_specs()[0]
    code = f"P-{uuid.uuid4().hex[:5].upper()}"
    pump = registers.insert(
        conn,
        ACTOR,
        "equipment",
        {
            "unit_id": unit,
            "code": code,
            "name": spec.name,
            "kind": "pump",
            "pump_scope": list(spec.pump_scope),
            "medium": spec.medium,
            "medium_temp_c": spec.medium_temp_c,
            "rated_speed_rpm": spec.rated_speed_rpm,
            "rated_power_kw": spec.rated_power_kw,
            "bearing_de": "6309",
            "bearing_nde": "7309",
        },
    )
    gw = registers.insert(
        conn,
        ACTOR,
        "gateway",
        {"enterprise_id": ent, "code": f"GW-{code}", "name": "网关", "protocol": "modbus_tcp"},
    )
    sensors = {
        point: registers.insert(
            conn,
            ACTOR,
            "sensor",
            {
                "enterprise_id": ent,
                "gateway_id": gw,
                "equipment_id": pump,
                "code": f"{code}-{point}",
                "kind": "vibration_triaxial",
                "measurement_point": point,
            },
        )
        for point in ("DE", "NDE")
    }
    gids, users = {}, {}
    for g in groups:
        gids[g] = registers.insert(
            conn, ACTOR, "user_group", {"enterprise_id": ent, "code": g, "name": g}
        )
        uname = f"{g}-{uuid.uuid4().hex[:6]}"
        uid = create_user(
            conn, ACTOR, name=uname, role="engineer", password=PASSWORD, enterprise=name
        )
        registers.insert(conn, ACTOR, "user_group_member", {"group_id": gids[g], "user_id": uid})
        users[g] = (uid, uname)
    return Plant(ent, name, dept, unit, pump, code, gw, sensors, gids, users)


def write_overall(
    conn: psycopg.Connection,
    sensor_id: int,
    times: list[datetime],
    velocity: list[float],
    *,
    accel_peak: float = 5.0,
    kurtosis: float = 3.0,
) -> None:
    """Overall rows on all three axes (X the given velocity, Y and Z 60 % of it)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO vib.overall (time, sensor_id, axis, velocity_rms_mm_s, accel_rms_m_s2,"
            " accel_peak_m_s2, kurtosis, crest_factor) VALUES (%s, %s, %s, %s, %s, %s, %s, 3)"
            " ON CONFLICT DO NOTHING",
            [
                (t, sensor_id, ax, v * f, 1.0, accel_peak, kurtosis)
                for t, v in zip(times, velocity, strict=True)
                for ax, f in (("X", 1.0), ("Y", 0.6), ("Z", 0.6))
            ],
        )


def write_capture(
    conn: psycopg.Connection,
    sensor_id: int,
    at: datetime,
    *,
    fault: str | None = "unbalance",
    point: str = "DE",
    n: int = 16384,
    t_s: float = 7200.0,
) -> np.ndarray:
    """A demo-plant capture (first demo pump, optional fault at full level) as vib.waveform."""
    faults = [Fault(fault, start_s=0, severity=1.2, sensor=point)] if fault else []  # type: ignore[arg-type]
    model = PumpModel(demo_specs()[0], faults=faults, seed=5)
    acc = model.acceleration(t_s, point, n=n, fs=25600.0)
    rpm = model.speed_rpm(t_s)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO vib.waveform (time, sensor_id, axis, sample_rate_hz, speed_rpm, unit,"
            " samples) VALUES (%s, %s, %s, 25600, %s, 'm/s2', %s) ON CONFLICT DO NOTHING",
            [
                (at, sensor_id, ax, rpm, [float(x) for x in row])
                for ax, row in zip("XYZ", acc, strict=True)
            ],
        )
    return acc


def minutes(start: datetime, count: int, step_s: float = 60) -> list[datetime]:
    return [start + timedelta(seconds=step_s * i) for i in range(count)]
