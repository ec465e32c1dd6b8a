"""The cooperative's home counts lead to filtered sales lists; every card names product, kilos,
buyer and deadline; invoices say by when they are paid; and the working tables carry a label on
every cell so they stack into cards on a phone."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.lifecycle import Receipt
from marketplace.orders.models import Order, OrderPart, PaymentMethod, PayoutStatus
from tests.conftest import login
from tests.orders.conftest import api_token
from tests.orders.helpers import D, part_of, place, user

FILTERS = ("por-responder", "por-alistar", "en-camino", "por-cobrar")


@pytest.fixture
def app(make_app):
    # Card payments configured (no call is made), so a card order can be compared with an invoice.
    return make_app(STRIPE_SECRET_KEY="sk_test_x")


class Page(HTMLParser):
    """Collects the sales cards, the sales tabs and every cell of every stacked table."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.cards: list[dict] = []
        self.tabs: dict[str, dict] = {}
        self.cells: list[tuple[str, dict]] = []  # (table index, attributes) of body and foot cells
        self.tables = 0
        self._card = None
        self._span = None
        self._tab = None
        self._section: list[str] = []
        self._stack: list[bool] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "li" and "sale-card" in classes:
            self._card = {"id": a.get("id"), "text": "", "parts": {}}
        elif self._card is not None and tag == "span" and classes and classes[0].startswith("sale-"):
            self._span = classes[0]
            self._card["parts"][self._span] = ""
        elif tag == "a" and "estado=" in (a.get("href") or "") or (tag == "a" and a.get("href") == "/ventas"):
            self._tab = {"href": a["href"], "current": a.get("aria-current"), "text": ""}
        elif tag == "table":
            self._stack.append("stack" in classes)
            if "stack" in classes:
                self.tables += 1
        elif tag in ("thead", "tbody", "tfoot"):
            self._section.append(tag)
        elif tag in ("td", "th") and self._stack and self._stack[-1] and self._section and self._section[-1] != "thead":
            self.cells.append((self.tables, a))

    def handle_endtag(self, tag):
        if tag == "li" and self._card is not None:
            self.cards.append(self._card)
            self._card = None
        elif tag == "span":
            self._span = None
        elif tag == "a" and self._tab is not None:
            self.tabs[self._tab["href"]] = self._tab
            self._tab = None
        elif tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("thead", "tbody", "tfoot") and self._section:
            self._section.pop()

    def handle_data(self, data):
        if self._card is not None:
            self._card["text"] += data
            if self._span:
                self._card["parts"][self._span] += data
        if self._tab is not None:
            self._tab["text"] += data


def _advance(app, market, order_id, coop_id, manager, steps):
    with app.app_context():
        part = part_of(order_id, coop_id)
        actor = user(manager)
        for step in steps:
            if step == "accept":
                services.accept(actor, part)
            elif step == "ready":
                services.mark_ready(actor, part)
            elif step == "ship":
                services.ship(actor, part)
        db.session.commit()
        return part.id


@pytest.fixture
def sales(app, market, factory):
    """Cooperative A (five sales): two orders waiting, one accepted, one in transit, one delivered
    and due to be paid. Cooperative B: one waiting order (part of a shared order) that A must never see."""
    waiting_1 = place(app, market, [(market.listing_a, "100", "kg")])
    shared = place(app, market, [(market.listing_c, "40", "kg"), (market.listing_b, "50", "kg")])
    accepted = place(app, market, [(market.listing_a, "60", "kg")])
    moving = place(app, market, [(market.listing_a, "70", "kg")])
    delivered = place(app, market, [(market.listing_a, "80", "kg")])
    _advance(app, market, accepted, market.coop_a, market.manager_a, ["accept"])
    _advance(app, market, moving, market.coop_a, market.manager_a, ["accept", "ready", "ship"])
    done = _advance(app, market, delivered, market.coop_a, market.manager_a, ["accept", "ready", "ship"])
    admin = factory.admin()
    with app.app_context():
        part = db.session.get(OrderPart, done)
        services.record_delivery(user(market.buyer), part, [Receipt(line_id=part.lines[0].id, received_kg=D("80"))])
        services.mark_invoice_paid(user(admin), db.session.get(Order, delivered), "BANCO-1")
        db.session.commit()
        assert db.session.get(OrderPart, done).payout_status == PayoutStatus.DUE
        other = part_of(shared, market.coop_b).id
        waiting = {part_of(waiting_1, market.coop_a).id, part_of(shared, market.coop_a).id}
    return {"waiting": waiting, "other_coop_part": other, "due": done}


def test_home_counts_open_lists_with_exactly_that_many_cards(app, market, sales):
    client = app.test_client()
    login(client, market.manager_a)
    home = client.get("/inicio").get_data(as_text=True)
    expected = {"por-responder": 2, "por-alistar": 1, "en-camino": 1, "por-cobrar": 1}
    for name, count in expected.items():
        link = re.search(rf'<a href="/ventas\?estado={name}">(?:<strong>)?[^<]*?(\d+)', home)
        assert link, f"the home page links to {name}"
        assert int(link.group(1)) == count
        response = client.get(f"/ventas?estado={name}")
        assert response.status_code == 200
        page = Page(response.get_data(as_text=True))
        assert len(page.cards) == count, name
        tab = page.tabs[f"/ventas?estado={name}"]
        assert tab["current"] == "page" and str(count) in tab["text"]
        assert [t for t in page.tabs.values() if t["current"]] == [tab]
        for card in page.cards:
            assert f"venta-{sales['other_coop_part']}" != card["id"]
    waiting = Page(client.get("/ventas?estado=por-responder").get_data(as_text=True))
    assert {c["id"] for c in waiting.cards} == {f"venta-{i}" for i in sales["waiting"]}
    everything = Page(client.get("/ventas").get_data(as_text=True))
    assert len(everything.cards) == 5 and f"venta-{sales['other_coop_part']}" not in {c["id"] for c in everything.cards}
    assert everything.tabs["/ventas"]["current"] == "page"


def test_each_card_names_product_kilos_buyer_and_deadline(app, market, sales):
    client = app.test_client()
    login(client, market.manager_a)
    for name in FILTERS:
        for card in Page(client.get(f"/ventas?estado={name}").get_data(as_text=True)).cards:
            parts = card["parts"]
            assert "Cacao" in parts["sale-products"] or "Café" in parts["sale-products"], card
            assert re.search(r"\d kg", parts["sale-kg"]), card
            assert parts["sale-buyer"] == "Chocolates Andinos S.A.S."
            assert parts.get("sale-deadline", "").strip(), card
    waiting = Page(client.get("/ventas?estado=por-responder").get_data(as_text=True)).cards
    assert all("Responda antes del" in c["parts"]["sale-deadline"] for c in waiting)
    due = Page(client.get("/ventas?estado=por-cobrar").get_data(as_text=True)).cards
    assert "Se le paga hacia el" in due[0]["parts"]["sale-deadline"]
    client.post("/idioma", data={"lang": "en"})
    english = Page(client.get("/ventas?estado=por-responder").get_data(as_text=True)).cards
    products = " ".join(c["parts"]["sale-products"] for c in english)
    assert "Dry cacao beans" in products, products  # product names in the reader's language
    assert "Cacao en grano seco" not in products


def test_unknown_filter_and_bad_page_get_a_message_not_an_error(app, market, sales):
    client = app.test_client()
    login(client, market.manager_a)
    response = client.get("/ventas?estado=todo-junto")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Ese filtro de ventas no existe" in html and "sale-card" not in html
    assert client.get("/ventas?estado=por-responder&pagina=abc").status_code == 200
    assert client.get("/ventas?pagina=-5").status_code == 200
    assert len(Page(client.get("/ventas?pagina=999").get_data(as_text=True)).cards) == 5


def test_long_lists_are_paginated(app, market, sales):
    with app.app_context():
        first = services.cooperative_sales(market.coop_a, None, 1, per_page=4)
        second = services.cooperative_sales(market.coop_a, None, 2, per_page=4)
        assert (first.total, first.pages, len(first.parts), len(second.parts)) == (5, 2, 4, 1)
        assert not {p.id for p in first.parts} & {p.id for p in second.parts}
        with pytest.raises(services.UnknownSaleFilter):
            services.cooperative_sales(market.coop_a, "nada")


def test_invoice_says_by_when_and_card_keeps_its_words(app, market):
    invoice = place(app, market, [(market.listing_a, "100", "kg")])
    card = place(app, market, [(market.listing_a, "10", "kg")], payment_method="card")
    client = app.test_client()
    login(client, market.buyer)
    with app.app_context():
        order = db.session.get(Order, invoice)
        due = services.payment_due(order)
        assert due.invoice and due.due_date == order.invoice_due_date and due.amount == services.amount_due(order)
        assert db.session.get(Order, card).payment_method == PaymentMethod.CARD
    html = client.get(f"/pedidos/{invoice}").get_data(as_text=True)
    assert "A pagar hoy" not in html and "Cobrado al pedir" not in html
    day = re.search(r"vence el ([^<·]+?)(?: ·|</dd>)", html).group(1).strip()
    label = re.search(r"<dt>([^<]*)</dt><dd id=\"amount-due\">([^<]+)</dd>", html)
    assert label.group(1) == f"A pagar antes del {day}"
    card_html = client.get(f"/pedidos/{card}").get_data(as_text=True)
    assert "A pagar hoy" in card_html and "Cobrado al pedir" in card_html


def test_staff_invoice_list_shows_the_buyers_figure(app, market, factory):
    invoice = place(app, market, [(market.listing_a, "100", "kg")])
    buyer = app.test_client()
    login(buyer, market.buyer)
    shown = re.search(r'id="amount-due">([^<]+)<', buyer.get(f"/pedidos/{invoice}").get_data(as_text=True)).group(1)
    staff = app.test_client()
    login(staff, factory.admin())
    html = staff.get("/admin/pedidos").get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Order, invoice).invoice_number
    row = re.search(rf"{number}</a></td>.*?</tr>", html, re.S).group(0)
    assert shown in row
    # And the API's amount_due is the same figure.
    api = app.test_client().get(f"/api/v1/orders/{invoice}", headers=api_token(app, market.buyer)).get_json()
    assert f"$ {int(D(api['amount_due'])):,}".replace(",", ".") == shown


def _stacked_cells_all_labelled(html: str) -> int:
    page = Page(html)
    missing = [a for _t, a in page.cells if "data-label" not in a]
    assert not missing, missing[:3]
    return len(page.cells)


def test_working_tables_label_every_cell(app, market, sales, factory):
    buyer = app.test_client()
    login(buyer, market.buyer)
    buyer.post(f"/pedido/agregar/{market.listing_a}", data={"quantity": "4", "unit": "arroba"})
    cart = buyer.get("/pedido").get_data(as_text=True)
    assert 'class="lines stack"' in cart and _stacked_cells_all_labelled(cart) >= 4
    assert re.search(r'data-label="Precio / kg" class="num">\$', cart)
    with app.app_context():
        order_id = db.session.get(OrderPart, sales["due"]).order_id
    order = buyer.get(f"/pedidos/{order_id}").get_data(as_text=True)
    assert _stacked_cells_all_labelled(order) >= 5
    assert _stacked_cells_all_labelled(buyer.get("/pedidos").get_data(as_text=True)) >= 5
    coop = app.test_client()
    login(coop, market.manager_a)
    sale = coop.get(f"/ventas/{sales['due']}").get_data(as_text=True)
    assert _stacked_cells_all_labelled(sale) >= 5 and 'data-label="Precio / kg"' in sale
    staff = app.test_client()
    login(staff, factory.admin())
    assert _stacked_cells_all_labelled(staff.get("/admin/pedidos").get_data(as_text=True)) >= 5
    assert _stacked_cells_all_labelled(staff.get("/admin/organizaciones?estado=").get_data(as_text=True)) >= 6
    for path in ("/admin/logistica", "/admin/logistica/lugares", "/admin/catalogo", "/admin/mensajes",
                 "/seguimiento/indicadores", "/admin/auditoria"):
        response = staff.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert _stacked_cells_all_labelled(response.get_data(as_text=True)) >= 1, path
