"""Where the page's third-party CSS comes from: Bootstrap 5 out of the installed Bootstrap-Flask package.

Flask serves the file from the package directory, so the page works on a
machine with no internet; no CDN address appears anywhere in the page.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Flask, send_from_directory

BOOTSTRAP_URL = "/vendor/bootstrap/bootstrap.min.css"


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
