"""What every API endpoint shares: the error shape, the JSON body, limits and keyset pages."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import jsonify, make_response, request
from flask_babel import gettext as _
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import ColumnElement, Select

from app.api import bp
from app.contacts.fields import ValidationFailed
from app.contacts.service import ContactLimitReached, DuplicateEmail, VersionConflict
from app.errors import CODES
from app.extensions import db

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_BATCH = 1000


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "field", ...}} with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        code: str | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or CODES.get(status, "error")
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        error.update(self.extra)
        return {"error": error}

    def response(self):
        return make_response(jsonify(self.body()), self.status)


def validation_error(errors: dict[str, str]) -> ApiError:
    """422 naming the first bad field, with every field's message under "fields"."""
    fields = {name: _(message) for name, message in errors.items()}
    first = next(iter(fields))
    return ApiError(422, f"{first}: {fields[first]}", field=first, code="invalid", fields=fields)


def limit_error(exc: ContactLimitReached) -> ApiError:
    return ApiError(
        403,
        _(
            "The contact limit of %(limit)s is reached: %(remaining)s more contacts fit.",
            limit=exc.limit,
            remaining=exc.remaining,
        ),
        code="limit_reached",
        limit=exc.limit,
        remaining=exc.remaining,
    )


def duplicate_error(exc: DuplicateEmail) -> ApiError:
    return ApiError(
        409,
        _("%(email)s belongs to another contact.", email=exc.email),
        field="email",
        code="duplicate",
        existing_id=exc.existing_id,
    )


def conflict_error(exc: VersionConflict) -> ApiError:
    return ApiError(
        409,
        _("Someone else changed this contact since you loaded it; nothing was saved."),
        field="version",
        code="conflict",
        version=exc.contact.version,
        current=exc.current,
    )


def _answer(error: ApiError):
    db.session.rollback()
    return error.response()


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return _answer(exc)


@bp.errorhandler(ValidationFailed)
def _validation_failed(exc: ValidationFailed):
    return _answer(validation_error(exc.errors))


@bp.errorhandler(ContactLimitReached)
def _limit_reached(exc: ContactLimitReached):
    return _answer(limit_error(exc))


@bp.errorhandler(DuplicateEmail)
def _duplicate(exc: DuplicateEmail):
    return _answer(duplicate_error(exc))


@bp.errorhandler(VersionConflict)
def _conflict(exc: VersionConflict):
    return _answer(conflict_error(exc))


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 when the body is missing, malformed or not an object."""
    if not request.get_data():
        raise ApiError(400, _("Send a JSON object in the request body."), code="bad_request")
    try:
        body = json.loads(request.get_data())
    except ValueError as exc:
        raise ApiError(
            400, _("The request body is not valid JSON: %(error)s", error=str(exc))
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, _("The request body must be a JSON object."))
    return body


def only_keys(body: dict[str, Any], allowed: set[str]) -> None:
    """An unknown key in a small object is a 422 naming it (typos are never ignored)."""
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise validation_error({k: _("Unknown field.") for k in unknown})


def page_limit() -> int:
    """The `limit` argument (1 to MAX_LIMIT, larger values are capped)."""
    raw = request.args.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, _("limit must be a whole number."), field="limit", code="invalid"
        ) from None
    if value < 1:
        raise ApiError(400, _("limit must be at least 1."), field="limit", code="invalid")
    return min(value, MAX_LIMIT)


def choice_arg(name: str, choices: tuple[str, ...], default: str = "") -> str:
    """The query argument `name`: one of `choices`, `default` when absent or empty, else a
    400 naming it and the choices."""
    value = request.args.get(name, "").strip() or default
    if value and value not in choices:
        raise ApiError(
            400,
            _("%(name)s must be one of: %(choices)s.", name=name, choices=", ".join(choices)),
            field=name,
            code="invalid",
        )
    return value


def check_args(allowed: set[str]) -> None:
    """400 naming the first query argument this endpoint does not know."""
    for key in request.args:
        if key not in allowed and not key.startswith("_"):
            raise ApiError(
                400, _('Unknown query argument "%(key)s".', key=key), field=key, code="invalid"
            )


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The values stored in a cursor; 400 when it is not one of ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or len(values) != size or not isinstance(values[-1], int):
        raise ApiError(
            400,
            _("This cursor is not valid; start again without it."),
            field="cursor",
            code="invalid",
        )
    return values


def keyset_page(
    stmt: Select, order: list[ColumnElement], limit: int
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by `order` (unique, non-null, last is an integer id).

    Rows are returned as `stmt` selects them; the cursor holds the order values
    of the page's last row.
    """
    cursor = request.args.get("cursor", "").strip()
    if cursor:
        after = decode_cursor(cursor, len(order))
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    k = len(order)
    stmt = stmt.add_columns(*order).order_by(*order).limit(limit + 1)
    rows = list(db.session.execute(stmt))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(list(rows[-1][-k:]))
    return [row[:-k] for row in rows], next_cursor


def envelope(data: list[Any], next_cursor: str | None):
    """The list answer: {"data": [...], "next_cursor": str | null}."""
    return jsonify({"data": data, "next_cursor": next_cursor})


def conflict() -> ApiError:
    """409: a row was changed or added by someone else meanwhile (after the rollback)."""
    db.session.rollback()
    return ApiError(
        409, _("Someone else saved this at the same time; nothing was saved. Try again.")
    )


def commit() -> None:
    """Commit; a row changed or added by someone else meanwhile is a 409, not a 500."""
    try:
        db.session.commit()
    except (IntegrityError, StaleDataError):
        raise conflict() from None
