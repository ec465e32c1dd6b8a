"""The demo's catalogue and listings: two or three lots per verified cooperative, priced near
the reference, some with a photo made here."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.models import Cooperative, OrgStatus, Role
from marketplace.core.models import bogota_date
from marketplace.extensions import db

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
CUSTOMARY_UNIT = {"cafe-pergamino-seco": "carga"}


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
    from datetime import timedelta

    from flask import current_app

    from marketplace.catalog import photos, services, sipsa
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.catalog.models import CollectionPoint, Listing, Product

    seed_catalogue()
    products = {p.slug: p for p in db.session.scalars(select(Product))}
    storage = photos.LocalStorage(current_app.config["UPLOAD_FOLDER"])
    today = bogota_date()
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
            # The customary trade unit (coffee goes by the carga of 125 kg), else kg.
            customary = CUSTOMARY_UNIT.get(slug, product.usual_units[1] if len(product.usual_units) > 1 else "kg")
            unit = customary if rng.random() < 0.6 else "kg"
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
