"""Fixtures for the hunter plugin: a fake Hunter API on 127.0.0.1 and the HTTP client a
Kontor job would hand the plugin, pointed at it."""

from __future__ import annotations

import pytest
import requests

from app.integrations.fake import FakeProvider
from app.integrations.http import ProviderHTTP

from .hunter_fake import FakeHunter

KEY = "hk-test-5c1e0d7a93b24f68"  # long enough to be masked, and to be spotted


@pytest.fixture(scope="module")
def _server():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake(_server):
    """The fake provider, with no routes and no recorded calls."""
    _server.routes.clear()
    _server.calls.clear()
    return _server


@pytest.fixture
def hunter(fake):
    return FakeHunter(fake, key=KEY)


@pytest.fixture
def waits():
    """The seconds the client slept (retries and verification polls)."""
    return []


@pytest.fixture
def http(fake, waits):
    with requests.Session() as session:
        yield ProviderHTTP(
            [fake.url + "/v2/"], session, secrets={"api_key": KEY}, sleep=waits.append
        )
