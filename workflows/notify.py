"""The notify API every part of hazwatch uses to reach people: enqueue into the outbox.

    from workflows.notify import notify
    ids = notify(conn, subject="泵P-101振动报警", body="速度有效值 7.9 mm/s",
                 users=[12], groups=[3], link="/alerts?id=7", severity="alarm",
                 group_key="alert:7", dedupe_key="alert:7:tier:1")

Runs in the caller's transaction when there is one (a savepoint), so a notification is enqueued
exactly when the caller's change commits. Delivery is the outbox worker's job
(``workflows.delivery``); in-app messages are written to ``workflow.inbox`` right here.

Destinations: ``channels`` names user-addressed kinds (``inapp``, ``email``, ``sms``: one message
per user, to the user's own address) and/or codes of configured channels in
``workflow.channel`` (robots, webhooks, shared mailboxes: one message per destination).
``channels=None`` means each user's preferred channels (``workflow.notify_preference``; without
one: in-app, plus e-mail when the user has an address). A user without the address a channel
needs gets the message in-app instead, so it is never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from hazwatch.errors import HazwatchError
from workflows.outbox import GROUPING, Grouping, group_release

USER_KINDS = ("inapp", "email", "sms")
SEVERITIES = ("info", "warning", "alarm", "danger", "resolved")


class NotifyError(HazwatchError):
    """A notify call that names something that does not exist, or bad values."""


@dataclass(frozen=True)
class Destination:
    channel: str  # 'inapp' | 'email' | 'sms' | a workflow.channel code
    kind: str
    recipient: str  # user id (inapp), address, phone, or the channel code
    user_id: int | None


def notify(
    conn: psycopg.Connection,
    *,
    subject: str,
    body: str,
    users: Iterable[int] = (),
    groups: Iterable[int] = (),
    channels: Iterable[str] | None = None,
    link: str | None = None,
    severity: str = "info",
    group_key: str | None = None,
    dedupe_key: str | None = None,
) -> list[int]:
    """Enqueue a message; return the outbox ids that carry it.

    The same ``dedupe_key`` twice enqueues once per destination: the second call returns the
    ids enqueued by the first. Messages with one ``group_key`` to one destination go out at
    most once a minute; the ones held meanwhile go as one digest.
    """
    return enqueue(
        conn,
        subject=subject,
        body=body,
        users=users,
        groups=groups,
        channels=channels,
        link=link,
        severity=severity,
        group_key=group_key,
        dedupe_key=dedupe_key,
    )


def enqueue(
    conn: psycopg.Connection,
    *,
    subject: str,
    body: str,
    users: Iterable[int] = (),
    groups: Iterable[int] = (),
    channels: Iterable[str] | None = None,
    link: str | None = None,
    severity: str = "info",
    group_key: str | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
    grouping: Grouping = GROUPING,
) -> list[int]:
    """``notify`` with an injectable clock and grouping policy (the alerting engine's entry)."""
    now = now or datetime.now(UTC)
    _check(subject, body, severity)
    users, groups = list(users), list(groups)
    chans = None if channels is None else list(dict.fromkeys(channels))
    if chans is not None and not chans:
        raise NotifyError("channels is empty: name at least one, or None for user preferences")
    with conn.transaction():
        dests = destinations(conn, users, groups, chans)
        if not dests:
            raise NotifyError("nobody to notify: no active user, group member or channel given")
        ids: list[int] = []
        for d in dests:
            ids.append(
                _enqueue_one(
                    conn, d, subject, body, link, severity, group_key, dedupe_key, now, grouping
                )
            )
    return ids


def _check(subject: str, body: str, severity: str) -> None:
    if not subject.strip():
        raise NotifyError("subject is empty")
    if severity not in SEVERITIES:
        raise NotifyError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if len(subject) > 500:
        raise NotifyError(f"subject is {len(subject)} characters; at most 500")
    if len(body) > 20000:
        raise NotifyError(f"body is {len(body)} characters; at most 20000")


def destinations(
    conn: psycopg.Connection,
    users: Sequence[int],
    groups: Sequence[int],
    channels: Sequence[str] | None,
) -> list[Destination]:
    """Where a message goes: per user and channel, plus each configured channel named."""
    known_groups = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM workflow.user_group WHERE id = ANY(%s)", (list(groups),)
        ).fetchall()
    }
    missing_groups = sorted(set(groups) - known_groups)
    if missing_groups:
        raise NotifyError(f"no user group with id {', '.join(map(str, missing_groups))}")
    found = conn.execute(
        """SELECT u.id, u.active, u.email, u.phone, p.channels
           FROM auth.app_user u LEFT JOIN workflow.notify_preference p ON p.user_id = u.id
           WHERE u.id = ANY(%s)
              OR u.id IN (SELECT user_id FROM workflow.user_group_member
                          WHERE group_id = ANY(%s))
           ORDER BY u.id""",
        (list(users), list(groups)),
    ).fetchall()
    missing_users = sorted(set(users) - {r[0] for r in found})
    if missing_users:
        raise NotifyError(f"no user with id {', '.join(map(str, missing_users))}")

    configured: dict[str, tuple[str, dict]] = {}
    if channels is not None:
        codes = [c for c in channels if c not in USER_KINDS]
        rows = conn.execute(
            "SELECT code, kind, config FROM workflow.channel WHERE code = ANY(%s) AND enabled",
            (codes,),
        ).fetchall()
        configured = {code: (kind, cfg) for code, kind, cfg in rows}
        unknown = [c for c in codes if c not in configured]
        if unknown:
            raise NotifyError(
                f"unknown or disabled channel {', '.join(map(repr, unknown))}; user channels are "
                f"{', '.join(USER_KINDS)}, others must exist in workflow.channel"
            )

    out: list[Destination] = []
    for uid, active, email, phone, prefs in found:
        if not active:
            continue  # a deactivated account no longer receives anything
        wanted = [c for c in channels if c in USER_KINDS] if channels is not None else None
        if wanted is None:
            wanted = list(prefs) if prefs else (["inapp", "email"] if email else ["inapp"])
        addresses = {"inapp": str(uid), "email": email, "sms": phone}
        kinds: list[str] = []
        for kind in wanted:
            kind = kind if addresses.get(kind) else "inapp"
            if kind not in kinds:
                kinds.append(kind)
        out.extend(Destination(k, k, str(addresses[k]), uid) for k in kinds)
    for code, (kind, cfg) in configured.items():
        targets = cfg.get("to") if kind in ("email", "sms") else None
        if targets:
            out.extend(Destination(code, kind, str(t), None) for t in targets)
        elif kind in ("email", "sms"):
            raise NotifyError(f"channel {code!r} ({kind}) has no 'to' addresses in its config")
        else:
            out.append(Destination(code, kind, code, None))
    return out


def _enqueue_one(
    conn: psycopg.Connection,
    d: Destination,
    subject: str,
    body: str,
    link: str | None,
    severity: str,
    group_key: str | None,
    dedupe_key: str | None,
    now: datetime,
    grouping: Grouping,
) -> int:
    inapp = d.kind == "inapp"
    release = now
    if group_key is not None and not inapp:
        # Serialise enqueues of one group so two writers cannot both release "the first".
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (group_key,))
        pending, last_sent, sending = conn.execute(
            """SELECT min(next_attempt_at) FILTER (WHERE status = 'pending'),
                      max(sent_at) FILTER (WHERE status = 'sent'),
                      bool_or(status = 'sending')
               FROM workflow.outbox
               WHERE group_key = %s AND channel = %s AND recipient = %s
                 AND (status IN ('pending', 'sending') OR sent_at > %s)""",
            (group_key, d.channel, d.recipient, now - grouping.interval),
        ).fetchone() or (None, None, None)
        release = group_release(now, now if sending else last_sent, pending, grouping)
    row = conn.execute(
        """INSERT INTO workflow.outbox (created_at, channel, kind, recipient, user_id, subject,
               body, link, severity, group_key, dedupe_key, status, attempts, next_attempt_at,
               sent_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (dedupe_key, channel, recipient) WHERE dedupe_key IS NOT NULL DO NOTHING
           RETURNING id""",
        (
            now,
            d.channel,
            d.kind,
            d.recipient,
            d.user_id,
            subject,
            body,
            link,
            severity,
            group_key,
            dedupe_key,
            "sent" if inapp else "pending",
            1 if inapp else 0,
            release,
            now if inapp else None,
        ),
    ).fetchone()
    if row is None:
        existing = conn.execute(
            "SELECT id FROM workflow.outbox WHERE dedupe_key = %s AND channel = %s"
            " AND recipient = %s",
            (dedupe_key, d.channel, d.recipient),
        ).fetchone()
        assert existing is not None
        return int(existing[0])
    outbox_id = int(row[0])
    if inapp:
        conn.execute(
            """INSERT INTO workflow.inbox (user_id, outbox_id, created_at, subject, body, link,
                   severity) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (d.user_id, outbox_id, now, subject, body, link, severity),
        )
    return outbox_id


def unread_count(conn: psycopg.Connection, user_id: int) -> int:
    """The bell's number."""
    row = conn.execute(
        "SELECT count(*) FROM workflow.inbox WHERE user_id = %s AND read_at IS NULL", (user_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def mark_read(
    conn: psycopg.Connection, user_id: int, inbox_ids: Iterable[int] | None = None
) -> int:
    """Mark a user's in-app messages read (all when ``inbox_ids`` is None); return how many."""
    if inbox_ids is None:
        cur = conn.execute(
            "UPDATE workflow.inbox SET read_at = now() WHERE user_id = %s AND read_at IS NULL",
            (user_id,),
        )
    else:
        cur = conn.execute(
            "UPDATE workflow.inbox SET read_at = now() WHERE user_id = %s AND id = ANY(%s)"
            " AND read_at IS NULL",
            (user_id, list(inbox_ids)),
        )
    return cur.rowcount
