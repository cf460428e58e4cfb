"""Shared dashboards the platform provisions: "装置概览" (plant overview) of the demo plant.

    provision_defaults(conn, enterprise_id)     # hazwatch demo calls it; idempotent

Thresholds are the demo plant's alarm limits (H orange, HH red), from the same table the
simulator's alarm master database is built from.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from dashboards.panels import store

PLANT_OVERVIEW_UID: Final = "plant-overview"
PLANT_OVERVIEW_TITLE: Final = "装置概览"


def _limits(tag: str) -> list[dict[str, Any]]:
    from ingest.simulator.plant import NOMINAL

    mean, band, _std = NOMINAL[tag]
    return [
        {"value": round(mean + band, 4), "color": "orange"},
        {"value": round(mean + 2 * band, 4), "color": "red"},
    ]


def plant_overview() -> dict[str, Any]:
    """Reactor pressure and temperature, levels, a table of key tags and their alarm states."""
    key = ["TEP-XMEAS07", "TEP-XMEAS09", "TEP-XMEAS08", "TEP-XMEAS12", "TEP-XMEAS15"]
    return {
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "variables": ["enterprise", "unit", "tag"],
        "panels": [
            {
                "id": "pressure",
                "type": "timeseries",
                "title": "反应器压力",
                "tags": ["TEP-XMEAS07"],
                "thresholds": _limits("TEP-XMEAS07"),
                "width": 6,
            },
            {
                "id": "temperature",
                "type": "timeseries",
                "title": "反应器温度",
                "tags": ["TEP-XMEAS09"],
                "thresholds": _limits("TEP-XMEAS09"),
                "width": 6,
            },
            {
                "id": "pressure-now",
                "type": "stat",
                "title": "反应器压力（当前）",
                "tags": ["TEP-XMEAS07"],
                "thresholds": _limits("TEP-XMEAS07"),
                "width": 3,
                "height": 4,
            },
            {
                "id": "temperature-gauge",
                "type": "gauge",
                "title": "反应器温度",
                "tags": ["TEP-XMEAS09"],
                "thresholds": _limits("TEP-XMEAS09"),
                "width": 3,
                "height": 6,
                "min": 118,
                "max": 123,
            },
            {
                "id": "levels",
                "type": "bar",
                "title": "液位（平均）",
                "reduce": "avg",
                "tags": ["TEP-XMEAS08", "TEP-XMEAS12", "TEP-XMEAS15"],
                "width": 6,
                "height": 6,
            },
            {"id": "key-table", "type": "table", "title": "关键测点", "tags": key, "width": 6},
            {
                "id": "alarm-states",
                "type": "state_timeline",
                "title": "报警状态",
                "tags": key,
                "width": 6,
            },
            {
                "id": "heat",
                "type": "heatmap",
                "title": "液位热力图",
                "tags": ["TEP-XMEAS08", "TEP-XMEAS12", "TEP-XMEAS15"],
                "width": 6,
            },
            {
                "id": "chosen",
                "type": "timeseries",
                "title": "所选测点（变量）",
                "tags": ["$tag"],
                "width": 12,
            },
        ],
    }


def provision_defaults(conn: psycopg.Connection, enterprise_id: int | None = None) -> list[str]:
    """Create the default shared dashboards that are missing; their uids."""
    created = []
    if store.provision(
        conn, PLANT_OVERVIEW_UID, PLANT_OVERVIEW_TITLE, plant_overview(), enterprise_id
    ):
        created.append(PLANT_OVERVIEW_UID)
    return created
