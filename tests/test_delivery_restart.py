"""At-least-once across restarts: a committed transition that was not delivered is delivered by the next process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from detection import Monitor, Store, parse_thresholds, validate_records

from .delivery_support import DEADLINE, THRESHOLDS, fire, log_rows, make_app, post_minute, resolve, settle, wait_until

ROOT = Path(__file__).resolve().parents[1]

# A monitor process whose only receiver never answers; it fires an alert, says so, then waits to be killed.
DOOMED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from delivery_support import HangingReceiver, fire, make_app
    from pathlib import Path
    with HangingReceiver() as hanging:
        app = make_app(Path({folder!r}), [{{"type": "webhook", "name": "ops", "url": hanging.url}}],
                       db={db!r}, timeout_seconds=30)
        app.server.extensions["delivery"].start()
        fire(app.server.test_client())
        deadline = time.monotonic() + 60
        while not hanging.connections:
            if time.monotonic() > deadline:
                sys.exit("the webhook never connected within 60 s")
            time.sleep(0.01)
        print("sending", flush=True)
        time.sleep(120)  # killed long before this ends
""")


def test_a_process_killed_mid_delivery_delivers_after_restart(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    first = tmp_path / "first"
    first.mkdir()
    script = DOOMED.format(root=str(ROOT), tests=str(ROOT / "tests"), folder=str(first), db=db)
    errors = tmp_path / "doomed.err"
    with errors.open("w") as stderr, subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                                      stderr=stderr, text=True) as proc:
        try:
            # The webhook is mid-request once the child says so. Its line is read by a thread, so a child
            # that hangs or dies fails the test within the deadline instead of blocking it in readline().
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
            try:
                line = lines.get(timeout=DEADLINE)
            except queue.Empty:
                line = f"nothing within {DEADLINE} s"
            assert line.strip() == "sending", (line, proc.poll(), errors.read_text())
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    second = tmp_path / "second"
    second.mkdir()
    app = make_app(second, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}], db=db)
    client = app.server.test_client()
    assert client.get("/api/alerts", query_string={"state": "firing"}).get_json()["count"] == 1
    delivery = app.server.extensions["delivery"].start()
    try:
        wait_until(lambda: httpserver.log, what="the firing message after the restart")
        settle(delivery)
        resolve(client)  # the restarted process carries on: resolved goes out once too
        wait_until(lambda: len(httpserver.log) == 2, what="the resolved message")
        settle(delivery)
    finally:
        delivery.stop()
    assert [json.loads(r.get_data())["status"] for r, _ in httpserver.log] == ["firing", "resolved"]
    rows = log_rows(client, channel="ops", outcome="delivered")
    assert sorted(r["kind"] for r in rows) == ["firing", "resolved"]


def test_transitions_committed_while_the_worker_was_down_are_sent_once(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    channels = [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()

    # The first process commits a firing alert and dies before its worker ever ran.
    down = make_app(tmp_path / "a", channels, db=db)
    fire(down.server.test_client())

    # The second delivers it; the third, on the same file, has nothing left to send.
    for folder in ("b", "c"):
        app = make_app(tmp_path / folder, channels, db=db)
        delivery = app.server.extensions["delivery"].start()
        try:
            wait_until(lambda: httpserver.log, what="the firing message")
            settle(delivery)
        finally:
            delivery.stop()
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].get_data())["alerts"][0]["labels"]["alertname"] == "failed_high"


def test_alerts_from_before_notifications_existed_are_not_sent(tmp_path, httpserver):
    """A store filled by a bare Monitor (a replay, an older version) must not page about its history."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    store = Store(db)
    monitor = Monitor(parse_thresholds(THRESHOLDS, "test"), store)
    for minute, failed in enumerate([3, 3, 0, 0, 0]):
        stamp = f"2025-07-12 12:{minute:02d}:00"
        records = [{"timestamp": stamp, "status": "approved", "count": 100},
                   {"timestamp": stamp, "status": "failed", "count": failed}]
        monitor.ingest(validate_records(records, "status", frozenset(monitor.thresholds.statuses)))
    assert monitor.alerts("resolved", 10)
    store.close()

    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}], db=db)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()
    try:
        settle(delivery)
        assert httpserver.log == []
        post_minute(client, 0, failed=5)  # a new episode is sent as usual
        wait_until(lambda: httpserver.log, what="the new episode's firing message")
    finally:
        delivery.stop()
    assert len(httpserver.log) == 1
