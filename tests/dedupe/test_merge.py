"""The merge plan (pure): who survives, which value each field keeps by default, and
that a merge never loses an email, a phone, a tag or a consent signal."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.dedupe.merge import (
    PlanError,
    choose_survivor,
    combine_membership,
    default_choices,
    plan,
)

T0 = datetime(2024, 1, 1, 12, 0)


def rec(
    id_,
    *,
    created=T0,
    updated=T0,
    history=0,
    tags=(),
    custom=None,
    types=None,
    lists=None,
    archived=None,
    **fields,
):
    fields.setdefault("email", f"c{id_}@example.com")
    return {
        "id": id_,
        "created_at": created,
        "updated_at": updated,
        "archived_at": archived,
        "history": history,
        "fields": fields,
        "tags": list(tags),
        "custom": custom or {},
        "custom_types": types or {},
        "memberships": lists or {},
    }


def test_the_record_with_the_longer_history_survives_then_the_older():
    old = rec(1, created=T0)
    new = rec(2, created=T0 + timedelta(days=3), history=5)
    assert choose_survivor(old, new)[0]["id"] == 2
    assert choose_survivor(new, old)[0]["id"] == 2
    busy_old, busy_new = rec(1, created=T0, history=2), rec(2, created=T0 + timedelta(1), history=2)
    assert choose_survivor(busy_new, busy_old)[0]["id"] == 1
    twin_a, twin_b = rec(7), rec(3)
    assert choose_survivor(twin_a, twin_b)[0]["id"] == 3  # same history and date: lower id


def test_an_empty_value_never_wins_and_the_newest_record_wins_otherwise():
    survivor = rec(1, updated=T0, first_name="Bob", job_title=None, city="Paris", department="")
    other = rec(
        2,
        updated=T0 + timedelta(hours=1),
        first_name="Robert",
        job_title="CTO",
        city="Lyon",
        department="Sales",
    )
    choices = default_choices(survivor, other)
    assert choices["job_title"] == "other"  # survivor empty
    assert choices["department"] == "other"  # blank text is empty
    assert choices["first_name"] == "other"  # the other record was updated last
    assert choices["city"] == "other"
    assert "last_name" not in choices  # both empty: nothing to choose
    older_other = rec(2, updated=T0 - timedelta(days=1), first_name="Robert", city=None)
    choices = default_choices(survivor, older_other)
    assert choices["first_name"] == "survivor"
    assert choices["city"] == "survivor"  # the other is empty, even if newer it would lose


def test_a_restriction_wins_over_a_permission_whatever_the_dates():
    survivor = rec(
        1,
        updated=T0 + timedelta(days=9),
        status="active",
        consent_status="opted_in",
        consent_source="web form",
        consent_type="explicit",
    )
    other = rec(
        2,
        updated=T0,
        status="unsubscribed",
        consent_status="opted_out",
        consent_source="unsubscribe link",
        consent_type="implied",
    )
    choices = default_choices(survivor, other)
    assert choices["status"] == "other"
    assert choices["consent_status"] == "other"
    assert choices["consent_source"] == "other"  # details follow the consent kept
    assert choices["consent_type"] == "other"
    # "unknown" consent says nothing: it never replaces a real one
    unknown = rec(3, updated=T0 + timedelta(days=30), consent_status="unknown")
    assert default_choices(survivor, unknown).get("consent_status") in (None, "survivor")


def test_no_email_or_phone_is_lost_and_choosing_the_others_email_keeps_ours_as_secondary():
    survivor = rec(1, email="bob@work.com", secondary_emails=["bob@old.com"], phone="+33612345678")
    other = rec(
        2,
        email="bobby@home.net",
        secondary_emails=["bob@old.com", "b@x.org"],
        phone="+33699999999",
        mobile_phone="+33612345678",
        secondary_phones=["+4915112345678"],
    )
    p = plan(survivor, other, {"email": "other", "phone": "survivor"})
    assert p.changes["email"] == "bobby@home.net"
    assert p.changes["secondary_emails"] == ["bob@old.com", "bob@work.com", "b@x.org"]
    assert p.changes["mobile_phone"] == "+33612345678"  # survivor had none
    # the other's work phone did not win: it is kept as a secondary phone
    assert p.changes["secondary_phones"] == ["+33699999999", "+4915112345678"]
    kept = plan(survivor, other, {"email": "survivor"})
    assert "email" not in kept.changes
    assert kept.changes["secondary_emails"] == ["bob@old.com", "bobby@home.net", "b@x.org"]


def test_references_to_the_merged_record_never_make_the_survivor_refer_to_itself():
    survivor = rec(1, reports_to=2)
    other = rec(2, referred_by=1, reports_to=9)
    p = plan(survivor, other, {"reports_to": "survivor", "referred_by": "other"})
    assert p.changes["reports_to"] is None  # pointed at the merged record
    assert "referred_by" not in p.changes  # would point at itself: stays empty
    p = plan(survivor, other, {"reports_to": "other"})
    assert p.changes["reports_to"] == 9


def test_tags_are_combined_and_multi_selects_too_unless_one_side_is_chosen():
    types = {"skills": "multiselect", "size": "number"}
    survivor = rec(
        1, tags=["VIP", "lead"], custom={"skills": ["python"], "size": [10.0]}, types=types
    )
    other = rec(
        2,
        updated=T0 + timedelta(1),
        tags=["vip", "Paris"],
        custom={"skills": ["go", "python"], "size": [50.0]},
        types=types,
    )
    p = plan(survivor, other)
    assert p.tags_added == ["Paris"]  # case-insensitive union
    assert p.custom["skills"] == ["python", "go"]
    assert p.custom["size"] == [50.0]  # most recent non-empty
    p = plan(survivor, other, {"custom.skills": "survivor", "custom.size": "survivor"})
    assert p.custom == {}


@pytest.mark.parametrize(
    ("survivor", "other", "expected"),
    [
        (("subscribed", 0), ("pending", 0), "subscribed"),
        (("pending", 0), ("subscribed", 0), "subscribed"),
        # an unsubscribe is a consent signal: kept over an older subscription or a pending one
        (("subscribed", 0), ("unsubscribed", 5), "unsubscribed"),
        (("unsubscribed", 5), ("pending", 9), "unsubscribed"),
        # ... unless the person subscribed again after unsubscribing
        (("subscribed", 9), ("unsubscribed", 5), "subscribed"),
        (("unsubscribed", 5), ("subscribed", 9), "subscribed"),
    ],
)
def test_membership_status_rule(survivor, other, expected):
    def m(status, day):
        return {"status": status, "updated_at": T0 + timedelta(days=day)}

    assert combine_membership(m(*survivor), m(*other)) == expected


def test_lists_only_the_other_is_on_move_and_shared_ones_get_the_combined_status():
    s = rec(
        1,
        lists={
            10: {"status": "pending", "updated_at": T0},
            11: {"status": "subscribed", "updated_at": T0},
        },
    )
    o = rec(
        2,
        lists={
            10: {"status": "subscribed", "updated_at": T0},
            12: {"status": "unsubscribed", "updated_at": T0},
        },
    )
    p = plan(s, o)
    assert p.lists_moved == [12]
    assert p.list_status == {10: "subscribed"}


def test_archived_survivor_comes_back_when_the_other_is_active():
    assert plan(rec(1, archived=T0), rec(2)).unarchive is True
    assert plan(rec(1, archived=T0), rec(2, archived=T0)).unarchive is False


def test_bad_choices_name_the_field():
    with pytest.raises(PlanError) as exc:
        plan(rec(1), rec(2), {"shoe_size": "other"})
    assert exc.value.field == "shoe_size"
    with pytest.raises(PlanError) as exc:
        plan(rec(1), rec(2), {"first_name": "both"})
    assert exc.value.field == "first_name"
    with pytest.raises(PlanError):
        plan(rec(1), rec(1))


emails = st.sampled_from([None, "a@x.com", "b@x.com", "c@y.org"])
phones = st.sampled_from([None, "+33612345678", "+33699999999", "+4915112345678"])
texts = st.sampled_from([None, "", "Bob", "Robert"])


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(
        emails, st.lists(emails, max_size=2), phones, phones, st.lists(phones, max_size=2), texts
    ),
    st.tuples(
        emails, st.lists(emails, max_size=2), phones, phones, st.lists(phones, max_size=2), texts
    ),
    st.booleans(),
    st.dictionaries(
        st.sampled_from(["email", "phone", "mobile_phone", "first_name"]),
        st.sampled_from(["survivor", "other"]),
    ),
)
def test_any_merge_keeps_every_email_and_phone_and_never_empties_a_field(s, o, newer, choices):
    def build(id_, t, updated):
        email, sec, phone, mobile, sec_phones, first = t
        return rec(
            id_,
            updated=updated,
            email=email or f"main{id_}@example.com",
            secondary_emails=[e for e in sec if e] or None,
            phone=phone,
            mobile_phone=mobile,
            secondary_phones=[p for p in sec_phones if p] or None,
            first_name=first,
        )

    survivor = build(1, s, T0)
    other = build(2, o, T0 + timedelta(hours=1 if newer else -1))
    p = plan(survivor, other, choices)
    final = {**survivor["fields"], **p.changes}

    def all_of(r, one, many):
        return {r["fields"].get(f) for f in one} | set(r["fields"].get(many) or [])

    def kept(one, many):
        return {final.get(f) for f in one} | set(final.get(many) or [])

    before = (
        all_of(survivor, ["email"], "secondary_emails")
        | all_of(other, ["email"], "secondary_emails")
    ) - {None}
    assert before <= kept(["email"], "secondary_emails")
    phone_fields = ["phone", "mobile_phone", "home_phone"]
    before = (
        all_of(survivor, phone_fields, "secondary_phones")
        | all_of(other, phone_fields, "secondary_phones")
    ) - {None}
    assert before <= kept(phone_fields, "secondary_phones")
    assert final["email"] not in (final.get("secondary_emails") or [])
    for name in ("first_name", "phone", "mobile_phone"):
        if name in choices:
            continue  # a chosen side may be empty on purpose
        if survivor["fields"].get(name) or other["fields"].get(name):
            assert final.get(name), name
