"""Hardware self-diagnosis (issue 8, P7): offline gateways and sensors, battery, signal,
stale data and gaps, as health alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from analytics.vibration.health import (
    DeviceStatus,
    assess,
    find_gaps,
    load_devices,
    sync_health_alerts,
)
from tests.analytics.vibration.pump_fixtures import make_pump_plant, minutes, write_overall

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def test_assess_is_pure_and_graded() -> None:
    fresh = NOW - timedelta(seconds=30)
    devices = [
        DeviceStatus("gateway", 1, "GW-1", 9, reported_at=fresh, online=False),
        DeviceStatus(
            "sensor",
            2,
            "S-2",
            9,
            reported_at=fresh,
            online=True,
            battery_pct=8,
            signal_dbm=-95,
            last_data_at=fresh,
        ),
        DeviceStatus(
            "sensor",
            3,
            "S-3",
            9,
            reported_at=NOW - timedelta(hours=1),
            online=True,
            battery_pct=15,
            last_data_at=NOW - timedelta(hours=1),
        ),
    ]
    got = {(i.code, i.issue): i.level for i in assess(devices, NOW)}
    assert got == {
        ("GW-1", "offline"): "alarm",
        ("S-2", "battery"): "alarm",
        ("S-2", "signal"): "warning",
        ("S-3", "offline"): "alarm",
        ("S-3", "battery"): "warning",
        ("S-3", "stale"): "warning",
    }
    t = [NOW + timedelta(seconds=s) for s in (0, 60, 120, 1000, 1060)]
    gaps = find_gaps(list(reversed(t)), 300)
    assert [(g.start, g.seconds) for g in gaps] == [(t[2], 880.0)]


def test_offline_gateway_and_a_data_gap_become_health_alarms(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    de, nde = plant.sensors["DE"], plant.sensors["NDE"]
    rows = [
        (NOW - timedelta(seconds=40), "gateway", plant.gateway_id, False, None, None),
        (NOW - timedelta(seconds=40), "sensor", de, True, 80.0, -60.0),
        (NOW - timedelta(seconds=40), "sensor", nde, True, 75.0, -65.0),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ts.device_health (time, device_kind, device_id, online, battery_pct,"
            " signal_dbm) VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    # DE: every minute for 2 h except a 20-minute hole; NDE: every minute, no hole.
    start = NOW - timedelta(hours=2)
    times = [
        t
        for t in minutes(start, 121)
        if not (start + timedelta(minutes=40) < t < start + timedelta(minutes=60))
    ]
    write_overall(conn, de, times, [2.0] * len(times))
    write_overall(conn, nde, minutes(start, 121), [2.0] * 121)
    devices = load_devices(conn, [plant.enterprise_id], NOW)
    by_code = {d.code: d for d in devices}
    assert by_code[f"GW-{plant.pump_code}"].online is False
    assert [g.seconds for g in by_code[f"{plant.pump_code}-DE"].gaps] == [1200.0]
    assert by_code[f"{plant.pump_code}-NDE"].gaps == []

    opened, resolved = sync_health_alerts(conn, now=NOW, enterprise_ids=[plant.enterprise_id])
    assert (opened, resolved) == (1, 0)  # the gateway; a past gap is listed, not alarmed
    alert = conn.execute(
        "SELECT key, level, summary FROM workflow.alert WHERE source = 'pump_health'"
        " AND enterprise_id = %s AND closed_at IS NULL AND state = 'firing'",
        (plant.enterprise_id,),
    ).fetchone()
    assert alert[0] == f"gateway:{plant.gateway_id}:offline" and alert[1] == "alarm"
    assert "网关" in alert[2] and "离线" in alert[2]

    # the gateway reports back online: the alarm resolves
    conn.execute(
        "INSERT INTO ts.device_health (time, device_kind, device_id, online) VALUES (%s,"
        " 'gateway', %s, true)",
        (NOW + timedelta(seconds=10), plant.gateway_id),
    )
    later = NOW + timedelta(seconds=20)
    write_overall(conn, de, [later], [2.0])
    write_overall(conn, nde, [later], [2.0])
    assert sync_health_alerts(conn, now=later, enterprise_ids=[plant.enterprise_id]) == (0, 1)
