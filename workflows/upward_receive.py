"""The receiving side of the upward exchange: apply each item at most once, within the
sender's scope, into the same tables local data goes to (R9).

    outcome = receive(conn, token_info, batch)     # in the caller's transaction
    outcome.as_json()   # {"accepted": [ids], "duplicates": [ids], "rejected": [{id, error}]}

An item that cannot be applied (an enterprise outside the token's scope or unknown here, a
malformed event) is refused alone, with the reason; the rest of the batch is applied. The
sender keeps refused items aside until someone fixes the cause (`hazwatch exchange retry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from hazwatch.tokens import TokenInfo
from ingest.tags import TagResolver
from workflows.upward_protocol import Batch


class ItemRejected(HazwatchError):
    """This item cannot be applied here; the message goes back to the sender."""


@dataclass
class Outcome:
    accepted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


Handler = Callable[[psycopg.Connection, TokenInfo, dict[str, Any]], None]


def _enterprise_in_scope(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> int:
    code, name = data.get("enterprise_code"), data.get("enterprise_name")
    row = None
    if isinstance(code, str) and code:
        row = conn.execute(
            "SELECT id, region_id FROM registry.enterprise WHERE code = %s", (code,)
        ).fetchone()
    if row is None and isinstance(name, str) and name:
        row = conn.execute(
            "SELECT id, region_id FROM registry.enterprise WHERE name = %s", (name,)
        ).fetchone()
    if row is None:
        raise ItemRejected(
            f"enterprise {code or name!r} is not registered at this level: add it to the "
            "enterprise register here, then run `hazwatch exchange retry` below"
        )
    enterprise_id, region_id = int(row[0]), int(row[1])
    if info.enterprise_id is not None:
        if enterprise_id != info.enterprise_id:
            raise ItemRejected(f"token {info.name!r} may only send data of its own enterprise")
        return enterprise_id
    if info.region_id is not None:
        inside = conn.execute(
            "WITH RECURSIVE up AS (SELECT id, parent_id FROM registry.region WHERE id = %s"
            " UNION ALL SELECT r.id, r.parent_id FROM registry.region r JOIN up ON r.id ="
            " up.parent_id) SELECT EXISTS (SELECT 1 FROM up WHERE id = %s)",
            (region_id, info.region_id),
        ).fetchone()
        if inside and inside[0]:
            return enterprise_id
    raise ItemRejected(f"enterprise {code or name!r} is outside the region of token {info.name!r}")


def apply_alarm_event(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    enterprise_id = _enterprise_in_scope(conn, info, data)
    tag, event = data.get("tag"), data.get("event")
    if not isinstance(tag, str) or not tag or not isinstance(event, dict):
        raise ItemRejected("alarm_event needs 'tag' (text) and 'event' (object)")
    resolver = TagResolver(conn, enterprise_id, Actor(None, f"exchange:{info.name}"))
    unit_code = data.get("unit_code")
    tag_id = resolver.id_for(tag, source="exchange", eng_unit=data.get("eng_unit"))
    if isinstance(unit_code, str) and unit_code:
        # The unit is filed when the tag is new here and the unit exists; an existing tag's
        # unit is the upper level's own register entry and is not overwritten from below.
        conn.execute(
            "UPDATE registry.tag t SET unit_id = u.id FROM registry.unit u"
            " WHERE t.id = %s AND t.unit_id IS NULL AND u.enterprise_id = %s AND u.code = %s",
            (tag_id, enterprise_id, unit_code),
        )
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO alarm.event SELECT (jsonb_populate_record(NULL::alarm.event,"
                " %s::jsonb || jsonb_build_object('tag_id', %s::int, 'point_id', NULL))).*"
                " ON CONFLICT DO NOTHING",
                (Jsonb(event), tag_id),
            )
    except psycopg.errors.DataError as exc:
        raise ItemRejected(f"malformed alarm event: {exc.diag.message_primary}") from None
    except psycopg.errors.IntegrityError as exc:
        raise ItemRejected(f"alarm event refused: {exc.diag.message_primary}") from None


#: Kind → handler. A domain adds its kind here together with its feed row and trigger.
HANDLERS: dict[str, Handler] = {"alarm_event": apply_alarm_event}


def _apply_video_alarm(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    from video.store import apply_video_alarm  # video imports this module: import late

    apply_video_alarm(conn, info, data)


HANDLERS["video_alarm"] = _apply_video_alarm  # issue 9: reviewed video alarms (V20, R7)

# issue 11: risk monitoring states, daily alarm KPIs, hourly completeness (R2-R5, A20)
from workflows import hazard_feeds  # noqa: E402 (after HANDLERS: it imports this module late)

HANDLERS["hazard_state"] = hazard_feeds.apply_hazard_state
HANDLERS["kpi_daily"] = hazard_feeds.apply_kpi_daily
HANDLERS["freshness"] = hazard_feeds.apply_freshness
from workflows.alert_feed import apply_alert  # noqa: E402 (P13: gas and pump alerts)

HANDLERS["alert"] = apply_alert
from workflows.contractors.summary_feed import apply_contractor_summary  # noqa: E402

HANDLERS["contractor_summary"] = apply_contractor_summary  # C20 contractor summaries


def receive(conn: psycopg.Connection, info: TokenInfo, batch: Batch) -> Outcome:
    out = Outcome()
    for item in batch.items:
        handler = HANDLERS.get(item.kind)
        if handler is None:
            out.rejected.append({"id": item.id, "error": f"unknown kind {item.kind!r}"})
            continue
        try:
            with conn.transaction():
                first = conn.execute(
                    "INSERT INTO exchange.received (kind, key, token_id) VALUES (%s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (item.kind, item.key, info.id),
                ).rowcount
                if not first:
                    out.duplicates.append(item.id)
                    continue
                handler(conn, info, dict(item.data))
        except ItemRejected as exc:
            out.rejected.append({"id": item.id, "error": str(exc)})
            continue
        out.accepted.append(item.id)
    return out
