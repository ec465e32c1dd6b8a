"""The worker's side of the outbox: notices become messages, messages go to providers.

``expand`` takes each notice nobody has expanded and writes one ``Message`` per recipient,
on that person's channel, in that person's language (a notice kind may fix the channel and
address instead: a code to a number being verified). Someone with no usable channel gets a
``skipped`` message that says why, so staff can see it. A kind that is unknown or fails to
render is tried again with back-off and given up after ``MESSAGING_MAX_ATTEMPTS``; it never
stops the others.

``send_due`` claims each due message with a guarded UPDATE (so of several workers exactly
one sends it), checks once more that the person can be reached there (an opt-out since
the message was queued is honoured at once), and hands it to the channel's provider. A
temporary failure is tried again after 1, 2, 4... minutes and failed after
``MESSAGING_MAX_ATTEMPTS`` tries; a permanent one fails at once. The status, provider id,
SMS parts and cost are recorded; a secret's digits are masked once a real provider has it.

Both commit as they go: they run in the worker (an edge), never in a user's request.

By SMS a notice's buttons are spelled as words to answer when a button's payload is the
text that does the same by SMS ("SI 1842"): "Responda SI 1842 (Aceptar) o NO 1842
(Rechazar)" is added to the short text unless it already names them. Machine payloads
("accept:12") are not spelled: the kind's short text says how to answer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import User
from marketplace.core import retry
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks, providers, services
from marketplace.messaging.models import Channel, Message, MessageStatus, Notice

log = logging.getLogger(__name__)

# Messages are claimed a few at a time (one UPDATE and commit for the lot), for as long as
# CLAIM_SECONDS: a crashed worker's messages are taken up again after that. A live worker
# starts no send later than CLAIM_MARGIN before its claim runs out, far more than one
# message's provider calls can take (MESSAGING_TIMEOUT_SECONDS, at most two calls and one
# connection retry each), and gives the rest of the batch back.
CLAIM_BATCH = 10
CLAIM_SECONDS = 300
CLAIM_MARGIN = 90
MASK = "•"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8... minutes after the first, second, third... failed try (at most a day)."""
    return retry.backoff(attempts, cap=timedelta(days=1))


def _max_attempts() -> int:
    return int(current_app.config["MESSAGING_MAX_ATTEMPTS"])


def _clock(now: datetime | None) -> Callable[[], datetime]:
    return (lambda: now) if now is not None else utcnow


# ---------------------------------------------------------------------------- expanding


def expand(limit: int = 100, now: datetime | None = None) -> int:
    """Write the messages of up to ``limit`` pending notices; commit. Returns how many
    notices were expanded (or given up). On PostgreSQL several workers share the notices
    (FOR UPDATE SKIP LOCKED); on SQLite run one worker."""
    clock = _clock(now)
    moment = clock()
    notices = list(db.session.scalars(
        select(Notice)
        .where(Notice.expanded_at.is_(None),
               or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= moment))
        .order_by(Notice.id).limit(limit).with_for_update(skip_locked=True)))
    done = 0
    for notice in notices:
        notice.attempts = (notice.attempts or 0) + 1
        try:
            with db.session.begin_nested():
                kind = hooks.NOTICE_KINDS.get(notice.kind)
                if kind is None:
                    raise LookupError(f"tipo de aviso desconocido: {notice.kind}")
                _expand_one(notice, kind, moment)
        except Exception as exc:  # one broken notice must not stop the others
            log.exception("Notice %s (%s) could not be expanded", notice.id, notice.kind)
            notice.last_error = f"{exc.__class__.__name__}: {exc}"[:1000]
            if notice.attempts >= _max_attempts():
                notice.expanded_at = moment  # given up: last_error says why
                done += 1
            else:
                notice.next_attempt_at = moment + backoff(notice.attempts)
            continue
        notice.expanded_at, notice.last_error, notice.next_attempt_at = moment, None, None
        done += 1
    for notice in notices:
        _forget_secret(notice)
    db.session.commit()
    return done


def _forget_secret(notice: Notice) -> None:
    """A code, link or temporary password lives in its notice only until the notice has
    become its message (or been given up): the message is the one record, masked once sent."""
    kind = hooks.NOTICE_KINDS.get(notice.kind)
    if notice.expanded_at is not None and kind is not None and kind.secret:
        notice.payload = None


def _expand_one(notice: Notice, kind: hooks.NoticeKind, now: datetime) -> None:
    public_url = current_app.config["PUBLIC_URL"]
    if kind.address is not None:
        channel, address = kind.address(notice)
        people = kind.recipients(notice)
        user = people[0] if people else None
        rendered = _render(kind, notice, user, public_url)
        _queue(notice, kind, user, Channel(channel), address, rendered, now)
        return
    seen: set[int] = set()
    for user in kind.recipients(notice):
        if user.id in seen:
            continue
        seen.add(user.id)
        channel, reason = services.channel_for(user)
        rendered = _render(kind, notice, user, public_url)
        if channel is None:
            try:
                preferred = Channel(user.preferred_channel)
            except ValueError:
                preferred = Channel.WHATSAPP
            _queue(notice, kind, user, preferred, services.address_for(user, preferred), rendered, now,
                   skipped_reason=reason)
            continue
        _queue(notice, kind, user, channel, services.address_for(user, channel), rendered, now)


def _locale(user: User | None, notice: Notice) -> str:
    if user is not None and user.locale:
        return user.locale
    return (notice.payload or {}).get("locale") or "es"


def _render(kind: hooks.NoticeKind, notice: Notice, user: User | None, public_url: str) -> _Rendered:
    """The notice as ``user`` reads it: in their language, with links to the public site
    (the worker runs outside any request). The SMS text is fitted to GSM-7 here, with the
    buttons spelled as words to answer."""
    locale = _locale(user, notice)
    with current_app.test_request_context(base_url=public_url), force_locale(locale):
        rendered = kind.render(notice, user)
        sms = gsm.fit_gsm7(_spell_buttons(rendered.short, rendered.buttons))
    return _Rendered(rendered, sms, locale)


class _Rendered:
    def __init__(self, rendered: hooks.Rendered, sms: str, locale: str):
        self.rendered, self.sms, self.locale = rendered, sms, locale


# A payload made of words and numbers ("SI 1842") can be typed as an SMS answer; a machine
# payload ("accept:12") cannot, and the kind's short text says how to answer instead.
_TYPEABLE = re.compile(r"^[^\W_]+(?: [^\W_]+)*$")


def _spell_buttons(short: str, buttons) -> str:
    missing = [(str(payload), str(title)) for payload, title in buttons or ()
               if _TYPEABLE.match(str(payload)) and str(payload).upper() not in short.upper()]
    if not missing:
        return short
    choices = [_("%(words)s (%(title)s)", words=words, title=title) for words, title in missing]
    spelled = choices[0] if len(choices) == 1 else _("%(first)s o %(last)s", first=", ".join(choices[:-1]),
                                                     last=choices[-1])
    answer = _("Responda %(choices)s", choices=spelled)
    return f"{short}\n{answer}"


def _queue(notice: Notice, kind: hooks.NoticeKind, user: User | None, channel: Channel, address: str | None,
           rendered: _Rendered, now: datetime, skipped_reason: str | None = None) -> Message:
    r = rendered.rendered
    common = dict(user=user, locale=rendered.locale, notice_id=notice.id, secret=kind.secret, now=now,
                  skipped_reason=skipped_reason,
                  organisation_id=notice.organisation_id if user is None or user.organisation is None else None)
    if channel == Channel.EMAIL:
        return services.queue(notice.kind, channel=channel, to_address=address, subject=r.subject[:200],
                              body=r.text, **common)
    if channel == Channel.SMS:
        return services.queue(notice.kind, channel=channel, to_address=address, body=rendered.sms, **common)
    template = current_app.config.get("WHATSAPP_TEMPLATES", {}).get(notice.kind) or kind.template
    return services.queue(notice.kind, channel=channel, to_address=address, body=r.text,
                          template_name=template, template_params=[str(p) for p in r.template_params],
                          buttons=[[str(p), str(t)] for p, t in r.buttons] or None, **common)


# ---------------------------------------------------------------------------- sending


def _due(now: datetime):
    return (Message.status == MessageStatus.QUEUED,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            or_(Message.claimed_until.is_(None), Message.claimed_until < now))


def send_due(limit: int = 100, now: datetime | None = None) -> dict[str, int]:
    """Send up to ``limit`` due messages. Returns counts by outcome: sent, retry (a
    temporary failure, tried again later), failed, skipped.

    Messages are claimed ``CLAIM_BATCH`` at a time with one guarded UPDATE (committed), so
    of several workers exactly one sends each. No transaction is open while a provider is
    called (on SQLite every transaction holds the database's write lock): the claimed
    messages are read, checked and detached, then each is sent and its outcome committed at
    once, so a crash loses at most the one being sent."""
    clock = _clock(now)
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    ids = list(db.session.scalars(
        select(Message.id).where(*_due(clock())).order_by(Message.id).limit(limit)))
    db.session.commit()
    for start in range(0, len(ids), CLAIM_BATCH):
        _send_batch(ids[start:start + CLAIM_BATCH], clock, counts)
    return counts


def _send_batch(ids: list[int], clock: Callable[[], datetime], counts: dict[str, int]) -> None:
    claimed_at, started = clock(), time.monotonic()
    until = claimed_at + timedelta(seconds=CLAIM_SECONDS)
    claimed = list(db.session.scalars(
        update(Message).where(Message.id.in_(ids), *_due(claimed_at))
        .values(claimed_until=until, attempts=Message.attempts + 1)
        .returning(Message.id).execution_options(synchronize_session=False)))
    db.session.commit()
    if not claimed:
        return  # another worker has them, or they are no longer due
    messages = list(db.session.scalars(
        select(Message).options(joinedload(Message.user)).where(Message.id.in_(claimed)).order_by(Message.id)))
    ready = []
    for message in messages:
        problem = _recheck(message)
        if problem is not None:
            message.status, message.status_reason, message.next_attempt_at = MessageStatus.SKIPPED, problem, None
            message.claimed_until, message.updated_at = None, clock()
            counts["skipped"] += 1
            continue
        window = (services.window_open(message.to_address, claimed_at)
                  if message.channel == Channel.WHATSAPP and message.to_address else None)
        ready.append((message, window))
    db.session.flush()
    for message, _window in ready:
        db.session.expunge(message)
    db.session.commit()
    for index, (message, window) in enumerate(ready):
        if index and time.monotonic() - started > CLAIM_SECONDS - CLAIM_MARGIN:
            # Slow providers: give back what this claim may not cover to its end.
            rest = [m.id for m, _w in ready[index:]]
            db.session.execute(
                update(Message).where(Message.id.in_(rest), Message.claimed_until == until)
                .values(claimed_until=None, attempts=Message.attempts - 1)
                .execution_options(synchronize_session=False))
            db.session.commit()
            return
        outcome = _record(message, _deliver(message, window), clock())
        db.session.execute(
            update(Message).where(Message.id == message.id)
            .values({**{field: getattr(message, field) for field in _RECORDED},
                     "claimed_until": None, "updated_at": clock()})
            .execution_options(synchronize_session=False))
        db.session.commit()
        counts[outcome] += 1


# What sending a message changes on its row.
_RECORDED = ("status", "status_reason", "provider", "provider_id", "sent_at", "failed_at", "next_attempt_at",
             "segments", "cost", "as_template", "body", "template_params", "to_address")


def _fixed_address(kind: str) -> bool:
    notice_kind = hooks.NOTICE_KINDS.get(kind)
    return notice_kind is not None and notice_kind.address is not None


def _recheck(message: Message) -> str | None:
    """Why a notice can no longer go to its person on its channel, or None. A notice to a
    person's own channel is checked again now: they may have opted out (SALIR / STOP), lost
    their verification or changed their number since it was queued (the new verified number
    is used). Replies to someone who just wrote, and codes to a number being verified, are
    not checked."""
    user = message.user
    if message.notice_id is None or user is None or _fixed_address(message.kind):
        return None
    problem = services.channel_problem(user, message.channel)
    if problem is not None:
        return problem
    address = services.address_for(user, message.channel)
    if address and address != message.to_address:
        message.to_address = address
    return None


def _deliver(message: Message, window: bool | None) -> tuple:
    """Hand the (detached) message to its provider: ("sent", result), ("failed", provider,
    reason) or ("retry", provider, reason)."""
    name = providers.provider_name(message.channel)
    try:
        provider = providers.for_channel(message.channel)
        name = provider.name
        return "sent", provider.send(message, window_open=window)
    except providers.PermanentFailure as exc:
        return "failed", name, exc.reason
    except providers.TemporaryFailure as exc:
        log.warning("Message %s not sent yet by %s: %s", message.id, name, exc.reason)
        return "retry", name, exc.reason
    except Exception as exc:  # a bug: tried again like an outage, then failed
        log.exception("Message %s: unexpected error from %s", message.id, name)
        return "retry", name, f"{exc.__class__.__name__}: {exc}"


def _record(message: Message, result: tuple, now: datetime) -> str:
    outcome = result[0]
    if outcome == "sent":
        sent: providers.SendResult = result[1]
        message.status, message.status_reason = MessageStatus.SENT, None
        message.provider, message.provider_id = sent.provider, sent.provider_id
        message.sent_at, message.next_attempt_at = now, None
        message.segments, message.cost, message.as_template = sent.segments, sent.cost, sent.as_template
        if message.secret and sent.provider != "log":
            _mask(message)
        return "sent"
    _outcome, name, reason = result
    if outcome == "retry" and message.attempts < _max_attempts():
        message.provider, message.status_reason = name, reason[:1000]
        message.next_attempt_at = now + backoff(message.attempts)
        return "retry"
    log.warning("Message %s failed (%s): %s", message.id, name, reason)
    message.status, message.status_reason = MessageStatus.FAILED, reason[:1000]
    message.provider, message.failed_at, message.next_attempt_at = name, now, None
    if message.secret and name != "log":
        _mask(message)
    return "failed"


_DIGITS = re.compile(r"\d")


def mask(text: str) -> str:
    """``text`` with every digit replaced, so a code or temporary password is not kept."""
    return _DIGITS.sub(MASK, text)


def _mask(message: Message) -> None:
    message.body = mask(message.body)
    if message.template_params:
        message.template_params = [mask(str(p)) for p in message.template_params]


# ---------------------------------------------------------------------------- the worker


def run_once(limit: int = 100, now: datetime | None = None) -> dict[str, int]:
    """One round of messaging: expand pending notices, send what is due, then fetch the
    photos people sent in chats (``media.process_media``). Commits."""
    from marketplace.messaging import media

    counts = {"expanded": expand(limit, now)}
    counts.update(send_due(limit, now))
    counts["photos"] = media.process_media(now=now)
    return counts


def summary(counts: dict[str, int]) -> str:
    return (f"{counts.get('expanded', 0)} avisos preparados, {counts.get('sent', 0)} mensajes enviados, "
            f"{counts.get('retry', 0)} por reintentar, {counts.get('failed', 0)} fallidos, "
            f"{counts.get('skipped', 0)} omitidos, {counts.get('photos', 0)} fotos recibidas.")
