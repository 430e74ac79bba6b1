"""Credentials in notification URLs never reach an answer, the delivery log or the store; the log is behind the token."""

from __future__ import annotations

import base64
import sqlite3

import pytest
from werkzeug import Response

from app import create_app

from .delivery_support import BASE_MINUTE, FAST, THRESHOLDS, wait_until, write_json

TOKEN = "api-T0KEN-for-writes"
USER, PASSWORD, QUERY_TOKEN, PATH_TOKEN = "ops-user", "hunter2-PW", "tok-SECRET-123", "slackSECRETtoken4242"
SECRETS = (PASSWORD, QUERY_TOKEN, PATH_TOKEN, f"{USER}:")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build(tmp_path, httpserver, api_token: str | None):
    hook = httpserver.url_for("/hook").replace("http://", f"http://{USER}:{PASSWORD}@") + f"?token={QUERY_TOKEN}&team=ops"
    slack = httpserver.url_for(f"/services/T0/B0/{PATH_TOKEN}")
    notify = {"version": 1, **FAST, "channels": [
        {"type": "webhook", "name": "ops", "url": hook},
        {"type": "slack", "name": "slack", "url_env": "TEST_SLACK_URL"},
    ]}
    return create_app({
        "db": str(tmp_path / "monitor.db"),
        "api_token": api_token,
        "thresholds": write_json(tmp_path, "thresholds.json", THRESHOLDS),
        "notifications": write_json(tmp_path, "notify.json", notify),
        "notify_environ": {"TEST_SLACK_URL": slack},
    }), hook


def post_failures(client, minute: int) -> None:
    body = [{"timestamp": BASE_MINUTE.format(minute), "status": s, "count": n}
            for s, n in (("approved", 110), ("failed", 3))]
    response = client.post("/api/transaction", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_json()


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {where}"


def test_no_answer_log_row_or_stored_row_shows_a_url_secret(tmp_path, httpserver):
    # The webhook answers 500 (so its errors are logged), the Slack-like receiver takes the messages.
    httpserver.expect_request("/hook", method="POST").respond_with_response(Response("down", status=500))
    httpserver.expect_request(f"/services/T0/B0/{PATH_TOKEN}", method="POST").respond_with_data("ok")
    app, hook = build(tmp_path, httpserver, TOKEN)
    client = app.server.test_client()
    delivery = app.server.extensions["delivery"].start()

    def log_rows(**query):
        response = client.get("/api/notifications", query_string={"limit": 1000, **query}, headers=AUTH)
        assert response.status_code == 200
        return response.get_json()["notifications"]

    try:
        for minute in range(3):
            post_failures(client, minute)
        wait_until(lambda: log_rows(channel="ops", outcome="failed") and log_rows(channel="slack", outcome="delivered"),
                   timeout=60, what="the webhook's final failure and the Slack delivery")
    finally:
        delivery.stop()

    # The secrets were real: the receiver got the URL's credentials (requests sends them as Basic auth).
    hook_requests = [req for req, _ in httpserver.log if req.path == "/hook"]
    assert hook_requests and hook_requests[0].args["token"] == QUERY_TOKEN
    assert hook_requests[0].headers["Authorization"] == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    listed = client.get("/api/notifications", query_string={"limit": 1000}, headers=AUTH)
    channels = {c["name"]: c for c in listed.get_json()["channels"]}
    where = httpserver.url_for("/").removeprefix("http://").rstrip("/")  # host:port of the receivers
    assert channels["ops"]["url"] == f"http://***@{where}/hook?token=***&team=***"
    assert channels["slack"]["url"] == f"http://{where}/services/T0/B0/***"
    errors = [r for r in log_rows(channel="ops") if r["outcome"] in ("error", "failed")]
    assert errors and all(f"receiver http://***@{where}/hook?token=***&team=*** answered HTTP 500" in r["detail"]
                          for r in errors)

    answers = {path: client.get(path, headers=AUTH).get_data(as_text=True) for path in (
        "/api/notifications?limit=10000", "/api/silences", "/api/stats", "/api/health", "/api/alerts?state=all",
        "/metrics", "/api/openapi.json", "/_dash-layout")}
    assert all(text for text in answers.values())
    for path, text in answers.items():
        assert_no_secret(text, path)

    # Nothing secret was written to the store either (delivery log details, outbox, alerts).
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        dump = "\n".join(db.iterdump())
    assert "notification_log" in dump
    assert_no_secret(dump, "the store")
    assert hook not in dump


def test_the_delivery_log_is_behind_the_token_when_one_is_set(tmp_path, httpserver):
    app, _ = build(tmp_path, httpserver, TOKEN)
    client = app.server.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/api/notifications", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert "channels" not in response.get_json()
    assert client.get("/api/notifications", headers=AUTH).status_code == 200
    # Reads that show no channel stay open, as before.
    assert client.get("/api/silences").status_code == 200
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("path", ["/api/notifications", "/api/silences"])
def test_without_a_token_the_reads_stay_open(tmp_path, httpserver, path):
    app, _ = build(tmp_path, httpserver, None)
    response = app.server.test_client().get(path)
    assert response.status_code == 200
    assert_no_secret(response.get_data(as_text=True), path)
