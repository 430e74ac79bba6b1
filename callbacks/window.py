"""The time window both charts show: follow the newest minutes, or a window pinned by a zoom, a date range or an incident.

The window lives in one store (``ids.VIEW_WINDOW``): ``None`` follows the newest
minutes of the chosen range; ``[from, to]`` (Plotly's date strings, UTC) pins
it. Every refresh draws both charts over the same window, so a zoom in one chart
moves the other (at once, by a clientside Patch, and again at the next refresh),
and a refresh never resets a window someone dragged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from components.charts import RANGES

MINUTE_S = 60
INCIDENT_PAD_MIN = 15  # minutes shown before and after an incident, at least
ABSOLUTE_FORMAT = "YYYY-MM-DD HH:MM"


@dataclass(frozen=True)
class Window:
    """A pinned window: Plotly's two date strings, and the same as epoch minutes (fractional: a zoom is not
    minute-aligned)."""

    start_text: str
    end_text: str
    start: float
    end: float


def _minutes(text: str) -> float:
    """Epoch minutes of a Plotly date string ('2025-07-12 13:45:12.5'); a naive time is UTC, as everywhere."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / MINUTE_S


def parse_window(data: object) -> Window | None:
    """The store's value as a Window; anything else (None, a forged or broken value) means: follow live."""
    if not isinstance(data, (list, tuple)) or len(data) != 2 or not all(isinstance(v, str) for v in data):
        return None
    try:
        start, end = _minutes(data[0]), _minutes(data[1])
    except (ValueError, OverflowError):
        return None
    if not end > start:
        return None
    return Window(data[0], data[1], start, end)


def plotly_time(minute: float) -> str:
    return datetime.fromtimestamp(minute * MINUTE_S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def span_label(range_label: str, window: Window | None, newest: int | None) -> str:
    """Which range of minutes to read: the chosen one, or a longer one that reaches back to a pinned window's
    start (so a window dragged into older minutes has data). A range label, not a count of minutes, so the
    charts keep their shape from one refresh to the next and can be sent as Patches."""
    chosen = range_label if range_label in RANGES else "6h"
    if window is None or newest is None:
        return chosen
    needed = newest - int(window.start) + 1
    for label, minutes in RANGES.items():
        if minutes >= RANGES[chosen] and minutes >= needed:
            return label
    return max(RANGES, key=RANGES.__getitem__)


def window_text(window: Window | None, range_label: str) -> str:
    if window is None:
        return f"showing the newest {range_label}, following new minutes"
    return f"showing {window.start_text[:16]} to {window.end_text[:16]} UTC (pinned)"


def parse_absolute(text: object, field: str) -> float:
    """A date typed in the page ('2025-07-12 13:45' or '2025-07-12'), UTC, as epoch minutes; a ValueError
    naming the field otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{field}: expected a date and time in UTC, {ABSOLUTE_FORMAT}; got nothing")
    value = text.strip()
    if len(value) > 40:
        raise ValueError(f"{field}: expected {ABSOLUTE_FORMAT} (UTC); got {len(value)} characters")
    try:
        if len(value) == 10:
            value += " 00:00"
        moment = datetime.strptime(value.removesuffix(" UTC"), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"{field}: expected {ABSOLUTE_FORMAT} (UTC); got {text!r}") from None
    return moment.replace(tzinfo=UTC).timestamp() / MINUTE_S


def absolute_window(start_text: object, end_text: object, max_minutes: int) -> list[str]:
    """The store value for a typed date range; ValueError naming the field when it is not one."""
    start = parse_absolute(start_text, "from")
    end = parse_absolute(end_text, "to")
    if end <= start:
        raise ValueError(f"to: must be after from ({plotly_time(start)[:16]} UTC)")
    if end - start > max_minutes:
        raise ValueError(f"to: the charts show at most {max_minutes // 60} h at once; this range is "
                         f"{(end - start) / 60:.0f} h")
    return [plotly_time(start), plotly_time(end)]


def incident_window(started: int, ended: int | None, newest: int | None) -> list[str]:
    """Both charts' window for an incident: its minutes, with a quarter of its length (at least
    ``INCIDENT_PAD_MIN``) before and after, so the normal minutes around it show too."""
    end = ended if ended is not None else max(started + 1, (newest or started) + 1)
    pad = max(INCIDENT_PAD_MIN, (end - started) // 4)
    return [plotly_time(started - pad), plotly_time(end + pad)]


# Zoom, pan or a double-click (back to the whole range) in either chart: the new window goes to the store,
# and to the other chart at once as a Patch of its x range (its panels follow by "matches"). A relayout
# that does not touch the x range (a resize) changes nothing.
LINK_RANGES_JS = """
function (statusRelayout, authRelayout, current) {
    const C = window.dash_clientside;
    const none = [C.no_update, C.no_update, C.no_update];
    const trigger = C.callback_context.triggered_id;
    const data = trigger === '%(status)s' ? statusRelayout : authRelayout;
    if (!data) { return none; }
    let r0, r1, auto = false;
    for (const key of Object.keys(data)) {
        if (/^xaxis[0-9]*\\.range\\[0\\]$/.test(key)) { r0 = data[key]; }
        else if (/^xaxis[0-9]*\\.range\\[1\\]$/.test(key)) { r1 = data[key]; }
        else if (/^xaxis[0-9]*\\.range$/.test(key) && Array.isArray(data[key])) { [r0, r1] = data[key]; }
        else if (/^xaxis[0-9]*\\.autorange$/.test(key) && data[key]) { auto = true; }
    }
    let win;
    if (r0 !== undefined && r1 !== undefined) { win = [String(r0), String(r1)]; }
    else if (auto) { win = null; }
    else { return none; }
    if (JSON.stringify(win) === JSON.stringify(current === undefined ? null : current)) { return none; }
    if (win === null) { return [null, C.no_update, C.no_update]; }
    const patch = new C.Patch().assign(['layout', 'xaxis', 'range'], win).assign(['layout', 'xaxis', 'autorange'], false).build();
    return trigger === '%(status)s' ? [win, C.no_update, patch] : [win, patch, C.no_update];
}
"""

# Pause and resume: max_intervals 0 stops the interval, -1 lets it run. ``disabled`` is not used for this: the
# refresh callback sets it while a refresh is in flight.
PAUSE_JS = """
function (clicks, maxIntervals) {
    const paused = maxIntervals === 0;
    if (!clicks) { return [window.dash_clientside.no_update, window.dash_clientside.no_update, window.dash_clientside.no_update]; }
    return paused ? [-1, 'Pause updates', 'btn btn-sm btn-outline-secondary pause-button']
                  : [0, 'Resume updates', 'btn btn-sm btn-warning pause-button paused'];
}
"""
