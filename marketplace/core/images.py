"""Decoding an uploaded image at a bounded cost: memory, time and how many at once.

Listing photos, delivery evidence and organisation documents are all re-encoded small (at most
1,280 or 2,400 px). Decoding a picture costs memory in proportion to its pixels, whatever its
file size: a 155 KB PNG of 6,320 x 6,320 once cost a worker about 686 MB and 5 s. So:

* the pixels are read from the header and refused, before anything is decoded, beyond what the
  output needs (``max_decoded_pixels``; a JPEG is judged by its reduced size, see below);
* a JPEG is decoded reduced (``Image.draft``: libjpeg's 1/2, 1/4 or 1/8 scale), never larger
  than the output needs, so a 4000 x 3000 phone photo decodes at 2000 x 1500;
* the image is shrunk before any mode conversion or rotation, so no full-size copy is made;
* at most ``IMAGE_DECODE_CONCURRENCY`` images (default 2) are decoded at once in one process;
  a request that cannot get a slot within ``IMAGE_DECODE_WAIT`` seconds (default 3) is told to
  try again, rather than piling up and starving every other page.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# A JPEG's declared size is capped too: even reduced, every block of it is entropy-decoded.
MAX_JPEG_DECLARED_PIXELS = 64_000_000


_T = Image.Transpose
# EXIF orientation -> the transposition that makes the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE,
                6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90}


class ImageError(ValueError):
    """``code``: not_an_image (not a picture at all), unreadable (a damaged one), wrong_format,
    too_many_pixels or busy."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


_slots = threading.BoundedSemaphore(_env_int("IMAGE_DECODE_CONCURRENCY", 2))
WAIT_SECONDS = _env_float("IMAGE_DECODE_WAIT", 3.0)


def max_decoded_pixels(side: int) -> int:
    """What an output of ``side`` px needs at most: a 4000 x 3000 photo for 1,280 px (12 MP),
    a 300 dpi A4 scan for 2,400 px."""
    return max(12_000_000, side * side * 3)


def _draft_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The smallest size a reduced JPEG decode may give: its long side still reaches ``side``."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class Header:
    """What a picture's header says: its format and declared size."""

    format: str
    width: int
    height: int


def check_header(data: bytes, side: int, formats=ACCEPTED_FORMATS) -> Header:
    """The cheap checks, without decoding any pixel: a picture Pillow recognises, of an
    accepted format, within the pixels an output of ``side`` px needs (a JPEG by its declared
    size, since it is decoded reduced). A form checks its other fields before paying for
    :func:`decode`. Raises :class:`ImageError`."""
    if not data:
        raise ImageError("not_an_image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return _checked(probe, side, formats)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("too_many_pixels") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not_an_image") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageError("unreadable") from exc


def _checked(probe: Image.Image, side: int, formats) -> Header:
    if probe.format not in formats:
        raise ImageError("wrong_format")
    width, height = probe.size
    if probe.format == "JPEG":
        if width * height > MAX_JPEG_DECLARED_PIXELS:
            raise ImageError("too_many_pixels")
    elif width * height > max_decoded_pixels(side):
        raise ImageError("too_many_pixels")
    probe.verify()
    return Header(probe.format, width, height)


def decode(data: bytes, side: int, formats=ACCEPTED_FORMATS, wait: float | None = None) -> Image.Image:
    """An RGB image at most ``side`` px on its long side, upright (EXIF orientation applied),
    without metadata. Raises :class:`ImageError`."""
    if not data:
        raise ImageError("not_an_image")
    if not _slots.acquire(timeout=WAIT_SECONDS if wait is None else wait):
        raise ImageError("busy")
    try:
        return _decode(data, side, formats)
    finally:
        _slots.release()


def _decode(data: bytes, side: int, formats) -> Image.Image:
    limit = max_decoded_pixels(side)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            _checked(probe, side, formats)
        with Image.open(io.BytesIO(data)) as source:
            if source.format == "JPEG":
                source.draft("RGB", _draft_size(*source.size, side))
                if source.size[0] * source.size[1] > limit:
                    raise ImageError("too_many_pixels")
            orientation = source.getexif().get(0x0112)
            source.load()
            image = source
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
            if image is source:
                image = image.copy() if max(image.size) <= side else image.resize(
                    _draft_size(*image.size, side), Image.Resampling.LANCZOS, reducing_gap=2.0)
            else:
                image.thumbnail((side, side), Image.Resampling.LANCZOS)
        image = image.convert("RGB") if image.mode != "RGB" else image
        image.info.clear()
        method = _ORIENTATION.get(orientation)
        return image.transpose(method) if method is not None else image
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("too_many_pixels") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not_an_image") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageError("unreadable") from exc
