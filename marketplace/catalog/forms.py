"""HTML forms for listing a harvest and for searching supply."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Optional

from marketplace.catalog.services import CERTIFICATIONS
from marketplace.catalog.units import UNITS, trade_units
from marketplace.core.forms import BaseForm, DecimalTextField, max_length, required


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _date(label):
    return DateField(label, validators=[InputRequired(message=_l("Escriba la fecha."))],
                     render_kw={"type": "date"})


class ListingForm(BaseForm):
    grade = SelectField(_l("Calidad"), coerce=int, validators=[required(_l("Elija la calidad."))])
    quantity = DecimalTextField(_l("Cantidad"), validators=[required(_l("Escriba la cantidad."))],
                                description=_l("En la unidad que elija abajo."))
    unit = SelectField(_l("Unidad"), validators=[required()])
    unit_kg = DecimalTextField(_l("Kg por unidad (bulto, canastilla, racimo...)"),
                               description=_l("Solo si la unidad no es kg, arroba, carga o tonelada."))
    min_order = DecimalTextField(_l("Pedido mínimo (opcional)"),
                                 description=_l("En la misma unidad; vacío si vende cualquier cantidad."))
    price = DecimalTextField(_l("Precio por unidad (COP)"), validators=[required(_l("Escriba el precio."))],
                             render_kw={"inputmode": "numeric"})
    confirm_price = BooleanField(_l("Confirmo el precio aunque esté lejos de la referencia"))
    harvest_date = _date(_l("Fecha de cosecha"))
    available_from = _date(_l("Disponible desde"))
    available_until = _date(_l("Disponible hasta"))
    collection_point = SelectField(_l("Dónde se recoge"), coerce=int, validators=[Optional()])
    new_point = StringField(_l("O un nuevo centro de acopio o vereda"), validators=[Optional(), max_length(120)])
    latitude = DecimalTextField(_l("Latitud (opcional)"), minimum=-90, maximum=90,
                                description=_l("El botón «Usar mi ubicación» la llena si su teléfono lo permite."))
    longitude = DecimalTextField(_l("Longitud (opcional)"), minimum=-180, maximum=180)
    certifications = CheckboxesField(_l("Certificaciones"), choices=list(CERTIFICATIONS.items()),
                                     validators=[Optional()])
    photos = MultipleFileField(_l("Fotos (hasta 3; JPEG, PNG o WebP de hasta 8 MB)"),
                               render_kw={"accept": "image/jpeg,image/png,image/webp", "capture": "environment"})
    description = TextAreaField(_l("Notas para el comprador (opcional)"), validators=[Optional(), max_length(1000)])

    def set_choices(self, product, points, lang: str = "es"):
        self.grade.choices = [(g.id, g.name if lang == "es" else g.name_en) for g in product.grades if g.active]
        self.unit.choices = [(code, UNITS[code].label_es if lang == "es" else UNITS[code].label_en)
                             for code in trade_units(product.usual_units)]
        # The cooperative's own points first, the most recently used on top, so a new listing
        # starts at its usual pickup point; "new" comes first only when it has none.
        self.collection_point.choices = [(p.id, f"{p.name} ({p.municipality.name})") for p in points] + [
            (0, _l("— Nuevo centro de acopio —"))]


class StatusForm(BaseForm):
    pass


class ProductForm(BaseForm):
    name = StringField(_l("Nombre"), validators=[required(), max_length(80)])
    name_en = StringField(_l("Nombre en inglés"), validators=[required(), max_length(80)])
    category = SelectField(_l("Categoría"), validators=[required()])
    usual_units = CheckboxesField(_l("Unidades usuales"), choices=[(code, u.label_es) for code, u in UNITS.items()],
                                  validators=[Optional()])


class GradeForm(BaseForm):
    grade_name = StringField(_l("Calidad"), validators=[required(), max_length(80)])
    grade_name_en = StringField(_l("Calidad en inglés"), validators=[required(), max_length(80)])
    rank = DecimalTextField(_l("Orden (mayor es mejor)"), minimum=0, maximum=1000, validators=[required()])
