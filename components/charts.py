"""Time-series figures as plain Plotly dicts: stacked panels per metric, bounds as bands, alert episodes shaded.

Figures are built as dicts, not ``plotly.graph_objects``: validating a
graph-objects figure of several thousand points costs more than the whole
refresh budget (100 ms), and the browser takes the same JSON either way.
Every trace uses ``x0``/``dx`` instead of an x array, which keeps a 24 h
response small (one number per point instead of a timestamp per point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dash_bootstrap_components as dbc
import numpy as np
from dash import dcc, html

from . import ids

MINUTE_MS = 60_000
PANEL_GAP = 0.045

# Range selector choices: label -> minutes.
RANGES = {"1h": 60, "6h": 360, "24h": 1440, "3d": 4320}
DEFAULT_RANGE = "6h"

# The alert red belongs to alert conditions only (bound lines, firing shading): a series drawn in it
# reads as an alert (issue 10), so series colours are chosen apart from it (callbacks/view.py).
ALERT_RED = "#dc3545"
BASELINE_GREY = "#6c757d"

EPISODE_FILL = {
    "firing": "rgba(220, 53, 69, 0.20)",
    "pending": "rgba(255, 193, 7, 0.25)",
    "resolved": "rgba(220, 53, 69, 0.08)",
}
FEED_EPISODE_FILL = "rgba(108, 117, 125, 0.22)"

# What the lines and shading mean, in the legend (issue 10: nothing said so) and on the axes.
Y_UNIT = "transactions per minute"
X_UNIT = "time (UTC)"
# The dashed line is where a rule's verdict turns for that minute's count (callbacks/bands.py): a minute beyond it
# is a minute some rule breaches, whatever window the rule judges.
BOUND_NAME = "alert line: a minute beyond it breaches a rule"
BASELINE_NAME = "normal"
EPISODE_NAME = "alert episode"
FEED_EPISODE_NAME = "feed outage"


@dataclass(frozen=True)
class Line:
    """One plotted metric: a name, per-minute values (None where nothing was received) and a colour."""

    name: str
    values: Sequence[float | None]
    colour: str


@dataclass(frozen=True)
class Panel:
    """One stacked panel. ``key`` names the metrics whose alert episodes are shaded on it.

    ``lower``/``upper`` are the rule bounds per minute (None: no bound that
    minute), ``expected`` the rule's baseline, all aligned with the lines.
    """

    key: str
    title: str
    lines: tuple[Line, ...]
    lower: Sequence[float | None] | None = None
    upper: Sequence[float | None] | None = None
    expected: Sequence[float | None] | None = None
    show_legend: bool = False
    weight: float = 1.0  # relative height


@dataclass(frozen=True)
class Episode:
    """An alert episode to shade: minutes ``start``..``end`` (exclusive), on the panel with key ``panel``.

    ``panel`` None shades every panel (feed outages concern all metrics).
    """

    panel: str | None
    start: int
    end: int
    state: str
    label: str = ""


@dataclass(frozen=True)
class TimeAxis:
    """The minutes shown: ``start`` (epoch minute) and how many; ``start_iso`` is its timestamp for Plotly."""

    start: int
    minutes: int
    start_iso: str
    minute_iso: dict[int, str] = field(default_factory=dict)  # timestamps for episode edges

    def iso(self, minute: int) -> str:
        return self.minute_iso.get(minute) or _iso(minute)


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _series_trace(values: Sequence[float | None], axis: TimeAxis, n: int, **style) -> dict:
    return {"type": "scatter", "mode": "lines", "x0": axis.start_iso, "dx": MINUTE_MS, "y": values,
            "xaxis": f"x{n}" if n > 1 else "x", "yaxis": f"y{n}" if n > 1 else "y", **style}


def _bound_trace(values: Sequence[float | None], axis: TimeAxis, n: int, **style) -> dict:
    """A bound that is the same all along is sent as two points, not one per minute."""
    distinct = {v for v in values}
    if len(distinct) == 1 and None not in distinct:
        (value,) = distinct
        return {"type": "scatter", "mode": "lines", "x": [axis.start_iso, axis.iso(axis.start + axis.minutes - 1)],
                "y": [value, value], "xaxis": f"x{n}" if n > 1 else "x", "yaxis": f"y{n}" if n > 1 else "y", **style}
    # An array (None as NaN, sent as null): Plotly's encoder writes it in one call instead of walking each of
    # the 1,440 values of a 24 h alert line in Python (half of a full refresh's encoding, with the lines per minute).
    return _series_trace(np.array(values, dtype=np.float64), axis, n, **style)


def _peak(*series: Sequence[float | None] | None) -> float:
    peak = 0.0
    for values in series:
        if values is None or len(values) == 0:
            continue
        if isinstance(values, np.ndarray):  # counts arrive as arrays (NaN where no data): fast to scan and to encode
            if not np.isnan(values).all():
                peak = max(peak, float(np.nanmax(values)))
            continue
        finite = [v for v in values if v is not None]
        if finite:
            peak = max(peak, *finite)
    return peak


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _half(value: float) -> bool:
    """A line half a count outside a turn (callbacks/bands.py): 7.5, not 7 or 7.25."""
    return (value * 2).is_integer() and not float(value).is_integer()


def _bound_text(lower: float | None, upper: float | None) -> str:
    """The alert condition in counts: a line at 7.5 above is "8 or more", at 74.5 below "74 or fewer"."""
    high = None if upper is None else f"{_number(upper + 0.5)} or more" if _half(upper) else None
    low = None if lower is None else f"{_number(lower - 0.5)} or fewer" if _half(lower) else None
    if lower is not None and upper is not None:
        if high and low:
            return f"alert at {low}, or {high}"
        return f"alert outside {_number(lower)}–{_number(upper)}"
    if upper is not None:
        return f"alert at {high}" if high else f"alert above {_number(upper)}"
    if lower is not None:
        return f"alert at {low}" if low else f"alert below {_number(lower)}"
    return ""


def _hover(panel: Panel) -> dict:
    """Hover for a panel's series: the minute's value with its normal and alert line beside it (issue 10).

    When the lines are flat, their text is the same for every minute and goes in the series' template once.
    When they vary (an alert line follows each minute's window), the lines' own traces answer the hover
    instead (``_line_hover``): the unified hover shows them in the same box, and a text per minute, about
    35 bytes x 1,440 minutes x 9 panels, is not sent with every 24 h figure.
    """
    value = "%{y} per minute"
    text = _flat_text(panel)
    return {"hovertemplate": f"{value} · {text}" if text else value}


def _flat_text(panel: Panel) -> str:
    """The normal and alert lines that are the same all along, in words ('' when none is)."""
    def flat(values: Sequence[float | None] | None) -> float | None:
        return None if values is None or len(values) == 0 or _varies(values) else values[0]
    base = flat(panel.expected)
    parts = [f"normal {_number(base)}" if base is not None else "", _bound_text(flat(panel.lower), flat(panel.upper))]
    return " · ".join(p for p in parts if p)


def _varies(values: Sequence[float | None] | None) -> bool:
    return values is not None and len(set(values)) > 1


def _line_hover(kind: str, values: Sequence[float | None]) -> dict:
    """A varying line's own hover (see ``_hover``); a flat one is in the series' template and skips it."""
    if not _varies(values):
        return {"hoverinfo": "skip"}
    text = {"upper": "alert above %{y}", "lower": "alert below %{y}", "normal": "normal %{y:.2g}"}[kind]
    return {"hovertemplate": text + "<extra></extra>"}


def panel_domains(weights: Sequence[float]) -> list[tuple[float, float]]:
    """Vertical [bottom, top] of each panel, first panel on top."""
    usable = 1.0 - PANEL_GAP * (len(weights) - 1)
    total = sum(weights)
    domains = []
    top = 1.0
    for w in weights:
        height = usable * w / total
        domains.append((round(max(0.0, top - height), 4), round(top, 4)))
        top -= height + PANEL_GAP
    return domains


def timeseries_figure(axis: TimeAxis, panels: Sequence[Panel], episodes: Sequence[Episode], height: int, revision: str,
                      x_range: Sequence[str] | None = None) -> dict:
    """A figure of stacked panels sharing one time axis, over ``x_range`` (two date strings) or else all its minutes.

    Each panel gets its own y axis (so approvals at ~120/min and failures at
    0-10/min are both readable), its rule bounds as a red dashed line (a band
    when there are both), its baseline dotted, and its alert episodes shaded.
    """
    data: list[dict] = []
    layout: dict = {
        "height": height,
        "margin": {"l": 64, "r": 16, "t": 24, "b": 56},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "hovermode": "x unified",
        "uirevision": revision,
        "showlegend": any(p.show_legend for p in panels),
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom", "font": {"size": 11}},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 11, "color": "#3b4656"},
        "annotations": [],
        "shapes": [],
    }
    domains = panel_domains([p.weight for p in panels])
    panel_index = {}
    shown = list(x_range) if x_range is not None else [axis.start_iso, axis.iso(axis.start + axis.minutes - 1)]
    for n, (panel, (bottom, top)) in enumerate(zip(panels, domains, strict=True), start=1):
        panel_index[panel.key] = n
        xname = "xaxis" if n == 1 else f"xaxis{n}"
        yname = "yaxis" if n == 1 else f"yaxis{n}"
        # The range is always explicit (autorange off): the window is the server's to set, from the
        # store that remembers a zoom, so a refresh never snaps a dragged window back.
        layout[xname] = {
            "type": "date", "anchor": f"y{n}" if n > 1 else "y", "showgrid": True, "gridcolor": "#eef0f3",
            "showticklabels": n == len(panels), "range": shown, "autorange": False,
            "tickformat": "%H:%M UTC\n%Y-%m-%d", "hoverformat": "%Y-%m-%d %H:%M UTC",
            **({"matches": "x"} if n > 1 else {}),
            **({"title": {"text": X_UNIT, "font": {"size": 11}, "standoff": 4}} if n == len(panels) else {}),
        }
        peak = _peak(*(line.values for line in panel.lines), panel.upper, panel.lower, panel.expected)
        layout[yname] = {
            "domain": [bottom, top], "anchor": f"x{n}" if n > 1 else "x", "rangemode": "tozero",
            "range": [0, max(3.0, peak * 1.15)], "gridcolor": "#eef0f3", "zeroline": True,
            "zerolinecolor": "#d5d9e0", "nticks": 4, "fixedrange": True,
        }
        layout["annotations"].append({
            "text": f"<b>{panel.title}</b>", "xref": "paper", "yref": "paper", "x": 0, "y": top, "xanchor": "left",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": "#1d2430"},
        })
        if panel.lower is not None and any(v is not None for v in panel.lower):
            data.append(_bound_trace(panel.lower, axis, n, name=f"{panel.title} lower bound", showlegend=False, legendgroup="bound",
                                     line={"color": ALERT_RED, "width": 1, "dash": "dash"}, **_line_hover("lower", panel.lower)))
        if panel.upper is not None and any(v is not None for v in panel.upper):
            both = panel.lower is not None and any(v is not None for v in panel.lower)
            data.append(_bound_trace(panel.upper, axis, n, name=f"{panel.title} upper bound", showlegend=False, legendgroup="bound",
                                     line={"color": ALERT_RED, "width": 1, "dash": "dash"}, **_line_hover("upper", panel.upper),
                                     **({"fill": "tonexty", "fillcolor": "rgba(25, 135, 84, 0.06)"} if both else {})))
        if panel.expected is not None and any(v is not None for v in panel.expected):
            data.append(_bound_trace(panel.expected, axis, n, name=f"{panel.title} baseline", showlegend=False, legendgroup="baseline",
                                     line={"color": BASELINE_GREY, "width": 1, "dash": "dot"},
                                     **_line_hover("normal", panel.expected)))
        hover = _hover(panel)
        for line in panel.lines:
            data.append(_series_trace(line.values, axis, n, name=line.name, showlegend=panel.show_legend,
                                      line={"color": line.colour, "width": 1.4}, connectgaps=False, **hover))
    if panels:
        # One unit for every stacked panel: an axis title per panel does not fit a panel ~60 px high.
        layout["annotations"].append({
            "text": Y_UNIT, "xref": "paper", "yref": "paper", "x": 0, "xshift": -56, "y": 0.5, "textangle": -90,
            "xanchor": "left", "yanchor": "middle", "showarrow": False, "font": {"size": 11, "color": "#3b4656"},
        })
    legend = _legend_traces(data, episodes)
    data.extend(legend)
    layout["showlegend"] = layout["showlegend"] or bool(legend)
    for episode in episodes:
        fill = EPISODE_FILL.get(episode.state, EPISODE_FILL["resolved"])
        x0, x1 = axis.iso(max(episode.start, axis.start)), axis.iso(min(episode.end, axis.start + axis.minutes))
        if episode.panel is None:
            layout["shapes"].append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                                     "fillcolor": FEED_EPISODE_FILL, "line": {"width": 0}, "layer": "below"})
            continue
        n = panel_index.get(episode.panel)
        if n is None:
            continue
        yref = "y domain" if n == 1 else f"y{n} domain"
        layout["shapes"].append({"type": "rect", "xref": "x", "yref": yref, "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                                 "fillcolor": fill, "line": {"width": 0}, "layer": "below"})
    return {"data": data, "layout": layout}


def _legend_entry(name: str, group: str, **style) -> dict:
    """A trace with no points, there only to put ``name`` in the legend (shapes have no legend entries)."""
    return {"type": "scatter", "x": [None], "y": [None], "name": name, "legendgroup": group, "showlegend": True,
            "hoverinfo": "skip", **style}


def _legend_traces(data: Sequence[dict], episodes: Sequence[Episode]) -> list[dict]:
    """Legend entries for what is drawn: bound, baseline and shading, each only when the figure has one."""
    groups = {t.get("legendgroup") for t in data}
    entries = []
    if "bound" in groups:
        entries.append(_legend_entry(BOUND_NAME, "bound", mode="lines",
                                     line={"color": ALERT_RED, "width": 1, "dash": "dash"}))
    if "baseline" in groups:
        entries.append(_legend_entry(BASELINE_NAME, "baseline", mode="lines",
                                     line={"color": BASELINE_GREY, "width": 1, "dash": "dot"}))
    if any(e.panel is not None for e in episodes):
        entries.append(_legend_entry(EPISODE_NAME, "episode", mode="markers",
                                     marker={"symbol": "square", "size": 12, "color": EPISODE_FILL["firing"]}))
    if any(e.panel is None for e in episodes):
        entries.append(_legend_entry(FEED_EPISODE_NAME, "feed-episode", mode="markers",
                                     marker={"symbol": "square", "size": 12, "color": FEED_EPISODE_FILL}))
    return entries


def empty_figure(message: str, height: int) -> dict:
    """What a chart shows before any data arrived."""
    return {
        "data": [],
        "layout": {
            "height": height, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
            "xaxis": {"visible": False}, "yaxis": {"visible": False},
            "annotations": [{"text": message, "showarrow": False, "font": {"size": 14, "color": "#6c757d"},
                             "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        },
    }


def range_selector(value: str = DEFAULT_RANGE) -> html.Div:
    """1 h / 6 h / 24 h / 3 d as a button group; the server sends only the chosen span."""
    return html.Div(
        dbc.RadioItems(
            id=ids.RANGE,
            options=[{"label": label, "value": label} for label in RANGES],
            value=value,
            inline=True,
            className="btn-group btn-group-sm range-selector",
            inputClassName="btn-check",
            labelClassName="btn btn-outline-secondary",
            labelCheckedClassName="active",
        ),
        className="range-wrap",
    )


def chart(graph_id: str, height: int, message: str = "waiting for data") -> dcc.Graph:
    """A graph with zoom, pan and reset only in its mode bar, and no Plotly logo (drag to zoom; double-click to
    go back to the whole range)."""
    return dcc.Graph(
        id=graph_id,
        figure=empty_figure(message, height),
        config={"displaylogo": False, "displayModeBar": "hover", "responsive": True,
                "modeBarButtons": [["zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "resetScale2d"]]},
        style={"height": f"{height}px"},
        className="ts-chart",
    )
