"""Reading vCard files (2.1, 3.0, 4.0) into rows of Kontor fields."""

from __future__ import annotations

import base64
import random
import tracemalloc
from pathlib import Path

from app.imports.reader import iter_rows, sniff
from app.imports.vcard import VCARD_HEADERS, iter_vcard_rows

APPLE_30 = """BEGIN:VCARD
VERSION:3.0
PRODID:-//Apple Inc.//iPhone OS 17.0//EN
N:Appleseed;John;Quincy;Mr.;
FN:John Q. Appleseed
ORG:Apple Inc.;Engineering;
TITLE:Senior Engineer
item1.EMAIL;type=INTERNET:jq@home.example
item1.X-ABLabel:_$!<Other>!$_
item2.EMAIL;type=INTERNET;type=pref:John.Appleseed@Apple.example
TEL;type=CELL;type=VOICE;type=pref:+1 408 555 1234
TEL;type=WORK;type=VOICE:+1 408 555 9999
TEL;type=HOME;type=VOICE:+1 408 555 0000
TEL;type=MAIN:+1 408 555 7777
item3.ADR;type=HOME:;;12 Home Rd;Los Altos;CA;94022;United States
item4.ADR;type=WORK;type=pref:;;1 Infinite Loop\\nBuilding 2;Cupertino;CA;95014;Unit
 ed States
item4.X-ABADR:us
BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12
X-SOCIALPROFILE;type=linkedin:http://www.linkedin.com/in/johnq
X-SOCIALPROFILE;type=twitter:http://twitter.com/johnq
CATEGORIES:myContacts,Clients,VIP
NOTE:Met at WWDC\\, in June
END:VCARD
"""

V40 = """BEGIN:VCARD
VERSION:4.0
FN:Zoë Martin
N:Martin;Zoë;;;
EMAIL;TYPE=work:zoe@work.example
EMAIL;PREF=1;TYPE=home:zoe@home.example
EMAIL;PREF=2:zoe@third.example
TEL;VALUE=uri;TYPE="cell,voice":tel:+33-6-12-34-56-78
TEL;VALUE=uri;TYPE=home:tel:+33 1 23 45 67 89
BDAY:--0412
IMPP;X-SERVICE-TYPE=Twitter:x-apple:zoem
URL:https://www.linkedin.com/in/zoe-martin
ADR;TYPE=home:;;12 rue de la Paix;Paris;;75002;France
END:VCARD
"""

V21_QP = (
    "BEGIN:VCARD\r\n"
    "VERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Dubois;=C3=89milie;;;\r\n"
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=89milie Dubois\r\n"
    "ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Soci=C3=A9t=C3=A9 G=C3=A9n=C3=A9rale\r\n"
    "TEL;CELL;PREF:+33612345678\r\n"
    "TEL;WORK:+33 1 40 00 00 00\r\n"
    "EMAIL;INTERNET:emilie@example.fr\r\n"
    "ADR;WORK;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;12 all=C3=A9e des =\r\n"
    "Ch=C3=AAnes;Orl=C3=A9ans;;45000;France\r\n"
    "BDAY:19850412\r\n"
    "END:VCARD\r\n"
)


def photo_card(email: str, lines: int = 2000) -> str:
    data = base64.b64encode(random.Random(1).randbytes(57 * lines)).decode()
    folded = "\n ".join(data[i : i + 74] for i in range(0, len(data), 74))
    return (
        "BEGIN:VCARD\nVERSION:3.0\nN:Photo;Paul;;;\nFN:Paul Photo\n"
        f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\n"
        f"EMAIL;TYPE=INTERNET:{email}\nEND:VCARD\n"
    )


def write(tmp_path: Path, text: str, name: str = "contacts.vcf") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def as_dict(cells: list[str]) -> dict[str, str]:
    assert len(cells) == len(VCARD_HEADERS)
    return {k: v for k, v in zip(VCARD_HEADERS, cells, strict=True) if v}


def read(tmp_path: Path, text: str) -> list[tuple[int, list[str]]]:
    path = write(tmp_path, text)
    info = sniff(path)
    return list(iter_rows(path, info))


def test_sniff_recognises_vcards_by_extension_and_by_content(tmp_path):
    info = sniff(write(tmp_path, APPLE_30 + V40))
    assert info.format == "vcard"
    assert info.delimiter is None
    assert info.headers == VCARD_HEADERS
    assert info.total_estimate == 2
    # content wins whatever the name
    assert sniff(write(tmp_path, "\r\n" + V40, name="export.csv")).format == "vcard"


def test_apple_30_card(tmp_path):
    [(number, cells)] = read(tmp_path, APPLE_30)
    assert number == 1
    assert as_dict(cells) == {
        "email": "John.Appleseed@Apple.example",
        "secondary_emails": "jq@home.example",
        "first_name": "John",
        "middle_name": "Quincy",
        "last_name": "Appleseed",
        "mobile_phone": "+1 408 555 1234",
        "phone": "+1 408 555 9999",
        "home_phone": "+1 408 555 0000",
        "secondary_phones": "+1 408 555 7777",
        "company": "Apple Inc.",
        "department": "Engineering",
        "job_title": "Senior Engineer",
        "address_line1": "1 Infinite Loop",
        "address_line2": "Building 2",
        "city": "Cupertino",
        "state": "CA",
        "postcode": "95014",
        "country": "United States",
        "linkedin_url": "http://www.linkedin.com/in/johnq",
        "twitter": "@johnq",
        "tags": "Clients, VIP",
        "note": "Met at WWDC, in June",
    }  # birthday without a year (Apple's 1604) is left empty


def test_40_card(tmp_path):
    [(_, cells)] = read(tmp_path, V40)
    assert as_dict(cells) == {
        "email": "zoe@home.example",
        "secondary_emails": "zoe@third.example, zoe@work.example",
        "first_name": "Zoë",
        "last_name": "Martin",
        "mobile_phone": "+33-6-12-34-56-78",
        "home_phone": "+33 1 23 45 67 89",
        "address_line1": "12 rue de la Paix",
        "city": "Paris",
        "postcode": "75002",
        "country": "France",
        "linkedin_url": "https://www.linkedin.com/in/zoe-martin",
        "twitter": "@zoem",
    }


def test_21_quoted_printable_with_accents(tmp_path):
    [(_, cells)] = read(tmp_path, V21_QP)
    assert as_dict(cells) == {
        "email": "emilie@example.fr",
        "first_name": "Émilie",
        "last_name": "Dubois",
        "mobile_phone": "+33612345678",
        "phone": "+33 1 40 00 00 00",
        "company": "Société Générale",
        "address_line1": "12 allée des Chênes",
        "city": "Orléans",
        "postcode": "45000",
        "country": "France",
        "birthday": "1985-04-12",
    }


def test_21_quoted_printable_latin1_without_charset(tmp_path):
    card = (
        "BEGIN:VCARD\nVERSION:2.1\nN;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen\n"
        "EMAIL:j@example.de\nEND:VCARD\n"
    )
    [(_, cells)] = read(tmp_path, card)
    assert as_dict(cells)["last_name"] == "Müller"


def test_long_folded_base64_photo_is_ignored(tmp_path):
    text = photo_card("paul@example.com") + V40
    rows = read(tmp_path, text)
    assert [n for n, _ in rows] == [1, 2]
    assert as_dict(rows[0][1]) == {
        "email": "paul@example.com",
        "first_name": "Paul",
        "last_name": "Photo",
    }
    assert as_dict(rows[1][1])["email"] == "zoe@home.example"


def test_21_photo_ended_by_a_blank_line(tmp_path):
    data = base64.b64encode(bytes(range(256)) * 20).decode()
    lines = "\n".join("    " + data[i : i + 72] for i in range(0, len(data), 72))
    card = (
        "BEGIN:VCARD\nVERSION:2.1\nN:Old;Olga\n"
        f"PHOTO;ENCODING=BASE64;TYPE=JPEG:\n{lines}\n\n"
        "EMAIL;INTERNET:olga@example.com\nEND:VCARD\n"
    )
    [(_, cells)] = read(tmp_path, card)
    assert as_dict(cells) == {"email": "olga@example.com", "first_name": "Olga", "last_name": "Old"}


def test_broken_card_yields_an_empty_row_and_reading_goes_on(tmp_path):
    broken = "BEGIN:VCARD\nVERSION:3.0\nthis line is not a property\nEND:VCARD\n"
    rows = read(tmp_path, APPLE_30 + broken + V40)
    assert [n for n, _ in rows] == [1, 2, 3]
    assert rows[1][1] == []
    assert as_dict(rows[2][1])["first_name"] == "Zoë"


def test_unterminated_last_card_is_an_error_row(tmp_path):
    rows = read(tmp_path, V40 + "BEGIN:VCARD\nVERSION:3.0\nFN:Cut Off\n")
    assert [(n, bool(c)) for n, c in rows] == [(1, True), (2, False)]


def test_name_split_from_fn_when_n_is_missing(tmp_path):
    card = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Jean-Pierre de la Fontaine\nEMAIL:jp@example.fr\nEND:VCARD\n"
    )
    [(_, cells)] = read(tmp_path, card)
    fields = as_dict(cells)
    assert (fields["first_name"], fields["last_name"]) == ("Jean-Pierre", "de la Fontaine")


def test_birthday_formats(tmp_path):
    cards = "".join(
        f"BEGIN:VCARD\nVERSION:3.0\nN:B;{i}\nEMAIL:b{i}@example.com\nBDAY:{value}\nEND:VCARD\n"
        for i, value in enumerate(["19850412", "1985-04-12", "--0412", "1985-04-12T00:00:00Z"])
    )
    rows = read(tmp_path, cards)
    assert [as_dict(c).get("birthday", "") for _, c in rows] == [
        "1985-04-12",
        "1985-04-12",
        "",
        "1985-04-12",
    ]


def test_start_skips_cards(tmp_path):
    text = "".join(
        f"BEGIN:VCARD\nVERSION:3.0\nN:N{i};F\nEMAIL:u{i}@example.com\nEND:VCARD\n"
        for i in range(10)
    )
    path = write(tmp_path, text)
    everything = list(iter_vcard_rows(path, "utf-8"))
    assert len(everything) == 10
    for k in (0, 3, 10):
        assert list(iter_vcard_rows(path, "utf-8", start=k)) == everything[k:]


def test_many_cards_with_photos_stream_with_flat_memory(tmp_path):
    path = write(tmp_path, "".join(photo_card(f"p{i}@example.com", 300) for i in range(300)))
    assert path.stat().st_size > 6_000_000
    info = sniff(path)
    assert 200 < info.total_estimate < 400
    tracemalloc.start()
    try:
        count = sum(1 for _, cells in iter_rows(path, info) if cells)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 300
    assert peak < 5 * 1024 * 1024
