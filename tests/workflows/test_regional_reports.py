"""Regulator reports (R8) rank process, gas, pump and video alarms together: built from the
query results (pure) and gathered from a real database in a city regulator's scope."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import psycopg

from dashboards.auth import Scope
from hazwatch import registers
from tests.conftest import make_enterprise
from tests.dashboards.test_api_alerts import _received, _video
from workflows import alerting
from workflows import regional_reports as rr


def test_every_alarm_type_is_ranked_by_enterprise_city_and_type() -> None:
    period = rr.report_period("daily", date(2026, 11, 25))
    ents = [
        SimpleNamespace(id=1, name="甲", region_code="140105", region_name="小店区"),
        SimpleNamespace(id=2, name="乙", region_code="140200", region_name="大同市"),
        SimpleNamespace(id=3, name="丙", region_code="140100", region_name="太原市"),
    ]
    data = {
        "enterprises": ents,
        "ranking": [SimpleNamespace(rank=1, key="1", name="甲", count=6)],
        "by_category": [SimpleNamespace(key="process", count=6)],
        "by_priority": [SimpleNamespace(key="high", count=6)],
        "alarms": 6,
        # 乙 has no process alarms at all, only gas and video: it still ranks, first.
        "alerts": {"gas": {2: 5}, "pump": {1: 1}, "pump_health": {3: 2}, "video": {2: 3},
                   "process": {3: 1}},
        "freshness": [],
        "hourly": {},
        "units": [],
    }  # fmt: skip
    doc = rr.build_report(data, period, "山西省")
    assert [(r["rank"], r["name"], r["count"]) for r in doc["by_enterprise"]] == [
        (1, "乙", 8), (2, "甲", 7), (3, "丙", 3)
    ]  # fmt: skip
    first = doc["by_enterprise"][0]
    assert (first["gas"], first["video"], first["process"], first["city"]) == (5, 3, 0, "大同市")
    assert doc["by_enterprise"][2]["pump"] == 2 and doc["by_enterprise"][2]["process"] == 1
    assert first["share"] == round(100 * 8 / 18, 1)
    assert [(c["name"], c["count"], c["pump"]) for c in doc["by_city"]] == [
        ("太原市", 10, 3), ("大同市", 8, 0)
    ]  # fmt: skip
    s = doc["summary"]
    assert (s["alarms"], s["process"], s["gas"], s["pump"], s["video"]) == (18, 7, 5, 3, 3)
    assert {r["key"]: r["count"] for r in doc["by_type"]} == {
        "alarm_event": 6, "process": 1, "gas": 5, "pump": 1, "pump_health": 2, "video": 3
    }  # fmt: skip
    page = rr.render_html(doc, "zh")
    assert (
        'id="rr-by-type"' in page and "可燃/有毒气体报警" in page and "视频报警（已确认）" in page
    )
    assert "<th>气体</th>" in page and "<th>机泵</th>" in page
    english = rr.render_html(doc, "en")
    assert "combustible/toxic gas alarms" in english and "<th>Video</th>" in english


def test_gathered_in_a_city_regulators_scope(conn: psycopg.Connection) -> None:
    ours, our_name = make_enterprise(conn, "报表告警太原", "太原市")
    theirs, their_name = make_enterprise(conn, "报表告警大同", "大同市")
    # A past hour of its own: the session's other tests put their alarms around now.
    now = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=secrets.randbelow(500_000))
    _received(conn, ours, our_name, "gas", "danger", now - timedelta(minutes=5))
    _received(conn, theirs, their_name, "gas", "alarm", now - timedelta(minutes=5))
    alerting.raise_external_alert(
        conn, "pump", f"strategy:rr-{ours}", "alarm", {"unit": "U-P"}, "机泵振动报警",
        enterprise_id=ours, now=now - timedelta(minutes=4),
    )  # fmt: skip
    _video(conn, ours, "handled", now - timedelta(minutes=3))
    period = rr.Period("daily", now - timedelta(hours=1), now + timedelta(minutes=1), "test")
    scope = Scope(region_id=registers.resolve(conn, "region", "太原市"))
    doc = rr.build_report(rr.gather(conn, scope, period), period, "太原市")
    rows = {r["name"]: r for r in doc["by_enterprise"]}
    assert their_name not in rows
    assert {k: rows[our_name][k] for k in ("process", "gas", "pump", "video", "count")} == {
        "process": 0, "gas": 1, "pump": 1, "video": 1, "count": 3
    }  # fmt: skip
    assert doc["summary"]["gas"] >= 1 and "大同市" not in {c["name"] for c in doc["by_city"]}
