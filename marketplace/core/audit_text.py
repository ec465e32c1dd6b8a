"""How an audit event reads to a person: a sentence in the reader's language, and its
before and after as labelled values ("Calidad: Grado 1 → Corriente"), never raw keys.

core sits below every package, so it cannot know what "grade_id" or "demand.ordered"
means. It offers three registries that each package fills at start-up (rule 11):

* ``action(name, sentence)``: the sentence of an action, a lazy gettext string with named
  placeholders ``%(who)s`` (the person who acted, or "El sistema"), ``%(org)s`` (the event's
  organisation), ``%(object)s`` (the object's name from its kind's resolver) and ``%(id)s``.
* ``field(key, label, formatter=None, kind=None)``: how a before/after key is labelled and its
  value written; ``kind`` narrows it to one object type (a listing's "status" is not a demand's).
* ``kind(object_type, label, resolver)``: what an object is called, given its id.

Nothing here knows a table: resolvers are the registering package's functions, and
``row(model, object_id)`` is the one lookup they share.
Unknown actions and keys still read as words (the key humanised), and the raw record stays
available to staff beside the sentence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import g, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import formatting
from marketplace.extensions import db

Formatter = Callable[[Any], str]
Resolver = Callable[[str], "str | None"]


def row(model, object_id):
    """The ``model`` row an audit event's ``object_id`` names, or None when the id is not a
    plain number (events keep ids as text) or the row is gone."""
    text = str(object_id)
    return db.session.get(model, int(text)) if text.isdigit() and len(text) < 12 else None


@dataclass(frozen=True)
class FieldText:
    label: Any  # a lazy string
    formatter: Formatter | None = None


@dataclass(frozen=True)
class KindText:
    label: Any
    resolver: Resolver | None = None


ACTIONS: dict[str, Any] = {}
FIELDS: dict[tuple[str | None, str], FieldText] = {}
KINDS: dict[str, KindText] = {}
# Keys never shown as a change (a person's password hash would never be recorded anyway;
# these are bookkeeping the sentence already says).
HIDDEN: set[str] = set()
# Records keyed by the ids of other objects ({"41": {...}}): object type -> (item type, formatter).
NUMBERED: dict[str, tuple[str, Formatter]] = {}


def action(name: str, sentence: Any) -> None:
    """Register the sentence of an action (a lazy gettext string with named placeholders)."""
    ACTIONS[name] = sentence


def field(key: str, label: Any, formatter: Formatter | None = None, kind: str | None = None) -> None:
    """Register how a before/after key is labelled and its value written."""
    FIELDS[(kind, key)] = FieldText(label, formatter)


def numbered(object_type: str, item_type: str, formatter: Formatter) -> None:
    """Register that ``object_type``'s records may be keyed by ids of ``item_type``."""
    NUMBERED[object_type] = (item_type, formatter)


def kind(object_type: str, label: Any, resolver: Resolver | None = None) -> None:
    """Register what an object type is called, and how one object's name is found from its id."""
    KINDS[object_type] = KindText(label, resolver)


# ------------------------------------------------------------------ formatters


def is_english() -> bool:
    return str(get_locale() or "es").startswith("en")


def localised(name: str | None, name_en: str | None) -> str | None:
    """A catalogue name in the reader's language (the Spanish one when no English exists)."""
    return (name_en or name) if is_english() else name


def yes_no(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = value.lower() in ("true", "1", "yes", "sí", "si")
    return _("Sí") if value else _("No")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> str:
    amount = _decimal(value)
    if amount is None:
        return text(value)
    return formatting.cop(amount, decimals=amount != amount.to_integral_value())


def kilos(value: Any) -> str:
    amount = _decimal(value)
    return formatting.kg(amount) if amount is not None else text(value)


def number(value: Any) -> str:
    amount = _decimal(value)
    return formatting.number(amount) if amount is not None else text(value)


def km(value: Any) -> str:
    amount = _decimal(value)
    return f"{formatting.number(amount, '#,##0.#')} km" if amount is not None else text(value)


def day(value: Any) -> str:
    if isinstance(value, dt.date):
        return formatting.day(value)
    try:
        return formatting.day(dt.date.fromisoformat(str(value)[:10]))
    except ValueError:
        return text(value)


def labelled(labels: dict) -> Formatter:
    """A formatter for a code with known labels (a status, a role); unknown codes humanised."""
    by_text = {getattr(k, "value", k): v for k, v in labels.items()}

    def fmt(value: Any) -> str:
        if value is None:
            return "—"
        label = by_text.get(getattr(value, "value", value))
        return str(label) if label is not None else humanise(str(value), capital=False)
    return fmt


def named(object_type: str) -> Formatter:
    """A formatter for an id of ``object_type``: its registered name, or "n.º 12"."""
    def fmt(value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, list | tuple):
            return ", ".join(fmt(v) for v in value) or "—"
        return object_name(object_type, str(value))
    return fmt


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def text(value: Any) -> str:
    """Any value in words: booleans Sí/No, dates formatted, lists and mappings spelled out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int | float | Decimal):
        return formatting.number(value)
    if isinstance(value, list | tuple):
        return "; ".join(text(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{field_label(None, str(k))}: {text(v)}" for k, v in value.items()) or "—"
    value = str(value)
    if _ISO_DAY.match(value):
        return day(value)
    if _ISO_TIME.match(value):
        try:
            return formatting.moment(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def humanise(key: str, capital: bool = True) -> str:
    """A key nobody registered, as words: "payment_status" -> "Payment status", "grade_id" -> "Grade"."""
    words = re.sub(r"_id$|_ids$", "", key).replace("_", " ").replace(".", " ").strip()
    if not words:
        return key
    return words[:1].upper() + words[1:] if capital else words


# ------------------------------------------------------------------ lookups


def _cache() -> dict:
    if not has_app_context():
        return {}
    if not hasattr(g, "_audit_names"):
        g._audit_names = {}
    return g._audit_names


def object_name(object_type: str, object_id: str) -> str:
    """The name of one object ("Chocolates Andinos", "S-00003"), or "n.º 12" when unknown."""
    cache = _cache()
    key = (object_type, object_id, str(get_locale()))
    if key in cache:
        return cache[key]
    found = None
    entry = KINDS.get(object_type)
    if entry and entry.resolver:
        try:
            found = entry.resolver(object_id)
        except (ValueError, TypeError, LookupError):
            found = None
    name = found or _("n.º %(n)s", n=object_id)
    cache[key] = name
    return name


def kind_label(object_type: str) -> str:
    entry = KINDS.get(object_type)
    return str(entry.label) if entry else humanise(object_type)


def field_label(object_type: str | None, key: str) -> str:
    if key.isdigit() and object_type in NUMBERED:
        return object_name(NUMBERED[object_type][0], key)
    entry = FIELDS.get((object_type, key)) or FIELDS.get((None, key))
    return str(entry.label) if entry else humanise(key)


def field_value(object_type: str | None, key: str, value: Any) -> str:
    entry = FIELDS.get((object_type, key)) or FIELDS.get((None, key))
    if value is None:
        return "—"
    if key.isdigit() and object_type in NUMBERED:
        entry = FieldText("", NUMBERED[object_type][1])
    if entry and entry.formatter:
        try:
            return entry.formatter(value)
        except (ValueError, TypeError, LookupError, InvalidOperation):
            return text(value)
    return text(value)


# ------------------------------------------------------------------ describing events


@dataclass
class Change:
    label: str
    before: str | None  # None: the key was not in the "before" record
    after: str | None


@dataclass
class Described:
    sentence: str
    changes: list[Change] = dc_field(default_factory=list)
    kind: str = ""
    object: str = ""


def _sentence(event: Any, who: str, org: str, obj: str) -> str:
    template = ACTIONS.get(event.action)
    values = {"who": who, "org": org or who, "object": obj, "id": event.object_id,
              "kind": kind_label(event.object_type).lower()}
    if template is not None:
        try:
            return str(template) % values
        except (KeyError, ValueError, TypeError):
            pass
    return _("%(who)s registró «%(action)s» en %(kind)s %(object)s", action=humanise(event.action).lower(),
             **{k: v for k, v in values.items() if k != "id"})


def changes(object_type: str | None, before: dict | None, after: dict | None) -> list[Change]:
    """Before and after, key by key, in words; keys in both records with the same value are left out."""
    before, after = before or {}, after or {}
    keys = list(before) + [k for k in after if k not in before]
    rows = []
    for key in keys:
        if key in HIDDEN:
            continue
        if key in before and key in after and before[key] == after[key]:
            continue
        rows.append(Change(field_label(object_type, key),
                           field_value(object_type, key, before[key]) if key in before else None,
                           field_value(object_type, key, after[key]) if key in after else None))
    return rows


def describe(event: Any, people: dict | None = None, organisations: dict | None = None) -> Described:
    """One event as a sentence and its labelled changes, in the current language.

    ``people`` and ``organisations`` (id -> name) save a query per row when the caller
    already fetched a page's names; otherwise the registered resolvers are asked."""
    people, organisations = people or {}, organisations or {}
    if event.actor_id:
        who = people.get(event.actor_id) or object_name("user", str(event.actor_id))
    else:
        who = _("El sistema")
    org = ""
    if event.organisation_id:
        org = organisations.get(event.organisation_id) or object_name("organisation", str(event.organisation_id))
    obj = object_name(event.object_type, str(event.object_id))
    return Described(_sentence(event, who, org, obj), changes(event.object_type, event.before, event.after),
                     kind_label(event.object_type), obj)


def describe_all(events: Iterable[Any], people: dict | None = None, organisations: dict | None = None) -> dict:
    """event id -> Described, for a page of events."""
    return {e.id: describe(e, people, organisations) for e in events}


# ------------------------------------------------------------------ core's own words


def _municipality(value: Any) -> str:
    from marketplace.core.geography import get_municipality

    place = get_municipality(str(value))
    return f"{place.name} ({place.department_name})" if place else str(value)


def register() -> None:
    """Words for keys every package uses; packages register the rest."""
    field("name", _l("Nombre"))
    field("name_en", _l("Nombre en inglés"))
    field("description", _l("Descripción"))
    field("active", _l("Activo"), yes_no)
    field("note", _l("Nota"))
    field("reason", _l("Motivo"))
    field("amount", _l("Valor"), money)
    field("municipality_code", _l("Municipio"), _municipality)
    field("latitude", _l("Latitud"), number)
    field("longitude", _l("Longitud"), number)
    field("bank_reference", _l("Referencia bancaria"))
