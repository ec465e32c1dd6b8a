"""Real-looking plots in Colombian municipalities, as people type them (latitude first).

The coordinates are invented but placed in the rural areas of the named municipalities,
near their seats, with areas of the size cacao and coffee plots have there.
"""

# Cacao in Tumaco (Nariño, 52835), about 5.25 ha.
TUMACO_CACAO = """1.741200, -78.652300
1.741250, -78.650280
1.739190, -78.650210
1.739160, -78.652350"""
TUMACO_CODE = "52835"

# Coffee in Planadas (Tolima, 73555), about 2.56 ha, typed with spaces.
PLANADAS_CAFE = """3.214630 -75.630120
3.214710 -75.628930
3.213150 -75.628610
3.212980 -75.629980"""
PLANADAS_CODE = "73555"

# Coffee in Chaparral (Tolima, 73168), about 2.65 ha, typed with decimal commas.
CHAPARRAL_CAFE = """3,745210; -75,512340
3,745380; -75,510950
3,743920; -75,510720
3,743700; -75,512180"""
CHAPARRAL_CODE = "73168"

# A 3.2 ha cacao plot in San Vicente del Caguán (Caquetá, 18753), given as a point.
CAGUAN_POINT = "2.131845, -74.781320"
CAGUAN_CODE = "18753"


def corners(typed: str) -> list[tuple[str, str]]:
    """(longitude, latitude) texts of a ring typed latitude first with dots."""
    out = []
    for line in typed.splitlines():
        lat, lon = line.replace(",", " ").split()
        out.append((lon, lat))
    return out


def ring_text(typed: str, close: bool = True, swap: bool = False) -> str:
    """A GeoJSON ring's text with the decimals as typed: longitude first unless ``swap``."""
    ring = corners(typed)
    if close:
        ring.append(ring[0])
    return "[" + ", ".join(f"[{lat}, {lon}]" if swap else f"[{lon}, {lat}]" for lon, lat in ring) + "]"


def geojson_polygon(typed: str, close: bool = True, swap: bool = False) -> str:
    """GeoJSON Polygon text (longitude first, decimals as typed, ring closed)."""
    return '{"type": "Polygon", "coordinates": [' + ring_text(typed, close, swap) + "]}"


def kml_polygon(typed: str, name: str = "Parcela") -> str:
    """A KML document with one Placemark holding the ring (lon,lat,alt as GPS apps write)."""
    ring = corners(typed)
    ring.append(ring[0])
    coordinates = " ".join(f"{lon},{lat},0" for lon, lat in ring)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Finca</name>
<Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing>
<coordinates>{coordinates}</coordinates>
</LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"""
