"""Replaying three days of history through the REST API gives event-time alerts, the same as a slow live feed."""

from __future__ import annotations

import random

from detection import Monitor, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES

from .support import DEFAULT_BURSTS, START_MINUTE, make_minutes

DAYS3 = 3 * 24 * 60


def episode(alert):
    return (alert.rule, alert.metric, alert.state, alert.started_at, alert.fired_at, alert.resolved_at, alert.value)


def test_three_days_replayed_minute_by_minute_match_a_slow_live_feed(client, app, clock):
    minutes = make_minutes(DAYS3)
    assert sum(len(s) for s, _ in minutes) == 25_920 and sum(len(a) for _, a in minutes) == 12_960

    for statuses, auth in minutes:  # the replay: as fast as the API answers
        assert client.post("/api/transaction", json=statuses).status_code == 201
        assert client.post("/api/auth_code", json=auth).status_code == 201
    replayed = app.server.extensions["monitor"].alerts("all", limit=1000)

    # The live feed: records trickle in one by one in any order within the minute, the wall
    # clock moves on and closes minutes before the next minute's data arrives.
    live = Monitor(load_thresholds(), Store(":memory:"), clock=clock)
    shuffle = random.Random(3)
    for statuses, auth in minutes:
        pieces = [("status", r) for r in statuses] + [("auth_code", r) for r in auth]
        shuffle.shuffle(pieces)
        for feed, record in pieces:
            keys = DEFAULT_STATUSES if feed == "status" else DEFAULT_AUTH_CODES
            live.ingest(validate_records([record], feed, keys, now=clock()))
        clock.advance(95)
        live.tick()
    streamed = live.alerts("all", limit=1000)
    assert len(replayed) >= 8  # the bursts gave real episodes to compare

    assert sorted(map(episode, replayed)) == sorted(map(episode, streamed))

    # each injected burst is caught on its own status (count or share), starting at its first minutes:
    # started_at is event time, not the time the replay happened to reach it
    for burst in DEFAULT_BURSTS:
        first = START_MINUTE + burst.first
        starts = [a.started_at for a in replayed if a.metric in (f"status:{burst.status}", f"rate:{burst.status}")]
        assert any(first <= s <= first + 2 for s in starts), burst
    # and every episode starts on a minute whose data breaches its rule
    rules = {r.id: r for r in load_thresholds().rules}
    monitor = app.server.extensions["monitor"]
    for alert in replayed:
        if alert.rule in rules:
            assert rules[alert.rule].judge(monitor.series, alert.started_at).breach
