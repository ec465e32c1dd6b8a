"""Normalising what people type as a login, a phone number, an e-mail or a NIT.

Pure functions: no Flask, no database. Each raises ``ValueError`` with a short code
that the caller turns into a message in the user's language.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.co import nit as co_nit
from stdnum.exceptions import InvalidChecksum, ValidationError


class IdentityError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def normalize_mobile(text: str) -> str:
    """A Colombian mobile number in E.164 ("+573001234567") from any common spelling.

    Accepts "300 123 4567", "(300) 123-4567", "+57 300-123-4567", "0057 3001234567".
    """
    raw = (text or "").strip()
    if not raw or len(raw) > 30:
        raise IdentityError("phone_invalid")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, "CO")
    except phonenumbers.NumberParseException as exc:
        raise IdentityError("phone_invalid") from exc
    national = str(number.national_number)
    if (
        number.country_code != 57
        or len(national) != 10
        or not national.startswith("3")
        or not phonenumbers.is_valid_number(number)
    ):
        raise IdentityError("phone_not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_mobile(e164: str | None) -> str:
    """"+573001234567" -> "300 123 4567", the way Colombians write it."""
    if not e164:
        return ""
    national = e164[3:] if e164.startswith("+57") else e164
    return f"{national[:3]} {national[3:6]} {national[6:]}"


def normalize_email(text: str) -> str:
    raw = (text or "").strip()
    if not raw or len(raw) > 254:
        raise IdentityError("email_invalid")
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise IdentityError("email_invalid") from exc
    return info.normalized.lower()


def parse_login(text: str) -> tuple[str, str]:
    """("phone", "+57...") or ("email", "a@b.co") from what was typed in the login box."""
    raw = (text or "").strip()
    if "@" in raw:
        return "email", normalize_email(raw)
    return "phone", normalize_mobile(raw)


def normalize_nit(text: str) -> str:
    """A NIT with its verification digit, stored as "900373913-4".

    The last digit is the DIAN verification digit and must match; dots, spaces and
    the dash are optional when typed.
    """
    raw = (text or "").strip()
    if not raw or len(raw) > 20:
        raise IdentityError("nit_invalid")
    compact = co_nit.compact(raw)
    if not compact.isdigit() or not 8 <= len(compact) <= 16:
        raise IdentityError("nit_invalid")
    try:
        compact = co_nit.validate(compact)
    except InvalidChecksum as exc:
        raise IdentityError("nit_check_digit") from exc
    except ValidationError as exc:
        raise IdentityError("nit_invalid") from exc
    return f"{compact[:-1]}-{compact[-1]}"


def nit_check_digit(base: str) -> str:
    return co_nit.calc_check_digit(base)
