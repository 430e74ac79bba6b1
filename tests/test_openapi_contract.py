"""The OpenAPI document is the contract: schemathesis drives the real app through /api/openapi.json and checks every answer.

One fresh app per run, on its own SQLite file, with an API token set so that the
401 paths are part of the contract too. Each operation gets the coverage phase
(boundary values of every documented limit, undeclared methods, missing fields)
and a bounded, derandomized fuzzing phase. The checks: no 5xx; the status code,
content type, headers and body of every answer are in the document; data the
document calls invalid is refused and data it calls valid is accepted; a wrong
method is 405 with an Allow header; a route that needs the token refuses a
missing or wrong one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api import ingest as ingest_route
from api import limits, openapi, routes
from app import create_app
from detection import records, silences
from detection.metrics import epoch_to_iso

TOKEN = "contract-test-token"
EXAMPLES_PER_OPERATION = 25
DAY = 86_400
# Formats of the event times the ingest routes accept, drawn in the positive cases.
EVENT_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
]


def event_times() -> st.SearchStrategy[str]:
    """Valid event times: from 5 days ago to a day ago, inside the 7-day window behind the newest event
    (which is never past now + 5 minutes); offsets of up to 14 h cannot push them out of it."""
    now = datetime.now(UTC).replace(tzinfo=None)
    moments = st.datetimes(min_value=now - timedelta(days=5), max_value=now - timedelta(days=1))
    offsets = st.sampled_from(["", "+00:00", "-05:30", "+14:00", "-12:00"])
    return st.builds(lambda m, f, o: m.strftime(f) + (o if f.endswith("%S") and "T" in f else ""),
                     moments, st.sampled_from(EVENT_TIME_FORMATS), offsets)


def future_wall_times() -> st.SearchStrategy[str]:
    """Silence times a day to 300 days ahead: in the future and within the year a silence may last."""
    now = datetime.now(UTC)
    return st.builds(lambda seconds: (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     st.integers(min_value=DAY, max_value=300 * DAY))


def _epoch(value: object) -> float | None:
    """Epoch seconds of a drawn silence time; None for a string the draw did not take from our strategy."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def make_valid_data_valid(case: schemathesis.Case) -> None:
    """What JSON Schema cannot say, for the cases the document calls valid.

    "At most 5 minutes in the future", "not older than the memory window before the newest event",
    "after starts_at and within a year", and
    "an Idempotency-Key reused with another body is refused" depend on the clock
    or on earlier requests; the document says them in words. Positive cases are
    folded into those rules here; negative cases are sent as drawn.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    now = time.time()
    body = case.body
    if case.path in ("/api/transaction", "/api/auth_code"):
        for record in body if isinstance(body, list) else [body]:
            stamp = record.get("timestamp") if isinstance(record, dict) else None
            if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
                record["timestamp"] = now - DAY - stamp % (4 * DAY)  # inside the window, as event_times()
            elif isinstance(stamp, str) and stamp.startswith(("19", "20")) and _epoch(stamp) is not None:
                seconds = _epoch(stamp)
                if seconds is not None and not now - 5 * DAY <= seconds <= now - DAY:  # the document's own example
                    record["timestamp"] = epoch_to_iso(now - DAY - seconds % (4 * DAY))
        key = (case.headers or {}).get("Idempotency-Key")
        if key is not None:
            digest = hashlib.sha256((key + json.dumps(body, sort_keys=True)).encode()).hexdigest()[:16]
            case.headers["Idempotency-Key"] = f"{key[: openapi.MAX_IDEMPOTENCY_KEY - 17]}.{digest}"
    elif case.path == "/api/silences" and case.method == "POST" and isinstance(body, dict):
        for field in ("starts_at", "ends_at"):
            value = body.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body[field] = now + DAY + value % (300 * DAY)
        starts, ends = _epoch(body.get("starts_at")), _epoch(body.get("ends_at"))
        if starts is not None and ends is not None and starts >= ends:
            body["starts_at"] = None  # null means now, which is before any drawn end


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    app = create_app({"db": str(tmp_path_factory.mktemp("contract") / "monitor.db"), "api_token": TOKEN})
    schemathesis.openapi.format("event-time", event_times())
    schemathesis.openapi.format("date-time", future_wall_times())
    try:
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app.server)
        schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, deterministic=True, database="none")
        # 413 (body or batch too large) is a refusal too; schemathesis' default list omits it.
        rejection = schema.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        yield schema
    finally:
        from schemathesis.specs.openapi.formats import unregister_string_format

        unregister_string_format("event-time")
        unregister_string_format("date-time")


contract = schemathesis.pytest.from_fixture("api_schema")


@contract.parametrize()
def test_every_answer_matches_the_openapi_document(case: schemathesis.Case) -> None:
    make_valid_data_valid(case)
    # An operation that declares no header of its own has a negative header case only for its missing
    # Authorization: that case is sent without the token (the server must refuse it). Every other case carries it.
    unauthenticated = (case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
                       and not list(case.operation.headers))
    headers = {} if unauthenticated else {"Authorization": f"Bearer {TOKEN}"}
    # Schemathesis' WSGI transport sends requests' Accept-Encoding (gzip, deflate, br) but never decodes the
    # answer; the server compresses answers of 500 bytes or more for a client that asks. Ask for the body as is.
    headers["Accept-Encoding"] = "identity"
    case.call_and_validate(headers=headers, checks=CHECKS)


def test_the_limits_in_the_document_are_the_limits_in_the_code(tmp_path) -> None:
    app = create_app({"db": str(tmp_path / "monitor.db"), "window_days": 2})
    client = app.server.test_client()
    document = client.get("/api/openapi.json").get_json()
    paths, schemas = document["paths"], document["components"]["schemas"]
    ingest = paths["/api/transaction"]["post"]
    batch = ingest["requestBody"]["content"]["application/json"]["schema"]["oneOf"][1]
    key = ingest["parameters"][0]["schema"]
    assert (batch["minItems"], batch["maxItems"]) == (1, ingest_route.MAX_RECORDS)
    assert (key["minLength"], key["maxLength"]) == (1, ingest_route.MAX_IDEMPOTENCY_KEY)
    assert f"{ingest_route.MAX_BODY_BYTES:,} bytes" in ingest["responses"]["413"]["description"]
    assert f"{ingest_route.MAX_RECORDS:,} records" in ingest["responses"]["413"]["description"]
    assert f"{records.MAX_FUTURE_SECONDS // 60} minutes in the future" in ingest["responses"]["422"]["description"]
    silence = schemas["SilenceRequest"]["properties"]
    assert silence["comment"]["maxLength"] == silences.MAX_COMMENT
    assert silence["created_by"]["maxLength"] == silences.MAX_CREATED_BY
    assert silence["matchers"]["properties"]["rule"]["maxLength"] == silences.MAX_MATCHER_VALUE
    record = schemas["StatusRecord"]["properties"]
    assert record["count"]["maximum"] == records.MAX_RECORD_COUNT
    assert f"{records.MAX_MINUTE_COUNT:,}" in record["count"]["description"]
    assert record["timestamp"]["oneOf"][0]["maxLength"] == records.MAX_TIMESTAMP_CHARS
    assert f"{limits.MAX_SILENCE_BODY_BYTES:,} bytes" in paths["/api/silences"]["post"]["responses"]["413"]["description"]
    # No token configured: the routes that change state are open, and the document says so.
    assert ingest["security"] == [] and paths["/api/silences/{silence_id}"]["delete"]["security"] == []
    alert_params = {p["name"]: p["schema"] for p in paths["/api/alerts"]["get"]["parameters"]}
    assert alert_params["state"]["enum"] == list(routes.ALERT_STATES)

    # The window and the limit have no constant of their own: the server's answers at the bounds must agree.
    window = 2 * 24 * 60  # this server keeps two days, so the document says so rather than a fixed number
    for route in ("/api/transactions", "/api/auth_codes", "/api/stats"):
        minutes = paths[route]["get"]["parameters"][0]["schema"]
        assert (minutes["minimum"], minutes["maximum"]) == (1, window), route
        assert client.get(f"{route}?minutes={window}").status_code == 200
        assert client.get(f"{route}?minutes={window + 1}").status_code == 400
        assert client.get(f"{route}?minutes=0").status_code == 400
    for route in ("/api/alerts", "/api/notifications"):
        limit = {p["name"]: p["schema"] for p in paths[route]["get"]["parameters"]}["limit"]
        assert client.get(f"{route}?limit={limit['maximum']}").status_code == 200, route
        assert client.get(f"{route}?limit={limit['maximum'] + 1}").status_code == 400, route
        assert client.get(f"{route}?limit={limit['minimum'] - 1}").status_code == 400, route


def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client) -> None:
    cases = {
        ("GET", "/api/transaction"): "OPTIONS, POST",
        ("PUT", "/api/auth_code"): "OPTIONS, POST",
        ("POST", "/api/health"): "GET, HEAD, OPTIONS",
        ("PATCH", "/api/silences/abc"): "DELETE, GET, HEAD, OPTIONS",
        ("DELETE", "/api/silences"): "GET, HEAD, OPTIONS, POST",
    }
    for (method, path), allow in cases.items():
        response = client.open(path, method=method)
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] == allow, (method, path)
        assert response.get_json()["error"] == "method_not_allowed"
        assert method in response.get_json()["message"]
    assert set(client.post("/metrics").headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.options("/api/transaction").headers["Allow"] == "OPTIONS, POST"
    assert client.get("/api/no_such_route").status_code == 404  # an unknown path stays a 404


def _schema_problems(value: object, schema: dict, document: dict, where: str) -> list[str]:
    """Where ``value`` (a real answer) has a field its schema does not declare, or a declared field of the wrong
    JSON type: the document must name every field the server sends, with its type (an object schema that names
    no fields, like an incident's details, is free-form)."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "oneOf" in schema or "anyOf" in schema:
        tries = [_schema_problems(value, branch, document, where) for branch in schema.get("oneOf", schema.get("anyOf"))]
        return min(tries, key=len)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null, not declared nullable"]
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    kind = schema.get("type")
    if kind is not None and (not isinstance(value, kinds[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
        return [f"{where}: {type(value).__name__}, declared {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    problems: list[str] = []
    if isinstance(value, dict):
        declared = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}.{name}: required but missing")
        for name, item in value.items():
            if name in declared:
                problems += _schema_problems(item, declared[name], document, f"{where}.{name}")
            elif isinstance(extra, dict):
                problems += _schema_problems(item, extra, document, f"{where}.{name}")
            elif extra is not True and declared:  # an object without named fields (details) is free-form
                problems.append(f"{where}.{name}: sent but not in the document")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _schema_problems(item, schema["items"], document, f"{where}[{i}]")
    return problems


def test_every_field_of_every_answer_is_in_the_document_with_its_type(tmp_path) -> None:
    """The document is the contract: each answer below (alerts and incidents from a real failure burst and a
    denial spike, a silence, health, stats, series, errors) has exactly the fields its schema names, of the
    declared types and enums. A field renamed or dropped in the document, or a type or enum changed, fails."""
    from .test_api_incidents import BASELINE, ClientFeed

    app = create_app({"db": str(tmp_path / "monitor.db")})
    client = app.server.test_client()
    document = client.get("/api/openapi.json").get_json()
    feed = ClientFeed(client, app.server.extensions["monitor"])
    feed.post(BASELINE)
    feed.post(5, failed=5)
    feed.post(40)
    answered: list = []  # each ingest answer of the denial spike; those closing a minute list the alerts it opened
    for _ in range(6):
        statuses, codes = feed.records(feed.minute, c51=32, c59=8)
        answered += [client.post("/api/transaction", json=statuses), client.post("/api/auth_code", json=codes)]
        feed.minute += 1
    ingest = next(answer for answer in answered if answer.get_json()["alerts"])
    silence = client.post("/api/silences", json={"matchers": {"rule": "failed_high"}, "ends_at": time.time() + DAY,
                                                 "comment": "maintenance", "created_by": "ops"})
    assert silence.status_code == 201
    incidents = client.get("/api/incidents").get_json()
    assert {i["state"] for i in incidents["incidents"]} == {"open", "resolved"}  # both shapes are checked
    answers = {
        ("post", "/api/transaction", "201"): ingest,
        ("post", "/api/silences", "201"): silence,
        ("get", "/api/silences/{silence_id}", "200"): client.get(f"/api/silences/{silence.get_json()['id']}"),
        ("get", "/api/silences", "200"): client.get("/api/silences"),
        ("get", "/api/alerts", "200"): client.get("/api/alerts?state=all"),
        ("get", "/api/incidents", "200"): client.get("/api/incidents"),
        ("get", "/api/incidents/{incident_id}", "200"): client.get(f"/api/incidents/{incidents['incidents'][0]['id']}"),
        ("get", "/api/health", "200"): client.get("/api/health"),
        ("get", "/api/stats", "200"): client.get("/api/stats?minutes=60"),
        ("get", "/api/transactions", "200"): client.get("/api/transactions?minutes=5"),
        ("get", "/api/auth_codes", "200"): client.get("/api/auth_codes?minutes=5"),
        ("get", "/api/notifications", "200"): client.get("/api/notifications"),
        ("get", "/api/alerts", "400"): client.get("/api/alerts?limit=0"),
        ("get", "/api/incidents/{incident_id}", "404"): client.get("/api/incidents/inothere"),
        ("post", "/api/transaction", "422"): client.post("/api/transaction", json={**GOOD_RECORD, "count": -1}),
        ("post", "/api/transaction", "415"): client.post("/api/transaction", data="x", content_type="text/plain"),
        ("delete", "/api/silences/{silence_id}", "200"): client.delete(f"/api/silences/{silence.get_json()['id']}"),
    }
    for (method, path, status), response in answers.items():
        assert str(response.status_code) == status, (method, path, response.get_json())
        schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert _schema_problems(response.get_json(), schema, document, f"{method} {path} {status}") == []


GOOD_RECORD = {"timestamp": "2025-07-12 13:45:00", "status": "failed", "count": 3}


def test_with_a_token_the_document_marks_exactly_the_routes_that_refuse_a_request_without_it(tmp_path):
    """Each operation's ``security`` says what the server does: a request without the token is refused with
    401 where the document asks for the bearer token, and never refused for the token where it does not."""
    app = create_app({"db": str(tmp_path / "monitor.db"), "api_token": "s3cret-token"})
    client = app.server.test_client()
    document = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, operations in document["paths"].items():
        url = path.replace("{", "").replace("}", "")  # any id: the token is checked before the id is looked up
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue  # path-level "parameters"
            answer = client.open(url, method=method.upper(), json={})
            wants_token = operation.get("security") == [{"bearer": []}]
            assert (answer.status_code == 401) == wants_token, (method, path, answer.status_code, operation.get("security"))
            checked += 1
    assert checked >= 20


def test_every_query_parameter_is_required_exactly_when_the_server_refuses_a_request_without_it(tmp_path):
    """``required`` in the document is what the server does: leaving out an optional query parameter is
    answered (the default applies), leaving out a required one is a 400."""
    app = create_app({"db": str(tmp_path / "monitor.db")})
    client = app.server.test_client()
    document = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, operations in document["paths"].items():
        if "{" in path:
            continue  # an item route: its path parameter is always there
        operation = operations.get("get")
        query = [p for p in (operation or {}).get("parameters", []) if p.get("in") == "query"]
        for parameter in query:
            # Every other required parameter given (its first listed value), this one left out.
            given = {p["name"]: (p["schema"].get("enum") or [p["schema"].get("example")])[0]
                     for p in query if p.get("required") and p is not parameter}
            answer = client.get(path, query_string=given)
            assert (answer.status_code == 400) == bool(parameter.get("required")), (path, parameter["name"], answer.status_code)
            checked += 1
    assert checked >= 5
