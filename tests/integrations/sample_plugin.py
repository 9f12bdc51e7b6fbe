"""A small plugin implementing every hook, for tests/integrations/test_hooks.py.

It talks to "Sample CRM", an imaginary JSON API that the tests serve from a FakeProvider
(see SampleAPI in test_hooks.py); the tests register the module with the ``kontor_plugin``
fixture and point ``app.config["INTEGRATIONS"]["sample"]["base_url"]`` at the fake.

The API (paths under the base URL; every request carries ``Authorization: Bearer <token>``):

- ``GET me`` -> ``{"email", "plan", "credits"}``
- ``GET contacts?page_token=&since=`` -> ``{"items": [...], "next_page_token", "sync_token"}``
- ``POST contacts/batch`` ``{"inputs": [{"ref", "id", "properties"}]}``
  -> ``{"results": [{"ref", "id", "updated_at"}], "errors": [{"ref", "message"}]}``
- ``GET messages?page_token=&since=`` -> ``{"messages": [...], "next_page_token", "sync_token"}``
- ``GET verify?email=`` -> ``{"result", "score"}``
- ``GET people?email=`` -> ``{"person": {...}}``, or 404 when nobody is known
"""

from __future__ import annotations

from typing import Any

from app.integrations.hookspecs import hookimpl
from app.integrations.http import ProviderError

# Every event contact_event was told of, for the tests to look at.
EVENTS: list[dict[str, Any]] = []

FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "job_title": "title",
    "company": "company",
}


def _auth(http) -> dict[str, str]:
    return {"Authorization": f"Bearer {http.secrets['token']}"}


@hookimpl
def describe_provider():
    return {
        "name": "sample",
        "label": "Sample CRM",
        "auth": "api_key",
        "base_url": "https://sample.invalid/api/",
        "api_key_fields": [{"name": "token", "label": "API token"}],
        "settings": [
            {
                "name": "create_contacts",
                "label": "Create contacts from mail",
                "type": "bool",
                "default": False,
            },
            {"name": "on_created", "label": "Hooks on created", "type": "text", "default": ""},
            {"name": "on_updated", "label": "Hooks on updated", "type": "text", "default": ""},
        ],
        "sync_minutes": 0,
    }


@hookimpl
def identify_account(http):
    me = http.get("me", headers=_auth(http))
    return {"label": me["email"], "details": {"Plan": me["plan"], "Credits left": me["credits"]}}


@hookimpl
def pull_contacts(http, cursor):
    cursor = cursor or {}
    if cursor.get("page_token"):
        params = {"page_token": cursor["page_token"]}
    else:
        params = {"since": cursor["since"]} if cursor.get("since") else {}
    page = http.get("contacts", params=params, headers=_auth(http))
    records = [
        {
            "remote_id": item["id"],
            "email": item.get("email"),
            **{ours: item.get(theirs) for ours, theirs in FIELDS.items()},
            "remote_updated_at": item["updated_at"],
            "deleted": bool(item.get("archived")),
        }
        for item in page["items"]
    ]
    more = bool(page.get("next_page_token"))
    following = {"page_token": page["next_page_token"]} if more else {"since": page["sync_token"]}
    return {"contacts": records, "cursor": following, "more": more}


@hookimpl
def push_contacts(http, contacts):
    inputs = [
        {
            "ref": c["contact_id"],
            "id": c["remote_id"],
            "properties": {"email": c["email"], **{t: c[o] for o, t in FIELDS.items()}},
        }
        for c in contacts
    ]
    answer = http.post("contacts/batch", json={"inputs": inputs}, headers=_auth(http))
    done = [
        {"contact_id": r["ref"], "remote_id": r["id"], "remote_updated_at": r["updated_at"]}
        for r in answer["results"]
    ]
    refused = [{"contact_id": e["ref"], "error": e["message"]} for e in answer.get("errors", [])]
    return done + refused


@hookimpl
def pull_activities(http, cursor, account):
    cursor = cursor or {}
    params = {k: cursor[k] for k in ("page_token", "since") if cursor.get(k)}
    page = http.get("messages", params=params, headers=_auth(http))
    me = (account["label"] or "").lower()
    records = []
    for m in page["messages"]:
        everyone = [m["from"], *m["to"]]
        records.append(
            {
                "external_id": f"sample-{m['id']}",
                "kind": "email_sent" if m["from"]["email"].lower() == me else "email_received",
                "occurred_at": m["date"],
                "subject": m["subject"],
                "body": m.get("snippet", ""),
                "data": {"thread": m.get("thread")},
                "people": [p for p in everyone if p["email"].lower() != me],
                "automated": bool(m.get("list_id")),
            }
        )
    more = bool(page.get("next_page_token"))
    following = {"page_token": page["next_page_token"]} if more else {"since": page["sync_token"]}
    return {"activities": records, "cursor": following, "more": more}


@hookimpl
def verify_email(http, email):
    answer = http.get("verify", params={"email": email}, headers=_auth(http))
    return {"status": answer["result"], "score": answer["score"]}


@hookimpl
def enrich_contact(http, contact):
    try:
        found = http.get("people", params={"email": contact["email"]}, headers=_auth(http))
    except ProviderError as exc:
        if exc.status == 404:
            return None
        raise
    person = found["person"]
    return {
        "job_title": person.get("title"),
        "company": person.get("organization"),
        "linkedin_url": person.get("linkedin"),
    }


@hookimpl
def contact_event(event, settings):
    EVENTS.append(event)
    if event["via"] == "sync:sample":
        return None
    wanted = settings.get(f"on_{event['kind']}") or ""
    return [name.strip() for name in wanted.split(",") if name.strip()] or None
