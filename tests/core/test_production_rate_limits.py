"""Production refuses to start with rate-limit counters in each worker's memory (N workers
would allow N times every limit); development and tests keep the memory store."""

from __future__ import annotations

import pytest

from marketplace.config import load_config

PRODUCTION = {"APP_ENV": "production", "TESTING": False, "SECRET_KEY": "a-production-like-secret-key-for-the-test"}


def test_production_without_a_shared_store_refuses_to_start(make_app):
    with pytest.raises(RuntimeError, match="REDIS_URL") as refused:
        make_app(**PRODUCTION, RATELIMIT_STORAGE_URI="memory://")
    message = str(refused.value)
    assert "APP_ENV=production" in message and "each worker" in message


def test_production_starts_with_a_redis_store(make_app):
    # The store is only contacted on the first counted request: no Redis needs to run here.
    app = make_app(**PRODUCTION, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379")
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"


def test_the_store_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-production-like-secret-key-for-the-test")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    assert load_config()["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://10.0.0.5:6379/1")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "redis://10.0.0.5:6379/1"
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.6:6379/0")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "redis://10.0.0.5:6379/1"  # the explicit one wins
    monkeypatch.delenv("RATELIMIT_STORAGE_URI")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "redis://10.0.0.6:6379/0"


def test_development_keeps_memory(make_app):
    app = make_app(APP_ENV="development", TESTING=False, RATELIMIT_STORAGE_URI="memory://")
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.test_client().get("/salud").status_code == 200
