"""Registration, or a change of login, with a phone number or e-mail that already has an account.

Neither must tell anyone whether a number or address is in use. When it is, the
registration view answers exactly as for a new account (same redirect, same message, an
equally shaped session cookie), nothing is created, and the owner of the existing account
is told through that very number or address, with the way to recover their password.
A change of one's own login phone or e-mail takes effect only once a code sent to the new
number (or a link sent to the new address) comes back. One that belongs to another account
answers and shows as a change to a free one does (pending, "we sent a code"), but nothing is
sent to it and no code can complete it (``services.change_login``); that account's owner is
told the same way (``login_claimed``).
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
CLAIM_NOTICE_KIND = "login_claim_attempt"
CLAIM_ACTION = "user.login_claim_refused"
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
    # As much work as hashing a new account's password, so the answer takes as long.
    passwords.hash_password(secrets.token_urlsafe(16))
    return _tell_owner(owner_id, field, kind=NOTICE_KIND, action=ACTION, link=recover_link,
                       remote_addr=remote_addr, now=now)


def login_claimed(owner_id: int, field: str, claimant: User, *, link: str, remote_addr: str | None = None,
                  now: datetime | None = None) -> bool:
    """``claimant`` tried to make the phone (``field == "phone"``) or e-mail of account
    ``owner_id`` their own login. Nothing changes (``services.change_login`` saw to it); this
    records the attempt (staff can see who tried) and tells the owner on that number or
    address, at most once per ``NOTICE_EVERY``. Returns whether a notice was written."""
    return _tell_owner(owner_id, field, kind=CLAIM_NOTICE_KIND, action=CLAIM_ACTION, link=link,
                       remote_addr=remote_addr, now=now, actor=claimant)


def _tell_owner(owner_id: int, field: str, *, kind: str, action: str, link: str, remote_addr: str | None,
                now: datetime | None, actor: User | None = None) -> bool:
    now = now or utcnow()
    owner = db.session.get(User, owner_id)
    if owner is None:
        return False
    recent = db.session.scalar(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.object_type == "user",
               AuditEvent.object_id == str(owner.id), AuditEvent.occurred_at > now - NOTICE_EVERY))
    after = {"login": field}
    if actor is not None:
        after["by_user"] = actor.id
    audit.record(action, "user", owner.id, actor=actor,
                 organisation_id=owner.organisation.id if owner.organisation else None,
                 after=after, remote_addr=remote_addr)
    if recent:
        return False
    if field == "phone" and owner.phone:
        channel, address = verification.phone_channel(owner), owner.phone
    elif owner.email:
        channel, address = "email", owner.email
    else:
        return False
    hooks.notify(kind, subject_id=owner.id, user_id=owner.id,
                 payload={"channel": channel, "address": address, "login": field, "link": link})
    return True
