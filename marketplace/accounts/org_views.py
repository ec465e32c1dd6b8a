"""HTML pages of an organisation (its profile, members and delivery sites) and the
platform administration of organisations, staff and the audit trail."""

from __future__ import annotations

from io import BytesIO

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.accounts import documents as docs
from marketplace.accounts import recovery, reviews, services
from marketplace.accounts.forms import (
    BuyerProfileForm,
    CooperativeProfileForm,
    DocumentForm,
    DocumentReviewForm,
    EmptyForm,
    MemberChangeForm,
    MemberForm,
    RoleForm,
    SiteForm,
    StaffUserForm,
    StatusForm,
    role_choices,
)
from marketplace.accounts.models import (
    ROLES_BY_KIND,
    Buyer,
    Cooperative,
    DocumentKind,
    OrgKind,
    OrgStatus,
    Role,
    User,
)
from marketplace.accounts.views import _addr, _buyer_data, _cooperative_data, _fail, _site_data
from marketplace.core import audit_text
from marketplace.core.access import admin_required, member_required, staff_required
from marketplace.core.errors import DomainError
from marketplace.core.models import AuditEvent
from marketplace.core.uploads import limit_uploads
from marketplace.core.web import link_args
from marketplace.extensions import db

org_bp = Blueprint("org", __name__, url_prefix="/organizacion")
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


@org_bp.get("")
@member_required
def profile_page():
    org = current_user.organisation
    return render_template(
        "accounts/organisation.html",
        org=org,
        can_manage=services.can_manage_organisation(current_user, org),
        members=services.members_of(org),
        nit=services.nit_typed(org),
        **_under_review(org, own=True),
    )


def _under_review(org, own: bool = False) -> dict:
    """What of the organisation's own changes waits for staff, for its pages. On its own
    pages (``own``) a NIT held for staff reads as the one its managers typed, as a free one
    would: they must not learn from it that another organisation has it."""
    identity_before, identity_after = reviews.identity_under_review(org)
    if own and "nit" in identity_after and identity_after["nit"] is None:
        identity_after = {**identity_after, "nit": services.nit_typed(org)}
    return {"reviewed": org, "identity_before": identity_before, "identity_after": identity_after,
            # In words, as the audit trail writes them (a legal form by its label).
            "identity_changes": audit_text.changes("organisation", identity_before, identity_after),
            "member_change": reviews.pending_member_change(org) if isinstance(org, Cooperative) else None}


@org_bp.route("/editar", methods=["GET", "POST"])
@member_required
def edit():
    org = current_user.organisation
    services.require_manage(current_user, org)
    if isinstance(org, Cooperative):
        form = CooperativeProfileForm(obj=org)
        if request.method == "GET":
            form.nit.data = services.nit_typed(org)
            form.municipality.data = f"{org.municipality.label} ({org.municipality.code})"
            pending = reviews.pending_member_change(org)
            if pending is not None:  # the form shows what the cooperative asked for, not lose it on saving
                for name, value in reviews.counts_of(pending).items():
                    getattr(form, name).data = value
    elif isinstance(org, Buyer):
        form = BuyerProfileForm(obj=org)
        if request.method == "GET":
            form.nit.data = services.nit_typed(org)
        if request.method == "GET" and org.municipality:
            form.municipality.data = f"{org.municipality.label} ({org.municipality.code})"
    else:
        abort(404)
    if form.validate_on_submit():
        try:
            if isinstance(org, Cooperative):
                services.update_cooperative(current_user, org, _cooperative_data(form), remote_addr=_addr())
            else:
                services.update_buyer(current_user, org, _buyer_data(form), remote_addr=_addr())
            review = _under_review(org, own=True)
            db.session.commit()
            flash(_("Datos de la organización guardados."), "success")
            if review["identity_after"]:
                flash(_("El cambio de nombre, NIT o forma jurídica queda en revisión del equipo. Sus pedidos en "
                        "curso siguen; podrá publicar, cotizar y hacer pedidos nuevos cuando el equipo lo "
                        "verifique."), "info")
            if review["member_change"] is not None:
                flash(_("El nuevo número de asociados cambia si la organización es liderada por mujeres o por "
                        "jóvenes: cuenta cuando el equipo lo confirme. Mientras tanto siguen los números "
                        "anteriores."), "info")
            return redirect(url_for("org.profile_page"))
        except DomainError as error:
            _fail(form, error)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/organisation_edit.html", form=form, org=org), status


def _member_form(org, formdata=True):
    form = MemberForm() if formdata else MemberForm(formdata=None)
    roles = [r for r in ROLES_BY_KIND[org.kind] if r != Role.PLATFORM_ADMIN or current_user.is_admin]
    form.role.choices = role_choices(roles)
    return form


@org_bp.route("/miembros", methods=["GET", "POST"])
@member_required
def members():
    org = current_user.organisation
    can_manage = services.can_manage_organisation(current_user, org)
    form = _member_form(org)
    status = 200
    if request.method == "POST":
        services.require_manage(current_user, org)
        if form.validate_on_submit():
            try:
                services.add_member(
                    current_user, org,
                    services.UserData(full_name=form.full_name.data, password=form.password.data,
                                      phone=form.phone.data, email=form.email.data),
                    Role(form.role.data), remote_addr=_addr(),
                )
                db.session.commit()
                flash(_("Persona agregada. Debe cambiar la contraseña temporal al entrar."), "success")
                return redirect(url_for("org.members"))
            except DomainError as error:
                _fail(form, error)
        status = 422
    role_forms = {}
    for membership in services.members_of(org):
        rf = RoleForm(prefix=f"m{membership.id}", data={"role": membership.role.value})
        rf.role.choices = form.role.choices
        role_forms[membership.id] = rf
    return render_template(
        "accounts/members.html", org=org, form=form, can_manage=can_manage,
        members=services.members_of(org), role_forms=role_forms, empty_form=EmptyForm(),
    ), status


def _change_member(change):
    """Run ``change`` (a service call on one member that returns the ``(category, message)``
    pairs to flash), commit, and go back to the members page. A refusal is flashed there and
    changes nothing; a 403 is raised, as from any other page."""
    try:
        messages = change()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        if error.status_code == 403:
            raise
        flash(str(error.message), "error")
    else:
        for category, message in messages:
            flash(message, category)
    return redirect(url_for("org.members"))


@org_bp.post("/miembros/<int:membership_id>/rol")
@member_required
def member_role(membership_id: int):
    membership = services.get_membership(current_user, membership_id)
    form = RoleForm(prefix=f"m{membership.id}")
    form.role.choices = role_choices(ROLES_BY_KIND[membership.organisation.kind])
    if not form.validate_on_submit():
        flash(_("Elija un rol de la lista."), "error")
        return redirect(url_for("org.members"))

    def change():
        services.change_member_role(current_user, membership, Role(form.role.data), remote_addr=_addr())
        return [("success", _("Rol actualizado."))]

    return _change_member(change)


@org_bp.post("/miembros/<int:membership_id>/estado")
@member_required
def member_active(membership_id: int):
    membership = services.get_membership(current_user, membership_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"

    def change():
        services.set_member_active(current_user, membership, active, remote_addr=_addr())
        return [("success", _("Cuenta reactivada.") if active else _("Cuenta desactivada: ya no puede entrar."))]

    return _change_member(change)


@org_bp.post("/miembros/<int:membership_id>/contrasena")
@member_required
def member_password(membership_id: int):
    membership = services.get_membership(current_user, membership_id)
    if not EmptyForm().validate_on_submit():
        abort(400)

    def change():
        tokens = recovery.reset_member_password(current_user, membership, remote_addr=_addr())
        messages = [("success", _("Enviamos una contraseña temporal a %(name)s por su canal de avisos. Sus sesiones "
                                  "se cerraron y deberá cambiarla al entrar.", name=membership.user.full_name))]
        if tokens:
            messages.append(("info", ngettext("Se revocó su clave de API.", "Se revocaron sus %(num)s claves de API.",
                                              tokens)))
        return messages

    return _change_member(change)


def _current_buyer() -> Buyer:
    org = current_user.organisation
    if not isinstance(org, Buyer):
        abort(404)
    return org


@org_bp.get("/sitios")
@member_required
def sites():
    buyer = _current_buyer()
    return render_template("accounts/sites.html", buyer=buyer,
                           can_manage=services.can_manage_organisation(current_user, buyer))


@org_bp.route("/sitios/nuevo", methods=["GET", "POST"])
@member_required
def new_site():
    buyer = _current_buyer()
    services.require_manage(current_user, buyer)
    form = SiteForm()
    if form.validate_on_submit():
        try:
            services.add_delivery_site(current_user, buyer, _site_data(form), remote_addr=_addr())
            db.session.commit()
            flash(_("Sitio de entrega agregado."), "success")
            return redirect(url_for("org.sites"))
        except DomainError as error:
            _fail(form, error)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/site_form.html", form=form, site=None), status


@org_bp.route("/sitios/<int:site_id>", methods=["GET", "POST"])
@member_required
def edit_site(site_id: int):
    site = services.get_delivery_site(current_user, site_id)
    services.require_manage(current_user, site.buyer)
    form = SiteForm(data={
        "site_name": site.name, "address": site.address,
        "site_municipality": f"{site.municipality.label} ({site.municipality.code})",
        "latitude": str(site.latitude), "longitude": str(site.longitude), "active": site.active,
    }) if request.method == "GET" else SiteForm()
    if form.validate_on_submit():
        try:
            services.update_delivery_site(current_user, site, _site_data(form, active=form.active.data), remote_addr=_addr())
            db.session.commit()
            flash(_("Sitio de entrega actualizado."), "success")
            return redirect(url_for("org.sites"))
        except DomainError as error:
            _fail(form, error)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/site_form.html", form=form, site=site), status


# --------------------------------------------------------------------------- admin


# ------------------------------------------------------------- verification documents


def _storage():
    return current_app.extensions["marketplace_storage"]


def _document_form(org) -> DocumentForm:
    form = DocumentForm()
    kinds = docs.required_kinds(org) + [DocumentKind.OTHER]
    form.kind.choices = [(k.value, docs.KIND_LABELS[k]) for k in kinds]
    if request.method == "GET" and request.args.get("tipo") in {k.value for k in kinds}:
        form.kind.data = request.args["tipo"]
    return form


@org_bp.route("/documentos", methods=["GET", "POST"])
@limit_uploads
@member_required
def documents():
    """Where managers send the documents verification asks for, and see how each was judged."""
    org = current_user.organisation
    if org.kind == OrgKind.STAFF:
        abort(404)
    sent = docs.documents_of(current_user, org)
    form = _document_form(org)
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(docs.MAX_BYTES + 1) if upload else b""
        try:
            docs.upload_document(current_user, org, form.kind.data, data, _storage(), remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Documento recibido. El equipo lo revisa y le avisa del resultado."), "success")
            return redirect(url_for("org.documents"))
    return render_template(
        "accounts/documents.html", org=org, form=form, documents=sent, required=docs.required_kinds(org),
        kind_labels=docs.KIND_LABELS, status_labels=docs.STATUS_LABELS,
    ), (422 if request.method == "POST" else 200)


@org_bp.get("/documentos/<int:document_id>")
@login_required
def document_file(document_id: int):
    """A document's file, for the organisation's managers and staff only: always a download
    (never shown inline), with the type the server found, not the one the browser sent."""
    document = docs.readable_document(current_user, document_id)
    try:
        data = _storage().read(document.file_key)
    except (ValueError, OSError):
        abort(404)
    extension = "pdf" if document.content_type == "application/pdf" else "jpg"
    response = send_file(BytesIO(data), mimetype=document.content_type, as_attachment=True,
                         download_name=f"{document.kind.value}-{document.id}.{extension}", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@admin_bp.post("/organizaciones/<int:org_id>/documentos/<int:document_id>")
@admin_required
def review_document(org_id: int, document_id: int):
    if docs.readable_document(current_user, document_id).organisation_id != org_id:
        abort(404)
    form = DocumentReviewForm(prefix=f"doc{document_id}")
    if form.validate_on_submit():
        try:
            document = docs.review_document(current_user, document_id, form.status.data, form.note.data,
                                            remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Documento: %(status)s.", status=docs.STATUS_LABELS[document.status]), "success")
    else:
        flash(_("Elija aceptar o rechazar."), "error")
    return redirect(url_for("admin.organisation", org_id=org_id, _anchor="documentos"))


@admin_bp.get("/organizaciones")
@staff_required
def organisations():
    kind = request.args.get("tipo")
    status = request.args.get("estado", "pending" if current_user.is_admin else "")
    query = (request.args.get("q") or "")[:80]
    kind_value = OrgKind(kind) if kind in {k.value for k in OrgKind} else None
    status_value = OrgStatus(status) if status in {s.value for s in OrgStatus} else None
    page = db.paginate(services.list_organisations(kind_value, status_value, query), per_page=25, error_out=False)
    return render_template(
        "accounts/admin_organisations.html", page=page, kind=kind_value, status=status_value, query=query,
        counts=services.count_by_status(), statuses=services.STATUS_LABELS, kinds=services.KIND_LABELS,
        member_changes=reviews.pending_member_changes(),
    )


def _status_choices(org):
    allowed = services.STATUS_TRANSITIONS.get(org.status, set())
    order = [OrgStatus.VERIFIED, OrgStatus.REJECTED, OrgStatus.SUSPENDED]
    return [(s.value, services.STATUS_LABELS[s]) for s in order if s in allowed]


@admin_bp.route("/organizaciones/<int:org_id>", methods=["GET", "POST"])
@staff_required
def organisation(org_id: int, member_form: MemberChangeForm | None = None):
    org = services.get_organisation(current_user, org_id)
    form = StatusForm()
    form.status.choices = _status_choices(org)
    status_code = 422 if member_form is not None else 200
    if request.method == "POST" and member_form is None:
        if not current_user.is_admin:
            abort(403)
        if form.validate_on_submit():
            try:
                services.set_organisation_status(current_user, org, OrgStatus(form.status.data),
                                                 form.reason.data, remote_addr=_addr())
                db.session.commit()
                flash(_("Estado actualizado: %(status)s.", status=services.status_label(org.status)), "success")
                return redirect(url_for("admin.organisation", org_id=org.id))
            except DomainError as error:
                _fail(form, error)
                org = services.get_organisation(current_user, org_id)
        status_code = 422
    history = db.session.scalars(
        select(AuditEvent).where(AuditEvent.organisation_id == org.id).order_by(AuditEvent.id.desc()).limit(50)
    ).all()
    actor_ids = {e.actor_id for e in history if e.actor_id}
    people = {uid: name for uid, name in db.session.execute(
        select(User.id, User.full_name).where(User.id.in_(actor_ids)))} if actor_ids else {}
    return render_template(
        "accounts/admin_organisation.html", org=org, form=form, history=history, people=people,
        held_nit=services.held_nit(org),
        members=services.members_of(org), documents=docs.documents_of(current_user, org),
        review_form=DocumentReviewForm, kind_labels=docs.KIND_LABELS, doc_status_labels=docs.STATUS_LABELS,
        member_form=member_form or MemberChangeForm(formdata=None), **_under_review(org),
    ), status_code


@admin_bp.post("/organizaciones/<int:org_id>/asociados/<int:change_id>")
@admin_required
def member_change(org_id: int, change_id: int):
    """Confirm or reject member counts that would flip the women- or youth-led flag."""
    change = reviews.get_member_change(current_user, change_id, org_id)
    form = MemberChangeForm()
    if form.validate_on_submit():
        try:
            reviews.decide_member_change(current_user, change, form.decision.data == "confirm", form.note.data,
                                         remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            if error.field is None:  # decided already: the page says how
                db.session.rollback()
                flash(error.message, "error")
                return redirect(url_for("admin.organisation", org_id=org_id))
            _fail(form, error)
        else:
            flash(_("Cambio de asociados confirmado: los nuevos números ya cuentan.")
                  if form.decision.data == "confirm" else _("Cambio de asociados rechazado."), "success")
            return redirect(url_for("admin.organisation", org_id=org_id))
    return organisation(org_id, member_form=form)


@admin_bp.route("/equipo", methods=["GET", "POST"])
@admin_required
def staff_users():
    form = StaffUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.create_staff_user(
                current_user,
                services.UserData(full_name=form.full_name.data, password=form.password.data,
                                  phone=form.phone.data, email=form.email.data),
                Role(form.role.data), remote_addr=_addr(),
            )
            db.session.commit()
            flash(_("Cuenta del equipo creada. Debe cambiar la contraseña temporal al entrar."), "success")
            return redirect(url_for("admin.staff_users"))
        except DomainError as error:
            _fail(form, error)
    if request.method == "POST":
        status = 422
    staff = services.members_of(services.staff_organisation())
    db.session.commit()
    return render_template("accounts/admin_staff.html", form=form, staff=staff), status


@admin_bp.get("/auditoria")
@staff_required
def audit_log():
    """The audit trail moved to the staff insights; old links keep working."""
    return redirect(url_for("insights.audit", **link_args()), code=301)
