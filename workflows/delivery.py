"""The outbox worker: claim due messages, send them, record the outcome, retry with back-off.

    report = deliver_due(conn, now=datetime.now(UTC))    # autocommit connection, no open tx
    report.sent, report.failed, report.dead

Each delivery is three short transactions: claim (status 'sending', a lease, an open row in
``workflow.delivery_attempt``: committed *before* the send), send (no transaction open), then
finish (sent, or back to pending with the next attempt time). A worker that dies between send
and finish leaves an open attempt and an expired lease; the next run closes that attempt as
'unknown' and, by the channel's ``on_unknown`` setting, sends again (``resend``, the default:
at-least-once, the receiver sees the same message id) or marks it dead for a person to check
(``hold``: at-most-once). docs/alerting.md, "Delivery", says why the default is resend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hazwatch.errors import HazwatchError
from workflows.channels import DeliveryError, Message, Transport, transport_for
from workflows.outbox import RETRY, Retry, backoff, digest

log = logging.getLogger("hazwatch.workflows.delivery")

LEASE = timedelta(minutes=2)

TransportFactory = Callable[[psycopg.Connection, str, str], tuple[Transport, str]]


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    grouped: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} sent ({self.grouped} in digests), {len(self.failed)} failed, "
            f"{len(self.dead)} dead"
        )


def channel_transport(conn: psycopg.Connection, channel: str, kind: str) -> tuple[Transport, str]:
    """The transport of an outbox row and its ``on_unknown`` policy.

    Users' addresses ('email', 'sms') go through the channel row coded like the kind, else the
    first enabled row of that kind; other rows name their channel by code.
    """
    row = conn.execute(
        """SELECT kind, config, secret FROM workflow.channel
           WHERE enabled AND (code = %s OR (%s IN ('email', 'sms') AND kind = %s))
           ORDER BY code = %s DESC, id LIMIT 1""",
        (channel, channel, kind, channel),
    ).fetchone()
    if row is None:
        raise DeliveryError(f"no enabled {kind} channel configured (workflow.channel {channel!r})")
    row_kind, config, secret = row
    policy = str(config.get("on_unknown", "resend"))
    if policy not in ("resend", "hold"):
        raise DeliveryError(f"channel {channel!r}: on_unknown {policy!r} is not resend or hold")
    return transport_for(row_kind, config, secret), policy


def deliver_due(
    conn: psycopg.Connection,
    *,
    now: datetime | None = None,
    limit: int = 100,
    retry: Retry = RETRY,
    transports: TransportFactory = channel_transport,
    lease: timedelta = LEASE,
) -> DeliveryReport:
    """Deliver messages due at ``now`` (at most ``limit`` sends); needs no open transaction."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise HazwatchError("deliver_due needs a connection outside a transaction")
    now = now or datetime.now(UTC)
    report = DeliveryReport()
    skip: list[int] = []
    for _ in range(limit):
        claim = _claim(conn, now, lease, skip, transports, report)
        if claim is None:
            break
        leader, followers, transport, attempt_id = claim
        if transport is None:
            continue
        rows = [leader, *followers]
        message = digest([_message(r) for r in rows])
        try:
            transport.send(message)
        except DeliveryError as exc:
            _failed(conn, now, leader, followers, attempt_id, str(exc), retry, report)
            skip.append(leader["id"])
            continue
        _sent(conn, now, leader, followers, attempt_id)
        report.sent.extend(r["id"] for r in rows)
        report.grouped += len(followers)
    return report


def _message(row: dict[str, Any]) -> Message:
    return Message(
        id=f"hazwatch-outbox-{row['id']}",
        recipient=row["recipient"],
        subject=row["subject"],
        body=row["body"],
        severity=row["severity"],
        link=row["link"],
        created_at=row["created_at"],
        group_key=row["group_key"],
    )


def _claim(
    conn: psycopg.Connection,
    now: datetime,
    lease: timedelta,
    skip: list[int],
    transports: TransportFactory,
    report: DeliveryReport,
) -> tuple[dict[str, Any], list[dict[str, Any]], Transport | None, int] | None:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        leader = cur.execute(
            """SELECT * FROM workflow.outbox
               WHERE ((status = 'pending' AND next_attempt_at <= %s)
                      OR (status = 'sending' AND lease_until <= %s))
                 AND kind <> 'inapp' AND NOT (id = ANY(%s))
               ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED""",
            (now, now, skip),
        ).fetchone()
        if leader is None:
            return None
        try:
            transport, on_unknown = transports(conn, leader["channel"], leader["kind"])
        except DeliveryError as exc:
            transport, on_unknown, config_error = None, "resend", str(exc)
        else:
            config_error = None
        if leader["status"] == "sending":
            # The worker that claimed it died, maybe after sending: the outcome is unknown.
            cur.execute(
                "UPDATE workflow.delivery_attempt SET finished_at = %s, outcome = 'unknown',"
                " error = 'worker stopped before recording the outcome'"
                " WHERE outbox_id = %s AND finished_at IS NULL",
                (now, leader["id"]),
            )
            if on_unknown == "hold":
                cur.execute(
                    "UPDATE workflow.outbox SET status = 'dead', lease_until = NULL,"
                    " last_error = 'outcome unknown after a worker stopped; not resent"
                    " (channel on_unknown = hold)' WHERE id = %s OR digest_of = %s",
                    (leader["id"], leader["id"]),
                )
                report.dead.append(leader["id"])
                return leader, [], None, 0
        followers: list[dict[str, Any]] = []
        if leader["group_key"] is not None:
            followers = cur.execute(
                """SELECT * FROM workflow.outbox
                   WHERE group_key = %s AND channel = %s AND recipient = %s AND id <> %s
                     AND (status = 'pending'
                          OR (status = 'sending' AND digest_of = %s))
                   ORDER BY created_at, id FOR UPDATE SKIP LOCKED""",
                (
                    leader["group_key"],
                    leader["channel"],
                    leader["recipient"],
                    leader["id"],
                    leader["id"],
                ),
            ).fetchall()
        attempt_id = cur.execute(
            "INSERT INTO workflow.delivery_attempt (outbox_id, started_at, finished_at, outcome,"
            " error) VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                leader["id"],
                now,
                now if config_error else None,
                "failed" if config_error else None,
                config_error,
            ),
        ).fetchone()["id"]  # type: ignore[index]
        cur.execute(
            "UPDATE workflow.outbox SET status = 'sending', lease_until = %s,"
            " attempts = attempts + 1 WHERE id = %s",
            (now + lease, leader["id"]),
        )
        if followers:
            cur.execute(
                "UPDATE workflow.outbox SET status = 'sending', lease_until = %s, digest_of = %s"
                " WHERE id = ANY(%s)",
                (now + lease, leader["id"], [f["id"] for f in followers]),
            )
        leader["attempts"] += 1
    if config_error is not None:
        # A channel that is missing or misconfigured is an outage like any other: retry.
        _failed(conn, now, leader, followers, attempt_id, config_error, RETRY, report, True)
        skip.append(leader["id"])
        return leader, followers, None, attempt_id
    return leader, followers, transport, attempt_id


def _sent(
    conn: psycopg.Connection,
    now: datetime,
    leader: dict[str, Any],
    followers: list[dict[str, Any]],
    attempt_id: int,
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE workflow.delivery_attempt SET finished_at = %s, outcome = 'sent' WHERE id = %s",
            (now, attempt_id),
        )
        conn.execute(
            "UPDATE workflow.outbox SET status = 'sent', sent_at = %s, lease_until = NULL,"
            " last_error = NULL WHERE id = %s OR id = ANY(%s)",
            (now, leader["id"], [f["id"] for f in followers]),
        )


def _failed(
    conn: psycopg.Connection,
    now: datetime,
    leader: dict[str, Any],
    followers: list[dict[str, Any]],
    attempt_id: int,
    error: str,
    retry: Retry,
    report: DeliveryReport,
    attempt_closed: bool = False,
) -> None:
    dead = leader["attempts"] >= retry.max_attempts
    next_at = now + backoff(leader["attempts"], retry)
    ids = [leader["id"], *(f["id"] for f in followers)]
    with conn.transaction():
        if not attempt_closed:
            conn.execute(
                "UPDATE workflow.delivery_attempt SET finished_at = %s, outcome = 'failed',"
                " error = %s WHERE id = %s",
                (now, error[:1000], attempt_id),
            )
        # Followers go back to pending on their own, so a later digest may regroup them.
        conn.execute(
            "UPDATE workflow.outbox SET status = %s, next_attempt_at = %s, lease_until = NULL,"
            " digest_of = NULL, last_error = %s WHERE id = ANY(%s)",
            ("dead" if dead else "pending", next_at, error[:1000], ids),
        )
    log.warning("outbox %s failed (attempt %d): %s", leader["id"], leader["attempts"], error)
    (report.dead if dead else report.failed).append(leader["id"])


def requeue_dead(conn: psycopg.Connection, ids: list[int], now: datetime | None = None) -> int:
    """Put dead messages back in the queue (after a channel was fixed); return how many."""
    cur = conn.execute(
        "UPDATE workflow.outbox SET status = 'pending', attempts = 0, next_attempt_at = %s"
        " WHERE status = 'dead' AND id = ANY(%s)",
        (now or datetime.now(UTC), ids),
    )
    return cur.rowcount
