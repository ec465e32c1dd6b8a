"""What higher packages plug into messaging at start-up (rule 11).

- ``NOTICE_KINDS``: for each notice kind, who is told and what they read. Orders registers
  "new_order", "accept"...; messaging itself registers the account notices.
- ``REPLY_HANDLERS``: called in order with each inbound message from a known person that no
  conversation took; the first to answer (a ``Reply``) handles it. Orders registers
  "SI 1842" / "NO 1842" / "PEDIDOS" and the WhatsApp buttons.
- ``CONVERSATIONS``: guided conversations by kind (catalog registers "listing"), and the
  words that start them.
- ``HELP_LINES``: what each package adds to the answer to "AYUDA".

Handlers run inside the webhook's transaction: they call the same services as the web,
as the sender's user, and flush; the webhook commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from marketplace.accounts.models import User
    from marketplace.messaging.models import Channel, Conversation, Notice


@dataclass(frozen=True)
class Rendered:
    """A notice as one recipient reads it, in their language.

    ``text`` is the full text for e-mail and free WhatsApp text; ``short`` the SMS text
    (kept to one GSM-7 segment where it can be); ``template_params`` fill the WhatsApp
    template's body placeholders {{1}}, {{2}}... in order; ``buttons`` are quick replies
    as (payload, title) pairs."""

    subject: str
    text: str
    short: str
    template_params: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class NoticeKind:
    """How a kind of notice is delivered.

    ``recipients(notice)`` lists the users to tell; ``render(notice, user)`` runs inside the
    user's locale (``force_locale``) and returns what they read. ``template`` is the WhatsApp
    template's default name (``WHATSAPP_TEMPLATES`` may rename it per kind). ``secret``
    masks the body once sent (codes, temporary passwords). ``template_text`` is the body
    submitted to Meta for approval, per locale ("es", "en"), with {{1}}... placeholders in
    the order of ``Rendered.template_params``; ``template_buttons`` the quick-reply titles
    it declares, per locale."""

    kind: str
    recipients: Callable[[Notice], list[User]]
    render: Callable[[Notice, User], Rendered]
    template: str
    template_text: dict[str, str] = field(default_factory=dict)
    template_buttons: dict[str, list[str]] = field(default_factory=dict)
    secret: bool = False
    # Meta's template category. "authentication" is Meta's fixed code template: its body is
    # Meta's own text with the code as the one parameter ({{1}}) and a copy-code button that
    # carries the same code (sent as the button's url parameter); "utility" otherwise.
    template_category: str = "utility"
    # Address and channel fixed by the notice itself (a code to a number being verified):
    # ``address(notice) -> (channel, address)``, or None for the recipient's own channel.
    address: Callable[[Notice], tuple[str, str]] | None = None
    # What staff read for this kind in the message log (a lazy gettext string).
    label: Any = None


NOTICE_KINDS: dict[str, NoticeKind] = {}


def register_notice(kind: NoticeKind) -> None:
    NOTICE_KINDS[kind.kind] = kind


@dataclass
class InboundContext:
    """An inbound message as handlers see it. ``user`` is the sender, found only by a
    verified number (None for an unknown sender); ``command`` is the text's first word in
    upper case without accents ("SI", "NO", "PEDIDOS"...); ``args`` the rest, split."""

    channel: Channel
    from_number: str
    text: str
    button_payload: str | None
    media_id: str | None
    user: User | None
    received_at: datetime
    command: str = ""
    args: list[str] = field(default_factory=list)
    provider: str = ""


@dataclass(frozen=True)
class Reply:
    """What a handler answers: the text sent back (in the sender's language) and a short
    outcome recorded on the inbound message for staff. ``buttons`` as in ``Rendered``."""

    text: str
    outcome: str
    buttons: list[tuple[str, str]] = field(default_factory=list)


class ReplyHandler(Protocol):
    def __call__(self, context: InboundContext) -> Reply | None: ...


REPLY_HANDLERS: list[ReplyHandler] = []


def register_reply_handler(handler: ReplyHandler) -> None:
    if handler not in REPLY_HANDLERS:
        REPLY_HANDLERS.append(handler)


@dataclass(frozen=True)
class ConversationKind:
    """A guided conversation. ``start_words`` (upper case, no accents) start it when a
    known user sends one; ``can_start(user)`` says whether this user may; ``start`` and
    ``step`` receive the live ``Conversation`` row, change its ``step``/``state`` and return
    the next question. Returning ``done=True`` ends it (the row is deleted).
    ``expired``, when given, answers a message that reaches a conversation past its
    ``expires_at`` and that no start word or other handler took (the row is deleted
    either way), so the person hears that it timed out and how to start over."""

    kind: str
    start_words: tuple[str, ...]
    can_start: Callable[[User], bool]
    start: Callable[[Conversation, InboundContext], Reply]
    step: Callable[[Conversation, InboundContext], tuple[Reply, bool]]
    expired: Callable[[Conversation, InboundContext], Reply] | None = None


CONVERSATIONS: dict[str, ConversationKind] = {}


def register_conversation(kind: ConversationKind) -> None:
    CONVERSATIONS[kind.kind] = kind


# Lines for the AYUDA answer: ``help(user) -> str | None`` in the user's language (None when
# the commands it describes are not for this user). Orders describes SI / NO / PEDIDOS.
HELP_LINES: list[Callable[[User], str | None]] = []


def register_help(line: Callable[[User], str | None]) -> None:
    if line not in HELP_LINES:
        HELP_LINES.append(line)
