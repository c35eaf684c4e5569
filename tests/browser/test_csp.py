"""The browser tests fail on any Content-Security-Policy violation (conftest.watch_csp): proof that
the watch works, on a page where a violation is made on purpose."""

import pytest

from .conftest import assert_accessible, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_inline_style_or_script_is_reported(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    violations = watch_csp(context)
    page = context.new_page()
    response = page.goto("/connexion/")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    page.evaluate(
        """() => {
        const div = document.createElement("div");
        div.setAttribute("style", "color: red");
        document.body.appendChild(div);
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.appendChild(script);
    }"""
    )
    page.wait_for_timeout(300)
    context.close()
    assert any("style-src" in v for v in violations), violations
    assert any("script-src" in v for v in violations), violations


def test_the_api_documentation_runs_under_the_policy(page):
    """Swagger UI (drf-spectacular's split view: its start-up script and styles are files), in a
    page with a language, a main landmark and a level-one heading (axe checks it, conftest)."""
    page.goto("/api/docs/")
    page.get_by_text("Pluriel API").first.wait_for()
    assert page.locator("html").get_attribute("lang") == "fr"
    main = page.get_by_role("main")
    # The page's own heading is there before Swagger UI renders its own (when axe runs).
    assert main.get_by_role("heading", level=1, name="Documentation de l'API Pluriel").is_visible()
    assert main.locator("#swagger-ui").get_by_text("Pluriel API").first.is_visible()
    assert_accessible(page)
