"""Listing a harvest by WhatsApp or SMS: a guided conversation that ends in the same
listing, with the same checks, as the web form."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from PIL import Image
from sqlalchemy import func, select

from marketplace.accounts.models import OrgStatus, Role, User
from marketplace.catalog import conversation as chat
from marketplace.catalog import services
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, ListingPhoto, Product
from marketplace.core import formatting
from marketplace.extensions import db
from marketplace.messaging import hooks, inbound, media
from marketplace.messaging.models import Channel, Conversation, MediaFetch, MediaStatus
from tests.messaging import conftest as messaging_fixtures
from tests.messaging import fakes
from tests.messaging.test_webhooks import PUBLIC_URL, post_meta, post_twilio

NOW = datetime.now(UTC).replace(microsecond=0)
_ids = count(1)
TODAY = chat.local_today(NOW)


class Chat:
    """One person writing to the product by WhatsApp (or SMS): each message goes through the
    inbound webhook's ``receive`` and its single commit; ``say`` returns the answer queued."""

    def __init__(self, app, user_id: int, channel: Channel = Channel.WHATSAPP):
        self.app, self.user_id, self.channel, self.at = app, user_id, channel, NOW
        self.provider = "meta" if channel == Channel.WHATSAPP else "twilio"
        with app.app_context():
            user = db.session.get(User, user_id)
            user.phone_verified_at = user.whatsapp_opt_in_at = NOW - timedelta(days=1)
            db.session.commit()
            self.number = user.phone

    def say(self, text: str = "", media_id: str | None = None, minutes: float = 1,
            message_id: str | None = None) -> str:
        self.at += timedelta(minutes=minutes)
        with self.app.app_context():
            received = inbound.receive(self.channel, self.provider, message_id or f"wamid.{next(_ids)}",
                                       self.number, text, media_id=media_id, now=self.at)
            db.session.commit()
            return received.reply.body if received.reply is not None else ""


@pytest.fixture
def catalogue(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        return {p.slug: p.id for p in db.session.scalars(select(Product))}


def _with_point(app, coop_id: int, name: str = "Vereda La Playa") -> int:
    from marketplace.accounts.models import Cooperative

    with app.app_context():
        point = services.add_collection_point(db.session.get(Cooperative, coop_id), name, None, None)
        db.session.commit()
        return point.id


def _position(app, slug: str) -> int:
    with app.app_context():
        names = [p.slug for p in chat._products("es")]
        return names.index(slug) + 1


def _listings(app) -> list[Listing]:
    with app.app_context():
        return list(db.session.scalars(select(Listing).order_by(Listing.id)))


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _set_locale(app, user_id: int, locale: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).locale = locale
        db.session.commit()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (110, 62, 35)).save(out, format="JPEG")
    return out.getvalue()


def _day(days: int) -> date:
    return TODAY + timedelta(days=days)


def test_a_manager_lists_cacao_in_arrobas_in_spanish_with_a_photo_the_worker_attaches(app, factory, catalogue):
    coop_id, manager = factory.cooperative()
    point_id = _with_point(app, coop_id)
    me = Chat(app, manager.user_id)
    first = me.say("Vender")
    assert "Vamos a publicar su cosecha" in first and "CANCELAR" in first
    assert f"{_position(app, 'cacao-grano-seco')}. Cacao en grano seco" in first
    grade = me.say("cacao")
    assert "¿Qué calidad de Cacao en grano seco?" in grade and "1. Premium" in grade
    quantity = me.say("1")
    assert "«20 arrobas»" in quantity and "kg, arroba, carga, bulto, tonelada" in quantity
    assert "¿Precio por arroba" in me.say("20 arrobas")
    until = _day(20)
    assert "¿Hasta qué fecha" in me.say("150.000")
    assert "1. Vereda La Playa" in me.say(f"{until.day}/{until.month}")
    assert "Envíe una foto" in me.say("1")
    summary = me.say("", media_id="wamid-photo-1")
    assert "Revise su oferta" in summary and "20 arrobas (250 kg)" in summary
    assert "$ 150.000 por arroba = $ 12.000/kg" in summary and "Foto: sí" in summary
    assert "Se recoge en: Vereda La Playa" in summary and "Responda SI" in summary
    assert _count(app, Listing) == 0
    done = me.say("Sí")
    assert "Publicamos su oferta n.º" in done and "20 arrobas de Cacao en grano seco" in done and "foto" in done
    (listing,) = _listings(app)
    assert (listing.quantity_kg, listing.price_per_unit, listing.price_per_kg) == (
        Decimal("250.000"), Decimal("150000.00"), Decimal("12000.00"))
    assert (listing.unit, listing.collection_point_id, listing.available_until) == ("arroba", point_id, until)
    assert listing.created_by_id == manager.user_id and listing.status.value == "active"
    assert _count(app, Conversation) == 0
    with app.app_context():
        (fetch,) = db.session.scalars(select(MediaFetch))
        assert (fetch.purpose, fetch.subject_id, fetch.media_ref, fetch.status) == (
            "listing_photo", listing.id, "wamid-photo-1", MediaStatus.PENDING)
        assert fetch.user_id == manager.user_id and fetch.provider == "meta"
        asked = []
        photo = _jpeg()

        def fake_provider(channel, ref):
            asked.append((channel, ref))
            return photo, "image/jpeg"

        assert media.process_media(now=NOW + timedelta(minutes=30), fetch=fake_provider) == 1
        assert asked == [(Channel.WHATSAPP, "wamid-photo-1")]
        (stored,) = db.session.scalars(select(ListingPhoto))
        assert stored.listing_id == listing.id and (stored.width, stored.height) == (1280, 960)
        assert db.session.get(MediaFetch, fetch.id).status == MediaStatus.DONE
        # Re-encoded like a web upload, stored under a server name.
        assert app.extensions["marketplace_storage"].read(stored.key)[:2] == b"\xff\xd8"
        assert media.process_media(now=NOW + timedelta(hours=1), fetch=fake_provider) == 0
        assert len(asked) == 1


def test_a_member_lists_in_english_by_name_with_sacks_that_need_a_weight_and_a_new_point(app, factory, catalogue):
    coop_id, _manager = factory.cooperative()
    _with_point(app, coop_id)
    member = factory.member(coop_id, Role.COOP_MEMBER)
    _set_locale(app, member.user_id, "en")
    me = Chat(app, member.user_id)
    first = me.say("SELL")
    assert "What product" in first and "Cassava" in first
    assert "What grade of Cassava?" in me.say("cassava")
    assert "«20 sacks»" in me.say("2")
    assert "How many kg does each sack weigh" in me.say("10 sacks")
    assert "Price per sack" in me.say("62.5 kg")
    until = _day(30)
    assert "Until what date" in me.say("90,000")
    point = me.say(until.strftime("%b %d").replace(" 0", " "))
    assert "0. Another place" in point
    assert "name of the collection centre" in me.say("0")
    assert "Send a photo" in me.say("Vereda El Limón")
    summary = me.say("no")
    assert "10 sacks (625 kg)" in summary and "COP 90,000 per sack = COP 1,440/kg" in summary
    assert "Photo: no" in summary and "Pickup at: Vereda El Limón" in summary
    assert "We published your listing" in me.say("yes")
    (listing,) = _listings(app)
    assert (listing.unit, listing.unit_kg, listing.quantity_kg) == ("bulto", Decimal("62.500"), Decimal("625.000"))
    assert listing.available_until == until
    with app.app_context():
        assert db.session.get(Listing, listing.id).collection_point.name == "Vereda El Limón"
    assert _count(app, MediaFetch) == 0


def test_a_cooperative_without_collection_points_names_its_first_one(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    me = Chat(app, manager.user_id)
    _to_price(me)
    me.say("150.000")
    until = _day(3)
    assert "Escriba el nombre del centro de acopio" in me.say(f"{until.day}/{until.month}")
    me.say("Centro de acopio Llorente")
    assert "Se recoge en: Centro de acopio Llorente" in me.say("NO")
    me.say("SI")
    (listing,) = _listings(app)
    with app.app_context():
        point = db.session.get(Listing, listing.id).collection_point
        assert (point.name, point.municipality_code, point.located) == ("Centro de acopio Llorente", "52835", False)


@pytest.mark.parametrize(("slug", "answer", "unit", "kg"), [
    ("cafe-pergamino-seco", "3 cargas", "carga", "375.000"),
    ("cafe-pergamino-seco", "1.500 kg", "kg", "1500.000"),
    ("cafe-pergamino-seco", "12,5 @", "arroba", "156.250"),
    ("yuca", "2 toneladas", "tonelada", "2000.000"),
    ("yuca", "10 bultos de 50 kg", "bulto", "500.000"),
    ("platano-harton", "40 canastillas x 25kg", "canastilla", "1000.000"),
    ("platano-harton", "8 racimos de 30 kilos", "racimo", "240.000"),
    ("aguacate-hass", "5 cajas de 10 kg", "caja", "50.000"),
    ("platano-harton", "6 bolsas de 20 kg", "bolsa", "120.000"),
])
def test_each_unit_is_understood(app, factory, catalogue, slug, answer, unit, kg):
    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    me = Chat(app, manager.user_id)
    assert "¿Qué calidad" in me.say(f"PUBLICAR {slug.replace('-', ' ')}")
    me.say("1")
    assert "¿Precio por" in me.say(answer)
    with app.app_context():
        state = db.session.scalar(select(Conversation)).state
    assert state["unit"] == unit
    assert services.units.to_kg(Decimal(state["quantity"]), unit,
                                Decimal(state["unit_kg"]) if state["unit_kg"] else None) == Decimal(kg)


def _to_price(me: Chat, product: str = "cacao", quantity: str = "20 arrobas") -> None:
    me.say(f"VENDER {product}")
    me.say("1")
    me.say(quantity)


@pytest.mark.parametrize(("step", "answers", "bad", "message"), [
    ("product", [], "99", "no está en la lista"),
    ("product", [], "aguacate", "varias opciones"),
    ("product", [], "marihuana", "No lo encontramos"),
    ("grade", ["VENDER cacao"], "7", "no está en la lista"),
    ("quantity", ["VENDER cacao", "1"], "muchas", "Escriba un número y la unidad"),
    ("quantity", ["VENDER cacao", "1"], "20", "Falta la unidad"),
    ("quantity", ["VENDER cacao", "1"], "20 racimos", "Elija una unidad de la lista"),
    ("quantity", ["VENDER cacao", "1"], "0 kg", "mayor que cero"),
    ("quantity", ["VENDER cacao", "1"], "99999999 toneladas", "demasiado grande"),
    ("unit_kg", ["VENDER cacao", "1", "10 bultos"], "pesados", "solo el número de kilos"),
    ("unit_kg", ["VENDER cacao", "1", "10 bultos"], "5000", "entre 0 y 2.000 kg"),
    ("price", ["VENDER cacao", "1", "20 arrobas"], "caro", "Escriba el precio en pesos"),
    ("price", ["VENDER cacao", "1", "20 arrobas"], "0", "mayor que cero"),
    ("price", ["VENDER cacao", "1", "20 arrobas"], "999999999999", "no es posible"),
    ("until", ["VENDER cacao", "1", "20 arrobas", "150000"], "pronto", "No entendí la fecha"),
    ("until", ["VENDER cacao", "1", "20 arrobas", "150000"], "31/02", "No entendí la fecha"),
    ("until", ["VENDER cacao", "1", "20 arrobas", "150000"], "yesterday-ish", "No entendí la fecha"),
    ("point", ["VENDER cacao", "1", "20 arrobas", "150000", "{until}"], "5", "no está en la lista"),
    ("new_point", ["VENDER cacao", "1", "20 arrobas", "150000", "{until}", "0"], "x", "de 2 a 120"),
    ("photo", ["VENDER cacao", "1", "20 arrobas", "150000", "{until}", "1"], "luego", "Envíe la foto"),
])
def test_a_wrong_answer_is_explained_the_question_repeated_and_nothing_created(
        app, factory, catalogue, step, answers, bad, message):
    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    me = Chat(app, manager.user_id)
    until = _day(10)
    for answer in answers or ["VENDER"]:
        me.say(answer.format(until=f"{until.day}/{until.month}"))
    with app.app_context():
        before = db.session.scalar(select(Conversation)).state
    reply = me.say(bad)
    assert message in reply
    with app.app_context():
        row = db.session.scalar(select(Conversation))
        assert row.step == step and {k: v for k, v in row.state.items() if k != "far"} == {
            k: v for k, v in before.items() if k != "far"}
    assert _count(app, Listing) == 0


def test_a_date_in_the_past_or_beyond_a_year_is_refused(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    me = Chat(app, manager.user_id)
    _to_price(me)
    me.say("150.000")
    past = TODAY - timedelta(days=400)
    assert "no puede estar en el pasado" in me.say(f"{past.day}/{past.month}/{past.year}")
    far = TODAY + timedelta(days=400)
    assert "hasta un año" in me.say(f"{far.day}/{far.month}/{far.year}")
    assert _count(app, Listing) == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("20/12", date(2026, 12, 20)), ("20-12-2027", date(2027, 12, 20)), ("20 dic", date(2026, 12, 20)),
    ("20 de diciembre", date(2026, 12, 20)), ("Dec 20", date(2026, 12, 20)), ("2027-01-05", date(2027, 1, 5)),
    ("5 ene", date(2027, 1, 5)), ("5/1/27", date(2027, 1, 5)), ("3 sept", date(2027, 9, 3)),
    ("hoy", date(2026, 12, 7)), ("mañana", date(2026, 12, 8)), ("1 de agosto de 2027", date(2027, 8, 1)),
    ("31/02", None), ("20 dicc", None), ("mañana temprano", None), ("20", None), ("20/12/20xx", None),
])
def test_dates_are_read_as_people_write_them(text, expected):
    assert chat.parse_day(text, date(2026, 12, 7)) == expected


def test_a_price_typo_far_from_the_reference_is_pointed_out_and_needs_the_yes(app, factory, catalogue):
    from marketplace.catalog import sipsa

    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    reference = sipsa.nearest_reference("Plátano hartón verde", 1.807399, -78.764073).latest.mean
    me = Chat(app, manager.user_id)
    me.say("VENDER plátano")
    me.say("1")
    me.say("500 kg")
    typo = int(reference * 10)  # a zero too many
    me.say(str(typo))
    until = _day(5)
    me.say(f"{until.day}/{until.month}")
    me.say("1")
    summary = me.say("NO")
    assert f"la referencia es {formatting.cop(reference)} por kg" in summary and " % más" in summary
    with app.app_context():
        assert db.session.scalar(select(Conversation)).state["far"] is True
    fixed = me.say(str(int(reference)))
    assert "la referencia es" not in fixed and "Responda SI para publicar" in fixed
    assert _count(app, Listing) == 0
    assert "la referencia es" in me.say("13,5")  # far below the reference: pointed out again
    again = me.say(str(typo))
    assert "la referencia es" in again
    assert "Publicamos su oferta" in me.say("SI")
    (listing,) = _listings(app)
    assert listing.price_per_kg == Decimal(typo)


def test_the_web_price_check_refuses_the_same_price_without_the_confirmation(app, factory, catalogue):
    """The conversation's "SI" is what the web's «Confirmo el precio» is: without it
    create_listing refuses, as the web does (same service, same rule)."""
    from marketplace.catalog import sipsa

    coop_id, manager = factory.cooperative()
    point_id = _with_point(app, coop_id)
    reference = sipsa.nearest_reference("Plátano hartón verde", 1.807399, -78.764073).latest.mean
    with app.app_context():
        plantain = db.session.scalar(select(Product).where(Product.slug == "platano-harton"))
        data = services.ListingData(plantain.id, plantain.grades[0].id, Decimal(500), "kg", reference * 10,
                                    TODAY, TODAY, _day(5), collection_point_id=point_id)
        with pytest.raises(services.DomainError) as refused:
            services.create_listing(db.session.get(User, manager.user_id), data, today=TODAY)
        assert refused.value.status_code == 409


def test_cancelar_at_any_point_stops_and_creates_nothing(app, factory, catalogue):
    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    me = Chat(app, manager.user_id)
    _to_price(me)
    assert "No se guardó nada" in me.say("CANCELAR")
    assert _count(app, Conversation) == 0
    assert "¿Qué producto" in me.say("VENDER")  # it can start again
    _set_locale(app, manager.user_id, "en")
    assert "nothing was published" in me.say("cancel")  # the English word ends it too
    assert _count(app, Conversation) == 0 and _count(app, Listing) == 0


def _silence(app) -> timedelta:
    """How long the conversation waits for the next answer (CONVERSATION_MINUTES)."""
    with app.app_context():
        row = db.session.scalar(select(Conversation))
        return row.expires_at - row.updated_at


def test_after_a_silence_it_times_out_politely_and_starts_over(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    me = Chat(app, manager.user_id)
    _to_price(me)
    silence = _silence(app)
    almost = silence.total_seconds() / 60 - 1
    assert "¿Hasta qué fecha" in me.say("150.000", minutes=almost)  # each answer gives the full time again
    late = me.say("20/12", minutes=almost + 2)
    assert f"Pasaron más de {round(silence.total_seconds() / 60)} minutos" in late and "VENDER" in late
    assert _count(app, Conversation) == 0 and _count(app, Listing) == 0
    assert "¿Qué producto" in me.say("VENDER")


def test_the_time_out_follows_the_setting(make_app):
    from tests.conftest import Factory

    app = make_app(CONVERSATION_MINUTES=5)
    _coop, manager = Factory(app).cooperative()
    with app.app_context():
        seed_catalogue()
        db.session.commit()
    me = Chat(app, manager.user_id)
    me.say("VENDER")
    assert _silence(app) == timedelta(minutes=5)
    assert "Pasaron más de 5 minutos" in me.say("1", minutes=6)


@pytest.mark.parametrize(("who", "message"), [
    ("buyer", "no puede usar VENDER"),
    ("purchaser", "no puede usar VENDER"),
    ("pending", "aún está en revisión"),
    ("suspended", "está suspendida"),
    ("rejected", "debe estar verificada"),
])
def test_who_may_not_publish_is_told_why_and_nothing_starts(app, factory, catalogue, who, message):
    if who in ("buyer", "purchaser"):
        org_id, person = factory.buyer()
        if who == "purchaser":
            person = factory.member(org_id, Role.BUYER_PURCHASER)
        with app.app_context():
            db.session.get(User, person.user_id).phone = "+573009998877"
            db.session.commit()
    else:
        _org, person = factory.cooperative(status=who)
    me = Chat(app, person.user_id)
    assert message in me.say("VENDER")
    assert _count(app, Conversation) == 0 and _count(app, Listing) == 0


def test_a_cooperative_suspended_mid_conversation_cannot_finish(app, factory, catalogue):
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import Organisation

    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    me = Chat(app, manager.user_id)
    _to_price(me)
    me.say("150000")
    until = _day(9)
    me.say(f"{until.day}/{until.month}")
    me.say("1")
    assert "Revise su oferta" in me.say("NO")
    admin = factory.admin()
    with app.app_context():
        accounts.set_organisation_status(db.session.get(User, admin.user_id), db.session.get(Organisation, coop_id),
                                         OrgStatus.SUSPENDED, "Prueba")
        db.session.commit()
    assert "suspendida" in me.say("SI")
    assert _count(app, Listing) == 0 and _count(app, Conversation) == 0


def _to_summary(app, coop_id: int, me: Chat) -> None:
    _with_point(app, coop_id)
    _to_price(me)
    me.say("150000")
    until = _day(9)
    me.say(f"{until.day}/{until.month}")
    me.say("1")
    assert "Revise su oferta" in me.say("NO")


def test_the_confirmation_replayed_by_the_provider_creates_one_listing(app, factory, catalogue):
    coop_id, manager = factory.cooperative()
    me = Chat(app, manager.user_id)
    _to_summary(app, coop_id, me)
    assert "Publicamos su oferta" in me.say("SI", message_id="wamid.confirm")
    assert me.say("SI", message_id="wamid.confirm") == ""  # the same webhook again: acts no more
    assert "ya fue publicada" not in me.say("SI")  # another "SI" is no longer the conversation's
    assert len(_listings(app)) == 1 and _count(app, Conversation) == 0


def test_the_confirmation_handed_over_twice_creates_one_listing(app, factory, catalogue):
    coop_id, manager = factory.cooperative()
    me = Chat(app, manager.user_id)
    _to_summary(app, coop_id, me)
    with app.app_context():
        user = db.session.get(User, manager.user_id)
        row = db.session.scalar(select(Conversation))
        context = hooks.InboundContext(Channel.WHATSAPP, user.phone, "SI", None, None, user, me.at, command="SI")
        first, done = chat.step(row, context)
        assert done and "Publicamos" in first.text
        db.session.flush()
        second, done = chat.step(row, context)
        assert done and "ya fue publicada" in second.text
        db.session.commit()
    assert len(_listings(app)) == 1


def test_by_sms_questions_are_short_and_there_is_no_photo_step(app, factory, catalogue):
    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    me = Chat(app, manager.user_id, channel=Channel.SMS)
    first = me.say("VENDER")
    assert "Escriba el nombre, por ejemplo: cacao." in first and "1" not in first
    listed = me.say("aguacate")  # two products: the list, on one line
    assert "varias opciones" in listed and "\n1." not in listed and "; 2 " in listed
    me.say("cafe")
    me.say("2")
    me.say("3 cargas")
    me.say("1.200.000")
    until = _day(12)
    assert "1 Vereda La Playa; 0 Otro lugar" in me.say(f"{until.day} dic" if until.month == 12 else f"{until}")
    summary = me.say("1")
    assert "Revise su oferta" in summary and "Foto" not in summary
    assert "Publicamos su oferta" in me.say("si")
    (listing,) = _listings(app)
    assert (listing.unit, listing.quantity_kg, listing.price_per_kg) == ("carga", Decimal("375.000"), Decimal("9600.00"))


# ------------------------------------------------- through the providers' webhooks


# The local fakes of Meta's and Twilio's APIs, as the messaging tests use them.
_meta_server, _twilio_server = messaging_fixtures._meta_server, messaging_fixtures._twilio_server
whatsapp_fake, twilio_fake = messaging_fixtures.whatsapp_fake, messaging_fixtures.twilio_fake


def _replies(app, number: str, kind: str = "reply") -> list[str]:
    from marketplace.messaging.models import Message

    with app.app_context():
        return [m.body for m in db.session.scalars(
            select(Message).where(Message.to_address == number, Message.kind == kind).order_by(Message.id))]


def _meta_to_photo(app, client, coop_id, manager) -> str:
    _with_point(app, coop_id)
    number = Chat(app, manager.user_id).number  # verified, opted in
    until = _day(15)
    for text in ("VENDER", "cacao", "1", "20 arrobas", "150.000", f"{until.day}/{until.month}", "1"):
        assert post_meta(client, fakes.meta_inbound(number, text=text)).status_code == 200
    assert "Envíe una foto" in _replies(app, number)[-1]
    return number


def test_through_metas_webhook_the_photo_is_fetched_by_the_worker_and_attached(app, factory, catalogue, whatsapp_fake):
    app.config.update(PUBLIC_URL=PUBLIC_URL)
    coop_id, manager = factory.cooperative()
    client = app.test_client()
    number = _meta_to_photo(app, client, coop_id, manager)
    photo = _jpeg()
    whatsapp_fake.add_media("887766554433", photo)
    assert post_meta(client, fakes.meta_inbound(number, image_id="887766554433", text="Cacao de esta semana")
                     ).status_code == 200
    assert "Foto: sí" in _replies(app, number)[-1]
    confirm = fakes.meta_inbound(number, text="SI")
    assert post_meta(client, confirm).status_code == 200
    assert post_meta(client, confirm).status_code == 200  # Meta delivers the same update again
    assert "Publicamos su oferta" in _replies(app, number)[-1]
    (listing,) = _listings(app)
    assert whatsapp_fake.requests == []  # nothing was downloaded inside the webhook
    with app.app_context():
        assert media.process_media(now=NOW + timedelta(hours=1)) == 1
        (stored,) = db.session.scalars(select(ListingPhoto))
        assert stored.listing_id == listing.id and stored.width == 1280
        assert db.session.scalar(select(MediaFetch)).status == MediaStatus.DONE


def test_a_file_that_is_not_a_photo_fails_its_fetch_and_the_listing_stands(app, factory, catalogue, whatsapp_fake):
    app.config.update(PUBLIC_URL=PUBLIC_URL)
    coop_id, manager = factory.cooperative()
    client = app.test_client()
    number = _meta_to_photo(app, client, coop_id, manager)
    whatsapp_fake.add_media("99", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                            "image/svg+xml")
    post_meta(client, fakes.meta_inbound(number, image_id="99"))
    post_meta(client, fakes.meta_inbound(number, text="si"))
    (listing,) = _listings(app)
    with app.app_context():
        assert media.process_media(now=NOW + timedelta(hours=1)) == 0
        fetch = db.session.scalar(select(MediaFetch))
        assert fetch.status == MediaStatus.FAILED and "no es una foto" in fetch.last_error
        assert db.session.get(Listing, listing.id).status.value == "active"
        assert db.session.scalar(select(func.count()).select_from(ListingPhoto)) == 0
    told = _replies(app, number, kind="listing_photo_failed")
    assert len(told) == 1 and f"No pudimos usar la foto que envió para su oferta n.º {listing.id}" in told[0]


def test_a_photo_sent_by_whatsapp_through_twilio_is_fetched_from_its_media_url(
        app, factory, catalogue, twilio_fake):
    app.config.update(PUBLIC_URL=PUBLIC_URL)
    coop_id, manager = factory.cooperative()
    _with_point(app, coop_id)
    number = Chat(app, manager.user_id).number
    client = app.test_client()
    until = _day(15)
    for text in ("VENDER", "cacao", "2", "1.500 kg", "11500", f"{until.day}/{until.month}", "1"):
        assert post_twilio(client, fakes.twilio_inbound(number, text, whatsapp=True)).status_code == 200
    url = twilio_fake.add_media(_jpeg())
    post_twilio(client, fakes.twilio_inbound(number, "", whatsapp=True, media=[(url, "image/jpeg")]))
    post_twilio(client, fakes.twilio_inbound(number, "Sí", whatsapp=True))
    (listing,) = _listings(app)
    assert (listing.quantity_kg, listing.price_per_kg) == (Decimal("1500.000"), Decimal("11500.00"))
    with app.app_context():
        fetch = db.session.scalar(select(MediaFetch))
        assert (fetch.provider, fetch.media_ref) == ("twilio", url)
        assert media.process_media(now=NOW + timedelta(hours=1)) == 1
        assert db.session.scalar(select(func.count()).select_from(ListingPhoto)) == 1
