"""The breakdown panel's callbacks and the slice filter (issue 12): thin readers of ``monitor.breakdown``.

``BreakdownReader`` owns what the panel reads: at most one ``monitor.breakdown`` per refresh, and none
while the panel is hidden; the selected incident is read from the store only when it changes (a resolved
incident never does; an open one is read again at most every ``OPEN_INCIDENT_SECONDS``). The slice filter
keeps its key in ``ids.SLICE_FILTER``, which the page's refresh (``callbacks.register_callbacks``) reads to
draw both charts from that slice's counts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from components import ids
from components.breakdown import (
    BARS_HEIGHT,
    EVERY_VALUE,
    HEAT_HEIGHT,
    TOP_BARS,
    Focus,
    breakdown_heading,
    contribution_figure,
    contribution_table,
    empty_breakdown_figure,
    excess_word,
    heatmap_figure,
    incident_focus,
    slice_chip,
    slice_key,
    value_options,
)
from detection import Monitor
from detection.metrics import metric_name

from .unchanged import leave_out_unchanged

OPEN_INCIDENT_SECONDS = 30.0
KEPT_INCIDENTS = 32
INCIDENT_ID_LIMIT = 64  # the REST API's limit on an incident id
KEY_LIMIT = 400  # a slice key longer than any the engine makes (2 dimensions x (32 + 64) characters) is refused


class BreakdownReader:
    """What the panel shows for a selection: the incident's focus (cached) and one breakdown read."""

    def __init__(self, monitor: Monitor, clock: Callable[[], float] = time.monotonic):
        self.monitor = monitor
        self._clock = clock
        self._lock = threading.Lock()
        self._incidents: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """The incident's public dict, from the store once (again after a while while it is open)."""
        now = self._clock()
        with self._lock:
            kept = self._incidents.get(incident_id)
        if kept is not None:
            read_at, shape = kept
            if shape is not None and (shape.get("state") != "open" or now - read_at < OPEN_INCIDENT_SECONDS):
                return shape
        found = self.monitor.incident(incident_id)
        shape = found.to_dict() if found is not None else None
        with self._lock:
            self._incidents[incident_id] = (now, shape)
            self._incidents.move_to_end(incident_id)
            while len(self._incidents) > KEPT_INCIDENTS:
                self._incidents.popitem(last=False)
        return shape

    def focus(self, selected: object, fallback_metric: str) -> Focus:
        # An id longer than any the engine makes (a forged request) is no incident: nothing is read for it.
        wanted = isinstance(selected, str) and 0 < len(selected) <= INCIDENT_ID_LIMIT
        incident = self.incident(selected) if wanted and isinstance(selected, str) else None
        return incident_focus(incident, self.monitor.newest_event_minute(), fallback_metric)

    def read(self, focus: Focus, by: str) -> dict[str, Any]:
        return self.monitor.breakdown(focus.metric, by, focus.minutes, top=TOP_BARS)


def metric_options(statuses: Sequence[str], codes: Sequence[str]) -> list[dict[str, str]]:
    """The metrics the panel breaks down when no incident is selected: each status and auth code."""
    metrics = [f"status:{s}" for s in statuses] + [f"auth_code:{c}" for c in codes]
    return [{"label": metric_name(m), "value": m} for m in metrics]


def _dimension_of(key: str) -> tuple[str, str] | None:
    """``acquirer=acq-07`` -> (acquirer, acq-07); None for a pair's key (the selects hold one dimension)."""
    if "," in key:
        return None
    dim, sep, value = key.partition("=")
    return (dim, value) if sep and dim and value else None


def clicked_slice(click: object) -> str | None:
    """The slice key a click on a bar carries (its ``customdata``' last item), or None."""
    if not isinstance(click, Mapping):
        return None
    points = click.get("points")
    if not isinstance(points, list) or not points or not isinstance(points[0], Mapping):
        return None
    data = points[0].get("customdata")
    if isinstance(data, list) and data and isinstance(data[-1], str) and 0 < len(data[-1]) <= KEY_LIMIT:
        return data[-1]
    return None


def register_breakdown_callbacks(app: Dash, monitor: Monitor, reader: BreakdownReader) -> None:
    """Wire the panel (only on a page that has it: a thresholds file with dimensions)."""

    @app.callback(
        Output(ids.BREAKDOWN_SHOWN, "data"),
        Output(ids.BREAKDOWN_BODY, "hidden"),
        Output(ids.BREAKDOWN_TOGGLE, "children"),
        Output(ids.BREAKDOWN_TOGGLE, "aria-expanded"),
        Input(ids.BREAKDOWN_TOGGLE, "n_clicks"),
        State(ids.BREAKDOWN_SHOWN, "data"),
        prevent_initial_call=True,
    )
    def toggle(_clicks: int, shown: object):
        now = shown is False  # shown unless it was hidden
        return now, not now, "Hide" if now else "Show", "true" if now else "false"

    @app.callback(
        Output(ids.BREAKDOWN_DETACHED, "data"),
        Input(ids.BREAKDOWN_DETACH, "n_clicks"),
        State(ids.SELECTED_INCIDENT, "data"),
        prevent_initial_call=True,
    )
    def detach(_clicks: int, selected: object):
        """Back to the picked metric while the incident stays open beside it; opening another one follows it."""
        return selected if isinstance(selected, str) else None

    @app.callback(
        Output(ids.BREAKDOWN_BY, "value"),
        Input(ids.SELECTED_INCIDENT, "data"),
        State(ids.BREAKDOWN_BY, "options"),
        prevent_initial_call=True,
    )
    def follow_incident(selected: object, options: object):
        """A slice incident opens the breakdown by its own dimension (acquirer for an acquirer's spike)."""
        focus = reader.focus(selected, "")
        if focus.slice is None:
            return no_update
        by = ",".join(part.partition("=")[0] for part in focus.slice.split(","))
        known = {o.get("value") for o in options} if isinstance(options, list) else set()
        return by if by in known else no_update

    @app.callback(
        Output(ids.BREAKDOWN_HEADING, "children"),
        Output(ids.BREAKDOWN_BARS, "figure"),
        Output(ids.BREAKDOWN_HEATMAP, "figure"),
        Output(ids.BREAKDOWN_TABLE_BOX, "children"),
        Output(ids.BREAKDOWN_METRIC, "disabled"),
        Output(ids.BREAKDOWN_DETACH, "hidden"),
        Output(ids.BREAKDOWN_DIGESTS, "data"),
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.BREAKDOWN_BY, "value"),
        Input(ids.BREAKDOWN_METRIC, "value"),
        Input(ids.SELECTED_INCIDENT, "data"),
        Input(ids.BREAKDOWN_SHOWN, "data"),
        Input(ids.BREAKDOWN_DETACHED, "data"),
        State(ids.BREAKDOWN_DIGESTS, "data"),
    )
    def draw(_n: int, by: object, metric: object, selected: object, shown: object, detached: object, digests: object):
        if shown is False or not isinstance(by, str) or not by:
            raise PreventUpdate  # hidden: nothing read, nothing sent (an empty answer)
        # The opened incident, unless the analyst asked for the picked metric instead while it is open.
        following = selected if isinstance(selected, str) and selected and selected != detached else None
        focus = reader.focus(following, metric if isinstance(metric, str) and metric else "status:denied")
        noun = metric_name(focus.metric)
        try:
            found = reader.read(focus, by)
        except ValueError as exc:  # an unknown metric or dimension: said in the panel, nothing drawn
            message = str(exc)
            parts = {"heading": message, "bars": empty_breakdown_figure(message, BARS_HEIGHT),
                     "heat": empty_breakdown_figure(message, HEAT_HEIGHT), "table": "", "metric_off": focus.incident is not None}
        else:
            what = excess_word(focus.metric)
            parts = {"heading": breakdown_heading(found, noun, focus), "bars": contribution_figure(found, noun, what=what),
                     "heat": heatmap_figure(found, noun), "table": contribution_table(found, noun, what=what),
                     "metric_off": focus.incident is not None}
        parts["detach_hidden"] = focus.incident is None
        out, new_digests = leave_out_unchanged(parts, digests)
        if new_digests is no_update:
            raise PreventUpdate  # the same figures as last time: nothing is sent
        return (out["heading"], out["bars"], out["heat"], out["table"], out["metric_off"], out["detach_hidden"],
                new_digests)

    @app.callback(
        Output(ids.SLICE_FILTER, "data"),
        Output(ids.SLICE_CHIP, "children"),
        Output(ids.SLICE_CHIP, "className"),
        Output(ids.SLICE_CLEAR, "hidden"),
        Output(ids.SLICE_CLEAR, "aria-label"),
        Output(ids.SLICE_DIMENSION, "value"),
        Output(ids.SLICE_VALUE, "options"),
        Output(ids.SLICE_VALUE, "value"),
        Input(ids.SLICE_DIMENSION, "value"),
        Input(ids.SLICE_VALUE, "value"),
        Input(ids.BREAKDOWN_BARS, "clickData"),
        Input(ids.SLICE_CLEAR, "n_clicks"),
        Input(ids.REFRESH, "n_intervals"),
        State(ids.SLICE_FILTER, "data"),
        State(ids.SLICE_VALUE, "options"),
    )
    def choose_slice(dimension: object, value: object, click: object, _clear: int, _n: int, current: object,
                     options: object):
        """The filter from the selects, a click on a bar, or the chip's clear button; the value list follows
        the dimension's known values (read from the engine's dimensions, new values appear on a refresh)."""
        trigger = ctx.triggered_id
        key = current if isinstance(current, str) and current else None
        dim = dimension if isinstance(dimension, str) else ""
        chosen = value if isinstance(value, str) and value != EVERY_VALUE else ""
        if trigger == ids.SLICE_DIMENSION:
            chosen = ""
            key = None
        elif trigger == ids.SLICE_VALUE:
            key = slice_key(dim, chosen) if dim and chosen else None
        elif trigger == ids.BREAKDOWN_BARS:
            key = clicked_slice(click) or key
            single = _dimension_of(key) if key else None
            dim, chosen = single if single is not None else (dim, "")
        elif trigger == ids.SLICE_CLEAR:
            key, chosen = None, ""
        known = list(monitor.dimensions().get(dim, [])) if dim else []
        if chosen and chosen not in known:
            known.append(chosen)  # e.g. a value folded away since: still the filter shown
        new_options = value_options(known)
        chip = slice_chip(key)
        same = trigger == ids.REFRESH and key == current  # a tick: only new values may have come
        chip_parts = (no_update,) * 4 if same else (chip.text, chip.class_name, chip.clear_hidden, chip.clear_label)
        return (key if key != current else no_update, *chip_parts,
                dim if dim != dimension else no_update, new_options if new_options != options else no_update,
                (chosen or EVERY_VALUE) if (chosen or EVERY_VALUE) != value else no_update)
