"""The migrations build exactly the schema the models describe, they run down and up
again, and SQLite enforces foreign keys like PostgreSQL does."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from marketplace.extensions import NAMING_CONVENTION, db
from tests.conftest import PG_URL, USING_PG, _pg_url, _with_search_path

APP_TABLES = {"municipality", "user_account", "login_session", "api_token", "organisation", "cooperative",
              "buyer", "delivery_site", "membership", "audit_event"}


def _differences(metadata) -> list:
    """What ``flask db migrate`` would write: Alembic's autogenerate comparison between
    the models and the migrated database, with the app's own options."""
    # The session's own connection: on SQLite a second connection would wait for the
    # write lock the session's transaction holds.
    context = MigrationContext.configure(
        db.session.connection(),
        # The app's own options (create_app passes compare_type=True), plus server defaults.
        opts={"compare_type": True, "compare_server_default": True, "render_as_batch": True,
              "target_metadata": metadata},
    )
    return compare_metadata(context, metadata)


def test_migrated_schema_matches_the_models(app):
    assert db.metadata.naming_convention == NAMING_CONVENTION
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert tables >= APP_TABLES
        assert set(db.metadata.tables) <= tables
        differences = _differences(db.metadata)
    assert differences == [], f"models and migrations drifted; write a migration: {differences}"


def test_the_drift_check_notices_a_model_change(app):
    """Guards the test above: a column added to a model, a column type changed and a new
    table all show up as differences."""
    changed = MetaData(naming_convention=NAMING_CONVENTION)
    for table in db.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["municipality"].append_column(Column("altitude_m", String(10)))
    changed.tables["api_token"].c.name.type = String(200)
    Table("harvest", changed, Column("id", Integer, primary_key=True))
    with app.app_context():
        differences = _differences(changed)
    kinds = {entry[0][0] if isinstance(entry, list) else entry[0] for entry in differences}
    assert {"add_column", "modify_type", "add_table"} <= kinds, differences


def test_one_head_and_the_database_is_at_it(app):
    with app.app_context():
        migrate = app.extensions["migrate"]
        script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
        heads = script.get_heads()
        assert len(heads) == 1, f"several migration heads: {heads}"
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == heads[0]


@pytest.mark.skipif(USING_PG, reason="PostgreSQL always enforces foreign keys; this is about SQLite")
def test_sqlite_connections_enforce_foreign_keys(app, factory):
    from marketplace.accounts.models import Membership, Role, User

    _coop_id, person = factory.cooperative()
    with app.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        user = User(full_name="Sin organización", phone="+573009998877", password_hash="x")
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organisation_id=987654, role=Role.COOP_MEMBER))
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            db.session.flush()
        db.session.rollback()
        # Deleting a row that others point at is refused too (audit_event uses RESTRICT).
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            db.session.execute(text("DELETE FROM municipality WHERE code = '52835'"))
        db.session.rollback()
        # The same insert with an existing organisation goes through: the refusal above
        # was the foreign key and nothing else.
        user = User(full_name="Con organización", phone="+573009998876", password_hash="x")
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organisation_id=person.organisation_id, role=Role.COOP_MEMBER))
        db.session.flush()
        db.session.rollback()


def _round_trip(app) -> None:
    """``flask db downgrade base`` then ``flask db upgrade``, through the CLI."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(db.metadata.tables["municipality"])) == 1122
        db.session.remove()

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.session.remove()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) >= APP_TABLES
        assert db.session.scalar(select(db.func.count()).select_from(db.metadata.tables["municipality"])) == 1122
        assert _differences(db.metadata) == []
        # The audit log is append-only again after the round trip.
        db.session.execute(text(
            "INSERT INTO audit_event (occurred_at, action, object_type, object_id) "
            "VALUES (CURRENT_TIMESTAMP, 'test.round_trip', 'test', '1')"
        ))
        db.session.commit()
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("DELETE FROM audit_event"))
        db.session.rollback()
        db.session.remove()


def test_downgrade_to_base_and_upgrade_again_on_sqlite(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'round-trip.db'}")
    _round_trip(app)


@pytest.mark.skipif(not USING_PG, reason="needs TEST_DATABASE_URL pointing at PostgreSQL")
def test_downgrade_to_base_and_upgrade_again_on_postgresql(make_app):
    base = _pg_url(PG_URL)
    schema = f"rt_{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        app = make_app(SQLALCHEMY_DATABASE_URI=_with_search_path(base, schema))
        _round_trip(app)
        with app.app_context():
            db.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
