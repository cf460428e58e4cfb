"""The demo plant's process: the Tennessee Eastman process (Downs & Vogel 1993) from tep-studio.

The only module that imports ``tep_studio``. It runs the revised TE model (Bathelt, Ricker &
Jelali 2015, the C code tep-studio compiles at install) under Ricker's (1996) decentralised
PI control, in 1-second control steps of plant time, and switches the 28 disturbances (IDV 1-28)
on and off over time from a schedule. Tags are named after the paper's variable lists:

    TEP-XMEAS01 … TEP-XMEAS41   the 41 measurements (XMEAS), engineering units as in the paper
    TEP-XMV01   … TEP-XMV12     the 12 manipulated variables (XMV, valve positions in %)

    plant = TepPlant(seed=1)
    values = plant.step(60)          # one minute of plant time -> {"TEP-XMEAS01": 0.25, …}
    plant.set_disturbance(6, True)   # A feed loss, until switched off again

The closed loop is open-loop unstable underneath; should a large upset still trip the plant's
shutdown interlocks (reactor pressure > 3000 kPa, …), the plant restarts from the base case
and ``trips`` counts it, so a long-running demo never stops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: One control step of plant time. The model's own integration step is 0.0005 h (1.8 s);
#: tep-studio integrates a shorter interval in one RK4 step of that length, which is stable.
STEP_S = 1.0
N_XMEAS = 41
N_XMV = 12
N_IDV = 28


@dataclass(frozen=True)
class Variable:
    """One tag of the demo plant."""

    tag: str
    description: str
    unit: str
    kind: str  # "XMEAS" or "XMV"
    index: int  # position in the model's measurement or manipulated-variable vector


@dataclass(frozen=True)
class Upset:
    """Disturbance ``idv`` on from ``start_s`` for ``duration_s`` seconds of plant time."""

    idv: int
    start_s: float
    duration_s: float

    def active(self, t: float) -> bool:
        return self.start_s <= t < self.start_s + self.duration_s


#: The demo's two-hour cycle of upsets (plant time), repeated. Each is followed by enough
#: quiet time to recover, so floods, their recovery and normal load all show up:
#: IDV 6 A feed loss (the largest upset: a flood within minutes), IDV 1 A/C feed ratio step,
#: IDV 4 reactor cooling water inlet temperature step, IDV 7 C header pressure loss,
#: IDV 14 reactor cooling water valve sticking.
DEFAULT_SCHEDULE: tuple[Upset, ...] = (
    Upset(6, 5 * 60, 12 * 60),
    Upset(1, 35 * 60, 15 * 60),
    Upset(4, 60 * 60, 10 * 60),
    Upset(7, 80 * 60, 10 * 60),
    Upset(14, 100 * 60, 10 * 60),
)
DEFAULT_PERIOD_S = 2 * 3600.0


def active_disturbances(schedule: Iterable[Upset], t: float, period_s: float | None) -> set[int]:
    """IDV numbers on at plant time ``t`` (seconds), the schedule repeating every period.

    >>> sorted(active_disturbances(DEFAULT_SCHEDULE, 6 * 60, DEFAULT_PERIOD_S))
    [6]
    """
    phase = t % period_s if period_s else t
    return {u.idv for u in schedule if u.active(phase)}


def variables() -> list[Variable]:
    """The 53 tags with their descriptions and units (from tep-studio's schema of the model)."""
    import tep_studio

    out = [
        Variable(f"TEP-XMEAS{i + 1:02d}", desc, unit, "XMEAS", i)
        for i, (_, unit, desc) in enumerate(tep_studio.list_measurements())
    ]
    out += [
        Variable(f"TEP-XMV{i + 1:02d}", desc, unit, "XMV", i)
        for i, (_, unit, desc) in enumerate(tep_studio.list_manipulated_variables())
    ]
    return out


def disturbances() -> dict[int, str]:
    """IDV number -> what it upsets, e.g. {6: "A feed loss", …}."""
    import tep_studio

    return {i + 1: desc for i, (_, desc) in enumerate(tep_studio.list_disturbances())}


class TepPlant:
    """The TE process under decentralised control, stepped in seconds of plant time.

    plant = TepPlant(seed=1, schedule=())     # no scheduled upsets
    plant.set_disturbance(1, True)
    plant.step(600)["TEP-XMEAS01"]            # A feed (kscmh) after 10 minutes of IDV 1
    """

    def __init__(
        self,
        seed: int = 1,
        schedule: Iterable[Upset] = DEFAULT_SCHEDULE,
        period_s: float | None = DEFAULT_PERIOD_S,
    ) -> None:
        from tep_studio import RickerMultiLoopController, TennesseeEastmanProcess

        self._make_sim = TennesseeEastmanProcess
        self._make_ctl = RickerMultiLoopController
        self.seed = seed
        self.schedule = tuple(schedule)
        self.period_s = period_s
        self.variables = variables()
        self.time_s = 0.0
        self.trips = 0
        self.forced: dict[int, bool] = {}
        self._idv = np.zeros(N_IDV)
        self._restart()

    def _restart(self) -> None:
        self._sim = self._make_sim()
        # The model's noise generator takes a float seed; each restart gets its own.
        self._meas, _ = self._sim.reset(seed=float(self.seed + self.trips))
        self._ctl = self._make_ctl()
        self._ctl.reset(self._meas, time=self._sim.time)
        self._mv = np.array(self._sim.state[38:50])

    @property
    def active(self) -> frozenset[int]:
        """IDVs on now (schedule and manual switches together)."""
        on = active_disturbances(self.schedule, self.time_s, self.period_s)
        for idv, forced in self.forced.items():
            (on.add if forced else on.discard)(idv)
        return frozenset(on)

    def set_disturbance(self, idv: int, on: bool | None) -> None:
        """Force IDV ``idv`` on or off regardless of the schedule; None returns it to it."""
        if not 1 <= idv <= N_IDV:
            raise ValueError(f"IDV must be 1..{N_IDV}, not {idv}")
        if on is None:
            self.forced.pop(idv, None)
        else:
            self.forced[idv] = on

    def _update_idv(self) -> None:
        self._idv[:] = 0.0
        for idv in self.active:
            self._idv[idv - 1] = 1.0

    def step(self, seconds: float = STEP_S) -> dict[str, float]:
        """Advance by ``seconds`` of plant time (whole control steps) and return the values."""
        for _ in range(max(1, round(seconds / STEP_S))):
            self._update_idv()
            action, _ = self._ctl.compute_action(self._meas, time=self._sim.time)
            result = self._sim.advance(
                action, control_interval=STEP_S / 3600.0, disturbances=self._idv
            )
            self.time_s += STEP_S
            self._meas = result.measurements
            self._mv = result.implemented_action
            if result.shutdown_status["terminated"]:
                self.trips += 1
                log.warning(
                    "TE plant tripped at %.0f s (%s); restarting from the base case",
                    self.time_s,
                    result.shutdown_status["message"],
                )
                self._restart()
        return self.values()

    def values(self) -> dict[str, float]:
        """Current value of every tag."""
        out: dict[str, float] = {}
        for v in self.variables:
            vec = self._meas if v.kind == "XMEAS" else self._mv
            out[v.tag] = float(vec[v.index])
        return out
