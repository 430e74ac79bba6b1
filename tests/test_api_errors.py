"""The API's error handlers: what a route that does not catch a failure itself still answers."""

from __future__ import annotations

import logging

from flask import Flask

from api.errors import register_error_handlers
from detection.store import StoreError


def _app() -> Flask:
    server = Flask(__name__)
    register_error_handlers(server)

    @server.get("/api/reads")
    def reads():
        raise StoreError("store read failed: connection to server at 127.0.0.1 port 5432 failed")

    @server.get("/dashboard-part")
    def dashboard_part():
        raise StoreError("store read failed: gone")

    @server.get("/api/bug")
    def bug():
        raise KeyError("internal detail")

    return server


def test_an_uncaught_store_failure_under_the_api_is_503_store_unavailable_with_its_reason(caplog):
    client = _app().test_client()
    with caplog.at_level(logging.WARNING, logger="monitor.api"):
        answer = client.get("/api/reads")
    assert answer.status_code == 503
    assert answer.get_json() == {
        "error": "store_unavailable",
        "message": "store read failed: connection to server at 127.0.0.1 port 5432 failed",
    }
    assert "store unavailable on GET /api/reads" in caplog.text


def test_outside_the_api_and_for_other_errors_the_answer_stays_a_500_without_a_trace():
    client = _app().test_client()
    for path in ("/dashboard-part", "/api/bug"):
        answer = client.get(path)
        assert answer.status_code == 500, path
        assert answer.get_json() == {"error": "internal_error", "message": "the monitor hit an unexpected error; see its log"}
        assert "internal detail" not in answer.get_data(as_text=True) and "Traceback" not in answer.get_data(as_text=True)
