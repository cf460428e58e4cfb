"""Pages of the web UI: one module per page (or domain), each with ``register(dash_app)``.

A module registers its page(s) and navigation entries with ``dashboards.layout.register_page``
(``register_page(__name__, PATH, "name", order, layout, roles=…)``), its callbacks with
``dash_app.callback``, and its strings with ``i18n.register``. Layouts are functions (built
per request for the signed-in user); queries filter with the user's ``Scope.condition(...)``.
"""
