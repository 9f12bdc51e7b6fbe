"""The contact list costs the same number of SQL queries whatever the page size:
companies, owners, tags and custom values are loaded in batches, never per row."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.contacts.conftest import row_ids
from tests.queries import counting_queries

N = 210


@pytest.fixture
def crowd(app, users, custom_field):
    """N contacts, each with a company, an owner, tags and custom values."""
    from app.auth.models import User
    from app.contacts.service import create_contact

    custom_field("size", "number", "Team size")
    custom_field("plan", "multiselect", "Plan", options=["a", "b", "c"])
    with app.app_context():
        owners = [db.session.get(User, u.id) for u in users.values()]
        for i in range(N):
            create_contact(
                {
                    "email": f"person{i}@crowd.com",
                    "first_name": f"Person{i}",
                    "company": f"Company {i % 17}",
                    "owner": owners[i % 3].id,
                    "tags": [f"t{i % 5}", f"u{i % 7}"],
                    "custom_fields": {"size": i, "plan": ["a", "b"] if i % 2 else ["c"]},
                },
                actor=owners[0],
                via="test",
            )
        db.session.commit()


def _count_queries(app, client, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    with counting_queries(app) as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(statements), response.data


VARIANTS = ("", "&q=person", "&sort=cf.size&cols=name,company,owner,tags,cf.size,cf.plan")


def test_list_query_count_does_not_grow_with_page_size(app, client, auth, crowd):
    auth.login("member")
    for headers in ({}, {"HX-Request": "true"}):  # the full page, then the results block
        for query in VARIANTS:  # default list, a search, a custom sort with custom columns
            client.get("/contacts/?limit=10" + query, headers=headers)  # warm up the session
            small, small_page = _count_queries(app, client, "/contacts/?limit=10" + query, headers)
            large, large_page = _count_queries(app, client, "/contacts/?limit=200" + query, headers)
            assert len(row_ids(small_page)) == 10 and len(row_ids(large_page)) == 200
            assert b"Company " in large_page and b'class="badge tag">t' in large_page
            assert small == large, (query, headers, small, large)
            assert large <= 15, (query, headers, large)
