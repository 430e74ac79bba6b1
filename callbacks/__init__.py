"""Dash callbacks, registered with ``register_callbacks(app, monitor)``: thin readers of a Monitor snapshot."""

from __future__ import annotations

from dash import Dash, Input, Output

from components import ids
from components.page import health_badge, live_counts_table, open_alerts_list
from detection import Monitor
from detection.metrics import minute_to_iso, status_metric


def register_callbacks(app: Dash, monitor: Monitor) -> None:
    @app.callback(
        Output(ids.HEALTH_BADGE, "children"),
        Output(ids.HEALTH_BADGE, "className"),
        Output(ids.NEWEST_EVENT, "children"),
        Output(ids.LIVE_COUNTS, "children"),
        Output(ids.OPEN_ALERTS, "children"),
        Input(ids.REFRESH, "n_intervals"),
    )
    def refresh(_n: int):
        snap = monitor.snapshot(2, recent_alerts=0)
        badge = health_badge({name: f.to_dict() for name, f in snap.feeds.items()})
        current = {s: (snap.counts.get(status_metric(s)) or (0, 0))[-1] for s in snap.statuses}
        previous = {s: (snap.counts.get(status_metric(s)) or (0, 0))[0] if len(snap.minutes) > 1 else 0 for s in snap.statuses}
        return (
            badge.children,
            badge.className,
            minute_to_iso(snap.end_minute) or "-",
            live_counts_table(snap.statuses, current, previous),
            open_alerts_list([a.to_dict() for a in snap.open_alerts]),
        )
