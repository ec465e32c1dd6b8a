"""The migrated schema matches the models, and the reference geography is complete."""

from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from marketplace.core import geography
from marketplace.core.models import Municipality
from marketplace.core.text import display_place_name, search_key
from marketplace.extensions import db
from tests.conftest import USING_PG


def test_models_and_migrations_do_not_drift(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


@pytest.mark.skipif(USING_PG, reason="SQLite-specific pragma")
def test_sqlite_enforces_foreign_keys(app):
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(text(
                "INSERT INTO membership (user_id, organisation_id, role, created_at) "
                "VALUES (999, 999, 'coop_member', CURRENT_TIMESTAMP)"
            ))
        db.session.rollback()


def test_downgrade_and_upgrade_again(make_app, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'roundtrip.db'}")
    with app.app_context():
        upgrade()
        assert db.session.scalar(select(db.func.count()).select_from(Municipality)) == 1122
        db.session.remove()  # migrations use a connection of their own
        downgrade(revision="base")
        assert "municipality" not in db.inspect(db.engine).get_table_names()
        upgrade()
        assert db.session.scalar(select(db.func.count()).select_from(Municipality)) == 1122


def test_all_municipalities_and_pdet_subregions_are_loaded(app):
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Municipality)) == 1122
        pdet = db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_not(None))).all()
        assert len(pdet) == 170
        assert len({m.pdet_subregion for m in pdet}) == 16
        medellin = db.session.get(Municipality, "05001")
        assert (medellin.name, medellin.latitude, medellin.longitude) == ("Medellín", Decimal("6.246631"), Decimal("-75.581775"))
        tumaco = db.session.get(Municipality, "52835")
        assert tumaco.pdet_subregion == "Pacífico y Frontera Nariñense"
        assert tumaco.department_name == "Nariño"


@pytest.mark.parametrize("typed", ["tumaco", "Tumaco", "TUMACO", "  tumacó "])
def test_search_ignores_case_and_accents(app, typed):
    with app.app_context():
        codes = [m.code for m in geography.search(typed)]
    assert "52835" in codes


def test_search_by_several_words_and_department(app):
    with app.app_context():
        codes = [m.code for m in geography.search("san vicente")]
        assert {"18753", "68689", "05674"} <= set(codes)
        caguan = [m.code for m in geography.search("san vicente caguan")]
        assert caguan == ["18753"]
        narino = geography.search("pasto narino")
        assert [m.code for m in narino] == ["52001"]
        assert all(m.department_code == "52" for m in geography.search("", limit=500, department_code="52"))


def test_resolve_code_label_name_and_ambiguity(app):
    with app.app_context():
        assert geography.resolve("52835").municipality.code == "52835"
        assert geography.resolve("San Andrés de Tumaco, Nariño (52835)").municipality.code == "52835"
        assert geography.resolve("tumaco").municipality.code == "52835"
        assert geography.resolve("cali").municipality.code == "76001"  # not California or Calima
        assert geography.resolve("la union").municipality is None  # four of them
        ambiguous = geography.resolve("san vicente")
        assert ambiguous.municipality is None and len(ambiguous.candidates) >= 3
        assert geography.resolve("99999").municipality is None
        assert geography.resolve("xyzzy").candidates == []


def test_distances_and_bounds():
    assert geography.great_circle_km(4.649251, -74.106992, 6.246631, -75.581775) == pytest.approx(241, abs=2)
    assert geography.in_colombia(Decimal("1.8"), Decimal("-78.76"))
    assert geography.in_colombia(Decimal("12.58"), Decimal("-81.70"))  # San Andrés
    assert not geography.in_colombia(Decimal("40.4"), Decimal("-3.7"))  # Madrid


def test_place_names_and_search_keys():
    assert display_place_name("SAN VICENTE DEL CAGUÁN") == "San Vicente del Caguán"
    assert display_place_name("BOGOTÁ, D.C.") == "Bogotá, D.C."
    assert display_place_name("PIENDAMÓ - TUNÍA") == "Piendamó - Tunía"
    assert search_key("  Nariño,  ÑAME ") == "narino name"
