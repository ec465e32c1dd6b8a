"""Property-based contract test of the whole published API with Schemathesis.

Every operation in /api/openapi.json is exercised with valid (positive) and invalid
(negative) data, through the examples, coverage and fuzzing phases, and every built-in
check runs on every response: server errors, status codes, content types, response
schemas and headers, acceptance of valid and rejection of invalid data, missing or
ignored authentication, unsupported methods and the Allow header. Any finding fails.

The schema is loaded from the running application, so operations added later are
covered without touching this file.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import ChecksConfig

from marketplace import create_app
from tests.conftest import base_overrides, login
from tests.orders.conftest import market  # noqa: F401  (fixture)

# Every built-in check, named explicitly, so that a check Schemathesis might one day
# disable by default still runs here (and a renamed check fails loudly below).
ALL_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
]

MAX_EXAMPLES = 40
SEED = 20261125


def _new_token(app, factory) -> str:
    """A real personal token, created on the account page by a verified cooperative manager."""
    _coop_id, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    response = client.post("/cuenta/tokens", data={"token-name": "Contrato API", "token-password": person.password})
    assert response.status_code == 201
    match = re.search(r'<code class="token" id="new-token">(mr_[^<]+)</code>', response.get_data(as_text=True))
    assert match, "the new token is not shown on the account page"
    return match.group(1)


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "checks": {
            "enabled": True,
            **{name: {"enabled": True} for name in ALL_CHECKS},
            # A request can match the schema and still break a rule of the business that a
            # schema cannot state (a harvest date in the past, a grade of another product,
            # a listing by an unverified cooperative): the API answers 422 with the reason.
            "positive_data_acceptance": {
                "enabled": True,
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"],
            },
        },
        "generation": {
            "mode": "all",  # positive and negative data
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
        },
    }
)


def _spec_app():
    """The published spec does not depend on data, so an application on an empty
    in-memory database serves it at import time. Each test then sends its requests to
    its own application, on a migrated database (the ``app`` fixture)."""
    return create_app(base_overrides("sqlite://"))


schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _spec_app(), config=CONFIG)


@pytest.fixture
def app(make_app):
    # Schemathesis calls the WSGI app directly and reads the body as sent, without undoing a
    # Content-Encoding as an HTTP client would; compression has its own tests (test_compression).
    return make_app(COMPRESS_ENABLED=False)


@pytest.fixture
def api_token(app, factory) -> str:
    return _new_token(app, factory)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_honours_the_published_contract(case, app, api_token):
    # The checks that send extra requests (ignored auth, unsupported methods...) reach
    # the application through the operation's schema, so point it at this test's app.
    case.operation.schema.app = app
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_token}"})


def test_every_published_operation_is_exercised(app):
    """The parametrized test above covers exactly the operations the app publishes now."""
    published = app.test_client().get("/api/openapi.json").get_json()["paths"]
    expected = {(method.upper(), path) for path, item in published.items() for method in item if method != "parameters"}
    covered = {(op.method.upper(), op.path) for op in (result.ok() for result in schema.get_all_operations())}
    assert covered == expected
    assert {("GET", "/api/v1/me"), ("GET", "/api/v1/municipalities")} <= covered


def test_all_built_in_checks_are_enabled():
    """Guards the configuration above: no built-in check may be off, and the list
    names every check this Schemathesis version ships."""
    config = CONFIG.projects.get_default()
    checks: ChecksConfig = config.checks
    for name in ALL_CHECKS:
        assert checks.get_by_name(name=name).enabled, name
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    built_in = {check.__name__ for check in CHECKS.get_all() if check.__module__.startswith("schemathesis.")}
    assert built_in - {"max_response_time"} <= set(ALL_CHECKS)
    generation = config.generation
    assert {mode.value for mode in generation.modes} == {"positive", "negative"}
    assert generation.deterministic and generation.max_examples == MAX_EXAMPLES


# ------------------------------------------------ answers with data, against the schema

# Operations whose answers carry instants (date-time), read with data present by who may
# read them: empty lists would validate whatever the timestamps look like.
WITH_DATA = [
    ("buyer", "GET", "/api/v1/orders", {}, {}),
    ("buyer", "GET", "/api/v1/orders/{order_id}", {"order_id": "order_id"}, {}),
    ("coop", "GET", "/api/v1/order-parts", {}, {}),
    ("coop", "GET", "/api/v1/order-parts/{part_id}", {"part_id": "part_id"}, {}),
    ("buyer", "GET", "/api/v1/demands", {}, {}),
    ("buyer", "GET", "/api/v1/demands/{demand_id}", {"demand_id": "demand_id"}, {}),
    ("buyer", "GET", "/api/v1/demands/{demand_id}/proposals/latest", {"demand_id": "demand_id"}, {}),
    ("buyer", "GET", "/api/v1/proposals/{proposal_id}", {"proposal_id": "proposal_id"}, {}),
    ("staff", "GET", "/api/v1/insights/audit-events", {}, {"page_size": 100}),
]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture
def with_data(app, market, factory):  # noqa: F811
    """An order from two cooperatives, one part accepted (events), a demand with its
    proposal, and the audit events all of that wrote; a token for each reader."""
    from marketplace.extensions import db
    from marketplace.matching import services as matching
    from marketplace.orders import services as orders
    from marketplace.orders.models import Order
    from tests.matching.conftest import demand_data
    from tests.orders.conftest import api_token as token_for
    from tests.orders.helpers import place, user

    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        order = db.session.get(Order, order_id)
        part = next(p for p in order.parts if p.cooperative_id == market.coop_a)
        orders.accept(user(market.manager_a), part)
        demand = matching.create_demand(user(market.buyer), demand_data(market))
        proposal = matching.propose(user(market.buyer), [demand])
        db.session.commit()
        ids = {"order_id": order_id, "part_id": part.id, "demand_id": demand.id,
               "proposal_id": (proposal[0] if isinstance(proposal, list) else proposal).id}
    _staff_org, staff = None, factory.staff()
    tokens = {"buyer": token_for(app, market.buyer), "coop": token_for(app, market.manager_a),
              "staff": token_for(app, staff)}
    return ids, tokens


def _instants(value, path=""):
    """Every (path, value) in a JSON answer whose key names an instant."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_at") or key == "respond_by":
                yield f"{path}.{key}", item
            yield from _instants(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _instants(item, f"{path}[{index}]")


def _validate_with_data(app, ids, tokens):
    from schemathesis.checks import load_all_checks
    from schemathesis.specs.openapi.checks import response_schema_conformance

    load_all_checks()
    seen = set()
    for who, method, path, path_ids, query in WITH_DATA:
        case = schema[path][method].Case(path_parameters={k: ids[v] for k, v in path_ids.items()} or None,
                                         query=query or None)
        response = case.call_and_validate(app=app, headers=tokens[who], checks=[response_schema_conformance])
        assert response.status_code == 200, (who, path, response.text[:300])
        instants = list(_instants(response.json()))
        assert instants, (who, path, "no timestamps in the answer: the check proves nothing")
        for where, value in instants:
            assert value is None or RFC3339.match(value), (path, where, value)
            seen.add(where.rsplit(".", 1)[-1])
    return seen


def test_timestamps_in_answers_with_data_carry_their_offset(app, with_data):
    """Orders, parts and their events, demands, proposals and audit events, with rows in
    them, match the published schema, date-time format included, on SQLite and PostgreSQL."""
    ids, tokens = with_data
    seen = _validate_with_data(app, ids, tokens)
    assert {"placed_at", "respond_by", "occurred_at", "created_at", "accepted_at"} <= seen


def test_the_schema_check_refuses_a_timestamp_without_offset(app, with_data, monkeypatch):
    """Guards the test above: the response-schema check does read the date-time format."""
    from schemathesis.core.failures import FailureGroup

    from marketplace.core.schemas import UTCDateTime

    monkeypatch.setattr(UTCDateTime, "_serialize",
                        lambda self, value, attr, obj, **kw: value and value.replace(tzinfo=None).isoformat())
    ids, tokens = with_data
    with pytest.raises(FailureGroup) as failure:
        _validate_with_data(app, ids, tokens)
    details = " ".join(str(e) for e in failure.value.exceptions)
    assert "Response violates schema" in str(failure.value) and '"format": "date-time"' in details, details
