"""Small building blocks shared by pages."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html


def stat_card(label: str, value: str, id_: str, tone: str = "") -> html.Div:
    """A big number with its label (Grafana's "stat" panel, simplest form)."""
    return html.Div(
        className=f"hw-stat {tone}".strip(),
        id=id_,
        children=[
            html.Div(value, className="hw-stat-value"),
            html.Div(label, className="hw-stat-label"),
        ],
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], id_: str, empty: str
) -> html.Div:
    """A plain, scrollable table; on a phone every row becomes a card (``data-label``)."""
    if not rows:
        return html.Div(empty, className="hw-muted", id=id_)
    head = html.Thead(html.Tr([html.Th(h) for h in headers]))
    body = html.Tbody(
        [
            html.Tr(
                [html.Td(cell, **{"data-label": h}) for h, cell in zip(headers, row, strict=True)]
            )
            for row in rows
        ]
    )
    return html.Div(html.Table([head, body], className="hw-table", id=id_), className="hw-scroll")
