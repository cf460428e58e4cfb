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

from video.detectors.base import Finding, Params, TrackedPoseAlgorithm
from video.detectors.pose_geometry import hand_near
from video.frame_context import FrameContext


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


class Smoking(TrackedPoseAlgorithm):
    type = "smoking"
    confidence = "low"
    Params: ClassVar[type[Params]] = SmokingParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        t = ctx.frame.time
        smokers = []
        for det, kp, track in self.tracked_poses(ctx):
            history: list[tuple[float, bool]] = track.memory.setdefault("mouth", [])
            history.append((t, hand_near(kp, det.box, "mouth", p.reach)))
            history[:] = [(s, a) for s, a in history if t - s <= p.window_s]
            if count_raises(history, t, p.window_s) >= p.min_repeats:
                smokers.append(det)
        return self.zone_findings(
            ctx, smokers, lambda inside: "hand-to-mouth pattern (low confidence)"
        )
