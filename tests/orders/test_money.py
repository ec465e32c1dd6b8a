"""Money owed back and short deliveries: invoices paid for goods that will not come are paid
back by staff, a charge that does not pay its order is given back, a large shortfall waits for
the cooperative or staff, and staff see every refund that needs them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import AuditEvent, utcnow
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import (
    Dispute,
    DisputeStatus,
    Order,
    PartStatus,
    PaymentStatus,
    PayoutStatus,
    Refund,
)
from tests.conftest import login
from tests.orders.helpers import D, card_charge, part_of, place, user
from tests.orders.test_services import deliver, move, to_ready

CARD = {"STRIPE_SECRET_KEY": "sk_test_x"}


@pytest.fixture
def app_config() -> dict:
    return {}


@pytest.fixture
def app(make_app, app_config):
    return make_app(**app_config)


def refunds(order_id: int) -> list[Refund]:
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)))


def books_balance(order: Order) -> bool:
    """What the buyer paid, less what is owed back, is what the order is worth now."""
    return order.amount_paid - order.refunded_total == services.amount_due(order)


# -------------------------------------------------------------- invoices


def test_a_part_declined_after_its_invoice_was_paid_is_owed_back_by_transfer(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "accept")
    with app.app_context():
        services.mark_invoice_paid(user(admin), db.session.get(Order, order_id), "BANCO-123")
        db.session.commit()
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        part_b = part_of(order_id, market.coop_b)
        (payback,) = refunds(order_id)
        assert order.payment_status == PaymentStatus.PAID  # never backwards
        assert (payback.method, payback.status, payback.part_id) == ("bank", "pending", part_b.id)
        assert payback.amount == part_b.goods_amount + part_b.logistics_estimate + part_b.fee_amount
        assert books_balance(order)
        assert services.money_owed_back() == [payback]
        # The worker never sends a bank payback to Stripe.
        from marketplace.orders import payments

        assert payments.push_refunds() == 0

        with pytest.raises(Forbidden):
            services.settle_payback(user(market.buyer), payback, "X")
        with pytest.raises(DomainError):
            services.settle_payback(user(admin), payback, "   ")
        db.session.rollback()
        services.settle_payback(user(admin), db.session.get(Refund, payback.id), "DEV-9")
        db.session.commit()
        payback = db.session.get(Refund, payback.id)
        assert (payback.status, payback.bank_reference, payback.settled_by_id) == ("succeeded", "DEV-9",
                                                                                     admin.user_id)
        assert services.money_owed_back() == []
        with pytest.raises(Conflict):
            services.settle_payback(user(admin), payback, "DEV-10")
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "refund.settled")) == 1


def test_a_part_declined_before_the_invoice_is_paid_is_not_invoiced(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        services.mark_invoice_paid(user(admin), order, "BANCO-1")
        db.session.commit()
        order = db.session.get(Order, order_id)
        part_a = part_of(order_id, market.coop_a)
        assert order.amount_paid == part_a.goods_amount + part_a.logistics_estimate + part_a.fee_amount
        assert refunds(order_id) == [] and books_balance(order)


def test_an_invoice_whose_parts_all_closed_cannot_be_marked_paid(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    move(app, market.manager_a, order_id, market.coop_a, "decline")
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.CANCELLED
        assert order not in services.open_invoices()
        with pytest.raises(Conflict):
            services.mark_invoice_paid(user(admin), order, "BANCO-2")


# ----------------------------------------------------------------- cards


@pytest.mark.parametrize("app_config", [CARD])
def test_a_charge_after_the_order_was_cancelled_is_given_back_and_the_order_stays_cancelled(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    move(app, market.manager_a, order_id, market.coop_a, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.CANCELLED
        assert card_charge(order) == "paid_after_cancel"
        db.session.commit()
        order = db.session.get(Order, order_id)
        (refund,) = refunds(order_id)
        assert order.payment_status == PaymentStatus.CANCELLED and order.amount_paid == 0
        assert (refund.reason, refund.amount, refund.method) == ("paid_after_cancel", order.total, "card")
        assert order.refunded_total == 0  # it never paid the order
        # A second delivery of the same outcome does not give it back twice.
        assert card_charge(order) == "paid_after_cancel"
        assert len(refunds(order_id)) == 1


@pytest.mark.parametrize("app_config", [CARD])
def test_a_charge_on_an_intent_the_order_does_not_use_is_given_back(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    with app.app_context():
        order = db.session.get(Order, order_id)
        order.stripe_payment_intent_id = "pi_the_orders_own"
        assert services.card_succeeded(order, "pi_another", order.total, utcnow()) == "stray_intent"
        db.session.commit()
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.PENDING
        (refund,) = refunds(order_id)
        assert (refund.reason, refund.payment_intent_id) == ("stray_intent", "pi_another")
        assert services.recent_charge_backs() == [refund]
        # An uncaptured charge that does not match is voided instead.
        assert services.card_succeeded(order, "pi_third", order.total, utcnow(), captured=False) == "stray_intent"
        assert refunds(order_id)[-1].method == "void"


@pytest.mark.parametrize("app_config", [CARD])
def test_a_part_declined_before_the_card_was_charged_is_refunded_when_the_charge_arrives(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")],
                     payment_method="card")
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert card_charge(order) == "paid"
        db.session.commit()
        order = db.session.get(Order, order_id)
        part_b = part_of(order_id, market.coop_b)
        (refund,) = refunds(order_id)
        assert (refund.part_id, refund.reason) == (part_b.id, "declined")
        assert order.amount_paid == order.total and books_balance(order)


# ------------------------------------------------------------- shortfalls


def test_a_small_shortfall_is_repriced_at_once(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("90", True, None)})  # exactly 10 %
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        assert part.lines[0].dispute is None
        assert services.ledger(part).gross == D("900000")


@pytest.mark.parametrize("app_config", [CARD])
def test_a_zero_kilo_receipt_opens_a_dispute_instead_of_cancelling_late(app, market, factory):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    with app.app_context():
        card_charge(db.session.get(Order, order_id))
        db.session.commit()
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("0", True, None)})
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        dispute = part.lines[0].dispute
        assert part.status == PartStatus.DELIVERED
        assert (dispute.kind, dispute.status) == ("shortfall", DisputeStatus.OPEN)
        # Nothing is re-priced and nothing refunded until it is decided.
        assert services.ledger(part).gross == D("1000000")
        assert refunds(order_id) == []
        assert part.payout_status == PayoutStatus.PENDING
        assert services.open_disputes() == [dispute]


@pytest.mark.parametrize("app_config", [CARD])
def test_the_cooperative_agrees_to_a_shortfall_and_the_buyer_is_refunded_the_missing_kilos(app, market, factory):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    with app.app_context():
        card_charge(db.session.get(Order, order_id))
        db.session.commit()
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("60", True, None)})
    with app.app_context():
        dispute = part_of(order_id, market.coop_a).lines[0].dispute
        dispute_id = dispute.id
        for person, error in ((market.manager_b, NotFound), (market.buyer, NotFound)):
            with pytest.raises(error):
                services.agree_to_shortfall(user(person), dispute)
        db.session.rollback()
    # Through the web, as the cooperative's manager would.
    client = app.test_client()
    login(client, market.manager_a)
    page = client.get(f"/ventas/{part_of_id(app, order_id, market.coop_a)}").get_data(as_text=True)
    assert f"/ventas/disputas/{dispute_id}/aceptar" in page
    response = client.post(f"/ventas/disputas/{dispute_id}/aceptar")
    assert response.status_code == 303
    with app.app_context():
        dispute = db.session.get(Dispute, dispute_id)
        part = part_of(order_id, market.coop_a)
        order = db.session.get(Order, order_id)
        assert dispute.status == DisputeStatus.REFUNDED and dispute.resolved_by_id == market.manager_a.user_id
        assert services.ledger(part).gross == D("600000")
        (refund,) = refunds(order_id)
        assert refund.amount == D("400000") * D("1.03") and refund.reason == "adjustment"
        assert books_balance(order)
        assert part.payout_status == PayoutStatus.DUE
        with pytest.raises(Conflict):
            services.agree_to_shortfall(user(market.manager_a), dispute)
    other = app.test_client()
    login(other, market.manager_b)
    assert other.post(f"/ventas/disputas/{dispute_id}/aceptar").status_code == 404


def part_of_id(app, order_id, coop_id) -> int:
    with app.app_context():
        return part_of(order_id, coop_id).id


# ------------------------------------------------------------ staff pages


@pytest.mark.parametrize("app_config", [CARD])
def test_staff_see_failed_refunds_with_the_reason_and_can_retry_or_settle_them(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")],
                     payment_method="card")
    with app.app_context():
        card_charge(db.session.get(Order, order_id))
        db.session.commit()
    move(app, market.manager_b, order_id, market.coop_b, "decline")
    with app.app_context():
        (refund,) = refunds(order_id)
        refund.status, refund.attempts, refund.last_error = "failed", 1, "404: No such payment_intent"
        db.session.commit()
        refund_id = refund.id
    client = app.test_client()
    login(client, admin)
    page = client.get("/admin/pedidos").get_data(as_text=True)
    assert "404: No such payment_intent" in page and f'id="refund-{refund_id}"' in page
    assert client.post(f"/admin/devoluciones/{refund_id}/reintentar").status_code == 303
    with app.app_context():
        refund = db.session.get(Refund, refund_id)
        assert (refund.status, refund.attempts) == ("pending", 0)
        refund.status = "failed"
        db.session.commit()
    assert client.post(f"/admin/devoluciones/{refund_id}/transferida", data={"bank_reference": ""}).status_code == 303
    with app.app_context():
        assert db.session.get(Refund, refund_id).status == "failed"  # refused: no reference
    assert client.post(f"/admin/devoluciones/{refund_id}/transferida",
                       data={"bank_reference": "TRF-77"}).status_code == 303
    with app.app_context():
        refund = db.session.get(Refund, refund_id)
        assert (refund.status, refund.bank_reference) == ("succeeded", "TRF-77")
    buyer = app.test_client()
    login(buyer, market.buyer)
    assert buyer.post(f"/admin/devoluciones/{refund_id}/reintentar").status_code in (403, 404)


def test_a_payout_is_refused_if_the_amount_to_transfer_changed_since_staff_saw_it(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    to_ready(app, market, order_id)
    deliver(app, market, order_id, market.coop_a, {market.listing_a: ("100", True, None)})
    with app.app_context():
        services.mark_invoice_paid(user(admin), db.session.get(Order, order_id), "BANCO-5")
        db.session.commit()
        part = part_of(order_id, market.coop_a)
        assert part.payout_status == PayoutStatus.DUE
        shown = services.ledger(part).net
        with pytest.raises(Conflict, match="cambió"):
            services.settle(user(admin), part, "TRF-1", transfer=shown - 1)
        db.session.rollback()
        services.settle(user(admin), part_of(order_id, market.coop_a), "TRF-1", transfer=shown)
        db.session.commit()
        assert part_of(order_id, market.coop_a).payout_status == PayoutStatus.PAID
