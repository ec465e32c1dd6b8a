"""E-mails about orders, each in its recipient's language: a new order to the cooperative;
acceptance, readiness and delivery to the buyer."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import Membership, Role, User
from marketplace.core import mail
from marketplace.extensions import db

COOP_RECIPIENTS = (Role.COOP_MANAGER, Role.COOP_MEMBER)
BUYER_RECIPIENTS = (Role.BUYER_ADMIN,)


def _members(organisation_id: int, roles) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, Membership.role.in_(roles),
               User.active.is_(True), User.email.is_not(None))
    ))


def _send(user: User, subject_fn, template: str, **context) -> None:
    with force_locale(user.locale or "es"):
        subject = subject_fn()
        body = render_template(template, user=user, base_url=current_app.config["PUBLIC_URL"], **context)
    mail.send(user.email, subject, body)


def new_order(order) -> None:
    for part in order.parts:
        for user in _members(part.cooperative_id, COOP_RECIPIENTS):
            _send(user, lambda p=part: _("Nuevo pedido %(n)s de %(buyer)s", n=p.order.number, buyer=p.order.buyer.name),
                  "orders/email/new_order.txt", part=part)


EVENTS_FOR_BUYER = {"accept", "ready", "deliver"}


def part_changed(part, event: str) -> None:
    if event not in EVENTS_FOR_BUYER:
        return
    recipients = {u.id: u for u in _members(part.order.buyer_id, BUYER_RECIPIENTS)}
    placer = part.order.placed_by
    if placer is not None and placer.email and placer.active:
        recipients[placer.id] = placer
    subjects = {
        "accept": lambda: _("%(coop)s aceptó su pedido %(n)s", coop=part.cooperative.name, n=part.order.number),
        "ready": lambda: _("Su pedido %(n)s está listo para recoger en %(coop)s", coop=part.cooperative.name,
                           n=part.order.number),
        "deliver": lambda: _("Entrega registrada: pedido %(n)s de %(coop)s", coop=part.cooperative.name,
                             n=part.order.number),
    }
    for user in recipients.values():
        _send(user, subjects[event], "orders/email/part_changed.txt", part=part, event=event)
