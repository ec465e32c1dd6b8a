"""Form pieces shared by every package."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from marketplace.core import geography
from marketplace.core.types import parse_decimal


def required(message=None):
    return DataRequired(message=message or _l("Este campo es obligatorio."))


def max_length(n: int):
    return Length(max=n, message=_l("Máximo %(max)d caracteres.", max=n))


class MunicipalityField(StringField):
    """A municipality typed as a name ("tumaco"), a code ("52835") or a picker label.

    Without JavaScript the person types a name; when several municipalities match, the
    form comes back listing them to choose from (``candidates``).
    """

    def __init__(self, label=None, validators=None, **kwargs):
        validators = list(validators or []) + [max_length(200)]
        render_kw = {"autocomplete": "off", "data-municipality-picker": "1", "list": "", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.municipality = None
        self.candidates = []

    def process(self, formdata, *args, **kwargs):
        super().process(formdata, *args, **kwargs)
        # A choice among listed candidates comes as a radio button named "<field>_choice".
        if formdata is not None:
            choice = formdata.get(self.name + "_choice")
            if choice:
                self.data = choice

    def post_validate(self, form, validation_stopped):
        if validation_stopped or not self.data:
            return
        resolved = geography.resolve(self.data)
        self.candidates = resolved.candidates
        if resolved.municipality is not None:
            self.municipality = resolved.municipality
            self.data = resolved.municipality.label + f" ({resolved.municipality.code})"
        elif resolved.candidates:
            self.errors.append(_l("Varios municipios coinciden. Elija el suyo de la lista."))
        else:
            self.errors.append(_l("No encontramos ese municipio. Escriba el nombre, por ejemplo «Tumaco»."))

    @property
    def code(self) -> str | None:
        return self.municipality.code if self.municipality else None


class DecimalTextField(StringField):
    """A number typed the Colombian way ("12,5" or "1.250.000"), kept exact."""

    def __init__(self, label=None, validators=None, minimum=None, maximum=None, **kwargs):
        render_kw = {"inputmode": "decimal", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.minimum, self.maximum = minimum, maximum
        self.decimal = None

    def pre_validate(self, form):
        text = (self.data or "").strip()
        if not text:
            self.decimal = None
            return
        if len(text) > 30:
            raise StopValidation(_l("El número es demasiado largo."))
        value = parse_decimal(text)
        if value is None:
            raise StopValidation(_l("Escriba un número, por ejemplo 12,5."))
        if self.minimum is not None and value < self.minimum:
            raise StopValidation(_l("Debe ser al menos %(n)s.", n=self.minimum))
        if self.maximum is not None and value > self.maximum:
            raise StopValidation(_l("Debe ser como máximo %(n)s.", n=self.maximum))
        self.decimal = value


class BaseForm(FlaskForm):
    """FlaskForm that can take errors raised by a service and show them beside a field."""

    def attach_error(self, error) -> None:
        field = getattr(self, error.field, None) if error.field else None
        if field is not None and hasattr(field, "errors"):
            if isinstance(field.errors, tuple):
                field.errors = list(field.errors)
            field.errors.append(error.message)
        else:
            self.form_errors.append(error.message)


__all__ = ["BaseForm", "DecimalTextField", "MunicipalityField", "Optional", "required", "max_length"]
