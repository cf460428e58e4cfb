"""Special-work permits of contractors (C14), linked from the permit system (GB 30871: eight
kinds of special work): start review, pre-work briefing, site control, acceptance, with the
warnings a supervisor needs.

    pid = save_permit(conn, actor, {"permit_no": "DH-20261201-01", "work_type": "hot_work",
                      "company_id": 3, "location": "罐区 T-101", "planned_start": start,
                      "planned_end": end, "guardian": "李四"}, enterprise_id=3, source="api")
    record_stage(conn, actor, pid, "briefing", at)      # reviewed / briefing / started / ...
    permit_warnings(permit_row, now, company_blocked=None)   # pure

A permit record from the permit system is matched by its number within the enterprise, so
the same record sent twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg

from hazwatch import registers
from hazwatch.registers import REGISTERS, Actor, Register, RegisterError, acting
from workflows.contractors.archive import ContractorError, company_blacklisted

WORK_TYPES: Final = {
    "hot_work": ("动火作业", "Hot work"),
    "confined_space": ("受限空间作业", "Confined space"),
    "blinding": ("盲板抽堵作业", "Blinding"),
    "work_at_height": ("高处作业", "Work at height"),
    "lifting": ("吊装作业", "Lifting"),
    "temporary_power": ("临时用电作业", "Temporary power"),
    "excavation": ("动土作业", "Excavation"),
    "road_closure": ("断路作业", "Road closure"),
}
#: Stage name -> timestamp column (names from code).
STAGES: Final = {
    "reviewed": "reviewed_at",
    "briefing": "briefed_at",
    "started": "started_at",
    "site_check": "site_checked_at",
    "accepted": "accepted_at",
}
FIELDS: Final = (
    "company_id", "project_id", "permit_no", "work_type", "level", "location", "description",
    "guardian", "planned_start", "planned_end", "reviewed_at", "briefed_at", "started_at",
    "site_checked_at", "accepted_at", "status", "source",
)  # fmt: skip
#: Site control: a running job is checked at least this often.
SITE_CHECK_EVERY: Final = timedelta(hours=2)

REGISTERS["contractor_work_permit"] = Register(
    "contractor", "work_permit", frozenset({"enterprise_id", *FIELDS})
)


def permit_warnings(
    p: Mapping[str, Any],
    now: datetime,
    *,
    company_blocked: str | None = None,
    stopped: bool = False,
) -> list[str]:
    """What is wrong with a permit now (pure; ``p`` has the permit's columns).

    >>> permit_warnings({"status": "in_progress", "started_at": t, "reviewed_at": None, ...}, now)
    ['work started without the start review', ...]
    """
    out: list[str] = []
    status = p.get("status")
    if status in ("accepted", "cancelled"):
        return out
    started = p.get("started_at")
    if company_blocked:
        out.append(f"company blacklisted: {company_blocked}")
    if stopped and status != "suspended":
        out.append("a stop-work order is in force for this work")
    if started is not None:
        if p.get("reviewed_at") is None or p["reviewed_at"] > started:
            out.append("work started without the start review")
        if p.get("briefed_at") is None or p["briefed_at"] > started:
            out.append("work started without the pre-work safety briefing")
        if not (p.get("guardian") or "").strip():
            out.append("no guardian (监护人) named for work in progress")
        if started < p["planned_start"]:
            out.append("work started before the permitted time")
        last = p.get("site_checked_at") or started
        if status == "in_progress" and now - last > SITE_CHECK_EVERY:
            hours = (now - last).total_seconds() / 3600
            out.append(f"no site check for {hours:.1f} h (due every {SITE_CHECK_EVERY})")
    elif now > p["planned_start"] + timedelta(hours=1) and now < p["planned_end"]:
        out.append("permitted time begun but the work's start is not recorded")
    if now > p["planned_end"] and status != "suspended":
        out.append("permit expired without acceptance")
    return out


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in values.items() if k in FIELDS}
    unknown = sorted(set(values) - set(FIELDS) - {"enterprise_id"})
    if unknown:
        raise ContractorError(f"unknown permit fields: {', '.join(unknown)}")
    if "work_type" in data and data["work_type"] not in WORK_TYPES:
        raise ContractorError(f"work_type {data['work_type']!r}: one of {', '.join(WORK_TYPES)}")
    for key in ("planned_start", "planned_end", *STAGES.values()):
        v = data.get(key)
        if isinstance(v, str):
            try:
                data[key] = datetime.fromisoformat(v)
            except ValueError:
                raise ContractorError(f"{key}: {v!r} is no ISO date-time") from None
        if isinstance(data.get(key), datetime) and data[key].tzinfo is None:
            raise ContractorError(f"{key}: needs a UTC offset (e.g. +08:00)")
    return data


def save_permit(
    conn: psycopg.Connection,
    actor: Actor,
    values: Mapping[str, Any],
    *,
    enterprise_id: int,
    source: str = "manual",
) -> int:
    """Insert or update (by permit number) a permit of a company of this enterprise."""
    data = _clean(values)
    data["source"] = source
    no = str(data.get("permit_no") or "").strip()
    if not no:
        raise ContractorError("permit_no: required")
    comp = conn.execute(
        "SELECT enterprise_id FROM contractor.company WHERE id = %s", (data.get("company_id"),)
    ).fetchone()
    if comp is None or comp[0] != enterprise_id:
        raise ContractorError(
            f"company #{data.get('company_id')}: no contractor of this enterprise"
        )
    existing = conn.execute(
        "SELECT id FROM contractor.work_permit WHERE enterprise_id = %s AND permit_no = %s",
        (enterprise_id, no),
    ).fetchone()
    try:
        if existing is None:
            data.setdefault("status", "in_progress" if data.get("started_at") else "planned")
            return registers.insert(
                conn, actor, "contractor_work_permit", {"enterprise_id": enterprise_id, **data},
                reason=f"work permit ({source})",
            )  # fmt: skip
        registers.update(
            conn, actor, "contractor_work_permit", int(existing[0]), data,
            reason=f"work permit ({source})",
        )  # fmt: skip
        return int(existing[0])
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def record_stage(
    conn: psycopg.Connection,
    actor: Actor,
    permit_id: int,
    stage: str,
    at: datetime | None = None,
) -> None:
    """A stage reached (from the permit system or entered on site)."""
    column = STAGES.get(stage)
    if column is None:
        raise ContractorError(f"stage {stage!r}: one of {', '.join(STAGES)}")
    at = at or datetime.now(UTC)
    with acting(conn, actor, f"work permit stage {stage}"):
        row = conn.execute(
            "SELECT status FROM contractor.work_permit WHERE id = %s FOR UPDATE", (permit_id,)
        ).fetchone()
        if row is None:
            raise ContractorError(f"no work permit #{permit_id}")
        if row[0] in ("accepted", "cancelled"):
            raise ContractorError(f"work permit #{permit_id} is {row[0]}")
        if row[0] == "suspended" and stage == "started":
            raise ContractorError(f"work permit #{permit_id} is suspended by a stop-work order")
        values: dict[str, Any] = {column: at}
        if stage == "started":
            values["status"] = "in_progress"
        elif stage == "accepted":
            values["status"] = "accepted"
        registers.update(conn, actor, "contractor_work_permit", permit_id, values,
                         reason=f"work permit stage {stage}")  # fmt: skip


def permits(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None,
    now: datetime | None = None,
    limit: int = 300,
) -> list[dict[str, Any]]:
    """Permits with their warnings, newest first (scoped by the caller)."""
    now = now or datetime.now(UTC)
    cols = ", ".join(f"w.{c}" for c in FIELDS)  # names from code
    rows = conn.execute(
        f"""SELECT w.id, c.name, pr.code, {cols},
                  EXISTS (SELECT 1 FROM contractor.stop_order s
                          WHERE s.status IN ('in_force', 'resume_requested')
                            AND (s.permit_id = w.id OR (s.permit_id IS NULL AND
                                 s.company_id = w.company_id AND (s.project_id IS NULL OR
                                 s.project_id = w.project_id))))
           FROM contractor.work_permit w
           JOIN contractor.company c ON c.id = w.company_id
           LEFT JOIN contractor.project pr ON pr.id = w.project_id
           WHERE (%(ents)s::integer[] IS NULL OR w.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR w.company_id = %(company)s)
           ORDER BY w.planned_start DESC, w.id DESC LIMIT %(limit)s""",  # noqa: S608
        {"ents": enterprise_ids, "company": company_id, "limit": limit},
    ).fetchall()
    out = []
    for r in rows:
        p = dict(zip(("id", "company", "project", *FIELDS, "stopped"), r, strict=True))
        p["warnings"] = permit_warnings(
            p, now, company_blocked=company_blacklisted(conn, p["company_id"]),
            stopped=p["stopped"],
        )  # fmt: skip
        out.append(p)
    return out
