"""/api/v1/imports: upload and start in one call, follow the job, the error file, undo."""

from __future__ import annotations

import csv
import io
import json
import re

from sqlalchemy import func, select

from app.companies.models import Company
from app.contacts.models import Contact, ContactTag, Tag
from app.contacts.service import create_contact
from app.extensions import db
from app.imports.models import Import
from app.imports.service import upload_dir
from app.jobs import runner as jobs
from app.lists.models import ContactList, ListMembership
from tests.queries import counting_queries

DATA = (
    b"Mail,Given,Surname,Notes\n"
    b"ann@example.com,Ann,Lee,vip\n"
    b"bob@example.com,Bob,Kay,\n"
    b"not-an-email,Cid,Moe,\n"
)


def post_import(api, role="member", data=DATA, name="people.csv", **parts):
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in parts.items()}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return api(role).post("/api/v1/imports", data=form, content_type="multipart/form-data")


def count_imports(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Import))


def stored_files(app) -> int:
    with app.app_context():
        return len(list(upload_dir().iterdir()))


def test_upload_with_a_mapping_override_runs_and_reports(app, api):
    with app.app_context():
        db.session.add(ContactList(name="Newsletter"))
        create_contact({"email": "bob@example.com", "first_name": "Robert"})
        db.session.commit()
    response = post_import(
        api,
        mapping={"Given": "first_name", "Notes": "tags"},
        options={"tags": ["api"], "lists": ["Newsletter"], "policy": "update"},
    )
    assert response.status_code == 202, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/imports/{body['id']}"
    assert body["state"] == "started"
    assert body["columns"] == [
        {"header": "Mail", "target": "email"},
        {"header": "Given", "target": "first_name"},
        {"header": "Surname", "target": "last_name"},
        {"header": "Notes", "target": "tags"},
    ]
    assert body["options"]["tags"] == ["api"]
    assert body["job"]["status"] == "queued" and body["job"]["kind"] == "import"
    assert body["summary"] == dict.fromkeys(
        ("created", "updated", "unchanged", "skipped", "failed"), 0
    )

    with app.app_context():
        jobs.run_pending()
    done = api("viewer").get(f"/api/v1/imports/{body['id']}").json
    assert done["job"]["status"] == "done"
    assert done["summary"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert done["error_count"] == 1 and done["can_undo"] is True
    errors = api("viewer").get(done["errors_url"])
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(errors.data.decode("utf-8-sig"))))
    assert rows[0] == ["Mail", "Given", "Surname", "Notes", "Row", "Error"]
    assert rows[1][:5] == ["not-an-email", "Cid", "Moe", "", "3"]

    with app.app_context():
        ann = db.session.scalar(select(Contact).where(Contact.email == "ann@example.com"))
        assert (ann.first_name, ann.last_name) == ("Ann", "Lee")
        tags = set(
            db.session.scalars(
                select(Tag.name).join(ContactTag).where(ContactTag.contact_id == ann.id)
            )
        )
        assert tags == {"vip", "api"}
        bob = db.session.scalar(select(Contact).where(Contact.email == "bob@example.com"))
        assert bob.first_name == "Bob"
        assert db.session.scalar(select(func.count()).select_from(ListMembership)) == 2

    undo = api("member").post(f"/api/v1/imports/{body['id']}/undo")
    assert undo.status_code == 202
    assert undo.json["kind"] == "import_undo"
    assert undo.headers["Location"] == f"/api/v1/jobs/{undo.json['id']}"
    with app.app_context():
        jobs.run_pending()
    job = api("member").get(f"/api/v1/jobs/{undo.json['id']}").json
    assert job["status"] == "done" and job["result"]["deleted"] == 1
    after = api("member").get(f"/api/v1/imports/{body['id']}").json
    assert after["state"] == "undone" and after["can_undo"] is False
    with app.app_context():
        assert db.session.scalar(select(Contact).where(Contact.email == "ann@example.com")) is None
        bob = db.session.scalar(select(Contact).where(Contact.email == "bob@example.com"))
        assert bob.first_name == "Robert"
        assert db.session.scalar(select(func.count()).select_from(ListMembership)) == 0
    again = api("member").post(f"/api/v1/imports/{body['id']}/undo")
    assert again.status_code == 409


def test_undo_removes_what_the_import_created_that_nothing_uses(app, api, auth):
    with app.app_context():
        create_contact({"email": "old@example.com", "company": "Acme", "tags": ["known"]})
        db.session.commit()
    data = (
        b"Mail,Company,Tags,Lists\n"
        b'ann@example.com,Initech,"fresh-tag, known",Fresh\n'
        b"bob@example.com,Acme,,Kept\n"
        b"cid@example.com,Globex,,\n"
    )
    response = post_import(
        api,
        data=data,
        mapping={"Mail": "email", "Company": "company", "Tags": "tags", "Lists": "lists"},
        options={"tags": ["api"]},
    )
    assert response.status_code == 202, response.json
    body = response.json
    with app.app_context():
        jobs.run_pending()
        globex = db.session.scalar(select(Company.id).where(Company.name == "Globex"))
    # Used since the import: a company edited, a list a segment names, a tag on a
    # contact of someone else's.
    edited = api("member").patch(f"/api/v1/companies/{globex}", json={"domain": "globex.example"})
    assert edited.status_code == 200, edited.json
    segment = {"name": "Kept ones", "conditions": {"list": "Kept"}}
    assert api("member").post("/api/v1/segments", json=segment).status_code == 201
    made = api("member").post(
        "/api/v1/contacts", json={"email": "dan@example.com", "tags": ["api"]}
    )
    assert made.status_code == 201, made.json

    undo = api("member").post(f"/api/v1/imports/{body['id']}/undo").json
    with app.app_context():
        jobs.run_pending()
        companies = set(db.session.scalars(select(Company.name)))
        tags = set(db.session.scalars(select(Tag.name)))
        lists = set(db.session.scalars(select(ContactList.name)))
    assert companies == {"Acme", "Globex"}  # Initech went; Acme was there before
    assert tags == {"known", "api"}  # fresh-tag went
    assert lists == {"Kept"}  # Fresh went
    result = api("member").get(f"/api/v1/jobs/{undo['id']}").json["result"]
    assert result["removed"] == {"companies": 1, "tags": 1, "lists": 1}
    auth.login("member")
    page = auth.client.get(f"/jobs/{undo['id']}").text
    assert re.search(r"New companies deleted</dt><dd data-count=\"companies\">1<", page), page


def test_a_mapping_list_and_new_custom_field(app, api):
    response = post_import(
        api,
        data=b"email;remark\nzed@example.com;hello\n",
        name="z.csv",
        mapping=["email", "new:Remark"],
    )
    assert response.status_code == 202, response.json
    assert response.json["columns"][1]["target"] == "custom.remark"
    with app.app_context():
        jobs.run_pending()
    contact = api("member").get("/api/v1/contacts", query_string={"q": "zed"}).json["data"][0]
    assert contact["custom_fields"] == {"remark": "hello"}


def test_bad_requests_name_the_field_and_store_nothing(app, api):
    files = stored_files(app)
    cases = [
        ({"data": None}, "file"),
        ({"data": b""}, "file"),
        ({"data": b"\x00\x01\x02\xff" * 500}, "file"),
        ({"data": b"PK\x03\x04" + b"\x00" * 100, "name": "book.xlsx"}, "file"),
        ({"mapping": {"Nope": "email"}}, "mapping"),
        ({"mapping": ["email"]}, "mapping"),
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": {"Mail": "", "Given": "first_name"}}, "mapping"),
        ({"mapping": {"Given": "shoe_size"}}, "mapping"),
        ({"options": {"policy": "merge"}}, "options.policy"),
        ({"options": {"lists": ["No such list"]}}, "options.lists"),
        ({"options": {"colour": "red"}}, "options.colour"),
        ({"options": ["update"]}, "options"),
    ]
    for kwargs, field in cases:
        response = post_import(api, **kwargs)
        assert response.status_code == 422, (kwargs, response.json)
        error = response.json["error"]
        assert error["field"] == field, (kwargs, error)
        assert error["message"]
    no_email = post_import(api, mapping={"Mail": ""}).json["error"]
    assert "Map a column to Email" in no_email["message"]
    unknown = post_import(api, mapping={"Given": "shoe_size"}).json["error"]
    assert "shoe_size" in unknown["columns"]["Given"]
    assert count_imports(app) == 0
    assert stored_files(app) == files


def test_upload_limit_and_roles(app, api):
    assert post_import(api, role="viewer").status_code == 403
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    big = post_import(api, data=b"email\n" + b"someone@example.com\n" * 60_000)
    assert big.status_code == 413
    assert big.json["error"]["field"] == "file"
    assert "1 MB" in big.json["error"]["message"]
    assert api("member").get("/api/v1/imports/999").status_code == 404
    assert count_imports(app) == 0


def test_imports_are_listed_newest_first_in_pages(app, api):
    ids = []
    for n in range(3):
        data = DATA if n != 1 else b"Mail\nzoe@example.com\n"
        ids.append(post_import(api, data=data, name=f"file{n}.csv").json["id"])
    with app.app_context():
        jobs.run_pending()
    first = api("viewer").get("/api/v1/imports?limit=2").json
    assert [i["id"] for i in first["data"]] == [ids[2], ids[1]]
    assert [i["filename"] for i in first["data"]] == ["file2.csv", "file1.csv"]
    assert [i["error_count"] for i in first["data"]] == [1, 0]
    assert first["data"][0]["job"]["status"] == "done"
    assert first["data"][0]["summary"]["unchanged"] == 2  # the first import made them
    rest = api("viewer").get(f"/api/v1/imports?limit=2&cursor={first['next_cursor']}").json
    assert [i["id"] for i in rest["data"]] == [ids[0]] and rest["next_cursor"] is None
    assert rest["data"][0]["summary"]["created"] == 2

    assert api("member").post(f"/api/v1/imports/{ids[0]}/undo").status_code == 202
    with app.app_context():
        jobs.run_pending()
    undone = api("viewer").get("/api/v1/imports?state=undone").json["data"]
    assert [i["id"] for i in undone] == [ids[0]]
    bad = api("viewer").get("/api/v1/imports?state=finished")
    assert bad.status_code == 400 and bad.json["error"]["field"] == "state"

    # The same number of queries for a page of one import as for a page of three.
    with counting_queries(app) as statements:
        api("viewer").get("/api/v1/imports?limit=1")
        one = len(statements)
        statements.clear()
        api("viewer").get("/api/v1/imports?limit=3")
        three = len(statements)
    assert one == three


def test_the_imports_api_is_documented(client):
    doc = client.get("/openapi.json").json
    assert {"Import", "ImportSummary"} <= set(doc["components"]["schemas"])
    post = doc["paths"]["/api/v1/imports"]["post"]
    assert "ImportPage" in doc["components"]["schemas"]
    assert "state" in [p["name"] for p in doc["paths"]["/api/v1/imports"]["get"]["parameters"]]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "202" in post["responses"]
