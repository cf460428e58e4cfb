"""Pump alarm handling (issue 8, P6): view → handle → convert to a defect through the approval
engine (kind pump.alarm_to_defect) → close, which files a case (P12) with its spectra."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.vibration.defects import (
    DefectError,
    close_alarm,
    close_defect,
    handling,
    list_defects,
    pump_alarms,
    record_handling,
    record_view,
    request_defect,
)
from analytics.vibration.strategies import evaluate_strategies, save_strategy, zone_levels
from hazwatch.registers import Actor
from tests.analytics.vibration.pump_fixtures import (
    ACTOR,
    Plant,
    make_pump_plant,
    minutes,
    write_capture,
    write_overall,
)
from workflows.approvals import ApprovalError, act, get_instance

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def _firing_alarm(conn: psycopg.Connection, plant: Plant) -> int:
    de = plant.sensors["DE"]
    save_strategy(
        conn,
        ACTOR,
        equipment_id=plant.pump_id,
        name="DE 速度",
        sensor_id=de,
        measure="velocity_rms_mm_s",
        spec={"kind": "threshold", "window_s": 120, "levels": zone_levels(2.5, 4.0, 6.6)},
    )
    write_overall(conn, de, minutes(T0, 5), [8.0] * 5)
    write_capture(conn, de, T0 + timedelta(minutes=2), fault="unbalance")
    rep = evaluate_strategies(conn, now=T0 + timedelta(minutes=4), equipment_ids=[plant.pump_id])
    assert len(rep.fired) == 1
    return rep.fired[0]


def test_alarm_to_defect_to_case_end_to_end(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn)
    alert_id = _firing_alarm(conn, plant)
    operator = Actor(plant.users["safety_mgmt"][0], plant.users["safety_mgmt"][1])
    approver = Actor(plant.users["equipment"][0], plant.users["equipment"][1])

    record_view(conn, operator, alert_id)
    record_view(conn, operator, alert_id)  # once per person
    record_handling(conn, operator, alert_id, "现场复测驱动端 8.1 mm/s，确认振动大")
    steps = handling(conn, alert_id)
    assert [h["action"] for h in steps] == ["view", "handle"]
    acked = conn.execute(
        "SELECT acked_by FROM workflow.alert WHERE id = %s", (alert_id,)
    ).fetchone()
    assert acked[0] == operator.id  # handling acknowledges: escalation stops

    iid = request_defect(
        conn, operator, alert_id, title="驱动端振动超标", description="1× 突出", fault="unbalance"
    )
    assert pump_alarms(conn, [plant.enterprise_id])[0]["pending_request"] == iid
    with pytest.raises(DefectError, match="already waiting"):
        request_defect(conn, operator, alert_id, title="again")
    with pytest.raises(ApprovalError):  # four eyes: the requester cannot approve
        act(conn, operator, iid, "approve", "同意")
    assert act(conn, approver, iid, "approve", "同意转缺陷") == "approved"
    (defect,) = list_defects(conn, [plant.enterprise_id])
    assert defect["state"] == "open" and defect["alert_id"] == alert_id
    assert defect["fault"] == "unbalance" and defect["grade"] == "alarm"
    assert defect["approval_id"] == iid and get_instance(conn, iid).state == "approved"
    audit = conn.execute(
        "SELECT actor FROM audit.log WHERE entity = 'vib.defect' AND entity_id = %s",
        (str(defect["id"]),),
    ).fetchone()
    assert audit[0] == approver.name  # the approver opened it

    with pytest.raises(DefectError, match="cause"):
        close_defect(conn, approver, defect["id"], cause=" ", action_taken="x")
    case_id = close_defect(
        conn,
        approver,
        defect["id"],
        cause="叶轮结垢导致不平衡",
        action_taken="清理叶轮并现场动平衡",
    )
    closed = conn.execute(
        "SELECT d.state, a.closed_at IS NOT NULL FROM vib.defect d"
        " JOIN workflow.alert a ON a.id = d.alert_id WHERE d.id = %s",
        (defect["id"],),
    ).fetchone()
    assert closed == ("closed", True)
    case = conn.execute(
        "SELECT defect_id, fault, cause, spectra FROM vib.fault_case WHERE id = %s", (case_id,)
    ).fetchone()
    assert case[0] == defect["id"] and case[1] == "unbalance" and case[2] == "叶轮结垢导致不平衡"
    spectra = case[3]
    assert spectra["sensor_id"] == plant.sensors["DE"]
    assert set(spectra["axes"]) == {"X", "Y", "Z"}
    vel = spectra["axes"]["X"]["velocity"]
    assert len(vel["freq"]) == len(vel["amp"]) > 100
    # the capture's 1× line (about 49.5 Hz) is the velocity spectrum's largest
    top = vel["freq"][max(range(len(vel["amp"])), key=vel["amp"].__getitem__)]
    assert 45 < top < 52
    assert "unbalance" in [d["fault"] for d in spectra["analysis"]["diagnosis"]]
    assert len(spectra["axes"]["X"]["vector"]) == 18
    with pytest.raises(DefectError, match="already closed"):
        close_defect(conn, approver, defect["id"], cause="x", action_taken="y")


def test_rejected_conversion_opens_no_defect_and_alarm_can_be_closed(
    conn: psycopg.Connection,
) -> None:
    plant = make_pump_plant(conn)
    alert_id = _firing_alarm(conn, plant)
    operator = Actor(plant.users["safety_mgmt"][0], plant.users["safety_mgmt"][1])
    approver = Actor(plant.users["equipment"][0], plant.users["equipment"][1])
    iid = request_defect(conn, operator, alert_id, title="疑似松动")
    assert act(conn, approver, iid, "reject", "复测正常，传感器松动") == "rejected"
    assert list_defects(conn, [plant.enterprise_id]) == []
    with pytest.raises(DefectError, match="note"):
        record_handling(conn, operator, alert_id, "  ")
    close_alarm(conn, operator, alert_id, "误报：传感器磁座松动，已紧固")
    assert pump_alarms(conn, [plant.enterprise_id]) == []  # open only
    with pytest.raises(DefectError, match="closed"):
        request_defect(conn, operator, alert_id, title="too late")
    other = conn.execute(
        "INSERT INTO workflow.alert (source, key, priority, state, started_at)"
        " VALUES ('video', %s, 'low', 'firing', now()) RETURNING id",
        (f"x-{alert_id}",),
    ).fetchone()[0]
    with pytest.raises(DefectError, match="not a pump alarm"):
        request_defect(conn, operator, other, title="x")
