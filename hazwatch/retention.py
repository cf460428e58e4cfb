"""Retention: how long each hypertable keeps its data, with legal minimums no setting can undercut.

Policies drop whole chunks (``drop_chunks``) older than the kept period. Legal minimums:

- V19: video alarm records and snapshots are kept at least 6 months (``video.detection``);
- C13: contractor personnel records at least 1 year after the person's exit.

Periods are written ``"730 days"``, ``"26 weeks"``, ``"6 months"``, ``"5 years"`` or ``"never"``.
A month counts as 31 days and a year as 366, so a period never drops data earlier than the
calendar reading of the same words would.

    policies = effective_policies({"ts.sample": "3 years"})   # defaults + overrides, validated
    plan(conn, policies)                                        # what would go (dry run)
    run(conn, policies)                                         # drop it
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from hazwatch.errors import ConfigError

UNIT_DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class LegalMinimum:
    keep: timedelta
    basis: str


LEGAL_MINIMUMS: dict[str, LegalMinimum] = {
    "video.detection": LegalMinimum(timedelta(days=184), "V19: video alarms kept ≥ 6 months"),
    # Row-based (counted from each person's exit date); enforced by the contractor module.
    "contractor.person": LegalMinimum(timedelta(days=366), "C13: ≥ 1 year after exit"),
}

#: Relations expired row by row by their own module, not by dropping chunks.
ROW_BASED: dict[str, str] = {
    "contractor.person": "row-based (counted from each exit date): expired by contractor "
    "management, never by chunk",
}

#: Defaults; every key is a relation hazwatch knows how to expire.
DEFAULT_RETENTION: dict[str, str] = {
    "ts.sample": "730 days",
    "ts.device_health": "400 days",
    "alarm.event": "5 years",
    "alarm.record": "5 years",
    "vib.overall": "5 years",
    "vib.waveform": "400 days",
    "video.detection": "400 days",
    "ts.sample_1m": "400 days",
    "ts.sample_1h": "never",
    "ts.sample_1d": "never",
    "contractor.person": "3 years",
    # Where contractor people were: a year and a month, beyond C13's year after exit.
    "contractor.position": "400 days",
}


def parse_period(text: str) -> timedelta | None:
    """``"6 months"`` -> 186 days; ``"never"`` -> None.

    >>> parse_period("2 weeks")
    datetime.timedelta(days=14)
    """
    if text.strip().lower() == "never":
        return None
    m = _PERIOD.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a period like '730 days', '6 months' or 'never'")
    count = int(m.group(1))
    if count <= 0:
        raise ValueError(f"{text!r}: a period must be positive (or 'never')")
    return timedelta(days=count * UNIT_DAYS[m.group(2).lower()])


def effective_policies(overrides: Mapping[str, str]) -> dict[str, timedelta | None]:
    """Defaults with ``overrides`` applied; refuses unknown relations and legal violations."""
    problems = []
    merged = {**DEFAULT_RETENTION, **overrides}
    out: dict[str, timedelta | None] = {}
    for relation, text in merged.items():
        if relation not in DEFAULT_RETENTION:
            problems.append(f"retention.{relation}: unknown relation; known: "
                            f"{', '.join(sorted(DEFAULT_RETENTION))}")  # fmt: skip
            continue
        try:
            keep = parse_period(text)
        except ValueError as exc:
            problems.append(f"retention.{relation}: {exc}")
            continue
        floor = LEGAL_MINIMUMS.get(relation)
        if floor is not None and keep is not None and keep < floor.keep:
            problems.append(
                f"retention.{relation}: {text} is below the legal minimum of "
                f"{floor.keep.days} days ({floor.basis})"
            )
            continue
        out[relation] = keep
    if problems:
        raise ConfigError("invalid retention settings:\n  " + "\n  ".join(problems))
    return out


# -- database side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkToDrop:
    relation: str
    chunk: str
    range_start: datetime
    range_end: datetime
    size_bytes: int


@dataclass(frozen=True)
class Decision:
    relation: str
    keep: timedelta | None
    older_than: datetime | None
    reason: str
    chunks: tuple[ChunkToDrop, ...] = ()


def _hypertable_of(conn: psycopg.Connection, relation: str) -> str | None:
    """The hypertable holding a relation's data: itself, or a rollup's materialisation."""
    row = conn.execute(
        "SELECT implementation FROM _hazwatch.rollup WHERE name = %s", (relation,)
    ).fetchone()
    if row is not None:
        if row[0] == "continuous":
            mat = conn.execute(
                "SELECT materialization_hypertable_schema || '.' || materialization_hypertable_name"
                " FROM timescaledb_information.continuous_aggregates"
                " WHERE view_schema || '.' || view_name = %s",
                (relation,),
            ).fetchone()
            return mat[0] if mat else None
        return f"_hazwatch.mat__{relation.replace('.', '__')}"
    schema, _, name = relation.partition(".")
    found = conn.execute(
        "SELECT 1 FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = %s AND hypertable_name = %s",
        (schema, name),
    ).fetchone()
    return relation if found else None


def _unmaterialized_floor(conn: psycopg.Connection, relation: str) -> datetime | None:
    """Oldest watermark of the rollups reading ``relation``: data above it is not yet rolled up."""
    rows = conn.execute(
        "SELECT watermark FROM _hazwatch.rollup WHERE source = %s", (relation,)
    ).fetchall()
    if not rows:
        return None
    if any(wm is None for (wm,) in rows):
        return datetime.min.replace(tzinfo=UTC)
    return min(wm for (wm,) in rows)


def plan(
    conn: psycopg.Connection,
    policies: Mapping[str, timedelta | None],
    now: datetime | None = None,
) -> list[Decision]:
    """What a retention run would drop, relation by relation, with the reason for each bound."""
    now = now or datetime.now(UTC)
    decisions = []
    for relation, keep in policies.items():
        if relation in ROW_BASED:
            decisions.append(Decision(relation, keep, None, ROW_BASED[relation]))
            continue
        table = _hypertable_of(conn, relation)
        if table is None:
            decisions.append(Decision(relation, keep, None, "not a hypertable in this database"))
            continue
        if keep is None:
            decisions.append(Decision(relation, keep, None, "kept for ever"))
            continue
        older_than = now - keep
        reason = f"older than {keep.days} days"
        floor = LEGAL_MINIMUMS.get(relation)
        if floor is not None and older_than > now - floor.keep:
            raise ConfigError(f"{relation}: refusing to drop data younger than {floor.basis}")
        pending = _unmaterialized_floor(conn, relation)
        if pending is not None and pending < older_than:
            older_than = pending
            reason += ", held back to the oldest rollup watermark (not yet rolled up)"
        schema, _, name = table.partition(".")
        rows = conn.execute(
            "SELECT c.chunk_schema || '.' || c.chunk_name, c.range_start, c.range_end,"
            " pg_total_relation_size(format('%%I.%%I', c.chunk_schema, c.chunk_name))"
            " FROM timescaledb_information.chunks c"
            " WHERE c.hypertable_schema = %s AND c.hypertable_name = %s AND c.range_end <= %s"
            " ORDER BY c.range_start",
            (schema, name, older_than),
        ).fetchall()
        chunks = tuple(ChunkToDrop(relation, c, s, e, int(z)) for c, s, e, z in rows)
        decisions.append(Decision(relation, keep, older_than, reason, chunks))
    return decisions


def run(
    conn: psycopg.Connection,
    policies: Mapping[str, timedelta | None],
    now: datetime | None = None,
) -> list[Decision]:
    """Drop what ``plan`` lists; record each relation's new horizon for the rollups."""
    decisions = plan(conn, policies, now)
    for d in decisions:
        if d.older_than is None or not d.chunks:
            continue
        table = _hypertable_of(conn, d.relation)
        with conn.transaction():
            conn.execute("SELECT drop_chunks(%s::regclass, older_than => %s)",
                         (table, d.older_than))  # fmt: skip
            schema, _, name = str(table).partition(".")
            oldest = conn.execute(
                "SELECT min(range_start) FROM timescaledb_information.chunks"
                " WHERE hypertable_schema = %s AND hypertable_name = %s",
                (schema, name),
            ).fetchone()
            horizon = oldest[0] if oldest and oldest[0] is not None else d.older_than
            conn.execute(
                "INSERT INTO _hazwatch.retention_state (relation, horizon, last_run_at, dropped)"
                " VALUES (%s, %s, now(), %s) ON CONFLICT (relation) DO UPDATE SET"
                " horizon = EXCLUDED.horizon, last_run_at = now(),"
                " dropped = _hazwatch.retention_state.dropped + EXCLUDED.dropped",
                (d.relation, horizon, len(d.chunks)),
            )
    return decisions
