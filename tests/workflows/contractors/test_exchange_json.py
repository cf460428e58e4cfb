"""C20 the exchange format: an export of one host imported into another (round trip), a bad
record reported with its path and field while the good ones are imported, no full ID number
anywhere in the document, and the CLI doing the same."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from hazwatch import registers
from tests.conftest import run_cli
from tests.workflows.contractors.ops_helpers import approved_entry, person
from tests.workflows.contractors.site import TEST, Site, make_site
from workflows.contractors import exchange_json, lists, permits
from workflows.contractors.pii import Vault


def _fill(conn: psycopg.Connection, tmp_path: Path) -> tuple[Site, int, str]:
    site = make_site(conn)
    c = site.company_id
    # a code of its own: every test site's first project is PRJ-1
    registers.update(conn, TEST, "contractor_project", site.project_id, {"code": f"P-{c}"})
    registers.insert(conn, TEST, "contractor_qualification",
                     {"company_id": c, "kind": "安全生产许可证", "number": "JZ-2026-001",
                      "expires_on": date(2028, 1, 1)})  # fmt: skip
    registers.insert(conn, TEST, "contractor_violation",
                     {"company_id": c, "project_id": site.project_id, "description": "未戴安全帽",
                      "occurred_at": datetime(2026, 10, 5, 9, tzinfo=UTC)})  # fmt: skip
    registers.insert(
        conn,
        TEST,
        "contractor_incident",
        {
            "company_id": c,
            "kind": "物体打击",
            "level": "minor",
            "occurred_at": datetime(2026, 10, 6, 9, tzinfo=UTC),
            "injuries": 1,
        },
    )
    pid = person(conn, site, tmp_path, "交换人员")
    approved_entry(conn, site, pid)
    registers.insert(conn, TEST, "contractor_certificate",
                     {"person_id": pid, "kind": "焊工证", "number": "T1401", "expires_on":
                      date(2027, 6, 1)})  # fmt: skip
    lists.add_to_blacklist(conn, TEST, person_id=pid, reason="严重违章")
    start = datetime.now(UTC)
    permits.save_permit(conn, TEST, {"permit_no": "DH-9", "company_id": c, "work_type":
                                     "hot_work", "location": "罐区", "planned_start": start,
                                     "planned_end": start + timedelta(hours=4)},
                        enterprise_id=site.enterprise_id)  # fmt: skip
    cipher = conn.execute("SELECT id_cipher FROM contractor.person WHERE id = %s", (pid,))
    plain = Vault.at(tmp_path).open(cipher.fetchone()[0])  # type: ignore[index]
    return site, pid, plain


def test_round_trip_with_a_bad_record(conn: psycopg.Connection, tmp_path: Path) -> None:
    site, _, plain = _fill(conn, tmp_path)
    doc = exchange_json.export(conn, site.enterprise_id)
    text = json.dumps(doc, ensure_ascii=False)
    assert plain not in text and plain[6:14] not in text  # neither the number nor the birth date
    assert exchange_json.validate(doc, "document", "$") == []
    person_doc = doc["persons"][0]
    assert set(person_doc) <= {"person_code", "name", "id_masked", "gender", "employments",
                               "certificates", "entries", "blacklisted"}  # fmt: skip
    # a neighbour's document: ours plus a company with a wrong check digit
    bad = dict(
        doc["companies"][0],
        credit_code=doc["companies"][0]["credit_code"][:-1]
        + ("0" if doc["companies"][0]["credit_code"][-1] != "0" else "1"),
        name="坏记录",
    )
    doc["companies"].append(bad)
    doc["persons"].append(dict(person_doc, person_code="P99999999", id_masked=plain))
    target = make_site(conn)
    report = exchange_json.import_document(conn, TEST, doc, enterprise_id=target.enterprise_id)
    assert "blacklist" not in report.imported  # the same person, listed already
    assert report.imported["companies"] == 1
    assert report.imported["projects"] == 1
    assert report.imported["violations"] == 1 and report.imported["incidents"] == 1
    assert report.imported["qualifications"] == 1 and report.imported["permits"] == 1
    assert report.imported["employments"] == 1
    assert any(e.startswith("$.companies[1].credit_code: check digit") for e in report.errors)
    assert any(e.startswith("$.persons[1].id_masked: the masked form") for e in report.errors)
    assert len(report.errors) == 2, report.errors
    again = exchange_json.export(conn, target.enterprise_id)
    assert [c["credit_code"] for c in again["companies"]] == [
        c["credit_code"] for c in exchange_json.export(conn, target.enterprise_id)["companies"]
    ]
    imported = {c["credit_code"]: c for c in again["companies"]}
    original = doc["companies"][0]
    assert imported[original["credit_code"]]["violations"] == original["violations"]
    assert imported[original["credit_code"]]["incidents"] == original["incidents"]
    assert again["persons"][0]["person_code"] == person_doc["person_code"]
    # the same document again changes nothing
    second = exchange_json.import_document(conn, TEST, doc, enterprise_id=target.enterprise_id)
    assert second.imported == {} and second.unchanged > 0


def test_bad_documents_are_explained(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    r = exchange_json.import_document(conn, TEST, [1, 2], enterprise_id=site.enterprise_id)
    assert r.errors == ["document: a JSON object"]
    r = exchange_json.import_document(
        conn, TEST, {"format": "other", "version": 1, "companies": [], "persons": []},
        enterprise_id=site.enterprise_id,
    )  # fmt: skip
    assert "$.format: one of hazwatch.contractors, not 'other'" in r.errors
    assert "$.exported_at: required" in r.errors
    rec = {
        "credit_code": "x",
        "name": "",
        "category": "pirates",
        "extra": 1,
        "violations": [{"occurred_at": "2026-10-01T08:00:00", "description": "d"}],
    }
    problems = exchange_json.validate(rec, "company", "$.companies[0]")
    assert "$.companies[0].extra: not a field of company" in problems
    assert "$.companies[0].name: a non-empty string" in problems
    assert any(p.startswith("$.companies[0].category: one of") for p in problems)
    assert any(p.startswith("$.companies[0].violations[0].occurred_at: a date-time with its UTC")
               for p in problems)  # fmt: skip


def test_cli_export_and_import(conn: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    site, _, _ = _fill(conn, tmp_path)
    out = tmp_path / "export.json"
    env = {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)}
    done = run_cli("contractors", "export", "--enterprise", site.enterprise, "--out", str(out),
                   env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["format"] == "hazwatch.contractors"
    target = make_site(conn)
    dry = run_cli("contractors", "import", str(out), "--enterprise", target.enterprise,
                  "--dry-run", env=env)  # fmt: skip
    assert dry.returncode == 0 and "companies 1" in dry.stdout, dry.stdout + dry.stderr
    assert not conn.execute(
        "SELECT 1 FROM contractor.company WHERE enterprise_id = %s AND name = %s",
        (target.enterprise_id, site.company),
    ).fetchone()
    out.write_text('{"format": "hazwatch.contractors", "version": 2}', encoding="utf-8")
    bad = run_cli("contractors", "import", str(out), "--enterprise", target.enterprise, env=env)
    assert bad.returncode == 1 and "$.version: one of 1" in bad.stdout + bad.stderr


def test_the_documentation_lists_every_field() -> None:
    """docs/contractor-operations.md documents the format field by field, record by record."""
    doc = (Path(__file__).parents[3] / "docs" / "contractor-operations.md").read_text("utf-8")
    tables = doc.split("### Records, field by field", 1)[1].split("#### ")[1:]
    documented = {
        part.split("`")[1]: {line.split("`")[1] for line in part.splitlines()
                             if line.startswith("| `")}
        for part in tables
    }  # fmt: skip
    assert documented == {k: set(v) for k, v in exchange_json.SCHEMA.items()}
