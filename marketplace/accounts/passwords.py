"""Password hashing with argon2id and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

MIN_LENGTH = 8
MAX_LENGTH = 128
# The most common passwords people choose in Spanish and English; a larger list adds
# little against online guessing, which the login rate limit already stops.
_COMMON = {
    "12345678", "123456789", "1234567890", "87654321", "11111111", "00000000",
    "password", "password1", "contraseña", "contrasena", "qwertyui", "qwerty123",
    "colombia", "colombia1", "colombia123", "cooperativa", "asociacion", "asociación",
    "abcdefgh", "abc12345", "iloveyou", "teamo123", "bogota123", "cosecha1",
}


def _hasher() -> PasswordHasher:
    cache = current_app.extensions.setdefault("marketplace_hasher", {})
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    if key not in cache:
        cache[key] = PasswordHasher(
            time_cost=key[0], memory_cost=key[1], parallelism=key[2], type=Type.ID
        )
    return cache[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; an unknown user is checked against a dummy hash
    so that both cases take the same time."""
    hasher = _hasher()
    target = stored_hash or _dummy_hash()
    try:
        ok = hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("marketplace_dummy_hash", {})
    params = _hasher()
    key = (params.time_cost, params.memory_cost, params.parallelism)
    if key not in cache:
        cache[key] = params.hash("not-a-real-password")
    return cache[key]


def policy_problem(password: str, *personal: str | None) -> str | None:
    """A short code naming what is wrong with a new password, or None if it is fine."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) <= 2:
        return "too_common"
    for item in personal:
        if not item:
            continue
        variants = {item.lower().lstrip("+")}
        if item.startswith("+57"):
            variants.add(item[3:])  # the mobile as people type it, without the country code
        if any(len(v) >= 4 and v in lowered for v in variants):
            return "personal"
    return None
