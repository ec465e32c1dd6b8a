"""Believable demo data: cooperatives across the PDET subregions, buyers in five cities,
programme staff and an administrator; their listings, a year of past sales and today's
orders, shipments and demands. Idempotent: existing rows are left as they are.

Each room has its own module: ``people`` (organisations and users), ``listings`` (the
catalogue and today's lots), ``history`` and ``history_rows`` (the past year's sales) and
``today`` (orders in every state and open demands, through the real services); ``channels``
gives each person a channel (WhatsApp, SMS or e-mail) for the notices.
"""

from __future__ import annotations

import random

from marketplace.accounts import passwords
from marketplace.core.models import utcnow
from marketplace.demo.channels import seed_channels
from marketplace.demo.history import HISTORY_KEY, seed_history
from marketplace.demo.listings import seed_listings
from marketplace.demo.people import pick_cooperative_municipalities, seed_people
from marketplace.demo.report import Report
from marketplace.demo.today import seed_demands, seed_orders
from marketplace.extensions import db

__all__ = ["HISTORY_KEY", "Report", "pick_cooperative_municipalities", "seed", "seed_channels", "seed_demands",
           "seed_history", "seed_listings", "seed_orders", "seed_people"]


def seed(password: str) -> Report:
    report = Report(password=password)
    password_hash = passwords.hash_password(password)
    rng = random.Random(1581)  # a repeatable demo, not a secret
    seed_people(report, password_hash, rng, utcnow())
    db.session.flush()
    seed_channels(utcnow())
    db.session.flush()
    report.created["listings"] = seed_listings(rng)
    db.session.flush()
    # The past year before today's orders, so that order and invoice numbers follow the dates.
    report.created["history_orders"], report.created["history_lines"] = seed_history(rng)
    db.session.flush()
    report.created["orders"] = seed_orders(rng, password)
    db.session.flush()
    report.created["demands"] = seed_demands()
    db.session.flush()
    # The dashboards read sale facts and monthly rollups: recompute them from every order.
    from marketplace.insights import rollups

    rollups.rebuild()
    report.logins += [
        ("Gerente de cooperativa", "310 000 0000"),
        ("Asociado de cooperativa", "320 000 0000"),
        ("Gerente (cooperativa pendiente)", "310 000 0038"),
        ("Administrador de compras", "compras01@empresa-demo.co"),
        ("Comprador", "analista01@empresa-demo.co"),
        ("Transportador", "transporte@empresa-demo.co"),
    ]
    return report
