"""``flask seed-demo`` builds a demo with work waiting for every role and a year of past
sales behind the staff dashboards, and running it again duplicates nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from marketplace import demo
from marketplace.accounts.models import User
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, Product
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from marketplace.insights import services as insights
from marketplace.insights.models import SaleFact
from marketplace.matching import services as matching
from marketplace.matching.models import Demand, Offer, Proposal
from marketplace.orders import services as orders
from marketplace.orders.models import (
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PartStatus,
    PaymentStatus,
)
from tests.conftest import Person, login


def _counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Order, OrderPart, OrderLine, PartEvent, Listing, Demand, Offer, Proposal, SaleFact)}


def _history():
    return select(Order).where(Order.idempotency_key.like(demo.HISTORY_KEY + "%"))


def test_seed_demo_has_orders_and_demands_and_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "solicitudes de compra" in first.output and "Historial" in first.output
    with app.app_context():
        counts = _counts()
        assert counts["Order"] >= 10 and counts["Demand"] >= 1 and counts["Offer"] >= 1 and counts["Proposal"] >= 1
        coop_user = db.session.scalar(select(User).where(User.phone == "+573100000000"))
        # The demo cooperative has a demand to answer on its first visit.
        assert matching.open_demands_for(coop_user.organisation)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert _counts() == counts


def test_seed_demo_has_a_year_of_sales_the_dashboards_show(app):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    this_month = bogota_date().replace(day=1)
    months = [insights.add_months(this_month, n) for n in range(-12, 0)]
    with app.app_context():
        past = list(db.session.scalars(_history().order_by(Order.id)))
        first_past = past[0].id
        lines = db.session.scalar(select(func.count()).select_from(OrderLine).join(OrderPart)
                                  .where(OrderPart.order_id.in_([o.id for o in past])))
        assert 1500 <= lines <= 3000
        # Twelve months of sales ending last month, numbered in date order before today's orders.
        assert sorted({o.placed_at.date().replace(day=1) for o in past}) == months
        assert [o.placed_at for o in past] == sorted(o.placed_at for o in past)
        today_ids = db.session.scalars(select(Order.id).where(Order.id.not_in([o.id for o in past])))
        assert past[-1].id < min(today_ids)
        statuses = {p.status for o in past for p in o.parts}
        assert {PartStatus.SETTLED, PartStatus.DECLINED, PartStatus.CANCELLED} <= statuses
        assert statuses <= {PartStatus.DELIVERED, PartStatus.SETTLED, PartStatus.DECLINED, PartStatus.CANCELLED}
        for order in past[::25]:
            assert order.total == order.goods_total + order.logistics_total + order.fee_total
            assert order.fee_total == sum(p.fee_amount for p in order.parts)
            if order.payment_status == PaymentStatus.PAID:
                assert order.amount_paid == (order.total if order.payment_method.value == "card"
                                             else orders.amount_due(order))
            for part in order.parts:
                assert part.goods_amount == sum((ln.quantity_kg * ln.price_per_kg).quantize(Decimal("0.01"))
                                                for ln in part.lines)
                assert [e.to_status for e in part.events][-1] == part.status.value
                # Past sales came from past lots, not from today's stock.
                assert all(not catalog.is_available(ln.listing) and ln.listing.product_id == ln.product_id
                           for ln in part.lines)
        assert orders.sweep() == {"expired": 0, "cancelled": 0}
        db.session.rollback()

        # The dashboards have figures for every month, with coffee's harvest in them.
        impact = insights.impact(insights.make_filters(None, None))
        income = next(row for row in impact.rows if row.code == "income_cop")
        assert all(value > 0 for _month, value in income.monthly)
        repeat = next(row for row in impact.rows if row.code == "repeat_alliances")
        assert repeat.value >= 10
        coffee = db.session.scalar(select(Product.id).where(Product.slug == "cafe-pergamino-seco"))
        year = insights.make_filters(months[0], months[-1], coffee)
        trend = {m.month.month: m for m in insights.trends(year).months}
        assert all(m.median is not None and m.kg > 0 for m in trend.values())
        main_crop = sum(trend[m].kg for m in (10, 11, 12)) / 3
        off_season = sum(trend[m].kg for m in (2, 3, 7, 8)) / 4
        assert main_crop > 2 * off_season
        assert insights.anomalies(year).flagged

    staff = app.test_client()
    login(staff, Person(0, "seguimiento@mercadorural.co", app.config["DEMO_PASSWORD"], None))
    for path in ("/seguimiento/indicadores", f"/seguimiento/tendencias?producto={coffee}",
                 f"/seguimiento/anomalias?producto={coffee}", f"/pedidos/{first_past}", "/admin/pedidos"):
        response = staff.get(path)
        assert response.status_code == 200, path
    assert "muy " in staff.get(f"/seguimiento/anomalias?producto={coffee}&desde={months[0]:%Y-%m}") \
        .get_data(as_text=True)


def test_seed_demo_books_balance(app):
    """Right after seeding, every lot's quantity is what it has left plus what live order lines
    hold, every order's total is its goods, logistics and fee, and every part's goods are
    its lines: read with plain SQL, then by ``flask check-invariants``."""
    from sqlalchemy import text

    from marketplace.insights import invariants
    from marketplace.orders.models import CLOSED_WITHOUT_SALE

    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    closed = ", ".join(f"'{status.value}'" for status in sorted(CLOSED_WITHOUT_SALE))
    with app.app_context():
        listings = db.session.execute(text(f"""
            SELECT l.id, l.quantity_kg, l.available_kg,
                   COALESCE(SUM(CASE WHEN p.status NOT IN ({closed}) THEN ol.quantity_kg END), 0) AS held
            FROM listing l
            LEFT JOIN order_line ol ON ol.listing_id = l.id
            LEFT JOIN order_part p ON p.id = ol.part_id
            GROUP BY l.id, l.quantity_kg, l.available_kg
            HAVING ROUND(l.quantity_kg - l.available_kg
                         - COALESCE(SUM(CASE WHEN p.status NOT IN ({closed}) THEN ol.quantity_kg END), 0), 3) <> 0
                OR l.available_kg < 0""")).all()
        orders_off = db.session.execute(text("""
            SELECT id, total, goods_total, logistics_total, fee_total FROM purchase_order
            WHERE ROUND(total - goods_total - logistics_total - fee_total, 2) <> 0""")).all()
        parts_off = db.session.execute(text("""
            SELECT p.id, p.goods_amount, SUM(ROUND(ol.quantity_kg * ol.price_per_kg, 2)) AS lines
            FROM order_part p LEFT JOIN order_line ol ON ol.part_id = p.id
            GROUP BY p.id, p.goods_amount
            HAVING ROUND(p.goods_amount - COALESCE(SUM(ROUND(ol.quantity_kg * ol.price_per_kg, 2)), 0), 2) <> 0
            """)).all()
        counts = db.session.execute(text(f"""
            SELECT (SELECT COUNT(*) FROM listing),
                   (SELECT COUNT(*) FROM order_part WHERE status IN ({closed})),
                   (SELECT COUNT(*) FROM listing WHERE available_kg > 0 AND available_until < CURRENT_DATE)
            """)).one()
        db.session.rollback()
        assert listings == []
        assert orders_off == []
        assert parts_off == []
        # The balances were tested on lots with declined, cancelled and unpaid sales among them.
        assert counts[0] > 100 and counts[1] > 20 and counts[2] > 0
        assert invariants.check() == []
    result = runner.invoke(args=["check-invariants"])
    assert result.exit_code == 0, result.output
    assert "todo cuadra" in result.output
