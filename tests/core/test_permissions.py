"""The permission matrix: every route, every role.

Anonymous users are sent to the login page (or get 401 from the API); a role
without the route's permission gets 403; a role with it never does.
"""

import re

import pytest

from app import create_app
from app.auth.models import PERMISSIONS
from app.config import Config
from app.extensions import db

ROLES = ("viewer", "member", "admin")
SKIP_ENDPOINTS = {"static"}


def _routes():
    app = create_app(Config())
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append(
                (rule.rule, method, rule.endpoint, getattr(view, "required_permission", None))
            )
    return out


ROUTES = _routes()


def test_every_route_declares_its_permission():
    missing = [endpoint for _, _, endpoint, perm in ROUTES if perm is None]
    assert missing == []


@pytest.fixture
def objects(app, users):
    """One row of everything a route may name, each with id 1."""
    from app.companies.models import Company
    from app.contacts import service
    from app.contacts.models import CustomField, Tag
    from app.lists.models import ContactList

    with app.app_context():
        db.session.add(Company(name="Acme"))
        db.session.add(Tag(name="vip", key="vip"))
        db.session.add(ContactList(name="Newsletter"))
        db.session.add(CustomField(name="plan", label="Plan", type="text"))
        db.session.commit()
        service.create_contact({"email": "one@example.com", "first_name": "One"})
        db.session.commit()


def _url(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "1", rule)


@pytest.mark.parametrize(
    ("rule", "method", "endpoint", "permission"),
    [r for r in ROUTES if r[3] not in (None, "public")],
    ids=[f"{r[1]} {r[0]}" for r in ROUTES if r[3] not in (None, "public")],
)
def test_role_matrix(client, auth, tokens, objects, rule, method, endpoint, permission):
    url = _url(rule)
    is_api = rule.startswith("/api/")
    call = getattr(client, method.lower())
    anonymous = call(url, headers={"Accept": "application/json"} if is_api else {})
    if is_api:
        assert anonymous.status_code == 401
    else:
        assert anonymous.status_code in (302, 400), anonymous.status_code  # 400: CSRF first
    for role in ROLES:
        if is_api:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            response = call(url, headers=headers, **kwargs)
        else:
            auth.login(role)
            if method == "GET":
                response = call(url)
            else:
                response = call(
                    url, headers={"HX-Request": "true", "X-CSRFToken": auth.csrf()}, data={}
                )
            auth.logout()
        allowed = permission in PERMISSIONS[role]
        if allowed:
            assert response.status_code not in (401, 403), (role, response.status_code)
            assert response.status_code < 500, (role, response.data[:300])
        else:
            assert response.status_code == 403, (role, response.status_code)
