"""The fault case library (P12) and the capture helpers its spectra snapshot needs.

    cid = create_case(conn, actor, enterprise_id=3, equipment_id=7, title="P-101A 叶轮不平衡",
                      fault="unbalance", cause="叶轮结垢", action_taken="清理并动平衡",
                      spectra=snapshot(conn, 7, fired_at))
    update_case(conn, actor, cid, {"cause": "叶轮局部腐蚀结垢"})
    search_cases(conn, [3], text="不平衡", fault="unbalance")
    delete_case(conn, actor, cid)
    cap = load_capture(conn, sensor_id=12, at=when)   # Capture(time, fs, rpm, unit, axes)

A closed defect files its case through ``defects.close_defect``; cases may also be added by
hand (from experience elsewhere), with or without a snapshot. Every change is audited
(triggers; the snapshot itself is left out of the audit rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from analytics.vibration.bearings import DefectOrders, catalogue_entry
from analytics.vibration.faults import RECORDED_FAULTS
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting

FAULTS: Final = RECORDED_FAULTS
EDITABLE: Final = (
    "title",
    "fault",
    "grade",
    "description",
    "cause",
    "action_taken",
    "keywords",
    "occurred_at",
    "equipment_id",
)
#: Lines kept per spectrum in a snapshot (peak-preserving decimation above this).
SNAPSHOT_LINES: Final = 800
#: Axes of one capture may be stamped a little apart (read one after another).
CAPTURE_SLACK = timedelta(seconds=60)


class CaseError(HazwatchError):
    """A case that cannot be saved: names the field and why."""


# -- captures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """One triaxial capture of a sensor: acceleration rows in ``unit`` (usually m/s²)."""

    sensor_id: int
    time: datetime
    fs: float
    rpm: float | None
    unit: str
    axes: dict[str, np.ndarray]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.axes))

    def matrix(self) -> np.ndarray:
        n = min(len(a) for a in self.axes.values())
        return np.vstack([self.axes[k][:n] for k in self.names])


def capture_times(
    conn: psycopg.Connection, sensor_id: int, limit: int = 50, before: datetime | None = None
) -> list[datetime]:
    """Times of the newest captures of a sensor (one per capture, axis X or the first)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (date_trunc('minute', time)) time FROM vib.waveform
           WHERE sensor_id = %s AND (%s::timestamptz IS NULL OR time <= %s)
           ORDER BY date_trunc('minute', time) DESC, axis, time DESC LIMIT %s""",
        (sensor_id, before, before, limit),
    ).fetchall()
    return [r[0] for r in rows]


def load_capture(conn: psycopg.Connection, sensor_id: int, at: datetime) -> Capture | None:
    """The capture of ``sensor_id`` nearest ``at``: per axis the row nearest in time, within
    ``CAPTURE_SLACK`` of the first axis found."""
    first = conn.execute(
        """SELECT time FROM vib.waveform WHERE sensor_id = %s
           ORDER BY abs(extract(epoch FROM time - %s)) LIMIT 1""",
        (sensor_id, at),
    ).fetchone()
    if first is None:
        return None
    t0 = first[0]
    rows = conn.execute(
        """SELECT DISTINCT ON (axis) axis, time, sample_rate_hz, speed_rpm, unit, samples
           FROM vib.waveform WHERE sensor_id = %s AND time BETWEEN %s AND %s
           ORDER BY axis, abs(extract(epoch FROM time - %s))""",
        (sensor_id, t0 - CAPTURE_SLACK, t0 + CAPTURE_SLACK, t0),
    ).fetchall()
    fs = float(rows[0][2])
    rows = [r for r in rows if float(r[2]) == fs]
    return Capture(
        sensor_id=sensor_id,
        time=t0,
        fs=fs,
        rpm=next((float(r[3]) for r in rows if r[3]), None),
        unit=rows[0][4],
        axes={r[0]: np.asarray(r[5], dtype=float) for r in rows},
    )


def sensor_context(conn: psycopg.Connection, sensor_id: int) -> dict[str, Any]:
    """Rated speed and the bearing at the sensor's measurement point (DE / NDE)."""
    row = conn.execute(
        """SELECT s.measurement_point, e.rated_speed_rpm, e.bearing_de, e.bearing_nde, e.id,
                  e.rated_power_kw
           FROM registry.sensor s LEFT JOIN registry.equipment e ON e.id = s.equipment_id
           WHERE s.id = %s""",
        (sensor_id,),
    ).fetchone()
    if row is None:
        raise CaseError(f"sensor_id {sensor_id}: no such sensor")
    point, rpm, de, nde, eq, power = row
    model = nde if (point or "").upper().startswith("NDE") else de
    orders: DefectOrders | None = None
    if model:
        try:
            orders = catalogue_entry(model).orders
        except ValueError:
            orders = None
    return {
        "point": point,
        "rpm": rpm,
        "bearing": model,
        "orders": orders,
        "equipment_id": eq,
        "power_kw": power,
    }


def decimate(freqs: np.ndarray, amp: np.ndarray, fmax: float, lines: int = SNAPSHOT_LINES) -> dict:
    """A spectrum cut at ``fmax`` and reduced to at most ``lines`` lines, each the largest of
    its group (peaks survive), as JSON-ready lists."""
    keep = freqs <= fmax
    f, a = freqs[keep], amp[keep]
    if len(f) > lines:
        step = int(np.ceil(len(f) / lines))
        n = len(f) // step * step
        idx = a[:n].reshape(-1, step).argmax(axis=1) + np.arange(0, n, step)
        f, a = f[idx], a[idx]
    return {"freq": [round(float(x), 3) for x in f], "amp": [float(f"{y:.5g}") for y in a]}


def analyse(  # type: ignore[no-untyped-def]
    conn: psycopg.Connection,
    cap: Capture,
    band: tuple[float, float] | None = None,
    *,
    home: Path | None = None,
):
    """``analyze_capture`` of a stored capture with the pump's rated speed, bearing and limits,
    diagnosed by the rules and the classifier in force under ``home`` (default: the settings'
    home; rules only when no model was trained there)."""
    from analytics.vibration.analyze import analyze_capture
    from analytics.vibration.diagnosis import current_model
    from analytics.vibration.severity import default_limits
    from hazwatch.settings import load_settings

    ctx = sensor_context(conn, cap.sensor_id)
    rpm = cap.rpm or ctx["rpm"] or 2950.0
    limits = default_limits(power_kw=float(ctx["power_kw"] or 55.0))
    return analyze_capture(
        cap.matrix(),
        cap.fs,
        rpm,
        names=cap.names,
        bearing=ctx["orders"],
        unit=cap.unit,
        limits=limits,
        band=band,
        model=current_model(home or load_settings().home),
    )


def snapshot(conn: psycopg.Connection, equipment_id: int, at: datetime) -> dict[str, Any] | None:
    """The spectra of the pump's capture nearest ``at`` (worst sensor by severity): per axis
    the velocity spectrum to 1 kHz and the envelope spectrum, with peaks, severity, diagnosis
    and the classifier's feature vectors (for retraining from the library)."""
    sensors = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM registry.sensor WHERE equipment_id = %s AND kind = 'vibration_triaxial'"
            " ORDER BY code",
            (equipment_id,),
        ).fetchall()
    ]
    best: tuple[float, Any, Capture] | None = None
    for sid in sensors:
        cap = load_capture(conn, sid, at)
        if cap is None:
            continue
        res = analyse(conn, cap)
        score = res.severity.velocity_rms_mm_s if res.severity else 0.0
        if best is None or score > best[0]:
            best = (score, res, cap)
    if best is None:
        return None
    _, res, cap = best
    fr = res.rpm / 60
    axes = {}
    for name, feat in res.features.items():
        env_top = 500.0
        if res.bearing_frequencies is not None:
            env_top = 4 * max(res.bearing_frequencies.bpfi, 2 * res.bearing_frequencies.bsf)
        axes[name] = {
            "velocity": decimate(feat.velocity.freqs, feat.velocity.amp, max(1000.0, 12 * fr)),
            "envelope": decimate(feat.envelope.freqs, feat.envelope.amp, env_top),
            "vector": [float(x) for x in feat.vector],
        }
    return {
        "sensor_id": cap.sensor_id,
        "capture_time": cap.time.isoformat(),
        "analysis": res.to_dict(),
        "axes": axes,
    }


# -- the library -----------------------------------------------------------------------------


def _check(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise CaseError(f"{', '.join(sorted(unknown))}: not a case field")
    out = dict(values)
    if "title" in out and not str(out["title"] or "").strip():
        raise CaseError("title: required")
    if "fault" in out and out["fault"] not in FAULTS:
        raise CaseError(f"fault {out['fault']!r}: one of {', '.join(FAULTS)}")
    if out.get("grade") not in (None, "warning", "alarm", "danger"):
        raise CaseError(f"grade {out['grade']!r}: warning, alarm or danger")
    if "keywords" in out:
        kw = out["keywords"]
        if isinstance(kw, str):
            kw = [k for k in kw.replace("，", ",").split(",")]
        out["keywords"] = [str(k).strip() for k in kw or [] if str(k).strip()]
    return out


def create_case(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    enterprise_id: int,
    title: str,
    fault: str,
    equipment_id: int | None = None,
    defect_id: int | None = None,
    grade: str | None = None,
    description: str | None = None,
    cause: str | None = None,
    action_taken: str | None = None,
    keywords: Sequence[str] | str = (),
    occurred_at: datetime | None = None,
    spectra: Mapping[str, Any] | None = None,
) -> int:
    """Add a case; returns its id."""
    vals = _check({"title": title, "fault": fault, "grade": grade, "keywords": keywords})
    try:
        with acting(conn, actor, "fault case added"):
            row = conn.execute(
                """INSERT INTO vib.fault_case (enterprise_id, equipment_id, defect_id, title,
                       fault, grade, description, cause, action_taken, keywords, occurred_at,
                       spectra, created_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (
                    enterprise_id,
                    equipment_id,
                    defect_id,
                    vals["title"].strip(),
                    fault,
                    grade,
                    description,
                    cause,
                    action_taken,
                    vals["keywords"],
                    occurred_at,
                    Jsonb(dict(spectra)) if spectra is not None else None,
                    actor.name,
                ),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise CaseError(f"defect_id {defect_id}: already has a case") from None
    except psycopg.errors.ForeignKeyViolation as exc:
        raise CaseError(f"refused: {exc.diag.message_detail or exc}") from None
    assert row is not None
    return int(row[0])


def update_case(
    conn: psycopg.Connection, actor: Actor, case_id: int, values: Mapping[str, Any]
) -> None:
    vals = _check(values)
    if not vals:
        return
    from psycopg import sql

    query = sql.SQL("UPDATE vib.fault_case SET {} WHERE id = %s").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in vals)
    )
    with acting(conn, actor, "fault case edited"):
        cur = conn.execute(query, [*vals.values(), case_id])
    if cur.rowcount == 0:
        raise CaseError(f"case_id {case_id}: no such case")


def delete_case(conn: psycopg.Connection, actor: Actor, case_id: int) -> None:
    with acting(conn, actor, "fault case deleted"):
        cur = conn.execute("DELETE FROM vib.fault_case WHERE id = %s", (case_id,))
    if cur.rowcount == 0:
        raise CaseError(f"case_id {case_id}: no such case")


def get_case(conn: psycopg.Connection, case_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT c.*, e.code AS equipment_code, e.name AS equipment_name
               FROM vib.fault_case c LEFT JOIN registry.equipment e ON e.id = c.equipment_id
               WHERE c.id = %s""",
            (case_id,),
        ).fetchone()


def search_cases(
    conn: psycopg.Connection,
    enterprise_ids: list[int] | None,
    *,
    text: str | None = None,
    fault: str | None = None,
    equipment_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Cases in scope whose title, description, cause, action, keywords or pump contain
    ``text`` (case-insensitive), of ``fault`` and pump when given; newest first."""
    like = None
    if text and text.strip():
        like = (
            "%" + text.strip().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT c.id, c.enterprise_id, c.equipment_id, c.defect_id, c.title, c.fault,
                      c.grade, c.description, c.cause, c.action_taken, c.keywords,
                      c.occurred_at, c.created_by, c.created_at, c.spectra IS NOT NULL
                      AS has_spectra, e.code AS equipment_code, e.name AS equipment_name
               FROM vib.fault_case c LEFT JOIN registry.equipment e ON e.id = c.equipment_id
               WHERE (%(ents)s::integer[] IS NULL OR c.enterprise_id = ANY(%(ents)s))
                 AND (%(fault)s::text IS NULL OR c.fault = %(fault)s)
                 AND (%(eq)s::integer IS NULL OR c.equipment_id = %(eq)s)
                 AND (%(like)s::text IS NULL OR c.title ILIKE %(like)s
                      OR c.description ILIKE %(like)s OR c.cause ILIKE %(like)s
                      OR c.action_taken ILIKE %(like)s OR e.code ILIKE %(like)s
                      OR e.name ILIKE %(like)s
                      OR array_to_string(c.keywords, ' ') ILIKE %(like)s)
               ORDER BY coalesce(c.occurred_at, c.created_at) DESC, c.id DESC LIMIT %(limit)s""",
            {
                "ents": enterprise_ids,
                "fault": fault,
                "eq": equipment_id,
                "like": like,
                "limit": limit,
            },
        ).fetchall()


def training_examples(
    conn: psycopg.Connection, enterprise_ids: list[int] | None = None
) -> list[tuple[list[np.ndarray], str]]:
    """``(axis vectors, label)`` of cases with a snapshot, for ``diagnosis.train(extra=…)``."""
    rows = conn.execute(
        """SELECT fault, spectra FROM vib.fault_case WHERE spectra IS NOT NULL
             AND fault <> 'other'
             AND (%s::integer[] IS NULL OR enterprise_id = ANY(%s))""",
        (enterprise_ids, enterprise_ids),
    ).fetchall()
    out = []
    for fault, spectra in rows:
        vecs = [np.asarray(a["vector"]) for a in (spectra.get("axes") or {}).values()]
        if vecs:
            out.append((vecs, fault))
    return out
