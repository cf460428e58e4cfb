"""Shared work per frame: every algorithm of a stream asks the same context, so each model runs
at most once per decoded frame (one stream, many algorithms), and one ModelHub holds one
session per model for every stream of the node (one node, many algorithms).

    hub = ModelHub(home)                             # once per worker process
    stream = StreamState()                           # once per stream (motion background)
    ctx = FrameContext(frame, hub, stream)           # once per decoded frame
    ctx.persons(); ctx.objects(); ctx.poses(); ctx.motion()
    hub.runs                        # {"detect": n, "pose": m}: shared, not repeated
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from video import models
from video.inference import (
    CELL_PHONE,
    PERSON,
    BackendName,
    Detection,
    Detector,
    PoseEstimator,
    open_backend,
)
from video.sources import Frame

#: Lowest confidence any algorithm asks of the object detector; each filters higher itself.
OBJECT_FLOOR = 0.2
PERSON_CONF = 0.35


class ModelHub:
    """Lazily opened models, shared by all streams and algorithms of a process."""

    def __init__(self, home: Path, backend: BackendName = "auto", threads: int = 0) -> None:
        self.home, self.backend, self.threads = home, backend, threads
        self._lock = threading.Lock()
        self._detector: Detector | None = None
        self._pose: PoseEstimator | None = None
        self.runs: Counter[str] = Counter()

    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                path = models.model_path(self.home, "yolov10n")
                self._detector = Detector(open_backend(path, self.backend, self.threads))
            return self._detector

    def pose(self) -> PoseEstimator:
        with self._lock:
            if self._pose is None:
                path = models.model_path(self.home, "yolo11n-pose")
                self._pose = PoseEstimator(open_backend(path, self.backend, self.threads))
            return self._pose

    def count(self, what: str) -> None:
        with self._lock:
            self.runs[what] += 1


@dataclass
class StreamState:
    """What a stream keeps between frames for everyone: the motion background."""

    background: np.ndarray | None = None
    previous: np.ndarray | None = None
    scale: float = 1.0


def motion_mask(state: StreamState, image: np.ndarray, width: int = 320) -> np.ndarray:
    """Pixels that changed since the previous frame, at a reduced width (uint8 0/255).

    The running-average background absorbs slow light changes; small frames keep it cheap.
    """
    scale = width / image.shape[1]
    small = cv2.resize(image, (width, max(1, round(image.shape[0] * scale))))
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)
    state.scale = scale
    if state.background is None or state.background.shape != grey.shape:
        state.background = grey.copy()
        state.previous = grey
        return np.zeros(grey.shape, np.uint8)
    diff = cv2.absdiff(grey, state.background)
    cv2.accumulateWeighted(grey, state.background, 0.05)
    state.previous = grey
    return np.where(diff > 18, 255, 0).astype(np.uint8)


@dataclass
class FrameContext:
    frame: Frame
    hub: ModelHub
    stream: StreamState
    _objects: list[Detection] | None = field(default=None, repr=False)
    _poses: list[Detection] | None = field(default=None, repr=False)
    _motion: np.ndarray | None = field(default=None, repr=False)

    @property
    def image(self) -> np.ndarray:
        return self.frame.image

    def objects(self) -> list[Detection]:
        """COCO detections at OBJECT_FLOOR confidence (one model run per frame)."""
        if self._objects is None:
            self.hub.count("detect")
            self._objects = self.hub.detector().detect(self.image, conf=OBJECT_FLOOR)
        return self._objects

    def persons(self, conf: float = PERSON_CONF) -> list[Detection]:
        return [d for d in self.objects() if d.cls == PERSON and d.score >= conf]

    def phones(self, conf: float = 0.25) -> list[Detection]:
        return [d for d in self.objects() if d.cls == CELL_PHONE and d.score >= conf]

    def poses(self) -> list[Detection]:
        """Persons of the shared detector with keypoints from one mosaic pose run."""
        if self._poses is None:
            persons = self.persons()
            if persons:
                self.hub.count("pose")
            self._poses = self.hub.pose().estimate_boxes(self.image, persons) if persons else []
        return self._poses

    def motion(self) -> np.ndarray:
        """Motion mask at ``stream.scale`` of the frame (see motion_mask)."""
        if self._motion is None:
            self._motion = motion_mask(self.stream, self.image)
        return self._motion
