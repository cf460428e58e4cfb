"""Helpers shared by the upward feeds (workflows.hazard_feeds, workflows.alert_feed,
workflows.contractors.summary_feed): the origin enterprise of an item, queueing it under the
origin's key, forwarding a received item unchanged, and checking a received time.

    origin = origin_of(conn, enterprise_id)          # enterprise code and name, key prefix
    queue(conn, "kpi_daily", origin, f"kpi|{day}", data)   # key "<origin>|kpi|<day>"
    forward(conn, "kpi_daily", data)                 # received: passed on with the same key
    t = aware_time(data.get("time"), "time")         # ItemRejected unless ISO 8601 with offset
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from workflows.upward import enqueue


def origin_of(conn: psycopg.Connection, enterprise_id: int) -> dict[str, Any]:
    """The enterprise fields an item carries, and ``_origin`` (its code, else its name), the
    prefix of the item's key (fields starting with ``_`` are not sent)."""
    row = conn.execute(
        "SELECT code, name FROM registry.enterprise WHERE id = %s", (enterprise_id,)
    ).fetchone()
    assert row is not None
    return {"enterprise_code": row[0], "enterprise_name": row[1], "_origin": row[0] or row[1]}


def queue(
    conn: psycopg.Connection, kind: str, origin: dict[str, Any], key: str, data: dict
) -> bool:
    """Queue ``data`` with the origin's fields on feed ``kind`` under ``<origin>|<key>``."""
    full = {k: v for k, v in origin.items() if not k.startswith("_")} | data
    full["key"] = f"{origin['_origin']}|{key}"
    return enqueue(conn, kind, full["key"], full)


def forward(conn: psycopg.Connection, kind: str, data: dict[str, Any]) -> None:
    """Pass a received item on upward unchanged (same key), so a city forwards its
    enterprises' items to the province. An item without a key is not forwarded."""
    key = data.get("key")
    if isinstance(key, str) and key:
        enqueue(conn, kind, key, data)


def _rejected(message: str) -> Exception:
    from workflows.upward_receive import ItemRejected  # it imports the feeds: import late

    return ItemRejected(message)


def aware_time(value: Any, field: str, error: Callable[[str], Exception] = _rejected) -> datetime:
    """``value`` as an ISO 8601 time with an offset; otherwise ``error(message)`` is raised
    (default: ItemRejected, which goes back to the sender). A naive time is refused: received
    times come from other instances and clocks, only an offset makes them comparable.

    >>> aware_time("2026-11-01T08:00:00+08:00", "time").hour
    8
    """
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        raise error(f"{field}: not an ISO 8601 time: {value!r:.40}") from None
    if t.tzinfo is None:
        raise error(f"{field}: the time needs an offset")
    return t
