"""Person-count types: zone intrusion (V9), crowding (V12), off-post (V10).

All three count persons by the foot point (bottom centre of the box) inside the zone's polygon,
from the shared object detector (yolov10n, COCO "person").
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from video.detectors.base import Algorithm, Finding, Params
from video.frame_context import PERSON_CONF, FrameContext
from video.zones import persons_in_zone


class IntrusionParams(Params):
    raise_after_s: float = 1.0
    clear_after_s: float = 3.0
    min_conf: float = Field(PERSON_CONF, ge=0.2, le=1.0)


class Intrusion(Algorithm):
    """Someone stands inside the zone."""

    type = "intrusion"
    needs = frozenset({"objects"})
    Params: ClassVar[type[Params]] = IntrusionParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        persons = ctx.persons(self.params.min_conf)
        out = []
        for zone in self.zones_for(ctx):
            inside = persons_in_zone(zone, persons)
            out.append(
                Finding(
                    zone.name,
                    bool(inside),
                    tuple(p.box for p in inside),
                    max((p.score for p in inside), default=0.0),
                    f"{len(inside)} in zone",
                )
            )
        return out


class CrowdingParams(Params):
    raise_after_s: float = 3.0
    clear_after_s: float = 5.0
    min_conf: float = Field(PERSON_CONF, ge=0.2, le=1.0)
    #: Crowding means more persons than this in the zone.
    max_persons: int = Field(5, ge=1)


class Crowding(Algorithm):
    """More than ``max_persons`` persons in the zone."""

    type = "crowding"
    needs = frozenset({"objects"})
    Params: ClassVar[type[Params]] = CrowdingParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        persons = ctx.persons(p.min_conf)
        out = []
        for zone in self.zones_for(ctx):
            inside = persons_in_zone(zone, persons)
            out.append(
                Finding(
                    zone.name,
                    len(inside) > p.max_persons,
                    tuple(d.box for d in inside),
                    float(len(inside)),
                    f"{len(inside)} persons",
                )
            )
        return out


class OffPostParams(Params):
    #: How long the duty zone may stay empty before it is an alarm.
    raise_after_s: float = 60.0
    clear_after_s: float = 3.0
    gap_s: float = 2.0
    min_conf: float = Field(0.3, ge=0.2, le=1.0)
    min_persons: int = Field(1, ge=1)


class OffPost(Algorithm):
    """The duty zone (e.g. the control-room desk) has fewer than ``min_persons`` persons."""

    type = "off_post"
    needs = frozenset({"objects"})
    Params: ClassVar[type[Params]] = OffPostParams

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        persons = ctx.persons(p.min_conf)
        out = []
        for zone in self.zones_for(ctx):
            inside = persons_in_zone(zone, persons)
            out.append(
                Finding(zone.name, len(inside) < p.min_persons, (), 0.0, f"{len(inside)} on duty")
            )
        return out
