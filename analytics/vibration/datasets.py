"""Real bearing measurements from PyPI's ``pybearing`` source archive (MIT, Anko & Slavič).

The wheel of pybearing carries only its code and bearing table; the measurements are in the
source archive (``examples/data``). They are fetched with pip — the ordinary client of the
registry — as the pinned sdist, checked against its SHA-256, cached under
``<home>/var/cache/pybearing/`` and read straight from the archive (never committed). The
pickles are opened with an unpickler that admits numpy arrays only.

* ``measurement.pkl``: force in a damaged NMB 1560kk bearing's support (N), 64,000 samples at
  6,400 Hz, 306 rpm nominal. Its envelope spectrum shows BPFI (≈ 22.4 Hz) with ±1× sidebands:
  an inner-race defect (our reading; pybearing's notebook plots it without naming the fault).
* ``em_measurements.pkl``: sound pressure (Pa) at an electric motor with built-in faulty
  NMB 1560kk bearings, four recordings of 500,000 samples at 50 kHz, 2,500 rpm nominal. Its
  notebook finds the inner-ring band consistent in all four and says the rolling elements are
  undamaged; the envelope spectra show BPFI ≈ 183.4 Hz: inner-race defects.

    rec = load_measurements(cache_dir)        # list[Recording]
    rec[0].name, rec[0].fs, rec[0].rpm, rec[0].fault, rec[0].signal
"""

from __future__ import annotations

import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

PYBEARING_VERSION = "1.0.4"
SDIST = f"pybearing-{PYBEARING_VERSION}.tar.gz"
SDIST_SHA256 = "57e83fa269e8e63769f5eae4d1102d2488b47c0c71c50a38303008c371b0f265"
BEARING = "NMB_1560kk"


@dataclass(frozen=True)
class Recording:
    name: str
    fs: float
    rpm: float
    bearing: str
    fault: str
    unit: str
    signal: np.ndarray = field(repr=False)


class _NumpyOnly(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a data file")
        return super().find_class(module, name)


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sdist_path(cache_dir: Path, *, download: bool = True) -> Path:
    """The verified sdist in ``cache_dir``, fetched with ``pip download`` when missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / SDIST
    if not target.is_file() and download:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"pybearing=={PYBEARING_VERSION}",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(cache_dir),
            "-q",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(
                f"could not fetch {SDIST} with pip (needs PyPI once): {res.stderr.strip()[-300:]}"
            )
    if not target.is_file():
        raise FileNotFoundError(f"{target} is missing")
    digest = _sha256(target)
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{target} has SHA-256 {digest}, expected {SDIST_SHA256}")
    return target


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(f"pybearing-{PYBEARING_VERSION}/{name}")
    if f is None:
        raise FileNotFoundError(name)
    return f.read()


def load_measurements(cache_dir: Path, *, motor: bool = True) -> list[Recording]:
    """Both data files as recordings (the motor file's four channels separately)."""
    path = sdist_path(cache_dir)
    out = []
    with tarfile.open(path, "r:gz") as tar:
        d = _NumpyOnly(io.BytesIO(_member(tar, "examples/data/measurement.pkl"))).load()
        out.append(
            Recording(
                "measurement",
                6400.0,
                306.0,
                BEARING,
                "bearing_inner_race",
                "N",
                np.asarray(d["force"], dtype=float),
            )
        )
        if motor:
            d = _NumpyOnly(io.BytesIO(_member(tar, "examples/data/em_measurements.pkl"))).load()
            for k in ("sp_1", "sp_2", "sp_3", "sp_4"):
                out.append(
                    Recording(
                        f"em_{k}",
                        float(d["fs"]),
                        2500.0,
                        BEARING,
                        "bearing_inner_race",
                        "Pa",
                        np.asarray(d[k], dtype=float),
                    )
                )
    return out


def bearing_table(cache_dir: Path) -> str:
    """pybearing's bearing table (CSV text) from the same archive."""
    with tarfile.open(sdist_path(cache_dir), "r:gz") as tar:
        return _member(tar, "pybearing/data/database.csv").decode()
