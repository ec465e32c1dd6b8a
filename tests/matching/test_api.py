"""The demands API at /api/v1: a buyer posts a demand, cooperatives it concerns list it and
answer with offers, the buyer runs the optimiser and accepts a proposal, which becomes an
order split per cooperative. Refused requests answer 4xx (never 500) and write nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.matching.models import Demand, Offer, Proposal
from marketplace.orders.models import Order
from tests.matching.conftest import END, START, TODAY, api_token, product_id

D = Decimal
API = "/api/v1"


def counts(app) -> dict[str, int]:
    """Rows a refused request must not have written."""
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Demand, Offer, Proposal, Order)}


def stock(app, listing_id: int) -> Decimal:
    with app.app_context():
        return db.session.get(Listing, listing_id).available_kg


def demand_body(app, market, **changes) -> dict:
    with app.app_context():
        cacao = product_id("cacao-grano-seco")
    body = {"product_id": cacao, "quantity": "1200", "unit": "kg", "delivery_site_id": market.site_id,
            "window_start": START.isoformat(), "window_end": END.isoformat()}
    body.update(changes)
    return body


def offer_body(listing_id: int, quantity: str = "500", price: str = "9000", **changes) -> dict:
    body = {"listing_id": listing_id, "quantity": quantity, "unit": "kg", "price_per_kg": price,
            "ready_date": START.isoformat()}
    body.update(changes)
    return body


def post_demand(client, headers, body) -> dict:
    response = client.post(f"{API}/demands", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def kg_by(rows: list[dict], key: str) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        out[row[key]] += D(row["kg"])
    return dict(out)


@pytest.fixture
def tokens(app, market) -> dict[str, dict]:
    return {"buyer": api_token(app, market.buyer), "coop_a": api_token(app, market.manager_a),
            "coop_b": api_token(app, market.manager_b)}


@pytest.fixture
def other_buyer(app, factory) -> dict:
    """Another verified buyer: its token and its own delivery site."""
    from marketplace.accounts.models import Buyer

    buyer_id, person = factory.buyer(name="Otra Empresa S.A.S.")
    with app.app_context():
        site_id = db.session.get(Buyer, buyer_id).delivery_sites[0].id
    return {"headers": api_token(app, person), "site_id": site_id}


# ------------------------------------------------------------------- the whole flow


def test_demand_offer_proposal_accept_through_the_api(app, client, market, tokens):
    buyer, coop_a, coop_b = tokens["buyer"], tokens["coop_a"], tokens["coop_b"]

    created = post_demand(client, buyer, demand_body(app, market, quantity="1.2", unit="tonelada"))
    demand_id = created["id"]
    assert created["status"] == "open"
    assert created["unit"] == "tonelada"
    assert D(created["quantity"]) == D("1.2")
    assert D(created["quantity_kg"]) == D("1200")
    assert created["buyer_id"] == market.buyer_id and created["order_id"] is None
    read = client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()
    assert read["quantity_kg"] == "1200.000"

    # Both cooperatives sell cacao from a region the buyer accepts: the demand concerns both.
    for headers in (coop_a, coop_b):
        listed = client.get(f"{API}/demands", headers=headers)
        assert listed.status_code == 200
        assert demand_id in [item["id"] for item in listed.get_json()["items"]]

    made = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b, "500", "9000"),
                       headers=coop_b)
    assert made.status_code == 201, made.get_json()
    offer = made.get_json()
    assert offer["demand_id"] == demand_id and offer["cooperative_id"] == market.coop_b
    assert offer["listing_id"] == market.listing_b and offer["status"] == "open"
    assert D(offer["quantity_kg"]) == D("500") and D(offer["price_per_kg"]) == D("9000")

    seen_by_buyer = client.get(f"{API}/demands/{demand_id}/offers", headers=buyer).get_json()["items"]
    assert [o["id"] for o in seen_by_buyer] == [offer["id"]]
    assert client.get(f"{API}/demands/{demand_id}/offers", headers=coop_a).get_json()["items"] == []
    seen_by_b = client.get(f"{API}/demands/{demand_id}/offers", headers=coop_b).get_json()["items"]
    assert [o["id"] for o in seen_by_b] == [offer["id"]]

    response = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer)
    assert response.status_code == 201, response.get_json()
    proposal = response.get_json()
    assert proposal["demand_id"] == demand_id and not proposal["superseded"] and proposal["accepted_at"] is None
    assert D(proposal["met_kg"]) == D("1200") and D(proposal["quantity_kg"]) == D("1200")
    assert proposal["reasons"] == []
    assert kg_by(proposal["allocations"], "cooperative_id") == {market.coop_a: D("700"), market.coop_b: D("500")}
    [from_b] = [row for row in proposal["allocations"] if row["cooperative_id"] == market.coop_b]
    assert from_b["offer_id"] == offer["id"] and D(from_b["price_per_kg"]) == D("9000")
    assert D(proposal["landed_cop"]) == D(proposal["goods_cop"]) + D(proposal["logistics_cop"])
    assert D(proposal["goods_cop"]) == 700 * D("10000") + 500 * D("9000")
    assert D(proposal["greedy_landed_cop"]) > 0 and D(proposal["greedy_met_kg"]) == D("1200")

    latest = client.get(f"{API}/demands/{demand_id}/proposals/latest", headers=buyer)
    assert latest.status_code == 200 and latest.get_json()["id"] == proposal["id"]
    # A cooperative sees the demand but never the buyer's proposal.
    assert client.get(f"{API}/demands/{demand_id}/proposals/latest", headers=coop_a).status_code == 404
    assert client.get(f"{API}/proposals/{proposal['id']}", headers=coop_b).status_code == 404

    accepted = client.post(f"{API}/proposals/{proposal['id']}/accept", json={"payment_method": "invoice"},
                           headers=buyer)
    assert accepted.status_code == 201, accepted.get_json()
    body = accepted.get_json()
    assert body["proposal"]["id"] == proposal["id"] and D(body["total_cop"]) == D(proposal["total_cop"])
    assert body["proposal"]["accepted_at"] is not None
    order_id = body["order_id"]

    order = client.get(f"{API}/orders/{order_id}", headers=buyer)
    assert order.status_code == 200
    order = order.get_json()
    assert order["number"] == body["order_number"] and order["payment_method"] == "invoice"
    assert {part["cooperative_id"] for part in order["parts"]} == {market.coop_a, market.coop_b}
    lines = {line["listing_id"]: (D(line["quantity_kg"]), D(line["price_per_kg"]))
             for part in order["parts"] for line in part["lines"]}
    assert lines == {market.listing_a: (D("700"), D("10000")), market.listing_b: (D("500"), D("9000"))}
    assert stock(app, market.listing_a) == D("300") and stock(app, market.listing_b) == D("0")

    demand = client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()
    assert demand["status"] == "ordered" and demand["order_id"] == order_id
    [closed] = client.get(f"{API}/demands/{demand_id}/offers", headers=coop_b).get_json()["items"]
    assert closed["status"] == "chosen"
    # An ordered demand is no longer listed for cooperatives.
    assert demand_id not in [d["id"] for d in client.get(f"{API}/demands", headers=coop_a).get_json()["items"]]

    before = counts(app)
    again = client.post(f"{API}/proposals/{proposal['id']}/accept", json={"payment_method": "invoice"},
                        headers=buyer)
    assert again.status_code == 409
    assert counts(app) == before
    assert stock(app, market.listing_a) == D("300")


def test_a_new_demand_renders_its_kilos_as_they_are_read_back(app, client, market, tokens):
    created = post_demand(client, tokens["buyer"], demand_body(app, market, quantity="20", unit="tonelada"))
    read = client.get(f"{API}/demands/{created['id']}", headers=tokens["buyer"]).get_json()
    assert created["quantity_kg"] == read["quantity_kg"] == "20000.000"
    assert D(created["quantity"]) == D("20")


@pytest.mark.parametrize("quantity", ["1.2345", "0.0004"])
def test_a_demand_reads_back_the_quantity_it_was_given(app, client, market, tokens, quantity):
    before = counts(app)
    response = client.post(f"{API}/demands", json=demand_body(app, market, quantity=quantity, unit="tonelada"),
                           headers=tokens["buyer"])
    if response.status_code == 422:  # refusing more than three decimals is a fix too
        assert counts(app) == before
        return
    created = response.get_json()
    read = client.get(f"{API}/demands/{created['id']}", headers=tokens["buyer"]).get_json()
    assert D(read["quantity"]) == D(created["quantity"])
    assert D(read["quantity"]) * 1000 == D(read["quantity_kg"])


def test_a_demand_in_tonnes_is_stored_in_kg(app, client, market, tokens):
    created = post_demand(client, tokens["buyer"], demand_body(app, market, quantity="20", unit="tonelada",
                                                               min_lot_kg="500"))
    assert D(created["quantity_kg"]) == D("20000") and D(created["min_lot_kg"]) == D("500")
    with app.app_context():
        stored = db.session.get(Demand, created["id"])
        assert stored.quantity_kg == D("20000") and stored.unit == "tonelada"


# ------------------------------------------------------------------- several demands together


def test_optimising_two_demands_together_never_sells_a_kilo_twice(app, client, market, tokens):
    buyer = tokens["buyer"]
    first = post_demand(client, buyer, demand_body(app, market, quantity="1000"))["id"]
    second = post_demand(client, buyer, demand_body(app, market, quantity="1000"))["id"]
    # B's offer sets 300 of its 500 kg apart for the first demand; the rest may serve either.
    made = client.post(f"{API}/demands/{first}/offers", json=offer_body(market.listing_b, "300", "9000"),
                       headers=tokens["coop_b"])
    assert made.status_code == 201, made.get_json()

    response = client.post(f"{API}/matching/optimise", json={"demand_ids": [first, second, first]}, headers=buyer)
    assert response.status_code == 201, response.get_json()
    items = response.get_json()["items"]
    assert sorted(p["demand_id"] for p in items) == sorted([first, second])

    total: dict[int, Decimal] = defaultdict(Decimal)
    for proposal in items:
        allocated = sum((D(row["kg"]) for row in proposal["allocations"]), D(0))
        assert D(proposal["met_kg"]) == allocated <= D("1000")
        for listing_id, kg in kg_by(proposal["allocations"], "listing_id").items():
            total[listing_id] += kg
    assert total[market.listing_a] <= D("1000")
    assert total[market.listing_b] <= D("500")
    assert set(total) <= {market.listing_a, market.listing_b}
    # 2,000 kg asked, 1,500 kg in stock and no price cap: all of it is allocated, once.
    assert sum(total.values()) == D("1500")
    [for_second] = [p for p in items if p["demand_id"] == second]
    assert all(row["offer_id"] is None for row in for_second["allocations"])

    for proposal in items:
        latest = client.get(f"{API}/demands/{proposal['demand_id']}/proposals/latest", headers=buyer)
        assert latest.get_json()["id"] == proposal["id"]
    # Optimising proposes nothing to order yet: stock is untouched.
    assert stock(app, market.listing_a) == D("1000") and stock(app, market.listing_b) == D("500")


def test_a_new_proposal_supersedes_the_old_one_which_cannot_be_accepted(app, client, market, tokens):
    buyer = tokens["buyer"]
    demand_id = post_demand(client, buyer, demand_body(app, market))["id"]
    old = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).get_json()
    new = client.post(f"{API}/matching/optimise", json={"demand_ids": [demand_id]}, headers=buyer).get_json()
    [new] = new["items"]
    assert new["id"] != old["id"]
    assert client.get(f"{API}/proposals/{old['id']}", headers=buyer).get_json()["superseded"] is True
    before = counts(app)
    refused = client.post(f"{API}/proposals/{old['id']}/accept", json={"payment_method": "invoice"}, headers=buyer)
    assert refused.status_code == 409
    assert counts(app) == before


# ------------------------------------------------------------------- bad demands


BAD_DEMANDS = [
    pytest.param({"quantity": "0"}, id="quantity-zero"),
    pytest.param({"quantity": "-5"}, id="quantity-negative"),
    pytest.param({"quantity": 1200}, id="quantity-json-number"),
    pytest.param({"quantity": "1e3"}, id="quantity-exponent"),
    pytest.param({"quantity": "10000.001", "unit": "tonelada"}, id="quantity-too-large-in-tonnes"),
    pytest.param({"unit": "bulto"}, id="unit-without-fixed-weight"),
    pytest.param({"window_end": (START - timedelta(days=1)).isoformat()}, id="window-end-before-start"),
    pytest.param({"window_start": (TODAY - timedelta(days=2)).isoformat()}, id="window-start-in-past"),
    pytest.param({"window_end": (TODAY + timedelta(days=400)).isoformat()}, id="window-beyond-a-year"),
    pytest.param({"preferences": [{"attribute": "pdet", "min_share_percent": "150"}]}, id="share-150"),
    pytest.param({"preferences": [{"attribute": "pdet", "min_share_percent": "0"}]}, id="share-0"),
    pytest.param({"preferences": [{"attribute": "organic", "min_share_percent": "20"}]}, id="unknown-attribute"),
    pytest.param({"preferences": [{"attribute": "pdet"}]}, id="preference-without-share-or-weight"),
    pytest.param({"preferences": [{"attribute": "pdet", "min_share_percent": "20"},
                                  {"attribute": "pdet", "weight_cop_per_kg": "300"}]}, id="duplicate-preference"),
    pytest.param({"product_id": 1_999_999_999}, id="unknown-product"),
    pytest.param({"product_id": 0}, id="product-id-zero"),
    pytest.param({"source_departments": ["00"]}, id="department-00"),
    pytest.param({"source_departments": ["9"]}, id="department-one-digit"),
    pytest.param({"source_departments": ["52835"]}, id="department-is-a-municipality"),
    pytest.param({"min_lot_kg": "1200.001"}, id="min-lot-above-quantity"),
    pytest.param({"quantity": "1", "unit": "tonelada", "min_lot_kg": "1001"}, id="min-lot-above-tonne"),
    pytest.param({"min_lot_kg": "0"}, id="min-lot-zero"),
    pytest.param({"target_price_per_kg": "12000", "max_price_per_kg": "11000"}, id="target-above-max"),
    pytest.param({"max_price_per_kg": "0"}, id="max-price-zero"),
    pytest.param({"note": "x" * 1001}, id="note-too-long"),
    pytest.param({"window_start": "mañana"}, id="window-not-a-date"),
    pytest.param({"delivery_site_id": None}, id="no-site"),
]


@pytest.mark.parametrize("changes", BAD_DEMANDS)
def test_a_bad_demand_is_refused_and_writes_nothing(app, client, market, tokens, changes):
    before = counts(app)
    response = client.post(f"{API}/demands", json=demand_body(app, market, **changes), headers=tokens["buyer"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == 422
    assert counts(app) == before


def test_a_demand_needs_a_body(app, client, market, tokens):
    before = counts(app)
    response = client.post(f"{API}/demands", data="no es json", content_type="application/json",
                           headers=tokens["buyer"])
    assert 400 <= response.status_code < 500
    assert client.post(f"{API}/demands", json=[], headers=tokens["buyer"]).status_code == 422
    assert counts(app) == before


def test_a_min_lot_below_a_gram_is_a_422(app, client, market, tokens):
    before = counts(app)
    response = client.post(f"{API}/demands", json=demand_body(app, market, min_lot_kg="0.0004"),
                           headers=tokens["buyer"])
    assert response.status_code == 422
    assert counts(app) == before


def test_department_99_is_vichada_and_hides_the_demand_from_other_regions(app, client, market, tokens):
    """99 is a real DANE department (Vichada): a demand sourcing only from there is valid and
    concerns neither cooperative (Nariño, Caquetá)."""
    created = post_demand(client, tokens["buyer"], demand_body(app, market, source_departments=["99"]))
    assert created["source_departments"] == ["99"]
    for coop in ("coop_a", "coop_b"):
        assert created["id"] not in [d["id"] for d in client.get(f"{API}/demands", headers=tokens[coop])
                                     .get_json()["items"]]
        assert client.get(f"{API}/demands/{created['id']}", headers=tokens[coop]).status_code == 404
    proposal = client.post(f"{API}/demands/{created['id']}/proposals", headers=tokens["buyer"]).get_json()
    assert proposal["allocations"] == [] and D(proposal["met_kg"]) == 0 and proposal["reasons"]


def test_another_buyers_delivery_site_is_refused(app, client, market, tokens, other_buyer):
    before = counts(app)
    response = client.post(f"{API}/demands", json=demand_body(app, market, delivery_site_id=other_buyer["site_id"]),
                           headers=tokens["buyer"])
    assert response.status_code == 422
    assert counts(app) == before


@pytest.mark.parametrize("who", ["coop_a", "coop_b"])
def test_a_cooperative_may_not_post_a_demand(app, client, market, tokens, who):
    before = counts(app)
    response = client.post(f"{API}/demands", json=demand_body(app, market), headers=tokens[who])
    assert response.status_code == 403
    assert counts(app) == before


def test_the_api_needs_a_valid_token(app, client, market, tokens):
    before = counts(app)
    assert client.post(f"{API}/demands", json=demand_body(app, market)).status_code == 401
    bogus = {"Authorization": "Bearer mr_not-a-token"}
    assert client.post(f"{API}/demands", json=demand_body(app, market), headers=bogus).status_code == 401
    assert counts(app) == before


# ------------------------------------------------------------------- bad offers


@pytest.fixture
def demand_id(app, client, market, tokens) -> int:
    return post_demand(client, tokens["buyer"], demand_body(app, market))["id"]


@pytest.mark.parametrize(
    ("who", "listing", "changes"),
    [
        pytest.param("coop_b", "listing_b", {"quantity": "500.001"}, id="above-stock"),
        pytest.param("coop_b", "listing_b", {"quantity": "0.6", "unit": "tonelada"}, id="above-stock-in-tonnes"),
        pytest.param("coop_a", "listing_a", {"quantity": "1000.001"}, id="above-stock-a"),
        pytest.param("coop_b", "listing_a", {}, id="another-coops-listing"),
        pytest.param("coop_a", "listing_c", {"quantity": "100"}, id="listing-of-another-product"),
        pytest.param("coop_b", "listing_b", {"quantity": "0"}, id="quantity-zero"),
        pytest.param("coop_b", "listing_b", {"quantity": "-1"}, id="quantity-negative"),
        pytest.param("coop_b", "listing_b", {"quantity": 100}, id="quantity-json-number"),
        pytest.param("coop_b", "listing_b", {"price_per_kg": "0"}, id="price-zero"),
        pytest.param("coop_b", "listing_b", {"price_per_kg": "10000001"}, id="price-absurd"),
        pytest.param("coop_b", "listing_b", {"ready_date": (TODAY - timedelta(days=2)).isoformat()},
                     id="ready-in-past"),
        pytest.param("coop_b", "listing_b", {"ready_date": (END + timedelta(days=1)).isoformat()},
                     id="ready-after-window"),
        pytest.param("coop_b", "listing_b", {"listing_id": 1_999_999_999}, id="unknown-listing"),
    ],
)
def test_a_bad_offer_is_refused_and_writes_nothing(app, client, market, tokens, demand_id, who, listing, changes):
    before = counts(app)
    body = {**offer_body(getattr(market, listing)), **changes}
    response = client.post(f"{API}/demands/{demand_id}/offers", json=body, headers=tokens[who])
    assert response.status_code == 422, response.get_json()
    assert counts(app) == before


def test_an_offer_above_what_the_demand_asks_is_refused(app, client, market, tokens):
    small = post_demand(client, tokens["buyer"], demand_body(app, market, quantity="100"))["id"]
    before = counts(app)
    response = client.post(f"{API}/demands/{small}/offers", json=offer_body(market.listing_a, "100.001"),
                           headers=tokens["coop_a"])
    assert response.status_code == 422
    assert counts(app) == before


def test_a_cooperative_may_not_offer_on_a_demand_that_does_not_concern_it(app, client, market, tokens):
    buyer = tokens["buyer"]
    with app.app_context():
        cafe = product_id("cafe-pergamino-seco")
    # Only A sells café; only A is in Nariño (52).
    cafe_demand = post_demand(client, buyer, demand_body(app, market, product_id=cafe, quantity="100"))["id"]
    narino = post_demand(client, buyer, demand_body(app, market, source_departments=["52"]))["id"]
    before = counts(app)
    for demand_id in (cafe_demand, narino):
        assert client.get(f"{API}/demands/{demand_id}", headers=tokens["coop_b"]).status_code == 404
        assert client.get(f"{API}/demands/{demand_id}/offers", headers=tokens["coop_b"]).status_code == 404
        response = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b, "100"),
                               headers=tokens["coop_b"])
        assert response.status_code == 404
    assert counts(app) == before
    listed = [d["id"] for d in client.get(f"{API}/demands", headers=tokens["coop_b"]).get_json()["items"]]
    assert cafe_demand not in listed and narino not in listed
    # A sees both and may answer.
    assert client.get(f"{API}/demands/{narino}", headers=tokens["coop_a"]).status_code == 200
    made = client.post(f"{API}/demands/{cafe_demand}/offers", json=offer_body(market.listing_c, "100", "14000"),
                       headers=tokens["coop_a"])
    assert made.status_code == 201


def test_a_buyer_may_not_offer(app, client, market, tokens, demand_id):
    before = counts(app)
    response = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b),
                           headers=tokens["buyer"])
    assert response.status_code == 403
    assert counts(app) == before


def test_offering_again_on_the_same_listing_changes_the_one_offer(app, client, market, tokens, demand_id):
    first = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b, "200", "9500"),
                        headers=tokens["coop_b"]).get_json()
    second = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b, "300", "9400"),
                         headers=tokens["coop_b"])
    assert second.status_code == 201
    assert second.get_json()["id"] == first["id"]
    [only] = client.get(f"{API}/demands/{demand_id}/offers", headers=tokens["buyer"]).get_json()["items"]
    assert D(only["quantity_kg"]) == D("300") and D(only["price_per_kg"]) == D("9400")
    # The offer's kilos stay in the listing until an order takes them.
    assert stock(app, market.listing_b) == D("500")


# ------------------------------------------------------------------- other buyers


def test_another_buyer_can_neither_see_nor_touch_a_demand_or_its_proposal(app, client, market, tokens,
                                                                          other_buyer, demand_id):
    buyer, other = tokens["buyer"], other_buyer["headers"]
    proposal_id = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).get_json()["id"]
    before = counts(app)

    assert client.get(f"{API}/demands/{demand_id}", headers=other).status_code == 404
    assert client.get(f"{API}/demands/{demand_id}/offers", headers=other).status_code == 404
    assert client.get(f"{API}/demands/{demand_id}/proposals/latest", headers=other).status_code == 404
    assert client.get(f"{API}/proposals/{proposal_id}", headers=other).status_code == 404
    assert client.post(f"{API}/demands/{demand_id}/cancel", headers=other).status_code == 404
    assert client.post(f"{API}/demands/{demand_id}/proposals", headers=other).status_code == 404
    assert client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b),
                       headers=other).status_code == 404
    assert client.post(f"{API}/proposals/{proposal_id}/accept", json={"payment_method": "invoice"},
                       headers=other).status_code == 404
    assert client.post(f"{API}/matching/optimise", json={"demand_ids": [demand_id]}, headers=other).status_code == 404
    assert client.get(f"{API}/demands", headers=other).get_json()["items"] == []

    assert counts(app) == before
    demand = client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()
    assert demand["status"] == "open" and demand["order_id"] is None
    proposal = client.get(f"{API}/proposals/{proposal_id}", headers=buyer).get_json()
    assert proposal["accepted_at"] is None and proposal["superseded"] is False
    assert stock(app, market.listing_a) == D("1000")


def test_a_cooperative_may_not_cancel_propose_or_accept(app, client, market, tokens, demand_id):
    proposal_id = client.post(f"{API}/demands/{demand_id}/proposals", headers=tokens["buyer"]).get_json()["id"]
    before = counts(app)
    coop = tokens["coop_a"]
    assert client.post(f"{API}/demands/{demand_id}/cancel", headers=coop).status_code == 404
    assert client.post(f"{API}/demands/{demand_id}/proposals", headers=coop).status_code == 404
    assert client.post(f"{API}/matching/optimise", json={"demand_ids": [demand_id]}, headers=coop).status_code == 404
    assert client.post(f"{API}/proposals/{proposal_id}/accept", json={"payment_method": "invoice"},
                       headers=coop).status_code == 404
    assert counts(app) == before
    assert client.get(f"{API}/demands/{demand_id}", headers=tokens["buyer"]).get_json()["status"] == "open"


# ------------------------------------------------------------------- optimise and accept: bad input


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"demand_ids": []}, id="empty"),
        pytest.param({}, id="missing"),
        pytest.param({"demand_ids": [0]}, id="id-zero"),
        pytest.param({"demand_ids": "1"}, id="not-a-list"),
        pytest.param({"demand_ids": list(range(1, 202))}, id="too-many"),
    ],
)
def test_optimise_refuses_a_bad_list(app, client, market, tokens, demand_id, body):
    before = counts(app)
    response = client.post(f"{API}/matching/optimise", json=body, headers=tokens["buyer"])
    assert response.status_code == 422
    assert counts(app) == before


def test_optimise_with_another_buyers_demand_is_not_found_and_proposes_nothing(app, client, market, tokens,
                                                                               other_buyer, demand_id):
    other = other_buyer["headers"]
    theirs = post_demand(client, other, demand_body(app, market, delivery_site_id=other_buyer["site_id"]))["id"]
    before = counts(app)
    for ids in ([theirs], [demand_id, theirs], [demand_id, 1_999_999_999]):
        response = client.post(f"{API}/matching/optimise", json={"demand_ids": ids}, headers=tokens["buyer"])
        assert response.status_code == 404, ids
    assert counts(app) == before
    assert client.get(f"{API}/demands/{demand_id}/proposals/latest", headers=tokens["buyer"]).status_code == 404


@pytest.mark.parametrize("body", [{"payment_method": "cash"}, {}, {"payment_method": None}])
def test_accept_needs_a_known_payment_method(app, client, market, tokens, demand_id, body):
    proposal_id = client.post(f"{API}/demands/{demand_id}/proposals", headers=tokens["buyer"]).get_json()["id"]
    before = counts(app)
    response = client.post(f"{API}/proposals/{proposal_id}/accept", json=body, headers=tokens["buyer"])
    assert response.status_code == 422
    assert counts(app) == before
    assert client.get(f"{API}/demands/{demand_id}", headers=tokens["buyer"]).get_json()["status"] == "open"
    assert stock(app, market.listing_a) == D("1000") and stock(app, market.listing_b) == D("500")


def test_unknown_ids_are_not_found(app, client, market, tokens):
    buyer = tokens["buyer"]
    missing = 1_999_999_999
    assert client.get(f"{API}/demands/{missing}", headers=buyer).status_code == 404
    assert client.get(f"{API}/proposals/{missing}", headers=buyer).status_code == 404
    assert client.post(f"{API}/proposals/{missing}/accept", json={"payment_method": "invoice"},
                       headers=buyer).status_code == 404
    assert client.post(f"{API}/demands/{missing}/cancel", headers=buyer).status_code == 404


# ------------------------------------------------------------------- cancelling


def test_a_cancelled_demand_takes_no_proposal_offer_or_acceptance(app, client, market, tokens, demand_id):
    buyer = tokens["buyer"]
    made = client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_b, "200"),
                       headers=tokens["coop_b"]).get_json()
    proposal_id = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).get_json()["id"]

    cancelled = client.post(f"{API}/demands/{demand_id}/cancel", headers=buyer)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()["status"] == "cancelled"
    [closed] = client.get(f"{API}/demands/{demand_id}/offers", headers=buyer).get_json()["items"]
    assert closed["id"] == made["id"] and closed["status"] == "not_chosen"

    before = counts(app)
    assert client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).status_code == 409
    assert client.post(f"{API}/matching/optimise", json={"demand_ids": [demand_id]}, headers=buyer).status_code == 409
    assert client.post(f"{API}/demands/{demand_id}/cancel", headers=buyer).status_code == 409
    assert client.post(f"{API}/proposals/{proposal_id}/accept", json={"payment_method": "invoice"},
                       headers=buyer).status_code == 409
    assert client.post(f"{API}/demands/{demand_id}/offers", json=offer_body(market.listing_a, "100"),
                       headers=tokens["coop_a"]).status_code == 409
    assert counts(app) == before
    assert demand_id not in [d["id"] for d in client.get(f"{API}/demands", headers=tokens["coop_a"])
                             .get_json()["items"]]
    listed = client.get(f"{API}/demands", query_string={"status": "cancelled"}, headers=buyer).get_json()
    assert [d["id"] for d in listed["items"]] == [demand_id]


def test_a_demand_proposed_with_no_supply_cannot_be_accepted(app, client, market, tokens):
    """Every landed cost is above 1 COP/kg: nothing is allocated and accepting orders nothing."""
    buyer = tokens["buyer"]
    demand_id = post_demand(client, buyer, demand_body(app, market, max_price_per_kg="1"))["id"]
    proposal = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).get_json()
    assert proposal["allocations"] == [] and D(proposal["met_kg"]) == 0 and proposal["reasons"]
    before = counts(app)
    response = client.post(f"{API}/proposals/{proposal['id']}/accept", json={"payment_method": "invoice"},
                           headers=buyer)
    assert response.status_code == 409
    assert counts(app)["Order"] == before["Order"]
    assert client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()["status"] == "open"


def test_demands_list_pages_for_the_buyer(app, client, market, tokens):
    buyer = tokens["buyer"]
    ids = [post_demand(client, buyer, demand_body(app, market, quantity=str(100 + n)))["id"] for n in range(3)]
    page = client.get(f"{API}/demands", query_string={"page_size": 2}, headers=buyer).get_json()
    assert page["total"] == 3 and page["pages"] == 2
    assert [d["id"] for d in page["items"]] == sorted(ids, reverse=True)[:2]
    coop_page = client.get(f"{API}/demands", query_string={"page_size": 2, "page": 2}, headers=tokens["coop_a"])
    assert coop_page.get_json()["total"] == 3 and len(coop_page.get_json()["items"]) == 1
    assert client.get(f"{API}/demands", query_string={"status": "nope"}, headers=buyer).status_code == 422


def test_accepting_after_the_stock_changed_answers_409_with_the_new_proposal(app, client, market, tokens):
    """Another order takes 800 kg of A's listing between the proposal and the acceptance: no
    order is placed; the answer names the new proposal, which the buyer then accepts."""
    from tests.orders.conftest import order_body

    buyer = tokens["buyer"]
    demand_id = post_demand(client, buyer, demand_body(app, market))["id"]
    proposal = client.post(f"{API}/demands/{demand_id}/proposals", headers=buyer).get_json()
    assert kg_by(proposal["allocations"], "listing_id") == {market.listing_a: D("1000"), market.listing_b: D("200")}
    taken = client.post(f"{API}/orders", json=order_body(market, [(market.listing_a, "800", "kg")]),
                        headers={**buyer, "Idempotency-Key": "elsewhere"})
    assert taken.status_code == 201, taken.get_json()
    before = counts(app)

    refused = client.post(f"{API}/proposals/{proposal['id']}/accept", json={"payment_method": "invoice"},
                          headers=buyer)
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["code"] == 409 and "no se hizo ningún pedido" in body["message"]
    new_id = body["proposal_id"]
    assert new_id != proposal["id"] and body["proposal"]["id"] == new_id
    assert kg_by(body["proposal"]["allocations"], "listing_id") == {market.listing_a: D("200"),
                                                                     market.listing_b: D("500")}
    assert counts(app)["Order"] == before["Order"]
    assert stock(app, market.listing_a) == D("200") and stock(app, market.listing_b) == D("500")
    latest = client.get(f"{API}/demands/{demand_id}/proposals/latest", headers=buyer).get_json()
    assert latest["id"] == new_id and latest["accepted_at"] is None
    assert client.get(f"{API}/demands/{demand_id}", headers=buyer).get_json()["status"] == "open"

    accepted = client.post(f"{API}/proposals/{new_id}/accept", json={"payment_method": "invoice"}, headers=buyer)
    assert accepted.status_code == 201, accepted.get_json()
    done = accepted.get_json()
    order = client.get(f"{API}/orders/{done['order_id']}", headers=buyer).get_json()
    assert D(order["total"]) == D(latest["total_cop"]) == D(done["total_cop"])
    ordered = {line["listing_id"]: D(line["quantity_kg"]) for part in order["parts"] for line in part["lines"]}
    assert ordered == {market.listing_a: D("200"), market.listing_b: D("500")}
    assert stock(app, market.listing_a) == D("0") and stock(app, market.listing_b) == D("0")
