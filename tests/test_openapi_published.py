"""docs/openapi.json, the API document in the repository, is word for word what a server serves."""

from __future__ import annotations

import json

from api.openapi_file import PUBLISHED, main, published_document, render
from app import create_app


def test_the_published_document_is_what_the_code_builds_for_its_year():
    text = PUBLISHED.read_text(encoding="utf-8")
    year = json.loads(text)["info"]["x-newest-event-year"]
    assert text == render(published_document(year)), (
        "docs/openapi.json is out of date with api/openapi.py: run python -m api.openapi_file")


def test_a_server_with_the_built_in_thresholds_and_a_token_serves_the_published_document(tmp_path):
    app = create_app({"db": str(tmp_path / "monitor.db"), "api_token": "s3cret-token"})
    try:
        served = app.server.test_client().get("/api/openapi.json").get_json()
    finally:
        app.server.extensions["monitor"].store.close()
    assert served == published_document()


def test_check_says_when_the_copy_is_out_of_date(tmp_path, capsys):
    copy = tmp_path / "openapi.json"
    assert main(["--out", str(copy)]) == 0 and main(["--check", "--out", str(copy)]) == 0
    copy.write_text(copy.read_text().replace("Post status counts", "Post status count"))
    assert main(["--check", "--out", str(copy)]) == 1
    assert capsys.readouterr().err == f"{copy} is out of date: run python -m api.openapi_file\n"
