"""The opened incident's detail follows the incident while it is open (headless Chromium, dash_duo, real Monitor).

Others act on the incident over the REST API and the engine goes on (it resolves);
the detail on the page shows each change within a refresh, keeps a half-written note
in its box, and once nothing changes the refresh that keeps it current sends nothing.
"""

from __future__ import annotations

import threading

import pytest
from flask import request

from app import create_app
from components import ids
from detection import Monitor, Store, load_thresholds

from .support import StatusFeed
from .test_dashboard_actions_browser import field, open_detail, type_into
from .test_dashboard_browser import open_dashboard, text_of, wait_until

NOW = 1_790_000_000.0
REFRESH_MS = 1500


class FollowAnswers:
    """The status codes of the answers to the detail-following callback (204: nothing sent)."""

    def __init__(self, server):
        self.codes: list[int] = []
        self._lock = threading.Lock()
        server.after_request(self._see)

    def _see(self, response):
        if request.path == "/_dash-update-component" and ids.DETAIL_DIGESTS.encode() in request.get_data():
            with self._lock:
                self.codes.append(response.status_code)
        return response

    def count(self) -> int:
        with self._lock:
            return len(self.codes)


@pytest.fixture
def spike():
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW)
    feed = StatusFeed(monitor)
    feed.post(90)
    feed.post(8, c51=32, c59=8)  # a denial spike, mostly insufficient funds, still going: the open incident
    app = create_app({"db": ":memory:", "refresh_ms": REFRESH_MS}, monitor=monitor)
    app.server.extensions["follow_answers"] = FollowAnswers(app.server)
    return app, feed


def post(app, path: str, body: dict) -> None:
    answer = app.server.test_client().post(path, json=body)
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)


def test_the_opened_incident_follows_acknowledgement_notes_and_resolution(dash_duo, spike):
    app, feed = spike
    monitor = feed.monitor
    (incident,) = monitor.incidents("open")
    open_dashboard(dash_duo, app)
    detail = open_detail(dash_duo, incident.id, "open")
    assert [b.text for b in dash_duo.find_elements(f"{detail} button") if b.text == "Acknowledge"]
    type_into(dash_duo, "note-text", incident.id, "half-written note")
    box = field(dash_duo, "note-text", incident.id)

    # Another analyst acknowledges it over the REST API: the page says so, and Acknowledge is gone.
    post(app, f"/api/incidents/{incident.id}/ack", {"by": "bob", "note": "on it"})
    wait_until(dash_duo, lambda: "acknowledged by bob" in dash_duo.find_element(f"{detail} .incident-record").text,
               "the detail did not show bob's acknowledgement")
    wait_until(dash_duo, lambda: not [b for b in dash_duo.find_elements(f"{detail} button") if b.text == "Acknowledge"],
               "Acknowledge is still offered for an acknowledged incident")
    # The forms were redrawn (which actions apply changed), with what was typed kept.
    assert field(dash_duo, "note-text", incident.id).get_attribute("value") == "half-written note"

    # A note over the API: only the record is redrawn, the very box being typed in stays as it is.
    box = field(dash_duo, "note-text", incident.id)
    post(app, f"/api/incidents/{incident.id}/notes", {"by": "carol", "text": "issuer confirms an outage"})
    wait_until(dash_duo, lambda: "issuer confirms an outage" in dash_duo.find_element(f"{detail} .incident-notes").text,
               "the detail did not show carol's note")
    assert box.get_attribute("value") == "half-written note"  # the same element: not replaced (no stale reference)

    # The spike ends and the incident resolves: state, time span and the resolved-only actions follow.
    feed.post(20)
    (resolved,) = [i for i in monitor.incidents("resolved") if i.id == incident.id]
    wait_until(dash_duo, lambda: text_of(dash_duo, f"{detail} .incident-state") == "resolved",
               "the detail still says the incident is open")
    assert "from " in text_of(dash_duo, f"{detail} .incident-since")
    wait_until(dash_duo, lambda: [b for b in dash_duo.find_elements(f"{detail} button") if b.text == "Mark false alarm"],
               "the resolved incident's detail offers no Mark false alarm")
    members = dash_duo.find_elements(f"{detail} .incident-members tbody tr")
    assert len(members) == len(resolved.alert_ids)
    assert all(r.find_elements("css selector", "td")[4].text != "open" for r in members)  # each one's end is shown

    # Nothing changes any more: the next answers of the following callback send nothing (204).
    answers = app.server.extensions["follow_answers"]
    seen = answers.count()
    wait_until(dash_duo, lambda: answers.count() >= seen + 3, "the detail is not being followed")
    assert answers.codes[-2:] == [204, 204]
    assert field(dash_duo, "note-text", incident.id).get_attribute("value") == "half-written note"
    assert dash_duo.get_logs() == []
