"""The JSON definition of a saved dashboard and its validation (pure).

    definition = validate(doc)            # SpecError(errors) naming each bad field by path
    doc = export_document(uid, title, definition)   # what "export JSON" downloads
    uid, title, definition = parse_import(text)     # the reverse, from uploaded text

A definition::

    {"schema": 1,
     "time": {"from": "now-6h", "to": "now"}, "refresh": "off",
     "variables": ["enterprise", "unit", "tag"],
     "panels": [{"id": "p1", "type": "timeseries", "title": "反应器压力",
                 "tags": ["TEP-XMEAS07", 42, "$tag"], "reduce": "last",
                 "thresholds": [{"value": 2800, "color": "orange"},
                                {"value": 2950, "color": "red"}],
                 "width": 6, "height": 8, "min": null, "max": null, "unit": "kPa"}]}

``tags`` entries are tag ids, tag names (resolved within the enterprise variable, else the
viewer's scope) or ``$tag`` / ``$unit`` (the tags the variables select).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from dashboards.components.timerange import REFRESH_CHOICES, TimeRange, TimeRangeError
from dashboards.components.variables import VARIABLES

SCHEMA_VERSION: Final = 1
PANEL_TYPES: Final = ("timeseries", "stat", "gauge", "bar", "table", "heatmap", "state_timeline")
REDUCERS: Final = ("last", "avg", "min", "max")
#: Named colours of thresholds (Grafana's palette, close enough), or any #rrggbb.
COLORS: Final = {
    "green": "#2e7d32",
    "yellow": "#f9a825",
    "orange": "#ef6c00",
    "red": "#c62828",
    "blue": "#1565c0",
    "purple": "#6a1b9a",
}
VARIABLE_REFS: Final = ("$tag", "$unit")
MAX_PANELS: Final = 40
MAX_TAGS: Final = 20
MAX_THRESHOLDS: Final = 10
GRID_COLUMNS: Final = 12
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_UID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PANEL_KEYS: Final = frozenset(
    {"id", "type", "title", "tags", "reduce", "thresholds", "width", "height", "min", "max", "unit"}
)
_TOP_KEYS: Final = frozenset({"schema", "time", "refresh", "variables", "panels"})
_EXPORT_KEYS: Final = frozenset({"uid", "title"})


class SpecError(ValueError):
    """A definition that cannot be saved; ``errors`` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def color_of(name: str) -> str:
    """``#rrggbb`` of a threshold colour."""
    return COLORS.get(name, name)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def validate_panel(raw: Any, path: str, errors: list[str], index: int = 0) -> dict[str, Any]:
    """One panel, with defaults filled in; problems go to ``errors``."""
    if not isinstance(raw, Mapping):
        errors.append(f"{path}: must be an object")
        return {}
    unknown = sorted(set(raw) - _PANEL_KEYS)
    if unknown:
        errors.append(f"{path}: unknown fields {', '.join(unknown)}")
    out: dict[str, Any] = {}
    pid = raw.get("id", f"p{index + 1}")
    if not isinstance(pid, str) or not _UID.match(pid):
        errors.append(f"{path}.id: letters, digits, '-' or '_' (at most 64)")
    out["id"] = str(pid)
    ptype = raw.get("type")
    if ptype not in PANEL_TYPES:
        errors.append(f"{path}.type: {ptype!r} is not one of {', '.join(PANEL_TYPES)}")
    out["type"] = ptype
    title = raw.get("title", "")
    if not isinstance(title, str) or not title.strip() or len(title) > 100:
        errors.append(f"{path}.title: 1 to 100 characters")
    out["title"] = title.strip() if isinstance(title, str) else ""
    tags = raw.get("tags")
    if not isinstance(tags, list) or not tags:
        errors.append(f"{path}.tags: a list of at least one tag id, tag name, $tag or $unit")
        tags = []
    elif len(tags) > MAX_TAGS:
        errors.append(f"{path}.tags: at most {MAX_TAGS} entries")
    for i, ref in enumerate(tags):
        ok = (isinstance(ref, int) and not isinstance(ref, bool) and ref > 0) or (
            isinstance(ref, str) and ref.strip() and len(ref) <= 200
        )
        if not ok:
            errors.append(f"{path}.tags[{i}]: {ref!r} is neither a tag id nor a tag name")
        elif isinstance(ref, str) and ref.startswith("$") and ref not in VARIABLE_REFS:
            errors.append(f"{path}.tags[{i}]: {ref!r} is not one of {', '.join(VARIABLE_REFS)}")
    out["tags"] = [t.strip() if isinstance(t, str) else t for t in tags]
    reduce = raw.get("reduce", "last")
    if reduce not in REDUCERS:
        errors.append(f"{path}.reduce: {reduce!r} is not one of {', '.join(REDUCERS)}")
    out["reduce"] = reduce
    out["thresholds"] = _thresholds(raw.get("thresholds", []), f"{path}.thresholds", errors)
    for key, lo, hi, default in (("width", 1, GRID_COLUMNS, 6), ("height", 3, 20, 8)):
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            errors.append(f"{path}.{key}: a whole number from {lo} to {hi}")
        out[key] = value
    for key in ("min", "max"):
        value = raw.get(key)
        if value is not None and not _number(value):
            errors.append(f"{path}.{key}: a number or null")
        out[key] = value
    if _number(out["min"]) and _number(out["max"]) and out["min"] >= out["max"]:
        errors.append(f"{path}.max: must be above min")
    unit = raw.get("unit")
    if unit is not None and (not isinstance(unit, str) or len(unit) > 20):
        errors.append(f"{path}.unit: text of at most 20 characters, or null")
    out["unit"] = unit
    return out


def _thresholds(raw: Any, path: str, errors: list[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        errors.append(f"{path}: a list of {{value, color}}")
        return []
    if len(raw) > MAX_THRESHOLDS:
        errors.append(f"{path}: at most {MAX_THRESHOLDS}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            errors.append(f"{path}[{i}]: must be an object with value and color")
            continue
        value, color = item.get("value"), item.get("color", "red")
        if not _number(value):
            errors.append(f"{path}[{i}].value: must be a number")
        if not isinstance(color, str) or not (color in COLORS or _HEX.match(color)):
            errors.append(
                f"{path}[{i}].color: {color!r} is not one of {', '.join(COLORS)} or #rrggbb"
            )
        out.append({"value": value, "color": color})
    values = [t["value"] for t in out if _number(t["value"])]
    if values != sorted(values):
        errors.append(f"{path}: values must be in ascending order")
    return out


def validate(doc: Any) -> dict[str, Any]:
    """A complete, normalised definition, or SpecError listing every problem."""
    errors: list[str] = []
    if not isinstance(doc, Mapping):
        raise SpecError(["definition: must be a JSON object"])
    unknown = sorted(set(doc) - _TOP_KEYS - _EXPORT_KEYS)
    if unknown:
        errors.append(f"unknown fields {', '.join(unknown)}")
    schema = doc.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        errors.append(f"schema: {schema!r} is not supported (this version reads {SCHEMA_VERSION})")
    time = doc.get("time", {})
    if not isinstance(time, Mapping):
        errors.append("time: must be an object with from and to")
        time = {}
    try:
        rng = TimeRange.parse(time.get("from"), time.get("to"))
    except TimeRangeError as exc:
        errors.append(f"time: {exc}")
        rng = TimeRange()
    refresh = doc.get("refresh", "off")
    if refresh not in REFRESH_CHOICES:
        errors.append(f"refresh: {refresh!r} is not one of {', '.join(REFRESH_CHOICES)}")
    variables = doc.get("variables", list(VARIABLES))
    if not isinstance(variables, list) or any(v not in VARIABLES for v in variables):
        errors.append(f"variables: a list drawn from {', '.join(VARIABLES)}")
        variables = []
    panels = doc.get("panels", [])
    if not isinstance(panels, list):
        errors.append("panels: must be a list")
        panels = []
    if len(panels) > MAX_PANELS:
        errors.append(f"panels: at most {MAX_PANELS}")
    checked = [validate_panel(p, f"panels[{i}]", errors, i) for i, p in enumerate(panels)]
    ids = [p.get("id") for p in checked]
    dupes = sorted({i for i in ids if ids.count(i) > 1 and i})
    if dupes:
        errors.append(f"panels: ids must be unique ({', '.join(dupes)})")
    if errors:
        raise SpecError(errors)
    return {
        "schema": SCHEMA_VERSION,
        "time": {"from": rng.from_, "to": rng.to},
        "refresh": refresh,
        "variables": [v for v in VARIABLES if v in variables],
        "panels": checked,
    }


def new_panel_id(definition: Mapping[str, Any]) -> str:
    taken = {p["id"] for p in definition.get("panels", [])}
    n = len(taken) + 1
    while f"p{n}" in taken:
        n += 1
    return f"p{n}"


def empty_definition() -> dict[str, Any]:
    return validate({"panels": []})


def export_document(uid: str, title: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    """The file "export JSON" gives: the definition with its uid and title."""
    return {"uid": uid, "title": title, **definition}


def parse_import(text: str | bytes) -> tuple[str | None, str, dict[str, Any]]:
    """``(uid or None, title, definition)`` of an exported file; SpecError says what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SpecError(["file: not UTF-8 text"]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([f"JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]) from None
    errors: list[str] = []
    if not isinstance(doc, dict):
        raise SpecError(["file: must hold one JSON object (an exported dashboard)"])
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        errors.append("title: 1 to 200 characters")
    uid = doc.get("uid")
    if uid is not None and (not isinstance(uid, str) or not _UID.match(uid)):
        errors.append("uid: lower-case letters, digits, '-' or '_' (at most 64)")
    try:
        definition = validate({k: v for k, v in doc.items() if k not in _EXPORT_KEYS})
    except SpecError as exc:
        errors.extend(exc.errors)
        definition = {}
    if errors:
        raise SpecError(errors)
    return uid, str(title).strip(), definition


def parse_thresholds(text: str) -> list[dict[str, Any]]:
    """The editor's threshold field: ``2800:orange, 2950:red`` (colour optional: red).

    >>> parse_thresholds("80:orange, 90")
    [{'value': 80.0, 'color': 'orange'}, {'value': 90.0, 'color': 'red'}]
    """
    out: list[dict[str, Any]] = []
    for i, part in enumerate(p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        value, _, color = part.partition(":")
        try:
            number = float(value)
        except ValueError:
            raise SpecError([f"thresholds[{i}]: {value.strip()!r} is not a number"]) from None
        out.append({"value": number, "color": color.strip() or "red"})
    errors: list[str] = []
    checked = _thresholds(out, "thresholds", errors)
    if errors:
        raise SpecError(errors)
    return checked


def format_thresholds(thresholds: list[Mapping[str, Any]]) -> str:
    return ", ".join(f"{t['value']:g}:{t['color']}" for t in thresholds)


def parse_tag_refs(text: str) -> list[int | str]:
    """The editor's tags field: ids, names and $tag / $unit separated by commas or new lines."""
    out: list[int | str] = []
    for part in re.split(r"[,\n，]", text or ""):
        item = part.strip()
        if item:
            out.append(int(item) if item.isdigit() else item)
    return out
