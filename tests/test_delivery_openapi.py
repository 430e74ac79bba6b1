"""The OpenAPI document stays valid and lists the notification routes."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_openapi_documents_silences_notifications_and_metrics(client):
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert {"get", "post"} <= set(doc["paths"]["/api/silences"])
    assert {"get", "delete"} <= set(doc["paths"]["/api/silences/{silence_id}"])
    assert "get" in doc["paths"]["/api/notifications"]
    assert "get" in doc["paths"]["/metrics"]
    assert doc["components"]["schemas"]["Alert"]["properties"]["silenced"]["type"] == "boolean"
