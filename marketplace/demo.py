"""Believable demo data: cooperatives across the PDET subregions, buyers in five cities,
programme staff and an administrator. Idempotent: existing rows are left as they are."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts import passwords
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
from marketplace.core.models import Municipality, utcnow
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


@dataclass
class Report:
    created: dict = field(default_factory=lambda: dict.fromkeys(
        ("cooperatives", "buyers", "users", "listings", "orders", "demands"), 0))
    logins: list = field(default_factory=list)
    password: str = ""

    def summary(self) -> str:
        lines = [
            "Datos de demostración listos "
            f"(nuevas: {self.created['cooperatives']} cooperativas, {self.created['buyers']} compradores, "
            f"{self.created['users']} usuarios, {self.created['listings']} ofertas, "
            f"{self.created['orders']} pedidos, {self.created['demands']} solicitudes de compra).",
            f"Contraseña de todas las cuentas de demostración: {self.password}",
            "Cuentas para probar:",
        ]
        lines += [f"  {role:<32} {login}" for role, login in self.logins]
        return "\n".join(lines)


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
    rng = random.Random(2026)
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


def seed(password: str) -> Report:
    report = Report(password=password)
    password_hash = passwords.hash_password(password)
    rng = random.Random(1581)
    now = utcnow()

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
    report.created["listings"] = seed_listings(rng)
    db.session.flush()
    report.created["orders"] = seed_orders(rng, password)
    db.session.flush()
    report.created["demands"] = seed_demands()
    report.logins += [
        ("Gerente de cooperativa", "310 000 0000"),
        ("Asociado de cooperativa", "320 000 0000"),
        ("Gerente (cooperativa pendiente)", "310 000 0038"),
        ("Administrador de compras", "compras01@empresa-demo.co"),
        ("Comprador", "analista01@empresa-demo.co"),
        ("Transportador", "transporte@empresa-demo.co"),
    ]
    return report


# Which catalogue products each kind of cooperative offers, and typical farm-gate COP/kg.
CROP_PRODUCTS = {
    "Cacaoteros": ["cacao-grano-seco"], "Cafeteros": ["cafe-pergamino-seco"], "Plataneros": ["platano-harton", "banano"],
    "Caucheros": ["caucho"], "Apicultores": ["miel-abejas"], "Productores de Panela": ["panela"],
    "Productores de Yuca": ["yuca"], "Productores de Arroz": ["arroz-paddy"], "Productores de Aguacate": ["aguacate-hass"],
    "Productores de Ñame": ["name"], "Productores de Ají": ["aji"], "Productores de Coco": ["coco"],
    "Pescadores Artesanales": ["pescado-estanque"], "Productores de Sacha Inchi": ["sacha-inchi"],
    "Productores de Pimienta": ["pimienta"], "Productores de Maíz": ["maiz-blanco"],
    "Productores de Maracuyá": ["maracuya"], "Productores de Frutas Amazónicas": ["maracuya", "pina-gold"],
    "Fiqueros": ["frijol"],
}
FARM_GATE = {
    "cacao-grano-seco": 14000, "cafe-pergamino-seco": 19000, "caucho": 5200, "miel-abejas": 21000,
    "quinua": 9000, "sacha-inchi": 12500, "pescado-estanque": 11500, "frijol": 6800, "name": 1900, "aji": 4200,
    "coco": 1800, "banano": 1300, "pimienta": 26000,
}
PHOTO_COLOURS = {"cacao-grano-seco": (110, 62, 35), "cafe-pergamino-seco": (196, 170, 120), "platano-harton": (120, 160, 60),
                 "aguacate-hass": (50, 70, 40), "caucho": (60, 55, 50), "miel-abejas": (215, 150, 30)}


def _demo_photo(slug: str, rng: random.Random) -> bytes:
    """A small picture made here (no download): the produce's colour with some texture."""
    import io

    from PIL import Image, ImageDraw

    base = PHOTO_COLOURS.get(slug, (150, 120, 70))
    image = Image.new("RGB", (800, 600), base)
    draw = ImageDraw.Draw(image)
    for _ in range(140):
        x, y, r = rng.randint(0, 800), rng.randint(0, 600), rng.randint(12, 40)
        shade = tuple(max(0, min(255, c + rng.randint(-35, 35))) for c in base)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def seed_listings(rng: random.Random) -> int:
    """Two or three listings per verified cooperative that has none yet, priced near the
    SIPSA reference (or a typical farm-gate price), some with a photo made locally."""
    from datetime import date, timedelta

    from flask import current_app

    from marketplace.catalog import photos, services, sipsa
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.catalog.models import CollectionPoint, Listing, Product

    seed_catalogue()
    products = {p.slug: p for p in db.session.scalars(select(Product))}
    storage = photos.LocalStorage(current_app.config["UPLOAD_FOLDER"])
    today = date.today()
    created = 0
    coops = db.session.scalars(select(Cooperative).where(Cooperative.status == OrgStatus.VERIFIED).order_by(Cooperative.id))
    for coop in coops:
        if db.session.scalar(select(Listing.id).where(Listing.cooperative_id == coop.id).limit(1)):
            continue
        manager = next((m.user for m in coop.memberships if m.role == Role.COOP_MANAGER), None)
        crop = next((c for c in CROP_PRODUCTS if c in coop.name), None)
        slugs = list(CROP_PRODUCTS.get(crop, ["yuca"]))
        if "platano-harton" not in slugs and rng.random() < 0.5:
            slugs.append("platano-harton")
        municipality = coop.municipality
        point = CollectionPoint(cooperative_id=coop.id, name=f"Centro de acopio {municipality.name}",
                                municipality_code=municipality.code, latitude=municipality.latitude,
                                longitude=municipality.longitude, municipality=municipality)
        db.session.add(point)
        db.session.flush()
        for n, slug in enumerate(slugs):
            product = products[slug]
            grade = product.grades[min(n, len(product.grades) - 1)]
            reference = None
            if product.sipsa_name:
                reference = sipsa.nearest_reference(product.sipsa_name, float(municipality.latitude),
                                                    float(municipality.longitude))
            base = reference.latest.mean * Decimal("0.8") if reference else Decimal(FARM_GATE.get(slug, 3000))
            price_kg = (base * Decimal(str(round(rng.uniform(0.85, 1.1), 3)))).quantize(Decimal("1"))
            unit = product.usual_units[1] if len(product.usual_units) > 1 and rng.random() < 0.6 else "kg"
            unit_kg = {"bulto": Decimal("50"), "canastilla": Decimal("25"), "racimo": Decimal("22"),
                       "caja": Decimal("15"), "bolsa": Decimal("20")}.get(unit)
            weight = services.units.unit_weight(unit, unit_kg)
            quantity = Decimal(rng.choice([20, 40, 60, 80, 120, 200])) if weight > 1 else Decimal(rng.choice([500, 1200, 2500, 4000]))
            data = services.ListingData(
                product_id=product.id, grade_id=grade.id, quantity=quantity, unit=unit, unit_kg=unit_kg,
                price_per_unit=(price_kg * weight).quantize(Decimal("1")), harvest_date=today - timedelta(days=rng.randint(0, 10)),
                available_from=today, available_until=today + timedelta(days=rng.randint(15, 60)),
                collection_point_id=point.id, certifications=["organico"] if rng.random() < 0.2 else [],
                confirm_price=True,
            )
            pictures = [photos.process(_demo_photo(slug, rng))] if n == 0 else []
            services.create_listing(manager, data, pictures, storage, today=today)
            created += 1
    return created


def seed_orders(rng: random.Random, password: str) -> int:
    """Orders in every state, paid by card and by invoice, through the real services, so
    the demo cooperative, buyer and staff each have work waiting on first login.
    Skipped when any order exists."""
    from datetime import date, timedelta

    from marketplace.accounts import services as accounts
    from marketplace.catalog.models import CollectionPoint, Listing, ListingStatus
    from marketplace.logistics import services as logistics
    from marketplace.orders import services as orders
    from marketplace.orders import shipping
    from marketplace.orders.models import Order, PaymentMethod, PaymentStatus

    if db.session.scalar(select(Order.id).limit(1)):
        return 0
    admin = db.session.scalar(select(User).where(User.email == "admin@mercadorural.co"))
    buyer_user = db.session.scalar(select(User).where(User.email == "compras01@empresa-demo.co"))
    coop_user = db.session.scalar(select(User).where(User.phone == "+573100000000"))
    if admin is None or buyer_user is None or coop_user is None:
        return 0
    buyer = buyer_user.organisation
    if buyer.status != OrgStatus.VERIFIED or not buyer.delivery_sites:
        return 0
    site = buyer.delivery_sites[0]
    home = coop_user.organisation

    def listings_of(coop_id=None):
        stmt = select(Listing).where(Listing.status == ListingStatus.ACTIVE, Listing.available_kg > 100)
        stmt = stmt.where(Listing.cooperative_id == coop_id) if coop_id else stmt.where(Listing.cooperative_id != home.id)
        return list(db.session.scalars(stmt.order_by(Listing.id)))

    own, others = listings_of(home.id), listings_of()
    if not own or not others:
        return 0
    # A carrier, and the first mile of the demo cooperative's collection point.
    carrier, driver = accounts.create_carrier(
        admin, "Transportes del Pacífico Sur S.A.S.", None, home.municipality_code,
        accounts.UserData("Jhon Jairo Angulo", password,
                          email="transporte@empresa-demo.co"))
    driver.must_change_password = False
    point = db.session.get(CollectionPoint, own[0].collection_point_id)
    logistics.set_access_legs(coop_user, point, [
        logistics.AccessLegData("trail", "mule", Decimal("6"), "mountainous", "Camino de herradura hasta la vía")])
    managers = {}

    def manager_of(coop_id):
        if coop_id not in managers:
            managers[coop_id] = db.session.scalar(
                select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.organisation_id == coop_id, Membership.role == Role.COOP_MANAGER))
        return managers[coop_id]

    today = date.today()
    # (final state of every part, payment, a shortfall or rejection at delivery)
    plan = [
        ("placed", "invoice", None), ("placed", "card", None), ("accepted", "card", None),
        ("ready", "invoice", None), ("in_transit", "card", None), ("delivered", "invoice", "short"),
        ("delivered", "card", "reject"), ("settled", "card", None), ("settled", "invoice", None),
        ("declined", "invoice", None), ("cancelled", "card", None),
    ]
    created = 0
    for index, (target, method, problem) in enumerate(plan):
        picks = [own[index % len(own)], others[(index * 3) % len(others)]]
        lines = []
        for listing in picks:
            kg = min(listing.available_kg / 10, Decimal(rng.choice([80, 150, 300, 500]))).quantize(Decimal("1"))
            lines.append(orders.LineRequest(listing.id, kg, "kg"))
        request = orders.OrderRequest(lines=lines, delivery_site_id=site.id, window_start=today + timedelta(days=3),
                                      window_end=today + timedelta(days=12), payment_method="invoice",
                                      note="Empaque en sacos de fique, por favor." if index % 3 == 0 else None)
        order = orders.place_order(buyer_user, request)
        if method == "card":
            # A card payment made earlier at Stripe (the demo runs without Stripe keys).
            order.payment_method = PaymentMethod.CARD
            order.invoice_due_date = None
            if target != "placed":
                order.payment_status = PaymentStatus.PAID
                order.amount_paid = order.total
                order.paid_at = utcnow()
                order.stripe_payment_intent_id = f"pi_demo_{order.id:06d}"
            else:
                order.pay_by = utcnow() + timedelta(days=2)
        elif index == 5:
            order.invoice_due_date = today - timedelta(days=4)  # an overdue invoice for staff to chase
        db.session.flush()
        for part in order.parts:
            actor = manager_of(part.cooperative_id)
            if target == "placed":
                continue
            if target == "declined":
                orders.decline(actor, part, "La cosecha se dañó con las lluvias.")
                continue
            if target == "cancelled":
                orders.cancel(buyer_user, part, "Cambio en el plan de producción.")
                continue
            orders.accept(actor, part)
            if target == "accepted":
                continue
            if order.payment_method == PaymentMethod.INVOICE or order.payment_status == PaymentStatus.PAID:
                orders.mark_ready(actor, part)
            if target == "ready":
                continue
            if part.cooperative_id == home.id and carrier is not None:
                # The demo cooperative's shipments: a mule to the road, then a truck, with
                # the carrier's real costs once delivered.
                shipment = shipping.create_shipment(actor, shipping.ShipmentData(
                    [part.id], today, today + timedelta(days=2), carrier_id=carrier.id))
                shipping.dispatch(actor, shipment, today)
                if target != "in_transit":
                    shipping.record_actual_costs(actor, shipment, {
                        leg.id: (leg.estimated_cop * Decimal(str(rng.uniform(0.85, 1.25)))).quantize(Decimal("1"))
                        for leg in shipment.legs}, today, today + timedelta(days=1))
            else:
                orders.ship(actor, part, Decimal(rng.choice([0, 0, 35000, 60000])))
            if target == "in_transit":
                continue
            receipts = []
            for n, line in enumerate(part.lines):
                received, accepted, reason = line.quantity_kg, True, None
                if problem == "short" and n == 0:
                    received = (line.quantity_kg * Decimal("0.92")).quantize(Decimal("1"))
                if problem == "reject" and part.cooperative_id != home.id:
                    accepted, reason = False, "Humedad por encima del 8 %: granos con moho."
                receipts.append(orders.Receipt(line.id, received, accepted, reason))
            orders.record_delivery(buyer_user, part, receipts)
        if target == "settled":
            if order.payment_method == PaymentMethod.INVOICE:
                orders.mark_invoice_paid(admin, order, f"BANCOLOMBIA-{order.id:06d}")
            for part in order.parts:
                orders.refresh_payout(part)
                orders.settle(admin, part, f"TRF-{order.id:04d}-{part.id:04d}")
        created += 1
    return created


def seed_demands() -> int:
    """Open demands of the demo buyer: one the demo cooperative has answered (with the
    optimiser's proposal ready to read), one asking for at least half from PDET
    municipalities. Skipped when any demand exists."""
    from datetime import date, timedelta

    from marketplace.catalog.models import Listing, ListingStatus
    from marketplace.matching import services as matching
    from marketplace.matching.models import Demand

    if db.session.scalar(select(Demand.id).limit(1)):
        return 0
    buyer_user = db.session.scalar(select(User).where(User.email == "compras01@empresa-demo.co"))
    coop_user = db.session.scalar(select(User).where(User.phone == "+573100000000"))
    if buyer_user is None or coop_user is None or buyer_user.organisation.status != OrgStatus.VERIFIED:
        return 0
    own = list(db.session.scalars(select(Listing).where(
        Listing.cooperative_id == coop_user.organisation.id, Listing.status == ListingStatus.ACTIVE,
        Listing.available_kg > 100).order_by(Listing.id)))
    if not own:
        return 0
    today = date.today()
    site = buyer_user.organisation.delivery_sites[0]
    first = own[0]
    start, end = max(today + timedelta(days=5), first.available_from), today + timedelta(days=25)
    answered = matching.create_demand(buyer_user, matching.DemandData(
        product_id=first.product_id, quantity=(first.available_kg * 3).quantize(Decimal("1")), unit="kg",
        delivery_site_id=site.id, window_start=start, window_end=max(end, start),
        note="Entregas en estibas, con certificado de calidad por lote."))
    matching.make_offer(coop_user, answered, matching.OfferData(
        listing_id=first.id, quantity=(first.available_kg / 2).quantize(Decimal("1")), unit="kg",
        price_per_kg=(first.price_per_kg * Decimal("0.95")).quantize(Decimal("1")), ready_date=start))
    matching.propose(buyer_user, [answered])
    second = next((item for item in own if item.product_id != first.product_id), None)
    created = 1
    if second is not None:
        matching.create_demand(buyer_user, matching.DemandData(
            product_id=second.product_id, quantity=Decimal("5"), unit="tonelada", delivery_site_id=site.id,
            window_start=today + timedelta(days=10), window_end=today + timedelta(days=40),
            preferences=[matching.PreferenceData("pdet", Decimal("50"), None)]))
        created += 1
    return created
