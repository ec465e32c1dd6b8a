"""The demo gives every channel someone to reach: managers on WhatsApp, a member on SMS,
a member who wrote SALIR reached by SMS instead, members who never verified their number
(not reachable, with the reason), buyers by e-mail; seeding again changes nothing."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from marketplace.accounts import passwords
from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.demo import Report, seed_channels, seed_people
from marketplace.demo.channels import OPTED_OUT_MEMBER, SMS_MEMBER
from marketplace.extensions import db
from marketplace.messaging import services
from marketplace.messaging.models import Channel, Inbound


def test_demo_people_have_every_channel_and_seeding_again_changes_nothing(app):
    with app.app_context():
        seed_people(Report(), passwords.hash_password("cosecha-2026"), random.Random(1581), utcnow())
        db.session.flush()
        assert seed_channels(utcnow()) > 40
        db.session.commit()

        def channel(**where):
            user = db.session.scalar(select(User).filter_by(**where))
            return services.channel_for(user)

        assert channel(phone="+573100000000") == (Channel.WHATSAPP, None)  # the demo manager
        assert channel(phone=SMS_MEMBER) == (Channel.SMS, None)
        assert channel(phone=OPTED_OUT_MEMBER) == (Channel.SMS, None)  # wrote SALIR on WhatsApp
        nobody, reason = channel(phone="+573200000002")
        assert nobody is None and "celular sin verificar" in reason
        assert channel(email="compras01@empresa-demo.co") == (Channel.EMAIL, None)
        assert db.session.scalar(select(func.count(Inbound.id)).where(Inbound.from_number == OPTED_OUT_MEMBER)) == 1

        assert seed_channels(utcnow()) == 0
        db.session.flush()
        assert db.session.scalar(select(func.count(Inbound.id))) == 1
