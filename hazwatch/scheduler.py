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
    return jobs


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
