"""Every Dash component id on the page, in one place, so layout, callbacks and tests agree."""

from __future__ import annotations

# Refresh machinery
REFRESH = "refresh-interval"
SIMULATED = "simulated-store"  # bumped after a simulate click, so the page refreshes at once
CHART_SIGNATURE = "chart-signature"  # shape of the drawn charts, so a refresh can send a Patch

# Banner and health
HEALTH_BADGE = "health-badge"
NEWEST_EVENT = "newest-event"
LAST_REFRESH = "last-refresh"
DEMO_BADGE = "demo-badge"

# Status cards
STATUS_CARDS = "status-cards"
LIVE_COUNTS = STATUS_CARDS  # the core page's name for the same place

# Charts
RANGE = "range-selector"
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


def status_card(status: str) -> str:
    """The card of one status, e.g. ``card-failed``."""
    return f"card-{status}"


def status_card_count(status: str) -> str:
    return f"card-{status}-count"


def simulate_button(scenario: str) -> dict[str, str]:
    """Pattern-matching id, so one callback serves every simulate button."""
    return {"type": SIMULATE_BUTTON_TYPE, "scenario": scenario}
