"""The incidents' callbacks: open one (detail, and both charts moved to its window), and page the resolved history.

``IncidentHistory`` pages through the store's resolved incidents with the
engine's cursor, filtering by kind, severity and text as it reads; the page
keeps the cursors it walked (``ids.INCIDENT_PAGES``) so Newer goes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update

from components import ids
from components.actions import ACTOR_NAME_STORE
from components.incidents import ALL as EVERY
from components.incidents import KIND_LABELS, SEVERITIES, history_page, incident_detail
from detection import Monitor
from detection.incidents import Incident

from .unchanged import drawn_digests
from .window import incident_window

PAGE_SIZE = 5
BATCH = 200  # incidents read from the store at a time while filtering
SCAN_LIMIT = 2000  # incidents read at most for one page: a filter matching almost nothing stays cheap
TEXT_LIMIT = 100

Cursor = tuple[int, str]


@dataclass(frozen=True)
class HistoryPage:
    incidents: list[Incident]
    next_cursor: Cursor | None  # where the next (older) page starts; None: this is the oldest
    note: str = ""


@dataclass(frozen=True)
class HistoryFilter:
    kind: str = EVERY
    severity: str = EVERY
    text: str = ""

    @classmethod
    def of(cls, kind: object, severity: object, text: object) -> HistoryFilter:
        """From the page's controls; a value the controls cannot send (a forged request) means no filter."""
        kind = kind if kind in KIND_LABELS else EVERY
        severity = severity if severity in SEVERITIES else EVERY
        text = text.strip().lower()[:TEXT_LIMIT] if isinstance(text, str) else ""
        return cls(str(kind), str(severity), text)

    def matches(self, incident: Incident) -> bool:
        if self.kind not in (EVERY, incident.kind):
            return False
        if self.severity not in (EVERY, incident.severity):
            return False
        return not self.text or self.text in f"{incident.title}\n{incident.summary}".lower()


class IncidentHistory:
    """Pages of resolved incidents, newest first, read from the store through ``Monitor.incidents``."""

    def __init__(self, monitor: Monitor, page_size: int = PAGE_SIZE, batch: int = BATCH, scan_limit: int = SCAN_LIMIT):
        self.monitor = monitor
        self.page_size = page_size
        self.batch = batch
        self.scan_limit = scan_limit

    def page(self, wanted: HistoryFilter, cursor: Cursor | None) -> HistoryPage:
        found: list[Incident] = []
        scanned = 0
        while True:
            rows = self.monitor.incidents("resolved", self.batch, before=cursor)
            for incident in rows:
                scanned += 1
                cursor = (incident.started_at, incident.id)
                if not wanted.matches(incident):
                    continue
                if len(found) == self.page_size:  # one more match: an older page exists
                    last = found[-1]
                    return HistoryPage(found, (last.started_at, last.id))
                found.append(incident)
            if len(rows) < self.batch:
                return HistoryPage(found, None)
            if scanned >= self.scan_limit:
                # Not every stored incident was looked at: Older goes on from here.
                return HistoryPage(found, cursor, f"searched {scanned} incidents, more with Older")


def parse_cursor(value: object) -> Cursor | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
        return (value[0], value[1])
    return None


DetailRenderer = Callable[[str, object, object], Any]  # (incident id, kept name, kept token) -> the detail panel


def opened_incident(monitor: Monitor, render_detail: DetailRenderer | None, incident_id: str, name: object,
                    kept: object) -> tuple[Any, str, list[str], dict[str, Any]] | None:
    """What opening one incident sends (its detail, its id as the selection, both charts' window around it, the
    detail's digests); None when the store does not hold it. A click and a link (``callbacks.incident_link``)
    open an incident the same way."""
    incident = monitor.incident(incident_id)
    if incident is None:
        return None
    newest = monitor.newest_event_minute()
    end = incident.resolved_at if incident.resolved_at is not None else max(incident.started_at, newest or 0)
    detail = (render_detail(incident.id, name, kept) if render_detail is not None
              else incident_detail(incident.to_dict(), incident.started_at, end))
    # What was drawn, so the refresh that keeps the detail current sends only what changes after this.
    return (detail, incident.id,
            incident_window(incident.started_at, incident.resolved_at, newest), drawn_digests(detail))


def register_incident_callbacks(app: Dash, monitor: Monitor, history: IncidentHistory,
                                render_detail: DetailRenderer | None = None) -> None:
    """``render_detail`` draws the detail with the analyst's actions (``callbacks.actions.PageActions.detail``)."""

    @app.callback(
        Output(ids.INCIDENT_DETAIL, "children"),
        Output(ids.SELECTED_INCIDENT, "data"),
        Output(ids.VIEW_WINDOW, "data", allow_duplicate=True),
        Output(ids.DETAIL_DIGESTS, "data", allow_duplicate=True),
        Input(ids.incident_open(ALL, ALL), "n_clicks"),
        State(ACTOR_NAME_STORE, "data"),
        State(ids.API_TOKEN_STORE, "data"),
        prevent_initial_call=True,
    )
    def open_incident(clicks: list[int | None], name: object, kept: object):
        trigger = ctx.triggered_id
        # Rows are redrawn by refreshes (n_clicks 0 again): only a real click opens one.
        if not isinstance(trigger, dict) or not any(t.get("value") for t in ctx.triggered):
            return no_update, no_update, no_update, no_update
        found = opened_incident(monitor, render_detail, str(trigger.get("incident")), name, kept)
        return found if found is not None else (incident_detail(None), None, no_update, None)

    @app.callback(
        Output(ids.RESOLVED_INCIDENTS, "children"),
        Output(ids.INCIDENT_PAGES, "data"),
        Output(ids.INCIDENTS_NEWER, "disabled"),
        Output(ids.INCIDENTS_OLDER, "disabled"),
        Input(ids.INCIDENT_KIND_FILTER, "value"),
        Input(ids.INCIDENT_SEVERITY_FILTER, "value"),
        Input(ids.INCIDENT_TEXT_FILTER, "value"),
        Input(ids.INCIDENTS_NEWER, "n_clicks"),
        Input(ids.INCIDENTS_OLDER, "n_clicks"),
        Input(ids.OPEN_INCIDENT_IDS, "data"),  # an incident opened or resolved
        State(ids.INCIDENT_PAGES, "data"),
        State(ids.SELECTED_INCIDENT, "data"),
    )
    def resolved_page(kind: object, severity: object, text: object, _newer: int, _older: int, _n: int,
                      pages: Any, selected: object):
        wanted = HistoryFilter.of(kind, severity, text)
        # The cursors of the pages walked so far; the last is the page shown. A filter starts again at the top.
        stack = [parse_cursor(c) for c in pages] if isinstance(pages, list) and pages else [None]
        trigger = ctx.triggered_id
        if trigger in (ids.INCIDENT_KIND_FILTER, ids.INCIDENT_SEVERITY_FILTER, ids.INCIDENT_TEXT_FILTER):
            stack = [None]
        elif trigger == ids.INCIDENTS_NEWER and len(stack) > 1:
            stack = stack[:-1]
        page = history.page(wanted, stack[-1])
        if trigger == ids.INCIDENTS_OLDER and page.next_cursor is not None:
            stack = [*stack, page.next_cursor]
            page = history.page(wanted, page.next_cursor)
        shown = history_page([i.to_dict() for i in page.incidents], len(stack), page.next_cursor is not None,
                             selected if isinstance(selected, str) else None, page.note)
        return shown, [list(c) if c else None for c in stack], len(stack) == 1, page.next_cursor is None
