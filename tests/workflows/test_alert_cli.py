"""``hazwatch alerts`` through the real console script against the session database."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from tests.conftest import make_enterprise, run_cli
from tests.workflows.alerting_servers import TEST, http_receiver, unique
from workflows import alert_config, alerting

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def test_rules_add_list_and_bad_file(conn: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    ent, ent_name = make_enterprise(conn)
    registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "name": "PI-201"})
    env = {"HAZWATCH_DATABASE_URL": db_url}
    code = unique("pi201")
    good = tmp_path / "rules.toml"
    good.write_text(
        f"""
[[rule]]
code = "{code}"
name = "分离器压力上升过快"
enterprise = "{ent_name}"
tag = "PI-201"
kind = "rate"
window_s = 120
levels = [{{ level = "alarm", op = ">", value = 0.5, clear = 0.2 }}]
labels = {{ unit = "V-201" }}
""",
        encoding="utf-8",
    )
    res = run_cli("alerts", "rules", "add", str(good), "--reason", "MOC-7", env=env)
    assert res.returncode == 0, res.stderr
    assert "1 rules added" in res.stderr
    listed = run_cli("alerts", "rules", "list", env=env)
    assert code in listed.stdout and "rate" in listed.stdout
    again = run_cli("alerts", "rules", "add", str(good), env=env)
    assert again.returncode == 1 and "exists (use --replace)" in again.stderr

    bad = tmp_path / "bad.json"
    levels_ok = [{"level": "alarm", "op": ">", "value": 1, "clear": 0}]
    levels_bad = [{"level": "alarm", "op": ">", "value": 1, "clear": 5}]
    common = {"name": "n", "enterprise": ent_name, "tag": "PI-201", "kind": "threshold"}
    rules = [
        {"code": "ok-one", **common, "levels": levels_ok},
        {"code": "bad-two", **common, "levels": levels_bad},
    ]
    bad.write_text(json.dumps({"rule": rules}), encoding="utf-8")
    res = run_cli("alerts", "rules", "add", str(bad), env=env)
    assert res.returncode == 1
    assert "bad.json rule 2: levels.0: Value error, level alarm: clear 5.0" in res.stderr
    n = conn.execute(
        "SELECT count(*) FROM workflow.alert_rule WHERE code = 'ok-one' AND enterprise_id = %s",
        (ent,),
    ).fetchone()
    assert n == (0,)  # all or nothing


def test_list_ack_and_test_channel(conn: psycopg.Connection, db_url: str) -> None:
    env = {"HAZWATCH_DATABASE_URL": db_url}
    ent, _ = make_enterprise(conn)
    key = unique("cam-7")
    aid = alerting.raise_external_alert(
        conn, "video", key, "alarm", {"camera": "7"}, "未戴安全帽 / no hard hat",
        enterprise_id=ent,
    )  # fmt: skip
    listed = run_cli("alerts", "list", env=env)
    assert f"{aid:>6} firing" in listed.stdout and "未戴安全帽" in listed.stdout
    res = run_cli("alerts", "ack", str(aid), "--comment", "班长已到现场", env=env)
    assert res.returncode == 0, res.stderr
    res = run_cli("alerts", "ack", str(aid), "--comment", "again", env=env)
    assert res.returncode == 1 and res.stderr.startswith("error: alert")
    with http_receiver() as rec:
        code = unique("robot")
        alert_config.add_channel(conn, TEST, code, "wecom", {"url": rec.url + "/send?key=k"})
        res = run_cli("alerts", "test-channel", code, env=env)
        assert res.returncode == 0, res.stderr
        assert rec.requests[0].json["msgtype"] == "markdown"
        rec.status = 500
        res = run_cli("alerts", "test-channel", code, env=env)
        assert res.returncode == 1 and "HTTP 500" in res.stderr
