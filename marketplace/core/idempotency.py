"""Idempotency keys: a form sent twice (an offline draft the phone re-sends, a double tap,
a page reloaded after a lost answer) acts once.

Each form that creates something or answers for a cooperative carries a random key in the
hidden field ``idempotency_key``. The first request with a key claims it for its user in the
same transaction as the work it does, and records where its result lives; a later request
with the same key and user does nothing and is sent to that result. A key claimed by one
user means nothing for another. Keys are forgotten after ``KEEP`` (the worker's sweep).

Race-safe: the claim is an insert on the unique (user_id, key). On PostgreSQL a concurrent
insert of the same pair waits for the first transaction and then fails; on SQLite writers
run one at a time. The loser rolls back its savepoint and reads the winner's result.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.models import utcnow
from marketplace.core.types import UTCDateTime
from marketplace.extensions import db

KEEP = timedelta(days=7)
FIELD = "idempotency_key"
_VALID = re.compile(r"^[A-Za-z0-9-]{16,64}$")


class IdempotencyKey(db.Model):
    """One key a user's request claimed, and where its result is."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    # What the request did ("listing", "part:accept"...) and the page that shows its result.
    action: Mapped[str] = mapped_column(String(40))
    result_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


@dataclass(frozen=True)
class Earlier:
    """A key already used by the same user: what it did and where its result is."""

    action: str
    result_url: str | None


class Repeated(Exception):
    """Raised when a request's key was already used: the edge rolls back and sends the user
    to the first result (core.views handles it for every HTML page)."""

    def __init__(self, earlier: Earlier):
        super().__init__(earlier.action)
        self.earlier = earlier


def new_key() -> str:
    return str(uuid.uuid4())


def clean(raw: str | None) -> str | None:
    """The key as sent, or None when absent or not a key (then the request runs unguarded)."""
    raw = (raw or "").strip()
    return raw if _VALID.match(raw) else None


def earlier(user_id: int, key: str | None) -> Earlier | None:
    """The result of an earlier request of this user with this key, if there was one."""
    if key is None:
        return None
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                         IdempotencyKey.key == key))
    return Earlier(row.action, row.result_url) if row is not None else None


def claim(user_id: int, key: str | None, action: str) -> IdempotencyKey | Earlier | None:
    """Claim ``key`` for this user's request before doing the work, in the same transaction.

    Returns the claimed row (record the result on it with ``done``), or ``Earlier`` when the
    key was already used (do nothing; send the user to its result), or None without a key."""
    if key is None:
        return None
    row = IdempotencyKey(user_id=user_id, key=key, action=action[:40])
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return earlier(user_id, key) or Earlier(action, None)
    return row


def claim_or_raise(user_id: int, key: str | None, action: str) -> IdempotencyKey | None:
    """``claim``, raising ``Repeated`` when the key was already used."""
    claimed = claim(user_id, key, action)
    if isinstance(claimed, Earlier):
        raise Repeated(claimed)
    return claimed


def done(claimed: IdempotencyKey | Earlier | None, result_url: str, action: str | None = None) -> None:
    """Record where the claimed request's result is, and what it made (``listing:12``)
    when an API answer must show it again (flushes with the caller's work)."""
    if isinstance(claimed, IdempotencyKey):
        claimed.result_url = result_url[:500]
        if action:
            claimed.action = action[:40]


def forget_expired(now: datetime | None = None) -> int:
    """Delete keys older than ``KEEP``; returns how many (the worker's sweep)."""
    cutoff = (now or utcnow()) - KEEP
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
