"""Shared fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL says so),
migrated once per run and emptied after each test; an app, a client, users of every role."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.config import Config
from app.extensions import db

PASSWORD = "correct horse battery"
IN_CI = os.environ.get("CI") == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when a service is missing, but fail in CI, where nothing may skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def instance_dir():
    path = Path(tempfile.mkdtemp(prefix="kontor-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(instance_dir):
    """The database every test uses, migrated once with the real migrations."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'kontor.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    os.environ["KONTOR_INSTANCE"] = str(instance_dir)
    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


def _empty_all_tables(url: str) -> None:
    with db.engine.begin() as conn:
        names = [
            t for t in inspect(conn).get_table_names()
            if t != "alembic_version" and not t.startswith("contacts_fts")
        ]  # fmt: skip
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))
            conn.execute(text("INSERT INTO contacts_fts(contacts_fts) VALUES ('delete-all')"))
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def app(database_url, instance_dir):
    os.environ["KONTOR_INSTANCE"] = str(instance_dir)
    app = create_app(
        Config(),
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        RATELIMIT_ENABLED=False,
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        CONTACT_LIMIT=None,
        JOBS_QUEUE="manual",
    )
    with app.app_context():
        from app.pipeline.stages import ensure_default_stages

        ensure_default_stages()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_all_tables(database_url)
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app):
    """One user of each role, all with PASSWORD: {"admin": User, "member": ..., "viewer": ...}."""
    from app.auth.models import User

    out = {}
    with app.app_context():
        for role in ("admin", "member", "viewer"):
            user = User(email=f"{role}@example.com", name=role.title(), role=role)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
        for user in db.session.scalars(db.select(User)):
            out[user.role] = user
            db.session.expunge(user)
    return out


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_from(html: bytes | str) -> str:
    """The CSRF token a page carries (form field or the htmx header on <body>)."""
    text_ = html.decode() if isinstance(html, bytes) else html
    match = CSRF_RE.search(text_)
    assert match, "no CSRF token in page"
    return match.group(1) or match.group(2)


class Auth:
    """Log the test client in as a role, the way a person does: through the login form."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def login(self, role: str = "member"):
        token = csrf_from(self.client.get("/login").data)
        response = self.client.post(
            "/login",
            data={"email": f"{role}@example.com", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.data[:500]
        self.token = token
        return response

    def csrf(self) -> str:
        """The session's CSRF token, for forms and htmx requests posted by a test."""
        if self.token is None:
            self.token = csrf_from(self.client.get("/login").data)
        return self.token

    def post(self, path: str, data=None, htmx: bool = False, **kwargs):
        """POST like the browser does: form field token, or header token for htmx."""
        headers = kwargs.pop("headers", {})
        data = dict(data or {})
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.csrf()})
        else:
            data.setdefault("csrf_token", self.csrf())
        return self.client.post(path, data=data, headers=headers, **kwargs)

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def auth(client, users):
    return Auth(client)


@pytest.fixture
def tokens(app, users):
    """A bearer API token per role: {"admin": "ktr_...", ...}."""
    from app.auth.models import ApiToken, User

    out = {}
    with app.app_context():
        for role, user in users.items():
            row, secret = ApiToken.issue(db.session.get(User, user.id), f"test-{role}")
            db.session.add(row)
            out[role] = secret
        db.session.commit()
    return out


@pytest.fixture
def api(client, tokens):
    """Call the API as a role: api("member").get("/api/v1/contacts")."""

    class Caller:
        def __init__(self, role):
            self.headers = {"Authorization": f"Bearer {tokens[role]}"}

        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {**self.headers, **kwargs.pop("headers", {})}
                return getattr(client, method)(path, headers=headers, **kwargs)

            return call

    return Caller
