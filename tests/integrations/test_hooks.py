"""Every hook driven through Kontor the way production drives it: the integrations page,
the sync, the contact events and the jobs they queue. The plugin is
tests/integrations/sample_plugin.py, talking to SampleAPI below over real HTTP on
127.0.0.1 (the ``fake_provider`` fixture Kontor ships to plugin authors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from app.companies.models import Company
from app.contacts.models import Contact
from app.extensions import db
from app.integrations import accounts, sync
from app.integrations.models import ConnectedAccount, ContactLink
from app.jobs import runner
from app.jobs.models import Job
from app.timeline.models import Activity
from tests.integrations import sample_plugin

TOKEN = "sk-sample-123"
OWNER = "owner@sample.test"


class SampleAPI:
    """Sample CRM's store and its API (see sample_plugin's docstring), two items a page."""

    PAGE = 2

    def __init__(self, fake) -> None:
        self.fake = fake
        self.token = TOKEN
        self.people: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.verdicts: dict[str, tuple[str, int]] = {}
        self.directory: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.next_id = 100
        for method, path, handler in (
            ("GET", "/api/me", self._me),
            ("GET", "/api/contacts", self._contacts),
            ("POST", "/api/contacts/batch", self._batch),
            ("GET", "/api/messages", self._messages),
            ("GET", "/api/verify", self._verify),
            ("GET", "/api/people", self._people),
        ):
            fake.route(method, path, self._authorized(handler))

    def _authorized(self, handler):
        def answer(call):
            if call.headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"message": "invalid API token"}
            return handler(call)

        return answer

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add(self, email: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        self.seq += 1
        person = {"id": str(self.next_id), "email": email, **fields}
        person.update(updated_at=self.now(), seq=self.seq)
        self.people[person["id"]] = person
        return person

    def mail(self, sender: str, to: list[str], subject: str, **extra: Any) -> None:
        self.messages.append(
            {
                "id": f"m{len(self.messages) + 1}",
                "from": {"email": sender, "name": sender.split("@")[0].title()},
                "to": [{"email": a, "name": None} for a in to],
                "date": self.now(),
                "subject": subject,
                "snippet": f"{subject}...",
                **extra,
            }
        )

    def _page(self, rows: list, call, key: str) -> dict[str, Any]:
        offset = int(call.arg("page_token") or 0)
        chunk = rows[offset : offset + self.PAGE]
        more = offset + self.PAGE < len(rows)
        return {key: chunk, "next_page_token": str(offset + self.PAGE) if more else None}

    def _me(self, call):
        return {"email": OWNER, "plan": "Team", "credits": 42}

    def _contacts(self, call):
        since = int(call.arg("since") or 0)
        rows = sorted((p for p in self.people.values() if p["seq"] > since), key=lambda p: p["seq"])
        return {**self._page(rows, call, "items"), "sync_token": str(self.seq)}

    def _batch(self, call):
        results = []
        for item in call.json["inputs"]:
            if item["id"] in self.people:
                self.seq += 1
                person = self.people[item["id"]]
                person.update(item["properties"], updated_at=self.now(), seq=self.seq)
            else:
                person = self.add(**item["properties"])
            results.append({"ref": item["ref"], "id": person["id"], "updated_at": self.now()})
        return {"results": results, "errors": []}

    def _messages(self, call):
        since = int(call.arg("since") or 0)
        page = self._page(self.messages[since:], call, "messages")
        return {**page, "sync_token": str(len(self.messages))}

    def _verify(self, call):
        result, score = self.verdicts.get(call.arg("email"), ("unknown", 50))
        return {"result": result, "score": score}

    def _people(self, call):
        person = self.directory.get(call.arg("email"))
        if person is None:
            return 404, {"message": "nobody by that address"}
        return {"person": person}


@pytest.fixture
def ctx(app):
    """An app context for the test body (the client's requests push their own)."""
    with app.app_context():
        yield app


@pytest.fixture
def sample(app, fake_provider, kontor_plugin):
    """Sample CRM's fake API, with the sample plugin loaded and pointed at it."""
    sample_plugin.EVENTS.clear()
    kontor_plugin(sample_plugin, "sample")
    app.config["INTEGRATIONS"]["sample"] = {"base_url": fake_provider.url + "/api/"}
    return SampleAPI(fake_provider)


def connect(**settings: Any) -> int:
    """Connect a Sample CRM account (inside an app context) the way the page does."""
    account = accounts.connect("sample", secrets={"token": TOKEN}, settings=settings, label=OWNER)
    db.session.commit()
    return account.id


def fresh() -> None:
    """End the test's transaction so it reads what the client's requests committed."""
    db.session.rollback()


def company(contact: Contact) -> str | None:
    """The name of the contact's company."""
    return db.session.scalar(select(Company.name).where(Company.id == contact.company_id))


def timeline(api, contact_id: int) -> list[tuple[str, str]]:
    """The contact's mail activities as the API lists them: (kind, subject)."""
    answer = api("member").get(
        f"/api/v1/contacts/{contact_id}/activities?kind=email_sent,email_received"
    )
    assert answer.status_code == 200, answer.json
    return sorted((a["kind"], a["subject"]) for a in answer.json["data"])


# --------------------------------------------------------------------------- describe


def test_hook_describe_provider(app, sample, auth):
    auth.login("admin")
    page = auth.client.get("/settings/integrations/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    section = html[html.index('id="provider-sample"') :]
    section = section[: section.index("</section>")]
    assert "Sample CRM" in section
    assert "Not connected" in section
    # auth "api_key": a form with one password field per api_key_fields entry
    assert 'action="/settings/integrations/sample/api-key"' in section
    assert 'type="password" name="token"' in section
    assert "API token" in section

    auth.logout()
    auth.login("member")
    assert auth.client.get("/settings/integrations/").status_code == 403


def test_base_url_comes_from_the_environment(ctx, sample, monkeypatch):
    ctx.config["INTEGRATIONS"].pop("sample")
    monkeypatch.setenv("KONTOR_SAMPLE_BASE_URL", sample.fake.url + "/api/")
    sample.add("ann@example.com")
    result = sync.sync_account(connect(), ["contacts"])
    assert result["created"] == 1


# --------------------------------------------------------------------------- identify


def test_hook_identify_account(app, sample, auth):
    auth.login("admin")
    answer = auth.post("/settings/integrations/sample/api-key", data={"token": f"  {TOKEN} "})
    assert answer.status_code == 302
    html = auth.client.get("/settings/integrations/").get_data(as_text=True)
    assert f"Sample CRM connected as {OWNER}." in html
    assert f"as {OWNER}" in html
    assert "<dt>Plan</dt><dd>Team</dd>" in html
    assert "<dt>Credits left</dt><dd>42</dd>" in html
    # the key went to the provider as the plugin sends it, and is stored encrypted
    assert [c.headers["authorization"] for c in sample.fake.calls_to("/api/me")] == [
        f"Bearer {TOKEN}"
    ]
    with app.app_context():
        account = db.session.scalars(select(ConnectedAccount)).one()
        assert (account.label, account.details) == (OWNER, {"Plan": "Team", "Credits left": "42"})
        assert TOKEN not in account.token_encrypted
        assert accounts.credentials(account) == {"secrets": {"token": TOKEN}}
        # a plugin that pulls gets a first sync right away
        job = db.session.scalars(select(Job).where(Job.kind == sync.JOB_KIND)).one()
        assert job.params["account_id"] == account.id


def test_a_refused_key_connects_nothing(app, sample, auth):
    auth.login("admin")
    auth.post("/settings/integrations/sample/api-key", data={"token": "wrong"})
    html = auth.client.get("/settings/integrations/").get_data(as_text=True)
    assert "Sample CRM refused: invalid API token" in html
    auth.post("/settings/integrations/sample/api-key", data={"token": ""})
    html = auth.client.get("/settings/integrations/").get_data(as_text=True)
    assert "Enter every key Sample CRM needs." in html
    with app.app_context():
        assert db.session.scalar(select(func.count(ConnectedAccount.id))) == 0


# --------------------------------------------------------------------------- contacts


def test_hook_pull_contacts(ctx, sample):
    sample.add("ann@example.com", first_name="Ann", last_name="Lee", title="CTO")
    sample.add("bob@example.com", first_name="Bob", company="Bobco")
    sample.add("cy@example.com", first_name="Cy", title="Chef")
    existing = Contact(email="cy@example.com", first_name="Cyrus", status="active", version=1)
    db.session.add(existing)
    db.session.commit()
    account_id = connect()

    first = sync.sync_account(account_id, ["contacts"])
    assert (first["created"], first["updated"]) == (2, 1)  # cy matched by email
    rows = {c.email: c for c in db.session.scalars(select(Contact))}
    assert sorted(rows) == ["ann@example.com", "bob@example.com", "cy@example.com"]
    ann = rows["ann@example.com"]
    assert (ann.first_name, ann.last_name, ann.job_title) == ("Ann", "Lee", "CTO")
    assert company(rows["bob@example.com"]) == "Bobco"
    cy = rows["cy@example.com"]
    assert (cy.first_name, cy.job_title) == ("Cyrus", "Chef")  # matched by email: gaps filled
    links = dict(db.session.execute(select(ContactLink.remote_id, ContactLink.contact_id)).all())
    assert links == {"101": ann.id, "102": rows["bob@example.com"].id, "103": existing.id}
    # two pages of two: the second asked with the first's page token
    assert [c.arg("page_token") for c in sample.fake.calls_to("/api/contacts")] == [None, "2"]

    second = sync.sync_account(account_id, ["contacts"])
    assert (second["created"], second["updated"]) == (0, 0)
    assert sample.fake.calls_to("/api/contacts")[-1].arg("since") == "3"  # incremental
    assert db.session.scalar(select(func.count(Contact.id))) == 3

    sample.people["101"].update(title="CEO", seq=99, updated_at=sample.now())
    third = sync.sync_account(account_id, ["contacts"])
    assert (third["created"], third["updated"]) == (0, 1)
    db.session.refresh(ann)
    assert ann.job_title == "CEO"


def test_hook_push_contacts(ctx, sample, api):
    sample.add("ann@example.com", first_name="Ann", title="CTO")
    account_id = connect(on_updated="push_contacts")
    sync.sync_account(account_id, ["contacts"])
    ann_id = db.session.scalar(select(Contact.id).where(Contact.email == "ann@example.com"))
    fresh()

    created = api("member").post(
        "/api/v1/contacts", json={"email": "bob@example.com", "first_name": "Bob"}
    )
    assert created.status_code == 201
    bob_id = created.json["id"]
    edited = api("member").patch(f"/api/v1/contacts/{ann_id}", json={"job_title": "CEO"})
    assert edited.status_code == 200
    fresh()
    # the edit made the plugin ask for a push: a sync of the push stream is queued
    job = db.session.scalars(select(Job).where(Job.kind == sync.JOB_KIND)).one()
    assert job.params == {"account_id": account_id, "streams": ["push"]}
    runner.run_pending()

    [batch] = sample.fake.calls_to("/api/contacts/batch")
    sent = {i["ref"]: i for i in batch.json["inputs"]}
    assert set(sent) == {ann_id, bob_id}
    assert (sent[ann_id]["id"], sent[ann_id]["properties"]["title"]) == ("101", "CEO")
    assert (sent[bob_id]["id"], sent[bob_id]["properties"]["email"]) == (None, "bob@example.com")
    assert sample.people["101"]["title"] == "CEO"
    links = dict(db.session.execute(select(ContactLink.contact_id, ContactLink.remote_id)).all())
    assert links == {ann_id: "101", bob_id: "102"}  # the remote id the provider assigned

    sync.sync_account(account_id, ["push"])  # nothing changed since: nothing sent
    assert len(sample.fake.calls_to("/api/contacts/batch")) == 1


# --------------------------------------------------------------------------- activities


def test_hook_pull_activities(ctx, sample, api):
    ann = Contact(email="ann@example.com", first_name="Ann", status="active", version=1)
    db.session.add(ann)
    db.session.commit()
    sample.mail(OWNER, ["ann@example.com"], "Proposal")
    sample.mail("Ann@Example.com", [OWNER, "bob@example.com"], "Re: Proposal")
    sample.mail("news@lists.example.com", [OWNER], "Weekly digest", list_id="weekly")
    account_id = connect()

    first = sync.sync_account(account_id, ["activities"])
    assert first["activities"] == 2
    expected = [("email_received", "Re: Proposal"), ("email_sent", "Proposal")]
    assert timeline(api, ann.id) == expected
    # nobody unknown is created while the account's create_contacts setting is off
    assert db.session.scalar(select(func.count(Contact.id))) == 1

    again = sync.sync_account(account_id, ["activities"])
    assert again["activities"] == 0
    assert timeline(api, ann.id) == expected

    sample.mail("ann@example.com", [OWNER], "Signed")
    sync.sync_account(account_id, ["activities"])
    assert timeline(api, ann.id) == [*expected[:1], ("email_received", "Signed"), expected[1]]
    assert db.session.scalar(select(func.count(Activity.id)).where(Activity.source == "sample"))


def test_pulled_activities_create_people_but_not_mailing_lists(ctx, sample):
    sample.mail("bob@example.com", [OWNER], "Hello")
    sample.mail("news@lists.example.com", [OWNER], "Weekly digest", list_id="weekly")
    sample.mail("no-reply@shop.example.com", [OWNER], "Your order")
    sync.sync_account(connect(create_contacts=True), ["activities"])
    emails = db.session.scalars(select(Contact.email)).all()
    assert emails == ["bob@example.com"]


# --------------------------------------------------------------------------- per contact


def test_hook_verify_email(ctx, sample, api):
    sample.verdicts["gone@example.com"] = ("undeliverable", 3)
    sample.verdicts["ann@example.com"] = ("deliverable", 97)
    connect(on_created="verify_email")
    for email in ("gone@example.com", "ann@example.com"):
        assert api("member").post("/api/v1/contacts", json={"email": email}).status_code == 201
    fresh()
    assert not sample.fake.calls_to("/api/verify")  # nothing until the job runs
    assert runner.run_pending() == 2
    rows = {c.email: c for c in db.session.scalars(select(Contact))}
    gone, ann = rows["gone@example.com"], rows["ann@example.com"]
    assert (gone.email_verification, gone.email_score, gone.bounce_risk) == ("invalid", 3, "high")
    assert (ann.email_verification, ann.email_score, ann.bounce_risk) == ("valid", 97, "low")
    assert ann.email_verified_at is not None


def test_hook_enrich_contact(ctx, sample, api):
    sample.directory["ann@example.com"] = {
        "title": "Head of Sales",
        "organization": "Acme",
        "linkedin": "https://www.linkedin.com/in/ann",
    }
    sample.directory["bob@example.com"] = {"title": "Intern", "organization": "Bobco"}
    connect(on_created="enrich_contact")
    for body in (
        {"email": "ann@example.com"},
        {"email": "bob@example.com", "job_title": "CEO"},
        {"email": "cy@example.com"},  # unknown to the provider: 404, left alone
    ):
        assert api("member").post("/api/v1/contacts", json=body).status_code == 201
    fresh()
    assert runner.run_pending() == 3
    rows = {c.email: c for c in db.session.scalars(select(Contact))}
    ann, bob, cy = rows["ann@example.com"], rows["bob@example.com"], rows["cy@example.com"]
    assert (ann.job_title, company(ann)) == ("Head of Sales", "Acme")
    assert ann.linkedin_url == "https://www.linkedin.com/in/ann"
    assert (bob.job_title, company(bob)) == ("CEO", "Bobco")  # the empty field only
    assert (cy.job_title, company(cy)) == (None, None)
    assert len(sample.fake.calls_to("/api/people")) == 3


# --------------------------------------------------------------------------- events


def test_hook_contact_event(ctx, sample, auth):
    account_id = connect(on_created="verify_email")
    fresh()
    auth.login("member")
    answer = auth.post("/contacts/new", data={"email": "dee@example.com", "first_name": "Dee"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    fresh()
    dee = db.session.scalars(select(Contact).where(Contact.email == "dee@example.com")).one()

    [event] = sample_plugin.EVENTS
    assert event["kind"] == "created"
    assert event["contact_ids"] == [dee.id]
    assert event["via"] == "web"
    assert {"email", "first_name"} <= set(event["fields"])
    assert sample.fake.calls == []  # told without any network
    [job] = db.session.scalars(select(Job).where(Job.kind == sync.CONTACT_JOB_KIND)).all()
    assert job.status == "queued"
    assert job.params == {"account_id": account_id, "hook": "verify_email", "contact_ids": [dee.id]}

    # a change the plugin's own sync made is not sent back to it as work
    sample_plugin.EVENTS.clear()
    sample.add("eve@example.com")
    sync.sync_account(account_id, ["contacts"])
    assert [e["via"] for e in sample_plugin.EVENTS] == ["sync:sample"]
    assert db.session.scalar(select(func.count(Job.id))) == 1
