"""Sleeping on duty (V11): a person lying, or with the head down, who has not moved for
``still_s`` seconds.

Method: yolo11n-pose keypoints → posture (see pose_geometry.posture); an IoU track per person;
"not moved" = the mean keypoint displacement between analysed frames stays under
``max_motion`` of the body scale. Limits: a person bent over paperwork for minutes looks the
same as one asleep on the desk; persons seen from directly above give poor keypoints.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from video.detectors.base import Finding, Params, TrackedPoseAlgorithm
from video.detectors.pose_geometry import VISIBLE, posture, shoulder_width
from video.frame_context import FrameContext


class SleepingParams(Params):
    raise_after_s: float = 0.0
    clear_after_s: float = 5.0
    #: How long a lying/head-down person must stay still (the "N minutes" of V11).
    still_s: float = Field(120.0, ge=0.0)
    #: Movement per analysed frame below this fraction of the shoulder width counts as still.
    max_motion: float = Field(0.08, gt=0.0, le=1.0)


def keypoint_motion(prev: np.ndarray, cur: np.ndarray, scale: float) -> float | None:
    """Mean displacement of keypoints visible in both, relative to ``scale``."""
    both = (prev[:, 2] >= VISIBLE) & (cur[:, 2] >= VISIBLE)
    if both.sum() < 3:
        return None
    return float(np.linalg.norm(cur[both, :2] - prev[both, :2], axis=1).mean() / scale)


class Sleeping(TrackedPoseAlgorithm):
    type = "sleeping"
    Params: ClassVar[type[Params]] = SleepingParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        t = ctx.frame.time
        asleep = []
        for det, kp, track in self.tracked_poses(ctx):
            pose = posture(kp, det.box)
            prev = track.memory.get("kp")
            moved = None if prev is None else keypoint_motion(prev, kp, shoulder_width(kp, det.box))
            track.memory["kp"] = kp
            if pose not in ("lying", "head_down") or (moved is not None and moved > p.max_motion):
                track.memory.pop("still_since", None)
                continue
            since = track.memory.setdefault("still_since", t)
            if t - since >= p.still_s:
                asleep.append(det)
        return self.zone_findings(
            ctx, asleep, lambda inside: f"{len(inside)} still and lying/head down"
        )
