"""Migration 0017: the bearing catalogue and severity defaults equal the code's, per-machine
limits are audited, model versions register (real TimescaleDB)."""

from __future__ import annotations

import json

import psycopg
import pytest

from analytics.vibration.bearings import CATALOGUE
from analytics.vibration.diagnosis import register_model
from analytics.vibration.severity import ISO_10816_3, ISO_10816_7
from hazwatch.registers import Actor, acting
from tests.conftest import make_enterprise


def test_bearing_catalogue_rows_equal_the_code(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT model, ftf_order, bsf_order, bpfo_order, bpfi_order, n_elements, source"
        " FROM vib.bearing_catalogue"
    ).fetchall()
    db = {r[0]: r[1:] for r in rows}
    assert set(db) == set(CATALOGUE)
    for model, e in CATALOGUE.items():
        ftf, bsf, bpfo, bpfi, n, source = db[model]
        assert (ftf, bsf, bpfo, bpfi) == pytest.approx(
            (e.orders.ftf, e.orders.bsf, e.orders.bpfo, e.orders.bpfi)
        )
        assert n == (e.geometry.n if e.geometry else None)
        assert source == e.source


def test_severity_defaults_equal_the_code(conn: psycopg.Connection) -> None:
    rows = dict(
        ((s, c), (ab, bc, cd))
        for s, c, ab, bc, cd in conn.execute(
            "SELECT standard, class, ab_mm_s, bc_mm_s, cd_mm_s FROM vib.severity_default"
        ).fetchall()
    )
    for (g, sup), v in ISO_10816_3.items():
        assert rows[("iso10816-3", f"group {g} {sup}")] == v
    for (cat, small), v in ISO_10816_7.items():
        assert rows[("iso10816-7", f"category {cat} {'<=' if small else '>'} 200 kW")] == v


def test_per_machine_limits_are_checked_and_audited(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn)
    unit = conn.execute(
        "INSERT INTO registry.unit (enterprise_id, code, name) VALUES (%s, 'U-VIB', '测试装置')"
        " RETURNING id",
        (ent,),
    ).fetchone()[0]
    eq_id = conn.execute(
        "INSERT INTO registry.equipment (unit_id, code, name, kind)"
        " VALUES (%s, 'P-VIB', '测试泵', 'pump') RETURNING id",
        (unit,),
    ).fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO vib.severity_limit (equipment_id, standard, ab_mm_s, bc_mm_s, cd_mm_s)"
            " VALUES (%s, 'custom', 3.0, 2.0, 5.0)",
            (eq_id,),
        )
    with acting(conn, Actor(None, "li.wei"), "基础刚性差，按经验放宽"):
        conn.execute(
            "INSERT INTO vib.severity_limit (equipment_id, standard, category, ab_mm_s, bc_mm_s,"
            " cd_mm_s) VALUES (%s, 'iso10816-7', 'I', 2.8, 4.5, 7.1)",
            (eq_id,),
        )
    actor, reason, after = conn.execute(
        "SELECT actor, reason, after FROM audit.log WHERE entity = 'vib.severity_limit'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert actor == "li.wei" and reason == "基础刚性差，按经验放宽"
    assert after["equipment_id"] == eq_id and after["bc_mm_s"] == 4.5


def test_model_version_registers_once(conn: psycopg.Connection) -> None:
    meta = {
        "version": 9001,
        "sha256": "a" * 64,
        "classes": ["normal", "unbalance"],
        "features": ["f1"],
        "metrics": {"held_out_demo_plant": {"accuracy": 0.9}},
    }
    register_model(conn, meta, "/tmp/v9001")
    register_model(conn, meta, "/tmp/v9001")
    rows = conn.execute(
        "SELECT classes, metrics FROM vib.diagnosis_model WHERE version = 9001"
    ).fetchall()
    assert len(rows) == 1 and rows[0][0] == ["normal", "unbalance"]
    assert rows[0][1] == json.loads(json.dumps(meta["metrics"]))
