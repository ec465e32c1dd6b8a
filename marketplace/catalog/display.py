"""Words for products, grades and units in the reader's language: one place for templates,
messages, exports and the WhatsApp conversation."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import get_locale, ngettext

from marketplace.catalog import units
from marketplace.core import formatting


def _english() -> bool:
    return str(get_locale() or "es").startswith("en")


def product_name(product) -> str:
    """A product's name in the reader's language (``name_en`` in English)."""
    if product is None:
        return "—"
    return product.name_en if _english() and getattr(product, "name_en", None) else product.name


grade_name = product_name  # grades carry ``name`` and ``name_en`` the same way


def _count(value) -> int:
    # Spanish and English: only exactly one is singular ("1 arroba", "1,5 arrobas", "0 kg").
    return 1 if Decimal(value) == 1 else 2


def unit_name(code: str, count=1) -> str:
    """A unit's word, singular or plural for ``count``: "arroba", "arrobas", "tonnes"."""
    n = _count(count)
    words = {
        "kg": ngettext("kg", "kg", n),
        "arroba": ngettext("arroba", "arrobas", n),
        "carga": ngettext("carga", "cargas", n),
        "tonelada": ngettext("tonelada", "toneladas", n),
        "bulto": ngettext("bulto", "bultos", n),
        "canastilla": ngettext("canastilla", "canastillas", n),
        "racimo": ngettext("racimo", "racimos", n),
        "caja": ngettext("caja", "cajas", n),
        "bolsa": ngettext("bolsa", "bolsas", n),
    }
    return words.get(code, code)


def unit_label(code: str) -> str:
    """A unit in a list of choices: "arroba (12,5 kg)", "tonne (1,000 kg)"."""
    unit = units.UNITS.get(code)
    if unit is None:
        return code
    return unit.label_en if _english() else unit.label_es


def unit_count(quantity, code: str) -> str:
    """A quantity in a unit with its plural: "40 arrobas", "1 carga", "2 tonnes"."""
    return f"{formatting.number(quantity)} {unit_name(code, quantity)}"


def unit_quantity(kg, code: str, unit_kg=None) -> str:
    """Kilograms in the unit the person chose, then in kg: "40 arrobas (500 kg)"; in kg only
    when the unit is kg or its weight is unknown."""
    if kg is None:
        return "—"
    if code == "kg" or code not in units.UNITS:
        return formatting.kg(kg)
    weight = units.UNITS[code].kg or (Decimal(unit_kg) if unit_kg else None)
    if not weight:
        return formatting.kg(kg)
    count = (Decimal(kg) / weight).quantize(Decimal("0.001"))
    return f"{unit_count(count, code)} ({formatting.kg(kg)})"


def listing_quantity(listing, kg=None) -> str:
    """A listing's kilos (its available kilos unless ``kg`` is given) in the unit it was listed in."""
    return unit_quantity(listing.available_kg if kg is None else kg, listing.unit, listing.unit_kg)


def per_unit(code: str) -> str:
    """"por arroba", for a price: the singular unit word."""
    return unit_name(code, 1)


GLOBALS = {"product_name": product_name, "grade_name": grade_name, "unit_name": unit_name,
           "unit_label": unit_label, "unit_quantity": unit_quantity, "listing_quantity": listing_quantity,
           "unit_count": unit_count}
FILTERS = {"product_name": product_name, "grade_name": grade_name}
