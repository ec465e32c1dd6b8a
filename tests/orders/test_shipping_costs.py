"""Actual shipment costs after the fact: closed once the parts are delivered, corrected only
by staff with a reason (audited), carried to the cooperative's next payout when the part was
already paid out, and never priced by a carrier on a leg the cooperative pays."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core.errors import Conflict, DomainError, Forbidden
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import Shipment
from marketplace.orders import adjustments, services, shipping
from marketplace.orders.models import Order, OrderLine, OrderPart, PayoutAdjustment, PayoutStatus
from tests.conftest import PASSWORD, Person, login
from tests.orders.conftest import TODAY, api_token
from tests.orders.helpers import D, place, user

MULE, ROAD = 0, 1  # leg positions: a mule track the cooperative pays, then the platform's road


@pytest.fixture
def carrier(app, factory) -> Person:
    admin = factory.admin()
    with app.app_context():
        org, person = accounts.create_carrier(
            user(admin), "Transportes del Pacífico", None, "52835",
            accounts.UserData("Conductor Uno", PASSWORD, phone="+573209998877"))
        person.must_change_password = False
        db.session.commit()
        return Person(person.id, person.login_name, PASSWORD, org.id)


@pytest.fixture
def admin(factory) -> Person:
    return factory.admin()


def _mule_track(app, market) -> None:
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", D("5"), "mountainous", "Camino a la vía")])
        db.session.commit()


def _shipped(app, market, carrier: Person, kg: str = "300") -> tuple[int, int]:
    """Cooperative A's part of a new invoice order, accepted, ready and on its way with the
    carrier in a shipment of a mule leg (the cooperative's) and a road leg (the platform's)."""
    order_id = place(app, market, [(market.listing_a, kg, "kg")])
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        manager = user(market.manager_a)
        services.accept(manager, part)
        services.mark_ready(manager, part)
        shipment = shipping.create_shipment(manager, shipping.ShipmentData(
            [part.id], TODAY, TODAY + timedelta(days=2), carrier_id=carrier.organisation_id))
        shipping.dispatch(manager, shipment)
        db.session.commit()
        assert [leg.paid_by for leg in shipment.legs] == ["cooperative", "platform"]
        return shipment.id, part.id


def _legs(shipment_id: int):
    return db.session.get(Shipment, shipment_id).legs


def _deliver(app, market, part_id: int) -> None:
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        services.record_delivery(user(market.buyer), part, [
            services.Receipt(line.id, line.quantity_kg) for line in part.lines])
        db.session.commit()


def _pay(app, admin: Person, part_id: int) -> None:
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        services.mark_invoice_paid(user(admin), part.order, f"BANCO-{part.order_id}")
        db.session.commit()


def _settle(app, admin: Person, part_id: int, reference: str) -> None:
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        services.settle(user(admin), part, reference)
        adjustments.apply_to_payout(user(admin), part)  # what settling does once it takes adjustments in
        db.session.commit()


def _pay_and_settle(app, market, admin: Person, part_id: int, reference: str) -> None:
    _pay(app, admin, part_id)
    _settle(app, admin, part_id, reference)


def _record(app, person: Person, shipment_id: int, costs: dict[int, str], reason: str | None = None):
    """Record costs by leg position; returns the adjustments made."""
    with app.app_context():
        legs = _legs(shipment_id)
        created = shipping.record_actual_costs(user(person), db.session.get(Shipment, shipment_id),
                                               {legs[pos].id: D(v) for pos, v in costs.items()}, reason=reason)
        db.session.commit()
        return [(a.part_id, a.amount) for a in created]


def _figures(part_id: int) -> tuple:
    part = db.session.get(OrderPart, part_id)
    lines = db.session.scalars(select(OrderLine.logistics_actual).where(OrderLine.part_id == part_id)).all()
    return part.logistics_actual, part.logistics_borne, services.ledger(part).net, tuple(lines)


# ----------------------------------------------------------------- who prices what


def test_a_carrier_prices_the_road_but_never_the_leg_the_cooperative_pays(app, market, carrier):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        mule, road = shipment.legs
        assert shipping.editable_legs(user(carrier), shipment) == {road.id}
        with pytest.raises(Forbidden) as refused:
            shipping.record_actual_costs(user(carrier), shipment, {mule.id: D("5000000"), road.id: D("300000")})
        assert "lo paga la cooperativa" in str(refused.value.message)
        db.session.rollback()
        assert _legs(shipment_id)[MULE].actual_cop is None and _legs(shipment_id)[ROAD].actual_cop is None
    # Through the API as well: 403 and nothing written.
    client = app.test_client()
    headers = api_token(app, carrier)
    with app.app_context():
        mule_id, road_id = (leg.id for leg in _legs(shipment_id))
    answer = client.post(f"/api/v1/shipments/{shipment_id}/costs", headers=headers,
                         json={"legs": [{"leg_id": mule_id, "actual_cop": "5000000"}]})
    assert answer.status_code == 403
    assert "lo paga la cooperativa" in answer.get_json()["message"]
    ok = client.post(f"/api/v1/shipments/{shipment_id}/costs", headers=headers,
                     json={"legs": [{"leg_id": road_id, "actual_cop": "300000"}]})
    assert ok.status_code == 200, ok.get_json()
    # The carrier's page has no field for the mule leg; a forged one is ignored.
    page = app.test_client()
    login(page, carrier)
    html = page.get(f"/envios/{shipment_id}").get_data(as_text=True)
    assert f'name="actual-{road_id}"' in html and f'name="actual-{mule_id}"' not in html
    page.post(f"/envios/{shipment_id}/costos", data={f"actual-{mule_id}": "5000000", f"actual-{road_id}": "310000"})
    with app.app_context():
        legs = _legs(shipment_id)
        assert legs[MULE].actual_cop is None and legs[ROAD].actual_cop == D("310000")
        assert db.session.get(OrderPart, part_id).logistics_borne == 0


def test_the_cooperative_still_prices_its_own_legs_before_delivery(app, market, carrier):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        assert part.logistics_borne == D("90000") and part.logistics_actual == D("490000")
        assert services.ledger(part).net == services.ledger(part).gross - services.ledger(part).platform_fee - 90000
    _record(app, market.manager_a, shipment_id, {MULE: "85000"})  # fixed before delivery, by itself
    with app.app_context():
        assert db.session.get(OrderPart, part_id).logistics_borne == D("85000")


# ------------------------------------------------------------- closed at delivery


def test_after_delivery_the_carrier_and_the_cooperative_are_refused(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay_and_settle(app, market, admin, part_id, "TRF-1")
    with app.app_context():
        before = _figures(part_id)
        shipment = db.session.get(Shipment, shipment_id)
        assert shipping.costs_closed(shipment)
        assert shipping.editable_legs(user(carrier), shipment) == set()
        for person, pos in ((carrier, ROAD), (market.manager_a, MULE)):
            with pytest.raises(Conflict) as refused:
                shipping.record_actual_costs(user(person), shipment, {shipment.legs[pos].id: D("1000")})
            assert "costos están cerrados" in str(refused.value.message)
            db.session.rollback()
        road_id = _legs(shipment_id)[ROAD].id
    # What was seen: 99,999,999 on a leg of a settled, paid-out part through the API.
    answer = app.test_client().post(f"/api/v1/shipments/{shipment_id}/costs", headers=api_token(app, carrier),
                                    json={"legs": [{"leg_id": road_id, "actual_cop": "99999999"}]})
    assert answer.status_code == 409
    assert "pida al equipo del programa" in answer.get_json()["message"]
    page = app.test_client()
    login(page, carrier)
    assert f'name="actual-{road_id}"' not in page.get(f"/envios/{shipment_id}").get_data(as_text=True)
    page.post(f"/envios/{shipment_id}/costos", data={f"actual-{road_id}": "99999999"})
    with app.app_context():
        assert _legs(shipment_id)[ROAD].actual_cop == D("400000")
        assert _figures(part_id) == before
        assert db.session.scalars(select(PayoutAdjustment)).all() == []


# ------------------------------------------------------------- staff corrections


def test_a_staff_correction_before_payout_changes_the_ledger_and_is_audited(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        net_before = services.ledger(db.session.get(OrderPart, part_id)).net
        with pytest.raises(DomainError) as refused:  # no reason
            shipping.record_actual_costs(user(admin), shipment, {shipment.legs[MULE].id: D("60000")}, reason="  ")
        assert refused.value.field == "reason"
        db.session.rollback()
        assert db.session.get(OrderPart, part_id).logistics_borne == D("90000")
    reason = "La cooperativa pagó 3 mulas, no 4: recibo n.º 118"
    assert _record(app, admin, shipment_id, {MULE: "60000"}, reason) == []
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        assert part.payout_status != PayoutStatus.PAID
        assert part.logistics_borne == D("60000") and part.logistics_actual == D("460000")
        assert services.ledger(part).net == net_before + 30000
        assert sum(line.logistics_actual for line in part.lines) == D("460000")
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.cost_corrected")).one()
        assert event.note == reason and event.actor_id == admin.user_id
        mule_id = str(_legs(shipment_id)[MULE].id)
        assert event.before["legs"][mule_id] == "90000.00" and event.after["legs"][mule_id] == "60000"
        assert event.before["parts"][str(part_id)]["logistics_borne"] == "90000.00"
        assert event.after["parts"][str(part_id)]["logistics_borne"] == "60000"


def test_a_staff_correction_after_payout_becomes_an_adjustment_on_the_next_payout(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay_and_settle(app, market, admin, part_id, "TRF-1")
    with app.app_context():
        paid = _figures(part_id)
        paid_transfer = adjustments.transfer_amount(db.session.get(OrderPart, part_id))
        shipment = db.session.get(Shipment, shipment_id)
        with pytest.raises(DomainError):  # a reason is required
            shipping.record_actual_costs(user(admin), shipment, {shipment.legs[MULE].id: D("120000")})
        db.session.rollback()
    # The cooperative really paid 120,000 for the mules: 30,000 more than it was charged.
    assert _record(app, admin, shipment_id, {MULE: "120000"}, "Recibo de arriería corregido") == [
        (part_id, D("-30000"))]
    with app.app_context():
        assert _figures(part_id) == paid  # the settled part stays as it was paid
        assert adjustments.transfer_amount(db.session.get(OrderPart, part_id)) == paid_transfer
        assert db.session.get(Shipment, shipment_id).actual_cop == D("520000")
        assert db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "payout_adjustment.created")).all() == ["payout_adjustment.created"]
    # A second correction is measured from what the first left: 100,000 in all, +20,000 back.
    assert _record(app, admin, shipment_id, {MULE: "100000"}, "Eran 100.000") == [(part_id, D("20000"))]
    with app.app_context():
        assert sum(a.amount for a in adjustments.pending(market.coop_a)) == D("-10000")

    # Staff see it waiting beside the payouts due; the cooperative on its sales.
    staff = app.test_client()
    login(staff, admin)
    html = staff.get("/admin/pedidos").get_data(as_text=True)
    assert "Ajustes por aplicar" in html and "Recibo de arriería corregido" in html
    coop = app.test_client()
    login(coop, market.manager_a)
    sales = coop.get("/ventas").get_data(as_text=True)
    assert "Eran 100.000" in sales and "se aplica en su próximo pago" in sales

    # The cooperative's next payout takes both in.
    second_shipment, second_part = _shipped(app, market, carrier, kg="200")
    _deliver(app, market, second_part)
    _pay(app, admin, second_part)
    with app.app_context():
        part = db.session.get(OrderPart, second_part)
        net = services.ledger(part).net
        assert part.payout_status == PayoutStatus.DUE
        assert adjustments.transfer_amount(part) == net - 10000
    expected = f"$ {net - 10000:,.0f}".replace(",", ".")
    assert re.search(rf'id="transfer-{second_part}"[^>]*>{re.escape(expected)}<',
                     staff.get("/admin/pedidos").get_data(as_text=True))
    _settle(app, admin, second_part, "TRF-2")
    with app.app_context():
        part = db.session.get(OrderPart, second_part)
        assert adjustments.pending(market.coop_a) == []
        assert sorted(a.amount for a in adjustments.applied_to(part)) == [D("-30000"), D("20000")]
        assert all(a.applied_at is not None for a in adjustments.applied_to(part))
        assert adjustments.transfer_amount(part) == net - 10000
        assert adjustments.apply_to_payout(user(admin), part) == []  # taken in once
    assert "aplicado en el pago del pedido" in coop.get("/ventas").get_data(as_text=True)
    assert "Corrección después del pago" in coop.get(f"/ventas/{part_id}").get_data(as_text=True)
    sale = coop.get(f"/ventas/{second_part}").get_data(as_text=True)
    assert f'id="transfer">$ {net - 10000:,.0f}'.replace(",", ".") in sale


def test_a_deduction_larger_than_the_next_payout_waits_for_a_later_one(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay_and_settle(app, market, admin, part_id, "TRF-1")
    with app.app_context():
        settled = db.session.get(OrderPart, part_id)
        big = adjustments.create(user(admin), settled, D("-50000000"), "Cobro duplicado de transporte")
        owed = adjustments.create(user(admin), settled, D("15000"), "Peaje no reconocido")
        db.session.commit()
        big_id, owed_id = big.id, owed.id
    _second_shipment, second_part = _shipped(app, market, carrier, kg="10")
    _deliver(app, market, second_part)
    _pay(app, admin, second_part)
    with app.app_context():
        part = db.session.get(OrderPart, second_part)
        net = services.ledger(part).net
        assert net < 50000000
        assert adjustments.transfer_amount(part) == net + 15000
    _settle(app, admin, second_part, "TRF-3")
    with app.app_context():
        assert db.session.get(PayoutAdjustment, owed_id).applied_part_id == second_part
        assert db.session.get(PayoutAdjustment, big_id).applied_part_id is None  # never a negative transfer
        assert adjustments.transfer_amount(db.session.get(OrderPart, second_part)) == net + 15000


# ----------------------------------------------------------------- bounds


def test_no_entry_but_an_explicit_staff_one_leaves_a_cooperative_below_zero(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier, kg="100")  # 1,000,000 gross
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        mule = shipment.legs[MULE].id
        for person, reason in ((market.manager_a, None), (admin, None)):
            with pytest.raises(DomainError) as refused:
                shipping.record_actual_costs(user(person), shipment, {mule: D("2000000")}, reason=reason)
            assert "menos de cero" in str(refused.value.message)
            db.session.rollback()
        assert db.session.get(OrderPart, part_id).logistics_borne == 0
    _record(app, admin, shipment_id, {MULE: "2000000"}, "Rescate de la carga tras un derrumbe, acordado en acta")
    with app.app_context():
        assert services.ledger(db.session.get(OrderPart, part_id)).net < 0


def test_no_leg_and_no_shipment_costs_more_than_the_bound(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, _part_id = _shipped(app, market, carrier)
    with app.app_context():
        shipment = db.session.get(Shipment, shipment_id)
        mule, road = shipment.legs
        for costs in ({road.id: shipping.MAX_COP + 1}, {mule.id: D("60000000"), road.id: D("60000000")},
                      {road.id: D("NaN")}):
            with pytest.raises(DomainError):
                shipping.record_actual_costs(user(admin), shipment, costs, reason="prueba")
            db.session.rollback()
        assert [leg.actual_cop for leg in _legs(shipment_id)] == [None, None]


# ------------------------------------------------------------------------ API


def test_the_api_asks_staff_for_a_reason_and_lists_adjustments_to_those_concerned(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay_and_settle(app, market, admin, part_id, "TRF-1")
    client = app.test_client()
    staff = api_token(app, admin)
    with app.app_context():
        mule_id = _legs(shipment_id)[MULE].id
    url = f"/api/v1/shipments/{shipment_id}/costs"
    body = {"legs": [{"leg_id": mule_id, "actual_cop": "95000"}]}
    missing = client.post(url, json=body, headers=staff)
    assert missing.status_code == 422 and "motivo" in missing.get_json()["message"]
    done = client.post(url, json={**body, "reason": "Factura del arriero"}, headers=staff)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["legs"][MULE]["actual_cop"] == "95000.00"
    listed = client.get("/api/v1/payout-adjustments", headers=api_token(app, market.manager_a)).get_json()
    assert [(a["part_id"], a["amount"], a["reason"], a["applied_part_id"]) for a in listed] == [
        (part_id, "-5000.00", "Factura del arriero", None)]
    assert len(client.get("/api/v1/payout-adjustments", headers=staff).get_json()) == 1
    assert client.get("/api/v1/payout-adjustments", headers=api_token(app, market.manager_b)).get_json() == []
    assert client.get("/api/v1/payout-adjustments", headers=api_token(app, carrier)).get_json() == []
    with app.app_context():
        assert db.session.get(OrderPart, part_id).logistics_borne == D("90000")  # settled: as it was paid


# ----------------------------------------------------------------- concurrency


def _race(app, jobs) -> None:
    """Run the jobs at once, each in its own thread, app context and transaction."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                job()
                db.session.commit()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(run, job) for job in jobs]:
            future.result(timeout=120)  # anything raised (a deadlock, a lost lock) fails the test


def test_a_correction_racing_the_payout_is_either_in_the_payout_or_an_adjustment(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay(app, admin, part_id)
    with app.app_context():
        mule_id = _legs(shipment_id)[MULE].id

    def correct():
        shipping.record_actual_costs(user(admin), db.session.get(Shipment, shipment_id), {mule_id: D("130000")},
                                     reason="Recibo del arriero")

    def settle():
        part = db.session.get(OrderPart, part_id)
        services.settle(user(admin), part, "TRF-RACE")
        adjustments.apply_to_payout(user(admin), part)

    _race(app, [correct, settle])
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        made = adjustments.from_part(part)
        assert part.payout_status == PayoutStatus.PAID
        # Settled first: the part as paid and a -40,000 adjustment; corrected first: the payout has it.
        assert (part.logistics_borne, [a.amount for a in made]) in ((D("90000"), [D("-40000")]), (D("130000"), []))


def test_two_payouts_racing_take_an_adjustment_in_once(app, market, carrier, admin):
    _mule_track(app, market)
    parts = []
    for kg in ("200", "150", "100"):
        shipment_id, part_id = _shipped(app, market, carrier, kg=kg)
        _deliver(app, market, part_id)
        _pay(app, admin, part_id)
        parts.append(part_id)
    first, *racing = parts
    _settle(app, admin, first, "TRF-0")
    with app.app_context():
        adjustment = adjustments.create(user(admin), db.session.get(OrderPart, first), D("25000"), "Peaje")
        db.session.commit()
        adjustment_id = adjustment.id

    def payout(part_id):
        def job():
            part = db.session.get(OrderPart, part_id)
            services.settle(user(admin), part, f"TRF-{part_id}")
            adjustments.apply_to_payout(user(admin), part)
        return job

    _race(app, [payout(part_id) for part_id in racing])
    with app.app_context():
        assert db.session.get(PayoutAdjustment, adjustment_id).applied_part_id in racing
        taken = [adjustments.transfer_amount(db.session.get(OrderPart, p)) - services.ledger(
            db.session.get(OrderPart, p)).net for p in racing]
        assert sorted(taken) == [0, D("25000")]
        assert db.session.scalars(select(AuditEvent.object_id).where(
            AuditEvent.action == "payout_adjustment.applied")).all() == [str(adjustment_id)]


def test_staff_correct_on_the_shipment_page_with_a_reason(app, market, carrier, admin):
    _mule_track(app, market)
    shipment_id, part_id = _shipped(app, market, carrier)
    _record(app, carrier, shipment_id, {ROAD: "400000"})
    _record(app, market.manager_a, shipment_id, {MULE: "90000"})
    _deliver(app, market, part_id)
    _pay_and_settle(app, market, admin, part_id, "TRF-1")
    with app.app_context():
        mule_id, road_id = (leg.id for leg in _legs(shipment_id))
    staff = app.test_client()
    login(staff, admin)
    page = staff.get(f"/envios/{shipment_id}").get_data(as_text=True)
    assert "Corregir costos" in page and 'name="reason"' in page and f'name="actual-{mule_id}"' in page
    fields = {f"actual-{mule_id}": "100.000", f"actual-{road_id}": "400000"}
    staff.post(f"/envios/{shipment_id}/costos", data=fields)  # no reason: refused with a message
    with app.app_context():
        assert _legs(shipment_id)[MULE].actual_cop == D("90000")
    answer = staff.post(f"/envios/{shipment_id}/costos", data={**fields, "reason": "Recibo del arriero"},
                        follow_redirects=True).get_data(as_text=True)
    assert "queda como ajuste en su próximo pago" in answer and "Recibo del arriero" in answer
    with app.app_context():
        assert _legs(shipment_id)[MULE].actual_cop == D("100000")
        assert [a.amount for a in adjustments.pending(market.coop_a)] == [D("-10000")]
    # The cooperative sees the adjustment on the shipment; the carrier does not.
    coop = app.test_client()
    login(coop, market.manager_a)
    assert "Recibo del arriero" in coop.get(f"/envios/{shipment_id}").get_data(as_text=True)
    driver = app.test_client()
    login(driver, carrier)
    assert "Recibo del arriero" not in driver.get(f"/envios/{shipment_id}").get_data(as_text=True)
