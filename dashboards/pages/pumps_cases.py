"""The fault case library (issue 8, P12): search by text, fault and pump; add, edit, delete;
a case filed from a closed defect shows its spectra snapshot."""

from __future__ import annotations

from typing import Any

import dash
import numpy as np
from dash import Input, Output, State, dcc, html

from analytics.vibration import cases as cx
from analytics.vibration.faults import FAULT_NAMES
from dashboards import auth, i18n
from dashboards.callback_args import signed_in
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages import pumps_figures as figs
from dashboards.pages.pumps import ROLES, sub_nav
from hazwatch.errors import HazwatchError

PATH = "/pumps/cases"

i18n.register(
    {
        "pumpc.title": {"zh": "故障案例库", "en": "Fault case library"},
        "pumpc.search": {"zh": "搜索（标题、原因、措施、关键词、机泵）", "en": "Search"},
        "pumpc.fault": {"zh": "故障类型", "en": "Fault"},
        "pumpc.all": {"zh": "全部", "en": "All"},
        "pumpc.none": {"zh": "没有符合条件的案例。", "en": "No matching cases."},
        "pumpc.case": {"zh": "案例", "en": "Case"},
        "pumpc.pump": {"zh": "机泵", "en": "Pump"},
        "pumpc.case_title": {"zh": "标题", "en": "Title"},
        "pumpc.cause": {"zh": "原因", "en": "Cause"},
        "pumpc.action": {"zh": "措施", "en": "Action"},
        "pumpc.keywords": {"zh": "关键词（逗号分隔）", "en": "Keywords (comma separated)"},
        "pumpc.description": {"zh": "描述", "en": "Description"},
        "pumpc.spectra": {"zh": "图谱", "en": "Spectra"},
        "pumpc.edit_id": {"zh": "编辑案例（空：新增）", "en": "Case to edit (empty: new)"},
        "pumpc.save": {"zh": "保存", "en": "Save"},
        "pumpc.delete": {"zh": "删除", "en": "Delete"},
        "pumpc.saved": {"zh": "案例 #{n} 已保存。", "en": "Case #{n} saved."},
        "pumpc.deleted": {"zh": "案例 #{n} 已删除。", "en": "Case #{n} deleted."},
        "pumpc.enterprise": {"zh": "企业", "en": "Enterprise"},
        "pumpc.read_only": {
            "zh": "只读账户不能修改案例。",
            "en": "Read-only accounts cannot edit.",
        },
        "pumpc.snapshot": {"zh": "案例 #{n} 的速度频谱", "en": "Case #{n}: velocity spectrum"},
        "pumpc.model": {
            "zh": "智能诊断模型 v{v}（{created}）：留出数据准确率 {scores}。",
            "en": "Diagnosis model v{v} ({created}): held-out accuracy {scores}.",
        },
        "pumpc.model_none": {
            "zh": "尚无智能诊断模型（hazwatch install 会训练 v1），诊断只用规则。",
            "en": "No diagnosis model yet (hazwatch install trains v1): rules only.",
        },
        "pumpc.retrain": {
            "zh": "案例库有 {n} 个带图谱的标注案例可再训练：hazwatch vib train --from-cases",
            "en": "{n} labelled cases with spectra can retrain it: hazwatch vib train --from-cases",
        },
        "pumpc.held.simulated": {"zh": "仿真", "en": "simulated"},
        "pumpc.held.demo_plant": {"zh": "演示装置", "en": "demo plant"},
        "pumpc.held.pybearing": {"zh": "pybearing 实测", "en": "pybearing recordings"},
    }
)

FIELDS = ("title", "fault", "cause", "action_taken", "keywords", "description")


def _fault_label(f: str) -> str:
    zh, en = FAULT_NAMES.get(f, ("其他", "other"))
    return zh if i18n.current_lang() == "zh" else en


def results(user: auth.WebUser, text: str | None, fault: str | None) -> html.Div:
    t = i18n.t
    with auth.db_pool().connection() as conn:
        found = cx.search_cases(
            conn, user.scope.enterprise_ids(conn), text=text, fault=fault or None
        )
    rows = [
        [
            f"#{c['id']}",
            c["title"],
            _fault_label(c["fault"]),
            f"{c['equipment_code'] or ''} {c['equipment_name'] or ''}".strip(),
            c["cause"] or "",
            c["action_taken"] or "",
            "、".join(c["keywords"]),
            html.A(t("pumpc.spectra"), href=f"{PATH}?case={c['id']}") if c["has_spectra"] else "",
        ]
        for c in found
    ]
    return table(
        [
            "#",
            t("pumpc.case_title"),
            t("pumpc.fault"),
            t("pumpc.pump"),
            t("pumpc.cause"),
            t("pumpc.action"),
            t("pumpc.keywords"),
            t("pumpc.spectra"),
        ],
        rows,
        "pumpc-table",
        t("pumpc.none"),
    )


def model_card(conn: Any, ents: list[int] | None) -> html.Div:
    """P9: the classifier in force (version, held-out scores) and what could retrain it."""
    from analytics.vibration.diagnosis import current_model

    t = i18n.t
    model = current_model(auth.app_home())
    if model is None:
        lines = [t("pumpc.model_none")]
    else:
        metrics = model.meta.get("metrics", {})
        scores = ", ".join(
            f"{t(f'pumpc.held.{k}')} {m['accuracy']:.2f} (n={m['n']})"
            for k in ("simulated", "demo_plant", "pybearing")
            if (m := metrics.get(f"held_out_{k}", {})).get("n")
        )
        created = str(model.meta.get("created", ""))[:10]
        lines = [t("pumpc.model", v=model.version, created=created, scores=scores or "–")]
    row = conn.execute(
        "SELECT count(*) FROM vib.fault_case WHERE spectra IS NOT NULL AND fault <> 'other'"
        " AND (%s::integer[] IS NULL OR enterprise_id = ANY(%s))",
        (ents, ents),
    ).fetchone()
    lines.append(t("pumpc.retrain", n=int(row[0]) if row else 0))
    return html.Div([html.P(x) for x in lines], className="hw-card", id="pumpc-model")


def snapshot_view(user: auth.WebUser, case_id: int) -> html.Div | None:
    with auth.db_pool().connection() as conn:
        case = cx.get_case(conn, case_id)
        ents = user.scope.enterprise_ids(conn)
    if not case or not case["spectra"] or (ents is not None and case["enterprise_id"] not in ents):
        return None
    snap = case["spectra"]
    axis = max(snap["axes"], key=lambda a: max(snap["axes"][a]["velocity"]["amp"] or [0]))
    vel = snap["axes"][axis]["velocity"]
    fr = snap["analysis"]["speed"]["fr_hz"]
    fig = figs.spectrum_figure(
        np.asarray(vel["freq"]),
        np.asarray(vel["amp"]),
        fr_hz=fr,
        title=i18n.t("pumpc.snapshot", n=case_id) + f" · {axis}",
        fmax=float(vel["freq"][-1]) if vel["freq"] else 1000.0,
    )
    return html.Div([dcc.Graph(figure=fig, id="pumpc-snapshot")], className="hw-card")


def layout(case: str | None = None, **_q: Any) -> html.Div:
    user = auth.current_user()
    if user is None or user.role not in ROLES:
        return forbidden()
    t = i18n.t
    faults = [{"label": t("pumpc.all"), "value": ""}] + [
        {"label": _fault_label(f), "value": f} for f in cx.FAULTS
    ]
    with auth.db_pool().connection() as conn:
        ents = user.scope.enterprise_ids(conn)
        ent_opts = [
            {"label": n, "value": i}
            for i, n in conn.execute(
                "SELECT id, name FROM registry.enterprise WHERE %s::integer[] IS NULL"
                " OR id = ANY(%s) ORDER BY name LIMIT 500",
                (ents, ents),
            ).fetchall()
        ]
        card = model_card(conn, ents)
    snap = snapshot_view(user, int(case)) if case and case.isdigit() else None
    editor = html.Div(
        className="hw-card",
        children=[
            html.Div(
                className="pump-form",
                children=[
                    dcc.Input(id="pumpc-edit-id", type="number", placeholder=t("pumpc.edit_id")),
                    dcc.Dropdown(
                        id="pumpc-ent",
                        options=ent_opts,
                        value=ent_opts[0]["value"] if len(ent_opts) == 1 else None,
                        placeholder=t("pumpc.enterprise"),
                        style={"minWidth": "220px"},
                    ),
                    dcc.Input(id="pumpc-f-title", placeholder=t("pumpc.case_title"), type="text"),
                    dcc.Dropdown(
                        id="pumpc-f-fault",
                        options=faults[1:],
                        value="other",
                        clearable=False,
                        style={"minWidth": "180px"},
                    ),
                ],
            ),
            html.Div(
                className="pump-form",
                children=[
                    dcc.Input(id="pumpc-f-cause", placeholder=t("pumpc.cause"), type="text"),
                    dcc.Input(id="pumpc-f-action", placeholder=t("pumpc.action"), type="text"),
                    dcc.Input(id="pumpc-f-keywords", placeholder=t("pumpc.keywords"), type="text"),
                    dcc.Input(
                        id="pumpc-f-description", placeholder=t("pumpc.description"), type="text"
                    ),
                    html.Button(t("pumpc.save"), id="pumpc-save", className="hw-btn", n_clicks=0),
                    html.Button(
                        t("pumpc.delete"),
                        id="pumpc-delete",
                        className="hw-btn hw-btn-light",
                        n_clicks=0,
                    ),
                ],
            ),
            html.Div(id="pumpc-msg"),
        ],
    )
    return html.Div(
        [
            html.H1(t("pumpc.title"), id="page-title"),
            sub_nav(PATH),
            html.Div(
                className="pump-controls",
                children=[
                    html.Div(
                        [
                            html.Label(t("pumpc.search"), htmlFor="pumpc-text"),
                            dcc.Input(id="pumpc-text", type="search", debounce=True),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label(t("pumpc.fault"), htmlFor="pumpc-fault"),
                            dcc.Dropdown(
                                id="pumpc-fault", options=faults, value="", clearable=False
                            ),
                        ]
                    ),
                ],
            ),
            card,
            snap or html.Div(),
            editor,
            html.Div(results(user, None, None), id="pumpc-results"),
        ]
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "pump-cases", 24, layout, title="pumpc.title",
                  nav="nav.pump_cases", roles=ROLES, after="/pumps/health")  # fmt: skip

    @app.callback(
        Output("pumpc-results", "children"),
        Output("pumpc-msg", "children"),
        Input("pumpc-text", "value"),
        Input("pumpc-fault", "value"),
        Input("pumpc-save", "n_clicks"),
        Input("pumpc-delete", "n_clicks"),
        State("pumpc-edit-id", "value"),
        State("pumpc-ent", "value"),
        *[State(f"pumpc-f-{f.split('_')[0]}", "value") for f in FIELDS],
        prevent_initial_call=True,
    )
    def _refresh(
        text: str | None,
        fault: str | None,
        _s: int,
        _d: int,
        case_id: Any,
        ent: Any,
        title_: str | None,
        fault_: str | None,
        cause: str | None,
        action: str | None,
        keywords: str | None,
        description: str | None,
    ) -> tuple:
        user, actor = signed_in(ROLES)
        t = i18n.t
        msg: Any = ""
        trigger = dash.ctx.triggered_id
        if trigger in ("pumpc-save", "pumpc-delete"):
            try:
                if user.read_only:
                    raise HazwatchError(t("pumpc.read_only"))
                with auth.db_pool().connection() as conn:
                    ents = user.scope.enterprise_ids(conn)
                    cid = int(case_id) if case_id else None
                    if cid is not None:
                        found = cx.get_case(conn, cid)
                        if found is None or (
                            ents is not None and found["enterprise_id"] not in ents
                        ):
                            raise cx.CaseError(f"case_id {cid}: no such case in your scope")
                    if trigger == "pumpc-delete":
                        if cid is None:
                            raise cx.CaseError("case_id: which case to delete")
                        cx.delete_case(conn, actor, cid)
                        msg = t("pumpc.deleted", n=cid)
                    else:
                        values = {
                            "title": title_ or "",
                            "fault": fault_ or "other",
                            "cause": cause,
                            "action_taken": action,
                            "keywords": keywords or "",
                            "description": description,
                        }
                        if cid is None:
                            if ent is None or (ents is not None and int(ent) not in ents):
                                raise cx.CaseError("enterprise: pick the enterprise of the case")
                            vals = {k: v for k, v in values.items() if k != "keywords"}
                            cid = cx.create_case(
                                conn,
                                actor,
                                enterprise_id=int(ent),
                                keywords=values["keywords"],
                                **vals,
                            )
                        else:
                            cx.update_case(
                                conn,
                                actor,
                                cid,
                                {k: v for k, v in values.items() if v not in (None, "")},
                            )
                        msg = t("pumpc.saved", n=cid)
            except HazwatchError as exc:
                msg = html.Span(str(exc), className="hw-error")
        return results(user, text, fault), msg
