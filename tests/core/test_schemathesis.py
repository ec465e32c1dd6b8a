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
