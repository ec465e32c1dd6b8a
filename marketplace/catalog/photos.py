"""Listing photos: checked by content, re-encoded small, stored under server names.

Pure module apart from Pillow: takes bytes, returns bytes. A photo is accepted only if
Pillow recognises it as JPEG, PNG or WebP (whatever its file name says), is at most 8 MB
and at most 12 megapixels once decoded (judged from the header, before decoding; a JPEG is
decoded reduced, see core/images.py, which also caps how many are decoded at once). It is
re-encoded as JPEG at most 1280 px on its long side, without EXIF/GPS metadata, plus a
thumbnail of at most 320 px that stays under 20 KB for pages on 2G/3G.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from marketplace.core import images

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = 1280
# Beyond this a picture is refused from its header, undecoded (a JPEG by its reduced size).
MAX_PIXELS = images.max_decoded_pixels(MAX_SIDE)
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


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded photo that passed the cheap checks (size, format, declared pixels) and is
    not decoded yet."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def suffix(self) -> str:
        return {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[self.format]


def check(data: bytes) -> CheckedUpload:
    """The checks that cost no decoding, run before the rest of a form is looked at; the full
    decode (:func:`process`) waits until the form is otherwise valid."""
    if len(data) > MAX_BYTES:
        raise PhotoError("too_large")
    try:
        header = images.check_header(data, MAX_SIDE, ACCEPTED_FORMATS)
    except images.ImageError as exc:
        raise PhotoError("not_an_image" if exc.code == "unreadable" else exc.code) from exc
    return CheckedUpload(data, header.format, header.width, header.height)


def process(data: bytes, wait: float | None = None) -> ProcessedPhoto:
    if len(data) > MAX_BYTES:
        raise PhotoError("too_large")
    try:
        image = images.decode(data, MAX_SIDE, ACCEPTED_FORMATS, wait=wait)
    except images.ImageError as exc:
        raise PhotoError("not_an_image" if exc.code == "unreadable" else exc.code) from exc
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

    def list(self) -> list[tuple[str, float]]:
        """Every stored key with its age reference (POSIX modification time); for pruning."""
        if not self.root.is_dir():
            return []
        return [(p.name, p.stat().st_mtime) for p in self.root.iterdir()
                if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part")]
