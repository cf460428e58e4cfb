"""The alerting engine on the database: evaluate rules, keep alerts and their history, escalate
through policies, and let people acknowledge, assign and close.

    evaluate(conn, now=now)       # every enabled rule once, then escalations (scheduler job)
    escalate(conn, now=now)       # tiers and repeats of open alerts
    aid = raise_external_alert(conn, "pump", "P-101:vib", "alarm", {"equipment": "P-101"},
                               "泵P-101振动报警 7.9 mm/s")
    resolve_external_alert(conn, "pump", "P-101:vib")
    acknowledge(conn, aid, actor, "已通知现场检查")
    assign(conn, aid, actor, user_id)
    close(conn, aid, actor, "误报, 传感器松动")

Every function takes ``now`` so tests drive time; the scheduler passes the wall clock.
Notifications are enqueued in the same transaction as the state change that causes them
(``workflows.notify.enqueue``), so a crash never leaves one without the other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from workflows.alert_config import audit_action
from workflows.escalation import Policy, Progress, decide, repeat_tier
from workflows.notify import NotifyError, enqueue
from workflows.rules import RuleSpec, learn_baseline, observe
from workflows.silences import Calendar, MuteTime, Silence, parse_matchers, silenced
from workflows.states import RuleState, Timing, Transition, step

log = logging.getLogger("hazwatch.workflows.alerting")
TZ = ZoneInfo("Asia/Shanghai")
LEVEL_ZH = {"warning": "预警", "alarm": "报警", "danger": "危险"}
STATE_ZH = {
    "normal": "正常",
    "pending": "待定",
    "firing": "告警中",
    "resolved": "已恢复",
    "nodata": "无数据",
    "error": "错误",
}
OPEN = ("pending", "firing", "nodata", "error")


class AlertError(HazwatchError):
    """An alert action that cannot be done (unknown alert, already acknowledged, no comment)."""


@dataclass
class EvalReport:
    rules: int = 0
    transitions: int = 0
    errors: list[str] = field(default_factory=list)
    notified: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rules} rules, {self.transitions} transitions, {self.notified} notifications"
            + (f", {len(self.errors)} errors" if self.errors else "")
        )


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- rules ----------------------------------------------------------------------------------

SOURCES = {
    "raw": ("ts", "sample", "time"),
    "1m": ("ts", "sample_1m", "bucket"),
    "1h": ("ts", "sample_1h", "bucket"),
}


def fetch_points(
    conn: psycopg.Connection, spec: RuleSpec, tag_id: int, now: datetime
) -> list[tuple[datetime, float]]:
    """The rule's series from raw samples (good quality only) or a rollup column."""
    schema, table, tcol = SOURCES[spec.source]
    span = timedelta(seconds=max(spec.window_s, spec.nodata_s))
    column = "value" if spec.source == "raw" else spec.column
    quality = sql.SQL(" AND quality >= 192") if spec.source == "raw" else sql.SQL("")
    query = sql.SQL(
        "SELECT {t}, {c} FROM {s}.{tb} WHERE tag_id = %s AND {t} > %s AND {t} <= %s"
        " AND {c} IS NOT NULL{q} ORDER BY {t}"
    ).format(
        t=sql.Identifier(tcol),
        c=sql.Identifier(column),
        s=sql.Identifier(schema),
        tb=sql.Identifier(table),
        q=quality,
    )
    rows = conn.execute(query, (tag_id, now - span, now)).fetchall()
    return [(t, float(v)) for t, v in rows]


def fetch_baseline(
    conn: psycopg.Connection, spec: RuleSpec, tag_id: int, now: datetime
) -> float | None:
    """Median of hourly averages over ``baseline_s`` before the rule's window."""
    end = now - timedelta(seconds=spec.window_s)
    rows = conn.execute(
        "SELECT avg FROM ts.sample_1h WHERE tag_id = %s AND bucket > %s AND bucket <= %s"
        " AND avg IS NOT NULL",
        (tag_id, end - timedelta(seconds=spec.baseline_s), end),
    ).fetchall()
    return learn_baseline([float(r[0]) for r in rows], spec.baseline_min_points)


def rule_labels(conn: psycopg.Connection, rule: Mapping[str, Any]) -> dict[str, str]:
    """The rule's own labels plus where its tag sits: enterprise, unit, equipment, department."""
    row = conn.execute(
        """SELECT t.name, e.name, u.code, eq.code, d.name
           FROM registry.tag t JOIN registry.enterprise e ON e.id = t.enterprise_id
           LEFT JOIN registry.unit u ON u.id = t.unit_id
           LEFT JOIN registry.equipment eq ON eq.id = t.equipment_id
           LEFT JOIN registry.department d ON d.id = u.department_id
           WHERE t.id = %s""",
        (rule["tag_id"],),
    ).fetchone()
    auto: dict[str, str] = {"rule": rule["code"]}
    if row:
        for key, val in zip(
            ("parameter", "enterprise", "unit", "equipment", "department"), row, strict=True
        ):
            if val is not None:
                auto[key] = str(val)
    return {**auto, **{k: str(v) for k, v in (rule["labels"] or {}).items()}}


def evaluate(conn: psycopg.Connection, *, now: datetime | None = None) -> EvalReport:
    """Evaluate every enabled rule at ``now``, then run escalations. One transaction per rule."""
    now = _now(now)
    report = EvalReport()
    with conn.cursor(row_factory=dict_row) as cur:
        rules = cur.execute(
            "SELECT * FROM workflow.alert_rule WHERE enabled ORDER BY id"
        ).fetchall()
    for rule in rules:
        report.rules += 1
        try:
            with conn.transaction():
                report.transitions += evaluate_rule(conn, rule, now, report)
        except (HazwatchError, ValidationError, psycopg.DataError) as exc:
            report.errors.append(f"rule {rule['code']}: {exc}")
            log.error("rule %s: %s", rule["code"], exc)
    report.notified += escalate(conn, now=now)
    return report


def evaluate_rule(
    conn: psycopg.Connection, rule: Mapping[str, Any], now: datetime, report: EvalReport
) -> int:
    """One rule at ``now``: observe, step the state machine, record and notify transitions."""
    row = conn.execute(
        "SELECT detail, alert_id FROM workflow.rule_state WHERE rule_id = %s FOR UPDATE",
        (rule["id"],),
    ).fetchone()
    prev = RuleState.from_json(row[0]) if row else RuleState()
    alert_id = row[1] if row else None
    try:
        spec = RuleSpec.model_validate(rule["spec"])
    except ValidationError as exc:
        obs_error = f"invalid spec: {exc.errors()[0]['msg']}"
        spec = None
    else:
        obs_error = None
    if spec is None:
        from workflows.rules import Observation

        state, trans = step(prev, Observation(None, None, error=obs_error), now, Timing())
    else:
        points = fetch_points(conn, spec, rule["tag_id"], now)
        baseline = (
            fetch_baseline(conn, spec, rule["tag_id"], now) if spec.kind == "baseline" else None
        )
        obs = observe(spec, points, now, prev.level, baseline)
        timing = Timing(spec.pending_s, spec.keep_firing_s, spec.on_nodata)
        state, trans = step(prev, obs, now, timing)
    if trans:
        labels = rule_labels(conn, rule)
        alert_id = _apply(conn, rule, labels, alert_id, state, trans, now, report)
    conn.execute(
        """INSERT INTO workflow.rule_state (rule_id, state, detail, alert_id, evaluated_at)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, detail = excluded.detail,
               alert_id = excluded.alert_id, evaluated_at = excluded.evaluated_at""",
        (rule["id"], state.state, Jsonb(state.to_json()), alert_id, now),
    )
    return len(trans)


def _summary(rule: Mapping[str, Any], state: RuleState, labels: Mapping[str, str]) -> str:
    where = " / ".join(labels[k] for k in ("unit", "equipment") if k in labels)
    what = rule["name"] + (f" ({where})" if where else "")
    if state.state == "error":
        return f"{what}: {state.error}"
    if state.value is None:
        return what
    level = LEVEL_ZH.get(state.level or "", "")
    return f"{what}: {level} {state.value:.4g}".rstrip()


def _apply(
    conn: psycopg.Connection,
    rule: Mapping[str, Any],
    labels: dict[str, str],
    alert_id: int | None,
    state: RuleState,
    trans: Sequence[Transition],
    now: datetime,
    report: EvalReport,
) -> int | None:
    """Carry a rule's transitions onto its alert row (opening one when it leaves Normal)."""
    summary = _summary(rule, state, labels)
    if alert_id is not None:
        open_row = conn.execute(
            "SELECT state FROM workflow.alert WHERE id = %s AND closed_at IS NULL", (alert_id,)
        ).fetchone()
        if open_row is None or open_row[0] in ("resolved", "normal"):
            alert_id = None
    if alert_id is None:
        if state.state in ("normal", "resolved"):
            return None
        # An instance-wide rule (no enterprise) still alerts about one enterprise's tag:
        # filed under it, the alert is scoped and reported (and pushed up) as that plant's.
        enterprise_id = rule["enterprise_id"]
        if enterprise_id is None:
            row = conn.execute(
                "SELECT enterprise_id FROM registry.tag WHERE id = %s", (rule["tag_id"],)
            ).fetchone()
            enterprise_id = row[0] if row else None
        alert_id = _open_alert(
            conn, "rule", str(rule["id"]), enterprise_id, rule["priority"], labels,
            state.state, state.level, state.value, summary, now, rule_id=rule["id"],
        )  # fmt: skip
        for t in trans:
            _history(conn, alert_id, t.at, t.change, t.from_state, t.to_state, t.level, t.value)
            if t.to_state == "firing":
                _mark_fired(conn, alert_id, now)
        _after_transitions(conn, alert_id, trans, now, report)
        return alert_id
    for t in trans:
        _history(conn, alert_id, t.at, t.change, t.from_state, t.to_state, t.level, t.value)
    was_active = _was_active(conn, alert_id)
    new_state = state.state
    if new_state == "normal" and was_active:
        new_state = "resolved"  # back from NoData / Error: the incident is over
    conn.execute(
        """UPDATE workflow.alert SET state = %s, level = coalesce(%s, level), value = %s,
               summary = %s, labels = %s, updated_at = %s,
               resolved_at = CASE WHEN %s THEN %s ELSE resolved_at END,
               closed_at = CASE WHEN %s THEN %s ELSE closed_at END
           WHERE id = %s""",
        (
            new_state,
            state.level,
            state.value,
            summary,
            Jsonb(labels),
            now,
            new_state == "resolved",
            now,
            # Pending that never fired: nothing happened, the row closes by itself.
            new_state == "normal",
            now,
            alert_id,
        ),
    )
    if new_state != state.state:
        trans = [*trans[:-1], replace(trans[-1], to_state=new_state)]
    if any(t.to_state == "firing" and t.from_state != "firing" for t in trans):
        _mark_fired(conn, alert_id, now)
    _after_transitions(conn, alert_id, trans, now, report)
    return None if state.state in ("normal", "resolved") else alert_id


def _was_active(conn: psycopg.Connection, alert_id: int) -> bool:
    """Whether the alert ever fired or went NoData/Error (then Normal means resolved)."""
    row = conn.execute(
        "SELECT fired_at IS NOT NULL OR state IN ('nodata', 'error') FROM workflow.alert"
        " WHERE id = %s",
        (alert_id,),
    ).fetchone()
    return bool(row and row[0])


def _open_alert(
    conn: psycopg.Connection,
    source: str,
    key: str,
    enterprise_id: int | None,
    priority: str,
    labels: Mapping[str, str],
    state: str,
    level: str | None,
    value: float | None,
    summary: str,
    now: datetime,
    rule_id: int | None = None,
) -> int:
    row = conn.execute(
        """INSERT INTO workflow.alert (rule_id, source, key, enterprise_id, priority, labels,
               state, level, value, summary, started_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            rule_id, source, key, enterprise_id, priority, Jsonb(dict(labels)), state, level,
            value, summary, now, now,
        ),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def _mark_fired(conn: psycopg.Connection, alert_id: int, now: datetime) -> None:
    """Firing starts the escalation clock and picks the policy."""
    alert = _alert(conn, alert_id)
    policy_id = _policy_for(conn, alert)
    conn.execute(
        "UPDATE workflow.alert SET fired_at = coalesce(fired_at, %s), policy_id = %s WHERE id = %s",
        (now, policy_id, alert_id),
    )


def _history(
    conn: psycopg.Connection,
    alert_id: int,
    at: datetime,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    level: str | None = None,
    value: float | None = None,
    actor: Actor | None = None,
    comment: str | None = None,
) -> None:
    conn.execute(
        """INSERT INTO workflow.alert_history (alert_id, at, action, from_state, to_state, level,
               value, actor_id, actor, comment)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            alert_id, at, action, from_state, to_state, level, value,
            actor.id if actor else None, actor.name if actor else "system", comment,
        ),
    )  # fmt: skip


ALERT_BY_ID = "SELECT * FROM workflow.alert WHERE id = %s"
ALERT_FOR_UPDATE = "SELECT * FROM workflow.alert WHERE id = %s FOR UPDATE"


def _alert(conn: psycopg.Connection, alert_id: int, lock: bool = False) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        query = ALERT_FOR_UPDATE if lock else ALERT_BY_ID
        row = cur.execute(query, (alert_id,)).fetchone()
    if row is None:
        raise AlertError(f"no alert with id {alert_id}")
    return row


def _handled_here(alert: Mapping[str, Any], verb: str) -> None:
    """Alerts received from a lower level are handled at their enterprise; here they are a
    read-only copy that the next snapshot from below would overwrite."""
    if alert.get("origin_key") is not None:
        raise AlertError(
            f"alert {alert['id']} was received from a lower level: it is {verb} at its "
            "enterprise, here it is read-only"
        )


# --- policies, silences, notifications --------------------------------------------------------


def _policies(
    conn: psycopg.Connection, enterprise_id: int | None
) -> list[tuple[int, Policy, int | None]]:
    rows = conn.execute(
        """SELECT id, until, repeat_s, priorities, levels, matchers, tiers, calendar_id, code
           FROM workflow.escalation_policy
           WHERE enabled AND (enterprise_id IS NULL OR enterprise_id = %s)
           ORDER BY enterprise_id IS NULL, position, id""",
        (enterprise_id,),
    ).fetchall()
    out = []
    for pid, until, repeat_s, prios, levels, matchers, tiers, cal, code in rows:
        try:
            pol = Policy.model_validate(
                {"until": until, "repeat_s": repeat_s, "priorities": prios, "levels": levels,
                 "matchers": matchers, "tiers": tiers}
            )  # fmt: skip
        except ValidationError as exc:
            log.error("escalation policy %s is invalid and skipped: %s", code, exc)
            continue
        out.append((pid, pol, cal))
    return out


def _policy_for(conn: psycopg.Connection, alert: Mapping[str, Any]) -> int | None:
    for pid, pol, _ in _policies(conn, alert["enterprise_id"]):
        if pol.applies(alert["priority"], alert["level"], alert["labels"]):
            return pid
    return None


def _policy(conn: psycopg.Connection, policy_id: int) -> tuple[Policy, Calendar | None] | None:
    for pid, pol, cal_id in _policies_by_id(conn, policy_id):
        if pid == policy_id:
            return pol, _calendar(conn, cal_id)
    return None


def _policies_by_id(
    conn: psycopg.Connection, policy_id: int
) -> list[tuple[int, Policy, int | None]]:
    row = conn.execute(
        "SELECT enterprise_id FROM workflow.escalation_policy WHERE id = %s", (policy_id,)
    ).fetchone()
    return _policies(conn, row[0]) if row else []


def _calendar(conn: psycopg.Connection, calendar_id: int | None) -> Calendar | None:
    if calendar_id is None:
        return None
    row = conn.execute(
        "SELECT timezone, working_days, hours, holidays, extra_workdays FROM workflow.calendar"
        " WHERE id = %s",
        (calendar_id,),
    ).fetchone()
    if row is None:
        return None
    tz, days, hours, holidays, extra = row
    return Calendar(
        timezone=tz, working_days=days, hours=hours, holidays=holidays, extra_workdays=extra
    )


def is_silenced(
    conn: psycopg.Connection, enterprise_id: int | None, labels: Mapping[str, str], now: datetime
) -> bool:
    """Whether a silence or a mute time of the alert's enterprise (or instance-wide) mutes it."""
    sil = [
        Silence(sid, tuple(parse_matchers(m)), s, e)
        for sid, m, s, e in conn.execute(
            """SELECT id, matchers, starts_at, ends_at FROM workflow.silence
               WHERE starts_at <= %s AND ends_at > %s
                 AND (enterprise_id IS NULL OR enterprise_id = %s)""",
            (now, now, enterprise_id),
        ).fetchall()
    ]
    mutes = []
    for tz, intervals, matchers in conn.execute(
        """SELECT timezone, intervals, matchers FROM workflow.mute_time
           WHERE enabled AND (enterprise_id IS NULL OR enterprise_id = %s)""",
        (enterprise_id,),
    ).fetchall():
        try:
            mutes.append(
                MuteTime.model_validate(
                    {"timezone": tz, "intervals": intervals, "matchers": matchers}
                )
            )
        except ValidationError as exc:
            log.error("mute time skipped, invalid: %s", exc)
    return silenced(labels, sil, mutes, now)


def _message(alert: Mapping[str, Any], headline: str) -> tuple[str, str]:
    labels = alert["labels"] or {}
    started = alert["fired_at"] or alert["started_at"]
    lines = [
        alert["summary"],
        f"状态 / state: {STATE_ZH.get(alert['state'], alert['state'])}"
        + (f", {LEVEL_ZH.get(alert['level'], alert['level'])}" if alert["level"] else ""),
        f"开始 / since: {started.astimezone(TZ):%Y-%m-%d %H:%M:%S}",
    ]
    lines += [f"{k}: {v}" for k, v in sorted(labels.items())]
    subject = f"{headline} {alert['summary']}".strip()[:480]
    return subject, "\n".join(lines)


def _send_tier(
    conn: psycopg.Connection,
    alert: Mapping[str, Any],
    policy: Policy,
    tier: int,
    now: datetime,
    headline: str,
    severity: str,
    dedupe: str | None,
) -> int:
    t = policy.tiers[tier]
    subject, body = _message(alert, headline)
    try:
        ids = enqueue(
            conn,
            subject=subject,
            body=body,
            users=t.users,
            groups=t.groups,
            channels=t.channels,
            link=f"/alerts?id={alert['id']}",
            severity=severity,
            group_key=f"alert:{alert['id']}",
            dedupe_key=dedupe,
            now=now,
        )
    except NotifyError as exc:
        # An empty group must not stop escalation to the next tier: record and go on.
        _history(conn, alert["id"], now, "notify", comment=f"tier {tier + 1}: {exc}")
        return 0
    _history(conn, alert["id"], now, "notify", comment=f"tier {tier + 1}: {len(ids)} messages")
    return len(ids)


def _after_transitions(
    conn: psycopg.Connection,
    alert_id: int,
    trans: Sequence[Transition],
    now: datetime,
    report: EvalReport,
) -> None:
    """Notify what the transitions mean: a new level to the tiers reached, recovery to them,
    NoData / Error to the first tier. Firing itself is picked up by ``escalate``."""
    alert = _alert(conn, alert_id)
    for t in trans:
        report.notified += _notify_change(conn, alert, t.to_state, t.change, t.level, now)


def _notify_change(
    conn: psycopg.Connection,
    alert: Mapping[str, Any],
    to_state: str,
    change: str,
    level: str | None,
    now: datetime,
) -> int:
    reached = alert["tier"]
    if to_state in ("nodata", "error"):
        tiers, headline, severity = [0], f"[{STATE_ZH[to_state]}]", "warning"
    elif to_state == "resolved" and reached >= 0:
        tiers, headline, severity = list(range(reached + 1)), "[已恢复 / resolved]", "resolved"
    elif change == "level" and reached >= 0:
        tiers = list(range(reached + 1))
        headline = f"[{LEVEL_ZH.get(level or '', level)} / level {level}]"
        severity = level or "alarm"
    else:
        return 0
    policy_id = alert["policy_id"] or _policy_for(conn, alert)
    found = _policy(conn, policy_id) if policy_id else None
    if found is None:
        return 0
    policy, _ = found
    if is_silenced(conn, alert["enterprise_id"], alert["labels"], now):
        _history(conn, alert["id"], now, "silenced", to_state=to_state, comment=headline)
        return 0
    sent = 0
    for tier in tiers:
        if tier < len(policy.tiers):
            sent += _send_tier(conn, alert, policy, tier, now, headline, severity, None)
    return sent


def escalate(conn: psycopg.Connection, *, now: datetime | None = None) -> int:
    """Notify the tiers that open, firing alerts have reached; repeat where due."""
    now = _now(now)
    ids = [
        r[0]
        for r in conn.execute(
            """SELECT id FROM workflow.alert
               WHERE state = 'firing' AND closed_at IS NULL AND policy_id IS NOT NULL
                 AND origin_key IS NULL  -- received from below: notified at the origin
               ORDER BY id"""
        ).fetchall()
    ]
    sent = 0
    for alert_id in ids:
        with conn.transaction():
            sent += _escalate_one(conn, alert_id, now)
    return sent


def _escalate_one(conn: psycopg.Connection, alert_id: int, now: datetime) -> int:
    alert = _alert(conn, alert_id, lock=True)
    if alert["state"] != "firing" or alert["closed_at"] is not None:
        return 0
    found = _policy(conn, alert["policy_id"])
    if found is None:
        return 0
    policy, calendar = found
    in_hours = calendar.in_hours(now) if calendar else True
    progress = Progress(
        fired_at=alert["fired_at"] or alert["started_at"],
        tier=alert["tier"],
        notified_at=alert["notified_at"],
        acked=alert["acked_at"] is not None,
        resolved=False,
    )
    decision = decide(policy, progress, now, in_hours)
    if not decision.tiers and not decision.repeat:
        if decision.passed != alert["tier"]:
            conn.execute(
                "UPDATE workflow.alert SET tier = %s WHERE id = %s", (decision.passed, alert_id)
            )
        return 0
    if is_silenced(conn, alert["enterprise_id"], alert["labels"], now):
        return 0  # the tier stays where it is; escalation resumes when the silence ends
    severity = alert["level"] or "alarm"
    sent = 0
    for tier in decision.tiers:
        headline = f"[{LEVEL_ZH.get(severity, severity)}]" + (
            f"[升级 L{tier + 1} / escalated]" if tier > 0 else ""
        )
        _history(conn, alert_id, now, "escalate", level=alert["level"], comment=f"tier {tier + 1}")
        sent += _send_tier(
            conn, alert, policy, tier, now, headline, severity, f"alert:{alert_id}:tier:{tier}"
        )
    if decision.repeat:
        tier = repeat_tier(policy, progress, in_hours)
        if tier is not None:
            headline = f"[{LEVEL_ZH.get(severity, severity)}][重复 / repeat]"
            sent += _send_tier(conn, alert, policy, tier, now, headline, severity, None)
    conn.execute(
        "UPDATE workflow.alert SET tier = %s, notified_at = %s, updated_at = %s WHERE id = %s",
        (decision.passed, now, now, alert_id),
    )
    return sent


# --- external detectors ------------------------------------------------------------------------


def raise_external_alert(
    conn: psycopg.Connection,
    source: str,
    key: str,
    level: str,
    labels: Mapping[str, str],
    summary: str,
    *,
    value: float | None = None,
    priority: str = "high",
    enterprise_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Route a domain's own alarm (pump, video, process alarm) through states and escalation.

    Fires at once (the detector did its own debouncing); calling again for the same open
    ``source``/``key`` updates the level and summary (a new level notifies the tiers reached)
    and returns the same alert id. Tier 1 is notified by the next ``escalate`` run, or right
    here when the policy's first tier is immediate.
    """
    now = _now(now)
    if level not in LEVEL_ZH:
        raise AlertError(f"level {level!r} is not one of {', '.join(LEVEL_ZH)}")
    if priority not in ("emergency", "high", "low"):
        raise AlertError(f"priority {priority!r} is not emergency, high or low")
    if not key:
        raise AlertError("key is empty")
    clean = {str(k): str(v) for k, v in labels.items()}
    clean.setdefault("source", source)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"alert:{source}:{key}",))
        row = conn.execute(
            """SELECT id, level FROM workflow.alert WHERE source = %s AND key = %s
                 AND closed_at IS NULL AND state NOT IN ('resolved', 'normal') FOR UPDATE""",
            (source, key),
        ).fetchone()
        if row is None:
            try:
                alert_id = _open_alert(
                    conn, source, key, enterprise_id, priority, clean, "firing", level, value,
                    summary, now,
                )  # fmt: skip
            except psycopg.errors.CheckViolation as exc:
                raise AlertError(
                    f"alert {source}/{key} refused: {exc.diag.message_primary}"
                ) from exc
            _history(conn, alert_id, now, "transition", "normal", "firing", level, value)
            _mark_fired(conn, alert_id, now)
        else:
            alert_id, old_level = row
            conn.execute(
                "UPDATE workflow.alert SET level = %s, value = %s, summary = %s, labels = %s,"
                " updated_at = %s WHERE id = %s",
                (level, value, summary, Jsonb(clean), now, alert_id),
            )
            if old_level != level:
                _history(conn, alert_id, now, "level", "firing", "firing", level, value)
                _reroute(conn, alert_id)
                _notify_change(conn, _alert(conn, alert_id), "firing", "level", level, now)
        _escalate_one(conn, alert_id, now)
    return int(alert_id)


def _reroute(conn: psycopg.Connection, alert_id: int) -> None:
    """A new level may belong to another policy (pump alarms are routed by grade, P5): when
    the alert's policy no longer applies, take the one that does and start at its tier 1."""
    alert = _alert(conn, alert_id)
    current = _policy(conn, alert["policy_id"]) if alert["policy_id"] else None
    if current is not None and current[0].applies(
        alert["priority"], alert["level"], alert["labels"]
    ):
        return
    policy_id = _policy_for(conn, alert)
    if policy_id != alert["policy_id"]:
        conn.execute(
            "UPDATE workflow.alert SET policy_id = %s, tier = -1, notified_at = NULL WHERE id = %s",
            (policy_id, alert_id),
        )


def resolve_external_alert(
    conn: psycopg.Connection,
    source: str,
    key: str,
    *,
    summary: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Resolve the open alert of ``source``/``key`` (notifying the tiers reached); its id, or
    None when none was open."""
    now = _now(now)
    with conn.transaction():
        row = conn.execute(
            """SELECT id FROM workflow.alert WHERE source = %s AND key = %s
                 AND closed_at IS NULL AND state NOT IN ('resolved', 'normal') FOR UPDATE""",
            (source, key),
        ).fetchone()
        if row is None:
            return None
        alert_id = int(row[0])
        _resolve(conn, alert_id, now, summary)
    return alert_id


def _resolve(conn: psycopg.Connection, alert_id: int, now: datetime, summary: str | None) -> None:
    before = _alert(conn, alert_id)
    conn.execute(
        "UPDATE workflow.alert SET state = 'resolved', resolved_at = %s, updated_at = %s,"
        " summary = coalesce(%s, summary) WHERE id = %s",
        (now, now, summary, alert_id),
    )
    _history(conn, alert_id, now, "transition", before["state"], "resolved", None, before["value"])
    _notify_change(conn, _alert(conn, alert_id), "resolved", "transition", None, now)


# --- people's actions ---------------------------------------------------------------------------


def acknowledge(
    conn: psycopg.Connection,
    alert_id: int,
    actor: Actor,
    comment: str,
    *,
    now: datetime | None = None,
) -> None:
    """Acknowledge with a comment (required): stops escalation of ``until = ack`` policies."""
    now = _now(now)
    if not comment or not comment.strip():
        raise AlertError("acknowledging needs a comment (what was done or who is on it)")
    with conn.transaction():
        alert = _alert(conn, alert_id, lock=True)
        _handled_here(alert, "acknowledged")
        if alert["acked_at"] is not None:
            raise AlertError(
                f"alert {alert_id} was already acknowledged at "
                f"{alert['acked_at'].astimezone(TZ):%Y-%m-%d %H:%M}"
            )
        conn.execute(
            "UPDATE workflow.alert SET acked_at = %s, acked_by = %s, ack_comment = %s,"
            " updated_at = %s WHERE id = %s",
            (now, actor.id, comment.strip(), now, alert_id),
        )
        _history(conn, alert_id, now, "ack", actor=actor, comment=comment.strip())
        audit_action(conn, actor, "ack", "workflow.alert", alert_id, {"comment": comment})


def assign(
    conn: psycopg.Connection,
    alert_id: int,
    actor: Actor,
    user_id: int,
    comment: str | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Assign the alert to a user, who is told in-app (and by their preferred channels)."""
    now = _now(now)
    with conn.transaction():
        alert = _alert(conn, alert_id, lock=True)
        _handled_here(alert, "assigned")
        user = conn.execute(
            "SELECT name FROM auth.app_user WHERE id = %s AND active", (user_id,)
        ).fetchone()
        if user is None:
            raise AlertError(f"no active user with id {user_id}")
        conn.execute(
            "UPDATE workflow.alert SET assigned_to = %s, updated_at = %s WHERE id = %s",
            (user_id, now, alert_id),
        )
        _history(conn, alert_id, now, "assign", actor=actor, comment=f"→ {user[0]} {comment or ''}")
        audit_action(
            conn, actor, "assign", "workflow.alert", alert_id, {"assigned_to": user_id}, comment
        )
        subject, body = _message(alert, "[指派给您 / assigned to you]")
        enqueue(conn, subject=subject, body=body, users=[user_id], link=f"/alerts?id={alert_id}",
                severity=alert["level"] or "info", now=now)  # fmt: skip


def close(
    conn: psycopg.Connection,
    alert_id: int,
    actor: Actor,
    comment: str,
    *,
    now: datetime | None = None,
) -> None:
    """Close an alert (with a comment): it leaves the open list and escalation stops."""
    now = _now(now)
    if not comment or not comment.strip():
        raise AlertError("closing needs a comment (the cause or why it is closed)")
    with conn.transaction():
        alert = _alert(conn, alert_id, lock=True)
        _handled_here(alert, "closed")
        if alert["closed_at"] is not None:
            raise AlertError(f"alert {alert_id} is already closed")
        conn.execute(
            "UPDATE workflow.alert SET closed_at = %s, closed_by = %s, updated_at = %s"
            " WHERE id = %s",
            (now, actor.id, now, alert_id),
        )
        _history(conn, alert_id, now, "close", alert["state"], alert["state"], actor=actor,
                 comment=comment.strip())  # fmt: skip
        audit_action(conn, actor, "close", "workflow.alert", alert_id, {"comment": comment})


def history(conn: psycopg.Connection, alert_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM workflow.alert_history WHERE alert_id = %s ORDER BY at, id",
            (alert_id,),
        ).fetchall()


def list_alerts(
    conn: psycopg.Connection,
    *,
    open_only: bool = True,
    enterprise_ids: Sequence[int] | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Alerts newest first; ``enterprise_ids`` limits to a user's scope (None: all)."""
    scoped = None if enterprise_ids is None else list(enterprise_ids)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT a.*, u.name AS acked_by_name, v.name AS assigned_to_name
               FROM workflow.alert a
               LEFT JOIN auth.app_user u ON u.id = a.acked_by
               LEFT JOIN auth.app_user v ON v.id = a.assigned_to
               WHERE (NOT %s OR (a.closed_at IS NULL AND a.state <> 'normal'))
                 AND (%s::integer[] IS NULL OR a.enterprise_id = ANY(%s::integer[]))
               ORDER BY a.started_at DESC, a.id DESC LIMIT %s""",
            (open_only, scoped, scoped, limit),
        ).fetchall()
