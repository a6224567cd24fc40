"""The shared HTTP layer's header parsing: what a vendor's rate-limit headers make us wait.

The behaviour end to end (429s waited out, a spent budget honoured) is tested against the
emulators in the vendor tests; these pin the parsing of headers no emulator sends.
"""

import email.utils
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fleetwatch.connectors.http import (
    MAX_RATE_LIMIT_WAIT,
    exhausted_wait,
    redact,
    retry_after_seconds,
)


def response(status: int = 429, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={k.replace("_", "-"): v for k, v in headers.items()})


def http_date(delta: timedelta, zone: str = "GMT") -> str:
    when = datetime.now(UTC) + delta
    text = email.utils.format_datetime(when, usegmt=True)
    return text.replace("GMT", zone)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("1e12", MAX_RATE_LIMIT_WAIT),  # capped: never a day-long (or overflowing) block
    ],
)
def test_retry_after_in_seconds(value, expected):
    assert retry_after_seconds(response(Retry_After=value)) == expected


@pytest.mark.parametrize("zone", ["GMT", "+0000", "-0000"])
def test_retry_after_as_an_http_date(zone):
    """``-0000`` makes the standard library return a naive datetime; HTTP dates are GMT."""
    wait = retry_after_seconds(response(Retry_After=http_date(timedelta(seconds=30), zone)))
    assert 25 <= wait <= 31
    past = retry_after_seconds(response(Retry_After=http_date(timedelta(hours=-1), zone)))
    assert past == 0.0


@pytest.mark.parametrize(
    "value",
    ["soon", "-5", "nan", "inf", "-inf", "Wed, 99 Foo 2015 07:28:00 GMT", "1,5", "∞".encode()],
)
def test_an_unusable_retry_after_falls_back(value):
    # Nothing else to go on: None, so the caller backs off.
    assert retry_after_seconds(response(Retry_After=value)) is None
    # The X-RateLimit-* headers, when the vendor sends them, come next.
    with_headers = response(Retry_After=value, X_RateLimit_Replenish_Rate="5")
    assert retry_after_seconds(with_headers) == 1.0  # at least a second after a 429


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X_RateLimit_Replenish_Rate": "0.5", "X_RateLimit_Requested_Tokens": "2"}, 4.0),
        ({"ratelimit_replenish_rate": "5"}, 1.0),  # the vendor doc's unprefixed spelling
        ({"X_RateLimit_Reset": "12"}, 12.0),  # seconds from now
        ({"RateLimit_Reset": "3"}, 3.0),
        ({"X_RateLimit_Replenish_Rate": "0"}, None),
        ({"X_RateLimit_Replenish_Rate": "fast"}, None),
        ({"X_RateLimit_Reset": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_headers_without_retry_after(headers, expected):
    assert retry_after_seconds(response(**headers)) == expected


def test_a_reset_given_as_a_unix_time():
    reset = str(int(time.time()) + 20)
    assert 18 <= retry_after_seconds(response(X_RateLimit_Reset=reset)) <= 20


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X_RateLimit_Remaining": "0", "X_RateLimit_Replenish_Rate": "5"}, 0.2),
        (
            {
                "X_RateLimit_Remaining": "0",
                "X_RateLimit_Replenish_Rate": "4",
                "X_RateLimit_Requested_Tokens": "2",
            },
            0.5,
        ),
        ({"RateLimit_Remaining": "0", "RateLimit_Reset": "7"}, 7.0),
        ({"X_RateLimit_Remaining": "0"}, 2.0),  # spent, but no word on when: the default
        ({"X_RateLimit_Remaining": "1", "X_RateLimit_Replenish_Rate": "5"}, None),
        ({"X_RateLimit_Remaining": "14"}, None),
        ({"X_RateLimit_Remaining": "none"}, None),
        ({}, None),
    ],
)
def test_a_successful_answer_that_spends_the_budget(headers, expected):
    assert exhausted_wait(response(200, **headers), default=2.0) == expected


def test_secrets_are_redacted_from_urls_and_known_values():
    url = "http://h/o/api/v3/activities?access_token=abc123XYZ&page=2&client_secret=s3cr3t"
    assert redact(url) == (
        "http://h/o/api/v3/activities?access_token=[redacted]&page=2&client_secret=[redacted]"
    )
    assert redact("session abcdef123 refused", frozenset({"abcdef123"})) == (
        "session [redacted] refused"
    )


def test_httpx_request_logs_carry_no_query_token(caplog):
    """httpx logs every URL at INFO; with the token in the query string that would leak it.
    The filter comes from ``settings.LOGGING``, not from importing the connector code."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport) as client:
        client.get("http://vendor.example/o/api/v2/account", params={"access_token": "T0KEN99"})
    assert "HTTP Request: GET http://vendor.example/o/api/v2/account" in caplog.text
    assert "T0KEN99" not in caplog.text and "access_token=[redacted]" in caplog.text
