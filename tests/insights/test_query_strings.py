"""Staff pages pass only the query values they know to url_for: names url_for reads itself
(_anchor, _external, _scheme, _method, endpoint) neither fail the page nor change the scheme,
host or anchor of its links and redirects."""

from __future__ import annotations

import re

import pytest

from tests.conftest import login

HOSTILE = ("_anchor=x", "_external=1&_scheme=https", "_method=DELETE", "endpoint=core.health",
           "_external=1&_scheme=https&_anchor=x&endpoint=auth.login&desde=2026-01")
PAGES = ("/seguimiento/indicadores", "/seguimiento/tendencias", "/seguimiento/anomalias",
         "/seguimiento/auditoria", "/admin/mensajes")
REDIRECTS = ("/seguimiento/metas", "/admin/auditoria")


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|action)="([^"]*)"', html)


def _clean(url: str) -> bool:
    return not url.startswith(("http://localhost", "https://", "//")) and "#x" not in url


@pytest.fixture
def staff_client(app, factory):
    client = app.test_client()
    login(client, factory.admin())
    return client


@pytest.mark.parametrize("query", HOSTILE)
def test_staff_pages_ignore_url_for_names_in_the_query(staff_client, query):
    for path in PAGES:
        response = staff_client.get(f"{path}?{query}")
        assert response.status_code in (200, 400, 422), (path, query, response.status_code)
        links = _links(response.get_data(as_text=True))
        assert links and all(_clean(link) for link in links), (path, query, [x for x in links if not _clean(x)])


@pytest.mark.parametrize("query", HOSTILE)
def test_staff_redirects_keep_their_scheme_and_host(staff_client, query):
    for path in REDIRECTS:
        response = staff_client.get(f"{path}?{query}")
        assert response.status_code in (301, 302), (path, query, response.status_code)
        location = response.headers["Location"]
        assert location.startswith("/seguimiento/"), location
        assert "_scheme" not in location and "_external" not in location and "endpoint" not in location
    posted = staff_client.post(f"/seguimiento/metas?{query}", data={"indicator": "income_cop", "year": "2027",
                                                                     "target": "1000000"})
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/seguimiento/indicadores")


def test_known_filters_are_kept(staff_client):
    response = staff_client.get("/seguimiento/metas?desde=2026-01&hasta=2026-06&_scheme=https&_external=1")
    assert response.headers["Location"] == "/seguimiento/indicadores?desde=2026-01&hasta=2026-06#metas"
    page = staff_client.get("/seguimiento/indicadores?desde=2026-01&_anchor=x").get_data(as_text=True)
    assert 'action="/seguimiento/metas?desde=2026-01"' in page


def test_the_buyers_report_and_the_catalogue_search_ignore_them_too(login_as):
    client, _person = login_as("buyer_admin")
    for path in ("/impacto", "/buscar"):
        for query in HOSTILE:
            response = client.get(f"{path}?{query}")
            assert response.status_code in (200, 400, 422), (path, query, response.status_code)
            assert all(_clean(link) for link in _links(response.get_data(as_text=True)))
