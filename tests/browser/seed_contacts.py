"""Add a few contacts to the instance named by KONTOR_INSTANCE (run by the browser
tests in a subprocess, the way a script would, through the contact service)."""

from __future__ import annotations

from app import create_app
from app.contacts.service import create_contact
from app.extensions import db

PEOPLE = [
    ("zoe@acme.com", "Zoë", "Ørsted", "Acme"),
    ("adam@acme.com", "Adam", "Smith", "Acme"),
    ("bea@globex.com", "Béatrice", "Martin", "Globex"),
    ("carl@initech.com", "Carl", "Adams", "Initech"),
    ("dana@umbrella.com", "Dana", "Scully", "Umbrella"),
    ("eve@hooli.com", "Ève", "Durand", "Hooli"),
    ("frank@acme.com", "Frank", "Muller", "Acme"),
    ("gaelle@globex.com", "Gaëlle", "Le Goff", "Globex"),
]


def main() -> None:
    app = create_app()
    with app.app_context():
        for email, first, last, company in PEOPLE:
            create_contact(
                {"email": email, "first_name": first, "last_name": last, "company": company},
                via="script",
            )
        db.session.commit()
    print(f"seeded {len(PEOPLE)} contacts")


if __name__ == "__main__":
    main()
