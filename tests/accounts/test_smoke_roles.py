"""Every role can log in and reach a home page that speaks to that role."""

import pytest

from tests.conftest import ROLES

EXPECTED = {
    "coop_manager": "Qué sigue",
    "coop_member": "Qué sigue",
    "buyer_admin": "sitios de entrega",
    "buyer_purchaser": "sitios de entrega",
    "staff_auditor": "Seguimiento del programa",
    "platform_admin": "Por verificar",
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_home(login_as, role):
    client, _person = login_as(role)
    page = client.get("/inicio")
    assert page.status_code == 200
    assert EXPECTED[role] in page.get_data(as_text=True)
