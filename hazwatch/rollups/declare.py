"""Rollup declarations and the SQL they turn into (pure: no database access here).

One declaration per rollup: its public name, source (a hypertable, or a lower rollup for
hierarchical levels), bucket width, group keys and aggregates. Each aggregate carries two SQL
expressions: ``raw`` over the source hypertable's rows and ``combine`` over the rows of a lower
rollup, so 1 min -> 1 h -> 1 day levels are built from the level below.

    SAMPLE_1M = Rollup("ts.sample_1m", source="ts.sample", bucket=timedelta(minutes=1),
                       group_by=("tag_id",), aggregates=SAMPLE_AGGREGATES)
    SAMPLE_1H = SAMPLE_1M.level("ts.sample_1h", timedelta(hours=1))

Expressions are code, never input (non-negotiable 6); names are composed as identifiers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import timedelta

from psycopg import sql

INTERNAL_SCHEMA = "_hazwatch"


@dataclass(frozen=True)
class Aggregate:
    name: str
    raw: str
    combine: str


@dataclass(frozen=True)
class Rollup:
    name: str
    source: str
    bucket: timedelta
    group_by: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    #: Time column of the source: ``time`` for hypertables, ``bucket`` for lower rollups.
    time_column: str = "time"
    #: Set for a level built from another rollup (its declaration).
    parent: Rollup | None = field(default=None, compare=False)
    #: Buckets are materialised once they ended this long ago; newer ones are read raw.
    end_offset: timedelta | None = None
    #: How much source time one refresh transaction materialises (progress is kept per batch).
    batch: timedelta | None = None
    #: How often the scheduler refreshes it.
    schedule: timedelta | None = None

    def __post_init__(self) -> None:
        if self.bucket <= timedelta(0):
            raise ValueError(f"{self.name}: bucket width must be positive")
        schema, _, table = self.name.partition(".")
        if not schema or not table:
            raise ValueError(f"{self.name}: rollup names are schema-qualified (ts.sample_1m)")
        names = [a.name for a in self.aggregates]
        if len(set(names)) != len(names) or {"bucket", *self.group_by} & set(names):
            raise ValueError(f"{self.name}: aggregate names must be unique and not keys")

    def level(self, name: str, bucket: timedelta, **kwargs: object) -> Rollup:
        """The next level up, built from this rollup (e.g. 1 min -> 1 h)."""
        if bucket <= self.bucket or bucket % self.bucket:
            raise ValueError(f"{name}: {bucket} is not a multiple of {self.bucket}")
        return replace(
            self,
            name=name,
            source=self.name,
            bucket=bucket,
            time_column="bucket",
            parent=self,
            end_offset=None,
            batch=None,
            schedule=None,
            **kwargs,  # type: ignore[arg-type]
        )

    # -- derived settings ------------------------------------------------------------------

    @property
    def effective_end_offset(self) -> timedelta:
        return self.end_offset if self.end_offset is not None else self.bucket

    @property
    def effective_batch(self) -> timedelta:
        if self.batch is not None:
            return self.batch
        if self.bucket < timedelta(hours=1):
            return timedelta(days=1)
        if self.bucket < timedelta(days=1):
            return timedelta(days=30)
        return timedelta(days=366)

    @property
    def effective_schedule(self) -> timedelta:
        if self.schedule is not None:
            return self.schedule
        return min(max(self.bucket, timedelta(minutes=1)), timedelta(hours=1))

    @property
    def is_hierarchical(self) -> bool:
        return self.parent is not None

    @property
    def root_source(self) -> str:
        """The hypertable at the bottom of the hierarchy."""
        return self.parent.root_source if self.parent else self.source

    @property
    def columns(self) -> list[str]:
        return ["bucket", *self.group_by, *(a.name for a in self.aggregates)]

    def definition_hash(self) -> str:
        text = repr((self.name, self.source, self.bucket, self.group_by, self.aggregates,
                     self.time_column))  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- names -----------------------------------------------------------------------------

    @property
    def slug(self) -> str:
        return self.name.replace(".", "__")

    @property
    def view(self) -> sql.Composed:
        schema, table = self.name.split(".", 1)
        return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))

    @property
    def materialization(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(
            sql.Identifier(INTERNAL_SCHEMA), sql.Identifier(f"mat__{self.slug}")
        )

    @property
    def watermark_fn(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(
            sql.Identifier(INTERNAL_SCHEMA), sql.Identifier(f"wm__{self.slug}")
        )


def relation(name: str) -> sql.Composed:
    """``schema.table`` as identifiers."""
    schema, table = name.split(".", 1)
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def threshold_fn(source: str) -> sql.Composed:
    """The generated function holding the invalidation threshold of a raw source."""
    return sql.SQL("{}.{}").format(
        sql.Identifier(INTERNAL_SCHEMA), sql.Identifier(f"th__{source.replace('.', '__')}")
    )


def interval_literal(td: timedelta) -> sql.Composed:
    return sql.SQL("{}::interval").format(sql.Literal(f"{int(td.total_seconds())} seconds"))


def aggregate_select(rollup: Rollup, source: sql.Composable, where: sql.Composable) -> sql.Composed:
    """``SELECT bucket, keys, aggregates FROM source WHERE … GROUP BY …`` for one level."""
    exprs = [a.combine if rollup.is_hierarchical else a.raw for a in rollup.aggregates]
    keys = [sql.Identifier(k) for k in rollup.group_by]
    items = [
        sql.SQL("time_bucket({}, {}) AS bucket").format(
            interval_literal(rollup.bucket), sql.Identifier(rollup.time_column)
        ),
        *keys,
        *(
            sql.SQL("{} AS {}").format(sql.SQL(e), sql.Identifier(a.name))  # type: ignore[arg-type]
            for e, a in zip(exprs, rollup.aggregates, strict=True)
        ),
    ]
    group = sql.SQL(", ").join([sql.SQL("1"), *keys])
    return sql.SQL("SELECT {} FROM {} WHERE {} GROUP BY {}").format(
        sql.SQL(", ").join(items), source, where, group
    )


def source_relation(rollup: Rollup) -> sql.Composed:
    """What a level reads: the hypertable, or the lower level's (real-time) view."""
    return relation(rollup.source)


def realtime_view(rollup: Rollup) -> sql.Composed:
    """Materialised buckets below the watermark, united with raw aggregation above it."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in rollup.columns)
    fresh = aggregate_select(
        rollup,
        source_relation(rollup),
        sql.SQL("{} >= {}()").format(sql.Identifier(rollup.time_column), rollup.watermark_fn),
    )
    return sql.SQL(
        "CREATE OR REPLACE VIEW {view} AS SELECT {cols} FROM {mat} WHERE bucket < {wm}()"
        " UNION ALL {fresh}"
    ).format(view=rollup.view, cols=cols, mat=rollup.materialization, wm=rollup.watermark_fn,
             fresh=fresh)  # fmt: skip


def continuous_aggregate(rollup: Rollup) -> sql.Composed:
    """The same declaration as a TimescaleDB continuous aggregate (Timescale licence)."""
    select = aggregate_select(rollup, source_relation(rollup), sql.SQL("true"))
    return sql.SQL(
        "CREATE MATERIALIZED VIEW {} WITH (timescaledb.continuous,"
        " timescaledb.materialized_only = false) AS {} WITH NO DATA"
    ).format(rollup.view, select)
