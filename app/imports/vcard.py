"""Read vCard files (2.1, 3.0, 4.0) card by card into rows of Kontor fields (pure).

The file is split on BEGIN:VCARD / END:VCARD lines here, so a 1 GB file is never
loaded; each card's text goes to vobject. Photos, logos, sounds and keys are dropped
before parsing (they can be megabytes of base64). A card vobject cannot read is
yielded as (n, []): the caller reports "this vCard could not be read" for row n.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import vobject

VCARD_HEADERS: list[str] = [
    "email",
    "secondary_emails",
    "first_name",
    "middle_name",
    "last_name",
    "phone",
    "mobile_phone",
    "home_phone",
    "secondary_phones",
    "company",
    "department",
    "job_title",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "country",
    "birthday",
    "linkedin_url",
    "twitter",
    "tags",
    "note",
]

_BINARY_PROPS = {"PHOTO", "LOGO", "SOUND", "KEY"}
_PROP_NAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)[;:]")
# Google's system groups, exported as CATEGORIES on every card.
_SKIP_CATEGORIES = {"mycontacts", "starred"}
_TWITTER_URL = re.compile(r"(?:twitter|x)\.com/(?:#!/)?@?([A-Za-z0-9_]{1,30})", re.I)


# ---------------------------------------------------------------- splitting


def _split_cards(lines: Iterable[str]) -> Iterator[list[str] | None]:
    """Yield each card's lines (binary properties dropped); None for an unterminated card."""
    card: list[str] | None = None
    depth = 0
    skipping = False
    last_prop = ""
    for line in lines:
        key = line.strip().upper()
        if card is None:
            if key == "BEGIN:VCARD":
                card, depth, skipping, last_prop = [line], 1, False, ""
            continue
        if skipping:
            if line[:1] in (" ", "\t") or not key or ":" not in line:
                continue
            skipping = False
        if key == "BEGIN:VCARD":
            if last_prop == "AGENT":
                depth += 1  # vCard 2.1 nested AGENT card: part of this card
            else:
                yield None  # the previous card never ended
                card, depth, last_prop = [line], 1, ""
                continue
        elif key == "END:VCARD":
            depth -= 1
            if depth == 0:
                card.append(line)
                yield card
                card = None
                continue
        if line[:1] not in (" ", "\t"):
            m = _PROP_NAME.match(line)
            if m:
                last_prop = m.group(1).upper()
                if m.group(1).upper() in _BINARY_PROPS and depth == 1:
                    skipping = True
                    continue
        card.append(line)
    if card is not None:
        yield None


# ---------------------------------------------------------------- parsing


def _types(prop) -> set[str]:
    out: set[str] = set()
    for value in prop.params.get("TYPE", []):
        out.update(v.strip().strip('"').lower() for v in value.split(",") if v.strip())
    out.update(p.lower() for p in getattr(prop, "singletonparams", []))
    return out


def _rank(prop) -> int:
    """Lower is preferred: 4.0 PREF=n; 3.0 TYPE=pref and 2.1 bare PREF count as 1."""
    pref = prop.params.get("PREF")
    if pref:
        try:
            return int(pref[0])
        except ValueError:
            pass
    return 1 if "pref" in _types(prop) else 100


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


def _props(card, name: str) -> list:
    return [c for c in card.getChildren() if c.name.upper() == name]


def _birthday(prop) -> str:
    value = _text(prop.value)
    m = re.match(r"^(\d{4})-?(\d{2})-?(\d{2})", value)
    if not m:
        return "" if value.startswith("--") else value
    year, month, day = m.groups()
    omit = prop.params.get("X-APPLE-OMIT-YEAR", [""])[0]
    if omit and omit == year:
        return ""
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return value


def _handle(value: str) -> str:
    value = value.strip()
    m = _TWITTER_URL.search(value)
    if m:
        return "@" + m.group(1)
    value = re.sub(r"^(x-apple|twitter|x):", "", value, flags=re.I).strip().lstrip("@")
    return "@" + value if value else ""


def _split_name(full: str) -> tuple[str, str]:
    words = full.split()
    if not words:
        return "", ""
    return words[0], " ".join(words[1:])


def card_to_cells(card) -> list[str]:
    """Map one vobject vCard to cells in VCARD_HEADERS order."""
    row = dict.fromkeys(VCARD_HEADERS, "")

    emails = sorted((p for p in _props(card, "EMAIL") if _text(p.value)), key=_rank)
    addresses = list(dict.fromkeys(_text(p.value) for p in emails))
    if addresses:
        row["email"] = addresses[0]
        row["secondary_emails"] = ", ".join(addresses[1:])

    others: list[str] = []
    for prop in sorted(_props(card, "TEL"), key=_rank):
        number = re.sub(r"^tel:", "", _text(prop.value), flags=re.I).strip()
        if not number:
            continue
        types = _types(prop)
        if types & {"cell", "mobile", "iphone"}:
            slot = "mobile_phone"
        elif "fax" in types:
            slot = ""
        elif "work" in types:
            slot = "phone"
        elif "home" in types:
            slot = "home_phone"
        else:
            slot = ""
        if slot and not row[slot]:
            row[slot] = number
        elif number not in others:
            others.append(number)
    row["secondary_phones"] = ", ".join(others)

    names = _props(card, "N")
    n = names[0].value if names else None
    if n is not None and any(_text(getattr(n, a, "")) for a in ("given", "family")):
        row["first_name"] = _text(n.given)
        row["middle_name"] = _text(n.additional)
        row["last_name"] = _text(n.family)
    else:
        full = next((_text(p.value) for p in _props(card, "FN")), "")
        org = next((_text(p.value) for p in _props(card, "ORG")), "")
        if full and "@" not in full and full != org:
            row["first_name"], row["last_name"] = _split_name(full)

    orgs = _props(card, "ORG")
    if orgs:
        parts = orgs[0].value if isinstance(orgs[0].value, list) else [orgs[0].value]
        parts = [str(p).strip() for p in parts]
        row["company"] = parts[0] if parts else ""
        row["department"] = parts[1] if len(parts) > 1 else ""
    titles = _props(card, "TITLE")
    if titles:
        row["job_title"] = _text(titles[0].value)

    adrs = _props(card, "ADR")
    if adrs:
        adr = next((a for a in adrs if "work" in _types(a)), adrs[0]).value
        street_lines = [s.strip() for s in _text(adr.street).splitlines() if s.strip()]
        extra = [_text(adr.extended), _text(adr.box)]
        row["address_line1"] = street_lines[0] if street_lines else ""
        row["address_line2"] = ", ".join(s for s in street_lines[1:] + extra if s)
        if not row["address_line1"] and row["address_line2"]:
            row["address_line1"], row["address_line2"] = row["address_line2"], ""
        row["city"] = _text(adr.city)
        row["state"] = _text(adr.region)
        row["postcode"] = _text(adr.code)
        row["country"] = _text(adr.country)

    bdays = _props(card, "BDAY")
    if bdays:
        row["birthday"] = _birthday(bdays[0])

    for prop in _props(card, "URL") + _props(card, "X-SOCIALPROFILE"):
        value, types = _text(prop.value), _types(prop)
        if not row["linkedin_url"] and ("linkedin" in value.lower() or "linkedin" in types):
            row["linkedin_url"] = value
        elif not row["twitter"] and (
            "twitter" in types or "x" in types or _TWITTER_URL.search(value)
        ):
            row["twitter"] = _handle(value)
    for prop in _props(card, "IMPP") + _props(card, "X-TWITTER"):
        service = " ".join(prop.params.get("X-SERVICE-TYPE", [])).lower()
        value = _text(prop.value)
        if not row["twitter"] and (
            prop.name.upper() == "X-TWITTER" or "twitter" in service or value.startswith("twitter:")
        ):
            row["twitter"] = _handle(value)

    tags: list[str] = []
    for prop in _props(card, "CATEGORIES"):
        values = prop.value if isinstance(prop.value, list) else str(prop.value).split(",")
        tags.extend(
            t.strip() for t in values if t.strip() and t.strip().casefold() not in _SKIP_CATEGORIES
        )
    row["tags"] = ", ".join(dict.fromkeys(tags))

    notes = _props(card, "NOTE")
    if notes:
        row["note"] = _text(notes[0].value)
    return [row[h] for h in VCARD_HEADERS]


def _parse(text: str):
    try:
        return vobject.readOne(text, allowQP=True)
    except Exception:
        if "quoted-printable" not in text.lower():
            raise
    # 2.1 quoted-printable without CHARSET whose bytes are not UTF-8: read them as cp1252.
    fixed = re.sub(
        r"^([^:\r\n]*;ENCODING=QUOTED-PRINTABLE)(?![^:\r\n]*CHARSET)",
        r"\1;CHARSET=cp1252",
        text,
        flags=re.I | re.M,
    )
    return vobject.readOne(fixed, allowQP=True)


def parse_card(text: str) -> list[str]:
    """Cells for one card's text; [] when the card cannot be read."""
    try:
        return card_to_cells(_parse(text))
    except Exception:  # a broken card must not stop the file
        return []


def iter_vcard_rows(
    path: str | Path, encoding: str, start: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """Stream (card_number, cells) for each card from card start+1; cells == [] if unreadable.

    Every card counts in the numbering, readable or not.
    """
    with open(path, encoding=encoding, errors="replace") as f:
        lines = (line.replace("\x00", "") for line in f)
        for number, card in enumerate(_split_cards(lines), start=1):
            if number <= start:
                continue
            yield number, (parse_card("".join(card)) if card is not None else [])
