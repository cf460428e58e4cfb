"""Risk monitoring (R2-R5) of one enterprise: supervised process units with their key
parameters (current value, alarm state), SIS state and warning state; major-hazard warehouses
with their chemicals and climate; loading areas as coded hazard units with gas, grounding and
overfill; every gas detector with its alarm state. Read-only for everybody (the registers are
edited by administrators); regulators see the enterprises of their region (``Scope``).

    /hazard                    the first enterprise in scope with hazard units
    /hazard?enterprise=12      that one (404-like message when outside the scope)
"""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards import auth, i18n
from dashboards.components.basic import stat_card, table
from dashboards.layout import register_page
from dashboards.page_guard import page_user
from workflows.hazard_units import UnitView, load_units

PATH = "/hazard"
ROLES = frozenset({"admin", "engineer", "operator", "regulator"})
TONE = {"alarm": "hw-badge-bad", "warning": "hw-badge-warn", "normal": "hw-badge-ok",
        "unknown": "hz-unknown", "tripped": "hw-badge-bad", "bypassed": "hw-badge-warn",
        "none": "hz-unknown"}  # fmt: skip
SIS_FLAG = {"sis_bypass": "bypassed", "sis_trip": "tripped"}
GAS_ROLES = ("gas_combustible", "gas_toxic")

i18n.register(
    {
        "nav.hazard": {"zh": "风险监测", "en": "Risk monitoring"},
        "hz.title": {"zh": "危险化学品风险监测", "en": "Hazardous chemical risk monitoring"},
        "hz.enterprise": {"zh": "企业", "en": "Enterprise"},
        "hz.none": {"zh": "当前范围内没有风险监测单元。", "en": "No monitored hazard units."},
        "hz.missing": {"zh": "该企业不在您的范围内。", "en": "Not an enterprise in your scope."},
        "hz.process": {"zh": "重点监管危险化工工艺装置", "en": "Supervised process units"},
        "hz.warehouse": {"zh": "重大危险源仓库", "en": "Major-hazard warehouses"},
        "hz.loading": {"zh": "装卸区", "en": "Loading areas"},
        "hz.other": {"zh": "其他单元", "en": "Other units"},
        "hz.gas": {"zh": "可燃有毒气体检测器", "en": "Gas detectors"},
        "hz.units": {"zh": "监测单元", "en": "Units"},
        "hz.in_alarm": {"zh": "报警单元", "en": "Units in alarm"},
        "hz.in_warning": {"zh": "预警单元", "en": "Units in warning"},
        "hz.gas_alarm": {"zh": "气体报警", "en": "Gas alarms"},
        "hz.code": {"zh": "危险源编码", "en": "Hazard code"},
        "hz.processes": {"zh": "工艺", "en": "Processes"},
        "hz.warning_state": {"zh": "预警状态", "en": "Warning state"},
        "hz.sis": {"zh": "安全仪表", "en": "SIS"},
        "hz.tag": {"zh": "位号", "en": "Tag"},
        "hz.parameter": {"zh": "参数", "en": "Parameter"},
        "hz.value": {"zh": "当前值", "en": "Value"},
        "hz.limits": {"zh": "报警限", "en": "Limits"},
        "hz.state": {"zh": "状态", "en": "State"},
        "hz.time": {"zh": "时间", "en": "Time"},
        "hz.unit": {"zh": "单元", "en": "Unit"},
        "hz.detector": {"zh": "检测器", "en": "Detector"},
        "hz.chemicals": {"zh": "储存物质", "en": "Stored chemicals"},
        "hz.stock": {"zh": "最大储量/临界量 (t)", "en": "Max stock / critical (t)"},
        "hz.kinds": {"zh": "装卸类型", "en": "Handles"},
        "hz.bays": {"zh": "鹤位", "en": "Bays"},
        "hz.no_points": {"zh": "未配置监测点", "en": "No monitored points"},
        "hz.received": {"zh": "（下级上报）", "en": "(reported from below)"},
        "hz.control_req": {"zh": "安全控制的基本要求", "en": "Basic safety control requirements"},
        "hz.control_methods": {"zh": "宜采用的控制方式", "en": "Recommended control methods"},
        "hz.s.normal": {"zh": "正常", "en": "normal"},
        "hz.s.warning": {"zh": "预警", "en": "warning"},
        "hz.s.alarm": {"zh": "报警", "en": "alarm"},
        "hz.s.unknown": {"zh": "无数据", "en": "no data"},
        "hz.sis.normal": {"zh": "投用", "en": "in service"},
        "hz.sis.bypassed": {"zh": "旁路", "en": "bypassed"},
        "hz.sis.tripped": {"zh": "联锁动作", "en": "tripped"},
        "hz.sis.none": {"zh": "无", "en": "none"},
        "hz.sis.unknown": {"zh": "无数据", "en": "no data"},
        "hz.r.key_parameter": {"zh": "关键参数", "en": "Key parameter"},
        "hz.r.sis_bypass": {"zh": "联锁旁路", "en": "SIS bypass"},
        "hz.r.sis_trip": {"zh": "联锁动作", "en": "SIS trip"},
        "hz.r.gas_combustible": {"zh": "可燃气体", "en": "Combustible gas"},
        "hz.r.gas_toxic": {"zh": "有毒气体", "en": "Toxic gas"},
        "hz.r.temperature": {"zh": "温度", "en": "Temperature"},
        "hz.r.humidity": {"zh": "湿度", "en": "Humidity"},
        "hz.r.static_grounding": {"zh": "静电接地", "en": "Static grounding"},
        "hz.r.overfill": {"zh": "溢油", "en": "Overfill"},
        "hz.k.flammable_liquid": {"zh": "可燃液体", "en": "flammable liquids"},
        "hz.k.liquefied_hydrocarbon": {"zh": "液化烃", "en": "liquefied hydrocarbons"},
        "hz.k.liquefied_toxic_gas": {"zh": "液化毒性气体", "en": "liquefied toxic gases"},
    }
)


def _badge(state: str, prefix: str = "hz.s") -> html.Span:
    return html.Span(i18n.t(f"{prefix}.{state}"), className=f"hw-badge {TONE.get(state, '')}")


def _point_badge(p: Any) -> html.Span:
    """An SIS flag shows what it says (bypassed, tripped); other points their alarm state."""
    if p.role in SIS_FLAG and p.state != "unknown":
        return _badge(SIS_FLAG[p.role] if (p.value or 0) >= 0.5 else "normal", "hz.sis")
    return _badge(p.state)


def _num(v: float | None, unit: str | None = None) -> str:
    if v is None:
        return "-"
    return f"{v:g}" + (f" {unit}" if unit else "")


def _limits(limits: dict[str, float]) -> str:
    return " ".join(f"{c} {limits[c]:g}" for c in ("LL", "L", "H", "HH") if c in limits) or "-"


def _points_table(u: UnitView, roles: tuple[str, ...] | None, id_: str) -> html.Div:
    t = i18n.t
    rows = [
        (
            p.tag,
            p.parameter or p.label or p.description or t(f"hz.r.{p.role}"),
            _num(p.value, p.eng_unit),
            _limits(p.limits),
            _point_badge(p),
            i18n.fmt_datetime(p.time),
        )
        for p in u.points
        if roles is None or p.role in roles
    ]
    return table(
        [t("hz.tag"), t("hz.parameter"), t("hz.value"), t("hz.limits"), t("hz.state"),
         t("hz.time")],
        rows, id_, t("hz.no_points"),
    )  # fmt: skip


def _state(u: UnitView) -> tuple[str, str]:
    """The derived state; for a unit received from below (no points here) the stored one."""
    if u.points or u.stored is None:
        return u.state.warning, u.state.sis
    return u.stored["warning"], u.stored["sis"]


#: Process name -> (安全控制的基本要求, 宜采用的控制方式) as published (migration 0026).
Controls = dict[str, tuple[str | None, str | None]]


def load_controls(conn: Any) -> Controls:
    """The control texts of the supervised processes that have them."""
    rows = conn.execute(
        "SELECT name, control_requirements, control_methods FROM registry.hazardous_process"
        " WHERE control_requirements IS NOT NULL OR control_methods IS NOT NULL"
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _controls(u: UnitView, controls: Controls) -> list[html.Details]:
    """A folded block per supervised process of the unit with its published control texts."""
    out = []
    for name in u.processes:
        req, methods = controls.get(name, (None, None))
        body = [html.P([html.B(i18n.t(key) + ": "), text])
                for key, text in (("hz.control_req", req), ("hz.control_methods", methods))
                if text]  # fmt: skip
        if body:
            out.append(html.Details([html.Summary(name), *body], className="hz-controls"))
    return out


def _unit_card(u: UnitView, controls: Controls | None = None) -> html.Div:
    t = i18n.t
    warning, sis = _state(u)
    head = [
        html.H3(f"{u.code} {u.name}"),
        html.Div(
            className="hw-kv",
            children=[
                html.Span(f"{t('hz.code')}: {u.hazard_code or '-'}"),
                html.Span([t("hz.warning_state"), ": ", _badge(warning)], id=f"hz-state-{u.code}"),
                html.Span([t("hz.sis"), ": ", _badge(sis, "hz.sis")], id=f"hz-sis-{u.code}"),
            ],
        ),
    ]
    if u.processes:
        head.append(html.P(f"{t('hz.processes')}: {'、'.join(u.processes)}"))
        head.extend(_controls(u, controls or {}))
    if u.chemicals:
        head.append(
            table(
                [t("hz.chemicals"), "CAS", t("hz.stock")],
                [
                    (
                        c["name"],
                        c["cas_no"] or "-",
                        f"{_num(c['max_stock_t'])} / {_num(c['critical_quantity_t'])}",
                    )
                    for c in u.chemicals
                ],
                f"hz-chem-{u.code}",
                "",
            )
        )
    if u.loading:
        kinds = "、".join(t(f"hz.k.{k}") for k in u.loading["kinds"])
        head.append(html.P(f"{t('hz.kinds')}: {kinds} · {t('hz.bays')}: "
                           f"{u.loading['bays'] or '-'}"))  # fmt: skip
    if not u.points and u.stored is not None:
        head.append(html.P(t("hz.received"), className="hw-muted"))
    roles = ("key_parameter", "sis_bypass", "sis_trip") if u.section == "process" else None
    return html.Div(
        className=f"hw-card hz-unit hz-{warning}",
        id=f"hz-unit-{u.code}",
        children=[*head, _points_table(u, roles, f"hz-points-{u.code}")],
    )


def _gas_table(units: list[UnitView]) -> html.Div:
    t = i18n.t
    rows = [
        (p.sensor_code or p.tag, f"{u.code} {u.name}", t(f"hz.r.{p.role}"),
         _num(p.value, p.eng_unit), _limits(p.limits), _badge(p.state),
         i18n.fmt_datetime(p.time))
        for u in units for p in u.points if p.role in GAS_ROLES
    ]  # fmt: skip
    rows.sort(key=lambda r: r[0])
    return table(
        [t("hz.detector"), t("hz.unit"), t("hz.parameter"), t("hz.value"), t("hz.limits"),
         t("hz.state"), t("hz.time")],
        rows, "hz-gas", t("hz.no_points"),
    )  # fmt: skip


def content(units: list[UnitView], controls: Controls | None = None) -> list[Any]:
    t = i18n.t
    states = [_state(u)[0] for u in units]
    gas_alarms = sum(
        1 for u in units for p in u.points if p.role in GAS_ROLES and p.state != "normal"
        and p.state != "unknown"
    )  # fmt: skip
    out: list[Any] = [
        html.Div(
            className="hw-stats",
            children=[
                stat_card(t("hz.units"), i18n.fmt_number(len(units)), "hz-stat-units"),
                stat_card(
                    t("hz.in_alarm"),
                    i18n.fmt_number(states.count("alarm")),
                    "hz-stat-alarm",
                    "hw-bad" if "alarm" in states else "",
                ),
                stat_card(
                    t("hz.in_warning"), i18n.fmt_number(states.count("warning")), "hz-stat-warning"
                ),
                stat_card(
                    t("hz.gas_alarm"),
                    i18n.fmt_number(gas_alarms),
                    "hz-stat-gas",
                    "hw-bad" if gas_alarms else "",
                ),
            ],
        )
    ]
    for section, key in (("process", "hz.process"), ("warehouse", "hz.warehouse"),
                         ("loading_area", "hz.loading"), ("other", "hz.other")):  # fmt: skip
        members = [u for u in units if u.section == section]
        if members:
            out.append(html.H2(t(key), id=f"hz-section-{section}"))
            out.extend(_unit_card(u, controls) for u in members)
    out += [html.H2(t("hz.gas"), id="hz-section-gas"), _gas_table(units)]
    return out


def layout(enterprise: str | None = None, **_query: Any) -> html.Div:
    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user
    t = i18n.t
    title = html.H1(t("hz.title"), id="page-title")
    with auth.db_pool().connection() as conn:
        units = load_units(conn, user.scope)
        controls = load_controls(conn)
    ents: dict[int, str] = {}
    for u in units:
        ents.setdefault(u.enterprise_id, u.enterprise_name)
    if not ents:
        return html.Div([title, html.P(t("hz.none"), className="hw-muted", id="hz-empty")])
    if enterprise is None:
        chosen = next(iter(ents))
    elif enterprise.isdigit() and int(enterprise) in ents:
        chosen = int(enterprise)
    else:
        return html.Div([title, html.P(t("hz.missing"), id="hz-missing")])
    picker = html.Div(
        className="hw-filters",
        children=[
            html.Label(t("hz.enterprise")),
            html.Div(
                [
                    dcc.Link(
                        name,
                        href=f"{PATH}?enterprise={eid}",
                        className="hw-chip" + (" hw-chip-on" if eid == chosen else ""),
                    )
                    for eid, name in sorted(ents.items(), key=lambda kv: kv[1])
                ],
                id="hz-enterprises",
            ),
        ],
    )
    mine = [u for u in units if u.enterprise_id == chosen]
    return html.Div(
        [title, html.P(ents[chosen], className="hw-muted", id="hz-enterprise"), picker,
         *content(mine, controls)]
    )  # fmt: skip


def register(app: dash.Dash) -> None:
    register_page(__name__, PATH, "hazard", 7, layout, roles=ROLES)
