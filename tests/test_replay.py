"""Replaying history gives event-time alerts, the same as a slow live feed; a CSV replay reports its progress."""

from __future__ import annotations

import io
import logging
import random

from analysis.progress import duration
from detection import Monitor, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES
from feeds.demo import FeedRunner, FeedWriter
from feeds.replay import ReplaySource

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


# ------------------------------------------------------------------ --replay progress

class CountingClock:
    """Each reading is one second after the previous: one replayed minute per second, i.e. 60 min/min."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_csv_replay_logs_its_progress_with_done_left_and_rate(tmp_path, monitor, caplog):
    rows = "".join(f"2025-07-12 13:{m:02d}:00,approved,{100 + m}\n" for m in range(20))
    path = tmp_path / "transactions.csv"
    path.write_text("timestamp,status,count\n" + rows, encoding="utf-8")
    source = ReplaySource(path, None, monitor.thresholds.statuses, monitor.thresholds.auth_codes)
    caplog.set_level(logging.INFO, logger="monitor.feed")
    runner = FeedRunner(FeedWriter(monitor), speed=0, replay=source, progress_stream=io.StringIO(),
                        clock=CountingClock()).start()
    runner._thread.join(timeout=60)
    assert not runner._thread.is_alive()
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.feed"]
    progress = [line for line in lines if line.startswith("replay: ") and " of 20 minutes" in line]
    assert progress == [f"replay: {done} of 20 minutes ({done * 5}%), 60.0 min/min, {duration(20 - done)} left"
                        for done in range(2, 20, 2)] + ["replay: 20 of 20 minutes (100%), 60.0 min/min, done in 20 s"]
    assert lines[-1] == "replay: all 20 minutes posted"
    assert monitor.snapshot(20).counts["status:approved"] == tuple(range(100, 120))
