"""The merge plan: which record survives and which value each field keeps (pure).

A *record* is a plain dict describing one contact (built by app.dedupe.merger.record):

    {"id", "created_at", "updated_at", "archived_at", "history": activities + deals,
     "fields": {field name: value}          # standard fields; refs as ids
     "tags": [names], "custom": {name: [values]}, "custom_types": {name: type},
     "memberships": {list_id: {"status", "updated_at"}}}

Rules (documented in the README and shown on the merge page):

- Survivor: the record with the longer history (activities and deals, not counting
  Kontor's own bookkeeping such as field changes); on a tie the older one (created
  first, then the lower id). Its id, URL and links are kept.
- Field defaults: equal values need no choice; an empty value never wins over a
  non-empty one; otherwise the value of the record updated most recently. The
  survivor keeps its own primary email (the other's becomes a secondary one). Two
  exceptions protect consent: a restrictive status (unsubscribed, bounced, blocked) or
  consent (opted out) wins over a permissive one, and the consent details (type, date,
  source, GDPR basis) follow the side the consent status comes from.
- Emails and phones are never lost: every email and phone number of either record that
  does not end up in a field of the survivor is kept in its "other emails/phones".
- Tags: union. Multi-select custom fields: union by default.
- List memberships: a list only the other record is on moves to the survivor; on a list
  both are on, the status is the strongest (subscribed > pending > unsubscribed) *unless*
  one side unsubscribed and the other was not re-subscribed after that unsubscribe: an
  unsubscribe is the person's consent signal and a merge never overrides it.
- Reference fields (reports to, referred by) pointing at the merged record point at the
  survivor; a value that would make the survivor refer to itself is cleared.
- The survivor stays archived only when both records were archived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.contacts.fields import FIELDS
from app.i18n import N_, Message

# Fields a user chooses a value for (the lists of other emails/phones are combined).
CHOICE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in FIELDS if f.editable and f.name not in ("secondary_emails", "secondary_phones")
)
PHONE_FIELDS = ("phone", "mobile_phone", "home_phone")
REF_CONTACT_FIELDS = ("reports_to", "referred_by")
# A default value that says nothing: it never wins over a real one.
NEUTRAL = {"consent_status": "unknown", "lead_score": 0}
RESTRICTIVE = {
    "status": frozenset({"unsubscribed", "bounced", "blocked"}),
    "consent_status": frozenset({"opted_out"}),
}
CONSENT_DETAILS = ("consent_type", "consent_date", "consent_source", "gdpr_basis")
SIDES = ("survivor", "other")
MEMBERSHIP_RANK = {"subscribed": 3, "pending": 2, "unsubscribed": 1}


class PlanError(ValueError):
    """A choice that cannot be applied; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class MergePlan:
    """What merging `other_id` into `survivor_id` changes on the survivor."""

    survivor_id: int
    other_id: int
    choices: dict[str, str] = field(default_factory=dict)  # differing field -> side/value/both
    changes: dict[str, Any] = field(default_factory=dict)  # field name -> new value
    custom: dict[str, list[Any]] = field(default_factory=dict)  # custom name -> new values
    tags_added: list[str] = field(default_factory=list)
    lists_moved: list[int] = field(default_factory=list)  # only the other was on them
    list_status: dict[int, str] = field(default_factory=dict)  # both on them, new status
    unarchive: bool = False


def is_empty(value: Any, name: str | None = None) -> bool:
    """None, blank text, an empty list, or a field's neutral default."""
    if value is None or value == [] or (isinstance(value, str) and not value.strip()):
        return True
    return name is not None and name in NEUTRAL and value == NEUTRAL[name]


def choose_survivor(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict, dict]:
    """(survivor, other): the longer history survives; on a tie the older record."""

    def key(r: dict[str, Any]) -> tuple:
        return (-(r.get("history") or 0), r.get("created_at") is None, r.get("created_at"), r["id"])

    try:
        first = min((a, b), key=key)
    except TypeError:  # a missing date against a present one
        first = a if a["id"] < b["id"] else b
    return (a, b) if first is a else (b, a)


def _newer(survivor: dict[str, Any], other: dict[str, Any]) -> str:
    s, o = survivor.get("updated_at"), other.get("updated_at")
    if s is not None and o is not None and o > s:
        return "other"
    return "survivor"


def _default(name: str, s_val: Any, o_val: Any, survivor: dict, other: dict) -> str:
    if is_empty(o_val, name):
        return "survivor"
    if is_empty(s_val, name):
        return "other"
    restrictive = RESTRICTIVE.get(name)
    if restrictive is not None:
        if o_val in restrictive and s_val not in restrictive:
            return "other"
        if s_val in restrictive and o_val not in restrictive:
            return "survivor"
    return _newer(survivor, other)


def default_choices(survivor: dict[str, Any], other: dict[str, Any]) -> dict[str, str]:
    """The default side for every field whose values differ (standard and custom).

    Custom fields are keyed "custom.<name>"; a multi-select's default is "both" (union).
    """
    out: dict[str, str] = {}
    sf, of = survivor["fields"], other["fields"]
    for name in CHOICE_FIELDS:
        s_val, o_val = sf.get(name), of.get(name)
        if _same(s_val, o_val, name):
            continue
        # The survivor keeps its own address by default (the other's is kept as secondary).
        out[name] = "survivor" if name == "email" else _default(name, s_val, o_val, survivor, other)
    consent_side = out.get("consent_status")
    if consent_side is not None:
        chosen = survivor if consent_side == "survivor" else other
        for name in CONSENT_DETAILS:
            if name in out and not is_empty(chosen["fields"].get(name), name):
                out[name] = consent_side
    types = {**other.get("custom_types", {}), **survivor.get("custom_types", {})}
    sc, oc = survivor.get("custom", {}), other.get("custom", {})
    for name in sorted(set(sc) | set(oc)):
        s_val, o_val = sc.get(name) or [], oc.get(name) or []
        if _same(s_val, o_val):
            continue
        if types.get(name) == "multiselect" and s_val and o_val:
            out[f"custom.{name}"] = "both"
        else:
            out[f"custom.{name}"] = _default(name, s_val, o_val, survivor, other)
    return out


def _same(a: Any, b: Any, name: str | None = None) -> bool:
    if is_empty(a, name) and is_empty(b, name):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


def differing(survivor: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Field names (standard, then "custom.<name>") whose values differ."""
    return list(default_choices(survivor, other))


def _unique(values: list[Any], drop: set[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v and v not in drop and v not in out:
            out.append(v)
    return out


def _ref(value: Any, survivor_id: int, other_id: int) -> Any:
    if value == other_id:
        value = survivor_id
    return None if value == survivor_id else value


def combine_membership(survivor: dict[str, Any], other: dict[str, Any]) -> str:
    """The status on a list both records are on (see the module docstring)."""
    s, o = survivor["status"], other["status"]
    if s == o:
        return s
    if "unsubscribed" in (s, o):
        unsub, rest = (survivor, other) if s == "unsubscribed" else (other, survivor)
        when, since = rest.get("updated_at"), unsub.get("updated_at")
        if rest["status"] == "subscribed" and when and since and when > since:
            return "subscribed"  # re-subscribed after the unsubscribe
        return "unsubscribed"
    return s if MEMBERSHIP_RANK.get(s, 0) >= MEMBERSHIP_RANK.get(o, 0) else o


def plan(
    survivor: dict[str, Any],
    other: dict[str, Any],
    choices: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> MergePlan:
    """The merge of `other` into `survivor`.

    `choices` maps a field ("email", "custom.size", ...) to "survivor" or "other" ("both"
    for a multi-select); fields not given take their default. `values` gives a value
    chosen outright for a field (already validated by the caller). Raises PlanError.
    """
    choices = dict(choices or {})
    values = dict(values or {})
    sid, oid = survivor["id"], other["id"]
    if sid == oid:
        raise PlanError("duplicate_id", N_("A contact cannot be merged with itself."))
    defaults = default_choices(survivor, other)
    custom_names = set(survivor.get("custom", {})) | set(other.get("custom", {}))
    custom_names |= set(survivor.get("custom_types", {})) | set(other.get("custom_types", {}))
    types = {**other.get("custom_types", {}), **survivor.get("custom_types", {})}
    for key, side in choices.items():
        known = key in CHOICE_FIELDS or (key.startswith("custom.") and key[7:] in custom_names)
        if not known:
            raise PlanError(key, N_("Unknown field."))
        allowed = ("survivor", "other", "both") if types.get(key[7:]) == "multiselect" else SIDES
        if not key.startswith("custom."):
            allowed = SIDES
        if side not in allowed:
            raise PlanError(
                key, Message(N_("Choose one of: %(choices)s."), choices=", ".join(allowed))
            )
    for key in values:
        if key not in CHOICE_FIELDS and not key.startswith("custom."):
            raise PlanError(key, N_("Unknown field."))
    out = MergePlan(sid, oid)
    sf, of = survivor["fields"], other["fields"]
    final: dict[str, Any] = {}
    for name in CHOICE_FIELDS:
        if name in values:
            final[name] = values[name]
            out.choices[name] = "value"
            continue
        if name not in defaults:
            final[name] = sf.get(name)
            continue
        side = choices.get(name, defaults[name])
        out.choices[name] = side
        final[name] = of.get(name) if side == "other" else sf.get(name)
    for name in REF_CONTACT_FIELDS:
        final[name] = _ref(final.get(name), sid, oid)
    # Every email and phone of either record is kept somewhere on the survivor.
    emails = [
        *(sf.get("secondary_emails") or []),
        sf.get("email"),
        of.get("email"),
        *(of.get("secondary_emails") or []),
    ]
    final["secondary_emails"] = _unique(emails, {final["email"]}) or None
    phones = [
        *(sf.get("secondary_phones") or []),
        *(sf.get(p) for p in PHONE_FIELDS),
        *(of.get(p) for p in PHONE_FIELDS),
        *(of.get("secondary_phones") or []),
    ]
    final["secondary_phones"] = _unique(phones, {final[p] for p in PHONE_FIELDS}) or None
    for name, value in final.items():
        if sf.get(name) != value:
            out.changes[name] = value
    # Custom fields.
    sc, oc = survivor.get("custom", {}), other.get("custom", {})
    for name in sorted(custom_names):
        key = f"custom.{name}"
        s_val, o_val = list(sc.get(name) or []), list(oc.get(name) or [])
        if key in values:
            new = list(values[key])
            out.choices[key] = "value"
        elif key in defaults:
            side = choices.get(key, defaults[key])
            out.choices[key] = side
            new = s_val if side == "survivor" else o_val if side == "other" else s_val + o_val
            new = list(dict.fromkeys(new))
        else:
            continue
        if not _same(s_val, new):
            out.custom[name] = new
    # Tags (union, case-insensitive).
    have = {t.casefold() for t in survivor.get("tags", [])}
    out.tags_added = [t for t in other.get("tags", []) if t.casefold() not in have]
    # Lists.
    sm, om = survivor.get("memberships", {}), other.get("memberships", {})
    for list_id in sorted(om):
        if list_id not in sm:
            out.lists_moved.append(list_id)
            continue
        status = combine_membership(sm[list_id], om[list_id])
        if status != sm[list_id]["status"]:
            out.list_status[list_id] = status
    out.unarchive = survivor.get("archived_at") is not None and other.get("archived_at") is None
    return out
