"""``hazwatch vib analyze`` on CSV, WAV and NPY files (issue 8 item 8)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from analytics.vibration import faults
from ingest.simulator.pumps import demo_plant
from tests.conftest import run_cli

KEYS = {"bearing_frequencies", "spectrum_peaks", "envelope_peaks", "severity", "diagnosis"}
FAULTS = set(faults.FAULTS)


def _analyze(path: Path, *options: str, fs: str = "25600") -> subprocess.CompletedProcess[str]:
    """``hazwatch vib analyze`` of a capture of a pump running at 2970 rpm."""
    return run_cli("vib", "analyze", str(path), "--fs", fs, "--rpm", "2970", *options)


@pytest.fixture(scope="module")
def outer_race() -> np.ndarray:
    # P-201A carries the CWRU 6205 at its drive end with an outer-race defect.
    return demo_plant(seed=1)[2].acceleration(8000.0, "DE", n=32768)


def _check_json(out: str, fault: str) -> dict:
    d = json.loads(out)
    assert d.keys() >= KEYS
    assert set(d["bearing_frequencies"]) == {"ftf", "bsf", "bpfo", "bpfi"}
    assert d["bearing_frequencies"]["bpfo"] == pytest.approx(3.5848 * d["speed"]["fr_hz"], rel=1e-3)
    for key in ("spectrum_peaks", "envelope_peaks"):
        assert d[key] and all({"freq", "amp"} <= p.keys() for p in d[key])
    assert {"velocity_rms_mm_s", "zone"} <= d["severity"].keys()
    assert d["severity"]["zone"] in "ABCD"
    for f in d["diagnosis"]:
        assert {"fault", "confidence", "evidence"} <= f.keys() and f["fault"] in FAULTS
    assert d["diagnosis"][0]["fault"] == fault
    return d


def test_csv_with_header_json(tmp_path: Path, outer_race: np.ndarray) -> None:
    p = tmp_path / "p201a.csv"
    np.savetxt(p, outer_race.T, delimiter=",", header="X,Y,Z", comments="", fmt="%.6f")
    r = _analyze(p, "--bearing", "6205", "--json")
    assert r.returncode == 0, r.stderr
    d = _check_json(r.stdout, "bearing_outer_race")
    assert d["axes"] == ["X", "Y", "Z"]


def test_npy_with_geometry_and_text_output(tmp_path: Path, outer_race: np.ndarray) -> None:
    p = tmp_path / "p201a.npy"
    np.save(p, outer_race.T.astype(np.float32))
    r = _analyze(p, "--bearing-geometry", "n=9,d=7.94004,D=39.0398,angle=0", "--json")
    assert r.returncode == 0, r.stderr
    _check_json(r.stdout, "bearing_outer_race")
    r = _analyze(p, "--bearing", "6205")
    assert r.returncode == 0, r.stderr
    assert "BPFO" in r.stdout and "bearing_outer_race" in r.stdout and "轴承外圈故障" in r.stdout
    assert "zone" in r.stdout


def test_wav_with_defect_frequencies(tmp_path: Path, outer_race: np.ndarray) -> None:
    p = tmp_path / "p201a.wav"
    scale = np.abs(outer_race).max()
    pcm = np.round(outer_race.T / scale * 32000).astype("<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(3)
        w.setsampwidth(2)
        w.setframerate(25600)
        w.writeframes(pcm.tobytes())
    r = _analyze(
        p, "--defect-frequencies", "bpfo=3.5848,bpfi=5.4152,bsf=2.357,ftf=0.39828", "--json"
    )
    assert r.returncode == 0, r.stderr
    _check_json(r.stdout, "bearing_outer_race")
    r = _analyze(p, fs="20000")
    assert r.returncode == 1 and "file says 25600 Hz but --fs is 20000 Hz" in r.stderr


def test_bad_files_and_arguments_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    rows = "\n".join(f"{np.sin(i / 5):.4f},{np.cos(i / 5):.4f}" for i in range(400))
    bad.write_text("X,Y\n" + rows + "\n0.1,abc\n")
    r = _analyze(bad)
    assert r.returncode == 1
    assert "row 402 column 2: 'abc' is not a number" in r.stderr and "Traceback" not in r.stderr

    ragged = tmp_path / "ragged.csv"
    ragged.write_text(rows + "\n0.5\n")
    r = _analyze(ragged)
    assert r.returncode == 1 and "row 401 has 1 columns" in r.stderr

    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    r = _analyze(junk)
    assert r.returncode == 1 and "not a readable .npy array" in r.stderr

    junkwav = tmp_path / "junk.wav"
    junkwav.write_bytes(b"RIFF0000WAVEjunk")
    r = _analyze(junkwav)
    assert r.returncode == 1 and "not a readable WAV file" in r.stderr

    r = _analyze(tmp_path / "missing.csv")
    assert r.returncode == 1 and "no such file" in r.stderr

    short = tmp_path / "short.npy"
    np.save(short, np.random.default_rng(0).normal(size=100))
    r = _analyze(short)
    assert r.returncode == 1 and "at least 256 are needed" in r.stderr

    ok = tmp_path / "ok.npy"
    np.save(ok, np.random.default_rng(0).normal(size=4096))
    r = _analyze(ok, "--bearing", "nope")
    assert r.returncode == 1 and "'nope' is not in the catalogue" in r.stderr
    r = _analyze(ok, "--bearing", "6205", "--bearing-geometry", "n=9,d=8,D=39")
    assert r.returncode == 2 and "only one of" in r.stderr
    r = _analyze(ok, "--bearing-geometry", "n=9,d=8")
    assert r.returncode == 1 and "missing D" in r.stderr
    r = run_cli("vib", "analyze", str(ok), "--fs", "-1", "--rpm", "2970")
    assert r.returncode == 2 and "--fs" in r.stderr
    r = run_cli("vib", "analyze", str(ok), "--fs", "25600")
    assert r.returncode == 2 and "--rpm" in r.stderr
    txt = tmp_path / "x.xlsx"
    txt.write_text("x")
    r = _analyze(txt)
    assert r.returncode == 1 and "unknown file type .xlsx" in r.stderr
