"""Receivers that hang or fail hold up only their own channel; a full queue loses nothing."""

from __future__ import annotations

import json

from pytest_httpserver import HTTPServer

from .delivery_support import HangingReceiver, fire, log_rows, make_app, post_minute, resolve, settle, wait_until


def test_a_hanging_receiver_times_out_is_retried_and_does_not_hold_up_other_channels(tmp_path, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with HangingReceiver() as hanging:
        channels = [
            {"type": "webhook", "name": "stuck", "url": hanging.url},
            {"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")},
        ]
        app = make_app(tmp_path, channels, timeout_seconds=0.6, max_attempts=2)
        client = app.server.test_client()
        delivery = app.server.extensions["delivery"].start()
        try:
            fire(client)
            # The healthy channel gets the firing message while the stuck one is still waiting for an answer.
            wait_until(lambda: httpserver.log, what="the healthy channel's message")
            assert not log_rows(client, channel="stuck", outcome="failed")
            resolve(client)
            wait_until(lambda: len(httpserver.log) == 2, what="the resolved message on the healthy channel")
            wait_until(lambda: len(log_rows(client, channel="stuck", outcome="failed")) == 2,
                       what="both transitions recorded failed on the stuck channel")
        finally:
            delivery.stop()
        assert len(hanging.connections) >= 2
    stuck = sorted(log_rows(client, channel="stuck"), key=lambda r: r["id"])
    errors = [r for r in stuck if r["outcome"] == "error"]
    assert {r["attempt"] for r in errors} == {1, 2}
    assert all("no answer within 0.6 s" in r["detail"] for r in errors)
    assert [json.loads(req.get_data())["status"] for req, _ in httpserver.log] == ["firing", "resolved"]


def test_a_full_queue_drops_nothing_for_good(tmp_path, httpserver):
    """queue_size 1: transitions beyond it are turned away at ingest and found again by a reconcile."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(tmp_path, [{"type": "webhook", "name": "ops", "url": httpserver.url_for("/hook")}],
                   queue_size=1, reconcile_seconds=30)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"]
    delivery.start()
    try:
        # Hold the store's writer lock on this thread (ingest re-enters it; the dispatcher cannot write its
        # outbox), so the one-slot queue fills and further transitions are turned away at ingest.
        with delivery.store._lock:
            for episode in range(4):  # four separate episodes: fire, then resolve
                post_minute(client, episode * 6, failed=2)
                for minute in range(episode * 6 + 1, episode * 6 + 6):
                    post_minute(client, minute, failed=0)
    except Exception:
        delivery.stop()
        raise
    try:
        wait_until(lambda: len(log_rows(client, channel="ops", outcome="delivered")) == 8,
                   what="all eight transitions delivered")
        settle(delivery)
    finally:
        delivery.stop()
    assert delivery.stats()["dropped"] > 0
    delivered = log_rows(client, channel="ops", outcome="delivered")
    assert sorted(r["kind"] for r in delivered) == ["firing"] * 4 + ["resolved"] * 4
    assert len({(r["alert_id"], r["kind"]) for r in delivered}) == 8


def test_settled_means_nothing_is_in_flight(tmp_path):
    """wait_settled is the signal the "nothing more arrived" checks rely on: it must not say yes while a
    channel is still sending, and must say yes once every transition has its final outcome."""
    with HangingReceiver() as hanging:
        app = make_app(tmp_path, [{"type": "webhook", "name": "stuck", "url": hanging.url}],
                       timeout_seconds=30, max_attempts=1)
        client = app.server.test_client()
        delivery = app.server.extensions["delivery"].start()
        try:
            fire(client)
            wait_until(lambda: hanging.connections, what="the webhook mid-request")
            assert delivery.wait_settled(1.0) is False  # the stuck channel is still waiting for an answer
        finally:
            delivery.stop(timeout=1.0)
        assert delivery.wait_settled(1.0) is False  # a stopped worker never settles
    # Closing the hanging receiver failed that one attempt: "failed" is final. The next process on the
    # same file settles without sending it again, although its receiver answers.
    wait_until(lambda: log_rows(client, channel="stuck", outcome="failed"), what="the attempt recorded failed")
    (tmp_path / "next").mkdir()
    with HTTPServer() as receiver:
        receiver.expect_request("/hook", method="POST").respond_with_data("ok")
        app = make_app(tmp_path / "next", [{"type": "webhook", "name": "stuck", "url": receiver.url_for("/hook")}],
                       db=str(tmp_path / "monitor.db"))
        again = app.server.extensions["delivery"].start()
        try:
            settle(again)
        finally:
            again.stop()
        assert receiver.log == []
    assert [r["outcome"] for r in log_rows(app.server.test_client(), channel="stuck")] == ["failed", "error"]
