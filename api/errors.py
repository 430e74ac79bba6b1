"""JSON errors for the REST API: every failure a client can cause gets a status code and a readable message."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from detection.store import StoreError

log = logging.getLogger("monitor.api")


class ApiError(Exception):
    """Raised by a route to answer with ``status`` and a JSON body naming what was wrong."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(server: Flask, prefix: str = "/api/") -> None:
    """JSON for errors under ``prefix``; the dashboard keeps Flask's own pages elsewhere."""

    @server.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith(prefix) and request.path != "/metrics":
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        # Keep the headers the error carries (a 405's Allow, RFC 9110), but not its HTML content type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Never a stack trace to the client; the log keeps it for the operator.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if isinstance(exc, HTTPException):
            return exc
        return error_response(500, "internal_error", "the monitor hit an unexpected error; see its log")

    @server.errorhandler(StoreError)
    def _store_error(exc: StoreError):
        # A route that does not catch the store's failure itself still answers what it is: the store is
        # unavailable now (503, worth a retry), not a bug in the monitor (500).
        if not request.path.startswith(prefix):
            return _unexpected(exc)
        log.warning("store unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(503, "store_unavailable", str(exc))
