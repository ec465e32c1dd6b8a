"""Test fixtures: an application per test on a migrated database, and users of every role.

The database is SQLite by default. Set ``TEST_DATABASE_URL`` to a PostgreSQL URL to run
the same suite there (``scripts/test`` runs both). The schema is always built by the
migrations, never by ``create_all``, so the tests exercise what production runs.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

os.environ["APP_ENV"] = "testing"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

import pytest  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, inspect, text  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.extensions import db  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
USING_PG = PG_URL.startswith("postgresql")
PASSWORD = "Siembra-Segura-2026"
# Rows the migrations load and tests never change, kept between tests on PostgreSQL.
REFERENCE_TABLES = {"municipality", "alembic_version"}
# Rows the migrations load that tests may change (staff edit transport modes): emptied with
# the rest (TRUNCATE ... CASCADE reaches them through their foreign keys), then put back.
SEEDED_TABLES = ("transport_mode",)
_seeded_rows: dict[str, list[dict]] = {}

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def base_overrides(database_url: str) -> dict:
    return {
        "TESTING": True,
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Cheap hashing keeps the suite fast; production strength is tested in test_passwords.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        "RATELIMIT_STORAGE_URI": "memory://",
        "API_RATE_LIMIT": "100000 per minute",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "SERVER_NAME": None,
    }


class CSRFClient(FlaskClient):
    """A test client that sends the CSRF token with form posts, like a browser would.

    Pass ``csrf=False`` to post without it.
    """

    def csrf_token(self) -> str:
        # Every page carries a token in its footer (the language form); a 404 page
        # neither redirects nor depends on who is logged in.
        page = self.get("/__csrf-token__").get_data(as_text=True)
        match = CSRF_RE.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(self, *args, csrf: bool = True, **kwargs):
        data = kwargs.get("data")
        if csrf and (data is None or isinstance(data, dict)) and "json" not in kwargs:
            data = dict(data or {})
            data.setdefault("csrf_token", self.csrf_token())
            kwargs["data"] = data
        return super().post(*args, **kwargs)


def _migrate(database_url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(base_overrides(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _pg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def _with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Build the schema once per run with the migrations.

    On PostgreSQL each test process gets its own schema in the ``test`` database, so
    parallel runs (and xdist workers) never touch each other's tables.
    """
    if USING_PG:
        base = _pg_url(PG_URL)
        schema = f"t_{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        engine = create_engine(base)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(base, schema)
        _migrate(url)
        seeded = create_engine(url)
        with seeded.connect() as conn:
            for table in SEEDED_TABLES:
                _seeded_rows[table] = [dict(row._mapping) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
        seeded.dispose()
        yield url
        if url in _pg_engines:
            _pg_engines.pop(url).dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        return
    path = tmp_path_factory.mktemp("db") / "template.db"
    _migrate(f"sqlite:///{path}")
    yield path


_pg_engines: dict[str, object] = {}
_pg_tables: dict[str, list[str]] = {}


def _truncate_pg(url: str) -> None:
    """Empty what the test wrote. TRUNCATE costs per table named (about 10 ms each, half a
    second for the whole schema), so only the tables holding rows are named, found in one
    query; sequences that moved without a row left (a rolled-back insert) are restarted too."""
    engine = _pg_engines.get(url)
    if engine is None:
        engine = _pg_engines[url] = create_engine(url)
    with engine.begin() as conn:
        tables = _pg_tables.get(url)
        if tables is None:
            tables = _pg_tables[url] = [t for t in inspect(conn).get_table_names() if t not in REFERENCE_TABLES]
        probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
        filled = [row[0] for row in conn.execute(text(probe))] if tables else []
        if filled:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in filled) + " RESTART IDENTITY CASCADE"))
        moved = conn.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"))
        for (sequence,) in moved:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        for table, rows in _seeded_rows.items():
            conn.execute(text(f'DELETE FROM "{table}"'))
            if rows:
                columns = list(rows[0])
                conn.execute(text(f'INSERT INTO "{table}" ({", ".join(columns)}) '
                                  f'VALUES ({", ".join(":" + c for c in columns)})'), rows)


@pytest.fixture
def database_url(database_template, tmp_path):
    """A clean database for one test: a copy of the migrated SQLite file, or PostgreSQL
    with every non-reference table emptied afterwards."""
    if USING_PG:
        yield database_template
        _truncate_pg(database_template)
        return
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def make_app(database_url):
    created = []

    def factory(**overrides):
        app = create_app({**base_overrides(database_url), **overrides})
        app.test_client_class = CSRFClient
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """The application, without an app context pushed: each test request gets its own
    context (and ``g``), as in production. Use ``with app.app_context():`` for direct
    database work in a test."""
    return make_app()


@pytest.fixture
def client(app) -> CSRFClient:
    return app.test_client()


# ------------------------------------------------------------------ people and orgs


@dataclass
class Person:
    user_id: int
    login: str
    password: str
    organisation_id: int | None


def coop_data(**overrides):
    from marketplace.accounts.services import CooperativeData

    values = dict(name="Asociación de Cacaoteros de Tumaco", legal_form="asociacion", municipality_code="52835",
                  members_total=120, members_women=60, members_youth=30, members_victims=40, substitution_families=25)
    values.update(overrides)
    return CooperativeData(**values)


class Factory:
    """Creates organisations and users through the real services, each in its own
    app context and committed. Returns ids and logins, never live ORM objects."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def _admin_user(self):
        from marketplace.accounts import services
        from marketplace.accounts.models import Role, User

        existing = db.session.scalar(db.select(User).where(User.email == "root-admin@mercadorural.co"))
        if existing:
            return existing
        user = services.create_staff_user(
            None, services.UserData("Admin Raíz", PASSWORD, email="root-admin@mercadorural.co"), Role.PLATFORM_ADMIN
        )
        db.session.flush()
        return user

    def admin(self) -> Person:
        with self.app.app_context():
            user = self._admin_user()
            db.session.commit()
            return Person(user.id, user.email, PASSWORD, user.organisation.id)

    def _set_status(self, org, status):
        from marketplace.accounts import services
        from marketplace.accounts.models import OrgStatus

        if status == OrgStatus.PENDING:
            return
        if status == OrgStatus.REJECTED:
            services.set_organisation_status(self._admin_user(), org, status, "Motivo de prueba")
            return
        services.set_organisation_status(self._admin_user(), org, OrgStatus.VERIFIED, None)
        if status != OrgStatus.VERIFIED:
            services.set_organisation_status(self._admin_user(), org, status, "Motivo de prueba")

    def cooperative(self, status="verified", **overrides) -> tuple[int, Person]:
        from marketplace.accounts import services
        from marketplace.accounts.models import OrgStatus

        n = self._next()
        phone = overrides.pop("phone", f"+57315{n:07d}")
        with self.app.app_context():
            coop, user = services.register_cooperative(
                coop_data(name=overrides.pop("name", f"Asociación de Prueba {n}"), **overrides),
                services.UserData(f"Gerente {n}", PASSWORD, phone=phone),
            )
            self._set_status(coop, OrgStatus(status))
            db.session.commit()
            return coop.id, Person(user.id, phone, PASSWORD, coop.id)

    def buyer(self, status="verified", **overrides) -> tuple[int, Person]:
        from marketplace.accounts import services
        from marketplace.accounts.identity import nit_check_digit
        from marketplace.accounts.models import OrgStatus

        n = self._next()
        email = f"compras{n}@empresa-prueba.co"
        base = str(800_000_000 + n)
        with self.app.app_context():
            buyer, user = services.register_buyer(
                services.BuyerData(name=overrides.get("name", f"Empresa de Prueba {n} S.A.S."),
                                   nit=f"{base}-{nit_check_digit(base)}", municipality_code="11001"),
                services.SiteData(name="Planta Bogotá", address="Calle 13 # 68-50", municipality_code="11001"),
                services.UserData(f"Compras {n}", PASSWORD, email=email),
            )
            self._set_status(buyer, OrgStatus(status))
            db.session.commit()
            return buyer.id, Person(user.id, email, PASSWORD, buyer.id)

    def member(self, org_id: int, role, must_change_password: bool = False) -> Person:
        from marketplace.accounts import services
        from marketplace.accounts.models import MANAGING_ROLES, Membership, Organisation

        n = self._next()
        phone = f"+57316{n:07d}"
        with self.app.app_context():
            org = db.session.get(Organisation, org_id)
            manager = db.session.scalar(
                db.select(Membership).where(Membership.organisation_id == org_id, Membership.role.in_(MANAGING_ROLES))
            )
            actor = manager.user if manager else self._admin_user()
            user = services.add_member(actor, org, services.UserData(f"Persona {n}", PASSWORD, phone=phone), role)
            user.must_change_password = must_change_password
            db.session.commit()
            return Person(user.id, phone, PASSWORD, org_id)

    def staff(self, role=None) -> Person:
        from marketplace.accounts import services
        from marketplace.accounts.models import Role

        n = self._next()
        email = f"staff{n}@mercadorural.co"
        with self.app.app_context():
            user = services.create_staff_user(
                self._admin_user(), services.UserData(f"Equipo {n}", PASSWORD, email=email), role or Role.STAFF_AUDITOR
            )
            user.must_change_password = False
            db.session.commit()
            return Person(user.id, email, PASSWORD, user.organisation.id)


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


def login(client: CSRFClient, person: Person, remember: bool = False):
    response = client.post("/entrar", data={"identifier": person.login, "password": person.password,
                                            "remember": "y" if remember else ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login_as(app, factory):
    """``login_as("coop_manager")`` -> (client, person) logged in with that role."""
    from marketplace.accounts.models import Role

    def _login(role: str):
        if role == "coop_manager":
            _org, person = factory.cooperative()
        elif role == "coop_member":
            org_id, _ = factory.cooperative()
            person = factory.member(org_id, Role.COOP_MEMBER)
        elif role == "buyer_admin":
            _org, person = factory.buyer()
        elif role == "buyer_purchaser":
            org_id, _ = factory.buyer()
            person = factory.member(org_id, Role.BUYER_PURCHASER)
        elif role == "staff_auditor":
            person = factory.staff()
        elif role == "platform_admin":
            person = factory.admin()
        else:  # pragma: no cover - a typo in a test
            raise ValueError(role)
        client = app.test_client()
        login(client, person)
        return client, person

    return _login


ROLES = ["coop_manager", "coop_member", "buyer_admin", "buyer_purchaser", "staff_auditor", "platform_admin"]
