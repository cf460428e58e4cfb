"""The fault case library (issue 8, P12): add, edit, delete, search; audited."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from analytics.vibration.cases import (
    CaseError,
    create_case,
    decimate,
    delete_case,
    get_case,
    load_capture,
    search_cases,
    snapshot,
    training_examples,
    update_case,
)
from tests.analytics.vibration.pump_fixtures import ACTOR, make_pump_plant, write_capture

T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def test_decimate_keeps_peaks() -> None:
    f = np.arange(0, 5000, 1.0)
    a = np.zeros_like(f)
    a[1234] = 9.0
    out = decimate(f, a, fmax=4000, lines=100)
    assert len(out["freq"]) <= 100 and max(out["amp"]) == 9.0
    assert out["freq"][out["amp"].index(9.0)] == 1234.0


def test_add_edit_search_delete(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    ents = [plant.enterprise_id]
    a = create_case(
        conn,
        ACTOR,
        enterprise_id=plant.enterprise_id,
        equipment_id=plant.pump_id,
        title="渣油泵轴承外圈剥落",
        fault="bearing_outer_race",
        grade="alarm",
        cause="润滑不良",
        action_taken="更换轴承",
        keywords="轴承，外圈",
    )
    b = create_case(
        conn,
        ACTOR,
        enterprise_id=plant.enterprise_id,
        title="叶轮不平衡",
        fault="unbalance",
        description="1× 突出",
    )
    assert [c["id"] for c in search_cases(conn, ents, text="外圈")] == [a]  # by keyword
    assert [c["id"] for c in search_cases(conn, ents, text="润滑")] == [a]  # by cause
    assert [c["id"] for c in search_cases(conn, ents, fault="unbalance")] == [b]
    assert [c["id"] for c in search_cases(conn, ents, text=plant.pump_code)] == [a]  # by pump
    assert search_cases(conn, ents, text="100%") == []  # wildcards are literal
    assert search_cases(conn, [-1]) == []  # scope
    update_case(conn, ACTOR, b, {"cause": "叶轮结垢", "keywords": ["叶轮", "结垢"]})
    assert get_case(conn, b)["keywords"] == ["叶轮", "结垢"]
    assert [c["id"] for c in search_cases(conn, ents, text="结垢")] == [b]
    with pytest.raises(CaseError, match="fault 'rust'"):
        update_case(conn, ACTOR, b, {"fault": "rust"})
    with pytest.raises(CaseError, match="title"):
        create_case(conn, ACTOR, enterprise_id=plant.enterprise_id, title=" ", fault="other")
    with pytest.raises(CaseError, match="spectra: not a case field"):
        update_case(conn, ACTOR, b, {"spectra": {}})
    delete_case(conn, ACTOR, b)
    assert get_case(conn, b) is None
    with pytest.raises(CaseError, match="no such case"):
        delete_case(conn, ACTOR, b)
    actions = [
        r[0]
        for r in conn.execute(
            "SELECT action FROM audit.log WHERE entity = 'vib.fault_case' AND entity_id = %s"
            " ORDER BY id",
            (str(b),),
        ).fetchall()
    ]
    assert actions == ["insert", "update", "delete"]


def test_snapshot_of_the_nearest_capture(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    de, nde = plant.sensors["DE"], plant.sensors["NDE"]
    write_capture(conn, de, T0, fault="unbalance")
    write_capture(conn, nde, T0, fault=None, point="NDE")
    cap = load_capture(conn, de, T0.replace(minute=5))
    assert cap is not None and cap.names == ("X", "Y", "Z") and cap.fs == 25600.0
    snap = snapshot(conn, plant.pump_id, T0)
    assert snap is not None and snap["sensor_id"] == de  # the worse of the two sensors
    case = create_case(
        conn,
        ACTOR,
        enterprise_id=plant.enterprise_id,
        title="snap",
        fault="unbalance",
        spectra=snap,
    )
    examples = training_examples(conn, [plant.enterprise_id])
    assert len(examples) == 1 and examples[0][1] == "unbalance" and len(examples[0][0]) == 3
    assert get_case(conn, case)["spectra"]["analysis"]["severity"]["zone"] in "BCD"
