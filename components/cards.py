"""Status cards: one per status, showing the value its alert judges (or the last closed minute) and its state."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html

from . import ids

NORMAL = "normal"
# Worst first. "outage": the card's feed has a firing no-data / feed-gap alert (every card of that feed is red);
# "silenced": the card's only open alerts are silenced (marked, but neither red nor counted as firing);
# "stale": the feed sent nothing for a while and no alert says so yet (grey: old numbers are not "normal").
CARD_STATES = ("outage", "firing", "pending", "silenced", "stale", NORMAL)
STATE_COLOURS = {"outage": "danger", "firing": "danger", "pending": "warning", "silenced": "secondary",
                 "stale": "secondary", NORMAL: "success"}
STATE_LABELS = {"outage": "feed outage", "firing": "firing", "pending": "pending", "silenced": "silenced",
                "stale": "no data", NORMAL: "normal"}


@dataclass(frozen=True)
class CardFigures:
    """What one status card shows; every number already chosen by the callback layer (``callbacks.view``)."""

    status: str
    value: float | None  # the big number: the judging alert's value, else the last closed minute (None: none yet)
    window: int | None  # minutes the alert judges over; None: the number is the last closed minute's count
    open_count: int | None  # the open minute so far (None: no minute open)
    rate: float | None  # share of all transactions in the last closed minute, 0..1
    baseline: float | None  # what normal is for the big number (None: not known yet)
    baseline_name: str  # where normal comes from: "expected" (the alert's), "baseline" (a rule's) or "1 h avg"
    state: str = NORMAL
    share: bool = False  # the value is a share (a rate alert), 0..1, not a count per minute
    since: str | None = None  # "13:45 UTC": the newest minute with data, shown on stale and outage cards


def signed(value: float, digits: int, suffix: str = "") -> str:
    """``value`` with its sign, rounded to ``digits``; what rounds to zero is "0" with no sign (never "-0.0", "+0%")."""
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}{suffix}"
    return text + suffix


def plain(value: float, digits: int) -> str:
    """``value`` rounded, without a minus zero ("-0.00" for a tiny negative is "0.00")."""
    text = f"{value:.{digits}f}"
    return text[1:] if float(text) == 0 and text.startswith("-") else text


def value_text(value: float | None, share: bool) -> str:
    """The big number: a share as a percent, a count per minute as a whole number where it is one."""
    if value is None:
        return "–"
    if share:
        return plain(value * 100, 1) + "%"
    if float(value).is_integer():
        return str(int(value))
    return plain(value, 1) if abs(value) >= 10 else plain(value, 2)


def unit_text(figures: CardFigures) -> str:
    """What the big number is: the alert's judgement ("/min over 5 min") or the last closed minute."""
    if figures.window is None:
        return "last closed min"
    return f"{'' if figures.share else '/min'} over {figures.window} min".strip()


def change_text(value: float | None, baseline: float | None, baseline_name: str, share: bool = False) -> str:
    """The big number against normal: a percentage, or a difference where normal is below 1/min (a failure
    against a normal of 0.05/min is not "+9900%"); a share's change is in percentage points."""
    if baseline is None:
        return f"no {baseline_name} yet"
    if value is None:
        return f"{baseline_name} {value_text(baseline, share)}"
    diff = value - baseline
    scale = max(baseline, 0.01 if share else 1)
    arrow = "▲" if diff > 0.05 * scale else "▼" if diff < -0.05 * scale else "●"
    if share:
        return f"{arrow} {signed(diff * 100, 1, ' pts')} vs {baseline_name} {value_text(baseline, True)}"
    if baseline >= 1:
        return f"{arrow} {signed(diff / baseline * 100, 0, '%')} vs {baseline_name} {baseline:.0f}"
    # Two significant figures: a normal of 0.0095/min is not "0.01", nor "0.00".
    return f"{arrow} {signed(diff, 1)} vs {baseline_name} {abs(baseline):.2g}"


def status_card(figures: CardFigures) -> dbc.Card:
    """One card; its colour class (``card-<state>``) is its state, its pill says the state in words."""
    state = figures.state if figures.state in CARD_STATES else NORMAL
    rate = "–" if figures.rate is None else f"{plain(figures.rate * 100, 1)}% of total"
    label = figures.status.replace("_", " ")
    lines = [
        html.Div(
            [
                html.Span(label, className="card-status-name"),
                html.Span(STATE_LABELS[state], className=f"card-state-pill pill-{state}"),
            ],
            className="card-head",
        ),
        html.Div(
            [
                html.Span(value_text(figures.value, figures.share), id=ids.status_card_count(figures.status),
                          className="card-count"),
                html.Span(unit_text(figures), className="card-unit"),
            ],
            className="card-main",
        ),
        html.Div(
            [html.Span("open minute: –" if figures.open_count is None else f"open minute: {figures.open_count} so far"),
             html.Span(rate)],
            className="card-sub",
        ),
        html.Div(change_text(figures.value, figures.baseline, figures.baseline_name, figures.share),
                 className="card-change"),
    ]
    if state in ("outage", "stale") and figures.since:
        lines.append(html.Div(f"no data since {figures.since}", className="card-since"))
    return dbc.Card(
        dbc.CardBody(lines),
        id=ids.status_card(figures.status),
        className=f"status-card card-{state} border-{STATE_COLOURS[state]}",
    )


def status_cards(cards: list[CardFigures]) -> dbc.Row:
    """The row of cards, one column each, wrapping on narrow screens."""
    return dbc.Row(
        [dbc.Col(status_card(c), xs=6, md=4, xl=2, className="mb-3") for c in cards],
        className="g-3",
    )
