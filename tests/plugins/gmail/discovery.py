"""Checking requests and fake answers against Google's own API descriptions.

The discovery documents shipped in google-api-python-client (``gmail.v1.json``,
``people.v1.json``) describe every method: HTTP verb, path, query parameters (names,
types, enums, required) and the schema of its answer. :func:`check_request` checks a
request the plugin sent; :func:`check_response` checks a body the fake answered, key by
key and type by type down the schema, so neither side can drift from Google's API.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
# Google's error answers (https://cloud.google.com/apis/design/errors), not in discovery.
ERROR_KEYS = {"code", "message", "status", "errors", "details"}


@functools.cache
def document(name: str) -> dict[str, Any]:
    """A discovery document by file name stem (``gmail.v1``)."""
    return json.loads((DOCUMENTS / f"{name}.json").read_text())


@dataclass(frozen=True)
class Method:
    api: str
    id: str
    http_method: str
    pattern: re.Pattern
    spec: dict[str, Any]


def _methods(resource: dict[str, Any]):
    yield from (resource.get("methods") or {}).values()
    for child in (resource.get("resources") or {}).values():
        yield from _methods(child)


@functools.cache
def methods(api: str) -> tuple[Method, ...]:
    """Every method of an API, each with a regex for its (flat) path."""
    doc = document(api)
    found = []
    for spec in _methods(doc):
        template = doc.get("servicePath", "") + (spec.get("flatPath") or spec["path"])
        regex = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        found.append(Method(api, spec["id"], spec["httpMethod"], re.compile(regex + "$"), spec))
    return tuple(found)


def find_method(api: str, http_method: str, path: str) -> Method:
    """The method `http_method` `path` (relative to the API's root URL) calls."""
    path = path.lstrip("/")
    for method in methods(api):
        if method.http_method == http_method and method.pattern.match(path):
            return method
    raise AssertionError(f"{http_method} {path} is not a method of {api}")


def _check_value(name: str, spec: dict[str, Any], value: str) -> None:
    kind = spec.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{name}={value!r} is not an integer"
    elif kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not a boolean"
    if "enum" in spec:
        assert value in spec["enum"], f"{name}={value!r} is not one of {spec['enum']}"


def check_request(api: str, http_method: str, path: str, query: dict[str, list[str]]) -> Method:
    """Assert that a request calls a method of `api` with parameters it documents
    (names, types, enums, repetition, required ones present). Answers the method."""
    method = find_method(api, http_method, path)
    params = method.spec.get("parameters") or {}
    common = document(api).get("parameters") or {}
    for name, values in query.items():
        spec = params.get(name) or common.get(name)
        assert spec is not None, f"{method.id} has no parameter {name!r}"
        assert spec.get("location", "query") == "query", f"{name} is not a query parameter"
        assert spec.get("repeated") or len(values) == 1, f"{name} given {len(values)} times"
        for value in values:
            _check_value(name, spec, value)
    for name, spec in params.items():
        if spec.get("required") and spec.get("location") == "query":
            assert name in query, f"{method.id} requires {name!r}"
    return method


_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def check_value(api: str, schema: dict[str, Any], value: Any, where: str = "") -> None:
    """Assert that `value` fits `schema` (a discovery schema or ``{"$ref": ...}``):
    known keys only, the documented JSON types, recursively."""
    schemas = document(api)["schemas"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "any" or kind is None:
        return
    expected = _TYPES[kind]
    is_bool = isinstance(value, bool)
    assert isinstance(value, expected) and (kind == "boolean" or not is_bool), (
        f"{where or 'body'}: {value!r} is not of type {kind} ({schema.get('format', '')})"
    )
    if kind == "array":
        for i, item in enumerate(value):
            check_value(api, schema.get("items") or {}, item, f"{where}[{i}]")
    elif kind == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                check_value(api, properties[key], item, f"{where}.{key}")
            elif extra is not None:
                check_value(api, extra, item, f"{where}.{key}")
            else:
                raise AssertionError(f"{where or 'body'}: {key!r} is not a documented field")


def check_response(api: str, method: Method, status: int, body: Any) -> None:
    """Assert that an answer fits the method: a 2xx body its response schema, an error
    Google's error shape."""
    if 200 <= status < 300:
        response = method.spec.get("response")
        if response is None:
            assert body in (None, {}, ""), f"{method.id} answers no body"
        else:
            check_value(api, response, body, method.id)
        return
    assert isinstance(body, dict) and set(body) == {"error"}, f"error body {body!r}"
    error = body["error"]
    assert set(error) <= ERROR_KEYS and error.get("code") == status, f"error {error!r}"
    assert isinstance(error.get("message"), str)
