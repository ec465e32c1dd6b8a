"""HTML forms for checkout and order actions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Optional

from marketplace.core.forms import BaseForm, max_length


class PlainForm(BaseForm):
    """CSRF only; the fields are read by the view (one per order line or action)."""


class CheckoutForm(BaseForm):
    delivery_site = SelectField(_l("Sitio de entrega"), coerce=int,
                                validators=[InputRequired(message=_l("Elija el sitio de entrega."))])
    window_start = DateField(_l("Entregar desde"), validators=[InputRequired(message=_l("Escriba la fecha."))],
                             render_kw={"type": "date"})
    window_end = DateField(_l("Entregar hasta"), validators=[InputRequired(message=_l("Escriba la fecha."))],
                           render_kw={"type": "date"})
    payment_method = RadioField(_l("Forma de pago"), validators=[InputRequired(message=_l("Elija cómo pagará."))])
    note = TextAreaField(_l("Notas para las cooperativas (opcional)"), validators=[Optional(), max_length(1000)])
