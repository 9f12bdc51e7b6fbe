"""/openapi.json describes every API route, and the Contact schema matches what the API sends."""

from __future__ import annotations

import re

from app.contacts.fields import EDITABLE


def test_openapi_is_public_and_31(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_api_route_is_documented(app, client):
    doc = client.get("/openapi.json").json
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {path}")
                continue
            assert operation["summary"], path
            assert operation["responses"], path
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(rule.arguments), path
    assert missing == []


def test_contact_schema_matches_the_api_output(api, client):
    doc = client.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    created = (
        api("member").post("/api/v1/contacts", json={"email": "s@example.com", "tags": ["x"]}).json
    )
    assert set(created) == set(schemas["Contact"]["properties"])
    inputs = set(schemas["ContactInput"]["properties"])
    assert {f.name for f in EDITABLE} <= inputs
    assert schemas["Contact"]["properties"]["status"]["enum"][:1] == ["active"]
    assert set(schemas["ContactPage"]["required"]) == {"data", "next_cursor"}
    assert set(schemas["ErrorDetail"]["properties"]) >= {"code", "message", "field"}


def test_every_contact_filter_is_a_documented_parameter(client):
    from app.contacts.query import PARAMS

    doc = client.get("/openapi.json").json
    params = {p["name"] for p in doc["paths"]["/api/v1/contacts"]["get"]["parameters"]}
    assert params == PARAMS - {"cols"}


def test_company_schema_matches_the_api_output(api, client):
    doc = client.get("/openapi.json").json
    company = api("member").post("/api/v1/companies", json={"name": "Acme"}).json
    assert set(company) == set(doc["components"]["schemas"]["Company"]["properties"])
