"""HTML pages: a cooperative's listings and the listing form (phone-first, no JavaScript
needed), the listing page, and the buyers' search."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from marketplace.accounts.documents import KEY_PREFIX as DOCUMENT_KEY_PREFIX
from marketplace.accounts.models import Buyer, Cooperative, DeliverySite, OrgStatus, Role
from marketplace.catalog import display, pending, services
from marketplace.catalog.forms import GradeForm, ListingForm, ProductForm, StatusForm
from marketplace.catalog.models import Grade, Listing, Product
from marketplace.catalog.units import UNITS
from marketplace.core import geography, idempotency
from marketplace.core.access import roles_required, staff_required
from marketplace.core.errors import DomainError
from marketplace.core.models import bogota_date
from marketplace.core.types import parse_decimal
from marketplace.core.uploads import limit_uploads
from marketplace.core.web import link_args
from marketplace.extensions import db

bp = Blueprint("catalog", __name__, template_folder="templates")
COOP = (Role.COOP_MANAGER, Role.COOP_MEMBER)


def storage():
    return current_app.extensions["marketplace_storage"]


def _lang() -> str:
    return str(get_locale() or "es")[:2]


@bp.get("/ofertas")
@roles_required(*COOP)
def my_listings():
    coop = services.cooperative_of(current_user)
    return render_template("catalog/my_listings.html", coop=coop, listings=services.my_listings(coop),
                           today=bogota_date(), is_available=services.is_available, status_form=StatusForm())


def _listing_data(form, product_id) -> services.ListingData:
    return services.ListingData(
        product_id=product_id, grade_id=form.grade.data, quantity=form.quantity.decimal, unit=form.unit.data,
        unit_kg=form.unit_kg.decimal, price_per_unit=form.price.decimal, harvest_date=form.harvest_date.data,
        available_from=form.available_from.data, available_until=form.available_until.data,
        collection_point_id=form.collection_point.data or None, new_point_name=form.new_point.data,
        latitude=form.latitude.decimal, longitude=form.longitude.decimal,
        certifications=form.certifications.data or [], description=form.description.data,
        confirm_price=form.confirm_price.data, min_order=form.min_order.decimal,
    )


def _uploads(form) -> list[bytes]:
    files = [f for f in (form.photos.data or []) if getattr(f, "filename", "")]
    return [f.read() for f in files]


PENDING_FIELD = "foto_pendiente"
DROP_FIELD = "quitar_foto"


class _NewPhotos:
    """The photos sent with this submit: checked cheaply on arrival (size, format, declared
    pixels), decoded only when the service asks, once the rest of the form is valid."""

    def __init__(self, checked: list, problem: DomainError | None = None):
        self.checked, self.problem = checked, problem
        self.processed: list = []
        self.failed: set[int] = set()

    def decode(self) -> list:
        from marketplace.catalog import photos

        if self.problem is not None:  # a photo refused by the cheap checks, told once the rest is valid
            raise self.problem
        self.processed = []
        for index, upload in enumerate(self.checked):
            try:
                self.processed.append(photos.process(upload.data))
            except photos.PhotoError as exc:
                if exc.code != "busy":  # a busy decoder is no fault of the photo: keep it
                    self.failed.add(index)
                raise DomainError(services.PHOTO_MESSAGES[exc.code], "photos") from exc
        return list(self.processed)

    def to_keep(self) -> tuple[list, list]:
        """Those decoded before the form was refused, and those not decoded (but not refused)."""
        done = self.processed
        rest = [u for i, u in enumerate(self.checked) if i >= len(done) and i not in self.failed]
        return done, rest


def _checked_photos(form) -> tuple[_NewPhotos, DomainError | None]:
    """Each photo sent now through the cheap checks only: those that pass, and the first problem."""
    good, problem = [], None
    for data in _uploads(form):
        try:
            good.append(services.check_upload(data))
        except DomainError as error:
            problem = problem or error
    return _NewPhotos(good, problem), problem


def _save_with_photos(form, existing: int, save) -> tuple[Listing | None, list]:
    """Validate the listing form and ``save(decode_new_photos)``, then attach the pending photos
    the form carries, all in one commit. No photo is decoded before every other field has
    passed: the service calls ``decode_new_photos`` last, and pending photos are decoded as
    they are attached. When the form is refused, the photos that passed the upload checks are
    kept as the user's pending uploads (as sent, unless they were already decoded), so the
    page can show them back and the next submit needs no new upload. Returns (the saved
    listing or None, pending uploads to show)."""
    dropped = request.form.getlist(DROP_FIELD)
    carried = [t for t in request.form.getlist(PENDING_FIELD) if t not in dropped]
    new, problem = _checked_photos(form)
    failed: list[str] = []  # kept photos that could not be decoded after all: not kept again
    if form.validate_on_submit():
        try:
            pending.discard(current_user, dropped, storage())
            kept = pending.claim(current_user, carried)
            if existing + len(kept) + len(new.checked) > services.MAX_PHOTOS:
                raise DomainError(_("Puede subir hasta %(n)s fotos por oferta.", n=services.MAX_PHOTOS), "photos")
            listing = save(new.decode)
            pending.attach(listing, kept, storage(), failed)
            db.session.commit()
            return listing, []
        except DomainError as error:
            db.session.rollback()
            form.attach_error(error)
            if problem is not None and error is not problem:
                form.attach_error(problem)
    elif problem is not None:
        form.attach_error(problem)
    if "csrf_token" in form.errors:  # a forged or stale post keeps nothing
        return None, []
    pending.discard(current_user, dropped + failed, storage())
    rows = pending.claim(current_user, carried)
    room = max(0, services.MAX_PHOTOS - existing - len(rows))
    done, rest = new.to_keep()
    hours = current_app.config["PENDING_UPLOAD_HOURS"]
    rows += pending.keep(current_user, done[:room], storage(), hours)
    rows += pending.keep_unprocessed(current_user, rest[:max(0, room - len(done))], storage(), hours)
    db.session.commit()
    return None, rows


def _form_page(form, product, coop, listing=None, status=200, pending_photos=()):
    """The listing form. Its reference box is computed from what the form holds (product,
    grade, pickup point), the same before and after an error."""
    grade = db.session.get(Grade, form.grade.data) if isinstance(form.grade.data, int) else None
    if grade is not None and grade.product_id != product.id:
        grade = None
    point = None
    if isinstance(form.collection_point.data, int) and form.collection_point.data:
        point = next((p for p in services.collection_points(coop) if p.id == form.collection_point.data), None)
    municipality = point.municipality if point is not None else coop.municipality
    references = services.price_references(product, grade, municipality) if municipality is not None else None
    # Unit weights for the reference per unit being typed (static/js/price-reference.js).
    weights = {code: str(UNITS[code].kg) for code, _label in form.unit.choices if UNITS[code].kg}
    unit = UNITS.get(form.unit.data or "")
    unit_weight = unit.kg if unit and unit.kg else form.unit_kg.decimal if unit else None
    return render_template("catalog/listing_form.html", form=form, product=product, listing=listing,
                           references=references, units=UNITS, unit_weight=unit_weight,
                           unit_code=form.unit.data, unit_weights=weights,
                           unit_names={code: display.unit_name(code, 1) for code, _label in form.unit.choices},
                           grade_known=grade is not None, pending_photos=pending_photos), status


def _create_once(user, data, photos, store) -> Listing:
    """Create the listing once per form: a form sent again with the same idempotency key (a
    draft the phone kept offline and sent twice, a double tap) raises ``idempotency.Repeated``,
    which sends the user to the listing made the first time."""
    claimed = idempotency.claim_or_raise(user.id, idempotency.clean(request.form.get(idempotency.FIELD)), "listing")
    listing = services.create_listing(user, data, photos, store)
    db.session.flush()
    idempotency.done(claimed, url_for("catalog.my_listings", _anchor=f"oferta-{listing.id}"),
                     action=f"listing:{listing.id}")
    return listing


@bp.route("/ofertas/nueva", methods=["GET", "POST"])
@limit_uploads
@roles_required(*COOP)
def new_listing():
    org = current_user.organisation
    if isinstance(org, Cooperative) and org.status != OrgStatus.VERIFIED:
        # Not a bare 403: say why, and show the steps that lead to publishing.
        flash(_("Podrá publicar cosechas cuando el equipo verifique su organización. "
                "Estos son los pasos que faltan."), "info")
        return redirect(url_for("home.dashboard", _anchor="verificacion"))
    coop = services.require_can_sell(current_user)
    product_id = request.args.get("producto", type=int)
    if not product_id:
        return render_template("catalog/choose_product.html", products=services.active_products())
    try:
        product = services.get_product(product_id)
    except DomainError:
        abort(404)
    form = ListingForm()
    form.set_choices(product, services.collection_points(coop), _lang())
    if request.method == "GET":
        today = bogota_date()
        form.harvest_date.data = form.available_from.data = today
        form.unit.data = product.usual_units[0] if product.usual_units else "kg"
        return _form_page(form, product, coop)
    saved, pending_photos = _save_with_photos(form, 0, lambda photos: _create_once(
        current_user, _listing_data(form, product.id), photos, storage()))
    if saved is not None:
        flash(_("Oferta publicada."), "success")
        return redirect(url_for("catalog.my_listings", _anchor=f"oferta-{saved.id}"))
    return _form_page(form, product, coop, status=422, pending_photos=pending_photos)


@bp.route("/ofertas/<int:listing_id>/editar", methods=["GET", "POST"])
@limit_uploads
@roles_required(*COOP)
def edit_listing(listing_id: int):
    listing = services.own_listing(current_user, listing_id)
    coop = services.cooperative_of(current_user)
    form = ListingForm()
    form.set_choices(listing.product, services.collection_points(coop), _lang())
    if request.method == "GET":
        form.grade.data = listing.grade_id
        form.quantity.data = _plain(listing.quantity_kg / listing.unit_kg)
        form.unit.data = listing.unit
        form.unit_kg.data = _plain(listing.unit_kg) if UNITS[listing.unit].needs_weight else ""
        form.min_order.data = _plain(listing.min_order_kg / listing.unit_kg) if listing.min_order_kg else ""
        form.price.data = _plain(listing.price_per_unit)
        form.harvest_date.data = listing.harvest_date
        form.available_from.data = listing.available_from
        form.available_until.data = listing.available_until
        form.collection_point.data = listing.collection_point_id
        form.certifications.data = listing.certifications
        form.description.data = listing.description
        return _form_page(form, listing.product, coop, listing)

    def save(photos):
        services.update_listing(current_user, listing, _listing_data(form, listing.product_id), photos, storage())
        return listing

    saved, pending_photos = _save_with_photos(form, len(listing.photos), save)
    if saved is not None:
        flash(_("Oferta actualizada."), "success")
        return redirect(url_for("catalog.my_listings", _anchor=f"oferta-{listing.id}"))
    return _form_page(form, listing.product, coop, listing, status=422, pending_photos=pending_photos)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


@bp.post("/ofertas/<int:listing_id>/estado")
@roles_required(*COOP)
def listing_status(listing_id: int):
    listing = services.own_listing(current_user, listing_id)
    if not StatusForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    if action == "withdraw" and request.form.get("confirm") != "1":
        # Withdrawing hides the lot from every buyer: it is asked once more, with or without JavaScript.
        return redirect(url_for("catalog.confirm_withdraw", listing_id=listing.id))
    try:
        services.change_status(current_user, listing, action)
        db.session.commit()
        flash(_("Oferta actualizada."), "success")
    except DomainError as error:
        db.session.rollback()
        if error.status_code in (403, 404):
            raise
        flash(str(error.message), "error")
    return redirect(url_for("catalog.my_listings", _anchor=f"oferta-{listing.id}"))


@bp.get("/ofertas/<int:listing_id>/retirar")
@roles_required(*COOP)
def confirm_withdraw(listing_id: int):
    """"¿Seguro?": the step before a listing is withdrawn."""
    listing = services.own_listing(current_user, listing_id)
    if listing.status.value == "withdrawn":
        return redirect(url_for("catalog.my_listings", _anchor=f"oferta-{listing.id}"))
    return render_template("catalog/confirm_withdraw.html", listing=listing, status_form=StatusForm())


@bp.get("/ofertas/<int:listing_id>")
@login_required
def listing_page(listing_id: int):
    listing = services.visible_listing(current_user, listing_id)
    coop = db.session.get(Cooperative, listing.cooperative_id)
    return render_template("catalog/listing.html", listing=listing, coop=coop, history=services.history(listing),
                           available=services.is_available(listing), units=UNITS,
                           certifications=services.CERTIFICATIONS)


@bp.get("/ofertas/fotos-pendientes/<token>")
@roles_required(*COOP)
def pending_photo(token: str):
    """What the form shows of a photo kept from a refused form (see ``pending.preview``), for
    the user who sent it only."""
    try:
        data, mimetype = pending.preview(current_user, token[:80], storage())
    except (DomainError, ValueError, OSError):
        abort(404)
    from io import BytesIO

    response = send_file(BytesIO(data), mimetype=mimetype, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/media/<key>")
def media(key: str):
    """Photos and thumbnails, by their unguessable server-made names."""
    if key.startswith(DOCUMENT_KEY_PREFIX):
        abort(404)  # an organisation's documents are read only through their own, checked route
    try:
        data = storage().read(key)
    except (ValueError, OSError):
        abort(404)
    from io import BytesIO

    response = send_file(BytesIO(data), mimetype="image/jpeg", max_age=365 * 24 * 3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------------- search

PAGE_SIZE = 20


def _parse_search(args):
    """Search filters from the query string, with a message for each one that is wrong."""
    problems: list[str] = []
    filters = services.SearchFilters()

    def integer(name):
        value = args.get(name, "").strip()
        if not value:
            return None
        if not value.isdigit() or len(value) > 9:
            problems.append(name)
            return None
        return int(value)

    filters.product_id = integer("producto")
    filters.grade_id = integer("calidad")
    department = args.get("departamento", "").strip()
    if department:
        if department.isdigit() and len(department) == 2:
            filters.department_code = department
        else:
            problems.append("departamento")
    municipality = args.get("municipio", "").strip()
    if municipality:
        resolved = geography.resolve(municipality)
        if resolved.municipality:
            filters.municipality_code = resolved.municipality.code
        else:
            problems.append("municipio")
    subregion = args.get("subregion", "").strip()[:80]
    filters.subregion = subregion or None
    certification = args.get("certificacion", "").strip()
    if certification:
        if certification in services.CERTIFICATIONS:
            filters.certification = certification
        else:
            problems.append("certificacion")
    for name, attr in (("min_kg", "min_kg"), ("precio_min", "min_price_kg"), ("precio_max", "max_price_kg")):
        raw = args.get(name, "").strip()
        if raw:
            value = parse_decimal(raw[:20])
            if value is None or value < 0:
                problems.append(name)
            else:
                setattr(filters, attr, value)
    if filters.min_price_kg and filters.max_price_kg and filters.min_price_kg > filters.max_price_kg:
        problems.append("precio_max")
    raw_date = args.get("fecha", "").strip()
    if raw_date:
        try:
            filters.available_on = date.fromisoformat(raw_date[:10])
        except ValueError:
            problems.append("fecha")
    sort = args.get("orden", "freshness")
    filters.sort = sort if sort in services.SORTS else "freshness"
    site_id = integer("sitio")
    site = None
    if site_id and isinstance(current_user.organisation, Buyer):
        site = db.session.get(DeliverySite, site_id)
        if site is None or site.buyer_id != current_user.organisation.id:
            problems.append("sitio")
            site = None
        else:
            filters.origin = (site.latitude, site.longitude)
    if filters.sort == "distance" and filters.origin is None:
        filters.sort = "freshness"
    return filters, problems, site


@bp.get("/buscar")
@login_required
def search():
    services.refuse_carrier_search(current_user)
    filters, problems, site = _parse_search(request.args)
    page_number = request.args.get("page", 1, type=int) or 1
    stmt = services.search_statement(filters).options(selectinload(Listing.photos))
    page = db.paginate(stmt, page=max(1, min(page_number, 10_000)),
                       per_page=PAGE_SIZE, error_out=False, count=True)
    buyer = isinstance(current_user.organisation, Buyer)
    sites = current_user.organisation.delivery_sites if buyer else []
    # Landed prices go to the site chosen for distance, else the buyer's default site.
    landed_site = site or services.default_site(sites)
    products = services.active_products()
    product = next((p for p in products if p.id == filters.product_id), None)
    active = sum(1 for name in FILTER_NAMES if request.args.get(name, "").strip())
    return render_template(
        "catalog/search.html", page=page, filters=filters, problems=problems, site=site, sites=sites,
        products=products, departments=geography.departments(),
        subregions=geography.pdet_subregions(), certifications=services.CERTIFICATIONS,
        distance=services.distance_km, units=UNITS, args=request.args, buyer=buyer,
        grades=[g for g in product.grades if g.active] if product else [],
        cooperatives=services.cooperatives_of(page.items), landed_site=landed_site,
        landed=services.landed_prices(current_user, page.items, landed_site.id if landed_site else None,
                                      filters.min_kg),
        active_filters=active, grade_choices={p.id: [[g.id, display.grade_name(g)] for g in p.grades if g.active]
                                             for p in products},
        pager_args=link_args("page"),
    ), (400 if problems else 200)


# Query parameters that narrow a search (counted on the folded filters' summary).
FILTER_NAMES = ("producto", "calidad", "departamento", "municipio", "subregion", "certificacion", "min_kg",
                "precio_min", "precio_max", "fecha", "sitio")


localized = display.product_name  # a product's or grade's name in the reader's language


def init_app(app) -> None:
    from marketplace.catalog.photos import LocalStorage

    app.extensions["marketplace_storage"] = LocalStorage(app.config["UPLOAD_FOLDER"])
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals.update(display.GLOBALS)
    for name, func in display.FILTERS.items():
        app.add_template_filter(func, name)



# ------------------------------------------------------------- staff curation

CATEGORY_LABELS = {
    "cacao_coffee": _l("Cacao y café"), "fruit": _l("Frutas"), "roots_plantain": _l("Raíces, tubérculos y plátano"),
    "grains": _l("Granos"), "sweeteners": _l("Panela y miel"), "vegetables": _l("Hortalizas"), "fish": _l("Pescado"),
    "industrial": _l("Industriales y aceites"),
}


def _product_form(formdata=True, obj=None):
    form = ProductForm(obj=obj) if formdata else ProductForm(formdata=None, obj=obj)
    form.category.choices = list(CATEGORY_LABELS.items())
    if obj is not None and request.method == "GET":
        form.category.data = obj.category.value
    return form


@bp.route("/admin/catalogo", methods=["GET", "POST"])
@staff_required
def catalogue_admin():
    form = _product_form()
    status = 200
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        if form.validate_on_submit():
            try:
                services.save_product(current_user, None, form.name.data, form.name_en.data, form.category.data,
                                      form.usual_units.data or [])
                db.session.commit()
                flash(_("Producto agregado al catálogo."), "success")
                return redirect(url_for("catalog.catalogue_admin"))
            except DomainError as error:
                db.session.rollback()
                form.attach_error(error)
        status = 422
    return render_template("catalog/admin_catalogue.html", products=services.all_products(), form=form,
                           categories=CATEGORY_LABELS, status_form=StatusForm()), status


@bp.route("/admin/catalogo/<int:product_id>", methods=["GET", "POST"])
@staff_required
def product_admin(product_id: int):
    product = db.session.get(Product, product_id) or abort(404)
    form = _product_form(obj=product)
    grade_form = GradeForm(prefix="g")
    status = 200
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        action = request.form.get("action", "save")
        try:
            if action in ("retire", "restore") and StatusForm().validate_on_submit():
                services.set_product_active(current_user, product, action == "restore")
            elif action == "add_grade" and grade_form.validate_on_submit():
                services.save_grade(current_user, product, None, grade_form.grade_name.data,
                                    grade_form.grade_name_en.data, int(grade_form.rank.decimal))
            elif action.startswith("grade_") and StatusForm().validate_on_submit():
                grade = db.session.get(Grade, int(request.form.get("grade_id", "0") or 0))
                if grade is None or grade.product_id != product.id:
                    abort(404)
                services.set_grade_active(current_user, grade, action == "grade_restore")
            elif action == "save" and form.validate_on_submit():
                services.save_product(current_user, product, form.name.data, form.name_en.data,
                                      form.category.data, form.usual_units.data or [])
            else:
                raise DomainError(_("Revise los campos marcados."))
            db.session.commit()
            flash(_("Catálogo actualizado."), "success")
            return redirect(url_for("catalog.product_admin", product_id=product.id))
        except DomainError as error:
            db.session.rollback()
            (grade_form if action == "add_grade" else form).attach_error(error)
            status = 422
    return render_template("catalog/admin_product.html", product=product, form=form, grade_form=grade_form,
                           categories=CATEGORY_LABELS, status_form=StatusForm()), status
