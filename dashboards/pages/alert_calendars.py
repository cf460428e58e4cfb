"""Business-hours calendars and recurring mute times (issue 6, A13).

A calendar says when a policy's "business hours" tiers apply: working days and hours, public
holidays, and adjusted working days (调休: a weekend day worked instead of a holiday). A mute
time holds back notifications of matching alerts at recurring times (e.g. a weekly test).

    /alerts/calendars      both lists (everyone who may see alerts), editors (admins, engineers)
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import dcc, html

from dashboards import alert_ui as ui
from dashboards import auth, i18n
from dashboards.alert_editor import ConfigEditor, code_is_free, new_form, stored_form
from dashboards.layout import forbidden, register_page
from workflows.alert_forms import (
    MUTE_SLOTS,
    calendar_from_form,
    calendar_to_form,
    dates_text,
    matchers_text,
    mute_from_form,
    mute_to_form,
    ranges_text,
)

PATH = "/alerts/calendars"

i18n.register(
    {
        "cal.title": {"zh": "工作日历与屏蔽时段", "en": "Calendars and mute times"},
        "cal.calendars": {"zh": "工作日历", "en": "Business-hours calendars"},
        "cal.empty": {"zh": "没有工作日历。", "en": "No calendars."},
        "cal.f.working_days": {"zh": "工作日", "en": "Working days"},
        "cal.f.hours": {
            "zh": "工作时间（如 08:00-12:00, 13:30-17:30）",
            "en": "Working hours (e.g. 08:00-12:00, 13:30-17:30)",
        },
        "cal.f.holidays": {
            "zh": "节假日（YYYY-MM-DD，逗号分隔）",
            "en": "Holidays (YYYY-MM-DD, comma separated)",
        },
        "cal.f.extra_workdays": {
            "zh": "调休上班日（YYYY-MM-DD，逗号分隔）",
            "en": "Adjusted working days (YYYY-MM-DD)",
        },
        "cal.day.1": {"zh": "一", "en": "Mon"},
        "cal.day.2": {"zh": "二", "en": "Tue"},
        "cal.day.3": {"zh": "三", "en": "Wed"},
        "cal.day.4": {"zh": "四", "en": "Thu"},
        "cal.day.5": {"zh": "五", "en": "Fri"},
        "cal.day.6": {"zh": "六", "en": "Sat"},
        "cal.day.7": {"zh": "日", "en": "Sun"},
        "mute.title": {"zh": "屏蔽时段", "en": "Mute times"},
        "mute.empty": {"zh": "没有屏蔽时段。", "en": "No mute times."},
        "mute.interval": {"zh": "时间段 {n}", "en": "Interval {n}"},
        "mute.f.weekdays": {"zh": "星期", "en": "Weekdays"},
        "mute.f.times": {"zh": "时刻（如 00:00-08:00）", "en": "Times (e.g. 00:00-08:00)"},
        "mute.f.days_of_month": {"zh": "每月几号（如 1, 15）", "en": "Days of month"},
        "mute.f.months": {"zh": "月份（如 1, 7）", "en": "Months"},
        "mute.col.when": {"zh": "时间", "en": "When"},
        "mute.any": {"zh": "任意", "en": "any"},
    }
)


def _days(days: list[int]) -> str:
    return "、".join(i18n.t(f"cal.day.{d}") for d in days)


def _day_options() -> list[dict[str, str]]:
    return [{"label": i18n.t(f"cal.day.{d}"), "value": str(d)} for d in range(1, 8)]


# -- calendars --------------------------------------------------------------------------------


def calendar_list(user: auth.WebUser, _search: str) -> Any:
    t = i18n.t
    headers = [t("ac.code"), t("ac.name"), t("ac.enterprise"), t("cal.f.working_days"),
               t("cal.f.hours"), t("cal.f.holidays"), t("cal.f.extra_workdays")]  # fmt: skip

    def cells(r: dict[str, Any]) -> list[Any]:
        return [
            r["code"],
            r["name"],
            r["enterprise"] or t("ac.instance"),
            _days(r["working_days"]),
            ranges_text(r["hours"]),
            dates_text(r["holidays"]) or "-",
            dates_text(r["extra_workdays"]) or "-",
        ]

    with auth.db_pool().connection() as conn:
        rows = ui.visible_rows(conn, user, "calendar", "x.enterprise_id NULLS FIRST, x.code")
        return calendars.list_table(conn, user, rows, headers, cells, t("cal.empty"))


calendars = ConfigEditor(
    prefix="cal",
    table="calendar",
    blank=lambda _conn, user: new_form(user, calendar_to_form),
    load=lambda conn, rid: stored_form(conn, "calendar", rid, calendar_to_form),
    parse=lambda conn, _user, form, rid: code_is_free(
        conn, "calendar", calendar_from_form(form), rid
    ),
    list_view=calendar_list,
    toggle=False,
)


def _calendar_fields(conn: psycopg.Connection, user: auth.WebUser) -> list[Any]:
    t = i18n.t
    p = "cal"
    return [
        *ui.identity_fields(p, conn, user),
        ui.field(p, "timezone", t("ac.timezone"), ui.text_input(p, "timezone")),
        ui.field(p, "working_days", t("cal.f.working_days"),
                 dcc.Checklist(id=ui.fid(p, "working_days"), options=_day_options(),
                               inline=True, className="af-check")),
        ui.field(p, "hours", t("cal.f.hours"), ui.text_input(p, "hours"), wide=True),
        ui.field(p, "holidays", t("cal.f.holidays"), ui.text_input(p, "holidays"), wide=True),
        ui.field(p, "extra_workdays", t("cal.f.extra_workdays"),
                 ui.text_input(p, "extra_workdays"), wide=True),
    ]  # fmt: skip


# -- mute times -------------------------------------------------------------------------------


def _interval_text(iv: dict[str, Any]) -> str:
    t = i18n.t
    parts = []
    if iv.get("weekdays"):
        parts.append(_days(iv["weekdays"]))
    if iv.get("times"):
        parts.append(ranges_text(iv["times"]))
    if iv.get("days_of_month"):
        parts.append(t("mute.f.days_of_month") + " " + ",".join(map(str, iv["days_of_month"])))
    if iv.get("months"):
        parts.append(t("mute.f.months") + " " + ",".join(map(str, iv["months"])))
    return " ".join(parts) or t("mute.any")


def mute_list(user: auth.WebUser, _search: str) -> Any:
    t = i18n.t
    headers = [t("ac.code"), t("ac.name"), t("ac.enterprise"), t("mute.col.when"),
               t("ac.matchers"), t("ac.enabled")]  # fmt: skip

    def cells(r: dict[str, Any]) -> list[Any]:
        return [
            r["code"],
            r["name"],
            r["enterprise"] or t("ac.instance"),
            "；".join(_interval_text(iv) for iv in r["intervals"]) + f" ({r['timezone']})",
            matchers_text(r["matchers"]) or "-",
            ui.yes_no(r["enabled"]),
        ]

    with auth.db_pool().connection() as conn:
        rows = ui.visible_rows(conn, user, "mute_time", "x.enterprise_id NULLS FIRST, x.code")
        return mutes.list_table(conn, user, rows, headers, cells, t("mute.empty"))


mutes = ConfigEditor(
    prefix="mute",
    table="mute_time",
    blank=lambda _conn, user: new_form(user, mute_to_form),
    load=lambda conn, rid: stored_form(conn, "mute_time", rid, mute_to_form),
    parse=lambda conn, _user, form, rid: code_is_free(conn, "mute_time", mute_from_form(form), rid),
    list_view=mute_list,
)


def _mute_fields(conn: psycopg.Connection, user: auth.WebUser) -> list[Any]:
    t = i18n.t
    p = "mute"
    fields: list[Any] = [
        *ui.identity_fields(p, conn, user),
        ui.field(p, "timezone", t("ac.timezone"), ui.text_input(p, "timezone")),
        ui.field(p, "matchers", t("ac.matchers"), ui.text_input(p, "matchers"), wide=True),
        ui.field(p, "enabled", t("ac.enabled"), ui.checkbox(p, "enabled", t("ac.enabled"))),
    ]  # fmt: skip
    for i in range(MUTE_SLOTS):
        pre = f"intervals.{i}"
        fields.append(
            html.Div(
                className="af-tier af-wide",
                children=[
                    html.B(t("mute.interval", n=i + 1), className="af-tier-name"),
                    ui.field(
                        p,
                        f"{pre}.weekdays",
                        t("mute.f.weekdays"),
                        dcc.Checklist(
                            id=ui.fid(p, f"{pre}.weekdays"),
                            options=_day_options(),
                            inline=True,
                            className="af-check",
                        ),
                    ),
                    ui.field(
                        p, f"{pre}.times", t("mute.f.times"), ui.text_input(p, f"{pre}.times")
                    ),
                    ui.field(
                        p,
                        f"{pre}.days_of_month",
                        t("mute.f.days_of_month"),
                        ui.text_input(p, f"{pre}.days_of_month"),
                    ),
                    ui.field(
                        p, f"{pre}.months", t("mute.f.months"), ui.text_input(p, f"{pre}.months")
                    ),
                ],
            )
        )
    return fields


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if not ui.can_view(user):
        return forbidden()
    t = i18n.t
    editing = ui.may_edit_any(user)
    with auth.db_pool().connection() as conn:
        cal_fields = _calendar_fields(conn, user) if editing else []
        mute_fields = _mute_fields(conn, user) if editing else []
    return ui.config_page(
        "cal.title",
        "calendars",
        editing,
        [
            html.H2(t("cal.calendars")),
            *calendars.section(user, cal_fields),
            html.H2(t("mute.title")),
            *mutes.section(user, mute_fields),
        ],
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "calendars", 8, layout, title="cal.title", nav=False)
    calendars.register(app)
    mutes.register(app)
