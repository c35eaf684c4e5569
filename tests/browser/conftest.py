"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

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
    page = context.new_page()
    yield page
    context.close()
    assert_no_csp_violation(violations)


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
        return context.new_page()

    seen: list[list[str]] = []
    yield make
    for context in contexts:
        context.close()
    for context_violations in seen:
        violations.extend(context_violations)
    assert_no_csp_violation(violations)
