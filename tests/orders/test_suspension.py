"""A suspended organisation's open work is frozen: nobody moves its parts (the web, the API,
WhatsApp and SMS replies, the sweep), neither the suspended side nor the other, except staff,
who may cancel them (the kilos go back to the lot). The other side is told when the part goes
on hold and when it goes on; reinstatement gives back the time the part waited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organisation, OrgStatus, User
from marketplace.core.errors import Conflict
from marketplace.extensions import db
from marketplace.messaging.models import Notice
from marketplace.orders import freeze, routes, services, shipping, sweep
from marketplace.orders.models import Order, OrderPart, PartStatus
from tests.conftest import login
from tests.messaging.test_inbound import send, verify
from tests.orders.conftest import TODAY, api_token
from tests.orders.helpers import available, part_of, place, user
from tests.orders.notice_helpers import recipient_ids, render

SUSPENDED_WORDS = "suspendida"


def _admin(factory) -> User:
    factory.admin()
    return db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))


def _set_status(app, factory, org_id: int, status: OrgStatus) -> None:
    factory.admin()
    with app.app_context():
        accounts.set_organisation_status(_admin(factory), db.session.get(Organisation, org_id), status,
                                         "Documentos de representación legal vencidos."
                                         if status == OrgStatus.SUSPENDED else None)
        db.session.commit()


def _status(part_id: int) -> PartStatus:
    db.session.expire_all()
    return db.session.get(OrderPart, part_id).status


def _order(app, market, *, ready: bool = False, accepted: bool = False) -> tuple[int, int, int]:
    """An order with a part from each cooperative; cooperative A's part accepted (and ready)
    if asked. Returns (order id, part A id, part B id)."""
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        part_a = part_of(order_id, market.coop_a)
        if accepted or ready:
            services.accept(user(market.manager_a), part_a)
        if ready:
            services.mark_ready(user(market.manager_a), part_a)
        db.session.commit()
        return order_id, part_a.id, part_of(order_id, market.coop_b).id


# -------------------------------------------------------- the suspended cooperative


def test_a_suspended_cooperative_cannot_accept_or_ready_on_the_web(app, market, factory):
    _placed_order, placed, _b = _order(app, market)
    _accepted_order, accepted, _b2 = _order(app, market, accepted=True)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    client = app.test_client()
    login(client, market.manager_a)  # its people may still sign in and read
    for part_id, action in ((placed, "accept"), (placed, "decline"), (accepted, "ready"), (accepted, "cancel")):
        answer = client.post(f"/pedidos/partes/{part_id}/{action}", data={"reason": "x"}, follow_redirects=True)
        page = answer.get_data(as_text=True)
        assert "Su organización está suspendida" in page and "equipo del programa" in page, action
    sale = client.get(f"/ventas/{placed}").get_data(as_text=True)
    assert "Aceptar el pedido" not in sale and SUSPENDED_WORDS in sale
    with app.app_context():
        assert _status(placed) == PartStatus.PLACED
        assert _status(accepted) == PartStatus.ACCEPTED


def test_a_suspended_cooperative_is_refused_by_the_api_and_cannot_create_a_shipment(app, client, market, factory):
    _order_id, placed, _b = _order(app, market)
    _order2, accepted, _b2 = _order(app, market, accepted=True)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    coop = api_token(app, market.manager_a)
    moved = client.post(f"/api/v1/order-parts/{placed}/transitions", json={"action": "accept"}, headers=coop)
    assert moved.status_code == 409 and SUSPENDED_WORDS in moved.get_json()["message"]
    dates = {"planned_pickup": (TODAY + timedelta(days=1)).isoformat(),
             "planned_delivery": (TODAY + timedelta(days=2)).isoformat()}
    shipped = client.post("/api/v1/shipments", json={"part_ids": [accepted], **dates}, headers=coop)
    assert shipped.status_code == 409 and SUSPENDED_WORDS in shipped.get_json()["message"]
    with app.app_context():
        assert _status(placed) == PartStatus.PLACED
        assert db.session.scalar(select(OrderPart).where(OrderPart.id == accepted)).status == PartStatus.ACCEPTED
        assert shipping.shippable_parts(db.session.get(Organisation, market.coop_a)) == []
        with pytest.raises(freeze.Frozen):
            shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
                [accepted], TODAY + timedelta(days=1), TODAY + timedelta(days=2)))


def test_a_whatsapp_or_sms_answer_of_a_suspended_cooperative_changes_nothing(app, market, factory):
    verify(app, market.manager_a)
    order_id, placed, _b = _order(app, market)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    with app.test_request_context():
        received = send(market.manager_a.login, f"SI {order_id}")
        assert "No cambió nada" in received.reply.body and SUSPENDED_WORDS in received.reply.body
        assert _status(placed) == PartStatus.PLACED


# ------------------------------------------------------------- the suspended buyer


def test_a_suspended_buyer_cannot_record_a_delivery(app, client, market, factory):
    _order_id, ready, _b = _order(app, market, ready=True)
    _set_status(app, factory, market.buyer_id, OrgStatus.SUSPENDED)
    web = app.test_client()
    login(web, market.buyer)
    with app.app_context():
        line_id = db.session.get(OrderPart, ready).lines[0].id
    answer = web.post(f"/pedidos/partes/{ready}/recibir", data={f"received-{line_id}": "100"})
    assert answer.status_code == 422 and "Su organización está suspendida" in answer.get_data(as_text=True)
    token = api_token(app, market.buyer)
    body = {"lines": [{"line_id": line_id, "received_kg": "100", "accepted": True}]}
    api = client.post(f"/api/v1/order-parts/{ready}/delivery", json=body, headers=token)
    assert api.status_code == 409 and SUSPENDED_WORDS in api.get_json()["message"]
    with app.app_context():
        assert _status(ready) == PartStatus.READY


# ------------------------------------------------------------------ the other side


def test_the_other_side_cannot_move_a_frozen_part_either(app, client, market, factory):
    _o1, ready, placed_b = _order(app, market, ready=True)
    _o2, placed_a, _b = _order(app, market)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    token = api_token(app, market.buyer)
    with app.app_context():
        line_id = db.session.get(OrderPart, ready).lines[0].id
    body = {"lines": [{"line_id": line_id, "received_kg": "100", "accepted": True}]}
    answer = client.post(f"/api/v1/order-parts/{ready}/delivery", json=body, headers=token)
    assert answer.status_code == 409
    assert "está en pausa" in answer.get_json()["message"] and "Asociación Cacaotera de Tumaco" in \
        answer.get_json()["message"]
    # The buyer's page says so and offers nothing to do on that part.
    web = app.test_client()
    login(web, market.buyer)
    page = web.get(f"/pedidos/{_o1}").get_data(as_text=True)
    assert "En pausa: Asociación Cacaotera de Tumaco está suspendida" in page
    assert f"/pedidos/partes/{ready}/recibir" not in page
    with app.app_context():
        assert _status(ready) == PartStatus.READY
        # The other cooperative's part of the same order goes on.
        services.accept(user(market.manager_b), db.session.get(OrderPart, placed_b))
        db.session.commit()
        assert _status(placed_b) == PartStatus.ACCEPTED
    # A suspended buyer freezes its orders for the cooperatives too.
    _set_status(app, factory, market.coop_a, OrgStatus.VERIFIED)
    _set_status(app, factory, market.buyer_id, OrgStatus.SUSPENDED)
    with app.app_context():
        for action in ("accept", "decline"):
            with pytest.raises(Conflict) as refused:
                services.transition(user(market.manager_a), db.session.get(OrderPart, placed_a), action)
            assert "Chocolates Andinos S.A.S. está suspendida" in str(refused.value.message)
        db.session.rollback()
        assert _status(placed_a) == PartStatus.PLACED


def test_frozen_parts_neither_expire_nor_are_reminded_nor_planned_into_routes(app, market, factory):
    _o, placed, placed_b = _order(app, market)
    _o2, accepted, _b2 = _order(app, market, accepted=True)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    with app.app_context():
        deadline = db.session.get(OrderPart, placed).respond_by
        sweep.remind(deadline - timedelta(hours=1))  # a part on hold cannot be answered: no reminder
        db.session.commit()
        reminded = {n.subject_id for n in db.session.scalars(select(Notice).where(Notice.kind == "reminder_2h"))}
        assert placed_b in reminded and placed not in reminded
        result = sweep.sweep(deadline + timedelta(hours=1))
        db.session.commit()
        assert _status(placed) == PartStatus.PLACED
        assert _status(placed_b) == PartStatus.EXPIRED  # the other cooperative's part did expire
        assert result["expired"] == 2  # part B of both orders
        # Tumaco is in Nariño (52): its accepted part is not picked up while on hold.
        day = db.session.get(Order, _o2).window_start
        assert accepted not in {p.part.id for p in routes.pickups_due("52", day)}
    _set_status(app, factory, market.coop_a, OrgStatus.VERIFIED)
    with app.app_context():
        assert accepted in {p.part.id for p in routes.pickups_due("52", day)}


# ----------------------------------------------------------------------- staff


def test_staff_cancel_a_frozen_part_and_its_kilos_go_back(app, market, factory):
    order_id, ready, _b = _order(app, market, ready=True)
    with app.app_context():
        before = available(market.listing_a)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    admin = factory.admin()
    staff = app.test_client()
    login(staff, admin)
    page = staff.get(f"/pedidos/{order_id}").get_data(as_text=True)
    assert f"/pedidos/partes/{ready}/cancel" in page
    with app.app_context():
        # Staff may do nothing else with it meanwhile.
        with pytest.raises(freeze.Frozen):
            services.ship(user(admin), db.session.get(OrderPart, ready))
        db.session.rollback()
    answer = staff.post(f"/pedidos/partes/{ready}/cancel", data={"reason": "Cooperativa suspendida"})
    assert answer.status_code == 303
    with app.app_context():
        assert _status(ready) == PartStatus.CANCELLED
        assert available(market.listing_a) == before + 100
        cancelled = db.session.scalars(select(Notice).where(Notice.kind == "cancel", Notice.subject_id == ready)).one()
        assert cancelled.payload["by"] == "staff"


def test_staff_cannot_cancel_a_ready_part_that_is_not_frozen(app, market, factory):
    _order_id, ready, _b = _order(app, market, ready=True)
    admin = factory.admin()
    with app.app_context():
        with pytest.raises(Conflict):
            services.cancel(user(admin), db.session.get(OrderPart, ready), "no")
        db.session.rollback()
        assert _status(ready) == PartStatus.READY


# ------------------------------------------------------------ telling the other side


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_other_side_is_told_on_suspension_and_on_reinstatement(app, market, factory, locale):
    order_id, part_a, part_b = _order(app, market, accepted=True)
    _done, settled_like, other_b = _order(app, market)
    with app.app_context():
        services.decline(user(market.manager_a), db.session.get(OrderPart, settled_like), None)
        db.session.commit()
        db.session.get(User, market.buyer.user_id).locale = locale
        db.session.commit()
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    with app.app_context():
        held = list(db.session.scalars(select(Notice).where(Notice.kind == "on_hold")))
        # Only the open part of the suspended cooperative; told to the buyer only.
        assert [(n.subject_id, n.organisation_id) for n in held] == [(part_a, market.buyer_id)]
        assert recipient_ids(held[0]) == {market.buyer.user_id}
        seen = render(app, held[0], market.buyer.user_id)
        number = db.session.get(Order, order_id).number
        assert number in seen.subject and number in seen.text and str(order_id) in seen.short
        words = "suspendida" if locale == "es" else "suspended"
        assert words in seen.subject and words in seen.text
        assert "Asociación Cacaotera de Tumaco" in seen.text
    _set_status(app, factory, market.coop_a, OrgStatus.VERIFIED)
    with app.app_context():
        resumed = list(db.session.scalars(select(Notice).where(Notice.kind == "resumed")))
        assert [(n.subject_id, n.organisation_id) for n in resumed] == [(part_a, market.buyer_id)]
        seen = render(app, resumed[0], market.buyer.user_id)
        assert ("reactivada" if locale == "es" else "reinstated") in seen.text
    # A suspended buyer: each cooperative with an open part of its orders is told.
    _set_status(app, factory, market.buyer_id, OrgStatus.SUSPENDED)
    with app.app_context():
        held = {(n.subject_id, n.organisation_id) for n in db.session.scalars(
            select(Notice).where(Notice.kind == "on_hold", Notice.payload.is_not(None)))
            if n.payload.get("suspended") == "buyer"}
        # (cooperative A's declined part is not open: nobody is told of it)
        assert held == {(part_a, market.coop_a), (part_b, market.coop_b), (other_b, market.coop_b)}
        notice = next(n for n in db.session.scalars(select(Notice).where(Notice.kind == "on_hold"))
                      if n.subject_id == part_b)
        assert recipient_ids(notice) == {market.manager_b.user_id}
        seen = render(app, notice, market.manager_b.user_id)
        assert "Chocolates Andinos S.A.S." in seen.text


# ------------------------------------------------------------------ reinstatement


def test_reinstatement_lets_work_go_on_with_the_wait_given_back(app, market, factory):
    _o, placed, _b = _order(app, market)
    _o2, accepted, _b2 = _order(app, market, accepted=True)
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    with app.app_context():
        deadline = db.session.get(OrderPart, placed).respond_by
        # The hold began 30 hours ago.
        for notice in db.session.scalars(select(Notice).where(Notice.kind == "on_hold")):
            notice.created_at = notice.created_at - timedelta(hours=30)
        db.session.commit()
    _set_status(app, factory, market.coop_a, OrgStatus.VERIFIED)
    with app.app_context():
        given = freeze._aware(db.session.get(OrderPart, placed).respond_by) - freeze._aware(deadline)
        assert timedelta(hours=30) <= given < timedelta(hours=31)
        services.accept(user(market.manager_a), db.session.get(OrderPart, placed))
        services.mark_ready(user(market.manager_a), db.session.get(OrderPart, accepted))
        db.session.commit()
        assert _status(placed) == PartStatus.ACCEPTED
        assert _status(accepted) == PartStatus.READY


def test_listings_of_a_suspended_cooperative_cannot_be_bought(app, market, factory):
    _set_status(app, factory, market.coop_a, OrgStatus.SUSPENDED)
    with app.app_context():
        with pytest.raises(Exception) as refused:
            services.add_to_cart(user(market.buyer), market.listing_a, None, "kg")
        assert "no puede vender" in str(refused.value)
