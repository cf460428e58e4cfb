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
    ensure_demo_shifts(conn, enterprise)
    return enterprise


#: The demo's four teams on three 8-hour shifts a day (四班三倒), China Standard Time.
DEMO_TEAMS = ("甲班", "乙班", "丙班", "丁班")


def ensure_demo_shifts(
    conn: psycopg.Connection, enterprise: int, days_back: int = 7, days_ahead: int = 60
) -> int:
    """Shift teams and a shift calendar around today, so alarm records get their shift team
    (issue 7, A4/A19 by shift team); returns the shifts added. Idempotent."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    teams = []
    for name in DEMO_TEAMS:
        row = conn.execute(
            "SELECT id FROM registry.shift_team WHERE enterprise_id = %s AND name = %s",
            (enterprise, name),
        ).fetchone()
        if row is None:
            values = {"enterprise_id": enterprise, "name": name}
            row = (registers.insert(conn, DEMO_ACTOR, "shift_team", values),)
        teams.append(int(row[0]))
    local = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)  # fmt: skip
    first = local - timedelta(days=days_back)
    epoch = datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    added = 0
    for k in range((days_back + days_ahead) * 3):
        lo = (first + timedelta(hours=8 * k)).astimezone(UTC)
        team = teams[int((lo - epoch).total_seconds() // (8 * 3600)) % len(teams)]
        added += conn.execute(
            "INSERT INTO registry.shift (enterprise_id, shift_team_id, during)"
            " SELECT %(e)s, %(t)s, tstzrange(%(lo)s, %(hi)s) WHERE NOT EXISTS ("
            " SELECT 1 FROM registry.shift WHERE enterprise_id = %(e)s"
            " AND during && tstzrange(%(lo)s, %(hi)s))",
            {"e": enterprise, "t": team, "lo": lo, "hi": lo + timedelta(hours=8)},
        ).rowcount
    return added


def ensure_demo_alerting(conn: psycopg.Connection, enterprise: int) -> int:
    """Alert rules on the demo plant, the escalation groups with the demo administrator in
    each, a calendar and a policy (``workflows.alert_demo``); returns the rows added.
    Idempotent: missing rows are added, existing ones (maybe edited in the UI) kept."""
    from workflows.alert_demo import provision_demo_alerting

    row = conn.execute(
        "SELECT id FROM auth.app_user WHERE lower(name) = %s", (DEMO_USER,)
    ).fetchone()
    return provision_demo_alerting(conn, enterprise, int(row[0]) if row else None).added


def ensure_demo_pumps(conn: psycopg.Connection, enterprise: int) -> int:
    """The demo pumps with their sensors under the collectors' codes, default alarm strategies
    and routing by grade (``analytics.vibration.strategies.provision_demo_pumps``)."""
    from analytics.vibration.strategies import provision_demo_pumps

    row = conn.execute(
        "SELECT id FROM auth.app_user WHERE lower(name) = %s", (DEMO_USER,)
    ).fetchone()
    return provision_demo_pumps(conn, enterprise, int(row[0]) if row else None)


def ensure_diagnosis_model_registered(conn: psycopg.Connection, settings: Settings) -> bool:
    """Record the diagnosis model `hazwatch install` trained in vib.diagnosis_model (P9), so
    the model in force and its held-out scores are on file; False when none is installed."""
    from analytics.vibration.diagnosis import current_model, register_model, store_dir

    model = current_model(settings.home)
    if model is None:
        return False
    register_model(conn, model.meta, store_dir(settings.home) / f"v{model.version}")
    return True


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
        from dashboards.panels.defaults import provision_defaults

        provision_defaults(conn, enterprise)  # shared "装置概览" dashboard (D1)
        ensure_demo_alerting(conn, enterprise)  # rules, groups, escalation (issue 6)
        ensure_demo_pumps(conn, enterprise)  # pumps, sensors, strategies, routing (issue 8)
        ensure_diagnosis_model_registered(conn, settings)  # P9 classifier from `install`
        from workflows.hazard_demo import ensure_demo_hazard

        ensure_demo_hazard(conn, enterprise)  # R2-R5 hazard units, R7 groups (issue 11)
        from workflows.contractors import demo as contractor_demo

        contractor_demo.ensure_demo_contractors(  # C1-C11 company, people, course (issue 10)
            conn, enterprise, home=settings.home, password=DEMO_PASSWORD
        )
        from workflows.contractors.positioning_sim import ensure_demo_positioning

        ensure_demo_positioning(conn, enterprise)  # C12 geofences and a vehicle tag (issue 10)
        from video.demo import demo_children as video_children
        from video.demo import ensure_demo_video

        video_ok = ensure_demo_video(conn, settings, enterprise, say)  # V9 on vtest.avi (issue 9)
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
    from workflows.hazard_demo import demo_children

    children[-2:-2] = demo_children(settings, maps.mqtt.parent, enterprise)  # R2, R4 signals
    children[-2:-2] = contractor_demo.demo_children()  # C11 access-control simulator
    sim_args = ["contractors", "positioning-sim", "--enterprise", ent]
    children[-2:-2] = [Child("positioning-sim", sim_args)]  # C12 positioning feed
    children[-2:-2] = video_children(enterprise) if video_ok else []  # video worker (issue 9)
    say("")
    say("hazwatch demo is up")
    say(f"  web        http://{settings.web.host}:{settings.web.port}/")
    say(f"  database   {shown}   (full URL: hazwatch db url)")
    say(f"  login      {DEMO_USER} / {DEMO_PASSWORD}")
    say(f"  contractor {contractor_demo.LOGIN} / {DEMO_PASSWORD}   (/contractors/my; access"
        f" control simulated on {contractor_demo.access_url()})")  # fmt: skip
    say(f"  registers  {row[0] if row else 0} enterprises (R1 reference data + the demo plant)")
    say(f"  plant      OPC UA opc.tcp://127.0.0.1:{settings.demo.opcua_port}/ (Tennessee "
        f"Eastman), Modbus gateways on {', '.join(str(p) for p, _ in maps.modbus)}, MQTT gas "
        f"detectors on {settings.demo.mqtt_port}")  # fmt: skip
    say("  alerts     rules on the gas detectors and the reactor (/alerts/rules); the loading-area")
    say("             leak at 60 s fires within about two minutes: the bell counts it")
    say(f"  processes  {', '.join(c.name for c in children)}")
    say("  look       hazwatch db status | rollups status; Ctrl-C stops the processes, the")
    say("             database keeps running (make db-down stops it)")
    setup_logging(settings.log, process="demo")
    sup = Supervisor(children)
    if duration is not None:
        threading.Timer(duration, sup.stop.set).start()
    sup.run()
