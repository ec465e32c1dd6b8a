"""Reference geography as people use it: search by municipality or department without
accents, picker labels that resolve, distances, and the plain search page.

(Counts, Medellín and the basic search cases are also in test_schema_and_geography.py;
this module covers department search, ordering, code prefixes, every row's data and
the text helpers in more depth.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.core import geography
from marketplace.core.models import Municipality
from marketplace.core.text import clean_text, display_place_name, search_key
from marketplace.extensions import db

BOGOTA = (Decimal("4.649251"), Decimal("-74.106992"))
MEDELLIN = (Decimal("6.246631"), Decimal("-75.581775"))
NAMED_NARINO = ["05483", "25483", "52480"]  # Nariño (Antioquia), Nariño (Cundinamarca), Nariño (Nariño)


def test_reference_data_counts(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Municipality)) == 1122
        assert geography.count(geography.search_statement(pdet_only=True)) == 170
        subregions = geography.pdet_subregions()
        assert len(subregions) == 16 and subregions == sorted(subregions)
        assert "Pacífico y Frontera Nariñense" in subregions and "Catatumbo" in subregions
        # Every subregion filter finds municipalities, and together they are the 170.
        assert sum(geography.count(geography.search_statement(subregion=s)) for s in subregions) == 170
        departments = dict(geography.departments())
        assert len(departments) == 33  # 32 departments and Bogotá, D.C.
        assert departments["52"] == "Nariño" and departments["05"] == "Antioquia"


def test_medellin_and_every_row_is_well_formed(app):
    with app.app_context():
        medellin = geography.get_municipality("05001")
        assert (medellin.name, medellin.department_name, medellin.pdet_subregion) == ("Medellín", "Antioquia", None)
        assert (medellin.latitude, medellin.longitude) == MEDELLIN
        assert geography.get_municipality("5001").code == "05001"  # a code typed without its leading zero
        for bad in (None, "", "abcde", "123456", "99999"):
            assert geography.get_municipality(bad) is None
        for m in db.session.scalars(select(Municipality)):
            assert len(m.code) == 5 and m.code.isdigit() and m.code.startswith(m.department_code)
            assert geography.in_colombia(m.latitude, m.longitude), m
            assert m.search_key == search_key(f"{m.name} {m.department_name}")
            assert m.name == m.name.strip() and not m.name.isupper()


@pytest.mark.parametrize("typed", ["narino", "Nariño", "NARIÑO", " nariño "])
def test_department_name_finds_its_municipalities(app, typed):
    with app.app_context():
        found = geography.search(typed, limit=200)
    codes = [m.code for m in found]
    # The 64 municipalities of the department, plus Nariño (Antioquia), Nariño
    # (Cundinamarca) and Puerto Nariño (Amazonas). Names starting with the text come first.
    assert len(codes) == 67
    assert codes[:3] == NAMED_NARINO
    assert {m.code for m in found if m.department_code != "52"} == {"05483", "25483", "91540"}
    assert sum(m.department_code == "52" for m in found) == 64


@pytest.mark.parametrize("typed", ["san vicente", "San Vicente", "SAN VICENTE", "san  vicente"])
def test_two_words_find_san_vicente_del_caguan_and_others(app, typed):
    with app.app_context():
        found = {m.code: m.name for m in geography.search(typed)}
    assert found["18753"] == "San Vicente del Caguán"
    assert {"68689", "05674"} <= set(found)  # de Chucurí, Ferrer
    assert all(search_key(name).startswith("san vicente") for name in found.values())


def test_search_by_code_prefix_and_limits(app):
    with app.app_context():
        assert [m.code for m in geography.search("52835")] == ["52835"]
        prefix = geography.search("528", limit=100)
        assert prefix and all(m.code.startswith("528") for m in prefix)
        assert len(geography.search(None, limit=7)) == 7
        assert geography.search("zzzz qqqq") == []
        first = geography.search("tumaco", department_code="52", pdet_only=True)
        assert [m.code for m in first] == ["52835"]
        assert geography.search("tumaco", department_code="05") == []


def test_resolve_codes_labels_names_and_ambiguity(app):
    with app.app_context():
        for text in ("52835", "Tumaco (52835)", "San Andrés de Tumaco, Nariño (52835)", "  Tumaco ( 52835 ) "):
            resolved = geography.resolve(text)
            assert resolved.municipality is not None and resolved.municipality.code == "52835", text
        # A label's code wins over its text.
        assert geography.resolve("Medellín, Antioquia (52835)").municipality.code == "52835"
        assert geography.resolve("Tumaco (99999)") == geography.ResolvedMunicipality(None, [])
        assert geography.resolve("medellin").municipality.code == "05001"

        ambiguous = geography.resolve("Nariño")
        assert ambiguous.municipality is None
        assert ambiguous.candidates[:3] and [m.code for m in ambiguous.candidates[:3]] == NAMED_NARINO
        assert len(ambiguous.candidates) == 12  # capped for the picker

        assert geography.resolve("") == geography.ResolvedMunicipality(None, [])
        assert geography.resolve("x" * 201) == geography.ResolvedMunicipality(None, [])


def test_great_circle_distances():
    assert geography.great_circle_km(*BOGOTA, *MEDELLIN) == pytest.approx(241, abs=2)
    assert geography.great_circle_km(*MEDELLIN, *BOGOTA) == pytest.approx(geography.great_circle_km(*BOGOTA, *MEDELLIN))
    assert geography.great_circle_km(*BOGOTA, *BOGOTA) == 0
    # Tumaco to Leticia, across the country.
    assert geography.great_circle_km(1.807399, -78.764073, -4.203165, -69.935424) == pytest.approx(1187, abs=5)


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        ("1.807399", "-78.764073", True),  # Tumaco
        ("12.5847", "-81.7006", True),  # San Andrés
        ("-4.2032", "-69.9354", True),  # Leticia
        ("12.4584", "-71.6640", True),  # Punta Gallinas
        ("40.4168", "-3.7038", False),  # Madrid
        ("18.0", "-75.0", False),
        ("4.6", "-60.0", False),
    ],
)
def test_in_colombia_bounding_box(lat, lon, inside):
    assert geography.in_colombia(Decimal(lat), Decimal(lon)) is inside
    assert geography.in_colombia(float(lat), float(lon)) is inside


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("SAN VICENTE DEL CAGUÁN", "San Vicente del Caguán"),
        ("BOGOTÁ, D.C.", "Bogotá, D.C."),
        ("SAN ANDRÉS DE TUMACO", "San Andrés de Tumaco"),
        ("EL CARMEN DE BOLÍVAR", "El Carmen de Bolívar"),
        ("LA UNIÓN", "La Unión"),
        ("NARIÑO", "Nariño"),
        ("  VALLE   DEL  CAUCA ", "Valle del Cauca"),
        ("ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA",
         "Archipiélago de San Andrés, Providencia y Santa Catalina"),
    ],
)
def test_display_place_name(raw, shown):
    assert display_place_name(raw) == shown


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Nariño", "narino"),
        ("San Vicente del Caguán", "san vicente del caguan"),
        ("  BOGOTÁ,   D.C. ", "bogota d c"),
        ("Güicán de la Sierra", "guican de la sierra"),
        ("52835", "52835"),
        ("", ""),
        (None, ""),
        ("¡¿—!?", ""),
    ],
)
def test_search_key(typed, key):
    assert search_key(typed) == key


def test_clean_text():
    assert clean_text("  Asociación \t de\n Cacaoteros  ") == "Asociación de Cacaoteros"
    assert clean_text(None) == ""


def test_municipality_search_page_works_without_javascript(client):
    page = client.get("/municipios?q=TUMACO")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<td>52835</td><td>San Andrés de Tumaco</td><td>Nariño</td>" in html
    empty = client.get("/municipios?q=xyzzy").get_data(as_text=True)
    assert "Ningún municipio coincide." in empty
    # Longer input is cut to the form's maximum, never an error.
    assert client.get("/municipios", query_string={"q": "tumaco" + "x" * 500}).status_code == 200
