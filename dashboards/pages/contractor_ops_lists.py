"""合格名录与黑名单 ``/contractors/lists`` (C19): the qualified-contractor list, the blacklist
of companies and persons, listing by enterprise staff, and the removal application after
re-education (approved under 待我审批 by the enterprise, kind ``contractor.blacklist_removal``).
A contractor sees and applies for its own company and its own people only.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractor_ops_common import (
    Viewer,
    company_options,
    field,
    ok,
    refused,
    viewer,
)
from hazwatch.errors import HazwatchError
from workflows.contractors import lists

PATH = "/contractors/lists"

i18n.register(
    {
        "nav.contractor_lists": {"zh": "合格名录与黑名单", "en": "Qualified list & blacklist"},
        "cbl.title": {"zh": "合格承包商名录与黑名单", "en": "Qualified contractors and blacklist"},
        "cbl.qualified": {"zh": "合格承包商名录", "en": "Qualified contractors"},
        "cbl.category": {"zh": "类别", "en": "Category"},
        "cbl.by": {"zh": "依据评价", "en": "By evaluation"},
        "cbl.blacklist": {"zh": "黑名单", "en": "Blacklist"},
        "cbl.kind": {"zh": "类型", "en": "Kind"},
        "cbl.kind.company": {"zh": "单位", "en": "company"},
        "cbl.kind.person": {"zh": "人员", "en": "person"},
        "cbl.id": {"zh": "身份证号", "en": "ID number"},
        "cbl.state": {"zh": "状态", "en": "State"},
        "cbl.state.active": {"zh": "在列", "en": "listed"},
        "cbl.state.pending": {"zh": "移除申请审批中", "en": "removal in approval"},
        "cbl.state.removed": {"zh": "已移出", "en": "removed"},
        "cbl.add": {"zh": "列入黑名单", "en": "Add to the blacklist"},
        "cbl.or_person": {"zh": "或人员编码", "en": "or person code"},
        "cbl.added": {"zh": "已列入黑名单（#{id}）", "en": "Listed (#{id})"},
        "cbl.remove": {"zh": "申请移出黑名单", "en": "Apply for removal"},
        "cbl.entry": {"zh": "黑名单条目", "en": "Entry"},
        "cbl.reeducation": {
            "zh": "再教育情况（课程、学时、考核结果）",
            "en": "Re-education done (course, hours, result)",
        },
        "cbl.applied": {
            "zh": "移除申请 #{id} 已提交，待企业核实确认",
            "en": "Removal application #{id} submitted for the enterprise to confirm",
        },
        "cbl.approval": {"zh": "审批单", "en": "Request"},
    }
)


def _state(r: dict[str, Any]) -> str:
    if r["removed_at"] is not None:
        return "removed"
    return "pending" if r["approval_state"] in ("pending", "returned") else "active"


def _tables(conn: Any, v: Viewer) -> tuple[html.Div, html.Div, list[dict[str, Any]]]:
    t = i18n.t
    q = lists.qualified_list(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
    qualified = table(
        [t("cop.company"), t("cbl.category"), t("cop.since"), t("cbl.by")],
        [(r["company"], r["category"], str(r["since"]),
          "" if r["total"] is None else f"{t('cev.stage.' + r['stage'])} {float(r['total']):g}")
         for r in q],
        "cbl-qualified", t("cop.none"),
    )  # fmt: skip
    b = lists.blacklist(conn, enterprise_ids=v.enterprise_ids, company_id=v.company_id)
    rows = []
    for r in b:
        link: Any = ""
        if r["approval_id"]:
            link = dcc.Link(
                f"#{r['approval_id']}", href="/approvals/mine" if v.contractor else "/approvals"
            )
        rows.append((r["id"], t(f"cbl.kind.{r['kind']}"), r["name"], r["person_code"] or "",
                     r["id_masked"] or "", r["reason"], str(r["since"]),
                     t(f"cbl.state.{_state(r)}"), link))  # fmt: skip
    blacklist = table(
        ["#", t("cbl.kind"), t("cop.name"), t("cop.person_code"), t("cbl.id"), t("cop.reason"),
         t("cop.since"), t("cbl.state"), t("cbl.approval")],
        rows, "cbl-blacklist", t("cop.none"),
    )  # fmt: skip
    open_entries = [
        {"label": f"#{r['id']} {r['name']}", "value": r["id"]} for r in b if _state(r) == "active"
    ]
    return qualified, blacklist, open_entries


def layout(**_query: Any) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        v = viewer(conn)
        if v is None:
            return forbidden()
        qualified, blacklist, entries = _tables(conn, v)
        companies = company_options(conn, v) if v.staff else []
    add = html.Div(
        className="hw-card",
        children=[
            html.H2(t("cbl.add")),
            field(t("cop.company"), dcc.Dropdown(id="cbl-company", options=companies)),
            field(t("cbl.or_person"), dcc.Input(id="cbl-person", className="hw-input",
                                                placeholder="P00000001")),
            field(t("cop.reason"), dcc.Input(id="cbl-reason", className="hw-input")),
            html.Button(t("cbl.add"), id="cbl-add", className="hw-btn", n_clicks=0),
            html.Div(id="cbl-add-msg"),
        ],
    )  # fmt: skip
    # Hidden, not left out: the callbacks name these inputs on every page view.
    add.hidden = not v.staff
    can_apply = v.staff or v.contractor
    remove = html.Div(
        className="hw-card",
        children=[
            html.H2(t("cbl.remove")),
            field(t("cbl.entry"), dcc.Dropdown(id="cbl-entry", options=entries,
                                                   value=entries[0]["value"] if entries else None)),
            field(t("cbl.reeducation"), dcc.Textarea(id="cbl-reedu", className="hw-input")),
            html.Button(t("cbl.remove"), id="cbl-apply", className="hw-btn", n_clicks=0),
            html.Div(id="cbl-apply-msg"),
        ],
    )  # fmt: skip
    remove.hidden = not can_apply
    return html.Div(
        [
            html.H1(t("cbl.title"), id="page-title"),
            html.H2(t("cbl.qualified")),
            html.Div(qualified, id="cbl-qualified-box"),
            html.H2(t("cbl.blacklist")),
            html.Div(blacklist, id="cbl-blacklist-box"),
            add,
            remove,
        ],
        className="cx-page",
    )


def _person_in_scope(conn: Any, v: Viewer, code: str) -> int:
    cond, params = v.user.scope.condition("c.enterprise_id")
    row = conn.execute(
        sql.SQL(
            "SELECT p.id FROM contractor.person p WHERE p.person_code = %s AND EXISTS ("
            " SELECT 1 FROM contractor.employment e JOIN contractor.company c"
            " ON c.id = e.company_id WHERE e.person_id = p.id AND {})"
        ).format(cond),
        (code.strip().upper(), *params),
    ).fetchone()
    if row is None:
        raise HazwatchError(f"{i18n.t('cop.person_code')} {code}: ?")
    return int(row[0])


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "contractor_lists", 64, layout)

    @app.callback(
        Output("cbl-add-msg", "children"),
        Output("cbl-blacklist-box", "children"),
        Output("cbl-qualified-box", "children"),
        Output("cbl-entry", "options"),
        Input("cbl-add", "n_clicks"),
        State("cbl-company", "value"),
        State("cbl-person", "value"),
        State("cbl-reason", "value"),
        prevent_initial_call=True,
    )
    def add(_n: int, company_id: int | None, code: str | None, reason: str | None) -> tuple:  # type: ignore[type-arg]
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not v.staff:
                raise dash.exceptions.PreventUpdate
            try:
                person_id = None
                if (code or "").strip():
                    person_id = _person_in_scope(conn, v, code or "")
                    company_id = None
                elif company_id not in {o["value"] for o in company_options(conn, v)}:
                    raise HazwatchError(i18n.t("cop.company"))
                entry_id = lists.add_to_blacklist(
                    conn, v.actor, reason=reason or "", company_id=company_id, person_id=person_id
                )
            except HazwatchError as exc:
                return refused(exc), dash.no_update, dash.no_update, dash.no_update
            qualified, blacklist, entries = _tables(conn, v)
            return ok(i18n.t("cbl.added", id=entry_id)), blacklist, qualified, entries  # fmt: skip

    @app.callback(
        Output("cbl-apply-msg", "children"),
        Output("cbl-blacklist-box", "children", allow_duplicate=True),
        Output("cbl-entry", "options", allow_duplicate=True),
        Input("cbl-apply", "n_clicks"),
        State("cbl-entry", "value"),
        State("cbl-reedu", "value"),
        prevent_initial_call=True,
    )
    def apply(_n: int, entry_id: int | None, text: str | None) -> tuple:  # type: ignore[type-arg]
        with auth.db_pool().connection() as conn:
            v = viewer(conn)
            if v is None or not (v.staff or v.contractor) or entry_id is None:
                raise dash.exceptions.PreventUpdate
            visible = {r["id"] for r in lists.blacklist(conn, enterprise_ids=v.enterprise_ids,
                                                         company_id=v.company_id)}  # fmt: skip
            if entry_id not in visible:
                raise dash.exceptions.PreventUpdate
            try:
                iid = lists.request_removal(conn, v.actor, entry_id, re_education=text or "",
                                            company_id=v.company_id)  # fmt: skip
            except HazwatchError as exc:
                return refused(exc), dash.no_update, dash.no_update
            _, blacklist, entries = _tables(conn, v)
            return ok(i18n.t("cbl.applied", id=iid)), blacklist, entries
