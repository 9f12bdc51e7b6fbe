"""Helpers for the contact page tests: contacts made through the contact service."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.contacts.service import create_contact
from app.extensions import db


@pytest.fixture
def make_contact(app, users):
    """Create a contact through the service (as the member): make_contact(email=..., ...)."""
    from app.auth.models import User

    def make(**data: Any) -> int:
        with app.app_context():
            member = db.session.get(User, users["member"].id)
            contact = create_contact(data, actor=member, via="test")
            db.session.commit()
            return contact.id

    return make


@pytest.fixture
def custom_field(app):
    """Define a custom field: custom_field("size", "number", label="Size")."""
    from app.contacts.models import CustomField

    def define(name: str, type_: str, label: str | None = None, options=None) -> int:
        with app.app_context():
            field = CustomField(name=name, label=label or name.title(), type=type_, options=options)
            db.session.add(field)
            db.session.commit()
            return field.id

    return define


ROW_RE = re.compile(r'<td class="name"><a href="/contacts/(\d+)">')


def row_ids(html: bytes | str) -> list[int]:
    """Contact ids of the list rows, in page order."""
    text = html.decode() if isinstance(html, bytes) else html
    return [int(i) for i in ROW_RE.findall(text)]


def htmx(client, path: str, **kwargs):
    """GET like htmx does (HX-Request), to get the fragment the page swaps in."""
    headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
    return client.get(path, headers=headers, **kwargs)
