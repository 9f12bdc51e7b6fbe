"""The `kontor` command: run, set up, manage users and tokens, seed, benchmark.

Sub-commands sit on a FlaskGroup, so each one runs inside an app context.
"""

from __future__ import annotations

import os
import secrets
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from app import audit
from app.auth.models import ROLES, ApiToken, User
from app.extensions import db


def _create_app():
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Kontor, a self-hosted contact manager and light CRM."""


def upgrade_database() -> None:
    """Apply every migration to the configured database."""
    from flask_migrate import upgrade

    upgrade()


def create_user(email: str, role: str, password: str, name: str | None = None) -> User:
    email = email.strip().lower()
    if db.session.scalar(select(User).where(User.email == email)):
        raise click.ClickException(f"A user with email {email} exists already.")
    user = User(email=email, role=role, name=name)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.id, {"email": email, "role": role}, via="cli")
    db.session.commit()
    return user


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Run background jobs inside this process (no separate `kontor worker` needed).",
)
@with_appcontext
def run_command(host: str, port: int, debug: bool, worker: bool) -> None:
    """Serve Kontor (development server; use gunicorn in production)."""
    app = current_app._get_current_object()
    consumer = None
    if worker:
        from app.jobs.queue import start_in_process

        consumer = start_in_process(app)
    click.echo(f"Kontor is running on http://{host}:{port}/  (Ctrl+C to stop)")
    # app.run() refuses to start inside a `flask`-style CLI command (FLASK_RUN_FROM_CLI).
    from werkzeug.serving import run_simple

    try:
        run_simple(host, port, app, use_reloader=False, use_debugger=debug, threaded=True)
    finally:
        if consumer is not None:
            consumer.stop(graceful=False)


@main.command("worker")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker threads.")
@click.option("--once", is_flag=True, help="Run the jobs queued now, then exit.")
@with_appcontext
def worker_command(workers: int, once: bool) -> None:
    """Run background jobs (imports, exports, scans, syncs) until stopped.

    At start it re-queues jobs whose worker died, so a killed import resumes
    from its last checkpoint.
    """
    from app.jobs import queue, runner

    if once:
        runner.requeue_stalled()
        click.echo(f"{runner.run_pending()} jobs run.")
        return
    click.echo(f"Kontor worker started (pid {os.getpid()}); Ctrl+C to stop.", err=True)
    queue.run_worker(current_app._get_current_object(), workers=workers)


@main.command("setup")
@click.option("--demo/--no-demo", default=True, help="Add demo data to an empty database.")
@with_appcontext
def setup_command(demo: bool) -> None:
    """Migrate the database, create a first admin and demo data when empty."""
    upgrade_database()
    from app.pipeline.stages import ensure_default_stages

    ensure_default_stages()
    if not db.session.scalar(select(func.count()).select_from(User)):
        password = secrets.token_urlsafe(12)
        create_user("admin@example.com", "admin", password, name="Admin")
        click.echo("")
        click.echo("  First admin created. This password is shown once:")
        click.echo("    email:    admin@example.com")
        click.echo(f"    password: {password}")
        click.echo("")
    if demo:
        from app.contacts.models import Contact
        from app.seed import seed

        if not db.session.scalar(select(func.count()).select_from(Contact)):
            counts = seed(contacts=300, activities=1500, seed=1)
            click.echo(f"Demo data added: {counts['contacts']} contacts.")


@main.group("users")
def users_group() -> None:
    """Manage users."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.option("--name", default=None)
@with_appcontext
def users_create(email: str, role: str, name: str | None) -> None:
    """Create a user; the password is read from stdin when piped, else prompted."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.ClickException("The password needs at least 8 characters.")
    user = create_user(email, role, password, name=name)
    click.echo(f"Created {role} {user.email} (id {user.id}).")


@main.group("tokens")
def tokens_group() -> None:
    """Manage API tokens."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def tokens_create(email: str, name: str) -> None:
    """Create an API token for a user; the token alone is printed on the last line."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    row, secret = ApiToken.issue(user, name)
    db.session.add(row)
    db.session.flush()
    audit.record("create", "api_token", row.id, {"user": user.email, "name": name}, via="cli")
    db.session.commit()
    click.echo(f"Token for {user.email} ({user.role}); it is shown only once:", err=True)
    click.echo(secret)


@main.command("seed")
@click.option("--contacts", "n_contacts", default=1000, show_default=True, type=int)
@click.option("--activities", "n_activities", default=0, show_default=True, type=int)
@click.option("--seed", "seed_value", default=1, show_default=True, type=int)
@with_appcontext
def seed_command(n_contacts: int, n_activities: int, seed_value: int) -> None:
    """Add deterministic, realistic demo contacts (and activities)."""
    from app.seed import seed

    counts = seed(contacts=n_contacts, activities=n_activities, seed=seed_value, progress=True)
    click.echo(counts)


@main.command("bench", with_appcontext=False)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.option("--contacts", "n_contacts", type=int, default=None)
@click.option("--requests", "n_requests", type=int, default=None)
@click.option("--rows", "n_rows", type=int, default=None, help="Rows of the import benchmark.")
@click.option(
    "--activities", "n_activities", type=int, default=None, help="Activities to seed (segments)."
)
@click.option("--deals", "n_deals", type=int, default=None, help="Deals to seed (pipeline).")
def bench_command(
    name: str,
    as_json: bool,
    n_contacts: int | None,
    n_requests: int | None,
    n_rows: int | None,
    n_activities: int | None,
    n_deals: int | None,
) -> None:
    """Run the benchmark NAME from bench/ and print its figures."""
    from app.benchmarks import run_benchmark

    run_benchmark(
        name,
        as_json=as_json,
        contacts=n_contacts,
        requests=n_requests,
        rows=n_rows,
        activities=n_activities,
        deals=n_deals,
    )


@main.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "vcard", "json"]), default="csv", show_default=True
)
@click.option("--list", "list_name", default=None, help="Only the members of this list.")
@click.option(
    "--query", default="", help='A contact list filter as in its URL: "status=active&tag=vip".'
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="File.")
@with_appcontext
def export_command(fmt: str, list_name: str | None, query: str, output: str | None) -> None:
    """Export contacts (all but archived ones, a filter's result or a list) to stdout or a file."""
    from app.exports import service
    from app.lists.models import ContactList

    if list_name is not None:
        lst = db.session.scalar(
            select(ContactList).where(func.lower(ContactList.name) == list_name.strip().lower())
        )
        if lst is None:
            raise click.ClickException(f"No list named {list_name!r}.")
        scope = service.Scope("list", list_id=lst.id)
        if query:
            raise click.ClickException("Use --list or --query, not both.")
    else:
        scope = service.Scope("filter" if query else "all", query=query)
    _cq, target, notices = service.resolve(scope)
    if notices:
        raise click.ClickException(" ".join(str(n) for n in notices))
    counter = [0]
    with click.open_file(output or "-", "wb") as stream:
        for chunk in service.export_rows(target, fmt, counter=counter):
            stream.write(chunk.encode("utf-8"))
    service.record_audit(fmt, scope, counter[0], via="cli")
    db.session.commit()
    click.echo(f"Exported {counter[0]} contacts to {output or 'stdout'}.", err=True)


def _register_db_commands() -> None:
    from flask_migrate.cli import db as db_group

    main.add_command(db_group)


_register_db_commands()


def _add_capability_commands() -> None:
    """Commands that live beside the code they drive."""
    from app.dedupe.cli import dedupe_group
    from app.imports.cli import import_command
    from app.integrations.cli import integrations_group, plugins_group
    from app.scoring.cli import scoring_group

    main.add_command(import_command)
    main.add_command(scoring_group)
    main.add_command(dedupe_group)
    main.add_command(plugins_group)
    main.add_command(integrations_group)


_add_capability_commands()
