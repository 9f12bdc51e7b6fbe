"""Pytest fixtures for plugin authors, registered through the ``pytest11`` entry point,
so ``pip install kontor`` makes them available to a plugin package's own tests:

- ``kontor_app``: a Kontor app on a fresh, migrated SQLite database in a temporary folder,
  with an app context pushed and jobs run in-process.
- ``fake_provider``: a :class:`~app.integrations.fake.FakeProvider` on 127.0.0.1.
- ``kontor_plugin``: ``kontor_plugin(module, name)`` registers a plugin module for the
  test (besides the installed ones) and answers its :class:`~app.integrations.plugins.Plugin`.
- ``kontor_account``: ``kontor_account(name, base_url, token=..., secrets=..., settings=...)``
  connects an account whose requests go to ``base_url`` (the fake provider).

A sync is then ``app.integrations.sync.sync_account(account.id)``; see docs/plugins.md.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def kontor_app(tmp_path, monkeypatch):
    """A Kontor app on a new SQLite database, with an app context pushed."""
    from flask_migrate import upgrade

    from app import create_app
    from app.config import Config
    from app.extensions import db

    monkeypatch.setenv("KONTOR_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app(
        Config(),
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'kontor.db'}",
        RATELIMIT_ENABLED=False,
        JOBS_QUEUE="manual",
        INTEGRATIONS={},
    )
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fake_provider():
    """A fake provider on a free loopback port: register answers with .route()/.json()."""
    from app.integrations.fake import FakeProvider

    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def kontor_plugin():
    """Register plugin modules for one test; installed plugins stay loaded."""
    from app.integrations import plugins

    extra: list[tuple[str, Any]] = []

    def register(module: Any, name: str | None = None) -> plugins.Plugin:
        name = name or module.__name__.rsplit(".", 1)[-1]
        extra.append((name, module))
        loaded = plugins.load(extra=extra)
        return loaded[name]

    yield register
    plugins.load()


@pytest.fixture
def kontor_account(kontor_app):
    """Connect an account of a loaded provider, its requests going to `base_url`."""
    from app.extensions import db
    from app.integrations import accounts

    def connect(
        name: str,
        base_url: str,
        *,
        token: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        label: str | None = None,
        **config: str,
    ):
        kontor_app.config.setdefault("INTEGRATIONS", {})[name] = {"base_url": base_url, **config}
        if token is None and secrets is None:
            token = {"access_token": "test-token", "token_type": "Bearer"}
        account = accounts.connect(
            name, token=token, secrets=secrets, settings=settings, label=label
        )
        db.session.commit()
        return account

    return connect
