"""The starting catalogue of licit crops of the PDET territories, with their grades and
usual trade units. Staff curate it afterwards; ``seed_catalogue`` only adds what is missing.

Grades follow the commercial classes buyers use: cacao by fermentation and moisture
(NTC 1252), parchment coffee by factor de rendimiento, fruit by caliber and ripeness
(NTC for each fruit), panela by colour and shape. Rank: higher is better.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog.models import Category, Grade, Product
from marketplace.extensions import db

# slug, name, name_en, category, SIPSA name, usual units, grades [(code, name, name_en)] best first
CATALOGUE = [
    ("cacao-grano-seco", "Cacao en grano seco", "Dry cacao beans", Category.CACAO_COFFEE, None,
     ["kg", "arroba", "carga", "bulto", "tonelada"],
     [("premium", "Premium (fermentado, ≤7 % humedad)", "Premium (fermented, ≤7% moisture)"),
      ("corriente", "Corriente (seco, fermentación parcial)", "Standard (dry, partly fermented)"),
      ("pasilla", "Pasilla", "Off-grade")]),
    ("cafe-pergamino-seco", "Café pergamino seco", "Dry parchment coffee", Category.CACAO_COFFEE, None,
     ["kg", "arroba", "carga", "bulto"],
     [("especial", "Especial (taza ≥ 84)", "Specialty (cup ≥ 84)"),
      ("estandar", "Estándar (factor 92-94)", "Standard (yield factor 92-94)"),
      ("pasilla", "Pasilla", "Off-grade")]),
    ("platano-harton", "Plátano hartón", "Hartón plantain", Category.ROOTS_PLANTAIN, "Plátano hartón verde",
     ["kg", "racimo", "canastilla", "bolsa", "tonelada"],
     [("extra", "Extra", "Extra"), ("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("aguacate-hass", "Aguacate Hass", "Hass avocado", Category.FRUIT, "Aguacate Hass",
     ["kg", "canastilla", "caja", "tonelada"],
     [("exportacion", "Exportación", "Export"), ("primera", "Primera (nacional)", "First (domestic)"),
      ("industrial", "Industrial", "Processing")]),
    ("aguacate-papelillo", "Aguacate papelillo", "Papelillo avocado", Category.FRUIT, "Aguacate papelillo",
     ["kg", "canastilla", "bulto"], [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("panela", "Panela", "Panela (non-centrifugal cane sugar)", Category.SWEETENERS, "Panela cuadrada morena",
     ["kg", "arroba", "carga", "caja", "tonelada"],
     [("pulverizada", "Pulverizada", "Powdered"), ("primera", "Bloque primera", "Block, first"),
      ("segunda", "Bloque segunda", "Block, second")]),
    ("yuca", "Yuca", "Cassava", Category.ROOTS_PLANTAIN, "Yuca criolla", ["kg", "bulto", "tonelada"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second"), ("industrial", "Industrial", "Processing")]),
    ("maracuya", "Maracuyá", "Passion fruit", Category.FRUIT, "Maracuyá", ["kg", "canastilla", "caja", "tonelada"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second"), ("industrial", "Industrial (pulpa)", "Processing (pulp)")]),
    ("limon-tahiti", "Limón Tahití", "Tahiti lime", Category.FRUIT, "Limón Tahití", ["kg", "canastilla", "bulto", "caja"],
     [("exportacion", "Exportación", "Export"), ("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("pina-gold", "Piña gold", "Gold pineapple", Category.FRUIT, "Piña gold", ["kg", "caja", "tonelada"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("papaya-maradol", "Papaya Maradol", "Maradol papaya", Category.FRUIT, "Papaya Maradol", ["kg", "canastilla", "caja"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("maiz-blanco", "Maíz blanco", "White maize", Category.GRAINS, "Maíz blanco trillado", ["kg", "bulto", "arroba", "tonelada"],
     [("primera", "Primera (seco, limpio)", "First (dry, clean)"), ("segunda", "Segunda", "Second")]),
    ("arroz-paddy", "Arroz paddy seco", "Dry paddy rice", Category.GRAINS, "Arroz de primera", ["kg", "bulto", "tonelada"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("frijol", "Fríjol", "Beans", Category.GRAINS, None, ["kg", "arroba", "bulto"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("name", "Ñame", "Yam", Category.ROOTS_PLANTAIN, None, ["kg", "bulto", "tonelada"],
     [("exportacion", "Exportación", "Export"), ("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("aji", "Ají", "Chili pepper", Category.VEGETABLES, None, ["kg", "canastilla", "bulto"],
     [("primera", "Primera", "First"), ("industrial", "Industrial", "Processing")]),
    ("caucho", "Caucho natural (lámina)", "Natural rubber (sheet)", Category.INDUSTRIAL, None, ["kg", "tonelada"],
     [("rss1", "Lámina ahumada RSS 1", "Ribbed smoked sheet RSS 1"), ("rss3", "Lámina RSS 3", "RSS 3"),
      ("ripio", "Ripio", "Scrap")]),
    ("miel-abejas", "Miel de abejas", "Honey", Category.SWEETENERS, None, ["kg", "caja"],
     [("primera", "Primera (≤ 20 % humedad)", "First (≤ 20% moisture)"), ("segunda", "Segunda", "Second")]),
    ("quinua", "Quinua", "Quinoa", Category.GRAINS, None, ["kg", "arroba", "bulto"],
     [("lavada", "Lavada (sin saponina)", "Washed (saponin-free)"), ("natural", "Natural", "Unwashed")]),
    ("sacha-inchi", "Sacha inchi", "Sacha inchi", Category.INDUSTRIAL, None, ["kg", "arroba", "bulto"],
     [("almendra", "Almendra pelada", "Shelled kernel"), ("capsula", "En cápsula", "In shell")]),
    ("pescado-estanque", "Pescado de estanque (tilapia, cachama)", "Farmed fish (tilapia, cachama)", Category.FISH, None,
     ["kg", "caja"], [("eviscerado", "Eviscerado fresco", "Fresh, gutted"), ("entero", "Entero", "Whole")]),
    ("coco", "Coco", "Coconut", Category.FRUIT, None, ["kg", "bulto"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
    ("banano", "Banano", "Banana", Category.FRUIT, None, ["kg", "racimo", "caja", "tonelada"],
     [("exportacion", "Exportación", "Export"), ("primera", "Primera", "First"), ("rechazo", "Rechazo", "Reject")]),
    ("pimienta", "Pimienta", "Black pepper", Category.INDUSTRIAL, None, ["kg", "arroba"],
     [("primera", "Primera", "First"), ("segunda", "Segunda", "Second")]),
]


def seed_catalogue() -> int:
    """Add the products, grades and usual units that are missing; returns how many rows were
    added. Units are only added (cacao gained cargas), never taken from what staff curated."""
    added = 0
    existing = {p.slug: p for p in db.session.scalars(select(Product))}
    for slug, name, name_en, category, sipsa_name, units, grades in CATALOGUE:
        product = existing.get(slug)
        if product is None:
            product = Product(slug=slug, name=name, name_en=name_en, category=category, sipsa_name=sipsa_name,
                              usual_units=list(units), active=True)
            db.session.add(product)
            added += 1
        else:
            missing = [u for u in units if u not in (product.usual_units or [])]
            if missing:
                product.usual_units = list(product.usual_units or []) + missing
        known = {g.code for g in product.grades}
        for rank, (code, grade_name, grade_en) in enumerate(reversed(grades), start=1):
            if code not in known:
                db.session.add(Grade(product=product, code=code, name=grade_name, name_en=grade_en, rank=rank * 10))
                added += 1
    db.session.flush()
    return added
