"""/openapi.json: an OpenAPI 3.1 description of the API, built from the routes and the
contact field registry so neither can drift from what the server does."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

from flask import Flask, current_app, jsonify

from app.api import bp
from app.api.common import DEFAULT_LIMIT, MAX_BATCH, MAX_LIMIT
from app.auth.permissions import public
from app.companies.service import SPECS as COMPANY_FIELDS
from app.contacts.fields import (
    CONSENT_STATUSES,
    CONSENT_TYPES,
    EDITABLE,
    FIELDS,
    STATUSES,
    FieldSpec,
)
from app.contacts.query import COLUMN_SORTS, DEFAULT_SORT, PARAMS
from app.lists.models import SUBSCRIPTION_STATUSES
from app.timeline.ingest import (
    MAX_BODY,
    MAX_DATA_BYTES,
    MAX_EVENT_NAME,
    MAX_EXTERNAL_ID,
    MAX_SOURCE,
    MAX_SUBJECT,
)
from app.timeline.models import ACTIVITY_KINDS

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


REF_INPUT = {
    "company": {
        "description": "Company name (created when new) or company id.",
        "type": ["string", "integer", "null"],
    },
    "owner": {"description": "Owner: a user's email or id.", "type": ["string", "integer", "null"]},
    "reports_to": {
        "description": "A contact's email or id.",
        "type": ["string", "integer", "null"],
    },
    "referred_by": {
        "description": "A contact's email or id.",
        "type": ["string", "integer", "null"],
    },
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The JSON schema of one standard field's value (as the API reads and writes it)."""
    t = spec.type
    schema: dict[str, Any]
    if t in ("text", "url"):
        schema = {"type": "string"}
        if spec.max_length:
            schema["maxLength"] = spec.max_length
        if t == "url":
            schema["format"] = "uri"
    elif t == "email":
        schema = {"type": "string", "format": "email"}
    elif t == "phone":
        schema = {"type": "string", "description": "E.164, such as +33612345678."}
    elif t == "country":
        schema = {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166 alpha-2."}
    elif t == "choice":
        schema = {"type": "string", "enum": list(spec.choices or {})}
    elif t == "date":
        schema = {"type": "string", "format": "date"}
    elif t == "datetime":
        schema = {"type": "string", "format": "date-time", "description": "UTC."}
    elif t == "int":
        schema = {"type": "integer"}
        if "min" in spec.extra:
            schema["minimum"] = spec.extra["min"]
        if "max" in spec.extra:
            schema["maximum"] = spec.extra["max"]
    elif t == "emails":
        schema = {"type": "array", "items": {"type": "string", "format": "email"}}
    elif t == "phones" or t == "topics":
        schema = {"type": "array", "items": {"type": "string"}}
    elif t == "ref":
        return dict(REF_INPUT[spec.name], title=spec.label)
    else:
        schema = {}
    schema["title"] = spec.label
    return schema


def contact_schema() -> dict[str, Any]:
    """The Contact object as the API answers it (see app.contacts.related.contact_to_dict)."""
    props: dict[str, Any] = {"id": {"type": "integer", "readOnly": True}}
    for spec in FIELDS:
        if spec.type == "ref":
            continue
        schema = field_schema(spec) if spec.name == "email" else _nullable(field_schema(spec))
        if not spec.editable:
            schema["readOnly"] = True
        props[spec.name] = schema
    props.update(
        {
            "company": {"type": ["string", "null"], "description": "Company name."},
            "company_id": {"type": ["integer", "null"]},
            "owner": {"type": ["string", "null"], "format": "email", "description": "Owner email."},
            "owner_id": {"type": ["integer", "null"]},
            "reports_to_id": {"type": ["integer", "null"]},
            "referred_by_id": {"type": ["integer", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "custom_fields": {
                "type": "object",
                "description": "Custom field values by field name (a list for multi-select).",
                "additionalProperties": True,
            },
            "archived": {"type": "boolean"},
            "archived_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
            "version": {
                "type": "integer",
                "readOnly": True,
                "description": "Bumped by every save; send it back (or If-Match) to detect conflicts.",
            },
        }
    )
    return {"type": "object", "properties": props, "required": ["id", "email", "version"]}


def contact_input_schema() -> dict[str, Any]:
    """What POST and PATCH accept: editable fields (null clears), tags, custom fields."""
    props: dict[str, Any] = {}
    for spec in EDITABLE:
        schema = field_schema(spec)
        props[spec.name] = schema if spec.type == "ref" else _nullable(schema)
    props["tags"] = {
        "type": ["array", "null"],
        "items": {"type": "string", "maxLength": 100},
        "description": "The contact's whole set of tags (replaces them).",
    }
    props["custom_fields"] = {
        "type": "object",
        "description": "Values by custom field name; null clears one.",
        "additionalProperties": True,
    }
    props["version"] = {
        "type": "integer",
        "description": "PATCH: the version you last read; a stale one is a 409.",
    }
    props["archived"] = {"type": "boolean", "description": "PATCH: archive or restore."}
    return {"type": "object", "properties": props, "additionalProperties": False}


def company_schema(*, output: bool) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if output:
        props["id"] = {"type": "integer", "readOnly": True}
    for spec in COMPANY_FIELDS:
        if spec.type == "ref":
            props["owner"] = {
                "type": ["string", "integer", "null"],
                "description": "Owner: a user's email (or id when writing).",
            }
            continue
        schema = field_schema(spec)
        props[spec.name] = schema if spec.name == "name" else _nullable(schema)
    if output:
        props.update(
            {
                "owner_id": {"type": ["integer", "null"]},
                "contact_count": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "version": {"type": "integer"},
            }
        )
        return {"type": "object", "properties": props, "required": ["id", "name"]}
    props["version"] = {"type": "integer", "description": "PATCH: a stale one is a 409."}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
        "required": ["data", "next_cursor"],
    }


CONDITIONS_DOC = (
    'A condition tree. Groups: `{"all": [NODE, ...]}`, `{"any": [NODE, ...]}`, '
    '`{"not": NODE}`. Leaves: a field `{"field": "country", "op": "eq", '
    '"value": "FR"}` (standard fields by name, `tags`, `custom.<name>`); a list '
    '`{"list": "Newsletter", "status": "subscribed"}`; an activity count '
    '`{"activity": "email_opened", "count": {"op": "gte", "value": 2}, '
    '"within_days": 30}` (optional `where` on the activity\'s data); a custom event '
    'aggregate `{"event": "purchase", "aggregate": "sum", "op": "gte", '
    '"value": 1000, "within_days": 365}` (count, sum, avg, min, max). An invalid tree is '
    "a 422 whose `field` is `conditions` and whose message starts with the bad node's path, "
    'such as `all[1].any[0].op: unknown operator "like"`.'
)


def activity_input_schema(*, with_contact: bool) -> dict[str, Any]:
    """One activity as the API accepts it (the batch also names the contact)."""
    props: dict[str, Any] = {}
    required = ["kind"]
    if with_contact:
        props["contact_id"] = {"type": "integer", "description": "The contact (or `email`)."}
        props["email"] = {
            "type": "string",
            "format": "email",
            "description": "The contact's email (or `contact_id`, not both).",
        }
    props.update(
        {
            "kind": {"type": "string", "enum": list(ACTIVITY_KINDS)},
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601; without an offset it is UTC. Default: now. "
                "At most a day ahead.",
            },
            "subject": {"type": ["string", "null"], "maxLength": MAX_SUBJECT},
            "body": {"type": ["string", "null"], "maxLength": MAX_BODY},
            "data": {
                "type": ["object", "null"],
                "description": f"Free JSON object (at most {MAX_DATA_BYTES} bytes), "
                "for example the clicked `url`; segments can filter on its keys.",
            },
            "name": {
                "type": "string",
                "maxLength": MAX_EVENT_NAME,
                "description": "custom_event only, and required there: the event's name.",
            },
            "value": {
                "type": ["number", "null"],
                "description": "custom_event only: a numeric value (an order's amount).",
            },
            "external_id": {
                "type": ["string", "null"],
                "maxLength": MAX_EXTERNAL_ID,
                "description": "Your id for it: sending it again returns the stored activity "
                "and adds nothing.",
            },
            "source": {
                "type": ["string", "null"],
                "maxLength": MAX_SOURCE,
                "description": "Where it comes from (default `api`).",
            },
        }
    )
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def schemas() -> dict[str, Any]:
    """Every component schema."""
    contact_ids = {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 1,
        "maxItems": MAX_BATCH,
    }
    return {
        "Error": {
            "type": "object",
            "properties": {"error": _ref("ErrorDetail")},
            "required": ["error"],
        },
        "ErrorDetail": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "examples": ["invalid", "not_found"]},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The (first) field at fault."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Every invalid field with its message (422).",
                },
                "current": {
                    "type": "object",
                    "description": "On a version conflict: the values saved meanwhile.",
                },
            },
            "required": ["code", "message"],
        },
        "Contact": contact_schema(),
        "ContactInput": contact_input_schema(),
        "ContactPage": _page("Contact"),
        "BatchInput": {
            "type": "object",
            "properties": {
                "contacts": {
                    "type": "array",
                    "items": _ref("ContactInput"),
                    "maxItems": MAX_BATCH,
                }
            },
            "required": ["contacts"],
        },
        "BatchResult": {
            "type": "object",
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {"type": "string", "enum": ["created", "updated", "error"]},
                            "id": {"type": ["integer", "null"]},
                            "error": _ref("ErrorDetail"),
                        },
                        "required": ["index", "status", "id"],
                    },
                },
                "created": {"type": "integer"},
                "updated": {"type": "integer"},
                "failed": {"type": "integer"},
            },
        },
        "Company": company_schema(output=True),
        "CompanyInput": company_schema(output=False),
        "CompanyPage": _page("Company"),
        "Tag": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string", "maxLength": 100},
                "color": {"type": ["string", "null"], "maxLength": 20},
                "contact_count": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "TagInput": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 100},
                "color": {"type": ["string", "null"], "maxLength": 20},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "TagPage": _page("Tag"),
        "List": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string", "maxLength": 200},
                "description": {"type": ["string", "null"]},
                "member_count": {"type": "integer"},
                "members_by_status": {
                    "type": "object",
                    "properties": {s: {"type": "integer"} for s in SUBSCRIPTION_STATUSES},
                },
                "created_by_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "ListInput": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 200},
                "description": {"type": ["string", "null"]},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "ListPage": _page("List"),
        "ListMember": {
            "type": "object",
            "properties": {
                "contact_id": {"type": "integer"},
                "status": {"type": "string", "enum": list(SUBSCRIPTION_STATUSES)},
                "added_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "contact": _ref("Contact"),
            },
        },
        "ListMemberPage": _page("ListMember"),
        "MembersInput": {
            "type": "object",
            "properties": {
                "contact_ids": contact_ids,
                "status": {
                    "type": "string",
                    "enum": list(SUBSCRIPTION_STATUSES),
                    "default": "subscribed",
                },
            },
            "required": ["contact_ids"],
            "additionalProperties": False,
        },
        "MembersRemoval": {
            "type": "object",
            "properties": {"contact_ids": contact_ids},
            "required": ["contact_ids"],
            "additionalProperties": False,
        },
        "MembersAdded": {
            "type": "object",
            "properties": {
                "added": {"type": "integer"},
                "updated": {"type": "integer"},
                "unchanged": {"type": "integer"},
            },
        },
        "MembersRemoved": {"type": "object", "properties": {"removed": {"type": "integer"}}},
        "Job": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "examples": ["import", "export"]},
                "title": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["queued", "running", "done", "failed", "cancelled"],
                },
                "done": {"type": "integer"},
                "total": {"type": ["integer", "null"]},
                "percent": {"type": ["integer", "null"]},
                "rate": {"type": ["number", "null"], "description": "Items per second."},
                "eta_seconds": {"type": ["integer", "null"]},
                "message": {"type": ["string", "null"]},
                "errors": {"type": "array", "items": {"type": "string"}},
                "result": {"type": ["object", "null"]},
                "cancel_requested": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "started_at": {"type": ["string", "null"], "format": "date-time"},
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "ImportSummary": {
            "type": "object",
            "description": "Rows so far (live while the job runs); merged duplicate rows "
            "of one email count as updated.",
            "properties": {
                "created": {"type": "integer"},
                "updated": {"type": "integer"},
                "unchanged": {"type": "integer"},
                "skipped": {"type": "integer", "description": "Existing emails (policy skip)."},
                "failed": {"type": "integer", "description": "Refused rows (see errors_url)."},
            },
            "required": ["created", "updated", "unchanged", "skipped", "failed"],
        },
        "Import": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "filename": {"type": "string"},
                "size": {"type": "integer", "description": "Bytes."},
                "format": {"type": "string", "enum": ["csv", "vcard"]},
                "encoding": {"type": "string", "examples": ["utf-8", "cp1252"]},
                "delimiter": {"type": ["string", "null"]},
                "state": {"type": "string", "enum": ["draft", "started", "undone"]},
                "total_estimate": {"type": ["integer", "null"]},
                "columns": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "header": {"type": "string"},
                            "target": {
                                "type": ["string", "null"],
                                "description": "Field name, `tags`, `lists`, `custom.<name>`; "
                                "null when the column is not imported.",
                            },
                        },
                    },
                },
                "options": _ref("ImportOptions"),
                "job": {**_ref("Job"), "description": "The import job (progress, result)."},
                "summary": _ref("ImportSummary"),
                "error_count": {"type": "integer"},
                "errors_url": {
                    "type": ["string", "null"],
                    "description": "The refused rows as CSV; null when none were refused.",
                },
                "can_undo": {"type": "boolean"},
                "undo_job": {"oneOf": [_ref("Job"), {"type": "null"}]},
                "user_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "undone_at": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["id", "filename", "state", "columns", "options", "summary"],
        },
        "ImportPage": _page("Import"),
        "ImportOptions": {
            "type": "object",
            "properties": {
                "policy": {
                    "type": "string",
                    "enum": ["update", "skip", "create"],
                    "default": "update",
                    "description": "Existing emails: update them, skip them, or refuse them "
                    "(create only; they go to the error file).",
                },
                "consent_status": {
                    "type": "string",
                    "enum": list(CONSENT_STATUSES),
                    "description": "For contacts the file leaves without one.",
                },
                "consent_type": {
                    "type": "string",
                    "enum": list(CONSENT_TYPES),
                    "default": "imported",
                },
                "source": {"type": "string", "maxLength": 200},
                "owner": {
                    "type": ["string", "integer"],
                    "description": "A user's email or id, for contacts without an owner.",
                },
                "tags": {
                    "type": ["array", "string"],
                    "items": {"type": "string", "maxLength": 100},
                    "description": "Tags for every imported contact (a list or comma-separated).",
                },
                "lists": {
                    "type": "array",
                    "items": {"type": ["integer", "string"]},
                    "description": "Existing lists (ids or names) to add every contact to.",
                },
                "list_status": {
                    "type": "string",
                    "enum": list(SUBSCRIPTION_STATUSES),
                    "default": "subscribed",
                },
            },
        },
        "ImportUpload": {
            "type": "object",
            "properties": {
                "file": {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                    "description": "A .csv, .tsv, .txt or .vcf file.",
                },
                "mapping": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": 'JSON: a list with one target per column ("" skips it), '
                    'or an object {"Header": "field"} overriding the suggested mapping. '
                    "Targets: field names, `tags`, `lists`, `custom.<name>`, "
                    "`new:<label>` (creates a text custom field).",
                },
                "options": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "JSON object, see ImportOptions.",
                },
            },
            "required": ["file"],
        },
        "Activity": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "contact_id": {"type": ["integer", "null"]},
                "kind": {"type": "string", "enum": list(ACTIVITY_KINDS)},
                "occurred_at": {"type": "string", "format": "date-time", "description": "UTC."},
                "subject": {"type": ["string", "null"]},
                "body": {"type": ["string", "null"]},
                "data": {"type": ["object", "null"]},
                "name": {"type": ["string", "null"], "description": "A custom event's name."},
                "value": {"type": ["number", "null"], "description": "A custom event's value."},
                "source": {"type": ["string", "null"], "examples": ["api", "gmail"]},
                "external_id": {"type": ["string", "null"]},
                "user_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "contact_id", "kind", "occurred_at"],
        },
        "ActivityInput": activity_input_schema(with_contact=False),
        "ActivityBatchItem": activity_input_schema(with_contact=True),
        "ActivityPage": _page("Activity"),
        "ActivityBatchInput": {
            "type": "object",
            "properties": {
                "activities": {
                    "type": "array",
                    "items": _ref("ActivityBatchItem"),
                    "maxItems": MAX_BATCH,
                }
            },
            "required": ["activities"],
            "additionalProperties": False,
        },
        "ActivityBatchResult": {
            "type": "object",
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {"type": "string", "enum": ["created", "existing"]},
                            "id": {"type": "integer"},
                            "activity": _ref("Activity"),
                        },
                        "required": ["index", "status", "id", "activity"],
                    },
                },
                "created": {"type": "integer"},
                "existing": {
                    "type": "integer",
                    "description": "Items whose external_id was already stored (or repeated "
                    "earlier in the batch): answered, not added again.",
                },
            },
            "required": ["data", "created", "existing"],
        },
        "Conditions": {
            "type": "object",
            "description": CONDITIONS_DOC,
            "examples": [
                {
                    "all": [
                        {"field": "country", "op": "eq", "value": "FR"},
                        {
                            "any": [
                                {"field": "tags", "op": "contains", "value": "vip"},
                                {
                                    "event": "purchase",
                                    "aggregate": "sum",
                                    "op": "gte",
                                    "value": 1000,
                                    "within_days": 365,
                                },
                            ]
                        },
                        {
                            "not": {
                                "activity": "email_bounced",
                                "count": {"op": "gte", "value": 1},
                            }
                        },
                    ]
                }
            ],
        },
        "Segment": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string", "maxLength": 200},
                "conditions": _ref("Conditions"),
                "timezone": {"type": "string", "examples": ["UTC", "Europe/Paris"]},
                "count": {
                    "type": ["integer", "null"],
                    "description": "Contacts matching now (archived ones excluded); only "
                    "when one segment is read or written, not in the list. null when the "
                    "stored tree no longer applies (see `error`).",
                },
                "error": {
                    "type": "string",
                    "description": "Why the stored tree cannot be evaluated any more "
                    "(a custom field it uses was deleted or changed type).",
                },
                "owner_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "name", "conditions", "timezone"],
        },
        "SegmentInput": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 200},
                "conditions": _ref("Conditions"),
                "timezone": {
                    "type": "string",
                    "default": "UTC",
                    "description": "IANA name; dates in the conditions are days in this zone.",
                },
            },
            "required": ["name", "conditions"],
            "additionalProperties": False,
        },
        "SegmentPatch": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 200},
                "conditions": _ref("Conditions"),
                "timezone": {"type": ["string", "null"], "description": "null means UTC."},
            },
            "additionalProperties": False,
        },
        "SegmentPage": _page("Segment"),
        "SegmentPreviewInput": {
            "type": "object",
            "properties": {
                "conditions": _ref("Conditions"),
                "timezone": {"type": "string", "default": "UTC"},
            },
            "required": ["conditions"],
            "additionalProperties": False,
        },
        "SegmentCount": {
            "type": "object",
            "properties": {"count": {"type": "integer"}},
            "required": ["count"],
        },
    }


# --- operations ---------------------------------------------------------------


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _error(description: str) -> dict[str, Any]:
    return _json("Error", description)


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


READ_ERRORS = {
    "400": _error("Unknown or invalid query argument."),
    "401": _error("No valid token."),
}
WRITE_ERRORS = {
    "400": _error("Malformed JSON."),
    "401": _error("No valid token."),
    "403": _error("The token's role cannot write (viewer)."),
    "422": _error("Invalid field; `field` names it, `fields` lists them all."),
}
NOT_FOUND = {"404": _error("No such object.")}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


PAGING = [
    _query(
        "limit",
        f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    ),
    _query("cursor", "The `next_cursor` of the previous page."),
]

_DATE = {"type": "string", "format": "date"}
_MANY = "Several values: repeat the argument or separate with commas."
CONTACT_FILTERS: dict[str, dict[str, Any]] = {
    "q": _query("q", "Search names, emails and company (each word as a prefix)."),
    "status": _query("status", f"Status. {_MANY}", {"type": "string", "enum": list(STATUSES)}),
    "tag": _query("tag", f"Has every tag given (by name). {_MANY}"),
    "company": _query("company", "Company id.", {"type": "integer"}),
    "owner": _query("owner", "Owner user id, `me` or `none`."),
    "source": _query("source", "Source, exactly."),
    "score_min": _query("score_min", "Lead score at least.", {"type": "integer"}),
    "score_max": _query("score_max", "Lead score at most.", {"type": "integer"}),
    "consent": _query(
        "consent", f"Consent status. {_MANY}", {"type": "string", "enum": list(CONSENT_STATUSES)}
    ),
    "created_from": _query("created_from", "Created on or after (UTC day).", _DATE),
    "created_to": _query("created_to", "Created on or before (UTC day).", _DATE),
    "contacted_from": _query("contacted_from", "Last contacted on or after.", _DATE),
    "contacted_to": _query("contacted_to", "Last contacted on or before.", _DATE),
    "activity_from": _query("activity_from", "Last activity on or after.", _DATE),
    "activity_to": _query("activity_to", "Last activity on or before.", _DATE),
    "list": _query("list", "Member of this list id.", {"type": "integer"}),
    "archived": _query(
        "archived",
        "Archived contacts: hidden by default, `include` or `only`.",
        {"type": "string", "enum": ["hide", "include", "only"]},
    ),
    "id": _query("id", f"Only these contact ids. {_MANY}"),
    "sort": _query(
        "sort",
        f"Sort field, `-` first for descending (default `{DEFAULT_SORT}`); also `cf.<name>`.",
        {
            "type": "string",
            "examples": [f"{p}{k}" for k in COLUMN_SORTS for p in ("", "-")],
        },
    ),
}
CUSTOM_FILTERS = (
    "Custom fields filter as `cf.<name>=value` (text, select, boolean; repeat for any of), "
    "`cf.<name>.min` / `.max` (number) and `cf.<name>.from` / `.to` (date). "
    "An unknown argument or an invalid value is a 400 naming it."
)


def contact_filters() -> list[dict[str, Any]]:
    """The list's query parameters: every argument the contact query accepts."""
    out = []
    for name in sorted(PARAMS - {"cols"}, key=lambda n: (n in ("limit", "cursor"), n)):
        if name in ("limit", "cursor"):
            continue
        out.append(CONTACT_FILTERS.get(name) or _query(name, name))
    return out + PAGING


def operations() -> dict[str, dict[str, Any]]:
    """The OpenAPI operation of each API endpoint, by Flask endpoint name."""
    contact = _json("Contact", "The contact.")
    return {
        "api.contacts_list": {
            "tags": ["contacts"],
            "description": CUSTOM_FILTERS,
            "parameters": contact_filters(),
            "responses": {"200": _json("ContactPage", "A page of contacts."), **READ_ERRORS},
        },
        "api.contacts_upsert": {
            "tags": ["contacts"],
            "description": "Upsert by email (required): a new email creates the contact, "
            "a known one updates the fields given (null clears, missing leaves).",
            "requestBody": _body("ContactInput"),
            "responses": {
                "200": _json("Contact", "Updated."),
                "201": _json("Contact", "Created."),
                **WRITE_ERRORS,
                "403": _error("Viewer role, or the contact limit is reached (`limit_reached`)."),
            },
        },
        "api.contacts_batch": {
            "tags": ["contacts"],
            "description": f"Up to {MAX_BATCH} upserts; one bad item does not stop the others.",
            "requestBody": _body("BatchInput"),
            "responses": {
                "200": _json("BatchResult", "One result per item, in order."),
                **WRITE_ERRORS,
                "413": _error(f"More than {MAX_BATCH} items."),
            },
        },
        "api.contacts_get": {
            "tags": ["contacts"],
            "responses": {"200": contact, **READ_ERRORS, **NOT_FOUND},
        },
        "api.contacts_patch": {
            "tags": ["contacts"],
            "parameters": [
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": "The version (ETag) you last read; a stale one is a 409.",
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": _body("ContactInput"),
            "responses": {
                "200": contact,
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _error("Changed since you read it (`current` holds the saved values)."),
            },
        },
        "api.contacts_delete": {
            "tags": ["contacts"],
            "responses": {"204": {"description": "Deleted."}, **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.companies_list": {
            "tags": ["companies"],
            "parameters": [_query("q", "Name or domain contains."), *PAGING],
            "responses": {"200": _json("CompanyPage", "A page of companies."), **READ_ERRORS},
        },
        "api.companies_create": {
            "tags": ["companies"],
            "requestBody": _body("CompanyInput"),
            "responses": {"201": _json("Company", "Created."), **WRITE_ERRORS},
        },
        "api.companies_get": {
            "tags": ["companies"],
            "responses": {"200": _json("Company", "The company."), **READ_ERRORS, **NOT_FOUND},
        },
        "api.companies_patch": {
            "tags": ["companies"],
            "requestBody": _body("CompanyInput"),
            "responses": {
                "200": _json("Company", "Saved."),
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _error("Stale version."),
            },
        },
        "api.companies_delete": {
            "tags": ["companies"],
            "responses": {"204": {"description": "Deleted."}, **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.tags_list": {
            "tags": ["tags"],
            "parameters": PAGING,
            "responses": {"200": _json("TagPage", "A page of tags."), **READ_ERRORS},
        },
        "api.tags_create": {
            "tags": ["tags"],
            "requestBody": _body("TagInput"),
            "responses": {
                "201": _json("Tag", "Created."),
                **WRITE_ERRORS,
                "409": _error("The tag exists."),
            },
        },
        "api.tags_delete": {
            "tags": ["tags"],
            "responses": {"204": {"description": "Deleted."}, **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.lists_list": {
            "tags": ["lists"],
            "parameters": PAGING,
            "responses": {"200": _json("ListPage", "A page of lists."), **READ_ERRORS},
        },
        "api.lists_create": {
            "tags": ["lists"],
            "requestBody": _body("ListInput"),
            "responses": {
                "201": _json("List", "Created."),
                **WRITE_ERRORS,
                "409": _error("The name is in use."),
            },
        },
        "api.lists_get": {
            "tags": ["lists"],
            "responses": {"200": _json("List", "The list."), **READ_ERRORS, **NOT_FOUND},
        },
        "api.lists_delete": {
            "tags": ["lists"],
            "responses": {"204": {"description": "Deleted."}, **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.lists_members": {
            "tags": ["lists"],
            "parameters": [
                _query(
                    "status",
                    "Only members with this status.",
                    {"type": "string", "enum": list(SUBSCRIPTION_STATUSES)},
                ),
                *PAGING,
            ],
            "responses": {
                "200": _json("ListMemberPage", "A page of members."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.lists_add_members": {
            "tags": ["lists"],
            "requestBody": _body("MembersInput"),
            "responses": {
                "200": _json("MembersAdded", "Counts of what changed."),
                **WRITE_ERRORS,
                **NOT_FOUND,
                "413": _error(f"More than {MAX_BATCH} ids."),
            },
        },
        "api.lists_remove_members": {
            "tags": ["lists"],
            "requestBody": _body("MembersRemoval"),
            "responses": {
                "200": _json("MembersRemoved", "How many were removed."),
                **WRITE_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.imports_create": {
            "tags": ["imports"],
            "description": "The file is read (encoding, separator and header found "
            "automatically), each column mapped by the suggestion unless `mapping` says "
            "otherwise, then the import job is queued. Follow `job` with GET "
            "/api/v1/imports/{id}. Nothing is stored when the file, the mapping or an option "
            "is refused: the 422 names `file`, `mapping` (with `columns`: the message per "
            "column) or `options.<name>`.",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": _ref("ImportUpload"),
                        "encoding": {
                            "mapping": {"contentType": "application/json"},
                            "options": {"contentType": "application/json"},
                        },
                    }
                },
            },
            "responses": {
                "202": _json("Import", "Queued."),
                **WRITE_ERRORS,
                "413": _error("The file is larger than the upload limit (KONTOR_MAX_UPLOAD_MB)."),
            },
        },
        "api.imports_list": {
            "tags": ["imports"],
            "parameters": [
                _query(
                    "state",
                    "Only imports in this state.",
                    {"type": "string", "enum": ["draft", "started", "undone"]},
                ),
                *PAGING,
            ],
            "responses": {
                "200": _json("ImportPage", "A page of imports, newest first."),
                **READ_ERRORS,
            },
        },
        "api.imports_get": {
            "tags": ["imports"],
            "responses": {
                "200": _json("Import", "The import, its job and counts."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.imports_errors": {
            "tags": ["imports"],
            "responses": {
                "200": {
                    "description": "CSV (UTF-8 with BOM): the file's columns, then Row and Error.",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.imports_undo": {
            "tags": ["imports"],
            "description": "Deletes the contacts the import created, puts back the fields it "
            "changed (unless edited since) and removes the tags and list memberships it added. "
            "Once, after the import job finished.",
            "responses": {
                "202": _json("Job", "The undo job."),
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _error("Not finished yet, or undone already."),
            },
        },
        "api.jobs_get": {
            "tags": ["jobs"],
            "responses": {"200": _json("Job", "The job."), **READ_ERRORS, **NOT_FOUND},
        },
        "api.activities_create": {
            "tags": ["activities"],
            "description": "Updates the contact's last activity date (and last contacted "
            "date for email_sent, call and meeting) when the activity is newer.",
            "requestBody": _body("ActivityInput"),
            "responses": {
                "200": _json("Activity", "The activity with this external_id, already stored."),
                "201": _json("Activity", "Created."),
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _error("Saved by someone else at the same moment; try again."),
            },
        },
        "api.activities_batch": {
            "tags": ["activities"],
            "description": f"Up to {MAX_BATCH} activities, each naming its contact by "
            "`contact_id` or `email`. All or nothing: when any item is invalid (or names an "
            "unknown contact) the 422 lists every bad item as `activities[<index>].<field>` "
            "under `fields`, and nothing is stored.",
            "requestBody": _body("ActivityBatchInput"),
            "responses": {
                "200": _json("ActivityBatchResult", "One result per item, in order."),
                **WRITE_ERRORS,
                "409": _error("Saved by someone else at the same moment; try again."),
                "413": _error(f"More than {MAX_BATCH} items."),
            },
        },
        "api.activities_list": {
            "tags": ["activities"],
            "parameters": [
                _query(
                    "kind",
                    f"Only these kinds. {_MANY}",
                    {"type": "string", "enum": list(ACTIVITY_KINDS)},
                ),
                *PAGING,
            ],
            "responses": {
                "200": _json("ActivityPage", "Newest first."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.segments_list": {
            "tags": ["segments"],
            "parameters": PAGING,
            "responses": {
                "200": _json("SegmentPage", "Segments by name, each with its live count."),
                **READ_ERRORS,
            },
        },
        "api.segments_create": {
            "tags": ["segments"],
            "requestBody": _body("SegmentInput"),
            "responses": {
                "201": _json("Segment", "Created, with the number of contacts it matches."),
                **WRITE_ERRORS,
                "409": _error("Saved by someone else at the same moment; try again."),
            },
        },
        "api.segments_get": {
            "tags": ["segments"],
            "responses": {
                "200": _json("Segment", "The segment and its live count."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.segments_patch": {
            "tags": ["segments"],
            "requestBody": _body("SegmentPatch"),
            "description": "Change the fields given.",
            "responses": {"200": _json("Segment", "Saved."), **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.segments_delete": {
            "tags": ["segments"],
            "responses": {"204": {"description": "Deleted."}, **WRITE_ERRORS, **NOT_FOUND},
        },
        "api.segments_contacts": {
            "tags": ["segments"],
            "description": "Evaluated now; ordered by contact id.",
            "parameters": PAGING,
            "responses": {
                "200": _json("ContactPage", "A page of the contacts it matches."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.segments_preview": {
            "tags": ["segments"],
            "description": "Counts the contacts a tree matches without saving it "
            "(viewers may call it).",
            "requestBody": _body("SegmentPreviewInput"),
            "responses": {
                "200": _json("SegmentCount", "How many contacts match now."),
                "400": _error("Malformed JSON."),
                "401": _error("No valid token."),
                "422": _error("Invalid tree: `field` is `conditions` (or `timezone`)."),
            },
        },
        "api.openapi": {
            "tags": ["meta"],
            "security": [],
            "responses": {"200": {"description": "This document."}},
        },
    }


_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    """/api/v1/contacts/<int:contact_id> -> /api/v1/contacts/{contact_id}"""
    return _ARG.sub(r"{\2}", rule)


def _capability_docs() -> list[Any]:
    """The `app/api/doc_<capability>.py` modules: each has TAG, operations(), schemas().

    A capability documents its endpoints in its own module instead of growing this one.
    """
    import app.api as api_package

    return [
        importlib.import_module(f"app.api.{info.name}")
        for info in sorted(pkgutil.iter_modules(api_package.__path__), key=lambda i: i.name)
        if info.name.startswith("doc_")
    ]


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of the API routes of `app`.

    Paths come from the URL map and summaries from the views' docstrings; an
    endpoint without an entry in `operations()` (or a doc_ module's) is left out
    (a test catches it).
    """
    ops = operations()
    all_schemas = schemas()
    extra_tags = []
    for module in _capability_docs():
        ops.update(module.operations())
        all_schemas.update(module.schemas())
        if module.TAG not in extra_tags:
            extra_tags.append(module.TAG)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api.") or rule.endpoint not in ops:
            continue
        view = app.view_functions[rule.endpoint]
        doc = (view.__doc__ or "").strip().splitlines()
        op = {"operationId": rule.endpoint.removeprefix("api."), "summary": doc[0] if doc else ""}
        op.update(ops[rule.endpoint])
        converters = {name: conv for conv, name in _ARG.findall(rule.rule)}
        path_params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if converters.get(name) == "int" else "string"},
            }
            for name in sorted(rule.arguments)
        ]
        if path_params:
            op["parameters"] = path_params + op.get("parameters", [])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kontor API",
            "version": API_VERSION,
            "description": "Contacts, companies, tags, lists, segments and timeline "
            "activities of a Kontor instance. "
            "Send `Authorization: Bearer <token>` (create one with `kontor tokens create "
            "EMAIL`). Viewers read; members and admins also write. Lists answer "
            '`{"data": [...], "next_cursor": ...}`; errors answer '
            '`{"error": {"code", "message", "field"}}`.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": n}
            for n in (
                "contacts",
                "companies",
                "tags",
                "lists",
                "segments",
                "activities",
                "imports",
                "jobs",
                *extra_tags,
                "meta",
            )
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": all_schemas,
        },
    }


@bp.get("/openapi.json")
@public
def openapi():
    """This API's OpenAPI 3.1 description (no token needed)."""
    return jsonify(document(current_app))
