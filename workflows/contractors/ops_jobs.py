"""Scheduler jobs of contractor operations: the evaluation cycles (C16, C18) and the C13
retention of contractor personnel (row-based, counted from each exit; never under a year).

    jobs = contractor_ops_jobs(keep=policies["contractor.person"])   # hazwatch.scheduler
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from hazwatch.registers import Actor

ACTOR = Actor(id=None, name="scheduler")


def contractor_ops_jobs(keep: timedelta | None) -> list[Any]:
    """``Job``s: open the due periodic evaluations (daily), purge people past retention
    (daily; none when retention is ``never``)."""
    from hazwatch.scheduler import Job
    from workflows.contractors import evaluation
    from workflows.contractors import exit as exits

    def cycles(conn: psycopg.Connection) -> str:
        return f"{evaluation.open_due(conn, ACTOR)} evaluations opened"

    jobs = [Job("contractor evaluations", timedelta(days=1), cycles)]
    if keep is not None:

        def purge(conn: psycopg.Connection) -> str:
            gone = exits.purge_expired(conn, ACTOR, keep=keep)
            return f"{len(gone)} contractor people past retention removed"

        jobs.append(Job("contractor retention", timedelta(days=1), purge))
    return jobs
