"""How alike two contacts are: a score from 0 to 100 with the reasons behind it.

Pure functions over plain dicts of contact values (keys: id, email, secondary_emails,
first_name, middle_name, last_name, phone, mobile_phone, home_phone, secondary_phones,
company, job_title, city, country, linkedin_url); `contact_values` loads those dicts.

The score adds up evidence the way a person weighs it:

- the same mailbox (email with Gmail dots and ``+tags`` normalised) or the same
  LinkedIn profile is nearly proof (95-100) unless the first names disagree (a shared
  mailbox: 75);
- names count up to 50: Jaro-Winkler similarity of the first names (nicknames such as
  Bob/Robert, accents and case folded) and of the last names, in either order (swapped
  first/last), weighted 40/60: 95% or more gives 50, each name at most a typo apart
  (Damerau-Levenshtein) 45;
- the same phone number adds 40, the same company (its name without legal form, or a
  company email domain) 35, the same email local part at another domain 35 (10 when
  the local part is only made of the names, such as john.smith), the same city or job
  title 5 each;
- first or last names that clearly differ (more than a typo apart) cap the score at
  70, names less than 70% alike at 60: colleagues sharing a switchboard number, or
  relatives sharing a home phone, stay below the threshold.

`DEFAULT_THRESHOLD` (80) is where a pair becomes a suggestion: same name + same phone
(90), a typo or a nickname + the same company (80-85), the same mailbox (100). A name
alone, however close, scores at most `NAME_ONLY_MAX` (60).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from sqlalchemy import Connection, select

from app.dedupe import keys as K

DEFAULT_THRESHOLD = 80
NAME_ONLY_MAX = 60  # names + city + job title, without any shared identifier
MIN_THRESHOLD = NAME_ONLY_MAX + 1  # below, names alone would be suggestions: not offered

VALUE_FIELDS = (
    "id", "email", "secondary_emails", "first_name", "middle_name", "last_name", "phone",
    "mobile_phone", "home_phone", "secondary_phones", "company", "job_title", "city",
    "country", "linkedin_url",
)  # fmt: skip

W_PHONE = 40
W_COMPANY = 35
W_LOCAL = 35
W_LOCAL_FROM_NAMES = 10
W_CITY = 5
W_TITLE = 5
CAP_NAMES_DIFFER = 70
CAP_NAMES_FAR = 60

_jw = JaroWinkler.normalized_similarity
_dl = DamerauLevenshtein.distance


class Features:
    """What the matcher compares of one contact, computed once."""

    __slots__ = (
        "_name_keys",
        "_named",
        "city",
        "emails",
        "first",
        "first_raw",
        "groups",
        "gset",
        "id",
        "last",
        "last_gset",
        "linkedin",
        "locals",
        "middle",
        "orgs",
        "phones",
        "title",
    )

    def __init__(self, values: Mapping[str, Any], region: str | None = None):
        self.id = values.get("id")
        emails = [e for e in map(K.parse_email, K.emails_of(values)) if e]
        self.emails = {e.normalised for e in emails}
        self.locals = {e.local for e in emails if e.local}
        self.phones = K.phones_of(values, region)
        self.orgs = K.orgs_of(values, emails)
        url = values.get("linkedin_url")
        self.linkedin = K.linkedin_handle(url) if url else None
        self.first_raw = (values.get("first_name") or "").strip()
        self.first = K.compact_name(self.first_raw)
        self.groups = K.first_groups(self.first_raw)
        self.gset = frozenset(self.groups)
        last_raw = values.get("last_name")
        self.last = K.compact_name(last_raw)
        self.last_gset = frozenset(K.first_groups(last_raw))  # when names are swapped
        self.middle = K.compact_name(values.get("middle_name"))
        self._named: frozenset | None = None
        self._name_keys: frozenset | None = None
        city = values.get("city")
        self.city = city.strip().lower() if city else ""
        title = values.get("job_title")
        self.title = title.strip().lower() if title else ""

    @property
    def named_locals(self) -> frozenset:
        """Email local parts this contact's names alone give (computed when needed)."""
        if self._named is None:
            self._named = K.locals_from_names(self.first, self.groups, self.middle, self.last)
        return self._named

    @property
    def name_keys(self) -> frozenset:
        """The contact's Soundex name keys (keys.name_key), to split big blocks by."""
        if self._name_keys is None:
            self._name_keys = frozenset(
                K.name_key(f, other) for f in self.groups for other in self.last_gset
            )
        return self._name_keys


def features(values: Mapping[str, Any], region: str | None = None) -> Features:
    """The comparable form of a contact's values."""
    return Features(values, region)


# ----------------------------------------------------------------- names


# Letters that folding wrote as two ("Kjær" -> "kjaer"): one letter again, so that a
# typo on such a letter ("Kjbr") stays one edit.
_ONE_LETTER = (("ae", "æ"), ("oe", "œ"), ("ss", "ß"))


def _close(x: str, y: str) -> bool:
    """At most a typo apart: one edit (two for long names), or one starts with the other."""
    if x == y:
        return True
    lx, ly = len(x), len(y)
    shorter = lx if lx < ly else ly
    if shorter >= 4 and (x.startswith(y) or y.startswith(x)):
        return True
    allowed = 2 if shorter >= 8 else 1
    if abs(lx - ly) <= allowed and _dl(x, y, score_cutoff=allowed) <= allowed:
        return True
    cx, cy = x, y
    for pair, letter in _ONE_LETTER:
        cx, cy = cx.replace(pair, letter), cy.replace(pair, letter)
    if cx == x and cy == y:
        return False
    return abs(len(cx) - len(cy)) <= allowed and _dl(cx, cy, score_cutoff=allowed) <= allowed


def _first_sim(a: str, ga: frozenset, b: str, gb: frozenset) -> tuple[float, bool, bool]:
    """(similarity 0-1, compatible, nickname) of two compact first names and their
    canonical forms."""
    if a == b:
        return 1.0, True, False
    if ga & gb:
        return 1.0, True, True
    if len(a) == 1 or len(b) == 1:  # an initial: "J." against "John"
        ok = a[0] == b[0]
        return (0.85 if ok else 0.0), ok, False
    best, ok = _jw(a, b), _close(a, b)
    if len(ga) > 1 or len(gb) > 1 or a not in ga or b not in gb:
        for x in ga:
            for y in gb:
                best = max(best, _jw(x, y))
                ok = ok or _close(x, y)
    return best, ok, False


def _last_sim(a: str, b: str) -> tuple[float, bool]:
    """(similarity 0-1, compatible) of two compact last names."""
    if a == b:
        return 1.0, True
    shorter = min(len(a), len(b))
    if shorter >= 4 and (a.startswith(b) or b.startswith(a) or a.endswith(b) or b.endswith(a)):
        return 0.92, True  # a double-barrelled name and one of its halves
    return _jw(a, b), _close(a, b)


@dataclass
class NameMatch:
    percent: int | None  # None: a side has no name
    compatible: bool | None  # False: the names differ more than a typo
    first_ok: bool | None  # None: a first name is missing
    swapped: bool = False
    nickname: bool = False


_NO_NAMES = NameMatch(None, None, None)


def compare_names(a: Features, b: Features) -> NameMatch:
    """How alike the names of two contacts are, in the better of both orders."""
    af, al, bf, bl = a.first, a.last, b.first, b.last
    if not (af or al) or not (bf or bl):
        return _NO_NAMES
    if af and bf and al and bl:
        fs, fok, nick = _first_sim(af, a.gset, bf, b.gset)
        ls, lok = _last_sim(al, bl)
        ok, sim, swapped = fok and lok, 0.4 * fs + 0.6 * ls, False
        if (not ok or sim < 0.95) and af != al:  # maybe swapped: b's last name is a's first
            fs2, fok2, nick2 = _first_sim(af, a.gset, bl, b.last_gset)
            ls2, lok2 = _last_sim(al, bf)
            ok2, sim2 = fok2 and lok2, 0.4 * fs2 + 0.6 * ls2 - 0.01
            if (ok2, sim2) > (ok, sim):
                ok, sim, fok, swapped, nick = ok2, sim2, fok2, True, nick2
        first_ok = fok
    elif al and bl:
        ls, ok = _last_sim(al, bl)
        sim, first_ok, swapped, nick = 0.9 * ls, None, False, False
        other_first = af or bf
        if other_first:  # one has "Smith" only, the other maybe "Smith John"
            other_last = bl if af else al
            s2, ok2 = _last_sim(other_first, other_last)
            if (ok2, 0.85 * s2) > (ok, sim):
                ok, sim, swapped = ok2, 0.85 * s2, True
    elif af and bf:
        fs, ok, nick = _first_sim(af, a.gset, bf, b.gset)
        sim, first_ok, swapped = 0.85 * fs, ok, False
    else:  # one has only a first name, the other only a last name: maybe swapped
        s2, ok = _last_sim(af or al, bf or bl)
        sim, first_ok, swapped, nick = 0.8 * s2, None, True, False
    percent = max(0, min(100, round(sim * 100)))
    return NameMatch(percent, ok, first_ok, swapped and percent >= 70, nick and ok)


def _name_points(name: NameMatch) -> int:
    """Up to 50 points for names: the same (95%+) 50, each name at most a typo apart 45,
    else by similarity when only one name could be compared."""
    if name.percent is None:
        return 15
    if name.compatible is False:
        return 0
    p = name.percent
    if p >= 95:
        return 50
    if name.compatible and name.first_ok:
        return 45
    if p >= 88:
        return 45
    if p >= 80:
        return 35
    if p >= 70:
        return 20
    return 0


# ----------------------------------------------------------------- scoring


def score_features(a: Features, b: Features) -> tuple[int, list[dict]]:
    """Score and reasons of two contacts' features (see the module docstring)."""
    reasons: list[dict] = []
    name = compare_names(a, b)
    same_email = bool(a.emails & b.emails)
    same_linkedin = bool(a.linkedin and a.linkedin == b.linkedin)
    if same_email:
        reasons.append({"code": "same_email"})
    if same_linkedin:
        reasons.append({"code": "same_linkedin"})
    if name.percent is not None:
        if name.percent == 100 and not name.swapped and not name.nickname:
            reasons.append({"code": "same_name"})
        else:
            if name.nickname:
                reasons.append({"code": "nickname"})
            if name.swapped:
                reasons.append({"code": "names_swapped"})
            reasons.append({"code": "names_similar", "percent": name.percent})
    score = _name_points(name)
    if a.phones & b.phones:
        score += W_PHONE
        reasons.append({"code": "same_phone"})
    shared_locals = a.locals & b.locals
    if shared_locals and not same_email:
        named = all(
            x in a.named_locals or x in b.named_locals for x in map(K.without_digits, shared_locals)
        )
        score += W_LOCAL_FROM_NAMES if named else W_LOCAL
        reasons.append({"code": "same_email_local"})
    if a.orgs & b.orgs:
        score += W_COMPANY
        reasons.append({"code": "same_company"})
    if a.city and a.city == b.city:
        score += W_CITY
        reasons.append({"code": "same_city"})
    if a.title and a.title == b.title:
        score += W_TITLE
        reasons.append({"code": "same_job_title"})
    if name.percent is not None:
        if not name.compatible:
            score = min(score, CAP_NAMES_DIFFER)
        elif name.percent < 70:
            score = min(score, CAP_NAMES_FAR)
    if same_email or same_linkedin:
        if name.first_ok is False:
            identity = 75  # a shared mailbox, or relatives
        elif name.percent is None or (name.compatible and name.percent >= 80):
            identity = 100
        else:
            identity = 95  # same first name, another last name (a marriage)
        score = max(score, identity)
    return max(0, min(100, score)), reasons


def score_pair(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[int, list[dict]]:
    """Score (0-100) and reasons of two contacts given as plain dicts of values."""
    return score_features(Features(a), Features(b))


# ----------------------------------------------------------------- loading


def value_columns():
    """The columns `contact_values` selects, labelled as the value keys."""
    from app.companies.models import Company
    from app.contacts.models import Contact

    cols = [getattr(Contact, f).label(f) for f in VALUE_FIELDS if f != "company"]
    cols.append(Company.name.label("company"))
    return cols


def values_query():
    """SELECT of the value dicts' columns (add a WHERE)."""
    from app.companies.models import Company
    from app.contacts.models import Contact

    return (
        select(*value_columns())
        .select_from(Contact)
        .outerjoin(Company, Company.id == Contact.company_id)
    )


def one_of(session, column, values: list):
    """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter instead of
    thousands to send, parse and plan. `session`: a Session or a Connection."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, value=list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def contact_values(session, ids: Iterable[int]) -> dict[int, dict]:
    """{id: values} of these contacts (missing ids are left out)."""
    from app.contacts.models import Contact

    ids = sorted({int(i) for i in ids})
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for values in value_dicts(
            session, values_query().where(one_of(session, Contact.id, chunk))
        ):
            out[values["id"]] = values
    return out


def value_rows(session, query) -> tuple[tuple[str, ...], list[tuple]]:
    """The column names and rows (plain tuples) of a values_query(), run on the
    session's connection (no ORM result processing) or on a Connection."""
    conn = session if isinstance(session, Connection) else session.connection()
    result = conn.execute(query)
    return tuple(result.keys()), [tuple(row) for row in result]


def value_dicts(session, query) -> list[dict]:
    """The rows of a values_query() as plain dicts (faster to read than row mappings)."""
    names, rows = value_rows(session, query)
    return [dict(zip(names, row, strict=True)) for row in rows]


# ----------------------------------------------------------------- clusters


def clusters(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """{contact id: cluster id} for the contacts in `pairs`; the cluster id is the
    smallest contact id of its connected component."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb
    return {x: find(x) for x in list(parent)}
