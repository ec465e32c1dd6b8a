"""The set-based rebuild of sale facts and rollups (``rollups.rebuild``, SQL) gives exactly
the rows of the Python rebuild (``rollups.rebuild_python``) and of the incremental refresh,
on SQLite and PostgreSQL, for orders made through the real services: accepted, declined,
cancelled, delivered short, rejected with disputes released, refunded or still open, with
actual logistics costs from a shipment, near midnight in Bogotá and across months, and after
a cooperative's membership is edited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from marketplace.accounts import reviews
from marketplace.accounts import services as accounts
from marketplace.accounts.models import Cooperative
from marketplace.extensions import db
from marketplace.insights import rollups
from marketplace.insights.models import PriceMonth, SaleFact, SalesMonth
from marketplace.orders import services, shipping
from marketplace.orders.models import Dispute, Order, OrderLine, OrderPart
from tests.conftest import coop_data
from tests.orders.conftest import (
    TODAY,
    make_listing,
    market,  # noqa: F401  (fixture)
)
from tests.orders.helpers import place, user

D = Decimal


def _rows(model, skip=("id",)):
    columns = [c.name for c in model.__table__.columns if c.name not in skip]
    return sorted(tuple(getattr(r, c) for c in columns) for r in db.session.scalars(select(model)))


def snapshot():
    """Every column of every fact and rollup row (rollup ids aside)."""
    db.session.expire_all()
    return {"facts": _rows(SaleFact, skip=()), "sales": _rows(SalesMonth), "prices": _rows(PriceMonth)}


def refresh(app):
    with app.app_context():
        rollups.refresh()
        db.session.commit()


def placed_at(app, order_id: int, moment: datetime) -> None:
    """Date an order (before any of its parts is a sale) to spread orders over months and
    around midnight in Bogotá; the services always stamp the present."""
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id).values(placed_at=moment))
        db.session.commit()


def parts_of(order_id: int) -> dict[int, OrderPart]:
    return {p.cooperative_id: p for p in db.session.scalars(select(OrderPart).where(OrderPart.order_id == order_id))}


def act(app, order_id: int, coop_id: int, person, action: str, **kwargs) -> None:
    with app.app_context():
        part = parts_of(order_id)[coop_id]
        getattr(services, action)(user(person), part, **kwargs)
        db.session.commit()


def deliver(app, market, order_id: int, coop_id: int, received: dict[int, tuple[str, bool]]) -> None:  # noqa: F811
    """{listing id: (kg received, quality accepted)}."""
    with app.app_context():
        part = parts_of(order_id)[coop_id]
        receipts = [services.Receipt(ln.id, D(received[ln.listing_id][0]), received[ln.listing_id][1],
                                     None if received[ln.listing_id][1] else "Granos con moho")
                    for ln in part.lines]
        services.record_delivery(user(market.buyer), part, receipts)
        db.session.commit()


def resolve(app, admin, order_id: int, listing_id: int, outcome: str) -> None:
    with app.app_context():
        dispute = db.session.scalar(select(Dispute).join(OrderLine).join(OrderPart)
                                    .where(OrderPart.order_id == order_id, OrderLine.listing_id == listing_id))
        services.resolve_dispute(user(admin), dispute, outcome, "Fotos revisadas")
        db.session.commit()


def fact_of(order_id: int, listing_id: int) -> SaleFact | None:
    return db.session.scalar(select(SaleFact).join(OrderLine, OrderLine.id == SaleFact.line_id)
                             .where(SaleFact.order_id == order_id, OrderLine.listing_id == listing_id))


def test_sql_rebuild_equals_python_rebuild_equals_incremental_refresh(app, market, factory):  # noqa: F811, PLR0915
    m = market
    admin = factory.admin()
    # More listings: the same product and place as listing_a at another price (one part, two
    # lines, one rollup key), a price with cents from a non-PDET place, and a youth-led,
    # not women-led cooperative.
    listing_a2 = make_listing(app, m.manager_a, "cacao-grano-seco", "1000", "9500")
    listing_d = make_listing(app, m.manager_a, "cacao-grano-seco", "1000", "10333.33", municipality="05001")
    coop_c, manager_c = factory.cooperative(name="Cooperativa Joven del Tolima", municipality_code="73067",
                                            members_total=40, members_women=10, members_youth=25)
    listing_e = make_listing(app, manager_c, "cafe-pergamino-seco", "2000", "14999.99")

    # 1: three cooperatives, placed 23:30 in Bogotá on 30 December (already the 31st in UTC).
    o1 = place(app, m, [(m.listing_a, "100", "kg"), (listing_a2, "12.345", "kg"), (m.listing_c, "7.5", "kg"),
                        (m.listing_b, "33.333", "kg"), (listing_e, "8", "arroba")])
    placed_at(app, o1, datetime(2025, 12, 31, 4, 30, tzinfo=UTC))
    # 2: placed 21:00 on 28 February in Bogotá (1 March in UTC); 1.5 kg x 10,333.33 = 15,499.995 -> 15,500.00.
    o2 = place(app, m, [(listing_d, "1.5", "kg"), (m.listing_c, "20", "kg")])
    placed_at(app, o2, datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    # 3 and 4: same month, product, place, cooperative and buyer: one rollup row, two parts.
    o3 = place(app, m, [(m.listing_a, "40", "kg")])
    placed_at(app, o3, datetime(2026, 2, 10, 15, 0, tzinfo=UTC))
    o4 = place(app, m, [(m.listing_a, "60", "kg"), (listing_a2, "5", "kg")])
    placed_at(app, o4, datetime(2026, 2, 20, 15, 0, tzinfo=UTC))
    # 5: declined; 6: cancelled after acceptance; 7: left waiting for an answer.
    o5 = place(app, m, [(m.listing_b, "10", "kg")])
    o6 = place(app, m, [(listing_e, "50", "kg")])
    o7 = place(app, m, [(m.listing_a, "3", "kg")])
    # 8: shipped with actual costs recorded (logistics from the shipment, not the estimate).
    o8 = place(app, m, [(m.listing_a, "333", "kg"), (m.listing_c, "77", "kg")])
    refresh(app)  # nothing is a sale yet

    for order_id in (o1, o2, o3, o4, o8):
        act(app, order_id, m.coop_a, m.manager_a, "accept")
    act(app, o1, m.coop_b, m.manager_b, "accept")
    act(app, o1, coop_c, manager_c, "accept")
    act(app, o5, m.coop_b, m.manager_b, "decline", reason="Sin cosecha")
    act(app, o6, coop_c, manager_c, "accept")
    refresh(app)
    act(app, o6, coop_c, manager_c, "cancel", reason="Se perdió la cosecha")
    for order_id in (o1, o2, o4):
        act(app, order_id, m.coop_a, m.manager_a, "mark_ready")
    refresh(app)

    # Deliveries: short kilos, rejections (disputes) and a coffee line in arrobas.
    deliver(app, m, o1, m.coop_a, {m.listing_a: ("97.125", True), listing_a2: ("12.345", False),
                                   m.listing_c: ("7.5", False)})
    deliver(app, m, o2, m.coop_a, {listing_d: ("1.5", True), m.listing_c: ("19.999", False)})
    deliver(app, m, o4, m.coop_a, {m.listing_a: ("60", True), listing_a2: ("4.5", True)})
    refresh(app)
    resolve(app, admin, o1, m.listing_c, "released")  # paid after all: its received kilos count
    resolve(app, admin, o2, m.listing_c, "refunded")  # not paid: no kilos
    # listing_a2 of order 1 stays disputed (open): no kilos meanwhile.

    with app.app_context():
        shipment = shipping.create_shipment(user(m.manager_a), shipping.ShipmentData(
            [parts_of(o8)[m.coop_a].id], TODAY + timedelta(days=1), TODAY + timedelta(days=3),
            carrier_name="Transportes del Pacífico"))
        shipping.record_actual_costs(user(m.manager_a), shipment,
                                     {leg.id: D("412345") + leg.position for leg in shipment.legs})
        db.session.commit()
    refresh(app)

    with app.app_context():
        incremental = snapshot()
        assert incremental["facts"], "the scenario has sales"
        # Spot checks against what the definitions say.
        line = fact_of(o2, listing_d)
        assert (line.day, line.month, line.cop) == (date(2026, 2, 28), date(2026, 2, 1), D("15500.00"))
        assert fact_of(o2, m.listing_c).kg == 0  # refunded
        assert fact_of(o1, m.listing_c).kg == D("7.5")  # released
        assert fact_of(o1, listing_a2).kg == 0  # dispute still open
        short = fact_of(o1, m.listing_a)
        assert (short.day, short.month, short.kg, short.cop) == (date(2025, 12, 30), date(2025, 12, 1),
                                                                 D("97.125"), D("971250.00"))
        coffee = fact_of(o1, listing_e)
        assert (coffee.kg, coffee.women_led, coffee.youth_led) == (D("100"), False, True)
        shipped = [fact_of(o8, lid) for lid in (m.listing_a, m.listing_c)]
        actual = {ln.id: ln.logistics_actual for ln in parts_of(o8)[m.coop_a].lines}
        assert all(f.logistics_cop == actual[f.line_id] is not None for f in shipped)
        # An estimate's share to the cent, half up.
        part = parts_of(o1)[m.coop_a]
        ordered = sum(ln.quantity_kg for ln in part.lines)
        expected = {ln.id: (part.logistics_estimate * ln.quantity_kg / ordered).quantize(D("0.01"), "ROUND_HALF_UP")
                    for ln in part.lines}
        assert {f.line_id: f.logistics_cop for f in db.session.scalars(
            select(SaleFact).where(SaleFact.part_id == part.id))} == expected
        [february] = db.session.scalars(select(SalesMonth).where(
            SalesMonth.month == date(2026, 2, 1), SalesMonth.municipality_code == "52835",
            SalesMonth.product_id == fact_of(o3, m.listing_a).product_id)).all()
        assert (february.lines, february.parts, february.kg) == (3, 2, D("104.5"))
        for order_id in (o5, o6, o7):
            assert db.session.scalar(select(SaleFact).where(SaleFact.order_id == order_id)) is None

        assert rollups.rebuild_python() == 7
        db.session.commit()
        python = snapshot()
        assert rollups.rebuild() == 7
        db.session.commit()
        sql = snapshot()
        assert python == incremental
        assert sql == incremental

    # After a set-based rebuild, later changes keep flowing incrementally: a dispute, a
    # cancellation, and the youth-led cooperative's membership edited (now women-led).
    resolve(app, admin, o1, listing_a2, "released")
    act(app, o3, m.coop_a, m.manager_a, "cancel", reason="Lluvias")
    with app.app_context():
        coop = db.session.get(Cooperative, coop_c)
        accounts.update_cooperative(user(manager_c), coop, coop_data(
            name=coop.name, municipality_code=coop.municipality_code, members_total=40, members_women=30,
            members_youth=5))
        # The flags flip, so staff confirm the new counts (accounts.reviews).
        reviews.decide_member_change(user(admin), reviews.pending_member_change(coop), True)
        db.session.commit()
    refresh(app)
    with app.app_context():
        after = snapshot()
        assert after != sql
        assert fact_of(o1, listing_a2).kg == D("12.345")
        assert fact_of(o3, m.listing_a) is None
        coffee = fact_of(o1, listing_e)
        assert (coffee.women_led, coffee.youth_led) == (True, False)
        assert {(r.women_led, r.youth_led) for r in db.session.scalars(
            select(SalesMonth).where(SalesMonth.cooperative_id == coop_c))} == {(True, False)}
        rollups.rebuild()
        db.session.commit()
        assert snapshot() == after
        rollups.rebuild_python()
        db.session.commit()
        assert snapshot() == after


def test_sql_rebuild_of_nothing_is_empty_and_clears_the_change_log(app, market):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "10", "kg")])
    act(app, order_id, market.coop_a, market.manager_a, "accept")
    with app.app_context():
        assert rollups.rebuild() == 1
        db.session.commit()
        assert rollups.refresh() == 0  # the accept's change row was consumed by the rebuild
        assert len(snapshot()["facts"]) == 1
        db.session.execute(update(OrderPart).values(status="cancelled"))
        assert rollups.rebuild() == 0
        db.session.commit()
        assert snapshot() == {"facts": [], "sales": [], "prices": []}


def test_naive_sqlite_times_are_utc_in_the_python_path_too(app, market):  # noqa: F811
    """An order placed at 22:00 in Bogotá belongs to that day, whichever path computes it."""
    order_id = place(app, market, [(market.listing_a, "10", "kg")])
    placed_at(app, order_id, datetime(2026, 4, 1, 3, 0, tzinfo=UTC))  # 31 March, 22:00 in Bogotá
    act(app, order_id, market.coop_a, market.manager_a, "accept")
    with app.app_context():
        rollups.refresh()
        db.session.commit()
        fact = db.session.scalar(select(SaleFact))
        assert (fact.day, fact.month) == (date(2026, 3, 31), date(2026, 3, 1))
        rollups.rebuild()
        db.session.commit()
        fact = db.session.scalar(select(SaleFact))
        assert (fact.day, fact.month) == (date(2026, 3, 31), date(2026, 3, 1))
