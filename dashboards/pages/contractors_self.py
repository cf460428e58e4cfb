"""我的单位 (C8, C9): a contractor account registers its people, their certificates and its
tools, applies for entry and follows each application (exam due, returned, in approval,
approved with its card); existing people, tools and certificates are changed (and scans
uploaded) on the archive screens it links to (``/contractors/archive``).
Enterprise staff see the applications of their scope here, read-only.

Every write goes through ``workflows.contractors`` with the account's own company: an id of
another company sent by a forged request is refused there.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import auth, i18n
from dashboards.layout import forbidden, register_page
from dashboards.pages.contractors_common import (
    EQUIPMENT_KINDS,
    PERSON_TYPES,
    contractor,
    parse_date,
)
from hazwatch.errors import HazwatchError
from workflows.contractors import archive, entry
from workflows.contractors.archive import PersonInput

PATH = "/contractors/my"

i18n.register(
    {
        "nav.contractors_my": {"zh": "承包商入厂", "en": "Contractor entry"},
        "cx.my.title": {
            "zh": "承包商自助：人员、工器具与入厂申请",
            "en": "Contractor self-service",
        },
        "cx.people": {"zh": "本单位人员", "en": "Our people"},
        "cx.p.name": {"zh": "姓名", "en": "Name"},
        "cx.p.id": {"zh": "身份证号", "en": "ID-card number"},
        "cx.p.type": {"zh": "人员类型", "en": "Type"},
        "cx.p.phone": {"zh": "联系电话", "en": "Phone"},
        "cx.p.ins": {"zh": "保险有效期至", "en": "Insured until"},
        "cx.p.med": {"zh": "体检日期", "en": "Medical check on"},
        "cx.p.code": {"zh": "人员编码", "en": "Person code"},
        "cx.p.certs": {"zh": "证书", "en": "Certificates"},
        "cx.p.add": {"zh": "登记人员", "en": "Register person"},
        "cx.p.added": {"zh": "已登记：{name}（{code}）", "en": "Registered: {name} ({code})"},
        "cx.eq": {"zh": "工器具与设备", "en": "Tools and equipment"},
        "cx.eq.name": {"zh": "名称", "en": "Name"},
        "cx.eq.kind": {"zh": "类别", "en": "Kind"},
        "cx.eq.due": {"zh": "检验有效期至", "en": "Inspection due"},
        "cx.eq.add": {"zh": "登记工器具", "en": "Add"},
        "cx.eq.added": {"zh": "已登记工器具 #{id}", "en": "Equipment #{id} added"},
        "cx.apply": {"zh": "入厂申请", "en": "Apply for entry"},
        "cx.apply.people": {"zh": "申请人员", "en": "People"},
        "cx.apply.project": {"zh": "项目", "en": "Project"},
        "cx.apply.from": {"zh": "入厂开始日期", "en": "From"},
        "cx.apply.to": {"zh": "入厂截止日期", "en": "Until"},
        "cx.apply.places": {
            "zh": "允许进入区域（逗号分隔）",
            "en": "Places allowed (comma separated)",
        },
        "cx.apply.submit": {"zh": "提交入厂申请", "en": "Submit application"},
        "cx.apply.done": {
            "zh": "已提交 {n} 份申请，请完成入厂安全考试",
            "en": "{n} application(s) submitted; the entry exam is due",
        },
        "cx.apps": {"zh": "入厂申请进度", "en": "Applications"},
        "cx.app.status": {"zh": "状态", "en": "Status"},
        "cx.app.period": {"zh": "期限", "en": "Period"},
        "cx.app.places": {"zh": "区域", "en": "Places"},
        "cx.app.card": {"zh": "门禁卡号", "en": "Card"},
        "cx.app.score": {"zh": "考试成绩", "en": "Score"},
        "cx.app.note": {"zh": "说明", "en": "Note"},
        "cx.app.exam": {"zh": "参加考试", "en": "Take the exam"},
        "cx.none": {"zh": "暂无", "en": "none"},
        "cx.cert": {"zh": "人员证书", "en": "Certificates"},
        "cx.cert.person": {"zh": "人员", "en": "Person"},
        "cx.cert.kind": {"zh": "证书名称/种类", "en": "Certificate"},
        "cx.cert.number": {"zh": "证书编号", "en": "Number"},
        "cx.cert.issuer": {"zh": "发证机关", "en": "Issued by"},
        "cx.cert.expires": {"zh": "有效期至", "en": "Valid until"},
        "cx.cert.add": {"zh": "登记证书", "en": "Add certificate"},
        "cx.cert.added": {"zh": "已登记证书 #{id}", "en": "Certificate #{id} added"},
        "cx.edit": {
            "zh": "修改已登记的信息（在表格中直接编辑，附件可上传扫描件）：",
            "en": "Change what is registered (edit in the grid, upload scans):",
        },
        "cx.eq.list.none": {"zh": "尚未登记工器具", "en": "No tools registered yet"},
    }
)


def _people_table(rows: list[dict[str, Any]]) -> html.Table:
    t = i18n.t
    lang = i18n.current_lang()
    head = html.Tr(
        [
            html.Th(t(k))
            for k in ("cx.p.code", "cx.p.name", "cx.p.id", "cx.p.type", "cx.p.phone", "cx.p.certs")
        ]
    )
    body = [
        html.Tr(
            [
                html.Td(r["person_code"]),
                html.Td(r["name"], className="cx-person-name"),
                html.Td(r["id_number"], className="cx-id"),
                html.Td(PERSON_TYPES[r["person_type"]][0 if lang == "zh" else 1]),
                html.Td(r["phone"] or ""),
                html.Td(r["certificates"]),
            ],
            id=f"cx-person-{r['person_id']}",
        )
        for r in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="hw-table", id="cx-people")


def _equipment_table(company_id: int) -> Any:
    """The company's tools and equipment, inspection due dates shown (C4, C8)."""
    with auth.db_pool().connection() as conn:
        rows = conn.execute(
            "SELECT id, kind, name, model, inspection_due, status FROM contractor.equipment"
            " WHERE company_id = %s ORDER BY name, id",
            (company_id,),
        ).fetchall()
    if not rows:
        return html.P(i18n.t("cx.eq.list.none"), className="hw-muted", id="cx-equipment")
    t = i18n.t
    head = html.Tr([html.Th(t(k)) for k in ("cx.eq.name", "cx.eq.kind", "cx.eq.due")])
    body = [
        html.Tr(
            [
                html.Td(f"{name} {model or ''}".strip()),
                html.Td(t(f"cx.ekind.{kind}")),
                html.Td(due.isoformat() if due else ""),
            ],
            id=f"cx-eq-{eid}",
        )
        for eid, kind, name, model, due, _status in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="hw-table", id="cx-equipment")


def _archive_links() -> html.P:
    """Where existing people, tools and certificates are changed: the archive grid, scoped to
    the company (C8)."""
    links: list[Any] = [i18n.t("cx.edit")]
    for key in ("contractor_personnel", "contractor_equipment", "contractor_certificate"):
        links += [
            " ",
            dcc.Link(
                i18n.t(f"reg.name.{key}"),
                href=f"/contractors/archive?r={key}",
                id=f"cx-edit-{key}",
            ),
        ]
    return html.P(links, className="cx-edit-links")


def apps_table(rows: list[dict[str, Any]], exam_links: bool) -> html.Table:
    t = i18n.t
    head = html.Tr(
        [html.Th("#"), html.Th(t("cx.p.name"))]
        + [
            html.Th(t(k))
            for k in (
                "cx.app.period",
                "cx.app.places",
                "cx.app.status",
                "cx.app.score",
                "cx.app.card",
                "cx.app.note",
            )
        ]
        + ([html.Th("")] if exam_links else [])
    )
    body = []
    for r in rows:
        cells = [
            html.Td(str(r["id"])),
            html.Td(r["name"]),
            html.Td(f"{r['valid_from']} ~ {r['valid_until']}"),
            html.Td("、".join(r["places"])),
            html.Td(t(f"cx.status.{r['status']}"), className=f"cx-status cx-status-{r['status']}"),
            html.Td(r["score"]),
            html.Td(r["card_no"], className="cx-card"),
            html.Td("；".join([r["reason"], *r["flags"]]).strip("；")),
        ]
        if exam_links:
            link: Any = ""
            if r["status"] in ("training", "returned"):
                link = dcc.Link(
                    t("cx.app.exam"),
                    href=f"/contractors/exam?a={r['id']}",
                    id=f"cx-exam-link-{r['id']}",
                )
            cells.append(html.Td(link))
        body.append(html.Tr(cells, id=f"cx-app-{r['id']}"))
    return html.Table([html.Thead(head), html.Tbody(body)], className="hw-table", id="cx-apps")


def _lists(company_id: int) -> tuple[Any, Any, list[dict[str, Any]], list[dict[str, Any]]]:
    with auth.db_pool().connection() as conn:
        people = archive.people(conn, company_id=company_id)
        apps = entry.applications(conn, company_id=company_id)
        projects = conn.execute(
            "SELECT id, code || ' ' || name FROM contractor.project WHERE company_id = %s"
            " AND status <> 'accepted' ORDER BY code",
            (company_id,),
        ).fetchall()
    options = [
        {"label": f"{p['name']}（{p['person_code']}）", "value": p["employment_id"]} for p in people
    ]
    return (
        _people_table(people),
        apps_table(apps, exam_links=True),
        options,
        [{"label": p[1], "value": p[0]} for p in projects],
    )


def _field(label: str, component: Any) -> html.Label:
    return html.Label([html.Span(label), component], className="cx-field")


def _staff_view(user: Any) -> html.Div:
    with auth.db_pool().connection() as conn:
        apps = entry.applications(conn, enterprise_ids=user.scope.enterprise_ids(conn))
    return html.Div(
        [html.H1(i18n.t("cx.apps"), id="page-title"), apps_table(apps, exam_links=False)],
        className="cx-page",
    )


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role != "contractor":
        return _staff_view(user) if user.role in ("admin", "engineer", "operator") else forbidden()
    if user.contractor_company_id is None:
        return forbidden()
    t = i18n.t
    lang = i18n.current_lang()
    company_id = int(user.contractor_company_id)
    people, apps, options, projects = _lists(company_id)
    ptypes = [{"label": v[0 if lang == "zh" else 1], "value": k} for k, v in PERSON_TYPES.items()]
    ekinds = [
        {"label": v[0 if lang == "zh" else 1], "value": k} for k, v in EQUIPMENT_KINDS.items()
    ]
    person_form = html.Div(
        [
            _field(t("cx.p.name"), dcc.Input(id="cx-p-name", className="hw-input")),
            _field(t("cx.p.id"), dcc.Input(id="cx-p-id", className="hw-input")),
            _field(t("cx.p.type"), dcc.Dropdown(ptypes, "worker", id="cx-p-type", clearable=False)),
            _field(t("cx.p.phone"), dcc.Input(id="cx-p-phone", className="hw-input")),
            _field(
                t("cx.p.ins"),
                dcc.Input(id="cx-p-ins", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            _field(
                t("cx.p.med"),
                dcc.Input(id="cx-p-med", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            html.Button(t("cx.p.add"), id="cx-p-add", className="hw-btn", n_clicks=0),
            html.Div(id="cx-p-msg", role="alert"),
        ],
        className="cx-form",
    )
    equipment_form = html.Div(
        [
            _field(t("cx.eq.name"), dcc.Input(id="cx-eq-name", className="hw-input")),
            _field(t("cx.eq.kind"), dcc.Dropdown(ekinds, "tool", id="cx-eq-kind", clearable=False)),
            _field(
                t("cx.eq.due"),
                dcc.Input(id="cx-eq-due", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            html.Button(t("cx.eq.add"), id="cx-eq-add", className="hw-btn", n_clicks=0),
            html.Div(id="cx-eq-msg", role="alert"),
        ],
        className="cx-form",
    )
    with auth.db_pool().connection() as conn:
        person_options = [
            {"label": f"{p['name']}（{p['person_code']}）", "value": p["person_id"]}
            for p in archive.people(conn, company_id=company_id)
        ]
    cert_form = html.Div(
        [
            _field(
                t("cx.cert.person"), dcc.Dropdown(person_options, id="cx-c-person", clearable=False)
            ),
            _field(t("cx.cert.kind"), dcc.Input(id="cx-c-kind", className="hw-input")),
            _field(t("cx.cert.number"), dcc.Input(id="cx-c-number", className="hw-input")),
            _field(t("cx.cert.issuer"), dcc.Input(id="cx-c-issuer", className="hw-input")),
            _field(
                t("cx.cert.expires"),
                dcc.Input(id="cx-c-expires", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            html.Button(t("cx.cert.add"), id="cx-c-add", className="hw-btn", n_clicks=0),
            html.Div(id="cx-c-msg", role="alert"),
        ],
        className="cx-form",
    )
    apply_form = html.Div(
        [
            _field(t("cx.apply.people"), dcc.Checklist(options, [], id="cx-apply-people")),
            _field(t("cx.apply.project"), dcc.Dropdown(projects, id="cx-apply-project")),
            _field(
                t("cx.apply.from"),
                dcc.Input(id="cx-apply-from", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            _field(
                t("cx.apply.to"),
                dcc.Input(id="cx-apply-to", className="hw-input", placeholder="YYYY-MM-DD"),
            ),
            _field(t("cx.apply.places"), dcc.Input(id="cx-apply-places", className="hw-input")),
            html.Button(t("cx.apply.submit"), id="cx-apply-submit", className="hw-btn", n_clicks=0),
            html.Div(id="cx-apply-msg", role="alert"),
        ],
        className="cx-form",
    )
    return html.Div(
        [
            html.H1(t("cx.my.title"), id="page-title"),
            _archive_links(),
            html.Section(
                [html.H2(t("cx.people")), person_form, html.Div(people, id="cx-people-wrap")],
                className="hw-card",
            ),
            html.Section([html.H2(t("cx.cert")), cert_form], className="hw-card"),
            html.Section(
                [
                    html.H2(t("cx.eq")),
                    equipment_form,
                    html.Div(_equipment_table(company_id), id="cx-equipment-wrap"),
                ],
                className="hw-card",
            ),
            html.Section([html.H2(t("cx.apply")), apply_form], className="hw-card"),
            html.Section(
                [html.H2(t("cx.apps")), html.Div(apps, id="cx-apps-wrap")], className="hw-card"
            ),
        ],
        className="cx-page",
    )


def _refused(exc: Exception) -> html.Div:
    return html.Div(i18n.t("cx.refused", error=str(exc)), className="hw-error cx-error")


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "contractors_my",
        60,
        layout,
        title=lambda: i18n.t("nav.contractors_my"),
        roles={"contractor", "admin", "engineer", "operator"},
    )

    @app.callback(
        Output("cx-p-msg", "children"),
        Output("cx-people-wrap", "children"),
        Output("cx-apply-people", "options"),
        Output("cx-c-person", "options"),
        Input("cx-p-add", "n_clicks"),
        State("cx-p-name", "value"),
        State("cx-p-id", "value"),
        State("cx-p-type", "value"),
        State("cx-p-phone", "value"),
        State("cx-p-ins", "value"),
        State("cx-p-med", "value"),
        prevent_initial_call=True,
    )
    def add_person(
        _n: int,
        name: str | None,
        number: str | None,
        ptype: str | None,
        phone: str | None,
        ins: str | None,
        med: str | None,
    ) -> tuple[Any, Any, Any, Any]:
        _user, actor, company_id = contractor()
        try:
            person = PersonInput(
                name=name or "",
                id_number=number or "",
                person_type=ptype or "worker",
                phone=(phone or "").strip() or None,
                insurance_until=parse_date(ins, i18n.t("cx.p.ins")),
                medical_check_on=parse_date(med, i18n.t("cx.p.med")),
            )
            with auth.db_pool().connection() as conn:
                pid, _eid = archive.register_person(
                    conn, actor, company_id, person, home=auth.app_home()
                )
                code = conn.execute(
                    "SELECT person_code FROM contractor.person WHERE id = %s", (pid,)
                ).fetchone()
        except (HazwatchError, ValueError) as exc:
            return _refused(exc), dash.no_update, dash.no_update, dash.no_update
        people, _apps, options, _projects = _lists(company_id)
        msg = html.Div(
            i18n.t("cx.p.added", name=person.name, code=code[0] if code else ""),
            className="hw-ok",
            id="cx-p-ok",
        )
        with auth.db_pool().connection() as conn:
            person_options = [
                {"label": f"{p['name']}（{p['person_code']}）", "value": p["person_id"]}
                for p in archive.people(conn, company_id=company_id)
            ]
        return msg, people, options, person_options

    @app.callback(
        Output("cx-eq-msg", "children"),
        Output("cx-equipment-wrap", "children"),
        Input("cx-eq-add", "n_clicks"),
        State("cx-eq-name", "value"),
        State("cx-eq-kind", "value"),
        State("cx-eq-due", "value"),
        prevent_initial_call=True,
    )
    def add_equipment(
        _n: int, name: str | None, kind: str | None, due: str | None
    ) -> tuple[Any, Any]:
        _user, actor, company_id = contractor()
        try:
            values = {
                "name": (name or "").strip(),
                "kind": kind or "tool",
                "inspection_due": parse_date(due, i18n.t("cx.eq.due")),
            }
            with auth.db_pool().connection() as conn:
                eid = archive.save_row(
                    conn, actor, "contractor_equipment", values, company_id=company_id
                )
        except (HazwatchError, ValueError) as exc:
            return _refused(exc), dash.no_update
        added = html.Div(i18n.t("cx.eq.added", id=eid), className="hw-ok", id="cx-eq-ok")
        return added, _equipment_table(company_id)

    @app.callback(
        Output("cx-c-msg", "children"),
        Output("cx-people-wrap", "children", allow_duplicate=True),
        Input("cx-c-add", "n_clicks"),
        State("cx-c-person", "value"),
        State("cx-c-kind", "value"),
        State("cx-c-number", "value"),
        State("cx-c-issuer", "value"),
        State("cx-c-expires", "value"),
        prevent_initial_call=True,
    )
    def add_certificate(
        _n: int,
        person: int | None,
        kind: str | None,
        number: str | None,
        issuer: str | None,
        expires: str | None,
    ) -> tuple[Any, Any]:
        """A certificate of one of the company's people (C3, C8); archive.save_row refuses
        anybody else's person, whatever id the browser sends."""
        _user, actor, company_id = contractor()
        try:
            if person is None:
                raise ValueError(i18n.t("cx.cert.person") + "：" + i18n.t("reg.err.required"))
            if not (kind or "").strip():
                raise ValueError(i18n.t("cx.cert.kind") + "：" + i18n.t("reg.err.required"))
            values = {
                "person_id": int(person),
                "kind": (kind or "").strip(),
                "number": (number or "").strip() or None,
                "issuer": (issuer or "").strip() or None,
                "expires_on": parse_date(expires, i18n.t("cx.cert.expires")),
            }
            with auth.db_pool().connection() as conn:
                cid = archive.save_row(
                    conn, actor, "contractor_certificate", values, company_id=company_id
                )
        except (HazwatchError, ValueError) as exc:
            return _refused(exc), dash.no_update
        people, _apps, _options, _projects = _lists(company_id)
        added = html.Div(i18n.t("cx.cert.added", id=cid), className="hw-ok", id="cx-c-ok")
        return added, people

    @app.callback(
        Output("cx-apply-msg", "children"),
        Output("cx-apps-wrap", "children"),
        Input("cx-apply-submit", "n_clicks"),
        State("cx-apply-people", "value"),
        State("cx-apply-project", "value"),
        State("cx-apply-from", "value"),
        State("cx-apply-to", "value"),
        State("cx-apply-places", "value"),
        prevent_initial_call=True,
    )
    def apply(
        _n: int,
        employments: list[int] | None,
        project: int | None,
        lo: str | None,
        hi: str | None,
        places: str | None,
    ) -> tuple[Any, Any]:
        _user, actor, company_id = contractor()
        try:
            start = parse_date(lo, i18n.t("cx.apply.from"))
            end = parse_date(hi, i18n.t("cx.apply.to"))
            if start is None or end is None:
                raise ValueError(i18n.t("cx.err.date", field=i18n.t("cx.apply.from"), value=""))
            with auth.db_pool().connection() as conn:
                # Employment ids of this company only: anything else is not found.
                rows = conn.execute(
                    "SELECT person_id FROM contractor.employment WHERE id = ANY(%s)"
                    " AND company_id = %s",
                    (list(employments or []), company_id),
                ).fetchall()
                ids = entry.apply_for_entry(
                    conn,
                    actor,
                    company_id=company_id,
                    person_ids=[r[0] for r in rows],
                    valid_from=start,
                    valid_until=end,
                    places=[p for p in (places or "").replace("，", ",").split(",")],
                    project_id=project,
                    today=date.today(),
                )
        except (HazwatchError, ValueError) as exc:
            return _refused(exc), dash.no_update
        _people, apps, _options, _projects = _lists(company_id)
        return html.Div(
            i18n.t("cx.apply.done", n=len(ids)), className="hw-ok", id="cx-apply-ok"
        ), apps
