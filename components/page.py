"""The page frame and the small pieces the core page shows: health, live counts, open alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from . import ids


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


def live_counts_table(statuses: Sequence[str], current: Mapping[str, int], previous: Mapping[str, int]) -> html.Table:
    """Counts per status in the newest (still open) minute and the minute before."""
    header = html.Thead(html.Tr([html.Th("status"), html.Th("this minute"), html.Th("last minute")]))
    rows = [
        html.Tr([html.Td(s), html.Td(str(current.get(s, 0))), html.Td(str(previous.get(s, 0)))], id=f"count-row-{s}")
        for s in statuses
    ]
    return html.Table([header, html.Tbody(rows)], className="counts-table")


def open_alerts_list(alerts: Sequence[Mapping[str, Any]]) -> html.Div:
    if not alerts:
        return html.Div("no open alerts", className="no-alerts")
    items = [
        html.Li(
            f"{a['state'].upper()} [{a['severity']}] {a['metric_label']}: {a['message']} (since {a['started_at']})",
            className=f"alert-item alert-{a['state']}",
        )
        for a in alerts
    ]
    return html.Ul(items, className="alert-list")


def page_layout(title: str, refresh_ms: int, demo: bool = False) -> html.Div:
    banner = [html.H1(title), html.Span(id=ids.HEALTH_BADGE, className="badge badge-idle", children="waiting for data")]
    if demo:
        banner.append(html.Span("DEMO", className="badge badge-demo"))
    return html.Div(
        [
            html.Header(banner, className="banner"),
            html.Div(["newest event: ", html.Span("-", id=ids.NEWEST_EVENT)], className="newest"),
            html.Section([html.H2("Live counts"), html.Div(id=ids.LIVE_COUNTS)]),
            html.Section([html.H2("Open alerts"), html.Div(id=ids.OPEN_ALERTS)]),
            dcc.Interval(id=ids.REFRESH, interval=refresh_ms, n_intervals=0),
        ],
        className="page",
    )
