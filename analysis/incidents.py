"""Incidents found in history: the learned rules replayed through the engine, episodes merged by time.

An analyst's first question about a denial incident is which auth code drove it; ``driver`` answers
it from the codes' counts above their usual share during the incident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from analysis.learn import Analysis
from analysis.replay import Episode, MinuteRows, replay
from detection.metrics import auth_code_metric, metric_label, minute_to_datetime, status_metric

MERGE_GAP = 5  # episodes this close together are one incident


@dataclass
class FoundIncident:
    start: int  # epoch minute
    end: int  # epoch minute, inclusive
    episodes: list[Episode] = field(default_factory=list)
    kind: str = ""
    driver: str | None = None  # for denial incidents: "51", "59" or "both"
    peak: str = ""

    @property
    def minutes(self) -> int:
        return self.end - self.start + 1

    @property
    def metrics(self) -> list[str]:
        return sorted({e.metric for e in self.episodes})


def history_rows(analysis: Analysis) -> list[MinuteRows]:
    """The history as replayable minute rows (only the minutes the exports had)."""
    history = analysis.history
    stamps = [minute_to_datetime(m).strftime("%Y-%m-%d %H:%M:%S")
              for m in range(history.start, history.start + history.minutes)]
    status_keys = history.status.keys
    status = {s: history.series(status_metric(s)).tolist() for s in status_keys}
    status_seen = history.received("status")
    auth_keys = history.auth.keys if history.auth is not None else ()
    auth = {c: history.series(auth_code_metric(c)).tolist() for c in auth_keys}
    auth_seen = history.received("auth_code")
    out: list[MinuteRows] = []
    for i, stamp in enumerate(stamps):
        status_rows = ([{"timestamp": stamp, "status": s, "count": status[s][i]} for s in status_keys]
                       if status_seen[i] else [])
        auth_rows = ([{"timestamp": stamp, "auth_code": c, "count": auth[c][i]} for c in auth_keys]
                     if auth_seen[i] else [])
        out.append((history.start + i, status_rows, auth_rows))
    return out


def find_incidents(analysis: Analysis, advance: Callable[[int], None] | None = None) -> list[FoundIncident]:
    """``advance(1)`` after each minute replayed, for progress."""
    episodes = replay(analysis.thresholds, history_rows(analysis), ticks=False, advance=advance)
    return merge_episodes(analysis, episodes)


def merge_episodes(analysis: Analysis, episodes: list[Episode]) -> list[FoundIncident]:
    last = analysis.history.start + analysis.history.minutes - 1
    spans = sorted(((e.started_at, e.resolved_at - 1 if e.resolved_at else last, e) for e in episodes),
                   key=lambda item: item[0])
    incidents: list[FoundIncident] = []
    for start, last_minute, episode in spans:
        end = max(last_minute, start)
        if incidents and start <= incidents[-1].end + MERGE_GAP:
            current = incidents[-1]
            current.end = max(current.end, end)
            current.episodes.append(episode)
        else:
            incidents.append(FoundIncident(start, end, [episode]))
    for incident in incidents:
        _classify(analysis, incident)
    return incidents


def _classify(analysis: Analysis, incident: FoundIncident) -> None:
    metrics = set(incident.metrics)
    history = analysis.history
    lo, hi = incident.start - history.start, incident.end - history.start + 1
    if any(m.startswith("feed:") for m in metrics) and not metrics - {"feed:status", "feed:auth_code"}:
        incident.kind = "feed outage"
        incident.peak = f"no data for {incident.minutes} min"
        return
    if "status:failed" in metrics:
        incident.kind = "processing failure"
        failed = history.series("status:failed")[lo:hi]
        incident.peak = f"up to {int(failed.max())} failed/min"
        return
    if any(m in metrics for m in ("rate:denied", "auth_code:51", "auth_code:59", "status:denied")):
        incident.kind = "denial spike"
        incident.driver = driver(analysis, incident.start, incident.end)
        denied = history.series("status:denied")[lo:hi] if "denied" in history.status.keys else np.zeros(1)
        incident.peak = f"up to {int(denied.max())} denied/min"
        return
    if "status:backend_reversed" in metrics:
        incident.kind = "reversal burst"
        values = history.series("status:backend_reversed")[lo:hi]
        incident.peak = f"up to {int(values.max())} backend reversals/min"
        return
    if "status:approved" in metrics and "approved" in history.status.keys:
        # Approvals fell with no denial, failure or reversal behind it: dropped traffic, or a partial outage
        # when they stopped while the other statuses went on.
        approved = history.series("status:approved")[lo:hi]
        others = history.status_total()[lo:hi] - approved
        stopped = int(approved.min()) == 0 and int(others.sum()) > 0
        incident.kind = "partial outage" if stopped else "approval drop"
        incident.peak = f"approvals down to {int(approved.min())}/min"
        return
    incident.kind = "unusual " + ", ".join(metric_label(m) for m in sorted(metrics))


def driver(analysis: Analysis, start: int, end: int) -> str | None:
    """Which auth code's declines rose above their usual share: '51', '59' or 'both'."""
    history = analysis.history
    if history.auth is None or not {"51", "59"} <= set(history.auth.keys):
        return None
    lo, hi = start - history.start, end - history.start + 1
    total = sum(history.series(auth_code_metric(c))[lo:hi].sum() for c in history.auth.keys)
    excess = {}
    for code in ("51", "59"):
        share = analysis.baselines[auth_code_metric(code)].share or 0.0
        excess[code] = max(float(history.series(auth_code_metric(code))[lo:hi].sum() - share * total), 0.0)
    both = excess["51"] + excess["59"]
    if both <= 0:
        return None
    for code in ("51", "59"):
        if excess[code] >= 0.75 * both:
            return code
    return "both"
