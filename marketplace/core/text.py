"""Text helpers: accent-insensitive search keys and Spanish display names."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
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


def clean_text(value: str | None) -> str:
    """Trim and collapse white space in free text typed by a user."""
    return _SPACES.sub(" ", value or "").strip()
