"""Form values of the alerting configuration pages to database rows, and back: pure functions.

    values, errors = rule_from_form({"code": "ti101-high", "name": "反应器温度高", "tag_id": 17,
        "kind": "threshold", "levels.alarm.on": ["on"], "levels.alarm.op": ">",
        "levels.alarm.value": "80", "levels.alarm.clear": "75", ...})
    errors    # {"levels.alarm.clear": FieldError("clear_side", {...})} -> shown at that field
    form = rule_to_form(row)        # a workflow.alert_rule row as the editor's field values

Every error names its field (the key) and carries a code and parameters, so a page can say it
in the user's language. The specs are then validated by the engine's own models
(``RuleSpec``, ``Policy``, ``Calendar``, ``MuteTime``, the channel transports), so the pages can
store nothing the engine would refuse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from workflows.channels import DeliveryError, transport_for
from workflows.escalation import Policy
from workflows.rules import SEVERITY, RuleSpec
from workflows.silences import Calendar, MuteTime, parse_matchers

CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")
LEVELS = ("warning", "alarm", "danger")
KINDS = ("threshold", "rate", "trend", "baseline", "nodata")
PRIORITIES = ("emergency", "high", "low")
#: Rule fields each kind uses besides code, name, tag, priority, labels, enabled, levels.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "threshold": ("source", "column", "window_s", "reduce", "pending_s", "keep_firing_s",
                  "nodata_s", "on_nodata"),
    "rate": ("source", "column", "window_s", "rate_unit_s", "pending_s", "keep_firing_s",
             "nodata_s", "on_nodata"),
    "trend": ("source", "column", "window_s", "target", "direction", "pending_s",
              "keep_firing_s", "nodata_s", "on_nodata"),
    "baseline": ("source", "column", "window_s", "reduce", "baseline_h", "baseline_min_points",
                 "pending_s", "keep_firing_s", "nodata_s", "on_nodata"),
    "nodata": ("source", "column", "nodata_s", "nodata_level", "pending_s", "keep_firing_s"),
}  # fmt: skip
INT_FIELDS = {
    "window_s": 1,
    "pending_s": 0,
    "keep_firing_s": 0,
    "nodata_s": 1,
    "rate_unit_s": 1,
    "baseline_h": 1,
    "baseline_min_points": 1,
}
CHOICES = {
    "source": ("raw", "1m", "1h"),
    "column": ("avg", "min", "max", "last"),
    "reduce": ("last", "avg", "min", "max"),
    "on_nodata": ("nodata", "normal", "keep"),
    "direction": ("rising", "falling"),
    "nodata_level": LEVELS,
}
#: Channel settings per kind: (field, type, required). The secret is separate (write-only).
CHANNEL_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "email": (("host", "str", True), ("port", "int", False), ("sender", "str", True),
              ("username", "str", False), ("starttls", "bool", False), ("ssl", "bool", False),
              ("to", "list", False)),
    "sms": (("url", "str", True), ("signature", "str", False), ("to", "list", False)),
    "wecom": (("url", "str", True), ("msgtype", "str", False), ("mentions", "list", False)),
    "dingtalk": (("url", "str", True), ("mentions", "list", False)),
    "feishu": (("url", "str", True),),
    "webhook": (("url", "str", True),),
}  # fmt: skip
CHANNEL_SETTINGS = tuple(dict.fromkeys(f for fs in CHANNEL_FIELDS.values() for f, _, _ in fs))
TIER_SLOTS = 5
MUTE_SLOTS = 2


@dataclass(frozen=True)
class FieldError:
    """``code`` names the problem (the pages translate it), ``params`` fill the message."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


Errors = dict[str, FieldError]


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or v == []


def _text(form: Mapping[str, Any], key: str) -> str:
    v = form.get(key)
    return "" if v is None else str(v).strip()


def _flag(form: Mapping[str, Any], key: str) -> bool:
    return bool(form.get(key))  # a checklist's ["on"] or a plain boolean


def _number(form: Mapping[str, Any], key: str, errors: Errors, required: bool) -> float | None:
    v = form.get(key)
    if _blank(v):
        if required:
            errors[key] = FieldError("required")
        return None
    try:
        x = float(str(v).strip())
    except ValueError:
        errors[key] = FieldError("number")
        return None
    if x != x or x in (float("inf"), float("-inf")):
        errors[key] = FieldError("number")
        return None
    return x


def _integer(form: Mapping[str, Any], key: str, errors: Errors, minimum: int) -> int | None:
    x = _number(form, key, errors, required=True)
    if x is None:
        return None
    if x != int(x):
        errors[key] = FieldError("integer")
        return None
    if x < minimum:
        errors[key] = FieldError("min", {"min": minimum})
        return None
    return int(x)


def _code(form: Mapping[str, Any], errors: Errors) -> str:
    code = _text(form, "code")
    if not code:
        errors["code"] = FieldError("required")
    elif not CODE.match(code):
        errors["code"] = FieldError("code")
    return code


def parse_labels(text: str) -> dict[str, str]:
    """``"unit=R-101, area=north"`` -> {"unit": "R-101", "area": "north"}."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in re.split(r"[,，\n]", text or "")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(part)
        out[key.strip()] = value.strip()
    return out


def labels_text(labels: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (labels or {}).items())


def matchers_from_text(text: str) -> list[dict[str, str]]:
    """``"unit=R-101, parameter=~GD-.*"`` -> matcher dicts (ops ``=``, ``!=``, ``=~``, ``!~``)."""
    out = []
    for part in (p.strip() for p in re.split(r"[,，\n]", text or "")):
        if not part:
            continue
        for op in ("=~", "!~", "!=", "="):
            if op in part:
                label, value = (s.strip() for s in part.split(op, 1))
                out.append({"label": label, "op": op, "value": value})
                break
        else:
            raise ValueError(part)
    parse_matchers(out)  # labels present, regular expressions compile
    return out


def matchers_text(matchers: list[Mapping[str, Any]] | None) -> str:
    return ", ".join(f"{m['label']}{m.get('op', '=')}{m['value']}" for m in matchers or [])


def parse_ranges(text: str) -> list[list[str]]:
    """``"08:00-12:00, 13:30-17:30"`` -> [["08:00", "12:00"], ["13:30", "17:30"]]."""
    out = []
    for part in (p.strip() for p in re.split(r"[,，\n]", text or "")):
        if not part:
            continue
        m = re.fullmatch(r"(\d{1,2}:\d{2})\s*[-~–]\s*(\d{1,2}:\d{2})", part)
        if not m:
            raise ValueError(part)
        start, end = (s.zfill(5) for s in m.groups())
        out.append([start, end])
    return out


def ranges_text(ranges: list[Any] | None) -> str:
    return ", ".join(f"{a}-{b}" for a, b in ranges or [])


def parse_dates(text: str) -> list[date]:
    out = []
    for part in (p.strip() for p in re.split(r"[,，\s]+", text or "")):
        if not part:
            continue
        try:
            out.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(part) from None
    return sorted(set(out))


def dates_text(days: list[date] | None) -> str:
    return ", ".join(d.isoformat() for d in sorted(days or []))


def parse_ints(text: str, low: int, high: int) -> list[int]:
    out = []
    for part in (p.strip() for p in re.split(r"[,，\s]+", text or "")):
        if not part:
            continue
        if not part.isdigit() or not low <= int(part) <= high:
            raise ValueError(part)
        out.append(int(part))
    return sorted(set(out))


def _pydantic(exc: ValidationError, errors: Errors, fields: Mapping[tuple[Any, ...], str]) -> None:
    """Put the model's errors at the form fields their location maps to (else the form)."""
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = fields.get(loc) or fields.get(loc[:2]) or fields.get(loc[:1]) or "_form"
        msg = str(err["msg"]).removeprefix("Value error, ")
        errors.setdefault(key, FieldError("invalid", {"msg": msg}))


# -- rules ------------------------------------------------------------------------------------


def _levels(form: Mapping[str, Any], errors: Errors) -> list[dict[str, Any]]:
    out = []
    for name in LEVELS:
        pre = f"levels.{name}"
        if not _flag(form, f"{pre}.on"):
            continue
        op = _text(form, f"{pre}.op") or ">"
        if op not in (">", ">=", "<", "<="):
            errors[f"{pre}.op"] = FieldError("choice")
            continue
        value = _number(form, f"{pre}.value", errors, required=True)
        clear = _number(form, f"{pre}.clear", errors, required=False)
        if value is None:
            continue
        if clear is None and f"{pre}.clear" not in errors:
            clear = value  # no hysteresis asked for
        if clear is None:
            continue
        rising = op in (">", ">=")
        if (rising and clear > value) or (not rising and clear < value):
            errors[f"{pre}.clear"] = FieldError(
                "clear_side", {"side": "below" if rising else "above", "value": value}
            )
            continue
        out.append({"level": name, "op": op, "value": value, "clear": clear})
    by = {lv["level"]: lv for lv in out}
    ordered = [by[n] for n in LEVELS if n in by]
    for low, high in itertools.pairwise(ordered):
        rising = high["op"] in (">", ">=")
        if (rising and high["value"] < low["value"]) or (
            not rising and high["value"] > low["value"]
        ):
            errors[f"levels.{high['level']}.value"] = FieldError(
                "beyond", {"other": low["level"], "value": low["value"]}
            )
    return out


def rule_from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
    """An ``alert_rule`` row (without ``enterprise_id``: the tag's) or the field errors."""
    errors: Errors = {}
    code = _code(form, errors)
    name = _text(form, "name")
    if not name:
        errors["name"] = FieldError("required")
    tag_id = form.get("tag_id")
    if _blank(tag_id):
        errors["tag_id"] = FieldError("required")
    kind = _text(form, "kind")
    if kind not in KINDS:
        errors["kind"] = FieldError("choice")
        return None, errors
    priority = _text(form, "priority") or "high"
    if priority not in PRIORITIES:
        errors["priority"] = FieldError("choice")
    try:
        labels = parse_labels(_text(form, "labels"))
    except ValueError as exc:
        errors["labels"] = FieldError("labels", {"part": str(exc)})
        labels = {}
    spec: dict[str, Any] = {"kind": kind}
    for key in KIND_FIELDS[kind]:
        if key in INT_FIELDS:
            v = _integer(form, key, errors, INT_FIELDS[key])
            if v is not None:
                if key == "baseline_h":
                    spec["baseline_s"] = v * 3600
                else:
                    spec[key] = v
        elif key == "target":
            target = _number(form, key, errors, required=True)
            if target is not None:
                spec["target"] = target
        else:
            choice = _text(form, key) or CHOICES[key][0]
            if choice not in CHOICES[key]:
                errors[key] = FieldError("choice")
            spec[key] = choice
    if kind != "nodata":
        levels = _levels(form, errors)
        if not levels and not any(k.startswith("levels.") for k in errors):
            errors["levels"] = FieldError("levels_none")
        spec["levels"] = levels
    if errors:
        return None, errors
    index = {lv["level"]: i for i, lv in enumerate(spec.get("levels", []))}
    fields: dict[tuple[Any, ...], str] = {(k,): k for k in spec}
    fields[("baseline_s",)] = "baseline_h"
    for name_, i in index.items():
        fields[("levels", i)] = f"levels.{name_}.clear"
        for part in ("op", "value", "clear"):
            fields[("levels", i, part)] = f"levels.{name_}.{part}"
    try:
        model = RuleSpec.model_validate(spec)
    except ValidationError as exc:
        _pydantic(exc, errors, fields)
        return None, errors
    return {
        "code": code,
        "name": name,
        "kind": kind,
        "tag_id": int(tag_id),  # type: ignore[arg-type]
        "priority": priority,
        "spec": model.model_dump(mode="json", exclude_defaults=True) | {"kind": kind},
        "labels": labels,
        "enabled": _flag(form, "enabled"),
    }, errors


def rule_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """Editor values of a rule row (None: a new rule's defaults)."""
    spec = RuleSpec.model_validate(
        row["spec"] if row else {"kind": "threshold", "levels": [{"level": "alarm", "op": ">",
                                                                  "value": 0, "clear": 0}]}
    )  # fmt: skip
    form: dict[str, Any] = {
        "code": row["code"] if row else "",
        "name": row["name"] if row else "",
        "tag_id": row["tag_id"] if row else None,
        "priority": row["priority"] if row else "high",
        "kind": spec.kind,
        "labels": labels_text(row["labels"] if row else {}),
        "enabled": ["on"] if (row is None or row["enabled"]) else [],
        "source": spec.source,
        "column": spec.column,
        "window_s": spec.window_s,
        "reduce": spec.reduce,
        "pending_s": spec.pending_s,
        "keep_firing_s": spec.keep_firing_s,
        "nodata_s": spec.nodata_s,
        "on_nodata": spec.on_nodata,
        "rate_unit_s": spec.rate_unit_s,
        "target": spec.target,
        "direction": spec.direction,
        "baseline_h": spec.baseline_s // 3600,
        "baseline_min_points": spec.baseline_min_points,
        "nodata_level": spec.nodata_level,
    }
    have = {lv.level: lv for lv in spec.levels} if row else {}
    for name in LEVELS:
        lv = have.get(name)
        form[f"levels.{name}.on"] = ["on"] if lv else []
        form[f"levels.{name}.op"] = lv.op if lv else ">"
        form[f"levels.{name}.value"] = lv.value if lv else None
        form[f"levels.{name}.clear"] = lv.clear if lv else None
    return form


def levels_summary(spec: Mapping[str, Any]) -> str:
    """``"alarm >80 (75), danger >90 (85)"`` for the rule list."""
    if spec.get("kind") == "nodata":
        return f"{spec.get('nodata_level', 'warning')} ≥{spec.get('nodata_s', 600)} s"
    levels = sorted(spec.get("levels", []), key=lambda lv: SEVERITY[lv["level"]])
    return ", ".join(f"{lv['level']} {lv['op']}{lv['value']:g} ({lv['clear']:g})" for lv in levels)


# -- escalation policies ----------------------------------------------------------------------


def policy_from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
    """An ``escalation_policy`` row (``enterprise_id`` from the form, None: instance-wide)."""
    errors: Errors = {}
    code = _code(form, errors)
    position = _integer(form, "position", errors, 0)
    repeat_min = _number(form, "repeat_min", errors, required=False)
    if repeat_min is not None and repeat_min < 1:
        errors["repeat_min"] = FieldError("min", {"min": 1})
    until = _text(form, "until") or "ack"
    if until not in ("ack", "resolve"):
        errors["until"] = FieldError("choice")
    try:
        matchers = matchers_from_text(_text(form, "matchers"))
    except ValueError as exc:
        errors["matchers"] = FieldError("matchers", {"part": str(exc).split(":")[0]})
        matchers = []
    tiers: list[dict[str, Any]] = []
    slots: list[int] = []
    for i in range(TIER_SLOTS):
        pre = f"tiers.{i}"
        groups = [int(g) for g in form.get(f"{pre}.groups") or []]
        users = [int(u) for u in form.get(f"{pre}.users") or []]
        channels = [str(c) for c in form.get(f"{pre}.channels") or []]
        if not (groups or users or channels):
            if not _blank(form.get(f"{pre}.after_min")) and i > 0:
                errors[f"{pre}.groups"] = FieldError("tier_empty")
            continue
        after = _number(form, f"{pre}.after_min", errors, required=True)
        if after is not None and after < 0:
            errors[f"{pre}.after_min"] = FieldError("min", {"min": 0})
            after = None
        when = _text(form, f"{pre}.when") or "always"
        if after is None:
            continue
        if tiers and round(after * 60) <= tiers[-1]["after_s"]:
            errors[f"{pre}.after_min"] = FieldError(
                "tier_order", {"prev": tiers[-1]["after_s"] / 60}
            )
            continue
        tier: dict[str, Any] = {"after_s": round(after * 60), "groups": groups, "users": users,
                                "when": when}  # fmt: skip
        if channels:
            tier["channels"] = channels
        tiers.append(tier)
        slots.append(i)
    if not tiers and not any(k.startswith("tiers.") for k in errors):
        errors["tiers.0.groups"] = FieldError("tiers_none")
    if errors:
        return None, errors
    values = {
        "code": code,
        "name": _text(form, "name"),
        "enterprise_id": _enterprise(form),
        "position": position,
        "priorities": list(form.get("priorities") or []),
        "levels": list(form.get("levels") or []),
        "matchers": matchers,
        "until": until,
        "repeat_s": None if repeat_min is None else round(repeat_min * 60),
        "calendar_id": None if _blank(form.get("calendar_id")) else int(form["calendar_id"]),
        "tiers": tiers,
        "enabled": _flag(form, "enabled"),
    }
    fields: dict[tuple[Any, ...], str] = {
        ("repeat_s",): "repeat_min",
        ("priorities",): "priorities",
        ("levels",): "levels",
        ("matchers",): "matchers",
        ("until",): "until",
    }
    for n, slot in enumerate(slots):
        fields[("tiers", n)] = f"tiers.{slot}.groups"
        fields[("tiers", n, "after_s")] = f"tiers.{slot}.after_min"
        fields[("tiers", n, "when")] = f"tiers.{slot}.when"
    try:
        Policy.model_validate({k: values[k] for k in ("until", "repeat_s", "priorities", "levels",
                                                       "matchers", "tiers")})  # fmt: skip
    except ValidationError as exc:
        _pydantic(exc, errors, fields)
        return None, errors
    return values, errors


def _enterprise(form: Mapping[str, Any]) -> int | None:
    v = form.get("enterprise_id")
    return None if _blank(v) or v == "all" else int(v)  # type: ignore[arg-type]


def policy_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    form: dict[str, Any] = {
        "code": row.get("code", ""),
        "name": row.get("name", ""),
        "enterprise_id": row.get("enterprise_id"),
        "position": row.get("position", 100),
        "priorities": list(row.get("priorities") or []),
        "levels": list(row.get("levels") or []),
        "matchers": matchers_text(row.get("matchers")),
        "until": row.get("until", "ack"),
        "repeat_min": None if row.get("repeat_s") is None else row["repeat_s"] / 60,
        "calendar_id": row.get("calendar_id"),
        "enabled": ["on"] if row.get("enabled", True) else [],
    }
    tiers = list(row.get("tiers") or [])
    for i in range(TIER_SLOTS):
        t = tiers[i] if i < len(tiers) else {}
        form[f"tiers.{i}.after_min"] = t["after_s"] / 60 if t else None
        form[f"tiers.{i}.groups"] = list(t.get("groups") or [])
        form[f"tiers.{i}.users"] = list(t.get("users") or [])
        form[f"tiers.{i}.channels"] = list(t.get("channels") or [])
        form[f"tiers.{i}.when"] = t.get("when", "always")
    return form


# -- calendars and mute times -----------------------------------------------------------------


def calendar_from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
    errors: Errors = {}
    code = _code(form, errors)
    name = _text(form, "name")
    if not name:
        errors["name"] = FieldError("required")
    days = sorted(int(d) for d in form.get("working_days") or [])
    parsed: dict[str, Any] = {}
    for key, parse, err in (
        ("hours", parse_ranges, "ranges"),
        ("holidays", parse_dates, "dates"),
        ("extra_workdays", parse_dates, "dates"),
    ):
        try:
            parsed[key] = parse(_text(form, key))
        except ValueError as exc:
            errors[key] = FieldError(err, {"part": str(exc)})
    timezone = _text(form, "timezone") or "Asia/Shanghai"
    if errors:
        return None, errors
    if not parsed["hours"]:
        errors["hours"] = FieldError("required")
        return None, errors
    try:
        Calendar.model_validate(
            {"timezone": timezone, "working_days": days, "hours": parsed["hours"],
             "holidays": parsed["holidays"], "extra_workdays": parsed["extra_workdays"]}
        )  # fmt: skip
    except ValidationError as exc:
        _pydantic(exc, errors, {("timezone",): "timezone", ("hours",): "hours"})
        return None, errors
    return {
        "code": code,
        "name": name,
        "enterprise_id": _enterprise(form),
        "timezone": timezone,
        "working_days": days,
        "hours": parsed["hours"],
        "holidays": parsed["holidays"],
        "extra_workdays": parsed["extra_workdays"],
    }, errors


def calendar_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    return {
        "code": row.get("code", ""),
        "name": row.get("name", ""),
        "enterprise_id": row.get("enterprise_id"),
        "timezone": row.get("timezone", "Asia/Shanghai"),
        "working_days": [str(d) for d in row.get("working_days", [1, 2, 3, 4, 5])],
        "hours": ranges_text(row.get("hours", [["08:00", "17:30"]])),
        "holidays": dates_text(row.get("holidays")),
        "extra_workdays": dates_text(row.get("extra_workdays")),
    }


def mute_from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
    errors: Errors = {}
    code = _code(form, errors)
    intervals = []
    for i in range(MUTE_SLOTS):
        pre = f"intervals.{i}"
        interval: dict[str, Any] = {"weekdays": sorted(int(d) for d in form.get(f"{pre}.weekdays")
                                                       or [])}  # fmt: skip
        for key, low, high in (("days_of_month", 1, 31), ("months", 1, 12)):
            try:
                interval[key] = parse_ints(_text(form, f"{pre}.{key}"), low, high)
            except ValueError as exc:
                errors[f"{pre}.{key}"] = FieldError("ints", {"part": str(exc), "low": low,
                                                             "high": high})  # fmt: skip
        try:
            interval["times"] = parse_ranges(_text(form, f"{pre}.times"))
        except ValueError as exc:
            errors[f"{pre}.times"] = FieldError("ranges", {"part": str(exc)})
        if any(interval.get(k) for k in ("weekdays", "days_of_month", "months", "times")):
            intervals.append((i, interval))
    try:
        matchers = matchers_from_text(_text(form, "matchers"))
    except ValueError as exc:
        errors["matchers"] = FieldError("matchers", {"part": str(exc).split(":")[0]})
        matchers = []
    if not intervals and not errors:
        errors["intervals.0.weekdays"] = FieldError("interval_none")
    timezone = _text(form, "timezone") or "Asia/Shanghai"
    if errors:
        return None, errors
    fields: dict[tuple[Any, ...], str] = {("timezone",): "timezone"}
    for n, (slot, _) in enumerate(intervals):
        fields[("intervals", n)] = f"intervals.{slot}.times"
        fields[("intervals", n, "times")] = f"intervals.{slot}.times"
    try:
        MuteTime.model_validate(
            {"timezone": timezone, "intervals": [iv for _, iv in intervals], "matchers": matchers}
        )
    except ValidationError as exc:
        _pydantic(exc, errors, fields)
        return None, errors
    return {
        "code": code,
        "name": _text(form, "name"),
        "enterprise_id": _enterprise(form),
        "timezone": timezone,
        "intervals": [{k: v for k, v in iv.items() if v} for _, iv in intervals],
        "matchers": matchers,
        "enabled": _flag(form, "enabled"),
    }, errors


def mute_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    form: dict[str, Any] = {
        "code": row.get("code", ""),
        "name": row.get("name", ""),
        "enterprise_id": row.get("enterprise_id"),
        "timezone": row.get("timezone", "Asia/Shanghai"),
        "matchers": matchers_text(row.get("matchers")),
        "enabled": ["on"] if row.get("enabled", True) else [],
    }
    intervals = list(row.get("intervals") or [])
    for i in range(MUTE_SLOTS):
        iv = intervals[i] if i < len(intervals) else {}
        form[f"intervals.{i}.weekdays"] = [str(d) for d in iv.get("weekdays", [])]
        form[f"intervals.{i}.times"] = ranges_text(iv.get("times"))
        form[f"intervals.{i}.days_of_month"] = ", ".join(map(str, iv.get("days_of_month", [])))
        form[f"intervals.{i}.months"] = ", ".join(map(str, iv.get("months", [])))
    return form


# -- channels ---------------------------------------------------------------------------------


def channel_from_form(
    form: Mapping[str, Any], stored_secret: str | None
) -> tuple[dict[str, Any] | None, Errors]:
    """A ``channel`` row. The secret field is write-only: left empty it keeps ``stored_secret``
    (the row's values then carry no ``secret`` key), ``secret_clear`` removes it."""
    errors: Errors = {}
    code = _code(form, errors)
    kind = _text(form, "kind")
    if kind not in CHANNEL_FIELDS:
        errors["kind"] = FieldError("choice")
        return None, errors
    config: dict[str, Any] = {}
    for key, typ, required in CHANNEL_FIELDS[kind]:
        raw = form.get(f"cfg.{key}")
        if _blank(raw):
            if required:
                errors[f"cfg.{key}"] = FieldError("required")
            continue
        if typ == "int":
            v = _integer(form, f"cfg.{key}", errors, 1)
            if v is not None:
                config[key] = v
        elif typ == "bool":
            config[key] = bool(raw)
        elif typ == "list":
            config[key] = [s.strip() for s in re.split(r"[,，;\s]+", str(raw)) if s.strip()]
        else:
            config[key] = str(raw).strip()
    on_unknown = _text(form, "on_unknown") or "resend"
    if on_unknown not in ("resend", "hold"):
        errors["on_unknown"] = FieldError("choice")
    elif on_unknown != "resend":
        config["on_unknown"] = on_unknown
    secret_new = str(form.get("secret") or "")
    clear = _flag(form, "secret_clear")
    secret = None if clear else (secret_new or stored_secret)
    if errors:
        return None, errors
    try:
        transport_for(kind, config, secret)
    except DeliveryError as exc:
        text = str(exc)
        where = next((f"cfg.{k}" for k, _, _ in CHANNEL_FIELDS[kind] if repr(k) in text
                      or f" {k} " in text), "_form")  # fmt: skip
        errors[where] = FieldError("invalid", {"msg": text})
        return None, errors
    values: dict[str, Any] = {
        "code": code,
        "kind": kind,
        "name": _text(form, "name"),
        "config": config,
        "enabled": _flag(form, "enabled"),
    }
    if clear:
        values["secret"] = None
    elif secret_new:
        values["secret"] = secret_new
    return values, errors


def channel_to_form(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """Editor values of a channel; never the secret itself."""
    row = row or {}
    config = dict(row.get("config") or {})
    form: dict[str, Any] = {
        "code": row.get("code", ""),
        "kind": row.get("kind", "email"),
        "name": row.get("name", ""),
        "enabled": ["on"] if row.get("enabled", True) else [],
        "on_unknown": config.get("on_unknown", "resend"),
        "secret": "",
        "secret_clear": [],
    }
    for key in CHANNEL_SETTINGS:
        v = config.get(key)
        if isinstance(v, list):
            v = ", ".join(map(str, v))
        if key in ("starttls", "ssl"):
            v = ["on"] if v else []
        form[f"cfg.{key}"] = v
    return form
