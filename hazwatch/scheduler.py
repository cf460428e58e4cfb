"""The scheduler process: rollup refreshes and retention, run by themselves.

The Apache edition of TimescaleDB has no job scheduler, so this process is it. Several may
run (one per node): refreshes take advisory locks, so they never collide. A failing job is
logged and recorded (``hazwatch rollups status`` shows the error) and retried at its next turn;
a lost database connection is re-opened with back-off. Nothing stops the loop but ``stop``.

    stop = threading.Event()
    run_scheduler(settings, stop)          # blocks until stop.set()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from hazwatch.db import connect
from hazwatch.errors import HazwatchError
from hazwatch.settings import Settings

log = logging.getLogger("hazwatch.scheduler")


@dataclass
class Job:
    name: str
    every: timedelta
    run: Callable[[psycopg.Connection], str]
    next_at: float = 0.0
    failures: int = field(default=0)


def default_jobs(settings: Settings) -> list[Job]:
    """One refresh job per incremental rollup, lower levels first, plus retention."""
    from hazwatch import retention
    from hazwatch.rollups import catalog, engine

    policies = retention.effective_policies(settings.retention)

    def refresher(rollup: object) -> Callable[[psycopg.Connection], str]:
        def run(conn: psycopg.Connection) -> str:
            res = engine.refresh(conn, rollup)  # type: ignore[arg-type]
            return f"watermark {res.watermark}, {res.materialized_rows} rows"

        return run

    def expire(conn: psycopg.Connection) -> str:
        decisions = retention.run(conn, policies)
        return f"dropped {sum(len(d.chunks) for d in decisions)} chunks"

    jobs = [Job(f"refresh {r.name}", r.effective_schedule, refresher(r)) for r in catalog.ROLLUPS]
    jobs.append(Job("retention", timedelta(hours=1), expire))
    jobs.extend(_approval_jobs())
    from workflows.alert_jobs import alerting_jobs

    jobs.extend(alerting_jobs())
    from analytics.alarms.build import record_builder_job

    jobs.append(record_builder_job())
    from analytics.alarms.exclusions import exclusion_job

    jobs.append(exclusion_job())
    from analytics.alarms.escalation import escalation_job

    jobs.append(escalation_job())  # A13: unacknowledged process alarms escalate
    from analytics.vibration.strategies import pump_jobs

    jobs.extend(pump_jobs())  # P5 strategies, P7 hardware health, P10 weekly reports
    from workflows.hazard_feeds import hazard_jobs

    jobs.extend(hazard_jobs())  # R2-R5 unit states, daily KPIs, hourly completeness (issue 11)
    from video.store import retention_job

    jobs.append(retention_job(settings.home, policies["video.detection"]))  # V19 (issue 9)
    from workflows.contractors.ops_jobs import contractor_ops_jobs

    jobs.extend(contractor_ops_jobs(policies["contractor.person"]))  # C13, C16, C18 (issue 10)
    from workflows.contractors.summary_feed import contractor_summary_jobs

    jobs.extend(contractor_summary_jobs())  # C20 contractor summaries upward (issue 11)
    if settings.upstream.url:
        jobs.append(_upward_job(settings))
    return jobs


def _approval_jobs() -> list[Job]:
    """Reminders of late approval steps (once per step interval) and of expiring items."""
    from workflows import approvals, reminders
    from workflows.contractors import expiry  # noqa: F401  (its reminder sources)

    def late(conn: psycopg.Connection) -> str:
        return f"{approvals.remind_overdue(conn)} reminders of late approvals"

    return [
        Job("approval deadlines", timedelta(minutes=10), late),
        Job("reminders", timedelta(hours=1), reminders.scan_job),
    ]


def _upward_job(settings: Settings) -> Job:
    """Push queued items upward (R9), up to 20 batches a turn so a backlog drains quickly."""
    from workflows.upward import Pusher

    pusher = Pusher.from_settings(settings)

    def push(conn: psycopg.Connection) -> str:
        pusher.enable_feeds(conn)
        sent = 0
        for _ in range(20):
            res = pusher.push_once(conn)
            sent += res.sent
            if res.error:
                raise HazwatchError(f"{res.error} ({res.pending} pending)")
            if res.sent + res.rejected == 0:
                break
        return f"pushed {sent}, {res.pending} pending"

    return Job("push upward", timedelta(seconds=settings.upstream.push_every_s), push)


def run_scheduler(
    settings: Settings,
    stop: threading.Event,
    jobs: list[Job] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    jobs = jobs if jobs is not None else default_jobs(settings)
    backoff = 1.0
    while not stop.is_set():
        try:
            with connect(settings, autocommit=True) as conn:
                backoff = 1.0
                log.info("scheduler connected; %d jobs", len(jobs))
                _loop(conn, jobs, stop, clock)
        except psycopg.OperationalError as exc:
            log.warning("database unreachable (%s); retrying in %.0f s", exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 60.0)


def _loop(
    conn: psycopg.Connection, jobs: list[Job], stop: threading.Event, clock: Callable[[], float]
) -> None:
    while not stop.is_set():
        now = clock()
        for job in jobs:
            if job.next_at > now or stop.is_set():
                continue
            try:
                outcome = job.run(conn)
                job.failures = 0
                log.info("%s: %s", job.name, outcome)
            except psycopg.OperationalError:
                raise  # connection lost: reconnect in run_scheduler
            except (HazwatchError, psycopg.Error) as exc:
                job.failures += 1
                log.error("%s failed (%d in a row): %s", job.name, job.failures, exc)
            job.next_at = clock() + job.every.total_seconds()
        wait = min(job.next_at for job in jobs) - clock()
        stop.wait(max(wait, 0.05))
