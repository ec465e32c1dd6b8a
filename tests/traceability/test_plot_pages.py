"""The cooperative's plot pages: recording point and polygon plots (typed or uploaded), the
check shown in words, refusals that store nothing, privacy role by role, and the audit trail."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Role, User
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Product
from marketplace.core import audit_text
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.traceability.models import Plot
from tests.conftest import PASSWORD, login
from tests.traceability.plots import (
    CAGUAN_CODE,
    CAGUAN_POINT,
    CHAPARRAL_CAFE,
    CHAPARRAL_CODE,
    PLANADAS_CAFE,
    PLANADAS_CODE,
    TUMACO_CACAO,
    TUMACO_CODE,
    geojson_polygon,
)

# Tumaco's plot moved about 110 m east: it covers half of the first one.
TUMACO_SHIFTED = """1.741200, -78.651300
1.741250, -78.649280
1.739190, -78.649210
1.739160, -78.651350"""
# The same corners in an order whose edges cross (a bow tie).
TUMACO_BOWTIE = """1.741200, -78.652300
1.739190, -78.650210
1.741250, -78.650280
1.739160, -78.652350"""


@pytest.fixture
def world(app, factory):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(db.select(Product.id).where(Product.slug == "cacao-grano-seco"))
        coffee = db.session.scalar(db.select(Product.id).where(Product.slug == "cafe-pergamino-seco"))
    coop_id, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    return {"coop_id": coop_id, "manager": manager, "client": client, "cacao": cacao, "coffee": coffee}


def _form(product, municipality, area, coordinates="", **extra):
    return {"producer_name": "María Cuero", "member_code": "A-17", "municipality": municipality,
            "declared_area": area, "product": str(product), "coordinates": coordinates, **extra}


def _plots(app) -> list[Plot]:
    with app.app_context():
        return list(db.session.scalars(db.select(Plot).order_by(Plot.id)))


def _record(world, **form):
    response = world["client"].post("/predios/nuevo", data=_form(**form), content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_typed_polygon_with_decimal_commas_is_kept_as_written_and_measured(app, world):
    plot_id = _record(world, product=world["coffee"], municipality=CHAPARRAL_CODE, area="2,6",
                      coordinates=CHAPARRAL_CAFE)
    (plot,) = _plots(app)
    assert plot.id == plot_id and plot.kind == "polygon" and plot.cooperative_id == world["coop_id"]
    # The coordinates keep their six decimals (trailing zeros included), longitude first.
    assert "[-75.512340,3.745210]" in plot.geometry_geojson
    assert plot.area_ha is not None and abs(plot.area_ha - Decimal("2.65")) < Decimal("0.1")
    assert plot.warnings == []
    page = world["client"].get(f"/predios/{plot_id}").get_data(as_text=True)
    assert "María Cuero" in page and "Área medida" in page and "La ubicación cumple las reglas" in page
    assert "Polígono de 4 puntos" in page
    listing = world["client"].get("/predios").get_data(as_text=True)
    assert f'id="predio-{plot_id}"' in listing and "Sin advertencias" in listing


def test_a_point_plot_up_to_four_hectares(app, world):
    plot_id = _record(world, product=world["cacao"], municipality=CAGUAN_CODE, area="3,2", coordinates=CAGUAN_POINT)
    (plot,) = _plots(app)
    assert plot.kind == "point" and plot.area_ha is None
    assert plot.geometry_geojson == '{"type":"Point","coordinates":[-74.781320,2.131845]}'
    assert "Un punto" in world["client"].get(f"/predios/{plot_id}").get_data(as_text=True)


def test_an_uploaded_geojson_whose_area_differs_is_kept_with_the_warning_in_words(app, world):
    upload = (io.BytesIO(geojson_polygon(PLANADAS_CAFE).encode()), "finca.geojson")
    plot_id = _record(world, product=world["coffee"], municipality=PLANADAS_CODE, area="1", upload=upload)
    (plot,) = _plots(app)
    assert plot.warnings == ["area_mismatch"]
    page = world["client"].get(f"/predios/{plot_id}").get_data(as_text=True)
    assert "difiere en más del 20" in page, page[page.find("Revisión"):][:600]
    assert "de la declarada (1 ha)" in page


def test_a_self_intersecting_polygon_is_refused_with_its_reason_and_nothing_is_stored(app, world):
    response = world["client"].post("/predios/nuevo", data=_form(world["cacao"], TUMACO_CODE, "5,25", TUMACO_BOWTIE))
    assert response.status_code == 422
    assert "El borde del polígono se cruza consigo mismo." in response.get_data(as_text=True)
    assert _plots(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "plot.created")) is None


def test_a_point_for_a_large_plot_and_a_place_outside_the_municipality_are_refused(app, world):
    response = world["client"].post("/predios/nuevo", data=_form(world["cacao"], CAGUAN_CODE, "6", CAGUAN_POINT))
    assert response.status_code == 422 and "necesita un polígono" in response.get_data(as_text=True)
    response = world["client"].post("/predios/nuevo", data=_form(world["cacao"], TUMACO_CODE, "3", CAGUAN_POINT))
    assert response.status_code == 422 and "del municipio declarado" in response.get_data(as_text=True)
    assert _plots(app) == []


def test_an_overlap_with_the_cooperatives_other_plot_is_a_warning(app, world):
    first = _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_CACAO)
    second = _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_SHIFTED)
    plots = {p.id: p for p in _plots(app)}
    assert plots[first].warnings == [] and plots[second].warnings == ["overlap"]
    page = world["client"].get(f"/predios/{second}").get_data(as_text=True)
    assert "La parcela se cruza con otra parcela de la cooperativa." in page


def test_another_cooperatives_plot_does_not_count_as_an_overlap(app, world, factory):
    _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_CACAO)
    _org, other = factory.cooperative()
    client = app.test_client()
    login(client, other)
    response = client.post("/predios/nuevo", data=_form(world["cacao"], TUMACO_CODE, "5,25", TUMACO_SHIFTED))
    assert response.status_code == 302
    assert _plots(app)[-1].warnings == []


def test_editing_revalidates_and_deactivating_is_audited(app, world):
    plot_id = _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_CACAO)
    client = world["client"]
    form = client.get(f"/predios/{plot_id}/editar").get_data(as_text=True)
    assert 'value="María Cuero"' in form and 'value="5,25"' in form
    bad = client.post(f"/predios/{plot_id}/editar", data=_form(world["cacao"], TUMACO_CODE, "5,25", TUMACO_BOWTIE))
    assert bad.status_code == 422
    assert _plots(app)[0].geometry_geojson.startswith('{"type":"Polygon","coordinates":[[[-78.652300,1.741200]')
    # Without new coordinates the stored geometry is kept and checked again with the new area.
    good = client.post(f"/predios/{plot_id}/editar", data=_form(world["cacao"], TUMACO_CODE, "2"))
    assert good.status_code == 302
    (plot,) = _plots(app)
    assert plot.warnings == ["area_mismatch"] and plot.declared_area_ha == Decimal("2")
    assert plot.geometry_geojson.startswith('{"type":"Polygon","coordinates":[[[-78.652300,1.741200]')
    assert client.post(f"/predios/{plot_id}/activo", data={"active": "0"}).status_code == 302
    assert _plots(app)[0].active is False
    with app.app_context():
        actions = list(db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.object_type == "plot")
                                          .order_by(AuditEvent.id)))
    assert actions == ["plot.created", "plot.updated", "plot.deactivated"]


def test_the_audit_trail_has_a_sentence_for_the_creation(app, world):
    plot_id = _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_CACAO)
    with app.test_request_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "plot.created"))
        assert event.object_id == str(plot_id) and event.organisation_id == world["coop_id"]
        described = audit_text.describe(event)
    assert described.sentence.startswith(f"Gerente {world['manager'].user_id - 0}"[:8])
    assert f"registró el predio de María Cuero, n.º {plot_id} para Asociación de Prueba" in described.sentence


def test_posting_without_the_csrf_token_stores_nothing(app, world):
    response = world["client"].post("/predios/nuevo", csrf=False,
                                    data=_form(world["cacao"], TUMACO_CODE, "5,25", TUMACO_CACAO))
    assert response.status_code == 400
    assert _plots(app) == []


def _carrier(app, factory):
    admin = factory.admin()
    with app.app_context():
        _carrier_org, user = accounts.create_carrier(
            db.session.get(User, admin.user_id), "Transportes del Pacífico", None, TUMACO_CODE,
            accounts.UserData("Conductor Uno", PASSWORD, phone="+573209998877"))
        user.must_change_password = False
        db.session.commit()
        user_id = user.id
    client = app.test_client()
    login(client, type(admin)(user_id, "+573209998877", PASSWORD, None))
    return client


def test_only_the_cooperative_and_staff_see_a_plot(app, world, factory, login_as):
    plot_id = _record(world, product=world["cacao"], municipality=TUMACO_CODE, area="5,25", coordinates=TUMACO_CACAO)
    member = factory.member(world["coop_id"], Role.COOP_MEMBER)
    member_client = app.test_client()
    login(member_client, member)
    assert member_client.get(f"/predios/{plot_id}").status_code == 200
    assert member_client.get(f"/predios/{plot_id}/editar").status_code == 200

    other_coop, _ = login_as("coop_manager")
    buyer, _ = login_as("buyer_admin")
    for outsider in (other_coop, buyer, _carrier(app, factory)):
        assert outsider.get(f"/predios/{plot_id}").status_code == 404
        assert outsider.get(f"/predios/{plot_id}/editar").status_code == 404
        changed = outsider.post(f"/predios/{plot_id}/editar",
                                data=_form(world["cacao"], TUMACO_CODE, "1", TUMACO_SHIFTED))
        assert changed.status_code == 404
        assert outsider.post(f"/predios/{plot_id}/activo", data={"active": "0"}).status_code == 404
    assert other_coop.get("/predios").get_data(as_text=True).count('id="predio-') == 0
    assert buyer.get("/predios").status_code == 403

    staff, _ = login_as("staff_auditor")
    page = staff.get(f"/predios/{plot_id}")
    assert page.status_code == 200 and "María Cuero" in page.get_data(as_text=True)
    assert f"/predios/{plot_id}/editar" not in page.get_data(as_text=True)
    assert staff.get(f"/predios/{plot_id}/editar").status_code == 403
    assert staff.post(f"/predios/{plot_id}/activo", data={"active": "0"}).status_code == 403
    (plot,) = _plots(app)
    assert plot.active and plot.declared_area_ha == Decimal("5.25") and "78.651300" not in plot.geometry_geojson
