"""Editing an organisation's NIT does not tell whether another organisation has it (issue 16,
item 10): a NIT on the platform is answered as any NIT change (a verified organisation goes
back under review), the organisation's own pages show the NIT it typed, the NIT is held for
staff with who has it, and the unique column is never violated."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from marketplace.accounts import services
from marketplace.accounts.identity import nit_check_digit
from marketplace.accounts.models import Organisation, OrgStatus
from marketplace.core import audit_text
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from tests.conftest import login

HELD = f"860002130-{nit_check_digit('860002130')}"
FREE = f"901234567-{nit_check_digit('901234567')}"


def _buyer_form(name: str, nit: str) -> dict:
    return {"name": name, "nit": nit, "municipality": "11001", "sector": ""}


def _flashes(client) -> list:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def _own_page(client, person, typed: str, name: str) -> str:
    """The organisation's profile, with what differs between two organisations (its name, its
    old and new NIT, its manager) blanked out."""
    page = client.get("/organizacion").get_data(as_text=True)
    page = re.sub(r'name="csrf_token"[^>]*', "", page)
    page = re.sub(r'data-user="\d+"', "", page)
    manager = person.login.split("@")[0]
    for value in (typed, name, manager, manager.replace("compras", "Compras ")):
        page = page.replace(value, "…")
    return re.sub(r"<del>\d{9}-\d</del>", "<del>…</del>", page)


def test_a_nit_another_has_gets_the_answer_a_free_one_gets_and_is_held_for_staff(app, factory):
    holder_id, _holder = factory.buyer(name="Nestlé de Colombia S.A.")
    prober_id, prober = factory.buyer(name="Dulces Uno S.A.S.")
    control_id, control = factory.buyer(name="Dulces Dos S.A.S.")
    admin = factory.admin()
    with app.app_context():
        db.session.get(Organisation, holder_id).nit = HELD
        db.session.commit()

    on_free_client, on_taken_client = app.test_client(), app.test_client()
    login(on_free_client, control)
    login(on_taken_client, prober)
    on_free = on_free_client.post("/organizacion/editar", data=_buyer_form("Dulces Dos S.A.S.", FREE))
    on_taken = on_taken_client.post("/organizacion/editar", data=_buyer_form("Dulces Uno S.A.S.", HELD))
    assert on_taken.status_code == on_free.status_code == 302
    assert on_taken.headers["Location"] == on_free.headers["Location"]
    assert _flashes(on_taken_client) == _flashes(on_free_client)
    assert "NIT" in str(_flashes(on_free_client))  # both are told the NIT change is reviewed
    # Their own pages afterwards read the same but for what each typed, and show that NIT.
    taken_page = _own_page(on_taken_client, prober, HELD, "Dulces Uno S.A.S.")
    assert taken_page == _own_page(on_free_client, control, FREE, "Dulces Dos S.A.S.")
    assert f"<ins>{HELD}</ins>" in on_taken_client.get("/organizacion").get_data(as_text=True)
    assert "ya registrado" not in taken_page and "Nestlé" not in taken_page
    assert f'value="{HELD}"' in on_taken_client.get("/organizacion/editar").get_data(as_text=True)

    with app.app_context():
        prober_org, holder_org = db.session.get(Organisation, prober_id), db.session.get(Organisation, holder_id)
        # Both went back under review; the prober without the NIT, which the holder keeps.
        assert prober_org.status == db.session.get(Organisation, control_id).status == OrgStatus.PENDING
        assert prober_org.nit is None and holder_org.nit == HELD
        assert db.session.scalar(select(func.count()).select_from(Organisation).where(Organisation.nit == HELD)) == 1
        assert services.held_nit(prober_org) == {"nit": HELD, "registered_by_id": holder_id,
                                                 "registered_by": "Nestlé de Colombia S.A."}
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.nit_held_on_edit"))
        assert event.organisation_id == prober_id and event.actor_id == prober.user_id
        assert "por uno que ya tiene otra organización" in audit_text.describe(event).sentence

    # Saving the form again as shown holds nothing new.
    again = on_taken_client.post("/organizacion/editar", data=_buyer_form("Dulces Uno S.A.S.", HELD))
    assert again.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "organisation.nit_held_on_edit")) == 1

    # Staff see whose NIT it is, with a link to it.
    staff = app.test_client()
    login(staff, admin)
    page = staff.get(f"/admin/organizaciones/{prober_id}").get_data(as_text=True)
    assert f"NIT {HELD} ya registrado por" in page and "Nestlé de Colombia S.A." in page
    assert f"/admin/organizaciones/{holder_id}" in page
    assert "ya registrado por" not in staff.get(f"/admin/organizaciones/{control_id}").get_data(as_text=True)


def test_a_cooperative_typing_a_nit_another_has_keeps_working_and_is_flagged(app, factory):
    holder_id, _holder = factory.buyer(name="Compradora S.A.")
    coop_id, person = factory.cooperative(status="pending", name="Asociación El Cacao")
    with app.app_context():
        db.session.get(Organisation, holder_id).nit = HELD
        db.session.commit()
    client = app.test_client()
    login(client, person)
    response = client.post("/organizacion/editar", data={
        "name": "Asociación El Cacao", "legal_form": "asociacion", "nit": HELD, "municipality": "52835",
        "members_total": "120", "members_women": "60", "members_youth": "30", "members_victims": "40",
        "substitution_families": "25", "contact_phone": "", "contact_email": "", "description": ""})
    assert response.status_code == 302
    with app.app_context():
        coop = db.session.get(Organisation, coop_id)
        assert coop.nit is None and services.held_nit(coop)["registered_by_id"] == holder_id
    assert HELD in client.get("/organizacion").get_data(as_text=True)
