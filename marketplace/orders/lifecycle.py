"""An order part's life: accept, decline, ready, ship, deliver, settle, cancel, expire.

Parts change status with a conditional UPDATE, so a decline racing an expiry returns the
stock exactly once.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from marketplace.accounts.models import Role, User
from marketplace.catalog import units
from marketplace.catalog.models import Listing
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.formatting import cop as format_cop
from marketplace.core.models import bogota_date, utcnow
from marketplace.core.text import clean_text
from marketplace.core.types import grams
from marketplace.extensions import db
from marketplace.messaging.services import notify
from marketplace.orders import adjustments, freeze
from marketplace.orders.common import (
    BUYER_ROLES,
    CENTS,
    COOP_ROLES,
    HUNDRED,
    _kg_text,
    lock_order,
)
from marketplace.orders.ledger import (
    plan_refunds,
    refresh_payout,
)
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Dispute,
    DisputeKind,
    DisputeStatus,
    Order,
    OrderPart,
    PartEvent,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    Quality,
    SaleChange,
)


def _return_stock(listing_id: int, kg: Decimal) -> None:
    """Give a closed line's kilos back to its lot. Exact: quantity = available + kilos held by
    live lines at every moment (quantity edits move both by the same difference), so the
    kilos always fit; the CHECK ``available_kg <= quantity_kg`` would refuse anything else."""
    db.session.execute(
        update(Listing).where(Listing.id == listing_id)
        .values(available_kg=grams(Listing.available_kg + kg))
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Transition:
    source: tuple[PartStatus, ...]
    target: PartStatus
    who: tuple[str, ...]  # "coop", "buyer", "staff", "system"


TRANSITIONS: dict[str, Transition] = {
    "accept": Transition((PartStatus.PLACED,), PartStatus.ACCEPTED, ("coop",)),
    "decline": Transition((PartStatus.PLACED,), PartStatus.DECLINED, ("coop",)),
    "expire": Transition((PartStatus.PLACED,), PartStatus.EXPIRED, ("system",)),
    "ready": Transition((PartStatus.ACCEPTED,), PartStatus.READY, ("coop",)),
    "ship": Transition((PartStatus.READY,), PartStatus.IN_TRANSIT, ("coop", "staff", "carrier")),
    "deliver": Transition((PartStatus.IN_TRANSIT, PartStatus.READY), PartStatus.DELIVERED, ("buyer",)),
    "settle": Transition((PartStatus.DELIVERED,), PartStatus.SETTLED, ("staff",)),
    # Before the produce leaves: the buyer until it is ready, the cooperative once it has
    # accepted (a lost harvest), staff and the system (an unpaid card order) too.
    "cancel": Transition((PartStatus.PLACED, PartStatus.ACCEPTED), PartStatus.CANCELLED,
                         ("buyer", "coop", "staff", "system")),
}
# Transitions the buyer is told about (``orders.messages``); the cooperative is told of each
# new order, cancellation, dispute and payout.
NOTIFIED_ACTIONS = frozenset({"accept", "decline", "expire", "ready", "deliver"})
STATUS_LABELS = {
    PartStatus.PLACED: _l("Recibido, esperando respuesta"),
    PartStatus.ACCEPTED: _l("Aceptado"),
    PartStatus.DECLINED: _l("Rechazado por la cooperativa"),
    PartStatus.EXPIRED: _l("Vencido sin respuesta"),
    PartStatus.READY: _l("Listo para recoger"),
    PartStatus.IN_TRANSIT: _l("En camino"),
    PartStatus.DELIVERED: _l("Entregado"),
    PartStatus.SETTLED: _l("Liquidado (pagado a la cooperativa)"),
    PartStatus.CANCELLED: _l("Cancelado"),
}
ILLEGAL = {
    "accept": _l("Solo se puede aceptar un pedido recién recibido."),
    "decline": _l("Solo se puede rechazar un pedido recién recibido."),
    "expire": _l("Solo vence un pedido sin respuesta."),
    "ready": _l("Primero acepte el pedido; después márquelo listo para recoger."),
    "ship": _l("Solo sale en camino un pedido listo para recoger."),
    "deliver": _l("Solo se recibe un pedido listo o en camino."),
    "settle": _l("Solo se liquida un pedido entregado."),
    "cancel": _l("Este pedido ya no se puede cancelar: la cosecha ya está lista o en camino."),
}


def _role_of(actor: User | None, part: OrderPart) -> str | None:
    if actor is None:
        return "system"
    org = actor.organisation
    if actor.is_admin:
        return "staff"
    if org is not None and actor.role in COOP_ROLES and part.cooperative_id == org.id:
        return "coop"
    if org is not None and actor.role in BUYER_ROLES and part.order.buyer_id == org.id:
        return "buyer"
    if org is not None and actor.role == Role.CARRIER_MANAGER and _carries(org.id, part):
        return "carrier"
    return None


def _carries(carrier_id: int, part: OrderPart) -> bool:
    from marketplace.logistics.models import Shipment, ShipmentPart

    return db.session.scalar(select(Shipment.id).join(ShipmentPart).where(
        ShipmentPart.part_id == part.id, Shipment.carrier_id == carrier_id)) is not None


def _refuse_if_frozen(actor: User | None, part: OrderPart, action: str) -> None:
    """Say at once that a frozen part cannot move, before checking what was typed (``_move``
    refuses it anyway, under the order's lock)."""
    if _role_of(actor, part) is None:
        raise NotFound(_l("No encontramos ese pedido."))
    freeze.check(actor, part, action)


def _move(part: OrderPart, action: str, actor: User | None, now: datetime, note: str | None = None) -> PartStatus:
    """Apply a transition if the part is still where it must be; refuse otherwise."""
    rule = TRANSITIONS[action]
    role = _role_of(actor, part)
    if role is None:
        raise NotFound(_l("No encontramos ese pedido."))
    if role not in rule.who:
        raise Forbidden(_l("Usted no puede hacer ese cambio en este pedido."))
    lock_order(part.order_id)
    source = rule.source
    # A suspension freezes the part for everyone; staff may still cancel it before it leaves.
    if freeze.check(actor, part, action) is not None:
        source = freeze.STAFF_CANCELLABLE
    previous = part.status
    result = db.session.execute(
        update(OrderPart)
        .where(OrderPart.id == part.id, OrderPart.status.in_(source))
        .values(status=rule.target, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(part)
        raise Conflict(ILLEGAL[action])
    db.session.refresh(part)
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    db.session.add(PartEvent(part_id=part.id, from_status=previous.value, to_status=rule.target.value,
                             actor_id=actor.id if actor else None, occurred_at=now, note=note))
    audit.record(f"order_part.{action}", "order_part", part.id, actor=actor,
                 organisation_id=part.cooperative_id,
                 before={"status": previous.value}, after={"status": rule.target.value}, note=note)
    if action in NOTIFIED_ACTIONS:
        notify(action, subject_id=part.id, organisation_id=part.order.buyer_id, now=now)
    elif action == "cancel":
        # Both sides hear of it, except the one that cancelled (``messages.cancel_recipients``).
        notify("cancel", subject_id=part.id, organisation_id=part.cooperative_id, now=now,
               payload={"by": role, "reason": None if role == "system" else note})
    if rule.target in CLOSED_WITHOUT_SALE:
        # In listing-id order, as placement takes it, so the row locks never form a cycle.
        for line in sorted(part.lines, key=lambda ln: ln.listing_id):
            _return_stock(line.listing_id, line.quantity_kg)
        part.payout_status = PayoutStatus.NONE
        close_order_if_empty(part.order)
        plan_refunds(part.order)
    return rule.target


def close_order_if_empty(order: Order) -> None:
    """An order whose parts have all closed without a sale has nothing left to pay: an unpaid
    one is cancelled (a paid one keeps its payment, and everything is owed back). Reads the
    parts' statuses from the database under the order's lock, so two parts closing at the
    same moment cannot both miss it."""
    statuses = set(db.session.scalars(select(OrderPart.status).where(OrderPart.order_id == order.id)))
    if statuses <= CLOSED_WITHOUT_SALE and order.payment_status in (
            PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED):
        order.payment_status = PaymentStatus.CANCELLED


def accept(actor: User, part: OrderPart, now: datetime | None = None) -> None:
    _move(part, "accept", actor, now or utcnow())


def decline(actor: User, part: OrderPart, reason: str | None, now: datetime | None = None) -> None:
    reason = clean_text(reason) or None
    if reason and len(reason) > 500:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=500), "reason")
    _move(part, "decline", actor, now or utcnow(), note=reason)
    part.decline_reason = reason


def mark_ready(actor: User, part: OrderPart, now: datetime | None = None) -> None:
    order = lock_order(part.order_id)
    if order.payment_method == PaymentMethod.CARD and order.payment_status != PaymentStatus.PAID:
        raise Conflict(_l("El comprador aún no ha pagado con tarjeta; espere el pago antes de alistar."))
    _move(part, "ready", actor, now or utcnow())


def ship(actor: User, part: OrderPart, logistics_borne: Decimal | None = None, now: datetime | None = None) -> None:
    if logistics_borne is not None and not Decimal("0") <= logistics_borne <= Decimal("1000000000"):
        raise DomainError(_l("Escriba un costo de transporte entre 0 y 1.000 millones."), "logistics_borne")
    _move(part, "ship", actor, now or utcnow())
    if logistics_borne is not None:
        part.logistics_borne = logistics_borne.quantize(CENTS, ROUND_HALF_UP)


def cancel(actor: User, part: OrderPart, reason: str | None = None, now: datetime | None = None) -> None:
    reason = clean_text(reason) or None
    if reason and len(reason) > 500:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=500), "reason")
    _move(part, "cancel", actor, now or utcnow(), note=reason)


@dataclass
class Receipt:
    line_id: int
    received_kg: Decimal | None
    accepted: bool = True
    reason: str | None = None
    photo_key: str | None = None


def record_delivery(actor: User, part: OrderPart, receipts: list[Receipt], now: datetime | None = None) -> None:
    """The buyer records what arrived: kilos and quality per line. A small shortfall re-prices
    the line; one beyond ``SHORTFALL_DISPUTE_PERCENT`` of its kilos opens a dispute that the
    cooperative may agree to or staff decide (until then nothing is re-priced or refunded);
    a rejection opens a dispute for staff."""
    now = now or utcnow()
    _refuse_if_frozen(actor, part, "deliver")
    by_id = {ln.id: ln for ln in part.lines}
    if {r.line_id for r in receipts} != set(by_id) or len(receipts) != len(by_id):
        raise DomainError(_l("Registre lo recibido en cada línea del pedido."), "lines")
    for r in receipts:
        line = by_id[r.line_id]
        name = f"line-{line.id}"
        if r.received_kg is None:
            raise DomainError(_l("Escriba los kg recibidos."), name)
        if r.received_kg < 0 or r.received_kg > line.quantity_kg:
            raise DomainError(_l("Los kg recibidos deben estar entre 0 y %(kg)s.", kg=_kg_text(line.quantity_kg)),
                              name)
        if not r.accepted:
            reason = clean_text(r.reason)
            if not reason:
                raise DomainError(_l("Diga por qué rechaza la calidad."), name)
            if len(reason) > 1000:
                raise DomainError(_l("Máximo %(max)d caracteres.", max=1000), name)
    _move(part, "deliver", actor, now)
    tolerance = Decimal(str(current_app.config["SHORTFALL_DISPUTE_PERCENT"])) / HUNDRED
    disputed: list[int] = []
    for r in receipts:
        line = by_id[r.line_id]
        line.received_kg = r.received_kg.quantize(units.KG_STEP, ROUND_HALF_UP)
        if r.accepted:
            line.quality = Quality.ACCEPTED
            if line.quantity_kg - line.received_kg > line.quantity_kg * tolerance:
                db.session.add(Dispute(line=line, kind=DisputeKind.SHORTFALL, status=DisputeStatus.OPEN,
                                       opened_by_id=actor.id, opened_at=now))
                disputed.append(line.id)
                audit.record("dispute.opened", "order_line", line.id, actor=actor,
                             organisation_id=part.order.buyer_id,
                             after={"kind": "shortfall", "ordered_kg": str(line.quantity_kg),
                                    "received_kg": str(line.received_kg)})
        else:
            line.quality = Quality.REJECTED
            line.rejection_reason = clean_text(r.reason)
            line.rejection_photo_key = r.photo_key
            db.session.add(Dispute(line=line, kind=DisputeKind.QUALITY, status=DisputeStatus.OPEN,
                                   opened_by_id=actor.id, opened_at=now))
            disputed.append(line.id)
            audit.record("dispute.opened", "order_line", line.id, actor=actor, organisation_id=part.order.buyer_id,
                         after={"reason": line.rejection_reason})
    if disputed:  # the cooperative hears of it at once (``orders.messages``)
        notify("dispute", subject_id=part.id, organisation_id=part.cooperative_id, now=now,
               payload={"lines": disputed})
    audit.record("order_part.received", "order_part", part.id, actor=actor, organisation_id=part.order.buyer_id,
                 after={str(r.line_id): {"received_kg": str(r.received_kg), "accepted": r.accepted}
                        for r in receipts})
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    db.session.flush()
    refresh_payout(part, now)
    plan_refunds(part.order)
    from marketplace.orders import shipping  # shipping builds on this module

    shipping.part_delivered(part, bogota_date(now))


def resolve_dispute(actor: User, dispute: Dispute, outcome: str, note: str | None, now: datetime | None = None) -> None:
    """Staff decide a dispute: for the buyer (``refunded``) or for the cooperative (``released``)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa resuelve disputas."))
    if outcome not in (DisputeStatus.REFUNDED.value, DisputeStatus.RELEASED.value):
        raise DomainError(_l("Elija a favor de quién se resuelve."), "outcome")
    note = clean_text(note)
    if not note:
        raise DomainError(_l("Escriba qué se encontró y por qué se resuelve así."), "note")
    _decide(actor, dispute, DisputeStatus(outcome), note[:2000], now or utcnow())


def agree_to_shortfall(actor: User, dispute: Dispute, now: datetime | None = None) -> None:
    """The cooperative agrees that fewer kilos arrived: the line is paid for what arrived."""
    part = dispute.line.part
    org = actor.organisation
    if org is None or actor.role not in COOP_ROLES or part.cooperative_id != org.id:
        raise NotFound(_l("No encontramos esa disputa."))
    if dispute.kind != DisputeKind.SHORTFALL:
        raise Forbidden(_l("Las disputas de calidad las resuelve el equipo del programa."))
    _decide(actor, dispute, DisputeStatus.REFUNDED,
            str(_l("La cooperativa aceptó que llegaron %(kg)s.", kg=_kg_text(dispute.line.received_kg))),
            now or utcnow())


def _decide(actor: User, dispute: Dispute, outcome: DisputeStatus, note: str, now: datetime) -> None:
    part = dispute.line.part
    order = lock_order(part.order_id)
    freeze.check(actor, part, "dispute")
    db.session.refresh(dispute)
    if dispute.status != DisputeStatus.OPEN:
        raise Conflict(_l("Esta disputa ya fue resuelta."))
    dispute.status = outcome
    dispute.resolution = note
    dispute.resolved_by_id = actor.id
    dispute.resolved_at = now
    audit.record("dispute.resolved", "dispute", dispute.id, actor=actor, organisation_id=part.cooperative_id,
                 before={"status": "open"}, after={"status": outcome.value, "resolution": note})
    db.session.flush()
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    refresh_payout(part, now)
    plan_refunds(order)


def settle(actor: User, part: OrderPart, reference: str | None, now: datetime | None = None,
           transfer: Decimal | None = None) -> None:
    """Staff record that the cooperative was paid what it is owed, with the pending payout
    adjustments that fit in this transfer. ``transfer`` is the amount staff saw and sent: if
    the figures changed meanwhile (a cost correction), nothing is recorded and staff look again."""
    reference = clean_text(reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia de la transferencia a la cooperativa."), "reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "reference")
    now = now or utcnow()
    lock_order(part.order_id)
    if part.payout_status != PayoutStatus.DUE:
        raise Conflict(_l("Aún no se le debe pagar a la cooperativa: falta el pago del comprador o hay una "
                          "disputa abierta."))
    if transfer is not None and transfer != adjustments.transfer_amount(part):
        raise Conflict(_l("El valor a transferir cambió mientras tanto: ahora es %(amount)s. Revíselo antes de "
                          "registrar el pago.", amount=format_cop(adjustments.transfer_amount(part))))
    _move(part, "settle", actor, now, note=reference)
    part.payout_status = PayoutStatus.PAID
    part.payout_reference = reference
    adjustments.apply_to_payout(actor, part, now)
    notify("payout", subject_id=part.id, organisation_id=part.cooperative_id, now=now,
           payload={"amount": str(adjustments.transfer_amount(part)), "reference": reference})


def transition(actor: User, part: OrderPart, action: str, **kwargs) -> None:
    handlers = {"accept": accept, "ready": mark_ready}
    if action in handlers:
        handlers[action](actor, part)
    elif action == "decline":
        decline(actor, part, kwargs.get("reason"))
    elif action == "ship":
        ship(actor, part, kwargs.get("logistics_borne"))
    elif action == "cancel":
        cancel(actor, part, kwargs.get("reason"))
    elif action == "settle":
        settle(actor, part, kwargs.get("reference"), transfer=kwargs.get("transfer"))
    else:
        raise DomainError(_l("Esa acción no existe."), "action")
