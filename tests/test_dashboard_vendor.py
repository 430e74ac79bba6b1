"""The page's third-party files are served locally, and Plotly's is the basic bundle of the pinned version."""

from __future__ import annotations

from plotly.offline import get_plotlyjs_version

from components.vendor import PLOTLY_BASIC, plotly_basic_version


def test_the_basic_bundle_is_the_plotly_js_version_the_pinned_plotly_package_ships():
    # An upgrade of plotly without a matching basic bundle would mix two plotly.js versions.
    assert plotly_basic_version() == get_plotlyjs_version()


def test_dash_asks_for_plotly_and_gets_the_basic_bundle(client):
    index = client.get("/").get_data(as_text=True)
    assert "plotly-basic" not in index  # not added to the page as an asset as well
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
