"""HTML pages for orders: the buyer's cart, checkout and orders, the cooperative's sales
(answer, prepare, ship, see what it is owed), staff's invoices, disputes and payouts, and
the Stripe webhook. Every page works without JavaScript except the card form itself."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import Role
from marketplace.catalog import services as catalog_services
from marketplace.catalog.photos import new_key
from marketplace.catalog.units import UNITS
from marketplace.core import idempotency, uploads
from marketplace.core.access import admin_required, roles_required, staff_required
from marketplace.core.errors import DomainError
from marketplace.core.models import bogota_date
from marketplace.core.types import parse_decimal
from marketplace.extensions import csrf, db, limiter
from marketplace.orders import freeze, payments, services
from marketplace.orders.forms import CheckoutForm, PlainForm
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Dispute,
    DisputeStatus,
    Order,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    Refund,
    StripeEvent,
)

bp = Blueprint("orders", __name__, template_folder="templates")
BUYER = (Role.BUYER_ADMIN, Role.BUYER_PURCHASER)
COOP = (Role.COOP_MANAGER, Role.COOP_MEMBER)


def init_app(app) -> None:
    catalog_services.PAID_PRICES_HOOK = services.paid_prices
    catalog_services.LANDED_PRICES_HOOK = services.landed_prices
    # Carriers see listings only through their shipments; cooperatives quote to the sites of
    # the orders they serve (catalog and logistics sit below orders, so orders tells them).
    from marketplace.logistics import policy
    from marketplace.orders.common import serves_site
    from marketplace.orders.shipping import carries_listing

    catalog_services.CARRIER_LISTINGS_HOOK = carries_listing
    policy.register_served_sites(serves_site)
    # A suspension freezes the organisation's open parts and tells the other side (accounts
    # sits below orders, so orders registers).
    from marketplace.accounts import hooks as account_hooks

    if freeze.account_notice not in account_hooks.NOTICE_WRITERS:
        account_hooks.NOTICE_WRITERS.append(freeze.account_notice)

    @app.context_processor
    def order_helpers():
        return {
            "part_label": lambda part: services.STATUS_LABELS[part.status],
            "status_label": lambda value: services.STATUS_LABELS[PartStatus(value)],
            "payment_label": lambda order: PAYMENT_LABELS[(order.payment_method, order.payment_status)],
            "payout_label": lambda part: PAYOUT_LABELS[part.payout_status],
            "dispute_label": lambda dispute: DISPUTE_LABELS[dispute.status],
            "refund_label": lambda refund: REFUND_LABELS.get(refund.status, refund.status),
            "refund_reason": lambda refund: REFUND_REASONS.get(refund.reason, refund.reason),
            "can_agree_shortfall": _can_agree_shortfall,
            "ledger_of": services.ledger, "amount_due": services.amount_due, "payment_due": services.payment_due,
            "unit_label": _unit_label, "order_units": services.order_units,
            "on_hold_by": freeze.suspended_party,
        }


PAYMENT_LABELS = {
    (PaymentMethod.CARD, PaymentStatus.PENDING): _l("Tarjeta: pendiente de pago"),
    (PaymentMethod.CARD, PaymentStatus.PROCESSING): _l("Tarjeta: pago en proceso"),
    (PaymentMethod.CARD, PaymentStatus.PAID): _l("Tarjeta: pagado"),
    (PaymentMethod.CARD, PaymentStatus.FAILED): _l("Tarjeta: el pago falló; intente de nuevo"),
    (PaymentMethod.CARD, PaymentStatus.CANCELLED): _l("Tarjeta: cancelado, sin cobro"),
    (PaymentMethod.INVOICE, PaymentStatus.PENDING): _l("Factura: por pagar"),
    (PaymentMethod.INVOICE, PaymentStatus.PROCESSING): _l("Factura: por pagar"),
    (PaymentMethod.INVOICE, PaymentStatus.PAID): _l("Factura: pagada"),
    (PaymentMethod.INVOICE, PaymentStatus.FAILED): _l("Factura: por pagar"),
    (PaymentMethod.INVOICE, PaymentStatus.CANCELLED): _l("Factura: anulada, nada que pagar"),
}
PAYOUT_LABELS = {
    PayoutStatus.PENDING: _l("Pago pendiente (falta la entrega o el pago del comprador)"),
    PayoutStatus.DUE: _l("Por pagar a la cooperativa"),
    PayoutStatus.PAID: _l("Pagado a la cooperativa"),
    PayoutStatus.NONE: _l("Sin pago (no hubo venta)"),
}
# The tabs at the top of the sales list: the filters the cooperative's home page counts.
SALE_TABS = [
    (None, _l("Todas")),
    ("por-responder", _l("Por responder")),
    ("por-alistar", _l("Por alistar")),
    ("en-camino", _l("En camino")),
    ("por-cobrar", _l("Por cobrar")),
]
DISPUTE_LABELS = {
    DisputeStatus.OPEN: _l("disputa abierta"),
    DisputeStatus.REFUNDED: _l("resuelta a favor del comprador"),
    DisputeStatus.RELEASED: _l("resuelta a favor de la cooperativa"),
}
REFUND_LABELS = {"pending": _l("en trámite"), "sent": _l("en trámite"), "succeeded": _l("hecho"),
                 "failed": _l("falló")}
REFUND_REASONS = {
    "declined": _l("parte rechazada por la cooperativa"), "expired": _l("parte vencida sin respuesta"),
    "cancelled": _l("parte cancelada"), "adjustment": _l("faltante o disputa a favor del comprador"),
    "amount_mismatch": _l("cobro por un valor distinto al del pedido"),
    "paid_after_cancel": _l("cobro después de cancelado el pedido"),
    "stray_intent": _l("cobro en una intención de pago que el pedido no usa"),
}


def _can_agree_shortfall(line) -> bool:
    org = current_user.organisation if current_user.is_authenticated else None
    return org is not None and current_user.has_role(*COOP) and line.part.cooperative_id == org.id


def _unit_label(code: str) -> str:
    unit = UNITS.get(code)
    if unit is None:
        return code
    return unit.label_es if _lang() == "es" else unit.label_en


def _lang() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "es")[:2]


# --------------------------------------------------------------------- buyer


@bp.post("/pedido/agregar/<int:listing_id>")
@roles_required(*BUYER)
def add_to_cart(listing_id: int):
    quantity = parse_decimal(request.form.get("quantity"))
    unit = request.form.get("unit") or "kg"
    try:
        services.add_to_cart(current_user, listing_id, quantity, unit)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("catalog.listing_page", listing_id=listing_id))
    flash(_("Agregado a su pedido."), "success")
    return redirect(url_for("orders.cart"))


@bp.post("/pedido/quitar/<int:item_id>")
@roles_required(*BUYER)
def remove_from_cart(item_id: int):
    services.remove_from_cart(current_user, item_id)
    db.session.commit()
    return redirect(url_for("orders.cart"))


def _checkout_form(buyer) -> CheckoutForm:
    form = CheckoutForm()
    form.delivery_site.choices = [(s.id, f"{s.name} ({s.municipality.name})") for s in buyer.delivery_sites
                                  if s.active]
    methods = [("invoice", _("Factura a %(days)d días", days=current_app.config["INVOICE_TERMS_DAYS"]))]
    if services.card_enabled():
        methods.insert(0, ("card", _("Tarjeta (Stripe)")))
    form.payment_method.choices = methods
    if request.method == "GET":
        today = bogota_date()
        form.window_start.data = today + timedelta(days=3)
        form.window_end.data = today + timedelta(days=10)
        form.payment_method.data = methods[0][0]
        if form.delivery_site.choices:
            form.delivery_site.data = form.delivery_site.choices[0][0]
    return form


def _request_from(form, items) -> services.OrderRequest:
    lines = []
    for item in items:
        quantity = parse_decimal(request.form.get(f"qty-{item.id}")) if request.method == "POST" else item.quantity
        unit = request.form.get(f"unit-{item.id}", item.unit) if request.method == "POST" else item.unit
        lines.append(services.LineRequest(item.listing_id, quantity, unit))
    return services.OrderRequest(
        lines=lines, delivery_site_id=form.delivery_site.data, window_start=form.window_start.data,
        window_end=form.window_end.data, payment_method=form.payment_method.data, note=form.note.data,
    )


@bp.route("/pedido", methods=["GET", "POST"])
@roles_required(*BUYER)
def cart():
    buyer = services.buyer_of(current_user)
    items = services.cart(current_user)
    form = _checkout_form(buyer)
    quote, problem = None, None
    status = 200
    if items and form.delivery_site.choices:
        form_ok = request.method == "GET" or form.validate_on_submit()
        if form_ok:
            order_request = _request_from(form, items)
            if request.method == "POST":
                # Remember quantities changed on the page.
                for item, line in zip(items, order_request.lines, strict=True):
                    if line.quantity is not None and line.quantity > 0 and line.unit in UNITS:
                        item.quantity, item.unit = line.quantity, line.unit
            try:
                if request.method == "POST" and request.form.get("action") == "place":
                    order = services.place_order(current_user, order_request, from_cart=True)
                    db.session.commit()
                    flash(_("Pedido %(n)s hecho. Cada cooperativa tiene %(h)d horas para responder.",
                            n=order.number, h=current_app.config["ORDER_ACCEPT_HOURS"]), "success")
                    if order.payment_method == PaymentMethod.CARD:
                        return redirect(url_for("orders.pay", order_id=order.id))
                    return redirect(url_for("orders.order_page", order_id=order.id))
                quote = services.quote(current_user, order_request)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                items = services.cart(current_user)
                problem = error.message
                status = error.status_code if request.method == "POST" else 200
        else:
            status = 422
    return render_template("orders/cart.html", items=items, form=form, quote=quote, problem=problem,
                           buyer=buyer, card_enabled=services.card_enabled()), status


@bp.get("/pedidos")
@login_required
def my_orders():
    if current_user.has_role(*COOP):
        return redirect(url_for("orders.sales"))
    if current_user.is_staff:
        return redirect(url_for("orders.admin_orders"))
    buyer = services.buyer_of(current_user)
    services.sweep()
    db.session.commit()
    return render_template("orders/orders.html", orders=services.buyer_orders(buyer))


@bp.get("/pedidos/<int:order_id>")
@login_required
def order_page(order_id: int):
    order = services.visible_order(current_user, order_id)
    services.sweep()
    db.session.commit()
    return render_template("orders/order.html", order=order, form=PlainForm(), today=bogota_date(),
                           due=services.payment_due(order), is_buyer=current_user.has_role(*BUYER))


@bp.route("/pedidos/<int:order_id>/pagar", methods=["GET"])
@roles_required(*BUYER)
def pay(order_id: int):
    order = services.visible_order(current_user, order_id)
    if order.payment_method != PaymentMethod.CARD or order.payment_status in (PaymentStatus.PAID,
                                                                              PaymentStatus.CANCELLED):
        return redirect(url_for("orders.order_page", order_id=order.id))
    try:
        freeze.check_buyer(current_user, order)
        client_secret = payments.ensure_payment_intent(order)
        db.session.commit()
    except freeze.Frozen as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("orders.order_page", order_id=order.id))
    except payments.PaymentUnavailable:
        db.session.rollback()
        flash(_("No pudimos contactar al procesador de pagos. Intente de nuevo en un momento."), "error")
        return redirect(url_for("orders.order_page", order_id=order.id))
    response = current_app.make_response(render_template(
        "orders/pay.html", order=order, client_secret=client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"], stripe_js=current_app.config["STRIPE_JS_URL"]))
    # The one page that loads a third-party script: Stripe.js and its frames.
    origin = _origin(current_app.config["STRIPE_JS_URL"])
    api_origin = _origin(current_app.config.get("STRIPE_API_BASE") or "https://api.stripe.com")
    response.headers["Content-Security-Policy"] = "; ".join([
        "default-src 'self'", f"script-src 'self' {origin}", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https://*.stripe.com", f"frame-src {origin} https://hooks.stripe.com",
        f"connect-src 'self' {api_origin} {origin}", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", "frame-ancestors 'none'",
    ])
    return response


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@bp.post("/pedidos/partes/<int:part_id>/<action>")
@login_required
def part_action(part_id: int, action: str):
    part = services.visible_part(current_user, part_id)
    form = PlainForm()
    if not form.validate_on_submit():
        abort(400)
    if action not in services.TRANSITIONS or action in ("expire", "deliver"):
        abort(404)
    kwargs = {"reason": request.form.get("reason"), "reference": request.form.get("reference")}
    if action == "settle" and request.form.get("transfer"):
        # The amount the payouts page showed, as the page wrote it (a plain decimal).
        try:
            kwargs["transfer"] = Decimal(request.form["transfer"])
        except ArithmeticError:
            abort(400)
    if action == "ship":
        raw = request.form.get("logistics_borne", "").strip()
        value = parse_decimal(raw) if raw else None
        if raw and value is None:
            flash(_("Escriba el costo de transporte en pesos, solo números."), "error")
            return redirect(_part_url(part))
        kwargs["logistics_borne"] = value
    # An answer sent twice (a draft the phone kept offline, a double tap) acts once.
    key = idempotency.clean(request.form.get(idempotency.FIELD))
    try:
        claimed = idempotency.claim_or_raise(current_user.id, key, f"part:{action}")
        services.transition(current_user, part, action, **kwargs)
        idempotency.done(claimed, _part_url(part))
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(_part_url(part)), 303
    flash(_("Listo: %(status)s.", status=services.STATUS_LABELS[part.status]), "success")
    return redirect(_part_url(part)), 303


def _part_url(part) -> str:
    if current_user.has_role(*COOP):
        return url_for("orders.sale_page", part_id=part.id)
    if current_user.is_staff:
        return url_for("orders.admin_orders")
    return url_for("orders.order_page", order_id=part.order_id)


@bp.route("/pedidos/partes/<int:part_id>/recibir", methods=["GET", "POST"])
@uploads.limit_uploads
@roles_required(*BUYER)
def receive(part_id: int):
    part = services.visible_part(current_user, part_id)
    form = PlainForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        # The kilos and qualities are checked first (by recording the delivery, not yet
        # committed); only then is any photo decoded, and it is stored under the key the row
        # already names. A refused form decodes nothing and leaves no file behind.
        receipts, uploads_by_key = [], {}
        for line in part.lines:
            received = parse_decimal(request.form.get(f"received-{line.id}", ""))
            accepted = request.form.get(f"quality-{line.id}", "accepted") != "rejected"
            photo_key = None
            upload = request.files.get(f"photo-{line.id}")
            if upload is not None and upload.filename and not accepted:
                photo_key = new_key("jpg")
                uploads_by_key[photo_key] = (line.id, upload.read())
            receipts.append(services.Receipt(line.id, received, accepted, request.form.get(f"reason-{line.id}"),
                                             photo_key))
        try:
            services.record_delivery(current_user, part, receipts)
            _store_evidence(uploads_by_key, errors)
            if errors:
                raise DomainError(next(iter(errors.values())), "photos")
            db.session.commit()
            flash(_("Entrega registrada."), "success")
            return redirect(url_for("orders.order_page", order_id=part.order_id))
        except DomainError as error:
            db.session.rollback()  # and any evidence photo already stored is deleted with it
            if not errors:
                errors[error.field or "lines"] = str(error.message)
    return render_template("orders/receive.html", part=part, form=form, errors=errors), 422 if errors else 200


def _store_evidence(uploads_by_key: dict, errors: dict) -> None:
    """Decode, re-encode and store each rejection photo under its reserved key; the problems by line."""
    storage = current_app.extensions["marketplace_storage"]
    for key, (line_id, data) in uploads_by_key.items():
        try:
            processed = catalog_services.process_uploads([data])
        except DomainError as error:
            errors[f"line-{line_id}"] = str(error.message)
            continue
        if not errors:
            uploads.save(db.session, storage, key, processed[0].image)


# ----------------------------------------------------------------- cooperative


@bp.get("/ventas")
@roles_required(*COOP)
def sales():
    coop = catalog_services.cooperative_of(current_user)
    services.sweep()
    db.session.commit()
    parts = services.cooperative_parts(coop)
    ledgers = {p.id: services.ledger(p) for p in parts}
    owed = sum((ledgers[p.id].net for p in parts if p.payout_status.value in ("due", "pending")
                and p.status not in CLOSED_WITHOUT_SALE), Decimal("0"))
    paid = sum((ledgers[p.id].net for p in parts if p.payout_status.value == "paid"), Decimal("0"))
    problem, status, shown = None, 200, None
    try:
        shown = services.cooperative_sales(coop.id, request.args.get("estado") or None,
                                           request.args.get("pagina", 1, type=int))
    except services.UnknownSaleFilter as error:
        problem, status = error.message, error.status_code
    if shown is not None:
        ledgers.update({p.id: services.ledger(p) for p in shown.parts if p.id not in ledgers})
    return render_template("orders/sales.html", coop=coop, shown=shown, ledgers=ledgers, owed=owed, paid=paid,
                           counts=services.sale_counts(coop.id), tabs=SALE_TABS, problem=problem), status


@bp.get("/ventas/<int:part_id>")
@roles_required(*COOP)
def sale_page(part_id: int):
    part = services.visible_part(current_user, part_id)
    return render_template("orders/sale.html", part=part, form=PlainForm(), ledger=services.ledger(part))


# ----------------------------------------------------------------------- staff


@bp.get("/admin/pedidos")
@staff_required
def admin_orders():
    services.sweep()
    db.session.commit()
    status = request.args.get("estado")
    stmt = services.orders_listing().order_by(Order.id.desc()).limit(200)
    if status in {s.value for s in PaymentStatus}:
        stmt = stmt.where(Order.payment_status == PaymentStatus(status))
    orders = db.session.scalars(stmt).unique().all()
    return render_template("orders/admin_orders.html", orders=orders, invoices=services.open_invoices(),
                           overdue={o.id for o in services.overdue_invoices()}, disputes=services.open_disputes(),
                           owed_back=services.money_owed_back(), charge_backs=services.recent_charge_backs(),
                           payouts=services.payouts_due(), form=PlainForm(), today=bogota_date())


@bp.post("/admin/pedidos/<int:order_id>/factura-pagada")
@admin_required
def invoice_paid(order_id: int):
    order = db.session.get(Order, order_id) or abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        services.mark_invoice_paid(current_user, order, request.form.get("bank_reference"))
        db.session.commit()
        flash(_("Factura %(n)s marcada como pagada.", n=order.invoice_number), "success")
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    return redirect(url_for("orders.admin_orders")), 303


@bp.post("/admin/disputas/<int:dispute_id>")
@admin_required
def resolve_dispute(dispute_id: int):
    dispute = db.session.get(Dispute, dispute_id) or abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        services.resolve_dispute(current_user, dispute, request.form.get("outcome", ""), request.form.get("note"))
        db.session.commit()
        flash(_("Disputa resuelta."), "success")
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    return redirect(url_for("orders.admin_orders")), 303


@bp.post("/admin/devoluciones/<int:refund_id>/<action>")
@admin_required
def refund_action(refund_id: int, action: str):
    """Staff record the transfer that paid money back, or send a failed card refund again."""
    refund = db.session.get(Refund, refund_id) or abort(404)
    if action not in ("transferida", "reintentar"):
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        if action == "transferida":
            services.settle_payback(current_user, refund, request.form.get("bank_reference"))
            message = _("Devolución registrada.")
        else:
            services.retry_refund(current_user, refund)
            message = _("La devolución se enviará de nuevo a Stripe.")
        db.session.commit()
        flash(message, "success")
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    return redirect(url_for("orders.admin_orders")), 303


@bp.post("/ventas/disputas/<int:dispute_id>/aceptar")
@roles_required(*COOP)
def agree_shortfall(dispute_id: int):
    """The cooperative agrees that fewer kilos arrived than it sent."""
    dispute = db.session.get(Dispute, dispute_id) or abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        services.agree_to_shortfall(current_user, dispute)
        db.session.commit()
        flash(_("Listo: se cobran los kilos que llegaron."), "success")
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        if error.status_code == 404:
            abort(404)
    return redirect(url_for("orders.sale_page", part_id=dispute.line.part_id)), 303


# --------------------------------------------------------------------- webhook


@bp.post("/webhooks/stripe")
@csrf.exempt
@limiter.exempt
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        event = payments.verify(payload, request.headers.get("Stripe-Signature"))
    except payments.BadSignature:
        return {"error": "invalid signature"}, 400
    except payments.MalformedEvent as exc:
        return {"error": f"malformed event: {exc}"}, 400
    try:
        outcome = payments.handle_event(event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        # A concurrent delivery of the same event committed first.
        if db.session.get(StripeEvent, event["id"]) is not None:
            return {"received": True, "outcome": "duplicate"}, 200
        raise
    return {"received": True, "outcome": outcome}, 200
