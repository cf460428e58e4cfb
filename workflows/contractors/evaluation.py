"""Contractor evaluation (C16-C18): templates with their items, rules and weights edited
online; evaluations at selection, execution (per cycle) and acceptance; automatic scores from
the records (incidents, violations, work violations, validity of qualifications and
certificates, attendance, positioning alarms, stop-work orders) plus manual scores for the
qualitative items, weighted into one result.

    eid = start_evaluation(conn, actor, template_id=1, company_id=3, project_id=5,
                           period_from=date(2026, 11, 1), period_to=date(2026, 11, 30))
    set_manual(conn, actor, eid, "training", 85, "培训记录齐全")
    result = finalise(conn, actor, eid)     # total, passed; the qualified list follows (C19)

Scoring (``auto_score``, ``weighted_total``; pure): every item scores 0-100. Count rules
deduct ``per`` points for each occurrence (incidents: ``per_level`` points by level); the
qualification rule deducts ``per_expired`` for each expired qualification or certificate and
gives ``if_none`` when there are none on file; attendance gives 100 × person-days /
``expected_person_days`` (at most 100). The result is Σ weightᵢ × scoreᵢ / Σ weightᵢ, rounded
to two decimals. An evaluation copies the items when it starts, so editing a template never
changes an evaluation under way or past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import REGISTERS, Actor, Register, RegisterError, acting
from workflows.contractors.archive import ContractorError, company

STAGES: Final = ("selection", "execution", "acceptance")
CYCLES: Final = ("once", "monthly", "quarterly", "yearly")
METRICS: Final = (
    "incidents", "violations", "work_violations", "qualification_validity", "attendance",
    "positioning_alarms", "stop_orders",
)  # fmt: skip
COUNT_METRICS: Final = ("violations", "work_violations", "positioning_alarms", "stop_orders")
INCIDENT_LEVELS: Final = ("near_miss", "minor", "ordinary", "serious", "major", "especially_major")

REGISTERS.update(
    {
        "contractor_eval_template": Register(
            "contractor", "eval_template",
            frozenset({"enterprise_id", "code", "name", "stage", "cycle", "pass_score",
                       "enabled"}),
        ),
        "contractor_eval_item": Register(
            "contractor", "eval_item",
            frozenset({"template_id", "code", "name", "source", "metric", "weight", "rule",
                       "guidance", "position"}),
        ),
        "contractor_evaluation": Register(
            "contractor", "evaluation",
            frozenset({"enterprise_id", "template_id", "company_id", "project_id", "stage",
                       "period_from", "period_to", "items", "pass_score", "status", "total",
                       "passed", "evaluator_id", "finalised_at"}),
        ),
        "contractor_eval_score": Register(
            "contractor", "eval_score",
            frozenset({"evaluation_id", "item_code", "source", "basis", "score", "comment",
                       "scored_by"}),
        ),
    }
)  # fmt: skip


# -- pure scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    source: str  # auto | manual
    weight: float
    metric: str | None = None
    rule: Mapping[str, Any] = field(default_factory=dict)
    guidance: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rule": dict(self.rule)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Item:
        return cls(
            str(data["code"]), str(data["name"]), str(data["source"]), float(data["weight"]),
            data.get("metric"), dict(data.get("rule") or {}), str(data.get("guidance") or ""),
        )  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """What the records say about a company (and project) over an evaluation period."""

    incidents: Mapping[str, int] = field(default_factory=dict)  # by level
    violations: int = 0
    work_violations: int = 0
    documents: int = 0  # qualifications and certificates on file
    expired_documents: int = 0  # of those, expired at the period's end
    attendance_days: int = 0  # person-days
    positioning_alarms: int = 0
    stop_orders: int = 0


def _num(rule: Mapping[str, Any], key: str, default: float) -> float:
    value = rule.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"rule {key}: a number, not {value!r}")
    return float(value)


def rule_problems(metric: str | None, rule: Mapping[str, Any]) -> list[str]:
    """Why a rule cannot be used (edited online, so checked before it is saved)."""
    if metric is None:
        return [] if not rule else ["a manual item has no rule"]
    if metric not in METRICS:
        return [f"metric {metric!r}: one of {', '.join(METRICS)}"]
    allowed = {
        "incidents": {"per_level"},
        "qualification_validity": {"per_expired", "if_none"},
        "attendance": {"expected_person_days"},
    }.get(metric, {"per"})
    problems = [f"rule key {k!r} is not used by {metric} (use {', '.join(sorted(allowed))})"
                for k in rule if k not in allowed]  # fmt: skip
    try:
        if metric == "incidents":
            levels = rule.get("per_level", {})
            if not isinstance(levels, Mapping):
                problems.append("per_level: an object of points by incident level")
            else:
                for k in levels:
                    if k not in INCIDENT_LEVELS:
                        problems.append(f"per_level: {k!r} is not a level ({INCIDENT_LEVELS})")
                    elif _num(levels, k, 0) < 0:
                        problems.append(f"per_level {k}: not negative")
        elif metric == "attendance":
            if _num(rule, "expected_person_days", 1) <= 0:
                problems.append("expected_person_days: more than 0")
        else:
            for k in allowed:
                if k in rule and not 0 <= _num(rule, k, 0) <= 100:
                    problems.append(f"{k}: between 0 and 100")
    except ValueError as exc:
        problems.append(str(exc))
    return problems


DEFAULT_INCIDENT_POINTS: Final = {
    "near_miss": 5, "minor": 20, "ordinary": 40, "serious": 100, "major": 100,
    "especially_major": 100,
}  # fmt: skip


def auto_score(item: Item, facts: Facts) -> tuple[float, dict[str, Any]]:
    """``(score 0-100, the basis)`` of an automatic item.

    >>> auto_score(Item("v", "违章", "auto", 10, "violations", {"per": 10}), Facts(violations=3))
    (70.0, {'count': 3, 'per': 10.0})
    """
    rule = item.rule
    metric = item.metric
    if metric == "incidents":
        points = {**DEFAULT_INCIDENT_POINTS, **dict(rule.get("per_level") or {})}
        counts = {k: int(v) for k, v in facts.incidents.items() if v}
        lost = sum(float(points.get(k, 0)) * n for k, n in counts.items())
        return max(0.0, 100.0 - lost), {"by_level": counts, "deducted": lost}
    if metric in COUNT_METRICS:
        n = int(getattr(facts, metric))
        per = _num(rule, "per", 10)
        return max(0.0, 100.0 - per * n), {"count": n, "per": per}
    if metric == "qualification_validity":
        if facts.documents == 0:
            return _num(rule, "if_none", 0), {"documents": 0}
        per = _num(rule, "per_expired", 25)
        score = max(0.0, 100.0 - per * facts.expired_documents)
        return score, {"documents": facts.documents, "expired": facts.expired_documents,
                       "per_expired": per}  # fmt: skip
    if metric == "attendance":
        expected = _num(rule, "expected_person_days", 20)
        score = min(100.0, 100.0 * facts.attendance_days / expected)
        return round(score, 2), {"person_days": facts.attendance_days, "expected": expected}
    raise ValueError(f"item {item.code}: no automatic metric {metric!r}")


def weighted_total(items: Sequence[Item], scores: Mapping[str, float]) -> float:
    """Σ weight × score / Σ weight over every item, two decimals; every item needs a score.

    >>> weighted_total([Item("a", "A", "manual", 3), Item("b", "B", "manual", 1)],
    ...                {"a": 80, "b": 40})
    70.0
    """
    missing = [i.code for i in items if i.code not in scores]
    if missing:
        raise ValueError(f"not scored yet: {', '.join(missing)}")
    weights = sum(Decimal(str(i.weight)) for i in items)
    if weights <= 0:
        raise ValueError("the items have no weight")
    s = sum(Decimal(str(i.weight)) * Decimal(str(scores[i.code])) for i in items)
    return float((s / weights).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def cycle_period(cycle: str, today: date) -> tuple[date, date] | None:
    """The last complete period of a cycle before ``today`` (None for ``once``).

    >>> cycle_period("monthly", date(2026, 12, 5))
    (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    """
    if cycle == "once":
        return None
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[cycle]
    index = today.year * 12 + today.month - 1
    end_index = index - (index % months)  # first month of the running period
    start_index = end_index - months
    start = date(start_index // 12, start_index % 12 + 1, 1)
    end = date(end_index // 12, end_index % 12 + 1, 1) - timedelta(days=1)
    return start, end


# -- templates (edited online) ------------------------------------------------------------------


def save_template(
    conn: psycopg.Connection,
    actor: Actor,
    values: Mapping[str, Any],
    *,
    template_id: int | None = None,
) -> int:
    data = {k: values[k] for k in ("enterprise_id", "code", "name", "stage", "cycle",
                                   "pass_score", "enabled") if k in values}  # fmt: skip
    if data.get("stage", "selection") not in STAGES:
        raise ContractorError(f"stage {data['stage']!r}: one of {', '.join(STAGES)}")
    if data.get("cycle", "once") not in CYCLES:
        raise ContractorError(f"cycle {data['cycle']!r}: one of {', '.join(CYCLES)}")
    try:
        if template_id is None:
            return registers.insert(conn, actor, "contractor_eval_template", data,
                                    reason="evaluation template")  # fmt: skip
        registers.update(conn, actor, "contractor_eval_template", template_id, data,
                         reason="evaluation template")  # fmt: skip
        return template_id
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def save_item(
    conn: psycopg.Connection,
    actor: Actor,
    template_id: int,
    values: Mapping[str, Any],
    *,
    item_id: int | None = None,
) -> int:
    """An item with its rule, checked (``rule_problems``) before it is stored."""
    source = values.get("source", "manual")
    metric = values.get("metric") or None
    rule = dict(values.get("rule") or {})
    if source not in ("auto", "manual"):
        raise ContractorError(f"source {source!r}: auto or manual")
    if (source == "auto") != (metric is not None):
        raise ContractorError("an automatic item needs a metric; a manual one none")
    problems = rule_problems(metric, rule)
    if problems:
        raise ContractorError("rule: " + "; ".join(problems))
    try:
        weight = float(values.get("weight", 0))
    except (TypeError, ValueError):
        raise ContractorError(f"weight {values.get('weight')!r}: a number") from None
    if weight <= 0:
        raise ContractorError("weight: more than 0")
    data = {"template_id": template_id, "code": str(values.get("code", "")).strip(),
            "name": str(values.get("name", "")).strip(), "source": source, "metric": metric,
            "weight": weight, "rule": Jsonb(rule),
            "guidance": (values.get("guidance") or "").strip() or None,
            "position": int(values.get("position", 0))}  # fmt: skip
    try:
        if item_id is None:
            return registers.insert(conn, actor, "contractor_eval_item", data,
                                    reason="evaluation rule")  # fmt: skip
        registers.update(conn, actor, "contractor_eval_item", item_id, data,
                         reason="evaluation rule")  # fmt: skip
        return item_id
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def delete_item(conn: psycopg.Connection, actor: Actor, item_id: int) -> None:
    try:
        registers.delete(conn, actor, "contractor_eval_item", item_id, reason="evaluation rule")
    except RegisterError as exc:
        raise ContractorError(str(exc)) from None


def templates(
    conn: psycopg.Connection, enterprise_ids: Sequence[int] | None
) -> list[dict[str, Any]]:
    """Templates visible to a host (its own and the presets)."""
    rows = conn.execute(
        """SELECT t.id, t.enterprise_id, t.code, t.name, t.stage, t.cycle, t.pass_score,
                  t.enabled, (SELECT count(*) FROM contractor.eval_item i
                              WHERE i.template_id = t.id)
           FROM contractor.eval_template t
           WHERE t.enterprise_id IS NULL OR %(ents)s::integer[] IS NULL
              OR t.enterprise_id = ANY(%(ents)s)
           ORDER BY t.enterprise_id NULLS FIRST, t.stage, t.code""",
        {"ents": enterprise_ids},
    ).fetchall()
    keys = ("id", "enterprise_id", "code", "name", "stage", "cycle", "pass_score", "enabled",
            "items")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def template_items(conn: psycopg.Connection, template_id: int) -> list[tuple[int, Item]]:
    rows = conn.execute(
        "SELECT id, code, name, source, weight, metric, rule, coalesce(guidance, '')"
        " FROM contractor.eval_item WHERE template_id = %s ORDER BY position, id",
        (template_id,),
    ).fetchall()
    return [(r[0], Item(r[1], r[2], r[3], float(r[4]), r[5], dict(r[6]), r[7])) for r in rows]


# -- evaluations -------------------------------------------------------------------------------


def gather_facts(
    conn: psycopg.Connection,
    company_id: int,
    project_id: int | None,
    period_from: date,
    period_to: date,
) -> Facts:
    """Count the records of the period (a project's only, when given)."""
    p = {"c": company_id, "p": project_id, "f": period_from, "t": period_to}
    incidents = dict(
        conn.execute(
            """SELECT level, count(*) FROM contractor.incident WHERE company_id = %(c)s
               AND (%(p)s::integer IS NULL OR project_id = %(p)s)
               AND occurred_at >= %(f)s AND occurred_at < %(t)s::date + 1 GROUP BY level""",
            p,
        ).fetchall()
    )
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE NOT is_work_violation),
                  count(*) FILTER (WHERE is_work_violation)
           FROM contractor.violation WHERE company_id = %(c)s
             AND (%(p)s::integer IS NULL OR project_id = %(p)s)
             AND occurred_at >= %(f)s AND occurred_at < %(t)s::date + 1""",
        p,
    ).fetchone()
    docs = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE expires_on < %(t)s) FROM (
               SELECT expires_on FROM contractor.qualification WHERE company_id = %(c)s
               UNION ALL
               SELECT x.expires_on FROM contractor.certificate x
               JOIN contractor.employment e ON e.person_id = x.person_id
               WHERE e.company_id = %(c)s AND e.status = 'active') d""",
        p,
    ).fetchone()
    other = conn.execute(
        """SELECT
             (SELECT count(*) FROM contractor.attendance WHERE company_id = %(c)s
                AND day BETWEEN %(f)s AND %(t)s),
             (SELECT count(*) FROM contractor.position_violation v
                JOIN contractor.positioning_tag g ON g.id = v.tag_id
                WHERE g.company_id = %(c)s AND (%(p)s::integer IS NULL OR g.project_id = %(p)s)
                  AND v.started_at >= %(f)s AND v.started_at < %(t)s::date + 1),
             (SELECT count(*) FROM contractor.stop_order WHERE company_id = %(c)s
                AND (%(p)s::integer IS NULL OR project_id = %(p)s)
                AND status IN ('in_force', 'resume_requested', 'resumed')
                AND ordered_at >= %(f)s AND ordered_at < %(t)s::date + 1)""",
        p,
    ).fetchone()
    assert row is not None and docs is not None and other is not None
    return Facts(
        incidents={k: int(v) for k, v in incidents.items()},
        violations=int(row[0]),
        work_violations=int(row[1]),
        documents=int(docs[0]),
        expired_documents=int(docs[1]),
        attendance_days=int(other[0]),
        positioning_alarms=int(other[1]),
        stop_orders=int(other[2]),
    )


def _evaluation(conn: psycopg.Connection, evaluation_id: int, lock: bool = False) -> dict[str, Any]:
    query = (
        "SELECT id, enterprise_id, company_id, project_id, stage, period_from, period_to, items,"
        " pass_score, status, total, passed, template_id FROM contractor.evaluation"
        " WHERE id = %s"
    )
    row = conn.execute(
        query + (" FOR UPDATE" if lock else ""),  # a fixed suffix from code
        (evaluation_id,),
    ).fetchone()
    if row is None:
        raise ContractorError(f"no evaluation #{evaluation_id}")
    keys = (
        "id",
        "enterprise_id",
        "company_id",
        "project_id",
        "stage",
        "period_from",
        "period_to",
        "items",
        "pass_score",
        "status",
        "total",
        "passed",
        "template_id",
    )
    ev = dict(zip(keys, row, strict=True))  # fmt: skip
    ev["items"] = [Item.from_json(i) for i in ev["items"]]
    return ev


def _store_auto(conn: psycopg.Connection, actor: Actor, ev: Mapping[str, Any]) -> None:
    facts = gather_facts(conn, ev["company_id"], ev["project_id"], ev["period_from"],
                         ev["period_to"])  # fmt: skip
    for item in ev["items"]:
        if item.source != "auto":
            continue
        score, basis = auto_score(item, facts)
        conn.execute(
            """INSERT INTO contractor.eval_score (evaluation_id, item_code, source, basis, score,
                   scored_by) VALUES (%s, %s, 'auto', %s, %s, %s)
               ON CONFLICT (evaluation_id, item_code) DO UPDATE SET basis = EXCLUDED.basis,
                   score = EXCLUDED.score, scored_by = EXCLUDED.scored_by""",
            (ev["id"], item.code, Jsonb(basis), score, actor.id),
        )


def start_evaluation(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    template_id: int,
    company_id: int,
    period_from: date,
    period_to: date,
    project_id: int | None = None,
) -> int:
    """A draft evaluation with the template's items copied and the automatic items scored."""
    comp = company(conn, company_id)
    trow = conn.execute(
        "SELECT enterprise_id, stage, pass_score, enabled, code FROM contractor.eval_template"
        " WHERE id = %s",
        (template_id,),
    ).fetchone()
    if trow is None or trow[0] not in (None, comp["enterprise_id"]):
        raise ContractorError(f"no evaluation template #{template_id} for this enterprise")
    if not trow[3]:
        raise ContractorError(f"template {trow[4]} is disabled")
    if period_from > period_to:
        raise ContractorError("period: the start must not lie after the end")
    items = [i for _, i in template_items(conn, template_id)]
    if not items:
        raise ContractorError(f"template {trow[4]} has no items")
    if project_id is not None:
        prow = conn.execute(
            "SELECT company_id FROM contractor.project WHERE id = %s", (project_id,)
        ).fetchone()
        if prow is None or prow[0] != company_id:
            raise ContractorError(f"project #{project_id} is not one of {comp['name']}")
    with acting(conn, actor, "evaluation"):
        try:
            eid = registers.insert(
                conn, actor, "contractor_evaluation",
                {"enterprise_id": comp["enterprise_id"], "template_id": template_id,
                 "company_id": company_id, "project_id": project_id, "stage": trow[1],
                 "period_from": period_from, "period_to": period_to,
                 "items": Jsonb([i.to_json() for i in items]), "pass_score": trow[2],
                 "evaluator_id": actor.id},
                reason="evaluation",
            )  # fmt: skip
        except RegisterError as exc:
            if "evaluation_period_idx" in str(exc):
                raise ContractorError(
                    f"{comp['name']} has an evaluation of this template for"
                    f" {period_from} – {period_to} already"
                ) from None
            raise ContractorError(str(exc)) from None
        _store_auto(conn, actor, _evaluation(conn, eid))
    return eid


def refresh_auto(conn: psycopg.Connection, actor: Actor, evaluation_id: int) -> None:
    """Score the automatic items again from today's records (drafts only)."""
    with acting(conn, actor, "evaluation: automatic scores"):
        ev = _evaluation(conn, evaluation_id, lock=True)
        if ev["status"] != "draft":
            raise ContractorError(f"evaluation #{evaluation_id} is final")
        _store_auto(conn, actor, ev)


def set_manual(
    conn: psycopg.Connection,
    actor: Actor,
    evaluation_id: int,
    item_code: str,
    score: float,
    comment: str | None = None,
) -> None:
    """A manual score (0-100) of a qualitative item."""
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
        raise ContractorError(f"score of {item_code}: a number from 0 to 100, not {score!r}")
    with acting(conn, actor, "evaluation: manual score"):
        ev = _evaluation(conn, evaluation_id, lock=True)
        if ev["status"] != "draft":
            raise ContractorError(f"evaluation #{evaluation_id} is final")
        item = next((i for i in ev["items"] if i.code == item_code), None)
        if item is None or item.source != "manual":
            raise ContractorError(f"evaluation #{evaluation_id} has no manual item {item_code}")
        conn.execute(
            """INSERT INTO contractor.eval_score (evaluation_id, item_code, source, score,
                   comment, scored_by) VALUES (%s, %s, 'manual', %s, %s, %s)
               ON CONFLICT (evaluation_id, item_code) DO UPDATE SET score = EXCLUDED.score,
                   comment = EXCLUDED.comment, scored_by = EXCLUDED.scored_by""",
            (evaluation_id, item_code, score, (comment or "").strip() or None, actor.id),
        )


def scores(conn: psycopg.Connection, evaluation_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT item_code, source, basis, score, comment FROM contractor.eval_score"
        " WHERE evaluation_id = %s",
        (evaluation_id,),
    ).fetchall()
    return {
        r[0]: {"source": r[1], "basis": r[2], "score": float(r[3]), "comment": r[4] or ""}
        for r in rows
    }


@dataclass(frozen=True)
class Result:
    total: float
    passed: bool
    pass_score: float


def finalise(conn: psycopg.Connection, actor: Actor, evaluation_id: int) -> Result:
    """Weigh the scores into the result; a pass at selection or acceptance puts the company
    on the qualified list, any failed evaluation takes it off (C19)."""
    from workflows.contractors import lists

    with acting(conn, actor, "evaluation: final"):
        ev = _evaluation(conn, evaluation_id, lock=True)
        if ev["status"] != "draft":
            raise ContractorError(f"evaluation #{evaluation_id} is final already")
        given = {k: v["score"] for k, v in scores(conn, evaluation_id).items()}
        try:
            total = weighted_total(ev["items"], given)
        except ValueError as exc:
            raise ContractorError(f"evaluation #{evaluation_id}: {exc}") from None
        passed = total >= float(ev["pass_score"])
        registers.update(
            conn, actor, "contractor_evaluation", evaluation_id,
            {"status": "final", "total": total, "passed": passed,
             "finalised_at": datetime.now(UTC), "evaluator_id": actor.id},
            reason="evaluation: final",
        )  # fmt: skip
        if passed and ev["stage"] in ("selection", "acceptance"):
            lists.enter_qualified(conn, actor, ev["company_id"], evaluation_id)
        elif not passed:
            lists.leave_qualified(
                conn, actor, ev["company_id"],
                f"evaluation #{evaluation_id} failed: {total:g} < {float(ev['pass_score']):g}",
            )  # fmt: skip
    return Result(total, passed, float(ev["pass_score"]))


def evaluations(
    conn: psycopg.Connection,
    *,
    enterprise_ids: Sequence[int] | None,
    company_id: int | None = None,
    limit: int = 300,
) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT v.id, c.name, pr.code, t.name, v.stage, v.period_from, v.period_to, v.status,
                  v.total, v.passed, v.pass_score, v.company_id
           FROM contractor.evaluation v
           JOIN contractor.company c ON c.id = v.company_id
           JOIN contractor.eval_template t ON t.id = v.template_id
           LEFT JOIN contractor.project pr ON pr.id = v.project_id
           WHERE (%(ents)s::integer[] IS NULL OR v.enterprise_id = ANY(%(ents)s))
             AND (%(company)s::integer IS NULL OR v.company_id = %(company)s)
           ORDER BY v.period_to DESC, v.id DESC LIMIT %(limit)s""",
        {"ents": enterprise_ids, "company": company_id, "limit": limit},
    ).fetchall()
    keys = ("id", "company", "project", "template", "stage", "period_from", "period_to",
            "status", "total", "passed", "pass_score", "company_id")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def open_due(conn: psycopg.Connection, actor: Actor, today: date | None = None) -> int:
    """The cycle job: a draft evaluation of the last complete period for every project in
    progress, per enabled periodic template of its host (C16, C18). Returns how many."""
    today = today or date.today()
    made = 0
    rows = conn.execute(
        """SELECT t.id, t.cycle, p.id, p.company_id
           FROM contractor.eval_template t
           JOIN contractor.project p
             ON (t.enterprise_id IS NULL OR p.enterprise_id = t.enterprise_id)
           WHERE t.enabled AND t.cycle <> 'once' AND t.stage = 'execution'
             AND p.status = 'in_progress'
             AND EXISTS (SELECT 1 FROM contractor.eval_item i WHERE i.template_id = t.id)
             -- a host's own template of the stage replaces the preset
             AND NOT (t.enterprise_id IS NULL AND EXISTS (
                 SELECT 1 FROM contractor.eval_template o WHERE o.enterprise_id = p.enterprise_id
                   AND o.stage = t.stage AND o.enabled AND o.cycle <> 'once'))""",
    ).fetchall()
    for template_id, cycle, project_id, company_id in rows:
        period = cycle_period(cycle, today)
        if period is None:
            continue
        exists = conn.execute(
            "SELECT 1 FROM contractor.evaluation WHERE template_id = %s AND company_id = %s"
            " AND project_id = %s AND period_from = %s AND period_to = %s",
            (template_id, company_id, project_id, *period),
        ).fetchone()
        if exists:
            continue
        start_evaluation(
            conn, actor, template_id=template_id, company_id=company_id,
            project_id=project_id, period_from=period[0], period_to=period[1],
        )  # fmt: skip
        made += 1
    return made
