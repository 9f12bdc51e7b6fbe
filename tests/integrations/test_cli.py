"""`kontor plugins list`, and keeping tokens encrypted across a key rotation
(`kontor integrations new-key` / `rotate-key`)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.integrations import accounts, crypto, plugins, sync
from app.integrations.models import ConnectedAccount


def test_plugins_list_shows_the_built_ins_with_hooks_and_status(app, runner, connect):
    connect()
    result = runner.invoke(args=["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert {"gmail", "outlook", "hubspot", "hunter", "minicrm"} <= set(rows)
    assert rows["hubspot"]["version"] == "0.1.0"
    assert "push_contacts" in rows["hubspot"]["hooks"]
    assert "verify_email" in rows["hunter"]["hooks"]
    assert rows["gmail"]["status"] == "not connected"
    assert rows["minicrm"]["status"] == "connected as owner@minicrm.test"
    text = runner.invoke(args=["plugins", "list"]).output
    assert "outlook 0.1.0  [describe_provider, identify_account" in text


def test_kontor_plugins_limits_what_loads(app, monkeypatch):
    monkeypatch.setenv("KONTOR_PLUGINS", "hunter, gmail")
    with app.app_context():
        assert sorted(plugins.load()) == ["gmail", "hunter"]
        monkeypatch.setenv("KONTOR_PLUGINS", "none")
        assert plugins.load() == {}
        monkeypatch.delenv("KONTOR_PLUGINS")
        assert {"gmail", "outlook", "hubspot", "hunter"} <= set(plugins.load())


def test_rotating_the_encryption_key(app, runner, connect, crm):
    old = runner.invoke(args=["integrations", "new-key"]).output.strip()
    new = runner.invoke(args=["integrations", "new-key"]).output.strip()
    assert old != new and len(old) == 44
    app.config["ENCRYPTION_KEY"] = old
    account_id = connect(token={"access_token": "tok-123", "token_type": "Bearer"})
    with app.app_context():
        sealed = db.session.get(ConnectedAccount, account_id).token_encrypted
        assert "tok-123" not in sealed

    # New key first, old one kept: everything still reads, then rotate.
    app.config["ENCRYPTION_KEY"] = f"{new},{old}"
    result = runner.invoke(args=["integrations", "rotate-key"])
    assert result.exit_code == 0 and "1 account(s)" in result.output
    app.config["ENCRYPTION_KEY"] = new  # the old key can go
    with app.app_context():
        account = db.session.get(ConnectedAccount, account_id)
        assert account.token_encrypted != sealed
        assert accounts.credentials(account)["token"]["access_token"] == "tok-123"

    # With a key that did not encrypt them, the secrets are refused in words.
    app.config["ENCRYPTION_KEY"] = old
    result = runner.invoke(args=["integrations", "rotate-key"])
    assert result.exit_code != 0
    assert "cannot be decrypted with KONTOR_ENCRYPTION_KEY" in result.output
    with app.app_context():
        with pytest.raises(sync.SyncFailed, match="KONTOR_ENCRYPTION_KEY"):
            sync.sync_account(account_id, ["contacts"])
        assert db.session.get(ConnectedAccount, account_id).status == "needs_reconnect"
        assert db.session.scalar(select(ConnectedAccount.id)) == account_id


def test_a_passphrase_key_and_the_secret_key_fallback(app):
    with app.app_context():
        app.config["ENCRYPTION_KEY"] = "correct horse battery staple"
        sealed = crypto.encrypt({"k": "v"})
        assert crypto.decrypt(sealed) == {"k": "v"}
        app.config["ENCRYPTION_KEY"] = None
        other = crypto.encrypt({"k": "v"})
        assert crypto.decrypt(other) == {"k": "v"}
        try:
            crypto.decrypt(sealed)
        except crypto.CannotDecrypt:
            pass
        else:
            raise AssertionError("SECRET_KEY's key opened what the passphrase sealed")


def _module(name: str, **hooks):
    import types

    from app.integrations.hookspecs import hookimpl

    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        fn.__name__ = hook
        setattr(module, hook, hookimpl(fn))
    return module


def test_broken_plugins_are_left_out_and_contacts_still_save(app, api):
    told: list = []

    def misspelled(sttings):  # not an argument of contact_event
        return None

    def raising():
        raise RuntimeError("boom")

    def listener(event):
        told.append((event["kind"], event["via"]))

    def named_otherwise():
        return {"name": "other", "auth": "none"}

    modules = [
        ("misspelled", _module("misspelled", contact_event=misspelled)),
        ("raising", _module("raising", describe_provider=raising)),
        ("renamed", _module("renamed", describe_provider=named_otherwise)),
        ("listener", _module("listener", contact_event=listener)),
    ]
    with app.app_context():
        loaded = plugins.load(extra=modules)
    try:
        assert "listener" in loaded
        assert not {"misspelled", "raising", "renamed"} & set(loaded)
        response = api("member").post("/api/v1/contacts", json={"email": "ok@example.com"})
        assert response.status_code == 201
        assert told == [("created", "api")]  # a listener-only plugin is told too
    finally:
        with app.app_context():
            plugins.load()
