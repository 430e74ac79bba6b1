"""The charts filtered to one slice (issue 12): a snapshot whose counts are that slice's, and its alerts only.

The refresh draws the charts from whatever snapshot it is handed; for a slice it is handed a copy of the
page's snapshot with ``monitor.slice_counts(key, minutes)`` laid on its minutes (a minute the slice has no
count for is 0 when the feed sent that minute: the slice had none of it), no global alert lines (the
global rules' bounds say nothing about one acquirer's counts), and the slice's own alert episodes shaded
on their base metric's panel. The cards, tables and alerts panel keep the whole traffic's snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from components.breakdown import slice_label
from detection import Alert, Snapshot

SLICE_MARK = "@"


class NoLines:
    """Bands for a filtered chart: no alert line, no normal (``callbacks.bands.SnapshotBands``' interface)."""

    def lines(self, metric: str, minutes: range) -> tuple[None, None, None]:
        return None, None, None


def aligned_counts(found: Mapping[str, Any], snap: Snapshot) -> dict[str, tuple[int, ...]]:
    """The slice's counts per metric of ``snap``, one per minute of ``snap`` (0 where the slice has none)."""
    n = len(snap.minutes)
    start = found.get("start_minute")
    counts: Mapping[str, Sequence[int]] = found.get("counts") or {}
    out: dict[str, tuple[int, ...]] = {}
    for metric in snap.counts:
        column = [0] * n
        values = counts.get(metric)
        if values is not None and start is not None and snap.start_minute is not None:
            offset = int(start) - snap.start_minute
            for i, value in enumerate(values):
                if 0 <= offset + i < n:
                    column[offset + i] = int(value)
        out[metric] = tuple(column)
    return out


def slice_alerts(alerts: Sequence[Alert], key: str) -> list[Alert]:
    """The alerts of slice ``key`` (metric ``status:denied@acquirer=acq-07``), named by their base metric so
    the chart shades them on that metric's panel."""
    mark = SLICE_MARK + key
    out = []
    for alert in alerts:
        if alert.metric.endswith(mark):
            shown = alert.copy()
            shown.metric = alert.metric[: -len(mark)]
            out.append(shown)
    return out


def sliced_snapshot(snap: Snapshot, found: Mapping[str, Any]) -> Snapshot:
    """``snap`` with the slice's counts in place of the whole traffic's (same minutes and feeds). Minutes before
    the slice's read starts (the engine keeps slices for its window only) are no data, drawn as a gap, not 0."""
    start = found.get("start_minute")
    received = snap.received
    if snap.start_minute is not None and (start is None or int(start) > snap.start_minute):
        cut = len(snap.minutes) if start is None else min(len(snap.minutes), int(start) - snap.start_minute)
        received = MappingProxyType({feed: (False,) * cut + tuple(marks[cut:]) for feed, marks in snap.received.items()})
    return replace(snap, counts=MappingProxyType(aligned_counts(found, snap)), received=received)


def mark_filtered(figure: dict, key: str) -> dict:
    """Say on the chart itself which slice it shows (the auth-code chart is far below the chip)."""
    figure["layout"]["annotations"].append({
        "text": f"<b>{slice_label(key)} only</b>", "xref": "paper", "yref": "paper", "x": 0.5, "y": 1.0,
        "xanchor": "center", "yanchor": "bottom", "showarrow": False, "bgcolor": "#e7f1ff",
        "font": {"size": 11, "color": "#0a3f8f"},
    })
    return figure
