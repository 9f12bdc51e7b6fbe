"""The contact list query on the real database: search, filters, keyset pages."""

from datetime import datetime, timedelta

import pytest

from app.contacts import query, service
from app.contacts.models import Contact, CustomField
from app.contacts.related import custom_field_infos
from app.extensions import db

PEOPLE = [
    ("Zoë", "Ørsted", "zoe@orsted.dk", "Ørsted A/S", "active", 80, ["vip"]),
    ("Zoe", "Martin", "zmartin@acme.fr", "Acme", "active", 20, []),
    ("François", "Dupont", "f.dupont@acme.fr", "Acme", "inactive", 55, ["vip", "fr"]),
    ("Anna", None, "anna@example.com", None, "active", 0, ["fr"]),
    (None, None, "nobody@example.com", None, "bounced", 100, []),
]


@pytest.fixture
def people(app):
    with app.app_context():
        db.session.add(CustomField(name="seats", label="Seats", type="number"))
        db.session.commit()
        base = datetime(2024, 1, 1)
        for i, (first, last, email, company, status, score, tags) in enumerate(PEOPLE):
            contact = service.create_contact(
                {"email": email, "first_name": first, "last_name": last, "company": company,
                 "status": status, "lead_score": score, "tags": tags,
                 "custom_fields": {"seats": i * 10}},
            )  # fmt: skip
            contact.created_at = base + timedelta(days=i)
        db.session.commit()
        yield


def run(args, **kw):
    infos = custom_field_infos(db.session)
    cq, notices = query.parse_args(
        {k: v if isinstance(v, list) else [v] for k, v in args.items()}, infos, **kw
    )
    rows, cursor = query.fetch_page(db.session, cq, infos)
    return [r.email for r in rows], cursor, notices, cq


def test_search_ignores_accents_and_matches_word_prefixes(people):
    assert sorted(run({"q": "zoe"})[0]) == ["zmartin@acme.fr", "zoe@orsted.dk"]
    assert run({"q": "orst"})[0] == ["zoe@orsted.dk"]
    assert sorted(run({"q": "francois acme"})[0]) == ["f.dupont@acme.fr"]
    assert run({"q": "f.dupont@acme"})[0] == ["f.dupont@acme.fr"]
    assert run({"q": "zzzz"})[0] == []
    assert run({"q": "\"' OR 1=1 --"})[0] == []


def test_filters_combine(people):
    emails, _, notices, _ = run({"tag": "vip", "status": "active"})
    assert emails == ["zoe@orsted.dk"] and notices == []
    assert sorted(run({"score_min": "50", "score_max": "90"})[0]) == [
        "f.dupont@acme.fr", "zoe@orsted.dk",
    ]  # fmt: skip
    assert run({"cf.seats.min": "35"})[0] == ["nobody@example.com"]
    assert run({"created_from": "2024-01-04", "created_to": "2024-01-04"})[0] == [
        "anna@example.com"
    ]


def test_unknown_names_are_ignored_with_a_notice(people):
    emails, _, notices, cq = run({"colour": "red", "sort": "shoe_size", "score_min": "high"})
    assert len(emails) == len(PEOPLE)
    assert len(notices) == 3 and cq.sort == query.DEFAULT_SORT


@pytest.mark.parametrize(
    "sort",
    ["last_name", "-last_name", "lead_score", "-created_at", "first_name", "cf.seats", "-cf.seats"],
)
def test_keyset_pages_cover_everything_once_nulls_last(people, sort):
    seen, cursor = [], None
    while True:
        args = {"sort": sort, "limit": "2"}
        if cursor:
            args["cursor"] = cursor
        emails, cursor, _, _ = run(args)
        seen.extend(emails)
        if cursor is None:
            break
    assert sorted(seen) == sorted(p[2] for p in PEOPLE)
    assert len(seen) == len(set(seen))
    key = sort.lstrip("-")
    if key == "last_name":
        values = [db.session.query(Contact.last_name).filter_by(email=e).scalar() for e in seen]
        non_null = [v for v in values if v is not None]
        assert values[: len(non_null)] == non_null  # nulls come last in both directions
        assert non_null == sorted(non_null, reverse=sort.startswith("-"))


def test_garbage_cursor_starts_from_the_first_page(people):
    assert (
        run({"cursor": "not-a-cursor", "sort": "last_name"})[0]
        == run({"sort": "last_name"})[0][:50]
    )


def test_archived_are_hidden_unless_asked(people):
    contact = db.session.query(Contact).filter_by(email="anna@example.com").one()
    contact.archived_at = datetime(2024, 6, 1)
    db.session.commit()
    assert "anna@example.com" not in run({})[0]
    assert run({"archived": "only"})[0] == ["anna@example.com"]
    infos = custom_field_infos(db.session)
    cq, _ = query.parse_args({"archived": ["include"]}, infos)
    assert query.count(db.session, cq) == len(PEOPLE)


def test_a_search_lists_newest_first_and_pages_through_every_match(people):
    emails, cursor, _, cq = run({"q": "example", "limit": "1"})
    assert cq.sort == query.SEARCH_SORT and emails == ["nobody@example.com"]
    seen = list(emails)
    while cursor:
        emails, cursor, _, _ = run({"q": "example", "limit": "1", "cursor": cursor})
        seen.extend(emails)
    assert seen == ["nobody@example.com", "anna@example.com"]
    both = run({"q": "acme", "sort": "id", "status": "inactive"})[0]
    assert both == ["f.dupont@acme.fr"]


def test_broad_filters_and_searches_give_the_same_pages(people, monkeypatch):
    cases = [
        {"q": "acme", "sort": "last_name"},
        {"q": "example", "sort": "-lead_score"},
        {"status": "active", "sort": "last_name"},
        {"status": "active", "score_min": "10", "sort": "-created_at"},
        {"consent": "unknown", "tag": "vip", "sort": "first_name"},
    ]
    expected = [run(case)[0] for case in cases]
    monkeypatch.setattr(query, "BROAD", 0)  # every filter and search counts as broad
    assert [run(case)[0] for case in cases] == expected
    assert all(expected)


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"tag": "vip"},
        {"tag": ["vip", "fr"]},
        {"cf.seats.min": "15"},
        {"tag": "fr", "status": "active"},
    ],
)
def test_count_agrees_with_the_pages(people, args):
    infos = custom_field_infos(db.session)
    cq, _ = query.parse_args({k: v if isinstance(v, list) else [v] for k, v in args.items()}, infos)
    cq.limit = 500
    rows, _ = query.fetch_page(db.session, cq, infos)
    assert query.count(db.session, cq) == len(rows)
