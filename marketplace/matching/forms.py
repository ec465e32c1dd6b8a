"""HTML forms for demands, offers and accepting a proposal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Optional

from marketplace.core.forms import BaseForm, DecimalTextField, max_length, required

SHARE_HINT = _l("Porcentaje mínimo de los kilos entregados (0 a 100).")
WEIGHT_HINT = _l("Cuánto más pagaría por kg (en pesos), sin hacerlo obligatorio.")


def _share(label):
    return DecimalTextField(label, validators=[Optional()], description=SHARE_HINT)


def _weight(label):
    return DecimalTextField(label, validators=[Optional()], description=WEIGHT_HINT)


class DemandForm(BaseForm):
    product = SelectField(_l("Producto"), coerce=int, validators=[InputRequired(message=_l("Elija el producto."))])
    min_grade = SelectField(_l("Calidad mínima"), coerce=int, validators=[Optional()])
    quantity = DecimalTextField(_l("Cantidad"), validators=[required(_l("Escriba la cantidad."))])
    unit = SelectField(_l("Unidad"), validators=[required()])
    delivery_site = SelectField(_l("Sitio de entrega"), coerce=int,
                                validators=[InputRequired(message=_l("Elija el sitio de entrega."))])
    window_start = DateField(_l("Entregar desde"), validators=[InputRequired(message=_l("Escriba la fecha."))],
                             render_kw={"type": "date"})
    window_end = DateField(_l("Entregar hasta"), validators=[InputRequired(message=_l("Escriba la fecha."))],
                           render_kw={"type": "date"})
    target_price = DecimalTextField(_l("Precio objetivo por kg (opcional)"), validators=[Optional()],
                                    description=_l("Lo que espera pagar por el producto, sin transporte."))
    max_price = DecimalTextField(_l("Precio máximo por kg puesto en su sitio (opcional)"), validators=[Optional()],
                                 description=_l("Producto más transporte: ninguna cooperativa por encima entra."))
    min_lot = DecimalTextField(_l("Lote mínimo por cooperativa, en kg (opcional)"), validators=[Optional()])
    pdet_share = _share(_l("Mínimo de municipios PDET (%)"))
    pdet_weight = _weight(_l("Valor de comprar en municipios PDET (pesos por kg)"))
    women_share = _share(_l("Mínimo de cooperativas lideradas por mujeres (%)"))
    women_weight = _weight(_l("Valor de cooperativas lideradas por mujeres (pesos por kg)"))
    youth_share = _share(_l("Mínimo de cooperativas lideradas por jóvenes (%)"))
    youth_weight = _weight(_l("Valor de cooperativas lideradas por jóvenes (pesos por kg)"))
    certification = SelectField(_l("Certificación"), validators=[Optional()])
    cert_share = _share(_l("Mínimo con esa certificación (%)"))
    cert_weight = _weight(_l("Valor de esa certificación (pesos por kg)"))
    departments = SelectMultipleField(_l("Solo de estos departamentos (opcional)"), validators=[Optional()],
                                      description=_l("Sin elegir ninguno, vale todo el país."))
    note = TextAreaField(_l("Notas para las cooperativas (opcional)"), validators=[Optional(), max_length(1000)])


class OfferForm(BaseForm):
    listing = SelectField(_l("De cuál de sus ofertas"), coerce=int,
                          validators=[InputRequired(message=_l("Elija una de sus ofertas."))])
    quantity = DecimalTextField(_l("Cantidad"), validators=[required(_l("Escriba la cantidad."))])
    unit = SelectField(_l("Unidad"), validators=[required()])
    price = DecimalTextField(_l("Su precio por kg (COP)"), validators=[required(_l("Escriba el precio."))])
    ready_date = DateField(_l("Listo desde"), validators=[InputRequired(message=_l("Escriba la fecha."))],
                           render_kw={"type": "date"})
    note = TextAreaField(_l("Nota para el comprador (opcional)"), validators=[Optional(), max_length(1000)])


class AcceptForm(BaseForm):
    payment_method = RadioField(_l("Forma de pago"), validators=[InputRequired(message=_l("Elija cómo pagará."))])
