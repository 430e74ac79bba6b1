"""Slices over HTTP: labelled records, the breakdown and dimensions routes, the series' slice filter, and two
instances on one PostgreSQL judging slices as one does."""

from __future__ import annotations

import pytest

from app import create_app

from .delivery_support import wait_until, write_json
from .support import START_MINUTE as T0
from .support import timestamp

DIMENSIONS = {"acquirer": {"max_values": 20}, "brand": {"max_values": 3, "overflow": "reject"}}
SLICED = {"id": "denied_by_acquirer", "type": "poisson_tail", "metric": "status:denied", "per": "status:approved",
          "by": ["acquirer"], "ratio": 0.05, "slices": {"acquirer=acq-07": 0.04}, "window": 5, "p_value": 1e-7,
          "min_count": 5, "for": 1, "resolve": 3}
THRESHOLDS = {"version": 1, "no_data": {"after_minutes": 0}, "dimensions": DIMENSIONS,
              "dimension_pairs": [["acquirer", "brand"]], "rules": [SLICED]}
ACQUIRERS = {"acq-01": 600, "acq-02": 300, "acq-07": 60}  # approvals a minute


def minute(m: int, boost: int = 1) -> list[dict]:
    records = []
    for acquirer, approved in ACQUIRERS.items():
        denied = approved // 20 * (boost if acquirer == "acq-07" else 1)
        labels = {"acquirer": acquirer, "brand": "visa" if acquirer != "acq-02" else "elo"}
        records += [{"timestamp": timestamp(T0 + m), "status": "approved", "count": approved, "labels": labels},
                    {"timestamp": timestamp(T0 + m), "status": "denied", "count": denied, "labels": labels}]
    return records


@pytest.fixture
def sliced_app(backend, tmp_path):
    return backend.app(thresholds=write_json(tmp_path, "thresholds.json", THRESHOLDS))


def test_labelled_records_are_accepted_counted_once_and_broken_down(sliced_app):
    client = sliced_app.server.test_client()
    for m in range(30):
        answer = client.post("/api/transaction", json=minute(m))
        assert answer.status_code == 201 and answer.get_json()["accepted"] == 6
    fired = []
    for m in range(30, 36):
        fired += client.post("/api/transaction", json=minute(m, boost=4)).get_json()["alerts"]
    assert {(a["metric"], a["state"]) for a in fired} >= {("status:denied@acquirer=acq-07", "firing")}
    alert = next(a for a in fired if a["state"] == "firing")
    assert alert["metric_label"] == "denied at acquirer acq-07"
    assert alert["message"].startswith("Denials at acquirer acq-07: ")

    totals = client.get("/api/transactions?minutes=1").get_json()["data"][-1]
    assert (totals["approved"], totals["denied"]) == (960, 30 + 15 + 12)  # the global series: sums over labels
    one = client.get("/api/transactions?minutes=1&slice=acquirer%3Dacq-07").get_json()
    assert one["slice"] == "acquirer=acq-07" and (one["data"][-1]["approved"], one["data"][-1]["denied"]) == (60, 12)
    pair = client.get("/api/transactions?minutes=1&slice=acquirer%3Dacq-02,brand%3Delo").get_json()
    assert pair["data"][-1]["denied"] == 15

    body = client.get("/api/breakdown?metric=status:denied&by=acquirer&minutes=6&top=2").get_json()
    assert [s["value"] for s in body["slices"]] == ["acq-07", body["slices"][1]["value"]]
    assert body["slices"][0]["observed"] == 72 and body["slices"][0]["share_of_excess"] > 0.9
    assert body["heatmap"]["counts"][0] == [12] * 6 and body["slices_total"] == 3
    dims = client.get("/api/dimensions").get_json()
    assert dims["dimensions"]["acquirer"] == ["acq-01", "acq-02", "acq-07"]
    assert dims["dimensions"]["acquirer,brand"] == ["acq-01,visa", "acq-02,elo", "acq-07,visa"]

    (incident,) = client.get("/api/incidents").get_json()["incidents"]
    assert incident["title"] == "Denial spike at acquirer acq-07"
    assert incident["details"]["slice"] == "acquirer=acq-07"

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'monitor_dimension_values{dimension="acquirer"} 3.0' in metrics
    assert 'monitor_dimension_values{dimension="brand"} 2.0' in metrics
    # acquirers 3 + brands 2 + pairs 3, each with approvals and denials
    assert "monitor_slice_series 16.0" in metrics


@pytest.mark.parametrize(("labels", "field"), [
    ({"issuer": "x"}, "labels.issuer"),
    ({"brand": "a" * 65}, "labels.brand"),
    ({"brand": ["visa"]}, "labels.brand"),
    ("visa", "labels"),
])
def test_bad_labels_get_a_422_naming_the_field_and_change_nothing(sliced_app, backend, labels, field):
    client = sliced_app.server.test_client()
    assert client.post("/api/transaction", json=minute(0)).status_code == 201
    before = backend.dump()
    bad = [{"timestamp": timestamp(T0 + 1), "status": "approved", "count": 5},
           {"timestamp": timestamp(T0 + 1), "status": "denied", "count": 1, "labels": labels}]
    answer = client.post("/api/transaction", json=bad)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == "invalid_records" and body["details"][0]["field"] == field
    assert body["details"][0]["index"] == 1
    assert backend.dump() == before


def test_a_brand_past_its_cap_is_refused_when_the_dimension_says_reject(sliced_app, backend):
    client = sliced_app.server.test_client()
    for brand in ("visa", "elo", "amex"):
        record = {"timestamp": timestamp(T0), "status": "approved", "count": 1, "labels": {"brand": brand}}
        assert client.post("/api/transaction", json=record).status_code == 201
    before = backend.dump()
    answer = client.post("/api/transaction", json={"timestamp": timestamp(T0), "status": "approved", "count": 1,
                                                   "labels": {"brand": "diners"}})
    assert answer.status_code == 422 and answer.get_json()["details"][0]["field"] == "labels.brand"
    assert backend.dump() == before


@pytest.mark.parametrize(("query", "words"), [
    ("metric=status:denied&by=issuer", "by: unknown dimension 'issuer'"),
    ("metric=rate:denied&by=acquirer", "metric: unknown count"),
    ("by=acquirer", "'metric' is required"),
    ("metric=status:denied&by=acquirer&minutes=5000", "'minutes' must be from 1 to 1440"),
    ("metric=status:denied&by=acquirer&top=0", "'top' must be from 1 to 50"),
    ("metric=status:denied&by=acquirer&slice=x", "unknown query parameter 'slice'"),
])
def test_a_bad_breakdown_question_is_a_400_naming_the_parameter(sliced_app, query, words):
    answer = sliced_app.server.test_client().get(f"/api/breakdown?{query}")
    assert answer.status_code == 400 and words in answer.get_json()["message"]


def test_a_slice_filter_of_no_configured_dimension_is_a_400(sliced_app):
    answer = sliced_app.server.test_client().get("/api/transactions?slice=issuer%3Dx")
    assert answer.status_code == 400 and "not of a configured dimension" in answer.get_json()["message"]


def test_without_dimensions_labels_are_refused_and_there_is_no_breakdown(tmp_path):
    plain = write_json(tmp_path, "plain.json", {"version": 1, "rules": []})
    app = create_app({"db": str(tmp_path / "m.db"), "thresholds": plain})
    client = app.server.test_client()
    answer = client.post("/api/transaction", json={"timestamp": timestamp(T0), "status": "approved", "count": 1,
                                                   "labels": {"acquirer": "acq-07"}})
    assert answer.status_code == 422 and answer.get_json()["details"][0]["field"] == "labels"
    assert client.get("/api/breakdown?metric=status:denied&by=acquirer").status_code == 404
    assert client.get("/api/dimensions").get_json()["dimensions"] == {}
    document = client.get("/api/openapi.json").get_json()
    assert "labels" not in document["components"]["schemas"]["StatusRecord"]["properties"]
    assert document["paths"]["/api/breakdown"]["get"]["responses"].keys() == {"404"}


def test_the_built_in_thresholds_accept_the_usual_payment_dimensions(tmp_path):
    app = create_app({"db": str(tmp_path / "m.db")})
    client = app.server.test_client()
    record = {"timestamp": timestamp(T0), "status": "denied", "count": 2,
              "labels": {"acquirer": "acq-07", "merchant": "m-1842", "brand": "visa", "region": "sp"}}
    assert client.post("/api/transaction", json=record).status_code == 201
    assert client.get("/api/dimensions").get_json()["dimensions"]["merchant"] == ["m-1842"]
    one = client.get("/api/transactions?minutes=1&slice=acquirer%3Dacq-07,brand%3Dvisa").get_json()
    assert one["data"][-1]["denied"] == 2


def test_the_openapi_document_lists_this_servers_dimensions(sliced_app):
    document = sliced_app.server.test_client().get("/api/openapi.json").get_json()
    labels = document["components"]["schemas"]["StatusRecord"]["properties"]["labels"]
    assert sorted(labels["properties"]) == ["acquirer", "brand"] and labels["additionalProperties"] is False
    by = next(p for p in document["paths"]["/api/breakdown"]["get"]["parameters"] if p["name"] == "by")
    assert by["schema"]["enum"] == ["acquirer", "brand", "acquirer,brand"]


def test_two_instances_judge_slices_as_one_and_the_standby_shows_them(tmp_path, pg_url):
    path = write_json(tmp_path, "thresholds.json", THRESHOLDS)
    apps = [create_app({"db": pg_url, "instance": name, "thresholds": path}) for name in ("a", "b")]
    try:
        for app in apps:
            app.server.extensions["roles"].retry_seconds = 0.2
            app.server.extensions["roles"].start()
        a, b = (app.server.test_client() for app in apps)
        for m in range(30):
            records = minute(m)
            if m < 29:  # acq-02 is posted only once, to the leader: the standby learns of it from the log
                records = [r for r in records if r["labels"]["acquirer"] != "acq-02"]
            assert (a if m % 2 or m == 29 else b).post("/api/transaction", json=records).status_code == 201
        for m in range(30, 36):
            assert b.post("/api/transaction", json=minute(m, boost=4)).status_code == 201

        def fired() -> bool:
            return any(x["metric"] == "status:denied@acquirer=acq-07" for x in a.get("/api/alerts").get_json()["alerts"])

        wait_until(fired, what="the leader's slice alert for acq-07")
        standby = apps[1].server.extensions["monitor"]
        wait_until(lambda: standby.slice_counts("acquirer=acq-07", 1)["counts"].get("status:denied") == (12,),
                   what="the standby's slice counts following the log")
        assert b.get("/api/breakdown?metric=status:denied&by=acquirer&minutes=6").get_json()["slices"][0]["value"] == "acq-07"
        assert b.get("/api/transactions?minutes=1").get_json()["data"][-1]["denied"] == 57  # not counted twice
        # Values posted to one instance are known to the other (the standby saw only its own posts' values).
        for client in (a, b):
            assert client.get("/api/dimensions").get_json()["dimensions"]["acquirer"] == ["acq-01", "acq-02", "acq-07"]
    finally:
        for app in apps:
            app.server.extensions["roles"].stop()
            app.server.extensions["monitor"].store.close()
