"""Bearing defect frequencies against published values, severity zones (P3, P4)."""

from __future__ import annotations

import pytest

from analytics.vibration.bearings import (
    CATALOGUE,
    Geometry,
    catalogue_entry,
    parse_defect_frequencies,
    parse_geometry,
)
from analytics.vibration.severity import default_limits, zone


def test_skf_6205_geometry_matches_cwru_published_orders() -> None:
    # Case Western Reserve University Bearing Data Center, "Bearing information": drive-end
    # bearing 6205-2RS JEM SKF, 9 balls of 0.3126 in on a 1.537 in pitch; defect frequencies
    # (multiple of running speed): inner 5.4152, outer 3.5848, cage 0.39828, rolling element
    # 4.7135 (= 2·BSF).
    o = Geometry(9, 0.3126 * 25.4, 1.537 * 25.4, 0.0).orders()
    assert o.bpfi == pytest.approx(5.4152, abs=2e-4)
    assert o.bpfo == pytest.approx(3.5848, abs=2e-4)
    assert o.ftf == pytest.approx(0.39828, abs=5e-5)  # CWRU rounds to 5 digits
    assert 2 * o.bsf == pytest.approx(4.7135, abs=3e-4)
    # At 1797 rpm (CWRU 0 hp): BPFO = 107.36 Hz, BPFI = 162.19 Hz.
    f = o.at_rpm(1797)
    assert f.bpfo == pytest.approx(107.36, abs=0.02)
    assert f.bpfi == pytest.approx(162.19, abs=0.02)


def test_pybearing_table_values_agree_with_geometry() -> None:
    # pybearing's notebook: NMB 1560kk at 1000 rpm → cage 6.1379, outer 42.965, inner 73.7019,
    # rolling element about its axis 29.4351 Hz.
    e = catalogue_entry("NMB_1560kk")
    g = e.geometry.orders().at_rpm(1000)
    assert g.ftf == pytest.approx(6.1379, abs=1e-3)
    assert g.bpfo == pytest.approx(42.965, abs=1e-2)
    assert g.bpfi == pytest.approx(73.7019, abs=1e-2)
    assert g.bsf == pytest.approx(29.4351, abs=1e-2)
    assert e.orders.bpfi == pytest.approx(g.bpfi / (1000 / 60), abs=1e-3)


def test_catalogue_lookup_and_parsing_errors() -> None:
    assert catalogue_entry("6205").model == "SKF 6205-2RS JEM"
    assert catalogue_entry("nmb_1560KK").model == "NMB_1560kk"
    with pytest.raises(ValueError, match="not in the catalogue"):
        catalogue_entry("XYZ-999")
    g = parse_geometry("n=9,d=7.94,D=39.04,angle=0")
    assert g.orders().bpfo == pytest.approx(3.5847, abs=1e-3)
    with pytest.raises(ValueError, match="missing D"):
        parse_geometry("n=9,d=7.94")
    with pytest.raises(ValueError, match=r"d=50\.0 mm must be positive and smaller"):
        parse_geometry("n=9,d=50,D=39")
    with pytest.raises(ValueError, match=r"n=9\.5 must be a whole number"):
        parse_geometry("n=9.5,d=7,D=39")
    o = parse_defect_frequencies("bpfo=3.5848,bpfi=5.4152,bsf=2.357,ftf=0.39828", rpm=1797)
    assert o.bpfi == 5.4152
    hz = parse_defect_frequencies("bpfo=107.36hz,bpfi=162.19Hz,bsf=70.6hz,ftf=11.93hz", 1797)
    assert hz.bpfo == pytest.approx(3.5848, abs=1e-3)
    with pytest.raises(ValueError, match="missing ftf"):
        parse_defect_frequencies("bpfo=1,bpfi=2,bsf=3", 1000)
    with pytest.raises(ValueError, match="bsf='x' is not a number"):
        parse_defect_frequencies("bpfo=1,bpfi=2,bsf=x,ftf=0.4", 1000)
    assert len(CATALOGUE) >= 8


def test_iso_zones_and_per_machine_limits() -> None:
    lim = default_limits("iso10816-7", category="I", power_kw=55)
    assert (lim.ab, lim.bc, lim.cd) == (2.5, 4.0, 6.6)
    assert [zone(v, lim) for v in (1.0, 2.5, 5.0, 7.0)] == ["A", "B", "C", "D"]
    g2 = default_limits("iso10816-3", power_kw=90, support="rigid")
    assert (g2.ab, g2.bc, g2.cd) == (1.4, 2.8, 4.5)
    g1 = default_limits("iso10816-3", power_kw=500, support="flexible")
    assert (g1.ab, g1.bc, g1.cd) == (3.5, 7.1, 11.0)
    with pytest.raises(ValueError, match="must rise"):
        type(lim)(3.0, 2.0, 5.0, "custom")
    with pytest.raises(ValueError, match="category must be I or II"):
        default_limits("iso10816-7", category="III")
