"""Replies that act on orders: the new-order notice's WhatsApp buttons ("accept:<part id>",
"decline:<part id>"), "SI 1842" / "NO 1842 motivo" by SMS or WhatsApp, and "PEDIDOS".

The sender is the user messaging identified by a verified number. They act through the same
service as the web's buttons (``services.transition``, which takes the order's lock and
checks the sender's role on that part), so a reply can do exactly what that person could do
on the sale's page. An order of another organisation reads as one that does not exist: the
answer never says whose it is or what state it is in.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.core.errors import DomainError
from marketplace.core.formatting import kg as format_kg
from marketplace.core.formatting import moment
from marketplace.extensions import db
from marketplace.messaging import hooks
from marketplace.orders import services
from marketplace.orders.common import COOP_ROLES
from marketplace.orders.models import OrderPart, PartStatus

_BUTTON = re.compile(r"^(accept|decline):(\d{1,12})$")
_ORDER = re.compile(r"^#?(?:OC-?)?0*(\d{1,12})$", re.IGNORECASE)
_WORDS = {"SI": "accept", "NO": "decline"}
LIST_WORD = "PEDIDOS"
LIST_LIMIT = 8

_NOT_COOP = _l("Solo la cooperativa que recibió un pedido puede aceptarlo o rechazarlo.")


def register() -> None:
    hooks.register_reply_handler(handle)
    hooks.register_help(help_line)


def help_line(user: User) -> str | None:
    if user.role not in COOP_ROLES:
        return None
    return _("PEDIDOS: los pedidos por responder; SI 1842 o NO 1842: aceptar o rechazar el pedido 1842")


def handle(context: hooks.InboundContext) -> hooks.Reply | None:
    """Answer an order command, or None when the message is not one."""
    payload = (context.button_payload or "").strip()
    match = _BUTTON.match(payload)
    if match:
        return _answer_button(context, "accept" if match.group(1) == "accept" else "decline", int(match.group(2)))
    if payload:
        return None
    if context.command in _WORDS:
        return _answer_words(context, _WORDS[context.command], context.args)
    if context.command == LIST_WORD and not context.args:
        return _waiting(context.user)
    return None


# ------------------------------------------------------------------- answering


def _cooperative_id(user: User | None) -> int | None:
    if user is None or user.role not in COOP_ROLES or user.organisation is None:
        return None
    return user.organisation.id


def _answer_button(context: hooks.InboundContext, action: str, part_id: int) -> hooks.Reply:
    coop_id = _cooperative_id(context.user)
    if coop_id is None:
        return hooks.Reply(str(_NOT_COOP), f"{action}: no es de una cooperativa")
    part = db.session.get(OrderPart, part_id)
    if part is None or part.cooperative_id != coop_id:
        # The button's part id is the only number at hand; it means nothing to the person.
        return hooks.Reply(_("No encontramos ese pedido entre los de su cooperativa. Escriba PEDIDOS para ver los "
                             "que esperan respuesta."), f"{action}: parte {part_id} no es de su cooperativa")
    return _act(context, action, part, reason=None)


def _answer_words(context: hooks.InboundContext, action: str, args: list[str]) -> hooks.Reply:
    word = "SI" if action == "accept" else "NO"
    coop_id = _cooperative_id(context.user)
    if coop_id is None:
        return hooks.Reply(str(_NOT_COOP), f"{word}: no es de una cooperativa")
    args = list(args)
    if len(args) >= 2 and args[0].upper().rstrip("-") == "OC":  # "SI OC 001842"
        args = [args[0] + args[1], *args[2:]]
    match = _ORDER.match(args[0].strip(".,;:!?")) if args else None
    if match is None:
        return hooks.Reply(
            _("Escriba %(word)s seguido del número del pedido, por ejemplo %(word)s 1842. Escriba PEDIDOS para "
              "ver los que esperan respuesta.", word=word), f"{word} sin número de pedido")
    order_id = int(match.group(1))
    number = f"OC-{order_id:06d}"
    part = db.session.scalar(select(OrderPart).where(OrderPart.order_id == order_id,
                                                     OrderPart.cooperative_id == coop_id))
    if part is None:
        return hooks.Reply(_("No encontramos el pedido %(number)s entre los de su cooperativa. Escriba PEDIDOS "
                             "para ver los que esperan respuesta.", number=number),
                           f"{word} {number}: no es de su cooperativa")
    reason = (" ".join(args[1:]).strip() or None) if action == "decline" else None
    return _act(context, action, part, reason)


def _act(context: hooks.InboundContext, action: str, part: OrderPart, reason: str | None) -> hooks.Reply:
    number = part.order.number
    if part.status != PartStatus.PLACED:
        return hooks.Reply(
            _("El pedido %(number)s ya no espera respuesta: %(status)s. No cambió nada.",
              number=number, status=str(services.STATUS_LABELS[part.status]).lower()),
            f"{action} {number}: la parte {part.id} está {part.status.value}")
    try:
        with db.session.begin_nested():
            services.transition(context.user, part, action, reason=reason)
    except DomainError as error:
        db.session.refresh(part)
        return hooks.Reply(_("Pedido %(number)s: %(error)s No cambió nada.", number=number, error=error.message),
                           f"{action} {number}: {error.message}"[:200])
    buyer = part.order.buyer.name
    if action == "accept":
        return hooks.Reply(_("Listo: pedido %(number)s aceptado. Le avisamos al comprador (%(buyer)s).",
                             number=number, buyer=buyer), f"aceptó la parte {part.id} ({number})")
    return hooks.Reply(_("Listo: pedido %(number)s rechazado. Le avisamos al comprador (%(buyer)s).",
                         number=number, buyer=buyer), f"rechazó la parte {part.id} ({number})")


def _waiting(user: User | None) -> hooks.Reply:
    coop_id = _cooperative_id(user)
    if coop_id is None:
        return hooks.Reply(_("PEDIDOS muestra los pedidos que esperan respuesta de una cooperativa; su cuenta no es "
                             "de una cooperativa."), "pedidos: no es de una cooperativa")
    parts = list(db.session.scalars(
        select(OrderPart).where(OrderPart.cooperative_id == coop_id, OrderPart.status == PartStatus.PLACED)
        .order_by(OrderPart.respond_by, OrderPart.id).limit(LIST_LIMIT + 1)))
    if not parts:
        return hooks.Reply(_("No hay pedidos esperando su respuesta."), "pedidos: ninguno")
    lines = [_("%(id)s: %(buyer)s, %(kg)s, responder antes de %(time)s",
               id=part.order_id, buyer=part.order.buyer.name,
               kg=format_kg(sum((line.quantity_kg for line in part.lines), start=0)),
               time=moment(part.respond_by)) for part in parts[:LIST_LIMIT]]
    if len(parts) > LIST_LIMIT:
        lines.append(_("y otros más en la página de ventas"))
    return hooks.Reply(_("Pedidos por responder:\n%(lines)s\nResponda SI o NO y el número, por ejemplo SI %(id)s.",
                         lines="\n".join(lines), id=parts[0].order_id), f"pedidos: {min(len(parts), LIST_LIMIT)}")
