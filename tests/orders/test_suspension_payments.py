"""A suspended buyer's card orders are on hold too: it cannot start paying them, the sweep does
not cancel them as unpaid meanwhile, and reinstatement gives back the time it waited to pay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organisation, OrgStatus, User
from marketplace.extensions import db
from marketplace.messaging.models import Notice
from marketplace.orders import freeze, sweep
from marketplace.orders.models import Order, PartStatus, PaymentStatus
from tests.conftest import login
from tests.orders.helpers import place


@pytest.fixture
def app(make_app):
    # Card payments on, with a Stripe nobody answers: a call to it would fail at once.
    return make_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x",
                    STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_MAX_RETRIES=0, STRIPE_TIMEOUT_SECONDS=2)


def _set_status(app, factory, org_id: int, status: OrgStatus) -> None:
    factory.admin()
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))
        accounts.set_organisation_status(admin, db.session.get(Organisation, org_id), status,
                                         "Pagos devueltos" if status == OrgStatus.SUSPENDED else None)
        db.session.commit()


def test_a_suspended_buyer_cannot_pay_and_its_unpaid_order_waits(app, market, factory):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], payment_method="card")
    _set_status(app, factory, market.buyer_id, OrgStatus.SUSPENDED)
    client = app.test_client()
    login(client, market.buyer)
    answer = client.get(f"/pedidos/{order_id}/pagar", follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Su organización está suspendida" in page and "Pagar con tarjeta" not in page
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.stripe_payment_intent_id is None
        pay_by = order.pay_by
        sweep.sweep(freeze._aware(pay_by) + timedelta(hours=1))
        db.session.commit()
        db.session.expire_all()
        order = db.session.get(Order, order_id)
        assert order.payment_status == PaymentStatus.PENDING and order.parts[0].status == PartStatus.PLACED
        for notice in db.session.scalars(select(Notice).where(Notice.kind == "on_hold")):
            notice.created_at = notice.created_at - timedelta(hours=5)  # the hold began 5 hours ago
        db.session.commit()
    _set_status(app, factory, market.buyer_id, OrgStatus.VERIFIED)
    with app.app_context():
        given = freeze._aware(db.session.get(Order, order_id).pay_by) - freeze._aware(pay_by)
        assert timedelta(hours=5) <= given < timedelta(hours=6)
