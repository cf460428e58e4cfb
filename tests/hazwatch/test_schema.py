"""The schema later issues rely on: hypertables, registers and the R1 reference data."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hazwatch.refdata import read_csv
from hazwatch.rollups import catalog
from tests.conftest import REPO

HYPERTABLES = {
    "ts.sample": ("1 day", "time"),
    "ts.device_health": ("7 days", "time"),
    "alarm.event": ("7 days", "time"),
    "alarm.record": ("30 days", "raised"),
    "vib.overall": ("7 days", "time"),
    "vib.waveform": ("7 days", "time"),
    "video.detection": ("30 days", "time"),
    "contractor.position": ("1 day", "time"),
}


def test_hypertables_are_hypertables(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT h.hypertable_schema || '.' || h.hypertable_name, d.time_interval::text,"
        " d.column_name"
        " FROM timescaledb_information.hypertables h"
        " JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name)"
    ).fetchall()
    public = {name: (interval, col) for name, interval, col in rows if "_hazwatch" not in name}
    assert public == HYPERTABLES
    # Rollup materialisations (issue 3) are hypertables on their bucket column.
    internal = {name: col for name, _, col in rows if name.startswith("_hazwatch.")}
    assert internal == {
        "_hazwatch." + "mat__" + r.name.replace(".", "__"): "bucket" for r in catalog.ROLLUPS
    }
    assert "_hazwatch.mat__ts__sample_1h" in internal


def test_sample_columns_are_the_public_contract(conn: psycopg.Connection) -> None:
    cols = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'ts' AND table_name = 'sample' ORDER BY ordinal_position"
    ).fetchall()
    assert cols == [
        ("time", "timestamp with time zone"),
        ("tag_id", "integer"),
        ("value", "double precision"),
        ("quality", "smallint"),
    ]


def test_samples_land_in_daily_chunks_and_key_is_idempotent(conn: psycopg.Connection) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with conn.transaction(force_rollback=True):
        with conn.cursor().copy("COPY ts.sample (time, tag_id, value) FROM STDIN") as cp:
            for h in range(72):
                cp.write_row((t0 + timedelta(hours=h), 900001, float(h)))
        chunks = conn.execute(
            # Other tests of the session write samples of other days: count these days only.
            "SELECT count(*) FROM show_chunks('ts.sample', older_than => %s::timestamptz,"
            " newer_than => %s::timestamptz)",
            (t0 + timedelta(days=4), t0),
        ).fetchone()
        assert chunks == (3,)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, 900001, 1)", (t0,)
            )


def test_waveform_samples_are_a_compact_float4_array(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT a.atttypid::regtype::text, a.attcompression FROM pg_attribute a"
        " WHERE a.attrelid = 'vib.waveform'::regclass AND a.attname = 'samples'"
    ).fetchone()
    assert row == ("real[]", "l")  # float4 array, lz4-compressed TOAST


def test_every_reference_enterprise_is_loaded(conn: psycopg.Connection) -> None:
    expected = {e.name: e for e in read_csv(REPO / "sql/data/r1_enterprises.csv")}
    loaded = {
        name: (city, level, batch, list(deps))
        for name, city, level, batch, deps in conn.execute(
            "SELECT e.name, r.name, r.level, e.batch, e.deployments FROM registry.enterprise e"
            " JOIN registry.region r ON r.id = e.region_id WHERE e.is_reference"
        ).fetchall()
    }
    # A city emergency bureau appears in annex 4; it is a regulator, not an enterprise.
    assert set(expected) - set(loaded) == {"晋中市应急局"}
    assert len(loaded) == 196
    for name, (city, level, batch, deps) in loaded.items():
        ref = expected[name]
        assert batch == ref.batch and deps == list(ref.deployments), name
        if ref.city:
            assert (city, level) == (ref.city, "city"), name
        else:
            assert (city, level) == ("山西省", "province"), name
    assert loaded["太原钢铁（集团）比欧西气体有限公司"][:2] == ("太原市", "city")


def test_regions_form_the_hierarchy(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT c.name, c.code FROM registry.region c JOIN registry.region p"
        " ON p.id = c.parent_id WHERE p.code = '140000' ORDER BY c.code"
    ).fetchall()
    assert len(rows) == 11 and rows[0] == ("太原市", "140100") and rows[-1] == ("吕梁市", "141100")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO registry.region (code, name, level) VALUES ('149999', 'x', 'city')"
        )


def test_shifts_of_one_enterprise_cannot_overlap(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        ent = conn.execute("SELECT min(id) FROM registry.enterprise").fetchone()[0]
        team = conn.execute(
            "INSERT INTO registry.shift_team (enterprise_id, name) VALUES (%s, '一班')"
            " RETURNING id",
            (ent,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO registry.shift (enterprise_id, shift_team_id, during)"
            " VALUES (%s, %s, '[2026-01-01 08:00Z, 2026-01-01 16:00Z)')",
            (ent, team),
        )
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute(
                "INSERT INTO registry.shift (enterprise_id, shift_team_id, during)"
                " VALUES (%s, %s, '[2026-01-01 15:00Z, 2026-01-01 23:00Z)')",
                (ent, team),
            )


def test_pump_scope_only_on_pumps(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        ent = conn.execute("SELECT min(id) FROM registry.enterprise").fetchone()[0]
        unit = conn.execute(
            "INSERT INTO registry.unit (enterprise_id, code, name) VALUES (%s, 'U1', '常减压')"
            " RETURNING id",
            (ent,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO registry.equipment (unit_id, code, name, kind, pump_scope)"
            " VALUES (%s, 'P-101A', '原油泵', 'pump', '{autoignition_or_260c}')",
            (unit,),
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO registry.equipment (unit_id, code, name, kind, pump_scope)"
                " VALUES (%s, 'V-1', '罐', 'vessel', '{acute_toxicity_1_2}')",
                (unit,),
            )
