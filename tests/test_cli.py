"""The `kontor` command as scripts use it: users, tokens, seed and bench."""

from __future__ import annotations

import json
import re
import shutil
import tempfile

from sqlalchemy import select

from app import create_app
from app.auth.models import User
from app.cli import main
from app.companies.models import Company
from app.config import Config
from app.contacts.models import Contact, ContactTag, CustomFieldValue
from app.extensions import db
from app.timeline.models import Activity
from tests.conftest import csrf_from


def _login(client, email: str, password: str):
    token = csrf_from(client.get("/login").data)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_users_create_reads_the_password_piped_on_stdin(app, runner, client):
    result = runner.invoke(
        main,
        args=["users", "create", "Rep@Example.com", "--role", "viewer", "--name", "Rep"],
        input="a long enough secret\n",
    )
    assert result.exit_code == 0, result.output
    assert "rep@example.com" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "rep@example.com"))
        assert user.role == "viewer" and user.name == "Rep"
    assert _login(client, "rep@example.com", "a long enough secret").status_code == 302
    assert client.get("/contacts/").status_code == 200


def test_users_create_refuses_a_short_password_and_a_taken_email(app, runner, users):
    short = runner.invoke(main, args=["users", "create", "new@example.com"], input="short\n")
    assert short.exit_code != 0
    assert "at least 8 characters" in short.output
    taken = runner.invoke(
        main, args=["users", "create", "member@example.com"], input="long enough pw\n"
    )
    assert taken.exit_code != 0
    assert "exists already" in taken.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new@example.com")) is None


def test_tokens_create_prints_the_token_alone_on_its_last_line(runner, client, users):
    result = runner.invoke(main, args=["tokens", "create", "viewer@example.com"])
    assert result.exit_code == 0, result.output
    token = result.stdout.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"\S+", token)
    response = client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    unknown = runner.invoke(main, args=["tokens", "create", "nobody@example.com"])
    assert unknown.exit_code != 0 and "nobody@example.com" in unknown.output


def _snapshot() -> dict[str, list]:
    """Everything seed writes, without ids that a database may number differently."""
    contacts = db.session.scalars(select(Contact).order_by(Contact.id)).all()
    columns = [c.name for c in Contact.__table__.columns]
    emails = {c.id: c.email for c in contacts}
    return {
        "contacts": [[getattr(c, name) for name in columns] for c in contacts],
        "companies": db.session.execute(
            select(Company.name, Company.domain, Company.city, Company.created_at).order_by(
                Company.id
            )
        ).all(),
        "tags": sorted(
            (emails[cid], tid)
            for cid, tid in db.session.execute(select(ContactTag.contact_id, ContactTag.tag_id))
        ),
        "values": db.session.execute(
            select(
                CustomFieldValue.contact_id,
                CustomFieldValue.value_text,
                CustomFieldValue.value_number,
                CustomFieldValue.value_date,
                CustomFieldValue.value_bool,
            ).order_by(CustomFieldValue.id)
        ).all(),
        "activities": db.session.execute(
            select(
                Activity.contact_id, Activity.kind, Activity.subject, Activity.occurred_at
            ).order_by(Activity.id)
        ).all(),
    }


def test_seed_gives_the_same_data_in_two_fresh_databases(app, runner, monkeypatch):
    args = ["seed", "--contacts", "250", "--activities", "400", "--seed", "42"]
    result = runner.invoke(main, args=args)
    assert result.exit_code == 0, result.output
    assert "'contacts': 250" in result.stdout and "'activities': 400" in result.stdout
    with app.app_context():
        first = _snapshot()
    assert len(first["contacts"]) == 250 and len(first["activities"]) == 400

    folder = tempfile.mkdtemp(prefix="kontor-seed-test-")
    try:
        monkeypatch.setenv("KONTOR_INSTANCE", folder)
        other = create_app(
            Config(),
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/kontor.db",
            RATELIMIT_ENABLED=False,
        )
        monkeypatch.undo()
        with other.app_context():
            from flask_migrate import upgrade

            upgrade()
        again = other.test_cli_runner().invoke(main, args=args)
        assert again.exit_code == 0, again.output
        with other.app_context():
            second = _snapshot()
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for key in first:
        assert second[key] == first[key], key


def test_bench_list_prints_its_figures_as_json(runner):
    result = runner.invoke(
        main, args=["bench", "list", "--contacts", "2000", "--requests", "20", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["benchmark"] == "list"
    assert figures["contacts"] == 2000 and figures["requests"] == 20
    assert figures["goal_p95_ms"] == 30
    assert figures["seed_seconds"] > 0
    for key in ("server_ms", "api_ms", "count_ms"):
        assert 0 < figures[key]["p50"] <= figures[key]["p95"] <= figures[key]["max"], key
    assert 0 < figures["sql_ms"]["p50"] <= figures["sql_ms"]["p95"]
    assert len(figures["slowest"]) == 5
    assert all(
        item["url"].startswith("/contacts/") and item["ms"] > 0 for item in figures["slowest"]
    )
    assert any(label.startswith("deep:") for label in figures["by_shape"])
    assert any(label.startswith("search:") for label in figures["by_shape"])


def test_bench_names_what_exists_when_asked_for_something_else(runner):
    result = runner.invoke(main, args=["bench", "nope"])
    assert result.exit_code != 0
    assert 'No benchmark named "nope"' in result.output and "list" in result.output
