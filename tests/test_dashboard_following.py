"""The opened incident's detail kept current (callbacks/following.py), without a browser: which parts are sent when."""

from __future__ import annotations

import pytest
from dash import no_update

from app import create_app
from callbacks.actions import PageActions, RouteClient
from callbacks.following import DetailFollower
from callbacks.unchanged import drawn_digests
from components.actions import NOTE_TEXT
from detection import Monitor, Store, load_thresholds

from .support import StatusFeed

NOW = 1_790_000_000.0


@pytest.fixture
def opened():
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW)
    feed = StatusFeed(monitor)
    feed.post(90)
    feed.post(8, c51=32, c59=8)  # an open code-51 denial spike
    app = create_app({"db": ":memory:"}, monitor=monitor)
    page = PageActions(monitor, app.server.extensions["incident_actions"], RouteClient(app.server), None)
    (incident,) = monitor.incidents("open")
    return app, feed, page, DetailFollower(monitor, page), incident.id


def sent(parts: dict) -> set[str]:
    return {name for name, value in parts.items() if value is not no_update}


def test_nothing_is_sent_while_the_incident_is_as_the_click_drew_it(opened):
    _app, _feed, page, follower, iid = opened
    drawn = drawn_digests(page.detail(iid, "alice", None))
    assert drawn["incident"] == iid and {"info", "record", "forms"} <= set(drawn)
    parts, digests = follower.parts(iid, "alice", None, {}, drawn)
    assert sent(parts) == set()
    assert digests == {k: v for k, v in drawn.items() if k != "incident"}


def test_each_change_sends_only_its_part(opened):
    app, feed, page, follower, iid = opened
    client = app.server.test_client()
    before = drawn_digests(page.detail(iid, "alice", None))
    before.pop("incident")

    assert client.post(f"/api/incidents/{iid}/ack", json={"by": "bob"}).status_code == 200
    parts, after_ack = follower.parts(iid, "alice", None, {NOTE_TEXT: "half-written"}, before)
    assert sent(parts) == {"record", "forms"}  # who acknowledged; Acknowledge no longer applies
    assert "acknowledged by bob" in str(parts["record"])
    assert "half-written" in str(parts["forms"]) and "Acknowledge" not in str(parts["forms"])

    assert client.post(f"/api/incidents/{iid}/notes", json={"by": "carol", "text": "issuer down"}).status_code == 201
    parts, after_note = follower.parts(iid, "alice", None, {}, after_ack)
    assert sent(parts) == {"record"} and "issuer down" in str(parts["record"])

    feed.post(1, c51=32, c59=8)  # the spike goes on a minute: the timeline reaches further
    parts, _ = follower.parts(iid, "alice", None, {}, after_note)
    assert sent(parts) == {"info"}


def test_a_detail_without_actions_follows_its_facts_only(opened):
    _app, feed, _page, _follower, iid = opened
    follower = DetailFollower(feed.monitor, None)
    parts, digests = follower.parts(iid, None, None, {}, {})
    assert set(digests) == {"info"} and sent(parts) == {"info"}
    assert follower.parts("no-such-incident", None, None, {}, {}) is None
