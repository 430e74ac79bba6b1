"""Secrets out of URLs before anyone sees them: ``user:password@``, query values, fragments and webhook path tokens.

``redact_url`` is the one place that decides what of a channel's URL may be
shown (API answers, the delivery log, error messages); ``redact_text`` applies
it to every URL inside a free text such as an error message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"
# Hosts whose webhook URLs carry the secret in the path (Slack: /services/T.../B.../<token>): keep the first segment.
PATH_SECRET_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
# A URL in a sentence: closing punctuation right after it is the sentence's, not the URL's.
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]*[^\s<>\"'`).,;:!?\]]")
# A path segment that looks generated (long, letters and digits mixed) is a token, e.g. /hooks/9f8e7d6c5b4a3928.
TOKEN_SEGMENT = re.compile(r"(?<=/)(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[^/]{16,}")


def redact_url(url: str) -> str:
    """The URL with its secrets masked; scheme, host, port and path shape stay, so a person can tell where it goes.

    ``https://u:p@h:8443/hook?token=abc&team=x`` -> ``https://***@h:8443/hook?token=***&team=***``;
    ``https://hooks.slack.com/services/T0/B0/XYZ`` -> ``https://hooks.slack.com/services/***``.
    Anything that does not parse as scheme://host... is masked whole.
    """
    try:
        parts = urlsplit(url.strip())
        hostname = (parts.hostname or "").lower()
        parts.port  # noqa: B018 -- raises on a malformed authority, e.g. a password holding '/', '?' or '#'
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc or "@" in parts.path:  # '@' after the host: userinfo we cannot delimit
        return MASK
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{MASK}@{host}" if "@" in parts.netloc else host
    text = f"{parts.scheme}://{netloc}{_redact_path(hostname, parts.path)}"
    if parts.query:
        text += "?" + "&".join(_redact_parameter(p) for p in parts.query.split("&"))
    if parts.fragment:
        text += "#" + MASK
    return text


def _redact_path(hostname: str, path: str) -> str:
    if hostname in PATH_SECRET_HOSTS:
        first = path.lstrip("/").partition("/")[0]
        return f"/{first}/{MASK}" if first and path.strip("/") != first else path
    return TOKEN_SEGMENT.sub(MASK, path)


def _redact_parameter(parameter: str) -> str:
    name, equals, _value = parameter.partition("=")
    return f"{name}={MASK}" if equals else MASK  # a bare value may itself be the key


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (error messages, delivery log details)."""
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
