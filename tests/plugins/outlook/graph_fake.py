"""A small Microsoft Graph on the loopback fake: collections that answer delta queries
the way Graph documents them.

- A first request (no token) starts a round over the current items, honouring
  ``$select`` and ``$filter=receivedDateTime ge ...``; pages end in an absolute
  ``@odata.nextLink`` (``$skiptoken``) and the last one in ``@odata.deltaLink``
  (``$deltatoken``), both on the fake's own URL.
- A delta link answers what changed since it was issued; removed items come as
  ``{"id": ..., "@removed": {"reason": "deleted"}}``.
- An expired token answers 410 Gone with ``{"error": {"code": "SyncStateNotFound"}}``.
- ``fail_next`` queues raw answers (429 with Retry-After, 401, ...) served first.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from app.integrations.fake import Call, FakeProvider

PREFIX = "/v1.0/"
_tokens = itertools.count(1)


class DeltaCollection:
    """One Graph collection with a delta function at ``PREFIX + path``."""

    def __init__(self, fake: FakeProvider, path: str, page_size: int = 2):
        self.fake = fake
        self.path = path
        self.page_size = page_size
        self.items: dict[str, dict[str, Any]] = {}
        self.changes: list[tuple[int, str]] = []
        self.seq = 0
        self.tokens: dict[str, dict[str, Any]] = {}
        self.fail_next: list[tuple] = []
        fake.route("GET", PREFIX + path, self.handle)

    # -- the mailbox changing ---------------------------------------------------------
    def put(self, *items: dict[str, Any]) -> None:
        for item in items:
            self.seq += 1
            self.items[item["id"]] = item
            self.changes.append((self.seq, item["id"]))

    def remove(self, item_id: str) -> None:
        self.seq += 1
        self.items.pop(item_id, None)
        self.changes.append((self.seq, item_id))

    def expire_tokens(self) -> None:
        """Forget every token handed out, like Graph's delta token cache overflowing."""
        self.tokens.clear()

    @property
    def calls(self) -> list[Call]:
        return self.fake.calls_to(PREFIX + self.path)

    # -- the API ----------------------------------------------------------------------
    def handle(self, call: Call):
        if self.fail_next:
            return self.fail_next.pop(0)
        delta, skip = call.arg("$deltatoken"), call.arg("$skiptoken")
        if delta is not None or skip is not None:
            state = self.tokens.get(delta or skip)
            if state is None or state["kind"] != ("delta" if delta else "skip"):
                return 410, {
                    "error": {
                        "code": "SyncStateNotFound",
                        "message": "The sync state generation is not found.",
                    }
                }
        if skip is not None:
            results, offset, select, since = (
                state["results"],
                state["offset"],
                state["select"],
                state["mark"],
            )
        else:
            if delta is not None:
                select, where = state["select"], state["filter"]
                results = self._changed_since(state["mark"], where)
            else:
                select = [f for f in (call.arg("$select") or "").split(",") if f]
                where = call.arg("$filter")
                results = [i for i in self.items.values() if _matches(i, where)]
            offset, since = 0, self.seq
            state = {"filter": where}
        size = self.page_size
        prefer = re.search(r"odata\.maxpagesize=(\d+)", call.headers.get("prefer", ""))
        if prefer:
            size = min(size, int(prefer.group(1)))
        page = results[offset : offset + size]
        body: dict[str, Any] = {"value": [_selected(i, select) for i in page]}
        token = f"t{next(_tokens)}"
        if offset + size < len(results):
            self.tokens[token] = {
                "kind": "skip",
                "results": results,
                "offset": offset + size,
                "select": select,
                "mark": since,
                "filter": state["filter"],
            }
            body["@odata.nextLink"] = f"{self.fake.url}{PREFIX}{self.path}?$skiptoken={token}"
        else:
            self.tokens[token] = {
                "kind": "delta",
                "select": select,
                "mark": since,
                "filter": state["filter"],
            }
            body["@odata.deltaLink"] = f"{self.fake.url}{PREFIX}{self.path}?$deltatoken={token}"
        return body

    def _changed_since(self, mark: int, where: str | None) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(i for seq, i in self.changes if seq > mark))
        out = []
        for item_id in ids:
            if item_id in self.items:
                if _matches(self.items[item_id], where):
                    out.append(self.items[item_id])
            else:
                out.append({"id": item_id, "@removed": {"reason": "deleted"}})
        return out


def _matches(item: dict[str, Any], where: str | None) -> bool:
    if not where:
        return True
    found = re.fullmatch(r"receivedDateTime ge (\S+)", where.strip())
    assert found, f"the fake understands only Graph's delta filter, not {where!r}"
    return str(item.get("receivedDateTime", "")) >= found.group(1)


def _selected(item: dict[str, Any], select: list[str]) -> dict[str, Any]:
    if "@removed" in item or not select:
        return dict(item)
    return {k: v for k, v in item.items() if k == "id" or k in select}


class FakeGraph:
    """``/v1.0/me``, the contacts delta and the Inbox / Sent Items message deltas."""

    def __init__(self, fake: FakeProvider):
        self.fake = fake
        self.me = {
            "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
            "displayName": "Megan Bowen",
            "mail": "MeganB@contoso.com",
            "userPrincipalName": "meganb@contoso.onmicrosoft.com",
        }
        fake.route("GET", PREFIX + "me", lambda call: self.me)
        self.contacts = DeltaCollection(fake, "me/contacts/delta")
        self.inbox = DeltaCollection(fake, "me/mailFolders/inbox/messages/delta")
        self.sent = DeltaCollection(fake, "me/mailFolders/sentitems/messages/delta")


def contact(cid: str, email: str | None, **fields: Any) -> dict[str, Any]:
    """A Graph contact resource, as the contacts delta answers it."""
    emails = [{"name": email, "address": email}] if email else []
    return {
        "@odata.etag": f'W/"{cid}"',
        "id": cid,
        "createdDateTime": "2024-01-02T09:00:00Z",
        "lastModifiedDateTime": fields.pop("lastModifiedDateTime", "2024-03-01T10:00:00Z"),
        "displayName": fields.pop("displayName", cid),
        "givenName": fields.pop("givenName", None),
        "middleName": None,
        "surname": fields.pop("surname", None),
        "jobTitle": None,
        "companyName": None,
        "department": None,
        "businessPhones": [],
        "homePhones": [],
        "mobilePhone": None,
        "birthday": None,
        "businessAddress": {},
        "emailAddresses": fields.pop("emailAddresses", emails),
        "parentFolderId": "AAMkAGI2THVSAAA=",
        **fields,
    }


def message(
    mid: str,
    sender: str,
    to: list[str],
    received: str,
    *,
    cc: list[str] = (),
    subject: str = "Hello",
    internet_id: str | None = "default",
) -> dict[str, Any]:
    """A Graph message resource, as the message delta answers it."""

    def recipient(address: str) -> dict[str, Any]:
        name = address.split("@")[0].replace(".", " ").title()
        return {"emailAddress": {"name": name, "address": address}}

    return {
        "@odata.etag": f'W/"{mid}"',
        "id": mid,
        "receivedDateTime": received,
        "sentDateTime": received,
        "subject": subject,
        "bodyPreview": f"Preview of {subject}",
        "internetMessageId": (
            f"<{mid}@mail.contoso.com>" if internet_id == "default" else internet_id
        ),
        "isRead": False,
        "from": recipient(sender),
        "sender": recipient(sender),
        "toRecipients": [recipient(a) for a in to],
        "ccRecipients": [recipient(a) for a in cc],
        "body": {"contentType": "html", "content": "<p>not selected</p>"},
    }
