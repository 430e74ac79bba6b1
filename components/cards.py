"""Status cards: one per status, with this and last minute, share of total and change against normal."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html

from . import ids

NORMAL = "normal"
# Worst first: a card takes the colour of the worst alert on its metric.
CARD_STATES = ("firing", "pending", NORMAL)
STATE_COLOURS = {"firing": "danger", "pending": "warning", NORMAL: "success"}


@dataclass(frozen=True)
class CardFigures:
    """What one status card shows; every number already computed by the callback layer."""

    status: str
    current: int
    previous: int
    rate: float | None  # share of all transactions in the last full minute, 0..1
    baseline: float | None  # what normal is for the last full minute (None: not known yet)
    baseline_name: str  # where normal comes from: "baseline" (a rule's expectation) or "1 h avg"
    state: str = NORMAL


def change_text(value: int, baseline: float | None, baseline_name: str) -> str:
    """The last full minute against normal: a percentage, or a difference where normal is below 1/min
    (a failure against a normal of 0.05/min is not "+9900%")."""
    if baseline is None:
        return f"no {baseline_name} yet"
    diff = value - baseline
    arrow = "▲" if diff > 0.05 * max(baseline, 1) else "▼" if diff < -0.05 * max(baseline, 1) else "●"
    if baseline >= 1:
        return f"{arrow} {diff / baseline * 100:+.0f}% vs {baseline_name} {baseline:.0f}"
    return f"{arrow} {diff:+.1f} vs {baseline_name} {baseline:.2f}"


def status_card(figures: CardFigures) -> dbc.Card:
    """One card; its colour (``card-firing`` / ``card-pending`` / ``card-normal``) is the worst alert state."""
    state = figures.state if figures.state in CARD_STATES else NORMAL
    rate = "–" if figures.rate is None else f"{figures.rate * 100:.1f}% of total"
    label = figures.status.replace("_", " ")
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Span(label, className="card-status-name"),
                        html.Span(state, className=f"card-state-pill pill-{state}"),
                    ],
                    className="card-head",
                ),
                html.Div(
                    [
                        html.Span(str(figures.current), id=ids.status_card_count(figures.status), className="card-count"),
                        html.Span("this min", className="card-unit"),
                    ],
                    className="card-main",
                ),
                html.Div(
                    [html.Span(f"last min {figures.previous}"), html.Span(rate)],
                    className="card-sub",
                ),
                html.Div(change_text(figures.previous, figures.baseline, figures.baseline_name), className="card-change"),
            ]
        ),
        id=ids.status_card(figures.status),
        className=f"status-card card-{state} border-{STATE_COLOURS[state]}",
    )


def status_cards(cards: list[CardFigures]) -> dbc.Row:
    """The row of cards, one column each, wrapping on narrow screens."""
    return dbc.Row(
        [dbc.Col(status_card(c), xs=6, md=4, xl=2, className="mb-3") for c in cards],
        className="g-3",
    )
