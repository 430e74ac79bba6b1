"""Turns a Monitor snapshot into the arguments of the pure component functions (cards, panels, rows).

This is where rules meet the page: the charts' alert lines come from ``callbacks.bands`` (the count at
which each rule would breach), the normal from ``expected(minute)``; the cards' numbers and states from the
open alerts, the silences and feed health.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np

from callbacks.bands import SnapshotBands
from components.cards import NORMAL, CardFigures
from components.charts import Episode, Line, Panel, TimeAxis
from components.tables import MinuteRow
from detection import Alert, Snapshot
from detection.metrics import (
    AUTH_CODE_FEED,
    AUTH_CODE_MEANINGS,
    STATUS_FEED,
    auth_code_metric,
    minute_to_datetime,
    split_metric,
    status_metric,
)
from detection.rules import Rule

# No series is drawn in the alert red (components.charts.ALERT_RED): it marks alert lines and alert shading.
# Every series colour is at least 3:1 against the white plot (WCAG 1.4.11, graphics) and apart from the others:
# failed a dark orange (5.0:1), denied and code 51 (insufficient funds, most denials) a dark cyan (5.4:1; the
# orange it was, #fd7e14, is 2.6:1). The fallbacks, for statuses and codes a thresholds file adds, as well.
STATUS_COLOURS = {
    "approved": "#198754", "denied": "#0e7490", "failed": "#b45309", "reversed": "#6f42c1",
    "backend_reversed": "#d63384", "refunded": "#0d6efd",
}
CODE_COLOURS = {"00": "#198754", "51": "#0e7490", "59": "#6f42c1"}
FALLBACK_COLOURS = ("#5c940d", "#1864ab", "#6610f2", "#495057")
PANEL_WEIGHTS = {"approved": 1.5, "denied": 1.2}
BASELINE_WINDOW = 60
STATE_RANK = {"firing": 0, "pending": 1}


def plotly_time(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%Y-%m-%d %H:%M:%S")


def time_axis(snap: Snapshot) -> TimeAxis:
    assert snap.start_minute is not None
    return TimeAxis(snap.start_minute, len(snap.minutes), plotly_time(snap.start_minute))


def _values(counts: Sequence[int], received: Sequence[bool]) -> np.ndarray:
    """Counts as an array, NaN where the feed sent nothing: a gap is drawn as a gap, not as zero traffic.

    Arrays, not lists: the JSON encoder writes them in one call instead of walking every element.
    """
    if not received or len(received) != len(counts) or all(received):
        return np.asarray(counts, dtype=np.int64)
    values = np.asarray(counts, dtype=np.float64)
    values[~np.asarray(received, dtype=bool)] = np.nan
    return values


def status_panels(snap: Snapshot, bands: SnapshotBands) -> list[Panel]:
    received = snap.received.get(STATUS_FEED, ())
    panels = []
    for i, status in enumerate(snap.statuses):
        metric = status_metric(status)
        lower, upper, expected = bands.lines(metric, snap.minutes)
        colour = STATUS_COLOURS.get(status, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
        panels.append(Panel(
            key=metric, title=status.replace("_", " "),
            lines=(Line(status.replace("_", " "), _values(snap.counts.get(metric, ()), received), colour),),
            lower=lower, upper=upper, expected=expected, weight=PANEL_WEIGHTS.get(status, 1.0),
        ))
    return panels


def auth_panels(snap: Snapshot, bands: SnapshotBands) -> list[Panel]:
    """One panel per code (00 first): each code's own bounds, so which code drives a denial spike shows at once."""
    received = snap.received.get(AUTH_CODE_FEED, ())
    panels = []
    for i, code in enumerate(snap.auth_codes):
        metric = auth_code_metric(code)
        lower, upper, expected = bands.lines(metric, snap.minutes)
        meaning = AUTH_CODE_MEANINGS.get(code)
        title = f"{code} {meaning}" if meaning else code
        colour = CODE_COLOURS.get(code, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
        panels.append(Panel(key=metric, title=title, lines=(Line(title, _values(snap.counts.get(metric, ()), received), colour),),
                            lower=lower, upper=upper, expected=expected, weight=1.4 if i == 0 else 1.0))
    return panels


def _panel_key(metric: str) -> str:
    kind, key = split_metric(metric)
    if kind == "rate":
        return status_metric(key)  # a share is drawn on its status's panel
    return metric


def episodes(alerts: Iterable[Alert], feed: str, newest: int) -> list[Episode]:
    """Alert episodes of one figure's feed; feed alerts (gap, no data) shade every panel."""
    out = []
    seen: set[str] = set()
    for alert in alerts:
        if alert.id in seen:
            continue
        seen.add(alert.id)
        kind, key = split_metric(alert.metric)
        if kind == "feed":
            if key != feed:
                continue
            panel = None
        elif (kind == AUTH_CODE_FEED) != (feed == AUTH_CODE_FEED):
            continue
        else:
            panel = _panel_key(alert.metric)
        end = alert.resolved_at if alert.resolved_at is not None else max(newest + 1, alert.started_at + 1)
        out.append(Episode(panel, alert.started_at, end, alert.state, alert.message))
    return out


def recent_alerts(snap: Snapshot) -> list[Alert]:
    """Stored alerts without stale "pending" ones: a pending breach that is not open any more never fired,
    so it is no episode (the store can hold such rows when one ingest both opened and cleared it)."""
    open_ids = {a.id for a in snap.open_alerts}
    return [a for a in snap.recent_alerts if a.state != "pending" or a.id in open_ids]


# A feed silent (wall clock) for longer than this greys its cards until data comes again: sooner than the
# no-data alert (2 min in the demo thresholds, 5 by default), and the only sign where that alert is off or silenced.
STALE_SECONDS = 90
NO_DATA = "no_data"  # the wall-clock feed alert's rule type (the Monitor's NO_DATA_RULE)


def since_text(minute: int | None, now: float) -> str | None:
    """The newest minute with data as "13:45 UTC", with its date when that is not today's (a replay, a long stop)."""
    if minute is None:
        return None
    at = minute_to_datetime(minute)
    today = minute_to_datetime(int(now // 60)).date()
    return at.strftime("%H:%M UTC" if at.date() == today else "%Y-%m-%d %H:%M UTC")


def feed_outage(snap: Snapshot, closed_minute: int | None, silenced: Collection[str],
                feed: str = STATUS_FEED) -> int | None:
    """The newest minute with data before the feed's outage, or None when there is none to show.

    An outage is a firing no-data or feed-gap alert on the feed (it lasts in wall-clock time), or a feed gap,
    resolved since, that covers the card's last closed minute: a posted gap (the simulated outage) resolves
    as soon as data comes again, but the card's minute had no data and must not read as a green 0.
    """
    newest = snap.feeds[feed].newest_minute if feed in snap.feeds else None
    seen: set[str] = set()
    for alert in (*snap.open_alerts, *snap.recent_alerts):
        if alert.id in seen or alert.id in silenced or split_metric(alert.metric) != ("feed", feed):
            continue
        seen.add(alert.id)
        if alert.state == "firing":
            return newest if alert.rule_type == NO_DATA else alert.started_at - 1
        if (alert.state == "resolved" and alert.fired_at is not None and closed_minute is not None
                and alert.resolved_at is not None and alert.started_at <= closed_minute < alert.resolved_at):
            return alert.started_at - 1
    return None


def _minute_normal(snap: Snapshot, rules: Sequence[Rule], metric: str, i: int | None) -> tuple[float | None, str]:
    """Normal for minute index ``i`` of ``metric``: a rule's expectation, else the mean of the received minutes
    in the hour before it (a gap is not a quiet minute)."""
    if i is None:
        return None, "1 h avg"
    for rule in rules:
        if rule.metric == metric:
            expected = rule.expected(snap.minutes[i])
            if expected is not None:
                return expected, "baseline"
    lo = max(0, i - BASELINE_WINDOW)
    column = snap.counts.get(metric, ())
    received = snap.received.get(STATUS_FEED, ())
    seen = [c for c, r in zip(column[lo:i], received[lo:i], strict=False) if r]
    return (sum(seen) / len(seen) if seen else None), "1 h avg"


def _judging_alert(alerts: Sequence[Alert], silenced: Collection[str]) -> Alert | None:
    """The alert a card shows: the worst one not silenced (firing before pending), else the worst silenced one."""
    return min(alerts, key=lambda a: (a.id in silenced, STATE_RANK[a.state], -a.started_at), default=None)


def status_cards(snap: Snapshot, rules: Sequence[Rule], silenced: Collection[str] = ()) -> list[CardFigures]:
    """Numbers and state for each card, agreeing with the alerts.

    The big number is what the card's firing or pending alert judges (its value over its rule's window) and
    normal is that alert's expectation; without an alert, the last closed minute against the rule's (or the
    last hour's) normal. The open minute is shown as such, never as the big number. ``silenced``: ids of the
    alerts (open or recent) a silence covers, the same marks the alerts panel shows.
    """
    n = len(snap.minutes)
    feed = snap.feeds.get(STATUS_FEED)
    received = snap.received.get(STATUS_FEED, ())
    windows = {r.id: int(getattr(r, "window", 1)) for r in rules}
    open_alerts = [a for a in snap.open_alerts if a.state in STATE_RANK]
    stale = (feed is not None and feed.silent_seconds is not None and feed.silent_seconds > STALE_SECONDS)
    # The last closed minute: the feed's watermark; without one, every minute is still open.
    closed_i: int | None = n - 2 if n >= 2 else None
    if feed is not None:
        closed_i = None if feed.closed_through is None or snap.start_minute is None else feed.closed_through - snap.start_minute
    if closed_i is not None and not 0 <= closed_i < n:
        closed_i = n - 1 if closed_i >= n else None
    outage = feed_outage(snap, None if closed_i is None else snap.minutes[closed_i], silenced)
    since = since_text(outage if outage is not None else feed.newest_minute if feed else None, snap.taken_at)
    open_i = n - 1 if n and (closed_i is None or closed_i < n - 1) else None
    closed_total = sum(snap.counts.get(status_metric(s), (0,) * n)[closed_i] for s in snap.statuses) if closed_i is not None else 0
    cards = []
    for status in snap.statuses:
        metric = status_metric(status)
        column = snap.counts.get(metric, (0,) * n)
        # A closed minute the feed sent nothing for is no count ("–"), not a green 0.
        closed = column[closed_i] if closed_i is not None and (not received or received[closed_i]) else None
        mine = [a for a in open_alerts if _panel_key(a.metric) == metric]
        alert = _judging_alert(mine, silenced)
        if alert is not None:
            value: float | None = alert.value
            window: int | None = windows.get(alert.rule, 1)
            baseline, name = alert.expected, "expected"
            share = split_metric(alert.metric)[0] == "rate"
            state = "silenced" if alert.id in silenced else alert.state
        else:
            value, window, share, state = closed, None, False, NORMAL
            baseline, name = _minute_normal(snap, rules, metric, closed_i)
        if outage is not None:
            state = "outage"
        elif stale and state == NORMAL:  # an alert on the card says more than the silence does
            state = "stale"
        cards.append(CardFigures(
            status=status, value=value, window=window,
            open_count=column[open_i] if open_i is not None else None,
            rate=(closed / closed_total) if closed is not None and closed_total else None,
            baseline=baseline, baseline_name=name, state=state, share=share, since=since,
        ))
    return cards


def recent_rows(snap: Snapshot, limit: int = 10) -> list[MinuteRow]:
    """The newest minutes, newest first; a minute past the feed's closed point is marked open."""
    if snap.end_minute is None:
        return []
    closed = snap.feeds[STATUS_FEED].closed_through if STATUS_FEED in snap.feeds else None
    status_seen = snap.received.get(STATUS_FEED, ())
    code_seen = snap.received.get(AUTH_CODE_FEED, ())
    rows = []
    n = len(snap.minutes)
    for back in range(1, min(limit, n) + 1):
        i = n - back
        minute = snap.minutes[i]
        counts = {s: snap.counts[status_metric(s)][i] for s in snap.statuses} if status_seen and status_seen[i] else None
        codes = {c: snap.counts[auth_code_metric(c)][i] for c in snap.auth_codes} if code_seen and code_seen[i] else None
        rows.append(MinuteRow(plotly_time(minute).replace(" ", "T") + "Z", counts, codes,
                              open=closed is None or minute > closed))
    return rows
