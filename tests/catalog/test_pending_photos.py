"""A refused listing form never loses a chosen photo: the server keeps it for its uploader
as a pending upload and the next submit uses it without sending it again. Withdrawing asks
first, and expired listings offer only what still applies."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from marketplace.catalog import pending
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, ListingPhoto, ListingStatus, PendingUpload, Product
from marketplace.core.models import bogota_date, utcnow
from marketplace.extensions import db
from tests.accounts.helpers import field_error
from tests.catalog.helpers import jpeg_photo, listing_form
from tests.conftest import login

TODAY = bogota_date()
TOKEN = re.compile(r'name="foto_pendiente" value="([^"]+)"')


@pytest.fixture
def app(make_app, tmp_path):
    """The application with an upload folder of this test's own, so files can be counted."""
    return make_app(UPLOAD_FOLDER=str(tmp_path / "uploads"))


@pytest.fixture
def catalogue(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        return {"cacao": cacao.id, "grade": cacao.grades[0].id}


def _photo(size=(2400, 1800)) -> tuple:
    return jpeg_photo(size)


def _form(catalogue, **changes):
    return listing_form(catalogue["grade"], **{"description": "", **changes})


def _post(client, catalogue, **data):
    return client.post(f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue, **data),
                       content_type="multipart/form-data")


def _files(app) -> set[str]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _refused_with_photo(app, client, catalogue) -> str:
    """A listing with a photo and a wrong quantity: refused, the photo kept. Its token."""
    response = _post(client, catalogue, quantity="0", photos=_photo())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "mayor que cero" in field_error(html, "quantity")
    (token,) = TOKEN.findall(html)
    assert "Fotos ya recibidas" in html and f"/ofertas/fotos-pendientes/{token}" in html
    assert _count(app, Listing) == 0
    return token


def test_a_refused_form_keeps_the_photo_and_the_fix_uses_it_without_a_new_upload(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    token = _refused_with_photo(app, client, catalogue)
    with app.app_context():
        row = db.session.scalar(select(PendingUpload))
        assert row.token == token and row.user_id == manager.user_id
        # Kept as sent, not decoded: the form was refused before any photo was (the size is the header's).
        assert (row.width, row.height) == (2400, 1800) and pending.is_unprocessed(row)
        hours = (row.expires_at - row.created_at).total_seconds() / 3600
        assert hours == app.config["PENDING_UPLOAD_HOURS"] == 6
        key = row.key
    assert _files(app) == {key}
    thumb = client.get(f"/ofertas/fotos-pendientes/{token}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and "no-store" in thumb.headers["Cache-Control"]

    # A second refusal (another wrong field) keeps carrying the same photo, stored once.
    again = _post(client, catalogue, price="0", foto_pendiente=token)
    assert again.status_code == 422 and TOKEN.findall(again.get_data(as_text=True)) == [token]
    assert _count(app, PendingUpload) == 1

    fixed = _post(client, catalogue, foto_pendiente=token)
    assert fixed.status_code == 302
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        (photo,) = listing.photos
        # Decoded and re-encoded now that the form is valid; the file as sent is gone.
        assert max(photo.width, photo.height) <= 1280 and key not in (photo.key, photo.thumb_key)
        thumb_key = photo.thumb_key
    assert _count(app, PendingUpload) == 0
    assert _files(app) == {photo.key, thumb_key}  # no orphan files
    assert client.get(f"/media/{thumb_key}").status_code == 200
    assert client.get(f"/ofertas/fotos-pendientes/{token}").status_code == 404
    # Consumed: the token cannot add the photo to another listing.
    assert _post(client, catalogue, foto_pendiente=token).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ListingPhoto)) == 1


def test_another_users_token_is_ignored_and_its_thumbnail_is_not_served(app, factory, catalogue):
    _a, owner = factory.cooperative()
    _b, other = factory.cooperative()
    owner_client, other_client = app.test_client(), app.test_client()
    login(owner_client, owner)
    login(other_client, other)
    token = _refused_with_photo(app, owner_client, catalogue)
    assert other_client.get(f"/ofertas/fotos-pendientes/{token}").status_code == 404
    response = _post(other_client, catalogue, foto_pendiente=token)
    assert response.status_code == 302
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        assert listing.photos == []
        assert db.session.scalar(select(PendingUpload)).user_id == owner.user_id
    # A refused form of the other user does not show the owner's photo either.
    refused = _post(other_client, catalogue, quantity="0", foto_pendiente=token)
    assert refused.status_code == 422 and token not in refused.get_data(as_text=True)


def test_expired_pending_photos_are_ignored_and_the_sweep_deletes_them_with_their_files(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    old = _refused_with_photo(app, client, catalogue)
    fresh = _refused_with_photo(app, client, catalogue)
    with app.app_context():
        db.session.execute(update(PendingUpload).where(PendingUpload.token == old)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        old_row = db.session.scalar(select(PendingUpload).where(PendingUpload.token == old))
        old_files = {old_row.key, old_row.thumb_key}
        fresh_row = db.session.scalar(select(PendingUpload).where(PendingUpload.token == fresh))
        fresh_files = {fresh_row.key, fresh_row.thumb_key}
    assert client.get(f"/ofertas/fotos-pendientes/{old}").status_code == 404
    refused = _post(client, catalogue, quantity="0", foto_pendiente=old)
    assert old not in refused.get_data(as_text=True)

    result = app.test_cli_runner().invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 fotos pendientes vencidas borradas" in result.output
    with app.app_context():
        assert db.session.scalars(select(PendingUpload.token)).all() == [fresh]
    files = _files(app)
    assert not old_files & files and fresh_files <= files
    with app.app_context():
        assert pending.cleanup(app.extensions["marketplace_storage"]) == 0


def test_quitar_drops_a_pending_photo_and_its_files(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    token = _refused_with_photo(app, client, catalogue)
    response = _post(client, catalogue, foto_pendiente=token, quitar_foto=token)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Listing)).photos == []
    assert _count(app, PendingUpload) == 0 and _files(app) == set()


def test_a_bad_photo_is_explained_and_not_kept_while_a_good_one_is(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    response = _post(client, catalogue, photos=[_photo(), (io.BytesIO(b"MZ\x90 not a picture"), "x.jpg")])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "no es una foto" in field_error(html, "photos")
    assert len(TOKEN.findall(html)) == 1 and _count(app, Listing) == 0


def test_editing_a_listing_keeps_a_refused_photo_too(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    assert _post(client, catalogue, photos=_photo()).status_code == 302
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        listing_id, point = listing.id, listing.collection_point_id
    url = f"/ofertas/{listing_id}/editar"
    edit = _form(catalogue, collection_point=str(point), new_point="")
    refused = client.post(url, data={**edit, "quantity": "0", "photos": _photo()}, content_type="multipart/form-data")
    assert refused.status_code == 422
    (token,) = TOKEN.findall(refused.get_data(as_text=True))
    saved = client.post(url, data={**edit, "foto_pendiente": token}, content_type="multipart/form-data")
    assert saved.status_code == 302
    with app.app_context():
        photos = db.session.get(Listing, listing_id).photos
        assert [p.position for p in photos] == [0, 1]
    assert _count(app, PendingUpload) == 0 and len(_files(app)) == 4


def test_withdrawing_asks_first_even_without_javascript(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    _b, other = factory.cooperative()
    client, other_client = app.test_client(), app.test_client()
    login(client, manager)
    login(other_client, other)
    assert _post(client, catalogue).status_code == 302
    with app.app_context():
        listing_id = db.session.scalar(select(Listing.id))
    mine = client.get("/ofertas").get_data(as_text=True)
    assert f'href="/ofertas/{listing_id}/retirar"' in mine and 'value="withdraw"' not in mine

    asked = client.post(f"/ofertas/{listing_id}/estado", data={"action": "withdraw"})
    assert asked.status_code == 302 and asked.headers["Location"].endswith(f"/ofertas/{listing_id}/retirar")
    page = client.get(f"/ofertas/{listing_id}/retirar").get_data(as_text=True)
    assert "¿Seguro que quiere retirar esta oferta?" in page and 'name="confirm" value="1"' in page
    assert other_client.get(f"/ofertas/{listing_id}/retirar").status_code == 404
    with app.app_context():
        assert db.session.get(Listing, listing_id).status == ListingStatus.ACTIVE

    done = client.post(f"/ofertas/{listing_id}/estado", data={"action": "withdraw", "confirm": "1"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(Listing, listing_id).status == ListingStatus.WITHDRAWN


def test_expired_listings_show_what_applies_instead_of_pause_and_withdraw(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    assert _post(client, catalogue).status_code == 302
    assert _post(client, catalogue).status_code == 302
    with app.app_context():
        expired_id, live_id = db.session.scalars(select(Listing.id).order_by(Listing.id)).all()
        db.session.execute(update(Listing).where(Listing.id == expired_id).values(
            available_from=TODAY - timedelta(days=20), available_until=TODAY - timedelta(days=1)))
        db.session.commit()
    html = client.get("/ofertas").get_data(as_text=True)
    cards = dict(re.findall(r'<li class="card" id="oferta-(\d+)">(.*?)</li>', html, re.S))
    expired, live = cards[str(expired_id)], cards[str(live_id)]
    assert "Vencida: edite las fechas para volver a publicarla." in expired
    assert "Pausar" not in expired and "Retirar" not in expired and f"/ofertas/{expired_id}/editar" in expired
    assert "Pausar" in live and "Retirar" in live and "Vencida" not in live


def test_a_withdrawn_listing_offers_reopening_only_while_its_dates_allow_it(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    assert _post(client, catalogue).status_code == 302
    assert _post(client, catalogue).status_code == 302
    with app.app_context():
        past_id, current_id = db.session.scalars(select(Listing.id).order_by(Listing.id)).all()
        db.session.execute(update(Listing).values(status=ListingStatus.WITHDRAWN))
        db.session.execute(update(Listing).where(Listing.id == past_id).values(
            available_from=TODAY - timedelta(days=20), available_until=TODAY - timedelta(days=1)))
        db.session.commit()
    html = client.get("/ofertas").get_data(as_text=True)
    cards = dict(re.findall(r'<li class="card" id="oferta-(\d+)">(.*?)</li>', html, re.S))
    # The service refuses to reopen a listing whose dates have passed, and a withdrawn one cannot be
    # edited: the button would be a dead end.
    assert "Volver a abrir" not in cards[str(past_id)] and "Retirada" in cards[str(past_id)]
    assert "Volver a abrir" in cards[str(current_id)]


def test_refused_forms_sent_again_and_again_keep_only_the_newest_photos(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    tokens = []
    for _ in range(pending.MAX_PER_USER // 3 + 1):
        response = _post(client, catalogue, quantity="0", photos=[_photo((320, 240)) for _ in range(3)])
        assert response.status_code == 422
        tokens += TOKEN.findall(response.get_data(as_text=True))
    with app.app_context():
        kept = db.session.scalars(select(PendingUpload.token)).all()
    assert len(kept) == pending.MAX_PER_USER and set(kept) == set(tokens[-pending.MAX_PER_USER:])
    assert len(_files(app)) == pending.MAX_PER_USER  # each kept as sent, one file
