"""The invariant checker: a database the services wrote passes; each kind of inconsistency,
made on purpose with a direct SQL statement, is found with its numbers; the CLI prints
them and exits 1."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.insights import invariants
from marketplace.orders import services
from marketplace.orders.models import Order, OrderLine, OrderPart, PaymentMethod, Refund
from tests.conftest import USING_PG
from tests.orders.conftest import market  # noqa: F401  (the fixture)
from tests.orders.helpers import part_of, place, user

D = Decimal


class Books:
    """Orders in the states the checks look at, all written by the services."""

    def __init__(self, app, market):  # noqa: F811
        self.market = market
        # An invoice order: cooperative B declines before the invoice is paid (so nothing is
        # owed back for it), A delivers 190 of 200 kg and the invoice is paid.
        self.invoice = place(app, market, [(market.listing_a, "200", "kg"), (market.listing_b, "50", "kg")])
        # An order wholly cancelled before payment: its payment is cancelled too.
        self.cancelled = place(app, market, [(market.listing_c, "30", "kg")])
        # A card order paid at once, then partly declined: the declined part is refunded.
        self.card = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "40", "kg")])
        # An order still waiting for the cooperative.
        self.waiting = place(app, market, [(market.listing_c, "25", "kg")])
        with app.app_context():
            manager_a, manager_b, buyer = user(market.manager_a), user(market.manager_b), user(market.buyer)
            part_a, part_b = part_of(self.invoice, market.coop_a), part_of(self.invoice, market.coop_b)
            services.decline(manager_b, part_b, "Sin cosecha")
            services.accept(manager_a, part_a)
            services.mark_ready(manager_a, part_a)
            line = part_a.lines[0]
            services.record_delivery(buyer, part_a, [services.Receipt(line.id, D("190"))])
            admin = self._admin(app)
            services.mark_invoice_paid(admin, db.session.get(Order, self.invoice), "BANCO-1")

            services.cancel(buyer, part_of(self.cancelled, market.coop_a), "Cambio de planes")

            card = db.session.get(Order, self.card)
            card.payment_method = PaymentMethod.CARD
            card.invoice_due_date = None
            card.stripe_payment_intent_id = f"pi_test_{card.id}"
            db.session.flush()
            services.card_succeeded(card, card.stripe_payment_intent_id, card.total, utcnow())
            services.decline(manager_b, part_of(self.card, market.coop_b), "Sin cosecha")
            db.session.commit()
            self.card_part_b = part_of(self.card, market.coop_b).id
            self.invoice_part_a = part_a.id

    @staticmethod
    def _admin(app):
        from marketplace.accounts.models import User

        return db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))


@pytest.fixture
def books(app, market, factory) -> Books:  # noqa: F811
    factory.admin()
    return Books(app, market)


def _found(app, sql: str, **params) -> list[invariants.Violation]:
    """Run one corrupting statement, commit it, and check the books."""
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()
        return invariants.check()


def _one(found, kind):
    matching = [v for v in found if v.kind == kind]
    assert len(matching) == 1, found
    return matching[0]


def test_books_written_by_the_services_balance(app, books):
    with app.app_context():
        assert invariants.check() == []
        # The refund the checks compare against is there.
        refunds = list(db.session.scalars(select(Refund)))
        assert [(r.order_id, r.part_id) for r in refunds] == [(books.card, books.card_part_b)]
    result = app.test_cli_runner().invoke(args=["check-invariants"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Invariantes: todo cuadra ({len(invariants.CHECKS)} revisiones)."


def test_stock_that_does_not_match_the_live_order_lines_is_found(app, books):
    # Lot A: 1,000 kg, 300 kg held by the invoice's and the card order's lines, 700 left.
    found = _found(app, "UPDATE listing SET available_kg = available_kg + 5 WHERE id = :id",
                   id=books.market.listing_a)
    violation = _one(found, "listing_stock")
    assert (violation.object_type, violation.object_id) == ("listing", books.market.listing_a)
    assert violation.message == ("cantidad 1000 kg, disponible 705 kg y 300 kg en pedidos vigentes: "
                                 "disponible + pedidos = 1005 kg, diferencia -5 kg")
    assert len(found) == 1


def test_a_declined_line_still_counted_as_held_is_found(app, books):
    """Declined kilos that never came back: the incident of the 120 kg nobody holds."""
    found = _found(app, "UPDATE listing SET available_kg = available_kg - 50 WHERE id = :id",
                   id=books.market.listing_b)
    violation = _one(found, "listing_stock")
    assert violation.object_id == books.market.listing_b
    assert "diferencia 50 kg" in violation.message


def test_an_order_total_that_is_not_its_parts_is_found(app, books):
    found = _found(app, "UPDATE purchase_order SET total = total + 1 WHERE id = :id", id=books.waiting)
    violation = _one(found, "order_total")
    assert (violation.object_type, violation.object_id) == ("order", books.waiting)
    with app.app_context():
        order = db.session.get(Order, books.waiting)
        assert f"total $ {order.total:.2f}" in violation.message
        assert f"= $ {order.total - 1:.2f}" in violation.message
    assert len(found) == 1


def test_goods_that_are_not_the_sum_of_the_lines_are_found(app, books):
    with app.app_context():
        line = db.session.scalar(select(OrderLine).join(OrderPart).where(OrderPart.order_id == books.waiting))
        part_id, goods = line.part_id, line.part.goods_amount
    # One line's price moved by a cent: 25 kg more pesos, a quarter of a peso.
    found = _found(app, "UPDATE order_line SET price_per_kg = price_per_kg + 0.01 WHERE part_id = :id", id=part_id)
    violation = _one(found, "part_goods")
    assert (violation.object_type, violation.object_id) == ("order_part", part_id)
    assert violation.message == (f"pedido {books.waiting}: productos $ {goods:.2f}, "
                                 f"pero sus líneas suman $ {goods + D('0.25'):.2f}")


def test_a_line_of_half_a_cent_counts_as_rounded_up(app, books):
    """1.5 kg at $ 0.03 is $ 0.045: the services charge $ 0.05 (half up), and so does the check."""
    with app.app_context():
        line = db.session.scalar(select(OrderLine).join(OrderPart).where(OrderPart.order_id == books.waiting))
        part_id, kg = line.part_id, line.quantity_kg
        db.session.execute(text("UPDATE order_line SET quantity_kg = 1.5, price_per_kg = 0.03 WHERE id = :id"),
                           {"id": line.id})
        db.session.execute(text(f"UPDATE listing SET available_kg = available_kg + {kg - D('1.5')} WHERE id = :id"),
                           {"id": books.market.listing_c})
        db.session.commit()
    found = _found(app, "UPDATE order_part SET goods_amount = 0.05 WHERE id = :id", id=part_id)
    assert found == []
    found = _found(app, "UPDATE order_part SET goods_amount = 0.04 WHERE id = :id", id=part_id)
    assert _one(found, "part_goods").message == f"pedido {books.waiting}: productos $ 0.04, pero sus líneas suman $ 0.05"


def test_a_refunded_total_that_is_not_the_refunds_is_found(app, books):
    found = _found(app, "UPDATE purchase_order SET refunded_total = refunded_total + 10 WHERE id = :id",
                   id=books.card)
    violation = _one(found, "refunded_total")
    assert violation.object_id == books.card
    assert "pero sus 1 reembolsos suman" in violation.message
    assert len(found) == 1


def test_refunds_above_what_was_paid_are_found(app, books):
    with app.app_context():
        paid = db.session.get(Order, books.card).amount_paid
        refund_id = db.session.scalar(select(Refund.id))
    found = _found(app, f"UPDATE refund SET amount = {paid + 1} WHERE id = :id", id=refund_id)
    kinds = sorted(v.kind for v in found)
    assert kinds == ["refund_amount", "refunded_over_paid", "refunded_total"]
    assert _one(found, "refund_amount").message == (
        f"pedido {books.card}: reembolso de $ {paid + 1:.2f}, más que lo pagado $ {paid:.2f}")
    assert f"más que lo pagado $ {paid:.2f}" in _one(found, "refunded_over_paid").message


@contextmanager
def _without_check(table: str, name: str):
    """Let a statement break one CHECK constraint for the length of the session's transaction:
    the constraint is dropped in it on PostgreSQL (DDL is transactional there), and checks are
    switched off for the connection on SQLite. Rolled back afterwards."""
    if USING_PG:
        db.session.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    else:
        db.session.execute(text("PRAGMA ignore_check_constraints = ON"))
    try:
        yield
    finally:
        db.session.rollback()
        if not USING_PG:
            db.session.execute(text("PRAGMA ignore_check_constraints = OFF"))
            db.session.commit()


def test_a_refund_of_nothing_is_found(app, books):
    with app.app_context():
        refund_id = db.session.scalar(select(Refund.id))
        with _without_check("refund", "ck_refund_amount_positive"):
            db.session.execute(text("UPDATE refund SET amount = 0 WHERE id = :id"), {"id": refund_id})
            found = invariants.check()
        assert _one(found, "refund_amount").message == f"pedido {books.card}: reembolso de $ 0.00 (debe ser mayor que cero)"
        assert invariants.check() == []  # the bad row was never kept


def test_a_lot_with_more_available_than_its_quantity_is_found(app, books):
    with app.app_context():
        with _without_check("listing", "ck_listing_available_within_quantity"):
            db.session.execute(text("UPDATE listing SET available_kg = quantity_kg + 1 WHERE id = :id"),
                               {"id": books.market.listing_c})
            found = invariants.check()
        assert _one(found, "listing_stock").object_id == books.market.listing_c


def test_an_order_waiting_for_payment_with_nothing_left_to_sell_is_found(app, books):
    found = _found(app, "UPDATE purchase_order SET payment_status = 'pending' WHERE id = :id", id=books.cancelled)
    violation = _one(found, "unpaid_without_sale")
    assert violation.object_id == books.cancelled
    assert violation.message == "pago «pending» con sus 1 partes cerradas sin venta (debería estar cancelado)"
    assert len(found) == 1


def test_a_part_closed_after_payment_with_nothing_owed_back_is_found(app, books):
    """The delivered part of the paid invoice is cancelled behind the services' back: money
    was paid for it and no payback is recorded (its lot also no longer balances)."""
    found = _found(app, "UPDATE order_part SET status = 'cancelled' WHERE id = :id", id=books.invoice_part_a)
    violation = _one(found, "closed_part_not_refunded")
    assert (violation.object_type, violation.object_id) == ("order_part", books.invoice_part_a)
    assert f"pedido {books.invoice} pagado (invoice" in violation.message
    assert {v.kind for v in found} == {"closed_part_not_refunded", "listing_stock"}


def test_a_card_refund_that_went_missing_is_found(app, books):
    with app.app_context():
        refunded = db.session.get(Order, books.card).refunded_total
    found = _found(app, "DELETE FROM refund WHERE part_id = :id", id=books.card_part_b)
    assert _one(found, "closed_part_not_refunded").object_id == books.card_part_b
    assert _one(found, "refunded_total").message == f"reembolsado $ {refunded:.2f}, pero sus 0 reembolsos suman $ 0.00"


def test_the_cli_prints_each_violation_and_a_summary_and_exits_1(app, books):
    _found(app, "UPDATE purchase_order SET total = total + 1 WHERE id IN (:a, :b)", a=books.waiting, b=books.invoice)
    result = app.test_cli_runner().invoke(args=["check-invariants"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"[order_total] order {books.invoice}",
                                                            f"[order_total] order {books.waiting}"]
    assert lines[-1] == "Invariantes: 2 inconsistencias (order_total: 2)."


def test_a_refund_marked_done_without_its_proof_is_found(app, books):
    with app.app_context():
        refund_id = db.session.scalar(select(Refund.id))
    found = _found(app, "UPDATE refund SET status = 'succeeded', stripe_refund_id = NULL WHERE id = :id",
                   id=refund_id)
    violation = _one(found, "refund_state")
    assert violation.object_id == refund_id and "sin el dato que la respalda" in violation.message
    found = _found(app, "UPDATE refund SET status = 'failed', last_error = NULL WHERE id = :id", id=refund_id)
    assert _one(found, "refund_state").object_id == refund_id
    found = _found(app, "UPDATE refund SET status = 'failed', last_error = '404: no existe' WHERE id = :id",
                   id=refund_id)
    assert [v for v in found if v.kind == "refund_state"] == []


def test_an_adjustment_taken_into_a_payout_that_was_not_made_is_found(app, books):
    with app.app_context():
        part = db.session.get(OrderPart, books.invoice_part_a)
        coop_id = part.cooperative_id
    found = _found(app, "INSERT INTO payout_adjustment (cooperative_id, part_id, amount, reason, created_at, "
                        "applied_part_id, applied_at) VALUES (:coop, :part, 1000, 'corrección', "
                        "CURRENT_TIMESTAMP, :part, CURRENT_TIMESTAMP)", coop=coop_id, part=books.invoice_part_a)
    violation = _one(found, "payout_adjustment")
    assert f"parte {books.invoice_part_a}" in violation.message
