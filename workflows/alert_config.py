"""Audited changes to the alerting configuration: rules, escalation policies, silences, mute
times, calendars, channels and notification preferences.

The tables are registers of ``hazwatch.registers`` (added to its catalogue below), so they are
written the one audited way: ``insert``/``update``/``delete`` here are those of the registers
module, and the audit triggers (``sql/definitions/alerting.sql``) record who changed what and
why; a channel's ``secret`` never reaches the log.

    rid = insert(conn, actor, "alert_rule", {"code": "ti101-high", ...}, reason="MOC-12")
    update(conn, actor, "silence", sid, {"ends_at": later})
    delete(conn, actor, "channel", cid)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hazwatch.registers import (
    Actor,
    Register,
    RegisterError,
    add_registers,
    delete,
    insert,
    update,
)

__all__ = ["TABLES", "add_channel", "audit_action", "delete", "insert", "update"]

JSON_COLUMNS = frozenset({"spec", "labels", "matchers", "intervals", "tiers", "config", "hours"})


def _cfg(table: str, *columns: str) -> Register:
    return Register("workflow", table, frozenset(columns), JSON_COLUMNS.intersection(columns))


TABLES: dict[str, Register] = {
    r.table: r
    for r in (
        _cfg(
            "alert_rule",
            "enterprise_id",
            "code",
            "name",
            "kind",
            "tag_id",
            "priority",
            "spec",
            "labels",
            "enabled",
        ),
        _cfg(
            "escalation_policy",
            "enterprise_id",
            "code",
            "name",
            "position",
            "priorities",
            "levels",
            "matchers",
            "until",
            "repeat_s",
            "calendar_id",
            "tiers",
            "enabled",
        ),
        _cfg(
            "silence",
            "enterprise_id",
            "matchers",
            "starts_at",
            "ends_at",
            "comment",
            "created_by",
        ),
        _cfg(
            "mute_time",
            "enterprise_id",
            "code",
            "name",
            "timezone",
            "intervals",
            "matchers",
            "enabled",
        ),
        _cfg(
            "calendar",
            "enterprise_id",
            "code",
            "name",
            "timezone",
            "working_days",
            "hours",
            "holidays",
            "extra_workdays",
        ),
        _cfg("channel", "code", "kind", "name", "config", "secret", "enabled"),
        _cfg("notify_preference", "user_id", "channels"),
    )
}


add_registers(TABLES)


def add_channel(
    conn: psycopg.Connection,
    actor: Actor,
    code: str,
    kind: str,
    config: Mapping[str, Any],
    secret: str | None = None,
    name: str = "",
) -> int:
    """A channel whose config is checked by building its transport first.

    >>> add_channel(conn, actor, "ops-dingtalk", "dingtalk", {"url": "https://..."}, "SEC...")
    """
    from workflows.channels import DeliveryError, transport_for

    try:
        transport_for(kind, config, secret)
    except DeliveryError as exc:
        raise RegisterError(str(exc)) from None
    return insert(
        conn,
        actor,
        "channel",
        {"code": code, "kind": kind, "config": dict(config), "secret": secret, "name": name},
    )


def audit_action(
    conn: psycopg.Connection,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """An explicit audit row for an operator action that is not a table change (ack, close)."""
    conn.execute(
        "INSERT INTO audit.log (actor_id, actor, action, entity, entity_id, after, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            actor.id,
            actor.name,
            action,
            entity,
            str(entity_id),
            Jsonb(dict(after)) if after is not None else None,
            reason,
        ),
    )
