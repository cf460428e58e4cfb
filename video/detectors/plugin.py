"""User models as new recognition types (V17): an ONNX file plus a small TOML manifest.

    # forklift.toml, beside forklift.onnx
    name = "forklift_in_zone"          # the recognition type, used in --algorithms
    model = "forklift.onnx"            # relative to the manifest
    classes = ["forklift", "person"]   # the model's classes, in output order
    alarm_classes = ["forklift"]       # which of them raise the alarm
    input_size = [640, 640]            # width, height the model was exported with
    conf = 0.4
    iou = 0.5
    licence = "Apache-2.0"             # recorded with each alarm's algorithm version
    raise_after_s = 2.0                # optional alarm timing
    clear_after_s = 5.0

The model must have the Ultralytics detection layout: one output (1, 4 + classes, N) with
centre-x, centre-y, width, height in input pixels, then one score per class. An object is in
a zone when the bottom centre of its box is.

    spec = load_manifest(Path("forklift.toml"))         # clear error per bad field
    algo = PluginAlgorithm(spec, zones, params)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hazwatch.errors import HazwatchError
from video.detectors.base import Algorithm, Finding, Params
from video.frame_context import FrameContext
from video.inference import Detector, open_backend

#: Names the built-in types use; a plugin may not take them over.
RESERVED = frozenset(
    {
        "intrusion",
        "crowding",
        "off_post",
        "sleeping",
        "phone_call",
        "smoking",
        "no_helmet",
        "no_uniform",
        "fire",
        "smoke",
        "video_loss",
    }
)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    model: str
    classes: list[str] = Field(min_length=1)
    alarm_classes: list[str] = Field(min_length=1)
    input_size: tuple[int, int] = (640, 640)
    conf: float = Field(0.4, gt=0.0, lt=1.0)
    iou: float = Field(0.5, gt=0.0, lt=1.0)
    licence: str = Field(min_length=1)
    version: str = "1"
    raise_after_s: float = Field(2.0, ge=0.0)
    clear_after_s: float = Field(5.0, ge=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        unknown = [c for c in self.alarm_classes if c not in self.classes]
        if unknown:
            raise ValueError(f"alarm_classes {unknown} are not among classes")
        if self.name in RESERVED:
            raise ValueError(f"name {self.name!r} is a built-in recognition type")
        return self


class PluginSpec:
    def __init__(self, manifest: Manifest, path: Path) -> None:
        self.manifest, self.path = manifest, path
        self.model_path = (path.parent / manifest.model).resolve()


def load_manifest(path: Path) -> PluginSpec:
    """Read and check a plugin manifest; every fault names the file and the field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HazwatchError(f"plugin manifest {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HazwatchError(f"plugin manifest {path}: not valid TOML ({exc})") from None
    try:
        manifest = Manifest(**raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}"
            for err in exc.errors()
        )
        raise HazwatchError(f"plugin manifest {path}: {problems}") from None
    spec = PluginSpec(manifest, path)
    if not spec.model_path.is_file():
        raise HazwatchError(f"plugin manifest {path}: model: {spec.model_path} does not exist")
    return spec


def check_model(spec: PluginSpec, detector: Detector) -> None:
    """The model's input and output must match what the manifest says."""
    m = spec.manifest
    if tuple(detector.backend.input_size) != tuple(m.input_size):
        raise HazwatchError(
            f"plugin manifest {spec.path}: input_size {list(m.input_size)} but the model "
            f"takes {list(detector.backend.input_size)}"
        )
    import numpy as np

    w, h = m.input_size
    out = detector.backend.run(np.zeros((1, 3, h, w), np.float32))
    if out.ndim != 3 or out.shape[1] != 4 + len(m.classes):
        raise HazwatchError(
            f"plugin manifest {spec.path}: classes lists {len(m.classes)} names but the "
            f"model's output is {list(out.shape)} (expected [1, {4 + len(m.classes)}, N])"
        )


class PluginAlgorithm(Algorithm):
    """A plugin's model run on each frame; holds when an alarm class is in the zone."""

    type = "plugin"
    needs = frozenset({"plugin"})
    Params: ClassVar[type[Params]] = Params
    _detectors: ClassVar[dict[tuple[Path, int, int], Detector]] = {}

    def __init__(
        self, spec: PluginSpec, zones: list[Any] | None = None, params: dict[str, Any] | None = None
    ) -> None:
        m = spec.manifest
        merged = {
            "raise_after_s": m.raise_after_s,
            "clear_after_s": m.clear_after_s,
            **(params or {}),
        }
        self.type = m.name  # type: ignore[misc]
        super().__init__(zones, merged)
        self.spec = spec
        # Streams that use the same plugin share one loaded model; a replaced file (a new
        # version of the plugin) is loaded afresh.
        st = spec.model_path.stat()
        key = (spec.model_path, st.st_mtime_ns, st.st_size)
        if key not in self._detectors:
            detector = Detector(open_backend(spec.model_path), tuple(m.classes), m.conf, m.iou)
            check_model(spec, detector)
            self._detectors[key] = detector
        self.detector = self._detectors[key]
        self.alarm_ids = frozenset(m.classes.index(c) for c in m.alarm_classes)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ctx.hub.count(f"plugin:{self.type}")
        found = self.detector.detect(ctx.image, only=self.alarm_ids)
        return self.zone_findings(
            ctx, found, lambda inside: ", ".join(sorted({d.label for d in inside}))
        )
