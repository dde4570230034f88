"""The web pages over a real database: sign-in, the rep's lists, the contact record, the board
and tickets, with the API's reach rules, CSRF on every post and security headers on every page."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.db import make_session_factory
from crm_core.entities import AuditEvent, Contact, Deal, Ticket
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from crm_core.web.app import SECURITY_HEADERS
from tests.crm_core.conftest import World
from tests.crm_core.web_helpers import add_score, csrf_of, signed_in, web_host

T0 = datetime(2026, 10, 1)
RAISES = {
    "feature": "days_since_last_order",
    "description": "days since the last order",
    "contribution": 0.8,
    "value": 41.0,
    "source": "order",
}
LOWERS = {
    "feature": "orders_count_90d",
    "description": "orders in the last 90 days",
    "contribution": -0.3,
    "value": 2.0,
    "source": "order",
}
SECRET = {
    "feature": "notes_length",
    "description": "length of the private notes",
    "contribution": 0.5,
    "value": 9.0,
    "source": "contact.notes",
}


def test_pages_send_anonymous_visitors_to_sign_in_and_back(world: World) -> None:
    host = web_host(world.engine)
    anonymous = TestClient(host, follow_redirects=False)
    response = anonymous.get(f"{WEB_PREFIX}/contacts/5?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == f"{WEB_PREFIX}/login?next=/app/contacts/5%3Fx%3D1"
    wrong = anonymous.post(f"{WEB_PREFIX}/login", data={"email": "sales_rep@x.test", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    assert "crm_session" not in anonymous.cookies

    rep = signed_in(host, Role.SALES_REP)
    cookie = next(c for c in rep.cookies.jar if c.name == "crm_session")
    assert cookie.path == WEB_PREFIX and cookie.has_nonstandard_attr("HttpOnly")
    back = rep.post(
        f"{WEB_PREFIX}/login",
        data={"email": "sales_rep@x.test", "password": "correct horse battery staple", "next": "https://evil.test/x"},
    )
    assert back.headers["location"] == f"{WEB_PREFIX}/", "never redirected off the site after sign-in"


def test_every_page_carries_the_security_headers(world: World) -> None:
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    for page in ("/", "/accounts", "/deals", "/tickets", "/segments", "/login", "/contacts/999999"):
        response = rep.get(f"{WEB_PREFIX}{page}")
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (page, name)
    assert "script-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "'unsafe-inline'" not in SECURITY_HEADERS["Content-Security-Policy"]


def test_rep_lists_rank_own_contacts_with_band_trend_and_top_reason(world: World) -> None:
    own, team, other = (world.contacts[(Role.SALES_REP, kind)] for kind in ("own", "team", "other"))
    add_score(world.engine, own, "churn", 0.30, "medium", T0, [LOWERS])
    add_score(world.engine, own, "churn", 0.72, "high", T0 + timedelta(days=7), [RAISES, LOWERS])
    for contact_id in (team, other):
        add_score(world.engine, contact_id, "churn", 0.95, "high", T0)
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    page = rep.get(f"{WEB_PREFIX}/").text
    churn = page[page.index('id="list-churn"') :]
    assert f"/contacts/{own}" in churn and "72%" in churn
    assert "trend up" in churn, "a score that rose since the last one shows an up arrow"
    assert "days since the last order (41)" in churn, "the reason raising the score is shown inline"
    assert f"/contacts/{team}" not in page and f"/contacts/{other}" not in page, "a rep sees only their own"

    manager = signed_in(web_host(world.engine), Role.SALES_MANAGER)
    managed = manager.get(f"{WEB_PREFIX}/").text
    assert f"/contacts/{team}" in managed and f"/contacts/{other}" not in managed, "a manager sees the team's"
    filtered = rep.get(f"{WEB_PREFIX}/", params={"band": "low"}).text
    assert f"/contacts/{own}" not in filtered, "the band filter hides the high-band contact"


def test_worklist_pages_keep_filters_and_order(world: World) -> None:
    owner_contacts = []
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        for index in range(7):
            contact = Contact(
                first_name=f"Paged{index}",
                last_name="Lead",
                lifecycle_stage="lead",
                owner_id=world.users[Role.SALES_REP],
                created_at=T0,
            )
            uow.session.add(contact)
            uow.session.flush()
            owner_contacts.append(contact.id)
        uow.commit()
    for index, contact_id in enumerate(owner_contacts):
        add_score(world.engine, contact_id, "lead", 0.9 - index * 0.1, "high", T0)
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    first = rep.get(f"{WEB_PREFIX}/", params={"per_page": 5, "q": "Paged"}).text
    second = rep.get(f"{WEB_PREFIX}/", params={"per_page": 5, "q": "Paged", "lead_page": 2}).text
    assert "page 1 of 2" in first and "page 2 of 2" in second
    assert all(f'/contacts/{c}"' in first for c in owner_contacts[:5])
    assert all(f'/contacts/{c}"' in second for c in owner_contacts[5:])
    assert "q=Paged" in first and "lead_page=2" in first, "the next-page link keeps the search"


def test_contact_record_shows_scores_reasons_change_and_hides_what_the_role_may_not_see(world: World) -> None:
    own = world.contacts[(Role.SALES_REP, "own")]
    add_score(world.engine, own, "churn", 0.30, "medium", T0, [LOWERS])
    add_score(world.engine, own, "churn", 0.72, "high", T0 + timedelta(days=7), [RAISES, LOWERS, SECRET], version="4")
    host = web_host(world.engine)
    page = signed_in(host, Role.SALES_REP).get(f"{WEB_PREFIX}/contacts/{own}").text
    card = page[page.index('id="score-churn"') : page.index('id="recommendations"')]
    assert '<span class="percent">72%</span>' in card and "band-high" in card
    assert "churn model v4" in card, "the model version is on hover"
    assert "days since the last order (41)" in card.split("Lowers it")[0]
    assert "orders in the last 90 days (2)" in card.split("Lowers it")[1]
    assert "30% &rarr; 72%" in card and "band medium &rarr; high" in card, "what changed since the last score"
    assert "<svg" in card, "a trend chart from the prediction history"
    assert "length of the private notes" in card, "reps see notes, so they see the reason built on them"

    # Marketers read every contact but see personal fields masked: no reason built on notes.
    marketer_page = signed_in(host, Role.MARKETER).get(f"{WEB_PREFIX}/contacts/{own}").text
    assert "72%" in marketer_page and "length of the private notes" not in marketer_page


def test_a_rep_cannot_open_another_reps_record(world: World) -> None:
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    for kind in ("team", "other"):
        response = rep.get(f"{WEB_PREFIX}/contacts/{world.contacts[(Role.SALES_REP, kind)]}")
        assert response.status_code == 404 and "not yours to open" in response.text


def test_posts_without_the_csrf_token_are_refused(world: World) -> None:
    host = web_host(world.engine)
    rep = signed_in(host, Role.SALES_REP)
    assert rep.post(f"{WEB_PREFIX}/logout").status_code == 403
    assert rep.post(f"{WEB_PREFIX}/logout", data={"csrf": "0" * 64}).status_code == 403
    assert rep.get(f"{WEB_PREFIX}/").status_code == 200, "still signed in after the forged posts"
    out = rep.post(f"{WEB_PREFIX}/logout", data={"csrf": csrf_of(rep)})
    assert out.status_code == 303
    rep.cookies.clear()
    # The session token itself is revoked, not just the cookie dropped.
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        actions = list(uow.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "logout")))
    assert actions == ["logout"]


def test_deals_board_moves_a_deal_and_tickets_change_status(world: World) -> None:
    own = world.contacts[(Role.SALES_REP, "own")]
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        deal = Deal(
            name="Renewal 2027",
            amount=1200,
            stage="proposal",
            status="open",
            contact_id=own,
            owner_id=world.users[Role.SALES_REP],
            opened_at=T0,
        )
        ticket = Ticket(
            contact_id=own, channel="email", priority="high", status="open", subject="Invoice wrong", opened_at=T0
        )
        uow.session.add_all([deal, ticket])
        uow.commit()
        deal_id, ticket_id = deal.id, ticket.id
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    board = rep.get(f"{WEB_PREFIX}/deals").text
    proposal = board[board.index('aria-label="proposal"') : board.index('aria-label="negotiation"')]
    assert "Renewal 2027" in proposal
    token = csrf_of(rep)
    moved = rep.post(f"{WEB_PREFIX}/deals/{deal_id}/stage", data={"csrf": token, "stage": "closed_won"})
    assert moved.status_code == 303
    board = rep.get(f"{WEB_PREFIX}/deals").text
    assert "Renewal 2027" in board[board.index('aria-label="closed_won"') :]
    bad = rep.post(f"{WEB_PREFIX}/deals/{deal_id}/stage", data={"csrf": token, "stage": "proposal"})
    assert bad.status_code == 400 and "closed deals do not change stage" in bad.text

    assert "Invoice wrong" in rep.get(f"{WEB_PREFIX}/tickets", params={"status": "open"}).text
    assert (
        rep.post(f"{WEB_PREFIX}/tickets/{ticket_id}/status", data={"csrf": token, "status": "resolved"}).status_code
        == 303
    )
    assert "Invoice wrong" not in rep.get(f"{WEB_PREFIX}/tickets", params={"status": "open"}).text
    assert "Invoice wrong" in rep.get(f"{WEB_PREFIX}/tickets", params={"status": "resolved"}).text


@pytest.mark.parametrize("role", [Role.DATA_SCIENTIST])
def test_roles_without_lists_are_sent_to_their_own_pages(world: World, role: Role) -> None:
    client = signed_in(web_host(world.engine), role)
    response = client.get(f"{WEB_PREFIX}/")
    assert response.status_code == 303 and response.headers["location"] == f"{WEB_PREFIX}/models"
