"""Email Verifier: Hunter's statuses become Kontor's verdicts; running verifications are
polled; Hunter's error codes answered as documented."""

from __future__ import annotations

import pytest

from app.integrations.http import NeedsReconnect, ProviderError, QuotaExhausted
from plugins import hunter as plugin
from plugins.hunter import client

from .conftest import KEY
from .hunter_fake import error, verification

EMAIL = "marie.curie@radium.test"


def serve(hunter, *answers):
    hunter.verifier[EMAIL] = list(answers)


def ok(status, result, score, **flags):
    return 200, {"data": verification(EMAIL, status, result, score, **flags), "meta": {}}


@pytest.mark.parametrize(
    ("status", "result", "score", "expected"),
    [
        ("valid", "deliverable", 97, "deliverable"),
        ("invalid", "undeliverable", 12, "undeliverable"),
        ("accept_all", "risky", 70, "risky"),
        ("disposable", "risky", 40, "risky"),
        ("webmail", "deliverable", 90, "deliverable"),
        ("unknown", "risky", 0, "unknown"),
    ],
)
def test_hunter_status_becomes_kontor_verdict(hunter, http, status, result, score, expected):
    serve(hunter, ok(status, result, score))

    assert plugin.verify_email(http, EMAIL) == {"status": expected, "score": score}

    [call] = hunter.calls("email-verifier")
    assert call.arg("email") == EMAIL
    assert call.headers["x-api-key"] == KEY


def test_verdict_from_deprecated_result_when_status_missing(hunter, http):
    data = verification(EMAIL, "valid", "undeliverable", 20)
    del data["status"]
    serve(hunter, (200, {"data": data}))

    assert plugin.verify_email(http, EMAIL) == {"status": "undeliverable", "score": 20}


@pytest.mark.parametrize("pending", [None, {"meta": {"params": {"email": EMAIL}}}])
def test_verification_in_progress_is_polled_until_done(hunter, http, waits, pending):
    serve(hunter, (202, pending), (202, pending), ok("valid", "deliverable", 95))

    assert plugin.verify_email(http, EMAIL) == {"status": "deliverable", "score": 95}
    assert len(hunter.calls("email-verifier")) == 3
    assert waits == [client.POLL_WAIT, client.POLL_WAIT]


def test_verification_still_running_after_a_few_polls_is_unknown(hunter, http, waits):
    serve(hunter, (202, None))

    assert plugin.verify_email(http, EMAIL) == {"status": "unknown"}
    assert len(hunter.calls("email-verifier")) == client.POLLS + 1
    assert waits == [client.POLL_WAIT] * client.POLLS


def test_verification_failed_222_is_unknown_without_hammering(hunter, http, waits):
    serve(
        hunter,
        error(222, "verification_failed", "The remote SMTP server answered unexpectedly"),
    )

    assert plugin.verify_email(http, EMAIL) == {"status": "unknown"}
    assert len(hunter.calls("email-verifier")) == 1
    assert waits == []


def test_person_who_asked_not_to_be_processed_gets_no_verdict(hunter, http):
    serve(hunter, error(451, "claimed_email", "The owner of this email asked not to be processed"))

    assert plugin.verify_email(http, EMAIL) is None


def test_invalid_api_key_needs_reconnecting(hunter, http):
    http.secrets["api_key"] = "revoked"

    with pytest.raises(NeedsReconnect) as caught:
        plugin.verify_email(http, EMAIL)

    assert caught.value.status == 401
    assert "No user found" in caught.value.message
    assert "revoked" not in str(caught.value)


def test_missing_api_key_needs_reconnecting_without_calling_hunter(hunter, http):
    http.secrets.clear()

    with pytest.raises(NeedsReconnect):
        plugin.verify_email(http, EMAIL)
    assert hunter.fake.calls == []


def test_usage_limit_reached_fails_at_once_in_hunters_words(hunter, http, waits):
    # Hunter's 429 means the plan's monthly credits are used up: waiting cannot help.
    hunter.fail_next(
        (
            *error(429, "too_many_requests", "You have reached your usage limit"),
            {"Retry-After": "7"},
        ),
    )
    serve(hunter, ok("valid", "deliverable", 99))

    with pytest.raises(QuotaExhausted) as caught:
        plugin.verify_email(http, EMAIL)

    assert caught.value.message == "You have reached your usage limit"
    assert waits == []
    assert len(hunter.calls("email-verifier")) == 1


def test_403_rate_limit_backs_off_then_verifies(hunter, http, waits):
    hunter.fail_next(
        error(403, "restricted_account", "You have reached the rate limit"),
        error(403, "restricted_account", "You have reached the rate limit"),
    )
    serve(hunter, ok("invalid", "undeliverable", 5))

    assert plugin.verify_email(http, EMAIL) == {"status": "undeliverable", "score": 5}
    assert waits == [1.0, 2.0]


def test_403_that_does_not_clear_is_an_error(hunter, http, waits):
    hunter.fail_next(*[error(403, "restricted_account", "Account restricted")] * 10)

    with pytest.raises(ProviderError) as caught:
        plugin.verify_email(http, EMAIL)

    assert caught.value.status == 403
    assert len(hunter.calls("email-verifier")) == client.RATE_LIMIT_RETRIES + 1


def test_not_an_address_is_not_sent(hunter, http):
    assert plugin.verify_email(http, "not-an-address") is None
    assert hunter.fake.calls == []
