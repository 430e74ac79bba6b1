"""Simulate scenarios, the demo stream, CSV replay and the --demo/--replay flags, on a real Monitor and store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis.synthetic import SyntheticStream
from app import config_from, create_app, main, start_feed
from detection import ConfigError, Monitor, Store, load_thresholds, parse_thresholds
from detection.metrics import minute_to_iso
from feeds.demo import LABELLED_BACKFILL_MINUTES, FeedRunner, FeedWriter
from feeds.replay import ReplayError, ReplaySource, read_export
from feeds.scenarios import SCENARIOS, scenario_length, scenario_minutes

ROOT = Path(__file__).resolve().parents[1]
START = 29_166_000

EXPECTED_ALERT = {
    "denial_51": {"auth_code:51", "status:denied"},
    "denial_59": {"auth_code:59", "status:denied"},
    "processing_failure": {"status:failed"},
    "reversal_burst": {"status:backend_reversed"},
    "approval_drop": {"status:approved", "auth_code:00"},
}


@pytest.fixture
def writer(monitor, clock) -> FeedWriter:
    clock.now = (START + 90) * 60.0 + 5
    feed = FeedWriter(monitor)
    feed.backfill(60)
    return feed


def firing_metrics(monitor: Monitor) -> set[str]:
    return {a.metric for a in monitor.snapshot(5).open_alerts if a.state == "firing"}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_ALERT))
def test_each_incident_scenario_fires_its_alert_at_once(monitor, writer, scenario):
    """Whatever thresholds are built in: every targeted metric that has a rule fires."""
    before = firing_metrics(monitor)
    newest = monitor.newest_event_minute()
    result = writer.simulate(scenario)
    assert result.first_minute == newest + 1
    ruled = EXPECTED_ALERT[scenario] & {r.metric for r in monitor.thresholds.rules}
    assert ruled <= firing_metrics(monitor) - before
    assert ruled  # the built-in rules cover every metric each scenario targets
    assert any(a["state"] == "firing" for a in result.alerts)
    assert result.last_minute - newest <= 5  # within the gate's 5 minutes ahead


WINDOW_RULES = {"version": 1, "rules": [
    {"id": "br", "type": "threshold", "metric": "status:backend_reversed", "direction": "above", "threshold": 1, "for": 1},
]}


def test_window_rules_get_their_whole_window():
    class WindowRule:
        metric, for_minutes, monotone = "status:backend_reversed", 1, True

        def params(self):
            return {"window": 5}

    rules = [WindowRule()]
    assert scenario_length(SCENARIOS["reversal_burst"], rules) == 5
    assert scenario_length(SCENARIOS["normal"], rules) == 1
    assert scenario_length(SCENARIOS["reversal_burst"], parse_thresholds(WINDOW_RULES, "t").rules) == 2


def test_normal_minute_raises_nothing(monitor, writer):
    before = {a.id for a in monitor.snapshot(5).open_alerts}
    result = writer.simulate("normal")
    assert result.first_minute == result.last_minute and result.accepted == 9
    assert {a.id for a in monitor.snapshot(5).open_alerts} == before


def test_feed_outage_leaves_a_gap_the_engine_reports(monitor, writer):
    newest = monitor.newest_event_minute()
    result = writer.simulate("feed_outage")
    assert result.first_minute == newest + 4
    gaps = [a for a in monitor.alerts("all", 20) if a.rule == "feed_gap" and a.started_at == newest + 1]
    assert {a.metric for a in gaps} == {"feed:status", "feed:auth_code"}
    assert all(a.last_breach_at == newest + 3 for a in gaps)


def test_the_demo_stream_continues_after_simulated_minutes(monitor, writer):
    result = writer.simulate("processing_failure")
    assert writer.stream_next() == result.last_minute + 1
    assert writer.stream_next() == result.last_minute + 2


def test_scenarios_follow_whatever_thresholds_are_loaded(clock):
    config = {"version": 1, "rules": [
        {"id": "f", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": 6, "for": 4},
        {"id": "a", "type": "threshold", "metric": "status:approved", "direction": "below", "threshold": 30, "for": 2},
    ]}
    monitor = Monitor(parse_thresholds(config, "test"), Store(":memory:"), clock=clock)
    clock.now = (START + 10) * 60.0
    feed = FeedWriter(monitor)
    assert scenario_length(SCENARIOS["processing_failure"], monitor.thresholds.rules) == 5
    feed.simulate("processing_failure")
    feed.simulate("approval_drop")
    assert {"status:failed", "status:approved"} <= firing_metrics(monitor)


def test_scenario_rows_keep_the_exports_identities():
    thresholds = load_thresholds()
    stream = SyntheticStream(0, 3, daily_cycle=False)
    for name in SCENARIOS:
        for minute in scenario_minutes(name, START, stream, thresholds.rules, thresholds.statuses, thresholds.auth_codes):
            status = {r["status"]: r["count"] for r in minute.status_rows}
            codes = {r["auth_code"]: r["count"] for r in minute.auth_rows}
            assert status["approved"] == codes["00"], name
            assert status["denied"] == codes["51"] + codes["59"], name
            assert all(isinstance(r["count"], int) and r["count"] >= 0 for r in minute.status_rows + minute.auth_rows)


def test_unknown_scenario_is_refused():
    thresholds = load_thresholds()
    with pytest.raises(ValueError, match="unknown scenario 'x'"):
        scenario_minutes("x", START, SyntheticStream(0), thresholds.rules, thresholds.statuses, thresholds.auth_codes)


def test_backfill_writes_a_day_once(monitor, clock):
    clock.now = (START + 2000) * 60.0
    feed = FeedWriter(monitor)
    accepted = feed.backfill()
    received = monitor.snapshot(1440).received["status"].count(True)
    # Six statuses and three codes for every minute sent; with dimensions configured (the built-in thresholds
    # have them) the last minutes are labelled: one row per label combination with traffic.
    labelled = [feed.labelled.stream_minute(m) for m in range(START + 2000 - LABELLED_BACKFILL_MINUTES + 1,
                                                              START + 2001)] if feed.labelled is not None else []
    assert accepted == 9 * (received - len(labelled)) + sum(len(s) + len(a) for s, a in labelled)
    assert received == 1440  # the whole day: this seeded stream has no outage in it
    assert monitor.newest_event_minute() <= START + 2000
    assert feed.backfill() == 0  # a store with data is never backfilled again


# ------------------------------------------------------------------ replay

def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_replay_reads_both_exports_in_minute_order(tmp_path, monitor, clock):
    transactions = write(tmp_path, "transactions.csv",
                         "timestamp,status,count\n2025-07-12 13:46:00,approved,110\n2025-07-12T13:45:00Z,approved,116\n"
                         "2025-07-12 13:45:00,failed,2\n")
    codes = write(tmp_path, "transactions_auth_codes.csv", "timestamp,auth_code,count\n2025-07-12 13:45:00,00,116\n")
    thresholds = monitor.thresholds
    source = ReplaySource(transactions, codes, thresholds.statuses, thresholds.auth_codes)
    minutes = list(source)
    assert [m for m, _, _ in minutes] == sorted(m for m, _, _ in minutes) and len(minutes) == 2
    assert minutes[0][2] == [{"timestamp": "2025-07-12T13:45:00Z", "auth_code": "00", "count": 116}]
    runner = FeedRunner(FeedWriter(monitor), speed=0, replay=source).start()
    runner._thread.join(timeout=60)
    assert not runner._thread.is_alive(), "the replay did not finish within 60 s"
    snap = monitor.snapshot(2)
    assert snap.counts["status:approved"] == (116, 110) and snap.counts["auth_code:00"] == (116, 0)


@pytest.mark.parametrize("text, message", [
    ("time,status,count\n", "line 1: missing column 'timestamp'; expected a header naming the columns timestamp, status, count in any order"),
    ("timestamp,status,count\nyesterday,approved,1\n", "line 2, column 'timestamp': expected a timestamp such as '2025-07-12 13:45:00'"),
    ("timestamp,status,count\n2025-07-12 13:45:00,approved,1\n2025-07-12 13:45:00,pending,1\n",
     "line 3, column 'status': unknown status 'pending'"),
    ("timestamp,status,count\n2025-07-12 13:45:00,approved,-4\n", "line 2, column 'count': expected a non-negative integer, got '-4'"),
    ("timestamp,status,count\n", "no data rows"),
])
def test_replay_errors_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ReplayError) as error:
        read_export(path, "status", ("approved", "failed"))
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_bad_replay_file_stops_start_up_with_one_line(tmp_path, capsys):
    path = write(tmp_path, "transactions.csv", "timestamp,status,count\n2025-07-12 13:45:00,pending,1\n")
    assert main(["--replay", str(path), "--db", ":memory:"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} line 2, column 'status': unknown status 'pending'") and "Traceback" not in err


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReplayError, match="file not found"):
        read_export(tmp_path / "nope.csv", "status", ("approved",))


def test_auth_codes_stay_strings(tmp_path):
    path = write(tmp_path, "codes.csv", "timestamp,auth_code,count\n2025-07-12 13:45:00,00,5\n")
    rows = read_export(path, "auth_code", ("00", "51", "59"))
    assert next(iter(rows.values()))[0]["auth_code"] == "00"


# ------------------------------------------------------------------ flags

def test_demo_flag_uses_a_memory_store_unless_told_otherwise():
    assert config_from(["--demo"], {}).db == ":memory:"
    assert config_from(["--demo", "--db", "demo.db"], {}).db == "demo.db"
    assert config_from([], {}).db == "monitor.db" and config_from([], {}).demo is False
    assert config_from([], {}).simulate is False and config_from([], {"MONITOR_SIMULATE": "1"}).simulate is True


def test_replay_flags(tmp_path):
    t, a = str(write(tmp_path, "t.csv", "")), str(write(tmp_path, "a.csv", ""))
    config = config_from(["--replay", t, "--auth-codes", a, "--speed", "120"], {})
    assert (config.replay, config.auth_codes_csv, config.speed) == (t, a, 120.0)
    with pytest.raises(ConfigError, match="--auth-codes: only used with --replay"):
        config_from(["--auth-codes", "a.csv"], {})
    with pytest.raises(ConfigError, match="--speed: expected a number"):
        config_from(["--demo", "--speed", "fast"], {})
    with pytest.raises(ConfigError, match="speed: expected 0 to 100000"):
        config_from(["--demo", "--speed", "-1"], {})


def test_without_demo_nothing_synthetic_is_written(tmp_path):
    app = create_app({"db": str(tmp_path / "m.db")})
    assert start_feed(app, app.server.extensions["monitor_config"]) is None
    assert app.server.extensions["monitor"].newest_event_minute() is None
    assert b"DEMO" not in app.server.test_client().get("/_dash-layout").data


def test_demo_mode_backfills_streams_and_shows_the_badge(monitor):
    app = create_app({"db": ":memory:", "demo": True, "speed": 6000}, monitor=monitor)
    runner = start_feed(app, app.server.extensions["monitor_config"])
    try:
        backfilled = monitor.newest_event_minute()
        assert backfilled is not None
        assert monitor.snapshot(1440).received["status"].count(True) > 1300
        deadline = time.monotonic() + 60  # speed 6000 posts a minute every 10 ms; 60 s holds on a loaded box
        while monitor.newest_event_minute() <= backfilled and time.monotonic() < deadline:
            time.sleep(0.05)
        assert monitor.newest_event_minute() > backfilled, "no live minute streamed within 60 s"
    finally:
        runner.stop()
    assert b"DEMO" in app.server.test_client().get("/_dash-layout").data


def test_page_is_served_with_local_css_only(client):
    page = client.get("/").get_data(as_text=True)
    assert "/vendor/bootstrap/bootstrap.min.css" in page
    assert "cdn" not in page.lower() and "https://" not in page
    # A file answer holds the file open until the response is closed.
    with client.get("/vendor/bootstrap/bootstrap.min.css") as css:
        assert css.status_code == 200
        assert b"Bootstrap" in css.data[:200]
    with client.get("/assets/monitor.css") as own:
        assert own.status_code == 200
        assert own.data == (ROOT / "assets" / "monitor.css").read_bytes()


def test_minute_to_iso_rows_validate(monitor, clock):
    clock.now = (START + 5) * 60.0
    accepted, _ = FeedWriter(monitor).post([{"timestamp": minute_to_iso(START), "status": "approved", "count": 1}], [])
    assert accepted == 1
