"""The staff dashboards and the buyer's report, as staff, buyers and cooperatives use them."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Organisation, User
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.insights.models import TransactionReview
from marketplace.orders import services
from marketplace.orders.models import OrderLine, OrderPart
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user

STAFF_PAGES = ("/seguimiento/indicadores", "/seguimiento/tendencias", "/seguimiento/anomalias",
               "/seguimiento/auditoria", "/seguimiento/ventas")


@pytest.fixture
def sold(app, market):  # noqa: F811
    """An accepted order from both cooperatives: two sale lines."""
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        for part in db.session.scalars(select(OrderPart).where(OrderPart.order_id == order_id)):
            manager = market.manager_a if part.cooperative_id == market.coop_a else market.manager_b
            services.accept(user(manager), part)
        db.session.commit()
    return market


def test_staff_read_every_dashboard_and_others_are_refused(app, sold, factory):
    auditor = app.test_client()
    login(auditor, factory.staff())
    for path in STAFF_PAGES:
        assert auditor.get(path).status_code == 200, path
    html = auditor.get("/seguimiento/indicadores").get_data(as_text=True)
    # Charts are drawn on the server: nothing inside the page's main part needs a script (the
    # layout's own small scripts, offline drafts, come after it).
    assert "<svg" in html and "<script" not in html.split("<main")[-1].split("</main>")[0]
    trends = auditor.get("/seguimiento/tendencias").get_data(as_text=True)
    assert "Mediana" in trends
    for who in (sold.buyer, sold.manager_a):
        client = app.test_client()
        login(client, who)
        for path in STAFF_PAGES:
            assert client.get(path).status_code == 403, (who, path)


def test_exports_are_csv_and_xlsx_and_bad_filters_change_nothing(app, sold, factory):
    auditor = app.test_client()
    login(auditor, factory.staff())
    with app.app_context():
        product = db.session.scalar(select(OrderLine.product_id))
    response = auditor.get(f"/seguimiento/ventas?formato=csv&producto={product}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 3  # header and the two sale lines
    xlsx = auditor.get("/seguimiento/indicadores?formato=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    for query in ("desde=2026-05&hasta=2026-01", "producto=999999", "departamento=98", "subregion=Narnia",
                  "municipio=00000", "desde=mayo"):
        bad = auditor.get(f"/seguimiento/tendencias?{query}")
        assert bad.status_code == 422, query
        assert 'role="alert"' in bad.get_data(as_text=True)
    assert auditor.get("/seguimiento/indicadores?formato=exe").status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_auditors_record_reviews_which_reach_the_audit_trail(app, sold, factory):
    auditor = app.test_client()
    login(auditor, factory.staff())
    with app.app_context():
        line_id = db.session.scalar(select(OrderLine.id))
    empty = auditor.post(f"/seguimiento/transacciones/{line_id}/revision", data={"outcome": "justified", "note": ""})
    assert empty.status_code == 302
    ok = auditor.post(f"/seguimiento/transacciones/{line_id}/revision",
                      data={"outcome": "justified", "note": "Cacao fino de aroma con prima pactada."})
    assert ok.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TransactionReview)) == 1
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "transaction.reviewed"))
        assert event.after["outcome"] == "justified"
    found = auditor.get("/seguimiento/auditoria?accion=transaction.reviewed").get_data(as_text=True)
    assert "Cacao fino de aroma" in found
    # An auditor changes nothing else: targets are for platform admins.
    assert auditor.post("/seguimiento/metas", data={"indicator": "volume_kg", "year": "2026",
                                                    "target": "1000"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "indicator.target_set")) == 0


def test_a_buyer_downloads_its_own_report_and_nobody_elses(app, sold, factory):
    buyer = app.test_client()
    login(buyer, sold.buyer)
    page = buyer.get("/impacto").get_data(as_text=True)
    assert "Asociación Cacaotera de Tumaco" not in page  # cooperatives are counted, not named
    assert "Tumaco" in page
    pdf = buyer.get("/impacto?formato=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    data = buyer.get("/impacto?formato=csv").get_data(as_text=True)
    assert "Tumaco" in data
    _other_id, other = factory.buyer()
    stranger = app.test_client()
    login(stranger, other)
    assert "Tumaco" not in stranger.get("/impacto").get_data(as_text=True)
    assert "Tumaco" not in stranger.get(f"/impacto?comprador={sold.buyer_id}&formato=csv").get_data(as_text=True)
    coop = app.test_client()
    login(coop, sold.manager_a)
    assert coop.get("/impacto").status_code == 403


def test_audit_object_kinds_are_the_distinct_kinds_in_the_trail(app):
    from marketplace.insights.services import audit_object_types

    with app.app_context():
        db.session.execute(AuditEvent.__table__.delete())
        assert audit_object_types() == []
        for kind, object_id in (("order", 1), ("listing", 2), ("order", 3), ("user", 4), ("listing", 5)):
            db.session.add(AuditEvent(action=f"{kind}.changed", object_type=kind, object_id=str(object_id)))
        db.session.flush()
        expected = sorted(set(db.session.scalars(select(AuditEvent.object_type))))
        assert audit_object_types() == expected == ["listing", "order", "user"]
        db.session.rollback()


def test_the_targets_address_leads_staff_to_the_targets_beside_the_indicators(app, sold, factory):
    admin = app.test_client()
    login(admin, factory.admin())
    response = admin.get("/seguimiento/metas?departamento=19")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/seguimiento/indicadores?departamento=19#metas")
    page = admin.get("/seguimiento/indicadores").get_data(as_text=True)
    assert 'id="metas"' in page
    buyer = app.test_client()
    login(buyer, sold.buyer)
    assert buyer.get("/seguimiento/metas").status_code == 403


def test_the_audit_trail_names_who_changed_what_and_for_which_organisation(app, sold, factory):
    auditor = app.test_client()
    login(auditor, factory.staff())
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order_part.accept",
                                                           AuditEvent.actor_id.is_not(None)).limit(1))
        actor = db.session.get(User, event.actor_id).full_name
        organisation = db.session.get(Organisation, event.organisation_id).name
        object_id = event.object_id
    page = auditor.get(f"/seguimiento/auditoria?accion=order_part.accept&id={object_id}").get_data(as_text=True)
    row = page.split("<tbody>")[1].split("</tbody>")[0]
    assert actor in row and organisation in row
    download = auditor.get(f"/seguimiento/auditoria?accion=order_part.accept&id={object_id}&formato=csv")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    header, first = rows[0], rows[1]
    assert first[header.index("Usuario")] == actor and first[header.index("Organización")] == organisation
    assert first[header.index("Usuario n.º")] == str(event.actor_id)


def test_the_month_by_month_table_shows_pesos_kilos_and_shares_as_such(app, sold, factory):
    auditor = app.test_client()
    login(auditor, factory.staff())
    html = auditor.get("/seguimiento/indicadores").get_data(as_text=True)
    monthly = html.split("Mes a mes")[1].split("</table>")[0]
    this_month = [row for row in monthly.split("<tr>") if "$" in row and "$ 0<" not in row]
    assert len(this_month) == 1  # only the month of the sale has income
    cells = re.split(r'<td[^>]*class="num">', this_month[0])[1:]
    assert cells[0].startswith("$ ") and cells[1].split("<")[0].endswith(" kg")
    assert any(c.split("<")[0].endswith(" %") for c in cells)
