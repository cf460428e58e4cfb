"""A small IoU tracker: enough to follow one person across frames for "still for N minutes"
and "hand to mouth again and again" without a re-identification model.

    tracker = Tracker()
    for det, track in tracker.update(t, detections):
        track.first_seen, track.memory
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from video.inference import Box, Detection


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes.

    >>> iou((0, 0, 10, 10), (5, 0, 15, 10))
    0.3333333333333333
    """
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    memory: dict[str, Any] = field(default_factory=dict)


class Tracker:
    def __init__(self, min_iou: float = 0.3, forget_s: float = 5.0) -> None:
        self.min_iou, self.forget_s = min_iou, forget_s
        self.tracks: list[Track] = []
        self._next = 1

    def update(self, t: float, detections: list[Detection]) -> list[tuple[Detection, Track]]:
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= self.forget_s]
        pairs = sorted(
            (
                (iou(d.box, tr.box), n, k)
                for n, d in enumerate(detections)
                for k, tr in enumerate(self.tracks)
            ),
            reverse=True,
        )
        used_d: set[int] = set()
        used_t: set[int] = set()
        matched: dict[int, Track] = {}
        for score, n, k in pairs:
            if score < self.min_iou or n in used_d or k in used_t:
                continue
            used_d.add(n)
            used_t.add(k)
            matched[n] = self.tracks[k]
        out = []
        for n, det in enumerate(detections):
            track = matched.get(n)
            if track is None:
                track = Track(self._next, det.box, t, t)
                self._next += 1
                self.tracks.append(track)
            track.box, track.last_seen = det.box, t
            out.append((det, track))
        return out
