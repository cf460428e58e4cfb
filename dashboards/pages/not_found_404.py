"""What an unknown path shows (Dash pages looks for a module named ``not_found_404``)."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards import i18n


def layout(**_query: Any) -> html.Div:
    return html.Div(
        className="hw-card",
        id="hw-not-found",
        children=[
            html.H2(i18n.t("notfound.title")),
            dcc.Link(i18n.t("notfound.back"), href="/"),
        ],
    )


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path="/404", name="not found", layout=layout, order=99)
