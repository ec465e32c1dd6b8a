"""What the listing tests share: the form a cooperative posts to list a harvest, and a photo."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from marketplace.core.models import bogota_date


def listing_form(grade_id: int, **changes) -> dict:
    """A valid listing form for cacao of ``grade_id`` (40 arrobas at 150,000 COP, from today
    for 30 days, at a new collection point), with ``changes`` applied."""
    today = bogota_date()
    data = {
        "grade": str(grade_id), "quantity": "40", "unit": "arroba", "unit_kg": "",
        "price": "150.000", "harvest_date": today.isoformat(), "available_from": today.isoformat(),
        "available_until": (today + timedelta(days=30)).isoformat(), "collection_point": "0",
        "new_point": "Vereda La Playa", "latitude": "", "longitude": "", "description": "Fermentado 6 días",
    }
    data.update(changes)
    return data


def jpeg_photo(size: tuple[int, int] = (1600, 1200)) -> tuple:
    """A plain JPEG of ``size`` as a form upload: (file, name)."""
    out = io.BytesIO()
    Image.new("RGB", size, (110, 62, 35)).save(out, format="JPEG")
    return (io.BytesIO(out.getvalue()), "cosecha.jpg")
