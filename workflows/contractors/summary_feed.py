"""Contractor summaries upward (C20; issue 11 item 2): per host enterprise and local day
(Asia/Shanghai) the counts of its contractor management, stored here in
``contractor.daily_summary`` and queued on the ``contractor_summary`` feed; an upper level
stores them in the same table under the origin enterprise and forwards them unchanged.

    summary = compute(conn, enterprise_id=3, day=date(2026, 11, 1))   # Summary (counts only)
    contractor_summary_job(conn)           # the scheduler's job: yesterday final, today running
    HANDLERS["contractor_summary"] = apply_contractor_summary     # workflows.upward_receive

What leaves the enterprise: counts (``FIGURES``), the average evaluation score, counts per
category code (``BREAKDOWNS``) and per contractor company its credit code, name, category,
status, list flags and a few counts (``COMPANY_FIELDS``). Never a person's name, ID number,
phone, photo, person code or card number: ``person_fields`` finds such fields, the sender
refuses to queue them and the receiver rejects any item that carries one, or any field it does
not know (so nothing unknown is forwarded further up either).

Revisions: a day is summarised while it runs (``final`` false, re-queued only when a figure
changed) and once after it ended (``final`` true; missing days of the last few are caught
up). Each change raises ``revision`` and the item key ends in it (``…|2026-11-01|r3``), so
the receiver's at-most-once bookkeeping takes every revision once, and it keeps the highest
revision of an (enterprise, day): a re-computed day replaces the stored one upstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError
from workflows.contractors.exchange_json import CATEGORIES
from workflows.feed_items import aware_time, forward, origin_of, queue
from workflows.hazard_feeds import TZ, day_bounds

if TYPE_CHECKING:
    from hazwatch.scheduler import Job
    from hazwatch.tokens import TokenInfo

KIND: Final = "contractor_summary"
SCHEMA: Final = 1
#: Days before yesterday that the job finalises when they are missing or still running (a
#: scheduler that was down over a weekend catches up), as the daily KPIs do.
CATCH_UP_DAYS: Final = 3
#: How often the job runs: yesterday is finalised at the first run after midnight, today's
#: running summary is refreshed (and queued only when a figure changed).
JOB_EVERY: Final = timedelta(minutes=15)


@dataclass(frozen=True)
class Figure:
    """A count of the summary: ``state`` at the end of the day (for a running day: now) or
    ``flow`` during the day; labels for the pages."""

    kind: Literal["state", "flow"]
    zh: str
    en: str


#: The counts, in the column order of contractor.daily_summary (migration 0025).
FIGURES: Final[dict[str, Figure]] = {
    "companies_on_file": Figure("state", "在册承包商", "Companies on file"),
    "companies_qualified": Figure("state", "合格名录内承包商", "Companies on the qualified list"),
    "companies_blacklisted": Figure("state", "黑名单承包商", "Companies blacklisted"),
    "companies_qualification_expired": Figure(
        "state", "资质过期承包商", "Companies with an expired qualification"
    ),
    "qualifications_expiring_30d": Figure(
        "state", "30天内到期资质", "Qualifications expiring within 30 days"
    ),
    "workers_on_file": Figure("state", "在册人员", "Workers on file"),
    "special_workers_on_file": Figure("state", "在册特种作业人员", "Special workers on file"),
    "workers_joined": Figure("flow", "新增人员", "Workers registered"),
    "workers_left": Figure("flow", "离场人员", "Workers who exited"),
    "persons_blacklisted": Figure("state", "黑名单人员", "Persons blacklisted"),
    "entry_applications": Figure("flow", "入厂申请", "Entry applications"),
    "entry_cards_valid": Figure("state", "有效门禁卡人员", "Persons with a valid entry card"),
    "gate_entries": Figure("flow", "入厂人数", "Persons who entered"),
    "gate_exits": Figure("flow", "出厂人数", "Persons who left the site"),
    "on_site_at_day_end": Figure("state", "日终在场人数", "On site at the end of the day"),
    "positioning_alarms": Figure("flow", "定位越界报警", "Positioning alarms"),
    "training_records": Figure("flow", "培训人次", "Person-trainings"),
    "training_sessions": Figure("flow", "培训场次", "Training sessions"),
    "exams_taken": Figure("flow", "考试人次", "Exams taken"),
    "exams_passed": Figure("flow", "考试合格人次", "Exams passed"),
    "permits_planned": Figure("flow", "计划作业票", "Work permits planned"),
    "permits_started": Figure("flow", "开工作业票", "Work permits started"),
    "permits_active_at_day_end": Figure("state", "日终进行中作业票", "Work permits active"),
    "stop_orders_issued": Figure("flow", "停工令", "Stop-work orders issued"),
    "stop_orders_in_force_at_day_end": Figure("state", "生效中停工令", "Stop-work orders in force"),
    "stop_orders_resumed": Figure("flow", "复工", "Work resumed"),
    "violations": Figure("flow", "违章", "Violations"),
    "work_violations": Figure("flow", "作业违章", "Work-permit violations"),
    "incidents": Figure("flow", "事故事件", "Incidents"),
    "incident_deaths": Figure("flow", "事故死亡人数", "Incident deaths"),
    "incident_injuries": Figure("flow", "事故受伤人数", "Incident injuries"),
    "hazards_found": Figure("flow", "发现隐患", "Hazards found"),
    "hazards_open_at_day_end": Figure("state", "未关闭隐患", "Hazards open"),
    "evaluations_completed": Figure("flow", "完成评价", "Evaluations completed"),
    "evaluations_passed": Figure("flow", "评价合格", "Evaluations passed"),
}  # fmt: skip
AVERAGE: Final = "evaluation_avg_score"
#: (smaller, larger): a summary where the first exceeds the second is malformed.
BOUNDS: Final = (
    ("special_workers_on_file", "workers_on_file"),
    ("exams_passed", "exams_taken"),
    ("work_violations", "violations"),
    ("evaluations_passed", "evaluations_completed"),
)
#: Counts per category code (the codes of the contractor tables' CHECK lists).
BREAKDOWNS: Final[dict[str, tuple[str, str]]] = {
    "workers_by_type": ("在册人员（按类别）", "Workers on file by type"),
    "permits_by_type": ("开工作业票（按类型）", "Work permits started by type"),
    "stop_orders_by_reason": ("停工令（按原因）", "Stop-work orders by reason"),
    "incidents_by_level": ("事故事件（按等级）", "Incidents by level"),
}
#: Company-level facts per contractor company (allowed: a company is no person).
COMPANY_FIELDS: Final[dict[str, type]] = {
    "credit_code": str, "name": str, "category": str, "status": str,
    "qualified": bool, "blacklisted": bool, "qualification_expired": bool,
    "workers_on_file": int, "gate_entries": int, "violations": int, "incidents": int,
    "stop_orders_issued": int, "permits_active_at_day_end": int,
}  # fmt: skip
COMPANY_STATUSES: Final = ("active", "suspended", "exited")
TOP_FIELDS: Final = frozenset(
    {"enterprise_code", "enterprise_name", "key", "schema", "day", "revision", "final",
     "computed_at", "figures", "breakdown", "companies"}
)  # fmt: skip
#: Field names that hold (or point at) a person: refused wherever they appear.
PERSON_KEYS: Final = frozenset(
    {"person", "persons", "person_id", "person_ids", "people", "worker", "workers",
     "employee", "employees", "id_masked", "id_hash", "id_cipher", "gender", "card_no",
     "cards", "emergency_contact", "legal_representative", "contact_person", "offender",
     "guardian", "trainer", "manager", "address", "plate", "tag_no", "evaluator"}
)  # fmt: skip
PERSON_PARTS: Final = (
    "person_code", "person_name", "id_number", "id_card", "id_no", "phone", "mobile",
    "email", "photo", "face", "birth",
)  # fmt: skip
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_CREDIT = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$")


class SummaryError(HazwatchError):
    """A summary that must not leave the enterprise (a programming error, never input)."""


@dataclass
class Summary:
    """One enterprise's contractor summary of one local day."""

    enterprise_id: int
    day: date
    figures: dict[str, int]
    evaluation_avg_score: float | None
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)
    companies: list[dict[str, Any]] = field(default_factory=list)

    def same_as(self, other: Summary) -> bool:
        return (
            self.figures == other.figures
            and self.evaluation_avg_score == other.evaluation_avg_score
            and self.breakdown == other.breakdown
            and self.companies == other.companies
        )


# -- computing --------------------------------------------------------------------------------

#: The enterprise's companies: what happened on a day counts whenever the company was filed.
_COMPANIES = "SELECT id FROM contractor.company WHERE enterprise_id = %(ent)s"
#: Employment at a company on the day: joined by it, not left by it (left_on: gone that day).
_EMPLOYED = "e.joined_on <= %(day)s AND (e.left_on IS NULL OR e.left_on > %(day)s)"
_IN_DAY = "{c} >= %(start)s AND {c} < %(end)s"
#: Listed (qualified list, blacklist) at the end of the day.
_LISTED = "{a}.since <= %(day)s AND ({a}.removed_at IS NULL OR {a}.removed_at >= %(end)s)"
_PERMIT_ACTIVE = (
    "p.started_at < %(end)s AND (p.accepted_at IS NULL OR p.accepted_at >= %(end)s)"
    " AND p.status <> 'cancelled'"
)

_FIGURES_SQL = f"""
WITH allco AS ({_COMPANIES}),
co AS (SELECT c.id FROM contractor.company c WHERE c.id IN (SELECT id FROM allco)
       AND c.created_at < %(end)s AND c.status <> 'exited'),
emp AS (SELECT e.person_id, e.person_type FROM contractor.employment e
        WHERE e.company_id IN (SELECT id FROM allco) AND {_EMPLOYED}),
att AS (SELECT a.first_in, a.last_out FROM contractor.attendance a
        WHERE a.company_id IN (SELECT id FROM allco) AND a.day = %(day)s),
trn AS (SELECT r.level, r.course_name FROM contractor.training_record r
        WHERE r.trained_on = %(day)s AND (r.company_id IN (SELECT id FROM allco)
          OR (r.company_id IS NULL AND EXISTS (SELECT 1 FROM contractor.employment e
              WHERE e.person_id = r.person_id AND e.company_id IN (SELECT id FROM allco))))),
exm AS (SELECT x.passed FROM contractor.exam_attempt x
        JOIN contractor.entry_application a ON a.id = x.application_id
        WHERE a.enterprise_id = %(ent)s AND {_IN_DAY.format(c="x.finished_at")}),
prm AS (SELECT p.* FROM contractor.work_permit p WHERE p.enterprise_id = %(ent)s),
stp AS (SELECT s.* FROM contractor.stop_order s WHERE s.enterprise_id = %(ent)s),
vio AS (SELECT v.is_work_violation FROM contractor.violation v
        WHERE v.company_id IN (SELECT id FROM allco) AND {_IN_DAY.format(c="v.occurred_at")}),
inc AS (SELECT i.deaths, i.injuries FROM contractor.incident i
        WHERE i.company_id IN (SELECT id FROM allco) AND {_IN_DAY.format(c="i.occurred_at")}),
haz AS (SELECT h.found_on, h.closed_on FROM contractor.hazard h
        WHERE h.company_id IN (SELECT id FROM allco) AND h.found_on <= %(day)s),
evl AS (SELECT v.passed, v.total FROM contractor.evaluation v
        WHERE v.enterprise_id = %(ent)s AND v.status = 'final'
          AND {_IN_DAY.format(c="v.finalised_at")})
SELECT
  (SELECT count(*) FROM co) AS companies_on_file,
  (SELECT count(DISTINCT q.company_id) FROM contractor.qualified q
    WHERE q.company_id IN (SELECT id FROM co) AND {_LISTED.format(a="q")}) AS companies_qualified,
  (SELECT count(DISTINCT b.company_id) FROM contractor.blacklist b
    WHERE b.company_id IN (SELECT id FROM allco) AND {_LISTED.format(a="b")})
    AS companies_blacklisted,
  (SELECT count(DISTINCT x.company_id) FROM contractor.qualification x
    WHERE x.company_id IN (SELECT id FROM co) AND x.expires_on < %(day)s)
    AS companies_qualification_expired,
  (SELECT count(*) FROM contractor.qualification x WHERE x.company_id IN (SELECT id FROM co)
    AND x.expires_on BETWEEN %(day)s AND %(day)s + 30) AS qualifications_expiring_30d,
  (SELECT count(DISTINCT person_id) FROM emp) AS workers_on_file,
  (SELECT count(DISTINCT person_id) FROM emp WHERE person_type = 'special_worker')
    AS special_workers_on_file,
  (SELECT count(*) FROM contractor.employment e WHERE e.company_id IN (SELECT id FROM allco)
    AND e.joined_on = %(day)s) AS workers_joined,
  (SELECT count(*) FROM contractor.employment e WHERE e.company_id IN (SELECT id FROM allco)
    AND e.left_on = %(day)s) AS workers_left,
  (SELECT count(DISTINCT b.person_id) FROM contractor.blacklist b
    WHERE b.person_id IS NOT NULL AND {_LISTED.format(a="b")}
      AND EXISTS (SELECT 1 FROM contractor.employment e WHERE e.person_id = b.person_id
                  AND e.company_id IN (SELECT id FROM allco) AND e.joined_on <= %(day)s))
    AS persons_blacklisted,
  (SELECT count(*) FROM contractor.entry_application a WHERE a.enterprise_id = %(ent)s
    AND {_IN_DAY.format(c="a.created_at")}) AS entry_applications,
  (SELECT count(DISTINCT a.person_id) FROM contractor.entry_application a
    WHERE a.enterprise_id = %(ent)s AND a.status = 'approved'
      AND a.valid_from <= %(day)s AND a.valid_until >= %(day)s) AS entry_cards_valid,
  (SELECT count(*) FROM att WHERE first_in IS NOT NULL) AS gate_entries,
  (SELECT count(*) FROM att WHERE last_out IS NOT NULL) AS gate_exits,
  (SELECT count(*) FROM att WHERE first_in IS NOT NULL AND last_out IS NULL)
    AS on_site_at_day_end,
  (SELECT count(*) FROM contractor.position_violation v
    JOIN contractor.positioning_tag g ON g.id = v.tag_id
    WHERE g.enterprise_id = %(ent)s AND {_IN_DAY.format(c="v.started_at")})
    AS positioning_alarms,
  (SELECT count(*) FROM trn) AS training_records,
  (SELECT count(DISTINCT (level, course_name)) FROM trn) AS training_sessions,
  (SELECT count(*) FROM exm) AS exams_taken,
  (SELECT count(*) FROM exm WHERE passed) AS exams_passed,
  (SELECT count(*) FROM prm p WHERE {_IN_DAY.format(c="p.planned_start")}) AS permits_planned,
  (SELECT count(*) FROM prm p WHERE {_IN_DAY.format(c="p.started_at")}) AS permits_started,
  (SELECT count(*) FROM prm p WHERE {_PERMIT_ACTIVE}) AS permits_active_at_day_end,
  (SELECT count(*) FROM stp s WHERE {_IN_DAY.format(c="s.ordered_at")}) AS stop_orders_issued,
  (SELECT count(*) FROM stp s WHERE s.in_force_at < %(end)s AND s.status <> 'rejected'
    AND (s.resumed_at IS NULL OR s.resumed_at >= %(end)s)) AS stop_orders_in_force_at_day_end,
  (SELECT count(*) FROM stp s WHERE {_IN_DAY.format(c="s.resumed_at")}) AS stop_orders_resumed,
  (SELECT count(*) FROM vio) AS violations,
  (SELECT count(*) FROM vio WHERE is_work_violation) AS work_violations,
  (SELECT count(*) FROM inc) AS incidents,
  (SELECT coalesce(sum(deaths), 0) FROM inc) AS incident_deaths,
  (SELECT coalesce(sum(injuries), 0) FROM inc) AS incident_injuries,
  (SELECT count(*) FROM haz WHERE found_on = %(day)s) AS hazards_found,
  (SELECT count(*) FROM haz WHERE closed_on IS NULL OR closed_on > %(day)s)
    AS hazards_open_at_day_end,
  (SELECT count(*) FROM evl) AS evaluations_completed,
  (SELECT count(*) FROM evl WHERE passed) AS evaluations_passed,
  (SELECT round(avg(total), 1) FROM evl) AS evaluation_avg_score
"""  # noqa: S608 (fragments from code)

_BREAKDOWN_SQL: Final[dict[str, str]] = {
    "workers_by_type": f"""
        SELECT person_type, count(DISTINCT person_id) FROM (
          SELECT e.person_id, e.person_type FROM contractor.employment e
          WHERE e.company_id IN ({_COMPANIES}) AND {_EMPLOYED}) w GROUP BY 1""",  # noqa: S608
    "permits_by_type": f"""
        SELECT p.work_type, count(*) FROM contractor.work_permit p
        WHERE p.enterprise_id = %(ent)s AND {_IN_DAY.format(c="p.started_at")} GROUP BY 1""",  # noqa: S608
    "stop_orders_by_reason": f"""
        SELECT s.reason_class, count(*) FROM contractor.stop_order s
        WHERE s.enterprise_id = %(ent)s AND {_IN_DAY.format(c="s.ordered_at")} GROUP BY 1""",  # noqa: S608
    "incidents_by_level": f"""
        SELECT i.level, count(*) FROM contractor.incident i
        WHERE i.company_id IN ({_COMPANIES}) AND {_IN_DAY.format(c="i.occurred_at")}
        GROUP BY 1""",  # noqa: S608
}

_COMPANIES_SQL = f"""
SELECT c.credit_code, c.name, c.category, c.status,
  EXISTS (SELECT 1 FROM contractor.qualified q WHERE q.company_id = c.id
          AND {_LISTED.format(a="q")}),
  EXISTS (SELECT 1 FROM contractor.blacklist b WHERE b.company_id = c.id
          AND {_LISTED.format(a="b")}),
  EXISTS (SELECT 1 FROM contractor.qualification x WHERE x.company_id = c.id
          AND x.expires_on < %(day)s),
  (SELECT count(DISTINCT e.person_id) FROM contractor.employment e
    WHERE e.company_id = c.id AND {_EMPLOYED}),
  (SELECT count(*) FROM contractor.attendance a WHERE a.company_id = c.id
    AND a.day = %(day)s AND a.first_in IS NOT NULL),
  (SELECT count(*) FROM contractor.violation v WHERE v.company_id = c.id
    AND {_IN_DAY.format(c="v.occurred_at")}),
  (SELECT count(*) FROM contractor.incident i WHERE i.company_id = c.id
    AND {_IN_DAY.format(c="i.occurred_at")}),
  (SELECT count(*) FROM contractor.stop_order s WHERE s.company_id = c.id
    AND {_IN_DAY.format(c="s.ordered_at")}),
  (SELECT count(*) FROM contractor.work_permit p WHERE p.company_id = c.id
    AND {_PERMIT_ACTIVE})
FROM contractor.company c
WHERE c.enterprise_id = %(ent)s AND c.created_at < %(end)s
ORDER BY c.credit_code
"""  # noqa: S608 (fragments from code)


def _avg(v: Any) -> float | None:
    return None if v is None else float(v)


def compute(conn: psycopg.Connection, enterprise_id: int, day: date) -> Summary:
    """The summary of ``day`` (local) for a host enterprise, from the contractor tables."""
    start, end = day_bounds(day)
    params = {"ent": enterprise_id, "day": day, "start": start, "end": end}
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_FIGURES_SQL, params).fetchone()
    assert row is not None
    figures = {name: int(row[name]) for name in FIGURES}
    breakdown = {
        name: {str(k): int(n) for k, n in conn.execute(query, params).fetchall()}
        for name, query in _BREAKDOWN_SQL.items()
    }
    companies = [
        dict(zip(COMPANY_FIELDS, r, strict=True))
        for r in conn.execute(_COMPANIES_SQL, params).fetchall()
    ]
    return Summary(
        enterprise_id,
        day,
        figures,
        _avg(row[AVERAGE]),
        {k: v for k, v in breakdown.items() if v},
        companies,
    )


# -- storing and queuing ----------------------------------------------------------------------

_COLUMNS: Final = (*FIGURES, AVERAGE)


def stored(
    conn: psycopg.Connection, enterprise_id: int, day: date
) -> tuple[int, bool, Summary] | None:
    """``(revision, final, summary)`` stored for the enterprise and day, if any."""
    row = conn.execute(
        sql.SQL(
            "SELECT revision, final, {}, breakdown, companies FROM contractor.daily_summary"
            " WHERE enterprise_id = %s AND day = %s"
        ).format(sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS)),
        (enterprise_id, day),
    ).fetchone()
    if row is None:
        return None
    n = len(FIGURES)
    figures = dict(zip(FIGURES, (int(v) for v in row[2 : 2 + n]), strict=True))
    summary = Summary(enterprise_id, day, figures, _avg(row[2 + n]), row[3 + n], row[4 + n])
    return int(row[0]), bool(row[1]), summary


def store(
    conn: psycopg.Connection, s: Summary, revision: int, final: bool, computed_at: datetime
) -> bool:
    """Upsert by (enterprise, day), keeping the highest revision; whether this one was kept."""
    values = [*(s.figures[f] for f in FIGURES), s.evaluation_avg_score]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
        for c in (*_COLUMNS, "revision", "final", "breakdown", "companies", "computed_at")
    )
    cur = conn.execute(
        sql.SQL(
            "INSERT INTO contractor.daily_summary (day, enterprise_id, revision, final, {cols},"
            " breakdown, companies, computed_at) VALUES (%s, %s, %s, %s, {marks}, %s, %s, %s)"
            " ON CONFLICT (enterprise_id, day) DO UPDATE SET {updates}, stored_at = now()"
            " WHERE contractor.daily_summary.revision < EXCLUDED.revision"
        ).format(
            cols=cols,
            marks=sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
            updates=updates,
        ),
        [s.day, s.enterprise_id, revision, final, *values, Jsonb(s.breakdown),
         Jsonb(s.companies), computed_at],
    )  # fmt: skip
    return cur.rowcount == 1


def person_fields(data: Any, path: str = "") -> list[str]:
    """Paths of fields that name a person (``PERSON_KEYS``, ``PERSON_PARTS``), anywhere but
    the category codes of a breakdown (``breakdown.workers_by_type.worker`` is a person type).

    >>> person_fields({"figures": {"workers_on_file": 3}, "companies": [{"phone": "1"}]})
    ['companies[0].phone']
    """
    found: list[str] = []
    if isinstance(data, Mapping):
        codes = path.startswith("breakdown.") and path.count(".") == 1
        for k, v in data.items():
            key = str(k)
            where = f"{path}.{key}" if path else key
            low = key.lower()
            if not codes and (low in PERSON_KEYS or any(p in low for p in PERSON_PARTS)):
                found.append(where)
            found.extend(person_fields(v, where))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found.extend(person_fields(v, f"{path}[{i}]"))
    return found


def payload(s: Summary, revision: int, final: bool, computed_at: datetime) -> dict[str, Any]:
    """The item's data (without the origin's enterprise fields and key, added on queuing)."""
    data = {
        "schema": SCHEMA,
        "day": s.day.isoformat(),
        "revision": revision,
        "final": final,
        "computed_at": computed_at.astimezone(UTC).isoformat(),
        "figures": {**s.figures, AVERAGE: s.evaluation_avg_score},
        "breakdown": s.breakdown,
        "companies": s.companies,
    }
    leaked = person_fields(data)
    if leaked:  # the figures are defined in this module: a person field here is a bug
        raise SummaryError(f"contractor summary would carry person-level fields: {leaked}")
    return data


def refresh(
    conn: psycopg.Connection,
    enterprise_id: int,
    day: date,
    *,
    final: bool,
    now: datetime | None = None,
    force: bool = False,
) -> int | None:
    """Compute ``day``; store and queue it as a new revision when it differs from the stored
    one (or turns final, or ``force``); the new revision, or None when nothing changed.
    A final day is not made running again."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        # Several schedulers may run (one per node): one refresher per enterprise at a time.
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('contractor_summary'), %s)", (enterprise_id,)
        )
        before = stored(conn, enterprise_id, day)
        summary = compute(conn, enterprise_id, day)
        if before is not None:
            _, was_final, old = before
            if was_final and not final and not force:
                return None
            if old.same_as(summary) and was_final == final and not force:
                return None
        revision = (before[0] if before else 0) + 1
        store(conn, summary, revision, final, now)
        queue(conn, KIND, origin_of(conn, enterprise_id),
               f"contractor|{day.isoformat()}|r{revision}",
               payload(summary, revision, final, now))  # fmt: skip
    return revision


def local_enterprises(conn: psycopg.Connection) -> list[int]:
    """Host enterprises with contractor companies of their own here (an upper level has only
    received summaries, which it forwards and never recomputes)."""
    return [
        int(r[0])
        for r in conn.execute("SELECT DISTINCT enterprise_id FROM contractor.company ORDER BY 1")
    ]


def contractor_summary_job(
    conn: psycopg.Connection,
    now: datetime | None = None,
    enterprises: Sequence[int] | None = None,
) -> str:
    """Finalise yesterday (and missing or running days of the few before it), refresh today;
    for every local enterprise (or those given)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(TZ).date()
    local = local_enterprises(conn) if enterprises is None else list(enterprises)
    finalised = refreshed = 0
    for back in range(CATCH_UP_DAYS + 1, 0, -1):  # oldest first: revisions go up in order
        day = today - timedelta(days=back)
        done = {
            int(r[0])
            for r in conn.execute(
                "SELECT enterprise_id FROM contractor.daily_summary WHERE day = %s AND final",
                (day,),
            )
        }
        for ent in local:
            if ent not in done and refresh(conn, ent, day, final=True, now=now):
                finalised += 1
    for ent in local:
        if refresh(conn, ent, today, final=False, now=now):
            refreshed += 1
    return f"contractor summaries: {finalised} days finalised, {refreshed} running updated"


def contractor_summary_jobs() -> list[Job]:
    from hazwatch.scheduler import Job

    return [Job("contractor summary", JOB_EVERY, contractor_summary_job)]


# -- receiving side ---------------------------------------------------------------------------


def _reject(message: str) -> Exception:
    from workflows.upward_receive import ItemRejected

    return ItemRejected(f"contractor_summary: {message}")


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _reject(f"{where} must be a count (integer ≥ 0), not {value!r:.20}")
    if value > 2**31 - 1:
        raise _reject(f"{where} {value} is out of range")
    return value


def _unknown(found: set[str], allowed: Any, where: str) -> None:
    extra = sorted(found - set(allowed))
    if extra:
        raise _reject(
            f"unknown field(s) {', '.join(extra)} in {where}: a summary carries the documented "
            "counts and company facts only"
        )


def _day(value: Any) -> date:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise _reject(f"day: not an ISO date (YYYY-MM-DD): {value!r:.20}") from None
    today = datetime.now(TZ).date()
    if day > today + timedelta(days=1):
        raise _reject(f"day {day} is in the future (today is {today} here)")
    if day.year < 2000:
        raise _reject(f"day {day} is before 2000")
    return day


def parse(data: Mapping[str, Any], enterprise_id: int) -> tuple[Summary, int, bool, datetime]:
    """Validate a received item; ``(summary, revision, final, computed_at)`` or ItemRejected."""
    _unknown(set(data), TOP_FIELDS, "the item")
    if data.get("schema") != SCHEMA:
        raise _reject(f"schema {data.get('schema')!r:.20} is not supported (this level: {SCHEMA})")
    day = _day(data.get("day"))
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or not 1 <= revision < 2**31:
        raise _reject(f"revision must be an integer ≥ 1, not {revision!r:.20}")
    final = data.get("final")
    if not isinstance(final, bool):
        raise _reject(f"final must be true or false, not {final!r:.20}")
    computed_at = aware_time(data.get("computed_at"), "computed_at")
    figs = data.get("figures")
    if not isinstance(figs, Mapping):
        raise _reject("figures must be an object")
    _unknown(set(figs), _COLUMNS, "figures")
    missing = [f for f in FIGURES if f not in figs]
    if missing:
        raise _reject(f"figures lack {', '.join(missing)}")
    figures = {f: _count(figs[f], f"figures.{f}") for f in FIGURES}
    for small, large in BOUNDS:
        if figures[small] > figures[large]:
            raise _reject(f"{small} {figures[small]} > {large} {figures[large]}")
    avg = figs.get(AVERAGE)
    if avg is not None and (
        isinstance(avg, bool) or not isinstance(avg, int | float) or not 0 <= avg <= 100
    ):
        raise _reject(f"{AVERAGE} must be null or a score 0-100, not {avg!r:.20}")
    if (avg is None) != (figures["evaluations_completed"] == 0):
        raise _reject(f"{AVERAGE} must be given exactly when evaluations were completed")
    score = None if avg is None else float(round(Decimal(str(avg)), 1))
    raw = data.get("breakdown") or {}
    if not isinstance(raw, Mapping):
        raise _reject("breakdown must be an object")
    _unknown(set(raw), BREAKDOWNS, "breakdown")
    breakdown: dict[str, dict[str, int]] = {}
    for name, counts in raw.items():
        if not isinstance(counts, Mapping):
            raise _reject(f"breakdown.{name} must be an object of counts")
        for code in counts:
            if not isinstance(code, str) or not _CODE.match(code):
                raise _reject(f"breakdown.{name}: {code!r:.30} is not a category code")
        breakdown[name] = {c: _count(n, f"breakdown.{name}.{c}") for c, n in counts.items()}
    rows = data.get("companies") or []
    if not isinstance(rows, list):
        raise _reject("companies must be a list")
    companies = [_company(r, i) for i, r in enumerate(rows)]
    summary = Summary(enterprise_id, day, figures, score, breakdown, companies)
    return summary, revision, final, computed_at


def _company(row: Any, i: int) -> dict[str, Any]:
    where = f"companies[{i}]"
    if not isinstance(row, Mapping):
        raise _reject(f"{where} must be an object")
    _unknown(set(row), COMPANY_FIELDS, where)
    out: dict[str, Any] = {}
    for name, kind in COMPANY_FIELDS.items():
        v = row.get(name)
        if kind is int:
            out[name] = _count(v, f"{where}.{name}")
        elif kind is bool:
            if not isinstance(v, bool):
                raise _reject(f"{where}.{name} must be true or false, not {v!r:.20}")
            out[name] = v
        else:
            if not isinstance(v, str) or not v.strip() or len(v) > 200:
                raise _reject(f"{where}.{name} must be text (1-200 characters)")
            out[name] = v
    if not _CREDIT.match(out["credit_code"]):
        raise _reject(f"{where}.credit_code {out['credit_code']!r:.30} is not a credit code")
    # Codes, not free text: nothing but the company's name is words.
    if out["category"] not in CATEGORIES:
        raise _reject(f"{where}.category {out['category']!r:.30}: one of {', '.join(CATEGORIES)}")
    if out["status"] not in COMPANY_STATUSES:
        raise _reject(f"{where}.status {out['status']!r:.30}: active, suspended or exited")
    return out


def apply_contractor_summary(
    conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]
) -> None:
    """Store a summary from below under its enterprise (the highest revision of a day wins)
    and forward it unchanged. Person-level or unknown fields reject the whole item."""
    from workflows.upward_receive import _enterprise_in_scope

    leaked = person_fields(data)
    if leaked:
        raise _reject(
            f"person-level field(s) {', '.join(leaked[:5])} refused: no personal data of "
            "contractor workers leaves the enterprise (counts and company facts only)"
        )
    ent = _enterprise_in_scope(conn, info, data)
    summary, revision, final, computed_at = parse(data, ent)
    try:
        with conn.transaction():
            store(conn, summary, revision, final, computed_at)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        raise _reject(f"refused by the database: {exc.diag.message_primary}") from None
    forward(conn, KIND, data)
