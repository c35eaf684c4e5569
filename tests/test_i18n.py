"""The interface speaks French by default, English on request (language cookie or selector)."""

import pytest

pytestmark = pytest.mark.django_db


def test_french_by_default_english_on_request(client, instructor):
    client.force_login(instructor)
    french = client.get("/instruction/").content.decode()
    assert "Dossiers à instruire" in french and '<html lang="fr">' in french
    client.cookies["django_language"] = "en"
    english = client.get("/instruction/").content.decode()
    assert "Applications to review" in english and '<html lang="en">' in english


def test_language_selector_switches(client, instructor):
    client.force_login(instructor)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/instruction/"})
    assert response.status_code == 302
    assert "Applications to review" in client.get("/instruction/").content.decode()
