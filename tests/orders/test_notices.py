"""Order notices: who is told, and what each person reads on each channel, in each language.

Every kind is rendered as the messaging worker renders it and checked for what each channel
uses: e-mail (subject and the full text, with the link to the order on PUBLIC_URL), a
WhatsApp template (its approved text with the parameters in, and the Aceptar / Rechazar
buttons where the cooperative must answer), WhatsApp free text inside the 24-hour window
(the full text and buttons) and SMS (one GSM-7 segment). The end-to-end path through the
outbox is in test_notifications.py.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import url_for
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.core.errors import Conflict
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks
from marketplace.messaging.models import Notice
from marketplace.orders import messages, services, sweep
from marketplace.orders.models import Order, OrderPart
from tests.orders.helpers import D, order_request, part_of, place, user
from tests.orders.notice_helpers import (
    PLACED_AT,
    PLACEHOLDER,
    fill,
    notices,
    recipient_ids,
    render,
    set_locale,
)

BUYER = "Chocolates Andinos S.A.S."
COOP_A = "Asociación Cacaotera de Tumaco"
COOP_B = "Cooperativa del Caguán"
ALL_KINDS = ("new_order", "offer_chosen", "reminder_12h", "reminder_2h", "cancel", "dispute", "payout",
             "accept", "decline", "expire", "ready", "deliver")


def _product(listing_id: int, locale: str = "es") -> str:
    """The product's name as a message in ``locale`` writes it."""
    from marketplace.catalog.models import Listing

    product = db.session.get(Listing, listing_id).product
    return product.name_en if locale == "en" else product.name


def _one_segment(text: str) -> bool:
    fitted = gsm.fit_gsm7(text)
    return gsm.is_gsm7(fitted) and gsm.segments(fitted) == (gsm.GSM7, 1)


# ------------------------------------------------------------------ the kinds


def test_every_order_kind_is_registered_with_a_template_in_both_languages(app):
    for kind in ALL_KINDS:
        notice_kind = hooks.NOTICE_KINDS[kind]
        assert notice_kind.template, kind
        assert set(notice_kind.template_text) == {"es", "en"}, kind
        for locale, text in notice_kind.template_text.items():
            numbers = [int(n) for n in PLACEHOLDER.findall(text)]
            # Meta's rules: placeholders numbered in order; the text neither starts nor ends with one.
            assert numbers == list(range(1, len(numbers) + 1)), (kind, locale)
            assert not text.startswith("{{") and not text.rstrip(".").endswith("}}"), (kind, locale)
            assert "http" not in text and "\n" not in text, (kind, locale)
        if kind in messages.ANSWERABLE:
            assert notice_kind.template_buttons == {"es": ["Aceptar", "Rechazar"], "en": ["Accept", "Decline"]}
        else:
            assert not notice_kind.template_buttons, kind


# ------------------------------------------------------------ the new order


def test_each_cooperative_is_told_of_its_own_part_only(app, market, factory):
    member_a = factory.member(market.coop_a, Role.COOP_MEMBER)
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "30", "kg"),
                                   (market.listing_b, "50", "kg")], now=PLACED_AT)
    with app.app_context():
        part_a, part_b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        written = notices()
        assert {(n.kind, n.subject_id, n.organisation_id) for n in written} == {
            ("new_order", part_a.id, market.coop_a), ("new_order", part_b.id, market.coop_b)}
        assert all(n.expanded_at is None and n.created_at is not None for n in written)
        by_part = {n.subject_id: n for n in written}
        assert recipient_ids(by_part[part_a.id]) == {market.manager_a.user_id, member_a.user_id}
        assert recipient_ids(by_part[part_b.id]) == {market.manager_b.user_id}
        cafe = _product(market.listing_c)
        seen_by_b = render(app, by_part[part_b.id], market.manager_b.user_id)
        for text in (seen_by_b.text, seen_by_b.short, " ".join(seen_by_b.template_params)):
            assert "50 kg" in text
            assert cafe not in text and "100 kg" not in text and "30 kg" not in text and COOP_A not in text
        seen_by_a = render(app, by_part[part_a.id], member_a.user_id)
        assert cafe in seen_by_a.text and "100 kg" in seen_by_a.text and "50 kg" not in seen_by_a.text
        assert [p for p, _ in seen_by_a.buttons] == [f"accept:{part_a.id}", f"decline:{part_a.id}"]
        assert [p for p, _ in seen_by_b.buttons] == [f"accept:{part_b.id}", f"decline:{part_b.id}"]


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_new_order_names_products_kilos_buyer_and_answer_by_time(app, market, locale):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "30", "kg")],
                     now=PLACED_AT)
    with app.app_context():
        set_locale(market.manager_a.user_id, locale)
        part = part_of(order_id, market.coop_a)
        number = part.order.number
        cacao, cafe = _product(market.listing_a, locale), _product(market.listing_c, locale)
        seen = render(app, notices("new_order")[0], market.manager_a.user_id)
        with app.test_request_context(base_url=app.config["PUBLIC_URL"]):
            link = url_for("orders.sale_page", part_id=part.id, _external=True)
    assert link.startswith(app.config["PUBLIC_URL"])
    day = str((PLACED_AT + timedelta(hours=48)).day)
    # 17:00 UTC is 12:00 in Bogotá: every text gives the answer-by time on Colombia's clock.
    template_text = fill("new_order", locale, seen.template_params)
    for text in (seen.text, seen.short, template_text):
        assert BUYER in text and cacao in text and "100 kg" in text and "30 kg" in text
        assert "12:00" in text and day in text and "17:00" not in text
    assert link in seen.text
    if locale == "es":
        assert seen.subject == f"Nuevo pedido {number} de {BUYER}"
        assert "Responda antes del" in seen.text and "hora de Colombia" in seen.text
        assert seen.short.endswith(f"Responda SI {order_id} o NO {order_id}")
        assert seen.buttons == [(f"accept:{part.id}", "Aceptar"), (f"decline:{part.id}", "Rechazar")]
        assert template_text.startswith(f"Nuevo pedido {number} de {BUYER}: ")
    else:
        assert seen.subject == f"New order {number} from {BUYER}"
        assert "Answer before" in seen.text and "Colombia time" in seen.text
        assert f"SI {order_id}" in seen.short and f"NO {order_id}" in seen.short
        assert seen.buttons == [(f"accept:{part.id}", "Accept"), (f"decline:{part.id}", "Decline")]
        assert template_text.startswith(f"New order {number} from {BUYER}: ")
    assert seen.template_params == [number, BUYER, f"100 kg {cacao}, 30 kg {cafe}", seen.template_params[3]]
    assert _one_segment(seen.short) and "http" not in seen.short
    assert all("\n" not in p and p for p in seen.template_params)


def test_a_long_order_still_fits_one_sms(app, market, factory):
    from tests.orders.conftest import make_listing

    slugs = ["cacao-grano-seco", "cafe-pergamino-seco"]
    listings = [make_listing(app, market.manager_a, slugs[i % 2], "100", "9000") for i in range(6)]
    order_id = place(app, market, [(lid, "10", "kg") for lid in listings], now=PLACED_AT)
    with app.app_context():
        seen = render(app, notices("new_order")[0], market.manager_a.user_id)
    assert _one_segment(seen.short), seen.short
    assert seen.short.endswith(f"Responda SI {order_id} o NO {order_id}")
    assert "6 productos, 60 kg" in seen.short and BUYER in seen.short
    assert seen.text.count("10 kg") == 6  # the e-mail and WhatsApp text keep every line


def test_placing_writes_its_notices_in_the_order_transaction_and_sends_nothing(app, market):
    from marketplace.messaging.models import Message

    with app.app_context():
        with pytest.raises(Conflict):
            services.place_order(user(market.buyer), order_request(market, [(market.listing_b, "600", "kg")]))
        db.session.rollback()
        assert notices() == []  # a refused order tells nobody
        services.place_order(user(market.buyer), order_request(market, [(market.listing_a, "10", "kg")]))
        db.session.rollback()
        assert notices() == []  # nor one rolled back
    place(app, market, [(market.listing_a, "10", "kg")])
    with app.app_context():
        assert [n.kind for n in notices()] == ["new_order"]
        assert db.session.scalar(select(db.func.count()).select_from(Message)) == 0


def test_an_offer_chosen_from_a_demand_is_told_as_such(app, market):
    with app.app_context():
        order = services.place_order(user(market.buyer), order_request(market, [(market.listing_b, "50", "kg")]),
                                     now=PLACED_AT, notify_kind="offer_chosen")
        db.session.commit()
        notice = notices()[0]
        assert (notice.kind, notice.organisation_id) == ("offer_chosen", market.coop_b)
        assert recipient_ids(notice) == {market.manager_b.user_id}
        seen = render(app, notice, market.manager_b.user_id)
        assert seen.subject == f"{BUYER} eligió su cotización: pedido {order.number}"
        assert "eligió a Cooperativa del Caguán para su solicitud de compra" in seen.text
        assert f"SI {order.id}" in seen.short and _one_segment(seen.short)
        assert fill("offer_chosen", "es", seen.template_params).startswith(
            f"Su cotización fue elegida: {BUYER} hizo el pedido {order.number}: 50 kg ")


# ------------------------------------------------------------------ reminders


def _reminders() -> list[tuple[str, int]]:
    return [(n.kind, n.subject_id) for n in notices() if n.kind.startswith("reminder")]


def test_reminders_are_written_once_12_and_2_hours_before_a_part_declines_itself(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")],
                     now=PLACED_AT)
    deadline = PLACED_AT + timedelta(hours=48)
    with app.app_context():
        part_a, part_b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        services.accept(user(market.manager_b), part_b)  # an answered part is never reminded
        db.session.commit()
        for hours_left, expected in [(13, []), (12, [("reminder_12h", part_a.id)]),
                                     (11, [("reminder_12h", part_a.id)]), (3, [("reminder_12h", part_a.id)]),
                                     (2, [("reminder_12h", part_a.id), ("reminder_2h", part_a.id)]),
                                     (1, [("reminder_12h", part_a.id), ("reminder_2h", part_a.id)])]:
            for _ in range(2):  # a second sweep at the same moment writes nothing more
                sweep.sweep(deadline - timedelta(hours=hours_left))
                db.session.commit()
            assert _reminders() == expected, hours_left
        part = db.session.get(OrderPart, part_a.id)
        db.session.refresh(part)
        assert part.reminded_12h_at is not None and part.reminded_2h_at is not None
        assert sweep.sweep(deadline + timedelta(minutes=1))["expired"] == 1
        db.session.commit()
        assert len(_reminders()) == 2
        reminder = notices("reminder_2h")[0]
        assert reminder.organisation_id == market.coop_a
        assert recipient_ids(reminder) == set()  # expired since: nobody is reminded of it


def test_a_sweep_that_was_down_sends_only_the_reminder_still_due(app, market):
    place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        assert sweep.remind(PLACED_AT + timedelta(hours=47)) == 1
        db.session.commit()
        assert [k for k, _ in _reminders()] == ["reminder_2h"]
        sweep.sweep(PLACED_AT + timedelta(hours=50))  # past the deadline: expired, never reminded
        db.session.commit()
        assert [k for k, _ in _reminders()] == ["reminder_2h"]


def test_a_part_placed_with_less_than_12_hours_gets_only_the_2_hour_reminder(make_app, market):
    app = make_app(ORDER_ACCEPT_HOURS=10)
    place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        for hours in (0, 1, 5, 7, 8, 9):
            sweep.sweep(PLACED_AT + timedelta(hours=hours, minutes=1))
            db.session.commit()
        assert [k for k, _ in _reminders()] == ["reminder_2h"]


def test_a_reminder_answered_before_it_is_sent_tells_nobody(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        sweep.sweep(PLACED_AT + timedelta(hours=37))
        db.session.commit()
        reminder = notices("reminder_12h")[0]
        assert recipient_ids(reminder) == {market.manager_a.user_id}
        seen = render(app, reminder, market.manager_a.user_id)
        number = db.session.get(Order, order_id).number
        assert seen.subject.startswith(f"Recordatorio: responda el pedido {number} antes del ")
        assert "sigue esperando su respuesta" in seen.text and "12:00" in seen.text
        assert seen.short.startswith(f"Recuerde: el pedido {order_id} de {BUYER}")
        assert f"SI {order_id}" in seen.short and _one_segment(seen.short)
        assert [p for p, _ in seen.buttons] == [f"accept:{reminder.subject_id}", f"decline:{reminder.subject_id}"]
        services.decline(user(market.manager_a), part_of(order_id, market.coop_a), "Sin cosecha")
        db.session.commit()
        assert recipient_ids(reminder) == set()


def test_two_sweeps_at_once_write_each_reminder_once(app, market):
    place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")], now=PLACED_AT)
    moment = PLACED_AT + timedelta(hours=37)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                start.wait(timeout=30)
                sweep.remind(moment)
                db.session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads), errors
    with app.app_context():
        assert sorted(k for k, _ in _reminders()) == ["reminder_12h", "reminder_12h"]
        assert len({s for _, s in _reminders()}) == 2


# ----------------------------------------------------------- buyer's notices


def test_the_buyer_is_told_by_its_admins_and_whoever_placed_the_order(app, market, factory):
    purchaser = factory.member(market.buyer_id, Role.BUYER_PURCHASER)
    other_purchaser = factory.member(market.buyer_id, Role.BUYER_PURCHASER)
    with app.app_context():
        order = services.place_order(db.session.get(User, purchaser.user_id),
                                     order_request(market, [(market.listing_a, "100", "kg"),
                                                            (market.listing_b, "50", "kg")]), now=PLACED_AT)
        db.session.commit()
        part_a, part_b = part_of(order.id, market.coop_a), part_of(order.id, market.coop_b)
        services.accept(user(market.manager_a), part_a)
        services.decline(user(market.manager_b), part_b, "Se dañó con la lluvia")
        db.session.commit()
        accept, decline = notices("accept")[0], notices("decline")[0]
        assert (accept.subject_id, accept.organisation_id) == (part_a.id, market.buyer_id)
        for notice in (accept, decline):
            told = recipient_ids(notice)
            assert told == {market.buyer.user_id, purchaser.user_id}
            assert other_purchaser.user_id not in told and market.manager_a.user_id not in told
        seen = render(app, decline, purchaser.user_id)
        assert seen.subject == f"{COOP_B} no puede atender su pedido {order.number}"
        assert "Se dañó con la lluvia" in seen.text and "no se le cobrará esa parte" in seen.text
        assert seen.template_params[3] == "Se dañó con la lluvia"
        assert fill("decline", "es", seen.template_params) == (
            f"Su pedido {order.number}: {COOP_B} no puede atender 50 kg {_product(market.listing_b)}. "
            "Motivo: Se dañó con la lluvia. Esa parte no se le cobrará.")
        assert seen.buttons == []
        # A purchaser who has left the buyer, or a deactivated admin, is told no more.
        db.session.get(User, market.buyer.user_id).active = False
        db.session.flush()
        assert recipient_ids(accept) == {purchaser.user_id}


def test_an_expired_part_is_told_to_the_buyer(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        sweep.sweep(PLACED_AT + timedelta(hours=49))
        db.session.commit()
        notice = notices("expire")[0]
        assert recipient_ids(notice) == {market.buyer.user_id}
        set_locale(market.buyer.user_id, "en")
        seen = render(app, notice, market.buyer.user_id)
        number = db.session.get(Order, order_id).number
        assert seen.subject == f"{COOP_A} did not answer your order {number} in time"
        assert "You will not be charged" in seen.short and _one_segment(seen.short)


@pytest.mark.parametrize("by", ["buyer", "coop", "staff"])
def test_a_cancellation_is_told_to_the_side_that_did_not_cancel(app, market, factory, by):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    admin = factory.admin()
    with app.app_context():
        part = part_of(order_id, market.coop_a)
        if by == "coop":
            services.accept(user(market.manager_a), part)
        actor = {"buyer": market.buyer, "coop": market.manager_a, "staff": admin}[by]
        services.cancel(user(actor), part, "Cambio de planes")
        db.session.commit()
        notice = notices("cancel")[0]
        assert notice.payload == {"by": by, "reason": "Cambio de planes"}
        told = recipient_ids(notice)
        assert (market.manager_a.user_id in told) == (by != "coop")
        assert (market.buyer.user_id in told) == (by != "buyer")
        who = {"buyer": BUYER, "coop": COOP_A, "staff": "el equipo de Mercado Rural"}[by]
        for person in (market.manager_a, market.buyer):
            seen = render(app, notice, person.user_id)
            assert f"{who} lo canceló: Cambio de planes" in seen.text
            assert seen.subject == f"Pedido {part.order.number} cancelado"
            assert _one_segment(seen.short) and "cancelado" in seen.short
        coop_view = render(app, notice, market.manager_a.user_id)
        assert "No tiene que entregarlo" in coop_view.text and f"Pedido {order_id} " in coop_view.short


# ------------------------------------------- disputes and payouts (cooperative)


def _delivered(app, market, order_id, coop_id, manager, received):
    with app.app_context():
        part = part_of(order_id, coop_id)
        services.accept(user(manager), part)
        services.mark_ready(user(manager), part)
        receipts = [services.Receipt(ln.id, D(received[ln.listing_id][0]), received[ln.listing_id][1],
                                     received[ln.listing_id][2]) for ln in part.lines]
        services.record_delivery(user(market.buyer), part, receipts)
        db.session.commit()


def test_a_dispute_is_told_to_the_cooperative_with_what_was_disputed(app, market, factory):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "30", "kg"),
                                   (market.listing_b, "50", "kg")], now=PLACED_AT)
    _delivered(app, market, order_id, market.coop_a, market.manager_a,
               {market.listing_a: ("100", False, "Granos con moho"), market.listing_c: ("20", True, None)})
    _delivered(app, market, order_id, market.coop_b, market.manager_b, {market.listing_b: ("50", True, None)})
    with app.app_context():
        disputes = notices("dispute")
        assert len(disputes) == 1  # coop B's delivery was in order: no dispute, no notice
        notice = disputes[0]
        part = part_of(order_id, market.coop_a)
        assert (notice.subject_id, notice.organisation_id) == (part.id, market.coop_a)
        assert recipient_ids(notice) == {market.manager_a.user_id}
        cacao, cafe = _product(market.listing_a), _product(market.listing_c)
        seen = render(app, notice, market.manager_a.user_id)
        assert seen.subject == f"Disputa en el pedido {part.order.number} de {BUYER}"
        assert f"{cacao} rechazado por calidad (Granos con moho)" in seen.text
        assert f"{cafe}: llegaron 20 kg de 30 kg" in seen.text
        assert f"Disputa en el pedido {order_id}" in seen.short and _one_segment(seen.short)
        assert "Granos con moho" in fill("dispute", "es", seen.template_params)
        assert {n.kind for n in notices()} >= {"ready", "deliver"}
        deliver = [n for n in notices("deliver") if n.subject_id == part.id][0]
        assert recipient_ids(deliver) == {market.buyer.user_id}
        delivered = render(app, deliver, market.buyer.user_id)
        assert "recibido 20 kg" in " ".join(delivered.template_params)


def test_a_payout_is_told_to_the_cooperative_with_amount_and_reference(app, market, factory):
    admin = factory.admin()
    order_id = place(app, market, [(market.listing_b, "50", "kg")], now=PLACED_AT)
    _delivered(app, market, order_id, market.coop_b, market.manager_b, {market.listing_b: ("50", True, None)})
    with app.app_context():
        services.mark_invoice_paid(user(admin), db.session.get(Order, order_id), "BANCO-1")
        db.session.commit()
        part = part_of(order_id, market.coop_b)
        services.settle(user(admin), part, "TRF-778")
        db.session.commit()
        notice = notices("payout")[0]
        assert recipient_ids(notice) == {market.manager_b.user_id}
        paid = Decimal(notice.payload["amount"])
        assert notice.payload["reference"] == "TRF-778" and paid > 0
        seen = render(app, notice, market.manager_b.user_id)
        from marketplace.core.formatting import cop

        with app.test_request_context():
            amount = cop(paid)
        assert amount in seen.subject and amount in seen.text and "TRF-778" in seen.text
        assert seen.short == f"Le pagamos {amount} por el pedido {order_id}. Referencia: TRF-778. Mercado Rural"
        assert fill("payout", "es", seen.template_params).startswith(
            f"Registramos el pago del pedido {part.order.number} (50 kg ")


# ------------------------------------------- every kind, every channel, both languages


def _every_kind(app, market, factory) -> dict[str, tuple[int, int]]:
    """One notice of every kind: kind -> (notice id, a person it goes to)."""
    admin = factory.admin()
    first = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")], now=PLACED_AT)
    declined = place(app, market, [(market.listing_a, "10", "kg")], now=PLACED_AT)
    cancelled = place(app, market, [(market.listing_c, "10", "kg")], now=PLACED_AT)
    with app.app_context():
        services.place_order(user(market.buyer), order_request(market, [(market.listing_b, "5", "kg")]),
                             now=PLACED_AT, notify_kind="offer_chosen")
        services.decline(user(market.manager_a), part_of(declined, market.coop_a), None)
        services.cancel(user(market.buyer), part_of(cancelled, market.coop_a), None)
        db.session.commit()
        sweep.sweep(PLACED_AT + timedelta(hours=37))
        sweep.sweep(PLACED_AT + timedelta(hours=47))
        db.session.commit()
    _delivered(app, market, first, market.coop_a, market.manager_a, {market.listing_a: ("10", True, None)})
    _delivered(app, market, first, market.coop_b, market.manager_b, {market.listing_b: ("50", True, None)})
    with app.app_context():
        services.mark_invoice_paid(user(admin), db.session.get(Order, first), "BANCO-1")
        db.session.commit()
        services.settle(user(admin), part_of(first, market.coop_b), "TRF-1")
        db.session.commit()
        sweep.sweep(PLACED_AT + timedelta(hours=49))
        db.session.commit()
        kinds = {}
        for notice in notices():
            # Reminders go only while their part waits for an answer; these were answered since.
            people = sorted(u.id for u in (messages.cooperative_recipients(notice) if notice.kind.startswith(
                "reminder") else hooks.NOTICE_KINDS[notice.kind].recipients(notice)))
            if notice.kind not in kinds and people:
                kinds[notice.kind] = (notice.id, people[0])
        return kinds


@pytest.mark.parametrize("locale", ["es", "en"])
def test_every_kind_reads_right_on_every_channel_in_each_language(app, market, factory, locale):
    kinds = _every_kind(app, market, factory)
    assert set(kinds) == set(ALL_KINDS)
    with app.app_context():
        for kind, (notice_id, person_id) in kinds.items():
            set_locale(person_id, locale)
            notice = db.session.get(Notice, notice_id)
            seen = render(app, notice, person_id)
            order = db.session.get(OrderPart, notice.subject_id).order
            template = fill(kind, locale, seen.template_params)
            # E-mail: a subject and the full text, with the order's link on the public address.
            assert order.number in seen.subject and order.number in seen.text, kind
            assert f"{app.config['PUBLIC_URL']}/" in seen.text, kind
            # WhatsApp template: every placeholder filled with a one-line parameter.
            assert len(seen.template_params) == len(PLACEHOLDER.findall(
                hooks.NOTICE_KINDS[kind].template_text[locale])), kind
            assert "{{" not in template and order.number in template, kind
            assert all(p and "\n" not in p for p in seen.template_params), kind
            # WhatsApp buttons (template and free text): only where the cooperative answers.
            expected = ["Aceptar", "Rechazar"] if locale == "es" else ["Accept", "Decline"]
            assert [t for _, t in seen.buttons] == (expected if kind in messages.ANSWERABLE else []), kind
            # SMS: one GSM-7 segment, no link.
            assert _one_segment(seen.short) and "http" not in seen.short, (kind, seen.short)
            assert str(order.id) in seen.short, kind
            texts = [re.sub(r"https?://\S+", "", t) for t in (seen.subject, seen.text, seen.short, template)]
            if locale == "es":
                assert "pedido" in seen.subject.lower() and seen.text.startswith("Hola, "), kind
            else:
                assert "order" in seen.subject.lower() and seen.text.startswith("Hello "), kind
                assert not any("pedido" in t.lower() or "Responda" in t for t in texts), (kind, texts)
        db.session.rollback()


def test_a_notice_about_a_part_that_no_longer_exists_fails_to_render(app, market):
    place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        notice = Notice(kind="accept", subject_id=999_999, organisation_id=market.buyer_id, attempts=0)
        db.session.add(notice)
        db.session.flush()
        assert recipient_ids(notice) == set()
        with pytest.raises(LookupError):
            render(app, notice, market.buyer.user_id)
