"""The Tennessee Eastman model from tep-studio under the demo plant's alarm system."""

from __future__ import annotations

import pytest

from ingest.simulator.plant import CHATTERING, STANDING, AlarmEngine, demo_points
from ingest.simulator.tep import (
    DEFAULT_PERIOD_S,
    DEFAULT_SCHEDULE,
    TepPlant,
    Upset,
    active_disturbances,
    disturbances,
    variables,
)


def test_variables_and_disturbances_from_the_model() -> None:
    tags = variables()
    assert len(tags) == 53
    assert tags[0].tag == "TEP-XMEAS01" and tags[40].tag == "TEP-XMEAS41"
    assert tags[41].tag == "TEP-XMV01" and tags[-1].tag == "TEP-XMV12"
    by_tag = {v.tag: v for v in tags}
    assert by_tag["TEP-XMEAS07"].description == "Reactor pressure"
    assert by_tag["TEP-XMEAS07"].unit == "kPa gauge"
    assert by_tag["TEP-XMEAS09"].unit == "degC"
    assert all(v.unit == "%" for v in tags if v.kind == "XMV")
    idv = disturbances()
    assert len(idv) == 28 and idv[6] == "A feed loss"


def test_schedule_repeats() -> None:
    assert active_disturbances(DEFAULT_SCHEDULE, 0, DEFAULT_PERIOD_S) == set()
    assert active_disturbances(DEFAULT_SCHEDULE, 6 * 60, DEFAULT_PERIOD_S) == {6}
    assert active_disturbances(DEFAULT_SCHEDULE, DEFAULT_PERIOD_S + 6 * 60, DEFAULT_PERIOD_S) == {6}
    assert active_disturbances([Upset(3, 10, 5)], 16, None) == set()


def test_plant_steps_with_plausible_values() -> None:
    plant = TepPlant(seed=1, schedule=())
    values = plant.step(120)
    assert plant.time_s == 120
    assert len(values) == 53
    # Base case of Downs & Vogel (1993), table 4: reactor at about 2705 kPa, 120.4 degC,
    # 75 % level; A feed 0.25 kscmh; valves within 0-100 %.
    assert 2690 < values["TEP-XMEAS07"] < 2720
    assert 120.0 < values["TEP-XMEAS09"] < 121.0
    assert 65 < values["TEP-XMEAS08"] < 85
    assert 0.2 < values["TEP-XMEAS01"] < 0.3
    assert all(0 <= values[f"TEP-XMV{i:02d}"] <= 100 for i in range(1, 13))
    assert plant.trips == 0


def test_same_seed_same_values() -> None:
    assert TepPlant(seed=3, schedule=()).step(30) == TepPlant(seed=3, schedule=()).step(30)


def test_a_disturbance_changes_the_dynamics() -> None:
    quiet = TepPlant(seed=1, schedule=())
    upset = TepPlant(seed=1, schedule=())
    upset.set_disturbance(6, True)  # A feed loss
    assert upset.active == {6}
    q, u = quiet.step(300), upset.step(300)
    assert q["TEP-XMEAS01"] > 0.2  # A feed flowing
    assert u["TEP-XMEAS01"] < 0.05  # lost
    assert u["TEP-XMV03"] > q["TEP-XMV03"] + 10  # the controller opens the A feed valve
    upset.set_disturbance(6, None)
    assert upset.step(1) and upset.active == frozenset()
    with pytest.raises(ValueError):
        upset.set_disturbance(29, True)


def test_normal_operation_is_quiet_but_for_the_planted_alarms() -> None:
    plant, engine = TepPlant(seed=1, schedule=()), AlarmEngine(demo_points())
    raised = []
    for t in range(1200):  # 20 minutes
        raised += [tr for tr in engine.evaluate(t, plant.step(1)) if tr.kind == "ALM"]
    planted = [tr for tr in raised if tr.key in (CHATTERING, STANDING)]
    assert sum(tr.key == STANDING for tr in raised) == 1  # raised once, never returns
    assert sum(tr.key == CHATTERING for tr in raised) >= 5  # chattering
    assert len(raised) - len(planted) <= 3


def test_a_disturbance_floods_the_alarm_system() -> None:
    plant, engine = TepPlant(seed=1, schedule=()), AlarmEngine(demo_points())
    for t in range(60):
        engine.evaluate(t, plant.step(1))
    plant.set_disturbance(6, True)
    raised = []
    for t in range(60, 660):  # ten minutes of A feed loss
        raised += [tr for tr in engine.evaluate(t, plant.step(1)) if tr.kind == "ALM"]
    # EEMUA 191 / ISA-18.2: a flood is more than 10 alarms in 10 minutes per operator.
    flood = [tr for tr in raised if tr.key != CHATTERING]
    assert len(flood) > 10
    assert len({tr.tag for tr in flood}) >= 5  # many variables, not one chattering tag
    first = {tr.key: tr.time_s for tr in reversed(flood)}
    # Consequential: the A feed goes low first, its valve opens wide after.
    assert first["TEP-XMEAS01.L"] < first["TEP-XMV03.H"]
