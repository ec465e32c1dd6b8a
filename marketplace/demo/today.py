"""Today's demo activity: orders in every state (paid by card and by invoice, with
shipments, a shortfall and a rejection) and open demands, all through the real services."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.models import Membership, OrgStatus, Role, User
from marketplace.core.models import bogota_date, utcnow
from marketplace.demo.history import HISTORY_KEY
from marketplace.extensions import db


def seed_orders(rng: random.Random, password: str) -> int:
    """Orders in every state, paid by card and by invoice, through the real services, so
    the demo cooperative, buyer and staff each have work waiting on first login.
    Skipped when any order exists besides the past year's (``seed_history``)."""
    from datetime import timedelta

    from sqlalchemy import or_

    from marketplace.accounts import services as accounts
    from marketplace.catalog.models import CollectionPoint, Listing, ListingStatus
    from marketplace.logistics import services as logistics
    from marketplace.orders import services as orders
    from marketplace.orders import shipping
    from marketplace.orders.models import Order, PaymentMethod, PaymentStatus

    if db.session.scalar(select(Order.id).where(or_(Order.idempotency_key.is_(None),
                                                    Order.idempotency_key.not_like(HISTORY_KEY + "%"))).limit(1)):
        return 0
    admin = db.session.scalar(select(User).where(User.email == "admin@mercadorural.co"))
    buyer_user = db.session.scalar(select(User).where(User.email == "compras01@empresa-demo.co"))
    coop_user = db.session.scalar(select(User).where(User.phone == "+573100000000"))
    if admin is None or buyer_user is None or coop_user is None:
        return 0
    buyer = buyer_user.organisation
    if buyer.status != OrgStatus.VERIFIED or not buyer.delivery_sites:
        return 0
    site = buyer.delivery_sites[0]
    home = coop_user.organisation

    def listings_of(coop_id=None):
        stmt = select(Listing).where(Listing.status == ListingStatus.ACTIVE, Listing.available_kg > 100,
                                     Listing.available_until >= bogota_date())
        stmt = stmt.where(Listing.cooperative_id == coop_id) if coop_id else stmt.where(Listing.cooperative_id != home.id)
        return list(db.session.scalars(stmt.order_by(Listing.id)))

    own, others = listings_of(home.id), listings_of()
    if not own or not others:
        return 0
    # A carrier, and the first mile of the demo cooperative's collection point.
    carrier, driver = accounts.create_carrier(
        admin, "Transportes del Pacífico Sur S.A.S.", None, home.municipality_code,
        accounts.UserData("Jhon Jairo Angulo", password,
                          email="transporte@empresa-demo.co"))
    driver.must_change_password = False
    point = db.session.get(CollectionPoint, own[0].collection_point_id)
    logistics.set_access_legs(coop_user, point, [
        logistics.AccessLegData("trail", "mule", Decimal("6"), "mountainous", "Camino de herradura hasta la vía")])
    managers = {}

    def manager_of(coop_id):
        if coop_id not in managers:
            managers[coop_id] = db.session.scalar(
                select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.organisation_id == coop_id, Membership.role == Role.COOP_MANAGER))
        return managers[coop_id]

    today = bogota_date()
    # (final state of every part, payment, a shortfall or rejection at delivery)
    plan = [
        ("placed", "invoice", None), ("placed", "card", None), ("accepted", "card", None),
        ("ready", "invoice", None), ("in_transit", "card", None), ("delivered", "invoice", "short"),
        ("delivered", "card", "reject"), ("settled", "card", None), ("settled", "invoice", None),
        ("declined", "invoice", None), ("cancelled", "card", None),
    ]
    created = 0
    for index, (target, method, problem) in enumerate(plan):
        picks = [own[index % len(own)], others[(index * 3) % len(others)]]
        lines = []
        for listing in picks:
            kg = min(listing.available_kg / 10, Decimal(rng.choice([80, 150, 300, 500]))).quantize(Decimal("1"))
            lines.append(orders.LineRequest(listing.id, kg, "kg"))
        request = orders.OrderRequest(lines=lines, delivery_site_id=site.id, window_start=today + timedelta(days=3),
                                      window_end=today + timedelta(days=12), payment_method="invoice",
                                      note="Empaque en sacos de fique, por favor." if index % 3 == 0 else None)
        order = orders.place_order(buyer_user, request)
        if method == "card":
            # A card payment made earlier at Stripe (the demo runs without Stripe keys),
            # recorded as its webhook would record it.
            order.payment_method = PaymentMethod.CARD
            order.invoice_due_date = None
            if target != "placed":
                order.stripe_payment_intent_id = f"pi_demo_{order.id:06d}"
                db.session.flush()
                orders.card_succeeded(order, order.stripe_payment_intent_id, order.total, utcnow())
            else:
                order.pay_by = utcnow() + timedelta(days=2)
        elif index == 5:
            order.invoice_due_date = today - timedelta(days=4)  # an overdue invoice for staff to chase
        db.session.flush()
        for part in order.parts:
            actor = manager_of(part.cooperative_id)
            if target == "placed":
                continue
            if target == "declined":
                orders.decline(actor, part, "La cosecha se dañó con las lluvias.")
                continue
            if target == "cancelled":
                orders.cancel(buyer_user, part, "Cambio en el plan de producción.")
                continue
            orders.accept(actor, part)
            if target == "accepted":
                continue
            if order.payment_method == PaymentMethod.INVOICE or order.payment_status == PaymentStatus.PAID:
                orders.mark_ready(actor, part)
            if target == "ready":
                continue
            if part.cooperative_id == home.id and carrier is not None:
                # The demo cooperative's shipments: a mule to the road, then a truck, with
                # the carrier's real costs once delivered.
                shipment = shipping.create_shipment(actor, shipping.ShipmentData(
                    [part.id], today, today + timedelta(days=2), carrier_id=carrier.id))
                shipping.dispatch(actor, shipment, today)
                if target != "in_transit":
                    shipping.record_actual_costs(actor, shipment, {
                        leg.id: (leg.estimated_cop * Decimal(str(rng.uniform(0.85, 1.25)))).quantize(Decimal("1"))
                        for leg in shipment.legs}, today, today + timedelta(days=1))
            else:
                orders.ship(actor, part, Decimal(rng.choice([0, 0, 35000, 60000])))
            if target == "in_transit":
                continue
            receipts = []
            for n, line in enumerate(part.lines):
                received, accepted, reason = line.quantity_kg, True, None
                if problem == "short" and n == 0:
                    received = (line.quantity_kg * Decimal("0.92")).quantize(Decimal("1"))
                if problem == "reject" and part.cooperative_id != home.id:
                    accepted, reason = False, "Humedad por encima del 8 %: granos con moho."
                receipts.append(orders.Receipt(line.id, received, accepted, reason))
            orders.record_delivery(buyer_user, part, receipts)
        if target == "settled":
            if order.payment_method == PaymentMethod.INVOICE:
                orders.mark_invoice_paid(admin, order, f"BANCOLOMBIA-{order.id:06d}")
            for part in order.parts:
                orders.refresh_payout(part)
                orders.settle(admin, part, f"TRF-{order.id:04d}-{part.id:04d}")
        created += 1
    return created


def seed_demands() -> int:
    """Open demands of the demo buyer: one the demo cooperative has answered (with the
    optimiser's proposal ready to read), one asking for at least half from PDET
    municipalities. Skipped when any demand exists."""
    from datetime import timedelta

    from marketplace.catalog.models import Listing, ListingStatus
    from marketplace.matching import services as matching
    from marketplace.matching.models import Demand

    if db.session.scalar(select(Demand.id).limit(1)):
        return 0
    buyer_user = db.session.scalar(select(User).where(User.email == "compras01@empresa-demo.co"))
    coop_user = db.session.scalar(select(User).where(User.phone == "+573100000000"))
    if buyer_user is None or coop_user is None or buyer_user.organisation.status != OrgStatus.VERIFIED:
        return 0
    own = list(db.session.scalars(select(Listing).where(
        Listing.cooperative_id == coop_user.organisation.id, Listing.status == ListingStatus.ACTIVE,
        Listing.available_kg > 100, Listing.available_until >= bogota_date()).order_by(Listing.id)))
    if not own:
        return 0
    today = bogota_date()
    site = buyer_user.organisation.delivery_sites[0]
    first = own[0]
    start, end = max(today + timedelta(days=5), first.available_from), today + timedelta(days=25)
    answered = matching.create_demand(buyer_user, matching.DemandData(
        product_id=first.product_id, quantity=(first.available_kg * 3).quantize(Decimal("1")), unit="kg",
        delivery_site_id=site.id, window_start=start, window_end=max(end, start),
        note="Entregas en estibas, con certificado de calidad por lote."))
    matching.make_offer(coop_user, answered, matching.OfferData(
        listing_id=first.id, quantity=(first.available_kg / 2).quantize(Decimal("1")), unit="kg",
        price_per_kg=(first.price_per_kg * Decimal("0.95")).quantize(Decimal("1")), ready_date=start))
    matching.propose(buyer_user, [answered])
    second = next((item for item in own if item.product_id != first.product_id), None)
    created = 1
    if second is not None:
        matching.create_demand(buyer_user, matching.DemandData(
            product_id=second.product_id, quantity=Decimal("5"), unit="tonelada", delivery_site_id=site.id,
            window_start=today + timedelta(days=10), window_end=today + timedelta(days=40),
            preferences=[matching.PreferenceData("pdet", Decimal("50"), None)]))
        created += 1
    return created
