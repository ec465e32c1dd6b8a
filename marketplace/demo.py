"""Believable demo data: cooperatives across the PDET subregions, buyers in five cities,
programme staff and an administrator. Idempotent: existing rows are left as they are."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

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
from marketplace.core.models import BOGOTA, Municipality, bogota_date, utcnow
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
        ("cooperatives", "buyers", "users", "listings", "orders", "demands", "history_orders", "history_lines"), 0))
    logins: list = field(default_factory=list)
    password: str = ""

    def summary(self) -> str:
        lines = [
            "Datos de demostración listos "
            f"(nuevas: {self.created['cooperatives']} cooperativas, {self.created['buyers']} compradores, "
            f"{self.created['users']} usuarios, {self.created['listings']} ofertas, "
            f"{self.created['orders']} pedidos, {self.created['demands']} solicitudes de compra).",
            f"Historial: {self.created['history_orders']} pedidos de los últimos doce meses "
            f"({self.created['history_lines']} líneas).",
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
    # The past year before today's orders, so that order and invoice numbers follow the dates.
    report.created["history_orders"], report.created["history_lines"] = seed_history(rng)
    db.session.flush()
    report.created["orders"] = seed_orders(rng, password)
    db.session.flush()
    report.created["demands"] = seed_demands()
    db.session.flush()
    # The dashboards read sale facts and monthly rollups: recompute them from every order.
    from marketplace.insights import rollups

    rollups.rebuild()
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
    Skipped when any order exists besides the past year's (``seed_history``)."""
    from datetime import date, timedelta

    from sqlalchemy import or_

    from marketplace.accounts import services as accounts
    from marketplace.catalog.models import CollectionPoint, Listing, ListingStatus
    from marketplace.logistics import services as logistics
    from marketplace.orders import services as orders
    from marketplace.orders import shipping
    from marketplace.orders.models import Order, PaymentMethod, PaymentStatus

    if db.session.scalar(select(Order.id).where(or_(Order.idempotency_key.is_(None),
                                                    Order.idempotency_key.not_like(HISTORY_KEY + "%"))).limit(1)):
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
        stmt = select(Listing).where(Listing.status == ListingStatus.ACTIVE, Listing.available_kg > 100,
                                     Listing.available_until >= date.today())
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
        Listing.available_kg > 100, Listing.available_until >= date.today()).order_by(Listing.id)))
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


# ------------------------------------------------------------------ a year of sales

# Relative volume sold each month (January to December), from Colombian harvest calendars.
# Products not named here sell steadily all year.
SEASONS = {
    # Main harvest October-December, the mitaca April-June.
    "cafe-pergamino-seco": (0.8, 0.4, 0.5, 0.9, 1.2, 1.0, 0.5, 0.4, 0.7, 1.6, 2.0, 1.8),
    # Two crops: April-June and October-December.
    "cacao-grano-seco": (0.7, 0.5, 0.7, 1.3, 1.6, 1.4, 0.8, 0.6, 0.7, 1.3, 1.6, 1.3),
    # Hass: the main harvest October-January and the traviesa April-June.
    "aguacate-hass": (1.2, 0.7, 0.6, 0.9, 1.3, 1.4, 1.0, 0.6, 0.7, 1.2, 1.5, 1.4),
    "maracuya": (1.2, 1.0, 0.8, 0.8, 0.9, 1.1, 1.3, 1.2, 0.9, 0.8, 0.9, 1.1),
    # Caribbean maize: semester A harvested July-August, semester B December-January.
    "maiz-blanco": (1.3, 0.7, 0.4, 0.4, 0.5, 0.8, 1.6, 1.9, 1.2, 0.7, 1.0, 1.5),
    "arroz-paddy": (0.8, 0.6, 0.9, 1.2, 0.9, 0.7, 1.0, 1.6, 1.7, 1.3, 0.8, 0.5),
    "miel-abejas": (1.5, 1.6, 1.4, 1.0, 0.7, 0.6, 0.8, 1.0, 0.9, 0.7, 0.8, 1.3),  # the dry season's flowering
    "caucho": (0.8, 0.5, 0.5, 0.8, 1.1, 1.2, 1.2, 1.2, 1.1, 1.2, 1.2, 1.0),  # little tapping while trees shed leaves
    "name": (1.5, 1.6, 1.4, 1.0, 0.6, 0.5, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5),
    "frijol": (1.3, 0.8, 0.6, 0.7, 0.9, 1.4, 1.5, 1.0, 0.7, 0.7, 0.9, 1.3),
    "pescado-estanque": (0.9, 1.0, 1.6, 1.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1),  # Lent and Holy Week
    # Plantain, banana, cassava and panela: steady.
    "platano-harton": (1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.0, 0.95, 1.0, 1.0, 1.0, 1.05),
    "yuca": (1.0, 1.0, 0.95, 1.0, 1.05, 1.0, 1.0, 1.0, 0.95, 1.0, 1.0, 1.05),
    "panela": (1.0, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05),
}
# How far the price moves against the volume: price factor = 1 - k * (relative volume - 1).
# Fish is the exception: Lent raises demand, not supply, so volume and price rise together.
PRICE_RESPONSE = {"cafe-pergamino-seco": 0.1, "cacao-grano-seco": 0.1, "aguacate-hass": 0.3, "maracuya": 0.25,
                  "maiz-blanco": 0.15, "arroz-paddy": 0.12, "miel-abejas": 0.1, "caucho": 0.08, "name": 0.2,
                  "frijol": 0.2, "pescado-estanque": -0.12, "platano-harton": 0.3, "yuca": 0.3, "panela": 0.3}
# Sale lines per lot and month, relative (plantain is listed by half the cooperatives).
ACTIVITY = {"cafe-pergamino-seco": 2.2, "cacao-grano-seco": 1.6, "aguacate-hass": 2.5, "panela": 2.5, "yuca": 2.0,
            "platano-harton": 0.8, "banano": 0.9}
# The usual size of one order line, in kg.
LINE_KG = {"cafe-pergamino-seco": 1250, "cacao-grano-seco": 1000, "platano-harton": 2500, "banano": 2000,
           "aguacate-hass": 1500, "panela": 1500, "yuca": 3000, "maracuya": 1200, "pina-gold": 2000,
           "arroz-paddy": 5000, "maiz-blanco": 4000, "name": 2500, "aji": 400, "pescado-estanque": 350,
           "miel-abejas": 300, "pimienta": 200, "caucho": 2000, "frijol": 800, "sacha-inchi": 500, "coco": 1500}
# The unit buyers order these in (others: kg, tonnes or the lot's own unit).
ORDER_UNIT = {"cafe-pergamino-seco": "carga", "cacao-grano-seco": "arroba", "panela": "arroba", "frijol": "arroba",
              "pimienta": "arroba"}
NOT_FOOD = {"caucho", "sacha-inchi"}
# What each demo buyer buys ("*": any food), how often it pays by card and how big its orders are.
BUYER_HABITS = {
    "Chocolates Andinos S.A.S.": ({"cacao-grano-seco", "panela", "miel-abejas"}, 0.1, 1.2),
    "Café Montaña Alta S.A.": ({"cafe-pergamino-seco"}, 0.1, 1.3),
    "Frutas del Valle Procesadas S.A.S.": ({"maracuya", "pina-gold", "aguacate-hass", "banano", "coco"}, 0.4, 1.0),
    "Supermercados La Canasta S.A.": ("*", 0.2, 0.9),
    "Snacks del Caribe S.A.S.": ({"platano-harton", "yuca", "name", "maiz-blanco", "coco"}, 0.5, 1.0),
    "Panelera Santandereana S.A.S.": ({"panela", "miel-abejas"}, 0.3, 1.1),
    "Cacao Fino de Exportación S.A.S.": ({"cacao-grano-seco"}, 0.05, 1.5),
    "Restaurantes Sabor Nuestro S.A.S.": ("*", 0.8, 0.35),
    "Aceites Amazónicos S.A.S.": ({"sacha-inchi", "coco", "miel-abejas"}, 0.6, 0.6),
    "Cauchos Técnicos de Colombia S.A.": ({"caucho"}, 0.0, 1.2),
    "Distribuidora Mayorista del Norte S.A.S.": ("*", 0.2, 1.2),
    "Hoteles y Casinos Andinos S.A.": ("*", 0.6, 0.4),
}
HISTORY_LINES = 2200  # about; enough for a year of dashboards, few enough to seed in seconds
HISTORY_KEY = "demo-history-"  # the idempotency key of past orders, to tell them from today's
DECLINE_REASONS = ["La cosecha se dañó con las lluvias.", "No alcanzamos a reunir el volumen en la fecha.",
                   "La vía al centro de acopio está cerrada por derrumbes.", "El lote no cumplió la humedad pedida."]
CANCEL_REASONS = ["Cambio en el plan de producción.", "El cliente final aplazó su pedido.",
                  "Se compró con otra cooperativa más cerca de la planta."]
CANCEL_REASONS_COOP = ["Perdimos parte de la cosecha por plagas.", "El transportador no pudo subir a la vereda."]


def _insert_ids(model, rows: list[dict]) -> list[int]:
    """Insert rows (all with the same keys) in multi-row statements; their new ids, in order."""
    from sqlalchemy import insert

    if not rows:
        return []
    table = model.__table__
    result = db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def _add_months(day, n: int):
    from datetime import date

    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the means here are small)."""
    import math

    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _weighted_choice(rng: random.Random, weights: list[float]) -> int:
    pick = rng.uniform(0, sum(weights))
    for position, weight in enumerate(weights):
        pick -= weight
        if pick <= 0:
            return position
    return len(weights) - 1


def _season(slug: str, month: int) -> float:
    profile = SEASONS.get(slug)
    if profile is None:
        return 1.0
    return profile[month - 1] * 12 / sum(profile)


def _demo_cooperative_names() -> set[str]:
    names = set()
    for index, municipality in enumerate(pick_cooperative_municipalities(40)):
        crops = SUBREGION_CROPS.get(municipality.pdet_subregion, ["Productores"])
        names.add(PATTERNS[index % len(PATTERNS)][1].format(crop=crops[index % len(crops)], place=municipality.name))
    return names


@dataclass
class _Line:
    buyer: Buyer
    template: object  # the cooperative's current listing of the product: grade, unit, place
    slug: str
    month: object
    kg: Decimal
    unit: str
    price: Decimal
    received: Decimal | None = None
    outlier: bool = False


@dataclass
class _Pickup:
    id: int
    name: str
    latitude: Decimal
    longitude: Decimal


def seed_history(rng: random.Random) -> tuple[int, int]:
    """Twelve months of past sales, ending last month, between the demo's verified buyers and
    verified cooperatives, for the products the cooperatives list: seasonal volumes and
    prices (prices move against volume, with noise and a few outliers for the anomaly
    page), repeat buyer-cooperative pairs, most orders delivered and settled, a few
    declined or cancelled. Rows are written directly, as the order services would have left
    them (amounts, fees, logistics estimates, events, payments and payouts), without taking
    stock from today's listings: each quarter's sales come from a past lot of their own.
    Skipped when any order from before this month exists. Returns (orders, lines)."""
    from datetime import UTC, datetime, time, timedelta

    from flask import current_app
    from sqlalchemy import insert, or_

    from marketplace.catalog import units
    from marketplace.catalog.models import Listing, ListingChange, ListingStatus
    from marketplace.core.errors import DomainError
    from marketplace.logistics import services as logistics
    from marketplace.orders import services as orders
    from marketplace.orders.models import (
        Order,
        OrderLine,
        OrderPart,
        PartEvent,
        PartStatus,
        PaymentMethod,
        PaymentStatus,
        PayoutStatus,
        Quality,
    )

    bogota = BOGOTA
    now = utcnow()
    today = bogota_date(now)
    this_month = today.replace(day=1)
    month_start = datetime.combine(this_month, time(0), bogota).astimezone(UTC)
    if db.session.scalar(select(Order.id).where(or_(Order.placed_at < month_start,
                                                    Order.idempotency_key.like(HISTORY_KEY + "%"))).limit(1)):
        return 0, 0
    buyers = [b for b in db.session.scalars(select(Buyer).where(Buyer.status == OrgStatus.VERIFIED,
                                                                Buyer.name.in_(list(BUYER_HABITS)))
                                            .order_by(Buyer.id)) if any(s.active for s in b.delivery_sites)]
    rows = db.session.execute(
        select(Listing, Cooperative).join(Cooperative, Cooperative.id == Listing.cooperative_id)
        .where(Cooperative.status == OrgStatus.VERIFIED, Cooperative.name.in_(_demo_cooperative_names()),
               Listing.status == ListingStatus.ACTIVE, Listing.available_until >= today)
        .order_by(Listing.id)).all()
    supply: dict[tuple[int, str], Listing] = {}
    coops: dict[int, Cooperative] = {}
    for listing, coop in rows:
        supply.setdefault((coop.id, listing.product.slug), listing)
        coops[coop.id] = coop
    admin = db.session.scalar(select(User).where(User.email == "admin@mercadorural.co"))
    if not buyers or not supply or admin is None:
        return 0, 0
    people: dict[tuple[int, Role], list[User]] = {}
    for membership in db.session.scalars(select(Membership).where(
            Membership.organisation_id.in_([*coops, *(b.id for b in buyers)])).order_by(Membership.id)):
        people.setdefault((membership.organisation_id, membership.role), []).append(membership.user)
    managers = {coop_id: people[(coop_id, Role.COOP_MANAGER)][0] for coop_id in coops
                if (coop_id, Role.COOP_MANAGER) in people}
    purchasers = {b.id: people.get((b.id, Role.BUYER_PURCHASER), []) + people.get((b.id, Role.BUYER_ADMIN), [])
                  for b in buyers}
    buyers = [b for b in buyers if purchasers[b.id]]
    supply = {key: item for key, item in supply.items() if key[0] in managers}

    months = [_add_months(this_month, n) for n in range(-12, 0)]
    last_day = today - timedelta(days=10)  # the last order's delivery is behind us
    weekdays = {m: [m + timedelta(days=d) for d in range(31)
                    if (m + timedelta(days=d)).month == m.month and (m + timedelta(days=d)).weekday() < 6
                    and m + timedelta(days=d) <= last_day] for m in months}

    # Prices: each product's typical price (today's listings, near the catalogue's farm-gate
    # or SIPSA price), a cooperative's own level, the season, 5 % a year of inflation, and a
    # national shock per month shared by every seller of the product.
    by_product: dict[str, list[Decimal]] = {}
    for (_coop, slug), listing in supply.items():
        by_product.setdefault(slug, []).append(listing.price_per_kg)
    anchor = {slug: sorted(prices)[len(prices) // 2] for slug, prices in by_product.items()}
    shock = {(slug, m): rng.gauss(1, 0.02) for slug in anchor for m in months}

    def price_of(listing, slug: str, index: int, month) -> Decimal:
        level = (float(listing.price_per_kg) / float(anchor[slug])) ** 0.5
        season = 1 - PRICE_RESPONSE.get(slug, 0.1) * (_season(slug, month.month) - 1)
        drift = 1 - 0.004 * (len(months) - 1 - index)
        value = float(anchor[slug]) * level * season * drift * shock[(slug, month)] * rng.lognormvariate(0, 0.045)
        return Decimal(round(value))

    def wants(buyer: Buyer, slug: str) -> float:
        products = BUYER_HABITS[buyer.name][0]
        if products == "*":
            return 0 if slug in NOT_FOOD else 1.0
        return 3.0 if slug in products else 0

    # Alliances: each lot's buyers, the first a steady one, the others occasional; some
    # start later in the year, as the platform grows.
    alliances = []
    for (coop_id, slug), listing in supply.items():
        candidates = [(b, wants(b, slug)) for b in buyers if wants(b, slug)]
        count = 1 + (rng.random() < 0.6) + (rng.random() < 0.25)
        for rank in range(min(count, len(candidates))):
            buyer, _weight = candidates.pop(_weighted_choice(rng, [w for _b, w in candidates]))
            start = rng.choice((0, 0, 0, 1)) if rank == 0 else rng.randint(0, 6)
            alliances.append((buyer, coop_id, slug, listing, (1.0, 0.45, 0.2)[rank], start))
    expected = {}
    for a, (_b, _c, slug, _l, loyalty, start) in enumerate(alliances):
        for index, month in enumerate(months):
            if index >= start and weekdays[month]:
                ramp = 0.8 + 0.35 * index / (len(months) - 1)
                expected[(a, index)] = loyalty * ACTIVITY.get(slug, 1.2) * _season(slug, month.month) * ramp
    scale = HISTORY_LINES / (sum(expected.values()) or 1)

    lines: list[_Line] = []
    for (a, index), mean in sorted(expected.items()):
        buyer, coop_id, slug, listing, _loyalty, _start = alliances[a]
        month = months[index]
        size = BUYER_HABITS[buyer.name][2] * min(1.6, max(0.5, (coops[coop_id].members_total or 60) / 100) ** 0.5)
        for _ in range(_poisson(rng, mean * scale)):
            base = LINE_KG.get(slug, 1000) * size * _season(slug, month.month) ** 0.5 * rng.lognormvariate(0, 0.35)
            unit = ORDER_UNIT.get(slug, "kg")
            if unit == "kg" and units.UNITS[listing.unit].needs_weight and rng.random() < 0.4:
                unit = listing.unit
            weight = units.unit_weight(unit, listing.unit_kg if units.UNITS[unit].needs_weight else None)
            if unit != "kg":
                kg = weight * max(1, round(base / float(weight)))
            else:
                step = 50 if base >= 500 else 10
                kg = Decimal(max(step, round(base / step) * step))
                if kg >= 1000 and kg % 1000 == 0:
                    unit = "tonelada"
            lines.append(_Line(buyer, listing, slug, month, min(kg, Decimal(40000)), unit,
                               price_of(listing, slug, index, month)))

    # Orders: a buyer's lines of a month, some bought together: the same product from two
    # cooperatives (a bulk order split), or two products of one cooperative (one part).
    plan = []
    grouped: dict[tuple[int, object], list[_Line]] = {}
    for line in lines:
        grouped.setdefault((line.buyer.id, line.month), []).append(line)
    for key in sorted(grouped, key=lambda k: (k[1], k[0])):
        items = grouped[key]
        rng.shuffle(items)
        while items:
            group = [items.pop()]
            first = group[0]
            if rng.random() < 0.3:
                j = next((k for k, it in enumerate(items) if it.slug == first.slug
                          and it.template.cooperative_id != first.template.cooperative_id), None)
                if j is not None:
                    group.append(items.pop(j))
            if rng.random() < 0.5:
                j = next((k for k, it in enumerate(items) if it.slug != first.slug
                          and it.template.cooperative_id == first.template.cooperative_id), None)
                if j is not None:
                    group.append(items.pop(j))
            plan.append(group)

    # Fates: card orders are paid at once (a few never were, and the system cancelled
    # them); invoice orders' parts are sometimes declined or cancelled, and some deliveries
    # come short (the line is paid for what arrived).
    fee_percent, coop_percent = orders.fee_percent(), orders.coop_fee_percent()
    accept_hours = current_app.config["ORDER_ACCEPT_HOURS"]
    card_minutes = current_app.config["CARD_PAYMENT_MINUTES"]
    terms = current_app.config["INVOICE_TERMS_DAYS"]
    payout_days = current_app.config["PAYOUT_DAYS"]
    planned = []
    for group in plan:
        buyer = group[0].buyer
        day = rng.choice(weekdays[group[0].month])
        placed = datetime.combine(day, time(rng.randint(7, 16), rng.randint(0, 59)), bogota).astimezone(UTC)
        method = PaymentMethod.CARD if rng.random() < BUYER_HABITS[buyer.name][1] else PaymentMethod.INVOICE
        unpaid = method == PaymentMethod.CARD and rng.random() < 0.04
        parts: dict[int, list[_Line]] = {}
        for line in group:
            parts.setdefault(line.template.cooperative_id, []).append(line)
        fates = {}
        for coop_id, part_lines in parts.items():
            roll = rng.random()
            if unpaid:
                fates[coop_id] = "unpaid"
            elif method == PaymentMethod.INVOICE and roll < 0.035:
                fates[coop_id] = "declined"
            elif method == PaymentMethod.INVOICE and roll < 0.055:
                fates[coop_id] = "cancelled"
            else:
                fates[coop_id] = "sale"
                for line in part_lines:
                    if method == PaymentMethod.INVOICE and rng.random() < 0.07:
                        line.received = (line.kg * Decimal(str(round(rng.uniform(0.9, 0.995), 3)))).quantize(Decimal("1"))
        planned.append((buyer, placed, method, parts, fates))
    planned.sort(key=lambda item: item[1])  # order numbers follow the dates, as they would have

    # A handful of sales priced far from the month's usual price, for staff to review.
    sold: dict[str, list[_Line]] = {}
    for _buyer, _placed, _method, parts, fates in planned:
        for coop_id, part_lines in parts.items():
            if fates[coop_id] == "sale":
                for line in part_lines:
                    sold.setdefault(line.slug, []).append(line)
    for slug in sorted(sold):
        count = len(sold[slug])
        for line in rng.sample(sold[slug], max(2, round(count * 0.012)) if count >= 40 else int(count >= 15)):
            line.outlier = True
            factor = rng.uniform(0.3, 0.42) if rng.random() < 0.5 else rng.uniform(2.4, 3.2)
            line.price = Decimal(round(float(line.price) * factor))

    # Past lots: one per cooperative, product and quarter, sold out since.
    lots: dict[tuple, list[tuple[datetime, _Line]]] = {}
    for _buyer, placed, _method, parts, _fates in planned:
        for part_lines in parts.values():
            for line in part_lines:
                quarter = (line.month.year, (line.month.month - 1) // 3)
                lots.setdefault((line.template.id, quarter), []).append((placed, line))
    lot_rows: list[dict] = []
    lot_of: dict[int, int] = {}  # id(line) -> its lot's position in lot_rows
    for (_template_id, _quarter), sales in sorted(lots.items(), key=lambda item: (item[0][1], item[0][0])):
        template = sales[0][1].template
        first = min(p for p, _ln in sales).astimezone(bogota).date()
        last = max(p for p, _ln in sales)
        available_from = first - timedelta(days=rng.randint(3, 12))
        usual = sorted(ln.price for _p, ln in sales if not ln.outlier) or [sales[0][1].price]
        stated = template.unit_kg if units.UNITS[template.unit].needs_weight else None
        per_unit = (usual[len(usual) // 2] * units.unit_weight(template.unit, stated)).quantize(Decimal("1"))
        lot_rows.append({
            "cooperative_id": template.cooperative_id, "product_id": template.product_id,
            "grade_id": template.grade_id, "status": ListingStatus.ACTIVE, "unit": template.unit,
            "unit_kg": template.unit_kg, "quantity_kg": sum((ln.kg for _p, ln in sales), Decimal(0)),
            "available_kg": Decimal(0), "min_order_kg": None, "price_per_unit": per_unit,
            "price_per_kg": units.price_per_kg(per_unit, template.unit, stated),
            "harvest_date": available_from - timedelta(days=rng.randint(0, 6)), "available_from": available_from,
            "available_until": min(last.astimezone(bogota).date() + timedelta(days=rng.randint(3, 12)),
                                   today - timedelta(days=1)),
            "collection_point_id": template.collection_point_id,
            "certifications": list(template.certifications or []), "description": None,
            "municipality_code": template.municipality_code, "department_code": template.department_code,
            "pdet_subregion": template.pdet_subregion, "latitude": template.latitude,
            "longitude": template.longitude, "created_by_id": managers[template.cooperative_id].id,
            "created_at": datetime.combine(available_from, time(7, rng.randint(0, 59)), bogota).astimezone(UTC),
            "updated_at": last,
        })
        for _p, ln in sales:
            lot_of[id(ln)] = len(lot_rows) - 1

    # Logistics as quoted when the order was placed: the transport model from the
    # collection point to the site, or a flat per-kg estimate where it has no answer.
    points = {ln.template.collection_point_id: ln.template for ln in lines}
    sites = {s.id: s for b in buyers for s in b.delivery_sites if s.active}
    try:
        quoter = logistics.Quoter.load(list(points), list(sites))
    except DomainError:
        quoter = None

    def estimate(template, site, kg: Decimal) -> tuple[Decimal, Decimal | None, str | None]:
        if quoter is not None:
            try:
                quoted = quoter.quote(_Pickup(template.collection_point_id, "", template.latitude,
                                              template.longitude), site, kg)
                return quoted.total_cop, quoted.road_km, quoted.main_mode
            except DomainError:
                pass
        return (kg * Decimal(220)).quantize(Decimal("1")), None, None

    cents = Decimal("0.01")

    def pct(amount: Decimal, percent: Decimal) -> Decimal:
        return (amount * percent / Decimal(100)).quantize(Decimal("1"), ROUND_HALF_UP)

    def bogota_time(day, earliest: int = 8, latest: int = 16) -> datetime:
        return datetime.combine(day, time(rng.randint(earliest, latest), rng.randint(0, 59)), bogota).astimezone(UTC)

    def daytime(moment: datetime) -> datetime:
        """The moment, or the next morning's if it falls at night (never earlier)."""
        local = moment.astimezone(bogota)
        if 6 <= local.hour < 19:
            return moment
        day = local.date() if local.hour < 6 else local.date() + timedelta(days=1)
        return bogota_time(day, 6, 9)

    order_rows, part_rows = [], []  # part_rows: (order position, part row, its line rows, its events)
    transfers = 0
    for n, (buyer, placed, method, parts, fates) in enumerate(planned, start=1):
        placer = rng.choice(purchasers[buyer.id])
        active_sites = [s for s in buyer.delivery_sites if s.active]
        site = active_sites[0] if len(active_sites) == 1 or rng.random() < 0.75 else rng.choice(active_sites[1:])
        placed_day = placed.astimezone(bogota).date()
        window_start = placed_day + timedelta(days=rng.randint(2, 5))
        window_end = window_start + timedelta(days=rng.randint(4, 10))
        card = method == PaymentMethod.CARD
        card_paid = card and fates[next(iter(fates))] != "unpaid"
        order = {
            "buyer_id": buyer.id, "delivery_site_id": site.id, "placed_by_id": placer.id, "placed_at": placed,
            "window_start": window_start, "window_end": window_end, "note": None, "payment_method": method,
            "payment_status": PaymentStatus.PAID if card_paid else PaymentStatus.PENDING,
            "fee_percent": fee_percent, "amount_paid": Decimal(0), "refunded_total": Decimal(0),
            "pay_by": placed + timedelta(minutes=card_minutes) if card else None,
            "idempotency_key": f"{HISTORY_KEY}{n:05d}", "request_hash": None,
            "stripe_payment_intent_id": f"pi_demo_hist_{n:05d}" if card_paid else None,
            "stripe_client_secret": None,
            "invoice_due_date": None if card else placed_day + timedelta(days=terms),
            "paid_at": placed + timedelta(minutes=rng.randint(3, 50)) if card_paid else None,
            "bank_reference": None, "marked_paid_by_id": None,
        }
        these = []
        for coop_id, part_lines in parts.items():
            kg = sum((ln.kg for ln in part_lines), Decimal(0))
            cost, road_km, mode = estimate(part_lines[0].template, site, kg)
            goods = sum(((ln.kg * ln.price).quantize(cents, ROUND_HALF_UP) for ln in part_lines), Decimal(0))
            part = {
                "cooperative_id": coop_id, "status": PartStatus.PLACED,
                "respond_by": placed + timedelta(hours=accept_hours), "goods_amount": goods,
                "logistics_estimate": cost, "logistics_mode": mode, "road_km": road_km,
                "fee_amount": pct(goods, fee_percent), "coop_fee_percent": coop_percent,
                "logistics_borne": Decimal(0), "logistics_actual": None, "payout_status": PayoutStatus.PENDING,
                "payout_due_date": None, "payout_reference": None, "decline_reason": None, "updated_at": placed,
            }
            line_rows = []
            for ln in part_lines:
                stated = ln.template.unit_kg if units.UNITS[ln.unit].needs_weight else None
                line_rows.append({
                    "lot": lot_of[id(ln)], "product_id": ln.template.product_id, "grade_id": ln.template.grade_id,
                    "municipality_code": ln.template.municipality_code,
                    "collection_point_id": ln.template.collection_point_id, "quantity_kg": ln.kg, "unit": ln.unit,
                    "unit_kg": units.unit_weight(ln.unit, stated), "price_per_kg": ln.price, "received_kg": None,
                    "quality": Quality.PENDING, "rejection_reason": None, "rejection_photo_key": None,
                    "logistics_actual": None,
                })
            manager = managers[coop_id]
            steps = [(None, PartStatus.PLACED, placer, placed, None)]
            fate = fates[coop_id]
            answered = daytime(placed + timedelta(hours=rng.uniform(1, 30)))
            if fate == "unpaid":
                steps.append((PartStatus.PLACED, PartStatus.CANCELLED, None,
                              placed + timedelta(minutes=card_minutes + rng.randint(2, 14)), "unpaid"))
            elif fate == "declined":
                part["decline_reason"] = rng.choice(DECLINE_REASONS)
                steps.append((PartStatus.PLACED, PartStatus.DECLINED, manager, answered, part["decline_reason"]))
            elif fate == "cancelled" and rng.random() < 0.5:
                steps.append((PartStatus.PLACED, PartStatus.CANCELLED, placer, answered, rng.choice(CANCEL_REASONS)))
            elif fate == "cancelled":
                steps.append((PartStatus.PLACED, PartStatus.ACCEPTED, manager, answered, None))
                steps.append((PartStatus.ACCEPTED, PartStatus.CANCELLED, manager,
                              daytime(answered + timedelta(days=rng.uniform(0.5, 2))), rng.choice(CANCEL_REASONS_COOP)))
            else:
                # Ready, on the road and delivered in working hours, not before the window
                # opens (every order was placed ten days or more before today).
                steps.append((PartStatus.PLACED, PartStatus.ACCEPTED, manager, answered, None))
                ready = daytime(answered + timedelta(hours=rng.uniform(4, 72)))
                left = daytime(ready + timedelta(hours=rng.uniform(2, 30)))
                arrived = daytime(max(left + timedelta(hours=rng.uniform(18, 60)), bogota_time(window_start)))
                steps.append((PartStatus.ACCEPTED, PartStatus.READY, manager, ready, None))
                steps.append((PartStatus.READY, PartStatus.IN_TRANSIT, manager, left, None))
                steps.append((PartStatus.IN_TRANSIT, PartStatus.DELIVERED, placer, arrived, None))
                if rng.random() < 0.35:  # mules or a motorbike to the road, paid by the cooperative
                    part["logistics_borne"] = Decimal(round(float(kg) * rng.randint(15, 60), -3))
                for ln, row in zip(part_lines, line_rows, strict=True):
                    row["received_kg"] = ln.received if ln.received is not None else ln.kg
                    row["quality"] = Quality.ACCEPTED
            part["status"] = steps[-1][1]
            if part["status"] in (PartStatus.DECLINED, PartStatus.CANCELLED):
                part["payout_status"] = PayoutStatus.NONE
            these.append((part, line_rows, steps))
        order["goods_total"] = sum((p["goods_amount"] for p, _l, _s in these), Decimal(0))
        order["logistics_total"] = sum((p["logistics_estimate"] for p, _l, _s in these), Decimal(0))
        order["fee_total"] = sum((p["fee_amount"] for p, _l, _s in these), Decimal(0))
        order["total"] = order["goods_total"] + order["logistics_total"] + order["fee_total"]
        sales = [(p, rows, steps) for p, rows, steps in these if p["status"] == PartStatus.DELIVERED]
        if not sales:
            order["payment_status"] = PaymentStatus.CANCELLED
            order["paid_at"] = order["stripe_payment_intent_id"] = None
        elif card:
            order["amount_paid"] = order["total"]
        else:
            # The invoice, paid some days after the last delivery (or still open).
            paid = bogota_time(max(steps[-1][3] for _p, _r, steps in sales).astimezone(bogota).date()
                               + timedelta(days=rng.randint(4, max(5, terms - 3))), 9, 16)
            if paid < now - timedelta(hours=1):
                due = Decimal(0)
                for p, rows, _steps in sales:
                    gross = sum(((r["received_kg"] * r["price_per_kg"]).quantize(cents, ROUND_HALF_UP)
                                 for r in rows), Decimal(0))
                    due += gross + p["logistics_estimate"] + pct(gross, fee_percent)
                order.update(payment_status=PaymentStatus.PAID, paid_at=paid, marked_paid_by_id=admin.id,
                             bank_reference=f"BANCOLOMBIA-{paid.astimezone(bogota):%y%m%d}{n % 1000:03d}",
                             amount_paid=due)
        # Payouts: due some days after delivery and payment, then transferred by staff.
        for part, _rows, steps in sales:
            if order["payment_status"] == PaymentStatus.PAID:
                owed_from = max(steps[-1][3], order["paid_at"])
                part["payout_status"] = PayoutStatus.DUE
                part["payout_due_date"] = owed_from.astimezone(bogota).date() + timedelta(days=payout_days)
                settled = max(bogota_time(part["payout_due_date"] - timedelta(days=rng.randint(0, 2)), 9, 15),
                              owed_from + timedelta(hours=2))
                if settled < now - timedelta(hours=1):
                    transfers += 1
                    reference = f"TRF-{settled.astimezone(bogota):%y%m%d}-{transfers:04d}"
                    part.update(status=PartStatus.SETTLED, payout_status=PayoutStatus.PAID,
                                payout_reference=reference)
                    steps.append((PartStatus.DELIVERED, PartStatus.SETTLED, admin, settled, reference))
        for part, rows, steps in these:
            part["updated_at"] = steps[-1][3]
            part_rows.append((len(order_rows), part, rows, steps))
        order_rows.append(order)

    # Multi-row INSERTs that give back the new ids in order: a few statements, not one per row.
    lot_ids = _insert_ids(Listing, lot_rows)
    order_ids = _insert_ids(Order, order_rows)
    part_ids = _insert_ids(OrderPart, [dict(part, order_id=order_ids[position])
                                       for position, part, _rows, _steps in part_rows])
    all_lines = [{**{k: v for k, v in row.items() if k != "lot"}, "part_id": part_id, "listing_id": lot_ids[row["lot"]]}
                 for part_id, (_position, _part, rows, _steps) in zip(part_ids, part_rows, strict=True)
                 for row in rows]
    db.session.execute(insert(OrderLine.__table__), all_lines)
    db.session.execute(insert(PartEvent.__table__), [
        {"part_id": part_id, "from_status": before.value if before else None, "to_status": after.value,
         "actor_id": actor.id if actor else None, "occurred_at": moment, "note": note}
        for part_id, (_position, _part, _rows, steps) in zip(part_ids, part_rows, strict=True)
        for before, after, actor, moment, note in steps])
    db.session.execute(insert(ListingChange.__table__), [
        {"listing_id": lot_id, "changed_at": row["created_at"], "actor_id": row["created_by_id"],
         "price_per_kg_before": None, "price_per_kg_after": row["price_per_kg"], "quantity_kg_before": None,
         "quantity_kg_after": row["quantity_kg"], "reason": "created"}
        for lot_id, row in zip(lot_ids, lot_rows, strict=True)])
    audit.record("demo.history_seeded", "demo", "history", actor=admin,
                 after={"orders": len(order_rows), "lines": len(all_lines), "lots": len(lot_rows),
                        "from": months[0].isoformat(), "to": months[-1].isoformat()}, note="demo")
    return len(order_rows), len(all_lines)
