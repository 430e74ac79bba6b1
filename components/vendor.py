"""Where the page's third-party files come from, all served locally (no CDN address anywhere in the page).

- Bootstrap 5's CSS, out of the installed Bootstrap-Flask package.
- Plotly's JavaScript: the *basic* bundle (scatter, bar, pie; 1.2 MB) in place of
  the full one (4.8 MB) that Dash would load. The charts draw only scatter traces,
  and compiling the full bundle was most of a first page load (2.7 s against 1.5 s).
  The file is ``assets/vendor/plotly-basic.min.js`` (npm ``plotly.js-basic-dist-min``,
  MIT), the same plotly.js version as the pinned ``plotly`` package bundles.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Flask, abort, send_from_directory

BOOTSTRAP_URL = "/vendor/bootstrap/bootstrap.min.css"
PLOTLY_BASIC = Path(__file__).resolve().parents[1] / "assets" / "vendor" / "plotly-basic.min.js"
# Dash would add it to the page as an asset: it is served in Plotly's place instead.
ASSETS_IGNORE = r"^plotly-basic"


def bootstrap_css_dir() -> Path:
    return Path(str(files("flask_bootstrap") / "static" / "bootstrap5" / "css"))


def serve_bootstrap(server: Flask) -> str:
    """Add the route that serves Bootstrap's CSS (and its source map); returns the URL for the page."""
    directory = bootstrap_css_dir()
    if not (directory / "bootstrap.min.css").is_file():
        raise RuntimeError(f"Bootstrap CSS not found in {directory}; install the pinned Bootstrap-Flask (requirements.txt)")

    @server.get("/vendor/bootstrap/<path:name>")
    def bootstrap_file(name: str):
        return send_from_directory(directory, name, max_age=86400)

    return BOOTSTRAP_URL


def plotly_basic_version() -> str:
    """The plotly.js version written in the bundle's header ("plotly.js (basic - minified) v4.1.1")."""
    head = PLOTLY_BASIC.read_text(encoding="utf-8", errors="replace")[:200]
    marker = "minified) v"
    return head[head.index(marker) + len(marker):].split()[0]


def serve_plotly_basic(server: Flask) -> None:
    """Answer Dash's request for Plotly's full bundle with the basic one.

    This route is more specific than Dash's component-suite route, so Werkzeug
    picks it for Plotly's file only; every other component file is Dash's own.
    """
    if not PLOTLY_BASIC.is_file():
        raise RuntimeError(f"{PLOTLY_BASIC} is missing: the dashboard's charts need it")

    @server.get("/_dash-component-suites/plotly/package_data/<path:name>")
    def plotly_bundle(name: str):
        if not (name.startswith("plotly.min") and name.endswith(".js")):
            abort(404)
        return send_from_directory(PLOTLY_BASIC.parent, PLOTLY_BASIC.name, max_age=86400,
                                   mimetype="application/javascript")
