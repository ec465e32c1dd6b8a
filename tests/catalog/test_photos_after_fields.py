"""A listing form checks its other fields before decoding any photo: a form refused for a bad
date or quantity pays only for the cheap header checks, and still keeps the photo (as sent) for
the next submit, which decodes it once."""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from marketplace.catalog import pending
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, PendingUpload, Product
from marketplace.core import images
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.accounts.helpers import field_error
from tests.catalog.helpers import listing_form
from tests.conftest import login

TODAY = bogota_date()
TOKEN = re.compile(r'name="foto_pendiente" value="([^"]+)"')


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(UPLOAD_FOLDER=str(tmp_path / "uploads"))


@pytest.fixture
def catalogue(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        return {"cacao": cacao.id, "grade": cacao.grades[0].id}


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """Counts full decodes: every listing photo goes through core.images.decode."""
    calls: list[int] = []
    real = images.decode

    def counting(data, *args, **kwargs):
        calls.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(images, "decode", counting)
    return calls


@pytest.fixture
def client(app, factory):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    return client


def _jpeg(size=(2400, 1800), noise: bool = False) -> bytes:
    image = (Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise
             else Image.new("RGB", size, (110, 62, 35)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


def _form(catalogue, **changes):
    return listing_form(catalogue["grade"], **{"description": "", **changes})


def _post(client, catalogue, url=None, **data):
    return client.post(url or f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue, **data),
                       content_type="multipart/form-data")


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("wrong, field, message", [
    ({"available_from": (TODAY - timedelta(days=3)).isoformat()}, "available_from", "pasado"),
    ({"available_until": (TODAY - timedelta(days=1)).isoformat()}, "available_until", "pasado"),
    ({"quantity": "0"}, "quantity", "mayor que cero"),
    ({"price": "0"}, "price", "precio"),
])
def test_a_form_refused_for_another_field_decodes_no_photo_and_keeps_it(
        app, client, catalogue, decodes, wrong, field, message):
    refused = _post(client, catalogue, photos=[(io.BytesIO(_jpeg()), "a.jpg"), (io.BytesIO(_jpeg()), "b.jpg")],
                    **wrong)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert message in field_error(html, field)
    assert decodes == []
    tokens = TOKEN.findall(html)
    assert len(tokens) == 2 and _count(app, Listing) == 0
    # The fix sends no photo again: the two kept are decoded now, once each.
    fixed = _post(client, catalogue, foto_pendiente=tokens)
    assert fixed.status_code == 302
    assert len(decodes) == 2
    with app.app_context():
        assert len(db.session.scalar(select(Listing)).photos) == 2
    assert _count(app, PendingUpload) == 0


def test_editing_refused_for_a_bad_date_decodes_no_photo(app, client, catalogue, decodes):
    assert _post(client, catalogue).status_code == 302
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        url, point = f"/ofertas/{listing.id}/editar", str(listing.collection_point_id)
    refused = _post(client, catalogue, url, collection_point=point, new_point="",
                    available_until=(TODAY - timedelta(days=1)).isoformat(), photos=(io.BytesIO(_jpeg()), "c.jpg"))
    assert refused.status_code == 422 and decodes == []
    (token,) = TOKEN.findall(refused.get_data(as_text=True))
    assert _post(client, catalogue, url, collection_point=point, new_point="", foto_pendiente=token).status_code == 302
    assert len(decodes) == 1


def test_the_cheap_checks_still_answer_at_once_on_a_refused_form(app, client, catalogue, decodes):
    """A photo too large in pixels is refused from its header, beside the other field's error."""
    out = io.BytesIO()
    Image.new("L", (4000, 4000)).save(out, format="PNG")  # 16 MP, over the 12 MP a 1,280 px photo needs
    refused = _post(client, catalogue, quantity="0", photos=(io.BytesIO(out.getvalue()), "big.png"))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "megapíxeles" in html and "mayor que cero" in field_error(html, "quantity")
    assert decodes == [] and TOKEN.findall(html) == []


def test_a_kept_photo_that_cannot_be_decoded_is_explained_and_dropped(app, client, catalogue, decodes):
    broken = _jpeg()[:3000]  # its header is whole; its pixels are not
    refused = _post(client, catalogue, quantity="0", photos=(io.BytesIO(broken), "roto.jpg"))
    (token,) = TOKEN.findall(refused.get_data(as_text=True))
    answer = _post(client, catalogue, foto_pendiente=token)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "no es una foto" in field_error(html, "photos")
    assert token not in html and _count(app, PendingUpload) == 0 and _count(app, Listing) == 0
    assert len(decodes) == 1
    folder = app.config["UPLOAD_FOLDER"]
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_a_large_kept_photo_is_shown_as_a_placeholder_not_sent_back(app, client, catalogue, decodes):
    heavy = _jpeg((1200, 900), noise=True)
    assert len(heavy) > pending.PREVIEW_MAX_BYTES
    refused = _post(client, catalogue, quantity="0", photos=(io.BytesIO(heavy), "pesada.jpg"))
    (token,) = TOKEN.findall(refused.get_data(as_text=True))
    shown = client.get(f"/ofertas/fotos-pendientes/{token}")
    assert shown.status_code == 200 and shown.mimetype == "image/svg+xml" and len(shown.data) < 2000
    assert "no-store" in shown.headers["Cache-Control"] and shown.headers["X-Content-Type-Options"] == "nosniff"
    assert decodes == []
