"""SVG charts: valid, accessible, escaped, and robust to gaps and flat data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.insights.charts import (
    MAX_X_LABELS,
    STYLES,
    Series,
    bar_chart,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "x" \'y\' onload="alert(2)"'


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output, parsed to check it is XML


def weeks(count: int, value=lambda i: Decimal(1000 + 10 * i)) -> list[tuple[str, Decimal | None]]:
    return [(f"2025-W{i + 1:02d}", value(i)) for i in range(count)]


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def group(root: ET.Element, **attrs) -> ET.Element:
    for el in root.iter(f"{SVG}g"):
        if all(el.get(k.replace("_", "-")) == v for k, v in attrs.items()):
            return el
    raise AssertionError(f"no <g> with {attrs}")


def x_axis_labels(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in group(root, text_anchor="middle").iter(f"{SVG}text")]


def path_ys(d: str) -> list[float]:
    return [float(y) for y in re.findall(r"[\d.]+,([\d.]+)", d)]


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_svg_is_accessible_and_scales(chart):
    markup = chart([Series("Cacao", weeks(6))], title="Precio del cacao", y_label="COP/kg")
    root = parse(markup)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == "Precio del cacao"
    assert desc is not None and "Cacao" in desc.text and "1.050" in desc.text
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    assert root.get("width") == "100%" and root.get("height") is None


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_no_script_handlers_styles_or_external_resources(chart):
    raw = str(chart([Series("A", weeks(3)), Series("B", weeks(3))], title="t", y_label="kg"))
    root = parse(raw)
    for el in root.iter():
        assert el.tag not in {f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject", f"{SVG}image"}
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on")
            assert name != "style"
            assert "javascript:" not in value.lower()
            if name.endswith("href") or value.startswith("url("):
                assert value.startswith(("#", "url(#"))
    assert "http" not in raw.replace('xmlns="http://www.w3.org/2000/svg"', "")


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_hostile_text_is_escaped_everywhere(chart):
    markup = chart(
        [Series(HOSTILE, [(HOSTILE, Decimal(5)), ("b", Decimal(7))])],
        title=HOSTILE, y_label=HOSTILE, y_format=lambda d: f"{d} <b>&",
    )
    raw = str(markup)
    assert "<script" not in raw and "<b>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;" in raw
    root = parse(raw)  # quotes in labels did not break out of an attribute
    assert all(not name.startswith("on") for el in root.iter() for name in el.attrib)
    assert root.find(f"{SVG}title").text == HOSTILE
    shown = texts(root)
    assert HOSTILE in shown  # the legend shows the label as text
    assert HOSTILE in root.find(f"{SVG}desc").text
    assert any(t.endswith(" <b>&") for t in shown)


def test_none_values_leave_gaps_not_zeros():
    points = weeks(8, lambda i: None if i in (3, 4) else Decimal(100 + i))
    root = parse(line_chart([Series("Café", points)], title="t"))
    paths = [p.get("d") for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(paths) == 1
    assert paths[0].count("M") == 2  # two runs: weeks 1-3 and 6-8
    assert len(path_ys(paths[0])) == 6  # no point drawn for the missing weeks
    assert "nan" not in str(root.attrib).lower()


def test_isolated_value_gets_a_marker_even_when_markers_are_off():
    points = weeks(40, lambda i: Decimal(50) if i == 20 else None)
    points[0] = ("2025-W01", Decimal(10))
    points[1] = ("2025-W02", Decimal(12))
    root = parse(line_chart([Series("Café", points)], title="t"))
    markers = list(root.iter(f"{SVG}circle"))
    # 40 categories: no marker on joined points, one on the lone week 21 (the legend has one too).
    legend = group(root, **{"class": "legend"})
    assert len(markers) - len(list(legend.iter(f"{SVG}circle"))) == 1


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_single_point_and_flat_values_draw_without_division_by_zero(chart):
    one = parse(chart([Series("Solo", [("ene", Decimal("7.5"))])], title="t"))
    assert "7,5" in one.find(f"{SVG}desc").text
    flat = chart([Series("Plano", weeks(5, lambda i: Decimal(3000)))], title="t")
    root = parse(flat)
    raw = str(flat)
    assert "nan" not in raw.lower() and "inf" not in raw.lower()
    if chart is line_chart:
        d = next(p.get("d") for p in root.iter(f"{SVG}path") if p.get("fill") == "none")
        assert len(set(path_ys(d))) == 1
    zero = parse(chart([Series("Cero", weeks(3, lambda i: Decimal(0)))], title="t"))
    assert zero.find(f"{SVG}desc") is not None


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_no_data_says_so(chart):
    root = parse(chart([Series("Nada", weeks(4, lambda i: None))], title="t", lang="en"))
    assert "No data for this period" in texts(root)
    assert root.find(f"{SVG}title").text == "t"
    assert parse(chart([], title="vacío")).find(f"{SVG}desc").text.startswith("Sin datos")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 97, ["0", "20", "40", "60", "80", "100"]),
        (Decimal("3.2"), Decimal("3.9"), ["3.2", "3.4", "3.6", "3.8", "4.0"]),
        (-5, 12, ["-5", "0", "5", "10", "15"]),
        (5, 5, ["4.5", "5.0", "5.5"]),
        (0, 0, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (1_250_000, 9_800_000, ["0", "2000000", "4000000", "6000000", "8000000", "10000000"]),
    ],
)
def test_nice_ticks_examples(low, high, expected):
    assert [str(t) for t in nice_ticks(low, high)] == expected


def test_nice_ticks_need_three_ticks_to_straddle_zero():
    assert [str(t) for t in nice_ticks(Decimal("-0.001"), Decimal("0.001"), 2)] == ["-0.001", "0.000", "0.001"]


@given(
    st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=3),
    st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=3),
    st.integers(min_value=3, max_value=10),
)
def test_nice_ticks_are_1_2_5_steps_covering_the_range(a, b, max_ticks):
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high, max_ticks)
    assert 2 <= len(ticks) <= max_ticks
    assert ticks[0] <= low and ticks[-1] >= high
    steps = {ticks[i + 1] - ticks[i] for i in range(len(ticks) - 1)}
    assert len(steps) == 1
    step = steps.pop()
    assert step > 0
    mantissa = step.scaleb(-step.adjusted()).normalize()
    assert mantissa in {Decimal(1), Decimal(2), Decimal(5)}
    assert all(t % step == 0 for t in ticks)


def test_at_most_eight_x_labels_and_the_latest_is_one_of_them():
    root = parse(line_chart([Series("Cacao", weeks(52))], title="t"))
    labels = x_axis_labels(root)
    assert 2 <= len(labels) <= MAX_X_LABELS
    assert labels[-1] == "2025-W52"
    assert len(set(labels)) == len(labels)
    days = parse(bar_chart([Series("kg", [(str(d), d) for d in range(1, 31)])], title="t", width=2000))
    assert x_axis_labels(days)[-1] == "30" and len(x_axis_labels(days)) == MAX_X_LABELS  # room, but capped
    short = parse(line_chart([Series("Cacao", [("a", 1), ("b", 2), ("c", 3)])], title="t"))
    assert x_axis_labels(short) == ["a", "b", "c"]


def test_bar_categories_all_keep_a_name_shortened_if_needed():
    names = ["San Vicente del Caguán", "Tumaco", "Puerto Asís", "El Tambo", "Planadas"]
    root = parse(bar_chart([Series("kg", [(n, Decimal(10 + i)) for i, n in enumerate(names)])], title="t"))
    labels = x_axis_labels(root)
    assert len(labels) == len(names)
    assert labels[1] == "Tumaco"
    assert all(name.startswith(label.rstrip("…")) for name, label in zip(names, labels, strict=True))


def test_series_differ_by_dash_pattern_and_marker_not_only_colour():
    series = [Series(f"S{i}", weeks(5, lambda j, i=i: Decimal(10 * i + j))) for i in range(4)]
    root = parse(line_chart(series, title="t"))
    lines = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(lines) == 4
    dashes = [p.get("stroke-dasharray") for p in lines]
    assert len(set(dashes)) == 4  # solid (None) plus three patterns
    colours = [g.get("stroke") for g in root.iter(f"{SVG}g") if g.get("stroke", "").startswith("#")]
    assert len(set(colours)) == 4
    assert len({style.marker for style in STYLES[:4]}) == 4
    legend = "".join(group(root, **{"class": "legend"}).itertext())
    assert all(f"S{i}" in legend for i in range(4))


def test_bars_use_distinct_patterns_and_negative_values_hang_below_zero():
    sales = Series("Ventas", [("Nariño", Decimal(100)), ("Cauca", None), ("Meta", Decimal(-40))])
    other = Series("Compras", [("Nariño", Decimal(50)), ("Cauca", Decimal(20)), ("Meta", Decimal(10))])
    root = parse(bar_chart([sales, other], title="t", chart_id="ventas 2025"))
    patterns = [p.get("id") for p in root.iter(f"{SVG}pattern")]
    assert patterns == ["ventas-2025-p1"]  # first series solid, second hatched
    groups = [g for g in root.iter(f"{SVG}g") if g.get("fill") in ("#0072B2", "url(#ventas-2025-p1)")]
    first_bars = list(groups[0].iter(f"{SVG}rect"))
    assert len(first_bars) == 2  # the None slot is empty
    nariño, meta = first_bars
    assert float(meta.get("y")) >= float(nariño.get("y")) + float(nariño.get("height")) - 0.2
    assert len(list(groups[1].iter(f"{SVG}rect"))) == 3


def test_band_is_drawn_with_gaps_and_in_the_legend():
    points = weeks(6)
    band = [(x, Decimal(900), Decimal(1200)) for x, _ in points]
    band[2] = (band[2][0], None, None)
    root = parse(line_chart([Series("Precio", points)], title="t", band=band, band_label="Rango P25–P75"))
    assert len(list(root.iter(f"{SVG}polygon"))) == 2
    assert "Rango P25–P75" in texts(root)
    assert "percentil" in root.find(f"{SVG}desc").text


def test_ids_are_unique_per_chart_and_safe():
    a = parse(line_chart([Series("A", weeks(3))], title="A"))
    b = parse(line_chart([Series("B", weeks(3))], title="B"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")
    c = parse(line_chart([Series("A", weeks(3))], title="A", chart_id='x" onload="y'))
    assert re.fullmatch(r"[A-Za-z][\w-]*-title", c.get("aria-labelledby"))
