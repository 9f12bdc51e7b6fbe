"""Fixtures for the hubspot plugin: a fake HubSpot CRM on 127.0.0.1 and the HTTP client a
sync would hand the plugin, pointed at it."""

from __future__ import annotations

import pytest
import requests

from app.integrations.fake import FakeProvider
from app.integrations.http import ProviderHTTP

from .hubspot_fake import FakeHubSpot


@pytest.fixture
def fake():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def portal(fake):
    return FakeHubSpot(fake)


@pytest.fixture
def waits():
    """The seconds the client slept between retries."""
    return []


@pytest.fixture
def http(fake, waits):
    with requests.Session() as session:
        yield ProviderHTTP([fake.url], session, sleep=waits.append)
