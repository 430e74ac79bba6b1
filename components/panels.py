"""Smaller panels: feed health, simulate buttons and the REST API endpoints with a curl example each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from . import ids
from .alerts import short_time


def health_badge(feeds: Mapping[str, Mapping[str, Any]]) -> html.Span:
    """'feed live' when every feed that ever sent data is live, 'feed silent' otherwise."""
    active = {name: f for name, f in feeds.items() if f.get("newest_event_time")}
    if not active:
        return html.Span("waiting for data", className="badge badge-idle", id=ids.HEALTH_BADGE)
    silent = [name for name, f in active.items() if f.get("no_data")]
    if silent:
        text = "feed silent: " + ", ".join(n.replace("_", " ") for n in silent)
        return html.Span(text, className="badge badge-silent", id=ids.HEALTH_BADGE)
    return html.Span("feed live", className="badge badge-live", id=ids.HEALTH_BADGE)


def newest_event_text(feeds: Mapping[str, Mapping[str, Any]]) -> str:
    """'newest event 07-12 13:45 UTC · last post 3 s ago' from the feeds' status dicts."""
    newest = max((f["newest_event_time"] for f in feeds.values() if f.get("newest_event_time")), default=None)
    if newest is None:
        return "no events yet"
    silent = [f["silent_seconds"] for f in feeds.values() if f.get("silent_seconds") is not None]
    ago = f" · last post {min(silent):.0f} s ago" if silent else ""
    return f"newest event {short_time(newest)} UTC{ago}"


@dataclass(frozen=True)
class ScenarioButton:
    """A simulate button: the scenario's name (sent to the server), its label and a hint."""

    name: str
    label: str
    hint: str
    colour: str = "outline-secondary"


SIMULATE_HINT = "Each button posts minutes after the newest one, through the same validation as the API."
SIMULATE_OFF = ("Simulation is off: this monitor holds real data. Start with --demo (or MONITOR_SIMULATE=1) "
                "to write synthetic minutes.")
TOKEN_LABEL = "API token (MONITOR_API_TOKEN), needed to write; kept for this browser tab"


def simulate_panel(scenarios: Sequence[ScenarioButton], enabled: bool = True, token_required: bool = False) -> html.Div:
    """One button per scenario; each posts through the same ingestion path as the REST API.

    Disabled (greyed, and refused by the server) unless simulation is on, so
    nothing synthetic is written into a store holding real data. With an API
    token set, a password field asks for it: the server checks it before any
    write, as the REST API does. The field is always on the page (hidden when
    no token is needed) because the simulate callback reads it.
    """
    buttons = [
        dbc.Button(s.label, id=ids.simulate_button(s.name), color=s.colour.removeprefix("outline-"),
                   outline=s.colour.startswith("outline-"), size="sm", className=f"me-2 mb-2 simulate-button simulate-{s.name}",
                   title=s.hint, n_clicks=0, disabled=not enabled)
        for s in scenarios
    ]
    prompt = html.Div(
        [
            dbc.Label(TOKEN_LABEL, html_for=ids.SIMULATE_TOKEN, className="small text-muted mb-1"),
            dbc.Input(id=ids.SIMULATE_TOKEN, type="password", size="sm", placeholder="Bearer token",
                      autocomplete="off", value=""),
        ],
        id=ids.SIMULATE_TOKEN_PROMPT, className="simulate-token mb-2", hidden=not (enabled and token_required),
    )
    return html.Div(
        [
            prompt,
            html.Div(buttons, className="simulate-buttons"),
            html.Div(id=ids.SIMULATE_RESULT, className="simulate-result small text-muted",
                     children=SIMULATE_HINT if enabled else SIMULATE_OFF),
        ],
        id=ids.SIMULATE_PANEL,
    )


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    what: str
    curl: str


def api_endpoints(base_url: str, token_required: bool, status_example: str = "approved", code_example: str = "51") -> list[Endpoint]:
    """The REST routes with a copy-paste curl example each (the OpenAPI document has the details)."""
    auth = ' -H "Authorization: Bearer $MONITOR_API_TOKEN"' if token_required else ""
    json_header = ' -H "Content-Type: application/json"'
    status_body = f'{{"timestamp": "2025-07-12 13:45:00", "status": "{status_example}", "count": 116}}'
    code_body = f'{{"timestamp": "2025-07-12 13:45:00", "auth_code": "{code_example}", "count": 4}}'
    return [
        Endpoint("POST", "/api/transaction", "per-minute count of one status (or an array of them)",
                 f"curl -X POST {base_url}/api/transaction{json_header}{auth} -d '{status_body}'"),
        Endpoint("POST", "/api/auth_code", "per-minute count of one authorization code",
                 f"curl -X POST {base_url}/api/auth_code{json_header}{auth} -d '{code_body}'"),
        Endpoint("GET", "/api/transactions", "counts per status per minute (?minutes=60)",
                 f"curl '{base_url}/api/transactions?minutes=60'"),
        Endpoint("GET", "/api/auth_codes", "counts per auth code per minute (?minutes=60)",
                 f"curl '{base_url}/api/auth_codes?minutes=60'"),
        Endpoint("GET", "/api/stats", "totals, rates, open alerts and rules over a window",
                 f"curl '{base_url}/api/stats?minutes=60'"),
        Endpoint("GET", "/api/alerts", "alerts, newest first (?state=firing|pending|resolved|all)",
                 f"curl '{base_url}/api/alerts?state=firing'"),
        Endpoint("GET", "/api/health", "store and feed health, newest event time",
                 f"curl {base_url}/api/health"),
        Endpoint("GET", "/api/openapi.json", "the OpenAPI 3 description of all routes",
                 f"curl {base_url}/api/openapi.json"),
    ]


def api_panel(endpoints: Sequence[Endpoint]) -> html.Div:
    rows = [
        html.Tr([
            html.Td(dbc.Badge(e.method, color="primary" if e.method == "GET" else "success", className="method-badge")),
            html.Td(html.Code(e.path), className="nowrap"),
            html.Td(e.what, className="small"),
            html.Td(html.Pre(e.curl, className="curl mb-0")),
        ])
        for e in endpoints
    ]
    return html.Div(dbc.Table(html.Tbody(rows), size="sm", className="api-table mb-0", responsive=True), id=ids.API_PANEL)
