"""A cooperative's answer to a waiting order, kept on an offline phone and sent when the
connection returns, acts once however many times it arrives."""

import re
import uuid

from marketplace.extensions import db
from marketplace.orders.models import PartStatus
from tests.conftest import login
from tests.orders.helpers import events, part_of, place


def test_the_sale_page_gives_each_answer_its_own_key(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part_id = part_of(order_id, market.coop_a).id
    client = app.test_client()
    login(client, market.manager_a)
    page = client.get(f"/ventas/{part_id}").get_data(as_text=True)
    keys = re.findall(r'name="idempotency_key" value="([^"]+)"', page)
    assert len(keys) == 2 and len(set(keys)) == 2  # accept and decline


def test_an_answer_sent_twice_acts_once(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part_id = part_of(order_id, market.coop_a).id
    client = app.test_client()
    login(client, market.manager_a)
    key = str(uuid.uuid4())
    first = client.post(f"/pedidos/partes/{part_id}/accept", data={"idempotency_key": key})
    assert first.status_code == 303 and first.headers["Location"] == f"/ventas/{part_id}"
    again = client.post(f"/pedidos/partes/{part_id}/accept", data={"idempotency_key": key})
    assert again.status_code == 303 and again.headers["Location"] == f"/ventas/{part_id}"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "no se hizo dos veces" in page and "No se puede" not in page
    # The same key cannot carry a second, different answer either.
    assert client.post(f"/pedidos/partes/{part_id}/ready", data={"idempotency_key": key}).status_code == 303
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        assert part.status == PartStatus.ACCEPTED
        assert [to for _from, to, _actor in events(part_id)].count("accepted") == 1
    # A new key is a new answer.
    assert client.post(f"/pedidos/partes/{part_id}/ready", data={"idempotency_key": str(uuid.uuid4())}).status_code == 303
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.READY


def test_a_refused_answer_leaves_its_key_unused_and_another_user_key_is_theirs(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    with app.app_context():
        part_a = part_of(order_id, market.coop_a).id
        part_b = part_of(order_id, market.coop_b).id
    key = str(uuid.uuid4())
    coop_a = app.test_client()
    login(coop_a, market.manager_a)
    # Refused (not ready before accepting): the key stays free for a real answer.
    assert coop_a.post(f"/pedidos/partes/{part_a}/ready", data={"idempotency_key": key}).status_code == 303
    assert coop_a.post(f"/pedidos/partes/{part_a}/decline", data={"idempotency_key": key}).status_code == 303
    coop_b = app.test_client()
    login(coop_b, market.manager_b)
    assert coop_b.post(f"/pedidos/partes/{part_b}/accept", data={"idempotency_key": key}).status_code == 303
    with app.app_context():
        db.session.expire_all()
        assert part_of(order_id, market.coop_a).status == PartStatus.DECLINED
        assert part_of(order_id, market.coop_b).status == PartStatus.ACCEPTED
