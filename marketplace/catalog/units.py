"""Trade units of Colombian produce and exact conversion to kilograms.

Pure module: no Flask, no database. Kilograms are canonical; every quantity is stored in
kg and every price as COP per kg, and both are shown back in the unit a person chose.

Fixed units (source: Federación Nacional de Cafeteros price tables and common usage):
arroba = 12.5 kg, carga = 125 kg (dry parchment coffee: 10 arrobas), tonelada = 1,000 kg.
A bulto, canastilla, racimo, caja or bolsa varies by product and place (a bulto is legally
at most 50 kg, MADR Resolución 336 de 2004, yet cassava bultos weigh 56-70 kg), so those
units carry the kg weight stated on each listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

KG_STEP = Decimal("0.001")
COP_STEP = Decimal("0.01")
MAX_KG = Decimal("10000000")  # 10,000 t: more than any single lot
MAX_UNIT_KG = Decimal("2000")


@dataclass(frozen=True)
class Unit:
    code: str
    label_es: str
    label_en: str
    kg: Decimal | None  # None: the weight is stated per listing

    @property
    def needs_weight(self) -> bool:
        return self.kg is None


UNITS: dict[str, Unit] = {
    u.code: u
    for u in (
        Unit("kg", "kilogramo", "kilogram", Decimal("1")),
        Unit("arroba", "arroba (12,5 kg)", "arroba (12.5 kg)", Decimal("12.5")),
        Unit("carga", "carga (125 kg)", "carga (125 kg)", Decimal("125")),
        Unit("tonelada", "tonelada (1.000 kg)", "tonne (1,000 kg)", Decimal("1000")),
        Unit("bulto", "bulto", "sack (bulto)", None),
        Unit("canastilla", "canastilla", "crate (canastilla)", None),
        Unit("racimo", "racimo", "bunch (racimo)", None),
        Unit("caja", "caja", "box", None),
        Unit("bolsa", "bolsa", "bag", None),
    )
}


# Units of a fixed weight: any product may be listed and ordered in them (a buyer orders
# tonnes of what a cooperative lists in arrobas; cacao and coffee are traded in cargas).
FIXED_UNITS = ("kg", "arroba", "carga", "tonelada")


def trade_units(usual: list[str] | None) -> list[str]:
    """The units a product is listed and ordered in: its usual units first (the customary
    one leads), then the fixed-weight units it does not name. The one list that the listing
    form, the API, the WhatsApp conversation and the buyer's order choices read."""
    codes = [code for code in (usual or []) if code in UNITS]
    return list(dict.fromkeys(codes + list(FIXED_UNITS)))


def order_units(listing_unit: str, usual: list[str] | None) -> list[str]:
    """Units a buyer may order a listing in: the fixed-weight units of ``trade_units``, and
    the listing's own unit when its weight is stated on the listing (a bulto of that lot)."""
    codes = [code for code in trade_units(usual) if UNITS[code].kg is not None]
    if listing_unit in UNITS and listing_unit not in codes:
        codes.append(listing_unit)
    return codes


class UnitError(ValueError):
    """Why a unit or a quantity cannot be used; ``code`` names the problem."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def unit_weight(code: str, stated_kg: Decimal | None = None) -> Decimal:
    """Kilograms in one ``code`` unit; variable units need ``stated_kg`` (0 < kg <= 2,000)."""
    unit = UNITS.get(code)
    if unit is None:
        raise UnitError("unknown_unit")
    if unit.kg is not None:
        return unit.kg
    if stated_kg is None:
        raise UnitError("weight_required")
    if not stated_kg.is_finite() or stated_kg <= 0 or stated_kg > MAX_UNIT_KG:
        raise UnitError("weight_out_of_range")
    return stated_kg


def to_kg(quantity: Decimal, code: str, stated_kg: Decimal | None = None) -> Decimal:
    """Exact kilograms in ``quantity`` units, to the gram."""
    if not quantity.is_finite() or quantity <= 0:
        raise UnitError("quantity_not_positive")
    kg = quantity * unit_weight(code, stated_kg)
    if kg > MAX_KG:
        raise UnitError("quantity_too_large")
    rounded = kg.quantize(KG_STEP, rounding=ROUND_HALF_UP)
    if rounded <= 0:
        raise UnitError("quantity_not_positive")
    return rounded


def from_kg(kg: Decimal, code: str, stated_kg: Decimal | None = None) -> Decimal:
    """Quantity in ``code`` units for ``kg`` kilograms (not rounded: callers format it)."""
    return kg / unit_weight(code, stated_kg)


def price_per_kg(price_per_unit: Decimal, code: str, stated_kg: Decimal | None = None) -> Decimal:
    """COP per kg for a price per unit, to the centavo."""
    if not price_per_unit.is_finite() or price_per_unit <= 0:
        raise UnitError("price_not_positive")
    return (price_per_unit / unit_weight(code, stated_kg)).quantize(COP_STEP, rounding=ROUND_HALF_UP)


def price_per_unit(price_kg: Decimal, code: str, stated_kg: Decimal | None = None) -> Decimal:
    """COP per unit for a price per kg, to the centavo."""
    return (price_kg * unit_weight(code, stated_kg)).quantize(COP_STEP, rounding=ROUND_HALF_UP)
