"""Reminders of expiring items: scheduled scans, N days ahead per source, one reminder per item
per period, sent through ``workflows.notify``.

    register_source("contractor.qualification", title={"zh": "资质到期", "en": "Qualification"},
                    query=QUALIFICATIONS_SQL, days_ahead=30, period_days=7)
    result = scan(conn, today=date(2026, 11, 22))      # ScanResult(sent=[...], unaddressed=...)
    configure(conn, admin, "equipment.inspection", days_ahead=45, period_days=7)

A source is a declared SQL query (from code, never from input) or a function. A query gets the
parameters ``%(today)s`` and ``%(until)s`` (dates) and returns the columns ``item_id``,
``title``, ``expires_on`` (date), ``enterprise_id``, ``users`` (int[]) and ``groups``
(int[], workflow.user_group ids): every item expiring on or before ``until`` that is still
current (items already past due are reminded too, every period, until their date moves).

Periods are counted back from the item's own date: with ``period_days = 7`` an item is
reminded when it enters the window and then every 7 days (30, 23, 16, 9, 2 days ahead,
then weekly while overdue). A renewed item (new date) starts afresh. ``workflow.reminder_sent``
holds one row per (source, item, period): the primary key makes a second scan in the same
period send nothing, whichever process runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting

log = logging.getLogger("hazwatch.workflows.reminders")

NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")
#: "Today" for a plant in Shanxi, whatever the server's zone.
_CST: Final = ZoneInfo("Asia/Shanghai")


class ReminderError(HazwatchError):
    """A bad source declaration or setting."""


@dataclass(frozen=True)
class Item:
    """One expiring thing, as a source reports it."""

    item_id: str
    title: str
    expires_on: date
    enterprise_id: int | None = None
    users: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()


Fetch = Callable[[psycopg.Connection, date, date], Iterable[Item]]


@dataclass(frozen=True)
class Source:
    name: str
    title: Mapping[str, str]
    fetch: Fetch
    days_ahead: int = 30
    period_days: int = 7
    link: str | None = None


SOURCES: dict[str, Source] = {}


def register_source(
    name: str,
    *,
    title: dict[str, str],
    query: str | None = None,
    fetch: Fetch | None = None,
    days_ahead: int = 30,
    period_days: int = 7,
    link: str | None = None,
) -> None:
    """Declare a source by SQL ``query`` or by ``fetch(conn, today, until)``; defaults of its
    window and period (administrators override them with ``configure``)."""
    if not name or name[0] == "." or not set(name) <= NAME_CHARS:
        raise ReminderError(f"source name {name!r}: lower-case words joined by dots")
    if (query is None) == (fetch is None):
        raise ReminderError(f"source {name}: give either query or fetch")
    if {"zh", "en"} - set(title):
        raise ReminderError(f"source {name}: title needs zh and en")
    _check_window(name, days_ahead, period_days)
    if query is not None:
        fetch = _query_fetch(query)
    assert fetch is not None
    SOURCES[name] = Source(name, dict(title), fetch, days_ahead, period_days, link)


def _check_window(name: str, days_ahead: int, period_days: int) -> None:
    if not 0 <= days_ahead <= 3650:
        raise ReminderError(f"{name}: days ahead must be 0 to 3650, not {days_ahead}")
    if not 1 <= period_days <= 365:
        raise ReminderError(f"{name}: period days must be 1 to 365, not {period_days}")


def _query_fetch(query: str) -> Fetch:
    def fetch(conn: psycopg.Connection, today: date, until: date) -> list[Item]:
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, {"today": today, "until": until}).fetchall()
        return [
            Item(
                str(r["item_id"]),
                str(r["title"]),
                r["expires_on"],
                r["enterprise_id"],
                tuple(r["users"] or ()),
                tuple(r["groups"] or ()),
            )
            for r in rows
        ]

    return fetch


# -- pure rules ---------------------------------------------------------------------------------


def period_of(today: date, expires_on: date, period_days: int) -> int:
    """The reminder period ``today`` is in, counted back from the item's date.

    >>> period_of(date(2026, 1, 1), date(2026, 1, 31), 7), period_of(date(2026, 1, 2),
    ...     date(2026, 1, 31), 7)
    (4, 4)
    """
    return (expires_on - today).days // period_days


def in_window(today: date, expires_on: date, days_ahead: int) -> bool:
    return expires_on <= today + timedelta(days=days_ahead)


def message(source: Source, item: Item, today: date) -> tuple[str, str, str]:
    """Subject, body and severity of a reminder (Chinese first, English after)."""
    days = (item.expires_on - today).days
    zh, en = source.title["zh"], source.title["en"]
    if days < 0:
        when_zh, when_en, severity = f"已超期 {-days} 天", f"overdue by {-days} days", "warning"
    elif days == 0:
        when_zh, when_en, severity = "今天到期", "due today", "warning"
    else:
        when_zh, when_en, severity = f"{days} 天后到期", f"due in {days} days", "info"
    subject = f"{zh}提醒：{item.title}（{item.expires_on:%Y-%m-%d}，{when_zh}）"
    body = f"{zh}：{item.title}\n到期日：{item.expires_on:%Y-%m-%d}（{when_zh}）\n\n" + (
        f"{en}: {item.title}\nDue: {item.expires_on:%Y-%m-%d} ({when_en})"
    )
    return subject, body, severity


# -- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    days_ahead: int
    period_days: int
    active: bool = True


def window(conn: psycopg.Connection, source: Source) -> Window:
    """The source's window: the administrators' setting, else the declared defaults."""
    row = conn.execute(
        "SELECT days_ahead, period_days, active FROM workflow.reminder_setting WHERE source = %s",
        (source.name,),
    ).fetchone()
    return Window(source.days_ahead, source.period_days) if row is None else Window(*row)


def configure(
    conn: psycopg.Connection,
    actor: Actor,
    source: str,
    *,
    days_ahead: int,
    period_days: int,
    active: bool = True,
) -> None:
    """Set how far ahead and how often a source reminds (audited)."""
    if source not in SOURCES:
        raise ReminderError(f"no reminder source {source!r}; known: {', '.join(sorted(SOURCES))}")
    _check_window(source, days_ahead, period_days)
    with acting(conn, actor, f"reminder setting {source}"):
        conn.execute(
            """INSERT INTO workflow.reminder_setting (source, days_ahead, period_days, active)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (source) DO UPDATE SET days_ahead = EXCLUDED.days_ahead,
                   period_days = EXCLUDED.period_days, active = EXCLUDED.active""",
            (source, days_ahead, period_days, active),
        )


# -- the scan -----------------------------------------------------------------------------------


def mark_sent(
    conn: psycopg.Connection, source: str, item_key: str, period: str, enterprise_id: int | None
) -> bool:
    """Claim (source, item, period); False when it was already reminded in that period."""
    row = conn.execute(
        """INSERT INTO workflow.reminder_sent (source, item_key, period, enterprise_id)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (source, item_key, period, enterprise_id),
    ).fetchone()
    return row is not None


def _recipients(conn: psycopg.Connection, item: Item) -> tuple[list[int], list[int]]:
    """The item's active users and its groups that have active members."""
    users = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM auth.app_user WHERE id = ANY(%s) AND active ORDER BY id",
            (list(item.users),),
        )
    ]
    groups = [
        r[0]
        for r in conn.execute(
            """SELECT DISTINCT m.group_id FROM workflow.user_group_member m
               JOIN auth.app_user u ON u.id = m.user_id AND u.active
               WHERE m.group_id = ANY(%s) ORDER BY 1""",
            (list(item.groups),),
        )
    ]
    return users, groups


@dataclass
class ScanResult:
    #: (source, item_id, period) of each reminder sent
    sent: list[tuple[str, str, int]] = field(default_factory=list)
    #: items due for a reminder that name nobody who could receive it (not marked: retried)
    unaddressed: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} reminders sent, {len(self.unaddressed)} items without recipients,"
            f" {len(self.errors)} source errors"
        )


def scan(
    conn: psycopg.Connection,
    *,
    today: date | None = None,
    sources: Sequence[str] | None = None,
) -> ScanResult:
    """Send the reminders due ``today`` (default: today in China Standard Time).

    Each item is its own transaction (claim + enqueue), so a failure of one source or item
    leaves the others sent and the failed one to the next scan.
    """
    today = today or datetime.now(UTC).astimezone(_CST).date()
    result = ScanResult()
    for name in sources if sources is not None else sorted(SOURCES):
        source = SOURCES.get(name)
        if source is None:
            raise ReminderError(f"no reminder source {name!r}")
        win = window(conn, source)
        if not win.active:
            continue
        until = today + timedelta(days=win.days_ahead)
        try:
            items = list(source.fetch(conn, today, until))
        except (psycopg.Error, HazwatchError) as exc:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            result.errors.append(f"{name}: {exc}")
            log.error("reminder source %s failed: %s", name, exc)
            continue
        for item in items:
            if not in_window(today, item.expires_on, win.days_ahead):
                continue
            _remind(conn, source, item, today, win, result)
    return result


def _remind(
    conn: psycopg.Connection,
    source: Source,
    item: Item,
    today: date,
    win: Window,
    result: ScanResult,
) -> None:
    from workflows.notify import notify

    period = period_of(today, item.expires_on, win.period_days)
    key = f"{item.item_id}@{item.expires_on.isoformat()}"
    with conn.transaction():
        users, groups = _recipients(conn, item)
        if not users and not groups:
            result.unaddressed.append((source.name, item.item_id))
            return
        if not mark_sent(conn, source.name, key, str(period), item.enterprise_id):
            return
        subject, body, severity = message(source, item, today)
        ids = notify(
            conn,
            subject=subject,
            body=body,
            users=users,
            groups=groups,
            link=source.link,
            severity=severity,
            # One digest per enterprise and source when many items fall due together.
            group_key=f"reminder:{source.name}:{item.enterprise_id}",
            dedupe_key=f"reminder:{source.name}:{key}:{period}",
        )
        conn.execute(
            "UPDATE workflow.reminder_sent SET notification_ids = %s"
            " WHERE source = %s AND item_key = %s AND period = %s",
            (ids, source.name, key, str(period)),
        )
    result.sent.append((source.name, item.item_id, period))


def scan_job(conn: psycopg.Connection) -> str:
    """The scheduler's ``reminders`` job."""
    return str(scan(conn))


def settings_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every registered source with its effective window (for the UI)."""
    out = []
    for name in sorted(SOURCES):
        source = SOURCES[name]
        win = window(conn, source)
        out.append(
            {
                "source": name,
                "title_zh": source.title["zh"],
                "title_en": source.title["en"],
                "days_ahead": win.days_ahead,
                "period_days": win.period_days,
                "active": win.active,
            }
        )
    return out


# -- the sources that exist now (contractor qualifications and certificates come with their
# tables: contractor management registers them the same way) ----------------------------------

#: Equipment inspection (C4 inspection records; pumps and vessels of the registers): the
#: enterprise's ``equipment`` group and its engineers.
EQUIPMENT_INSPECTION_SQL: Final = """
SELECT eq.id::text AS item_id, eq.code || ' ' || eq.name AS title,
       eq.next_inspection_date AS expires_on, u.enterprise_id,
       ARRAY(SELECT a.id FROM auth.app_user a
             WHERE a.enterprise_id = u.enterprise_id AND a.role = 'engineer' AND a.active)
           AS users,
       ARRAY(SELECT g.id FROM workflow.user_group g
             WHERE g.enterprise_id = u.enterprise_id AND g.code = 'equipment') AS groups
FROM registry.equipment eq
JOIN registry.unit u ON u.id = eq.unit_id
WHERE eq.next_inspection_date <= %(until)s
ORDER BY eq.next_inspection_date, eq.id
"""

#: Sensor and detector calibration (gas detectors, transmitters): the ``instrument`` group.
SENSOR_CALIBRATION_SQL: Final = """
SELECT s.id::text AS item_id, s.code || coalesce(' ' || s.measurement_point, '') AS title,
       s.calibration_due AS expires_on, s.enterprise_id,
       ARRAY(SELECT a.id FROM auth.app_user a
             WHERE a.enterprise_id = s.enterprise_id AND a.role = 'engineer' AND a.active)
           AS users,
       ARRAY(SELECT g.id FROM workflow.user_group g
             WHERE g.enterprise_id = s.enterprise_id AND g.code = 'instrument') AS groups
FROM registry.sensor s
WHERE s.calibration_due <= %(until)s
ORDER BY s.calibration_due, s.id
"""

register_source(
    "equipment.inspection",
    title={"zh": "设备检验到期", "en": "Equipment inspection due"},
    query=EQUIPMENT_INSPECTION_SQL,
    days_ahead=30,
    period_days=7,
)
register_source(
    "sensor.calibration",
    title={"zh": "仪表校验到期", "en": "Sensor calibration due"},
    query=SENSOR_CALIBRATION_SQL,
    days_ahead=30,
    period_days=7,
)
