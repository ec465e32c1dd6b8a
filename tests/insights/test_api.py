"""The insights API (/api/v1/insights/...): staff read trends, indicators, anomalies and the
audit trail with figures equal to the services'; a buyer reads its own sourcing report and
never another buyer's; cooperatives read none of it; bad input is refused with 422, never
a 500, and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Buyer, Organisation, User
from marketplace.catalog.models import Product
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.insights import services
from marketplace.insights.models import (
    IndicatorTarget,
    PriceMonth,
    SaleFact,
    SalesMonth,
    TransactionReview,
)
from marketplace.orders import services as orders
from marketplace.orders.models import OrderPart, SaleChange
from tests.conftest import login
from tests.orders.conftest import (
    TODAY,
    api_token,
    make_listing,
    market,  # noqa: F401  (fixture)
)
from tests.orders.helpers import place, user

D = Decimal
API = "/api/v1/insights"
MONTH = TODAY.strftime("%Y-%m")
PERIOD = f"start={MONTH}&end={MONTH}"
STAFF_ONLY = ("trends", "indicators", "anomalies", "audit-events")


@dataclass
class Scene:
    market: object
    buyer2_id: int
    coop_p: int
    cacao: int
    cafe: int
    panela: int
    staff: dict
    buyer1: dict
    buyer2: dict
    coop: dict


@pytest.fixture
def scene(app, market, factory) -> Scene:  # noqa: F811
    """Two buyers' orders from three cooperatives, all accepted, placed this month.

    Buyer 1: cacao 100 kg at 10,000 (Tumaco) and 50 kg at 11,000 (San Vicente del Caguán),
    panela 40 kg at 3,500 (Pasto, not PDET, not women-led). Buyer 2: cacao 30 kg at 10,000
    and café 20 kg at 15,000 (Tumaco), cacao 10 kg at 4,000 (Caguán: far below the median).
    The market's cooperatives are women-led (60 of 120 members), none is youth-led."""
    m = market
    coop_p, manager_p = factory.cooperative(name="Paneleros de Pasto", municipality_code="52001",
                                            members_total=100, members_women=10, members_youth=20)
    listing_p = make_listing(app, manager_p, "panela", "500", "3500")
    listing_d = make_listing(app, m.manager_b, "cacao-grano-seco", "200", "4000")
    buyer2_id, buyer2 = factory.buyer(name="Cacao de Origen S.A.S.")
    with app.app_context():
        site2 = db.session.get(Buyer, buyer2_id).delivery_sites[0].id
    # Noon UTC today is this morning in Bogotá: the orders fall in this month there too.
    now = datetime.combine(TODAY, time(12), UTC)
    o1 = place(app, m, [(m.listing_a, "100", "kg"), (m.listing_b, "50", "kg"), (listing_p, "40", "kg")], now=now)
    o2 = place(app, type(m)(**{**m.__dict__, "buyer": buyer2, "site_id": site2}),
               [(m.listing_a, "30", "kg"), (m.listing_c, "20", "kg"), (listing_d, "10", "kg")], now=now)
    managers = {m.coop_a: m.manager_a, m.coop_b: m.manager_b, coop_p: manager_p}
    with app.app_context():
        for part in db.session.scalars(select(OrderPart).where(OrderPart.order_id.in_([o1, o2]))):
            orders.accept(user(managers[part.cooperative_id]), part)
        db.session.commit()
        ids = dict(db.session.execute(select(Product.slug, Product.id)).all())
    return Scene(m, buyer2_id, coop_p, ids["cacao-grano-seco"], ids["cafe-pergamino-seco"], ids["panela"],
                 staff=api_token(app, factory.staff()), buyer1=api_token(app, m.buyer),
                 buyer2=api_token(app, buyer2), coop=api_token(app, m.manager_a))


def _get(client, path: str, headers: dict):
    response = client.get(f"{API}/{path}", headers=headers)
    assert response.status_code < 500, (path, response.status_code, response.get_data(as_text=True)[:500])
    return response


def _dec(value):
    return None if value is None else D(value)


# ------------------------------------------------------------------ staff


def test_staff_can_create_an_api_token_and_the_api_wants_one(app, scene):
    client = app.test_client()
    assert scene.staff["Authorization"].startswith("Bearer mr_")
    assert client.get(f"{API}/indicators?{PERIOD}").status_code == 401
    assert client.get(f"{API}/indicators?{PERIOD}", headers={"Authorization": "Bearer mr_nope_nope"}).status_code == 401
    assert _get(client, f"indicators?{PERIOD}", scene.staff).status_code == 200


def test_staff_trends_match_the_services_and_the_sales(app, scene):
    client = app.test_client()
    body = _get(client, f"trends?product_id={scene.cacao}&{PERIOD}", scene.staff).get_json()
    [month] = body["months"]
    assert body["product_id"] == scene.cacao and month["month"] == MONTH
    # Cacao sale lines: 10,000 x2, 11,000 and 4,000 COP/kg; inverted-CDF quartiles over 4 lines.
    assert (D(month["median_price_per_kg"]), D(month["q1_price_per_kg"]), D(month["q3_price_per_kg"])) == \
        (D(10000), D(4000), D(10000))
    assert (D(month["kg"]), D(month["cop"]), month["orders"]) == (D(190), D(1890000), 4)
    with app.app_context():
        for department, subregion in ((None, None), ("52", None), (None, "Cuenca del Caguán y Piedemonte Caqueteño")):
            query = f"trends?product_id={scene.cacao}&{PERIOD}"
            query += f"&department={department}" if department else ""
            query += f"&subregion={subregion}" if subregion else ""
            body = _get(client, query, scene.staff).get_json()
            f = services.make_filters(TODAY, TODAY, scene.cacao, department, subregion)
            expected = services.trends(f)
            assert body["region"] == f.region_label
            assert [(m["month"], _dec(m["median_price_per_kg"]), _dec(m["q1_price_per_kg"]),
                     _dec(m["q3_price_per_kg"]), D(m["kg"]), D(m["cop"]), D(m["logistics_cop"]), m["orders"],
                     _dec(m["farm_gate_share"]), _dec(m["last_mile_share"])) for m in body["months"]] == \
                [(m.month.strftime("%Y-%m"), m.median, m.q1, m.q3, m.kg, m.cop, m.logistics_cop, m.parts,
                  m.farm_gate_share, m.last_mile_share) for m in expected.months]
            db.session.rollback()


def test_staff_indicators_match_the_services_and_the_sales(app, scene):
    client = app.test_client()
    body = _get(client, f"indicators?{PERIOD}", scene.staff).get_json()
    values = {item["code"]: item["value"] for item in body["items"]}
    # 2,190,000 from the women-led cooperatives (all PDET) and 140,000 from Pasto's.
    assert values == {"income_cop": "2330000.00", "volume_kg": "250.000", "cooperatives": "3",
                      "pdet_municipalities": "2", "pdet_subregions": "2", "women_share": "0.9399",
                      "youth_share": "0.0000", "alliances": "5", "repeat_alliances": "0"}
    with app.app_context():
        for query, args in ((f"indicators?{PERIOD}", {}), (f"indicators?{PERIOD}&department=52", {"department": "52"}),
                            (f"indicators?{PERIOD}&product_id={scene.cacao}", {"product_id": scene.cacao}),
                            (f"indicators?{PERIOD}&municipality=52835", {"municipality": "52835"})):
            body = _get(client, query, scene.staff).get_json()
            result = services.impact(services.make_filters(TODAY, TODAY, **args))
            assert [(i["code"], i["value"], [(x["month"], x["value"]) for x in i["monthly"]]) for i in body["items"]] \
                == [(r.code, None if r.value is None else str(r.value),
                     [(m.strftime("%Y-%m"), None if v is None else str(v)) for m, v in r.monthly]) for r in result.rows]
            db.session.rollback()


def test_staff_anomalies_flag_the_sale_far_below_the_median(app, scene, factory):
    client = app.test_client()
    body = _get(client, f"anomalies?product_id={scene.cacao}&{PERIOD}", scene.staff).get_json()
    with app.app_context():
        result = services.anomalies(services.make_filters(TODAY, TODAY, scene.cacao))
        assert [(x["line_id"], D(x["price_per_kg"]), D(x["reference_per_kg"]), x["flag"]) for x in body["flagged"]] \
            == [(x.fact.line_id, x.fact.price_per_kg, x.reference, x.flag) for x in result.flagged]
        assert body["platform"]["problem"] == result.platform.problem
    [flag] = body["flagged"]
    assert (D(flag["price_per_kg"]), D(flag["reference_per_kg"]), flag["flag"], flag["buyer_id"]) == \
        (D(4000), D(10000), "low", scene.buyer2_id)
    # The reviewer is told who sold, who bought and where, not only their numbers.
    with app.app_context():
        seller = db.session.get(Organisation, flag["cooperative_id"]).name
    assert (flag["cooperative"], flag["buyer"], flag["municipality_code"]) == \
        (seller, "Cacao de Origen S.A.S.", "18753")
    assert flag["municipality"].startswith("San Vicente del Caguán")
    page_client = app.test_client()
    login(page_client, factory.staff())
    page = page_client.get(f"/seguimiento/anomalias?producto={scene.cacao}").get_data(as_text=True)
    assert seller in page and "Cacao de Origen S.A.S." in page and "San Vicente del Caguán" in page
    assert f'href="/pedidos/{flag["order_id"]}"' in page


def test_staff_read_the_audit_trail_newest_first(app, scene):
    client = app.test_client()
    body = _get(client, "audit-events?page_size=5", scene.staff).get_json()
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(AuditEvent))
        newest = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(5)))
    assert (body["total"], body["page_size"], body["pages"]) == (total, 5, -(-total // 5))
    assert [e["id"] for e in body["items"]] == newest
    placed = _get(client, "audit-events?action=order.placed", scene.staff).get_json()
    assert placed["total"] == 2 and {e["object_type"] for e in placed["items"]} == {"order"}
    with app.app_context():
        expected = {(e.actor_id, db.session.get(User, e.actor_id).full_name,
                     db.session.get(Organisation, e.organisation_id).name)
                    for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "order.placed"))}
    assert {(e["actor_id"], e["actor_name"], e["organisation_name"]) for e in placed["items"]} == expected
    assert "Cacao de Origen S.A.S." in {name for _id, _n, name in expected}
    # Each event also in a sentence, with the order's number rather than its id.
    assert {e["summary"] for e in placed["items"]} == {f"{org} hizo el pedido OC-{int(e['object_id']):06d}"
                                                     for e in placed["items"] for org in [e["organisation_name"]]}
    today = TODAY.isoformat()
    assert _get(client, f"audit-events?start={today}&end={today}&action=order_part.accept",
                scene.staff).get_json()["total"] == 5
    beyond = _get(client, f"audit-events?page={placed['pages'] + 1}&action=order.placed", scene.staff).get_json()
    assert beyond["items"] == [] and beyond["total"] == 2


def test_staff_read_any_buyers_report_by_id(app, scene):
    client = app.test_client()
    body = _get(client, f"buyer-report?{PERIOD}&buyer_id={scene.buyer2_id}", scene.staff).get_json()
    assert body["buyer_id"] == scene.buyer2_id and D(body["cop"]) == D(640000)
    assert _get(client, f"buyer-report?{PERIOD}&buyer_id=1999999999", scene.staff).status_code == 404
    # Staff have no report of their own.
    assert _get(client, f"buyer-report?{PERIOD}", scene.staff).status_code in (403, 422)


# ------------------------------------------------------------------ buyers and cooperatives


def _report(body) -> dict:
    return {"kg": D(body["kg"]), "cop": D(body["cop"]), "pdet_share": _dec(body["pdet_share"]),
            "women_share": _dec(body["women_share"]), "youth_share": _dec(body["youth_share"]),
            "cooperatives": body["cooperatives"],
            "rows": [(r["municipality_code"], r["product"], D(r["kg"]), D(r["cop"])) for r in body["rows"]]}


BUYER1 = {"kg": D(190), "cop": D(1690000), "pdet_share": D("0.9172"), "women_share": D("0.9172"),
          "youth_share": D(0), "cooperatives": 3,
          "rows": [("52835", "Cacao en grano seco", D(100), D(1000000)),
                   ("18753", "Cacao en grano seco", D(50), D(550000)),
                   ("52001", "Panela", D(40), D(140000))]}
BUYER2 = {"kg": D(60), "cop": D(640000), "pdet_share": D(1), "women_share": D(1), "youth_share": D(0),
          "cooperatives": 2,
          "rows": [("52835", "Cacao en grano seco", D(30), D(300000)),  # ties on pesos: by product name
                   ("52835", "Café pergamino seco", D(20), D(300000)),
                   ("18753", "Cacao en grano seco", D(10), D(40000))]}


def test_buyers_read_their_own_report_and_never_another_buyers(app, scene):
    client = app.test_client()
    m = scene.market
    mine = _get(client, f"buyer-report?{PERIOD}", scene.buyer1).get_json()
    assert mine["buyer_id"] == m.buyer_id and _report(mine) == BUYER1
    theirs = _get(client, f"buyer-report?{PERIOD}", scene.buyer2).get_json()
    assert theirs["buyer_id"] == scene.buyer2_id and _report(theirs) == BUYER2
    with app.app_context():
        f = services.make_filters(TODAY, TODAY)
        own = services.buyer_report(db.session.get(Buyer, m.buyer_id), f)
        assert (own.kg, own.cop, own.pdet_share, own.cooperatives) == \
            (D(mine["kg"]), D(mine["cop"]), D(mine["pdet_share"]), mine["cooperatives"])
    # Asking for the other buyer's id is ignored: a buyer only ever gets its own figures.
    for token, own_id, other_id, expected in ((scene.buyer1, m.buyer_id, scene.buyer2_id, BUYER1),
                                              (scene.buyer2, scene.buyer2_id, m.buyer_id, BUYER2)):
        response = _get(client, f"buyer-report?{PERIOD}&buyer_id={other_id}", token)
        assert response.status_code in (200, 403, 404)
        if response.status_code == 200:
            body = response.get_json()
            assert body["buyer_id"] == own_id and _report(body) == expected
    # A region filter narrows the buyer's own report.
    pdet = _get(client, f"buyer-report?{PERIOD}&department=52", scene.buyer1).get_json()
    assert _report(pdet)["rows"] == [BUYER1["rows"][0], BUYER1["rows"][2]]
    assert D(pdet["pdet_share"]) == D("0.8772")  # 1,000,000 of 1,140,000


def test_buyers_and_cooperatives_are_refused_the_staff_endpoints(app, scene):
    client = app.test_client()
    queries = {"trends": f"product_id={scene.cacao}&{PERIOD}", "indicators": PERIOD,
               "anomalies": f"product_id={scene.cacao}&{PERIOD}", "audit-events": "page=1"}
    for token in (scene.buyer1, scene.buyer2, scene.coop):
        for path in STAFF_ONLY:
            response = _get(client, f"{path}?{queries[path]}", token)
            assert response.status_code == 403, (path, response.get_json())
            assert "items" not in response.get_json() and "months" not in response.get_json()
    for query in (PERIOD, f"{PERIOD}&buyer_id={scene.market.buyer_id}"):
        response = _get(client, f"buyer-report?{query}", scene.coop)
        assert response.status_code == 403 and "rows" not in response.get_json()


# ------------------------------------------------------------------ bad input


def _written():
    """Counts of every table the insights read or write, and of the pending change log."""
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (AuditEvent, SaleChange, SaleFact, SalesMonth, PriceMonth, TransactionReview,
                          IndicatorTarget)}


BAD_PERIOD_AND_REGION = (
    "start=2026-05&end=2026-01",  # end before start
    "start=2026-13", "end=2026-13", "start=2026-1", "start=mayo", "start=0000-01", "start=1999-12&end=2000-01",
    "start=2000-01&end=2026-12",  # more than 120 months
    "department=98", "department=5", "subregion=Narnia", "subregion=" + "x" * 81,
    "municipality=00000", "municipality=5283", "municipality=52835x",
    "colour=blue",  # unknown parameter
)


def test_bad_input_is_refused_with_422_and_writes_nothing(app, scene):
    client = app.test_client()
    with app.app_context():
        before = _written()
    assert before["sale_change"] > 0  # figures not yet read: a read would refresh them
    product = f"product_id={scene.cacao}"
    cases = []
    for path in ("trends", "anomalies"):
        cases += [(path, f"{product}&{q}", scene.staff) for q in BAD_PERIOD_AND_REGION]
        cases += [(path, q, scene.staff) for q in ("", "product_id=999999", "product_id=0", "product_id=abc",
                                                    "product_id=99999999999", f"{PERIOD}&product_id=")]
    cases += [("indicators", q, scene.staff) for q in BAD_PERIOD_AND_REGION + ("product_id=999999",)]
    cases += [("buyer-report", q, scene.buyer1) for q in BAD_PERIOD_AND_REGION + ("buyer_id=abc",)]
    cases += [("buyer-report", f"buyer_id={scene.buyer2_id}&{q}", scene.staff) for q in BAD_PERIOD_AND_REGION]
    cases += [("audit-events", q, scene.staff) for q in (
        "page_size=0", "page_size=10000", "page=0", "page=abc", "start=2026-05-01&end=2026-01-01",
        "start=2026-02-30", "end=yesterday", "who=" + "x" * 81, "colour=blue")]
    for path, query, token in cases:
        response = _get(client, f"{path}?{query}", token)
        assert response.status_code == 422, (path, query, response.status_code, response.get_json())
        assert response.is_json and response.get_json()["code"] == 422
    with app.app_context():
        assert _written() == before


def test_the_audit_trail_survives_the_last_representable_day(app, scene):
    client = app.test_client()
    response = client.get(f"{API}/audit-events?end=9999-12-31", headers=scene.staff)
    assert response.status_code in (200, 422), response.status_code


def test_the_audit_trail_filters_by_colombian_calendar_days(app, scene):
    """23:30 on 7 December in Bogotá is 04:30 on the 8th in UTC: staff asking for the 7th
    find it, and asking for the 8th do not."""
    with app.app_context():
        db.session.add(AuditEvent(occurred_at=datetime(2026, 12, 8, 4, 30, tzinfo=UTC), action="evening.check",
                                  object_type="evening", object_id="1"))
        db.session.add(AuditEvent(occurred_at=datetime(2026, 12, 8, 5, 30, tzinfo=UTC), action="evening.check",
                                  object_type="evening", object_id="2"))
        db.session.commit()
    client = app.test_client()

    def ids(start, end):
        body = _get(client, f"audit-events?action=evening.check&start={start}&end={end}", scene.staff).get_json()
        return sorted(e["object_id"] for e in body["items"])

    assert ids("2026-12-07", "2026-12-07") == ["1"]
    assert ids("2026-12-08", "2026-12-08") == ["2"]
    assert ids("2026-12-07", "2026-12-08") == ["1", "2"]
