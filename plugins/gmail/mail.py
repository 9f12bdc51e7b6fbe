"""Gmail ``Message`` resources (format=metadata) as Kontor activity records (pure)."""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import re
from datetime import UTC, datetime
from typing import Any

HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "List-Unsubscribe",
    "List-Id",
    "Precedence",
    "Auto-Submitted",
)
# Messages that are not mail a person exchanged: drafts, spam, trash, chat transcripts.
SKIPPED_LABELS = frozenset({"DRAFT", "SPAM", "TRASH", "CHAT"})

_NO_REPLY = re.compile(
    r"^(?:mailer[-_.]?daemon|postmaster|notifications?)(?:[-+_.].*)?$"
    r"|no[-_.]?reply|do[-_.]?not[-_.]?reply",
    re.IGNORECASE,
)


def headers(message: dict[str, Any]) -> dict[str, str]:
    """The message's headers by lower-case name (the first of each; MIME words decoded)."""
    found: dict[str, str] = {}
    for item in (message.get("payload") or {}).get("headers") or []:
        name = str(item.get("name") or "").lower()
        if name and name not in found:
            found[name] = _decode(str(item.get("value") or ""))
    return found


def _decode(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return value


def addresses(*values: str | None) -> list[dict[str, Any]]:
    """``[{"email", "name"}]`` from address headers, lower-cased and without repeats."""
    people: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name, address in email.utils.getaddresses([v for v in values if v]):
        address = address.strip().lower()
        if "@" not in address or address in seen:
            continue
        seen.add(address)
        people.append({"email": address, "name": name.strip() or None})
    return people


def is_no_reply(address: str) -> bool:
    """True for sender addresses no person reads (no-reply, bounces, notifications)."""
    return bool(_NO_REPLY.search(address.split("@", 1)[0]))


def is_automated(head: dict[str, str]) -> bool:
    """True for mailing-list, bulk and machine-sent mail (RFC 2369, RFC 2919, RFC 3834
    headers, ``Precedence``) and mail from a no-reply sender."""
    if head.get("list-unsubscribe") or head.get("list-id"):
        return True
    if head.get("precedence", "").strip().lower() in ("bulk", "list", "junk"):
        return True
    auto = head.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return True
    return any(is_no_reply(p["email"]) for p in addresses(head.get("from")))


def occurred_at(message: dict[str, Any]) -> str | None:
    """``internalDate`` (epoch milliseconds, as a string) as ISO 8601 UTC."""
    try:
        millis = int(message.get("internalDate") or "")
    except ValueError:
        return None
    when = datetime.fromtimestamp(millis / 1000, UTC).replace(microsecond=0)
    return when.isoformat().replace("+00:00", "Z")


def activity_record(message: dict[str, Any], own: set[str]) -> dict[str, Any] | None:
    """The activity for a message, or None for drafts, spam, trash and chat. ``own`` is
    the account's addresses (lower case), left out of ``people``."""
    labels = set(message.get("labelIds") or [])
    if labels & SKIPPED_LABELS or not message.get("id"):
        return None
    head = headers(message)
    people = [
        p
        for p in addresses(head.get("from"), head.get("to"), head.get("cc"))
        if p["email"] not in own
    ]
    data = {"thread_id": message.get("threadId"), "labels": sorted(labels)}
    if head.get("list-id"):
        data["list_id"] = head["list-id"]
    return {
        "external_id": f"gmail:{message['id']}",
        "kind": "email_sent" if "SENT" in labels else "email_received",
        "occurred_at": occurred_at(message),
        "subject": head.get("subject") or None,
        "body": message.get("snippet") or None,
        "people": people,
        "automated": is_automated(head),
        "data": data,
    }
