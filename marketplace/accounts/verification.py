"""Proving a number or an address, and choosing how a person is told.

A code is 6 digits drawn with ``secrets``; an e-mail gets a link holding a longer random
token instead. Only an HMAC-SHA256 of either is stored, keyed with ``SECRET_KEY`` and bound
to a random nonce, the code's purpose and the address it went to, so the database alone
gives nothing away. A code is valid ``CODE_TTL`` (10 minutes) and allows ``MAX_ATTEMPTS``
(5) tries; a new one makes the previous one of the same purpose useless. How many codes one
number or address may receive is limited (``ADDRESS_LIMITS``: 3 in 15 minutes, 10 a day);
the pages add a limit per client address (Flask-Limiter).

Codes are delivered as notices (``hooks.notify``): the messaging package, which registered
the kinds at start-up, sends them to the number being verified, by WhatsApp when its owner
opted in and by SMS otherwise, or to the address as a link. Accounts never imports it.

Services flush; the caller commits. A wrong code raises ``CodeRejected`` *after* recording
the try: the caller commits that too, or the fifth wrong try would never count.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from marketplace.accounts import hooks
from marketplace.accounts.models import User, VerificationCode
from marketplace.core import audit
from marketplace.core.errors import DomainError
from marketplace.core.models import utcnow
from marketplace.extensions import db

VERIFY_PHONE = "verify_phone"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose's name, not a secret
# A new login phone or e-mail waits in its code's row (``address``) until its owner proves it.
CHANGE_PHONE = "change_phone"
CHANGE_EMAIL = "change_email"
CHANGE_PURPOSES = {"phone": CHANGE_PHONE, "email": CHANGE_EMAIL}

CHANNELS = ("whatsapp", "sms", "email")
CODE_TTL = timedelta(minutes=10)
# An e-mail can sit in a queue or a spam folder for a while: a link lives an hour.
LINK_TTL = timedelta(hours=1)
MAX_ATTEMPTS = 5
# (window, codes) sent to one number or address, whoever asks.
ADDRESS_LIMITS = ((timedelta(minutes=15), 3), (timedelta(days=1), 10))

# The paths the links in e-mails open (the views' routes match them); built here because
# the link is written into the notice when it is asked for, outside any page.
EMAIL_LINK_PATH = "/correo/verificar/{token}"
RESET_LINK_PATH = "/recuperar/enlace/{token}"

CODE_SENT_TOO_OFTEN = _l("Ya le enviamos varios códigos a este número o correo. Espere unos minutos "
                         "y pida otro.")


class CodeRejected(DomainError):
    """The code was wrong, expired or used up. The try was recorded: commit it."""


class TooManyCodes(DomainError):
    status_code = 429


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes for timezone-aware columns; they hold UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ----------------------------------------------------------------------- hashing


def _digest(nonce: str, purpose: str, address: str, secret: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{purpose}\n{address}\n{nonce}\n{secret}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hash_secret(purpose: str, address: str, secret: str) -> str:
    nonce = secrets.token_hex(8)
    return f"hmac-sha256${nonce}${_digest(nonce, purpose, address, secret)}"


def secret_matches(stored: str, purpose: str, address: str, secret: str) -> bool:
    try:
        scheme, nonce, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "hmac-sha256":
        return False
    return hmac.compare_digest(digest, _digest(nonce, purpose, address, secret))


def new_code() -> str:
    """Six digits, uniformly drawn (leading zeros included)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def clean_code(text: str | None) -> str:
    """What was typed, without the spaces or dashes people put in ("123 456")."""
    return re.sub(r"[\s\-.]", "", text or "")[:20]


# ----------------------------------------------------------------------- channels


def whatsapp_opted_in(user: User) -> bool:
    """Whether the person's last word on WhatsApp was yes (the same rule as messaging's)."""
    if user.whatsapp_opt_in_at is None:
        return False
    return user.whatsapp_opt_out_at is None or _aware(user.whatsapp_opt_out_at) < _aware(user.whatsapp_opt_in_at)


def phone_channel(user: User) -> str:
    """A code to the person's number goes by WhatsApp when they opted in, else by SMS."""
    return "whatsapp" if whatsapp_opted_in(user) else "sms"


def can_be_reached(user: User) -> bool:
    """Whether anything sent to ``user`` can arrive: a verified number or an e-mail."""
    return bool((user.phone and user.phone_verified_at) or user.email)


def _default_channel(user: User) -> str:
    if user.phone:
        return phone_channel(user)
    return "email"


def set_channels(user: User, preferred: str | None, whatsapp_opt_in: bool, *, remote_addr=None,
                 now: datetime | None = None) -> None:
    """Record how ``user`` wants to be told, and their WhatsApp opt-in or opt-out (with its
    time, as WhatsApp requires). ``preferred`` None chooses for them: WhatsApp when they opt
    in, else SMS when they have a number, else e-mail."""
    now = now or utcnow()
    if whatsapp_opt_in and not user.phone:
        raise DomainError(_l("Para recibir avisos por WhatsApp escriba su celular."), "whatsapp_opt_in")
    before = {"preferred_channel": user.preferred_channel, "whatsapp": whatsapp_opted_in(user)}
    if whatsapp_opt_in and not before["whatsapp"]:
        user.whatsapp_opt_in_at = now
    elif not whatsapp_opt_in and before["whatsapp"]:
        user.whatsapp_opt_out_at = now
    preferred = preferred or _default_channel(user)
    if preferred not in CHANNELS:
        raise DomainError(_l("Elija WhatsApp, SMS o correo."), "preferred_channel")
    if preferred == "whatsapp" and not whatsapp_opt_in:
        raise DomainError(_l("Para recibir avisos por WhatsApp, marque la autorización."), "whatsapp_opt_in")
    if preferred in ("whatsapp", "sms") and not user.phone:
        raise DomainError(_l("Para recibir avisos por WhatsApp o SMS escriba su celular."), "preferred_channel")
    if preferred == "email" and not user.email:
        raise DomainError(_l("Para recibir avisos por correo escriba su correo."), "preferred_channel")
    user.preferred_channel = preferred
    after = {"preferred_channel": preferred, "whatsapp": whatsapp_opted_in(user)}
    db.session.flush()
    old, new = audit.changed(before, after)
    if new and user.id is not None:
        audit.record("user.channels_changed", "user", user.id, actor=user,
                     organisation_id=user.organisation.id if user.organisation else None,
                     before=old, after=new, remote_addr=remote_addr)


def channel_warning(user: User) -> str | None:
    """Why the preferred channel cannot carry notices yet, in the user's language, or None."""
    if user.preferred_channel in ("whatsapp", "sms"):
        if not user.phone:
            return str(_l("No tiene celular: le escribiremos al correo."))
        if user.phone_verified_at is None:
            return str(_l("Su celular aún no está verificado: no le llegarán avisos por WhatsApp ni SMS "
                          "hasta que escriba el código."))
        if user.preferred_channel == "whatsapp" and not whatsapp_opted_in(user):
            return str(_l("No ha autorizado WhatsApp: le escribiremos por SMS."))
    return None


# -------------------------------------------------------------------------- codes


# The hash of a pending new login that belongs to another account: nothing was sent, and no
# secret matches it (``secret_matches`` knows only "hmac-sha256").
NEVER_SENT = "never$"


def sent_recently(address: str, now: datetime | None = None, *, by_user: int | None = None) -> bool:
    """Whether ``address`` already received as many codes as ``ADDRESS_LIMITS`` allow.

    With ``by_user``, whether that person already asked for that many for ``address``,
    counting the requests that sent nothing (a new login another account has), so they are
    limited alike. Without it, only what was really sent counts: someone typing another's
    number as their new login must not use up that number's codes."""
    now = now or utcnow()
    for window, most in ADDRESS_LIMITS:
        stmt = (select(func.count()).select_from(VerificationCode)
                .where(VerificationCode.address == address, VerificationCode.created_at > now - window))
        if by_user is not None:
            stmt = stmt.where(VerificationCode.user_id == by_user)
        else:
            stmt = stmt.where(VerificationCode.code_hash.not_like(NEVER_SENT + "%"))
        if db.session.scalar(stmt) >= most:
            return True
    return False


def issue(user: User, purpose: str, channel: str, address: str, *, link: bool = False,
          remote_addr: str | None = None, now: datetime | None = None,
          own_requests: bool = False) -> tuple[VerificationCode, str]:
    """A new code (or link token) for ``user``; the previous live one of this purpose stops
    working. Returns the row and the plain secret, which is never stored.

    Raises ``TooManyCodes`` when ``address`` already received its share (or, with
    ``own_requests``, when ``user`` already asked for its share for ``address``)."""
    now = now or utcnow()
    if sent_recently(address, now, by_user=user.id if own_requests else None):
        raise TooManyCodes(CODE_SENT_TOO_OFTEN, "code")
    db.session.execute(
        update(VerificationCode)
        .where(VerificationCode.user_id == user.id, VerificationCode.purpose == purpose,
               VerificationCode.used_at.is_(None), VerificationCode.expires_at > now)
        .values(expires_at=now),
        execution_options={"synchronize_session": False})
    # A link's token is 30 digits (about 100 bits): the outbox masks a sent secret's digits,
    # which then leaves nothing of it.
    secret = "".join(secrets.choice("0123456789") for _ in range(30)) if link else new_code()
    code = VerificationCode(
        user_id=user.id, purpose=purpose, address=address, channel=channel,
        code_hash=hash_secret(purpose, address, secret), created_at=now,
        expires_at=now + (LINK_TTL if link else CODE_TTL), attempts=0,
        requested_from=(remote_addr or "")[:64] or None)
    db.session.add(code)
    db.session.flush()
    return code, secret


def live_code(user_id: int, purpose: str, now: datetime | None = None) -> VerificationCode | None:
    """The one code of ``purpose`` that can still be typed, if any."""
    now = now or utcnow()
    return db.session.scalar(
        select(VerificationCode)
        .where(VerificationCode.user_id == user_id, VerificationCode.purpose == purpose,
               VerificationCode.used_at.is_(None), VerificationCode.expires_at > now,
               VerificationCode.attempts < MAX_ATTEMPTS)
        .order_by(VerificationCode.id.desc()).limit(1))


def try_code(code: VerificationCode | None, purpose: str, address: str, typed: str,
             now: datetime | None = None) -> bool:
    """Spend one try of ``code`` on ``typed``; True (and the code used) when it matches.

    The try is counted by a guarded UPDATE, so parallel requests share the five tries
    rather than each seeing four left."""
    now = now or utcnow()
    if code is None or code.purpose != purpose or code.address != address:
        return False
    counted = db.session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == code.id, VerificationCode.used_at.is_(None),
               VerificationCode.expires_at > now, VerificationCode.attempts < MAX_ATTEMPTS)
        .values(attempts=VerificationCode.attempts + 1),
        execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(code)
    if not counted or not secret_matches(code.code_hash, purpose, address, typed):
        return False
    used = db.session.execute(
        update(VerificationCode).where(VerificationCode.id == code.id, VerificationCode.used_at.is_(None))
        .values(used_at=now), execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(code)
    return bool(used)


def split_token(token: str | None) -> tuple[int, str] | None:
    """(code id, secret) from a link's "<id>.<secret>", or None when it is not one."""
    head, _, secret = (token or "").partition(".")
    if not head.isdigit() or not secret.isdigit() or len(token) > 120:
        return None
    return int(head), secret


def link_for(path: str, code: VerificationCode, secret: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path.format(token=f"{code.id}.{secret}")


# ------------------------------------------------------------------ verifying a number


def send_phone_code(user: User, *, remote_addr: str | None = None, now: datetime | None = None) -> VerificationCode:
    """Send a code to the person's number (WhatsApp if they opted in, else SMS)."""
    if not user.phone:
        raise DomainError(_l("Su cuenta no tiene celular. Escríbalo primero en «Celular y correo para entrar»."),
                          "code")
    if user.phone_verified_at is not None:
        raise DomainError(_l("Su celular ya está verificado."), "code")
    channel = phone_channel(user)
    code, secret = issue(user, VERIFY_PHONE, channel, user.phone, remote_addr=remote_addr, now=now)
    hooks.notify("verification_code", subject_id=code.id, user_id=user.id,
                 payload={"code": secret, "channel": channel, "address": user.phone})
    return code


def confirm_phone(user: User, typed: str, *, remote_addr: str | None = None, now: datetime | None = None) -> None:
    """Mark the number verified when ``typed`` is its live code."""
    now = now or utcnow()
    if user.phone is None or user.phone_verified_at is not None:
        raise DomainError(_l("Su celular ya está verificado."), "code")
    typed = clean_code(typed)
    if not re.fullmatch(r"\d{6}", typed):
        raise DomainError(_l("Escriba los 6 números del código."), "code")
    code = live_code(user.id, VERIFY_PHONE, now)
    if code is None or code.address != user.phone:
        raise CodeRejected(_l("Ese código venció o ya no sirve. Pida uno nuevo."), "code")
    if not try_code(code, VERIFY_PHONE, user.phone, typed, now):
        left = MAX_ATTEMPTS - code.attempts
        if left <= 0:
            raise CodeRejected(_l("El código no es correcto y ya no quedan intentos. Pida uno nuevo."), "code")
        raise CodeRejected(_l("El código no es correcto. Le quedan %(n)s intentos.", n=left), "code")
    user.phone_verified_at = now
    db.session.flush()
    audit.record("user.phone_verified", "user", user.id, actor=user,
                 organisation_id=user.organisation.id if user.organisation else None,
                 after={"phone": user.phone, "channel": code.channel}, remote_addr=remote_addr)


# ------------------------------------------------------------------ verifying an e-mail


def send_email_link(user: User, *, remote_addr: str | None = None, now: datetime | None = None) -> VerificationCode:
    """Send a link that proves the person's e-mail address."""
    if not user.email:
        raise DomainError(_l("Su cuenta no tiene correo."), "code")
    if user.email_verified_at is not None:
        raise DomainError(_l("Su correo ya está verificado."), "code")
    code, secret = issue(user, VERIFY_EMAIL, "email", user.email, link=True, remote_addr=remote_addr, now=now)
    hooks.notify("verify_email_link", subject_id=code.id, user_id=user.id,
                 payload={"link": link_for(EMAIL_LINK_PATH, code, secret), "channel": "email",
                          "address": user.email})
    return code


def confirm_email(token: str, *, remote_addr: str | None = None, now: datetime | None = None) -> User:
    """The user whose e-mail the link proves, now verified."""
    now = now or utcnow()
    parts = split_token(token)
    code = db.session.get(VerificationCode, parts[0]) if parts else None
    user = db.session.get(User, code.user_id) if code is not None and code.user_id else None
    if (user is None or code.purpose != VERIFY_EMAIL or user.email != code.address
            or not try_code(code, VERIFY_EMAIL, code.address, parts[1], now)):
        raise CodeRejected(_l("Ese enlace venció o ya se usó. Pida otro desde «Cómo le avisamos»."))
    if user.email_verified_at is None:
        user.email_verified_at = now
        db.session.flush()
        audit.record("user.email_verified", "user", user.id, actor=user,
                     organisation_id=user.organisation.id if user.organisation else None,
                     after={"email": user.email}, remote_addr=remote_addr)
    return user


# ------------------------------------------------------------ a new login phone or e-mail


def issue_login_change(user: User, field: str, address: str, *, deliver: bool, remote_addr: str | None = None,
                       now: datetime | None = None) -> VerificationCode:
    """Keep ``address`` as ``user``'s pending new login ``field`` ("phone" or "email"): a code
    row of purpose ``CHANGE_PHONE``/``CHANGE_EMAIL`` whose ``address`` is the new value. When
    ``deliver``, a code goes to the new number (WhatsApp or SMS) or a link to the new
    address. When not (the value belongs to another account), nothing is sent and the row's
    hash matches no secret, so no code can ever complete it; otherwise the row is made,
    limited, expired and tried exactly like one that was sent, so the account's pages
    cannot tell the two apart. A new request replaces the previous pending one of the field."""
    purpose = CHANGE_PURPOSES[field]
    email = field == "email"
    channel = "email" if email else phone_channel(user)
    # Limited by this person's own requests for the value, sent or not, so both answer alike.
    code, secret = issue(user, purpose, channel, address, link=email, remote_addr=remote_addr, now=now,
                         own_requests=True)
    if not deliver:
        code.code_hash = f"{NEVER_SENT}{secrets.token_hex(16)}"
        db.session.flush()
    elif email:
        hooks.notify("verify_email_link", subject_id=code.id, user_id=user.id,
                     payload={"link": link_for(EMAIL_LINK_PATH, code, secret), "channel": "email",
                              "address": address})
    else:
        hooks.notify("verification_code", subject_id=code.id, user_id=user.id,
                     payload={"code": secret, "channel": channel, "address": address})
    return code


def pending_login_changes(user: User, now: datetime | None = None) -> dict[str, VerificationCode]:
    """The pending new login values of ``user`` that can still be confirmed, by field."""
    found = {}
    for field, purpose in CHANGE_PURPOSES.items():
        code = live_code(user.id, purpose, now)
        if code is not None:
            found[field] = code
    return found


def take_login_code(user: User, typed: str, now: datetime | None = None) -> VerificationCode:
    """Spend one try of the pending new phone's code on ``typed``; the used code row (its
    ``address`` is the new number) when it matches. Raises ``CodeRejected`` otherwise."""
    now = now or utcnow()
    typed = clean_code(typed)
    if not re.fullmatch(r"\d{6}", typed):
        raise DomainError(_l("Escriba los 6 números del código."), "code")
    code = live_code(user.id, CHANGE_PHONE, now)
    if code is None:
        raise CodeRejected(_l("Ese código venció o ya no sirve. Pida uno nuevo."), "code")
    if not try_code(code, CHANGE_PHONE, code.address, typed, now):
        left = MAX_ATTEMPTS - code.attempts
        if left <= 0:
            raise CodeRejected(_l("El código no es correcto y ya no quedan intentos. Pida uno nuevo."), "code")
        raise CodeRejected(_l("El código no es correcto. Le quedan %(n)s intentos.", n=left), "code")
    return code


def login_link_code(token: str | None) -> VerificationCode | None:
    """The pending new e-mail's code row a link points at, whatever its state, or None when
    the link is not one of those."""
    parts = split_token(token)
    code = db.session.get(VerificationCode, parts[0]) if parts else None
    return code if code is not None and code.purpose == CHANGE_EMAIL else None


def take_login_link(token: str, now: datetime | None = None) -> VerificationCode:
    """Spend the link of a pending new e-mail; the used code row. Raises ``CodeRejected``."""
    now = now or utcnow()
    parts = split_token(token)
    code = login_link_code(token)
    if code is None or code.user_id is None or not try_code(code, CHANGE_EMAIL, code.address, parts[1], now):
        raise CodeRejected(_l("Ese enlace venció o ya se usó. Escriba el correo nuevo otra vez en «Su cuenta»."))
    return code
