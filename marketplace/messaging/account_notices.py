"""The notices accounts owes: verification codes, recovery codes and links, temporary
passwords and organisation verification results.

Accounts writes them through ``accounts.hooks.notify`` (it sits below messaging); this
module says who reads them and what they read, in the reader's language:

- ``verification_code`` and ``recovery_code``: 6 digits to the number being verified (or
  the verified number being recovered), by WhatsApp when its owner opted in, else by SMS.
  On WhatsApp both use Meta's fixed *authentication* template: the code is its one
  parameter and its copy-code button carries the same code.
- ``verify_email_link`` and ``recovery_link``: a link to the e-mail address, by e-mail only.
- ``temporary_password``: a manager's reset, to the member on their own channel.
- ``registration_attempt``: to the number (WhatsApp or SMS) or e-mail someone tried to
  register with, when it already has an account: if it was them, how to recover the password.
- ``login_claim_attempt``: to the number or e-mail someone tried to make the login of
  another account: nothing changed, and where to look.
- ``org_status``: to every active manager of an organisation when staff verify, reject,
  suspend or reinstate it, with the reason.

Codes, links and passwords are secret: the outbox masks them once sent. Each SMS text fits
one GSM-7 segment (tests check every one).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import MANAGING_ROLES, Membership, Organisation, OrgStatus, User
from marketplace.extensions import db
from marketplace.messaging import hooks
from marketplace.messaging.gsm import fit_gsm7, segments

SITE = "Mercado Rural"

# Meta's authentication template text is fixed by Meta (code, security notice, expiry);
# only its language and the expiry in minutes are chosen when it is submitted.
CODE_TEMPLATE_TEXT = {
    "es": "*{{1}}* es tu código de verificación. Por tu seguridad, no lo compartas. "
          "Este código caduca en 10 minutos.",
    "en": "*{{1}}* is your verification code. For your security, do not share this code. "
          "This code expires in 10 minutes.",
}
CODE_TEMPLATE_BUTTONS = {"es": ["Copiar código"], "en": ["Copy code"]}


def _addressed_user(notice) -> list[User]:
    user = db.session.get(User, notice.user_id) if notice.user_id else None
    return [user] if user is not None else []


def _fixed_address(notice) -> tuple[str, str]:
    payload = notice.payload or {}
    return payload["channel"], payload["address"]


def _short(text: str, fill: str = "") -> str:
    """An SMS text in one segment: ``text`` spelled in GSM-7 where it can be, with
    ``{fill}`` replaced by ``fill``, which is cut (ending in "...") as much as needed."""
    whole = fit_gsm7(text.replace("{fill}", fill))
    if segments(whole)[1] == 1 or "{fill}" not in text:
        return whole
    for keep in range(len(fill) - 1, -1, -1):
        shorter = fit_gsm7(text.replace("{fill}", fill[:keep].rstrip() + "..."))
        if segments(shorter)[1] == 1:
            return shorter
    return fit_gsm7(text.replace("{fill}", ""))


# ---------------------------------------------------------------------------- codes


def _render_verification_code(notice, user) -> hooks.Rendered:
    code = (notice.payload or {})["code"]
    text = _("%(code)s es su código de %(site)s para verificar su celular. Vence en 10 minutos. "
             "No lo comparta con nadie.", code=code, site=SITE)
    return hooks.Rendered(
        subject=_("Su código de verificación"), text=text,
        short=_short(_("%(site)s: su código es %(code)s. Vence en 10 min. No lo comparta.",
                       site=SITE, code=code)),
        template_params=[code])


def _render_recovery_code(notice, user) -> hooks.Rendered:
    code = (notice.payload or {})["code"]
    text = _("%(code)s es su código de %(site)s para cambiar su contraseña. Vence en 10 minutos. "
             "Si usted no lo pidió, no haga nada: su contraseña sigue igual.", code=code, site=SITE)
    return hooks.Rendered(
        subject=_("Su código para cambiar la contraseña"), text=text,
        short=_short(_("%(site)s: código para cambiar su contraseña: %(code)s. Vence en 10 min. "
                       "Si no lo pidió, ignórelo.", site=SITE, code=code)),
        template_params=[code])


# ---------------------------------------------------------------------------- links


def _render_verify_email_link(notice, user) -> hooks.Rendered:
    link = (notice.payload or {})["link"]
    name = user.full_name if user is not None else ""
    text = _("Hola %(name)s:\n\nPara confirmar que este correo es suyo, abra este enlace (sirve una hora):\n\n"
             "%(link)s\n\nSi usted no se registró en %(site)s, no haga nada.", name=name, link=link, site=SITE)
    return hooks.Rendered(subject=_("Confirme su correo en %(site)s", site=SITE), text=text,
                          short=_short(_("%(site)s: confirme su correo: {fill}", site=SITE), link))


def _render_recovery_link(notice, user) -> hooks.Rendered:
    link = (notice.payload or {})["link"]
    name = user.full_name if user is not None else ""
    text = _("Hola %(name)s:\n\nPidieron cambiar la contraseña de su cuenta en %(site)s. Para elegir una "
             "nueva, abra este enlace (sirve una hora):\n\n%(link)s\n\nSi usted no lo pidió, no haga nada: "
             "su contraseña sigue igual.", name=name, link=link, site=SITE)
    return hooks.Rendered(subject=_("Cambie su contraseña de %(site)s", site=SITE), text=text,
                          short=_short(_("%(site)s: cambie su contraseña aquí: {fill}", site=SITE), link))


# ------------------------------------------------------------ registration attempts


def _render_registration_attempt(notice, user) -> hooks.Rendered:
    payload = notice.payload or {}
    link = payload.get("link", "")
    name = user.full_name if user is not None else ""
    if payload.get("login") == "email":
        text = _("Hola %(name)s: alguien intentó registrarse en %(site)s con su correo. Si fue usted, ya tiene "
                 "una cuenta: entre, o recupere su contraseña aquí:\n\n%(link)s\n\nSi no fue usted, no haga nada: "
                 "no se creó ninguna cuenta y la suya sigue igual.", name=name, site=SITE, link=link)
        short = _short(_("%(site)s: alguien intentó registrarse con su correo. Si fue usted, recupere su "
                         "contraseña: {fill}", site=SITE), link)
    else:
        text = _("Hola %(name)s: alguien intentó registrarse en %(site)s con su número. Si fue usted, ya tiene "
                 "una cuenta: entre, o recupere su contraseña aquí:\n\n%(link)s\n\nSi no fue usted, no haga nada: "
                 "no se creó ninguna cuenta y la suya sigue igual.", name=name, site=SITE, link=link)
        short = _short(_("%(site)s: alguien intentó registrarse con su número. Si fue usted, recupere su "
                         "contraseña: {fill}", site=SITE), link)
    return hooks.Rendered(subject=_("Alguien intentó registrarse con sus datos en %(site)s", site=SITE),
                          text=text, short=short, template_params=[link])


def _render_login_claim_attempt(notice, user) -> hooks.Rendered:
    payload = notice.payload or {}
    link = payload.get("link", "")
    name = user.full_name if user is not None else ""
    if payload.get("login") == "email":
        text = _("Hola %(name)s: alguien intentó poner su correo como dato de acceso de otra cuenta en "
                 "%(site)s. No se cambió nada: su correo sigue siendo solo de su cuenta. Puede entrar aquí:"
                 "\n\n%(link)s", name=name, site=SITE, link=link)
        short = _short(_("%(site)s: alguien intentó usar su correo en otra cuenta. No se cambió nada. "
                         "{fill}", site=SITE), link)
    else:
        text = _("Hola %(name)s: alguien intentó poner su número como dato de acceso de otra cuenta en "
                 "%(site)s. No se cambió nada: su número sigue siendo solo de su cuenta. Puede entrar aquí:"
                 "\n\n%(link)s", name=name, site=SITE, link=link)
        short = _short(_("%(site)s: alguien intentó usar su número en otra cuenta. No se cambió nada. "
                         "{fill}", site=SITE), link)
    return hooks.Rendered(subject=_("Alguien intentó usar sus datos de acceso en %(site)s", site=SITE),
                          text=text, short=short, template_params=[link])


# ------------------------------------------------------------------- temporary password


def _render_temporary_password(notice, user) -> hooks.Rendered:
    payload = notice.payload or {}
    password, by = payload["password"], payload.get("by") or SITE
    name = user.full_name if user is not None else ""
    text = _("Hola %(name)s. %(by)s le asignó una contraseña temporal en %(site)s: %(password)s\n"
             "Al entrar deberá cambiarla por una suya. Se cerraron sus sesiones abiertas.",
             name=name, by=by, site=SITE, password=password)
    return hooks.Rendered(
        subject=_("Su contraseña temporal de %(site)s", site=SITE), text=text,
        short=_short(_("%(site)s: su contraseña temporal es %(password)s. Al entrar deberá cambiarla.",
                       site=SITE, password=password)),
        template_params=[name, by, password])


# -------------------------------------------------------------- organisation status


def _org_managers(notice) -> list[User]:
    org_id = notice.organisation_id or notice.subject_id
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == org_id, Membership.role.in_(MANAGING_ROLES),
               User.active.is_(True))
        .order_by(User.id)))


def _status_words(status: str) -> str:
    return {
        OrgStatus.VERIFIED.value: _("verificada"),
        OrgStatus.REJECTED.value: _("rechazada"),
        OrgStatus.SUSPENDED.value: _("suspendida"),
        OrgStatus.PENDING.value: _("pendiente de verificación"),
    }.get(status, status)


def _render_org_status(notice, user) -> hooks.Rendered:
    payload = notice.payload or {}
    org = db.session.get(Organisation, notice.organisation_id or notice.subject_id)
    org_name = org.name if org is not None else ""
    status = _status_words(payload.get("status", ""))
    reason = payload.get("reason") or ""
    if payload.get("review") == "identity":
        # Back under review after a change of name, NIT or legal form (``accounts.reviews``).
        reason = _("cambió su nombre, NIT o forma jurídica; el equipo revisa el cambio. Sus pedidos en curso siguen.")
        text = _("%(org)s cambió su nombre, NIT o forma jurídica en %(site)s y quedó %(status)s mientras el equipo "
                 "revisa el cambio. Sus pedidos en curso siguen; no podrá publicar, cotizar ni hacer pedidos nuevos "
                 "hasta la verificación.", org=org_name, status=status, site=SITE)
        short = _short(_("%(site)s: {fill} quedó pendiente de verificación por un cambio de nombre o NIT. "
                         "Sus pedidos en curso siguen.", site=SITE), org_name)
        return hooks.Rendered(subject=_("%(org)s: %(status)s", org=org_name, status=status), text=text,
                              short=short, template_params=[org_name, status, reason])
    if payload.get("status") == OrgStatus.VERIFIED.value:
        text = _("%(org)s fue verificada en %(site)s: ya puede usar todo el mercado.", org=org_name, site=SITE)
        short = _short(_("%(site)s: {fill} fue verificada. Ya puede usar todo el mercado.", site=SITE), org_name)
    else:
        text = _("%(org)s quedó %(status)s en %(site)s. Motivo: %(reason)s", org=org_name, status=status,
                 site=SITE, reason=reason or "-")
        short = _short(_("%(site)s: %(org)s quedó %(status)s. Motivo: {fill}", site=SITE,
                         org=org_name[:40], status=status), reason or "-")
    if reason and payload.get("status") == OrgStatus.VERIFIED.value:
        text += "\n" + _("Nota del equipo: %(reason)s", reason=reason)
    return hooks.Rendered(subject=_("%(org)s: %(status)s", org=org_name, status=status), text=text, short=short,
                          template_params=[org_name, status, reason or "-"])


def _render_member_counts(notice, user) -> hooks.Rendered:
    payload = notice.payload or {}
    org = db.session.get(Organisation, notice.organisation_id)
    org_name = org.name if org is not None else ""
    if payload.get("confirmed"):
        outcome = _("confirmado")
        text = _("El equipo confirmó el cambio de asociados de %(org)s en %(site)s: los nuevos números ya cuentan.",
                 org=org_name, site=SITE)
    else:
        outcome = _("rechazado")
        text = _("El equipo rechazó el cambio de asociados de %(org)s en %(site)s: siguen los números anteriores. "
                 "Motivo: %(reason)s", org=org_name, site=SITE, reason=payload.get("note") or "-")
    note = payload.get("note") or "-"
    return hooks.Rendered(
        subject=_("%(org)s: cambio de asociados %(outcome)s", org=org_name, outcome=outcome), text=text,
        short=_short(_("%(site)s: el cambio de asociados de %(org)s fue %(outcome)s. Nota: {fill}", site=SITE,
                       org=org_name[:40], outcome=outcome), note),
        template_params=[org_name, outcome, note])


KINDS = (
    hooks.NoticeKind(
        kind="verification_code", label=_l("Código para verificar el celular"),
        recipients=_addressed_user, render=_render_verification_code,
        template="codigo_verificacion", template_category="authentication", secret=True,
        template_text=CODE_TEMPLATE_TEXT, template_buttons=CODE_TEMPLATE_BUTTONS, address=_fixed_address),
    hooks.NoticeKind(
        kind="recovery_code", label=_l("Código para cambiar la contraseña"),
        recipients=_addressed_user, render=_render_recovery_code,
        template="codigo_verificacion", template_category="authentication", secret=True,
        template_text=CODE_TEMPLATE_TEXT, template_buttons=CODE_TEMPLATE_BUTTONS, address=_fixed_address),
    # By e-mail only: no WhatsApp template.
    hooks.NoticeKind(
        kind="verify_email_link", label=_l("Enlace para verificar el correo"),
        recipients=_addressed_user, render=_render_verify_email_link,
        template="", secret=True, address=_fixed_address),
    hooks.NoticeKind(
        kind="recovery_link", label=_l("Enlace para cambiar la contraseña"),
        recipients=_addressed_user, render=_render_recovery_link,
        template="", secret=True, address=_fixed_address),
    hooks.NoticeKind(
        kind="temporary_password", label=_l("Contraseña temporal"),
        recipients=_addressed_user, render=_render_temporary_password,
        template="contrasena_temporal", secret=True,
        template_text={
            "es": "Hola {{1}}. {{2}} le asignó una contraseña temporal en Mercado Rural: {{3}}. "
                  "Al entrar deberá cambiarla por una suya.",
            "en": "Hello {{1}}. {{2}} gave you a temporary password on Mercado Rural: {{3}}. "
                  "You will be asked to choose your own when you log in.",
        }),
    # To the number or address someone just tried to register with, whatever the account's
    # preferred channel: that is the one whose owner must hear of it.
    hooks.NoticeKind(
        kind="registration_attempt", label=_l("Intento de registro con sus datos"),
        recipients=_addressed_user, render=_render_registration_attempt,
        template="intento_registro", address=_fixed_address,
        template_text={
            "es": "Mercado Rural: alguien intentó registrarse con su número. Si fue usted, ya tiene una cuenta: "
                  "recupere su contraseña aquí: {{1}}",
            "en": "Mercado Rural: someone tried to register with your number. If it was you, you already have "
                  "an account: recover your password here: {{1}}",
        }),
    # Likewise to the number or address someone tried to make their own login.
    hooks.NoticeKind(
        kind="login_claim_attempt", label=_l("Intento de usar sus datos de acceso en otra cuenta"),
        recipients=_addressed_user, render=_render_login_claim_attempt,
        template="intento_uso_acceso", address=_fixed_address,
        template_text={
            "es": "Mercado Rural: alguien intentó usar su número como dato de acceso de otra cuenta. "
                  "No se cambió nada: su número sigue siendo solo suyo. Puede entrar aquí: {{1}}",
            "en": "Mercado Rural: someone tried to use your number as the login of another account. "
                  "Nothing changed: your number is still yours alone. You can log in here: {{1}}",
        }),
    hooks.NoticeKind(
        kind="org_status", label=_l("Estado de la organización"),
        recipients=_org_managers, render=_render_org_status,
        template="estado_organizacion",
        template_text={
            "es": "Mercado Rural: el estado de {{1}} ahora es «{{2}}». Motivo: {{3}}",
            "en": "Mercado Rural: the status of {{1}} is now “{{2}}”. Reason: {{3}}",
        }),
    hooks.NoticeKind(
        kind="member_counts", label=_l("Revisión del número de asociados"),
        recipients=_org_managers, render=_render_member_counts,
        template="cambio_asociados",
        template_text={
            "es": "Mercado Rural: el cambio de asociados de {{1}} fue {{2}}. Nota del equipo: {{3}}",
            "en": "Mercado Rural: the change of members of {{1}} was {{2}}. Note from the team: {{3}}",
        }),
)


def register() -> None:
    """Register the account notice kinds (called at start-up; registering twice is harmless)."""
    for kind in KINDS:
        hooks.register_notice(kind)
