"""Every PostgreSQL connection runs without JIT and with the work_mem Kontor asks for."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

import app  # noqa: F401  (registers the connection listeners)
from tests.conftest import need, port_open

PG_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"


def _settings() -> tuple[str, str, str]:
    need(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    engine = create_engine(PG_URL)
    try:
        raw = engine.raw_connection()
        # The SETs left no transaction open behind them.
        state = raw.driver_connection.info.transaction_status.name
        raw.close()
        with engine.connect() as conn:
            jit = conn.execute(text("SHOW jit")).scalar_one()
            work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
            return jit, work_mem, state
    finally:
        engine.dispose()


def test_jit_off_and_default_work_mem(monkeypatch):
    monkeypatch.delenv("KONTOR_PG_WORK_MEM", raising=False)
    jit, work_mem, fresh = _settings()
    assert (jit, work_mem, fresh) == ("off", "64MB", "IDLE")


def test_work_mem_from_the_environment(monkeypatch):
    monkeypatch.setenv("KONTOR_PG_WORK_MEM", "16MB")
    assert _settings()[1] == "16MB"


def test_a_bad_work_mem_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("KONTOR_PG_WORK_MEM", "64MB'; DROP TABLE contacts; --")
    with pytest.raises(ValueError, match="KONTOR_PG_WORK_MEM"):
        _settings()
