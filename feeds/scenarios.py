"""Simulated incidents for the dashboard's buttons: a few minutes of synthetic rows that breach the rules in force.

Rows come from the seeded ``SyntheticStream`` (so they look like the users'
data), then each targeted count is pushed just past the bound of every rule on
that metric, so a button makes the alert fire whatever thresholds file is
loaded. A scenario spans the largest ``for`` of those rules plus one minute,
which closes the last breaching minute for rules that judge closed minutes only,
or a window rule's whole window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analysis.synthetic import Incident, SyntheticStream
from detection.rules import Rule

MAX_MINUTES = 5  # the ingestion gate accepts event times up to 5 minutes ahead of its clock
OUTAGE_MINUTES = 3


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    hint: str
    incident: str | None = None  # an analysis.synthetic incident kind
    magnitude: float = 0.0
    raise_metrics: tuple[str, ...] = ()  # counts pushed above every rule's upper bound
    lower_metrics: tuple[str, ...] = ()  # counts pushed below every rule's lower bound
    colour: str = "outline-secondary"


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("normal", "Normal minute", "one ordinary minute of traffic", colour="outline-success"),
    Scenario("denial_51", "Denial spike (51)", "denials x6 driven by code 51, insufficient funds", "denial_51", 6.0,
             raise_metrics=("auth_code:51", "status:denied"), colour="outline-warning"),
    Scenario("denial_59", "Denial spike (59)", "denials x6 driven by code 59, suspected fraud", "denial_59", 6.0,
             raise_metrics=("auth_code:59", "status:denied"), colour="outline-warning"),
    Scenario("processing_failure", "Processing failure", "failed transactions with backend reversals",
             "processing_failure", 5.0, raise_metrics=("status:failed",), colour="outline-danger"),
    Scenario("reversal_burst", "Reversal burst", "backend reversals without failures", "reversal_burst", 4.0,
             raise_metrics=("status:backend_reversed",), colour="outline-danger"),
    Scenario("approval_drop", "Approval drop", "approvals fall to about 40% without more denials",
             lower_metrics=("status:approved", "auth_code:00"), colour="outline-danger"),
    Scenario("feed_outage", "Feed outage", f"no rows for {OUTAGE_MINUTES} minutes, then one minute: a feed gap",
             colour="outline-dark"),
)}


@dataclass(frozen=True)
class MinuteRows:
    """One minute to post: rows in the users' schema for the status feed and the auth-code feed."""

    minute: int
    status_rows: list[dict]
    auth_rows: list[dict]


def scenario_length(scenario: Scenario, rules: Iterable[Rule]) -> int:
    """Minutes to post so every targeted rule fires, at most MAX_MINUTES.

    A rule's ``for`` plus one closing minute; and for rules judged over a window
    (a ``window`` parameter, as the Poisson-tail rules have), the whole window,
    since a per-minute bound is the window's critical count spread over it.
    """
    targets = set(scenario.raise_metrics) | set(scenario.lower_metrics)
    if not targets:
        return 1
    needed = 1
    for rule in rules:
        if rule.metric in targets:
            window = rule.params().get("window", 1)
            window = window if isinstance(window, int) else 1
            # a rule that judges closed minutes only needs one more minute to close its last one
            needed = max(needed, rule.for_minutes + 1, window + (0 if rule.monotone else 1))
    return min(needed, MAX_MINUTES)


def _counts(status_rows: list[dict], auth_rows: list[dict]) -> dict[str, int]:
    out = {f"status:{r['status']}": r["count"] for r in status_rows}
    out.update({f"auth_code:{r['auth_code']}": r["count"] for r in auth_rows})
    return out


def _bounds(rules: Sequence[Rule], metric: str, minute: int) -> tuple[float | None, float | None]:
    lows = [lo for r in rules if r.metric == metric for lo, _ in [r.bounds(minute)] if lo is not None]
    highs = [hi for r in rules if r.metric == metric for _, hi in [r.bounds(minute)] if hi is not None]
    return (max(lows) if lows else None, min(highs) if highs else None)


def _push(scenario: Scenario, counts: dict[str, int], rules: Sequence[Rule], minute: int) -> None:
    if scenario.name == "approval_drop":
        approved = counts.get("status:approved", 0) * 40 // 100
        counts["status:approved"] = counts["auth_code:00"] = approved
    for metric in scenario.raise_metrics:
        _, upper = _bounds(rules, metric, minute)
        if upper is not None:
            needed = math.floor(upper) + 1
            if counts.get(metric, 0) < needed:
                extra = needed - counts.get(metric, 0)
                counts[metric] = needed
                if metric.startswith("auth_code:5"):  # a denial code drives the denied status with it
                    counts["status:denied"] = counts.get("status:denied", 0) + extra
    for metric in scenario.lower_metrics:
        lower, _ = _bounds(rules, metric, minute)
        if lower is not None and counts.get(metric, 0) >= lower:
            counts[metric] = max(0, math.ceil(lower) - 1)
    if "status:approved" in scenario.lower_metrics:
        counts["auth_code:00"] = counts["status:approved"] = min(counts["status:approved"], counts.get("auth_code:00", 0))
    # Keep the export's identities: 51 + 59 = denied (extra denials go to the scenario's code).
    if "status:denied" in scenario.raise_metrics:
        code = "auth_code:51" if scenario.incident == "denial_51" else "auth_code:59"
        other = "auth_code:59" if code == "auth_code:51" else "auth_code:51"
        counts[code] = max(counts.get(code, 0), counts["status:denied"] - counts.get(other, 0))
        counts["status:denied"] = counts[code] + counts.get(other, 0)


def _rows(template_status: list[dict], template_auth: list[dict], counts: dict[str, int],
          statuses: Sequence[str], auth_codes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    stamp = (template_status or template_auth)[0]["timestamp"]
    status_rows = [{"timestamp": stamp, "status": s, "count": counts.get(f"status:{s}", 0)} for s in statuses]
    auth_rows = [{"timestamp": stamp, "auth_code": c, "count": counts.get(f"auth_code:{c}", 0)} for c in auth_codes]
    return status_rows, auth_rows


def scenario_minutes(name: str, first_minute: int, stream: SyntheticStream, rules: Sequence[Rule],
                     statuses: Sequence[str], auth_codes: Sequence[str]) -> list[MinuteRows]:
    """The minutes a scenario posts, starting at ``first_minute`` (the minute after the feed's newest)."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    if name == "feed_outage":
        # Nothing for OUTAGE_MINUTES minutes, then one ordinary minute: the engine reports the gap at once.
        minute = first_minute + OUTAGE_MINUTES
        status_rows, auth_rows = stream.minute(minute)
        rows = _rows(status_rows, auth_rows, _counts(status_rows, auth_rows), statuses, auth_codes)
        return [MinuteRows(minute, *rows)]
    length = scenario_length(scenario, rules)
    incidents = [Incident(scenario.incident, first_minute, length, scenario.magnitude)] if scenario.incident else []
    out = []
    for minute in range(first_minute, first_minute + length):
        status_rows, auth_rows = stream.minute(minute, incidents)
        counts = _counts(status_rows, auth_rows)
        _push(scenario, counts, rules, minute)
        out.append(MinuteRows(minute, *_rows(status_rows, auth_rows, counts, statuses, auth_codes)))
    return out
