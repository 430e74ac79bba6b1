"""Request checks shared by the API's blueprints: the bearer token and the query parameters."""

from __future__ import annotations

import hmac

from flask import request

from .errors import ApiError


def check_bearer(authorization: str, api_token: str | None) -> None:
    """Refuse (401) unless the Authorization header's value carries the token; no token configured means open.

    Takes the header's value, so the ingest fast path (no Flask request there) checks it the same way."""
    if not api_token:
        return
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_token.encode()):
        raise ApiError(401, "unauthorized", "this route needs 'Authorization: Bearer <token>' (MONITOR_API_TOKEN is set)")


def require_bearer(api_token: str | None) -> None:
    """Refuse the current request (401) unless it carries the token."""
    check_bearer(request.headers.get("Authorization", ""), api_token)


def only_args(*names: str) -> None:
    """Refuse (400) a query parameter the route does not take: a typo such as ``?minute=5`` must not be ignored."""
    for name in request.args:
        if name not in names:
            takes = f"takes {', '.join(repr(n) for n in names)}" if names else "takes no query parameters"
            raise ApiError(400, "invalid_parameter", f"unknown query parameter {name[:40]!r}; this route {takes}")


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be an integer from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be from {low} to {high}, got {value}")
    return value


def choice_arg(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A query parameter that must be one of ``choices``, or a 400 naming it and them."""
    value = request.args.get(name, default)
    if value not in choices:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value
