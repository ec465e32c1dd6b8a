"""What happens to a message a person sends us (by WhatsApp or SMS).

``receive`` records it once per provider id (a replayed webhook acts no more), identifies
the sender only by a verified number, and answers, in this order:

1. the built-in commands, whoever sends them: SALIR / STOP / BAJA / CANCELAR SUSCRIPCION
   (opt out of this channel at once), ACTIVAR / START / UNSTOP (opt back in), AYUDA / HELP;
2. an unknown sender or a deactivated account: a short answer that changes nothing;
3. the person's conversation in progress ("CANCELAR" ends it; an expired one is forgotten),
   or a conversation that the message's first word starts;
4. the reply handlers higher packages registered (``hooks.REPLY_HANDLERS``), in order;
5. otherwise a short answer listing the commands.

Every answer is a message in the outbox (``services.queue``), in the sender's language and on
the channel they wrote on; nothing is sent inline. The caller (the webhook) commits once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import User
from marketplace.core.errors import DomainError
from marketplace.core.models import utcnow
from marketplace.core.text import clean_text, search_key
from marketplace.extensions import db
from marketplace.messaging import hooks, services
from marketplace.messaging.models import Channel, Conversation, Inbound, Message

logger = logging.getLogger(__name__)

OPT_OUT_WORDS = frozenset({"SALIR", "STOP", "BAJA", "CANCELAR SUSCRIPCION", "STOPALL", "UNSUBSCRIBE"})
OPT_IN_WORDS = frozenset({"ACTIVAR", "START", "UNSTOP"})
HELP_WORDS = frozenset({"AYUDA", "HELP"})
END_CONVERSATION = "CANCELAR"

MAX_TEXT = 2000
# An answer is never longer than this (a WhatsApp text allows 4,096 characters; an SMS this
# long is already several segments).
MAX_REPLY = 1500
_DIGITS = re.compile(r"\D+")


@dataclass(frozen=True)
class Received:
    """What became of an inbound message: its row, whether it had been received before
    (then nothing was done) and the answer queued, if any."""

    inbound: Inbound
    replayed: bool
    reply: Message | None = None


def normalise_number(value: str | None) -> str:
    """A sender's number in E.164 ("+573001234567") from what a provider gives: Meta's
    "573001234567", Twilio's "+573001234567" or "whatsapp:+573001234567"."""
    value = (value or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:"):]
    digits = _DIGITS.sub("", value)
    return f"+{digits}" if digits else ""


def words_of(text: str | None) -> str:
    """The text as commands are compared: upper case, no accents, no punctuation, single
    spaces ("  Sí, 1842. " -> "SI 1842")."""
    return search_key(text).upper()


def receive(channel: Channel | str, provider: str, provider_message_id: str, from_number: str,
            text: str | None, button_payload: str | None = None, media_id: str | None = None,
            now: datetime | None = None) -> Received:
    """Record an inbound message once and answer it (see the module's docstring).

    A message already received (same provider and provider id, even one committed by a
    concurrent request a moment ago) is returned as ``replayed`` and nothing changes. Flushes;
    the caller commits."""
    now = now or utcnow()
    channel = Channel(channel)
    number = normalise_number(from_number)
    existing = _find(provider, provider_message_id)
    if existing is not None:
        return Received(existing, replayed=True)
    text = clean_text(text)[:MAX_TEXT]
    inbound = Inbound(provider=provider, provider_message_id=provider_message_id, channel=channel,
                      from_number=number[:32], text=text or None,
                      button_payload=(button_payload or "").strip()[:100] or None,
                      media_id=(media_id or "").strip()[:200] or None, received_at=now)
    try:
        # A savepoint: a concurrent delivery of the same message that committed first makes
        # this insert fail alone, and the rest of the request's transaction stands.
        with db.session.begin_nested():
            db.session.add(inbound)
            db.session.flush()
    except IntegrityError:
        existing = _find(provider, provider_message_id)
        if existing is None:
            raise
        return Received(existing, replayed=True)

    user = db.session.scalar(select(User).where(User.phone == number, User.phone_verified_at.is_not(None)))
    inbound.user_id = user.id if user is not None else None
    context = hooks.InboundContext(
        channel=channel, from_number=number, text=text, button_payload=inbound.button_payload,
        media_id=inbound.media_id, user=user, received_at=now, provider=provider)
    words = text.split()
    if words:
        context.command = words_of(words[0]).replace(" ", "")
        context.args = words[1:]

    locale = (user.locale if user is not None else None) or "es"
    with force_locale(locale):
        reply, outcome = _answer(context, inbound, now)
        body = str(reply.text)[:MAX_REPLY] if reply is not None else None
        buttons = [(payload, str(title)) for payload, title in reply.buttons] if reply is not None else None
    inbound.outcome = outcome[:200]
    message = None
    if body:
        message = services.queue(
            "reply", channel=channel, to_address=number, body=body, user=user, locale=locale,
            buttons=buttons or None, now=now)
        db.session.flush()
        inbound.reply_id = message.id
    return Received(inbound, replayed=False, reply=message)


def _find(provider: str, provider_message_id: str) -> Inbound | None:
    return db.session.scalar(select(Inbound).where(
        Inbound.provider == provider, Inbound.provider_message_id == provider_message_id))


# ------------------------------------------------------------------------ dispatch


def _answer(context: hooks.InboundContext, inbound: Inbound, now: datetime) -> tuple[hooks.Reply | None, str]:
    """The answer to one message and what happened, for staff."""
    phrase = words_of(context.text)
    if phrase in OPT_OUT_WORDS:
        # Honoured at once, even past the flood limit and from an account not yet verified:
        # only the owner of the number can send from it.
        reply = _opt_out(context, now)
        return (None if _flooding(context, inbound, now) else reply), reply.outcome
    if _flooding(context, inbound, now):
        return None, "demasiados mensajes de este número: sin respuesta"
    if phrase in OPT_IN_WORDS:
        return _as_pair(_opt_in(context, now))
    if phrase in HELP_WORDS:
        return _as_pair(hooks.Reply(help_text(context.user), "ayuda"))
    user = context.user
    if user is None:
        return _as_pair(hooks.Reply(_unknown_sender_text(), "remitente desconocido o sin verificar"))
    if not user.active:
        return _as_pair(hooks.Reply(
            _("Su cuenta en Mercado Rural está desactivada. Pida al gerente de su organización que la active."),
            "cuenta desactivada"))

    conversation = db.session.scalar(select(Conversation).where(Conversation.user_id == user.id))
    expired = None
    if conversation is not None and conversation.expires_at <= now:
        expired, conversation = conversation, None
        db.session.delete(expired)
        db.session.flush()
    if conversation is not None:
        return _as_pair(_continue(conversation, context, now))
    if phrase == END_CONVERSATION:
        return _as_pair(hooks.Reply(_("No hay nada en curso que cancelar."), "cancelar sin conversación"))
    started = _start(context, now)
    if started is not None:
        return _as_pair(started)

    for handler in list(hooks.REPLY_HANDLERS):
        reply = _guarded(handler, context)
        if reply is not None:
            return _as_pair(reply)

    if expired is not None:
        kind = hooks.CONVERSATIONS.get(expired.kind)
        if kind is not None and kind.expired is not None:
            return _as_pair(_guarded(kind.expired, expired, context))
        return _as_pair(hooks.Reply(
            _("La conversación anterior se cerró porque pasó mucho tiempo sin respuesta. %(help)s",
              help=help_text(user)), "conversación vencida"))
    return _as_pair(hooks.Reply(
        _("No entendimos su mensaje. %(help)s", help=help_text(user)), "mensaje no entendido"))


def _as_pair(reply: hooks.Reply | None) -> tuple[hooks.Reply | None, str]:
    # A conversation step that answered nothing leaves the message unanswered, not a 503.
    return (reply, reply.outcome) if reply is not None else (None, "sin respuesta")


def _flooding(context: hooks.InboundContext, inbound: Inbound, now: datetime) -> bool:
    """Whether this number sent more messages in the last hour than we answer: past
    ``INBOUND_PER_NUMBER_PER_HOUR`` they are recorded and not answered, so a flood cannot
    make the product send (and pay for) unlimited replies."""
    limit = int(current_app.config["INBOUND_PER_NUMBER_PER_HOUR"])
    recent = db.session.scalar(
        select(func.count()).select_from(Inbound).where(
            Inbound.from_number == context.from_number, Inbound.received_at > now - timedelta(hours=1),
            Inbound.id != inbound.id))
    return recent >= limit


def _guarded(call, *args):
    """Run a handler in a savepoint: a rule that refuses (``DomainError``) undoes only what
    the handler did and becomes the answer; a bug is logged and answered politely, and the
    message stays recorded (so the provider does not send it again and again)."""
    try:
        with db.session.begin_nested():
            return call(*args)
    except DomainError as error:
        return hooks.Reply(str(error.message), f"rechazado: {error.message}"[:200])
    except Exception:
        logger.exception("inbound message handler %r failed", call)
        return hooks.Reply(_("No pudimos atender su mensaje en este momento. Intente más tarde o entre a la página."),
                           "error al atender")


# ----------------------------------------------------------------- built-in commands


def _opt_out(context: hooks.InboundContext, now: datetime) -> hooks.Reply:
    # Whoever holds the number, verified or not: nothing more goes to it on this channel.
    user = context.user or db.session.scalar(select(User).where(User.phone == context.from_number))
    if context.channel == Channel.WHATSAPP:
        text = _("Listo: no le enviaremos más mensajes por WhatsApp. Para volver a recibirlos, escriba ACTIVAR.")
    else:
        text = _("Listo: no le enviaremos más mensajes de texto. Para volver a recibirlos, escriba ACTIVAR.")
    if user is None:
        return hooks.Reply(text, f"salida de {context.channel.value} (número sin cuenta)")
    if context.channel == Channel.WHATSAPP:
        user.whatsapp_opt_out_at = now
    else:
        user.sms_opt_out_at = now
    return hooks.Reply(text, f"salida de {context.channel.value}")


def _opt_in(context: hooks.InboundContext, now: datetime) -> hooks.Reply:
    user = context.user
    if user is None:
        return hooks.Reply(_unknown_sender_text(), "activar: remitente desconocido o sin verificar")
    if context.channel == Channel.WHATSAPP:
        # The person asked for it, on WhatsApp: the opt-in Meta requires.
        user.whatsapp_opt_in_at = now
        text = _("Listo: le enviaremos los avisos de Mercado Rural por WhatsApp. Para dejar de recibirlos, "
                 "escriba SALIR.")
    else:
        user.sms_opt_out_at = None
        text = _("Listo: le enviaremos los avisos de Mercado Rural por mensaje de texto. Para dejar de "
                 "recibirlos, escriba SALIR.")
    return hooks.Reply(text, f"entrada a {context.channel.value}")


def help_text(user: User | None) -> str:
    """The commands this person can use, in the current language."""
    lines = []
    if user is not None and user.active:
        for line in hooks.HELP_LINES:
            text = line(user)
            if text:
                lines.append(str(text))
        for kind in hooks.CONVERSATIONS.values():
            if kind.start_words and kind.can_start(user) and not _described(kind.start_words[0], lines):
                lines.append(kind.start_words[0])
    lines.append(_("SALIR: no recibir más mensajes por este medio; ACTIVAR: volver a recibirlos"))
    return _("Puede escribir: %(commands)s.", commands="; ".join(lines))


def _described(word: str, lines: list[str]) -> bool:
    return any(word in line for line in lines)


def _unknown_sender_text() -> str:
    url = current_app.config["PUBLIC_URL"].rstrip("/") + "/registro"
    return _("Este número no está registrado o no está verificado en Mercado Rural. Regístrese o verifique su "
             "celular en %(url)s", url=url)


# ------------------------------------------------------------------ conversations


def _timeout() -> timedelta:
    return timedelta(minutes=int(current_app.config["CONVERSATION_MINUTES"]))


def _continue(conversation: Conversation, context: hooks.InboundContext, now: datetime) -> hooks.Reply:
    kind = hooks.CONVERSATIONS.get(conversation.kind)
    if words_of(context.text) == END_CONVERSATION or kind is None:
        db.session.delete(conversation)
        return hooks.Reply(_("Listo, cancelado. No se guardó nada."), f"conversación {conversation.kind} cancelada")
    conversation.updated_at = now
    conversation.expires_at = now + _timeout()

    def step():
        reply, done = kind.step(conversation, context)
        if done:
            db.session.delete(conversation)
        db.session.flush()
        return reply

    return _guarded(step)


def _start(context: hooks.InboundContext, now: datetime) -> hooks.Reply | None:
    if not context.command:
        return None
    for kind in hooks.CONVERSATIONS.values():
        if context.command not in kind.start_words:
            continue
        if not kind.can_start(context.user):
            return hooks.Reply(_("Su cuenta no puede usar %(word)s.", word=context.command),
                               f"no puede empezar {kind.kind}")

        def start(kind=kind):
            conversation = Conversation(user_id=context.user.id, kind=kind.kind, step="start", state={},
                                        channel=context.channel, started_at=now, updated_at=now,
                                        expires_at=now + _timeout())
            db.session.add(conversation)
            db.session.flush()
            return kind.start(conversation, context)

        return _guarded(start)
    return None
