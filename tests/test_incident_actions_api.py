"""Acknowledging, noting and labelling incidents over HTTP, on a real app and SQLite file: success, every refusal, token, restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import jsonschema
import pytest

from detection.incident_actions import MAX_BY, MAX_NOTES, MAX_REASON, MAX_TEXT
from detection.store import Store

from .support import StatusFeed

BASELINE = 90
TOKEN = "actions-test-token"


class ClientFeed(StatusFeed):
    """The same minutes as StatusFeed, posted through the REST routes."""

    def __init__(self, client, monitor, headers=None):
        super().__init__(monitor)
        self.client = client
        self.headers = headers or {}

    def post(self, minutes: int = 1, **changes: int) -> None:
        for _ in range(minutes):
            statuses, codes = self.records(self.minute, **changes)
            assert self.client.post("/api/transaction", json=statuses, headers=self.headers).status_code == 201
            assert self.client.post("/api/auth_code", json=codes, headers=self.headers).status_code == 201
            self.minute += 1


def make_incidents(client, app, headers=None) -> tuple[str, str]:
    """(open denial spike, resolved processing failure) ids, posted through the API."""
    feed = ClientFeed(client, app.server.extensions["monitor"], headers)
    feed.post(BASELINE)
    feed.post(5, failed=5)
    feed.post(40)
    feed.post(6, c51=32, c59=8)
    incidents = {i["kind"]: i for i in client.get("/api/incidents").json["incidents"]}
    assert incidents["denial_spike"]["state"] == "open" and incidents["processing_failure"]["state"] == "resolved"
    return incidents["denial_spike"]["id"], incidents["processing_failure"]["id"]


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


@pytest.fixture
def ids(app, client) -> tuple[str, str]:
    return make_incidents(client, app)


def recent(iso: str) -> bool:
    """A wall-clock time from the last minute (the action was just taken)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return abs((datetime.now(UTC) - moment).total_seconds()) < 60


def test_an_incident_nobody_acted_on_has_empty_actions(client, ids):
    opened, resolved = ids
    for incident in client.get("/api/incidents").json["incidents"]:
        assert (incident["acknowledged"], incident["notes"], incident["label"]) == (None, [], None)
    assert client.get(f"/api/incidents/{opened}").json["acknowledged"] is None


def test_acknowledging_an_open_incident_shows_who_and_when_everywhere(client, ids):
    opened, _ = ids
    response = client.post(f"/api/incidents/{opened}/ack", json={"by": "alice", "note": "looking at code 51"})
    assert response.status_code == 200
    ack = response.json["acknowledged"]
    assert (ack["by"], ack["note"]) == ("alice", "looking at code 51") and recent(ack["at"])
    assert response.json["id"] == opened and response.json["state"] == "open"
    assert client.get(f"/api/incidents/{opened}").json["acknowledged"] == ack
    listed = {i["id"]: i for i in client.get("/api/incidents").json["incidents"]}
    assert listed[opened]["acknowledged"] == ack
    assert client.post(f"/api/incidents/{opened}/notes", json={"by": "bob", "text": "x"}).json["acknowledged"] == ack


@pytest.mark.parametrize("note", [{}, {"note": None}, {"note": " \n "}], ids=["absent", "null", "blank"])
def test_an_acknowledgement_without_a_note_has_a_null_note(client, ids, note):
    opened, _ = ids
    response = client.post(f"/api/incidents/{opened}/ack", json={"by": "alice", **note})
    assert response.status_code == 200 and response.json["acknowledged"]["note"] is None
    assert client.get(f"/api/incidents/{opened}").json["acknowledged"]["note"] is None


def test_acknowledging_twice_is_a_409_naming_who_did_it_first_and_stores_nothing(app, client, ids):
    opened, _ = ids
    first = client.post(f"/api/incidents/{opened}/ack", json={"by": "alice"}).json["acknowledged"]
    again = client.post(f"/api/incidents/{opened}/ack", json={"by": "bob"})
    assert again.status_code == 409
    assert again.json["error"] == "already_acknowledged"
    assert f"already acknowledged by 'alice' at {first['at']}" in again.json["message"]
    assert client.get(f"/api/incidents/{opened}").json["acknowledged"]["by"] == "alice"
    assert app.server.extensions["monitor"].store.count_rows("incident_actions") == 1


def test_a_resolved_incident_cannot_be_acknowledged(client, ids):
    _, resolved = ids
    response = client.post(f"/api/incidents/{resolved}/ack", json={"by": "alice"})
    assert response.status_code == 409
    assert response.json["error"] == "incident_resolved"
    assert "only an open incident is acknowledged" in response.json["message"]
    assert client.get(f"/api/incidents/{resolved}").json["acknowledged"] is None


def test_notes_are_kept_oldest_first_on_open_and_resolved_incidents(client, ids):
    opened, resolved = ids
    first = client.post(f"/api/incidents/{opened}/notes", json={"by": "alice", "text": "51 is up at one issuer"})
    assert first.status_code == 201
    second = client.post(f"/api/incidents/{opened}/notes", json={"by": "bob", "text": "line one\nline\ttwo"})
    assert [(n["by"], n["text"]) for n in second.json["notes"]] == [
        ("alice", "51 is up at one issuer"), ("bob", "line one\nline\ttwo")]
    assert all(recent(n["at"]) for n in second.json["notes"])
    assert client.post(f"/api/incidents/{resolved}/notes", json={"by": "carol", "text": "post-mortem"}).status_code == 201
    listed = {i["id"]: i for i in client.get("/api/incidents").json["incidents"]}
    assert [n["text"] for n in listed[resolved]["notes"]] == ["post-mortem"]
    assert listed[opened]["notes"] == second.json["notes"]


def test_an_incident_keeps_at_most_max_notes(client, ids):
    opened, _ = ids
    for i in range(MAX_NOTES):
        assert client.post(f"/api/incidents/{opened}/notes", json={"by": "a", "text": f"n{i}"}).status_code == 201
    refused = client.post(f"/api/incidents/{opened}/notes", json={"by": "a", "text": "one too many"})
    assert refused.status_code == 409 and refused.json["error"] == "too_many_notes"
    assert f"has {MAX_NOTES} notes" in refused.json["message"]
    assert len(client.get(f"/api/incidents/{opened}").json["notes"]) == MAX_NOTES


def test_labels_only_a_resolved_incident_and_the_newest_label_counts(client, ids):
    opened, resolved = ids
    refused = client.put(f"/api/incidents/{opened}/label", json={"label": "false_alarm", "by": "alice"})
    assert refused.status_code == 409 and refused.json["error"] == "incident_open"
    assert "still open" in refused.json["message"]
    first = client.put(f"/api/incidents/{resolved}/label", json={"label": "false_alarm", "by": "alice"})
    assert first.status_code == 200
    assert first.json["label"]["label"] == "false_alarm" and first.json["label"]["reason"] is None
    second = client.put(f"/api/incidents/{resolved}/label",
                        json={"label": "expected", "by": "bob", "reason": "card scheme maintenance 02:00-03:00"})
    label = second.json["label"]
    assert (label["label"], label["by"], label["reason"]) == ("expected", "bob", "card scheme maintenance 02:00-03:00")
    assert client.get(f"/api/incidents/{resolved}").json["label"] == label


def test_the_label_listing_names_each_incident_and_its_minutes(client, ids):
    _, resolved = ids
    incident = client.get(f"/api/incidents/{resolved}").json
    assert client.get("/api/incidents/labels").json == {"label": None, "count": 0, "labels": []}
    client.put(f"/api/incidents/{resolved}/label", json={"label": "false_alarm", "by": "alice", "reason": "test data"})
    listing = client.get("/api/incidents/labels").json
    assert listing["count"] == 1
    (row,) = listing["labels"]
    assert row["incident_id"] == resolved and row["kind"] == "processing_failure"
    assert (row["started_at"], row["resolved_at"]) == (incident["started_at"], incident["resolved_at"])
    assert (row["label"], row["by"], row["reason"]) == ("false_alarm", "alice", "test data")
    assert client.get("/api/incidents/labels?label=false_alarm").json["count"] == 1
    assert client.get("/api/incidents/labels?label=expected").json == {"label": "expected", "count": 0, "labels": []}
    client.put(f"/api/incidents/{resolved}/label", json={"label": "expected", "by": "bob"})
    relabelled = client.get("/api/incidents/labels").json["labels"]
    assert [(r["label"], r["by"]) for r in relabelled] == [("expected", "bob")]  # one row per incident: its newest
    assert client.get("/api/incidents/labels?label=false_alarm").json["count"] == 0


@pytest.mark.parametrize(("query", "message"), [
    ("label=wrong", "'label' must be one of false_alarm, expected, got 'wrong'"),
    ("limit=0", "'limit' must be from 1 to 10000, got 0"),
    ("kind=x", "unknown query parameter 'kind'"),
])
def test_bad_label_listing_parameters_are_400s_naming_them(client, query, message):
    response = client.get(f"/api/incidents/labels?{query}")
    assert response.status_code == 400 and response.json["error"] == "invalid_parameter"
    assert message in response.json["message"]


@pytest.mark.parametrize(("route", "method", "body", "field", "message"), [
    ("ack", "post", {}, "by", "is required"),
    ("ack", "post", {"by": "  "}, "by", "is required"),
    ("ack", "post", {"by": "a" * (MAX_BY + 1)}, "by", f"at most {MAX_BY} characters"),
    ("ack", "post", {"by": "al\nice"}, "by", "must not contain control characters"),
    ("ack", "post", {"by": 7}, "by", "expected a string"),
    ("ack", "post", {"by": "alice", "note": "x" * (MAX_TEXT + 1)}, "note", f"at most {MAX_TEXT} characters"),
    ("ack", "post", {"by": "alice", "note": "bell\x07"}, "note", "control characters other than newlines"),
    ("ack", "post", {"by": "alice", "who": "x"}, "who", "unknown field; expected by, note"),
    ("ack", "post", ["alice"], "body", "expected a JSON object"),
    ("notes", "post", {"by": "alice"}, "text", "is required"),
    ("notes", "post", {"by": "alice", "text": "\n\t "}, "text", "is required"),
    ("notes", "post", {"by": "alice", "text": "x" * (MAX_TEXT + 1)}, "text", f"at most {MAX_TEXT} characters"),
    ("notes", "post", {"text": "hello"}, "by", "is required"),
    ("label", "put", {"by": "alice"}, "label", "is required: one of false_alarm, expected"),
    ("label", "put", {"by": "alice", "label": "noise"}, "label", "expected one of false_alarm, expected, got 'noise'"),
    ("label", "put", {"label": "expected"}, "by", "is required"),
    ("label", "put", {"label": "expected", "by": "al\nice"}, "by", "must not contain control characters or"),
    ("notes", "post", {"by": "al\tice", "text": "hello"}, "by", "must not contain control characters or"),
    ("label", "put", {"label": "expected", "by": "a", "reason": "r" * (MAX_REASON + 1)}, "reason",
     f"at most {MAX_REASON} characters"),
])
def test_a_wrong_body_is_a_422_naming_the_field_and_stores_nothing(app, client, ids, route, method, body, field, message):
    opened, resolved = ids
    target = resolved if route == "label" else opened
    response = getattr(client, method)(f"/api/incidents/{target}/{route}", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_action"
    assert response.json["details"] == [{"field": field, "message": response.json["details"][0]["message"]}]
    assert message in response.json["details"][0]["message"]
    assert response.json["message"].startswith(f"{field}: ")
    assert app.server.extensions["monitor"].store.count_rows("incident_actions") == 0


@pytest.mark.parametrize(("route", "method", "body"), [
    ("ack", "post", {"by": "alice"}),
    ("notes", "post", {"by": "alice", "text": "t"}),
    ("label", "put", {"by": "alice", "label": "expected"}),
])
def test_unknown_ids_bad_ids_and_bad_bodies_are_refused(app, client, route, method, body):
    call = getattr(client, method)
    missing = call(f"/api/incidents/inc-nope/{route}", json=body)
    assert missing.status_code == 404 and missing.json == {"error": "not_found", "message": "no incident with id 'inc-nope'"}
    too_long = call(f"/api/incidents/{'x' * 65}/{route}", json=body)
    assert too_long.status_code == 400 and "longer than 64 characters" in too_long.json["message"]
    assert call(f"/api/incidents/inc-nope/{route}", data="{", content_type="application/json").status_code == 400
    assert call(f"/api/incidents/inc-nope/{route}", data="by=alice").status_code == 415
    big = call(f"/api/incidents/inc-nope/{route}", json={"by": "a" * 70_000})
    assert big.status_code == 413 and big.json["error"] == "payload_too_large"
    assert call(f"/api/incidents/inc-nope/{route}?x=1", json=body).status_code == 400
    assert app.server.extensions["monitor"].store.count_rows("incident_actions") == 0


def test_with_a_token_the_writes_need_it_and_the_reads_do_not(backend):
    app = backend.app(api_token=TOKEN)
    client = app.server.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    opened, resolved = make_incidents(client, app, auth)
    writes = [("post", f"/api/incidents/{opened}/ack", {"by": "alice"}),
              ("post", f"/api/incidents/{opened}/notes", {"by": "alice", "text": "on it"}),
              ("put", f"/api/incidents/{resolved}/label", {"label": "expected", "by": "alice"})]
    for method, path, body in writes:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = getattr(client, method)(path, json=body, headers=headers)
            assert refused.status_code == 401 and refused.json["error"] == "unauthorized", path
    assert app.server.extensions["monitor"].store.count_rows("incident_actions") == 0
    for method, path, body in writes:
        assert getattr(client, method)(path, json=body, headers=auth).status_code in (200, 201), path
    for path in ("/api/incidents/labels", f"/api/incidents/{opened}", f"/api/incidents/{opened}/silence"):
        assert client.get(path).status_code == 200, path


def test_actions_survive_a_restart_on_the_same_database(backend):
    app = backend.app()
    client = app.server.test_client()
    opened, resolved = make_incidents(client, app)
    client.post(f"/api/incidents/{opened}/ack", json={"by": "alice", "note": "on it"})
    client.post(f"/api/incidents/{opened}/notes", json={"by": "bob", "text": "issuer 4711"})
    client.put(f"/api/incidents/{resolved}/label", json={"label": "false_alarm", "by": "carol"})
    before = {i["id"]: i for i in client.get("/api/incidents").json["incidents"]}
    app.server.extensions["monitor"].store.close()

    again = backend.app().server.test_client()
    after = {i["id"]: i for i in again.get("/api/incidents").json["incidents"]}
    assert after == before
    assert after[opened]["acknowledged"]["by"] == "alice" and after[opened]["notes"][0]["text"] == "issuer 4711"
    assert again.get("/api/incidents/labels").json["labels"][0]["incident_id"] == resolved
    assert again.post(f"/api/incidents/{opened}/ack", json={"by": "dave"}).status_code == 409


# SQLite only: files from before incident actions exist; a PostgreSQL store was created with the table.
def test_a_store_from_before_incident_actions_gains_the_table(tmp_path):
    path = str(tmp_path / "old.db")
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE incident_actions")
        conn.execute("DROP TABLE schema_version")  # a file from before incident actions had no versions either
    store = Store(path)
    assert store.count_rows("incident_actions") == 0
    store.close()


def test_the_silence_template_lists_each_member_rule_and_metric_and_silences_the_incident(client, ids):
    opened, _ = ids
    incident = client.get(f"/api/incidents/{opened}").json
    members = {a["id"]: a for a in client.get("/api/alerts?limit=1000").json["alerts"] if a["id"] in incident["alerts"]}
    template = client.get(f"/api/incidents/{opened}/silence").json
    assert template["incident_id"] == opened and template["durations_minutes"] == [30, 60, 240, 1440]
    assert opened in template["comment"]
    assert sorted((m["rule"], m["metric"]) for m in template["matchers"]) == sorted(
        {(a["rule"], a["metric"]) for a in members.values()})
    until = datetime.now(UTC).timestamp() + 60 * template["durations_minutes"][0]
    for matchers in template["matchers"]:
        made = client.post("/api/silences", json={"matchers": matchers, "ends_at": until, "created_by": "alice",
                                                  "comment": template["comment"]})
        assert made.status_code == 201
    silenced = {a["id"]: a["silenced"] for a in client.get("/api/alerts?limit=1000").json["alerts"]}
    assert all(silenced[i] for i in members)
    assert client.get("/api/incidents/inc-nope/silence").status_code == 404
    assert client.get(f"/api/incidents/{opened}/silence?x=1").status_code == 400


def test_an_incidents_actions_are_pruned_with_it(app, client, ids):
    opened, resolved = ids
    client.post(f"/api/incidents/{opened}/ack", json={"by": "alice"})
    client.post(f"/api/incidents/{resolved}/notes", json={"by": "bob", "text": "old news"})
    client.put(f"/api/incidents/{resolved}/label", json={"label": "false_alarm", "by": "bob"})
    store = app.server.extensions["monitor"].store
    resolved_at = store.incident(resolved).resolved_at
    assert store.prune(resolved_at + 1, 0)["incidents"] == 1  # the resolved one is past retention, the open one kept
    assert store.incident(resolved) is None
    assert [a.incident_id for a in store.incident_actions([opened, resolved]).get(opened, [])] == [opened]
    assert store.incident_actions([resolved]) == {}
    assert store.count_rows("incident_actions") == 1
    assert client.get("/api/incidents/labels").json["count"] == 0


def _json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema: null becomes one more allowed type (and enum value)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def test_the_answers_with_actions_match_the_openapi_document(client, ids):
    """The contract test's app has no incidents, so its fuzzing only meets 4xx answers of these routes; here
    the 200/201 answers, with every action field filled in, are checked against the same document."""
    opened, resolved = ids
    components = _json_schema(client.get("/api/openapi.json").json["components"])

    def check(answer, name):
        jsonschema.validate(answer, {"$ref": f"#/components/schemas/{name}", "components": components})

    check(client.get(f"/api/incidents/{opened}").json, "Incident")  # nothing done yet: nulls and []
    check(client.post(f"/api/incidents/{opened}/ack", json={"by": "alice", "note": "n"}).json, "Incident")
    check(client.post(f"/api/incidents/{opened}/notes", json={"by": "bob", "text": "t"}).json, "Incident")
    labelled = client.put(f"/api/incidents/{resolved}/label", json={"label": "expected", "by": "c", "reason": "r"}).json
    check(labelled, "Incident")
    for row in client.get("/api/incidents/labels").json["labels"]:
        check(row, "LabelledIncident")
    with pytest.raises(jsonschema.ValidationError):  # the check has teeth: a wrong label value is caught
        check({**labelled, "label": {**labelled["label"], "label": "maybe"}}, "Incident")
