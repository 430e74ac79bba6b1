"""Where the page's third-party files come from, all served locally (no CDN address anywhere in the page).

- Bootstrap 5's CSS, out of the installed Bootstrap-Flask package.
- Plotly's JavaScript: the *basic* bundle (scatter, bar, pie; 1.2 MB) in place of
  the full one (4.8 MB) that Dash would load. The charts draw only scatter traces,
  and compiling the full bundle was most of a first page load (2.7 s against 1.5 s).
  The file is ``assets/vendor/plotly-basic.min.js`` (npm ``plotly.js-basic-dist-min``,
  MIT), the same plotly.js version as the pinned ``plotly`` package bundles.

Both carry a fingerprint in their URL (Bootstrap-Flask's version; plotly.js's version and
the bundle's content hash), so a browser keeps them for a year and an upgrade is a new URL.
Plotly's bundle is compressed once per process (brotli, gzip) and the bytes kept: compressing
1.2 MB again on every first visit would cost more than the transfer it saves on a local network.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import brotli
from flask import Flask, Response, abort, request, send_from_directory

BOOTSTRAP_URL = "/vendor/bootstrap/bootstrap.min.css"
PLOTLY_URL_PREFIX = "/vendor/plotly/"
YEAR_SECONDS = 365 * 24 * 3600
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

    fingerprint = version("Bootstrap-Flask")

    @server.get("/vendor/bootstrap/<path:name>")
    def bootstrap_file(name: str):
        # The page asks with ?v=<version>: that exact file may be kept for a year; without it, a day.
        lasting = request.args.get("v") == fingerprint
        return send_from_directory(directory, name, max_age=YEAR_SECONDS if lasting else 86400)

    return f"{BOOTSTRAP_URL}?v={fingerprint}"


def plotly_basic_version() -> str:
    """The plotly.js version written in the bundle's header ("plotly.js (basic - minified) v4.1.1")."""
    head = PLOTLY_BASIC.read_text(encoding="utf-8", errors="replace")[:200]
    marker = "minified) v"
    return head[head.index(marker) + len(marker):].split()[0]


class CompressedFile:
    """One file's bytes, and each compressed form of them made the first time a client asks for it."""

    ENCODINGS = ("br", "gzip")

    def __init__(self, path: Path):
        self.raw = path.read_bytes()
        self.etag = hashlib.sha256(self.raw).hexdigest()
        self._encoded: dict[str, bytes] = {}
        self._lock = threading.Lock()  # two first visits at once compress it once

    def encoded(self, encoding: str) -> bytes:
        with self._lock:
            if encoding not in self._encoded:
                # brotli 9 / gzip 9: 357 / 395 KB of 1,192 KB in 0.12 / 0.05 s, once (brotli 11 saves 28 KB more in 2.5 s)
                data = brotli.compress(self.raw, quality=9) if encoding == "br" else gzip.compress(self.raw, 9, mtime=0)
                self._encoded[encoding] = data
            return self._encoded[encoding]

    def response(self, mimetype: str) -> Response:
        """The best encoding the client accepts (none if it accepts none), marked cacheable for a year."""
        accepted = request.accept_encodings
        encoding = next((e for e in self.ENCODINGS if accepted[e] > 0), None)
        body = self.raw if encoding is None else self.encoded(encoding)
        response = Response(body, mimetype=mimetype)
        if encoding is not None:
            response.headers["Content-Encoding"] = encoding
        response.headers["Vary"] = "Accept-Encoding"
        response.set_etag(self.etag + (f":{encoding}" if encoding else ""))
        response.cache_control.public = True
        response.cache_control.max_age = YEAR_SECONDS
        response.cache_control.immutable = True
        # A reload that revalidates (If-None-Match) gets 304 and no body instead of 349 KB again.
        return response.make_conditional(request)


def plotly_basic_url(bundle: CompressedFile) -> str:
    """``/vendor/plotly/plotly-basic-3.1.1.<12 hex of its SHA-256>.min.js``: a new file is a new URL."""
    return f"{PLOTLY_URL_PREFIX}plotly-basic-{plotly_basic_version()}.{bundle.etag[:12]}.min.js"


def serve_plotly_basic(server: Flask) -> str:
    """Serve Plotly's basic bundle at a fingerprinted URL (returned, for the page), and answer Dash's
    request for Plotly's full bundle with it too.

    The second route is more specific than Dash's component-suite route, so Werkzeug
    picks it for Plotly's file only; every other component file is Dash's own. The page
    itself asks for the fingerprinted URL (see ``serving.MonitorDash``).
    """
    if not PLOTLY_BASIC.is_file():
        raise RuntimeError(f"{PLOTLY_BASIC} is missing: the dashboard's charts need it")
    bundle = CompressedFile(PLOTLY_BASIC)
    url = plotly_basic_url(bundle)
    file_name = url.removeprefix(PLOTLY_URL_PREFIX)

    @server.get(f"{PLOTLY_URL_PREFIX}<path:requested>")
    def plotly_fingerprinted(requested: str):
        if requested != file_name:  # an older fingerprint, or anything else: not this file
            abort(404)
        return bundle.response("application/javascript")

    @server.get("/_dash-component-suites/plotly/package_data/<path:name>")
    def plotly_bundle(name: str):
        if not (name.startswith("plotly.min") and name.endswith(".js")):
            abort(404)
        return send_from_directory(PLOTLY_BASIC.parent, PLOTLY_BASIC.name, max_age=86400,
                                   mimetype="application/javascript")

    return url
