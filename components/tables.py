"""Tables of the page: the latest minutes of transactions and the rules in force."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from .alerts import short_time


@dataclass(frozen=True)
class MinuteRow:
    """One minute of the recent-transactions table; ``counts`` None means the feed sent nothing that minute."""

    timestamp: str  # ISO 8601
    counts: Mapping[str, int] | None
    codes: Mapping[str, int] | None
    open: bool = False


def recent_transactions_table(statuses: Sequence[str], auth_codes: Sequence[str], rows: Sequence[MinuteRow]) -> html.Div:
    """Newest minute first; a minute with no data says so instead of showing zeros."""
    if not rows:
        return html.Div("No transactions received yet.", className="text-muted small")
    header = [html.Th("minute (UTC)")] + [html.Th(s.replace("_", " "), className="num") for s in statuses]
    header += [html.Th("total", className="num")] + [html.Th(c, className="num code-col", title=f"auth code {c}") for c in auth_codes]
    body = []
    for row in rows:
        when = [short_time(row.timestamp)]
        if row.open:
            when.append(html.Span("open", className="open-pill"))
        cells: list[Any] = [html.Td(when, className="nowrap")]
        if row.counts is None:
            cells.append(html.Td("no data received", colSpan=len(statuses) + 1, className="no-data-cell"))
        else:
            cells += [html.Td(str(row.counts.get(s, 0)), className="num") for s in statuses]
            cells.append(html.Td(str(sum(row.counts.values())), className="num total"))
        if row.codes is None:
            cells.append(html.Td("–", colSpan=len(auth_codes), className="no-data-cell"))
        else:
            cells += [html.Td(str(row.codes.get(c, 0)), className="num code-col") for c in auth_codes]
        body.append(html.Tr(cells, className="row-open" if row.open else None))
    return dbc.Table([html.Thead(html.Tr(header)), html.Tbody(body)], size="sm", striped=True, className="recent-table mb-0",
                     responsive=True)


def rules_table(rules: Sequence[Mapping[str, Any]], source: str, provenance: Mapping[str, Any], no_data_minutes: int,
                no_data_severity: str = "critical") -> html.Div:
    """The rules in force, as the thresholds file states them, and where the file came from."""
    header = html.Thead(html.Tr([html.Th(h) for h in ("rule", "metric", "condition", "for", "resolve", "severity")]))
    body = [
        html.Tr([
            html.Td(html.Code(r["id"])),
            html.Td(r.get("metric_label", r["metric"])),
            html.Td(r.get("condition", "")),
            html.Td(f"{r.get('for', 1)} min", className="nowrap"),
            html.Td(f"{r.get('resolve', 1)} min", className="nowrap"),
            html.Td(r.get("severity", "")),
        ], id=f"rule-{r['id']}")
        for r in rules
    ]
    if no_data_minutes:
        body.append(html.Tr([html.Td(html.Code("no_data")), html.Td("each feed"),
                             html.Td(f"nothing received for {no_data_minutes} min (wall clock)"),
                             html.Td("–"), html.Td("on data"), html.Td(no_data_severity)]))
    method = provenance.get("method") if isinstance(provenance, Mapping) else None
    origin = f"Thresholds: {source}" + (f" — {method}" if method else "")
    return html.Div([
        html.Div(origin, className="text-muted small mb-2 rules-origin"),
        dbc.Table([header, html.Tbody(body)], size="sm", className="rules-table mb-0", responsive=True),
    ])
