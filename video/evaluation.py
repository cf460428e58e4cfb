"""Precision and recall against hand labels (tests/video/labels/*.json): person detection,
zone intrusion and crowding, measured on the real footage that packages ship.

    report = evaluate(hub, Path("tests/video/labels/vtest.json"), video_path,
                      zones=[LAWN], crowd_threshold=5)
    report["persons"]["precision"], report["intrusion"]["recall"]

Matching: a detection is a true positive when it overlaps an unmatched labelled person with
IoU >= 0.5 (greedy, highest score first); detections on "ignore" boxes count neither way.
Intrusion and crowding are judged per labelled frame: is the condition true in the labels,
is it true in the detections.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

from video.detectors.tracking import iou
from video.frame_context import PERSON_CONF, FrameContext, ModelHub, StreamState
from video.inference import Box, Detection
from video.sources import FileSource, Frame
from video.zones import Zone, persons_in_zone


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def summary(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(p, 3),
            "recall": round(r, 3),
        }


def match(
    detections: list[Detection], truth: list[Box], ignore: list[Box], thr: float = 0.5
) -> Counts:
    """Greedy IoU matching of one frame's detections to its labelled boxes.

    >>> d = [Detection((0, 0, 10, 10), .9, 0, "person"), Detection((50, 50, 60, 60), .8, 0, "p")]
    >>> match(d, [(1, 1, 10, 10), (20, 20, 30, 30)], [])
    Counts(tp=1, fp=1, fn=1)
    """
    unmatched = list(truth)
    counts = Counts()
    for det in sorted(detections, key=lambda d: -d.score):
        best = max(unmatched, key=lambda b: iou(det.box, b), default=None)
        if best is not None and iou(det.box, best) >= thr:
            unmatched.remove(best)
            counts.tp += 1
        elif not any(iou(det.box, b) >= thr for b in ignore):
            counts.fp += 1
    counts.fn = len(unmatched)
    return counts


@dataclass(frozen=True)
class _Box:
    box: Box

    @property
    def foot(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, self.box[3])


def _condition(counts: Counts, truth: bool, predicted: bool) -> None:
    if truth and predicted:
        counts.tp += 1
    elif predicted:
        counts.fp += 1
    elif truth:
        counts.fn += 1


def evaluate(
    hub: ModelHub,
    labels: Path,
    video: Path,
    zones: list[Zone] = (),  # type: ignore[assignment]
    crowd_zone: Zone | None = None,
    crowd_threshold: int = 5,
    conf: float = PERSON_CONF,
) -> dict[str, Any]:
    doc = json.loads(labels.read_text())
    wanted = {f["index"]: f for f in doc["frames"]}
    step = reduce(math.gcd, wanted) or 1
    persons, intrusion, crowding = Counts(), Counts(), Counts()
    per_frame = []
    stream = StreamState()
    for item in FileSource(video).items(every=step, limit=max(wanted) + 1):
        if not isinstance(item, Frame) or item.index not in wanted:
            continue
        label = wanted[item.index]
        truth = [tuple(b) for b in label["persons"]]
        found = FrameContext(item, hub, stream).persons(conf)
        persons.add(match(found, truth, [tuple(b) for b in label["ignore"]]))  # type: ignore[misc]
        true_boxes = [_Box(b) for b in truth]  # type: ignore[arg-type]
        for zone in zones:
            _condition(
                intrusion,
                bool(persons_in_zone(zone, true_boxes)),
                bool(persons_in_zone(zone, found)),
            )
        if crowd_zone is not None:
            n_true = len(persons_in_zone(crowd_zone, true_boxes))
            n_found = len(persons_in_zone(crowd_zone, found))
            _condition(crowding, n_true > crowd_threshold, n_found > crowd_threshold)
        per_frame.append({"index": item.index, "labelled": len(truth), "detected": len(found)})
    return {
        "labels": str(labels.name),
        "frames": len(per_frame),
        "labelled_persons": sum(f["labelled"] for f in per_frame),
        "persons": persons.summary(),
        "intrusion": intrusion.summary() if zones else None,
        "crowding": crowding.summary() if crowd_zone else None,
        "crowd_threshold": crowd_threshold,
        "per_frame": per_frame,
    }
