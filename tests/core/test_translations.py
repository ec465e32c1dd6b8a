"""Spanish first (the strings in the code), English complete; the language is selectable."""

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "marketplace/translations/en/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _english():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="en")


def test_every_string_in_the_code_has_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-o", str(pot), "--no-location", "marketplace"],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    english = {m.id: m for m in _english() if m.id}
    missing = sorted(i for i in extracted if i not in english or not english[i].string or english[i].fuzzy)
    assert len(extracted) > 300
    assert missing == [], f"run scripts/translations and translate: {missing[:20]}"


def test_translations_keep_the_placeholders():
    for message in _english():
        if not (message.id and message.string):
            continue
        # Plural entries carry (singular, plural) on both sides.
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        for spanish, english in zip(ids, strings, strict=False):
            assert sorted(PLACEHOLDER.findall(spanish)) == sorted(PLACEHOLDER.findall(english)), spanish


def test_spanish_by_default_and_english_on_request(client):
    page = client.get("/entrar", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="es">' in page and "Contraseña" in page and "Celular o correo" in page
    client.post("/idioma", data={"lang": "en", "next": "/entrar"})
    english = client.get("/entrar").get_data(as_text=True)
    assert '<html lang="en">' in english and "Password" in english and "Mobile or e-mail" in english
    assert "Contraseña" not in english


def test_a_users_language_follows_them(app, factory):
    _coop, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    client.post("/cuenta/perfil", data={"profile-full_name": "Luz Marina", "profile-locale": "en"})
    home = client.get("/inicio").get_data(as_text=True)
    assert "What's next" in home and "Qué sigue" not in home
    client.post("/salir")
    other_browser = app.test_client()
    login(other_browser, person)
    assert "What's next" in other_browser.get("/inicio").get_data(as_text=True)


def test_errors_speak_the_users_language(client):
    client.post("/idioma", data={"lang": "en"})
    bad = client.post("/entrar", data={"identifier": "3001234567", "password": "wrong-password"})
    assert "The mobile, e-mail or password is not correct." in bad.get_data(as_text=True)
    api = client.get("/api/v1/me", headers={"Accept-Language": "en"})
    assert api.status_code == 401
