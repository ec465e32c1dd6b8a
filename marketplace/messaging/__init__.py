"""Messages to people, by e-mail, WhatsApp and SMS, and their replies.

Services above this package write a ``Notice`` (what happened, about which object) in the
same transaction as the change. The worker expands each notice into one ``Message`` per
recipient, on that person's channel and in that person's language, and hands it to the
channel's provider (``providers``). Inbound webhooks (``webhooks``) verify the provider's
signature, record the message once, and hand it to the handlers that higher packages
registered in ``hooks`` (rule 11: this package never imports orders or catalog).
"""
