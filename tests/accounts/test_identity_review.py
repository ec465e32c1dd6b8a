"""Identity changes are reviewed: a verified organisation that changes its name, NIT or legal
form goes back under review (its current orders go on), and member counts that would flip the
women-led or youth-led flag count only once staff confirm them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from marketplace.accounts import reviews, services
from marketplace.accounts.identity import nit_check_digit
from marketplace.accounts.models import (
    Buyer,
    ChangeStatus,
    Cooperative,
    MemberCountChange,
    Organisation,
    OrgStatus,
    User,
)
from marketplace.core.errors import Forbidden
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.insights import services as insights
from marketplace.messaging import gsm, hooks
from marketplace.messaging.models import Notice
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderPart, PartStatus, PaymentStatus
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401 (fixture)
from tests.orders.helpers import order_request, part_of, place

OTHER_NIT = f"860002130-{nit_check_digit('860002130')}"


def _coop_form(**changes) -> dict:
    """The cooperative profile form as the factory registered it (coop_data), with changes."""
    values = {"name": "", "legal_form": "asociacion", "nit": "", "municipality": "52835", "members_total": "120",
              "members_women": "60", "members_youth": "30", "members_victims": "40", "substitution_families": "25",
              "contact_phone": "", "contact_email": "", "description": ""}
    values.update({k: str(v) for k, v in changes.items()})
    return values


def _org(org_id: int) -> Organisation:
    return db.session.get(Organisation, org_id)


def _actions(org_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.organisation_id == org_id)
                                   .order_by(AuditEvent.id)))


def _women_share() -> Decimal | None:
    rows = insights.impact(insights.make_filters(None, None)).rows
    return next(r for r in rows if r.code == "women_share").value


def test_renaming_a_verified_buyer_puts_it_under_review_and_staff_see_before_and_after(app, factory):
    buyer_id, person = factory.buyer(name="Dulces del Valle S.A.S.")
    admin = factory.admin()
    with app.app_context():
        old_nit = _org(buyer_id).nit
    client = app.test_client()
    login(client, person)
    response = client.post("/organizacion/editar", data={
        "name": "Nestlé de Colombia S.A.", "nit": OTHER_NIT, "municipality": "11001", "sector": ""})
    assert response.status_code == 302
    page = client.get("/organizacion", follow_redirects=True).get_data(as_text=True)
    assert "está en revisión del equipo" in page
    with app.app_context():
        buyer = _org(buyer_id)
        assert buyer.status == OrgStatus.PENDING
        assert buyer.name == "Nestlé de Colombia S.A." and buyer.nit == OTHER_NIT
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.identity_review"))
        assert event.organisation_id == buyer_id and event.actor_id == person.user_id
        assert event.before == {"name": "Dulces del Valle S.A.S.", "nit": old_nit, "status": "verified"}
        assert event.after == {"name": "Nestlé de Colombia S.A.", "nit": OTHER_NIT, "status": "pending"}
        notice = db.session.scalar(select(Notice).where(Notice.kind == "org_status", Notice.organisation_id == buyer_id)
                                   .order_by(Notice.id.desc()).limit(1))
        assert notice.payload["status"] == "pending" and notice.payload["review"] == "identity"
        # A pending company browses but quotes and orders nothing new.
        with pytest.raises(Forbidden):
            orders.require_can_buy(db.session.get(User, person.user_id))

    staff = app.test_client()
    login(staff, admin)
    page = staff.get(f"/admin/organizaciones/{buyer_id}").get_data(as_text=True)
    section = page.split('id="cambio-identidad"', 1)[1].split("</section>", 1)[0]
    assert "<del>Dulces del Valle S.A.S.</del>" in section and "<ins>Nestlé de Colombia S.A.</ins>" in section
    assert f"<del>{old_nit}</del>" in section and f"<ins>{OTHER_NIT}</ins>" in section
    # The admin verifies it again: the review ends and the section goes.
    assert staff.post(f"/admin/organizaciones/{buyer_id}", data={"status": "verified", "reason": ""}).status_code == 302
    assert 'id="cambio-identidad"' not in staff.get(f"/admin/organizaciones/{buyer_id}").get_data(as_text=True)


def test_a_cooperatives_new_legal_form_is_reviewed_but_its_contact_details_are_not(app, factory):
    coop_id, person = factory.cooperative(name="Asociación El Cacao")
    client = app.test_client()
    login(client, person)
    assert client.post("/organizacion/editar", data=_coop_form(
        name="Asociación El Cacao", description="Cacao fino de aroma")).status_code == 302
    with app.app_context():
        assert _org(coop_id).status == OrgStatus.VERIFIED
    assert client.post("/organizacion/editar", data=_coop_form(
        name="Asociación El Cacao", legal_form="cooperativa")).status_code == 302
    with app.app_context():
        assert _org(coop_id).status == OrgStatus.PENDING
        assert _actions(coop_id)[-1] == "organisation.identity_review"


def test_orders_already_placed_go_on_while_the_buyer_and_a_cooperative_are_under_review(app, market, factory):  # noqa: F811
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        buyer_user = db.session.get(User, market.buyer.user_id)
        buyer = db.session.get(Buyer, market.buyer_id)
        services.update_buyer(buyer_user, buyer, services.BuyerData(
            name="Nestlé de Colombia S.A.", nit=OTHER_NIT, municipality_code=buyer.municipality_code))
        coop_user = db.session.get(User, market.manager_a.user_id)
        coop = db.session.get(Cooperative, market.coop_a)
        data = services.CooperativeData(**{f: getattr(coop, f) for f in (
            "legal_form", "municipality_code", "nit", "members_total", "members_women", "members_youth",
            "members_victims", "substitution_families")}, name="Cacaoteros Unidos de Tumaco")
        services.update_cooperative(coop_user, coop, data)
        db.session.commit()
        assert buyer.status == OrgStatus.PENDING and coop.status == OrgStatus.PENDING

        # Nothing new starts...
        with pytest.raises(Forbidden):
            orders.place_order(buyer_user, order_request(market, [(market.listing_b, "10", "kg")]))
        db.session.rollback()

        # ...but the order placed before goes on to the end: accept, ready, deliver, pay.
        for action in ("accept", "ready"):
            orders.transition(coop_user, part_of(order_id, market.coop_a), action)
            db.session.commit()
        part = part_of(order_id, market.coop_a)
        orders.record_delivery(buyer_user, part, [orders.Receipt(ln.id, ln.quantity_kg) for ln in part.lines])
        db.session.commit()
        orders.mark_invoice_paid(db.session.get(User, admin.user_id), db.session.get(Order, order_id), "BANCO-7")
        db.session.commit()
        assert db.session.get(OrderPart, part.id).status == PartStatus.DELIVERED
        assert db.session.get(Order, order_id).payment_status == PaymentStatus.PAID


def test_member_counts_that_flip_women_led_wait_for_staff(app, market, factory):  # noqa: F811
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        orders.transition(db.session.get(User, market.manager_a.user_id), part_of(order_id, market.coop_a), "accept")
        db.session.commit()
        assert db.session.get(Cooperative, market.coop_a).women_led
        assert _women_share() == Decimal(1)

    client = app.test_client()
    login(client, market.manager_a)
    form = _coop_form(name="Asociación Cacaotera de Tumaco", members_women=50, members_victims=45)
    response = client.post("/organizacion/editar", data=form, follow_redirects=True)
    assert "cuenta cuando el equipo lo confirme" in response.get_data(as_text=True)
    with app.app_context():
        coop = db.session.get(Cooperative, market.coop_a)
        # The old counts and flag still count, for the indicators too.
        assert (coop.members_women, coop.members_victims, coop.women_led) == (60, 40, True)
        assert coop.status == OrgStatus.VERIFIED
        assert _women_share() == Decimal(1)
        change = reviews.pending_member_change(coop)
        assert (change.members_total, change.members_women, change.members_victims) == (120, 50, 45)
        assert change.requested_by_id == market.manager_a.user_id
        change_id = change.id
        assert "organisation.members_requested" in _actions(market.coop_a)
    # The cooperative sees its request, and the edit form keeps it.
    assert "Su cambio del número de asociados espera" in client.get("/organizacion").get_data(as_text=True)
    edit = client.get("/organizacion/editar").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="members_women"[^>]*value="50"', edit)

    staff = app.test_client()
    login(staff, admin)
    listing = staff.get("/admin/organizaciones").get_data(as_text=True)
    assert f'/admin/organizaciones/{market.coop_a}#cambio-asociados' in listing
    page = staff.get(f"/admin/organizaciones/{market.coop_a}").get_data(as_text=True)
    assert 'id="cambio-asociados"' in page
    response = staff.post(f"/admin/organizaciones/{market.coop_a}/asociados/{change_id}",
                          data={"decision": "confirm", "note": ""})
    assert response.status_code == 302
    with app.app_context():
        coop = db.session.get(Cooperative, market.coop_a)
        assert (coop.members_women, coop.members_victims, coop.women_led) == (50, 45, False)
        assert db.session.get(MemberCountChange, change_id).status == ChangeStatus.CONFIRMED
        assert db.session.get(MemberCountChange, change_id).decided_by_id == admin.user_id
        assert _women_share() == Decimal(0)
        assert "organisation.members_confirmed" in _actions(market.coop_a)
        assert db.session.scalar(select(Notice).where(Notice.kind == "member_counts")).payload["confirmed"] is True


def test_a_rejected_change_leaves_the_old_counts_and_flag(app, factory):
    coop_id, person = factory.cooperative(members_total=100, members_women=20, members_youth=10)
    admin = factory.admin()
    client = app.test_client()
    login(client, person)
    client.post("/organizacion/editar", data=_coop_form(name="Asociación de Prueba 1", members_total=100,
                                                          members_women=20, members_youth=60, members_victims=0))
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        assert (coop.youth_led, coop.members_youth) == (False, 10)
        change = reviews.pending_member_change(coop)
        with pytest.raises(Forbidden):
            reviews.decide_member_change(db.session.get(User, person.user_id), change, True)
        reviews.decide_member_change(db.session.get(User, admin.user_id), change, False, "Falta el acta.")
        db.session.commit()
        coop = db.session.get(Cooperative, coop_id)
        assert (coop.youth_led, coop.members_youth) == (False, 10)
        assert change.status == ChangeStatus.REJECTED and change.decision_note == "Falta el acta."
        assert reviews.pending_member_change(coop) is None


def test_a_change_that_flips_no_flag_applies_at_once(app, factory):
    coop_id, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    # 60 -> 70 women of 120 and 30 -> 40 youth: still women-led, still not youth-led.
    assert client.post("/organizacion/editar", data=_coop_form(
        name="Asociación de Prueba 1", members_women=70, members_youth=40)).status_code == 302
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        assert (coop.members_women, coop.members_youth, coop.women_led, coop.youth_led) == (70, 40, True, False)
        assert coop.status == OrgStatus.VERIFIED
        assert db.session.scalar(select(func.count()).select_from(MemberCountChange)) == 0


def test_a_later_edit_that_flips_nothing_withdraws_the_pending_change(app, factory):
    coop_id, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    client.post("/organizacion/editar", data=_coop_form(name="Asociación de Prueba 1", members_women=10))
    client.post("/organizacion/editar", data=_coop_form(name="Asociación de Prueba 1", members_women=65))
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        assert coop.members_women == 65 and reviews.pending_member_change(coop) is None
        assert db.session.scalar(select(MemberCountChange.status)) == ChangeStatus.WITHDRAWN


def test_nobody_but_platform_admins_decides_a_member_change(app, factory):
    coop_id, person = factory.cooperative()
    other_coop, other_manager = factory.cooperative()
    auditor = factory.staff()
    admin = factory.admin()
    client = app.test_client()
    login(client, person)
    client.post("/organizacion/editar", data=_coop_form(name="Asociación de Prueba 1", members_women=10))
    with app.app_context():
        change_id = reviews.pending_member_change(db.session.get(Cooperative, coop_id)).id
    url = f"/admin/organizaciones/{coop_id}/asociados/{change_id}"
    for who in (person, other_manager, auditor):
        c = app.test_client()
        login(c, who)
        assert c.post(url, data={"decision": "confirm", "note": ""}).status_code == 403
    # An admin on another organisation's address finds nothing.
    c = app.test_client()
    login(c, admin)
    assert c.post(f"/admin/organizaciones/{other_coop}/asociados/{change_id}",
                  data={"decision": "confirm", "note": ""}).status_code == 404
    with app.app_context():
        assert db.session.get(MemberCountChange, change_id).status == ChangeStatus.PENDING
        assert db.session.get(Cooperative, coop_id).members_women == 60


def test_bad_input_changes_nothing(app, factory):
    coop_id, person = factory.cooperative()
    admin = factory.admin()
    client = app.test_client()
    login(client, person)
    with app.app_context():
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    # A new name with impossible counts: refused whole, nothing under review.
    response = client.post("/organizacion/editar", data=_coop_form(name="Otro Nombre", members_women=130))
    assert response.status_code == 422
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        assert (coop.name, coop.status, coop.members_women) == ("Asociación de Prueba 1", OrgStatus.VERIFIED, 60)
        assert db.session.scalar(select(func.count()).select_from(MemberCountChange)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events

    client.post("/organizacion/editar", data=_coop_form(name="Asociación de Prueba 1", members_women=10))
    with app.app_context():
        change_id = reviews.pending_member_change(db.session.get(Cooperative, coop_id)).id
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    staff = app.test_client()
    login(staff, admin)
    url = f"/admin/organizaciones/{coop_id}/asociados/{change_id}"
    # A rejection needs a reason the cooperative will read; an unknown decision is refused.
    for data in ({"decision": "reject", "note": "  "}, {"decision": "delete", "note": "x"}, {"note": "x"}):
        response = staff.post(url, data=data)
        assert response.status_code == 422
    assert "Explique el motivo" in staff.post(url, data={"decision": "reject", "note": ""}).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(MemberCountChange, change_id).status == ChangeStatus.PENDING
        assert db.session.get(Cooperative, coop_id).members_women == 60
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    # A decided change cannot be decided again.
    assert staff.post(url, data={"decision": "reject", "note": "No cuadra con el acta."}).status_code == 302
    response = staff.post(url, data={"decision": "confirm", "note": ""}, follow_redirects=True)
    assert "Este cambio ya se revisó." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Cooperative, coop_id).members_women == 60


def test_a_registration_not_yet_judged_changes_its_counts_at_once(app, factory):
    coop_id, person = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, person)
    assert client.post("/organizacion/editar", data=_coop_form(name="Otro Nombre", members_women=10)).status_code == 302
    with app.app_context():
        coop = db.session.get(Cooperative, coop_id)
        assert (coop.name, coop.members_women, coop.women_led) == ("Otro Nombre", 10, False)
        assert reviews.pending_member_change(coop) is None
        assert "organisation.identity_review" not in _actions(coop_id)


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_notices_read_in_the_managers_language_and_fit_one_sms(app, factory, locale):
    coop_id, person = factory.cooperative(name="Asociación Agropecuaria de Mujeres Emprendedoras del Río Mira")
    words = {"es": ("pendiente de verificación", "siguen", "rechazó", "Falta el acta"),
             "en": ("pending verification", "go on", "rejected", "Falta el acta")}[locale]
    with app.app_context():
        user = db.session.get(User, person.user_id)
        review = Notice(kind="org_status", subject_id=coop_id, organisation_id=coop_id,
                        payload={"status": "pending", "reason": None, "review": "identity"})
        counts = Notice(kind="member_counts", subject_id=1, organisation_id=coop_id,
                        payload={"confirmed": False, "note": "Falta el acta de la asamblea."})
        with app.test_request_context(), force_locale(locale):
            identity = hooks.NOTICE_KINDS["org_status"].render(review, user)
            members = hooks.NOTICE_KINDS["member_counts"].render(counts, user)
        assert words[0] in identity.text and words[1] in identity.text
        assert words[2] in members.text and words[3] in members.text
        for rendered in (identity, members):
            assert gsm.segments(rendered.short) == (gsm.GSM7, 1), rendered.short
            assert len(rendered.template_params) == 3 and all(rendered.template_params)
