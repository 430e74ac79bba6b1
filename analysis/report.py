"""The analysis report: one self-contained HTML file (Plotly's JavaScript inlined, opens offline).

Contents: plain-language findings, each metric's series with its baseline and the band its rule
tolerates, incidents found in the history (as the engine groups and names them: title, kind,
drivers, start, duration) shaded, distributions, and the threshold table with the reasoning behind each rule.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from analysis.incidents import drivers_text, kind_words, last_minute, named_code
from analysis.learn import Analysis
from analysis.replay import EngineIncident
from detection.incidents import (
    APPROVAL_DROP,
    DENIAL_SPIKE,
    FEED_OUTAGE,
    PARTIAL_OUTAGE,
    PROCESSING_FAILURE,
    REVERSAL_BURST,
)
from detection.metrics import RATE_PREFIX, metric_label, minute_to_iso, status_metric
from detection.rules import Rule

KIND_COLOURS = {DENIAL_SPIKE: "#e4572e", PROCESSING_FAILURE: "#8e44ad", REVERSAL_BURST: "#f1a208",
                FEED_OUTAGE: "#555555", APPROVAL_DROP: "#2e86c1", PARTIAL_OUTAGE: "#17a589"}


def _rule_row(analysis: Analysis, rule: Rule) -> list[str]:
    min_count = getattr(rule, "min_count", None)
    return [
        f"{rule.type_name} '{rule.id}'" + (f" (min_count {min_count})" if min_count is not None else ""),
        metric_label(rule.metric),
        rule.condition_text(),
        f"for {rule.for_minutes} / resolve {rule.resolve_minutes}",
        analysis.rule_reasons.get(rule.id, ""),
    ]


def findings(analysis: Analysis, incidents: list[EngineIncident]) -> list[str]:
    """Short sentences an analyst can read first."""
    history = analysis.history
    out: list[str] = []
    total = history.status_total().astype(float)
    seen = history.received("status")
    start, end = history.time_range()
    out.append(f"The history runs from {start} to {end}: {history.minutes:,} minutes, "
               f"{int(seen.sum()):,} of them with status data.")
    missing = history.minutes - int(seen.sum())
    if missing:
        out.append(f"{missing} minutes have no status rows at all (feed outages, or an export that drops "
                   f"all-zero minutes).")
    volume_by_hour = _by_hour(total, history.start, analysis.clean)
    if history.minutes >= 1440 and volume_by_hour:
        busiest = int(np.nanargmax(volume_by_hour))
        quietest = int(np.nanargmin(volume_by_hour))
        ratio = volume_by_hour[quietest] / volume_by_hour[busiest] if volume_by_hour[busiest] else 1.0
        shape = ("a strong daily cycle" if ratio < 0.6 else "a mild daily cycle" if ratio < 0.85
                 else "roughly flat volume")
        out.append(f"Total volume averages {np.nanmean(total[seen]):.0f}/min with {shape}: the busiest UTC hour is "
                   f"{busiest:02d}:00 ({volume_by_hour[busiest]:.0f}/min), the quietest {quietest:02d}:00 "
                   f"({volume_by_hour[quietest]:.0f}/min). Rates and share-based rules do not alert on the cycle.")
    clean_share = analysis.clean.sum() / max(seen.sum(), 1)
    out.append(f"{(1 - clean_share) * 100:.1f}% of the minutes with data were left out of the baselines as "
               f"unusual (iterative cleaning), so incidents do not inflate what counts as normal.")
    if history.auth is not None and "denied" in history.status.keys:
        approved = history.series(status_metric("approved"))
        code00 = history.series("auth_code:00")
        denied = history.series(status_metric("denied"))
        codes = history.series("auth_code:51") + history.series("auth_code:59")
        both = seen & history.received("auth_code")
        bad00 = int((approved[both] != code00[both]).sum())
        bad_denied = int((denied[both] != codes[both]).sum())
        if bad00 == 0 and bad_denied == 0:
            out.append("In every minute auth code 00 equals approved and 51 + 59 equals denied, as expected.")
        else:
            out.append(f"Auth codes and statuses disagree: 00 differs from approved in {bad00} minutes, "
                       f"51 + 59 from denied in {bad_denied} minutes; check the exports.")
    for metric in ("status:failed", "status:backend_reversed"):
        if metric in analysis.baselines:
            x = history.series(metric)[seen]
            zero = float((x == 0).mean() * 100)
            out.append(f"{metric_label(metric).capitalize()} is zero in {zero:.0f}% of minutes: a sparse count, "
                       f"watched with a Poisson/negative-binomial tail over a short window and a minimum count, "
                       f"so a single event never pages.")
    kinds: dict[str, int] = {}
    for incident in incidents:
        kinds[incident.kind] = kinds.get(incident.kind, 0) + 1
    if incidents:
        listed = ", ".join(f"{n} {kind_words(k)}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items()))
        out.append(f"Replaying the history through the learned rules, the engine opens {len(incidents)} "
                   f"incidents: {listed}.")
        codes = [named_code(i.incident.drivers) for i in incidents if i.kind == DENIAL_SPIKE]
        if any(codes):
            by_code = {c: codes.count(c) for c in ("51", "59", "both")}
            out.append(f"Denial incidents were driven by code 51 (insufficient funds) {by_code['51']} times, "
                       f"59 (suspected fraud) {by_code['59']} times and both {by_code['both']} times.")
    else:
        out.append("Replaying the history through the learned rules finds no incidents.")
    budget = analysis.options.false_alerts_per_week
    out.append(f"Thresholds allow at most {budget:g} false alert per metric per week on normal data "
               f"(per-minute tail probability {analysis.options.p_value:.1e}).")
    return out


def _by_hour(values: np.ndarray, start: int, mask: np.ndarray) -> list[float]:
    hours = ((np.arange(start, start + len(values)) % 1440) // 60)
    out = []
    for hour in range(24):
        chosen = values[(hours == hour) & mask]
        out.append(float(chosen.mean()) if len(chosen) else float("nan"))
    return out


def _times(start: int, count: int) -> np.ndarray:
    # numpy arrays (not lists of datetimes) keep Plotly's validation fast on days of minutes
    return (np.arange(start, start + count, dtype=np.int64) * 60).astype("datetime64[s]")


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _shapes(incidents: list[EngineIncident], last: int) -> list[dict]:
    return [{"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1, "line": {"width": 0},
             "x0": np.datetime64(found.incident.started_at * 60, "s"),
             "x1": np.datetime64((found.end(last) + 1) * 60, "s"),
             "fillcolor": KIND_COLOURS.get(found.kind, "#999999"), "opacity": 0.18, "layer": "below"}
            for found in incidents]


def _series_figure(analysis: Analysis, metric: str, incidents: list[EngineIncident], times: np.ndarray) -> go.Figure:
    history = analysis.history
    baseline = analysis.baselines.get(metric)
    rule = baseline.rule if baseline else None
    minutes = range(history.start, history.start + history.minutes)
    if metric.startswith(RATE_PREFIX):
        count = history.series(status_metric(metric[len(RATE_PREFIX):])).astype(float)
        total = history.status_total().astype(float)
        values = np.divide(count, total, out=np.zeros_like(count), where=total > 0)
    else:
        values = history.series(metric).astype(float)
    feed = "auth_code" if metric.startswith("auth_code:") else "status"
    values[~history.received(feed)] = np.nan  # a gap in the line, not a fall to zero, where no data came
    traces = []
    expected: np.ndarray | None = None
    if rule is not None:
        bounds = [rule.bounds(m) for m in minutes]
        lower = _array([b[0] for b in bounds])
        upper = _array([b[1] for b in bounds])
        dotted = {"color": "#c0392b", "dash": "dot", "width": 1}
        if not np.isnan(upper).all():
            traces.append(go.Scatter(x=times, y=upper, name="alert above", line=dotted))
        if not np.isnan(lower).all():
            traces.append(go.Scatter(x=times, y=lower, name="alert below", line=dotted))
        expected = _array([rule.expected(m) for m in minutes])
    elif baseline is not None:
        hours = (np.arange(history.start, history.start + history.minutes) % 1440) // 60
        expected = np.array(baseline.hourly)[hours]
    traces.append(go.Scatter(x=times, y=values, name=metric_label(metric), line={"color": "#2c3e50", "width": 1}))
    if expected is not None:
        traces.append(go.Scatter(x=times, y=expected, name="baseline", line={"color": "#27ae60"}))
    unit = "share of all transactions" if metric.startswith(RATE_PREFIX) else "per minute"
    return go.Figure(data=traces, layout={
        "title": {"text": f"{metric_label(metric)} ({unit})"}, "height": 280, "template": "plotly_white",
        "margin": {"l": 50, "r": 20, "t": 40, "b": 30}, "legend": {"orientation": "h", "y": -0.2},
        "shapes": _shapes(incidents, last_minute(analysis))})


def _distribution_figure(analysis: Analysis, metrics: Sequence[str]) -> go.Figure:
    history = analysis.history
    fig = go.Figure()
    seen = history.received("status")
    for metric in metrics:
        values = history.series(metric)
        fig.add_trace(go.Histogram(x=values[analysis.clean], name=f"{metric_label(metric)} (normal minutes)",
                                   histnorm="probability", opacity=0.7))
        unusual = seen & ~analysis.clean
        if unusual.any():
            fig.add_trace(go.Histogram(x=values[unusual], name=f"{metric_label(metric)} (unusual minutes)",
                                       histnorm="probability", opacity=0.5))
    fig.update_layout(barmode="overlay", title="Distribution of per-minute counts", height=320,
                      template="plotly_white", margin={"l": 50, "r": 20, "t": 40, "b": 30})
    return fig


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
li { margin: 4px 0; }
"""


def write_report(analysis: Analysis, incidents: list[EngineIncident], path: str | Path,
                 more_findings: Sequence[str] = ()) -> Path:
    """The HTML report; ``more_findings`` are put after the computed ones (the analysts' feedback, say)."""
    history = analysis.history
    times = _times(history.start, history.minutes)
    plotted = [m for m in analysis.baselines if analysis.baselines[m].rule is not None]
    plotted += [m for m in ("auth_code:00", "status:denied") if m in analysis.baselines and m not in plotted]
    figures = [_series_figure(analysis, m, incidents, times) for m in plotted]
    sparse = [m for m in ("status:failed", "status:backend_reversed", "status:reversed", "status:refunded")
              if m in analysis.baselines]
    figures.append(_distribution_figure(analysis, sparse))
    high = [m for m in ("status:approved", "status:denied") if m in analysis.baselines]
    if high:
        figures.append(_distribution_figure(analysis, high))
    parts = []
    for index, fig in enumerate(figures):
        # The JavaScript goes in once, inline: the report must open with no network.
        parts.append(fig.to_html(include_plotlyjs=index == 0, full_html=False, config={"displaylogo": False}))

    last = last_minute(analysis)
    incident_rows = [[found.incident.title, kind_words(found.kind), drivers_text(found.incident.drivers),
                      minute_to_iso(found.incident.started_at) or "",
                      str(found.end(last) - found.incident.started_at + 1), found.incident.summary,
                      ", ".join(metric_label(m) for m in found.incident.metrics)] for found in incidents]
    rule_rows = [_rule_row(analysis, rule) for rule in analysis.thresholds.rules]
    baseline_rows = [[
        metric_label(metric),
        f"{baseline.mean:.3g}/min (sd {baseline.std:.3g})" if not metric.startswith(RATE_PREFIX)
        else f"{(baseline.share or 0) * 100:.2f}%",
        baseline.dispersion,
        baseline.reasoning,
    ] for metric, baseline in analysis.baselines.items()]
    provenance = analysis.thresholds.provenance
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Transaction analysis report</title>
<style>{STYLE}</style></head><body>
<h1>Transaction analysis report</h1>
<p>Inputs: {html.escape(", ".join(history.sources))}. Method: {html.escape(str(provenance.get("method", "")))}.</p>
<h2>Findings</h2>
<ul>{"".join(f"<li>{html.escape(f)}</li>" for f in [*findings(analysis, incidents), *more_findings])}</ul>
<h2>Incidents found in the history</h2>
<p>As the monitor's engine groups and names them (the incidents it would have opened live): drivers are the
metrics carrying the excess, with their shares; duration runs to the last member alert's end.</p>
{_table(["incident", "kind", "drivers (share of the excess)", "start (UTC)", "duration (min)", "summary",
         "alerting metrics"], incident_rows)
 if incident_rows else "<p>None.</p>"}
<h2>Thresholds and reasoning</h2>
<p>Every learned rule, as written to the thresholds file, and why its minimum count and its <code>for</code>
were chosen.</p>
{_table(["rule", "metric", "condition", "for / resolve (min)", "why this min_count and for"], rule_rows)}
<h3>Baselines</h3>
{_table(["metric", "baseline", "dispersion", "reasoning"], baseline_rows)}
<h2>Series, baselines and alert bands</h2>
<p>Dotted red lines: the per-minute value each rule tolerates (window rules: the window limit per minute,
at typical volume). Green: the baseline. Shaded: incidents found (red denial spike, purple processing failure,
amber reversal burst, grey feed outage, blue approval drop, teal partial outage).</p>
{"".join(parts)}
</body></html>
"""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(target)
    return target
