"""Registration with a phone number or e-mail that already has an account.

Registration must not tell anyone whether a number or address is in use. When it is, the
registration view answers exactly as for a new account (same redirect, same message, an
equally shaped session cookie), nothing is created, and the owner of the existing account
is told through that very number or address, with the way to recover their password.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select

from marketplace.accounts import hooks, passwords, verification
from marketplace.accounts.models import User
from marketplace.core import audit
from marketplace.core.models import AuditEvent, utcnow
from marketplace.extensions import db

NOTICE_KIND = "registration_attempt"
ACTION = "user.registration_attempted"
# One notice an hour at most, however often someone tries: a registration form must not
# become a way to flood a person with messages.
NOTICE_EVERY = timedelta(hours=1)


def fake_session_value() -> str:
    """A value shaped like a login session cookie value (``public.secret``) that opens
    nothing: what the registration answer carries when no account was created."""
    return f"{secrets.token_urlsafe(12)}.{secrets.token_urlsafe(24)}"


def attempted_on(owner_id: int, field: str, *, recover_link: str, remote_addr: str | None = None,
                 now: datetime | None = None) -> bool:
    """Someone tried to register with the phone (``field == "phone"``) or e-mail of account
    ``owner_id``. Does the work a registration does (a password hash), records it, and tells
    the owner on that number or address, at most once per ``NOTICE_EVERY``. Returns whether
    a notice was written."""
    now = now or utcnow()
    # As much work as hashing a new account's password, so the answer takes as long.
    passwords.hash_password(secrets.token_urlsafe(16))
    owner = db.session.get(User, owner_id)
    if owner is None:
        return False
    recent = db.session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == ACTION, AuditEvent.object_type == "user",
               AuditEvent.object_id == str(owner.id), AuditEvent.occurred_at > now - NOTICE_EVERY))
    audit.record(ACTION, "user", owner.id, organisation_id=owner.organisation.id if owner.organisation else None,
                 after={"login": field}, remote_addr=remote_addr)
    if recent:
        return False
    if field == "phone" and owner.phone:
        channel, address = verification.phone_channel(owner), owner.phone
    elif owner.email:
        channel, address = "email", owner.email
    else:
        return False
    hooks.notify(NOTICE_KIND, subject_id=owner.id, user_id=owner.id,
                 payload={"channel": channel, "address": address, "login": field, "link": recover_link})
    return True
