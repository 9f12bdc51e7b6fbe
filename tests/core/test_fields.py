"""Validation of standard and custom field values (pure functions)."""

from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.contacts.custom import clean_custom
from app.contacts.fields import BY_NAME, FieldError, clean_value
from app.contacts.search import fold, query_terms, search_text


def test_email_is_lowercased_and_checked():
    assert clean_value(BY_NAME["email"], " Zoé.Dupont@Example.FR ") == "zoé.dupont@example.fr"
    with pytest.raises(FieldError) as err:
        clean_value(BY_NAME["email"], "not-an-email")
    assert err.value.field == "email"


def test_phone_is_stored_e164_using_the_contact_country():
    assert clean_value(BY_NAME["phone"], "06 12 34 56 78", region="FR") == "+33612345678"
    assert clean_value(BY_NAME["mobile_phone"], "+1 (415) 555-2671") == "+14155552671"
    with pytest.raises(FieldError):
        clean_value(BY_NAME["phone"], "12", region="FR")


def test_country_accepts_codes_and_names_in_english_and_french():
    spec = BY_NAME["country"]
    assert clean_value(spec, "fr") == "FR"
    assert clean_value(spec, "Germany") == "DE"
    assert clean_value(spec, "Allemagne") == "DE"
    with pytest.raises(FieldError):
        clean_value(spec, "Atlantis")


def test_choices_accept_keys_and_labels():
    assert clean_value(BY_NAME["role"], "Decision Maker") == "decision_maker"
    assert clean_value(BY_NAME["consent_status"], "opted in") == "opted_in"
    with pytest.raises(FieldError):
        clean_value(BY_NAME["status"], "sleeping")


def test_lead_score_range_and_text_length():
    assert clean_value(BY_NAME["lead_score"], "42") == 42
    with pytest.raises(FieldError):
        clean_value(BY_NAME["lead_score"], "101")
    with pytest.raises(FieldError):
        clean_value(BY_NAME["first_name"], "x" * 101)


def test_custom_values_are_typed():
    assert clean_custom("seats", "number", None, "1 200,5") == [1200.5]
    assert clean_custom("renewal", "date", None, "2025-01-31") == [date(2025, 1, 31)]
    assert clean_custom("vip", "boolean", None, "oui") == [True]
    assert clean_custom("plan", "select", ["Free", "Pro"], "pro") == ["Pro"]
    assert clean_custom("langs", "multiselect", ["en", "fr"], "fr, en") == ["fr", "en"]
    assert clean_custom("plan", "select", ["Free"], "") == []
    for type_, options, value in [
        ("number", None, "abc"),
        ("date", None, "31/01/2025"),
        ("boolean", None, "maybe"),
        ("select", ["Free"], "Gold"),
        ("json", None, "{bad"),
    ]:
        with pytest.raises(FieldError):
            clean_custom("f", type_, options, value)


def test_search_text_folds_accents_and_splits_emails():
    assert fold("Zoë ØRSTED") == "zoe orsted"
    assert search_text("Zoë", None, "Ørsted", "zoe.orsted@acme.dk", "Acme A/S") == (
        "zoe orsted zoe orsted acme dk acme a s"
    )
    assert query_terms("  zoë@ACME ") == ["zoe", "acme"]


@given(st.text(max_size=60))
def test_query_terms_are_always_safe_words(text):
    for term in query_terms(text):
        assert term and all(ch.isalnum() for ch in term)


def test_phone_without_country_code_asks_for_one():
    with pytest.raises(FieldError) as err:
        clean_value(BY_NAME["phone"], "06 12 34 56 78")
    assert "country code" in err.value.message
    assert clean_value(BY_NAME["phone"], "0033 6 12 34 56 78") == "+33612345678"


EMAILISH = st.lists(
    st.sampled_from(
        [*"abcXYZ09.-_+'@é!#`{|}~ ", "..", "co", "test", "local", "xn--", "ab--", "--"]
    ),
    min_size=3,
    max_size=25,
).map("".join)


@settings(max_examples=1500, deadline=None)
@example("a@xn--abc.com")
@example("a@ab--cd.com")
@example("a@x.local")
@given(st.one_of(EMAILISH, st.emails()))
def test_the_fast_email_check_never_accepts_what_email_validator_refuses(value):
    """clean_email's regex shortcut agrees with email-validator on everything it accepts."""
    from email_validator import EmailNotValidError, validate_email

    from app.contacts.fields import _plain_email

    fast = _plain_email(value)
    if fast is None:
        return
    try:
        slow = validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AssertionError(
            f"{value!r} passed the shortcut but email-validator says: {exc}"
        ) from None
    assert fast == slow
