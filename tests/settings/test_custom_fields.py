"""Settings, custom field definitions: add, refuse invalid ones, edit, delete with values."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts.models import CustomField, CustomFieldValue
from app.contacts.service import create_contact
from app.extensions import db


def fields(app) -> list[tuple]:
    with app.app_context():
        return [
            (f.name, f.label, f.type, f.options, f.position)
            for f in db.session.scalars(select(CustomField).order_by(CustomField.id))
        ]


def test_add_fields_of_each_kind(app, client, auth):
    auth.login("admin")
    response = auth.post(
        "/settings/fields",
        {"label": "Team size", "name": "team_size", "type": "number", "options": "ignored"},
    )
    assert response.status_code == 303
    auth.post(
        "/settings/fields",
        {
            "label": "Taille d'équipe préférée",
            "type": "select",
            "options": "Small\n Medium \n\nLarge",
        },
    )
    auth.post(
        "/settings/fields",
        {"label": "Interests", "name": "interests", "type": "multiselect", "options": "AI\nCRM"},
    )
    assert fields(app) == [
        ("team_size", "Team size", "number", None, 0),
        (
            "taille_d_equipe_preferee",
            "Taille d'équipe préférée",
            "select",
            ["Small", "Medium", "Large"],
            1,
        ),
        ("interests", "Interests", "multiselect", ["AI", "CRM"], 2),
    ]
    page = client.get("/settings/").get_data(as_text=True)
    assert "team_size" in page and "Small, Medium, Large" in page and "Multi-select" in page
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_type == "custom_field")
            )
            == 3
        )


@pytest.mark.parametrize(
    "form, message",
    [
        (
            {"label": "Other", "name": "budget", "type": "text"},
            b"Another custom field has this name.",
        ),
        (
            {"label": "Plan", "name": "plan", "type": "select", "options": ""},
            b"A select field needs at least one option",
        ),
        (
            {"label": "Plan", "name": "plan", "type": "multiselect", "options": "\n \n"},
            b"A select field needs at least one option",
        ),
        ({"label": "Plan", "name": "plan", "type": "dropdown"}, b"Choose a type from the list."),
        ({"label": "Plan", "name": "Plan Name", "type": "text"}, b"Use lower-case letters"),
        ({"label": "", "name": "plan", "type": "text"}, b"A field needs a label."),
        (
            {"label": "Email", "name": "email", "type": "text"},
            b"This name belongs to a standard contact field.",
        ),
        (
            {"label": "Plan", "name": "plan", "type": "select", "options": "A\na"},
            b"The option a is listed twice.",
        ),
        (
            {"label": "Plan", "name": "plan", "type": "select", "options": "A, B"},
            b"Options cannot contain a comma: A, B",
        ),
        (
            {"label": "Plan", "name": "plan", "type": "text", "position": "first"},
            b"Enter a whole number.",
        ),
    ],
)
def test_invalid_definitions_are_refused_and_nothing_saved(app, client, auth, form, message):
    auth.login("admin")
    auth.post("/settings/fields", {"label": "Budget", "name": "budget", "type": "number"})
    response = auth.post("/settings/fields", form)
    assert response.status_code == 422
    assert message in response.data
    assert [f[0] for f in fields(app)] == ["budget"]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_type == "custom_field")
            )
            == 1
        )


def test_html_in_an_option_is_shown_as_text(app, client, auth):
    auth.login("admin")
    response = auth.post(
        "/settings/fields",
        {"label": "X", "name": "x", "type": "select", "options": "<b>a</b>\n<b>A</b>"},
    )
    assert response.status_code == 422
    assert b"<b>A</b>" not in response.data and b"&lt;b&gt;A&lt;/b&gt;" in response.data


def test_members_cannot_define_fields(app, client, auth):
    auth.login("member")
    assert auth.post("/settings/fields", {"label": "X", "type": "text"}).status_code == 403
    assert fields(app) == []


def add_field(app, **values) -> int:
    with app.app_context():
        field = CustomField(**values)
        db.session.add(field)
        db.session.commit()
        return field.id


def test_edit_label_options_and_position(app, client, auth):
    fid = add_field(
        app, name="plan", label="Plan", type="select", options=["Free", "Pro"], position=0
    )
    auth.login("admin")
    page = client.get(f"/settings/fields/{fid}")
    assert page.status_code == 200 and b"Free\nPro" in page.data
    response = auth.post(
        f"/settings/fields/{fid}",
        {
            "label": "Pricing plan",
            "options": "Free\nPro\nEnterprise",
            "position": "5",
            "name": "hack",
            "type": "text",
        },
    )
    assert response.status_code == 303
    assert fields(app) == [("plan", "Pricing plan", "select", ["Free", "Pro", "Enterprise"], 5)]
    bad = auth.post(f"/settings/fields/{fid}", {"label": "", "options": ""})
    assert bad.status_code == 422
    assert b"A field needs a label." in bad.data and b"needs at least one option" in bad.data
    assert fields(app)[0][1] == "Pricing plan"


def test_an_option_in_use_cannot_be_removed(app, client, auth):
    fid = add_field(
        app, name="plan", label="Plan", type="select", options=["Free", "Pro"], position=0
    )
    with app.app_context():
        create_contact({"email": "a@example.com", "custom_fields": {"plan": "pro"}})
        db.session.commit()
    auth.login("admin")
    refused = auth.post(f"/settings/fields/{fid}", {"label": "Plan", "options": "Free"})
    assert refused.status_code == 422
    assert b"The option Pro is still used by 1 contacts." in refused.data
    assert fields(app)[0][3] == ["Free", "Pro"]
    # A change of case only is a rename: the stored values follow.
    assert (
        auth.post(f"/settings/fields/{fid}", {"label": "Plan", "options": "Free\nPRO"}).status_code
        == 303
    )
    with app.app_context():
        assert db.session.scalar(select(CustomFieldValue.value_text)) == "PRO"


def test_delete_field_removes_its_values(app, client, auth):
    fid = add_field(app, name="budget", label="Budget", type="number", position=0)
    keep = add_field(app, name="notes", label="Notes", type="text", position=1)
    with app.app_context():
        create_contact({"email": "a@example.com", "custom_fields": {"budget": "10", "notes": "hi"}})
        create_contact({"email": "b@example.com", "custom_fields": {"budget": 5}})
        db.session.commit()
    auth.login("admin")
    confirm = client.get(f"/settings/fields/{fid}/delete")
    assert confirm.status_code == 200 and b"deleted from 2 contacts" in confirm.data
    response = auth.post(f"/settings/fields/{fid}/delete", htmx=True)
    assert response.status_code == 200 and response.data == b""
    with app.app_context():
        assert db.session.get(CustomField, fid) is None
        assert db.session.scalars(select(CustomFieldValue.field_id)).all() == [keep]
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "custom_field", AuditEntry.action == "delete"
            )
        )
        assert entry.changes["contacts"] == 2 and entry.changes["name"] == "budget"
    assert client.get(f"/settings/fields/{fid}").status_code == 404
