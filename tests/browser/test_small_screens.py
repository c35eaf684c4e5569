"""Small screens (issue 16): the applicant's pages at 375 px (a phone), the staff's at 1 024 px and
1 280 px, on the demo data. Nothing may overflow the viewport: the page does not scroll sideways and
no visible element's box crosses its right or left edge (a wide table scrolls inside its own box or
becomes cards). Every page visited is also checked by axe (conftest.watch_axe); screenshots go to
browser-shots/ (git-ignored; helpers.SHOTS_DIR)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from calls.models import Call, CallMode
from calls.services import panel_configure
from core.clock import now
from core.models import Organisation, User
from cpo.models_partner_reports import PartnerReport
from directory import selectors
from directory.models import ExperienceSheet
from grants.models import Application, CommitteeSession
from grants.models.cofunding import BudgetRevision
from grants.solutions import pabulib
from grants.solutions.vote_loading import vote_load_check

from .. import factories as f
from .conftest import assert_accessible
from .helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PB_FIXTURE = Path(__file__).parent.parent / "grants" / "data" / "quartier_nord_2026.pb"

# Elements whose own box may be wider than the viewport because an ancestor clips and scrolls them.
OVERFLOW_PROBE = """
() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) {
        const box = p.getBoundingClientRect();
        return box.left >= -1 && box.right <= width + 1;
      }
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") { continue; }
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) { continue; }
    if (el.closest(".visually-hidden, .skip-link, template")) { continue; }
    if ((box.right > width + 1 || box.left < -1) && !clipped(el)) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
      out.push(`${name} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    overflowing: out.slice(0, 15),
  };
}
"""


def assert_fits(page, width: int, name: str) -> None:
    """The page at `width` px: no sideways scroll, no visible element outside the viewport; and
    axe finds nothing on it."""
    page.wait_for_load_state("load")
    screenshot(page, f"{width}-{name}")
    probe = page.evaluate(OVERFLOW_PROBE)
    assert probe["scrollWidth"] <= probe["innerWidth"], (
        f"{page.url} at {width} px scrolls sideways: {probe}"
    )
    assert not probe["overflowing"], f"{page.url} at {width} px: {probe['overflowing']}"
    assert_accessible(page)


def signed_in_context(browser, live_server, email: str, width: int):
    """A browser context of `email` (session cookie from the test client: no login round trip)."""
    client = Client()
    client.force_login(User.objects.get(email=email))
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        viewport={"width": width, "height": 800},
    )
    context.set_default_timeout(15_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context


@pytest.fixture
def demo(db):
    call_command("demo", verbosity=0)
    classic = Call.objects.get(mode=CallMode.PROJECT_CALL)
    draft = Application.objects.filter(
        call=classic, state="draft", organisation__members__email="porteur@demo.pluriel.fr"
    ).first()
    filed = Application.objects.filter(call=classic, state="under_review").first()
    return {"classic": classic, "draft": draft, "filed": filed}


def a_loaded_vote_to_map() -> tuple[int, int]:
    """A call for solutions without online ballots (the demo's have some) and a `.pb` vote checked
    for it, waiting on its mapping page: (call id, vote import id)."""
    manager = User.objects.get(email="responsable@demo.pluriel.fr")
    text = (PB_FIXTURE).read_text(encoding="utf-8")
    call = f.solutions_call(
        envelope=pabulib.read_pb(text).budget, title="Appel à solutions — vote sur papier"
    )
    panel_configure(
        actor=manager,
        call=call,
        quorum=1,
        voting_opens_at=now() + timedelta(days=1),
        voting_closes_at=now() + timedelta(days=8),
        secret_ballot=True,
    )
    upload = SimpleUploadedFile(PB_FIXTURE.name, text.encode(), content_type="text/plain")
    return call.pk, vote_load_check(actor=manager, call=call, upload=upload).pk


def newer_pages() -> dict[str, list[tuple[str, str]]]:
    """The pages added after the first small-screen pass (committee sessions, vote loading, the
    directory, experience sheets, budget revision, partners' reports), per person, on the demo."""
    open_session = CommitteeSession.objects.get(state="open")
    closed_session = CommitteeSession.objects.filter(state="closed").first()
    actor = selectors.listed_actors().first()
    published = ExperienceSheet.objects.filter(state="published").first()
    submitted = ExperienceSheet.objects.filter(state="submitted").first()
    revision = BudgetRevision.objects.filter(state="requested").select_related("application").get()
    revising = revision.application.organisation.members.first()
    report = PartnerReport.objects.select_related("evaluation").first()
    evaluation = f"/conventions/{report.evaluation.agreement_id}/evaluations/"
    evaluation += f"{report.evaluation.fiscal_year}/"
    partner = report.organisation.members.first()
    lead = Organisation.objects.filter(members__email="porteur@demo.pluriel.fr").first()
    call_id, vote_import_id = a_loaded_vote_to_map()
    assert None not in (closed_session, actor, published, submitted, revising, partner, lead)
    return {
        "anonymous": [
            ("directory", "/annuaire/"),
            ("actor", f"/annuaire/{actor.pk}/"),
            ("sheets", "/experiences/"),
            ("sheet", f"/experiences/{published.pk}/"),
        ],
        "porteur@demo.pluriel.fr": [
            ("my-sheets", "/experiences/mes-fiches/"),
            ("public-profile", f"/annuaire/organisations/{lead.pk}/fiche-publique/"),
            ("evaluations", "/conventions/evaluations/"),
            ("partners-reports-lead", evaluation),
        ],
        partner.email: [("partners-reports-partner", evaluation)],
        revising.email: [
            ("cofunded-file", f"/dossiers/{revision.application_id}/"),
            (
                "budget-revision",
                f"/dossiers/{revision.application_id}/plan-de-financement/reviser/",
            ),
        ],
        "instructeur@demo.pluriel.fr": [
            ("session-open", f"/comites/{open_session.pk}/"),
            ("session-closed", f"/comites/{closed_session.pk}/"),
            ("sheet-to-review", f"/experiences/{submitted.pk}/"),
            ("partners-reports-staff", evaluation),
            ("directory-staff", "/annuaire/"),
        ],
        "comite@demo.pluriel.fr": [("session-member", f"/comites/{open_session.pk}/")],
        "responsable@demo.pluriel.fr": [
            ("vote-load", f"/appels-a-solutions/{call_id}/charger-un-vote/"),
            ("vote-load-map", f"/appels-a-solutions/{call_id}/charger-un-vote/{vote_import_id}/"),
        ],
    }


def visit_all(browser, live_server, email, width, pages, watched):
    from .conftest import finish_axe, watch_axe, watch_csp

    context = signed_in_context(browser, live_server, email, width) if email else None
    if context is None:
        context = browser.new_context(
            base_url=live_server.url, locale="fr-FR", viewport={"width": width, "height": 800}
        )
        context.set_default_timeout(15_000)
    watched["csp"] += [watch_csp(context)]
    watched["axe"] += [watch_axe(context)]
    page = context.new_page()
    try:
        for name, url in pages:
            response = page.goto(url)
            assert response is not None and response.status == 200, f"{url} → {response}"
            assert_fits(page, width, name)
    finally:
        finish_axe(context)
        context.close()


def test_pages_fit_phones_and_small_staff_screens(browser, live_server, demo):
    from .conftest import assert_no_axe_violation, assert_no_csp_violation

    draft, filed, classic = demo["draft"], demo["filed"], demo["classic"]
    organisation = draft.organisation
    assert Organisation.objects.filter(pk=organisation.pk).exists()
    watched: dict[str, list] = {"csp": [], "axe": []}
    visit_all(
        browser,
        live_server,
        None,
        375,
        [
            ("home", "/"),
            ("calls", "/appels/"),
            ("call", f"/appels/{classic.pk}/"),
            ("login", "/connexion/"),
            ("signup", "/inscription/"),
        ],
        watched,
    )
    visit_all(
        browser,
        live_server,
        "porteur@demo.pluriel.fr",
        375,
        [
            ("my-applications", "/dossiers/"),
            ("application", f"/dossiers/{draft.pk}/"),
            ("application-edit", f"/dossiers/{draft.pk}/modifier/"),
            ("organisation", f"/organisations/{organisation.pk}/"),
            ("documents", f"/organisations/{organisation.pk}/documents/"),
            ("account", "/compte/"),
            ("notifications", "/compte/notifications/"),
            ("payments", "/conventions/paiements/"),
        ],
        watched,
    )
    for width in (1024, 1280):
        visit_all(
            browser,
            live_server,
            "instructeur@demo.pluriel.fr",
            width,
            [
                ("queue", "/instruction/"),
                ("filed", f"/dossiers/{filed.pk}/"),
                ("committees", "/comites/"),
                ("anticalls", "/anti-appels/"),
                ("direct", "/hors-appel/"),
            ],
            watched,
        )
        visit_all(
            browser,
            live_server,
            "finances@demo.pluriel.fr",
            width,
            [
                ("finance", "/finances/"),
                ("instalments", "/finances/echeances/"),
                ("runs", "/finances/lots/"),
                ("dashboard", "/pilotage/"),
                ("agreements", "/conventions/"),
            ],
            watched,
        )
    assert_no_csp_violation([v for found in watched["csp"] for v in found])
    assert_no_axe_violation([v for found in watched["axe"] for v in found])


def test_newer_pages_fit_phones_and_small_staff_screens(browser, live_server, demo):
    """Applicant and public pages at 375 px, staff pages at 1 024 px; axe on each."""
    from .conftest import assert_no_axe_violation, assert_no_csp_violation

    watched: dict[str, list] = {"csp": [], "axe": []}
    staff = {"instructeur@demo.pluriel.fr", "comite@demo.pluriel.fr", "responsable@demo.pluriel.fr"}
    for person, pages in newer_pages().items():
        email = None if person == "anonymous" else person
        visit_all(browser, live_server, email, 1024 if person in staff else 375, pages, watched)
    assert_no_csp_violation([v for found in watched["csp"] for v in found])
    assert_no_axe_violation([v for found in watched["axe"] for v in found])


def test_staff_menu_stays_on_at_most_two_rows_at_1280(browser, live_server, demo):
    from .conftest import finish_axe, watch_axe

    context = signed_in_context(browser, live_server, "admin@demo.pluriel.fr", 1280)
    violations = watch_axe(context)
    page = context.new_page()
    page.goto("/instruction/")
    rows = page.evaluate(
        """() => new Set([...document.querySelectorAll("header nav li")]
            .map((li) => Math.round(li.getBoundingClientRect().top))).size"""
    )
    screenshot(page, "1280-menu")
    finish_axe(context)
    context.close()
    assert rows <= 2, f"the staff menu wraps onto {rows} rows at 1 280 px"
    assert not violations
