"""Documented behaviour at its edges, from both sides: the close grace, for/resolve counts, windows, limits.

Written against mutants that survived the rest of the suite (docs/notes/mutation.md): each test
pins one boundary the README states, one step inside and one step outside it.
"""

from __future__ import annotations

import pytest

from detection import MonitorSettings, Store, validate_records
from detection.metrics import DEFAULT_STATUSES

from .support import START_MINUTE as T0
from .support import timestamp
from .test_monitor import NOW, make_monitor

APPROVED_LOW = {"id": "approved_low", "type": "threshold", "metric": "status:approved", "direction": "below",
                "threshold": 50, "for": 1, "resolve": 2}


def post(monitor, minute, **counts):
    counts = {"approved": 100, **counts}
    records = [{"timestamp": timestamp(T0 + minute), "status": s, "count": c} for s, c in counts.items()]
    return monitor.ingest(validate_records(records, "status", DEFAULT_STATUSES, now=NOW)).alerts


def _fired_after(backend, clock, seconds: float, grace: float | None = None) -> bool:
    """Post a low minute 1 (a lower bound judges closed minutes only), let ``seconds`` of wall clock pass, tick."""
    settings = MonitorSettings(window_minutes=600, retention_minutes=1200)
    if grace is not None:
        settings = MonitorSettings(window_minutes=600, retention_minutes=1200, close_grace_seconds=grace)
    monitor = make_monitor(backend, clock, rules=(APPROVED_LOW,), settings=settings, no_data=0)
    post(monitor, 0)
    post(monitor, 1, approved=10)
    assert monitor.alerts("all") == []  # minute 1 is open: more may come
    clock.advance(seconds)
    return [(t.kind, t.alert.rule) for t in monitor.tick()] == [("firing", "approved_low")]


@pytest.mark.parametrize(("seconds", "closed"), [(60 + 29, False), (60 + 29.9, False), (60 + 30, True), (60 + 31, True)])
def test_the_wall_clock_closes_a_minute_a_minute_and_30_s_after_it_was_first_seen(backend, clock, seconds, closed):
    assert _fired_after(backend, clock, seconds) is closed


@pytest.mark.parametrize(("seconds", "closed"), [(60 + 4, False), (60 + 6, True)])
def test_the_close_grace_is_the_setting(backend, clock, seconds, closed):
    assert _fired_after(backend, clock, seconds, grace=5.0) is closed


def test_the_grace_runs_from_when_the_minute_was_first_seen_not_from_its_last_post(backend, clock):
    monitor = make_monitor(backend, clock, rules=(APPROVED_LOW,), no_data=0)
    post(monitor, 0)
    post(monitor, 1, approved=5)
    clock.advance(50)
    post(monitor, 1, approved=5)  # more of the same minute: its clock does not restart
    clock.advance(41)  # 91 s after minute 1 was first seen, 41 s after its last post
    assert [(t.kind, t.alert.rule) for t in monitor.tick()] == [("firing", "approved_low")]


def test_repeated_ticks_inside_the_grace_never_close_the_minute(backend, clock):
    monitor = make_monitor(backend, clock, rules=(APPROVED_LOW,), no_data=0)
    post(monitor, 0)
    post(monitor, 1, approved=10)
    for _ in range(8):
        clock.advance(11)  # 88 s in all
        assert monitor.tick() == []
    clock.advance(3)
    assert [t.alert.rule for t in monitor.tick()] == ["approved_low"]


def test_a_closed_minute_is_judged_once_and_a_later_minute_waits_for_its_own_grace(backend, clock):
    monitor = make_monitor(backend, clock, rules=(APPROVED_LOW,), no_data=0)
    post(monitor, 0)
    post(monitor, 1)
    clock.advance(91)
    assert monitor.tick() == []  # minute 1 closed, clean
    post(monitor, 2, approved=10)
    clock.advance(89)
    assert monitor.tick() == []
    clock.advance(2)
    assert [t.alert.rule for t in monitor.tick()] == ["approved_low"]



FAILED_FAST = {"id": "failed_high", "type": "threshold", "metric": "status:failed", "direction": "above",
               "threshold": 2, "for": 1, "resolve": 2}


def test_an_alert_keeps_the_worst_value_of_its_episode_not_the_latest(backend, clock):
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,))
    post(monitor, 0)
    for minute, failed in enumerate((5, 9, 4, 6), start=1):
        post(monitor, minute, failed=failed)
    post(monitor, 5)
    (alert,) = monitor.alerts("firing")
    assert alert.value == 9
    assert "9/min" in alert.message
    post(monitor, 6)
    post(monitor, 7)
    (resolved,) = monitor.alerts("resolved")
    assert resolved.value == 9 and resolved.last_breach_at == T0 + 4


def test_a_below_rule_keeps_the_lowest_value(backend, clock):
    monitor = make_monitor(backend, clock, rules=(APPROVED_LOW,))
    for minute, approved in enumerate((100, 30, 10, 40, 20, 100)):
        post(monitor, minute, approved=approved)
    (alert,) = monitor.alerts("firing")
    assert alert.value == 10


def test_retention_keeps_an_alert_still_open_however_old_its_start(backend, clock):
    """Open alerts are kept (README, storage): an episode firing for longer than the retention stays stored."""
    settings = MonitorSettings(window_minutes=60, retention_minutes=60)
    store = backend.store()
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,), store=store, settings=settings)
    for minute in range(3):
        post(monitor, minute, failed=5)
    post(monitor, 3)
    post(monitor, 4)
    post(monitor, 5)  # the first episode resolves at minute 5
    for minute in range(6, 300):
        post(monitor, minute, failed=5)  # the second starts at minute 6 and never ends
    monitor.prune_store()
    stored = {(a.state, a.started_at) for a in store.alerts(None)}
    assert stored == {("firing", T0 + 6)}
    assert [a.started_at for a in monitor.alerts("firing")] == [T0 + 6]


@pytest.mark.parametrize("missing", [1, 2, 5])
def test_a_feed_gap_of_any_length_is_one_alert_over_exactly_the_missing_minutes(backend, clock, missing):
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,))
    post(monitor, 0)
    post(monitor, 1)
    after = 2 + missing
    alerts = post(monitor, after)
    # A gap is over when it is seen: it fires and resolves in the same request.
    gaps = [(a["metric"], a["state"], a["value"]) for a in alerts if a["rule"] == "feed_gap"]
    assert gaps == [("feed:status", "firing", missing), ("feed:status", "resolved", missing)]
    (gap,) = [a for a in monitor.alerts("all") if a.rule == "feed_gap"]
    assert (gap.started_at, gap.last_breach_at, gap.resolved_at) == (T0 + 2, T0 + after - 1, T0 + after)
    span = "00:02" if missing == 1 else f"00:02 to 00:0{after - 1}"
    assert gap.message == f"No transactions received for {missing} min ({span} UTC)"
    assert gap.detail == (f"event-time minutes 2025-07-12T00:02:00Z to 2025-07-12T00:0{after - 1}:00Z missing from "
                          "the status feed while later minutes arrived; they were not judged")


def test_consecutive_minutes_make_no_feed_gap(backend, clock):
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,))
    for minute in range(5):
        post(monitor, minute)
    assert [a.rule for a in monitor.alerts("all")] == []


def test_duration_counts_the_minutes_of_an_episode(backend, clock):
    """Open: first to last breaching minute, both included; resolved: from start to resolution."""
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,))
    post(monitor, 0)
    for minute in (1, 2, 3):
        post(monitor, minute, failed=5)
    post(monitor, 4)
    (open_alert,) = monitor.alerts("firing")
    assert open_alert.to_dict()["duration_minutes"] == 3
    post(monitor, 5)
    post(monitor, 6)
    (resolved,) = monitor.alerts("resolved")
    assert resolved.to_dict()["resolved_at"] == timestamp(T0 + 6).replace(" ", "T") + "Z"
    assert resolved.to_dict()["duration_minutes"] == 5


def test_a_no_data_alert_says_since_when_and_for_how_long_and_resolves_when_data_returns(backend, clock):
    """no_data after ``after_minutes`` of wall-clock silence; started at the minute after the newest one received."""
    from detection.alerts import alert_id

    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,), no_data=5)
    for minute in range(4):
        post(monitor, minute)
    clock.advance(5 * 60 - 1)
    assert monitor.tick() == []
    clock.advance(1 + 60 * 2.5 + 3)  # 8.55 minutes of silence in all
    (fired,) = [t for t in monitor.tick() if t.alert.rule == "no_data"]
    alert = fired.alert
    assert (fired.kind, alert.state, alert.metric) == ("firing", "firing", "feed:status")
    assert alert.id == alert_id("no_data", "feed:status", T0 + 4)
    assert (alert.started_at, alert.fired_at) == (T0 + 4, T0 + 4)
    assert alert.value == round((5 * 60 + 150 + 3) / 60, 1) and alert.threshold == 5
    assert alert.value == 7.5
    assert alert.message == "No transactions received for 7 min (last data 00:03 UTC)"
    assert alert.detail == ("nothing received on the status feed for 7.5 min of wall-clock time (alert after 5 min); "
                            "newest event minute 2025-07-12T00:03:00Z")
    clock.advance(120)
    monitor.tick()
    (still,) = monitor.alerts("firing")
    assert still.value == round((5 * 60 + 150 + 3 + 120) / 60, 1)  # the worst (longest) silence so far
    assert still.message == "No transactions received for 9 min (last data 00:03 UTC)"  # 9.6 min, whole minutes
    assert still.detail == ("nothing received on the status feed for 9.6 min of wall-clock time (alert after 5 min); "
                            "newest event minute 2025-07-12T00:03:00Z")
    back = [a for a in post(monitor, 20) if a["rule"] == "no_data"]
    assert [a["state"] for a in back] == ["resolved"]
    (resolved,) = [a for a in monitor.alerts("resolved") if a.rule == "no_data"]
    assert resolved.resolved_at == T0 + 20
    assert resolved.message == "No transactions received for 9 min (last data 00:03 UTC); data is arriving again"


def test_writes_staged_behind_a_failed_batch_fail_with_it_and_are_never_written(backend):
    """GroupCommitter.fail_queued: a request queued behind a failed commit gets the same error, nothing stored."""
    from detection.commit import GroupCommitter
    from detection.store import PendingWrite, StoreError

    store = backend.store()
    committer = GroupCommitter(store, on_failure=lambda error: None)
    write = PendingWrite(counts={("status", T0): {"status:failed": 3}}, alerts=[], deleted_alerts=[], rule_states={},
                         meta={})
    ticket = committer.stage(write)
    error = StoreError("disk full")
    committer.fail_queued(error)
    assert ticket.done is True and ticket.error is error
    with pytest.raises(StoreError, match="disk full"):
        committer.wait(ticket)
    assert store.counts_since(0) == []
    later = committer.stage(write)  # the queue was emptied: a later write goes through on its own
    committer.wait(later)
    assert store.counts_since(0) == [("status:failed", T0, 3)]


# SQLite only (this test and the next): another process's exclusive lock on the database file is what makes
# the commit fail or wait; PostgreSQL has no file lock to take.
def test_a_failed_commit_is_logged_with_its_cause(tmp_path, clock, caplog):
    import logging
    import sqlite3

    from detection.store import StoreError

    path = str(tmp_path / "monitor.db")
    monitor = make_monitor(None, clock, rules=(FAILED_FAST,), store=Store(path))
    post(monitor, 0)
    locker = sqlite3.connect(path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    monitor.store._writer.execute("PRAGMA busy_timeout = 50")
    try:
        with caplog.at_level(logging.ERROR, logger="monitor"), pytest.raises(StoreError) as raised:
            post(monitor, 1)
    finally:
        locker.rollback()
        locker.close()
    records = [r for r in caplog.records if r.name == "monitor" and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in records] == [
        f"store write failed, reloading the engine from the store: {raised.value}"]
    assert str(raised.value)


def test_worse_means_strictly_worse_in_the_rule_direction():
    """An alert's value changes only for a strictly worse one, so a tie keeps the first minute's threshold."""
    from detection.drop_rule import DropRule
    from detection.rules import ThresholdRule
    from detection.stat_rules import PoissonTailRule, RateRule, SeasonalRule

    common = {"rule_id": "r"}
    below = [
        DropRule(metric="status:approved", **common),
        ThresholdRule(metric="status:approved", direction="below", threshold=1, **common),
        SeasonalRule(metric="status:approved", direction="below", profile=(1.0,), window=5, z=1, relative_sd=0,
                     min_change=0, **common),
        RateRule(metric="rate:approved", direction="below", baseline=0.5, window=2, p_value=0.01, min_count=0,
                 **common),
    ]
    above = [
        ThresholdRule(metric="status:failed", direction="above", threshold=1, **common),
        PoissonTailRule(metric="status:failed", ratio=0.1, per="status:approved", window=2, p_value=0.01,
                        min_count=1, **common),
        SeasonalRule(metric="status:denied", direction="above", profile=(1.0,), window=5, z=1, relative_sd=0,
                     min_change=0, **common),
        RateRule(metric="rate:denied", direction="above", baseline=0.1, window=2, p_value=0.01, min_count=0,
                 **common),
    ]
    for rule in below:
        assert (rule.worse(4, 5), rule.worse(5, 5), rule.worse(6, 5)) == (True, False, False), rule.type_name
    for rule in above:
        assert (rule.worse(6, 5), rule.worse(5, 5), rule.worse(4, 5)) == (True, False, False), rule.type_name


def test_a_retry_while_the_first_request_is_still_being_written_gets_the_first_answer(tmp_path, clock):
    """README: retries are safe 'also when the retries arrive while the first is still being written'."""
    import sqlite3
    import threading
    import time

    from detection import IdempotencyConflict

    path = str(tmp_path / "monitor.db")
    monitor = make_monitor(None, clock, rules=(FAILED_FAST,), store=Store(path))
    post(monitor, 0)
    records = validate_records([{"timestamp": timestamp(T0 + 1), "status": "failed", "count": 5}], "status",
                               DEFAULT_STATUSES, now=NOW)
    locker = sqlite3.connect(path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")  # the first request's commit waits for this lock
    monitor.store._writer.execute("PRAGMA busy_timeout = 60000")
    first: list = []
    writer = threading.Thread(target=lambda: first.append(monitor.ingest(records, "key-1", "body-1")), daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while "key-1" not in monitor._pending_keys:  # staged, its commit blocked on the lock
            assert time.monotonic() < deadline and writer.is_alive(), "the first request never reached its commit"
            time.sleep(0.01)
        # The retry is answered only once the first request's write is durable, so it waits too.
        retried: list = []
        retrier = threading.Thread(target=lambda: retried.append(monitor.ingest(records, "key-1", "body-1")),
                                   daemon=True)
        retrier.start()
        with pytest.raises(IdempotencyConflict) as conflict:  # another body is refused at once
            monitor.ingest(records, "key-1", "another body")
        assert not retried, "the retry was answered before the first request's write was durable"
    finally:
        locker.rollback()
        locker.close()
    writer.join(30)
    retrier.join(30)
    assert not writer.is_alive() and not retrier.is_alive()
    (answer,) = first
    (retry,) = retried
    assert not answer.replayed and retry.replayed
    assert (retry.accepted, retry.alerts) == (answer.accepted, answer.alerts) == (1, answer.alerts)
    assert [(a["rule"], a["state"]) for a in answer.alerts] == [("failed_high", "firing")]
    assert str(conflict.value) == "this Idempotency-Key was already used for a different request body"
    assert monitor.snapshot(2).counts["status:failed"][-1] == 5  # counted once


def test_feed_statuses_name_each_feed_and_how_long_it_has_been_silent(backend, clock):
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,))
    post(monitor, 0)
    post(monitor, 1)
    clock.advance(42)
    statuses = monitor.feed_statuses()
    status, auth = statuses["status"], statuses["auth_code"]
    assert (status.feed, status.newest_minute, status.closed_through) == ("status", T0 + 1, T0)
    assert status.silent_seconds == 42 and status.no_data_alert is False
    assert (auth.feed, auth.newest_minute, auth.silent_seconds, auth.last_received_wall) == ("auth_code", None, None, None)


def test_an_open_no_data_alert_survives_a_restart(backend, clock):
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,), no_data=2)
    post(monitor, 0)
    clock.advance(3 * 60)
    assert [t.alert.rule for t in monitor.tick()] == ["no_data"]
    monitor.store.close()
    again = make_monitor(backend, clock, rules=(FAILED_FAST,), no_data=2)  # reopened on the same database
    assert again.feed_statuses()["status"].no_data_alert is True
    back = [a["state"] for a in post(again, 5) if a["rule"] == "no_data"]
    assert back == ["resolved"]


def test_no_data_resolved_by_a_late_minute_stays_resolved_after_a_restart(backend, clock):
    """Data coming back for an earlier minute (no new watermark) still ends the silence, durably."""
    monitor = make_monitor(backend, clock, rules=(FAILED_FAST,), no_data=2)
    post(monitor, 0)
    post(monitor, 5)
    clock.advance(3 * 60)
    assert [t.alert.rule for t in monitor.tick()] == ["no_data"]
    assert [a["state"] for a in post(monitor, 2) if a["rule"] == "no_data"] == ["resolved"]
    monitor.store.close()
    again = make_monitor(backend, clock, rules=(FAILED_FAST,), no_data=2)  # reopened on the same database
    assert again.feed_statuses()["status"].no_data_alert is False
    assert [a.rule for a in again.alerts("firing")] == []
