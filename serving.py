"""How the dashboard's bytes reach a browser: the HTML shell (lang), compression, and how long each file may be cached.

- The page is English: the shell says so (``<html lang="en">``), so screen readers pronounce it right.
- Responses are compressed (flask-compress: zstd, brotli, gzip, as the client accepts): the refresh JSON,
  the layout, Dash's and Bootstrap's files. Plotly's 1.2 MB bundle is compressed once per process and
  kept (``components.vendor``), not on every request.
- A file whose URL changes when its content does is cached for a year: Dash's component suites (Dash
  does that itself), Plotly's bundle (its version and content hash in the name), Bootstrap's CSS
  (``?v=`` its package version), the favicon (``?v=`` Dash's version) and ``assets/`` (``?m=`` the
  file's modification time, which Dash puts in the page). The same URL without the fingerprint is
  revalidated every time, so an edited file is never served stale.
"""

from __future__ import annotations

from typing import Any

from dash import Dash
from flask import Flask, Response, request
from flask_compress import Compress

# Dash's own shell (dash.dash._default_index) with the page's language, and without the Internet Explorer
# warning (Dash no longer runs there).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""

YEAR_SECONDS = 365 * 24 * 3600
# Below this a response is sent as it is: compressing it would save less than the headers it adds. The
# single-record POST answers are all below it, so the ingest path never pays for the compressor.
COMPRESS_MIN_BYTES = 500
# (path prefix, query parameter) of the URLs that carry a fingerprint: cached for a year when it is there.
FINGERPRINTED = (("/assets/", "m"), ("/_favicon.ico", "v"))


class MonitorDash(Dash):
    """Dash, with the renderer told where Plotly's bundle is.

    With ``serve_locally`` the renderer fetches Plotly from a fixed, unversioned URL
    (``_dash-component-suites/plotly/package_data/plotly.min.js``) that no browser may cache for long.
    The renderer reads ``serve_locally`` for nothing else (dash-renderer 4.4.1): told ``False``, it takes
    ``plotlyjs_url`` instead, here our own fingerprinted, local URL. Everything else is still served
    locally (that is the Python side's ``serve_locally``, which this leaves alone).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plotly_url: str | None = None  # set once its route is added (components.vendor.serve_plotly_basic)

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        if self.plotly_url:
            config["serve_locally"] = False
            config["plotlyjs_url"] = self.plotly_url
        return config


def compress_responses(server: Flask) -> Compress:
    """Compress what is worth compressing; mark fingerprinted URLs cacheable for a year."""
    server.config.setdefault("COMPRESS_MIN_SIZE", COMPRESS_MIN_BYTES)
    server.config["COMPRESS_REGISTER"] = False  # our hook below calls it, after a cheap size check
    compress = Compress(server)

    @server.after_request
    def compress_and_cache(response: Response) -> Response:
        # Every posted record passes here: its answer (201, small) leaves after one header read and no
        # look at the request (about 0.5 us; request.path and Response.content_length cost 1-2 us each).
        length = response.headers.get("Content-Length")
        small = length is not None and int(length) < COMPRESS_MIN_BYTES
        if response.status_code == 200:
            path = request.path
            for prefix, parameter in FINGERPRINTED:
                if path.startswith(prefix) and request.args.get(parameter):
                    cache_for_a_year(response)
        if small or response.status_code == 206:
            # Small: never compressed, whatever the client accepts, so no Vary either. 206: a byte range of
            # the file as stored; compressing it would change what the range means.
            return response
        if response.is_streamed and response.mimetype in compress.compress_mimetypes_set:
            # A file answer (send_from_directory). flask-compress would wrap the open file in a generator whose
            # close() never closes the file (a leaked descriptor per request): read it now, and the file is
            # closed when the response is. The files served this way are CSS, 232 KB at most.
            response.direct_passthrough = False
            response.make_sequence()
        return compress.after_request(response)

    return compress


def cache_for_a_year(response: Response) -> None:
    """The URL names this exact content: a browser may keep it and never ask again."""
    response.cache_control.no_cache = None
    response.cache_control.public = True
    response.cache_control.max_age = YEAR_SECONDS
    response.cache_control.immutable = True
    response.expires = None
