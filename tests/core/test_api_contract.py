"""Schemathesis runs every published operation with positive and negative data and all
built-in checks; any finding fails the suite. New endpoints are covered automatically."""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from marketplace import create_app
from tests.conftest import base_overrides, login


@pytest.fixture
def api_token(app, factory):
    _coop_id, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    page = client.post("/cuenta/tokens", data={"token-name": "contrato", "token-password": person.password})
    assert page.status_code == 201
    return re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)


def _published_spec() -> dict:
    # The spec does not depend on data, so an app on an empty in-memory database serves it.
    spec_app = create_app(base_overrides("sqlite://"))
    return spec_app.test_client().get("/api/openapi.json").get_json()


schema = schemathesis.openapi.from_dict(_published_spec())


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_honours_its_contract(case, app, api_token):
    # Point this case (and the checks that re-send it) at this test's application.
    case.operation.schema.app = app
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_token}"})


def test_the_contract_test_covers_every_published_operation():
    spec = _published_spec()
    methods = {"get", "post", "put", "patch", "delete"}
    published = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in methods}
    assert published == {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert ("GET", "/api/v1/me") in published and ("GET", "/api/v1/municipalities") in published
