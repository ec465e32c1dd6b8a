"""Server-rendered SVG charts: line and bar charts that need no JavaScript.

Pure: imports no Flask, reads no configuration. A view builds the series from a service's
numbers and puts the returned markup in a template, next to an accessible table holding the
same values (the chart is a picture of the table, never the only place a number is shown).

What every chart promises:

* ``<svg role="img">`` labelled by its ``<title>`` and described by its ``<desc>`` (a short
  summary written from the data unless the caller gives one);
* a ``viewBox`` and ``width="100%"`` with no fixed height, so it scales to any screen; the
  font size follows the drawing width (``width / 30`` by default) so text stays legible when a
  640-unit chart is shrunk onto a 360 px phone;
* every piece of text escaped with ``markupsafe.escape`` (labels come from users);
* series told apart by colour *and* by a second cue: a dash pattern and marker shape for
  lines, a hatch pattern for bars (colour-blind readers, grey-scale printouts);
* no script, no event handler, no ``style`` attribute or element (the site's CSP has
  ``style-src 'self'``), no external resource: only SVG presentation attributes;
* ``None`` values leave gaps instead of being drawn as zero; a single value, or values that
  are all equal, draw without dividing by zero;
* y-axis ticks on 1-2-5 steps; at most eight x-axis labels (fewer when they would not fit),
  always including the last, most recent one.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from babel.numbers import format_decimal
from markupsafe import Markup, escape

Number = Decimal | int | float
YFormat = Callable[[Decimal], str]

MAX_X_LABELS = 8
MAX_Y_TICKS = 6
# Longest x label drawn in full; longer ones end in "…" (the table beside has the full text).
MAX_X_LABEL_CHARS = 14
# Line charts with at most this many categories draw a marker on every point.
MARKERS_UP_TO = 24
_FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class SeriesStyle:
    """How one series is drawn: a colour plus a cue that does not depend on colour."""

    colour: str
    dash: str  # stroke-dasharray for lines; "" is a solid line
    marker: str  # circle | square | triangle | diamond
    pattern: str  # bar fill: solid | diagonal | dots | cross | horizontal | vertical


# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), the pale ones
# replaced by darker tones so lines and bars keep about 3:1 contrast against white.
STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#0072B2", "", "circle", "solid"),
    SeriesStyle("#D55E00", "9 5", "square", "diagonal"),
    SeriesStyle("#009E73", "2 5", "triangle", "dots"),
    SeriesStyle("#CC79A7", "12 4 2 4", "diamond", "cross"),
    SeriesStyle("#767676", "5 3", "circle", "horizontal"),
    SeriesStyle("#9E6A00", "14 4 4 4 4 4", "square", "vertical"),
)
BAND_COLOUR = "#767676"


@dataclass(frozen=True)
class Series:
    """One named series: ``points`` are ``(x_label, y)`` pairs, ``y`` None for a gap.

    ``style`` is an index into ``STYLES``, a ``SeriesStyle``, or None for the series'
    position in the chart.
    """

    label: str
    points: Sequence[tuple[str, Number | None]]
    style: int | SeriesStyle | None = None


_TEXT = {
    "es": {
        "line": "Gráfico de líneas",
        "bar": "Gráfico de barras",
        "no_data": "Sin datos para este periodo",
        "from_to": "de {first} a {last}",
        "summary": "{label}: mínimo {low}, máximo {high}, último valor {last} ({x})",
        "empty_series": "{label}: sin datos",
        "band": "P25–P75",
        "band_desc": "La franja sombreada va del percentil 25 al 75",
        "table": "Los valores exactos están en la tabla",
    },
    "en": {
        "line": "Line chart",
        "bar": "Bar chart",
        "no_data": "No data for this period",
        "from_to": "from {first} to {last}",
        "summary": "{label}: lowest {low}, highest {high}, latest {last} ({x})",
        "empty_series": "{label}: no data",
        "band": "P25–P75",
        "band_desc": "The shaded band runs from the 25th to the 75th percentile",
        "table": "The exact values are in the table",
    },
}


# --------------------------------------------------------------------------- numbers


def to_decimal(value: Number | None) -> Decimal | None:
    """A finite Decimal, or None for None, NaN and infinities (drawn as gaps)."""
    if value is None:
        return None
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, float):
            result = Decimal(repr(value))
        else:
            result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return result if result.is_finite() else None


def nice_ticks(low: Number, high: Number, max_ticks: int = MAX_Y_TICKS) -> list[Decimal]:
    """Evenly spaced ticks on a 1-2-5 step that cover ``[low, high]``, at most ``max_ticks`` (>= 3).

    A zero-width range (one value, or all values equal) is widened so the axis still has a
    span: 0 becomes 0..1, any other value ±10 %.
    """
    lo, hi = to_decimal(low), to_decimal(high)
    if lo is None or hi is None:
        raise ValueError("nice_ticks needs two finite numbers")
    # Two ticks cannot cover a range that straddles zero on a nice step: three at least.
    max_ticks = max(3, max_ticks)
    if lo > hi:
        lo, hi = hi, lo
    if lo == hi:
        if lo == 0:
            hi = Decimal(1)
        else:
            pad = abs(lo) / 10
            lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / (max_ticks - 1)
    magnitude = Decimal(1).scaleb(raw.adjusted())
    # Try 1, 2, 5, 10, 20, 50... times the magnitude: once the step reaches the largest
    # absolute value, at most two intervals are needed, so this ends within a few rounds.
    for exponent in range(40):
        step = magnitude.scaleb(exponent // 3) * (1, 2, 5)[exponent % 3]
        first = (lo / step).to_integral_value(rounding=ROUND_FLOOR)
        last = (hi / step).to_integral_value(rounding=ROUND_CEILING)
        if last - first <= max_ticks - 1:
            break
    count = int(last - first)
    # Same precision on every tick, no exponent: 0, 20, 40 rather than 0E+1, 2E+1, 4E+1.
    exponent = min(0, step.normalize().as_tuple().exponent)
    quantum = Decimal(1).scaleb(exponent)
    return [((first + i) * step).quantize(quantum) for i in range(count + 1)]


def default_y_format(lang: str = "es") -> YFormat:
    """Numbers as this site writes them: "1.250.000,5" in Spanish, "1,250,000.5" in English."""
    locale = "es_CO" if lang.startswith("es") else "en_US"

    def fmt(value: Decimal) -> str:
        return format_decimal(value, format="#,##0.###", locale=locale)

    return fmt


# --------------------------------------------------------------------------- drawing helpers


def _n(value: float) -> str:
    """A coordinate with one decimal, no "-0.0"."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _attr(value: object) -> str:
    return str(escape(str(value)))


_NARROW = set("iljtfrI.,:;'!|()[] ")
_WIDE = set("MWmw@%<>=+~&#")


def _text_width(text: str, font: float) -> float:
    """A generous estimate of ``text``'s width in a sans-serif font, in drawing units.

    The server has no font metrics and phones differ (Roboto, San Francisco, DejaVu Sans), so
    this errs wide: labels are spaced for the widest of them.
    """
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 0.34
        elif ch in _WIDE:
            width += 0.9
        elif ch.isupper():
            width += 0.72
        elif ch.isdigit():
            width += 0.64
        else:
            width += 0.6
    return width * font


def _fit(text: str, room: float, font: float) -> str:
    """``text`` shortened with "…" until it fits in ``room`` units (at least two characters)."""
    if _text_width(text, font) <= room:
        return text
    for end in range(len(text) - 1, 1, -1):
        candidate = text[:end].rstrip() + "…"
        if _text_width(candidate, font) <= room:
            return candidate
    return text[:1] + "…"


def _truncate(text: str, max_chars: int) -> str:
    if max_chars < 2:
        return text[:1]
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def _style_for(series: Series, index: int) -> SeriesStyle:
    if isinstance(series.style, SeriesStyle):
        return series.style
    position = series.style if isinstance(series.style, int) else index
    return STYLES[position % len(STYLES)]


def _chart_id(chart_id: str | None, kind: str, title: str, payload: object) -> str:
    if chart_id:
        cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
        return cleaned if cleaned[:1].isalpha() else f"chart-{cleaned}"
    digest = hashlib.sha1(repr((kind, title, payload)).encode(), usedforsecurity=False)
    return f"chart-{digest.hexdigest()[:10]}"


def _x_categories(series: Sequence[Series], band, x_labels: Sequence[str] | None) -> list[str]:
    if x_labels is not None:
        return [str(label) for label in x_labels]
    seen: dict[str, None] = {}
    for one in series:
        for x, _ in one.points:
            seen.setdefault(str(x), None)
    for x, *_ in band or ():
        seen.setdefault(str(x), None)
    return list(seen)


def _label_indexes(count: int, step: int) -> list[int]:
    """Every ``step``-th x position, counted back from the last one (the most recent period)."""
    step = max(1, step)
    return [i for i in range(count) if (count - 1 - i) % step == 0]


def _marker(shape: str, x: float, y: float, r: float, colour: str) -> str:
    fill = f'fill="{_attr(colour)}"'
    if shape == "square":
        return f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(2 * r)}" height="{_n(2 * r)}" {fill}/>'
    if shape == "triangle":
        pts = f"{_n(x)},{_n(y - r * 1.2)} {_n(x + r * 1.1)},{_n(y + r * 0.8)} {_n(x - r * 1.1)},{_n(y + r * 0.8)}"
        return f'<polygon points="{pts}" {fill}/>'
    if shape == "diamond":
        pts = f"{_n(x)},{_n(y - r * 1.3)} {_n(x + r * 1.3)},{_n(y)} {_n(x)},{_n(y + r * 1.3)} {_n(x - r * 1.3)},{_n(y)}"
        return f'<polygon points="{pts}" {fill}/>'
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" {fill}/>'


def _pattern_defs(chart_id: str, styles: Sequence[SeriesStyle], unit: float) -> tuple[str, list[str]]:
    """Hatch patterns for bars; returns the <defs> markup and each style's fill value."""
    defs, fills = [], []
    size = _n(unit)
    for index, style in enumerate(styles):
        colour = _attr(style.colour)
        if style.pattern == "solid":
            fills.append(colour)
            continue
        pid = f"{chart_id}-p{index}"
        line = f'stroke="{colour}" stroke-width="{_n(unit / 4)}"'
        half = _n(unit / 2)
        shapes = {
            "diagonal": f'<path d="M0,{size} L{size},0 M-{half},{half} L{half},-{half} M{half},{_n(unit * 1.5)} L{_n(unit * 1.5)},{half}" {line}/>',
            "dots": f'<circle cx="{half}" cy="{half}" r="{_n(unit / 4)}" fill="{colour}"/>',
            "cross": f'<path d="M0,{half} L{size},{half} M{half},0 L{half},{size}" {line}/>',
            "horizontal": f'<path d="M0,{half} L{size},{half}" {line}/>',
            "vertical": f'<path d="M{half},0 L{half},{size}" {line}/>',
        }
        body = shapes.get(style.pattern, shapes["diagonal"])
        defs.append(
            f'<pattern id="{pid}" width="{size}" height="{size}" patternUnits="userSpaceOnUse">'
            f'<rect width="{size}" height="{size}" fill="{colour}" fill-opacity="0.25"/>{body}</pattern>'
        )
        fills.append(f"url(#{pid})")
    return ("<defs>" + "".join(defs) + "</defs>") if defs else "", fills


# --------------------------------------------------------------------------- layout


@dataclass
class _Layout:
    width: float
    height: float
    font: float
    left: float
    right: float
    top: float
    bottom: float
    x_labels: list[str]
    legend_rows: int


def _describe(kind: str, categories: list[str], series: Sequence[Series], values, fmt: YFormat,
              lang: str, band_present: bool) -> str:
    text = _TEXT[lang]
    parts = [text[kind]]
    if len(categories) > 1:
        parts[0] += " " + text["from_to"].format(first=categories[0], last=categories[-1])
    elif categories:
        parts[0] += f" ({categories[0]})"
    for one, ys in zip(series, values, strict=True):
        present = [(x, y) for x, y in zip(categories, ys, strict=True) if y is not None]
        if not present:
            parts.append(text["empty_series"].format(label=one.label))
            continue
        numbers = [y for _, y in present]
        parts.append(text["summary"].format(
            label=one.label, low=fmt(min(numbers)), high=fmt(max(numbers)),
            last=fmt(present[-1][1]), x=present[-1][0]))
    if band_present:
        parts.append(text["band_desc"])
    parts.append(text["table"])
    return ". ".join(parts) + "."


def _legend_items(entries: list[tuple[str, str]], width: float, font: float,
                  pad: float) -> tuple[list[tuple[str, str, float, int]], int]:
    """Flow legend entries ``(label, key)`` into rows; returns their positions and the row count."""
    sample = font * 2.2
    gap = font * 0.4
    spacing = font * 1.1
    placed, x, row = [], pad, 0
    for label, key in entries:
        label = _fit(label, width - 2 * pad - sample - gap, font)
        item_w = sample + gap + _text_width(label, font)
        if x > pad and x + item_w > width - pad:
            row += 1
            x = pad
        placed.append((label, key, x, row))
        x += item_w + spacing
    return placed, (row + 1 if entries else 0)


def _layout(width: float, height: float, font: float | None, tick_labels: list[str],
            categories: list[str], legend_entries: list[tuple[str, str]], y_label: str,
            edge_labels: bool) -> tuple[_Layout, list]:
    font = font or max(12.0, width / 30)
    pad = font * 0.5
    placed, rows = _legend_items(legend_entries, width, font, pad)
    top = pad + rows * font * 1.5 + (font * 1.5 if y_label else 0) + font * 0.5
    x_labels = [_truncate(c, MAX_X_LABEL_CHARS) for c in categories]
    tick_w = max((_text_width(t, font) for t in tick_labels), default=font)
    left = pad + tick_w + pad
    right = width - pad
    if edge_labels and x_labels:
        # Line charts put the first and last labels on the plot's edges: leave room for them.
        left = max(left, pad + _text_width(x_labels[0], font) / 2)
        right = min(right, width - pad - _text_width(x_labels[-1], font) / 2)
    left = min(left, width * 0.45)
    bottom_room = font * 1.9
    min_plot = font * 5
    total_h = max(height, top + min_plot + bottom_room)
    bottom = total_h - bottom_room
    return _Layout(width, total_h, font, left, right, top, bottom, x_labels, rows), placed


# --------------------------------------------------------------------------- rendering


def _frame(chart_id: str, layout: _Layout, title: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'viewBox="0 0 {_n(layout.width)} {_n(layout.height)}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" font-family="{_attr(_FONT_FAMILY)}" '
        f'font-size="{_n(layout.font)}" fill="currentColor">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    # Every value interpolated above and in ``body`` went through escape() or is a number.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _axes(layout: _Layout, ticks: list[Decimal], fmt: YFormat, y_label: str,
          legend_rows: int, scale: Callable[[Decimal], float]) -> list[str]:
    out = ['<g stroke="currentColor" stroke-opacity="0.18" stroke-width="1">']
    for tick in ticks:
        y = _n(scale(tick))
        out.append(f'<line x1="{_n(layout.left)}" y1="{y}" x2="{_n(layout.right)}" y2="{y}"/>')
    out.append("</g>")
    baseline = Decimal(0) if ticks[0] <= 0 <= ticks[-1] else ticks[0]
    y0 = _n(scale(baseline))
    out.append(
        f'<line x1="{_n(layout.left)}" y1="{y0}" x2="{_n(layout.right)}" y2="{y0}" '
        f'stroke="currentColor" stroke-opacity="0.6" stroke-width="1.5"/>'
    )
    out.append('<g text-anchor="end">')
    for tick in ticks:
        out.append(
            f'<text x="{_n(layout.left - layout.font * 0.4)}" y="{_n(scale(tick) + layout.font * 0.35)}">'
            f"{escape(fmt(tick))}</text>"
        )
    out.append("</g>")
    if y_label:
        y = layout.font * 0.5 + legend_rows * layout.font * 1.5 + layout.font * 1.1
        out.append(f'<text x="{_n(layout.font * 0.5)}" y="{_n(y)}" font-weight="600">{escape(y_label)}</text>')
    return out


def _x_axis(layout: _Layout, positions: list[float], *, shorten: bool = False) -> list[str]:
    """At most MAX_X_LABELS labels, fewer when their text would overlap.

    With ``shorten`` (bar charts of a few categories) every category keeps its label,
    shortened to its slot, since a bar without a name means nothing; otherwise (time series)
    labels are skipped, counting back from the last one.
    """
    font = layout.font
    count = len(positions)
    gap = font * 0.8
    labels = list(layout.x_labels)
    spacing = positions[1] - positions[0] if count > 1 else layout.right - layout.left
    if shorten and count <= MAX_X_LABELS:
        labels = [_fit(label, spacing - gap, font) for label in labels]
    widest = max((_text_width(label, font) for label in labels), default=font)
    step = max(math.ceil((widest + gap) / spacing), math.ceil(count / MAX_X_LABELS), 1)
    y = _n(layout.bottom + font * 1.3)
    edge = font * 0.25
    placed: list[str] = []
    limit = layout.width - edge
    for i in reversed(_label_indexes(count, step)):
        label = labels[i]
        half = _text_width(label, font) / 2
        # Keep the first and last labels inside the drawing rather than cut at its edge,
        # and drop a label that would then touch its right-hand neighbour.
        x = min(max(positions[i], edge + half), layout.width - edge - half)
        if x + half > limit:
            continue
        placed.append(f'<text x="{_n(x)}" y="{y}">{escape(label)}</text>')
        limit = x - half - gap
    return ['<g text-anchor="middle">', *reversed(placed), "</g>"]


def _legend(placed, layout: _Layout, swatch: Callable[[str, float, float], str]) -> list[str]:
    out = ['<g class="legend">']
    font = layout.font
    for label, key, x, row in placed:
        y = font * 0.5 + row * font * 1.5 + font
        out.append(swatch(key, x, y - font * 0.35))
        out.append(f'<text x="{_n(x + font * 2.6)}" y="{_n(y)}">{escape(label)}</text>')
    out.append("</g>")
    return out


def _no_data(chart_id: str, width: float, height: float, font: float | None, title: str,
             desc: str | None, lang: str) -> Markup:
    font = font or max(12.0, width / 30)
    layout = _Layout(width, height, font, 0, width, 0, height, [], 0)
    message = _TEXT[lang]["no_data"]
    body = [f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle">{escape(message)}</text>']
    return _frame(chart_id, layout, title, desc or f"{message}.", body)


def _prepare(series: Sequence[Series], categories: list[str]) -> list[list[Decimal | None]]:
    index = {x: i for i, x in enumerate(categories)}
    values = []
    for one in series:
        ys: list[Decimal | None] = [None] * len(categories)
        for x, y in one.points:
            position = index.get(str(x))
            if position is not None:
                ys[position] = to_decimal(y)
        values.append(ys)
    return values


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    band: Sequence[tuple[str, Number | None, Number | None]] | None = None,
    band_label: str | None = None,
    x_labels: Sequence[str] | None = None,
    width: int = 640,
    height: int = 280,
    y_format: YFormat | None = None,
    include_zero: bool = False,
    description: str | None = None,
    font_size: float | None = None,
    chart_id: str | None = None,
    lang: str = "es",
) -> Markup:
    """A line chart of ``series`` over shared x categories, as inline SVG markup.

    ``x_labels`` fixes the categories and their order; by default they are the x labels in
    the order first seen (first series first, then the band). ``band`` shades an interquartile
    range (``(x_label, low, high)``, None for a gap). ``description`` replaces the generated
    ``<desc>``. ``chart_id`` makes the ids unique on a page holding two charts with the same
    title and data; by default it is derived from the content.
    """
    lang = "en" if lang.startswith("en") else "es"
    fmt = y_format or default_y_format(lang)
    band = list(band or [])
    categories = _x_categories(series, band, x_labels)
    values = _prepare(series, categories)
    band_values: list[tuple[Decimal | None, Decimal | None]] = [(None, None)] * len(categories)
    index = {x: i for i, x in enumerate(categories)}
    for x, low, high in band:
        if str(x) in index:
            lo, hi = to_decimal(low), to_decimal(high)
            if lo is not None and hi is not None and lo > hi:
                lo, hi = hi, lo
            band_values[index[str(x)]] = (lo, hi) if lo is not None and hi is not None else (None, None)
    band_present = any(lo is not None for lo, _ in band_values)
    cid = _chart_id(chart_id, "line", title, (
        [(s.label, list(s.points)) for s in series], band, categories, y_label))
    numbers = [y for ys in values for y in ys if y is not None]
    numbers += [v for pair in band_values for v in pair if v is not None]
    if not numbers:
        return _no_data(cid, width, height, font_size, title, description, lang)
    if include_zero:
        numbers.append(Decimal(0))
    ticks = nice_ticks(min(numbers), max(numbers))
    styles = [_style_for(one, i) for i, one in enumerate(series)]
    entries = [(one.label, f"s{i}") for i, one in enumerate(series)]
    if band_present:
        entries.append((band_label or _TEXT[lang]["band"], "band"))
    layout, placed = _layout(width, height, font_size, [fmt(t) for t in ticks], categories,
                             entries, y_label, edge_labels=True)
    font = layout.font
    plot_w = layout.right - layout.left
    plot_h = layout.bottom - layout.top
    count = len(categories)
    xs = ([layout.left + plot_w / 2] if count == 1
          else [layout.left + i * plot_w / (count - 1) for i in range(count)])
    span = ticks[-1] - ticks[0]

    def scale(value: Decimal) -> float:
        return layout.bottom - float((value - ticks[0]) / span) * plot_h

    body = _axes(layout, ticks, fmt, y_label, layout.legend_rows, scale)
    if band_present:
        body.append(f'<g fill="{BAND_COLOUR}" fill-opacity="0.22" stroke="none">')
        run: list[int] = []
        for i in [*range(count), None]:
            if i is not None and band_values[i][0] is not None:
                run.append(i)
                continue
            if len(run) == 1:
                j = run[0]
                lo, hi = band_values[j]
                body.append(f'<rect x="{_n(xs[j] - font * 0.3)}" y="{_n(scale(hi))}" width="{_n(font * 0.6)}" '
                            f'height="{_n(max(1.0, scale(lo) - scale(hi)))}"/>')
            elif run:
                upper = [f"{_n(xs[j])},{_n(scale(band_values[j][1]))}" for j in run]
                lower = [f"{_n(xs[j])},{_n(scale(band_values[j][0]))}" for j in reversed(run)]
                body.append(f'<polygon points="{" ".join(upper + lower)}"/>')
            run = []
        body.append("</g>")
    stroke_w = max(2.0, font / 6)
    radius = font / 4
    for ys, style in zip(values, styles, strict=True):
        segments, current = [], []
        for i, y in enumerate(ys):
            if y is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append((xs[i], scale(y)))
        if current:
            segments.append(current)
        path = " ".join(
            "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in segment) for segment in segments if len(segment) > 1
        )
        colour = _attr(style.colour)
        dash = f' stroke-dasharray="{_attr(style.dash)}"' if style.dash else ""
        body.append(f'<g stroke="{colour}" fill="{colour}">')
        if path:
            body.append(f'<path d="{path}" fill="none" stroke-width="{_n(stroke_w)}" '
                        f'stroke-linejoin="round" stroke-linecap="round"{dash}/>')
        for segment in segments:
            # A lone value between gaps has no line: its marker is the only thing showing it.
            if len(segment) == 1 or count <= MARKERS_UP_TO:
                for x, y in segment:
                    body.append(_marker(style.marker, x, y, radius * (1.4 if len(segment) == 1 else 1), style.colour))
        body.append("</g>")
    body += _x_axis(layout, xs)

    def swatch(key: str, x: float, y: float) -> str:
        if key == "band":
            return (f'<rect x="{_n(x)}" y="{_n(y - font * 0.4)}" width="{_n(font * 2.2)}" '
                    f'height="{_n(font * 0.8)}" fill="{BAND_COLOUR}" fill-opacity="0.3"/>')
        style = styles[int(key[1:])]
        dash = f' stroke-dasharray="{_attr(style.dash)}"' if style.dash else ""
        return (f'<g><line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + font * 2.2)}" y2="{_n(y)}" '
                f'stroke="{_attr(style.colour)}" stroke-width="{_n(stroke_w)}"{dash}/>'
                f'{_marker(style.marker, x + font * 1.1, y, radius, style.colour)}</g>')

    body += _legend(placed, layout, swatch)
    desc = description or _describe("line", categories, series, values, fmt, lang, band_present)
    return _frame(cid, layout, title, desc, body)


def bar_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    x_labels: Sequence[str] | None = None,
    width: int = 640,
    height: int = 280,
    y_format: YFormat | None = None,
    description: str | None = None,
    font_size: float | None = None,
    chart_id: str | None = None,
    lang: str = "es",
) -> Markup:
    """A grouped bar chart (one bar per series in each x category), as inline SVG markup.

    Bars start at zero (the axis always includes it, negative values hang below it); a None
    value leaves its slot empty. Series are told apart by colour and by hatch pattern.
    Other arguments as in ``line_chart``.
    """
    lang = "en" if lang.startswith("en") else "es"
    fmt = y_format or default_y_format(lang)
    categories = _x_categories(series, None, x_labels)
    values = _prepare(series, categories)
    cid = _chart_id(chart_id, "bar", title, ([(s.label, list(s.points)) for s in series], categories, y_label))
    numbers = [y for ys in values for y in ys if y is not None]
    if not numbers:
        return _no_data(cid, width, height, font_size, title, description, lang)
    ticks = nice_ticks(min([*numbers, Decimal(0)]), max([*numbers, Decimal(0)]))
    styles = [_style_for(one, i) for i, one in enumerate(series)]
    entries = [(one.label, f"s{i}") for i, one in enumerate(series)]
    layout, placed = _layout(width, height, font_size, [fmt(t) for t in ticks], categories,
                             entries, y_label, edge_labels=False)
    font = layout.font
    defs, fills = _pattern_defs(cid, styles, font * 0.6)
    plot_w = layout.right - layout.left
    plot_h = layout.bottom - layout.top
    count = len(categories)
    slot = plot_w / count
    group = slot * 0.8
    bar_w = group / max(1, len(series))
    centres = [layout.left + slot * (i + 0.5) for i in range(count)]
    span = ticks[-1] - ticks[0]

    def scale(value: Decimal) -> float:
        return layout.bottom - float((value - ticks[0]) / span) * plot_h

    zero = scale(Decimal(0))
    body = [defs, *_axes(layout, ticks, fmt, y_label, layout.legend_rows, scale)]
    for s, (ys, style) in enumerate(zip(values, styles, strict=True)):
        body.append(f'<g fill="{fills[s]}" stroke="{_attr(style.colour)}" stroke-width="1.5">')
        for i, y in enumerate(ys):
            if y is None:
                continue
            x = centres[i] - group / 2 + s * bar_w
            top = min(zero, scale(y))
            h = max(1.0, abs(scale(y) - zero))  # a zero value still shows as a hairline
            body.append(f'<rect x="{_n(x + 1)}" y="{_n(top)}" width="{_n(max(1.0, bar_w - 2))}" height="{_n(h)}"/>')
        body.append("</g>")
    body += _x_axis(layout, centres, shorten=True)

    def swatch(key: str, x: float, y: float) -> str:
        s = int(key[1:])
        return (f'<rect x="{_n(x)}" y="{_n(y - font * 0.5)}" width="{_n(font * 2.2)}" height="{_n(font)}" '
                f'fill="{fills[s]}" stroke="{_attr(styles[s].colour)}" stroke-width="1.5"/>')

    body += _legend(placed, layout, swatch)
    desc = description or _describe("bar", categories, series, values, fmt, lang, False)
    return _frame(cid, layout, title, desc, body)
