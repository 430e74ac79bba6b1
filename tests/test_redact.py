"""redact_url: what of a notification URL may be shown, as a table; redact_text for URLs inside messages."""

from __future__ import annotations

import pytest

from detection.redact import redact_text, redact_url

TABLE = [
    # plain URLs are shown whole: a person must see where alerts go
    ("http://127.0.0.1:5000/hook", "http://127.0.0.1:5000/hook"),
    ("https://alerts.example.com/api/v1/alerts", "https://alerts.example.com/api/v1/alerts"),
    # credentials in the authority
    ("http://user:pass@127.0.0.1:5000/hook", "http://***@127.0.0.1:5000/hook"),
    ("https://token@example.com/x", "https://***@example.com/x"),
    ("https://u:p%40ss@example.com/x", "https://***@example.com/x"),
    ("https://u:p@ss@example.com/x", "https://***@example.com/x"),  # an unencoded '@' in the password
    ("https://u:pa/ss@example.com/x", "***"),  # a '/' in the password: the authority cannot be delimited
    ("https://u:pa?ss@example.com/x", "***"),
    ("https://u:1234/ss@example.com/x", "***"),
    ("http://[::1]:8080/hook", "http://[::1]:8080/hook"),
    ("http://admin:pw@[::1]:8080/hook", "http://***@[::1]:8080/hook"),
    # query strings: every value masked, names kept
    ("https://example.com/hook?token=secret", "https://example.com/hook?token=***"),
    ("https://example.com/h?sig=abc&key=def&team=ops", "https://example.com/h?sig=***&key=***&team=***"),
    ("https://example.com/h?rawsecret", "https://example.com/h?***"),
    ("https://example.com/h?code=a=b", "https://example.com/h?code=***"),
    ("https://example.com/h#access_token=xyz", "https://example.com/h#***"),
    # webhook secrets in the path
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/***"),
    ("https://HOOKS.SLACK.COM/services/T0/B0/abc", "https://HOOKS.SLACK.COM/services/***"),
    ("https://hooks.slack.com/workflows/T0/A0/123/abc", "https://hooks.slack.com/workflows/***"),
    # a Slack path of one segment holds no secret: shown whole, whatever its letters and slashes
    ("https://hooks.slack.com/servicesX", "https://hooks.slack.com/servicesX"),
    ("https://hooks.slack.com/services/", "https://hooks.slack.com/services/"),
    ("https://discord.com/api/webhooks/123456789012345678/aBcD3fGh1jKlMn0pQrStUvWxYz",
     "https://discord.com/api/webhooks/123456789012345678/***"),
    ("https://example.com/hooks/9f8e7d6c5b4a39281706f5e4d3c2b1a0/send", "https://example.com/hooks/***/send"),
    # not a URL at all: nothing of it is shown
    ("", "***"),
    ("not a url", "***"),
    ("http://[::1/hook", "***"),
    ("user:pass@host/x", "***"),
]


@pytest.mark.parametrize(("url", "shown"), TABLE, ids=[u or "empty" for u, _ in TABLE])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize("secret", ["pass", "secret", "abc", "def", "xyz", "XXXXXXXXXXXXXXXXXXXXXXXX",
                                    "aBcD3fGh1jKlMn0pQrStUvWxYz", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"])
def test_no_secret_of_the_table_survives(secret):
    secret_urls = [url for url, _ in TABLE if secret in url]
    assert secret_urls, "the table holds this secret"
    assert all(secret not in redact_url(url) for url in secret_urls)


def test_redact_text_masks_every_url_inside_a_message():
    text = ("receiver http://user:pass@10.0.0.1:9/hook?token=secret answered HTTP 500; "
            "fallback (https://hooks.slack.com/services/T0/B0/XYZ) refused")
    assert redact_text(text) == ("receiver http://***@10.0.0.1:9/hook?token=*** answered HTTP 500; "
                                 "fallback (https://hooks.slack.com/services/***) refused")
    assert redact_text("no URL here: 3 attempts") == "no URL here: 3 attempts"
