"""Receivers that hang or fail hold up only their own channel; a full queue loses nothing."""

from __future__ import annotations

import json

from pytest_httpserver import HTTPServer

from detection.channels import WebhookChannel
from detection.incidents import OPENED, RESOLVED_TRANSITION

from .delivery_support import (
    CommittedIncidents,
    HangingReceiver,
    make_delivery,
    save_alerts,
    settle,
    spike,
    spike_alerts,
    tell,
    wait_until,
)


def _rows(delivery, **filters):
    return delivery.log.entries(1000, **filters)


def test_a_hanging_receiver_times_out_is_retried_and_does_not_hold_up_other_channels(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with HangingReceiver() as hanging:
        channels = [WebhookChannel("stuck", hanging.url), WebhookChannel("ops", httpserver.url_for("/hook"))]
        delivery = make_delivery(str(tmp_path / "monitor.db"), channels, timeout_seconds=0.6, max_attempts=2).start()
        try:
            save_alerts(delivery.store, spike_alerts())
            tell(delivery, OPENED, spike(spike_alerts()))
            # The healthy channel gets the opening while the stuck one is still waiting for an answer.
            wait_until(lambda: httpserver.log, what="the healthy channel's message")
            assert not _rows(delivery, channel="stuck", outcome="failed")
            save_alerts(delivery.store, spike_alerts(resolved=True))
            tell(delivery, RESOLVED_TRANSITION, spike(spike_alerts(resolved=True)))
            wait_until(lambda: len(httpserver.log) == 2, what="the resolving message on the healthy channel")
            wait_until(lambda: len(_rows(delivery, channel="stuck", outcome="failed")) == 2,
                       what="both transitions recorded failed on the stuck channel")
        finally:
            delivery.stop()
        assert len(hanging.connections) >= 2
    stuck = sorted(_rows(delivery, channel="stuck"), key=lambda r: r["id"])
    errors = [r for r in stuck if r["outcome"] == "error"]
    assert {r["attempt"] for r in errors} == {1, 2}
    assert all("no answer within 0.6 s" in r["detail"] for r in errors)
    assert [json.loads(req.get_data())["status"] for req, _ in httpserver.log] == ["firing", "resolved"]


def test_a_full_queue_drops_nothing_for_good(tmp_path, httpserver):
    """queue_size 1: transitions beyond it are turned away at ingest and found again in the committed incidents."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    committed = CommittedIncidents()
    delivery = make_delivery(str(tmp_path / "monitor.db"), [WebhookChannel("ops", httpserver.url_for("/hook"))],
                             incidents=committed, queue_size=1, reconcile_seconds=30).start()
    try:
        # Hold the store's writer lock (the dispatcher cannot write its outbox), so the one-slot queue fills
        # and further transitions are turned away, as on a busy ingest path.
        with delivery.store._lock:
            for n in range(4):  # four incidents, each opened then resolved
                alerts = spike_alerts()
                save_alerts(delivery.store, alerts)
                tell(delivery, OPENED, committed.commit(spike(alerts, f"inc-{n}")))
                done = spike_alerts(resolved=True)
                save_alerts(delivery.store, done)
                tell(delivery, RESOLVED_TRANSITION, committed.commit(spike(done, f"inc-{n}")))
        wait_until(lambda: len(_rows(delivery, channel="ops", outcome="delivered")) == 8,
                   what="all eight transitions delivered")
        settle(delivery)
    finally:
        delivery.stop()
    assert delivery.stats()["dropped"] > 0
    delivered = _rows(delivery, channel="ops", outcome="delivered")
    assert sorted((r["incident_id"], r["kind"]) for r in delivered) == [
        (f"inc-{n}", kind) for n in range(4) for kind in ("opened", "resolved")]
    # The last word on every incident reached the receiver: it was resolved.
    last = {}
    for req, _ in httpserver.log:
        body = json.loads(req.get_data())
        last[body["groupKey"]] = body["status"]
    assert last == {f"inc-{n}": "resolved" for n in range(4)}


def test_settled_means_nothing_is_in_flight(tmp_path):
    """wait_settled is the signal the "nothing more arrived" checks rely on: it must not say yes while a
    channel is still sending, and must say yes once every transition has its final outcome."""
    db = str(tmp_path / "monitor.db")
    with HangingReceiver() as hanging:
        delivery = make_delivery(db, [WebhookChannel("stuck", hanging.url)], timeout_seconds=30, max_attempts=1).start()
        try:
            save_alerts(delivery.store, spike_alerts())
            tell(delivery, OPENED, spike(spike_alerts()))
            wait_until(lambda: hanging.connections, what="the webhook mid-request")
            assert delivery.wait_settled(1.0) is False  # the stuck channel is still waiting for an answer
        finally:
            delivery.stop(timeout=1.0)
        assert delivery.wait_settled(1.0) is False  # a stopped worker never settles
    # Closing the hanging receiver failed that one attempt: "failed" is final. The next process on the
    # same file settles without sending it again, although its receiver answers.
    wait_until(lambda: _rows(delivery, channel="stuck", outcome="failed"), what="the attempt recorded failed")
    with HTTPServer() as receiver:
        receiver.expect_request("/hook", method="POST").respond_with_data("ok")
        again = make_delivery(db, [WebhookChannel("stuck", receiver.url_for("/hook"))]).start()
        try:
            settle(again)
        finally:
            again.stop()
        assert receiver.log == []
    assert [r["outcome"] for r in _rows(again, channel="stuck")] == ["failed", "error"]


def test_the_queue_depth_counts_transitions_not_the_wake_up_a_stop_leaves(tmp_path):
    from .delivery_support import make_app

    delivery = make_app(tmp_path, []).server.extensions["delivery"]
    delivery.start()
    delivery.stop()
    delivery._queue.put_nowait(None)  # what stop() leaves when the dispatcher had already seen ``stopping``
    assert delivery.stats()["queue_depth"] == 0
