"""Who may open a page: the signed-in user, or what the page shows in its place.

    user = page_user(ROLES)
    if isinstance(user, html.Div):
        return user  # nothing yet (not signed in) or the "forbidden" card

Shared by the pages that show nothing before sign-in (the server guard is redirecting to the
login page) and the forbidden card to a signed-in user of another role.
"""

from __future__ import annotations

from collections.abc import Collection

from dash import html

from dashboards import auth
from dashboards.layout import forbidden


def page_user(roles: Collection[str]) -> auth.WebUser | html.Div:
    """The current user when their role is one of ``roles``; otherwise the page to show instead.

    >>> page_user({"admin", "regulator"})
    """
    user = auth.current_user()
    if user is None:
        return html.Div()
    if user.role not in roles:
        return forbidden()
    return user
