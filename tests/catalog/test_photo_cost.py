"""A photo's cost is bounded: pixels refused from the header, JPEGs decoded reduced, few
decoded at once, and uploads limited per account."""

import io

import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from marketplace.catalog import photos
from marketplace.core import images
from tests.catalog.test_pending_photos import _form, _photo, app, catalogue  # noqa: F401
from tests.conftest import login


def _png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (90, 140, 60)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_the_6320_square_png_is_refused_from_its_header_without_decoding(monkeypatch):
    data = _png(6320)  # 40 megapixels in about 150 KB: accepted before
    assert len(data) < 400 * 1024

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(photos.PhotoError) as error:
        photos.process(data)
    assert error.value.code == "too_many_pixels"
    assert photos.MAX_PIXELS == 12_000_000


def test_a_jpeg_is_decoded_reduced_with_draft(monkeypatch):
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (120, 80, 40)).save(out, format="JPEG")
    decoded = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    result = photos.process(out.getvalue())
    assert decoded and decoded[-1] == (2000, 1500)  # libjpeg's 1/2 scale, never 4000 x 3000
    assert (result.width, result.height) == (1280, 960)


def test_a_huge_jpeg_decodes_at_an_eighth_and_an_oversized_one_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (16000, 2000), (120, 80, 40)).save(out, format="JPEG", quality=30)
    result = photos.process(out.getvalue())
    assert (result.width, result.height) == (1280, 160)
    with pytest.raises(images.ImageError) as error:
        big = io.BytesIO()
        Image.new("L", (9000, 8000)).save(big, format="JPEG", quality=10)  # 72 MP declared
        images.decode(big.getvalue(), 1280)
    assert error.value.code == "too_many_pixels"


def test_an_exif_rotated_photo_comes_out_upright():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees by the camera
    Image.new("RGB", (2000, 1000), (10, 200, 10)).save(out, format="JPEG", exif=exif.tobytes())
    result = photos.process(out.getvalue())
    assert (result.width, result.height) == (640, 1280)


def test_when_every_decoding_slot_is_busy_the_upload_is_told_to_try_again():
    taken = 0
    while images._slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == 2  # IMAGE_DECODE_CONCURRENCY's default
        with pytest.raises(photos.PhotoError) as error:
            photos.process(_png(100), wait=0.05)
        assert error.value.code == "busy"
    finally:
        for _ in range(taken):
            images._slots.release()
    assert photos.process(_png(100)).width == 100  # the slots are back


def test_the_form_says_try_again_when_the_decoder_is_busy(app, factory, catalogue, monkeypatch):  # noqa: F811
    monkeypatch.setattr(images, "WAIT_SECONDS", 0.01)
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    taken = 0
    while images._slots.acquire(blocking=False):
        taken += 1
    try:
        response = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}",
                               data={**_form(catalogue), "photos": _photo()}, content_type="multipart/form-data")
    finally:
        for _ in range(taken):
            images._slots.release()
    assert response.status_code == 422
    assert "Intente de nuevo en un minuto" in response.get_data(as_text=True)


def test_uploads_are_limited_per_account_with_a_clear_429(app, factory, catalogue):  # noqa: F811
    app.config["PHOTO_UPLOAD_LIMIT"] = "2 per hour"
    _coop, manager = factory.cooperative()
    _other_coop, other = factory.cooperative(name="Asociación de Paneleros del Sur")
    client = app.test_client()
    login(client, manager)
    url = f"/ofertas/nueva?producto={catalogue['cacao']}"
    for _ in range(2):
        sent = client.post(url, data={**_form(catalogue, quantity="0"), "photos": _photo()},
                           content_type="multipart/form-data")
        assert sent.status_code == 422
    refused = client.post(url, data={**_form(catalogue), "photos": _photo()}, content_type="multipart/form-data")
    assert refused.status_code == 429
    assert "muchas fotos o archivos en la última hora" in refused.get_data(as_text=True)
    # A form without a new photo is not counted; another account has its own budget.
    assert client.post(url, data=_form(catalogue), content_type="multipart/form-data").status_code == 302
    other_client = app.test_client()
    login(other_client, other)
    assert other_client.post(url, data={**_form(catalogue), "photos": _photo()},
                             content_type="multipart/form-data").status_code == 302
