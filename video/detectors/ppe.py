"""Personal protective equipment: no safety helmet (V15) and no work uniform (V16).

Method (no packaged helmet or uniform model exists): yolo11n-pose locates the head and the
torso of each person from keypoints; the crown of the head is checked for a hard-hat colour
(red, orange, yellow, blue, white; which ones are allowed is a parameter), the torso's
hue-saturation histogram is compared with enrolled samples of each uniform type (Bhattacharyya
distance). Limits: hair or a cap in a helmet colour passes as a helmet; a person facing away
has no face keypoints and is skipped; uniforms that differ only in cut, not colour, are not
told apart; persons smaller than ``min_height`` pixels are skipped.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from video.detectors.base import Algorithm, Finding, Params
from video.detectors.colour import HELMET_COLOURS, distance, helmet_colour, histogram, load_samples
from video.detectors.pose_geometry import clip_box, crown_box, torso_box
from video.frame_context import FrameContext
from video.inference import Detection


class HelmetParams(Params):
    raise_after_s: float = 2.0
    clear_after_s: float = 5.0
    colours: tuple[str, ...] = tuple(HELMET_COLOURS)
    min_fraction: float = Field(0.3, gt=0.0, le=1.0)
    min_height: int = Field(60, ge=10)

    @field_validator("colours", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        names = value.split(",") if isinstance(value, str) else value
        bad = [n for n in names if n not in HELMET_COLOURS]  # type: ignore[union-attr]
        if bad:
            raise ValueError(f"unknown helmet colour {bad}; known: {', '.join(HELMET_COLOURS)}")
        return tuple(names)  # type: ignore[arg-type]


class NoHelmet(Algorithm):
    type = "no_helmet"
    needs = frozenset({"pose"})
    Params: ClassVar[type[Params]] = HelmetParams

    def check(self, ctx: FrameContext, det: Detection) -> tuple[bool, str] | None:
        """(has helmet, colour or '') for a person, or None when the head cannot be judged."""
        p = self.params
        if det.keypoints is None or det.box[3] - det.box[1] < p.min_height:
            return None
        crown = crown_box(det.keypoints, det.box)
        h, w = ctx.image.shape[:2]
        clipped = clip_box(crown, w, h) if crown else None
        if clipped is None:
            return None
        x1, y1, x2, y2 = clipped
        colour, _ = helmet_colour(ctx.image[y1:y2, x1:x2], p.colours, p.min_fraction)
        return colour is not None, colour or ""

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        bare, colours = [], []
        for det in ctx.poses():
            verdict = self.check(ctx, det)
            if verdict is None:
                continue
            if verdict[0]:
                colours.append(verdict[1])
            else:
                bare.append(det)
        helmets = ",".join(sorted(set(colours))) or "-"
        return self.zone_findings(
            ctx, bare, lambda inside: f"{len(inside)} without helmet; helmets seen: {helmets}"
        )


class UniformParams(Params):
    raise_after_s: float = 2.0
    clear_after_s: float = 5.0
    #: Image files of enrolled uniforms (torso crops), one or more per uniform type.
    samples: tuple[str, ...] = Field(min_length=1)
    max_distance: float = Field(0.55, gt=0.0, le=1.0)
    min_height: int = Field(60, ge=10)

    @field_validator("samples", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(v for v in value.split(",") if v) if isinstance(value, str) else value


class NoUniform(Algorithm):
    type = "no_uniform"
    needs = frozenset({"pose"})
    Params: ClassVar[type[Params]] = UniformParams

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.samples = load_samples(list(self.params.samples))

    def nearest(self, ctx: FrameContext, det: Detection) -> float | None:
        """Distance to the closest enrolled sample, or None when the torso is not seen."""
        if det.keypoints is None or det.box[3] - det.box[1] < self.params.min_height:
            return None
        torso = torso_box(det.keypoints)
        h, w = ctx.image.shape[:2]
        clipped = clip_box(torso, w, h) if torso else None
        if clipped is None:
            return None
        x1, y1, x2, y2 = clipped
        hist = histogram(ctx.image[y1:y2, x1:x2])
        return min(distance(hist, s) for s in self.samples)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        others = []
        for det in ctx.poses():
            d = self.nearest(ctx, det)
            if d is not None and d > self.params.max_distance:
                others.append(det)
        return self.zone_findings(
            ctx, others, lambda inside: f"{len(inside)} not in an enrolled uniform"
        )
