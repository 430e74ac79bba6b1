"""GET /api/incidents and /api/incidents/<id>, alerts carrying their incident, and the open-incidents gauge, over HTTP."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.limits import MAX_INCIDENT_ID, MAX_INCIDENT_LIMIT
from detection.incidents import KINDS
from detection.metrics import minute_to_iso

from .support import START_MINUTE, StatusFeed

BASELINE = 90


class ClientFeed(StatusFeed):
    """The same minutes as StatusFeed, posted through the REST routes."""

    def __init__(self, client, monitor):
        super().__init__(monitor)
        self.client = client

    def post(self, minutes: int = 1, **changes: int) -> None:
        for _ in range(minutes):
            statuses, codes = self.records(self.minute, **changes)
            assert self.client.post("/api/transaction", json=statuses).status_code == 201
            assert self.client.post("/api/auth_code", json=codes).status_code == 201
            self.minute += 1


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


@pytest.fixture
def feed(app, client) -> ClientFeed:
    return ClientFeed(client, app.server.extensions["monitor"])


@pytest.fixture
def two_incidents(feed: ClientFeed) -> ClientFeed:
    """A failure burst that has resolved, then a denial spike still going on."""
    feed.post(BASELINE)
    feed.post(5, failed=5)
    feed.post(40)
    feed.post(6, c51=32, c59=8)
    return feed


def test_no_incidents_yet(client):
    assert client.get("/api/incidents").json == {"state": "all", "count": 0, "incidents": []}


def test_lists_filter_by_state_newest_first(client, two_incidents):
    every = client.get("/api/incidents").json
    assert every["count"] == 2
    assert [i["kind"] for i in every["incidents"]] == ["denial_spike", "processing_failure"]
    denial, failure = every["incidents"]
    assert denial["state"] == "open" and denial["resolved_at"] is None
    assert denial["started_at"] == minute_to_iso(START_MINUTE + BASELINE + 45)
    assert denial["title"] == "Denial spike driven by code 51 (insufficient funds)"
    assert [d["metric"] for d in denial["drivers"]] == ["auth_code:51", "auth_code:59"]
    assert failure["state"] == "resolved" and failure["severity"] == "critical"
    assert client.get("/api/incidents?state=open").json["incidents"] == [denial]
    assert client.get("/api/incidents?state=resolved").json["incidents"] == [failure]
    assert client.get("/api/incidents?limit=1").json == {"state": "all", "count": 1, "incidents": [denial]}
    assert client.get(f"/api/incidents?state=all&limit={MAX_INCIDENT_LIMIT}").json["count"] == 2


@pytest.mark.parametrize(("query", "names"), [
    ("limit=0", "'limit' must be from 1 to 1000, got 0"),
    (f"limit={MAX_INCIDENT_LIMIT + 1}", f"'limit' must be from 1 to {MAX_INCIDENT_LIMIT}, got {MAX_INCIDENT_LIMIT + 1}"),
    ("limit=ten", "'limit' must be an integer from 1 to 1000, got 'ten'"),
    ("state=firing", "'state' must be one of open, resolved, all, got 'firing'"),
    ("status=open", "unknown query parameter 'status'"),
])
def test_bad_parameters_are_refused_by_name(client, query, names):
    response = client.get(f"/api/incidents?{query}")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_parameter"
    assert names in response.json["message"]


def test_one_incident_by_id_and_404_naming_it(client, two_incidents):
    listed = client.get("/api/incidents").json["incidents"]
    for incident in listed:
        response = client.get(f"/api/incidents/{incident['id']}")
        assert response.status_code == 200 and response.json == incident
    missing = client.get("/api/incidents/inothere")
    assert missing.status_code == 404
    assert missing.json == {"error": "not_found", "message": "no incident with id 'inothere'"}
    too_long = client.get("/api/incidents/" + "i" * (MAX_INCIDENT_ID + 1))
    assert too_long.status_code == 400 and too_long.json["error"] == "invalid_parameter"


def test_every_fired_alert_carries_its_incident_and_the_incident_lists_it(client, two_incidents):
    incidents = client.get("/api/incidents").json["incidents"]
    alerts = client.get("/api/alerts").json["alerts"]
    assert alerts and all(a["state"] != "pending" for a in alerts)
    for incident in incidents:
        members = sorted(a["id"] for a in alerts if a["incident_id"] == incident["id"])
        assert members == sorted(incident["alerts"])
    assert {a["incident_id"] for a in alerts} == {i["id"] for i in incidents}


def open_incident_gauge(client) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        if family.name == "monitor_incidents_open":
            for sample in family.samples:
                out[(sample.labels["kind"], sample.labels["severity"])] = sample.value
    return out


def test_metrics_gauge_counts_open_incidents_by_kind_and_severity(client, two_incidents):
    gauge = open_incident_gauge(client)
    assert len(gauge) == len(KINDS) * 3
    assert gauge[("denial_spike", "warning")] == 1
    assert sum(gauge.values()) == 1  # the resolved failure incident is not open
    two_incidents.post(40)  # the denial spike ends and its quiet period passes
    assert sum(open_incident_gauge(client).values()) == 0
