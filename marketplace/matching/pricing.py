"""What a proposal costs, priced by the code that prices the order it becomes.

A proposal's figures are ``orders.services.quote`` of exactly the order that accepting it
places: the same lines (listing and kg), the same agreed prices, the same delivery site and
window, built by the one function ``order_request``. Nothing here computes money of its own:
goods, logistics per cooperative, the platform fee, the total and the landed price per kg all
come from the quote, so the number a buyer reads before accepting is the number charged.

The optimiser needs a cost per kg for each supply and demand, while the cost model charges
per trip (a fixed cost and a cost per km, as many trips as the load needs, the cheapest road
vehicle for the load). ``logistics_floor_per_kg`` gives it a bound instead of a guess: never
above what the quote charges per kg for any load the pair could carry. The allocation is then
priced by the quote and checked against the buyer's maximum landed price (``over_cap``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.logistics import costing
from marketplace.logistics import services as logistics
from marketplace.matching.models import Demand, Offer, OfferStatus, Proposal
from marketplace.orders import services as orders

CENTS = Decimal("0.01")
ZERO = Decimal(0)


# ------------------------------------------------------------------- the order a proposal becomes


def order_request(demand: Demand, rows: list[dict], today: date,
                  payment_method: str | None = None) -> tuple[orders.OrderRequest, dict[int, Decimal]]:
    """The order that accepting these allocation rows places, and the prices agreed for it
    (listing id -> COP per kg). Pricing a proposal and placing its order both start here."""
    kg_by_listing: dict[int, Decimal] = defaultdict(Decimal)
    agreed: dict[int, Decimal] = {}
    for row in rows:
        kg_by_listing[row["listing_id"]] += Decimal(row["kg"])
        agreed[row["listing_id"]] = Decimal(row["price_per_kg"])
    request = orders.OrderRequest(
        lines=[orders.LineRequest(listing_id, kg, "kg") for listing_id, kg in sorted(kg_by_listing.items())],
        delivery_site_id=demand.delivery_site_id, window_start=max(demand.window_start, today),
        window_end=demand.window_end, payment_method=payment_method,
        note=str(_l("Solicitud de compra %(n)s", n=demand.number)),
    )
    return request, agreed


@dataclass
class Priced:
    """An allocation priced by the order's quote. ``rows`` are the allocation rows with their
    goods, their share of the cooperative's logistics and their landed price per kg filled in;
    ``parts`` one per cooperative, as the order's parts will be."""

    rows: list[dict]
    parts: list[dict]
    fee_percent: Decimal
    goods: Decimal = ZERO
    logistics: Decimal = ZERO
    fee: Decimal = ZERO
    total: Decimal = ZERO
    kg: Decimal = ZERO


def price(actor, demand: Demand, rows: list[dict], today: date) -> Priced:
    """Price allocation rows with ``orders.services.quote``: exactly the order accepting them
    places. Raises what the quote raises (a listing gone, stock short, no vehicle for the trip)."""
    if not rows:
        return Priced([], [], orders.fee_percent())
    request, agreed = order_request(demand, rows, today)
    quote = orders.quote(actor, request, today, agreed)
    by_listing: dict[int, tuple[Decimal, Decimal, Decimal]] = {}  # listing -> goods, logistics share, kg
    parts = []
    for part in quote.parts:
        # The quote charges logistics per cooperative (trips from each of its collection
        # points); a row's share of it is by kg, and the shares add up to the centavo.
        shares = costing.allocate(part.logistics, [ln.quantity_kg for ln in part.lines], CENTS)
        for line, share in zip(part.lines, shares, strict=True):
            by_listing[line.listing.id] = (line.amount, share, line.quantity_kg)
        parts.append({
            "cooperative_id": part.cooperative.id, "cooperative": part.cooperative.name, "kg": str(part.kg),
            "goods_cop": str(part.goods), "logistics_cop": str(part.logistics),
            "logistics_mode": part.logistics_mode, "road_km": None if part.road_km is None else str(part.road_km),
            "fee_cop": str(part.fee), "total_cop": str(part.total), "landed_per_kg": str(part.landed_per_kg),
        })
    priced_rows = []
    for row in rows:
        # One row per listing: a listing's offer for a demand replaces the listing for it.
        goods, share, kg = by_listing[row["listing_id"]]
        priced_rows.append({**row, "goods_cop": str(goods), "logistics_cop": str(share),
                            "landed_per_kg": str(((goods + share) / kg).quantize(CENTS, ROUND_HALF_UP))})
    return Priced(priced_rows, parts, quote.fee_percent, quote.goods, quote.logistics, quote.fee, quote.total,
                  quote.kg)


def over_cap(demand: Demand, priced: Priced) -> list[dict]:
    """Rows whose landed price per kg (price plus their share of the cooperative's logistics,
    as shown) is above the demand's maximum. None above it means no cooperative's landed
    price in the order is above it either (each is the kg-weighted mean of its rows)."""
    cap = demand.max_price_per_kg
    if cap is None:
        return []
    over = [row for row in priced.rows if Decimal(row["landed_per_kg"]) > cap]
    for part in priced.parts:
        # Implied by the rows (the rounding of a mean never passes its largest term); kept so
        # the promise holds on the figure the buyer reads even if that ever changes.
        if Decimal(part["landed_per_kg"]) > cap and not any(r["cooperative_id"] == part["cooperative_id"]
                                                           for r in over):
            own = [r for r in priced.rows if r["cooperative_id"] == part["cooperative_id"]]
            over.append(max(own, key=lambda r: Decimal(r["landed_per_kg"])))
    return over


# ------------------------------------------------------------------- what the buyer saw, still true?


def _stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def terms(listing: Listing, offer: Offer | None) -> dict:
    """When the lot (and the offer) a row comes from were last changed by their cooperative:
    a price, a minimum order, a grade, a date, a pause or a withdrawal all move it."""
    return {"listing_changed_at": _stamp(listing.updated_at),
            "offer_changed_at": _stamp(offer.updated_at) if offer is not None else None}


def terms_hold(rows: list[dict]) -> bool:
    """Every row's lot and offer are as they were when the proposal was made: nothing edited,
    each offer still open, and each price still the one the row carries."""
    listing_ids = {row["listing_id"] for row in rows}
    offer_ids = {row["offer_id"] for row in rows if row["offer_id"]}
    listings = {item.id: item for item in db.session.scalars(select(Listing).where(Listing.id.in_(listing_ids)))}
    offers = {o.id: o for o in db.session.scalars(select(Offer).where(Offer.id.in_(offer_ids)))} if offer_ids else {}
    for row in rows:
        listing = listings.get(row["listing_id"])
        offer = offers.get(row["offer_id"]) if row["offer_id"] else None
        if listing is None or (row["offer_id"] and (offer is None or offer.status != OfferStatus.OPEN)):
            return False
        price_now = offer.price_per_kg if offer is not None else listing.price_per_kg
        if price_now != Decimal(row["price_per_kg"]):
            return False
        seen = {k: row.get(k) for k in ("listing_changed_at", "offer_changed_at")}
        if seen != terms(listing, offer):
            return False
    return True


def figures(parts: list[dict] | None, total: Decimal | None) -> tuple | None:
    """What a buyer is charged, per cooperative and in all, as exact decimals to compare."""
    if parts is None or total is None:
        return None
    return (tuple(sorted((p["cooperative_id"], Decimal(p["kg"]), Decimal(p["goods_cop"]),
                          Decimal(p["logistics_cop"]), Decimal(p["fee_cop"]), Decimal(p["total_cop"]))
                         for p in parts)), Decimal(total))


def still_priced_as_shown(proposal: Proposal, priced: Priced) -> bool:
    return figures(proposal.parts, proposal.total_cop) == figures(priced.parts, priced.total)


def order_figures(order) -> tuple:
    """The same figures read from a placed order, to check it against the proposal."""
    return (tuple(sorted((p.cooperative_id, sum((ln.quantity_kg for ln in p.lines), ZERO), p.goods_amount,
                          p.logistics_estimate, p.fee_amount, p.goods_amount + p.logistics_estimate + p.fee_amount)
                         for p in order.parts)), order.total)


# ------------------------------------------------------------------- the optimiser's bound


def _per_kg_floor(one_trip_cop: Decimal, load: Decimal) -> Decimal:
    # A leg of t trips costs round(t * p) >= t * (round(p) - 1) pesos, and t / q >= 1 / load
    # for any q up to the load (t >= q / capacity and t >= 1, load = min(capacity, most kg)).
    return max(ZERO, one_trip_cop - 1) / load


def logistics_floor_per_kg(quoter: logistics.Quoter, point, site, most_kg: Decimal) -> Decimal:
    """A per-kg logistics cost from ``point`` to ``site`` that is never above what the quote
    charges per kg for any load up to ``most_kg`` kg: each leg's one-trip cost over the most
    one trip of it can carry (the cheapest road vehicle's, for the road). It equals the
    quote's per-kg cost, but for a peso per leg, when ``most_kg`` fits in one trip of each.
    Raises ``DomainError`` when no vehicle can make the trip (the quote's own refusal)."""
    quoted = quoter.quote(point, site, most_kg)
    legs = [planned.leg for planned in quoted.legs]
    floor = ZERO
    for leg in legs[:-1]:  # first-mile legs: their mode is fixed by the collection point
        load = min(leg.mode.capacity_kg, most_kg)
        floor += _per_kg_floor(costing.quote_leg(load, leg.km, leg.mode, leg.terrain).total_cop, load)
    road = legs[-1]  # the road to the site: the cheapest vehicle for the load
    options = []
    for code in costing.ROAD_MODES:
        mode = quoter.modes.get(code)
        if mode is None:
            continue
        load = min(mode.capacity_kg, most_kg)
        try:
            trip = costing.cheapest_road_quote(load, road.km, road.terrain, {code: mode})
        except costing.CostError:  # not offered over this distance
            continue
        options.append(_per_kg_floor(trip.total_cop, load))
    return (floor + min(options)).quantize(CENTS, ROUND_FLOOR)


KILO = Decimal("1")


def lot_within_cap(quoter: logistics.Quoter, point, site, most_kg: Decimal, price_per_kg: Decimal,
                   cap: Decimal) -> Decimal | None:
    """Whole kilos from ``point`` at ``price_per_kg`` from which every load up to ``most_kg``
    lands at ``site`` within ``cap`` per kg, or None if even ``most_kg`` does not.

    The quote never charges less for more kilos, so from ``cost(most) / (cap - price)`` kilos
    on, ``price + cost(load) / load <= cap`` for every load up to ``most``. Whole kilos: a lot
    a person can read, and allocations that stay in whole kilos where the stock is."""
    if cap <= price_per_kg:
        return None
    lot = (quoter.quote(point, site, most_kg).total_cop / (cap - price_per_kg)).quantize(KILO, ROUND_CEILING)
    return lot if lot <= most_kg else None
