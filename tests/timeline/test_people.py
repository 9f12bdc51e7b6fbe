"""Relationships: a company's people with their roles in a who-reports-to-whom tree
(cycles cannot hang it), a contact's direct reports and the people they referred, and
the contact search behind the pickers."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.companies.people import reports_tree
from app.contacts.models import Contact
from app.extensions import db
from tests.timeline.conftest import htmx


def test_reports_tree_nests_people_under_their_manager():
    # 1 CEO; 2 and 3 report to 1; 4 to 3; 5's manager is elsewhere; 6 reports to nobody.
    people = [(1, None), (2, 1), (3, 1), (4, 3), (5, 99), (6, None)]
    assert reports_tree(people) == [(1, 0), (2, 1), (3, 1), (4, 2), (5, 0), (6, 0)]
    # Siblings keep the given order (the page gives them by name).
    assert reports_tree([(3, 1), (2, 1), (1, None)]) == [(1, 0), (3, 1), (2, 1)]


def test_reports_tree_survives_cycles_and_self_reports():
    assert reports_tree([(1, 2), (2, 1)]) == [(1, 0), (2, 1)]
    assert reports_tree([(1, 1)]) == [(1, 0)]
    # A cycle hanging below a real top, and a loop of three on its own.
    tree = reports_tree([(1, None), (2, 1), (3, 4), (4, 5), (5, 3), (6, 2)])
    assert tree == [(1, 0), (2, 1), (6, 2), (3, 0), (5, 1), (4, 2)]


@given(st.lists(st.tuples(st.integers(1, 30), st.one_of(st.none(), st.integers(1, 35))),
                unique_by=lambda p: p[0], max_size=30))  # fmt: skip
def test_reports_tree_lists_everyone_once_under_their_manager(people):
    tree = reports_tree(people)
    assert sorted(pid for pid, _ in tree) == sorted(pid for pid, _ in people)
    manager = dict(people)
    for index, (pid, depth) in enumerate(tree):
        if depth == 0:
            continue
        # The closest row above at depth - 1 is this person's manager.
        above = next(p for p, d in reversed(tree[:index]) if d == depth - 1)
        assert manager[pid] == above


def test_company_page_shows_people_roles_and_who_reports_to_whom(app, client, auth, make_contact):
    make_contact(email="ceo@acme.com", first_name="Cara", last_name="Boss", company="Acme",
                 role="decision_maker", job_title="CEO")  # fmt: skip
    make_contact(email="cto@acme.com", first_name="Tom", last_name="Tech", company="Acme",
                 role="champion", reports_to="ceo@acme.com")  # fmt: skip
    make_contact(email="dev@acme.com", first_name="Dev", last_name="Eloper", company="Acme",
                 role="end_user", reports_to="cto@acme.com")  # fmt: skip
    make_contact(email="ana@acme.com", first_name="Ana", last_name="Lyst", company="Acme",
                 role="blocker", reports_to="ceo@acme.com")  # fmt: skip
    make_contact(email="out@globex.com", first_name="Out", company="Globex")
    # Two people who report to each other (bad data) still show, once each.
    make_contact(email="x@acme.com", first_name="Xa", last_name="Zed", company="Acme")
    make_contact(email="y@acme.com", first_name="Yo", last_name="Zed", company="Acme",
                 reports_to="x@acme.com")  # fmt: skip
    auth.login("viewer")
    with app.app_context():
        y = db.session.scalar(select(Contact.id).where(Contact.email == "y@acme.com"))
        db.session.execute(
            update(Contact).where(Contact.email == "x@acme.com").values(reports_to_id=y)
        )
        db.session.commit()
        acme = db.session.scalar(select(Contact.company_id).where(Contact.email == "ceo@acme.com"))
    page = client.get(f"/companies/{acme}").data.decode()
    rows = re.findall(
        r'<tr class="depth-(\d)" data-depth="\d">\s*<td class="person"><a href="/contacts/\d+">'
        r"([^<]+)</a></td>\s*<td>(?:<span class=\"badge role role-[a-z_]+\">([^<]+)</span>)?",
        page,
    )
    assert rows == [
        ("0", "Cara Boss", "Decision Maker"),
        ("1", "Ana Lyst", "Blocker"),
        ("1", "Tom Tech", "Champion"),
        ("2", "Dev Eloper", "End User"),
        ("0", "Xa Zed", ""),
        ("1", "Yo Zed", ""),
    ]
    assert "Out" not in page.split('id="company-contacts"')[1].split("</section>")[0]
    assert "CEO" in page and f"/contacts/?company={acme}" in page


def test_contact_page_shows_direct_reports_and_referrals(app, client, auth, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss", role="champion")
    a = make_contact(email="a@acme.com", first_name="Al", reports_to="boss@acme.com",
                     referred_by="boss@acme.com", role="influencer")  # fmt: skip
    b = make_contact(email="b@acme.com", first_name="Bea", referred_by="boss@acme.com")
    loner = make_contact(email="c@acme.com", first_name="Cy")
    auth.login("viewer")
    page = client.get(f"/contacts/{boss}").data.decode()
    reports = page.split('id="direct-reports"')[1].split("</ul>")[0]
    referred = page.split('id="referred"')[1].split("</ul>")[0]
    assert f'<a href="/contacts/{a}">Al</a>' in reports and "Influencer" in reports
    assert f"/contacts/{b}" not in reports
    assert f'<a href="/contacts/{a}">Al</a>' in referred
    assert f'<a href="/contacts/{b}">Bea</a>' in referred
    assert '<span class="badge role role-champion">Champion</span>' in page  # the header
    # Someone with no relations gets no empty box.
    assert 'id="relationships"' not in client.get(f"/contacts/{loner}").data.decode()
    # The people they report to / were referred by show in the Company group, linked.
    al = client.get(f"/contacts/{a}").data.decode()
    assert al.count(f'<a href="/contacts/{boss}">Big Boss</a>') == 2


def test_contact_search_for_the_pickers(app, client, auth, make_contact):
    ann = make_contact(email="ann@acme.com", first_name="Ann", last_name="Lee")
    zoe = make_contact(email="zoe@acme.com", first_name="Zoë", last_name="Ørsted")
    auth.login("viewer")
    buttons = htmx(client, "/timeline/contact-search?attendee_emails=someone%40x.io,%20zoe").data
    text = buttons.decode()
    assert f'data-id="{zoe}" data-label="Zoë Ørsted"' in text and f'data-id="{ann}"' not in text
    options = htmx(client, f"/timeline/contact-search?as=options&q=acme&exclude={ann}").data
    assert options.decode().strip() == '<option value="zoe@acme.com">Zoë Ørsted</option>'
    assert "No contact matches" in htmx(client, "/timeline/contact-search?q=nobody").data.decode()
    assert htmx(client, "/timeline/contact-search?q=").data.decode().strip() == ""


def test_reports_to_and_referred_by_are_edited_on_the_contact_page(app, client, auth, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss")
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    page = client.get(f"/contacts/{cid}").data.decode()
    # timeline.js turns these inputs into pickers fed by this search.
    assert f'data-contact-search="/timeline/contact-search?as=options&amp;exclude={cid}"' in page
    assert "js/timeline.js" in page
    form = htmx(client, f"/contacts/{cid}/groups/company/edit").data.decode()
    assert 'name="reports_to"' in form and 'name="referred_by"' in form
    version = form.split('name="version" value="')[1].split('"')[0]
    saved = auth.post(
        f"/contacts/{cid}/groups/company",
        {"version": version, "company": "", "job_title": "", "department": "", "role": "influencer",
         "reports_to": "boss@acme.com", "referred_by": "boss@acme.com"},
        htmx=True,
    )  # fmt: skip
    assert saved.status_code == 200 and "Influencer" in saved.data.decode()
    boss_page = client.get(f"/contacts/{boss}").data.decode()
    assert f'<a href="/contacts/{cid}">Ann</a>' in boss_page.split('id="direct-reports"')[1]
