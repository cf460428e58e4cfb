"""The state of a dashboard view as kept in the URL's query string (pure), so a view is shared
by copying its address and a reload shows the same thing.

    ?from=now-6h&to=now&refresh=30s&var-enterprise=3&var-unit=12&var-tag=101&var-tag=102

    state, errors = ViewState.from_query("?from=now-24h&var-unit=12")
    state.to_query()              # canonical text, the order fixed
    state.with_vars(unit=["14"])  # a new state (frozen dataclass)

Variables carry register ids; what they narrow is decided by the panels' queries (the scope
of the signed-in user is applied there, never trusted from the URL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qs, urlencode

from dashboards.components.timerange import (
    DEFAULT_FROM,
    DEFAULT_TO,
    REFRESH_CHOICES,
    TimeRange,
    TimeRangeError,
)

#: Variables a dashboard may offer, in display order. ``tag`` takes several values.
VARIABLES: Final = ("enterprise", "unit", "tag")
MULTI: Final = frozenset({"tag"})
MAX_VALUES: Final = 50
PREFIX: Final = "var-"


@dataclass(frozen=True)
class ViewState:
    range: TimeRange = field(default_factory=TimeRange)
    refresh: str = "off"
    vars: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_params(
        cls, params: Mapping[str, str | Sequence[str]], now: datetime | None = None
    ) -> tuple[ViewState, list[str]]:
        """From parsed query parameters (Dash pages pass repeated keys as lists).

        Bad parts are dropped (defaults take their place) and described in ``errors``.
        """
        errors: list[str] = []

        def one(key: str) -> str | None:
            value = params.get(key)
            if isinstance(value, list | tuple):
                value = value[-1] if value else None
            return None if value is None else str(value)

        try:
            rng = TimeRange.parse(one("from"), one("to"), now or datetime.now(UTC))
        except TimeRangeError as exc:
            errors.append(f"from/to: {exc}")
            rng = TimeRange(DEFAULT_FROM, DEFAULT_TO)
        refresh = one("refresh") or "off"
        if refresh not in REFRESH_CHOICES:
            errors.append(f"refresh: {refresh!r} is not one of {', '.join(REFRESH_CHOICES)}")
            refresh = "off"
        found: dict[str, tuple[str, ...]] = {}
        for name in VARIABLES:
            raw = params.get(PREFIX + name)
            if raw is None:
                continue
            values = [raw] if isinstance(raw, str) else list(raw)
            good = [v.strip() for v in values if v.strip().isdigit()]
            bad = [v for v in values if not v.strip().isdigit()]
            if bad:
                errors.append(f"{PREFIX}{name}: {', '.join(map(repr, bad))} is not an id")
            if name not in MULTI and len(good) > 1:
                errors.append(f"{PREFIX}{name}: takes one value, the last is used")
                good = good[-1:]
            if len(good) > MAX_VALUES:
                errors.append(f"{PREFIX}{name}: at most {MAX_VALUES} values")
                good = good[:MAX_VALUES]
            if good:
                found[name] = tuple(dict.fromkeys(good))
        unknown = sorted(
            k for k in params if k.startswith(PREFIX) and k[len(PREFIX) :] not in VARIABLES
        )
        if unknown:
            errors.append(f"unknown variables: {', '.join(unknown)}")
        return cls(rng, refresh, found), errors

    @classmethod
    def from_query(
        cls, search: str | None, now: datetime | None = None
    ) -> tuple[ViewState, list[str]]:
        text = (search or "").lstrip("?")
        return cls.from_params(parse_qs(text, keep_blank_values=False), now)

    def to_query(self) -> str:
        pairs: list[tuple[str, str]] = [("from", self.range.from_), ("to", self.range.to)]
        if self.refresh != "off":
            pairs.append(("refresh", self.refresh))
        for name in VARIABLES:
            pairs.extend((PREFIX + name, v) for v in self.vars.get(name, ()))
        return "?" + urlencode(pairs)

    def var(self, name: str) -> str | None:
        """The single value of a one-value variable."""
        values = self.vars.get(name, ())
        return values[-1] if values else None

    def var_ints(self, name: str) -> list[int]:
        return [int(v) for v in self.vars.get(name, ())]

    def with_range(self, rng: TimeRange) -> ViewState:
        return replace(self, range=rng)

    def with_refresh(self, refresh: str) -> ViewState:
        if refresh not in REFRESH_CHOICES:
            raise TimeRangeError(f"refresh {refresh!r} is not one of {', '.join(REFRESH_CHOICES)}")
        return replace(self, refresh=refresh)

    def with_vars(self, **values: Sequence[str] | str | int | None) -> ViewState:
        """Replace variables; None or an empty list clears one. A changed enterprise clears the
        unit and tags chosen within it (they belonged to the previous one)."""
        out = dict(self.vars)
        for name, value in values.items():
            if name not in VARIABLES:
                raise ValueError(f"unknown variable {name!r}")
            items = (
                []
                if value is None
                else [str(value)]
                if isinstance(value, str | int)
                else [str(v) for v in value]
            )
            if items:
                out[name] = tuple(dict.fromkeys(items))
            else:
                out.pop(name, None)
        if "enterprise" in values and out.get("enterprise") != self.vars.get("enterprise"):
            for below in ("unit", "tag"):
                if below not in values:
                    out.pop(below, None)
        return replace(self, vars=out)
