"""Hardware self-diagnosis (P7): sensors and gateways online, battery, signal, data freshness
and gaps, as health alarms (source ``pump_health``) on their own page.

    devices = load_devices(conn, enterprise_ids=[3], now=now)   # DeviceStatus per device
    issues = assess(devices, now)                                # pure: Issue per problem
    sync_health_alerts(conn, now=now)     # the scheduler's "pump hardware" job: raise / resolve

Inputs are the collectors' own records: the newest ``ts.device_health`` row per device (a
device that stopped reporting is offline once its last report is older than ``stale_s``), the
newest ``vib.overall`` row per sensor (freshness) and the holes between consecutive overall
rows longer than ``gap_s`` (gaps, listed; only a gap still open is an alarm: "stale").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg

SOURCE: Final = "pump_health"


@dataclass(frozen=True)
class Thresholds:
    battery_warning_pct: float = 20.0
    battery_alarm_pct: float = 10.0
    signal_warning_dbm: float = -90.0
    #: No health report for this long: the device is offline (collectors report every 60 s).
    report_stale_s: float = 300.0
    #: No overall value for this long: the sensor's data are stale.
    data_stale_s: float = 600.0
    #: A hole longer than this between two overall values is a gap.
    gap_s: float = 300.0


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class DeviceStatus:
    kind: str  # 'sensor' | 'gateway'
    id: int
    code: str
    enterprise_id: int
    equipment: str | None = None
    equipment_id: int | None = None
    gateway: str | None = None
    reported_at: datetime | None = None
    online: bool | None = None
    battery_pct: float | None = None
    signal_dbm: float | None = None
    last_data_at: datetime | None = None
    gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class Issue:
    kind: str  # device kind
    device_id: int
    code: str
    issue: str  # offline | stale | battery | signal | gap
    level: str  # warning | alarm
    detail: str
    enterprise_id: int
    equipment: str | None = None
    equipment_id: int | None = None
    alert: bool = True  # gaps in the past are listed, not alarmed

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.device_id}:{self.issue}"


ISSUE_ZH = {
    "offline": "离线",
    "stale": "数据中断",
    "battery": "电量低",
    "signal": "信号弱",
    "gap": "数据缺失",
}
KIND_ZH = {"sensor": "传感器", "gateway": "网关"}


def find_gaps(times: Sequence[datetime], gap_s: float) -> list[Gap]:
    """Holes longer than ``gap_s`` between consecutive times (sorted here).

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [g.seconds for g in find_gaps([t, t + timedelta(seconds=60),
    ...                                t + timedelta(seconds=900)], 300)]
    [840.0]
    """
    ts = sorted(times)
    return [Gap(a, b) for a, b in itertools.pairwise(ts) if (b - a).total_seconds() > gap_s]


def _fmt_age(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 60:.0f} 分钟" if seconds >= 60 else f"{seconds:.0f} 秒"


def assess(
    devices: Iterable[DeviceStatus], now: datetime, th: Thresholds = Thresholds()
) -> list[Issue]:
    """The problems of each device now (pure)."""
    out: list[Issue] = []
    for d in devices:

        def issue(
            name: str, level: str, detail: str, alert: bool = True, d: DeviceStatus = d
        ) -> None:
            out.append(
                Issue(
                    d.kind,
                    d.id,
                    d.code,
                    name,
                    level,
                    detail,
                    d.enterprise_id,
                    d.equipment,
                    d.equipment_id,
                    alert,
                )
            )

        label = f"{KIND_ZH.get(d.kind, d.kind)} {d.code}"
        age = None if d.reported_at is None else (now - d.reported_at).total_seconds()
        if d.online is False:
            issue("offline", "alarm", f"{label} 报告离线")
        elif age is None:
            issue("offline", "alarm", f"{label} 从未上报状态")
        elif age > th.report_stale_s:
            issue("offline", "alarm", f"{label} 已 {_fmt_age(age)} 未上报状态")
        if d.battery_pct is not None:
            if d.battery_pct < th.battery_alarm_pct:
                issue("battery", "alarm", f"{label} 电量 {d.battery_pct:.0f}%")
            elif d.battery_pct < th.battery_warning_pct:
                issue("battery", "warning", f"{label} 电量 {d.battery_pct:.0f}%")
        if d.signal_dbm is not None and d.signal_dbm < th.signal_warning_dbm:
            issue("signal", "warning", f"{label} 信号 {d.signal_dbm:.0f} dBm")
        if d.kind == "sensor":
            data_age = None if d.last_data_at is None else (now - d.last_data_at).total_seconds()
            if data_age is None:
                issue("stale", "warning", f"{label} 无振动数据")
            elif data_age > th.data_stale_s:
                issue("stale", "warning", f"{label} 已 {_fmt_age(data_age)} 无振动数据")
            for g in d.gaps:
                issue(
                    "gap",
                    "warning",
                    f"{label} 数据缺失 {_fmt_age(g.seconds)}（{g.start:%m-%d %H:%M} 起）",
                    alert=False,
                )
    return out


# -- database --------------------------------------------------------------------------------


def load_devices(
    conn: psycopg.Connection,
    enterprise_ids: list[int] | None,
    now: datetime,
    *,
    window: timedelta = timedelta(hours=24),
    th: Thresholds = Thresholds(),
) -> list[DeviceStatus]:
    """Sensors and gateways in scope with their newest health report, newest overall value and
    the gaps of the last ``window``."""
    devices: dict[tuple[str, int], DeviceStatus] = {}
    for gid, code, ent in conn.execute(
        "SELECT id, code, enterprise_id FROM registry.gateway"
        " WHERE %s::integer[] IS NULL OR enterprise_id = ANY(%s) ORDER BY code",
        (enterprise_ids, enterprise_ids),
    ).fetchall():
        devices[("gateway", gid)] = DeviceStatus("gateway", gid, code, ent)
    for sid, code, ent, eq_code, eq_id, gw in conn.execute(
        """SELECT s.id, s.code, s.enterprise_id, e.code, e.id, g.code FROM registry.sensor s
           LEFT JOIN registry.equipment e ON e.id = s.equipment_id
           LEFT JOIN registry.gateway g ON g.id = s.gateway_id
           WHERE s.kind = 'vibration_triaxial'
             AND (%s::integer[] IS NULL OR s.enterprise_id = ANY(%s)) ORDER BY s.code""",
        (enterprise_ids, enterprise_ids),
    ).fetchall():
        devices[("sensor", sid)] = DeviceStatus("sensor", sid, code, ent, eq_code, eq_id, gw)
    if not devices:
        return []
    sensor_ids = [i for k, i in devices if k == "sensor"]
    all_ids = sorted({i for _, i in devices})
    for kind, did, t, online, battery, signal in conn.execute(
        """SELECT DISTINCT ON (device_kind, device_id) device_kind, device_id, time, online,
                  battery_pct, signal_dbm
           FROM ts.device_health WHERE device_kind IN ('sensor', 'gateway')
             AND device_id = ANY(%s) AND time > %s AND time <= %s
           ORDER BY device_kind, device_id, time DESC""",
        (all_ids, now - timedelta(days=7), now),
    ).fetchall():
        d = devices.get((kind, did))
        if d is not None:
            d.reported_at, d.online, d.battery_pct, d.signal_dbm = t, online, battery, signal
    for sid, last in conn.execute(
        "SELECT sensor_id, max(time) FROM vib.overall WHERE sensor_id = ANY(%s)"
        " AND time > %s AND time <= %s GROUP BY sensor_id",
        (sensor_ids, now - timedelta(days=7), now),
    ).fetchall():
        devices[("sensor", sid)].last_data_at = last
    # Holes between consecutive rows of one axis; computed in the database (a day of 5 s
    # values is ~17 k rows per sensor) and only the holes come back.
    for sid, prev, t in conn.execute(
        """SELECT sensor_id, prev, time FROM (
               SELECT sensor_id, time, lag(time) OVER (PARTITION BY sensor_id ORDER BY time)
                      AS prev
               FROM vib.overall WHERE axis = 'X' AND sensor_id = ANY(%s)
                 AND time > %s AND time <= %s) x
           WHERE time - prev > make_interval(secs => %s) ORDER BY sensor_id, time""",
        (sensor_ids, now - window, now, th.gap_s),
    ).fetchall():
        devices[("sensor", sid)].gaps.append(Gap(prev, t))
    return list(devices.values())


def sync_health_alerts(
    conn: psycopg.Connection,
    *,
    now: datetime | None = None,
    enterprise_ids: list[int] | None = None,
    th: Thresholds = Thresholds(),
) -> tuple[int, int]:
    """Raise an alert for each current problem, resolve those that went away. Returns
    ``(open, resolved)``."""
    from workflows.alerting import raise_external_alert, resolve_external_alert

    now = now or datetime.now(UTC)
    issues = [i for i in assess(load_devices(conn, enterprise_ids, now, th=th), now, th) if i.alert]
    current = set()
    for i in issues:
        current.add(i.key)
        labels = {
            "device": i.code,
            "device_kind": i.kind,
            "issue": i.issue,
            "enterprise_id": str(i.enterprise_id),
        }
        if i.equipment:
            labels["equipment"] = i.equipment
            labels["equipment_id"] = str(i.equipment_id)
        raise_external_alert(
            conn,
            SOURCE,
            i.key,
            i.level,
            labels,
            f"硬件自诊断：{i.detail}",
            priority="low",
            enterprise_id=i.enterprise_id,
            now=now,
        )
    resolved = 0
    for (key,) in conn.execute(
        """SELECT key FROM workflow.alert WHERE source = %s AND closed_at IS NULL
             AND state NOT IN ('resolved', 'normal')
             AND (%s::integer[] IS NULL OR enterprise_id = ANY(%s))""",
        (SOURCE, enterprise_ids, enterprise_ids),
    ).fetchall():
        if key not in current:
            resolve_external_alert(conn, SOURCE, key, now=now)
            resolved += 1
    return len(current), resolved


def health_job(conn: psycopg.Connection) -> str:
    opened, resolved = sync_health_alerts(conn)
    return f"{opened} hardware problems open, {resolved} resolved"


def summary(devices: Sequence[DeviceStatus], issues: Sequence[Issue]) -> dict[str, Any]:
    """Counts for the page's header cards."""
    bad = {(i.kind, i.device_id) for i in issues if i.issue == "offline"}
    return {
        "sensors": sum(d.kind == "sensor" for d in devices),
        "gateways": sum(d.kind == "gateway" for d in devices),
        "offline": len(bad),
        "battery": sum(i.issue == "battery" for i in issues),
        "gaps": sum(i.issue == "gap" for i in issues),
    }
