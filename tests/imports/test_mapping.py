"""Suggesting and checking how a file's columns map to contact fields."""

from __future__ import annotations

import pytest

from app.contacts.fields import EDITABLE
from app.imports.mapping import suggest, targets, validate_mapping
from app.imports.vcard import VCARD_HEADERS

CUSTOM = [("shoe_size", "Shoe size", "number"), ("notes", "Notes", "text")]


def mapped(headers: list[str], custom=()) -> dict[str, str]:
    """{header: target} for the headers that map to something."""
    return {h: t for h, t in zip(headers, suggest(headers, custom), strict=True) if t}


def test_targets_cover_editable_fields_tags_lists_and_custom_fields():
    keys = [t.key for t in targets(CUSTOM)]
    assert keys[: len(EDITABLE)] == [f.name for f in EDITABLE]
    assert "owner" in keys and "created_at" not in keys
    assert keys[-4:] == ["tags", "lists", "custom.shoe_size", "custom.notes"]
    shoe = targets(CUSTOM)[-2]
    assert (shoe.label, shoe.group) == ("Shoe size", "Custom fields")


def test_google_contacts():
    headers = [
        "Name", "Given Name", "Additional Name", "Family Name", "Yomi Name", "Name Prefix",
        "Nickname", "Birthday", "Gender", "Occupation", "Notes", "Language", "Photo",
        "Group Membership", "E-mail 1 - Type", "E-mail 1 - Value", "E-mail 2 - Type",
        "E-mail 2 - Value", "Phone 1 - Type", "Phone 1 - Value", "Phone 2 - Type",
        "Phone 2 - Value", "Address 1 - Type", "Address 1 - Formatted", "Address 1 - Street",
        "Address 1 - City", "Address 1 - PO Box", "Address 1 - Region",
        "Address 1 - Postal Code", "Address 1 - Country", "Address 1 - Extended Address",
        "Address 2 - City", "Organization 1 - Type", "Organization 1 - Name",
        "Organization 1 - Title", "Organization 1 - Department", "Website 1 - Value",
    ]  # fmt: skip
    assert mapped(headers) == {
        "Given Name": "first_name",
        "Additional Name": "middle_name",
        "Family Name": "last_name",
        "Birthday": "birthday",
        "Language": "language",
        "E-mail 1 - Value": "email",
        "E-mail 2 - Value": "secondary_emails",
        "Phone 1 - Value": "phone",
        "Phone 2 - Value": "secondary_phones",
        "Address 1 - Street": "address_line1",
        "Address 1 - City": "city",
        "Address 1 - Region": "state",
        "Address 1 - Postal Code": "postcode",
        "Address 1 - Country": "country",
        "Address 1 - Extended Address": "address_line2",
        "Organization 1 - Name": "company",
        "Organization 1 - Title": "job_title",
        "Organization 1 - Department": "department",
    }


def test_outlook():
    headers = [
        "Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department",
        "Job Title", "Business Street", "Business Street 2", "Business Street 3",
        "Business City", "Business State", "Business Postal Code", "Business Country/Region",
        "Home Street", "Home City", "Business Fax", "Business Phone", "Business Phone 2",
        "Home Phone", "Mobile Phone", "Other Phone", "Birthday", "Categories",
        "E-mail Address", "E-mail Type", "E-mail Display Name", "E-mail 2 Address",
        "E-mail 3 Address", "Notes", "Referred By", "Web Page",
    ]  # fmt: skip
    assert mapped(headers) == {
        "First Name": "first_name",
        "Middle Name": "middle_name",
        "Last Name": "last_name",
        "Company": "company",
        "Department": "department",
        "Job Title": "job_title",
        "Business Street": "address_line1",
        "Business Street 2": "address_line2",
        "Business City": "city",
        "Business State": "state",
        "Business Postal Code": "postcode",
        "Business Country/Region": "country",
        "Business Phone": "phone",
        "Business Phone 2": "secondary_phones",
        "Home Phone": "home_phone",
        "Mobile Phone": "mobile_phone",
        "Birthday": "birthday",
        "Categories": "tags",
        "E-mail Address": "email",
        "E-mail 2 Address": "secondary_emails",
    }  # "Title" is Mr./Ms.; "Referred By" holds a name, not the email Kontor needs


def test_hubspot():
    headers = [
        "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
        "Job Title", "Lifecycle Stage", "Lead Status", "Contact owner", "City",
        "Country/Region", "Create Date", "Email Domain", "Marketing contact status",
    ]  # fmt: skip
    assert mapped(headers) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Company Name": "company",
        "Job Title": "job_title",
        "City": "city",
        "Country/Region": "country",
    }


def test_mailchimp():
    headers = [
        "Email Address", "First Name", "Last Name", "Address", "Phone Number", "TAGS",
        "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
        "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
        "EUID", "NOTES",
    ]  # fmt: skip
    assert mapped(headers) == {
        "Email Address": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Address": "address_line1",
        "Phone Number": "phone",
        "TAGS": "tags",
        "OPTIN_TIME": "consent_date",
        "TIMEZONE": "timezone",
        "CC": "country",
        "REGION": "state",
    }


def test_linkedin():
    headers = [
        "First Name",
        "Last Name",
        "URL",
        "Email Address",
        "Company",
        "Position",
        "Connected On",
    ]
    assert suggest(headers) == [
        "first_name",
        "last_name",
        "linkedin_url",
        "email",
        "company",
        "job_title",
        "",
    ]


def test_french_headers():
    headers = [
        "Civilité", "Prénom", "Nom", "Société", "Poste", "Service", "E-mail", "Téléphone",
        "Portable", "Adresse", "Complément d'adresse", "Code postal", "Ville", "Région", "Pays",
        "Date de naissance", "Étiquettes", "Listes", "Source", "Statut", "Consentement",
        "Commentaire",
    ]  # fmt: skip
    assert suggest(headers) == [
        "", "first_name", "last_name", "company", "job_title", "department", "email", "phone",
        "mobile_phone", "address_line1", "address_line2", "postcode", "city", "state",
        "country", "birthday", "tags", "lists", "source", "status", "consent_status", "",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Nom de famille", "last_name"),
        ("Courriel", "email"),
        ("Adresse e-mail", "email"),
        ("Adresse électronique", "email"),
        ("Mobile", "mobile_phone"),
        ("Entreprise", "company"),
        ("Fonction", "job_title"),
        ("Téléphone mobile", "mobile_phone"),
        ("Code postal (adresse postale)", "mailing_postcode"),
        ("Base légale RGPD", "gdpr_basis"),
        ("E-MAIL ADDRESS", "email"),
        ("  email  ", "email"),
        ("Email", "email"),
    ],
)
def test_single_headers(header, target):
    assert suggest([header]) == [target]


def test_kontor_export_headers_map_to_themselves():
    names = [f.name for f in EDITABLE] + ["tags", "lists", "custom.shoe_size"]
    assert suggest(names, CUSTOM) == [*names[:-1], "custom.shoe_size"]
    labels = [f.label for f in EDITABLE if f.name not in ("reports_to", "referred_by")]
    expected = [f.name for f in EDITABLE if f.name not in ("reports_to", "referred_by")]
    assert suggest(labels) == expected


def test_vcard_headers_map_to_themselves():
    expected = [h if h != "note" else "" for h in VCARD_HEADERS]
    assert suggest(VCARD_HEADERS) == expected


def test_custom_fields_match_by_name_and_label():
    assert suggest(["Shoe size", "shoe_size"], CUSTOM) == ["custom.shoe_size", ""]
    # a custom field named like an ignored header wins over the ignore list
    assert suggest(["Notes"], CUSTOM) == ["custom.notes"]
    assert suggest(["custom.unknown"], CUSTOM) == [""]


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Emial", "email"),
        ("Frist name", "first_name"),
        ("Lsat Name", "last_name"),
        ("Compnay", "company"),
        ("Company name (legal)", "company"),
        ("E-mail adress", "email"),
        ("Job titel", "job_title"),
        ("Shoe sizes", "custom.shoe_size"),
    ],
)
def test_fuzzy_typos_and_extra_words(header, target):
    assert suggest([header], CUSTOM) == [target]


@pytest.mark.parametrize(
    "header",
    [
        "Notes",
        "Connected On",
        "Create Date",
        "MEMBER_RATING",
        "xyz",
        "Name",
        "Phone Type",
        "Email Domain",
        "Lifecycle Stage",
        "Contact owner",
        "Stage",
        "Column 3",
        "",
        "Mileage",
    ],
)
def test_weak_resemblances_are_ignored(header):
    assert suggest([header]) == [""]


def test_each_target_used_once_and_overflow_to_secondary():
    headers = ["Email", "Work Email", "Personal Email", "Phone", "Mobile", "Cell", "Telephone"]
    assert suggest(headers) == [
        "email",
        "secondary_emails",
        "",
        "phone",
        "mobile_phone",
        "secondary_phones",
        "",
    ]


def test_best_match_wins_over_earlier_weaker_column():
    # Salesforce "Title" is the job title, but when "Job Title" exists it wins.
    assert suggest(["Title", "Job Title"]) == ["", "job_title"]
    assert suggest(["Title"]) == ["job_title"]
    assert suggest(["Emial", "Email"]) == ["secondary_emails", "email"]


def test_validate_mapping_accepts_a_good_mapping():
    headers = ["Email", "Name", "Shoe", "Notes", "Extra"]
    mapping = ["email", "first_name", "custom.shoe_size", "new:Notes", ""]
    assert validate_mapping(mapping, headers, CUSTOM) == {}


def test_validate_mapping_errors():
    headers = ["A", "B", "C", "D", "E", "F"]
    errors = validate_mapping(
        ["first_name", "first_name", "bogus", "new:  ", "new:Notes", "new:notes"],
        headers,
        CUSTOM,
    )
    assert set(errors) == {1, 2, 3, 5, -1}
    assert errors[1] == "First name is already used by column “A”."
    assert errors[2] == "Unknown field “bogus”: choose another one."
    assert errors[3] == "Give the new custom field a name."
    assert errors[-1] == "Map a column to Email: contacts are matched by email."
    assert errors[-1] == validate_mapping([], [], ())[-1]


def test_validate_mapping_rejects_columns_past_the_header():
    assert validate_mapping(["email", "city"], ["Email"], ()) == {
        1: "There is no such column in the file."
    }
    assert validate_mapping(["email", ""], ["Email"], ()) == {}


def test_validate_mapping_message_keeps_its_template():
    errors = validate_mapping(["email", "email"], ["E1", "E2"], ())
    assert errors[1].template == "%(field)s is already used by column “%(column)s”."
    assert errors[1].params == {"field": "Email", "column": "E1"}
