"""The cooperative's plot pages: the list, recording or editing a plot, and its check."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from marketplace.accounts.models import Role
from marketplace.core.access import roles_required
from marketplace.core.errors import DomainError
from marketplace.core.forms import (
    BaseForm,
    DecimalTextField,
    MunicipalityField,
    max_length,
    required,
)
from marketplace.extensions import db
from marketplace.traceability import services

bp = Blueprint("traceability", __name__, template_folder="templates")
COOP = (Role.COOP_MANAGER, Role.COOP_MEMBER)


class PlotForm(BaseForm):
    producer_name = StringField(_l("Nombre del productor"), validators=[required(), max_length(120)])
    member_code = StringField(_l("Código de asociado (opcional)"), validators=[Optional(), max_length(40)])
    municipality = MunicipalityField(_l("Municipio del predio"), validators=[required()])
    declared_area = DecimalTextField(_l("Área declarada (hectáreas)"), validators=[required()], minimum=0)
    product = SelectField(_l("Cultivo"), coerce=int, validate_choice=False)
    coordinates = TextAreaField(
        _l("Coordenadas (una por línea: latitud, longitud; un solo punto para predios de hasta 4 ha)"),
        validators=[Optional(), max_length(200_000)], render_kw={"rows": 6},
    )
    upload = FileField(_l("O suba un archivo GeoJSON o KML"))

    def set_choices(self) -> None:
        english = str(get_locale() or "es")[:2] == "en"
        self.product.choices = [(p.id, p.name_en if english else p.name) for p in services.crops()]


class ActiveForm(BaseForm):
    pass


def _data(form: PlotForm) -> services.PlotData:
    upload = form.upload.data
    raw = upload.read() if getattr(upload, "filename", "") else None
    return services.PlotData(
        producer_name=form.producer_name.data, member_code=form.member_code.data,
        municipality_code=form.municipality.code, declared_area_ha=form.declared_area.decimal,
        product_id=form.product.data, coordinates=form.coordinates.data or "", upload=raw or None,
    )


@bp.get("/predios")
@roles_required(*COOP)
def plots():
    coop = services.cooperative_of(current_user)
    return render_template("traceability/plots.html", coop=coop, plots=services.cooperative_plots(coop))


def _save(form: PlotForm, plot, save):
    if form.validate_on_submit():
        try:
            saved = save(_data(form))
            db.session.commit()
            return redirect(url_for("traceability.plot_page", plot_id=saved.id))
        except DomainError as error:
            db.session.rollback()
            form.attach_error(error)
    status = 422 if request.method == "POST" else 200
    return render_template("traceability/plot_form.html", form=form, plot=plot), status


@bp.route("/predios/nuevo", methods=["GET", "POST"])
@roles_required(*COOP)
def new_plot():
    services.cooperative_of(current_user)
    form = PlotForm()
    form.set_choices()
    return _save(form, None, lambda data: services.create_plot(current_user, data))


@bp.route("/predios/<int:plot_id>/editar", methods=["GET", "POST"])
@login_required
def edit_plot(plot_id: int):
    plot = services.own_plot(current_user, plot_id)
    form = PlotForm()
    form.set_choices()
    if request.method == "GET":
        form.producer_name.data = plot.producer_name
        form.member_code.data = plot.member_code or ""
        form.municipality.data = f"{plot.municipality.label} ({plot.municipality_code})"
        form.declared_area.data = format(plot.declared_area_ha.normalize(), "f").replace(".", ",")
        form.product.data = plot.product_id
    return _save(form, plot, lambda data: services.update_plot(current_user, plot, data))


@bp.post("/predios/<int:plot_id>/activo")
@login_required
def plot_active(plot_id: int):
    plot = services.own_plot(current_user, plot_id)
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_plot_active(current_user, plot, request.form.get("active") == "1")
        db.session.commit()
    return redirect(url_for("traceability.plot_page", plot_id=plot.id))


@bp.get("/predios/<int:plot_id>")
@login_required
def plot_page(plot_id: int):
    plot = services.visible_plot(current_user, plot_id)
    can_edit = not current_user.is_staff
    return render_template("traceability/plot.html", plot=plot, can_edit=can_edit, active_form=ActiveForm(),
                           warnings=services.warning_messages(plot), geometry=services.stored_geometry(plot))
