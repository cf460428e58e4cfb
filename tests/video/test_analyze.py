"""`hazwatch video analyze` on real footage (V9, V12, V5): an intrusion onto the lawn of
vtest.avi raises exactly one alarm, with a snapshot showing the zone and the boxes, and clears
it; counts per frame; shared inference between algorithms; clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from tests.conftest import run_cli
from video.analyze import analyze
from video.frame_context import ModelHub
from video.zones import parse_zone

# The lawn in the foreground of vtest.avi: people cross it only between about 52 s and 69 s.
LAWN = "lawn=0,440;560,440;560,576;0,576"


@pytest.fixture(scope="module")
def intrusion_run(
    video_models: Path, vtest: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path]:
    snaps = tmp_path_factory.mktemp("snaps")
    proc = run_cli(
        "video",
        "analyze",
        str(vtest),
        "--algorithms",
        "intrusion",
        "--zone",
        LAWN,
        "--every",
        "10",
        "--counts",
        "--json",
        "--snapshots",
        str(snaps),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), snaps


def test_intrusion_raises_exactly_one_alarm_and_clears_it(intrusion_run: tuple[dict, Path]) -> None:
    result, _ = intrusion_run
    events = result["events"]
    assert len(events) == 1, events
    event = events[0]
    assert (event["type"], event["zone"]) == ("intrusion", "lawn")
    # Hand-checked: first foot on the lawn at about frame 520, last at about frame 685.
    assert 505 <= event["start_frame"] <= 535
    assert 670 <= event["end_frame"] <= 700
    assert event["raised_frame"] - event["start_frame"] >= 10  # raise_after_s = 1 s at 10 fps
    assert event["end_time"] is not None and event["end_time"] > event["start_time"]


def test_snapshot_shows_zone_and_boxes(intrusion_run: tuple[dict, Path]) -> None:
    result, snaps = intrusion_run
    path = Path(result["events"][0]["snapshot"])
    assert path.parent == snaps and path.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
    image = cv2.imread(str(path))
    assert image.shape == (576, 768, 3)
    b, g, r = (image[..., i].astype(int) for i in range(3))
    red = (r > 200) & (g < 60) & (b < 60)  # the person boxes
    amber = (r > 200) & (g > 150) & (g < 230) & (b < 80)  # the zone outline
    assert red[440:, :560].sum() > 100, "no box drawn on the lawn"
    assert amber[436:446, :560].sum() > 300, "zone's top edge not drawn"


def test_counts_per_analysed_frame(intrusion_run: tuple[dict, Path]) -> None:
    result, _ = intrusion_run
    frames = result["frames"]
    assert [f["index"] for f in frames[:3]] == [0, 10, 20]
    assert len(frames) == 80 and frames[1]["time"] == pytest.approx(1.0)
    # Hand count: 3 persons in frame 0, 8 in frame 700 (tests/video/labels/vtest.json).
    by_index = {f["index"]: f["persons"] for f in frames}
    assert by_index[0] == 3
    assert 7 <= by_index[700] <= 8


def test_text_output_and_bad_input(video_models: Path, vtest: Path, tmp_path: Path) -> None:
    bad = {
        ("--algorithms", "teleport"): "unknown algorithm 'teleport'",
        ("--algorithms", "intrusion", "--zone", "lawn=0,0;5000,0;0,5000"): "frame is 768×576",
        ("--algorithms", "crowding", "--set", "crowding.max_persons=zero"): "max_persons",
        ("--algorithms", "intrusion", "--set", "crowding.max_persons=3"): "not analysed",
        ("--algorithms", "intrusion", "--set", "intrusion.colour=1"): "colour: Extra inputs",
        ("--zone", "x=1,1"): "at least 3 points",
        (): "nothing to do",
    }
    for args, message in bad.items():
        proc = run_cli("video", "analyze", str(vtest), *args)
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    noise = tmp_path / "noise.avi"
    noise.write_bytes(b"RIFF" + bytes(5000))
    proc = run_cli("video", "analyze", str(noise), "--algorithms", "intrusion")
    assert proc.returncode == 1 and f"error: {noise}: cannot open as video" in proc.stderr


def test_algorithms_share_one_inference_per_frame(video_models: Path, vtest: Path) -> None:
    hub = ModelHub(video_models, "onnxruntime")
    zone = parse_zone(LAWN)
    result = analyze(
        vtest,
        ["intrusion", "crowding", "off_post"],
        [zone],
        home=video_models,
        every=50,
        counts=True,
        hub=hub,
        params={"off_post": {"raise_after_s": 30}},
    )
    assert result.frames_analysed == 16
    assert result.inference_runs == {"detect": 16}  # not 3 × 16
    # The lawn is empty for the first 52 s: as a duty zone it is off-post after 30 s.
    types = [e.type for e in result.events]
    assert "off_post" in types and "crowding" not in types


def test_a_recording_that_stops_is_reported_as_video_loss(
    video_models: Path, vtest: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes(vtest.read_bytes()[:2_500_000])
    proc = run_cli("video", "analyze", str(cut), "--counts", "--every", "60", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    loss = [e for e in result["events"] if e["type"] == "video_loss"]
    assert len(loss) == 1 and loss[0]["zone"] is None
    assert loss[0]["start_frame"] == result["frames_decoded"]
    assert "of 795 frames" in loss[0]["detail"]
