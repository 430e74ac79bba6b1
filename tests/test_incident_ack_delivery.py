"""An acknowledged incident stops reminding (repeat_interval) but still escalates and resolves, naming who is on it.

Real receivers (pytest-httpserver, Slack's and a webhook's bodies), a real store file holding the incidents and
their acknowledgements, and a wall clock the test moves: "no reminder" is asserted after the worker settled past
several intervals, beside an unacknowledged incident that keeps being reminded of over the same time.
"""

from __future__ import annotations

import json
import time

from detection.channels import SlackChannel, WebhookChannel
from detection.delivery import Delivery
from detection.incident_actions import IncidentActions
from detection.incidents import ESCALATED, OPEN, OPENED, RESOLVED_TRANSITION, Incident
from detection.metrics import epoch_to_iso
from detection.notify_config import DeliverySettings
from detection.silences import Silences
from detection.store import PendingWrite, SqlStore

from .delivery_support import DASHBOARD, TIMINGS, save_alerts, settle, spike, spike_alerts, tell, wait_until

INTERVAL = 100.0


def commit(store: SqlStore, incident: Incident) -> Incident:
    """Write the incident to the store's incidents table, as the tracker's commit does."""
    store.write(PendingWrite({}, [], [], {}, {}, incidents=[incident.copy()]))
    return incident


def _bodies(httpserver, path: str) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def test_an_acknowledged_incident_gets_no_reminders_but_its_escalation_and_resolution_go_out(backend, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    now = [time.time()]
    store = backend.store()
    actions = IncidentActions(store, clock=lambda: now[0])
    delivery = Delivery(
        store, [WebhookChannel("ops", httpserver.url_for("/hook")), SlackChannel("chat", httpserver.url_for("/slack"))],
        # A send timeout far above the receiver's answer time even on a loaded machine: this test counts every
        # message the receiver got, and a slow "ok" past a 1 s timeout is retried (at-least-once), which logs the
        # same message twice (seen on both backends with the suite running beside other work).
        DeliverySettings(**{**TIMINGS, "repeat_interval_seconds": INTERVAL, "timeout_seconds": 10.0}),
        Silences(store, lambda: now[0]),
        DASHBOARD, clock=lambda: now[0],
        incidents=lambda full: store.incidents(None if full else [OPEN], limit=1000),
        acknowledged=actions.acknowledged,
    ).start()

    def sent() -> list[tuple[str, str]]:
        return [(b["groupKey"], b["commonAnnotations"]["transition"]) for b in _bodies(httpserver, "/hook")]

    acked, other = spike_alerts(), spike_alerts(members=(("failed_high", "status:failed", "critical", 3),))
    try:
        save_alerts(store, acked + other)
        tell(delivery, OPENED, commit(store, spike(acked, "inc-acked")))
        tell(delivery, OPENED, commit(store, spike(other, "inc-other", title="Processing failures")))
        wait_until(lambda: len(sent()) == 2, what="both openings")
        settle(delivery)
        now[0] += INTERVAL
        settle(delivery)
        assert sorted(sent()[2:]) == [("inc-acked", "repeat"), ("inc-other", "repeat")]  # reminders do run

        _, record = actions.acknowledge("inc-acked", {"by": "alice", "note": "calling the issuer"})
        assert record.acknowledged is not None
        for _ in range(3):  # three intervals: the other incident is reminded of each time, the acknowledged never
            now[0] += INTERVAL
            settle(delivery)
        assert sent()[4:] == [("inc-other", "repeat")] * 3

        worse = spike(acked, "inc-acked", severity="critical", drivers=(("auth_code:51", 0.7), ("auth_code:59", 0.3)))
        tell(delivery, ESCALATED, commit(store, worse))
        wait_until(lambda: ("inc-acked", "escalated") in sent(), what="the escalation")
        done = spike_alerts(resolved=True)
        save_alerts(store, done)
        tell(delivery, RESOLVED_TRANSITION, commit(store, spike(done, "inc-acked")))
        wait_until(lambda: ("inc-acked", "resolved") in sent(), what="the resolution")
        settle(delivery)
    finally:
        delivery.stop()
        store.close()

    assert [k for g, k in sent() if g == "inc-acked"] == ["opened", "repeat", "escalated", "resolved"]
    who = f"alice at {epoch_to_iso(record.acknowledged.at)}"
    escalation = next(b for b in _bodies(httpserver, "/hook") if b["commonAnnotations"]["transition"] == "escalated")
    assert escalation["commonAnnotations"]["acknowledged_by"] == who
    slack = [json.loads(req.get_data())["text"] for req, _ in httpserver.log if req.path == "/slack"]
    escalated_text = next(t for t in slack if "ESCALATED" in t.split("\n")[0])
    assert f"acknowledged by {who}" in escalated_text
    opening = next(b for b in _bodies(httpserver, "/hook") if b["groupKey"] == "inc-acked")
    assert "acknowledged_by" not in opening["commonAnnotations"]  # it was not acknowledged yet when it opened


def test_the_app_wires_acknowledgements_made_over_http_into_its_delivery(backend):
    app = backend.app()
    client = app.server.test_client()
    store = app.server.extensions["monitor"].store
    alerts = spike_alerts()
    save_alerts(store, alerts)
    commit(store, spike(alerts, "inc-http"))
    delivery = app.server.extensions["delivery"]
    assert delivery.acknowledged(["inc-http"]) == {}
    assert client.post("/api/incidents/inc-http/ack", json={"by": "bob"}).status_code == 200
    assert delivery.acknowledged(["inc-http"])["inc-http"].by == "bob"
