"""The alerting jobs the scheduler process runs (``hazwatch.scheduler.default_jobs``).

jobs = alerting_jobs()     # [Job("alert rules", 15 s, ...), Job("notification outbox", 5 s, ...)]
"""

from __future__ import annotations

from datetime import timedelta

import psycopg

from hazwatch.scheduler import Job


def evaluate_job(conn: psycopg.Connection) -> str:
    from workflows.alerting import evaluate

    return str(evaluate(conn))


def deliver_job(conn: psycopg.Connection) -> str:
    from workflows.delivery import deliver_due

    return str(deliver_due(conn))


def alerting_jobs() -> list[Job]:
    return [
        Job("alert rules", timedelta(seconds=15), evaluate_job),
        Job("notification outbox", timedelta(seconds=5), deliver_job),
    ]
