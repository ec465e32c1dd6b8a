"""Listing photos: checked by content, re-encoded small, stored under server names.

Pure module apart from Pillow: takes bytes, returns bytes. A photo is accepted only if
Pillow recognises it as JPEG, PNG or WebP (whatever its file name says), is at most 8 MB
and at most 40 megapixels (a decompression bomb is refused before it is decoded). It is
re-encoded as JPEG at most 1280 px on its long side, without EXIF/GPS metadata, plus a
thumbnail of at most 320 px that stays under 20 KB for pages on 2G/3G.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1280
THUMB_SIDE = 320
THUMB_MAX_BYTES = 20 * 1024
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}


class PhotoError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ProcessedPhoto:
    image: bytes
    thumbnail: bytes
    width: int
    height: int


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def process(data: bytes) -> ProcessedPhoto:
    if len(data) > MAX_BYTES:
        raise PhotoError("too_large")
    if not data:
        raise PhotoError("not_an_image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoError("wrong_format")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise PhotoError("too_many_pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            image = ImageOps.exif_transpose(source)
            image = image.convert("RGB")
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoError("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("not_an_image") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    full = _encode(image, 82)  # a fresh JPEG: no EXIF, GPS or other metadata is copied
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    quality = 75
    small = _encode(thumb, quality)
    while len(small) > THUMB_MAX_BYTES and quality > 30:
        quality -= 10
        small = _encode(thumb, quality)
    return ProcessedPhoto(full, small, image.width, image.height)


def new_key(suffix: str = "jpg") -> str:
    """A server-generated, unguessable file name."""
    return f"{secrets.token_urlsafe(18)}.{suffix}"


class LocalStorage:
    """Files in a local folder. Another backend (S3, GCS) needs the same three methods."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if "/" in key or "\\" in key or key.startswith("."):
            raise ValueError("invalid storage key")
        return self.root / key

    def save(self, key: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
