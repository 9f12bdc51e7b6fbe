"""Settings, users: admins only; add, change role, deactivate, with the last-admin guard."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.extensions import db
from tests.conftest import PASSWORD, csrf_from


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_settings_are_for_admins_only(app, client, auth, users, role):
    auth.login(role)
    assert client.get("/settings/").status_code == 403
    target = users["viewer"].id
    for path, data in [
        ("/settings/users", {"email": "x@example.com", "role": "admin", "password": "p" * 12}),
        (f"/settings/users/{target}/role", {"role": "admin"}),
        (f"/settings/users/{target}/deactivate", {}),
        (f"/settings/users/{target}/reactivate", {}),
        (f"/settings/users/{target}/password", {"password": "p" * 12}),
        ("/settings/fields", {"label": "X", "type": "text"}),
    ]:
        assert auth.post(path, data).status_code == 403, path
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 3
        assert db.session.get(User, users[role].id).role == role


def test_nav_link_to_settings_only_for_admins(client, auth):
    auth.login("member")
    assert b'href="/settings/"' not in client.get("/companies/").data
    auth.logout()
    auth.login("admin")
    assert b'href="/settings/"' in client.get("/companies/").data


def test_admin_sees_users_and_configuration(app, client, auth):
    auth.login("admin")
    page = client.get("/settings/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for email in ("admin@example.com", "member@example.com", "viewer@example.com"):
        assert email in text
    assert ("SQLite" in text) or ("PostgreSQL" in text)
    assert "Unlimited (0 contacts)" in text
    assert "English" in text
    assert "postgresql+psycopg" not in text and "sqlite:///" not in text


def test_contact_limit_shows_in_configuration(app, client, auth):
    app.config["CONTACT_LIMIT"] = 300
    auth.login("admin")
    assert "300 (0 used, 300 left)" in client.get("/settings/").get_data(as_text=True)


def test_add_user_who_can_then_log_in(app, client, auth):
    auth.login("admin")
    response = auth.post(
        "/settings/users",
        {"email": "Zoe@Example.com", "name": "Zoë", "role": "viewer", "password": "long enough pw"},
    )
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "zoe@example.com"))
        assert (user.name, user.role, user.active) == ("Zoë", "viewer", True)
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "user", AuditEntry.action == "create"
            )
        )
        assert entry.changes == {"email": "zoe@example.com", "role": "viewer"}
    auth.logout()
    token = csrf_from(client.get("/login").data)
    login = client.post(
        "/login",
        data={"email": "zoe@example.com", "password": "long enough pw", "csrf_token": token},
    )
    assert login.status_code == 302
    assert client.get("/contacts/").status_code == 200
    assert client.get("/settings/").status_code == 403


@pytest.mark.parametrize(
    "form, message",
    [
        ({"email": "not-an-email", "role": "member", "password": "long enough"}, b"email"),
        (
            {"email": "member@example.com", "role": "member", "password": "long enough"},
            b"A user with this email exists already.",
        ),
        (
            {"email": "new@example.com", "role": "boss", "password": "long enough"},
            b"Choose admin, member or viewer.",
        ),
        (
            {"email": "new@example.com", "role": "member", "password": "short"},
            b"A password has at least 8 characters.",
        ),
    ],
)
def test_invalid_new_user_is_refused(app, client, auth, form, message):
    auth.login("admin")
    response = auth.post("/settings/users", form)
    assert response.status_code == 422
    assert message in response.data
    assert b"long enough" not in response.data  # the password is never echoed back
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 3


def test_change_role_with_htmx_and_full_page(app, client, auth, users):
    auth.login("admin")
    member = users["member"].id
    fragment = auth.post(f"/settings/users/{member}/role", {"role": "viewer"}, htmx=True)
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and f'id="user-{member}"' in body and "Saved." in body
    assert auth.post(f"/settings/users/{member}/role", {"role": "admin"}).status_code == 303
    with app.app_context():
        assert db.session.get(User, member).role == "admin"
        changes = db.session.scalars(
            select(AuditEntry.changes)
            .where(AuditEntry.entity_type == "user", AuditEntry.entity_id == member)
            .order_by(AuditEntry.id)
        ).all()
        assert changes == [{"role": ["member", "viewer"]}, {"role": ["viewer", "admin"]}]


def test_last_active_admin_cannot_be_demoted_or_deactivated(app, client, auth, users):
    admin = users["admin"].id
    auth.login("admin")
    demote = auth.post(f"/settings/users/{admin}/role", {"role": "member"}, htmx=True)
    assert b"This is the last active admin" in demote.data
    page = auth.post(f"/settings/users/{admin}/role", {"role": "viewer"}, follow_redirects=True)
    assert b"This is the last active admin" in page.data
    with app.app_context():
        assert db.session.get(User, admin).role == "admin"

    # With a second admin the first can step down; the second is then the last one.
    member = users["member"].id
    auth.post(f"/settings/users/{member}/role", {"role": "admin"})
    assert auth.post(f"/settings/users/{admin}/role", {"role": "member"}).status_code == 303
    with app.app_context():
        assert db.session.get(User, admin).role == "member"
    assert client.get("/settings/").status_code == 403  # no longer an admin


def test_deactivated_admin_does_not_count_as_an_admin(app, client, auth, users):
    other = users["member"].id
    auth.login("admin")
    auth.post(f"/settings/users/{other}/role", {"role": "admin"})
    assert auth.post(f"/settings/users/{other}/deactivate").status_code == 303
    refused = auth.post(f"/settings/users/{users['admin'].id}/role", {"role": "member"}, htmx=True)
    assert b"This is the last active admin" in refused.data


def test_nobody_deactivates_themselves(app, client, auth, users):
    admin = users["admin"].id
    auth.login("admin")
    response = auth.post(f"/settings/users/{admin}/deactivate", htmx=True)
    assert b"You cannot deactivate yourself." in response.data
    with app.app_context():
        assert db.session.get(User, admin).active is True


def test_deactivate_and_reactivate_a_user(app, client, auth, users):
    member = users["member"].id
    auth.login("admin")
    row = auth.post(f"/settings/users/{member}/deactivate", htmx=True)
    assert b"Deactivated" in row.data and b"Reactivate" in row.data
    auth.logout()
    token = csrf_from(client.get("/login").data)
    login = {"email": "member@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 401
    auth.login("admin")
    assert auth.post(f"/settings/users/{member}/reactivate").status_code == 303
    auth.logout()
    token = csrf_from(client.get("/login").data)
    assert client.post("/login", data={**login, "csrf_token": token}).status_code == 302


def test_deactivated_user_loses_an_open_session(app, client, auth, users):
    other = app.test_client()  # the member's own browser
    token = csrf_from(other.get("/login").data)
    other.post(
        "/login",
        data={"email": "member@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert other.get("/companies/").status_code == 200
    auth.login("admin")
    auth.post(f"/settings/users/{users['member'].id}/deactivate")
    assert other.get("/companies/").status_code == 302


def test_admin_sets_a_new_password(app, client, auth, users):
    viewer = users["viewer"].id
    auth.login("admin")
    assert client.get(f"/settings/users/{viewer}/password").status_code == 200
    short = auth.post(f"/settings/users/{viewer}/password", {"password": "abc"})
    assert short.status_code == 422
    assert (
        auth.post(
            f"/settings/users/{viewer}/password", {"password": "brand new secret"}
        ).status_code
        == 303
    )
    with app.app_context():
        assert db.session.get(User, viewer).check_password("brand new secret")
        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == viewer, AuditEntry.entity_type == "user"
            )
        ).all()[-1]
        assert "brand new secret" not in str(entry.changes)
