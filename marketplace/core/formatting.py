"""Colombian formats for money, quantities and dates, as Jinja filters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal
from flask_babel import format_date, format_datetime, get_locale


def _locale() -> str:
    # Numbers and money follow Colombian conventions in both languages:
    # "$ 1.250.000" and "12,5 kg" in Spanish, "$1,250,000" and "12.5 kg" in English.
    return "es_CO" if str(get_locale() or "es").startswith("es") else "en_US"


def cop(value: Decimal | int | None, decimals: bool = False) -> str:
    """Pesos without centavos ("$ 13.600"); with ``decimals`` a price per kg keeps its
    centavos when it has any ("$ 1.080,50"), and a whole amount still shows none."""
    if value is None:
        return "—"
    value = Decimal(value)
    pattern = "#,##0.00" if decimals and value != value.to_integral_value() else "#,##0"
    amount = format_decimal(value, format=pattern, locale=_locale())
    return f"$ {amount}" if _locale() == "es_CO" else f"COP {amount}"


def kg(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    return f"{format_decimal(Decimal(value), format='#,##0.###', locale=_locale())} kg"


def km(value) -> str:
    """A distance in whole kilometres ("384 km"): estimates carry no more precision."""
    if value is None:
        return "—"
    return f"{format_decimal(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP), format='#,##0', locale=_locale())} km"


def number(value, pattern: str = "#,##0.###") -> str:
    if value is None:
        return "—"
    return format_decimal(Decimal(value), format=pattern, locale=_locale())


def percent(value) -> str:
    if value is None:
        return "—"
    return f"{format_decimal(Decimal(value) * 100, format='#,##0.#', locale=_locale())} %"


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_datetime(value, "d MMM y")
    return format_date(value, "d MMM y")


def moment(value: datetime | None) -> str:
    if value is None:
        return "—"
    return format_datetime(value, "d MMM y, HH:mm")


def plain(value) -> str:
    """A decimal for an input's value: no exponent, no trailing zeros ("100", "12.5")."""
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


FILTERS = {"plain": plain, "cop": cop, "kg": kg, "km": km, "number": number, "percent": percent, "day": day, "moment": moment}
