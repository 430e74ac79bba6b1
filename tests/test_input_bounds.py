"""Input domains of issue 8: timestamps 1970..now+5 min, counts with ceilings, gaps of any length at the cost of a short
one, and stores written by older versions (out-of-range times) read without a 500."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest

from app import create_app
from detection import Monitor, MonitorSettings, RecordValidationError, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES, minute_to_iso
from detection.records import MAX_MINUTE_COUNT, MAX_RECORD_COUNT, parse_timestamp
from detection.rules import ThresholdRule
from detection.thresholds import Thresholds

from .support import START_MINUTE, timestamp

NOW = 1_790_000_000.0  # the FakeClock's wall time (2026-09)
NOW_MINUTE = int(NOW // 60)


def repr_id(value) -> str:
    # A control character reads <x85>, not \x85: pytest escapes the backslash in the id, and an escaped id
    # given back by name (as mutmut does, in one process) is "not found".
    text = re.sub(r"\\(x[0-9a-f]{2}|[nrt])", r"<\1>", repr(value))
    return text if len(text) < 30 else text[:12] + f"...({len(text)} chars)"


def refused(payload, feed="status", now=NOW) -> RecordValidationError:
    with pytest.raises(RecordValidationError) as caught:
        validate_records(payload, feed, DEFAULT_STATUSES if feed == "status" else DEFAULT_AUTH_CODES, now=now)
    return caught.value


def record(**fields):
    return {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 1, **fields}


# ---------------------------------------------------------------- timestamps (findings 1, 2, 6)

@pytest.mark.parametrize("value", [
    "1900-01-01 00:00:00", "1969-12-31 23:59:59", "0001-01-01T00:00:00+14:00", -1, -60, -1e15, -1e300, -(10**400),
], ids=repr_id)
def test_a_timestamp_before_1970_is_refused_naming_the_accepted_range(value):
    error = refused([record(), record(timestamp=value)])
    assert [(e.index, e.field) for e in error.errors] == [(1, "timestamp")]
    assert "before 1970-01-01T00:00:00Z" in error.errors[0].message
    assert "from 1970-01-01T00:00:00Z up to" in error.errors[0].message


@pytest.mark.parametrize("value", ["9999-12-31 23:59:59", "9999-12-31T23:59:59-14:00", 1e300, 10**400, NOW + 360], ids=repr_id)
def test_a_timestamp_after_now_plus_5_minutes_is_refused_naming_the_accepted_range(value):
    error = refused(record(timestamp=value))
    assert [(e.index, e.field) for e in error.errors] == [(None, "timestamp")]
    latest = minute_to_iso(int((NOW + 300) // 60))
    assert f"from 1970-01-01T00:00:00Z up to {latest} (now + 5 minutes)" in error.errors[0].message


def test_the_ends_of_the_time_domain_are_accepted():
    edges = [record(timestamp="1970-01-01 00:00:00"), record(timestamp=0), record(timestamp=NOW + 300),
             record(timestamp="1970-01-01T01:00:00+01:00")]
    assert [r.minute for r in validate_records(edges, "status", DEFAULT_STATUSES, now=NOW)] == [0, 0, int((NOW + 300) // 60), 0]


@pytest.mark.parametrize(("value", "words"), [
    ("2025-07-12 13:45:00\x00", "control character"),  # finding 6: was accepted
    ("\x002025-07-12 13:45:00", "control character"),
    ("2025-07-12 13:45:00\n", "control character"),
    ("2025-07-12\x1f13:45:00", "control character"),
    ("2025-07-12 13:45:00\x85", "control character"),
    ("2025-07-12 13:45:00" + " " * 46, "at most 64"),
    ("2" * 100_000, "at most 64"),
], ids=repr_id)
def test_a_malformed_timestamp_string_is_refused(value, words):
    error = refused([record(), record(timestamp=value)])
    assert [(e.index, e.field) for e in error.errors] == [(1, "timestamp")]
    assert words in error.errors[0].message
    assert len(str(error)) < 300  # the client's value is not echoed whole


def test_parse_timestamp_refuses_before_1970_for_every_way_in():
    with pytest.raises(ValueError, match="before 1970"):
        parse_timestamp("1900-01-01 00:00:00")  # the --replay reader uses it too
    assert parse_timestamp("2025-07-12T13:45:00Z") == START_MINUTE + 13 * 60 + 45


# ---------------------------------------------------------------- counts (finding 4)

@pytest.mark.parametrize("count", [10**30, 2**63, 2**53, MAX_RECORD_COUNT + 1], ids=repr_id)
def test_a_count_over_the_per_record_ceiling_is_refused(count):
    error = refused([record(), record(count=count)], now=NOW)
    assert [(e.index, e.field) for e in error.errors] == [(1, "count")]
    assert "at most 1,000,000" in error.errors[0].message


def test_the_per_record_ceiling_itself_is_accepted():
    assert validate_records(record(count=MAX_RECORD_COUNT), "status", DEFAULT_STATUSES, now=NOW)[0].count == MAX_RECORD_COUNT


def full_batch(minute: int, status: str, records: int, count: int = MAX_RECORD_COUNT):
    return validate_records([{"timestamp": timestamp(minute), "status": status, "count": count}] * records,
                            "status", DEFAULT_STATUSES, now=NOW)


def test_a_minute_cannot_pass_the_ceiling_with_what_memory_holds_or_within_one_batch(clock, backend):
    monitor = Monitor(load_thresholds(), backend.store(), clock=clock)
    minute = START_MINUTE + 100
    monitor.ingest(full_batch(minute, "refunded", 9) + full_batch(minute, "refunded", 1, MAX_RECORD_COUNT - 1))
    rows = monitor.store.count_rows("minute_counts")
    # one more on top of what memory holds
    with pytest.raises(RecordValidationError) as caught:
        monitor.ingest(full_batch(minute, "refunded", 1, 2))
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, "count")]
    assert "10,000,001" in str(caught.value) and "at most 10,000,000" in str(caught.value)
    # eleven records of one batch in a fresh minute: the eleventh is named
    with pytest.raises(RecordValidationError) as caught:
        monitor.ingest(full_batch(minute + 1, "reversed", 11))
    assert [(e.index, e.field) for e in caught.value.errors] == [(10, "count")]
    # nothing of the refused batches is in memory or in the store
    assert monitor.series.count("status:reversed", minute + 1) == 0
    assert monitor.store.count_rows("minute_counts") == rows
    # exactly at the ceiling is fine, in another metric of the same minute too
    monitor.ingest(full_batch(minute, "refunded", 1, 1) + full_batch(minute, "approved", 10))
    assert monitor.series.count("status:refunded", minute) == MAX_MINUTE_COUNT
    # the ceiling holds after a restart: memory is rebuilt from the store
    again = Monitor(load_thresholds(), backend.store(), clock=clock)  # reopened on the same database
    with pytest.raises(RecordValidationError):
        again.ingest(full_batch(minute, "approved", 1, 1))
    again.ingest(full_batch(minute + 2, "approved", 1, 1))
    assert again.series.count("status:approved", minute) == MAX_MINUTE_COUNT


def test_a_record_older_than_the_memory_window_is_refused_so_every_count_is_checked_in_memory(clock, backend):
    monitor = Monitor(load_thresholds(), backend.store(), MonitorSettings(window_minutes=60, retention_minutes=120), clock=clock)
    monitor.ingest(full_batch(START_MINUTE + 100, "approved", 1, 5))
    monitor.ingest(full_batch(START_MINUTE + 41, "approved", 1, 5))  # the oldest minute of the window
    with pytest.raises(RecordValidationError) as caught:
        monitor.ingest(full_batch(START_MINUTE + 100, "approved", 1, 5) + full_batch(START_MINUTE + 40, "approved", 1, 5))
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, "timestamp")]
    assert "older than the newest event" in str(caught.value) and minute_to_iso(START_MINUTE + 41) in str(caught.value)
    assert monitor.series.count("status:approved", START_MINUTE + 100) == 5



@pytest.mark.parametrize(("window", "window_text"), [(60, "60 minutes"), (1441, "1441 minutes"), (2880, "2 days")])
def test_admission_names_each_refused_record_with_the_window_and_the_ceiling_in_words(clock, backend, window,
                                                                                      window_text):
    """Both of Admission's refusals, word for word, in one batch: a record older than the window (the window in
    days when it is whole days, else in minutes; the newest event and the oldest accepted minute) and one that
    would take a minute past the ceiling. Every other record of the batch is fine and nothing is kept."""
    monitor = Monitor(load_thresholds(), backend.store(),
                      MonitorSettings(window_minutes=window, retention_minutes=2 * window), clock=clock)
    newest = START_MINUTE + window + 100
    keep_from = newest - window + 1
    monitor.ingest(full_batch(newest, "approved", 1, 5) + full_batch(keep_from, "refunded", 9)
                   + full_batch(keep_from, "refunded", 1, MAX_RECORD_COUNT - 3))
    batch = (full_batch(newest, "approved", 1, 7) + full_batch(keep_from - 1, "approved", 1, 1)
             + full_batch(keep_from, "refunded", 1, 2) + full_batch(keep_from, "refunded", 1, 2))
    with pytest.raises(RecordValidationError) as caught:
        monitor.ingest(batch)
    assert [e.to_dict() for e in caught.value.errors] == [
        {"index": 1, "field": "timestamp", "message": (
            f"{minute_to_iso(keep_from - 1)} is more than {window_text} older than the newest event "
            f"({minute_to_iso(newest)}); minutes from {minute_to_iso(keep_from)} on are accepted (MONITOR_WINDOW_DAYS)")},
        {"index": 3, "field": "count", "message": (
            f"would bring status:refunded at {minute_to_iso(keep_from)} to {MAX_MINUTE_COUNT + 1:,}; a minute holds "
            f"at most {MAX_MINUTE_COUNT:,} per metric")},
    ]
    assert caught.value.total_errors == 2
    assert monitor.series.count("status:approved", newest) == 5
    assert monitor.series.count("status:refunded", keep_from) == MAX_MINUTE_COUNT - 3
    # the same minute up to exactly the ceiling, in two records of one batch, is accepted and adds up
    monitor.ingest(full_batch(keep_from, "refunded", 2, 1) + full_batch(keep_from, "refunded", 1, 1))
    assert monitor.series.count("status:refunded", keep_from) == MAX_MINUTE_COUNT


# ---------------------------------------------------------------- gaps of any length (finding 2)

class CountingRule(ThresholdRule):
    """A threshold rule that records every minute it is asked about."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.judged: list[int] = []
        self.scanned = 0

    def judge(self, view, minute):
        self.judged.append(minute)
        return super().judge(view, minute)

    def first_breach(self, view, minutes, start):
        self.scanned += len(minutes) - start
        return super().first_breach(view, minutes, start)


class CountingSet(set):
    """The received minutes of a feed, counting look-ups: a walk over a gap minute by minute would show here."""

    lookups = 0

    def __contains__(self, minute):
        self.lookups += 1
        return super().__contains__(minute)


def counting_monitor(clock, backend):
    rule = CountingRule(rule_id="failed_any", metric="status:failed", direction="above", threshold=0)
    monitor = Monitor(Thresholds(rules=(rule,)), backend.store(), clock=clock)
    monitor.series.received["status"] = received = CountingSet()
    return monitor, rule, received


def post_at(monitor, seconds: float, count: int = 1):
    records = validate_records({"timestamp": seconds, "status": "failed", "count": count}, "status", DEFAULT_STATUSES, now=NOW)
    return monitor.ingest(records)


def test_a_gap_from_1970_to_now_is_one_feed_gap_found_without_walking_it(clock, backend):
    monitor, rule, received = counting_monitor(clock, backend)
    post_at(monitor, 60)  # 1970-01-01T00:01 on a feed that never had data
    post_at(monitor, NOW)
    gaps = [a for a in monitor.alerts("all") if a.rule == "feed_gap"]
    assert [(a.started_at, a.value) for a in gaps] == [(2, NOW_MINUTE - 2)]
    assert gaps[0].resolved_at == NOW_MINUTE
    assert received.lookups <= 2  # the 29 million missing minutes were never visited one by one
    # The monitor judges minutes 1 and now; the incident tracker judges each member alert's last breach
    # once more (which minutes the breach rests on). Never a minute of the gap.
    members = [a for a in monitor.alerts("all") if a.rule == "failed_any"]
    assert rule.scanned + len(rule.judged) <= 4 + len(members) and set(rule.judged) <= {1, NOW_MINUTE}
    # memory holds the window back from the newest event, not 1970
    held = monitor.series.counts["status:failed"]
    assert min(held) > NOW_MINUTE - monitor.settings.window_minutes and min(received) == NOW_MINUTE


def test_now_then_1970_is_refused_as_older_than_the_window_and_changes_nothing(clock, backend):
    monitor, rule, received = counting_monitor(clock, backend)
    post_at(monitor, NOW)
    rows = monitor.store.count_rows("minute_counts")
    with pytest.raises(RecordValidationError) as caught:
        post_at(monitor, 60)
    assert caught.value.errors[0].field == "timestamp"
    assert monitor.store.count_rows("minute_counts") == rows and set(received) == {NOW_MINUTE}
    assert [a for a in monitor.alerts("all") if a.rule == "feed_gap"] == []


def test_a_batch_with_a_gap_judges_only_received_minutes(clock, backend):
    monitor, rule, received = counting_monitor(clock, backend)
    batch = [{"timestamp": t, "status": "failed", "count": 0} for t in (NOW - 3 * 86400, NOW - 86400, NOW)]
    monitor.ingest(validate_records(batch, "status", DEFAULT_STATUSES, now=NOW))
    first, second = int((NOW - 3 * 86400) // 60), int((NOW - 86400) // 60)
    gaps = sorted((a.started_at, a.value) for a in monitor.alerts("all") if a.rule == "feed_gap")
    assert gaps == [(first + 1, second - first - 1), (second + 1, NOW_MINUTE - second - 1)]
    assert received.lookups <= 3 and rule.scanned <= 2


def test_a_far_past_first_record_then_now_is_served_after_a_restart(backend):
    app = backend.app()
    client = app.server.test_client()
    now = time.time()
    assert client.post("/api/transaction", json={"timestamp": "1970-01-01 00:01:00", "status": "failed", "count": 1}).status_code == 201
    assert client.post("/api/transaction", json={"timestamp": now, "status": "failed", "count": 1}).status_code == 201
    again = backend.app().server.test_client()
    assert again.get("/api/health").status_code == 200
    gaps = [a for a in again.get("/api/alerts").get_json()["alerts"] if a["rule"] == "feed_gap"]
    assert [(g["started_at"], g["value"]) for g in gaps] == [("1970-01-01T00:02:00Z", int(now // 60) - 2)]


# SQLite only: stores written before the bounds are SQLite files; the PostgreSQL store came after them.
def test_a_store_written_before_the_bounds_is_read_without_a_500(db_path):
    """What the old code let in (a watermark in year -31686769, a gap alert of 1e13 minutes, a silence ending in 1e300)."""
    create_app({"db": db_path})  # creates the tables
    huge_past = int(-1e15 // 60)
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('feeds', ?)",
                     (json.dumps({"auth_code": {"watermark": huge_past, "closed_through": huge_past, "no_data_id": None}}),))
        conn.execute("INSERT INTO alerts (id, rule, rule_type, metric, severity, state, started_at, fired_at, resolved_at, "
                     "last_breach_at, value, threshold, expected, message, labels) VALUES "
                     "('gap', 'feed_gap', 'feed_gap', 'feed:auth_code', 'warning', 'resolved', ?, ?, ?, ?, 1e13, 0, NULL, 'gap', '{}')",
                     (huge_past, huge_past, 10**12, 10**12))
        conn.execute("INSERT INTO silences VALUES ('s1', '{\"rule\": \"x\"}', 0, 1e300, 0, 'ana', '')")
        conn.execute("INSERT INTO silences VALUES ('s2', 'not json', 0, 1e9, 0, 'ana', '')")
    conn.close()
    client = create_app({"db": db_path}).server.test_client()
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.get_json()["feeds"]["auth_code"]["newest_event_time"] == "0001-01-01T00:00:00Z"
    alerts = client.get("/api/alerts")
    assert alerts.status_code == 200
    assert alerts.get_json()["alerts"][0]["resolved_at"] == "9999-12-31T23:59:00Z"
    silences = client.get("/api/silences")
    assert silences.status_code == 200
    assert [(s["id"], s["ends_at"]) for s in silences.get_json()["silences"]] == [("s1", "9999-12-31T23:59:00Z")]


def test_many_large_counts_in_different_minutes_are_all_accepted(clock, backend):
    """The quick bound on what memory holds grows with every batch; near the ceiling it is measured again, never refusing wrongly."""
    monitor = Monitor(load_thresholds(), backend.store(), clock=clock)
    for n in range(25):
        monitor.ingest(full_batch(START_MINUTE + n, "approved", 1))
    assert [monitor.series.count("status:approved", START_MINUTE + n) for n in range(25)] == [MAX_RECORD_COUNT] * 25
    monitor.ingest(full_batch(START_MINUTE + 24, "approved", 9))
    with pytest.raises(RecordValidationError):
        monitor.ingest(full_batch(START_MINUTE + 24, "approved", 1, 1))


# SQLite only: the counting store is a subclass of one backend's store; which backend does not change when the
# engine reloads its memory (monitor.py decides that).
class CountingLoads(Store):
    """A real store that counts how often the engine rebuilds its memory from it (``meta`` is read once a load)."""

    loads = 0

    def meta(self):
        self.loads += 1
        return super().meta()


def test_a_refused_batch_leaves_memory_trusted_so_the_next_request_does_not_reload_it(clock, tmp_path):
    store = CountingLoads(str(tmp_path / "m.db"))
    monitor = Monitor(load_thresholds(), store, clock=clock)
    minute = START_MINUTE + 100
    monitor.ingest(full_batch(minute, "refunded", 10))
    loads = store.loads
    with pytest.raises(RecordValidationError):
        monitor.ingest(full_batch(minute, "refunded", 1, 1))  # over the per-minute ceiling: 422
    monitor.ingest(full_batch(minute + 1, "approved", 1, 5))
    assert store.loads == loads  # a 422 changed nothing, so nothing was rebuilt
    assert monitor.series.count("status:approved", minute + 1) == 5
    store.close()
