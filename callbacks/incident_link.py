"""Open the dashboard at one incident from its address, ``/?incident=<id>``: the link every notification carries.

At page load the query of ``ids.PAGE_URL`` names an incident; it opens exactly as a
click on it does (``callbacks.incidents.opened_incident``: its detail, and both charts
moved to its window, which the refresh reads far enough back to draw). An id the store
does not hold (unknown, or pruned after the retention), too long or made of characters
no incident id has, gets a message in the detail panel instead; the page works as usual.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update

from api.limits import MAX_INCIDENT_ID
from components import ids
from components.actions import ACTOR_NAME_STORE
from components.incidents import incident_missing
from detection import Monitor

from .incidents import DetailRenderer, opened_incident

QUERY_KEY = "incident"
MINUTES_PER_DAY = 24 * 60
# What incident ids are made of ("i" and hex digits; words, digits and dashes in older or imported data).
ID_CHARACTERS = re.compile(r"[A-Za-z0-9_.:-]+")


def requested_incident(search: object) -> str | None:
    """The incident the address's query names (the last one, if it names several; '' if it names one emptily);
    None when it names none."""
    if not isinstance(search, str) or not search:
        return None
    values = parse_qs(search.removeprefix("?"), keep_blank_values=True).get(QUERY_KEY)
    return values[-1] if values else None


def plausible_id(value: str) -> bool:
    """Could the store hold an incident by this id? Checked before the store is asked, as the REST API does."""
    return 0 < len(value) <= MAX_INCIDENT_ID and ID_CHARACTERS.fullmatch(value) is not None


def register_incident_link(app: Dash, monitor: Monitor, render_detail: DetailRenderer | None = None) -> None:
    retention_days = monitor.settings.retention_minutes / MINUTES_PER_DAY

    @app.callback(
        Output(ids.INCIDENT_DETAIL, "children", allow_duplicate=True),
        Output(ids.SELECTED_INCIDENT, "data", allow_duplicate=True),
        Output(ids.VIEW_WINDOW, "data", allow_duplicate=True),
        Output(ids.DETAIL_DIGESTS, "data", allow_duplicate=True),
        Input(ids.PAGE_URL, "search"),
        State(ACTOR_NAME_STORE, "data"),
        State(ids.API_TOKEN_STORE, "data"),
        # Runs at load: the address is read once, when the page opens (a click later opens another incident).
        prevent_initial_call="initial_duplicate",
    )
    def open_from_address(search: object, name: object, kept: object):
        wanted = requested_incident(search)
        if wanted is None:
            return no_update, no_update, no_update, no_update
        found = opened_incident(monitor, render_detail, wanted, name, kept) if plausible_id(wanted) else None
        if found is None:
            return incident_missing(wanted, MAX_INCIDENT_ID, retention_days), None, no_update, None
        return found
