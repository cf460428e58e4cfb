"""Contractor summaries for regulators (C20, R8): per enterprise and local day the counts of its
contractor management, as the enterprises pushed them up (``contractor.daily_summary``,
workflows/contractors/summary_feed.py). Counts and company-level facts only: no personal data
of contractor workers ever reaches this level.

    GET /api/v1/contractors/summary?from=2026-11-01&to=2026-11-07&region=140100&page=1

Restricted to the token's region in SQL like every endpoint of ``dashboards.api.regulator``
(an enterprise of another city is neither listed nor counted); pages call the handler with
the signed-in user's scope: ``contractor_summary(Ctx(conn, None, user.scope), SummaryQuery())``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from psycopg import sql
from pydantic import BaseModel, Field, create_model, model_validator

from dashboards.api.regulator import (
    Paged,
    PageInfo,
    RegionCode,
    and_all,
    api,
    fetch_page,
    scope_filter,
)
from dashboards.api.spec import MAX_ID, Ctx
from workflows.contractors.summary_feed import AVERAGE, BREAKDOWNS, FIGURES, TZ

MIN_DAY: Final = date(2000, 1, 1)
MAX_DAY: Final = date(2100, 12, 31)
MAX_DAYS: Final = 366
DEFAULT_DAYS: Final = 7


class SummaryQuery(Paged):
    start: date | None = Field(
        None,
        alias="from",
        description="First local day (Asia/Shanghai), YYYY-MM-DD (default: 'to' − 6 days).",
    )
    end: date | None = Field(
        None, alias="to", description="Last local day, inclusive, YYYY-MM-DD (default: today)."
    )
    region: RegionCode | None = Field(
        None, description="Region code (GB/T 2260, six digits): that region and below."
    )
    enterprise_id: int | None = Field(None, ge=1, le=MAX_ID, description="One enterprise.")
    final_only: bool = Field(
        False, description="Only days that have ended (final summaries), no running ones."
    )
    companies: bool = Field(False, description="Include the per-company figures.")

    @model_validator(mode="after")
    def _days(self) -> SummaryQuery:
        for day in (self.start, self.end):
            # Checked before any arithmetic: date.min - 6 days would overflow.
            if day is not None and not MIN_DAY <= day <= MAX_DAY:
                raise ValueError(f"days lie between {MIN_DAY} and {MAX_DAY}, not {day}")
        end = self.end or datetime.now(TZ).date()
        start = self.start or max(MIN_DAY, end - timedelta(days=DEFAULT_DAYS - 1))
        if start > end:
            raise ValueError("'from' must not be after 'to'")
        if (end - start).days >= MAX_DAYS:
            raise ValueError(f"the range may span at most {MAX_DAYS} days")
        self.start, self.end = start, end
        return self


class CompanyFigures(BaseModel):
    credit_code: str = Field(description="统一社会信用代码 (GB 32100).")
    name: str
    category: str
    status: str = Field(description="active, suspended or exited.")
    qualified: bool = Field(description="On the qualified-contractor list at the end of the day.")
    blacklisted: bool = Field(description="On the blacklist at the end of the day.")
    qualification_expired: bool = Field(description="Has a qualification expired before the day.")
    workers_on_file: int
    gate_entries: int
    violations: int
    incidents: int
    stop_orders_issued: int
    permits_active_at_day_end: int


def _figure_description(name: str) -> str:
    f = FIGURES[name]
    when = "at the end of the day (running day: now)" if f.kind == "state" else "during the day"
    return f"{f.en} ({f.zh}), {when}."


#: One enterprise-day; the figures' fields come from summary_feed.FIGURES (one list of names
#: for the table, the feed, this API and the page).
ContractorDay: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ContractorDay",
    __doc__="Contractor figures of one enterprise and local day.",
    enterprise_id=(int, ...),
    enterprise_code=(str | None, ...),
    enterprise_name=(str, ...),
    region_code=(str, ...),
    region_name=(str, ...),
    day=(date, Field(description="Local day (Asia/Shanghai).")),
    final=(bool, Field(description="The day has ended; false: a running summary.")),
    revision=(int, Field(description="Raised at every re-computation by the enterprise.")),
    computed_at=(datetime, Field(description="When the enterprise computed it.")),
    **{n: (int, Field(description=_figure_description(n))) for n in FIGURES},
    **{
        AVERAGE: (float | None, Field(description="Average score of the evaluations completed.")),
        "exam_pass_rate_pct": (
            float | None,
            Field(description="exams_passed / exams_taken × 100; null without exams."),
        ),
        "breakdown": (
            dict[str, dict[str, int]],
            Field(description="Counts per category code: " + ", ".join(BREAKDOWNS) + "."),
        ),
        "companies": (
            list[CompanyFigures] | None,
            Field(description="Per contractor company (only with companies=true)."),
        ),
    },
)


class ContractorSummaryPage(PageInfo):
    items: list[ContractorDay]  # type: ignore[valid-type]


_SELECT: Final = sql.SQL(", ").join(
    [
        sql.SQL(
            "s.enterprise_id, e.code, e.name, r.code, r.name, s.day, s.final, s.revision,"
            " s.computed_at"
        ),
        *(sql.SQL("s.{}").format(sql.Identifier(n)) for n in (*FIGURES, AVERAGE)),
        sql.SQL("s.breakdown"),
    ]
)
_KEYS: Final = (
    "enterprise_id", "enterprise_code", "enterprise_name", "region_code", "region_name", "day",
    "final", "revision", "computed_at", *FIGURES, AVERAGE, "breakdown",
)  # fmt: skip


def _filter(ctx: Ctx, q: SummaryQuery) -> tuple[sql.Composable, list[Any]]:
    where, args = scope_filter(ctx, "e.id", q.region)
    where.append(sql.SQL("s.day BETWEEN %s AND %s"))
    args += [q.start, q.end]
    if q.enterprise_id is not None:
        where.append(sql.SQL("s.enterprise_id = %s"))
        args.append(q.enterprise_id)
    if q.final_only:
        where.append(sql.SQL("s.final"))
    return and_all(where), args


def item(row: dict[str, Any], companies: list[dict[str, Any]] | None) -> BaseModel:
    taken, passed = row["exams_taken"], row["exams_passed"]
    avg = row[AVERAGE]
    return ContractorDay(
        **{**row, AVERAGE: None if avg is None else float(avg)},
        exam_pass_rate_pct=round(100.0 * passed / taken, 1) if taken else None,
        companies=companies,
    )


@api.get("/api/v1/contractors/summary", query=SummaryQuery, response=ContractorSummaryPage,
         tag="contractors",
         summary="Contractor figures per enterprise and day (counts only, no personal data)",
         )  # fmt: skip
def contractor_summary(ctx: Ctx, q: SummaryQuery) -> ContractorSummaryPage:
    """Daily contractor summaries of the enterprises in scope, newest day first: companies,
    workers, entries, training and exams, work permits, stop-work orders, violations,
    incidents, hazards and evaluations. A running day (today) is marked ``final: false``."""
    filt, args = _filter(ctx, q)
    base = sql.SQL(
        " FROM contractor.daily_summary s JOIN registry.enterprise e ON e.id = s.enterprise_id"
        " JOIN registry.region r ON r.id = e.region_id WHERE {}"
    ).format(filt)
    extra = sql.SQL(", s.companies") if q.companies else sql.SQL("")
    total, rows = fetch_page(
        ctx,
        q,
        sql.SQL("SELECT count(*)") + base,
        sql.SQL("SELECT {}{}").format(_SELECT, extra)
        + base
        + sql.SQL(" ORDER BY s.day DESC, e.name, e.id"),
        args,
    )
    n = len(_KEYS)
    items = [
        item(dict(zip(_KEYS, r[:n], strict=True)), r[n] if q.companies else None) for r in rows
    ]
    return ContractorSummaryPage(page=q.page, per_page=q.per_page, total=total, items=items)
