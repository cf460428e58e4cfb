"""What the contractor-operations pages share: who is looking (scope: the enterprises of the
user's scope, and for a contractor its own company only), choices scoped the same way, form
fields and messages. Scoping is done in the queries: every list function of
``workflows.contractors`` takes ``enterprise_ids`` and ``company_id`` from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
import psycopg
from dash import html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.auth import WebUser
from hazwatch.registers import Actor

#: Who may change things (enterprise side); operators and regulators read.
STAFF = frozenset({"admin", "engineer"})
READERS = frozenset({"admin", "engineer", "operator", "regulator", "contractor"})


@dataclass(frozen=True)
class Viewer:
    user: WebUser
    enterprise_ids: list[int] | None  # None: every enterprise
    company_id: int | None  # a contractor's own company; None for the enterprise side

    @property
    def actor(self) -> Actor:
        return Actor(self.user.id, self.user.name)

    @property
    def staff(self) -> bool:
        return self.user.role in STAFF

    @property
    def contractor(self) -> bool:
        return self.user.role == "contractor"


def viewer(conn: psycopg.Connection) -> Viewer | None:
    """The signed-in user with their scope, or None (not signed in, or no business here)."""
    user = auth.current_user()
    if user is None or user.role not in READERS:
        return None
    if user.role == "contractor" and user.contractor_company_id is None:
        return None
    company = int(user.contractor_company_id) if user.role == "contractor" else None
    return Viewer(user, user.scope.enterprise_ids(conn), company)


def callback_viewer(conn: psycopg.Connection) -> Viewer:
    """The viewer for a callback; without one (signed out meanwhile) the update is dropped.

    v = callback_viewer(conn)
    """
    v = viewer(conn)
    if v is None:
        raise dash.exceptions.PreventUpdate
    return v


def company_options(conn: psycopg.Connection, v: Viewer) -> list[dict[str, Any]]:
    cond, params = v.user.scope.condition("c.enterprise_id")
    ccond, cparams = v.user.scope.company_condition("c.id")
    rows = conn.execute(
        sql.SQL(
            "SELECT c.id, c.name FROM contractor.company c WHERE {} AND {}"
            " ORDER BY c.name LIMIT 500"
        ).format(cond, ccond),
        (*params, *cparams),
    ).fetchall()
    return [{"label": n, "value": i} for i, n in rows]


def project_options(conn: psycopg.Connection, v: Viewer) -> list[dict[str, Any]]:
    cond, params = v.user.scope.condition("p.enterprise_id")
    ccond, cparams = v.user.scope.company_condition("p.company_id")
    rows = conn.execute(
        sql.SQL(
            "SELECT p.id, p.code || ' ' || p.name FROM contractor.project p WHERE {} AND {}"
            " ORDER BY p.code LIMIT 500"
        ).format(cond, ccond),
        (*params, *cparams),
    ).fetchall()
    return [{"label": n, "value": i} for i, n in rows]


def enterprise_options(conn: psycopg.Connection, v: Viewer) -> list[dict[str, Any]]:
    """Enterprises in scope that have contractors."""
    cond, params = v.user.scope.condition("e.id")
    rows = conn.execute(
        sql.SQL(
            "SELECT e.id, e.name FROM registry.enterprise e WHERE {} AND EXISTS"
            " (SELECT 1 FROM contractor.company c WHERE c.enterprise_id = e.id)"
            " ORDER BY e.name LIMIT 500"
        ).format(cond),
        params,
    ).fetchall()
    return [{"label": n, "value": i} for i, n in rows]


def field(label: str, component: Any) -> html.Label:
    return html.Label([html.Span(label), component], className="cx-field")


def ok(text: str) -> html.Div:
    return html.Div(text, className="hw-ok")


def refused(error: object) -> html.Div:
    return html.Div(i18n.t("cop.refused", error=str(error)), className="hw-error")


def when(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        return i18n.fmt_datetime(value)
    return str(value)


i18n.register(
    {
        "cop.refused": {"zh": "未执行：{error}", "en": "Not done: {error}"},
        "cop.none": {"zh": "暂无", "en": "None"},
        "cop.readonly": {"zh": "只读：您的角色不能修改。", "en": "Read only for your role."},
        "cop.company": {"zh": "承包商单位", "en": "Contractor company"},
        "cop.project": {"zh": "项目", "en": "Project"},
        "cop.enterprise": {"zh": "企业", "en": "Enterprise"},
        "cop.reason": {"zh": "原因", "en": "Reason"},
        "cop.status": {"zh": "状态", "en": "Status"},
        "cop.since": {"zh": "起始", "en": "Since"},
        "cop.name": {"zh": "名称", "en": "Name"},
        "cop.person_code": {"zh": "人员编码", "en": "Person code"},
        "cop.from": {"zh": "开始", "en": "From"},
        "cop.until": {"zh": "结束", "en": "Until"},
        "cop.save": {"zh": "保存", "en": "Save"},
    }
)
