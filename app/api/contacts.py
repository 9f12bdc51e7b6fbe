"""/api/v1/contacts: list with every filter of the page, upsert, batch, read, patch, delete."""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError

from app import audit
from app.api import bp
from app.api.common import (
    MAX_BATCH,
    ApiError,
    commit,
    duplicate_error,
    envelope,
    json_body,
    limit_error,
    validation_error,
)
from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.contacts.query import (
    PARAMS,
    ContactQuery,
    CustomFieldInfo,
    _sort_plan,
    decode_cursor,
    fetch_page,
    parse_args,
)
from app.contacts.related import contact_to_dict, custom_field_infos, load_related
from app.contacts.service import (
    ContactLimitReached,
    DuplicateEmail,
    update_contact,
    upsert_contact,
)
from app.extensions import db
from app.timeutil import utcnow

LIST_ARGS = PARAMS - {"cols"}


def contact_json(contact: Contact) -> dict[str, Any]:
    """The API form of one contact (its related rows loaded in a few queries)."""
    return contact_to_dict(contact, load_related(db.session, [contact]))


def _answer(contact: Contact, status: int = 200):
    response = make_response(jsonify(contact_json(contact)), status)
    response.headers["ETag"] = f'"{contact.version}"'
    return response


def _get(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise ApiError(404, _("No contact with id %(id)s.", id=contact_id))
    return contact


def list_query(
    args: dict[str, list[str]], infos: list[CustomFieldInfo], me_id: int | None
) -> ContactQuery:
    """The ContactQuery of the arguments; 400 naming the first unknown or invalid one.

    The pages ignore what they do not understand; a script should hear about it.
    """
    by_name = {info.name: info for info in infos}
    for key, values in args.items():
        if key.startswith("_"):
            continue
        if key.startswith("cf."):
            if key[3:].partition(".")[0] not in by_name:
                raise ApiError(
                    400, _('Unknown custom field in "%(key)s".', key=key), field=key, code="invalid"
                )
        elif key not in LIST_ARGS:
            raise ApiError(400, _('Unknown filter "%(key)s".', key=key), field=key, code="invalid")
        if key == "cursor":
            continue
        _one, notices = parse_args({key: values}, infos, me_id=me_id, session=db.session)
        if notices:
            value = values[-1] if values else ""
            raise ApiError(
                400,
                _('"%(value)s" is not a valid value for %(key)s.', value=value, key=key),
                field=key,
                code="invalid",
            )
    cq, _notices = parse_args(args, infos, me_id=me_id)
    if cq.cursor and decode_cursor(cq.cursor, _sort_plan(cq, infos).kind) is None:
        raise ApiError(
            400,
            _("This cursor is not valid; start again without it."),
            field="cursor",
            code="invalid",
        )
    return cq


@bp.get("/api/v1/contacts")
@require("read")
def contacts_list():
    """A page of contacts matching the filters, and the cursor of the next page."""
    infos = custom_field_infos(db.session)
    user = actor()
    cq = list_query(request.args.to_dict(flat=False), infos, user.id)
    contacts, next_cursor = fetch_page(db.session, cq, infos)
    rel = load_related(db.session, contacts, custom_fields=infos)
    return envelope([contact_to_dict(c, rel) for c in contacts], next_cursor)


@bp.post("/api/v1/contacts")
@require("write")
def contacts_upsert():
    """Create the contact, or update the one with this email: 201 created, 200 updated."""
    body = json_body()
    body.pop("id", None)
    contact, created = upsert_contact(body, actor=actor(), via="api")
    commit()
    return _answer(contact, 201 if created else 200)


def _item_error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationFailed):
        error = validation_error(exc.errors)
    elif isinstance(exc, ContactLimitReached):
        error = limit_error(exc)
    elif isinstance(exc, DuplicateEmail):
        error = duplicate_error(exc)
    elif isinstance(exc, ApiError):
        error = exc
    else:
        error = ApiError(
            409,
            _("This contact could not be saved: a value clashes with another or is out of range."),
        )
    return error.body()["error"]


@bp.post("/api/v1/contacts/batch")
@require("write")
def contacts_batch():
    """Upsert up to 1,000 contacts; each is saved or refused on its own."""
    body = json_body()
    items = body.get("contacts")
    if not isinstance(items, list):
        raise ApiError(400, _('Send {"contacts": [...]}, a list of contacts.'), field="contacts")
    if len(items) > MAX_BATCH:
        raise ApiError(
            413,
            _(
                "At most %(max)s contacts per batch; this one has %(n)s.",
                max=MAX_BATCH,
                n=len(items),
            ),
            field="contacts",
        )
    user = actor()
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        result: dict[str, Any] = {"index": index}
        try:
            if not isinstance(item, dict):
                raise ApiError(422, _("Each contact must be a JSON object."), code="invalid")
            item = {k: v for k, v in item.items() if k != "id"}
            with db.session.begin_nested():
                contact, created = upsert_contact(item, actor=user, via="api")
            result.update(status="created" if created else "updated", id=contact.id)
        except (
            ValidationFailed,
            ContactLimitReached,
            DuplicateEmail,
            ApiError,
            DBAPIError,
        ) as exc:
            result.update(status="error", id=None, error=_item_error(exc))
        results.append(result)
    commit()
    counts = {s: sum(r["status"] == s for r in results) for s in ("created", "updated", "error")}
    return jsonify(
        {
            "data": results,
            "created": counts["created"],
            "updated": counts["updated"],
            "failed": counts["error"],
        }
    )


@bp.get("/api/v1/contacts/<int:contact_id>")
@require("read")
def contacts_get(contact_id: int):
    """One contact."""
    return _answer(_get(contact_id))


def _expected_version(body: dict[str, Any]) -> int | None:
    """The version the client last saw: the body's "version", else the If-Match header."""
    raw = body.pop("version", None)
    if raw is None:
        header = request.headers.get("If-Match", "").strip()
        if header and header != "*":
            raw = header.removeprefix("W/").strip('"')
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise validation_error({"version": _("Enter a whole number.")}) from None


def _set_archived(contact: Contact, archived: Any) -> None:
    """Archive (true) or restore (false) the contact; archived contacts leave the lists."""
    if not isinstance(archived, bool):
        raise validation_error({"archived": _("Expected true or false.")})
    if archived == (contact.archived_at is not None):
        return
    contact.archived_at = utcnow() if archived else None
    contact.updated_at = utcnow()
    audit.record(
        "archive" if archived else "restore", "contact", contact.id, actor=actor(), via="api"
    )


@bp.patch("/api/v1/contacts/<int:contact_id>")
@require("write")
def contacts_patch(contact_id: int):
    """Change the fields given: null clears a field, a missing key leaves it alone."""
    contact = _get(contact_id)
    body = json_body()
    if body.get("id", contact.id) != contact.id:
        raise validation_error({"id": _("The id cannot be changed.")})
    body.pop("id", None)
    expected = _expected_version(body)
    archived = body.pop("archived", None)
    update_contact(contact, body, actor=actor(), via="api", expected_version=expected)
    if archived is not None:
        _set_archived(contact, archived)
    commit()
    return _answer(contact)


@bp.delete("/api/v1/contacts/<int:contact_id>")
@require("write")
def contacts_delete(contact_id: int):
    """Delete a contact for good (its tags, memberships and timeline go with it)."""
    contact = _get(contact_id)
    audit.record(
        "delete", "contact", contact.id, {"email": contact.email}, actor=actor(), via="api"
    )
    db.session.delete(contact)
    commit()
    return "", 204
