"""The audit log (admin only): newest first, paged, filtered by entity and actor."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
import psycopg
from dash import Input, Output, State, ctx, dcc, html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.layout import forbidden, register_page

i18n.register(
    {
        "audit.before": {"zh": "修改前", "en": "Before"},
        "audit.after": {"zh": "修改后", "en": "After"},
    }
)

PAGE_SIZE = 50


def audit_page(
    conn: psycopg.Connection, entity: str | None, actor: str | None, page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of entries (newest first) and the number of matching entries."""
    where: list[sql.Composable] = []
    params: list[Any] = []
    if entity:
        where.append(sql.SQL("entity = %s"))
        params.append(entity)
    if actor:
        where.append(sql.SQL("actor ILIKE %s"))
        params.append(
            "%" + actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
    cond = sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE")
    total = conn.execute(
        sql.SQL("SELECT count(*) FROM audit.log WHERE {}").format(cond), params
    ).fetchone()
    rows = conn.execute(
        sql.SQL(
            "SELECT at, actor, action, entity, entity_id, reason, before, after "
            "FROM audit.log WHERE {} ORDER BY at DESC, id DESC LIMIT %s OFFSET %s"
        ).format(cond),
        [*params, PAGE_SIZE, page * PAGE_SIZE],
    ).fetchall()
    out = [
        {
            "at": i18n.fmt_datetime(at, seconds=True),
            "actor": who,
            "action": action,
            "entity": ent,
            "entity_id": ent_id or "",
            "reason": reason or "",
            "changes": changes(before, after),
            "before": _json(before),
            "after": _json(after),
        }
        for at, who, action, ent, ent_id, reason, before, after in rows
    ]
    return out, int(total[0]) if total else 0


#: Bookkeeping columns left out of the change summary.
_QUIET = frozenset({"updated_at", "created_at"})


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """What changed, in one line: ``name: 旧 → 新; phone: ∅ → 0351…`` for an update, the
    fields set for an insert, the fields removed for a delete.

    >>> changes({"id": 1, "name": "a"}, {"id": 1, "name": "b"})
    'name: a → b'
    """
    if before is not None and after is not None:
        keys = [k for k in after if k not in _QUIET and before.get(k) != after.get(k)]
        return "; ".join(
            f"{k}: {_short(before.get(k)) if before.get(k) is not None else '∅'} → "
            f"{_short(after[k]) if after[k] is not None else '∅'}"
            for k in keys
        )
    row = after if after is not None else before
    if not row:
        return ""
    return "; ".join(
        f"{k}: {_short(v)}" for k, v in row.items() if k not in _QUIET and v not in (None, "")
    )


def layout(**_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None or not user.is_admin:
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        entities = [r[0] for r in conn.execute("SELECT DISTINCT entity FROM audit.log ORDER BY 1")]
    columns = [
        {"field": "at", "headerName": t("audit.at"), "minWidth": 170},
        {"field": "actor", "headerName": t("audit.actor")},
        {"field": "action", "headerName": t("audit.action")},
        {"field": "entity", "headerName": t("audit.entity")},
        {"field": "entity_id", "headerName": t("audit.entity_id"), "maxWidth": 120},
        {"field": "reason", "headerName": t("audit.reason")},
        {
            "field": "changes",
            "headerName": t("audit.detail"),
            "flex": 3,
            "tooltipField": "changes",
            "wrapText": True,
            "autoHeight": True,
        },
        {"field": "before", "headerName": t("audit.before"), "tooltipField": "before"},
        {"field": "after", "headerName": t("audit.after"), "tooltipField": "after"},
    ]
    return html.Div(
        [
            html.H1(t("audit.title"), id="page-title"),
            html.Div(
                className="hw-filters",
                children=[
                    html.Label(t("audit.entity"), htmlFor="audit-entity"),
                    dcc.Dropdown(
                        id="audit-entity",
                        options=[{"label": e, "value": e} for e in entities],
                        placeholder=t("audit.all"),
                        className="hw-dropdown",
                    ),
                    html.Label(t("audit.actor"), htmlFor="audit-actor"),
                    dcc.Input(id="audit-actor", type="search", debounce=True, className="hw-input"),
                ],
            ),
            dag.AgGrid(
                id="audit-grid",
                columnDefs=columns,
                rowData=[],
                defaultColDef={"flex": 1, "minWidth": 100, "resizable": True, "sortable": False},
                dashGridOptions={"domLayout": "autoHeight", "tooltipShowDelay": 300},
                className="hw-grid",
            ),
            html.Div(
                className="hw-pager",
                children=[
                    html.Button(t("audit.prev"), id="audit-prev", className="hw-btn", n_clicks=0),
                    html.Span(id="audit-page-label", className="hw-muted"),
                    html.Button(t("audit.next"), id="audit-next", className="hw-btn", n_clicks=0),
                ],
            ),
            dcc.Store(id="audit-page", data=0),
        ]
    )


def register(app: dash.Dash) -> None:
    # The entry is in NAV from the start (before the pages that insert theirs after "/").
    register_page(__name__, "/audit", "audit", 90, layout, title="audit.title", nav=False)

    @app.callback(
        Output("audit-grid", "rowData"),
        Output("audit-page-label", "children"),
        Output("audit-page", "data"),
        Input("audit-entity", "value"),
        Input("audit-actor", "value"),
        Input("audit-prev", "n_clicks"),
        Input("audit-next", "n_clicks"),
        State("audit-page", "data"),
    )
    def load(
        entity: str | None, actor: str | None, _prev: int, _next: int, page: int | None
    ) -> tuple[list[dict[str, Any]], str, int]:
        user = auth.current_user()
        if user is None or not user.is_admin:  # the layout says so too; this is the data
            raise dash.exceptions.PreventUpdate
        page = page or 0
        trigger = ctx.triggered_id
        if trigger == "audit-next":
            page += 1
        elif trigger == "audit-prev":
            page = max(0, page - 1)
        elif trigger in ("audit-entity", "audit-actor"):
            page = 0
        with auth.db_pool().connection() as conn:
            rows, total = audit_page(conn, entity, (actor or "").strip() or None, page)
            last = max(0, (total - 1) // PAGE_SIZE)
            if page > last:
                page = last
                rows, total = audit_page(conn, entity, (actor or "").strip() or None, page)
        return rows, i18n.t("audit.page", page=page + 1, total=total), page
