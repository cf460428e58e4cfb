"""What the acting callbacks of the pages share: the signed-in user as the audit actor, whether
a click (not a re-render) fired, the pattern-matching button that fired, the value one row's
input holds, and the outcome line.

    user, actor = signed_in(ROLES)                   # PreventUpdate for anyone else
    trig = clicked()                                 # {"type": ..., "aid": 7, ...} or None
    comment = value_at(comments, comment_ids, "aid", 7)
    return message(i18n.t("alerts.refused", error=str(exc)), False, "alerts-error")
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import dash
from dash import ctx, html

from dashboards import auth
from hazwatch.registers import Actor


def actor_of(user: auth.WebUser) -> Actor:
    """The audit log's actor for a signed-in user."""
    return Actor(user.id, user.name)


def signed_in(roles: Collection[str] | None = None) -> tuple[auth.WebUser, Actor]:
    """The signed-in user (of one of ``roles``, if given) and their actor; for anyone else the
    callback changes nothing."""
    user = auth.current_user()
    if user is None or (roles is not None and user.role not in roles):
        raise dash.exceptions.PreventUpdate
    return user, actor_of(user)


def fired() -> bool:
    """Whether the callback runs for a real click, not for a re-render (no clicks yet)."""
    return bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))


def clicked() -> dict[str, Any] | None:
    """The pattern id of the button that fired, unless the firing is a re-render (0 clicks)."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not fired():
        return None
    return dict(trig)


def message(text: str, ok: bool, id_: str) -> html.Div:
    """A callback's outcome line: done (``hw-ok``) or refused (``hw-error``)."""
    return html.Div(text, className="hw-ok" if ok else "hw-error", id=id_)


def value_at(values: Sequence[Any], ids: Sequence[dict[str, Any]], key: str, wanted: Any) -> Any:
    """The value of the ``ALL``-matched input whose id has ``key`` equal to ``wanted``."""
    for value, id_ in zip(values, ids, strict=True):
        if id_.get(key) == wanted:
            return value
    return None
