"""RGAA / WCAG 2.1 AA basics on every main page, for the role that uses it, on the demo data:
a language, one <h1>, a label for every field, header cells with a scope, no external asset."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.management import call_command

from calls.models import Call, CallMode
from core.models import Organisation, User
from grants.models import Application, Candidacy

pytestmark = pytest.mark.django_db

FIELD_TYPES_WITHOUT_LABEL = {"hidden", "submit", "button", "reset", "image"}


class PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1 = 0
        self.lang = None
        self.labels_for: set[str] = set()
        self.fields: list[dict] = []
        self.th_without_scope = 0
        self.label_depth = 0
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and (a.get("type") or "text") in FIELD_TYPES_WITHOUT_LABEL:
                return
            if a.get("name") == "website":  # the honeypot, hidden from people on purpose
                return
            self.fields.append({**a, "_tag": tag, "_wrapped": self.label_depth > 0})
        elif tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        elif tag in ("script", "link", "img"):
            src = a.get("src") or a.get("href") or ""
            if src.startswith(("http://", "https://", "//")):
                self.external.append(src)

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)

    def unlabelled(self) -> list[str]:
        return [
            f.get("name") or f.get("id") or f["_tag"]
            for f in self.fields
            if not (
                f["_wrapped"]
                or f.get("aria-label")
                or f.get("aria-labelledby")
                or (f.get("id") and f["id"] in self.labels_for)
            )
        ]


def audit(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, f"{url} → {response.status_code}"
    page = PageAudit()
    page.feed(response.content.decode())
    problems = []
    if page.lang not in ("fr", "en"):
        problems.append("no lang")
    if page.h1 != 1:
        problems.append(f"{page.h1} <h1>")
    if missing := page.unlabelled():
        problems.append(f"fields without label: {missing}")
    if page.th_without_scope:
        problems.append(f"{page.th_without_scope} <th> without scope")
    if page.external:
        problems.append(f"external assets: {page.external}")
    return [f"{url}: {p}" for p in problems]


def test_main_pages_meet_the_basics(client):
    call_command("demo", verbosity=0)
    classic = Call.objects.get(mode=CallMode.PROJECT_CALL)
    solutions = Call.objects.filter(mode=CallMode.SOLUTIONS_CALL).order_by("pk").first()
    anticall = Call.objects.get(mode=CallMode.ANTI_CALL)
    filed = Application.objects.filter(call=classic, state="under_review").first()
    draft = Application.objects.filter(
        call=classic, state="draft", organisation__members__email="porteur@demo.pluriel.fr"
    ).first()
    organisation = draft.organisation
    candidacy = Candidacy.objects.exclude(organisation=None).first()
    pages = {
        None: [
            "/",
            "/appels/",
            f"/appels/{classic.pk}/",
            "/connexion/",
            "/inscription/",
            f"/appels-a-solutions/{solutions.pk}/",
            f"/appels-a-solutions/{solutions.pk}/proposer/",
            "/donnees/subventions/",
        ],
        "porteur@demo.pluriel.fr": [
            "/",
            "/dossiers/",
            f"/dossiers/{draft.pk}/",
            f"/dossiers/{draft.pk}/modifier/",
            f"/organisations/{organisation.pk}/",
            f"/organisations/{organisation.pk}/documents/",
            "/compte/",
            "/conventions/paiements/",
            f"/pilotage/organisations/{organisation.pk}/",
        ],
        "finances@demo.pluriel.fr": [
            "/finances/",
            "/finances/echeances/",
            "/finances/lots/",
            "/finances/retours/",
            "/finances/exercices/",
            "/finances/reversements/",
            "/pilotage/donnees-ouvertes/",
            f"/pilotage/organisations/{organisation.pk}/",
            "/pilotage/organisations/",
            "/pilotage/",
            "/pilotage/montants/?dimension=qpv",
            "/pilotage/enveloppes/",
            "/pilotage/restes-a-payer/",
            "/pilotage/delais/",
            "/pilotage/quartiers/",
            "/pilotage/pluriannualite-et-habitants/",
            "/pilotage/exports/",
            "/pilotage/exports/echeances/",
            "/pilotage/imports/",
            "/pilotage/imports/nouveau/organisations/",
        ],
        "instructeur@demo.pluriel.fr": [
            "/instruction/",
            f"/dossiers/{filed.pk}/",
            "/comites/",
            "/anti-appels/",
            f"/anti-appels/{anticall.pk}/",
            f"/anti-appels/structures/{candidacy.pk}/",
            "/hors-appel/",
            "/hors-appel/nouvelle/",
        ],
        "responsable@demo.pluriel.fr": [
            f"/appels-a-solutions/{solutions.pk}/panel/",
            f"/appels/{solutions.pk}/resultats/",
        ],
        "habitant@demo.pluriel.fr": [
            "/appels-a-solutions/mes-panels/",
            f"/appels-a-solutions/{solutions.pk}/vote/",
        ],
    }
    problems = []
    for email, urls in pages.items():
        client.logout()
        if email:
            client.force_login(User.objects.get(email=email))
        for url in urls:
            problems += audit(client, url)
    assert Organisation.objects.exists()
    assert problems == []
