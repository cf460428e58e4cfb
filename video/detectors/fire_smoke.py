"""Fire (V7) and smoke (V8) in a zone, by classical image analysis.

No trustworthy fire or smoke model ships in any package reachable here, so both follow the
long-standing rule-based methods, on a frame reduced to 320 px wide:

* fire: flame-coloured pixels (R > 150, R ≥ G > B, R − B > 60, bright), which move and
  **flicker** (the flame mask changes shape from frame to frame: share of toggled pixels);
* smoke: grey, low-saturation pixels that move, that **lower the contrast** of the scene behind
  them (edge strength under the candidate pixels below the background's) and that **spread**
  (candidate area grows within ``window``).

Limits: an orange-clad worker walking through the zone or a flashing orange beacon can pass
the fire rule; steam, fog, dust and a grey vehicle passing can pass the smoke rule; both need
a zone drawn around the equipment, not the whole picture, and a person's review. There is no
real fire/smoke footage here: tests use staged frames (docs/video.md).
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from typing import ClassVar

import cv2
import numpy as np
from pydantic import Field

from video.detectors.base import Algorithm, Finding, Params
from video.frame_context import FrameContext
from video.inference import Box
from video.zones import Zone


def fire_mask(small_bgr: np.ndarray) -> np.ndarray:
    """Flame-coloured pixels (bool)."""
    b, g, r = (small_bgr[..., i].astype(np.int16) for i in range(3))
    value = small_bgr.max(axis=2)
    return (r > 150) & (r >= g) & (g > b) & ((r - b) > 60) & (value > 170)


def smoke_mask(small_bgr: np.ndarray) -> np.ndarray:
    """Grey, low-saturation, mid-bright pixels (bool)."""
    hsv = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV)
    return (hsv[..., 1] < 45) & (hsv[..., 2] > 80) & (hsv[..., 2] < 235)


def toggle_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the union of two masks that changed between them (0 static, 1 disjoint)."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a ^ b)) / union if union else 0.0


def edge_strength(grey: np.ndarray) -> np.ndarray:
    return np.abs(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F, ksize=3))


def _bbox(mask: np.ndarray, scale: float) -> tuple[Box, ...]:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return ()
    return ((xs.min() / scale, ys.min() / scale, (xs.max() + 1) / scale, (ys.max() + 1) / scale),)


class _ZoneMasks:
    """The zone polygons rasterised at the reduced size, once per frame size."""

    def __init__(self) -> None:
        self.key: tuple[int, int, float] | None = None
        self.masks: dict[str, np.ndarray] = {}

    def get(self, zones: list[Zone], shape: tuple[int, int], scale: float) -> dict[str, np.ndarray]:
        key = (shape[0], shape[1], scale)
        if key != self.key:
            self.masks = {}
            for zone in zones:
                m = np.zeros(shape, np.uint8)
                pts = np.array([[x * scale, y * scale] for x, y in zone.points], np.int32)
                cv2.fillPoly(m, [pts], 1)
                self.masks[zone.name] = m.astype(bool)
            self.key = key
        return self.masks


class FireParams(Params):
    raise_after_s: float = 2.0
    clear_after_s: float = 5.0
    min_area: float = Field(0.002, gt=0.0, le=1.0)
    min_flicker: float = Field(0.12, ge=0.0, le=1.0)
    min_moving: float = Field(0.15, ge=0.0, le=1.0)
    window: int = Field(6, ge=2, le=100)


class Fire(Algorithm):
    type = "fire"
    needs = frozenset({"motion", "pixels"})
    Params: ClassVar[type[Params]] = FireParams

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._zone_masks = _ZoneMasks()
        self._history: dict[str, deque[np.ndarray]] = {}

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        motion = ctx.motion() > 0
        scale = ctx.stream.scale
        small = cv2.resize(ctx.image, (motion.shape[1], motion.shape[0]))
        flame = fire_mask(small)
        out = []
        masks = self._zone_masks.get(self.zones_for(ctx), motion.shape, scale)
        for zone in self.zones_for(ctx):
            zm = masks[zone.name]
            fz = flame & zm
            hist = self._history.setdefault(zone.name, deque(maxlen=p.window))
            hist.append(fz)
            area = np.count_nonzero(fz) / max(1, np.count_nonzero(zm))
            moving = np.count_nonzero(fz & motion) / max(1, np.count_nonzero(fz))
            frames = list(hist)
            shares = [toggle_share(a, b) for a, b in pairwise(frames)]
            flicker = float(np.mean(shares)) if len(frames) > 2 else 0.0
            holds = area >= p.min_area and flicker >= p.min_flicker and moving >= p.min_moving
            out.append(
                Finding(
                    zone.name,
                    holds,
                    _bbox(fz, scale) if holds else (),
                    area,
                    f"flame area {area:.4f}, flicker {flicker:.2f}, moving {moving:.2f}",
                )
            )
        return out


class SmokeParams(Params):
    raise_after_s: float = 3.0
    clear_after_s: float = 8.0
    min_area: float = Field(0.01, gt=0.0, le=1.0)
    #: Edge strength under the smoke relative to the background's; smoke blurs what is behind.
    max_contrast: float = Field(0.8, gt=0.0, le=2.0)
    #: Candidate area must grow by this factor within the window (smoke spreads).
    growth: float = Field(1.15, ge=1.0)
    window: int = Field(10, ge=2, le=200)


class Smoke(Algorithm):
    type = "smoke"
    needs = frozenset({"motion", "pixels"})
    Params: ClassVar[type[Params]] = SmokeParams

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._zone_masks = _ZoneMasks()
        self._areas: dict[str, deque[float]] = {}
        self._reference: np.ndarray | None = None

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        p = self.params
        motion = ctx.motion() > 0
        scale = ctx.stream.scale
        small = cv2.resize(ctx.image, (motion.shape[1], motion.shape[0]))
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self._reference is None or self._reference.shape != grey.shape:
            self._reference = edge_strength(grey)  # the scene's texture before any smoke
        edges = edge_strength(grey)
        candidate = smoke_mask(small) & motion
        out = []
        masks = self._zone_masks.get(self.zones_for(ctx), motion.shape, scale)
        for zone in self.zones_for(ctx):
            zm = masks[zone.name]
            cz = candidate & zm
            n = np.count_nonzero(cz)
            area = n / max(1, np.count_nonzero(zm))
            areas = self._areas.setdefault(zone.name, deque(maxlen=p.window))
            areas.append(area)
            contrast = 1.0
            if n:
                behind = float(self._reference[cz].mean())
                contrast = float(edges[cz].mean()) / behind if behind > 1.0 else 0.0
            spreading = (min(areas) > 0 and max(areas) >= p.growth * min(areas)) or (
                min(areas) == 0 and area >= p.min_area and len(areas) > 1
            )
            holds = area >= p.min_area and contrast <= p.max_contrast and spreading
            if not n:
                # Refresh the texture reference slowly while nothing smoky is in view.
                self._reference = 0.9 * self._reference + 0.1 * edges
            out.append(
                Finding(
                    zone.name,
                    holds,
                    _bbox(cz, scale) if holds else (),
                    area,
                    f"grey moving area {area:.3f}, contrast {contrast:.2f}, spreading {spreading}",
                )
            )
        return out
