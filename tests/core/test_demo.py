"""``flask seed-demo`` builds a demo with work waiting for every role, and running it again
duplicates nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.matching import services as matching
from marketplace.matching.models import Demand, Offer, Proposal
from marketplace.orders.models import Order


def _counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Order, Demand, Offer, Proposal)}


def test_seed_demo_has_orders_and_demands_and_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "solicitudes de compra" in first.output
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
