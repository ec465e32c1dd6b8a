"""Writing to the outbox and choosing each person's channel.

``notify`` is what services call, in their transaction. Channel rules:

- WhatsApp: a verified number, a recorded opt-in, no opt-out since.
- SMS: a verified number and no opt-out.
- E-mail: an address (verified, or given at registration before e-mail verification
  existed: see migration 0012) .

A person's preferred channel comes first; when it is not usable the next usable one in
the order WhatsApp, SMS, e-mail is taken, so a manager who stopped WhatsApp still hears of
a new order by SMS. Nobody reachable: the message is written as ``skipped`` with the reason,
so staff can see why someone was not told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Channel, Inbound, Message, MessageStatus, Notice

WINDOW = timedelta(hours=24)
FALLBACK_ORDER = (Channel.WHATSAPP, Channel.SMS, Channel.EMAIL)


def notify(kind: str, *, subject_id: int | None = None, organisation_id: int | None = None,
           user_id: int | None = None, payload: dict | None = None,
           now: datetime | None = None) -> Notice:
    """Record that ``kind`` must be told about ``subject_id``; the worker does the rest.
    Added to the session, not flushed."""
    notice = Notice(kind=kind, subject_id=subject_id, organisation_id=organisation_id,
                    user_id=user_id, payload=payload, created_at=now or utcnow(), attempts=0)
    db.session.add(notice)
    return notice


def channel_problem(user: User, channel: Channel | str) -> str | None:
    """Why ``user`` cannot be reached on ``channel`` now (a reason in Spanish for staff),
    or None when they can."""
    channel = Channel(channel)
    if not user.active:
        return "cuenta desactivada"
    if channel == Channel.EMAIL:
        return None if user.email else "sin correo"
    if not user.phone:
        return "sin celular"
    if user.phone_verified_at is None:
        return "celular sin verificar"
    if channel == Channel.WHATSAPP:
        if user.whatsapp_opt_out_at is not None and (
                user.whatsapp_opt_in_at is None or user.whatsapp_opt_out_at >= user.whatsapp_opt_in_at):
            return "salió de WhatsApp (SALIR)"
        if user.whatsapp_opt_in_at is None:
            return "sin autorización para WhatsApp"
        return None
    if user.sms_opt_out_at is not None:
        return "salió de SMS (STOP)"
    return None


def channel_for(user: User) -> tuple[Channel | None, str | None]:
    """The channel to reach ``user`` on, or (None, reason) when none is usable."""
    try:
        preferred = Channel(user.preferred_channel or Channel.WHATSAPP)
    except ValueError:
        preferred = Channel.WHATSAPP
    reasons = []
    for channel in (preferred, *[c for c in FALLBACK_ORDER if c != preferred]):
        problem = channel_problem(user, channel)
        if problem is None:
            return channel, None
        reasons.append(f"{channel.value}: {problem}")
    return None, "; ".join(reasons)


def address_for(user: User, channel: Channel) -> str | None:
    return user.email if channel == Channel.EMAIL else user.phone


def last_whatsapp_from(number: str) -> datetime | None:
    return db.session.scalar(
        select(func.max(Inbound.received_at))
        .where(Inbound.from_number == number, Inbound.channel == Channel.WHATSAPP))


def window_open(number: str, now: datetime | None = None) -> bool:
    """Whether free WhatsApp text may go to ``number``: it wrote to us in the last 24 hours."""
    last = last_whatsapp_from(number)
    return last is not None and (now or utcnow()) - last < WINDOW


def queue(kind: str, *, channel: Channel, to_address: str | None, body: str,
          user: User | None = None, organisation_id: int | None = None, locale: str = "es",
          subject: str | None = None, template_name: str | None = None,
          template_params: list[str] | None = None, buttons: list | None = None,
          notice_id: int | None = None, secret: bool = False, skipped_reason: str | None = None,
          now: datetime | None = None) -> Message:
    """Write one message to the outbox (or, with ``skipped_reason``, the record of one that
    cannot be sent). Added to the session, not flushed."""
    now = now or utcnow()
    template_language = None
    if template_name:
        languages = current_app.config["WHATSAPP_TEMPLATE_LANGUAGES"]
        template_language = languages.get(locale, languages.get("es", "es"))
    message = Message(
        notice_id=notice_id, kind=kind, user_id=user.id if user is not None else None,
        organisation_id=organisation_id if organisation_id is not None else (
            user.organisation.id if user is not None and user.organisation is not None else None),
        channel=channel, to_address=to_address, locale=locale, subject=subject, body=body,
        template_name=template_name, template_language=template_language,
        template_params=template_params, buttons=[list(b) for b in buttons] if buttons else None,
        secret=secret, attempts=0, created_at=now, updated_at=now,
        status=MessageStatus.SKIPPED if skipped_reason else MessageStatus.QUEUED,
        status_reason=skipped_reason, next_attempt_at=None if skipped_reason else now,
    )
    db.session.add(message)
    return message
