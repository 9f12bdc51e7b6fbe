"""Kontor: a self-hosted contact manager and light CRM."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Flask, g, has_request_context, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import Config
from app.extensions import (
    CACHE_KB,
    MMAP_SIZE,
    WRITE_INTENT,
    babel,
    csrf,
    db,
    limiter,
    login_manager,
    migrate,
)
from app.integrations.hookspecs import hookimpl  # noqa: F401  (plugins: from app import hookimpl)

ROOT = Path(__file__).resolve().parent.parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection."""
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA cache_size=-{CACHE_KB}")
    # Statement journals in memory: bulk writes (imports) are ~25% faster than with temp
    # files. Big sorting reads switch to files for a while (app.extensions.temp_files).
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute(f"PRAGMA mmap_size={MMAP_SIZE}")  # read pages through the OS cache, no copies
    cur.close()
    # Let SQLAlchemy, not the driver, open transactions, so SAVEPOINTs nest properly.
    dbapi_connection.isolation_level = None


_PG_MEMORY = re.compile(r"\d+\s*(kB|MB|GB)")


@event.listens_for(Engine, "connect")
def _postgres_settings(dbapi_connection, _record) -> None:
    """PostgreSQL session settings for a web app's queries.

    JIT compilation off: it costs 100 ms or more on the big segment counts and never
    pays back on queries this short. work_mem (KONTOR_PG_WORK_MEM, default 64MB): hashes
    of a few hundred thousand contact ids (segments, duplicate scans) stay in memory
    instead of spilling to disk.
    """
    if "psycopg" not in type(dbapi_connection).__module__:
        return
    work_mem = os.environ.get("KONTOR_PG_WORK_MEM", "64MB").strip()
    if not _PG_MEMORY.fullmatch(work_mem):
        raise ValueError(f"KONTOR_PG_WORK_MEM: {work_mem!r} is not like 64MB")
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # no transaction left open by the SETs
    try:
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.execute(f"SET work_mem = '{work_mem}'")
    finally:
        dbapi_connection.autocommit = autocommit


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")


def _select_locale() -> str:
    if not has_request_context():  # CLI and jobs: the default language
        return "en"
    if request.args.get("lang") in ("en", "fr"):
        return request.args["lang"]
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    if user is not None and getattr(user, "locale", None):
        return user.locale
    return request.accept_languages.best_match(["en", "fr"]) or "en"


def _register_cli(app: Flask) -> None:
    """Expose the `kontor` sub-commands on app.cli too (for `flask` and the test runner)."""
    from app.cli import main

    for name, command in main.commands.items():
        if name not in app.cli.commands:
            app.cli.add_command(command, name)


def create_app(config: Config | None = None, **overrides) -> Flask:
    """Build a Kontor app; `overrides` replace config values (tests use this)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str((config or Config()).INSTANCE_DIR),
    )
    cfg = config or Config()
    app.config.from_object(cfg)
    app.config.update(overrides)

    @app.before_request  # first, before anything opens a transaction
    def declare_write_intent() -> None:
        view = app.view_functions.get(request.endpoint or "")
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        g.write_intent = WRITE_INTENT.set(writes and not getattr(view, "reads_only", False))

    @app.teardown_request
    def end_write_intent(_exc) -> None:
        token = g.pop("write_intent", None)
        if token is not None:
            WRITE_INTENT.reset(token)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.config["RATELIMIT_ENABLED"] = app.config.get("RATELIMIT_ENABLED", True)
    limiter.init_app(app)

    from app import models  # noqa: F401  (every table registered with the metadata)
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.companies import bp as companies_bp
    from app.contacts import bp as contacts_bp
    from app.dedupe import bp as dedupe_bp
    from app.exports import bp as exports_bp
    from app.imports import bp as imports_bp
    from app.integrations import bp as integrations_bp
    from app.jobs import bp as jobs_bp
    from app.jobs import queue
    from app.lists import bp as lists_bp
    from app.pipeline import bp as pipeline_bp
    from app.scoring import bp as scoring_bp
    from app.segments import bp as segments_bp
    from app.settings import bp as settings_bp
    from app.timeline import bp as timeline_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(contacts_bp)
    app.register_blueprint(companies_bp)
    app.register_blueprint(lists_bp)
    app.register_blueprint(segments_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(dedupe_bp)
    app.register_blueprint(pipeline_bp)
    app.register_blueprint(scoring_bp)
    app.register_blueprint(timeline_bp)
    app.register_blueprint(integrations_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)

    from app import errors, templating

    queue.init_app(app)
    errors.register(app)
    templating.register(app)
    _register_cli(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.route("/")
    def index():
        if current_user.is_authenticated:
            return redirect(url_for("contacts.index"))
        return redirect(url_for("auth.login"))

    index.required_permission = "public"
    return app
