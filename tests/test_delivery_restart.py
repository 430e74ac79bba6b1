"""At-least-once across restarts: a committed incident transition that was not delivered is delivered by the next
process, once."""

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

from werkzeug import Request, Response

from detection.channels import WebhookChannel
from detection.incidents import OPENED, RESOLVED_TRANSITION

from .delivery_support import (
    DEADLINE,
    SPIKE_ID,
    CommittedIncidents,
    make_delivery,
    save_alerts,
    settle,
    spike,
    spike_alerts,
    tell,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]

# A process whose only receiver never answers; it opens an incident, says so, then waits to be killed.
DOOMED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from delivery_support import HangingReceiver, make_delivery, save_alerts, spike, spike_alerts, tell
    from detection.channels import WebhookChannel
    with HangingReceiver() as hanging:
        delivery = make_delivery({db!r}, [WebhookChannel("ops", hanging.url)], timeout_seconds=30).start()
        save_alerts(delivery.store, spike_alerts())
        tell(delivery, "opened", spike(spike_alerts()))
        deadline = time.monotonic() + 60
        while not hanging.connections:
            if time.monotonic() > deadline:
                sys.exit("the webhook never connected within 60 s")
            time.sleep(0.01)
        print("sending", flush=True)
        time.sleep(120)  # killed long before this ends
""")


def _statuses(httpserver) -> list[tuple[str, str]]:
    return [(b["groupKey"], b["commonAnnotations"]["transition"])
            for b in (json.loads(r.get_data()) for r, _ in httpserver.log)]


def test_a_process_killed_mid_delivery_delivers_after_restart(tmp_path, httpserver):
    """The opening reached the outbox, then the process died mid-request: the next one sends it, once."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    script = DOOMED.format(root=str(ROOT), tests=str(ROOT / "tests"), db=db)
    errors = tmp_path / "doomed.err"
    with errors.open("w") as stderr, subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                                      stderr=stderr, text=True) as proc:
        try:
            # Read by a thread, so a child that hangs or dies fails the test within the deadline.
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

    # No incident source here: the open outbox row alone is enough to re-send the opening.
    delivery = make_delivery(db, [WebhookChannel("ops", httpserver.url_for("/hook"))]).start()
    try:
        wait_until(lambda: httpserver.log, what="the opening after the restart")
        settle(delivery)
        done = spike_alerts(resolved=True)  # the restarted process carries on: the resolution goes out once too
        save_alerts(delivery.store, done)
        tell(delivery, RESOLVED_TRANSITION, spike(done))
        wait_until(lambda: len(httpserver.log) == 2, what="the resolving message")
        settle(delivery)
    finally:
        delivery.stop()
    assert _statuses(httpserver) == [(SPIKE_ID, "opened"), (SPIKE_ID, "resolved")]
    body = json.loads(httpserver.log[0][0].get_data())
    assert len(body["alerts"]) == 3


def test_an_opening_committed_while_the_worker_was_down_is_sent_once(tmp_path, httpserver):
    """The reconcile finds committed incidents the outbox never saw; a third process has nothing left to send."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    channels = [WebhookChannel("ops", httpserver.url_for("/hook"))]
    committed = CommittedIncidents()

    # The first process commits the incident and dies before its worker ever ran: the listener drops it.
    down = make_delivery(db, channels, incidents=committed)
    save_alerts(down.store, spike_alerts())
    tell(down, OPENED, committed.commit(spike(spike_alerts())))

    for _ in range(2):  # the second delivers it; the third, on the same file, settles without sending
        delivery = make_delivery(db, channels, incidents=committed).start()
        try:
            wait_until(lambda: httpserver.log, what="the opening")
            settle(delivery)
        finally:
            delivery.stop()
    assert _statuses(httpserver) == [(SPIKE_ID, "opened")]
    assert [len(json.loads(r.get_data())["alerts"]) for r, _ in httpserver.log] == [3]


def test_an_escalation_and_a_resolution_missed_while_down_are_sent_once_each(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    channels = [WebhookChannel("ops", httpserver.url_for("/hook"))]
    two = spike_alerts(members=(("denied_high", "status:denied", "warning", 0),
                                ("denied_share_high", "rate:denied", "warning", 1)))
    committed = CommittedIncidents()
    first = make_delivery(db, channels, incidents=committed).start()
    try:
        save_alerts(first.store, two)
        tell(first, OPENED, committed.commit(spike(two)))
        wait_until(lambda: httpserver.log, what="the opening")
        settle(first)
    finally:
        first.stop()
    # While nobody listened it escalated (a critical member joined): one escalation on the next start.
    save_alerts(first.store, spike_alerts())
    committed.commit(spike(spike_alerts()))
    second = make_delivery(db, channels, incidents=committed).start()
    try:
        wait_until(lambda: len(httpserver.log) == 2, what="the escalation")
        settle(second)
    finally:
        second.stop()
    # Then it resolved while nobody listened: one resolution.
    save_alerts(first.store, spike_alerts(resolved=True))
    committed.commit(spike(spike_alerts(resolved=True)))
    third = make_delivery(db, channels, incidents=committed).start()
    try:
        wait_until(lambda: len(httpserver.log) == 3, what="the resolution")
        settle(third)
    finally:
        third.stop()
    assert _statuses(httpserver) == [(SPIKE_ID, "opened"), (SPIKE_ID, "escalated"), (SPIKE_ID, "resolved")]
    assert json.loads(httpserver.log[1][0].get_data())["commonAnnotations"]["severity"] == "critical"


def test_incidents_from_before_the_outbox_existed_are_not_sent(tmp_path, httpserver):
    """A store whose incidents were written before notifications existed (a replay) must not page about its history."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = str(tmp_path / "monitor.db")
    old_open = spike(spike_alerts(), "inc-old-open")
    old_done = spike(spike_alerts(resolved=True), "inc-old-done")
    committed = CommittedIncidents(old_open, old_done)
    delivery = make_delivery(db, [WebhookChannel("ops", httpserver.url_for("/hook"))], incidents=committed).start()
    try:
        settle(delivery)
        assert httpserver.log == []
        alerts = spike_alerts()
        save_alerts(delivery.store, alerts)
        tell(delivery, OPENED, committed.commit(spike(alerts, "inc-new")))  # a new incident is sent as usual
        wait_until(lambda: httpserver.log, what="the new incident's opening")
        settle(delivery)
    finally:
        delivery.stop()
    assert _statuses(httpserver) == [("inc-new", "opened")]


def test_after_a_restart_only_the_channel_that_had_not_delivered_gets_the_message(tmp_path, httpserver):
    """Two receivers; one answers 500 until the restart. The open outbox row goes to that one alone: the
    receiver that already had the opening gets exactly one message in all."""
    failing = threading.Event()
    failing.set()

    def flaky(request: Request) -> Response:
        return Response("down", status=500) if failing.is_set() else Response("ok")

    httpserver.expect_request("/good", method="POST").respond_with_data("ok")
    httpserver.expect_request("/flaky", method="POST").respond_with_handler(flaky)
    db = str(tmp_path / "monitor.db")
    channels = [WebhookChannel("good", httpserver.url_for("/good")), WebhookChannel("flaky", httpserver.url_for("/flaky"))]

    def received(path: str) -> list[str]:
        return [json.loads(r.get_data())["commonAnnotations"]["transition"]
                for r, answer in httpserver.log if r.path == path and answer.status_code == 200]

    # Many attempts with a long pause: the flaky channel is still retrying when the process stops.
    first = make_delivery(db, channels, max_attempts=50, backoff_seconds=30, backoff_max_seconds=30).start()
    try:
        save_alerts(first.store, spike_alerts())
        tell(first, OPENED, spike(spike_alerts()))
        # Waited for in the delivery log, which each sender writes after its receiver answered.
        wait_until(lambda: {(e["channel"], e["outcome"]) for e in first.log.entries()} == {
            ("good", "delivered"), ("flaky", "error")}, what="the opening delivered to one receiver and refused by the other")
    finally:
        first.stop()
    assert [finished for _entry, finished in first.log.open_entries()] == [{"good"}]  # open for the flaky one only

    failing.clear()
    second = make_delivery(db, channels).start()
    try:
        wait_until(lambda: received("/flaky"), what="the opening re-sent to the channel that had not delivered")
        settle(second)
    finally:
        second.stop()
    assert received("/flaky") == ["opened"]
    assert received("/good") == ["opened"]  # once: the restart did not send it again where it had arrived
    assert [(e["channel"], e["outcome"]) for e in second.log.entries(outcome="delivered")] == [
        ("flaky", "delivered"), ("good", "delivered")]
    assert second.log.open_entries() == []
