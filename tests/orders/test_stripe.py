"""Card payments against localstripe (a stateful fake Stripe API on 127.0.0.1): the payment
page and its intent, signed webhooks (bad, stale, duplicate, concurrent, out of order,
wrong amount) and refunds sent exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from sqlalchemy import func, select

from marketplace.core.models import AuditEvent, utcnow
from marketplace.extensions import db
from marketplace.orders import payments, services
from marketplace.orders.models import Order, PaymentStatus, Refund, StripeEvent
from tests.conftest import login
from tests.orders.conftest import api_token
from tests.orders.helpers import D, part_of, place, user

WEBHOOK_SECRET = "whsec_test"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url():
    """localstripe in a subprocess on a free local port, for the whole run."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"localstripe exited with code {proc.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail("localstripe did not start listening within 30 s")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def stripe_api(localstripe_url) -> stripe.StripeClient:
    """A Stripe client on localstripe, whose store is emptied for each test."""
    request = urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        assert response.status == 200
    return stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe_url}, max_network_retries=0)


@pytest.fixture
def app(make_app, localstripe_url, stripe_api):
    return make_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x",
                    STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE=localstripe_url)


# ------------------------------------------------------------------ helpers


def sign(payload: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_payload(event_id: str, event_type: str, intent: dict, **changes) -> str:
    obj = {**intent, **changes}
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "api_version": "2024-06-20",
                       "created": int(time.time()), "livemode": False, "data": {"object": obj}})


def post_event(client, payload: str, signature: str | None = None):
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = sign(payload) if signature is None else signature
    return client.post("/webhooks/stripe", data=payload, headers=headers, csrf=False)


def card_order(app, market, lines=None) -> int:
    return place(app, market, lines or [(market.listing_a, "100", "kg")], payment_method="card")


def open_intent(app, order_id) -> str:
    with app.app_context():
        order = db.session.get(Order, order_id)
        payments.ensure_payment_intent(order)
        db.session.commit()
        return order.stripe_payment_intent_id


def pay_at_stripe(stripe_api, intent_id) -> dict:
    """What Stripe.js does in the buyer's browser: attach a card and confirm."""
    stripe_api.v1.payment_intents.update(intent_id, params={"payment_method": "pm_card_visa"})
    intent = stripe_api.v1.payment_intents.confirm(intent_id)
    assert intent.status == "succeeded"
    data = intent.to_dict()
    data["amount_received"] = data["amount"]  # Stripe sends it; localstripe omits it
    return data


def order_state(app, order_id):
    with app.app_context():
        order = db.session.get(Order, order_id)
        return order.payment_status, order.amount_paid


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audits(action: str) -> int:
    return count(AuditEvent, AuditEvent.action == action)


def intents_of(stripe_api, order_id) -> list:
    return [pi for pi in stripe_api.v1.payment_intents.list(params={"limit": 100}).data
            if pi.metadata.to_dict().get("order_id") == str(order_id)]


# -------------------------------------------------------------------- tests


def test_the_payment_page_creates_an_intent_for_the_order_total(app, market, stripe_api):
    order_id = card_order(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "33.333", "kg")])
    client = app.test_client()
    login(client, market.buyer)
    page = client.get(f"/pedidos/{order_id}/pagar")
    assert page.status_code == 200
    with app.app_context():
        order = db.session.get(Order, order_id)
        secret, intent_id, total = order.stripe_client_secret, order.stripe_payment_intent_id, order.total
    assert secret and secret.startswith(intent_id)
    assert secret in page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp
    assert "frame-src https://js.stripe.com" in csp

    intent = stripe_api.v1.payment_intents.retrieve(intent_id)
    assert intent.amount == int(total * 100) == payments.minor_units(total)
    assert intent.currency == "cop"
    assert intent.metadata.to_dict() == {"order_id": str(order_id)}

    again = client.get(f"/pedidos/{order_id}/pagar")
    assert again.status_code == 200 and secret in again.get_data(as_text=True)
    assert len(intents_of(stripe_api, order_id)) == 1

    other = client.get(f"/pedidos/{order_id}")
    assert other.status_code == 200
    policy = dict(d.strip().split(" ", 1) for d in other.headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert "stripe" not in other.headers["Content-Security-Policy"]


def test_invoice_orders_have_no_payment_page(app, market, stripe_api):
    order_id = place(app, market, [(market.listing_a, "10", "kg")])
    client = app.test_client()
    login(client, market.buyer)
    response = client.get(f"/pedidos/{order_id}/pagar")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/pedidos/{order_id}")
    assert stripe_api.v1.payment_intents.list().data == []


def test_ensure_payment_intent_twice_creates_one_intent(app, market, stripe_api):
    order_id = card_order(app, market)
    first = open_intent(app, order_id)
    with app.app_context():
        order = db.session.get(Order, order_id)
        secret = payments.ensure_payment_intent(order)
        assert payments.ensure_payment_intent(order) == secret
        assert order.stripe_payment_intent_id == first
    assert [pi.id for pi in intents_of(stripe_api, order_id)] == [first]


def test_a_signed_succeeded_event_marks_the_order_paid(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    with app.app_context():
        total = db.session.get(Order, order_id).total
    assert intent["amount"] == payments.minor_units(total)
    client = app.test_client()
    response = post_event(client, event_payload("evt_paid_1", "payment_intent.succeeded", intent))
    assert response.status_code == 200 and response.get_json()["outcome"] == "paid"
    assert order_state(app, order_id) == (PaymentStatus.PAID, total)
    with app.app_context():
        record = db.session.get(StripeEvent, "evt_paid_1")
        assert (record.type, record.order_id, record.outcome) == ("payment_intent.succeeded", order_id, "paid")
        assert audits("payment.card_paid") == 1
    # The cooperative may now prepare the produce.
    with app.app_context():
        services.accept(user(market.manager_a), part_of(order_id, market.coop_a))
        services.mark_ready(user(market.manager_a), part_of(order_id, market.coop_a))
        db.session.commit()


@pytest.mark.parametrize("signature", [
    "t=1,v1=deadbeef",
    "garbage",
    "",
    "wrong-secret",
    "tampered",
])
def test_a_badly_signed_event_is_refused_and_changes_nothing(app, market, stripe_api, signature):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    payload = event_payload("evt_bad", "payment_intent.succeeded", intent)
    if signature == "wrong-secret":
        signature = sign(payload, secret="whsec_other")
    elif signature == "tampered":
        signature = sign(payload.replace('"evt_bad"', '"evt_bad2"'))
    response = post_event(app.test_client(), payload, signature)
    assert response.status_code == 400
    assert order_state(app, order_id) == (PaymentStatus.PENDING, D("0"))
    with app.app_context():
        assert count(StripeEvent) == 0 and audits("payment.card_paid") == 0


def test_an_event_without_a_signature_header_is_refused(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    payload = event_payload("evt_nosig", "payment_intent.succeeded", intent)
    response = app.test_client().post("/webhooks/stripe", data=payload, csrf=False,
                                      headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert order_state(app, order_id)[0] == PaymentStatus.PENDING


def test_a_stale_event_is_refused(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    payload = event_payload("evt_old", "payment_intent.succeeded", intent)
    client = app.test_client()
    assert post_event(client, payload, sign(payload, int(time.time()) - 301)).status_code == 400
    assert order_state(app, order_id)[0] == PaymentStatus.PENDING
    # Inside the 300 s tolerance it is fine.
    assert post_event(client, payload, sign(payload, int(time.time()) - 240)).status_code == 200
    assert order_state(app, order_id)[0] == PaymentStatus.PAID


def test_the_same_event_twice_is_processed_once(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    payload = event_payload("evt_twice", "payment_intent.succeeded", intent)
    client = app.test_client()
    assert post_event(client, payload).get_json()["outcome"] == "paid"
    second = post_event(client, payload)
    assert second.status_code == 200 and second.get_json()["outcome"] == "duplicate"
    with app.app_context():
        assert count(StripeEvent) == 1 and audits("payment.card_paid") == 1
        assert db.session.get(StripeEvent, "evt_twice").outcome == "paid"


def test_the_same_event_delivered_concurrently_is_processed_once(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    payload = event_payload("evt_race", "payment_intent.succeeded", intent)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def deliver(i):
        client = app.test_client()
        barrier.wait(timeout=30)
        response = post_event(client, payload)
        results[i] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in results), "a delivery did not finish"
    assert [r[0] for r in results] == [200, 200]
    assert sorted(r[1]["outcome"] for r in results) == ["duplicate", "paid"]
    with app.app_context():
        assert count(StripeEvent) == 1
        assert audits("payment.card_paid") == 1
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.PAID and order.amount_paid == order.total


def test_late_events_never_move_a_payment_backwards(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    client = app.test_client()
    assert post_event(client, event_payload("evt_ok", "payment_intent.succeeded", intent)).status_code == 200
    for event_id, event_type in (("evt_late_1", "payment_intent.processing"),
                                 ("evt_late_2", "payment_intent.payment_failed"),
                                 ("evt_late_3", "payment_intent.canceled")):
        response = post_event(client, event_payload(event_id, event_type, intent, status="processing"))
        assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
        assert order_state(app, order_id)[0] == PaymentStatus.PAID


def test_processing_then_failure_before_success(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = stripe_api.v1.payment_intents.retrieve(open_intent(app, order_id)).to_dict()
    client = app.test_client()
    assert post_event(client, event_payload("evt_p", "payment_intent.processing", intent)).get_json()["outcome"] \
        == "processing"
    assert order_state(app, order_id)[0] == PaymentStatus.PROCESSING
    assert post_event(client, event_payload("evt_f", "payment_intent.payment_failed", intent)).get_json()["outcome"] \
        == "failed"
    assert order_state(app, order_id)[0] == PaymentStatus.FAILED


def test_an_amount_that_does_not_match_the_order_leaves_it_unpaid(app, market, stripe_api):
    order_id = card_order(app, market)
    intent = pay_at_stripe(stripe_api, open_intent(app, order_id))
    client = app.test_client()
    short = event_payload("evt_short", "payment_intent.succeeded", intent, amount_received=intent["amount"] - 100)
    response = post_event(client, short)
    assert response.status_code == 200 and response.get_json()["outcome"] == "amount_mismatch"
    assert order_state(app, order_id) == (PaymentStatus.PENDING, D("0"))
    wrong_currency = event_payload("evt_usd", "payment_intent.succeeded", intent, currency="usd")
    assert post_event(client, wrong_currency).get_json()["outcome"] == "wrong_currency"
    assert order_state(app, order_id)[0] == PaymentStatus.PENDING
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.charge_back")).all()
        assert len(events) == 1 and events[0].object_id == str(order_id)
        order = db.session.get(Order, order_id)
        assert Decimal(events[0].after["amount"]) == order.total - 1
        assert events[0].after["reason"] == "amount_mismatch"
        assert audits("payment.card_paid") == 0
        # The money taken is given back whole, by the worker, and staff see it.
        (refund,) = db.session.scalars(select(Refund)).all()
        assert (refund.reason, refund.amount, refund.payment_intent_id) == ("amount_mismatch", order.total - 1,
                                                                           intent["id"])
        assert services.recent_charge_backs() == [refund]
        assert payments.push_refunds() == 1
        assert db.session.get(Refund, refund.id).status == "succeeded"
        assert order.refunded_total == 0  # the charge never paid the order


def test_an_event_for_an_unknown_intent_is_acknowledged(app, market, stripe_api):
    payload = event_payload("evt_unknown", "payment_intent.succeeded",
                            {"id": "pi_nobody", "object": "payment_intent", "amount": 100, "currency": "cop"})
    response = post_event(app.test_client(), payload)
    assert response.status_code == 200 and response.get_json()["outcome"] == "unknown_order"


def test_a_declined_part_of_a_paid_card_order_is_refunded_once_at_stripe(app, market, stripe_api):
    order_id = card_order(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    intent_id = open_intent(app, order_id)
    intent = pay_at_stripe(stripe_api, intent_id)
    assert post_event(app.test_client(), event_payload("evt_pay", "payment_intent.succeeded", intent)) \
        .get_json()["outcome"] == "paid"
    with app.app_context():
        part_b = part_of(order_id, market.coop_b)
        part_id, owed = part_b.id, part_b.goods_amount + part_b.logistics_estimate + part_b.fee_amount

    # The cooperative declines through the API; the refund is recorded, and sent by the worker.
    headers = api_token(app, market.manager_b)
    response = app.test_client().post(f"/api/v1/order-parts/{part_id}/transitions",
                                      json={"action": "decline", "reason": "Se perdió la cosecha"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        (refund,) = db.session.scalars(select(Refund)).all()
        assert refund.idempotency_key == f"order-{order_id}-part-{part_id}-refund-1"
        assert (refund.amount, refund.status, refund.stripe_refund_id) == (owed, "pending", None)
        assert stripe_api.v1.refunds.list(params={"payment_intent": intent_id}).data == []
        assert payments.push_refunds() == 1
        refund = db.session.scalars(select(Refund)).one()
        assert refund.stripe_refund_id and refund.status == "succeeded" and refund.attempts == 1
        stripe_refund_id = refund.stripe_refund_id
        assert payments.push_refunds() == 0
        assert payments.push_refunds() == 0
        # Even if Stripe had answered "pending", the refund exists there: never send it again.
        refund = db.session.scalars(select(Refund)).one()
        refund.status = "pending"
        db.session.commit()
        assert payments.push_refunds() == 0
    at_stripe = stripe_api.v1.refunds.list(params={"payment_intent": intent_id}).data
    assert [(r.id, r.amount) for r in at_stripe] == [(stripe_refund_id, payments.minor_units(owed))]
    assert at_stripe[0].metadata.to_dict()["refund_key"] == f"order-{order_id}-part-{part_id}-refund-1"


def test_a_refund_planned_while_stripe_is_down_is_sent_by_the_next_push(app, market, stripe_api, make_app):
    order_id = card_order(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    intent_id = open_intent(app, order_id)
    intent = pay_at_stripe(stripe_api, intent_id)
    post_event(app.test_client(), event_payload("evt_pay2", "payment_intent.succeeded", intent))
    down = make_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                    STRIPE_API_BASE=f"http://127.0.0.1:{_free_port()}")
    with down.app_context():
        services.decline(user(market.manager_a), part_of(order_id, market.coop_a), None)
        db.session.commit()
        now = utcnow()
        assert payments.push_refunds(now=now) == 0
        refund = db.session.scalars(select(Refund)).one()
        assert (refund.status, refund.stripe_refund_id, refund.attempts) == ("pending", None, 1)
        assert refund.last_error and refund.claimed_until is None
        next_try = refund.next_attempt_at
        assert next_try.replace(tzinfo=None) > now.replace(tzinfo=None)
    with app.app_context():
        assert payments.push_refunds(now=now) == 0  # not before its next try
        assert payments.push_refunds(now=now + timedelta(hours=1)) == 1
        assert payments.push_refunds(now=now + timedelta(hours=2)) == 0
        refund = db.session.scalars(select(Refund)).one()
        assert refund.stripe_refund_id and refund.attempts == 2
    assert len(stripe_api.v1.refunds.list(params={"payment_intent": intent_id}).data) == 1


def test_checkout_offers_card_only_when_stripe_is_configured(app, market, make_app):
    with_card = app.test_client()
    login(with_card, market.buyer)
    assert with_card.post(f"/pedido/agregar/{market.listing_a}", data={"quantity": "10", "unit": "kg"}) \
        .status_code == 302
    html = with_card.get("/pedido").get_data(as_text=True)
    assert 'value="card"' in html and 'value="invoice"' in html

    without = make_app()  # no Stripe keys, same database
    client = without.test_client()
    login(client, market.buyer)
    page = client.get("/pedido")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="invoice"' in html and 'value="card"' not in html
    with without.app_context():
        assert not services.card_enabled()
        with pytest.raises(payments.PaymentUnavailable):
            payments.client()
