"""Editing a dashboard (D1): title, sharing, enterprise; panels added, changed and removed
with a form, or the whole definition edited as JSON. Nothing is written until "save", which
validates everything again and refuses to overwrite a newer version.

The definition being edited lives in the browser (``de-def``); every change to it goes
through ``spec.validate_panel`` / ``spec.validate``, and each problem is shown with its field.
"""

from __future__ import annotations

import json
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboards import auth, i18n
from dashboards.layout import forbidden, register_page
from dashboards.panels import spec, store
from dashboards.panels.spec import PANEL_TYPES, REDUCERS, SpecError
from dashboards.panels.store import StoreError

i18n.register(
    {
        "de.title": {"zh": "编辑看板", "en": "Edit dashboard"},
        "de.name": {"zh": "看板名称", "en": "Title"},
        "de.shared": {"zh": "共享给本范围内的用户", "en": "Share with users of this scope"},
        "de.enterprise": {"zh": "所属企业（可选）", "en": "Enterprise (optional)"},
        "de.panels": {"zh": "面板", "en": "Panels"},
        "de.no_panels": {"zh": "还没有面板。", "en": "No panels yet."},
        "de.panel_form": {"zh": "添加或修改面板", "en": "Add or change a panel"},
        "de.p.type": {"zh": "类型", "en": "Type"},
        "de.p.title": {"zh": "标题", "en": "Title"},
        "de.p.tags": {
            "zh": "测点（名称或编号，逗号分隔；$tag / $unit 取变量）",
            "en": "Tags (names or ids, comma separated; $tag / $unit use the variables)",
        },
        "de.p.reduce": {"zh": "取值方式", "en": "Reduce"},
        "de.p.thresholds": {
            "zh": "阈值（如 80:orange, 90:red）",
            "en": "Thresholds (e.g. 80:orange, 90:red)",
        },
        "de.p.width": {"zh": "宽度（1-12 列）", "en": "Width (1-12 columns)"},
        "de.p.height": {"zh": "高度（3-20 行）", "en": "Height (3-20 rows)"},
        "de.add": {"zh": "添加面板", "en": "Add panel"},
        "de.update": {"zh": "更新面板", "en": "Update panel"},
        "de.edit": {"zh": "修改", "en": "Edit"},
        "de.remove": {"zh": "移除", "en": "Remove"},
        "de.json": {"zh": "JSON 定义（高级）", "en": "JSON definition (advanced)"},
        "de.json_apply": {"zh": "应用 JSON", "en": "Apply JSON"},
        "de.save": {"zh": "保存", "en": "Save"},
        "de.saved": {"zh": "已保存（版本 {version}）。", "en": "Saved (version {version})."},
        "de.view": {"zh": "查看看板", "en": "View dashboard"},
        "de.errors": {"zh": "请修正以下问题：", "en": "Please fix:"},
        "de.type.timeseries": {"zh": "趋势图", "en": "Time series"},
        "de.type.stat": {"zh": "数值", "en": "Stat"},
        "de.type.gauge": {"zh": "仪表盘", "en": "Gauge"},
        "de.type.bar": {"zh": "柱状图", "en": "Bar"},
        "de.type.table": {"zh": "表格", "en": "Table"},
        "de.type.heatmap": {"zh": "热力图", "en": "Heatmap"},
        "de.type.state_timeline": {"zh": "状态时间线", "en": "State timeline"},
        "de.reduce.last": {"zh": "最新值", "en": "Last"},
        "de.reduce.avg": {"zh": "平均值", "en": "Average"},
        "de.reduce.min": {"zh": "最小值", "en": "Min"},
        "de.reduce.max": {"zh": "最大值", "en": "Max"},
    }
)


def _errors(errors: list[str], id_: str) -> Any:
    if not errors:
        return ""
    return html.Div(
        [html.Div(i18n.t("de.errors")), html.Ul([html.Li(e) for e in errors])],
        className="hw-error",
        id=id_,
        role="alert",
    )


def _panel_list(definition: dict[str, Any]) -> Any:
    t = i18n.t
    panels = definition.get("panels", [])
    if not panels:
        return html.Div(t("de.no_panels"), className="hw-muted")
    return html.Ol(
        [
            html.Li(
                className="de-panel-item",
                children=[
                    html.Span(
                        f"{p['title']} · {t('de.type.' + p['type'])} · "
                        f"{', '.join(map(str, p['tags']))}",
                        className="de-panel-text",
                    ),
                    html.Button(
                        t("de.edit"),
                        id={"type": "de-edit", "index": i},
                        n_clicks=0,
                        className="hw-btn hw-btn-light",
                    ),
                    html.Button(
                        t("de.remove"),
                        id={"type": "de-remove", "index": i},
                        n_clicks=0,
                        className="hw-btn hw-btn-danger",
                    ),
                ],
            )
            for i, p in enumerate(panels)
        ],
        id="de-panel-list",
    )


def _field(label_key: str, control: Any, for_id: str) -> html.Div:
    return html.Div([html.Label(i18n.t(label_key), htmlFor=for_id), control], className="de-field")


def layout(uid: str = "", **_query: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        board = store.get(conn, user, uid)
        if board is None:
            return html.Div(t("dv.missing"), className="hw-error", id="dv-missing")
        if not store.can_edit(user, board):
            return forbidden()
        enterprises = (
            conn.execute(
                "SELECT id, name FROM registry.enterprise WHERE id = ANY(%s) ORDER BY name",
                (user.scope.enterprise_ids(conn) or [],),
            ).fetchall()
            if not user.scope.all_enterprises
            else conn.execute(
                "SELECT e.id, e.name FROM registry.enterprise e WHERE EXISTS"
                " (SELECT 1 FROM registry.tag t WHERE t.enterprise_id = e.id) OR e.id = %s"
                " ORDER BY e.name LIMIT 500",
                (board.enterprise_id,),
            ).fetchall()
        )
    form = html.Div(
        className="de-form hw-card",
        id="de-form",
        children=[
            html.H2(t("de.panel_form")),
            _field(
                "de.p.type",
                dcc.RadioItems(
                    id="de-p-type",
                    value="timeseries",
                    inline=True,
                    className="de-radio",
                    options=[{"label": t("de.type." + k), "value": k} for k in PANEL_TYPES],
                ),
                "de-p-type",
            ),
            _field(
                "de.p.title",
                dcc.Input(id="de-p-title", className="hw-input", maxLength=100),
                "de-p-title",
            ),
            _field(
                "de.p.tags", dcc.Input(id="de-p-tags", className="hw-input de-wide"), "de-p-tags"
            ),
            _field(
                "de.p.reduce",
                dcc.RadioItems(
                    id="de-p-reduce",
                    value="last",
                    inline=True,
                    className="de-radio",
                    options=[{"label": t("de.reduce." + k), "value": k} for k in REDUCERS],
                ),
                "de-p-reduce",
            ),
            _field(
                "de.p.thresholds",
                dcc.Input(id="de-p-thresholds", className="hw-input de-wide"),
                "de-p-thresholds",
            ),
            _field(
                "de.p.width",
                dcc.Input(
                    id="de-p-width", type="number", min=1, max=12, value=6, className="hw-input"
                ),
                "de-p-width",
            ),
            _field(
                "de.p.height",
                dcc.Input(
                    id="de-p-height", type="number", min=3, max=20, value=8, className="hw-input"
                ),
                "de-p-height",
            ),
            html.Button(t("de.add"), id="de-add", n_clicks=0, className="hw-btn"),
            html.Div(id="de-form-error"),
        ],
    )
    return html.Div(
        [
            html.H1(t("de.title"), id="page-title"),
            html.Div(
                className="de-meta hw-card",
                children=[
                    _field(
                        "de.name",
                        dcc.Input(
                            id="de-name",
                            value=board.title,
                            className="hw-input de-wide",
                            maxLength=200,
                        ),
                        "de-name",
                    ),
                    dcc.Checklist(
                        id="de-shared",
                        options=[{"label": t("de.shared"), "value": "shared"}],
                        value=["shared"] if board.shared else [],
                    ),
                    _field(
                        "de.enterprise",
                        dcc.Dropdown(
                            id="de-enterprise",
                            value=board.enterprise_id,
                            options=[{"label": n, "value": i} for i, n in enterprises],
                            className="hw-dropdown",
                        ),
                        "de-enterprise",
                    ),
                ],
            ),
            html.H2(t("de.panels")),
            html.Div(_panel_list(board.definition), id="de-panels"),
            form,
            html.Details(
                [
                    html.Summary(t("de.json")),
                    dcc.Textarea(
                        id="de-json",
                        className="de-json",
                        value=json.dumps(board.definition, ensure_ascii=False, indent=2),
                    ),
                    html.Button(
                        t("de.json_apply"), id="de-json-apply", n_clicks=0, className="hw-btn"
                    ),
                    html.Div(id="de-json-error"),
                ],
                className="de-json-box",
            ),
            html.Div(
                className="de-save-row",
                children=[
                    html.Button(t("de.save"), id="de-save", n_clicks=0, className="hw-btn"),
                    dcc.Link(t("de.view"), href=f"/d/{board.uid}", id="de-view"),
                ],
            ),
            html.Div(id="de-save-msg", role="status"),
            dcc.Store(id="de-def", data=board.definition),
            dcc.Store(id="de-meta", data={"uid": board.uid, "version": board.version}),
            dcc.Store(id="de-editing", data=None),
        ]
    )


def panel_from_form(
    definition: dict[str, Any],
    editing: int | None,
    ptype: str | None,
    title: str | None,
    tags: str | None,
    reduce: str | None,
    thresholds: str | None,
    width: Any,
    height: Any,
) -> dict[str, Any]:
    """The definition with the form's panel added (or replacing panel ``editing``)."""
    errors: list[str] = []
    try:
        parsed_thresholds: list[dict[str, Any]] = spec.parse_thresholds(thresholds or "")
    except SpecError as exc:
        errors.extend(exc.errors)
        parsed_thresholds = []
    panels = list(definition.get("panels", []))
    keep = panels[editing] if editing is not None and 0 <= editing < len(panels) else None
    raw = {
        "id": keep["id"] if keep else spec.new_panel_id(definition),
        "type": ptype,
        "title": title or "",
        "tags": spec.parse_tag_refs(tags or ""),
        "reduce": reduce or "last",
        "thresholds": parsed_thresholds,
        "width": width,
        "height": height,
    }
    if keep:
        raw.update({k: keep[k] for k in ("min", "max", "unit") if keep.get(k) is not None})
    panel = spec.validate_panel(raw, "panel", errors)
    if errors:
        raise SpecError(errors)
    if keep:
        panels[panels.index(keep)] = panel
    else:
        panels.append(panel)
    return spec.validate({**definition, "panels": panels})


def register(app: dash.Dash) -> None:
    register_page(
        __name__, "/dashboard-edit/<uid>", "dashboard-edit", 22, layout, title="de.title", nav=False
    )

    @app.callback(
        Output("de-panels", "children"),
        Output("de-json", "value"),
        Input("de-def", "data"),
        prevent_initial_call=True,
    )
    def show(definition: dict[str, Any]) -> tuple[Any, str]:
        return _panel_list(definition), json.dumps(definition, ensure_ascii=False, indent=2)

    @app.callback(
        Output("de-def", "data"),
        Output("de-form-error", "children"),
        Output("de-json-error", "children"),
        Output("de-editing", "data"),
        Output("de-add", "children"),
        Input("de-add", "n_clicks"),
        Input({"type": "de-remove", "index": ALL}, "n_clicks"),
        Input("de-json-apply", "n_clicks"),
        State("de-def", "data"),
        State("de-editing", "data"),
        State("de-p-type", "value"),
        State("de-p-title", "value"),
        State("de-p-tags", "value"),
        State("de-p-reduce", "value"),
        State("de-p-thresholds", "value"),
        State("de-p-width", "value"),
        State("de-p-height", "value"),
        State("de-json", "value"),
        prevent_initial_call=True,
    )
    def change(
        _add: int | None,
        _removes: list[int | None],
        _apply: int | None,
        definition: dict[str, Any],
        editing: int | None,
        ptype: str | None,
        title: str | None,
        tags: str | None,
        reduce: str | None,
        thresholds: str | None,
        width: Any,
        height: Any,
        text: str | None,
    ) -> tuple[Any, Any, Any, Any, Any]:
        trigger = ctx.triggered_id
        if not ctx.triggered or not ctx.triggered[0]["value"]:
            raise dash.exceptions.PreventUpdate
        add_label = i18n.t("de.add")
        if trigger == "de-add":
            try:
                new = panel_from_form(
                    definition, editing, ptype, title, tags, reduce, thresholds, width, height
                )
            except SpecError as exc:
                return no_update, _errors(exc.errors, "de-form-errors"), "", no_update, no_update
            return new, "", "", None, add_label
        if trigger == "de-json-apply":
            try:
                doc = json.loads(text or "")
            except json.JSONDecodeError as exc:
                msg = f"JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                return no_update, "", _errors([msg], "de-json-errors"), no_update, no_update
            try:
                new = spec.validate(doc)
            except SpecError as exc:
                return no_update, "", _errors(exc.errors, "de-json-errors"), no_update, no_update
            return new, "", "", None, add_label
        if isinstance(trigger, dict) and trigger.get("type") == "de-remove":
            panels = list(definition.get("panels", []))
            index = int(trigger["index"])
            if 0 <= index < len(panels):
                panels.pop(index)
            return {**definition, "panels": panels}, "", "", None, add_label
        raise dash.exceptions.PreventUpdate

    @app.callback(
        Output("de-p-type", "value"),
        Output("de-p-title", "value"),
        Output("de-p-tags", "value"),
        Output("de-p-reduce", "value"),
        Output("de-p-thresholds", "value"),
        Output("de-p-width", "value"),
        Output("de-p-height", "value"),
        Output("de-editing", "data", allow_duplicate=True),
        Output("de-add", "children", allow_duplicate=True),
        Input({"type": "de-edit", "index": ALL}, "n_clicks"),
        State("de-def", "data"),
        prevent_initial_call=True,
    )
    def pick(_clicks: list[int | None], definition: dict[str, Any]) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not ctx.triggered[0]["value"]:
            raise dash.exceptions.PreventUpdate
        index = int(trigger["index"])
        panels = definition.get("panels", [])
        if not 0 <= index < len(panels):
            raise dash.exceptions.PreventUpdate
        p = panels[index]
        return (
            p["type"],
            p["title"],
            ", ".join(map(str, p["tags"])),
            p.get("reduce", "last"),
            spec.format_thresholds(p.get("thresholds", [])),
            p["width"],
            p["height"],
            index,
            i18n.t("de.update"),
        )

    @app.callback(
        Output("de-save-msg", "children"),
        Output("de-save-msg", "className"),
        Output("de-meta", "data"),
        Input("de-save", "n_clicks"),
        State("de-name", "value"),
        State("de-shared", "value"),
        State("de-enterprise", "value"),
        State("de-def", "data"),
        State("de-meta", "data"),
        prevent_initial_call=True,
    )
    def save(
        n: int | None,
        title: str | None,
        shared: list[str] | None,
        enterprise: int | None,
        definition: dict[str, Any],
        meta: dict[str, Any],
    ) -> tuple[Any, str, Any]:
        user = auth.current_user()
        if user is None or not n:
            raise dash.exceptions.PreventUpdate
        try:
            with auth.db_pool().connection() as conn:
                version = store.save(
                    conn,
                    user,
                    meta["uid"],
                    int(meta["version"]),
                    title=title or "",
                    shared="shared" in (shared or []),
                    enterprise_id=enterprise,
                    definition=definition,
                )
        except SpecError as exc:
            return _errors(exc.errors, "de-save-errors"), "", no_update
        except StoreError as exc:
            return _errors([str(exc)], "de-save-errors"), "", no_update
        return (i18n.t("de.saved", version=version), "hw-ok", {**meta, "version": version})
