"""Responses compressed by the app (core/compression.py): brotli or gzip as the client asks,
the same bytes once decoded, nothing compressed twice, conditional requests still answered."""

from __future__ import annotations

import gzip
import io
import re

import brotli
import pytest
from PIL import Image

from tests.conftest import login

DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}
# A page's CSRF token carries the second it was signed, so two loads may differ there only.
TOKEN = re.compile(rb'(name="csrf_token"[^>]*value=")[^"]+')


def _same(page: bytes) -> bytes:
    return TOKEN.sub(rb"\1", page)


def _get(client, path, encoding=None, **headers):
    if encoding:
        headers["Accept-Encoding"] = encoding
    return client.get(path, headers=headers)


@pytest.mark.parametrize("path", ["/entrar", "/static/css/app.css"])
def test_a_page_and_a_stylesheet_come_compressed_as_the_client_asks(client, path):
    plain = _get(client, path)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    original = plain.get_data()
    assert len(original) > 2000
    for encoding in ("br", "gzip"):
        response = _get(client, path, encoding)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        body = response.get_data()
        assert len(body) < len(original) / 2
        assert _same(DECODE[encoding](body)) == _same(original)
    # A browser that takes both gets brotli, the smaller; one that refuses both gets none.
    assert _get(client, path, "gzip, deflate, br, zstd").headers["Content-Encoding"] == "br"
    assert "Content-Encoding" not in _get(client, path, "identity").headers


def test_a_stylesheet_keeps_answering_conditional_requests_in_each_encoding(client):
    first = _get(client, "/static/css/app.css", "br")
    etag = first.headers["ETag"]
    assert etag.endswith(':br"') and first.headers["Cache-Control"] == "public, max-age=31536000"
    again = _get(client, "/static/css/app.css", "br", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    # The brotli copy is not a valid cached copy for a gzip client, nor for a plain one.
    assert _get(client, "/static/css/app.css", "gzip", **{"If-None-Match": etag}).status_code == 200
    plain = _get(client, "/static/css/app.css")
    assert _get(client, "/static/css/app.css", **{"If-None-Match": plain.headers["ETag"]}).status_code == 304


def test_a_range_of_a_file_is_sent_as_plain_bytes(client):
    whole = _get(client, "/static/css/app.css").get_data()
    part = _get(client, "/static/css/app.css", "br", Range="bytes=0-99")
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert part.get_data() == whole[:100]


def test_tiny_responses_are_not_compressed(client):
    health = _get(client, "/salud", "br")
    assert health.status_code == 200 and len(health.get_data()) < 500
    assert "Content-Encoding" not in health.headers


def test_a_photo_is_sent_as_stored_never_compressed_again(app, client):
    out = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(out, format="JPEG", quality=80)
    photo = out.getvalue()
    with app.app_context():
        app.extensions["marketplace_storage"].save("prueba-compresion.jpg", photo)
    response = _get(client, "/media/prueba-compresion.jpg", "gzip, br")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == photo


def test_a_pdf_download_is_sent_as_made(app, login_as):
    buyer, _person = login_as("buyer_admin")
    response = _get(buyer, "/impacto?formato=pdf", "gzip, br")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Content-Encoding" not in response.headers
    assert response.get_data().startswith(b"%PDF")


def test_compression_can_be_turned_off(make_app):
    app = make_app(COMPRESS_ENABLED=False)
    response = app.test_client().get("/entrar", headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert b"<html" in response.get_data()


def test_a_private_page_varies_on_both_the_cookie_and_the_encoding(app, factory):
    _org, person = factory.buyer()
    client = app.test_client()
    login(client, person)
    response = _get(client, "/pedidos", "br")
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    assert response.headers["Cache-Control"] == "no-store"
    vary = {v.strip() for v in ",".join(response.headers.getlist("Vary")).split(",")}
    assert {"Cookie", "Accept-Encoding"} <= vary
    assert b"</html>" in brotli.decompress(response.get_data())
