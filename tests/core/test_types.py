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
