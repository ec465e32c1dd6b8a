"""Changes of an organisation that staff review before they count.

- Identity. When the managers of a verified cooperative or buyer change its name, NIT or
  legal form, the organisation goes back to the review state of a new registration
  (``OrgStatus.PENDING``): it may not start new business (publish, quote, order, answer demands)
  until staff verify it again, but the orders and parts it already has go on as before (no step
  of an order's lifecycle reads the organisation's status; only suspension freezes them). Staff
  see the values before and after (``identity_under_review``), and the organisation is told.
- Member counts. A cooperative's counts decide whether it is women-led or youth-led, which the
  optimiser's preferences, the impact indicators and the search badges read straight from the
  cooperative's columns. An edit that would flip either flag is kept aside as a
  ``MemberCountChange``; the columns (and so every flag) stay as they were until staff confirm
  it. An edit that flips nothing applies at once.

Staff's own edits (platform admins, who may manage any organisation) need no review, nor do
the counts of a registration staff have not judged yet (they read it whole to verify it).
Like the other services, nothing here commits.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts import hooks
from marketplace.accounts.models import (
    ChangeStatus,
    Cooperative,
    MemberCountChange,
    Organisation,
    OrgKind,
    OrgStatus,
    User,
)
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import AuditEvent, utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db

IDENTITY_FIELDS = {
    OrgKind.COOPERATIVE: ("name", "nit", "legal_form"),
    OrgKind.BUYER: ("name", "nit"),
}
COUNT_FIELDS = ("members_total", "members_women", "members_youth", "members_victims")
# Events that end (or start) a review of the organisation's status.
STATUS_ACTIONS = ("organisation.verified", "organisation.rejected", "organisation.suspended",
                  "organisation.pending", "organisation.identity_review")


# ------------------------------------------------------------------------ identity


def _is_staff_edit(actor: User) -> bool:
    return bool(actor.is_admin)


def review_identity(actor: User, org: Organisation, before: dict, after: dict, remote_addr=None) -> bool:
    """After an edit whose changed fields are ``before``/``after``: a verified organisation
    whose name, NIT or legal form changed goes back under review. Returns whether it did."""
    fields = [f for f in IDENTITY_FIELDS.get(org.kind, ()) if f in after]
    if not fields or org.status != OrgStatus.VERIFIED or _is_staff_edit(actor):
        return False
    org.status = OrgStatus.PENDING
    org.status_reason = None
    org.status_changed_at = utcnow()
    org.status_changed_by_id = actor.id
    db.session.flush()
    audit.record("organisation.identity_review", "organisation", org.id, actor=actor, organisation_id=org.id,
                 before={**{f: before.get(f) for f in fields}, "status": OrgStatus.VERIFIED.value},
                 after={**{f: after[f] for f in fields}, "status": OrgStatus.PENDING.value},
                 remote_addr=remote_addr)
    hooks.notify("org_status", subject_id=org.id, organisation_id=org.id,
                 payload={"status": OrgStatus.PENDING.value, "reason": None, "review": "identity"})
    return True


def identity_under_review(org: Organisation) -> tuple[dict, dict]:
    """The identity fields changed since the organisation went back under review, as
    (before, after) records: the values it was verified with and the ones it has now. Empty
    when it is not under review for such a change (a new registration, a decided review)."""
    if org.status != OrgStatus.PENDING:
        return {}, {}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.organisation_id == org.id, AuditEvent.object_type == "organisation",
                                 AuditEvent.object_id == str(org.id),
                                 AuditEvent.action.in_(STATUS_ACTIONS + ("organisation.updated",)))
        .order_by(AuditEvent.id.desc()).limit(200)).all()
    since = []
    for event in events:  # newest first, back to the event that started this review
        since.append(event)
        if event.action in STATUS_ACTIONS:
            break
    if not since or since[-1].action != "organisation.identity_review":
        return {}, {}
    fields = IDENTITY_FIELDS.get(org.kind, ())
    before: dict = {}
    for event in reversed(since):
        for field in fields:
            if field in (event.after or {}) and field not in before:
                before[field] = (event.before or {}).get(field)
    after = {f: audit.snapshot(org, (f,))[f] for f in before}
    changed = [f for f in before if before[f] != after[f]]
    return {f: before[f] for f in changed}, {f: after[f] for f in changed}


# ---------------------------------------------------------------- member counts


def led_flags(total: int, women: int, youth: int) -> tuple[bool, bool]:
    """(women-led, youth-led) for these counts: the rule of ``Cooperative.women_led``."""
    return (bool(total) and women * 2 >= total, bool(total) and youth * 2 >= total)


def counts_of(coop: Cooperative | MemberCountChange) -> dict:
    return {f: getattr(coop, f) for f in COUNT_FIELDS}


def _flags(counts: dict) -> tuple[bool, bool]:
    return led_flags(counts["members_total"], counts["members_women"], counts["members_youth"])


def pending_member_change(coop: Cooperative) -> MemberCountChange | None:
    if coop.id is None:
        return None
    return db.session.scalar(select(MemberCountChange).where(
        MemberCountChange.cooperative_id == coop.id, MemberCountChange.status == ChangeStatus.PENDING))


def hold_member_counts(actor: User, coop: Cooperative, before: dict, remote_addr=None) -> MemberCountChange | None:
    """Called once an edit has set the cooperative's new counts (validated). When they would
    flip the women-led or youth-led flag, the old counts are put back and the new ones wait
    for staff as the cooperative's pending change (replacing an earlier one). Otherwise they
    stay, and an earlier pending change is withdrawn: the latest edit is what the cooperative
    asks for. Returns the pending change, if any."""
    new = counts_of(coop)
    pending = pending_member_change(coop)
    # A registration staff have not judged yet is read whole at its verification.
    first_review = coop.status == OrgStatus.PENDING and coop.status_changed_at is None
    if _flags(new) == _flags(before) or _is_staff_edit(actor) or first_review:
        if pending is not None:
            _decide(actor, pending, ChangeStatus.WITHDRAWN, None, remote_addr)
        return None
    for field, value in before.items():
        setattr(coop, field, value)
    if pending is not None and counts_of(pending) == new:
        return pending
    if pending is None:
        pending = MemberCountChange(cooperative_id=coop.id, status=ChangeStatus.PENDING)
        db.session.add(pending)
    for field, value in new.items():
        setattr(pending, field, value)
    pending.requested_by_id = actor.id
    pending.requested_at = utcnow()
    db.session.flush()
    audit.record("organisation.members_requested", "organisation", coop.id, actor=actor, organisation_id=coop.id,
                 before=before, after=new, remote_addr=remote_addr)
    return pending


def pending_member_changes(limit: int = 50) -> list[MemberCountChange]:
    """The changes waiting for staff, oldest first (staff's list of organisations shows them)."""
    return list(db.session.scalars(select(MemberCountChange).where(MemberCountChange.status == ChangeStatus.PENDING)
                                   .order_by(MemberCountChange.requested_at, MemberCountChange.id).limit(limit)))


def get_member_change(actor: User, change_id: int, org_id: int | None = None) -> MemberCountChange:
    """A change staff may read; anyone else, or a change of another organisation than
    ``org_id``, is not found."""
    change = db.session.get(MemberCountChange, change_id)
    if change is None or not actor.is_staff or (org_id is not None and change.cooperative_id != org_id):
        raise NotFound(_l("No encontramos ese cambio."))
    return change


def _decide(actor: User, change: MemberCountChange, status: ChangeStatus, note: str | None, remote_addr) -> None:
    coop = db.session.get(Cooperative, change.cooperative_id)
    before = counts_of(coop)
    change.status = status
    change.decided_by_id = actor.id
    change.decided_at = utcnow()
    change.decision_note = note
    if status == ChangeStatus.CONFIRMED:
        for field, value in counts_of(change).items():
            setattr(coop, field, value)
    db.session.flush()
    action = "organisation.members_confirmed" if status == ChangeStatus.CONFIRMED else "organisation.members_rejected"
    audit.record(action, "organisation", coop.id, actor=actor,
                 organisation_id=coop.id, before=before, after=counts_of(change), note=note,
                 remote_addr=remote_addr)


def decide_member_change(actor: User, change: MemberCountChange, confirm: bool, note: str | None = None,
                         remote_addr=None) -> None:
    """Staff confirm a pending change (the new counts, and the flags they give, count from now
    on) or reject it (the old ones stay; the cooperative reads the reason)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo un administrador de la plataforma revisa estos cambios."))
    note = clean_text(note) or None
    if not confirm and not note:
        raise DomainError(_l("Explique el motivo; la organización lo verá."), "note")
    if note and len(note) > 1000:
        raise DomainError(_l("El motivo es demasiado largo (máximo 1.000 caracteres)."), "note")
    # The row's lock: two staff deciding at once, or an edit beside, see one decision.
    locked = db.session.scalar(select(MemberCountChange).where(MemberCountChange.id == change.id)
                               .with_for_update().execution_options(populate_existing=True))
    if locked is None or locked.status != ChangeStatus.PENDING:
        raise Conflict(_l("Este cambio ya se revisó."))
    _decide(actor, locked, ChangeStatus.CONFIRMED if confirm else ChangeStatus.REJECTED, note, remote_addr)
    hooks.notify("member_counts", subject_id=locked.id, organisation_id=locked.cooperative_id,
                 payload={"confirmed": confirm, "note": note})
    if confirm:
        from marketplace.accounts import services  # services sits above this module

        for hook in services.COOPERATIVE_CHANGED_HOOKS:
            hook(locked.cooperative_id)
