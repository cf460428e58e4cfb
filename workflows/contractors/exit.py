"""Exit of contractor people and their identity across employers (C13).

    exit_id = record_exit(conn, actor, employment_id=12, left_on=date(2026, 11, 30),
                          reason="合同期满")   # cards revoked, positioning tags returned
    history(conn, "P00000017")                 # a year of entries, whatever the employer
    kept_until(conn, person_id=17)             # the first day deletion is allowed, or None
    purge_expired(conn, actor, keep=timedelta(days=1095))   # the retention job

Records of a person who came on site are kept while any employment is active and at least one
year (366 days) after the last exit. The database refuses an earlier deletion (trigger
``contractor.refuse_early_delete``, message starting ``C13:``), so no screen or script can get
round it; ``purge_expired`` removes what is past the configured retention, which
``hazwatch.retention`` never lets fall below the legal minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg

from hazwatch import registers, retention
from hazwatch.registers import REGISTERS, Actor, Register, acting
from workflows.contractors.access_control import AccessControlError, revoke_card
from workflows.contractors.archive import ContractorError

#: The legal minimum, the same as ``hazwatch.retention`` enforces for its settings.
MINIMUM: Final = retention.LEGAL_MINIMUMS["contractor.person"].keep

REGISTERS["contractor_exit_record"] = Register(
    "contractor",
    "exit_record",
    frozenset({"employment_id", "person_id", "company_id", "left_on", "reason", "cards_revoked",
               "tags_returned", "problems", "recorded_by"}),
)  # fmt: skip


@dataclass(frozen=True)
class ExitOutcome:
    exit_id: int
    cards_revoked: tuple[str, ...]
    tags_returned: tuple[str, ...]
    problems: tuple[str, ...]


def deletable_from(left_on: date | None, still_employed: bool, came_on_site: bool) -> date | None:
    """The pure C13 rule: the first day a person's records may go (None: any day).

    >>> deletable_from(date(2026, 1, 10), False, True)
    datetime.date(2027, 1, 11)
    """
    if not came_on_site:
        return None
    if still_employed:
        return date.max
    assert left_on is not None
    return left_on + MINIMUM


def record_exit(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    employment_id: int,
    left_on: date,
    reason: str,
    company_id: int | None = None,
    today: date | None = None,
) -> ExitOutcome:
    """The person leaves the company: employment closed, positioning tags returned, access
    cards of entries still running revoked at the access-control system. A card the system
    cannot revoke now is named in ``problems`` (shown on the exit list) instead of keeping a
    person on the books who has gone."""
    today = today or date.today()
    reason = reason.strip()
    if not reason:
        raise ContractorError("reason: required")
    if left_on > today + timedelta(days=31):
        raise ContractorError("exit date: at most a month ahead")
    with acting(conn, actor, f"exit: {reason}"):
        row = conn.execute(
            """SELECT e.person_id, e.company_id, e.status, e.joined_on, c.enterprise_id
               FROM contractor.employment e JOIN contractor.company c ON c.id = e.company_id
               WHERE e.id = %s FOR UPDATE OF e""",
            (employment_id,),
        ).fetchone()
        if row is None or (company_id is not None and row[1] != company_id):
            raise ContractorError(f"no employment #{employment_id} of this company")
        person_id, comp, status, joined_on, enterprise_id = row
        if status != "active":
            raise ContractorError(f"employment #{employment_id} has ended already")
        if left_on < joined_on:
            raise ContractorError(f"exit date {left_on} lies before the joining date {joined_on}")
        registers.update(
            conn, actor, "contractor_employment", employment_id,
            {"status": "exited", "left_on": left_on}, reason=f"exit: {reason}",
        )  # fmt: skip
        tags = conn.execute(
            "SELECT id, tag_no FROM contractor.positioning_tag WHERE person_id = %s"
            " AND company_id = %s AND status = 'active'",
            (person_id, comp),
        ).fetchall()
        now = datetime.now(UTC)
        from workflows.contractors.positioning import return_tag

        for tag_id, _ in tags:
            return_tag(conn, actor, tag_id, now=now)
        cards, problems = _revoke_cards(conn, person_id, comp, enterprise_id, left_on)
        exit_id = registers.insert(
            conn,
            actor,
            "contractor_exit_record",
            {"employment_id": employment_id, "person_id": person_id, "company_id": comp,
             "left_on": left_on, "reason": reason, "cards_revoked": cards,
             "tags_returned": [t for _, t in tags], "problems": problems,
             "recorded_by": actor.id},
            reason=f"exit: {reason}",
        )  # fmt: skip
    return ExitOutcome(exit_id, tuple(cards), tuple(t for _, t in tags), tuple(problems))


def _revoke_cards(
    conn: psycopg.Connection, person_id: int, company_id: int, enterprise_id: int, left_on: date
) -> tuple[list[str], list[str]]:
    cards = [
        r[0]
        for r in conn.execute(
            "SELECT card_no FROM contractor.entry_application WHERE person_id = %s"
            " AND company_id = %s AND status = 'approved' AND card_no IS NOT NULL"
            " AND valid_until >= %s ORDER BY id",
            (person_id, company_id, left_on),
        )
    ]
    if not cards:
        return [], []
    system = conn.execute(
        "SELECT url, token FROM contractor.access_system WHERE enterprise_id = %s",
        (enterprise_id,),
    ).fetchone()
    if system is None:
        return [], [f"card {c}: no access-control system configured" for c in cards]
    done, problems = [], []
    for card in cards:
        try:
            revoke_card(system[0], system[1], card)
            done.append(card)
        except AccessControlError as exc:
            problems.append(f"card {card}: {exc}")
    return done, problems


def kept_until(conn: psycopg.Connection, person_id: int) -> date | None:
    """The first day the person's records may be deleted (``date.max``: still employed),
    or None when they may go now."""
    # As text: psycopg cannot load the date 'infinity' (still employed).
    row = conn.execute("SELECT contractor.kept_until(%s)::text", (person_id,)).fetchone()
    return None if row is None else _kept(row[0])


def _kept(text: str | None) -> date | None:
    if text is None:
        return None
    return date.max if text == "infinity" else date.fromisoformat(text)


def history(
    conn: psycopg.Connection,
    person_code: str,
    *,
    today: date | None = None,
    days: int = 366,
    enterprise_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The person and a year of their entries, attendance and exits at every employer
    (C13): the person code stays when the employer changes."""
    today = today or date.today()
    since = today - timedelta(days=days)
    person = conn.execute(
        "SELECT id, person_code, name, id_masked FROM contractor.person WHERE person_code = %s",
        (person_code.strip().upper(),),
    ).fetchone()
    if person is None:
        raise ContractorError(f"no person with code {person_code!r}")
    scope = {"pid": person[0], "since": since, "ents": enterprise_ids}
    entries = conn.execute(
        """SELECT a.id, c.name, pr.code, a.valid_from, a.valid_until, a.status, a.card_no,
                  array_to_string(a.places, '、')
           FROM contractor.entry_application a
           JOIN contractor.company c ON c.id = a.company_id
           LEFT JOIN contractor.project pr ON pr.id = a.project_id
           WHERE a.person_id = %(pid)s AND a.valid_until >= %(since)s
             AND (%(ents)s::integer[] IS NULL OR a.enterprise_id = ANY(%(ents)s))
           ORDER BY a.valid_from DESC, a.id DESC""",
        scope,
    ).fetchall()
    employments = conn.execute(
        """SELECT c.name, e.person_type, e.status, e.joined_on, e.left_on
           FROM contractor.employment e JOIN contractor.company c ON c.id = e.company_id
           WHERE e.person_id = %(pid)s
             AND (%(ents)s::integer[] IS NULL OR c.enterprise_id = ANY(%(ents)s))
           ORDER BY e.joined_on DESC, e.id DESC""",
        scope,
    ).fetchall()
    attendance = conn.execute(
        """SELECT c.name, count(*), min(d.day), max(d.day)
           FROM contractor.attendance d JOIN contractor.company c ON c.id = d.company_id
           WHERE d.person_id = %(pid)s AND d.day >= %(since)s
             AND (%(ents)s::integer[] IS NULL OR c.enterprise_id = ANY(%(ents)s))
           GROUP BY c.name ORDER BY 3""",
        scope,
    ).fetchall()
    return {
        "person_id": person[0],
        "person_code": person[1],
        "name": person[2],
        "id_masked": person[3],
        "kept_until": kept_until(conn, person[0]),
        "employments": [
            dict(zip(("company", "person_type", "status", "joined_on", "left_on"), r, strict=True))
            for r in employments
        ],
        "entries": [
            dict(
                zip(
                    (
                        "id",
                        "company",
                        "project",
                        "valid_from",
                        "valid_until",
                        "status",
                        "card_no",
                        "places",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in entries
        ],
        "attendance": [
            dict(zip(("company", "days", "first", "last"), r, strict=True)) for r in attendance
        ],
    }


def exits(
    conn: psycopg.Connection,
    *,
    enterprise_ids: list[int] | None,
    company_id: int | None,
    limit: int = 300,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT x.id, p.person_code, p.name, c.name, x.left_on, x.reason, x.cards_revoked,
                  x.tags_returned, x.problems, contractor.kept_until(x.person_id)::text
           FROM contractor.exit_record x
           JOIN contractor.person p ON p.id = x.person_id
           JOIN contractor.company c ON c.id = x.company_id
           WHERE (%(ents)s::integer[] IS NULL OR c.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR x.company_id = %(company)s)
           ORDER BY x.left_on DESC, x.id DESC LIMIT %(limit)s""",
        {"ents": enterprise_ids, "company": company_id, "limit": limit},
    ).fetchall()
    keys = ("id", "person_code", "name", "company", "left_on", "reason", "cards", "tags",
            "problems", "kept_until")  # fmt: skip
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for x in out:
        x["kept_until"] = _kept(x["kept_until"])
    return out


#: Tables holding a person's records, children first (the order of deletion).
_PERSON_TABLES: Final = (
    ("contractor.position_violation",
     "tag_id IN (SELECT id FROM contractor.positioning_tag WHERE person_id = %(pid)s)"),
    ("contractor.position",
     "tag_id IN (SELECT id FROM contractor.positioning_tag WHERE person_id = %(pid)s)"),
    ("contractor.positioning_tag", "person_id = %(pid)s"),
    ("contractor.access_push",
     "application_id IN (SELECT id FROM contractor.entry_application WHERE person_id = %(pid)s)"),
    ("contractor.exam_attempt", "person_id = %(pid)s"),
    ("contractor.entry_application", "person_id = %(pid)s"),
    ("contractor.attendance", "person_id = %(pid)s"),
    ("contractor.training_record", "person_id = %(pid)s"),
    ("contractor.certificate", "person_id = %(pid)s"),
    ("contractor.exit_record", "person_id = %(pid)s"),
    ("contractor.blacklist", "person_id = %(pid)s"),
    ("contractor.employment", "person_id = %(pid)s"),
    ("contractor.attachment", "entity = 'person' AND entity_id = %(pid)s"),
)  # fmt: skip


def purge_expired(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    keep: timedelta,
    today: date | None = None,
) -> list[str]:
    """Delete people whose last exit is more than ``keep`` ago (never less than the legal
    minimum); their violations stay with the company, without the person. Returns the person
    codes removed."""
    if keep < MINIMUM:
        raise ContractorError(
            f"keep {keep.days} days: below the legal minimum of {MINIMUM.days} days (C13)"
        )
    today = today or date.today()
    due = conn.execute(
        """SELECT p.id, p.person_code FROM contractor.person p
           WHERE NOT EXISTS (SELECT 1 FROM contractor.employment e
                             WHERE e.person_id = p.id AND e.status = 'active')
             AND (SELECT max(e.left_on) FROM contractor.employment e
                  WHERE e.person_id = p.id) < %s
           ORDER BY p.id""",
        (today - keep,),
    ).fetchall()
    removed = []
    for pid, code in due:
        with acting(conn, actor, f"C13 retention: {keep.days} days after exit"):
            conn.execute(
                "UPDATE contractor.violation SET person_id = NULL, offender = %s"
                " WHERE person_id = %s",
                (f"({code}, removed)", pid),
            )
            for table, where in _PERSON_TABLES:
                # Table names and conditions come from the tuple above, never from input.
                conn.execute(f"DELETE FROM {table} WHERE {where}", {"pid": pid})  # noqa: S608
            conn.execute("DELETE FROM contractor.person WHERE id = %s", (pid,))
        removed.append(code)
    return removed
