"""``hazwatch vib …``: analyse a capture file, train the diagnosis model.

hazwatch vib analyze pump.csv --fs 25600 --rpm 2970 --bearing 6205 --json
hazwatch vib analyze rig.npy --fs 6400 --rpm 306 --bearing-geometry n=7,d=2.77,D=10.514
hazwatch vib analyze m.wav --fs 50000 --rpm 2500 \
        --defect-frequencies bpfo=2.58,bpfi=4.42,bsf=1.77,ftf=0.368
hazwatch vib train [--per-class 40] [--seed 1] [--register] [--from-cases]
"""

from __future__ import annotations

from pathlib import Path

import click

from hazwatch.errors import HazwatchError


def _home() -> Path:
    from hazwatch.settings import load_settings

    return load_settings().home


@click.group("vib")
def vib() -> None:
    """Pump vibration analysis (P8, P9)."""


def _band(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split("-", 1))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected LOW-HIGH in Hz, e.g. 2000-4000") from None
    if not 0 <= lo < hi:
        raise click.BadParameter(f"{text!r}: LOW must be below HIGH")
    return lo, hi


@vib.command("analyze")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--fs", type=float, required=True, help="Sample rate, Hz.")
@click.option("--rpm", type=float, required=True, help="Running speed, rpm (nominal).")
@click.option("--bearing", "bearing_model", help="Bearing model from the catalogue (e.g. 6205).")
@click.option("--bearing-geometry", help="n=N,d=MM,D=MM,angle=DEG")
@click.option(
    "--defect-frequencies", help="bpfo=..,bpfi=..,bsf=..,ftf=.. (× running speed, or ..hz)"
)
@click.option(
    "--unit",
    default="m/s2",
    show_default=True,
    help="Unit of the samples: m/s2 or g (severity and shaft rules), anything else "
    "for bearing-only analysis of e.g. force or sound.",
)
@click.option("--axes", help="Axis names, comma-separated (default: CSV header, else X,Y,Z).")
@click.option("--band", help="Envelope band LOW-HIGH in Hz (default: automatic).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def analyze(
    file: Path,
    fs: float,
    rpm: float,
    bearing_model: str | None,
    bearing_geometry: str | None,
    defect_frequencies: str | None,
    unit: str,
    axes: str | None,
    band: str | None,
    as_json: bool,
) -> None:
    """Analyse a capture file (CSV one column per axis, WAV, NPY)."""
    from analytics.vibration import bearings
    from analytics.vibration.analyze import analyze_capture
    from analytics.vibration.diagnosis import load_latest, store_dir
    from analytics.vibration.io import CaptureFileError, read_capture

    given = [x for x in (bearing_model, bearing_geometry, defect_frequencies) if x]
    if len(given) > 1:
        raise click.UsageError(
            "give only one of --bearing, --bearing-geometry, --defect-frequencies"
        )
    if fs <= 0:
        raise click.BadParameter("must be positive", param_hint="--fs")
    if rpm <= 0:
        raise click.BadParameter("must be positive", param_hint="--rpm")
    try:
        if bearing_model:
            orders = bearings.catalogue_entry(bearing_model).orders
        elif bearing_geometry:
            orders = bearings.parse_geometry(bearing_geometry).orders()
        elif defect_frequencies:
            orders = bearings.parse_defect_frequencies(defect_frequencies, rpm)
        else:
            orders = None
    except ValueError as exc:
        raise HazwatchError(str(exc)) from None
    try:
        cap = read_capture(file, fs)
    except CaptureFileError as exc:
        raise HazwatchError(str(exc)) from None
    names = cap.names
    if axes:
        names = tuple(a.strip() for a in axes.split(","))
        if len(names) != cap.axes.shape[0]:
            raise HazwatchError(f"--axes names {len(names)} axes, the file has {cap.axes.shape[0]}")
    model = load_latest(store_dir(_home()))
    try:
        res = analyze_capture(
            cap.axes,
            cap.fs,
            rpm,
            names=names,
            bearing=orders,
            unit=unit,
            band=_band(band),
            model=model,
        )
    except ValueError as exc:
        raise HazwatchError(str(exc)) from None
    if as_json:
        click.echo(res.to_json())
        return
    click.echo(_text(res, file))


def _text(res, file: Path) -> str:
    d = res.to_dict()
    lines = [
        f"{file}: {len(res.names)} axis/axes ({', '.join(res.names)}), {res.samples} samples "
        f"at {res.fs:g} Hz"
    ]
    sp = d["speed"]
    lines.append(f"speed       {sp['rpm']:.1f} rpm ({sp['fr_hz']:.3f} Hz, {sp['source']})")
    bf = d["bearing_frequencies"]
    if bf:
        lines.append(
            "bearing     "
            + "  ".join(f"{k.upper()} {bf[k]:.2f} Hz" for k in ("ftf", "bsf", "bpfo", "bpfi"))
        )
    else:
        lines.append("bearing     (no bearing given: no defect frequencies)")
    sev = d["severity"]
    if sev:
        lines.append(
            f"severity    {sev['velocity_rms_mm_s']:.2f} mm/s r.m.s. → zone {sev['zone']} "
            f"({sev['zone_text']['zh']} / {sev['zone_text']['en']}; {sev['limits_source']})"
        )
    else:
        lines.append(f"severity    not judged: samples are in {res.unit}, not m/s2 or g")
    lines.append(f"spectrum    axis {res.spectrum_axis} ({d['spectrum_unit']} peak):")
    for p in d["spectrum_peaks"]:
        lines.append(f"    {p['freq']:10.2f} Hz  {p.get('order', 0):6.2f}×  {p['amp']:.4g}")
    band = d["envelope_band_hz"]
    lines.append(
        f"envelope    axis {res.envelope_axis}, band {band['lo_hz']:.0f}–{band['hi_hz']:.0f} Hz "
        f"({band['method']}):"
    )
    for p in d["envelope_peaks"]:
        lines.append(f"    {p['freq']:10.2f} Hz  {p.get('order', 0):6.2f}×  {p['amp']:.4g}")
    if not d["diagnosis"]:
        lines.append("diagnosis   no fault found (正常)")
    for f in d["diagnosis"]:
        lines.append(
            f"diagnosis   {f['fault']} ({f['name']['zh']}), confidence {f['confidence']:.2f}, "
            f"grade {f['grade']} ({f['grade_text']['zh']})"
        )
        for e in f["evidence"]:
            lines.append(f"    - {e['text']}")
        if f["suggestion"]:
            lines.append(f"    建议: {f['suggestion']['zh']}")
            lines.append(f"    advice: {f['suggestion']['en']}")
    if res.model_version is None:
        lines.append("classifier  none trained yet (hazwatch vib train); rules only")
    else:
        lines.append(f"classifier  model v{res.model_version}")
    return "\n".join(lines)


@vib.command("train")
@click.option("--per-class", type=click.IntRange(4, 500), default=40, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--register", is_flag=True, help="Also record the version in vib.diagnosis_model.")
@click.option(
    "--from-cases",
    is_flag=True,
    help="Add the case library's labelled snapshots (P12) to the training data; implies "
    "--register.",
)
def train_cmd(per_class: int, seed: int, register: bool, from_cases: bool) -> None:
    """Train a new diagnosis model version (simulated physics + pybearing recordings, and with
    --from-cases the fault cases closed in this plant)."""
    import json

    from analytics.vibration.cases import training_examples
    from analytics.vibration.diagnosis import register_model, store_dir, train
    from hazwatch.db import connect
    from hazwatch.settings import load_settings

    home = _home()
    extra = []
    if from_cases:
        with connect(load_settings()) as conn:
            extra = training_examples(conn)
        click.echo(f"{len(extra)} labelled cases from the case library", err=True)
    try:
        model, report = train(
            home,
            home / "var" / "cache" / "pybearing",
            per_class=per_class,
            seed=seed,
            extra=extra,
            say=lambda m: click.echo(m, err=True),
        )
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        raise HazwatchError(str(exc)) from None
    path = store_dir(home) / f"v{model.version}"
    if register or from_cases:
        with connect(load_settings()) as conn:
            register_model(conn, model.meta, path)
    click.echo(f"model v{model.version} saved in {path}")
    click.echo(json.dumps(report, indent=2))
