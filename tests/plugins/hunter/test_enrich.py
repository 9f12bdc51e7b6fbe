"""Enrichment: a Domain Search finds the person behind a company email; the Email Finder
finds a person's work email from their name and company."""

from __future__ import annotations

import pytest

from app.integrations.http import QuotaExhausted
from plugins import hunter as plugin

from .conftest import KEY
from .hunter_fake import error, person


def staff(n: int) -> list[dict]:
    return [person(f"p{i}@initech.test", f"First{i}", f"Last{i}") for i in range(n)]


def test_domain_search_finds_the_person_on_a_later_page(hunter, http):
    people = staff(15)
    people[12] = person(
        "Peter.Gibbons@initech.test",
        "Peter",
        "Gibbons",
        position="Software Engineer",
        department="it",
        linkedin="https://www.linkedin.com/in/peter-gibbons",
        twitter="pgibbons",
    )
    hunter.domains["initech.test"] = {"organization": "Initech", "emails": people}

    found = plugin.enrich_contact(http, {"email": "peter.gibbons@initech.test"})

    assert found == {
        "company": "Initech",
        "first_name": "Peter",
        "last_name": "Gibbons",
        "job_title": "Software Engineer",
        "department": "IT",
        "linkedin_url": "https://www.linkedin.com/in/peter-gibbons",
        "twitter": "pgibbons",
    }
    calls = hunter.calls("domain-search")
    assert [(c.arg("domain"), c.arg("limit"), c.arg("offset")) for c in calls] == [
        ("initech.test", "10", "0"),
        ("initech.test", "10", "10"),
    ]
    assert hunter.calls("email-finder") == []


def test_linkedin_handle_becomes_a_profile_url(hunter, http):
    hunter.domains["initech.test"] = {
        "organization": "Initech",
        "emails": [
            person(
                "bill@initech.test",
                "Bill",
                "Lumbergh",
                linkedin="blumbergh",
                position="Division VP",
                department="management",
            )
        ],
    }

    found = plugin.enrich_contact(http, {"email": "bill@initech.test", "first_name": "Bill"})

    assert found["linkedin_url"] == "https://www.linkedin.com/in/blumbergh"
    assert found["department"] == "Management"
    assert found["job_title"] == "Division VP"


def test_person_not_found_gives_the_company_and_stops_after_a_few_pages(hunter, http):
    hunter.domains["initech.test"] = {"organization": "Initech", "emails": staff(55)}

    found = plugin.enrich_contact(http, {"email": "milton@initech.test"})

    assert found == {"company": "Initech"}
    assert len(hunter.calls("domain-search")) == plugin.MAX_PAGES


def test_last_page_ends_the_search(hunter, http):
    hunter.domains["initech.test"] = {"organization": "Initech", "emails": staff(10)}

    plugin.enrich_contact(http, {"email": "milton@initech.test"})

    assert len(hunter.calls("domain-search")) == 1


def test_unknown_domain_answers_nothing(hunter, http):
    assert plugin.enrich_contact(http, {"email": "x@nowhere.test"}) == {}


def test_webmail_contact_is_found_by_name_and_company_domain(hunter, http):
    hunter.people[("initech.test", "Samir", "Nagheenanajar")] = {
        "first_name": "Samir",
        "last_name": "Nagheenanajar",
        "email": "Samir@initech.test",
        "score": 88,
        "domain": "initech.test",
        "accept_all": False,
        "position": "Engineer",
        "twitter": None,
        "linkedin_url": "https://www.linkedin.com/in/samir-n",
        "phone_number": None,
        "company": "Initech",
        "sources": [],
        "verification": {"date": "2024-06-01T10:00:00+00:00", "status": "valid"},
    }
    contact = {
        "email": "samir.n@gmail.com",
        "first_name": "Samir",
        "last_name": "Nagheenanajar",
        "company": "Initech",
        "company_domain": "initech.test",
    }

    found = plugin.enrich_contact(http, contact)

    assert found == {
        "email": "samir@initech.test",
        "first_name": "Samir",
        "last_name": "Nagheenanajar",
        "job_title": "Engineer",
        "linkedin_url": "https://www.linkedin.com/in/samir-n",
        "company": "Initech",
    }
    assert hunter.calls("domain-search") == []
    [call] = hunter.calls("email-finder")
    assert call.headers["x-api-key"] == KEY


def test_company_domain_from_the_website(hunter, http):
    hunter.people[("initech.test", "Michael", "Bolton")] = {
        "email": "michael@initech.test",
        "position": None,
        "linkedin_url": None,
        "verification": {"status": "accept_all"},
    }
    contact = {
        "email": "mb@yahoo.fr",
        "first_name": "Michael",
        "last_name": "Bolton",
        "website": "https://www.initech.test/about",
    }

    assert plugin.enrich_contact(http, contact) == {"email": "michael@initech.test"}


def test_company_name_when_no_domain_is_known(hunter, http):
    hunter.people[("Initech", "Michael", "Bolton")] = {
        "email": "michael@initech.test",
        "position": "Programmer",
    }
    contact = {
        "email": "mb@gmail.com",
        "first_name": "Michael",
        "last_name": "Bolton",
        "company": "Initech",
    }

    assert plugin.enrich_contact(http, contact) == {
        "email": "michael@initech.test",
        "job_title": "Programmer",
    }
    [call] = hunter.calls("email-finder")
    assert call.arg("company") == "Initech" and call.arg("domain") is None


def test_email_hunter_knows_is_invalid_is_not_offered(hunter, http):
    hunter.people[("initech.test", "Tom", "Smykowski")] = {
        "email": "tom@initech.test",
        "position": "Liaison",
        "verification": {"status": "invalid"},
    }
    contact = {
        "email": "tom@gmail.com",
        "first_name": "Tom",
        "last_name": "Smykowski",
        "company_domain": "initech.test",
    }

    assert plugin.enrich_contact(http, contact) == {"job_title": "Liaison"}


def test_email_finder_finding_nobody_answers_nothing(hunter, http):
    contact = {
        "email": "a@gmail.com",
        "first_name": "Nobody",
        "last_name": "Known",
        "company_domain": "initech.test",
    }

    assert plugin.enrich_contact(http, contact) == {}
    assert len(hunter.calls("email-finder")) == 1


@pytest.mark.parametrize(
    "contact",
    [
        {"email": "solo@gmail.com"},
        {"email": "solo@gmail.com", "first_name": "Han", "last_name": "Solo"},
        {"email": "solo@gmail.com", "first_name": "Han", "company_domain": "rebels.test"},
        {
            "email": "solo@gmail.com",
            "first_name": "Han",
            "last_name": "Solo",
            "company_domain": "hotmail.com",
        },
    ],
)
def test_nothing_to_look_up_calls_nobody(hunter, http, contact):
    assert plugin.enrich_contact(http, contact) == {}
    assert hunter.fake.calls == []


def test_usage_limit_reached_is_an_error_not_an_empty_answer(hunter, http, waits):
    hunter.fail_next(*[error(429, "too_many_requests", "You have reached your usage limit")] * 10)

    with pytest.raises(QuotaExhausted) as caught:
        plugin.enrich_contact(http, {"email": "peter@initech.test"})

    assert caught.value.status == 429
    assert len(hunter.fake.calls) == 1 and waits == []  # not retried
