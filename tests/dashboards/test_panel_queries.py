"""Panel queries and saved dashboards against a real TimescaleDB (D1): the range picks the
rollup, rollup answers equal raw aggregation, scopes hold, and every dashboard change is in the
audit log. A database of its own: the rollups are refreshed to a fixed point in the past."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards.auth import Scope, WebUser
from dashboards.components.timerange import TimeRange
from dashboards.components.variables import ViewState
from dashboards.panels import queries, render, source, spec, store
from dashboards.panels.store import StoreError
from hazwatch import registers
from hazwatch.auth import create_user
from hazwatch.db.scratch import migrated_database
from hazwatch.registers import Actor
from hazwatch.rollups import engine
from tests.conftest import make_enterprise

TEST = Actor(None, "test")
END = datetime(2024, 7, 10, tzinfo=UTC)
DAYS = 32
STEP = timedelta(minutes=5)


@pytest.fixture(scope="module")
def pdb(admin_url: str) -> Iterator[str]:
    with migrated_database(admin_url, "hw_panels") as url:
        yield url


@pytest.fixture(scope="module")
def plant(pdb: str) -> dict[str, Any]:
    """Two enterprises; three tags with 5-minute samples over 32 days in the first, one in the
    second; alarm events; rollups refreshed up to ``END``."""
    with psycopg.connect(pdb, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn, "面板企业")
        other, _ = make_enterprise(conn, "别家企业", city="大同市")
        unit = registers.insert(
            conn, TEST, "unit", {"enterprise_id": ent, "code": "U1", "name": "一装置"}
        )
        tags = {
            name: registers.insert(
                conn, TEST, "tag",
                {"enterprise_id": ent, "name": name, "unit_id": unit if name != "FI-3" else None,
                 "eng_unit": "kPa"},
            )
            for name in ("PI-1", "TI-2", "FI-3")
        }  # fmt: skip
        foreign = registers.insert(conn, TEST, "tag", {"enterprise_id": other, "name": "PI-1"})
        start = END - timedelta(days=DAYS)
        with conn.cursor().copy("COPY ts.sample (time, tag_id, value) FROM STDIN") as copy:
            n = int((END - start) / STEP)
            for i in range(n):
                t = start + i * STEP
                for k, tag in enumerate([*tags.values(), foreign]):
                    copy.write_row((t, tag, 100 + 10 * k + 5 * math.sin(i / 50.0) + (i % 7) * 0.1))
        events = [
            (END - timedelta(hours=5), tags["PI-1"], "ALM", "H", "high"),
            (END - timedelta(hours=3), tags["PI-1"], "RTN", "H", None),
            (END - timedelta(hours=2), tags["TI-2"], "ALM", "HH", "emergency"),
        ]
        for t, tag, kind, cond, prio in events:
            conn.execute(
                "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, source)"
                " VALUES (%s, %s, %s, %s, %s, 'test')",
                (t, tag, kind, cond, prio),
            )
        engine.refresh_all(conn, now=END)
    return {"ent": ent, "ent_name": ent_name, "other": other, "unit": unit, "tags": tags,
            "foreign": foreign}  # fmt: skip


@pytest.fixture
def pconn(pdb: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pdb, autocommit=True) as c:
        yield c


def _state(span: timedelta, **vars: Any) -> ViewState:
    return ViewState(TimeRange.absolute(END - span, END)).with_vars(**vars)


def _explain(conn: psycopg.Connection, plan: source.Plan, ids: list[int]) -> str:
    rows = conn.execute(
        b"EXPLAIN " + queries.series_sql(plan).as_bytes(conn),
        (plan.bucket, ids, plan.start, plan.end),
    ).fetchall()
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize(
    ("span", "relation", "marker"),
    [(timedelta(days=30), "ts.sample_1h", "mat__ts__sample_1h"),
     (timedelta(days=1), "ts.sample_1m", "mat__ts__sample_1m"),
     (timedelta(hours=6), "ts.sample", None)],
)  # fmt: skip
def test_the_chosen_rollup_is_read_and_equals_raw(
    plant: dict[str, Any], pconn: psycopg.Connection, span: timedelta, relation: str,
    marker: str | None,
) -> None:  # fmt: skip
    ids = list(plant["tags"].values())
    plan = source.choose(END - span, END)
    assert plan.relation == relation
    text = _explain(pconn, plan, ids)
    if marker:
        assert marker in text  # the materialised rollup, not an aggregation of raw rows
    else:
        assert "mat__" not in text
    got = queries.series(pconn, plan, ids)
    raw = queries.series(pconn, source.choose(END - span, END, force="ts.sample"), ids)
    assert got.keys() == raw.keys()
    for tag in ids:
        assert 0 < len(got[tag]) <= source.MAX_POINTS
        assert [p[0] for p in got[tag]] == [p[0] for p in raw[tag]]
        for a, b in zip(got[tag], raw[tag], strict=True):
            assert a[1] == pytest.approx(b[1], rel=1e-12) and (a[2], a[3]) == (b[2], b[3])


def test_reduced_values_equal_sql_over_the_window(
    plant: dict[str, Any], pconn: psycopg.Connection
) -> None:
    tag = plant["tags"]["TI-2"]
    plan = source.choose(END - timedelta(days=30), END)
    expect = pconn.execute(
        "SELECT avg(value), min(value), max(value) FROM ts.sample"
        " WHERE tag_id = %s AND time >= %s AND time < %s",
        (tag, plan.start, plan.end),
    ).fetchone()
    last = pconn.execute(
        "SELECT value FROM ts.sample WHERE tag_id = %s AND time < %s ORDER BY time DESC LIMIT 1",
        (tag, plan.end),
    ).fetchone()
    assert expect is not None and last is not None
    for how, value in zip(("avg", "min", "max"), expect, strict=True):
        assert queries.reduce_values(pconn, plan, [tag], how)[tag] == pytest.approx(
            value, rel=1e-12
        )
    assert queries.reduce_values(pconn, plan, [tag], "last") == {tag: last[0]}


def test_tags_resolve_within_scope_and_variables(
    plant: dict[str, Any], pconn: psycopg.Connection
) -> None:
    tags, ent = plant["tags"], plant["ent"]
    everyone = Scope(all_enterprises=True)
    state = _state(timedelta(hours=6))
    # A name shared by two enterprises: both for an admin, one once the enterprise is chosen.
    both = queries.resolve_tags(pconn, everyone, ["PI-1"], state)
    assert {t.id for t in both} == {tags["PI-1"], plant["foreign"]}
    one = queries.resolve_tags(pconn, everyone, ["PI-1"], state.with_vars(enterprise=str(ent)))
    assert [t.id for t in one] == [tags["PI-1"]]
    # Out of scope: ids typed into a definition or URL are dropped, not shown.
    mine = Scope(enterprise_id=plant["other"])
    assert queries.resolve_tags(pconn, mine, [tags["PI-1"], "TI-2"], state) == []
    by_var = state.with_vars(tag=[str(tags["FI-3"]), str(tags["TI-2"])])
    assert [t.name for t in queries.resolve_tags(pconn, everyone, ["$tag"], by_var)] == [
        "FI-3", "TI-2"
    ]  # fmt: skip
    assert queries.resolve_tags(pconn, mine, ["$tag"], by_var) == []
    unit_state = state.with_vars(enterprise=str(ent), unit=str(plant["unit"]))
    assert [t.name for t in queries.resolve_tags(pconn, everyone, ["$unit"], unit_state)] == [
        "PI-1", "TI-2"
    ]  # fmt: skip
    options = queries.variable_options(pconn, mine, state)
    assert [i for i, _ in options["enterprise"]] == [plant["other"]]
    assert [i for i, _ in options["tag"]] == [plant["foreign"]]
    assert queries.visible_tag(pconn, mine, tags["PI-1"]) is None
    assert queries.visible_tag(pconn, everyone, tags["PI-1"])["unit"] == "一装置"


def test_alarm_state_queries(plant: dict[str, Any], pconn: psycopg.Connection) -> None:
    tags = plant["tags"]
    ids = [tags["PI-1"], tags["TI-2"]]
    events = queries.alarm_events(pconn, ids, END - timedelta(hours=4), END)
    # The H alarm raised before the window is included, so the window opens in alarm.
    assert [(e[0], e[1], e[3]) for e in events] == [
        (tags["PI-1"], "H", "ALM"), (tags["PI-1"], "H", "RTN"), (tags["TI-2"], "HH", "ALM")
    ]  # fmt: skip


def test_every_panel_type_draws(plant: dict[str, Any], pconn: psycopg.Connection) -> None:
    state = _state(timedelta(days=2), enterprise=str(plant["ent"]))
    for ptype in spec.PANEL_TYPES:
        panel = spec.validate_panel(
            {"type": ptype, "title": ptype, "tags": ["PI-1", "TI-2"],
             "thresholds": [{"value": 105, "color": "orange"}]}, "p", [],
        )  # fmt: skip
        out = render.draw_panel(pconn, Scope(all_enterprises=True), panel, state, END)
        text = json.dumps([c.to_plotly_json() for c in out], default=str)
        assert "PI-1" in text, ptype
    fig, plan = render.timeseries_panel(
        pconn, Scope(all_enterprises=True),
        {"id": "x", "type": "timeseries", "tags": ["PI-1"], "thresholds": []},
        _state(timedelta(days=30), enterprise=str(plant["ent"])), END,
    )  # fmt: skip
    assert plan.relation == "ts.sample_1h" and 0 < len(fig["data"][-1]["x"]) <= 1000


# -- saved dashboards -------------------------------------------------------------------------


def _user(conn: psycopg.Connection, role: str, **scope: str) -> WebUser:
    import uuid

    name = f"{role}-{uuid.uuid4().hex[:6]}"
    uid = create_user(conn, TEST, name=name, role=role, password="correct-horse-9", **scope)
    row = conn.execute(
        "SELECT enterprise_id, region_id FROM auth.app_user WHERE id = %s", (uid,)
    ).fetchone()
    assert row is not None
    return WebUser(uid, name, None, role, row[0], row[1], "")


def test_dashboard_lifecycle_is_scoped_versioned_and_audited(
    plant: dict[str, Any], pconn: psycopg.Connection
) -> None:
    alice = _user(pconn, "engineer")
    bob = _user(pconn, "operator")
    reg = _user(pconn, "regulator", region="大同市")
    definition = spec.validate({"panels": [{"type": "stat", "title": "压力", "tags": ["PI-1"]}]})
    uid = store.create(pconn, alice, "我的看板", definition)
    assert store.get(pconn, bob, uid) is None  # private
    board = store.get(pconn, alice, uid)
    assert board is not None and board.version == 1 and board.definition == definition
    v2 = store.save(pconn, alice, uid, 1, title="共享看板", shared=True,
                    enterprise_id=plant["ent"], definition=definition)  # fmt: skip
    assert v2 == 2
    assert [b.uid for b in store.visible(pconn, bob, "共享")] == [uid]
    assert store.get(pconn, reg, uid) is None  # another city's enterprise
    with pytest.raises(StoreError, match="saved by someone else"):
        store.save(pconn, alice, uid, 1, title="旧", shared=True, enterprise_id=None,
                   definition=definition)  # fmt: skip
    with pytest.raises(StoreError, match="only the owner"):
        store.save(pconn, bob, uid, 2, title="x", shared=True, enterprise_id=None,
                   definition=definition)  # fmt: skip
    with pytest.raises(StoreError, match="read-only"):
        store.create(pconn, reg, "监管看板")
    copy = store.duplicate(pconn, bob, uid)
    copied = store.get(pconn, bob, copy)
    assert copied is not None and copied.owner_id == bob.id and not copied.shared
    text = json.dumps(store.export_document(copied), ensure_ascii=False)
    imported = store.import_document(pconn, bob, text)
    assert imported != copy  # the uid was taken: a fresh one
    again = store.get(pconn, bob, imported)
    assert again is not None and again.definition == copied.definition
    store.delete(pconn, bob, copy)
    assert store.get(pconn, bob, copy) is None
    log = pconn.execute(
        "SELECT action, actor, reason FROM audit.log WHERE entity = 'ui.dashboard'"
        " AND actor_id IN (%s, %s) ORDER BY id",
        (alice.id, bob.id),
    ).fetchall()
    assert log == [
        ("insert", alice.name, None), ("update", alice.name, None),
        ("insert", bob.name, f"copy of {uid}"), ("insert", bob.name, "import"),
        ("delete", bob.name, None),
    ]  # fmt: skip
