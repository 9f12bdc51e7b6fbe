"""Fixtures for the outlook plugin: a fake Microsoft Graph on 127.0.0.1 and the HTTP
client a sync would hand the plugin, pointed at it."""

from __future__ import annotations

import pytest
import requests

from app.integrations.fake import FakeProvider
from app.integrations.http import ProviderHTTP

from .graph_fake import FakeGraph


@pytest.fixture(scope="module")
def _server():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake(_server):
    """The fake provider, with no routes and no recorded calls (one server per module:
    stopping it waits for its poll interval)."""
    _server.routes.clear()
    _server.calls.clear()
    return _server


@pytest.fixture
def graph(fake):
    return FakeGraph(fake)


@pytest.fixture
def waits():
    """The seconds the client slept between retries."""
    return []


@pytest.fixture
def http(fake, waits):
    with requests.Session() as session:
        yield ProviderHTTP([fake.url + "/v1.0/"], session, sleep=waits.append)


@pytest.fixture
def account(graph):
    return {"id": 1, "label": "meganb@contoso.com", "details": {"Name": "Megan Bowen"}}
