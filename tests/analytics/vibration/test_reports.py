"""Condition reports (issue 8, P10): the HTML carries the pump's severity and findings; the PDF
is a valid PDF whose text (Chinese included) reads back."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pypdf import PdfReader

from analytics.vibration.reports import (
    ReportError,
    build_report,
    generate_report,
    get_report,
    periodic_reports,
    render_html,
    render_pdf,
    svg_trend,
)
from analytics.vibration.severity import default_limits
from tests.analytics.vibration.pump_fixtures import (
    ACTOR,
    make_pump_plant,
    minutes,
    write_capture,
    write_overall,
)

END = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
START = END - timedelta(days=1)


def test_svg_trend_draws_the_line_and_limits() -> None:
    pts = [(START + timedelta(hours=h), 1.0 + h / 4) for h in range(24)]
    svg = svg_trend(pts, default_limits(power_kw=90), START, END)
    assert svg.startswith("<svg") and svg.count("<polyline") == 1
    assert "C/D 6.6" in svg and "B/C 4" in svg


def test_report_html_and_pdf(conn: psycopg.Connection) -> None:
    plant = make_pump_plant(conn, groups=())
    de = plant.sensors["DE"]
    times = minutes(START, 24 * 6, step_s=600)
    write_overall(conn, de, times, [2.0 + 5.0 * i / len(times) for i in range(len(times))])
    write_capture(conn, de, END - timedelta(hours=1), fault="unbalance")
    conn.execute(
        "INSERT INTO vib.defect (enterprise_id, equipment_id, title, fault, opened_by, opened_at)"
        " VALUES (%s, %s, '驱动端轴承异响', 'bearing_outer_race', 'test', %s)",
        (plant.enterprise_id, plant.pump_id, START),
    )
    data = build_report(
        conn, enterprise_id=plant.enterprise_id, equipment_id=plant.pump_id, start=START, end=END
    )
    (pump,) = data["pumps"]
    assert pump["zone"] == "D" and pump["velocity"] == pytest.approx(6.97, abs=0.05)
    assert "unbalance" in [f["fault"] for f in pump["findings"]]
    html = render_html(data, "zh")
    assert plant.pump_code in html and "机泵状态监测报告" in html
    assert 'class="zone zone-D"' in html and "转子不平衡" in html and "驱动端轴承异响" in html
    assert "<polyline" in html
    assert "Pump condition report" in render_html(data, "en")

    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "机泵状态监测报告" in text and plant.pump_code in text and "转子不平衡" in text
    fonts = {str(f) for p in reader.pages for f in (p["/Resources"].get("/Font") or {}).values()}
    assert fonts  # glyphs come from embedded fonts
    font_names = " ".join(
        str(p["/Resources"]["/Font"][k].get_object().get("/BaseFont"))
        for p in reader.pages
        for k in p["/Resources"]["/Font"]
    )
    assert "WenQuanYi" in font_names

    rid = generate_report(conn, ACTOR, enterprise_id=plant.enterprise_id, start=START, end=END)
    run = get_report(conn, rid)
    assert run["summary"]["zones"] == {plant.pump_code: "D"} and run["summary"]["open_defects"] == 1
    with pytest.raises(ReportError, match="period"):
        build_report(conn, enterprise_id=plant.enterprise_id, start=END, end=START)
    with pytest.raises(ReportError, match="equipment_id"):
        build_report(conn, enterprise_id=plant.enterprise_id, equipment_id=-1, start=START, end=END)
    # the periodic job skips an enterprise that has a fresh report
    before = conn.execute(
        "SELECT count(*) FROM vib.report_run WHERE enterprise_id = %s", (plant.enterprise_id,)
    ).fetchone()[0]
    periodic_reports(conn, now=END + timedelta(hours=1))
    after = conn.execute(
        "SELECT count(*) FROM vib.report_run WHERE enterprise_id = %s", (plant.enterprise_id,)
    ).fetchone()[0]
    assert after == before
