"""The shell around every page: top bar (site, user, language, sign-out), side navigation.

A page shows up in the navigation through ``NAV``; ``roles`` limits who sees the entry (the
page itself checks the role again, and its queries apply the user's ``Scope``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask import session

from dashboards import auth, i18n


@dataclass(frozen=True)
class NavEntry:
    path: str
    label_key: str
    roles: frozenset[str] | None = None  # None: every role


NAV: list[NavEntry] = [
    NavEntry("/", "nav.overview"),
    NavEntry("/audit", "nav.audit", frozenset({"admin"})),
]


def register_page(
    module: str,
    path: str,
    name: str,
    order: int,
    layout: Callable[..., Any],
    *,
    title: str | Callable[..., str] | None = None,
    nav: str | bool = True,
    roles: Collection[str] | None = None,
    after: str | None = None,
) -> None:
    """Register a page with Dash and (unless ``nav=False``) in the navigation.

    register_page(__name__, "/alarms/audit", "alarm_audit", 42, layout)
    register_page(__name__, PATH, "alert rules", 6, layout, title="rules.title",
                  nav="nav.alert_config", roles=ui.VIEW_ROLES, after="/alerts")
    register_page(__name__, "/d/<uid>", "dashboard", 21, layout, title="dl.title", nav=False)

    ``nav`` is the entry's label key (``True``: ``nav.<name>``), ``roles`` who sees it (None:
    every role). The entry is appended, or with ``after`` inserted right after the entry for
    that path (right after the first entry, the overview, when there is none for it yet).
    ``title`` is the i18n key of the browser tab's title ("<text> · <site name>"), by default
    the label's key; a function is passed to Dash as it is. A ``path`` with ``<variable>``
    parts is a Dash ``path_template`` (the layout and the title get the variables as keywords).
    """
    label = nav if isinstance(nav, str) else f"nav.{name}"
    key = title or label
    template = "<" in path
    dash.register_page(
        module,
        path=None if template else path,
        path_template=path if template else None,
        name=name,
        title=key if callable(key) else _tab_title(key),
        layout=layout,
        order=order,
    )
    if nav is False or any(e.path == path for e in NAV):  # NAV outlives one app (tests)
        return
    entry = NavEntry(path, label, None if roles is None else frozenset(roles))
    if after is None:
        NAV.append(entry)
    else:
        at = next((i for i, e in enumerate(NAV) if e.path == after), 0)
        NAV.insert(at + 1, entry)


def _tab_title(key: str) -> Callable[..., str]:
    """The browser tab's title for Dash, in the request's language (keywords: path variables)."""
    return lambda **_variables: f"{i18n.t(key)} · {i18n.t('site.name')}"


def shell() -> html.Div:
    """``app.layout``: built per request for the signed-in user and language."""
    user = auth.current_user()
    lang = i18n.current_lang()
    t = i18n.t
    if user is None:  # the guard redirects first; this is for the validation pass only
        return html.Div([dash.page_container])
    who = user.display_name or user.name
    scope = user.scope_label or t("scope.all")
    links = [
        dcc.Link(t(e.label_key), href=e.path, className="hw-nav-link", id=f"nav-{e.label_key}")
        for e in NAV
        if e.roles is None or user.role in e.roles
    ]
    top = html.Header(
        className="hw-top",
        children=[
            html.Div(t("site.name"), className="hw-site", id="hw-site"),
            html.Div(
                className="hw-user",
                children=[
                    *bell(),
                    html.Span(who, id="hw-user-name", className="hw-user-name"),
                    html.Span(
                        f"{t('role.' + user.role)} · {scope}",
                        className="hw-muted hw-user-scope",
                        id="hw-user-scope",
                    ),
                    html.Button(
                        t("lang.switch"),
                        id="hw-lang",
                        className="hw-btn hw-btn-light",
                        n_clicks=0,
                        title=t("lang.label"),
                    ),
                    html.Form(
                        action="/logout",
                        method="POST",
                        className="hw-logout",
                        children=[
                            dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=auth.csrf_token()),
                            html.Button(
                                t("top.logout"), type="submit", id="hw-logout", className="hw-btn"
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )
    return html.Div(
        className="hw-shell",
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            dcc.Store(id="hw-lang-done"),
            top,
            html.Div(
                className="hw-body",
                children=[
                    html.Nav(links, className="hw-nav", id="hw-nav"),
                    html.Main(dash.page_container, className="hw-main"),
                ],
            ),
        ],
    )


i18n.register({"top.bell": {"zh": "我的通知", "en": "My notifications"}})
#: How often the bell asks for the unread count (a page load asks at once).
BELL_REFRESH_MS = 15_000


def bell() -> list[object]:
    """The unread in-app notifications (``workflows.notify``), linking to the list."""
    return [
        dcc.Link(
            [
                html.Span(className="hw-bell-icon"),
                html.Span("", id="hw-bell-count", className="hw-bell-count hw-bell-zero"),
            ],
            href="/alerts#inbox",
            id="hw-bell",
            className="hw-bell",
            title=i18n.t("top.bell"),
        ),
        dcc.Interval(id="hw-bell-tick", interval=BELL_REFRESH_MS),
    ]


def bell_badge(count: int) -> tuple[str, str]:
    """``(text, className)`` of the bell's count: hidden at zero, "99+" above 99."""
    if count <= 0:
        return "0", "hw-bell-count hw-bell-zero"
    return (str(count) if count < 100 else "99+"), "hw-bell-count"


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output("hw-bell-count", "children"),
        Output("hw-bell-count", "className"),
        Input("hw-bell-tick", "n_intervals"),
    )
    def bell_count(_n: int | None) -> tuple[str, str]:
        from workflows.notify import unread_count

        user = auth.current_user()
        if user is None:
            raise dash.exceptions.PreventUpdate
        with auth.db_pool().connection() as conn:
            return bell_badge(unread_count(conn, user.id))

    @app.callback(
        Output("hw-lang-done", "data"), Input("hw-lang", "n_clicks"), prevent_initial_call=True
    )
    def switch_language(n_clicks: int | None) -> str:
        new = "en" if i18n.current_lang() == "zh" else "zh"
        session["lang"] = new
        return new

    # Reload so the whole shell and page render in the new language.
    app.clientside_callback(
        "function(lang) { if (lang) { window.location.reload(); } return null; }",
        Output("hw-lang", "title"),
        Input("hw-lang-done", "data"),
        prevent_initial_call=True,
    )


def forbidden() -> html.Div:
    return html.Div(
        className="hw-card hw-forbidden",
        id="hw-forbidden",
        children=[html.H2(i18n.t("forbidden.title")), html.P(i18n.t("forbidden.text"))],
    )
