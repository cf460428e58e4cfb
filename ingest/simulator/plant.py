"""The demo plant's alarm system and operator: pure logic, no I/O, deterministic by seed.

An alarm-master-database-like list of ``AlarmPoint`` (tag, condition, limit, priority,
category, deadband, on/off delays; the columns of registry.alarm_point) is evaluated against
the process values each step, and ALM/RTN transitions come out the way a DCS raises them:

- H/HH alarm when the value goes above the limit, L/LL below it;
- it returns (RTN) only once the value is back past the limit by the deadband, so a noisy value
  near the limit does not chatter unless the deadband is zero;
- the on-delay: the limit must be exceeded for that long before the alarm is raised; the
  off-delay: the value must be back for that long before it returns.

``Operator`` acknowledges most alarms after a random delay (some after more than 30 s, a few
never), so the record has ACK events with realistic response times.

    engine = AlarmEngine(demo_points())
    operator = Operator(seed=1)
    for t in range(600):
        values = plant.step(1)                        # e.g. ingest.simulator.tep.TepPlant
        raised = engine.evaluate(t, values)           # [Transition(t, "TEP-XMEAS07", "H", …)]
        operator.observe(raised)
        acks = operator.due(t)                        # [Transition(…, kind="ACK")]

``demo_points()`` is the alarm master database of the demo (Tennessee Eastman) plant. Its limits
come from the plant's normal operation (mean and spread over three hours of plant time) so that
normal operation is quiet, except for what is built in on purpose so the alarm analytics have
something to find:

- a chattering alarm: TEP-XMEAS02 (D feed) H close to the noisy normal value, deadband 0;
- a standing alarm: TEP-XMEAS09 (reactor temperature) L set above the normal value;
- floods: the disturbances of the demo schedule push many variables past their limits within
  minutes (A feed loss, IDV 6, raises more than ten alarms in ten minutes);
- consequential alarms: an alarm whose cause is another alarm (``CONSEQUENCES``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HIGH = ("H", "HH")
LOW = ("L", "LL")


@dataclass(frozen=True)
class AlarmPoint:
    """One row of the alarm master database (registry.alarm_point)."""

    tag: str
    condition: str  # HH, H, L, LL
    limit: float
    priority: str = "low"  # emergency, high, low, journal
    category: str = "process"  # process, equipment, instrument, safety
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.condition not in HIGH + LOW:
            raise ValueError(f"{self.tag}: condition must be one of HH, H, L, LL")
        if self.deadband < 0 or self.on_delay_s < 0 or self.off_delay_s < 0:
            raise ValueError(f"{self.tag}.{self.condition}: deadband and delays must be >= 0")

    @property
    def key(self) -> str:
        """``TAG.COND``, how the demo names a condition (and its OPC UA condition node)."""
        return f"{self.tag}.{self.condition}"

    def exceeded(self, value: float) -> bool:
        return value > self.limit if self.condition in HIGH else value < self.limit

    def cleared(self, value: float) -> bool:
        """Back inside the limit by at least the deadband."""
        if self.condition in HIGH:
            return value < self.limit - self.deadband
        return value > self.limit + self.deadband


@dataclass(frozen=True)
class Transition:
    """An alarm state change: ALM, RTN (from ``AlarmEngine``) or ACK (from ``Operator``)."""

    time_s: float
    tag: str
    condition: str
    kind: str
    value: float | None
    limit: float
    priority: str
    category: str
    operator: str | None = None

    @property
    def key(self) -> str:
        return f"{self.tag}.{self.condition}"


@dataclass
class _PointState:
    active: bool = False
    since: float | None = None  # when the pending on/off condition began


class AlarmEngine:
    """Evaluates alarm points against values, step by step; keeps each point's state.

    engine = AlarmEngine([AlarmPoint("TI-1", "H", 80.0, deadband=1.0, on_delay_s=5)])
    engine.evaluate(0.0, {"TI-1": 81.0})   # [] (on-delay running)
    engine.evaluate(5.0, {"TI-1": 81.0})   # [Transition(5.0, "TI-1", "H", "ALM", 81.0, 80.0, …)]
    """

    def __init__(self, points: Iterable[AlarmPoint]) -> None:
        self.points = list(points)
        keys = [p.key for p in self.points]
        if len(set(keys)) != len(keys):
            raise ValueError("an alarm point is listed twice (same tag and condition)")
        self._state = {p.key: _PointState() for p in self.points}

    def active(self) -> set[str]:
        """Keys (``TAG.COND``) of the alarms active now."""
        return {k for k, s in self._state.items() if s.active}

    def evaluate(self, t: float, values: Mapping[str, float]) -> list[Transition]:
        """Transitions at time ``t`` (seconds) for these values; tags not given are skipped."""
        out: list[Transition] = []
        for p in self.points:
            value = values.get(p.tag)
            if value is None or math.isnan(value):
                continue
            st = self._state[p.key]
            # While inactive we wait for "exceeded" to hold on_delay_s; while active, for
            # "cleared" to hold off_delay_s. Anything else restarts the wait.
            pending = p.cleared(value) if st.active else p.exceeded(value)
            if not pending:
                st.since = None
                continue
            if st.since is None:
                st.since = t
            if t - st.since < (p.off_delay_s if st.active else p.on_delay_s):
                continue
            st.active = not st.active
            st.since = None
            kind = "ALM" if st.active else "RTN"
            out.append(
                Transition(t, p.tag, p.condition, kind, value, p.limit, p.priority, p.category)
            )
        return out


class Operator:
    """A console operator who acknowledges most alarms after a random delay.

    ``ack_share`` of alarms are acknowledged; of those, ``slow_share`` after 30-180 s (busy, a
    flood, a shift handover), the rest after 3-30 s. Deterministic for a seed.

    operator = Operator(seed=1)
    operator.observe(engine.evaluate(t, values))
    operator.due(t)          # ACK transitions whose time has come
    """

    def __init__(
        self,
        seed: int = 1,
        *,
        ack_share: float = 0.9,
        slow_share: float = 0.2,
        name: str = "operator",
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 -- a reproducible simulation, not secrets
        self.ack_share = ack_share
        self.slow_share = slow_share
        self.name = name
        self._pending: dict[str, tuple[float, Transition]] = {}

    def observe(self, transitions: Iterable[Transition]) -> None:
        """Note newly raised alarms; an unacknowledged one raised again keeps its due time."""
        for tr in transitions:
            if tr.kind != "ALM" or tr.key in self._pending:
                continue
            if self.rng.random() >= self.ack_share:
                continue  # this one is left unacknowledged
            if self.rng.random() < self.slow_share:
                delay = self.rng.uniform(31.0, 180.0)
            else:
                delay = self.rng.uniform(3.0, 30.0)
            self._pending[tr.key] = (tr.time_s + delay, tr)

    def due(self, t: float) -> list[Transition]:
        """ACK transitions due by time ``t``, oldest first."""
        ready = sorted((due, key) for key, (due, _) in self._pending.items() if due <= t)
        out = []
        for due, key in ready:
            _, alm = self._pending.pop(key)
            out.append(
                Transition(
                    due,
                    alm.tag,
                    alm.condition,
                    "ACK",
                    None,
                    alm.limit,
                    alm.priority,
                    alm.category,
                    operator=self.name,
                )
            )
        return out


#: Normal operation of the demo plant under its base-case control (seed 1, three hours of plant
#: time after 30 minutes of settling): tag -> (mean, alarm band, standard deviation). The band
#: is max(5 standard deviations, 1.5 x largest excursion, 0.5 % of the mean, 0.05), so the H/L
#: limits at mean ± band stay quiet in normal operation; HH/LL sit at mean ± 2 bands.
NOMINAL: dict[str, tuple[float, float, float]] = {
    "TEP-XMEAS01": (0.2551, 0.05, 0.005145),
    "TEP-XMEAS02": (3660.0, 117.4, 18.11),
    "TEP-XMEAS03": (4433.0, 131.5, 22.06),
    "TEP-XMEAS04": (9.33, 0.2947, 0.05195),
    "TEP-XMEAS05": (27.11, 1.11, 0.2089),
    "TEP-XMEAS06": (42.45, 1.131, 0.2133),
    "TEP-XMEAS07": (2706.0, 13.53, 0.7675),
    "TEP-XMEAS08": (74.54, 2.888, 0.5133),
    "TEP-XMEAS09": (120.4, 0.602, 0.01081),
    "TEP-XMEAS10": (0.3803, 0.08291, 0.01658),
    "TEP-XMEAS11": (81.04, 1.794, 0.3588),
    "TEP-XMEAS12": (47.74, 7.682, 1.536),
    "TEP-XMEAS13": (2635.0, 13.17, 0.7085),
    "TEP-XMEAS14": (24.89, 1.119, 0.2032),
    "TEP-XMEAS15": (48.82, 10.35, 2.069),
    "TEP-XMEAS16": (3102.0, 15.51, 0.8692),
    "TEP-XMEAS17": (22.94, 0.6511, 0.1169),
    "TEP-XMEAS18": (66.5, 1.533, 0.3067),
    "TEP-XMEAS19": (225.1, 12.11, 2.389),
    "TEP-XMEAS20": (343.6, 4.064, 0.8127),
    "TEP-XMEAS21": (94.63, 0.4732, 0.01996),
    "TEP-XMEAS22": (78.75, 2.421, 0.4843),
    "TEP-XMEAS23": (32.35, 1.39, 0.278),
    "TEP-XMEAS24": (8.859, 0.5737, 0.1147),
    "TEP-XMEAS25": (26.69, 1.064, 0.2128),
    "TEP-XMEAS26": (6.84, 0.4637, 0.09275),
    "TEP-XMEAS27": (18.24, 1.794, 0.3587),
    "TEP-XMEAS28": (1.664, 0.1237, 0.02475),
    "TEP-XMEAS29": (33.22, 1.364, 0.2728),
    "TEP-XMEAS30": (13.67, 0.7092, 0.1418),
    "TEP-XMEAS31": (24.23, 1.303, 0.2605),
    "TEP-XMEAS32": (1.199, 0.5273, 0.1055),
    "TEP-XMEAS33": (18.07, 1.822, 0.3645),
    "TEP-XMEAS34": (2.265, 0.1216, 0.02431),
    "TEP-XMEAS35": (5.024, 0.4009, 0.08019),
    "TEP-XMEAS36": (2.359, 0.3034, 0.06069),
    "TEP-XMEAS37": (0.01501, 0.05, 0.007738),
    "TEP-XMEAS38": (0.7867, 0.1608, 0.03215),
    "TEP-XMEAS39": (0.0977, 0.05664, 0.01133),
    "TEP-XMEAS40": (54.04, 2.899, 0.5797),
    "TEP-XMEAS41": (44.01, 2.409, 0.4818),
    "TEP-XMV01": (62.99, 0.315, 0.04568),
    "TEP-XMV02": (53.07, 0.2653, 0.03931),
    "TEP-XMV03": (25.09, 2.464, 0.4928),
    "TEP-XMV04": (61.19, 0.4524, 0.09047),
    "TEP-XMV06": (45.04, 9.549, 1.91),
    "TEP-XMV07": (37.67, 1.218, 0.2437),
    "TEP-XMV08": (46.45, 0.4064, 0.08128),
    "TEP-XMV10": (41.03, 0.6323, 0.09325),
    "TEP-XMV11": (17.02, 8.444, 1.644),
}
# XMV05 (compressor recycle valve), XMV09 (stripper steam valve) and XMV12 (agitator) are held
# constant by the base-case control: no alarms on them.

#: Tags with HH/LL as well as H/L: feeds, reactor, separator, stripper, compressor.
_KEY_TAGS = {
    "TEP-XMEAS01", "TEP-XMEAS02", "TEP-XMEAS03", "TEP-XMEAS04", "TEP-XMEAS07", "TEP-XMEAS08",
    "TEP-XMEAS09", "TEP-XMEAS11", "TEP-XMEAS12", "TEP-XMEAS15", "TEP-XMEAS20", "TEP-XMEAS21",
}  # fmt: skip
#: Reactor pressure and temperature run into the shutdown interlocks (3000 kPa, 175 degC).
_SAFETY_TAGS = {"TEP-XMEAS07", "TEP-XMEAS09"}
#: Levels are sloshy: a short excursion is not worth an alarm.
_LEVEL_TAGS = {"TEP-XMEAS08", "TEP-XMEAS12", "TEP-XMEAS15"}

CHATTERING = "TEP-XMEAS02.H"
STANDING = "TEP-XMEAS09.L"

#: Known cause -> consequence pairs among the demo's alarms (registry.alarm_relation), as the
#: disturbances of the demo schedule show them.
CONSEQUENCES: tuple[tuple[str, str], ...] = (
    ("TEP-XMEAS01.L", "TEP-XMV03.H"),  # A feed lost: its valve opens wide (IDV 6)
    ("TEP-XMEAS04.L", "TEP-XMV04.H"),  # C feed lost: its valve opens wide (IDV 7)
    ("TEP-XMEAS04.L", "TEP-XMEAS07.L"),  # less feed, lower reactor pressure
    ("TEP-XMEAS07.L", "TEP-XMEAS13.L"),  # the separator follows the reactor
    ("TEP-XMEAS07.L", "TEP-XMEAS16.L"),  # and the stripper too
    ("TEP-XMEAS21.H", "TEP-XMV10.H"),  # hot coolant: the cooling water valve opens (IDV 4)
)


def _category(tag: str) -> str:
    if tag.startswith("TEP-XMV"):
        return "equipment"
    number = int(tag.removeprefix("TEP-XMEAS"))
    return "instrument" if number >= 23 else "process"  # 23-41: on-line analysers


def demo_points() -> list[AlarmPoint]:
    """The demo plant's alarm master database (about 110 points)."""
    points: list[AlarmPoint] = []
    for tag, (mean, band, std) in NOMINAL.items():
        category = _category(tag)
        deadband = round(max(std, band * 0.1), 6)
        on_delay = 5.0 if tag in _LEVEL_TAGS else 0.0
        off_delay = 5.0 if tag in _LEVEL_TAGS else 0.0
        analyser = category == "instrument"
        for cond, limit in (("H", mean + band), ("L", mean - band)):
            points.append(
                AlarmPoint(
                    tag,
                    cond,
                    round(limit, 6),
                    "journal" if analyser and cond == "L" else "low",
                    category,
                    deadband,
                    on_delay,
                    off_delay,
                )
            )
        if tag in _KEY_TAGS:
            for cond, limit in (("HH", mean + 2 * band), ("LL", mean - 2 * band)):
                safety = tag in _SAFETY_TAGS and cond == "HH"
                points.append(
                    AlarmPoint(
                        tag,
                        cond,
                        round(limit, 6),
                        "emergency" if safety else "high",
                        "safety" if safety else category,
                        deadband,
                        on_delay,
                        off_delay,
                    )
                )
    by_key = {p.key: p for p in points}
    # Chattering: D feed is white-noise dominated; a limit 2.2 standard deviations above its
    # mean with no deadband is crossed back and forth about once a minute.
    mean, _, std = NOMINAL["TEP-XMEAS02"]
    by_key[CHATTERING] = AlarmPoint("TEP-XMEAS02", "H", round(mean + 2.2 * std, 1), "low")
    # Standing: a low limit set above the normal reactor temperature (a setting error that
    # keeps the alarm in for good).
    by_key[STANDING] = AlarmPoint("TEP-XMEAS09", "L", 120.5, "low", deadband=0.05)
    return list(by_key.values())
