"""Getting back into an account: password recovery by code or link, and a manager's reset.

Recovery never tells whether an account exists. Whatever is typed, the person gets the
same answer and the same next page; a code goes out only when the number (or the e-mail)
belongs to an active account and was verified, and the work done either way is alike (a
secret is drawn and hashed). A wrong code, an expired one, one used up and one that never
existed all get the same message. Setting the new password ends every session and revokes
every API token; it is audited.

A manager may reset a member's password: a temporary one goes to the member through their
own channel (a secret notice), and the member must change it on entering.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts import hooks, passwords, services, verification
from marketplace.accounts.identity import IdentityError, parse_login
from marketplace.accounts.models import Membership, User
from marketplace.core import audit
from marketplace.core.errors import DomainError, Forbidden
from marketplace.core.models import utcnow
from marketplace.extensions import db

BAD_IDENTIFIER = _l("Escriba su celular (300 123 4567) o su correo.")
BAD_CODE = _l("El código no sirve: no es correcto, venció o se intentó demasiadas veces. "
              "Revíselo o pida uno nuevo.")
BAD_LINK = _l("Ese enlace ya no sirve: venció o ya se usó. Pida uno nuevo.")


def parse_identifier(identifier: str | None) -> tuple[str, str]:
    """("phone", "+57...") or ("email", "a@b.co"); a typing mistake is a field error."""
    try:
        return parse_login(identifier or "")
    except IdentityError as exc:
        raise DomainError(BAD_IDENTIFIER, "identifier") from exc


def _account(kind: str, value: str) -> User | None:
    """The active account this verified number or address recovers, if any."""
    if kind == "phone":
        stmt = select(User).where(User.phone == value, User.phone_verified_at.is_not(None))
    else:
        stmt = select(User).where(User.email == value, User.email_verified_at.is_not(None))
    user = db.session.scalar(stmt.where(User.active.is_(True)))
    return user


def request_recovery(identifier: str, *, remote_addr: str | None = None,
                     now: datetime | None = None) -> tuple[str, str]:
    """Send a recovery code (number) or link (e-mail) when ``identifier`` is a verified
    login of an active account; otherwise do the same work and send nothing.

    Returns the normalised (kind, value) for the next page; never says which case it was."""
    now = now or utcnow()
    kind, value = parse_identifier(identifier)
    user = _account(kind, value)
    if user is None or verification.sent_recently(value, now):
        # The same drawing and hashing as a real code, and no answer that differs.
        verification.hash_secret(verification.RESET_PASSWORD, value, verification.new_code())
        return kind, value
    if kind == "phone":
        channel = verification.phone_channel(user)
        code, secret = verification.issue(user, verification.RESET_PASSWORD, channel, value,
                                          remote_addr=remote_addr, now=now)
        hooks.notify("recovery_code", subject_id=code.id, user_id=user.id,
                     payload={"code": secret, "channel": channel, "address": value})
    else:
        code, secret = verification.issue(user, verification.RESET_PASSWORD, "email", value, link=True,
                                          remote_addr=remote_addr, now=now)
        hooks.notify("recovery_link", subject_id=code.id, user_id=user.id,
                     payload={"link": verification.link_for(verification.RESET_LINK_PATH, code, secret),
                              "channel": "email", "address": value})
    audit.record("user.recovery_requested", "user", user.id, actor=None,
                 organisation_id=user.organisation.id if user.organisation else None,
                 after={"channel": code.channel}, remote_addr=remote_addr)
    return kind, value


def _set_password(user: User, new_password: str, how: str, *, actor: User | None = None,
                  remote_addr: str | None = None, temporary: bool = False, now: datetime | None = None) -> int:
    """Set the password, end every session and revoke every API token; returns how many tokens."""
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = now or utcnow()
    user.must_change_password = temporary
    ended = services.revoke_all_sessions(user)
    tokens = services.revoke_all_tokens(user)
    db.session.flush()
    audit.record("user.password_reset" if temporary else "user.password_recovered", "user", user.id,
                 actor=actor or user, organisation_id=user.organisation.id if user.organisation else None,
                 after={"by": how, "sessions_ended": ended, "tokens_revoked": True}, remote_addr=remote_addr)
    return tokens


def reset_with_code(identifier: str, typed: str, new_password: str, *, remote_addr: str | None = None,
                    now: datetime | None = None) -> int:
    """Set a new password with the code sent to a verified number."""
    now = now or utcnow()
    kind, value = parse_identifier(identifier)
    if kind != "phone":
        raise DomainError(BAD_IDENTIFIER, "identifier")
    # The policy first, on what was typed only, so a weak password spends no try and says
    # nothing about the account.
    services.check_new_password(new_password, value, None, field="new_password")
    typed = verification.clean_code(typed)
    if not re.fullmatch(r"\d{6}", typed):
        raise DomainError(_l("Escriba los 6 números del código."), "code")
    user = _account(kind, value)
    code = verification.live_code(user.id, verification.RESET_PASSWORD, now) if user is not None else None
    if not verification.try_code(code, verification.RESET_PASSWORD, value, typed, now):
        if user is None:
            verification.hash_secret(verification.RESET_PASSWORD, value, typed)
        raise verification.CodeRejected(BAD_CODE, "code")
    services.check_new_password(new_password, user.phone, user.email, field="new_password")
    return _set_password(user, new_password, f"code:{code.channel}", remote_addr=remote_addr, now=now)


def link_is_live(token: str, now: datetime | None = None) -> bool:
    """Whether a recovery link can still be used (it is shown its form, or told it expired)."""
    parts = verification.split_token(token)
    code = db.session.get(verification.VerificationCode, parts[0]) if parts else None
    return bool(code is not None and code.purpose == verification.RESET_PASSWORD and code.channel == "email"
                and code.used_at is None and code.attempts < verification.MAX_ATTEMPTS
                and verification._aware(code.expires_at) > (now or utcnow()))


def reset_with_link(token: str, new_password: str, *, remote_addr: str | None = None,
                    now: datetime | None = None) -> int:
    """Set a new password with the link sent to a verified e-mail."""
    now = now or utcnow()
    parts = verification.split_token(token)
    code = db.session.get(verification.VerificationCode, parts[0]) if parts else None
    user = db.session.get(User, code.user_id) if code is not None and code.user_id else None
    if user is None or code.purpose != verification.RESET_PASSWORD or code.channel != "email":
        raise verification.CodeRejected(BAD_LINK)
    services.check_new_password(new_password, user.phone, user.email, field="new_password")
    if (not user.active or user.email != code.address
            or not verification.try_code(code, verification.RESET_PASSWORD, code.address, parts[1], now)):
        raise verification.CodeRejected(BAD_LINK)
    return _set_password(user, new_password, "link:email", remote_addr=remote_addr, now=now)


# --------------------------------------------------------------- a manager's reset


def temporary_password() -> str:
    """Twelve digits in three groups ("4829-1037-5561"): typed on any phone's keypad, and
    masked whole by the outbox once sent (it masks a secret message's digits)."""
    return "-".join("".join(secrets.choice("0123456789") for _ in range(4)) for _ in range(3))


def reset_member_password(actor: User, membership: Membership, *, remote_addr: str | None = None,
                          now: datetime | None = None) -> int:
    """A manager gives a member of their own organisation a temporary password, sent through
    the member's channel; the member's sessions and tokens end and they must change it."""
    target = membership.user
    same_org = actor.organisation is not None and actor.organisation.id == membership.organisation_id
    if not same_org or not services.can_manage_organisation(actor, membership.organisation):
        raise Forbidden(_l("Solo quien administra la organización puede restablecer contraseñas de sus personas."))
    if target.id == actor.id:
        raise DomainError(_l("Para cambiar su propia contraseña use «Cambiar la contraseña»."))
    if not target.active:
        raise DomainError(_l("La cuenta está desactivada: reactívela primero."))
    if not verification.can_be_reached(target):
        raise DomainError(_l("Esta persona no tiene un celular verificado ni correo: no podemos enviarle "
                             "una contraseña temporal."))
    password = temporary_password()
    tokens = _set_password(target, password, "manager", actor=actor, remote_addr=remote_addr, temporary=True,
                           now=now)
    hooks.notify("temporary_password", subject_id=target.id, user_id=target.id,
                 organisation_id=membership.organisation_id,
                 payload={"password": password, "by": actor.full_name})
    return tokens
