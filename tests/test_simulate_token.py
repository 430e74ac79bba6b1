"""The simulate buttons obey MONITOR_API_TOKEN: a click writes only with the token, checked on the server.

Each test posts the request the page sends for a click to Dash's real endpoint
(``/_dash-update-component``) and compares the store's rows before and after.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from app import create_app
from components import ids

from .test_dashboard_callbacks import simulate_body

TOKEN = "dash-T0ken-42"


def stored_rows(path: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return (db.execute("SELECT * FROM minute_counts ORDER BY 1, 2").fetchall()
                + db.execute("SELECT id, state FROM alerts ORDER BY id").fetchall())


@pytest.fixture
def guarded(tmp_path):
    """A monitor with simulation on and an API token, holding an hour of data."""
    path = str(tmp_path / "monitor.db")
    app = create_app({"db": path, "simulate": True, "api_token": TOKEN})
    app.server.extensions["feed_writer"].backfill(60)
    return app, path


def click(app, scenario: str = "processing_failure", token: object = "", kept: object = None,
          headers: dict | None = None) -> dict:
    """The whole JSON answer to one simulate click (``response`` and Dash's ``sideUpdate``)."""
    body = simulate_body(app, scenario, token, kept)
    response = app.server.test_client().post("/_dash-update-component", json=body, headers=headers or {})
    assert response.status_code == 200, response.data[:500]
    return response.get_json()


def result_text(answer: dict) -> str:
    return json.dumps(answer["response"][ids.SIMULATE_RESULT]["children"])


@pytest.mark.parametrize("tokens", [
    {"token": "", "kept": None},  # nothing typed, nothing kept: what a forged POST sends
    {"token": None, "kept": None},
    {"token": "   ", "kept": None},
    {"token": "", "kept": None, "headers": {"Authorization": "Bearer wrong"}},
], ids=["empty", "null", "blank", "wrong-header"])
def test_a_click_without_the_token_writes_nothing(guarded, tokens):
    app, path = guarded
    before = stored_rows(path)
    answer = click(app, **tokens)
    assert "Not posted: this monitor needs its API token (MONITOR_API_TOKEN) to write" in result_text(answer)
    assert ids.SIMULATED not in answer["response"]  # the page is not told to refresh: nothing changed
    assert stored_rows(path) == before


@pytest.mark.parametrize("tokens", [
    {"token": "dash-T0ken-43"},
    {"token": TOKEN + " x"},
    {"token": TOKEN[:-1]},
    {"token": "", "kept": "dash-T0ken-41"},  # a token kept from before a restart with another token
    {"token": "wrong", "kept": TOKEN},  # what was typed counts, not what was kept
], ids=["other", "longer", "shorter", "kept-wrong", "typed-wrong"])
def test_a_click_with_a_wrong_token_writes_nothing_and_forgets_it(guarded, tokens):
    app, path = guarded
    before = stored_rows(path)
    answer = click(app, **tokens)
    assert "Not posted: that is not the API token" in result_text(answer)
    assert answer["sideUpdate"][ids.API_TOKEN_STORE] == {"data": None}  # the page asks again
    assert stored_rows(path) == before


@pytest.mark.parametrize("forged", [{"token": ["dash-T0ken-42"]}, {"token": {"a": 1}}, {"token": 42},
                                    {"token": "", "kept": {"token": TOKEN}}])
def test_a_token_that_is_not_a_string_writes_nothing(guarded, forged):
    app, path = guarded
    before = stored_rows(path)
    assert "Not posted" in result_text(click(app, **forged))
    assert stored_rows(path) == before


def test_the_right_token_writes_and_is_kept_for_the_tab(guarded):
    app, path = guarded
    before = stored_rows(path)
    answer = click(app, token=f" {TOKEN} ")  # pasted with spaces around it
    text = result_text(answer)
    assert "Processing failure: posted" in text
    assert answer["response"][ids.SIMULATED]["data"] == 1
    assert answer["sideUpdate"][ids.API_TOKEN_STORE] == {"data": TOKEN}
    assert answer["sideUpdate"][ids.SIMULATE_TOKEN] == {"value": ""}  # the password field is cleared
    after = stored_rows(path)
    assert len(after) > len(before) and after[:len(before)] != after  # new minutes stored
    # The next click sends the kept token only (the field is empty): it writes again.
    again = click(app, token="", kept=TOKEN)
    assert "Processing failure: posted" in result_text(again)
    assert len(stored_rows(path)) > len(after)


def test_the_page_asks_for_the_token_only_when_one_is_set(guarded, tmp_path):
    app, _ = guarded
    layout = json.dumps(app.server.test_client().get("/_dash-layout").get_json())
    assert f'"id": "{ids.SIMULATE_TOKEN}"' in layout and '"type": "password"' in layout
    assert '"storage_type": "session"' in layout
    prompt = find(app.server.test_client().get("/_dash-layout").get_json(), ids.SIMULATE_TOKEN_PROMPT)
    assert prompt["props"]["hidden"] is False
    open_app = create_app({"db": str(tmp_path / "open.db"), "simulate": True})
    assert find(open_app.server.test_client().get("/_dash-layout").get_json(), ids.SIMULATE_TOKEN_PROMPT)["props"]["hidden"]
    # Without a token the buttons write as before.
    assert "posted" in result_text(click(open_app))


def find(node, component_id: str):
    """The component with ``component_id`` in a serialised Dash layout."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        children = node.get("props", {}).get("children")
        return find(children, component_id) if children is not None else None
    if isinstance(node, list):
        for child in node:
            found = find(child, component_id)
            if found is not None:
                return found
    return None


def test_a_forged_click_without_the_token_fields_writes_nothing(guarded):
    app, path = guarded
    before = stored_rows(path)
    body = simulate_body(app, "processing_failure")
    body["state"] = body["state"][:1]  # an old page, or a hand-made request, that sends no token at all
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code != 200
    assert "Traceback" not in response.get_data(as_text=True)
    assert stored_rows(path) == before
