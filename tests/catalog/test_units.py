from decimal import Decimal as D

import pytest

from marketplace.catalog.units import (
    UNITS,
    UnitError,
    from_kg,
    price_per_kg,
    price_per_unit,
    to_kg,
    unit_weight,
)


@pytest.mark.parametrize(("quantity", "unit", "kg"), [
    (D("1"), "kg", D("1.000")),
    (D("8"), "arroba", D("100.000")),
    (D("3"), "carga", D("375.000")),
    (D("2.5"), "tonelada", D("2500.000")),
    (D("0.5"), "arroba", D("6.250")),
])
def test_fixed_units_convert_exactly(quantity, unit, kg):
    assert to_kg(quantity, unit) == kg
    assert from_kg(kg, unit) == quantity


def test_variable_units_need_the_stated_weight():
    assert to_kg(D("40"), "bulto", D("62.5")) == D("2500.000")
    assert unit_weight("canastilla", D("25")) == D("25")
    for code in ("bulto", "canastilla", "racimo", "caja", "bolsa"):
        assert UNITS[code].needs_weight
        with pytest.raises(UnitError) as error:
            to_kg(D("1"), code)
        assert error.value.code == "weight_required"


@pytest.mark.parametrize(("quantity", "unit", "weight", "code"), [
    (D("0"), "kg", None, "quantity_not_positive"),
    (D("-5"), "arroba", None, "quantity_not_positive"),
    (D("NaN"), "kg", None, "quantity_not_positive"),
    (D("0.0001"), "kg", None, "quantity_not_positive"),
    (D("1e9"), "tonelada", None, "quantity_too_large"),
    (D("1"), "bulto", D("0"), "weight_out_of_range"),
    (D("1"), "bulto", D("5000"), "weight_out_of_range"),
    (D("1"), "fanega", None, "unknown_unit"),
])
def test_impossible_quantities_are_refused(quantity, unit, weight, code):
    with pytest.raises(UnitError) as error:
        to_kg(quantity, unit, weight)
    assert error.value.code == code


def test_prices_convert_between_units_to_the_centavo():
    assert price_per_kg(D("100000"), "arroba") == D("8000.00")
    assert price_per_kg(D("1250000"), "carga") == D("10000.00")
    assert price_per_kg(D("70000"), "bulto", D("60")) == D("1166.67")
    assert price_per_unit(D("8000"), "arroba") == D("100000.00")
    with pytest.raises(UnitError):
        price_per_kg(D("0"), "kg")
