"""kontor-example-plugin: contacts and mail from the (imaginary) Example API.

A complete, small Kontor plugin; docs/plugins.md in Kontor walks through it. Kontor finds
it through the ``kontor.plugins`` entry point in pyproject.toml. It never touches
Kontor's database: each hook asks the Example API through ``http`` and returns plain
records, which Kontor matches by email, writes, audits and puts on the timeline.

The Example API (base URL ``https://api.example.invalid/``; every request carries
``Authorization: Bearer <api key>``):

- ``GET v1/account`` -> ``{"email", "name", "plan", "credits"}``
- ``GET v1/contacts?limit=&page=&changed_since=`` ->
  ``{"data": [person, ...], "next_page": "..." | null, "sync_token": "..."}`` where a
  person is ``{"id", "email", "given_name", "family_name", "title", "organization",
  "phone", "updated_at", "deleted"}``. ``sync_token`` (on every page) is what to pass as
  ``changed_since`` next time to get only what changed.
- ``GET v1/messages?limit=&page=&changed_since=`` -> same paging; a message is ``{"id",
  "direction": "in" | "out", "sent_at", "subject", "snippet", "from": {"email", "name"},
  "to": [{"email", "name"}], "bulk": bool}``.
- ``GET v1/verifications?email=`` -> ``{"email", "result": "deliverable" |
  "undeliverable" | "risky" | "unknown", "score": 0-100}``.
"""

from __future__ import annotations

from typing import Any

from app import hookimpl

__version__ = "0.2.0"

PAGE_SIZE = 100


def _auth(http) -> dict[str, str]:
    """The header every Example API request needs (the key is stored encrypted by Kontor)."""
    return {"Authorization": f"Bearer {http.secrets['api_key']}"}


def _params(cursor: dict[str, Any] | None) -> dict[str, Any]:
    """Query parameters for the next page: the page token while paging, else the sync
    token of the last finished round (an incremental sync), else nothing (a full one)."""
    cursor = cursor or {}
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if cursor.get("page"):
        params["page"] = cursor["page"]
    elif cursor.get("since"):
        params["changed_since"] = cursor["since"]
    return params


def _next(page: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The cursor after `page`, and whether more pages remain in this round."""
    if page.get("next_page"):
        return {"page": page["next_page"]}, True
    return {"since": page["sync_token"]}, False


@hookimpl
def describe_provider():
    return {
        "name": "example",
        "label": "Example CRM",
        "auth": "api_key",
        "base_url": "https://api.example.invalid/",
        "api_key_fields": [{"name": "api_key", "label": "API key"}],
        "settings": [
            {
                "name": "create_contacts",
                "label": "Create contacts for people I exchange mail with",
                "type": "bool",
                "default": False,
                "help": "Mailing lists and no-reply senders are never added.",
            },
            {
                "name": "verify_new",
                "label": "Verify the email of new contacts",
                "type": "bool",
                "default": True,
                "help": "Uses one Example credit per contact.",
            },
        ],
        "sync_minutes": 60,
    }


@hookimpl
def identify_account(http):
    me = http.get("v1/account", headers=_auth(http))
    return {
        "label": me["email"],
        "details": {"Plan": me.get("plan", "?"), "Credits left": me.get("credits", "?")},
    }


@hookimpl
def pull_contacts(http, cursor):
    page = http.get("v1/contacts", params=_params(cursor), headers=_auth(http))
    records = []
    for person in page["data"]:
        record = {
            "remote_id": person["id"],
            "remote_updated_at": person["updated_at"],
            "deleted": bool(person.get("deleted")),
            "email": person.get("email"),
        }
        # Only the fields the API answered: a field given as None would clear Kontor's value.
        for ours, theirs in (
            ("first_name", "given_name"),
            ("last_name", "family_name"),
            ("job_title", "title"),
            ("company", "organization"),
            ("phone", "phone"),
        ):
            if person.get(theirs):
                record[ours] = person[theirs]
        records.append(record)
    cursor, more = _next(page)
    return {"contacts": records, "cursor": cursor, "more": more}


@hookimpl
def pull_activities(http, cursor, account):
    page = http.get("v1/messages", params=_params(cursor), headers=_auth(http))
    me = (account["label"] or "").lower()
    records = []
    for message in page["data"]:
        everyone = [message["from"], *message.get("to", [])]
        records.append(
            {
                "external_id": f"example:{message['id']}",
                "kind": "email_sent" if message["direction"] == "out" else "email_received",
                "occurred_at": message["sent_at"],
                "subject": message.get("subject", ""),
                "body": message.get("snippet", ""),
                "data": {"example_id": message["id"]},
                "people": [
                    {"email": p["email"], "name": p.get("name")}
                    for p in everyone
                    if p.get("email") and p["email"].lower() != me
                ],
                "automated": bool(message.get("bulk")),
            }
        )
    cursor, more = _next(page)
    return {"activities": records, "cursor": cursor, "more": more}


@hookimpl
def verify_email(http, email):
    answer = http.get("v1/verifications", params={"email": email}, headers=_auth(http))
    return {"status": answer["result"], "score": answer.get("score")}


@hookimpl
def contact_event(event, settings):
    # Contacts created by people (page, API, import) get their email verified in a job;
    # the ones our own sync created are left alone. No network here: Kontor runs the
    # hooks we name later, in a background job.
    if event["kind"] == "created" and settings["verify_new"] and event["via"] != "sync:example":
        return ["verify_email"]
    return None
