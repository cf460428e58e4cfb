"""Diagnosis (P4, P9): the demo plant's injected faults, the real pybearing recordings, the
classifier's store and its combination with the rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analytics.vibration import diagnosis
from analytics.vibration.analyze import analyze_capture
from analytics.vibration.bearings import Geometry, catalogue_entry
from analytics.vibration.datasets import load_measurements
from analytics.vibration.faults import FAULTS, Finding
from ingest.simulator.pumps import demo_plant

CACHE = Path(__file__).resolve().parents[3] / "var" / "cache" / "pybearing"
KIND = {"outer_race": "bearing_outer_race", "inner_race": "bearing_inner_race"}


@pytest.fixture(scope="module")
def recordings() -> list:
    return load_measurements(CACHE)


@pytest.mark.parametrize("index", range(6))
def test_demo_plant_faults_are_found_and_healthy_pumps_are_clean(index: int) -> None:
    pump = demo_plant(seed=1)[index]
    fault = pump.faults[0]
    expected = KIND.get(fault.kind, fault.kind)
    sensor = fault.sensor if fault.kind in KIND else "DE"
    b = pump.spec.bearing_de if sensor == "DE" else pump.spec.bearing_nde
    orders = Geometry(b.n_elements, b.element_d_mm, b.pitch_d_mm, b.contact_deg).orders()
    t_full = fault.start_s + fault.ramp_s + 600
    res = analyze_capture(
        pump.acceleration(t_full, sensor, n=32768),
        25600.0,
        pump.spec.rated_speed_rpm,
        bearing=orders,
    )
    assert res.diagnosis, f"{pump}: nothing found"
    assert res.diagnosis[0].fault == expected, [f.fault for f in res.diagnosis]
    assert res.diagnosis[0].evidence and res.diagnosis[0].confidence >= 0.5
    if fault.start_s >= 600:
        before = analyze_capture(
            pump.acceleration(fault.start_s - 300, sensor, n=32768),
            25600.0,
            pump.spec.rated_speed_rpm,
            bearing=orders,
        )
        assert before.diagnosis == [], [f.fault for f in before.diagnosis]
        assert before.severity.zone == "A"


def test_pybearing_recordings_are_diagnosed_as_inner_race(recordings: list) -> None:
    orders = catalogue_entry("NMB_1560kk").orders
    assert {r.name for r in recordings} == {
        "measurement",
        "em_sp_1",
        "em_sp_2",
        "em_sp_3",
        "em_sp_4",
    }
    for r in recordings:
        x = r.signal[: min(r.signal.size, 131072)]
        res = analyze_capture(x, r.fs, r.rpm, names=("ch1",), bearing=orders, unit=r.unit)
        assert res.severity is None  # force / sound pressure: no ISO zone
        assert res.diagnosis, r.name
        assert res.diagnosis[0].fault == "bearing_inner_race", (
            r.name,
            [f.fault for f in res.diagnosis],
        )
        bpfi = res.bearing_frequencies.bpfi
        # BPFI is among the five strongest envelope lines (speed known only nominally: ±1.5 %;
        # at 306 rpm the 2× and BPFI−2× sidebands are stronger still).
        assert any(abs(p["freq"] - bpfi) < 0.015 * bpfi for p in res.envelope_peaks[:5]), r.name


def test_no_bearing_given_means_no_bearing_finding(recordings: list) -> None:
    r = recordings[1]
    res = analyze_capture(r.signal[:65536], r.fs, r.rpm, names=("ch1",), unit=r.unit)
    assert res.bearing_frequencies is None
    assert not [f for f in res.diagnosis if f.fault.startswith("bearing")]


def test_classifier_store_versions_and_combination(tmp_path: Path) -> None:
    X, y = diagnosis.simulated_set(per_class=6, seed=11)
    clf = diagnosis._fit(X, y, seed=11)
    store = diagnosis.store_dir(tmp_path)
    m1 = diagnosis.Model(
        1,
        clf,
        {
            "version": 1,
            "features": list(diagnosis.FEATURE_NAMES),
            "classes": [str(c) for c in clf.classes_],
            "metrics": {},
        },
    )
    diagnosis.save(m1, store)
    m2 = diagnosis.Model(2, clf, dict(m1.meta, version=2))
    diagnosis.save(m2, store)
    loaded = diagnosis.load_latest(store)
    assert loaded is not None and loaded.version == 2
    # A tampered model file is not loaded (it is a pickle): the previous version is used.
    (store / "v2" / diagnosis.MODEL_FILE).write_bytes(b"tampered")
    assert diagnosis.load_latest(store).version == 1
    meta = json.loads((store / "v1" / diagnosis.META_FILE).read_text())
    assert meta["sha256"] and meta["size_bytes"] < 5_000_000

    hx, hy = diagnosis.simulated_set(per_class=3, seed=12)
    acc = diagnosis._accuracy(loaded, hx, hy)
    assert acc["n"] == 27 and acc["accuracy"] >= 0.6, acc

    rule = Finding("unbalance", 0.9, "medium", [{"text": "1×"}])
    out = diagnosis.combine(
        [rule],
        {"unbalance": 0.7, "cavitation": 0.65, "looseness": 0.9},
        level_known=True,
        zone="A",
        model_version=1,
    )
    faults = [f.fault for f in out]
    assert faults[0] == "unbalance" and out[0].confidence == pytest.approx(0.8)
    assert "cavitation" in faults  # the classifier alone, above 0.6
    assert "looseness" not in faults  # a shaft fault in zone A is not reported by p alone
    assert set(faults) <= set(FAULTS)


def test_analysis_uses_a_model_and_reports_its_version() -> None:
    X, y = diagnosis.simulated_set(per_class=4, seed=21)
    model = diagnosis.Model(7, diagnosis._fit(X, y, seed=21), {})
    pump = demo_plant(seed=1)[0]
    res = analyze_capture(pump.acceleration(9000, "DE", n=16384), 25600.0, 2970.0, model=model)
    d = res.to_dict()
    assert d["classifier"]["model_version"] == 7
    assert sum(d["classifier"]["proba"].values()) == pytest.approx(1.0, abs=1e-3)
    assert d["diagnosis"][0]["fault"] == "unbalance"
    assert np.isfinite(d["severity"]["velocity_rms_mm_s"])


def test_current_model_is_cached_until_a_new_version_is_trained(tmp_path: Path) -> None:
    X, y = diagnosis.simulated_set(per_class=4, seed=21)
    clf = diagnosis._fit(X, y, seed=21)
    meta = {"features": list(diagnosis.FEATURE_NAMES), "metrics": {}}
    store = diagnosis.store_dir(tmp_path)
    assert diagnosis.current_model(tmp_path) is None
    diagnosis.save(diagnosis.Model(1, clf, dict(meta, version=1)), store)
    first = diagnosis.current_model(tmp_path)
    assert first is not None and first.version == 1
    assert diagnosis.current_model(tmp_path) is first  # not loaded again
    diagnosis.save(diagnosis.Model(2, clf, dict(meta, version=2)), store)
    assert diagnosis.current_model(tmp_path).version == 2
    # ensure_model (hazwatch install) keeps what is there instead of training again.
    said: list[str] = []
    assert diagnosis.ensure_model(tmp_path, CACHE, say=said.append).version == 2
    assert said == ["vibration diagnosis model v2 is installed"]


def test_install_trained_the_model_in_force() -> None:
    """`hazwatch install` (make test runs it first) trains v1 when the store is empty (P9)."""
    from hazwatch.settings import default_home

    model = diagnosis.current_model(default_home())
    assert model is not None, "hazwatch install did not leave a diagnosis model"
    assert set(model.classes) == {"normal", *FAULTS}
    metrics = model.meta["metrics"]
    for part in ("held_out_simulated", "held_out_pybearing", "held_out_demo_plant"):
        assert metrics[part]["n"] > 0 and 0.0 <= metrics[part]["accuracy"] <= 1.0, part
