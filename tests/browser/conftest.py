"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Every page reports its Content-Security-Policy violations to the console, where Chromium also
# writes its own "Refused to …" messages: a test fails on any of them (config/settings CSP).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


def watch_csp(context) -> list[str]:
    """Collects the CSP violations of every page of `context`."""
    violations: list[str] = []

    def on_console(message) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            violations.append(text)

    context.add_init_script(CSP_LISTENER)
    context.on("console", on_console)
    return violations


def assert_no_csp_violation(violations: list[str]) -> None:
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


# axe-core (vendored by the axe-playwright-python package, installed by requirements-dev.txt: no
# network) is injected into every top-level page of a context and run once the page has loaded;
# each violation is written to the console, where `watch_axe` collects it and the test fails. An
# injected script is not subject to the page's Content-Security-Policy. A page left before its
# check finished is checked no further; `assert_accessible(page)` checks the current page for sure.
AXE_PREFIX = "axe violation:"
AXE_RUNNER = """
(() => {
  if (window.top !== window || !window.axe) { return; }
  if (AXE_ORIGIN && document.location.origin !== AXE_ORIGIN) { return; }
  window.__axeDone = new Promise((resolve) => {
    window.addEventListener("load", () => {
      window.axe.run(document, { resultTypes: ["violations"] }).then((results) => {
        for (const v of results.violations) {
          for (const node of v.nodes) {
            console.error(`AXE_PREFIX ${v.id} (${v.impact}) ${v.help} — ${node.target.join(" ")} `
              + `on ${document.location.pathname}${document.location.search}: ${node.html.slice(0, 200)}`);
          }
        }
        window.__axeViolations = results.violations.map((v) => `${v.id} (${v.impact}) ${v.help}: `
          + v.nodes.map((node) => node.target.join(" ")).join(", "));
        resolve(results.violations.length);
      }, (error) => { console.error(`AXE_PREFIX axe could not run: ${error}`); resolve(-1); });
    });
  });
})();
""".replace("AXE_PREFIX", AXE_PREFIX)


def axe_source() -> str:
    from axe_playwright_python.sync_playwright import Axe

    return str(Axe().axe_script)


def watch_axe(context, origin: str | None = None) -> list[str]:
    """Collects the axe violations of every page of `context` (see AXE_RUNNER); given `origin`
    (Pluriel's live server), only Pluriel's pages are checked, not a third party's such as the test
    identity provider's sign-in page, which is not ours to fix."""
    violations: list[str] = []

    def on_console(message) -> None:
        if message.text.startswith(AXE_PREFIX):
            violations.append(message.text)

    origin_literal = json.dumps(origin.rstrip("/") if origin else "")
    context.add_init_script(
        script=axe_source() + f"\nconst AXE_ORIGIN = {origin_literal};\n" + AXE_RUNNER
    )
    context.on("console", on_console)
    return violations


def finish_axe(context) -> None:
    """Wait for the checks still running on the context's open pages."""
    for open_page in context.pages:
        # A page closed or navigating away has nothing left to check.
        with contextlib.suppress(Exception):
            open_page.evaluate("() => window.__axeDone || null")


def assert_accessible(page) -> None:
    """The current page has been checked by axe (waiting for the check) without violation."""
    page.wait_for_load_state("load")
    found = page.evaluate("() => window.__axeDone")
    assert found is not None, f"axe did not run on {page.url}"
    details = page.evaluate("() => window.__axeViolations || []")
    assert found == 0, f"{found} axe violation(s) on {page.url}: {details}"


def assert_no_axe_violation(violations: list[str]) -> None:
    assert not violations, "axe violations:\n" + "\n".join(dict.fromkeys(violations))


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        pytest.fail(
            "Debian's Chromium is not installed (apt-get install -y chromium); .ci/run installs it."
        )
    # Playwright's event loop runs in this thread; Django's ORM calls from the test body are safe here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    axe_violations = watch_axe(context, live_server.url)
    page = context.new_page()
    yield page
    finish_axe(context)
    context.close()
    assert_no_csp_violation(violations)
    assert_no_axe_violation(axe_violations)


def login(page, email: str, password: str = "secret-pass-123") -> None:
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


@pytest.fixture
def new_person_page(browser, live_server):
    """Another person at another computer: `new_person_page()` opens a page in a fresh browser context
    (own cookies and session), closed at the end of the test."""
    contexts = []
    violations: list[str] = []

    def make():
        context = browser.new_context(base_url=live_server.url, locale="fr-FR")
        context.set_default_timeout(15_000)
        contexts.append(context)
        context_violations = watch_csp(context)
        seen.append(context_violations)
        axe_seen.append(watch_axe(context, live_server.url))
        return context.new_page()

    seen: list[list[str]] = []
    axe_seen: list[list[str]] = []
    yield make
    for context in contexts:
        finish_axe(context)
        context.close()
    for context_violations in seen:
        violations.extend(context_violations)
    assert_no_csp_violation(violations)
    assert_no_axe_violation([v for found in axe_seen for v in found])
