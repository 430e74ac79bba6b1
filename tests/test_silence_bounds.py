"""Silences within bounds: times from 1970 up to a year from now, names and comments without control characters;
a refused silence stores nothing, also across a restart."""

from __future__ import annotations

import time

import pytest

from detection.metrics import epoch_to_iso

DAY = 24 * 3600


@pytest.fixture
def app(backend):
    """The app on each backend (conftest ``backend``): every test here that uses ``app`` or ``client`` runs on
    SQLite and on PostgreSQL."""
    return backend.app()


def make(client, **fields):
    return client.post("/api/silences", json={"matchers": {"rule": "failed_high"}, "ends_at": time.time() + DAY, **fields})


def test_a_silence_may_end_up_to_365_days_from_now_and_not_later(client):
    assert make(client, ends_at=epoch_to_iso(time.time() + 364 * DAY)).status_code == 201
    later = make(client, ends_at=epoch_to_iso(time.time() + 366 * DAY))
    assert later.status_code == 422 and later.get_json()["details"][0]["field"] == "ends_at"
    assert "365 days" in later.get_json()["message"]
    assert client.get("/api/silences").get_json()["count"] == 1


def test_a_silence_may_start_at_1970_but_not_before(client):
    assert make(client, starts_at="1970-01-01T00:00:00Z").status_code == 201
    before = make(client, starts_at=-1)
    assert before.status_code == 422 and before.get_json()["details"][0]["field"] == "starts_at"


def test_names_and_comments_in_any_script_are_kept(client):
    made = make(client, comment="maintenance de la passerelle — ünïcode 🚧 支付", created_by="José")
    assert made.status_code == 201
    assert made.get_json()["comment"] == "maintenance de la passerelle — ünïcode 🚧 支付"


@pytest.mark.parametrize(("fields", "field"), [
    ({"ends_at": 1e300}, "ends_at"),
    ({"ends_at": 10**30}, "ends_at"),
    ({"ends_at": "9999-12-31T23:59:59-14:00"}, "ends_at"),
    ({"comment": "\ud800"}, "comment"),
    ({"created_by": "\ud800"}, "created_by"),
])
def test_a_refused_silence_is_not_stored_and_the_list_answers_after_a_restart(backend, fields, field):
    client = backend.app().server.test_client()
    response = make(client, **fields)
    assert response.status_code == 422 and response.get_json()["details"][0]["field"] == field
    assert client.get("/api/silences").get_json()["count"] == 0
    again = backend.app().server.test_client()
    listed = again.get("/api/silences")
    assert listed.status_code == 200 and listed.get_json()["count"] == 0
