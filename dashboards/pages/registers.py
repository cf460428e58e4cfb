"""Register screens (D4): one page, a register picker on the left, the editable grid on the
right; ``/registers?r=unit`` opens a register directly. The region register shows the
region → enterprise tree of the user's scope above its grid."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import dash
import psycopg
from dash import dcc, html
from psycopg import sql

from dashboards import auth, i18n
from dashboards.auth import Scope
from dashboards.components import grid
from dashboards.layout import forbidden, register_page
from dashboards.register_specs import SPECS, RegisterSpec, can_view, visible_specs

PATH = "/registers"
#: Enterprises listed under one region of the tree before "… n more".
TREE_LIMIT = 30


def enterprises_by_region(conn: psycopg.Connection, scope: Scope) -> dict[int, list[str]]:
    """Names of the enterprises in ``scope`` per region id."""
    cond, params = scope.condition("e.id")
    rows = conn.execute(
        sql.SQL(
            "SELECT e.region_id, e.name FROM registry.enterprise e WHERE {} ORDER BY e.name"
        ).format(cond),
        params,
    ).fetchall()
    out: dict[int, list[str]] = defaultdict(list)
    for region_id, name in rows:
        out[region_id].append(name)
    return out


def _tree(user: Any) -> html.Div:
    """Nested ``<details>``: only regions with enterprises in scope (or below them) appear."""
    with auth.db_pool().connection() as conn:
        regions = conn.execute(
            "SELECT id, name, parent_id FROM registry.region ORDER BY code"
        ).fetchall()
        ents = enterprises_by_region(conn, user.scope)
    children: dict[int | None, list[tuple[int, str]]] = defaultdict(list)
    for rid, name, parent in regions:
        children[parent].append((rid, name))

    def count(rid: int) -> int:
        return len(ents.get(rid, [])) + sum(count(c) for c, _ in children.get(rid, []))

    def node(rid: int, name: str, depth: int) -> html.Details | None:
        n = count(rid)
        if n == 0:
            return None
        names = ents.get(rid, [])
        items: list[Any] = [node(c, cn, depth + 1) for c, cn in children.get(rid, [])]
        leaf = [html.Li(e, className="reg-tree-ent") for e in names[:TREE_LIMIT]]
        if len(names) > TREE_LIMIT:
            leaf.append(html.Li(f"… +{len(names) - TREE_LIMIT}", className="hw-muted"))
        return html.Details(
            [
                html.Summary(f"{name} ({n})"),
                html.Div([i for i in items if i is not None], className="reg-tree-sub"),
                html.Ul(leaf, className="reg-tree-ents"),
            ],
            open=depth < 2,
            className="reg-tree-node",
        )

    roots = [node(rid, name, 0) for rid, name in children.get(None, [])]
    return html.Div(
        [html.H2(i18n.t("reg.tree")), *[r for r in roots if r is not None]],
        className="hw-card reg-tree",
        id="reg-tree",
    )


def _picker(specs: list[RegisterSpec], current: RegisterSpec) -> html.Nav:
    groups: dict[str, list[Any]] = defaultdict(list)
    for spec in specs:
        cls = "reg-link reg-link-active" if spec.key == current.key else "reg-link"
        groups[spec.group].append(
            dcc.Link(
                spec.title(), href=f"{PATH}?r={spec.key}", className=cls, id=f"reg-link-{spec.key}"
            )
        )
    blocks = [
        html.Div([html.H3(i18n.t(f"reg.group.{g}")), *links], className="reg-group")
        for g, links in groups.items()
    ]
    return html.Nav(
        blocks, className="reg-picker", id="reg-picker", **{"aria-label": i18n.t("reg.pick")}
    )


def layout(r: str | None = None, q: str | None = None, **_query: Any) -> html.Div:
    """``/registers?r=<register>&q=<search>``."""
    user = auth.current_user()
    if user is None:
        return html.Div()
    specs = visible_specs(user)
    spec = SPECS.get(r or "") or (specs[0] if specs else None)
    if spec is None or not can_view(user, spec):
        return forbidden()
    main: list[Any] = [html.H1(spec.title(), id="page-title")]
    if spec.key == "region":
        main.append(_tree(user))
    main.append(grid.register_grid(spec, user, q or ""))
    return html.Div(
        className="reg-page",
        children=[_picker(specs, spec), html.Div(main, className="reg-main")],
    )


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "registers", 50, layout, title="reg.title")
    grid.register_callbacks(app)
