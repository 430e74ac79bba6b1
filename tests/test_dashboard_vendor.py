"""The page's third-party files are served locally, and Plotly's is the basic bundle of the pinned version."""

from __future__ import annotations

import gzip
import json
import re

import brotli
from plotly.offline import get_plotlyjs_version

from components.vendor import PLOTLY_BASIC, CompressedFile, plotly_basic_url, plotly_basic_version


def test_the_basic_bundle_is_the_plotly_js_version_the_pinned_plotly_package_ships():
    # An upgrade of plotly without a matching basic bundle would mix two plotly.js versions.
    assert plotly_basic_version() == get_plotlyjs_version()


def test_dash_asks_for_plotly_and_gets_the_basic_bundle(client):
    index = client.get("/").get_data(as_text=True)
    assert not re.search(r"<script[^>]*plotly-basic", index)  # not added to the page as an asset as well
    # A file answer holds the file open until the response is closed.
    with client.get("/_dash-component-suites/plotly/package_data/plotly.min.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/javascript"
        assert response.get_data() == PLOTLY_BASIC.read_bytes()
        assert b"plotly.js (basic - minified)" in response.get_data()[:200]
    # only Plotly's file is replaced; anything else under that path is not served from here
    assert client.get("/_dash-component-suites/plotly/package_data/other.json").status_code == 404


def test_every_script_and_stylesheet_on_the_page_is_local(client):
    index = client.get("/").get_data(as_text=True)
    assert "http://" not in index.replace("http://www.w3.org", "") and "https://" not in index


def dash_config(client) -> dict:
    index = client.get("/").get_data(as_text=True)
    found = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', index, re.S)
    assert found, "no _dash-config in the page"
    return json.loads(found.group(1))


def test_the_page_asks_for_plotly_at_a_url_with_its_version_and_content_hash(app, client):
    config = dash_config(client)
    # The renderer reads serve_locally only to choose Plotly's URL: told False, it takes plotlyjs_url.
    assert config["serve_locally"] is False
    url = config["plotlyjs_url"]
    assert url == app.plotly_url
    assert re.fullmatch(rf"/vendor/plotly/plotly-basic-{re.escape(get_plotlyjs_version())}\.[0-9a-f]{{12}}\.min\.js", url)
    # Dash itself still serves every other file from this process.
    assert "/_dash-component-suites/dash/" in client.get("/").get_data(as_text=True)


def test_the_fingerprint_changes_with_the_content(tmp_path):
    one, two = tmp_path / "one.js", tmp_path / "two.js"
    one.write_bytes(b"var a = 1;")
    two.write_bytes(b"var a = 2;")
    assert plotly_basic_url(CompressedFile(one)) != plotly_basic_url(CompressedFile(two))
    assert plotly_basic_url(CompressedFile(one)) == plotly_basic_url(CompressedFile(one))


def test_the_fingerprinted_bundle_is_compressed_and_kept_for_a_year(app, client):
    raw = PLOTLY_BASIC.read_bytes()
    for accept, encoding, decode in (("gzip, deflate, br, zstd", "br", brotli.decompress),
                                     ("gzip, deflate", "gzip", gzip.decompress),
                                     ("identity", None, bytes)):
        with client.get(app.plotly_url, headers={"Accept-Encoding": accept}) as response:
            assert response.status_code == 200, accept
            assert response.mimetype == "application/javascript"
            assert response.headers.get("Content-Encoding") == encoding, accept
            assert response.headers["Vary"] == "Accept-Encoding"
            assert decode(response.get_data()) == raw, accept
            cache = response.cache_control
            assert cache.max_age == 365 * 24 * 3600 and cache.public and cache.immutable, response.headers
            if encoding is not None:
                assert len(response.get_data()) < len(raw) * 0.35, (encoding, len(response.get_data()))
    # A reload that revalidates gets no body.
    with client.get(app.plotly_url, headers={"Accept-Encoding": "br"}) as first:
        etag = first.headers["ETag"]
    with client.get(app.plotly_url, headers={"Accept-Encoding": "br", "If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.get_data() == b""
    # An older (or made-up) fingerprint is not this file: never served under a name that would be kept a year.
    stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", app.plotly_url)
    assert client.get(stale).status_code == 404
