"""Precision and recall against the hand labels (tests/video/labels): person detection on
vtest.avi and bikes.mp4, intrusion and crowding on vtest.avi. The figures are in docs/video.md
and the README; these floors catch a regression in the detector, the decoding or the zones."""

from __future__ import annotations

import json
from pathlib import Path

from tests.video.conftest import LABELS
from video.evaluation import evaluate, match
from video.frame_context import ModelHub
from video.inference import Detection
from video.zones import parse_zone, whole_frame

#: Zones on vtest.avi for the intrusion judgement: the lawn, the crossing, the car park.
EVAL_ZONES = (
    "lawn=0,440;560,440;560,576;0,576",
    "crossing=380,250;768,250;768,420;380,420",
    "carpark=0,140;420,140;420,230;0,230",
)


def test_labels_are_well_formed() -> None:
    for path in sorted(LABELS.glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc["method"] and doc["video"]
        for frame in doc["frames"]:
            for x1, y1, x2, y2 in frame["persons"] + frame["ignore"]:
                assert 0 <= x1 < x2 and 0 <= y1 < y2, (path.name, frame["index"])


def test_matching_counts_ignore_boxes_neither_way() -> None:
    det = [Detection((0, 0, 10, 10), 0.9, 0, "person")]
    assert (match(det, [], [(0, 0, 10, 10)]).fp, match(det, [], []).fp) == (0, 1)


def test_vtest_person_intrusion_crowding(hub: ModelHub, vtest: Path) -> None:
    report = evaluate(
        hub,
        LABELS / "vtest.json",
        vtest,
        zones=[parse_zone(z) for z in EVAL_ZONES],
        crowd_zone=whole_frame(768, 576),
        crowd_threshold=5,
    )
    assert report["frames"] == 16 and report["labelled_persons"] == 93
    assert report["persons"]["precision"] >= 0.9 and report["persons"]["recall"] >= 0.9
    assert report["intrusion"]["precision"] >= 0.9 and report["intrusion"]["recall"] >= 0.9
    assert report["crowding"]["precision"] >= 0.8 and report["crowding"]["recall"] >= 0.7


def test_bikes_person_detection(hub: ModelHub, bikes: Path) -> None:
    report = evaluate(hub, LABELS / "bikes.json", bikes)
    assert report["frames"] == 6
    assert report["persons"]["precision"] >= 0.8 and report["persons"]["recall"] >= 0.8
