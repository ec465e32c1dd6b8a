"""Members, roles, delivery sites and verification: who may change what, and the audit trail."""

import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from marketplace.accounts import services
from marketplace.accounts.models import (
    DeliverySite,
    Membership,
    Organisation,
    OrgStatus,
    Role,
    User,
)
from marketplace.core.audit import AppendOnlyError
from marketplace.core.errors import DomainError
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from tests.accounts.helpers import field_error, row_counts
from tests.conftest import login


def _membership_id(app, user_id):
    with app.app_context():
        return db.session.scalar(select(Membership.id).where(Membership.user_id == user_id))


def _role(app, user_id):
    with app.app_context():
        return db.session.scalar(select(Membership.role).where(Membership.user_id == user_id))


def test_a_manager_adds_a_member_who_must_change_the_temporary_password(app, factory):
    coop_id, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    response = client.post("/organizacion/miembros", data={
        "full_name": "Yolanda Angulo", "phone": "312 444 5566", "email": "", "role": "coop_member",
        "password": "Temporal Cacao 99"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "+573124445566"))
        assert user.must_change_password and user.role == Role.COOP_MEMBER and user.organisation.id == coop_id
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "membership.created",
                                                           AuditEvent.actor_id == manager.user_id)
                                  .order_by(AuditEvent.id.desc()).limit(1))
        assert event.after["role"] == "coop_member" and event.organisation_id == coop_id


def test_a_manager_changes_roles_but_never_leaves_the_organisation_without_one(app, factory):
    coop_id, manager = factory.cooperative()
    member = factory.member(coop_id, Role.COOP_MEMBER)
    client = app.test_client()
    login(client, manager)
    mid = _membership_id(app, member.user_id)
    client.post(f"/organizacion/miembros/{mid}/rol", data={f"m{mid}-role": "coop_manager"})
    assert _role(app, member.user_id) == Role.COOP_MANAGER
    # Demote the other manager: fine, one remains. Then the last one cannot be demoted.
    own = _membership_id(app, manager.user_id)
    with app.app_context():
        actor = db.session.get(User, member.user_id)
        services.change_member_role(actor, db.session.get(Membership, own), Role.COOP_MEMBER)
        db.session.commit()
        with pytest.raises(DomainError, match="al menos una persona"):
            services.change_member_role(actor, db.session.get(Membership, mid), Role.COOP_MEMBER)
        db.session.rollback()
        with pytest.raises(DomainError, match="al menos una persona"):
            services.set_member_active(actor, db.session.get(Membership, mid), False)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "membership.role_changed")).all()
        assert [(e.before["role"], e.after["role"]) for e in events] == [
            ("coop_member", "coop_manager"), ("coop_manager", "coop_member")]


def test_members_who_do_not_manage_cannot_change_the_organisation(app, factory):
    coop_id, _manager = factory.cooperative()
    member = factory.member(coop_id, Role.COOP_MEMBER)
    client = app.test_client()
    login(client, member)
    before = row_counts(app)
    assert client.get("/organizacion").status_code == 200
    assert client.get("/organizacion/editar").status_code == 403
    assert client.post("/organizacion/miembros", data={
        "full_name": "Intruso", "phone": "3125556677", "role": "coop_manager", "password": "Temporal Cacao 99"}
    ).status_code == 403
    own = _membership_id(app, member.user_id)
    assert client.post(f"/organizacion/miembros/{own}/rol", data={f"m{own}-role": "coop_manager"}).status_code == 403
    assert _role(app, member.user_id) == Role.COOP_MEMBER
    assert row_counts(app) == before


def test_nobody_touches_another_organisations_people_or_sites(app, factory):
    coop_a, manager_a = factory.cooperative()
    coop_b, manager_b = factory.cooperative()
    buyer_a, buyer_admin_a = factory.buyer()
    buyer_b, _buyer_admin_b = factory.buyer()
    victim = factory.member(coop_b, Role.COOP_MEMBER)
    victim_mid = _membership_id(app, victim.user_id)
    with app.app_context():
        site_b = db.session.scalar(select(DeliverySite.id).where(DeliverySite.buyer_id == buyer_b))
    before = row_counts(app)
    client = app.test_client()
    login(client, manager_a)
    assert client.post(f"/organizacion/miembros/{victim_mid}/rol", data={f"m{victim_mid}-role": "coop_manager"}).status_code == 404
    assert client.post(f"/organizacion/miembros/{victim_mid}/estado", data={"active": "0"}).status_code == 404
    other = app.test_client()
    login(other, buyer_admin_a)
    assert other.get(f"/organizacion/sitios/{site_b}").status_code == 404
    assert other.post(f"/organizacion/sitios/{site_b}", data={"site_name": "Mía", "address": "x",
                                                               "site_municipality": "11001"}).status_code == 404
    assert _role(app, victim.user_id) == Role.COOP_MEMBER
    assert row_counts(app) == before
    with app.app_context():
        assert db.session.get(User, victim.user_id).active
        assert db.session.get(DeliverySite, site_b).name == "Planta Bogotá"
    assert manager_b and buyer_a  # both organisations exist and are untouched


def test_delivery_sites(app, factory):
    buyer_id, admin = factory.buyer()
    client = app.test_client()
    login(client, admin)
    added = client.post("/organizacion/sitios/nuevo", data={
        "site_name": "Bodega Acopi", "address": "Calle 15 # 26-101", "site_municipality": "Cali",
        "latitude": "3,476", "longitude": "-76,506", "active": "y"})
    assert added.status_code == 302, re.findall(r'class="error">(.*?)<', added.get_data(as_text=True))
    outside = client.post("/organizacion/sitios/nuevo", data={
        "site_name": "Bodega Miami", "address": "1 Ocean Dr", "site_municipality": "Cali",
        "latitude": "25.77", "longitude": "-80.13", "active": "y"})
    assert "no están en Colombia" in field_error(outside.get_data(as_text=True), "latitude")
    with app.app_context():
        sites = db.session.scalars(select(DeliverySite).where(DeliverySite.buyer_id == buyer_id).order_by(DeliverySite.id)).all()
        assert [s.name for s in sites] == ["Planta Bogotá", "Bodega Acopi"]
        assert str(sites[1].latitude) == "3.476000"
        first, second = sites[0].id, sites[1].id
    client.post(f"/organizacion/sitios/{second}", data={"site_name": "Bodega Acopi", "address": "Calle 15 # 26-101",
                                                        "site_municipality": "76001"})  # unchecked: inactive
    last = client.post(f"/organizacion/sitios/{first}", data={"site_name": "Planta Bogotá", "address": "Calle 13",
                                                              "site_municipality": "11001"})
    assert "al menos un sitio de entrega activo" in field_error(last.get_data(as_text=True), "active")


def test_only_platform_admins_verify_and_every_step_is_audited(app, factory):
    coop_id, manager = factory.cooperative(status="pending")
    auditor = factory.staff(Role.STAFF_AUDITOR)
    admin = factory.admin()
    staff_client = app.test_client()
    login(staff_client, auditor)
    assert staff_client.get(f"/admin/organizaciones/{coop_id}").status_code == 200
    assert staff_client.post(f"/admin/organizaciones/{coop_id}", data={"status": "verified"}).status_code == 403

    manager_client = app.test_client()
    login(manager_client, manager)
    assert manager_client.get("/admin/organizaciones").status_code == 403
    assert "pendiente de verificación" in manager_client.get("/inicio").get_data(as_text=True)

    admin_client = app.test_client()
    login(admin_client, admin)
    assert "Asociación de Prueba" in admin_client.get("/admin/organizaciones").get_data(as_text=True)
    refused = admin_client.post(f"/admin/organizaciones/{coop_id}", data={"status": "rejected", "reason": ""})
    assert "Explique el motivo" in field_error(refused.get_data(as_text=True), "reason")
    illegal = admin_client.post(f"/admin/organizaciones/{coop_id}", data={"status": "suspended", "reason": "x"})
    assert illegal.status_code == 422
    ok = admin_client.post(f"/admin/organizaciones/{coop_id}", data={"status": "verified", "reason": ""})
    assert ok.status_code == 302
    assert "Verificada" in manager_client.get("/inicio").get_data(as_text=True)
    admin_client.post(f"/admin/organizaciones/{coop_id}", data={"status": "suspended", "reason": "Documentos vencidos"})
    # The suspension signs its people out; signing in again, they read why.
    assert manager_client.get("/inicio").status_code == 302
    login(manager_client, manager)
    assert "Documentos vencidos" in manager_client.get("/inicio").get_data(as_text=True)
    with app.app_context():
        org = db.session.get(Organisation, coop_id)
        assert org.status == OrgStatus.SUSPENDED and org.status_changed_by_id == admin.user_id
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.object_type == "organisation", AuditEvent.object_id == str(coop_id),
            AuditEvent.action.in_(["organisation.verified", "organisation.suspended"])).order_by(AuditEvent.id)).all()
        assert [(e.actor_id, e.before["status"], e.after["status"]) for e in events] == [
            (admin.user_id, "pending", "verified"), (admin.user_id, "verified", "suspended")]
    log = admin_client.get(f"/admin/auditoria?organizacion={coop_id}", follow_redirects=True).get_data(as_text=True)
    assert "organisation.suspended" in log and "Documentos vencidos" in log
    # Both trails say who by name, not by a number.
    with app.app_context():
        admin_name = db.session.get(User, admin.user_id).full_name
    history = admin_client.get(f"/admin/organizaciones/{coop_id}").get_data(as_text=True)
    assert admin_name in history.split('<table class="audit')[1]
    trail = log.split('<table class="audit')[1]
    assert admin_name in trail
    # ... in a sentence, with the status in words.
    assert f"{admin_name} suspendió " in trail and "Verificada" in trail and "Suspendida" in trail


def test_a_refused_change_leaves_no_audit_event(app, factory):
    coop_id, _manager = factory.cooperative(status="pending")
    factory.admin()
    before = row_counts(app)
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))
        org = db.session.get(Organisation, coop_id)
        with pytest.raises(DomainError):
            services.set_organisation_status(admin, org, OrgStatus.SUSPENDED, "no se puede desde pendiente")
        db.session.rollback()
    assert row_counts(app) == before


def test_the_audit_log_cannot_be_rewritten(app, factory):
    factory.cooperative()
    with app.app_context():
        event = db.session.scalar(select(AuditEvent))
        event.action = "algo.distinto"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(AuditEvent)))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        # The database itself refuses, whatever the application does.
        for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(AuditEvent)).action == "organisation.registered"
