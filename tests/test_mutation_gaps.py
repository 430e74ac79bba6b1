"""Documented behaviour that no test checked, found by mutants that survived the whole suite.

Each test pins what the README or a docstring promises for one function mutmut showed unchecked
(docs/notes/killer.md lists which mutant each test kills): the ticker's cadence and its WAL bound,
the store's checkpoint, probe and row counts, silences read back from the store, the delivery log's
retention, and the engine's refusal to write from stale memory after a failed reload. Real SQLite
files, real threads; every wait has a deadline.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time

import pytest

from detection import Monitor, MonitorSettings, Store, load_thresholds
from detection.store import WAL_TARGET_BYTES, PendingWrite, StoreError
from detection.ticker import Ticker

from .delivery_support import DEADLINE as DEADLINE_SECONDS
from .delivery_support import wait_until
from .faulty_store import FaultyStore, disk_full


def meta_write(**meta) -> PendingWrite:
    return PendingWrite(counts={}, alerts=[], deleted_alerts=[], rule_states={}, meta=meta)


class WatchedStore(Store):
    """A real SQLite store that notes each checkpoint and WAL-size check; it may report a chosen WAL size
    (to put the ticker exactly at its 4 MB bound) or take a set time over a checkpoint (a slow disk)."""

    def __init__(self, path: str, wal_size: int | None = None, checkpoint_seconds: float = 0.0):
        super().__init__(path)
        self.wal_size = wal_size
        self.checkpoint_seconds = checkpoint_seconds
        self.checkpoints: list[float] = []
        self.wal_checks = 0

    def wal_bytes(self) -> int:
        self.wal_checks += 1
        return super().wal_bytes() if self.wal_size is None else self.wal_size

    def checkpoint(self) -> bool:
        self.checkpoints.append(time.monotonic())
        if self.checkpoint_seconds:
            time.sleep(self.checkpoint_seconds)  # the slow disk being simulated, not a wait for a condition
        return super().checkpoint()


class TimedMonitor(Monitor):
    """A real Monitor that notes when the ticker ticks it (monotonic seconds)."""

    def __init__(self, store: Store):
        super().__init__(load_thresholds(), store, MonitorSettings())
        self.ticks: list[float] = []

    def tick(self, now: float | None = None):
        self.ticks.append(time.monotonic())
        return super().tick(now)


class BrokenTickMonitor(Monitor):
    """A Monitor whose tick raises (a bug in a rule), to see that the ticker logs it and keeps working."""

    def tick(self, now: float | None = None):
        raise RuntimeError("rule blew up")


def ticker_lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "monitor"]


# ------------------------------------------------------------------------------------------ ticker


def test_the_ticker_ticks_every_5_s_and_checks_the_wal_every_second_by_default(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    monitor = Monitor(load_thresholds(), store, MonitorSettings())
    ticker = Ticker(monitor)
    assert (ticker.interval, ticker.wal_check) == (5.0, 1.0)
    # The WAL is never checked less often than the ticker ticks.
    assert Ticker(monitor, interval_seconds=0.5).wal_check == 0.5
    assert Ticker(monitor, interval_seconds=2.0, wal_check_seconds=0.25).wal_check == 0.25
    ticker.start()
    try:
        assert "monitor-ticker" in [t.name for t in threading.enumerate()]  # named in thread dumps
    finally:
        ticker.stop()
    assert "monitor-ticker" not in [t.name for t in threading.enumerate()]
    store.close()


def test_the_first_tick_comes_one_interval_after_start_and_then_one_interval_apart(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    monitor = TimedMonitor(store)
    interval = 0.4
    started = time.monotonic()
    ticker = Ticker(monitor, interval_seconds=interval, wal_check_seconds=0.02).start()
    try:
        wait_until(lambda: len(monitor.ticks) >= 3, what="three ticks")
    finally:
        ticker.stop()
    ticks = monitor.ticks[:3]
    assert ticks[0] - started >= interval
    # next_tick is set just before tick() runs, so a gap can fall short of the interval by that step only.
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(gap >= interval - 0.1 for gap in gaps), gaps
    store.close()


def test_between_ticks_a_wal_at_4_mb_is_truncated_early_and_one_byte_less_is_not(tmp_path):
    at_bound = WatchedStore(str(tmp_path / "at.db"), wal_size=WAL_TARGET_BYTES)
    ticker = Ticker(Monitor(load_thresholds(), at_bound, MonitorSettings()), interval_seconds=600,
                    wal_check_seconds=0.02).start()
    try:
        wait_until(lambda: len(at_bound.checkpoints) >= 1, what="an early checkpoint at exactly 4 MB")
    finally:
        ticker.stop()

    below = WatchedStore(str(tmp_path / "below.db"), wal_size=WAL_TARGET_BYTES - 1)
    ticker = Ticker(Monitor(load_thresholds(), below, MonitorSettings()), interval_seconds=600,
                    wal_check_seconds=0.02).start()
    try:
        wait_until(lambda: below.wal_checks >= 10, what="ten WAL size checks")  # a positive signal, no fixed sleep
    finally:
        ticker.stop()
    assert below.checkpoints == []
    at_bound.close()
    below.close()


def test_a_tick_truncates_a_wal_of_any_size_but_leaves_an_empty_one_alone(tmp_path):
    store = WatchedStore(str(tmp_path / "m.db"))
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.write(meta_write(note="x"))
    assert store.wal_bytes() > 0
    ticker.tick()
    assert len(store.checkpoints) == 1 and store.wal_bytes() == 0
    ticker.tick()  # nothing written since: no checkpoint to take
    assert len(store.checkpoints) == 1

    one_byte = WatchedStore(str(tmp_path / "one.db"), wal_size=1)
    Ticker(Monitor(load_thresholds(), one_byte, MonitorSettings())).tick()
    assert len(one_byte.checkpoints) == 1
    store.close()
    one_byte.close()


def test_a_failing_tick_is_logged_and_the_ticker_still_probes_and_checkpoints(tmp_path, caplog):
    store = WatchedStore(str(tmp_path / "m.db"))
    ticker = Ticker(BrokenTickMonitor(load_thresholds(), store, MonitorSettings()))
    store.write(meta_write(note="x"))
    with caplog.at_level(logging.INFO, logger="monitor"):
        ticker.tick()  # does not raise
    (record,) = [r for r in caplog.records if r.name == "monitor"]
    assert (record.levelname, record.getMessage()) == ("ERROR", "monitor tick failed")
    assert record.exc_info is not None and str(record.exc_info[1]) == "rule blew up"
    assert len(store.checkpoints) == 1 and store.wal_bytes() == 0
    store.close()


def test_a_tick_while_the_disk_is_still_full_logs_the_store_reason(tmp_path, caplog):
    store = FaultyStore(str(tmp_path / "m.db"), error=disk_full)
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.failing = True
    with pytest.raises(StoreError):
        store.write(meta_write(note="x"))
    with caplog.at_level(logging.WARNING, logger="monitor"):
        ticker.tick()
    assert ticker_lines(caplog) == [("WARNING", "store still failing: the last write failed: database or disk is full")]
    store.close()


def test_a_quick_truncating_checkpoint_logs_nothing(tmp_path, caplog):
    store = Store(str(tmp_path / "m.db"))
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.write(meta_write(note="x"))
    with caplog.at_level(logging.INFO, logger="monitor"):
        ticker.checkpoint()
    assert store.wal_bytes() == 0
    assert ticker_lines(caplog) == []
    store.close()


def test_a_checkpoint_slower_than_half_a_second_is_logged_with_its_time(tmp_path, caplog):
    store = WatchedStore(str(tmp_path / "m.db"), checkpoint_seconds=0.6)
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.write(meta_write(note="x"))
    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="monitor"):
        ticker.checkpoint()
    took_ms = (time.perf_counter() - started) * 1000
    ((level, line),) = ticker_lines(caplog)
    match = re.fullmatch(r"WAL checkpoint done in (\d+) ms \(WAL now 0 bytes\)", line)
    assert level == "WARNING" and match, line
    assert 600 <= int(match.group(1)) <= took_ms + 1
    store.close()


def test_a_checkpoint_held_back_by_a_reader_is_logged_with_the_wal_left(tmp_path, caplog):
    """README: the checkpoint waits at most 200 ms for readers, else it gives up until the next call."""
    path = str(tmp_path / "m.db")
    store = Store(path)
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.write(meta_write(note="before"))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM meta").fetchall()  # a read transaction on the WAL, held open
    try:
        store.write(meta_write(note="after"))
        started = time.perf_counter()
        with caplog.at_level(logging.INFO, logger="monitor"):
            ticker.checkpoint()
        took_ms = (time.perf_counter() - started) * 1000
        left = store.wal_bytes()
    finally:
        reader.rollback()
        reader.close()
    assert left > 0
    ((level, line),) = ticker_lines(caplog)
    match = re.fullmatch(r"WAL checkpoint held back by readers in (\d+) ms \(WAL now (\d+) bytes\)", line)
    assert level == "WARNING" and match, line
    assert 150 <= int(match.group(1)) <= took_ms + 1  # it waited for the reader, about 200 ms
    assert int(match.group(2)) == left
    assert store.health().ok is True  # a held-back checkpoint is not a failure
    store.close()


def test_a_failed_checkpoint_is_logged_and_the_ticker_goes_on(tmp_path, caplog):
    store = Store(str(tmp_path / "m.db"))
    ticker = Ticker(Monitor(load_thresholds(), store, MonitorSettings()))
    store.close()  # every statement on the writer now fails
    with caplog.at_level(logging.INFO, logger="monitor"):
        ticker.checkpoint()  # does not raise
    (record,) = [r for r in caplog.records if r.name == "monitor"]
    assert (record.levelname, record.getMessage()) == ("ERROR", "store checkpoint failed")
    assert str(record.exc_info[1]) == "store checkpoint failed: Cannot operate on a closed database."


# ------------------------------------------------------------------------------------------- store


def test_an_in_memory_store_has_no_wal_and_its_checkpoint_is_always_done():
    store = Store(":memory:")
    store.write(meta_write(note="x"))
    assert (store.wal_bytes(), store.checkpoint()) == (0, True)


def test_a_checkpoint_truncates_the_wal_to_zero_bytes_and_says_so(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    store.write(meta_write(note="x"))
    assert store.wal_bytes() > 0
    assert store.checkpoint() is True
    assert store.wal_bytes() == 0
    assert os.path.getsize(str(tmp_path / "m.db") + "-wal") == 0
    store.close()


def test_a_failed_checkpoint_names_its_cause_and_makes_health_say_so(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    store.close()
    with pytest.raises(StoreError) as raised:
        store.checkpoint()
    assert str(raised.value) == "store checkpoint failed: Cannot operate on a closed database."
    health = store.health()
    assert (health.ok, health.reason) == (False, "the last checkpoint failed: Cannot operate on a closed database.")
    assert health.failed_at is not None and abs(health.failed_at - time.time()) < 60


def test_a_successful_checkpoint_clears_an_earlier_checkpoint_failure(tmp_path):
    """health(): degraded while the last checkpoint failed, ok again once one succeeds."""
    path = str(tmp_path / "m.db")
    store = Store(path)
    store.write(meta_write(note="x"))
    os.rename(path, path + ".away")  # the file is gone for a moment (same inode once it is back)
    with pytest.raises(StoreError):
        store.checkpoint()
    os.rename(path + ".away", path)
    health = store.health()
    assert health.ok is False and health.reason.startswith(f"the last checkpoint failed: the database file {path} "
                                                           "was deleted")
    assert store.checkpoint() is True
    assert (store.health().ok, store.health().reason) == (True, None)
    store.close()


def test_a_probe_of_a_healthy_store_writes_nothing(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    store.checkpoint()
    store.probe()
    assert "store_probe" not in store.meta()
    assert store.wal_bytes() == 0  # not even an empty transaction reached the log
    store.close()


def test_a_probe_after_a_failed_write_stores_a_meta_row_and_brings_health_back(tmp_path):
    store = FaultyStore(str(tmp_path / "m.db"), error=disk_full)
    store.failing = True
    with pytest.raises(StoreError):
        store.write(meta_write(note="x"))
    with pytest.raises(StoreError):
        store.probe()  # the disk is still full: the probe fails and health stays degraded
    assert store.health().reason == "the last write failed: database or disk is full"
    store.failing = False
    before = time.time()
    store.probe()
    after = time.time()
    assert store.health().ok is True
    assert before <= store.meta()["store_probe"] <= after
    assert "note" not in store.meta()  # the failed write stayed out
    store.close()


def test_a_probe_does_nothing_once_the_database_file_is_gone(tmp_path):
    path = str(tmp_path / "m.db")
    store = FaultyStore(path, error=disk_full)
    store.failing = True
    with pytest.raises(StoreError):
        store.write(meta_write(note="x"))
    store.failing = False
    os.remove(path)
    store.probe()  # no write is tried: a writer on a deleted file would lose it
    health = store.health()
    assert health.ok is False and health.reason.startswith(f"the database file {path} was deleted")
    store.close()


def test_count_rows_counts_each_table_and_refuses_any_other_name(tmp_path):
    store = Store(str(tmp_path / "m.db"))
    store.write(meta_write(a=1, b=2))
    tables = ("minute_counts", "alerts", "incidents", "rule_state", "meta", "idempotency")
    assert {t: store.count_rows(t) for t in tables} == {
        "minute_counts": 0, "alerts": 0, "incidents": 0, "rule_state": 0, "meta": 2, "idempotency": 0}
    for name in ("silences", "meta; DROP TABLE meta", "ALERTS"):
        with pytest.raises(ValueError) as raised:
            store.count_rows(name)
        assert str(raised.value) == name
    assert store.count_rows("meta") == 2
    store.close()


# ---------------------------------------------------------------------------------------- silences


def test_silences_are_read_back_exactly_and_unreadable_rows_are_skipped_and_logged(tmp_path, caplog):
    """_row_silence: a row written by an older version or edited by hand is left out (and logged), never
    breaking the list; a readable row comes back field for field, a text field that is not text as ''."""
    from detection.silences import SCHEMA, Silences

    store = Store(str(tmp_path / "m.db"))
    with store.transaction() as conn:
        conn.execute(SCHEMA)
        conn.executemany("INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?)", [
            ("good", json.dumps({"rule": "failed_high", "severity": "page"}), 100.0, 200.0, 50.0, "alice",
             "deploy window"),
            ("blob-text", json.dumps({"metric": "status:failed"}), 100.0, 200.0, 50.0, b"\x00", b"\x01"),
            ("list-matchers", json.dumps(["rule", "failed_high"]), 100.0, 200.0, 50.0, "bob", ""),
            ("number-value", json.dumps({"rule": 5}), 100.0, 200.0, 50.0, "bob", ""),
            ("endless", json.dumps({"rule": "failed_high"}), 100.0, float("inf"), 50.0, "bob", ""),
            ("not-json", "{rule", 100.0, 200.0, 50.0, "bob", ""),
            (b"\x02", json.dumps({"rule": "failed_high"}), 100.0, 200.0, 50.0, "bob", ""),
        ])
    with caplog.at_level(logging.WARNING, logger="monitor"):
        silences = Silences(store, clock=lambda: 150.0)
    read = {s.id: (dict(s.matchers), s.starts_at, s.ends_at, s.created_at, s.created_by, s.comment)
            for s in silences.all()}
    assert read == {
        "good": ({"rule": "failed_high", "severity": "page"}, 100.0, 200.0, 50.0, "alice", "deploy window"),
        "blob-text": ({"metric": "status:failed"}, 100.0, 200.0, 50.0, "", ""),
    }
    skipped = sorted(r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage())
    assert skipped == sorted(f"silence {name!r} in the store cannot be read and is ignored" for name in
                             ("list-matchers", "number-value", "endless", "not-json", b"\x02"))
    store.close()


# ------------------------------------------------------------------------------------ delivery log


def test_log_retention_cuts_strictly_before_its_time_and_keeps_undone_outbox_rows(tmp_path):
    """DeliveryLog.prune: log rows older than the cut go; an outbox row goes once it is done and its incident
    is no longer stored, row by row: a resolution still being delivered stays while its done opening goes."""
    from detection.delivery_log import DELIVERED, ERROR, DeliveryLog, LogRecord
    from detection.incidents import OPENED, RESOLVED_TRANSITION

    from .delivery_support import save_alerts, spike, spike_alerts

    store = Store(str(tmp_path / "m.db"))
    save_alerts(store, spike_alerts())
    log = DeliveryLog(store)
    opened, = log.add_transitions([(OPENED, spike(spike_alerts(), "inc-a"))], 1.0)
    log.record([LogRecord("console", "inc-a", OPENED, 1, DELIVERED, "", opened.id)], 10.0, ["console"])
    resolved, = log.add_transitions([(RESOLVED_TRANSITION, spike(spike_alerts(resolved=True), "inc-a"))], 11.0)
    log.record([LogRecord("console", "inc-a", RESOLVED_TRANSITION, 1, ERROR, "503", resolved.id)], 20.0,
               ["console"])
    assert log.prune(20.0, set()) == 1  # the row at 10.0 goes; the one at exactly 20.0 stays
    assert [(e["kind"], e["outcome"]) for e in log.entries()] == [(RESOLVED_TRANSITION, ERROR)]
    # inc-a is no longer stored: its done opening goes, its resolution (still being delivered) stays.
    assert [kind for kind, _incident in log.told(["inc-a"])["inc-a"]] == [RESOLVED_TRANSITION]
    assert [(e.id, e.kind) for e, _channels in log.open_entries()] == [(resolved.id, RESOLVED_TRANSITION)]
    store.close()


# ----------------------------------------------------------------------------------------- monitor


class UnreadableStore(FaultyStore):
    """A FaultyStore whose reads can fail too (``meta`` is read first by every reload): a disk that went bad."""

    failing_reads = False

    def meta(self):
        if self.failing_reads:
            raise sqlite3.OperationalError("disk I/O error")
        return super().meta()


def test_after_a_failed_reload_writes_are_refused_until_memory_is_rebuilt_from_the_store(tmp_path, clock, caplog):
    """README: a failed transaction stores nothing and the engine reloads its memory from what was
    committed; Monitor._reload: if that reload fails, memory is stale and writes are refused until a
    rebuild succeeds."""
    from .support import START_MINUTE as T0
    from .test_engine_edges import FAILED_FAST, post
    from .test_monitor import make_monitor

    store = UnreadableStore(str(tmp_path / "m.db"), error=disk_full)
    monitor = make_monitor(None, clock, rules=(FAILED_FAST,), store=store)
    post(monitor, 0)
    store.failing = store.failing_reads = True
    with caplog.at_level(logging.ERROR, logger="monitor"), pytest.raises(StoreError) as first:
        post(monitor, 1, failed=5)
    assert str(first.value) == "store write failed: database or disk is full"
    stale = "store write failed: database or disk is full; reloading from the store failed: disk I/O error"
    # The disk is still bad: the next request tries to rebuild, fails, and is refused; nothing is written.
    with pytest.raises(StoreError) as second:
        post(monitor, 2, failed=5)
    assert str(second.value) == ("store unavailable: store write refused while the engine reloads: "
                                 f"{stale}; reloading from the store failed: disk I/O error")
    assert store.counts_since(0) == [("status:approved", T0, 100)]

    store.failing = store.failing_reads = False
    post(monitor, 2, failed=1)  # rebuilt from the store first, then written
    assert store.counts_since(0) == [("status:approved", T0, 100), ("status:approved", T0 + 2, 100),
                                     ("status:failed", T0 + 2, 1)]
    # Memory is what the store holds: minute 0 read back, minute 1 (never stored) gone.
    assert [monitor.series.count("status:approved", T0 + m) for m in range(3)] == [100, 0, 100]
    assert [monitor.series.count("status:failed", T0 + m) for m in range(3)] == [0, 0, 1]


# ------------------------------------------------------------------------------------ api/params.py

GOOD_RECORD = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}
UNAUTHORIZED = {"error": "unauthorized",
                "message": "this route needs 'Authorization: Bearer <token>' (MONITOR_API_TOKEN is set)"}


@pytest.mark.parametrize(("header", "status"), [
    (None, 401),
    ("Bearer s3cret", 201),
    ("bearer s3cret", 201),  # the scheme is case-insensitive (RFC 7235)
    ("BEARER  s3cret ", 201),  # spaces around the token are not part of it
    ("Basic s3cret", 401),
    ("s3cret", 401),
    ("Bearer s3cre", 401),
    ("Bearer s3cret2", 401),
])
def test_the_bearer_token_is_checked_exactly_and_a_refusal_says_what_is_needed(db_path, header, status):
    from app import create_app

    client = create_app({"db": db_path, "api_token": "s3cret"}).server.test_client()
    headers = {} if header is None else {"Authorization": header}
    response = client.post("/api/transaction", json=GOOD_RECORD, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == UNAUTHORIZED


def test_a_route_without_query_parameters_names_the_unknown_one_cut_to_40_characters(client):
    long_name = "x" * 39 + "yz"
    for name, shown in (("foo", "foo"), (long_name, "x" * 39 + "y")):
        response = client.get(f"/api/incidents/inc-1?{name}=1")
        assert response.status_code == 400
        assert response.get_json() == {"error": "invalid_parameter",
                                       "message": f"unknown query parameter {shown!r}; this route takes no query "
                                                  "parameters"}


@pytest.mark.parametrize(("query", "message"), [
    ("limit=ten", "'limit' must be an integer from 1 to 10000, got 'ten'"),
    ("limit=1.5", "'limit' must be an integer from 1 to 10000, got '1.5'"),
    ("limit=0", "'limit' must be from 1 to 10000, got 0"),
    ("limit=-3", "'limit' must be from 1 to 10000, got -3"),
    ("limit=10001", "'limit' must be from 1 to 10000, got 10001"),
])
def test_an_integer_parameter_out_of_range_or_not_an_integer_is_a_400_with_its_range(client, query, message):
    response = client.get(f"/api/alerts?{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_parameter", "message": message}


def test_an_integer_parameter_takes_its_default_when_absent_and_its_bounds_inclusive(client):
    # 150 alerts would be slow to make; /api/transactions shows the default width (60 minutes) directly.
    client.post("/api/transaction", json=GOOD_RECORD)
    assert len(client.get("/api/transactions").get_json()["data"]) == 60
    assert len(client.get("/api/transactions?minutes=1").get_json()["data"]) == 1
    assert len(client.get("/api/transactions?minutes=10080").get_json()["data"]) == 10080


# ----------------------------------------------------------------------------------- api/metrics.py


def scrape(client) -> dict[str, dict[tuple, float]]:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        out.setdefault(family.name, {})
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_before_any_traffic_metrics_show_every_status_code_rule_and_incident_kind_at_zero(client):
    from detection.alerts import SEVERITIES
    from detection.incidents import KINDS

    thresholds = client.application.extensions["monitor"].thresholds
    metrics = scrape(client)
    assert metrics["monitor_ingested_transactions_total"] == {(("status", s),): 0.0 for s in thresholds.statuses}
    assert metrics["monitor_ingested_auth_codes_total"] == {(("auth_code", c),): 0.0 for c in thresholds.auth_codes}
    assert metrics["monitor_alerts_firing"] == {
        (("metric", r.metric), ("rule", r.id), ("severity", r.severity)): 0.0 for r in thresholds.rules}
    assert metrics["monitor_incidents_open"] == {
        (("kind", k), ("severity", s)): 0.0 for k in KINDS for s in SEVERITIES}
    assert metrics["monitor_alerts_firing_silenced"] == {}
    assert metrics["monitor_newest_event_timestamp_seconds"] == {}
    assert metrics["monitor_silences_active"] == {(): 0.0}


def test_metrics_count_a_silenced_firing_alert_its_open_incident_and_the_newest_minute(tmp_path):
    from datetime import UTC, datetime

    from detection.alerts import SEVERITIES
    from detection.incidents import KINDS

    from .delivery_support import fire, make_app

    app = make_app(tmp_path, [])
    client = app.server.test_client()
    assert client.post("/api/silences", json={"matchers": {"rule": "failed_high"},
                                              "ends_at": time.time() + 86_400}).status_code == 201
    fire(client)  # minutes 13:00-13:02 with failures: failed_high fires, and with it an incident
    metrics = scrape(client)
    firing_key = (("metric", "status:failed"), ("rule", "failed_high"), ("severity", "critical"))
    assert metrics["monitor_alerts_firing"][firing_key] == 1.0
    assert metrics["monitor_alerts_firing_silenced"] == {firing_key: 1.0}
    assert metrics["monitor_silences_active"] == {(): 1.0}
    (incident,) = client.get("/api/incidents?state=open").get_json()["incidents"]
    expected = {(("kind", k), ("severity", s)): 0.0 for k in KINDS for s in SEVERITIES}
    expected[(("kind", incident["kind"]), ("severity", incident["severity"]))] = 1.0
    assert metrics["monitor_incidents_open"] == expected
    newest = datetime(2025, 7, 12, 13, 2, tzinfo=UTC).timestamp()
    assert metrics["monitor_newest_event_timestamp_seconds"] == {(("feed", "status"),): newest}


def test_metrics_of_an_engine_without_silences_or_delivery_leave_those_families_out(clock):
    """register_metrics(server, monitor): silences and the delivery worker are optional; without them a
    firing alert is counted and nothing about silences or notifications is exported."""
    from flask import Flask

    from api.metrics import register_metrics

    from .test_engine_edges import FAILED_FAST, post
    from .test_monitor import make_monitor

    monitor = make_monitor(None, clock, rules=(FAILED_FAST,), store=Store(":memory:"))
    assert [a["state"] for a in post(monitor, 0, failed=5)] == ["firing"]
    server = Flask("metrics-only")
    register_metrics(server, monitor)
    metrics = scrape(server.test_client())
    assert metrics["monitor_alerts_firing"] == {
        (("metric", "status:failed"), ("rule", "failed_high"), ("severity", "warning")): 1.0}
    assert metrics["monitor_alerts_firing_silenced"] == {}
    assert not [name for name in metrics if "silences" in name or "notification" in name]


# Names, types and labels as the README's "/metrics" table lists them; the HELP lines are what Prometheus
# and Grafana show beside each series, so they are pinned too.
METRIC_FAMILIES = {
    "monitor_ingested_transactions": ("counter", ["status"],
                                      "Transactions accepted per status since the process started"),
    "monitor_ingested_auth_codes": ("counter", ["auth_code"],
                                    "Transactions accepted per authorization code since the process started"),
    "monitor_alerts_firing": ("gauge", ["metric", "rule", "severity"], "Alerts firing now, per rule and metric"),
    "monitor_alerts_firing_silenced": ("gauge", ["metric", "rule", "severity"], "Firing alerts that a silence mutes"),
    "monitor_incidents_open": ("gauge", ["kind", "severity"], "Open incidents, per kind and severity"),
    "monitor_newest_event_timestamp_seconds": ("gauge", ["feed"], "Event time of the newest minute received, per feed"),
    "monitor_silences_active": ("gauge", [], "Silences in force now"),
    "monitor_notifications": ("counter", ["channel", "outcome"], "Notification attempts per channel and outcome "
                              "(delivered, error = retried, failed, silenced, skipped)"),
    "monitor_notification_transitions_dropped": ("counter", [], "Transitions the full queue turned away (a reconcile "
                                                 "sends them later)"),
    "monitor_notification_queue_depth": ("gauge", [], "Transition batches waiting for the dispatcher"),
    "monitor_notification_pending": ("gauge", ["channel"], "Incident messages waiting for or being sent by a channel"),
    "monitor_ingest_requests": ("counter", ["code", "feed"], "Requests to the ingest routes, per feed and HTTP status"),
    "monitor_ingest_errors": ("counter", ["error", "feed"], "Rejected ingest requests, per feed and error code"),
    "monitor_ingest_request_duration_seconds": ("histogram", ["feed"], "Time to answer an ingest request"),
    "monitor_leader": ("gauge", ["instance"], "1 while this instance leads (evaluates rules, delivers notifications), "
                       "0 while it stands by"),
    "monitor_leader_since_seconds": ("gauge", ["leader"], "When the current leader took the lead (Unix time), as "
                                     "this instance knows it"),
}


def test_metric_families_have_the_documented_types_labels_and_help(tmp_path, httpserver):
    from prometheus_client.parser import text_string_to_metric_families

    from .delivery_support import fire, make_app, settle

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}])
    client = app.server.test_client()
    assert client.post("/api/silences", json={"matchers": {"rule": "failed_high"},
                                              "ends_at": time.time() + 86_400}).status_code == 201
    assert client.post("/api/transaction", json=[{"timestamp": "x", "status": "failed", "count": 1}]).status_code == 422
    delivery = app.server.extensions["delivery"].start()
    try:
        fire(client)  # failed_high fires, silenced: every channel logs its outcome
        settle(delivery)
    finally:
        delivery.stop()
    seen = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        if family.name.endswith("_created"):
            continue  # prometheus_client's own creation-time series
        labels = sorted({name for s in family.samples for name in s.labels if name not in ("le", "quantile")})
        seen[family.name] = (family.type, labels, family.documentation)
    assert seen == METRIC_FAMILIES


# ----------------------------------------------------------------------------------- email channel


def test_an_email_carries_its_sender_every_recipient_a_utc_date_and_a_monitor_message_id():
    from email.utils import parsedate_to_datetime

    from detection.channels import EmailChannel, SlackChannel
    from detection.incident_message import plain_text

    from .test_delivery_payloads import _note

    channel = EmailChannel("mail", "127.0.0.1", 25, "monitor@example.com", ["a@example.com", "b@example.com"])
    assert (channel.send_resolved, channel.starttls) == (True, False)  # README defaults
    assert SlackChannel("chat", "http://127.0.0.1/hook").send_resolved is True
    note = _note()
    before = time.time()
    mail = channel.message(note)
    assert mail["From"] == "monitor@example.com"
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail["Date"].endswith(" +0000")  # UTC stated (usegmt); "-0000" would mean "zone unknown"
    assert before - 2 <= parsedate_to_datetime(mail["Date"]).timestamp() <= time.time() + 1
    assert re.fullmatch(r"<[^@<>]+@transaction-monitor>", mail["Message-ID"])
    assert mail.get_content() == plain_text(note) + "\n"


def test_an_unreachable_smtp_server_is_a_delivery_error_naming_host_and_port():
    from detection.channels import DeliveryError, EmailChannel

    from .support import free_port
    from .test_delivery_payloads import _note

    port = free_port()  # nothing listens there
    channel = EmailChannel("mail", "127.0.0.1", port, "monitor@example.com", ["a@example.com"])
    with pytest.raises(DeliveryError) as raised:
        channel.send(_note(), timeout=5.0)
    assert str(raised.value).startswith(f"cannot reach SMTP server 127.0.0.1:{port}: ")


def test_an_smtp_server_that_cannot_take_the_login_or_never_greets_is_a_delivery_error_saying_which(tmp_path):
    from detection.channels import DeliveryError, EmailChannel

    from .delivery_support import HangingReceiver, SmtpSink
    from .test_delivery_payloads import _note

    with SmtpSink() as sink:  # offers no AUTH: a login cannot happen, so nothing is sent
        channel = EmailChannel("mail", "127.0.0.1", sink.port, "monitor@example.com", ["a@example.com"],
                               username="monitor", password="secret")
        with pytest.raises(DeliveryError) as refused:
            channel.send(_note(), timeout=10.0)
    assert sink.messages == []
    assert str(refused.value) == (f"SMTP server 127.0.0.1:{sink.port} refused: SMTP AUTH extension not supported "
                                  "by server.")

    with HangingReceiver() as silent:  # accepts the connection, never sends the SMTP greeting
        channel = EmailChannel("mail", "127.0.0.1", silent.port, "monitor@example.com", ["a@example.com"])
        started = time.monotonic()
        with pytest.raises(DeliveryError) as hung:
            channel.send(_note(), timeout=0.5)
        waited = time.monotonic() - started
    assert str(hung.value).startswith(f"SMTP server 127.0.0.1:{silent.port} did not answer in time: ")
    assert waited < 10  # the channel's timeout bounds the wait


# --------------------------------------------------------------------------------- notify_config


@pytest.mark.parametrize(("value", "starttls"), [
    (None, False), ("", False), ("0", False), ("false", False), (" No ", False), ("OFF", False),
    ("1", True), ("true", True), (" Yes", True), ("ON", True),
])
def test_smtp_starttls_from_the_environment_takes_the_usual_words_either_way(value, starttls):
    from detection.notify_config import load_notification_config

    environ = {"MONITOR_SMTP_HOST": "127.0.0.1", "MONITOR_SMTP_FROM": "monitor@example.com",
               "MONITOR_SMTP_TO": "a@example.com"}
    if value is not None:
        environ["MONITOR_SMTP_STARTTLS"] = value
    (email,) = [c for c in load_notification_config(None, environ).channels if c.name == "email"]
    assert email.starttls is starttls


class GatedReloadStore(UnreadableStore):
    """Counts reloads (``meta`` is read once per reload); the first read after ``gate`` is set waits for it."""

    def __init__(self, path: str):
        super().__init__(path, error=disk_full)
        self.loads = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def meta(self):
        self.loads += 1
        gate, self.gate = self.gate, None
        if gate is not None:
            self.entered.set()
            assert gate.wait(DEADLINE_SECONDS), "the test never opened the gate"
        return super().meta()


def _in_function(thread: threading.Thread, name: str) -> bool:
    """Whether ``thread`` is now running inside a function whose name contains ``name`` (its stack, read live)."""
    import sys

    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if name in frame.f_code.co_name:
            return True
        frame = frame.f_back
    return False


def test_a_request_that_waited_for_another_requests_rebuild_does_not_rebuild_again(tmp_path, clock):
    """Monitor._rebuild_memory: 'another request rebuilt it meanwhile' -- memory is rebuilt once, not per request."""
    from .support import START_MINUTE as T0
    from .test_engine_edges import FAILED_FAST, post
    from .test_monitor import make_monitor

    store = GatedReloadStore(str(tmp_path / "m.db"))
    monitor = make_monitor(None, clock, rules=(FAILED_FAST,), store=store)
    post(monitor, 0)
    store.failing = store.failing_reads = True
    with pytest.raises(StoreError):
        post(monitor, 1, failed=5)  # the commit fails and so does the reload: memory is stale
    store.failing = store.failing_reads = False
    gate = store.gate = threading.Event()
    errors: list[BaseException] = []

    def request(minute: int) -> None:
        try:
            post(monitor, minute)
        except BaseException as exc:  # reported by the test below, not lost in the thread
            errors.append(exc)

    first = threading.Thread(target=request, args=(2,), daemon=True)
    second = threading.Thread(target=request, args=(3,), daemon=True)
    first.start()
    assert store.entered.wait(DEADLINE_SECONDS), "the first request never started rebuilding"
    second.start()
    wait_until(lambda: _in_function(second, "_rebuild_memory"), what="the second request waiting to rebuild")
    loads = store.loads
    gate.set()
    first.join(DEADLINE_SECONDS)
    second.join(DEADLINE_SECONDS)
    assert not first.is_alive() and not second.is_alive() and errors == []
    assert store.loads == loads  # the second request found memory rebuilt and used it
    assert store.counts_since(0) == [("status:approved", T0 + m, 100) for m in (0, 2, 3)]


def test_an_unreachable_webhook_is_a_delivery_error_naming_the_redacted_receiver_and_the_failure():
    from detection.channels import DeliveryError, WebhookChannel

    from .support import free_port
    from .test_delivery_payloads import _note

    port = free_port()  # nothing listens there
    channel = WebhookChannel("ops", f"http://user:s3cret@127.0.0.1:{port}/hook?token=s3cret")
    with pytest.raises(DeliveryError) as raised:
        channel.send(_note(), timeout=5.0)
    assert str(raised.value) == f"cannot reach the receiver http://***@127.0.0.1:{port}/hook?token=***: ConnectionError"
