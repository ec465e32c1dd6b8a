"""Order services: placement rules, all-or-nothing stock, the parts' lifecycle, deliveries,
disputes, invoices, payouts, refunds and the cooperative's ledger."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from marketplace.accounts.models import Buyer
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Listing
from marketplace.core.audit import AppendOnlyError
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import AuditEvent, utcnow
from marketplace.extensions import db
from marketplace.orders import placing, services
from marketplace.orders.models import (
    Dispute,
    DisputeStatus,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PartStatus,
    PaymentStatus,
    PayoutStatus,
    Quality,
    Refund,
)
from tests.orders.conftest import TODAY, make_listing
from tests.orders.helpers import (
    END,
    START,
    D,
    available,
    card_charge,
    events,
    order_count,
    order_request,
    part_of,
    place,
    user,
)

CARD = {"STRIPE_SECRET_KEY": "sk_test_x"}


@pytest.fixture
def app_config() -> dict:
    return {}


@pytest.fixture
def app(make_app, app_config):
    """Tests change settings with ``@pytest.mark.parametrize("app_config", [{...}])``."""
    return make_app(**app_config)


def refused(app, market, lines, exc=DomainError, **changes) -> DomainError:
    """Place an order that must be refused; nothing may be written and no stock taken."""
    with app.app_context():
        before = {lid: available(lid) for lid in (market.listing_a, market.listing_b, market.listing_c)}
        orders = order_count()
        with pytest.raises(exc) as info:
            services.place_order(user(market.buyer), order_request(market, lines, **changes))
        db.session.rollback()
        assert order_count() == orders
        assert {lid: available(lid) for lid in before} == before
        assert str(info.value.message)  # a message for people, in Spanish
        return info.value


def move(app, person, order_id, coop_id, action, **kwargs):
    with app.app_context():
        services.transition(user(person), part_of(order_id, coop_id), action, **kwargs)
        db.session.commit()


def deliver(app, market, order_id, coop_id, received: dict[int, tuple[str, bool, str | None]]):
    """Record a delivery: {listing_id: (received kg, accepted, reason)}."""
    with app.app_context():
        part = part_of(order_id, coop_id)
        receipts = [services.Receipt(ln.id, D(received[ln.listing_id][0]), received[ln.listing_id][1],
                                     received[ln.listing_id][2]) for ln in part.lines]
        services.record_delivery(user(market.buyer), part, receipts)
        db.session.commit()


def to_ready(app, market, order_id, coop_id=None, manager=None):
    coop_id = coop_id or market.coop_a
    manager = manager or market.manager_a
    move(app, manager, order_id, coop_id, "accept")
    move(app, manager, order_id, coop_id, "ready")


# ----------------------------------------------------------------- placement


@pytest.mark.parametrize(("quantity", "unit", "kg"), [
    ("8", "arroba", "100"),
    ("2", "carga", "250"),
    ("0.3", "tonelada", "300"),
    ("12.5", "kg", "12.5"),
    ("0.0004", "tonelada", "0.4"),
])
def test_fixed_units_convert_to_kg_and_price_by_the_kilo(app, market, quantity, unit, kg):
    order_id = place(app, market, [(market.listing_a, quantity, unit)])
    with app.app_context():
        order = db.session.get(Order, order_id)
        (line,) = order.parts[0].lines
        assert line.quantity_kg == D(kg)
        assert line.unit == unit
        assert line.unit_kg == {"arroba": D("12.5"), "carga": D("125"), "tonelada": D("1000"), "kg": D("1")}[unit]
        assert line.price_per_kg == D("10000")
        assert order.goods_total == D(kg) * 10000
        assert available(market.listing_a) == D("1000") - D(kg)


def test_the_listings_own_unit_uses_its_stated_weight(app, market):
    bultos = make_listing(app, market.manager_b, "cafe-pergamino-seco", "625", "16000", unit="bulto",
                          unit_kg="62.5")
    order_id = place(app, market, [(bultos, "3", "bulto"), (market.listing_b, "1", "arroba")])
    with app.app_context():
        line = db.session.scalar(select(OrderLine).where(OrderLine.listing_id == bultos))
        assert (line.quantity_kg, line.unit, line.unit_kg) == (D("187.5"), "bulto", D("62.5"))
        assert available(bultos) == D("437.5")
        assert db.session.get(Order, order_id).goods_total == D("187.5") * 16000 + D("12.5") * 11000
    # A variable unit the listing does not use is refused: its weight is unknown.
    error = refused(app, market, [(market.listing_a, "2", "bulto")])
    assert error.field == "lines.0"
    assert order_request(market, []).lines == []


@pytest.mark.parametrize(("quantity", "unit"), [("0", "kg"), ("-5", "kg"), (None, "kg"), ("1", "libra"),
                                                 ("1", "caja")])
def test_nonsense_quantities_and_units_are_refused(app, market, quantity, unit):
    error = refused(app, market, [(market.listing_b, "10", "kg"), (market.listing_a, quantity, unit)])
    assert error.field == "lines.1"


def test_order_totals_split_per_cooperative(app, market):
    now = utcnow()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "20", "kg"),
                                   (market.listing_b, "50", "kg")], now=now)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.goods_total == D("1000000") + D("300000") + D("550000")
        assert order.fee_percent == D("3")
        a, b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        assert (a.goods_amount, b.goods_amount) == (D("1300000"), D("550000"))
        assert (a.fee_amount, b.fee_amount) == (D("39000"), D("16500"))
        assert len(a.lines) == 2 and len(b.lines) == 1
        assert a.logistics_estimate > 0 and b.logistics_estimate > 0
        assert order.logistics_total == a.logistics_estimate + b.logistics_estimate
        assert order.fee_total == D("55500")
        assert order.total == order.goods_total + order.logistics_total + order.fee_total
        assert services.amount_due(order) == order.total
        assert services._aware(a.respond_by) - now == timedelta(hours=48)
        assert order.invoice_number == f"FV-{order.id:06d}"
        assert order.invoice_due_date == START - timedelta(days=2) + timedelta(days=30)
        assert order.payment_status == PaymentStatus.PENDING
        assert order.pay_by is None
        assert {p.status for p in order.parts} == {PartStatus.PLACED}
        assert audit_actions(order.id, "order") == ["order.placed"]


def audit_actions(object_id, object_type) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id)).order_by(AuditEvent.id)))


def test_minimum_order_applies_unless_the_rest_of_the_lot_is_smaller(app, market):
    lot = make_listing(app, market.manager_b, "cafe-pergamino-seco", "250", "15000", min_order="100")
    error = refused(app, market, [(lot, "99.999", "kg")])
    assert error.field == "lines.0" and "mínimo" in str(error.message)
    place(app, market, [(lot, "8", "arroba")])  # exactly 100 kg
    place(app, market, [(lot, "100", "kg")])
    with app.app_context():
        assert available(lot) == D("50")
    # 50 kg left, under the minimum: the buyer may take all of it, not less.
    with app.app_context(), pytest.raises(DomainError, match="mínimo"):
        services.place_order(user(market.buyer), order_request(market, [(lot, "49", "kg")]))
    place(app, market, [(lot, "50", "kg")])
    with app.app_context():
        assert available(lot) == 0


def test_above_stock_is_a_conflict(app, market):
    error = refused(app, market, [(market.listing_a, "1000.001", "kg")], exc=Conflict)
    assert error.field == "lines.0" and error.status_code == 409
    place(app, market, [(market.listing_a, "1000", "kg")])  # the whole lot is fine
    with app.app_context():
        assert available(market.listing_a) == 0


def test_a_paused_listing_cannot_be_ordered(app, market):
    with app.app_context():
        listing = db.session.get(Listing, market.listing_b)
        catalog_services.change_status(user(market.manager_b), listing, "pause")
        db.session.commit()
    error = refused(app, market, [(market.listing_a, "10", "kg"), (market.listing_b, "10", "kg")])
    assert error.field == "lines.1" and "activa" in str(error.message)


def test_an_expired_listing_cannot_be_ordered(app, market):
    with app.app_context():
        db.session.execute(update(Listing).where(Listing.id == market.listing_c).values(
            available_from=TODAY - timedelta(days=5), available_until=TODAY - timedelta(days=1)))
        db.session.commit()
    error = refused(app, market, [(market.listing_c, "10", "kg")])
    assert error.field == "lines.0" and "venció" in str(error.message)


def test_a_listing_available_only_after_the_window_is_refused(app, market):
    with app.app_context():
        db.session.execute(update(Listing).where(Listing.id == market.listing_c).values(
            available_from=END + timedelta(days=1), available_until=END + timedelta(days=20)))
        db.session.commit()
    assert refused(app, market, [(market.listing_c, "10", "kg")]).field == "lines.0"


def test_another_companys_delivery_site_is_refused(app, market, factory):
    other_id, _ = factory.buyer()
    with app.app_context():
        other_site = db.session.get(Buyer, other_id).delivery_sites[0].id
    error = refused(app, market, [(market.listing_a, "10", "kg")], delivery_site_id=other_site)
    assert error.field == "delivery_site"
    assert refused(app, market, [(market.listing_a, "10", "kg")], delivery_site_id=None).field == "delivery_site"


@pytest.mark.parametrize(("start", "end", "field"), [
    (TODAY - timedelta(days=1), TODAY + timedelta(days=3), "window_start"),
    (TODAY + timedelta(days=5), TODAY + timedelta(days=4), "window_end"),
    (None, TODAY + timedelta(days=4), "window_start"),
    (TODAY + timedelta(days=5), None, "window_start"),
    (TODAY + timedelta(days=5), TODAY + timedelta(days=366), "window_end"),
])
def test_delivery_window_in_the_past_reversed_or_missing_is_refused(app, market, start, end, field):
    error = refused(app, market, [(market.listing_a, "10", "kg")], window_start=start, window_end=end)
    assert error.field == field


def test_a_same_day_window_is_accepted(app, market):
    order_id = place(app, market, [(market.listing_a, "10", "kg")], window_start=TODAY, window_end=TODAY)
    with app.app_context():
        assert db.session.get(Order, order_id).window_end == TODAY


def test_the_same_listing_twice_is_refused(app, market):
    error = refused(app, market, [(market.listing_a, "10", "kg"), (market.listing_b, "1", "kg"),
                                  (market.listing_a, "1", "arroba")])
    assert error.field == "lines.2"


def test_an_empty_order_is_refused(app, market):
    assert refused(app, market, []).field == "lines"


def test_card_is_refused_when_stripe_is_not_configured(app, market):
    error = refused(app, market, [(market.listing_a, "10", "kg")], payment_method="card")
    assert error.field == "payment_method" and "factura" in str(error.message)
    assert refused(app, market, [(market.listing_a, "10", "kg")], payment_method="cash").field == "payment_method"


@pytest.mark.parametrize("app_config", [CARD])
def test_card_orders_get_a_payment_deadline_and_no_invoice(app, market):
    now = utcnow()
    order_id = place(app, market, [(market.listing_a, "10", "kg")], payment_method="card", now=now)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert services._aware(order.pay_by) - now == timedelta(minutes=60)
        assert order.invoice_number is None and order.invoice_due_date is None


def test_only_verified_buyers_place_orders(app, market, factory):
    _pending_id, pending = factory.buyer(status="pending")
    with app.app_context():
        with pytest.raises(Forbidden):
            services.place_order(user(pending), order_request(market, [(market.listing_a, "10", "kg")]))
        with pytest.raises(Forbidden):
            services.place_order(user(market.manager_a), order_request(market, [(market.listing_a, "10", "kg")]))
        assert order_count() == 0


def test_second_line_short_takes_no_stock_and_writes_nothing(app, market, monkeypatch):
    """Another buyer takes listing B between the quote and the reservation: listing A, taken
    first (lower id), is given back and no order row is left."""
    assert market.listing_a < market.listing_b
    real_quote = services.quote

    def quote_then_lose_b(*args, **kwargs):
        result = real_quote(*args, **kwargs)
        db.session.execute(update(Listing).where(Listing.id == market.listing_b).values(available_kg=D("10")))
        return result

    monkeypatch.setattr(placing, "quote", quote_then_lose_b)
    with app.app_context():
        with pytest.raises(Conflict):
            services.place_order(user(market.buyer), order_request(
                market, [(market.listing_a, "100", "kg"), (market.listing_b, "200", "kg")]))
        db.session.commit()  # whatever the service left in the session
    monkeypatch.undo()
    with app.app_context():
        assert available(market.listing_a) == D("1000")
        assert available(market.listing_b) == D("500")
        assert order_count() == 0
        assert db.session.scalar(select(func.count()).select_from(OrderPart)) == 0
        assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 0


def test_placing_clears_the_ordered_listings_from_the_cart(app, market):
    with app.app_context():
        buyer = user(market.buyer)
        services.add_to_cart(buyer, market.listing_a, D("10"), "kg")
        services.add_to_cart(buyer, market.listing_b, D("1"), "arroba")
        db.session.commit()
    with app.app_context():  # an order placed from the web cart
        services.place_order(user(market.buyer), order_request(market, [(market.listing_a, "10", "kg")]),
                             from_cart=True)
        db.session.commit()
    with app.app_context():
        assert [item.listing_id for item in services.cart(user(market.buyer))] == [market.listing_b]
    place(app, market, [(market.listing_b, "5", "kg")])  # through the API: the cart is the web page's
    with app.app_context():
        assert [item.listing_id for item in services.cart(user(market.buyer))] == [market.listing_b]


# ----------------------------------------------------------------- lifecycle


def test_accepting_records_the_event_with_its_actor(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "accept")
    with app.app_context():
        a, b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        assert a.status == PartStatus.ACCEPTED and b.status == PartStatus.PLACED
        assert events(a.id) == [(None, "placed", market.buyer.user_id),
                                ("placed", "accepted", market.manager_a.user_id)]
        assert events(b.id) == [(None, "placed", market.buyer.user_id)]
        assert audit_actions(a.id, "order_part") == ["order_part.accept"]
        assert available(market.listing_a) == D("900")  # accepting keeps the stock taken


def test_declining_returns_the_stock_exactly_once(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "50", "kg"),
                                   (market.listing_b, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "decline", reason="  Se nos dañó la cosecha  ")
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        assert part.status == PartStatus.DECLINED
        assert part.decline_reason == "Se nos dañó la cosecha"
        assert part.payout_status == PayoutStatus.NONE
        assert (available(market.listing_a), available(market.listing_c)) == (D("1000"), D("300"))
        assert available(market.listing_b) == D("400")
        assert services.ledger(part) == services.ZERO_LEDGER
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.PENDING  # coop B's part still stands
        assert services.amount_due(order) == services.ledger(part_of(order_id, market.coop_b)).buyer_total
        for action in ("decline", "cancel", "accept"):
            with pytest.raises(Conflict) as info:
                services.transition(user(market.manager_a), part, action, reason="otra vez")
            assert str(info.value.message)
            db.session.rollback()
        assert (available(market.listing_a), available(market.listing_c)) == (D("1000"), D("300"))
        assert services.sweep(now=utcnow() + timedelta(days=30))["expired"] == 1  # only coop B's part
        db.session.commit()
        assert (available(market.listing_a), available(market.listing_c)) == (D("1000"), D("300"))
        assert available(market.listing_b) == D("500")
        assert db.session.get(Order, order_id).payment_status == PaymentStatus.CANCELLED
        assert [e[1] for e in events(part.id)] == ["placed", "declined"]


def test_a_whole_order_declined_has_nothing_left_to_pay(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.CANCELLED
        assert services.amount_due(order) == 0


def test_sweep_expires_unanswered_parts_after_respond_by(app, market):
    placed_at = utcnow()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")],
                     now=placed_at)
    move(app, market.manager_b, order_id, market.coop_b, "accept")
    with app.app_context():
        assert services.sweep(now=placed_at + timedelta(hours=47, minutes=59)) == {"expired": 0, "cancelled": 0}
        db.session.commit()
        assert part_of(order_id, market.coop_a).status == PartStatus.PLACED
        assert services.sweep(now=placed_at + timedelta(hours=48, seconds=1)) == {"expired": 1, "cancelled": 0}
        db.session.commit()
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        assert part.status == PartStatus.EXPIRED
        assert part_of(order_id, market.coop_b).status == PartStatus.ACCEPTED
        assert events(part.id)[-1] == ("placed", "expired", None)
        assert available(market.listing_a) == D("1000")
        assert services.sweep(now=placed_at + timedelta(days=3)) == {"expired": 0, "cancelled": 0}
        db.session.commit()
        assert available(market.listing_a) == D("1000")
        with pytest.raises(Conflict):
            services.accept(user(market.manager_a), part)


@pytest.mark.parametrize("app_config", [CARD])
def test_sweep_cancels_card_orders_left_unpaid(app, market):
    placed_at = utcnow()
    card_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")],
                    payment_method="card", now=placed_at)
    invoice_id = place(app, market, [(market.listing_c, "10", "kg")], now=placed_at)
    move(app, market.manager_a, card_id, market.coop_a, "accept")
    with app.app_context():
        assert services.sweep(now=placed_at + timedelta(minutes=59))["cancelled"] == 0
        assert services.sweep(now=placed_at + timedelta(minutes=61)) == {"expired": 0, "cancelled": 2}
        db.session.commit()
        order = db.session.get(Order, card_id)
        assert order.payment_status == PaymentStatus.CANCELLED
        assert {p.status for p in order.parts} == {PartStatus.CANCELLED}
        assert events(part_of(card_id, market.coop_a).id)[-1] == ("accepted", "cancelled", None)
        assert db.session.scalar(select(PartEvent.note).where(PartEvent.to_status == "cancelled").limit(1)) == "unpaid"
        assert (available(market.listing_a), available(market.listing_b)) == (D("1000"), D("500"))
        assert db.session.get(Order, invoice_id).payment_status == PaymentStatus.PENDING
        assert available(market.listing_c) == D("290")


def test_cancel_is_allowed_only_before_the_produce_is_ready(app, market):
    first = place(app, market, [(market.listing_a, "100", "kg")])
    move(app, market.buyer, first, market.coop_a, "cancel", reason="Ya no lo necesitamos")
    second = place(app, market, [(market.listing_a, "100", "kg")])
    move(app, market.manager_a, second, market.coop_a, "accept")
    move(app, market.manager_a, second, market.coop_a, "cancel", reason="Granizada")
    third = place(app, market, [(market.listing_a, "100", "kg")])
    to_ready(app, market, third)
    with app.app_context():
        assert part_of(first, market.coop_a).status == PartStatus.CANCELLED
        assert events(part_of(first, market.coop_a).id)[-1] == ("placed", "cancelled", market.buyer.user_id)
        assert part_of(second, market.coop_a).status == PartStatus.CANCELLED
        assert available(market.listing_a) == D("900")  # only the third order holds stock
        for person in (market.buyer, market.manager_a):
            with pytest.raises(Conflict, match="ya no se puede cancelar") as info:
                services.cancel(user(person), part_of(third, market.coop_a))
            assert info.value.status_code == 409
            db.session.rollback()
        assert part_of(third, market.coop_a).status == PartStatus.READY
        assert available(market.listing_a) == D("900")


@pytest.mark.parametrize(("setup", "action", "message"), [
    ([], "ready", "Primero acepte"),
    ([], "ship", "listo para recoger"),
    (["accept"], "accept", "recién recibido"),
    (["accept"], "decline", "recién recibido"),
    (["accept"], "ship", "listo para recoger"),
    (["accept", "ready"], "ready", "Primero acepte"),
    (["accept", "ready", "ship"], "ship", "listo para recoger"),
])
def test_illegal_transitions_raise_conflict_with_a_message(app, market, factory, setup, action, message):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    for step in setup:
        move(app, market.manager_a, order_id, market.coop_a, step)
    actor = admin if action == "ship" else market.manager_a
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        status, count = part.status, len(events(part.id))
        with pytest.raises(Conflict) as info:
            services.transition(user(actor), part, action)
        assert message in str(info.value.message)
        db.session.rollback()
        assert part_of(order_id, market.coop_a).status == status
        assert len(events(part.id)) == count


def test_delivery_and_settlement_out_of_order_are_conflicts(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "accept")
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        with pytest.raises(Conflict, match="Solo se recibe"):
            services.record_delivery(user(market.buyer), part,
                                     [services.Receipt(part.lines[0].id, D("100"))])
        db.session.rollback()
        with pytest.raises(Conflict):
            services.settle(user(admin), part_of(order_id, market.coop_a), "TRF-1")
        db.session.rollback()
        with pytest.raises(DomainError) as info:
            services.transition(user(market.manager_a), part_of(order_id, market.coop_a), "fly")
        assert info.value.field == "action"
        assert part_of(order_id, market.coop_a).status == PartStatus.ACCEPTED


def test_the_wrong_actor_is_refused_and_nothing_moves(app, market, factory):
    admin = factory.admin()
    auditor = factory.staff()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        attempts = [
            (market.manager_b, "accept", NotFound),  # another cooperative does not even see it
            (auditor, "accept", NotFound),  # auditors read, never act
            (market.buyer, "accept", Forbidden),
            (market.buyer, "decline", Forbidden),
            (admin, "accept", Forbidden),
            (admin, "decline", Forbidden),
        ]
        for person, action, error in attempts:
            with pytest.raises(error):
                services.transition(user(person), part, action)
            db.session.rollback()
        with pytest.raises(Forbidden):
            services.record_delivery(user(market.manager_a), part, [services.Receipt(part.lines[0].id, D("1"))])
        db.session.rollback()
        assert part_of(order_id, market.coop_a).status == PartStatus.PLACED
        assert events(part.id) == [(None, "placed", market.buyer.user_id)]
        assert available(market.listing_a) == D("900")


@pytest.mark.parametrize("app_config", [CARD])
def test_a_card_order_is_prepared_only_once_paid(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    move(app, market.manager_a, order_id, market.coop_a, "accept")
    with app.app_context():
        with pytest.raises(Conflict, match="pagado"):
            services.mark_ready(user(market.manager_a), part_of(order_id, market.coop_a))
        db.session.rollback()
        order = db.session.get(Order, order_id)
        assert card_charge(order) == "paid"
        db.session.commit()
    move(app, market.manager_a, order_id, market.coop_a, "ready")
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.READY


# ---------------------------------------------------- delivery and the ledger


@pytest.mark.parametrize("app_config", [{"COOPERATIVE_FEE_PERCENT": "5"}])
def test_a_shortfall_reprices_the_line_and_the_ledger_nets_fee_and_transport(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "20", "kg")])
    to_ready(app, market, order_id)
    move(app, market.manager_a, order_id, market.coop_a, "ship", logistics_borne=D("50000.004"))
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("90", True, None),
                                                   market.listing_c: ("20", True, None)})
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        assert part.status == PartStatus.DELIVERED
        assert part.coop_fee_percent == D("5")
        assert part.logistics_borne == D("50000.00")
        ledger = services.ledger(part)
        assert ledger.gross == D("90") * 10000 + D("20") * 15000 == D("1200000")
        assert ledger.platform_fee == D("60000")
        assert ledger.logistics_borne == D("50000")
        assert ledger.net == ledger.gross - ledger.platform_fee - ledger.logistics_borne == D("1090000")
        assert ledger.buyer_fee == D("36000")
        assert ledger.buyer_logistics == part.logistics_estimate
        order = db.session.get(Order, order_id)
        assert services.amount_due(order) == D("1200000") + part.logistics_estimate + D("36000")
        assert services.amount_due(order) < order.total
        assert {ln.quality for ln in part.lines} == {Quality.ACCEPTED}
        assert part.payout_status == PayoutStatus.PENDING  # the invoice is not paid yet
        assert [e[1] for e in events(part.id)] == ["placed", "accepted", "ready", "in_transit", "delivered"]
        assert events(part.id)[-1][2] == market.buyer.user_id
        # Nothing returns to the listing: the missing kilos were sold and lost on the way.
        assert available(market.listing_a) == D("900")
        services.mark_invoice_paid(user(admin), order, " BANCOLOMBIA-778 ")
        db.session.commit()
        assert order.amount_paid == services.amount_due(order)
        assert part_of(order_id, market.coop_a).payout_status == PayoutStatus.DUE


def test_delivery_needs_every_line_and_a_sane_quantity(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "20", "kg")])
    to_ready(app, market, order_id)
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        a, c = part.lines
        bad = [
            [services.Receipt(a.id, D("100"))],
            [services.Receipt(a.id, D("100")), services.Receipt(a.id, D("100"))],
            [services.Receipt(a.id, D("100.001")), services.Receipt(c.id, D("20"))],
            [services.Receipt(a.id, D("-1")), services.Receipt(c.id, D("20"))],
            [services.Receipt(a.id, None), services.Receipt(c.id, D("20"))],
            [services.Receipt(a.id, D("100")), services.Receipt(c.id, D("20"), accepted=False, reason="  ")],
        ]
        for receipts in bad:
            with pytest.raises(DomainError):
                services.record_delivery(user(market.buyer), part, receipts)
            db.session.rollback()
        assert part_of(order_id, market.coop_a).status == PartStatus.READY
        assert db.session.scalar(select(func.count()).select_from(Dispute)) == 0


@pytest.mark.parametrize("outcome", ["refunded", "released"])
def test_a_rejected_line_opens_a_dispute_that_staff_resolve(app, market, factory, outcome):
    admin = factory.admin()
    auditor = factory.staff()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "20", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("100", True, None),
                                                   market.listing_c: ("18", False, "Granos con moho")})
    with app.app_context():
        order = db.session.get(Order, order_id)
        services.mark_invoice_paid(user(admin), order, "REF-1")
        db.session.commit()
        part = part_of(order_id, market.coop_a)
        rejected = next(ln for ln in part.lines if ln.listing_id == market.listing_c)
        assert rejected.quality == Quality.REJECTED and rejected.rejection_reason == "Granos con moho"
        dispute = rejected.dispute
        assert dispute.status == DisputeStatus.OPEN and dispute.opened_by_id == market.buyer.user_id
        assert services.open_disputes() == [dispute]
        assert services.ledger(part).gross == D("1000000")  # the rejected line is not paid for meanwhile
        assert part.billed_amount == services.ledger(part).buyer_total  # nor invoiced
        assert part.payout_status == PayoutStatus.PENDING  # paid, but a dispute is open
        for person, error in ((market.buyer, Forbidden), (auditor, Forbidden)):
            with pytest.raises(error):
                services.resolve_dispute(user(person), dispute, outcome, "Revisado")
        with pytest.raises(DomainError):
            services.resolve_dispute(user(admin), dispute, outcome, "   ")
        with pytest.raises(DomainError):
            services.resolve_dispute(user(admin), dispute, "split", "Mitad y mitad")
        db.session.rollback()

        services.resolve_dispute(user(admin), db.session.get(Dispute, dispute.id), outcome, "Fotos revisadas")
        db.session.commit()
        part = part_of(order_id, market.coop_a)
        dispute = db.session.get(Dispute, dispute.id)
        assert dispute.status == DisputeStatus(outcome) and dispute.resolved_by_id == admin.user_id
        expected = D("1000000") + (D("18") * 15000 if outcome == "released" else 0)
        assert services.ledger(part).gross == expected
        assert part.payout_status == PayoutStatus.DUE
        assert services.open_disputes() == []
        with pytest.raises(Conflict):
            services.resolve_dispute(user(admin), dispute, "released", "Otra vez")
        assert "dispute.opened" in audit_actions(rejected.id, "order_line")
        assert audit_actions(dispute.id, "dispute") == ["dispute.resolved"]
        # The invoice never covered the rejected line: nothing is owed back either way.
        assert db.session.scalars(select(Refund)).all() == []


def test_an_invoice_marked_paid_makes_delivered_parts_due(app, market, factory):
    admin = factory.admin()
    auditor = factory.staff()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("100", True, None)})
    move(app, market.manager_b, order_id, market.coop_b, "accept")
    with app.app_context():
        order = db.session.get(Order, order_id)
        for person, error in ((market.buyer, Forbidden), (auditor, Forbidden)):
            with pytest.raises(error):
                services.mark_invoice_paid(user(person), order, "X")
        with pytest.raises(DomainError) as info:
            services.mark_invoice_paid(user(admin), order, "  ")
        assert info.value.field == "bank_reference"
        db.session.rollback()
        assert services.open_invoices() == [order]
        services.mark_invoice_paid(user(admin), order, "BANCO-123")
        db.session.commit()
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.PAID
        assert order.bank_reference == "BANCO-123" and order.marked_paid_by_id == admin.user_id
        a, b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        assert a.payout_status == PayoutStatus.DUE
        paid_at = order.paid_at if order.paid_at.tzinfo else order.paid_at.replace(tzinfo=UTC)
        assert a.payout_due_date == paid_at.astimezone(ZoneInfo("America/Bogota")).date() + timedelta(days=8)
        assert b.payout_status == PayoutStatus.PENDING  # not delivered yet
        assert services.payouts_due() == [a]
        assert services.open_invoices() == []
        with pytest.raises(Conflict):
            services.mark_invoice_paid(user(admin), order, "BANCO-123")
        assert "invoice.paid" in audit_actions(order_id, "order")


@pytest.mark.parametrize("app_config", [CARD])
def test_invoice_payment_is_refused_for_card_orders(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    with app.app_context(), pytest.raises(Conflict):
        services.mark_invoice_paid(user(admin), db.session.get(Order, order_id), "X")


def test_settling_requires_the_payout_to_be_due(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("100", True, None)})
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        with pytest.raises(Conflict, match="pago del comprador"):
            services.settle(user(admin), part, "TRF-9")
        db.session.rollback()
        services.mark_invoice_paid(user(admin), db.session.get(Order, order_id), "BANCO-1")
        db.session.commit()
        part = part_of(order_id, market.coop_a)
        with pytest.raises(Forbidden):
            services.settle(user(market.manager_a), part, "TRF-9")
        db.session.rollback()
        with pytest.raises(DomainError):
            services.settle(user(admin), part, "")
        services.transition(user(admin), part, "settle", reference="TRF-9")
        db.session.commit()
        part = part_of(order_id, market.coop_a)
        assert part.status == PartStatus.SETTLED
        assert (part.payout_status, part.payout_reference) == (PayoutStatus.PAID, "TRF-9")
        assert events(part.id)[-1] == ("delivered", "settled", admin.user_id)
        assert services.payouts_due() == []
        with pytest.raises(Conflict):
            services.settle(user(admin), part, "TRF-10")


def test_a_decline_returns_exactly_the_kilos_its_lines_held(app, market):
    order_id = place(app, market, [(market.listing_a, "400", "kg")])
    place(app, market, [(market.listing_a, "250", "kg")])
    with app.app_context():
        assert available(market.listing_a) == D("350")
    move(app, market.manager_a, order_id, market.coop_a, "decline")
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        assert (listing.available_kg, listing.quantity_kg) == (D("750"), D("1000"))


def test_order_part_events_are_append_only_in_the_database(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "accept")
    with app.app_context():
        for statement in (update(PartEvent).values(note="rewritten"), delete(PartEvent)):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(statement)
            db.session.rollback()
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE order_part_event SET to_status = 'settled'"))
        db.session.rollback()
        event = db.session.scalar(select(PartEvent).limit(1))
        event.note = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(PartEvent).limit(1)))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(PartEvent)) == 2
        assert db.session.scalar(select(func.count()).select_from(PartEvent).where(PartEvent.note.is_not(None))) == 0


# ------------------------------------------------------------------- refunds


def _paid_card_order(app, market, lines) -> int:
    order_id = place(app, market, lines, payment_method="card")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert card_charge(order) == "paid"
        db.session.commit()
    return order_id


def refunds(order_id) -> list[tuple[str, Decimal, str]]:
    return [(r.idempotency_key, r.amount, r.reason) for r in
            db.session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))]


@pytest.mark.parametrize("app_config", [CARD])
def test_a_declined_part_of_a_paid_card_order_is_refunded_once(app, market):
    order_id = _paid_card_order(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        part = part_of(order_id, market.coop_b)
        owed = part.goods_amount + part.logistics_estimate + part.fee_amount
        assert refunds(order_id) == [(f"order-{order_id}-part-{part.id}-refund-1", owed, "declined")]
        order = db.session.get(Order, order_id)
        assert order.refunded_total == owed
        assert order.amount_paid - order.refunded_total == services.amount_due(order)
        assert services.plan_refunds(order) == []
        db.session.commit()
        assert len(refunds(order_id)) == 1


@pytest.mark.parametrize("app_config", [CARD])
@pytest.mark.parametrize("outcome", ["refunded", "released"])
def test_a_disputed_line_is_refunded_only_if_staff_side_with_the_buyer(app, market, factory, outcome):
    admin = factory.admin()
    order_id = _paid_card_order(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "20", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("95", True, None),
                                                   market.listing_c: ("18", False, "Húmedo")})
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        line_a = next(ln for ln in part.lines if ln.listing_id == market.listing_a)
        line_c = next(ln for ln in part.lines if ln.listing_id == market.listing_c)
        # The 5 kg shortfall (within SHORTFALL_DISPUTE_PERCENT) is refunded at once with its
        # share of the fee; the disputed line is billed as ordered until staff decide.
        assert refunds(order_id) == [(f"order-{order_id}-part-{part.id}-refund-1", D("51500"), "adjustment")]
        assert line_a.dispute is None and line_c.dispute.kind == "quality"
        assert part.payout_status == PayoutStatus.PENDING
        services.resolve_dispute(user(admin), line_c.dispute, outcome, "Revisado con fotos")
        db.session.commit()
        key = f"order-{order_id}-part-{part.id}-refund-2"
        if outcome == "refunded":
            # 20 kg x 15,000 plus 3 % fee
            assert refunds(order_id)[1:] == [(key, D("309000"), "adjustment")]
        else:
            # Released: the 18 kg are paid for, the 2 kg that never came are refunded.
            assert refunds(order_id)[1:] == [(key, D("30900"), "adjustment")]
        order = db.session.get(Order, order_id)
        assert order.refunded_total == sum(r[1] for r in refunds(order_id))
        assert part_of(order_id, market.coop_a).payout_status == PayoutStatus.DUE


@pytest.mark.parametrize("app_config", [CARD])
def test_invoice_orders_and_unpaid_card_orders_plan_no_refunds(app, market):
    invoice_id = place(app, market, [(market.listing_a, "100", "kg")])
    card_id = place(app, market, [(market.listing_b, "100", "kg")], payment_method="card")
    move(app, market.manager_a, invoice_id, market.coop_a, "decline")
    move(app, market.manager_b, card_id, market.coop_b, "decline")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
        assert db.session.get(Order, card_id).payment_status == PaymentStatus.CANCELLED


@pytest.mark.parametrize("app_config", [CARD])
def test_card_payment_events_never_move_payment_backwards(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert services.card_processing(order) == "processing"
        assert card_charge(order, order.total - D("0.01")) == "amount_mismatch"
        assert order.payment_status == PaymentStatus.PROCESSING
        assert card_charge(order) == "paid"
        assert services.card_processing(order) == "ignored"
        assert services.card_failed(order) == "ignored"
        assert card_charge(order) == "already_paid"
        assert order.payment_status == PaymentStatus.PAID and order.amount_paid == order.total
        db.session.commit()
        assert audit_actions(order_id, "order") == ["order.placed", "payment.charge_back", "payment.card_paid"]
