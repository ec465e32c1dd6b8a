"""Text helpers: accent-insensitive search keys, Spanish display names, and the characters
no text may hold."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Characters no text the app receives may hold: the C0 controls but tab, line feed and
# carriage return (multi-line text keeps those), DEL and the C1 controls, and lone surrogates
# (halves of a pair that no encoding can store; PostgreSQL refuses NUL in text, too).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make a name
# display as something other than what it is ("Trojan Source"), so names drop them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Words kept lower case inside Spanish place names ("San Vicente del Caguán").
_CONNECTORS = {"de", "del", "la", "las", "los", "el", "y", "e", "en"}


def search_key(value: str | None) -> str:
    """Lower-case, accent-free, single-spaced text for matching ("Nariño" -> "narino")."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = re.sub(r"[^0-9a-zA-Z]+", " ", stripped)
    return _SPACES.sub(" ", cleaned).strip().lower()


def display_place_name(value: str) -> str:
    """Turn an upper-case DIVIPOLA name into the form people write it.

    "SAN VICENTE DEL CAGUÁN" -> "San Vicente del Caguán"; "BOGOTÁ, D.C." -> "Bogotá, D.C.".
    """
    words = _SPACES.sub(" ", value.strip()).split(" ")
    out = []
    for index, word in enumerate(words):
        lower = word.lower()
        if "." in word and len(word) <= 5:
            out.append(word.upper())
        elif index > 0 and lower in _CONNECTORS:
            out.append(lower)
        else:
            out.append("-".join(part[:1].upper() + part[1:] for part in lower.split("-")))
    return " ".join(out)


def forbidden_character(value: str) -> str | None:
    """The first character of ``value`` that no text may hold (see ``FORBIDDEN``), or None."""
    match = FORBIDDEN.search(value)
    return match.group() if match else None


def clean_text(value: str | None) -> str:
    """Trim and collapse white space in a name or short text typed by a user, without bidi
    controls. Requests holding forbidden characters are refused before they get here; any
    that reach it another way are dropped."""
    text = FORBIDDEN.sub("", BIDI_CONTROLS.sub("", value or ""))
    return _SPACES.sub(" ", text).strip()


# Spanish collation (CLDR's "es" tailoring of the Unicode Collation Algorithm): letters compare
# without their accents and case first, "ñ" is a letter of its own after "n", and only words
# equal at that level are told apart by accents, then by case. English (CLDR root) is the
# same without the "ñ" rule. The alphabet of product, place and organisation names needs no
# more than this, so no collation library is loaded for it.
_N_TILDE = "n\uffff"  # a code point above every letter: "ñ" sorts after every "n..." word


def _primary(value: str, spanish: bool) -> str:
    text = unicodedata.normalize("NFD", value.casefold())
    if spanish:
        text = text.replace("n\u0303", _N_TILDE)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def collation_key(locale: str | None = "es"):
    """A ``sorted`` key that orders text as a reader of ``locale`` expects ("Maíz" before
    "Maracuyá", "Ñame" after "Naranja" in Spanish). Use it with ``key=lambda x: k(x.name)``
    or through ``sort_names``."""
    spanish = not str(locale or "es").startswith("en")

    def key(value: str | None) -> tuple[str, str, str]:
        value = value or ""
        # Ties: without accents first, then lower case first (swapcase puts it before upper).
        return (_primary(value, spanish), unicodedata.normalize("NFD", value.casefold()), value.swapcase())

    return key


def sort_names(items, name=lambda item: item, locale: str | None = "es") -> list:
    """``items`` sorted by ``name(item)`` with ``collation_key(locale)``."""
    key = collation_key(locale)
    return sorted(items, key=lambda item: key(name(item)))
