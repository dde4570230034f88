"""Each role finishes a real task in a real browser (headless Chromium driven by Playwright)
against a real `crm-intel serve` on a quickstart CRM: no mocks anywhere in the loop.

Every test saves a screenshot under var/test-artifacts/screenshots (or $CRM_TEST_ARTIFACTS).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import create_engine, select

from crm_core.entities import Channel, Contact, PopulationState, User
from crm_core.services.consent import consented
from tests.conftest import IN_CI, DataHome
from tests.e2e.server import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(os.environ.get("CRM_TEST_ARTIFACTS", Path(__file__).parents[2] / "var" / "test-artifacts"))
PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
CHROMIUM = os.environ.get("CRM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Site:
    url: str
    home: DataHome
    logins: dict[str, dict[str, str]]

    @property
    def app(self) -> str:
        return f"{self.url}/app"

    def api_token(self, role: str) -> dict[str, str]:
        login = self.logins[role]
        response = httpx.post(
            f"{self.url}/api/auth/login", json={"email": login["email"], "password": login["password"]}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def rows(self, query: object) -> list[object]:
        engine = create_engine(self.home.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(query).scalars())  # type: ignore[call-overload]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A quickstart CRM (churn, lead and recommendations trained, scored and written back),
    churn retrained once so a challenger waits beside the champion, served over HTTP."""
    root = tmp_path_factory.mktemp("browser")
    home = DataHome(root / "var")
    for step in (["quickstart", "--contacts", "3000", "--seed", "5"], ["train", "churn"]):
        done = home.cli(*step, cwd=root)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    logins = {entry["role"]: entry for entry in json.loads((home.path / "demo_logins.json").read_text())}
    with serving(home, root) as url:
        yield Site(url, home, logins)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        message = "Chromium is not installed (make setup installs Debian's chromium package)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def signed_in(browser: Browser, site: Site, role: str, width: int = 1280) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True).new_page()
    page.goto(f"{site.app}/login")
    page.get_by_label("Email").fill(site.logins[role]["email"])
    page.get_by_label("Password").fill(site.logins[role]["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/app/.*"))
    assert "/login" not in page.url, page.content()[:2000]
    return page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_rep_opens_a_hot_lead_and_sees_score_reasons_and_offers(site: Site, browser: Browser) -> None:
    page = signed_in(browser, site, "sales_rep")
    hot_leads = page.locator("#list-lead tbody tr")
    expect(hot_leads.first).to_be_visible()
    top_score = int(hot_leads.first.locator("td.num").inner_text().rstrip("%"))
    scores = [int(text.rstrip("%")) for text in page.locator("#list-lead tbody td.num").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and scores[0] == top_score, "hottest first"
    hot_leads.first.locator("a").click()

    card = page.locator("#score-lead")
    expect(card.locator(".percent")).to_have_text(f"{top_score}%")
    assert card.locator(".band").inner_text() in {"high", "medium", "low"}
    assert "lead model v" in (card.locator(".big").get_attribute("title") or ""), "model version on hover"
    assert card.locator(".reasons li").count() >= 1
    offers = page.locator("#recommendations li")
    assert offers.count() >= 1 and offers.first.locator(".why").inner_text().strip()
    screenshot(page, "rep-contact-record")


def test_a_rep_opens_a_lapsed_customer_and_reads_why_there_is_no_churn_score(site: Site, browser: Browser) -> None:
    rep = site.logins["sales_rep"]["email"]
    owner = select(User.id).where(User.email == rep).scalar_subquery()
    lapsed = site.rows(
        select(PopulationState.contact_id)
        .join(Contact, Contact.id == PopulationState.contact_id)
        .where(PopulationState.model_name == "churn", PopulationState.state == "already lapsed")
        .where(Contact.owner_id == owner)
        .limit(1)
    )[0]
    page = signed_in(browser, site, "sales_rep")
    page.goto(f"{site.app}/contacts/{lapsed}")
    card = page.locator("#score-churn")
    expect(card.locator(".state")).to_have_text("already lapsed")
    assert card.locator(".percent").count() == 0, "no score beside the reason"
    expect(card).to_contain_text("outside the contacts this model learnt from")
    screenshot(page, "rep-lapsed-customer")


def test_a_rep_cannot_open_another_reps_record(site: Site, browser: Browser) -> None:
    rep = site.logins["sales_rep"]["email"]
    owner = select(User.id).where(User.email == rep).scalar_subquery()
    someone_elses = site.rows(select(Contact.id).where(Contact.owner_id != owner).limit(1))[0]
    page = signed_in(browser, site, "sales_rep")
    response = page.goto(f"{site.app}/contacts/{someone_elses}")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("not yours to open")
    assert page.locator("#score-churn").count() == 0
    screenshot(page, "rep-refused-other-record")


def test_a_marketer_builds_a_segment_sees_its_size_and_exports_only_consented(site: Site, browser: Browser) -> None:
    page = signed_in(browser, site, "marketer")
    page.goto(f"{site.app}/segments")
    builder = page.locator("#segment-builder")
    builder.locator("input[name=churn_min]").fill("20")
    audience = page.locator("#audience")
    expect(audience).to_have_attribute("data-size", re.compile(r"^[1-9][0-9]*$"))
    expect(audience).to_contain_text("expected churn precision")
    found = re.search(r"([\d,]+) contacts · ([\d,]+) opted in on email", audience.inner_text())
    assert found, audience.inner_text()
    size, contactable = (int(group.replace(",", "")) for group in found.groups())
    assert 0 < contactable < size
    screenshot(page, "marketer-segment-builder")

    builder.get_by_label("Name").fill("At risk, browser test")
    builder.get_by_role("button", name="Save segment").click()
    expect(page.locator("h1")).to_contain_text(f"{size} members")
    page.locator("#export-form select[name=channel]").select_option("email")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    exported = {int(row["id"]) for row in rows}
    opted_in = set(site.rows(select(Contact.id).where(consented(Contact.id, [Channel.EMAIL]))))
    assert len(exported) == contactable and exported <= opted_in, "only members who opted in on email"
    assert all("@" not in row["email"] or "*" in row["email"] for row in rows), "emails masked for marketers"
    screenshot(page, "marketer-segment-exported")


def test_a_data_scientist_reads_the_model_page_and_promotes_the_challenger(site: Site, browser: Browser) -> None:
    page = signed_in(browser, site, "data_scientist")
    page.goto(f"{site.app}/models/churn")
    for chart in ("roc", "precision-recall", "calibration", "lift"):
        expect(page.locator(f"#chart-{chart} svg polyline")).to_have_count(2)
    expect(page.locator("#importance svg rect.bar").first).to_be_visible()
    side = page.locator("#side-by-side")
    expect(side).to_contain_text("Champion v1")
    expect(side).to_contain_text("Challenger v2")
    screenshot(page, "data-scientist-model-page")

    page.locator("#promote").click()
    expect(page.locator("#job")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("#job pre")).to_contain_text("champion moved from v1 to v2")
    # The page follows without a reload: its sections are fetched again once the job succeeds.
    expect(page.locator("#side-by-side")).to_contain_text("Champion v2")
    page.goto(f"{site.app}/models/churn")
    expect(page.locator("#side-by-side")).to_contain_text("Champion v2")
    screenshot(page, "data-scientist-promoted")

    # The Jobs page keeps the record: who asked, what, how it ended, and its log.
    page.get_by_role("link", name="Jobs").click()
    promoted = page.locator("#jobs tbody tr", has_text="promote model").first
    expect(promoted).to_have_attribute("data-status", "succeeded")
    # The worker's clock is on the same page: each schedule with its line and next run.
    refresh = page.locator("#schedules tbody tr", has_text="nightly feature build and rescore")
    expect(refresh).to_contain_text("0 0 1 1 *")
    expect(refresh).to_contain_text("-01-01 00:00")
    expect(page.locator("#schedules tbody tr", has_text="retrain churn")).to_be_visible()
    screenshot(page, "data-scientist-jobs")
    promoted.get_by_role("link").click()
    expect(page.locator("#job")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#job pre")).to_contain_text("champion moved from v1 to v2")
    screenshot(page, "data-scientist-job")


def test_a_stored_script_payload_stays_inert_in_the_browser(site: Site, browser: Browser) -> None:
    admin = site.api_token("admin")
    rep = site.logins["sales_rep"]["email"]
    owner = select(User.id).where(User.email == rep).scalar_subquery()
    target = site.rows(select(Contact.id).where(Contact.owner_id == owner).order_by(Contact.id).limit(1))[0]
    changes = {"first_name": PAYLOAD[:100], "last_name": PAYLOAD[:100], "notes": PAYLOAD, "address": PAYLOAD}
    assert httpx.patch(f"{site.url}/api/contacts/{target}", json=changes, headers=admin).status_code == 200
    ticket = {"contact_id": target, "channel": "email", "subject": PAYLOAD}
    assert httpx.post(f"{site.url}/api/tickets", json=ticket, headers=admin).status_code == 201
    deal = {"name": PAYLOAD, "amount": "10", "contact_id": target}
    assert httpx.post(f"{site.url}/api/deals", json=deal, headers=admin).status_code == 201

    page = signed_in(browser, site, "sales_rep", width=390)  # a phone's width
    for path in (f"/contacts/{target}", "/tickets", "/deals", f"/?q={PAYLOAD[:60]}"):
        page.goto(f"{site.app}{path}")
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[src='x']").count() == 0, path
        assert page.locator("script:not([src])").count() == 0, path
    page.goto(f"{site.app}/contacts/{target}")
    expect(page.locator("#contact-name")).to_contain_text("<script>window.__xss=1</script>")
    screenshot(page, "xss-payload-inert-phone-width")
