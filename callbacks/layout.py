"""The page for one Monitor: reads its thresholds once at start and hands plain data to ``page_layout``."""

from __future__ import annotations

from dash import html

from callbacks.breakdown import metric_options
from components.page import PageSpec, page_layout
from components.panels import ScenarioButton, api_endpoints
from detection import Monitor
from feeds.scenarios import SCENARIOS


def dashboard_layout(monitor: Monitor, title: str, refresh_ms: int, *, mode: str | None = None,
                     base_url: str = "http://127.0.0.1:8080", token_required: bool = False,
                     simulate: bool = False) -> html.Div:
    thresholds = monitor.thresholds
    metrics = metric_options(thresholds.statuses, thresholds.auth_codes)
    spec = PageSpec(
        title=title,
        refresh_ms=refresh_ms,
        rules=[rule.describe() for rule in thresholds.rules],
        thresholds_source=thresholds.source,
        provenance=thresholds.provenance,
        no_data_minutes=thresholds.no_data_minutes,
        no_data_severity=thresholds.no_data_severity,
        scenarios=[ScenarioButton(s.name, s.label, s.hint, s.colour) for s in SCENARIOS.values()],
        endpoints=api_endpoints(base_url, token_required, thresholds.statuses[0], thresholds.auth_codes[-1]),
        mode=mode,
        simulate=simulate,
        token_required=token_required,
        dimensions=monitor.dimensions(),
        metrics=metrics,
        breakdown_metric="status:denied" if "denied" in thresholds.statuses else metrics[0]["value"],
    )
    return page_layout(spec)
