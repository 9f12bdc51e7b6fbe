"""A two-way CRM plugin for the core's sync tests (registered per test with
plugins.load(extra=...)). Its API: GET me, GET contacts (after/since/limit paging),
POST contacts/batch, GET messages (offset paging)."""

from __future__ import annotations

from app.integrations.hookspecs import hookimpl

PAGE = 2


@hookimpl
def describe_provider():
    return {
        "name": "minicrm",
        "label": "MiniCRM",
        "auth": "oauth2",
        "base_url": "https://minicrm.invalid/api/",
        "oauth": {
            "authorize_url": "https://minicrm.invalid/authorize",
            "token_url": "https://minicrm.invalid/token",
            "revoke_url": "https://minicrm.invalid/revoke",
            "scopes": ["contacts", "mail"],
        },
        "settings": [
            {"name": "create_contacts", "label": "Create contacts", "type": "bool", "default": True}
        ],
        "sync_minutes": 10,
    }


@hookimpl
def identify_account(http):
    me = http.get("me")
    return {"label": me["email"], "details": {"Plan": me.get("plan", "free")}}


@hookimpl
def pull_contacts(http, cursor):
    cursor = dict(cursor or {})
    params = {"limit": PAGE, **{k: cursor[k] for k in ("after", "since") if cursor.get(k)}}
    page = http.get("contacts", params=params)
    results = page["results"]
    high = max(
        [cursor.get("high") or cursor.get("since") or ""] + [r["updated_at"] for r in results]
    )
    records = [
        {
            "remote_id": r["id"],
            "email": r.get("email"),
            "first_name": r.get("first_name"),
            "last_name": r.get("last_name"),
            "job_title": r.get("job_title"),
            "remote_updated_at": r["updated_at"],
            "deleted": r.get("deleted", False),
        }
        for r in results
    ]
    if page.get("has_more"):
        following = {"since": cursor.get("since"), "after": results[-1]["id"], "high": high}
    else:
        following = {"since": high}
    return {"contacts": records, "cursor": following, "more": bool(page.get("has_more"))}


@hookimpl
def push_contacts(http, contacts):
    body = {
        "contacts": [
            {
                "ref": c["contact_id"],
                "id": c["remote_id"],
                "email": c["email"],
                "first_name": c["first_name"],
                "last_name": c["last_name"],
                "job_title": c["job_title"],
            }
            for c in contacts
        ]
    }
    answer = http.post("contacts/batch", json=body)
    return [
        {"contact_id": r["ref"], "remote_id": r["id"], "remote_updated_at": r["updated_at"]}
        for r in answer["results"]
    ]


@hookimpl
def pull_activities(http, cursor, account):
    offset = (cursor or {}).get("offset", 0)
    page = http.get("messages", params={"offset": offset, "limit": PAGE})
    mine = (account["label"] or "").lower()
    activities = []
    for m in page["messages"]:
        people = [{"email": a, "name": m.get("name")} for a in [m["from"], *m["to"]]]
        activities.append(
            {
                "external_id": f"minicrm:{m['id']}",
                "kind": "email_sent" if m["from"].lower() == mine else "email_received",
                "occurred_at": m["at"],
                "subject": m["subject"],
                "people": [p for p in people if p["email"].lower() != mine],
                "automated": m.get("list", False),
            }
        )
    following = {"offset": offset + len(page["messages"])}
    return {"activities": activities, "cursor": following, "more": bool(page.get("has_more"))}


@hookimpl
def contact_event(event):
    if event["via"] != "sync:minicrm" and event["kind"] in ("created", "updated"):
        return ["push_contacts"]
    return None
