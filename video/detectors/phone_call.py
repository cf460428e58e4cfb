"""Phone call (V13): a hand held at the ear, and/or a detected phone next to the head.

Method: yolo11n-pose wrists within ``reach`` shoulder widths of an ear; or a COCO "cell phone"
box from the shared detector whose centre lies in the head region. Limits: scratching the
head or adjusting a helmet for a few seconds looks alike (hence ``raise_after_s``); phones
are small at CCTV distances and often missed; earpieces and radios are not seen at all.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from video.detectors.base import Algorithm, Finding, Params
from video.detectors.pose_geometry import hand_near, head_box
from video.frame_context import FrameContext


class PhoneParams(Params):
    raise_after_s: float = 3.0
    clear_after_s: float = 5.0
    reach: float = Field(0.5, gt=0.0, le=2.0)
    phone_conf: float = Field(0.25, ge=0.2, le=1.0)


class PhoneCall(Algorithm):
    type = "phone_call"
    needs = frozenset({"pose", "objects"})
    Params: ClassVar[type[Params]] = PhoneParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        phones = ctx.phones(p.phone_conf)
        calling = []
        for det in ctx.poses():
            kp = det.keypoints
            assert kp is not None
            near_ear = hand_near(kp, det.box, "ear", p.reach)
            head = head_box(kp, det.box)
            phone_at_head = head is not None and any(
                head[0] <= (ph.box[0] + ph.box[2]) / 2 <= head[2]
                and head[1] <= (ph.box[1] + ph.box[3]) / 2 <= head[3] + (head[3] - head[1])
                for ph in phones
            )
            if near_ear or phone_at_head:
                calling.append(det)
        return self.zone_findings(ctx, calling, lambda inside: f"{len(inside)} on the phone")
