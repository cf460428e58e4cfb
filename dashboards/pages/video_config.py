"""Video analysis setup (issue 9, page 5; V2-V4): cameras and NVRs (the password is entered,
stored encrypted and never shown back), analysis nodes with their state, algorithms and their
versions (upgrade = make a version current), tasks and the algorithms each runs with
thresholds, schedule and cooldown; zones are drawn in the zone editor (a link per algorithm).
Administrators and engineers change it; everyone else in scope reads it."""

from __future__ import annotations

import json
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from psycopg import sql
from psycopg.rows import dict_row

from dashboards import auth, i18n
from dashboards.components.basic import table
from dashboards.layout import forbidden, register_page
from dashboards.pages import video_common as vc
from hazwatch.errors import HazwatchError
from video import registry
from video.crypto import CredentialBox, redact

PATH = "/video/config"
VIEWERS = frozenset({"admin", "engineer", "operator"})

i18n.register(
    {
        "vc.title": {"zh": "视频分析配置", "en": "Video analysis setup"},
        "vc.cameras": {"zh": "摄像机与硬盘录像机", "en": "Cameras and NVRs"},
        "vc.nodes": {"zh": "分析节点", "en": "Analysis nodes"},
        "vc.algorithms": {"zh": "识别算法与版本", "en": "Algorithms and versions"},
        "vc.tasks": {"zh": "分析任务", "en": "Analysis tasks"},
        "vc.new": {"zh": "（新建）", "en": "(new)"},
        "vc.code": {"zh": "编号", "en": "Code"},
        "vc.name": {"zh": "名称", "en": "Name"},
        "vc.kind": {"zh": "类型", "en": "Kind"},
        "vc.url": {"zh": "视频流地址（RTSP 或文件）", "en": "Stream URL (RTSP or file)"},
        "vc.username": {"zh": "用户名", "en": "User name"},
        "vc.password": {"zh": "密码", "en": "Password"},
        "vc.password.hint": {
            "zh": "留空则不修改；加密保存，不再显示",
            "en": "blank keeps it; stored encrypted, never shown",
        },
        "vc.password.set": {"zh": "已设置", "en": "set"},
        "vc.password.unset": {"zh": "未设置", "en": "not set"},
        "vc.enabled": {"zh": "启用", "en": "Enabled"},
        "vc.host": {"zh": "主机", "en": "Host"},
        "vc.gpu": {"zh": "GPU", "en": "GPU"},
        "vc.max_streams": {"zh": "最大路数", "en": "Max streams"},
        "vc.online": {"zh": "在线（{n} 个进程）", "en": "online ({n} workers)"},
        "vc.offline": {"zh": "离线", "en": "offline"},
        "vc.current": {"zh": "当前版本", "en": "Current version"},
        "vc.versions": {"zh": "全部版本", "en": "Versions"},
        "vc.version": {"zh": "版本号", "en": "Version"},
        "vc.params": {"zh": "参数（JSON）", "en": "Parameters (JSON)"},
        "vc.notes": {"zh": "说明", "en": "Notes"},
        "vc.release": {"zh": "发布新版本", "en": "Release version"},
        "vc.make_current": {"zh": "设为当前版本（升级）", "en": "Make current (upgrade)"},
        "vc.node": {"zh": "分析节点", "en": "Node"},
        "vc.any_node": {"zh": "任意节点", "en": "any node"},
        "vc.max_fps": {"zh": "最大分析帧率", "en": "Max fps"},
        "vc.loop": {"zh": "文件循环播放", "en": "Loop file"},
        "vc.algos": {"zh": "算法（区域编辑）", "en": "Algorithms (zone editor)"},
        "vc.holder": {"zh": "运行状态", "en": "Running"},
        "vc.bind": {"zh": "任务算法设置", "en": "Algorithm of a task"},
        "vc.schedule": {"zh": "时间计划（JSON，空为全天）", "en": "Schedule (JSON, empty: always)"},
        "vc.cooldown": {"zh": "冷却时间（秒）", "en": "Cooldown (s)"},
        "vc.bad_json": {
            "zh": "{field}：不是有效的 JSON（{error}）",
            "en": "{field}: not valid JSON ({error})",
        },
        "vc.need": {"zh": "请填写：{fields}", "en": "Please fill in: {fields}"},
    }
)


def _can_write() -> bool:
    user = auth.current_user()
    return user is not None and user.role in vc.CONFIGURERS


def _field(label: str, component: Any) -> html.Div:
    return html.Div([html.Label(label), component], style={"minWidth": "160px", "flex": "1"})


def _row(*fields: Any) -> html.Div:
    return html.Div(
        list(fields),
        className="hw-form-row",
        style={"display": "flex", "gap": "8px", "flexWrap": "wrap"},
    )


def _json(text: str | None, field: str, want: type) -> Any:
    if not text or not text.strip():
        return want()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise HazwatchError(i18n.t("vc.bad_json", field=field, error=exc)) from None
    if not isinstance(value, want):
        raise HazwatchError(i18n.t("vc.bad_json", field=field, error=want.__name__))
    return value


# --- tables ----------------------------------------------------------------------------------


def _query(query: str, scope_column: str, *extra: Any) -> list[dict[str, Any]]:
    user = auth.current_user()
    if user is None:
        return []
    cond, params = user.scope.condition(scope_column)
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql.SQL(query).format(scope=cond), (*params, *extra)).fetchall()


def cameras_table() -> Any:
    t = i18n.t
    rows = _query(
        "SELECT c.id, c.code, c.name, c.kind, c.stream_url, c.username, c.enabled,"
        " c.secret_enc IS NOT NULL AS has_secret, e.name AS enterprise FROM registry.camera c"
        " JOIN registry.enterprise e ON e.id = c.enterprise_id WHERE {scope}"
        " ORDER BY e.name, c.code LIMIT 300",
        "c.enterprise_id",
    )
    return table(
        [
            t("vid.enterprise"),
            t("vc.code"),
            t("vc.name"),
            t("vc.kind"),
            t("vc.url"),
            t("vc.username"),
            t("vc.password"),
            t("vc.enabled"),
        ],
        [
            [
                r["enterprise"],
                r["code"],
                r["name"],
                r["kind"],
                redact(r["stream_url"] or ""),
                r["username"] or "-",
                t("vc.password.set") if r["has_secret"] else t("vc.password.unset"),
                "✓" if r["enabled"] else "✗",
            ]
            for r in rows
        ],
        "vc-cameras-table",
        t("vid.none"),
    )


def nodes_table() -> Any:
    t = i18n.t
    rows = _query(
        "SELECT n.code, n.name, n.host, n.gpu, n.max_streams, n.enabled, e.name AS enterprise,"
        " (SELECT count(*) FROM video.worker w WHERE w.node_id = n.id"
        "  AND w.heartbeat_at > now() - interval '1 minute') AS workers"
        " FROM video.node n JOIN registry.enterprise e ON e.id = n.enterprise_id"
        " WHERE {scope} ORDER BY e.name, n.code",
        "n.enterprise_id",
    )
    return table(
        [
            t("vid.enterprise"),
            t("vc.code"),
            t("vc.name"),
            t("vc.host"),
            t("vc.gpu"),
            t("vc.max_streams"),
            t("vid.state"),
        ],
        [
            [
                r["enterprise"],
                r["code"],
                r["name"],
                r["host"] or "-",
                r["gpu"] or "-",
                r["max_streams"],
                t("vc.online", n=r["workers"]) if r["workers"] else t("vc.offline"),
            ]
            for r in rows
        ],
        "vc-nodes-table",
        t("vid.none"),
    )


def _algorithms() -> list[dict[str, Any]]:
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT a.code, a.name_zh, a.name_en,"
            " max(v.version) FILTER (WHERE v.is_current) AS current,"
            " string_agg(v.version, ', ' ORDER BY v.released_at) AS versions"
            " FROM video.algorithm a LEFT JOIN video.algorithm_version v ON v.algorithm_id = a.id"
            " GROUP BY a.id ORDER BY a.id"
        ).fetchall()


def algorithms_table() -> Any:
    t = i18n.t
    lang = i18n.current_lang()
    return table(
        [t("vc.code"), t("vc.name"), t("vc.current"), t("vc.versions")],
        [
            [
                r["code"],
                r["name_zh"] if lang == "zh" else r["name_en"],
                r["current"] or "-",
                r["versions"] or "-",
            ]
            for r in _algorithms()
        ],
        "vc-algorithms-table",
        t("vid.none"),
    )


def tasks_table() -> Any:
    t = i18n.t
    rows = _query(
        "SELECT t.id, t.code, t.name, t.max_fps, t.enabled, c.code AS camera, n.code AS node,"
        " s.state, l.worker,"
        " coalesce((SELECT json_agg(json_build_object('id', ta.id, 'code', a.code,"
        "   'zones', jsonb_array_length(ta.zones)) ORDER BY a.code)"
        "   FROM video.task_algorithm ta JOIN video.algorithm a ON a.id = ta.algorithm_id"
        "   WHERE ta.task_id = t.id), '[]') AS algos"
        " FROM video.task t JOIN registry.camera c ON c.id = t.camera_id"
        " LEFT JOIN video.node n ON n.id = t.node_id"
        " LEFT JOIN video.task_status s ON s.task_id = t.id"
        " LEFT JOIN video.task_lease l ON l.task_id = t.id AND l.until > now()"
        " WHERE {scope} ORDER BY t.code LIMIT 300",
        "t.enterprise_id",
    )
    out = []
    for r in rows:
        links: list[Any] = []
        for a in r["algos"]:
            links += [
                dcc.Link(
                    f"{vc.type_name(a['code'])} ({a['zones']})",
                    href=f"/video/zones?binding={a['id']}",
                    id=f"vc-zones-{a['id']}",
                ),
                " ",
            ]
        out.append(
            [
                r["code"],
                r["name"],
                r["camera"],
                r["node"] or t("vc.any_node"),
                f"{r['max_fps']:g}",
                "✓" if r["enabled"] else "✗",
                html.Span(links),
                f"{vc.run_state(r['state'])} {r['worker'] or ''}".strip(),
            ]
        )
    return table(
        [
            t("vc.code"),
            t("vc.name"),
            t("vid.camera"),
            t("vc.node"),
            t("vc.max_fps"),
            t("vc.enabled"),
            t("vc.algos"),
            t("vc.holder"),
        ],
        out,
        "vc-tasks-table",
        t("vid.none"),
    )


# --- layout ----------------------------------------------------------------------------------


def _options(query: str, column: str) -> list[dict[str, Any]]:
    return [{"label": r["label"], "value": r["id"]} for r in _query(query, column)]


def layout(**_query_args: Any) -> html.Div:
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role not in VIEWERS:
        return forbidden()
    t = i18n.t
    with auth.db_pool().connection() as conn:
        ents = vc.enterprises(conn, user)
    cams = _options(
        "SELECT c.id, c.code || ' ' || c.name AS label FROM registry.camera c"
        " WHERE {scope} ORDER BY c.code LIMIT 500",
        "c.enterprise_id",
    )
    tasks = _options(
        "SELECT t.id, t.code || ' ' || t.name AS label FROM video.task t"
        " WHERE {scope} ORDER BY t.code LIMIT 500",
        "t.enterprise_id",
    )
    nodes = _options(
        "SELECT n.id, n.code || ' ' || n.name AS label FROM video.node n"
        " WHERE {scope} ORDER BY n.code",
        "n.enterprise_id",
    )
    algos = [
        {"label": f"{vc.type_name(a['code'])} ({a['code']})", "value": a["code"]}
        for a in _algorithms()
    ]
    w = not _can_write()
    inp = {"className": "hw-input", "disabled": w, "style": {"width": "100%"}}
    camera_form = html.Div(
        className="hw-card",
        children=[
            _row(
                _field(
                    t("vid.camera"), dcc.Dropdown(cams, id="vc-cam-pick", placeholder=t("vc.new"))
                ),
                _field(
                    t("vid.enterprise"),
                    dcc.Dropdown(
                        ents, ents[0]["value"] if len(ents) == 1 else None, id="vc-cam-ent"
                    ),
                ),
            ),
            _row(
                _field(t("vc.code"), dcc.Input(id="vc-cam-code", **inp)),
                _field(t("vc.name"), dcc.Input(id="vc-cam-name", **inp)),
                _field(
                    t("vc.kind"),
                    dcc.Dropdown(["camera", "nvr"], "camera", id="vc-cam-kind", clearable=False),
                ),
            ),
            _row(
                _field(t("vc.url"), dcc.Input(id="vc-cam-url", **inp)),
                _field(t("vc.username"), dcc.Input(id="vc-cam-user", autoComplete="off", **inp)),
                _field(
                    t("vc.password"),
                    dcc.Input(
                        id="vc-cam-password",
                        type="password",
                        autoComplete="new-password",
                        placeholder=t("vc.password.hint"),
                        **inp,
                    ),
                ),
            ),
            html.Button(t("vid.save"), id="vc-cam-save", className="hw-btn", disabled=w),
            html.Div(id="vc-cam-msg", className="hw-muted"),
        ],
    )
    node_form = html.Div(
        className="hw-card",
        children=[
            _row(
                _field(
                    t("vid.enterprise"),
                    dcc.Dropdown(
                        ents, ents[0]["value"] if len(ents) == 1 else None, id="vc-node-ent"
                    ),
                ),
                _field(t("vc.code"), dcc.Input(id="vc-node-code", **inp)),
                _field(t("vc.name"), dcc.Input(id="vc-node-name", **inp)),
                _field(t("vc.host"), dcc.Input(id="vc-node-host", **inp)),
                _field(t("vc.gpu"), dcc.Input(id="vc-node-gpu", **inp)),
                _field(
                    t("vc.max_streams"), dcc.Input(id="vc-node-max", type="number", value=8, **inp)
                ),
            ),
            html.Button(t("vid.save"), id="vc-node-save", className="hw-btn", disabled=w),
            html.Div(id="vc-node-msg", className="hw-muted"),
        ],
    )
    algo_form = html.Div(
        className="hw-card",
        children=[
            _row(
                _field(t("vid.type"), dcc.Dropdown(algos, id="vc-algo-pick")),
                _field(t("vc.version"), dcc.Input(id="vc-algo-version", **inp)),
                _field(
                    t("vc.params"),
                    dcc.Input(id="vc-algo-params", placeholder='{"min_conf": 0.4}', **inp),
                ),
                _field(t("vc.notes"), dcc.Input(id="vc-algo-notes", **inp)),
            ),
            html.Button(t("vc.release"), id="vc-algo-release", className="hw-btn", disabled=w),
            html.Button(
                t("vc.make_current"),
                id="vc-algo-current",
                className="hw-btn",
                disabled=w,
                style={"marginLeft": "8px"},
            ),
            html.Div(id="vc-algo-msg", className="hw-muted"),
        ],
    )
    task_form = html.Div(
        className="hw-card",
        children=[
            _row(
                _field(
                    t("vid.task"), dcc.Dropdown(tasks, id="vc-task-pick", placeholder=t("vc.new"))
                ),
                _field(t("vid.camera"), dcc.Dropdown(cams, id="vc-task-cam")),
                _field(
                    t("vc.node"),
                    dcc.Dropdown(nodes, id="vc-task-node", placeholder=t("vc.any_node")),
                ),
            ),
            _row(
                _field(t("vc.code"), dcc.Input(id="vc-task-code", **inp)),
                _field(t("vc.name"), dcc.Input(id="vc-task-name", **inp)),
                _field(t("vc.max_fps"), dcc.Input(id="vc-task-fps", type="number", value=2, **inp)),
                _field(
                    t("vc.loop"),
                    dcc.Checklist([{"label": "", "value": "loop"}], [], id="vc-task-loop"),
                ),
            ),
            html.Button(t("vid.save"), id="vc-task-save", className="hw-btn", disabled=w),
            html.Div(id="vc-task-msg", className="hw-muted"),
            html.H3(t("vc.bind")),
            _row(
                _field(t("vid.type"), dcc.Dropdown(algos, id="vc-bind-algo")),
                _field(
                    t("vc.params"),
                    dcc.Input(id="vc-bind-params", placeholder='{"max_persons": 5}', **inp),
                ),
                _field(
                    t("vc.schedule"),
                    dcc.Input(
                        id="vc-bind-schedule",
                        placeholder='[{"days": [1,2,3,4,5], "from": "08:00", "to": "18:00"}]',
                        **inp,
                    ),
                ),
                _field(
                    t("vc.cooldown"),
                    dcc.Input(id="vc-bind-cooldown", type="number", value=60, **inp),
                ),
            ),
            html.Button(t("vid.save"), id="vc-bind-save", className="hw-btn", disabled=w),
            html.Div(id="vc-bind-msg", className="hw-muted"),
        ],
    )
    return html.Div(
        [
            html.H1(t("vc.title"), id="page-title"),
            html.P(t("vid.readonly"), className="hw-muted") if w else html.Span(),
            html.H2(t("vc.cameras")),
            html.Div(cameras_table(), id="vc-cameras"),
            camera_form,
            html.H2(t("vc.nodes")),
            html.Div(nodes_table(), id="vc-nodes"),
            node_form,
            html.H2(t("vc.algorithms")),
            html.Div(algorithms_table(), id="vc-algorithms"),
            algo_form,
            html.H2(t("vc.tasks")),
            html.Div(tasks_table(), id="vc-tasks"),
            task_form,
        ]
    )


# --- callbacks -------------------------------------------------------------------------------


def _missing(**fields: Any) -> None:
    empty = [k for k, v in fields.items() if v in (None, "")]
    if empty:
        raise HazwatchError(i18n.t("vc.need", fields=", ".join(empty)))


def _scoped_row(query: str, key: Any) -> dict[str, Any] | None:
    """A row by id whose enterprise (first column ``enterprise_id``) is in the user's scope."""
    user = auth.current_user()
    if user is None or key is None:
        return None
    with auth.db_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, (key,)).fetchone()
        if row is None or not vc.in_scope(conn, user, int(row["enterprise_id"])):
            return None
    return row


def register(app: dash.Dash) -> None:
    register_page(
        __name__,
        PATH,
        "video-config",
        64,
        layout,
        title="vc.title",
        nav="nav.video_config",
        roles=vc.CONFIGURERS,
    )

    def guarded(fn: Any) -> Any:
        """Run a save: rights checked on the server, refusals shown by name."""
        user = auth.current_user()
        if user is None or user.role not in vc.CONFIGURERS:
            return i18n.t("vid.readonly")
        try:
            with auth.db_pool().connection() as conn:
                fn(conn, user)
        except HazwatchError as exc:
            return str(exc)
        return i18n.t("vid.saved")

    @app.callback(
        Output("vc-cam-ent", "value"),
        Output("vc-cam-code", "value"),
        Output("vc-cam-name", "value"),
        Output("vc-cam-kind", "value"),
        Output("vc-cam-url", "value"),
        Output("vc-cam-user", "value"),
        Input("vc-cam-pick", "value"),
        prevent_initial_call=True,
    )
    def pick_camera(cam: int | None) -> tuple[Any, ...]:
        row = _scoped_row(
            "SELECT enterprise_id, code, name, kind, stream_url, username FROM registry.camera"
            " WHERE id = %s",
            cam,
        )
        if row is None:
            return (dash.no_update, "", "", "camera", "", "")
        return (
            row["enterprise_id"],
            row["code"],
            row["name"],
            row["kind"],
            row["stream_url"] or "",
            row["username"] or "",
        )

    @app.callback(
        Output("vc-cam-msg", "children"),
        Output("vc-cameras", "children"),
        Output("vc-cam-password", "value"),
        Input("vc-cam-save", "n_clicks"),
        State("vc-cam-pick", "value"),
        State("vc-cam-ent", "value"),
        State("vc-cam-code", "value"),
        State("vc-cam-name", "value"),
        State("vc-cam-kind", "value"),
        State("vc-cam-url", "value"),
        State("vc-cam-user", "value"),
        State("vc-cam-password", "value"),
        prevent_initial_call=True,
    )
    def save_camera(
        _n: int,
        cam: int | None,
        ent: int | None,
        code: str,
        name: str,
        kind: str,
        url: str,
        username: str,
        password: str,
    ) -> tuple[Any, ...]:
        from dashboards.server import resources

        def save(conn: Any, user: Any) -> None:
            _missing(
                **{i18n.t("vid.enterprise"): ent, i18n.t("vc.code"): code, i18n.t("vc.name"): name}
            )
            if not vc.in_scope(conn, user, int(ent)):  # type: ignore[arg-type]
                raise HazwatchError(i18n.t("vid.readonly"))
            if (
                cam is not None
                and _scoped_row("SELECT enterprise_id FROM registry.camera WHERE id = %s", cam)
                is None
            ):
                raise HazwatchError(i18n.t("vid.readonly"))
            box = CredentialBox.for_home(resources(app.server).settings.home)
            registry.save_camera(
                conn,
                vc.actor(user),
                box,
                camera_id=cam,
                password=password or None,
                enterprise_id=ent,
                code=code.strip(),
                name=name.strip(),
                kind=kind,
                stream_url=(url or "").strip() or None,
                username=(username or "").strip() or None,
            )

        return guarded(save), cameras_table(), ""

    @app.callback(
        Output("vc-node-msg", "children"),
        Output("vc-nodes", "children"),
        Input("vc-node-save", "n_clicks"),
        State("vc-node-ent", "value"),
        State("vc-node-code", "value"),
        State("vc-node-name", "value"),
        State("vc-node-host", "value"),
        State("vc-node-gpu", "value"),
        State("vc-node-max", "value"),
        prevent_initial_call=True,
    )
    def save_node(
        _n: int, ent: int | None, code: str, name: str, host: str, gpu: str, max_streams: int | None
    ) -> tuple[Any, ...]:
        def save(conn: Any, user: Any) -> None:
            _missing(
                **{i18n.t("vid.enterprise"): ent, i18n.t("vc.code"): code, i18n.t("vc.name"): name}
            )
            if not vc.in_scope(conn, user, int(ent)):  # type: ignore[arg-type]
                raise HazwatchError(i18n.t("vid.readonly"))
            row = conn.execute(
                "SELECT id FROM video.node WHERE enterprise_id = %s AND code = %s",
                (ent, code.strip()),
            ).fetchone()
            registry.save_node(
                conn,
                vc.actor(user),
                row[0] if row else None,
                enterprise_id=ent,
                code=code.strip(),
                name=name.strip(),
                host=host or None,
                gpu=gpu or None,
                max_streams=int(max_streams or 8),
            )

        return guarded(save), nodes_table()

    @app.callback(
        Output("vc-algo-msg", "children"),
        Output("vc-algorithms", "children"),
        Input("vc-algo-release", "n_clicks"),
        Input("vc-algo-current", "n_clicks"),
        State("vc-algo-pick", "value"),
        State("vc-algo-version", "value"),
        State("vc-algo-params", "value"),
        State("vc-algo-notes", "value"),
        prevent_initial_call=True,
    )
    def save_version(
        _r: int, _c: int, code: str | None, version: str, params: str, notes: str
    ) -> tuple[Any, ...]:
        upgrade = dash.ctx.triggered_id == "vc-algo-current"

        def save(conn: Any, user: Any) -> None:
            if user.role != "admin":  # algorithms are shared by every enterprise here
                raise HazwatchError(i18n.t("vid.readonly"))
            _missing(**{i18n.t("vid.type"): code, i18n.t("vc.version"): version})
            exists = conn.execute(
                "SELECT 1 FROM video.algorithm_version v JOIN video.algorithm a"
                " ON a.id = v.algorithm_id WHERE a.code = %s AND v.version = %s",
                (code, version.strip()),
            ).fetchone()
            if exists and upgrade:
                registry.make_current(conn, vc.actor(user), str(code), version.strip())
                return
            registry.release_version(
                conn,
                vc.actor(user),
                str(code),
                version.strip(),
                params=_json(params, i18n.t("vc.params"), dict),
                notes=notes or None,
                current=upgrade,
            )

        return guarded(save), algorithms_table()

    @app.callback(
        Output("vc-task-cam", "value"),
        Output("vc-task-node", "value"),
        Output("vc-task-code", "value"),
        Output("vc-task-name", "value"),
        Output("vc-task-fps", "value"),
        Output("vc-task-loop", "value"),
        Input("vc-task-pick", "value"),
        prevent_initial_call=True,
    )
    def pick_task(task: int | None) -> tuple[Any, ...]:
        row = _scoped_row(
            "SELECT enterprise_id, camera_id, node_id, code, name, max_fps,"
            " loop_file FROM video.task WHERE id = %s",
            task,
        )
        if row is None:
            return (None, None, "", "", 2, [])
        return (
            row["camera_id"],
            row["node_id"],
            row["code"],
            row["name"],
            row["max_fps"],
            ["loop"] if row["loop_file"] else [],
        )

    @app.callback(
        Output("vc-task-msg", "children"),
        Output("vc-tasks", "children", allow_duplicate=True),
        Input("vc-task-save", "n_clicks"),
        State("vc-task-pick", "value"),
        State("vc-task-cam", "value"),
        State("vc-task-node", "value"),
        State("vc-task-code", "value"),
        State("vc-task-name", "value"),
        State("vc-task-fps", "value"),
        State("vc-task-loop", "value"),
        prevent_initial_call=True,
    )
    def save_task(
        _n: int,
        task: int | None,
        cam: int | None,
        node: int | None,
        code: str,
        name: str,
        fps: float | None,
        loop: list[str],
    ) -> tuple[Any, ...]:
        def save(conn: Any, user: Any) -> None:
            _missing(
                **{i18n.t("vid.camera"): cam, i18n.t("vc.code"): code, i18n.t("vc.name"): name}
            )
            camera = _scoped_row("SELECT enterprise_id FROM registry.camera WHERE id = %s", cam)
            if camera is None or (
                task is not None
                and _scoped_row("SELECT enterprise_id FROM video.task WHERE id = %s", task) is None
            ):
                raise HazwatchError(i18n.t("vid.readonly"))
            registry.save_task(
                conn,
                vc.actor(user),
                task,
                enterprise_id=camera["enterprise_id"],
                camera_id=cam,
                node_id=node,
                code=code.strip(),
                name=name.strip(),
                max_fps=float(fps or 2),
                loop_file="loop" in (loop or []),
            )

        return guarded(save), tasks_table()

    @app.callback(
        Output("vc-bind-msg", "children"),
        Output("vc-tasks", "children", allow_duplicate=True),
        Input("vc-bind-save", "n_clicks"),
        State("vc-task-pick", "value"),
        State("vc-bind-algo", "value"),
        State("vc-bind-params", "value"),
        State("vc-bind-schedule", "value"),
        State("vc-bind-cooldown", "value"),
        prevent_initial_call=True,
    )
    def save_binding(
        _n: int,
        task: int | None,
        code: str | None,
        params: str,
        schedule: str,
        cooldown: float | None,
    ) -> tuple[Any, ...]:
        def save(conn: Any, user: Any) -> None:
            _missing(**{i18n.t("vid.task"): task, i18n.t("vid.type"): code})
            if _scoped_row("SELECT enterprise_id FROM video.task WHERE id = %s", task) is None:
                raise HazwatchError(i18n.t("vid.readonly"))
            kept = conn.execute(
                "SELECT ta.zones FROM video.task_algorithm ta JOIN video.algorithm a"
                " ON a.id = ta.algorithm_id WHERE ta.task_id = %s AND a.code = %s",
                (task, code),
            ).fetchone()
            registry.bind_algorithm(
                conn,
                vc.actor(user),
                int(task),
                str(code),  # type: ignore[arg-type]
                zones=kept[0] if kept else [],
                params=_json(params, i18n.t("vc.params"), dict),
                schedule=_json(schedule, i18n.t("vc.schedule"), list),
                cooldown_s=float(60 if cooldown is None else cooldown),
            )

        return guarded(save), tasks_table()
