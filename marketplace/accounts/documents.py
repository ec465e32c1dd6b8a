"""Documents an organisation sends for its verification: RUT, chamber of commerce
certificate, or a cooperative's act of constitution, as a PDF or a photo.

The same care as listing photos: a file is judged by its content, never by its name or the
type the browser claims. A photo must be a JPEG, PNG or WebP that Pillow opens; it is
re-encoded as a fresh JPEG (no EXIF or GPS metadata, at most 2,400 px so a page stays
legible). A PDF must start with ``%PDF-``, end with ``%%EOF`` and carry no script or launch
action. Both are capped at 10 MB. Files are stored under server-made keys in the listing
photos' storage and read back only through :func:`readable_document`.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import (
    MANAGING_ROLES,
    DocumentKind,
    DocumentStatus,
    OrganisationDocument,
    OrgKind,
    User,
)
from marketplace.core import audit, images, uploads
from marketplace.core.errors import DomainError, Forbidden, NotFound
from marketplace.core.models import utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db

MAX_BYTES = 10 * 1024 * 1024
# The shared decoder (core/images.py) refuses a picture beyond what 2,400 px need, from its
# header, decodes a JPEG reduced and caps how many are decoded at once.
_IMAGE_ERRORS = {"not_an_image": "wrong_type", "unreadable": "bad_image", "wrong_format": "wrong_type", "too_many_pixels": "too_many_pixels",
                 "busy": "busy"}
MAX_SIDE = 2400
MAX_PER_ORGANISATION = 20
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}
# A key the public photo route (/media/<key>) refuses: documents are read only by id, after
# the reader's right to see them is checked.
KEY_PREFIX = "doc-"
# PDF features that run something when the file is opened: refused, a scan never needs them.
_ACTIVE_PDF = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile)\b")

KIND_LABELS = {
    DocumentKind.RUT: _l("RUT (Registro Único Tributario)"),
    DocumentKind.CAMARA_COMERCIO: _l("Certificado de existencia y representación legal (Cámara de Comercio)"),
    DocumentKind.ACTA_CONSTITUCION: _l("Acta de constitución de la asociación o cooperativa"),
    DocumentKind.OTHER: _l("Otro documento"),
}
STATUS_LABELS = {
    DocumentStatus.PENDING: _l("Por revisar"),
    DocumentStatus.ACCEPTED: _l("Aceptado"),
    DocumentStatus.REJECTED: _l("Rechazado"),
}
MESSAGES = {
    "empty": _l("Elija el archivo del documento."),
    "too_large": _l("El archivo pesa más de 10 MB. Tome la foto de nuevo o envíe un PDF más liviano."),
    "wrong_type": _l("Envíe un PDF o una foto (JPEG, PNG o WebP)."),
    "bad_pdf": _l("El PDF está dañado o incompleto. Guárdelo de nuevo y vuelva a intentarlo."),
    "active_pdf": _l("El PDF tiene contenido activo (scripts o acciones). Envíe una copia escaneada o impresa a PDF."),
    "bad_image": _l("No pudimos leer la foto. Tómela de nuevo."),
    "too_many_pixels": _l("La foto tiene demasiados píxeles: envíela de hasta 17 megapíxeles o como PDF."),
    "busy": _l("Estamos procesando muchas fotos en este momento. Intente de nuevo en un minuto."),
}


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    content_type: str
    extension: str


def check_file(data: bytes) -> CheckedFile:
    """The file as it will be stored, or DomainError(field="file") with the reason."""
    if not data:
        raise DomainError(MESSAGES["empty"], "file")
    if len(data) > MAX_BYTES:
        raise DomainError(MESSAGES["too_large"], "file")
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise DomainError(MESSAGES["bad_pdf"], "file")
        if _ACTIVE_PDF.search(data):
            raise DomainError(MESSAGES["active_pdf"], "file")
        return CheckedFile(data, "application/pdf", "pdf")
    return CheckedFile(_reencode(data), "image/jpeg", "jpg")


def _reencode(data: bytes) -> bytes:
    try:
        image = images.decode(data, MAX_SIDE, IMAGE_FORMATS)
    except images.ImageError as exc:
        raise DomainError(MESSAGES[_IMAGE_ERRORS[exc.code]], "file") from exc
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)  # fresh JPEG: no metadata copied
    return out.getvalue()


# -------------------------------------------------------------------- who may do what


def _manages(user: User, organisation_id: int) -> bool:
    org = user.organisation
    return org is not None and org.id == organisation_id and user.role in MANAGING_ROLES


def required_kinds(org) -> list[DocumentKind]:
    """What verification asks of an organisation: its RUT, and the chamber of commerce
    certificate; a cooperative or association without one sends its act of constitution."""
    if org.kind == OrgKind.COOPERATIVE:
        return [DocumentKind.RUT, DocumentKind.CAMARA_COMERCIO, DocumentKind.ACTA_CONSTITUCION]
    return [DocumentKind.RUT, DocumentKind.CAMARA_COMERCIO]


def documents_of(user: User, org) -> list[OrganisationDocument]:
    """The organisation's documents, newest first: for its managers and for staff."""
    if not (user.is_staff or _manages(user, org.id)):
        raise Forbidden(_l("Solo quien administra la organización ve sus documentos."))
    return list(db.session.scalars(
        select(OrganisationDocument).where(OrganisationDocument.organisation_id == org.id)
        .order_by(OrganisationDocument.uploaded_at.desc(), OrganisationDocument.id.desc())
    ))


def readable_document(user: User, document_id: int) -> OrganisationDocument:
    """A document its reader may open; any other id is simply not found."""
    document = db.session.get(OrganisationDocument, document_id)
    if document is None or not (user.is_staff or _manages(user, document.organisation_id)):
        raise NotFound(_l("No encontramos ese documento."))
    return document


def upload_document(actor: User, org, kind: str, data: bytes, storage, remote_addr=None) -> OrganisationDocument:
    """Check, store and record one document of ``org``; only its managers send them."""
    if not _manages(actor, org.id):
        raise Forbidden(_l("Solo quien administra la organización envía sus documentos."))
    try:
        kind_value = DocumentKind(kind)
    except ValueError:
        raise DomainError(_l("Elija qué documento envía."), "kind") from None
    count = db.session.scalar(select(db.func.count()).select_from(OrganisationDocument)
                              .where(OrganisationDocument.organisation_id == org.id))
    if count >= MAX_PER_ORGANISATION:
        raise DomainError(_l("Ya envió %(n)s documentos; escriba al equipo si necesita enviar más.",
                             n=MAX_PER_ORGANISATION), "file")
    checked = check_file(data)
    key = f"{KEY_PREFIX}{secrets.token_urlsafe(18)}.{checked.extension}"
    document = OrganisationDocument(organisation_id=org.id, kind=kind_value, file_key=key,
                                    content_type=checked.content_type, size_bytes=len(checked.data),
                                    uploaded_by_id=actor.id, status=DocumentStatus.PENDING)
    db.session.add(document)
    db.session.flush()
    audit.record("organisation_document.uploaded", "organisation_document", document.id, actor=actor,
                 organisation_id=org.id, after=audit.snapshot(document, ("kind", "content_type", "size_bytes")),
                 remote_addr=remote_addr)
    # Written last: a refused file or a failed row leaves nothing behind in storage.
    uploads.save(db.session, storage, key, checked.data)  # deleted again if the transaction rolls back
    return document


def review_document(actor: User, document_id: int, status: str, note: str | None,
                    remote_addr=None) -> OrganisationDocument:
    """Accept or reject a document (platform admins, who verify organisations)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo un administrador de la plataforma revisa documentos."))
    document = readable_document(actor, document_id)
    try:
        new_status = DocumentStatus(status)
    except ValueError:
        raise DomainError(_l("Elija aceptar o rechazar."), "status") from None
    if new_status == DocumentStatus.PENDING:
        raise DomainError(_l("Elija aceptar o rechazar."), "status")
    note = clean_text(note) or None
    if new_status == DocumentStatus.REJECTED and not note:
        raise DomainError(_l("Explique por qué lo rechaza; la organización lo verá."), "note")
    if note and len(note) > 1000:
        raise DomainError(_l("La nota es demasiado larga (máximo 1.000 caracteres)."), "note")
    before = audit.snapshot(document, ("status", "review_note"))
    document.status = new_status
    document.review_note = note
    document.reviewed_by_id = actor.id
    document.reviewed_at = utcnow()
    db.session.flush()
    audit.record(f"organisation_document.{new_status.value}", "organisation_document", document.id,
                 actor=actor, organisation_id=document.organisation_id, before=before,
                 after=audit.snapshot(document, ("status", "review_note")), remote_addr=remote_addr)
    return document


@dataclass(frozen=True)
class ChecklistItem:
    kinds: tuple[DocumentKind, ...]  # any one of them satisfies the item
    status: DocumentStatus | None  # the best status among its documents; None when none was sent
    note: str | None  # the reviewer's note on a rejected document


def verification_checklist(user: User, org) -> list[ChecklistItem]:
    """What an organisation still owes for its verification, item by item: the RUT, and the
    chamber of commerce certificate (a cooperative or association without one sends its act
    of constitution instead)."""
    sent = documents_of(user, org) if (user.is_staff or _manages(user, org.id)) else []
    rank = {DocumentStatus.ACCEPTED: 3, DocumentStatus.PENDING: 2, DocumentStatus.REJECTED: 1}
    groups = [(DocumentKind.RUT,)]
    if org.kind == OrgKind.COOPERATIVE:
        groups.append((DocumentKind.CAMARA_COMERCIO, DocumentKind.ACTA_CONSTITUCION))
    else:
        groups.append((DocumentKind.CAMARA_COMERCIO,))
    items = []
    for kinds in groups:
        mine = [d for d in sent if d.kind in kinds]
        best = max(mine, key=lambda d: (rank[d.status], d.uploaded_at), default=None)
        items.append(ChecklistItem(kinds, best.status if best else None,
                                   best.review_note if best and best.status == DocumentStatus.REJECTED else None))
    return items
