"""HTML pages of a person: login and registration, the account page, how they are told
(verified number and e-mail, channel, WhatsApp opt-in) and password recovery. An
organisation's pages and the platform administration are in ``org_views``."""

from __future__ import annotations

from types import SimpleNamespace

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import recovery, registration, services, verification
from marketplace.accounts.forms import (
    CHANNEL_CHOICES,
    ChannelsForm,
    CodeForm,
    EmptyForm,
    LoginChangeForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RecoveryCodeForm,
    RecoveryLinkForm,
    RecoveryRequestForm,
    RegisterBuyerForm,
    RegisterCooperativeForm,
    TokenForm,
)
from marketplace.accounts.identity import format_mobile
from marketplace.core.errors import DomainError
from marketplace.core.safety import safe_next
from marketplace.extensions import db, limiter, login_manager

auth_bp = Blueprint("auth", __name__, template_folder="templates")
account_bp = Blueprint("account", __name__, url_prefix="/cuenta")


@login_manager.user_loader
def _load_user(cookie_value: str):
    return services.load_session(cookie_value)


def _addr() -> str | None:
    return request.remote_addr


@auth_bp.before_app_request
def _session_housekeeping():
    if request.endpoint in (None, "static") or request.path.startswith("/api/"):
        return None
    if not current_user.is_authenticated:
        return None
    login_session = current_user.current_login_session
    if login_session is not None and services.touch_session(login_session):
        db.session.commit()
    allowed = {"account.password", "auth.logout", "core.set_language", "core.health"}
    if current_user.must_change_password and request.endpoint not in allowed:
        flash(_("Antes de seguir, cambie la contraseña temporal que le dieron."), "info")
        return redirect(url_for("account.password"))
    return None


def _flash_tokens_revoked(count: int) -> None:
    if count:
        flash(ngettext("Se revocó su clave de API: cree otra si un programa la usaba.",
                       "Se revocaron sus %(num)s claves de API: cree otras si algún programa las usaba.",
                       count), "info")


def _fail(form, error: DomainError) -> None:
    db.session.rollback()
    form.attach_error(error)


# --------------------------------------------------------------------------- login


def _login_limit_account() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _login_limit_address() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _login_account_key() -> str:
    return "login:" + services.login_key(request.form.get("identifier", ""))


def _reconfirm_key(kind: str) -> str:
    """The login budget key of the signed-in user's phone (or e-mail): a password typed again
    to confirm a change counts against the same per-account budget as a login typed with that
    phone or e-mail, so a stolen session cannot guess the password faster than the login page
    allows."""
    user = current_user
    if not user.is_authenticated:
        return "reconfirm:anonymous"
    phone, email = user.phone, user.email
    if kind == "phone" and (phone or email):
        return "login:" + services.login_key(phone or email)
    if kind == "email" and phone and email:
        return "login:" + services.login_key(email)
    # One identifier only: the first key already counts it.
    return f"reconfirm:user:{user.id}"


def _refused_form(response) -> bool:
    return response.status_code == 422


# Every view that asks for the current password again carries this limit (POST only): a
# refused form (wrong password) spends one attempt of the login budget, and once the budget
# is spent (by logins or by refused confirmations) even the right password is refused
# until the window passes, with the login's message (429).
def reconfirm_limited(view):
    view = limiter.shared_limit(_login_limit_account, "login-account", methods=["POST"],
                                key_func=lambda: _reconfirm_key("email"), deduct_when=_refused_form)(view)
    return limiter.shared_limit(_login_limit_account, "login-account", methods=["POST"],
                                key_func=lambda: _reconfirm_key("phone"), deduct_when=_refused_form)(view)


@auth_bp.route("/entrar", methods=["GET", "POST"])
@limiter.limit(_login_limit_address, methods=["POST"], scope="login-address")
@limiter.shared_limit(_login_limit_account, "login-account", methods=["POST"], key_func=_login_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = services.authenticate(form.identifier.data, form.password.data)
        if user is None:
            db.session.rollback()
            form.form_errors.append(services.BAD_LOGIN)
            return render_template("accounts/login.html", form=form), 200
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        services.start_session(user, user_agent=request.user_agent.string, remote_addr=_addr(),
                               remember=form.remember.data)
        login_user(user, remember=form.remember.data)
        db.session.commit()
        return redirect(safe_next(form.next.data) or url_for("home.dashboard"))
    return render_template("accounts/login.html", form=form)


@auth_bp.post("/salir")
@login_required
def logout():
    services.end_session(current_user.current_login_session)
    db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Cerró la sesión."), "success")
    return redirect(url_for("auth.login"))


@auth_bp.get("/registro")
def register():
    return render_template("accounts/register_choice.html")


def _user_data(form) -> services.UserData:
    return services.UserData(
        full_name=form.full_name.data,
        password=form.password.data,
        phone=form.phone.data,
        email=form.email.data,
        locale=session.get("lang", "es"),
    )


def _cooperative_data(form) -> services.CooperativeData:
    return services.CooperativeData(
        name=form.name.data,
        legal_form=form.legal_form.data,
        nit=form.nit.data,
        municipality_code=form.municipality.code,
        members_total=form.members_total.data,
        members_women=form.members_women.data or 0,
        members_youth=form.members_youth.data or 0,
        members_victims=form.members_victims.data or 0,
        substitution_families=form.substitution_families.data or 0,
        contact_phone=getattr(form, "contact_phone", None) and form.contact_phone.data,
        contact_email=getattr(form, "contact_email", None) and form.contact_email.data,
        description=getattr(form, "description", None) and form.description.data,
    )


def _send_first_proof(user) -> str | None:
    """After registering: a code to the new number, else a link to the new e-mail. Returns
    what was sent ("phone", "email") or None when the address already had its share."""
    try:
        if user.phone:
            verification.send_phone_code(user, remote_addr=_addr())
            return "phone"
        if user.email:
            verification.send_email_link(user, remote_addr=_addr())
            return "email"
    except verification.TooManyCodes:
        return None
    return None


def _registered(user, sent: str | None, pending: str):
    # Only promise a notice on a channel the account can use: a number is used once it is
    # verified, which the next page asks for.
    session["registration_check"] = True
    if user.phone:
        flash(pending + " " + _("Verifique su celular para que podamos avisarle por WhatsApp o SMS."), "success")
        return redirect(url_for("account.verify_phone"))
    if sent == "email":
        flash(pending + " " + _("Le enviamos un enlace a %(email)s para confirmar su correo; allí le avisaremos.",
                                email=user.email), "success")
    else:
        flash(pending, "success")
    return redirect(url_for("home.dashboard"))


def _login_taken(form, taken: services.LoginTaken, pending: str):
    """The phone or e-mail already has an account: nothing is created, the owner is told on
    that number or address, and the answer is the one a new account gets (same redirect, same
    message, a session cookie of the same shape that opens nothing)."""
    db.session.rollback()
    registration.attempted_on(taken.owner_id, taken.field, recover_link=url_for("auth.recover", _external=True),
                              remote_addr=_addr())
    db.session.commit()
    session["_user_id"] = registration.fake_session_value()
    session["_fresh"] = True
    session["_id"] = login_manager._session_identifier_generator()
    phone, email = services.login_identity(form.phone.data, form.email.data)
    typed = SimpleNamespace(phone=phone, email=email)
    return _registered(typed, "phone" if phone else "email", pending)


def _start(user) -> None:
    services.start_session(user, user_agent=request.user_agent.string, remote_addr=_addr(), remember=False)
    login_user(user)


@auth_bp.route("/registro/cooperativa", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register_cooperative():
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    form = RegisterCooperativeForm()
    if form.validate_on_submit():
        try:
            _coop, user = services.register_cooperative(_cooperative_data(form), _user_data(form), remote_addr=_addr())
            verification.set_channels(user, form.preferred_channel.data or None, form.whatsapp_opt_in.data,
                                      remote_addr=_addr())
            sent = _send_first_proof(user)
            _start(user)
            db.session.commit()
        except services.LoginTaken as taken:
            return _login_taken(form, taken, _("Registro recibido: su asociación queda pendiente de verificación "
                                               "del equipo."))
        except DomainError as error:
            _fail(form, error)
        else:
            return _registered(user, sent, _("Registro recibido: su asociación queda pendiente de verificación "
                                             "del equipo."))
    return render_template("accounts/register_cooperative.html", form=form)


def _site_data(form, active=True) -> services.SiteData:
    return services.SiteData(
        name=form.site_name.data,
        address=form.address.data,
        municipality_code=form.site_municipality.code,
        latitude=form.latitude.decimal,
        longitude=form.longitude.decimal,
        active=active,
    )


def _buyer_data(form) -> services.BuyerData:
    return services.BuyerData(
        name=form.name.data,
        nit=form.nit.data,
        municipality_code=form.municipality.code,
        andi_member=form.andi_member.data,
        sector=form.sector.data,
        contact_phone=getattr(form, "contact_phone", None) and form.contact_phone.data,
        contact_email=getattr(form, "contact_email", None) and form.contact_email.data,
    )


@auth_bp.route("/registro/empresa", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register_buyer():
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    form = RegisterBuyerForm()
    if form.validate_on_submit():
        try:
            _buyer, user = services.register_buyer(_buyer_data(form), _site_data(form), _user_data(form), remote_addr=_addr())
            verification.set_channels(user, form.preferred_channel.data or None, form.whatsapp_opt_in.data,
                                      remote_addr=_addr())
            sent = _send_first_proof(user)
            _start(user)
            db.session.commit()
        except services.LoginTaken as taken:
            return _login_taken(form, taken, _("Registro recibido: su empresa queda pendiente de verificación "
                                               "del equipo."))
        except DomainError as error:
            _fail(form, error)
        else:
            return _registered(user, sent, _("Registro recibido: su empresa queda pendiente de verificación "
                                             "del equipo."))
    return render_template("accounts/register_buyer.html", form=form)


# ------------------------------------------------------------------------- account


def _account_page(**forms):
    defaults = {
        "profile_form": ProfileForm(prefix="profile", data={"full_name": current_user.full_name, "locale": current_user.locale}),
        "password_form": PasswordChangeForm(prefix="pw"),
        "login_form": LoginChangeForm(prefix="login", data={"phone": current_user.phone or "", "email": current_user.email or ""}),
        "token_form": TokenForm(prefix="token"),
        "code_form": CodeForm(prefix="change", formdata=None),
        "empty_form": EmptyForm(),
    }
    defaults.update(forms)
    return render_template(
        "accounts/account.html",
        pending_logins=services.pending_logins(current_user),
        tokens=services.api_tokens(current_user),
        sessions=services.open_sessions(current_user),
        current_session=current_user.current_login_session,
        new_token=g.get("new_token"),
        **defaults,
    )


@account_bp.get("")
@login_required
def index():
    return _account_page()


@account_bp.post("/perfil")
@login_required
def profile():
    form = ProfileForm(prefix="profile")
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.full_name.data, form.locale.data)
            session["lang"] = form.locale.data
            db.session.commit()
            flash(_("Datos guardados."), "success")
            return redirect(url_for("account.index"))
        except DomainError as error:
            _fail(form, error)
    return _account_page(profile_form=form), 422


@account_bp.route("/contrasena", methods=["GET", "POST"])
@login_required
@reconfirm_limited
def password():
    form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        was_temporary = current_user.must_change_password
        try:
            tokens = services.change_password(
                current_user, form.current_password.data, form.new_password.data,
                user_agent=request.user_agent.string, remote_addr=_addr(),
            )
            login_user(current_user._get_current_object())
            # Someone a manager added proves their own number once they are in.
            verify = was_temporary and _send_code_quietly(current_user)
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Contraseña cambiada. Cerramos las demás sesiones abiertas."), "success")
            _flash_tokens_revoked(tokens)
            return redirect(url_for("account.verify_phone" if verify else "account.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/password.html", form=form), status


@account_bp.post("/acceso")
@login_required
@reconfirm_limited
def change_login():
    form = LoginChangeForm(prefix="login")
    if form.validate_on_submit():
        try:
            # The user itself, not the proxy: the service tells "this account" by identity
            # (keeping one's own number while changing the e-mail was refused as taken).
            user = current_user._get_current_object()
            change = services.change_login(user, form.current_password.data, form.phone.data, form.email.data,
                                           remote_addr=_addr())
            for field, owner_id in change.claimed:
                registration.login_claimed(owner_id, field, user, link=url_for("auth.login", _external=True),
                                           remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            # The same answer whether or not the number or address belonged to another
            # account: what was typed decides it, not what was done.
            if change.pending:
                flash(_("Para terminar el cambio, confirme el código o el enlace que le enviamos. Hasta "
                        "entonces siga entrando con sus datos de siempre."), "info")
            else:
                flash(_("Datos de acceso actualizados."), "success")
            return redirect(url_for("account.index", _anchor="acceso"))
    return _account_page(login_form=form), 422


@account_bp.post("/acceso/codigo")
@login_required
@limiter.limit("30 per hour", scope="login-code")
def confirm_login_code():
    """The code sent to a pending new login phone."""
    form = CodeForm(prefix="change")
    if form.validate_on_submit():
        try:
            phone = services.confirm_login_code(current_user._get_current_object(), form.code.data,
                                                remote_addr=_addr())
            db.session.commit()
        except verification.CodeRejected as error:
            db.session.commit()  # the try counts
            form.attach_error(error)
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Celular cambiado: ahora entra con %(phone)s.", phone=format_mobile(phone)), "success")
            return redirect(url_for("account.index", _anchor="acceso"))
    return _account_page(code_form=form), 422


def _send_code_quietly(user) -> bool:
    """Send a code to an unverified number; False when there is nothing to verify or the
    number already had its share of codes (the page lets them ask again later)."""
    if not user.phone or user.phone_verified_at is not None:
        return False
    try:
        verification.send_phone_code(user, remote_addr=_addr())
    except verification.TooManyCodes:
        return True
    return True


# ------------------------------------------------------------- how we tell people


def _code_limit_per_address() -> str:
    return current_app.config["CODE_LIMIT_PER_ADDRESS"]


def _channels_page(form=None, status=200):
    form = form or ChannelsForm(formdata=None, data={
        "preferred_channel": current_user.preferred_channel,
        "whatsapp_opt_in": verification.whatsapp_opted_in(current_user)})
    return render_template("accounts/channels.html", form=form,
                           warning=verification.channel_warning(current_user)), status


@account_bp.get("/avisos")
@login_required
def channels():
    return _channels_page()


@account_bp.post("/avisos")
@login_required
def save_channels():
    form = ChannelsForm()
    if form.validate_on_submit():
        try:
            verification.set_channels(current_user, form.preferred_channel.data or None, form.whatsapp_opt_in.data,
                                      remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Guardamos cómo le avisamos."), "success")
            return redirect(url_for("account.channels"))
    return _channels_page(form, 422)


def _channel_name(channel: str) -> str:
    return "WhatsApp" if channel == "whatsapp" else _("SMS")


@account_bp.route("/verificar-celular", methods=["GET", "POST"])
def verify_phone():
    if not current_user.is_authenticated:
        if not session.get("registration_check"):
            return login_manager.unauthorized()
        # Right after a registration whose number already had an account: the same step a
        # new account gets, with a form whose code never matches (nothing was sent here).
        form = CodeForm()
        if form.validate_on_submit():
            form.attach_error(DomainError(_("Ese código venció o ya no sirve. Pida uno nuevo."), "code"))
        return render_template("accounts/registration_check.html", form=form), (
            422 if request.method == "POST" else 200)
    if not current_user.phone or current_user.phone_verified_at is not None:
        flash(_("Su celular ya está verificado.") if current_user.phone else _("Su cuenta no tiene celular."), "info")
        return redirect(url_for("account.channels"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            verification.confirm_phone(current_user, form.code.data, remote_addr=_addr())
            db.session.commit()
        except verification.CodeRejected as error:
            db.session.commit()  # the try counts
            form.attach_error(error)
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Celular verificado: ya le pueden llegar avisos por %(channel)s.",
                    channel=_channel_name(verification.phone_channel(current_user))), "success")
            return redirect(url_for("account.channels"))
    if request.method == "POST":
        status = 422
    has_code = verification.live_code(current_user.id, verification.VERIFY_PHONE) is not None
    return render_template("accounts/verify_phone.html", form=form, has_code=has_code,
                           channel_name=_channel_name(verification.phone_channel(current_user))), status


@account_bp.post("/verificar-celular/enviar")
@login_required
@limiter.limit(_code_limit_per_address, scope="code-send")
def send_phone_code():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        verification.send_phone_code(current_user, remote_addr=_addr())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        flash(_("Le enviamos un código nuevo por %(channel)s. El anterior ya no sirve.",
                channel=_channel_name(verification.phone_channel(current_user))), "success")
    return redirect(url_for("account.verify_phone"))


@account_bp.post("/verificar-correo/enviar")
@login_required
@limiter.limit(_code_limit_per_address, scope="code-send")
def send_email_link():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        verification.send_email_link(current_user, remote_addr=_addr())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        flash(_("Le enviamos un enlace a %(email)s. Ábralo para verificar su correo.", email=current_user.email),
              "success")
    return redirect(url_for("account.channels"))


@auth_bp.route("/correo/verificar/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"], scope="email-link")
def verify_email(token: str):
    # The link shows a button: a mail scanner that opens links verifies nothing.
    if request.method == "GET":
        error = None if verification.split_token(token) else _("Ese enlace no es válido.")
        return render_template("accounts/verify_email.html", error=error)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        changed = services.confirm_login_link(token, remote_addr=_addr())
        if changed is None:
            verification.confirm_email(token, remote_addr=_addr())
        db.session.commit()
    except verification.CodeRejected as error:
        db.session.commit()
        return render_template("accounts/verify_email.html", error=error.message), 404
    if changed is not None:
        flash(_("Correo cambiado: ahora entra con %(email)s.", email=changed[1]), "success")
    else:
        flash(_("Correo verificado."), "success")
    return redirect(url_for("account.channels" if current_user.is_authenticated else "auth.login"))


# ------------------------------------------------------------------ password recovery


def _recovery_limit_per_address() -> str:
    return current_app.config["RECOVERY_LIMIT_PER_ADDRESS"]


def _recovery_limit_per_login() -> str:
    return current_app.config["RECOVERY_LIMIT_PER_LOGIN"]


def _recovery_key() -> str:
    return "recover:" + services.login_key(request.form.get("identifier", ""))


def _recovery_code_key() -> str:
    return "recover-code:" + (session.get("recovery") or "")


@auth_bp.route("/recuperar", methods=["GET", "POST"])
@limiter.limit(_recovery_limit_per_address, methods=["POST"], scope="recover-address")
@limiter.limit(_recovery_limit_per_login, methods=["POST"], key_func=_recovery_key, scope="recover-login")
def recover():
    if current_user.is_authenticated:
        return redirect(url_for("account.password"))
    form = RecoveryRequestForm()
    if form.validate_on_submit():
        try:
            kind, value = recovery.request_recovery(form.identifier.data, remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            session["recovery"] = value
            return redirect(url_for("auth.recover_code" if kind == "phone" else "auth.recover_email"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/recover_start.html", form=form), status


@auth_bp.get("/recuperar/correo")
def recover_email():
    identifier = session.get("recovery")
    if not identifier or "@" not in identifier:
        return redirect(url_for("auth.recover"))
    return render_template("accounts/recover_email_sent.html", identifier=identifier)


@auth_bp.route("/recuperar/codigo", methods=["GET", "POST"])
@limiter.limit(_recovery_limit_per_address, methods=["POST"], scope="recover-code-address")
@limiter.limit("10 per 15 minutes", methods=["POST"], key_func=_recovery_code_key, scope="recover-code-login")
def recover_code():
    identifier = session.get("recovery")
    if not identifier or "@" in identifier:
        return redirect(url_for("auth.recover"))
    form = RecoveryCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            tokens = recovery.reset_with_code(identifier, form.code.data, form.new_password.data,
                                              remote_addr=_addr())
            db.session.commit()
        except verification.CodeRejected as error:
            db.session.commit()  # the try counts
            form.attach_error(error)
        except DomainError as error:
            _fail(form, error)
        else:
            session.pop("recovery", None)
            flash(_("Contraseña cambiada. Cerramos todas las sesiones: entre con la nueva."), "success")
            _flash_tokens_revoked(tokens)
            return redirect(url_for("auth.login"))
    if request.method == "POST":
        status = 422
    return render_template("accounts/recover_code.html", form=form, identifier=identifier), status


@auth_bp.route("/recuperar/enlace/<token>", methods=["GET", "POST"])
@limiter.limit(_recovery_limit_per_address, methods=["POST"], scope="recover-link-address")
def recover_link(token: str):
    # A used or expired link is answered as one that never existed (404).
    if not recovery.link_is_live(token):
        return render_template("accounts/recover_link.html", form=None), 404
    form = RecoveryLinkForm()
    status = 200
    if form.validate_on_submit():
        try:
            tokens = recovery.reset_with_link(token, form.new_password.data, remote_addr=_addr())
            db.session.commit()
        except verification.CodeRejected:
            db.session.commit()
            return render_template("accounts/recover_link.html", form=None), 404
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("Contraseña cambiada. Cerramos todas las sesiones: entre con la nueva."), "success")
            _flash_tokens_revoked(tokens)
            return redirect(url_for("auth.login"))
    if request.method == "POST":
        status = 422
    return render_template("accounts/recover_link.html", form=form), status


@account_bp.post("/tokens")
@login_required
@reconfirm_limited
def create_token():
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            _token, plain = services.create_api_token(current_user, form.name.data, form.password.data, remote_addr=_addr())
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            # Shown once on this response only; never stored in plain text or in the session.
            g.new_token = plain
            return _account_page(token_form=TokenForm(prefix="token", formdata=None)), 201
    return _account_page(token_form=form), 422


@account_bp.post("/tokens/<int:token_id>/revocar")
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    services.revoke_api_token(current_user, token_id, remote_addr=_addr())
    db.session.commit()
    flash(_("Token revocado: ya no sirve para usar la API."), "success")
    return redirect(url_for("account.index"))


@account_bp.post("/sesiones/cerrar-otras")
@login_required
def close_other_sessions():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    count = services.revoke_all_sessions(current_user, keep=current_user.current_login_session)
    db.session.commit()
    flash(_("Cerramos %(n)s sesiones en otros dispositivos.", n=count), "success")
    return redirect(url_for("account.index"))


# -------------------------------------------------------------------- organisation


@auth_bp.record_once
def _label_globals(state):
    # Globals (not context) so that imported macros can use them too.
    state.app.jinja_env.globals.update(
        org_status_label=services.status_label,
        role_label=lambda role: services.ROLE_LABELS.get(role, ""),
        channel_label=lambda channel: dict(CHANNEL_CHOICES).get(channel, channel),
        kind_label=lambda kind: services.KIND_LABELS.get(kind, ""),
        legal_form_label=lambda value: services.LEGAL_FORMS.get(value, value),
    )
    state.app.jinja_env.filters["mobile"] = format_mobile
