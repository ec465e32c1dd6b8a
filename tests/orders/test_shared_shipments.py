"""A shipment shared by two cooperatives (a consolidated route): each cooperative sees only
its own stops, kilos and money; the carrier every stop's place and kilos but no prices,
costs per kg or shares of the landed price; staff everything; the buyer no shipment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core.formatting import cop, kg, percent
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import Shipment
from marketplace.orders import routes, services, shipment_view, shipping
from marketplace.orders.models import Order
from tests.conftest import PASSWORD, Person, login
from tests.orders.conftest import TODAY, api_token, make_listing
from tests.orders.helpers import D, place, user

COOP_A = "Asociación Cacaotera de Tumaco"
COOP_B = "Cooperativa del Caguán"


@dataclass
class Stop:
    part_id: int
    order_number: str
    place: str
    kg: str  # as the page writes it
    money: list[str]  # the stop's money as the page writes it (per kg, share, goods, landed)
    api_money: list[str]  # the same as the API writes it


@dataclass
class Shared:
    shipment_id: int
    a: Stop
    b: Stop
    carrier: Person
    admin: Person
    totals: list[str]  # the shipment's estimated and actual totals, page and API


def _carrier(app, factory, admin: Person) -> Person:
    with app.app_context():
        carrier, person = accounts.create_carrier(
            user(admin), "Transportes del Pacífico", None, "52835",
            accounts.UserData("Conductor Uno", PASSWORD, phone="+573209998877"))
        person.must_change_password = False
        db.session.commit()
        return Person(person.id, person.login_name, PASSWORD, carrier.id)


def _accepted(app, market, listing_id: str, quantity: str, manager: Person) -> int:
    order_id = place(app, market, [(listing_id, quantity, "kg")])
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        services.accept(user(manager), part)
        db.session.commit()
        return part.id


def _stop(part_id: int) -> Stop:
    from marketplace.orders.models import OrderPart

    part = db.session.get(OrderPart, part_id)
    point = db.session.get(CollectionPoint, part.lines[0].collection_point_id)
    mile = shipping.last_mile(part)
    return Stop(part_id, part.order.number, point.name, kg(shipping.part_kg(part)),
                [cop(mile.per_kg, decimals=True), percent(mile.share), cop(part.goods_amount),
                 cop(mile.landed_per_kg, decimals=True)],
                [str(mile.cost_cop), str(mile.per_kg), str(mile.share), str(part.goods_amount)])


@pytest.fixture
def shared(app, market, factory) -> Shared:
    """Cooperative A (300 kg of cacao) and cooperative B (437 kg of plantain from a point in
    Tumaco), two orders, picked up on one route that a carrier took and priced."""
    plantain = make_listing(app, market.manager_b, "platano-harton", "2000", "1500", municipality="52835")
    part_a = _accepted(app, market, market.listing_a, "300", market.manager_a)
    part_b = _accepted(app, market, plantain, "437", market.manager_b)
    admin = factory.admin()
    carrier = _carrier(app, factory, admin)
    with app.app_context():
        plan = routes.propose(user(admin), "52", TODAY + timedelta(days=3), "52835", "small_truck")
        db.session.commit()
        driver = db.session.get(User, carrier.user_id)
        [shipment] = routes.accept(driver, plan.id)
        db.session.commit()
        assert sorted(stop.part_id for stop in shipment.stops) == sorted([part_a, part_b])
        shipping.record_actual_costs(driver, shipment, {leg.id: D("61000") for leg in shipment.legs})
        db.session.commit()
        shipment = db.session.get(Shipment, shipment.id)
    with app.test_request_context():
        a, b = _stop(part_a), _stop(part_b)
        totals = [cop(shipment.estimated_cop), cop(shipment.actual_cop), str(shipment.estimated_cop),
                  str(shipment.actual_cop)]
    assert a.order_number != b.order_number and a.place != b.place
    return Shared(shipment.id, a, b, carrier, admin, totals)


def _page(app, person: Person, path: str) -> str:
    client = app.test_client()
    login(client, person)
    answer = client.get(path)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _api(app, person: Person, path: str):
    answer = app.test_client().get(path, headers=api_token(app, person))
    assert answer.status_code == 200
    return answer.get_json()


def _absent(text: str, marks: list[str]) -> None:
    for mark in marks:
        assert mark not in text, mark


def test_each_cooperative_sees_only_its_own_stop_kilos_and_money(app, market, shared):
    for manager, mine, theirs, their_name in ((market.manager_a, shared.a, shared.b, COOP_B),
                                              (market.manager_b, shared.b, shared.a, COOP_A)):
        page = _page(app, manager, f"/envios/{shared.shipment_id}")
        assert mine.order_number in page and mine.place in page and mine.kg in page
        assert mine.money[0] in page and mine.money[1] in page  # its own last mile per kg and share
        assert "y 1 parada más de otra cooperativa" in page
        # The cost is allocated by weight, so the cost per kg is the same for both: it is the
        # other's share of its landed price, its goods and its landed price that must not show.
        _absent(page, [their_name, theirs.order_number, theirs.place, theirs.kg, *theirs.money[1:], *shared.totals])
        assert "→" not in page  # the legs name the other cooperative's collection point

        answer = _api(app, manager, f"/api/v1/shipments/{shared.shipment_id}")
        assert [s["part_id"] for s in answer["stops"]] == [mine.part_id]
        assert answer["stops"][0]["last_mile_per_kg"] == mine.api_money[1]
        assert answer["other_stops"] == 1 and answer["shared"] is True
        assert answer["legs"] == [] and answer["estimated_cop"] is None and answer["actual_cop"] is None
        text = json.dumps(answer, ensure_ascii=False)
        _absent(text, [their_name, theirs.order_number, theirs.place, theirs.api_money[0], *theirs.api_money[2:],
                       *shared.totals])
        assert str(theirs.part_id) not in [str(s["part_id"]) for s in answer["stops"]]

        listed = _api(app, manager, "/api/v1/shipments")
        assert json.dumps(listed, ensure_ascii=False) == json.dumps([answer], ensure_ascii=False)
        shipments_page = _page(app, manager, "/envios")
        assert "ruta compartida" in shipments_page
        _absent(shipments_page, shared.totals)


def test_the_carrier_sees_every_place_and_its_kilos_but_no_prices(app, market, shared):
    page = _page(app, shared.carrier, f"/envios/{shared.shipment_id}")
    for stop in (shared.a, shared.b):
        assert stop.place in page and stop.kg in page and stop.order_number in page
        _absent(page, stop.money)
    assert "Última milla" not in page and "precio puesto" not in page
    answer = _api(app, shared.carrier, f"/api/v1/shipments/{shared.shipment_id}")
    assert sorted(s["part_id"] for s in answer["stops"]) == sorted([shared.a.part_id, shared.b.part_id])
    assert {s["place"] for s in answer["stops"]} == {shared.a.place, shared.b.place}
    assert {s["kg"] for s in answer["stops"]} == {"300.000", "437.000"}
    for stop in answer["stops"]:
        assert stop["municipality_code"] == "52835"
        assert [stop[k] for k in ("last_mile_cop", "last_mile_per_kg", "last_mile_share", "last_mile_actual")] \
            == [None] * 4
    text = json.dumps(answer)
    _absent(text, [*shared.a.api_money, *shared.b.api_money])
    # The route's legs are the carrier's to price, so it sees what it recorded for them.
    assert answer["legs"] and all(leg["actual_cop"] == "61000.00" for leg in answer["legs"])


def test_staff_see_every_stop_and_all_the_money(app, market, shared):
    page = _page(app, shared.admin, f"/envios/{shared.shipment_id}")
    for name, stop in ((COOP_A, shared.a), (COOP_B, shared.b)):
        assert name in page and stop.order_number in page and stop.kg in page
        assert stop.money[0] in page and stop.money[1] in page
    assert shared.totals[1] in page
    answer = _api(app, shared.admin, f"/api/v1/shipments/{shared.shipment_id}")
    assert answer["other_stops"] == 0 and answer["actual_cop"] == shared.totals[3]
    assert {s["last_mile_per_kg"] for s in answer["stops"]} == {shared.a.api_money[1], shared.b.api_money[1]}


def test_the_buyer_sees_no_shipment(app, market, shared):
    client = app.test_client()
    login(client, market.buyer)
    assert client.get(f"/envios/{shared.shipment_id}").status_code == 404
    headers = api_token(app, market.buyer)
    assert client.get(f"/api/v1/shipments/{shared.shipment_id}", headers=headers).status_code == 404
    assert client.get("/api/v1/shipments", headers=headers).get_json() == []


def test_a_cooperative_alone_on_its_shipment_still_sees_legs_and_totals(app, market, shared):
    part = _accepted(app, market, market.listing_c, "120", market.manager_a)
    with app.app_context():
        shipment = shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
            [part], TODAY + timedelta(days=1), TODAY + timedelta(days=3)))
        db.session.commit()
        view = shipment_view.view_for(user(market.manager_a), shipment)
        assert not view.shared and view.other_stops == 0
        assert view.estimated_cop == shipment.estimated_cop and len(view.legs) == len(shipment.legs)
        assert all(leg.estimated_cop is not None for leg in view.legs)


def test_the_carrier_does_not_see_what_the_cooperatives_legs_cost(app, market, factory):
    """A leg the cooperative pays (a mule to the road) comes out of its net: the carrier that
    drives the road sees the leg's place but not its money, nor a total that includes it."""
    admin = factory.admin()
    carrier = _carrier(app, factory, admin)
    part = _accepted(app, market, market.listing_a, "200", market.manager_a)
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", D("8"), "mountainous", "Camino a la vía")])
        shipment = shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
            [part], TODAY + timedelta(days=1), TODAY + timedelta(days=3), carrier_id=carrier.organisation_id))
        db.session.commit()
        mule, road = shipment.legs
        assert mule.paid_by == "cooperative" and road.paid_by == "platform"
        mule_cost, road_cost, shipment_id = str(mule.estimated_cop), str(road.estimated_cop), shipment.id
    with app.test_request_context():
        mule_text = cop(Decimal(mule_cost))
    answer = _api(app, carrier, f"/api/v1/shipments/{shipment_id}")
    assert [leg["estimated_cop"] for leg in answer["legs"]] == [None, road_cost]
    assert answer["estimated_cop"] == road_cost
    page = _page(app, carrier, f"/envios/{shipment_id}")
    assert "Camino a la vía" in page or "lo paga la cooperativa" in page
    assert mule_text not in page
    coop = _api(app, market.manager_a, f"/api/v1/shipments/{shipment_id}")
    assert [leg["estimated_cop"] for leg in coop["legs"]] == [mule_cost, road_cost]


def test_the_carrier_sees_a_lot_it_carries_without_its_price(app, market, shared):
    """Carriers see a listing only through the shipments they drive, and then not its price:
    with the kilos it carries, the price per kg would give the order's value."""
    page = _page(app, shared.carrier, f"/ofertas/{market.listing_a}")
    assert shared.a.place in page
    assert "10.000" not in page and "Precio" not in page
    answer = _api(app, shared.carrier, f"/api/v1/listings/{market.listing_a}")
    assert answer["price_per_kg"] is None and answer["price_per_unit"] is None
    assert answer["available_kg"] == "700.000"
    buyer = _api(app, market.buyer, f"/api/v1/listings/{market.listing_a}")
    assert buyer["price_per_kg"] == "10000.00"
    assert "$ 10.000" in _page(app, market.buyer, f"/ofertas/{market.listing_a}")
