"""Small screens (issue 16): the applicant's pages at 375 px (a phone), the staff's at 1 024 px and
1 280 px, on the demo data. Nothing may overflow the viewport: the page does not scroll sideways and
no visible element's box crosses its right or left edge (a wide table scrolls inside its own box or
becomes cards). Every page visited is also checked by axe (conftest.watch_axe); screenshots go to
browser-shots/ (git-ignored; helpers.SHOTS_DIR)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from calls.models import Call, CallMode
from core.models import Organisation, User
from grants.models import Application

from .conftest import assert_accessible
from .helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

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
