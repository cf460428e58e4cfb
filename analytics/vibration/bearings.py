"""Rolling-element bearing defect frequencies (P4) from geometry or from catalogue values.

Kinematics (inner ring rotating, outer ring fixed; SKF "Vibration diagnostic guide" CM5003;
Randall & Antoni, "Rolling element bearing diagnostics — a tutorial", MSSP 25 (2011) 485–520),
with r = d/D · cos α (d rolling-element diameter, D pitch diameter, α contact angle), fr = shaft
speed in Hz:

    FTF  = fr/2 · (1 − r)            cage (fundamental train) frequency
    BPFO = n/2 · fr · (1 − r)        ball pass frequency, outer race
    BPFI = n/2 · fr · (1 + r)        ball pass frequency, inner race
    BSF  = D/(2d) · fr · (1 − r²)    ball spin frequency (a ball defect strikes both races: 2·BSF)

Catalogues (SKF's bearing calculator, the Case Western Reserve University data centre, pybearing's
table) give the same four numbers as multiples of running speed; ``DefectOrders`` holds either.

    g = Geometry(n=9, d_mm=7.94, D_mm=39.04, angle_deg=0)
    g.orders().at_rpm(1797).bpfo                         # Hz
    catalogue_entry("SKF 6205-2RS JEM").orders.bpfi      # 5.4152 (× running speed)
    parse_geometry("n=9,d=7.94,D=39.04,angle=0")
    parse_defect_frequencies("bpfo=3.58,bpfi=5.42,bsf=2.36,ftf=0.398", rpm=1797)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("ftf", "bsf", "bpfo", "bpfi")


@dataclass(frozen=True)
class DefectFrequencies:
    """The four defect frequencies in Hz at a running speed ``fr_hz``."""

    ftf: float
    bsf: float
    bpfo: float
    bpfi: float
    fr_hz: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in (*KINDS, "fr_hz")}

    def scaled(self, fr_hz: float) -> DefectFrequencies:
        """The same bearing at another speed (frequencies are proportional to speed)."""
        k = fr_hz / self.fr_hz
        return DefectFrequencies(self.ftf * k, self.bsf * k, self.bpfo * k, self.bpfi * k, fr_hz)


@dataclass(frozen=True)
class DefectOrders:
    """Defect frequencies as multiples of running speed (what catalogues print)."""

    ftf: float
    bsf: float
    bpfo: float
    bpfi: float

    def __post_init__(self) -> None:
        for k in KINDS:
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a positive number, got {v}")

    def at(self, fr_hz: float) -> DefectFrequencies:
        return DefectFrequencies(
            self.ftf * fr_hz, self.bsf * fr_hz, self.bpfo * fr_hz, self.bpfi * fr_hz, fr_hz
        )

    def at_rpm(self, rpm: float) -> DefectFrequencies:
        return self.at(rpm / 60.0)


@dataclass(frozen=True)
class Geometry:
    """n rolling elements of diameter d_mm on a pitch circle D_mm, contact angle in degrees."""

    n: int
    d_mm: float
    D_mm: float
    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n < 3:
            raise ValueError(f"a bearing has at least 3 rolling elements, not {self.n}")
        if not 0 < self.d_mm < self.D_mm:
            raise ValueError(
                f"rolling-element diameter d={self.d_mm} mm must be positive and smaller than "
                f"the pitch diameter D={self.D_mm} mm"
            )
        if not 0 <= self.angle_deg < 90:
            raise ValueError(f"contact angle {self.angle_deg}° must be in [0, 90)")

    def orders(self) -> DefectOrders:
        r = self.d_mm / self.D_mm * math.cos(math.radians(self.angle_deg))
        return DefectOrders(
            ftf=0.5 * (1 - r),
            bsf=self.D_mm / (2 * self.d_mm) * (1 - r * r),
            bpfo=self.n / 2 * (1 - r),
            bpfi=self.n / 2 * (1 + r),
        )


@dataclass(frozen=True)
class CatalogueEntry:
    """One bearing model: its geometry (when published) and defect orders, with the source."""

    model: str
    manufacturer: str
    kind: str
    orders: DefectOrders
    geometry: Geometry | None
    source: str
    bore_mm: float | None = None
    outer_mm: float | None = None
    width_mm: float | None = None


_PYBEARING = "pybearing 1.0.4 pybearing/data/database.csv (MIT, Anko & Slavič)"
_CWRU = (
    "Case Western Reserve University Bearing Data Center, bearing specifications "
    "(defect frequencies as multiples of running speed)"
)
_DEMO = "hazwatch demo plant (ingest/simulator/pumps.py), approximate geometry"


def _pyb(
    model: str,
    mfr: str,
    d: float,
    D: float,
    B: float,
    db: float,
    dm: float,
    n: int,
    fc: float,
    fre_ax: float,
    fo: float,
    fi: float,
) -> CatalogueEntry:
    return CatalogueEntry(
        model,
        mfr,
        "deep groove ball bearing",
        DefectOrders(fc, fre_ax, fo, fi),
        Geometry(n, db, dm, 0.0),
        _PYBEARING,
        d,
        D,
        B,
    )


#: Built-in catalogue; migration 0017 loads the same rows into vib.bearing_catalogue (a test
#: checks they agree). pybearing's ``f_re_ax`` is the ball spin frequency BSF (its ``f_re`` is
#: 2·BSF); CWRU's "rolling element" column is 2·BSF too, halved here.
CATALOGUE: dict[str, CatalogueEntry] = {
    e.model: e
    for e in (
        _pyb("NMB_1560kk", "NMB", 6, 15, 5, 2.770, 10.514, 7, 0.3683, 1.7661, 2.5779, 4.4221),
        _pyb("NMB_608DSD81", "NMB", 8, 22, 7, 3.950, 14.974, 7, 0.3681, 1.7635, 2.5767, 4.4233),
        _pyb("WTOO_608RS", "WTOO", 8, 22, 7, 3.960, 15.014, 7, 0.3681, 1.7638, 2.5769, 4.4231),
        _pyb("Allout_608ZZ", "Allout", 8, 22, 7, 3.968, 15.016, 7, 0.3679, 1.7600, 2.5751, 4.4249),
        CatalogueEntry(
            "SKF 6205-2RS JEM",
            "SKF",
            "deep groove ball bearing",
            DefectOrders(0.39828, 4.7135 / 2, 3.5848, 5.4152),
            Geometry(9, 7.94004, 39.0398, 0.0),
            _CWRU,
            25,
            52,
            15,
        ),
        CatalogueEntry(
            "SKF 6203-2RS JEM",
            "SKF",
            "deep groove ball bearing",
            DefectOrders(0.3817, 3.9874 / 2, 3.0530, 4.9469),
            Geometry(8, 6.74624, 28.4988, 0.0),
            _CWRU,
            17,
            40,
            12,
        ),
        CatalogueEntry(
            "6309 (demo)",
            "",
            "deep groove ball bearing",
            Geometry(8, 17.462, 72.5, 0.0).orders(),
            Geometry(8, 17.462, 72.5, 0.0),
            _DEMO,
            45,
            100,
            25,
        ),
        CatalogueEntry(
            "7309 BECBP (demo)",
            "",
            "angular contact ball bearing",
            Geometry(11, 17.462, 72.5, 40.0).orders(),
            Geometry(11, 17.462, 72.5, 40.0),
            _DEMO,
            45,
            100,
            25,
        ),
    )
}
_ALIASES = {
    "6205": "SKF 6205-2RS JEM",
    "6203": "SKF 6203-2RS JEM",
    "6309": "6309 (demo)",
    "7309": "7309 BECBP (demo)",
}


def catalogue_entry(model: str) -> CatalogueEntry:
    """Look a model up by exact name, case-insensitively, or by its short alias (6205 …)."""
    if model in CATALOGUE:
        return CATALOGUE[model]
    key = model.strip().lower()
    for name, e in CATALOGUE.items():
        if name.lower() == key:
            return e
    if key in _ALIASES:
        return CATALOGUE[_ALIASES[key]]
    raise ValueError(
        f"bearing {model!r} is not in the catalogue; known: {', '.join(sorted(CATALOGUE))} "
        "(or give --bearing-geometry / --defect-frequencies)"
    )


def _pairs(text: str, allowed: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"{what}: {part!r} is not key=value")
        k, v = (s.strip() for s in part.split("=", 1))
        if k not in allowed:
            raise ValueError(f"{what}: unknown key {k!r}; expected {', '.join(allowed)}")
        if k in out:
            raise ValueError(f"{what}: {k} given twice")
        out[k] = v
    return out


def _number(v: str, key: str, what: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{what}: {key}={v!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{what}: {key}={v!r} is not finite")
    return x


def parse_geometry(text: str) -> Geometry:
    """``n=N,d=MM,D=MM,angle=DEG`` (angle optional, default 0°)."""
    what = "bearing geometry"
    kv = _pairs(text, ("n", "d", "D", "angle"), what)
    missing = [k for k in ("n", "d", "D") if k not in kv]
    if missing:
        raise ValueError(f"{what}: missing {', '.join(missing)} (need n=N,d=MM,D=MM[,angle=DEG])")
    n = _number(kv["n"], "n", what)
    if n != int(n):
        raise ValueError(f"{what}: n={kv['n']} must be a whole number of rolling elements")
    return Geometry(
        int(n),
        _number(kv["d"], "d", what),
        _number(kv["D"], "D", what),
        _number(kv.get("angle", "0"), "angle", what),
    )


def parse_defect_frequencies(text: str, rpm: float) -> DefectOrders:
    """``bpfo=..,bpfi=..,bsf=..,ftf=..``: multiples of running speed (catalogue style), or Hz at
    ``rpm`` when a value ends in ``hz`` (``bpfo=107.4hz``). All four are required."""
    what = "defect frequencies"
    kv = _pairs(text, KINDS, what)
    missing = [k for k in KINDS if k not in kv]
    if missing:
        raise ValueError(f"{what}: missing {', '.join(missing)} (need bpfo, bpfi, bsf, ftf)")
    fr = rpm / 60.0
    vals = {}
    for k, v in kv.items():
        low = v.lower()
        if low.endswith("hz"):
            vals[k] = _number(low[:-2], k, what) / fr
        else:
            vals[k] = _number(v, k, what)
    return DefectOrders(**vals)
