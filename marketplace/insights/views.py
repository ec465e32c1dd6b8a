"""Staff dashboards (indicators, trends, anomalies, the audit trail), every table exportable
as CSV or XLSX, and the buyer's sourcing report (page, CSV, PDF). Charts are SVG drawn on
the server, each with its table beside it; no JavaScript."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.models import Organisation, Role, User
from marketplace.catalog import services as catalog_services
from marketplace.catalog.display import product_name
from marketplace.catalog.models import Grade, Product
from marketplace.core import csvout, geography
from marketplace.core.access import staff_required
from marketplace.core.errors import DomainError
from marketplace.core.formatting import cop, kg, number, percent
from marketplace.core.models import BOGOTA, AuditEvent, Municipality, bogota_date
from marketplace.core.types import parse_decimal
from marketplace.core.web import known_args, link_args
from marketplace.extensions import db
from marketplace.insights import charts, exports, report_pdf, services
from marketplace.insights.models import SaleFact
from marketplace.orders.forms import PlainForm
from marketplace.orders.models import OrderLine

bp = Blueprint("insights", __name__, template_folder="templates")
BUYER = (Role.BUYER_ADMIN, Role.BUYER_PURCHASER)
AUDIT_PAGE = 50
PAGE_FLAGGED, EXPORT_FLAGGED = 50, 100_000


def _lang() -> str:
    return str(get_locale() or "es")[:2]


def _month_label(month: date) -> str:
    return month.strftime("%Y-%m")


def _filters(require_product: bool = False) -> services.Filters:
    args = request.args
    product = args.get("producto", "")
    product_id = int(product) if product.isdigit() and len(product) < 10 else None
    if product and product_id is None:
        raise DomainError(_("Ese producto no existe."), "product")
    if require_product and product_id is None:
        first = catalog_services.active_products()
        product_id = first[0].id if first else None
    return services.make_filters(
        services.parse_month(args.get("desde"), "start"), services.parse_month(args.get("hasta"), "end"),
        product_id, args.get("departamento") or None, args.get("subregion") or None, args.get("municipio") or None)


def _choices() -> dict:
    return {"products": catalog_services.active_products(), "departments": geography.departments(),
            "subregions": geography.pdet_subregions()}


def _problem(error: DomainError, template: str, **context):
    """A bad filter: the page says what is wrong, with the filter form to fix it."""
    # No product asked for and none in the catalogue yet: an empty page, not an error.
    status = 200 if error.field == "product" and not request.args.get("producto") else error.status_code
    return render_template(template, problem=error.message, args=link_args(), **_choices(), **context), status


def _export(name: str, header: list[str], rows) -> Response:
    """Stream ``rows`` as CSV (never built in memory) or XLSX (written row by row to a
    temporary file, then streamed and deleted). Times are written in Bogotá's clock, each
    with its offset in the CSV; the header of a column of times says "hora de Bogotá"."""
    kind = request.args.get("formato")
    stamp = bogota_date().isoformat()
    if kind == "xlsx":
        path = exports.xlsx_file(header, rows, name, lang=_lang(), zone=BOGOTA)
        response = Response(exports.iter_file(path),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.xlsx"'
        return response
    # "csv": plain, for programs; "csv-excel": ";" and decimal comma with a byte-order mark,
    # which an Excel set to Spanish (Colombia) opens in columns.
    dialect = csvout.dialect_for(kind) or csvout.PLAIN
    suffix = "-excel" if dialect is csvout.EXCEL_ES else ""
    response = Response(exports.csv_stream(header, rows, zone=BOGOTA, dialect=dialect), mimetype=csvout.MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}{suffix}.csv"'
    return response


def _batches(stmt, key, *, ascending: bool, size: int = 2000):
    """Rows (column tuples, never ORM objects) of ``stmt`` in batches by ``key`` (keyset
    pagination): memory stays bounded however many rows there are, and no cursor has to
    outlive a transaction."""
    # Its own connection, one short query per batch: the response streams after the
    # request's session and context are gone.
    return _batch_rows(db.engine, stmt, key, ascending, size, _position(stmt, key))


def _batch_rows(engine, stmt, key, ascending: bool, size: int, position: int):
    last = None
    while True:
        page = stmt
        if last is not None:
            page = page.where(key > last if ascending else key < last)
        with engine.connect() as connection:
            rows = connection.execute(page.order_by(key.asc() if ascending else key.desc()).limit(size)).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row)
        last = rows[-1][position]
        if len(rows) < size:
            return


def _position(stmt, key) -> int:
    for index, column in enumerate(stmt.selected_columns):
        if column.key == key.key:
            return index
    raise ValueError(key)


EXPORT_KINDS = (None, "", "csv", "csv-excel", "xlsx")


def _wants_export() -> bool:
    kind = request.args.get("formato")
    if kind not in EXPORT_KINDS:
        abort(400)
    return bool(kind)


# ---------------------------------------------------------------- indicators


@bp.get("/seguimiento")
@staff_required
def index():
    return redirect(url_for("insights.indicators"))


@bp.get("/seguimiento/indicadores")
@staff_required
def indicators():
    try:
        f = _filters()
        result = services.impact(f)
    except DomainError as error:
        db.session.rollback()
        return _problem(error, "insights/indicators.html", result=None)
    db.session.commit()
    header = [_("Mes")] + [row.label for row in result.rows]
    table = [[m] + [row.monthly[i][1] for row in result.rows] for i, m in enumerate(f.months)]
    if _wants_export():
        return _export("indicadores", header, ([_month_label(r[0])] + r[1:] for r in table))
    labels = [_month_label(m) for m in f.months]
    by_code = {row.code: row for row in result.rows}
    income = charts.bar_chart([charts.Series(_("Ingresos (COP)"), list(zip(labels, [v for _m, v in
                                                                               by_code["income_cop"].monthly],
                                                                          strict=True)))],
                              title=_("Ingresos que llegan a las cooperativas, por mes"), y_label="COP",
                              lang=_lang())
    reach = charts.line_chart([
        charts.Series(_("Cooperativas con ventas"), list(zip(labels, [v for _m, v in by_code["cooperatives"].monthly],
                                                             strict=True))),
        charts.Series(_("Alianzas"), list(zip(labels, [v for _m, v in by_code["alliances"].monthly], strict=True))),
        charts.Series(_("Alianzas con compras repetidas (acumuladas)"),
                      list(zip(labels, [v for _m, v in by_code["repeat_alliances"].monthly], strict=True))),
    ], title=_("Cooperativas y alianzas por mes"), include_zero=True, lang=_lang())
    shares = charts.line_chart([
        charts.Series(_("Lideradas por mujeres"), [(lab, v * 100 if v is not None else None) for lab, (_m, v) in
                                                   zip(labels, by_code["women_share"].monthly, strict=True)]),
        charts.Series(_("Lideradas por jóvenes"), [(lab, v * 100 if v is not None else None) for lab, (_m, v) in
                                                   zip(labels, by_code["youth_share"].monthly, strict=True)]),
    ], title=_("Participación en los ingresos (%)"), y_label="%", include_zero=True, lang=_lang())
    return render_template("insights/indicators.html", result=result, table=table, header=header,
                           charts=[income, reach, shares], args=link_args(), form=PlainForm(),
                           indicator_names=services.INDICATORS, **_choices())


# The filters the indicators page reads: the only query values its links and redirects keep.
FILTER_ARGS = ("producto", "desde", "hasta", "departamento", "subregion", "municipio")


@bp.get("/seguimiento/metas")
@staff_required
def targets():
    """Targets are set beside the indicators they measure (an address someone may type or bookmark)."""
    return redirect(url_for("insights.indicators", _anchor="metas", **known_args(*FILTER_ARGS)))


@bp.post("/seguimiento/metas")
@staff_required
def set_target():
    form = PlainForm()
    if form.validate_on_submit():
        year = request.form.get("year", "")
        try:
            services.set_target(current_user, request.form.get("indicator"),
                                int(year) if year.isdigit() and len(year) == 4 else None,
                                parse_decimal(request.form.get("target", "")))
            db.session.commit()
            flash(_("Meta guardada."), "success")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
    return redirect(url_for("insights.indicators", **known_args(*FILTER_ARGS)))


# ---------------------------------------------------------------- trends


@bp.get("/seguimiento/tendencias")
@staff_required
def trends():
    try:
        f = _filters(require_product=True)
        result = services.trends(f)
    except DomainError as error:
        db.session.rollback()
        return _problem(error, "insights/trends.html", result=None)
    db.session.commit()
    header = [_("Mes"), _("Mediana COP/kg"), _("P25 COP/kg"), _("P75 COP/kg"), _("Kg"), _("Ingresos COP"),
              _("Logística COP"), _("Pedidos (por cooperativa)"), _("Participación en finca"),
              _("Participación de la última milla")]
    table = [[m.month, m.median, m.q1, m.q3, m.kg, m.cop, m.logistics_cop, m.parts, m.farm_gate_share,
              m.last_mile_share] for m in result.months]
    if _wants_export():
        return _export("tendencias", header, ([_month_label(r[0])] + r[1:] for r in table))
    labels = [_month_label(m.month) for m in result.months]
    price = charts.line_chart(
        [charts.Series(_("Mediana del precio pagado (COP/kg)"), [(lab, m.median) for lab, m in
                                                                 zip(labels, result.months, strict=True)])],
        band=[(lab, m.q1, m.q3) for lab, m in zip(labels, result.months, strict=True)],
        title=_("Precio pagado a las cooperativas: %(p)s, %(r)s", p=product_name(f.product), r=f.region_label),
        y_label="COP/kg", lang=_lang())
    volume = charts.bar_chart([charts.Series(_("Kg"), [(lab, m.kg) for lab, m in
                                                      zip(labels, result.months, strict=True)])],
                              title=_("Volumen vendido por mes (kg)"), y_label="kg", lang=_lang())
    shares = charts.line_chart([
        charts.Series(_("Llega a la cooperativa (%)"), [(lab, m.farm_gate_share * 100 if m.farm_gate_share is not None
                                                         else None) for lab, m in zip(labels, result.months,
                                                                                      strict=True)]),
        charts.Series(_("Última milla (%)"), [(lab, m.last_mile_share * 100 if m.last_mile_share is not None else None)
                                              for lab, m in zip(labels, result.months, strict=True)]),
    ], title=_("Reparto del precio puesto en destino"), y_label="%", include_zero=True, lang=_lang())
    wholesale = None
    if result.sipsa is not None:
        wholesale = charts.line_chart(
            [charts.Series(_("Precio mayorista medio (COP/kg)"), [(_month_label(m), v) for m, v in
                                                                  result.sipsa.months])],
            title=_("SIPSA (DANE): %(p)s en %(m)s", p=result.sipsa.product, m=result.sipsa.market),
            y_label="COP/kg", lang=_lang())
    return render_template("insights/trends.html", result=result, table=table, header=header,
                           charts=[price, volume, shares], wholesale=wholesale, args=link_args(), **_choices())


# ---------------------------------------------------------------- anomalies


@bp.get("/seguimiento/anomalias")
@staff_required
def anomalies():
    try:
        f = _filters(require_product=True)
        result = services.anomalies(f, flagged_limit=EXPORT_FLAGGED if _wants_export() else PAGE_FLAGGED)
    except DomainError as error:
        db.session.rollback()
        return _problem(error, "insights/anomalies.html", result=None)
    db.session.commit()
    header = [_("Fecha"), _("Línea"), _("Pedido"), _("Código DIVIPOLA"), _("Municipio"), _("Cooperativa n.º"),
              _("Cooperativa"), _("Comprador n.º"), _("Comprador"), _("COP/kg"), _("Mediana del mes COP/kg"),
              _("Señal"), _("Revisiones")]
    table = [[x.fact.day, x.fact.line_id, x.fact.order_id, x.fact.municipality_code, x.municipality,
              x.fact.cooperative_id, x.cooperative, x.fact.buyer_id, x.buyer, x.fact.price_per_kg, x.reference,
              _flag(x.flag), len(x.reviews)] for x in result.flagged]
    if _wants_export():
        return _export("anomalias", header, table)
    figures = []
    for series in filter(None, (result.platform, result.reference)):
        if series.alps:
            figures.append(charts.line_chart(
                [charts.Series("ALPS", [(_month_label(p.month), p.value) for p in series.alps])],
                title=_("ALPS: %(s)s", s=series.label), lang=_lang(), include_zero=True))
        if series.ipa:
            figures.append(charts.line_chart(
                [charts.Series("IPA", [(_month_label(p.month), p.value) for p in series.ipa])],
                title=_("IPA: %(s)s", s=series.label), lang=_lang(), include_zero=True))
    return render_template("insights/anomalies.html", result=result, charts=figures, args=link_args(),
                           form=PlainForm(), outcomes=services.REVIEW_OUTCOMES, **_choices())


@bp.post("/seguimiento/transacciones/<int:line_id>/revision")
@staff_required
def review(line_id: int):
    form = PlainForm()
    if form.validate_on_submit():
        try:
            services.review_transaction(current_user, line_id, request.form.get("outcome"), request.form.get("note"))
            db.session.commit()
            flash(_("Revisión registrada en la auditoría."), "success")
        except DomainError as error:
            db.session.rollback()
            if error.status_code == 404:
                abort(404)
            flash(error.message, "error")
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/seguimiento/") else url_for("insights.anomalies"))


@bp.get("/seguimiento/ventas")
@staff_required
def sales_export():
    """Every sale line in the filters, streamed (there may be millions)."""
    try:
        f = _filters()
    except DomainError as error:
        return _problem(error, "insights/trends.html", result=None)
    # Names, not ids, in the requester's language (chosen now: the rows stream after the
    # request); the ids stay beside them for joins.
    english = _lang() == "en"
    coop, buyer = Organisation.__table__.alias("coop"), Organisation.__table__.alias("buyer")
    stmt = (db.select(SaleFact.day, SaleFact.line_id, SaleFact.order_id, SaleFact.product_id,
                      Product.name_en if english else Product.name, Grade.name_en if english else Grade.name,
                      SaleFact.municipality_code, Municipality.name, Municipality.department_name,
                      SaleFact.pdet_subregion, SaleFact.cooperative_id, coop.c.name, SaleFact.buyer_id, buyer.c.name,
                      SaleFact.women_led, SaleFact.youth_led,
                      SaleFact.price_per_kg, SaleFact.kg, SaleFact.cop, SaleFact.logistics_cop)
            .select_from(SaleFact)
            .outerjoin(Product, Product.id == SaleFact.product_id)
            .outerjoin(OrderLine, OrderLine.id == SaleFact.line_id)
            .outerjoin(Grade, Grade.id == OrderLine.grade_id)
            .outerjoin(Municipality, Municipality.code == SaleFact.municipality_code)
            .outerjoin(coop, coop.c.id == SaleFact.cooperative_id)
            .outerjoin(buyer, buyer.c.id == SaleFact.buyer_id)
            .where(*services._conditions(SaleFact, f)))
    services.rollups.refresh()
    db.session.commit()
    header = [_("Fecha"), _("Línea"), _("Pedido"), _("Producto n.º"), _("Producto"), _("Calidad"),
              _("Código DIVIPOLA"), _("Municipio"), _("Departamento"), _("Subregión PDET"), _("Cooperativa n.º"),
              _("Cooperativa"), _("Comprador n.º"), _("Comprador"), _("Liderada por mujeres"),
              _("Liderada por jóvenes"), _("COP/kg"), _("Kg"), _("COP"), _("Logística COP")]
    if request.args.get("formato") not in EXPORT_KINDS:
        abort(400)
    yes, no = _("Sí"), _("No")
    rows = ((*r[:14], yes if r[14] else no, yes if r[15] else no, *r[16:])
            for r in _batches(stmt, SaleFact.line_id, ascending=True))
    return _export("ventas", header, rows)


# ---------------------------------------------------------------- audit trail


@bp.get("/seguimiento/auditoria")
@staff_required
def audit():
    args = request.args
    try:
        filters = services.AuditFilters(
            who=args.get("quien") or None, organisation=args.get("organizacion") or None,
            object_type=args.get("objeto") or None, object_id=args.get("id") or None,
            action=args.get("accion") or None,
            start=_day(args.get("desde"), "start"), end=_day(args.get("hasta"), "end"))
        stmt = services.audit_statement(filters)
    except DomainError as error:
        return render_template("insights/audit.html", problem=error.message, page=None, args=link_args(),
                               object_types=services.audit_object_types()), error.status_code
    if _wants_export():
        header = [_("Cuándo (hora de Bogotá, UTC−5)"), _("Acción"), _("Objeto"), _("Id"), _("Usuario n.º"), _("Usuario"),
                  _("Organización n.º"), _("Organización"), _("Antes"), _("Después"), _("Nota")]
        person, org = User.__table__.alias("person"), Organisation.__table__.alias("org")
        columns = (stmt.order_by(None).with_only_columns(
            AuditEvent.id, AuditEvent.occurred_at, AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id,
            AuditEvent.actor_id, person.c.full_name, AuditEvent.organisation_id, org.c.name, AuditEvent.before,
            AuditEvent.after, AuditEvent.note)
            .outerjoin(person, person.c.id == AuditEvent.actor_id)
            .outerjoin(org, org.c.id == AuditEvent.organisation_id))
        events = _batches(columns, AuditEvent.id, ascending=False)
        return _export("auditoria", header, ((*e[1:9], _json(e[9]), _json(e[10]), e[11]) for e in events))
    page = _AuditPage(stmt, request.args.get("page", ""))
    return render_template("insights/audit.html", page=page, args=link_args(), problem=None,
                           object_types=services.audit_object_types())


class _AuditPage:
    """One page of the trail without counting it all (millions of events): one row more
    than shown tells whether there is a next page."""

    def __init__(self, stmt, page_arg: str):
        self.page = int(page_arg) if page_arg.isdigit() and 0 < len(page_arg) < 7 and int(page_arg) > 0 else 1
        rows = db.session.scalars(stmt.limit(AUDIT_PAGE + 1).offset((self.page - 1) * AUDIT_PAGE)).all()
        self.items, self.has_next = rows[:AUDIT_PAGE], len(rows) > AUDIT_PAGE
        # Who and which organisation, by name: two queries for the page, not one per row.
        actor_ids = {e.actor_id for e in self.items if e.actor_id}
        org_ids = {e.organisation_id for e in self.items if e.organisation_id}
        self.people = {uid: name for uid, name in db.session.execute(
            db.select(User.id, User.full_name).where(User.id.in_(actor_ids)))} if actor_ids else {}
        self.organisations = {oid: name for oid, name in db.session.execute(
            db.select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids)))} if org_ids else {}
        self.has_prev = self.page > 1
        self.prev_num, self.next_num = self.page - 1, self.page + 1


def _day(text: str | None, name: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise DomainError(_("Escriba la fecha como AAAA-MM-DD."), name) from None


def _json(value) -> str:
    import json

    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- the buyer's report


@bp.get("/impacto")
@login_required
def buyer_report():
    if not (current_user.has_role(*BUYER) or current_user.is_staff):
        abort(403)
    buyer_arg = request.args.get("comprador", "")
    try:
        buyer = services.report_buyer(current_user, int(buyer_arg) if buyer_arg.isdigit() and len(buyer_arg) < 10
                                      else None)
        f = _filters()
        report = services.buyer_report(buyer, f)
    except DomainError as error:
        db.session.rollback()
        if error.status_code in (403, 404):
            abort(error.status_code)
        return render_template("insights/buyer_report.html", problem=error.message, report=None, args=link_args(),
                               **_choices()), error.status_code
    db.session.commit()
    kind = request.args.get("formato")
    if kind == "pdf":
        body = report_pdf.buyer_report_pdf(report.as_dict(), lang=_lang())
        response = Response(body, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="impacto-{bogota_date().isoformat()}.pdf"'
        return response
    if _wants_export():
        header = [_("Municipio"), _("Departamento"), _("Subregión PDET"), _("Producto"), _("Kg"), _("COP")]
        return _export("impacto", header, _report_rows(report))
    chart = charts.bar_chart(
        [charts.Series(_("COP"), [(r["municipality"], r["cop"]) for r in report.rows[:12]])],
        title=_("Compras por municipio de origen (COP)"), y_label="COP", lang=_lang())
    return render_template("insights/buyer_report.html", report=report, chart=chart, args=link_args(),
                           problem=None, **_choices())


def _report_rows(report: services.BuyerReport) -> list[tuple]:
    """The report's table, its total, then the page's headline figures (label, value):
    the period's first and last day, cooperatives reached and the shares in percent.

    A list, not a generator: the labels are translated now, while the request's language
    is known, not when the download streams."""
    rows = [(r["municipality"], r["department"], r["pdet_subregion"], r["product"], r["kg"], r["cop"])
            for r in report.rows]
    rows += [(_("Total"), None, None, None, report.kg, report.cop), (),
             (_("Periodo"), *report.period), (_("Cooperativas"), report.cooperatives)]
    for label, share in ((_("De municipios PDET"), report.pdet_share),
                         (_("De cooperativas lideradas por mujeres"), report.women_share),
                         (_("De cooperativas lideradas por jóvenes"), report.youth_share)):
        rows.append((f"{label} (%)", None if share is None else (share * 100).normalize()))
    return rows


def _index(value) -> str:
    """An ALPS or IPA value with two decimals in the reader's notation ("-0,41", "-0.41")."""
    return number(value, "#,##0.00")


def _flag(flag: str) -> str:
    return str(services.FLAG_LABELS.get(flag, flag))


def init_app(app) -> None:
    from marketplace.accounts import services as accounts

    if services.requeue_cooperative not in accounts.COOPERATIVE_CHANGED_HOOKS:
        accounts.COOPERATIVE_CHANGED_HOOKS.append(services.requeue_cooperative)

    @app.context_processor
    def insights_helpers():
        return {"fmt_cop": cop, "fmt_kg": kg, "fmt_number": number, "fmt_percent": percent,
                "month_label": _month_label, "fmt_index": _index, "band_label": services.band_label,
                "flag_label": _flag}
