"""Escalation policies (issue 6, A13): which alerts a policy takes (priorities, levels, label
matchers such as the parameter) and its tiers (operator → technical staff → management →
company leadership): minutes after firing, user groups, users, channels, business hours;
until acknowledged or resolved, repeat interval, business-hours calendar.

    /alerts/policies       list (everyone who may see alerts), editor (admins and engineers)
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import html

from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.alert_editor import ConfigEditor, code_and_name, code_is_free, new_form, stored_form
from dashboards.layout import forbidden, register_page
from workflows.alert_forms import (
    LEVELS,
    PRIORITIES,
    TIER_SLOTS,
    Errors,
    FieldError,
    matchers_text,
    policy_from_form,
    policy_to_form,
)

PATH = "/alerts/policies"
P = "pol"
USER_CHANNELS = ("inapp", "email", "sms")

i18n.register(
    {
        "pol.title": {"zh": "升级策略", "en": "Escalation policies"},
        "pol.empty": {"zh": "没有升级策略。", "en": "No escalation policies."},
        "pol.col.applies": {"zh": "适用", "en": "Applies to"},
        "pol.col.tiers": {"zh": "升级层级", "en": "Tiers"},
        "pol.col.until": {"zh": "停止条件", "en": "Until"},
        "pol.col.repeat": {"zh": "重复间隔", "en": "Repeat"},
        "pol.col.calendar": {"zh": "工作日历", "en": "Calendar"},
        "pol.all_alerts": {"zh": "全部告警", "en": "all alerts"},
        "pol.f.position": {"zh": "顺序（小者优先）", "en": "Position (lower first)"},
        "pol.f.priorities": {"zh": "优先级（空：全部）", "en": "Priorities (empty: all)"},
        "pol.f.levels": {"zh": "级别（空：全部）", "en": "Levels (empty: all)"},
        "pol.f.until": {"zh": "升级直到", "en": "Escalate until"},
        "pol.until.ack": {"zh": "确认", "en": "acknowledged"},
        "pol.until.resolve": {"zh": "恢复", "en": "resolved"},
        "pol.f.repeat_min": {"zh": "重复间隔（分钟，空：不重复）", "en": "Repeat (min, empty: no)"},
        "pol.f.calendar": {"zh": "工作日历", "en": "Business-hours calendar"},
        "pol.tier": {"zh": "第 {n} 层", "en": "Tier {n}"},
        "pol.tier.hint": {
            "zh": "未填写通知对象的层不保存。第 1 层通常为 0 分钟（立即）。",
            "en": "Tiers without anyone to notify are not saved. Tier 1 is usually 0 min.",
        },
        "pol.f.after_min": {"zh": "告警后（分钟）", "en": "After (min)"},
        "pol.f.groups": {"zh": "用户组", "en": "Groups"},
        "pol.f.users": {"zh": "人员", "en": "Users"},
        "pol.f.channels": {"zh": "通道（空：个人设置）", "en": "Channels (empty: preferences)"},
        "pol.f.when": {"zh": "时段", "en": "When"},
        "pol.when.always": {"zh": "始终", "en": "always"},
        "pol.when.business_hours": {"zh": "工作时间内", "en": "business hours"},
        "pol.when.outside_business_hours": {"zh": "工作时间外", "en": "outside business hours"},
        "pol.ch.inapp": {"zh": "站内通知", "en": "in-app"},
        "pol.ch.email": {"zh": "个人邮箱", "en": "e-mail (own address)"},
        "pol.ch.sms": {"zh": "个人短信", "en": "SMS (own phone)"},
        "pol.tier_text": {"zh": "L{n} {after:g} 分钟：{who}", "en": "L{n} {after:g} min: {who}"},
        "pol.minutes": {"zh": "{m:g} 分钟", "en": "{m:g} min"},
    }
)


def _names(conn: psycopg.Connection) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    groups = dict(conn.execute("SELECT id, name FROM workflow.user_group").fetchall())
    users = dict(
        conn.execute("SELECT id, coalesce(display_name, name) FROM auth.app_user").fetchall()
    )
    cals = dict(conn.execute("SELECT id, name FROM workflow.calendar").fetchall())
    return groups, users, cals


def tiers_text(tiers: list[dict[str, Any]], groups: dict[int, str], users: dict[int, str]) -> str:
    t = i18n.t
    parts = []
    for n, tier in enumerate(tiers, start=1):
        who = [groups.get(g, f"#{g}") for g in tier.get("groups", [])]
        who += [users.get(u, f"#{u}") for u in tier.get("users", [])]
        who += [t(f"pol.ch.{c}") if c in USER_CHANNELS else c for c in tier.get("channels") or []]
        when = tier.get("when", "always")
        text = t("pol.tier_text", n=n, after=tier["after_s"] / 60, who="、".join(who))
        parts.append(text + ("" if when == "always" else f" ({t(f'pol.when.{when}')})"))
    return "；".join(parts)


def list_view(user: auth.WebUser, _search: str) -> Any:
    t = i18n.t
    headers = [t("ac.code"), t("ac.name"), t("ac.enterprise"), t("pol.col.applies"),
               t("pol.col.tiers"), t("pol.col.until"), t("pol.col.repeat"),
               t("pol.col.calendar"), t("ac.enabled")]  # fmt: skip
    with auth.db_pool().connection() as conn:
        rows = ui.visible_rows(
            conn, user, "escalation_policy", "x.enterprise_id NULLS LAST, x.position, x.id"
        )
        groups, users, cals = _names(conn)

        def cells(r: dict[str, Any]) -> list[Any]:
            applies = [t(f"rules.priority.{p}") for p in r["priorities"]]
            applies += [t(f"alerts.level.{lv}") for lv in r["levels"]]
            applies += [matchers_text([m]) for m in r["matchers"]]
            return [
                r["code"],
                r["name"],
                r["enterprise"] or t("ac.instance"),
                "、".join(applies) or t("pol.all_alerts"),
                html.Span(tiers_text(r["tiers"], groups, users), id=f"pol-tiers-{r['code']}"),
                t(f"pol.until.{r['until']}"),
                t("pol.minutes", m=r["repeat_s"] / 60) if r["repeat_s"] else "-",
                cals.get(r["calendar_id"], "-") if r["calendar_id"] else "-",
                ui.yes_no(r["enabled"]),
            ]

        return editor.list_table(conn, user, rows, headers, cells, t("pol.empty"))


def _blank(_conn: psycopg.Connection, user: auth.WebUser) -> dict[str, Any]:
    form = new_form(user, policy_to_form)
    form["tiers.0.after_min"] = 0
    return form


def _known(conn: psycopg.Connection, user: auth.WebUser, form: dict[str, Any]) -> Errors:
    """Groups, users and calendars must be ones the user can see (no forged ids)."""
    ids = ui.visible_ids(conn, user)
    errors: Errors = {}
    groups = {o["value"] for o in ui.group_options(conn, ids)}
    people = {o["value"] for o in ui.user_options(conn, ids)}
    chans = {o["value"] for o in channel_options(conn)}
    for i in range(TIER_SLOTS):
        pre = f"tiers.{i}"
        for key, known in (("groups", groups), ("users", people), ("channels", chans)):
            if not set(form.get(f"{pre}.{key}") or []) <= known:
                errors[f"{pre}.{key}"] = FieldError("choice")
    cal = form.get("calendar_id")
    if cal not in (None, "") and int(cal) not in {o["value"] for o in calendar_options(conn, ids)}:
        errors["calendar_id"] = FieldError("choice")
    return errors


def parse(
    conn: psycopg.Connection, user: auth.WebUser, form: dict[str, Any], rid: int | None
) -> tuple[dict[str, Any] | None, Errors]:
    values, errors = policy_from_form(form)
    errors.update(_known(conn, user, form))
    if values is None or errors:
        return None, errors
    return code_is_free(conn, "escalation_policy", (values, errors), rid)


editor = ConfigEditor(
    prefix=P,
    table="escalation_policy",
    blank=_blank,
    load=lambda conn, rid: stored_form(conn, "escalation_policy", rid, policy_to_form),
    parse=parse,
    list_view=list_view,
    describe=code_and_name,
)


def channel_options(conn: psycopg.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT code, kind, name FROM workflow.channel WHERE enabled ORDER BY code"
    ).fetchall()
    opts = [{"label": i18n.t(f"pol.ch.{c}"), "value": c} for c in USER_CHANNELS]
    return opts + [
        {"label": f"{code} ({kind}{' · ' + name if name else ''})", "value": code}
        for code, kind, name in rows
    ]


def calendar_options(conn: psycopg.Connection, ids: list[int] | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT id, name FROM workflow.calendar
           WHERE %s::integer[] IS NULL OR enterprise_id IS NULL
              OR enterprise_id = ANY(%s::integer[]) ORDER BY name""",
        (ids, ids),
    ).fetchall()
    return [{"label": name, "value": cid} for cid, name in rows]


def _fields(conn: psycopg.Connection, user: auth.WebUser) -> list[Any]:
    t = i18n.t
    ids = ui.visible_ids(conn, user)
    groups = ui.group_options(conn, ids)
    people = ui.user_options(conn, ids)
    chans = channel_options(conn)
    num = {"type": "number"}
    fields: list[Any] = [
        *ui.identity_fields(P, conn, user),
        ui.field(P, "position", t("pol.f.position"), ui.text_input(P, "position", **num)),
        ui.field(P, "priorities", t("pol.f.priorities"),
                 ui.dropdown(P, "priorities", [{"label": t(f"rules.priority.{p}"), "value": p}
                                               for p in PRIORITIES], multi=True)),
        ui.field(P, "levels", t("pol.f.levels"),
                 ui.dropdown(P, "levels", [{"label": t(f"alerts.level.{lv}"), "value": lv}
                                           for lv in LEVELS], multi=True)),
        ui.field(P, "matchers", t("ac.matchers"), ui.text_input(P, "matchers"), wide=True),
        ui.field(P, "until", t("pol.f.until"),
                 ui.dropdown(P, "until", [{"label": t(f"pol.until.{u}"), "value": u}
                                          for u in ("ack", "resolve")], clearable=False)),
        ui.field(P, "repeat_min", t("pol.f.repeat_min"), ui.text_input(P, "repeat_min", **num)),
        ui.field(P, "calendar_id", t("pol.f.calendar"),
                 ui.dropdown(P, "calendar_id", calendar_options(conn, ids))),
        ui.field(P, "enabled", t("ac.enabled"), ui.checkbox(P, "enabled", t("ac.enabled"))),
    ]  # fmt: skip
    whens = [{"label": t(f"pol.when.{w}"), "value": w}
             for w in ("always", "business_hours", "outside_business_hours")]  # fmt: skip
    tiers = [html.P(t("pol.tier.hint"), className="hw-muted")]
    for i in range(TIER_SLOTS):
        pre = f"tiers.{i}"
        tiers.append(
            html.Div(
                className="af-tier",
                id=f"pol-tier-{i}",
                children=[
                    html.B(t("pol.tier", n=i + 1), className="af-tier-name"),
                    ui.field(
                        P,
                        f"{pre}.after_min",
                        t("pol.f.after_min"),
                        ui.text_input(P, f"{pre}.after_min", **num),
                    ),
                    ui.field(
                        P,
                        f"{pre}.groups",
                        t("pol.f.groups"),
                        ui.dropdown(P, f"{pre}.groups", groups, multi=True),
                    ),
                    ui.field(
                        P,
                        f"{pre}.users",
                        t("pol.f.users"),
                        ui.dropdown(P, f"{pre}.users", people, multi=True),
                    ),
                    ui.field(
                        P,
                        f"{pre}.channels",
                        t("pol.f.channels"),
                        ui.dropdown(P, f"{pre}.channels", chans, multi=True),
                    ),
                    ui.field(
                        P,
                        f"{pre}.when",
                        t("pol.f.when"),
                        ui.dropdown(P, f"{pre}.when", whens, clearable=False),
                    ),
                ],
            )
        )
    fields.append(html.Div(tiers, className="af-tiers af-wide"))
    return fields


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if not ui.can_view(user):
        return forbidden()
    editing = ui.may_edit_any(user)
    with auth.db_pool().connection() as conn:
        fields = _fields(conn, user) if editing else []
    return ui.config_page("pol.title", "policies", editing, editor.section(user, fields))


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "escalation policies", 7, layout, title="pol.title", nav=False)
    editor.register(app)
