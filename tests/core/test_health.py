"""/salud answers JSON: 200 when the database (and Redis, if configured) answer, 503 when
one does not, within a few seconds even when a server accepts the connection and stays silent."""

from __future__ import annotations

import os
import socket
import time

import pytest
import redis as redis_lib

from marketplace.core import database, health

CLOSED = "127.0.0.1:1"  # nothing listens on port 1: the connection is refused at once


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) and never
    says a word: a server that hangs."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def _get(app):
    response = app.test_client().get("/salud")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_healthy_answers_200_json(app):
    assert _get(app) == (200, {"status": "ok", "checks": {"database": "ok", "redis": "not_configured"}})


def test_redis_that_answers_is_ok(make_app):
    url = "redis://127.0.0.1:6379/15"
    try:
        redis_lib.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis_lib.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running")
    assert _get(make_app(REDIS_URL=url)) == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})


@pytest.mark.parametrize("url", [f"postgresql+psycopg://postgres@{CLOSED}/test",
                                 "sqlite:////nonexistent-folder/for/sure/marketplace.db"])
def test_database_down_answers_json_503(make_app, url):
    status, body = _get(make_app(SQLALCHEMY_DATABASE_URI=url))
    assert status == 503
    assert body == {"status": "unavailable", "checks": {"database": "unavailable", "redis": "not_configured"}}


def test_unreadable_sqlite_file_answers_503(make_app, tmp_path):
    garbage = tmp_path / "not-a-database.db"
    garbage.write_bytes(b"this is not an SQLite file" * 100)
    status, body = _get(make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{garbage}"))
    assert (status, body["checks"]["database"]) == (503, "unavailable")


def test_redis_down_answers_json_503(make_app):
    status, body = _get(make_app(REDIS_URL=f"redis://{CLOSED}/0"))
    assert status == 503
    assert body == {"status": "unavailable", "checks": {"database": "ok", "redis": "unavailable"}}


def test_a_silent_redis_does_not_hang_the_check(make_app, silent_port, monkeypatch):
    monkeypatch.setattr(health, "TIMEOUT", 0.3)
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{silent_port}/0")
    started = time.monotonic()
    status, body = _get(app)
    assert (status, body["checks"]["redis"]) == (503, "unavailable")
    assert time.monotonic() - started < 3


def test_a_silent_postgresql_does_not_hang_the_check(make_app, silent_port, monkeypatch):
    monkeypatch.setattr(database, "PG_CONNECT_TIMEOUT", 2)
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/test")
    started = time.monotonic()
    status, body = _get(app)
    assert (status, body["checks"]["database"]) == (503, "unavailable")
    # libpq's connect_timeout, not the operating system's minutes-long TCP wait.
    assert time.monotonic() - started < 10
