"""C14 special-work permits: the warnings as a pure function, and a permit record from the
permit system upserted by its number with its stages recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.workflows.contractors.site import TEST, make_site
from workflows.contractors import permits
from workflows.contractors.archive import ContractorError

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _permit(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "status": "planned", "planned_start": NOW - timedelta(hours=2),
        "planned_end": NOW + timedelta(hours=4), "guardian": "李四", "started_at": None,
        "reviewed_at": None, "briefed_at": None, "site_checked_at": None,
    }  # fmt: skip
    base.update(kw)
    return base


def test_warnings() -> None:
    started = NOW - timedelta(minutes=30)
    ok = _permit(status="in_progress", started_at=started, reviewed_at=started - timedelta(hours=1),
                 briefed_at=started - timedelta(minutes=10))  # fmt: skip
    assert permits.permit_warnings(ok, NOW) == []
    bad = _permit(status="in_progress", started_at=started, guardian="")
    assert permits.permit_warnings(bad, NOW) == [
        "work started without the start review",
        "work started without the pre-work safety briefing",
        "no guardian (监护人) named for work in progress",
    ]
    late = dict(
        ok,
        started_at=NOW - timedelta(hours=3),
        planned_start=NOW - timedelta(hours=4),
        reviewed_at=NOW - timedelta(hours=5),
        briefed_at=NOW - timedelta(hours=4),
    )
    assert permits.permit_warnings(late, NOW) == ["no site check for 3.0 h (due every 2:00:00)"]
    assert "permitted time begun but the work's start is not recorded" in permits.permit_warnings(
        _permit(), NOW
    )
    assert permits.permit_warnings(_permit(planned_end=NOW - timedelta(minutes=1)), NOW)[-1] == (
        "permit expired without acceptance"
    )
    assert (
        permits.permit_warnings(ok, NOW, company_blocked="事故")[0] == "company blacklisted: 事故"
    )
    assert permits.permit_warnings(_permit(status="accepted"), NOW) == []


def test_permit_from_the_permit_system(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    start = datetime.now(UTC) + timedelta(hours=1)
    record = {
        "permit_no": "SX-2026-001",
        "company_id": site.company_id,
        "work_type": "confined_space",
        "location": "V-201 储罐",
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=8)).isoformat(),
        "guardian": "王监护",
    }
    pid = permits.save_permit(conn, TEST, record, enterprise_id=site.enterprise_id, source="api")
    assert permits.save_permit(conn, TEST, record, enterprise_id=site.enterprise_id,
                               source="api") == pid  # fmt: skip
    with pytest.raises(ContractorError, match="work_type"):
        permits.save_permit(conn, TEST, {**record, "work_type": "swimming"},
                            enterprise_id=site.enterprise_id)  # fmt: skip
    with pytest.raises(ContractorError, match="UTC offset"):
        permits.save_permit(conn, TEST, {**record, "planned_start": "2026-11-20T08:00:00"},
                            enterprise_id=site.enterprise_id)  # fmt: skip
    other = make_site(conn)
    with pytest.raises(ContractorError, match="no contractor of this enterprise"):
        permits.save_permit(conn, TEST, record, enterprise_id=other.enterprise_id)
    for stage in ("reviewed", "briefing", "started"):
        permits.record_stage(conn, TEST, pid, stage)
    listed = permits.permits(conn, enterprise_ids=[site.enterprise_id], company_id=None)
    assert listed[0]["status"] == "in_progress"
    assert "work started before the permitted time" in listed[0]["warnings"]
    permits.record_stage(conn, TEST, pid, "accepted")
    with pytest.raises(ContractorError, match="accepted"):
        permits.record_stage(conn, TEST, pid, "site_check")
    assert permits.permits(conn, enterprise_ids=None, company_id=other.company_id) == []
