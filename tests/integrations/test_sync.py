"""Syncing a connected account through the core: idempotent re-runs, resuming after an
interruption, retries that honour Retry-After, two-way conflicts (newest change wins, on
the timeline), pushes of local changes, and the schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.contacts import service
from app.contacts.models import Contact
from app.extensions import db
from app.integrations import sync
from app.integrations.models import ConnectedAccount, ContactLink
from app.jobs import runner
from app.jobs.models import Job
from app.timeline.models import Activity
from app.timeutil import utcnow
from tests.integrations.conftest import stamp

ROOT = Path(__file__).resolve().parents[2]


def snapshot() -> dict:
    """What a sync leaves in the database, ids aside."""
    contacts = sorted(
        (c.email, c.first_name, c.last_name, c.job_title)
        for c in db.session.scalars(select(Contact))
    )
    links = sorted(
        (email, remote)
        for email, remote in db.session.execute(
            select(Contact.email, ContactLink.remote_id).join(
                ContactLink, ContactLink.contact_id == Contact.id
            )
        )
    )
    activities = sorted(
        (a.kind, a.external_id, a.subject)
        for a in db.session.scalars(select(Activity).where(Activity.source == "minicrm"))
    )
    return {"contacts": contacts, "links": links, "activities": activities}


def seed(crm, n: int = 5, messages: int = 5) -> None:
    for i in range(n):
        crm.add(f"person{i}@example.com", first_name=f"P{i}", last_name="Doe")
    for i in range(messages):
        crm.messages.append(
            {
                "id": f"m{i}",
                "from": "owner@minicrm.test" if i % 2 else f"person{i}@example.com",
                "to": [f"person{i}@example.com"] if i % 2 else ["owner@minicrm.test"],
                "subject": f"Hello {i}",
                "at": stamp(-60 + i),
            }
        )


def no_sleep(waits: list):
    return {"sleep": waits.append}


def test_a_full_sync_twice_gives_the_same_database(app, crm, connect):
    seed(crm)
    crm.messages.append(
        {"id": "news", "from": "news@lists.example.com", "to": ["owner@minicrm.test"],
         "subject": "Digest", "at": stamp(-5), "list": True}
    )  # fmt: skip
    account_id = connect()
    with app.app_context():
        first = sync.sync_account(account_id, ["contacts", "activities"])
        assert first["created"] == 5 and first["activities"] == 5
        once = snapshot()
        assert len(once["links"]) == 5
        # Mail from a list never creates a contact.
        assert db.session.scalar(select(Contact).where(Contact.email.like("news@%"))) is None
        again = sync.sync_account(account_id, ["contacts", "activities"])
        assert again["created"] == 0 and again["activities"] == 0
        assert snapshot() == once
        account = db.session.get(ConnectedAccount, account_id)
        assert account.status == "connected" and account.last_sync_at is not None
        assert account.details == {"Plan": "free"}


def test_an_interrupted_sync_resumes_to_the_same_database(app, crm, connect):
    seed(crm, n=7, messages=0)
    account_id = connect()
    # The third page keeps failing (5xx after every retry): the sync stops there.
    crm.fail["/api/contacts"] = [(503, {"error": "busy"})] * 3
    waits: list = []
    with app.app_context():
        with pytest.raises(sync.SyncFailed, match="503"):
            sync.sync_account(
                account_id, ["contacts"], http_options={"sleep": waits.append, "max_retries": 2}
            )
        account = db.session.get(ConnectedAccount, account_id)
        assert account.status == "error" and "503" in account.errors[0]["message"]
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
        assert waits == [1, 2]  # backoff without Retry-After

    # Two pages land, then the provider fails again.
    calls = {"n": 0}
    original = crm.routes[("GET", "/api/contacts")]

    def flaky(call):
        calls["n"] += 1
        return (500, {"error": "boom"}) if calls["n"] == 3 else original(call)

    crm.route("GET", "/api/contacts", flaky)
    with app.app_context():
        with pytest.raises(sync.SyncFailed):
            sync.sync_account(account_id, ["contacts"], http_options={"max_retries": 0})
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 4
        crm.route("GET", "/api/contacts", original)
        result = sync.sync_account(account_id, ["contacts"])
        assert result["created"] == 3  # resumed after the last page saved
        resumed = snapshot()
        # An uninterrupted sync from scratch gives the same database.
        db.session.execute(ContactLink.__table__.delete())
        for contact in db.session.scalars(select(Contact)):
            db.session.delete(contact)
        db.session.get(ConnectedAccount, account_id).sync_cursor = None
        db.session.commit()
        sync.sync_account(account_id, ["contacts"])
        assert snapshot() == resumed


def test_a_sync_killed_halfway_resumes_where_it_stopped(app, crm, connect, database_url):
    """A real kill: the sync runs in another process, which is killed while it waits for
    the provider's fourth page; a new run finishes with nothing lost or repeated."""
    seed(crm, n=8, messages=0)
    account_id = connect()
    blocked, release = threading.Event(), threading.Event()
    original = crm.routes[("GET", "/api/contacts")]
    calls = {"n": 0}

    def slow(call):
        calls["n"] += 1
        if calls["n"] == 4:
            blocked.set()
            release.wait(20)
        return original(call)

    crm.route("GET", "/api/contacts", slow)
    script = (
        "import sys\n"
        "from app import create_app\n"
        "from app.integrations import plugins, sync\n"
        "from tests.integrations import minicrm\n"
        "app = create_app(SQLALCHEMY_DATABASE_URI=sys.argv[1], JOBS_QUEUE='manual')\n"
        "app.config['INTEGRATIONS']['minicrm'] = {'base_url': sys.argv[2]}\n"
        "with app.app_context():\n"
        "    plugins.load(extra=[('minicrm', minicrm)])\n"
        "    sync.sync_account(int(sys.argv[3]), ['contacts'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, database_url, crm.url + "/api/", str(account_id)],
        cwd=ROOT,
        env=env,
    )
    try:
        assert blocked.wait(30), "the sync never reached the fourth page"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    with app.app_context():
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 6
        crm.route("GET", "/api/contacts", original)
        result = sync.sync_account(account_id, ["contacts"])
        assert result["created"] == 2
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 8
        assert len(snapshot()["links"]) == 8


def test_429_waits_as_long_as_retry_after_says(app, crm, connect):
    seed(crm, n=2, messages=0)
    account_id = connect()
    crm.fail["/api/contacts"] = [(429, {"error": "slow down"}, {"Retry-After": "7"})]
    waits: list = []
    with app.app_context():
        result = sync.sync_account(account_id, ["contacts"], http_options={"sleep": waits.append})
        assert waits == [7.0]
        assert result["created"] == 2


def test_a_long_retry_after_stops_and_reschedules_the_sync(app, crm, connect):
    seed(crm, n=2, messages=0)
    account_id = connect()
    crm.fail["/api/contacts"] = [(429, {"error": "quota"}, {"Retry-After": "3600"})]
    with app.app_context():
        with pytest.raises(sync.SyncFailed, match="429"):
            sync.sync_account(account_id, ["contacts"], http_options={"sleep": pytest.fail})
        account = db.session.get(ConnectedAccount, account_id)
        assert account.status == "error"
        wait = (account.next_sync_at - utcnow()).total_seconds()
        assert 3500 < wait <= 3600


def test_newest_change_wins_a_conflict_and_the_timeline_says_so(app, crm, connect):
    ann = crm.add("ann@example.com", first_name="Ann", job_title="Buyer", updated_at=stamp(-10))
    bob = crm.add("bob@example.com", first_name="Bob", job_title="Clerk", updated_at=stamp(-10))
    account_id = connect()
    with app.app_context():
        sync.sync_account(account_id, ["contacts"])
        local_ann = db.session.scalar(select(Contact).where(Contact.email == "ann@example.com"))
        local_bob = db.session.scalar(select(Contact).where(Contact.email == "bob@example.com"))
        # Bob changed at the provider, then both edited in Kontor, then Ann changed at
        # the provider: for Ann the provider's change is the newer, for Bob Kontor's.
        crm.change(bob["id"], minutes=-5, job_title="Intern")
        service.update_contact(local_ann, {"job_title": "Head of buying"}, via="web")
        service.update_contact(local_bob, {"job_title": "Manager"}, via="web")
        db.session.commit()
        crm.change(ann["id"], minutes=5, job_title="Chief buyer")
        result = sync.sync_account(account_id, ["contacts"])
        assert result["conflicts"] == 2
        db.session.expire_all()
        assert local_ann.job_title == "Chief buyer"  # the provider's change was newer
        assert local_bob.job_title == "Manager"  # Kontor's change was newer
        conflicts = {
            a.contact_id: a.data["winner"]
            for a in db.session.scalars(
                select(Activity).where(Activity.event_name == "sync_conflict")
            )
        }
        assert conflicts == {local_ann.id: "provider", local_bob.id: "kontor"}
        # Bob's newer local value is what the push sends; Ann is in step, not sent.
        crm.calls.clear()
        pushed = sync.sync_account(account_id, ["push"])
        sent = [c for call in crm.calls_to("/api/contacts/batch") for c in call.json["contacts"]]
        assert [(c["email"], c["job_title"]) for c in sent] == [("bob@example.com", "Manager")]
        assert pushed["pushed"] == 1
        assert crm.people[bob["id"]]["job_title"] == "Manager"


def test_push_sends_local_changes_once_and_links_new_contacts(app, crm, connect, client):
    crm.add("ann@example.com", first_name="Ann")
    account_id = connect()
    with app.app_context():
        sync.sync_account(account_id, ["contacts"])
        assert sync.sync_account(account_id, ["push"])["pushed"] == 0  # in step already
        new = service.create_contact({"email": "zoe@example.com", "first_name": "Zoe"})
        db.session.commit()
        assert sync.sync_account(account_id, ["push"])["pushed"] == 1
        remote = [p for p in crm.people.values() if p["email"] == "zoe@example.com"]
        assert len(remote) == 1
        link = db.session.scalar(select(ContactLink).where(ContactLink.contact_id == new.id))
        assert link.remote_id == remote[0]["id"]
        assert sync.sync_account(account_id, ["push"])["pushed"] == 0
        # Pulling it back is not a change.
        assert sync.sync_account(account_id, ["contacts"])["created"] == 0


def test_a_contact_deleted_at_the_provider_is_not_created_there_again(app, crm, connect, api):
    ann = crm.add("ann@example.com", first_name="Ann", updated_at=stamp(-10))
    account_id = connect()
    with app.app_context():
        sync.sync_account(account_id, ["contacts"])
        ann_id = db.session.scalar(select(Contact.id).where(Contact.email == "ann@example.com"))
    crm.change(ann["id"], minutes=-5, deleted=True)
    with app.app_context():
        assert sync.sync_account(account_id, ["contacts"])["unlinked"] == 1
    # Edited in Kontor afterwards: the contact stays, and the push leaves it out.
    edited = api("member").patch(f"/api/v1/contacts/{ann_id}", json={"job_title": "CEO"})
    assert edited.status_code == 200, edited.get_json()
    with app.app_context():
        runner.run_pending()
        assert sync.sync_account(account_id, ["push"])["pushed"] == 0
        assert db.session.get(Contact, ann_id).job_title == "CEO"
    assert [(p["email"], p.get("deleted")) for p in crm.people.values()] == [
        ("ann@example.com", True)
    ]
    # Restored at the provider: in step again, and the next change in Kontor goes out.
    crm.change(ann["id"], minutes=1, deleted=False)
    with app.app_context():
        pulled = sync.sync_account(account_id, ["contacts"])
        assert pulled["created"] == 0 and pulled["unlinked"] == 0
    api("member").patch(f"/api/v1/contacts/{ann_id}", json={"job_title": "Founder"})
    with app.app_context():
        runner.run_pending()
    assert [(p["email"], p.get("job_title")) for p in crm.people.values()] == [
        ("ann@example.com", "Founder")
    ]


def test_a_merged_duplicate_stays_merged_through_later_syncs(app, crm, connect, api):
    """The merged contact's link goes to the survivor: its record at the provider is
    neither pulled in again as a new contact nor joined by a second record on push;
    undo puts the link back."""
    ann = crm.add("ann@gmail.example", first_name="Ann", updated_at=stamp(-10))
    account_id = connect()
    with app.app_context():
        sync.sync_account(account_id, ["contacts"])
        pulled = db.session.scalar(select(Contact.id).where(Contact.email == "ann@gmail.example"))
    made = api("member").post(
        "/api/v1/contacts",
        json={"email": "ann@acme.example", "first_name": "Ann", "last_name": "Lee"},
    )
    kept = made.get_json()["id"]
    merged = api("member").post(f"/api/v1/contacts/{kept}/merge", json={"duplicate_id": pulled})
    assert merged.status_code == 201, merged.get_json()
    with app.app_context():
        runner.run_pending()  # the pushes the changes asked for
        sync.sync_account(account_id, ["push"])
    # The provider's record took the merged values; no second record was created.
    assert [(p["id"], p["email"], p.get("last_name")) for p in crm.people.values()] == [
        (ann["id"], "ann@acme.example", "Lee")
    ]
    crm.change(ann["id"], minutes=5, job_title="Buyer")
    with app.app_context():
        assert sync.sync_account(account_id, ["contacts"])["created"] == 0
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
        assert db.session.get(Contact, kept).job_title == "Buyer"
    # Undo: the restored contact has its link back.
    undone = api("member").post(f"/api/v1/merges/{merged.get_json()['id']}/undo")
    assert undone.status_code == 200, undone.get_json()
    with app.app_context():
        links = db.session.execute(select(ContactLink.contact_id, ContactLink.remote_id)).all()
        assert links == [(pulled, ann["id"])]


def test_merging_two_linked_contacts_keeps_the_survivors_link_until_undone(app, crm, connect, api):
    first = crm.add("ann@acme.example", first_name="Ann", updated_at=stamp(-10))
    second = crm.add("ann@gmail.example", first_name="Ann", updated_at=stamp(-10))
    account_id = connect()
    with app.app_context():
        sync.sync_account(account_id, ["contacts"])
        ids = dict(db.session.execute(select(Contact.email, Contact.id)).all())
    kept, other = ids["ann@acme.example"], ids["ann@gmail.example"]
    merged = api("member").post(f"/api/v1/contacts/{kept}/merge", json={"duplicate_id": other})
    assert merged.status_code == 201, merged.get_json()
    links = select(ContactLink.contact_id, ContactLink.remote_id).order_by(ContactLink.id)
    with app.app_context():
        assert db.session.execute(links).all() == [(kept, first["id"])]
    api("member").post(f"/api/v1/merges/{merged.get_json()['id']}/undo")
    with app.app_context():
        assert db.session.execute(links).all() == [(kept, first["id"]), (other, second["id"])]


def test_a_contact_change_queues_a_push_the_plugin_asked_for(app, crm, connect, api):
    account_id = connect()
    response = api("member").post("/api/v1/contacts", json={"email": "new@example.com"})
    assert response.status_code == 201
    with app.app_context():
        jobs = db.session.scalars(select(Job).where(Job.kind == sync.JOB_KIND)).all()
        assert [j.params["account_id"] for j in jobs] == [account_id]
        assert jobs[0].params["streams"] == ["push"]
        runner.run_pending()
        job = db.session.get(Job, jobs[0].id)
        assert job.status == "done", (job.message, job.errors)
    assert [p["email"] for p in crm.people.values()] == ["new@example.com"]
    # What the sync itself wrote does not echo back.
    with app.app_context():
        assert runner.pending_ids() == []


def test_the_schedule_starts_due_syncs(app, crm, connect):
    account_id = connect()
    with app.app_context():
        account = db.session.get(ConnectedAccount, account_id)
        assert account.next_sync_at is not None  # due at once after connecting
        assert sync.start_due_syncs() == 1
        assert sync.start_due_syncs() == 0  # not twice
        runner.run_pending()
        db.session.expire_all()
        account = db.session.get(ConnectedAccount, account_id)
        wait = (account.next_sync_at - utcnow()).total_seconds()
        assert 9 * 60 < wait <= 10 * 60  # the provider's sync_minutes


def test_a_sync_leaves_tokens_out_of_errors_and_logs(app, crm, connect, caplog):
    account_id = connect(token={"access_token": "very-secret-token", "token_type": "Bearer"})
    crm.fail["/api/contacts"] = [(400, {"error": "bad request"})]
    with app.app_context():
        with pytest.raises(sync.SyncFailed):
            sync.sync_account(account_id, ["contacts"])
        account = db.session.get(ConnectedAccount, account_id)
        raw = db.session.execute(
            text("SELECT token_encrypted FROM connected_accounts WHERE id = :i"), {"i": account_id}
        ).scalar()
        assert "very-secret-token" not in raw
        assert "very-secret-token" not in str(account.errors)
    assert "very-secret-token" not in caplog.text


def test_a_new_contact_is_checked_and_its_page_shows_the_bounce_risk(app, auth, tokens):
    from app.integrations import accounts, plugins
    from app.integrations.fake import FakeProvider
    from tests.integrations import checker

    with FakeProvider() as fake, app.app_context():
        fake.route(
            "GET",
            "/verify",
            lambda call: {"result": "undeliverable" if "bad" in call.arg("email") else "deliverable",
                          "score": 12 if "bad" in call.arg("email") else 97},
        )  # fmt: skip
        plugins.load(extra=[("checker", checker)])
        try:
            app.config["INTEGRATIONS"]["checker"] = {"base_url": fake.url + "/"}
            accounts.connect("checker", secrets={"key": "k-1"}, label="team")
            db.session.commit()
            auth.login("member")
            response = auth.post("/contacts/new", {"email": "bad@example.com", "first_name": "Bo"})
            assert response.status_code == 303
            assert len(runner.pending_ids()) == 1
            runner.run_pending()
            contact = db.session.scalar(select(Contact).where(Contact.email == "bad@example.com"))
            db.session.refresh(contact)
            assert (contact.email_verification, contact.bounce_risk) == ("invalid", "high")
            assert fake.calls_to("/verify")[0].arg("key") == "k-1"
            page = auth.client.get(f"/contacts/{contact.id}").text
            assert "Email check" in page and "Bounce risk: high" in page and "12/100" in page
        finally:
            plugins.load()


def test_a_bad_field_costs_that_field_not_the_contact(app, crm, connect):
    crm.add("long@example.com", first_name="Lea", job_title="x" * 500)
    crm.add("fine@example.com", first_name="Fin", job_title="Buyer")
    account_id = connect()
    with app.app_context():
        result = sync.sync_account(account_id, ["contacts"])
        assert result["created"] == 2
        lea = db.session.scalar(select(Contact).where(Contact.email == "long@example.com"))
        assert (lea.first_name, lea.job_title) == ("Lea", None)
        errors = db.session.get(ConnectedAccount, account_id).errors
        assert "left out job_title" in errors[0]["message"]


def test_a_resumed_check_job_asks_only_for_the_contacts_left(app):
    from app.integrations import accounts, plugins
    from app.integrations.fake import FakeProvider
    from tests.integrations import checker

    with FakeProvider() as fake, app.app_context():
        fake.route("GET", "/verify", lambda call: {"result": "deliverable", "score": 90})
        plugins.load(extra=[("checker", checker)])
        try:
            app.config["INTEGRATIONS"]["checker"] = {"base_url": fake.url + "/"}
            account = accounts.connect("checker", secrets={"key": "k-1"}, label="team")
            ids = [service.create_contact({"email": f"c{i}@example.com"}).id for i in range(3)]
            db.session.commit()
            runner.run_pending()  # the checks contact_event asked for
            assert len(fake.calls_to("/verify")) == 3
            fake.calls.clear()
            # A job killed after its first contact: its checkpoint says where to go on.
            job = runner.create(
                sync.CONTACT_JOB_KIND,
                {"account_id": account.id, "hook": "verify_email", "contact_ids": ids},
            )
            job.checkpoint = {"next": 1}
            db.session.commit()
            runner.run_pending()
            asked = [call.arg("email") for call in fake.calls_to("/verify")]
            assert asked == ["c1@example.com", "c2@example.com"]
            assert db.session.get(Job, job.id).status == "done"
        finally:
            plugins.load()
