"""What the dashboard costs on the wire: compressed answers, and fingerprinted files cached for a year.

Through Flask's test client on a real app and Monitor: no browser is needed to read headers.
"""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

from app import create_app
from serving import YEAR_SECONDS

from .test_dashboard_callbacks import START, refresh_request

BROWSER = "gzip, deflate, br, zstd"


@pytest.fixture
def demo_app(monitor, clock):
    clock.now = (START + 24 * 60) * 60.0 + 10
    app = create_app({"db": ":memory:", "simulate": True}, monitor=monitor)
    app.server.extensions["feed_writer"].backfill(6 * 60)
    return app


def refresh_body(app) -> dict:
    """A 24 h refresh of a page that holds nothing yet (every part is sent)."""
    return refresh_request(app, "24h")


def page_urls(client) -> list[str]:
    index = client.get("/", headers={"Accept-Encoding": "identity"}).get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/[^"]+)"', index)


def test_the_page_says_it_is_english(client):
    index = client.get("/").get_data(as_text=True)
    assert re.search(r'<html lang="en">', index), index[:200]


def test_the_refresh_answer_is_compressed_and_decodes_to_the_same_json(demo_app):
    client = demo_app.server.test_client()
    plain = client.post("/_dash-update-component", json=refresh_body(demo_app), headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    for accept, encoding, decode in (("gzip", "gzip", gzip.decompress), (BROWSER, "zstd", None),
                                     ("gzip, deflate, br", "br", brotli.decompress)):
        packed = client.post("/_dash-update-component", json=refresh_body(demo_app), headers={"Accept-Encoding": accept})
        assert packed.status_code == 200
        assert packed.headers.get("Content-Encoding") == encoding, accept
        assert "Accept-Encoding" in packed.headers.get("Vary", "")
        if decode is not None:
            # The figures of a 24 h refresh are mostly repeated keys and small numbers: a fifth of the size or less.
            assert decode(packed.get_data()) == plain.get_data()
        assert len(packed.get_data()) < len(plain.get_data()) / 5, (accept, len(packed.get_data()), len(plain.get_data()))


@pytest.mark.parametrize("path", ["/", "/_dash-layout", "/_dash-dependencies", "/api/openapi.json"])
def test_pages_and_json_are_compressed_for_a_client_that_accepts_it(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == "gzip", path
    assert len(gzip.decompress(response.get_data())) > len(response.get_data())


def test_small_answers_are_sent_as_they_are(client):
    # The single-record POST is the hot path: its answer is far below the threshold and is never compressed.
    response = client.post("/api/transaction", json={"timestamp": "2025-07-12 13:45:00", "status": "approved", "count": 3},
                           headers={"Accept-Encoding": BROWSER})
    assert response.status_code == 201, response.data
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["accepted"] == 1


def test_every_file_the_page_names_carries_a_fingerprint_and_is_kept_for_a_year(client):
    urls = page_urls(client)
    assert len(urls) >= 10, urls
    for url in urls:
        assert re.search(r"\?[mv]=|\.v[0-9_]+m[0-9]+", url), f"{url}: no fingerprint in the URL"
        with client.get(url, headers={"Accept-Encoding": BROWSER}) as response:
            assert response.status_code == 200, url
            assert response.cache_control.max_age == YEAR_SECONDS, (url, response.headers.get("Cache-Control"))
            assert not response.cache_control.no_cache, url


def test_scripts_and_styles_the_page_names_are_compressed(client):
    for url in page_urls(client):
        if url.startswith("/_favicon"):
            continue
        with client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}) as response:
            assert response.headers.get("Content-Encoding") in ("br", "deflate", "gzip"), url


def test_the_same_file_without_its_fingerprint_is_revalidated_not_kept(client):
    with client.get("/assets/monitor.css") as response:
        assert response.status_code == 200
        assert response.cache_control.max_age is None or response.cache_control.max_age == 0, response.headers
    with client.get("/vendor/bootstrap/bootstrap.min.css?v=0.0.1") as response:  # not the installed version
        assert response.cache_control.max_age == 86400
