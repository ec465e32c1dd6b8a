"""Staff read notice kinds and transport leg kinds as words, in their language."""

from __future__ import annotations

from marketplace.messaging import hooks
from marketplace.messaging.views import kind_label
from tests.conftest import login


def test_every_notice_kind_has_a_label_in_both_languages(app):
    with app.test_request_context("/?lang=es"):
        spanish = {kind: kind_label(kind) for kind in hooks.NOTICE_KINDS}
        assert spanish["new_order"] == "Pedido nuevo" and kind_label("reply") == "Respuesta a un mensaje"
    with app.test_request_context("/?lang=en"):
        english = {kind: kind_label(kind) for kind in hooks.NOTICE_KINDS}
        assert english["new_order"] == "New order"
    unlabelled = [kind for kind, registered in hooks.NOTICE_KINDS.items() if registered.label is None]
    assert not unlabelled, unlabelled
    for kind in hooks.NOTICE_KINDS:
        assert "_" not in spanish[kind] and "_" not in english[kind]


def test_the_transport_modes_page_names_leg_kinds(app, factory):
    staff = app.test_client()
    login(staff, factory.admin())
    page = staff.get("/admin/logistica?lang=es")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Carretera" in html and "<small>road" not in html
