"""Listing a harvest by WhatsApp (or SMS): a short guided conversation.

"VENDER" (or "PUBLICAR", "OFERTA", "SELL") starts it for a cooperative's manager or member
who may publish on the web (``services.require_can_sell``). It asks, one message at a time:
product (a numbered list), grade, quantity with its unit ("20 arrobas", "1.500 kg", "10
bultos de 50 kg"), the kilos of a unit that needs them, price per unit ("13.500"),
available until ("20/12", "20 dic"), pickup point, and on WhatsApp an optional photo. It
ends in a summary with the price per kg and the reference price; one "SI" publishes it
through ``services.create_listing`` as that user, with the web's validation and price
check (a price far from the reference is said so and must be confirmed with that "SI").

Answers live in the ``Conversation`` row (messaging), which times out after
``CONVERSATION_MINUTES`` of silence. A photo is not downloaded here: its media id is kept and,
once the listing exists, a ``MediaFetch`` row asks the worker to fetch it and hand it to
``attach_photo`` (registered as "listing_photo"), which treats it like a web upload.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import InvalidRequestError

from marketplace.accounts.models import OrgStatus, User
from marketplace.catalog import services, units
from marketplace.catalog.models import CollectionPoint, Grade
from marketplace.core import formatting
from marketplace.core.errors import DomainError, Forbidden, NotFound
from marketplace.core.text import search_key, sort_names
from marketplace.core.types import parse_decimal
from marketplace.extensions import db
from marketplace.messaging import hooks, media
from marketplace.messaging import services as messaging_services
from marketplace.messaging.models import Channel, Conversation, MediaFetch

KIND = "listing"
START_WORDS = ("VENDER", "PUBLICAR", "OFERTA", "OFERTAR", "SELL")
YES_WORDS = ("SI", "YES", "OK", "CONFIRMO", "CONFIRMAR")
NO_PHOTO_WORDS = ("NO", "SIN", "SALTAR", "SKIP", "NONE", "NINGUNA")
CANCEL_WORDS = ("CANCELAR", "CANCEL")
PHOTO_PURPOSE = "listing_photo"
BOGOTA = ZoneInfo("America/Bogota")

# What people write for each unit of ``units.UNITS`` (accents and case ignored).
UNIT_WORDS = {
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogramo", "kilogramos", "kilogram", "kilograms", "k"),
    "arroba": ("arroba", "arrobas", "@"),
    "carga": ("carga", "cargas"),
    "tonelada": ("tonelada", "toneladas", "ton", "tons", "t", "tonne", "tonnes"),
    "bulto": ("bulto", "bultos", "sack", "sacks", "costal", "costales"),
    "canastilla": ("canastilla", "canastillas", "canasta", "canastas", "crate", "crates"),
    "racimo": ("racimo", "racimos", "bunch", "bunches"),
    "caja": ("caja", "cajas", "box", "boxes"),
    "bolsa": ("bolsa", "bolsas", "bag", "bags"),
}
_UNIT_BY_WORD = {word: code for code, words in UNIT_WORDS.items() for word in words}
_QUANTITY = re.compile(r"^\s*(\d[\d.,]*)\s*(@|[^\W\d_][\w]*)?\s*(.*)$", re.UNICODE)
_COMMA_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+")
_PRICE = re.compile(r"^\s*\$?\s*(\d[\d.,]*)")
_WEIGHT = re.compile(r"(\d[\d.,]*)\s*(?:kg|kgs|kilos?|kilogramos?)\b", re.IGNORECASE)
# Where a service's error sends the conversation back to.
STEP_OF_FIELD = {"product": "product", "grade": "grade", "quantity": "quantity", "unit": "quantity",
                 "unit_kg": "unit_kg", "price": "price", "available_until": "until",
                 "available_from": "until", "collection_point": "point", "new_point": "point"}


# ---------------------------------------------------------------- small helpers


def local_today(moment: datetime) -> date:
    """The date in Colombia at ``moment`` (what "today" means to the person writing)."""
    return moment.astimezone(BOGOTA).date()


def _lang(user: User) -> str:
    return "en" if (user.locale or "es").startswith("en") else "es"


def _name(obj, lang: str) -> str:
    return obj.name_en if lang == "en" and getattr(obj, "name_en", None) else obj.name


def unit_word(code: str, lang: str, quantity: Decimal | None = None) -> str:
    """A unit as a word in a sentence ("arroba", "arrobas", "sacks")."""
    unit = units.UNITS[code]
    word = code if lang == "es" else unit.label_en.split(" (")[0]
    if quantity is None or quantity == 1 or code == "kg":
        return word
    if lang == "en":
        return word + ("es" if word.endswith(("ch", "x")) else "s")
    return word + "s"


def _numbered(lines: list[str], channel: Channel) -> str:
    if channel == Channel.SMS:  # short texts: one line
        return "; ".join(f"{n} {line}" for n, line in enumerate(lines, 1))
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


def parse_quantity(text: str) -> tuple[Decimal, str | None, Decimal | None] | None:
    """"20 arrobas" -> (20, "arroba", None); "10 bultos de 50 kg" -> (10, "bulto", 50);
    "1.500" -> (1500, None, None); unreadable -> None. An unknown unit word gives ``""``."""
    match = _QUANTITY.match(text or "")
    if not match:
        return None
    quantity = parse_decimal(match.group(1).rstrip(".,"))
    if quantity is None:
        return None
    word, rest = match.group(2), match.group(3) or ""
    unit = None
    if word:
        unit = _UNIT_BY_WORD.get("@" if word == "@" else search_key(word), "")
    weight = None
    found = _WEIGHT.search(rest)
    if found:
        weight = parse_decimal(found.group(1).rstrip(".,"))
    return quantity, unit, weight


def _month(word: str) -> int | None:
    if len(word) < 3:
        return None
    for locale in ("es", "en"):
        for number, name in get_month_names("wide", locale=locale).items():
            if search_key(name).startswith(word):
                return number
    return 9 if word == "set" else None


def parse_day(text: str, today: date) -> date | None:
    """A date as people write it: "20/12", "20-12-2026", "20 dic", "20 de diciembre",
    "Dec 20", "2026-12-20", "hoy", "mañana". Without a year, the next such day from today."""
    words = [w for w in search_key(text).split() if w not in ("de", "del", "of", "the", "el")]
    if words in (["hoy"], ["today"]):
        return today
    if words in (["manana"], ["tomorrow"]):
        return today + timedelta(days=1)
    if not 2 <= len(words) <= 3:
        return None
    year = None
    if all(w.isdigit() for w in words):
        if len(words[0]) == 4:
            if len(words) != 3:
                return None
            year, month, day = (int(w) for w in words)
        else:
            day, month = int(words[0]), int(words[1])
            year = int(words[2]) if len(words) == 3 else None
    elif words[0].isdigit() and not words[1].isdigit():
        day, month = int(words[0]), _month(words[1])
        if len(words) == 3:
            year = int(words[2]) if words[2].isdigit() else -1
    elif words[1].isdigit() and not words[0].isdigit():
        day, month = int(words[1]), _month(words[0])
        if len(words) == 3:
            year = int(words[2]) if words[2].isdigit() else -1
    else:
        return None
    if month is None or year == -1:
        return None
    if year is not None and year < 100:
        year += 2000
    try:
        if year is not None:
            return date(year, month, day)
        found = date(today.year, month, day)
        return found if found >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def _choose(text: str, options: list, lang: str, names=None):
    """The option a reply names: its number in the list, or its name (accents and case
    ignored, a unique part of it is enough). Returns (option, error)."""
    names = names or (lambda o: {search_key(o.name), search_key(getattr(o, "name_en", "") or "")})
    key = search_key(text)
    if not key:
        return None, _("Responda con un número de la lista.")
    if key.isdigit():
        index = int(key)
        if 1 <= index <= len(options):
            return options[index - 1], None
        return None, _("Ese número no está en la lista.")
    exact = [o for o in options if key in names(o)]
    if len(exact) == 1:
        return exact[0], None
    partial = [o for o in options if len(key) >= 3 and any(key in n for n in names(o) if n)]
    if len(partial) == 1:
        return partial[0], None
    if partial:
        return None, _("Hay varias opciones con ese nombre: responda con el número.")
    return None, _("No lo encontramos en la lista: responda con el número.")


# ------------------------------------------------------------------ questions


def _products(lang: str) -> list:
    """Active products, in the order of their names as this person reads them."""
    return sort_names(services.active_products(lang), lambda p: _name(p, lang), lang)


def _grades(product) -> list[Grade]:
    return [g for g in product.grades if g.active]


def _units_for(product) -> list[str]:
    return units.trade_units(product.usual_units)


def _points(user: User) -> list[CollectionPoint]:
    return services.collection_points(services.cooperative_of(user))


def _question(conversation: Conversation, user: User, today: date, again: bool = False) -> str:
    state, lang, channel = conversation.state, _lang(user), conversation.channel
    step = conversation.step
    if step == "product":
        if channel == Channel.SMS and not again:  # the whole list is several SMS: only when needed
            return _("¿Qué producto va a vender? Escriba el nombre, por ejemplo: cacao.")
        names = [_name(p, lang) for p in _products(lang)]
        return _("¿Qué producto va a vender? Responda con el número:") + "\n" + _numbered(names, channel)
    product = services.get_product(state["product_id"], active_only=False)
    if step == "grade":
        names = [_name(g, lang) for g in _grades(product)]
        return _("¿Qué calidad de %(product)s?", product=_name(product, lang)) + "\n" + _numbered(names, channel)
    if step == "quantity":
        example = unit_word(_units_for(product)[min(1, len(_units_for(product)) - 1)], lang, Decimal(20))
        return _("¿Cuánto tiene? Escriba la cantidad y la unidad, por ejemplo «20 %(example)s». Unidades: %(units)s.",
                 example=example, units=", ".join(unit_word(c, lang) for c in _units_for(product)))
    if step == "unit_kg":
        return _("¿Cuántos kg pesa cada %(unit)s? Por ejemplo: 50", unit=unit_word(state["unit"], lang))
    if step == "price":
        return _("¿Precio por %(unit)s, en pesos? Por ejemplo: 13.500", unit=unit_word(state["unit"], lang))
    if step == "until":
        example = today + timedelta(days=14)
        return _("¿Hasta qué fecha está disponible? Por ejemplo: %(day)s", day=f"{example.day}/{example.month}")
    if step == "point":
        names = [p.name for p in _points(user)] + [_("Otro lugar (escribir el nombre)")]
        lines = _numbered(names[:-1], channel)
        other = f"0 {names[-1]}" if channel == Channel.SMS else f"0. {names[-1]}"
        return _("¿Dónde se recoge la cosecha? Responda con el número:") + "\n" + lines + ("; " if channel == Channel.SMS else "\n") + other
    if step == "new_point":
        return _("Escriba el nombre del centro de acopio o la vereda.")
    if step == "photo":
        return _("Envíe una foto de la cosecha, o responda NO para publicar sin foto.")
    return ""


def _ask(conversation: Conversation, user: User, today: date, step: str, error: str | None = None,
         outcome: str = "") -> tuple[hooks.Reply, bool]:
    conversation.step = step
    text = _question(conversation, user, today, again=bool(error))
    if error:
        text = f"{error}\n{text}"
    return hooks.Reply(text=text, outcome=outcome or f"listing: asked {step}"), False


def _after_point(conversation: Conversation, user: User, today: date) -> tuple[hooks.Reply, bool]:
    if conversation.channel == Channel.SMS:  # no photos by SMS
        return _summary(conversation, user, today)
    return _ask(conversation, user, today, "photo")


# ------------------------------------------------------------------- summary


def _data(state: dict, confirm_price: bool = False) -> services.ListingData:
    until = date.fromisoformat(state["until"]) if state.get("until") else None
    today = date.fromisoformat(state["today"])
    return services.ListingData(
        product_id=state.get("product_id"), grade_id=state.get("grade_id"),
        quantity=Decimal(state["quantity"]) if state.get("quantity") else None, unit=state.get("unit") or "",
        unit_kg=Decimal(state["unit_kg"]) if state.get("unit_kg") else None,
        price_per_unit=Decimal(state["price"]) if state.get("price") else None,
        harvest_date=today, available_from=today, available_until=until,
        collection_point_id=state.get("point_id"), new_point_name=state.get("new_point"),
        confirm_price=confirm_price,
    )


def _back_to(conversation: Conversation, user: User, today: date, error: DomainError) -> tuple[hooks.Reply, bool]:
    step = STEP_OF_FIELD.get(error.field or "", "product")
    return _ask(conversation, user, today, step, str(error.message), outcome=f"listing: refused {error.field}")


def _summary(conversation: Conversation, user: User, today: date) -> tuple[hooks.Reply, bool]:
    """Check the whole listing with the web's rules, then show it for one "SI"."""
    state, lang = dict(conversation.state), _lang(user)
    state["today"] = today.isoformat()
    coop = services.require_can_sell(user)
    data = _data(state)
    try:
        product, grade, _unit_kg, quantity_kg, price_kg, _d, _m = services._validated(coop, data, today)
        if data.collection_point_id:
            point = services._collection_point(coop, data)
        else:  # a new point is created in the cooperative's municipality when the listing is
            point = SimpleNamespace(municipality=coop.municipality)
    except DomainError as error:
        conversation.state = state
        return _back_to(conversation, user, today, error)
    far = None
    try:
        services._check_price(product, grade, point, price_kg, False, today,
                              price_per_unit=Decimal(state["price"]), unit=state["unit"])
    except DomainError as error:
        if error.status_code != 409:
            raise
        far = str(error.message)
    references = services.price_references(product, grade, point.municipality, today)
    state["far"] = bool(far)
    conversation.state = state
    conversation.step = "confirm"
    quantity, unit = Decimal(state["quantity"]), state["unit"]
    lines = [
        _("Revise su oferta:"),
        f"{_name(product, lang)} – {_name(grade, lang)}",
        formatting.kg(quantity_kg) if unit == "kg" else _(
            "%(quantity)s %(unit)s (%(kg)s)", quantity=formatting.number(quantity),
            unit=unit_word(unit, lang, quantity), kg=formatting.kg(quantity_kg)),
        _("%(price)s por %(unit)s = %(per_kg)s/kg", price=formatting.cop(Decimal(state["price"])),
          unit=unit_word(unit, lang), per_kg=formatting.cop(price_kg)),
    ]
    if references.reference_kg and not far:
        lines.append(_("Precio de referencia: %(price)s/kg", price=formatting.cop(references.reference_kg)))
    lines.append(_("Disponible hasta: %(day)s", day=formatting.day(date.fromisoformat(state["until"]))))
    place = state.get("new_point") or next(
        (p.name for p in _points(user) if p.id == state.get("point_id")), "")
    lines.append(_("Se recoge en: %(place)s", place=place))
    if conversation.channel != Channel.SMS:
        lines.append(_("Foto: sí") if state.get("media") else _("Foto: no"))
    if far:
        lines.append(far)
        lines.append(_("Si es correcto, responda SI para publicarlo así; si no, escriba el precio correcto."))
    else:
        lines.append(_("Responda SI para publicar, o escriba otro precio para corregirlo."))
    return hooks.Reply(text="\n".join(lines), outcome="listing: summary" + (" (far price)" if far else "")), False


def _publish(conversation: Conversation, context: hooks.InboundContext, user: User,
             today: date) -> tuple[hooks.Reply, bool]:
    # Two "SI" at once (a double tap, a resent message): the second waits for the first's
    # commit here and then finds the conversation over.
    try:
        db.session.refresh(conversation, with_for_update=True)
    except InvalidRequestError:
        return hooks.Reply(_("Su oferta ya fue publicada."), "listing: already published"), True
    state = dict(conversation.state)
    if state.get("listing_id"):
        return hooks.Reply(_("Su oferta ya fue publicada."), "listing: already published"), True
    data = _data({**state, "today": today.isoformat()}, confirm_price=bool(state.get("far")))
    try:
        with db.session.begin_nested():
            listing = services.create_listing(user, data, today=today)
    except Forbidden as error:
        return hooks.Reply(str(error.message), "listing: not allowed"), True
    except DomainError as error:
        if error.status_code == 409 and error.field == "price":
            return _summary(conversation, user, today)  # the reference moved: say so and ask again
        return _back_to(conversation, user, today, error)
    if state.get("media"):
        media.request_fetch(PHOTO_PURPOSE, listing.id, state["media"], channel=conversation.channel,
                            provider=state.get("media_provider"), user_id=user.id, now=context.received_at)
    conversation.state = {**state, "listing_id": listing.id}
    conversation.step = "done"
    quantity = Decimal(state["quantity"])
    text = _("¡Listo! Publicamos su oferta n.º %(id)s: %(quantity)s %(unit)s de %(product)s.",
             id=listing.id, quantity=formatting.number(quantity), unit=unit_word(listing.unit, _lang(user), quantity),
             product=_name(listing.product, _lang(user)))
    if state.get("media"):
        text += " " + _("La foto aparecerá en unos minutos.")
    return hooks.Reply(text, f"listing: published {listing.id}"), True


# ------------------------------------------------------------ the conversation


def can_start(user: User) -> bool:
    """Whether ``user`` sells for a cooperative: they may start, and hear from ``start`` why
    not when their organisation may not publish now (pending, suspended...)."""
    try:
        services.cooperative_of(user)
    except DomainError:
        return False
    return True


def may_publish(user: User) -> bool:
    try:
        services.require_can_sell(user)
    except DomainError:
        return False
    return True


def refusal(user: User) -> str:
    """Why ``user`` may not list a harvest, in their language."""
    try:
        coop = services.cooperative_of(user)
    except Forbidden as error:
        return str(error.message)
    if coop.status == OrgStatus.PENDING:
        return _("Su organización aún está en revisión: podrá publicar cosechas cuando la verifiquemos.")
    if coop.status == OrgStatus.SUSPENDED:
        return _("Su organización está suspendida y no puede publicar cosechas por ahora. "
                 "Escríbanos si cree que es un error.")
    return _("Su organización debe estar verificada para publicar cosechas.")


def command(context: hooks.InboundContext) -> str:
    """The reply's first word in upper case without accents (as the webhook gives it)."""
    if context.command:
        return context.command
    words = search_key(context.text).split()
    return words[0].upper() if words else ""


def start(conversation: Conversation, context: hooks.InboundContext) -> hooks.Reply:
    user = context.user
    with force_locale(user.locale or "es"):
        if not may_publish(user):
            # Refused as the web refuses: the webhook undoes the new conversation and answers this.
            raise Forbidden(refusal(user))
        today = local_today(context.received_at)
        conversation.kind = KIND
        conversation.state = {"today": today.isoformat()}
        reply, _done = _ask(conversation, user, today, "product", outcome="listing: started")
        if context.args:  # "VENDER cacao": the product is already named
            named, _done = _step(conversation, context, user, today, " ".join(context.args), "product")
            if conversation.step != "product":
                reply = named
        return hooks.Reply(_("Vamos a publicar su cosecha (CANCELAR para salir).") + "\n" + reply.text, reply.outcome)


def step(conversation: Conversation, context: hooks.InboundContext) -> tuple[hooks.Reply, bool]:
    user = context.user
    with force_locale(user.locale or "es"):
        today = local_today(context.received_at)
        if command(context) in CANCEL_WORDS:
            return hooks.Reply(_("Listo, no se publicó nada."), "listing: cancelled"), True
        if conversation.step == "done":
            return hooks.Reply(_("Su oferta ya fue publicada."), "listing: already published"), True
        if not may_publish(user):  # the organisation was suspended meanwhile
            return hooks.Reply(refusal(user), "listing: not allowed"), True
        return _step(conversation, context, user, today, (context.text or "").strip(), conversation.step)


def _step(conversation: Conversation, context: hooks.InboundContext, user: User, today: date, text: str,
          current: str) -> tuple[hooks.Reply, bool]:
    state, lang = dict(conversation.state), _lang(user)
    conversation.step = current

    def save(**values):
        conversation.state = {**state, **values}

    if current == "product":
        product, error = _choose(text, _products(lang), lang)
        if error:
            return _ask(conversation, user, today, "product", error)
        save(product_id=product.id)
        grades = _grades(product)
        if len(grades) == 1:
            save(product_id=product.id, grade_id=grades[0].id)
            return _ask(conversation, user, today, "quantity")
        return _ask(conversation, user, today, "grade")
    if current == "grade":
        product = services.get_product(state["product_id"], active_only=False)
        grade, error = _choose(text, _grades(product), lang)
        if error:
            return _ask(conversation, user, today, "grade", error)
        save(grade_id=grade.id)
        return _ask(conversation, user, today, "quantity")
    if current == "quantity":
        product = services.get_product(state["product_id"], active_only=False)
        parsed = parse_quantity(text)
        if parsed is None:
            return _ask(conversation, user, today, "quantity",
                        _("Escriba un número y la unidad, por ejemplo «20 arrobas»."))
        quantity, unit, weight = parsed
        if unit is None:
            return _ask(conversation, user, today, "quantity", _("Falta la unidad."))
        if unit not in _units_for(product):
            return _ask(conversation, user, today, "quantity", str(services.UNIT_MESSAGES["unknown_unit"]))
        needs_weight = units.UNITS[unit].needs_weight
        try:
            units.to_kg(quantity, unit, weight if needs_weight else None)
        except units.UnitError as exc:
            if exc.code != "weight_required":
                return _ask(conversation, user, today, "quantity", str(services.UNIT_MESSAGES[exc.code]))
        save(quantity=str(quantity), unit=unit, unit_kg=str(weight) if needs_weight and weight else None)
        if needs_weight and weight is None:
            return _ask(conversation, user, today, "unit_kg")
        return _ask(conversation, user, today, "price")
    if current == "unit_kg":
        weight = parse_decimal(re.sub(r"(?i)\s*(kg|kgs|kilos?|kilogramos?)\s*$", "", text))
        if weight is None:
            return _ask(conversation, user, today, "unit_kg", _("Escriba solo el número de kilos, por ejemplo 50."))
        try:
            units.to_kg(Decimal(state["quantity"]), state["unit"], weight)
        except units.UnitError as exc:
            step_name = "unit_kg" if exc.code == "weight_out_of_range" else "quantity"
            return _ask(conversation, user, today, step_name, str(services.UNIT_MESSAGES[exc.code]))
        save(unit_kg=str(weight))
        return _ask(conversation, user, today, "price")
    if current == "price":
        return _price(conversation, user, today, text, state, then="until")
    if current == "until":
        day = parse_day(text, today)
        if day is None:
            return _ask(conversation, user, today, "until", _("No entendí la fecha."))
        if day < today:
            return _ask(conversation, user, today, "until", _("La fecha no puede estar en el pasado."))
        if (day - today).days > services.MAX_WINDOW_DAYS:
            return _ask(conversation, user, today, "until", _("Una oferta puede estar disponible hasta un año."))
        save(until=day.isoformat())
        # A cooperative without collection points names its first one.
        return _ask(conversation, user, today, "point" if _points(user) else "new_point")
    if current == "point":
        points = _points(user)
        if search_key(text) == "0":
            return _ask(conversation, user, today, "new_point")
        point, error = _choose(text, points, lang, names=lambda p: {search_key(p.name)})
        if error:
            return _ask(conversation, user, today, "point", error)
        save(point_id=point.id, new_point=None)
        return _after_point(conversation, user, today)
    if current == "new_point":
        name = " ".join(text.split())
        if len(name) < 2 or len(name) > 120:
            return _ask(conversation, user, today, "new_point", _("Escriba un nombre de 2 a 120 letras."))
        save(point_id=None, new_point=name)
        return _after_point(conversation, user, today)
    if current == "photo":
        if context.media_id:
            save(media=context.media_id, media_provider=context.provider or None)
            return _summary(conversation, user, today)
        if command(context) in NO_PHOTO_WORDS:
            save(media=None)
            return _summary(conversation, user, today)
        return _ask(conversation, user, today, "photo", _("Envíe la foto como imagen, o responda NO."))
    if current == "confirm":
        if command(context) in YES_WORDS:
            return _publish(conversation, context, user, today)
        if context.media_id and conversation.channel != Channel.SMS:
            save(media=context.media_id, media_provider=context.provider or None)
            return _summary(conversation, user, today)
        if leading_number(text) is not None:
            return _price(conversation, user, today, text, state, then="summary")
        return hooks.Reply(_("Responda SI para publicar, escriba otro precio para corregirlo, o CANCELAR."),
                           "listing: confirm not understood"), False
    return _ask(conversation, user, today, "product")


def leading_number(text: str) -> Decimal | None:
    """The number a reply starts with ("13.500", "$ 13.500 por arroba"), or None."""
    match = _PRICE.match(text or "")
    if not match:
        return None
    number = match.group(1).rstrip(".,")
    # Pesos have no cents in practice: "90,000" (English style) is ninety thousand.
    if _COMMA_THOUSANDS.fullmatch(number):
        number = number.replace(",", "")
    return parse_decimal(number)


def _price(conversation, user, today, text, state, then: str) -> tuple[hooks.Reply, bool]:
    price = leading_number(text)
    if price is None:
        return _ask(conversation, user, today, "price", _("Escriba el precio en pesos, solo el número, por ejemplo 13.500."))
    try:
        price_kg = units.price_per_kg(price, state["unit"], Decimal(state["unit_kg"]) if state.get("unit_kg") else None)
    except units.UnitError as exc:
        return _ask(conversation, user, today, "price", str(services.UNIT_MESSAGES[exc.code]))
    if price_kg > services.MAX_PRICE_PER_KG or price_kg < Decimal("1"):
        return _ask(conversation, user, today, "price", _("Ese precio no es posible: revise la unidad y los ceros."))
    conversation.state = {**state, "price": str(price), "far": False}
    if then == "summary":
        return _summary(conversation, user, today)
    return _ask(conversation, user, today, then)


def expired(conversation: Conversation, context: hooks.InboundContext) -> hooks.Reply:
    """The answer to a message that came after the conversation timed out."""
    silence = round((conversation.expires_at - conversation.updated_at).total_seconds() / 60)
    with force_locale(context.user.locale or "es"):
        return hooks.Reply(
            _("Pasaron más de %(minutes)s minutos sin respuesta y la publicación se canceló. "
              "Escriba VENDER para empezar de nuevo.", minutes=silence),
            "listing: expired")


def help_line(user: User) -> str | None:
    return _("VENDER: publicar una cosecha") if can_start(user) else None


# -------------------------------------------------------------------- the photo


def attach_photo(fetch: MediaFetch, data: bytes, content_type: str) -> None:
    """Check and re-encode a photo fetched by the worker like a web upload, and add it to the
    listing it was sent for, if that listing is still the sender's cooperative's."""
    user = db.session.get(User, fetch.user_id) if fetch.user_id else None
    if user is None or fetch.subject_id is None:
        raise media.MediaRefused("la oferta o la persona ya no existen")
    with force_locale("es"):  # reasons are recorded for staff, in Spanish
        try:
            listing = services.own_listing(user, fetch.subject_id)
            processed = services.process_uploads([data])
            services._store_photos(listing, processed, current_app.extensions["marketplace_storage"])
        except (NotFound, DomainError) as error:
            raise media.MediaRefused(str(error.message)) from error


def photo_failed(fetch: MediaFetch, reason: str) -> None:
    """Tell the person, on the channel they sent it on, that their photo could not be used."""
    user = db.session.get(User, fetch.user_id) if fetch.user_id else None
    if user is None or not user.phone or messaging_services.channel_problem(user, fetch.channel) is not None:
        return  # no longer reachable there (SALIR...)
    with force_locale(user.locale or "es"):
        body = _("No pudimos usar la foto que envió para su oferta n.º %(id)s. La oferta sigue publicada; "
                 "puede agregarle una foto desde la página.", id=fetch.subject_id)
    messaging_services.queue("listing_photo_failed", channel=fetch.channel, to_address=user.phone, body=body, user=user,
                    locale=user.locale or "es")


def register() -> None:
    hooks.register_conversation(hooks.ConversationKind(
        kind=KIND, start_words=START_WORDS, can_start=can_start, start=start, step=step, expired=expired))
    hooks.register_help(help_line)
    media.register_media_handler(PHOTO_PURPOSE, attach_photo, on_failure=photo_failed)


