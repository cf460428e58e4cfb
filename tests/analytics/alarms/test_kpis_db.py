"""A19 on the real database: a hand-computed log through events, builder, rollups and the CLI;
and the rollup-backed counting KPIs equal the same KPIs computed from the records."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from analytics.alarms.build import build
from analytics.alarms.kpis import (
    counting_from_records,
    counting_from_rollups,
    counting_grouped,
    window_kpis,
)
from analytics.alarms.queries import Filters, load_records
from hazwatch.rollups.catalog import ALARM_ROLLUPS
from hazwatch.rollups.engine import refresh
from tests.analytics.alarms.kpi_fixtures import T0, at, make_plant, write_events
from tests.conftest import run_cli

DAY = timedelta(days=1)
JSON_KEYS = {"alarms", "avg_per_hour", "ack_within_30s_pct", "handled_within_30min_pct",
             "standing_over_24h", "peak_10min", "floods", "chattering_tags"}  # fmt: skip

# Day 1 (T0) and day 2 (T0 + 1 day); team A 00-12 h, B 12-24 h UTC.
HAND_LOG = [
    # unit U1
    ("A-1", "00:00:00", "ALM", "H"), ("A-1", "00:00:29", "ACK", "H"),
    ("A-1", "00:05:00", "RTN", "H"),
    ("A-2", "00:10:00", "ALM", "H"), ("A-2", "00:10:31", "ACK", "H"),
    ("A-2", "00:50:00", "RTN", "H"),
    ("S-1", "01:00:00", "ALM", "HH"), ("S-1", "01:00:10", "ACK", "HH"),
    ("S-1", "26:00:00", "RTN", "HH"),
    ("S-2@S", "02:00:00", "ALM", "L"), ("S-2@S", "02:00:05", "ACK", "L"),
    ("S-2@S", "25:59:00", "RTN", "L"),
    ("X-1", "03:00:00", "ALM", "H"), ("X-1", "03:00:01", "ACK", "H"),
    ("X-1", "03:01:00", "RTN", "H"),
    ("J-1", "04:00:00", "ALM", "H", "journal"), ("J-1", "04:01:00", "RTN", "H"),
    ("O-1", "05:00:00", "ALM", "LL", "emergency", "safety"),
    ("N-1", "06:00:00", "ACK", "H"), ("N-1", "06:00:10", "RTN", "H"),
    # unit U2: a flood of 12 alarms 30 s apart, each acked at +10 s and returned at +20 s
    *[ev for i in range(12) for ev in (
        (f"F-{i}@U2", f"14:{(30 * i) // 60:02d}:{(30 * i) % 60:02d}", "ALM", "H", "low"),
        (f"F-{i}@U2", f"14:{(30 * i + 10) // 60:02d}:{(30 * i + 10) % 60:02d}", "ACK", "H"),
        (f"F-{i}@U2", f"14:{(30 * i + 20) // 60:02d}:{(30 * i + 20) % 60:02d}", "RTN", "H"),
    )],
    # unit U2: a chattering tag, three activations in 50 s, never acknowledged
    ("C-1@U2", "16:00:00", "ALM", "H", "low", "instrument"), ("C-1@U2", "16:00:05", "RTN", "H"),
    ("C-1@U2", "16:00:20", "ALM", "H", "low", "instrument"), ("C-1@U2", "16:00:25", "RTN", "H"),
    ("C-1@U2", "16:00:50", "ALM", "H", "low", "instrument"), ("C-1@U2", "16:00:55", "RTN", "H"),
]  # fmt: skip


def test_hand_computed_kpis_through_the_cli(conn: psycopg.Connection, db_url: str,
                                            tmp_path: Path) -> None:  # fmt: skip
    """Window [T0, T0 + 2 days) = 48 h; KPIs as known now (long after the log).

    Unit U1 (with its section): A-1 ack 29 s, cleared 5 min; A-2 ack 31 s, cleared 40 min;
    S-1 stands 25 h; S-2 (in the section) 23 h 59 min; X-1 excluded (A18); J-1 journal (not
    annunciated); O-1 never returns (stands ever since); N-1 only ACK/RTN (no activation).
    -> alarms 5; ack <= 30 s: A-1, S-1, S-2 = 60 %; handled: A-1 = 20 %; standing over 24 h:
    S-1, O-1 = 2; each alone in its 10 minutes: peak 1; no flood, no chattering.

    Whole enterprise adds U2: 12 flood alarms (acked +10 s, cleared +20 s) and C-1's 3
    activations (never acked) -> 20 alarms; ack 3 + 12 = 15 -> 75 %; handled 1 + 12 = 13 ->
    65 %; standing 2; peak 12 (all 12 in [14:00, 14:10) of U2, team B); 1 flood (14:05:00 to
    14:13:30); 1 chattering tag; 20 / 48 = 0.417 per hour.
    """
    plant = make_plant(conn)
    write_events(conn, plant, HAND_LOG)
    env = {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)}
    built = run_cli("alarms", "build", env=env)
    assert built.returncode == 0 and "written" in built.stdout, built.stderr
    conn.execute("UPDATE alarm.record SET excluded = true WHERE tag_id = %s",
                 (plant.tags["X-1"],))  # fmt: skip
    for rollup in ALARM_ROLLUPS:
        refresh(conn, rollup)
    window = ["--from", T0.isoformat(), "--to", (T0 + 2 * DAY).isoformat()]

    r = run_cli("alarms", "kpi", *window, "--unit", str(plant.unit_id), "--json", env=env)
    assert r.returncode == 0, r.stderr
    u1 = json.loads(r.stdout)
    assert set(u1) >= JSON_KEYS
    assert {k: u1[k] for k in JSON_KEYS} == {
        "alarms": 5, "avg_per_hour": 0.104, "ack_within_30s_pct": 60.0,
        "handled_within_30min_pct": 20.0, "standing_over_24h": 2, "peak_10min": 1,
        "floods": 0, "chattering_tags": 0,
    }  # fmt: skip
    assert u1["source"] == "rollups"
    assert u1["by_priority"] == {"emergency": 1, "high": 4, "low": 0}

    ent = str(plant.enterprise_id)
    r = run_cli("alarms", "kpi", *window, "--enterprise", ent, "--json", env=env)
    assert r.returncode == 0, r.stderr
    whole = json.loads(r.stdout)
    assert {k: whole[k] for k in JSON_KEYS} == {
        "alarms": 20, "avg_per_hour": 0.417, "ack_within_30s_pct": 75.0,
        "handled_within_30min_pct": 65.0, "standing_over_24h": 2, "peak_10min": 12,
        "floods": 1, "chattering_tags": 1,
    }  # fmt: skip
    assert whole["by_type"]["instrument"] == 3

    text = run_cli("alarms", "kpi", *window, "--enterprise", ent, env=env)
    assert text.returncode == 0, text.stderr
    assert "peak in 10 min" in text.stdout and "≤ 10" in text.stdout

    bad = run_cli("alarms", "kpi", "--from", "yesterday", "--to", "2026-03-01", env=env)
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
    bad = run_cli("alarms", "kpi", *window, "--unit", "no-such-unit", env=env)
    assert bad.returncode == 1 and "no unit" in bad.stderr


def _random_log(rng: random.Random, tags: list[str], days: int) -> list[tuple]:
    """Alarms over ``days``: acks within 1-90 s (15 % never), returns mostly within minutes,
    some after about a day, 3 % never (left standing); bursts of quick repeats."""
    events: list[tuple] = []
    for tag in tags:
        t = rng.uniform(0, 3600)
        while t < days * 86400 - 60:
            cond = rng.choice(["H", "L"])
            prio = rng.choice(["emergency", "high", "low", "low", "journal"])
            kind = rng.choice(["process", "equipment", "instrument", "safety"])
            events.append((tag, t, "ALM", cond, prio, kind))
            if rng.random() < 0.85:
                events.append((tag, t + rng.uniform(1, 90), "ACK", cond))
            u = rng.random()
            ret = (
                rng.uniform(5, 600)
                if u < 0.8
                else (rng.uniform(600, 4000) if u < 0.95 else rng.uniform(8e4, 1.1e5))
            )
            if rng.random() > 0.03:  # else left standing (a later ALM of it re-alarms)
                events.append((tag, t + ret, "RTN", cond))
            t += ret + (rng.uniform(1, 20) if rng.random() < 0.2 else rng.expovariate(1 / 600))
    return events


def test_rollup_kpis_equal_record_kpis(conn: psycopg.Connection) -> None:
    """Random log over 3 days, rollups refreshed half-way, then late events and exclusions:
    every counting KPI, for ragged and aligned windows, overall and by unit / shift team /
    department, is the same from the rollups as from the records."""
    rng = random.Random(7)
    plant = make_plant(conn)
    dept = conn.execute(
        "INSERT INTO registry.department (enterprise_id, name) VALUES (%s, 'D1') RETURNING id",
        (plant.enterprise_id,),
    ).fetchone()
    assert dept
    conn.execute("UPDATE registry.unit SET department_id = %s WHERE id = %s",
                 (dept[0], plant.unit_id))  # fmt: skip
    tags = ["T-1", "T-2", "T-3@S", "T-4@U2", "T-5@U2", "T-6", "T-7@U2", "T-8@S"]
    log = _random_log(rng, tags, 3)
    first = [e for e in log if e[1] < 1.5 * 86400]
    write_events(conn, plant, first)
    build(conn, now=T0 + timedelta(days=1.5))
    for rollup in ALARM_ROLLUPS:
        refresh(conn, rollup, now=T0 + timedelta(days=1.4))
    write_events(conn, plant, [e for e in log if e[1] >= 1.5 * 86400])
    build(conn, now=T0 + timedelta(days=4))
    conn.execute(
        "UPDATE alarm.record SET excluded = true WHERE tag_id = %s AND raised < %s",
        (plant.tags["T-2"], T0 + DAY),
    )
    for rollup in ALARM_ROLLUPS:
        refresh(conn, rollup, now=T0 + timedelta(days=2.2))

    now = T0 + timedelta(days=5)
    f = Filters(enterprise_id=plant.enterprise_id)
    windows = [
        (T0, T0 + 3 * DAY),
        (at("00:07:13"), at("53:03:00")),
        (at("11:00:00"), at("13:20:00")),
        (T0 - DAY, T0 + 4 * DAY),
    ]
    total = 0
    for lo, hi in windows:
        recs = load_records(conn, start=lo, end=hi, filters=f)
        unit_dept = {plant.unit_id: dept[0], plant.section_id: None, plant.other_unit_id: None}
        for group in (None, "unit", "shift_team", "department"):
            want = counting_from_records(recs, now, group, unit_dept)
            got = counting_from_rollups(conn, lo, hi, filters=f, group_by=group, now=now)
            assert got == want, (lo, hi, group)
            raw = counting_from_rollups(conn, lo, hi, filters=f, group_by=group, now=now,
                                        levels=())  # fmt: skip
            assert raw == want, (lo, hi, group, "records only")
        groups = (None, "unit", "shift_team", "department")
        together = counting_grouped(conn, lo, hi, groups, filters=f, now=now)
        assert together == {g: counting_from_records(recs, now, g, unit_dept) for g in groups}
        for unit in (plant.unit_id, plant.other_unit_id):
            uf = Filters(enterprise_id=plant.enterprise_id, unit_id=unit)
            urecs = load_records(conn, start=lo, end=hi, filters=uf)
            assert counting_from_rollups(conn, lo, hi, filters=uf, now=now) == (
                counting_from_records(urecs, now) or {}
            )
        total += len(recs)
    assert total > 300  # the log is not trivially small
    k = window_kpis(conn, T0, T0 + 3 * DAY, filters=f, now=now)
    assert k.source == "rollups" and k.counting.alarms > 100
    tag_only = window_kpis(
        conn,
        T0,
        T0 + 3 * DAY,
        now=now,
        filters=Filters(plant.enterprise_id, tag_id=plant.tags["T-1"]),
    )
    assert tag_only.source == "records"  # fmt: skip
    with pytest.raises(ValueError, match="after"):
        window_kpis(conn, T0, T0, filters=f)
