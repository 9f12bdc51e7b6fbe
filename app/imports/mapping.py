"""Map a file's columns to contact fields: the choices, a suggestion, a check (pure).

`suggest` matches headers exactly first (after normalising case, accents, spaces and
punctuation) against Kontor's field names and labels (English and French) and the
headers written by Google Contacts, Outlook, HubSpot, Mailchimp, LinkedIn and French
spreadsheets; then, for the rest, it tolerates typos and extra words, never a weak
resemblance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from app.contacts.fields import EDITABLE, GROUPS
from app.i18n import N_, Message

CustomFieldDef = tuple[str, str, str]  # (name, label, type)

TAGS_LISTS_GROUP = N_("Lists & tags")
CUSTOM_GROUP = N_("Custom fields")
MULTI = {"email": "secondary_emails", "phone": "secondary_phones"}
MULTI["mobile_phone"] = MULTI["home_phone"] = "secondary_phones"

NO_EMAIL = N_("Map a column to Email: contacts are matched by email.")
UNKNOWN_TARGET = N_("Unknown field “%(target)s”: choose another one.")
USED_TWICE = N_("%(field)s is already used by column “%(column)s”.")
NEW_FIELD_NAME = N_("Give the new custom field a name.")
NO_SUCH_COLUMN = N_("There is no such column in the file.")


@dataclass(frozen=True)
class Target:
    """One thing a column can be mapped to."""

    key: str  # field name, "tags", "lists" or "custom.<name>"
    label: str
    group: str


def targets(custom_fields: Sequence[CustomFieldDef]) -> list[Target]:
    """Every editable contact field, tags, lists, then one target per custom field."""
    out = [Target(f.name, f.label, GROUPS.get(f.group, f.group)) for f in EDITABLE]
    out.append(Target("tags", N_("Tags"), TAGS_LISTS_GROUP))
    out.append(Target("lists", N_("Lists"), TAGS_LISTS_GROUP))
    out.extend(Target(f"custom.{name}", label, CUSTOM_GROUP) for name, label, _ in custom_fields)
    return out


# ---------------------------------------------------------------- normalising


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\be[\s_.-]*mail", "email", text)


def norm(text: str) -> str:
    """'E-mail Address' -> 'emailaddress'; 'Prénom' -> 'prenom'."""
    return re.sub(r"[^0-9a-z]", "", _fold(text))


def _tokens(text: str) -> list[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))  # FirstName -> First Name
    return [t for t in re.split(r"[^0-9a-z]+", _fold(text)) if t]


# ---------------------------------------------------------------- synonyms

# Strong synonyms: an exact (normalised) match wins over everything but a custom field.
_STRONG: dict[str, tuple[str, ...]] = {
    "email": (
        "Email",
        "E-mail",
        "Email Address",
        "E-mail Address",
        "Mail",
        "Email 1",
        "Primary Email",
        "E-mail 1 - Value",
        "EMAIL",
        "Courriel",
        "Adresse e-mail",
        "Adresse électronique",
        "Adresse mail",
        "Adresse courriel",
        "Mél",
    ),
    "secondary_emails": (
        "Other emails",
        "Secondary Email",
        "Other Email",
        "Alternate Email",
        "Additional Email",
        "Email 2",
        "E-mail 2 Address",
        "E-mail 2 - Value",
        "E-mail 3 Address",
        "Email 3",
        "Autres e-mails",
        "Autre e-mail",
        "E-mail secondaire",
    ),
    "first_name": (
        "First Name",
        "Firstname",
        "Given Name",
        "Forename",
        "FNAME",
        "Prénom",
    ),
    "middle_name": (
        "Middle Name",
        "Additional Name",
        "Middle Initial",
        "Deuxième prénom",
        "Second prénom",
        "Autres prénoms",
    ),
    "last_name": (
        "Last Name",
        "Lastname",
        "Family Name",
        "Surname",
        "LNAME",
        "Nom",
        "Nom de famille",
    ),
    "phone": (
        "Phone",
        "Phone Number",
        "Telephone",
        "Work Phone",
        "Business Phone",
        "Office Phone",
        "Phone 1 - Value",
        "Téléphone",
        "Tél",
        "Téléphone fixe",
        "Téléphone professionnel",
        "Tél pro",
        "Téléphone bureau",
    ),
    "mobile_phone": (
        "Mobile",
        "Mobile Phone",
        "Mobile Phone Number",
        "Cell",
        "Cell Phone",
        "Cellphone",
        "Portable",
        "Téléphone portable",
        "Téléphone mobile",
        "Tél portable",
        "GSM",
    ),
    "home_phone": (
        "Home Phone",
        "Personal Phone",
        "Téléphone domicile",
        "Téléphone personnel",
        "Tél domicile",
    ),
    "secondary_phones": (
        "Other phones",
        "Other Phone",
        "Phone 2",
        "Phone 2 - Value",
        "Phone 3 - Value",
        "Business Phone 2",
        "Home Phone 2",
        "Autres téléphones",
        "Autre téléphone",
    ),
    "company": (
        "Company",
        "Company Name",
        "Organization",
        "Organisation",
        "Organization Name",
        "Organization 1 - Name",
        "Account Name",
        "Employer",
        "Société",
        "Entreprise",
        "Nom de l'entreprise",
        "Nom de la société",
        "Raison sociale",
        "Organisme",
    ),
    "job_title": (
        "Job Title",
        "Position",
        "Organization 1 - Title",
        "Organization Title",
        "Job",
        "Poste",
        "Fonction",
        "Intitulé du poste",
    ),
    "department": (
        "Department",
        "Organization 1 - Department",
        "Organization Department",
        "Service",
    ),
    "address_line1": (
        "Address",
        "Street",
        "Street Address",
        "Address Line 1",
        "Address 1",
        "Address1",
        "Business Street",
        "Address 1 - Street",
        "Adresse",
        "Adresse 1",
        "Adresse ligne 1",
        "Rue",
    ),
    "address_line2": (
        "Address Line 2",
        "Address 2",
        "Address2",
        "Business Street 2",
        "Address 1 - Extended Address",
        "Adresse 2",
        "Adresse ligne 2",
        "Complément d'adresse",
    ),
    "city": ("City", "Town", "Business City", "Address 1 - City", "Ville", "Commune", "Localité"),
    "state": (
        "State",
        "Province",
        "Region",
        "State/Province",
        "State/Region",
        "County",
        "Business State",
        "Address 1 - Region",
        "REGION",
        "Région",
        "État",
    ),
    "postcode": (
        "Postcode",
        "Post Code",
        "Postal Code",
        "Zip",
        "Zip Code",
        "ZIP/Postal Code",
        "Business Postal Code",
        "Address 1 - Postal Code",
        "Code postal",
        "CP",
    ),
    "country": (
        "Country",
        "Country/Region",
        "Country Code",
        "Business Country/Region",
        "Address 1 - Country",
        "Pays",
        "Code pays",
    ),
    "mailing_line1": ("Mailing Street", "Adresse postale"),
    "mailing_state": ("Mailing State/Province",),
    "mailing_postcode": ("Mailing Zip/Postal Code", "Mailing Zip"),
    "birthday": (
        "Birthday",
        "Birthdate",
        "Birth Date",
        "Date of Birth",
        "DOB",
        "Date de naissance",
        "Anniversaire",
    ),
    "linkedin_url": ("LinkedIn", "LinkedIn URL", "LinkedIn Profile", "Profil LinkedIn"),
    "twitter": ("Twitter", "Twitter Handle", "Twitter Username", "Twitter / X", "X"),
    "tags": ("Tags", "Tag", "Categories", "Étiquettes", "Étiquette", "Mots-clés", "TAGS"),
    "lists": ("Lists", "List", "Listes", "Liste", "Mailing lists"),
    "source": ("Source", "Lead Source", "Original Source", "Origine", "Provenance"),
    "status": ("Status", "Statut", "Contact Status"),
    "lead_score": ("Lead score", "Score"),
    "owner": ("Owner", "Owner Email", "Propriétaire"),
    "timezone": ("Time zone", "Timezone", "TIMEZONE", "Fuseau horaire"),
    "language": ("Language", "Langue"),
    "consent_status": ("Consent", "Consent Status", "Consentement"),
    "consent_date": (
        "Consent date",
        "OPTIN_TIME",
        "Opt-in Date",
        "Optin Date",
        "Date du consentement",
        "Date de consentement",
    ),
    "gdpr_basis": ("GDPR basis", "Lawful basis", "Legal basis", "Base légale", "Base légale RGPD"),
}
# Weak synonyms: used only when no stronger column claims the same field.
_WEAK: dict[str, tuple[str, ...]] = {
    "email": ("Work Email", "Business Email", "Personal Email", "Home Email", "Gmail"),
    "job_title": ("Title", "Titre", "Job Description"),
    "linkedin_url": ("URL", "Profile URL"),
    "country": ("CC",),
    "phone": ("Primary Phone", "Company Main Phone", "Main Phone"),
}
# French labels of the standard fields (the app's own translations, hard-coded so
# matching does not depend on Babel at run time).
_FRENCH_LABELS: dict[str, str] = {
    "email": "E-mail", "first_name": "Prénom", "middle_name": "Deuxième prénom",
    "last_name": "Nom", "secondary_emails": "Autres e-mails",
    "phone": "Téléphone professionnel", "mobile_phone": "Téléphone mobile",
    "home_phone": "Téléphone personnel", "secondary_phones": "Autres téléphones",
    "status": "Statut", "lifecycle": "Cycle de vie", "lead_score": "Score",
    "source": "Source", "owner": "Propriétaire", "birthday": "Date de naissance",
    "timezone": "Fuseau horaire", "language": "Langue", "external_id": "Identifiant externe",
    "email_verification": "Vérification de l'e-mail", "company": "Entreprise",
    "job_title": "Poste", "department": "Service", "role": "Rôle",
    "reports_to": "Supérieur hiérarchique", "referred_by": "Recommandé par",
    "address_line1": "Adresse", "address_line2": "Complément d'adresse", "city": "Ville",
    "state": "État / région", "postcode": "Code postal", "country": "Pays",
    "mailing_line1": "Adresse postale", "mailing_line2": "Complément d'adresse postale",
    "mailing_city": "Ville (adresse postale)", "mailing_state": "État / région (adresse postale)",
    "mailing_postcode": "Code postal (adresse postale)",
    "mailing_country": "Pays (adresse postale)", "linkedin_url": "LinkedIn",
    "twitter": "Twitter / X", "consent_status": "Consentement",
    "consent_type": "Type de consentement", "consent_date": "Date du consentement",
    "consent_source": "Source du consentement", "gdpr_basis": "Base légale RGPD",
    "comm_channel": "Canal préféré", "comm_frequency": "Fréquence", "comm_topics": "Sujets",
}  # fmt: skip
# Headers that look like a field but hold something else: never mapped automatically.
_IGNORE = {
    norm(h)
    for h in (
        "Notes", "Note", "Comments", "Commentaire", "Commentaires", "Remarques",
        "Connected On", "Create Date", "Created", "Created At", "Date de création",
        "MEMBER_RATING", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE",
        "GMTOFF", "DSTOFF", "LAST_CHANGED", "LEID", "EUID", "NOTES",
        "Lifecycle Stage", "Lead Status", "Contact owner", "Record ID", "ID",
        "Name", "Full Name", "Display Name", "Nom complet", "Civilité", "Salutation",
        "Name Prefix", "Name Suffix", "Nickname", "File As", "Phonetic First Name",
        "Phonetic Middle Name", "Phonetic Last Name", "Photo", "Labels", "Group Membership",
        "Website", "Web Page", "Site web", "Email Domain", "Company Domain Name", "Fax",
        "Business Fax", "Home Fax", "Gender", "Sexe", "Last Activity Date", "Email Opt Out",
        "Initials", "Business Street 3", "Home Street 3", "Other Street 3",
        "Last Modified Date", "Modified", "Updated", "Updated At", "Marketing contact status",
    )
}  # fmt: skip
# A Google Contacts header: "E-mail 2 - Value", "Address 1 - City"...
_GOOGLE = re.compile(r"^([a-z ]+?)\s*(\d+)\s+-\s+(.+)$")
# Extra words that change what a column is about ("Phone Type", "Email Domain").
_STOP_TOKENS = {
    "type", "label", "labels", "domain", "id", "status", "date", "time", "opt", "out",
    "formatted", "yomi", "phonetic", "count", "verified", "kind", "format", "ip",
}  # fmt: skip
# Contact references take an email: only Kontor's own field names map to them.
_NAME_ONLY = {"reports_to", "referred_by"}


def _synonyms() -> dict[str, tuple[str, int]]:
    """normalised header -> (target, tier); tier 0 strong, 1 weak."""
    table: dict[str, tuple[str, int]] = {}

    def add(text: str, target: str, tier: int) -> None:
        table.setdefault(norm(text), (target, tier))

    for spec in EDITABLE:
        if spec.name not in _NAME_ONLY:
            add(spec.name, spec.name, 0)
    add("tags", "tags", 0)
    add("lists", "lists", 0)
    for target, names in _STRONG.items():
        for text in names:
            add(text, target, 0)
    for spec in EDITABLE:
        if spec.name not in _NAME_ONLY:
            add(spec.label, spec.name, 0)
            if spec.name in _FRENCH_LABELS:
                add(_FRENCH_LABELS[spec.name], spec.name, 0)
    for target, names in _WEAK.items():
        for text in names:
            add(text, target, 1)
    return table


SYNONYMS = _synonyms()


def _standard_phrases() -> list[tuple[str, str]]:
    out = [(text, t) for t, names in (*_STRONG.items(), *_WEAK.items()) for text in names]
    for spec in EDITABLE:
        if spec.name not in _NAME_ONLY:
            out.append((spec.label, spec.name))
            out.append((_FRENCH_LABELS.get(spec.name, spec.label), spec.name))
    return out


_PHRASES = [(tuple(_tokens(text)), t) for text, t in _standard_phrases()]
_PHRASES = [(tokens, t) for tokens, t in dict.fromkeys(_PHRASES) if len(tokens) >= 2]


# ---------------------------------------------------------------- matching


@dataclass
class _Pool:
    """What headers are compared with: exact keys, fuzzy keys, multi-word phrases."""

    custom: dict[str, str]  # normalised custom field name or label -> target
    fuzzy: dict[str, str]  # normalised synonym -> target
    phrases: list[tuple[tuple[str, ...], str]]


def _pool(custom_fields: Sequence[CustomFieldDef]) -> _Pool:
    custom: dict[str, str] = {}
    phrases = list(_PHRASES)
    for name, label, _type in custom_fields:
        for text in (name, label):
            if norm(text):
                custom.setdefault(norm(text), f"custom.{name}")
        tokens = tuple(_tokens(label))
        if len(tokens) >= 2:
            phrases.append((tokens, f"custom.{name}"))
    fuzzy = {k: t for k, (t, _tier) in SYNONYMS.items() if t not in _NAME_ONLY}
    fuzzy.update(custom)
    return _Pool(custom, fuzzy, phrases)


def _google(header: str) -> str | None:
    """Google Contacts' numbered headers: the first of each kind maps, the rest is ignored."""
    m = _GOOGLE.match(_fold(header).strip())
    if not m:
        return None
    kind, n, part = m.group(1).replace(" ", ""), int(m.group(2)), " ".join(_tokens(m.group(3)))
    if kind in ("email", "phone"):
        if part != "value":
            return ""
        if kind == "email":
            return "email" if n == 1 else "secondary_emails"
        return "phone" if n == 1 else "secondary_phones"
    if n == 1 and kind == "address":
        return {
            "street": "address_line1",
            "extended address": "address_line2",
            "city": "city",
            "region": "state",
            "postal code": "postcode",
            "country": "country",
        }.get(part, "")
    if n == 1 and kind == "organization":
        return {"name": "company", "title": "job_title", "department": "department"}.get(part, "")
    return ""


def _fuzzy(key: str, tokens: list[str], pool: _Pool) -> tuple[str, float]:
    """Best target for a header that matched nothing exactly, or ("", 0)."""
    best: tuple[str, float] = ("", 0.0)
    if len(key) >= 4:
        for candidate, target in pool.fuzzy.items():
            score = 0.0
            if len(key) >= 6 and len(candidate) >= 6:
                score = fuzz.ratio(key, candidate)
            if (
                score < 85
                and sorted(key) == sorted(candidate)
                and OSA.distance(key, candidate) == 1
            ):
                score = 85.0  # one swapped pair of letters: "Emial"
            if score >= 85 and score > best[1]:
                best = (target, score)
    if best[0]:
        return best
    # Extra words around a known multi-word name: "Company name (legal)".
    header_tokens = set(tokens)
    for phrase, target in pool.phrases:
        words = set(phrase)
        if not words <= header_tokens or (header_tokens - words) & _STOP_TOKENS:
            continue
        if len(words) * 3 < len(header_tokens) * 2:
            continue
        score = 80.0 + len(words)
        if score > best[1]:
            best = (target, score)
    return best


def _match(header: str, pool: _Pool) -> tuple[str, int, float]:
    """(target, tier, score) for one header; target "" = ignore. Lower tier wins."""
    text = str(header or "").strip()
    key = norm(text)
    if not key:
        return "", 0, 0.0
    if text.casefold().startswith("custom."):
        return pool.custom.get(norm(text[7:]), ""), 0, 100.0
    if key in pool.custom:
        return pool.custom[key], 0, 100.0
    if text in _NAME_ONLY:  # Kontor's own export: "reports_to" holds an email
        return text, 0, 100.0
    if key in _IGNORE:
        return "", 0, 0.0
    if key in SYNONYMS:
        target, tier = SYNONYMS[key]
        return target, tier, 100.0
    google = _google(text)
    if google is not None:
        return google, 0, 100.0
    target, score = _fuzzy(key, _tokens(text), pool)
    return (target, 2, score) if target else ("", 0, 0.0)


def suggest(headers: Sequence[str], custom_fields: Sequence[CustomFieldDef] = ()) -> list[str]:
    """One target key per header ("" = ignore), each target used at most once.

    The best match wins a target (exact before weak before fuzzy, then the leftmost
    column); a further email column becomes secondary_emails and a further phone column
    secondary_phones when those are free.
    """
    pool = _pool(custom_fields)
    valid = {t.key for t in targets(custom_fields)}
    candidates = []
    for index, header in enumerate(headers):
        target, tier, score = _match(header, pool)
        if target:
            candidates.append((tier, -score, index, target))
    result = [""] * len(headers)
    used: set[str] = set()
    for _tier, _score, index, target in sorted(candidates):
        for option in (target, MULTI.get(target)):
            if option and option in valid and option not in used:
                result[index] = option
                used.add(option)
                break
    return result


def validate_mapping(
    mapping: Sequence[str], headers: Sequence[str], custom_fields: Sequence[CustomFieldDef]
) -> dict[int, str]:
    """{} when the mapping can be used, else {column index: message}; -1 for the whole.

    A target may be used by one column only ("" ignores a column; "new:<label>" creates
    a custom field, once per label); a column must map to Email.
    """
    labels = {t.key: t.label for t in targets(custom_fields)}
    errors: dict[int, str] = {}
    first: dict[str, int] = {}
    for index, key in enumerate(mapping):
        key = (key or "").strip()
        if index >= len(headers):
            if key:
                errors[index] = NO_SUCH_COLUMN
            continue
        if not key:
            continue
        if key.startswith("new:"):
            label = key[4:].strip()
            if not label:
                errors[index] = NEW_FIELD_NAME
                continue
            slot, shown = "new:" + label.casefold(), label
        elif key in labels:
            slot, shown = key, labels[key]
        else:
            errors[index] = Message(UNKNOWN_TARGET, target=key)
            continue
        if slot in first:
            errors[index] = Message(USED_TWICE, field=shown, column=headers[first[slot]])
        else:
            first[slot] = index
    if "email" not in first:
        errors[-1] = NO_EMAIL
    return errors
