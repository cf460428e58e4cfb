"""``hazwatch demo``'s contractor data (issue 10): provisioned once, idempotent, with a
contractor login that belongs to the demo company, and an access-control system row that
points at the simulator the demo starts as a child (a real ``hazwatch`` command)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click
import psycopg

from hazwatch import registers
from hazwatch.auth import verify_login
from hazwatch.cli import cli
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.workflows.contractors.site import TEST
from workflows.contractors import demo, entry
from workflows.contractors.pii import Vault

PASSWORD = "hazwatch-demo"  # the demo's printed password
TABLES = (
    "company", "qualification", "qualification_rule", "project", "employment", "certificate",
    "equipment", "course", "question", "exam_rule", "access_system",
)  # fmt: skip


def _counts(conn: psycopg.Connection, enterprise: int) -> dict[str, int]:
    out = {}
    for table in TABLES:
        # Table names come from the tuple above.
        row = conn.execute(
            f"SELECT count(*) FROM contractor.{table} t WHERE {_ENT[table]} = %s",  # noqa: S608
            (enterprise,),
        ).fetchone()
        out[table] = int(row[0]) if row else 0
    return out


_COMPANY = "(SELECT c.enterprise_id FROM contractor.company c WHERE c.id = t.company_id)"
_ENT = {
    "company": "t.enterprise_id",
    "qualification": _COMPANY,
    "qualification_rule": "t.enterprise_id",
    "project": "t.enterprise_id",
    "employment": _COMPANY,
    "certificate": "(SELECT c.enterprise_id FROM contractor.employment e JOIN contractor.company"
    " c ON c.id = e.company_id WHERE e.person_id = t.person_id LIMIT 1)",
    "equipment": _COMPANY,
    "course": "t.enterprise_id",
    "question": "t.enterprise_id",
    "exam_rule": "(SELECT k.enterprise_id FROM contractor.course k WHERE k.id = t.course_id)",
    "access_system": "t.enterprise_id",
}


def test_demo_contractors_are_provisioned_once(conn: psycopg.Connection, tmp_path: Path) -> None:
    conn.execute("DELETE FROM auth.app_user WHERE lower(name) = %s", (demo.LOGIN,))
    enterprise, _ = make_enterprise(conn, "演示承包商")
    first = demo.ensure_demo_contractors(conn, enterprise, home=tmp_path, password=PASSWORD)
    counts = _counts(conn, enterprise)
    assert first.rows == sum(counts.values()) + 1  # every row, plus the login
    assert counts["employment"] == len(demo.PEOPLE) and counts["question"] == len(demo.QUESTIONS)
    assert counts["access_system"] == counts["company"] == 1

    # Pointed elsewhere meanwhile (another run's port): the next run points it back.
    (system,) = conn.execute(
        "SELECT id FROM contractor.access_system WHERE enterprise_id = %s", (enterprise,)
    ).fetchone()
    registers.update(conn, TEST, "contractor_access_system", system, {"url": "http://x:1"})
    second = demo.ensure_demo_contractors(conn, enterprise, home=tmp_path, password=PASSWORD)
    assert second.rows == 0 and _counts(conn, enterprise) == counts
    assert conn.execute(
        "SELECT url, token FROM contractor.access_system WHERE id = %s", (system,)
    ).fetchone() == (demo.access_url(), demo.ACCESS_TOKEN)

    user = verify_login(conn, demo.LOGIN, PASSWORD)
    assert user is not None
    company = conn.execute(
        "SELECT u.role, c.name, c.enterprise_id FROM auth.app_user u JOIN contractor.company c"
        " ON c.id = u.contractor_company_id WHERE lower(u.name) = %s",
        (demo.LOGIN,),
    ).fetchone()
    assert company == ("contractor", demo.COMPANY, enterprise)
    # The demo's people pass the entry document check of their category: they can apply.
    vault = Vault.at(tmp_path)
    people = []
    for _name, first17, _type, _cert in demo.PEOPLE:
        digest = vault.digest(demo.id_number(first17))
        row = conn.execute("SELECT id FROM contractor.person WHERE id_hash = %s", (digest,))
        people.append(int(row.fetchone()[0]))  # type: ignore[index]
    company_id = conn.execute(
        "SELECT contractor_company_id FROM auth.app_user WHERE id = %s", (user,)
    ).fetchone()
    assert company_id is not None
    today = date.today()
    apps = entry.apply_for_entry(
        conn, Actor(user, demo.LOGIN), company_id=company_id[0], person_ids=people,
        valid_from=today + timedelta(days=1), valid_until=today + timedelta(days=20),
        places=["一号门"], today=today,
    )  # fmt: skip
    assert len(apps) == len(demo.PEOPLE)
    course = conn.execute(
        "SELECT pass_mark, is_entry FROM contractor.course WHERE enterprise_id = %s AND code = %s",
        (enterprise, demo.COURSE),
    ).fetchone()
    assert course is not None and course[1] is True and float(course[0]) == 80


def test_demo_child_is_a_real_command() -> None:
    (child,) = demo.demo_children(port=18555)
    assert child.args[-4:] == ["--port", "18555", "--token", demo.ACCESS_TOKEN]
    ctx = click.Context(cli)
    group = cli.get_command(ctx, child.args[0])
    assert isinstance(group, click.Group)
    command = group.get_command(ctx, child.args[1])
    assert command is not None
    parsed = command.make_context("access-sim", list(child.args[2:]))
    assert parsed.params["port"] == 18555 and parsed.params["token"] == demo.ACCESS_TOKEN
