"""What every recognition type shares: its parameters, its zones and what it reports per frame.

    algo = make("intrusion", zones=[zone], params={"raise_after_s": 1})
    for finding in algo.evaluate(ctx):          # one Finding per zone, every analysed frame
        finding.holds, finding.boxes

A detector only says whether its condition holds now; when that becomes an alarm is decided by
``video.alarm_state`` with the timing from ``algo.timing()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from hazwatch.errors import HazwatchError
from video.alarm_state import Timing
from video.detectors.tracking import Track, Tracker
from video.frame_context import FrameContext
from video.inference import Box, Detection
from video.zones import Zone, persons_in_zone, whole_frame


class Params(BaseModel):
    """Alarm timing every type has; subclasses add their thresholds (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raise_after_s: float = 2.0
    clear_after_s: float = 5.0
    cooldown_s: float = 0.0
    gap_s: float = 1.0


@dataclass(frozen=True)
class Finding:
    zone: str
    holds: bool
    boxes: tuple[Box, ...] = ()
    score: float = 0.0
    detail: str = ""


class Algorithm(ABC):
    type: ClassVar[str]
    #: "low" marks types whose method is known to be weak (smoking): say so with each alarm.
    confidence: ClassVar[Literal["normal", "low"]] = "normal"
    #: Which shared results the type uses: "objects", "pose", "motion", "pixels".
    needs: ClassVar[frozenset[str]] = frozenset()
    Params: ClassVar[type[Params]] = Params

    def __init__(self, zones: list[Zone] | None = None, params: dict[str, Any] | None = None):
        self.zones = list(zones or [])
        try:
            self.params = self.Params(**(params or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise HazwatchError(f"{self.type} parameters: {problems}") from None

    def timing(self) -> Timing:
        p = self.params
        return Timing(p.raise_after_s, p.clear_after_s, p.cooldown_s, p.gap_s)

    def zones_for(self, ctx: FrameContext) -> list[Zone]:
        if not self.zones:
            h, w = ctx.image.shape[:2]
            self.zones = [whole_frame(w, h)]
        return self.zones

    def zone_findings(
        self,
        ctx: FrameContext,
        hits: Iterable[Detection],
        detail: Callable[[list[Detection]], str],
    ) -> list[Finding]:
        """One Finding per zone: it holds when any of ``hits`` stands in the zone.

        return self.zone_findings(ctx, asleep, lambda inside: f"{len(inside)} asleep")
        """
        hits = list(hits)
        out = []
        for zone in self.zones_for(ctx):
            inside = persons_in_zone(zone, hits)
            out.append(
                Finding(
                    zone.name,
                    bool(inside),
                    tuple(d.box for d in inside),
                    max((d.score for d in inside), default=0.0),
                    detail(inside),
                )
            )
        return out

    @abstractmethod
    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        """One Finding per zone for this frame."""


class TrackedPoseAlgorithm(Algorithm):
    """A pose type that follows each person across frames (sleeping, smoking)."""

    needs: ClassVar[frozenset[str]] = frozenset({"pose"})

    def __init__(self, zones: list[Zone] | None = None, params: dict[str, Any] | None = None):
        super().__init__(zones, params)
        self.tracker = Tracker(min_iou=0.3, forget_s=10.0)

    def tracked_poses(self, ctx: FrameContext) -> list[tuple[Detection, np.ndarray, Track]]:
        """(person, keypoints, track) for each pose in this frame.

        for det, kp, track in self.tracked_poses(ctx):
            track.memory["kp"] = kp
        """
        out = []
        for det, track in self.tracker.update(ctx.frame.time, ctx.poses()):
            assert det.keypoints is not None
            out.append((det, det.keypoints, track))
        return out
