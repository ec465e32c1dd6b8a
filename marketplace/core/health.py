"""The health check's probes: each answers "ok" or "unavailable" within a few seconds.

Pure of Flask: the view passes the engine and the Redis URL. A probe never raises, so a
broken dependency turns into a 503 answer, never into an error page.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Seconds a probe may wait for an answer: a load balancer gives up after about five.
TIMEOUT = 2


def database(engine: Engine) -> str:
    """A query on a raw connection of the pool, so no write lock is taken on SQLite."""
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            if engine.dialect.name == "postgresql":
                # LOCAL: ends with the transaction the pool rolls back on return.
                cursor.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT * 1000)}")
                cursor.execute("SELECT 1")
            else:
                # Opening an SQLite file reads nothing: reading its schema proves it is one.
                cursor.execute("SELECT 1 FROM sqlite_master LIMIT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()
    except Exception:  # any driver's error means the same: the database does not answer
        log.warning("health check: the database does not answer", exc_info=True)
        return "unavailable"
    return "ok"


def redis(url: str | None) -> str:
    if not url:
        return "not_configured"
    import redis as redis_lib

    client = redis_lib.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
    except (redis_lib.RedisError, OSError):
        log.warning("health check: Redis does not answer", exc_info=True)
        return "unavailable"
    finally:
        client.close()
    return "ok"


def run(engine: Engine, redis_url: str | None) -> dict[str, str]:
    return {"database": database(engine), "redis": redis(redis_url)}
