"""What the orders' audit events say to staff: sentences, field labels and names
(registered with ``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import audit_text as t
from marketplace.orders.lifecycle import STATUS_LABELS
from marketplace.orders.models import (
    Dispute,
    DisputeStatus,
    Order,
    OrderLine,
    OrderPart,
    PaymentMethod,
    PaymentStatus,
    PayoutAdjustment,
    Refund,
)

PAYMENT_METHODS = {PaymentMethod.CARD: _l("tarjeta"), PaymentMethod.INVOICE: _l("factura")}
PAYMENT_STATUS = {PaymentStatus.PENDING: _l("pendiente"), PaymentStatus.PROCESSING: _l("en proceso"),
                  PaymentStatus.PAID: _l("pagado"), PaymentStatus.FAILED: _l("falló"),
                  PaymentStatus.CANCELLED: _l("anulado")}
REFUND_STATUS = {"pending": _l("en trámite"), "sent": _l("en trámite"), "succeeded": _l("hecho"),
                 "failed": _l("falló")}
DISPUTE_STATUS = {DisputeStatus.OPEN: _l("abierta"), DisputeStatus.REFUNDED: _l("a favor del comprador"),
                  DisputeStatus.RELEASED: _l("a favor de la cooperativa")}
DISPUTE_KINDS = {"quality": _l("calidad rechazada"), "shortfall": _l("llegaron menos kilos")}


def _order(object_id: str) -> str | None:
    order = t.row(Order, object_id)
    return order.number if order else None


def _part(object_id: str) -> str | None:
    part = t.row(OrderPart, object_id)
    if part is None:
        return None
    return _("%(order)s de %(coop)s", order=part.order.number, coop=part.cooperative.name)


def _line(object_id: str) -> str | None:
    line = t.row(OrderLine, object_id)
    if line is None:
        return None
    product = line.listing.product if line.listing is not None else None
    what = t.localised(product.name, product.name_en) if product is not None else _("línea n.º %(n)s", n=line.id)
    return _("%(what)s del pedido %(order)s", what=what, order=line.part.order.number)


def _dispute(object_id: str) -> str | None:
    dispute = t.row(Dispute, object_id)
    return _line(str(dispute.line_id)) if dispute else None


def _refund(object_id: str) -> str | None:
    refund = t.row(Refund, object_id)
    return _("%(amount)s del pedido %(order)s", amount=t.money(refund.amount), order=refund.order.number) \
        if refund else None


def _adjustment(object_id: str) -> str | None:
    adjustment = t.row(PayoutAdjustment, object_id)
    return _("%(amount)s a %(coop)s", amount=t.money(adjustment.amount), coop=t.object_name(
        "organisation", str(adjustment.cooperative_id))) if adjustment else None


def _order_lines(value) -> str:
    """An order's lines as [listing id, kg]: "Cacao (Premium), n.º 4: 1.200 kg"."""
    if not isinstance(value, list):
        return t.text(value)
    return "; ".join(f"{t.object_name('listing', str(v[0]))}: {t.kilos(v[1])}" if isinstance(v, list)
                     and len(v) == 2 else t.text(v) for v in value) or "—"


def _by_part(value) -> str:
    """A shipment's parts: ids, or per part id its figures."""
    if isinstance(value, dict):
        return "; ".join(f"{t.object_name('order_part', str(k))}: {t.text(v) if not isinstance(v, dict) else _money_map(v)}"
                         for k, v in value.items()) or "—"
    return t.named("order_part")(value)


def _money_map(value: dict) -> str:
    return ", ".join(f"{t.field_label('order_part', k)} {t.money(v) if v is not None else '—'}"
                     for k, v in value.items())


def _leg_costs(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{_('tramo n.º %(n)s', n=k)}: {t.money(v) if v is not None else '—'}"
                         for k, v in value.items()) or "—"
    from marketplace.core.audit_text import FIELDS

    general = FIELDS.get((None, "legs"))
    return general.formatter(value) if general and general.formatter else t.text(value)


def _receipts(value) -> str:
    if not isinstance(value, dict):
        return t.text(value)
    return "; ".join(
        f"{t.kilos(v.get('received_kg'))}, {_('aceptada') if v.get('accepted') else _('rechazada')}"
        for v in value.values() if isinstance(v, dict)) or "—"


def register() -> None:
    t.kind("order", _l("Pedido"), _order)
    t.kind("order_part", _l("Pedido a una cooperativa"), _part)
    t.kind("order_line", _l("Línea de pedido"), _line)
    t.kind("dispute", _l("Disputa"), _dispute)
    t.kind("refund", _l("Devolución"), _refund)
    t.kind("payout_adjustment", _l("Ajuste de pago"), _adjustment)
    t.kind("route_plan", _l("Plan de rutas"), lambda object_id: _("n.º %(n)s", n=object_id))

    for name, sentence in {
        "order.placed": _l("%(org)s hizo el pedido %(object)s"),
        "order_part.accept": _l("%(who)s aceptó el pedido %(object)s"),
        "order_part.decline": _l("%(who)s rechazó el pedido %(object)s"),
        "order_part.expire": _l("El pedido %(object)s venció sin respuesta"),
        "order_part.ready": _l("%(who)s marcó listo para recoger el pedido %(object)s"),
        "order_part.ship": _l("%(who)s despachó el pedido %(object)s"),
        "order_part.deliver": _l("%(who)s recibió el pedido %(object)s"),
        "order_part.settle": _l("%(who)s liquidó el pedido %(object)s"),
        "order_part.cancel": _l("%(who)s canceló el pedido %(object)s"),
        "order_part.received": _l("%(who)s registró lo que llegó del pedido %(object)s"),
        "dispute.opened": _l("%(who)s abrió una disputa por %(object)s"),
        "dispute.resolved": _l("%(who)s resolvió la disputa por %(object)s"),
        "invoice.paid": _l("%(who)s registró el pago de la factura del pedido %(object)s"),
        "payment.card_paid": _l("El pago con tarjeta del pedido %(object)s se recibió"),
        "payment.card_failed": _l("El pago con tarjeta del pedido %(object)s falló"),
        "payment.charge_back": _l("El cobro con tarjeta del pedido %(object)s se devolvió"),
        "payment.wrong_currency": _l("Un pago del pedido %(object)s llegó en otra moneda"),
        "refund.settled": _l("%(who)s registró la devolución de %(object)s"),
        "refund.retried": _l("%(who)s volvió a intentar la devolución de %(object)s"),
        "refund.failed": _l("La devolución de %(object)s falló"),
        "payout_adjustment.created": _l("%(who)s registró un ajuste de %(object)s"),
        "payout_adjustment.applied": _l("El ajuste de %(object)s se aplicó a un pago"),
        "shipment.created": _l("%(who)s creó el %(object)s"),
        "shipment.dispatched": _l("%(who)s despachó el %(object)s"),
        "shipment.actual_costs": _l("%(who)s registró lo que costó el %(object)s"),
        "shipment.cost_corrected": _l("%(who)s corrigió lo que costó el %(object)s"),
        "route_plan.proposed": _l("%(who)s propuso el plan de rutas %(object)s"),
        "route_plan.accepted": _l("%(who)s aceptó el plan de rutas %(object)s"),
    }.items():
        t.action(name, sentence)

    t.field("status", _l("Estado"), t.labelled(STATUS_LABELS), kind="order_part")
    t.field("status", _l("Estado"), t.labelled(REFUND_STATUS), kind="refund")
    t.field("status", _l("Estado"), t.labelled(DISPUTE_STATUS), kind="dispute")
    t.field("payment_status", _l("Pago"), t.labelled(PAYMENT_STATUS))
    t.field("payment_method", _l("Forma de pago"), t.labelled(PAYMENT_METHODS))
    t.field("total", _l("Total"), t.money)
    t.field("total_cop", _l("Total"), t.money)
    t.field("order", _l("Pedido"), t.named("order"))
    t.field("parts", _l("Cooperativas"), t.named("organisation"), kind="order")
    t.field("parts", _l("Pedidos"), _by_part, kind="shipment")
    t.field("lines", _l("Líneas"), _order_lines, kind="order")
    t.field("legs", _l("Tramos"), _leg_costs, kind="shipment")
    t.field("adjustments", _l("Ajustes a próximos pagos"),
            lambda v: "; ".join(f"{t.object_name('order_part', str(k))}: {t.money(a)}" for k, a in v.items())
            if isinstance(v, dict) else t.text(v))
    t.field("estimated_cop", _l("Costo estimado"), t.money)
    t.field("logistics_actual", _l("Logística real"), t.money)
    t.field("logistics_borne", _l("Logística a cargo de la cooperativa"), t.money)
    t.field("net", _l("Neto para la cooperativa"), t.money)
    t.field("shipments", _l("Envíos"), t.named("shipment"))
    t.field("routes", _l("Rutas"), lambda v: str(len(v)) if isinstance(v, list) else t.text(v))
    t.field("cost", _l("Costo"), t.money)
    t.field("baseline", _l("Costo sin consolidar"), t.money)
    t.field("part", _l("Pedido"), t.named("order_part"))
    t.field("applied_part", _l("Aplicado al pedido"), t.named("order_part"))
    t.field("shipment", _l("Envío"), t.named("shipment"))
    t.field("intent", _l("Intención de pago (Stripe)"))
    t.field("expected", _l("Valor esperado"), t.money)
    t.field("captured", _l("Cobrado"), t.yes_no)
    t.field("currency", _l("Moneda"), lambda v: str(v).upper())
    t.field("last_error", _l("Último error"))
    t.field("attempts", _l("Intentos"), t.number)
    t.field("kind", _l("Motivo de la disputa"), t.labelled(DISPUTE_KINDS), kind="order_line")
    t.field("ordered_kg", _l("Kilos pedidos"), t.kilos)
    t.field("received_kg", _l("Kilos recibidos"), t.kilos)
    t.field("resolution", _l("Resolución"))
    # order_part.received records each line by its id: {"41": {"received_kg": ..., "accepted": ...}}
    t.numbered("order_part", "order_line", _receipt_line)


def _receipt_line(value) -> str:
    return _receipts({"x": value})
