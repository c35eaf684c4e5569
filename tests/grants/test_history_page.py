"""The file's history page shows, in one timeline newest first, the file's own transitions and
its funder parts' rows (each co-funder's proposal, decision, refusal), each in French with who and
when; the applicant does not see a funder's proposal or private note."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from grants import services

from .test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db


def history(user, application) -> list[str]:
    """The history entries of the file's page, as this user reads them (text, newest first)."""
    client = Client()
    client.force_login(user)
    page = client.get(f"/dossiers/{application.pk}/").content.decode()
    section = page[page.index('id="history-title"') :]
    section = section[: section.index("</section>")]
    items = re.findall(r"<li>(.*?)</li>", section, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", i)).split()) for i in items]


@pytest.fixture
def decided(world, manager):  # noqa: F811
    application = cofunded_file(world)
    proposed(world, application, manager)
    services.funder_part_set_note(
        actor=manager, part=part_of(application, world["commune"]), text="Trésorerie tendue"
    )
    services.funder_part_decide(
        actor=world["commune_agent"],
        part=part_of(application, world["commune"]),
        decision="refuse",
        reason="Hors priorités communales",
        reference="Délibération 41",
    )
    services.funder_part_decide(
        actor=world["state_agent"],
        part=part_of(application, world["state"]),
        decision="approve",
        amount="6000",
        reference="Arrêté 12",
    )
    return application


def test_staff_read_every_part_row_with_who_and_when(world, decided, manager):  # noqa: F811
    rows = history(manager, decided)
    commune_refusal = next(r for r in rows if "part de Ville d'Aix" in r and "décidée" in r)
    assert "Part d'un financeur décidée — part de Ville d'Aix" in commune_refusal
    assert "(Proposée → Refusée)" in commune_refusal
    assert world["commune_agent"].get_full_name() in commune_refusal
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", commune_refusal)
    assert "Motif : Hors priorités communales" in commune_refusal
    state_decision = next(r for r in rows if "part de État — ANCT" in r and "décidée" in r)
    assert world["state_agent"].get_full_name() in state_decision
    assert "Accordée" in state_decision
    assert any("Montant proposé pour la part d'un financeur" in r for r in rows)
    assert any("Note interne d'un financeur modifiée" in r for r in rows)
    # One timeline, newest first: the state's decision (last) above the commune's, above the
    # proposals; the file's own rows are in it too.
    assert rows.index(state_decision) < rows.index(commune_refusal)
    first_proposal = max(i for i, r in enumerate(rows) if "Montant proposé" in r)
    assert rows.index(commune_refusal) < first_proposal
    assert any("→" in r and "part de" not in r for r in rows)  # the file's own transition


def test_the_applicant_reads_the_decisions_not_the_instruction_work(
    world,  # noqa: F811
    decided,
    applicant,
):
    rows = history(applicant, decided)
    text = "\n".join(rows)
    assert "Part d'un financeur décidée — part de Ville d'Aix" in text
    assert "Hors priorités communales" in text  # a refusal's reason is the applicant's to read
    assert "Montant proposé" not in text and "Note interne" not in text
    assert "Trésorerie tendue" not in text
