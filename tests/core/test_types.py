from decimal import Decimal

import pytest

from marketplace.core.types import parse_decimal


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12,5", Decimal("12.5")),
        ("12.5", Decimal("12.5")),
        ("1.234,5", Decimal("1234.5")),
        ("1,234.5", Decimal("1234.5")),
        ("2.500", Decimal("2500")),
        ("1.250.000", Decimal("1250000")),
        ("$ 1.250.000", Decimal("1250000")),
        ("0.125", Decimal("0.125")),
        ("-3", Decimal("-3")),
    ],
)
def test_reads_colombian_and_international_numbers(typed, expected):
    assert parse_decimal(typed) == expected


@pytest.mark.parametrize("typed", ["", "abc", "1e3", "NaN", "inf", "1,2,3,4.5.6", "--1"])
def test_refuses_what_is_not_a_plain_number(typed):
    assert parse_decimal(typed) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1.234.567,89", Decimal("1234567.89")),
        ("1,234,567.89", Decimal("1234567.89")),
        ("1\u00a0234,5", Decimal("1234.5")),  # no-break space between thousands
        (" 12,50 ", Decimal("12.50")),
        ("-2.500", Decimal("-2500")),
        ("0,125", Decimal("0.125")),
    ],
)
def test_reads_grouped_and_spaced_numbers(typed, expected):
    assert parse_decimal(typed) == expected


def test_passes_numbers_through_and_none_stays_none():
    assert parse_decimal(None) is None
    assert parse_decimal(7) == Decimal(7) and isinstance(parse_decimal(7), Decimal)
    exact = Decimal("0.1")
    assert parse_decimal(exact) is exact
    # Never a float on the way: the typed digits are kept exactly.
    assert parse_decimal("0,1") + parse_decimal("0,2") == Decimal("0.3")


def test_money_kilograms_and_coordinates_are_exact_numerics():
    from marketplace.core.types import COP_QUANT, KG_QUANT, Coordinate, Kilograms, Money

    assert (Money.precision, Money.scale, Money.asdecimal) == (16, 2, True)
    assert (Kilograms.precision, Kilograms.scale, Kilograms.asdecimal) == (14, 3, True)
    assert (Coordinate.precision, Coordinate.scale) == (9, 6)
    # Pesos to the cent and kilograms to the gram, matching the column scales.
    assert COP_QUANT.as_tuple().exponent == -Money.scale
    assert KG_QUANT.as_tuple().exponent == -Kilograms.scale


def test_bogota_date_is_the_day_in_colombia_and_zone_less_times_are_utc():
    from datetime import UTC, date, datetime, timedelta, timezone

    from marketplace.core.models import bogota_date

    # 03:00 UTC is 22:00 of the day before in Bogotá (UTC-5).
    assert bogota_date(datetime(2026, 3, 14, 3, 0, tzinfo=UTC)) == date(2026, 3, 13)
    assert bogota_date(datetime(2026, 3, 14, 5, 0, tzinfo=UTC)) == date(2026, 3, 14)
    # A stored time without a zone (as SQLite gives it back) is UTC, not the machine's zone.
    assert bogota_date(datetime(2026, 3, 14, 3, 0)) == date(2026, 3, 13)
    # Any other zone is converted: 23:30 in UTC+1 on the 13th is 17:30 in Bogotá.
    assert bogota_date(datetime(2026, 3, 13, 23, 30, tzinfo=timezone(timedelta(hours=1)))) == date(2026, 3, 13)
    now = datetime.now(UTC)
    assert bogota_date() in {(now - timedelta(hours=5)).date(), (datetime.now(UTC) - timedelta(hours=5)).date()}
