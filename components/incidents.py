"""The incidents panels: open incidents at the top of the page, one incident's detail, and the resolved history.

Incidents arrive as the REST API's dicts (``Incident.to_dict()``); every function
here is pure. Each incident row holds an actions slot (``incident_actions``): in a list
it says who acknowledged the incident; in the detail it holds the forms of
``components.actions`` (Acknowledge, Add note, Mark false alarm / expected, Silence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids
from .actions import acknowledgement_text, silences_panel
from .alerts import SEVERITY_COLOURS, format_value, utc_time

KIND_LABELS = {
    "denial_spike": "denial spike",
    "processing_failure": "processing failure",
    "reversal_burst": "reversal burst",
    "approval_drop": "approval drop",
    "partial_outage": "partial outage",
    "feed_outage": "feed outage",
    "other": "other",
}
SEVERITIES = ("critical", "warning", "info")
ALL = "all"


def driver_label(metric: str) -> str:
    """'auth_code:51' -> 'code 51', 'status:backend_reversed' -> 'backend reversed', 'rate:denied' -> 'denied share'."""
    kind, _, key = metric.partition(":")
    if kind == "auth_code":
        return f"code {key}"
    if kind == "rate":
        return f"{key.replace('_', ' ')} share"
    if kind == "feed":
        return f"{key.replace('_', ' ')} feed"
    return key.replace("_", " ") if key else metric


def drivers_text(drivers: Sequence[Mapping[str, Any]]) -> str:
    """'code 51: 86%, code 59: 14%': what carries the excess, largest share first (as the engine lists them)."""
    return ", ".join(f"{driver_label(d['metric'])}: {d['share'] * 100:.0f}%" for d in drivers)


def incident_actions(incident: Mapping[str, Any], where: str = "open", form: Any = None) -> html.Div:
    """The actions slot: in a list, who acknowledged the incident (the API's ``acknowledged``) and how many
    notes it has; in the
    detail, ``form`` (``components.actions.action_form``)."""
    acked = acknowledgement_text(incident.get("acknowledged"))
    notes = incident.get("notes") or []
    children: Any = form
    if form is None:
        # The newest note on hover: the row stays one line, the detail has them all.
        children = ([html.Span(acked, className="incident-acked")] if acked else []) + (
            [html.Span(f"{len(notes)} note" + ("s" if len(notes) > 1 else ""), className="incident-notes-count",
                       title=f"{notes[-1].get('by', '')}: {notes[-1].get('text', '')}"[:300])] if notes else [])
    return html.Div(
        children,
        id=ids.incident_actions(incident["id"], where),
        className="incident-actions",
    )


def _severity_badge(severity: str) -> dbc.Badge:
    return dbc.Badge(severity, color=SEVERITY_COLOURS.get(severity, "secondary"), pill=True,
                     className="incident-severity me-1")


def incident_row(incident: Mapping[str, Any], selected: bool = False, where: str = "open") -> html.Div:
    """One incident: a button with its title, since when, drivers and severity (a click opens its detail),
    and the actions slot beside it."""
    since = utc_time(incident.get("started_at"))
    when = f"since {since}" if incident.get("state") == "open" else f"{since} to {utc_time(incident.get('resolved_at'))}"
    drivers = drivers_text(incident.get("drivers") or [])
    body = html.Button(
        [
            html.Div([_severity_badge(incident["severity"]),
                      html.Span(incident.get("title") or KIND_LABELS.get(incident["kind"], incident["kind"]),
                                className="incident-title")], className="incident-line"),
            html.Div([html.Span(when, className="incident-since"),
                      *([html.Span(drivers, className="incident-drivers")] if drivers else [])],
                     className="incident-meta"),
        ],
        id=ids.incident_open(incident["id"], where),
        n_clicks=0,
        className="incident-open",
        title="Show its alerts and timeline, and move both charts to its window",
    )
    state = incident.get("state", "open")
    classes = f"incident-row incident-{state} incident-sev-{incident['severity']}" + (" incident-selected" if selected else "")
    return html.Div([body, incident_actions(incident, where)], className=classes, id=ids.incident_row(incident["id"], where))


def open_incidents_panel(incidents: Sequence[Mapping[str, Any]], selected: str | None = None) -> html.Div:
    """Open incidents, newest first, or a calm line when there are none."""
    if not incidents:
        return html.Div("No open incidents.", className="no-incidents")
    return html.Div([incident_row(i, i["id"] == selected) for i in incidents], className="incident-list")


@dataclass(frozen=True)
class Member:
    """One member alert as the incident's details record it (times in epoch minutes)."""

    rule: str
    metric: str
    severity: str
    started: int
    resolved: int | None
    value: float | None
    threshold: float | None
    detail: str = ""


def members_of(incident: Mapping[str, Any]) -> list[Member]:
    """The members from ``details["members"]`` (the engine's record of each alert), oldest first."""
    out = []
    for m in (incident.get("details") or {}).get("members", []):
        out.append(Member(str(m.get("rule", "")), str(m.get("metric", "")), str(m.get("severity", "")),
                          int(m["started_minute"]), None if m.get("resolved_minute") is None else int(m["resolved_minute"]),
                          m.get("value"), m.get("threshold"), str(m.get("detail") or "")))
    out.sort(key=lambda m: (m.started, m.rule))
    return out


def _minute_text(minute: int) -> str:
    return utc_time(datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def timeline(members: Sequence[Member], start: int, end: int) -> html.Div:
    """A small timeline: one bar per member across the incident's span (``start``..``end`` minutes), its times
    on hover, with the span's ends written below."""
    span = max(end - start, 1)
    rows = []
    for m in members:
        left = max(0.0, min(100.0, (m.started - start) / span * 100))
        stop = m.resolved if m.resolved is not None else end
        width = max(1.5, min(100.0 - left, (stop - m.started) / span * 100))
        until = _minute_text(m.resolved) if m.resolved is not None else "still open"
        rows.append(html.Div(
            [html.Span(m.rule, className="timeline-label"),
             html.Div(html.Div(className=f"timeline-bar timeline-{m.severity}" + (" timeline-open" if m.resolved is None else ""),
                               style={"left": f"{left:.1f}%", "width": f"{width:.1f}%"},
                               title=f"{m.rule}: {_minute_text(m.started)} to {until}"),
                      className="timeline-track")],
            className="timeline-row"))
    ends = html.Div([html.Span(_minute_text(start)), html.Span(_minute_text(end))], className="timeline-ends")
    return html.Div([*rows, ends], className="incident-timeline")


def incident_detail(incident: Mapping[str, Any] | None, start: int | None = None, end: int | None = None,
                    form: Any = None) -> html.Div:
    """An incident opened from a list: title, state, summary, drivers, members and a timeline of them.

    ``start``/``end`` are the incident's span in epoch minutes (its end: resolved, or the newest minute);
    ``form``: the analyst's actions on it, put in its actions slot. The facts are one part (``ids.detail_part``
    ``info``) that each refresh redraws when they changed, so the panel follows the incident while it is open.
    """
    if incident is None:
        return html.Div("Click an incident to see its alerts and timeline.", className="incident-detail-empty text-muted")
    info = html.Div(incident_info(incident, start, end), id=ids.detail_part("info", incident["id"]))
    return html.Div([info, incident_actions(incident, "detail", form)], className="incident-detail",
                    id=ids.incident_detail_of(incident["id"]))


def incident_missing(requested: str, max_chars: int, retention_days: float) -> html.Div:
    """The detail panel when a link names an incident the store does not hold (unknown, pruned, or no id at all).

    The id is shown as text (never markup), cut at ``max_chars`` and with unprintable characters replaced, so a
    forged link cannot put anything on the page but characters."""
    shown = "".join(c if c.isprintable() else "\ufffd" for c in requested[:max_chars])
    shown = (shown + "\u2026" if len(requested) > max_chars else shown) or "(empty id)"
    return html.Div(
        [html.P(f"No incident {shown} in the store (retention {retention_days:g} days).",
                className="incident-missing-text mb-1"),
         html.Div("Click an incident to see its alerts and timeline.", className="text-muted")],
        className="incident-detail-missing", role="status",
    )


def incident_info(incident: Mapping[str, Any], start: int | None = None, end: int | None = None) -> list[Any]:
    """What the incident is: its head, since when, summary, drivers, timeline and member alerts."""
    members = members_of(incident)
    head = html.Div([
        _severity_badge(incident["severity"]),
        dbc.Badge(incident.get("state", ""), color="danger" if incident.get("state") == "open" else "secondary",
                  className="me-1 incident-state"),
        html.Span(incident.get("title", ""), className="incident-detail-title"),
    ], className="incident-line")
    when = f"since {utc_time(incident.get('started_at'))}"
    if incident.get("resolved_at"):
        when = f"from {utc_time(incident.get('started_at'))} to {utc_time(incident.get('resolved_at'))}"
    rows = [
        html.Tr([html.Td(m.rule, className="nowrap"), html.Td(driver_label(m.metric)), html.Td(m.severity),
                 html.Td(_minute_text(m.started), className="nowrap"),
                 html.Td(_minute_text(m.resolved) if m.resolved is not None else "open", className="nowrap"),
                 html.Td(f"{format_value(m.metric, m.value)} vs {format_value(m.metric, m.threshold)}", className="num")],
                title=m.detail or None)
        for m in members
    ]
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("rule", "metric", "severity", "started", "resolved",
                                                                  "value vs threshold")])),
                       html.Tbody(rows)], size="sm", className="incident-members mb-0")
    # Scrolls sideways on a phone: focusable and named, so a keyboard can scroll it too.
    table = html.Div(table, className="table-responsive mb-2", tabIndex="0", role="region",
                     **{"aria-label": "Member alerts"})
    parts: list[Any] = [
        head,
        html.Div([html.Span(when, className="incident-since"),
                  html.Span(KIND_LABELS.get(incident["kind"], incident["kind"]), className="incident-kind")],
                 className="incident-meta"),
        html.P(incident.get("summary", ""), className="incident-summary mb-1"),
    ]
    drivers = drivers_text(incident.get("drivers") or [])
    if drivers:
        parts.append(html.Div(f"Driven by {drivers}", className="incident-drivers-line mb-2"))
    if members and start is not None and end is not None:
        parts.append(timeline(members, start, end))
    parts.append(table)
    return parts


def history_filters(kind: str = ALL, severity: str = ALL, text: str = "") -> html.Div:
    """Kind, severity and free-text filters over the resolved incidents."""
    kinds = [{"label": "every kind", "value": ALL}] + [{"label": label, "value": k} for k, label in KIND_LABELS.items()]
    severities = [{"label": "every severity", "value": ALL}] + [{"label": s, "value": s} for s in SEVERITIES]
    return html.Div(
        [
            html.Label("kind", htmlFor=ids.INCIDENT_KIND_FILTER, className="visually-hidden"),
            dbc.Select(id=ids.INCIDENT_KIND_FILTER, options=kinds, value=kind, size="sm", className="incident-filter"),
            html.Label("severity", htmlFor=ids.INCIDENT_SEVERITY_FILTER, className="visually-hidden"),
            dbc.Select(id=ids.INCIDENT_SEVERITY_FILTER, options=severities, value=severity, size="sm",
                       className="incident-filter"),
            html.Label("search", htmlFor=ids.INCIDENT_TEXT_FILTER, className="visually-hidden"),
            dcc.Input(id=ids.INCIDENT_TEXT_FILTER, type="search", value=text, debounce=True, placeholder="search title and summary",
                      className="form-control form-control-sm incident-filter incident-search", maxLength=100),
        ],
        className="incident-filters",
    )


def history_page(incidents: Sequence[Mapping[str, Any]], page_number: int, has_more: bool, selected: str | None = None,
                 note: str = "") -> html.Div:
    """One page of resolved incidents, newest first, with where we are in the history."""
    if not incidents:
        body: Any = html.Div("No resolved incidents match." if page_number == 1 else "No older incidents match.",
                             className="no-incidents")
    else:
        body = html.Div([incident_row(i, i["id"] == selected, "resolved") for i in incidents], className="incident-list")
    where = f"page {page_number}" + (" · older ones follow" if has_more else " · the oldest stored")
    return html.Div([body, html.Div(where + (f" · {note}" if note else ""), className="incident-page-info small text-muted")])


def history_panel() -> html.Div:
    """The static frame of the resolved list: filters, the list (filled by a callback) and Newer / Older;
    then the active silences (their own section: an analyst silences from an incident and looks here)."""
    return html.Div(
        [
            history_filters(),
            html.Div(id=ids.RESOLVED_INCIDENTS, className="resolved-incidents"),
            html.Div(
                [
                    dbc.Button("‹ Newer", id=ids.INCIDENTS_NEWER, size="sm", color="secondary", outline=True, n_clicks=0,
                               disabled=True, className="me-2"),
                    dbc.Button("Older ›", id=ids.INCIDENTS_OLDER, size="sm", color="secondary", outline=True, n_clicks=0,
                               disabled=True),
                ],
                className="incident-paging",
            ),
            silences_panel(),
        ],
        id=ids.INCIDENT_HISTORY,
    )
