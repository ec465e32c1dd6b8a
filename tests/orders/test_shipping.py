"""Shipments: created from a cooperative's parts with a quoted estimate, actual costs
recorded by the carrier or the cooperative and allocated to the lines by weight, seen only
by those concerned; consolidated route plans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts import services as accounts
from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core.errors import Conflict, DomainError, NotFound
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import Shipment
from marketplace.orders import routes, services, shipping
from marketplace.orders.models import Order, OrderPart, PartStatus
from tests.conftest import PASSWORD, login
from tests.orders.conftest import TODAY, make_listing
from tests.orders.helpers import D, place, user


def _accepted_parts(app, market, lines):
    order_id = place(app, market, lines)
    with app.app_context():
        order = db.session.get(Order, order_id)
        for part in order.parts:
            manager = market.manager_a if part.cooperative_id == market.coop_a else market.manager_b
            services.accept(user(manager), part)
        db.session.commit()
        return order_id, {p.cooperative_id: p.id for p in order.parts}


def _ship(app, person, part_ids, **extra):
    with app.app_context():
        shipment = shipping.create_shipment(user(person), shipping.ShipmentData(
            part_ids, TODAY + timedelta(days=1), TODAY + timedelta(days=3), **extra))
        db.session.commit()
        return shipment.id


def _carrier(app, factory):
    admin = factory.admin()
    with app.app_context():
        carrier, person = accounts.create_carrier(
            user(admin), "Transportes del Pacífico", None, "52835",
            accounts.UserData("Conductor Uno", PASSWORD, phone="+573209998877"))
        person.must_change_password = False
        db.session.commit()
        return carrier.id, person.id


def test_a_shipment_starts_with_the_first_mile_and_its_quote(app, market):
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "300", "kg"), (market.listing_c, "100", "kg")])
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", D("8"), "mountainous", "Camino a la vía")])
        db.session.commit()
        point_id = point.id
    shipment_id = _ship(app, market.manager_a, [parts[market.coop_a]])
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        assert [leg.kind for leg in shipment.legs] == ["trail", "road"]
        assert shipment.legs[0].mode_code == "mule" and shipment.legs[0].paid_by == "cooperative"
        assert shipment.legs[0].trips == 4  # 400 kg on 100 kg mules
        site = db.session.get(Order, _order).delivery_site
        quote = logistics.quote_for(point_id, site.id, D("400"))
        assert shipment.estimated_cop == quote.total_cop == sum(leg.estimated_cop for leg in shipment.legs)


def test_actual_costs_are_allocated_by_weight_to_the_peso_and_reach_the_ledger(app, market):
    order_id, parts = _accepted_parts(app, market, [(market.listing_a, "333", "kg"), (market.listing_c, "77", "kg")])
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", D("5"), "mountainous")])
        db.session.commit()
    shipment_id = _ship(app, market.manager_a, [parts[market.coop_a]])
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        mule, road = shipment.legs
        shipping.record_actual_costs(user(market.manager_a), shipment, {mule.id: D("100001"), road.id: D("412345")})
        db.session.commit()
        part = db.session.get(OrderPart, parts[market.coop_a])
        shares = [line.logistics_actual for line in part.lines]
        assert sum(shares) == D("512346") == shipment.actual_cop
        assert all(share == share.to_integral_value() for share in shares)  # whole pesos
        # 333 and 77 kg: the shares follow the weights.
        assert abs(shares[0] / shares[1] - D(333) / D(77)) < D("0.001")
        assert part.logistics_actual == D("512346")
        assert part.logistics_borne == D("100001")  # the mule leg is the cooperative's
        ledger = services.ledger(part)
        assert ledger.net == ledger.gross - ledger.platform_fee - D("100001")
        mile = shipping.last_mile(part)
        assert mile.actual and mile.per_kg == (D("512346") / D("410")).quantize(D("0.01"))
    buyer = app.test_client()
    login(buyer, market.buyer)
    page = buyer.get(f"/pedidos/{order_id}").get_data(as_text=True)
    assert "1.249,62" in page  # 512,346 / 410 kg, the real last mile per kg


def test_bad_costs_change_nothing(app, market):
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "100", "kg")])
    shipment_id = _ship(app, market.manager_a, [parts[market.coop_a]])
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        leg = shipment.legs[0]
        with pytest.raises(DomainError):
            shipping.record_actual_costs(user(market.manager_a), shipment, {leg.id: D("-5")})
        db.session.rollback()
        with pytest.raises(DomainError):
            shipping.record_actual_costs(user(market.manager_a), shipment, {leg.id + 999: D("5")})
        db.session.rollback()
        with pytest.raises(NotFound):  # another cooperative
            shipping.record_actual_costs(user(market.manager_b), shipment, {leg.id: D("5")})
        db.session.rollback()
        assert db.session.get(Shipment, shipment_id).legs[0].actual_cop is None


def test_only_those_concerned_see_a_shipment(app, market, factory):
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    carrier_id, carrier_user = _carrier(app, factory)
    shipment_id = _ship(app, market.manager_a, [parts[market.coop_a]], carrier_id=carrier_id)
    other_id = _ship(app, market.manager_b, [parts[market.coop_b]])
    coop_b = app.test_client()
    login(coop_b, market.manager_b)
    assert coop_b.get(f"/envios/{shipment_id}").status_code == 404
    assert coop_b.get(f"/envios/{other_id}").status_code == 200
    assert coop_b.post(f"/envios/{shipment_id}/costos", data={}).status_code == 404
    buyer = app.test_client()
    login(buyer, market.buyer)
    assert buyer.get(f"/envios/{shipment_id}").status_code == 404
    with app.app_context():
        from marketplace.accounts.models import User

        carrier = db.session.get(User, carrier_user)
        assert [s.id for s in shipping.shipments_for(carrier)] == [shipment_id]
        with pytest.raises(NotFound):
            shipping.visible_shipment(carrier, other_id)
        shipment = db.session.get(Shipment, shipment_id)
        assert shipping.can_record_costs(carrier, shipment)
        shipping.record_actual_costs(carrier, shipment, {leg.id: D("90000") for leg in shipment.legs})
        db.session.commit()
        assert db.session.get(Shipment, shipment_id).actual_cop == D("90000") * len(shipment.legs)


def test_dispatching_needs_ready_parts_and_moves_them(app, market):
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "100", "kg")])
    shipment_id = _ship(app, market.manager_a, [parts[market.coop_a]])
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        with pytest.raises(Conflict):
            shipping.dispatch(user(market.manager_a), shipment)
        db.session.rollback()
        services.mark_ready(user(market.manager_a), db.session.get(OrderPart, parts[market.coop_a]))
        shipping.dispatch(user(market.manager_a), db.session.get(Shipment, shipment_id))
        db.session.commit()
        part = db.session.get(OrderPart, parts[market.coop_a])
        assert part.status == PartStatus.IN_TRANSIT
        assert db.session.get(Shipment, shipment_id).status == "in_transit"
        services.record_delivery(user(market.buyer), part, [
            services.Receipt(line.id, line.quantity_kg) for line in part.lines])
        db.session.commit()
        assert db.session.get(Shipment, shipment_id).status == "delivered"
        assert db.session.get(Shipment, shipment_id).actual_delivery is not None
    with app.app_context(), pytest.raises(Conflict):  # a part travels in one shipment
        shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
            [parts[market.coop_a]], TODAY, TODAY))


def test_a_route_plan_visits_every_pickup_once_and_saves_against_one_trip_each(app, market, factory):
    # Three cooperatives' pickups around Tumaco (department 52) due on the same day.
    extra = make_listing(app, market.manager_a, "platano-harton", "2000", "1500", municipality="52835")
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "500", "kg"), (market.listing_c, "200", "kg")])
    _order2, parts2 = _accepted_parts(app, market, [(extra, "900", "kg")])
    admin = factory.admin()
    day = TODAY + timedelta(days=3)
    with app.app_context():
        plan = routes.propose(user(admin), "52", day, "52835", "small_truck")
        db.session.commit()
        planned = [pid for route in plan.routes for pid in route]
        expected = {parts[market.coop_a], parts2[market.coop_a]}
        assert sorted(planned) == sorted(expected) and len(planned) == len(set(planned))
        assert plan.cost_cop <= plan.baseline_cop
        created = routes.accept(user(admin), plan.id)
        db.session.commit()
        assert sorted(stop.part_id for s in created for stop in s.stops) == sorted(expected)
        with pytest.raises(Conflict):
            routes.accept(user(admin), plan.id)
        db.session.rollback()
        with pytest.raises(DomainError):  # nothing left to pick up
            routes.propose(user(admin), "52", day, "52835", "small_truck")


def test_a_pickup_heavier_than_the_vehicle_is_refused(app, market, factory):
    _accepted_parts(app, market, [(market.listing_a, "200", "kg")])
    admin = factory.admin()
    with app.app_context(), pytest.raises(DomainError) as refused:
        routes.propose(user(admin), "52", TODAY + timedelta(days=3), "52835", "motorbike")
    assert "más de lo que carga" in str(refused.value.message)


def test_staff_edit_modes_and_known_distances_and_quotes_follow(app, market, factory):
    admin = factory.admin()
    with app.app_context():
        point_id = db.session.get(Listing, market.listing_a).collection_point_id
        site_id = market.site_id
        before = logistics.quote_for(point_id, site_id, D("1000"))
        logistics.set_route_distance(user(admin), point_id, site_id, D("1200"), "mountainous", "INVIAS")
        db.session.commit()
        known = logistics.quote_for(point_id, site_id, D("1000"))
        assert known.legs[-1].leg.km == D("1200") and known.legs[-1].leg.terrain == "mountainous"
        assert known.total_cop != before.total_cop
        logistics.save_mode(user(admin), "small_truck", D("90000"), D("1400"), D("3500"))
        db.session.commit()
        repriced = logistics.quote_for(point_id, site_id, D("1000"))
        assert repriced.total_cop == D("90000") + D("1400") * D("1.63") * 1200
        for bad in ((D("-1"), D("1"), D("10")), (D("1"), D("1"), D("0")), (None, D("1"), D("10"))):
            with pytest.raises(DomainError):
                logistics.save_mode(user(admin), "small_truck", *bad)
            db.session.rollback()
        with pytest.raises(DomainError):
            logistics.set_route_distance(user(admin), point_id, site_id, D("-3"), "flat")
        db.session.rollback()
        with pytest.raises(Exception, match="equipo"):
            logistics.save_mode(user(market.manager_a), "small_truck", D("1"), D("1"), D("1"))


def test_staff_pages_render_and_refuse_others(app, market, factory, login_as):
    _accepted_parts(app, market, [(market.listing_a, "100", "kg")])
    admin_client = app.test_client()
    login(admin_client, factory.admin())
    places = admin_client.get("/admin/logistica/lugares").get_data(as_text=True)
    assert 'data-kind="collection_point"' in places and 'data-kind="delivery_site"' in places
    assert "leaflet.js" in places
    assert admin_client.get("/admin/logistica").status_code == 200
    report = admin_client.get("/admin/logistica/ultima-milla").get_data(as_text=True)
    assert "San Andrés de Tumaco" in report and "Cacao en grano seco" in report
    assert admin_client.get("/admin/logistica/rutas").status_code == 200
    coop, _person = login_as("coop_manager")
    assert coop.get("/admin/logistica").status_code == 403
    assert coop.get("/admin/logistica/ultima-milla").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Shipment)) == 0


def test_a_cooperative_enters_its_first_mile_on_a_page(app, market):
    with app.app_context():
        point_id = db.session.get(Listing, market.listing_a).collection_point_id
    coop = app.test_client()
    login(coop, market.manager_a)
    assert coop.get("/acopio").status_code == 200
    bad = coop.post("/acopio", data={"point": point_id, "kind-0": "river", "mode-0": "mule", "km-0": "4"})
    assert bad.status_code == 422 and "no puede hacer ese tramo" in bad.get_data(as_text=True)
    negative = coop.post("/acopio", data={"point": point_id, "kind-0": "trail", "mode-0": "mule", "km-0": "-4"})
    assert negative.status_code == 422
    ok = coop.post("/acopio", data={"point": point_id, "kind-0": "trail", "mode-0": "mule", "km-0": "4,5",
                                    "terrain-0": "mountainous", "description-0": "La Y"})
    assert ok.status_code == 303
    with app.app_context():
        legs = logistics.access_legs_of([point_id])[point_id]
        assert [(leg.kind, leg.mode_code, leg.km) for leg in legs] == [("trail", "mule", D("4.5"))]
    other = app.test_client()
    login(other, market.manager_b)
    assert other.post("/acopio", data={"point": point_id, "kind-0": "trail", "mode-0": "mule",
                                       "km-0": "1"}).status_code == 404


def test_a_carrier_takes_a_proposed_plan_and_drives_its_routes(app, market, factory):
    _order, parts = _accepted_parts(app, market, [(market.listing_a, "300", "kg")])
    admin = factory.admin()
    carrier_id, carrier_user = _carrier(app, factory)
    with app.app_context():
        plan = routes.propose(user(admin), "52", TODAY + timedelta(days=3), "Tumaco", "small_truck")
        db.session.commit()
        plan_id = plan.id
    driver = app.test_client()
    with app.app_context():
        from marketplace.accounts.models import User

        login_name = db.session.get(User, carrier_user).login_name
    from tests.conftest import Person

    login(driver, Person(carrier_user, login_name, PASSWORD, carrier_id))
    page = driver.get("/envios").get_data(as_text=True)
    assert "Tomar estas rutas" in page
    assert driver.post(f"/rutas/{plan_id}/aceptar", data={}).status_code == 303
    with app.app_context():
        shipments = db.session.scalars(select(Shipment)).all()
        assert [s.carrier_id for s in shipments] == [carrier_id]
        assert [stop.part_id for stop in shipments[0].stops] == [parts[market.coop_a]]
    coop = app.test_client()
    login(coop, market.manager_a)
    assert coop.post(f"/rutas/{plan_id}/aceptar", data={}).status_code == 303  # refused with a message
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Shipment)) == 1


def test_one_shipment_carries_one_cooperatives_parts(app, market, factory):
    """The quote's first-mile legs are a cooperative's and their cost falls on the parts
    shipped: staff may not put two cooperatives' parts on one such shipment, where one would
    bear the other's mule or boat."""
    from marketplace.accounts.models import Role

    admin = factory.staff(Role.PLATFORM_ADMIN)
    _order_id, parts = _accepted_parts(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Shipment))
        with pytest.raises(DomainError) as refused:
            shipping.create_shipment(user(admin), shipping.ShipmentData(
                sorted(parts.values()), TODAY + timedelta(days=1), TODAY + timedelta(days=3)))
        db.session.rollback()
        assert refused.value.field == "parts" and "una sola cooperativa" in str(refused.value.message)
        assert db.session.scalar(select(func.count()).select_from(Shipment)) == before
    shipment_id = _ship(app, admin, [parts[market.coop_a]])
    with app.app_context():
        assert [s.part_id for s in db.session.get(Shipment, shipment_id).stops] == [parts[market.coop_a]]
