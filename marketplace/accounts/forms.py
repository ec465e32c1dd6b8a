"""HTML forms for login, registration, the account page and organisation management."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional

from marketplace.accounts.models import OrgStatus, Role
from marketplace.accounts.services import LEGAL_FORMS, ROLE_LABELS
from marketplace.core.forms import (
    BaseForm,
    DecimalTextField,
    MunicipalityField,
    max_length,
    required,
)


def _count(label, optional=True):
    # Starts empty, never "0": a pre-filled 0 reads as an answer nobody gave. The total is
    # required; a breakdown left empty counts as none.
    first = Optional() if optional else InputRequired(message=_l("Escriba el número de asociados."))
    return IntegerField(
        label,
        default=None,
        validators=[first, NumberRange(min=0, max=100_000, message=_l("Escriba un número entero entre 0 y 100.000."))],
        description=_l("Vacío si ninguno.") if optional else None,
        render_kw={"inputmode": "numeric", "min": 0, "max": 100000},
    )


def _phone(label=_l("Celular")):
    return StringField(label, validators=[Optional(), max_length(30)],
                       render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "300 123 4567"})


def _email(label=_l("Correo electrónico")):
    return StringField(label, validators=[Optional(), max_length(254)],
                       render_kw={"inputmode": "email", "autocomplete": "email"})


def _new_password(label=_l("Contraseña")):
    return PasswordField(label, validators=[required(), max_length(128)],
                         render_kw={"autocomplete": "new-password", "minlength": 8})


CHANNEL_CHOICES = [("whatsapp", "WhatsApp"), ("sms", _l("Mensaje de texto (SMS)")), ("email", _l("Correo electrónico"))]


def _preferred_channel():
    # Checked by the service (verification.set_channels), which explains a wrong choice in
    # the person's language; left empty, it chooses from what the person gave.
    return RadioField(_l("¿Cómo prefiere que le avisemos?"), choices=CHANNEL_CHOICES, validate_choice=False,
                      default=None)


def _whatsapp_opt_in():
    return BooleanField(_l("Acepto recibir avisos de Mercado Rural por WhatsApp en este celular."), default=False)


def _code():
    return StringField(_l("Código"), validators=[required(), max_length(20)],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 20,
                                  "pattern": "[0-9 ]*"})


class LoginForm(BaseForm):
    identifier = StringField(_l("Celular o correo"), validators=[required(), max_length(254)],
                             render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Contraseña"), validators=[required(), max_length(128)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Mantener la sesión abierta en este teléfono"))
    next = HiddenField()


class _PersonFields(BaseForm):
    full_name = StringField(_l("Su nombre completo"), validators=[required(), max_length(120)],
                            render_kw={"autocomplete": "name"})
    phone = _phone(_l("Su celular (para iniciar sesión)"))
    email = _email(_l("Su correo (opcional si da el celular)"))
    password = _new_password()
    password_confirm = PasswordField(_l("Repita la contraseña"), validators=[required(), max_length(128)],
                                     render_kw={"autocomplete": "new-password"})
    preferred_channel = _preferred_channel()
    whatsapp_opt_in = _whatsapp_opt_in()
    consent = BooleanField(
        _l("Autorizo el tratamiento de mis datos personales según la Ley 1581 de 2012."),
        validators=[required(_l("Debe autorizar el tratamiento de datos para registrarse."))],
    )

    def validate_password_confirm(self, field):
        if field.data != self.password.data:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("Las contraseñas no coinciden."))


class CooperativeFields:
    name = StringField(_l("Nombre de la asociación o cooperativa"), validators=[required(), max_length(160)])
    legal_form = SelectField(_l("Forma jurídica"), choices=list(LEGAL_FORMS.items()),
                             validators=[required()])
    nit = StringField(_l("NIT (opcional)"), validators=[Optional(), max_length(20)],
                      description=_l("Con dígito de verificación, por ejemplo 900373913-4."),
                      render_kw={"inputmode": "numeric"})
    municipality = MunicipalityField(_l("Municipio"), validators=[required()],
                                     description=_l("Escriba el nombre, por ejemplo «Tumaco»."))
    members_total = _count(_l("Número de asociados"), optional=False)
    members_women = _count(_l("Mujeres"))
    members_youth = _count(_l("Jóvenes (14 a 28 años)"))
    members_victims = _count(_l("Víctimas del conflicto"))
    substitution_families = _count(_l("Familias en programas de sustitución de cultivos"))


class RegisterCooperativeForm(_PersonFields, CooperativeFields):
    pass


class CooperativeProfileForm(BaseForm, CooperativeFields):
    contact_phone = _phone(_l("Celular de contacto"))
    contact_email = _email(_l("Correo de contacto"))
    description = TextAreaField(_l("Qué produce la asociación"), validators=[Optional(), max_length(2000)])


class SiteFields:
    site_name = StringField(_l("Nombre del sitio de entrega"), validators=[required(), max_length(120)],
                            description=_l("Por ejemplo «Planta Bogotá» o «Bodega Siberia»."))
    address = StringField(_l("Dirección"), validators=[required(), max_length(200)],
                          render_kw={"autocomplete": "street-address"})
    site_municipality = MunicipalityField(_l("Municipio del sitio"), validators=[required()])
    latitude = DecimalTextField(_l("Latitud (opcional)"), minimum=-90, maximum=90,
                                description=_l("Si la deja vacía usamos la cabecera municipal."))
    longitude = DecimalTextField(_l("Longitud (opcional)"), minimum=-180, maximum=180)


class BuyerFields:
    name = StringField(_l("Razón social de la empresa"), validators=[required(), max_length(160)])
    nit = StringField(_l("NIT"), validators=[required(), max_length(20)],
                      description=_l("Con dígito de verificación, por ejemplo 890900608-9."),
                      render_kw={"inputmode": "numeric"})
    sector = StringField(_l("Sector (opcional)"), validators=[Optional(), max_length(80)])
    andi_member = BooleanField(_l("Es afiliada a la ANDI"))
    municipality = MunicipalityField(_l("Municipio de la sede principal"), validators=[required()])


class RegisterBuyerForm(_PersonFields, BuyerFields, SiteFields):
    pass


class BuyerProfileForm(BaseForm, BuyerFields):
    contact_phone = _phone(_l("Celular de contacto"))
    contact_email = _email(_l("Correo de contacto"))


class SiteForm(BaseForm, SiteFields):
    active = BooleanField(_l("Activo (recibe pedidos)"), default=True)


class ProfileForm(BaseForm):
    full_name = StringField(_l("Nombre completo"), validators=[required(), max_length(120)])
    locale = SelectField(_l("Idioma"), choices=[("es", "Español"), ("en", "English")])


class PasswordChangeForm(BaseForm):
    current_password = PasswordField(_l("Contraseña actual"), validators=[required(), max_length(128)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = _new_password(_l("Nueva contraseña"))
    new_password_confirm = PasswordField(_l("Repita la nueva contraseña"), validators=[required(), max_length(128)],
                                         render_kw={"autocomplete": "new-password"})

    def validate_new_password_confirm(self, field):
        if field.data != self.new_password.data:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("Las contraseñas no coinciden."))


class LoginChangeForm(BaseForm):
    phone = _phone()
    email = _email()
    current_password = PasswordField(_l("Contraseña actual"), validators=[required(), max_length(128)],
                                     render_kw={"autocomplete": "current-password"})


class TokenForm(BaseForm):
    name = StringField(_l("Nombre del token"), validators=[required(), max_length(80)],
                       description=_l("Para reconocerlo después, por ejemplo «ERP compras»."))
    password = PasswordField(_l("Contraseña actual"), validators=[required(), max_length(128)],
                             render_kw={"autocomplete": "current-password"})


class EmptyForm(BaseForm):
    """Just the CSRF token, for buttons that change something."""


class LanguageForm(BaseForm):
    lang = SelectField(_l("Idioma"), choices=[("es", "Español"), ("en", "English")])
    next = HiddenField()


def role_choices(roles):
    return [(role.value, ROLE_LABELS[role]) for role in roles]


class MemberForm(BaseForm):
    full_name = StringField(_l("Nombre completo"), validators=[required(), max_length(120)])
    phone = _phone()
    email = _email()
    role = SelectField(_l("Rol"), validators=[required()])
    password = _new_password(_l("Contraseña temporal"))


class RoleForm(BaseForm):
    role = SelectField(_l("Rol"), validators=[required()])


class StatusForm(BaseForm):
    status = SelectField(_l("Nuevo estado"), choices=[(s.value, s.value) for s in OrgStatus], validators=[required()])
    reason = TextAreaField(_l("Motivo (obligatorio al rechazar o suspender)"),
                           validators=[Optional(), max_length(1000)])


class StaffUserForm(BaseForm):
    full_name = StringField(_l("Nombre completo"), validators=[required(), max_length(120)])
    phone = _phone()
    email = _email()
    role = SelectField(_l("Rol"), choices=role_choices((Role.STAFF_AUDITOR, Role.PLATFORM_ADMIN)),
                       validators=[required()])
    password = _new_password(_l("Contraseña temporal"))


class ChannelsForm(BaseForm):
    preferred_channel = _preferred_channel()
    whatsapp_opt_in = _whatsapp_opt_in()


class CodeForm(BaseForm):
    code = _code()


def _confirm_new(form, field):
    if field.data != form.new_password.data:
        from wtforms.validators import ValidationError

        raise ValidationError(_l("Las contraseñas no coinciden."))


class RecoveryRequestForm(BaseForm):
    identifier = StringField(_l("Celular o correo"), validators=[required(), max_length(254)],
                             render_kw={"autocomplete": "username", "autocapitalize": "none"})


class RecoveryCodeForm(BaseForm):
    code = _code()
    new_password = _new_password(_l("Nueva contraseña"))
    new_password_confirm = PasswordField(_l("Repita la nueva contraseña"), validators=[required(), max_length(128)],
                                         render_kw={"autocomplete": "new-password"})
    validate_new_password_confirm = _confirm_new


class RecoveryLinkForm(BaseForm):
    new_password = _new_password(_l("Nueva contraseña"))
    new_password_confirm = PasswordField(_l("Repita la nueva contraseña"), validators=[required(), max_length(128)],
                                         render_kw={"autocomplete": "new-password"})
    validate_new_password_confirm = _confirm_new


class DocumentForm(BaseForm):
    kind = SelectField(_l("Qué documento envía"), validators=[required(_l("Elija qué documento envía."))])
    file = FileField(_l("Archivo (PDF o foto, hasta 10 MB)"),
                     render_kw={"accept": "application/pdf,image/jpeg,image/png,image/webp"})


class DocumentReviewForm(BaseForm):
    status = SelectField(_l("Decisión"), choices=[("accepted", _l("Aceptar el documento")), ("rejected", _l("Rechazar el documento"))],
                         validators=[required()])
    note = TextAreaField(_l("Nota (obligatoria al rechazar; la organización la verá)"),
                         validators=[Optional(), max_length(1000)])


class MemberChangeForm(BaseForm):
    """Staff's decision on member counts that would flip a women- or youth-led flag."""

    decision = SelectField(_l("Decisión"), choices=[("confirm", _l("Confirmar los nuevos números")),
                                                    ("reject", _l("Rechazar: siguen los anteriores"))],
                           validators=[required()])
    note = TextAreaField(_l("Nota (obligatoria al rechazar; la organización la verá)"),
                         validators=[Optional(), max_length(1000)])
