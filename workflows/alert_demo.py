"""The demo plant's alerting (issue 6): rules on its gas detectors and process tags, the four
escalation groups with the demo administrator in each, a business-hours calendar and an
escalation policy. ``hazwatch demo`` calls it at every start; it adds what is missing and
leaves existing rows alone (an edit made in the UI survives a restart).

    summary = provision_demo_alerting(conn, enterprise_id, admin_id)
    summary.rules, summary.groups          # codes present afterwards

What fires in a fresh demo (``ingest.simulator.gas``): the loading area's first leak starts at
60 s plant time at GD-LA1-01 (peak about 60 %LEL), so ``gas-gd-la1-01-lel`` fires at the alarm
and then the danger level within about two minutes of the start, its neighbour GD-LA1-02 at
the alarm level; TD-WH1-01's battery dies at 3 min, so ``nodata-td-wh1-01`` fires at about
4 min. Tier 1 (operators, in-app) is told at once: the bell in the header counts it.

In-app notifications need no channel row (``workflows.notify`` writes them); e-mail needs an
SMTP channel, see docs/alerting.md, "The demo".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor
from ingest.simulator.gas import demo_detectors
from ingest.simulator.plant import NOMINAL
from ingest.tags import TagResolver
from workflows import alert_config
from workflows.alert_cli import prepare_rule

ACTOR = Actor(None, "demo")
REASON = "demo provisioning"

#: Escalation groups, lowest tier first (A13: operator → technical staff → management →
#: company leadership).
GROUPS: tuple[tuple[str, str], ...] = (
    ("demo-operators", "当班操作员"),
    ("demo-technicians", "工艺技术人员"),
    ("demo-management", "车间/安全管理人员"),
    ("demo-leadership", "公司领导（值班）"),
)
#: Minutes after firing at which each tier is told, and when it applies.
TIERS: tuple[tuple[int, str], ...] = (
    (0, "always"),
    (3, "always"),
    (10, "business_hours"),
    (30, "always"),
)
CALENDAR = "demo-workdays"
POLICY = "demo-escalation"


@dataclass
class Provisioned:
    groups: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    added: int = 0


def _gas_rules(enterprise: str) -> list[dict[str, Any]]:
    """One threshold rule per gas detector at its two alarm levels (GB/T 50493: combustible
    20 / 50 %LEL, toxic about 1 and 2 times the exposure limit), clearing a little below."""
    out = []
    for det in demo_detectors():
        gas = det.gas
        if gas is None:
            continue
        first, second = gas.alarm
        out.append(
            {
                "code": f"gas-{det.code.lower()}-{gas.key}",
                "name": f"{det.code} {gas.name}浓度高",
                "enterprise": enterprise,
                "tag": f"{det.code}.{gas.tag_suffix}",
                "priority": "emergency" if gas.key in ("lel", "h2s", "cl2") else "high",
                "labels": {"area": det.unit, "gas": gas.key},
                "kind": "threshold",
                "window_s": 15,
                "reduce": "last",
                "pending_s": 5,
                "keep_firing_s": 60,
                "nodata_s": 300,
                "levels": [
                    {"level": "alarm", "op": ">", "value": first, "clear": round(first * 0.75, 3)},
                    {
                        "level": "danger",
                        "op": ">",
                        "value": second,
                        "clear": round(second * 0.8, 3),
                    },
                ],
            }
        )
    return out


def _process_rules(enterprise: str) -> list[dict[str, Any]]:
    """Rules on the Tennessee Eastman unit: every kind once (limits from its normal band)."""
    p_mean, p_band, _ = NOMINAL["TEP-XMEAS07"]
    _, t_band, _ = NOMINAL["TEP-XMEAS09"]
    c_mean, c_band, _ = NOMINAL["TEP-XMEAS20"]
    return [
        {
            "code": "tep-reactor-pressure",
            "name": "反应器压力高",
            "enterprise": enterprise,
            "tag": "TEP-XMEAS07",
            "priority": "emergency",
            "labels": {"area": "TEP"},
            "kind": "threshold",
            "window_s": 30,
            "reduce": "avg",
            "pending_s": 30,
            "keep_firing_s": 120,
            "levels": [
                {
                    "level": "warning",
                    "op": ">",
                    "value": round(p_mean + p_band, 1),
                    "clear": round(p_mean + 0.5 * p_band, 1),
                },
                {
                    "level": "alarm",
                    "op": ">",
                    "value": round(p_mean + 2 * p_band, 1),
                    "clear": round(p_mean + 1.5 * p_band, 1),
                },
                # The shutdown interlock trips at 3000 kPa.
                {"level": "danger", "op": ">", "value": 2950.0, "clear": 2900.0},
            ],
        },
        {
            "code": "tep-reactor-pressure-trend",
            "name": "反应器压力趋势：将达联锁值",
            "enterprise": enterprise,
            "tag": "TEP-XMEAS07",
            "priority": "emergency",
            "labels": {"area": "TEP"},
            "kind": "trend",
            "window_s": 300,
            "target": 2950.0,
            "direction": "rising",
            "pending_s": 60,
            "levels": [
                {"level": "warning", "op": "<", "value": 1800, "clear": 2400},
                {"level": "alarm", "op": "<", "value": 600, "clear": 900},
            ],
        },
        {
            "code": "tep-reactor-temp-rate",
            "name": "反应器温度变化过快",
            "enterprise": enterprise,
            "tag": "TEP-XMEAS09",
            "priority": "high",
            "labels": {"area": "TEP"},
            "kind": "rate",
            "source": "1m",
            "column": "avg",
            "window_s": 600,
            "rate_unit_s": 60,
            "pending_s": 60,
            "levels": [
                {
                    "level": "warning",
                    "op": ">",
                    "value": round(t_band / 2, 3),
                    "clear": round(t_band / 4, 3),
                },
                {
                    "level": "alarm",
                    "op": ">",
                    "value": round(t_band, 3),
                    "clear": round(t_band / 2, 3),
                },
            ],
        },
        {
            # Needs a day of hourly rollups to learn its baseline: enable it after that.
            "code": "tep-compressor-baseline",
            "name": "压缩机功率偏离基线",
            "enterprise": enterprise,
            "tag": "TEP-XMEAS20",
            "priority": "low",
            "labels": {"area": "TEP"},
            "enabled": False,
            "kind": "baseline",
            "source": "1m",
            "column": "avg",
            "window_s": 900,
            "reduce": "avg",
            "baseline_s": 7 * 86400,
            "baseline_min_points": 24,
            "levels": [
                {
                    "level": "warning",
                    "op": ">",
                    "value": round(1 + 2 * c_band / c_mean, 3),
                    "clear": round(1 + c_band / c_mean, 3),
                },
            ],
        },
        {
            "code": "nodata-td-wh1-01",
            "name": "TD-WH1-01 氨气探测器无数据",
            "enterprise": enterprise,
            "tag": "TD-WH1-01.NH3",
            "priority": "high",
            "labels": {"area": "WH-1"},
            "kind": "nodata",
            "nodata_s": 60,
            "nodata_level": "warning",
        },
    ]


def _ensure_tags(conn: psycopg.Connection, enterprise_id: int) -> None:
    """The gas detectors' tags (the MQTT collector would create them on first sight; the rules
    need them now), in their units."""
    resolver = TagResolver(conn, enterprise_id, ACTOR)
    resolver.load()
    units = dict(
        conn.execute(
            "SELECT code, id FROM registry.unit WHERE enterprise_id = %s", (enterprise_id,)
        ).fetchall()
    )
    for det in demo_detectors():
        gas = det.gas
        if gas is None:
            continue
        tag_id = resolver.id_for(
            f"{det.code}.{gas.tag_suffix}", source="mqtt", eng_unit=gas.eng_unit
        )
        unit_id = units.get(det.unit)
        row = conn.execute("SELECT unit_id FROM registry.tag WHERE id = %s", (tag_id,)).fetchone()
        if unit_id is not None and row is not None and row[0] is None:
            registers.update(conn, ACTOR, "tag", tag_id, {"unit_id": unit_id}, REASON)  # type: ignore[arg-type]
    for tag in NOMINAL:
        resolver.id_for(tag, source="opcua")


def _ensure_groups(conn: psycopg.Connection, enterprise_id: int, members: list[int]) -> list[int]:
    ids = []
    for code, name in GROUPS:
        row = conn.execute(
            "SELECT id FROM workflow.user_group WHERE enterprise_id = %s AND code = %s",
            (enterprise_id, code),
        ).fetchone()
        gid = (
            int(row[0])
            if row
            else registers.insert(
                conn,
                ACTOR,
                "user_group",
                {
                    "enterprise_id": enterprise_id,
                    "code": code,
                    "name": name,
                    "description": "演示：告警升级通知组",
                },
                REASON,
            )
        )
        for uid in members:
            if not conn.execute(
                "SELECT 1 FROM workflow.user_group_member WHERE group_id = %s AND user_id = %s",
                (gid, uid),
            ).fetchone():
                registers.insert(
                    conn, ACTOR, "user_group_member", {"group_id": gid, "user_id": uid}, REASON
                )
        ids.append(gid)
    return ids


def _find(conn: psycopg.Connection, table: str, enterprise_id: int, code: str) -> int | None:
    # table comes from this module's own calls only (calendar, escalation_policy, alert_rule).
    query = {
        "calendar": "SELECT id FROM workflow.calendar WHERE enterprise_id = %s AND code = %s",
        "escalation_policy": "SELECT id FROM workflow.escalation_policy"
        " WHERE enterprise_id = %s AND code = %s",
        "alert_rule": "SELECT id FROM workflow.alert_rule WHERE enterprise_id = %s AND code = %s",
    }[table]
    row = conn.execute(query, (enterprise_id, code)).fetchone()
    return int(row[0]) if row else None


def provision_demo_alerting(
    conn: psycopg.Connection, enterprise_id: int, admin_id: int | None
) -> Provisioned:
    """Add the demo's alerting configuration where missing (one transaction)."""
    out = Provisioned()
    with conn.transaction():
        name_row = conn.execute(
            "SELECT name FROM registry.enterprise WHERE id = %s", (enterprise_id,)
        ).fetchone()
        assert name_row is not None, f"no enterprise {enterprise_id}"
        _ensure_tags(conn, enterprise_id)
        group_ids = _ensure_groups(conn, enterprise_id, [admin_id] if admin_id else [])
        out.groups = [code for code, _ in GROUPS]
        calendar_id = _find(conn, "calendar", enterprise_id, CALENDAR)
        if calendar_id is None:
            calendar_id = alert_config.insert(
                conn,
                ACTOR,
                "calendar",
                {
                    "enterprise_id": enterprise_id,
                    "code": CALENDAR,
                    "name": "白班工作时间",
                    "working_days": [1, 2, 3, 4, 5],
                    "hours": [["08:00", "12:00"], ["13:30", "17:30"]],
                },
                REASON,
            )
            out.added += 1
        if _find(conn, "escalation_policy", enterprise_id, POLICY) is None:
            tiers = []
            for (after_min, when), gid in zip(TIERS, group_ids, strict=True):
                tier: dict[str, Any] = {"after_s": after_min * 60, "groups": [gid], "when": when}
                if after_min == 0:
                    tier["channels"] = ["inapp"]  # the operators' screen; later tiers: prefs
                tiers.append(tier)
            alert_config.insert(
                conn,
                ACTOR,
                "escalation_policy",
                {
                    "enterprise_id": enterprise_id,
                    "code": POLICY,
                    "name": "演示：逐级升级",
                    "position": 100,
                    "until": "ack",
                    "repeat_s": 1800,
                    "calendar_id": calendar_id,
                    "tiers": tiers,
                },
                REASON,
            )
            out.added += 1
        enterprise = str(enterprise_id)
        for item in _gas_rules(enterprise) + _process_rules(enterprise):
            out.rules.append(item["code"])
            if _find(conn, "alert_rule", enterprise_id, item["code"]) is not None:
                continue
            row = prepare_rule(conn, item, f"demo rule {item['code']}")
            alert_config.insert(conn, ACTOR, "alert_rule", row, REASON)
            out.added += 1
    return out
