"""Colombia and its municipalities approximated from the DIVIPOLA seats."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from marketplace.traceability import territory


def _point(lat: float, lon: float) -> Point:
    return Point(lon, lat)


def test_every_seat_is_inside_colombia_and_inside_its_own_cell():
    seats = territory.seats()
    assert len(seats) == 1122
    for seat in seats.values():
        where = _point(seat.latitude, seat.longitude)
        assert territory.in_colombia(where), seat
        assert territory.distance_to_municipality_km(where, seat.code) == 0.0, seat


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Quito", -0.180653, -78.467838),
        ("Caracas", 10.480594, -66.903606),
        ("Ciudad de Panamá", 8.982379, -79.519870),
        ("Pacífico abierto", 3.0, -80.0),
        ("0,0 en el golfo de Guinea", 0.0, 0.0),
        ("Maracaibo", 10.654234, -71.640351),
        ("Iquitos", -3.749120, -73.253830),
        ("Manaos", -3.119028, -60.021731),
    ],
)
def test_obvious_outsides_are_not_colombia(place, lat, lon):
    assert not territory.in_colombia(_point(lat, lon)), place


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Punta Gallinas, la punta norte de La Guajira", 12.458300, -71.668300),
        ("Leticia", -4.215300, -69.940600),
        ("Puerto Carreño", 6.189000, -67.485900),
        ("Providencia", 13.348900, -81.374600),
        ("Cabo Manglares", 1.600000, -79.000000),
    ],
)
def test_border_places_are_colombia(place, lat, lon):
    assert territory.in_colombia(_point(lat, lon)), place


def test_a_municipality_cell_and_its_tolerance_in_kilometres():
    tumaco = territory.seats()["52835"]
    seat = _point(tumaco.latitude, tumaco.longitude)
    assert territory.within_municipality(seat, "52835")
    # Pasto's seat is about 160 km from Tumaco's cell: far beyond any tolerance.
    pasto = territory.seats()["52001"]
    far = territory.distance_to_municipality_km(_point(pasto.latitude, pasto.longitude), "52835")
    assert 100 < far < 250
    assert not territory.within_municipality(_point(pasto.latitude, pasto.longitude), "52835")
    assert territory.within_municipality(_point(pasto.latitude, pasto.longitude), "52835", far + 1)
    assert territory.within_municipality(seat, "99999") is None


def test_distances_are_metres_not_degrees():
    # Two neighbouring seats: Planadas's seat is outside Chaparral's cell, at a distance that
    # must be a plausible number of km (half the 59 km between the seats, give or take),
    # not a fraction of a degree.
    seats = territory.seats()
    planadas = seats["73555"]
    distance = territory.distance_to_municipality_km(
        _point(planadas.latitude, planadas.longitude), "73168"
    )
    assert 5 < distance < 60


def test_shapes_are_built_once_and_cached():
    """Built once per process (their cost is in benchmarks, not here): later calls return the
    very same shapes."""
    territory.colombia.cache_clear()
    territory._cells.cache_clear()
    territory.seats.cache_clear()
    country = territory.colombia()
    territory.municipality_area("52835")
    assert territory.colombia.cache_info().misses == 1
    assert territory.colombia() is country
    assert territory.colombia.cache_info().hits >= 1
