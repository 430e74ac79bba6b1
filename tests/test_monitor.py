"""The engine's alert lifecycle on event time: pending -> firing -> resolved, gaps, no data, windows."""

from __future__ import annotations

import pytest

from detection import Monitor, MonitorSettings, parse_thresholds, validate_records
from detection.metrics import DEFAULT_STATUSES

from .support import START_MINUTE as T0
from .support import timestamp

FAILED = {"id": "failed_high", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": 2, "for": 3, "resolve": 2, "severity": "critical"}
APPROVED = {"id": "approved_low", "type": "threshold", "metric": "status:approved", "direction": "below", "threshold": 50, "for": 2, "resolve": 2}
NOW = (T0 + 10_000) * 60.0


def make_monitor(backend, clock, rules=(FAILED, APPROVED), store=None, settings=None, no_data=5):
    """A monitor on ``store``, else on a new store on the test's backend (conftest ``backend``: SQLite, PostgreSQL)."""
    thresholds = parse_thresholds({"version": 1, "no_data": {"after_minutes": no_data}, "rules": list(rules)}, "test")
    return Monitor(thresholds, store or backend.store(), settings or MonitorSettings(window_minutes=600, retention_minutes=1200), clock=clock)


def post(monitor, minute, **counts):
    counts = {"approved": 100, **counts}
    records = [{"timestamp": timestamp(T0 + minute), "status": s, "count": c} for s, c in counts.items()]
    return monitor.ingest(validate_records(records, "status", DEFAULT_STATUSES, now=NOW)).alerts


def states(alerts):
    return [(a["rule"], a["state"]) for a in alerts]


def test_a_breach_goes_pending_then_fires_after_for_minutes_then_resolves(backend, clock):
    monitor = make_monitor(backend, clock)
    post(monitor, 0)
    assert states(post(monitor, 1, failed=5)) == [("failed_high", "pending")]
    assert post(monitor, 2, failed=5) == []
    fired = post(monitor, 3, failed=5)  # the third breaching minute fires while it is still open
    assert states(fired) == [("failed_high", "firing")]
    alert = fired[0]
    assert alert["started_at"] == "2025-07-12T00:01:00Z"
    assert alert["fired_at"] == "2025-07-12T00:03:00Z"
    assert alert["value"] == 5 and alert["threshold"] == 2
    assert alert["message"] == "Failed transactions: 5/min, above the limit of 2/min"
    assert alert["detail"] == "5 in the minute; fires above 2/min"
    post(monitor, 4, failed=9)
    post(monitor, 5)
    post(monitor, 6)
    resolved = post(monitor, 7)  # minutes 5 and 6 clean, judged when 7 arrives
    assert states(resolved) == [("failed_high", "resolved")]
    assert resolved[0]["resolved_at"] == "2025-07-12T00:07:00Z"
    assert resolved[0]["value"] == 9  # the worst value of the episode, and the message and detail follow it
    assert resolved[0]["message"] == "Failed transactions: 9/min, above the limit of 2/min"
    assert resolved[0]["detail"] == "9 in the minute; fires above 2/min"
    assert [(a.state, a.started_at) for a in monitor.alerts("all")] == [("resolved", T0 + 1)]


def test_a_pending_breach_that_clears_is_not_an_episode(backend, clock):
    monitor = make_monitor(backend, clock)
    post(monitor, 0)
    post(monitor, 1, failed=5)
    post(monitor, 2, failed=5)
    post(monitor, 3)
    post(monitor, 4)
    assert monitor.alerts("all") == []
    assert monitor.snapshot(10).open_alerts == ()


def test_one_open_alert_per_rule_however_many_requests(backend, clock):
    monitor = make_monitor(backend, clock)
    for minute in range(1, 20):
        for _ in range(3):  # partial counts posted several times a minute add up
            post(monitor, minute, failed=1, approved=15)
    alerts = monitor.alerts("all")
    assert sorted(a.rule for a in alerts) == ["approved_low", "failed_high"]
    assert all(a.state == "firing" for a in alerts)
    assert monitor.snapshot(5).counts["status:failed"][-1] == 3


def test_lower_bound_rules_judge_closed_minutes_only(backend, clock):
    monitor = make_monitor(backend, clock)
    post(monitor, 0)
    post(monitor, 1, approved=10)  # looks low while open: more may come
    post(monitor, 1, approved=90)
    post(monitor, 2)
    post(monitor, 3)
    assert monitor.alerts("all") == []


def test_counts_add_up_and_late_records_are_kept(backend, clock):
    monitor = make_monitor(backend, clock)
    post(monitor, 0, failed=1)
    post(monitor, 5, failed=1)
    post(monitor, 0, failed=2)  # late: stored and counted, the minute is already judged
    snap = monitor.snapshot(6)
    assert snap.counts["status:failed"] == (3, 0, 0, 0, 0, 1)


def test_missing_minutes_are_a_feed_gap_and_never_resolve_a_firing_alert(backend, clock):
    monitor = make_monitor(backend, clock)
    for minute in range(5):
        post(monitor, minute, failed=5)
    assert [a.state for a in monitor.alerts("firing")] == ["firing"]
    alerts = post(monitor, 15, failed=5)  # ten silent minutes, then more failures
    gap = [a for a in alerts if a["rule"] == "feed_gap"]
    assert [a["state"] for a in gap] == ["firing", "resolved"]
    assert gap[-1]["started_at"] == timestamp_iso(5) and gap[-1]["resolved_at"] == timestamp_iso(15)
    assert gap[-1]["value"] == 10
    assert gap[-1]["message"] == "No transactions received for 10 min (00:05 to 00:14 UTC)"
    assert [a.rule for a in monitor.alerts("firing")] == ["failed_high"]


def timestamp_iso(offset):
    return timestamp(T0 + offset).replace(" ", "T") + "Z"


def test_a_silent_feed_raises_no_data_by_the_wall_clock_and_keeps_alerts_firing(backend, clock):
    monitor = make_monitor(backend, clock)
    for minute in range(5):
        post(monitor, minute, failed=5)
    clock.advance(4 * 60)
    assert [t.alert.rule for t in monitor.tick()] == []
    clock.advance(61)
    ticked = monitor.tick()
    no_data = [t for t in ticked if t.alert.rule == "no_data"]
    assert [t.kind for t in no_data] == ["firing"]
    assert no_data[0].alert.metric == "feed:status"
    assert monitor.feed_statuses()["status"].no_data_alert
    clock.advance(3600)
    monitor.tick()
    firing = sorted(a.rule for a in monitor.alerts("firing"))
    assert firing == ["failed_high", "no_data"]
    back = post(monitor, 70)
    assert ("no_data", "resolved") in states(back)
    assert not monitor.feed_statuses()["status"].no_data_alert


def test_the_wall_clock_closes_the_newest_minute_so_a_lower_bound_fires_without_more_data(backend, clock):
    monitor = make_monitor(backend, clock, no_data=0)
    post(monitor, 0)
    post(monitor, 1, approved=10)
    post(monitor, 2, approved=10)
    assert monitor.alerts("firing") == []  # minute 2 is still open
    clock.advance(60 + 31)
    fired = monitor.tick()
    assert [(t.kind, t.alert.rule) for t in fired] == [("firing", "approved_low")]


def test_feeds_keep_their_own_clocks(backend, clock):
    auth_rule = {"id": "a51", "type": "threshold", "metric": "auth_code:51", "direction": "above", "threshold": 10, "for": 2, "resolve": 2}
    monitor = make_monitor(backend, clock, rules=(FAILED, auth_rule))
    for minute in range(30):
        post(monitor, minute)
    # the auth-code feed arrives after the status feed: its minutes are judged all the same
    for minute in range(30):
        records = [{"timestamp": timestamp(T0 + minute), "auth_code": "51", "count": 20 if minute >= 10 else 1}]
        monitor.ingest(validate_records(records, "auth_code", ("00", "51", "59"), now=NOW))
    assert [a.rule for a in monitor.alerts("firing")] == ["a51"]


def test_memory_keeps_a_window_back_from_the_newest_event_not_the_wall_clock(backend, clock):
    settings = MonitorSettings(window_minutes=60, retention_minutes=120, prune_every_minutes=10)
    store = backend.store()
    monitor = make_monitor(backend, clock, store=store, settings=settings)
    for minute in range(200):
        post(monitor, minute)
    held = monitor.series.counts["status:approved"]
    assert min(held) >= T0 + 200 - 60 - 10 and max(held) == T0 + 199  # pruned in steps of 10 minutes
    stored = {m for metric, m, _ in store.counts_since(0) if metric == "status:approved"}
    assert min(stored) >= T0 + 200 - 120 - 10  # retention pruning measured from event time
    assert len(stored) >= 120
    # an export from last year is neither rejected nor pruned on arrival
    assert min(held) < clock() / 60


def test_retention_prune_removes_old_minutes_and_resolved_alerts_but_keeps_open_ones(backend, clock):
    settings = MonitorSettings(window_minutes=60, retention_minutes=60)
    store = backend.store()
    monitor = make_monitor(backend, clock, store=store, settings=settings)
    for minute in range(10):
        post(monitor, minute, failed=5 if minute < 5 else 0)
    for minute in range(10, 400):
        post(monitor, minute, failed=5 if minute > 390 else 0)
    result = monitor.prune_store()
    assert 0 < result["minutes"] <= 60  # most was pruned already as the watermark moved
    assert monitor.prune_store()["minutes"] == 0
    kept = {a.state for a in store.alerts(None)}
    assert kept == {"firing"}  # the first episode was resolved long ago and pruned
    assert min(m for _, m, _ in store.counts_since(0)) == T0 + 400 - 60


def test_snapshot_is_a_copy_readers_can_keep(backend, clock):
    monitor = make_monitor(backend, clock)
    post(monitor, 0, failed=1)
    snap = monitor.snapshot(1)
    post(monitor, 0, failed=1)
    assert snap.counts["status:failed"] == (1,)
    assert monitor.snapshot(1).counts["status:failed"] == (2,)
    with pytest.raises(TypeError):
        snap.counts["status:failed"] = (9,)  # type: ignore[index]


def test_a_broken_listener_never_breaks_ingestion(backend, clock):
    monitor = make_monitor(backend, clock)
    seen = []

    def broken(transitions):
        raise RuntimeError("receiver down")

    monitor.add_listener(broken)
    monitor.add_listener(lambda transitions: seen.extend(t.kind for t in transitions))
    for minute in range(4):
        post(monitor, minute, failed=5)
    assert seen == ["pending", "firing"]


def test_a_pending_breach_opened_and_cleared_within_one_batch_leaves_nothing_behind(backend, clock):
    monitor = make_monitor(backend, clock)
    batch = []
    for minute in range(10):
        counts = {"approved": 100, "failed": 5 if minute == 4 else 0}
        batch += [{"timestamp": timestamp(T0 + minute), "status": s, "count": c} for s, c in counts.items()]
    monitor.ingest(validate_records(batch, "status", DEFAULT_STATUSES, now=NOW))
    assert monitor.alerts("all") == []
    # and a pending breach that outlives the batch is stored, then removed when it clears
    post(monitor, 10, failed=5)
    assert [a.state for a in monitor.alerts("all")] == ["pending"]
    post(monitor, 11)
    post(monitor, 12)
    assert monitor.alerts("all") == []


def test_a_monitor_without_a_store_keeps_its_minutes_in_an_in_memory_store():
    # Monitor's store argument is optional: left out, the engine gets a private in-memory SQLite store.
    thresholds = parse_thresholds({"version": 1, "rules": [FAILED]}, "test")
    monitor = Monitor(thresholds, settings=MonitorSettings(window_minutes=600, retention_minutes=1200),
                      clock=lambda: NOW)
    assert monitor.store.in_memory and monitor.store.path == ":memory:"
    post(monitor, 0, failed=1)
    assert sorted(monitor.store.counts_since(0)) == [("status:approved", T0, 100), ("status:failed", T0, 1)]


def test_pruning_a_store_with_no_minutes_yet_names_the_same_counts_as_a_real_prune(backend, clock):
    """prune_store() answers what was deleted, by the names the store's prune() uses; with nothing received
    yet there is nothing to prune, and the answer is all zeros under those same names."""
    store = backend.store()
    monitor = make_monitor(backend, clock, store=store)
    assert monitor.prune_store() == {"minutes": 0, "alerts": 0, "incidents": 0, "idempotency_keys": 0}
    assert set(monitor.prune_store()) == set(store.prune(0, 0.0))
