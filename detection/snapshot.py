"""What readers get from the Monitor: immutable copies of the recent minutes, alerts and feed health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .alerts import Alert
from .incidents import Incident
from .metrics import epoch_to_iso, minute_to_iso


@dataclass(frozen=True)
class FeedStatus:
    feed: str
    newest_minute: int | None
    closed_through: int | None
    last_received_wall: float | None
    silent_seconds: float | None
    no_data_alert: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "newest_event_time": minute_to_iso(self.newest_minute),
            "closed_through": minute_to_iso(self.closed_through),
            "last_received_at": epoch_to_iso(self.last_received_wall),
            "silent_seconds": None if self.silent_seconds is None else round(self.silent_seconds, 1),
            "no_data": self.no_data_alert,
        }


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy for readers: minutes ``start..end`` (inclusive), open alerts, rules, feeds."""

    start_minute: int | None
    end_minute: int | None
    counts: Mapping[str, tuple[int, ...]]
    received: Mapping[str, tuple[bool, ...]]
    open_alerts: tuple[Alert, ...]
    recent_alerts: tuple[Alert, ...]
    rules: tuple[dict[str, Any], ...]
    feeds: Mapping[str, FeedStatus]
    statuses: tuple[str, ...]
    auth_codes: tuple[str, ...]
    taken_at: float = field(default=0.0)
    open_incidents: tuple[Incident, ...] = ()  # copies, newest first

    @property
    def minutes(self) -> range:
        if self.start_minute is None or self.end_minute is None:
            return range(0)
        return range(self.start_minute, self.end_minute + 1)
