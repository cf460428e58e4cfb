"""Read-only aggregated endpoints for regulators and neighbouring systems (R8, R9, D3).

    GET /api/v1/regions                  the token's region and everything below
    GET /api/v1/enterprises              enterprises in scope, with 24 h alarms and freshness
    GET /api/v1/enterprises/{id}         one enterprise, alarm counts by category and priority
    GET /api/v1/alarms/events            alarm events (no operator names: personal data stays)
    GET /api/v1/alarms/stats             counts ranked by enterprise, region, category, priority
    GET /api/v1/freshness                data completeness per enterprise
    GET /api/openapi.json                this API's OpenAPI 3.1 document

Every list is paged (``page``, ``per_page`` ≤ 500; the answer carries ``total``). Every query
is restricted to the token's region in SQL (``Scope.condition``), so an enterprise of another
city is neither listed, counted, nor found by id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from psycopg import sql
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from dashboards.api.spec import MAX_ID, Api, ApiError, Ctx, QueryModel

api = Api(
    "hazwatch regulator API",
    "1.0",
    "Read-only, aggregated views of the enterprises in the token's region and below. "
    "No personal data of workers or contractors leaves the enterprise.",
)

#: Free text from a query string: printable, bounded (NUL bytes cannot reach PostgreSQL).
Text = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")]
#: A region code (GB/T 2260, six digits), as the ``region`` filter of every endpoint takes it.
RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
MAX_WINDOW = timedelta(days=366)
M = TypeVar("M", bound=BaseModel)


class Paged(QueryModel):
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")
    per_page: int = Field(50, ge=1, le=500, description="Rows per page (at most 500).")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class Windowed(Paged):
    start: AwareDatetime | None = Field(
        None, alias="from", description="Window start, ISO 8601 with offset (default: to − 24 h)."
    )
    end: AwareDatetime | None = Field(
        None, alias="to", description="Window end, ISO 8601 with offset (default: now)."
    )

    @model_validator(mode="after")
    def _window(self) -> Windowed:
        end = self.end or datetime.now(UTC)
        start = self.start or end - timedelta(days=1)
        if start >= end:
            raise ValueError("'from' must be before 'to'")
        if end - start > MAX_WINDOW:
            raise ValueError("the window may span at most 366 days")
        self.start, self.end = start, end
        return self


class PageInfo(BaseModel):
    page: int
    per_page: int
    total: int


def region_filter(column: str) -> sql.Composable:
    """``column`` (a region id) is the region of code %s or below it; the caller passes the
    code as the next argument, and ANDs this with the scope (a region outside the token's
    scope then matches nothing: no widening).

        where.append(region_filter("e.region_id")); args.append(q.region)
    """
    return sql.SQL(
        "{} IN (WITH RECURSIVE d AS (SELECT id FROM registry.region WHERE code = %s"
        " UNION ALL SELECT c.id FROM registry.region c JOIN d ON c.parent_id = d.id)"
        " SELECT id FROM d)"
    ).format(sql.SQL(column))


def scope_filter(
    ctx: Ctx, column: str, region: str | None = None
) -> tuple[list[sql.Composable], list[Any]]:
    """The start of an endpoint's WHERE: the token's scope on ``column`` (an enterprise id)
    and, given a ``region`` code, the enterprise ``e`` in that region or below it. Append
    further conditions and their arguments, then ``and_all(where)``.

        where, args = scope_filter(ctx, "e.id", q.region)
    """
    cond, params = ctx.scope.condition(column)
    where: list[sql.Composable] = [cond]
    args: list[Any] = [*params]
    if region:
        where.append(region_filter("e.region_id"))
        args.append(region)
    return where, args


def as_models(model: type[M], rows: list[tuple[Any, ...]], keys: tuple[str, ...] = ()) -> list[M]:
    """Rows as ``model`` instances, the columns named by ``keys`` (default: the model's
    fields, in order): ``as_models(AlarmEvent, rows)``."""
    names = keys or tuple(model.model_fields)
    return [model(**dict(zip(names, r, strict=True))) for r in rows]


def fetch_page(
    ctx: Ctx,
    q: Paged,
    count: sql.Composable,
    rows: sql.Composable,
    args: list[Any],
    row_args: list[Any] | None = None,
) -> tuple[int, list[tuple[Any, ...]]]:
    """The total of ``count`` (a ``SELECT count(*)`` with ``args``) and page ``q`` of ``rows``
    (ending in its ORDER BY; LIMIT and OFFSET are added) with ``row_args`` (default: ``args``).

        total, found = fetch_page(ctx, q, count, rows, args)
        return FreshnessPage(page=q.page, per_page=q.per_page, total=total, items=...)
    """
    total = ctx.conn.execute(count, args).fetchone()
    found = ctx.conn.execute(
        rows + sql.SQL(" LIMIT %s OFFSET %s"),
        [*(args if row_args is None else row_args), q.per_page, q.offset],
    ).fetchall()
    return (int(total[0]) if total else 0), found


def and_all(parts: list[sql.Composable]) -> sql.Composable:
    """The conditions joined by AND, each in parentheses: ``(a) AND (b)``."""
    return sql.SQL(" AND ").join(sql.SQL("({})").format(p) for p in parts)


# -- regions --------------------------------------------------------------------------------


class Region(BaseModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class RegionPage(PageInfo):
    items: list[Region]


@api.get("/api/v1/regions", query=Paged, response=RegionPage, tag="registers",
         summary="Regions of the token's area and below")  # fmt: skip
def regions(ctx: Ctx, q: Paged) -> RegionPage:
    """The administrative regions the token oversees (GB/T 2260 codes)."""
    rows = ctx.conn.execute(
        "WITH RECURSIVE r AS (SELECT id, code, name, level, parent_id FROM registry.region"
        " WHERE id = %s UNION ALL SELECT c.id, c.code, c.name, c.level, c.parent_id"
        " FROM registry.region c JOIN r ON c.parent_id = r.id)"
        " SELECT id, code, name, level, parent_id, (SELECT count(*) FROM r) FROM r"
        " ORDER BY code, id LIMIT %s OFFSET %s",
        (_top_region(ctx), q.per_page, q.offset),
    ).fetchall()
    keys = ("id", "code", "name", "level", "parent_id")
    return RegionPage(
        page=q.page,
        per_page=q.per_page,
        total=int(rows[0][5]) if rows else _past_end_total(ctx, q),
        items=[Region(**dict(zip(keys, r[:5], strict=True))) for r in rows],
    )


def _past_end_total(ctx: Ctx, q: Paged) -> int:
    """Regions in scope, for a page past the end (there is always the token's own region)."""
    if q.page == 1:
        return 0
    row = ctx.conn.execute(
        "WITH RECURSIVE r AS (SELECT id FROM registry.region WHERE id = %s UNION ALL"
        " SELECT c.id FROM registry.region c JOIN r ON c.parent_id = r.id)"
        " SELECT count(*) FROM r",
        (_top_region(ctx),),
    ).fetchone()
    return int(row[0]) if row else 0


def _top_region(ctx: Ctx) -> int | None:
    """The scope's region; for a user who sees every enterprise, the province (the root)."""
    if ctx.scope.region_id is not None:
        return ctx.scope.region_id
    if not ctx.scope.all_enterprises:
        return None
    row = ctx.conn.execute(
        "SELECT id FROM registry.region WHERE parent_id IS NULL ORDER BY code LIMIT 1"
    ).fetchone()
    return int(row[0]) if row else None


# -- enterprises ----------------------------------------------------------------------------


class EnterpriseQuery(Paged):
    q: Text | None = Field(None, description="Part of the enterprise name.")
    region: RegionCode | None = Field(
        None, description="Region code (GB/T 2260, six digits): that region and below."
    )
    major_hazard_level: int | None = Field(None, ge=1, le=4, description="1 = most severe.")


class Enterprise(BaseModel):
    id: int
    code: str | None
    name: str
    region_code: str
    region_name: str
    major_hazard_level: int | None
    alarms_24h: int = Field(description="Alarm activations in the last 24 hours.")
    last_data_at: datetime | None = Field(description="Newest process value in the last 24 h.")


class EnterprisePage(PageInfo):
    items: list[Enterprise]


_ENTERPRISE_COLS = sql.SQL(
    "e.id, e.code, e.name, r.code, r.name, e.major_hazard_level,"
    " (SELECT count(*) FROM alarm.event a JOIN registry.tag t ON t.id = a.tag_id"
    "   WHERE t.enterprise_id = e.id AND a.kind = 'ALM' AND a.time > now() - interval '1 day'),"
    " (SELECT max(s.time) FROM ts.sample s JOIN registry.tag t ON t.id = s.tag_id"
    "   WHERE t.enterprise_id = e.id AND s.time > now() - interval '1 day')"
)
_ENTERPRISE_KEYS = (
    "id", "code", "name", "region_code", "region_name", "major_hazard_level", "alarms_24h",
    "last_data_at",
)  # fmt: skip


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@api.get("/api/v1/enterprises", query=EnterpriseQuery, response=EnterprisePage,
         tag="enterprises", summary="Enterprises in scope with alarms and freshness")  # fmt: skip
def enterprises(ctx: Ctx, q: EnterpriseQuery) -> EnterprisePage:
    """Enterprises of the token's region and below, filtered, ordered by name."""
    where, args = scope_filter(ctx, "e.id", q.region)
    if q.q:
        where.append(sql.SQL("e.name ILIKE %s"))
        args.append(_like(q.q))
    if q.major_hazard_level is not None:
        where.append(sql.SQL("e.major_hazard_level = %s"))
        args.append(q.major_hazard_level)
    filt = and_all(where)
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*) FROM registry.enterprise e WHERE {}").format(filt),
        sql.SQL(
            "SELECT {} FROM registry.enterprise e JOIN registry.region r ON r.id = e.region_id"
            " WHERE {} ORDER BY e.name, e.id"
        ).format(_ENTERPRISE_COLS, filt),
        args,
    )
    return EnterprisePage(
        page=q.page,
        per_page=q.per_page,
        total=total,
        items=as_models(Enterprise, rows, _ENTERPRISE_KEYS),
    )


class NoQuery(QueryModel):
    pass


class Count(BaseModel):
    key: str
    count: int


class EnterpriseDetail(Enterprise):
    alarms_24h_by_category: list[Count]
    alarms_24h_by_priority: list[Count]
    tags: int


@api.get("/api/v1/enterprises/<int:enterprise_id>", query=NoQuery, response=EnterpriseDetail,
         tag="enterprises", summary="One enterprise in scope")  # fmt: skip
def enterprise(ctx: Ctx, q: NoQuery) -> EnterpriseDetail:
    """One enterprise with its last 24 h of alarm activations by category and priority.
    An enterprise outside the token's region answers 404, as if it did not exist."""
    ident = ctx.path["enterprise_id"]
    cond, params = ctx.scope.condition("e.id")
    row = ctx.conn.execute(
        sql.SQL(
            "SELECT {}, (SELECT count(*) FROM registry.tag t WHERE t.enterprise_id = e.id)"
            " FROM registry.enterprise e JOIN registry.region r ON r.id = e.region_id"
            " WHERE e.id = %s AND {}"
        ).format(_ENTERPRISE_COLS, cond),
        [ident, *params],
    ).fetchone()
    if row is None:
        raise ApiError(404, "not found", f"no enterprise {ident} in this token's region")

    def by(column: str) -> list[Count]:
        rows = ctx.conn.execute(
            sql.SQL(
                "SELECT coalesce(a.{}, 'unknown'), count(*) FROM alarm.event a"
                " JOIN registry.tag t ON t.id = a.tag_id WHERE t.enterprise_id = %s"
                " AND a.kind = 'ALM' AND a.time > now() - interval '1 day'"
                " GROUP BY 1 ORDER BY 2 DESC, 1"
            ).format(sql.Identifier(column)),
            (ident,),
        ).fetchall()
        return [Count(key=k, count=n) for k, n in rows]

    return EnterpriseDetail(
        **dict(zip(_ENTERPRISE_KEYS, row[:-1], strict=True)),
        tags=row[-1],
        alarms_24h_by_category=by("category"),
        alarms_24h_by_priority=by("priority"),
    )


# -- alarms ---------------------------------------------------------------------------------

Category = Literal["process", "equipment", "instrument", "safety"]
Priority = Literal["emergency", "high", "low", "journal"]
EventKind = Literal[
    "ALM", "ACK", "RTN", "SHELVE", "UNSHELVE", "SUPPRESS", "UNSUPPRESS", "OOS", "INS"
]


class AlarmQuery(Windowed):
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID, description="One enterprise.")
    category: Category | None = None
    priority: Priority | None = None
    kind: EventKind = Field("ALM", description="Event kind; ALM = annunciated activation.")


class AlarmEvent(BaseModel):
    time: datetime
    enterprise_id: int
    enterprise_name: str
    unit_code: str | None
    tag: str
    kind: str
    condition: str
    priority: str | None
    category: str | None
    limit_value: float | None
    value: float | None
    message: str | None


class AlarmPage(PageInfo):
    items: list[AlarmEvent]


def _alarm_filter(ctx: Ctx, q: AlarmQuery) -> tuple[sql.Composable, list[Any]]:
    cond, params = ctx.scope.condition("t.enterprise_id")
    where: list[sql.Composable] = [cond, sql.SQL("a.time >= %s AND a.time < %s AND a.kind = %s")]
    args: list[Any] = [*params, q.start, q.end, q.kind]
    for column, value in (
        ("enterprise_id", q.enterprise_id),
        ("category", q.category),
        ("priority", q.priority),
    ):
        if value is not None:
            table = "t" if column == "enterprise_id" else "a"
            where.append(sql.SQL("{} = %s").format(sql.Identifier(table, column)))
            args.append(value)
    return and_all(where), args


@api.get("/api/v1/alarms/events", query=AlarmQuery, response=AlarmPage, tag="alarms",
         summary="Alarm events in scope, newest first")  # fmt: skip
def alarm_events(ctx: Ctx, q: AlarmQuery) -> AlarmPage:
    """Alarm events of the window (default: the last 24 hours). Operator names are left out."""
    filt, args = _alarm_filter(ctx, q)
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL(
            "SELECT count(*) FROM alarm.event a JOIN registry.tag t ON t.id = a.tag_id WHERE {}"
        ).format(filt),
        sql.SQL(
            "SELECT a.time, e.id, e.name, u.code, t.name, a.kind, a.condition, a.priority,"
            " a.category, a.limit_value, a.value, a.message FROM alarm.event a"
            " JOIN registry.tag t ON t.id = a.tag_id"
            " JOIN registry.enterprise e ON e.id = t.enterprise_id"
            " LEFT JOIN registry.unit u ON u.id = t.unit_id"
            " WHERE {} ORDER BY a.time DESC, t.name"
        ).format(filt),
        args,
    )
    return AlarmPage(
        page=q.page, per_page=q.per_page, total=total, items=as_models(AlarmEvent, rows)
    )


class StatsQuery(Windowed):
    group_by: Literal["enterprise", "region", "category", "priority"] = "enterprise"
    category: Category | None = None
    priority: Priority | None = None
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID)
    kind: Literal["ALM"] = "ALM"


class Ranked(BaseModel):
    rank: int
    key: str
    name: str
    count: int


class AlarmStats(PageInfo):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: str
    alarms: int = Field(description="All alarm activations of the window in scope.")
    items: list[Ranked]


_GROUPS = {
    "enterprise": ("e.id::text", "e.name"),
    "region": ("r.code", "r.name"),
    "category": ("coalesce(a.category, 'unknown')", "coalesce(a.category, 'unknown')"),
    "priority": ("coalesce(a.priority, 'unknown')", "coalesce(a.priority, 'unknown')"),
}


@api.get("/api/v1/alarms/stats", query=StatsQuery, response=AlarmStats, tag="alarms",
         summary="Alarm counts ranked by enterprise, region, category, priority (R8)")  # fmt: skip
def alarm_stats(ctx: Ctx, q: StatsQuery) -> AlarmStats:
    """Alarm activations of the window counted per group, largest first (rank 1)."""
    filt, args = _alarm_filter(ctx, q)  # type: ignore[arg-type]  # same filter fields
    key, name = (sql.SQL(x) for x in _GROUPS[q.group_by])  # keys from code, not input
    groups = sql.SQL(
        "WITH g AS (SELECT {key} AS key, {name} AS name, count(*) AS n"
        " FROM alarm.event a JOIN registry.tag t ON t.id = a.tag_id"
        " JOIN registry.enterprise e ON e.id = t.enterprise_id"
        " JOIN registry.region r ON r.id = e.region_id"
        " WHERE {filt} GROUP BY 1, 2) "
    ).format(key=key, name=name, filt=filt)
    fields, alarms = ranking(ctx, groups, args, q, q.group_by)
    return AlarmStats(**fields, alarms=alarms)


def ranking(
    ctx: Ctx, groups: sql.Composable, args: list[Any], q: Windowed, group_by: str
) -> tuple[dict[str, Any], int]:
    """Page ``q`` of a ranking: ``groups`` is a ``WITH g AS (SELECT key, name, n ...)``
    prefix; largest ``n`` first (rank 1). Answers the page's fields (page, per_page, total
    groups, from, to, group_by, items) and the sum of ``n`` over all groups.

        fields, alarms = ranking(ctx, groups, args, q, q.group_by)
        return AlarmStats(**fields, alarms=alarms)
    """
    rows = ctx.conn.execute(
        groups + sql.SQL("SELECT key, name, n FROM g ORDER BY n DESC, name LIMIT %s OFFSET %s"),
        [*args, q.per_page, q.offset],
    ).fetchall()
    totals = ctx.conn.execute(
        groups + sql.SQL("SELECT coalesce(sum(n), 0), count(*) FROM g"), args
    ).fetchone()
    assert totals is not None
    fields = {
        "page": q.page,
        "per_page": q.per_page,
        "total": int(totals[1]),
        "from": q.start,
        "to": q.end,
        "group_by": group_by,
        "items": [
            Ranked(rank=q.offset + i + 1, key=str(r[0]), name=str(r[1]), count=int(r[2]))
            for i, r in enumerate(rows)
        ],
    }
    return fields, int(totals[0])


# -- freshness ------------------------------------------------------------------------------


class FreshnessQuery(Paged):
    within_minutes: int = Field(
        15, ge=1, le=1440, description="A tag is fresh if it reported within this."
    )


class Freshness(BaseModel):
    enterprise_id: int
    enterprise_name: str
    tags: int
    fresh_tags: int
    completeness_pct: float | None = Field(
        description="fresh_tags / tags × 100; null without tags."
    )
    last_data_at: datetime | None


class FreshnessPage(PageInfo):
    items: list[Freshness]


@api.get("/api/v1/freshness", query=FreshnessQuery, response=FreshnessPage, tag="enterprises",
         summary="Data completeness per enterprise")  # fmt: skip
def freshness(ctx: Ctx, q: FreshnessQuery) -> FreshnessPage:
    """For each enterprise in scope: its tags, how many reported recently, the newest value."""
    cond, params = ctx.scope.condition("e.id")
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*) FROM registry.enterprise e WHERE {}").format(cond),
        sql.SQL(
            "SELECT e.id, e.name, f.tags, f.fresh, f.last"
            " FROM registry.enterprise e CROSS JOIN LATERAL ("
            "  SELECT count(*) AS tags, count(*) FILTER (WHERE l.last IS NOT NULL) AS fresh,"
            "   max(l.last) AS last FROM registry.tag t LEFT JOIN LATERAL ("
            "    SELECT max(s.time) AS last FROM ts.sample s WHERE s.tag_id = t.id"
            "    AND s.time > now() - make_interval(mins => %s)) l ON TRUE"
            "  WHERE t.enterprise_id = e.id) f"
            " WHERE {} ORDER BY e.name, e.id"
        ).format(cond),
        params,
        [q.within_minutes, *params],
    )
    items = [
        Freshness(
            enterprise_id=r[0],
            enterprise_name=r[1],
            tags=r[2],
            fresh_tags=r[3],
            completeness_pct=round(100.0 * r[3] / r[2], 1) if r[2] else None,
            last_data_at=r[4],
        )
        for r in rows
    ]
    return FreshnessPage(page=q.page, per_page=q.per_page, total=total, items=items)
