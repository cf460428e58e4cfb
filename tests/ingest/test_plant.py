"""The demo plant's alarm logic and operator, on made-up values (pure, no process model)."""

from __future__ import annotations

import random

import pytest

from ingest.simulator.plant import (
    CHATTERING,
    CONSEQUENCES,
    NOMINAL,
    STANDING,
    AlarmEngine,
    AlarmPoint,
    Operator,
    Transition,
    demo_points,
)


def run(engine: AlarmEngine, values: list[float], tag: str = "TI-1") -> list[Transition]:
    out: list[Transition] = []
    for t, v in enumerate(values):
        out += engine.evaluate(float(t), {tag: v})
    return out


def kinds(trs: list[Transition]) -> list[tuple[float, str]]:
    return [(tr.time_s, tr.kind) for tr in trs]


def test_high_alarm_raises_and_returns() -> None:
    engine = AlarmEngine([AlarmPoint("TI-1", "H", 80.0, "high", "process")])
    trs = run(engine, [79, 80, 81, 82, 79, 78])
    assert kinds(trs) == [(2.0, "ALM"), (4.0, "RTN")]
    alm = trs[0]
    assert (alm.tag, alm.condition, alm.value, alm.limit) == ("TI-1", "H", 81, 80.0)
    assert (alm.priority, alm.category, alm.key) == ("high", "process", "TI-1.H")


def test_low_alarm_mirrors_high() -> None:
    engine = AlarmEngine([AlarmPoint("TI-1", "LL", 10.0)])
    assert kinds(run(engine, [11, 9, 9, 12])) == [(1.0, "ALM"), (3.0, "RTN")]


def test_deadband_stops_chattering() -> None:
    rng = random.Random(7)
    noisy = [80.0 + rng.gauss(0, 0.5) for _ in range(600)]  # ten minutes around the limit
    without = run(AlarmEngine([AlarmPoint("TI-1", "H", 80.0)]), noisy)
    with_deadband = run(AlarmEngine([AlarmPoint("TI-1", "H", 80.0, deadband=2.0)]), noisy)
    assert sum(tr.kind == "ALM" for tr in without) > 100  # chattering: A11 would flag it
    assert sum(tr.kind == "ALM" for tr in with_deadband) == 1  # raised once, stays in
    assert with_deadband[0].kind == "ALM"


def test_deadband_returns_only_past_the_band() -> None:
    engine = AlarmEngine([AlarmPoint("TI-1", "H", 80.0, deadband=2.0)])
    assert kinds(run(engine, [81, 79, 78.5, 77.9])) == [(0.0, "ALM"), (3.0, "RTN")]


def test_on_delay_suppresses_a_short_excursion() -> None:
    point = AlarmPoint("TI-1", "H", 80.0, on_delay_s=5)
    short = [79] + [85] * 4 + [79] * 5  # 4 s above the limit
    assert run(AlarmEngine([point]), short) == []
    long = [79] + [85] * 8 + [79] * 3  # 8 s above: raised once 5 s have passed
    assert kinds(run(AlarmEngine([point]), long)) == [(6.0, "ALM"), (9.0, "RTN")]


def test_off_delay_holds_the_alarm_through_a_short_return() -> None:
    point = AlarmPoint("TI-1", "H", 80.0, off_delay_s=3)
    values = [85, 79, 79, 85, 79, 79, 79, 79]
    assert kinds(run(AlarmEngine([point]), values)) == [(0.0, "ALM"), (7.0, "RTN")]


def test_missing_and_nan_values_change_nothing() -> None:
    engine = AlarmEngine([AlarmPoint("TI-1", "H", 80.0)])
    assert engine.evaluate(0, {"TI-1": float("nan")}) == []
    assert engine.evaluate(1, {"OTHER": 99.0}) == []
    assert engine.evaluate(2, {"TI-1": 81.0})[0].kind == "ALM"
    assert engine.active() == {"TI-1.H"}


def test_bad_points_are_refused() -> None:
    with pytest.raises(ValueError, match="condition"):
        AlarmPoint("TI-1", "ROC", 1.0)
    with pytest.raises(ValueError, match="deadband"):
        AlarmPoint("TI-1", "H", 1.0, deadband=-1)
    with pytest.raises(ValueError, match="twice"):
        AlarmEngine([AlarmPoint("TI-1", "H", 1.0), AlarmPoint("TI-1", "H", 2.0)])


def _alarm(t: float, tag: str) -> Transition:
    return Transition(t, tag, "H", "ALM", 1.0, 0.0, "low", "process")


def test_operator_acknowledges_most_alarms_some_slowly() -> None:
    operator = Operator(seed=3)
    raised = {f"T-{i}": float(i) for i in range(300)}
    operator.observe(_alarm(t, tag) for tag, t in raised.items())
    acks = operator.due(10_000)
    assert all(a.kind == "ACK" and a.operator == "operator" for a in acks)
    delays = [a.time_s - raised[a.tag] for a in acks]
    assert 0.8 * 300 < len(acks) < 300  # most, not all
    assert all(3 <= d <= 180 for d in delays)
    assert 0.1 < sum(d > 30 for d in delays) / len(delays) < 0.35  # some after > 30 s
    assert acks == sorted(acks, key=lambda a: a.time_s)


def test_operator_is_deterministic_and_acks_only_when_due() -> None:
    a, b = Operator(seed=5), Operator(seed=5)
    for op in (a, b):
        op.observe([_alarm(0, "T-1"), _alarm(0, "T-2")])
    assert a.due(2.9) == []
    assert a.due(1000) == b.due(1000)
    assert a.due(2000) == []  # each alarm acknowledged once


def test_an_alarm_raised_again_before_its_ack_keeps_one_pending_ack() -> None:
    op = Operator(seed=1, ack_share=1.0, slow_share=0.0)
    op.observe([_alarm(0, "T-1")])
    op.observe([_alarm(5, "T-1")])
    assert len(op.due(100)) == 1


def test_demo_alarm_database() -> None:
    points = demo_points()
    keys = {p.key for p in points}
    assert len(keys) == len(points) > 100
    assert {CHATTERING, STANDING} <= keys
    by_key = {p.key: p for p in points}
    chatter = by_key[CHATTERING]
    mean, _, std = NOMINAL["TEP-XMEAS02"]
    assert chatter.deadband == 0 and mean < chatter.limit < mean + 3 * std
    standing = by_key[STANDING]
    assert standing.condition == "L" and standing.limit > NOMINAL["TEP-XMEAS09"][0]
    for parent, child in CONSEQUENCES:
        assert parent in keys and child in keys
    assert {p.priority for p in points} == {"emergency", "high", "low", "journal"}
    assert {p.category for p in points} == {"process", "equipment", "instrument", "safety"}
    # EEMUA 191: emergency alarms are few.
    assert sum(p.priority == "emergency" for p in points) / len(points) < 0.05
