"""Staff's message page: who may read it, its filters, masked secrets and numbers, and the
month's spend per channel computed exactly from the message rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from marketplace.extensions import db
from tests.conftest import ROLES


def _message(**values):
    from marketplace.messaging.models import Channel, Message, MessageStatus

    defaults = dict(kind="new_order", channel=Channel.WHATSAPP, to_address="+573101234567", locale="es",
                    body="Nuevo pedido", status=MessageStatus.SENT, attempts=1,
                    created_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    defaults.update(values)
    defaults.setdefault("updated_at", defaults["created_at"])
    message = Message(**defaults)
    db.session.add(message)
    return message


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("staff_auditor", "platform_admin")])
def test_only_staff_read_the_message_page(login_as, role):
    client, _person = login_as(role)
    assert client.get("/admin/mensajes").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/mensajes")
    assert response.status_code == 302 and "/entrar" in response.headers["Location"]


@pytest.mark.parametrize("role", ["staff_auditor", "platform_admin"])
def test_staff_read_the_log_with_masked_numbers_and_secrets(app, login_as, factory, role):
    from marketplace.messaging.models import Channel, MessageStatus

    coop_id, manager = factory.cooperative(name="Asociación Cacao Vivo")
    with app.app_context():
        _message(user_id=manager.user_id, organisation_id=coop_id, body="Pedido 1842: 300 kg de cacao")
        _message(user_id=manager.user_id, organisation_id=coop_id, kind="code", channel=Channel.SMS,
                 body="Su código es 493817", secret=True, segments=1, cost=Decimal("180"))
        _message(user_id=manager.user_id, organisation_id=coop_id, channel=Channel.SMS, kind="accept",
                 status=MessageStatus.SKIPPED, status_reason="salió de SMS (STOP)", attempts=0)
        db.session.commit()
    client, _person = login_as(role)
    page = client.get("/admin/mensajes?mes=2026-11").get_data(as_text=True)
    assert "Pedido 1842: 300 kg de cacao" in page  # a plain notice can be read
    assert "493817" not in page and "(contenido secreto)" in page
    assert "+573101234567" not in page and "+57310•••4567" in page
    assert "Asociación Cacao Vivo" in page and "salió de SMS (STOP)" in page


def test_the_staff_menu_links_to_the_page(login_as):
    client, _person = login_as("staff_auditor")
    assert 'href="/admin/mensajes"' in client.get("/admin/mensajes").get_data(as_text=True)


def test_filters_by_organisation_channel_status_kind_and_month(app, login_as, factory):
    from marketplace.messaging.models import Channel, MessageStatus

    first, _m1 = factory.cooperative(name="Cooperativa Alfa")
    second, _m2 = factory.cooperative(name="Cooperativa Beta")
    with app.app_context():
        _message(organisation_id=first, body="alfa-whatsapp-noviembre")
        _message(organisation_id=first, channel=Channel.SMS, body="alfa-sms-noviembre", kind="reminder")
        _message(organisation_id=second, body="beta-fallido", status=MessageStatus.FAILED, status_reason="error")
        _message(organisation_id=first, body="alfa-diciembre", created_at=datetime(2026, 12, 2, 15, tzinfo=UTC))
        # 04:30 UTC on 1 December is still 30 November in Bogotá.
        _message(organisation_id=second, body="beta-noche-30-nov", created_at=datetime(2026, 12, 1, 4, 30, tzinfo=UTC))
        db.session.commit()
    client, _person = login_as("staff_auditor")

    def bodies(query):
        response = client.get("/admin/mensajes?" + query)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        return {b for b in ("alfa-whatsapp-noviembre", "alfa-sms-noviembre", "beta-fallido", "alfa-diciembre",
                            "beta-noche-30-nov") if b in text}

    assert bodies("") == {"alfa-whatsapp-noviembre", "alfa-sms-noviembre", "beta-fallido", "alfa-diciembre",
                          "beta-noche-30-nov"}
    assert bodies(f"organizacion={first}") == {"alfa-whatsapp-noviembre", "alfa-sms-noviembre", "alfa-diciembre"}
    assert bodies("organizacion=beta") == {"beta-fallido", "beta-noche-30-nov"}
    assert bodies("canal=sms") == {"alfa-sms-noviembre"}
    assert bodies("estado=failed") == {"beta-fallido"}
    assert bodies("tipo=reminder") == {"alfa-sms-noviembre"}
    assert bodies("mes=2026-11") == {"alfa-whatsapp-noviembre", "alfa-sms-noviembre", "beta-fallido",
                                     "beta-noche-30-nov"}
    assert bodies("mes=2026-12") == {"alfa-diciembre"}


@pytest.mark.parametrize("query", ["canal=fax", "estado=perdido", "mes=noviembre", "mes=2026-13",
                                   "tipo=%3Cscript%3E", "organizacion=" + "9" * 12])
def test_a_bad_filter_is_a_clear_400(login_as, query):
    client, _person = login_as("staff_auditor")
    response = client.get("/admin/mensajes?" + query)
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_the_log_pages_newest_first(app, login_as):
    from marketplace.messaging import reports

    with app.app_context():
        for n in range(reports.PAGE_SIZE + 3):
            _message(body=f"aviso-{n:03d}-fin", created_at=datetime(2026, 11, 1, 12, n % 60, tzinfo=UTC)
                     .replace(hour=12 + n // 60))
        db.session.commit()
    client, _person = login_as("staff_auditor")
    first = client.get("/admin/mensajes").get_data(as_text=True)
    last = f"aviso-{reports.PAGE_SIZE + 2:03d}-fin"
    assert last in first and "aviso-000-fin" not in first and "page=2" in first
    assert first.index(last) < first.index(f"aviso-{reports.PAGE_SIZE + 1:03d}-fin")
    second = client.get("/admin/mensajes?page=2").get_data(as_text=True)
    assert "aviso-000-fin" in second and last not in second and "page=3" not in second


def test_spend_per_channel_per_month_is_exact(app):
    """Sums of costs that floating point cannot hold (0.1 + 0.2...) come out exact, per
    channel and Bogotá month, from the message rows alone."""
    from marketplace.messaging import reports
    from marketplace.messaging.models import Channel, MessageStatus

    nov = datetime(2026, 11, 10, 12, tzinfo=UTC)
    with app.app_context():
        for _ in range(10):
            _message(channel=Channel.SMS, cost=Decimal("0.1"), segments=1, created_at=nov)
        _message(channel=Channel.SMS, cost=Decimal("0.2"), segments=2, created_at=nov)
        _message(channel=Channel.SMS, cost=Decimal("180.0001"), segments=1, created_at=nov)
        _message(channel=Channel.WHATSAPP, cost=Decimal("4.3333"), created_at=nov)
        _message(channel=Channel.WHATSAPP, cost=None, status=MessageStatus.SKIPPED, status_reason="sin celular",
                 created_at=nov)
        _message(channel=Channel.EMAIL, cost=None, status=MessageStatus.FAILED, created_at=nov)
        # 1 December 03:00 UTC is 30 November in Bogotá; 1 December 06:00 UTC is December.
        _message(channel=Channel.WHATSAPP, cost=Decimal("1"), created_at=datetime(2026, 12, 1, 3, tzinfo=UTC))
        _message(channel=Channel.WHATSAPP, cost=Decimal("7"), created_at=datetime(2026, 12, 1, 6, tzinfo=UTC))
        _message(channel=Channel.SMS, cost=Decimal("99"), created_at=datetime(2026, 10, 31, 12, tzinfo=UTC))
        db.session.commit()

        rows = reports.spend_by_month(date(2026, 12, 1), months=3)
        assert [r.month for r in rows] == [date(2026, 12, 1), date(2026, 11, 1), date(2026, 10, 1)]
        december, november, october = rows
        assert november.channels[Channel.SMS].cost == Decimal("181.2001")
        assert november.channels[Channel.SMS].written == 12 and november.channels[Channel.SMS].segments == 13
        assert november.channels[Channel.WHATSAPP].cost == Decimal("5.3333")
        assert november.channels[Channel.WHATSAPP].written == 3
        assert november.channels[Channel.WHATSAPP].skipped == 1 and november.channels[Channel.WHATSAPP].sent == 2
        assert november.channels[Channel.EMAIL].failed == 1 and november.channels[Channel.EMAIL].cost == 0
        assert november.total_cost == Decimal("186.5334")
        assert december.channels[Channel.WHATSAPP].cost == Decimal("7") and december.total_written == 1
        assert october.channels[Channel.SMS].cost == Decimal("99")
        for row in rows:
            for figures in row.channels.values():
                assert isinstance(figures.cost, Decimal)

        problems = reports.problems(date(2026, 11, 1))
        assert {(p.channel, p.status, p.reason, p.count) for p in problems} == {
            (Channel.WHATSAPP, MessageStatus.SKIPPED, "sin celular", 1), (Channel.EMAIL, MessageStatus.FAILED, "", 1)}


def test_the_page_shows_the_months_spend_and_opt_outs(app, login_as, factory):
    from marketplace.accounts.models import User
    from marketplace.messaging.models import Channel

    coop_id, manager = factory.cooperative()
    with app.app_context():
        user = db.session.get(User, manager.user_id)
        user.sms_opt_out_at = datetime(2026, 11, 5, tzinfo=UTC)
        _message(channel=Channel.SMS, cost=Decimal("1234.5"), segments=7, organisation_id=coop_id)
        db.session.commit()
    client, _person = login_as("staff_auditor")
    page = client.get("/admin/mensajes?mes=2026-11").get_data(as_text=True)
    assert "$ 1.234,50" in page
    assert "SMS: 1" in page and manager.login[:6] + "•••" + manager.login[-4:] in page
    # The same page for the organisation alone; another organisation's page shows nothing.
    other_id, _other = factory.cooperative()
    assert "$ 1.234,50" in client.get(f"/admin/mensajes?mes=2026-11&organizacion={coop_id}").get_data(as_text=True)
    alone = client.get(f"/admin/mensajes?mes=2026-11&organizacion={other_id}").get_data(as_text=True)
    assert "$ 1.234,50" not in alone and "SMS: 0" in alone



def test_english_labels(login_as):
    client, _person = login_as("staff_auditor")
    client.post("/idioma", data={"lang": "en", "next": "/admin/mensajes"})
    page = client.get("/admin/mensajes").get_data(as_text=True)
    assert "Messages" in page
