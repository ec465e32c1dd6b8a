"""Pages about messages: staff's log and summary (``/admin/mensajes``), and the development
page (``/dev/mensajes``) that shows the latest messages as a phone would, so that someone
running the app without provider credentials can read a notice or a verification code."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from marketplace.accounts.models import Organisation, User
from marketplace.core.access import staff_required
from marketplace.core.errors import DomainError
from marketplace.core.web import link_args
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks, reports, template_list
from marketplace.messaging.models import Channel, Message, MessageStatus

bp = Blueprint("messaging", __name__, template_folder="templates")
DEV_PAGE_SIZE = 40


def status_label(status: MessageStatus | str) -> str:
    return {
        MessageStatus.QUEUED: _("en cola"),
        MessageStatus.SENT: _("enviado"),
        MessageStatus.DELIVERED: _("entregado"),
        MessageStatus.READ: _("leído"),
        MessageStatus.FAILED: _("falló"),
        MessageStatus.SKIPPED: _("no enviado"),
    }[MessageStatus(status)]


def channel_label(channel: Channel | str) -> str:
    return {Channel.EMAIL: _("correo"), Channel.WHATSAPP: "WhatsApp", Channel.SMS: "SMS"}[Channel(channel)]


def kind_label(kind: str) -> str:
    """A notice kind in words, as the package that registered it names it ("Pedido nuevo")."""
    if kind == "reply":
        return _("Respuesta a un mensaje")
    registered = hooks.NOTICE_KINDS.get(kind)
    if registered is not None and registered.label is not None:
        return str(registered.label)
    return kind.replace("_", " ").capitalize()


@bp.app_context_processor
def _labels() -> dict:
    return {"message_status_label": status_label, "message_channel_label": channel_label,
            "message_kind_label": kind_label,
            "mask_address": reports.mask_address}


# ---------------------------------------------------------------- staff


@bp.get("/admin/mensajes")
@staff_required
def staff_log():
    """The message log (filtered, newest first, a light page at a time) and the summary of
    the month: count and spend per channel, failures and skips by reason, opt-outs and
    inbound messages."""
    args = request.args
    context = {"args": link_args(), "channels": list(Channel), "statuses": list(MessageStatus),
               "kinds": sorted({*hooks.NOTICE_KINDS, "reply"})}
    try:
        filters = reports.make_filters(organisation=args.get("organizacion"), channel=args.get("canal"),
                                       status=args.get("estado"), kind=args.get("tipo"), month=args.get("mes"))
    except DomainError as error:
        return render_template("messaging/staff_log.html", problem=error.message, page=None, **context), 400
    month = filters.month or reports.current_month()
    organisation_id = reports.organisation_id_for(filters)
    page = reports.message_page(filters, reports.parse_page(args.get("page")))
    counts, opted_out = reports.opt_outs(organisation_id)
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    return render_template(
        "messaging/staff_log.html", problem=None, page=page, month=month, organisation=organisation,
        spend=reports.spend_by_month(month, organisation_id=organisation_id),
        problems=reports.problems(month, organisation_id), opt_out_counts=counts, opted_out=opted_out,
        inbound=reports.inbound_summary(month), **context)


# ---------------------------------------------------------------- development


def real_providers_configured() -> bool:
    """Whether any channel reaches real people: SMTP, Meta's or Twilio's credentials, or a
    provider named explicitly (other than the log)."""
    config = current_app.config
    if config.get("SMTP_HOST") or config.get("WHATSAPP_ACCESS_TOKEN") or config.get("TWILIO_AUTH_TOKEN"):
        return True
    return any(config.get(name) not in (None, "", "log") for name in ("WHATSAPP_PROVIDER", "SMS_PROVIDER"))


def dev_page_access() -> str | None:
    """Who may read the development page, and how much of it.

    Outside production: anyone, in full (a developer registering an account on a local run
    must be able to read the verification code). In production: only staff, and only while
    no real provider is configured (the messages go nowhere else); secrets stay masked.
    Otherwise the page does not exist (404)."""
    if current_app.config["APP_ENV"] != "production":
        return "full"
    if not real_providers_configured() and current_user.is_authenticated and current_user.is_staff:
        return "masked"
    return None


@bp.get("/dev/mensajes")
def dev_outbox():
    access = dev_page_access()
    if access is None:
        abort(404)
    to = (request.args.get("para") or "").strip()[:254]
    stmt = select(Message).order_by(Message.created_at.desc(), Message.id.desc()).limit(DEV_PAGE_SIZE)
    if to:
        digits = "".join(ch for ch in to if ch.isdigit())
        stmt = stmt.where(Message.to_address.contains(digits[-10:] if digits and "@" not in to else to,
                                                      autoescape=True))
    messages = db.session.scalars(stmt).all()
    user_ids = {m.user_id for m in messages if m.user_id}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    phones = [_as_phone(m, people.get(m.user_id), show_secrets=access == "full") for m in messages]
    return render_template("messaging/dev_outbox.html", phones=phones, to=to, masked=access != "full")


def _as_phone(message: Message, user: User | None, *, show_secrets: bool) -> dict:
    """What the recipient's phone or mailbox shows for ``message``."""
    hidden = message.secret and not show_secrets
    body = _("(contenido secreto)") if hidden else message.body
    view = {"message": message, "user": user, "body": body, "hidden": hidden,
            "buttons": [title for _payload, title in (message.buttons or [])]}
    if message.channel == Channel.WHATSAPP and message.template_name and message.as_template is not False:
        # Sent (or to be sent) as a template: the phone shows the approved text with the
        # parameters in it; the free text it stands for is kept beside it.
        params = message.template_params
        if hidden:
            params = ["•" * len(str(p)) for p in params or []]
        view["template_text"] = template_list.filled(message.kind, message.locale, params)
    if message.channel == Channel.SMS:
        encoding, parts = (None, None) if hidden else gsm.segments(message.body or "")
        view.update(encoding=encoding, segments=message.segments or parts,
                    characters=None if hidden else len(message.body or ""))
    return view
