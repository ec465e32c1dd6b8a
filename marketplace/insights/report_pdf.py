"""A buyer's sourcing impact report as a PDF (fpdf2).

Pure: imports no Flask; a view or CLI command gathers the numbers with a service and passes
them here as one dict::

    {
        "buyer": "Chocolates del Valle S.A.S.",
        "period": (date(2025, 1, 1), date(2025, 3, 31)),
        "totals": {"kg": Decimal("12500"), "cop": Decimal("187500000")},
        "rows": [  # mappings with these keys, or 6-tuples in this order
            {"municipality": "Tumaco", "department": "Nariño", "pdet_subregion": "Pacífico y
             Frontera Nariñense", "product": "Cacao", "kg": Decimal(...), "cop": Decimal(...)},
            ...  # pdet_subregion is None outside PDET municipalities
        ],
        "pdet_share": Decimal("0.82"),        # fractions 0..1, or None when unknown
        "women_led_share": Decimal("0.4"),
        "youth_led_share": Decimal("0.15"),
        "cooperatives_reached": 7,
        "generated_at": datetime(...),         # printed as given: pass local time
        "notes": ["..."],                      # optional: method notes printed at the end
    }

Any other key is refused (``ValueError``): a misspelt key would otherwise print "—" for a
figure the caller does have.

Fonts: no TrueType font ships with fpdf2 (2.8.9 has none), and nothing is downloaded, so the
report uses the core Helvetica with the Windows-1252 encoding: all Spanish and English text,
plus "—", "–", "…", "€" and curly quotes. Any other character is replaced by ``pdf_text``:
first by its compatibility decomposition without accents ("ŭ" -> "u", "ﬁ" -> "fi"), else by
"?"; control characters become spaces. So a name in another script prints as question marks,
never breaks the report.

Tables paginate: the heading row repeats on each page, and each page's footer reads
"Página n de N".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fpdf import FPDF
from fpdf.fonts import FontFace

ENCODING = "cp1252"
FONT = "helvetica"

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Informe de impacto de abastecimiento",
        "buyer": "Comprador",
        "period": "Periodo",
        "generated": "Generado el",
        "total_kg": "Cantidad comprada",
        "total_cop": "Valor comprado",
        "cooperatives": "Cooperativas alcanzadas",
        "pdet_share": "Compras en municipios PDET",
        "women_share": "Compras a organizaciones lideradas por mujeres",
        "youth_share": "Compras a organizaciones lideradas por jóvenes",
        "by_place": "Compras por municipio y producto",
        "municipality": "Municipio",
        "department": "Departamento",
        "pdet_subregion": "Subregión PDET",
        "product": "Producto",
        "kg": "kg",
        "cop": "COP",
        "total": "Total",
        "no_rows": "No hubo compras en este periodo.",
        "page": "Página {page} de {pages}",
        "notes": "Notas",
    },
    "en": {
        "title": "Sourcing impact report",
        "buyer": "Buyer",
        "period": "Period",
        "generated": "Generated on",
        "total_kg": "Quantity bought",
        "total_cop": "Value bought",
        "cooperatives": "Cooperatives reached",
        "pdet_share": "Purchases in PDET municipalities",
        "women_share": "Purchases from women-led organisations",
        "youth_share": "Purchases from youth-led organisations",
        "by_place": "Purchases by municipality and product",
        "municipality": "Municipality",
        "department": "Department",
        "pdet_subregion": "PDET subregion",
        "product": "Product",
        "kg": "kg",
        "cop": "COP",
        "total": "Total",
        "no_rows": "There were no purchases in this period.",
        "page": "Page {page} of {pages}",
        "notes": "Notes",
    },
}

REPORT_KEYS = frozenset({"buyer", "period", "totals", "rows", "pdet_share", "women_led_share", "youth_led_share",
                         "cooperatives_reached", "generated_at", "notes"})
ROW_KEYS = ("municipality", "department", "pdet_subregion", "product", "kg", "cop")
# Fractions of the page width (A4 less 15 mm margins) for the columns of ROW_KEYS.
COLUMN_WIDTHS = (19, 15, 22, 14, 14, 16)
DASH = "—"
_TYPOGRAPHY = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\u2043": "-",
    "\u2192": "->", "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=",
    "\u2022": "\u2022",
}


def _printable(ch: str) -> bool:
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def pdf_text(value: Any) -> str:
    """``value`` as text the core fonts can print (Windows-1252), replacing what they cannot."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    out = []
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            out.append(" ")
            continue
        ch = _TYPOGRAPHY.get(ch, ch)
        if not _printable(ch):
            # "ǅ" -> "Dž", "ﬁ" -> "fi"; then "ŭ" -> "u" for what is still missing.
            kept = []
            for part in unicodedata.normalize("NFC", unicodedata.normalize("NFKD", ch)):
                if not _printable(part):
                    part = "".join(p for p in unicodedata.normalize("NFD", part)
                                   if not unicodedata.combining(p) and _printable(p))
                kept.append(part)
            ch = "".join(kept) or "?"
        out.append(ch)
    return "".join(out)


class _Formats:
    # As the pages write them (core.formatting): numbers in Colombian or US style, dates in
    # the language's own ("sept" in Spanish, not Colombia's "sep").
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = "es_CO" if lang == "es" else "en_US"
        self.date_locale = lang

    def number(self, value: Any, pattern: str = "#,##0.###") -> str:
        if value is None:
            return DASH
        return format_decimal(Decimal(value), format=pattern, locale=self.locale)

    def kg(self, value: Any) -> str:
        return DASH if value is None else f"{self.number(value)} kg"

    def cop(self, value: Any) -> str:
        if value is None:
            return DASH
        amount = self.number(value, "#,##0")
        return f"$ {amount}" if self.lang == "es" else f"COP {amount}"

    def percent(self, value: Any) -> str:
        if value is None:
            return DASH
        return f"{self.number(Decimal(value) * 100, '#,##0.#')} %"

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return DASH
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, "d MMM y", locale=self.date_locale)

    def moment(self, value: datetime | date | None) -> str:
        if value is None:
            return DASH
        if not isinstance(value, datetime):
            return self.day(value)
        # Printed as given (tzinfo=its own zone): the caller passes the time it wants shown.
        return format_datetime(value, "d MMM y, HH:mm", tzinfo=value.tzinfo, locale=self.date_locale)


class _ReportPDF(FPDF):
    def __init__(self, running_head: str, page_label: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self.running_head = running_head
        self.page_label = page_label
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        self.cell(0, 5, self.running_head, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90)
        # str_alias_nb_pages ("{nb}") is replaced by the page count when the file is written.
        self.cell(0, 5, self.page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages),
                  align="C")
        self.set_text_color(0)


def _rows(rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> Iterable[tuple[Any, ...]]:
    for row in rows:
        if isinstance(row, Mapping):
            yield tuple(row.get(key) for key in ROW_KEYS)
        else:
            yield tuple(row)


def buyer_report_pdf(report: Mapping[str, Any], *, lang: str = "es", compress: bool = True) -> bytes:
    """The sourcing impact report for one buyer and period, as PDF bytes.

    ``report`` is described in the module docstring; missing figures print as "—", unknown
    keys are refused. ``compress=False`` leaves the page streams readable (tests search them).
    """
    unknown = set(report) - REPORT_KEYS
    if unknown:
        raise ValueError(f"unknown report keys: {sorted(unknown)}")
    lang = "en" if lang.startswith("en") else "es"
    labels = LABELS[lang]
    fmt = _Formats(lang)
    buyer = pdf_text(report.get("buyer") or DASH)
    start, end = report.get("period") or (None, None)
    totals = report.get("totals") or {}

    pdf = _ReportPDF(pdf_text(f"{labels['title']} — {report.get('buyer') or DASH}"),
                     pdf_text(labels["page"]))
    pdf.compress = compress
    pdf.set_lang("es-CO" if lang == "es" else "en")
    pdf.set_title(f"{labels['title']}: {report.get('buyer') or ''}")
    pdf.set_creator("Mercado rural")
    generated_at = report.get("generated_at")
    if isinstance(generated_at, datetime):
        pdf.set_creation_date(generated_at)
    pdf.add_page()

    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, pdf_text(labels["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 7, buyer, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.cell(0, 6, pdf_text(f"{labels['period']}: {fmt.day(start)} – {fmt.day(end)}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(90)
    pdf.cell(0, 5, pdf_text(f"{labels['generated']} {fmt.moment(generated_at)}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(4)

    figures = [
        (labels["total_kg"], fmt.kg(totals.get("kg"))),
        (labels["total_cop"], fmt.cop(totals.get("cop"))),
        (labels["cooperatives"], fmt.number(report.get("cooperatives_reached"), "#,##0")),
        (labels["pdet_share"], fmt.percent(report.get("pdet_share"))),
        (labels["women_share"], fmt.percent(report.get("women_led_share"))),
        (labels["youth_share"], fmt.percent(report.get("youth_led_share"))),
    ]
    pdf.set_font(FONT, "", 10)
    with pdf.table(col_widths=(70, 30), width=pdf.epw * 0.8, align="LEFT", first_row_as_headings=False,
                   borders_layout="HORIZONTAL_LINES", text_align=("LEFT", "RIGHT"),
                   line_height=6, padding=(1, 2)) as table:
        for label, value in figures:
            row = table.row()
            row.cell(pdf_text(label))
            row.cell(pdf_text(value), style=FontFace(emphasis="BOLD"))
    pdf.ln(6)

    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 7, pdf_text(labels["by_place"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT, "", 8.5)
    rows = list(_rows(report.get("rows") or ()))
    if not rows:
        pdf.cell(0, 6, pdf_text(labels["no_rows"]), new_x="LMARGIN", new_y="NEXT")
    else:
        heading = FontFace(emphasis="BOLD", fill_color=(226, 234, 240))
        with pdf.table(col_widths=COLUMN_WIDTHS, headings_style=heading, repeat_headings=1,
                       borders_layout="HORIZONTAL_LINES", cell_fill_mode="ROWS",
                       cell_fill_color=(246, 248, 250),
                       text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"),
                       line_height=4.6, padding=(1, 1.5)) as table:
            table.row([pdf_text(labels[key]) for key in ROW_KEYS])
            for municipality, department, subregion, product, kg, cop in rows:
                table.row([
                    pdf_text(municipality or DASH), pdf_text(department or DASH),
                    pdf_text(subregion or DASH), pdf_text(product or DASH),
                    pdf_text(fmt.number(kg)), pdf_text(fmt.number(cop, "#,##0")),
                ])
            total = table.row(style=FontFace(emphasis="BOLD"))
            total.cell(pdf_text(labels["total"]), colspan=4)
            total.cell(pdf_text(fmt.number(totals.get("kg"))))
            total.cell(pdf_text(fmt.number(totals.get("cop"), "#,##0")))

    notes = [note for note in report.get("notes") or () if note]
    if notes:
        pdf.ln(5)
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 5, pdf_text(labels["notes"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 8)
        for note in notes:
            pdf.multi_cell(0, 4.2, pdf_text(f"• {note}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
