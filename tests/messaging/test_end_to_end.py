"""End to end: an order placed on the web reaches the cooperative's phone, the cooperative
answers from the phone, and the buyer is told.

Everything real but the network: the web pages (test client, buyer logged in), the outbox
worker (``outbox.run_once``), the SDKs (pywa, twilio) talking to the local fakes of Meta's
Graph API and Twilio, and the signed webhooks as the providers send them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import outbox
from marketplace.messaging.models import Inbound, Message, MessageStatus
from marketplace.orders.models import Order, OrderPart, PartStatus
from tests.conftest import login
from tests.messaging import fakes
from tests.orders.conftest import TODAY, market  # noqa: F401  (the fixture)

PUBLIC_URL = "https://mercadorural.example"


def place_on_the_web(app, shop, listing_id: int, kilos: str) -> int:
    """The buyer adds a lot to the order page and places it, as in a browser."""
    client = app.test_client()
    login(client, shop.buyer)
    assert client.post(f"/pedido/agregar/{listing_id}", data={"quantity": kilos, "unit": "kg"}).status_code == 302
    with app.app_context():
        from marketplace.orders.models import CartItem

        [item] = db.session.scalars(select(CartItem)).all()
        item_id = item.id
    response = client.post("/pedido", data={
        f"qty-{item_id}": kilos, f"unit-{item_id}": "kg", "delivery_site": str(shop.site_id),
        "window_start": (TODAY + timedelta(days=2)).isoformat(), "window_end": (TODAY + timedelta(days=9)).isoformat(),
        "payment_method": "invoice", "action": "place"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    with app.app_context():
        return db.session.scalars(select(Order.id).order_by(Order.id.desc())).first()


def set_channel(app, person, channel: str, phone: str | None = None) -> str:
    """A verified number, WhatsApp opt-in, and ``channel`` as the preferred one."""
    with app.app_context():
        user = db.session.get(User, person.user_id)
        if phone:
            user.phone = phone
        user.phone_verified_at = user.whatsapp_opt_in_at = utcnow() - timedelta(days=1)
        user.preferred_channel = channel
        db.session.commit()
        return user.phone


def work(app) -> dict:
    with app.app_context():
        return outbox.run_once()


def drain(app, *servers) -> None:
    """Send what was already waiting (the organisations' verification results) and forget it."""
    work(app)
    for server in servers:
        server.reset()


def part_status(app, order_id: int, coop_id: int) -> PartStatus:
    with app.app_context():
        return db.session.scalar(select(OrderPart.status).where(OrderPart.order_id == order_id,
                                                                OrderPart.cooperative_id == coop_id))


@pytest.fixture
def phones(app, market, whatsapp_fake, twilio_fake):  # noqa: F811
    app.config.update(PUBLIC_URL=PUBLIC_URL, WHATSAPP_PROVIDER="meta")
    return market


def test_a_web_order_is_accepted_with_the_whatsapp_button_and_the_buyer_is_told(app, phones, whatsapp_fake,
                                                                                twilio_fake):
    shop = phones
    coop_number = set_channel(app, shop.manager_a, "whatsapp")
    buyer_number = set_channel(app, shop.buyer, "sms", phone="+573208887766")
    drain(app, whatsapp_fake, twilio_fake)

    order_id = place_on_the_web(app, shop, shop.listing_a, "120")
    assert whatsapp_fake.messages == []  # nothing is sent inside the buyer's request
    work(app)

    # The notice reached the cooperative's WhatsApp as the approved template (the manager
    # has not written in the last 24 hours), with the Aceptar / Rechazar buttons.
    [notice] = whatsapp_fake.sent_to(coop_number)
    assert notice["type"] == "template"
    with app.app_context():
        part_id = db.session.scalar(select(OrderPart.id).where(OrderPart.order_id == order_id))
        sent = db.session.scalar(select(Message).where(Message.kind == "new_order", Message.user_id == shop.manager_a.user_id))
        assert sent.status == MessageStatus.SENT and sent.provider == "meta" and sent.as_template
        assert sent.buttons == [[f"accept:{part_id}", "Aceptar"], [f"decline:{part_id}", "Rechazar"]]
        wamid = sent.provider_id
    assert f"accept:{part_id}" in json.dumps(notice) and f"decline:{part_id}" in json.dumps(notice)

    # Meta reports it delivered; the manager taps "Aceptar" (a template's quick reply).
    client = app.test_client()
    delivered = json.dumps(fakes.meta_status(wamid, "delivered", coop_number)).encode()
    assert client.post("/webhooks/whatsapp", data=delivered, csrf=False, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": fakes.meta_signature(delivered)}).status_code == 200
    tap = json.dumps(fakes.meta_inbound(coop_number, template_button=(f"accept:{part_id}", "Aceptar"))).encode()
    response = client.post("/webhooks/whatsapp", data=tap, csrf=False, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": fakes.meta_signature(tap)})
    assert response.status_code == 200
    assert part_status(app, order_id, shop.coop_a) == PartStatus.ACCEPTED
    # Replaying the tap changes nothing more.
    client.post("/webhooks/whatsapp", data=tap, csrf=False, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": fakes.meta_signature(tap)})

    work(app)

    # The manager gets the confirmation as free text (they just wrote: the window is open) ...
    confirmations = [m for m in whatsapp_fake.sent_to(coop_number) if m["type"] == "text"]
    assert len(confirmations) == 1
    assert f"OC-{order_id:06d} aceptado" in confirmations[0]["text"]["body"]
    # ... and the buyer is told on their channel (SMS through Twilio).
    [told] = twilio_fake.sent_to(buyer_number)
    assert f"OC-{order_id:06d}" in told["Body"] and "acept" in told["Body"].lower()
    with app.app_context():
        assert db.session.get(Message, sent.id).status == MessageStatus.DELIVERED
        [inbound] = db.session.scalars(select(Inbound).where(Inbound.button_payload.is_not(None))).all()
        assert inbound.user_id == shop.manager_a.user_id and inbound.outcome.startswith("aceptó la parte")


def test_a_web_order_is_declined_by_sms_and_the_buyer_is_told(app, phones, twilio_fake):
    shop = phones
    coop_number = set_channel(app, shop.manager_a, "sms")
    with app.app_context():
        user = db.session.get(User, shop.manager_a.user_id)
        user.whatsapp_opt_in_at = None  # SMS only
        db.session.commit()
    buyer_number = set_channel(app, shop.buyer, "sms", phone="+573208887755")
    drain(app, twilio_fake)

    order_id = place_on_the_web(app, shop, shop.listing_a, "80")
    work(app)
    [notice] = twilio_fake.sent_to(coop_number)
    assert f"SI {order_id}" in notice["Body"] and f"NO {order_id}" in notice["Body"]

    params = fakes.twilio_inbound(coop_number, f"No {order_id} no alcanza la cosecha")
    url = PUBLIC_URL + "/webhooks/twilio"
    response = app.test_client().post("/webhooks/twilio", data=params, csrf=False,
                                      headers={"X-Twilio-Signature": fakes.twilio_signature(url, params)})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert part_status(app, order_id, shop.coop_a) == PartStatus.DECLINED
    with app.app_context():
        assert db.session.scalar(select(OrderPart.decline_reason).where(OrderPart.order_id == order_id)) \
            == "no alcanza la cosecha"

    work(app)
    confirmations = twilio_fake.sent_to(coop_number)[1:]
    assert len(confirmations) == 1 and f"OC-{order_id:06d} rechazado" in confirmations[0]["Body"]
    [told] = twilio_fake.sent_to(buyer_number)
    assert f"OC-{order_id:06d}" in told["Body"]


def test_after_salir_the_next_order_notice_skips_whatsapp(app, phones, whatsapp_fake, twilio_fake):
    """SALIR is honoured at once: a notice queued afterwards does not go by WhatsApp; the
    manager still hears of the order by SMS."""
    shop = phones
    coop_number = set_channel(app, shop.manager_a, "whatsapp")
    drain(app, whatsapp_fake, twilio_fake)
    salir = json.dumps(fakes.meta_inbound(coop_number, text="SALIR")).encode()
    assert app.test_client().post("/webhooks/whatsapp", data=salir, csrf=False, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": fakes.meta_signature(salir)}).status_code == 200

    order_id = place_on_the_web(app, shop, shop.listing_a, "50")
    work(app)
    whatsapp = whatsapp_fake.sent_to(coop_number)
    assert len(whatsapp) == 1 and "ACTIVAR" in whatsapp[0]["text"]["body"]  # only the SALIR confirmation
    [sms] = twilio_fake.sent_to(coop_number)
    assert f"SI {order_id}" in sms["Body"]
