"""A year of past sales for the staff dashboards: who sold what to whom, when, how much and
at what price, from harvest calendars, buyers' habits and lasting alliances.
``history_rows`` writes the plan down as the rows the order services would have left."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.models import Buyer, Cooperative, Membership, OrgStatus, Role, User
from marketplace.core.models import BOGOTA, bogota_date, utcnow
from marketplace.demo.history_rows import HISTORY_KEY, SaleLine, write_history
from marketplace.demo.people import demo_cooperative_names
from marketplace.extensions import db

__all__ = ["HISTORY_KEY", "seed_history"]

# Relative volume sold each month (January to December), from Colombian harvest calendars.
# Products not named here sell steadily all year.
SEASONS = {
    # Main harvest October-December, the mitaca April-June.
    "cafe-pergamino-seco": (0.8, 0.4, 0.5, 0.9, 1.2, 1.0, 0.5, 0.4, 0.7, 1.6, 2.0, 1.8),
    # Two crops: April-June and October-December.
    "cacao-grano-seco": (0.7, 0.5, 0.7, 1.3, 1.6, 1.4, 0.8, 0.6, 0.7, 1.3, 1.6, 1.3),
    # Hass: the main harvest October-January and the traviesa April-June.
    "aguacate-hass": (1.2, 0.7, 0.6, 0.9, 1.3, 1.4, 1.0, 0.6, 0.7, 1.2, 1.5, 1.4),
    "maracuya": (1.2, 1.0, 0.8, 0.8, 0.9, 1.1, 1.3, 1.2, 0.9, 0.8, 0.9, 1.1),
    # Caribbean maize: semester A harvested July-August, semester B December-January.
    "maiz-blanco": (1.3, 0.7, 0.4, 0.4, 0.5, 0.8, 1.6, 1.9, 1.2, 0.7, 1.0, 1.5),
    "arroz-paddy": (0.8, 0.6, 0.9, 1.2, 0.9, 0.7, 1.0, 1.6, 1.7, 1.3, 0.8, 0.5),
    "miel-abejas": (1.5, 1.6, 1.4, 1.0, 0.7, 0.6, 0.8, 1.0, 0.9, 0.7, 0.8, 1.3),  # the dry season's flowering
    "caucho": (0.8, 0.5, 0.5, 0.8, 1.1, 1.2, 1.2, 1.2, 1.1, 1.2, 1.2, 1.0),  # little tapping while trees shed leaves
    "name": (1.5, 1.6, 1.4, 1.0, 0.6, 0.5, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5),
    "frijol": (1.3, 0.8, 0.6, 0.7, 0.9, 1.4, 1.5, 1.0, 0.7, 0.7, 0.9, 1.3),
    "pescado-estanque": (0.9, 1.0, 1.6, 1.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1),  # Lent and Holy Week
    # Plantain, banana, cassava and panela: steady.
    "platano-harton": (1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.0, 0.95, 1.0, 1.0, 1.0, 1.05),
    "yuca": (1.0, 1.0, 0.95, 1.0, 1.05, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0, 1.05),
    "panela": (1.0, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05),
}
# How far the price moves against the volume: price factor = 1 - k * (relative volume - 1).
# Fish is the exception: Lent raises demand, not supply, so volume and price rise together.
PRICE_RESPONSE = {"cafe-pergamino-seco": 0.1, "cacao-grano-seco": 0.1, "aguacate-hass": 0.3, "maracuya": 0.25,
                  "maiz-blanco": 0.15, "arroz-paddy": 0.12, "miel-abejas": 0.1, "caucho": 0.08, "name": 0.2,
                  "frijol": 0.2, "pescado-estanque": -0.12, "platano-harton": 0.3, "yuca": 0.3, "panela": 0.3}
# Sale lines per lot and month, relative (plantain is listed by half the cooperatives).
ACTIVITY = {"cafe-pergamino-seco": 2.2, "cacao-grano-seco": 1.6, "aguacate-hass": 2.5, "panela": 2.5, "yuca": 2.0,
            "platano-harton": 0.8, "banano": 0.9}
# The usual size of one order line, in kg.
LINE_KG = {"cafe-pergamino-seco": 1250, "cacao-grano-seco": 1000, "platano-harton": 2500, "banano": 2000,
           "aguacate-hass": 1500, "panela": 1500, "yuca": 3000, "maracuya": 1200, "pina-gold": 2000,
           "arroz-paddy": 5000, "maiz-blanco": 4000, "name": 2500, "aji": 400, "pescado-estanque": 350,
           "miel-abejas": 300, "pimienta": 200, "caucho": 2000, "frijol": 800, "sacha-inchi": 500, "coco": 1500}
# The unit buyers order these in (others: kg, tonnes or the lot's own unit).
ORDER_UNIT = {"cafe-pergamino-seco": "carga", "cacao-grano-seco": "arroba", "panela": "arroba", "frijol": "arroba",
              "pimienta": "arroba"}
NOT_FOOD = {"caucho", "sacha-inchi"}
# What each demo buyer buys ("*": any food), how often it pays by card and how big its orders are.
BUYER_HABITS = {
    "Chocolates Andinos S.A.S.": ({"cacao-grano-seco", "panela", "miel-abejas"}, 0.1, 1.2),
    "Café Montaña Alta S.A.": ({"cafe-pergamino-seco"}, 0.1, 1.3),
    "Frutas del Valle Procesadas S.A.S.": ({"maracuya", "pina-gold", "aguacate-hass", "banano", "coco"}, 0.4, 1.0),
    "Supermercados La Canasta S.A.": ("*", 0.2, 0.9),
    "Snacks del Caribe S.A.S.": ({"platano-harton", "yuca", "name", "maiz-blanco", "coco"}, 0.5, 1.0),
    "Panelera Santandereana S.A.S.": ({"panela", "miel-abejas"}, 0.3, 1.1),
    "Cacao Fino de Exportación S.A.S.": ({"cacao-grano-seco"}, 0.05, 1.5),
    "Restaurantes Sabor Nuestro S.A.S.": ("*", 0.8, 0.35),
    "Aceites Amazónicos S.A.S.": ({"sacha-inchi", "coco", "miel-abejas"}, 0.6, 0.6),
    "Cauchos Técnicos de Colombia S.A.": ({"caucho"}, 0.0, 1.2),
    "Distribuidora Mayorista del Norte S.A.S.": ("*", 0.2, 1.2),
    "Hoteles y Casinos Andinos S.A.": ("*", 0.6, 0.4),
}
HISTORY_LINES = 2200  # about; enough for a year of dashboards, few enough to seed in seconds


def _add_months(day, n: int):
    from datetime import date

    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the means here are small)."""
    import math

    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _weighted_choice(rng: random.Random, weights: list[float]) -> int:
    pick = rng.uniform(0, sum(weights))
    for position, weight in enumerate(weights):
        pick -= weight
        if pick <= 0:
            return position
    return len(weights) - 1


def _season(slug: str, month: int) -> float:
    profile = SEASONS.get(slug)
    if profile is None:
        return 1.0
    return profile[month - 1] * 12 / sum(profile)



def seed_history(rng: random.Random) -> tuple[int, int]:
    """Twelve months of past sales, ending last month, between the demo's verified buyers and
    verified cooperatives, for the products the cooperatives list: seasonal volumes and
    prices (prices move against volume, with noise and a few outliers for the anomaly
    page), repeat buyer-cooperative pairs, most orders delivered and settled, a few
    declined or cancelled. Rows are written directly, as the order services would have left
    them (amounts, fees, logistics estimates, events, payments and payouts), without taking
    stock from today's listings: each quarter's sales come from a past lot of their own.
    Skipped when any order from before this month exists. Returns (orders, lines)."""
    from datetime import UTC, datetime, time, timedelta

    from sqlalchemy import or_

    from marketplace.catalog import units
    from marketplace.catalog.models import Listing, ListingStatus
    from marketplace.orders.models import Order, PaymentMethod

    bogota = BOGOTA
    now = utcnow()
    today = bogota_date(now)
    this_month = today.replace(day=1)
    month_start = datetime.combine(this_month, time(0), bogota).astimezone(UTC)
    if db.session.scalar(select(Order.id).where(or_(Order.placed_at < month_start,
                                                    Order.idempotency_key.like(HISTORY_KEY + "%"))).limit(1)):
        return 0, 0
    buyers = [b for b in db.session.scalars(select(Buyer).where(Buyer.status == OrgStatus.VERIFIED,
                                                                Buyer.name.in_(list(BUYER_HABITS)))
                                            .order_by(Buyer.id)) if any(s.active for s in b.delivery_sites)]
    rows = db.session.execute(
        select(Listing, Cooperative).join(Cooperative, Cooperative.id == Listing.cooperative_id)
        .where(Cooperative.status == OrgStatus.VERIFIED, Cooperative.name.in_(demo_cooperative_names()),
               Listing.status == ListingStatus.ACTIVE, Listing.available_until >= today)
        .order_by(Listing.id)).all()
    supply: dict[tuple[int, str], Listing] = {}
    coops: dict[int, Cooperative] = {}
    for listing, coop in rows:
        supply.setdefault((coop.id, listing.product.slug), listing)
        coops[coop.id] = coop
    admin = db.session.scalar(select(User).where(User.email == "admin@mercadorural.co"))
    if not buyers or not supply or admin is None:
        return 0, 0
    people: dict[tuple[int, Role], list[User]] = {}
    for membership in db.session.scalars(select(Membership).where(
            Membership.organisation_id.in_([*coops, *(b.id for b in buyers)])).order_by(Membership.id)):
        people.setdefault((membership.organisation_id, membership.role), []).append(membership.user)
    managers = {coop_id: people[(coop_id, Role.COOP_MANAGER)][0] for coop_id in coops
                if (coop_id, Role.COOP_MANAGER) in people}
    purchasers = {b.id: people.get((b.id, Role.BUYER_PURCHASER), []) + people.get((b.id, Role.BUYER_ADMIN), [])
                  for b in buyers}
    buyers = [b for b in buyers if purchasers[b.id]]
    supply = {key: item for key, item in supply.items() if key[0] in managers}

    months = [_add_months(this_month, n) for n in range(-12, 0)]
    last_day = today - timedelta(days=10)  # the last order's delivery is behind us
    weekdays = {m: [m + timedelta(days=d) for d in range(31)
                    if (m + timedelta(days=d)).month == m.month and (m + timedelta(days=d)).weekday() < 6
                    and m + timedelta(days=d) <= last_day] for m in months}

    # Prices: each product's typical price (today's listings, near the catalogue's farm-gate
    # or SIPSA price), a cooperative's own level, the season, 5 % a year of inflation, and a
    # national shock per month shared by every seller of the product.
    by_product: dict[str, list[Decimal]] = {}
    for (_coop, slug), listing in supply.items():
        by_product.setdefault(slug, []).append(listing.price_per_kg)
    anchor = {slug: sorted(prices)[len(prices) // 2] for slug, prices in by_product.items()}
    shock = {(slug, m): rng.gauss(1, 0.02) for slug in anchor for m in months}

    def price_of(listing, slug: str, index: int, month) -> Decimal:
        level = (float(listing.price_per_kg) / float(anchor[slug])) ** 0.5
        season = 1 - PRICE_RESPONSE.get(slug, 0.1) * (_season(slug, month.month) - 1)
        drift = 1 - 0.004 * (len(months) - 1 - index)
        value = float(anchor[slug]) * level * season * drift * shock[(slug, month)] * rng.lognormvariate(0, 0.045)
        return Decimal(round(value))

    def wants(buyer: Buyer, slug: str) -> float:
        products = BUYER_HABITS[buyer.name][0]
        if products == "*":
            return 0 if slug in NOT_FOOD else 1.0
        return 3.0 if slug in products else 0

    # Alliances: each lot's buyers, the first a steady one, the others occasional; some
    # start later in the year, as the platform grows.
    alliances = []
    for (coop_id, slug), listing in supply.items():
        candidates = [(b, wants(b, slug)) for b in buyers if wants(b, slug)]
        count = 1 + (rng.random() < 0.6) + (rng.random() < 0.25)
        for rank in range(min(count, len(candidates))):
            buyer, _weight = candidates.pop(_weighted_choice(rng, [w for _b, w in candidates]))
            start = rng.choice((0, 0, 0, 1)) if rank == 0 else rng.randint(0, 6)
            alliances.append((buyer, coop_id, slug, listing, (1.0, 0.45, 0.2)[rank], start))
    expected = {}
    for a, (_b, _c, slug, _l, loyalty, start) in enumerate(alliances):
        for index, month in enumerate(months):
            if index >= start and weekdays[month]:
                ramp = 0.8 + 0.35 * index / (len(months) - 1)
                expected[(a, index)] = loyalty * ACTIVITY.get(slug, 1.2) * _season(slug, month.month) * ramp
    scale = HISTORY_LINES / (sum(expected.values()) or 1)

    lines: list[SaleLine] = []
    for (a, index), mean in sorted(expected.items()):
        buyer, coop_id, slug, listing, _loyalty, _start = alliances[a]
        month = months[index]
        size = BUYER_HABITS[buyer.name][2] * min(1.6, max(0.5, (coops[coop_id].members_total or 60) / 100) ** 0.5)
        for _ in range(_poisson(rng, mean * scale)):
            base = LINE_KG.get(slug, 1000) * size * _season(slug, month.month) ** 0.5 * rng.lognormvariate(0, 0.35)
            unit = ORDER_UNIT.get(slug, "kg")
            if unit == "kg" and units.UNITS[listing.unit].needs_weight and rng.random() < 0.4:
                unit = listing.unit
            weight = units.unit_weight(unit, listing.unit_kg if units.UNITS[unit].needs_weight else None)
            if unit != "kg":
                kg = weight * max(1, round(base / float(weight)))
            else:
                step = 50 if base >= 500 else 10
                kg = Decimal(max(step, round(base / step) * step))
                if kg >= 1000 and kg % 1000 == 0:
                    unit = "tonelada"
            lines.append(SaleLine(buyer, listing, slug, month, min(kg, Decimal(40000)), unit,
                               price_of(listing, slug, index, month)))

    # Orders: a buyer's lines of a month, some bought together: the same product from two
    # cooperatives (a bulk order split), or two products of one cooperative (one part).
    plan = []
    grouped: dict[tuple[int, object], list[SaleLine]] = {}
    for line in lines:
        grouped.setdefault((line.buyer.id, line.month), []).append(line)
    for key in sorted(grouped, key=lambda k: (k[1], k[0])):
        items = grouped[key]
        rng.shuffle(items)
        while items:
            group = [items.pop()]
            first = group[0]
            if rng.random() < 0.3:
                j = next((k for k, it in enumerate(items) if it.slug == first.slug
                          and it.template.cooperative_id != first.template.cooperative_id), None)
                if j is not None:
                    group.append(items.pop(j))
            if rng.random() < 0.5:
                j = next((k for k, it in enumerate(items) if it.slug != first.slug
                          and it.template.cooperative_id == first.template.cooperative_id), None)
                if j is not None:
                    group.append(items.pop(j))
            plan.append(group)

    # Fates: card orders are paid at once (a few never were, and the system cancelled
    # them); invoice orders' parts are sometimes declined or cancelled, and some deliveries
    # come short (the line is paid for what arrived).
    planned = []
    for group in plan:
        buyer = group[0].buyer
        day = rng.choice(weekdays[group[0].month])
        placed = datetime.combine(day, time(rng.randint(7, 16), rng.randint(0, 59)), bogota).astimezone(UTC)
        method = PaymentMethod.CARD if rng.random() < BUYER_HABITS[buyer.name][1] else PaymentMethod.INVOICE
        unpaid = method == PaymentMethod.CARD and rng.random() < 0.04
        parts: dict[int, list[SaleLine]] = {}
        for line in group:
            parts.setdefault(line.template.cooperative_id, []).append(line)
        fates = {}
        for coop_id, part_lines in parts.items():
            roll = rng.random()
            if unpaid:
                fates[coop_id] = "unpaid"
            elif method == PaymentMethod.INVOICE and roll < 0.035:
                fates[coop_id] = "declined"
            elif method == PaymentMethod.INVOICE and roll < 0.055:
                fates[coop_id] = "cancelled"
            else:
                fates[coop_id] = "sale"
                for line in part_lines:
                    if method == PaymentMethod.INVOICE and rng.random() < 0.07:
                        line.received = (line.kg * Decimal(str(round(rng.uniform(0.9, 0.995), 3)))).quantize(Decimal("1"))
        planned.append((buyer, placed, method, parts, fates))
    planned.sort(key=lambda item: item[1])  # order numbers follow the dates, as they would have

    # A handful of sales priced far from the month's usual price, for staff to review.
    sold: dict[str, list[SaleLine]] = {}
    for _buyer, _placed, _method, parts, fates in planned:
        for coop_id, part_lines in parts.items():
            if fates[coop_id] == "sale":
                for line in part_lines:
                    sold.setdefault(line.slug, []).append(line)
    for slug in sorted(sold):
        count = len(sold[slug])
        for line in rng.sample(sold[slug], max(2, round(count * 0.012)) if count >= 40 else int(count >= 15)):
            line.outlier = True
            factor = rng.uniform(0.3, 0.42) if rng.random() < 0.5 else rng.uniform(2.4, 3.2)
            line.price = Decimal(round(float(line.price) * factor))

    return write_history(rng, planned, lines, buyers=buyers, managers=managers, purchasers=purchasers,
                         admin=admin, months=months, now=now)
