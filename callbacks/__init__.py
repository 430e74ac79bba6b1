"""Dash callbacks, registered with ``register_callbacks(app, monitor)``: thin readers of a Monitor snapshot.

``refresh`` (every ``refresh_ms``, on a range or window change, and right after
a simulate click) reads one snapshot and redraws the page; while it is in flight
the interval is off, so a slow round trip is never overtaken (and discarded) by the
next tick. ``simulate`` posts a scenario through the ingestion gate (with
``MONITOR_API_TOKEN`` set, only with that token: ``callbacks.access``). Charts are
sent whole when their shape changes (first load, new range) and otherwise as a
``Patch`` holding only the minutes that changed (``callbacks.patches``). The time
window both charts share is ``callbacks.window``'s; the incidents panels are
``callbacks.incidents``', and opening the page at an incident ``callbacks.incident_link``'s. With dimensions
configured, the breakdown panel and the slice filter are ``callbacks.breakdown``'s; a slice filter set there makes
the refresh draw both charts from that slice's counts (``callbacks.slice_view``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update, set_props

from components import ids
from components.alerts import alerts_panel, order_alerts, utc_time
from components.cards import status_cards
from components.charts import RANGES, empty_figure, timeseries_figure
from components.incidents import open_incidents_panel
from components.page import AUTH_CHART_HEIGHT, STATUS_CHART_HEIGHT
from components.panels import SIMULATE_OFF, health_badge, newest_event_text
from components.tables import recent_transactions_table
from detection import Alert, Monitor, RecordValidationError, StoreError
from detection.metrics import AUTH_CODE_FEED, STATUS_FEED
from feeds.demo import FeedWriter

from . import patches, view, window
from .access import check_write
from .actions import PageActions, RouteClient, register_action_callbacks
from .bands import RuleBands, trimmed
from .breakdown import BreakdownReader, register_breakdown_callbacks
from .following import DetailFollower, register_detail_following
from .incident_link import register_incident_link
from .incidents import IncidentHistory, register_incident_callbacks
from .slice_view import NoLines, mark_filtered, slice_alerts, sliced_snapshot
from .unchanged import charts_key, leave_out_unchanged

RECENT_ALERTS = 60
ALERTS_SHOWN = 12


def page_answer(parts: dict[str, Any], updated: str, incidents_changed: Any, digests: Any) -> tuple:
    """The refresh's outputs in their declared order (the "updated" time always goes: it shows the page is alive)."""
    return (parts["cards"], parts["status"], parts["auth"], parts["alerts"], parts["recent"], parts["badge"],
            parts["badge_class"], parts["newest"], updated, parts["signature"], parts["incidents"], parts["window"],
            incidents_changed, digests)


def register_callbacks(
    app: Dash,
    monitor: Monitor,
    writer: FeedWriter | None = None,
    alert_marks: Callable[[Alert], dict[str, Any]] | None = None,
    api_token: str | None = None,
) -> None:
    """Wire the page to ``monitor``.

    ``writer`` posts the simulate buttons' scenarios (shared with a demo or
    replay feed when one runs); without one, simulation is off and the server
    refuses it, so nothing synthetic reaches a store holding real data.
    ``alert_marks`` adds fields to each alert shown, e.g. ``{"silenced": True}``
    from the silences, the same marks the REST API adds. With ``api_token``
    set, a simulate click writes only with that token (typed into the page,
    then kept for the browser tab), as the REST API's POST routes.
    """

    def shaped(alert: Alert) -> dict[str, Any]:
        fields = alert.to_dict()
        if alert_marks is not None:
            fields.update(alert_marks(alert))
        return fields

    rules = monitor.thresholds.rules
    bands = RuleBands(rules)
    # The incidents as the REST API answers them (with who acknowledged each), when the app has the actions.
    incident_actions = app.server.extensions.get("incident_actions")
    page_actions = (PageActions(monitor, incident_actions, RouteClient(app.server), api_token)
                    if incident_actions is not None else None)

    def incidents_shown(found: list) -> list[dict[str, Any]]:
        return incident_actions.shape(found) if incident_actions is not None else [i.to_dict() for i in found]

    @app.callback(
        Output(ids.STATUS_CARDS, "children"),
        Output(ids.STATUS_CHART, "figure"),
        Output(ids.AUTH_CHART, "figure"),
        Output(ids.ALERTS_PANEL, "children"),
        Output(ids.RECENT_TABLE, "children"),
        Output(ids.HEALTH_BADGE, "children"),
        Output(ids.HEALTH_BADGE, "className"),
        Output(ids.NEWEST_EVENT, "children"),
        Output(ids.LAST_REFRESH, "children"),
        Output(ids.CHART_SIGNATURE, "data"),
        Output(ids.OPEN_INCIDENTS, "children"),
        Output(ids.WINDOW_TEXT, "children"),
        Output(ids.OPEN_INCIDENT_IDS, "data"),
        Output(ids.PART_DIGESTS, "data"),
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.RANGE, "value"),
        Input(ids.SIMULATED, "data"),
        Input(ids.VIEW_WINDOW, "data"),
        Input(ids.SLICE_FILTER, "data"),
        State(ids.CHART_SIGNATURE, "data"),
        State(ids.SELECTED_INCIDENT, "data"),
        State(ids.OPEN_INCIDENT_IDS, "data"),
        State(ids.PART_DIGESTS, "data"),
        # No tick while a refresh is in flight: Dash would drop this answer for the tick's, and on a slow
        # link every answer, leaving the page blank. The next tick comes refresh_ms after the answer.
        running=[(Output(ids.REFRESH, "disabled"), True, False)],
    )
    def refresh(_n: int, range_label: str, _simulated: int, window_data: object, slice_filter: object,
                signature: str | None, selected: object, open_ids: object, digests: object):
        pinned = window.parse_window(window_data)
        newest = monitor.newest_event_minute()
        span = window.span_label(range_label, pinned, newest)
        # Read ``bands.lead`` minutes more than drawn: an alert line at the first minute drawn judges its window.
        read = monitor.snapshot(RANGES[span] + bands.lead, recent_alerts=RECENT_ALERTS)
        snap = trimmed(read, RANGES[span])
        feeds = {name: f.to_dict() for name, f in snap.feeds.items()}
        badge = health_badge(feeds)
        updated = "updated " + utc_time(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snap.taken_at)))
        incidents = open_incidents_panel(incidents_shown(list(snap.open_incidents)),
                                         selected if isinstance(selected, str) else None)
        shown_range = range_label if range_label in RANGES else "6h"
        # The resolved list reads the store again only when an incident opened or resolved, not every tick
        # (a tick answered after a click on Older would otherwise put the list back on its first page).
        now_open = "|".join(sorted(i.id for i in snap.open_incidents))
        incidents_changed = no_update if now_open == open_ids else now_open
        if snap.end_minute is None:
            waiting = "waiting for data: POST to /api/transaction or press a simulate button"
            parts, new_digests = leave_out_unchanged({
                "cards": html.Div("No data yet.", className="text-muted mb-3"),
                "status": empty_figure(waiting, STATUS_CHART_HEIGHT), "auth": empty_figure(waiting, AUTH_CHART_HEIGHT),
                "alerts": alerts_panel([]), "recent": recent_transactions_table(snap.statuses, snap.auth_codes, []),
                "badge": badge.children, "badge_class": badge.className, "newest": newest_event_text(feeds),
                "signature": None, "incidents": incidents, "window": window.window_text(pinned, shown_range),
            }, digests)
            return page_answer(parts, updated, incidents_changed, new_digests)

        recent = view.recent_alerts(snap)
        alerts = list(snap.open_alerts) + recent
        x_range = None if pinned is None else [pinned.start_text, pinned.end_text]
        # Filtered to one slice: the charts are drawn from the slice's counts, its own alerts and no global lines;
        # the signature names the slice, so a change of filter sends whole figures, never a Patch across slices.
        key = slice_filter if isinstance(slice_filter, str) and slice_filter else None
        chart_snap, chart_alerts, chart_label, missing = snap, alerts, span, None
        if key is not None:
            try:
                chart_snap = sliced_snapshot(snap, monitor.slice_counts(key, RANGES[span]))
                chart_alerts, chart_label = slice_alerts(alerts, key), f"{span}@{key}"
            except ValueError as exc:
                missing = str(exc)
        old_signature = patches.ChartSignature.parse(signature)
        # What the charts are drawn from: their window, the minutes a Patch would resend, the shaded episodes.
        # When it is what the page already shows, the charts are not built at all.
        tail = slice(-patches.TAIL_MINUTES, None)
        built_from = charts_key(chart_label, x_range, snap.end_minute, missing,
                                {m: list(c[tail]) for m, c in chart_snap.counts.items()},
                                {f: list(r[tail]) for f, r in snap.received.items()},
                                [(a.id, a.state, a.started_at, a.resolved_at) for a in chart_alerts])
        shown_already = (old_signature is not None and old_signature.range_label == chart_label
                         and old_signature.end_minute == snap.end_minute)
        if shown_already and isinstance(digests, dict) and digests.get("charts_from") == built_from:
            status_part: Any = no_update
            auth_part: Any = no_update
            new_signature_text = signature
        elif missing is not None:  # a slice the engine does not know (a forged or stale filter): said on the charts
            status_part = empty_figure(missing, STATUS_CHART_HEIGHT)
            auth_part = empty_figure(missing, AUTH_CHART_HEIGHT)
            new_signature_text = None
        elif key is not None:
            axis = view.time_axis(chart_snap)
            no_lines = NoLines()
            status_fig = timeseries_figure(axis, view.status_panels(chart_snap, no_lines),
                                           view.episodes(chart_alerts, STATUS_FEED, snap.end_minute),
                                           STATUS_CHART_HEIGHT, span, x_range)
            auth_fig = timeseries_figure(axis, view.auth_panels(chart_snap, no_lines),
                                         view.episodes(chart_alerts, AUTH_CODE_FEED, snap.end_minute),
                                         AUTH_CHART_HEIGHT, span, x_range)
            mark_filtered(status_fig, key)
            mark_filtered(auth_fig, key)
            new_signature = patches.signature(chart_label, snap.end_minute, status_fig, auth_fig)
            status_part = patches.chart_update(status_fig, old_signature, new_signature)
            auth_part = patches.chart_update(auth_fig, old_signature, new_signature)
            new_signature_text = str(new_signature)
        else:
            axis = view.time_axis(snap)
            with bands.for_snapshot(read) as lines:  # the alert lines of this range, one refresh at a time
                status_panels, auth_panels = view.status_panels(snap, lines), view.auth_panels(snap, lines)
            status_fig = timeseries_figure(axis, status_panels, view.episodes(alerts, STATUS_FEED, snap.end_minute),
                                           STATUS_CHART_HEIGHT, span, x_range)
            auth_fig = timeseries_figure(axis, auth_panels, view.episodes(alerts, AUTH_CODE_FEED, snap.end_minute),
                                         AUTH_CHART_HEIGHT, span, x_range)
            new_signature = patches.signature(span, snap.end_minute, status_fig, auth_fig)
            status_part = patches.chart_update(status_fig, old_signature, new_signature)
            auth_part = patches.chart_update(auth_fig, old_signature, new_signature)
            new_signature_text = str(new_signature)
        open_shaped, recent_shaped = [shaped(a) for a in snap.open_alerts], [shaped(a) for a in recent]
        # The cards mark silenced alerts as the alerts panel does, from the same marks.
        silenced = {fields["id"] for fields in open_shaped + recent_shaped if fields.get("silenced")}
        shown = order_alerts(open_shaped, recent_shaped, ALERTS_SHOWN)
        parts, new_digests = leave_out_unchanged({
            "cards": status_cards(view.status_cards(snap, rules, silenced)),
            "status": status_part,
            "auth": auth_part,
            "alerts": alerts_panel(shown),
            "recent": recent_transactions_table(snap.statuses, snap.auth_codes, view.recent_rows(snap)),
            "badge": badge.children,
            "badge_class": badge.className,
            "newest": newest_event_text(feeds),
            "signature": new_signature_text,
            "incidents": incidents,
            "window": window.window_text(pinned, shown_range),
        }, digests, {"charts_from": built_from})
        return page_answer(parts, updated, incidents_changed, new_digests)

    @app.callback(
        Output(ids.VIEW_WINDOW, "data", allow_duplicate=True),
        Output(ids.RANGE_ERROR, "children"),
        Input(ids.RANGE_APPLY, "n_clicks"),
        Input(ids.LIVE, "n_clicks"),
        Input(ids.RANGE, "value"),
        State(ids.RANGE_FROM, "value"),
        State(ids.RANGE_TO, "value"),
        prevent_initial_call=True,
    )
    def choose_window(_apply: int, _live: int, _range: str, start: object, end: object):
        """A typed date range pins the window; Live or a quick range goes back to the newest minutes."""
        if ctx.triggered_id != ids.RANGE_APPLY:
            return None, ""
        try:
            return window.absolute_window(start, end, max(RANGES.values())), ""
        except ValueError as exc:
            return no_update, str(exc)

    app.clientside_callback(
        window.LINK_RANGES_JS % {"status": ids.STATUS_CHART},
        Output(ids.VIEW_WINDOW, "data", allow_duplicate=True),
        Output(ids.STATUS_CHART, "figure", allow_duplicate=True),
        Output(ids.AUTH_CHART, "figure", allow_duplicate=True),
        Input(ids.STATUS_CHART, "relayoutData"),
        Input(ids.AUTH_CHART, "relayoutData"),
        State(ids.VIEW_WINDOW, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        window.PAUSE_JS,
        Output(ids.REFRESH, "max_intervals"),
        Output(ids.PAUSE, "children"),
        Output(ids.PAUSE, "className"),
        Input(ids.PAUSE, "n_clicks"),
        State(ids.REFRESH, "max_intervals"),
        prevent_initial_call=True,
    )
    render_detail = page_actions.detail if page_actions is not None else None
    register_incident_callbacks(app, monitor, IncidentHistory(monitor), render_detail)
    register_incident_link(app, monitor, render_detail)
    if page_actions is not None:
        register_action_callbacks(app, page_actions)
    register_detail_following(app, DetailFollower(monitor, page_actions))
    if monitor.dimensions():  # the panel and the slice filter are on the page only with dimensions configured
        register_breakdown_callbacks(app, monitor, BreakdownReader(monitor))

    @app.callback(
        Output(ids.SIMULATE_RESULT, "children"),
        Output(ids.SIMULATED, "data"),
        Input(ids.simulate_button(ALL), "n_clicks"),
        State(ids.SIMULATED, "data"),
        State(ids.SIMULATE_TOKEN, "value"),
        State(ids.API_TOKEN_STORE, "data"),
        prevent_initial_call=True,
    )
    def simulate(_clicks: list[int], counter: int, typed: object, kept: object):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(_clicks or ()):
            return no_update, no_update
        if writer is None:
            return html.Span(SIMULATE_OFF, className="text-danger"), no_update
        # The same protection as the REST API, here on the server: a request without the token writes nothing.
        access = check_write(api_token, typed, kept)
        if api_token:
            set_props(ids.API_TOKEN_STORE, {"data": access.keep})  # kept for the tab once right; forgotten if wrong
            set_props(ids.SIMULATE_TOKEN, {"value": ""})
        if not access.allowed:
            return html.Span(access.refusal, className="text-danger"), no_update
        try:
            result = writer.simulate(trigger["scenario"])
        except (RecordValidationError, StoreError, ValueError) as exc:
            return html.Span(f"Not posted: {exc}", className="text-danger"), no_update
        return html.Span(result.summary(), className="text-body"), (counter or 0) + 1

    if api_token and writer is not None:
        # The page asks for the token until one was accepted in this tab (also after a reload of the page).
        app.clientside_callback(
            "function (kept) { return Boolean(kept); }",
            Output(ids.SIMULATE_TOKEN_PROMPT, "hidden"),
            Input(ids.API_TOKEN_STORE, "data"),
        )
