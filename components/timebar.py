"""The time controls above the charts: quick ranges, an absolute date range, back to live, and pause / resume."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids
from .charts import DEFAULT_RANGE, range_selector

DATE_PLACEHOLDER = "YYYY-MM-DD HH:MM"


def pause_button(paused: bool = False) -> html.Button:
    """Pauses the auto-refresh (the charts stay as they are, to read or zoom in peace) and resumes it."""
    return html.Button(
        "Resume updates" if paused else "Pause updates",
        id=ids.PAUSE, n_clicks=0,
        className="btn btn-sm btn-warning pause-button paused" if paused else "btn btn-sm btn-outline-secondary pause-button",
    )


def absolute_range() -> html.Div:
    """From / to in UTC and a button; a bad date is answered next to them, naming the field."""
    return html.Div(
        [
            html.Label("from", htmlFor=ids.RANGE_FROM, className="small text-muted me-1"),
            dcc.Input(id=ids.RANGE_FROM, type="text", placeholder=DATE_PLACEHOLDER, value="", maxLength=40,
                      className="form-control form-control-sm date-input"),
            html.Label("to", htmlFor=ids.RANGE_TO, className="small text-muted mx-1"),
            dcc.Input(id=ids.RANGE_TO, type="text", placeholder=DATE_PLACEHOLDER, value="", maxLength=40,
                      className="form-control form-control-sm date-input"),
            html.Span("UTC", className="small text-muted mx-1"),
            dbc.Button("Show", id=ids.RANGE_APPLY, size="sm", color="secondary", outline=True, n_clicks=0),
        ],
        className="absolute-range",
    )


def time_bar(range_value: str = DEFAULT_RANGE) -> html.Div:
    """One row: quick ranges, the absolute range, Live, Pause, and which window the charts show."""
    return html.Div(
        [
            range_selector(range_value),
            absolute_range(),
            dbc.Button("Live", id=ids.LIVE, size="sm", color="secondary", outline=True, n_clicks=0,
                       title="Back to the newest minutes"),
            pause_button(),
            html.Span("", id=ids.WINDOW_TEXT, className="window-text small text-muted"),
            html.Div("", id=ids.RANGE_ERROR, className="range-error small text-danger"),
        ],
        className="time-bar",
    )
