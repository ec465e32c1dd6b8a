"""Delivery evidence photos: a refused delivery form leaves no file; an accepted one keeps its own."""

import io
from pathlib import Path

from PIL import Image

from marketplace.extensions import db
from marketplace.orders.models import Order, OrderLine
from tests.conftest import login
from tests.orders.test_pages import _place_from_pages


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (150, 90, 30)).save(out, format="JPEG")
    return out.getvalue()


def _files(app) -> set[str]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _shipped(app, market):
    buyer, order_id = _place_from_pages(app, market, [(market.listing_a, "100", "kg")])
    coop = app.test_client()
    login(coop, market.manager_a)
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        part_id, line_id = part.id, part.lines[0].id
    for action in ("accept", "ready"):
        assert coop.post(f"/pedidos/partes/{part_id}/{action}", data={}).status_code == 303
    assert coop.post(f"/pedidos/partes/{part_id}/ship", data={"logistics_borne": "20.000"}).status_code == 303
    return buyer, part_id, line_id


def test_a_refused_delivery_form_leaves_no_file_and_an_accepted_one_keeps_its_photo(app, market):
    buyer, part_id, line_id = _shipped(app, market)
    before = _files(app)
    url = f"/pedidos/partes/{part_id}/recibir"
    for _try in range(3):  # a bad kilo value, three times, each with a rejection photo
        bad = buyer.post(url, data={f"received-{line_id}": "150", f"quality-{line_id}": "rejected",
                                    f"reason-{line_id}": "Granos mohosos",
                                    f"photo-{line_id}": (io.BytesIO(_jpeg()), "moho.jpg")},
                         content_type="multipart/form-data")
        assert bad.status_code == 422 and "entre 0 y" in bad.get_data(as_text=True)
    assert _files(app) == before
    done = buyer.post(url, data={f"received-{line_id}": "100", f"quality-{line_id}": "rejected",
                                 f"reason-{line_id}": "Granos mohosos",
                                 f"photo-{line_id}": (io.BytesIO(_jpeg()), "moho.jpg")},
                      content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    with app.app_context():
        key = db.session.get(OrderLine, line_id).rejection_photo_key
    assert key and _files(app) - before == {key}


def test_a_bad_evidence_photo_is_explained_and_nothing_is_recorded(app, market):
    buyer, part_id, line_id = _shipped(app, market)
    before = _files(app)
    response = buyer.post(f"/pedidos/partes/{part_id}/recibir",
                          data={f"received-{line_id}": "100", f"quality-{line_id}": "rejected",
                                f"reason-{line_id}": "Granos mohosos",
                                f"photo-{line_id}": (io.BytesIO(b"MZ not a picture"), "x.jpg")},
                          content_type="multipart/form-data")
    assert response.status_code == 422 and "no es una foto" in response.get_data(as_text=True)
    with app.app_context():
        line = db.session.get(OrderLine, line_id)
        assert line.rejection_photo_key is None and line.received_kg is None
    assert _files(app) == before


def test_prune_removes_only_old_unreferenced_files(app, market, tmp_path):
    import os
    import time

    from marketplace.accounts import documents
    from marketplace.accounts.models import Organisation, User
    from marketplace.catalog import pending, photos, services
    from marketplace.catalog.models import Listing

    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")  # a folder of this test's own
    app.extensions["marketplace_storage"] = photos.LocalStorage(app.config["UPLOAD_FOLDER"])
    buyer, part_id, line_id = _shipped(app, market)
    assert buyer.post(f"/pedidos/partes/{part_id}/recibir",
                      data={f"received-{line_id}": "100", f"quality-{line_id}": "rejected",
                            f"reason-{line_id}": "Granos mohosos",
                            f"photo-{line_id}": (io.BytesIO(_jpeg()), "moho.jpg")},
                      content_type="multipart/form-data").status_code == 302
    storage = app.extensions["marketplace_storage"]
    with app.app_context():
        manager = db.session.get(User, market.manager_a.user_id)
        listing = db.session.get(Listing, market.listing_c)
        services._store_photos(listing, [photos.process(_jpeg())], storage)
        pending.keep(manager, [photos.process(_jpeg())], storage, 6)
        documents.upload_document(manager, db.session.get(Organisation, market.coop_a), "rut", _jpeg(), storage)
        db.session.commit()
    referenced = _files(app)
    assert len(referenced) == 6  # evidence, listing photo + thumbnail, pending + thumbnail, document
    old = time.time() - 2 * 3600
    for name in referenced:
        os.utime(Path(app.config["UPLOAD_FOLDER"]) / name, (old, old))
    storage.save("huerfana-vieja.jpg", b"x")
    os.utime(Path(app.config["UPLOAD_FOLDER"]) / "huerfana-vieja.jpg", (old, old))
    storage.save("subida-en-curso.jpg", b"x")  # fresh: an upload whose row is not committed yet
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["uploads", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "huerfana-vieja.jpg" in dry.output and "Se borrarían: 1" in dry.output
    assert "huerfana-vieja.jpg" in _files(app)
    done = runner.invoke(args=["uploads", "prune"])
    assert done.exit_code == 0, done.output
    assert "huerfana-vieja.jpg" in done.output and "Borrados: 1" in done.output
    assert _files(app) == referenced | {"subida-en-curso.jpg"}
