import pytest

from marketplace.accounts.identity import (
    IdentityError,
    normalize_email,
    normalize_mobile,
    normalize_nit,
)
from marketplace.accounts.passwords import policy_problem


@pytest.mark.parametrize("typed", ["3001234567", "300 123 4567", "(300) 123-4567", "+57 300-123-4567",
                                   "0057 3001234567", "+573001234567", " 300.123.4567 "])
def test_colombian_mobiles_in_any_common_format(typed):
    assert normalize_mobile(typed) == "+573001234567"


@pytest.mark.parametrize(("typed", "code"), [
    ("6012345678", "phone_not_mobile"),      # Bogotá landline
    ("12345", "phone_not_mobile"),
    ("+1 202 555 0101", "phone_not_mobile"),  # not Colombian
    ("tres cero cero", "phone_invalid"),
    ("", "phone_invalid"),
    ("3" * 40, "phone_invalid"),
])
def test_other_numbers_are_refused(typed, code):
    with pytest.raises(IdentityError) as error:
        normalize_mobile(typed)
    assert error.value.code == code


def test_emails_are_normalised_and_checked():
    assert normalize_email("  Compras@Empresa.CO ") == "compras@empresa.co"
    for bad in ("compras", "compras@", "@empresa.co", "a b@empresa.co", "x" * 250 + "@e.co"):
        with pytest.raises(IdentityError):
            normalize_email(bad)


@pytest.mark.parametrize("typed", ["900373913-4", "900.373.913-4", "9003739134", " 900 373 913 4 "])
def test_nit_with_its_verification_digit(typed):
    assert normalize_nit(typed) == "900373913-4"


def test_nit_problems_are_told_apart():
    with pytest.raises(IdentityError) as wrong_digit:
        normalize_nit("900373913-5")
    assert wrong_digit.value.code == "nit_check_digit"
    for malformed in ("ABC", "12-3", "9003739134567890123"):
        with pytest.raises(IdentityError) as error:
            normalize_nit(malformed)
        assert error.value.code == "nit_invalid"


@pytest.mark.parametrize(("password", "problem"), [
    ("corta", "too_short"),
    ("12345678", "too_common"),
    ("aaaaaaaaaaaa", "too_common"),
    ("mi3001234567clave", "personal"),
    ("x" * 129, "too_long"),
    ("Cacao de Tumaco 2026", None),
])
def test_password_policy(password, problem):
    assert policy_problem(password, "+573001234567", "gerente") == problem
