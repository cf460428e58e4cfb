"""Intelligent diagnosis (P9): a small classifier over the shape features, combined with the
rules, versioned in a model store and retrainable.

Training data: captures from the fault-mechanism simulator (``simulate``: randomised machines,
nine classes), the real inner-race recordings shipped in pybearing's source archive
(``datasets``), and later the case library (``extra`` captures). Evaluation is on data the model
never saw: fresh simulator seeds, the demo plant's pumps (a different simulator), and pybearing
recordings held out by recording (em sp_3, sp_4 and the 306 rpm test-rig force signal).

Model store: ``<home>/var/models/vibration/v<N>/model.joblib`` + ``meta.json`` (classes,
feature names, scikit-learn version, training counts, held-out scores); the highest N is in
force. ``vib.diagnosis_model`` (migration 0017) registers the versions.

    model, report = train(home_dir, cache_dir, per_class=40, seed=1)
    m = load_latest(store_dir(home_dir))
    proba = m.predict_proba([af.vector for af in axes.values()])      # {class: p}
    findings = combine(rule_findings, proba, level_known=True)
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics.vibration.faults import FAULTS, Finding
from analytics.vibration.features import FEATURE_NAMES, axis_features
from analytics.vibration.simulate import CLASSES, simulate_capture

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
#: A class the classifier alone must reach before it reports a fault the rules did not find.
CLASSIFIER_ONLY = 0.6
#: Velocity-level faults the classifier may only report when the level is beyond zone A.
LEVEL_FAULTS = ("unbalance", "misalignment", "looseness")


def store_dir(home: Path) -> Path:
    return home / "var" / "models" / "vibration"


@dataclass
class Model:
    """A fitted classifier and its metadata (what ``meta.json`` holds)."""

    version: int
    clf: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.clf.classes_]

    def predict_proba(self, vectors: Sequence[np.ndarray]) -> dict[str, float]:
        """Capture-level probabilities: the mean over its axes' feature vectors."""
        X = np.vstack([np.asarray(v, dtype=float) for v in vectors])
        p = self.clf.predict_proba(X).mean(axis=0)
        return {c: float(v) for c, v in zip(self.classes, p, strict=True)}


# -- data ----------------------------------------------------------------------------------


def _capture_vectors(acc: np.ndarray, fs: float, fr: float, defects) -> list[np.ndarray]:
    rows = np.atleast_2d(acc)
    return [axis_features(r, fs, fr, defects, cepstrum=True).vector for r in rows]


def simulated_set(per_class: int, seed: int) -> tuple[list[list[np.ndarray]], list[str]]:
    """``per_class`` simulated captures per class: (per-capture axis vectors, labels)."""
    rng = np.random.default_rng(seed)
    X: list[list[np.ndarray]] = []
    y: list[str] = []
    for label in CLASSES:
        for _ in range(per_class):
            acc, fs, fr, orders = simulate_capture(label, rng)
            X.append(_capture_vectors(acc, fs, fr, orders.at(fr)))
            y.append(label)
    return X, y


def pybearing_set(
    cache_dir: Path, names: Sequence[str], segment_s: float = 0.65
) -> tuple[list[list[np.ndarray]], list[str], list[str]]:
    """Segments of the named pybearing recordings: (vectors, labels, recording names)."""
    from analytics.vibration.bearings import catalogue_entry
    from analytics.vibration.datasets import load_measurements

    recs = [
        r
        for r in load_measurements(cache_dir, motor=any(n.startswith("em") for n in names))
        if r.name in names
    ]
    X, y, g = [], [], []
    for r in recs:
        orders = catalogue_entry(r.bearing).orders
        # At least ~12 revolutions per segment, so the slow test rig gets long enough ones.
        seg = int(max(segment_s, 12 * 60 / r.rpm) * r.fs)
        for s0 in range(0, r.signal.size - seg + 1, seg):
            x = r.signal[s0 : s0 + seg]
            X.append(_capture_vectors(x, r.fs, r.rpm / 60, orders.at_rpm(r.rpm)))
            y.append(r.fault)
            g.append(r.name)
    return X, y, g


def demo_plant_set(seed: int = 3) -> tuple[list[list[np.ndarray]], list[str]]:
    """The demo plant's pumps (``ingest.simulator.pumps``) at full fault severity, both
    sensors, plus each pump before its fault starts (normal)."""
    from analytics.vibration.bearings import Geometry
    from ingest.simulator.pumps import demo_plant

    kind = {"outer_race": "bearing_outer_race", "inner_race": "bearing_inner_race"}
    X, y = [], []
    for pump in demo_plant(seed):
        fault = pump.faults[0]
        late = fault.start_s + fault.ramp_s + 600.0
        times = [(late, kind.get(fault.kind, fault.kind))]
        if fault.start_s >= 600:
            times.append((fault.start_s - 300.0, "normal"))
        for t_s, label in times:
            for sensor in ("DE", "NDE"):
                b = pump.spec.bearing_de if sensor == "DE" else pump.spec.bearing_nde
                geo = Geometry(b.n_elements, b.element_d_mm, b.pitch_d_mm, b.contact_deg)
                fr = pump.speed_rpm(t_s) / 60
                acc = pump.acceleration(t_s, sensor, n=16384)
                X.append(_capture_vectors(acc, 25600.0, fr, geo.orders().at(fr)))
                y.append(label)
    return X, y


# -- training ------------------------------------------------------------------------------


def _fit(X: list[list[np.ndarray]], y: list[str], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    rows = [v for cap in X for v in cap]
    labels = [lab for cap, lab in zip(X, y, strict=True) for _ in cap]
    clf = RandomForestClassifier(
        n_estimators=80,
        max_depth=10,
        min_samples_leaf=2,
        class_weight="balanced",
        random_state=seed,
        n_jobs=1,
    )
    clf.fit(np.vstack(rows), labels)
    return clf


def _accuracy(model: Model, X: list[list[np.ndarray]], y: list[str]) -> dict[str, Any]:
    if not X:
        return {"n": 0}
    pred = []
    for cap in X:
        p = model.predict_proba(cap)
        pred.append(max(p, key=p.get))
    correct = [p == t for p, t in zip(pred, y, strict=True)]
    per: dict[str, list[int]] = {}
    for p, t in zip(pred, y, strict=True):
        per.setdefault(t, [0, 0])
        per[t][0] += int(p == t)
        per[t][1] += 1
    return {
        "n": len(y),
        "accuracy": round(float(np.mean(correct)), 4),
        "per_class": {k: f"{a}/{b}" for k, (a, b) in sorted(per.items())},
        "confusions": sorted({f"{t}->{p}" for p, t in zip(pred, y, strict=True) if p != t}),
    }


def train(
    home: Path,
    cache_dir: Path,
    *,
    per_class: int = 40,
    seed: int = 1,
    extra: Sequence[tuple[list[np.ndarray], str]] = (),
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[Model, dict[str, Any]]:
    """Train, evaluate on held-out data, and save a new version in the store."""
    t0 = time.perf_counter()
    say(f"simulating {per_class} captures per class for training …")
    X, y = simulated_set(per_class, seed)
    say("reading pybearing recordings (train: em_sp_1, em_sp_2) …")
    px, py, _ = pybearing_set(cache_dir, ("em_sp_1", "em_sp_2"))
    X += px
    y += py
    for vecs, label in extra:
        if label not in CLASSES:
            raise ValueError(f"case label {label!r} is not one of {', '.join(CLASSES)}")
        X.append(vecs)
        y.append(label)
    clf = _fit(X, y, seed)
    store = store_dir(home)
    version = 1 + max(
        (int(p.name[1:]) for p in store.glob("v*") if p.name[1:].isdigit()), default=0
    )
    model = Model(version, clf)
    say("evaluating on held-out data …")
    sx, sy = simulated_set(max(4, per_class // 4), seed + 1000)
    hx, hy, _ = pybearing_set(cache_dir, ("em_sp_3", "em_sp_4", "measurement"))
    dx, dy = demo_plant_set()
    report = {
        "held_out_simulated": _accuracy(model, sx, sy),
        "held_out_pybearing": _accuracy(model, hx, hy),
        "held_out_demo_plant": _accuracy(model, dx, dy),
        "train_captures": {c: int(sum(1 for v in y if v == c)) for c in CLASSES},
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    import sklearn

    model.meta = {
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "classes": model.classes,
        "features": list(FEATURE_NAMES),
        "algorithm": "RandomForestClassifier(n_estimators=80, max_depth=10)",
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "seed": seed,
        "per_class": per_class,
        "sources": ["analytics.vibration.simulate", "pybearing 1.0.4 em_sp_1, em_sp_2"]
        + (["case library"] if extra else []),
        "metrics": report,
    }
    save(model, store)
    return model, report


def save(model: Model, store: Path) -> Path:
    import joblib

    d = store / f"v{model.version}"
    d.mkdir(parents=True, exist_ok=False)
    joblib.dump(model.clf, d / MODEL_FILE, compress=3)
    model.meta["sha256"] = hashlib.sha256((d / MODEL_FILE).read_bytes()).hexdigest()
    model.meta["size_bytes"] = (d / MODEL_FILE).stat().st_size
    (d / META_FILE).write_text(json.dumps(model.meta, indent=2, ensure_ascii=False))
    return d


def load_latest(store: Path) -> Model | None:
    """The highest version in the store whose file matches its recorded SHA-256, or None."""
    import joblib

    versions = sorted(
        (int(p.name[1:]) for p in store.glob("v*") if p.name[1:].isdigit()), reverse=True
    )
    for v in versions:
        d = store / f"v{v}"
        try:
            meta = json.loads((d / META_FILE).read_text())
            blob = (d / MODEL_FILE).read_bytes()
        except (OSError, ValueError):
            continue
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            continue  # a model file changed after training is not trusted (it is a pickle)
        if meta.get("features") != list(FEATURE_NAMES):
            continue  # trained on another feature layout
        return Model(v, joblib.load(d / MODEL_FILE), meta)
    return None


#: ``current_model`` cache: store path → (listing signature, model). Loading a joblib forest
#: takes ~0.3 s; the pump pages analyse on every callback, so the model is kept until the
#: store's listing changes (a new version trained by ``hazwatch vib train``).
_CURRENT: dict[Path, tuple[tuple[tuple[str, int], ...], Model | None]] = {}


def _signature(store: Path) -> tuple[tuple[str, int], ...]:
    try:
        return tuple(sorted((p.name, (p / META_FILE).stat().st_mtime_ns) for p in store.glob("v*")))
    except OSError:
        return ()


def current_model(home: Path) -> Model | None:
    """The model in force for ``home`` (highest sound version), cached between calls::

    res = analyze_capture(acc, fs, rpm, model=current_model(settings.home))
    """
    store = store_dir(home)
    sig = _signature(store)
    hit = _CURRENT.get(store)
    if hit is not None and hit[0] == sig:
        return hit[1]
    model = load_latest(store)
    _CURRENT[store] = (sig, model)
    return model


def ensure_model(
    home: Path, cache_dir: Path, *, say: Callable[[str], None] = lambda _m: None
) -> Model:
    """The model in force, training version 1 first when the store has none (``hazwatch
    install``: a fresh installation diagnoses with rules and classifier from the start)."""
    model = load_latest(store_dir(home))
    if model is not None:
        say(f"vibration diagnosis model v{model.version} is installed")
        return model
    say("training the vibration diagnosis model v1 (about two minutes, once) …")
    model, report = train(home, cache_dir, say=say)
    scores = ", ".join(
        f"{report[f'held_out_{k}'].get('accuracy', float('nan')):.2f} {k.replace('_', ' ')}"
        for k in ("simulated", "demo_plant", "pybearing")
    )
    say(f"installed diagnosis model v{model.version}: held-out accuracy {scores}")
    return model


def register_model(conn: Any, meta: dict[str, Any], path: Path) -> None:
    """Record a trained version in vib.diagnosis_model (idempotent by version)."""
    conn.execute(
        "INSERT INTO vib.diagnosis_model (version, path, sha256, classes, features, metrics,"
        " trained_at) VALUES (%s, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (version) DO NOTHING",
        (
            meta["version"],
            str(path),
            meta["sha256"],
            meta["classes"],
            meta["features"],
            json.dumps(meta["metrics"]),
        ),
    )


# -- combination ---------------------------------------------------------------------------


def combine(
    rules: list[Finding],
    proba: dict[str, float] | None,
    *,
    level_known: bool,
    zone: str | None,
    model_version: int | None = None,
) -> list[Finding]:
    """Rules and classifier together: a rule finding's confidence becomes the mean of the rule
    and the classifier's probability for it (when a model exists); a fault only the classifier
    sees is reported from p ≥ 0.6 (shaft faults only beyond zone A), graded from p."""
    if not proba:
        return rules
    out = []
    seen = set()
    for f in rules:
        p = proba.get(f.fault, 0.0)
        f.confidence = round(0.5 * f.confidence + 0.5 * p, 3)
        f.evidence = [*f.evidence, {"text": f"classifier v{model_version}: p={p:.2f}"}]
        f.source = "rules+classifier"
        out.append(f)
        seen.add(f.fault)
    for fault in FAULTS:
        p = proba.get(fault, 0.0)
        if fault in seen or p < CLASSIFIER_ONLY:
            continue
        if fault in LEVEL_FAULTS and level_known and zone == "A":
            continue
        grade = "high" if p >= 0.9 else "medium" if p >= 0.75 else "low"
        ev: list[dict[str, object]] = [
            {"text": f"classifier v{model_version}: p={p:.2f} (no rule fired; check the spectra)"}
        ]
        out.append(Finding(fault, round(0.8 * p, 3), grade, ev, "classifier"))
    return sorted(out, key=lambda f: f.confidence, reverse=True)
