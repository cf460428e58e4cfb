"""``hazwatch alerts``: list and act on alerts, manage rules from files, test a channel.

    hazwatch alerts list [--all]
    hazwatch alerts ack 17 --comment "已通知现场" [--user zhangsan]
    hazwatch alerts close 17 --comment "误报: 传感器松动"
    hazwatch alerts rules list
    hazwatch alerts rules add rules.toml [--replace]      # or .json
    hazwatch alerts test-channel ops-dingtalk [--to +8613800000000]

A rules file holds ``[[rule]]`` tables (TOML) or a list under ``"rule"`` (JSON)::

    [[rule]]
    code = "ti101-high"
    name = "反应器温度高"
    enterprise = "太原化工"      # id, code or name
    tag = "TI-101"               # id or name within the enterprise
    priority = "high"
    labels = { unit = "R-101" }
    kind = "threshold"           # the rest is the rule spec (workflows.rules.RuleSpec)
    window_s = 60
    pending_s = 60
    levels = [ { level = "alarm", op = ">", value = 80, clear = 75 } ]

Every rule is checked first; one bad rule (named with its position and field) and nothing is
written.
"""

from __future__ import annotations

import getpass
import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import click
import psycopg
from pydantic import ValidationError

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, RegisterError, resolve
from hazwatch.settings import Settings

RULE_KEYS = {"code", "name", "enterprise", "tag", "priority", "labels", "enabled"}


class _HasSettings(Protocol):
    settings: Settings


def _actor(conn: psycopg.Connection, user: str | None) -> Actor:
    if user is None:
        return Actor(id=None, name=f"cli:{getpass.getuser()}")
    row = conn.execute(
        "SELECT id, name FROM auth.app_user WHERE lower(name) = lower(%s)", (user,)
    ).fetchone()
    if row is None:
        raise HazwatchError(f"no user named {user!r}")
    return Actor(id=row[0], name=row[1])


@click.group("alerts")
def alerts() -> None:
    """Alerts, alert rules and notification channels (issue 6, A13)."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Closed and finished alerts too.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.pass_obj
def list_cmd(obj: _HasSettings, show_all: bool, limit: int) -> None:
    """Alerts newest first: id, state, level, since, acknowledged, summary."""
    from hazwatch.db import connect
    from workflows.alerting import TZ, list_alerts

    with connect(obj.settings, autocommit=True) as conn:
        rows = list_alerts(conn, open_only=not show_all, limit=limit)
    click.echo(f"{'id':>6} {'state':<9} {'level':<8} {'since':<16} {'ack':<12} summary")
    for r in rows:
        since = (r["fired_at"] or r["started_at"]).astimezone(TZ).strftime("%Y-%m-%d %H:%M")
        ack = r["acked_by_name"] or ("yes" if r["acked_at"] else "-")
        state = "closed" if r["closed_at"] else r["state"]
        click.echo(
            f"{r['id']:>6} {state:<9} {r['level'] or '-':<8} {since:<16} {ack:<12} {r['summary']}"
        )


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--comment", required=True, help="What was done or who is on it.")
@click.option("--user", help="Acknowledge as this user (default: the CLI's system user).")
@click.pass_obj
def ack_cmd(obj: _HasSettings, alert_id: int, comment: str, user: str | None) -> None:
    """Acknowledge an alert with a comment; escalation stops."""
    from hazwatch.db import connect
    from workflows.alerting import acknowledge

    with connect(obj.settings, autocommit=True) as conn:
        acknowledge(conn, alert_id, _actor(conn, user), comment)
    click.echo(f"acknowledged alert {alert_id}", err=True)


@alerts.command("close")
@click.argument("alert_id", type=int)
@click.option("--comment", required=True, help="The cause, or why it is closed.")
@click.option("--user", help="Close as this user.")
@click.pass_obj
def close_cmd(obj: _HasSettings, alert_id: int, comment: str, user: str | None) -> None:
    """Close an alert with a comment."""
    from hazwatch.db import connect
    from workflows.alerting import close

    with connect(obj.settings, autocommit=True) as conn:
        close(conn, alert_id, _actor(conn, user), comment)
    click.echo(f"closed alert {alert_id}", err=True)


@alerts.group("rules")
def rules() -> None:
    """Alert rules."""


@rules.command("list")
@click.pass_obj
def rules_list(obj: _HasSettings) -> None:
    """Every rule: id, code, kind, tag, priority, enabled, current state."""
    from hazwatch.db import connect

    with connect(obj.settings, autocommit=True) as conn:
        rows = conn.execute(
            """SELECT r.id, r.code, r.kind, t.name, r.priority, r.enabled,
                      coalesce(s.state, '-'), r.name
               FROM workflow.alert_rule r JOIN registry.tag t ON t.id = r.tag_id
               LEFT JOIN workflow.rule_state s ON s.rule_id = r.id ORDER BY r.id"""
        ).fetchall()
    click.echo(f"{'id':>5} {'code':<24} {'kind':<10} {'tag':<16} {'priority':<9} {'state':<8} name")
    for rid, code, kind, tag, prio, enabled, state, name in rows:
        state = state if enabled else "disabled"
        click.echo(f"{rid:>5} {code:<24} {kind:<10} {tag:<16} {prio:<9} {state:<8} {name}")


def load_rules_file(path: Path) -> list[dict[str, Any]]:
    """The rule tables of a TOML or JSON file, or an error naming the file and why."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HazwatchError(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise HazwatchError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}"
        ) from None
    items = data.get("rule") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise HazwatchError(f'{path}: no [[rule]] tables (or JSON list under "rule")')
    return items


def prepare_rule(conn: psycopg.Connection, item: dict[str, Any], where: str) -> dict[str, Any]:
    """A rules-file entry as an ``alert_rule`` row; errors name ``where`` and the field."""
    from workflows.rules import RuleSpec

    for key in ("code", "name", "enterprise", "tag"):
        if not item.get(key):
            raise HazwatchError(f"{where}: field {key!r} is required")
    spec_fields = {k: v for k, v in item.items() if k not in RULE_KEYS}
    try:
        spec = RuleSpec.model_validate(spec_fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "spec"
        raise HazwatchError(f"{where}: {field}: {err['msg']}") from None
    try:
        ent = resolve(conn, "enterprise", str(item["enterprise"]))
    except RegisterError as exc:
        raise HazwatchError(f"{where}: enterprise: {exc}") from None
    tag = conn.execute(
        "SELECT id FROM registry.tag WHERE enterprise_id = %s AND (id::text = %s OR name = %s)",
        (ent, str(item["tag"]), str(item["tag"])),
    ).fetchall()
    if len(tag) != 1:
        raise HazwatchError(f"{where}: tag {item['tag']!r} is not a tag of that enterprise")
    labels = item.get("labels", {})
    if not isinstance(labels, dict):
        raise HazwatchError(f"{where}: labels must be a table of strings")
    return {
        "enterprise_id": ent,
        "code": str(item["code"]),
        "name": str(item["name"]),
        "kind": spec.kind,
        "tag_id": tag[0][0],
        "priority": str(item.get("priority", "high")),
        "spec": spec.model_dump(mode="json", exclude_defaults=True) | {"kind": spec.kind},
        "labels": {str(k): str(v) for k, v in labels.items()},
        "enabled": bool(item.get("enabled", True)),
    }


@rules.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Update rules whose code exists instead of failing.")
@click.option("--reason", help="Why, for the audit log (e.g. the MOC number).")
@click.pass_obj
def rules_add(obj: _HasSettings, path: Path, replace: bool, reason: str | None) -> None:
    """Add rules from a TOML or JSON file (all or nothing)."""
    from hazwatch.db import connect
    from workflows import alert_config

    items = load_rules_file(path)
    with connect(obj.settings, autocommit=True) as conn:
        actor = _actor(conn, None)
        rows = [prepare_rule(conn, it, f"{path} rule {i + 1}") for i, it in enumerate(items)]
        added = updated = 0
        with conn.transaction():
            for i, row in enumerate(rows):
                existing = conn.execute(
                    "SELECT id FROM workflow.alert_rule WHERE enterprise_id = %s AND code = %s",
                    (row["enterprise_id"], row["code"]),
                ).fetchone()
                try:
                    if existing and replace:
                        alert_config.update(conn, actor, "alert_rule", existing[0], row, reason)
                        updated += 1
                    elif existing:
                        raise HazwatchError(
                            f"{path} rule {i + 1}: code {row['code']!r} exists (use --replace)"
                        )
                    else:
                        alert_config.insert(conn, actor, "alert_rule", row, reason)
                        added += 1
                except RegisterError as exc:
                    raise HazwatchError(f"{path} rule {i + 1}: {exc}") from None
    click.echo(f"{added} rules added, {updated} updated", err=True)


@alerts.command("test-channel")
@click.argument("code")
@click.option("--to", "to", help="Address or phone, for e-mail and SMS channels.")
@click.pass_obj
def test_channel(obj: _HasSettings, code: str, to: str | None) -> None:
    """Send a test message through a channel now (not through the outbox) and say how it went."""
    from hazwatch.db import connect
    from workflows.channels import DeliveryError, Message, transport_for

    with connect(obj.settings, autocommit=True) as conn:
        row = conn.execute(
            "SELECT kind, config, secret FROM workflow.channel WHERE code = %s", (code,)
        ).fetchone()
    if row is None:
        raise HazwatchError(f"no channel {code!r} (see workflow.channel)")
    kind, config, secret = row
    if kind in ("email", "sms") and not to:
        raise HazwatchError(f"a {kind} channel needs --to (an address or phone number)")
    now = datetime.now(UTC)
    message = Message(
        id=f"hazwatch-test-{int(now.timestamp())}",
        recipient=to or code,
        subject="hazwatch 测试消息 / test message",
        body=f"通道 {code} ({kind}) 测试 / channel test",
        created_at=now,
    )
    try:
        transport_for(kind, config, secret).send(message)
    except DeliveryError as exc:
        raise HazwatchError(f"channel {code}: {exc}") from None
    click.echo(f"channel {code} ({kind}): test message accepted", err=True)
