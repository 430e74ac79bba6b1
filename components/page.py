"""The page frame: banner, incidents, cards, time controls (and the slice filter) and charts, alerts, simulate buttons,
the breakdown by dimension, tables and API help."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids
from .breakdown import breakdown_panel, slice_filter_bar
from .charts import chart
from .incidents import history_panel, incident_detail
from .panels import Endpoint, ScenarioButton, api_panel, simulate_panel
from .tables import rules_table
from .timebar import time_bar

STATUS_CHART_HEIGHT = 560
AUTH_CHART_HEIGHT = 300


@dataclass(frozen=True)
class PageSpec:
    """Everything the static part of the page needs, handed in by the composition root."""

    title: str
    refresh_ms: int
    rules: Sequence[Mapping[str, Any]] = ()
    thresholds_source: str = "built-in defaults"
    provenance: Mapping[str, Any] = field(default_factory=dict)
    no_data_minutes: int = 5
    no_data_severity: str = "critical"
    scenarios: Sequence[ScenarioButton] = ()
    endpoints: Sequence[Endpoint] = ()
    mode: str | None = None  # "DEMO" or "REPLAY": shown as a badge so nobody mistakes it for production
    simulate: bool = False  # simulate buttons write synthetic minutes: only on when asked for
    token_required: bool = False  # MONITOR_API_TOKEN is set: the simulate buttons ask for it
    # Issue 12: the configured dimensions (and pairs) with the values known at start; none: no panel, no filter.
    dimensions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    metrics: Sequence[Mapping[str, str]] = ()  # what the breakdown can be of: {"label", "value"} per metric
    breakdown_metric: str = "status:denied"


def banner(spec: PageSpec) -> dbc.Navbar:
    left = [html.H1(spec.title, className="navbar-brand mb-0 h1")]
    if spec.mode:
        left.append(html.Span(spec.mode, id=ids.DEMO_BADGE, className="badge badge-demo ms-2"))
    right = [
        html.Span(id=ids.HEALTH_BADGE, className="badge badge-idle", children="waiting for data"),
        html.Span("no events yet", id=ids.NEWEST_EVENT, className="newest ms-3"),
        html.Span("", id=ids.LAST_REFRESH, className="last-refresh ms-3"),
    ]
    return dbc.Navbar(
        dbc.Container([html.Div(left, className="d-flex align-items-center"),
                       html.Div(right, className="d-flex align-items-center")], fluid=True),
        color="dark", dark=True, className="banner mb-3", tag="header", role="banner",
    )


def panel(title: str, body: Any, extra: Any = None, class_name: str = "") -> dbc.Card:
    """A titled card holding one part of the page."""
    header = [html.H2(title, className="panel-title")]
    if extra is not None:
        header.append(extra)
    return dbc.Card([dbc.CardHeader(header, className="panel-header"), dbc.CardBody(body)],
                    className=f"panel mb-3 {class_name}".strip())


def page_layout(spec: PageSpec) -> html.Div:
    """The whole page; the dynamic parts start empty and the first refresh (at load) fills them."""
    return html.Div(
        [
            banner(spec),
            dbc.Container(
                [
                    # What an analyst is paged for comes first: open incidents, the one opened, and the history.
                    dbc.Row(
                        [
                            dbc.Col([panel("Open incidents", html.Div(id=ids.OPEN_INCIDENTS), class_name="incidents-card"),
                                     panel("Resolved incidents", history_panel(), class_name="history-card")], lg=5),
                            dbc.Col(panel("Incident", html.Div(incident_detail(None), id=ids.INCIDENT_DETAIL),
                                          class_name="detail-card"), lg=7),
                        ],
                        className="g-3",
                    ),
                    html.Div(id=ids.STATUS_CARDS, className="cards-row"),
                    time_bar(),
                    slice_filter_bar(spec.dimensions),
                    dbc.Row(
                        [
                            dbc.Col(panel("Transactions per minute, by status", chart(ids.STATUS_CHART, STATUS_CHART_HEIGHT)),
                                    lg=8),
                            # The box scrolls on its own: focusable, so a keyboard can scroll it too.
                            dbc.Col(panel("Alerts", html.Div(id=ids.ALERTS_PANEL, tabIndex="0", role="region",
                                                             **{"aria-label": "Alerts"}),
                                          class_name="alerts-card"), lg=4),
                        ],
                        className="g-3",
                    ),
                    dbc.Row(
                        [
                            dbc.Col(panel("Authorization codes (00 approved, 51 insufficient funds, 59 suspected fraud)",
                                          chart(ids.AUTH_CHART, AUTH_CHART_HEIGHT)), lg=8),
                            dbc.Col(panel("Simulate a scenario", simulate_panel(spec.scenarios, spec.simulate, spec.token_required)), lg=4),
                        ],
                        className="g-3",
                    ),
                    dbc.Row(dbc.Col(panel("Breakdown by dimension",
                                          breakdown_panel(spec.dimensions, spec.metrics, spec.breakdown_metric),
                                          class_name="breakdown-card")), className="g-3"),
                    dbc.Row(
                        [
                            dbc.Col(panel("Recent minutes", html.Div(id=ids.RECENT_TABLE, tabIndex="0", role="region",
                                                                     **{"aria-label": "Recent minutes"})), lg=6),
                            dbc.Col(panel("Rules in force", html.Div(
                                rules_table(spec.rules, spec.thresholds_source, spec.provenance, spec.no_data_minutes,
                                            spec.no_data_severity), id=ids.RULES_TABLE, tabIndex="0", role="region",
                                    **{"aria-label": "Rules in force"})), lg=6),
                        ],
                        className="g-3",
                    ),
                    dbc.Row(dbc.Col(panel("REST API", api_panel(spec.endpoints))), className="g-3"),
                ],
                fluid=True,
                tag="main",
            ),
            dcc.Location(id=ids.PAGE_URL, refresh=False),
            dcc.Interval(id=ids.REFRESH, interval=spec.refresh_ms, n_intervals=0, max_intervals=-1),
            dcc.Store(id=ids.VIEW_WINDOW, data=None),
            dcc.Store(id=ids.SELECTED_INCIDENT, data=None),
            dcc.Store(id=ids.DETAIL_DIGESTS, data=None),
            dcc.Store(id=ids.INCIDENT_PAGES, data=[None]),
            dcc.Store(id=ids.OPEN_INCIDENT_IDS, data=None),
            dcc.Store(id=ids.PART_DIGESTS, data=None),
            dcc.Store(id=ids.SIMULATED, data=0),
            dcc.Store(id=ids.CHART_SIGNATURE, data=None),
            dcc.Store(id=ids.SLICE_FILTER, data=None),
            dcc.Store(id=ids.BREAKDOWN_SHOWN, data=True),
            dcc.Store(id=ids.BREAKDOWN_DIGESTS, data=None),
            dcc.Store(id=ids.BREAKDOWN_DETACHED, data=None),
            dcc.Store(id=ids.API_TOKEN_STORE, storage_type="session"),
        ],
        className="page",
    )
