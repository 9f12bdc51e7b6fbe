"""Contact export formats: CSV, vCard 4.0 and JSON, written one contact at a time (pure).

A writer turns plain contact records into text: `begin()` once, `item(record, first)`
per contact, `end()` once, so an export of any size streams in constant memory and a
resumed export appends where it stopped. A record is the API form of a contact
(`contact_to_dict`) plus the emails of the contacts it refers to ("reports_to",
"referred_by") and its list names ("lists").

CSV headers are the machine names the importer maps by itself (email first, then
every editable standard field, tags, lists, `custom.<name>`, and the read-only
created_at/updated_at), so an export imports back into an empty Kontor unchanged.
The file starts with a UTF-8 byte order mark: without it Excel reads UTF-8 as the
system code page and mangles accents. Cells that a spreadsheet would run as a
formula are neutralised (OWASP ASVS 1.2.10; CVE-2021-25960 in SuiteCRM).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from app.contacts.fields import EDITABLE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
EXTRA_KEYS = ("reports_to", "referred_by", "lists")  # in records, not in the API form
READ_ONLY_COLUMNS = ("created_at", "updated_at")

CustomColumns = Sequence[tuple[str, str]]  # (name, type) of each custom field


def neutralise(cell: str) -> str:
    """The cell with a leading "'" when a spreadsheet would read it as a formula.

    The importer drops a "'" followed by one of these characters, so values such
    as "+33 6 12 34 56 78" or "-1" come back as they were.
    """
    if cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


# ---------------------------------------------------------------------------- CSV


def csv_columns(custom: CustomColumns) -> list[str]:
    """The CSV header: standard fields (email first), tags, lists, custom, timestamps."""
    standard = [f.name for f in EDITABLE]
    custom_names = [f"custom.{name}" for name, _ in custom]
    return [*standard, "tags", "lists", *custom_names, *READ_ONLY_COLUMNS]


def _join(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, (list, tuple)):
        return ", ".join(str(v) for v in values)
    return str(values)


def custom_cell(type_: str, value: Any) -> str:
    """A custom field value as CSV text the importer reads back into the same value."""
    if type_ == "json":
        return "" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value is None or value == []:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def csv_values(record: dict[str, Any], custom: CustomColumns) -> list[str]:
    """One contact's cells, in `csv_columns` order (before neutralisation)."""
    out: list[str] = []
    for spec in EDITABLE:
        value = record.get(spec.name)
        if spec.type in ("emails", "phones", "topics"):
            out.append(_join(value))
        elif value is None:
            out.append("")
        else:
            out.append(str(value))
    out.append(_join(record.get("tags")))
    out.append(_join(record.get("lists")))
    values = record.get("custom_fields") or {}
    out.extend(custom_cell(type_, values.get(name)) for name, type_ in custom)
    out.extend(str(record.get(key) or "") for key in READ_ONLY_COLUMNS)
    return out


class CsvWriter:
    """RFC 4180 CSV (CRLF rows, minimal quoting), UTF-8 with a byte order mark."""

    extension = "csv"
    mimetype = "text/csv"

    def __init__(self, custom: CustomColumns):
        self.custom = list(custom)
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")

    def _line(self, cells: list[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow([neutralise(c) for c in cells])
        return self._buffer.getvalue()

    def begin(self) -> str:
        return BOM + self._line(csv_columns(self.custom))

    def item(self, record: dict[str, Any], first: bool = False) -> str:
        return self._line(csv_values(record, self.custom))

    def end(self) -> str:
        return ""


# ---------------------------------------------------------------------------- vCard


def escape_text(value: Any) -> str:
    """A vCard text value: backslash, comma, semicolon and newlines escaped (RFC 6350 3.4)."""
    text = str(value)
    text = text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """A content line folded at 75 octets (never inside a UTF-8 character), CRLF-ended."""
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for char in line:
        n = len(char.encode("utf-8"))
        if size + n > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74  # a continuation line starts with a space
        current.append(char)
        size += n
    parts.append("".join(current))
    return "\r\n ".join(parts) + "\r\n"


def x_name(name: str) -> str:
    """An X- property name for a field: letters, digits and dashes only."""
    return "X-KONTOR-" + name.upper().replace("_", "-")


# Standard fields that have no vCard property, kept as X-KONTOR-<FIELD>.
VCARD_EXTRAS = (
    "status", "lifecycle", "lead_score", "source", "owner", "external_id",
    "email_verification", "role", "reports_to", "referred_by",
    "consent_status", "consent_type", "consent_date", "consent_source", "gdpr_basis",
    "comm_channel", "comm_frequency", "comm_topics",
)  # fmt: skip


ADDRESS_KEYS = ("address_line1", "address_line2", "city", "state", "postcode", "country")
MAILING_KEYS = (
    "mailing_line1", "mailing_line2", "mailing_city", "mailing_state", "mailing_postcode",
    "mailing_country",
)  # fmt: skip


def _adr(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    line1, line2, city, state, postcode, country = (record.get(k) or "" for k in keys)
    if not any((line1, line2, city, state, postcode, country)):
        return None
    # ADR: post office box; extended address; street; locality; region; postal code; country
    parts = ["", line2, line1, city, state, postcode, country]
    return ";".join(escape_text(p) for p in parts)


def vcard_lines(record: dict[str, Any], custom: CustomColumns) -> list[str]:
    """The unfolded content lines of one contact's vCard 4.0."""
    r = record
    lines = ["BEGIN:VCARD", "VERSION:4.0"]
    names = [r.get("first_name"), r.get("middle_name"), r.get("last_name")]
    full = " ".join(n for n in names if n) or r.get("email") or ""
    lines.append("FN:" + escape_text(full))
    n_parts = [r.get("last_name"), r.get("first_name"), r.get("middle_name"), "", ""]
    lines.append("N:" + ";".join(escape_text(p or "") for p in n_parts))
    if r.get("email"):
        lines.append("EMAIL;PREF=1:" + escape_text(r["email"]))
    for email in r.get("secondary_emails") or ():
        lines.append("EMAIL:" + escape_text(email))
    for key, params in (
        ("phone", "TYPE=work,voice"),
        ("mobile_phone", "TYPE=cell"),
        ("home_phone", "TYPE=home,voice"),
    ):
        if r.get(key):
            lines.append(f"TEL;{params}:" + escape_text(r[key]))
    for phone in r.get("secondary_phones") or ():
        lines.append("TEL:" + escape_text(phone))
    if r.get("company") or r.get("department"):
        org = [r.get("company") or "", r.get("department") or ""]
        lines.append("ORG:" + ";".join(escape_text(p) for p in org).rstrip(";"))
    if r.get("job_title"):
        lines.append("TITLE:" + escape_text(r["job_title"]))
    adr = _adr(r, ADDRESS_KEYS)
    if adr:
        lines.append("ADR;TYPE=work:" + adr)
    mailing = _adr(r, MAILING_KEYS)
    if mailing:
        lines.append("ADR;TYPE=x-mailing:" + mailing)
    if r.get("birthday"):
        lines.append("BDAY:" + str(r["birthday"]).replace("-", ""))
    if r.get("linkedin_url"):
        lines.append("URL;TYPE=linkedin:" + r["linkedin_url"])
    if r.get("twitter"):
        lines.append("X-SOCIALPROFILE;TYPE=twitter:" + escape_text(r["twitter"]))
    if r.get("timezone"):
        lines.append("TZ:" + escape_text(r["timezone"]))
    if r.get("language"):
        lines.append("LANG:" + escape_text(r["language"]))
    if r.get("tags"):
        lines.append("CATEGORIES:" + ",".join(escape_text(t) for t in r["tags"]))
    for key in VCARD_EXTRAS:
        value = r.get(key)
        if value not in (None, "", []):
            lines.append(f"{x_name(key)}:" + escape_text(_join(value)))
    if r.get("lists"):
        lines.append("X-KONTOR-LISTS:" + ",".join(escape_text(n) for n in r["lists"]))
    values = r.get("custom_fields") or {}
    for name, type_ in custom:
        cell = custom_cell(type_, values.get(name))
        if cell:
            lines.append(f"{x_name('custom_' + name)}:" + escape_text(cell))
    if r.get("updated_at"):
        rev = str(r["updated_at"]).split(".")[0].replace("-", "").replace(":", "")
        lines.append("REV:" + rev.rstrip("Z") + "Z")
    lines.append("END:VCARD")
    return lines


class VcardWriter:
    """vCard 4.0 (RFC 6350): CRLF line ends, lines folded at 75 octets."""

    extension = "vcf"
    mimetype = "text/vcard"

    def __init__(self, custom: CustomColumns):
        self.custom = list(custom)

    def begin(self) -> str:
        return ""

    def item(self, record: dict[str, Any], first: bool = False) -> str:
        return "".join(fold(line) for line in vcard_lines(record, self.custom))

    def end(self) -> str:
        return ""


# ---------------------------------------------------------------------------- JSON


class JsonWriter:
    """A JSON array of contacts in their API form, one element per line."""

    extension = "json"
    mimetype = "application/json"

    def __init__(self, custom: CustomColumns = ()):
        self.custom = list(custom)

    def begin(self) -> str:
        return "["

    def item(self, record: dict[str, Any], first: bool = False) -> str:
        data = {k: v for k, v in record.items() if k not in EXTRA_KEYS}
        return ("\n" if first else ",\n") + json.dumps(data, ensure_ascii=False)

    def end(self) -> str:
        return "\n]\n"


WRITERS = {"csv": CsvWriter, "vcard": VcardWriter, "json": JsonWriter}
FORMATS = tuple(WRITERS)


def make_writer(fmt: str, custom: CustomColumns) -> CsvWriter | VcardWriter | JsonWriter:
    """The writer of a format ("csv", "vcard" or "json"); KeyError for any other."""
    return WRITERS[fmt](custom)
