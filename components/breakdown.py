"""The breakdown panel (issue 12): which acquirer, merchant or brand carries the excess, and the slice filter.

Pure functions over the engine's plain dicts (``monitor.breakdown(...)``, ``monitor.dimensions()``, an
incident's ``to_dict()``): contributions as horizontal bars, dimension value x minute as a heatmap, the
same figures as a table a screen reader (and a test) can read, and the chip saying the charts show one slice.

The heatmap is drawn with bar traces (one row of unit-high bars per value, coloured by count): the page
loads Plotly's *basic* bundle (scatter, bar, pie; components/vendor.py), which has no heatmap trace, and a
bar's ``marker.colorscale`` gives the same picture with a colour bar, at no extra megabytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids

TOP_BARS = 10  # slices drawn as bars (the engine's ``top``)
HEAT_ROWS = 8  # values drawn in the heatmap, the top ones by excess
BARS_HEIGHT = 300
HEAT_HEIGHT = 320
DEFAULT_MINUTES = 60
MAX_INCIDENT_MINUTES = 1440  # an incident's breakdown reads at most a day back from the newest minute
# A sequential scale from white (an honest zero: no count is drawn as no colour) to dark blue, apart from
# the alert red and the series colours; every step is told by its number too (hover, table, colour bar).
HEAT_SCALE = [[0.0, "#ffffff"], [0.15, "#deebf7"], [0.4, "#9ecae1"], [0.7, "#3182bd"], [1.0, "#08306b"]]
BAR_EXCESS = "#0e7490"  # the denied cyan: a bar is the slice's part of the excess
BAR_NONE = "#adb5bd"  # a slice at or below its expectation carries none of it
PAIR_SEPARATOR = ","
EVERY_VALUE = "="  # the value selector's "every value": no label value can hold "=" (the engine refuses it)
NO_DIMENSIONS = ('No dimensions configured: add "dimensions" to the thresholds file (e.g. acquirer, merchant, '
                 "brand) and send records with \"labels\" to break counts down by them.")
WAITING = "No labelled records in this window yet."


# ------------------------------------------------------------------ names

def slice_label(key: str) -> str:
    """``acquirer=acq-07`` -> ``acquirer acq-07``; a pair ``acquirer=acq-07,brand=visa`` -> ``acquirer acq-07,
    brand visa``. Values never hold ``,`` or ``=`` (the engine refuses such labels), so the split is exact."""
    parts = [p.partition("=") for p in key.split(",") if p]
    return ", ".join(f"{dim} {value}" if sep else dim for dim, sep, value in parts)


def dimension_label(by: str) -> str:
    """``acquirer`` as is; a pair ``acquirer,brand`` -> ``acquirer × brand``."""
    return " × ".join(by.split(PAIR_SEPARATOR))


def slice_key(by: str, value: str) -> str:
    """The slice key of ``value`` in dimension ``by``: ``acquirer`` + ``acq-07`` -> ``acquirer=acq-07``; a pair's
    value ``acq-07,visa`` in ``acquirer,brand`` -> ``acquirer=acq-07,brand=visa``. Used where a row has no
    ``slice`` of its own (the engine's rows do)."""
    names = by.split(PAIR_SEPARATOR)
    values = value.split(PAIR_SEPARATOR)
    if len(names) == 1 or len(values) != len(names):
        return f"{by}={value}"
    return ",".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def row_slice(breakdown: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """A breakdown row's slice key: its own ``slice``, else rebuilt from the dimension and value."""
    own = row.get("slice")
    return own if isinstance(own, str) and own else slice_key(str(breakdown.get("by", "")), str(row.get("value")))


def number(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def _hhmm(iso: str) -> str:
    """'2026-12-03T12:34:00Z' -> '12:34' (the heatmap's axis: a minute of the shown window)."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%H:%M")
    except (TypeError, ValueError):
        return str(iso)


def _plot_time(iso: str) -> str:
    """An ISO time as Plotly reads dates (UTC, no zone suffix)."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(iso)


# ------------------------------------------------------------------ what the panel is about

@dataclass(frozen=True)
class Focus:
    """What the breakdown shows: ``metric`` over the window ``from_minute``..``to_minute`` (epoch minutes), for
    ``incident`` (its id) when one is selected, and the incident's own ``slice`` when it is a slice incident."""

    metric: str
    minutes: int
    incident: str | None = None
    slice: str | None = None
    title: str = ""


COUNT_KINDS = ("status", "auth_code")
# Counts whose problem is a fall (the engine's ``detection.contributions.FALLING``): a share of the shortfall.
FALLING = frozenset({"status:approved", "auth_code:00"})


def excess_word(metric: str) -> str:
    """'extra' denials, but the 'shortfall of' approvals: what a share of the excess is a share of."""
    return "shortfall of" if metric in FALLING else "extra"


def main_metric(incident: Mapping[str, Any]) -> str | None:
    """The count metric an incident is about: the one its contributions were measured on (the engine's
    ``details["contributions"]``), else its first driver's, else its first member metric's; a slice metric read
    as its base (``status:denied@acquirer=acq-07`` -> ``status:denied``), a share as its status (``rate:denied``
    -> ``status:denied``); None when it has none (a feed outage)."""
    details = incident.get("details") or {}
    measured = details.get("contributions") if isinstance(details, Mapping) else None
    candidates = [row.get("metric", "") for rows in (measured.values() if isinstance(measured, Mapping) else ())
                  if isinstance(rows, list) for row in rows[:1] if isinstance(row, Mapping)]
    candidates += [d.get("metric", "") for d in incident.get("drivers") or []] + list(incident.get("metrics") or [])
    for metric in candidates:
        base = str(metric).partition("@")[0]
        kind, _, key = base.partition(":")
        if kind == "rate" and key:
            return f"status:{key}"
        if kind in COUNT_KINDS and key:
            return base
    return None


def minute_of(iso: object) -> int | None:
    if not isinstance(iso, str):
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 60)


def incident_focus(incident: Mapping[str, Any] | None, newest_minute: int | None, fallback_metric: str) -> Focus:
    """The breakdown's subject: the selected incident's main metric from the start of its span (its
    ``details["span"]``, else its start) to the newest minute, or ``fallback_metric`` over the last hour."""
    if not incident:
        return Focus(fallback_metric, DEFAULT_MINUTES)
    metric = main_metric(incident) or fallback_metric
    details = incident.get("details") or {}
    span = details.get("span") or {}
    start = minute_of(span.get("from")) if isinstance(span, Mapping) else None
    if start is None:
        start = minute_of(incident.get("started_at"))
    minutes = DEFAULT_MINUTES
    if start is not None and newest_minute is not None:
        minutes = max(1, min(MAX_INCIDENT_MINUTES, newest_minute - start + 1))
    slice_of = details.get("slice")
    return Focus(metric, minutes, str(incident.get("id") or "") or None,
                 slice_of if isinstance(slice_of, str) and slice_of else None, str(incident.get("title") or ""))


# ------------------------------------------------------------------ figures

def _layout(height: int, **extra: Any) -> dict:
    return {
        "height": height, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 11, "color": "#3b4656"},
        "showlegend": False, **extra,
    }


def empty_breakdown_figure(message: str, height: int) -> dict:
    return {"data": [], "layout": _layout(height, xaxis={"visible": False}, yaxis={"visible": False},
                                          margin={"l": 10, "r": 10, "t": 10, "b": 10},
                                          annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                                                        "x": 0.5, "y": 0.5, "font": {"size": 13, "color": "#5a6474"}}])}


def bar_text(row: Mapping[str, Any]) -> str:
    """What a bar says beside it (not colour alone): '81% · 52 vs 17.3 expected'."""
    return f"{percent(row.get('share_of_excess'))} · {number(row.get('observed'))} vs {number(row.get('expected'))} expected"


def contribution_figure(breakdown: Mapping[str, Any], noun: str, height: int = BARS_HEIGHT, top: int = TOP_BARS,
                        what: str = "extra") -> dict:
    """Horizontal bars, largest share of the excess on top: each slice's share in % with its observed and
    expected counts as text and in the hover. A slice with no excess is a grey stub, so it still shows."""
    rows = list(breakdown.get("slices") or [])[:top]
    if not rows:
        return empty_breakdown_figure(WAITING, height)
    rows.reverse()  # Plotly draws the first category at the bottom
    shares = [round(float(r.get("share_of_excess") or 0.0) * 100, 1) for r in rows]
    return {
        "data": [{
            "type": "bar", "orientation": "h", "x": shares, "y": [str(r.get("value")) for r in rows],
            "text": [bar_text(r) for r in rows], "textposition": "outside", "cliponaxis": False,
            "customdata": [[number(r.get("observed")), number(r.get("expected")), row_slice(breakdown, r)] for r in rows],
            "marker": {"color": [BAR_EXCESS if s > 0 else BAR_NONE for s in shares]},
            "hovertemplate": (f"<b>%{{y}}</b><br>%{{x:.0f}}% of the {what} " + noun
                              + "<br>observed %{customdata[0]} · expected %{customdata[1]}<extra></extra>"),
        }],
        "layout": _layout(
            height, margin={"l": 8, "r": 16, "t": 8, "b": 40}, bargap=0.25,
            xaxis={"title": {"text": f"share of the {what} {noun} (%)", "standoff": 4}, "range": [0, 175],
                   "tickvals": [0, 25, 50, 75, 100], "gridcolor": "#eef0f3", "zeroline": True, "fixedrange": True},
            yaxis={"automargin": True, "fixedrange": True, "type": "category"},
        ),
    }


def heatmap_figure(breakdown: Mapping[str, Any], noun: str, height: int = HEAT_HEIGHT, rows: int = HEAT_ROWS) -> dict:
    """Dimension value (rows, the top by excess on top) x minute (columns), coloured by the count of the metric
    in that slice and minute, from 0 (white) to the window's peak, with a colour bar naming the unit."""
    heat = breakdown.get("heatmap") or {}
    minutes = list(heat.get("minutes") or [])
    values = [str(v) for v in (heat.get("values") or [])][:rows]
    counts = [list(c) for c in (heat.get("counts") or [])][:rows]
    if not minutes or not values or len(counts) != len(values):
        return empty_breakdown_figure(WAITING, height)
    peak = max((max(c) for c in counts if c), default=0)
    first = _plot_time(minutes[0])
    data = []
    n = len(values)
    for i, (value, row) in enumerate(zip(values, counts, strict=True)):
        level = n - 1 - i  # the first value (largest excess) on top
        data.append({
            # x0/dx, not a timestamp per cell (as the charts do): a third of the answer's bytes.
            "type": "bar", "x0": first, "dx": 60_000, "y": [1] * len(row), "base": level, "name": value,
            "width": 60_000, "offset": 0,  # one minute wide, starting at its minute: the cells tile the row
            "marker": {"color": row, "colorscale": HEAT_SCALE, "cmin": 0, "cmax": max(1, peak),
                       "line": {"width": 0}, "showscale": i == 0,
                       **({"colorbar": {"title": {"text": f"{noun}<br>per minute", "side": "top"}, "thickness": 12,
                                        "len": 1, "outlinewidth": 0, "tickformat": ",d"}} if i == 0 else {})},
            "customdata": row,
            "hovertemplate": f"<b>{value}</b><br>%{{x|%H:%M}} UTC: %{{customdata}} {noun}<extra></extra>",
        })
    return {
        "data": data,
        "layout": _layout(
            height, barmode="overlay", bargap=0, margin={"l": 8, "r": 8, "t": 8, "b": 48},
            xaxis={"type": "date", "title": {"text": "minute (UTC)", "standoff": 4}, "tickformat": "%H:%M",
                   "hoverformat": "%H:%M", "fixedrange": True, "showgrid": False},
            yaxis={"range": [0, n], "tickvals": [n - 1 - i + 0.5 for i in range(n)], "ticktext": values,
                   "automargin": True, "fixedrange": True, "showgrid": False, "zeroline": False},
        ),
    }


# ------------------------------------------------------------------ words and tables

def window_text(breakdown: Mapping[str, Any]) -> str:
    start, end = breakdown.get("from"), breakdown.get("to")
    if not isinstance(start, str) or not isinstance(end, str):
        return ""
    return f"{_hhmm(start)}–{_hhmm(end)} UTC"


def breakdown_heading(breakdown: Mapping[str, Any], noun: str, focus: Focus) -> str:
    """One line above the figures: what, by what, over which minutes, and the total against normal."""
    by = dimension_label(str(breakdown.get("by", "")))
    about = f"incident “{focus.title}”" if focus.incident and focus.title else "the last " + (
        f"{focus.minutes} minutes" if focus.minutes != DEFAULT_MINUTES else "hour")
    total = (f": {number(breakdown.get('observed'))} {noun} against {number(breakdown.get('expected'))} expected"
             if breakdown.get("observed") is not None else "")
    when = window_text(breakdown)
    return f"{noun.capitalize()} by {by}, {about}" + (f" ({when})" if when else "") + total + _within_normal(breakdown)


def _within_normal(breakdown: Mapping[str, Any]) -> str:
    """Said when the total is within chance of normal: the shares then split noise, not a problem."""
    observed, expected = breakdown.get("observed"), breakdown.get("expected")
    if not isinstance(observed, (int, float)) or not isinstance(expected, (int, float)) or expected <= 0:
        return ""
    falling = str(breakdown.get("metric", "")) in ("status:approved", "auth_code:00")
    excess = expected - observed if falling else observed - expected
    return " (within normal: the shares split noise)" if excess < 2 * expected ** 0.5 else ""


def contribution_table(breakdown: Mapping[str, Any], noun: str, top: int = TOP_BARS,
                       what: str = "extra") -> html.Table | html.P:
    """The bars' figures as a table: value, share of the extra, observed, expected, share of all."""
    rows = list(breakdown.get("slices") or [])[:top]
    if not rows:
        return html.P(WAITING, className="text-muted small mb-0", id=ids.BREAKDOWN_TABLE)
    by = dimension_label(str(breakdown.get("by", "")))
    head = html.Thead(html.Tr([html.Th(by, scope="col"), html.Th(f"share of the {what} {noun}", scope="col", className="num"),
                               html.Th("observed", scope="col", className="num"),
                               html.Th("expected", scope="col", className="num"),
                               html.Th("share of all", scope="col", className="num")]))
    body = html.Tbody([
        html.Tr([html.Th(str(r.get("value")), scope="row", className="slice-value"),
                 html.Td(percent(r.get("share_of_excess")), className="num slice-share"),
                 html.Td(number(r.get("observed")), className="num slice-observed"),
                 html.Td(number(r.get("expected")), className="num slice-expected"),
                 html.Td(percent(r.get("share_of_total")), className="num")],
                className="slice-row", **{"data-slice": row_slice(breakdown, r)})
        for r in rows
    ])
    more = int(breakdown.get("slices_total") or 0) - len(rows)
    caption = f"Top {len(rows)} by excess" + (f" of {len(rows) + more} values" if more > 0 else "")
    return html.Table([html.Caption(caption, className="small text-muted"), head, body],
                      className="table table-sm breakdown-table mb-0", id=ids.BREAKDOWN_TABLE)


# ------------------------------------------------------------------ the panel's frame

def dimension_options(dimensions: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    return [{"label": dimension_label(name), "value": name} for name in dimensions]


def value_options(values: Sequence[str]) -> list[dict[str, str]]:
    """'every value' (no filter) first, then each value. Not "": a select's empty value shows a blank box."""
    return [{"label": "every value", "value": EVERY_VALUE}] + [{"label": v, "value": v} for v in values]


def _figure(graph_id: str, height: int, caption: str) -> html.Figure:
    """A graph with its caption (what a screen reader hears about it; the table holds its numbers)."""
    return html.Figure(
        [dcc.Graph(id=graph_id, figure=empty_breakdown_figure(WAITING, height), style={"height": f"{height}px"},
                   config={"displayModeBar": False, "responsive": True}, className="breakdown-chart"),
         html.Figcaption(caption, className="small text-muted")],
        className="breakdown-figure mb-2",
    )


def breakdown_controls(dimensions: Mapping[str, Sequence[str]], metrics: Sequence[Mapping[str, str]],
                       metric: str) -> html.Div:
    """By which dimension, and (without a selected incident) which metric; Hide stops the panel's reads."""
    names = list(dimensions)
    return html.Div(
        [
            html.Label("break down by", htmlFor=ids.BREAKDOWN_BY, className="small text-muted me-1"),
            dbc.Select(id=ids.BREAKDOWN_BY, options=dimension_options(dimensions), value=names[0] if names else None,
                       size="sm", className="breakdown-select"),
            html.Label("metric", htmlFor=ids.BREAKDOWN_METRIC, className="small text-muted mx-1"),
            dbc.Select(id=ids.BREAKDOWN_METRIC, options=list(metrics), value=metric, size="sm",
                       className="breakdown-select"),
            html.Button("Use the metric instead of the incident", id=ids.BREAKDOWN_DETACH, n_clicks=0, hidden=True,
                        className="btn btn-sm btn-outline-secondary"),
            html.Button("Hide", id=ids.BREAKDOWN_TOGGLE, n_clicks=0, className="btn btn-sm btn-outline-secondary",
                        **{"aria-expanded": "true", "aria-controls": ids.BREAKDOWN_BODY}),
        ],
        className="breakdown-controls",
    )


def breakdown_panel(dimensions: Mapping[str, Sequence[str]], metrics: Sequence[Mapping[str, str]], metric: str) -> html.Div:
    """The panel's static frame: controls, a heading, the bars, the heatmap and the table (filled by a
    callback); with no dimension configured, only a note saying how to configure them."""
    if not dimensions:
        return html.Div(html.P(NO_DIMENSIONS, className="text-muted small mb-0", id=ids.BREAKDOWN_NOTE),
                        id=ids.BREAKDOWN_PANEL)
    return html.Div(
        [
            breakdown_controls(dimensions, metrics, metric),
            html.Div(
                [
                    html.P("", id=ids.BREAKDOWN_HEADING, className="breakdown-heading mb-1", **{"aria-live": "polite"}),
                    dbc.Row(
                        [
                            dbc.Col(_figure(ids.BREAKDOWN_BARS, BARS_HEIGHT,
                                            "Share of the excess per value (click a bar to filter the charts to it)."),
                                    lg=5),
                            dbc.Col(_figure(ids.BREAKDOWN_HEATMAP, HEAT_HEIGHT,
                                            "Counts per value and minute: white is zero, darker is more."), lg=7),
                        ],
                        className="g-2",
                    ),
                    html.Div(html.P(WAITING, className="text-muted small mb-0", id=ids.BREAKDOWN_TABLE),
                             id=ids.BREAKDOWN_TABLE_BOX, tabIndex="0", role="region",
                             **{"aria-label": "Breakdown figures"}),
                ],
                id=ids.BREAKDOWN_BODY,
            ),
        ],
        id=ids.BREAKDOWN_PANEL,
    )


# ------------------------------------------------------------------ the slice filter on the charts

def slice_filter_bar(dimensions: Mapping[str, Sequence[str]]) -> html.Div:
    """Dimension and value selectors that filter both charts to one slice, and the chip saying so. Without
    dimensions the bar is hidden (the page reads exactly as before)."""
    names = [n for n in dimensions if PAIR_SEPARATOR not in n]
    chip = slice_chip(None)
    return html.Div(
        [
            html.Span("Charts for", className="small text-muted me-1", id=ids.SLICE_BAR_LABEL),
            html.Label("slice dimension", htmlFor=ids.SLICE_DIMENSION, className="visually-hidden"),
            dbc.Select(id=ids.SLICE_DIMENSION, options=[{"label": n, "value": n} for n in names],
                       value=names[0] if names else None, size="sm", className="slice-select"),
            html.Label("slice value", htmlFor=ids.SLICE_VALUE, className="visually-hidden"),
            dbc.Select(id=ids.SLICE_VALUE, options=value_options([]), value=EVERY_VALUE, size="sm",
                       className="slice-select"),
            html.Span(
                [html.Span(chip.text, id=ids.SLICE_CHIP, className=chip.class_name, **{"aria-live": "polite"}),
                 html.Button("×", id=ids.SLICE_CLEAR, n_clicks=0, className="slice-clear", title="Show all traffic again",
                             hidden=chip.clear_hidden, **{"aria-label": chip.clear_label})],
                className="slice-chip-box",
            ),
        ],
        id=ids.SLICE_BAR, className="slice-bar", hidden=not names,
    )


@dataclass(frozen=True)
class Chip:
    """The chip's text, class, whether its clear button is hidden, and the button's spoken name."""

    text: str
    class_name: str
    clear_hidden: bool
    clear_label: str


def slice_chip(key: str | None) -> Chip:
    """'filtered to acquirer acq-07' with a button that clears it; 'all traffic' (and no button) unfiltered."""
    if not key:
        return Chip("all traffic", "slice-chip slice-chip-off", True, "Clear the slice filter")
    label = slice_label(key)
    return Chip(f"filtered to {label}", "slice-chip", False, f"Clear the filter to {label}")
