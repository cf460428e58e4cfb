"""Vibration analysis benchmark (issue 8): the full analysis of one 65,536-sample capture
against one ``numpy.fft.rfft`` of the same capture, and a 100-capture waterfall, same run.

    .venv/bin/python bench/vibration.py            # ~1 min on 2 cores
    .venv/bin/python bench/vibration.py --repeat 3

The capture is the demo plant's P-201A drive end (CWRU 6205 bearing, outer-race defect),
three axes at 25.6 kHz; "full analysis" is ``analyze_capture``: speed refinement, severity,
per axis the velocity spectrum, kurtogram/targeted band search, Hilbert envelope and envelope
spectrum, cepstrum features, the rules and (when a model is in the store) the classifier —
one axis and all three axes are timed separately. Writes ``bench/results/vibration.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analytics.vibration.analyze import analyze_capture
from analytics.vibration.bearings import catalogue_entry
from analytics.vibration.cepstrum import real_cepstrum
from analytics.vibration.diagnosis import load_latest, store_dir
from analytics.vibration.envelope import envelope_spectrum, select_band
from analytics.vibration.spectrum import amplitude_spectrum, to_velocity, waterfall
from hazwatch.settings import load_settings
from ingest.simulator.pumps import demo_plant

RESULTS = Path(__file__).resolve().parent / "results" / "vibration.json"
N = 65536
FS = 25600.0


def _time(fn: Callable[[], object], repeat: int, inner: int = 1) -> dict[str, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "runs": len(runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    pump = demo_plant(seed=1)[2]
    acc = pump.acceleration(8000.0, "DE", n=N)
    x = acc[1]
    orders = catalogue_entry("6205").orders
    model = load_latest(store_dir(load_settings().home))
    fr = pump.speed_rpm(8000.0) / 60

    t = {}
    t["rfft"] = _time(lambda: np.fft.rfft(x), args.repeat, inner=200)
    t["spectrum_velocity"] = _time(lambda: to_velocity(amplitude_spectrum(x, FS)), args.repeat, 20)
    t["band_search"] = _time(
        lambda: select_band(x, FS, targets=(orders.bpfo * fr, orders.bpfi * fr)), args.repeat
    )
    t["envelope_spectrum"] = _time(
        lambda: envelope_spectrum(x, FS, band=(2000, 5000)), args.repeat, 5
    )
    t["cepstrum"] = _time(lambda: real_cepstrum(x, FS), args.repeat, 5)
    t["analysis_1_axis"] = _time(
        lambda: analyze_capture(x, FS, 2970.0, names=("Y",), bearing=orders, model=model),
        args.repeat,
    )
    t["analysis_3_axes"] = _time(
        lambda: analyze_capture(acc, FS, 2970.0, bearing=orders, model=model), args.repeat
    )
    caps = [pump.acceleration(8000.0 + 60 * i, "DE", n=N)[1] for i in range(100)]
    t["waterfall_100"] = _time(lambda: waterfall(caps, FS, fmax=2000.0), max(1, args.repeat // 2))
    res = analyze_capture(acc, FS, 2970.0, bearing=orders, model=model)
    base = t["rfft"]["median_s"]
    ratios = {k: v["median_s"] / base for k, v in t.items() if k != "rfft"}
    out = {
        "capture": {"samples": N, "sample_rate_hz": FS, "axes": 3, "pump": "P-201A DE"},
        "timings": t,
        "ratio_to_one_rfft": ratios,
        "diagnosis": [f.fault for f in res.diagnosis],
        "model_version": model.version if model else None,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "load_1min": os.getloadavg()[0],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"{'step':22} {'median ms':>10} {'× rfft':>9}")
    print(f"{'rfft (baseline)':22} {base * 1e3:10.3f} {1:9.1f}")
    for k, v in t.items():
        if k != "rfft":
            print(f"{k:22} {v['median_s'] * 1e3:10.1f} {ratios[k]:9.1f}")
    print(f"diagnosis: {out['diagnosis']}  (model v{out['model_version']})")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
