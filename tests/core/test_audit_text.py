"""The audit trail and the staff activity feed read as sentences in the reader's language,
with before and after in words: names, not ids; Sí/No, not True/False; no raw keys."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Membership, Organisation, OrgStatus, Role
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Grade, Listing, ListingStatus
from marketplace.core import audit, audit_text
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.lifecycle import STATUS_LABELS, TRANSITIONS
from marketplace.orders.models import OrderPart, PartStatus
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user

PACKAGE = Path(__file__).resolve().parents[2] / "marketplace"
RAW = re.compile(r"\b[a-z]+_id\b|#\d|\bTrue\b|\bFalse\b|\bNone\b|[a-z_]+\.[a-z_]+\b")


def _written_actions() -> set[str]:
    """Every action name the code writes to the trail, f-strings expanded."""
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    names = set(re.findall(r'(?:audit\.record\(\s*|_audit_membership\(\s*)f?"([a-z_]+\.[a-z_{}.]+)"', source))
    # Conditional names: audit.record("grade.created" if before is None else "grade.updated", ...)
    for pair in re.findall(r'(?:audit\.record|_audit_membership)\(\s*"([a-z_]+\.[a-z_]+)" if [^"\n]+ else "([a-z_]+\.[a-z_]+)"', source):
        names |= set(pair)
    expanded = set()
    for name in names:
        if "{" not in name:
            expanded.add(name)
        elif name == "listing.{action}":
            expanded |= {f"listing.{a}" for a in catalog.STATUS_ACTIONS}
        elif name == "order_part.{action}":
            expanded |= {f"order_part.{a}" for a in TRANSITIONS}
        elif name == "organisation.{status.value}":
            expanded |= {f"organisation.{s.value}" for s in accounts.STATUS_TRANSITIONS[OrgStatus.PENDING]
                         | {OrgStatus.SUSPENDED}}
        elif name == "organisation_document.{new_status.value}":
            expanded |= {"organisation_document.accepted", "organisation_document.rejected"}
        else:
            raise AssertionError(f"an action name the test cannot expand: {name}")
    return expanded


def test_every_action_written_to_the_trail_has_a_sentence(app):
    written = _written_actions()
    assert {"demand.ordered", "order_part.accept", "listing.withdraw", "organisation.verified",
            "membership.deactivated", "grade.retired"} <= written
    missing = sorted(written - set(audit_text.ACTIONS))
    assert not missing, f"actions without a sentence in core.audit_text: {missing}"


def _sentences(app, lang: str, **where) -> list[audit_text.Described]:
    with app.test_request_context(f"/?lang={lang}"):
        events = db.session.scalars(select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)).all()
        return [audit_text.describe(e) for e in events]


def _flat(described: audit_text.Described) -> str:
    return " | ".join([described.sentence] + [f"{c.label}: {c.before or ''} -> {c.after or ''}"
                                               for c in described.changes])


@pytest.mark.parametrize("lang", ["es", "en"])
def test_an_order_accepted_reads_with_names_and_statuses_in_words(app, market, lang):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part = db.session.scalar(select(OrderPart).where(OrderPart.order_id == order_id))
        orders.accept(user(market.manager_a), part)
        db.session.commit()
        number = part.order.number
        manager = user(market.manager_a).full_name
    placed = _sentences(app, lang, action="order.placed")[-1]
    accepted = _sentences(app, lang, action="order_part.accept")[-1]
    if lang == "es":
        assert placed.sentence == f"Chocolates Andinos S.A.S. hizo el pedido {number}"
        assert accepted.sentence == f"{manager} aceptó el pedido {number} de Asociación Cacaotera de Tumaco"
        assert [(c.label, c.before, c.after) for c in accepted.changes] == [
            ("Estado", "Recibido, esperando respuesta", "Aceptado")]
        lines = next(c for c in placed.changes if c.label == "Líneas").after
        assert lines.endswith(": 100 kg") and "Cacao" in lines
        assert next(c for c in placed.changes if c.label == "Forma de pago").after == "factura"
    else:
        assert placed.sentence == f"Chocolates Andinos S.A.S. placed order {number}"
        assert accepted.sentence == f"{manager} accepted order {number} from Asociación Cacaotera de Tumaco"
        with app.test_request_context("/?lang=en"):
            labels = (str(STATUS_LABELS[PartStatus.PLACED]), str(STATUS_LABELS[PartStatus.ACCEPTED]))
        assert labels[0] != "Recibido, esperando respuesta"  # the English catalogue has them
        assert [(c.label, c.before, c.after) for c in accepted.changes] == [("Status", *labels)]
        assert next(c for c in placed.changes if c.label == "Payment method").after == "invoice"
    for described in (placed, accepted):
        assert not RAW.search(_flat(described)), _flat(described)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_listing_whose_grade_and_price_changed_names_the_grades_and_formats_money(app, market, lang):  # noqa: F811
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        grades = [g for g in db.session.scalars(select(Grade).where(Grade.product_id == listing.product_id))]
        old_grade = listing.grade
        new_grade = next(g for g in grades if g.id != listing.grade_id)
        before = audit.snapshot(listing, ("grade_id", "price_per_kg", "status", "available_until"))
        after = dict(before, grade_id=new_grade.id, price_per_kg="10500.50", status=ListingStatus.PAUSED.value)
        audit.record("listing.updated", "listing", listing.id, actor=user(market.manager_a),
                     organisation_id=market.coop_a, before=before, after=after)
        db.session.commit()
        names = {"es": (old_grade.name, new_grade.name), "en": (old_grade.name_en, new_grade.name_en)}[lang]
    described = _sentences(app, lang, action="listing.updated")[-1]
    changes = {c.label: (c.before, c.after) for c in described.changes}
    if lang == "es":
        assert "cambió la oferta de Cacao" in described.sentence
        assert changes["Calidad"] == names
        assert changes["Precio por kg"][1] == "$ 10.500,50"
        assert changes["Estado"] == ("abierta", "pausada")
    else:
        assert "changed the listing of" in described.sentence and "Cacao" not in described.sentence
        assert changes["Grade"] == names
        assert changes["Price per kg"][1] == "COP 10,500.50"
        assert changes["Status"] == ("open", "paused")
    assert "grade_id" not in _flat(described) and "available_until" not in _flat(described)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_verification_and_deactivation_read_as_sentences_with_yes_and_no(app, factory, lang):
    coop_id, manager = factory.cooperative(name="Asociación Cacaotera del Sur", status="pending")
    member = factory.member(coop_id, Role.COOP_MEMBER)
    admin_person = factory.admin()
    with app.app_context():
        admin = user(admin_person)
        org = db.session.get(Organisation, coop_id)
        accounts.set_organisation_status(admin, org, OrgStatus.VERIFIED, None)
        membership = db.session.scalar(select(Membership).where(Membership.user_id == member.user_id))
        accounts.set_member_active(user(manager), membership, False)
        db.session.commit()
        admin_name, member_name, manager_name = admin.full_name, membership.user.full_name, user(manager).full_name
    verified = _sentences(app, lang, action="organisation.verified")[-1]
    deactivated = _sentences(app, lang, action="membership.deactivated")[-1]
    if lang == "es":
        assert verified.sentence == f"{admin_name} verificó Asociación Cacaotera del Sur"
        assert ("Estado", "Pendiente de verificación", "Verificada") in [(c.label, c.before, c.after)
                                                                          for c in verified.changes]
        assert deactivated.sentence == (f"{manager_name} desactivó la cuenta de {member_name} en "
                                        "Asociación Cacaotera del Sur")
        assert ("Activo", "Sí", "No") in [(c.label, c.before, c.after) for c in deactivated.changes]
    else:
        assert verified.sentence == f"{admin_name} verified Asociación Cacaotera del Sur"
        assert (verified.changes[0].label, verified.changes[0].after) == ("Status", "Verified")
        assert ("Active", "Yes", "No") in [(c.label, c.before, c.after) for c in deactivated.changes]
    for described in (verified, deactivated):
        assert not RAW.search(_flat(described)), _flat(described)


def test_unknown_actions_and_keys_still_read_as_words(app):
    event = AuditEvent(id=1, action="something.new_thing", object_type="widget", object_id="7", actor_id=None,
                       organisation_id=None, before={"payment_status": "x"}, after={"payment_status": "y",
                                                                                    "weird_count": True})
    with app.test_request_context("/?lang=es"):
        described = audit_text.describe(event)
    assert described.sentence == "El sistema registró «something new thing» en widget n.º 7"
    labels = {c.label: (c.before, c.after) for c in described.changes}
    assert labels["Pago"] == ("x", "y")  # a key another package registered keeps its label
    assert labels["Weird count"] == (None, "Sí")  # an unknown key humanised; its boolean in words


def test_the_audit_page_and_the_staff_home_show_sentences_and_keep_the_raw_record(app, market, factory):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        number = db.session.get(OrderPart, db.session.scalar(
            select(OrderPart.id).where(OrderPart.order_id == order_id))).order.number
    staff = app.test_client()
    login(staff, factory.staff())
    page = staff.get("/seguimiento/auditoria?accion=order.placed").get_data(as_text=True)
    row = page.split("<tbody>")[1].split("</tbody>")[0]
    assert f"Chocolates Andinos S.A.S. hizo el pedido {number}" in row
    assert "Datos técnicos" in row and "order.placed" in row.split("<details")[1]  # raw data kept, folded away
    assert '<option value="order" selected>' not in page and '<option value="order" >Pedido</option>' in page
    visible = re.sub(r"<details.*?</details>", "", row, flags=re.S)
    assert "order.placed" not in visible and "#" not in re.sub(r"&#\d+;|#[0-9a-f]{3,6}\b", "", visible)
    english = staff.get("/seguimiento/auditoria?accion=order.placed&lang=en").get_data(as_text=True)
    assert f"Chocolates Andinos S.A.S. placed order {number}" in english
    admin = app.test_client()
    login(admin, factory.admin())
    home = admin.get("/inicio?lang=es").get_data(as_text=True)
    feed = home.split("Últimos cambios")[1].split("</section>")[0]
    assert f"hizo el pedido {number}" in feed
    assert "order.placed" not in feed and "#" not in feed


def test_money_kilos_and_dates_follow_the_language(app):
    with app.test_request_context("/?lang=es"):
        assert audit_text.money("1250000") == "$ 1.250.000"
        assert audit_text.kilos(Decimal("1200.5")) == "1.200,5 kg"
        assert audit_text.yes_no(False) == "No"
        assert audit_text.text("2026-03-01") == "1 mar 2026"
    with app.test_request_context("/?lang=en"):
        assert audit_text.money("1250000") == "COP 1,250,000"
        assert audit_text.kilos(Decimal("1200.5")) == "1,200.5 kg"
        assert audit_text.yes_no(True) == "Yes"
