"""The marketer's segment builder over a real database, and stored XSS across every page.

The builder's live numbers are checked against the scores themselves (calibrated scores make
the mean score the expected precision); the export holds only consented members, masked for
the marketer. Every text field is then filled with a script payload and every page is read."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import (
    Account,
    Activity,
    AuditEvent,
    Channel,
    ConsentStatus,
    Contact,
    Deal,
    Product,
    ProductRecommendation,
    Segment,
    Ticket,
)
from crm_core.services.consent import record_consent
from crm_core.services.segments import put_cluster_segments
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from tests.crm_core.conftest import OPERATOR, World
from tests.crm_core.web_helpers import add_score, csrf_of, signed_in, web_host

T0 = datetime(2026, 10, 1)
PAYLOAD = '"><script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
ESCAPED = "&lt;script&gt;window.__xss=1&lt;/script&gt;"


def _consent(world: World, contact_id: int, channel: Channel, status: ConsentStatus) -> None:
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        record_consent(uow, OPERATOR, contact_id, channel, status, "test", now=utc_now())
        uow.commit()


def _new_contacts(world: World, count: int, **values: object) -> list[int]:
    ids = []
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        for index in range(count):
            contact = Contact(
                first_name=f"Aud{index}",
                last_name="Ience",
                email=f"aud{index}@example.org",
                lifecycle_stage="customer",
                owner_id=world.users[Role.SALES_REP],
                created_at=T0,
                **values,
            )
            uow.session.add(contact)
            uow.session.flush()
            ids.append(contact.id)
        uow.commit()
    return ids


def test_marketer_builds_sees_size_and_precision_saves_and_exports_only_consented(world: World) -> None:
    audience = _new_contacts(world, 4)
    for contact_id, risk in zip(audience, (0.9, 0.7, 0.55, 0.2), strict=True):
        add_score(world.engine, contact_id, "churn", risk, "high" if risk >= 0.5 else "low", T0)
    _consent(world, audience[0], Channel.EMAIL, ConsentStatus.GRANTED)
    _consent(world, audience[1], Channel.EMAIL, ConsentStatus.GRANTED)
    _consent(world, audience[1], Channel.EMAIL, ConsentStatus.WITHDRAWN)  # the newest decision counts
    _consent(world, audience[2], Channel.SMS, ConsentStatus.GRANTED)
    host = web_host(world.engine)
    marketer = signed_in(host, Role.MARKETER)

    preview = marketer.get(f"{WEB_PREFIX}/segments/preview", params={"churn_min": "50", "channel": "email"}).json()
    assert preview["size"] == 3 and preview["contactable"] == 1
    (churn,) = preview["expected"]
    assert abs(churn["precision"] - (0.9 + 0.7 + 0.55) / 3) < 1e-9 and churn["expected_hits"] == 2
    invalid = marketer.get(f"{WEB_PREFIX}/segments/preview", params={"churn_min": "150"})
    assert invalid.status_code == 422 and "churn_min" in invalid.json()["error"]
    nothing = marketer.get(f"{WEB_PREFIX}/segments/preview")
    assert nothing.status_code == 422 and "at least one condition" in nothing.json()["error"]

    token = csrf_of(marketer)
    saved = marketer.post(
        f"{WEB_PREFIX}/segments",
        data={"csrf": token, "name": "Likely churners", "churn_min": "50", "churn_bands": "high"},
    )
    assert saved.status_code == 303
    page = marketer.get(saved.headers["location"]).text
    assert "3 members" in page and all(f'/contacts/{c}"' in page for c in audience[:3])

    segment_id = int(saved.headers["location"].rsplit("/", 1)[1])
    exported = marketer.post(f"{WEB_PREFIX}/segments/{segment_id}/export", data={"csrf": token, "channel": "email"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(row["id"]) for row in rows] == [audience[0]], "only the member opted in on email"
    assert rows[0]["email"] != "aud0@example.org" and rows[0]["email"], "personal fields masked for marketers"
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        details = [
            e.details for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.export"))
        ]
    assert details == [{"rows": 1, "truncated": False, "format": "csv", "consent": ["email"]}]


def test_reps_read_segments_but_cannot_build_them(world: World) -> None:
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    page = rep.get(f"{WEB_PREFIX}/segments").text
    assert "segment-builder" not in page
    refused = rep.post(f"{WEB_PREFIX}/segments", data={"csrf": csrf_of(rep), "name": "x", "churn_min": "10"})
    assert refused.status_code == 403


def test_a_stored_script_payload_renders_inert_on_every_page(world: World) -> None:
    session_factory = make_session_factory(world.engine)
    with UnitOfWork(session_factory) as uow:
        account = Account(
            name=PAYLOAD, industry=PAYLOAD, owner_id=world.users[Role.ADMIN], created_at=T0, custom={"tier": PAYLOAD}
        )
        uow.session.add(account)
        uow.session.flush()
        contact = Contact(
            first_name=PAYLOAD,
            last_name=PAYLOAD,
            email="x@example.org",
            phone=PAYLOAD,
            address=PAYLOAD,
            notes=PAYLOAD,
            lifecycle_stage="customer",
            account_id=account.id,
            owner_id=world.users[Role.ADMIN],
            created_at=T0,
            custom={"nickname": PAYLOAD},
        )
        uow.session.add(contact)
        uow.session.flush()
        product = Product(sku=PAYLOAD[:60], name=PAYLOAD, category=PAYLOAD[:60], unit_price=Decimal("9.99"))
        uow.session.add(product)
        uow.session.flush()
        uow.session.add_all(
            [
                Deal(
                    name=PAYLOAD,
                    amount=10,
                    stage="proposal",
                    status="open",
                    contact_id=contact.id,
                    account_id=account.id,
                    owner_id=world.users[Role.ADMIN],
                    opened_at=T0,
                ),
                Ticket(
                    contact_id=contact.id,
                    channel="email",
                    priority="high",
                    status="open",
                    subject=PAYLOAD,
                    opened_at=T0,
                ),
                Activity(
                    contact_id=contact.id,
                    type=PAYLOAD[:40],
                    channel="email",
                    occurred_at=T0,
                    properties={"subject": PAYLOAD},
                ),
                ProductRecommendation(
                    contact_id=contact.id,
                    product_id=product.id,
                    model_name="recommend",
                    model_version="1",
                    mlflow_run_id="r",
                    rank=1,
                    score=0.5,
                    reason="similar_products",
                    data_timestamp=T0,
                    written_at=T0,
                ),
            ]
        )
        put_cluster_segments(uow, [("cluster-1", PAYLOAD, PAYLOAD, {"profile": PAYLOAD}, [contact.id])], T0)
        uow.session.add(
            Segment(
                key="rule-x",
                name=PAYLOAD,
                kind="rule",
                description=PAYLOAD,
                definition={"lifecycle_stages": ["customer"]},
                created_at=T0,
                member_count=0,
            )
        )
        uow.commit()
        contact_id, account_id = contact.id, account.id
        segment_ids = list(uow.session.scalars(select(Segment.id)))
    factor = {"feature": PAYLOAD, "description": PAYLOAD, "contribution": 0.4, "value": 1.0, "source": "order"}
    add_score(world.engine, contact_id, "churn", 0.4, PAYLOAD[:20], T0, [factor], version=PAYLOAD[:40])
    add_score(world.engine, contact_id, "churn", 0.6, "high", datetime(2026, 10, 8), [factor])
    add_score(world.engine, contact_id, "lead", 0.6, "high", T0, [factor])

    host = web_host(world.engine)
    pages = [
        "/",
        f"/contacts/{contact_id}",
        "/accounts",
        f"/accounts/{account_id}",
        "/deals",
        "/tickets",
        f"/tickets?status={PAYLOAD}",
        f"/?q={PAYLOAD}",
        "/segments",
        *(f"/segments/{i}" for i in segment_ids),
        f"/login?next={PAYLOAD}",
    ]
    for role in (Role.ADMIN, Role.MARKETER):
        client = signed_in(host, role)
        seen_escaped = 0
        for page in pages:
            response = client.get(f"{WEB_PREFIX}{page}")
            assert response.status_code in (200, 400), (role, page, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
            body = response.text
            assert "<script>window.__xss" not in body, (role, page)
            assert "<img src=x" not in body and 'onerror="window' not in body, (role, page)
            seen_escaped += ESCAPED in body
        assert seen_escaped >= len(pages) - 2, "the payload is shown, as text, almost everywhere"
