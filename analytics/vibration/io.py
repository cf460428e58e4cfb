"""Reading captures from files for ``hazwatch vib analyze``: CSV (one column per axis, optional
header), WAV (PCM or float, one channel per axis) and NPY (1-D, or 2-D with one column or one
row per axis). Every problem becomes a ``CaptureFileError`` naming the file, row or field.

    cap = read_capture(Path("pump.csv"), fs=25600.0)      # Capture(axes (k, n), names, fs)
"""

from __future__ import annotations

import csv
import math
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_AXES = 8
MIN_SAMPLES = 256


class CaptureFileError(ValueError):
    """A capture file that cannot be analysed; the message says where and why."""


@dataclass(frozen=True)
class Capture:
    axes: np.ndarray = field(repr=False)  # (k, n) float64
    names: tuple[str, ...]
    fs: float


def _names(k: int, header: list[str] | None) -> tuple[str, ...]:
    if header:
        return tuple(h.strip() or f"ch{i + 1}" for i, h in enumerate(header))
    return ("X", "Y", "Z")[:k] if k <= 3 else tuple(f"ch{i + 1}" for i in range(k))


def _check(path: Path, a: np.ndarray, names: tuple[str, ...], fs: float) -> Capture:
    if a.shape[0] > MAX_AXES:
        raise CaptureFileError(f"{path}: {a.shape[0]} channels; at most {MAX_AXES} axes")
    if a.shape[1] < MIN_SAMPLES:
        raise CaptureFileError(
            f"{path}: {a.shape[1]} samples per axis; at least {MIN_SAMPLES} are needed"
        )
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        ch, i = bad[0]
        raise CaptureFileError(f"{path}: axis {names[ch]} sample {i} is not a finite number")
    for ch in range(a.shape[0]):
        if np.ptp(a[ch]) == 0:
            raise CaptureFileError(f"{path}: axis {names[ch]} is constant (sensor not connected?)")
    return Capture(a.astype(np.float64), names, fs)


def read_csv(path: Path, fs: float) -> Capture:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CaptureFileError(f"{path}: not a UTF-8 text file (is it really CSV?)") from None
    sample = text[:4096]
    try:
        delim = csv.Sniffer().sniff(sample, delimiters=",;\t ").delimiter
    except csv.Error:
        delim = ","
    rows = list(csv.reader(text.splitlines(), delimiter=delim))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise CaptureFileError(f"{path}: the file is empty")
    header = None
    try:
        [float(c) for c in rows[0] if c.strip()]
    except ValueError:
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise CaptureFileError(f"{path}: a header but no data rows")
    width = len([c for c in rows[0] if c.strip()])
    data = np.empty((len(rows), width))
    for i, r in enumerate(rows):
        cells = [c for c in r if c.strip()]
        line = i + (2 if header else 1)
        if len(cells) != width:
            raise CaptureFileError(
                f"{path}: row {line} has {len(cells)} columns, the first data row has {width}"
            )
        for j, c in enumerate(cells):
            try:
                data[i, j] = float(c)
            except ValueError:
                raise CaptureFileError(
                    f"{path}: row {line} column {j + 1}: {c.strip()!r} is not a number"
                ) from None
    if header is not None and len(header) != width:
        raise CaptureFileError(f"{path}: header has {len(header)} names for {width} columns")
    return _check(path, data.T, _names(width, header), fs)


def read_wav(path: Path, fs: float | None) -> Capture:
    try:
        from scipy.io import wavfile

        rate, data = wavfile.read(path)
    except (ValueError, OSError, wave.Error) as exc:
        raise CaptureFileError(f"{path}: not a readable WAV file ({exc})") from None
    if fs is not None and not math.isclose(rate, fs, rel_tol=1e-6):
        raise CaptureFileError(f"{path}: the file says {rate} Hz but --fs is {fs:g} Hz")
    a = np.asarray(data)
    if np.issubdtype(a.dtype, np.integer):
        # Integer PCM: full scale is ±1 (multiply by the sensor's sensitivity to get m/s²).
        a = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    a = np.atleast_2d(a.T) if a.ndim == 2 else a[None, :]
    return _check(path, a.astype(np.float64), _names(a.shape[0], None), float(rate))


def read_npy(path: Path, fs: float) -> Capture:
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CaptureFileError(f"{path}: not a readable .npy array ({exc})") from None
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise CaptureFileError(f"{path}: array of {a.dtype}, expected real numbers")
    if a.ndim == 1:
        a = a[None, :]
    elif a.ndim == 2:
        # One column per axis like the CSV, unless clearly one row per axis.
        a = a.T if a.shape[0] > a.shape[1] else a
    else:
        raise CaptureFileError(f"{path}: array of shape {a.shape}; expected 1-D or 2-D")
    return _check(path, a.astype(np.float64), _names(a.shape[0], None), fs)


def read_capture(path: Path, fs: float | None) -> Capture:
    """Read by extension (.csv/.txt, .wav, .npy)."""
    if not path.is_file():
        raise CaptureFileError(f"{path}: no such file")
    ext = path.suffix.lower()
    if ext in (".csv", ".txt"):
        if fs is None:
            raise CaptureFileError("--fs is required for CSV files")
        return read_csv(path, fs)
    if ext == ".wav":
        return read_wav(path, fs)
    if ext == ".npy":
        if fs is None:
            raise CaptureFileError("--fs is required for NPY files")
        return read_npy(path, fs)
    raise CaptureFileError(f"{path}: unknown file type {ext or '(none)'}; use .csv, .wav or .npy")
