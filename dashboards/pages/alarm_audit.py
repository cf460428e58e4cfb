"""A17 alarm audit: run an audit of the DCS's live alarm settings against the ledger and list
the findings (limit and priority mismatches, disabled, suppressed and shelved alarms,
unauthorised changes): ``/alarms/audit``. Engineers and administrators start audits;
everyone in scope reads them.
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import Input, Output, State, dcc, html
from psycopg import sql

from analytics.alarms.dcs_audit import DEFAULT_TEMPLATE, AuditError, run_audit
from dashboards import auth, i18n
from dashboards.auth import WebUser
from dashboards.callback_args import signed_in
from dashboards.components.basic import table
from dashboards.layout import register_page

AUDITORS = frozenset({"admin", "engineer"})

i18n.register(
    {
        "nav.alarm_audit": {"zh": "报警审计", "en": "Alarm audit"},
        "au.title": {"zh": "报警审计（DCS 与台账一致性）", "en": "Alarm audit (DCS vs ledger)"},
        "au.enterprise": {"zh": "企业", "en": "Enterprise"},
        "au.endpoint": {"zh": "DCS OPC UA 地址", "en": "DCS OPC UA endpoint"},
        "au.namespace": {"zh": "命名空间 URI", "en": "Namespace URI"},
        "au.template": {"zh": "报警节点模板", "en": "Condition node template"},
        "au.run": {"zh": "执行审计", "en": "Run audit"},
        "au.done": {"zh": "审计 #{id} 完成，发现 {n} 项问题。", "en": "Audit #{id}: {n} findings."},
        "au.runs": {"zh": "审计记录", "en": "Audits"},
        "au.findings": {"zh": "最近一次审计的问题", "en": "Findings of the latest audit"},
        "au.none": {"zh": "暂无审计。", "en": "No audits yet."},
        "au.clean": {"zh": "没有发现问题。", "en": "No findings."},
        "au.at": {"zh": "时间", "en": "Time"},
        "au.points": {"zh": "报警点", "en": "Points"},
        "au.count": {"zh": "问题数", "en": "Findings"},
        "au.error": {"zh": "错误", "en": "Error"},
        "au.kind": {"zh": "问题", "en": "Finding"},
        "au.alarm": {"zh": "报警点", "en": "Alarm"},
        "au.ledger": {"zh": "台账值", "en": "Ledger"},
        "au.dcs": {"zh": "DCS 值", "en": "DCS"},
        "au.detail": {"zh": "说明", "en": "Detail"},
        "au.readonly": {"zh": "只读：您的角色不能执行审计。", "en": "Read only for your role."},
        "au.kind.limit_mismatch": {"zh": "报警限不一致", "en": "Limit differs"},
        "au.kind.priority_mismatch": {"zh": "优先级不一致", "en": "Priority differs"},
        "au.kind.enabled_mismatch": {"zh": "启用状态不一致", "en": "Enabled state differs"},
        "au.kind.suppressed": {"zh": "报警被抑制", "en": "Suppressed"},
        "au.kind.shelved": {"zh": "报警被搁置", "en": "Shelved"},
        "au.kind.unauthorised_change": {"zh": "未经授权的修改", "en": "Unauthorised change"},
        "au.kind.unreadable": {"zh": "无法读取", "en": "Unreadable"},
    }
)


def runs(conn: psycopg.Connection, user: WebUser) -> list[tuple[Any, ...]]:
    cond, params = user.scope.condition("r.enterprise_id")
    return conn.execute(
        sql.SQL(
            "SELECT r.id, e.name, r.endpoint, r.started_at, r.points, r.findings, r.error"
            " FROM alarm.dcs_audit_run r JOIN registry.enterprise e ON e.id = r.enterprise_id"
            " WHERE {} ORDER BY r.started_at DESC, r.id DESC LIMIT 50"
        ).format(cond),
        params,
    ).fetchall()


def finding_rows(conn: psycopg.Connection, run_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT f.kind, t.name || '.' || p.condition, f.ledger_value, f.dcs_value, f.detail"
        " FROM alarm.dcs_finding f JOIN registry.alarm_point p ON p.id = f.point_id"
        " JOIN registry.tag t ON t.id = p.tag_id WHERE f.run_id = %s ORDER BY f.id",
        (run_id,),
    ).fetchall()


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        done = runs(conn, user)
        latest = finding_rows(conn, done[0][0]) if done else []
        cond, params = user.scope.condition("e.id")
        ents = conn.execute(
            sql.SQL("SELECT e.id, e.name FROM registry.enterprise e WHERE {}"
                    " AND EXISTS (SELECT 1 FROM registry.tag t WHERE t.enterprise_id = e.id)"
                    " ORDER BY e.name LIMIT 500").format(cond),
            params,
        ).fetchall()  # fmt: skip
    can = user.role in AUDITORS
    form = html.Div(
        className="hw-card",
        children=[
            dcc.Dropdown(id="au-enterprise", options=[{"label": n, "value": i} for i, n in ents],
                         value=user.enterprise_id or (ents[0][0] if ents else None),
                         placeholder=t("au.enterprise")),
            dcc.Input(id="au-endpoint", placeholder=t("au.endpoint"), className="hw-input",
                      value="opc.tcp://127.0.0.1:48400"),
            dcc.Input(id="au-namespace", placeholder=t("au.namespace"), className="hw-input",
                      value="urn:hazwatch:simulator"),
            dcc.Input(id="au-template", placeholder=t("au.template"), className="hw-input",
                      value=DEFAULT_TEMPLATE),
            html.Button(t("au.run"), id="au-run", className="hw-btn", n_clicks=0,
                        disabled=not can),
            html.Div("" if can else t("au.readonly"), id="au-message", className="hw-muted"),
        ],
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("au.title"), id="page-title"),
            form,
            html.H2(t("au.findings")),
            table(
                [t("au.kind"), t("au.alarm"), t("au.ledger"), t("au.dcs"), t("au.detail")],
                [(t(f"au.kind.{k}"), a, lv or "-", dv or "-", d) for k, a, lv, dv, d in latest],
                "au-findings", t("au.clean") if done else t("au.none"),
            ),
            html.H2(t("au.runs")),
            table(
                ["#", t("au.enterprise"), t("au.endpoint"), t("au.at"), t("au.points"),
                 t("au.count"), t("au.error")],
                [(i, e, ep, i18n.fmt_datetime(at, seconds=True), p, n, err or "")
                 for i, e, ep, at, p, n, err in done],
                "au-runs", t("au.none"),
            ),
        ]
    )  # fmt: skip


def register(app: dash.Dash) -> None:
    register_page(__name__, "/alarms/audit", "alarm_audit", 42, layout)

    @app.callback(
        Output("au-message", "children"),
        Input("au-run", "n_clicks"),
        State("au-enterprise", "value"),
        State("au-endpoint", "value"),
        State("au-namespace", "value"),
        State("au-template", "value"),
        prevent_initial_call=True,
    )
    def run(_n: int, ent: int | None, url: str | None, ns: str | None,
            template: str | None) -> str:  # fmt: skip
        user, actor = signed_in(AUDITORS)
        if ent is None:
            raise dash.exceptions.PreventUpdate
        if not (url or "").startswith("opc.tcp://"):
            return i18n.t("au.endpoint") + ": opc.tcp://host:port"
        with auth.db_pool().connection() as conn:
            visible = user.scope.enterprise_ids(conn)
            if visible is not None and ent not in visible:
                raise dash.exceptions.PreventUpdate
            try:
                run_id = run_audit(
                    conn, actor, enterprise_id=ent, url=url or "",
                    namespace_uri=(ns or "").strip(), template=template or DEFAULT_TEMPLATE,
                )  # fmt: skip
            except AuditError as exc:
                return str(exc)
            n = conn.execute(
                "SELECT findings FROM alarm.dcs_audit_run WHERE id = %s", (run_id,)
            ).fetchone()
        return i18n.t("au.done", id=run_id, n=n[0] if n else 0)
