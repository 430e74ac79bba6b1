"""Names of the things the monitor counts: feeds, statuses, auth codes and derived rates.

A metric is a string key used everywhere (rules, store, API, dashboard):
``status:failed``, ``auth_code:51`` and ``rate:denied`` (denied / all statuses).
"""

from __future__ import annotations

from datetime import UTC, datetime

from .slices import SLICE_SEPARATOR, slice_words, split_slice

STATUS_FEED = "status"
AUTH_CODE_FEED = "auth_code"
FEEDS = (STATUS_FEED, AUTH_CODE_FEED)

DEFAULT_STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
DEFAULT_AUTH_CODES = ("00", "51", "59")

AUTH_CODE_MEANINGS = {"00": "approved", "51": "insufficient funds", "59": "suspected fraud"}

# What an analyst calls each count (DATA.md): the names alert messages start with.
STATUS_NAMES = {
    "approved": "approvals",
    "denied": "denials",
    "failed": "failed transactions",
    "reversed": "reversals",
    "backend_reversed": "backend reversals",
    "refunded": "refunds",
}
AUTH_CODE_NAMES = {
    "00": "approvals (code 00)",
    "51": "denials (code 51 insufficient funds)",
    "59": "denials (code 59 suspected fraud)",
}
FEED_NAMES = {STATUS_FEED: "transactions", AUTH_CODE_FEED: "auth-code counts"}

RATE_PREFIX = "rate:"


def status_metric(status: str) -> str:
    return f"{STATUS_FEED}:{status}"


def auth_code_metric(code: str) -> str:
    return f"{AUTH_CODE_FEED}:{code}"


def rate_metric(status: str) -> str:
    """Share of all status transactions in a minute that had this status."""
    return f"{RATE_PREFIX}{status}"


def feed_metric(feed: str) -> str:
    """Pseudo-metric that no-data and feed-gap alerts are attached to."""
    return f"feed:{feed}"


def split_metric(metric: str) -> tuple[str, str]:
    kind, _, key = metric.partition(":")
    return kind, key


def feed_of(metric: str) -> str:
    """Which feed's clock judges this metric (rates derive from statuses)."""
    kind, key = split_metric(metric)
    if kind == "feed":
        return key
    return AUTH_CODE_FEED if kind == AUTH_CODE_FEED else STATUS_FEED


def metric_label(metric: str) -> str:
    """A readable name for people: 'failed', 'auth code 51 (insufficient funds)', 'denied at acquirer acq-07'."""
    if SLICE_SEPARATOR in metric:
        base, key = split_slice(metric)
        return f"{metric_label(base)} at {slice_words(key)}"
    kind, key = split_metric(metric)
    if kind == STATUS_FEED:
        return key
    if kind == AUTH_CODE_FEED:
        meaning = AUTH_CODE_MEANINGS.get(key)
        return f"auth code {key}" + (f" ({meaning})" if meaning else "")
    if kind == "rate":
        return f"{key} share of total"
    if kind == "feed":
        return f"{key.replace('_', '-')} feed"
    return metric


def metric_name(metric: str) -> str:
    """What an analyst calls a metric, in lower case: 'failed transactions', 'denied share'.

    Statuses and codes a configuration adds without a name read as 'processing transactions', 'auth code 05';
    a slice's reads 'denials at acquirer acq-07'.
    """
    if SLICE_SEPARATOR in metric:
        base, key = split_slice(metric)
        return f"{metric_name(base)} at {slice_words(key)}"
    kind, key = split_metric(metric)
    if kind == STATUS_FEED:
        return STATUS_NAMES.get(key, f"{key.replace('_', ' ')} transactions")
    if kind == AUTH_CODE_FEED:
        return AUTH_CODE_NAMES.get(key, f"auth code {key}")
    if kind == "rate":
        return f"{key.replace('_', ' ')} share"
    if kind == "feed":
        return FEED_NAMES.get(key, f"{key.replace('_', ' ')} data")
    return metric


# Time: every minute is an integer count of minutes since the Unix epoch, UTC.
# Input is bounded (1970 to now), but a store written by an older version may hold any value:
# a time outside what datetime can represent (years 1-9999) is shown as the nearest end of that range.
_FIRST_SECOND = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
_LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, tzinfo=UTC).timestamp())


def _clamped(seconds: float) -> datetime:
    if not seconds >= _FIRST_SECOND:  # also NaN
        seconds = _FIRST_SECOND
    elif seconds > _LAST_SECOND:
        seconds = _LAST_SECOND
    return datetime.fromtimestamp(seconds, tz=UTC)


def minute_to_datetime(minute: int) -> datetime:
    return _clamped(minute * 60)


def minute_to_iso(minute: int | None) -> str | None:
    if minute is None:
        return None
    return _iso(minute_to_datetime(minute))


def epoch_to_iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return _iso(_clamped(seconds))


def _iso(moment: datetime) -> str:
    # isoformat, unlike strftime's %Y, always writes four digits for the year
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def datetime_to_minute(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 60)
