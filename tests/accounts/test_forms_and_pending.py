"""Forms people can fill with a screen reader and after a mistake; the privacy policy; what a
pending organisation sees and the documents it sends for its verification."""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from PIL import Image
from sqlalchemy import select

from marketplace.accounts.models import DocumentStatus, OrganisationDocument, Role
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from tests.accounts.test_registration import COOP
from tests.conftest import ROLES, login


@pytest.fixture
def app(make_app, tmp_path):
    """Documents go to this test's own folder, never the instance's uploads."""
    return make_app(UPLOAD_FOLDER=str(tmp_path / "uploads"))


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.none_values: list[str] = []
        self.current: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.append(value)
            if value == "None":
                self.none_values.append(f"<{tag} {name}=None>")
            if name == "aria-current":
                self.current.append(tag)


def _attributes(html: str) -> _Attributes:
    parser = _Attributes()
    parser.feed(html)
    return parser


PAGES = {
    "coop_manager": ["/inicio", "/ofertas", "/cotizar", "/ventas", "/envios", "/acopio", "/organizacion",
                     "/organizacion/miembros", "/organizacion/documentos", "/cuenta", "/cuenta/avisos"],
    "coop_member": ["/inicio", "/ofertas", "/ventas", "/cuenta"],
    "buyer_admin": ["/inicio", "/buscar", "/solicitudes", "/solicitudes/nueva", "/pedido", "/pedidos",
                    "/organizacion", "/organizacion/sitios", "/organizacion/miembros", "/organizacion/documentos", "/cuenta"],
    "buyer_purchaser": ["/inicio", "/buscar", "/pedidos", "/cuenta"],
    "staff_auditor": ["/inicio", "/admin/organizaciones", "/seguimiento/indicadores", "/seguimiento/auditoria", "/cuenta"],
    "platform_admin": ["/inicio", "/admin/organizaciones", "/admin/catalogo", "/admin/pedidos", "/admin/equipo",
                       "/cuenta"],
}


@pytest.mark.parametrize("role", ROLES)
def test_main_pages_have_unique_ids_and_no_none_attributes(login_as, factory, role):
    client, person = login_as(role)
    if role in ("coop_manager", "buyer_admin"):
        # Two more people: the members page then has a role form per person.
        for member_role in ((Role.COOP_MEMBER,) * 2 if role == "coop_manager" else (Role.BUYER_PURCHASER,) * 2):
            factory.member(person.organisation_id, member_role)
    for path in PAGES[role]:
        response = client.get(path)
        assert response.status_code == 200, path
        found = _attributes(response.get_data(as_text=True))
        repeated = [i for i, n in Counter(found.ids).items() if n > 1]
        assert not repeated, (path, repeated)
        assert not found.none_values, (path, found.none_values)


def test_public_pages_have_unique_ids(client):
    for path in ["/", "/entrar", "/registro/cooperativa", "/registro/empresa", "/privacidad", "/recuperar"]:
        response = client.get(path)
        assert response.status_code == 200, path
        found = _attributes(response.get_data(as_text=True))
        assert not [i for i, n in Counter(found.ids).items() if n > 1], path
        assert "csrf_token" not in found.ids and not found.none_values, path


def test_the_menu_marks_the_current_section(login_as):
    client, _person = login_as("coop_manager")
    html = client.get("/organizacion/miembros").get_data(as_text=True)
    assert re.search(r'<a href="/organizacion" aria-current="page">', html)
    assert html.count('aria-current="page"') == 1
    html = client.get("/cuenta/avisos").get_data(as_text=True)
    assert re.search(r'<a href="/cuenta" aria-current="page">', html)
    assert 'href="/inicio" aria-current' not in html


def _post_registration(client, **changes):
    data = dict(COOP)
    data.update(changes)
    return client.post("/registro/cooperativa", data=data)


def test_a_refused_registration_summarises_errors_with_links_and_asks_for_the_password_again(client):
    response = _post_registration(client, consent="", members_total="muchos")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    summary = html[html.index('id="error-summary"') - 80:html.index("</div>", html.index('id="error-summary"'))]
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary
    # Every error is a link to its field, the consent too (the page reloads at the top).
    assert 'href="#consent"' in summary and "Debe autorizar el tratamiento de datos" in summary
    assert 'href="#members_total"' in summary
    assert 'href="#password">Contraseña: Por seguridad, escriba de nuevo la contraseña.' in summary
    # The passwords are never echoed, and their fields say why they are empty.
    assert "Cacao del Mira 2026" not in html
    assert html.count("Por seguridad, escriba de nuevo la contraseña.") == 4  # 2 fields + 2 summary lines
    # Retrying without the passwords: the same clear message, never a bare "obligatorio".
    retry = _post_registration(client, password="", password_confirm="")
    retry_html = retry.get_data(as_text=True)
    assert "Por seguridad, escriba de nuevo la contraseña." in retry_html
    assert 'id="password-error" class="error">Por seguridad' in retry_html
    assert "Este campo es obligatorio" not in retry_html


def test_member_counts_start_empty_and_an_empty_breakdown_counts_as_none(app, client):
    html = client.get("/registro/cooperativa").get_data(as_text=True)
    for name in ("members_total", "members_women", "members_victims"):
        tag = re.search(rf'<input[^>]*id="{name}"[^>]*>', html).group(0)
        assert 'value="0"' not in tag
    assert _post_registration(client, members_total="", members_women="").status_code == 200
    response = _post_registration(client, members_women="", members_victims="", substitution_families="")
    assert response.status_code == 302
    from marketplace.accounts.models import Cooperative

    with app.app_context():
        coop = db.session.scalar(select(Cooperative))
        assert (coop.members_total, coop.members_women, coop.members_victims) == (85, 0, 0)


# ------------------------------------------------------------------- privacy


def test_the_privacy_policy_is_in_both_languages_and_linked(client, login_as):
    es = client.get("/privacidad").get_data(as_text=True)
    for words in ("Ley 1581 de 2012", "Decreto 1377 de 2013", "conocer", "actualizar", "rectificar", "suprimir",
                  "revocar", "datos.personales@mercadorural.co", "Stripe", "WhatsApp", "Cuánto tiempo"):
        assert words.lower() in es.lower(), words
    client.post("/idioma", data={"lang": "en", "next": "/privacidad"})
    en = client.get("/privacidad").get_data(as_text=True)
    assert "Personal data policy" in en and "Law 1581 of 2012" in en and "revoke" in en
    client.post("/idioma", data={"lang": "es", "next": "/"})
    assert 'href="/privacidad"' in client.get("/registro/cooperativa").get_data(as_text=True)
    assert 'href="/privacidad"' in client.get("/registro/empresa").get_data(as_text=True)
    assert 'href="/privacidad"' in client.get("/entrar").get_data(as_text=True)  # the footer
    logged, _person = login_as("buyer_admin")
    account = logged.get("/cuenta").get_data(as_text=True)
    assert account.count('href="/privacidad"') == 2  # the page and the footer


def test_the_contact_comes_from_the_configuration(make_app):
    app = make_app(PRIVACY_CONTACT="habeas@ejemplo.co")
    assert "habeas@ejemplo.co" in app.test_client().get("/privacidad").get_data(as_text=True)


# ------------------------------------------------------------- pending organisations


def _menu(html: str) -> list[str]:
    nav = html[html.index('<nav aria-label="Menú principal">'):html.index("</nav>")]
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav)


def test_a_pending_cooperative_sees_only_what_it_can_do_and_its_next_steps(app, factory):
    _coop, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    html = client.get("/inicio").get_data(as_text=True)
    assert _menu(html) == ["Inicio", "Organización", "Cuenta"]
    checklist = html[html.index('id="verificacion"'):]
    assert "RUT" in checklist and "Cámara de Comercio" in checklist and "Acta de constitución" in checklist
    assert "/organizacion/documentos?tipo=rut" in checklist
    assert f"por WhatsApp al {manager.login}" in checklist and 'href="/cuenta/avisos"' in checklist
    acopio = client.get("/acopio").get_data(as_text=True)
    assert "se crean al publicar" not in acopio and 'href="/inicio#verificacion"' in acopio


def test_a_verified_cooperative_keeps_its_menu_and_an_empty_acopio_leads_somewhere(app, factory):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    html = client.get("/acopio").get_data(as_text=True)
    assert _menu(html) == ["Inicio", "Mis ofertas", "Solicitudes", "Ventas", "Envíos", "Acopio", "Predios",
                           "Organización", "Cuenta"]
    assert 'href="/ofertas/nueva"' in html and "Nuevo centro de acopio" in html
    assert 'id="verificacion"' not in client.get("/inicio").get_data(as_text=True)


def test_a_pending_buyer_can_still_search(app, factory):
    _buyer, admin = factory.buyer(status="pending")
    client = app.test_client()
    login(client, admin)
    html = client.get("/inicio").get_data(as_text=True)
    assert _menu(html) == ["Inicio", "Buscar cosechas", "Organización", "Cuenta"]
    checklist = html[html.index('id="verificacion"'):]
    assert "RUT" in checklist and "Acta de constitución" not in checklist
    assert f"por correo a {admin.login}" in checklist


# ----------------------------------------------------------------- documents


def _jpeg(size=(1200, 900), exif=True) -> bytes:
    image = Image.new("RGB", size, (240, 240, 235))
    out = io.BytesIO()
    if exif:
        info = Image.Exif()
        info[0x010F] = "Camara de prueba"  # Make
        image.save(out, format="JPEG", exif=info)
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _send(client, kind, payload, name):
    return client.post("/organizacion/documentos", data={"kind": kind, "file": (io.BytesIO(payload), name)},
                       content_type="multipart/form-data")


def _documents(app):
    with app.app_context():
        return db.session.scalars(select(OrganisationDocument).order_by(OrganisationDocument.id)).all()


def test_a_manager_sends_a_pdf_and_a_photo_and_only_the_right_people_read_them(app, factory):
    coop_id, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    assert _send(client, "rut", PDF, "rut.pdf").status_code == 302
    assert _send(client, "acta_constitucion", _jpeg(), "acta.png").status_code == 302
    pdf_doc, photo_doc = _documents(app)
    assert (pdf_doc.kind.value, pdf_doc.content_type, pdf_doc.organisation_id) == ("rut", "application/pdf", coop_id)
    assert photo_doc.content_type == "image/jpeg" and photo_doc.file_key.startswith("doc-")
    download = client.get(f"/organizacion/documentos/{pdf_doc.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    photo = client.get(f"/organizacion/documentos/{photo_doc.id}")
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert "exif" not in Image.open(io.BytesIO(photo.data)).info  # re-encoded: metadata dropped
    # The public photo route never serves a document, even by its key.
    assert client.get(f"/media/{photo_doc.file_key}").status_code == 404
    # The checklist shows what was sent.
    home = client.get("/inicio").get_data(as_text=True)
    assert home.count("enviado, el equipo lo está revisando.") == 2

    _other, other_manager = factory.cooperative(status="pending")
    other = app.test_client()
    login(other, other_manager)
    assert other.get(f"/organizacion/documentos/{pdf_doc.id}").status_code == 404
    assert "rut.pdf" not in other.get("/organizacion/documentos").get_data(as_text=True)
    member = factory.member(coop_id, Role.COOP_MEMBER)
    member_client = app.test_client()
    login(member_client, member)
    assert member_client.get(f"/organizacion/documentos/{pdf_doc.id}").status_code == 404
    assert member_client.post("/organizacion/documentos",
                              data={"kind": "rut", "file": (io.BytesIO(PDF), "x.pdf")}).status_code == 403
    auditor = app.test_client()
    login(auditor, factory.staff())
    assert auditor.get(f"/organizacion/documentos/{pdf_doc.id}").data == PDF
    assert f"/organizacion/documentos/{pdf_doc.id}" in auditor.get(f"/admin/organizaciones/{coop_id}").get_data(
        as_text=True)
    assert len(_documents(app)) == 2


@pytest.mark.parametrize(("payload", "name", "message"), [
    (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "cortado.pdf", "dañado o incompleto"),
    (b"%PDF-1.4\n<</S/JavaScript/JS(app.alert(1))>>\n%%EOF\n", "script.pdf", "contenido activo"),
    (b"MZ\x90\x00 this is a program", "rut.pdf", "Envíe un PDF o una foto"),
    (b"<html><script>alert(1)</script></html>", "rut.jpg", "Envíe un PDF o una foto"),
    (b"GIF89a" + b"\x00" * 64, "rut.gif", "Envíe un PDF o una foto"),
    (b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n", "grande.pdf", "más de 10 MB"),
    (b"", "vacio.pdf", "Elija el archivo"),
])
def test_bad_documents_are_refused_and_stored_nowhere(app, factory, payload, name, message):
    _coop, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    response = _send(client, "rut", payload, name)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'href="#file"' in html
    assert _documents(app) == []
    import os

    folder = app.config["UPLOAD_FOLDER"]
    assert not os.path.isdir(folder) or not [f for f in os.listdir(folder) if f.startswith("doc-")]


def test_staff_accept_or_reject_a_document_with_an_audit_trail(app, factory):
    coop_id, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    _send(client, "rut", PDF, "rut.pdf")
    _send(client, "camara_comercio", PDF, "camara.pdf")
    rut, camara = _documents(app)
    auditor = app.test_client()
    login(auditor, factory.staff())
    refused = auditor.post(f"/admin/organizaciones/{coop_id}/documentos/{rut.id}",
                           data={f"doc{rut.id}-status": "accepted"})
    assert refused.status_code == 403
    admin = app.test_client()
    login(admin, factory.admin())
    no_note = admin.post(f"/admin/organizaciones/{coop_id}/documentos/{camara.id}",
                         data={f"doc{camara.id}-status": "rejected", f"doc{camara.id}-note": ""})
    assert no_note.status_code == 302
    assert _documents(app)[1].status == DocumentStatus.PENDING
    admin.post(f"/admin/organizaciones/{coop_id}/documentos/{rut.id}", data={f"doc{rut.id}-status": "accepted"})
    admin.post(f"/admin/organizaciones/{coop_id}/documentos/{camara.id}",
               data={f"doc{camara.id}-status": "rejected", f"doc{camara.id}-note": "Tiene más de 30 días"})
    _other_id, _ = factory.cooperative()
    assert admin.post(f"/admin/organizaciones/{_other_id}/documentos/{rut.id}",
                      data={f"doc{rut.id}-status": "rejected", f"doc{rut.id}-note": "x"}).status_code == 404
    rut, camara = _documents(app)
    assert (rut.status, camara.status, camara.review_note) == (DocumentStatus.ACCEPTED, DocumentStatus.REJECTED,
                                                               "Tiene más de 30 días")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "organisation_document")
                                    .order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["organisation_document.uploaded", "organisation_document.uploaded",
                                              "organisation_document.accepted", "organisation_document.rejected"]
        assert events[-1].before == {"status": "pending", "review_note": None}
        assert events[-1].after == {"status": "rejected", "review_note": "Tiene más de 30 días"}
    home = client.get("/inicio").get_data(as_text=True)
    assert "✓ aceptado." in home and "Tiene más de 30 días" in home and "tipo=camara_comercio" in home


def test_a_refusal_tells_a_pending_organisation_where_its_next_step_is(app, factory):
    _coop, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    refused = client.get("/admin/organizaciones")
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert "aún no está verificada" in html and 'href="/inicio#verificacion"' in html
    _verified, verified_manager = factory.cooperative()
    other = app.test_client()
    login(other, verified_manager)
    assert 'href="/inicio#verificacion"' not in other.get("/admin/organizaciones").get_data(as_text=True)


def test_number_fields_of_the_demand_form_start_empty(login_as):
    client, _person = login_as("buyer_admin")
    html = client.get("/solicitudes/nueva").get_data(as_text=True)
    inputs = re.findall(r'<input[^>]*inputmode="(?:decimal|numeric)"[^>]*>', html)
    assert inputs and not [tag for tag in inputs if re.search(r'value="0(?:[.,]0+)?"', tag)]
