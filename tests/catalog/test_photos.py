import io

import pytest
from PIL import Image

from marketplace.catalog import photos


def _image(fmt="JPEG", size=(2400, 1800), exif=True) -> bytes:
    image = Image.new("RGB", size, (120, 80, 40))
    for x in range(0, size[0], 50):  # some detail so compression has work to do
        image.paste((200, (x * 7) % 255, 60), (x, 0, x + 20, size[1]))
    out = io.BytesIO()
    kwargs = {}
    if exif and fmt == "JPEG":
        data = Image.Exif()
        data[0x010F] = "Telefono Barato"  # camera make
        kwargs["exif"] = data.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_photos_are_reencoded_small_without_metadata(fmt):
    result = photos.process(_image(fmt))
    full = Image.open(io.BytesIO(result.image))
    assert full.format == "JPEG" and max(full.size) == 1280 and (result.width, result.height) == full.size
    assert not full.getexif()
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert max(thumb.size) <= 320 and len(result.thumbnail) <= 20 * 1024


@pytest.mark.parametrize(("data", "code"), [
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not_an_image"),
    (b"#!/bin/sh\necho owned\n", "not_an_image"),
    (b"", "not_an_image"),
    (b"\xff\xd8\xff" + b"0" * 100, "not_an_image"),
    (b"0" * (8 * 1024 * 1024 + 1), "too_large"),
])
def test_what_is_not_a_photo_is_refused(data, code):
    with pytest.raises(photos.PhotoError) as error:
        photos.process(data)
    assert error.value.code == code


def test_other_formats_and_decompression_bombs_are_refused():
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    with pytest.raises(photos.PhotoError) as error:
        photos.process(gif.getvalue())
    assert error.value.code == "wrong_format"
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")  # tiny file, 400 megapixels
    assert len(bomb.getvalue()) < 8 * 1024 * 1024
    with pytest.raises(photos.PhotoError) as error:
        photos.process(bomb.getvalue())
    assert error.value.code == "too_many_pixels"


def test_storage_keys_are_server_made_and_contained(tmp_path):
    storage = photos.LocalStorage(tmp_path)
    key = photos.new_key()
    storage.save(key, b"abc")
    assert storage.read(key) == b"abc" and len(key) > 20
    for evil in ("../etc/passwd", ".htaccess", "a/b.jpg"):
        with pytest.raises(ValueError):
            storage.save(evil, b"x")
