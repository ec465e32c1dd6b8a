"""Stored files follow the transaction that references them.

A file is written to storage before the row that names it is committed (the storage is not
transactional). :func:`stored` notes each such key on the database session: if the session
then rolls back (a refused form, a failed check, an error), the files are deleted, so a
refused upload never leaves a file that no row references. After a commit they are kept.
``flask uploads prune`` removes what an interruption (a killed worker) left behind anyway.
"""

from __future__ import annotations

import contextlib

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.extensions import limiter

_INFO_KEY = "stored_files"


def stored(session, storage, key: str) -> None:
    """Note that ``key`` was just written to ``storage`` inside ``session``'s transaction."""
    session.info.setdefault(_INFO_KEY, []).append((storage, key))


def save(session, storage, key: str, data: bytes) -> None:
    """Write ``data`` under ``key``; deleted again if ``session`` rolls back."""
    storage.save(key, data)
    stored(session, storage, key)


def delete_after_commit(session, storage, key: str) -> None:
    """Delete ``key`` from ``storage`` once ``session`` commits (a file the committed rows no
    longer name); kept if it rolls back, since the row that names it comes back."""
    session.info.setdefault(_DISCARD_KEY, []).append((storage, key))


_DISCARD_KEY = "discarded_files"


# ----------------------------------------------------------------- upload rate limit
# Every request that carries a picture (listing form, delivery evidence, organisation document)
# counts against one budget per account: ``PHOTO_UPLOAD_LIMIT`` (default 30 per hour).

def upload_limit() -> str:
    return current_app.config.get("PHOTO_UPLOAD_LIMIT", "30 per hour")


def upload_limit_key() -> str:
    user_id = getattr(current_user, "id", None) if current_user.is_authenticated else None
    return f"uploads:user:{user_id}" if user_id is not None else f"uploads:ip:{request.remote_addr}"


def carries_no_upload() -> bool:
    """Exempt from the budget: a request without any chosen file."""
    return not any(getattr(f, "filename", "") for _name, f in request.files.items(multi=True))


def upload_limit_message() -> str:
    return _("Ha enviado muchas fotos o archivos en la última hora. Espere un rato e intente de nuevo.")


def limit_uploads(view):
    """The per-account upload budget on a view (its POSTs that carry a file)."""
    return limiter.shared_limit(upload_limit, "photo-uploads", key_func=upload_limit_key,
                                exempt_when=carries_no_upload, methods=["POST"],
                                error_message=upload_limit_message)(view)


@event.listens_for(Session, "after_commit")
def _kept(session) -> None:
    session.info.pop(_INFO_KEY, None)
    for storage, key in session.info.pop(_DISCARD_KEY, []):
        with contextlib.suppress(OSError, ValueError):  # best effort: prune finds it later
            storage.delete(key)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session, previous_transaction) -> None:
    if session.in_transaction():  # a savepoint rolled back; the outer transaction goes on
        return
    session.info.pop(_DISCARD_KEY, None)
    for storage, key in session.info.pop(_INFO_KEY, []):
        with contextlib.suppress(OSError, ValueError):  # best effort: prune finds it later
            storage.delete(key)
