"""R7: after the human review, tell the responsible people of the enterprise and the regulators
by SMS and e-mail (through ``workflows.notify``; users without a phone or address get the
message in-app instead, so nobody is silently skipped).

    ids = notify_reviewed_alarm(conn, enterprise_id=3, key="DEMO|video|17",
                                subject="视频报警：人员闯入 LA-1", body="…",
                                link="/video/alarms/17")

Who is responsible:

- the enterprise's user group with code ``safety_mgmt`` (安全管理; the approvals' group too);
- each regulator duty group on the way up the region tree: an instance-wide user group
  (no enterprise) with code ``regulator_duty.<region code>``, e.g. ``regulator_duty.140105``
  for 小店区, ``regulator_duty.140100`` for 太原市, ``regulator_duty.140000`` for the
  province. An instance notifies those it has; each level's own instance has its own.

The same ``key`` twice sends once (the notify dedupe key), so a review approved again after a
failed apply does not message people twice. Call it in the transaction that pushes the reviewed
alarm upward (``workflows.upward.enqueue``), so the message goes exactly when the push is queued.
"""

from __future__ import annotations

import logging
from typing import Final

import psycopg

from workflows.notify import NotifyError, notify

log = logging.getLogger("hazwatch.reviewed_notify")

ENTERPRISE_GROUP: Final = "safety_mgmt"
REGULATOR_PREFIX: Final = "regulator_duty."
CHANNELS: Final = ("sms", "email")


def regulator_group_code(region_code: str) -> str:
    """``regulator_duty.140100``: the duty group of a region's regulator."""
    return REGULATOR_PREFIX + region_code


def responsible_groups(conn: psycopg.Connection, enterprise_id: int) -> list[int]:
    """Ids of the enterprise's safety group and the regulator duty groups above it."""
    rows = conn.execute(
        "WITH RECURSIVE up AS (SELECT r.id, r.code, r.parent_id FROM registry.region r"
        " JOIN registry.enterprise e ON e.region_id = r.id WHERE e.id = %s"
        " UNION ALL SELECT r.id, r.code, r.parent_id FROM registry.region r"
        " JOIN up ON r.id = up.parent_id)"
        " SELECT g.id FROM workflow.user_group g WHERE (g.enterprise_id = %s AND g.code = %s)"
        " OR (g.enterprise_id IS NULL AND g.code IN (SELECT %s || code FROM up))"
        " ORDER BY g.enterprise_id NULLS LAST, g.code",
        (enterprise_id, enterprise_id, ENTERPRISE_GROUP, REGULATOR_PREFIX),
    ).fetchall()
    return [int(r[0]) for r in rows]


def notify_reviewed_alarm(
    conn: psycopg.Connection,
    *,
    enterprise_id: int,
    key: str,
    subject: str,
    body: str,
    link: str | None = None,
    severity: str = "alarm",
) -> list[int]:
    """Queue SMS and e-mail about a reviewed alarm; returns the notification outbox ids
    (empty, with a warning in the log, when the enterprise has no responsible groups: the
    review itself must not fail for it)."""
    if not key:
        raise ValueError("key: the reviewed alarm's upward key is required (dedupe)")
    groups = responsible_groups(conn, enterprise_id)
    if not groups:
        log.warning(
            "reviewed alarm %s: enterprise %s has no %r group and no regulator duty group "
            "above it: nobody notified",
            key, enterprise_id, ENTERPRISE_GROUP,
        )  # fmt: skip
        return []
    try:
        return notify(
            conn,
            subject=subject,
            body=body,
            groups=groups,
            channels=list(CHANNELS),
            link=link,
            severity=severity,
            dedupe_key=f"reviewed:{key}",
        )
    except NotifyError as exc:  # e.g. the groups have no active members yet
        log.warning("reviewed alarm %s: %s", key, exc)
        return []
