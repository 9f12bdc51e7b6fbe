"""A small Google on the loopback fake: the People API's connections and the Gmail API's
profile, messages and history, answering the way Google documents them.

Gmail is mounted under ``GMAIL`` and People under ``PEOPLE`` (two prefixes on one
server, standing for the two hosts), so a request sent to the wrong base URL misses.

People (``people.connections.list``):
- ``personFields`` is required and limits the fields answered; pages follow
  ``pageToken``, and every page must repeat the first call's parameters (400 if not).
- ``nextSyncToken`` comes on the last page only, and only when ``requestSyncToken``
  was set; a ``syncToken`` answers the people changed since, deleted ones as a Person
  with ``metadata.deleted`` and no fields. ``expire_sync_tokens()`` makes Google forget
  them: 410 (as the docs' samples handle it) or, with ``expired_status=400``, the 400
  FAILED_PRECONDITION the API answers in practice.

Gmail (scope ``gmail.metadata``):
- ``users.messages.list`` answers newest first, ``maxResults`` a page (capped by
  ``page_cap``), no spam or trash; a ``q`` is refused with 403, as with that scope.
- ``users.messages.get`` answers ``format=metadata`` only (403 for full/raw, as with
  that scope), with just the ``metadataHeaders`` asked for; 404 for an unknown id.
- ``users.history.list`` answers ``messagesAdded`` after ``startHistoryId``; an id
  older than ``expire_history()`` answers 404.

``fail_next`` queues raw answers (429 with Retry-After, 401, ...) served first.
Every exchange is kept in ``exchanges`` for the discovery checks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from app.integrations.fake import Call, FakeProvider

GMAIL = "/gmail-host/"
PEOPLE = "/people-host/"
ME = "me@example.com"
_tokens = itertools.count(1)
# users.history.list historyTypes and the History field each one fills.
HISTORY_KEYS = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}


def google_error(status: int, message: str, state: str, **extra: Any) -> tuple[int, dict]:
    return status, {"error": {"code": status, "message": message, "status": state, **extra}}


NOT_FOUND = google_error(404, "Requested entity was not found.", "NOT_FOUND")


@dataclass
class Exchange:
    api: str
    call: Call
    status: int
    body: Any


@dataclass
class FakeGoogle:
    fake: FakeProvider
    page_cap: int = 1000
    expired_status: int = 410
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[tuple] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seq = 0
        self.changes: list[tuple[int, str]] = []
        self.sync_tokens: dict[str, int] = {}
        self.page_tokens: dict[str, dict[str, Any]] = {}
        self.history_id = 1000
        self.oldest_history = 0
        self.history: list[dict[str, Any]] = []
        routes = {
            (PEOPLE, "v1/people/me/connections"): ("people.v1", self.connections),
            (GMAIL, "gmail/v1/users/me/profile"): ("gmail.v1", self.profile),
            (GMAIL, "gmail/v1/users/me/messages"): ("gmail.v1", self.list_messages),
            (GMAIL, "gmail/v1/users/me/history"): ("gmail.v1", self.list_history),
        }
        for (prefix, path), (api, handler) in routes.items():
            self.fake.route("GET", prefix + path, self._serve(api, handler))

    def _serve(self, api: str, handler):
        def serve(call: Call):
            answer = self.fail_next.pop(0) if self.fail_next else handler(call)
            status, body = (answer[0], answer[1]) if isinstance(answer, tuple) else (200, answer)
            self.exchanges.append(Exchange(api, call, status, body))
            return answer

        return serve

    # -- the address book changing ----------------------------------------------------
    def put_person(self, person: dict[str, Any]) -> None:
        self.seq += 1
        self.people[person["resourceName"]] = person
        self.changes.append((self.seq, person["resourceName"]))

    def delete_person(self, resource_name: str) -> None:
        self.seq += 1
        self.people[resource_name] = {
            "resourceName": resource_name,
            "etag": "%EgQBAgMELhoEAQIFByIMZGVsZXRlZA==",
            "metadata": {
                "sources": [{"type": "CONTACT", "id": resource_name.split("/c")[-1]}],
                "deleted": True,
            },
        }
        self.changes.append((self.seq, resource_name))

    def expire_sync_tokens(self) -> None:
        self.sync_tokens.clear()

    # -- the mailbox changing ---------------------------------------------------------
    def add_message(self, message: dict[str, Any]) -> None:
        """A message arrives (or is sent): it gets a history id, a history record and
        its own ``users.messages.get`` route (which answers 404 once it is deleted)."""
        self.history_id += 7  # increasing, with gaps, as documented
        message = {**message, "historyId": str(self.history_id)}
        self.messages[message["id"]] = message
        path = f"{GMAIL}gmail/v1/users/me/messages/{message['id']}"
        self.fake.route("GET", path, self._serve("gmail.v1", self.get_message))
        ref = {"id": message["id"], "threadId": message["threadId"]}
        self.history.append(
            {
                "id": str(self.history_id),
                "messages": [ref],
                "messagesAdded": [{"message": {**ref, "labelIds": message["labelIds"]}}],
            }
        )

    def delete_message(self, message_id: str) -> None:
        self.messages.pop(message_id, None)

    def expire_history(self) -> None:
        """Google keeps history for about a week: ids before now answer 404."""
        self.oldest_history = self.history_id + 1

    # -- People -----------------------------------------------------------------------
    def connections(self, call: Call):
        fields = call.arg("personFields")
        if not fields:
            return google_error(400, "personFields mask is required.", "INVALID_ARGUMENT")
        params = {k: v for k, v in call.query.items() if k != "pageToken"}
        page_token, sync_token = call.arg("pageToken"), call.arg("syncToken")
        if sync_token is not None and sync_token not in self.sync_tokens:
            return self._expired()
        if page_token is not None:
            state = self.page_tokens.get(page_token)
            if state is None:
                return google_error(400, "Page token is not valid.", "INVALID_ARGUMENT")
            if state["params"] != params:
                return google_error(
                    400,
                    "Parameters must match the first call that provided the page token.",
                    "INVALID_ARGUMENT",
                )
            results, offset, mark = state["results"], state["offset"], state["mark"]
        else:
            if sync_token is not None:
                since = self.sync_tokens[sync_token]
                changed = dict.fromkeys(r for s, r in self.changes if s > since)
                results = [self.people[r] for r in changed]
            else:
                live = [p for p in self.people.values() if not p["metadata"].get("deleted")]
                results = live
            offset, mark = 0, self.seq
        size = min(int(call.arg("pageSize") or 100) or 100, self.page_cap)
        page = results[offset : offset + size]
        wanted = set(fields.split(","))
        body: dict[str, Any] = {
            "connections": [_only(p, wanted) for p in page],
            "totalPeople": len(results),
            "totalItems": len(results),
        }
        if offset + size < len(results):
            token = f"page{next(_tokens)}"
            self.page_tokens[token] = {
                "params": params,
                "results": results,
                "offset": offset + size,
                "mark": mark,
            }
            body["nextPageToken"] = token
        elif call.arg("requestSyncToken") == "true":
            token = f"sync{next(_tokens)}"
            self.sync_tokens[token] = mark
            body["nextSyncToken"] = token
        if not body["connections"]:
            del body["connections"]
        return body

    def _expired(self):
        message = "Sync token is expired. Clear local cache and retry call without the sync token."
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "EXPIRED_SYNC_TOKEN",
                "domain": "people.googleapis.com",
            }
        ]
        state = "FAILED_PRECONDITION" if self.expired_status == 400 else "ABORTED"
        return google_error(self.expired_status, message, state, details=details)

    # -- Gmail ------------------------------------------------------------------------
    def profile(self, call: Call):
        return {
            "emailAddress": ME,
            "messagesTotal": len(self.messages),
            "threadsTotal": len({m["threadId"] for m in self.messages.values()}),
            "historyId": str(self.history_id),
        }

    def list_messages(self, call: Call):
        if "q" in call.query:
            return google_error(
                403,
                "Metadata scope does not support 'q' parameter",
                "PERMISSION_DENIED",
                errors=[
                    {
                        "message": "Metadata scope does not support 'q' parameter",
                        "domain": "global",
                        "reason": "forbidden",
                    }
                ],
            )
        token = call.arg("pageToken")
        if token is not None:
            state = self.page_tokens.get(token)
            if state is None:
                return google_error(400, "Invalid pageToken", "INVALID_ARGUMENT")
            results, offset = state["results"], state["offset"]
        else:
            results = sorted(
                (
                    m
                    for m in self.messages.values()
                    if not {"SPAM", "TRASH"} & set(m["labelIds"])
                    or call.arg("includeSpamTrash") == "true"
                ),
                key=lambda m: int(m["internalDate"]),
                reverse=True,
            )
            offset = 0
        size = min(int(call.arg("maxResults") or 100), 500, self.page_cap)
        page = results[offset : offset + size]
        body: dict[str, Any] = {"resultSizeEstimate": len(results)}
        if page:
            body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
        if offset + size < len(results):
            token = f"mpage{next(_tokens)}"
            self.page_tokens[token] = {"results": results, "offset": offset + size}
            body["nextPageToken"] = token
        return body

    def get_message(self, call: Call):
        fmt = call.arg("format", "full")
        if fmt in ("full", "raw"):
            return google_error(
                403, f"Metadata scope doesn't allow format {fmt.upper()}", "PERMISSION_DENIED"
            )
        message = self.messages.get(call.path.rsplit("/", 1)[-1])
        if message is None:
            return NOT_FOUND
        wanted = {h.lower() for h in call.query.get("metadataHeaders", [])}
        headers = [
            {"name": name, "value": value}
            for name, value in message["headers"]
            if not wanted or name.lower() in wanted
        ]
        body = {k: v for k, v in message.items() if k != "headers"}
        if fmt == "minimal":
            return body
        body["payload"] = {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": headers,
        }
        return body

    def list_history(self, call: Call):
        start = int(call.arg("startHistoryId") or 0)
        if not start:
            return google_error(400, "Missing startHistoryId", "INVALID_ARGUMENT")
        if start < self.oldest_history:
            return NOT_FOUND
        types = call.query.get("historyTypes")
        token = call.arg("pageToken")
        if token is not None:
            state = self.page_tokens.get(token)
            if state is None:
                return google_error(400, "Invalid pageToken", "INVALID_ARGUMENT")
            results, offset = state["results"], state["offset"]
        else:
            results = [h for h in self.history if int(h["id"]) > start]
            if types:
                keys = {HISTORY_KEYS[t] for t in types}
                results = [
                    {"id": h["id"], "messages": h["messages"]}
                    | {k: v for k, v in h.items() if k in keys}
                    for h in results
                ]
                results = [h for h in results if keys & set(h)]
            offset = 0
        size = min(int(call.arg("maxResults") or 100), 500, self.page_cap)
        page = results[offset : offset + size]
        body: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            body["history"] = page
        if offset + size < len(results):
            token = f"hpage{next(_tokens)}"
            self.page_tokens[token] = {"results": results, "offset": offset + size}
            body["nextPageToken"] = token
        return body


def _only(person: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """A Person with just the fields a personFields mask asked for."""
    return {k: v for k, v in person.items() if k in ("resourceName", "etag") or k in fields}
