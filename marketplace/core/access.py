"""Access decorators for views. Object-level checks live in each package's policy functions."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def roles_required(*roles):
    """The view needs a logged-in user holding one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def staff_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def member_required(view):
    """Any logged-in user who belongs to an organisation."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.organisation is None:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
