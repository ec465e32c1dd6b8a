"""The demo's people and organisations: programme staff and an administrator, cooperatives
across the PDET subregions and buyers in five cities, each with its users."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.identity import nit_check_digit
from marketplace.accounts.models import (
    Buyer,
    Cooperative,
    DeliverySite,
    Membership,
    Organisation,
    OrgKind,
    OrgStatus,
    Role,
    User,
)
from marketplace.accounts.services import staff_organisation
from marketplace.core import audit
from marketplace.core.models import Municipality
from marketplace.demo.report import Report
from marketplace.extensions import db

# What each PDET subregion is known for, to name cooperatives believably.
SUBREGION_CROPS = {
    "Alto Patía y Norte del Cauca": ["Cafeteros", "Productores de Panela", "Fiqueros"],
    "Arauca": ["Cacaoteros", "Plataneros"],
    "Bajo Cauca y Nordeste Antioqueño": ["Cacaoteros", "Caucheros", "Apicultores"],
    "Catatumbo": ["Cacaoteros", "Cafeteros", "Productores de Yuca"],
    "Chocó": ["Plataneros", "Productores de Arroz", "Cacaoteros"],
    "Cuenca del Caguán y Piedemonte Caqueteño": ["Caucheros", "Cacaoteros", "Productores de Frutas Amazónicas"],
    "Macarena-Guaviare": ["Cacaoteros", "Plataneros", "Productores de Sacha Inchi"],
    "Montes de María": ["Productores de Aguacate", "Productores de Ñame", "Productores de Ají"],
    "Pacífico Medio": ["Cacaoteros", "Productores de Coco", "Pescadores Artesanales"],
    "Pacífico y Frontera Nariñense": ["Cacaoteros", "Plataneros", "Productores de Coco"],
    "Putumayo": ["Productores de Sacha Inchi", "Productores de Pimienta", "Cacaoteros"],
    "Sierra Nevada-Perijá": ["Cafeteros", "Cacaoteros", "Productores de Aguacate"],
    "Sur de Bolívar": ["Cacaoteros", "Cafeteros", "Productores de Maíz"],
    "Sur de Córdoba": ["Cacaoteros", "Productores de Maíz", "Apicultores"],
    "Sur del Tolima": ["Cafeteros", "Productores de Aguacate", "Productores de Maracuyá"],
    "Urabá Antioqueño": ["Plataneros", "Cacaoteros", "Productores de Maracuyá"],
}
PATTERNS = [
    ("asociacion", "Asociación de {crop} de {place}"),
    ("cooperativa", "Cooperativa Agropecuaria de {crop} de {place}"),
    ("asociacion", "Asociación de Mujeres {crop} de {place}"),
    ("asociacion", "Red de Jóvenes {crop} de {place}"),
]
FIRST_NAMES = ["María", "José", "Luz Marina", "Carlos", "Ana Lucía", "Jhon Jairo", "Yolanda", "Wilson",
               "Sandra", "Edinson", "Rosalba", "Fredy", "Marleny", "Arley", "Diana", "Hernán"]
LAST_NAMES = ["Quiñones", "Mosquera", "Rodríguez", "Cuero", "Pérez", "Ortiz", "Valencia", "Gómez",
              "Rentería", "Castillo", "Hurtado", "Muñoz", "Angulo", "Palacios", "Torres", "Caicedo"]

CITIES = {
    "11001": ("Bogotá", [("Planta Fontibón", "Cra 106 # 15-25, zona industrial Fontibón", "4.678", "-74.146"),
                         ("Centro de distribución Siberia", "Autopista Medellín km 3.5", "4.727", "-74.152")]),
    "05001": ("Medellín", [("Planta Guayabal", "Cra 52 # 10-120, Guayabal", "6.212", "-75.585")]),
    "76001": ("Cali", [("Bodega Acopi", "Calle 15 # 26-101, Acopi Yumbo", "3.476", "-76.506")]),
    "08001": ("Barranquilla", [("Planta Vía 40", "Vía 40 # 73-290", "11.019", "-74.803")]),
    "68001": ("Bucaramanga", [("Bodega Chimitá", "Km 2 vía Chimitá", "7.097", "-73.141")]),
}
BUYERS = [
    ("Chocolates Andinos S.A.S.", "Alimentos: chocolatería", True, "11001"),
    ("Café Montaña Alta S.A.", "Alimentos: café tostado", True, "05001"),
    ("Frutas del Valle Procesadas S.A.S.", "Alimentos: pulpas y jugos", True, "76001"),
    ("Supermercados La Canasta S.A.", "Comercio minorista", True, "11001"),
    ("Snacks del Caribe S.A.S.", "Alimentos: pasabocas", False, "08001"),
    ("Panelera Santandereana S.A.S.", "Alimentos: endulzantes", False, "68001"),
    ("Cacao Fino de Exportación S.A.S.", "Exportación de cacao", True, "05001"),
    ("Restaurantes Sabor Nuestro S.A.S.", "Servicios de comida", False, "11001"),
    ("Aceites Amazónicos S.A.S.", "Cosméticos naturales", False, "76001"),
    ("Cauchos Técnicos de Colombia S.A.", "Industria: caucho", True, "68001"),
    ("Distribuidora Mayorista del Norte S.A.S.", "Comercio mayorista", False, "08001"),
    ("Hoteles y Casinos Andinos S.A.", "Hotelería", True, "05001"),
]


def _nit(n: int) -> str:
    base = str(900_100_000 + n)
    return f"{base}-{nit_check_digit(base)}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"


def _user(report: Report, password_hash: str, name: str, *, phone=None, email=None) -> tuple[User, bool]:
    existing = db.session.scalar(select(User).where(User.phone == phone if phone else User.email == email))
    if existing:
        return existing, False
    user = User(full_name=name, phone=phone, email=email, password_hash=password_hash, locale="es")
    db.session.add(user)
    report.created["users"] += 1
    return user, True


def pick_cooperative_municipalities(count: int = 40) -> list[Municipality]:
    """Spread ``count`` municipalities over all PDET subregions, two or three each."""
    rows = db.session.scalars(
        select(Municipality).where(Municipality.pdet_subregion.is_not(None)).order_by(Municipality.code)
    ).all()
    by_region: dict[str, list[Municipality]] = {}
    for m in rows:
        by_region.setdefault(m.pdet_subregion, []).append(m)
    rng = random.Random(2026)  # a repeatable spread, not a secret
    for items in by_region.values():
        rng.shuffle(items)
    chosen: list[Municipality] = []
    round_ = 0
    while len(chosen) < count and any(len(v) > round_ for v in by_region.values()):
        for region in sorted(by_region):
            if round_ < len(by_region[region]) and len(chosen) < count:
                chosen.append(by_region[region][round_])
        round_ += 1
    return chosen


def demo_cooperative_names() -> set[str]:
    """The names ``seed_people`` gives the demo's cooperatives."""
    names = set()
    for index, municipality in enumerate(pick_cooperative_municipalities(40)):
        crops = SUBREGION_CROPS.get(municipality.pdet_subregion, ["Productores"])
        names.add(PATTERNS[index % len(PATTERNS)][1].format(crop=crops[index % len(crops)], place=municipality.name))
    return names


def seed_people(report: Report, password_hash: str, rng: random.Random, now: datetime) -> None:
    """Staff, cooperatives (most verified, one suspended, a few pending) and buyers (most
    verified) with their users; organisations that exist by name are left as they are."""
    staff_org = staff_organisation()
    for role, name, email in (
        (Role.PLATFORM_ADMIN, "Administración Mercado Rural", "admin@mercadorural.co"),
        (Role.STAFF_AUDITOR, "Equipo de Seguimiento y Evaluación", "seguimiento@mercadorural.co"),
    ):
        user, new = _user(report, password_hash, name, email=email)
        if new:
            db.session.add(Membership(user=user, organisation=staff_org, role=role))
        report.logins.append(("Administrador" if role == Role.PLATFORM_ADMIN else "Auditor del programa", email))
    admin = db.session.scalar(select(User).where(User.email == "admin@mercadorural.co"))

    for index, municipality in enumerate(pick_cooperative_municipalities(40)):
        crops = SUBREGION_CROPS.get(municipality.pdet_subregion, ["Productores"])
        legal_form, pattern = PATTERNS[index % len(PATTERNS)]
        name = pattern.format(crop=crops[index % len(crops)], place=municipality.name)
        phone = f"+5731{index:08d}"
        if db.session.scalar(select(Organisation).where(Organisation.name == name)):
            continue
        total = rng.randint(18, 240)
        women_share = 0.7 if "Mujeres" in name else rng.uniform(0.25, 0.55)
        youth_share = 0.6 if "Jóvenes" in name else rng.uniform(0.1, 0.35)
        status = OrgStatus.PENDING if index >= 37 else (OrgStatus.SUSPENDED if index == 36 else OrgStatus.VERIFIED)
        coop = Cooperative(
            kind=OrgKind.COOPERATIVE, name=name, legal_form=legal_form,
            nit=_nit(index + 1) if index % 3 else None,
            municipality_code=municipality.code, status=status,
            status_reason="Documentos de representación legal vencidos." if status == OrgStatus.SUSPENDED else None,
            status_changed_at=now if status != OrgStatus.PENDING else None,
            members_total=total, members_women=round(total * women_share), members_youth=round(total * youth_share),
            members_victims=round(total * rng.uniform(0.2, 0.7)),
            substitution_families=round(total * rng.uniform(0, 0.5)),
            description=f"{crops[0]} del municipio de {municipality.name}, subregión PDET {municipality.pdet_subregion}.",
        )
        db.session.add(coop)
        manager, _ = _user(report, password_hash, _person(rng), phone=phone)
        db.session.add(Membership(user=manager, organisation=coop, role=Role.COOP_MANAGER))
        member, _ = _user(report, password_hash, _person(rng), phone=f"+5732{index:08d}")
        db.session.add(Membership(user=member, organisation=coop, role=Role.COOP_MEMBER))
        db.session.flush()
        audit.record("organisation.registered", "organisation", coop.id, actor=manager, organisation_id=coop.id,
                     after={"name": name, "kind": "cooperative", "status": "pending"}, note="demo")
        if status != OrgStatus.PENDING:
            audit.record(f"organisation.{status.value}", "organisation", coop.id, actor=admin,
                         organisation_id=coop.id, before={"status": "pending"}, after={"status": status.value},
                         note="demo")
        report.created["cooperatives"] += 1

    for index, (name, sector, andi, city_code) in enumerate(BUYERS):
        email = f"compras{index + 1:02d}@empresa-demo.co"
        if db.session.scalar(select(Organisation).where(Organisation.name == name)):
            continue
        status = OrgStatus.PENDING if index >= 10 else OrgStatus.VERIFIED
        buyer = Buyer(kind=OrgKind.BUYER, name=name, nit=_nit(500 + index), andi_member=andi, sector=sector,
                      municipality_code=city_code, status=status, status_changed_at=now if status == OrgStatus.VERIFIED else None)
        db.session.add(buyer)
        _city, sites = CITIES[city_code]
        for site_name, address, lat, lon in sites:
            db.session.add(DeliverySite(buyer=buyer, name=site_name, address=address, municipality_code=city_code,
                                        latitude=Decimal(lat), longitude=Decimal(lon)))
        if index % 4 == 1:
            other = "11001" if city_code != "11001" else "05001"
            site_name, address, lat, lon = CITIES[other][1][0]
            db.session.add(DeliverySite(buyer=buyer, name=site_name, address=address, municipality_code=other,
                                        latitude=Decimal(lat), longitude=Decimal(lon)))
        buyer_admin, _ = _user(report, password_hash, _person(rng), email=email)
        db.session.add(Membership(user=buyer_admin, organisation=buyer, role=Role.BUYER_ADMIN))
        purchaser, _ = _user(report, password_hash, _person(rng), email=f"analista{index + 1:02d}@empresa-demo.co")
        db.session.add(Membership(user=purchaser, organisation=buyer, role=Role.BUYER_PURCHASER))
        db.session.flush()
        audit.record("organisation.registered", "organisation", buyer.id, actor=buyer_admin, organisation_id=buyer.id,
                     after={"name": name, "kind": "buyer", "status": "pending"}, note="demo")
        if status == OrgStatus.VERIFIED:
            audit.record("organisation.verified", "organisation", buyer.id, actor=admin, organisation_id=buyer.id,
                         before={"status": "pending"}, after={"status": "verified"}, note="demo")
        report.created["buyers"] += 1
    db.session.flush()
