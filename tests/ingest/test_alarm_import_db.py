"""``hazwatch import alarms`` end to end: the real console script against the session database.

Each test files its events under an enterprise of its own (the session database is shared with
other tests), so tag names and counts never mix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from click.testing import CliRunner, Result

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.settings import Settings
from ingest.files.alarm_import import import_alarm_file
from ingest.files.cli import alarms
from ingest.files.decode import FORMATS, Format, ParsedEvent
from tests.conftest import make_enterprise, run_cli

DATA = Path(__file__).parent / "data" / "alarms"
TEST = Actor(None, "test")

# format: (file, events, lines that gave events, quarantined line numbers, ignored, encoding)
SAMPLES: dict[str, tuple[str, int, int, list[str], int, str]] = {
    "csv": ("generic.csv", 7, 7, ["9", "10", "11"], 2, "utf-8"),
    "supcon-ecs700": ("supcon-ecs700.csv", 8, 8, ["12", "13", "14"], 3, "gbk"),
    "hollysys-macs": ("hollysys-macs.csv", 10, 5, ["7", "8", "9"], 1, "utf-8-sig"),
    "centum-vp": ("centum-vp.csv", 7, 6, ["10", "11", "12"], 3, "gbk"),
    "experion-pks": ("experion-pks.csv", 6, 6, ["9", "10", "11"], 2, "utf-8"),
    "deltav": ("deltav.txt", 9, 9, ["12", "13"], 2, "utf-8"),
}


@pytest.fixture
def enterprise(conn: psycopg.Connection) -> tuple[int, str]:
    """A fresh enterprise in 太原市: (id, name)."""
    return make_enterprise(conn, "告警导入测试化工有限公司")


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    out = run_cli("import", "alarms", *args, env={"HAZWATCH_DATABASE_URL": db_url})
    return out.returncode, out.stdout, out.stderr


def field(stdout: str, name: str) -> str:
    """The value of one ``name  value`` line of the summary."""
    m = re.search(rf"^{name}\s+(.*)$", stdout, re.M)
    assert m, f"no {name!r} in the summary:\n{stdout}"
    return m.group(1)


def number(stdout: str, name: str) -> int:
    return int(field(stdout, name).split()[0])


def event_rows(conn: psycopg.Connection, ent_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT t.name, e.time, e.kind, e.condition, e.priority, e.category, e.limit_value,"
        " e.value, e.operator, e.source, e.attributes, e.point_id"
        " FROM alarm.event e JOIN registry.tag t ON t.id = e.tag_id"
        " WHERE t.enterprise_id = %s ORDER BY e.time, t.name, e.kind, e.condition",
        (ent_id,),
    ).fetchall()


def max_id(conn: psycopg.Connection, table: str) -> int:
    query = {
        "quarantine": "SELECT coalesce(max(id), 0) FROM ingest.quarantine",
        "import_run": "SELECT coalesce(max(id), 0) FROM ingest.import_run",
    }[table]
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_import_each_sample_then_again(
    fmt: str, db_url: str, conn: psycopg.Connection, enterprise: tuple[int, str]
) -> None:
    name, n_events, n_rows, bad_lines, n_ignored, encoding = SAMPLES[fmt]
    ent_id, ent_name = enterprise
    path = DATA / name
    n_lines = len(path.read_bytes().splitlines())
    q0, r0 = max_id(conn, "quarantine"), max_id(conn, "import_run")

    code, out, err = cli(db_url, "--format", fmt, str(path), "--enterprise", ent_name)
    assert (code, err) == (0, ""), err
    assert number(out, "lines") == n_lines
    assert field(out, "events") == f"{n_events} from {n_rows} lines"
    assert number(out, "imported") == n_events
    assert number(out, "duplicates") == 0
    assert number(out, "quarantined") == len(bad_lines)
    assert number(out, "ignored") == n_ignored
    assert n_rows + len(bad_lines) + n_ignored == n_lines  # every line accounted for once
    assert field(out, "encoding").startswith(encoding)
    for line in bad_lines[:3]:
        assert f"  line {line}: " in out

    rows = event_rows(conn, ent_id)
    assert len(rows) == n_events
    assert {r[9] for r in rows} == {f"import:{fmt}"}
    assert all(r[1].tzinfo is not None for r in rows)

    quarantine = conn.execute(
        "SELECT source, origin, position, reason, raw FROM ingest.quarantine WHERE id > %s"
        " AND origin = %s ORDER BY id",
        (q0, name),
    ).fetchall()
    assert [q[2] for q in quarantine] == bad_lines
    assert {q[0] for q in quarantine} == {f"import:{fmt}"}
    assert all(q[3] and q[4] for q in quarantine)

    run = conn.execute(
        "SELECT kind, format, file_name, encoding, lines, imported, duplicates, quarantined,"
        " status, error, finished_at IS NOT NULL, length(file_sha256)"
        " FROM ingest.import_run WHERE id > %s AND file_name = %s ORDER BY id",
        (r0, name),
    ).fetchall()
    assert run == [
        (
            "alarms",
            fmt,
            name,
            encoding,
            n_lines,
            n_events,
            0,
            len(bad_lines),
            "done",
            None,
            True,
            64,
        ),
    ]

    # The same file again: nothing new, every event a duplicate, the bad lines recorded again.
    # Through the console script for two formats; in-process (same code, no 0.5 s interpreter
    # start) for the rest, to keep the module fast.
    if fmt in ("csv", "supcon-ecs700"):
        code, out, err = cli(db_url, "--format", fmt, str(path), "--enterprise", ent_name)
        assert (code, err) == (0, ""), err
        assert number(out, "imported") == 0
        assert number(out, "duplicates") == n_events
        assert number(out, "new tags") == 0
    else:
        again = import_alarm_file(conn, path, fmt, enterprise=ent_name)
        assert (again.imported, again.duplicates, again.new_tags) == (0, n_events, [])
    assert len(event_rows(conn, ent_id)) == n_events
    last = conn.execute(
        "SELECT imported, duplicates, quarantined, status FROM ingest.import_run"
        " WHERE file_name = %s ORDER BY id DESC LIMIT 1",
        (name,),
    ).fetchone()
    assert last == (0, n_events, len(bad_lines), "done")


def test_supcon_rows_tags_and_audit(
    db_url: str, conn: psycopg.Connection, enterprise: tuple[int, str]
) -> None:
    ent_id, _ent_name = enterprise
    # The ledger (A1) already has TI-1101's HH alarm: its events get the point id.
    tag = registers.insert(conn, TEST, "tag", {"enterprise_id": ent_id, "name": "TI-1101"})
    point = registers.insert(
        conn,
        TEST,
        "alarm_point",
        {
            "tag_id": tag,
            "condition": "HH",
            "limit_value": 90,
            "priority": "emergency",
            "category": "process",
        },
    )
    code, out, err = cli(
        db_url,
        "--format",
        "supcon-ecs700",
        str(DATA / "supcon-ecs700.csv"),
        "--enterprise",
        str(ent_id),
    )
    assert (code, err) == (0, ""), err
    assert field(out, "new tags") == "4 (LI-1203, XV-1301, AT-1401, FI-1501)"
    assert field(out, "time range") == (
        "2024-03-15 08:00:01.000+08:00 .. 2024-03-15 08:20:00.000+08:00 (Asia/Shanghai)"
    )
    rows = event_rows(conn, ent_id)
    t = datetime(2024, 3, 15, tzinfo=UTC)
    assert [(r[0], r[1] - t, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[11]) for r in rows] == [
        ("TI-1101", _s(1), "ALM", "H", "high", None, 80.0, 85.2, None, None),
        ("TI-1101", _s(20), "ALM", "HH", "emergency", None, 90.0, 92.6, None, point),
        ("TI-1101", _s(45), "ACK", "HH", "emergency", None, None, None, "张伟", point),
        ("TI-1101", _s(362), "RTN", "HH", "emergency", None, 90.0, 88.1, None, point),
        ("LI-1203", _s(600), "ALM", "LL", "emergency", None, 10.0, 8.5, None, None),
        ("XV-1301", _s(720), "ALM", "TRIP", "emergency", "safety", None, None, None, None),
        ("AT-1401", _s(900), "ALM", "BAD", "high", "instrument", None, None, None, None),
        ("FI-1501", _s(1200), "SUPPRESS", "DEV", "low", None, None, None, "李娜", None),
    ]
    assert rows[0][10] == {
        "unit": "裂解装置",
        "operator_team": "操作小组1",
        "description": "反应器出口温度",
        "eng_unit": "℃",
        "vendor_condition": "高限",
    }
    created = conn.execute(
        "SELECT t.name, t.source, a.actor, a.action FROM registry.tag t"
        " JOIN audit.log a ON a.entity = 'registry.tag' AND a.entity_id = t.id::text"
        " WHERE t.enterprise_id = %s AND t.name <> 'TI-1101' ORDER BY t.name",
        (ent_id,),
    ).fetchall()
    assert created == [
        (n, "import", "import:supcon-ecs700", "insert")
        for n in ("AT-1401", "FI-1501", "LI-1203", "XV-1301")
    ]


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_dry_run_writes_nothing(
    db_url: str, conn: psycopg.Connection, enterprise: tuple[int, str]
) -> None:
    ent_id, ent_name = enterprise
    q0, r0 = max_id(conn, "quarantine"), max_id(conn, "import_run")
    code, out, err = cli(
        db_url,
        "--format",
        "hollysys-macs",
        str(DATA / "hollysys-macs.csv"),
        "--enterprise",
        ent_name,
        "--dry-run",
    )
    assert (code, err) == (0, ""), err
    assert out.startswith("dry run of hollysys-macs.csv (hollysys-macs): nothing was written")
    assert number(out, "imported") == 10
    assert number(out, "quarantined") == 3
    assert number(out, "new tags") == 4
    assert event_rows(conn, ent_id) == []
    assert (max_id(conn, "quarantine"), max_id(conn, "import_run")) == (q0, r0)
    tags = conn.execute("SELECT count(*) FROM registry.tag WHERE enterprise_id = %s", (ent_id,))
    assert tags.fetchone() == (0,)


def test_other_time_zone(
    db_url: str, conn: psycopg.Connection, enterprise: tuple[int, str]
) -> None:
    ent_id, ent_name = enterprise
    code, _out, err = cli(
        db_url,
        "--format",
        "csv",
        str(DATA / "generic.csv"),
        "--enterprise",
        ent_name,
        "--tz",
        "Europe/Berlin",
    )
    assert (code, err) == (0, ""), err
    times = {(r[0], r[2]): r[1] for r in event_rows(conn, ent_id)}
    assert times["TI-1101", "ALM"] == datetime(2024, 3, 15, 7, 0, 1, tzinfo=UTC)  # CET = UTC+1
    assert times["PSV-2001", "ALM"] == datetime(2024, 3, 15, 0, 10, tzinfo=UTC)  # had +08:00


def test_usage_errors_exit_2(
    db_url: str, settings: Settings, tmp_path: Path, enterprise: tuple[int, str]
) -> None:
    _, ent_name = enterprise
    sample = str(DATA / "generic.csv")
    code, _out, err = cli(db_url, "--format", "foxboro", sample, "--enterprise", ent_name)
    assert code == 2
    assert "'foxboro' is not one of" in err
    for fmt in ("csv", "supcon-ecs700", "hollysys-macs", "centum-vp", "experion-pks", "deltav"):
        assert f"'{fmt}'" in err
    assert "Traceback" not in err

    # the rest in-process: click decides these before any database work
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(alarms, list(args), obj=SimpleNamespace(settings=settings))

    missing = invoke("--format", "csv", str(tmp_path / "nope.csv"), "--enterprise", ent_name)
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    bad_tz = invoke("--format", "csv", sample, "--enterprise", ent_name, "--tz", "Mars/Olympus")
    assert bad_tz.exit_code == 2
    assert "unknown time zone 'Mars/Olympus'" in bad_tz.output
    assert settings.site.enterprise is None
    no_enterprise = invoke("--format", "csv", sample)
    assert no_enterprise.exit_code == 2
    assert "no enterprise to file tags under: pass --enterprise" in no_enterprise.output


def test_errors_exit_1_with_one_line(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, enterprise: tuple[int, str]
) -> None:
    _, ent_name = enterprise
    binary = tmp_path / "alarms.xls"
    binary.write_bytes(bytes(range(256)) * 40)
    code, out, err = cli(db_url, "--format", "csv", str(binary), "--enterprise", ent_name)
    assert (code, out) == (1, "")
    assert err.startswith("error: alarms.xls: not a text file (NUL byte at offset 0)")
    assert err.count("\n") == 1

    # text, but of another format: the run is recorded as failed, with the reason
    r0 = max_id(conn, "import_run")
    code, out, err = cli(
        db_url, "--format", "deltav", str(DATA / "supcon-ecs700.csv"), "--enterprise", ent_name
    )
    assert code == 1
    assert err.startswith("error: supcon-ecs700.csv: no deltav header line")
    assert err.count("\n") == 1
    run = conn.execute(
        "SELECT status, error FROM ingest.import_run WHERE id > %s AND format = 'deltav'",
        (r0,),
    ).fetchall()
    assert len(run) == 1
    assert run[0][0] == "failed"
    assert "no deltav header line" in run[0][1]

    # the rest in-process: the CLI prints a HazwatchError as the line above
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(HazwatchError, match=r"^empty.csv is empty$"):
        import_alarm_file(conn, empty, "csv", enterprise=ent_name)
    with pytest.raises(HazwatchError, match=r"^no enterprise with id, code or name"):
        import_alarm_file(conn, DATA / "generic.csv", "csv", enterprise="没有这个企业-x")


def test_garbage_text_lines_are_quarantined_not_fatal(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, enterprise: tuple[int, str]
) -> None:
    ent_id, ent_name = enterprise
    path = tmp_path / "mixed.csv"
    header = b"time,tag,event,priority,type,unit,message\n"
    good = "2024-03-15 08:00:01,GT-1,ALM,高,工艺,U1,ok\n".encode("gbk")
    junk = bytes(range(0x80, 0x100)) + b"\n" + b"\xff\xfe\xfd,\x81\n" + b"}{%$#@!\n"
    path.write_bytes(header + good + junk)
    code, out, err = cli(db_url, "--format", "csv", str(path), "--enterprise", ent_name)
    assert (code, err) == (0, ""), err
    assert number(out, "imported") == 1
    assert number(out, "quarantined") == 3
    assert "undecodable" in field(out, "encoding")
    assert [r[0] for r in event_rows(conn, ent_id)] == ["GT-1"]


def test_settings_enterprise_is_the_default(
    db_url: str, conn: psycopg.Connection, enterprise: tuple[int, str]
) -> None:
    ent_id, ent_name = enterprise
    out = run_cli(
        "import",
        "alarms",
        "--format",
        "experion-pks",
        str(DATA / "experion-pks.csv"),
        env={"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_SITE__ENTERPRISE": ent_name},
    )
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    assert len(event_rows(conn, ent_id)) == 6


def test_large_file_in_chunks(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, enterprise: tuple[int, str]
) -> None:
    """12 000 lines through several chunks, called in-process (the CLI adds nothing here)."""
    ent_id, ent_name = enterprise
    lines = ["time,tag,event,priority,type,unit,message,condition,value"]
    for i in range(12_000):
        kind = ("ALM", "ACK", "RTN")[i % 3]
        lines.append(
            f"2024-04-01 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d},"
            f"BIG-{i % 50},{kind},高,工艺,U1,m,H,{i}"
        )
    lines.append("2024-04-01 00:00:00,BIG-1,ALM,高,工艺,U1,m,H,oops")  # one bad line at the end
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with psycopg.connect(db_url, autocommit=True) as c:
        result = import_alarm_file(c, path, "csv", enterprise=ent_name, chunk_items=3000)
    assert (result.events, result.imported, result.duplicates) == (12_000, 12_000, 0)
    assert result.quarantined == 1
    assert len(result.new_tags) == 50
    count = conn.execute(
        "SELECT count(*) FROM alarm.event e JOIN registry.tag t ON t.id = e.tag_id"
        " WHERE t.enterprise_id = %s",
        (ent_id,),
    ).fetchone()
    assert count == (result.imported,)
    run = conn.execute(
        "SELECT imported, duplicates, quarantined, status FROM ingest.import_run WHERE id = %s",
        (result.run_id,),
    ).fetchone()
    assert run == (result.imported, result.duplicates, 1, "done")


def test_unexpected_failure_marks_the_run_failed_and_keeps_committed_chunks(
    conn: psycopg.Connection,
    tmp_path: Path,
    enterprise: tuple[int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ent_id, ent_name = enterprise

    def parse_boom(lines: list[str], tz: object = None) -> Iterator[ParsedEvent]:
        for i in range(3):
            yield ParsedEvent(
                line=i + 1,
                time=datetime(2024, 5, 1, i, tzinfo=UTC),
                tag="BOOM-1",
                kind="ALM",
                condition="H",
                source="import:boom",
            )
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(FORMATS, "boom", Format("boom", "a parser that fails", parse_boom))
    path = tmp_path / "boom.txt"
    path.write_text("a\nb\nc\nd\n", encoding="utf-8")
    with pytest.raises(HazwatchError, match=r"failed at line 3 \(RuntimeError: disk on fire\)"):
        import_alarm_file(conn, path, "boom", enterprise=ent_name, chunk_items=2)
    run = conn.execute(
        "SELECT status, imported, error FROM ingest.import_run WHERE format = 'boom'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert run == ("failed", 2, "at line 3: RuntimeError: disk on fire")
    assert len(event_rows(conn, ent_id)) == 2  # the first chunk was committed, the rest not
