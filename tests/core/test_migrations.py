"""Migrations build exactly the models' schema, on SQLite and on PostgreSQL, and go back down."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import need, port_open

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1/kontor_migration_test"


def _fresh_postgres() -> str:
    need(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS kontor_migration_test"))
        conn.execute(text("CREATE DATABASE kontor_migration_test"))
    admin.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    return _fresh_postgres()


def _diff(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": _include},
        )
        return compare_metadata(context, db.metadata)


def _include(obj, name, type_, reflected, compare_to):
    return not (name or "").startswith(("contacts_fts", "ix_contacts_search_tsv", "alembic"))


def test_upgrade_matches_models_and_downgrades(url, tmp_path):
    os.environ.setdefault("KONTOR_INSTANCE", str(tmp_path))
    app = create_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"contacts", "companies", "activities", "deals", "jobs", "audit_entries"} <= tables
        if url.startswith("sqlite"):
            assert "contacts_fts" in tables
        else:
            with db.engine.connect() as conn:
                assert conn.execute(
                    text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_contacts_search_tsv'")
                ).scalar()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()
