"""Request bodies as JSON, with bounds: size (413), content type (415), and syntax, nesting depth and numbers (400).

Python's ``json`` module raises ``RecursionError`` on deeply nested input and a
plain ``ValueError`` on integer literals past 4,300 digits; both would be 500s
if they escaped. Everything a client can send wrong here becomes an ``ApiError``
naming the problem. ``register_body_guards`` applies the same checks to the POST
routes Dash owns (``/_dash-update-component``), which parse bodies themselves.
"""

from __future__ import annotations

import json
import math
import sys
from itertools import chain
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import ApiError, error_response
from .limits import (
    MAX_DASH_BODY_BYTES,
    MAX_JSON_DEPTH,
)

_CONTAINERS = frozenset((list, dict))


class _NumberError(ValueError):
    """A number literal the monitor cannot hold: NaN, Infinity, or a float that overflows to infinity."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError(f"the number {text[:40]} is too large")
    return value


def _no_constant(name: str) -> float:
    raise _NumberError(f"{name} is not a JSON number")


# Built once: json.loads() with hooks would build a decoder per call. It holds no state between calls.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when arrays/objects nest more than ``limit`` levels (a scalar is 0, ``[]`` is 1).

    Walks one level at a time with C-level iteration, so a batch of flat records
    (a list of objects of scalars) costs two passes, not a Python loop per value.
    """
    level = [value]
    for depth in range(limit + 1):
        kinds = set(map(type, level))
        if not kinds & _CONTAINERS:
            return False
        if depth == limit:
            return True
        if not kinds <= _CONTAINERS:
            level = [v for v in level if type(v) in _CONTAINERS]
            kinds &= _CONTAINERS
        if kinds == {dict}:
            level = [*chain.from_iterable(map(dict.values, level))]
        elif kinds == {list}:
            level = [*chain.from_iterable(level)]
        else:
            level = [*chain.from_iterable(v.values() if type(v) is dict else v for v in level)]
    return True


def parse_json(body: bytes) -> Any:
    """Decode a JSON body or raise ``ApiError(400, "invalid_json")`` saying what is wrong with it."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        payload = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", _too_deep()) from None
    except _NumberError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except ValueError:  # int() refuses literals longer than sys.get_int_max_str_digits()
        raise ApiError(400, "invalid_json",
                       f"the body is not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits") from None
    # Counting brackets is cheap and settles the common case (one record) without a walk.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and nested_deeper_than(payload, MAX_JSON_DEPTH):
        raise ApiError(400, "invalid_json", _too_deep())
    return payload


def _too_deep() -> str:
    return f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; at most {MAX_JSON_DEPTH} are accepted"


def read_json(environ: dict[str, Any], max_bytes: int) -> tuple[Any, bytes]:
    """The request's JSON body and its bytes, straight from the WSGI environ (this runs for every posted record)."""
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send Content-Type: application/json, got {mimetype or 'none'!r}")
    length = environ.get("CONTENT_LENGTH")
    declared = int(length) if length and length.isdigit() else None
    if declared is not None and declared > max_bytes:
        raise ApiError(413, "payload_too_large", _too_large(max_bytes))
    body = environ["wsgi.input"].read(declared if declared is not None else max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "payload_too_large", _too_large(max_bytes))
    return parse_json(body), body


def _too_large(max_bytes: int) -> str:
    return f"the body is over {max_bytes} bytes; split it into smaller requests"


def register_body_guards(server: Flask, prefix: str = "/api/") -> None:
    """Bound the bodies of POST routes outside ``prefix`` (Dash's callbacks): 413 over 1 MB, 400 for bad JSON.

    Dash parses with ``request.get_json()``, which turns nesting too deep into a
    500; here the body is checked first and a JSON error answers instead. The
    body stays cached on the request, so Dash reads it without a second upload.
    """

    @server.before_request
    def _guard_posted_json():
        if request.method != "POST" or request.path.startswith(prefix) or request.path == "/metrics":
            return None
        if request.content_length is not None and request.content_length > MAX_DASH_BODY_BYTES:
            return error_response(413, "payload_too_large", _too_large(MAX_DASH_BODY_BYTES))
        if not request.is_json:
            return None  # Dash answers a wrong content type itself (415)
        request.max_content_length = MAX_DASH_BODY_BYTES  # also bounds a body sent without a length
        try:
            body = request.get_data(cache=True)
            parse_json(body)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except RequestEntityTooLarge:  # a body sent without a length, read past the limit
            return error_response(413, "payload_too_large", _too_large(MAX_DASH_BODY_BYTES))
        return None
