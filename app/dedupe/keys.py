"""Normalising contact values and the blocking keys that make two contacts candidates.

Pure functions over plain values (no Flask, no database). A contact's match keys are
short strings; two contacts sharing one are compared by the matcher. Prefixes:

- ``e:`` the mailbox an address reaches (lower case, ``+tag`` and Gmail dots dropped);
- ``l:`` an email's local part without separators, for the same user name at another
  domain: only when the contact's names do not already give it (john.smith, jsmith77
  say no more than the names, and namesakes would share them);
- ``p:`` a phone number's E.164 digits;
- ``w:`` a LinkedIn profile handle;
- ``o:<org>:<name>|<initial>`` an organisation (the company name without its legal
  form, or a company email domain) with one name in full and the other's initial, both
  ways round: robust to a typo in either name, to swapped names and to nicknames;
Names alone never make a pair a suggestion (namesakes abound in a big base), so there
is no name-only key: ``name_key`` (the Soundex codes of both names, sorted so that
swapped names share it) only splits a big block into people whose names sound alike.

Bump ``KEYS_VERSION`` whenever the keys a contact gets change: the next scan rebuilds
them all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from app.contacts.search import fold

KEYS_VERSION = 2
MAX_KEY = 200

EVIDENCE_PREFIXES = ("e:", "l:", "o:", "p:", "w:")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


GENERIC_LOCALS = _word_set(
    """
    info contact contacts hello hi hey sales admin administrator office mail email team
    support help service services noreply donotreply no-reply do-not-reply postmaster
    webmaster billing accounts accounting invoice invoices finance hr jobs careers
    recrutement marketing press media news newsletter enquiries enquiry inquiries inquiry
    bonjour accueil commercial compta direction secretariat reception contactus
    orders order shop store booking bookings reservations hostmaster abuse security
    privacy legal dpo rgpd gdpr feedback community partners partner team office
    mail root test demo example user null none unknown
    """
)

FREE_MAIL = _word_set(
    """
    gmail.com googlemail.com yahoo.com yahoo.fr yahoo.co.uk yahoo.es yahoo.it yahoo.de
    ymail.com hotmail.com hotmail.fr hotmail.co.uk hotmail.es hotmail.it hotmail.de
    hotmail.se hotmail.no hotmail.dk live.com live.fr live.co.uk outlook.com outlook.fr
    msn.com icloud.com me.com mac.com aol.com aol.fr gmx.de gmx.net gmx.com gmx.fr web.de
    t-online.de freenet.de free.fr orange.fr wanadoo.fr laposte.net sfr.fr neuf.fr
    bbox.fr protonmail.com proton.me pm.me yandex.com yandex.ru mail.ru zoho.com
    fastmail.com hey.com tutanota.com wp.pl onet.pl o2.pl interia.pl libero.it virgilio.it
    tiscali.it alice.it telia.com online.no mail.dk btinternet.com sky.com
    virginmedia.com comcast.net verizon.net att.net sbcglobal.net posteo.de telefonica.net
    jubii.dk tele2.se bredband.net movistar.es terra.es tin.it fastwebnet.it seznam.cz
    bluewin.ch skynet.be telenet.be ziggo.nl kpnmail.nl xs4all.nl hotmail.be
    """
)

# Second-level public suffixes: the organisation is the label before them.
_SECOND_LEVEL = _word_set(
    """
    co.uk org.uk ac.uk gov.uk ltd.uk plc.uk me.uk com.au net.au org.au co.nz co.za co.jp
    co.kr co.in com.br com.mx com.ar com.cn com.tr com.sg com.hk gouv.fr asso.fr com.pl
    com.es co.il
    """
)

_COMPANY_FORMS = _word_set(
    """
    inc incorporated ltd limited llc llp lp plc corp corporation co company the group
    holding holdings gmbh ag kg mbh ug ev sa sas sasu sarl eurl sci snc scop sl slu srl
    spa snc sp zoo spk ab hb as asa aps a/s bv nv oy oyj kk pty pvt
    """
)

# A nickname or short form -> the canonical first names it stands for.
_NICKNAMES_SRC: dict[str, str] = {
    "robert": "bob bobby rob robbie robby bert",
    "william": "bill billy will willy willie liam",
    "catherine": "kate katie kathy cathy cat kat katherine kathryn catharine katharine"
    " cathryn caterina katy",
    "elizabeth": "liz lizzie lizzy beth betty bess bessie eliza elisabeth libby",
    "james": "jim jimmy jamie jimmie",
    "michael": "mike mikey mick mickey micky",
    "richard": "rick ricky rich richie dick",
    "thomas": "tom tommy thom",
    "christopher": "chris kit topher",
    "christine": "chris chrissy tina christina kristina kristine",
    "joseph": "joe joey",
    "josephine": "jo josie",
    "margaret": "maggie meg peggy marge margie greta",
    "patricia": "pat patty trish tricia",
    "patrick": "pat paddy",
    "jennifer": "jen jenny jenn",
    "jonathan": "jon jonny",
    "john": "jack johnny jon",
    "daniel": "dan danny",
    "danielle": "dani",
    "david": "dave davy",
    "edward": "ed eddie ted ned",
    "anthony": "tony",
    "antoine": "tony",
    "andrew": "andy drew",
    "alexander": "alex sandy xander",
    "alexandra": "alex lexi sasha",
    "alexandre": "alex",
    "benjamin": "ben benny benji",
    "charles": "charlie chuck chas",
    "nicholas": "nick nicky nico",
    "nicolas": "nico nick",
    "samuel": "sam sammy",
    "samantha": "sam sammie",
    "stephen": "steve stevie steven",
    "susan": "sue susie suzy",
    "deborah": "deb debbie debra",
    "rebecca": "becky becca",
    "victoria": "vicky vicki tori",
    "matthew": "matt matty",
    "timothy": "tim timmy",
    "gregory": "greg",
    "jeffrey": "jeff geoff geoffrey",
    "kenneth": "ken kenny",
    "ronald": "ron ronnie",
    "donald": "don donnie",
    "peter": "pete",
    "philip": "phil phillip pip",
    "frederick": "fred freddie freddy",
    "frederic": "fred",
    "abigail": "abby gail",
    "barbara": "barb babs",
    "dorothy": "dot dottie",
    "francis": "frank frankie",
    "frances": "fran frankie",
    "henry": "hank harry",
    "harold": "harry hal",
    "lawrence": "larry",
    "leonard": "len lenny leo",
    "nathaniel": "nate nat",
    "raymond": "ray",
    "theodore": "ted teddy theo",
    "valerie": "val",
    "zachary": "zach zack",
    "gabriel": "gabe",
    "gabrielle": "gaby gabby",
    "isabelle": "isa izzy isabel isabella",
    "jacqueline": "jackie",
    "katarzyna": "kasia",
    "aleksandra": "ola",
    "johannes": "hans",
    "jose": "pepe",
    "francisco": "paco pancho",
    "manuel": "manolo",
    "dominique": "dom",
    "maxime": "max",
    "maximilian": "max",
    "sebastien": "seb",
    "sebastian": "seb",
    "stephane": "steph",
    "stephanie": "steph",
    "jeanpierre": "jp",
    "jeanbaptiste": "jb",
    "jeanclaude": "jc",
    "jeanmichel": "jm",
    "jeanfrancois": "jf",
    "jeanluc": "jl",
    "mariefrance": "mf",
    "marieclaire": "mc",
    "annesophie": "as",
    "pierrealexandre": "pa",
}


def _nicknames() -> dict[str, tuple[str, ...]]:
    out: dict[str, set[str]] = {}
    for canonical, nicks in _NICKNAMES_SRC.items():
        out.setdefault(canonical, set()).add(canonical)
        for nick in nicks.split():
            out.setdefault(nick, set()).add(canonical)
    return {name: tuple(sorted(groups)) for name, groups in out.items()}


NICKNAMES: dict[str, tuple[str, ...]] = _nicknames()

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[0-9a-z]+")
_LINKEDIN = re.compile(r"linkedin\.com/(?:in|pub)/([^/?#\s]+)", re.I)


def _key(prefix: str, value: str) -> str:
    key = prefix + value
    if len(key) > MAX_KEY:
        key = prefix + "#" + hashlib.sha1(value.encode("utf-8")).hexdigest()
    return key


# ----------------------------------------------------------------- emails

_DROP_SEPARATORS = str.maketrans("", "", ".-_'")


class Email:
    """One address taken apart: the mailbox it reaches (``normalised``), its local part
    without separators across domains (``local``, None for a generic mailbox) and its
    domain."""

    __slots__ = ("domain", "local", "normalised")

    def __init__(self, normalised: str, local: str | None, domain: str):
        self.normalised = normalised
        self.local = local
        self.domain = domain


def parse_email(email: str | None) -> Email | None:
    """Lower case, ``+tag`` dropped, Gmail dots dropped; None when it is not an address."""
    if not email:
        return None
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return None
    if "+" in local:
        local = local.split("+", 1)[0]
    if domain == "gmail.com" or domain == "googlemail.com":
        domain = "gmail.com"
        local = local.replace(".", "")
    if not local:
        return None
    compact = None
    if local not in GENERIC_LOCALS:
        compact = local.translate(_DROP_SEPARATORS)
        if not compact.isascii():
            compact = _NON_ALNUM.sub("", fold(compact))
        elif not compact.isalnum():
            compact = _NON_ALNUM.sub("", compact)
        if len(compact) < 3 or compact.isdigit() or compact in GENERIC_LOCALS:
            compact = None
    return Email(f"{local}@{domain}", compact, domain)


def norm_email(email: str | None) -> str | None:
    """The mailbox an address reaches: lower case, ``+tag`` dropped, Gmail dots dropped
    ("John.Smith+news@GoogleMail.com" -> "johnsmith@gmail.com")."""
    parsed = parse_email(email)
    return parsed.normalised if parsed else None


def email_local(email: str | None) -> str | None:
    """The local part without separators ("jean-luc.picard+x@..." -> "jeanlucpicard"),
    None for a generic mailbox (info@, sales@, noreply@...) or a very short one."""
    parsed = parse_email(email)
    return parsed.local if parsed else None


def email_domain(email: str | None) -> str | None:
    parsed = parse_email(email)
    return parsed.domain if parsed else None


@lru_cache(maxsize=16384)
def domain_org(domain: str | None) -> str | None:
    """The organisation of a company email domain ("mail.acme.co.uk" -> "acme"), None for
    free mail providers."""
    if not domain or domain in FREE_MAIL:
        return None
    labels = [x for x in domain.lower().split(".") if x]
    if len(labels) < 2:
        return None
    if len(labels) >= 3 and ".".join(labels[-2:]) in _SECOND_LEVEL:
        label = labels[-3]
    else:
        label = labels[-2]
    label = _NON_ALNUM.sub("", label)
    return label if len(label) >= 2 else None


# ----------------------------------------------------------------- companies


@lru_cache(maxsize=16384)
def norm_company(name: str | None) -> str | None:
    """A company name without case, accents, punctuation and legal form
    ("ACME, Inc." -> "acme", "Société Générale SA" -> "societegenerale")."""
    if not name:
        return None
    words = _WORD.findall(fold(name).replace("&", " "))
    kept = [w for w in words if w not in _COMPANY_FORMS]
    out = "".join(kept or words)
    return out[:80] or None


# ----------------------------------------------------------------- phones


def norm_phone(value: str | None, region: str | None = None) -> str | None:
    """The E.164 digits of a phone number ("+33 6 12 34 56 78", "0033612345678" ->
    "33612345678"); a national number needs `region` (else its digits as they are)."""
    if not value:
        return None
    if value[0] == "+" and value[1:].isdigit() and len(value) > 7 and value[1] != "0":
        digits = value[1:]  # stored E.164: the usual case
        return digits if len(set(digits)) > 2 else None
    return _norm_phone(str(value), region)


@lru_cache(maxsize=16384)
def _norm_phone(value: str, region: str | None) -> str | None:
    text = value.strip()
    if text.startswith("+") and text[1:].isdigit():
        digits = text[1:]
    else:
        digits = "".join(c for c in text if c.isdigit())
        if text.lstrip().startswith("+"):
            pass
        elif digits.startswith("00"):
            digits = digits[2:]
        elif region:
            try:
                import phonenumbers

                parsed = phonenumbers.parse(text, region)
                digits = phonenumbers.format_number(
                    parsed, phonenumbers.PhoneNumberFormat.E164
                ).lstrip("+")
            except Exception:
                pass
    if len(digits) < 6 or len(set(digits)) <= 2 or (digits[0] == "0" and text.startswith("+")):
        return None
    return digits


# ----------------------------------------------------------------- names


@lru_cache(maxsize=16384)
def compact_name(value: str | None) -> str:
    """A name folded to a-z and digits only ("Jean-Pierre" -> "jeanpierre", "O'Brien" ->
    "obrien")."""
    if not value:
        return ""
    return _NON_ALNUM.sub("", fold(value).replace("ß", "ss"))


@lru_cache(maxsize=16384)
def first_groups(first: str | None) -> tuple[str, ...]:
    """The canonical forms of a first name: ("robert",) for Bob, Rob or Robert; a
    nickname for several names gives each ("chris" -> christine, christopher); a name
    not in the table stands for itself."""
    compact = compact_name(first)
    if not compact:
        return ()
    return NICKNAMES.get(compact, (compact,))


_SOUNDEX = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz", "01230120022455012623010202"
)  # a e h i o u w y -> 0 (h and w handled like vowels here)


@lru_cache(maxsize=16384)
def soundex(name: str) -> str:
    """A Soundex-like code of a compact name: first letter + three consonant digits."""
    if not name or not name[0].isalpha():
        return name[:4]
    codes = name.translate(_SOUNDEX)
    out = [name[0]]
    last = codes[0]
    for code in codes[1:]:
        if code.isdigit() and code != "0" and code != last:
            out.append(code)
            if len(out) == 4:
                break
        last = code if code.isdigit() else last
    return "".join(out).ljust(4, "0")


def linkedin_handle(url: str | None) -> str | None:
    if not url:
        return None
    match = _LINKEDIN.search(url)
    if not match:
        return None
    handle = match.group(1).strip().lower().rstrip("/")
    return handle or None


# ----------------------------------------------------------------- contacts


def emails_of(values: Mapping[str, Any]) -> list[str]:
    """The contact's addresses (primary first) as given."""
    email = values.get("email")
    more = values.get("secondary_emails")
    out = [email] if email else []
    if more:
        out.extend(e for e in more if e)
    return out


PHONE_FIELDS = ("phone", "mobile_phone", "home_phone")


def phones_of(values: Mapping[str, Any], region: str | None = None) -> set[str]:
    """The contact's phone numbers as E.164 digits."""
    out = set()
    for name in PHONE_FIELDS:
        phone = values.get(name)
        if phone:
            digits = norm_phone(phone, region)
            if digits:
                out.add(digits)
    for phone in values.get("secondary_phones") or ():
        digits = norm_phone(phone, region) if phone else None
        if digits:
            out.add(digits)
    return out


def orgs_of(values: Mapping[str, Any], emails: Iterable[Email] | None = None) -> set[str]:
    """The organisations a contact belongs to: its company and company email domains."""
    out = set()
    company = norm_company(values.get("company"))
    if company:
        out.add(company)
    if emails is None:
        emails = [e for e in map(parse_email, emails_of(values)) if e]
    for email in emails:
        org = domain_org(email.domain)
        if org:
            out.add(org)
    return out


def name_key(first: str, last: str) -> str:
    """A name's sound: the Soundex codes of two canonical names in sorted order (so
    swapped names share it); used to split big blocks, not stored."""
    a, b = sorted((soundex(first), soundex(last)))
    return f"n:{a}|{b}"


def locals_from_names(first: str, groups: Iterable[str], middle: str, last: str) -> frozenset:
    """Email local parts a person's (compact) names alone give: john, smith, johnsmith,
    smithjohn, jsmith, johns, smithj, johnmsmith, jmsmith."""
    out: set[str] = set()
    for f in {first, *groups}:
        if not f:
            continue
        out.add(f)
        if last:
            out.update((f + last, last + f, f[0] + last, f + last[0], last + f[0]))
            if middle:
                out.update((f + middle[0] + last, f[0] + middle[0] + last))
    if last:
        out.add(last)
    return frozenset(out)


def without_digits(local: str) -> str:
    """A local part without its trailing digits (john.smith77 -> johnsmith)."""
    return local.rstrip("0123456789") or local


def match_keys(values: Mapping[str, Any], region: str | None = None) -> set[str]:
    """All blocking keys of one contact (values as in matcher.score_pair)."""
    keys: set[str] = set()
    add = keys.add
    first_raw = values.get("first_name")
    last_raw = values.get("last_name")
    groups = first_groups(first_raw)
    last = compact_name(last_raw)
    named = None
    emails = []
    for raw in emails_of(values):
        email = parse_email(raw)
        if email is None:
            continue
        emails.append(email)
        add(_key("e:", email.normalised))
        if email.local:
            # a user name at other domains: only when the names do not already give it
            # (john.smith77 says no more than the names: it gets no key)
            if named is None:
                middle = compact_name(values.get("middle_name"))
                named = locals_from_names(compact_name(first_raw), groups, middle, last)
            if without_digits(email.local) not in named:
                add(_key("l:", email.local))
    for digits in phones_of(values, region):
        add("p:" + digits)
    url = values.get("linkedin_url")
    if url:
        handle = linkedin_handle(url)
        if handle:
            add(_key("w:", handle))
    if groups or last:
        orgs = orgs_of(values, emails)
        if orgs:
            # one name in full and the other's initial, both ways round: robust to a
            # typo in either name (after its first letter), to swapped names, nicknames
            if groups and last:
                firsts = {compact_name(first_raw), *groups}  # as written, and canonical
                tokens = [f"{f}|{last[0]}" for f in firsts]
                tokens += [f"{last}|{f[0]}" for f in firsts]
            else:
                tokens = [f"{t}|" for t in (*groups, last) if t]
            for org in orgs:
                for token in tokens:
                    add(_key("o:", f"{org}:{token}"))
    return keys
