"""A18: exclusions by record and by tag, approved through the engine, take alarms out of the
records that statistics and KPIs read; revoking brings them back. Real database and engine."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from analytics.alarms.exclusions import (
    Exclusion,
    ExclusionError,
    active_exclusions,
    apply_to,
    exclusion_job,
    mark_excluded,
    request_record_exclusion,
    request_tag_exclusion,
    revoke,
)
from analytics.alarms.kpis import window_kpis
from analytics.alarms.queries import Filters, load_records
from analytics.alarms.remedies import kpis_of
from hazwatch.rollups.catalog import ALARM_ROLLUPS
from hazwatch.rollups.engine import refresh
from tests.analytics.alarms.analysis_fixtures import T0, at, make_site, person, rec
from workflows import approvals

HOUR = timedelta(hours=1)


def test_covers_pure() -> None:
    """Tag exclusion of FX.H in [100 s, 200 s): covers FX.H at 100 and 150, not at 200, not
    FX.HH; an all-conditions one covers FX.HH; a record exclusion only its record."""
    a, b, c, d = (rec("FX", "H", 100), rec("FX", "H", 150), rec("FX", "H", 200),
                  rec("FX", "HH", 150, record_id=77))  # fmt: skip
    x = Exclusion("tag", a.tag_id, "H", starts=at(100), ends=at(200))
    assert apply_to([a, b, c, d], [x]) == [True, True, False, False]
    assert Exclusion("tag", a.tag_id).covers(d)
    assert Exclusion("record", a.tag_id, "HH", record_id=77).covers(d)
    assert not Exclusion("record", a.tag_id, "HH", record_id=78).covers(d)


def approve(conn: psycopg.Connection, site: object, inst: int) -> str:
    approvals.act(conn, site.tech, inst, "approve")  # type: ignore[attr-defined]
    return approvals.act(conn, site.safety, inst, "approve")  # type: ignore[attr-defined]


def test_record_exclusion_removes_it_from_kpis(conn: psycopg.Connection) -> None:
    """Three alarms of LI-1.H at 00:00:00, 00:01:00 and 00:20:00: 3 alarms, 3/h, peak 2 in
    00:00-00:10. Excluding the first one after approval: 2 alarms, 2/h, peak 1."""
    site = make_site(conn)
    tag = site.tag(conn, "LI-1")
    ids = [site.record(conn, tag, "H", at(s)) for s in (0, 60, 1200)]
    flt = Filters(enterprise_id=site.enterprise_id)

    def kpis() -> tuple[int, float, int]:
        # The A19 KPIs as the KPI page reads them (rollups + records, analytics.alarms.kpis),
        # checked against the same counts from the records the analyses load. The rollups are
        # refreshed first, as the scheduler does: other tests of the session may have moved
        # their watermark past T0, and these records (and exclusions) are late data for them.
        for rollup in ALARM_ROLLUPS:
            refresh(conn, rollup)
        k = window_kpis(conn, T0, T0 + HOUR, filters=flt, now=T0 + HOUR).counting
        recs = load_records(conn, start=T0, end=T0 + HOUR, filters=flt)
        mine = kpis_of([r.raised.timestamp() for r in recs], start=T0, end=T0 + HOUR)
        assert (mine.alarms, mine.peak_10min) == (k.alarms, k.peak_10min)
        return k.alarms, mine.avg_per_hour, k.peak_10min

    assert kpis() == (3, 3.0, 2)
    inst = request_record_exclusion(conn, site.requester, record_ids=[ids[0]], reason="联锁测试")
    assert kpis() == (3, 3.0, 2)  # not before approval
    assert approve(conn, site, inst) == "approved"
    assert kpis() == (2, 2.0, 1)
    [x] = active_exclusions(conn, [site.enterprise_id])
    assert (x["scope"], x["record_id"], x["approved_by"]) == ("record", ids[0], site.safety.name)
    assert x["requested_by"] == site.requester.name
    audit = conn.execute(
        "SELECT actor, reason FROM audit.log WHERE entity = 'alarm.exclusion' AND entity_id = %s",
        (str(x["id"]),),
    ).fetchall()
    assert audit == [(site.safety.name, "alarm.exclusion: 联锁测试")]


def test_tag_exclusion_covers_later_records_and_revoke(conn: psycopg.Connection) -> None:
    """FT-2 excluded (all conditions) from 01:00 on, open-ended: of records at 00:30, 01:30
    and later ones built at 02:30 (marked by mark_excluded) and 02:38:20 (by the scheduler
    job), only 00:30 counts. Revoking brings the three back (4 count)."""
    site = make_site(conn)
    tag = site.tag(conn, "FT-2")
    site.record(conn, tag, "H", at(1800))
    site.record(conn, tag, "L", at(5400))
    inst = request_tag_exclusion(
        conn, site.requester, tag_id=tag, starts=at(3600), reason="变送器检修"
    )
    approve(conn, site, inst)
    site.record(conn, tag, "H", at(9000))  # built after the approval
    assert mark_excluded(conn) == 1
    assert mark_excluded(conn) == 0  # idempotent
    site.record(conn, tag, "HH", at(9500))  # the scheduler's job marks the next one
    assert exclusion_job().run(conn) == "1 records excluded"
    flt = Filters(tag_id=tag)
    counted = load_records(conn, start=T0, end=T0 + 3 * HOUR, filters=flt)
    assert [r.raised for r in counted] == [at(1800)]
    [x] = active_exclusions(conn, [site.enterprise_id])
    admin = person(conn, "admin", None)
    assert revoke(conn, admin, x["id"], reason="检修完成") == 3
    assert len(load_records(conn, start=T0, end=T0 + 3 * HOUR, filters=flt)) == 4
    with pytest.raises(ExclusionError, match="no active exclusion"):
        revoke(conn, admin, x["id"], reason="again")


def test_bad_requests_are_named(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    tag = site.tag(conn, "FT-3")
    with pytest.raises(ExclusionError, match="records: no record with id"):
        request_record_exclusion(conn, site.requester, record_ids=[10**12], reason="x")
    with pytest.raises(ExclusionError, match="ends: must be after starts"):
        request_tag_exclusion(
            conn, site.requester, tag_id=tag, starts=at(10), ends=at(5), reason="x"
        )
    with pytest.raises(ExclusionError, match="tag_id: no tag"):
        request_tag_exclusion(conn, site.requester, tag_id=10**8, reason="x")
    with pytest.raises(ExclusionError, match="reason"):
        request_tag_exclusion(conn, site.requester, tag_id=tag, reason=" ")
