"""Flask extensions as module globals, bound to an app in create_app()."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.exc import OperationalError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite reads pages through mmap (no copies); bulk writers turn it off for a while.
MMAP_SIZE = 2_000_000_000
CACHE_KB = 65_536  # page cache per SQLite connection


@contextmanager
def temp_files(session) -> Iterator[None]:
    """On SQLite, temporary storage in files (SQLite's default) while a big read runs:
    with temp_store=MEMORY, which every connection sets for its writes, the sorter behind
    GROUP BY and ORDER BY allocates each record apart, and a GROUP BY of 262k rows took
    twice as long (255 against 126 ms)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    try:
        connection.exec_driver_sql("PRAGMA temp_store=FILE")
    except OperationalError:  # a temporary table is open in this transaction: as it is
        yield
        return
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA temp_store=MEMORY")


# On SQLite, a transaction that reads and then writes fails at once ("database is
# locked") if another connection committed in between. Requests that change things and
# background jobs set this, so their transactions take the write lock when they begin
# (BEGIN IMMEDIATE, waiting up to busy_timeout); reading requests begin as usual.
WRITE_INTENT: ContextVar[bool] = ContextVar("kontor_write_intent", default=False)


def reads_only(view):
    """Mark a POST view that changes nothing (a count, a preview): its transaction begins
    as a plain read, so it never waits for SQLite's write lock."""
    view.reads_only = True
    return view


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
