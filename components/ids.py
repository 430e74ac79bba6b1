"""Every Dash component id on the page, in one place, so layout, callbacks and tests agree."""

from __future__ import annotations

from typing import Any

# Refresh machinery
REFRESH = "refresh-interval"
SIMULATED = "simulated-store"  # bumped after a simulate click, so the page refreshes at once
CHART_SIGNATURE = "chart-signature"  # shape of the drawn charts, so a refresh can send a Patch
PART_DIGESTS = "part-digests"  # a digest of each part of the page as last sent, so unchanged parts are not resent
PAUSE = "pause-refresh"  # pauses and resumes the auto-refresh (the interval's max_intervals 0 / -1)

# The page's address: ``/?incident=<id>`` opens the dashboard at that incident (callbacks.incident_link)
PAGE_URL = "page-url"

# Banner and health
HEALTH_BADGE = "health-badge"
NEWEST_EVENT = "newest-event"
LAST_REFRESH = "last-refresh"
DEMO_BADGE = "demo-badge"

# Status cards
STATUS_CARDS = "status-cards"
LIVE_COUNTS = STATUS_CARDS  # the core page's name for the same place

# Charts and their time window
RANGE = "range-selector"
VIEW_WINDOW = "view-window"  # store: null (follow the newest minutes) or [from, to], the window both charts show
WINDOW_TEXT = "window-text"  # which window the charts show, in words
LIVE = "follow-live"  # button: back to the newest minutes
RANGE_FROM = "range-from"  # absolute date range: two text inputs and a button
RANGE_TO = "range-to"
RANGE_APPLY = "range-apply"
RANGE_ERROR = "range-error"
STATUS_CHART = "status-chart"
AUTH_CHART = "auth-code-chart"

# Panels
ALERTS_PANEL = "alerts-panel"
OPEN_ALERTS = ALERTS_PANEL  # the core page's name for the same place
RECENT_TABLE = "recent-transactions"
RULES_TABLE = "rules-table"
API_PANEL = "api-endpoints"
SIMULATE_PANEL = "simulate-panel"
SIMULATE_RESULT = "simulate-result"
SIMULATE_TOKEN = "simulate-token"  # password input: the API token, asked for when a write needs it
SIMULATE_TOKEN_PROMPT = "simulate-token-prompt"  # the input with its label; hidden once a token is kept
API_TOKEN_STORE = "api-token-store"  # the token once it was accepted, kept for the browser tab (sessionStorage)

SIMULATE_BUTTON_TYPE = "simulate-button"

# Breakdown by dimension (issue 12): which acquirer, merchant or brand carries the excess
BREAKDOWN_PANEL = "breakdown-panel"
BREAKDOWN_NOTE = "breakdown-note"  # "no dimensions configured", in place of the panel
BREAKDOWN_BY = "breakdown-by"  # select: the dimension (or pair)
BREAKDOWN_METRIC = "breakdown-metric"  # select: the metric, when no incident is selected
BREAKDOWN_TOGGLE = "breakdown-toggle"  # Hide / Show: a hidden panel reads nothing
BREAKDOWN_SHOWN = "breakdown-shown"  # store: whether the panel is shown
BREAKDOWN_BODY = "breakdown-body"
BREAKDOWN_HEADING = "breakdown-heading"
BREAKDOWN_BARS = "breakdown-bars"
BREAKDOWN_HEATMAP = "breakdown-heatmap"
BREAKDOWN_TABLE = "breakdown-table"
BREAKDOWN_TABLE_BOX = "breakdown-table-box"
BREAKDOWN_DIGESTS = "breakdown-digests"  # store: digests of the panel's parts as last sent
BREAKDOWN_DETACH = "breakdown-detach"  # button: break down the picked metric, not the selected incident
BREAKDOWN_DETACHED = "breakdown-detached"  # store: the incident id the panel was detached from (or null)

# The charts filtered to one slice
SLICE_FILTER = "slice-filter"  # store: null (all traffic) or a slice key such as "acquirer=acq-07"
SLICE_BAR = "slice-bar"
SLICE_BAR_LABEL = "slice-bar-label"
SLICE_DIMENSION = "slice-dimension"
SLICE_VALUE = "slice-value"
SLICE_CHIP = "slice-chip"  # "filtered to acquirer acq-07" (or "all traffic")
SLICE_CLEAR = "slice-clear"

# Incidents
OPEN_INCIDENTS = "open-incidents"
INCIDENT_DETAIL = "incident-detail"
SELECTED_INCIDENT = "selected-incident"  # store: the id of the incident opened by a click
INCIDENT_HISTORY = "incident-history"
RESOLVED_INCIDENTS = "resolved-incidents"
INCIDENT_KIND_FILTER = "incident-kind-filter"
INCIDENT_SEVERITY_FILTER = "incident-severity-filter"
INCIDENT_TEXT_FILTER = "incident-text-filter"
INCIDENTS_NEWER = "incidents-newer"
INCIDENTS_OLDER = "incidents-older"
OPEN_INCIDENT_IDS = "open-incident-ids"  # store: the open incidents' ids, changed only when they change
DETAIL_DIGESTS = "incident-detail-digests"  # store: digests of the opened incident's parts as last sent
DETAIL_PART_TYPE = "incident-detail-part"  # the detail's parts a refresh redraws: info, record, forms
INCIDENT_PAGES = "incident-pages"  # store: the cursors of the pages walked so far, for Newer
INCIDENT_OPEN_TYPE = "incident-open"


def status_card(status: str) -> str:
    """The card of one status, e.g. ``card-failed``."""
    return f"card-{status}"


def status_card_count(status: str) -> str:
    return f"card-{status}-count"


def simulate_button(scenario: str) -> dict[str, str]:
    """Pattern-matching id, so one callback serves every simulate button."""
    return {"type": SIMULATE_BUTTON_TYPE, "scenario": scenario}


def incident_open(incident_id: str, where: str = "open") -> dict[str, str]:
    """The clickable part of an incident row; ``where`` is its list ("open" or "resolved"), so a row never
    shares its id with the same incident in the other list while it moves from one to the other."""
    return {"type": INCIDENT_OPEN_TYPE, "incident": incident_id, "list": where}


def incident_row(incident_id: str, where: str = "open") -> str:
    return f"incident-{where}-{incident_id}"


def incident_actions(incident_id: str, where: str = "open") -> str:
    """The slot for an incident's Acknowledge / Note / Silence buttons (in a list row, or in the detail)."""
    return f"incident-actions-{where}-{incident_id}"


def incident_detail_of(incident_id: str) -> str:
    return f"incident-detail-{incident_id}"


def detail_part(part: str, incident_id: Any) -> dict[str, Any]:
    """One part of the opened incident's detail (``info``, ``record`` or ``forms``); a pattern id, so the callback
    that keeps it current names no component that is not on the page."""
    return {"type": DETAIL_PART_TYPE, "part": part, "incident": incident_id}
