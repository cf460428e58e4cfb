"""``hazwatch demo``: the whole platform on the embedded default.

Brings up the database with the reference data, registers the demo enterprise with its alarm
master database (A1) and the known consequential-alarm pairs (A10), then supervises the
platform's processes: the plant simulator, one collector per source, the scheduler.

    run_demo(settings, say=print)             # blocks until Ctrl-C
    run_demo(settings, say=print, duration=30)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from hazwatch import auth, registers
from hazwatch.db import connect
from hazwatch.registers import Actor
from hazwatch.settings import Settings

DEMO_USER = "admin"
#: Printed on purpose: the demo is a local sandbox. Production users are made with `user create`.
DEMO_PASSWORD = "hazwatch-demo"  # noqa: S105
DEMO_ACTOR = Actor(id=None, name="demo")
DEMO_REGION = "140100"  # 太原市


def ensure_demo_user(conn: psycopg.Connection) -> bool:
    """Create the demo administrator unless a user of that name exists. True when created."""
    exists = conn.execute(
        "SELECT 1 FROM auth.app_user WHERE lower(name) = %s", (DEMO_USER,)
    ).fetchone()
    if exists:
        return False
    auth.create_user(
        conn,
        DEMO_ACTOR,
        name=DEMO_USER,
        role="admin",
        password=DEMO_PASSWORD,
        display_name="演示管理员",
    )
    return True


def ensure_demo_plant(conn: psycopg.Connection, settings: Settings) -> int:
    """The demo enterprise, its process unit, tags, alarm ledger and relations; its id."""
    from ingest.simulator.plant import CONSEQUENCES, demo_points
    from ingest.tags import TagResolver

    name = settings.demo.enterprise
    row = conn.execute("SELECT id FROM registry.enterprise WHERE name = %s", (name,)).fetchone()
    if row:
        enterprise = int(row[0])
    else:
        enterprise = registers.insert(
            conn,
            DEMO_ACTOR,
            "enterprise",
            {
                "name": name,
                "code": "DEMO",
                "region_id": registers.resolve(conn, "region", DEMO_REGION),
                "major_hazard_level": 2,
            },
        )
    unit = conn.execute(
        "SELECT id FROM registry.unit WHERE enterprise_id = %s AND code = 'TEP'", (enterprise,)
    ).fetchone()
    unit_id = (
        int(unit[0])
        if unit
        else registers.insert(
            conn,
            DEMO_ACTOR,
            "unit",
            {"enterprise_id": enterprise, "code": "TEP", "name": "田纳西-伊斯曼工艺装置"},
        )
    )
    from ingest.simulator.gas import UNITS

    for u in UNITS:
        if not conn.execute(
            "SELECT 1 FROM registry.unit WHERE enterprise_id = %s AND code = %s",
            (enterprise, u.code),
        ).fetchone():
            registers.insert(conn, DEMO_ACTOR, "unit",
                             {"enterprise_id": enterprise, "code": u.code, "name": u.name,
                              "kind": u.kind})  # fmt: skip
    tags = TagResolver(conn, enterprise, DEMO_ACTOR)
    tags.load()
    points: dict[str, int] = {}
    for p in demo_points():
        tag_id = tags.id_for(p.tag, source="opcua")
        assert tag_id is not None
        found = conn.execute(
            "SELECT id FROM registry.alarm_point WHERE tag_id = %s AND condition = %s",
            (tag_id, p.condition),
        ).fetchone()
        if found:
            points[p.key] = int(found[0])
            continue
        conn.execute(
            "UPDATE registry.tag SET unit_id = %s WHERE id = %s AND unit_id IS NULL",
            (unit_id, tag_id),
        )
        points[p.key] = registers.insert(
            conn,
            DEMO_ACTOR,
            "alarm_point",
            {
                "tag_id": tag_id,
                "condition": p.condition,
                "limit_value": p.limit,
                "priority": p.priority,
                "category": p.category,
                "deadband": p.deadband,
                "on_delay_s": p.on_delay_s,
                "off_delay_s": p.off_delay_s,
            },
        )
    for parent, child in CONSEQUENCES:
        conn.execute(
            "INSERT INTO registry.alarm_relation (parent_point_id, child_point_id, note)"
            " VALUES (%s, %s, 'demo plant') ON CONFLICT DO NOTHING",
            (points[parent], points[child]),
        )
    return enterprise


def run_demo(settings: Settings, say: Callable[[str], None], duration: float | None = None) -> None:
    """Bring everything up, print where it is, supervise the processes until Ctrl-C."""
    from hazwatch.cli import bring_up
    from hazwatch.db.cluster import Cluster
    from hazwatch.logs import setup_logging
    from hazwatch.supervisor import Child, Supervisor
    from ingest.simulator.run import write_collector_maps

    bring_up(settings)
    with connect(settings, autocommit=True) as conn:
        ensure_demo_user(conn)
        enterprise = ensure_demo_plant(conn, settings)
        row = conn.execute("SELECT count(*) FROM registry.enterprise").fetchone()
    maps = write_collector_maps(settings, settings.path(settings.ingest.spool_dir).parent / "demo")
    shown = (
        Cluster.from_settings(settings).url(with_password=False)
        if not settings.database_url
        else "HAZWATCH_DATABASE_URL"
    )
    ent = str(enterprise)
    children = [
        Child("simulator", ["simulate"]),
        Child("collect-opcua", ["collect", "opcua", "--enterprise", ent, "--map", str(maps.opcua),
                                "--endpoint", f"opc.tcp://127.0.0.1:{settings.demo.opcua_port}/"]),
        *(
            Child(f"collect-modbus-{port}", ["collect", "modbus", "--enterprise", ent, "--host",
                                             "127.0.0.1", "--port", str(port), "--map", str(path)])
            for port, path in maps.modbus
        ),
        Child("collect-mqtt", ["collect", "mqtt", "--enterprise", ent, "--host", "127.0.0.1",
                               "--port", str(settings.demo.mqtt_port), "--map", str(maps.mqtt)]),
        Child("scheduler", ["scheduler"]),
        Child("web", ["serve"]),
    ]  # fmt: skip
    say("")
    say("hazwatch demo is up")
    say(f"  web        http://{settings.web.host}:{settings.web.port}/")
    say(f"  database   {shown}   (full URL: hazwatch db url)")
    say(f"  login      {DEMO_USER} / {DEMO_PASSWORD}")
    say(f"  registers  {row[0] if row else 0} enterprises (R1 reference data + the demo plant)")
    say(f"  plant      OPC UA opc.tcp://127.0.0.1:{settings.demo.opcua_port}/ (Tennessee "
        f"Eastman), Modbus gateways on {', '.join(str(p) for p, _ in maps.modbus)}, MQTT gas "
        f"detectors on {settings.demo.mqtt_port}")  # fmt: skip
    say(f"  processes  {', '.join(c.name for c in children)}")
    say("  look       hazwatch db status | rollups status; Ctrl-C stops the processes, the")
    say("             database keeps running (make db-down stops it)")
    setup_logging(settings.log, process="demo")
    sup = Supervisor(children)
    if duration is not None:
        threading.Timer(duration, sup.stop.set).start()
    sup.run()
