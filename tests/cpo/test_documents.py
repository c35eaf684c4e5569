"""Documents ready to sign: the agreement (CPO model of the circulaire of 29 September 2015), the
notification letter of a small award, the amendment; French amounts and dates; same data, same
bytes."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.utils import translation

from core.models import AuditLog
from cpo import documents, services
from cpo.documents import euros, long_date
from cpo.models import Agreement, Amendment, Instalment
from grants.models import Application, ApplicationState, ApplicationYear, Indicator, Objective

from .. import factories as f

pytestmark = pytest.mark.django_db
D = datetime.date
NB = "\xa0"


# --------------------------------------------------------------------------- helpers


def pdf_strings(pdf: bytes) -> str:
    """The text drawn in an uncompressed PDF (`compress=False`): every string shown by Tj, one per
    line, decoded from WinAnsi; no-break spaces as plain spaces (the PDF draws them as spaces)."""
    out = []
    for match in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", pdf, re.S):
        raw, text, i = match.group(1), bytearray(), 0
        while i < len(raw):
            char = raw[i]
            if char == 0x5C:  # backslash
                nxt = raw[i + 1 : i + 2]
                octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
                if octal:
                    text.append(int(octal.group(0), 8))
                    i += 1 + len(octal.group(0))
                    continue
                text += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(nxt, nxt)
                i += 2
                continue
            text.append(char)
            i += 1
        out.append(text.decode("cp1252"))
    return "\n".join(out).replace(NB, " ")


def flat(text: str) -> str:
    return text.replace(NB, " ")


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def approved(amount: str, organisation=None, years=None, **kwargs) -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount),
        organisation=organisation or f.OrganisationFactory(),
        title=kwargs.pop("title", "Jardins partagés du Plan d'Aou"),
        complete=False,
        **kwargs,
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    for fy, value in (years or {}).items():
        ApplicationYear.objects.create(
            application=app, fiscal_year=fy, requested_amount=value, approved_amount=value
        )
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def association():
    return f.OrganisationFactory(
        name="Les Jardins de la Castellane",
        rna="W133012345",
        address="12 boulevard Henri Barnier",
        postcode="13015",
        city="Marseille",
        legal_rep_name="Nadia Benali",
        legal_rep_role="présidente",
    )


@pytest.fixture
def funders():
    return (
        f.FunderFactory(name="Ville de Marseille"),
        f.FunderFactory(name="Préfecture des Bouches-du-Rhône", kind="state"),
    )


@pytest.fixture
def cpo(instructor, association, funders):
    """A 3-year CPO of 90 000 €, co-funded 60 / 40, advance then balance each year."""
    app = approved("90000.00", organisation=association)
    Objective.objects.create(application=app, text="Créer deux jardins partagés", position=1)
    Objective.objects.create(application=app, text="Accueillir 120 familles par an", position=2)
    Indicator.objects.create(
        application=app, label="Familles accueillies", unit="familles", target=Decimal("120")
    )
    return services.agreement_create_from_application(
        actor=instructor,
        application=app,
        profile="flat",
        duration_years=3,
        first_year=2026,
        funders=[
            {"funder": funders[0], "share": Decimal("0.6"), "ej_number": "2100123456"},
            {"funder": funders[1], "share": Decimal("0.4")},
        ],
    )


@pytest.fixture
def decision(instructor, association):
    return services.agreement_create_from_application(
        actor=instructor,
        application=approved("8000.00", organisation=association, title="Fête de quartier"),
        instalment_template="at_signature",
    )


# --------------------------------------------------------------------------- French formatting


def test_amounts_and_dates_are_written_the_french_way():
    assert euros(Decimal("30000")) == f"30{NB}000,00{NB}€"
    assert euros(Decimal("1234567.8")) == f"1{NB}234{NB}567,80{NB}€"
    assert euros(Decimal("0.5")) == f"0,50{NB}€"
    assert euros(Decimal("-6000")) == f"-6{NB}000,00{NB}€"
    assert long_date(D(2026, 11, 25)) == f"25{NB}novembre{NB}2026"
    assert long_date(D(2027, 1, 1)) == f"1er{NB}janvier{NB}2027"
    assert long_date(D(2027, 8, 3)) == f"3{NB}août{NB}2027"
    assert long_date(None) == documents.BLANK
    assert documents.percent(Decimal("50.00")) == f"50{NB}%"
    assert documents.percent(Decimal("33.3333")) == f"33,33{NB}%"


# --------------------------------------------------------------------------- the agreement


def test_agreement_follows_the_2015_model_with_parties_amounts_and_schedule(cpo, association):
    doc = documents.render_agreement(cpo, compress=False)
    assert doc.content.startswith(b"%PDF-")
    assert doc.content.rstrip().endswith(b"%%EOF")
    assert doc.pages >= 2 and doc.pages == page_count(doc.content)
    assert doc.filename == f"{cpo.reference}-convention.pdf"
    text = doc.text

    # Title and parties
    assert "Convention pluriannuelle d'objectifs" in text
    assert f"N° {cpo.reference}" in text
    assert "Ville de Marseille, représenté(e) par" in text
    assert "Préfecture des Bouches-du-Rhône" in text
    assert "Les Jardins de la Castellane, association régie par la loi du 1er juillet 1901" in text
    assert f"SIRET {association.siret}, RNA W133012345" in text
    assert "12 boulevard Henri Barnier, 13015 Marseille" in text
    assert "représentée par Nadia Benali, présidente" in text

    # Every article of the model, in order
    headings = [
        "Préambule",
        "Article 1 — Objet de la convention et objectifs",
        "Article 2 — Durée de la convention",
        "Article 3 — Montant de la contribution financière",
        "Article 4 — Modalités de versement",
        "Article 5 — Justificatifs et évaluation annuelle",
        "Article 6 — Avenants",
        "Article 7 — Suspension et résiliation",
        "Article 8 — Reversement",
    ]
    positions = [doc.lines.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "circulaire n° 5811/SG du Premier ministre du 29 septembre 2015" in text
    assert "• Créer deux jardins partagés" in text
    assert "• Accueillir 120 familles par an" in text
    assert "Familles accueillies | 120 familles" in text
    assert "3 exercices budgétaires, de 2026 à 2028" in flat(text)

    # Article 3: each year per funder (60 / 40), totals, legal commitment
    assert "Financeur | 2026 | 2027 | 2028 | Total" in text
    assert (
        f"Ville de Marseille | {euros(18000)} | {euros(18000)} | {euros(18000)} | {euros(54000)}"
        in text
    )
    assert (
        f"Préfecture des Bouches-du-Rhône | {euros(12000)} | {euros(12000)} | {euros(12000)} "
        f"| {euros(36000)}" in text
    )
    assert f"Total | {euros(30000)} | {euros(30000)} | {euros(30000)} | {euros(90000)}" in text
    assert f"montant total de la contribution financière est de {euros(90000)}" in text
    assert "Ville de Marseille : engagement juridique n° 2100123456" in text

    # Article 4: every instalment with its date, amount and conditions
    instalments = list(cpo.instalments.select_related("year", "funder__funder"))
    assert len(instalments) == 12  # 3 years × 2 funders × (advance + balance)
    for inst in instalments:
        row = (
            f"{inst.year.fiscal_year} | {inst.number} | {inst.get_kind_display()} | "
            f"{inst.funder.funder.name} | {euros(inst.amount)} | {long_date(inst.earliest_date)}"
        )
        assert row in text, row
    assert "après acceptation de l'évaluation 2026" in text
    assert f"n'excède pas 50{NB}% du montant de l'exercice" in text
    assert "IBAN se terminant par 0189" in text and "FR7630006000011234567890189" not in text
    assert "loi n° 2021-875 du 1er juillet 2021, art. 2" in text

    # Article 5: CERFA 15059, six months after each year
    assert "CERFA n° 15059" in text
    assert "Dans les six mois suivant la fin de chaque exercice" in text
    assert f"2027 | {long_date(D(2028, 6, 30))} | évaluation annuelle" in text
    assert f"2028 | {long_date(D(2029, 6, 30))} | évaluation finale" in text
    assert "ne prévoit pas d'excédent raisonnable" in text

    # Signatures: one box per funder and one for the association
    assert "Fait en 3 exemplaires originaux" in text
    assert "Pour l'association Les Jardins de la Castellane — Nadia Benali, présidente" in text


def test_the_pdf_itself_draws_the_same_text(cpo, association):
    """Not only the side list: the strings are in the PDF's page streams."""
    doc = documents.render_agreement(cpo, compress=False)
    drawn = pdf_strings(doc.content)
    assert "Les Jardins de la Castellane" in drawn
    assert association.siret in drawn
    assert "30 000,00 €" in drawn and "90 000,00 €" in drawn and "18 000,00 €" in drawn
    for inst in cpo.instalments.all():
        assert flat(long_date(inst.earliest_date)) in drawn
        assert flat(euros(inst.amount)) in drawn
    assert f"Page 1 / {doc.pages}" in drawn
    assert f"{cpo.reference} — Convention pluriannuelle d'objectifs" in drawn


def test_same_agreement_same_bytes_dated_from_the_agreement(cpo, instructor):
    cpo = services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 3, 2))
    first = documents.agreement_pdf(cpo)
    with time_machine.travel(datetime.datetime(2031, 7, 14, 9, 30, tzinfo=datetime.UTC)):
        later = documents.agreement_pdf(Agreement.objects.get(pk=cpo.pk))
    assert first == later
    assert b"/CreationDate (D:20260302000000+00'00')" in first
    assert first.startswith(b"%PDF-")
    text = documents.render_agreement(cpo).text
    assert f"le {long_date(D(2026, 3, 2))}." in text  # « Fait … le 2 mars 2026 »


def test_different_data_different_bytes(cpo):
    before = documents.agreement_pdf(cpo)
    cpo.organisation.legal_rep_name = "Karim Haddad"
    cpo.organisation.save()
    after = documents.agreement_pdf(Agreement.objects.get(pk=cpo.pk))
    assert before != after
    assert "Karim Haddad" in documents.render_agreement(cpo).text


def test_rendering_writes_nothing_and_speaks_french_whatever_the_request_language(cpo):
    audit_rows = AuditLog.objects.count()
    with translation.override("en"):
        doc = documents.render_agreement(cpo)
    assert "Article 8 — Reversement" in doc.text
    assert AuditLog.objects.count() == audit_rows


def test_surplus_allowance_and_one_year_agreement(instructor, association):
    agreement = services.agreement_create_from_application(
        actor=instructor, application=approved("40000.00", organisation=association)
    )
    Agreement.objects.filter(pk=agreement.pk).update(surplus_allowance_percent=Decimal("10"))
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.kind == Agreement.Kind.AGREEMENT and agreement.duration_years == 1
    doc = documents.agreement_document(agreement)
    assert doc.filename.endswith("-convention.pdf")
    assert doc.lines[0] == "Convention d'objectifs"
    assert "conclue pour l'exercice budgétaire 2026" in flat(doc.text)
    assert f"excédent raisonnable, dans la limite de 10{NB}%" in doc.text
    assert f"Total | {euros(40000)} | {euros(40000)}" in doc.text


def test_long_agreement_flows_over_pages_with_numbered_footers(instructor, association):
    years = {2026 + i: Decimal("60000") for i in range(5)}
    agreement = services.agreement_create_from_application(
        actor=instructor,
        application=approved("300000.00", organisation=association, years=years),
        instalment_template="quarterly",
    )
    doc = documents.render_agreement(agreement, compress=False)
    assert agreement.instalments.count() == 20
    assert doc.pages >= 3
    drawn = pdf_strings(doc.content)
    for page in range(1, doc.pages + 1):
        assert f"Page {page} / {doc.pages}" in drawn
    assert f"2030 | {euros(60000)}" not in doc.text  # years are columns, not rows
    assert f"Total | {' | '.join([euros(60000)] * 5)} | {euros(300000)}" in doc.text


# --------------------------------------------------------------------------- decision vs agreement


def test_small_award_gets_a_notification_letter(decision, cpo):
    assert decision.kind == Agreement.Kind.DECISION
    doc = documents.agreement_document(decision)
    assert doc.filename == f"{decision.reference}-decision.pdf"
    assert doc.content.startswith(b"%PDF-") and doc.pages >= 1
    assert doc.content == documents.notification_pdf(decision)
    text = doc.text
    assert "Décision attributive de subvention" in text
    assert "Article 1 — Objet de la convention et objectifs" not in text
    assert "Les Jardins de la Castellane" in text and decision.organisation.siret in text
    assert f"d'une subvention de {euros(8000)} pour le projet « Fête de quartier »" in text
    assert f"n'excédant pas {euros(23000)}" in text
    inst = decision.instalments.get()
    assert f"2026 | 1 | Versement unique | {euros(8000)} |" in text
    assert "après signature" in text
    assert "CERFA n° 15059" in text and flat(long_date(D(2027, 6, 30))) in flat(text)
    assert "Voies et délais de recours" in text
    assert inst.amount == Decimal("8000.00")

    convention = documents.agreement_document(cpo)
    assert convention.filename.endswith("-convention.pdf")
    assert "Article 8 — Reversement" in convention.text
    assert "Décision attributive de subvention" not in convention.text


# --------------------------------------------------------------------------- amendment


@pytest.fixture
def amendment(cpo, instructor, funders):
    """Avenant n° 1: the third year goes from 30 000 € to 36 000 €, one objective added, the
    State takes half from 2028 (what Engineer L's amendment_create stores in before/after)."""
    year = cpo.years.get(fiscal_year=2028)
    Agreement.objects.filter(pk=cpo.pk).update(version=2, total_amount=Decimal("96000"))
    cpo.instalments.filter(year=year).update(state="cancelled")
    links = list(cpo.funders.order_by("pk"))
    for number, (link, amount) in enumerate(
        [(links[0], "9000"), (links[1], "9000"), (links[0], "9000"), (links[1], "9000")]
    ):
        Instalment.objects.create(
            agreement=cpo,
            year=year,
            funder=link,
            number=number // 2 + 1,
            kind="advance" if number < 2 else "balance",
            amount=Decimal(amount),
            earliest_date=D(2028, 3, 1) if number < 2 else D(2028, 7, 1),
            requires_evaluation_of=2027 if number >= 2 else None,
            amendment_version=2,
        )
    return Amendment.objects.create(
        agreement=cpo,
        version=2,
        reason="Ouverture d'un troisième jardin à la demande du conseil citoyen.",
        effective_on=D(2027, 9, 1),
        author=instructor,
        # the shape cpo.services_changes.amendment_create stores
        before={
            "years": {"2026": "30000.00", "2027": "30000.00", "2028": "30000.00"},
            "total_amount": "90000.00",
            "profile": "flat",
            "objectives": ["Créer deux jardins partagés", "Accueillir 120 familles par an"],
            "funders": [
                {
                    "funder": funders[0].name,
                    "funder_id": funders[0].pk,
                    "share": "0.6",
                    "ej_number": "2100123456",
                },
                {
                    "funder": funders[1].name,
                    "funder_id": funders[1].pk,
                    "share": "0.4",
                    "ej_number": "",
                },
            ],
        },
        after={
            "years": {"2026": "30000.00", "2027": "30000.00", "2028": "36000.00"},
            "total_amount": "96000.00",
            "profile": "custom",
            "objectives": [
                "Créer deux jardins partagés",
                "Accueillir 120 familles par an",
                "Ouvrir un troisième jardin",
            ],
            "funders": [
                {
                    "funder": funders[0].name,
                    "funder_id": funders[0].pk,
                    "share": "0.5",
                    "ej_number": "2100123456",
                },
                {
                    "funder": funders[1].name,
                    "funder_id": funders[1].pk,
                    "share": "0.5",
                    "ej_number": "1300654321",
                },
            ],
        },
    )


def test_amendment_shows_what_changes(amendment, cpo):
    doc = documents.render_amendment(amendment, compress=False)
    assert doc.content.startswith(b"%PDF-") and doc.pages >= 1
    assert doc.filename == f"{cpo.reference}-avenant-1.pdf"
    assert documents.amendment_document(amendment).content == documents.amendment_pdf(amendment)
    text = doc.text
    assert doc.lines[0] == "Avenant n° 1"
    assert f"à la convention pluriannuelle d'objectifs n° {cpo.reference}" in text
    assert "Les Jardins de la Castellane" in text  # the parties again
    assert "Ouverture d'un troisième jardin à la demande du conseil citoyen." in text
    assert f"prend effet le {long_date(D(2027, 9, 1))}" in text
    # Amounts before / after / gap, and the totals
    assert "Exercice | Avant | Après | Écart" in text
    assert f"2027 | {euros(30000)} | {euros(30000)} | {euros(0)}" in text
    assert f"2028 | {euros(30000)} | {euros(36000)} | +{euros(6000)}" in text
    assert f"Total | {euros(90000)} | {euros(96000)} | +{euros(6000)}" in text
    assert "Durée" not in doc.lines  # unchanged, not shown
    # Objectives and funders' shares (funder ids resolved to names)
    assert "• Ouvrir un troisième jardin" in text
    assert f"Ville de Marseille | 60{NB}% | 50{NB}% | 2100123456 | 2100123456" in text
    assert f"Préfecture des Bouches-du-Rhône | 40{NB}% | 50{NB}% | — | 1300654321" in text
    assert "Profil des montants | Constant | Personnalisé par année" in text
    # The new schedule: only the re-planned instalments
    assert (
        f"2028 | 1 | Avance | Ville de Marseille | {euros(9000)} | {long_date(D(2028, 3, 1))}"
        in text
    )
    assert "2026 | 1 | Avance" not in text
    drawn = pdf_strings(doc.content)
    assert "36 000,00 €" in drawn and "+6 000,00 €" in drawn


def test_agreement_after_an_amendment_lists_it_and_the_new_amounts(amendment, cpo):
    cpo.years.filter(fiscal_year=2028).update(amount=Decimal("36000"))
    cpo.funders.update(share=Decimal("0.5"))
    text = documents.render_agreement(Agreement.objects.get(pk=cpo.pk)).text
    assert "version 2 (avenants inclus)" in text
    assert "• Ouvrir un troisième jardin" in text  # the objectives as amended
    assert f"Avenant n° 1, prenant effet le {long_date(D(2027, 9, 1))}" in text
    assert f"Total | {euros(30000)} | {euros(30000)} | {euros(36000)} | {euros(96000)}" in text
    # 2028 comes from the re-planned instalments (18 000 each), earlier years from version 1
    assert f"Ville de Marseille | {euros(18000)} | {euros(18000)} | {euros(18000)}" in text


def test_amendment_with_other_or_missing_fields_still_renders(cpo):
    amendment = Amendment.objects.create(
        agreement=cpo,
        version=2,
        reason="Changement d'intitulé.",
        effective_on=D(2027, 1, 1),
        before={"title": "Jardins"},
        after={"title": "Jardins et vergers"},
    )
    doc = documents.render_amendment(amendment)
    assert "title | Jardins | Jardins et vergers" in doc.text
    assert "L'échéancier de la convention n'est pas modifié." in doc.text
    empty = Amendment.objects.create(
        agreement=cpo, version=3, reason="Rien.", effective_on=D(2027, 2, 1)
    )
    doc = documents.render_amendment(empty)
    assert doc.lines[0] == "Avenant n° 2"
    assert "ne modifie aucun montant ni aucune durée" in doc.text
    assert "Vu l'avenant n° 1 prenant effet le" in flat(doc.text)


def test_amendment_with_funder_ids_only(cpo, funders):
    amendment = Amendment.objects.create(
        agreement=cpo,
        version=2,
        reason="Nouvelle répartition.",
        effective_on=D(2027, 1, 1),
        before={"funders": [{"funder": funders[0].pk, "share": "1"}]},
        after={
            "funders": [
                {"funder": funders[0].pk, "share": "0.75"},
                {"funder": funders[1].pk, "share": "0.25"},
            ]
        },
    )
    text = documents.render_amendment(amendment).text
    assert f"Ville de Marseille | 100{NB}% | 75{NB}%" in text
    assert f"Préfecture des Bouches-du-Rhône | — | 25{NB}%" in text


# --------------------------------------------------------------------------- robustness


def test_text_the_pdf_fonts_cannot_draw_is_replaced_not_dropped(instructor):
    organisation = f.OrganisationFactory(
        name="Association Łódź & <Amis> du\u202fquartier", legal_rep_name="Ana Ţepeş"
    )
    agreement = services.agreement_create_from_application(
        actor=instructor, application=approved("50000.00", organisation=organisation)
    )
    doc = documents.render_agreement(agreement, compress=False)
    assert f"Association Lódz & <Amis> du{NB}quartier" in doc.text  # ó is drawable, ź is not
    assert "Ana Tepes" in doc.text
    drawn = pdf_strings(doc.content).replace("\n", "")  # escaped « < » splits the string
    assert "Association Lódz & <Amis> du quartier" in drawn and "Ana Tepes" in drawn
    assert b"ZapfDingbats" not in doc.content  # no black boxes for missing glyphs


# --------------------------------------------------------------------------- with the real services


def test_amendment_made_by_the_service_renders_its_changes(cpo, instructor):
    """End to end with cpo.services_changes.amendment_create (Engineer L)."""
    changes = pytest.importorskip("cpo.services_changes")
    with time_machine.travel(datetime.datetime(2026, 1, 5, 12), tick=False):
        cpo = services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 1, 5))
    services.instalments_refresh(day=D(2026, 1, 10))
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12), tick=False):
        amendment = changes.amendment_create(
            actor=instructor,
            agreement=Agreement.objects.get(pk=cpo.pk),
            reason="Extension du public accueilli",
            effective_on=D(2026, 3, 1),
            years={2027: Decimal("40000")},
            objectives=["Créer deux jardins partagés", "Ouvrir un jardin pédagogique"],
        )
    doc = documents.render_amendment(amendment)
    assert doc.content.startswith(b"%PDF-")
    text = doc.text
    assert "Avenant n° 1" in doc.lines and "Extension du public accueilli" in text
    assert f"2027 | {euros(30000)} | {euros(40000)} | +{euros(10000)}" in text
    assert f"Total | {euros(90000)} | {euros(100000)} | +{euros(10000)}" in text
    assert "• Ouvrir un jardin pédagogique" in text
    for inst in Instalment.objects.filter(agreement=cpo, amendment_version=2).exclude(
        state="cancelled"
    ):
        assert f"{inst.year.fiscal_year} | {inst.number} | {inst.get_kind_display()}" in text
    # …and the agreement as amended
    convention = documents.render_agreement(Agreement.objects.get(pk=cpo.pk)).text
    assert f"{euros(100000)}" in convention and "• Ouvrir un jardin pédagogique" in convention
    assert "Avenant n° 1, prenant effet le" in flat(convention)
