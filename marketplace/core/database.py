"""Engine-level settings that must hold on every connection."""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_configured = False
# Seconds to wait for a PostgreSQL server to accept a connection (libpq waits for ever by
# default): a database that does not answer fails the request, and the health check, soon.
PG_CONNECT_TIMEOUT = 5


def configure_engines() -> None:
    """Enforce foreign keys, wait on locks and begin write transactions on SQLite; give up
    on a PostgreSQL server that does not accept a connection within a few seconds."""
    global _configured
    if _configured:
        return
    _configured = True

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()
            # SQLAlchemy, not the driver, opens transactions (see _sqlite_begin).
            dbapi_connection.isolation_level = None

    @event.listens_for(Engine, "do_connect")
    def _connect_timeout(dialect, _record, _cargs, cparams):
        if dialect.name == "postgresql":
            cparams.setdefault("connect_timeout", PG_CONNECT_TIMEOUT)

    @event.listens_for(Engine, "begin")
    def _sqlite_begin(conn):
        # A deferred SQLite transaction that reads and then writes fails at once with
        # "database is locked" when another writer got in between. Taking the write lock
        # at the start makes concurrent writers queue on busy_timeout instead, so stock
        # reservations are serialised on SQLite as row locks serialise them on PostgreSQL.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
