"""The listing form starts where a cooperative usually is: its own pickup point, empty
numbers, certifications as a labelled group of large checkboxes."""

from __future__ import annotations

import re
from collections import Counter

from marketplace.accounts.models import Cooperative
from marketplace.catalog import services
from marketplace.catalog.models import Listing
from marketplace.extensions import db
from tests.catalog.test_listing_pages import _form, catalogue  # noqa: F401 - the fixture
from tests.conftest import login


def _selected_point(html: str) -> str:
    select = re.search(r'<select[^>]*id="collection_point"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = re.findall(r'<option([^>]*)>([^<]*)</option>', select)
    chosen = [label for attrs, label in options if "selected" in attrs]
    return chosen[0] if chosen else options[0][1]  # a browser shows the first option when none is chosen


def test_a_new_listing_starts_at_the_pickup_point_last_used(app, factory, catalogue):  # noqa: F811
    coop_id, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    page = f"/ofertas/nueva?producto={catalogue['cacao']}"
    html = client.get(page).get_data(as_text=True)
    assert _selected_point(html) == "— Nuevo centro de acopio —"  # none yet
    assert client.post(page, data=_form(catalogue, new_point="Vereda La Playa")).status_code == 302
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        services.add_collection_point(coop, "Bodega del Puerto", None, None)  # newer, never used
        db.session.commit()
    html = client.get(page).get_data(as_text=True)
    assert _selected_point(html).startswith("Vereda La Playa")
    # Listing from the newer point makes it the one proposed next.
    with app.app_context():
        point_id = next(p.id for p in services.collection_points(db.session.get(Cooperative, coop_id))
                        if p.name == "Bodega del Puerto")
    assert client.post(page, data=_form(catalogue, collection_point=str(point_id), new_point="")).status_code == 302
    assert _selected_point(client.get(page).get_data(as_text=True)).startswith("Bodega del Puerto")
    with app.app_context():
        assert db.session.query(Listing).count() == 2


def test_the_listing_form_has_empty_numbers_a_certification_fieldset_and_unique_ids(app, factory,
                                                                                   catalogue):  # noqa: F811
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    html = client.get(f"/ofertas/nueva?producto={catalogue['cacao']}").get_data(as_text=True)
    for name in ("quantity", "price", "unit_kg", "min_order", "latitude", "longitude"):
        tag = re.search(rf'<input[^>]*id="{name}"[^>]*>', html).group(0)
        assert 'value="0"' not in tag and 'value="None"' not in tag, tag
    group = re.search(r'<fieldset class="field check-group"[^>]*id="certifications"[^>]*>(.*?)</fieldset>', html, re.S)
    assert group and "<legend>Certificaciones</legend>" in group.group(1)
    assert len(re.findall(r'<label class="check" for="certifications-\d+"><input type="checkbox"', group.group(1))) >= 3
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert not [i for i, n in Counter(ids).items() if n > 1]
    assert "=\"None\"" not in html
    assert '<a href="/ofertas" aria-current="page">Mis ofertas</a>' in html
    # A refused form summarises its errors with links to the fields.
    refused = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue, quantity="",
                                                                                      price="mucho"))
    text = refused.get_data(as_text=True)
    assert 'id="error-summary"' in text and 'href="#quantity">Cantidad: ' in text and 'href="#price">' in text
