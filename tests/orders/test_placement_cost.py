"""What placing an order through the API costs the database: a fixed number of statements
whatever the order holds, and nothing read back after the commit (the order as placed is
complete in memory, and the answer is the same as reading it back)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event

from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import RouteDistance
from marketplace.orders import services
from tests.orders.conftest import api_token, order_body
from tests.orders.helpers import order_request, user


@contextmanager
def statements(app):
    """The SQL statements run on the app's engine, and where each COMMIT fell among them."""
    seen: list[str] = []

    def executed(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            seen.append(statement)

    def committed(_conn):
        seen.append("COMMIT")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)


def _place(client, headers, market, key):
    body = order_body(market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg"),
                               (market.listing_c, "30", "kg")])
    return client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})


def test_placing_reads_nothing_back_after_the_commit(app, client, market):
    headers = api_token(app, market.buyer)
    assert _place(client, headers, market, "warm-up").status_code == 201
    with statements(app) as seen:
        placed = _place(client, headers, market, "measured")
    assert placed.status_code == 201, placed.get_json()
    assert seen[-1] == "COMMIT", seen[seen.index("COMMIT"):]
    assert seen.count("COMMIT") == 1
    with app.app_context():
        batched = db.engine.dialect.name == "postgresql"  # SQLite inserts rows one by one
    if batched:
        # Three lines from two cooperatives: the token; the site with the listings, their
        # sellers, road distances and first-mile legs; one conditional UPDATE per listing; one
        # INSERT each for the order, its parts, lines, notifications, events and the audit event.
        assert len(seen) - 1 == 11, "\n".join(s.split("\n")[0] for s in seen)


def test_the_answer_is_the_order_as_read_back(app, client, market):
    headers = api_token(app, market.buyer)
    placed = _place(client, headers, market, "as-read")
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert sorted(len(p["lines"]) for p in order["parts"]) == [1, 2]
    assert all([e["to_status"] for e in p["events"]] == ["placed"] for p in order["parts"])
    back = client.get(f"/api/v1/orders/{order['id']}", headers=headers).get_json()
    # Whole pesos computed at placement are spelt "60000"; read back from NUMERIC(14, 2) they are
    # "60000.00": the same amounts.
    assert _by_value(back) == _by_value(order)


def _by_value(data):
    if isinstance(data, dict):
        return {k: _by_value(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_by_value(v) for v in data]
    if isinstance(data, str) and re.fullmatch(r"-?\d+(\.\d+)?", data):
        return Decimal(data)
    return data


def _quote_error(app, market, lines, **changes):
    with app.app_context():
        with pytest.raises(DomainError) as info:
            services.quote(user(market.buyer), order_request(market, lines, **changes))
        db.session.rollback()
        return info.value


def test_one_read_tells_a_missing_site_from_missing_listings(app, market):
    # The site, listings, sellers and road distances come in one query: a site that does not
    # exist is refused as a site whatever the lines; a listing that does not exist, as its line.
    assert _quote_error(app, market, [(market.listing_a, "10", "kg")], delivery_site_id=999_999).field \
        == "delivery_site"
    assert _quote_error(app, market, [(999_999, "10", "kg")], delivery_site_id=999_999).field == "delivery_site"
    assert _quote_error(app, market, [(market.listing_a, "10", "kg"), (999_999, "1", "kg")]).field == "lines.1"
    assert _quote_error(app, market, [(999_998, "10", "kg")]).field == "lines.0"
    assert _quote_error(app, market, []).field == "lines"
    with app.app_context():
        quoted = services.quote(user(market.buyer), order_request(
            market, [(market.listing_a, "10", "kg"), (market.listing_b, "10", "kg"), (market.listing_c, "10", "kg")]))
        assert sorted(len(p.lines) for p in quoted.parts) == [1, 2]
        assert all(p.logistics > 0 for p in quoted.parts)


def test_a_known_road_distance_prices_the_quote(app, market):
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        request = order_request(market, [(market.listing_a, "100", "kg")])
        estimated = services.quote(user(market.buyer), request).parts[0]
        db.session.add(RouteDistance(collection_point_id=listing.collection_point_id,
                                     delivery_site_id=market.site_id, road_km=Decimal("2000"), terrain="mountainous"))
        db.session.commit()
        known = services.quote(user(market.buyer), request).parts[0]
        assert known.road_km == Decimal("2000") != estimated.road_km
        assert known.logistics > estimated.logistics


def test_first_mile_legs_read_with_the_listings_price_as_a_quote_for_the_point(app, market):
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", Decimal("8"), "mountainous", "Camino a la vereda"),
            logistics.AccessLegData("river", "river_boat", Decimal("20"), "flat", "Río abajo")])
        db.session.commit()
        quoted = services.quote(user(market.buyer), order_request(
            market, [(market.listing_a, "300", "kg"), (market.listing_b, "100", "kg"), (market.listing_c, "50", "kg")]))
        by_coop = {p.cooperative.id: p for p in quoted.parts}
        alone = logistics.quote_for(point.id, market.site_id, Decimal("300"))
        assert [leg.leg.kind for leg in alone.legs] == ["trail", "river", "road"]
        other = db.session.get(Listing, market.listing_c).collection_point_id
        assert by_coop[market.coop_a].logistics == alone.total_cop + logistics.quote_for(
            other, market.site_id, Decimal("50")).total_cop
        assert by_coop[market.coop_b].logistics == logistics.quote_for(
            db.session.get(Listing, market.listing_b).collection_point_id, market.site_id, Decimal("100")).total_cop
