"""Shared set-up of the contractor-operations tests (positioning, exit, permits, stop-work,
evaluation, lists, exchange): a site from ``site.make_site`` plus people with an approved entry
(the approval itself is tested by the entry tests; here the row is written as approved)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg

from hazwatch import registers
from tests.workflows.contractors.site import TEST, Site, id_number
from workflows.contractors import archive
from workflows.contractors.archive import PersonInput
from workflows.contractors.entry import card_number

_seq = iter(range(100, 1000))


def person(conn: psycopg.Connection, site: Site, home: Path, name: str = "张三") -> int:
    pid, _ = archive.register_person(
        conn, TEST, site.company_id,
        PersonInput(name=name, id_number=id_number(next(_seq)), person_type="worker",
                    insurance_until=date.today() + timedelta(days=365),
                    medical_check_on=date.today() - timedelta(days=30)),
        home=home,
    )  # fmt: skip
    return pid


def approved_entry(
    conn: psycopg.Connection,
    site: Site,
    person_id: int,
    valid_from: date | None = None,
    days: int = 30,
) -> str:
    """An approved entry of the person with its access card; the card number."""
    start = valid_from or date.today() - timedelta(days=1)
    app_id = registers.insert(
        conn, TEST, "contractor_entry_application",
        {"enterprise_id": site.enterprise_id, "company_id": site.company_id,
         "project_id": site.project_id, "person_id": person_id, "batch": uuid.uuid4(),
         "valid_from": start, "valid_until": start + timedelta(days=days),
         "places": ["一号门"], "course_id": site.course_id, "status": "approved"},
    )  # fmt: skip
    card = card_number(site.enterprise_id, app_id)
    registers.update(conn, TEST, "contractor_entry_application", app_id, {"card_no": card})
    return card
