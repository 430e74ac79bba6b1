"""Who may write through the dashboard: the REST API's bearer token, checked on the server before any write."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

TOKEN_MISSING = ("Not posted: this monitor needs its API token (MONITOR_API_TOKEN) to write. "
                 "Enter it above and press the button again.")
TOKEN_WRONG = "Not posted: that is not the API token (MONITOR_API_TOKEN). Enter it above and press the button again."


@dataclass(frozen=True)
class WriteAccess:
    """The outcome of one check: allowed, the token to keep for the tab (None: forget it), or why not."""

    allowed: bool
    keep: str | None = None
    refusal: str = ""


def token_matches(given: str, api_token: str) -> bool:
    """Constant-time comparison, as ``require_bearer`` does for the REST API."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), api_token.encode("utf-8", "surrogatepass"))


def check_write(api_token: str | None, typed: object, kept: object) -> WriteAccess:
    """No token configured: open. Otherwise the token typed now, else the one kept for the tab, must match.

    Anything that is not a string (a forged request may send any JSON) counts as no token.
    """
    if not api_token:
        return WriteAccess(True)
    given = typed.strip() if isinstance(typed, str) and typed.strip() else kept if isinstance(kept, str) else ""
    if not given:
        return WriteAccess(False, None, TOKEN_MISSING)
    if not token_matches(given, api_token):
        return WriteAccess(False, None, TOKEN_WRONG)
    return WriteAccess(True, given)
