"""Declarative description of every register screen (D4), and the pure rules around it:
which columns, how a cell's text becomes a value, who may edit what.

    spec = SPECS["unit"]
    value, error = parse_cell(spec.column("major_hazard_level"), "2")   # (2, None)
    can_edit(user, spec)                                                  # role rules

SQL fragments here (``source``, ``enterprise_expr``, …) are code, never input; values always
travel as parameters (``dashboards.register_data``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, Protocol

import dashboards.register_strings  # noqa: F401  (the strings these rules speak)
from dashboards import i18n
from dashboards.i18n import DISPLAY_TZ
from hazwatch.credit_code import credit_code_problem, normalise

Kind = Literal["text", "int", "float", "bool", "date", "choice", "ref", "multi", "range"]
Group = Literal["hierarchy", "technical", "people", "contractor"]


class UserLike(Protocol):
    role: str
    enterprise_id: int | None

    @property
    def scope(self) -> Any: ...


@dataclass(frozen=True)
class Ref:
    """A register a foreign key points at, shown and typed by ``label`` (code or name).

    ``enterprise_expr`` ties the target to an enterprise, so a code is looked up within the
    row's enterprise (unit codes repeat across enterprises) and within the user's scope.
    """

    source: str
    label: str
    match: tuple[str, ...]
    enterprise_expr: str | None = None


REFS: Final[dict[str, Ref]] = {
    "region": Ref("registry.region x", "x.name", ("x.code", "x.name")),
    "enterprise": Ref(
        "registry.enterprise x", "x.name", ("x.code", "x.name"), enterprise_expr="x.id"
    ),
    "department": Ref("registry.department x", "x.name", ("x.name",), "x.enterprise_id"),
    "unit": Ref("registry.unit x", "x.code", ("x.code", "x.name"), "x.enterprise_id"),
    "equipment": Ref(
        "registry.equipment x JOIN registry.unit xu ON xu.id = x.unit_id",
        "x.code",
        ("x.code", "x.name"),
        "xu.enterprise_id",
    ),
    "shift_team": Ref("registry.shift_team x", "x.name", ("x.name",), "x.enterprise_id"),
    "gateway": Ref("registry.gateway x", "x.code", ("x.code", "x.name"), "x.enterprise_id"),
    "camera": Ref("registry.camera x", "x.code", ("x.code", "x.name"), "x.enterprise_id"),
    "user_group": Ref("workflow.user_group x", "x.code", ("x.code", "x.name"), "x.enterprise_id"),
    "app_user": Ref("auth.app_user x", "x.name", ("x.name",), None),
}


def _credit_code(text: str) -> tuple[str, str | None]:
    code = normalise(text)
    problem = credit_code_problem(code)
    if problem is None:
        return code, None
    kind, details = problem
    return code, i18n.t("reg.err.credit." + kind, **details)


_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_GROUP_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")


def _phone(text: str) -> tuple[str, str | None]:
    return text, None if _PHONE.match(text) else i18n.t("reg.err.phone")


def _group_code(text: str) -> tuple[str, str | None]:
    return text, None if _GROUP_CODE.match(text) else i18n.t("reg.err.group_code")


Check = Callable[[str], tuple[Any, str | None]]


@dataclass(frozen=True)
class Column:
    """One column of a register screen; ``name`` is the table's column unless ``virtual``."""

    name: str
    kind: Kind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    ref: str | None = None
    #: Shown (and used to look up refs on import) but not a column of the table itself.
    virtual: bool = False
    #: SQL giving the stored value when it is not ``t.<name>`` (virtual columns).
    expr: str | None = None
    readonly: bool = False
    #: A contractor may change this column of its own company.
    contractor_edit: bool = False
    check: Check | None = None
    width: int = 140

    @property
    def source_expr(self) -> str:
        return self.expr or f"t.{self.name}"

    @property
    def display_expr(self) -> str:
        """SQL for what the grid shows: the target's label for a foreign key."""
        if self.ref is None:
            return self.source_expr
        ref = REFS[self.ref]
        source, alias = ref.source, ref.source.split()[1]
        # Every fragment comes from this module's declarations, never from input.
        return f"(SELECT {ref.label} FROM {source} WHERE {alias}.id = {self.source_expr})"  # noqa: S608

    def header(self, lang: str | None = None) -> str:
        return i18n.t(f"reg.col.{self.name}", lang)


@dataclass(frozen=True)
class RegisterSpec:
    """A register screen. ``key_columns`` identify a row on import (update instead of insert)."""

    key: str
    register: str
    group: Group
    source: str
    columns: tuple[Column, ...]
    key_columns: tuple[str, ...]
    order_by: str
    #: SQL of the enterprise a row belongs to (scope); None for regions.
    enterprise_expr: str | None = "t.enterprise_id"
    #: SQL of the contractor company a row belongs to (contractors see only their own).
    company_expr: str | None = None
    where: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: Admins only may add or delete rows (engineers may still edit technical ones).
    technical: bool = True

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.key} has no column {name!r}")

    def title(self, lang: str | None = None) -> str:
        return i18n.t(f"reg.name.{self.key}", lang)


def _ent(required: bool = True) -> Column:
    return Column("enterprise_id", "ref", required=required, ref="enterprise", width=220)


_LEVELS = ("1", "2", "3", "4")
_UNIT_KINDS = (
    "unit", "section", "area", "tank_farm", "warehouse", "loading_area", "control_room",
    "utility", "gate",
)  # fmt: skip
_EQUIPMENT_KINDS = (
    "pump", "compressor", "fan", "motor", "vessel", "tank", "reactor", "heat_exchanger",
    "column", "other",
)  # fmt: skip
_SENSOR_KINDS = (
    "vibration_triaxial", "temperature", "acoustic", "speed", "current", "gas_combustible",
    "gas_toxic", "humidity", "level", "pressure",
)  # fmt: skip
COMPANY_CATEGORIES: Final = (
    "construction", "maintenance", "installation", "inspection", "technical_service", "labour",
    "other",
)  # fmt: skip
_PUMP_SCOPES = ("autoignition_or_260c", "liquefied_hydrocarbon_c5", "acute_toxicity_1_2")

_EQUIPMENT_COLUMNS = (
    Column("enterprise_id", "ref", required=True, ref="enterprise", virtual=True,
           expr="u.enterprise_id", width=220),
    Column("unit_id", "ref", required=True, ref="unit"),
    Column("code", required=True),
    Column("name", required=True, width=180),
    Column("kind", "choice", required=True, choices=_EQUIPMENT_KINDS),
    Column("pump_scope", "multi", choices=_PUMP_SCOPES, width=200),
    Column("medium"),
    Column("medium_temp_c", "float"),
    Column("rated_speed_rpm", "float"),
    Column("rated_power_kw", "float"),
    Column("manufacturer"),
    Column("model"),
    Column("bearing_de"),
    Column("bearing_nde"),
    Column("installed_on", "date"),
)  # fmt: skip

_SPEC_LIST: tuple[RegisterSpec, ...] = (
    RegisterSpec(
        "region", "region", "hierarchy", "registry.region t",
        (
            Column("code", required=True),
            Column("name", required=True),
            Column("level", "choice", required=True, choices=("province", "city", "county",
                                                               "park")),
            Column("parent_id", "ref", ref="region"),
        ),
        key_columns=("code",), order_by="t.code", enterprise_expr=None, technical=False,
    ),
    RegisterSpec(
        "enterprise", "enterprise", "hierarchy", "registry.enterprise t",
        (
            Column("name", required=True, width=240),
            Column("code"),
            Column("region_id", "ref", required=True, ref="region"),
            Column("major_hazard_level", "choice", choices=_LEVELS),
            Column("batch", "choice", choices=("一期", "二期")),
            Column("credit_code", check=_credit_code, width=200),
            Column("address", width=220),
            Column("contact"),
            Column("phone", check=_phone),
            Column("latitude", "float"),
            Column("longitude", "float"),
        ),
        key_columns=("name",), order_by="t.name", enterprise_expr="t.id", technical=False,
    ),
    RegisterSpec(
        "department", "department", "hierarchy", "registry.department t",
        (_ent(), Column("name", required=True), Column("parent_id", "ref", ref="department")),
        key_columns=("enterprise_id", "name"), order_by="t.enterprise_id, t.name",
    ),
    RegisterSpec(
        "unit", "unit", "technical", "registry.unit t",
        (
            _ent(),
            Column("code", required=True),
            Column("name", required=True, width=180),
            Column("kind", "choice", required=True, choices=_UNIT_KINDS),
            Column("department_id", "ref", ref="department"),
            Column("parent_id", "ref", ref="unit"),
            Column("hazard_code"),
            Column("hazardous_process"),
            Column("major_hazard_level", "choice", choices=_LEVELS),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
        defaults={"kind": "unit"},
    ),
    RegisterSpec(
        "shift_team", "shift_team", "people", "registry.shift_team t",
        (_ent(), Column("name", required=True)),
        key_columns=("enterprise_id", "name"), order_by="t.enterprise_id, t.name",
    ),
    RegisterSpec(
        "shift", "shift", "people", "registry.shift t",
        (
            _ent(),
            Column("shift_team_id", "ref", required=True, ref="shift_team"),
            Column("during", "range", required=True, width=300),
        ),
        key_columns=("enterprise_id", "during"), order_by="t.enterprise_id, t.during DESC",
    ),
    RegisterSpec(
        "tag", "tag", "technical", "registry.tag t",
        (
            _ent(),
            Column("name", required=True, width=160),
            Column("description", width=200),
            Column("unit_id", "ref", ref="unit"),
            Column("equipment_id", "ref", ref="equipment"),
            Column("eng_unit"),
            Column("range_low", "float"),
            Column("range_high", "float"),
            Column("kind", "choice", required=True, choices=("analog", "discrete", "text")),
            Column("source", "choice", choices=("opcua", "modbus", "mqtt", "line", "import",
                                                "manual", "simulator")),
            Column("source_address", width=200),
        ),
        key_columns=("enterprise_id", "name"), order_by="t.enterprise_id, t.name",
        defaults={"kind": "analog"},
    ),
    RegisterSpec(
        "equipment", "equipment", "technical",
        "registry.equipment t JOIN registry.unit u ON u.id = t.unit_id",
        _EQUIPMENT_COLUMNS,
        key_columns=("enterprise_id", "unit_id", "code"), order_by="u.enterprise_id, t.code",
        enterprise_expr="u.enterprise_id",
    ),
    RegisterSpec(
        "pump", "equipment", "technical",
        "registry.equipment t JOIN registry.unit u ON u.id = t.unit_id",
        _EQUIPMENT_COLUMNS,
        key_columns=("enterprise_id", "unit_id", "code"), order_by="u.enterprise_id, t.code",
        enterprise_expr="u.enterprise_id", where="t.kind = 'pump'", defaults={"kind": "pump"},
    ),
    RegisterSpec(
        "gateway", "gateway", "technical", "registry.gateway t",
        (
            _ent(),
            Column("code", required=True),
            Column("name", required=True),
            Column("protocol", "choice", required=True, choices=("modbus_tcp", "mqtt", "opcua")),
            Column("host"),
            Column("port", "int"),
            Column("location", width=180),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
    ),
    RegisterSpec(
        "sensor", "sensor", "technical", "registry.sensor t",
        (
            _ent(),
            Column("code", required=True),
            Column("kind", "choice", required=True, choices=_SENSOR_KINDS),
            Column("gateway_id", "ref", ref="gateway"),
            Column("equipment_id", "ref", ref="equipment"),
            Column("measurement_point"),
            Column("serial"),
            Column("installed_on", "date"),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
    ),
    RegisterSpec(
        "camera", "camera", "technical", "registry.camera t",
        (
            _ent(),
            Column("code", required=True),
            Column("name", required=True, width=180),
            Column("kind", "choice", required=True, choices=("camera", "nvr")),
            Column("unit_id", "ref", ref="unit"),
            Column("nvr_id", "ref", ref="camera"),
            Column("stream_url", width=240),
            Column("codec", "choice", choices=("h264", "h265")),
            Column("location", width=180),
            Column("enabled", "bool"),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id, t.code",
        defaults={"kind": "camera", "enabled": True},
    ),
    RegisterSpec(
        "user_group", "user_group", "people", "workflow.user_group t",
        (
            _ent(required=False),
            Column("code", required=True, check=_group_code),
            Column("name", required=True),
            Column("description", width=240),
        ),
        key_columns=("enterprise_id", "code"), order_by="t.enterprise_id NULLS FIRST, t.code",
        technical=False,
    ),
    RegisterSpec(
        "user_group_member", "user_group_member", "people",
        "workflow.user_group_member t JOIN workflow.user_group g ON g.id = t.group_id",
        (
            Column("enterprise_id", "ref", ref="enterprise", virtual=True,
                   expr="g.enterprise_id", width=220),
            Column("group_id", "ref", required=True, ref="user_group"),
            Column("user_id", "ref", required=True, ref="app_user"),
        ),
        key_columns=("enterprise_id", "group_id", "user_id"), order_by="g.code, t.id",
        enterprise_expr="g.enterprise_id", technical=False,
    ),
    RegisterSpec(
        "contractor_company", "company", "contractor", "contractor.company t",
        (
            _ent(),
            Column("name", required=True, width=220),
            Column("credit_code", required=True, check=_credit_code, width=200),
            Column("category", "choice", required=True, choices=COMPANY_CATEGORIES),
            Column("legal_representative", contractor_edit=True),
            Column("contact_person", contractor_edit=True),
            Column("phone", check=_phone, contractor_edit=True),
            Column("address", width=220, contractor_edit=True),
            Column("qualification_summary", width=240, contractor_edit=True),
            Column("status", "choice", required=True, choices=("active", "suspended",
                                                                "exited")),
        ),
        key_columns=("enterprise_id", "credit_code"), order_by="t.enterprise_id, t.name",
        company_expr="t.id", defaults={"status": "active"}, technical=False,
    ),
)  # fmt: skip

#: The registers of the /registers page, in picker order. ``SPECS`` also holds the screens
#: other pages add (e.g. the contractor archive), which have pages of their own.
PAGE_SPECS: Final[tuple[RegisterSpec, ...]] = _SPEC_LIST
SPECS: Final[dict[str, RegisterSpec]] = {s.key: s for s in _SPEC_LIST}


# -- who may do what --------------------------------------------------------------------------


def can_view(user: UserLike, spec: RegisterSpec) -> bool:
    """Contractors see their company's register only; every other role sees every register
    (rows restricted to the scope by the queries)."""
    if user.role == "contractor":
        return spec.company_expr is not None
    return user.role in ("admin", "engineer", "operator", "regulator")


def editable_columns(user: UserLike, spec: RegisterSpec) -> frozenset[str]:
    """Columns ``user`` may change in existing rows of ``spec`` (empty: read-only)."""
    writable = [c for c in spec.columns if not c.virtual and not c.readonly]
    if user.role == "admin":
        if spec.enterprise_expr is None and not user.scope.all_enterprises:
            return frozenset()  # regions are shared by every enterprise
        return frozenset(c.name for c in writable)
    if user.role == "engineer" and spec.technical:
        return frozenset(c.name for c in writable)
    if user.role == "contractor" and spec.company_expr is not None:
        return frozenset(c.name for c in writable if c.contractor_edit)
    return frozenset()


def can_edit(user: UserLike, spec: RegisterSpec) -> bool:
    return bool(editable_columns(user, spec))


def can_add_delete(user: UserLike, spec: RegisterSpec) -> bool:
    """Adding and deleting rows (and importing): admins, and engineers on technical ones."""
    if user.role == "contractor":
        return False
    return can_edit(user, spec)


# -- cells ------------------------------------------------------------------------------------


def choice_label(value: str, lang: str | None = None) -> str:
    key = f"reg.choice.{value}"
    return i18n.t(key, lang) if key in i18n.STRINGS else value


def choice_value(col: Column, text: str) -> str | None:
    """The stored choice for ``text``: the value itself or its label in either language."""
    for value in col.choices:
        if text == value or text in (choice_label(value, lang) for lang in i18n.LANGS):
            return value
    return None


def _parse_range(text: str) -> tuple[Any, str | None]:
    from psycopg.types.range import Range

    parts = re.split(r"\s*(?:~|～|至)\s*", text.strip())
    if len(parts) != 2:
        return None, i18n.t("reg.err.range")
    ends = []
    for part in parts:
        try:
            moment = datetime.fromisoformat(part.replace("/", "-"))
        except ValueError:
            return None, i18n.t("reg.err.range")
        ends.append(moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TZ))
    if ends[0] >= ends[1]:
        return None, i18n.t("reg.err.range_order")
    return Range(ends[0], ends[1], "[)"), None


def format_range(value: Any) -> str:
    """A shift period as typed in the grid: ``2026-11-22 08:00 ~ 2026-11-22 16:00`` (CST)."""
    if value is None or value.lower is None or value.upper is None:
        return ""
    lo, hi = (v.astimezone(DISPLAY_TZ) for v in (value.lower, value.upper))
    return f"{lo:%Y-%m-%d %H:%M} ~ {hi:%Y-%m-%d %H:%M}"


_TRUE = frozenset({"true", "1", "yes", "y", "是", "启用", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "停用", "f"})


def parse_cell(col: Column, raw: object) -> tuple[Any, str | None]:
    """``(value, error)`` for a cell as typed or imported. Blank is None (or an error when the
    column is required). A ``ref`` stays text: ``register_data`` resolves it in the database.

    >>> parse_cell(Column("port", "int"), "502")
    (502, None)
    """
    if isinstance(raw, bool) and col.kind == "bool":
        return raw, None
    text = "" if raw is None else str(raw).strip()
    if text == "" and col.kind == "multi" and not col.required:
        return [], None
    if text == "":
        return None, i18n.t("reg.err.required") if col.required else None
    try:
        if col.kind == "int":
            number = float(text.replace(",", ""))
            if not number.is_integer():
                raise ValueError(text)
            return int(number), None
        if col.kind == "float":
            return float(text.replace(",", "")), None
        if col.kind == "date":
            return date.fromisoformat(text.replace("/", "-")[:10]), None
    except ValueError:
        return None, i18n.t(f"reg.err.{col.kind}", value=text)
    if col.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True, None
        if low in _FALSE:
            return False, None
        return None, i18n.t("reg.err.bool", value=text)
    if col.kind == "choice":
        value = choice_value(col, text)
        if value is None:
            options = "、".join(choice_label(c) for c in col.choices)
            return None, i18n.t("reg.err.choice", value=text, options=options)
        return (int(value) if value.isdigit() else value), None
    if col.kind == "multi":
        values = []
        for part in (p.strip() for p in re.split(r"[,，、;；]", text)):
            if not part:
                continue
            value = choice_value(col, part)
            if value is None:
                options = "、".join(choice_label(c) for c in col.choices)
                return None, i18n.t("reg.err.choice", value=part, options=options)
            values.append(value)
        return values, None
    if col.kind == "range":
        return _parse_range(text)
    if col.check is not None:
        return col.check(text)
    return text, None


def display_value(col: Column, value: Any, lang: str | None = None) -> Any:
    """The grid's (and the export's) form of a stored value."""
    if value is None:
        return None if col.kind in ("bool", "int", "float") else ""
    if col.kind == "choice":
        return choice_label(str(value), lang)
    if col.kind == "multi":
        return "、".join(choice_label(str(v), lang) for v in value)
    if col.kind == "range":
        return format_range(value)
    if col.kind == "date":
        return value.isoformat()
    if col.kind == "bool":
        return bool(value)
    return value


def visible_specs(user: UserLike) -> list[RegisterSpec]:
    return [s for s in PAGE_SPECS if can_view(user, s)]
