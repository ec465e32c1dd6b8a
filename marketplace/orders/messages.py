"""The notices orders owes cooperatives and buyers, for every channel.

Services write a ``Notice`` about an order part in the same transaction as the change
(``messaging.services.notify``; placing writes its notices in one multi-row INSERT). The
messaging worker expands each one with the kinds registered here: ``recipients(notice)``
says who is told, ``render(notice, user)`` (inside that person's locale and a request
context on ``PUBLIC_URL``) what they read on each channel:

- e-mail: ``subject`` and ``text`` (the bodies in ``templates/orders/email``, with a link to
  the order);
- WhatsApp, outside the 24-hour window: the kind's approved ``template``, filled with
  ``template_params`` in order, and its quick-reply ``buttons``; inside it, ``text`` and
  ``buttons``;
- SMS: ``short``, kept to one GSM-7 segment (160 characters) where it can be: plain words,
  no links, the order's plain number for the "SI 1842" / "NO 1842" replies.

To the cooperative (its managers and members): a new order, an offer chosen from a buyer's
demand, the reminders 12 h and 2 h before an unanswered part declines itself, a
cancellation, a dispute, a payout. To the buyer (its admins and the person who placed the
order): acceptance, decline, expiry, ready, delivered, and a cancellation the buyer did not
make. To the other side of each open part when one side is suspended (``on_hold``) and
reinstated (``resumed``). Nobody is told about another cooperative's part: each notice is
about one part.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import render_template
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import Membership, Role, User
from marketplace.catalog.display import product_name
from marketplace.core.formatting import cop, kg
from marketplace.extensions import db
from marketplace.messaging.hooks import NoticeKind, Rendered, register_notice
from marketplace.messaging.models import Notice
from marketplace.orders.models import DisputeKind, OrderLine, OrderPart, PartStatus

COOP_ROLES = (Role.COOP_MANAGER, Role.COOP_MEMBER)
BUYER_ROLES_TOLD = (Role.BUYER_ADMIN,)  # and whoever placed the order
SMS_LIMIT = 160  # one GSM-7 segment
PARAM_LIMIT = 300  # a template parameter stays well under Meta's limit and reads on a phone

# Kinds told to the cooperative; the cooperative may answer these (buttons, SI/NO).
ANSWERABLE = ("new_order", "offer_chosen", "reminder_12h", "reminder_2h")
BUYER_KINDS = ("accept", "decline", "expire", "ready", "deliver")
COOPERATIVE_KINDS = (*ANSWERABLE, "cancel", "dispute", "payout")


# ----------------------------------------------------------------- recipients


def _people(organisation_id: int, roles) -> list[User]:
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, Membership.role.in_(roles),
               User.active.is_(True))
        .order_by(User.id)))


def _part(notice: Notice) -> OrderPart | None:
    return db.session.get(OrderPart, notice.subject_id) if notice.subject_id is not None else None


def _cooperative(part: OrderPart) -> list[User]:
    return _people(part.cooperative_id, COOP_ROLES)


def _buyer(part: OrderPart) -> list[User]:
    people = {u.id: u for u in _people(part.order.buyer_id, BUYER_ROLES_TOLD)}
    placer = part.order.placed_by
    # The person who placed it, while still one of the buyer's people.
    if placer is not None and placer.active and placer.organisation is not None \
            and placer.organisation.id == part.order.buyer_id:
        people[placer.id] = placer
    return sorted(people.values(), key=lambda u: u.id)


def cooperative_recipients(notice: Notice) -> list[User]:
    part = _part(notice)
    return [] if part is None else _cooperative(part)


def buyer_recipients(notice: Notice) -> list[User]:
    part = _part(notice)
    return [] if part is None else _buyer(part)


def reminder_recipients(notice: Notice) -> list[User]:
    """A reminder goes only while the part still waits for an answer: one answered (or
    expired) between the sweep and the worker is not reminded."""
    part = _part(notice)
    if part is None or part.status != PartStatus.PLACED:
        return []
    return _cooperative(part)


def cancel_recipients(notice: Notice) -> list[User]:
    """Both sides of the part, except the side that cancelled it."""
    part = _part(notice)
    if part is None:
        return []
    by = (notice.payload or {}).get("by")
    people = [] if by == "coop" else _cooperative(part)
    return people + ([] if by == "buyer" else _buyer(part))


# ------------------------------------------------------------------ pieces


def _when(part: OrderPart) -> str:
    """The answer-by time on Colombia's clock (the app's time zone), day and hour."""
    return format_datetime(part.respond_by, "d MMM, HH:mm")


def _when_short(part: OrderPart) -> str:
    return format_datetime(part.respond_by, "d MMM HH:mm")


def _items(lines: list[OrderLine], received: bool = False) -> str:
    """"100 kg Cacao en grano seco, 30 kg Café pergamino seco" (with what arrived)."""
    texts = []
    for line in lines:
        text = f"{kg(line.quantity_kg)} {product_name(line.product)}"
        if received and line.received_kg is not None:
            text += " (" + _("recibido %(kg)s", kg=kg(line.received_kg)) + ")"
        texts.append(text)
    return ", ".join(texts)


def _summary(lines: list[OrderLine]) -> str:
    total = sum((line.quantity_kg for line in lines), Decimal("0"))
    return ngettext("%(num)d producto, %(kg)s", "%(num)d productos, %(kg)s", len(lines), kg=kg(total))


def _param(text: str) -> str:
    """A WhatsApp template parameter: one line (Meta refuses new lines, tabs and runs of
    spaces in parameters), never empty, not too long."""
    text = " ".join(str(text).split()) or "-"
    return text if len(text) <= PARAM_LIMIT else text[:PARAM_LIMIT - 3] + "..."


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:max(size - 3, 1)].rstrip() + "..."


def _fit(build: Callable[[str, str], str], part: OrderPart, other: str) -> str:
    """The SMS text ``build(items, other party)`` within one segment when it can be: the
    products in full, else counted, else with the other party's name shortened."""
    lines = part.lines
    for items, name in ((_items(lines), other), (_summary(lines), other), (_summary(lines), _clip(other, 24))):
        text = build(items, name)
        if len(text) <= SMS_LIMIT:
            return text
    return text


def _email(template: str, user: User, part: OrderPart, event: str, **extra) -> str:
    return render_template(f"orders/email/{template}", user=user, part=part, event=event, **extra)


def _answer_buttons(part: OrderPart) -> list[tuple[str, str]]:
    return [(f"accept:{part.id}", _("Aceptar")), (f"decline:{part.id}", _("Rechazar"))]


def _is_cooperative(user: User, part: OrderPart) -> bool:
    org = user.organisation
    return org is not None and org.id == part.cooperative_id


def _require(notice: Notice) -> OrderPart:
    part = _part(notice)
    if part is None:
        raise LookupError(f"order part {notice.subject_id} of notice {notice.id} no longer exists")
    return part


# ------------------------------------------------------------ cooperative side


def render_new_order(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order, buyer = part.order, part.order.buyer.name
    when = _when_short(part)
    short = _fit(lambda items, name: _(
        "Nuevo pedido %(id)s de %(buyer)s: %(items)s. Plazo: %(when)s. Responda SI %(id)s o NO %(id)s",
        id=order.id, buyer=name, items=items, when=when), part, buyer)
    return Rendered(
        subject=_("Nuevo pedido %(n)s de %(buyer)s", n=order.number, buyer=buyer),
        text=_email("new_order.txt", user, part, notice.kind),
        short=short,
        template_params=[_param(order.number), _param(buyer), _param(_items(part.lines)), _param(_when(part))],
        buttons=_answer_buttons(part),
    )


def render_offer_chosen(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order, buyer = part.order, part.order.buyer.name
    when = _when_short(part)
    short = _fit(lambda items, name: _(
        "%(buyer)s eligió su cotización: pedido %(id)s, %(items)s. Plazo: %(when)s. Responda SI %(id)s o NO %(id)s",
        id=order.id, buyer=name, items=items, when=when), part, buyer)
    return Rendered(
        subject=_("%(buyer)s eligió su cotización: pedido %(n)s", n=order.number, buyer=buyer),
        text=_email("new_order.txt", user, part, notice.kind),
        short=short,
        template_params=[_param(buyer), _param(order.number), _param(_items(part.lines)), _param(_when(part))],
        buttons=_answer_buttons(part),
    )


def render_reminder(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order, buyer = part.order, part.order.buyer.name
    when = _when_short(part)
    short = _fit(lambda items, name: _(
        "Recuerde: el pedido %(id)s de %(buyer)s (%(items)s) se rechaza solo el %(when)s. "
        "Responda SI %(id)s o NO %(id)s", id=order.id, buyer=name, items=items, when=when), part, buyer)
    return Rendered(
        subject=_("Recordatorio: responda el pedido %(n)s antes del %(when)s", n=order.number, when=_when(part)),
        text=_email("new_order.txt", user, part, notice.kind),
        short=short,
        template_params=[_param(order.number), _param(buyer), _param(_items(part.lines)), _param(_when(part))],
        buttons=_answer_buttons(part),
    )


def _cancelled_by(part: OrderPart, payload: dict) -> str:
    by, reason = payload.get("by"), payload.get("reason")
    if by == "system":
        return _("el pago con tarjeta no llegó a tiempo")
    who = {"buyer": part.order.buyer.name, "coop": part.cooperative.name}.get(by) or _("el equipo de Mercado Rural")
    if reason:
        return _("%(who)s lo canceló: %(reason)s", who=who, reason=reason)
    return _("%(who)s lo canceló", who=who)


def render_cancel(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order = part.order
    why = _cancelled_by(part, notice.payload or {})
    if _is_cooperative(user, part):
        text = _email("sale_changed.txt", user, part, "cancel", why=why)
        number = str(order.id)
    else:
        text = _email("part_changed.txt", user, part, "cancel", why=why)
        number = order.number
    short = _fit(lambda items, name: _("Pedido %(n)s (%(items)s) cancelado: %(why)s.", n=number, items=items,
                                       why=name), part, why)
    if len(short) > SMS_LIMIT:
        short = _clip(short, SMS_LIMIT)
    return Rendered(
        subject=_("Pedido %(n)s cancelado", n=order.number),
        text=text, short=short,
        template_params=[_param(order.number), _param(_items(part.lines)), _param(why)],
    )


def _dispute_details(part: OrderPart, notice: Notice) -> list[str]:
    wanted = set((notice.payload or {}).get("lines") or [])
    details = []
    for line in part.lines:
        dispute = line.dispute
        if dispute is None or (wanted and line.id not in wanted):
            continue
        if dispute.kind == DisputeKind.QUALITY:
            details.append(_("%(product)s rechazado por calidad (%(reason)s)", product=product_name(line.product),
                             reason=line.rejection_reason or "-"))
        else:
            details.append(_("%(product)s: llegaron %(received)s de %(ordered)s", product=product_name(line.product),
                             received=kg(line.received_kg), ordered=kg(line.quantity_kg)))
    return details


def render_dispute(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order, buyer = part.order, part.order.buyer.name
    details = _dispute_details(part, notice)
    detail = "; ".join(details)
    short = _(
        "Disputa en el pedido %(id)s de %(buyer)s: %(detail)s. Vea el detalle en Mercado Rural.",
        id=order.id, buyer=_clip(buyer, 30), detail=detail)
    if len(short) > SMS_LIMIT:
        short = _("Disputa en el pedido %(id)s de %(buyer)s: %(detail)s. Vea el detalle en Mercado Rural.",
                  id=order.id, buyer=_clip(buyer, 30), detail=_clip(detail, 60))
    return Rendered(
        subject=_("Disputa en el pedido %(n)s de %(buyer)s", n=order.number, buyer=buyer),
        text=_email("sale_changed.txt", user, part, "dispute", details=details),
        short=short,
        template_params=[_param(order.number), _param(buyer), _param(detail)],
    )


def render_payout(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order = part.order
    payload = notice.payload or {}
    amount = cop(Decimal(payload["amount"])) if payload.get("amount") is not None else cop(None)
    reference = payload.get("reference") or part.payout_reference or "-"
    short = _("Le pagamos %(amount)s por el pedido %(id)s. Referencia: %(ref)s. Mercado Rural",
              amount=amount, id=order.id, ref=_clip(reference, 40))
    return Rendered(
        subject=_("Pago del pedido %(n)s: %(amount)s", n=order.number, amount=amount),
        text=_email("sale_changed.txt", user, part, "payout", amount=amount, reference=reference),
        short=short,
        template_params=[_param(order.number), _param(_items(part.lines)), _param(amount), _param(reference)],
    )


# ------------------------------------------------------------ on hold, going on


def hold_recipients(notice: Notice) -> list[User]:
    """The side of the part that was not suspended (``payload["suspended"]`` is the side that was)."""
    part = _part(notice)
    if part is None:
        return []
    return _buyer(part) if (notice.payload or {}).get("suspended") == "coop" else _cooperative(part)


def render_hold(notice: Notice, user: User) -> Rendered:
    """``on_hold``: the other side of the part was suspended; ``resumed``: it was reinstated."""
    part = _require(notice)
    order = part.order
    suspended = part.cooperative.name if (notice.payload or {}).get("suspended") == "coop" else order.buyer.name
    to_cooperative = _is_cooperative(user, part)
    number = str(order.id) if to_cooperative else order.number
    if notice.kind == "on_hold":
        subject = _("Pedido %(n)s en pausa: %(org)s está suspendida", n=order.number, org=suspended)
        if to_cooperative:
            message = _("El pedido %(n)s de %(org)s queda en pausa porque esa empresa está suspendida. No lo aliste "
                        "ni lo despache por ahora: nadie puede cambiarlo hasta que la reactiven. Le avisaremos "
                        "cuando siga o si se cancela. El equipo de Mercado Rural puede ayudarle.",
                        n=order.number, org=suspended)
        else:
            message = _("La parte de %(org)s de su pedido %(n)s queda en pausa porque esa organización está "
                        "suspendida: nadie puede cambiarla hasta que la reactiven. Le avisaremos cuando siga. Si "
                        "prefiere cancelarla, el equipo de Mercado Rural puede hacerlo.",
                        n=order.number, org=suspended)
        short = _fit(lambda items, name: _("Pedido %(n)s (%(items)s) en pausa: %(org)s está suspendida. Le "
                                           "avisaremos cuando siga.", n=number, items=items, org=name),
                     part, suspended)
    else:
        subject = _("Pedido %(n)s: sigue adelante", n=order.number)
        message = _("%(org)s fue reactivada: el pedido %(n)s sigue donde quedó.", n=order.number, org=suspended)
        short = _fit(lambda items, name: _("Pedido %(n)s (%(items)s): %(org)s fue reactivada y el pedido sigue.",
                                           n=number, items=items, org=name), part, suspended)
    if len(short) > SMS_LIMIT:
        short = _clip(short, SMS_LIMIT)
    template = "sale_changed.txt" if to_cooperative else "part_changed.txt"
    return Rendered(
        subject=subject, text=_email(template, user, part, notice.kind, message=message), short=short,
        template_params=[_param(order.number), _param(_items(part.lines)), _param(suspended)],
    )


# ----------------------------------------------------------------- buyer side


BUYER_SUBJECTS = {
    "accept": lambda n, coop: _("%(coop)s aceptó su pedido %(n)s", coop=coop, n=n),
    "decline": lambda n, coop: _("%(coop)s no puede atender su pedido %(n)s", coop=coop, n=n),
    "expire": lambda n, coop: _("%(coop)s no respondió a tiempo su pedido %(n)s", coop=coop, n=n),
    "ready": lambda n, coop: _("Su pedido %(n)s está listo para recoger en %(coop)s", coop=coop, n=n),
    "deliver": lambda n, coop: _("Entrega registrada: pedido %(n)s de %(coop)s", coop=coop, n=n),
}

BUYER_SHORTS = {
    "accept": lambda n, coop, items: _("%(coop)s aceptó su pedido %(n)s (%(items)s).", n=n, coop=coop, items=items),
    "decline": lambda n, coop, items: _("%(coop)s no puede atender su pedido %(n)s (%(items)s). No se le cobrará "
                                        "esa parte.", n=n, coop=coop, items=items),
    "expire": lambda n, coop, items: _("%(coop)s no respondió a tiempo su pedido %(n)s (%(items)s). No se le "
                                       "cobrará esa parte.", n=n, coop=coop, items=items),
    "ready": lambda n, coop, items: _("Su pedido %(n)s (%(items)s) está listo para recoger en %(coop)s.", n=n,
                                      coop=coop, items=items),
    "deliver": lambda n, coop, items: _("Entrega registrada: pedido %(n)s de %(coop)s (%(items)s).", n=n, coop=coop,
                                        items=items),
}


def render_buyer(notice: Notice, user: User) -> Rendered:
    part = _require(notice)
    order, coop, kind = part.order, part.cooperative.name, notice.kind
    received = kind == "deliver"
    short = _fit(lambda items, name: BUYER_SHORTS[kind](order.number, name, items), part, coop)
    if received and len(short) <= SMS_LIMIT:
        with_received = BUYER_SHORTS[kind](order.number, coop, _items(part.lines, received=True))
        short = with_received if len(with_received) <= SMS_LIMIT else short
    params = [_param(order.number), _param(coop), _param(_items(part.lines, received=received))]
    if kind == "decline":
        params.append(_param(part.decline_reason or _("no indicado")))
    return Rendered(
        subject=BUYER_SUBJECTS[kind](order.number, coop),
        text=_email("part_changed.txt", user, part, kind),
        short=short,
        template_params=params,
    )


# ------------------------------------------------------------------ the kinds

ANSWER_BUTTONS = {"es": ["Aceptar", "Rechazar"], "en": ["Accept", "Decline"]}

# The WhatsApp templates submitted to Meta ("utility" category: about an order the person is
# part of, no promotion). Their parameters are ``Rendered.template_params``, in order.
TEMPLATES: dict[str, tuple[str, dict[str, str]]] = {
    "new_order": ("nuevo_pedido", {
        "es": "Nuevo pedido {{1}} de {{2}}: {{3}}. Responda antes del {{4}} (hora de Colombia); "
              "si no responde, el pedido se rechaza solo.",
        "en": "New order {{1}} from {{2}}: {{3}}. Please answer before {{4}} (Colombia time); "
              "without an answer the order is declined automatically.",
    }),
    "offer_chosen": ("cotizacion_elegida", {
        "es": "Su cotización fue elegida: {{1}} hizo el pedido {{2}}: {{3}}. Responda antes del {{4}} "
              "(hora de Colombia); si no responde, el pedido se rechaza solo.",
        "en": "Your quote was chosen: {{1}} placed order {{2}}: {{3}}. Please answer before {{4}} "
              "(Colombia time); without an answer the order is declined automatically.",
    }),
    "reminder_12h": ("recordatorio_pedido", {
        "es": "Recordatorio: el pedido {{1}} de {{2}} ({{3}}) espera su respuesta. Si no responde antes "
              "del {{4}} (hora de Colombia), se rechaza solo.",
        "en": "Reminder: order {{1}} from {{2}} ({{3}}) is waiting for your answer. Without an answer "
              "before {{4}} (Colombia time) it is declined automatically.",
    }),
    "cancel": ("pedido_cancelado", {
        "es": "El pedido {{1}} ({{2}}) fue cancelado: {{3}}. Vea el detalle en Mercado Rural.",
        "en": "Order {{1}} ({{2}}) was cancelled: {{3}}. See the details on Mercado Rural.",
    }),
    "dispute": ("disputa_pedido", {
        "es": "Hay una disputa en el pedido {{1}} de {{2}}: {{3}}. Vea el detalle y responda en Mercado Rural.",
        "en": "There is a dispute on order {{1}} from {{2}}: {{3}}. See the details and answer on Mercado Rural.",
    }),
    "payout": ("pago_realizado", {
        "es": "Registramos el pago del pedido {{1}} ({{2}}): {{3}}, referencia de la transferencia {{4}}. "
              "Vea el detalle en Mercado Rural.",
        "en": "We recorded the payment for order {{1}} ({{2}}): {{3}}, transfer reference {{4}}. "
              "See the details on Mercado Rural.",
    }),
    "accept": ("pedido_aceptado", {
        "es": "Su pedido {{1}} fue aceptado por {{2}}: {{3}}. Le avisaremos cuando esté listo.",
        "en": "Your order {{1}} was accepted by {{2}}: {{3}}. We will tell you when it is ready.",
    }),
    "decline": ("pedido_rechazado", {
        "es": "Su pedido {{1}}: {{2}} no puede atender {{3}}. Motivo: {{4}}. Esa parte no se le cobrará.",
        "en": "Your order {{1}}: {{2}} cannot supply {{3}}. Reason: {{4}}. You will not be charged for it.",
    }),
    "expire": ("pedido_vencido", {
        "es": "Su pedido {{1}}: {{2}} no respondió a tiempo por {{3}}. Esa parte no se le cobrará.",
        "en": "Your order {{1}}: {{2}} did not answer in time for {{3}}. You will not be charged for it.",
    }),
    "ready": ("pedido_listo", {
        "es": "Su pedido {{1}} de {{2}} ({{3}}) está listo para recoger.",
        "en": "Your order {{1}} from {{2}} ({{3}}) is ready for pickup.",
    }),
    "deliver": ("entrega_registrada", {
        "es": "Se registró la entrega del pedido {{1}} de {{2}}: {{3}}. Vea el detalle en Mercado Rural.",
        "en": "The delivery of order {{1}} from {{2}} was recorded: {{3}}. See the details on Mercado Rural.",
    }),
    "on_hold": ("pedido_en_pausa", {
        "es": "El pedido {{1}} ({{2}}) queda en pausa: {{3}} está suspendida. Nadie puede cambiarlo mientras "
              "tanto; le avisaremos cuando siga.",
        "en": "Order {{1}} ({{2}}) is on hold: {{3}} is suspended. Nobody can change it meanwhile; we will tell "
              "you when it goes on.",
    }),
    "resumed": ("pedido_reanudado", {
        "es": "El pedido {{1}} ({{2}}) sigue adelante: {{3}} fue reactivada. Vea el detalle en Mercado Rural.",
        "en": "Order {{1}} ({{2}}) goes on: {{3}} was reinstated. See the details on Mercado Rural.",
    }),
}
# Both reminders share one template: only the time left differs, and it is a parameter.
TEMPLATES["reminder_2h"] = TEMPLATES["reminder_12h"]

KINDS: dict[str, tuple[Callable[[Notice], list[User]], Callable[[Notice, User], Rendered]]] = {
    "new_order": (cooperative_recipients, render_new_order),
    "offer_chosen": (cooperative_recipients, render_offer_chosen),
    "reminder_12h": (reminder_recipients, render_reminder),
    "reminder_2h": (reminder_recipients, render_reminder),
    "cancel": (cancel_recipients, render_cancel),
    "dispute": (cooperative_recipients, render_dispute),
    "payout": (cooperative_recipients, render_payout),
    **{kind: (buyer_recipients, render_buyer) for kind in BUYER_KINDS},
    "on_hold": (hold_recipients, render_hold),
    "resumed": (hold_recipients, render_hold),
}


# What staff read for each kind in the message log.
LABELS = {
    "new_order": _l("Pedido nuevo"), "offer_chosen": _l("Cotización elegida"),
    "reminder_12h": _l("Recordatorio: 12 horas para responder"),
    "reminder_2h": _l("Recordatorio: 2 horas para responder"),
    "cancel": _l("Pedido cancelado"), "dispute": _l("Disputa"), "payout": _l("Pago a la cooperativa"),
    "accept": _l("Pedido aceptado"), "decline": _l("Pedido rechazado"), "expire": _l("Pedido vencido"),
    "ready": _l("Pedido listo para recoger"), "deliver": _l("Pedido entregado"),
    "on_hold": _l("Pedido en pausa (organización suspendida)"), "resumed": _l("Pedido reanudado"),
}


def register() -> None:
    """Register the order notice kinds with messaging (at start-up; twice changes nothing)."""
    for kind, (recipients, render) in KINDS.items():
        name, text = TEMPLATES[kind]
        register_notice(NoticeKind(
            kind=kind, label=LABELS.get(kind), recipients=recipients, render=render, template=name,
            template_text=text,
            template_buttons=ANSWER_BUTTONS if kind in ANSWERABLE else {},
        ))
