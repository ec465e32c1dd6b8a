"""Form pieces shared by every package."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import PasswordField, StringField
from wtforms.csrf.core import CSRFTokenField
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from marketplace.core import geography
from marketplace.core.types import parse_decimal

_REQUIRED = _l("Este campo es obligatorio.")


def required(message=None):
    return DataRequired(message=message or _REQUIRED)


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


RETYPE_PASSWORD = _l("Por seguridad, escriba de nuevo la contraseña.")


class _CSRFTokenFieldWithoutId(CSRFTokenField):
    """The CSRF token as a hidden input with no id: a page with several forms would
    otherwise repeat ``id="csrf_token"``, and nothing points at it by id."""

    def __call__(self, **kwargs):
        kwargs.setdefault("id", False)
        return super().__call__(**kwargs)


class _CSRF(_FlaskFormCSRF):
    field_class = _CSRFTokenFieldWithoutId


class BaseForm(FlaskForm):
    """FlaskForm that can take errors raised by a service and show them beside a field."""

    class Meta:
        csrf_class = _CSRF

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not valid:
            self.ask_passwords_again()
        return valid

    def ask_passwords_again(self) -> None:
        """A refused form never echoes a password, so each password field is shown empty:
        say so on the field (and so in the summary) rather than leave it to a generic
        "obligatorio" on the next try."""
        for f in self:
            if not isinstance(f, PasswordField):
                continue
            # An empty password field's own "obligatorio" is replaced by the reason it is empty.
            kept = [e for e in f.errors if str(e) not in (str(_REQUIRED), str(RETYPE_PASSWORD))]
            f.errors = kept + [RETYPE_PASSWORD]

    def attach_error(self, error) -> None:
        field = getattr(self, error.field, None) if error.field else None
        if field is not None and hasattr(field, "errors"):
            if isinstance(field.errors, tuple):
                field.errors = list(field.errors)
            field.errors.append(error.message)
        else:
            self.form_errors.append(error.message)
        self.ask_passwords_again()


__all__ = ["BaseForm", "DecimalTextField", "MunicipalityField", "Optional", "required", "max_length"]
