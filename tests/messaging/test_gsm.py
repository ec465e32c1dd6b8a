"""SMS alphabet and segments, with the notices cooperatives really get."""

from __future__ import annotations

import pytest

from marketplace.messaging.gsm import fit_gsm7, is_gsm7, segments

NEW_ORDER = ("Mercado Rural: pedido 1842 de Chocolates del Pacífico S.A.S.: 500 kg cacao en grano "
             "seco. Responda SI 1842 o NO 1842 antes del 9 dic 18:00.")


def test_spanish_letters_in_gsm7():
    # é, É, ñ, Ñ, ü, Ü, ¿ and ¡ are in the GSM alphabet; á, í, ó, ú and their capitals are not.
    assert is_gsm7("¿Señor Peña? ¡Pingüino! É é Ü ü Ñ ñ")
    assert not is_gsm7("Núñez")
    for letter in "áíóúÁÍÓÚ":
        assert not is_gsm7(letter)
    assert is_gsm7("{ } [ ] ~ \\ ^ | €")  # the extension table
    assert not is_gsm7("Entregado ✅")


def test_fit_gsm7_drops_only_the_accents_it_must():
    assert fit_gsm7(NEW_ORDER) == NEW_ORDER.replace("í", "i")
    text = "¿Aceptó el pedido? Café, año, pingüino, ÁRBOL, útil, Índice, Óscar, Úrsula"
    assert fit_gsm7(text) == "¿Acepto el pedido? Café, año, pingüino, ARBOL, util, Indice, Oscar, Ursula"
    assert fit_gsm7("Façade à") == "Facade à"  # ç has a plain letter; à is GSM-7 already
    assert fit_gsm7("ya es GSM: niño") == "ya es GSM: niño"


def test_fit_gsm7_keeps_accents_when_the_text_is_ucs2_anyway():
    text = "Pedido entregado ✅ en Tumaco: gracias por su atención"
    assert fit_gsm7(text) == text  # an emoji forces UCS-2: the spelling stays correct


def test_segments_gsm7_limits():
    assert segments("") == ("GSM-7", 1)
    assert segments("a" * 160) == ("GSM-7", 1)
    assert segments("a" * 161) == ("GSM-7", 2)
    assert segments("a" * 306) == ("GSM-7", 2)
    assert segments("a" * 307) == ("GSM-7", 3)


def test_extension_characters_count_twice_and_are_not_split():
    assert segments("€" * 80) == ("GSM-7", 1)       # 160 septets
    assert segments("a" + "€" * 80) == ("GSM-7", 2)  # 161
    # 152 plain + one euro: the escape pair would straddle the 153 boundary, so it moves on.
    assert segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)
    assert segments("a" * 151 + "€" + "a" * 153) == ("GSM-7", 2)


def test_segments_ucs2_limits():
    assert segments("á" * 70) == ("UCS-2", 1)
    assert segments("á" * 71) == ("UCS-2", 2)
    assert segments("á" * 134) == ("UCS-2", 2)
    assert segments("á" * 135) == ("UCS-2", 3)
    # An emoji is two UTF-16 units and never split.
    assert segments("😀" * 35) == ("UCS-2", 1)
    assert segments("a" * 66 + "😀" + "a" * 66) == ("UCS-2", 3)


@pytest.mark.parametrize(("text", "expected"), [
    (NEW_ORDER, ("UCS-2", 3)),
    (fit_gsm7(NEW_ORDER), ("GSM-7", 1)),
    ("Mercado Rural: Asociación de Cacaoteros de Tumaco aceptó su pedido 1842. Lo avisaremos cuando esté "
     "listo para recoger.", ("UCS-2", 2)),
    (fit_gsm7("Mercado Rural: Asociación de Cacaoteros de Tumaco aceptó su pedido 1842. Lo avisaremos "
              "cuando esté listo para recoger."), ("GSM-7", 1)),
    ("Mercado Rural: su código es 482913. Vence en 10 minutos. No lo comparta con nadie.", ("UCS-2", 2)),
    (fit_gsm7("Mercado Rural: su código es 482913. Vence en 10 minutos. No lo comparta con nadie."),
     ("GSM-7", 1)),
])
def test_real_notices(text, expected):
    assert segments(text) == expected
