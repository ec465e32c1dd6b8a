"""SMS text: the GSM 03.38 alphabet, spelling a text so it stays in it, and segment counts.

An SMS carries 160 characters of the GSM 7-bit alphabet (140 bytes of septets), or 70 UCS-2
characters as soon as one character is outside it. A longer text is split into parts that
each lose room to the concatenation header: 153 GSM-7 characters or 67 UCS-2 ones. Each
part is billed, so a notice that fits one GSM-7 part costs a third of one that does not.

Pure functions, no Flask: tested directly.
"""

from __future__ import annotations

import unicodedata

# GSM 03.38 default alphabet (the escape character 0x1B is left out: it is not text).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as the escape character and itself (two septets).
EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM 7-bit alphabet (basic or extension)."""
    return all(ch in BASIC or ch in EXTENSION for ch in text)


def _plain(ch: str) -> str:
    """``ch`` itself when it is GSM-7; otherwise the letter without its accent when that
    letter is GSM-7 (á -> a, Í -> I, ç -> c), else ``ch`` unchanged."""
    if ch in BASIC or ch in EXTENSION:
        return ch
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    if base and base != ch and all(c in BASIC for c in base):
        return base
    return ch


def fit_gsm7(text: str) -> str:
    """``text`` spelled in GSM-7 when taking accents off letters outside it (á, í, ó, ú, and
    their capitals, ç, â...) is enough; otherwise ``text`` unchanged, accents and all (a
    text that must go as UCS-2 anyway keeps its correct spelling). é, É, ñ, Ñ, ü, Ü, ¿ and ¡
    are GSM-7 and always stay."""
    if is_gsm7(text):
        return text
    plain = "".join(_plain(ch) for ch in text)
    return plain if is_gsm7(plain) else text


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's size in that encoding's units (septets, or UTF-16
    code units), which a segment boundary never splits."""
    if is_gsm7(text):
        return GSM7, [2 if ch in EXTENSION else 1 for ch in text]
    return UCS2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> tuple[str, int]:
    """(encoding, number of SMS parts) for ``text``: "GSM-7" with 160 septets in one part or
    153 per part, "UCS-2" with 70 code units in one part or 67 per part. An extension
    character (two septets) or a surrogate pair is never split across parts, as phones
    and carriers do. An empty text is one part."""
    encoding, sizes = _units(text)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    if sum(sizes) <= single:
        return encoding, 1
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return encoding, count
