"""The alerts panel: open alerts first (firing, then pending), then recently resolved ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}
SEVERITY_COLOURS = {"critical": "danger", "warning": "warning", "info": "info"}
STATE_COLOURS = {"firing": "danger", "pending": "warning", "resolved": "secondary"}


def format_value(metric: str, value: float | None) -> str:
    """A metric value for people: a share as a percent, a feed silence in minutes, a count per minute."""
    if value is None:
        return "–"
    if metric.startswith("rate:"):
        return f"{value * 100:.1f}%"
    if metric.startswith("feed:"):
        return f"{value:g} min"
    if float(value).is_integer():
        return f"{int(value)}/min"
    return f"{value:.1f}/min" if abs(value) >= 10 else f"{value:.2f}/min"


def short_time(iso: str | None) -> str:
    """'2025-07-12T13:45:00Z' -> '2025-07-12 13:45' (UTC): with the year, since replayed data may be last year's;
    no seconds, since every time on the page is a minute."""
    if not iso:
        return "–"
    return f"{iso[0:10]} {iso[11:16]}"


def utc_time(iso: str | None) -> str:
    """'2025-07-12T13:45:00Z' -> '2025-07-12 13:45 UTC': how the page writes a time wherever it stands alone."""
    return "–" if not iso else f"{short_time(iso)} UTC"


def duration_text(alert: Mapping[str, Any]) -> str:
    minutes = alert.get("duration_minutes")
    if minutes is None:
        return "–"
    text = f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    return text + (" so far" if alert.get("state") != "resolved" else "")


def order_alerts(open_alerts: Sequence[Mapping[str, Any]], recent: Sequence[Mapping[str, Any]], limit: int = 12) -> list[Mapping[str, Any]]:
    """Firing first, then pending, then resolved; newest first within each; each alert once."""
    seen: set[str] = set()
    merged = []
    for alert in list(open_alerts) + list(recent):
        if alert["id"] in seen:
            continue
        seen.add(alert["id"])
        merged.append(alert)
    # Two stable sorts: newest first, then by state, so each state group stays newest first.
    merged.sort(key=lambda a: a.get("started_at") or "", reverse=True)
    merged.sort(key=lambda a: STATE_ORDER.get(a["state"], 3))
    return merged[:limit]


def alert_item(alert: Mapping[str, Any]) -> html.Div:
    """One alert: state, severity, metric and value against threshold on top; started, duration, message below."""
    state = alert["state"]
    silenced = bool(alert.get("silenced"))
    metric = alert["metric"]
    badges = [dbc.Badge(state, color=STATE_COLOURS.get(state, "secondary"), className="state-badge me-1")]
    if silenced:
        badges.append(dbc.Badge("silenced", color="dark", className="silenced-badge me-1"))
    badges.append(dbc.Badge(alert["severity"], color=SEVERITY_COLOURS.get(alert["severity"], "secondary"),
                            className="severity-badge me-1", pill=True))
    value = format_value(metric, alert.get("value"))
    vs = f"{value} vs threshold {format_value(metric, alert.get('threshold'))}"
    if alert.get("expected") is not None:
        vs += f", normal {format_value(metric, alert['expected'])}"
    classes = f"alert-item alert-{state}" + (" alert-silenced" if silenced else "")
    return html.Div(
        [
            html.Div([*badges, html.Span(alert.get("metric_label") or metric, className="alert-metric"),
                      html.Span(vs, className="alert-value")], className="alert-line"),
            html.Div([html.Span(f"started {utc_time(alert.get('started_at'))}", className="alert-started"),
                      html.Span(duration_text(alert), className="alert-duration"),
                      # The statistics behind the message show on hover, so the line stays in plain words.
                      html.Span(alert.get("message", ""), title=alert.get("detail") or None, className="alert-message")],
                     className="alert-detail"),
        ],
        className=classes,
        id=f"alert-{alert['id']}",
    )


def alerts_panel(alerts: Sequence[Mapping[str, Any]]) -> html.Div:
    """The list of alerts (already ordered by ``order_alerts``), or a calm line when there are none."""
    # A silenced alert is not counted as firing or pending: someone has already said it needs no page.
    silenced = sum(1 for a in alerts if a["state"] in ("firing", "pending") and a.get("silenced"))
    firing = sum(1 for a in alerts if a["state"] == "firing" and not a.get("silenced"))
    pending = sum(1 for a in alerts if a["state"] == "pending" and not a.get("silenced"))
    badges = [
        dbc.Badge(f"{firing} firing", color="danger" if firing else "light", text_color=None if firing else "dark",
                  className="me-1 summary-firing"),
        dbc.Badge(f"{pending} pending", color="warning" if pending else "light", text_color="dark",
                  className="me-1 summary-pending"),
    ]
    if silenced:
        badges.append(dbc.Badge(f"{silenced} silenced", color="dark", className="summary-silenced"))
    summary = html.Div(badges, className="alerts-summary")
    if not alerts:
        return html.Div([summary, html.Div("No alerts: every rule is within bounds.", className="no-alerts")])
    return html.Div([summary, html.Div([alert_item(a) for a in alerts], className="alert-list")])
