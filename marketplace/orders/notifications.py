"""E-mails about orders, each in its recipient's language: a new order (or the news that
its offer for a buyer's demand was chosen) to the cooperative;
acceptance, decline, expiry, readiness and delivery to the buyer.

Services write a ``Notification`` row in the same transaction as the change; ``deliver``
renders and sends them afterwards (``flask orders work`` or ``flask orders sweep``), so a
slow or absent mail server never slows or fails an order, and a crash loses no e-mail.
"""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import Membership, Role, User
from marketplace.core import mail
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders.models import Notification, OrderPart

log = logging.getLogger(__name__)
COOP_RECIPIENTS = (Role.COOP_MANAGER, Role.COOP_MEMBER)
BUYER_RECIPIENTS = (Role.BUYER_ADMIN,)
MAX_ATTEMPTS = 5
COOP_KINDS = ("new_order", "offer_chosen")


def _members(organisation_id: int, roles) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, Membership.role.in_(roles),
               User.active.is_(True), User.email.is_not(None))
    ))


def recipients(part: OrderPart, kind: str) -> list[User]:
    if kind in COOP_KINDS:
        return _members(part.cooperative_id, COOP_RECIPIENTS)
    people = {u.id: u for u in _members(part.order.buyer_id, BUYER_RECIPIENTS)}
    placer = part.order.placed_by
    if placer is not None and placer.email and placer.active:
        people[placer.id] = placer
    return list(people.values())


def _subject(part: OrderPart, kind: str) -> str:
    n, coop = part.order.number, part.cooperative.name
    return {
        "new_order": lambda: _("Nuevo pedido %(n)s de %(buyer)s", n=n, buyer=part.order.buyer.name),
        "offer_chosen": lambda: _("%(buyer)s eligió su cotización: pedido %(n)s", n=n, buyer=part.order.buyer.name),
        "accept": lambda: _("%(coop)s aceptó su pedido %(n)s", coop=coop, n=n),
        "decline": lambda: _("%(coop)s no puede atender su pedido %(n)s", coop=coop, n=n),
        "expire": lambda: _("%(coop)s no respondió a tiempo su pedido %(n)s", coop=coop, n=n),
        "ready": lambda: _("Su pedido %(n)s está listo para recoger en %(coop)s", coop=coop, n=n),
        "deliver": lambda: _("Entrega registrada: pedido %(n)s de %(coop)s", coop=coop, n=n),
    }[kind]()


def render(part: OrderPart, kind: str, user: User) -> tuple[str, str]:
    """Subject and body in the recipient's language."""
    template = "orders/email/new_order.txt" if kind in COOP_KINDS else "orders/email/part_changed.txt"
    # Workers send outside any request: links are built against the public address.
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]), \
            force_locale(user.locale or "es"):
        subject = _subject(part, kind)
        body = render_template(template, user=user, part=part, event=kind)
    return subject, body


def deliver(limit: int = 200) -> int:
    """Send pending notifications, committing after each. Returns how many were sent.
    Several workers may run at once: on PostgreSQL each takes rows the others skip."""
    sent = 0
    while sent < limit:
        note = db.session.scalar(
            select(Notification).where(Notification.sent_at.is_(None)).order_by(Notification.id)
            .limit(1).with_for_update(skip_locked=True)
        )
        if note is None:
            break
        ok = True
        try:
            for user in recipients(note.part, note.kind):
                subject, body = render(note.part, note.kind, user)
                ok = mail.send(user.email, subject, body) and ok
        except Exception as exc:  # a broken template or row must not stop the others
            log.exception("Notification %s failed", note.id)
            ok, note.last_error = False, str(exc)[:500]
        note.attempts += 1
        if ok or note.attempts >= MAX_ATTEMPTS:
            note.sent_at = utcnow()
            if not ok:
                note.last_error = (note.last_error or "gave up after repeated SMTP failures")[:500]
            sent += ok
        db.session.commit()
        if not ok and note.sent_at is None:
            break  # the mail server is down: try again on the next run
    return sent
