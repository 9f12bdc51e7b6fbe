"""`kontor bench NAME`: find bench/<name>.py and run its run() function.

bench/ is a top-level folder of the repository, not part of the installed package,
so a benchmark is loaded from its file path under the repository root.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import click

from app import ROOT

BENCH_DIR = ROOT / "bench"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def available() -> list[str]:
    """Names of the benchmarks in bench/ (every module with a run() function)."""
    if not BENCH_DIR.is_dir():
        return []
    return sorted(
        path.stem
        for path in BENCH_DIR.glob("*.py")
        if _NAME.match(path.stem) and "def run(" in path.read_text(encoding="utf-8")
    )


def load(name: str) -> ModuleType:
    """The module bench/<name>.py, imported from its path."""
    path = BENCH_DIR / f"{name}.py"
    if not _NAME.match(name) or not path.is_file():
        known = ", ".join(available()) or "none"
        raise click.ClickException(f'No benchmark named "{name}" (available: {known}).')
    module_name = f"kontor_bench_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    if not callable(getattr(module, "run", None)):
        raise click.ClickException(f"bench/{name}.py has no run() function.")
    return module


def run_benchmark(
    name: str,
    *,
    as_json: bool = False,
    contacts: int | None = None,
    requests: int | None = None,
    rows: int | None = None,
    activities: int | None = None,
    deals: int | None = None,
) -> dict[str, Any]:
    """Run one benchmark (it prints its figures) and return them; options left as None
    keep the benchmark's own defaults."""
    options = {
        "contacts": contacts,
        "requests": requests,
        "rows": rows,
        "activities": activities,
        "deals": deals,
    }
    return load(name).run(as_json=as_json, **{k: v for k, v in options.items() if v is not None})


@contextmanager
def environ(**values: str) -> Iterator[None]:
    """Set environment variables for a block (a benchmark's own instance), then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def migrate_quietly() -> None:
    """Apply the migrations to the current app's database without Alembic's log lines."""
    import logging

    from flask_migrate import upgrade

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        upgrade()
    finally:
        alembic_log.setLevel(level)


@contextmanager
def sqlite_instance(name: str) -> Iterator[tuple[str, str]]:
    """A temporary instance folder and its SQLite URL for benchmark `name`, removed
    afterwards unless KONTOR_BENCH_KEEP=1."""
    import shutil
    import tempfile

    keep = os.environ.get("KONTOR_BENCH_KEEP") == "1"
    folder = tempfile.mkdtemp(prefix=f"kontor-bench-{name}-")
    try:
        yield folder, f"sqlite:///{os.path.join(folder, 'kontor.db')}"
    finally:
        if keep:
            print(f"Instance kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(url: str, name: str) -> Iterator[tuple[str, str]]:
    """A temporary database for benchmark `name` on the server of `url` (never `url`'s
    own database), dropped afterwards; yields an instance folder and the database URL."""
    import shutil
    import tempfile

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    database = f"kontor_bench_{name}_{os.getpid()}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    folder = tempfile.mkdtemp(prefix=f"kontor-bench-{name}-pg-")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield folder, make_url(url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def fresh_app(folder: str, uri: str, **overrides: Any):
    """A Kontor app on a benchmark's own instance folder and database (no rate limits,
    no Redis; jobs left for the benchmark to run unless overridden)."""
    from app import create_app
    from app.config import Config

    with environ(KONTOR_INSTANCE=folder):
        config = Config()
    options = {
        "SQLALCHEMY_DATABASE_URI": uri,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": None,
        "JOBS_QUEUE": "manual",
        **overrides,
    }
    return create_app(config, **options)
