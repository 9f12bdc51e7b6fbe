"""`kontor bench dedupe`: how fast and how right is the duplicate scan?

In a fresh temporary instance (its own SQLite file; and a temporary PostgreSQL
database too when DATABASE_URL names one) it:

1. generates N contacts quickly (its own generator: names from ten countries with a
   long tail of surnames, companies of every size with their domains and switchboard
   numbers, free-mail and company addresses, relatives sharing a home phone and a last
   name) with about 9% planted, labelled duplicates of every kind: a typo in a name, a
   nickname (Bob/Robert), swapped first and last names, accents dropped or added or
   the case changed, the same mailbox written differently (case, Gmail dots, +tag),
   the same phone in another format, another email with the same phone, and people
   with three records. A duplicate is what another source would hold of the person:
   another address, and some of the company, phone, city or title;
2. runs the scan job in-process (it builds the match keys, as on a database that
   never had any) and a second scan (keys current), and compares the pairs found at
   the default threshold with the labels: precision and recall, overall and per kind;
3. times the create-time check (`find_similar`) for a few hundred new contacts, half
   of them duplicates of existing ones (p50/p95 and how many of those it caught);
4. times an all-pairs rapidfuzz comparison of the names of a 20,000-contact sample
   and extrapolates it to N (N^2 / 20,000^2), the cost the blocking avoids.

Goals (a 2-core machine): 100k contacts scanned in <= 5 s, 1M in <= 60 s, precision
and recall >= 95%, the create-time check <= 10 ms at 1M. KONTOR_BENCH_KEEP=1 keeps the
SQLite instance.
"""

from __future__ import annotations

import bisect
import gc
import json
import os
import sqlite3
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

from app.benchmarks import fresh_app, migrate_quietly, postgres_database, sqlite_instance

GOALS = {"scan_seconds": {100_000: 5.0, 1_000_000: 60.0}, "precision": 0.95, "recall": 0.95}
CHECK_GOAL_MS = 10.0
DUP_SHARE = 0.08  # base people who get one more record
TRIPLE_SHARE = 0.01  # base people who get two more records
FAMILY_SHARE = 0.03  # base people with a relative sharing the last name and home phone
SAMPLE = 20_000
CHECKS = 400

KINDS = (
    "typo",
    "nickname",
    "swapped",
    "accents",
    "email_variant",
    "phone_format",
    "other_email_same_phone",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SYLLABLES = _words(
    "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no "
    "nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zo bra bre bri "
    "cla cle cri dra dre fra fre gra gre gri kra pra pre pri sta ste sti tra tre tri"
)
_ENDINGS = _words(
    "son sen man mann berg stein ez es ini elli ova ski ska ek ard ier ot and ley ton ford"
)
_TITLES = (
    "CEO", "CTO", "Sales Manager", "Account Executive", "Marketing Director", "Engineer",
    "Product Manager", "Buyer", "Office Manager", "Consultant", "Accountant", "Designer",
)  # fmt: skip
_TAGS = ("crm", "news", "promo", "work", "x")
_KEYBOARD = "abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- generating


class _Pick:
    """Weighted choice by bisect over cumulative weights."""

    def __init__(self, values: list[Any], weights: list[float]):
        self.values = values
        self.cum = []
        total = 0.0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, r: float) -> Any:
        return self.values[bisect.bisect_right(self.cum, r * self.total)]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _slug(text: str) -> str:
    out = _strip_accents(text).lower().replace("ß", "ss")
    return "".join(c for c in out if c.isalnum() or c == "-").strip("-") or "x"


@dataclass
class Person:
    pid: int
    country: Any
    first: str
    last: str
    company: int | None = None  # index into Dataset.companies
    email: str = ""
    mobile: str | None = None
    work: str | None = None
    home: str | None = None
    city: str | None = None
    title: str | None = None
    linkedin: str | None = None


@dataclass
class Dataset:
    companies: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    person: dict[int, int] = field(default_factory=dict)  # contact id -> person id
    kind: dict[int, str] = field(default_factory=dict)  # duplicate contact id -> its kind
    persons_with_dups: int = 0
    true_pairs: set[tuple[int, int]] = field(default_factory=set)


class Generator:
    """Deterministic contacts with planted duplicates (see the module docstring)."""

    def __init__(self, n: int, seed: int = 1):
        from app.dedupe.keys import NICKNAMES
        from app.seed import COUNTRIES

        self.rng = Random(seed)
        self.n = n
        self.countries = _Pick(list(COUNTRIES), [c.weight for c in COUNTRIES])
        self.nicknames: dict[str, list[str]] = {}
        for nick, canonicals in NICKNAMES.items():
            for canonical in canonicals:
                if nick != canonical:
                    self.nicknames.setdefault(canonical, []).append(nick)
        english = [name.title() for name in self.nicknames if len(name) > 3]
        r = Random(seed + 1)
        synthetic = set()
        while len(synthetic) < max(2000, n // 25):
            parts = [r.choice(_SYLLABLES) for _ in range(1 + r.randrange(2))]
            synthetic.add(("".join(parts) + r.choice(_ENDINGS)).title())
        self.synthetic = sorted(synthetic)
        r.shuffle(self.synthetic)
        # a long tail: the country's common names first, then rarer invented ones
        # rarer first names: those of the other countries, and invented ones
        everyone = sorted({x for c in COUNTRIES for x in (*c.female, *c.male)})
        invented = set()
        while len(invented) < 600:
            parts = [r.choice(_SYLLABLES) for _ in range(2)]
            invented.add(("".join(parts) + r.choice(("", "n", "a", "o", "e", "l"))).title())
        self.lasts = {}
        self.firsts = {}
        for c in COUNTRIES:
            names = list(c.last) + self.synthetic
            self.lasts[c.code] = _Pick(names, [1.0 / (i + 10) ** 0.9 for i in range(len(names))])
            pool = list(c.female) + list(c.male)
            if c.code in ("GB", "US"):
                pool += english
            r.shuffle(pool)
            tail = [x for x in everyone if x not in pool] + sorted(invented)
            r.shuffle(tail)
            pool += tail
            self.firsts[c.code] = _Pick(pool, [1.0 / (i + 10) ** 0.8 for i in range(len(pool))])
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()

    # ---- pieces

    def phone(self, spec: tuple[str, int]) -> str:
        r = self.rng.random
        prefix, digits = spec
        while True:
            if prefix == "+1":
                number = f"+1{212 + int(r() * 700)}{200 + int(r() * 800)}{int(r() * 10000):04d}"
            else:
                number = f"{prefix}{int(r() * 10**digits):0{digits}d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 2
        while email in self.used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.used_emails.add(email)
        return email

    def email_for(self, first: str, last: str, domain: str | None, country) -> str:
        r = self.rng.random
        f, la = _slug(first), _slug(last)
        shape = r()
        if domain is not None:
            local = (
                f"{f}.{la}" if shape < 0.55 else f"{f[0]}.{la}" if shape < 0.7 else
                f"{f}{la}" if shape < 0.8 else f"{f[0]}{la}" if shape < 0.9 else f
            )  # fmt: skip
        else:
            domain = country.mail[int(r() * len(country.mail))]
            local = (
                f"{f}.{la}" if shape < 0.35 else f"{f}.{la}{1 + int(r() * 99)}" if shape < 0.6
                else f"{f}{la}{1950 + int(r() * 55)}" if shape < 0.8 else f"{f[0]}{la}"
                if shape < 0.9 else f"{f[:3]}{la[:3]}{int(r() * 1000)}"
            )  # fmt: skip
        return self.unique_email(local, domain)

    def companies(self, count: int) -> list[dict[str, Any]]:
        r = self.rng.random
        out = []
        used = set()
        for i in range(count):
            c = self.countries(r())
            base = self.synthetic[int(r() * len(self.synthetic))]
            word = ("Systems", "Conseil", "Logistik", "Foods", "Labs", "Partners", "Bau")[
                int(r() * 7)
            ]
            name = f"{base} {word}"
            domain = f"{_slug(base)}{_slug(word)}.{c.tld}"
            n = 2
            while domain in used:
                domain = f"{_slug(base)}{_slug(word)}{n}.{c.tld}"
                n += 1
            used.add(domain)
            form = c.forms[int(r() * len(c.forms))]
            out.append(
                {
                    "id": i + 1,
                    "name": f"{name} {form}".strip(),
                    "domain": domain,
                    "country": c,
                    "switchboard": self.phone(c.landline),
                }
            )
        return out

    # ---- people

    def person(self, pid: int, companies: list[dict], pick_company: Callable) -> Person:
        r = self.rng.random
        c = self.countries(r())
        company = pick_company(r()) if companies and r() < 0.72 else None
        if company is not None and r() < 0.85:
            c = companies[company]["country"]
        p = Person(pid, c, self.firsts[c.code](r()), self.lasts[c.code](r()), company)
        domain = companies[company]["domain"] if company is not None else None
        p.email = self.email_for(p.first, p.last, domain, c)
        if r() < 0.55:
            p.mobile = self.phone(c.mobile)
        if company is not None:
            if r() < 0.35:
                p.work = companies[company]["switchboard"]
            elif r() < 0.2:
                p.work = self.phone(c.landline)
        if r() < 0.04:
            p.home = self.phone(c.landline)
        if r() < 0.8:
            p.city = c.cities[int(r() * len(c.cities))][0]
        if company is not None and r() < 0.8:
            p.title = _TITLES[int(r() * len(_TITLES))]
        if r() < 0.3:
            p.linkedin = f"https://www.linkedin.com/in/{_slug(p.first)}-{_slug(p.last)}-{int(r() * 16**6):06x}"
        return p

    def row(self, cid: int, p: Person, companies: list[dict], **over: Any) -> dict[str, Any]:
        company = over.pop("company", p.company)
        out = {
            "id": cid,
            "email": p.email,
            "first_name": p.first,
            "middle_name": None,
            "last_name": p.last,
            "secondary_emails": None,
            "phone": p.work,
            "mobile_phone": p.mobile,
            "home_phone": p.home,
            "secondary_phones": None,
            "company_id": companies[company]["id"] if company is not None else None,
            "job_title": p.title,
            "city": p.city,
            "country": p.country.code,
            "linkedin_url": p.linkedin,
        }
        out.update(over)
        return out

    # ---- variants

    def typo(self, name: str) -> str:
        r = self.rng.random
        if len(name) < 3:
            return name + _KEYBOARD[int(r() * 26)]
        i = 1 + int(r() * (len(name) - 1))  # people rarely get the first letter wrong
        op = r()
        letter = _KEYBOARD[int(r() * 26)]
        if op < 0.3:
            out = name[:i] + letter + name[i + 1 :]
        elif op < 0.55:
            out = name[:i] + name[i + 1 :]
        elif op < 0.8:
            out = name[:i] + letter + name[i:]
        else:
            i = min(i, len(name) - 2)
            out = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        return out if out.lower() != name.lower() else name + letter

    def accents(self, name: str) -> str:
        plain = _strip_accents(name)
        if plain != name:
            return plain if self.rng.random() < 0.8 else plain.upper()
        for a, b in (("e", "é"), ("a", "à"), ("o", "ö"), ("u", "ü"), ("i", "ï")):
            if a in name[1:]:
                return name[0] + name[1:].replace(a, b, 1)
        return name.upper()

    def email_variant(self, email: str) -> tuple[str, list[str] | None]:
        """(primary, secondary emails) of a record that holds the same mailbox."""
        r = self.rng.random
        local, _, domain = email.partition("@")
        shape = r()
        variants = []
        if domain == "gmail.com" and shape < 0.4:
            bare = local.replace(".", "")
            variants = [f"{bare[:k]}.{bare[k:]}" for k in range(1, len(bare))] + [bare]
        elif shape < 0.7:
            variants = [f"{local}+{tag}" for tag in _TAGS]
        for variant in variants:
            if variant != local and f"{variant}@{domain}" not in self.used_emails:
                return self.unique_email(variant, domain), None
        # another primary, the same address in another case among the other emails
        other = self.email_for(*self._names_of(local), None, self.countries(r()))
        return other, [email.upper()]

    def _names_of(self, local: str) -> tuple[str, str]:
        """Something to build another free-mail address from (its letters are enough)."""
        letters = "".join(c for c in local if c.isalpha()) or "x"
        return letters[: max(1, len(letters) // 2)], letters[len(letters) // 2 :] or "x"

    def phone_format(self, number: str) -> str:
        """The same number written another way: +33 6 12 34 56 78, 0033..., dashes."""
        r = self.rng.random
        digits = number[1:]
        cc = 1 if digits.startswith("1") else 2
        head, rest = digits[:cc], digits[cc:]
        groups = [rest[i : i + 2] for i in range(0, len(rest), 2)]
        shape = r()
        if shape < 0.4:
            return f"+{head} " + " ".join(groups)
        if shape < 0.7:
            return f"00{head} {rest}"
        return f"+{head}-" + "-".join(groups)

    def duplicate(self, cid: int, p: Person, kind: str, companies: list[dict]) -> dict:
        """Another record of person p: `kind` decides the variant, the rest is what
        another source holds (another address; some of company, phone, city, title)."""
        r = self.rng.random
        first, last = p.first, p.last
        if kind == "typo":
            if r() < 0.6:
                last = self.typo(last)
            else:
                first = self.typo(first)
        elif kind == "nickname":
            nicks = self.nicknames.get(_slug(first).replace("-", ""))
            first = nicks[int(r() * len(nicks))].title() if nicks else first
        elif kind == "swapped":
            first, last = last, first
        elif kind == "accents":
            if r() < 0.5:
                last = self.accents(last)
            else:
                first = self.accents(first)
        elif kind in ("phone_format", "other_email_same_phone") and r() < 0.2:
            nicks = self.nicknames.get(_slug(first).replace("-", ""))
            if nicks:
                first = nicks[0].title()
        company = p.company
        phone = {"phone": p.work, "mobile_phone": p.mobile, "home_phone": p.home}
        secondary_emails = secondary_phones = None
        links = []
        if kind == "email_variant":
            email, secondary_emails = self.email_variant(p.email)
            links.append("email")
        else:
            if kind in ("phone_format", "other_email_same_phone"):
                links.append("phone")
            else:
                options = []
                if company is not None:
                    options.append("company")
                if p.mobile or (p.work and p.work != companies[company]["switchboard"]):
                    options.append("phone")
                options.append("email")
                links.append(options[int(r() * len(options))])
                if "company" not in links and company is not None and r() < 0.3:
                    links.append("company")
                if "phone" not in links and p.mobile and r() < 0.3:
                    links.append("phone")
            if "email" in links:
                email, secondary_emails = self.email_variant(p.email)
            elif "company" in links and r() < 0.6:
                # another alias of the person at the company (never a numbered one)
                domain = companies[company]["domain"]
                f, la = _slug(first), _slug(last)
                for local in (f"{f[0]}.{la}", f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}", f"{la}.{f}"):
                    if f"{local}@{domain}" not in self.used_emails:
                        email = self.unique_email(local, domain)
                        break
                else:
                    email = self.email_for(first, last, None, p.country)
            else:
                email = self.email_for(first, last, None, p.country)
        if "company" not in links and kind != "email_variant":
            company = None
        if "phone" not in links:
            phone = {"phone": None, "mobile_phone": None, "home_phone": None}
            if company is not None and p.work and r() < 0.5:
                phone["phone"] = p.work  # the switchboard comes with the company
        elif kind == "phone_format":
            number = p.mobile or p.work or p.home
            if r() < 0.5:
                phone = {"phone": None, "mobile_phone": self.phone_format(number)}
            else:
                phone = {"phone": None, "mobile_phone": None}
                secondary_phones = [self.phone_format(number)]
        return self.row(
            cid,
            p,
            companies,
            email=email,
            secondary_emails=secondary_emails,
            first_name=first,
            last_name=last,
            company=company,
            secondary_phones=secondary_phones,
            city=p.city if r() < 0.5 else None,
            job_title=p.title if company is not None and r() < 0.4 else None,
            linkedin_url=None,
            **phone,
        )

    def _has_phone(self, p: Person, companies) -> bool:
        return bool(p.mobile or p.home or (p.work and p.company is not None))

    # ---- all of it

    def generate(self) -> Dataset:
        r = self.rng.random
        data = Dataset()
        n_base = max(10, int(self.n / (1 + DUP_SHARE + 2 * TRIPLE_SHARE + FAMILY_SHARE)))
        companies = self.companies(max(1, n_base // 15))
        data.companies = companies
        # company sizes: a few big ones, many small ones
        pick_company = _Pick(
            list(range(len(companies))), [1.0 / (i + 50) for i in range(len(companies))]
        )
        order = list(range(len(companies)))
        self.rng.shuffle(order)
        pick = lambda x: order[pick_company(x)]  # noqa: E731
        cid = 0
        pid = 0
        rows = data.contacts
        while len(rows) < self.n:
            pid += 1
            p = self.person(pid, companies, pick)
            cid += 1
            rows.append(self.row(cid, p, companies))
            data.person[cid] = pid
            records = [cid]
            x = r()
            extra = 2 if x < TRIPLE_SHARE else 1 if x < TRIPLE_SHARE + DUP_SHARE else 0
            for _ in range(extra):
                if len(rows) >= self.n:
                    break
                kind = KINDS[int(r() * len(KINDS))]
                if kind in ("phone_format", "other_email_same_phone") and not (
                    p.mobile or p.home or (p.work and p.work != companies[p.company]["switchboard"])
                    if p.company is not None
                    else p.mobile or p.home
                ):
                    kind = "email_variant"
                if kind == "nickname" and not self.nicknames.get(_slug(p.first).replace("-", "")):
                    kind = "typo"
                cid += 1
                rows.append(self.duplicate(cid, p, kind, companies))
                data.person[cid] = pid
                data.kind[cid] = kind
                records.append(cid)
            if len(records) > 1:
                data.persons_with_dups += 1
                for i, a in enumerate(records):
                    for b in records[i + 1 :]:
                        data.true_pairs.add((min(a, b), max(a, b)))
            if r() < FAMILY_SHARE and len(rows) < self.n:
                # a relative: the same last name and home phone, another first name
                pid += 1
                relative = Person(pid, p.country, self.firsts[p.country.code](r()), p.last)
                while relative.first == p.first:
                    relative.first = self.firsts[p.country.code](r())
                relative.email = self.email_for(relative.first, relative.last, None, p.country)
                relative.home = p.home or self.phone(p.country.landline)
                relative.city = p.city
                cid += 1
                rows.append(self.row(cid, relative, companies))
                rows[records[0] - 1]["home_phone"] = relative.home
                data.person[cid] = pid
        return data


def _company_name(companies: list[dict], company_id: int | None) -> str | None:
    return companies[company_id - 1]["name"] if company_id else None


# --------------------------------------------------------------------------- running


def run(contacts: int = 100_000, as_json: bool = False, **_: Any) -> dict[str, Any]:
    """Generate, scan, score against the labels, time the check and all-pairs; print the
    figures (JSON with as_json) and return them."""

    def say(message: str) -> None:
        if not as_json:
            print(message, file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "benchmark": "dedupe",
        "contacts": contacts,
        "goals": {
            "scan_seconds": _goal_seconds(contacts),
            "precision": GOALS["precision"],
            "recall": GOALS["recall"],
            "check_ms": CHECK_GOAL_MS,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        },
        "databases": {},
    }
    say(f"generating {contacts:,} contacts with planted duplicates ...")
    started = time.perf_counter()
    data = Generator(contacts, seed=1).generate()
    gc.freeze()  # the labelled data stays out of the garbage collector's scans
    result["generate_seconds"] = round(time.perf_counter() - started, 1)
    result["planted"] = {
        "people_with_duplicates": data.persons_with_dups,
        "duplicate_records": len(data.kind),
        "true_pairs": len(data.true_pairs),
        "by_kind": dict(sorted(Counter(data.kind.values()).items())),
    }
    result["all_pairs"] = _all_pairs(data, contacts, say)
    with sqlite_instance("dedupe") as (folder, uri):
        result["databases"]["sqlite"] = _measure(folder, uri, data, say)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        with postgres_database(url, "dedupe") as (folder, uri):
            result["databases"]["postgresql"] = _measure(folder, uri, data, say)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        print(_summary(result))
    return result


def _goal_seconds(n: int) -> float:
    """The scan goal at n contacts: 5 s per 100k up to 100k, then linear to 60 s at 1M."""
    if n <= 100_000:
        return 5.0
    return round(5.0 + (n - 100_000) * 55.0 / 900_000, 1)


def _load(data: Dataset, say: Callable[[str], None]) -> float:
    """Write the companies and contacts straight into the tables (no contact events, as a
    database that never had match keys); return the seconds it took."""
    from sqlalchemy import text

    from app.extensions import db

    started = time.perf_counter()
    conn = db.session.connection()
    pg = conn.dialect.name == "postgresql"
    now = "2026-01-01 00:00:00"
    companies = [
        (c["id"], c["name"], c["domain"], c["switchboard"], c["country"].code, now, now, 1)
        for c in data.companies
    ]
    company_cols = "id, name, domain, phone, country, created_at, updated_at, version"
    columns = (
        "id, email, first_name, middle_name, last_name, secondary_emails, phone, mobile_phone, "
        "home_phone, secondary_phones, company_id, job_title, city, country, linkedin_url, "
        "status, lead_score, consent_status, search_text, created_at, updated_at, version"
    )

    def contact_row(c: dict[str, Any]) -> tuple:
        return (
            c["id"], c["email"], c["first_name"], c["middle_name"], c["last_name"],
            json.dumps(c["secondary_emails"]) if c["secondary_emails"] else None,
            c["phone"], c["mobile_phone"], c["home_phone"],
            json.dumps(c["secondary_phones"]) if c["secondary_phones"] else None,
            c["company_id"], c["job_title"], c["city"], c["country"], c["linkedin_url"],
            "active", 0, "unknown", "", now, now, 1,
        )  # fmt: skip

    def write(table: str, cols: str, rows: list[tuple]) -> None:
        if pg:
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * (cols.count(",") + 1))
            conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    write("companies", company_cols, companies)
    chunk = 50_000
    for start in range(0, len(data.contacts), chunk):
        write("contacts", columns, [contact_row(c) for c in data.contacts[start : start + chunk]])
        say(f"  loaded {min(start + chunk, len(data.contacts)):,} contacts")
    if pg:
        for table in ("companies", "contacts"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )
    db.session.commit()
    if pg:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    return round(time.perf_counter() - started, 1)


def _scan() -> dict[str, Any]:
    from app.dedupe.scan import start_scan
    from app.extensions import db
    from app.jobs import runner
    from app.jobs.models import Job

    job = start_scan(None, via="bench", enqueue=False)
    started = time.perf_counter()
    status = runner.execute(job.id)
    seconds = round(time.perf_counter() - started, 2)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    if status != "done":
        raise RuntimeError(f"the scan ended {status}: {job.errors}")
    return {**(job.result or {}), "seconds": seconds}


def _quality(data: Dataset) -> dict[str, Any]:
    """Precision and recall of the open pairs against the planted labels."""
    from sqlalchemy import select

    from app.dedupe.matcher import clusters
    from app.dedupe.models import DuplicatePair
    from app.extensions import db

    found: dict[tuple[int, int], tuple[int, list]] = {}
    rows = db.session.execute(
        select(
            DuplicatePair.contact_a_id,
            DuplicatePair.contact_b_id,
            DuplicatePair.score,
            DuplicatePair.reasons,
        ).where(DuplicatePair.status == "open")
    )
    for a, b, score, reasons in rows:
        found[(a, b)] = (score, reasons)
    truth = data.true_pairs
    true_found = [p for p in found if p in truth]
    cluster_of = clusters(found)
    joined = [p for p in truth if p[0] in cluster_of and cluster_of[p[0]] == cluster_of.get(p[1])]

    def kind(pair: tuple[int, int]) -> str:
        a, b = pair
        if a in data.kind:  # two duplicate records of one person
            return "between_two_duplicates"
        return data.kind[b]

    by_kind: dict[str, list[int]] = {}
    for pair in truth:
        entry = by_kind.setdefault(kind(pair), [0, 0])
        entry[1] += 1
        if pair in found:
            entry[0] += 1
    false = [p for p in found if p not in truth]
    examples = []
    for a, b in false[:5]:
        va, vb = data.contacts[a - 1], data.contacts[b - 1]
        examples.append(
            {
                "a": [va["first_name"], va["last_name"], va["email"]],
                "b": [vb["first_name"], vb["last_name"], vb["email"]],
                "score": found[(a, b)][0],
                "reasons": [r["code"] for r in found[(a, b)][1]],
            }
        )
    return {
        "pairs_found": len(found),
        "true_pairs": len(truth),
        "precision": round(len(true_found) / max(1, len(found)), 4),
        "recall": round(len(true_found) / max(1, len(truth)), 4),
        "recall_in_clusters": round(len(joined) / max(1, len(truth)), 4),
        "recall_by_kind": {k: round(v[0] / v[1], 4) for k, v in sorted(by_kind.items())},
        "false_positives": len(false),
        "false_positive_examples": examples,
    }


def _checks(data: Dataset) -> dict[str, Any]:
    """Time find_similar for contacts being created: duplicates of existing people (their
    own record left out, as if it did not exist yet) and new people."""
    from app.dedupe.check import find_similar
    from app.extensions import db

    r = Random(7)
    dups = r.sample(sorted(data.kind), min(CHECKS // 2, len(data.kind)))
    others = r.sample(range(1, len(data.contacts) + 1), min(CHECKS // 2, len(data.contacts)))
    partners: dict[int, set[int]] = {}
    for a, b in data.true_pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    times = []
    caught = 0
    others = [c for c in others if c not in data.kind and c not in partners]
    for cid in [*dups, *others]:
        row = data.contacts[cid - 1]
        values = dict(row)
        values["company"] = _company_name(data.companies, row["company_id"])
        del values["id"]
        started = time.perf_counter()
        matches = find_similar(db.session, values, exclude_ids=[cid])
        times.append((time.perf_counter() - started) * 1000)
        if cid in data.kind and {m.contact_id for m in matches} & partners.get(cid, set()):
            caught += 1
        db.session.rollback()
    times.sort()
    return {
        "checks": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "max_ms": round(times[-1], 2),
        "duplicates_caught": round(caught / max(1, len(dups)), 4),
        "meets_goal": times[int(len(times) * 0.95) - 1] <= CHECK_GOAL_MS,
    }


def _all_pairs(data: Dataset, n: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Jaro-Winkler over every pair of full names of a 20,000-contact sample (rapidfuzz,
    in C), extrapolated to N: what comparing without blocking would cost."""
    from rapidfuzz import process
    from rapidfuzz.distance import JaroWinkler

    sample_size = min(SAMPLE, len(data.contacts))
    rows = Random(3).sample(data.contacts, sample_size)
    names = [f"{r['first_name']} {r['last_name']}".lower() for r in rows]
    say(f"all-pairs rapidfuzz on {sample_size:,} names ...")
    started = time.perf_counter()
    similar = 0
    for i in range(sample_size - 1):
        similar += len(
            process.extract(
                names[i],
                names[i + 1 :],
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=0.9,
                limit=None,
            )
        )
    seconds = time.perf_counter() - started
    pairs = sample_size * (sample_size - 1) // 2
    return {
        "sample": sample_size,
        "pairs": pairs,
        "seconds": round(seconds, 2),
        "names_90_percent_similar": similar,
        "extrapolated_seconds_at_n": round(seconds * (n * (n - 1) / 2) / max(1, pairs), 1),
    }


def _measure(folder: str, uri: str, data: Dataset, say: Callable[[str], None]) -> dict:
    from app.extensions import db

    app = fresh_app(folder, uri)
    with app.app_context():
        dialect = db.engine.dialect.name
        migrate_quietly()
        say(f"{dialect}: loading {len(data.contacts):,} contacts ...")
        out: dict[str, Any] = {"load_seconds": _load(data, say)}
        say(f"{dialect}: first scan (builds every match key) ...")
        first = _scan()
        out["first_scan"] = first
        say(f"{dialect}: first scan {first['seconds']} s, {first['pairs']:,} pairs; rescan ...")
        again = _scan()
        out["rescan"] = again
        say(f"{dialect}: rescan {again['seconds']} s; precision and recall ...")
        out["quality"] = _quality(data)
        say(f"{dialect}: create-time checks ...")
        out["check"] = _checks(data)
        goal = _goal_seconds(len(data.contacts))
        q = out["quality"]
        out["meets_goals"] = {
            "first_scan_seconds": first["seconds"] <= goal,
            "rescan_seconds": again["seconds"] <= goal,
            "precision": q["precision"] >= GOALS["precision"],
            "recall": q["recall"] >= GOALS["recall"],
            "check_ms": out["check"]["meets_goal"],
        }
        db.session.remove()
        db.engine.dispose()
    return out


def _summary(result: dict[str, Any]) -> str:
    p = result["planted"]
    lines = [
        f"Duplicate scan on {result['contacts']:,} contacts ({p['duplicate_records']:,} planted "
        f"duplicate records, {p['true_pairs']:,} true pairs); goals: scan <= "
        f"{result['goals']['scan_seconds']} s, precision and recall >= 95%, check <= "
        f"{CHECK_GOAL_MS} ms.",
    ]
    ap = result["all_pairs"]
    lines.append(
        f"  all-pairs rapidfuzz: {ap['sample']:,} names in {ap['seconds']} s -> about "
        f"{ap['extrapolated_seconds_at_n']:,} s at {result['contacts']:,}"
    )
    for database, f in result["databases"].items():
        q, c = f["quality"], f["check"]
        lines.append(
            f"  {database}: load {f['load_seconds']} s; first scan {f['first_scan']['seconds']} s "
            f"(keys built), rescan {f['rescan']['seconds']} s; {q['pairs_found']:,} pairs, "
            f"precision {q['precision']:.1%}, recall {q['recall']:.1%} "
            f"({q['recall_in_clusters']:.1%} within clusters); check p50 {c['p50_ms']} ms, "
            f"p95 {c['p95_ms']} ms"
        )
        lines.append(f"    recall by kind: {q['recall_by_kind']}")
    return "\n".join(lines)
