"""Smoking (V14), LOW CONFIDENCE: the hand-to-mouth pattern, repeated.

No smoking model exists in any registry reachable here and a cigarette is a few pixels at CCTV
distance, so this type only looks at the gesture: a wrist comes to the mouth, leaves, and comes
back ``min_repeats`` times within ``window_s``. Drinking, eating and wiping the face give the
same pattern; each alarm is marked ``confidence: low`` and needs a person's review.
"""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from pydantic import Field

from video.detectors.base import Algorithm, Finding, Params
from video.detectors.pose_geometry import hand_near
from video.detectors.tracking import Tracker
from video.frame_context import FrameContext
from video.zones import persons_in_zone


class SmokingParams(Params):
    raise_after_s: float = 0.0
    clear_after_s: float = 30.0
    reach: float = Field(0.45, gt=0.0, le=2.0)
    window_s: float = Field(60.0, gt=0.0)
    min_repeats: int = Field(2, ge=1)


def count_raises(history: list[tuple[float, bool]], now: float, window_s: float) -> int:
    """How often the hand arrived at the mouth (False→True) within the window.

    >>> count_raises([(0, False), (1, True), (2, False), (3, True)], 3, 60)
    2
    """
    recent = [(t, at) for t, at in history if now - t <= window_s]
    arrivals = sum(1 for (_, a), (_, b) in pairwise(recent) if b and not a)
    return arrivals + (1 if recent and recent[0][1] else 0)


class Smoking(Algorithm):
    type = "smoking"
    confidence = "low"
    needs = frozenset({"pose"})
    Params: ClassVar[type[Params]] = SmokingParams

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tracker = Tracker(min_iou=0.3, forget_s=10.0)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        t = ctx.frame.time
        smokers = []
        for det, track in self.tracker.update(t, ctx.poses()):
            kp = det.keypoints
            assert kp is not None
            history: list[tuple[float, bool]] = track.memory.setdefault("mouth", [])
            history.append((t, hand_near(kp, det.box, "mouth", p.reach)))
            history[:] = [(s, a) for s, a in history if t - s <= p.window_s]
            if count_raises(history, t, p.window_s) >= p.min_repeats:
                smokers.append(det)
        out = []
        for zone in self.zones_for(ctx):
            inside = persons_in_zone(zone, smokers)
            out.append(
                Finding(
                    zone.name,
                    bool(inside),
                    tuple(d.box for d in inside),
                    max((d.score for d in inside), default=0.0),
                    "hand-to-mouth pattern (low confidence)",
                )
            )
        return out
