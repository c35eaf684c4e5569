"""The legal clauses of the generated documents come from templates (cpo/templates/cpo/documents/):
a lawyer changes a clause in a template, the PDF changes, no Python is touched."""

# ruff: noqa: F811  (the fixtures of test_documents are imported, then requested by name)

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from cpo import documents
from cpo.documents.clauses import render_text

from .test_documents import (  # noqa: F401  (fixtures)
    amendment,
    approved,
    association,
    cpo,
    decision,
    flat,
    funders,
    pdf_strings,
)

pytestmark = pytest.mark.django_db

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "cpo" / "templates" / "cpo" / "documents"


def override(settings, tmp_path: Path, name: str, old: str, new: str) -> None:
    """A project-level copy of the shipped template with one clause rewritten (DIRS come first)."""
    shipped = (TEMPLATES_DIR / name).read_text(encoding="utf-8")
    assert old in shipped
    target = tmp_path / "cpo" / "documents" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shipped.replace(old, new), encoding="utf-8")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates


def test_agreement_clause_changed_in_the_template_changes_the_pdf(cpo, settings, tmp_path):
    old = "La résiliation annule les échéances non encore versées."
    assert old in documents.render_agreement(cpo).text
    override(
        settings,
        tmp_path,
        "agreement.txt",
        old,
        "La résiliation annule les échéances non encore versées, sauf accord contraire.",
    )
    rendered = documents.render_agreement(cpo, compress=False)
    assert "La résiliation annule les échéances non encore versées, sauf accord contraire." in (
        rendered.text
    )
    assert "sauf accord contraire" in flat(pdf_strings(rendered.content))
    # The rest of the agreement is untouched: data, tables and signatures are still there.
    assert "## " not in rendered.text and "@" not in rendered.text
    assert "Article 8 — Reversement" in rendered.lines
    assert any(line.startswith("Fait à") or "exemplaires" in line for line in rendered.lines)


def test_a_new_article_in_the_template_appears_with_the_data(cpo, settings, tmp_path):
    override(
        settings,
        tmp_path,
        "agreement.txt",
        "@signatures",
        "## Article 9 — Litiges\n\nTout litige relatif à la convention « {{ title }} » relève du "
        "tribunal administratif.\n\n@signatures",
    )
    lines = documents.render_agreement(cpo).lines
    assert "Article 9 — Litiges" in lines
    assert (
        f"Tout litige relatif à la convention « {cpo.title} » relève du tribunal administratif."
        in lines
    )


def test_notification_and_amendment_clauses_come_from_their_templates(
    decision, amendment, settings, tmp_path
):
    override(
        settings,
        tmp_path,
        "notification.txt",
        "Madame, Monsieur,",
        "Mesdames, Messieurs,",
    )
    override(
        settings,
        tmp_path,
        "amendment.txt",
        "Les sommes déjà versées ne sont pas remises en cause.",
        "Les sommes déjà versées restent acquises.",
    )
    assert "Mesdames, Messieurs," in documents.agreement_document(decision).lines
    text = documents.render_amendment(amendment).text
    assert "Les sommes déjà versées restent acquises." in text
    assert "ne sont pas remises en cause" not in text


def test_payment_terms_are_shared_by_the_agreement_and_the_letter(
    cpo, decision, settings, tmp_path
):
    override(
        settings,
        tmp_path,
        "_payment_terms.txt",
        "Une échéance n'est versée qu'une fois réunies les conditions indiquées.",
        "Une échéance n'est versée qu'une fois toutes les conditions réunies.",
    )
    for document in (documents.render_agreement(cpo), documents.agreement_document(decision)):
        assert "Une échéance n'est versée qu'une fois toutes les conditions réunies." in (
            document.text
        )


def test_data_is_never_read_as_template_markup(instructor, association):
    """A summary that looks like a list or a heading stays one paragraph, line breaks kept."""
    from cpo import services

    app = approved(
        "9000.00",
        organisation=association,
        summary="- pas une liste\n## pas un titre\n@parties",
    )
    agreement = services.agreement_create_from_application(
        actor=instructor, application=app, instalment_template="at_signature"
    )
    lines = documents.agreement_document(agreement).lines
    assert "- pas une liste\n## pas un titre\n@parties" in lines


def test_an_unknown_part_is_a_clear_error(cpo, settings, tmp_path):
    override(settings, tmp_path, "agreement.txt", "@amounts", "@montants")
    with pytest.raises(ValueError, match="unknown part @montants"):
        documents.render_agreement(cpo)


def test_templates_render_as_plain_text_without_escaping():
    text = render_text(
        "cpo/documents/_payment_terms.txt",
        {"funders": "l'État & la CAF", "masked_iban": "", "has_advance": False},
    )
    assert "versée par l'État & la CAF selon" in text
